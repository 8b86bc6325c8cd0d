/* SPDX-License-Identifier: Apache-2.0 */
/* Naming service: unique IDs reserved in blocks through sequential nodes,
 * and name bindings (bind, resolve, unbind, watch). */
#define ZKR_BUILDING 1
#include "zkr/naming.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registryint.h"

#define META_PREFIX "zkr-idgen batch="
/* Retire a bucket well before its signed 32-bit counter could wrap. */
#define BUCKET_LIMIT (1 << 30)
#define MAX_BATCH 65536

/* ======================================================================= */
/* Unique IDs                                                               */
/* ======================================================================= */

struct idreq {
    struct idreq *next;
    zkr_idgen_cb cb;
    void *ctx;
    int status;
    int64_t id;
};

struct zkr_idgen {
    zkr__obj_t obj; /* first: mutex and references */
    zkr_client_t *c;
    char *path;
    const struct ACL_vector *acl; /* of every node we create */
    int want_batch; /* ours, used if we create the path */
    int batch;      /* the path's, 0 until read */
    int64_t bucket; /* -1 until listed */
    int64_t next, end; /* the current block */
    struct idreq *head, *tail, *done;
    int busy;       /* a request to the server is on its way */
    int waiting;    /* stopped until the client is connected again */
    int tries;
    unsigned token, reservations;
    int freed;
};

/* A context's generator. */
#define G(x) ((zkr_idgen_t *)(x)->o)

static void g_destroy(zkr__obj_t *o)
{
    zkr_idgen_t *g = (zkr_idgen_t *)o;
    zkr__client_unref(g->c);
    free(g->path);
    free(g);
}

/* Caller holds g->obj.mu; returns with it released after the callbacks. */
static void g_fire(zkr_idgen_t *g)
{
    struct idreq *done = g->done, *rev = NULL;
    g->done = NULL;
    g->obj.refs++;
    pthread_mutex_unlock(&g->obj.mu);
    while (done) { /* built newest first */
        struct idreq *n = done->next;
        done->next = rev;
        rev = done;
        done = n;
    }
    while (rev) {
        struct idreq *n = rev->next;
        rev->cb(g, rev->status, rev->id, rev->ctx);
        free(rev);
        rev = n;
    }
    zkr__obj_unref(&g->obj);
}

/* Caller holds g->obj.mu: a context for the next step (older replies
 * become stale). The token moves on only when the context exists. */
static zkr__ctx_t *gctx(zkr_idgen_t *g)
{
    zkr__ctx_t *x = zkr__ctx_new(&g->obj, 0, g->token + 1, NULL);
    if (x)
        g->token++;
    return x;
}

static void answer(zkr_idgen_t *g, int status, int64_t id)
{
    struct idreq *r = g->head;
    g->head = r->next;
    if (!g->head)
        g->tail = NULL;
    r->status = status;
    r->id = status == ZKR_OK ? id : 0;
    r->next = g->done;
    g->done = r;
}

/* Caller holds g->obj.mu: a lasting failure ends every waiting request. */
static void fail_all(zkr_idgen_t *g, int rc)
{
    g->busy = 0;
    g->token++;
    while (g->head)
        answer(g, rc, 0);
}

static void step_meta(zkr_idgen_t *g);
static void step_buckets(zkr_idgen_t *g);
static void step_reserve(zkr_idgen_t *g);

/* Caller holds g->obj.mu: serve what the block allows, then ask for more. */
static void kick(zkr_idgen_t *g)
{
    while (g->head && g->next < g->end)
        answer(g, ZKR_OK, g->next++);
    if (!g->head || g->busy || g->freed || g->waiting)
        return;
    g->busy = 1;
    g->tries = 0;
    if (!g->batch)
        step_meta(g);
    else if (g->bucket < 0)
        step_buckets(g);
    else
        step_reserve(g);
}

/* Caller holds g->obj.mu: the step could not complete; decide how to go on. */
static void step_failed(zkr_idgen_t *g, int rc)
{
    g->busy = 0;
    g->token++;
    if (rc == ZKR_ECONNLOSS || rc == ZKR_ESESSIONEXPIRED ||
        rc == ZKR_ECANCELED) {
        /* the listener kicks again once connected */
        g->waiting = 1;
        if (zkr_client_state(g->c) == ZKR_STATE_CONNECTED ||
            zkr_client_state(g->c) == ZKR_STATE_RECONNECTED) {
            g->waiting = 0;
            kick(g);
        }
    } else {
        fail_all(g, rc == ZKR_ECLOSED ? ZKR_ECANCELED : rc);
    }
}

/* Start an operation for the current step; on failure to send, fail. */
#define SEND(g, x, call)                                                      \
    do {                                                                      \
        zkr__ctx_t *x = gctx(g);                                              \
        int src_ = x ? (call) : ZKR_ENOMEM;                                   \
        if (src_ != ZKR_OK) {                                                 \
            zkr__ctx_drop(x);                                                 \
            step_failed(g, src_);                                             \
        }                                                                     \
    } while (0)

static int stale(const zkr__ctx_t *x)
{
    return x->token != G(x)->token || !G(x)->busy || G(x)->freed;
}

static void newbucket_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_idgen_t *g = G(x);
    pthread_mutex_lock(&g->obj.mu);
    if (!stale(x)) {
        if (rc == ZKR_OK || rc == ZKR_ENODEEXISTS) {
            g->bucket++;
            step_reserve(g);
        } else {
            step_failed(g, rc);
        }
    }
    g_fire(g);
    zkr__ctx_done(x);
}

static void reserve_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_idgen_t *g = G(x);
    int32_t seq;
    if (rc == ZKR_OK)
        zkr__delete_bg(g->c, op->value); /* it has served its purpose */
    pthread_mutex_lock(&g->obj.mu);
    if (stale(x))
        goto out;
    if (rc == ZKR_OK && zkr__seq_of(op->value, &seq) == 0) {
        if (seq < 0 || seq >= BUCKET_LIMIT) {
            /* this bucket is spent: the next one (one plain create, so
             * every generator agrees on it) */
            char name[32], *p = NULL;
            snprintf(name, sizeof name, "b-%010lld",
                     (long long)(g->bucket + 1));
            if (zkr_path_join(g->path, name, &p) == ZKR_OK)
                SEND(g, y, zkr__acreate_acl(g->c, p, NULL, 0,
                                            ZKR_PERSISTENT, g->acl,
                                            newbucket_cb, y));
            else
                step_failed(g, ZKR_ENOMEM);
            free(p);
        } else if (g->bucket > ((INT64_MAX / g->batch) >> 31) - 1) {
            fail_all(g, ZKR_EINVAL); /* 64 bits used up */
        } else {
            g->next = ((g->bucket << 31) | seq) * (int64_t)g->batch;
            g->end = g->next + g->batch;
            g->reservations++;
            g->busy = 0;
            g->token++;
            kick(g);
        }
    } else if (rc == ZKR_OK) {
        step_failed(g, ZKR_EMARSHALLING);
    } else if (rc == ZKR_ENONODE && ++g->tries < 5) {
        step_buckets(g); /* the bucket went away: list again */
    } else {
        step_failed(g, rc);
    }
out:
    g_fire(g);
    zkr__ctx_done(x);
}

/* Caller holds g->obj.mu. */
static void step_reserve(zkr_idgen_t *g)
{
    char name[40], *p = NULL;
    snprintf(name, sizeof name, "b-%010lld", (long long)g->bucket);
    if (zkr_path_join(g->path, name, &p) != ZKR_OK) {
        step_failed(g, ZKR_ENOMEM);
        return;
    }
    {
        char *q = NULL;
        if (zkr_path_join(p, "r-", &q) == ZKR_OK)
            SEND(g, x, zkr__acreate_acl(g->c, q, NULL, 0,
                                        ZKR_EPHEMERAL | ZKR_SEQUENTIAL,
                                        g->acl, reserve_cb, x));
        else
            step_failed(g, ZKR_ENOMEM);
        free(q);
    }
    free(p);
}

static void buckets_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_idgen_t *g = G(x);
    pthread_mutex_lock(&g->obj.mu);
    if (stale(x))
        goto out;
    if (rc == ZKR_OK) {
        int64_t best = -1;
        for (int i = 0; i < op->strings->count; i++) {
            const char *n = op->strings->data[i];
            char *end;
            long long v;
            if (strncmp(n, "b-", 2) != 0 || strlen(n) != 12)
                continue;
            v = strtoll(n + 2, &end, 10);
            if (*end == '\0' && v >= 0 && v > best)
                best = v;
        }
        if (best > g->bucket)
            g->bucket = best;
        if (g->bucket >= 0) {
            step_reserve(g);
        } else {
            /* first user: bucket 0 (newbucket_cb counts up from -1) */
            char *p = NULL;
            if (zkr_path_join(g->path, "b-0000000000", &p) == ZKR_OK)
                SEND(g, y, zkr__acreate_acl(g->c, p, NULL, 0,
                                            ZKR_PERSISTENT, g->acl,
                                            newbucket_cb, y));
            else
                step_failed(g, ZKR_ENOMEM);
            free(p);
        }
    } else if (rc == ZKR_ENONODE) {
        g->batch = 0; /* the path is gone: start over */
        if (++g->tries < 5)
            step_meta(g);
        else
            step_failed(g, rc);
    } else {
        step_failed(g, rc);
    }
out:
    g_fire(g);
    zkr__ctx_done(x);
}

/* Caller holds g->obj.mu. */
static void step_buckets(zkr_idgen_t *g)
{
    SEND(g, x, zkr__achildren(g->c, g->path, NULL, NULL, buckets_cb, x));
}

static int parse_meta(const char *v, int len, int *batch)
{
    char buf[64], *end;
    long b;
    size_t pl = strlen(META_PREFIX), n;
    if (len <= 0)
        return 0;
    n = (size_t)len;
    if (n >= sizeof buf || n <= pl || memcmp(v, META_PREFIX, pl) != 0)
        return 0;
    memcpy(buf, v, n);
    buf[n] = '\0';
    b = strtol(buf + pl, &end, 10);
    if (*end != '\0' || b < 1 || b > MAX_BATCH)
        return 0;
    *batch = (int)b;
    return 1;
}

static void meta_write_cb(zkr__op_t *op, int rc);

static void meta_ensure_cb(void *ctx, int rc)
{
    zkr__ctx_t *x = ctx;
    zkr_idgen_t *g = G(x);
    pthread_mutex_lock(&g->obj.mu);
    if (!stale(x)) {
        if (rc == ZKR_OK)
            step_meta(g);
        else
            step_failed(g, rc);
    }
    g_fire(g);
    zkr__ctx_done(x);
}

static void meta_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_idgen_t *g = G(x);
    char meta[64];
    int mlen = snprintf(meta, sizeof meta, META_PREFIX "%d", g->want_batch);
    pthread_mutex_lock(&g->obj.mu);
    if (stale(x))
        goto out;
    if (rc == ZKR_OK) {
        int b;
        if (parse_meta(op->value, op->value_len, &b)) {
            g->batch = b;
            step_buckets(g);
        } else if (op->value_len == 0) {
            /* an empty node (made by hand, or a bare parent): claim it */
            SEND(g, y, zkr__aset(g->c, g->path, meta, (size_t)mlen,
                                 op->stat->version, meta_write_cb, y));
        } else {
            step_failed(g, ZKR_EMARSHALLING);
        }
    } else if (rc == ZKR_ENONODE) {
        SEND(g, y, zkr__acreate_acl(g->c, g->path, meta, (size_t)mlen,
                                    ZKR_PERSISTENT, g->acl, meta_write_cb,
                                    y));
    } else {
        step_failed(g, rc);
    }
out:
    g_fire(g);
    zkr__ctx_done(x);
}

static void meta_write_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_idgen_t *g = G(x);
    pthread_mutex_lock(&g->obj.mu);
    if (stale(x))
        goto out;
    if (rc == ZKR_OK) {
        g->batch = g->want_batch;
        step_buckets(g);
    } else if ((rc == ZKR_ENODEEXISTS || rc == ZKR_EBADVERSION) &&
               ++g->tries < 10) {
        step_meta(g); /* another generator came first: read its batch */
    } else if (rc == ZKR_ENONODE && ++g->tries < 10) {
        char *parent = zkr__path_parent(g->path);
        if (parent)
            SEND(g, y, zkr__aensure_acl(g->c, parent, ZKR_PERSISTENT,
                                        g->acl, meta_ensure_cb, y));
        else
            step_failed(g, ZKR_ENOMEM);
        free(parent);
    } else {
        step_failed(g, rc);
    }
out:
    g_fire(g);
    zkr__ctx_done(x);
}

/* Caller holds g->obj.mu. */
static void step_meta(zkr_idgen_t *g)
{
    SEND(g, x, zkr__aget(g->c, g->path, NULL, NULL, meta_cb, x));
}

static void g_on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkr_idgen_t *g = ctx;
    (void)c;
    pthread_mutex_lock(&g->obj.mu);
    if (st == ZKR_STATE_CONNECTED || st == ZKR_STATE_RECONNECTED) {
        if (g->waiting) {
            g->waiting = 0;
            kick(g);
        }
    } else if (st == ZKR_STATE_CLOSED) {
        fail_all(g, ZKR_ECANCELED);
    }
    g_fire(g);
}

void zkr_idgen_opts_init(zkr_idgen_opts_t *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o); /* fields added later default to zero */
    o->batch = 1000;
}

int zkr_idgen_new(zkr_client_t *c, const char *path,
                  const zkr_idgen_opts_t *opts, zkr_idgen_t **out)
{
    zkr_idgen_opts_t defaults;
    zkr_idgen_t *g;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!opts) {
        zkr_idgen_opts_init(&defaults);
        opts = &defaults;
    }
    if (!c || opts->batch < 1 || opts->batch > MAX_BATCH)
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(path)) != ZKR_OK)
        return rc;
    if (!strcmp(path, "/"))
        return ZKR_EBADPATH;
    const struct ACL_vector *acl;
    if ((rc = zkr__acl_pick(c, opts->acl, &acl)) != ZKR_OK)
        return rc;
    if (zkr__client_closed(c))
        return ZKR_ECLOSED;
    g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(path))) {
        free(g);
        return ZKR_ENOMEM;
    }
    if (zkr__obj_init(&g->obj, g_destroy) != ZKR_OK) {
        free(g->path);
        free(g);
        return ZKR_ENOMEM;
    }
    g->c = c;
    zkr__client_ref(c);
    g->want_batch = opts->batch;
    g->acl = acl;
    g->bucket = -1;
    if ((rc = zkr_client_add_listener(c, g_on_state, g)) != ZKR_OK) {
        zkr__obj_unref(&g->obj);
        return rc;
    }
    *out = g;
    return ZKR_OK;
}

int zkr_idgen_next_async(zkr_idgen_t *g, zkr_idgen_cb cb, void *ctx)
{
    struct idreq *r;
    if (!g || !cb)
        return ZKR_EINVAL;
    r = calloc(1, sizeof *r);
    if (!r)
        return ZKR_ENOMEM;
    r->cb = cb;
    r->ctx = ctx;
    pthread_mutex_lock(&g->obj.mu);
    if (g->freed || zkr__client_closed(g->c)) {
        pthread_mutex_unlock(&g->obj.mu);
        free(r);
        return ZKR_ECLOSED;
    }
    if (g->tail)
        g->tail->next = r;
    else
        g->head = r;
    g->tail = r;
    kick(g);
    g_fire(g);
    return ZKR_OK;
}

struct blocking {
    zkr__waiter_t w;
    int64_t id;
};

static void blocking_cb(zkr_idgen_t *g, int status, int64_t id, void *ctx)
{
    struct blocking *b = ctx;
    (void)g;
    b->id = id;
    zkr__waiter_signal(&b->w, status);
}

int zkr_idgen_next(zkr_idgen_t *g, int timeout_ms, int64_t *id)
{
    struct blocking *b;
    int rc;
    if (id)
        *id = 0;
    if (!g || !id)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    b = calloc(1, sizeof *b); /* a late callback must find it alive */
    if (!b)
        return ZKR_ENOMEM;
    zkr__waiter_init(&b->w);
    rc = zkr_idgen_next_async(g, blocking_cb, b);
    if (rc == ZKR_OK)
        rc = zkr__waiter_wait(&b->w, timeout_ms);
    if (rc == ZKR_ETIMEDOUT) {
        struct idreq **pp;
        int found = 0;
        pthread_mutex_lock(&g->obj.mu);
        for (pp = &g->head; *pp; pp = &(*pp)->next)
            if ((*pp)->ctx == b) {
                struct idreq *r = *pp;
                *pp = r->next;
                if (g->tail == r) {
                    g->tail = NULL;
                    for (struct idreq *t = g->head; t; t = t->next)
                        g->tail = t;
                }
                free(r);
                found = 1;
                break;
            }
        pthread_mutex_unlock(&g->obj.mu);
        if (!found) /* answered meanwhile: keep that answer */
            rc = zkr__waiter_wait(&b->w, -1);
    }
    if (rc == ZKR_OK)
        *id = b->id;
    zkr__waiter_destroy(&b->w);
    free(b);
    return rc;
}

int zkr_idgen_batch(zkr_idgen_t *g)
{
    int b;
    if (!g)
        return 0;
    pthread_mutex_lock(&g->obj.mu);
    b = g->batch ? g->batch : g->want_batch;
    pthread_mutex_unlock(&g->obj.mu);
    return b;
}

unsigned zkr_idgen_reservations(zkr_idgen_t *g)
{
    unsigned n;
    if (!g)
        return 0;
    pthread_mutex_lock(&g->obj.mu);
    n = g->reservations;
    pthread_mutex_unlock(&g->obj.mu);
    return n;
}

void zkr_idgen_free(zkr_idgen_t *g)
{
    if (!g)
        return;
    zkr_client_remove_listener(g->c, g_on_state, g);
    pthread_mutex_lock(&g->obj.mu);
    g->freed = 1;
    fail_all(g, ZKR_ECANCELED);
    g_fire(g);
    zkr__obj_unref(&g->obj);
}

/* ======================================================================= */
/* Name bindings                                                            */
/* ======================================================================= */

static void multi_cb(zkr__op_t *op, int rc)
{
    zkr__waiter_signal(op->ctx, rc);
}

/* Replace the node in one step: delete the version we saw, create ours. */
static int replace(zkr_client_t *c, const char *name, int version,
                   const void *value, size_t len, int flags)
{
    zkr__waiter_t w;
    zkr__multi_t *m = zkr__multi_new(c, 2);
    int rc;
    if (!m)
        return ZKR_ENOMEM;
    if ((rc = zkr__multi_delete(m, name, version)) != ZKR_OK ||
        (rc = zkr__multi_create(m, name, value, len, flags)) != ZKR_OK) {
        zkr__multi_free(m);
        return rc;
    }
    zkr__waiter_init(&w);
    rc = zkr__amulti(m, multi_cb, &w);
    if (rc == ZKR_OK)
        rc = zkr__waiter_wait(&w, -1);
    zkr__waiter_destroy(&w);
    return rc;
}

int zkr_naming_bind(zkr_client_t *c, const char *name, const void *value,
                    size_t len, int flags)
{
    int ephemeral = (flags & ZKR_NAMING_EPHEMERAL) != 0;
    int zflags = ephemeral ? ZKR_EPHEMERAL : ZKR_PERSISTENT;
    int rc;
    if (!c || (len && !value) ||
        (flags & ~(ZKR_NAMING_EPHEMERAL | ZKR_NAMING_EXCLUSIVE)))
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(name)) != ZKR_OK)
        return rc;
    if (!strcmp(name, "/"))
        return ZKR_EBADPATH;
    if (len > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    for (int round = 0; round < 10; round++) {
        zkr_stat_t st;
        rc = zkr_create(c, name, value, len, zflags, NULL);
        if (rc == ZKR_ENONODE) {
            char *parent = zkr__path_parent(name);
            rc = parent ? zkr_ensure_path(c, parent) : ZKR_ENOMEM;
            free(parent);
            if (rc != ZKR_OK)
                return rc;
            continue;
        }
        if (rc != ZKR_ENODEEXISTS || (flags & ZKR_NAMING_EXCLUSIVE))
            return rc;
        rc = zkr_exists(c, name, &st);
        if (rc == ZKR_ENONODE)
            continue;
        if (rc != ZKR_OK)
            return rc;
        if ((st.ephemeral_owner != 0) == ephemeral &&
            (!ephemeral ||
             st.ephemeral_owner == zkr_client_session_id(c)))
            rc = zkr_set(c, name, value, len, st.version, NULL);
        else
            rc = replace(c, name, st.version, value, len, zflags);
        if (rc != ZKR_EBADVERSION && rc != ZKR_ENONODE &&
            rc != ZKR_ENODEEXISTS)
            return rc;
    }
    return ZKR_EBUSY;
}

int zkr_naming_resolve(zkr_client_t *c, const char *name, char **value,
                       size_t *len)
{
    size_t l = 0;
    int rc;
    if (value)
        *value = NULL;
    if (len)
        *len = 0;
    if (!c || !value)
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(name)) != ZKR_OK)
        return rc;
    rc = zkr_get(c, name, value, &l, NULL);
    if (rc == ZKR_OK && len)
        *len = l;
    return rc;
}

int zkr_naming_unbind(zkr_client_t *c, const char *name)
{
    int rc;
    if (!c)
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(name)) != ZKR_OK)
        return rc;
    if (!strcmp(name, "/"))
        return ZKR_EBADPATH;
    return zkr_delete(c, name, -1);
}

/* ---- watching a name ----------------------------------------------------- */

struct zkr_naming_watch {
    zkr__obj_t obj; /* first: mutex and references */
    zkr_client_t *c;
    char *path;
    zkr_naming_cb cb;
    void *ctx;
    int bound;        /* -1 not known yet, 0, 1 */
    int64_t mzxid;    /* of the value last reported */
    unsigned wtoken;  /* the current read and its watch */
    int need_read;
    int freed;
    struct evq q;
};

/* A report, with its value in the same block. */
struct nev {
    struct ev base;
    size_t len;
    char value[];
};

/* A context's watch. */
#define W(x) ((zkr_naming_watch_t *)(x)->o)

static void w_destroy(zkr__obj_t *o)
{
    zkr_naming_watch_t *w = (zkr_naming_watch_t *)o;
    zkr__client_unref(w->c);
    pthread_cond_destroy(&w->q.idle);
    free(w->path);
    free(w);
}

static void w_invoke(void *obj, const struct ev *e)
{
    const struct nev *n = (const struct nev *)e;
    ((zkr_naming_cb)e->cb)(obj, e->status,
                           e->status == ZKR_OK ? n->value : NULL, n->len,
                           e->ctx);
}

/* Caller holds w->obj.mu; returns with it released. */
static void w_fire(zkr_naming_watch_t *w)
{
    w->obj.refs++;
    evq_deliver(&w->q, &w->obj.mu, w, &w->freed, w_invoke);
    zkr__obj_unref(&w->obj);
}

/* Caller holds w->obj.mu. */
static void w_report(zkr_naming_watch_t *w, int status, const char *value,
                     size_t len)
{
    struct nev *n = calloc(1, sizeof *n + len + 1);
    if (!n)
        return;
    n->base.cb = (ev_fn)w->cb;
    n->base.ctx = w->ctx;
    n->base.status = status;
    n->base.is_state = 1;
    n->len = len;
    if (len)
        memcpy(n->value, value, len);
    evq_push(&w->q, &n->base);
}

/* Caller holds w->obj.mu. */
static zkr__ctx_t *wctx(zkr_naming_watch_t *w, unsigned token)
{
    return zkr__ctx_new(&w->obj, 0, token, NULL);
}

static void w_read(zkr_naming_watch_t *w);

static void name_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *x = ctx;
    zkr_naming_watch_t *w = W(x);
    (void)path;
    pthread_mutex_lock(&w->obj.mu);
    if (x->token == w->wtoken && type != ZKR__WATCH_CANCELED && !w->freed)
        w_read(w);
    w_fire(w);
    zkr__ctx_done(x);
}

static void w_failed(zkr_naming_watch_t *w, int rc)
{
    if (rc == ZKR_ECONNLOSS)
        w->need_read = 1; /* read again when reconnected */
    else if (rc != ZKR_ESESSIONEXPIRED && rc != ZKR_ECANCELED &&
             rc != ZKR_ECLOSED)
        w_report(w, rc, NULL, 0);
}

static void name_exists_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_naming_watch_t *w = W(x);
    pthread_mutex_lock(&w->obj.mu);
    if (x->token == w->wtoken && !w->freed) {
        if (rc == ZKR_ENONODE) {
            if (w->bound != 0) {
                w->bound = 0;
                w_report(w, ZKR_ENONODE, NULL, 0);
            }
        } else if (rc == ZKR_OK) {
            w_read(w); /* bound meanwhile */
        } else {
            w_failed(w, rc);
        }
    }
    w_fire(w);
    zkr__ctx_done(x);
}

static void name_get_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_naming_watch_t *w = W(x);
    pthread_mutex_lock(&w->obj.mu);
    if (x->token != w->wtoken || w->freed)
        goto out;
    if (rc == ZKR_OK) {
        if (w->bound != 1 || op->stat->mzxid != w->mzxid) {
            w->bound = 1;
            w->mzxid = op->stat->mzxid;
            w_report(w, ZKR_OK, op->value, (size_t)op->value_len);
        }
    } else if (rc == ZKR_ENONODE) {
        /* no data watch on a missing node: watch for its creation */
        zkr__ctx_t *e = wctx(w, ++w->wtoken), *k = wctx(w, w->wtoken);
        int erc = e && k ? zkr__aexists(w->c, w->path, name_watch_cb, e,
                                        name_exists_cb, k)
                         : ZKR_ENOMEM;
        if (erc != ZKR_OK) {
            zkr__ctx_drop(e);
            zkr__ctx_drop(k);
            w_failed(w, erc);
        }
    } else {
        w_failed(w, rc);
    }
out:
    w_fire(w);
    zkr__ctx_done(x);
}

/* Caller holds w->obj.mu: read the value with a watch; the newest read's
 * token is the only one acted on. */
static void w_read(zkr_naming_watch_t *w)
{
    zkr__ctx_t *x = wctx(w, ++w->wtoken), *y = wctx(w, w->wtoken);
    int rc = x && y ? zkr__aget(w->c, w->path, name_watch_cb, y, name_get_cb,
                                x)
                    : ZKR_ENOMEM;
    w->need_read = 0;
    if (rc != ZKR_OK) {
        zkr__ctx_drop(x);
        zkr__ctx_drop(y);
        w_failed(w, rc == ZKR_ESESSIONEXPIRED ? ZKR_ECONNLOSS : rc);
    }
}

static void w_on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkr_naming_watch_t *w = ctx;
    (void)c;
    pthread_mutex_lock(&w->obj.mu);
    if (!w->freed && (st == ZKR_STATE_CONNECTED ||
                      (st == ZKR_STATE_RECONNECTED && w->need_read)))
        w_read(w); /* a new session has no watches of ours */
    w_fire(w);
}

int zkr_naming_watch_new(zkr_client_t *c, const char *name, zkr_naming_cb cb,
                         void *ctx, zkr_naming_watch_t **out)
{
    zkr_naming_watch_t *w;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!c || !cb)
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(name)) != ZKR_OK)
        return rc;
    if (zkr__client_closed(c))
        return ZKR_ECLOSED;
    w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(name))) {
        free(w);
        return ZKR_ENOMEM;
    }
    if (zkr__obj_init(&w->obj, w_destroy) != ZKR_OK) {
        free(w->path);
        free(w);
        return ZKR_ENOMEM;
    }
    pthread_cond_init(&w->q.idle, NULL);
    w->c = c;
    zkr__client_ref(c);
    w->cb = cb;
    w->ctx = ctx;
    w->bound = -1;
    if ((rc = zkr_client_add_listener(c, w_on_state, w)) != ZKR_OK) {
        zkr__obj_unref(&w->obj);
        return rc;
    }
    pthread_mutex_lock(&w->obj.mu);
    w_read(w);
    *out = w;
    w_fire(w);
    return ZKR_OK;
}

void zkr_naming_watch_free(zkr_naming_watch_t *w)
{
    if (!w)
        return;
    zkr_client_remove_listener(w->c, w_on_state, w);
    pthread_mutex_lock(&w->obj.mu);
    w->freed = 1;
    w->wtoken++;
    evq_wait_idle(&w->q, &w->obj.mu);
    w_fire(w);
    zkr__obj_unref(&w->obj);
}
