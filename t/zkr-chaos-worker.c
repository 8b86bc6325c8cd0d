/* SPDX-License-Identifier: Apache-2.0 */
/* One client of the fault rounds: hammers a lock for DURATION_MS and logs
 * every hold to LOGFILE as "<pid> enter t<token>" / "<pid> leave t<token>"
 * (one O_APPEND write per line).
 *
 *   zkr-chaos-worker HOSTS LOCKPATH LOGFILE DURATION_MS SESSION_MS
 *
 * A holder that hears its connection is suspended logs "leave" at once:
 * from then on it must not touch the protected resource. The checker
 * replays the log: holds never overlap and tokens only grow.
 *
 *   zkr-chaos-worker elect HOSTS PATH LOGFILE DURATION_MS SESSION_MS
 *
 * does the same as a candidate of a leader election: a term is logged as a
 * hold (the token is the leader node's czxid); a leader resigns after a few
 * milliseconds and joins again, so leadership keeps moving.
 *
 *   zkr-chaos-worker put HOSTS QPATH LOGFILE DURATION_MS SESSION_MS MAX
 *
 * a producer: puts up to MAX uniquely numbered items "p<pid>-<n>" and logs
 * "<pid> put <item>" once a put returned ZKR_OK, or "<pid> maybe <item>
 * <error>" when it failed (ZKR_ECONNLOSS and the like: the item may be in
 * the queue once or not at all). A failed item is not put again.
 *
 *   zkr-chaos-worker take|lease HOSTS QPATH LOGFILE DURATION_MS SESSION_MS
 *
 * a consumer with plain takes (exactly once) or with leases (take_lease
 * then ack: at least once); logs "<pid> take <item>" for every delivery,
 * and for leases "<pid> ack <item> <status>".
 *
 *   zkr-chaos-worker drain take|lease HOSTS QPATH LOGFILE
 *
 * takes what is left once every other client is gone, logging as the
 * consumers do, until the queue is empty (gives up after 30 s).
 *
 * The queue clients also log the library's warnings, as "<pid> lib
 * <message>".
 *
 *   zkr-chaos-worker count HOSTS PATH [SKIP]
 *
 * prints the number of children of PATH (0 if it does not exist), not
 * counting one named SKIP; -1 if it cannot be listed. The paths of the
 * children counted go to stderr. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zkr/election.h>
#include <zkr/lock.h>
#include <zkr/queue.h>

static int logfd;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int holding;
static long long token;

static void log_line(const char *what, long long tok)
{
    char line[96];
    int n = snprintf(line, sizeof line, "%ld %s t%lld\n", (long)getpid(),
                     what, tok);
    if (write(logfd, line, (size_t)n) != n)
        _exit(1);
}

/* Give up the claim once, whoever notices first. */
static void leave(void)
{
    pthread_mutex_lock(&mu);
    if (holding) {
        holding = 0;
        log_line("leave", token);
    }
    pthread_mutex_unlock(&mu);
}

static void on_state(zkr_lock_t *l, int status, void *ctx)
{
    (void)l;
    (void)ctx;
    if (status == ZKR_ECONNLOSS || status == ZKR_ELOCKLOST)
        leave();
}

static void on_leader(zkr_election_t *e, int status, void *ctx)
{
    (void)status;
    (void)ctx;
    pthread_mutex_lock(&mu);
    if (!holding && zkr_election_is_leader(e)) {
        holding = 1;
        token = zkr_election_token(e);
        log_line("enter", token);
    }
    pthread_mutex_unlock(&mu);
}

static void on_lost(zkr_election_t *e, int status, void *ctx)
{
    (void)e;
    (void)status;
    (void)ctx;
    leave();
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void log_item(const char *what, const char *item, const char *extra)
{
    char line[200];
    int n = snprintf(line, sizeof line, "%ld %s %s%s%s\n", (long)getpid(),
                     what, item, extra ? " " : "", extra ? extra : "");
    if (n < 0 || (size_t)n >= sizeof line || write(logfd, line, (size_t)n) != n)
        _exit(1);
}

/* zkr's own warnings (not the ZooKeeper client's chatter about sockets)
 * go to the log as "<pid> lib <message>" lines, which the checkers skip:
 * they tell what happened around a violation. */
static void lib_log(void *ctx, zkr_log_level_t level, const char *msg)
{
    char line[512];
    int n;
    (void)ctx;
    (void)level;
    if (strncmp(msg, "zkr:", 4) != 0)
        return;
    n = snprintf(line, sizeof line, "%ld lib %s", (long)getpid(), msg);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    for (int i = 0; i < n; i++)
        if (line[i] == '\n')
            line[i] = ' ';
    line[n++] = '\n';
    if (write(logfd, line, (size_t)n) != n)
        return;
}

static zkr_client_t *connect_to(const char *hosts, int session_ms)
{
    zkr_client_opts_t co;
    zkr_client_t *c = NULL;
    zkr_client_opts_init(&co);
    co.hosts = hosts;
    if (session_ms > 0)
        co.session_timeout_ms = session_ms;
    co.connect_timeout_ms = 30000;
    co.log_fn = lib_log;
    co.log_level = ZKR_LOG_WARN;
    if (zkr_client_new(&co, &c) != ZKR_OK)
        return NULL;
    return c;
}

/* Take one item with a plain take or a lease and log its delivery; for a
 * lease also ack it. Returns the take's status. */
static int consume(zkr_queue_t *q, int lease, int timeout_ms)
{
    char *data = NULL;
    size_t len = 0;
    zkr_queue_lease_t *l = NULL;
    int rc;
    if (!lease) {
        rc = zkr_queue_take(q, timeout_ms, &data, &len);
        if (rc == ZKR_OK)
            log_item("take", data, NULL);
        zkr_free(data);
        return rc;
    }
    rc = zkr_queue_take_lease(q, timeout_ms, &l);
    if (rc == ZKR_OK) {
        char item[128];
        snprintf(item, sizeof item, "%s",
                 (const char *)zkr_queue_lease_data(l, NULL));
        log_item("take", item, NULL);
        log_item("ack", item, zkr_err_name(zkr_queue_ack(l)));
    }
    return rc;
}

/* zkr-chaos-worker put|take|lease HOSTS QPATH LOG DURATION SESSION [MAX] */
static int queue_worker(int argc, char **argv)
{
    const char *mode = argv[1];
    zkr_client_t *c;
    zkr_queue_t *q;
    long long end;
    int n = 0, max = argc > 7 ? atoi(argv[7]) : 0;
    logfd = open(argv[4], O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (logfd < 0 || !(c = connect_to(argv[2], atoi(argv[6]))))
        return 3;
    if (zkr_queue_new(c, argv[3], NULL, &q) != ZKR_OK) {
        zkr_client_free(c);
        return 1;
    }
    srand((unsigned)getpid());
    end = now_ms() + atoll(argv[5]);
    while (now_ms() < end) {
        if (!strcmp(mode, "put")) {
            char item[64];
            int rc;
            if (n >= max)
                break;
            snprintf(item, sizeof item, "p%ld-%d", (long)getpid(), ++n);
            rc = zkr_queue_put(q, item, strlen(item));
            if (rc == ZKR_OK) {
                log_item("put", item, NULL);
            } else {
                log_item("maybe", item, zkr_err_name(rc));
                zkr_client_wait_connected(c, 250);
            }
            usleep((useconds_t)(5000 + rand() % 30000));
        } else if (consume(q, !strcmp(mode, "lease"), 300) == ZKR_OK) {
            n++;
        } else {
            usleep(20000);
        }
    }
    /* a consumer freed while a claim is in doubt may lose the item (as
     * zkr_queue_free says): let the connection come back first */
    zkr_client_wait_connected(c, 10000);
    zkr_queue_free(q);
    zkr_client_free(c);
    printf("%d items\n", n);
    return 0;
}

/* zkr-chaos-worker drain take|lease HOSTS QPATH LOG: empty the queue. */
static int drain(char **argv)
{
    int lease = !strcmp(argv[2], "lease"), n = 0, rc = ZKR_OK;
    zkr_client_t *c;
    zkr_queue_t *q;
    long long end = now_ms() + 30000;
    logfd = open(argv[5], O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (logfd < 0 || !(c = connect_to(argv[3], 0)))
        return 3;
    if (zkr_queue_new(c, argv[4], NULL, &q) != ZKR_OK) {
        zkr_client_free(c);
        return 1;
    }
    while (now_ms() < end) {
        size_t left = 1;
        rc = consume(q, lease, 0);
        if (rc == ZKR_OK) {
            n++;
            continue;
        }
        rc = zkr_queue_size(q, &left);
        if (rc == ZKR_ENONODE || (rc == ZKR_OK && left == 0)) {
            rc = ZKR_OK;
            break;
        }
        rc = ZKR_ETIMEDOUT;
        usleep(200000); /* items still leased by a session that is ending */
    }
    zkr_queue_free(q);
    zkr_client_free(c);
    printf("%d items\n", n);
    return rc == ZKR_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    zkr_client_opts_t co;
    zkr_lock_opts_t lo;
    zkr_client_t *c;
    zkr_lock_t *l;
    long long end;
    int holds = 0, rc;
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "count")) {
        /* zkr-chaos-worker count HOSTS PATH [SKIP]: number of children */
        char **names;
        int n = 0, skip = 0;
        zkr_client_opts_init(&co);
        co.hosts = argv[2];
        if (zkr_client_new(&co, &c) != ZKR_OK)
            return 3;
        rc = zkr_children(c, argv[3], &names, &n);
        if (rc == ZKR_OK) {
            for (int i = 0; i < n; i++) {
                if (argc == 5 && !strcmp(names[i], argv[4]))
                    skip++;
                else
                    fprintf(stderr, "%s/%s\n", argv[3], names[i]);
            }
            zkr_strings_free(names, n);
        }
        printf("%d\n", rc == ZKR_OK ? n - skip : rc == ZKR_ENONODE ? 0 : -1);
        zkr_client_free(c);
        return 0;
    }
    if ((argc == 8 && !strcmp(argv[1], "put")) ||
        (argc == 7 && (!strcmp(argv[1], "take") || !strcmp(argv[1], "lease"))))
        return queue_worker(argc, argv);
    if (argc == 6 && !strcmp(argv[1], "drain") &&
        (!strcmp(argv[2], "take") || !strcmp(argv[2], "lease")))
        return drain(argv);
    if (argc == 7 && !strcmp(argv[1], "elect")) {
        zkr_election_opts_t eo;
        zkr_election_t *e;
        int terms = 0;
        logfd = open(argv[4], O_WRONLY | O_APPEND | O_CREAT, 0644);
        zkr_client_opts_init(&co);
        co.hosts = argv[2];
        co.session_timeout_ms = atoi(argv[6]);
        co.connect_timeout_ms = 30000;
        if (logfd < 0 || zkr_client_new(&co, &c) != ZKR_OK)
            return 3;
        zkr_election_opts_init(&eo);
        eo.on_leader = on_leader;
        eo.on_lost = on_lost;
        if (zkr_election_new(c, argv[3], &eo, &e) != ZKR_OK)
            return 1;
        srand((unsigned)getpid());
        end = now_ms() + atoll(argv[5]);
        zkr_election_join(e, 30000);
        while (now_ms() < end) {
            int lead;
            pthread_mutex_lock(&mu);
            lead = holding;
            pthread_mutex_unlock(&mu);
            if (!lead) {
                usleep(2000);
                continue;
            }
            usleep((useconds_t)(1000 + rand() % 8000));
            leave();
            terms++;
            zkr_election_resign(e);
            zkr_election_join(e, 5000);
        }
        zkr_election_free(e);
        zkr_client_free(c);
        printf("%d terms\n", terms);
        return 0;
    }
    if (argc != 6) {
        fprintf(stderr, "usage: zkr-chaos-worker HOSTS LOCKPATH LOGFILE "
                        "DURATION_MS SESSION_MS\n"
                        "       zkr-chaos-worker elect HOSTS PATH LOGFILE "
                        "DURATION_MS SESSION_MS\n"
                        "       zkr-chaos-worker put HOSTS QPATH LOGFILE "
                        "DURATION_MS SESSION_MS MAX\n"
                        "       zkr-chaos-worker take|lease HOSTS QPATH "
                        "LOGFILE DURATION_MS SESSION_MS\n"
                        "       zkr-chaos-worker drain take|lease HOSTS "
                        "QPATH LOGFILE\n"
                        "       zkr-chaos-worker count HOSTS PATH [SKIP]\n");
        return 2;
    }
    logfd = open(argv[3], O_WRONLY | O_APPEND | O_CREAT, 0644);
    zkr_client_opts_init(&co);
    co.hosts = argv[1];
    co.session_timeout_ms = atoi(argv[5]);
    co.connect_timeout_ms = 30000;
    if (logfd < 0 || zkr_client_new(&co, &c) != ZKR_OK)
        return 3;
    zkr_lock_opts_init(&lo);
    lo.state_cb = on_state;
    if (zkr_lock_new(c, argv[2], &lo, &l) != ZKR_OK)
        return 1;
    srand((unsigned)getpid());
    end = now_ms() + atoll(argv[4]);
    while (now_ms() < end) {
        rc = zkr_lock_acquire(l, 1000);
        if (rc != ZKR_OK) {
            usleep(20000);
            continue;
        }
        pthread_mutex_lock(&mu);
        /* a hold that is already uncertain is not entered at all */
        if (zkr_lock_is_held(l)) {
            holding = 1;
            token = zkr_lock_token(l);
            log_line("enter", token);
            holds++;
        }
        pthread_mutex_unlock(&mu);
        usleep((useconds_t)(1000 + rand() % 8000));
        leave();
        zkr_lock_release(l);
    }
    zkr_lock_free(l);
    zkr_client_free(c);
    printf("%d holds\n", holds);
    return 0;
}
