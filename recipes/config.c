/* SPDX-License-Identifier: Apache-2.0 */
/* Watched node cache and compare-and-swap push.
 *
 * Never missing the last value rests on one rule: every event (and every
 * reconnection or new session) is followed by a read that sets a new
 * watch. A read in flight absorbs further events into one more read after
 * it (loading/dirty), so a burst of changes costs a few reads, and the
 * last read always starts after the last event we were told about.
 *
 * Replies of an older session are told apart by the attempt counter, which
 * bumps on LOST; within a session replies come in order, so applying each
 * reply as it comes keeps the newest state. */
#define ZKR_BUILDING 1
#include "zkr/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* uthash must not exit the process when memory runs out. */
static _Thread_local int hash_oom;
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (hash_oom = 1)
#include <uthash.h>

struct kid {
    char *name;
    char *data;
    size_t len;
    zkr_stat_t st;
    int have;    /* data read at least once */
    int loading; /* a read in flight */
    int dirty;   /* read again when it returns */
    int seen;
    UT_hash_handle hh;
};

struct zkr_config {
    zkr__obj_t obj; /* first: mutex and references */
    pthread_cond_t cv;
    zkr_client_t *c;
    char *path;
    zkr_config_cb on_change;
    void *ctx;
    int children;
    unsigned attempt;
    int freed;
    int closed;

    /* the node */
    int node_loaded;
    int exists;
    char *data;
    size_t len;
    zkr_stat_t st;
    int loading, dirty;

    /* its children */
    struct kid *kids;
    int kids_loaded;
    int kids_missing; /* entries whose data was never read */
    int kids_loading, kids_dirty;
    int kids_need;    /* listing found no node: list again once it exists */

    int synced;
    int fire_pending;
    int firing;
    pthread_t drainer;
};

/* A context's config. */
#define C(x) ((zkr_config_t *)(x)->o)

/* ---- lifetime ------------------------------------------------------------ */

static void kid_free(struct kid *k)
{
    free(k->name);
    free(k->data);
    free(k);
}

static void cfg_destroy(zkr__obj_t *o)
{
    zkr_config_t *g = (zkr_config_t *)o;
    struct kid *k, *tmp;
    for (k = g->kids; k; k = tmp) {
        tmp = k->hh.next;
        HASH_DEL(g->kids, k);
        kid_free(k);
    }
    zkr__client_unref(g->c);
    pthread_cond_destroy(&g->cv);
    free(g->path);
    free(g->data);
    free(g);
}

/* Caller holds g->obj.mu: a context for the current attempt. */
static zkr__ctx_t *cctx(zkr_config_t *g, const char *name)
{
    return zkr__ctx_new(&g->obj, g->attempt, 0, name);
}

/* ---- change notification ------------------------------------------------- */

static void check_synced(zkr_config_t *g)
{
    if (!g->synced && g->node_loaded &&
        (!g->children || (g->kids_loaded && g->kids_missing == 0))) {
        g->synced = 1;
        g->fire_pending = 1;
        pthread_cond_broadcast(&g->cv);
    }
}

static void note_change(zkr_config_t *g)
{
    if (g->synced)
        g->fire_pending = 1;
    else
        check_synced(g);
    pthread_cond_broadcast(&g->cv);
}

/* Release g->obj.mu and deliver a pending change, unless another thread is
 * delivering (it picks ours up: changes are coalesced). */
static void unlock_fire(zkr_config_t *g)
{
    if (g->firing || !g->fire_pending || !g->on_change || g->freed) {
        if (!g->on_change)
            g->fire_pending = 0;
        pthread_mutex_unlock(&g->obj.mu);
        return;
    }
    g->firing = 1;
    g->drainer = pthread_self();
    g->obj.refs++;
    while (g->fire_pending && !g->freed) {
        int status = g->exists ? ZKR_OK : ZKR_ENONODE;
        g->fire_pending = 0;
        pthread_mutex_unlock(&g->obj.mu);
        g->on_change(g, status, g->ctx);
        pthread_mutex_lock(&g->obj.mu);
    }
    g->firing = 0;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->obj.mu);
    zkr__obj_unref(&g->obj);
}

/* ---- children ------------------------------------------------------------ */

static char *child_path(zkr_config_t *g, const char *name)
{
    char *p = NULL;
    zkr_path_join(g->path, name, &p);
    return p;
}

static void remove_kid(zkr_config_t *g, struct kid *k)
{
    if (!k->have)
        g->kids_missing--;
    HASH_DEL(g->kids, k);
    kid_free(k);
}

static void clear_kids(zkr_config_t *g)
{
    struct kid *k, *tmp;
    int any = g->kids != NULL;
    for (k = g->kids; k; k = tmp) {
        tmp = k->hh.next;
        remove_kid(g, k);
    }
    if (any)
        note_change(g);
}

static void load_kid(zkr_config_t *g, struct kid *k);

static void kid_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *w = ctx;
    zkr_config_t *g = C(w);
    struct kid *k = NULL;
    (void)path;
    pthread_mutex_lock(&g->obj.mu);
    if (type != ZKR__WATCH_CANCELED && w->attempt == g->attempt &&
        !g->freed) {
        HASH_FIND_STR(g->kids, w->name, k);
        if (k)
            load_kid(g, k);
    }
    unlock_fire(g);
    zkr__ctx_done(w);
}

static void kid_get_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_config_t *g = C(a);
    struct kid *k = NULL;
    pthread_mutex_lock(&g->obj.mu);
    if (a->attempt != g->attempt || g->freed)
        goto out;
    HASH_FIND_STR(g->kids, a->name, k);
    if (!k)
        goto out;
    k->loading = 0;
    if (rc == ZKR_OK && op->stat) {
        int changed = !k->have || k->st.mzxid != op->stat->mzxid ||
                      k->st.version != op->stat->version;
        char *d = malloc((size_t)op->value_len + 1);
        if (d) {
            if (op->value_len)
                memcpy(d, op->value, (size_t)op->value_len);
            d[op->value_len] = '\0';
            free(k->data);
            k->data = d;
            k->len = (size_t)op->value_len;
            zkr__stat_copy(&k->st, op->stat);
            if (!k->have) {
                k->have = 1;
                g->kids_missing--;
            }
            if (changed)
                note_change(g);
        } else {
            k->dirty = 1; /* try again */
        }
    } else if (rc == ZKR_ENONODE) {
        remove_kid(g, k);
        k = NULL;
        note_change(g);
    }
    if (k && k->dirty)
        load_kid(g, k);
out:
    unlock_fire(g);
    zkr__ctx_done(a);
}

static void load_kid(zkr_config_t *g, struct kid *k)
{
    char *p;
    zkr__ctx_t *a, *w;
    if (k->loading) {
        k->dirty = 1;
        return;
    }
    k->dirty = 0;
    p = child_path(g, k->name);
    a = cctx(g, k->name);
    w = cctx(g, k->name);
    if (p && a && w &&
        zkr__aget(g->c, p, kid_watch_cb, w, kid_get_cb, a) == ZKR_OK) {
        k->loading = 1;
    } else {
        zkr__ctx_drop(a);
        zkr__ctx_drop(w);
    }
    free(p);
}

static void reload_kids(zkr_config_t *g);

static void kids_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *w = ctx;
    zkr_config_t *g = C(w);
    (void)path;
    pthread_mutex_lock(&g->obj.mu);
    if (type != ZKR__WATCH_CANCELED && w->attempt == g->attempt && !g->freed)
        reload_kids(g);
    unlock_fire(g);
    zkr__ctx_done(w);
}

static void kids_listed(zkr_config_t *g, const struct String_vector *sv)
{
    struct kid *k, *tmp;
    int changed = 0;
    for (k = g->kids; k; k = k->hh.next)
        k->seen = 0;
    for (int i = 0; i < sv->count; i++) {
        HASH_FIND_STR(g->kids, sv->data[i], k);
        if (!k) {
            k = calloc(1, sizeof *k);
            if (!k || !(k->name = strdup(sv->data[i]))) {
                free(k);
                continue;
            }
            hash_oom = 0;
            HASH_ADD_KEYPTR(hh, g->kids, k->name, strlen(k->name), k);
            if (hash_oom) {
                kid_free(k);
                continue;
            }
            g->kids_missing++;
            load_kid(g, k);
            changed = 1;
        }
        k->seen = 1;
    }
    for (k = g->kids; k; k = tmp) {
        tmp = k->hh.next;
        if (!k->seen) {
            remove_kid(g, k);
            changed = 1;
        }
    }
    g->kids_loaded = 1;
    if (changed)
        note_change(g);
    else
        check_synced(g);
}

static void kids_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_config_t *g = C(a);
    pthread_mutex_lock(&g->obj.mu);
    if (a->attempt != g->attempt || g->freed)
        goto out;
    g->kids_loading = 0;
    if (rc == ZKR_OK && op->strings) {
        g->kids_need = 0;
        kids_listed(g, op->strings);
    } else if (rc == ZKR_ENONODE) {
        /* No watch was set: the node's own watch brings us back. */
        g->kids_need = 1;
        g->kids_loaded = 1;
        clear_kids(g);
        check_synced(g);
    }
    if (g->kids_dirty)
        reload_kids(g);
out:
    unlock_fire(g);
    zkr__ctx_done(a);
}

static void reload_kids(zkr_config_t *g)
{
    zkr__ctx_t *a, *w;
    if (!g->children)
        return;
    if (g->kids_loading) {
        g->kids_dirty = 1;
        return;
    }
    g->kids_dirty = 0;
    a = cctx(g, NULL);
    w = cctx(g, NULL);
    if (a && w &&
        zkr__achildren(g->c, g->path, kids_watch_cb, w, kids_cb, a) ==
            ZKR_OK) {
        g->kids_loading = 1;
    } else {
        zkr__ctx_drop(a);
        zkr__ctx_drop(w);
    }
}

/* ---- the node ------------------------------------------------------------ */

static void reload_node(zkr_config_t *g);

static void set_node(zkr_config_t *g, int exists, const char *data,
                     size_t len, const struct Stat *st)
{
    int was = g->exists, loaded = g->node_loaded;
    int changed = !loaded || was != exists ||
                  (exists && (g->st.mzxid != st->mzxid ||
                              g->st.version != st->version));
    int relist = g->children && exists &&
                 (!was || g->kids_need || g->st.czxid != st->czxid);
    if (exists) {
        char *d = malloc(len + 1);
        if (!d) {
            g->dirty = 1; /* read again */
            return;
        }
        if (len)
            memcpy(d, data, len);
        d[len] = '\0';
        free(g->data);
        g->data = d;
        g->len = len;
        zkr__stat_copy(&g->st, st);
    } else {
        free(g->data);
        g->data = NULL;
        g->len = 0;
        memset(&g->st, 0, sizeof g->st);
        clear_kids(g);
    }
    g->exists = exists;
    g->node_loaded = 1;
    /* Also on the first load: the first listing may have found no node
     * (and set no watch) just before the node was created. */
    if (relist)
        reload_kids(g);
    if (changed)
        note_change(g);
    else
        check_synced(g);
}

static void node_done(zkr_config_t *g)
{
    g->loading = 0;
    if (g->dirty)
        reload_node(g);
}

static void node_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *w = ctx;
    zkr_config_t *g = C(w);
    (void)path;
    pthread_mutex_lock(&g->obj.mu);
    if (type != ZKR__WATCH_CANCELED && w->attempt == g->attempt && !g->freed)
        reload_node(g);
    unlock_fire(g);
    zkr__ctx_done(w);
}

static void node_exists_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_config_t *g = C(a);
    pthread_mutex_lock(&g->obj.mu);
    if (a->attempt != g->attempt || g->freed)
        goto out;
    if (rc == ZKR_OK) {
        /* Created between our read and this check: read it. */
        g->loading = 0;
        g->dirty = 1;
        node_done(g);
    } else if (rc == ZKR_ENONODE) {
        set_node(g, 0, NULL, 0, NULL);
        node_done(g);
    } else {
        g->loading = 0; /* read again on reconnection */
    }
out:
    unlock_fire(g);
    zkr__ctx_done(a);
}

static void node_get_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_config_t *g = C(a);
    pthread_mutex_lock(&g->obj.mu);
    if (a->attempt != g->attempt || g->freed)
        goto out;
    if (rc == ZKR_OK && op->stat) {
        set_node(g, 1, op->value, (size_t)op->value_len, op->stat);
        node_done(g);
    } else if (rc == ZKR_ENONODE) {
        /* getData sets no watch on a missing node: exists does. */
        zkr__ctx_t *e = cctx(g, NULL), *w = cctx(g, NULL);
        if (!e || !w ||
            zkr__aexists(g->c, g->path, node_watch_cb, w, node_exists_cb,
                         e) != ZKR_OK) {
            zkr__ctx_drop(e);
            zkr__ctx_drop(w);
            g->loading = 0;
        }
    } else {
        g->loading = 0;
    }
out:
    unlock_fire(g);
    zkr__ctx_done(a);
}

static void reload_node(zkr_config_t *g)
{
    zkr__ctx_t *a, *w;
    if (g->loading) {
        g->dirty = 1;
        return;
    }
    g->dirty = 0;
    a = cctx(g, NULL);
    w = cctx(g, NULL);
    if (a && w &&
        zkr__aget(g->c, g->path, node_watch_cb, w, node_get_cb, a) ==
            ZKR_OK) {
        g->loading = 1;
    } else {
        zkr__ctx_drop(a);
        zkr__ctx_drop(w);
    }
}

/* Read everything again. Caller holds g->obj.mu. */
static void resync(zkr_config_t *g)
{
    struct kid *k, *tmp;
    reload_node(g);
    reload_kids(g);
    for (k = g->kids; k; k = tmp) {
        tmp = k->hh.next;
        load_kid(g, k);
    }
}

static void on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkr_config_t *g = ctx;
    struct kid *k;
    (void)c;
    pthread_mutex_lock(&g->obj.mu);
    switch (st) {
    case ZKR_STATE_RECONNECTED:
    case ZKR_STATE_CONNECTED:
        if (!g->freed)
            resync(g);
        break;
    case ZKR_STATE_LOST:
        /* Outstanding reads die with the session. */
        g->attempt++;
        g->loading = g->dirty = 0;
        g->kids_loading = g->kids_dirty = 0;
        for (k = g->kids; k; k = k->hh.next)
            k->loading = k->dirty = 0;
        break;
    case ZKR_STATE_CLOSED:
        g->closed = 1;
        g->attempt++;
        pthread_cond_broadcast(&g->cv);
        break;
    default:
        break;
    }
    unlock_fire(g);
}

/* ---- public API ---------------------------------------------------------- */

void zkr_config_opts_init(zkr_config_opts_t *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

int zkr_config_new(zkr_client_t *c, const char *path,
                   const zkr_config_opts_t *opts, zkr_config_t **out)
{
    zkr_config_t *g;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!c)
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(path)) != ZKR_OK)
        return rc;
    if (zkr__client_closed(c))
        return ZKR_ECLOSED;
    g = calloc(1, sizeof *g);
    if (!g)
        return ZKR_ENOMEM;
    if (zkr__obj_init(&g->obj, cfg_destroy) != ZKR_OK) {
        free(g);
        return ZKR_ENOMEM;
    }
    zkr__cond_init(&g->cv);
    g->c = c;
    if (!(g->path = strdup(path))) {
        zkr__obj_fini(&g->obj);
        pthread_cond_destroy(&g->cv);
        free(g);
        return ZKR_ENOMEM;
    }
    if (opts) {
        g->on_change = opts->on_change;
        g->ctx = opts->ctx;
        g->children = opts->children != 0;
    }
    zkr__client_ref(c);
    if ((rc = zkr_client_add_listener(c, on_state, g)) != ZKR_OK) {
        zkr__obj_unref(&g->obj);
        return rc;
    }
    pthread_mutex_lock(&g->obj.mu);
    reload_node(g);
    reload_kids(g);
    unlock_fire(g);
    *out = g;
    return ZKR_OK;
}

int zkr_config_wait_synced(zkr_config_t *g, int timeout_ms)
{
    struct timespec ts;
    int has, rc = ZKR_OK;
    if (!g)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    has = zkr__deadline(timeout_ms, &ts);
    pthread_mutex_lock(&g->obj.mu);
    while (!g->synced && !g->closed) {
        if (zkr__cond_wait(&g->cv, &g->obj.mu, has, &ts) == ETIMEDOUT) {
            rc = g->synced ? ZKR_OK : ZKR_ETIMEDOUT;
            break;
        }
    }
    if (!g->synced && g->closed)
        rc = ZKR_ECLOSED;
    pthread_mutex_unlock(&g->obj.mu);
    return rc;
}

int zkr_config_get(zkr_config_t *g, char **data, size_t *len,
                   zkr_stat_t *stat)
{
    int rc = ZKR_OK;
    if (data)
        *data = NULL;
    if (!g)
        return ZKR_EINVAL;
    pthread_mutex_lock(&g->obj.mu);
    if (!g->node_loaded) {
        rc = ZKR_EBUSY;
    } else if (!g->exists) {
        rc = ZKR_ENONODE;
    } else {
        if (data) {
            *data = malloc(g->len + 1);
            if (*data) {
                memcpy(*data, g->data, g->len + 1);
            } else {
                rc = ZKR_ENOMEM;
            }
        }
        if (rc == ZKR_OK && len)
            *len = g->len;
        if (rc == ZKR_OK && stat)
            *stat = g->st;
    }
    pthread_mutex_unlock(&g->obj.mu);
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const zkr_config_entry_t *)a)->name,
                  ((const zkr_config_entry_t *)b)->name);
}

void zkr_config_entries_free(zkr_config_entry_t *v, int n)
{
    if (!v)
        return;
    for (int i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].data);
    }
    free(v);
}

int zkr_config_children(zkr_config_t *g, zkr_config_entry_t **out,
                        int *count)
{
    zkr_config_entry_t *v = NULL;
    struct kid *k;
    int n = 0, rc = ZKR_OK;
    if (!out || !count)
        return ZKR_EINVAL;
    *out = NULL;
    *count = 0;
    if (!g || !g->children)
        return ZKR_EINVAL;
    pthread_mutex_lock(&g->obj.mu);
    if (!g->synced) {
        pthread_mutex_unlock(&g->obj.mu);
        return ZKR_EBUSY;
    }
    n = (int)HASH_COUNT(g->kids);
    if (n > 0 && !(v = calloc((size_t)n, sizeof *v)))
        rc = ZKR_ENOMEM;
    n = 0;
    if (v) {
        for (k = g->kids; k; k = k->hh.next) {
            if (!k->have)
                continue; /* appeared, data not read yet */
            v[n].name = strdup(k->name);
            v[n].data = malloc(k->len + 1);
            v[n].len = k->len;
            v[n].stat = k->st;
            if (!v[n].name || !v[n].data) {
                n++;
                rc = ZKR_ENOMEM;
                break;
            }
            memcpy(v[n].data, k->data ? k->data : "", k->len + 1);
            n++;
        }
    }
    pthread_mutex_unlock(&g->obj.mu);
    if (rc != ZKR_OK) {
        zkr_config_entries_free(v, n);
        return rc;
    }
    if (n == 0) {
        free(v);
        v = NULL;
    }
    if (v)
        qsort(v, (size_t)n, sizeof *v, entry_cmp);
    *out = v;
    *count = n;
    return ZKR_OK;
}

void zkr_config_free(zkr_config_t *g)
{
    if (!g)
        return;
    zkr_client_remove_listener(g->c, on_state, g);
    pthread_mutex_lock(&g->obj.mu);
    g->freed = 1;
    g->attempt++;
    while (g->firing && !pthread_equal(g->drainer, pthread_self()))
        pthread_cond_wait(&g->cv, &g->obj.mu);
    pthread_mutex_unlock(&g->obj.mu);
    zkr__obj_unref(&g->obj);
}

/* ---- push ---------------------------------------------------------------- */

/* Create path (and its parents); ZKR_ENODEEXISTS if it is there. */
static int create_node(zkr_client_t *c, const char *path, const void *data,
                       size_t len)
{
    int rc = zkr_create(c, path, data, len, ZKR_PERSISTENT, NULL);
    if (rc == ZKR_ENONODE) {
        char *parent = zkr__path_parent(path);
        rc = parent ? zkr_ensure_path(c, parent) : ZKR_ENOMEM;
        free(parent);
        if (rc == ZKR_OK)
            rc = zkr_create(c, path, data, len, ZKR_PERSISTENT, NULL);
    }
    return rc;
}

static void current_stat(zkr_client_t *c, const char *path, zkr_stat_t *st)
{
    if (st && zkr_exists(c, path, st) != ZKR_OK)
        memset(st, 0, sizeof *st);
}

int zkr_config_push(zkr_client_t *c, const char *path, const void *data,
                    size_t len, int version, zkr_stat_t *stat)
{
    int rc;
    if (stat)
        memset(stat, 0, sizeof *stat);
    if (!c || (len > 0 && !data) || version < ZKR_CONFIG_ABSENT)
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(path)) != ZKR_OK)
        return rc;
    if (strcmp(path, "/") == 0 && version == ZKR_CONFIG_ABSENT)
        return ZKR_EBADVERSION;
    if (len > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    if (version >= 0) {
        rc = zkr_set(c, path, data, len, version, stat);
        if (rc == ZKR_EBADVERSION)
            current_stat(c, path, stat);
        return rc;
    }
    if (version == ZKR_CONFIG_ABSENT) {
        rc = create_node(c, path, data, len);
        if (rc == ZKR_ENODEEXISTS) {
            current_stat(c, path, stat);
            return ZKR_EBADVERSION;
        }
        if (rc == ZKR_OK)
            current_stat(c, path, stat);
        return rc;
    }
    /* ZKR_CONFIG_ANY: set, or create when missing; a racing create or
     * delete sends us round again. */
    for (int i = 0; i < 8; i++) {
        rc = zkr_set(c, path, data, len, -1, stat);
        if (rc != ZKR_ENONODE)
            return rc;
        rc = create_node(c, path, data, len);
        if (rc == ZKR_OK) {
            current_stat(c, path, stat);
            return rc;
        }
        if (rc != ZKR_ENODEEXISTS && rc != ZKR_ENONODE)
            return rc;
    }
    return rc;
}
