/* SPDX-License-Identifier: Apache-2.0 */
/* Counting semaphore in Curator's InterProcessSemaphoreV2 layout: a mutex
 * on <path>/locks, leases under <path>/leases. One lease at a time: take
 * the mutex, create the lease node, list the leases (with a watch) until
 * there are at most max of them, release the mutex. */
#define ZKR_BUILDING 1
#include "zkr/semaphore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lockcore.h"

enum sstate { S_IDLE, S_MUTEX, S_CREATE, S_WAIT };

/* work to do once s->obj.mu is released (lock calls may run callbacks) */
enum { A_ACQUIRE = 1, A_RELEASE = 2, A_CANCEL = 4 };

struct zkr_semaphore {
    zkr__obj_t obj; /* first: mutex and references */
    zkr_client_t *c;
    char *leases;
    int max;
    zkr_lock_t *mutex;
    char *data;
    size_t data_len;
    char **held; /* lease names */
    int nheld, cap;

    enum sstate state;
    unsigned attempt;
    unsigned token;
    int want;     /* leases still to get in this call */
    int got;      /* leases of this call, the last ones in held */
    int try_only;
    int ensure_tries;
    char uuid[37];
    char *cur; /* lease node being acquired, once created */
    int freed;
    int after;
    zkr_semaphore_cb cb;
    void *cb_ctx;
    zkr_semaphore_cb fire_cb;
    void *fire_ctx;
    int fire_status;
};

/* A context's semaphore. Its name: the uuid of the lease being created
 * when the context was made. */
#define S(x) ((zkr_semaphore_t *)(x)->o)

static void sem_destroy(zkr__obj_t *o)
{
    zkr_semaphore_t *s = (zkr_semaphore_t *)o;
    for (int i = 0; i < s->nheld; i++)
        free(s->held[i]);
    free(s->held);
    zkr__client_unref(s->c);
    free(s->cur);
    free(s->leases);
    free(s->data);
    free(s);
}

/* Caller holds s->obj.mu. */
static zkr__ctx_t *sctx_new(zkr_semaphore_t *s)
{
    return zkr__ctx_new(&s->obj, s->attempt, s->token, s->uuid);
}

static void lock_cb(zkr_lock_t *l, int status, void *ctx);

/* Release s->obj.mu, then do the deferred lock work and run the callback. */
static void unlock_fire(zkr_semaphore_t *s)
{
    int after = s->after;
    zkr_semaphore_cb cb = s->fire_cb;
    void *ctx = s->fire_ctx;
    int status = s->fire_status;
    s->after = 0;
    s->fire_cb = NULL;
    if (after & A_ACQUIRE)
        s->obj.refs++; /* held by the mutex acquire until lock_cb */
    pthread_mutex_unlock(&s->obj.mu);
    if (after & A_CANCEL)
        zkr_lock_cancel(s->mutex);
    if (after & A_RELEASE)
        zkr_lock_release(s->mutex);
    if (after & A_ACQUIRE) {
        int rc = s->try_only ? zkr__lock_try_async(s->mutex, lock_cb, s)
                             : zkr_lock_acquire_async(s->mutex, lock_cb, s);
        if (rc != ZKR_OK)
            lock_cb(NULL, rc, s); /* it will not call back: fail here */
    }
    if (cb)
        cb(s, status, ctx);
}

static char *lease_path(zkr_semaphore_t *s, const char *name)
{
    char *p = NULL;
    zkr_path_join(s->leases, name, &p);
    return p;
}

static void delete_lease(zkr_semaphore_t *s, const char *name)
{
    char *p = lease_path(s, name);
    if (p)
        zkr__delete_bg(s->c, p);
    free(p);
}

/* Caller holds s->obj.mu: end the pending acquire. */
static void finish(zkr_semaphore_t *s, int status)
{
    if (s->cur) {
        delete_lease(s, s->cur);
        free(s->cur);
        s->cur = NULL;
    }
    if (status != ZKR_OK) {
        /* all or nothing: drop the leases of this call */
        for (int i = 0; i < s->got; i++) {
            char *name = s->held[--s->nheld];
            delete_lease(s, name);
            free(name);
        }
        if (s->state == S_MUTEX)
            s->after |= A_CANCEL;
        else if (s->state == S_CREATE || s->state == S_WAIT)
            s->after |= A_RELEASE;
    }
    s->attempt++;
    s->token++;
    s->state = S_IDLE;
    s->got = 0;
    s->want = 0;
    if (s->cb) {
        s->fire_cb = s->cb;
        s->fire_ctx = s->cb_ctx;
        s->fire_status = status;
        s->cb = NULL;
    }
}

static int keep(zkr_semaphore_t *s, const char *name)
{
    if (s->nheld == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        char **h = realloc(s->held, sizeof *h * (size_t)cap);
        if (!h)
            return ZKR_ENOMEM;
        s->held = h;
        s->cap = cap;
    }
    if (!(s->held[s->nheld] = strdup(name)))
        return ZKR_ENOMEM;
    s->nheld++;
    return ZKR_OK;
}

static void start_create(zkr_semaphore_t *s);
static void list_leases(zkr_semaphore_t *s);

static void watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *x = ctx;
    zkr_semaphore_t *s = S(x);
    (void)path;
    pthread_mutex_lock(&s->obj.mu);
    if (type != ZKR__WATCH_CANCELED && x->attempt == s->attempt &&
        x->token == s->token && s->state == S_WAIT)
        list_leases(s);
    unlock_fire(s);
    zkr__ctx_done(x);
}

static void list_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_semaphore_t *s = S(x);
    pthread_mutex_lock(&s->obj.mu);
    if (x->attempt != s->attempt || x->token != s->token ||
        s->state != S_WAIT)
        goto out;
    if (rc != ZKR_OK) {
        if (rc != ZKR_ECONNLOSS) /* CONNLOSS: the watch path retries */
            finish(s, rc == ZKR_ESESSIONEXPIRED || rc == ZKR_ECANCELED
                          ? ZKR_ELOCKLOST
                          : rc);
        else
            list_leases(s);
        goto out;
    }
    {
        const char *mine = NULL;
        for (int i = 0; i < op->strings->count; i++)
            if (strstr(op->strings->data[i], x->name))
                mine = op->strings->data[i];
        if (!mine) {
            finish(s, ZKR_ELOCKLOST); /* our lease node vanished */
            goto out;
        }
        if (op->strings->count <= s->max) {
            if (keep(s, mine) != ZKR_OK) {
                finish(s, ZKR_ENOMEM);
                goto out;
            }
            free(s->cur);
            s->cur = NULL;
            s->got++;
            s->want--;
            s->token++;
            s->after |= A_RELEASE;
            if (s->want > 0) {
                s->state = S_MUTEX;
                s->after |= A_ACQUIRE;
            } else {
                s->state = S_IDLE;
                finish(s, ZKR_OK);
            }
        } else if (s->try_only) {
            finish(s, ZKR_ETIMEDOUT);
        }
        /* else: wait for the watch */
    }
out:
    unlock_fire(s);
    zkr__ctx_done(x);
}

/* Caller holds s->obj.mu. */
static void list_leases(zkr_semaphore_t *s)
{
    zkr__ctx_t *x, *w;
    s->token++;
    x = sctx_new(s);
    w = sctx_new(s);
    if (!x || !w ||
        zkr__achildren(s->c, s->leases, watch_cb, w, list_cb, x) != ZKR_OK) {
        zkr__ctx_drop(x);
        zkr__ctx_drop(w);
        finish(s, ZKR_ENOMEM);
    }
}

static void ensure_cb(void *ctx, int rc)
{
    zkr__ctx_t *x = ctx;
    zkr_semaphore_t *s = S(x);
    pthread_mutex_lock(&s->obj.mu);
    if (x->attempt == s->attempt && s->state == S_CREATE) {
        if (rc == ZKR_OK)
            start_create(s);
        else
            finish(s, rc);
    }
    unlock_fire(s);
    zkr__ctx_done(x);
}

static void orphan_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_semaphore_t *s = S(x);
    pthread_mutex_lock(&s->obj.mu);
    if (rc == ZKR_OK) {
        int found = 0;
        for (int i = 0; i < op->strings->count; i++)
            if (strstr(op->strings->data[i], x->name)) {
                found = 1;
                if (x->attempt == s->attempt && s->state == S_CREATE &&
                    !s->cur && (s->cur = strdup(op->strings->data[i]))) {
                    /* the create was applied: carry on with it */
                    s->state = S_WAIT;
                    list_leases(s);
                } else {
                    delete_lease(s, op->strings->data[i]);
                }
            }
        if (!found && x->attempt == s->attempt && s->state == S_CREATE)
            start_create(s);
    } else if (x->attempt == s->attempt && s->state == S_CREATE) {
        finish(s, ZKR_ELOCKLOST);
    }
    unlock_fire(s);
    zkr__ctx_done(x);
}

/* After a lost create reply: sync (the server we reconnected to may lag),
 * then look for our uuid among the leases. */
static void sync_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_semaphore_t *s = S(x);
    if (rc == ZKR_OK &&
        zkr__achildren(s->c, s->leases, NULL, NULL, orphan_cb, x) == ZKR_OK)
        return; /* x goes on to orphan_cb */
    pthread_mutex_lock(&s->obj.mu);
    if (x->attempt == s->attempt && s->state == S_CREATE)
        finish(s, ZKR_ELOCKLOST);
    unlock_fire(s);
    zkr__ctx_done(x);
}

static void create_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_semaphore_t *s = S(x);
    pthread_mutex_lock(&s->obj.mu);
    if (x->attempt != s->attempt || s->state != S_CREATE) {
        if (rc == ZKR_OK) {
            delete_lease(s, zkr__path_basename(op->value));
        } else if (rc == ZKR_ECONNLOSS) {
            zkr__ctx_t *o = sctx_new(s); /* orphan_cb deletes it if it exists */
            if (o && zkr__async_sync(s->c, s->leases, sync_cb, o) != ZKR_OK)
                zkr__ctx_drop(o);
        }
        goto out;
    }
    if (rc == ZKR_OK) {
        s->state = S_WAIT;
        s->cur = strdup(zkr__path_basename(op->value));
        list_leases(s);
    } else if (rc == ZKR_ENONODE && s->ensure_tries++ < 5) {
        zkr__ctx_t *e = sctx_new(s);
        if (!e || zkr__aensure(s->c, s->leases, ZKR_CONTAINER, ensure_cb, e) !=
                      ZKR_OK) {
            zkr__ctx_drop(e);
            finish(s, ZKR_ENOMEM);
        }
    } else if (rc == ZKR_ECONNLOSS) {
        /* the create may have been applied: look for our uuid */
        zkr__ctx_t *o = sctx_new(s);
        if (!o || zkr__async_sync(s->c, s->leases, sync_cb, o) != ZKR_OK) {
            zkr__ctx_drop(o);
            finish(s, ZKR_ELOCKLOST);
        }
    } else {
        finish(s, rc == ZKR_ESESSIONEXPIRED || rc == ZKR_ECANCELED
                      ? ZKR_ELOCKLOST
                      : rc);
    }
out:
    unlock_fire(s);
    zkr__ctx_done(x);
}

/* Caller holds s->obj.mu, and the mutex is ours. */
static void start_create(zkr_semaphore_t *s)
{
    char *p;
    zkr__ctx_t *x;
    int rc;
    p = zkr__protected_path(s->leases, "-lease-", s->uuid);
    x = sctx_new(s);
    s->state = S_CREATE;
    rc = (p && x) ? zkr__acreate(s->c, p, s->data, s->data_len,
                                 ZKR_EPHEMERAL | ZKR_SEQUENTIAL, create_cb, x)
                  : ZKR_ENOMEM;
    free(p);
    if (rc != ZKR_OK) {
        zkr__ctx_drop(x);
        finish(s, rc);
    }
}

static void lock_cb(zkr_lock_t *l, int status, void *ctx)
{
    zkr_semaphore_t *s = ctx;
    (void)l;
    pthread_mutex_lock(&s->obj.mu);
    if (s->state != S_MUTEX) {
        /* stale: canceled meanwhile */
        if (status == ZKR_OK)
            s->after |= A_RELEASE;
    } else if (status == ZKR_OK) {
        s->ensure_tries = 0;
        start_create(s);
    } else {
        s->state = S_IDLE; /* nothing to cancel on the mutex */
        finish(s, status == ZKR_EWOULDBLOCK ? ZKR_ETIMEDOUT : status);
    }
    s->obj.refs--; /* the acquire's reference; never the last (user holds) */
    unlock_fire(s);
}

static void on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkr_semaphore_t *s = ctx;
    (void)c;
    pthread_mutex_lock(&s->obj.mu);
    if (st == ZKR_STATE_LOST || st == ZKR_STATE_CLOSED) {
        /* every lease node went with the session */
        int pending = s->state != S_IDLE;
        for (int i = 0; i < s->nheld; i++)
            free(s->held[i]);
        s->nheld = 0;
        s->got = 0;
        if (pending)
            finish(s, st == ZKR_STATE_LOST ? ZKR_ELOCKLOST : ZKR_ECANCELED);
    }
    unlock_fire(s);
}

int zkr_semaphore_new(zkr_client_t *c, const char *path, int max_leases,
                      const void *data, size_t data_len,
                      zkr_semaphore_t **out)
{
    zkr_semaphore_t *s;
    char *locks = NULL;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!c || max_leases < 1)
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(path)) != ZKR_OK)
        return rc;
    if (data_len > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    if (data_len && !data)
        return ZKR_EINVAL;
    if (zkr__client_closed(c))
        return ZKR_ECLOSED;
    s = calloc(1, sizeof *s);
    if (!s)
        return ZKR_ENOMEM;
    if (zkr__obj_init(&s->obj, sem_destroy) != ZKR_OK) {
        free(s);
        return ZKR_ENOMEM;
    }
    s->c = c;
    s->max = max_leases;
    if (data) {
        s->data = malloc(data_len ? data_len : 1);
        if (s->data)
            memcpy(s->data, data, data_len);
        s->data_len = data_len;
    } else {
        s->data = zkr__default_node_data();
        s->data_len = s->data ? strlen(s->data) : 0;
    }
    rc = zkr_path_join(path, "leases", &s->leases);
    if (rc == ZKR_OK)
        rc = zkr_path_join(path, "locks", &locks);
    if (rc == ZKR_OK && !s->data)
        rc = ZKR_ENOMEM;
    if (rc == ZKR_OK)
        rc = zkr_lock_new(c, locks, NULL, &s->mutex);
    free(locks);
    zkr__client_ref(c);
    if (rc == ZKR_OK)
        rc = zkr_client_add_listener(c, on_state, s);
    if (rc != ZKR_OK) {
        zkr_lock_free(s->mutex);
        zkr__obj_unref(&s->obj);
        return rc;
    }
    *out = s;
    return ZKR_OK;
}

static int start(zkr_semaphore_t *s, int count, zkr_semaphore_cb cb,
                 void *ctx, int try_only)
{
    if (!s || !cb || count < 1)
        return ZKR_EINVAL;
    pthread_mutex_lock(&s->obj.mu);
    if (count > s->max) {
        pthread_mutex_unlock(&s->obj.mu);
        return ZKR_EINVAL;
    }
    if (s->freed || zkr__client_closed(s->c)) {
        pthread_mutex_unlock(&s->obj.mu);
        return ZKR_ECLOSED;
    }
    if (s->state != S_IDLE) {
        pthread_mutex_unlock(&s->obj.mu);
        return ZKR_EBUSY;
    }
    s->cb = cb;
    s->cb_ctx = ctx;
    s->want = count;
    s->got = 0;
    s->try_only = try_only;
    s->attempt++;
    s->state = S_MUTEX;
    s->after |= A_ACQUIRE;
    unlock_fire(s);
    return ZKR_OK;
}

int zkr_semaphore_acquire_async(zkr_semaphore_t *s, int count,
                                zkr_semaphore_cb cb, void *ctx)
{
    return start(s, count, cb, ctx, 0);
}

static void blocking_cb(zkr_semaphore_t *s, int status, void *ctx)
{
    (void)s;
    zkr__waiter_signal(ctx, status);
}

int zkr_semaphore_acquire(zkr_semaphore_t *s, int count, int timeout_ms)
{
    zkr__waiter_t w;
    int rc;
    if (!s)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    zkr__waiter_init(&w);
    rc = start(s, count, blocking_cb, &w, timeout_ms == 0);
    if (rc == ZKR_OK) {
        rc = zkr__waiter_wait(&w, timeout_ms == 0 ? -1 : timeout_ms);
        if (rc == ZKR_ETIMEDOUT) {
            zkr_semaphore_cancel(s);
            rc = zkr__waiter_wait(&w, -1);
            if (rc == ZKR_ECANCELED)
                rc = ZKR_ETIMEDOUT;
        }
    }
    zkr__waiter_destroy(&w);
    return rc;
}

int zkr_semaphore_cancel(zkr_semaphore_t *s)
{
    if (!s)
        return ZKR_EINVAL;
    pthread_mutex_lock(&s->obj.mu);
    if (s->state == S_IDLE) {
        pthread_mutex_unlock(&s->obj.mu);
        return ZKR_ENOTHELD;
    }
    finish(s, ZKR_ECANCELED);
    unlock_fire(s);
    return ZKR_OK;
}

int zkr_semaphore_release(zkr_semaphore_t *s, int count)
{
    if (!s || count < 1)
        return ZKR_EINVAL;
    pthread_mutex_lock(&s->obj.mu);
    if (count > s->nheld - s->got) {
        pthread_mutex_unlock(&s->obj.mu);
        return ZKR_ENOTHELD;
    }
    /* leases of a pending call sit at the end of held: release older ones */
    for (int i = 0; i < count; i++) {
        char *name = s->held[0];
        memmove(s->held, s->held + 1, sizeof *s->held * (size_t)(s->nheld - 1));
        s->nheld--;
        delete_lease(s, name);
        free(name);
    }
    pthread_mutex_unlock(&s->obj.mu);
    return ZKR_OK;
}

int zkr_semaphore_held(zkr_semaphore_t *s)
{
    int n;
    if (!s)
        return 0;
    pthread_mutex_lock(&s->obj.mu);
    n = s->nheld - s->got;
    pthread_mutex_unlock(&s->obj.mu);
    return n;
}

void zkr_semaphore_free(zkr_semaphore_t *s)
{
    if (!s)
        return;
    zkr_client_remove_listener(s->c, on_state, s);
    pthread_mutex_lock(&s->obj.mu);
    s->freed = 1;
    if (s->state != S_IDLE)
        finish(s, ZKR_ECANCELED);
    unlock_fire(s);
    pthread_mutex_lock(&s->obj.mu);
    for (int i = 0; i < s->nheld; i++) {
        delete_lease(s, s->held[i]);
        free(s->held[i]);
    }
    s->nheld = 0;
    pthread_mutex_unlock(&s->obj.mu);
    zkr_lock_free(s->mutex);
    zkr__obj_unref(&s->obj);
}
