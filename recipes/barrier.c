/* SPDX-License-Identifier: Apache-2.0 */
/* Barrier and double barrier, as async state machines over the client
 * layer. Every step bumps a token; replies and watches carrying an older
 * token are stale and only release their context. Member nodes are
 * ephemeral, so a crashed member holds the others up for at most its
 * session timeout. */
#define ZKR_BUILDING 1
#include "zkr/barrier.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- shared -------------------------------------------------------------- */

static int gone_code(int rc)
{
    /* EOPTIMEOUT: the client gave up on a silent connection */
    return rc == ZKR_ECONNLOSS || rc == ZKR_EOPTIMEOUT ||
           rc == ZKR_ESESSIONEXPIRED || rc == ZKR_ECANCELED ||
           rc == ZKR_ECLOSING;
}

static int check_path(zkr_client_t *c, const char *path)
{
    int rc;
    if (!c)
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(path)) != ZKR_OK)
        return rc;
    if (strcmp(path, "/") == 0)
        return ZKR_EBADPATH;
    return zkr__client_closed(c) ? ZKR_ECLOSED : ZKR_OK;
}

/* ---- barrier ------------------------------------------------------------- */

struct zkr_barrier {
    zkr__obj_t obj; /* first: mutex and references */
    zkr_client_t *c;
    char *path;
    int waiting;
    int try_only;
    unsigned token;
    int freed;
    zkr_barrier_cb cb;
    void *ctx;
    zkr_barrier_cb fire_cb; /* to run once obj.mu is released */
    void *fire_ctx;
    int fire_status;
};

/* A context's barrier. */
#define B(x) ((zkr_barrier_t *)(x)->o)

static void b_destroy(zkr__obj_t *o)
{
    zkr_barrier_t *b = (zkr_barrier_t *)o;
    zkr__client_unref(b->c);
    free(b->path);
    free(b);
}

/* Caller holds b->obj.mu. */
static zkr__ctx_t *bctx_new(zkr_barrier_t *b)
{
    return zkr__ctx_new(&b->obj, 0, b->token, NULL);
}

static void b_finish(zkr_barrier_t *b, int status)
{
    if (!b->waiting)
        return;
    b->waiting = 0;
    b->token++;
    b->fire_cb = b->cb;
    b->fire_ctx = b->ctx;
    b->fire_status = status;
    b->cb = NULL;
}

static void b_unlock_fire(zkr_barrier_t *b)
{
    zkr_barrier_cb cb = b->fire_cb;
    void *ctx = b->fire_ctx;
    int status = b->fire_status;
    b->fire_cb = NULL;
    pthread_mutex_unlock(&b->obj.mu);
    if (cb)
        cb(b, status, ctx);
}

static void b_check(zkr_barrier_t *b);

static void b_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *x = ctx;
    zkr_barrier_t *b = B(x);
    (void)path;
    pthread_mutex_lock(&b->obj.mu);
    if (type != ZKR__WATCH_CANCELED && b->waiting && x->token == b->token)
        b_check(b);
    b_unlock_fire(b);
    zkr__ctx_done(x);
}

static void b_exists_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_barrier_t *b = B(x);
    pthread_mutex_lock(&b->obj.mu);
    if (b->waiting && x->token == b->token) {
        if (rc == ZKR_ENONODE)
            b_finish(b, ZKR_OK);
        else if (rc == ZKR_OK && b->try_only)
            b_finish(b, ZKR_ETIMEDOUT);
        else if (rc != ZKR_OK && !gone_code(rc))
            b_finish(b, rc);
        /* OK: wait for the watch; connection trouble: for the listener */
    }
    b_unlock_fire(b);
    zkr__ctx_done(x);
}

/* Caller holds b->obj.mu: look at the node, with a watch. */
static void b_check(zkr_barrier_t *b)
{
    zkr__ctx_t *x, *w;
    int rc;
    b->token++;
    x = bctx_new(b);
    w = bctx_new(b);
    rc = x && w ? zkr__aexists(b->c, b->path, b_watch_cb, w, b_exists_cb, x)
                : ZKR_ENOMEM;
    if (rc != ZKR_OK) {
        zkr__ctx_drop(x);
        zkr__ctx_drop(w);
        if (!gone_code(rc) && rc != ZKR_ESESSIONEXPIRED)
            b_finish(b, rc);
    }
}

static void b_on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkr_barrier_t *b = ctx;
    (void)c;
    pthread_mutex_lock(&b->obj.mu);
    if (b->waiting) {
        if (st == ZKR_STATE_RECONNECTED || st == ZKR_STATE_CONNECTED)
            b_check(b);
        else if (st == ZKR_STATE_CLOSED)
            b_finish(b, ZKR_ECANCELED);
        else if (st == ZKR_STATE_AUTH_FAILED)
            b_finish(b, ZKR_EAUTHFAILED);
    }
    b_unlock_fire(b);
}

int zkr_barrier_new(zkr_client_t *c, const char *path, zkr_barrier_t **out)
{
    zkr_barrier_t *b;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if ((rc = check_path(c, path)) != ZKR_OK)
        return rc;
    b = calloc(1, sizeof *b);
    if (!b || !(b->path = strdup(path))) {
        free(b);
        return ZKR_ENOMEM;
    }
    if (zkr__obj_init(&b->obj, b_destroy) != ZKR_OK) {
        free(b->path);
        free(b);
        return ZKR_ENOMEM;
    }
    b->c = c;
    zkr__client_ref(c);
    if ((rc = zkr_client_add_listener(c, b_on_state, b)) != ZKR_OK) {
        zkr__obj_unref(&b->obj);
        return rc;
    }
    *out = b;
    return ZKR_OK;
}

int zkr_barrier_set(zkr_barrier_t *b, int flags)
{
    int rc;
    if (!b || (flags != ZKR_PERSISTENT && flags != ZKR_EPHEMERAL))
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    rc = zkr_create(b->c, b->path, NULL, 0, flags, NULL);
    if (rc == ZKR_ENONODE) {
        char *parent = zkr__path_parent(b->path);
        rc = parent ? zkr_ensure_path(b->c, parent) : ZKR_ENOMEM;
        free(parent);
        if (rc == ZKR_OK)
            rc = zkr_create(b->c, b->path, NULL, 0, flags, NULL);
    }
    return rc == ZKR_ENODEEXISTS ? ZKR_OK : rc;
}

int zkr_barrier_remove(zkr_barrier_t *b)
{
    int rc;
    if (!b)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    rc = zkr_delete(b->c, b->path, -1);
    return rc == ZKR_ENONODE ? ZKR_OK : rc;
}

static int b_start(zkr_barrier_t *b, zkr_barrier_cb cb, void *ctx,
                   int try_only)
{
    if (!b || !cb)
        return ZKR_EINVAL;
    pthread_mutex_lock(&b->obj.mu);
    if (b->freed || zkr__client_closed(b->c)) {
        pthread_mutex_unlock(&b->obj.mu);
        return ZKR_ECLOSED;
    }
    if (b->waiting) {
        pthread_mutex_unlock(&b->obj.mu);
        return ZKR_EBUSY;
    }
    b->waiting = 1;
    b->try_only = try_only;
    b->cb = cb;
    b->ctx = ctx;
    b_check(b);
    b_unlock_fire(b);
    return ZKR_OK;
}

int zkr_barrier_wait_async(zkr_barrier_t *b, zkr_barrier_cb cb, void *ctx)
{
    return b_start(b, cb, ctx, 0);
}

int zkr_barrier_cancel(zkr_barrier_t *b)
{
    if (!b)
        return ZKR_EINVAL;
    pthread_mutex_lock(&b->obj.mu);
    if (!b->waiting) {
        pthread_mutex_unlock(&b->obj.mu);
        return ZKR_ENOTHELD;
    }
    b_finish(b, ZKR_ECANCELED);
    b_unlock_fire(b);
    return ZKR_OK;
}

static void b_wait_cb(zkr_barrier_t *b, int status, void *ctx)
{
    (void)b;
    zkr__waiter_signal(ctx, status);
}

int zkr_barrier_wait(zkr_barrier_t *b, int timeout_ms)
{
    zkr__waiter_t w;
    int rc;
    if (!b)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    zkr__waiter_init(&w);
    rc = b_start(b, b_wait_cb, &w, timeout_ms == 0);
    if (rc == ZKR_OK) {
        rc = zkr__waiter_wait(&w, timeout_ms <= 0 ? -1 : timeout_ms);
        if (rc == ZKR_ETIMEDOUT) {
            zkr_barrier_cancel(b);
            rc = zkr__waiter_wait(&w, -1);
            if (rc == ZKR_ECANCELED)
                rc = ZKR_ETIMEDOUT;
        }
    }
    zkr__waiter_destroy(&w);
    return rc;
}

void zkr_barrier_free(zkr_barrier_t *b)
{
    if (!b)
        return;
    zkr_client_remove_listener(b->c, b_on_state, b);
    pthread_mutex_lock(&b->obj.mu);
    b->freed = 1;
    b_finish(b, ZKR_ECANCELED);
    b_unlock_fire(b);
    zkr__obj_unref(&b->obj);
}

/* ---- double barrier ------------------------------------------------------ */

enum dstate { D_OUT, D_ENTERING, D_IN, D_LEAVING };

struct zkr_double_barrier {
    zkr__obj_t obj; /* first: mutex and references */
    zkr_client_t *c;
    char *path;
    char *ready;
    int members;
    enum dstate state;
    unsigned token;
    char uuid[37];
    char *node;      /* our member node's path, once created */
    int try_only;
    int ready_absent; /* ready not found by the current check */
    int ensure_tries;
    int freed;
    zkr_double_barrier_cb cb;
    void *ctx;
    zkr_double_barrier_cb fire_cb;
    void *fire_ctx;
    int fire_status;
};

/* A context's double barrier. Its name, for a create: the path being
 * created. */
#define D(x) ((zkr_double_barrier_t *)(x)->o)

static void d_destroy(zkr__obj_t *o)
{
    zkr_double_barrier_t *d = (zkr_double_barrier_t *)o;
    zkr__client_unref(d->c);
    free(d->node);
    free(d->path);
    free(d->ready);
    free(d);
}

/* Caller holds d->obj.mu. */
static zkr__ctx_t *dctx_new(zkr_double_barrier_t *d)
{
    return zkr__ctx_new(&d->obj, 0, d->token, NULL);
}

static int stale(const zkr__ctx_t *x, enum dstate st)
{
    return x->token != D(x)->token || D(x)->state != st;
}

static void d_unlock_fire(zkr_double_barrier_t *d)
{
    zkr_double_barrier_cb cb = d->fire_cb;
    void *ctx = d->fire_ctx;
    int status = d->fire_status;
    d->fire_cb = NULL;
    pthread_mutex_unlock(&d->obj.mu);
    if (cb)
        cb(d, status, ctx);
}

/* Caller holds d->obj.mu: delete our member node, not waiting for the reply. */
static void drop_node(zkr_double_barrier_t *d)
{
    if (d->node) {
        zkr__delete_bg(d->c, d->node);
        free(d->node);
        d->node = NULL;
    }
}

/* Caller holds d->obj.mu: end the pending enter or leave. */
static void d_finish(zkr_double_barrier_t *d, int status, enum dstate next)
{
    d->token++;
    if (next == D_OUT)
        drop_node(d);
    d->state = next;
    if (d->cb) {
        d->fire_cb = d->cb;
        d->fire_ctx = d->ctx;
        d->fire_status = status;
        d->cb = NULL;
    }
}

static void send_create(zkr_double_barrier_t *d);
static void check_ready(zkr_double_barrier_t *d);
static void leave_list(zkr_double_barrier_t *d);

static void d_ensure_cb(void *ctx, int rc)
{
    zkr__ctx_t *x = ctx;
    zkr_double_barrier_t *d = D(x);
    pthread_mutex_lock(&d->obj.mu);
    if (!stale(x, D_ENTERING)) {
        if (rc == ZKR_OK)
            send_create(d);
        else if (!gone_code(rc))
            d_finish(d, rc, D_OUT);
    }
    d_unlock_fire(d);
    zkr__ctx_done(x);
}

static void d_create_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_double_barrier_t *d = D(x);
    pthread_mutex_lock(&d->obj.mu);
    if (stale(x, D_ENTERING)) {
        /* nobody wants this node any more */
        if (rc == ZKR_OK || rc == ZKR_ENODEEXISTS || rc == ZKR_ECONNLOSS)
            zkr__delete_bg(d->c, x->name);
    } else if (rc == ZKR_OK || rc == ZKR_ENODEEXISTS) {
        /* NODEEXISTS: our own create, applied before a lost reply */
        d->node = x->name;
        x->name = NULL;
        check_ready(d);
    } else if (rc == ZKR_ENONODE && d->ensure_tries++ < 5) {
        zkr__ctx_t *e = dctx_new(d);
        if (!e || zkr__aensure(d->c, d->path, ZKR_PERSISTENT, d_ensure_cb,
                               e) != ZKR_OK) {
            if (e)
                zkr__ctx_drop(e);
            d_finish(d, ZKR_ENOMEM, D_OUT);
        }
    } else if (!gone_code(rc)) {
        d_finish(d, rc, D_OUT);
    }
    /* connection trouble: the listener creates again */
    d_unlock_fire(d);
    zkr__ctx_done(x);
}

/* Caller holds d->obj.mu. */
static void send_create(zkr_double_barrier_t *d)
{
    zkr__ctx_t *x;
    int rc = ZKR_ENOMEM;
    d->token++;
    x = dctx_new(d);
    if (x && zkr_path_join(d->path, d->uuid, &x->name) == ZKR_OK)
        rc = zkr__acreate(d->c, x->name, NULL, 0, ZKR_EPHEMERAL, d_create_cb,
                          x);
    if (rc != ZKR_OK) {
        if (x)
            zkr__ctx_drop(x);
        if (!gone_code(rc) && rc != ZKR_ESESSIONEXPIRED)
            d_finish(d, rc, D_OUT);
    }
}

static void entered(zkr_double_barrier_t *d) { d_finish(d, ZKR_OK, D_IN); }

static void ready_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *x = ctx;
    zkr_double_barrier_t *d = D(x);
    (void)path;
    pthread_mutex_lock(&d->obj.mu);
    if (type != ZKR__WATCH_CANCELED && !stale(x, D_ENTERING))
        check_ready(d);
    d_unlock_fire(d);
    zkr__ctx_done(x);
}

static void ready_made_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_double_barrier_t *d = D(x);
    pthread_mutex_lock(&d->obj.mu);
    if (!stale(x, D_ENTERING)) {
        if (rc == ZKR_OK || rc == ZKR_ENODEEXISTS)
            entered(d);
        else if (!gone_code(rc))
            d_finish(d, rc, D_OUT);
    }
    d_unlock_fire(d);
    zkr__ctx_done(x);
}

static void ready_exists_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_double_barrier_t *d = D(x);
    pthread_mutex_lock(&d->obj.mu);
    if (!stale(x, D_ENTERING)) {
        if (rc == ZKR_OK)
            entered(d);
        else if (rc == ZKR_ENONODE)
            d->ready_absent = 1; /* the listing right behind decides */
        else if (!gone_code(rc))
            d_finish(d, rc, D_OUT);
    }
    d_unlock_fire(d);
    zkr__ctx_done(x);
}

static int count_members(const struct String_vector *sv)
{
    int n = 0;
    for (int i = 0; i < sv->count; i++)
        if (strcmp(sv->data[i], "ready") != 0)
            n++;
    return n;
}

static void enter_list_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_double_barrier_t *d = D(x);
    pthread_mutex_lock(&d->obj.mu);
    if (!stale(x, D_ENTERING) && d->ready_absent) {
        if (rc == ZKR_OK && count_members(op->strings) >= d->members) {
            zkr__ctx_t *r = dctx_new(d);
            if (!r || zkr__acreate(d->c, d->ready, NULL, 0, ZKR_PERSISTENT,
                                   ready_made_cb, r) != ZKR_OK) {
                if (r)
                    zkr__ctx_drop(r);
                d_finish(d, ZKR_ENOMEM, D_OUT);
            }
        } else if (rc == ZKR_OK && d->try_only) {
            d_finish(d, ZKR_ETIMEDOUT, D_OUT);
        } else if (rc != ZKR_OK && !gone_code(rc)) {
            d_finish(d, rc, D_OUT);
        }
        /* else: wait for ready to appear */
    }
    d_unlock_fire(d);
    zkr__ctx_done(x);
}

/* Caller holds d->obj.mu: does ready exist (watch it), and if not, are we
 * enough? exists and getChildren go back to back: one round trip. */
static void check_ready(zkr_double_barrier_t *d)
{
    zkr__ctx_t *e, *w, *l;
    d->token++;
    d->ready_absent = 0;
    e = dctx_new(d);
    w = dctx_new(d);
    l = dctx_new(d);
    if (!e || !w || !l ||
        zkr__aexists(d->c, d->ready, ready_watch_cb, w, ready_exists_cb, e) !=
            ZKR_OK) {
        if (e)
            zkr__ctx_drop(e);
        if (w)
            zkr__ctx_drop(w);
        if (l)
            zkr__ctx_drop(l);
        return; /* retried on reconnect */
    }
    if (zkr__achildren(d->c, d->path, NULL, NULL, enter_list_cb, l) != ZKR_OK)
        zkr__ctx_drop(l);
}

/* ---- leaving ----------------------------------------------------------- */

static void leave_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *x = ctx;
    zkr_double_barrier_t *d = D(x);
    (void)path;
    pthread_mutex_lock(&d->obj.mu);
    if (type != ZKR__WATCH_CANCELED && !stale(x, D_LEAVING))
        leave_list(d);
    d_unlock_fire(d);
    zkr__ctx_done(x);
}

static void leave_exists_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_double_barrier_t *d = D(x);
    pthread_mutex_lock(&d->obj.mu);
    if (!stale(x, D_LEAVING)) {
        if (rc == ZKR_ENONODE)
            leave_list(d); /* gone already: look again */
        else if (rc != ZKR_OK && !gone_code(rc))
            d_finish(d, rc, D_OUT);
    }
    d_unlock_fire(d);
    zkr__ctx_done(x);
}

static void last_out_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_double_barrier_t *d = D(x);
    pthread_mutex_lock(&d->obj.mu);
    if (!stale(x, D_LEAVING)) {
        if (rc == ZKR_OK || rc == ZKR_ENONODE)
            d_finish(d, ZKR_OK, D_OUT);
        else if (!gone_code(rc))
            d_finish(d, rc, D_OUT);
    }
    d_unlock_fire(d);
    zkr__ctx_done(x);
}

/* Caller holds d->obj.mu: watch member name until it goes. */
static void watch_member(zkr_double_barrier_t *d, const char *name)
{
    zkr__ctx_t *x = dctx_new(d), *w = dctx_new(d);
    char *p = NULL;
    if (x && w && zkr_path_join(d->path, name, &p) == ZKR_OK &&
        zkr__aexists(d->c, p, leave_watch_cb, w, leave_exists_cb, x) ==
            ZKR_OK) {
        free(p);
        return;
    }
    free(p);
    if (x)
        zkr__ctx_drop(x);
    if (w)
        zkr__ctx_drop(w);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void leave_list_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_double_barrier_t *d = D(x);
    const char **m = NULL;
    pthread_mutex_lock(&d->obj.mu);
    if (stale(x, D_LEAVING))
        goto out;
    if (rc == ZKR_ENONODE) {
        d_finish(d, ZKR_OK, D_OUT);
        goto out;
    }
    if (rc != ZKR_OK) {
        if (!gone_code(rc))
            d_finish(d, rc, D_OUT);
        goto out;
    }
    {
        int n = 0, ours = 0;
        const char *mine = d->node ? zkr__path_basename(d->node) : NULL;
        m = calloc((size_t)op->strings->count + 1, sizeof *m);
        if (!m) {
            d_finish(d, ZKR_ENOMEM, D_OUT);
            goto out;
        }
        for (int i = 0; i < op->strings->count; i++) {
            const char *s = op->strings->data[i];
            if (strcmp(s, "ready") == 0)
                continue;
            m[n++] = s;
            if (mine && strcmp(s, mine) == 0)
                ours = 1;
        }
        qsort(m, (size_t)n, sizeof *m, cmp_str);
        if (n == 0) {
            /* everybody is out; the last one takes ready away */
            zkr__delete_bg(d->c, d->ready);
            d_finish(d, ZKR_OK, D_OUT);
        } else if (ours && n == 1) {
            zkr__ctx_t *l = dctx_new(d);
            zkr__delete_bg(d->c, d->ready);
            if (!l || zkr__adelete(d->c, d->node, -1, last_out_cb, l) !=
                          ZKR_OK) {
                if (l)
                    zkr__ctx_drop(l);
                d_finish(d, ZKR_ENOMEM, D_OUT);
            } else {
                free(d->node);
                d->node = NULL;
            }
        } else if (d->try_only) {
            d_finish(d, ZKR_ETIMEDOUT, D_OUT); /* others are still in */
        } else if (ours && strcmp(m[0], mine) == 0) {
            watch_member(d, m[n - 1]); /* lowest leaves last */
        } else {
            if (ours) {
                zkr__delete_bg(d->c, d->node);
                free(d->node);
                d->node = NULL;
            }
            watch_member(d, m[0]);
        }
    }
out:
    free(m);
    d_unlock_fire(d);
    zkr__ctx_done(x);
}

/* Caller holds d->obj.mu. */
static void leave_list(zkr_double_barrier_t *d)
{
    zkr__ctx_t *x;
    d->token++;
    x = dctx_new(d);
    if (x && zkr__achildren(d->c, d->path, NULL, NULL, leave_list_cb, x) !=
                 ZKR_OK)
        zkr__ctx_drop(x); /* retried on reconnect */
}

/* ---- connection states and API --------------------------------------- */

static void d_on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkr_double_barrier_t *d = ctx;
    (void)c;
    pthread_mutex_lock(&d->obj.mu);
    switch (st) {
    case ZKR_STATE_LOST:
        /* our member node went with the session */
        free(d->node);
        d->node = NULL;
        d->token++;
        break;
    case ZKR_STATE_CONNECTED:
    case ZKR_STATE_RECONNECTED:
        if (d->state == D_ENTERING) {
            if (d->node) {
                check_ready(d);
            } else {
                zkr__uuid(d->uuid); /* a fresh node on the new session */
                send_create(d);
            }
        } else if (d->state == D_LEAVING) {
            leave_list(d);
        }
        break;
    case ZKR_STATE_CLOSED:
        if (d->state == D_ENTERING || d->state == D_LEAVING)
            d_finish(d, ZKR_ECANCELED, D_OUT);
        break;
    case ZKR_STATE_AUTH_FAILED:
        if (d->state == D_ENTERING || d->state == D_LEAVING)
            d_finish(d, ZKR_EAUTHFAILED, D_OUT);
        break;
    case ZKR_STATE_SUSPENDED:
        break;
    }
    d_unlock_fire(d);
}

int zkr_double_barrier_new(zkr_client_t *c, const char *path, int members,
                           zkr_double_barrier_t **out)
{
    zkr_double_barrier_t *d;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (members < 1)
        return ZKR_EINVAL;
    if ((rc = check_path(c, path)) != ZKR_OK)
        return rc;
    d = calloc(1, sizeof *d);
    if (!d)
        return ZKR_ENOMEM;
    d->path = strdup(path);
    if (!d->path || zkr_path_join(path, "ready", &d->ready) != ZKR_OK) {
        free(d->path);
        free(d);
        return ZKR_ENOMEM;
    }
    if (zkr__obj_init(&d->obj, d_destroy) != ZKR_OK) {
        free(d->ready);
        free(d->path);
        free(d);
        return ZKR_ENOMEM;
    }
    d->c = c;
    d->members = members;
    zkr__client_ref(c);
    if ((rc = zkr_client_add_listener(c, d_on_state, d)) != ZKR_OK) {
        zkr__obj_unref(&d->obj);
        return rc;
    }
    *out = d;
    return ZKR_OK;
}

static int d_start(zkr_double_barrier_t *d, int leave,
                   zkr_double_barrier_cb cb, void *ctx, int try_only)
{
    if (!d || !cb)
        return ZKR_EINVAL;
    pthread_mutex_lock(&d->obj.mu);
    if (d->freed || zkr__client_closed(d->c)) {
        pthread_mutex_unlock(&d->obj.mu);
        return ZKR_ECLOSED;
    }
    if (d->state != (leave ? D_IN : D_OUT)) {
        pthread_mutex_unlock(&d->obj.mu);
        return ZKR_EBUSY;
    }
    d->cb = cb;
    d->ctx = ctx;
    d->try_only = try_only;
    if (leave) {
        d->state = D_LEAVING;
        leave_list(d);
    } else {
        d->state = D_ENTERING;
        d->ensure_tries = 0;
        zkr__uuid(d->uuid);
        send_create(d);
    }
    d_unlock_fire(d);
    return ZKR_OK;
}

int zkr_double_barrier_enter_async(zkr_double_barrier_t *d,
                                   zkr_double_barrier_cb cb, void *ctx)
{
    return d_start(d, 0, cb, ctx, 0);
}

int zkr_double_barrier_leave_async(zkr_double_barrier_t *d,
                                   zkr_double_barrier_cb cb, void *ctx)
{
    return d_start(d, 1, cb, ctx, 0);
}

int zkr_double_barrier_cancel(zkr_double_barrier_t *d)
{
    if (!d)
        return ZKR_EINVAL;
    pthread_mutex_lock(&d->obj.mu);
    if (d->state != D_ENTERING && d->state != D_LEAVING) {
        pthread_mutex_unlock(&d->obj.mu);
        return ZKR_ENOTHELD;
    }
    d_finish(d, ZKR_ECANCELED, D_OUT);
    d_unlock_fire(d);
    return ZKR_OK;
}

static void d_wait_cb(zkr_double_barrier_t *d, int status, void *ctx)
{
    (void)d;
    zkr__waiter_signal(ctx, status);
}

static int d_blocking(zkr_double_barrier_t *d, int leave, int timeout_ms)
{
    zkr__waiter_t w;
    int rc;
    if (!d)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    zkr__waiter_init(&w);
    rc = d_start(d, leave, d_wait_cb, &w, timeout_ms == 0);
    if (rc == ZKR_OK) {
        rc = zkr__waiter_wait(&w, timeout_ms <= 0 ? -1 : timeout_ms);
        if (rc == ZKR_ETIMEDOUT) {
            zkr_double_barrier_cancel(d);
            rc = zkr__waiter_wait(&w, -1);
            if (rc == ZKR_ECANCELED)
                rc = ZKR_ETIMEDOUT;
        }
    }
    zkr__waiter_destroy(&w);
    return rc;
}

int zkr_double_barrier_enter(zkr_double_barrier_t *d, int timeout_ms)
{
    return d_blocking(d, 0, timeout_ms);
}

int zkr_double_barrier_leave(zkr_double_barrier_t *d, int timeout_ms)
{
    return d_blocking(d, 1, timeout_ms);
}

int zkr_double_barrier_is_in(zkr_double_barrier_t *d)
{
    int v;
    if (!d)
        return 0;
    pthread_mutex_lock(&d->obj.mu);
    v = d->state == D_IN;
    pthread_mutex_unlock(&d->obj.mu);
    return v;
}

void zkr_double_barrier_free(zkr_double_barrier_t *d)
{
    if (!d)
        return;
    zkr_client_remove_listener(d->c, d_on_state, d);
    pthread_mutex_lock(&d->obj.mu);
    d->freed = 1;
    if (d->state == D_ENTERING || d->state == D_LEAVING)
        d_finish(d, ZKR_ECANCELED, D_OUT);
    else
        drop_node(d);
    d->state = D_OUT;
    d_unlock_fire(d);
    zkr__obj_unref(&d->obj);
}
