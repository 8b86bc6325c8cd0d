/* SPDX-License-Identifier: Apache-2.0 */
/* Shared, coalesced listings of lock directories (see lockdir.h). */
#define ZKR_BUILDING 1
#include "lockdir.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

typedef struct waiter {
    struct waiter *next;
    void *obj;
    unsigned attempt;
    unsigned need; /* served by getChildren number >= need */
} waiter_t;

typedef struct {
    int32_t seq;
    UT_hash_handle hh;
} gone_t;

struct zkr__lockdir {
    UT_hash_handle hh;
    char *key;
    pthread_mutex_t mu;
    int refs; /* under g_dirs_mu */
    zkr_client_t *c;
    char *path;
    const zkr__lockspec_t *spec;
    zkr__dir_deliver_fn deliver;
    int gc_inflight;
    unsigned gc_sent;
    waiter_t *waiting;
    /* newest listing, names in one arena */
    zkr__lnode_t *cache;
    int ncache;
    char *arena;
    gone_t *gone;
};

static pthread_mutex_t g_dirs_mu = PTHREAD_MUTEX_INITIALIZER;
static zkr__lockdir_t *g_dirs;

static int lnode_cmp(const void *a, const void *b)
{
    return zkr__seq_cmp(((const zkr__lnode_t *)a)->seq,
                        ((const zkr__lnode_t *)b)->seq);
}

zkr__lockdir_t *zkr__dir_get(zkr_client_t *c, const char *path,
                             const zkr__lockspec_t *spec,
                             zkr__dir_deliver_fn deliver)
{
    char key[4200];
    zkr__lockdir_t *d;
    snprintf(key, sizeof key, "%p|%p|%s", (void *)c, (const void *)spec,
             path);
    pthread_mutex_lock(&g_dirs_mu);
    HASH_FIND_STR(g_dirs, key, d);
    if (d) {
        d->refs++;
    } else if ((d = calloc(1, sizeof *d)) != NULL) {
        d->key = strdup(key);
        d->path = strdup(path);
        if (!d->key || !d->path) {
            free(d->key);
            free(d->path);
            free(d);
            d = NULL;
        } else {
            pthread_mutex_init(&d->mu, NULL);
            d->refs = 1;
            d->c = c;
            d->spec = spec;
            d->deliver = deliver;
            HASH_ADD_KEYPTR(hh, g_dirs, d->key, strlen(d->key), d);
        }
    }
    pthread_mutex_unlock(&g_dirs_mu);
    return d;
}

static void clear_gone(zkr__lockdir_t *d)
{
    gone_t *g, *tmp;
    HASH_ITER(hh, d->gone, g, tmp)
    {
        HASH_DEL(d->gone, g);
        free(g);
    }
}

void zkr__dir_unref(zkr__lockdir_t *d)
{
    int last;
    if (!d)
        return;
    pthread_mutex_lock(&g_dirs_mu);
    last = --d->refs == 0;
    if (last)
        HASH_DEL(g_dirs, d);
    pthread_mutex_unlock(&g_dirs_mu);
    if (!last)
        return;
    clear_gone(d);
    free(d->cache);
    free(d->arena);
    pthread_mutex_destroy(&d->mu);
    free(d->key);
    free(d->path);
    free(d);
}

static void dir_ref(zkr__lockdir_t *d)
{
    pthread_mutex_lock(&g_dirs_mu);
    d->refs++;
    pthread_mutex_unlock(&g_dirs_mu);
}

/* ---- listings ------------------------------------------------------------ */

typedef struct {
    zkr__lockdir_t *d;
    unsigned idx;
} gctx_t;

static void gc_cb(zkr__op_t *op, int rc);

/* Caller holds d->mu. */
static void gc_send(zkr__lockdir_t *d)
{
    gctx_t *g = malloc(sizeof *g);
    if (!g)
        return;
    g->d = d;
    g->idx = d->gc_sent + 1;
    dir_ref(d);
    if (zkr__achildren(d->c, d->path, NULL, NULL, gc_cb, g) == ZKR_OK) {
        d->gc_sent++;
        d->gc_inflight = 1;
        return;
    }
    free(g);
    pthread_mutex_lock(&g_dirs_mu);
    d->refs--; /* a contender still holds one */
    pthread_mutex_unlock(&g_dirs_mu);
}

static zkr__lnode_t *sort_children(const zkr__lockspec_t *spec,
                                   const struct String_vector *sv, int *n)
{
    zkr__lnode_t *nodes =
        malloc(sizeof *nodes * (size_t)(sv->count ? sv->count : 1));
    int k = 0;
    if (!nodes)
        return NULL;
    for (int i = 0; i < sv->count; i++) {
        int kind = spec->classify(sv->data[i]);
        int32_t seq;
        if (kind && zkr__seq_of(sv->data[i], &seq) == 0) {
            nodes[k].name = sv->data[i];
            nodes[k].seq = seq;
            nodes[k].kind = kind;
            k++;
        }
    }
    qsort(nodes, (size_t)k, sizeof *nodes, lnode_cmp);
    *n = k;
    return nodes;
}

/* Keep a copy of the newest listing. Caller holds d->mu. */
static void cache_listing(zkr__lockdir_t *d, const zkr__lnode_t *nodes,
                          int n)
{
    size_t bytes = 0, off = 0;
    zkr__lnode_t *copy;
    char *arena;
    for (int i = 0; i < n; i++)
        bytes += strlen(nodes[i].name) + 1;
    copy = malloc(sizeof *copy * (size_t)(n ? n : 1));
    arena = malloc(bytes ? bytes : 1);
    if (!copy || !arena) {
        free(copy);
        free(arena);
        return; /* keep the older one: it is still correct, just staler */
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(nodes[i].name) + 1;
        memcpy(arena + off, nodes[i].name, len);
        copy[i] = nodes[i];
        copy[i].name = arena + off;
        off += len;
    }
    free(d->cache);
    free(d->arena);
    d->cache = copy;
    d->arena = arena;
    d->ncache = n;
    clear_gone(d); /* what was gone is absent from the new listing */
}

static void gc_cb(zkr__op_t *op, int rc)
{
    gctx_t *g = op->ctx;
    zkr__lockdir_t *d = g->d;
    waiter_t *ready = NULL, **pp, *w;
    zkr__lnode_t *nodes = NULL;
    int n = 0;

    if (rc == ZKR_OK) {
        nodes = sort_children(d->spec, op->strings, &n);
        if (!nodes)
            rc = ZKR_ENOMEM;
    }
    pthread_mutex_lock(&d->mu);
    d->gc_inflight = 0;
    if (nodes)
        cache_listing(d, nodes, n);
    for (pp = &d->waiting; *pp;) {
        w = *pp;
        if (w->need <= g->idx || rc != ZKR_OK) {
            *pp = w->next;
            w->next = ready;
            ready = w;
        } else {
            pp = &w->next;
        }
    }
    if (d->waiting)
        gc_send(d); /* for those who need a fresher view */
    pthread_mutex_unlock(&d->mu);

    while (ready) {
        w = ready;
        ready = w->next;
        d->deliver(w->obj, w->attempt, nodes, n, rc);
        free(w);
    }
    free(nodes);
    free(g);
    zkr__dir_unref(d);
}

int zkr__dir_create(zkr__lockdir_t *d, const char *path, const void *data,
                    size_t len, const struct ACL_vector *acl, zkr__op_cb cb,
                    void *ctx, unsigned *need)
{
    int rc;
    pthread_mutex_lock(&d->mu);
    rc = zkr__acreate_acl(d->c, path, data, len,
                          ZKR_EPHEMERAL | ZKR_SEQUENTIAL, acl, cb, ctx);
    if (rc == ZKR_OK) {
        if (!d->gc_inflight) {
            gc_send(d);
            *need = d->gc_sent;
        } else {
            *need = d->gc_sent + 1;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

int zkr__dir_want(zkr__lockdir_t *d, void *obj, unsigned attempt,
                  unsigned need)
{
    waiter_t *w = malloc(sizeof *w);
    if (!w)
        return ZKR_ENOMEM;
    w->obj = obj;
    w->attempt = attempt;
    pthread_mutex_lock(&d->mu);
    w->need = need ? need : d->gc_sent + 1;
    w->next = d->waiting;
    d->waiting = w;
    if (!d->gc_inflight)
        gc_send(d);
    pthread_mutex_unlock(&d->mu);
    return ZKR_OK;
}

void zkr__dir_gone(zkr__lockdir_t *d, int32_t seq)
{
    gone_t *g;
    pthread_mutex_lock(&d->mu);
    HASH_FIND_INT(d->gone, &seq, g);
    if (!g && (g = malloc(sizeof *g)) != NULL) {
        g->seq = seq;
        HASH_ADD_INT(d->gone, seq, g);
    }
    pthread_mutex_unlock(&d->mu);
}

int zkr__dir_before(zkr__lockdir_t *d, int32_t seq, int only_exclusive,
                    char **out, int max)
{
    int lo, hi, me = -1, count = 0;
    pthread_mutex_lock(&d->mu);
    for (lo = 0, hi = d->ncache - 1; lo <= hi;) {
        int mid = (lo + hi) / 2, cmp = zkr__seq_cmp(d->cache[mid].seq, seq);
        if (cmp == 0) {
            me = mid;
            break;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    if (me < 0) {
        pthread_mutex_unlock(&d->mu);
        return -1;
    }
    for (int i = me - 1; i >= 0 && count <= max; i--) {
        gone_t *g;
        if (only_exclusive && d->cache[i].kind != ZKR__LK_EXCLUSIVE)
            continue;
        HASH_FIND_INT(d->gone, &d->cache[i].seq, g);
        if (g)
            continue;
        if (count < max && out)
            out[count] = strdup(d->cache[i].name);
        count++;
    }
    pthread_mutex_unlock(&d->mu);
    return count;
}
