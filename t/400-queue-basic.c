/* SPDX-License-Identifier: Apache-2.0 */
/* zkr_queue_t on one server: put/take order, the Curator layout, timeouts,
 * a blocking take woken by a put, async takes and puts (exactly once),
 * cancel and free, put_batch, peek, size, prefetch put-back, EDEADLK, bad
 * input. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/queue.h>

struct rec {
    pthread_mutex_t mu;
    int calls;
    int status[64];
    char data[64][32];
    char name[64][48];
    /* EDEADLK probes run inside the callback */
    zkr_queue_t *probe;
    int probe_take, probe_put, probe_peek, probe_size, probe_batch;
};

static void rec_init(struct rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
}

static void take_cb(zkr_queue_t *q, int status, const void *data, size_t len,
                    const char *name, void *ctx)
{
    struct rec *r = ctx;
    (void)q;
    if (r->probe) {
        char *d;
        size_t l, n;
        const void *it = "x";
        size_t il = 1;
        r->probe_take = zkr_queue_take(r->probe, 0, &d, &l);
        r->probe_put = zkr_queue_put(r->probe, "x", 1);
        r->probe_peek = zkr_queue_peek(r->probe, &d, &l);
        r->probe_size = zkr_queue_size(r->probe, &n);
        r->probe_batch = zkr_queue_put_batch(r->probe, &it, &il, 1);
    }
    pthread_mutex_lock(&r->mu);
    if (r->calls < 64) {
        r->status[r->calls] = status;
        if (data)
            snprintf(r->data[r->calls], sizeof r->data[0], "%.*s", (int)len,
                     (const char *)data);
        if (name)
            snprintf(r->name[r->calls], sizeof r->name[0], "%s", name);
    }
    r->calls++;
    pthread_mutex_unlock(&r->mu);
}

static int calls(struct rec *r)
{
    int n;
    pthread_mutex_lock(&r->mu);
    n = r->calls;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int wait_calls(struct rec *r, int n)
{
    for (int i = 0; i < 400 && calls(r) < n; i++)
        zkt_sleep_ms(25);
    return calls(r);
}

static atomic_int put_calls, put_status;
static void put_cb(zkr_queue_t *q, int status, void *ctx)
{
    (void)q;
    (void)ctx;
    atomic_store(&put_status, status);
    atomic_fetch_add(&put_calls, 1);
}

struct later {
    zkr_queue_t *q;
    int delay_ms;
};

static void *put_later(void *arg)
{
    struct later *l = arg;
    zkt_sleep_ms(l->delay_ms);
    zkr_queue_put(l->q, "late", 4);
    return NULL;
}

static size_t qsize(zkr_queue_t *q)
{
    size_t n = 0;
    if (zkr_queue_size(q, &n) != ZKR_OK)
        return (size_t)-1;
    return n;
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *c1 = zkt_client(hosts, 4000), *c2 = zkt_client(hosts, 4000);
    zkr_queue_t *q, *q2, *bad;
    zkr_queue_opts_t o;
    struct rec r;
    char *data;
    size_t len, n;
    char buf[32];
    int ok_all;

    is(zkr_queue_new(c1, "/q/basic", NULL, &q), ZKR_OK, "new queue");
    is(zkr_queue_new(c2, "/q/basic", NULL, &q2), ZKR_OK, "second handle");
    is(zkr_queue_size(q, &n), ZKR_OK, "size of a queue not yet created");
    is(n, 0, "is 0");
    is(zkr_queue_peek(q, &data, &len), ZKR_ENONODE, "peek on empty: ENONODE");
    is(zkr_queue_take(q, 0, &data, &len), ZKR_ETIMEDOUT,
       "poll on a missing queue: ETIMEDOUT");
    is(zkr_queue_take(q, 200, &data, &len), ZKR_ETIMEDOUT,
       "timed take on a missing queue: ETIMEDOUT");

    /* FIFO for one producer, one consumer */
    ok_all = 1;
    for (int i = 0; i < 20; i++) {
        snprintf(buf, sizeof buf, "item-%02d", i);
        ok_all &= zkr_queue_put(q, buf, strlen(buf)) == ZKR_OK;
    }
    ok(ok_all, "20 puts");
    is(qsize(q2), 20, "size 20");
    is(zkr_queue_peek(q2, &data, &len), ZKR_OK, "peek");
    is_str(data, "item-00", "peek sees the oldest");
    zkr_free(data);
    {
        char **names;
        int cnt, layout = 1;
        is(zkr_children(c1, "/q/basic", &names, &cnt), ZKR_OK, "list queue");
        for (int i = 0; i < cnt; i++) {
            int32_t seq;
            layout &= strncmp(names[i], "qn-", 3) == 0 &&
                      strlen(names[i]) == 13 &&
                      zkr_seq_parse(names[i], &seq) == ZKR_OK;
        }
        ok(cnt == 20 && layout, "items are qn-<10 digits> (Curator layout)");
        if (cnt > 0) {
            char path[64], *d = NULL;
            size_t dl;
            snprintf(path, sizeof path, "/q/basic/%s", names[0]);
            zkr_get(c1, path, &d, &dl, NULL);
            ok(d && dl == 7 && strncmp(d, "item-", 5) == 0,
               "node data are the item's bytes");
            zkr_free(d);
        }
        zkr_strings_free(names, cnt);
    }
    /* a foreign child is ignored */
    is(zkr_create(c1, "/q/basic/foreign", "z", 1, 0, NULL), ZKR_OK,
       "foreign child");
    ok_all = 1;
    for (int i = 0; i < 20; i++) {
        char want[32];
        data = NULL;
        snprintf(want, sizeof want, "item-%02d", i);
        if (zkr_queue_take(q2, 2000, &data, &len) != ZKR_OK || !data ||
            strcmp(data, want) != 0 || len != strlen(want)) {
            diag("take %d got %s", i, data ? data : "(none)");
            ok_all = 0;
        }
        zkr_free(data);
    }
    ok(ok_all, "20 takes in put order");
    is(zkr_queue_take(q2, 0, &data, &len), ZKR_ETIMEDOUT,
       "poll on an empty queue: ETIMEDOUT");
    is(qsize(q), 0, "size 0 (foreign child not counted)");
    is(zkr_exists(c1, "/q/basic/foreign", NULL), ZKR_OK,
       "foreign child untouched");

    /* blocking take woken by a put from another session */
    {
        struct later l = {q, 300};
        pthread_t th;
        long long t0 = zkt_now_ms();
        pthread_create(&th, NULL, put_later, &l);
        is(zkr_queue_take(q2, -1, &data, &len), ZKR_OK,
           "blocking take returns once a put arrives");
        is_str(data, "late", "with that item");
        ok(zkt_now_ms() - t0 >= 250, "it did wait for the put");
        zkr_free(data);
        pthread_join(th, NULL);
    }
    is(zkr_queue_take(q2, 300, &data, &len), ZKR_ETIMEDOUT,
       "timed take on an empty queue: ETIMEDOUT");

    /* async takes: served in call order, each callback once */
    rec_init(&r);
    for (int i = 0; i < 3; i++)
        is(zkr_queue_take_async(q2, take_cb, &r), ZKR_OK, "async take %d", i);
    zkt_sleep_ms(150);
    is(calls(&r), 0, "nothing yet");
    for (int i = 0; i < 3; i++) {
        snprintf(buf, sizeof buf, "a%d", i);
        zkr_queue_put(q, buf, 2);
    }
    is(wait_calls(&r, 3), 3, "three callbacks");
    ok(r.status[0] == ZKR_OK && r.status[1] == ZKR_OK && r.status[2] == ZKR_OK,
       "all ZKR_OK");
    ok(!strcmp(r.data[0], "a0") && !strcmp(r.data[1], "a1") &&
           !strcmp(r.data[2], "a2"),
       "in order: %s %s %s", r.data[0], r.data[1], r.data[2]);
    ok(strncmp(r.name[0], "qn-", 3) == 0, "callback gets the node name (%s)",
       r.name[0]);
    zkt_sleep_ms(100);
    is(calls(&r), 3, "still exactly three");

    /* cancel and free complete pending takes once */
    rec_init(&r);
    is(zkr_queue_cancel(q2), ZKR_ENOTHELD, "cancel with nothing pending");
    is(zkr_queue_take_async(q2, take_cb, &r), ZKR_OK, "pending take");
    is(zkr_queue_take_async(q2, take_cb, &r), ZKR_OK, "second pending take");
    is(zkr_queue_cancel(q2), ZKR_OK, "cancel");
    is(wait_calls(&r, 2), 2, "both callbacks ran");
    ok(r.status[0] == ZKR_ECANCELED && r.status[1] == ZKR_ECANCELED,
       "with ZKR_ECANCELED");
    zkr_queue_put(q, "kept", 4);
    zkt_sleep_ms(100);
    is(calls(&r), 2, "a canceled take takes nothing");
    is(qsize(q), 1, "the item stayed in the queue");
    is(zkr_queue_take(q2, 1000, &data, &len), ZKR_OK, "next take gets it");
    zkr_free(data);

    /* EDEADLK from a callback */
    rec_init(&r);
    r.probe = q;
    zkr_queue_put(q, "p", 1);
    is(zkr_queue_take_async(q2, take_cb, &r), ZKR_OK, "take with probes");
    is(wait_calls(&r, 1), 1, "callback ran");
    is(r.probe_take, ZKR_EDEADLK, "blocking take in a callback: EDEADLK");
    is(r.probe_put, ZKR_EDEADLK, "blocking put in a callback: EDEADLK");
    is(r.probe_peek, ZKR_EDEADLK, "peek in a callback: EDEADLK");
    is(r.probe_size, ZKR_EDEADLK, "size in a callback: EDEADLK");
    is(r.probe_batch, ZKR_EDEADLK, "put_batch in a callback: EDEADLK");

    /* async put: exactly once */
    atomic_store(&put_calls, 0);
    is(zkr_queue_put_async(q, "as", 2, put_cb, NULL), ZKR_OK, "put_async");
    for (int i = 0; i < 200 && atomic_load(&put_calls) < 1; i++)
        zkt_sleep_ms(10);
    is(atomic_load(&put_calls), 1, "put callback ran once");
    is(atomic_load(&put_status), ZKR_OK, "with ZKR_OK");
    is(zkr_queue_take(q2, 1000, &data, &len), ZKR_OK, "take it");
    is_str(data, "as", "the async put's item");
    zkr_free(data);

    /* put_batch */
    {
        const void *items[5] = {"b0", "b1", "b2", "b3", "b4"};
        size_t lens[5] = {2, 2, 2, 2, 2};
        ok_all = 1;
        is(zkr_queue_put_batch(q, items, lens, 5), ZKR_OK, "put_batch of 5");
        is(qsize(q2), 5, "5 items");
        for (int i = 0; i < 5; i++) {
            data = NULL;
            zkr_queue_take(q2, 1000, &data, &len);
            ok_all &= data && !strcmp(data, items[i]);
            zkr_free(data);
        }
        ok(ok_all, "batch items come out in array order");
        atomic_store(&put_calls, 0);
        is(zkr_queue_put_batch_async(q, items, lens, 3, put_cb, NULL), ZKR_OK,
           "put_batch_async");
        for (int i = 0; i < 200 && atomic_load(&put_calls) < 1; i++)
            zkt_sleep_ms(10);
        is(atomic_load(&put_calls), 1, "batch callback once");
        is(qsize(q2), 3, "3 more items");
        for (int i = 0; i < 3; i++) {
            zkr_queue_take(q2, 1000, &data, &len);
            zkr_free(data);
        }
        is(zkr_queue_put_batch(q, items, lens, 0), ZKR_EINVAL, "empty batch");
        is(zkr_queue_put_batch(q, NULL, lens, 1), ZKR_EINVAL, "NULL items");
        is(zkr_queue_put_batch(q, items, NULL, 1), ZKR_EINVAL, "NULL lens");
    }
    {
        /* 20 items of 60,000 bytes: 1.2 MB, more than one request takes */
        const void *items[20];
        size_t lens[20];
        char *big = calloc(1, 60000);
        for (int i = 0; i < 20; i++) {
            items[i] = big;
            lens[i] = 60000;
        }
        is(zkr_queue_put_batch(q, items, lens, 20), ZKR_ETOOBIG,
           "batch over the packet limit: ETOOBIG");
        free(big);
    }

    /* size limits */
    {
        char *big = malloc(ZKR_MAX_DATA + 1);
        memset(big, 'x', ZKR_MAX_DATA + 1);
        is(zkr_queue_put(q, big, ZKR_MAX_DATA + 1), ZKR_ETOOBIG,
           "item over ZKR_MAX_DATA: ETOOBIG");
        is(zkr_queue_put_async(q, big, ZKR_MAX_DATA + 1, put_cb, NULL),
           ZKR_ETOOBIG, "async too: ETOOBIG");
        is(zkr_queue_put(q, big, ZKR_MAX_DATA), ZKR_OK,
           "an item of ZKR_MAX_DATA bytes goes through");
        is(zkr_queue_take(q2, 5000, &data, &len), ZKR_OK, "and comes back");
        ok(len == ZKR_MAX_DATA && data && data[0] == 'x' &&
               data[len - 1] == 'x' && data[len] == '\0',
           "whole, NUL-terminated");
        zkr_free(data);
        free(big);
    }
    is(zkr_queue_put(q, NULL, 0), ZKR_OK, "an empty item");
    is(zkr_queue_take(q2, 1000, &data, &len), ZKR_OK, "take it");
    ok(len == 0 && data && data[0] == '\0', "empty, NUL-terminated");
    zkr_free(data);

    /* prefetch: claimed items go back to the tail on free */
    zkr_queue_opts_init(&o);
    o.prefetch = 4;
    is(zkr_queue_new(c2, "/q/pre", &o, &bad), ZKR_OK, "prefetching handle");
    {
        zkr_queue_t *pq;
        zkr_queue_new(c1, "/q/pre", NULL, &pq);
        for (int i = 0; i < 10; i++) {
            snprintf(buf, sizeof buf, "p%d", i);
            zkr_queue_put(pq, buf, strlen(buf));
        }
        is(zkr_queue_take(bad, 2000, &data, &len), ZKR_OK, "take one");
        is_str(data, "p0", "the first");
        zkr_free(data);
        for (int i = 0; i < 100 && qsize(pq) != 5; i++)
            zkt_sleep_ms(20);
        is(qsize(pq), 5, "4 more claimed ahead (5 left)");
        zkr_queue_free(bad);
        is(qsize(pq), 9, "free put the 4 back");
        ok_all = 1;
        for (int i = 0; i < 9; i++) {
            char want[8];
            snprintf(want, sizeof want, "p%d", i < 5 ? i + 5 : i - 4);
            data = NULL;
            zkr_queue_take(pq, 2000, &data, &len);
            if (!data || strcmp(data, want) != 0) {
                diag("got %s, want %s", data ? data : "(none)", want);
                ok_all = 0;
            }
            zkr_free(data);
        }
        ok(ok_all, "the put-back items come after the rest, in order");
        zkr_queue_free(pq);
    }
    /* bad input */
    is(zkr_queue_new(NULL, "/x", NULL, &bad), ZKR_EINVAL, "NULL client");
    is(zkr_queue_new(c1, NULL, NULL, &bad), ZKR_EINVAL, "NULL path");
    is(zkr_queue_new(c1, "x", NULL, &bad), ZKR_EBADPATH, "relative path");
    is(zkr_queue_new(c1, "/", NULL, &bad), ZKR_EBADPATH, "root");
    is(zkr_queue_new(c1, "/x/", NULL, &bad), ZKR_EBADPATH, "trailing slash");
    is(zkr_queue_new(c1, "/x", NULL, NULL), ZKR_EINVAL, "NULL out");
    zkr_queue_opts_init(&o);
    o.shards = -1;
    is(zkr_queue_new(c1, "/x", &o, &bad), ZKR_EINVAL, "negative shards");
    o.shards = 10000;
    is(zkr_queue_new(c1, "/x", &o, &bad), ZKR_EINVAL, "too many shards");
    o.shards = 0;
    o.prefetch = -1;
    is(zkr_queue_new(c1, "/x", &o, &bad), ZKR_EINVAL, "negative prefetch");
    is(zkr_queue_put(NULL, "x", 1), ZKR_EINVAL, "put NULL queue");
    is(zkr_queue_put(q, NULL, 3), ZKR_EINVAL, "put NULL data with length");
    is(zkr_queue_put_async(q, "x", 1, NULL, NULL), ZKR_EINVAL,
       "put_async NULL cb");
    is(zkr_queue_take(NULL, 0, &data, &len), ZKR_EINVAL, "take NULL queue");
    is(zkr_queue_take(q, 0, NULL, &len), ZKR_EINVAL, "take NULL data");
    is(zkr_queue_take(q, 0, &data, NULL), ZKR_EINVAL, "take NULL len");
    is(zkr_queue_take_async(q, NULL, NULL), ZKR_EINVAL, "take_async NULL cb");
    is(zkr_queue_take_async(NULL, take_cb, &r), ZKR_EINVAL,
       "take_async NULL queue");
    is(zkr_queue_peek(q, NULL, &len), ZKR_EINVAL, "peek NULL data");
    is(zkr_queue_size(q, NULL), ZKR_EINVAL, "size NULL count");
    is(zkr_queue_size(NULL, &n), ZKR_EINVAL, "size NULL queue");
    is(zkr_queue_cancel(NULL), ZKR_EINVAL, "cancel NULL");
    zkr_queue_free(NULL);

    /* free with a pending take, then the client freed under one */
    rec_init(&r);
    is(zkr_queue_take_async(q, take_cb, &r), ZKR_OK, "pending take");
    zkr_queue_free(q);
    is(wait_calls(&r, 1), 1, "free ran the callback");
    is(r.status[0], ZKR_ECANCELED, "with ZKR_ECANCELED");
    rec_init(&r);
    is(zkr_queue_take_async(q2, take_cb, &r), ZKR_OK, "pending take on c2");
    zkt_sleep_ms(100);
    zkr_client_free(c2);
    is(wait_calls(&r, 1), 1, "client free completes the pending take");
    is(r.status[0], ZKR_ECANCELED, "with ZKR_ECANCELED");
    is(zkr_queue_take(q2, 0, &data, &len), ZKR_ECLOSED,
       "take on a closed client: ECLOSED");
    is(zkr_queue_put(q2, "x", 1), ZKR_ECLOSED, "put on a closed client");
    zkr_queue_free(q2);
    zkr_client_free(c1);
    return done_testing();
}
