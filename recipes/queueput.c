/* SPDX-License-Identifier: Apache-2.0 */
/* Queue producers (put, put_batch), leases (ack, nack), peek and size.
 *
 * Puts of one handle are sent in call order under the handle's mutex, and
 * one session's requests are applied in order, so their sequence numbers
 * follow the calls. A put whose parent does not exist yet is parked with
 * every later put for the same shard until one ensure-path has made it,
 * then they are sent again in their original order. */
#define ZKR_BUILDING 1
#include "queueint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for a multi's per-item framing and path, counted against
 * ZKR_MAX_DATA for batches. */
#define ITEM_OVERHEAD 64

/* ---- puts ---------------------------------------------------------------- */

/* A context's queue; an ensure context's flag is its shard. */
#define Q(x) ((zkr_queue_t *)(x)->o)

static void put_free(qput_t *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->data[i]);
    free(p->data);
    free(p->lens);
    free(p);
}

static char *shard_path(zkr_queue_t *q, int shard)
{
    char name[16], *p = NULL;
    if (q->nshards_put == 0)
        return strdup(q->path);
    snprintf(name, sizeof name, "s-%04d", shard);
    zkr_path_join(q->path, name, &p);
    return p;
}

static void put_cb(zkr__op_t *op, int rc);

/* Caller holds q->obj.mu. */
static int send_put(zkr_queue_t *q, qput_t *p)
{
    char *dir = shard_path(q, p->shard), *path = NULL;
    int rc = dir ? zkr_path_join(dir, "qn-", &path) : ZKR_ENOMEM;
    if (rc == ZKR_OK && !p->batch) {
        rc = zkr__acreate_acl(q->c, path, p->data[0], p->lens[0],
                              ZKR_PERSISTENT | ZKR_SEQUENTIAL, q->acl, put_cb,
                              p);
    } else if (rc == ZKR_OK) {
        zkr__multi_t *m = zkr__multi_new(q->c, p->n);
        rc = m ? ZKR_OK : ZKR_ENOMEM;
        for (int i = 0; rc == ZKR_OK && i < p->n; i++)
            rc = zkr__multi_create_acl(m, path, p->data[i], p->lens[i],
                                       ZKR_PERSISTENT | ZKR_SEQUENTIAL,
                                       q->acl);
        if (rc == ZKR_OK)
            rc = zkr__amulti(m, put_cb, p);
        else
            zkr__multi_free(m);
    }
    free(dir);
    free(path);
    return rc;
}

/* Caller holds q->obj.mu: keep p until its shard exists (sorted by id). */
static void park(zkr_queue_t *q, qput_t *p)
{
    qput_t **pp = &q->parked;
    while (*pp && (*pp)->id < p->id)
        pp = &(*pp)->next;
    p->next = *pp;
    *pp = p;
}

static int parked_for(zkr_queue_t *q, int shard)
{
    for (qput_t *p = q->parked; p; p = p->next)
        if (p->shard == shard)
            return 1;
    return 0;
}

/* Run a put's callback (without q->obj.mu) and drop it. */
static void put_done(qput_t *p, int rc)
{
    zkr_queue_t *q = p->q;
    if (rc == ZKR_EOPTIMEOUT)
        rc = ZKR_ECONNLOSS; /* the same uncertainty */
    if (p->cb) {
        p->cb(q, rc, p->ctx);
    } else {
        pthread_mutex_lock(&q->obj.mu);
        q->bg--;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->obj.mu);
        if (rc != ZKR_OK)
            zkr__log(q->c, ZKR_LOG_ERROR,
                     "zkr: queue %s: putting an item back failed: %s",
                     q->path, zkr_strerror(rc));
    }
    put_free(p);
    zkr__obj_unref(&q->obj);
}

/* Send again (rc == ZKR_OK) or fail every put parked for shard. */
static void resend_parked(zkr_queue_t *q, int shard, int rc)
{
    qput_t *failed = NULL, **fp = &failed, **pp;
    pthread_mutex_lock(&q->obj.mu);
    q->ensuring[shard] = 0;
    for (pp = &q->parked; *pp;) {
        qput_t *p = *pp;
        int src;
        if (p->shard != shard) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        src = rc == ZKR_OK ? send_put(q, p) : rc;
        if (src != ZKR_OK) {
            p->tries = src; /* reported below */
            p->next = NULL;
            *fp = p;
            fp = &p->next;
        }
    }
    pthread_mutex_unlock(&q->obj.mu);
    while (failed) {
        qput_t *next = failed->next;
        put_done(failed, failed->tries);
        failed = next;
    }
}

static void ensure_done(void *ctx, int rc)
{
    zkr__ctx_t *x = ctx;
    resend_parked(Q(x), x->flag, rc);
    zkr__ctx_done(x);
}

static int parent_missing(zkr__op_t *op, int rc)
{
    if (rc == ZKR_ENONODE)
        return 1;
    for (int i = 0; op->mres && i < op->nmulti; i++)
        if (op->mres[i].err == ZNONODE)
            return 1;
    return 0;
}

static void put_cb(zkr__op_t *op, int rc)
{
    qput_t *p = op->ctx;
    zkr_queue_t *q = p->q;
    if (rc != ZKR_OK && parent_missing(op, rc) && p->tries < 5) {
        int shard = p->shard, erc = ZKR_OK;
        pthread_mutex_lock(&q->obj.mu);
        p->tries++;
        park(q, p);
        if (!q->ensuring[shard]) {
            zkr__ctx_t *e = zkr__ctx_new(&q->obj, 0, 0, NULL);
            char *dir = shard_path(q, shard);
            erc = ZKR_ENOMEM;
            if (e && dir) {
                e->flag = shard;
                erc = zkr__aensure_acl(q->c, dir, ZKR_PERSISTENT, q->acl,
                                       ensure_done, e);
            }
            free(dir);
            if (erc == ZKR_OK)
                q->ensuring[shard] = 1;
            else
                zkr__ctx_drop(e);
        }
        pthread_mutex_unlock(&q->obj.mu);
        if (erc != ZKR_OK)
            resend_parked(q, shard, erc); /* fails them */
        return;
    }
    if (rc != ZKR_OK && parent_missing(op, rc))
        rc = ZKR_ENONODE;
    put_done(p, rc);
}

int zkr__q_put(zkr_queue_t *q, const void *const *items, const size_t *lens,
               int n, int batch, zkr_queue_cb cb, void *ctx)
{
    qput_t *p = calloc(1, sizeof *p);
    int rc = ZKR_OK;
    if (!p)
        return ZKR_ENOMEM;
    p->data = calloc((size_t)n, sizeof *p->data);
    p->lens = calloc((size_t)n, sizeof *p->lens);
    if (!p->data || !p->lens)
        rc = ZKR_ENOMEM;
    for (int i = 0; rc == ZKR_OK && i < n; i++) {
        p->data[i] = malloc(lens[i] ? lens[i] : 1);
        if (!p->data[i]) {
            rc = ZKR_ENOMEM;
            break;
        }
        if (lens[i])
            memcpy(p->data[i], items[i], lens[i]);
        p->lens[i] = lens[i];
        p->n = i + 1;
    }
    if (rc != ZKR_OK) {
        put_free(p);
        return rc;
    }
    p->n = n;
    p->batch = batch;
    p->cb = cb;
    p->ctx = ctx;
    p->q = q;
    pthread_mutex_lock(&q->obj.mu);
    if (zkr__client_closed(q->c) || q->closed || (q->freed && cb)) {
        pthread_mutex_unlock(&q->obj.mu);
        put_free(p);
        return ZKR_ECLOSED;
    }
    p->id = ++q->next_put;
    p->shard = q->nshards_put ? (int)(q->rr++ % (unsigned)q->nshards_put) : 0;
    if (q->ensuring[p->shard] || parked_for(q, p->shard))
        park(q, p); /* behind earlier puts to the same shard */
    else if ((rc = send_put(q, p)) != ZKR_OK) {
        pthread_mutex_unlock(&q->obj.mu);
        put_free(p);
        return rc;
    }
    q->obj.refs++;
    if (!cb)
        q->bg++;
    pthread_mutex_unlock(&q->obj.mu);
    return ZKR_OK;
}

static int check_items(const void *const *items, const size_t *lens, int n)
{
    size_t total = 0;
    if (n < 1 || !items || !lens)
        return ZKR_EINVAL;
    for (int i = 0; i < n; i++) {
        if (lens[i] && !items[i])
            return ZKR_EINVAL;
        if (lens[i] > ZKR_MAX_DATA)
            return ZKR_ETOOBIG;
        total += lens[i] + ITEM_OVERHEAD;
        if (n > 1 && total > ZKR_MAX_DATA)
            return ZKR_ETOOBIG;
    }
    return ZKR_OK;
}

int zkr_queue_put_async(zkr_queue_t *q, const void *data, size_t len,
                        zkr_queue_cb cb, void *ctx)
{
    int rc;
    if (!q || !cb)
        return ZKR_EINVAL;
    if ((rc = check_items(&data, &len, 1)) != ZKR_OK)
        return rc;
    return zkr__q_put(q, &data, &len, 1, 0, cb, ctx);
}

int zkr_queue_put_batch_async(zkr_queue_t *q, const void *const *items,
                              const size_t *lens, int n, zkr_queue_cb cb,
                              void *ctx)
{
    int rc;
    if (!q || !cb)
        return ZKR_EINVAL;
    if ((rc = check_items(items, lens, n)) != ZKR_OK)
        return rc;
    return zkr__q_put(q, items, lens, n, 1, cb, ctx);
}

static void wait_cb(zkr_queue_t *q, int status, void *ctx)
{
    (void)q;
    zkr__waiter_signal(ctx, status);
}

static int put_blocking(zkr_queue_t *q, const void *const *items,
                        const size_t *lens, int n, int batch)
{
    zkr__waiter_t w;
    int rc;
    if (!q)
        return ZKR_EINVAL;
    if ((rc = check_items(items, lens, n)) != ZKR_OK)
        return rc;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    zkr__waiter_init(&w);
    rc = zkr__q_put(q, items, lens, n, batch, wait_cb, &w);
    if (rc == ZKR_OK)
        rc = zkr__waiter_wait(&w, -1);
    zkr__waiter_destroy(&w);
    return rc;
}

int zkr_queue_put(zkr_queue_t *q, const void *data, size_t len)
{
    return put_blocking(q, &data, &len, 1, 0);
}

int zkr_queue_put_batch(zkr_queue_t *q, const void *const *items,
                        const size_t *lens, int n)
{
    return put_blocking(q, items, lens, n, 1);
}

/* ---- leases -------------------------------------------------------------- */

typedef struct {
    zkr_queue_t *q;
    zkr_queue_lease_t *lease;
    zkr_queue_cb cb;
    void *ctx;
} ackctx_t;

static void release_cb(zkr__op_t *op, int rc)
{
    zkr_queue_t *q = op->ctx;
    (void)rc; /* a lost session released it anyway */
    pthread_mutex_lock(&q->obj.mu);
    q->bg--;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->obj.mu);
    zkr__obj_unref(&q->obj);
}

void zkr__q_release(zkr_queue_t *q, const char *lease_path, unsigned gen)
{
    /* On another session the node, if any, is somebody else's lease. */
    if (gen != zkr__client_gen(q->c))
        return;
    q->obj.refs++;
    q->bg++;
    if (zkr__adelete(q->c, lease_path, -1, release_cb, q) != ZKR_OK) {
        q->obj.refs--;
        q->bg--;
    }
}

const void *zkr_queue_lease_data(const zkr_queue_lease_t *l, size_t *len)
{
    if (len)
        *len = l ? l->item.len : 0;
    return l ? l->item.data : NULL;
}

const char *zkr_queue_lease_name(const zkr_queue_lease_t *l)
{
    return l ? l->item.name : NULL;
}

static void lease_drop(zkr_queue_lease_t *l)
{
    zkr_queue_t *q = l->q;
    zkr__q_item_free(&l->item); /* frees l: the item comes first */
    zkr__obj_unref(&q->obj);
}

static void ack_cb(zkr__op_t *op, int rc)
{
    ackctx_t *a = op->ctx;
    qitem_t *it = &a->lease->item;
    int status = rc == ZKR_EOPTIMEOUT ? ZKR_ECONNLOSS : rc;
    if (rc == ZKR_ESESSIONEXPIRED || (rc != ZKR_OK && op->gen != it->gen))
        status = ZKR_ELOCKLOST;
    else if (rc != ZKR_OK && op->mres && op->nmulti == 2 &&
             op->mres[1].err == ZNONODE)
        status = ZKR_ELOCKLOST; /* our lease is gone */
    else if (rc != ZKR_OK && op->mres && op->nmulti == 2 &&
             op->mres[0].err == ZNONODE) {
        /* a plain take removed the item: drop our lease */
        pthread_mutex_lock(&a->q->obj.mu);
        zkr__q_release(a->q, it->lease_path, it->gen);
        pthread_mutex_unlock(&a->q->obj.mu);
        status = ZKR_ENONODE;
    }
    a->cb(a->q, status, a->ctx);
    lease_drop(a->lease);
    free(a);
}

int zkr_queue_ack_async(zkr_queue_lease_t *l, zkr_queue_cb cb, void *ctx)
{
    zkr__multi_t *m;
    ackctx_t *a;
    zkr_queue_t *q;
    int rc;
    if (!l || !cb)
        return ZKR_EINVAL;
    q = l->q;
    if (l->item.gen != zkr__client_gen(q->c)) {
        lease_drop(l);
        return ZKR_ELOCKLOST;
    }
    a = calloc(1, sizeof *a);
    m = zkr__multi_new(q->c, 2);
    rc = a && m ? ZKR_OK : ZKR_ENOMEM;
    if (rc == ZKR_OK)
        rc = zkr__multi_delete(m, l->item.item_path, -1);
    if (rc == ZKR_OK)
        rc = zkr__multi_delete(m, l->item.lease_path, -1);
    if (rc == ZKR_OK) {
        a->q = q;
        a->lease = l;
        a->cb = cb;
        a->ctx = ctx;
        rc = zkr__amulti(m, ack_cb, a); /* consumes m */
        m = NULL;
    }
    if (rc != ZKR_OK) {
        zkr__multi_free(m);
        free(a);
        lease_drop(l);
        if (rc == ZKR_ESESSIONEXPIRED)
            rc = ZKR_ELOCKLOST;
    }
    return rc;
}

int zkr_queue_ack(zkr_queue_lease_t *l)
{
    zkr__waiter_t w;
    int rc;
    if (!l)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    zkr__waiter_init(&w);
    rc = zkr_queue_ack_async(l, wait_cb, &w);
    if (rc == ZKR_OK)
        rc = zkr__waiter_wait(&w, -1);
    zkr__waiter_destroy(&w);
    return rc;
}

int zkr_queue_nack(zkr_queue_lease_t *l)
{
    zkr_queue_t *q;
    int rc = ZKR_OK;
    if (!l)
        return ZKR_EINVAL;
    q = l->q;
    pthread_mutex_lock(&q->obj.mu);
    if (l->item.gen != zkr__client_gen(q->c))
        rc = ZKR_ELOCKLOST;
    else
        zkr__q_release(q, l->item.lease_path, l->item.gen);
    pthread_mutex_unlock(&q->obj.mu);
    lease_drop(l);
    return rc;
}

/* ---- peek and size ------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int zkr__q_list_shards(zkr_queue_t *q, char ***names, int *n)
{
    char **all;
    int count, k = 0;
    int rc = zkr_children(q->c, q->path, &all, &count);
    *names = NULL;
    *n = 0;
    if (rc != ZKR_OK)
        return rc;
    for (int i = 0; i < count; i++) {
        const char *s = all[i];
        int digits = strncmp(s, "s-", 2) == 0 && s[2];
        for (const char *d = s + 2; digits && *d; d++)
            digits = *d >= '0' && *d <= '9';
        if (digits)
            all[k++] = all[i];
        else
            free(all[i]);
    }
    qsort(all, (size_t)k, sizeof *all, cmp_str);
    *names = all;
    *n = k;
    return ZKR_OK;
}

typedef struct {
    char *name;
    int32_t seq;
} named_t;

static int cmp_named(const void *a, const void *b)
{
    return zkr__seq_cmp(((const named_t *)a)->seq, ((const named_t *)b)->seq);
}

/* The oldest item of dir that still exists, read with zkr_get. */
static int peek_dir(zkr_client_t *c, const char *dir, char **data,
                    size_t *len)
{
    char **names;
    named_t *v;
    int n, k = 0, rc = zkr_children(c, dir, &names, &n);
    if (rc != ZKR_OK)
        return rc;
    v = calloc((size_t)n + 1, sizeof *v);
    if (!v) {
        zkr_strings_free(names, n);
        return ZKR_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        if (strncmp(names[i], "qn-", 3) == 0 &&
            zkr__seq_of(names[i], &v[k].seq) == 0)
            v[k++].name = names[i];
    qsort(v, (size_t)k, sizeof *v, cmp_named);
    rc = ZKR_ENONODE;
    for (int i = 0; i < k && rc == ZKR_ENONODE; i++) {
        char *p = NULL;
        rc = zkr_path_join(dir, v[i].name, &p);
        if (rc == ZKR_OK)
            rc = zkr_get(c, p, data, len, NULL);
        free(p);
    }
    free(v);
    zkr_strings_free(names, n);
    return rc;
}

int zkr_queue_peek(zkr_queue_t *q, char **data, size_t *len)
{
    char **shards;
    int n, rc;
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!q || !data || !len)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    if (q->nshards_put == 0)
        return peek_dir(q->c, q->path, data, len);
    rc = zkr__q_list_shards(q, &shards, &n);
    if (rc != ZKR_OK)
        return rc;
    rc = ZKR_ENONODE;
    for (int i = 0; i < n && rc == ZKR_ENONODE; i++) {
        char *dir = NULL;
        rc = zkr_path_join(q->path, shards[i], &dir);
        if (rc == ZKR_OK)
            rc = peek_dir(q->c, dir, data, len);
        free(dir);
    }
    zkr_strings_free(shards, n);
    return rc;
}

int zkr_queue_size(zkr_queue_t *q, size_t *count)
{
    char **names;
    int n, rc;
    if (count)
        *count = 0;
    if (!q || !count)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    if (q->nshards_put == 0) {
        rc = zkr_children(q->c, q->path, &names, &n);
        if (rc == ZKR_ENONODE)
            return ZKR_OK;
        if (rc != ZKR_OK)
            return rc;
        for (int i = 0; i < n; i++)
            if (strncmp(names[i], "qn-", 3) == 0)
                (*count)++;
        zkr_strings_free(names, n);
        return ZKR_OK;
    }
    rc = zkr__q_list_shards(q, &names, &n);
    if (rc == ZKR_ENONODE)
        return ZKR_OK;
    for (int i = 0; rc == ZKR_OK && i < n; i++) {
        char *dir = NULL;
        zkr_stat_t st;
        rc = zkr_path_join(q->path, names[i], &dir);
        if (rc == ZKR_OK)
            rc = zkr_exists(q->c, dir, &st);
        if (rc == ZKR_OK)
            *count += (size_t)st.num_children;
        else if (rc == ZKR_ENONODE)
            rc = ZKR_OK;
        free(dir);
    }
    zkr_strings_free(names, n);
    return rc;
}
