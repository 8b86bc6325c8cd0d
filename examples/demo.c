/* SPDX-License-Identifier: Apache-2.0 */
/* zkr demo: the client layer (a watched sequential node) and the lock
 * recipe against a live server.
 *
 *   demo [HOSTS]
 *
 * HOSTS defaults to $ZKR_HOSTS. With $ZKR_SERVER (the zkr-server script)
 * and $ZKR_SERVER_DIR set, the demo also restarts the server to show the
 * client and its watch riding through it. Election, config and the service
 * registry have demos of their own: examples/demo-election.sh and
 * examples/demo-registry.sh (quickstart.sh runs all three). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zkr/config.h>
#include <zkr/lock.h>
#include <zkr/zkr.h>

static struct timespec t0;

static double elapsed(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    printf("[%6.2fs] ", elapsed());
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    (void)ctx;
    say("  client state: %s (session 0x%llx)", zkr_state_name(st),
        (unsigned long long)zkr_client_session_id(c));
}

/* The watched sequential node: the config cache re-reads and re-watches it
 * after every change, reconnect and new session. Runs on the completion
 * thread: it only prints and records the version it saw. */
static volatile int watched_version = -1;
static void on_change(zkr_config_t *cfg, int status, void *ctx)
{
    char *data = NULL;
    zkr_stat_t st;
    (void)status;
    (void)ctx;
    if (zkr_config_get(cfg, &data, NULL, &st) == ZKR_OK) {
        say("  watch: version %d holds \"%s\"", (int)st.version, data);
        __atomic_store_n(&watched_version, (int)st.version, __ATOMIC_SEQ_CST);
    }
    zkr_free(data);
}

/* Change the watched node and wait (bounded) until the watch reports it. */
static void change_watched(zkr_client_t *c, const char *path, const char *v)
{
    zkr_stat_t st;
    if (zkr_set(c, path, v, strlen(v), -1, &st) != ZKR_OK) {
        say("  set %s failed", path);
        return;
    }
    for (int i = 0; i < 500 && __atomic_load_n(&watched_version,
                                               __ATOMIC_SEQ_CST) < st.version;
         i++)
        usleep(10000);
}

static zkr_client_t *connect_to(const char *hosts, int session_ms)
{
    zkr_client_opts_t o;
    zkr_client_t *c;
    int rc;
    zkr_client_opts_init(&o);
    o.hosts = hosts;
    o.chroot = "/zkr-demo";
    o.session_timeout_ms = session_ms;
    rc = zkr_client_new(&o, &c);
    if (rc != ZKR_OK) {
        fprintf(stderr, "demo: cannot connect to %s: %s\n", hosts,
                zkr_strerror(rc));
        exit(3);
    }
    return c;
}

/* A worker process: take the lock, hold it, release it. */
static int held_pipe[2];

static void worker(const char *hosts, int id, int hold_ms)
{
    char tag = (char)('0' + id);
    zkr_client_t *c = connect_to(hosts, 1500);
    zkr_lock_t *l;
    char node[160] = "";
    if (zkr_lock_new(c, "/lock", NULL, &l) != ZKR_OK)
        _exit(1);
    say("worker %d (pid %ld) waiting for the lock", id, (long)getpid());
    if (zkr_lock_acquire(l, -1) != ZKR_OK)
        _exit(1);
    zkr_lock_node(l, node, sizeof node);
    say("worker %d holds the lock: token %lld, node %s", id,
        (long long)zkr_lock_token(l), node);
    if (write(held_pipe[1], &tag, 1) != 1)
        _exit(1);
    usleep((useconds_t)hold_ms * 1000);
    zkr_lock_release(l);
    say("worker %d released", id);
    zkr_lock_free(l);
    zkr_client_free(c);
    _exit(0);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: demo [HOSTS]\n"
               "Shows zkr's client layer (a sequential node and a watch on\n"
               "it) and lock recipe against a running ZooKeeper (HOSTS\n"
               "defaults to $ZKR_HOSTS). With ZKR_SERVER and ZKR_SERVER_DIR\n"
               "set it also restarts that server; the watch rides through.\n"
               "Election and config: examples/demo-election.sh; service\n"
               "registry: examples/demo-registry.sh.\n");
}

int main(int argc, char **argv)
{
    const char *hosts = getenv("ZKR_HOSTS");
    const char *server = getenv("ZKR_SERVER");
    const char *sdir = getenv("ZKR_SERVER_DIR");
    zkr_client_t *c;
    char *created = NULL, *data = NULL;
    zkr_config_t *watched = NULL;
    size_t len;
    pid_t pids[3];
    int i;

    if (argc == 5 && !strcmp(argv[1], "--worker")) {
        /* re-executed below: a fresh process, not a fork of one running
         * ZooKeeper threads (their mutexes could be held at fork time) */
        /* the parent's start time, so all clocks print alike */
        sscanf(argv[4], "%ld.%ld", &t0.tv_sec, &t0.tv_nsec);
        held_pipe[1] = 3;
        worker(argv[2], atoi(argv[3]), 700);
    }
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc > 1)
        hosts = argv[1];
    if (!hosts) {
        usage(stderr);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("zkr %s demo against %s\n\n", zkr_version_string(), hosts);

    say("1. client layer: connect, create a sequential node, watch it");
    c = connect_to(hosts, 4000);
    zkr_client_add_listener(c, on_state, NULL);
    say("  connected, session 0x%llx, timeout %d ms",
        (unsigned long long)zkr_client_session_id(c),
        zkr_client_session_timeout(c));
    zkr_ensure_path(c, "/events");
    if (zkr_create(c, "/events/e-", "hello", 5, ZKR_SEQUENTIAL, &created) ==
            ZKR_OK &&
        zkr_get(c, created, &data, &len, NULL) == ZKR_OK)
        say("  created %s holding \"%s\"", created, data);
    zkr_free(data);
    if (created) {
        zkr_config_opts_t co;
        zkr_config_opts_init(&co);
        co.on_change = on_change;
        if (zkr_config_new(c, created, &co, &watched) == ZKR_OK &&
            zkr_config_wait_synced(watched, 4000) == ZKR_OK)
            change_watched(c, created, "changed once");
    }

    say("2. lock: three processes contend; worker 2 is killed while holding");
    if (pipe(held_pipe) != 0)
        return 1;
    for (i = 0; i < 3; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            char id[8], since[32];
            snprintf(id, sizeof id, "%d", i + 1);
            snprintf(since, sizeof since, "%ld.%09ld", (long)t0.tv_sec,
                     t0.tv_nsec);
            dup2(held_pipe[1], 3);
            execl("/proc/self/exe", argv[0], "--worker", hosts, id, since,
                  (char *)NULL);
            _exit(127);
        }
        usleep(150000); /* queue in order */
    }
    /* kill worker 2 as soon as it reports that it holds the lock */
    for (;;) {
        char tag;
        if (read(held_pipe[0], &tag, 1) != 1 || tag == '2')
            break;
    }
    usleep(200000);
    say("  killing worker 2 (pid %ld) with SIGKILL", (long)pids[1]);
    kill(pids[1], SIGKILL);
    for (i = 0; i < 3; i++)
        waitpid(pids[i], NULL, 0);
    say("  worker 3 took over once worker 2's session (1.5 s) expired");

    /* A Python (kazoo) holder and a C holder share the lock, when Debian's
     * python3-kazoo is installed: kazoo sees zkr's "-lock-" nodes through
     * extra_lock_patterns, zkr sees kazoo's "__lock__" nodes by itself. */
    if (system("/usr/bin/python3 -c 'import kazoo' 2>/dev/null") == 0) {
        char cmd[2048];
        pid_t py, cw;
        say("2b. a kazoo (Python) holder and a zkr holder on the same lock");
        snprintf(cmd, sizeof cmd,
                 "import sys, time\n"
                 "from kazoo.client import KazooClient\n"
                 "zk = KazooClient(hosts='%s/zkr-demo'); zk.start()\n"
                 "lk = zk.Lock('/lock', 'kazoo', extra_lock_patterns=('-lock-',))\n"
                 "lk.acquire()\n"
                 "print('[  kazoo ] python holds the lock: node %%s' %% lk.node, flush=True)\n"
                 "time.sleep(0.7)\n"
                 "lk.release(); print('[  kazoo ] python released', flush=True); zk.stop()\n",
                 hosts);
        py = fork();
        if (py == 0) {
            execl("/usr/bin/python3", "python3", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        usleep(400000);
        cw = fork();
        if (cw == 0) {
            char since[32];
            snprintf(since, sizeof since, "%ld.%09ld", (long)t0.tv_sec,
                     t0.tv_nsec);
            dup2(held_pipe[1], 3);
            execl("/proc/self/exe", argv[0], "--worker", hosts, "4", since,
                  (char *)NULL);
            _exit(127);
        }
        waitpid(py, NULL, 0);
        waitpid(cw, NULL, 0);
    }

    if (server && sdir) {
        char cmd[1024];
        say("3. restart the server: the client suspends and recovers");
        snprintf(cmd, sizeof cmd, "'%s' restart 1 --dir '%s' >/dev/null",
                 server, sdir);
        if (system(cmd) != 0)
            say("  restart failed");
        zkr_client_wait_connected(c, 15000);
        say("  client state now %s; listing /events works: %s",
            zkr_state_name(zkr_client_state(c)),
            zkr_exists(c, "/events", NULL) == ZKR_OK ? "yes" : "no");
        if (watched)
            change_watched(c, created, "changed after the restart");
    }
    zkr_config_free(watched);
    zkr_free(created);
    zkr_delete_recursive(c, "/events");
    zkr_client_free(c);
    say("done");
    return 0;
}
