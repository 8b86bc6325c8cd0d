/* SPDX-License-Identifier: Apache-2.0 */
/* Discovery caches: the children of a service directory, kept by children
 * and data watches in a hash table keyed by node name, and picks with
 * load-balancing policies over the usable instances. */
#define ZKR_BUILDING 1
#include "zkr/registry.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uthash.h>

#include "registryint.h"

struct act {
    atomic_int n;
    atomic_int refs;
};

static void act_release(struct act *a)
{
    if (a && atomic_fetch_sub(&a->refs, 1) == 1)
        free(a);
}

struct zkr_instance {
    atomic_int refs;
    char *name;
    char *data;
    size_t len;
    zkr_dubbo_url_t *url;
    zkr_service_instance_t *svc;
    const char *host;
    int port, weight, usable;
    struct act *act;
};

struct entry {
    char *name;
    zkr_instance_t *inst; /* NULL until its data is read */
    struct act *act;
    unsigned seen;     /* listing generation it was last seen in */
    unsigned fetch_id; /* get in flight, 0 if none */
    int refetch;       /* data changed while a get was in flight */
    int data_watch;
    unsigned dwtoken;
    int64_t rr_cur;
    UT_hash_handle hh;
};

struct point {
    uint64_t h;
    struct entry *e;
};

struct zkr_discovery {
    zkr__obj_t obj; /* first: mutex and references */
    zkr_client_t *c;
    char *path;
    zkr_layout_t layout;
    zkr_discovery_cb on_change;
    void *ctx;
    int replicas;
    uint64_t rng;
    struct entry *entries;
    struct entry **snap; /* usable, sorted by name */
    int nsnap;
    uint64_t version;
    struct point *ring;
    int nring;
    uint64_t ring_version;
    unsigned list_gen, applied_gen, fetch_seq;
    int pending_gets;
    int cwatch, ewatch; /* children / exists watch armed */
    unsigned cwtoken, ewtoken;
    int need_list;
    int changed;
    int freed;
    struct ev *waiters; /* refresh callbacks with their target */
    struct evq q;
};

/* A context's cache. In its contexts, token is the listing generation,
 * the watch token or the fetch id; flag (listings) is what to fetch again:
 * 1 entries without data, 2 all; name (gets, data watches) the child. */
#define D(x) ((zkr_discovery_t *)(x)->o)

static void inst_free(zkr_instance_t *i)
{
    zkr_dubbo_url_free(i->url);
    zkr_service_instance_free(i->svc);
    act_release(i->act);
    free(i->name);
    free(i->data);
    free(i);
}

zkr_instance_t *zkr_instance_ref(zkr_instance_t *i)
{
    if (i)
        atomic_fetch_add(&i->refs, 1);
    return i;
}

void zkr_instance_release(zkr_instance_t *i)
{
    if (i && atomic_fetch_sub(&i->refs, 1) == 1)
        inst_free(i);
}

static void entry_free(struct entry *e)
{
    zkr_instance_release(e->inst);
    act_release(e->act);
    free(e->name);
    free(e);
}

static void disc_clear(zkr_discovery_t *d)
{
    struct entry *e, *tmp;
    HASH_ITER(hh, d->entries, e, tmp) {
        HASH_DEL(d->entries, e);
        entry_free(e);
    }
    free(d->snap);
    d->snap = NULL;
    d->nsnap = 0;
    free(d->ring);
    d->ring = NULL;
    d->nring = 0;
}

static void disc_destroy(zkr__obj_t *o)
{
    zkr_discovery_t *d = (zkr_discovery_t *)o;
    disc_clear(d);
    zkr__client_unref(d->c);
    pthread_cond_destroy(&d->q.idle);
    free(d->path);
    free(d);
}

/* Caller holds d->obj.mu. */
static zkr__ctx_t *dctx(zkr_discovery_t *d, unsigned token, const char *name)
{
    return zkr__ctx_new(&d->obj, 0, token, name);
}

/* Build the immutable instance for a node. */
static zkr_instance_t *inst_new(zkr_discovery_t *d, struct entry *e,
                                const char *data, size_t len)
{
    zkr_instance_t *i = calloc(1, sizeof *i);
    if (!i)
        return NULL;
    atomic_init(&i->refs, 1);
    i->name = strdup(e->name);
    i->data = malloc(len + 1);
    if (!i->name || !i->data) {
        free(i->name);
        free(i->data);
        free(i);
        return NULL;
    }
    if (len)
        memcpy(i->data, data, len);
    i->data[len] = '\0';
    i->len = len;
    i->port = -1;
    i->weight = 100;
    i->act = e->act;
    atomic_fetch_add(&e->act->refs, 1);
    if (d->layout == ZKR_LAYOUT_DUBBO) {
        if (zkr_dubbo_url_from_node(e->name, &i->url) == ZKR_OK) {
            const char *w = zkr_dubbo_url_get(i->url, "weight");
            const char *en = zkr_dubbo_url_get(i->url, "enabled");
            i->host = zkr_dubbo_url_host(i->url);
            i->port = zkr_dubbo_url_port(i->url);
            if (w) {
                long v = strtol(w, NULL, 10);
                i->weight = v < 0 ? 0 : v > 1000000 ? 1000000 : (int)v;
            }
            i->usable = !en || strcmp(en, "false") != 0;
        }
    } else if (d->layout == ZKR_LAYOUT_CURATOR) {
        if (zkr_service_instance_from_json(data, len, &i->svc) == ZKR_OK) {
            i->host = i->svc->address;
            i->port = i->svc->port >= 0 ? i->svc->port : i->svc->ssl_port;
            i->usable = i->svc->enabled;
        }
    } else {
        i->usable = 1;
    }
    return i;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp((*(struct entry *const *)a)->name,
                  (*(struct entry *const *)b)->name);
}

/* Caller holds d->obj.mu: after changes, rebuild the snapshot and report. */
static void disc_commit(zkr_discovery_t *d)
{
    struct entry *e, *tmp, **snap;
    int n = 0;
    if (!d->changed)
        return;
    d->changed = 0;
    snap = malloc(sizeof *snap * (HASH_COUNT(d->entries) + 1));
    if (!snap) {
        /* the old snapshot may point at freed entries: empty it, and
         * retry at the next change */
        free(d->snap);
        d->snap = NULL;
        d->nsnap = 0;
        d->version++;
        d->changed = 1;
        return;
    }
    HASH_ITER(hh, d->entries, e, tmp) {
        if (e->inst && e->inst->usable)
            snap[n++] = e;
    }
    qsort(snap, (size_t)n, sizeof *snap, entry_cmp);
    free(d->snap);
    d->snap = snap;
    d->nsnap = n;
    d->version++;
    evq_state(&d->q, (ev_fn)d->on_change, d->ctx, ZKR_OK);
}

/* Caller holds d->obj.mu: deliver refresh waiters that are satisfied (rc OK)
 * or whose listing failed (rc != OK, gen = the failed listing). */
static void disc_wake(zkr_discovery_t *d, int rc, unsigned gen)
{
    struct ev **pp = &d->waiters;
    while (*pp) {
        struct ev *e = *pp;
        int done = rc == ZKR_OK ? d->applied_gen >= e->target &&
                                      d->pending_gets == 0
                                : gen >= e->target;
        if (done) {
            *pp = e->next;
            e->status = rc;
            evq_push(&d->q, e);
        } else {
            pp = &e->next;
        }
    }
}

static void disc_invoke(void *obj, const struct ev *e)
{
    ((zkr_discovery_cb)e->cb)(obj, e->status, e->ctx);
}

/* Caller holds d->obj.mu; returns with it released. */
static void disc_fire(zkr_discovery_t *d)
{
    d->obj.refs++;
    evq_deliver(&d->q, &d->obj.mu, d, &d->freed, disc_invoke);
    zkr__obj_unref(&d->obj);
}

static void disc_list(zkr_discovery_t *d, int refetch);
static void disc_get(zkr_discovery_t *d, struct entry *e);

static void data_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *x = ctx;
    zkr_discovery_t *d = D(x);
    struct entry *e;
    (void)path;
    pthread_mutex_lock(&d->obj.mu);
    HASH_FIND_STR(d->entries, x->name, e);
    if (e && e->dwtoken == x->token) {
        e->data_watch = 0;
        if (type == ZOO_CHANGED_EVENT && !d->freed) {
            if (e->fetch_id)
                e->refetch = 1;
            else
                disc_get(d, e);
        }
    }
    disc_fire(d);
    zkr__ctx_done(x);
}

static void get_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_discovery_t *d = D(x);
    struct entry *e;
    pthread_mutex_lock(&d->obj.mu);
    d->pending_gets--;
    HASH_FIND_STR(d->entries, x->name, e);
    if (!d->freed && e && e->fetch_id == x->token) {
        e->fetch_id = 0;
        if (rc == ZKR_OK) {
            zkr_instance_t *i = inst_new(d, e, op->value,
                                         (size_t)op->value_len);
            if (i) {
                zkr_instance_release(e->inst);
                e->inst = i;
                d->changed = 1;
            }
            if (e->refetch) {
                e->refetch = 0;
                disc_get(d, e);
            }
        } else if (rc == ZKR_ENONODE) {
            HASH_DEL(d->entries, e);
            entry_free(e);
            d->changed = 1;
        } else if (rc == ZKR_ECONNLOSS && is_connected(d->c)) {
            disc_list(d, 1); /* reconnected already: fetch it again now */
        } else {
            d->need_list = 1; /* fetched again after reconnecting */
        }
    }
    if (!d->freed) {
        disc_commit(d);
        disc_wake(d, ZKR_OK, 0);
    }
    disc_fire(d);
    zkr__ctx_done(x);
}

/* Caller holds d->obj.mu: read a child's data, with a data watch. */
static void disc_get(zkr_discovery_t *d, struct entry *e)
{
    char *p = NULL;
    zkr__ctx_t *x, *w = NULL;
    int rc;
    if (zkr_path_join(d->path, e->name, &p) != ZKR_OK) {
        free(p);
        return; /* a name we cannot address stays without data */
    }
    e->fetch_id = ++d->fetch_seq ? d->fetch_seq : ++d->fetch_seq;
    x = dctx(d, e->fetch_id, e->name);
    if (!e->data_watch)
        w = dctx(d, ++e->dwtoken, e->name);
    rc = x && (e->data_watch || w)
             ? zkr__aget(d->c, p, w ? data_watch_cb : NULL, w, get_cb, x)
             : ZKR_ENOMEM;
    free(p);
    if (rc != ZKR_OK) {
        zkr__ctx_drop(x);
        zkr__ctx_drop(w);
        e->fetch_id = 0;
        d->need_list = 1;
        return;
    }
    if (w)
        e->data_watch = 1;
    d->pending_gets++;
}

static void exists_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *x = ctx;
    zkr_discovery_t *d = D(x);
    (void)path;
    pthread_mutex_lock(&d->obj.mu);
    if (x->token == d->ewtoken) {
        d->ewatch = 0;
        if (type != ZKR__WATCH_CANCELED && !d->freed)
            disc_list(d, 0);
    }
    disc_fire(d);
    zkr__ctx_done(x);
}

static void exists_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_discovery_t *d = D(x);
    pthread_mutex_lock(&d->obj.mu);
    /* created meanwhile: list it (the exists watch stays armed) */
    if (rc == ZKR_OK && !d->freed && !d->cwatch)
        disc_list(d, 0);
    else if (rc != ZKR_OK && rc != ZKR_ENONODE)
        d->need_list = 1;
    disc_fire(d);
    zkr__ctx_done(x);
}

static void children_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *x = ctx;
    zkr_discovery_t *d = D(x);
    (void)path;
    pthread_mutex_lock(&d->obj.mu);
    if (x->token == d->cwtoken) {
        d->cwatch = 0;
        if (type != ZKR__WATCH_CANCELED && !d->freed)
            disc_list(d, 0);
    }
    disc_fire(d);
    zkr__ctx_done(x);
}

static void list_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_discovery_t *d = D(x);
    struct entry *e, *tmp;
    pthread_mutex_lock(&d->obj.mu);
    if (d->freed || x->token < d->applied_gen)
        goto out;
    if (rc == ZKR_OK || rc == ZKR_ENONODE) {
        unsigned gen = x->token;
        d->applied_gen = gen;
        for (int i = 0; rc == ZKR_OK && i < op->strings->count; i++) {
            const char *name = op->strings->data[i];
            HASH_FIND_STR(d->entries, name, e);
            if (!e) {
                e = calloc(1, sizeof *e);
                if (!e || !(e->name = strdup(name)) ||
                    !(e->act = calloc(1, sizeof *e->act))) {
                    if (e)
                        free(e->name);
                    free(e);
                    continue; /* out of memory: the next listing retries */
                }
                atomic_init(&e->act->refs, 1);
                HASH_ADD_KEYPTR(hh, d->entries, e->name, strlen(e->name), e);
                if (d->layout != ZKR_LAYOUT_DUBBO) {
                    disc_get(d, e); /* the data: JSON or as it is */
                } else {
                    e->inst = inst_new(d, e, NULL, 0);
                    d->changed = 1;
                }
            } else if (d->layout != ZKR_LAYOUT_DUBBO && !e->fetch_id &&
                       (x->flag == 2 ||
                        (x->flag == 1 && (!e->inst || !e->data_watch)))) {
                disc_get(d, e);
            }
            e->seen = gen;
        }
        HASH_ITER(hh, d->entries, e, tmp) {
            if (e->seen != gen) {
                HASH_DEL(d->entries, e);
                entry_free(e);
                d->changed = 1;
            }
        }
        if (rc == ZKR_ENONODE && !d->ewatch) {
            /* no directory yet: wait for it to appear */
            zkr__ctx_t *w = dctx(d, ++d->ewtoken, NULL);
            zkr__ctx_t *k = dctx(d, 0, NULL);
            if (w && k &&
                zkr__aexists(d->c, d->path, exists_watch_cb, w, exists_cb,
                             k) == ZKR_OK) {
                d->ewatch = 1;
            } else {
                zkr__ctx_drop(w);
                zkr__ctx_drop(k);
                d->need_list = 1;
            }
        }
        disc_commit(d);
        disc_wake(d, ZKR_OK, 0);
    } else {
        d->need_list = 1;
        if (rc == ZKR_ECONNLOSS && is_connected(d->c))
            disc_list(d, 1); /* reconnected already */
        if (rc != ZKR_ECONNLOSS && rc != ZKR_ESESSIONEXPIRED &&
            rc != ZKR_ECANCELED && rc != ZKR_ECLOSED)
            evq_state(&d->q, (ev_fn)d->on_change, d->ctx, rc);
        disc_wake(d, rc == ZKR_ECANCELED ? ZKR_ECONNLOSS : rc, x->token);
    }
out:
    disc_fire(d);
    zkr__ctx_done(x);
}

/* Caller holds d->obj.mu: list the directory (watching it if not yet). */
static void disc_list(zkr_discovery_t *d, int refetch)
{
    zkr__ctx_t *x, *w = NULL;
    int rc;
    x = dctx(d, ++d->list_gen, NULL);
    if (x)
        x->flag = refetch;
    if (!d->cwatch)
        w = dctx(d, ++d->cwtoken, NULL);
    rc = x && (d->cwatch || w)
             ? zkr__achildren(d->c, d->path, w ? children_watch_cb : NULL, w,
                              list_cb, x)
             : ZKR_ENOMEM;
    if (rc != ZKR_OK) {
        zkr__ctx_drop(x);
        zkr__ctx_drop(w);
        d->need_list = 1;
        if (rc == ZKR_ECLOSED)
            disc_wake(d, ZKR_ECANCELED, d->list_gen);
        return;
    }
    d->need_list = 0;
    if (w)
        d->cwatch = 1;
}

static void disc_on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkr_discovery_t *d = ctx;
    (void)c;
    pthread_mutex_lock(&d->obj.mu);
    if (!d->freed) {
        if (st == ZKR_STATE_CONNECTED) {
            /* every watch went with the old session */
            d->cwatch = d->ewatch = 0;
            d->cwtoken++;
            d->ewtoken++;
            for (struct entry *e = d->entries; e; e = e->hh.next) {
                e->data_watch = 0;
                e->dwtoken++;
            }
            disc_list(d, 2);
        } else if (st == ZKR_STATE_RECONNECTED && d->need_list) {
            disc_list(d, 1);
        } else if (st == ZKR_STATE_CLOSED) {
            disc_wake(d, ZKR_ECANCELED, ~0u);
        }
    }
    disc_fire(d);
}

void zkr_discovery_opts_init(zkr_discovery_opts_t *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->layout = ZKR_LAYOUT_CURATOR;
    o->hash_replicas = 160;
}

int zkr_discovery_new(zkr_client_t *c, const char *path,
                      const zkr_discovery_opts_t *opts, zkr_discovery_t **out)
{
    zkr_discovery_opts_t defaults;
    zkr_discovery_t *d;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!opts) {
        zkr_discovery_opts_init(&defaults);
        opts = &defaults;
    }
    if (!c || (int)opts->layout < 0 || opts->layout > ZKR_LAYOUT_RAW ||
        opts->hash_replicas < 1 || opts->hash_replicas > 10000)
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(path)) != ZKR_OK)
        return rc;
    if (zkr__client_closed(c))
        return ZKR_ECLOSED;
    d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(path))) {
        free(d);
        return ZKR_ENOMEM;
    }
    if (zkr__obj_init(&d->obj, disc_destroy) != ZKR_OK) {
        free(d->path);
        free(d);
        return ZKR_ENOMEM;
    }
    pthread_cond_init(&d->q.idle, NULL);
    d->c = c;
    zkr__client_ref(c);
    d->layout = opts->layout;
    d->on_change = opts->on_change;
    d->ctx = opts->ctx;
    d->replicas = opts->hash_replicas;
    d->rng = opts->seed ? opts->seed
                        : (uint64_t)wall_ms() * 6364136223846793005ULL ^
                              (uint64_t)getpid() ^ (uint64_t)(uintptr_t)d;
    if (!d->rng)
        d->rng = 1;
    if ((rc = zkr_client_add_listener(c, disc_on_state, d)) != ZKR_OK) {
        zkr__obj_unref(&d->obj);
        return rc;
    }
    pthread_mutex_lock(&d->obj.mu);
    disc_list(d, 0);
    disc_fire(d);
    *out = d;
    return ZKR_OK;
}

int zkr_discovery_refresh_async(zkr_discovery_t *d, zkr_discovery_cb cb,
                                void *ctx)
{
    struct ev *e;
    if (!d || !cb)
        return ZKR_EINVAL;
    e = calloc(1, sizeof *e);
    if (!e)
        return ZKR_ENOMEM;
    e->cb = (ev_fn)cb;
    e->ctx = ctx;
    pthread_mutex_lock(&d->obj.mu);
    if (d->freed || zkr__client_closed(d->c)) {
        pthread_mutex_unlock(&d->obj.mu);
        free(e);
        return ZKR_ECLOSED;
    }
    e->target = d->list_gen + 1;
    e->next = d->waiters;
    d->waiters = e;
    disc_list(d, 1);
    disc_fire(d);
    return ZKR_OK;
}

static void disc_blocking_cb(zkr_discovery_t *d, int status, void *ctx)
{
    (void)d;
    zkr__waiter_signal(ctx, status);
}

int zkr_discovery_refresh(zkr_discovery_t *d, int timeout_ms)
{
    zkr__waiter_t *w;
    int rc;
    if (!d)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    w = malloc(sizeof *w);
    if (!w)
        return ZKR_ENOMEM;
    zkr__waiter_init(w);
    rc = zkr_discovery_refresh_async(d, disc_blocking_cb, w);
    if (rc != ZKR_OK) {
        zkr__waiter_destroy(w);
        free(w);
        return rc;
    }
    rc = evq_wait_waiter(w, timeout_ms, &d->obj.mu, &d->waiters);
    zkr__waiter_destroy(w);
    free(w);
    return rc;
}

int zkr_discovery_count(zkr_discovery_t *d)
{
    int n;
    if (!d)
        return 0;
    pthread_mutex_lock(&d->obj.mu);
    n = d->nsnap;
    pthread_mutex_unlock(&d->obj.mu);
    return n;
}

uint64_t zkr_discovery_version(zkr_discovery_t *d)
{
    uint64_t v;
    if (!d)
        return 0;
    pthread_mutex_lock(&d->obj.mu);
    v = d->version;
    pthread_mutex_unlock(&d->obj.mu);
    return v;
}

int zkr_discovery_list(zkr_discovery_t *d, zkr_instance_t ***v, int *count)
{
    zkr_instance_t **a;
    if (v)
        *v = NULL;
    if (count)
        *count = 0;
    if (!d || !v || !count)
        return ZKR_EINVAL;
    pthread_mutex_lock(&d->obj.mu);
    a = malloc(sizeof *a * (size_t)(d->nsnap + 1));
    if (!a) {
        pthread_mutex_unlock(&d->obj.mu);
        return ZKR_ENOMEM;
    }
    for (int i = 0; i < d->nsnap; i++)
        a[i] = zkr_instance_ref(d->snap[i]->inst);
    *count = d->nsnap;
    pthread_mutex_unlock(&d->obj.mu);
    *v = a;
    return ZKR_OK;
}

void zkr_instances_free(zkr_instance_t **v, int count)
{
    if (!v)
        return;
    for (int i = 0; i < count; i++)
        zkr_instance_release(v[i]);
    free(v);
}

/* ---- balancing ------------------------------------------------------------ */

static uint64_t next_rand(zkr_discovery_t *d)
{
    /* xorshift64* */
    uint64_t x = d->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    d->rng = x;
    return x * 2685821657736338717ULL;
}

static uint64_t hash64(const void *p, size_t n, uint64_t salt)
{
    const unsigned char *b = p;
    uint64_t h = 14695981039346656037ULL ^ salt;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    /* FNV alone clusters on similar names: finish with a mixer */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

static int point_cmp(const void *a, const void *b)
{
    const struct point *x = a, *y = b;
    return x->h < y->h ? -1 : x->h > y->h;
}

/* Caller holds d->obj.mu. */
static int ring_build(zkr_discovery_t *d, int positive_only)
{
    struct point *r;
    int n = 0;
    free(d->ring);
    d->ring = NULL;
    d->nring = 0;
    r = malloc(sizeof *r * (size_t)d->nsnap * (size_t)d->replicas + 1);
    if (!r)
        return ZKR_ENOMEM;
    for (int i = 0; i < d->nsnap; i++) {
        struct entry *e = d->snap[i];
        if (positive_only && e->inst->weight <= 0)
            continue;
        for (int k = 0; k < d->replicas; k++) {
            r[n].h = hash64(e->name, strlen(e->name), (uint64_t)k + 1);
            r[n].e = e;
            n++;
        }
    }
    qsort(r, (size_t)n, sizeof *r, point_cmp);
    d->ring = r;
    d->nring = n;
    d->ring_version = d->version;
    return ZKR_OK;
}

/* Weighted random among snap[i] for which use[i]; uniform if all 0. */
static struct entry *weighted(zkr_discovery_t *d, const char *use)
{
    int64_t total = 0;
    int n = 0;
    for (int i = 0; i < d->nsnap; i++)
        if (use[i]) {
            total += d->snap[i]->inst->weight;
            n++;
        }
    if (n == 0)
        return NULL;
    if (total > 0) {
        int64_t r = (int64_t)(next_rand(d) % (uint64_t)total);
        for (int i = 0; i < d->nsnap; i++)
            if (use[i] && (r -= d->snap[i]->inst->weight) < 0)
                return d->snap[i];
    } else {
        int k = (int)(next_rand(d) % (uint64_t)n);
        for (int i = 0; i < d->nsnap; i++)
            if (use[i] && k-- == 0)
                return d->snap[i];
    }
    return NULL;
}

int zkr_discovery_pick(zkr_discovery_t *d, zkr_lb_policy_t policy,
                       const void *key, size_t key_len, zkr_instance_t **out)
{
    struct entry *pick = NULL;
    char *use;
    int64_t total = 0;
    int rc = ZKR_OK;
    if (out)
        *out = NULL;
    if (!d || !out || (int)policy < 0 || policy > ZKR_LB_CONSISTENT_HASH ||
        (key_len && !key))
        return ZKR_EINVAL;
    pthread_mutex_lock(&d->obj.mu);
    if (d->nsnap == 0) {
        pthread_mutex_unlock(&d->obj.mu);
        return ZKR_ENONODE;
    }
    use = malloc((size_t)d->nsnap);
    if (!use) {
        pthread_mutex_unlock(&d->obj.mu);
        return ZKR_ENOMEM;
    }
    for (int i = 0; i < d->nsnap; i++)
        total += d->snap[i]->inst->weight;
    /* weight 0 takes part only when every weight is 0 */
    for (int i = 0; i < d->nsnap; i++)
        use[i] = total == 0 || d->snap[i]->inst->weight > 0;
    switch (policy) {
    case ZKR_LB_RANDOM:
        pick = weighted(d, use);
        break;
    case ZKR_LB_ROUND_ROBIN: {
        int64_t sum = 0;
        for (int i = 0; i < d->nsnap; i++) {
            struct entry *e = d->snap[i];
            int64_t w = total == 0 ? 1 : e->inst->weight;
            if (!use[i])
                continue;
            e->rr_cur += w;
            sum += w;
            if (!pick || e->rr_cur > pick->rr_cur)
                pick = e;
        }
        pick->rr_cur -= sum;
        break;
    }
    case ZKR_LB_LEAST_ACTIVE: {
        int least = -1;
        for (int i = 0; i < d->nsnap; i++) {
            int a = atomic_load(&d->snap[i]->act->n);
            if (use[i] && (least < 0 || a < least))
                least = a;
        }
        for (int i = 0; i < d->nsnap; i++)
            use[i] = use[i] && atomic_load(&d->snap[i]->act->n) == least;
        pick = weighted(d, use);
        break;
    }
    case ZKR_LB_CONSISTENT_HASH:
    default: {
        uint64_t h;
        int lo = 0, hi;
        if ((!d->ring || d->ring_version != d->version) &&
            (rc = ring_build(d, total > 0)) != ZKR_OK)
            break;
        h = hash64(key ? key : "", key_len, 0);
        hi = d->nring;
        while (lo < hi) { /* first point at or after h, wrapping */
            int mid = lo + (hi - lo) / 2;
            if (d->ring[mid].h < h)
                lo = mid + 1;
            else
                hi = mid;
        }
        pick = d->ring[lo == d->nring ? 0 : lo].e;
        break;
    }
    }
    if (pick)
        *out = zkr_instance_ref(pick->inst);
    else if (rc == ZKR_OK)
        rc = ZKR_ENONODE;
    pthread_mutex_unlock(&d->obj.mu);
    free(use);
    return rc;
}

void zkr_discovery_free(zkr_discovery_t *d)
{
    if (!d)
        return;
    zkr_client_remove_listener(d->c, disc_on_state, d);
    pthread_mutex_lock(&d->obj.mu);
    d->freed = 1;
    disc_wake(d, ZKR_ECANCELED, ~0u);
    evq_wait_idle(&d->q, &d->obj.mu);
    /* Watches still armed keep the struct until they fire or the session
     * ends; the cache itself goes now. */
    disc_clear(d);
    disc_fire(d);
    zkr__obj_unref(&d->obj);
}

/* ---- instances ------------------------------------------------------------ */

const char *zkr_instance_name(const zkr_instance_t *i)
{
    return i ? i->name : NULL;
}

const char *zkr_instance_data(const zkr_instance_t *i, size_t *len)
{
    if (len)
        *len = i ? i->len : 0;
    return i ? i->data : NULL;
}

const char *zkr_instance_host(const zkr_instance_t *i)
{
    return i ? i->host : NULL;
}

int zkr_instance_port(const zkr_instance_t *i)
{
    return i ? i->port : -1;
}

int zkr_instance_weight(const zkr_instance_t *i)
{
    return i ? i->weight : 0;
}

const zkr_dubbo_url_t *zkr_instance_dubbo_url(const zkr_instance_t *i)
{
    return i ? i->url : NULL;
}

const zkr_service_instance_t *zkr_instance_service(const zkr_instance_t *i)
{
    return i ? i->svc : NULL;
}

int zkr_instance_begin(zkr_instance_t *i)
{
    if (!i)
        return ZKR_EINVAL;
    atomic_fetch_add(&i->act->n, 1);
    return ZKR_OK;
}

int zkr_instance_end(zkr_instance_t *i)
{
    int n;
    if (!i)
        return ZKR_EINVAL;
    n = atomic_load(&i->act->n);
    while (n > 0 && !atomic_compare_exchange_weak(&i->act->n, &n, n - 1))
        ;
    return n > 0 ? ZKR_OK : ZKR_EINVAL;
}

int zkr_instance_active(const zkr_instance_t *i)
{
    return i ? atomic_load(&i->act->n) : 0;
}
