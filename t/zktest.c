/* SPDX-License-Identifier: Apache-2.0 */
#include "zktest.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MAX_SERVERS 8
static zkt_server_t *servers[MAX_SERVERS];
static int nservers;
static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *script(void)
{
    const char *s = getenv("ZKR_SERVER");
    return s && *s ? s : "server/zkr-server";
}

static const char *progname(void)
{
    static char name[128];
    if (!name[0]) {
        FILE *f = fopen("/proc/self/comm", "r");
        if (!f || !fgets(name, sizeof name, f))
            strcpy(name, "test");
        if (f)
            fclose(f);
        name[strcspn(name, "\n")] = '\0';
        /* libtool prefixes uninstalled binaries with "lt-". */
        if (strncmp(name, "lt-", 3) == 0)
            memmove(name, name + 3, strlen(name + 3) + 1);
    }
    return name;
}

void zkt_stop(zkt_server_t *s)
{
    char cmd[1200];
    if (!s || !s->dir[0])
        return;
    snprintf(cmd, sizeof cmd, "'%s' stop --clean --dir '%s' >/dev/null 2>&1",
             script(), s->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# stopping server in %s failed\n", s->dir);
    s->dir[0] = '\0';
}

static void stop_all(void)
{
    pthread_mutex_lock(&srv_mu);
    for (int i = 0; i < nservers; i++)
        zkt_stop(servers[i]);
    pthread_mutex_unlock(&srv_mu);
}

static void on_signal(int sig)
{
    stop_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

zkt_server_t *zkt_start(int members)
{
    static int hooked;
    zkt_server_t *s = calloc(1, sizeof *s);
    const char *tmp = getenv("TMPDIR");
    char cmd[1400];
    FILE *p;
    int st;
    if (!s)
        bail_out("out of memory");
    if (!hooked) {
        atexit(stop_all);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        hooked = 1;
    }
    snprintf(s->dir, sizeof s->dir, "%s/zkr-%s-XXXXXX",
             tmp && *tmp ? tmp : "/tmp", progname());
    if (!mkdtemp(s->dir))
        bail_out("mkdtemp %s: %s", s->dir, strerror(errno));
    s->members = members;
    snprintf(cmd, sizeof cmd,
             "'%s' start --no-fsync --dir '%s' --ensemble %d --owner-pid %ld "
             "2>'%s.err'",
             script(), s->dir, members, (long)getpid(), s->dir);
    p = popen(cmd, "r");
    if (!p)
        bail_out("popen: %s", strerror(errno));
    if (!fgets(s->hosts, sizeof s->hosts, p))
        s->hosts[0] = '\0';
    st = pclose(p);
    s->hosts[strcspn(s->hosts, "\n")] = '\0';
    if (st != 0 || !s->hosts[0]) {
        char err[1600];
        snprintf(err, sizeof err, "sed 's/^/# /' '%s.err'", s->dir);
        if (system(err) != 0)
            fprintf(stderr, "# (no log)\n");
        if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
            bail_out("cannot start ZooKeeper with %s: install the Debian "
                     "packages zookeeper and default-jre-headless",
                     script());
        bail_out("zkr-server start failed (status %d), log above", st);
    }
    snprintf(cmd, sizeof cmd, "%s.err", s->dir);
    unlink(cmd);
    pthread_mutex_lock(&srv_mu);
    if (nservers < MAX_SERVERS)
        servers[nservers++] = s;
    pthread_mutex_unlock(&srv_mu);
    return s;
}

int zkt_ctl(zkt_server_t *s, const char *fmt, ...)
{
    char args[256], cmd[1200];
    va_list ap;
    int st;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s --dir '%s' >/dev/null 2>&1", script(),
             args, s->dir);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int zkt_leader(zkt_server_t *s)
{
    char cmd[1200], out[32] = "";
    FILE *p;
    snprintf(cmd, sizeof cmd, "'%s' leader --dir '%s' 2>/dev/null", script(),
             s->dir);
    p = popen(cmd, "r");
    if (!p)
        return -1;
    if (!fgets(out, sizeof out, p))
        out[0] = '\0';
    pclose(p);
    return out[0] ? atoi(out) : -1;
}

int zkt_member_of(zkt_server_t *s, zkr_client_t *c)
{
    char cur[256], path[600], line[256];
    const char *colon;
    FILE *f;
    int idx = -1, port, member, cport;
    if (zkr_client_server(c, cur, sizeof cur) != ZKR_OK)
        return -1;
    colon = strrchr(cur, ':');
    if (!colon)
        return -1;
    port = atoi(colon + 1);
    snprintf(path, sizeof path, "%s/members", s->dir);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%d %d", &member, &cport) == 2 && cport == port)
            idx = member;
    fclose(f);
    return idx;
}

const char *zkt_hosts(void)
{
    static zkt_server_t *shared;
    const char *env = getenv("ZKR_TEST_HOSTS");
    if (env && *env)
        return env;
    if (!shared)
        shared = zkt_start(1);
    return shared->hosts;
}

const char *zkt_ns(void)
{
    static char ns[256];
    if (!ns[0]) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(ns, sizeof ns, "/zkr-t/%s-%ld-%ld", progname(),
                 (long)getpid(), (long)(ts.tv_nsec % 100000));
    }
    return ns;
}

zkr_client_t *zkt_client_ns(const char *hosts, int session_ms,
                            const char *chroot)
{
    zkr_client_opts_t o;
    zkr_client_t *c = NULL;
    int rc;
    zkr_client_opts_init(&o);
    o.hosts = hosts;
    o.session_timeout_ms = session_ms;
    o.connect_timeout_ms = 15000;
    o.chroot = chroot;
    rc = zkr_client_new(&o, &c);
    if (rc != ZKR_OK)
        bail_out("cannot connect to %s: %s", hosts, zkr_strerror(rc));
    return c;
}

zkr_client_t *zkt_client(const char *hosts, int session_ms)
{
    return zkt_client_ns(hosts, session_ms, zkt_ns());
}

zkr_client_t *zkt_client_as(const char *hosts, const char *digest,
                            zkr_acl_t acl)
{
    zkr_client_opts_t o;
    zkr_client_t *c = NULL;
    int rc;
    zkr_client_opts_init(&o);
    o.hosts = hosts;
    o.chroot = zkt_ns();
    o.digest = digest;
    o.acl = acl;
    rc = zkr_client_new(&o, &c);
    if (rc != ZKR_OK)
        bail_out("cannot connect to %s: %s", hosts, zkr_strerror(rc));
    return c;
}

void zkt_states_init(zkt_states_t *r)
{
    pthread_condattr_t a;
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &a);
    pthread_condattr_destroy(&a);
}

void zkt_states_cb(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkt_states_t *r = ctx;
    (void)c;
    pthread_mutex_lock(&r->mu);
    if (r->n < (int)(sizeof r->states / sizeof *r->states))
        r->states[r->n++] = st;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

int zkt_states_wait(zkt_states_t *r, zkr_state_t st, int from, int timeout_ms)
{
    struct timespec ts;
    int found = -1;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    for (;;) {
        for (int i = from; i < r->n; i++)
            if (r->states[i] == st) {
                found = i;
                break;
            }
        if (found >= 0 ||
            pthread_cond_timedwait(&r->cv, &r->mu, &ts) == ETIMEDOUT)
            break;
    }
    if (found < 0)
        for (int i = from; i < r->n; i++)
            if (r->states[i] == st)
                found = i;
    pthread_mutex_unlock(&r->mu);
    return found;
}

void zkt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

long long zkt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- fault proxy ---------------------------------------------------------- */

static zkt_proxy_t *proxies[8];
static int nproxies;

static void stop_proxies(void)
{
    for (int i = 0; i < nproxies; i++)
        if (proxies[i]->pid > 0) {
            kill(proxies[i]->pid, SIGKILL);
            waitpid(proxies[i]->pid, NULL, 0);
            proxies[i]->pid = 0;
        }
}

zkt_proxy_t *zkt_proxy_start(int target_port)
{
    zkt_proxy_t *p = calloc(1, sizeof *p);
    const char *top = getenv("ZKR_TOP_BUILDDIR");
    char exe[600], port[16], line[64] = "";
    int fds[2];
    size_t got = 0;
    pid_t pid;
    if (!p || pipe(fds) != 0)
        bail_out("proxy: out of resources");
    snprintf(exe, sizeof exe, "%s/t/zkr-faultproxy", top ? top : ".");
    snprintf(port, sizeof port, "%d", target_port);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(exe, exe, port, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (got < sizeof line - 1 && !strchr(line, '\n')) {
        ssize_t r = read(fds[0], line + got, sizeof line - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fds[0]);
    if (sscanf(line, "%d %d", &p->port, &p->ctl) != 2)
        bail_out("cannot start %s", exe);
    p->pid = pid;
    snprintf(p->hosts, sizeof p->hosts, "127.0.0.1:%d", p->port);
    if (nproxies == 0)
        atexit(stop_proxies);
    if (nproxies < 8)
        proxies[nproxies++] = p;
    return p;
}

int zkt_proxy(zkt_proxy_t *p, const char *cmd)
{
    struct sockaddr_in a;
    char reply[128] = "";
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok_reply;
    ssize_t r;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)p->ctl);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) != 1) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    r = read(fd, reply, sizeof reply - 1);
    close(fd);
    ok_reply = r > 0 && strncmp(reply, "error", 5) != 0;
    return ok_reply ? 0 : -1;
}

int zkt_first_port(const char *hosts)
{
    const char *colon = strchr(hosts, ':');
    return colon ? atoi(colon + 1) : -1;
}
