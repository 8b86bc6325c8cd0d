/* SPDX-License-Identifier: Apache-2.0 */
/* Election under faults on a 3-node ensemble. Five candidates, each a
 * process with its own session (this program run as "candidate"), log
 * "<name> enter <token>" from on_leader and "<name> leave <status>" from
 * on_lost. Rounds: the leader process is killed (SIGKILL), the leader's
 * session is expired by force, the ZooKeeper leader is killed. After each
 * round the new leader must be the one that was next in line, and at the
 * end the log is replayed: never two leaders at once, and the fencing
 * token never goes down (and grows with every new leader). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zktest.h"
#include <zkr/election.h>

#define MAXC 16
#define SESSION_MS 3000

/* ---- the candidate process ----------------------------------------------- */

static int logfd = -1;
static const char *cname;

static void log_line(const char *what, long long v)
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%s %s %lld\n", cname, what, v);
    if (write(logfd, buf, (size_t)n) != n)
        _exit(3);
}

static void c_leader(zkr_election_t *e, int status, void *ctx)
{
    (void)status;
    (void)ctx;
    log_line("enter", (long long)zkr_election_token(e));
}

static void c_lost(zkr_election_t *e, int status, void *ctx)
{
    (void)e;
    (void)ctx;
    log_line("leave", status);
}

static int candidate(char **argv)
{
    /* argv: hosts chroot path name logfile */
    zkr_election_opts_t o;
    zkr_election_t *e;
    zkr_client_t *c = zkt_client_ns(argv[0], SESSION_MS, argv[1]);
    char line[64], node[128];
    cname = argv[3];
    logfd = open(argv[4], O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (logfd < 0)
        return 2;
    zkr_election_opts_init(&o);
    o.id = cname;
    o.on_leader = c_leader;
    o.on_lost = c_lost;
    if (zkr_election_new(c, argv[2], &o, &e) != ZKR_OK ||
        zkr_election_join(e, 20000) != ZKR_OK ||
        zkr_election_node(e, node, sizeof node) != ZKR_OK)
        return 2;
    printf("joined %s\n", node);
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "expire", 6) == 0) {
            int rc = zkr_client_expire_session(c);
            printf("expired %d\n", rc);
            fflush(stdout);
        }
    }
    zkr_election_free(e);
    zkr_client_free(c);
    close(logfd);
    return 0;
}

/* ---- the test ------------------------------------------------------------ */

struct cand {
    char name[16];
    pid_t pid;
    int in, out; /* its stdin (we write), its stdout (we read) */
    int alive;
};

static struct cand cands[MAXC];
static int ncands;
static char logpath[600], self[4096];
static zkt_server_t *ens;

static int read_line(int fd, char *buf, size_t len, int ms)
{
    size_t n = 0;
    while (n < len - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms) <= 0 || read(fd, buf + n, 1) != 1)
            return -1;
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
    return 0;
}

static struct cand *spawn(const char *path)
{
    struct cand *k = &cands[ncands];
    int to[2], from[2];
    char line[256];
    snprintf(k->name, sizeof k->name, "c%d", ncands);
    if (pipe(to) != 0 || pipe(from) != 0)
        bail_out("pipe");
    k->pid = fork();
    if (k->pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[1]);
        close(from[0]);
        execl(self, self, "candidate", ens->hosts, zkt_ns(), path, k->name,
              logpath, (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    /* later candidates must not inherit our ends, or EOF never comes */
    fcntl(to[1], F_SETFD, FD_CLOEXEC);
    fcntl(from[0], F_SETFD, FD_CLOEXEC);
    k->in = to[1];
    k->out = from[0];
    k->alive = 1;
    ncands++;
    if (read_line(k->out, line, sizeof line, 30000) != 0 ||
        strncmp(line, "joined ", 7) != 0)
        bail_out("candidate %s did not join", k->name);
    return k;
}

static struct cand *by_name(const char *name)
{
    for (int i = 0; i < ncands; i++)
        if (strcmp(cands[i].name, name) == 0)
            return &cands[i];
    return NULL;
}

/* Participants in order, as names, comma separated. */
static void order(zkr_election_t *obs, char *buf, size_t len)
{
    zkr_election_participant_t *p;
    int n;
    buf[0] = '\0';
    if (zkr_election_participants(obs, &p, &n) != ZKR_OK)
        return;
    for (int i = 0; i < n; i++) {
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, "%s%s", i ? "," : "", p[i].id);
    }
    zkr_election_participants_free(p, n);
}

/* Name of the last "enter" in the log, and how many enters there are. */
static int last_enter(char *name, size_t len)
{
    FILE *f = fopen(logpath, "r");
    char line[128], who[32], what[16];
    long long v;
    int n = 0;
    name[0] = '\0';
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%31s %15s %lld", who, what, &v) == 3 &&
            strcmp(what, "enter") == 0) {
            snprintf(name, len, "%s", who);
            n++;
        }
    fclose(f);
    return n;
}

static int wait_new_leader(int enters_before, const char *want, int ms)
{
    char name[32];
    for (int i = 0; i < ms / 50; i++) {
        if (last_enter(name, sizeof name) > enters_before &&
            strcmp(name, want) == 0)
            return 1;
        zkt_sleep_ms(50);
    }
    last_enter(name, sizeof name);
    diag("last enter by %s, want %s", name, want);
    return 0;
}

static void append_log(const char *name, const char *what)
{
    FILE *f = fopen(logpath, "a");
    if (f) {
        fprintf(f, "%s leave %s\n", name, what);
        fclose(f);
    }
}

/* The first two names of an order string. */
static void first_two(const char *ord, char *a, char *b)
{
    a[0] = b[0] = '\0';
    sscanf(ord, "%15[^,],%15[^,]", a, b);
}

/* Replay the log: one leader at a time, tokens never go down. A leader
 * whose session was closed by force may learn of it late; then the next
 * leader must hold a larger token. */
static int check_log(int *enters, char *why, size_t len)
{
    FILE *f = fopen(logpath, "r");
    char line[128], who[32], what[16], holder[32] = "", prev[32] = "";
    char expiring[32] = "", stale[32] = "";
    long long v, token = 0;
    int ln = 0, tolerated = 0;
    *enters = 0;
    if (!f) {
        snprintf(why, len, "no log");
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        ln++;
        if (sscanf(line, "%31s %15s %lld", who, what, &v) < 2) {
            snprintf(why, len, "line %d malformed", ln);
            fclose(f);
            return 0;
        }
        if (strcmp(what, "enter") == 0) {
            if (holder[0] && strcmp(holder, expiring) == 0 && v > token) {
                /* The force-expired leader may not have heard yet that
                 * its session was closed under it (the expiry helper lets
                 * it reconnect for a moment): its token is the smaller
                 * one, which is what fencing is for. */
                snprintf(stale, sizeof stale, "%s", holder);
                holder[0] = '\0';
                tolerated++;
            }
            if (holder[0]) {
                snprintf(why, len, "line %d: %s leads while %s leads", ln,
                         who, holder);
                fclose(f);
                return 0;
            }
            if (v < token || (v == token && strcmp(prev, who) != 0)) {
                snprintf(why, len, "line %d: token %lld after %lld", ln, v,
                         token);
                fclose(f);
                return 0;
            }
            token = v;
            snprintf(holder, sizeof holder, "%s", who);
            snprintf(prev, sizeof prev, "%s", who);
            (*enters)++;
        } else if (strcmp(what, "expire") == 0) {
            snprintf(expiring, sizeof expiring, "%s", who);
        } else if (strcmp(what, "leave") == 0) {
            if (strcmp(stale, who) == 0 && strcmp(holder, who) != 0) {
                stale[0] = '\0';
                continue;
            }
            if (strcmp(holder, who) == 0 && strcmp(expiring, who) == 0 &&
                strcmp(line + strlen(who), " leave -101\n") == 0)
                expiring[0] = '\0';
            if (strcmp(holder, who) != 0) {
                snprintf(why, len, "line %d: %s leaves, holder is '%s'", ln,
                         who, holder);
                fclose(f);
                return 0;
            }
            holder[0] = '\0';
        }
    }
    fclose(f);
    snprintf(why, len, "%d lines, %d late losses of force-expired leaders",
             ln, tolerated);
    return 1;
}

int main(int argc, char **argv)
{
    zkr_client_t *oc;
    zkr_election_t *obs;
    char ord[512], ord2[512], a[16], b[16], why[256];
    const char *path = "/faults/election";
    int i, enters;
    static const char rounds[] = "kekzkezk";

    if (argc == 7 && strcmp(argv[1], "candidate") == 0)
        return candidate(argv + 2);
    signal(SIGPIPE, SIG_IGN);
    if (!realpath("/proc/self/exe", self))
        bail_out("cannot find myself");
    ens = zkt_start(3);
    snprintf(logpath, sizeof logpath, "%s/leaders.log", ens->dir);
    oc = zkt_client(ens->hosts, 10000);
    if (zkr_election_new(oc, path, NULL, &obs) != ZKR_OK)
        bail_out("observer");

    for (i = 0; i < 5; i++)
        spawn(path);
    ok(wait_new_leader(0, "c0", 10000), "the first to join leads");
    order(obs, ord, sizeof ord);
    is_str(ord, "c0,c1,c2,c3,c4", "participants in join order");

    for (const char *r = rounds; *r; r++) {
        int before = last_enter(a, sizeof a);
        order(obs, ord, sizeof ord);
        first_two(ord, a, b);
        if (*r == 'k') {
            struct cand *k = by_name(a);
            if (!k)
                bail_out("no candidate %s", a);
            kill(k->pid, SIGKILL);
            waitpid(k->pid, NULL, 0);
            k->alive = 0;
            append_log(a, "killed");
            ok(wait_new_leader(before, b, 20000),
               "leader %s killed: %s, next in line, leads", a, b);
            spawn(path);
        } else if (*r == 'e') {
            struct cand *k = by_name(a);
            char line[64];
            if (k) {
                FILE *lf = fopen(logpath, "a");
                if (lf) {
                    fprintf(lf, "%s expire 0\n", a);
                    fclose(lf);
                }
            }
            if (!k || write(k->in, "expire\n", 7) != 7 ||
                read_line(k->out, line, sizeof line, 30000) != 0)
                bail_out("expire %s", a);
            is_str(line, "expired 0", "%s's session expired by force", a);
            ok(wait_new_leader(before, b, 20000), "%s, next in line, leads", b);
            for (i = 0; i < 200; i++) {
                const char *comma;
                order(obs, ord2, sizeof ord2);
                comma = strrchr(ord2, ',');
                if (comma && strcmp(comma + 1, a) == 0)
                    break;
                zkt_sleep_ms(50);
            }
            ok(i < 200, "%s rejoined at the end (%s)", a, ord2);
        } else {
            int m = zkt_leader(ens);
            is(zkt_ctl(ens, "kill %d", m), 0, "ZooKeeper leader %d killed", m);
            zkt_sleep_ms(500);
            is(zkt_ctl(ens, "restart %d", m), 0, "and restarted");
            for (i = 0; i < 300; i++) {
                char name[32];
                order(obs, ord2, sizeof ord2);
                first_two(ord2, a, b);
                if (a[0] && zkt_leader(ens) > 0) {
                    int n2 = last_enter(name, sizeof name);
                    (void)n2;
                    if (strcmp(name, a) == 0)
                        break;
                }
                zkt_sleep_ms(50);
            }
            ok(i < 300, "a leader (%s) after the ensemble recovered", a);
        }
    }
    order(obs, ord, sizeof ord);
    diag("final order %s", ord);
    for (i = 0; i < ncands; i++)
        if (cands[i].alive) {
            close(cands[i].in);
            waitpid(cands[i].pid, NULL, 0);
            close(cands[i].out);
        }
    ok(check_log(&enters, why, sizeof why), "leader log: one leader at a time, tokens grow (%s)", why);
    ok(enters >= (int)strlen(rounds), "%d leaderships logged", enters);
    zkr_election_free(obs);
    zkr_client_free(oc);
    zkt_stop(ens);
    return done_testing();
}
