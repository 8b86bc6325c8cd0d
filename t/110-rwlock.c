/* SPDX-License-Identifier: Apache-2.0 */
/* Read/write lock: readers share, writers exclude everybody, a queued
 * writer blocks later readers, Curator's node names. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/rwlock.h>

static atomic_int readers_in, writers_in, violations, max_readers, total;

static atomic_int granted;

static void granted_cb(zkr_lock_t *l, int status, void *ctx)
{
    (void)l;
    (void)ctx;
    if (status == ZKR_OK)
        atomic_store(&granted, 1);
}

struct worker {
    zkr_rwlock_t *rw;
    int writer;
    int errors;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    zkr_lock_t *l = w->writer ? zkr_rwlock_write(w->rw) : zkr_rwlock_read(w->rw);
    for (int i = 0; i < 15; i++) {
        if (zkr_lock_acquire(l, 30000) != ZKR_OK) {
            w->errors++;
            continue;
        }
        if (w->writer) {
            if (atomic_fetch_add(&writers_in, 1) != 0 || atomic_load(&readers_in) != 0)
                atomic_fetch_add(&violations, 1);
            zkt_sleep_ms(2);
            atomic_fetch_sub(&writers_in, 1);
        } else {
            int r = atomic_fetch_add(&readers_in, 1) + 1;
            if (atomic_load(&writers_in) != 0)
                atomic_fetch_add(&violations, 1);
            if (r > atomic_load(&max_readers))
                atomic_store(&max_readers, r);
            zkt_sleep_ms(5);
            atomic_fetch_sub(&readers_in, 1);
        }
        atomic_fetch_add(&total, 1);
        zkr_lock_release(l);
    }
    return NULL;
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *cs[4];
    zkr_rwlock_t *a, *b, *c;
    struct worker ws[8];
    pthread_t th[8];
    char node[200];
    int i, errors = 0;

    for (i = 0; i < 4; i++)
        cs[i] = zkt_client(hosts, 6000);

    is(zkr_rwlock_new(cs[0], "/rw", NULL, &a), ZKR_OK, "rwlock a");
    is(zkr_rwlock_new(cs[1], "/rw", NULL, &b), ZKR_OK, "rwlock b");
    is(zkr_rwlock_new(cs[2], "/rw", NULL, &c), ZKR_OK, "rwlock c");

    is(zkr_lock_acquire(zkr_rwlock_read(a), -1), ZKR_OK, "a reads");
    is(zkr_lock_node(zkr_rwlock_read(a), node, sizeof node), ZKR_OK, "read node");
    ok(strncmp(node, "_c_", 3) == 0 && strstr(node, "-__READ__") != NULL,
       "Curator read node name: %s", node);
    is(zkr_lock_acquire(zkr_rwlock_read(b), 0), ZKR_OK, "b reads too (shared)");
    is(zkr_lock_acquire(zkr_rwlock_write(c), 0), ZKR_EWOULDBLOCK, "c cannot write while read");
    is(zkr_lock_release(zkr_rwlock_read(a)), ZKR_OK, "a stops reading");
    is(zkr_lock_release(zkr_rwlock_read(b)), ZKR_OK, "b stops reading");
    is(zkr_lock_acquire(zkr_rwlock_write(c), 5000), ZKR_OK, "c writes");
    is(zkr_lock_node(zkr_rwlock_write(c), node, sizeof node), ZKR_OK, "write node");
    ok(strstr(node, "-__WRIT__") != NULL, "Curator write node name: %s", node);
    is(zkr_lock_acquire(zkr_rwlock_read(a), 0), ZKR_EWOULDBLOCK, "no reading while written");
    is(zkr_lock_acquire(zkr_rwlock_write(b), 0), ZKR_EWOULDBLOCK, "no second writer");
    is(zkr_lock_release(zkr_rwlock_write(c)), ZKR_OK, "c done writing");

    /* a queued writer blocks readers that come after it */
    is(zkr_lock_acquire(zkr_rwlock_read(a), -1), ZKR_OK, "a reads");
    is(zkr_lock_acquire_async(zkr_rwlock_write(c), granted_cb, NULL), ZKR_OK,
       "c queues to write");
    for (i = 0; i < 200 && zkr_lock_node(zkr_rwlock_write(c), node, sizeof node) != ZKR_OK; i++)
        zkt_sleep_ms(10);
    is(zkr_lock_acquire(zkr_rwlock_read(b), 0), ZKR_EWOULDBLOCK,
       "a later reader waits for the queued writer");
    is(zkr_lock_release(zkr_rwlock_read(a)), ZKR_OK, "a done");
    for (i = 0; i < 200 && !atomic_load(&granted); i++)
        zkt_sleep_ms(10);
    is(atomic_load(&granted), 1, "writer granted after the reader left");
    is(zkr_lock_release(zkr_rwlock_write(c)), ZKR_OK, "writer done");
    is(zkr_lock_acquire(zkr_rwlock_read(b), 5000), ZKR_OK, "reader gets in");
    is(zkr_lock_release(zkr_rwlock_read(b)), ZKR_OK, "reader done");

    /* mixed load: 6 readers and 2 writers over 4 sessions */
    for (i = 0; i < 8; i++) {
        ws[i].writer = i < 2;
        ws[i].errors = 0;
        zkr_rwlock_new(cs[i % 4], "/rw-load", NULL, &ws[i].rw);
        pthread_create(&th[i], NULL, work, &ws[i]);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        errors += ws[i].errors;
        zkr_rwlock_free(ws[i].rw);
    }
    is(errors, 0, "all acquires succeeded");
    is(atomic_load(&total), 8 * 15, "all critical sections ran");
    is(atomic_load(&violations), 0, "no writer overlapped anybody");
    diag("at most %d readers at once", atomic_load(&max_readers));

    zkr_rwlock_free(a);
    is(zkr_rwlock_new(NULL, "/x", NULL, &a), ZKR_EINVAL, "NULL client");
    is(zkr_rwlock_new(cs[0], "bad", NULL, &a), ZKR_EBADPATH, "bad path");
    ok(zkr_rwlock_read(NULL) == NULL && zkr_rwlock_write(NULL) == NULL, "NULL handle sides");
    zkr_rwlock_free(NULL);
    zkr_rwlock_free(b);
    zkr_rwlock_free(c);
    for (i = 0; i < 4; i++)
        zkr_client_free(cs[i]);
    return done_testing();
}
