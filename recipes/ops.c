/* SPDX-License-Identifier: Apache-2.0 */
/* Async operations with exactly-once completions, watches, multi. */
#define ZKR_BUILDING 1
#include "client.h"

#include <stdlib.h>
#include <string.h>

char *zkr__abs_path(zkr_client_t *c, const char *path)
{
    char *s;
    size_t pl;
    if (!c->chroot)
        return strdup(path);
    pl = strlen(path);
    if (pl == 1) /* the namespace root itself */
        return strdup(c->chroot);
    s = malloc(c->chroot_len + pl + 1);
    if (!s)
        return NULL;
    memcpy(s, c->chroot, c->chroot_len);
    memcpy(s + c->chroot_len, path, pl + 1);
    return s;
}

const char *zkr__rel_path(zkr_client_t *c, const char *p)
{
    if (!p || !c->chroot)
        return p;
    if (strncmp(p, c->chroot, c->chroot_len) == 0) {
        if (p[c->chroot_len] == '\0')
            return "/";
        if (p[c->chroot_len] == '/')
            return p + c->chroot_len;
    }
    return p;
}

/* ---- bookkeeping --------------------------------------------------------- */

static zkr__op_t *op_new(zkr_client_t *c, zkr__op_cb cb, void *ctx)
{
    zkr__op_t *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->c = c;
    op->cb = cb;
    op->ctx = ctx;
    return op;
}

static void op_free(zkr__op_t *op)
{
    if (op->mstrs) {
        for (int i = 0; i < op->nmstrs; i++)
            free(op->mstrs[i]);
        free(op->mstrs);
    }
    free(op->mops);
    free(op->mres);
    free(op->created_buf);
    free(op);
}

/* Caller holds c->mu. */
static void op_link(zkr_client_t *c, zkr__op_t *op)
{
    op->gen = c->gen;
    op->prev = NULL;
    op->next = c->ops;
    if (c->ops)
        c->ops->prev = op;
    c->ops = op;
}

static void op_unlink(zkr_client_t *c, zkr__op_t *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        c->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    op->prev = op->next = NULL;
}

static void watch_link(zkr_client_t *c, zkr__watch_t *w)
{
    w->gen = c->gen;
    w->prev = NULL;
    w->next = c->watches;
    if (c->watches)
        c->watches->prev = w;
    c->watches = w;
}

static void watch_unlink(zkr_client_t *c, zkr__watch_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        c->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

/* Deliver a watch exactly once. */
static void watch_fire(zkr__watch_t *w, int type, const char *path)
{
    zkr_client_t *c = w->c;
    int already;
    pthread_mutex_lock(&c->mu);
    already = w->fired;
    if (!already) {
        w->fired = 1;
        watch_unlink(c, w);
    }
    pthread_mutex_unlock(&c->mu);
    if (already)
        return;
    w->cb(w->ctx, type, path);
    free(w);
}

static void tr_watch(zhandle_t *zh, int type, int state, const char *path,
                     void *ctx)
{
    zkr__watch_t *w = ctx;
    (void)zh;
    (void)state;
    zkr__mark_callback_thread();
    /* Session events reach every watcher; the client's listeners handle
     * them. A watch is consumed only by its node event. */
    if (type == ZOO_SESSION_EVENT)
        return;
    watch_fire(w, type, zkr__rel_path(w->c, path));
}

/* Unlink the op and run its callback, then drop a watch that the server
 * did not set. */
static void op_finish(zkr__op_t *op, int zrc)
{
    zkr_client_t *c = op->c;
    zkr__watch_t *w = op->watch;
    int rc = zkr__map_zk(zrc);
    int watch_set;
    pthread_mutex_lock(&c->mu);
    op_unlink(c, op);
    pthread_mutex_unlock(&c->mu);
    watch_set = zrc == ZOK || (op->is_exists && zrc == ZNONODE);
    op->cb(op, rc);
    if (w && !watch_set)
        watch_fire(w, ZKR__WATCH_CANCELED, NULL);
    op_free(op);
}

void zkr__sweep(zkr_client_t *c, unsigned gen, int all)
{
    /* Cancellations run the same code as completions: mark this thread so
     * callbacks keep refusing to block, and restore it afterwards. */
    int was = zkr__set_callback_thread(1);
    for (;;) {
        zkr__op_t *op;
        pthread_mutex_lock(&c->mu);
        for (op = c->ops; op; op = op->next)
            if (all || op->gen <= gen)
                break;
        pthread_mutex_unlock(&c->mu);
        if (!op)
            break;
        op_finish(op, ZKR_ECANCELED);
    }
    for (;;) {
        zkr__watch_t *w;
        pthread_mutex_lock(&c->mu);
        for (w = c->watches; w; w = w->next)
            if (all || w->gen <= gen)
                break;
        pthread_mutex_unlock(&c->mu);
        if (!w)
            break;
        watch_fire(w, ZKR__WATCH_CANCELED, NULL);
    }
    zkr__set_callback_thread(was);
}

/* ---- trampolines --------------------------------------------------------- */

static void tr_string_stat(int rc, const char *value, const struct Stat *stat,
                           const void *data)
{
    zkr__op_t *op = (zkr__op_t *)data;
    zkr__mark_callback_thread();
    op->value = rc == ZOK ? zkr__rel_path(op->c, value) : NULL;
    op->value_len = op->value ? (int)strlen(op->value) : 0;
    op->stat = rc == ZOK ? stat : NULL;
    op_finish(op, rc);
}

static void tr_string(int rc, const char *value, const void *data)
{
    zkr__op_t *op = (zkr__op_t *)data;
    (void)value;
    zkr__mark_callback_thread();
    op_finish(op, rc);
}

static void tr_void(int rc, const void *data)
{
    zkr__mark_callback_thread();
    op_finish((zkr__op_t *)data, rc);
}

static void tr_stat(int rc, const struct Stat *stat, const void *data)
{
    zkr__op_t *op = (zkr__op_t *)data;
    zkr__mark_callback_thread();
    op->stat = rc == ZOK ? stat : NULL;
    op_finish(op, rc);
}

static void tr_data(int rc, const char *value, int len,
                    const struct Stat *stat, const void *data)
{
    zkr__op_t *op = (zkr__op_t *)data;
    zkr__mark_callback_thread();
    if (rc == ZOK) {
        op->value = value;
        op->value_len = len < 0 ? 0 : len;
        op->stat = stat;
    }
    op_finish(op, rc);
}

static void tr_strings_stat(int rc, const struct String_vector *strings,
                            const struct Stat *stat, const void *data)
{
    zkr__op_t *op = (zkr__op_t *)data;
    zkr__mark_callback_thread();
    if (rc == ZOK) {
        op->strings = strings;
        op->stat = stat;
    }
    op_finish(op, rc);
}

static void tr_multi(int rc, const void *data)
{
    zkr__op_t *op = (zkr__op_t *)data;
    zkr__mark_callback_thread();
    op_finish(op, rc);
}

/* ---- starting operations ------------------------------------------------- */

enum kind { K_CREATE, K_DELETE, K_EXISTS, K_GET, K_SET, K_CHILDREN, K_SYNC };

struct req {
    enum kind kind;
    const char *path;
    const void *data;
    size_t len;
    int flags;
    int version;
    zkr__watch_cb wcb;
    void *wctx;
    const struct ACL_vector *acl; /* creates: NULL for the client's */
};

static int zk_flags(int flags)
{
    int f = 0;
    if (flags & ZKR_CONTAINER)
        return ZOO_CONTAINER;
    if (flags & ZKR_EPHEMERAL)
        f |= ZOO_EPHEMERAL;
    if (flags & ZKR_SEQUENTIAL)
        f |= ZOO_SEQUENCE;
    return f;
}

static int start(zkr_client_t *c, const struct req *r, zkr__op_cb cb,
                 void *ctx)
{
    zkr__op_t *op;
    zkr__watch_t *w = NULL;
    char *abs;
    int rc, zrc;
    if (!c || !cb)
        return ZKR_EINVAL;
    if ((rc = zkr_path_validate(r->path)) != ZKR_OK)
        return rc;
    if ((r->kind == K_CREATE || r->kind == K_SET) && r->len > 0 && !r->data)
        return ZKR_EINVAL;
    if (r->len > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    if (r->kind == K_CREATE && strcmp(r->path, "/") == 0)
        return ZKR_ENODEEXISTS;
    op = op_new(c, cb, ctx);
    abs = zkr__abs_path(c, r->path);
    if (r->wcb) {
        w = calloc(1, sizeof *w);
        if (w) {
            w->c = c;
            w->cb = r->wcb;
            w->ctx = r->wctx;
        }
    }
    if (!op || !abs || (r->wcb && !w)) {
        free(op);
        free(abs);
        free(w);
        return ZKR_ENOMEM;
    }
    op->watch = w;
    op->is_exists = r->kind == K_EXISTS;
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        zrc = ZCLOSING;
    } else if (!c->zh) {
        zrc = ZSESSIONEXPIRED;
    } else {
        zhandle_t *zh = c->zh;
        op_link(c, op);
        if (w)
            watch_link(c, w);
        switch (r->kind) {
        case K_CREATE:
            zrc = zoo_acreate2(zh, abs, r->data, (int)r->len,
                               r->acl ? r->acl : zkr__client_acl(c),
                               zk_flags(r->flags),
                               tr_string_stat, op);
            break;
        case K_DELETE:
            zrc = zoo_adelete(zh, abs, r->version, tr_void, op);
            break;
        case K_EXISTS:
            zrc = zoo_awexists(zh, abs, w ? tr_watch : NULL, w, tr_stat, op);
            break;
        case K_GET:
            zrc = zoo_awget(zh, abs, w ? tr_watch : NULL, w, tr_data, op);
            break;
        case K_SET:
            zrc = zoo_aset(zh, abs, r->data, (int)r->len, r->version, tr_stat,
                           op);
            break;
        case K_SYNC:
            zrc = zoo_async(zh, abs, tr_string, op);
            break;
        case K_CHILDREN:
        default:
            zrc = zoo_awget_children2(zh, abs, w ? tr_watch : NULL, w,
                                      tr_strings_stat, op);
            break;
        }
        if (zrc != ZOK) {
            op_unlink(c, op);
            if (w)
                watch_unlink(c, w);
        }
    }
    pthread_mutex_unlock(&c->mu);
    free(abs);
    if (zrc != ZOK) {
        free(op);
        free(w);
        if (zrc == ZCLOSING)
            return ZKR_ECLOSED;
        if (zrc == ZINVALIDSTATE)
            return ZKR_ESESSIONEXPIRED;
        return zkr__map_zk(zrc);
    }
    return ZKR_OK;
}

int zkr__acreate(zkr_client_t *c, const char *path, const void *data,
                 size_t len, int flags, zkr__op_cb cb, void *ctx)
{
    return zkr__acreate_acl(c, path, data, len, flags, NULL, cb, ctx);
}

int zkr__acreate_acl(zkr_client_t *c, const char *path, const void *data,
                     size_t len, int flags, const struct ACL_vector *acl,
                     zkr__op_cb cb, void *ctx)
{
    struct req r = {K_CREATE, path, data, len, flags, -1, NULL, NULL, acl};
    return start(c, &r, cb, ctx);
}

int zkr__adelete(zkr_client_t *c, const char *path, int version,
                 zkr__op_cb cb, void *ctx)
{
    struct req r = {K_DELETE, path, NULL, 0, 0, version, NULL, NULL, NULL};
    return start(c, &r, cb, ctx);
}

int zkr__aexists(zkr_client_t *c, const char *path, zkr__watch_cb wcb,
                 void *wctx, zkr__op_cb cb, void *ctx)
{
    struct req r = {K_EXISTS, path, NULL, 0, 0, -1, wcb, wctx, NULL};
    return start(c, &r, cb, ctx);
}

int zkr__aget(zkr_client_t *c, const char *path, zkr__watch_cb wcb,
              void *wctx, zkr__op_cb cb, void *ctx)
{
    struct req r = {K_GET, path, NULL, 0, 0, -1, wcb, wctx, NULL};
    return start(c, &r, cb, ctx);
}

int zkr__aset(zkr_client_t *c, const char *path, const void *data,
              size_t len, int version, zkr__op_cb cb, void *ctx)
{
    struct req r = {K_SET, path, data, len, 0, version, NULL, NULL, NULL};
    return start(c, &r, cb, ctx);
}

int zkr__achildren(zkr_client_t *c, const char *path, zkr__watch_cb wcb,
                   void *wctx, zkr__op_cb cb, void *ctx)
{
    struct req r = {K_CHILDREN, path, NULL, 0, 0, -1, wcb, wctx, NULL};
    return start(c, &r, cb, ctx);
}

int zkr__async_sync(zkr_client_t *c, const char *path, zkr__op_cb cb,
                    void *ctx)
{
    struct req r = {K_SYNC, path, NULL, 0, 0, -1, NULL, NULL, NULL};
    return start(c, &r, cb, ctx);
}

/* ---- multi --------------------------------------------------------------- */

struct zkr__multi {
    zkr_client_t *c;
    int max, n;
    zoo_op_t *ops;
    char **strs; /* owned paths, data and created-path buffers */
    int nstrs;
    int err;
};

zkr__multi_t *zkr__multi_new(zkr_client_t *c, int max_ops)
{
    zkr__multi_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->c = c;
    m->max = max_ops;
    m->ops = calloc((size_t)max_ops, sizeof *m->ops);
    m->strs = calloc((size_t)max_ops * 3, sizeof *m->strs);
    if (!m->ops || !m->strs) {
        free(m->ops);
        free(m->strs);
        free(m);
        return NULL;
    }
    return m;
}

void zkr__multi_free(zkr__multi_t *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nstrs; i++)
        free(m->strs[i]);
    free(m->strs);
    free(m->ops);
    free(m);
}

static char *multi_keep(zkr__multi_t *m, char *s)
{
    if (s)
        m->strs[m->nstrs++] = s;
    else
        m->err = ZKR_ENOMEM;
    return s;
}

static const char *multi_path(zkr__multi_t *m, const char *path)
{
    int rc;
    if (m->n >= m->max) {
        m->err = ZKR_EINVAL;
        return NULL;
    }
    if ((rc = zkr_path_validate(path)) != ZKR_OK) {
        m->err = rc;
        return NULL;
    }
    return multi_keep(m, zkr__abs_path(m->c, path));
}

static const char *multi_data(zkr__multi_t *m, const void *data, size_t len)
{
    char *d;
    if (len > ZKR_MAX_DATA) {
        m->err = ZKR_ETOOBIG;
        return NULL;
    }
    if (!len)
        return NULL;
    d = malloc(len);
    if (d)
        memcpy(d, data, len);
    return multi_keep(m, d);
}

int zkr__multi_create(zkr__multi_t *m, const char *path, const void *data,
                      size_t len, int flags)
{
    return zkr__multi_create_acl(m, path, data, len, flags, NULL);
}

int zkr__multi_create_acl(zkr__multi_t *m, const char *path,
                          const void *data, size_t len, int flags,
                          const struct ACL_vector *acl)
{
    const char *p = multi_path(m, path);
    const char *d = multi_data(m, data, len);
    size_t bl = strlen(path) + (m->c->chroot_len) + 16;
    char *buf = multi_keep(m, malloc(bl));
    if (m->err)
        return m->err;
    zoo_create_op_init(&m->ops[m->n++], p, d, (int)len,
                       acl ? acl : zkr__client_acl(m->c), zk_flags(flags),
                       buf, (int)bl);
    return ZKR_OK;
}

int zkr__multi_delete(zkr__multi_t *m, const char *path, int version)
{
    const char *p = multi_path(m, path);
    if (m->err)
        return m->err;
    zoo_delete_op_init(&m->ops[m->n++], p, version);
    return ZKR_OK;
}

int zkr__multi_check(zkr__multi_t *m, const char *path, int version)
{
    const char *p = multi_path(m, path);
    if (m->err)
        return m->err;
    zoo_check_op_init(&m->ops[m->n++], p, version);
    return ZKR_OK;
}

int zkr__multi_set(zkr__multi_t *m, const char *path, const void *data,
                   size_t len, int version)
{
    const char *p = multi_path(m, path);
    const char *d = multi_data(m, data, len);
    if (m->err)
        return m->err;
    zoo_set_op_init(&m->ops[m->n++], p, d, (int)len, version, NULL);
    return ZKR_OK;
}

int zkr__amulti(zkr__multi_t *m, zkr__op_cb cb, void *ctx)
{
    zkr_client_t *c = m->c;
    zkr__op_t *op;
    int zrc;
    if (m->err || m->n == 0) {
        int rc = m->err ? m->err : ZKR_EINVAL;
        zkr__multi_free(m);
        return rc;
    }
    op = op_new(c, cb, ctx);
    if (!op) {
        zkr__multi_free(m);
        return ZKR_ENOMEM;
    }
    op->mres = calloc((size_t)m->n, sizeof *op->mres);
    if (!op->mres) {
        free(op);
        zkr__multi_free(m);
        return ZKR_ENOMEM;
    }
    /* The op takes over the arrays: they must live until the reply. */
    op->nmulti = m->n;
    op->mops = m->ops;
    op->mstrs = m->strs;
    op->nmstrs = m->nstrs;
    free(m);
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        zrc = ZCLOSING;
    } else if (!c->zh) {
        zrc = ZSESSIONEXPIRED;
    } else {
        op_link(c, op);
        zrc = zoo_amulti(c->zh, op->nmulti, op->mops, op->mres, tr_multi, op);
        if (zrc != ZOK)
            op_unlink(c, op);
    }
    pthread_mutex_unlock(&c->mu);
    if (zrc != ZOK) {
        op_free(op);
        return zrc == ZCLOSING ? ZKR_ECLOSED : zkr__map_zk(zrc);
    }
    return ZKR_OK;
}
