/* SPDX-License-Identifier: Apache-2.0 */
/* Shared counter in one znode (Curator's DistributedAtomicLong and
 * SharedCount encodings). Adds are an async read / conditional-write loop;
 * the other operations are short blocking sequences. */
#define ZKR_BUILDING 1
#include "zkr/counter.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct addreq {
    struct addreq *next;
    int64_t delta;
    zkr_counter_cb cb;
    void *ctx;
    int status;
    int64_t value;
};

struct zkr_counter {
    zkr__obj_t obj; /* first: mutex and references */
    zkr_client_t *c;
    char *path;
    zkr_counter_encoding_t enc;
    int64_t initial;
    int max_retries;
    const struct ACL_vector *acl; /* of the node and missing parents */
    struct addreq *head, *tail; /* head is the add in progress */
    struct addreq *done;        /* finished, to call back unlocked */
    unsigned token;
    int retries, read_retries, ensure_tries;
    int64_t newval;
    unsigned conflicts;
    int freed;
};

/* A context's counter. */
#define K(x) ((zkr_counter_t *)(x)->o)

/* ---- encoding -------------------------------------------------------------- */

static size_t enc_size(const zkr_counter_t *k)
{
    return k->enc == ZKR_COUNTER_INT ? 4 : 8;
}

static void encode(const zkr_counter_t *k, int64_t v, unsigned char *out)
{
    size_t n = enc_size(k);
    uint64_t u = (uint64_t)v;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)(u >> (8 * (n - 1 - i)));
}

static int decode(const zkr_counter_t *k, const char *data, size_t len,
                  int64_t *v)
{
    uint64_t u = 0;
    if (len == 0) {
        *v = k->initial;
        return ZKR_OK;
    }
    if (len != enc_size(k))
        return ZKR_EMARSHALLING;
    for (size_t i = 0; i < len; i++)
        u = u << 8 | (unsigned char)data[i];
    *v = k->enc == ZKR_COUNTER_INT ? (int64_t)(int32_t)(uint32_t)u
                                   : (int64_t)u;
    return ZKR_OK;
}

/* Two's complement addition that wraps like Java's int and long. */
static int64_t wrap_add(const zkr_counter_t *k, int64_t a, int64_t b)
{
    uint64_t s = (uint64_t)a + (uint64_t)b;
    return k->enc == ZKR_COUNTER_INT ? (int64_t)(int32_t)(uint32_t)s
                                     : (int64_t)s;
}

static int in_range(const zkr_counter_t *k, int64_t v)
{
    return k->enc != ZKR_COUNTER_INT || (v >= INT32_MIN && v <= INT32_MAX);
}

/* ---- lifetime -------------------------------------------------------------- */

static void k_destroy(zkr__obj_t *o)
{
    zkr_counter_t *k = (zkr_counter_t *)o;
    zkr__client_unref(k->c);
    free(k->path);
    free(k);
}

/* Caller holds k->obj.mu; returns with it released, after running the
 * callbacks of finished adds. */
static void k_fire(zkr_counter_t *k)
{
    struct addreq *done = k->done;
    k->done = NULL;
    pthread_mutex_unlock(&k->obj.mu);
    /* finished in order; the list was built newest first */
    {
        struct addreq *rev = NULL;
        while (done) {
            struct addreq *n = done->next;
            done->next = rev;
            rev = done;
            done = n;
        }
        done = rev;
    }
    while (done) {
        struct addreq *n = done->next;
        done->cb(k, done->status, done->value, done->ctx);
        free(done);
        done = n;
    }
}

/* Caller holds k->obj.mu: a context for the next step (older replies
 * become stale). */
static zkr__ctx_t *kctx(zkr_counter_t *k)
{
    return zkr__ctx_new(&k->obj, 0, ++k->token, NULL);
}

/* ---- the add loop ---------------------------------------------------------- */

static void step_read(zkr_counter_t *k);

/* Caller holds k->obj.mu: the head add is over. */
static void finish(zkr_counter_t *k, int status, int64_t value)
{
    struct addreq *r = k->head;
    k->head = r->next;
    if (!k->head)
        k->tail = NULL;
    r->status = status;
    r->value = status == ZKR_OK ? value : 0;
    r->next = k->done;
    k->done = r;
    k->token++;
    if (k->head && !k->freed) {
        k->retries = k->read_retries = k->ensure_tries = 0;
        step_read(k);
    }
}

/* A write whose reply did not come: it may have been applied. */
static int write_failure(int rc)
{
    if (rc == ZKR_ESESSIONEXPIRED || rc == ZKR_ECANCELED)
        return ZKR_ECONNLOSS;
    return rc;
}

static void conflict(zkr_counter_t *k)
{
    k->conflicts++;
    if (k->max_retries >= 0 && ++k->retries > k->max_retries)
        finish(k, ZKR_EBADVERSION, 0);
    else
        step_read(k);
}

static void ensure_cb(void *ctx, int rc)
{
    zkr__ctx_t *x = ctx;
    zkr_counter_t *k = K(x);
    pthread_mutex_lock(&k->obj.mu);
    if (x->token == k->token && k->head) {
        if (rc == ZKR_OK)
            step_read(k);
        else
            finish(k, rc == ZKR_ECANCELED ? ZKR_ECANCELED : rc, 0);
    }
    k_fire(k);
    zkr__ctx_done(x);
}

static void write_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_counter_t *k = K(x);
    pthread_mutex_lock(&k->obj.mu);
    if (x->token != k->token || !k->head)
        goto out;
    if (rc == ZKR_OK) {
        finish(k, ZKR_OK, k->newval);
    } else if (rc == ZKR_EBADVERSION || rc == ZKR_ENODEEXISTS) {
        conflict(k); /* somebody else wrote first */
    } else if (rc == ZKR_ENONODE && k->ensure_tries++ < 5) {
        /* set: deleted meanwhile; create: a parent is missing */
        char *parent = zkr__path_parent(k->path);
        zkr__ctx_t *e = kctx(k);
        int erc = parent && e ? zkr__aensure_acl(k->c, parent,
                                                 ZKR_PERSISTENT, k->acl,
                                                 ensure_cb, e)
                              : ZKR_ENOMEM;
        free(parent);
        if (erc != ZKR_OK) {
            zkr__ctx_drop(e);
            finish(k, erc == ZKR_ECLOSED ? ZKR_ECANCELED : erc, 0);
        }
    } else {
        finish(k, k->freed ? ZKR_ECANCELED : write_failure(rc), 0);
    }
out:
    k_fire(k);
    zkr__ctx_done(x);
}

static void read_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *x = op->ctx;
    zkr_counter_t *k = K(x);
    pthread_mutex_lock(&k->obj.mu);
    if (x->token != k->token || !k->head)
        goto out;
    if (rc == ZKR_OK || rc == ZKR_ENONODE) {
        unsigned char buf[8];
        int64_t cur = k->initial;
        int drc = rc == ZKR_OK ? decode(k, op->value, (size_t)op->value_len,
                                        &cur)
                               : ZKR_OK;
        zkr__ctx_t *w;
        int wrc;
        if (drc != ZKR_OK) {
            finish(k, drc, 0);
            goto out;
        }
        k->newval = wrap_add(k, cur, k->head->delta);
        encode(k, k->newval, buf);
        w = kctx(k);
        if (!w)
            wrc = ZKR_ENOMEM;
        else if (rc == ZKR_OK)
            wrc = zkr__aset(k->c, k->path, buf, enc_size(k),
                            op->stat->version, write_cb, w);
        else
            wrc = zkr__acreate_acl(k->c, k->path, buf, enc_size(k),
                                   ZKR_PERSISTENT, k->acl, write_cb, w);
        if (wrc != ZKR_OK) {
            zkr__ctx_drop(w);
            finish(k, wrc == ZKR_ECLOSED ? ZKR_ECANCELED : wrc, 0);
        }
    } else if (rc == ZKR_ECONNLOSS && k->read_retries++ < 5) {
        step_read(k); /* reads are safe to repeat */
    } else {
        finish(k, k->freed ? ZKR_ECANCELED : rc, 0);
    }
out:
    k_fire(k);
    zkr__ctx_done(x);
}

/* Caller holds k->obj.mu. */
static void step_read(zkr_counter_t *k)
{
    zkr__ctx_t *x = kctx(k);
    int rc = x ? zkr__aget(k->c, k->path, NULL, NULL, read_cb, x)
               : ZKR_ENOMEM;
    if (rc != ZKR_OK) {
        zkr__ctx_drop(x);
        finish(k, rc == ZKR_ECLOSED ? ZKR_ECANCELED : rc, 0);
    }
}

/* ---- public API ------------------------------------------------------------ */

void zkr_counter_opts_init(zkr_counter_opts_t *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->encoding = ZKR_COUNTER_LONG;
    o->max_retries = -1;
}

int zkr_counter_new(zkr_client_t *c, const char *path,
                    const zkr_counter_opts_t *opts, zkr_counter_t **out)
{
    zkr_counter_opts_t defaults;
    zkr_counter_t *k;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!opts) {
        zkr_counter_opts_init(&defaults);
        opts = &defaults;
    }
    if (!c || (opts->encoding != ZKR_COUNTER_LONG &&
               opts->encoding != ZKR_COUNTER_INT) ||
        opts->max_retries < -1)
        return ZKR_EINVAL;
    if (opts->encoding == ZKR_COUNTER_INT &&
        (opts->initial < INT32_MIN || opts->initial > INT32_MAX))
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
    k = calloc(1, sizeof *k);
    if (!k || !(k->path = strdup(path))) {
        free(k);
        return ZKR_ENOMEM;
    }
    if (zkr__obj_init(&k->obj, k_destroy) != ZKR_OK) {
        free(k->path);
        free(k);
        return ZKR_ENOMEM;
    }
    k->c = c;
    zkr__client_ref(c);
    k->enc = opts->encoding;
    k->initial = opts->initial;
    k->max_retries = opts->max_retries;
    k->acl = acl;
    *out = k;
    return ZKR_OK;
}

int zkr_counter_add_async(zkr_counter_t *k, int64_t delta, zkr_counter_cb cb,
                          void *ctx)
{
    struct addreq *r;
    if (!k || !cb)
        return ZKR_EINVAL;
    if (!in_range(k, delta))
        return ZKR_EINVAL;
    r = calloc(1, sizeof *r);
    if (!r)
        return ZKR_ENOMEM;
    r->delta = delta;
    r->cb = cb;
    r->ctx = ctx;
    pthread_mutex_lock(&k->obj.mu);
    if (k->freed || zkr__client_closed(k->c)) {
        pthread_mutex_unlock(&k->obj.mu);
        free(r);
        return ZKR_ECLOSED;
    }
    if (k->tail)
        k->tail->next = r;
    else
        k->head = r;
    k->tail = r;
    if (k->head == r) {
        k->retries = k->read_retries = k->ensure_tries = 0;
        step_read(k);
    }
    k_fire(k);
    return ZKR_OK;
}

struct blocking {
    zkr__waiter_t w;
    int64_t value;
};

static void blocking_cb(zkr_counter_t *k, int status, int64_t value,
                        void *ctx)
{
    struct blocking *b = ctx;
    (void)k;
    b->value = value;
    zkr__waiter_signal(&b->w, status);
}

int zkr_counter_add(zkr_counter_t *k, int64_t delta, int64_t *result)
{
    struct blocking b;
    int rc;
    if (result)
        *result = 0;
    if (!k)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    zkr__waiter_init(&b.w);
    b.value = 0;
    rc = zkr_counter_add_async(k, delta, blocking_cb, &b);
    if (rc == ZKR_OK)
        rc = zkr__waiter_wait(&b.w, -1);
    zkr__waiter_destroy(&b.w);
    if (rc == ZKR_OK && result)
        *result = b.value;
    return rc;
}

int zkr_counter_get(zkr_counter_t *k, int64_t *value, int32_t *version)
{
    char *data = NULL;
    size_t len = 0;
    zkr_stat_t st;
    int rc;
    if (value)
        *value = 0;
    if (version)
        *version = -1;
    if (!k || !value)
        return ZKR_EINVAL;
    rc = zkr_get(k->c, k->path, &data, &len, &st);
    if (rc == ZKR_ENONODE) {
        *value = k->initial;
        return ZKR_OK;
    }
    if (rc != ZKR_OK)
        return rc;
    rc = decode(k, data, len, value);
    zkr_free(data);
    if (rc == ZKR_OK && version)
        *version = st.version;
    return rc;
}

/* Create the node with @p value, and its parents when missing. */
static int create_value(zkr_counter_t *k, int64_t value, int32_t *version)
{
    unsigned char buf[8];
    int rc;
    encode(k, value, buf);
    rc = zkr__create_acl(k->c, k->path, buf, enc_size(k), ZKR_PERSISTENT,
                         k->acl, NULL);
    if (rc == ZKR_ENONODE) {
        char *parent = zkr__path_parent(k->path);
        rc = parent ? zkr__ensure_path_acl(k->c, parent, k->acl) : ZKR_ENOMEM;
        free(parent);
        if (rc == ZKR_OK)
            rc = zkr__create_acl(k->c, k->path, buf, enc_size(k),
                                 ZKR_PERSISTENT, k->acl, NULL);
    }
    if (rc == ZKR_OK && version)
        *version = 0;
    return rc;
}

int zkr_counter_cas(zkr_counter_t *k, int32_t version, int64_t value,
                    int32_t *new_version)
{
    unsigned char buf[8];
    zkr_stat_t st;
    int rc;
    if (!k || version < -1 || !in_range(k, value))
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    if (version == -1)
        return create_value(k, value, new_version);
    encode(k, value, buf);
    rc = zkr_set(k->c, k->path, buf, enc_size(k), version, &st);
    if (rc == ZKR_OK && new_version)
        *new_version = st.version;
    return rc;
}

int zkr_counter_set(zkr_counter_t *k, int64_t value)
{
    unsigned char buf[8];
    int rc = ZKR_EBUSY;
    if (!k || !in_range(k, value))
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    encode(k, value, buf);
    /* set, or create; a racing create or delete sends us round again */
    for (int i = 0; i < 10; i++) {
        rc = zkr_set(k->c, k->path, buf, enc_size(k), -1, NULL);
        if (rc != ZKR_ENONODE)
            return rc;
        rc = create_value(k, value, NULL);
        if (rc != ZKR_ENODEEXISTS)
            return rc;
    }
    return rc;
}

int zkr_counter_compare_and_set(zkr_counter_t *k, int64_t expected,
                                int64_t value)
{
    if (!k || !in_range(k, value))
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    for (;;) {
        int64_t cur;
        int32_t ver;
        int rc = zkr_counter_get(k, &cur, &ver);
        if (rc != ZKR_OK)
            return rc;
        if (cur != expected)
            return ZKR_EBADVERSION;
        rc = zkr_counter_cas(k, ver, value, NULL);
        /* lost a race: still worth it only if the value is unchanged */
        if (rc != ZKR_EBADVERSION && rc != ZKR_ENODEEXISTS &&
            !(rc == ZKR_ENONODE && ver >= 0))
            return rc;
    }
}

unsigned zkr_counter_conflicts(zkr_counter_t *k)
{
    unsigned n;
    if (!k)
        return 0;
    pthread_mutex_lock(&k->obj.mu);
    n = k->conflicts;
    pthread_mutex_unlock(&k->obj.mu);
    return n;
}

void zkr_counter_free(zkr_counter_t *k)
{
    if (!k)
        return;
    pthread_mutex_lock(&k->obj.mu);
    k->freed = 1;
    k->token++; /* replies still to come are ignored */
    while (k->head)
        finish(k, ZKR_ECANCELED, 0);
    k_fire(k);
    zkr__obj_unref(&k->obj);
}
