/* SPDX-License-Identifier: Apache-2.0 */
/* Registrations: a node kept in place across sessions (Dubbo providers and
 * consumers, Curator service instances). The layouts come from
 * dubbo_url.c and discovery_json.c; discovery caches from discovery.c. */
#define ZKR_BUILDING 1
#include "zkr/registry.h"

#include <stdlib.h>
#include <string.h>

#include "registryint.h"

enum rstate { R_WAIT, R_CREATING, R_CHECKING, R_DELETING, R_REGISTERED,
              R_FAILED };

/* A delete-and-recreate fight over one path (two live owners) gives up
 * after this many rounds. */
#define MAX_FIGHTS 10

struct zkr_registration {
    zkr__obj_t obj; /* first: mutex and references */
    zkr_client_t *c;
    char *path;
    char *data;
    size_t len;
    int persistent, keep_on_free, container_parents;
    const struct ACL_vector *acl; /* of the node and missing parents */
    zkr_registration_cb on_state;
    void *ctx;
    enum rstate state;
    unsigned attempt;
    int fights, ensure_tries;
    int error;      /* why R_FAILED */
    unsigned count; /* creations */
    int dirty;      /* data changed while a create was on its way */
    int watching;
    unsigned wtoken;
    int freed;
    struct ev *waiters; /* wait_async callbacks, delivered once */
    struct evq q;
};

/* A context's registration. */
#define R(x) ((zkr_registration_t *)(x)->o)

static void reg_destroy(zkr__obj_t *o)
{
    zkr_registration_t *r = (zkr_registration_t *)o;
    zkr__client_unref(r->c);
    pthread_cond_destroy(&r->q.idle);
    free(r->path);
    free(r->data);
    free(r);
}

/* Caller holds r->obj.mu: a context for the current attempt. */
static zkr__ctx_t *rctx(zkr_registration_t *r)
{
    return zkr__ctx_new(&r->obj, r->attempt, 0, NULL);
}

static void reg_invoke(void *obj, const struct ev *e)
{
    ((zkr_registration_cb)e->cb)(obj, e->status, e->ctx);
}

/* Caller holds r->obj.mu; returns with it released. The reference keeps r
 * alive while callbacks run, even if one of them frees it. */
static void reg_fire(zkr_registration_t *r)
{
    r->obj.refs++;
    evq_deliver(&r->q, &r->obj.mu, r, &r->freed, reg_invoke);
    zkr__obj_unref(&r->obj);
}

static void reg_notify(zkr_registration_t *r, int status)
{
    evq_state(&r->q, (ev_fn)r->on_state, r->ctx, status);
}

/* Caller holds r->obj.mu: hand every wait_async callback its result. */
static void reg_wake(zkr_registration_t *r, int status)
{
    while (r->waiters) {
        struct ev *e = r->waiters;
        r->waiters = e->next;
        e->status = status;
        evq_push(&r->q, e);
    }
}

static void reg_fail(zkr_registration_t *r, int rc)
{
    r->state = R_FAILED;
    r->error = rc;
    r->attempt++;
    reg_notify(r, rc);
    reg_wake(r, rc);
}

static void do_create(zkr_registration_t *r);
static void reg_start(zkr_registration_t *r);
static void reg_watch(zkr_registration_t *r);

/* A reply reported a lost connection or session: go on when the client is
 * connected again (at once if it already is). */
static void reg_retry_later(zkr_registration_t *r, int rc)
{
    if (rc == ZKR_ECONNLOSS || rc == ZKR_ESESSIONEXPIRED ||
        rc == ZKR_ECANCELED || rc == ZKR_ECLOSED) {
        r->state = R_WAIT;
        r->attempt++;
        if (rc == ZKR_ECONNLOSS && is_connected(r->c))
            reg_start(r);
    } else {
        reg_fail(r, rc);
    }
}

/* A request could not even be sent: wait for the next state change (never
 * retry at once, which could loop). */
static void reg_send_failed(zkr_registration_t *r, int rc)
{
    if (rc == ZKR_ECONNLOSS || rc == ZKR_ESESSIONEXPIRED ||
        rc == ZKR_ECANCELED || rc == ZKR_ECLOSED) {
        r->state = R_WAIT;
        r->attempt++;
    } else {
        reg_fail(r, rc);
    }
}

static void node_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *x = ctx; /* token holds the watch token here */
    zkr_registration_t *r = R(x);
    (void)path;
    pthread_mutex_lock(&r->obj.mu);
    if (x->token == r->wtoken) {
        r->watching = 0;
        if (type == ZOO_DELETED_EVENT && r->state == R_REGISTERED &&
            !r->freed) {
            /* removed by somebody else while our session lives */
            reg_notify(r, ZKR_ENONODE);
            reg_start(r);
        } else if (type != ZKR__WATCH_CANCELED && r->state == R_REGISTERED &&
                   !r->freed) {
            reg_watch(r);
        }
    }
    reg_fire(r);
    zkr__ctx_done(x);
}

static void ignore_cb(zkr__op_t *op, int rc)
{
    (void)op;
    (void)rc;
}

static void watch_exists_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_registration_t *r = R(x);
    pthread_mutex_lock(&r->obj.mu);
    /* gone before the watch was set: the watch waits for a creation that
     * only we would make */
    if (rc == ZKR_ENONODE && x->attempt == r->attempt &&
        r->state == R_REGISTERED && !r->freed) {
        reg_notify(r, ZKR_ENONODE);
        reg_start(r);
    }
    reg_fire(r);
    zkr__ctx_done(x);
}

/* Caller holds r->obj.mu: watch our node for deletion. */
static void reg_watch(zkr_registration_t *r)
{
    zkr__ctx_t *w = rctx(r), *k = rctx(r);
    if (w)
        w->token = ++r->wtoken;
    if (w && k &&
        zkr__aexists(r->c, r->path, node_watch_cb, w, watch_exists_cb, k) ==
            ZKR_OK) {
        r->watching = 1;
    } else {
        zkr__ctx_drop(w);
        zkr__ctx_drop(k);
    }
}

/* Caller holds r->obj.mu. */
static void reg_registered(zkr_registration_t *r)
{
    r->state = R_REGISTERED;
    r->count++;
    if (r->dirty) {
        r->dirty = 0;
        zkr__aset(r->c, r->path, r->data, r->len, -1, ignore_cb, NULL);
    }
    if (!r->watching)
        reg_watch(r);
    reg_notify(r, ZKR_OK);
    reg_wake(r, ZKR_OK);
}

static void delete_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_registration_t *r = R(x);
    pthread_mutex_lock(&r->obj.mu);
    if (x->attempt == r->attempt && r->state == R_DELETING) {
        if (rc == ZKR_OK || rc == ZKR_ENONODE || rc == ZKR_EBADVERSION)
            do_create(r);
        else
            reg_retry_later(r, rc);
    }
    reg_fire(r);
    zkr__ctx_done(x);
}

static void set_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_registration_t *r = R(x);
    pthread_mutex_lock(&r->obj.mu);
    if (x->attempt == r->attempt && r->state == R_CHECKING) {
        if (rc == ZKR_OK)
            reg_registered(r);
        else if (rc == ZKR_ENONODE)
            do_create(r);
        else
            reg_retry_later(r, rc);
    }
    reg_fire(r);
    zkr__ctx_done(x);
}

/* The node existed when we created it: whose is it? */
static void check_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_registration_t *r = R(x);
    pthread_mutex_lock(&r->obj.mu);
    if (x->attempt != r->attempt || r->state != R_CHECKING)
        goto out;
    if (rc == ZKR_ENONODE) {
        do_create(r);
    } else if (rc != ZKR_OK) {
        reg_retry_later(r, rc);
    } else if (r->persistent) {
        /* a persistent registration takes the node over with our data */
        zkr__ctx_t *s = rctx(r);
        int src = s ? zkr__aset(r->c, r->path, r->data, r->len, -1, set_cb, s)
                    : ZKR_ENOMEM;
        if (src != ZKR_OK) {
            zkr__ctx_drop(s);
            reg_send_failed(r, src);
        }
    } else if (op->stat->ephemeralOwner == zkr_client_session_id(r->c)) {
        reg_registered(r); /* our own create, applied before a lost reply */
    } else if (++r->fights > MAX_FIGHTS) {
        reg_fail(r, ZKR_ENODEEXISTS);
    } else {
        /* left over from an older session (or another owner): replace it,
         * as Dubbo and Curator do */
        zkr__ctx_t *d = rctx(r);
        int drc = d ? zkr__adelete(r->c, r->path, op->stat->version,
                                   delete_cb, d)
                    : ZKR_ENOMEM;
        r->state = R_DELETING;
        if (drc != ZKR_OK) {
            zkr__ctx_drop(d);
            reg_send_failed(r, drc);
        }
    }
out:
    reg_fire(r);
    zkr__ctx_done(x);
}

static void ensure_cb(void *ctx, int rc)
{
    zkr__ctx_t *x = ctx;
    zkr_registration_t *r = R(x);
    pthread_mutex_lock(&r->obj.mu);
    if (x->attempt == r->attempt && r->state == R_CREATING) {
        if (rc == ZKR_OK)
            do_create(r);
        else
            reg_retry_later(r, rc);
    }
    reg_fire(r);
    zkr__ctx_done(x);
}

static void create_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_registration_t *r = R(x);
    pthread_mutex_lock(&r->obj.mu);
    if (x->attempt != r->attempt || r->state != R_CREATING)
        goto out; /* free already sent the delete after this create */
    if (rc == ZKR_OK) {
        reg_registered(r);
    } else if (rc == ZKR_ENONODE && r->ensure_tries++ < 5) {
        char *parent = zkr__path_parent(r->path);
        zkr__ctx_t *e = rctx(r);
        int erc = parent && e ? zkr__aensure_acl(r->c, parent,
                                                 r->container_parents
                                                     ? ZKR_CONTAINER
                                                     : ZKR_PERSISTENT,
                                                 r->acl, ensure_cb, e)
                              : ZKR_ENOMEM;
        free(parent);
        if (erc != ZKR_OK) {
            zkr__ctx_drop(e);
            reg_send_failed(r, erc);
        }
    } else if (rc == ZKR_ENODEEXISTS) {
        zkr__ctx_t *k = rctx(r);
        int krc = k ? zkr__aexists(r->c, r->path, NULL, NULL, check_cb, k)
                    : ZKR_ENOMEM;
        r->state = R_CHECKING;
        if (krc != ZKR_OK) {
            zkr__ctx_drop(k);
            reg_send_failed(r, krc);
        }
    } else {
        reg_retry_later(r, rc);
    }
out:
    reg_fire(r);
    zkr__ctx_done(x);
}

/* Caller holds r->obj.mu. */
static void do_create(zkr_registration_t *r)
{
    zkr__ctx_t *x = rctx(r);
    int rc = x ? zkr__acreate_acl(r->c, r->path, r->data, r->len,
                                  r->persistent ? ZKR_PERSISTENT
                                                : ZKR_EPHEMERAL,
                                  r->acl, create_cb, x)
               : ZKR_ENOMEM;
    r->state = R_CREATING;
    if (rc != ZKR_OK) {
        zkr__ctx_drop(x);
        reg_send_failed(r, rc);
    }
}

/* Caller holds r->obj.mu: a fresh attempt. */
static void reg_start(zkr_registration_t *r)
{
    r->attempt++;
    r->fights = 0;
    r->ensure_tries = 0;
    do_create(r);
}

static void reg_on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkr_registration_t *r = ctx;
    (void)c;
    pthread_mutex_lock(&r->obj.mu);
    if (r->freed) {
        pthread_mutex_unlock(&r->obj.mu);
        return;
    }
    switch (st) {
    case ZKR_STATE_LOST:
        /* registered, or re-creating a node somebody deleted, on the
         * session that ended (the deletion may be the session's own end
         * reaching us first) */
        if (r->count > 0 && r->state != R_FAILED)
            reg_notify(r, ZKR_ESESSIONEXPIRED);
        r->state = R_WAIT;
        r->attempt++;
        break;
    case ZKR_STATE_CONNECTED:
        /* a new session: our ephemeral node is gone, or going */
        if (r->state == R_WAIT || r->state == R_FAILED ||
            (r->state == R_REGISTERED && !r->persistent))
            reg_start(r);
        break;
    case ZKR_STATE_RECONNECTED:
        if (r->state == R_WAIT)
            reg_start(r);
        break;
    case ZKR_STATE_CLOSED:
        r->state = R_FAILED;
        r->error = ZKR_ECLOSED;
        r->attempt++;
        reg_wake(r, ZKR_ECANCELED);
        break;
    default:
        break;
    }
    reg_fire(r);
}

void zkr_registration_opts_init(zkr_registration_opts_t *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

int zkr_registration_new(zkr_client_t *c, const char *path, const void *data,
                         size_t len, const zkr_registration_opts_t *opts,
                         zkr_registration_t **out)
{
    zkr_registration_opts_t defaults;
    zkr_registration_t *r;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!c || (len && !data))
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(path)) != ZKR_OK)
        return rc;
    if (!strcmp(path, "/"))
        return ZKR_EBADPATH;
    if (len > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    if (zkr__client_closed(c))
        return ZKR_ECLOSED;
    if (!opts) {
        zkr_registration_opts_init(&defaults);
        opts = &defaults;
    }
    const struct ACL_vector *acl;
    if ((rc = zkr__acl_pick(c, opts->acl, &acl)) != ZKR_OK)
        return rc;
    r = calloc(1, sizeof *r);
    if (!r)
        return ZKR_ENOMEM;
    r->path = strdup(path);
    r->data = malloc(len ? len : 1);
    if (!r->path || !r->data) {
        free(r->path);
        free(r->data);
        free(r);
        return ZKR_ENOMEM;
    }
    if (len)
        memcpy(r->data, data, len);
    r->len = len;
    if (zkr__obj_init(&r->obj, reg_destroy) != ZKR_OK) {
        free(r->path);
        free(r->data);
        free(r);
        return ZKR_ENOMEM;
    }
    pthread_cond_init(&r->q.idle, NULL);
    r->c = c;
    zkr__client_ref(c);
    r->persistent = opts->persistent != 0;
    r->keep_on_free = r->persistent && opts->keep_on_free;
    r->container_parents = opts->container_parents != 0;
    r->acl = acl;
    r->on_state = opts->on_state;
    r->ctx = opts->ctx;
    r->state = R_WAIT;
    /* the listener first, so no session change slips between */
    if ((rc = zkr_client_add_listener(c, reg_on_state, r)) != ZKR_OK) {
        zkr__obj_unref(&r->obj);
        return rc;
    }
    pthread_mutex_lock(&r->obj.mu);
    if (r->state == R_WAIT)
        reg_start(r);
    reg_fire(r);
    *out = r;
    return ZKR_OK;
}

int zkr_registration_new_dubbo(zkr_client_t *c, const char *root,
                               const zkr_dubbo_url_t *url,
                               const zkr_registration_opts_t *opts,
                               zkr_registration_t **out)
{
    zkr_registration_opts_t o;
    char *path = NULL;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!c || !url)
        return ZKR_EINVAL;
    if ((rc = zkr_dubbo_url_registry_path(root, url, &path)) != ZKR_OK)
        return rc;
    if (opts)
        o = *opts;
    else
        zkr_registration_opts_init(&o);
    o.persistent = 0; /* Dubbo providers and consumers are ephemeral */
    rc = zkr_registration_new(c, path, NULL, 0, &o, out);
    free(path);
    return rc;
}

int zkr_registration_new_curator(zkr_client_t *c, const char *base,
                                 const zkr_service_instance_t *s,
                                 const zkr_registration_opts_t *opts,
                                 zkr_registration_t **out)
{
    zkr_registration_opts_t o;
    zkr_service_instance_t copy;
    char *dir = NULL, *path = NULL, *json = NULL;
    size_t len = 0;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!c || !s || s->service_type == ZKR_SERVICE_DYNAMIC_SEQUENTIAL)
        return ZKR_EINVAL;
    copy = *s;
    if (!copy.registration_time_utc)
        copy.registration_time_utc = wall_ms();
    if ((rc = zkr_service_instance_to_json(&copy, &json, &len)) != ZKR_OK)
        return rc;
    rc = zkr_path_join(base ? base : ZKR_DISCOVERY_BASE, s->name, &dir);
    if (rc == ZKR_OK)
        rc = zkr_path_join(dir, s->id, &path);
    if (rc == ZKR_OK) {
        if (opts)
            o = *opts;
        else
            zkr_registration_opts_init(&o);
        o.persistent = s->service_type != ZKR_SERVICE_DYNAMIC;
        o.keep_on_free = s->service_type == ZKR_SERVICE_PERMANENT;
        o.container_parents = 1;
        rc = zkr_registration_new(c, path, json, len, &o, out);
    }
    free(dir);
    free(path);
    free(json);
    return rc;
}

int zkr_registration_wait_async(zkr_registration_t *r, zkr_registration_cb cb,
                                void *ctx)
{
    struct ev *e;
    if (!r || !cb)
        return ZKR_EINVAL;
    e = calloc(1, sizeof *e);
    if (!e)
        return ZKR_ENOMEM;
    e->cb = (ev_fn)cb;
    e->ctx = ctx;
    pthread_mutex_lock(&r->obj.mu);
    if (r->freed || (r->state == R_FAILED && r->error == ZKR_ECLOSED)) {
        pthread_mutex_unlock(&r->obj.mu);
        free(e);
        return ZKR_ECLOSED;
    }
    if (r->state == R_REGISTERED) {
        e->status = ZKR_OK;
        evq_push(&r->q, e);
    } else if (r->state == R_FAILED) {
        e->status = r->error;
        evq_push(&r->q, e);
    } else {
        e->next = r->waiters;
        r->waiters = e;
    }
    reg_fire(r);
    return ZKR_OK;
}

static void reg_blocking_cb(zkr_registration_t *r, int status, void *ctx)
{
    (void)r;
    zkr__waiter_signal(ctx, status);
}

int zkr_registration_wait(zkr_registration_t *r, int timeout_ms)
{
    zkr__waiter_t *w;
    int rc;
    if (!r)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    /* on the heap: after a timeout the callback may still come */
    w = malloc(sizeof *w);
    if (!w)
        return ZKR_ENOMEM;
    zkr__waiter_init(w);
    rc = zkr_registration_wait_async(r, reg_blocking_cb, w);
    if (rc != ZKR_OK) {
        zkr__waiter_destroy(w);
        free(w);
        return rc;
    }
    rc = evq_wait_waiter(w, timeout_ms, &r->obj.mu, &r->waiters);
    zkr__waiter_destroy(w);
    free(w);
    return rc;
}

int zkr_registration_is_registered(zkr_registration_t *r)
{
    int v;
    if (!r)
        return 0;
    pthread_mutex_lock(&r->obj.mu);
    v = r->state == R_REGISTERED;
    pthread_mutex_unlock(&r->obj.mu);
    return v;
}

unsigned zkr_registration_count(zkr_registration_t *r)
{
    unsigned v;
    if (!r)
        return 0;
    pthread_mutex_lock(&r->obj.mu);
    v = r->count;
    pthread_mutex_unlock(&r->obj.mu);
    return v;
}

int zkr_registration_path(zkr_registration_t *r, char *buf, size_t len)
{
    if (!r || !buf || strlen(r->path) >= len)
        return ZKR_EINVAL;
    memcpy(buf, r->path, strlen(r->path) + 1);
    return ZKR_OK;
}

int zkr_registration_set_data(zkr_registration_t *r, const void *data,
                              size_t len)
{
    char *copy;
    if (!r || (len && !data))
        return ZKR_EINVAL;
    if (len > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    copy = malloc(len ? len : 1);
    if (!copy)
        return ZKR_ENOMEM;
    if (len)
        memcpy(copy, data, len);
    pthread_mutex_lock(&r->obj.mu);
    if (r->freed) {
        pthread_mutex_unlock(&r->obj.mu);
        free(copy);
        return ZKR_ECLOSED;
    }
    free(r->data);
    r->data = copy;
    r->len = len;
    if (r->state == R_REGISTERED)
        zkr__aset(r->c, r->path, r->data, r->len, -1, ignore_cb, NULL);
    else
        r->dirty = 1;
    pthread_mutex_unlock(&r->obj.mu);
    return ZKR_OK;
}

void zkr_registration_free(zkr_registration_t *r)
{
    if (!r)
        return;
    zkr_client_remove_listener(r->c, reg_on_state, r);
    pthread_mutex_lock(&r->obj.mu);
    r->freed = 1;
    r->attempt++;
    /* Sent after any create of ours, so the session applies it last. */
    if (!r->keep_on_free && r->state != R_WAIT && r->state != R_FAILED)
        zkr__delete_bg(r->c, r->path);
    r->state = R_FAILED;
    r->error = ZKR_ECLOSED;
    reg_wake(r, ZKR_ECANCELED);
    evq_wait_idle(&r->q, &r->obj.mu);
    reg_fire(r);
    zkr__obj_unref(&r->obj);
}
