/* SPDX-License-Identifier: Apache-2.0 */
/* Election and config benchmarks:
 *
 *   zkr-elect-bench HOSTS [SCENARIO...]
 *
 * SCENARIO (default: all):
 *   failover-kill       a leader process (this program run as "child") is
 *                       killed with SIGKILL; time until the next candidate
 *                       leads. Bound by the session timeout: the leader's
 *                       negotiated timeout is printed too, with the target
 *                       (timeout plus one round trip).
 *   failover-resign     the leader resigns; time until the next leads
 *                       (target: about one round trip).
 * Both failover scenarios measure one round trip (median of reads) to
 * compare with; failover-resign prints it as "round-trip", and a committed
 * write's round trip as "write-round-trip".
 *   config-propagation  one push; time until 100 watchers, each on its own
 *                       session, hold the new version.
 * Prints lines "RESULT zkr <scenario> <value> <unit>" (medians). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zkr/config.h>
#include <zkr/election.h>

#define KILL_ROUNDS 3
#define KILL_SESSION_MS 2000
#define RESIGN_ROUNDS 50
#define WATCHERS 100
#define PUSH_ROUNDS 10
#define RTT_ROUNDS 50

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static zkr_client_t *connect_or_die(const char *hosts, int session_ms)
{
    zkr_client_opts_t o;
    zkr_client_t *c;
    int rc;
    zkr_client_opts_init(&o);
    o.hosts = hosts;
    o.session_timeout_ms = session_ms;
    o.connect_timeout_ms = 30000;
    rc = zkr_client_new(&o, &c);
    if (rc != ZKR_OK) {
        fprintf(stderr, "zkr-elect-bench: connect: %s\n", zkr_strerror(rc));
        exit(3);
    }
    return c;
}

static void die_rc(const char *what, int rc)
{
    fprintf(stderr, "zkr-elect-bench: %s: %s\n", what, zkr_strerror(rc));
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- leadership timestamps ----------------------------------------------- */

static _Atomic double led_at;

static void on_leader(zkr_election_t *e, int status, void *ctx)
{
    (void)e;
    (void)status;
    (void)ctx;
    atomic_store(&led_at, now_ms());
}

/* Wait until @p e leads, then the time from @p t0 to its on_leader call.
 * zkr_election_await may return before on_leader has run on the
 * completion thread, so the time is the callback's. */
static double led_since(zkr_election_t *e, double t0, int timeout_ms)
{
    if (zkr_election_await(e, timeout_ms) != ZKR_OK)
        die_rc("await", ZKR_ETIMEDOUT);
    for (int i = 0; i < 100000 && atomic_load(&led_at) == 0.0; i++) {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&led_at) == 0.0)
        die_rc("on_leader", ZKR_ETIMEDOUT);
    return atomic_load(&led_at) - t0;
}

static zkr_election_t *candidate(zkr_client_t *c, const char *path,
                                 const char *id, int timed)
{
    zkr_election_opts_t o;
    zkr_election_t *e;
    int rc;
    zkr_election_opts_init(&o);
    o.id = id;
    o.on_leader = timed ? on_leader : NULL;
    if ((rc = zkr_election_new(c, path, &o, &e)) != ZKR_OK)
        die_rc("election", rc);
    return e;
}

/* Median of reads of @p path: one client-server round trip. */
static double round_trip_ms(zkr_client_t *c, const char *path)
{
    double v[RTT_ROUNDS];
    for (int i = 0; i < RTT_ROUNDS; i++) {
        double t0 = now_ms();
        int rc = zkr_exists(c, path, NULL);
        if (rc != ZKR_OK && rc != ZKR_ENONODE)
            die_rc("exists", rc);
        v[i] = now_ms() - t0;
    }
    return median(v, RTT_ROUNDS);
}

/* Median of unconditional writes of @p path: one committed round trip
 * (what a resign's delete costs before the next candidate hears of it). */
static double write_round_trip_ms(zkr_client_t *c, const char *path)
{
    double v[RTT_ROUNDS];
    for (int i = 0; i < RTT_ROUNDS; i++) {
        double t0 = now_ms();
        int rc = zkr_config_push(c, path, "x", 1, ZKR_CONFIG_ANY, NULL);
        if (rc != ZKR_OK)
            die_rc("push", rc);
        v[i] = now_ms() - t0;
    }
    zkr_delete(c, path, -1);
    return median(v, RTT_ROUNDS);
}

/* ---- failover after a kill ----------------------------------------------- */

static int child_main(const char *hosts, const char *path)
{
    zkr_client_t *c = connect_or_die(hosts, KILL_SESSION_MS);
    zkr_election_t *e = candidate(c, path, "child", 0);
    if (zkr_election_join(e, 30000) != ZKR_OK ||
        zkr_election_await(e, 30000) != ZKR_OK)
        return 1;
    printf("leader %d\n", zkr_client_session_timeout(c));
    fflush(stdout);
    for (;;)
        pause();
}

static void failover_kill(const char *self, const char *hosts,
                          const char *base)
{
    zkr_client_t *c = connect_or_die(hosts, 10000);
    double v[KILL_ROUNDS], rtt, fail;
    char path[256];
    int timeout = 0;
    snprintf(path, sizeof path, "%s/kill", base);
    for (int r = 0; r < KILL_ROUNDS; r++) {
        zkr_election_t *e = candidate(c, path, "standby", 1);
        int fds[2];
        char line[32] = "";
        pid_t pid;
        FILE *f;
        if (pipe(fds) != 0)
            die_rc("pipe", ZKR_ESYS);
        pid = fork();
        if (pid == 0) {
            dup2(fds[1], 1);
            close(fds[0]);
            execl(self, self, "child", hosts, path, (char *)NULL);
            _exit(127);
        }
        close(fds[1]);
        f = fdopen(fds[0], "r");
        if (!f || !fgets(line, sizeof line, f) ||
            sscanf(line, "leader %d", &timeout) != 1 || timeout <= 0)
            die_rc("child did not lead", ZKR_ETIMEDOUT);
        fclose(f);
        if (zkr_election_join(e, 30000) != ZKR_OK)
            die_rc("join", ZKR_ETIMEDOUT);
        atomic_store(&led_at, 0.0);
        double t0 = now_ms();
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        v[r] = led_since(e, t0, 60000);
        zkr_election_free(e);
    }
    rtt = round_trip_ms(c, path);
    fail = median(v, KILL_ROUNDS);
    printf("RESULT zkr failover-kill %.1f ms\n", fail);
    printf("RESULT zkr session-timeout %d ms\n", timeout);
    printf("# failover after kill = %.2f session timeouts; target: session "
           "timeout + one round trip (%.2f ms) = %.1f ms\n",
           fail / timeout, rtt, timeout + rtt);
    zkr_client_free(c);
}

/* ---- failover after a resign --------------------------------------------- */

static void failover_resign(const char *hosts, const char *base)
{
    zkr_client_t *c1 = connect_or_die(hosts, 10000);
    zkr_client_t *c2 = connect_or_die(hosts, 10000);
    double v[RESIGN_ROUNDS];
    char path[256];
    snprintf(path, sizeof path, "%s/resign", base);
    for (int r = 0; r < RESIGN_ROUNDS; r++) {
        zkr_election_t *a = candidate(c1, path, "a", 0);
        zkr_election_t *b = candidate(c2, path, "b", 1);
        if (zkr_election_join(a, 30000) != ZKR_OK ||
            zkr_election_await(a, 30000) != ZKR_OK ||
            zkr_election_join(b, 30000) != ZKR_OK)
            die_rc("setup", ZKR_ETIMEDOUT);
        atomic_store(&led_at, 0.0);
        double t0 = now_ms();
        zkr_election_resign(a);
        v[r] = led_since(b, t0, 30000);
        zkr_election_free(a);
        zkr_election_free(b);
    }
    {
        double rtt = round_trip_ms(c2, path), wrtt, fail;
        snprintf(path, sizeof path, "%s/rtt", base);
        wrtt = write_round_trip_ms(c2, path);
        fail = median(v, RESIGN_ROUNDS);
        printf("RESULT zkr failover-resign %.2f ms\n", fail);
        printf("RESULT zkr round-trip %.2f ms\n", rtt);
        printf("RESULT zkr write-round-trip %.2f ms\n", wrtt);
        printf("# failover after resign = %.1f write round trips (the "
               "delete commits), %.1f read round trips\n",
               fail / wrtt, fail / rtt);
    }
    zkr_client_free(c1);
    zkr_client_free(c2);
}

/* ---- config propagation -------------------------------------------------- */

static pthread_mutex_t pmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pcv = PTHREAD_COND_INITIALIZER;
static int target_version = -1, have;
static double last_at;
static int seen_version[WATCHERS];

static void on_change(zkr_config_t *cfg, int status, void *ctx)
{
    int i = (int)(intptr_t)ctx;
    zkr_stat_t st;
    (void)status;
    if (zkr_config_get(cfg, NULL, NULL, &st) != ZKR_OK)
        return;
    pthread_mutex_lock(&pmu);
    if (st.version >= target_version && seen_version[i] < target_version) {
        have++;
        last_at = now_ms();
        pthread_cond_signal(&pcv);
    }
    if (st.version > seen_version[i])
        seen_version[i] = st.version;
    pthread_mutex_unlock(&pmu);
}

static void config_propagation(const char *hosts, const char *base)
{
    zkr_client_t *pusher = connect_or_die(hosts, 10000);
    zkr_client_t *cs[WATCHERS];
    zkr_config_t *ws[WATCHERS];
    double v[PUSH_ROUNDS];
    char path[256], val[64];
    zkr_stat_t st;
    int rc;
    snprintf(path, sizeof path, "%s/config", base);
    if ((rc = zkr_config_push(pusher, path, "v0", 2, ZKR_CONFIG_ANY, &st)) !=
        ZKR_OK)
        die_rc("push", rc);
    target_version = st.version;
    for (int i = 0; i < WATCHERS; i++) {
        zkr_config_opts_t o;
        zkr_config_opts_init(&o);
        o.on_change = on_change;
        o.ctx = (void *)(intptr_t)i;
        cs[i] = connect_or_die(hosts, 10000);
        if ((rc = zkr_config_new(cs[i], path, &o, &ws[i])) != ZKR_OK)
            die_rc("config", rc);
    }
    for (int i = 0; i < WATCHERS; i++)
        if (zkr_config_wait_synced(ws[i], 30000) != ZKR_OK)
            die_rc("sync", ZKR_ETIMEDOUT);
    sleep_ms(200);
    for (int r = 0; r < PUSH_ROUNDS; r++) {
        double t0;
        snprintf(val, sizeof val, "value-%d", r + 1);
        pthread_mutex_lock(&pmu);
        target_version++;
        have = 0;
        pthread_mutex_unlock(&pmu);
        t0 = now_ms();
        if ((rc = zkr_config_push(pusher, path, val, strlen(val),
                                  target_version - 1, &st)) != ZKR_OK)
            die_rc("push", rc);
        pthread_mutex_lock(&pmu);
        while (have < WATCHERS)
            pthread_cond_wait(&pcv, &pmu);
        v[r] = last_at - t0;
        pthread_mutex_unlock(&pmu);
        sleep_ms(100);
    }
    printf("RESULT zkr config-propagation %.2f ms\n",
           median(v, PUSH_ROUNDS));
    printf("# %d watchers on %d sessions\n", WATCHERS, WATCHERS);
    for (int i = 0; i < WATCHERS; i++) {
        zkr_config_free(ws[i]);
        zkr_client_free(cs[i]);
    }
    zkr_delete(pusher, path, -1);
    zkr_client_free(pusher);
}

int main(int argc, char **argv)
{
    char base[128], self[4096];
    int all;
    if (argc == 4 && strcmp(argv[1], "child") == 0)
        return child_main(argv[2], argv[3]);
    if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "--help") == 0) {
        fprintf(argc < 2 ? stderr : stdout,
                "usage: zkr-elect-bench HOSTS [failover-kill | "
                "failover-resign | config-propagation]...\n"
                "Prints: RESULT zkr <scenario> <value> <unit>\n");
        return argc < 2 ? 2 : 0;
    }
    if (!realpath("/proc/self/exe", self))
        snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(base, sizeof base, "/zkr-elect-bench/%ld", (long)getpid());
    all = argc == 2;
    for (int i = all ? 1 : 2; i < argc; i++) {
        const char *s = all ? NULL : argv[i];
        if (all || strcmp(s, "failover-resign") == 0)
            failover_resign(argv[1], base);
        if (all || strcmp(s, "failover-kill") == 0)
            failover_kill(self, argv[1], base);
        if (all || strcmp(s, "config-propagation") == 0)
            config_propagation(argv[1], base);
        if (!all && strcmp(s, "failover-resign") != 0 &&
            strcmp(s, "failover-kill") != 0 &&
            strcmp(s, "config-propagation") != 0) {
            fprintf(stderr, "zkr-elect-bench: unknown scenario %s\n", s);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
