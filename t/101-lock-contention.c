/* SPDX-License-Identifier: Apache-2.0 */
/* Mutual exclusion under contention (8 holders over 4 sessions), fencing
 * tokens that only grow, and FIFO order of grants. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/lock.h>

#define SESSIONS 4
#define HOLDERS 8
#define ROUNDS 25

static atomic_int inside, overlaps, total, token_regressions;
static pthread_mutex_t tok_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_token;

struct holder {
    zkr_lock_t *lock;
    int errors;
};

static void *holder_main(void *arg)
{
    struct holder *h = arg;
    for (int i = 0; i < ROUNDS; i++) {
        int rc = zkr_lock_acquire(h->lock, 30000);
        if (rc != ZKR_OK) {
            h->errors++;
            continue;
        }
        if (atomic_fetch_add(&inside, 1) != 0)
            atomic_fetch_add(&overlaps, 1);
        pthread_mutex_lock(&tok_mu);
        if (zkr_lock_token(h->lock) <= last_token)
            atomic_fetch_add(&token_regressions, 1);
        last_token = zkr_lock_token(h->lock);
        pthread_mutex_unlock(&tok_mu);
        zkt_sleep_ms(1);
        atomic_fetch_sub(&inside, 1);
        atomic_fetch_add(&total, 1);
        if (zkr_lock_release(h->lock) != ZKR_OK)
            h->errors++;
    }
    return NULL;
}

/* FIFO: waiters granted in the order they queued. */
static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
static int order[16], norder;

static void fifo_cb(zkr_lock_t *l, int status, void *ctx)
{
    if (status != ZKR_OK)
        return;
    pthread_mutex_lock(&order_mu);
    order[norder++] = (int)(intptr_t)ctx;
    pthread_mutex_unlock(&order_mu);
    zkr_lock_release(l); /* non-blocking: fine in a callback */
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *cs[SESSIONS];
    struct holder hs[HOLDERS];
    pthread_t th[HOLDERS];
    zkr_lock_t *gate, *w[6];
    int errors = 0, i;

    for (i = 0; i < SESSIONS; i++)
        cs[i] = zkt_client(hosts, 6000);
    for (i = 0; i < HOLDERS; i++) {
        hs[i].errors = 0;
        if (zkr_lock_new(cs[i % SESSIONS], "/contended", NULL, &hs[i].lock) != ZKR_OK)
            bail_out("zkr_lock_new");
    }
    for (i = 0; i < HOLDERS; i++)
        pthread_create(&th[i], NULL, holder_main, &hs[i]);
    for (i = 0; i < HOLDERS; i++) {
        pthread_join(th[i], NULL);
        errors += hs[i].errors;
    }
    is(errors, 0, "every acquire and release succeeded");
    is(atomic_load(&total), HOLDERS * ROUNDS, "%d critical sections", HOLDERS * ROUNDS);
    is(atomic_load(&overlaps), 0, "no two holders overlapped");
    is(atomic_load(&token_regressions), 0, "fencing tokens only grew");
    for (i = 0; i < HOLDERS; i++)
        zkr_lock_free(hs[i].lock);

    /* FIFO: queue six waiters one after another behind a held gate */
    zkr_lock_new(cs[0], "/fifo", NULL, &gate);
    is(zkr_lock_acquire(gate, -1), ZKR_OK, "gate held");
    for (i = 0; i < 6; i++) {
        char node[200];
        int tries = 0;
        zkr_lock_new(cs[(i + 1) % SESSIONS], "/fifo", NULL, &w[i]);
        zkr_lock_acquire_async(w[i], fifo_cb, (void *)(intptr_t)i);
        /* wait until its node exists, so the queue order is known */
        while (zkr_lock_node(w[i], node, sizeof node) != ZKR_OK && tries++ < 400)
            zkt_sleep_ms(5);
    }
    zkr_lock_release(gate);
    for (i = 0; i < 400 && norder < 6; i++)
        zkt_sleep_ms(10);
    is(norder, 6, "all six waiters granted");
    {
        int in_order = 1;
        for (i = 0; i < norder; i++)
            if (order[i] != i)
                in_order = 0;
        ok(in_order, "granted in queue order (%d %d %d %d %d %d)", order[0],
           order[1], order[2], order[3], order[4], order[5]);
    }
    for (i = 0; i < 6; i++)
        zkr_lock_free(w[i]);
    zkr_lock_free(gate);
    for (i = 0; i < SESSIONS; i++)
        zkr_client_free(cs[i]);
    return done_testing();
}
