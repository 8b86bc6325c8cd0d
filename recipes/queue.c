/* SPDX-License-Identifier: Apache-2.0 */
/* Queue handles: takes (async and blocking), delivery of claimed items to
 * pending takes, connection states, the handle's lifetime. The consumer
 * engine itself is in queuelist.c (listings and waiting) and queueclaim.c
 * (reading ahead and claiming); see the overview there. */
#define ZKR_BUILDING 1
#include "queueint.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- references and contexts ---------------------------------------------- */

unsigned zkr__q_rand(void)
{
    /* spreads producers and consumers over shards; not cryptographic */
    static _Atomic unsigned counter;
    uint64_t x = (uint64_t)zkr__now_ms() * 0x9E3779B97F4A7C15ull +
                 (uint64_t)atomic_fetch_add(&counter, 0x632BE5ABu) +
                 (uint64_t)(uintptr_t)&x;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return (unsigned)x;
}

void zkr__q_item_free(qitem_t *it)
{
    if (!it)
        return;
    free(it->name);
    free(it->item_path);
    free(it->lease_path);
    free(it->data);
    free(it);
}

static void items_free(qitem_t *it)
{
    while (it) {
        qitem_t *next = it->next;
        zkr__q_item_free(it);
        it = next;
    }
}

/* The last reference is gone (the mutex is destroyed already). */
static void q_destroy(zkr__obj_t *o)
{
    zkr_queue_t *q = (zkr_queue_t *)o;
    zkr__q_ents_free(q);
    free(q->cname);
    free(q->cpath);
    zkr__q_shards_free(q->shards, q->nsh);
    items_free(q->ready);
    items_free(q->doubt);
    items_free(q->orphans);
    items_free(q->reclaim);
    zkr__q_marks_free(q->marks);
    free(q->ensuring);
    free(q->path);
    free(q->leases);
    pthread_cond_destroy(&q->cv);
    zkr__client_unref(q->c);
    free(q);
}

/* Caller holds q->obj.mu. */
qctx_t *zkr__q_ctx_new(zkr_queue_t *q)
{
    qctx_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->q = q;
    x->epoch = q->epoch;
    q->obj.refs++;
    return x;
}

static void ctx_release(qctx_t *x)
{
    zkr__q_marks_free(x->marks); /* a claim's context ended unanswered */
    free(x->name);
    zkr__q_item_free(x->it);
    for (int i = 0; i < x->nits; i++)
        zkr__q_item_free(x->its[i]);
    free(x->its);
    zkr__q_qlist_unref(x->lst); /* under q->obj.mu or by the last user */
    free(x);
}

void zkr__q_ctx_free(qctx_t *x)
{
    zkr_queue_t *q = x->q;
    pthread_mutex_lock(&q->obj.mu);
    zkr__q_qlist_unref(x->lst);
    x->lst = NULL;
    pthread_mutex_unlock(&q->obj.mu);
    ctx_release(x);
    zkr__obj_unref(&q->obj);
}

/* Caller holds q->obj.mu; never the last reference. */
void zkr__q_ctx_free_locked(qctx_t *x)
{
    x->q->obj.refs--;
    ctx_release(x);
}

/* ---- completing takes ---------------------------------------------------- */

void zkr__q_fire(zkr_queue_t *q, qreq_t *r, int status, qitem_t *it)
{
    r->status = status;
    r->item = it;
    r->next = NULL;
    if (it && it->kind == QK_LEASE)
        q->obj.refs++; /* the lease's */
    if (q->fires_tail)
        q->fires_tail->next = r;
    else
        q->fires = r;
    q->fires_tail = r;
}

/* Caller holds q->obj.mu: take r off the pending list. */
void zkr__q_unlink_req(zkr_queue_t *q, qreq_t *r)
{
    for (qreq_t **pp = &q->reqs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            q->nreq[r->kind]--;
            return;
        }
}

void zkr__q_fail_reqs(zkr_queue_t *q, int kind, int status)
{
    qreq_t *r = q->reqs, *next;
    for (; r; r = next) {
        next = r->next;
        if (kind < 0 || r->kind == kind) {
            zkr__q_unlink_req(q, r);
            zkr__q_fire(q, r, status, NULL);
        }
    }
}

/* Release q->obj.mu, then run completed takes and put back orphaned items. */
void zkr__q_unlock_fire(zkr_queue_t *q)
{
    qreq_t *r = q->fires;
    qitem_t *orphans = q->orphans;
    int hold = r || orphans;
    q->fires = q->fires_tail = NULL;
    q->orphans = NULL;
    if (hold)
        q->obj.refs++;
    if (q->freed)
        pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->obj.mu);
    while (r) {
        qreq_t *next = r->next;
        qitem_t *it = r->item;
        if (r->kind == QK_PLAIN) {
            r->tcb(q, r->status, it ? it->data : NULL, it ? it->len : 0,
                   it ? it->name : NULL, r->ctx);
            zkr__q_item_free(it);
        } else {
            zkr_queue_lease_t *l = (zkr_queue_lease_t *)it;
            if (l)
                l->q = q;
            r->lcb(q, r->status, l, r->ctx);
        }
        free(r);
        r = next;
    }
    while (orphans) {
        qitem_t *next = orphans->next;
        const void *d = orphans->data;
        if (zkr__q_put(q, &d, &orphans->len, 1, 0, NULL, NULL) != ZKR_OK)
            zkr__log(q->c, ZKR_LOG_ERROR,
                     "zkr: queue %s: cannot put back item %s", q->path,
                     orphans->name);
        zkr__q_item_free(orphans);
        orphans = next;
    }
    if (hold)
        zkr__obj_unref(&q->obj);
}

/* Caller holds q->obj.mu: an item claimed for nobody (the handle is freed). */
static void orphan(zkr_queue_t *q, qitem_t *it)
{
    if (it->kind == QK_LEASE) {
        zkr__q_release(q, it->lease_path, it->gen);
        zkr__q_item_free(it);
        return;
    }
    /* appended: they go back in the order they came out */
    {
        qitem_t **pp = &q->orphans;
        while (*pp)
            pp = &(*pp)->next;
        it->next = NULL;
        *pp = it;
    }
}

void zkr__q_ready_push(zkr_queue_t *q, qitem_t *it)
{
    if (q->freed) {
        orphan(q, it);
        return;
    }
    it->next = NULL;
    if (q->ready_tail)
        q->ready_tail->next = it;
    else
        q->ready = it;
    q->ready_tail = it;
    q->nready[it->kind]++;
}

/* Caller holds q->obj.mu: hand ready items to pending takes, oldest first. */
void zkr__q_deliver(zkr_queue_t *q)
{
    qreq_t *r = q->reqs, *next;
    for (; r && q->ready; r = next) {
        qitem_t **pp, *prev = NULL;
        next = r->next;
        for (pp = &q->ready; *pp; prev = *pp, pp = &(*pp)->next)
            if ((*pp)->kind == r->kind)
                break;
        if (!*pp)
            continue;
        {
            qitem_t *it = *pp;
            *pp = it->next;
            if (q->ready_tail == it)
                q->ready_tail = prev;
            q->nready[it->kind]--;
            zkr__q_unlink_req(q, r);
            zkr__q_fire(q, r, ZKR_OK, it);
        }
    }
}

int zkr__q_connected(zkr_queue_t *q)
{
    zkr_state_t s = zkr_client_state(q->c);
    return s == ZKR_STATE_CONNECTED || s == ZKR_STATE_RECONNECTED;
}

void zkr__q_demand(zkr_queue_t *q, int d[2])
{
    for (int k = 0; k < 2; k++)
        d[k] = q->nreq[k] + (k == q->last_kind ? q->prefetch : 0) -
               q->nready[k] - q->claiming[k];
}

int zkr__q_gone_code(int rc)
{
    /* EOPTIMEOUT: the client gave up on a silent connection */
    return rc == ZKR_ECONNLOSS || rc == ZKR_EOPTIMEOUT ||
           rc == ZKR_ESESSIONEXPIRED || rc == ZKR_ECANCELED ||
           rc == ZKR_ECLOSING || rc == ZKR_ECLOSED;
}

/* ---- connection states --------------------------------------------------- */

static void on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkr_queue_t *q = ctx;
    (void)c;
    pthread_mutex_lock(&q->obj.mu);
    switch (st) {
    case ZKR_STATE_LOST: {
        /* leases went with the session */
        qitem_t **pp = &q->ready;
        q->ready_tail = NULL;
        while (*pp) {
            qitem_t *it = *pp;
            if (it->kind == QK_LEASE) {
                *pp = it->next;
                q->nready[QK_LEASE]--;
                zkr__q_item_free(it);
            } else {
                q->ready_tail = it;
                pp = &it->next;
            }
        }
        zkr__q_wake(q, -1);
        q->epoch++;
        break;
    }
    case ZKR_STATE_RECONNECTED:
    case ZKR_STATE_CONNECTED:
        zkr__q_wake(q, -1);
        if (q->nshards_put > 0)
            q->discovered = 0;
        zkr__q_pump(q);
        break;
    case ZKR_STATE_CLOSED:
        q->closed = 1;
        zkr__q_fail_reqs(q, -1, ZKR_ECANCELED);
        break;
    case ZKR_STATE_AUTH_FAILED:
        zkr__q_fail_reqs(q, -1, ZKR_EAUTHFAILED);
        break;
    case ZKR_STATE_SUSPENDED:
        break;
    }
    zkr__q_unlock_fire(q);
}

/* ---- public API ----------------------------------------------------------- */

void zkr_queue_opts_init(zkr_queue_opts_t *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

int zkr_queue_new(zkr_client_t *c, const char *path,
                  const zkr_queue_opts_t *opts, zkr_queue_t **out)
{
    zkr_queue_opts_t defaults;
    zkr_queue_t *q;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!c)
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(path)) != ZKR_OK)
        return rc;
    if (strcmp(path, "/") == 0)
        return ZKR_EBADPATH;
    if (!opts) {
        zkr_queue_opts_init(&defaults);
        opts = &defaults;
    }
    if (opts->shards < 0 || opts->shards > 9999 || opts->prefetch < 0 ||
        opts->prefetch > 100000 || opts->orphan_ms < 0)
        return ZKR_EINVAL;
    const struct ACL_vector *acl;
    if ((rc = zkr__acl_pick(c, opts->acl, &acl)) != ZKR_OK)
        return rc;
    if (zkr__client_closed(c))
        return ZKR_ECLOSED;
    q = calloc(1, sizeof *q);
    if (!q)
        return ZKR_ENOMEM;
    if (zkr__obj_init(&q->obj, q_destroy) != ZKR_OK) {
        free(q);
        return ZKR_ENOMEM;
    }
    zkr__cond_init(&q->cv);
    q->c = c;
    q->acl = acl;
    q->nshards_put = opts->shards;
    q->batch = 1;
    q->prefetch = opts->prefetch;
    q->orphan_ms = opts->orphan_ms ? opts->orphan_ms : ZKR_QUEUE_ORPHAN_MS;
    {
        char uuid[37];
        zkr__uuid(uuid);
        q->token_len = (size_t)snprintf(q->token, sizeof q->token,
                                        "zkr-claim-%s", uuid);
    }
    q->rr = zkr__q_rand();
    q->path = strdup(path);
    q->ensuring = calloc((size_t)(opts->shards ? opts->shards : 1), 1);
    rc = q->path && q->ensuring ? zkr_path_join(path, "leases", &q->leases)
                                : ZKR_ENOMEM;
    if (rc == ZKR_OK && opts->shards == 0) {
        q->shards = calloc(1, sizeof *q->shards);
        if (!q->shards || !(q->shards[0].name = strdup("")) ||
            !(q->shards[0].path = strdup(path)))
            rc = ZKR_ENOMEM;
        else
            q->nsh = 1;
        q->discovered = 1;
    }
    zkr__client_ref(c);
    if (rc == ZKR_OK)
        rc = zkr_client_add_listener(c, on_state, q);
    if (rc != ZKR_OK) {
        if (q->shards && !q->nsh) {
            free(q->shards[0].name);
            free(q->shards);
            q->shards = NULL;
        }
        zkr__obj_unref(&q->obj);
        return rc;
    }
    *out = q;
    return ZKR_OK;
}

static int take_start(zkr_queue_t *q, int kind, int poll,
                      zkr_queue_take_cb tcb, zkr_queue_lease_cb lcb,
                      void *ctx, unsigned *id)
{
    qreq_t *r, **pp;
    pthread_mutex_lock(&q->obj.mu);
    if (q->freed || q->closed || zkr__client_closed(q->c)) {
        pthread_mutex_unlock(&q->obj.mu);
        return ZKR_ECLOSED;
    }
    r = calloc(1, sizeof *r);
    if (!r) {
        pthread_mutex_unlock(&q->obj.mu);
        return ZKR_ENOMEM;
    }
    r->id = ++q->next_req;
    r->kind = kind;
    r->poll = poll;
    r->mark = q->nlist;
    r->tcb = tcb;
    r->lcb = lcb;
    r->ctx = ctx;
    for (pp = &q->reqs; *pp; pp = &(*pp)->next)
        ;
    *pp = r;
    q->nreq[kind]++;
    q->active = 1;
    q->last_kind = kind;
    if (id)
        *id = r->id;
    if (poll)
        zkr__q_wake(q, -1); /* a fresh look */
    zkr__q_pump(q);
    zkr__q_unlock_fire(q);
    return ZKR_OK;
}

int zkr_queue_take_async(zkr_queue_t *q, zkr_queue_take_cb cb, void *ctx)
{
    if (!q || !cb)
        return ZKR_EINVAL;
    return take_start(q, QK_PLAIN, 0, cb, NULL, ctx, NULL);
}

int zkr_queue_take_lease_async(zkr_queue_t *q, zkr_queue_lease_cb cb,
                               void *ctx)
{
    if (!q || !cb)
        return ZKR_EINVAL;
    return take_start(q, QK_LEASE, 0, NULL, cb, ctx, NULL);
}

/* Cancel the pending take id (0: all). */
static int cancel_id(zkr_queue_t *q, unsigned id)
{
    int found = 0;
    pthread_mutex_lock(&q->obj.mu);
    for (qreq_t *r = q->reqs, *next; r; r = next) {
        next = r->next;
        if (id == 0 || r->id == id) {
            zkr__q_unlink_req(q, r);
            zkr__q_fire(q, r, ZKR_ECANCELED, NULL);
            found = 1;
        }
    }
    zkr__q_unlock_fire(q);
    return found ? ZKR_OK : ZKR_ENOTHELD;
}

int zkr_queue_cancel(zkr_queue_t *q)
{
    if (!q)
        return ZKR_EINVAL;
    return cancel_id(q, 0);
}

struct take_wait {
    zkr__waiter_t w;
    char *data;
    size_t len;
    zkr_queue_lease_t *lease;
};

static void take_wait_cb(zkr_queue_t *q, int status, const void *data,
                         size_t len, const char *name, void *ctx)
{
    struct take_wait *t = ctx;
    (void)q;
    (void)name;
    if (status == ZKR_OK) {
        t->data = malloc(len + 1);
        if (t->data) {
            memcpy(t->data, data, len + 1);
            t->len = len;
        } else {
            /* the item is lost to this process: put it back */
            zkr__q_put(q, &data, &len, 1, 0, NULL, NULL);
            status = ZKR_ENOMEM;
        }
    }
    zkr__waiter_signal(&t->w, status);
}

static void lease_wait_cb(zkr_queue_t *q, int status, zkr_queue_lease_t *l,
                          void *ctx)
{
    struct take_wait *t = ctx;
    (void)q;
    t->lease = l;
    zkr__waiter_signal(&t->w, status);
}

static int take_blocking(zkr_queue_t *q, int kind, int timeout_ms,
                         struct take_wait *t)
{
    unsigned id = 0;
    int rc;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    zkr__waiter_init(&t->w);
    rc = take_start(q, kind, timeout_ms == 0, take_wait_cb, lease_wait_cb, t,
                    &id);
    if (rc == ZKR_OK) {
        rc = zkr__waiter_wait(&t->w, timeout_ms <= 0 ? -1 : timeout_ms);
        if (rc == ZKR_ETIMEDOUT) {
            cancel_id(q, id);
            /* exactly once: an item may have been handed over just now */
            rc = zkr__waiter_wait(&t->w, -1);
            if (rc == ZKR_ECANCELED)
                rc = ZKR_ETIMEDOUT;
        }
    }
    zkr__waiter_destroy(&t->w);
    return rc;
}

int zkr_queue_take(zkr_queue_t *q, int timeout_ms, char **data, size_t *len)
{
    struct take_wait t = {.data = NULL};
    int rc;
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!q || !data || !len)
        return ZKR_EINVAL;
    rc = take_blocking(q, QK_PLAIN, timeout_ms, &t);
    if (rc == ZKR_OK) {
        *data = t.data;
        *len = t.len;
    } else {
        free(t.data);
    }
    return rc;
}

int zkr_queue_take_lease(zkr_queue_t *q, int timeout_ms,
                         zkr_queue_lease_t **lease)
{
    struct take_wait t = {.data = NULL};
    int rc;
    if (lease)
        *lease = NULL;
    if (!q || !lease)
        return ZKR_EINVAL;
    rc = take_blocking(q, QK_LEASE, timeout_ms, &t);
    if (rc == ZKR_OK)
        *lease = t.lease;
    else if (t.lease)
        zkr_queue_nack(t.lease);
    return rc;
}

void zkr_queue_free(zkr_queue_t *q)
{
    if (!q)
        return;
    zkr_client_remove_listener(q->c, on_state, q);
    pthread_mutex_lock(&q->obj.mu);
    q->freed = 1;
    zkr__q_fail_reqs(q, -1, ZKR_ECANCELED);
    while (q->ready) {
        qitem_t *it = q->ready;
        q->ready = it->next;
        q->nready[it->kind]--;
        orphan(q, it);
    }
    q->ready_tail = NULL;
    /* claims a failed batch left undecided were not applied: drop them */
    while (q->reclaim) {
        qitem_t *it = q->reclaim;
        q->reclaim = it->next;
        q->claiming[it->kind]--;
        zkr__q_item_free(it);
    }
    q->reclaim_tail = NULL;
    /* claims in doubt: check them now, the checks put back what is ours
     * (and delete its marker) */
    if (q->doubt && zkr__q_connected(q))
        zkr__q_resolve(q);
    zkr__q_unlock_fire(q);
    if (!zkr__in_callback()) {
        int t = zkr_client_session_timeout(q->c);
        int64_t end = zkr__now_ms() + 2 * (t > 0 ? t : 10000);
        pthread_mutex_lock(&q->obj.mu);
        for (;;) {
            struct timespec ts;
            int64_t left = end - zkr__now_ms();
            /* doubts and marker deletes wait for the connection to come
             * back, on this session or a new one (markers outlive it) */
            if (q->doubt && zkr__q_connected(q))
                zkr__q_resolve(q);
            if (q->marks)
                zkr__q_send_marks(q); /* when connected */
            if (!(q->claiming[0] + q->claiming[1] > 0 || q->bg > 0 ||
                  q->checking > 0 || q->orphans || q->reclaim || q->doubt ||
                  q->marks) ||
                left <= 0)
                break;
            zkr__deadline(left < 100 ? (int)left : 100, &ts);
            zkr__cond_wait(&q->cv, &q->obj.mu, 1, &ts);
        }
        for (qitem_t *it = q->doubt; it; it = it->next)
            if (it->kind == QK_PLAIN)
                zkr__log(q->c, ZKR_LOG_WARN,
                         "zkr: queue %s: freed before the claim of item %s "
                         "could be checked; the item may be lost",
                         q->path, it->name);
        zkr__q_unlock_fire(q); /* put back what the last claims brought */
        pthread_mutex_lock(&q->obj.mu);
        while ((q->bg > 0 || q->marks) && zkr__now_ms() < end) {
            struct timespec ts;
            if (q->marks)
                zkr__q_send_marks(q);
            zkr__deadline(100, &ts);
            zkr__cond_wait(&q->cv, &q->obj.mu, 1, &ts);
        }
        for (qmark_t *k = q->marks; k; k = k->next)
            zkr__log(q->c, ZKR_LOG_WARN,
                     "zkr: queue %s: claim marker %s not deleted before "
                     "free (it is removed as an orphan later)",
                     q->path, k->path);
        pthread_mutex_unlock(&q->obj.mu);
    }
    zkr__obj_unref(&q->obj);
}
