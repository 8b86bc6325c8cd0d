/* SPDX-License-Identifier: Apache-2.0 */
/* zkr lock benchmarks, in the same form as the Curator and kazoo ones:
 *
 *   zkr-bench HOSTS SCENARIO N
 *
 * SCENARIO: uncontended (N acquire+release cycles on one handle),
 * contended:K (K sessions, one handle each, N grants in all), raw (N plain
 * create+delete round trips with libzookeeper_mt's blocking API: the
 * limit). Prints one line: RESULT <impl> <scenario> <value> <unit>. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zookeeper/zookeeper.h>

#include <zkr/lock.h>

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

int main(int argc, char **argv)
{
    char base[128];
    int n;
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: zkr-bench HOSTS SCENARIO N\n"
               "SCENARIO: uncontended | contended:K | raw\n"
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
    else {
        fprintf(stderr, "zkr-bench: unknown scenario '%s'\n", argv[2]);
        return 2;
    }
    return 0;
}
