/* SPDX-License-Identifier: Apache-2.0 */
/* Fair lock over EPHEMERAL_SEQUENTIAL children, as an async state machine.
 *
 * One acquire: send create and (unless one is already on its way) a
 * getChildren of the lock directory back to back, so an uncontended
 * acquire is one round trip. Listings are shared by every contender of the
 * same directory on the same client: at most one getChildren is in flight,
 * and the next one serves everybody that needs a fresher view. That keeps
 * thousands of waiters on one session from each pulling a huge child list.
 *
 * A waiter watches only the node that blocks it (getData with a watch, so
 * nothing lingers when that node is already gone). When the blocking node
 * was the only one blocking us in the listing, its deletion grants the lock
 * without another listing: sequence numbers only grow, so nothing can
 * appear in front of us.
 */
#define ZKR_BUILDING 1
#include "lockdir.h"

#include <stdlib.h>
#include <string.h>

/* ---- contender naming ---------------------------------------------------- */

static int classify_mutex(const char *name)
{
    /* Curator and zkr: "...-lock-<seq>"; kazoo: "<uuid>__lock__<seq>". */
    return (strstr(name, "-lock-") || strstr(name, "__lock__"))
               ? ZKR__LK_EXCLUSIVE
               : 0;
}

static int classify_rw(const char *name)
{
    if (strstr(name, "__WRIT__"))
        return ZKR__LK_EXCLUSIVE;
    if (strstr(name, "__READ__"))
        return ZKR__LK_SHARED;
    return 0;
}

const zkr__lockspec_t zkr__spec_mutex = {"-lock-", ZKR__LK_EXCLUSIVE,
                                         classify_mutex};
const zkr__lockspec_t zkr__spec_read = {"-__READ__", ZKR__LK_SHARED,
                                        classify_rw};
const zkr__lockspec_t zkr__spec_write = {"-__WRIT__", ZKR__LK_EXCLUSIVE,
                                         classify_rw};

/* Index of the node that blocks contender me, or -1 when it may hold.
 * *last is set when that node is the only one blocking it. */
static int decide(const zkr__lnode_t *n, int me, int my_kind, int *last)
{
    if (my_kind == ZKR__LK_EXCLUSIVE) {
        *last = me == 1;
        return me - 1;
    }
    /* Shared: blocked by the nearest earlier exclusive node only. */
    int w = -1, writers = 0;
    for (int i = 0; i < me; i++)
        if (n[i].kind == ZKR__LK_EXCLUSIVE) {
            w = i;
            writers++;
        }
    *last = writers == 1;
    return w;
}

/* ---- types --------------------------------------------------------------- */


#define SUSPECTS 4

enum lstate {
    ST_IDLE,
    ST_ENSURING,   /* creating the lock directory */
    ST_CREATING,   /* create sent */
    ST_RECOVER,    /* create reply lost: look for our node by its uuid */
    ST_LISTING,    /* waiting for a listing */
    ST_WATCHING,   /* watching the node in front of us */
    ST_PROBING,    /* checking which earlier nodes of the last listing live */
    ST_WAIT_SESSION, /* session lost while waiting: retry on the next one */
    ST_HELD
};

struct zkr_lock {
    zkr__obj_t obj; /* first: mutex and references */
    zkr_client_t *c;
    char *path;
    const zkr__lockspec_t *spec;
    zkr__lockdir_t *dir;
    char *data;
    size_t data_len;
    int reentrant;
    zkr_lock_cb state_cb;
    void *state_ctx;
    const struct ACL_vector *acl; /* of our nodes and missing parents */

    enum lstate state;
    unsigned attempt; /* bumps whenever outstanding replies become stale */
    unsigned token;   /* bumps whenever an outstanding watch becomes stale */
    char uuid[37];
    char *node;       /* our node's name */
    int32_t seq;
    int64_t czxid;
    int holds;
    int try_only;
    int suspended;
    int ensure_tries;
    char suspects[SUSPECTS][37]; /* uuids of creates with unknown fate */
    int nsuspects;
    int probes;       /* probes outstanding */
    int probe_failed;
    unsigned need_gc;
    int freed;

    zkr_lock_cb cb; /* pending acquire */
    void *cb_ctx;
    /* callbacks to run once the mutex is released */
    zkr_lock_cb fire_cb;
    void *fire_ctx;
    int fire_status;
    int state_fire; /* 0 or 1 + status index */
    int state_status;
};

/* ---- lifetime ------------------------------------------------------------ */

static void lock_destroy(zkr__obj_t *o)
{
    zkr_lock_t *l = (zkr_lock_t *)o;
    zkr__dir_unref(l->dir);
    zkr__client_unref(l->c);
    free(l->path);
    free(l->data);
    free(l->node);
    free(l);
}

/* ---- callbacks out of the mutex ------------------------------------------ */

/* Caller holds l->obj.mu: arrange for the pending acquire to complete. */
static void finish(zkr_lock_t *l, int status)
{
    if (!l->cb)
        return;
    l->fire_cb = l->cb;
    l->fire_ctx = l->cb_ctx;
    l->fire_status = status;
    l->cb = NULL;
    l->cb_ctx = NULL;
    l->try_only = 0;
}

static void notify_state(zkr_lock_t *l, int status)
{
    if (!l->state_cb || l->freed)
        return;
    l->state_fire = 1;
    l->state_status = status;
}

static void unlock_fire(zkr_lock_t *l)
{
    zkr_lock_cb cb = l->fire_cb, scb = NULL;
    void *ctx = l->fire_ctx, *sctx = NULL;
    int status = l->fire_status, sstatus = 0;
    l->fire_cb = NULL;
    if (l->state_fire) {
        scb = l->state_cb;
        sctx = l->state_ctx;
        sstatus = l->state_status;
        l->state_fire = 0;
    }
    pthread_mutex_unlock(&l->obj.mu);
    if (scb)
        scb(l, sstatus, sctx);
    if (cb)
        cb(l, status, ctx);
}

/* ---- operation contexts -------------------------------------------------- */

/* A context's lock. Its flag: the watched node is the only one blocking
 * us; its name: a node name or uuid (see each use). */
#define L(x) ((zkr_lock_t *)(x)->o)

/* Caller holds l->obj.mu: a context for the current attempt and token. */
static zkr__ctx_t *lctx(zkr_lock_t *l, const char *name)
{
    return zkr__ctx_new(&l->obj, l->attempt, l->token, name);
}

static char *child_path(zkr_lock_t *l, const char *name)
{
    char *p = NULL;
    zkr_path_join(l->path, name, &p);
    return p;
}

/* ---- deletes ------------------------------------------------------------- */

/* Caller holds l->obj.mu. */
static void send_delete(zkr_lock_t *l, const char *name)
{
    char *p = child_path(l, name);
    int32_t seq;
    if (zkr__seq_of(name, &seq) == 0)
        zkr__dir_gone(l->dir, seq);
    if (p)
        zkr__delete_bg(l->c, p);
    free(p);
}

/* A create whose reply we lost or no longer want: find it by uuid and
 * delete it, so nothing is orphaned. */
static void orphan_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_lock_t *l = L(a);
    if (rc == ZKR_OK && op->strings) {
        pthread_mutex_lock(&l->obj.mu);
        for (int i = 0; i < op->strings->count; i++)
            if (strstr(op->strings->data[i], a->name))
                send_delete(l, op->strings->data[i]);
        pthread_mutex_unlock(&l->obj.mu);
    }
    zkr__ctx_done(a);
}

/* Caller holds l->obj.mu. */
static void clean_orphan(zkr_lock_t *l, const char *uuid)
{
    zkr__ctx_t *a = lctx(l, uuid);
    if (a && zkr__achildren(l->c, l->path, NULL, NULL, orphan_cb, a) != ZKR_OK)
        zkr__ctx_drop(a);
}

/* ---- listings ------------------------------------------------------------ */

static void deliver(zkr_lock_t *l, unsigned attempt, const zkr__lnode_t *nodes,
                    int n, int rc);

static void dir_deliver(void *obj, unsigned attempt, const zkr__lnode_t *nodes,
                        int n, int rc)
{
    zkr_lock_t *l = obj;
    deliver(l, attempt, nodes, n, rc);
    zkr__obj_unref(&l->obj); /* the reference want_listing took */
}

/* Ask for a listing taken after now (need 0) or by getChildren number
 * need. Caller holds l->obj.mu. */
static void want_listing(zkr_lock_t *l, unsigned need)
{
    l->state = ST_LISTING;
    l->token++;
    l->obj.refs++;
    if (zkr__dir_want(l->dir, l, l->attempt, need) != ZKR_OK)
        l->obj.refs--; /* the acquire stalls until reconnect or cancel */
}

/* ---- the state machine --------------------------------------------------- */

static void start_attempt(zkr_lock_t *l);
static void become_held(zkr_lock_t *l);

static void fail(zkr_lock_t *l, int status)
{
    l->attempt++;
    l->token++;
    if (l->node) {
        send_delete(l, l->node);
        free(l->node);
        l->node = NULL;
    }
    l->state = ST_IDLE;
    finish(l, status);
}

/* Up to this many earlier nodes are checked one by one (pipelined) before
 * a whole new listing is cheaper. */
#define PROBE_MAX 8

static void advance(zkr_lock_t *l);
static void watch_node(zkr_lock_t *l, const char *name, int last);

static void mark_gone(zkr_lock_t *l, const char *name)
{
    int32_t seq;
    if (name && zkr__seq_of(name, &seq) == 0)
        zkr__dir_gone(l->dir, seq);
}

static void watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *a = ctx;
    zkr_lock_t *l = L(a);
    (void)path;
    pthread_mutex_lock(&l->obj.mu);
    if (a->attempt == l->attempt && a->token == l->token &&
        l->state == ST_WATCHING && type != ZKR__WATCH_CANCELED) {
        if (type == ZOO_DELETED_EVENT) {
            mark_gone(l, a->name);
            if (a->flag)
                become_held(l);
            else
                advance(l);
        } else {
            want_listing(l, 0);
        }
    }
    unlock_fire(l);
    zkr__ctx_done(a);
}

static void watch_get_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_lock_t *l = L(a);
    pthread_mutex_lock(&l->obj.mu);
    if (a->attempt == l->attempt && a->token == l->token &&
        l->state == ST_WATCHING) {
        if (rc == ZKR_ENONODE) {
            /* Gone before we looked. */
            mark_gone(l, a->name);
            if (a->flag)
                become_held(l);
            else
                advance(l);
        } else if (rc != ZKR_OK && rc != ZKR_ECONNLOSS &&
                   rc != ZKR_ESESSIONEXPIRED && rc != ZKR_ECANCELED) {
            fail(l, rc);
        }
        /* OK: wait for the watch. CONNLOSS: the listener re-lists on
         * RECONNECTED. */
    }
    unlock_fire(l);
    zkr__ctx_done(a);
}

/* Caller holds l->obj.mu: watch the node that blocks us. */
static void watch_node(zkr_lock_t *l, const char *name, int last)
{
    char *p = child_path(l, name);
    zkr__ctx_t *a, *wa;
    l->state = ST_WATCHING;
    l->token++;
    a = lctx(l, name);
    wa = lctx(l, name); /* the watch gets its own context */
    if (a && wa && p) {
        a->flag = wa->flag = last;
        if (zkr__aget(l->c, p, watch_cb, wa, watch_get_cb, a) == ZKR_OK) {
            free(p);
            return;
        }
    }
    if (a)
        zkr__ctx_drop(a);
    if (wa)
        zkr__ctx_drop(wa);
    free(p);
    want_listing(l, 0); /* try again with a fresh view */
}

/* After the probes: the nearest earlier node still alive blocks us. */
static void watch_nearest(zkr_lock_t *l)
{
    char *name = NULL;
    int k = zkr__dir_before(l->dir, l->seq, l->spec->kind == ZKR__LK_SHARED,
                            &name, 1);
    if (k == 0)
        become_held(l);
    else if (k < 0 || !name)
        want_listing(l, 0);
    else
        watch_node(l, name, k == 1);
    free(name);
}

static void probe_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_lock_t *l = L(a);
    pthread_mutex_lock(&l->obj.mu);
    if (a->attempt == l->attempt && a->token == l->token &&
        l->state == ST_PROBING) {
        if (rc == ZKR_ENONODE)
            mark_gone(l, a->name);
        else if (rc != ZKR_OK)
            l->probe_failed = 1;
        if (--l->probes == 0) {
            if (l->probe_failed)
                want_listing(l, 0);
            else
                watch_nearest(l);
        }
    }
    unlock_fire(l);
    zkr__ctx_done(a);
}

/* Caller holds l->obj.mu. The node we watched is gone but was not the only one
 * in front of us. Rather than listing a possibly long queue again, check
 * the earlier nodes of the newest listing that are not known to be gone:
 * nothing can have been added in front of us since. */
static void advance(zkr_lock_t *l)
{
    char *names[PROBE_MAX];
    int k = zkr__dir_before(l->dir, l->seq, l->spec->kind == ZKR__LK_SHARED,
                            names, PROBE_MAX);
    int listed = k < 0 ? 0 : k < PROBE_MAX ? k : PROBE_MAX;
    if (k == 0) {
        become_held(l);
    } else if (k < 0 || k > PROBE_MAX) {
        want_listing(l, 0);
    } else {
        l->state = ST_PROBING;
        l->token++;
        l->probes = 0;
        l->probe_failed = 0;
        for (int i = 0; i < k; i++) {
            char *p = names[i] ? child_path(l, names[i]) : NULL;
            zkr__ctx_t *a = names[i] ? lctx(l, names[i]) : NULL;
            if (p && a &&
                zkr__aexists(l->c, p, NULL, NULL, probe_cb, a) == ZKR_OK)
                l->probes++;
            else if (a)
                zkr__ctx_drop(a);
            if (!p || !a)
                l->probe_failed = 1;
            free(p);
        }
        if (l->probes == 0)
            want_listing(l, 0);
    }
    for (int i = 0; i < listed; i++)
        free(names[i]);
}

static void deliver(zkr_lock_t *l, unsigned attempt, const zkr__lnode_t *nodes,
                    int n, int rc)
{
    int me = -1, blocker, last = 0;
    pthread_mutex_lock(&l->obj.mu);
    if (attempt != l->attempt || l->state != ST_LISTING)
        goto out;
    if (rc != ZKR_OK) {
        if (rc == ZKR_ENONODE)
            start_attempt(l); /* directory and our node are gone */
        else if (rc != ZKR_ECONNLOSS && rc != ZKR_ESESSIONEXPIRED &&
                 rc != ZKR_ECANCELED)
            fail(l, rc);
        goto out;
    }
    {
        int lo = 0, hi = n - 1;
        while (lo <= hi) {
            int mid = (lo + hi) / 2;
            int cmp = zkr__seq_cmp(nodes[mid].seq, l->seq);
            if (cmp == 0) {
                me = mid;
                break;
            }
            if (cmp < 0)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
    }
    if (me < 0 || strcmp(nodes[me].name, l->node) != 0) {
        /* Our node vanished (deleted by someone else): queue again. */
        free(l->node);
        l->node = NULL;
        start_attempt(l);
        goto out;
    }
    /* a node of ours from an earlier attempt that we could not find then */
    for (int i = 0; i < me; i++)
        for (int k = 0; k < SUSPECTS && k < l->nsuspects; k++)
            if (strstr(nodes[i].name, l->suspects[k])) {
                send_delete(l, nodes[i].name);
                l->suspects[k][0] = '\1'; /* matches no name again */
                want_listing(l, 0);
                goto out;
            }
    blocker = decide(nodes, me, l->spec->kind, &last);
    if (blocker < 0) {
        become_held(l);
    } else if (l->try_only) {
        fail(l, ZKR_EWOULDBLOCK);
    } else {
        watch_node(l, nodes[blocker].name, last);
    }
out:
    unlock_fire(l);
}

static void become_held(zkr_lock_t *l)
{
    l->state = ST_HELD;
    l->holds = 1;
    l->token++;
    finish(l, ZKR_OK);
}

static void stat_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_lock_t *l = L(a);
    pthread_mutex_lock(&l->obj.mu);
    if (a->attempt == l->attempt && l->state == ST_RECOVER) {
        if (rc == ZKR_OK && op->stat) {
            l->czxid = op->stat->czxid;
            want_listing(l, 0);
        } else if (rc == ZKR_ENONODE) {
            free(l->node);
            l->node = NULL;
            start_attempt(l);
        }
    }
    unlock_fire(l);
    zkr__ctx_done(a);
}

/* After a lost create reply: our node, if the create was applied, carries
 * our uuid. */
static void recover_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_lock_t *l = L(a);
    pthread_mutex_lock(&l->obj.mu);
    if (a->attempt == l->attempt && l->state == ST_RECOVER) {
        if (rc == ZKR_OK) {
            const char *found = NULL;
            for (int i = 0; i < op->strings->count && !found; i++)
                if (strstr(op->strings->data[i], l->uuid))
                    found = op->strings->data[i];
            if (!found) {
                /* Should the create still show up later, the node must
                 * not block us: remember its uuid (see deliver). */
                memcpy(l->suspects[l->nsuspects++ % SUSPECTS], l->uuid,
                       sizeof l->uuid);
                start_attempt(l);
            } else if ((l->node = strdup(found)) == NULL ||
                       zkr__seq_of(found, &l->seq) != 0) {
                fail(l, ZKR_ENOMEM);
            } else {
                char *p = child_path(l, found);
                zkr__ctx_t *s = lctx(l, NULL);
                if (!s || !p ||
                    zkr__aexists(l->c, p, NULL, NULL, stat_cb, s) != ZKR_OK) {
                    if (s)
                        zkr__ctx_drop(s);
                }
                free(p);
            }
        } else if (rc == ZKR_ENONODE) {
            start_attempt(l);
        }
        /* CONNLOSS: try again on the next RECONNECTED */
    }
    unlock_fire(l);
    zkr__ctx_done(a);
}

static void recover_sync_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_lock_t *l = L(a);
    pthread_mutex_lock(&l->obj.mu);
    if (a->attempt == l->attempt && l->state == ST_RECOVER) {
        zkr__ctx_t *b = lctx(l, NULL);
        if (rc == ZKR_OK && b &&
            zkr__achildren(l->c, l->path, NULL, NULL, recover_cb, b) ==
                ZKR_OK)
            b = NULL;
        if (b)
            zkr__ctx_drop(b);
        /* on failure: again on the next RECONNECTED */
    }
    unlock_fire(l);
    zkr__ctx_done(a);
}

/* Caller holds l->obj.mu. The server we reconnected to may lag behind the one
 * that took our create: sync first, then list. (A create still in flight
 * from the old connection is refused by the leader once the session has
 * moved, so after the sync it is either visible or never applied.) */
static void recover(zkr_lock_t *l)
{
    zkr__ctx_t *a = lctx(l, NULL);
    l->state = ST_RECOVER;
    if (a && zkr__async_sync(l->c, l->path, recover_sync_cb, a) != ZKR_OK)
        zkr__ctx_drop(a);
}

static void ensure_cb(void *ctx, int rc)
{
    zkr__ctx_t *a = ctx;
    zkr_lock_t *l = L(a);
    pthread_mutex_lock(&l->obj.mu);
    if (a->attempt == l->attempt && l->state == ST_ENSURING) {
        if (rc == ZKR_OK || rc == ZKR_ENODEEXISTS)
            start_attempt(l);
        else if (rc == ZKR_ECONNLOSS)
            l->state = ST_WAIT_SESSION; /* retried on reconnect */
        else
            fail(l, rc);
    }
    unlock_fire(l);
    zkr__ctx_done(a);
}

static void create_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_lock_t *l = L(a);
    pthread_mutex_lock(&l->obj.mu);
    if (a->attempt != l->attempt || l->state != ST_CREATING) {
        /* Nobody wants this node any more. */
        if (rc == ZKR_OK)
            send_delete(l, zkr__path_basename(op->value));
        else if (rc == ZKR_ECONNLOSS)
            clean_orphan(l, a->name);
        goto out;
    }
    if (rc == ZKR_OK) {
        const char *name = zkr__path_basename(op->value);
        if (!(l->node = strdup(name)) || zkr__seq_of(name, &l->seq) != 0) {
            fail(l, ZKR_ENOMEM);
            goto out;
        }
        l->czxid = op->stat ? op->stat->czxid : 0;
        want_listing(l, l->need_gc);
    } else if (rc == ZKR_ENONODE && l->ensure_tries++ < 5) {
        zkr__ctx_t *e = lctx(l, NULL);
        l->state = ST_ENSURING;
        if (!e || zkr__aensure_acl(l->c, l->path, ZKR_CONTAINER, l->acl,
                                   ensure_cb, e) != ZKR_OK) {
            if (e)
                zkr__ctx_drop(e);
            fail(l, ZKR_ENOMEM);
        }
    } else if (rc == ZKR_ECONNLOSS) {
        l->state = ST_RECOVER; /* look for it on RECONNECTED */
    } else if (rc == ZKR_ESESSIONEXPIRED || rc == ZKR_ECANCELED) {
        l->state = ST_WAIT_SESSION;
    } else {
        fail(l, rc);
    }
out:
    unlock_fire(l);
    zkr__ctx_done(a);
}

/* Caller holds l->obj.mu. */
static void start_attempt(zkr_lock_t *l)
{
    char *p;
    zkr__ctx_t *a;
    int rc;
    l->attempt++;
    l->token++;
    p = zkr__protected_path(l->path, l->spec->marker, l->uuid);
    a = lctx(l, l->uuid);
    if (!p || !a) {
        free(p);
        if (a)
            zkr__ctx_drop(a);
        fail(l, ZKR_ENOMEM);
        return;
    }
    l->state = ST_CREATING;
    /* create and getChildren back to back: one round trip */
    rc = zkr__dir_create(l->dir, p, l->data, l->data_len, l->acl, create_cb,
                         a, &l->need_gc);
    free(p);
    if (rc != ZKR_OK) {
        zkr__ctx_drop(a);
        if (rc == ZKR_ESESSIONEXPIRED)
            l->state = ST_WAIT_SESSION;
        else
            fail(l, rc);
    }
}

/* ---- connection states --------------------------------------------------- */

/* Caller holds l->obj.mu: the session of a hold is gone, so is the hold. */
static void lost_hold(zkr_lock_t *l)
{
    l->state = ST_IDLE;
    l->holds = 0;
    l->czxid = 0;
    notify_state(l, ZKR_ELOCKLOST);
}

static void on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkr_lock_t *l = ctx;
    (void)c;
    pthread_mutex_lock(&l->obj.mu);
    switch (st) {
    case ZKR_STATE_SUSPENDED:
        l->suspended = 1;
        if (l->state == ST_HELD)
            notify_state(l, ZKR_ECONNLOSS);
        break;
    case ZKR_STATE_RECONNECTED:
        l->suspended = 0;
        if (l->state == ST_HELD)
            notify_state(l, ZKR_OK);
        else if (l->state == ST_LISTING || l->state == ST_WATCHING ||
                 l->state == ST_PROBING)
            want_listing(l, 0);
        else if (l->state == ST_RECOVER)
            recover(l);
        else if (l->state == ST_WAIT_SESSION)
            start_attempt(l);
        break;
    case ZKR_STATE_LOST:
        l->suspended = 0;
        free(l->node);
        l->node = NULL;
        l->attempt++;
        l->token++;
        if (l->state == ST_HELD)
            lost_hold(l);
        else if (l->state != ST_IDLE)
            l->state = ST_WAIT_SESSION;
        break;
    case ZKR_STATE_CONNECTED:
        l->suspended = 0;
        if (l->state == ST_WAIT_SESSION)
            start_attempt(l);
        break;
    case ZKR_STATE_CLOSED:
        if (l->state == ST_HELD) {
            /* the session ended with the client: so did our node */
            free(l->node);
            l->node = NULL;
            l->attempt++;
            l->token++;
            lost_hold(l);
        } else if (l->state != ST_IDLE) {
            l->attempt++;
            l->state = ST_IDLE;
            finish(l, ZKR_ECANCELED);
        }
        break;
    case ZKR_STATE_AUTH_FAILED:
        if (l->state != ST_IDLE && l->state != ST_HELD)
            fail(l, ZKR_EAUTHFAILED);
        break;
    }
    unlock_fire(l);
}

/* ---- public API ---------------------------------------------------------- */

void zkr_lock_opts_init(zkr_lock_opts_t *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->reentrant = 1;
}

int zkr__lock_new_spec(zkr_client_t *c, const char *path,
                       const zkr__lockspec_t *spec,
                       const zkr_lock_opts_t *opts, zkr_lock_t **out)
{
    zkr_lock_opts_t defaults;
    zkr_lock_t *l;
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
    if (!opts) {
        zkr_lock_opts_init(&defaults);
        opts = &defaults;
    }
    if (opts->data_len > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    if (opts->data_len && !opts->data)
        return ZKR_EINVAL;
    const struct ACL_vector *acl;
    if ((rc = zkr__acl_pick(c, opts->acl, &acl)) != ZKR_OK)
        return rc;
    if (zkr__client_closed(c))
        return ZKR_ECLOSED;
    l = calloc(1, sizeof *l);
    if (!l)
        return ZKR_ENOMEM;
    if (zkr__obj_init(&l->obj, lock_destroy) != ZKR_OK) {
        free(l);
        return ZKR_ENOMEM;
    }
    l->c = c;
    l->spec = spec;
    l->path = strdup(path);
    if (opts->data) {
        l->data = malloc(opts->data_len ? opts->data_len : 1);
        if (l->data)
            memcpy(l->data, opts->data, opts->data_len);
        l->data_len = opts->data_len;
    } else {
        l->data = zkr__default_node_data();
        l->data_len = l->data ? strlen(l->data) : 0;
    }
    l->reentrant = opts->reentrant;
    l->state_cb = opts->state_cb;
    l->state_ctx = opts->state_ctx;
    l->acl = acl;
    l->dir = l->path ? zkr__dir_get(c, path, spec, dir_deliver) : NULL;
    if (!l->path || !l->data || !l->dir) {
        zkr__dir_unref(l->dir);
        free(l->path);
        free(l->data);
        zkr__obj_fini(&l->obj);
        free(l);
        return ZKR_ENOMEM;
    }
    zkr__client_ref(c);
    if ((rc = zkr_client_add_listener(c, on_state, l)) != ZKR_OK) {
        zkr__obj_unref(&l->obj);
        return rc;
    }
    *out = l;
    return ZKR_OK;
}

int zkr_lock_new(zkr_client_t *c, const char *path,
                 const zkr_lock_opts_t *opts, zkr_lock_t **out)
{
    return zkr__lock_new_spec(c, path, &zkr__spec_mutex, opts, out);
}

static int acquire_start(zkr_lock_t *l, zkr_lock_cb cb, void *ctx,
                         int try_only)
{
    if (!l || !cb)
        return ZKR_EINVAL;
    pthread_mutex_lock(&l->obj.mu);
    if (l->freed || zkr__client_closed(l->c)) {
        pthread_mutex_unlock(&l->obj.mu);
        return ZKR_ECLOSED;
    }
    if (l->state == ST_HELD) {
        if (!l->reentrant) {
            pthread_mutex_unlock(&l->obj.mu);
            return ZKR_EBUSY;
        }
        l->holds++;
        pthread_mutex_unlock(&l->obj.mu);
        cb(l, ZKR_OK, ctx);
        return ZKR_OK;
    }
    if (l->state != ST_IDLE) {
        pthread_mutex_unlock(&l->obj.mu);
        return ZKR_EBUSY;
    }
    l->cb = cb;
    l->cb_ctx = ctx;
    l->try_only = try_only;
    l->ensure_tries = 0;
    start_attempt(l);
    unlock_fire(l);
    return ZKR_OK;
}

int zkr__lock_try_async(zkr_lock_t *l, zkr_lock_cb cb, void *ctx)
{
    return acquire_start(l, cb, ctx, 1);
}

int zkr_lock_acquire_async(zkr_lock_t *l, zkr_lock_cb cb, void *ctx)
{
    return acquire_start(l, cb, ctx, 0);
}

static void blocking_cb(zkr_lock_t *l, int status, void *ctx)
{
    (void)l;
    zkr__waiter_signal(ctx, status);
}

int zkr_lock_acquire(zkr_lock_t *l, int timeout_ms)
{
    zkr__waiter_t w;
    int rc;
    if (!l)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    zkr__waiter_init(&w);
    rc = acquire_start(l, blocking_cb, &w, timeout_ms == 0);
    if (rc == ZKR_OK) {
        rc = zkr__waiter_wait(&w, timeout_ms == 0 ? -1 : timeout_ms);
        if (rc == ZKR_ETIMEDOUT) {
            zkr_lock_cancel(l);
            /* The callback runs exactly once: wait for it, it may also
             * have granted the lock just before the cancel. */
            rc = zkr__waiter_wait(&w, -1);
            if (rc == ZKR_ECANCELED)
                rc = ZKR_ETIMEDOUT;
        }
    }
    zkr__waiter_destroy(&w);
    return rc;
}

int zkr_lock_cancel(zkr_lock_t *l)
{
    if (!l)
        return ZKR_EINVAL;
    pthread_mutex_lock(&l->obj.mu);
    if (l->state == ST_IDLE || l->state == ST_HELD) {
        pthread_mutex_unlock(&l->obj.mu);
        return ZKR_ENOTHELD;
    }
    fail(l, ZKR_ECANCELED);
    unlock_fire(l);
    return ZKR_OK;
}

int zkr_lock_release(zkr_lock_t *l)
{
    if (!l)
        return ZKR_EINVAL;
    pthread_mutex_lock(&l->obj.mu);
    if (l->state != ST_HELD) {
        pthread_mutex_unlock(&l->obj.mu);
        return ZKR_ENOTHELD;
    }
    if (--l->holds == 0) {
        l->state = ST_IDLE;
        l->czxid = 0;
        if (l->node) {
            send_delete(l, l->node);
            free(l->node);
            l->node = NULL;
        }
    }
    pthread_mutex_unlock(&l->obj.mu);
    return ZKR_OK;
}

int zkr_lock_is_held(zkr_lock_t *l)
{
    int v;
    if (!l)
        return 0;
    pthread_mutex_lock(&l->obj.mu);
    v = l->state == ST_HELD && !l->suspended;
    pthread_mutex_unlock(&l->obj.mu);
    return v;
}

int64_t zkr_lock_token(zkr_lock_t *l)
{
    int64_t t;
    if (!l)
        return 0;
    pthread_mutex_lock(&l->obj.mu);
    t = l->state == ST_HELD ? l->czxid : 0;
    pthread_mutex_unlock(&l->obj.mu);
    return t;
}

int zkr_lock_node(zkr_lock_t *l, char *buf, size_t len)
{
    int rc = ZKR_ENOTHELD;
    if (!l || !buf)
        return ZKR_EINVAL;
    pthread_mutex_lock(&l->obj.mu);
    if (l->node) {
        rc = zkr__copy_out(l->node, buf, len);
    }
    pthread_mutex_unlock(&l->obj.mu);
    return rc;
}

void zkr_lock_free(zkr_lock_t *l)
{
    if (!l)
        return;
    zkr_client_remove_listener(l->c, on_state, l);
    pthread_mutex_lock(&l->obj.mu);
    l->freed = 1;
    if (l->state == ST_HELD) {
        l->holds = 1;
        pthread_mutex_unlock(&l->obj.mu);
        zkr_lock_release(l);
        pthread_mutex_lock(&l->obj.mu);
    } else if (l->state != ST_IDLE) {
        fail(l, ZKR_ECANCELED);
    }
    unlock_fire(l);
    zkr__obj_unref(&l->obj);
}
