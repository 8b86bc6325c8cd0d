/* SPDX-License-Identifier: Apache-2.0 */
/* zkr lock and queue benchmarks, in the same form as the Curator and kazoo
 * ones:
 *
 *   zkr-bench HOSTS SCENARIO N
 *
 * SCENARIO: uncontended (N acquire+release cycles on one handle),
 * contended:K (K sessions, one handle each, N grants in all), raw (N plain
 * create+delete round trips with libzookeeper_mt's blocking API: the
 * limit), and the queue scenarios listed further down. Prints one line,
 * RESULT <impl> <scenario> <value> <unit> (queue-shard-1m: three). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zookeeper/zookeeper.h>

#include <zkr/lock.h>
#include <zkr/queue.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static zkr_client_t *connect_or_die(const char *hosts)
{
    zkr_client_opts_t o;
    zkr_client_t *c;
    int rc;
    zkr_client_opts_init(&o);
    o.hosts = hosts;
    o.session_timeout_ms = 20000;
    rc = zkr_client_new(&o, &c);
    if (rc != ZKR_OK) {
        fprintf(stderr, "zkr-bench: connect: %s\n", zkr_strerror(rc));
        exit(3);
    }
    return c;
}

static void die_rc(const char *what, int rc)
{
    fprintf(stderr, "zkr-bench: %s: %s\n", what, zkr_strerror(rc));
    exit(1);
}

static void uncontended(const char *hosts, const char *base, int n)
{
    zkr_client_t *c = connect_or_die(hosts);
    zkr_lock_t *l;
    char path[256];
    double t0 = 0;
    int rc;
    snprintf(path, sizeof path, "%s/u", base);
    if ((rc = zkr_lock_new(c, path, NULL, &l)) != ZKR_OK)
        die_rc("lock", rc);
    for (int i = 0; i < 200 + n; i++) {
        if (i == 200)
            t0 = now_s();
        if ((rc = zkr_lock_acquire(l, -1)) != ZKR_OK)
            die_rc("acquire", rc);
        zkr_lock_release(l);
    }
    printf("RESULT zkr uncontended %.1f cycles/s\n", n / (now_s() - t0));
    zkr_lock_free(l);
    zkr_client_free(c);
}

struct contender {
    zkr_client_t *c;
    zkr_lock_t *l;
    pthread_t th;
};
static atomic_int grants, target;

static void *contend(void *arg)
{
    struct contender *k = arg;
    while (atomic_load(&grants) < atomic_load(&target)) {
        int rc = zkr_lock_acquire(k->l, -1);
        if (rc != ZKR_OK)
            die_rc("acquire", rc);
        atomic_fetch_add(&grants, 1);
        zkr_lock_release(k->l);
    }
    return NULL;
}

static void contended(const char *hosts, const char *base, int k, int n)
{
    struct contender *ks = calloc((size_t)k, sizeof *ks);
    char path[256];
    double t0, dt;
    snprintf(path, sizeof path, "%s/c%d", base, k);
    for (int i = 0; i < k; i++) {
        int rc;
        ks[i].c = connect_or_die(hosts);
        if ((rc = zkr_lock_new(ks[i].c, path, NULL, &ks[i].l)) != ZKR_OK)
            die_rc("lock", rc);
    }
    /* warm-up, not counted */
    atomic_store(&target, 100);
    for (int i = 0; i < k; i++)
        pthread_create(&ks[i].th, NULL, contend, &ks[i]);
    for (int i = 0; i < k; i++)
        pthread_join(ks[i].th, NULL);
    atomic_store(&grants, 0);
    atomic_store(&target, n);
    t0 = now_s();
    for (int i = 0; i < k; i++)
        pthread_create(&ks[i].th, NULL, contend, &ks[i]);
    for (int i = 0; i < k; i++)
        pthread_join(ks[i].th, NULL);
    dt = now_s() - t0;
    printf("RESULT zkr contended:%d %.1f handoffs/s\n", k,
           atomic_load(&grants) / dt);
    for (int i = 0; i < k; i++) {
        zkr_lock_free(ks[i].l);
        zkr_client_free(ks[i].c);
    }
    free(ks);
}

static void raw_watcher(zhandle_t *zh, int type, int state, const char *path,
                        void *ctx)
{
    (void)zh;
    (void)path;
    if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE)
        atomic_store((atomic_int *)ctx, 1);
}

static void raw(const char *hosts, const char *base, int n)
{
    static atomic_int connected;
    zhandle_t *zh;
    char path[256], made[300];
    double t0 = 0;
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zh = zookeeper_init(hosts, raw_watcher, 20000, NULL, &connected, 0);
    for (int i = 0; zh && i < 1000 && !atomic_load(&connected); i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    if (!zh || !atomic_load(&connected)) {
        fprintf(stderr, "zkr-bench: raw connect failed\n");
        exit(3);
    }
    /* the same name-resolution window zkr clients use by default, so the
     * limit is not slowed by a lookup per network event */
    zoo_set_servers_resolution_delay(zh, 60000);
    snprintf(path, sizeof path, "%s", base);
    zoo_create(zh, "/bench", NULL, 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    zoo_create(zh, path, NULL, 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    snprintf(path, sizeof path, "%s/raw", base);
    for (int i = 0; i < 200 + n; i++) {
        if (i == 200)
            t0 = now_s();
        if (zoo_create(zh, path, NULL, 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL,
                       made, sizeof made) != ZOK ||
            zoo_delete(zh, path, -1) != ZOK) {
            fprintf(stderr, "zkr-bench: raw create/delete failed\n");
            exit(1);
        }
    }
    printf("RESULT raw raw %.1f cycles/s\n", n / (now_s() - t0));
    zookeeper_close(zh);
}

/* ---- queues ---------------------------------------------------------------
 * queue-put        N blocking puts of 16 bytes (as Curator's and kazoo's)
 * queue-put-async  N puts of 16 bytes pipelined from one handle
 * queue-put-batch  N items through put_batch, 100 per multi
 * queue-take[:K]   fill N untimed, then K consumers (own sessions, default
 *                  1) take N with blocking takes, claiming 64 ahead
 * queue-take-noprefetch  the same, one consumer claiming nothing ahead
 * queue-shard-1m[:K]  sharded queue (64 shards): fill N (batches of 100,
 *                  16 in flight), then K consumers (default 1) drain it;
 *                  prints three lines, scenario names suffixed -fill and
 *                  -drain (items/s) and -total (fill + drain, in s)
 * Queue scenarios run 200 untimed warm-up items on a separate path. */

#define Q_ITEM 16
#define Q_PREFETCH 64

static void q_item(char buf[Q_ITEM + 1], int i)
{
    snprintf(buf, Q_ITEM + 1, "item-%011d", i);
}

static zkr_queue_t *q_open(zkr_client_t *c, const char *base,
                           const char *name, int shards, int prefetch)
{
    zkr_queue_opts_t o;
    zkr_queue_t *q;
    char path[256];
    int rc;
    zkr_queue_opts_init(&o);
    o.shards = shards;
    o.prefetch = prefetch;
    snprintf(path, sizeof path, "%s/%s", base, name);
    if ((rc = zkr_queue_new(c, path, &o, &q)) != ZKR_OK)
        die_rc("queue", rc);
    return q;
}

static void q_warmup(zkr_client_t *c, const char *base)
{
    zkr_queue_t *q = q_open(c, base, "warmup", 0, 0);
    char item[Q_ITEM + 1];
    for (int i = 0; i < 200; i++) {
        int rc;
        q_item(item, i);
        if ((rc = zkr_queue_put(q, item, Q_ITEM)) != ZKR_OK)
            die_rc("put", rc);
    }
    for (int i = 0; i < 200; i++) {
        char *d;
        size_t l;
        int rc = zkr_queue_take(q, 10000, &d, &l);
        if (rc != ZKR_OK)
            die_rc("take", rc);
        zkr_free(d);
    }
    zkr_queue_free(q);
}

struct q_window {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight, failed;
};

static void q_window_cb(zkr_queue_t *q, int status, void *ctx)
{
    struct q_window *w = ctx;
    (void)q;
    pthread_mutex_lock(&w->mu);
    w->inflight--;
    if (status != ZKR_OK)
        w->failed = status;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Put n items, batch per multi (1: single puts), up to window requests in
 * flight. */
static void q_fill(zkr_queue_t *q, int n, int batch, int window)
{
    struct q_window w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                         0, 0};
    char(*items)[Q_ITEM + 1] = malloc((size_t)batch * sizeof *items);
    const void **ptrs = malloc((size_t)batch * sizeof *ptrs);
    size_t *lens = malloc((size_t)batch * sizeof *lens);
    for (int i = 0; i < n; i += batch) {
        int k = n - i < batch ? n - i : batch, rc;
        for (int j = 0; j < k; j++) {
            q_item(items[j], i + j);
            ptrs[j] = items[j];
            lens[j] = Q_ITEM;
        }
        pthread_mutex_lock(&w.mu);
        while (w.inflight >= window)
            pthread_cond_wait(&w.cv, &w.mu);
        w.inflight++;
        pthread_mutex_unlock(&w.mu);
        rc = batch == 1 ? zkr_queue_put_async(q, ptrs[0], Q_ITEM, q_window_cb,
                                              &w)
                        : zkr_queue_put_batch_async(q, ptrs, lens, k,
                                                    q_window_cb, &w);
        if (rc != ZKR_OK)
            die_rc("put", rc);
    }
    pthread_mutex_lock(&w.mu);
    while (w.inflight > 0)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    if (w.failed)
        die_rc("put", w.failed);
    free(items);
    free(ptrs);
    free(lens);
}

static void queue_put(const char *hosts, const char *base, int n, int mode)
{
    zkr_client_t *c = connect_or_die(hosts);
    zkr_queue_t *q = q_open(c, base, "queue", 0, 0);
    char item[Q_ITEM + 1];
    double t0, dt;
    q_warmup(c, base);
    t0 = now_s();
    if (mode == 0) {
        for (int i = 0; i < n; i++) {
            int rc;
            q_item(item, i);
            if ((rc = zkr_queue_put(q, item, Q_ITEM)) != ZKR_OK)
                die_rc("put", rc);
        }
    } else {
        q_fill(q, n, mode == 1 ? 1 : 100, mode == 1 ? 256 : 1);
    }
    dt = now_s() - t0;
    printf("RESULT zkr %s %.1f items/s\n",
           mode == 0   ? "queue-put"
           : mode == 1 ? "queue-put-async"
                       : "queue-put-batch",
           n / dt);
    zkr_queue_free(q);
    zkr_client_free(c);
}

struct q_consumer {
    zkr_client_t *c;
    zkr_queue_t *q;
    pthread_t th;
    int n;
};
static atomic_int q_taken, q_target;
static struct q_consumer *q_all;
static int q_nall;

static void *q_consume(void *arg)
{
    struct q_consumer *k = arg;
    while (atomic_load(&q_taken) < atomic_load(&q_target)) {
        char *d;
        size_t l;
        int rc = zkr_queue_take(k->q, 100, &d, &l);
        if (rc == ZKR_ETIMEDOUT || rc == ZKR_ECANCELED)
            continue;
        if (rc != ZKR_OK)
            die_rc("take", rc);
        if (l != Q_ITEM) {
            fprintf(stderr, "zkr-bench: bad item\n");
            exit(1);
        }
        zkr_free(d);
        k->n++;
        if (atomic_fetch_add(&q_taken, 1) + 1 == atomic_load(&q_target))
            for (int i = 0; i < q_nall; i++) /* wake the others: done */
                zkr_queue_cancel(q_all[i].q);
    }
    return NULL;
}

/* Fill n items into <base>/name, then time k consumers taking them all.
 * Returns the drain's items/s; *fill_s (if not NULL) gets the fill's
 * seconds and *drain_s the drain's. */
static double q_drain(const char *hosts, const char *base, const char *name,
                      int n, int k, int shards, int prefetch, double *fill_s,
                      double *drain_s)
{
    zkr_client_t *c = connect_or_die(hosts);
    zkr_queue_t *q = q_open(c, base, name, shards, 0);
    struct q_consumer *ks = calloc((size_t)k, sizeof *ks);
    double t0, dt;
    q_warmup(c, base);
    t0 = now_s();
    q_fill(q, n, 100, 16);
    dt = now_s() - t0;
    if (fill_s)
        *fill_s = dt;
    fprintf(stderr, "zkr-bench: filled %d items in %.1f s\n", n, dt);
    for (int i = 0; i < k; i++) {
        ks[i].c = connect_or_die(hosts);
        ks[i].q = q_open(ks[i].c, base, name, shards, prefetch);
    }
    atomic_store(&q_taken, 0);
    atomic_store(&q_target, n);
    q_all = ks;
    q_nall = k;
    t0 = now_s();
    for (int i = 0; i < k; i++)
        pthread_create(&ks[i].th, NULL, q_consume, &ks[i]);
    for (int i = 0; i < k; i++)
        pthread_join(ks[i].th, NULL);
    dt = now_s() - t0;
    if (drain_s)
        *drain_s = dt;
    for (int i = 0; i < k; i++) {
        fprintf(stderr, "zkr-bench: consumer %d took %d\n", i, ks[i].n);
        zkr_queue_free(ks[i].q);
        zkr_client_free(ks[i].c);
    }
    free(ks);
    zkr_queue_free(q);
    zkr_client_free(c);
    return n / dt;
}

int main(int argc, char **argv)
{
    char base[128];
    int n;
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: zkr-bench HOSTS SCENARIO N\n"
               "SCENARIO: uncontended | contended:K | raw | queue-put |\n"
               "  queue-put-async | queue-put-batch | queue-take[:K] |\n"
               "  queue-take-noprefetch | queue-shard-1m[:K]\n"
               "Prints: RESULT <impl> <scenario> <value> <unit>\n");
        return 0;
    }
    if (argc != 4 || (n = atoi(argv[3])) <= 0) {
        fprintf(stderr, "usage: zkr-bench HOSTS SCENARIO N\n");
        return 2;
    }
    snprintf(base, sizeof base, "/bench/zkr-%ld-%ld", (long)time(NULL),
             (long)getpid());
    if (!strcmp(argv[2], "uncontended"))
        uncontended(argv[1], base, n);
    else if (!strncmp(argv[2], "contended:", 10) && atoi(argv[2] + 10) > 0)
        contended(argv[1], base, atoi(argv[2] + 10), n);
    else if (!strcmp(argv[2], "raw"))
        raw(argv[1], base, n);
    else if (!strcmp(argv[2], "queue-put"))
        queue_put(argv[1], base, n, 0);
    else if (!strcmp(argv[2], "queue-put-async"))
        queue_put(argv[1], base, n, 1);
    else if (!strcmp(argv[2], "queue-put-batch"))
        queue_put(argv[1], base, n, 2);
    else if (!strcmp(argv[2], "queue-take") ||
             (!strncmp(argv[2], "queue-take:", 11) && atoi(argv[2] + 11) > 0))
        printf("RESULT zkr %s %.1f items/s\n", argv[2],
               q_drain(argv[1], base, "queue", n,
                       argv[2][10] ? atoi(argv[2] + 11) : 1, 0, Q_PREFETCH,
                       NULL, NULL));
    else if (!strcmp(argv[2], "queue-take-noprefetch"))
        printf("RESULT zkr %s %.1f items/s\n", argv[2],
               q_drain(argv[1], base, "queue", n, 1, 0, 0, NULL, NULL));
    else if (!strcmp(argv[2], "queue-shard-1m") ||
             (!strncmp(argv[2], "queue-shard-1m:", 15) &&
              atoi(argv[2] + 15) > 0)) {
        double fill_s = 0, drain_s = 0,
               rate = q_drain(argv[1], base, "sharded", n,
                              argv[2][14] ? atoi(argv[2] + 15) : 1, 64,
                              4 * Q_PREFETCH, &fill_s, &drain_s);
        printf("RESULT zkr %s-fill %.1f items/s\n", argv[2], n / fill_s);
        printf("RESULT zkr %s-drain %.1f items/s\n", argv[2], rate);
        printf("RESULT zkr %s-total %.1f s\n", argv[2], fill_s + drain_s);
    } else {
        fprintf(stderr, "zkr-bench: unknown scenario '%s'\n", argv[2]);
        return 2;
    }
    return 0;
}
