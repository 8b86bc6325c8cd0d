/* SPDX-License-Identifier: Apache-2.0 */
/* Queue consumers, part 1: listings and waiting.
 *
 * A consumer keeps the sorted listing of one shard (the queue itself when
 * it is not sharded) as its cache; queueclaim.c reads entries ahead and
 * claims them. Only when the cache is used up is a shard listed again
 * (sharded: the next shard). When every shard was found empty, watches are
 * set, one per shard (and on the queue and lease directories), listing each
 * shard once more with the watch so that nothing slips between the last
 * look and the watch; the first change wakes the consumer. Listings of one
 * session are answered in order after the claims sent before them, so a
 * new listing never shows an item this handle has already deleted. */
#define ZKR_BUILDING 1
#include "queueint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A listing of a shard; shared by the shard's listing and the lease
 * listing that follows it, which finishes the job. */
struct qlist {
    char **names;
    int32_t *seqs;
    int n;
    int rc;
    int filled; /* the shard listing's reply is in */
    int refs;
};

void zkr__q_ents_free(zkr_queue_t *q)
{
    for (int i = 0; i < q->nents; i++) {
        free(q->ents[i].name);
        free(q->ents[i].data);
    }
    free(q->ents);
    q->ents = NULL;
    q->nents = q->head = 0;
}

void zkr__q_shards_free(qshard_t *s, int n)
{
    for (int i = 0; i < n; i++) {
        free(s[i].name);
        free(s[i].path);
    }
    free(s);
}

void zkr__q_qlist_unref(qlist_t *l)
{
    if (!l || --l->refs > 0)
        return;
    zkr_strings_free(l->names, l->n);
    free(l->seqs);
    free(l);
}

/* Caller holds q->obj.mu: stop waiting and look again. */
void zkr__q_wake(zkr_queue_t *q, int shard)
{
    if (!q->idle)
        return;
    q->idle = 0;
    q->epoch++;
    q->empties = 0;
    if (shard >= 0 && shard < q->nsh) {
        q->cur = shard;
        q->adv = 0;
    }
}

static int shard_by_name(zkr_queue_t *q, const char *name)
{
    for (int i = 0; i < q->nsh; i++)
        if (strcmp(q->shards[i].name, name) == 0)
            return i;
    return -1;
}

static int cmp_seq(const void *a, const void *b)
{
    const qent_t *x = a, *y = b;
    return zkr__seq_cmp(x->seq, y->seq);
}

/* Caller holds q->obj.mu: make a non-empty listing of shard name the cache. */
static void adopt(zkr_queue_t *q, const char *name, qlist_t *l)
{
    int shard = shard_by_name(q, name);
    qent_t *e;
    char *cname, *cpath;
    int n = 0;
    if (shard < 0)
        return; /* the shard vanished meanwhile */
    e = calloc((size_t)l->n, sizeof *e);
    cname = strdup(name);
    cpath = strdup(q->shards[shard].path);
    if (!e || !cname || !cpath) {
        free(e);
        free(cname);
        free(cpath);
        return;
    }
    for (int i = 0; i < l->n; i++) {
        if (!l->names[i])
            continue;
        e[n].name = l->names[i];
        e[n].seq = l->seqs[i];
        e[n].st = E_NEW;
        l->names[i] = NULL;
        n++;
    }
    qsort(e, (size_t)n, sizeof *e, cmp_seq);
    zkr__q_ents_free(q);
    free(q->cname);
    free(q->cpath);
    q->cname = cname;
    q->cpath = cpath;
    q->ents = e;
    q->nents = n;
    q->head = 0;
    q->cursor = 0;
    q->cgen++;
    q->epoch++;
    q->empties = 0;
    q->idle = 0;
    q->cur = shard;
    q->adv = q->nshards_put > 0 || q->nsh > 1;
}

static void arm(zkr_queue_t *q);

/* Caller holds q->obj.mu: every shard was found empty. */
static void enter_idle(zkr_queue_t *q)
{
    int again = 0, d[2];
    for (qreq_t *r = q->reqs, *next; r; r = next) {
        next = r->next;
        if (!r->poll)
            continue;
        if (q->cycle_from > r->mark) {
            zkr__q_unlink_req(q, r);
            zkr__q_fire(q, r, ZKR_ETIMEDOUT, NULL);
        } else {
            again = 1; /* made during this look: look once more */
        }
    }
    q->empties = 0;
    if (again) {
        if (q->nshards_put > 0)
            q->discovered = 0;
        return;
    }
    zkr__q_demand(q, d);
    if ((d[0] > 0 || d[1] > 0) && !q->idle) {
        q->idle = 1;
        q->epoch++;
        arm(q);
    }
}

/* ---- listings ------------------------------------------------------------ */

/* Listings leave leased items out: for lease takes, and for plain takes
 * once one of their claims met a lease (it would fail again; without the
 * filter a queue of leased items would be listed and claimed in a loop). */
int zkr__q_lease_mode(zkr_queue_t *q)
{
    return q->nreq[QK_LEASE] > 0 || q->nready[QK_LEASE] > 0 ||
           q->last_kind == QK_LEASE || q->mixed;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is item of shard leased? Lease names ("qn-X", or "s-NNNN-qn-X" in
 * sharded mode) are sorted. Claim markers of plain takes have the same
 * names; a marker exists only once its item is gone (the multi that made
 * it deleted the item), so leaving out an item that matches one is right
 * too: the item in the listing is stale. */
static int leased_in(const qlist_t *leases, const char *shard,
                     const char *item)
{
    char key[256];
    const char *k = key;
    if (*shard)
        snprintf(key, sizeof key, "%s-%s", shard, item);
    else
        k = item;
    return bsearch(&k, leases->names, (size_t)leases->n, sizeof *leases->names,
                   cmp_str) != NULL;
}

static void list_done(zkr_queue_t *q, qctx_t *x, qlist_t *l)
{
    if (x->counted)
        q->listing--;
    if (x->epoch != q->epoch || q->freed)
        return;
    if (l->rc != ZKR_OK && l->rc != ZKR_ENONODE) {
        if (!zkr__q_gone_code(l->rc))
            zkr__q_fail_reqs(q, -1, l->rc);
        return;
    }
    if (l->rc == ZKR_OK) {
        int32_t min = 0;
        for (int i = 0; i < l->n; i++)
            if (i == 0 || zkr__seq_cmp(l->seqs[i], min) < 0)
                min = l->seqs[i];
        zkr__q_sweep(q, x->name, l->n > 0, min);
    }
    if (l->rc == ZKR_OK && l->n > 0) {
        adopt(q, x->name, l);
        return;
    }
    if (x->idle)
        return; /* the watch is set */
    if (q->empties++ == 0)
        q->cycle_from = x->nlist;
    if (q->nsh > 0)
        q->cur = (q->cur + 1) % q->nsh;
    q->adv = 0;
    if (q->empties >= (q->nsh > 0 ? q->nsh : 1))
        enter_idle(q);
}

static void qlist_fill(qlist_t *l, const struct String_vector *sv,
                       int items_only)
{
    int n = 0;
    l->names = calloc((size_t)sv->count + 1, sizeof *l->names);
    l->seqs = calloc((size_t)sv->count + 1, sizeof *l->seqs);
    if (!l->names || !l->seqs) {
        l->rc = ZKR_ENOMEM;
        return;
    }
    for (int i = 0; i < sv->count; i++) {
        const char *s = sv->data[i];
        int32_t seq = 0;
        if (items_only &&
            (strncmp(s, "qn-", 3) != 0 || zkr__seq_of(s, &seq) != 0))
            continue;
        if (!(l->names[n] = strdup(s))) {
            l->rc = ZKR_ENOMEM;
            break;
        }
        l->seqs[n++] = seq;
    }
    l->n = n;
}

static void list_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    qlist_t *l = x->lst;
    pthread_mutex_lock(&q->obj.mu);
    /* paired and canceled out of order: the lease listing has finished */
    if (!(x->paired && l->filled)) {
        l->rc = rc;
        l->filled = 1;
        if (rc == ZKR_OK)
            qlist_fill(l, op->strings, 1);
        if (!x->paired) {
            list_done(q, x, l);
            zkr__q_pump(q);
        }
    }
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

static void leases_list_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    qlist_t *l = x->lst;
    pthread_mutex_lock(&q->obj.mu);
    if (!l->filled) { /* canceled before the shard listing's reply */
        l->filled = 1;
        l->rc = rc == ZKR_OK ? ZKR_ECANCELED : rc;
    }
    if (l->rc == ZKR_OK && rc == ZKR_OK) {
        qlist_t leases = {NULL, NULL, 0, ZKR_OK, 1, 1};
        const char *shard = x->name;
        qlist_fill(&leases, op->strings, 0);
        if (leases.rc != ZKR_OK)
            l->rc = leases.rc;
        else
            qsort(leases.names, (size_t)leases.n, sizeof *leases.names,
                  cmp_str);
        for (int i = 0; l->rc == ZKR_OK && i < l->n; i++)
            if (leased_in(&leases, shard, l->names[i])) {
                free(l->names[i]);
                l->names[i] = NULL;
            }
        if (l->rc == ZKR_OK) { /* compact */
            int n = 0;
            for (int i = 0; i < l->n; i++)
                if (l->names[i]) {
                    l->names[n] = l->names[i];
                    l->seqs[n++] = l->seqs[i];
                }
            l->n = n;
        }
        zkr_strings_free(leases.names, leases.n);
        free(leases.seqs);
    } else if (l->rc == ZKR_OK && rc != ZKR_ENONODE) {
        l->rc = rc;
    }
    list_done(q, x, l);
    zkr__q_pump(q);
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

static void shard_watch_cb(void *ctx, int type, const char *path)
{
    qctx_t *x = ctx;
    zkr_queue_t *q = x->q;
    int i;
    (void)path;
    pthread_mutex_lock(&q->obj.mu);
    i = x->name ? shard_by_name(q, x->name) : -1;
    if (i >= 0 && q->shards[i].wtok == x->tok)
        q->shards[i].armed = 0;
    if (type != ZKR__WATCH_CANCELED && q->idle) {
        zkr__q_wake(q, i);
        zkr__q_pump(q);
    }
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

static void leases_watch_cb(void *ctx, int type, const char *path)
{
    qctx_t *x = ctx;
    zkr_queue_t *q = x->q;
    (void)path;
    pthread_mutex_lock(&q->obj.mu);
    if (q->leases_tok == x->tok)
        q->leases_armed = 0;
    if (type != ZKR__WATCH_CANCELED && q->idle) {
        zkr__q_wake(q, -1);
        zkr__q_pump(q);
    }
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

static void exists_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    pthread_mutex_lock(&q->obj.mu);
    /* the node appeared between the listing and this check */
    if (rc == ZKR_OK && x->epoch == q->epoch && q->idle) {
        zkr__q_wake(q, -1);
        if (q->nshards_put > 0)
            q->discovered = 0;
        zkr__q_pump(q);
    }
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

static void dir_watch_cb(void *ctx, int type, const char *path);

/* Caller holds q->obj.mu: watch for the queue (or a shard) to be created. */
static void watch_creation(zkr_queue_t *q, int shard)
{
    qctx_t *x = zkr__q_ctx_new(q), *w = zkr__q_ctx_new(q);
    const char *path = shard >= 0 ? q->shards[shard].path : q->path;
    if (x && w && (shard < 0 || (w->name = strdup(q->shards[shard].name)))) {
        unsigned tok = shard >= 0 ? ++q->shards[shard].wtok : ++q->dir_tok;
        w->tok = tok;
        if (zkr__aexists(q->c, path, shard >= 0 ? shard_watch_cb : dir_watch_cb,
                         w, exists_cb, x) == ZKR_OK) {
            if (shard >= 0)
                q->shards[shard].armed = 1;
            else
                q->dir_armed = 1;
            return;
        }
    }
    if (x)
        zkr__q_ctx_free_locked(x);
    if (w)
        zkr__q_ctx_free_locked(w);
}

static void idle_list_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    int i;
    pthread_mutex_lock(&q->obj.mu);
    i = shard_by_name(q, x->name);
    if (rc == ZKR_ENONODE && x->epoch == q->epoch && q->idle && i >= 0)
        watch_creation(q, i);
    pthread_mutex_unlock(&q->obj.mu);
    list_cb(op, rc);
}

/* Caller holds q->obj.mu. List shard i; idle: also set a watch on it. */
static int send_listing(zkr_queue_t *q, int i, int idle)
{
    qshard_t *s = &q->shards[i];
    qctx_t *x = zkr__q_ctx_new(q), *w = NULL, *lx = NULL, *lw = NULL;
    int rc = ZKR_ENOMEM;
    int want_leases = zkr__q_lease_mode(q);
    if (!x || !(x->lst = calloc(1, sizeof *x->lst)) ||
        !(x->name = strdup(s->name)))
        goto fail;
    x->lst->refs = 1;
    x->idle = idle;
    x->nlist = ++q->nlist;
    if (idle) {
        if (!(w = zkr__q_ctx_new(q)) || !(w->name = strdup(s->name)))
            goto fail;
        w->tok = ++s->wtok;
    }
    if (want_leases) {
        if (!(lx = zkr__q_ctx_new(q)) || !(lx->name = strdup(s->name)))
            goto fail;
        lx->idle = idle;
        lx->nlist = x->nlist;
        lx->counted = !idle;
        if (idle && !q->leases_armed) {
            if (!(lw = zkr__q_ctx_new(q)))
                goto fail;
            lw->tok = ++q->leases_tok;
        }
    }
    x->counted = !idle && !want_leases;
    x->paired = want_leases;
    rc = zkr__achildren(q->c, s->path, idle ? shard_watch_cb : NULL, w,
                        idle ? idle_list_cb : list_cb, x);
    if (rc != ZKR_OK)
        goto fail;
    if (idle)
        s->armed = 1;
    if (!idle)
        q->listing++;
    if (lx) {
        lx->lst = x->lst;
        x->lst->refs++;
        if (zkr__achildren(q->c, q->leases, lw ? leases_watch_cb : NULL, lw,
                           leases_list_cb, lx) != ZKR_OK) {
            /* x's reply cannot have been handled: we hold q->obj.mu */
            x->paired = 0;
            x->counted = !idle;
            zkr__q_ctx_free_locked(lx);
            if (lw)
                zkr__q_ctx_free_locked(lw);
        } else if (lw) {
            q->leases_armed = 1;
        }
    }
    return ZKR_OK;
fail:
    if (x)
        zkr__q_ctx_free_locked(x);
    if (w)
        zkr__q_ctx_free_locked(w);
    if (lx)
        zkr__q_ctx_free_locked(lx);
    if (lw)
        zkr__q_ctx_free_locked(lw);
    return rc;
}

/* ---- shard discovery (sharded mode) --------------------------------------- */

static int is_shard_name(const char *s)
{
    if (strncmp(s, "s-", 2) != 0 || !s[2])
        return 0;
    for (s += 2; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* Caller holds q->obj.mu: the shards are now those in sv (sorted), keeping the
 * watch state of the ones already known. */
static int set_shards(zkr_queue_t *q, const struct String_vector *sv)
{
    qshard_t *s = calloc((size_t)sv->count + 1, sizeof *s);
    char **names = calloc((size_t)sv->count + 1, sizeof *names);
    char *cur = q->nsh ? q->shards[q->cur].name : NULL;
    int n = 0, cur_idx = -1;
    if (!s || !names) {
        free(s);
        free(names);
        return ZKR_ENOMEM;
    }
    for (int i = 0; i < sv->count; i++)
        if (is_shard_name(sv->data[i]))
            names[n++] = sv->data[i];
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        int old = shard_by_name(q, names[i]);
        s[i].name = strdup(names[i]);
        if (s[i].name)
            zkr_path_join(q->path, names[i], &s[i].path);
        if (!s[i].name || !s[i].path) {
            free(names);
            zkr__q_shards_free(s, i + 1);
            return ZKR_ENOMEM;
        }
        if (old >= 0) {
            s[i].armed = q->shards[old].armed;
            s[i].wtok = q->shards[old].wtok;
        }
        if (cur && strcmp(cur, names[i]) == 0)
            cur_idx = i;
    }
    free(names);
    zkr__q_shards_free(q->shards, q->nsh);
    q->shards = s;
    q->nsh = n;
    if (cur_idx >= 0)
        q->cur = cur_idx;
    else
        q->cur = n ? (int)(zkr__q_rand() % (unsigned)n) : 0;
    return ZKR_OK;
}

static void dir_watch_cb(void *ctx, int type, const char *path)
{
    qctx_t *x = ctx;
    zkr_queue_t *q = x->q;
    (void)path;
    pthread_mutex_lock(&q->obj.mu);
    if (q->dir_tok == x->tok)
        q->dir_armed = 0;
    if (type != ZKR__WATCH_CANCELED && q->idle) {
        q->discovered = 0;
        zkr__q_wake(q, -1);
        zkr__q_pump(q);
    }
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

static void discover_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    pthread_mutex_lock(&q->obj.mu);
    q->discovering = 0;
    if (x->epoch != q->epoch || q->freed)
        goto out;
    if (rc == ZKR_OK)
        rc = set_shards(q, op->strings);
    if (rc == ZKR_ENONODE) {
        struct String_vector none = {0, NULL};
        rc = set_shards(q, &none);
        if (x->idle && rc == ZKR_OK)
            watch_creation(q, -1);
    }
    if (rc != ZKR_OK) {
        if (!zkr__q_gone_code(rc))
            zkr__q_fail_reqs(q, -1, rc);
        goto out;
    }
    q->discovered = 1;
    if (x->idle) {
        arm(q); /* shards that appeared */
    } else if (q->nsh == 0) {
        q->cycle_from = x->nlist;
        enter_idle(q);
    }
    zkr__q_pump(q);
out:
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

/* Caller holds q->obj.mu. */
static void discover(zkr_queue_t *q, int idle)
{
    qctx_t *x = zkr__q_ctx_new(q), *w = NULL;
    if (!x || (idle && !(w = zkr__q_ctx_new(q))))
        goto fail;
    x->idle = idle;
    x->nlist = ++q->nlist;
    if (w)
        w->tok = ++q->dir_tok;
    if (zkr__achildren(q->c, q->path, w ? dir_watch_cb : NULL, w, discover_cb,
                       x) != ZKR_OK)
        goto fail;
    q->discovering = 1;
    if (w)
        q->dir_armed = 1;
    return;
fail:
    if (x)
        zkr__q_ctx_free_locked(x);
    if (w)
        zkr__q_ctx_free_locked(w);
}

/* Caller holds q->obj.mu: set the watches that end the wait. Listing with a
 * watch also tells whether something arrived meanwhile. */
static void arm(zkr_queue_t *q)
{
    if (q->nshards_put > 0 && !q->dir_armed && !q->discovering)
        discover(q, 1);
    for (int i = 0; i < q->nsh; i++)
        if (!q->shards[i].armed && send_listing(q, i, 1) != ZKR_OK)
            break;
}

/* Caller holds q->obj.mu: the cache is used up and takes want more. */
void zkr__q_refresh(zkr_queue_t *q)
{
    if (q->listing || q->discovering || q->idle)
        return;
    if ((q->nshards_put > 0 && !q->discovered) || q->nsh == 0) {
        discover(q, 0); /* no shard known (yet): look for some */
        return;
    }
    if (q->adv) {
        q->cur = (q->cur + 1) % q->nsh;
        q->adv = 0;
    }
    send_listing(q, q->cur, 0);
}
