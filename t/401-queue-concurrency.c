/* SPDX-License-Identifier: Apache-2.0 */
/* 4 producers x 4 consumers, each in its own session: every item is taken
 * exactly once (none lost, none duplicated). Two consumers claim ahead
 * (prefetch), one keeps several async takes in flight from its own
 * callbacks. Then FIFO for one producer: one consumer, claiming ahead in
 * batches, receives the items of one producer (single puts, pipelined
 * async puts and batches) exactly in put order, while another producer's
 * items are interleaved. ZKR_TEST_QUICK=1 puts fewer items. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/queue.h>

#define PRODUCERS 4
#define CONSUMERS 4

static int per_producer;
static atomic_int taken, bad_items;
static int total;

struct consumer {
    zkr_client_t *c;
    zkr_queue_t *q;
    pthread_t th;
    int *got; /* producer * per_producer + i, in the order taken */
    int n;
    int errors;
    pthread_mutex_t mu; /* async consumer */
    int async_done;
};

struct producer {
    zkr_client_t *c;
    zkr_queue_t *q;
    pthread_t th;
    int id;
    int errors;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < per_producer; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%d:%d", p->id, i);
        if (zkr_queue_put(p->q, buf, (size_t)len) != ZKR_OK)
            p->errors++;
    }
    return NULL;
}

static void put_counter(zkr_queue_t *q, int status, void *ctx)
{
    (void)q;
    if (status != ZKR_OK)
        diag("async put: %s", zkr_strerror(status));
    atomic_fetch_sub((atomic_int *)ctx, 1);
}

static int record(struct consumer *k, const char *data)
{
    int pid, i;
    if (sscanf(data, "%d:%d", &pid, &i) != 2 || pid < 0 || pid >= PRODUCERS ||
        i < 0 || i >= per_producer) {
        atomic_fetch_add(&bad_items, 1);
        return -1;
    }
    k->got[k->n++] = pid * per_producer + i;
    atomic_fetch_add(&taken, 1);
    return 0;
}

static void *consume(void *arg)
{
    struct consumer *k = arg;
    while (atomic_load(&taken) < total) {
        char *data;
        size_t len;
        int rc = zkr_queue_take(k->q, 200, &data, &len);
        if (rc == ZKR_OK) {
            record(k, data);
            zkr_free(data);
        } else if (rc != ZKR_ETIMEDOUT) {
            k->errors++;
            diag("take: %s", zkr_strerror(rc));
            break;
        }
    }
    return NULL;
}

/* The async consumer re-arms from its own callback; 3 takes in flight. */
static void async_cb(zkr_queue_t *q, int status, const void *data,
                     size_t len, const char *name, void *ctx)
{
    struct consumer *k = ctx;
    (void)len;
    (void)name;
    pthread_mutex_lock(&k->mu);
    if (status == ZKR_OK) {
        record(k, data);
        if (zkr_queue_take_async(q, async_cb, k) != ZKR_OK)
            k->errors++;
    } else if (status == ZKR_ECANCELED) {
        k->async_done++;
    } else {
        k->errors++;
    }
    pthread_mutex_unlock(&k->mu);
}

int main(void)
{
    const char *hosts = zkt_hosts();
    const char *quick = getenv("ZKR_TEST_QUICK");
    struct producer ps[PRODUCERS];
    struct consumer ks[CONSUMERS];
    char *seen;
    int dup = 0, missing = 0, perr = 0, kerr = 0, reordered = 0;

    per_producer = quick && *quick == '1' ? 100 : 500;
    total = PRODUCERS * per_producer;
    plan(12);

    for (int i = 0; i < CONSUMERS; i++) {
        zkr_queue_opts_t o;
        memset(&ks[i], 0, sizeof ks[i]);
        pthread_mutex_init(&ks[i].mu, NULL);
        ks[i].c = zkt_client(hosts, 10000);
        ks[i].got = calloc((size_t)total, sizeof *ks[i].got);
        zkr_queue_opts_init(&o);
        o.prefetch = i < 2 ? 8 : 0; /* consumers 0 and 1 claim ahead */
        if (zkr_queue_new(ks[i].c, "/q/conc", &o, &ks[i].q) != ZKR_OK)
            bail_out("queue_new");
    }
    /* consumers 0..2 block in threads; consumer 3 is async */
    for (int i = 0; i < 3; i++)
        pthread_create(&ks[i].th, NULL, consume, &ks[i]);
    for (int i = 0; i < 3; i++)
        if (zkr_queue_take_async(ks[3].q, async_cb, &ks[3]) != ZKR_OK)
            bail_out("take_async");
    for (int i = 0; i < PRODUCERS; i++) {
        ps[i].id = i;
        ps[i].errors = 0;
        ps[i].c = zkt_client(hosts, 10000);
        if (zkr_queue_new(ps[i].c, "/q/conc", NULL, &ps[i].q) != ZKR_OK)
            bail_out("queue_new");
        pthread_create(&ps[i].th, NULL, produce, &ps[i]);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(ps[i].th, NULL);
        perr += ps[i].errors;
    }
    is(perr, 0, "%d puts by %d producers succeeded", total, PRODUCERS);
    for (int i = 0; i < 3; i++)
        pthread_join(ks[i].th, NULL);
    for (int i = 0; i < 400 && atomic_load(&taken) < total; i++)
        zkt_sleep_ms(25);
    zkr_queue_cancel(ks[3].q); /* ends the async chain */
    for (int i = 0; i < 200; i++) {
        int done;
        pthread_mutex_lock(&ks[3].mu);
        done = ks[3].async_done;
        pthread_mutex_unlock(&ks[3].mu);
        if (done == 3)
            break;
        zkt_sleep_ms(10);
    }
    is(ks[3].async_done, 3, "the async consumer's 3 pending takes ended once");

    for (int i = 0; i < CONSUMERS; i++)
        kerr += ks[i].errors;
    is(kerr, 0, "no take failed");
    is(atomic_load(&bad_items), 0, "no malformed item");
    is(atomic_load(&taken), total, "%d items taken in all", total);

    seen = calloc((size_t)total, 1);
    for (int i = 0; i < CONSUMERS; i++) {
        int last[PRODUCERS];
        for (int p = 0; p < PRODUCERS; p++)
            last[p] = -1;
        for (int j = 0; j < ks[i].n; j++) {
            int v = ks[i].got[j], p = v / per_producer;
            if (seen[v]++)
                dup++;
            if (v % per_producer <= last[p])
                reordered++; /* allowed after collisions: see queue.h */
            last[p] = v % per_producer;
        }
        diag("consumer %d (prefetch %d%s) took %d", i, i < 2 ? 8 : 0,
             i == 3 ? ", async" : "", ks[i].n);
    }
    for (int v = 0; v < total; v++)
        if (!seen[v])
            missing++;
    is(dup, 0, "no item delivered twice");
    is(missing, 0, "no item lost");
    diag("%d items came to their consumer after a later one of the same "
         "producer (consumers spread out after collisions)", reordered);
    {
        int busy = 0;
        for (int i = 0; i < CONSUMERS; i++)
            busy += ks[i].n > 0;
        ok(busy >= 2, "the work was shared (%d consumers took items)", busy);
    }
    free(seen);

    /* FIFO for one producer, with one consumer */
    {
        zkr_queue_opts_t o;
        zkr_queue_t *cq, *other, *fq;
        char buf[32], *data;
        size_t len;
        int n = per_producer, next = 0, in_order = 1, got = 0, mine = 0;
        int others = 0;
        atomic_int pending = 0;
        zkr_queue_opts_init(&o);
        o.prefetch = 16;
        if (zkr_queue_new(ks[0].c, "/q/fifo", &o, &cq) != ZKR_OK ||
            zkr_queue_new(ps[0].c, "/q/fifo", NULL, &fq) != ZKR_OK ||
            zkr_queue_new(ps[1].c, "/q/fifo", NULL, &other) != ZKR_OK)
            bail_out("queue_new");
        for (int i = 0; i < n;) {
            int len2, rc;
            if (i % 3 == 0) { /* a batch of 5 */
                const void *items[5];
                size_t lens[5];
                char b5[5][32];
                int k = n - i < 5 ? n - i : 5;
                for (int j = 0; j < k; j++) {
                    lens[j] = (size_t)snprintf(b5[j], sizeof b5[j], "f:%d",
                                               i + j);
                    items[j] = b5[j];
                }
                rc = zkr_queue_put_batch(fq, items, lens, k);
                i += k;
            } else if (i % 3 == 1) { /* pipelined */
                len2 = snprintf(buf, sizeof buf, "f:%d", i++);
                rc = zkr_queue_put_async(fq, buf, (size_t)len2,
                                         put_counter, &pending);
                if (rc == ZKR_OK)
                    atomic_fetch_add(&pending, 1);
            } else {
                len2 = snprintf(buf, sizeof buf, "f:%d", i++);
                rc = zkr_queue_put(fq, buf, (size_t)len2);
            }
            if (rc != ZKR_OK)
                perr++;
            if (zkr_queue_put(other, "x:0", 3) == ZKR_OK) /* in between */
                others++;
        }
        while (got < n + others) {
            if (zkr_queue_take(cq, 5000, &data, &len) != ZKR_OK)
                break;
            got++;
            if (data[0] == 'f') {
                mine++;
                if (atoi(data + 2) != next++)
                    in_order = 0;
            }
            zkr_free(data);
        }
        is(perr, 0, "one producer put %d items (singles, async, batches)", n);
        is(mine, n, "the consumer got all of them");
        ok(in_order, "in put order");
        is(got - mine, others, "and the %d items of another producer put "
           "in between", others);
        zkr_queue_free(cq);
        zkr_queue_free(fq);
        zkr_queue_free(other);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        zkr_queue_free(ps[i].q);
        zkr_client_free(ps[i].c);
    }
    for (int i = 0; i < CONSUMERS; i++) {
        zkr_queue_free(ks[i].q);
        zkr_client_free(ks[i].c);
        free(ks[i].got);
    }
    return done_testing();
}
