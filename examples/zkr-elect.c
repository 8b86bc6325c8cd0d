/* SPDX-License-Identifier: Apache-2.0 */
/* zkr-elect: run a command only while this replica leads a ZooKeeper
 * election (Curator LeaderLatch layout), for programs that know nothing of
 * ZooKeeper. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "cli.h"
#include <zkr/election.h>

#define EXIT_ERROR 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3

static const char usage_text[] =
    "usage: zkr-elect [-s HOSTS] --id NAME [options] PATH -- COMMAND [ARGS...]\n"
    "\n"
    "Join the leader election PATH as NAME and run COMMAND only while this\n"
    "replica leads. Start one zkr-elect per replica; the one that joined\n"
    "first leads, the others wait in join order and print who leads.\n"
    "\n"
    "  -s, --hosts HOSTS         connect string (default $ZKR_HOSTS, then\n"
    "                            127.0.0.1:2181)\n"
    "  -i, --id NAME             participant id, shown to the other replicas\n"
    "                            (required)\n"
    "  -t, --session-timeout MS  session timeout (default 10000)\n"
    "  -g, --grace SECONDS       after SIGTERM, wait this long before SIGKILL\n"
    "                            (default 2; keep it well under a third of\n"
    "                            the session timeout)\n"
    "  -r, --rejoin              when COMMAND exits by itself, resign, join\n"
    "                            again at the end of the line and run it again\n"
    "                            when leading (default: resign and exit with\n"
    "                            COMMAND's status)\n"
    "  -q, --quiet               no status lines on stderr\n"
    "  -h, --help                show this help\n"
    "\n"
    "COMMAND runs in its own process group with ZKR_LEADER_TOKEN (the fencing\n"
    "token: the czxid of the leader's node, larger for every later leader),\n"
    "ZKR_LEADER_ID and ZKR_LEADER_PATH in its environment. As soon as\n"
    "leadership is uncertain (the connection to ZooKeeper is suspended) or\n"
    "lost, the group gets SIGTERM, then SIGKILL after the grace period;\n"
    "zkr-elect stays in the election and runs COMMAND again if it leads\n"
    "again. The layout is Apache Curator's LeaderLatch: Java services using\n"
    "LeaderLatch on PATH take part in the same election.\n"
    "\n"
    "What is guaranteed: COMMAND is started only after this replica's node is\n"
    "the first one and is owned by its live session. The client notices a\n"
    "dead connection after two thirds of the session timeout, the server\n"
    "expires the session after the full timeout, and only then can another\n"
    "replica lead: so when zkr-elect and its host keep running, COMMAND has\n"
    "been sent SIGTERM about a third of the session timeout before anybody\n"
    "else can lead, and SIGKILL after the grace period. If zkr-elect itself\n"
    "dies, COMMAND gets SIGKILL from the kernel (Linux).\n"
    "\n"
    "What is not guaranteed: a process that is paused (SIGSTOP, swapping, a\n"
    "frozen VM, clock jumps) cannot be stopped by anybody; it may still act\n"
    "after its session has expired and another replica leads. Processes that\n"
    "leave COMMAND's process group are not signalled. Requests COMMAND has\n"
    "already sent may arrive later. The real protection is the fencing token:\n"
    "pass ZKR_LEADER_TOKEN with every write and let the resource reject\n"
    "tokens smaller than the largest it has seen.\n"
    "\n"
    "SIGTERM, SIGINT or SIGHUP: stop COMMAND (SIGTERM, then SIGKILL after the\n"
    "grace period), resign, exit 0.\n"
    "\n"
    "Exit status: 0 stopped by a signal, or COMMAND exited 0; COMMAND's status\n"
    "when it exits by itself while leading (128+N if killed by signal N, 126\n"
    "not executable, 127 not found) unless --rejoin; 1 election error; 2\n"
    "usage error; 3 cannot connect.\n";

static atomic_int stop_sig;
static atomic_int leads, losts;
static atomic_int join_status = 1;
static atomic_int child_pgid;
static int quiet;
static const char *me = "";

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    if (quiet)
        return;
    fprintf(stderr, "zkr-elect[%s]: ", me);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void on_leader(zkr_election_t *e, int status, void *ctx)
{
    (void)e;
    (void)status;
    (void)ctx;
    atomic_fetch_add(&leads, 1);
}

static void on_lost(zkr_election_t *e, int status, void *ctx)
{
    int pg = atomic_load(&child_pgid);
    (void)e;
    (void)status;
    (void)ctx;
    atomic_fetch_add(&losts, 1);
    /* Not a moment later: the main loop only takes care of SIGKILL. */
    if (pg > 0)
        kill(-pg, SIGTERM);
}

static void on_join(zkr_election_t *e, int status, void *ctx)
{
    (void)e;
    (void)ctx;
    atomic_store(&join_status, status);
}

static void on_signal(int sig)
{
    atomic_store(&stop_sig, sig);
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && *out >= 0 && *out < 1e6;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void nap(void)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static pid_t start_command(char **argv, const char *path, zkr_election_t *e)
{
    char tok[32];
    pid_t parent = getpid(), pid;
    snprintf(tok, sizeof tok, "%lld", (long long)zkr_election_token(e));
    /* Set in our own environment before fork: the child must not
     * allocate between fork and exec (other threads may hold locks). */
    setenv("ZKR_LEADER_TOKEN", tok, 1);
    setenv("ZKR_LEADER_ID", me, 1);
    setenv("ZKR_LEADER_PATH", path, 1);
    pid = fork();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        setpgid(0, 0);
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
        if (getppid() != parent)
            _exit(EXIT_ERROR);
        execvp(argv[0], argv);
        _exit(errno == ENOENT ? 127 : 126);
    }
    if (pid > 0) {
        setpgid(pid, pid); /* also here: no window before the child's */
        atomic_store(&child_pgid, pid);
    }
    return pid;
}

static int status_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return EXIT_ERROR;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"hosts", required_argument, NULL, 's'},
        {"id", required_argument, NULL, 'i'},
        {"session-timeout", required_argument, NULL, 't'},
        {"grace", required_argument, NULL, 'g'},
        {"rejoin", no_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *hosts = getenv("ZKR_HOSTS"), *id = NULL, *path;
    double grace_s = 2, term_at = 0, next_poll = 0;
    int session_ms = 10000, rejoin = 0, opt, rc, exit_code = 0;
    int started_for = 0;
    pid_t child = -1;
    char *shown = NULL;
    zkr_client_t *c = NULL;
    zkr_election_opts_t eo;
    zkr_election_t *e = NULL;
    struct sigaction sa;

    while ((opt = getopt_long(argc, argv, "+s:i:t:g:rqh", longopts, NULL)) !=
           -1) {
        switch (opt) {
        case 's':
            hosts = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 't':
            session_ms = atoi(optarg);
            if (session_ms <= 0) {
                fprintf(stderr, "zkr-elect: bad --session-timeout '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'g':
            if (!parse_seconds(optarg, &grace_s)) {
                fprintf(stderr, "zkr-elect: bad --grace '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'r':
            rejoin = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    if (!id || !*id) {
        fprintf(stderr, "zkr-elect: --id NAME is required\n");
        return EXIT_USAGE;
    }
    me = id;
    if (optind >= argc) {
        fprintf(stderr, "zkr-elect: missing PATH\n%s", usage_text);
        return EXIT_USAGE;
    }
    path = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    if (optind >= argc) {
        fprintf(stderr, "zkr-elect: missing COMMAND\n%s", usage_text);
        return EXIT_USAGE;
    }
    if (zkr_path_validate(path) != ZKR_OK || strcmp(path, "/") == 0) {
        fprintf(stderr, "zkr-elect: '%s' is not a valid election path\n",
                path);
        return EXIT_USAGE;
    }
    if (grace_s * 1000 * 3 > session_ms)
        say("warning: grace %.1f s is not well under a third of the "
            "session timeout (%d ms)", grace_s, session_ms);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    /* give up on connecting as soon as a session would expire */
    if ((rc = zkr_cli_connect("zkr-elect", hosts, session_ms, session_ms,
                              &c)) != 0)
        return rc;
    zkr_election_opts_init(&eo);
    eo.id = id;
    eo.on_leader = on_leader;
    eo.on_lost = on_lost;
    rc = zkr_election_new(c, path, &eo, &e);
    if (rc == ZKR_OK)
        rc = zkr_election_join_async(e, on_join, NULL);
    if (rc != ZKR_OK) {
        fprintf(stderr, "zkr-elect: %s: %s\n", path, zkr_strerror(rc));
        zkr_election_free(e);
        zkr_client_free(c);
        return EXIT_ERROR;
    }
    say("joined %s", path);

    for (;;) {
        int js = atomic_load(&join_status);
        int sig = atomic_load(&stop_sig);
        if (js != 1 && js != ZKR_OK && js != ZKR_ECANCELED) {
            fprintf(stderr, "zkr-elect: joining %s: %s\n", path,
                    zkr_strerror(js));
            exit_code = EXIT_ERROR;
            sig = SIGTERM;
        }
        if (child > 0) {
            int status;
            pid_t w = waitpid(child, &status, WNOHANG);
            if (w == child) {
                child = -1;
                atomic_store(&child_pgid, 0);
                if (term_at == 0 && !sig &&
                    atomic_load(&losts) < started_for) {
                    /* exited by itself while leading */
                    say("COMMAND exited with status %d", status_code(status));
                    if (!rejoin) {
                        exit_code = status_code(status);
                        break;
                    }
                    zkr_election_resign(e);
                    atomic_store(&join_status, 1);
                    if (zkr_election_join_async(e, on_join, NULL) != ZKR_OK) {
                        exit_code = EXIT_ERROR;
                        break;
                    }
                    say("joined %s again", path);
                } else {
                    say("COMMAND stopped");
                }
                term_at = 0;
            } else if (term_at == 0 &&
                       (sig || atomic_load(&losts) >= started_for)) {
                say(sig ? "stopping COMMAND"
                        : "leadership uncertain or lost: stopping COMMAND");
                kill(-child, SIGTERM);
                term_at = now_s();
            } else if (term_at > 0 && now_s() - term_at > grace_s) {
                kill(-child, SIGKILL);
            }
        } else if (sig) {
            break;
        } else if (zkr_election_is_leader(e) &&
                   atomic_load(&losts) < atomic_load(&leads)) {
            started_for = atomic_load(&leads);
            child = start_command(argv + optind, path, e);
            if (child < 0) {
                perror("zkr-elect: fork");
                exit_code = EXIT_ERROR;
                break;
            }
            say("leading (token %lld): started COMMAND, pid %ld",
                (long long)zkr_election_token(e), (long)child);
            free(shown);
            shown = strdup(me);
        } else if (now_s() >= next_poll) {
            char *lid = NULL;
            next_poll = now_s() + 1;
            if (zkr_election_leader(e, &lid) == ZKR_OK &&
                (!shown || strcmp(shown, lid) != 0)) {
                say("standby; leader is %s", lid);
                free(shown);
                shown = strdup(lid);
            }
            zkr_free(lid);
        }
        nap();
    }
    if (child > 0) {
        /* leaving on an error with COMMAND running */
        kill(-child, SIGTERM);
        term_at = now_s();
        while (waitpid(child, NULL, WNOHANG) == 0) {
            if (now_s() - term_at > grace_s)
                kill(-child, SIGKILL);
            nap();
        }
    }
    free(shown);
    zkr_election_free(e); /* resigns */
    zkr_client_free(c);
    say("resigned, exiting");
    return exit_code;
}
