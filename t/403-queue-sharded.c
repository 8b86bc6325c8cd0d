/* SPDX-License-Identifier: Apache-2.0 */
/* Sharded queue: 20,000 items (2,000 with ZKR_TEST_QUICK=1) put in batches
 * over 16 shards, drained by two consumers in separate sessions: every item
 * exactly once, each shard in put order, no shard list large; a blocked
 * take is woken by a put; poll, peek and size. The 1,000,000-item run is in
 * the benchmark (zkr-bench ... queue-shard-1m). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zktest.h"
#include <zkr/queue.h>

#define SHARDS 16
#define BATCH 100

static int total;

/* A blocking take that also reports the item's node name. */
struct named {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
    char data[64];
    char name[64];
};

static void named_cb(zkr_queue_t *q, int status, const void *data, size_t len,
                     const char *name, void *ctx)
{
    struct named *t = ctx;
    (void)q;
    pthread_mutex_lock(&t->mu);
    t->status = status;
    if (data)
        snprintf(t->data, sizeof t->data, "%.*s", (int)len,
                 (const char *)data);
    if (name)
        snprintf(t->name, sizeof t->name, "%s", name);
    t->done = 1;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static int take_named(zkr_queue_t *q, int timeout_ms, struct named *t)
{
    struct timespec ts;
    int rc;
    t->done = 0;
    t->data[0] = t->name[0] = '\0';
    if ((rc = zkr_queue_take_async(q, named_cb, t)) != ZKR_OK)
        return rc;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->mu);
    while (!t->done)
        if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&t->mu);
    if (!t->done)
        zkr_queue_cancel(q);
    pthread_mutex_lock(&t->mu);
    while (!t->done)
        pthread_cond_wait(&t->cv, &t->mu);
    rc = t->status == ZKR_ECANCELED ? ZKR_ETIMEDOUT : t->status;
    pthread_mutex_unlock(&t->mu);
    return rc;
}

struct consumer {
    zkr_client_t *c;
    zkr_queue_t *q;
    pthread_t th;
    int n, errors, order_errors, check_order;
    int *got;
    int last_seq[SHARDS + 1];
    int last_item[SHARDS + 1];
};

static pthread_mutex_t count_mu = PTHREAD_MUTEX_INITIALIZER;
static int taken, stop_at;

static void *consume(void *arg)
{
    struct consumer *k = arg;
    struct named t;
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    for (;;) {
        int done, rc, shard, seq, item;
        pthread_mutex_lock(&count_mu);
        done = taken >= stop_at;
        pthread_mutex_unlock(&count_mu);
        if (done)
            break;
        rc = take_named(k->q, 300, &t);
        if (rc == ZKR_ETIMEDOUT)
            continue;
        if (rc != ZKR_OK) {
            k->errors++;
            break;
        }
        item = atoi(t.data);
        if (sscanf(t.name, "s-%d/qn-%d", &shard, &seq) != 2 || shard < 0 ||
            shard >= SHARDS || item < 0 || item >= total) {
            k->errors++;
            continue;
        }
        /* within a shard: increasing sequence, and the producer's order
         * (checked while this consumer is alone) */
        if (k->check_order &&
            (seq <= k->last_seq[shard] || item <= k->last_item[shard]))
            k->order_errors++;
        k->last_seq[shard] = seq;
        k->last_item[shard] = item;
        k->got[k->n++] = item;
        pthread_mutex_lock(&count_mu);
        taken++;
        pthread_mutex_unlock(&count_mu);
    }
    return NULL;
}

static void *put_later(void *arg)
{
    zkr_queue_t *q = arg;
    zkt_sleep_ms(300);
    zkr_queue_put(q, "wake", 4);
    return NULL;
}

int main(void)
{
    const char *hosts = zkt_hosts();
    const char *quick = getenv("ZKR_TEST_QUICK");
    zkr_client_t *pc = zkt_client(hosts, 10000);
    zkr_queue_t *pq;
    zkr_queue_opts_t o;
    struct consumer ks[2];
    char **names;
    int nn, fails = 0, biggest = 0, dup = 0, missing = 0;
    char *seen, *data;
    size_t n, len;

    total = quick && *quick == '1' ? 2000 : 20000;
    zkr_queue_opts_init(&o);
    o.shards = SHARDS;
    is(zkr_queue_new(pc, "/q/sharded", &o, &pq), ZKR_OK, "sharded producer");
    is(zkr_queue_take(pq, 0, &data, &len), ZKR_ETIMEDOUT,
       "poll on a missing sharded queue: ETIMEDOUT");
    is(zkr_queue_peek(pq, &data, &len), ZKR_ENONODE, "peek: ENONODE");
    is(zkr_queue_size(pq, &n), ZKR_OK, "size of a missing queue");
    is(n, 0, "is 0");

    {
        char (*buf)[16] = malloc((size_t)BATCH * sizeof *buf);
        const void *items[BATCH];
        size_t lens[BATCH];
        for (int i = 0; i < total; i += BATCH) {
            for (int j = 0; j < BATCH; j++) {
                lens[j] = (size_t)snprintf(buf[j], sizeof buf[j], "%d", i + j);
                items[j] = buf[j];
            }
            if (zkr_queue_put_batch(pq, items, lens, BATCH) != ZKR_OK)
                fails++;
        }
        free(buf);
    }
    is(fails, 0, "%d items put in batches of %d", total, BATCH);
    is(zkr_queue_size(pq, &n), ZKR_OK, "size");
    is((long)n, total, "counts every shard");
    is(zkr_children(pc, "/q/sharded", &names, &nn), ZKR_OK, "list the queue");
    {
        int layout = nn == SHARDS;
        for (int i = 0; i < nn; i++) {
            char path[64];
            zkr_stat_t st;
            layout &= strlen(names[i]) == 6 && !strncmp(names[i], "s-", 2);
            snprintf(path, sizeof path, "/q/sharded/%s", names[i]);
            if (zkr_exists(pc, path, &st) == ZKR_OK &&
                st.num_children > biggest)
                biggest = st.num_children;
        }
        ok(layout, "%d shard nodes s-NNNN", nn);
        zkr_strings_free(names, nn);
    }
    ok(biggest <= total / SHARDS + BATCH,
       "items spread: the largest shard holds %d of %d", biggest, total);
    is(zkr_queue_peek(pq, &data, &len), ZKR_OK, "peek");
    zkr_free(data);

    for (int i = 0; i < 2; i++) {
        memset(&ks[i], 0, sizeof ks[i]);
        ks[i].c = zkt_client(hosts, 10000);
        ks[i].got = calloc((size_t)total, sizeof *ks[i].got);
        for (int j = 0; j <= SHARDS; j++)
            ks[i].last_seq[j] = ks[i].last_item[j] = -1;
        zkr_queue_opts_init(&o);
        o.shards = SHARDS;
        o.prefetch = 32;
        if (zkr_queue_new(ks[i].c, "/q/sharded", &o, &ks[i].q) != ZKR_OK)
            bail_out("queue_new");
    }
    /* first half: one consumer alone, FIFO within each shard */
    stop_at = total / 2;
    ks[0].check_order = 1;
    pthread_create(&ks[0].th, NULL, consume, &ks[0]);
    pthread_join(ks[0].th, NULL);
    is(ks[0].order_errors, 0,
       "one consumer: within each shard, items came out in put order");
    /* the rest: two consumers */
    ks[0].check_order = 0;
    stop_at = total;
    for (int i = 0; i < 2; i++)
        pthread_create(&ks[i].th, NULL, consume, &ks[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(ks[i].th, NULL);
    is(ks[0].errors + ks[1].errors, 0, "no take failed");
    is(taken, total, "%d taken (%d + %d)", total, ks[0].n, ks[1].n);
    seen = calloc((size_t)total, 1);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < ks[i].n; j++)
            if (seen[ks[i].got[j]]++)
                dup++;
    for (int i = 0; i < total; i++)
        missing += !seen[i];
    is(dup, 0, "no item twice");
    is(missing, 0, "no item lost");
    free(seen);
    is(zkr_queue_size(pq, &n), ZKR_OK, "size");
    is(n, 0, "empty");

    /* the drained consumers claim ahead even between takes: let them go */
    for (int i = 0; i < 2; i++) {
        zkr_queue_free(ks[i].q);
        zkr_queue_opts_init(&o);
        o.shards = SHARDS;
        if (zkr_queue_new(ks[i].c, "/q/sharded", &o, &ks[i].q) != ZKR_OK)
            bail_out("queue_new");
    }
    /* a consumer waiting on an empty sharded queue is woken by a put */
    {
        pthread_t th;
        struct named t;
        pthread_mutex_init(&t.mu, NULL);
        pthread_cond_init(&t.cv, NULL);
        pthread_create(&th, NULL, put_later, pq);
        is(take_named(ks[0].q, 10000, &t), ZKR_OK, "blocked take woken by a put");
        is_str(t.data, "wake", "with that item");
        pthread_join(th, NULL);
    }
    is(zkr_queue_take(ks[1].q, 0, &data, &len), ZKR_ETIMEDOUT,
       "poll on the empty sharded queue: ETIMEDOUT");

    for (int i = 0; i < 2; i++) {
        zkr_queue_free(ks[i].q);
        zkr_client_free(ks[i].c);
        free(ks[i].got);
    }
    zkr_queue_free(pq);
    zkr_client_free(pc);
    return done_testing();
}
