/* SPDX-License-Identifier: Apache-2.0 */
/* Connection loss at chosen moments, through a fault proxy: the create of
 * an acquire is applied by the server but its reply never arrives, then
 * the connection is cut. The lock must find its node by its uuid instead of
 * creating a second one: exactly one node, nothing orphaned. Also a cut
 * while holding (SUSPENDED then RECONNECTED reported to the holder) and a
 * release whose delete reply is lost. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/lock.h>
#include <zkr/semaphore.h>

static atomic_int granted, grant_status, suspended, reconfirmed;

static void grant_cb(zkr_lock_t *l, int status, void *ctx)
{
    (void)l;
    (void)ctx;
    atomic_store(&grant_status, status);
    atomic_store(&granted, 1);
}

static void sem_cb(zkr_semaphore_t *s, int status, void *ctx)
{
    (void)s;
    (void)ctx;
    atomic_store(&grant_status, status);
    atomic_store(&granted, 1);
}

static void state_cb(zkr_lock_t *l, int status, void *ctx)
{
    (void)l;
    (void)ctx;
    if (status == ZKR_ECONNLOSS)
        atomic_fetch_add(&suspended, 1);
    if (status == ZKR_OK)
        atomic_fetch_add(&reconfirmed, 1);
}

static int count(zkr_client_t *c, const char *path)
{
    char **names;
    int n = -1;
    if (zkr_children(c, path, &names, &n) != ZKR_OK)
        return -1;
    zkr_strings_free(names, n);
    return n;
}

static int wait_flag(atomic_int *f, int ms)
{
    for (int i = 0; i < ms / 20 && !atomic_load(f); i++)
        zkt_sleep_ms(20);
    return atomic_load(f);
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkt_proxy_t *px = zkt_proxy_start(zkt_first_port(hosts));
    zkr_client_t *direct = zkt_client(hosts, 8000);
    zkr_client_t *c = zkt_client(px->hosts, 8000);
    zkr_lock_opts_t o;
    zkr_lock_t *l;
    int i;

    zkr_lock_opts_init(&o);
    o.state_cb = state_cb;
    is(zkr_ensure_path(direct, "/cl"), ZKR_OK, "lock directory");
    for (i = 0; i < 3; i++) {
        char path[32];
        snprintf(path, sizeof path, "/cl/l%d", i);
        is(zkr_lock_new(c, path, &o, &l), ZKR_OK, "round %d: lock through the proxy", i);
        zkr_ensure_path(direct, path);
        /* replies stop; the create goes up and is applied */
        is(zkt_proxy(px, "blackhole down"), 0, "round %d: replies dropped", i);
        atomic_store(&granted, 0);
        is(zkr_lock_acquire_async(l, grant_cb, NULL), ZKR_OK, "round %d: acquire sent", i);
        for (int k = 0; k < 100 && count(direct, path) < 1; k++)
            zkt_sleep_ms(20);
        is(count(direct, path), 1, "round %d: the server applied our create", i);
        zkt_proxy(px, "blackhole off");
        is(zkt_proxy(px, "cut"), 0, "round %d: connection cut, reply lost", i);
        ok(wait_flag(&granted, 20000), "round %d: acquire completed", i);
        is(atomic_load(&grant_status), ZKR_OK, "round %d: lock held", i);
        is(count(direct, path), 1, "round %d: still exactly one node (found by uuid)", i);
        is(zkr_lock_release(l), ZKR_OK, "round %d: released", i);
        zkr_client_flush(c, 10000);
        is(count(direct, path), 0, "round %d: no orphan", i);
        zkr_lock_free(l);
    }

    /* holder sees SUSPENDED then RECONNECTED across a cut */
    is(zkr_lock_new(c, "/cl/held", &o, &l), ZKR_OK, "lock for the cut test");
    is(zkr_lock_acquire(l, 10000), ZKR_OK, "held");
    atomic_store(&suspended, 0);
    atomic_store(&reconfirmed, 0);
    zkt_proxy(px, "cut");
    ok(wait_flag(&suspended, 10000), "holder told: hold uncertain (SUSPENDED)");
    ok(wait_flag(&reconfirmed, 10000), "holder told: hold confirmed (RECONNECTED)");
    is(zkr_lock_is_held(l), 1, "still held on the same session");

    /* release whose delete reply is lost: it is sent again, nothing stays */
    zkt_proxy(px, "blackhole down");
    is(zkr_lock_release(l), ZKR_OK, "release while replies are dropped");
    zkt_sleep_ms(200);
    zkt_proxy(px, "blackhole off");
    zkt_proxy(px, "cut");
    is(zkr_client_wait_connected(c, 10000), ZKR_OK, "reconnected");
    zkr_client_flush(c, 10000);
    is(count(direct, "/cl/held"), 0, "released lock left no node");
    zkr_lock_free(l);

    /* semaphore lease create with a lost reply */
    {
        zkr_semaphore_t *s;
        is(zkr_semaphore_new(c, "/cl/sem", 1, NULL, 0, &s), ZKR_OK, "semaphore");
        is(zkr_semaphore_acquire(s, 1, 10000), ZKR_OK, "warm: lease taken");
        is(zkr_semaphore_release(s, 1), ZKR_OK, "and returned");
        zkr_client_flush(c, 10000);
        is(zkr_lock_new(direct, "/cl/sem/locks", NULL, &l), ZKR_OK, "its mutex");
        is(zkr_lock_acquire(l, 10000), ZKR_OK, "mutex held by another client");
        atomic_store(&granted, 0);
        is(zkr_semaphore_acquire_async(s, 1, sem_cb, NULL), ZKR_OK, "lease acquire queued");
        zkt_sleep_ms(200);
        /* Everything through the proxy now takes 400 ms: the wake-up event
         * reaches the semaphore, its create reaches the server, and we cut
         * the connection while the create's reply is still in the proxy. */
        zkt_proxy(px, "delay 400");
        zkr_lock_release(l);
        for (int k = 0; k < 400 && count(direct, "/cl/sem/leases") < 1; k++)
            zkt_sleep_ms(5);
        zkt_proxy(px, "cut");
        zkt_proxy(px, "delay 0");
        is(count(direct, "/cl/sem/leases"), 1, "lease create applied, reply cut off");
        ok(wait_flag(&granted, 20000), "lease acquire completed after the cut");
        is(atomic_load(&grant_status), ZKR_OK, "lease held");
        is(count(direct, "/cl/sem/leases"), 1, "exactly one lease node");
        zkr_lock_free(l);
        zkr_semaphore_free(s);
        zkr_client_flush(c, 10000);
        is(count(direct, "/cl/sem/leases"), 0, "no lease left");
    }
    zkr_client_free(c);
    zkr_client_free(direct);
    return done_testing();
}
