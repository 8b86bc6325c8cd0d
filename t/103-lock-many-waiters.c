/* SPDX-License-Identifier: Apache-2.0 */
/* 10,000 waiters on one lock over four sessions: every one is granted,
 * in sequence order, with no thread per waiter. ZKR_TEST_QUICK=1 (used
 * under valgrind) makes it 1,000. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/lock.h>

#define SESSIONS 4

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int granted, out_of_order, failures;
static int32_t last_seq;
static int have_last;

static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

static void grant_cb(zkr_lock_t *l, int status, void *ctx)
{
    char node[200];
    int32_t seq = 0;
    (void)ctx;
    pthread_mutex_lock(&mu);
    if (status != ZKR_OK) {
        failures++;
    } else {
        if (zkr_lock_node(l, node, sizeof node) != ZKR_OK ||
            zkr_seq_parse(node, &seq) != ZKR_OK)
            failures++;
        if (have_last && seq <= last_seq)
            out_of_order++;
        last_seq = seq;
        have_last = 1;
        granted++;
    }
    pthread_mutex_unlock(&mu);
    if (status == ZKR_OK)
        zkr_lock_release(l);
}

int main(void)
{
    const char *hosts = zkt_hosts();
    const char *quick = getenv("ZKR_TEST_QUICK");
    int n = quick && *quick == '1' ? 1000 : 10000;
    zkr_client_t *cs[SESSIONS];
    zkr_lock_t **locks = calloc((size_t)n, sizeof *locks);
    int threads_before, threads_during, i, rc = ZKR_OK, done;
    long long t0;

    for (i = 0; i < SESSIONS; i++)
        cs[i] = zkt_client(hosts, 20000);
    threads_before = thread_count();
    for (i = 0; i < n && rc == ZKR_OK; i++) {
        rc = zkr_lock_new(cs[i % SESSIONS], "/many", NULL, &locks[i]);
        if (rc == ZKR_OK)
            rc = zkr_lock_acquire_async(locks[i], grant_cb, NULL);
    }
    is(rc, ZKR_OK, "%d waiters queued", n);
    threads_during = thread_count();
    is(threads_during, threads_before, "no thread per waiter (%d threads)",
       threads_during);
    t0 = zkt_now_ms();
    for (;;) {
        pthread_mutex_lock(&mu);
        done = granted + failures;
        pthread_mutex_unlock(&mu);
        if (done >= n || zkt_now_ms() - t0 > 240000)
            break;
        zkt_sleep_ms(50);
    }
    diag("%d grants in %lld ms", granted, zkt_now_ms() - t0);
    is(granted, n, "every waiter was granted");
    is(failures, 0, "no failures");
    is(out_of_order, 0, "grants followed sequence order");
    for (i = 0; i < n; i++)
        zkr_lock_free(locks[i]);
    free(locks);
    {
        char **names;
        int cnt = -1;
        for (i = 0; i < SESSIONS; i++)
            zkr_client_flush(cs[i], 10000); /* releases do not wait */
        zkr_children(cs[0], "/many", &names, &cnt);
        zkr_strings_free(names, cnt);
        is(cnt, 0, "no lock node left behind");
    }
    for (i = 0; i < SESSIONS; i++)
        zkr_client_free(cs[i]);
    return done_testing();
}
