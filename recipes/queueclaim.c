/* SPDX-License-Identifier: Apache-2.0 */
/* Queue consumers, part 2: reading ahead and claiming. (Overview in
 * queuelist.c.) */
#define ZKR_BUILDING 1
#include "queueint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries read ahead beyond the demand of pending takes. */
#define RA_EXTRA 8
#define RA_MAX 1024

/* ---- reading ahead ------------------------------------------------------ */

static void read_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    pthread_mutex_lock(&q->mu);
    q->reading--;
    if (x->epoch == q->cgen && x->idx < q->nents &&
        q->ents[x->idx].st == E_READING) {
        qent_t *e = &q->ents[x->idx];
        if (rc == ZKR_OK) {
            size_t len = op->value ? (size_t)op->value_len : 0;
            e->data = malloc(len + 1);
            if (e->data) {
                if (len)
                    memcpy(e->data, op->value, len);
                e->data[len] = '\0';
                e->len = len;
                e->st = E_READ;
            } else {
                e->st = E_NEW;
            }
        } else if (zkr__q_gone_code(rc)) {
            e->st = E_NEW; /* read again once connected */
        } else {
            e->st = E_GONE; /* taken by another (ENONODE), or unreadable */
            if (rc != ZKR_ENONODE)
                zkr__q_fail_reqs(q, -1, rc);
        }
    }
    zkr__q_pump(q);
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

static int send_read(zkr_queue_t *q, int i)
{
    qctx_t *x = zkr__q_ctx_new(q);
    char *p = NULL;
    int rc = ZKR_ENOMEM;
    if (x && zkr_path_join(q->cpath, q->ents[i].name, &p) == ZKR_OK) {
        x->epoch = q->cgen;
        x->idx = i;
        rc = zkr__aget(q->c, p, NULL, NULL, read_cb, x);
    }
    free(p);
    if (rc != ZKR_OK) {
        if (x)
            zkr__q_ctx_free_locked(x);
        return rc;
    }
    q->ents[i].st = E_READING;
    q->reading++;
    return ZKR_OK;
}

/* ---- claims ------------------------------------------------------------- *
 * A claim is a delete of the item (plain takes) or a multi of a check that
 * the item exists and the create of its ephemeral lease. Several claims go
 * in one multi: the batch grows while claims succeed (up to BATCH_MAX) and
 * drops to one when a claim finds its item gone, as then other consumers
 * are taking from the same part of the listing. A failed multi changes
 * nothing; it names the op that failed: that item is lost (or, for a
 * missing lease directory, waits for it), and the others are sent again.
 * After a lost race the next claim starts at a random entry of the cache,
 * so that consumers spread over the listing instead of all chasing its
 * head; a consumer that never loses a race takes the cache in order.
 * Claims sent before a jump that come back lost do not cause another. */

#define BATCH_MAX 64

static void reclaim_push(zkr_queue_t *q, qitem_t *it)
{
    it->next = NULL;
    if (q->reclaim_tail)
        q->reclaim_tail->next = it;
    else
        q->reclaim = it;
    q->reclaim_tail = it;
}

static void lease_dir_cb(void *ctx, int rc)
{
    qctx_t *x = ctx;
    zkr_queue_t *q = x->q;
    pthread_mutex_lock(&q->mu);
    q->leases_ensuring = 0;
    if (rc != ZKR_OK && !zkr__q_gone_code(rc)) {
        qitem_t **pp = &q->reclaim;
        q->reclaim_tail = NULL;
        while (*pp) {
            qitem_t *it = *pp;
            if (it->kind == QK_LEASE) {
                *pp = it->next;
                q->claiming[QK_LEASE]--;
                zkr__q_item_free(it);
            } else {
                q->reclaim_tail = it;
                pp = &it->next;
            }
        }
        zkr__q_fail_reqs(q, QK_LEASE, rc);
    }
    zkr__q_pump(q);
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

/* Caller holds q->mu: create <path>/leases, then send the lease claims. */
static void ensure_leases(zkr_queue_t *q)
{
    qctx_t *e;
    if (q->leases_ensuring || !(e = zkr__q_ctx_new(q)))
        return;
    if (zkr__aensure(q->c, q->leases, ZKR_PERSISTENT, lease_dir_cb, e) ==
        ZKR_OK)
        q->leases_ensuring = 1;
    else
        zkr__q_ctx_free_locked(e);
}

static void claim_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    int n, kind, per, fail_at = -1, fail_op = 0, fail_rc = rc;
    pthread_mutex_lock(&q->mu);
    n = x->nits;
    kind = x->its[0]->kind;
    per = kind == QK_LEASE ? 2 : 1;
    if (rc == ZKR_OK) {
        for (int i = 0; i < n; i++) {
            x->its[i]->gen = op->gen;
            q->claiming[kind]--;
            zkr__q_ready_push(q, x->its[i]);
            x->its[i] = NULL;
        }
        if (n >= q->batch && q->batch < BATCH_MAX)
            q->batch *= 2;
    } else if (zkr__q_gone_code(rc) && !zkr__client_closed(q->c)) {
        /* Outcome unknown: check each once connected. */
        for (int i = 0; i < n; i++) {
            q->claiming[kind]--;
            x->its[i]->next = q->doubt;
            q->doubt = x->its[i];
            x->its[i] = NULL;
        }
    } else {
        if (!op->mres) {
            fail_at = 0;
        } else {
            for (int i = 0; i < op->nmulti && fail_at < 0; i++) {
                int e = op->mres[i].err;
                if (e != ZOK && e != ZRUNTIMEINCONSISTENCY) {
                    fail_at = i / per;
                    fail_op = i % per;
                    fail_rc = zkr__map_zk(e);
                }
            }
        }
        for (int i = 0; i < n; i++) {
            qitem_t *it = x->its[i];
            int lost = fail_rc == ZKR_ENONODE || fail_rc == ZKR_ENODEEXISTS;
            x->its[i] = NULL;
            if (i == fail_at && kind == QK_LEASE && fail_op == 1 &&
                fail_rc == ZKR_ENONODE && !q->freed) {
                reclaim_push(q, it); /* no lease directory yet */
                ensure_leases(q);
                continue;
            }
            if (i != fail_at && fail_at >= 0 && !q->freed) {
                reclaim_push(q, it); /* undecided: send again */
                continue;
            }
            q->claiming[kind]--;
            zkr__q_item_free(it);
            if (i != fail_at)
                continue;
            if (lost) {
                /* another consumer has it: spread out (once for all the
                 * claims sent since the last jump) */
                if (x->tok == q->jumps) {
                    q->batch = 1;
                    q->contended = 1;
                }
            } else if (fail_rc != ZKR_ECANCELED && !q->freed) {
                zkr__q_fail_reqs(q, -1, fail_rc);
            }
        }
    }
    zkr__q_pump(q);
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

/* Caller holds q->mu. On success the claim owns its[0..n-1] (and the
 * array); the caller counts them in q->claiming. */
static int send_claims(zkr_queue_t *q, qitem_t **its, int n)
{
    qctx_t *x = zkr__q_ctx_new(q);
    int rc, kind = its[0]->kind;
    if (!x)
        return ZKR_ENOMEM;
    /* set before the op starts; claim_cb reads them under q->mu */
    x->its = its;
    x->nits = n;
    x->tok = q->jumps;
    if (n == 1 && kind == QK_PLAIN) {
        rc = zkr__adelete(q->c, its[0]->item_path, -1, claim_cb, x);
    } else {
        zkr__multi_t *m = zkr__multi_new(q->c, kind == QK_LEASE ? 2 * n : n);
        rc = m ? ZKR_OK : ZKR_ENOMEM;
        for (int i = 0; rc == ZKR_OK && i < n; i++) {
            if (kind == QK_PLAIN) {
                rc = zkr__multi_delete(m, its[i]->item_path, -1);
                continue;
            }
            rc = zkr__multi_check(m, its[i]->item_path, -1);
            if (rc == ZKR_OK)
                rc = zkr__multi_create(m, its[i]->lease_path, NULL, 0,
                                       ZKR_EPHEMERAL);
        }
        if (rc == ZKR_OK)
            rc = zkr__amulti(m, claim_cb, x); /* consumes m */
        else
            zkr__multi_free(m);
    }
    if (rc != ZKR_OK) {
        x->its = NULL; /* the caller keeps them */
        x->nits = 0;
        zkr__q_ctx_free_locked(x);
        return rc;
    }
    return ZKR_OK;
}

/* Caller holds q->mu: an item for cache entry e (its data move over). */
static qitem_t *make_item(zkr_queue_t *q, qent_t *e, int kind)
{
    const char *sn = q->cname, *sp = q->cpath;
    qitem_t *it = calloc(1, kind == QK_LEASE ? sizeof(zkr_queue_lease_t)
                                             : sizeof(qitem_t));
    size_t nl = strlen(sn) + strlen(e->name) + 2;
    int rc;
    if (!it)
        return NULL;
    it->kind = kind;
    it->name = malloc(nl);
    if (it->name)
        snprintf(it->name, nl, "%s%s%s", sn, *sn ? "/" : "", e->name);
    rc = it->name ? zkr_path_join(sp, e->name, &it->item_path) : ZKR_ENOMEM;
    if (rc == ZKR_OK && kind == QK_LEASE) {
        char *ln = malloc(nl);
        if (ln) {
            snprintf(ln, nl, "%s%s%s", sn, *sn ? "-" : "", e->name);
            rc = zkr_path_join(q->leases, ln, &it->lease_path);
            free(ln);
        } else {
            rc = ZKR_ENOMEM;
        }
    }
    if (rc != ZKR_OK) {
        zkr__q_item_free(it);
        return NULL;
    }
    it->data = e->data;
    it->len = e->len;
    e->data = NULL;
    return it;
}

/* Caller holds q->mu: send again what failed batches left undecided. */
static void send_reclaims(zkr_queue_t *q)
{
    while (q->reclaim) {
        int kind = q->reclaim->kind, n = 0;
        qitem_t **its, *it;
        if (kind == QK_LEASE && q->leases_ensuring)
            return;
        its = calloc((size_t)q->batch, sizeof *its);
        if (!its)
            return;
        for (it = q->reclaim; it && n < q->batch && it->kind == kind;
             it = it->next)
            its[n++] = it;
        if (send_claims(q, its, n) != ZKR_OK) {
            free(its);
            return;
        }
        q->reclaim = it;
        if (!it)
            q->reclaim_tail = NULL;
        for (int i = 0; i < n; i++)
            its[i]->next = NULL;
    }
}

static int live(int st) { return st == E_NEW || st == E_READING || st == E_READ; }

/* Caller holds q->mu: claim up to max consecutive entries from the
 * cursor; returns how many were sent. */
static int claim_from_cache(zkr_queue_t *q, int kind, int max)
{
    qitem_t **its = calloc((size_t)max, sizeof *its);
    int *idx = calloc((size_t)max, sizeof *idx);
    int n = 0, wrapped = 0;
    if (!its || !idx) {
        free(its);
        free(idx);
        return 0;
    }
    while (n < max) {
        qent_t *e;
        if (q->cursor >= q->nents) {
            if (wrapped || n > 0)
                break; /* one batch never wraps: it stays in order */
            q->cursor = q->head;
            wrapped = 1;
            continue;
        }
        e = &q->ents[q->cursor];
        if (!live(e->st)) {
            q->cursor++;
            continue;
        }
        if (e->st != E_READ)
            break; /* wait for its data: claims stay in order */
        if (!(its[n] = make_item(q, e, kind)))
            break;
        e->st = E_TAKEN;
        idx[n++] = q->cursor++;
    }
    if (n > 0 && send_claims(q, its, n) != ZKR_OK) {
        for (int i = 0; i < n; i++) { /* put the entries back */
            qent_t *e = &q->ents[idx[i]];
            e->data = its[i]->data;
            its[i]->data = NULL;
            e->st = E_READ;
            zkr__q_item_free(its[i]);
        }
        q->cursor = idx[0];
        n = 0;
    }
    if (n == 0)
        free(its);
    free(idx);
    return n;
}

static void doubt_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    qitem_t *it, **pp;
    pthread_mutex_lock(&q->mu);
    it = x->it;
    x->it = NULL; /* it belongs to the doubt list */
    it->checking = 0;
    q->checking--;
    if (rc == ZKR_OK || rc == ZKR_ENONODE) {
        for (pp = &q->doubt; *pp; pp = &(*pp)->next)
            if (*pp == it) {
                *pp = it->next;
                break;
            }
        if (it->kind == QK_PLAIN ? rc == ZKR_ENONODE
                                 : rc == ZKR_OK && op->stat &&
                                       op->stat->ephemeralOwner ==
                                           zkr_client_session_id(q->c)) {
            it->gen = op->gen;
            zkr__q_ready_push(q, it);
        } else {
            zkr__q_item_free(it); /* still queued, or the lease is gone */
        }
    }
    zkr__q_pump(q);
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

/* Caller holds q->mu. */
void zkr__q_resolve(zkr_queue_t *q)
{
    for (qitem_t *it = q->doubt; it; it = it->next) {
        qctx_t *x;
        if (it->checking)
            continue;
        x = zkr__q_ctx_new(q);
        if (!x)
            return;
        x->it = it;
        if (zkr__aexists(q->c,
                         it->kind == QK_PLAIN ? it->item_path : it->lease_path,
                         NULL, NULL, doubt_cb, x) != ZKR_OK) {
            x->it = NULL;
            zkr__q_ctx_free_locked(x);
            return;
        }
        it->checking = 1;
        q->checking++;
    }
}

static int pick_kind(zkr_queue_t *q, const int d[2])
{
    for (qreq_t *r = q->reqs; r; r = r->next)
        if (d[r->kind] > 0)
            return r->kind;
    return d[q->last_kind] > 0 ? q->last_kind : !q->last_kind;
}

/* Caller holds q->mu: advance as far as possible. */
void zkr__q_pump(zkr_queue_t *q)
{
    int d[2], want, have = 0, any = 0;
    if (q->closed)
        return;
    zkr__q_deliver(q);
    if (q->freed || !zkr__q_connected(q))
        return;
    if (q->doubt)
        zkr__q_resolve(q);
    send_reclaims(q);
    while (q->head < q->nents && !live(q->ents[q->head].st)) {
        free(q->ents[q->head].data);
        q->ents[q->head].data = NULL;
        q->head++;
    }
    if (q->cursor < q->head)
        q->cursor = q->head;
    if (q->contended && q->head < q->nents) {
        q->cursor = q->head + (int)(zkr__q_rand() %
                                    (unsigned)(q->nents - q->head));
        q->contended = 0;
        q->jumps++;
    }
    zkr__q_demand(q, d);
    while (d[0] > 0 || d[1] > 0) {
        int k = pick_kind(q, d);
        int sent = claim_from_cache(q, k, d[k] < q->batch ? d[k] : q->batch);
        if (sent == 0)
            break;
        q->claiming[k] += sent;
        d[k] -= sent;
    }
    /* read ahead from the cursor; from the head only once nothing is left
     * after the cursor (claims wrap around there) */
    want = RA_EXTRA + q->nreq[0] + q->nreq[1] + q->prefetch;
    if (want > RA_MAX)
        want = RA_MAX;
    for (int pass = 0; pass < 2 && !(pass == 1 && any); pass++) {
        int from = pass ? q->head : q->cursor;
        int to = pass ? q->cursor : q->nents;
        for (int i = from; i < to; i++) {
            int st = q->ents[i].st;
            if (!live(st))
                continue;
            any = 1;
            if (!q->active || have >= want)
                break;
            if (st == E_NEW && send_read(q, i) != ZKR_OK)
                break;
            have++;
        }
    }
    if ((d[0] > 0 || d[1] > 0) && !any)
        zkr__q_refresh(q);
}
