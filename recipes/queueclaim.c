/* SPDX-License-Identifier: Apache-2.0 */
/* Queue consumers, part 2: reading ahead and claiming. (Overview in
 * queuelist.c.) */
#define ZKR_BUILDING 1
#include "queueint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Entries read ahead beyond the demand of pending takes. */
#define RA_EXTRA 8
#define RA_MAX 1024

/* ---- reading ahead ------------------------------------------------------ */

static void read_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    pthread_mutex_lock(&q->obj.mu);
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
 * A claim is a multi of two ops per item, both on the item's name: a plain
 * take deletes the item and creates a PERSISTENT claim marker at the
 * item's lease path (<path>/leases/qn-X) holding this handle's token
 * ("zkr-claim-<uuid>"); a lease take checks that the item exists and
 * creates its EPHEMERAL lease there. The marker makes a plain claim
 * identifiable: when the reply is lost, the marker tells whether the multi
 * was ours (it exists and holds our token) or not (it does not exist: the
 * multi failed as a whole, because another consumer had taken the item or
 * held a lease on it). A bare delete could not tell "I deleted it" from
 * "somebody else did". The marker is persistent so that the answer
 * survives the end of the session: with an ephemeral one, a claim applied
 * just before the session ended could not be told from another consumer's
 * and its item would be lost. Sharing the path with leases also keeps plain
 * takes off leased items (the create fails with NODEEXISTS). Once a claim
 * is known to be ours its markers are deleted at once, without waiting
 * (below).
 *
 * Several claims go in one multi: the batch grows while claims succeed (up
 * to BATCH_MAX) and drops to one when a claim finds its item gone, as then
 * other consumers are taking from the same part of the listing. A failed
 * multi changes nothing; it names the op that failed: that item is lost
 * (or, for a missing lease directory, waits for it), and the others are
 * sent again. After a lost race the next claim starts at a random entry of
 * the cache, so that consumers spread over the listing instead of all
 * chasing its head; a consumer that never loses a race takes the cache in
 * order. Claims sent before a jump that come back lost do not cause
 * another. */

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
    pthread_mutex_lock(&q->obj.mu);
    q->leases_ensuring = 0;
    if (rc != ZKR_OK && !zkr__q_gone_code(rc)) {
        /* no claim of either kind can work (ENOAUTH, ...): the waiting
         * claims were not applied, their items stay queued */
        while (q->reclaim) {
            qitem_t *it = q->reclaim;
            q->reclaim = it->next;
            q->claiming[it->kind]--;
            zkr__q_item_free(it);
        }
        q->reclaim_tail = NULL;
        zkr__q_fail_reqs(q, -1, rc);
    }
    zkr__q_pump(q);
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

/* Caller holds q->obj.mu: create <path>/leases, then send the claims again. */
static void ensure_leases(zkr_queue_t *q)
{
    qctx_t *e;
    if (q->leases_ensuring || !(e = zkr__q_ctx_new(q)))
        return;
    if (zkr__aensure_acl(q->c, q->leases, ZKR_PERSISTENT, q->acl,
                         lease_dir_cb, e) == ZKR_OK)
        q->leases_ensuring = 1;
    else
        zkr__q_ctx_free_locked(e);
}

/* ---- claim markers ------------------------------------------------------ *
 * The markers of claims known to be ours are deleted without waiting: in
 * front of the next claim's multi when one goes out right away (no extra
 * request), else in a multi of their own (up to MARKS_MAX). They are
 * PERSISTENT (a lost session must not take the answer to a claim in doubt
 * along), so a delete that did not go through is sent again, also on a
 * new session, and zkr_queue_free waits for them. A multi that finds one
 * already gone (its earlier delete was applied, the reply lost) fails: the
 * marker is dropped and the rest sent again. Nobody else creates a node at
 * a marker's path once its item is gone, so the deletes need no version. */

#define MARKS_MAX 64
#define MARK_TRIES 20

typedef struct {
    zkr_queue_t *q;
    qmark_t *list; /* the markers of this request */
    int n;
} qmarks_t;

static void mark_free(qmark_t *k)
{
    free(k->path);
    free(k);
}

/* A marker whose delete cannot go through: say so and forget it (a sweep
 * removes it once it is older than orphan_ms). */
static void mark_abandon(zkr_queue_t *q, qmark_t *k, int rc)
{
    zkr__log(q->c, ZKR_LOG_WARN,
             "zkr: queue %s: cannot delete claim marker %s: %s "
             "(it is removed as an orphan later)",
             q->path, k->path, zkr_strerror(rc));
    mark_free(k);
}

void zkr__q_marks_free(qmark_t *list)
{
    while (list) {
        qmark_t *next = list->next;
        mark_free(list);
        list = next;
    }
}

/* Caller holds q->obj.mu: detach up to max markers waiting in q->marks to go
 * in one multi (a marker flagged single goes alone, and never with a
 * claim); returns how many. */
static int marks_take(zkr_queue_t *q, int max, qmark_t **out)
{
    qmark_t **tail = out;
    int n = 0;
    *out = NULL;
    while (q->marks && n < max &&
           !(n > 0 && (q->marks->single || (*out)->single))) {
        qmark_t *k = q->marks;
        q->marks = k->next;
        k->next = NULL;
        *tail = k;
        tail = &k->next;
        n++;
    }
    if (!q->marks)
        q->marks_tail = NULL;
    return n;
}

/* Caller holds q->obj.mu: put list (n markers) back in front of q->marks. */
static void marks_unshift(zkr_queue_t *q, qmark_t *list)
{
    qmark_t *last = list;
    if (!list)
        return;
    while (last->next)
        last = last->next;
    last->next = q->marks;
    if (!q->marks)
        q->marks_tail = last;
    q->marks = list;
}

static void marks_cb(zkr__op_t *op, int rc)
{
    qmarks_t *m = op->ctx;
    zkr_queue_t *q = m->q;
    qmark_t *k, *next, *again = NULL, **tail = &again;
    pthread_mutex_lock(&q->obj.mu);
    q->bg--;
    for (k = m->list; k; k = next) {
        next = k->next;
        k->next = NULL;
        if (rc == ZKR_OK || (rc == ZKR_ENONODE && m->n == 1)) {
            mark_free(k);
            continue;
        }
        if (rc == ZKR_ENONODE) { /* one of them is gone: one by one */
            k->single = 1;
        } else if (!zkr__q_gone_code(rc) || zkr__client_closed(q->c) ||
                   ++k->tries >= MARK_TRIES) {
            mark_abandon(q, k, rc);
            continue;
        }
        *tail = k;
        tail = &k->next;
    }
    marks_unshift(q, again);
    if (!q->freed)
        zkr__q_send_marks(q); /* when connected; else once reconnected */
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->obj.mu);
    free(m);
    zkr__obj_unref(&q->obj);
}

void zkr__q_send_marks(zkr_queue_t *q)
{
    while (q->marks && !q->closed && zkr__q_connected(q)) {
        qmarks_t *m = calloc(1, sizeof *m);
        int rc;
        if (!m)
            return;
        m->n = marks_take(q, MARKS_MAX, &m->list);
        m->q = q;
        if (m->n == 1) {
            rc = zkr__adelete(q->c, m->list->path, -1, marks_cb, m);
        } else {
            zkr__multi_t *mm = zkr__multi_new(q->c, m->n);
            rc = mm ? ZKR_OK : ZKR_ENOMEM;
            for (qmark_t *k = m->list; rc == ZKR_OK && k; k = k->next)
                rc = zkr__multi_delete(mm, k->path, -1);
            if (rc == ZKR_OK)
                rc = zkr__amulti(mm, marks_cb, m); /* consumes mm */
            else
                zkr__multi_free(mm);
        }
        if (rc != ZKR_OK) {
            marks_unshift(q, m->list); /* again on the next occasion */
            free(m);
            return;
        }
        q->obj.refs++;
        q->bg++;
    }
}

/* Caller holds q->obj.mu: plain claims its[0..n-1] are ours: delete their
 * markers. The items' lease paths move over. The deletes go with the next
 * claim, or alone if pump sends none (callers pump afterwards). */
static void drop_markers(zkr_queue_t *q, qitem_t *const *its, int n)
{
    for (int i = 0; i < n; i++) {
        qmark_t *k = calloc(1, sizeof *k);
        if (!k) {
            zkr__log(q->c, ZKR_LOG_ERROR,
                     "zkr: queue %s: out of memory: claim marker %s is "
                     "removed as an orphan later",
                     q->path, its[i]->lease_path);
            continue;
        }
        k->path = its[i]->lease_path;
        its[i]->lease_path = NULL;
        if (q->marks_tail)
            q->marks_tail->next = k;
        else
            q->marks = k;
        q->marks_tail = k;
    }
}

static void claim_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    int n, kind, per, nm, fail_at = -1, fail_op = 0, fail_rc = rc;
    qmark_t *marks;
    pthread_mutex_lock(&q->obj.mu);
    n = x->nits;
    kind = x->its[0]->kind;
    per = 2;
    nm = x->nmarks; /* the multi starts with the deletes of nm markers */
    marks = x->marks;
    x->marks = NULL;
    x->nmarks = 0;
    if (rc == ZKR_OK) {
        zkr__q_marks_free(marks); /* deleted */
        if (kind == QK_PLAIN)
            drop_markers(q, x->its, n);
        for (int i = 0; i < n; i++) {
            x->its[i]->gen = op->gen;
            q->claiming[kind]--;
            zkr__q_ready_push(q, x->its[i]);
            x->its[i] = NULL;
        }
        if (n >= q->batch && q->batch < BATCH_MAX)
            q->batch *= 2;
    } else if (zkr__q_gone_code(rc) && !zkr__client_closed(q->c)) {
        /* Outcome unknown: check each once connected. Delete the markers
         * again, each alone: some may be gone already. */
        for (qmark_t *k = marks; k; k = k->next)
            k->single = 1;
        marks_unshift(q, marks);
        for (int i = 0; i < n; i++) {
            q->claiming[kind]--;
            x->its[i]->gen = op->gen;
            x->its[i]->next = q->doubt;
            q->doubt = x->its[i];
            x->its[i] = NULL;
        }
    } else {
        int fail_mark = -1;
        if (!op->mres) {
            fail_at = 0;
        } else {
            for (int i = 0; i < op->nmulti && fail_at < 0 && fail_mark < 0;
                 i++) {
                int e = op->mres[i].err;
                if (e == ZOK || e == ZRUNTIMEINCONSISTENCY)
                    continue;
                fail_rc = zkr__map_zk(e);
                if (i < nm) {
                    fail_mark = i;
                } else {
                    fail_at = (i - nm) / per;
                    fail_op = (i - nm) % per;
                }
            }
        }
        /* nothing was applied: the markers wait for the next request,
         * but for one that failed (gone already, when a delete whose
         * reply was lost had been applied) */
        if (fail_mark >= 0) {
            qmark_t **pp = &marks, *k;
            while (fail_mark-- > 0)
                pp = &(*pp)->next;
            k = *pp;
            *pp = k->next;
            if (fail_rc != ZKR_ENONODE)
                mark_abandon(q, k, fail_rc);
            else
                mark_free(k); /* deleted already */
            fail_at = n; /* the claims are undecided: all sent again */
            fail_rc = ZKR_OK;
        }
        /* alone now: claims that keep losing races must not hold them */
        marks_unshift(q, marks);
        zkr__q_send_marks(q);
        for (int i = 0; i < n; i++) {
            qitem_t *it = x->its[i];
            int lost = fail_rc == ZKR_ENONODE || fail_rc == ZKR_ENODEEXISTS;
            x->its[i] = NULL;
            if (i == fail_at && fail_op == 1 && fail_rc == ZKR_ENONODE &&
                !q->freed) {
                reclaim_push(q, it); /* no lease directory yet */
                ensure_leases(q);
                continue;
            }
            if (i == fail_at && kind == QK_PLAIN && fail_op == 1 &&
                fail_rc == ZKR_ENODEEXISTS)
                q->mixed = 1; /* leased: leave leased items out of listings */
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

/* Caller holds q->obj.mu. On success the claim owns its[0..n-1] (and the
 * array); the caller counts them in q->claiming. */
static int send_claims(zkr_queue_t *q, qitem_t **its, int n)
{
    qctx_t *x = zkr__q_ctx_new(q);
    int rc, kind = its[0]->kind;
    if (!x)
        return ZKR_ENOMEM;
    /* set before the op starts; claim_cb reads them under q->obj.mu */
    x->its = its;
    x->nits = n;
    x->tok = q->jumps;
    if (kind == QK_PLAIN && q->marks && !q->marks->single)
        x->nmarks = marks_take(q, MARKS_MAX, &x->marks);
    {
        zkr__multi_t *m = zkr__multi_new(q->c, x->nmarks + 2 * n);
        rc = m ? ZKR_OK : ZKR_ENOMEM;
        for (qmark_t *k = x->marks; rc == ZKR_OK && k; k = k->next)
            rc = zkr__multi_delete(m, k->path, -1);
        for (int i = 0; rc == ZKR_OK && i < n; i++) {
            rc = kind == QK_PLAIN ? zkr__multi_delete(m, its[i]->item_path, -1)
                                  : zkr__multi_check(m, its[i]->item_path, -1);
            if (rc == ZKR_OK && kind == QK_PLAIN)
                rc = zkr__multi_create_acl(m, its[i]->lease_path, q->token,
                                           q->token_len, ZKR_PERSISTENT,
                                           q->acl);
            else if (rc == ZKR_OK)
                rc = zkr__multi_create_acl(m, its[i]->lease_path, NULL, 0,
                                           ZKR_EPHEMERAL, q->acl);
        }
        if (rc == ZKR_OK)
            rc = zkr__amulti(m, claim_cb, x); /* consumes m */
        else
            zkr__multi_free(m);
    }
    if (rc != ZKR_OK) {
        x->its = NULL; /* the caller keeps them */
        x->nits = 0;
        marks_unshift(q, x->marks);
        x->marks = NULL;
        x->nmarks = 0;
        zkr__q_ctx_free_locked(x);
        return rc;
    }
    return ZKR_OK;
}

/* Caller holds q->obj.mu: an item for cache entry e (its data move over). */
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
    if (rc == ZKR_OK) {
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

/* Caller holds q->obj.mu: send again what failed batches left undecided. */
static void send_reclaims(zkr_queue_t *q)
{
    while (q->reclaim) {
        int kind = q->reclaim->kind, n = 0;
        qitem_t **its, *it;
        if (q->leases_ensuring)
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

/* Caller holds q->obj.mu: claim up to max consecutive entries from the
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

/* ---- claims in doubt ----------------------------------------------------- *
 * A claim whose reply was lost is ours exactly when the multi created its
 * node: a plain claim's marker holding this handle's token (checked on
 * any session: markers are persistent), a lease owned by our session
 * (checked on the claim's session; a lost session ended it anyway).
 * Otherwise the multi failed as a whole: the item is still queued (and is
 * listed again), or went to another consumer, or is leased. The checks
 * follow a sync, so that the server answering them has applied the claim
 * if it was applied. */

static void doubt_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    qitem_t *it, **pp;
    pthread_mutex_lock(&q->obj.mu);
    it = x->it;
    x->it = NULL; /* it belongs to the doubt list */
    it->checking = 0;
    q->checking--;
    if (rc == ZKR_OK || rc == ZKR_ENONODE) {
        int ours = rc == ZKR_OK && op->stat;
        for (pp = &q->doubt; *pp; pp = &(*pp)->next)
            if (*pp == it) {
                *pp = it->next;
                break;
            }
        if (ours && it->kind == QK_PLAIN)
            ours = op->stat->ephemeralOwner == 0 && op->value &&
                   (size_t)op->value_len == q->token_len &&
                   memcmp(op->value, q->token, q->token_len) == 0;
        else if (ours)
            ours = op->gen == it->gen &&
                   op->stat->ephemeralOwner == zkr_client_session_id(q->c);
        zkr__log(q->c, ZKR_LOG_DEBUG,
                 "zkr: queue %s: claim of %s after a lost reply: %s",
                 q->path, it->name, ours ? "ours" : "not ours");
        if (ours) {
            it->gen = op->gen;
            if (it->kind == QK_PLAIN)
                drop_markers(q, &it, 1);
            zkr__q_ready_push(q, it);
        } else {
            zkr__q_item_free(it);
        }
    }
    zkr__q_pump(q);
    zkr__q_unlock_fire(q);
    zkr__q_ctx_free(x);
}

static void sync_cb(zkr__op_t *op, int rc)
{
    (void)op;
    (void)rc; /* only orders the checks after it */
}

/* Caller holds q->obj.mu. */
void zkr__q_resolve(zkr_queue_t *q)
{
    int synced = 0;
    for (qitem_t *it = q->doubt; it; it = it->next) {
        qctx_t *x;
        if (it->checking)
            continue;
        if (!synced) {
            /* the server we talk to now (maybe another one) catches up
             * with the leader first; the session's checks wait for it */
            zkr__async_sync(q->c, q->path, sync_cb, NULL);
            synced = 1;
        }
        x = zkr__q_ctx_new(q);
        if (!x)
            return;
        x->it = it;
        if (zkr__aget(q->c, it->lease_path, NULL, NULL, doubt_cb, x) !=
            ZKR_OK) {
            x->it = NULL;
            zkr__q_ctx_free_locked(x);
            return;
        }
        it->checking = 1;
        q->checking++;
    }
}

/* ---- orphaned markers ----------------------------------------------------- *
 * A consumer that dies between a claim and the delete of its marker (or is
 * freed while a claim is in doubt and it cannot reach ZooKeeper) leaves
 * the marker behind. Now and then, after listing a shard, a consumer lists
 * <path>/leases and reads the nodes of that shard older than its oldest
 * item (or all, when it is empty; those are the only candidates: a marker
 * is made when its item is deleted): a persistent claim marker of another
 * handle created more than orphan_ms ago (server time against our wall
 * clock) is deleted. Leases are ephemeral and never touched. */

#define SWEEP_EVERY_MS 60000
#define SWEEP_MAX 256
#define MARK_PREFIX "zkr-claim-"

static int64_t wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sweep_del_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    if (rc == ZKR_OK)
        zkr__log(x->q->c, ZKR_LOG_INFO,
                 "zkr: queue %s: removed orphaned claim marker %s",
                 x->q->path, x->name);
    zkr__q_ctx_free(x);
}

static void sweep_get_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    const struct Stat *st = op->stat;
    size_t pl = strlen(MARK_PREFIX);
    pthread_mutex_lock(&q->obj.mu);
    if (rc == ZKR_OK && st && st->ephemeralOwner == 0 && op->value &&
        (size_t)op->value_len > pl && memcmp(op->value, MARK_PREFIX, pl) == 0 &&
        !((size_t)op->value_len == q->token_len &&
          memcmp(op->value, q->token, q->token_len) == 0) &&
        st->ctime + q->orphan_ms < wall_ms() &&
        zkr__adelete(q->c, x->name, st->version, sweep_del_cb, x) == ZKR_OK) {
        pthread_mutex_unlock(&q->obj.mu);
        return; /* x goes with the delete */
    }
    pthread_mutex_unlock(&q->obj.mu);
    zkr__q_ctx_free(x);
}

static void sweep_list_cb(zkr__op_t *op, int rc)
{
    qctx_t *x = op->ctx;
    zkr_queue_t *q = x->q;
    size_t sl = strlen(x->name);
    int sent = 0;
    pthread_mutex_lock(&q->obj.mu);
    q->sweeping = 0;
    for (int i = 0; rc == ZKR_OK && op->strings && !q->freed &&
                    i < op->strings->count && sent < SWEEP_MAX;
         i++) {
        const char *n = op->strings->data[i], *item = n;
        int32_t seq;
        qctx_t *g;
        if (sl) { /* "s-0003-qn-..." */
            if (strncmp(n, x->name, sl) != 0 || n[sl] != '-')
                continue;
            item = n + sl + 1;
        }
        if (strncmp(item, "qn-", 3) != 0 || zkr__seq_of(item, &seq) != 0 ||
            (x->has_min && zkr__seq_cmp(seq, x->min_seq) >= 0))
            continue;
        if (!(g = zkr__q_ctx_new(q)))
            break;
        if (zkr_path_join(q->leases, n, &g->name) != ZKR_OK ||
            zkr__aget(q->c, g->name, NULL, NULL, sweep_get_cb, g) != ZKR_OK) {
            zkr__q_ctx_free_locked(g);
            break;
        }
        sent++;
    }
    pthread_mutex_unlock(&q->obj.mu);
    zkr__q_ctx_free(x);
}

void zkr__q_sweep(zkr_queue_t *q, const char *shard, int has_min,
                  int32_t min_seq)
{
    int64_t now = zkr__now_ms();
    qctx_t *x;
    if (q->sweeping || q->freed ||
        (q->swept && now - q->last_sweep < SWEEP_EVERY_MS))
        return;
    if (!(x = zkr__q_ctx_new(q)) || !(x->name = strdup(shard))) {
        if (x)
            zkr__q_ctx_free_locked(x);
        return;
    }
    x->has_min = has_min;
    x->min_seq = min_seq;
    if (zkr__achildren(q->c, q->leases, NULL, NULL, sweep_list_cb, x) !=
        ZKR_OK) {
        zkr__q_ctx_free_locked(x);
        return;
    }
    q->sweeping = 1;
    q->swept = 1;
    q->last_sweep = now;
}

static int pick_kind(zkr_queue_t *q, const int d[2])
{
    for (qreq_t *r = q->reqs; r; r = r->next)
        if (d[r->kind] > 0)
            return r->kind;
    return d[q->last_kind] > 0 ? q->last_kind : !q->last_kind;
}

/* Caller holds q->obj.mu: advance as far as possible. */
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
    /* Claiming ahead refills in larger steps: once half the prefetch is
     * used up (or a take waits), up to the full prefetch. Claims one at a
     * time as takes drain the ready items would cost a request (and a
     * marker's create and delete) per item. */
    for (int k = 0; k < 2; k++) {
        if (d[k] <= 0)
            q->refill[k] = 0;
        else if (q->nreq[k] > q->nready[k] + q->claiming[k] ||
                 d[k] >= (q->prefetch + 1) / 2)
            q->refill[k] = 1;
        if (!q->refill[k])
            d[k] = 0;
    }
    while (d[0] > 0 || d[1] > 0) {
        int k = pick_kind(q, d);
        int sent = claim_from_cache(q, k, d[k] < q->batch ? d[k] : q->batch);
        if (sent == 0)
            break;
        q->claiming[k] += sent;
        d[k] -= sent;
    }
    if (q->marks) /* no claim took them along */
        zkr__q_send_marks(q);
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
