/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking znode operations over the async layer, and ensure-path. */
#define ZKR_BUILDING 1
#include "client.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* After ZKR_ECONNLOSS on an operation that is safe to repeat: wait for the
 * connection, then pause 25, 50, 100, 200 ms so that a flapping connection
 * is not hammered. Returns 1 to try again (at most five attempts in all). */
static int retry_after_connloss(zkr_client_t *c, int *attempt)
{
    int t = zkr_client_session_timeout(c);
    struct timespec pause;
    if (++*attempt >= 5 ||
        zkr_client_wait_connected(c, t > 0 ? t : 10000) != ZKR_OK)
        return 0;
    pause.tv_sec = 0;
    pause.tv_nsec = (25L << (*attempt - 1)) * 1000000L;
    nanosleep(&pause, NULL);
    return 1;
}

/* ---- ensure path --------------------------------------------------------- */

struct ensure {
    zkr_client_t *c;
    char *path;
    size_t level; /* length of the prefix being created */
    int flags;
    const struct ACL_vector *acl; /* NULL: the client's */
    zkr__done_cb done;
    void *ctx;
};

static int ensure_step(struct ensure *e);

static void ensure_cb(zkr__op_t *op, int rc)
{
    struct ensure *e = op->ctx;
    size_t full = strlen(e->path);
    if (rc == ZKR_ENONODE) {
        /* A parent is missing: go one level up. */
        while (e->level > 1 && e->path[--e->level] != '/')
            ;
        if (e->level == 0)
            e->level = 1;
        rc = ensure_step(e);
        if (rc == ZKR_OK)
            return;
    } else if (rc == ZKR_OK || rc == ZKR_ENODEEXISTS) {
        if (e->level >= full) {
            rc = ZKR_OK;
        } else {
            /* Go one level down again. */
            e->level++;
            while (e->level < full && e->path[e->level] != '/')
                e->level++;
            rc = ensure_step(e);
            if (rc == ZKR_OK)
                return;
        }
    }
    e->done(e->ctx, rc);
    free(e->path);
    free(e);
}

static int ensure_step(struct ensure *e)
{
    /* A copy: once the create is sent, its completion may free e on the
     * completion thread before zkr__acreate even returns. */
    char *prefix = strndup(e->path, e->level);
    int rc;
    if (!prefix)
        return ZKR_ENOMEM;
    rc = zkr__acreate_acl(e->c, prefix, NULL, 0, e->flags, e->acl, ensure_cb,
                          e);
    free(prefix);
    return rc;
}

int zkr__aensure(zkr_client_t *c, const char *path, int flags,
                 zkr__done_cb done, void *ctx)
{
    return zkr__aensure_acl(c, path, flags, NULL, done, ctx);
}

int zkr__aensure_acl(zkr_client_t *c, const char *path, int flags,
                     const struct ACL_vector *acl, zkr__done_cb done,
                     void *ctx)
{
    struct ensure *e;
    int rc;
    if ((rc = zkr_path_validate(path)) != ZKR_OK)
        return rc;
    if (strcmp(path, "/") == 0) {
        done(ctx, ZKR_OK);
        return ZKR_OK;
    }
    e = calloc(1, sizeof *e);
    if (!e || !(e->path = strdup(path))) {
        free(e);
        return ZKR_ENOMEM;
    }
    e->c = c;
    e->level = strlen(path);
    e->flags = flags;
    e->acl = acl;
    e->done = done;
    e->ctx = ctx;
    rc = ensure_step(e);
    if (rc != ZKR_OK) {
        free(e->path);
        free(e);
    }
    return rc;
}

/* ---- blocking wrappers --------------------------------------------------- */

struct sync {
    zkr__waiter_t w;
    char *data;
    size_t len;
    struct Stat stat;
    int have_stat;
    char **names;
    int count;
    const struct ACL_vector *acl; /* creates: NULL for the client's */
};

static void sync_cb(zkr__op_t *op, int rc)
{
    struct sync *s = op->ctx;
    if (rc == ZKR_OK) {
        if (op->stat) {
            s->stat = *op->stat;
            s->have_stat = 1;
        }
        if (op->value) {
            s->data = malloc((size_t)op->value_len + 1);
            if (s->data) {
                memcpy(s->data, op->value, (size_t)op->value_len);
                s->data[op->value_len] = '\0';
                s->len = (size_t)op->value_len;
            } else {
                rc = ZKR_ENOMEM;
            }
        } else if (op->stat && !op->strings) {
            /* getData of an empty node: value is NULL. */
        }
        if (op->strings) {
            int n = op->strings->count;
            s->names = calloc((size_t)n + 1, sizeof *s->names);
            if (!s->names)
                rc = ZKR_ENOMEM;
            for (int i = 0; s->names && i < n; i++) {
                s->names[i] = strdup(op->strings->data[i]);
                if (!s->names[i])
                    rc = ZKR_ENOMEM;
            }
            s->count = n;
        }
    }
    zkr__waiter_signal(&s->w, rc);
}

static void sync_reset(struct sync *s)
{
    free(s->data);
    zkr_strings_free(s->names, s->count);
    s->data = NULL;
    s->names = NULL;
    s->count = 0;
    s->len = 0;
    s->have_stat = 0;
    s->w.done = 0;
}

enum sop { S_CREATE, S_DELETE, S_EXISTS, S_GET, S_SET, S_CHILDREN };

static int run(zkr_client_t *c, enum sop kind, const char *path,
               const void *data, size_t len, int flags, int version,
               struct sync *s)
{
    int rc, attempt = 0;
    int idempotent = kind == S_EXISTS || kind == S_GET || kind == S_CHILDREN;
    if (!c)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    zkr__waiter_init(&s->w);
    for (;;) {
        switch (kind) {
        case S_CREATE:
            rc = zkr__acreate_acl(c, path, data, len, flags, s->acl, sync_cb,
                                  s);
            break;
        case S_DELETE:
            rc = zkr__adelete(c, path, version, sync_cb, s);
            break;
        case S_EXISTS:
            rc = zkr__aexists(c, path, NULL, NULL, sync_cb, s);
            break;
        case S_GET:
            rc = zkr__aget(c, path, NULL, NULL, sync_cb, s);
            break;
        case S_SET:
            rc = zkr__aset(c, path, data, len, version, sync_cb, s);
            break;
        case S_CHILDREN:
        default:
            rc = zkr__achildren(c, path, NULL, NULL, sync_cb, s);
            break;
        }
        if (rc == ZKR_OK)
            rc = zkr__waiter_wait(&s->w, -1);
        /* Reads are safe to repeat. */
        if (idempotent && rc == ZKR_ECONNLOSS &&
            retry_after_connloss(c, &attempt)) {
            sync_reset(s);
            continue;
        }
        break;
    }
    zkr__waiter_destroy(&s->w);
    return rc;
}

int zkr_create(zkr_client_t *c, const char *path, const void *data,
               size_t len, int flags, char **created)
{
    return zkr__create_acl(c, path, data, len, flags, NULL, created);
}

int zkr__create_acl(zkr_client_t *c, const char *path, const void *data,
                    size_t len, int flags, const struct ACL_vector *acl,
                    char **created)
{
    struct sync s = {0};
    int rc;
    s.acl = acl;
    if (created)
        *created = NULL;
    rc = run(c, S_CREATE, path, data, len, flags, -1, &s);
    if (rc == ZKR_OK && created) {
        *created = s.data;
        s.data = NULL;
    }
    free(s.data);
    return rc;
}

int zkr_delete(zkr_client_t *c, const char *path, int version)
{
    struct sync s = {0};
    return run(c, S_DELETE, path, NULL, 0, 0, version, &s);
}

int zkr_exists(zkr_client_t *c, const char *path, zkr_stat_t *stat)
{
    struct sync s = {0};
    int rc = run(c, S_EXISTS, path, NULL, 0, 0, -1, &s);
    if (stat)
        zkr__stat_copy(stat, rc == ZKR_OK ? &s.stat : NULL);
    return rc;
}

int zkr_get(zkr_client_t *c, const char *path, char **data, size_t *len,
            zkr_stat_t *stat)
{
    struct sync s = {0};
    int rc;
    if (!data)
        return ZKR_EINVAL;
    *data = NULL;
    if (len)
        *len = 0;
    rc = run(c, S_GET, path, NULL, 0, 0, -1, &s);
    if (rc == ZKR_OK) {
        if (!s.data)
            s.data = calloc(1, 1);
        if (!s.data)
            return ZKR_ENOMEM;
        *data = s.data;
        if (len)
            *len = s.len;
        zkr__stat_copy(stat, &s.stat);
    } else {
        free(s.data);
        zkr__stat_copy(stat, NULL);
    }
    return rc;
}

int zkr_set(zkr_client_t *c, const char *path, const void *data, size_t len,
            int version, zkr_stat_t *stat)
{
    struct sync s = {0};
    int rc = run(c, S_SET, path, data, len, 0, version, &s);
    zkr__stat_copy(stat, rc == ZKR_OK ? &s.stat : NULL);
    return rc;
}

int zkr_children(zkr_client_t *c, const char *path, char ***names,
                 int *count)
{
    struct sync s = {0};
    int rc;
    if (!names || !count)
        return ZKR_EINVAL;
    *names = NULL;
    *count = 0;
    rc = run(c, S_CHILDREN, path, NULL, 0, 0, -1, &s);
    if (rc == ZKR_OK) {
        *names = s.names;
        *count = s.count;
    } else {
        zkr_strings_free(s.names, s.count);
    }
    return rc;
}

struct flush {
    zkr__waiter_t w;
    int abandoned; /* the caller timed out: the callback frees */
};

static void flush_free(struct flush *f)
{
    zkr__waiter_destroy(&f->w);
    free(f);
}

static void flush_cb(zkr__op_t *op, int rc)
{
    struct flush *f = op->ctx;
    int abandoned;
    pthread_mutex_lock(&f->w.mu);
    abandoned = f->abandoned;
    f->w.done = 1;
    f->w.rc = rc == ZKR_ENONODE ? ZKR_OK : rc;
    pthread_cond_broadcast(&f->w.cv);
    pthread_mutex_unlock(&f->w.mu);
    if (abandoned)
        flush_free(f);
}

int zkr_client_flush(zkr_client_t *c, int timeout_ms)
{
    struct flush *f;
    int rc, done;
    if (!c)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    f = calloc(1, sizeof *f);
    if (!f)
        return ZKR_ENOMEM;
    zkr__waiter_init(&f->w);
    rc = zkr__aexists(c, "/", NULL, NULL, flush_cb, f);
    if (rc != ZKR_OK) {
        flush_free(f);
        return rc;
    }
    rc = zkr__waiter_wait(&f->w, timeout_ms);
    pthread_mutex_lock(&f->w.mu);
    done = f->w.done;
    if (!done)
        f->abandoned = 1;
    pthread_mutex_unlock(&f->w.mu);
    if (done)
        flush_free(f);
    return rc;
}

static void ensure_done(void *ctx, int rc)
{
    zkr__waiter_signal(ctx, rc);
}

int zkr_ensure_path(zkr_client_t *c, const char *path)
{
    return zkr__ensure_path_acl(c, path, NULL);
}

int zkr__ensure_path_acl(zkr_client_t *c, const char *path,
                         const struct ACL_vector *acl)
{
    zkr__waiter_t w;
    int rc, attempt = 0;
    if (!c)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    /* Safe to repeat: a create applied before the loss is ENODEEXISTS now. */
    do {
        zkr__waiter_init(&w);
        rc = zkr__aensure_acl(c, path, ZKR_PERSISTENT, acl, ensure_done, &w);
        if (rc == ZKR_OK)
            rc = zkr__waiter_wait(&w, -1);
        zkr__waiter_destroy(&w);
    } while (rc == ZKR_ECONNLOSS && retry_after_connloss(c, &attempt));
    return rc;
}

int zkr_delete_recursive(zkr_client_t *c, const char *path)
{
    char **names = NULL;
    int n = 0, rc;
    if (!c)
        return ZKR_EINVAL;
    for (;;) {
        rc = zkr_children(c, path, &names, &n);
        if (rc == ZKR_ENONODE)
            return ZKR_OK;
        if (rc != ZKR_OK)
            return rc;
        for (int i = 0; i < n && rc == ZKR_OK; i++) {
            char *child;
            rc = zkr_path_join(path, names[i], &child);
            if (rc == ZKR_OK) {
                rc = zkr_delete_recursive(c, child);
                free(child);
            }
        }
        zkr_strings_free(names, n);
        if (rc != ZKR_OK)
            return rc;
        if (strcmp(path, "/") == 0)
            return ZKR_OK;
        rc = zkr_delete(c, path, -1);
        if (rc == ZKR_ENONODE)
            return ZKR_OK;
        if (rc != ZKR_ENOTEMPTY) /* a child appeared meanwhile: again */
            return rc;
    }
}

/* ---- background delete --------------------------------------------------- */

struct bgdel {
    zkr_client_t *c;
    char *path;
    int tries;
};

static void bgdel_cb(zkr__op_t *op, int rc)
{
    struct bgdel *b = op->ctx;
    if (rc == ZKR_ECONNLOSS && b->tries++ < 50 &&
        zkr__adelete(b->c, b->path, -1, bgdel_cb, b) == ZKR_OK)
        return;
    zkr__client_unref(b->c);
    free(b->path);
    free(b);
}

int zkr__delete_bg(zkr_client_t *c, const char *path)
{
    struct bgdel *b = calloc(1, sizeof *b);
    int rc;
    if (!b || !(b->path = strdup(path))) {
        free(b);
        return ZKR_ENOMEM;
    }
    b->c = c;
    zkr__client_ref(c);
    rc = zkr__adelete(c, path, -1, bgdel_cb, b);
    if (rc != ZKR_OK) {
        zkr__client_unref(c);
        free(b->path);
        free(b);
    }
    return rc;
}
