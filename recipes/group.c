/* SPDX-License-Identifier: Apache-2.0 */
/* Group membership: one ephemeral node per member, kept alive across
 * sessions, and a watched cache of the group's children for the list.
 *
 * Creating our node can meet an existing one of the same name: ours from
 * a create whose reply was lost (owner = our session), ours from the
 * session we just lost and the server has not expired yet (owner = our
 * previous session: delete it), or somebody else's (wait for it to go). */
#define ZKR_BUILDING 1
#include "zkr/group.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "zkr/config.h"

enum mstate {
    M_IDLE,
    M_ENSURING,    /* creating the group node */
    M_CREATING,    /* create sent */
    M_CHECKING,    /* a node of our name exists: whose? */
    M_WAIT_GONE,   /* somebody else's: wait for it to go */
    M_JOINED,
    M_WAIT_SESSION /* retry on the next (re)connection */
};

struct zkr_group {
    zkr__obj_t obj; /* first: mutex and references */
    zkr_client_t *c;
    char *path;
    zkr_config_t *cfg;
    const struct ACL_vector *acl; /* of our node and missing parents */
    zkr_group_cb on_change;
    void *ctx;

    enum mstate state;
    unsigned attempt;
    int joined;
    int suspended;
    int freed;
    int closed;
    int ensure_tries;
    char *node_path;
    char *data;
    size_t len;
    int64_t owner;     /* session owning our node */
    int64_t old_owner; /* our previous session */
    zkr_group_cb join_cb;
    void *join_ctx;
    zkr_group_cb fire_cb;
    void *fire_ctx;
    int fire_status;
};

/* A context's group. */
#define G(x) ((zkr_group_t *)(x)->o)

static void grp_destroy(zkr__obj_t *o)
{
    zkr_group_t *g = (zkr_group_t *)o;
    zkr__client_unref(g->c);
    free(g->path);
    free(g->node_path);
    free(g->data);
    free(g);
}

/* Caller holds g->obj.mu: a context for the current attempt. */
static zkr__ctx_t *gctx(zkr_group_t *g)
{
    return zkr__ctx_new(&g->obj, g->attempt, 0, NULL);
}

/* Caller holds g->obj.mu: complete the pending join once the mutex is
 * released. */
static void finish_join(zkr_group_t *g, int status)
{
    if (!g->join_cb)
        return;
    g->fire_cb = g->join_cb;
    g->fire_ctx = g->join_ctx;
    g->fire_status = status;
    g->join_cb = NULL;
    g->join_ctx = NULL;
}

static void unlock_fire(zkr_group_t *g)
{
    zkr_group_cb cb = g->fire_cb;
    void *ctx = g->fire_ctx;
    int status = g->fire_status;
    g->fire_cb = NULL;
    pthread_mutex_unlock(&g->obj.mu);
    if (cb)
        cb(g, status, ctx);
}

/* ---- the member node ----------------------------------------------------- */

static void start_create(zkr_group_t *g);

/* Connection or session trouble, not a verdict on the membership: retry
 * on the next RECONNECTED or CONNECTED (creating again is safe: an
 * existing node of ours is recognised by its owner). */
static int transient(int rc)
{
    return rc == ZKR_ECONNLOSS || rc == ZKR_ESESSIONEXPIRED ||
           rc == ZKR_ECANCELED || rc == ZKR_ECLOSED ||
           rc == ZKR_ESESSIONMOVED || rc == ZKR_ECLOSING ||
           rc == ZKR_EINVALIDSTATE || rc == ZKR_EOPTIMEOUT ||
           rc == ZKR_ETHROTTLED;
}

static void give_up(zkr_group_t *g, int status)
{
    g->attempt++;
    if (g->state == M_JOINED)
        zkr__delete_bg(g->c, g->node_path);
    finish_join(g, status);
    g->joined = 0;
    g->state = M_IDLE;
    g->owner = 0;
}

static void own_watch_cb(void *ctx, int type, const char *path);

static void own_exists_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_group_t *g = G(a);
    pthread_mutex_lock(&g->obj.mu);
    if (a->attempt == g->attempt && g->state == M_JOINED && rc == ZKR_ENONODE)
        start_create(g);
    unlock_fire(g);
    zkr__ctx_done(a);
}

static void watch_own(zkr_group_t *g)
{
    zkr__ctx_t *a = gctx(g), *w = gctx(g);
    if (!a || !w ||
        zkr__aexists(g->c, g->node_path, own_watch_cb, w, own_exists_cb, a) !=
            ZKR_OK) {
        zkr__ctx_drop(a);
        zkr__ctx_drop(w);
    }
}

static void own_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *w = ctx;
    zkr_group_t *g = G(w);
    (void)path;
    pthread_mutex_lock(&g->obj.mu);
    if (type != ZKR__WATCH_CANCELED && w->attempt == g->attempt) {
        if (type == ZOO_DELETED_EVENT &&
            (g->state == M_JOINED || g->state == M_WAIT_GONE))
            start_create(g); /* deleted under us, or the name is free */
        else if (g->state == M_JOINED)
            watch_own(g);
    }
    unlock_fire(g);
    zkr__ctx_done(w);
}

static void joined(zkr_group_t *g, int64_t owner)
{
    g->owner = owner;
    g->state = M_JOINED;
    finish_join(g, ZKR_OK);
}

static void check_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_group_t *g = G(a);
    int64_t sid;
    pthread_mutex_lock(&g->obj.mu);
    sid = zkr_client_session_id(g->c);
    if (a->attempt != g->attempt || g->state != M_CHECKING) {
        if (rc == ZKR_OK && op->stat && op->stat->ephemeralOwner == sid &&
            !g->joined)
            zkr__delete_bg(g->c, g->node_path);
        goto out;
    }
    if (rc == ZKR_OK && op->stat) {
        int64_t owner = op->stat->ephemeralOwner;
        if (owner == sid) {
            joined(g, owner); /* our create was applied after all */
        } else if (owner != 0 && owner == g->old_owner) {
            /* Ours from the session we lost: the delete goes first. */
            zkr__delete_bg(g->c, g->node_path);
            start_create(g);
        } else {
            g->state = M_WAIT_GONE; /* the watch brings us back */
        }
    } else if (rc == ZKR_ENONODE) {
        start_create(g);
    } else if (transient(rc)) {
        g->state = M_WAIT_SESSION;
    } else {
        give_up(g, rc);
    }
out:
    unlock_fire(g);
    zkr__ctx_done(a);
}

static void ensure_cb(void *ctx, int rc)
{
    zkr__ctx_t *a = ctx;
    zkr_group_t *g = G(a);
    pthread_mutex_lock(&g->obj.mu);
    if (a->attempt == g->attempt && g->state == M_ENSURING) {
        if (rc == ZKR_OK || rc == ZKR_ENODEEXISTS)
            start_create(g);
        else if (transient(rc))
            g->state = M_WAIT_SESSION;
        else
            give_up(g, rc);
    }
    unlock_fire(g);
    zkr__ctx_done(a);
}

static void create_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_group_t *g = G(a);
    pthread_mutex_lock(&g->obj.mu);
    if (a->attempt != g->attempt || g->state != M_CREATING) {
        if (rc == ZKR_OK && !g->joined)
            zkr__delete_bg(g->c, g->node_path); /* left meanwhile */
        goto out;
    }
    if (rc == ZKR_OK) {
        joined(g, op->stat ? op->stat->ephemeralOwner : 0);
        watch_own(g);
    } else if (rc == ZKR_ENODEEXISTS) {
        zkr__ctx_t *e = gctx(g), *w = gctx(g);
        g->state = M_CHECKING;
        if (!e || !w ||
            zkr__aexists(g->c, g->node_path, own_watch_cb, w, check_cb, e) !=
                ZKR_OK) {
            zkr__ctx_drop(e);
            zkr__ctx_drop(w);
            g->state = M_WAIT_SESSION;
        }
    } else if (rc == ZKR_ENONODE && g->ensure_tries++ < 5) {
        zkr__ctx_t *e;
        g->attempt++;
        g->state = M_ENSURING;
        e = gctx(g);
        if (!e || zkr__aensure_acl(g->c, g->path, ZKR_CONTAINER, g->acl,
                                   ensure_cb, e) != ZKR_OK) {
            zkr__ctx_drop(e);
            g->state = M_WAIT_SESSION;
        }
    } else if (transient(rc)) {
        /* Retried on reconnection; a create that was applied shows up as
         * an existing node of our session. */
        g->state = M_WAIT_SESSION;
    } else {
        give_up(g, rc);
    }
out:
    unlock_fire(g);
    zkr__ctx_done(a);
}

static void start_create(zkr_group_t *g)
{
    zkr__ctx_t *a;
    int rc;
    g->attempt++;
    g->state = M_CREATING;
    a = gctx(g);
    if (!a) {
        give_up(g, ZKR_ENOMEM);
        return;
    }
    rc = zkr__acreate_acl(g->c, g->node_path, g->data, g->len, ZKR_EPHEMERAL,
                          g->acl, create_cb, a);
    if (rc != ZKR_OK) {
        zkr__ctx_drop(a);
        if (rc == ZKR_ESESSIONEXPIRED)
            g->state = M_WAIT_SESSION;
        else
            give_up(g, rc);
    }
}

static void on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkr_group_t *g = ctx;
    (void)c;
    pthread_mutex_lock(&g->obj.mu);
    switch (st) {
    case ZKR_STATE_SUSPENDED:
        g->suspended = 1;
        break;
    case ZKR_STATE_RECONNECTED:
    case ZKR_STATE_CONNECTED:
        g->suspended = 0;
        if (g->joined && g->state == M_WAIT_SESSION)
            start_create(g);
        break;
    case ZKR_STATE_LOST:
        g->suspended = 0;
        g->attempt++;
        if (g->owner)
            g->old_owner = g->owner;
        g->owner = 0;
        if (g->joined)
            g->state = M_WAIT_SESSION;
        break;
    case ZKR_STATE_CLOSED:
        g->closed = 1;
        g->attempt++;
        finish_join(g, ZKR_ECANCELED);
        g->joined = 0;
        g->state = M_IDLE;
        break;
    case ZKR_STATE_AUTH_FAILED:
        if (g->join_cb)
            give_up(g, ZKR_EAUTHFAILED);
        break;
    }
    unlock_fire(g);
}

/* ---- the member list ----------------------------------------------------- */

static void cfg_cb(zkr_config_t *cfg, int status, void *ctx)
{
    zkr_group_t *g = ctx;
    (void)cfg;
    if (g->on_change)
        g->on_change(g, status, g->ctx);
}

/* ---- public API ---------------------------------------------------------- */

void zkr_group_opts_init(zkr_group_opts_t *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

int zkr_group_new(zkr_client_t *c, const char *path,
                  const zkr_group_opts_t *opts, zkr_group_t **out)
{
    zkr_group_t *g;
    zkr_config_opts_t co;
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
    const struct ACL_vector *acl;
    rc = zkr__acl_pick(c, opts ? opts->acl : NULL, &acl);
    if (rc != ZKR_OK)
        return rc;
    if (zkr__client_closed(c))
        return ZKR_ECLOSED;
    g = calloc(1, sizeof *g);
    if (!g)
        return ZKR_ENOMEM;
    if (zkr__obj_init(&g->obj, grp_destroy) != ZKR_OK) {
        free(g);
        return ZKR_ENOMEM;
    }
    g->c = c;
    g->acl = acl;
    if (opts) {
        g->on_change = opts->on_change;
        g->ctx = opts->ctx;
    }
    zkr__client_ref(c);
    if (!(g->path = strdup(path))) {
        zkr__obj_unref(&g->obj);
        return ZKR_ENOMEM;
    }
    zkr_config_opts_init(&co);
    co.children = 1;
    co.on_change = cfg_cb;
    co.ctx = g;
    if ((rc = zkr_config_new(c, path, &co, &g->cfg)) != ZKR_OK) {
        zkr__obj_unref(&g->obj);
        return rc;
    }
    if ((rc = zkr_client_add_listener(c, on_state, g)) != ZKR_OK) {
        zkr_config_free(g->cfg);
        zkr__obj_unref(&g->obj);
        return rc;
    }
    *out = g;
    return ZKR_OK;
}

int zkr_group_join_async(zkr_group_t *g, const char *id, const void *data,
                         size_t len, zkr_group_cb cb, void *ctx)
{
    char *np = NULL, *d;
    int rc;
    if (!g || !cb || !id || !*id || strchr(id, '/') ||
        strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || (len && !data))
        return ZKR_EINVAL;
    if (len > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    if ((rc = zkr_path_join(g->path, id, &np)) != ZKR_OK)
        return rc == ZKR_EBADPATH ? ZKR_EINVAL : rc;
    d = malloc(len ? len : 1);
    if (!d) {
        free(np);
        return ZKR_ENOMEM;
    }
    if (len)
        memcpy(d, data, len);
    pthread_mutex_lock(&g->obj.mu);
    if (g->freed || g->closed || zkr__client_closed(g->c)) {
        rc = ZKR_ECLOSED;
    } else if (g->joined) {
        rc = ZKR_EBUSY;
    } else {
        free(g->node_path);
        free(g->data);
        g->node_path = np;
        g->data = d;
        g->len = len;
        np = d = NULL;
        g->joined = 1;
        g->join_cb = cb;
        g->join_ctx = ctx;
        g->ensure_tries = 0;
        start_create(g);
    }
    unlock_fire(g);
    free(np);
    free(d);
    return rc;
}

static void blocking_cb(zkr_group_t *g, int status, void *ctx)
{
    (void)g;
    zkr__waiter_signal(ctx, status);
}

int zkr_group_join(zkr_group_t *g, const char *id, const void *data,
                   size_t len, int timeout_ms)
{
    zkr__waiter_t w;
    int rc;
    if (!g)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    zkr__waiter_init(&w);
    rc = zkr_group_join_async(g, id, data, len, blocking_cb, &w);
    if (rc == ZKR_OK) {
        rc = zkr__waiter_wait(&w, timeout_ms);
        if (rc == ZKR_ETIMEDOUT) {
            pthread_mutex_lock(&g->obj.mu);
            if (g->join_ctx == &w) {
                g->join_cb = NULL; /* joining goes on without us */
                g->join_ctx = NULL;
                pthread_mutex_unlock(&g->obj.mu);
            } else {
                pthread_mutex_unlock(&g->obj.mu);
                rc = zkr__waiter_wait(&w, -1);
            }
        }
    }
    zkr__waiter_destroy(&w);
    return rc;
}

int zkr_group_leave(zkr_group_t *g)
{
    if (!g)
        return ZKR_EINVAL;
    pthread_mutex_lock(&g->obj.mu);
    if (!g->joined) {
        pthread_mutex_unlock(&g->obj.mu);
        return ZKR_ENOTHELD;
    }
    give_up(g, ZKR_ECANCELED);
    unlock_fire(g);
    return ZKR_OK;
}

int zkr_group_wait_synced(zkr_group_t *g, int timeout_ms)
{
    if (!g)
        return ZKR_EINVAL;
    return zkr_config_wait_synced(g->cfg, timeout_ms);
}

int zkr_group_members(zkr_group_t *g, zkr_group_member_t **out, int *count)
{
    zkr_config_entry_t *e;
    zkr_group_member_t *m = NULL;
    int n, rc;
    if (!out || !count)
        return ZKR_EINVAL;
    *out = NULL;
    *count = 0;
    if (!g)
        return ZKR_EINVAL;
    if ((rc = zkr_config_children(g->cfg, &e, &n)) != ZKR_OK)
        return rc;
    if (n > 0 && !(m = calloc((size_t)n, sizeof *m))) {
        zkr_config_entries_free(e, n);
        return ZKR_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        /* hand the strings over */
        m[i].id = e[i].name;
        m[i].data = e[i].data;
        m[i].len = e[i].len;
        m[i].owner = e[i].stat.ephemeral_owner;
        e[i].name = e[i].data = NULL;
    }
    zkr_config_entries_free(e, n);
    *out = m;
    *count = n;
    return ZKR_OK;
}

void zkr_group_members_free(zkr_group_member_t *m, int count)
{
    if (!m)
        return;
    for (int i = 0; i < count; i++) {
        free(m[i].id);
        free(m[i].data);
    }
    free(m);
}

int zkr_group_is_member(zkr_group_t *g)
{
    int v;
    if (!g)
        return 0;
    pthread_mutex_lock(&g->obj.mu);
    v = g->state == M_JOINED && !g->suspended;
    pthread_mutex_unlock(&g->obj.mu);
    return v;
}

void zkr_group_free(zkr_group_t *g)
{
    if (!g)
        return;
    zkr_client_remove_listener(g->c, on_state, g);
    zkr_config_free(g->cfg);
    pthread_mutex_lock(&g->obj.mu);
    g->freed = 1;
    if (g->joined)
        give_up(g, ZKR_ECANCELED);
    unlock_fire(g);
    zkr__obj_unref(&g->obj);
}
