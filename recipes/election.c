/* SPDX-License-Identifier: Apache-2.0 */
/* Leader election in Curator's LeaderLatch layout, as an async state
 * machine driven by completions.
 *
 * Join: create "_c_<uuid>-latch-" (EPHEMERAL_SEQUENTIAL) and list the
 * directory back to back, one round trip. First in the listing: claim
 * leadership once the node is known to belong to our current session.
 * Otherwise watch the node in front of us (getData with a watch, so
 * nothing lingers when it is already gone). When that node was the first
 * one, its deletion makes us first without another listing: sequence
 * numbers only grow, nothing can appear in front of us.
 *
 * Leadership is reported lost on SUSPENDED, since the session may expire
 * under us and another candidate may lead before we hear of it. On
 * RECONNECTED we list again and may claim again. After LOST we rejoin on
 * the next session.
 *
 * User callbacks go through a queue drained by one thread at a time, so
 * they never overlap and keep the order of events even when the events
 * come from different threads (completion thread, manager thread, the
 * thread calling resign or free). */
#define ZKR_BUILDING 1
#include "zkr/election.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum estate {
    E_IDLE,
    E_ENSURING,     /* creating the election directory */
    E_CREATING,     /* create sent (and a listing behind it) */
    E_RECOVER,      /* create reply lost: look for our node by uuid */
    E_LISTING,      /* waiting for a listing */
    E_CHECKING,     /* first in line: reading our node's owner */
    E_WATCHING,     /* watching the node in front of us */
    E_LEADER,       /* leading (reported unless suspended) */
    E_WAIT_SESSION  /* retry on the next (re)connection */
};

struct ev {
    struct ev *next;
    zkr_election_cb cb;
    void *ctx;
    int status;
};

struct zkr_election {
    zkr__obj_t obj;    /* first: mutex and references */
    pthread_cond_t cv; /* leadership, join and drain changes */
    zkr_client_t *c;
    char *path;
    char *id;
    size_t id_len;
    const struct ACL_vector *acl; /* of our node and missing parents */
    zkr_election_cb on_leader;
    zkr_election_cb on_lost;
    void *ctx;

    enum estate state;
    unsigned attempt; /* bumps whenever outstanding replies become stale */
    int joined;       /* the user wants us in the election */
    int leading;      /* on_leader reported, on_lost not yet */
    int suspended;
    int freed;
    int closed;
    int ensure_tries;
    int need_list;    /* the listing behind the create was not sent */
    int join_rc;      /* outcome of the last join, for await */
    char uuid[37];
    char *node;       /* our node's name */
    char *stale_node; /* our node of a session given up by the client */
    int32_t seq;
    int64_t czxid;
    int64_t owner;    /* session owning our node, 0 if not known yet */
    int last;         /* the watched node was the first one */
    zkr_election_cb join_cb;
    void *join_ctx;

    struct ev *q_head, *q_tail;
    int firing;
    pthread_t drainer;
};

/* A context's election. */
#define E(x) ((zkr_election_t *)(x)->o)

/* ---- lifetime ------------------------------------------------------------ */

static void el_destroy(zkr__obj_t *o)
{
    zkr_election_t *e = (zkr_election_t *)o;
    while (e->q_head) {
        struct ev *v = e->q_head;
        e->q_head = v->next;
        free(v);
    }
    zkr__client_unref(e->c);
    pthread_cond_destroy(&e->cv);
    free(e->path);
    free(e->id);
    free(e->node);
    free(e->stale_node);
    free(e);
}

/* Caller holds e->obj.mu: a context for the current attempt. */
static zkr__ctx_t *ectx(zkr_election_t *e, const char *name)
{
    return zkr__ctx_new(&e->obj, e->attempt, 0, name);
}

/* ---- callbacks, in order, out of the mutex -------------------------------- */

static void ev_push(zkr_election_t *e, zkr_election_cb cb, void *ctx,
                    int status)
{
    struct ev *v;
    if (!cb || !(v = calloc(1, sizeof *v)))
        return;
    v->cb = cb;
    v->ctx = ctx;
    v->status = status;
    if (e->q_tail)
        e->q_tail->next = v;
    else
        e->q_head = v;
    e->q_tail = v;
}

/* Release e->obj.mu and run queued callbacks, unless another thread is at it
 * (it will run ours too). */
static void unlock_fire(zkr_election_t *e)
{
    if (e->firing || !e->q_head) {
        pthread_mutex_unlock(&e->obj.mu);
        return;
    }
    e->firing = 1;
    e->drainer = pthread_self();
    e->obj.refs++;
    while (e->q_head) {
        struct ev *v = e->q_head;
        e->q_head = v->next;
        if (!e->q_head)
            e->q_tail = NULL;
        pthread_mutex_unlock(&e->obj.mu);
        v->cb(e, v->status, v->ctx);
        free(v);
        pthread_mutex_lock(&e->obj.mu);
    }
    e->firing = 0;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->obj.mu);
    zkr__obj_unref(&e->obj);
}

static void report_leader(zkr_election_t *e)
{
    e->leading = 1;
    if (!e->freed)
        ev_push(e, e->on_leader, e->ctx, ZKR_OK);
    pthread_cond_broadcast(&e->cv);
}

static void report_lost(zkr_election_t *e, int status)
{
    if (!e->leading)
        return;
    e->leading = 0;
    ev_push(e, e->on_lost, e->ctx, status);
    pthread_cond_broadcast(&e->cv);
}

static void finish_join(zkr_election_t *e, int status)
{
    e->join_rc = status;
    if (e->join_cb)
        ev_push(e, e->join_cb, e->join_ctx, status);
    e->join_cb = NULL;
    e->join_ctx = NULL;
    pthread_cond_broadcast(&e->cv);
}

/* ---- helpers ------------------------------------------------------------- */

static char *child_path(zkr_election_t *e, const char *name)
{
    char *p = NULL;
    zkr_path_join(e->path, name, &p);
    return p;
}

static void delete_node(zkr_election_t *e, const char *name)
{
    char *p = child_path(e, name);
    if (p)
        zkr__delete_bg(e->c, p);
    free(p);
}

typedef struct {
    const char *name;
    int32_t seq;
} lnode_t;

static int lnode_cmp(const void *a, const void *b)
{
    return zkr__seq_cmp(((const lnode_t *)a)->seq, ((const lnode_t *)b)->seq);
}

/* Candidates among names, sorted by sequence. Ownership: caller frees the
 * array; names are borrowed. Returns -1 on ENOMEM. */
static int collect(char *const *names, int n, lnode_t **out)
{
    lnode_t *v = calloc(n > 0 ? (size_t)n : 1, sizeof *v);
    int k = 0;
    if (!v)
        return -1;
    for (int i = 0; i < n; i++) {
        int32_t seq;
        if (strstr(names[i], "latch-") && zkr__seq_of(names[i], &seq) == 0) {
            v[k].name = names[i];
            v[k].seq = seq;
            k++;
        }
    }
    qsort(v, (size_t)k, sizeof *v, lnode_cmp);
    *out = v;
    return k;
}

/* ---- the state machine --------------------------------------------------- */

/* Errors that say nothing about the election, only about the connection
 * or the session: wait for RECONNECTED (or LOST, then CONNECTED). A session
 * taken over by another connection (SESSIONMOVED) ends in LOST. */
static int transient(int rc)
{
    return rc == ZKR_ECONNLOSS || rc == ZKR_ESESSIONEXPIRED ||
           rc == ZKR_ECANCELED || rc == ZKR_ECLOSED ||
           rc == ZKR_ESESSIONMOVED || rc == ZKR_ECLOSING ||
           rc == ZKR_EINVALIDSTATE || rc == ZKR_EOPTIMEOUT ||
           rc == ZKR_ETHROTTLED;
}

static void start_create(zkr_election_t *e);
static void want_listing(zkr_election_t *e);
static void list_cb(zkr__op_t *op, int rc);

/* Leave the election after an error or by request. */
static void give_up(zkr_election_t *e, int status)
{
    e->attempt++;
    if (e->state == E_RECOVER && e->uuid[0]) {
        /* A create whose reply we lost may have made a node: find it by
         * uuid and delete it. */
        zkr__ctx_t *a = ectx(e, e->uuid);
        if (a && zkr__achildren(e->c, e->path, NULL, NULL, list_cb, a) !=
                     ZKR_OK)
            zkr__ctx_drop(a);
    }
    if (e->node) {
        delete_node(e, e->node);
        free(e->node);
        e->node = NULL;
    }
    report_lost(e, status);
    finish_join(e, status);
    e->joined = 0;
    e->state = E_IDLE;
    e->owner = 0;
    e->czxid = 0;
}

static void send_listing(zkr_election_t *e)
{
    zkr__ctx_t *a = ectx(e, NULL);
    e->need_list = 0;
    if (!a || zkr__achildren(e->c, e->path, NULL, NULL, list_cb, a) !=
                  ZKR_OK) {
        zkr__ctx_drop(a);
        e->need_list = 1; /* retried on the next reconnection */
    }
}

static void want_listing(zkr_election_t *e)
{
    e->attempt++;
    e->state = E_LISTING;
    send_listing(e);
}

static void own_watch_cb(void *ctx, int type, const char *path);

static void own_exists_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_election_t *e = E(a);
    pthread_mutex_lock(&e->obj.mu);
    if (a->attempt == e->attempt && e->state == E_LEADER &&
        rc == ZKR_ENONODE) {
        report_lost(e, ZKR_ENONODE);
        free(e->node);
        e->node = NULL;
        start_create(e);
    }
    unlock_fire(e);
    zkr__ctx_done(a);
}

/* While leading, watch our own node: somebody deleting it ends our
 * leadership even though the session lives. */
static void watch_own(zkr_election_t *e)
{
    char *p = child_path(e, e->node);
    zkr__ctx_t *a = ectx(e, NULL), *w = ectx(e, NULL);
    if (!p || !a || !w ||
        zkr__aexists(e->c, p, own_watch_cb, w, own_exists_cb, a) != ZKR_OK) {
        zkr__ctx_drop(a);
        zkr__ctx_drop(w);
    }
    free(p);
}

static void own_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *w = ctx;
    zkr_election_t *e = E(w);
    (void)path;
    pthread_mutex_lock(&e->obj.mu);
    if (w->attempt == e->attempt && e->state == E_LEADER &&
        type != ZKR__WATCH_CANCELED) {
        if (type == ZOO_DELETED_EVENT) {
            report_lost(e, ZKR_ENONODE);
            free(e->node);
            e->node = NULL;
            start_create(e);
        } else {
            watch_own(e);
        }
    }
    unlock_fire(e);
    zkr__ctx_done(w);
}

static void check_cb(zkr__op_t *op, int rc);

/* We are first in line. Caller holds e->obj.mu. */
static void claim(zkr_election_t *e)
{
    int64_t sid = zkr_client_session_id(e->c);
    if (e->owner == 0 || e->czxid == 0) {
        /* Found after a lost create reply: read its owner first. */
        char *p = child_path(e, e->node);
        zkr__ctx_t *a = ectx(e, NULL);
        e->attempt++;
        e->state = E_CHECKING;
        if (a) {
            a->attempt = e->attempt;
            if (!p || zkr__aexists(e->c, p, NULL, NULL, check_cb, a) !=
                          ZKR_OK)
                zkr__ctx_drop(a);
        }
        free(p);
        return;
    }
    if (e->owner != sid) {
        /* A node of an older session of ours: it is going away. */
        delete_node(e, e->node);
        free(e->node);
        e->node = NULL;
        start_create(e);
        return;
    }
    e->state = E_LEADER;
    if (!e->suspended) {
        report_leader(e);
        watch_own(e);
    }
}

static void check_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_election_t *e = E(a);
    pthread_mutex_lock(&e->obj.mu);
    if (a->attempt == e->attempt && e->state == E_CHECKING) {
        if (rc == ZKR_OK && op->stat) {
            e->owner = op->stat->ephemeralOwner;
            e->czxid = op->stat->czxid;
            if (e->owner == 0) /* not ephemeral: never ours */
                e->owner = -1;
            claim(e);
        } else if (rc == ZKR_ENONODE) {
            free(e->node);
            e->node = NULL;
            start_create(e);
        }
        /* connection loss: RECONNECTED lists again */
    }
    unlock_fire(e);
    zkr__ctx_done(a);
}

static void pred_gone(zkr_election_t *e)
{
    if (e->last)
        claim(e);
    else
        want_listing(e);
}

static void pred_watch_cb(void *ctx, int type, const char *path)
{
    zkr__ctx_t *w = ctx;
    zkr_election_t *e = E(w);
    (void)path;
    pthread_mutex_lock(&e->obj.mu);
    if (w->attempt == e->attempt && e->state == E_WATCHING &&
        type != ZKR__WATCH_CANCELED) {
        if (type == ZOO_DELETED_EVENT)
            pred_gone(e);
        else
            want_listing(e);
    }
    unlock_fire(e);
    zkr__ctx_done(w);
}

static void pred_get_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_election_t *e = E(a);
    pthread_mutex_lock(&e->obj.mu);
    if (a->attempt == e->attempt && e->state == E_WATCHING &&
        rc == ZKR_ENONODE)
        pred_gone(e);
    unlock_fire(e);
    zkr__ctx_done(a);
}

static void watch_pred(zkr_election_t *e, const char *name, int last)
{
    char *p = child_path(e, name);
    zkr__ctx_t *a, *w;
    e->attempt++;
    e->state = E_WATCHING;
    e->last = last;
    a = ectx(e, NULL);
    w = ectx(e, NULL);
    if (!p || !a || !w ||
        zkr__aget(e->c, p, pred_watch_cb, w, pred_get_cb, a) != ZKR_OK) {
        zkr__ctx_drop(a);
        zkr__ctx_drop(w);
    }
    free(p);
}

/* A fresh listing. Caller holds e->obj.mu. */
static void evaluate(zkr_election_t *e, char *const *names, int n)
{
    lnode_t *v = NULL;
    int k = collect(names, n, &v), me = -1;
    if (k < 0) {
        give_up(e, ZKR_ENOMEM);
        return;
    }
    for (int i = 0; i < k && me < 0; i++)
        if (strcmp(v[i].name, e->node) == 0)
            me = i;
    if (me < 0) {
        /* Our node is gone (deleted by someone else): join again. */
        free(e->node);
        e->node = NULL;
        start_create(e);
    } else {
        finish_join(e, ZKR_OK);
        if (me == 0)
            claim(e);
        else
            watch_pred(e, v[me - 1].name, me == 1);
    }
    free(v);
}

static void recovered(zkr_election_t *e, const struct String_vector *sv)
{
    const char *found = NULL;
    for (int i = 0; i < sv->count && !found; i++)
        if (strstr(sv->data[i], e->uuid))
            found = sv->data[i];
    if (!found) {
        start_create(e);
        return;
    }
    free(e->node);
    if (!(e->node = strdup(found)) || zkr__seq_of(found, &e->seq) != 0) {
        give_up(e, ZKR_ENOMEM);
        return;
    }
    e->owner = 0; /* read before claiming */
    e->czxid = 0;
    e->state = E_LISTING;
    evaluate(e, sv->data, sv->count);
}

static void list_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_election_t *e = E(a);
    pthread_mutex_lock(&e->obj.mu);
    if (a->name) {
        /* Orphan sweep or recovery: look for the uuid in a->name. */
        if (a->attempt == e->attempt && e->state == E_RECOVER) {
            if (rc == ZKR_OK)
                recovered(e, op->strings);
            else if (rc == ZKR_ENONODE)
                start_create(e);
        } else if (rc == ZKR_OK) {
            for (int i = 0; i < op->strings->count; i++)
                if (strstr(op->strings->data[i], a->name))
                    delete_node(e, op->strings->data[i]);
        }
        goto out;
    }
    if (a->attempt != e->attempt || e->state != E_LISTING)
        goto out;
    if (rc == ZKR_OK) {
        evaluate(e, op->strings->data, op->strings->count);
    } else if (rc == ZKR_ENONODE) {
        /* The directory and our node are gone. */
        free(e->node);
        e->node = NULL;
        start_create(e);
    } else if (!transient(rc)) {
        give_up(e, rc);
    }
out:
    unlock_fire(e);
    zkr__ctx_done(a);
}

static void recover(zkr_election_t *e)
{
    zkr__ctx_t *a;
    e->attempt++;
    e->state = E_RECOVER;
    a = ectx(e, e->uuid);
    if (a && zkr__achildren(e->c, e->path, NULL, NULL, list_cb, a) != ZKR_OK)
        zkr__ctx_drop(a);
}

static void ensure_cb(void *ctx, int rc)
{
    zkr__ctx_t *a = ctx;
    zkr_election_t *e = E(a);
    pthread_mutex_lock(&e->obj.mu);
    if (a->attempt == e->attempt && e->state == E_ENSURING) {
        if (rc == ZKR_OK || rc == ZKR_ENODEEXISTS)
            start_create(e);
        else if (transient(rc))
            e->state = E_WAIT_SESSION;
        else
            give_up(e, rc);
    }
    unlock_fire(e);
    zkr__ctx_done(a);
}

static void create_cb(zkr__op_t *op, int rc)
{
    zkr__ctx_t *a = op->ctx;
    zkr_election_t *e = E(a);
    pthread_mutex_lock(&e->obj.mu);
    if (a->attempt != e->attempt || e->state != E_CREATING) {
        /* Nobody wants this node any more. */
        if (rc == ZKR_OK)
            delete_node(e, zkr__path_basename(op->value));
        else if (rc == ZKR_ECONNLOSS) {
            zkr__ctx_t *o = ectx(e, a->name);
            if (o)
                o->attempt = e->attempt - 1; /* never current */
            if (o && zkr__achildren(e->c, e->path, NULL, NULL, list_cb, o) !=
                         ZKR_OK)
                zkr__ctx_drop(o);
        }
        goto out;
    }
    if (rc == ZKR_OK) {
        const char *name = zkr__path_basename(op->value);
        free(e->node);
        if (!(e->node = strdup(name)) || zkr__seq_of(name, &e->seq) != 0) {
            give_up(e, ZKR_ENOMEM);
            goto out;
        }
        e->czxid = op->stat ? op->stat->czxid : 0;
        e->owner = op->stat ? op->stat->ephemeralOwner : 0;
        e->state = E_LISTING;
        if (e->need_list)
            send_listing(e);
    } else if (rc == ZKR_ENONODE && e->ensure_tries++ < 5) {
        zkr__ctx_t *n;
        e->attempt++;
        e->state = E_ENSURING;
        n = ectx(e, NULL);
        if (!n || zkr__aensure_acl(e->c, e->path, ZKR_CONTAINER, e->acl,
                                   ensure_cb, n) != ZKR_OK) {
            zkr__ctx_drop(n);
            e->state = E_WAIT_SESSION;
        }
    } else if (rc == ZKR_ESESSIONEXPIRED || rc == ZKR_ECANCELED) {
        e->state = E_WAIT_SESSION;
    } else if (transient(rc)) {
        e->state = E_RECOVER; /* look for it on RECONNECTED */
    } else {
        give_up(e, rc);
    }
out:
    unlock_fire(e);
    zkr__ctx_done(a);
}

/* Caller holds e->obj.mu. */
static void start_create(zkr_election_t *e)
{
    char *p;
    zkr__ctx_t *a;
    int rc;
    e->attempt++;
    e->owner = 0;
    e->czxid = 0;
    p = zkr__protected_path(e->path, "-latch-", e->uuid);
    a = ectx(e, e->uuid);
    if (!p || !a) {
        free(p);
        zkr__ctx_drop(a);
        give_up(e, ZKR_ENOMEM);
        return;
    }
    e->state = E_CREATING;
    rc = zkr__acreate_acl(e->c, p, e->id, e->id_len,
                          ZKR_EPHEMERAL | ZKR_SEQUENTIAL, e->acl, create_cb,
                          a);
    free(p);
    if (rc != ZKR_OK) {
        zkr__ctx_drop(a);
        if (rc == ZKR_ESESSIONEXPIRED)
            e->state = E_WAIT_SESSION;
        else
            give_up(e, rc);
        return;
    }
    /* The session answers in order: this listing includes our node. */
    send_listing(e);
}

/* ---- connection states --------------------------------------------------- */

static void on_state(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    zkr_election_t *e = ctx;
    (void)c;
    pthread_mutex_lock(&e->obj.mu);
    switch (st) {
    case ZKR_STATE_SUSPENDED:
        e->suspended = 1;
        report_lost(e, ZKR_ECONNLOSS);
        break;
    case ZKR_STATE_RECONNECTED:
        e->suspended = 0;
        if (!e->joined)
            break;
        switch (e->state) {
        case E_LISTING:
        case E_CHECKING:
        case E_WATCHING:
        case E_LEADER:
            want_listing(e);
            break;
        case E_RECOVER:
            recover(e);
            break;
        case E_WAIT_SESSION:
            start_create(e);
            break;
        default:
            break;
        }
        break;
    case ZKR_STATE_LOST:
        e->suspended = 0;
        report_lost(e, ZKR_ESESSIONEXPIRED);
        e->attempt++;
        if (e->node) {
            /* The server may not have expired it yet: delete it from the
             * next session rather than wait behind it. */
            free(e->stale_node);
            e->stale_node = e->node;
            e->node = NULL;
        }
        if (e->joined)
            e->state = E_WAIT_SESSION;
        break;
    case ZKR_STATE_CONNECTED:
        e->suspended = 0;
        if (e->stale_node) {
            delete_node(e, e->stale_node);
            free(e->stale_node);
            e->stale_node = NULL;
        }
        if (e->joined && e->state == E_WAIT_SESSION)
            start_create(e);
        break;
    case ZKR_STATE_CLOSED:
        e->closed = 1;
        e->attempt++;
        report_lost(e, ZKR_ECLOSED);
        finish_join(e, ZKR_ECANCELED);
        e->joined = 0;
        e->state = E_IDLE;
        free(e->node);
        e->node = NULL;
        break;
    case ZKR_STATE_AUTH_FAILED:
        if (e->join_cb)
            give_up(e, ZKR_EAUTHFAILED);
        break;
    }
    unlock_fire(e);
}

/* ---- public API ---------------------------------------------------------- */

void zkr_election_opts_init(zkr_election_opts_t *o)
{
    if (o)
        memset(o, 0, sizeof *o);
}

int zkr_election_new(zkr_client_t *c, const char *path,
                     const zkr_election_opts_t *opts, zkr_election_t **out)
{
    zkr_election_t *e;
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
    if (opts && opts->id && strlen(opts->id) > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    const struct ACL_vector *acl;
    rc = zkr__acl_pick(c, opts ? opts->acl : NULL, &acl);
    if (rc != ZKR_OK)
        return rc;
    if (zkr__client_closed(c))
        return ZKR_ECLOSED;
    e = calloc(1, sizeof *e);
    if (!e)
        return ZKR_ENOMEM;
    if (zkr__obj_init(&e->obj, el_destroy) != ZKR_OK) {
        free(e);
        return ZKR_ENOMEM;
    }
    zkr__cond_init(&e->cv);
    e->c = c;
    e->path = strdup(path);
    e->id = opts && opts->id ? strdup(opts->id) : zkr__default_node_data();
    e->id_len = e->id ? strlen(e->id) : 0;
    e->acl = acl;
    if (opts) {
        e->on_leader = opts->on_leader;
        e->on_lost = opts->on_lost;
        e->ctx = opts->ctx;
    }
    e->join_rc = ZKR_ENOTHELD;
    if (!e->path || !e->id) {
        free(e->path);
        free(e->id);
        zkr__obj_fini(&e->obj);
        pthread_cond_destroy(&e->cv);
        free(e);
        return ZKR_ENOMEM;
    }
    zkr__client_ref(c);
    if ((rc = zkr_client_add_listener(c, on_state, e)) != ZKR_OK) {
        zkr__obj_unref(&e->obj);
        return rc;
    }
    *out = e;
    return ZKR_OK;
}

int zkr_election_join_async(zkr_election_t *e, zkr_election_cb cb, void *ctx)
{
    if (!e || !cb)
        return ZKR_EINVAL;
    pthread_mutex_lock(&e->obj.mu);
    if (e->freed || e->closed || zkr__client_closed(e->c)) {
        pthread_mutex_unlock(&e->obj.mu);
        return ZKR_ECLOSED;
    }
    if (e->joined) {
        pthread_mutex_unlock(&e->obj.mu);
        return ZKR_EBUSY;
    }
    e->joined = 1;
    e->join_cb = cb;
    e->join_ctx = ctx;
    e->join_rc = ZKR_EBUSY;
    e->ensure_tries = 0;
    start_create(e);
    unlock_fire(e);
    return ZKR_OK;
}

static void blocking_cb(zkr_election_t *e, int status, void *ctx)
{
    (void)e;
    zkr__waiter_signal(ctx, status);
}

int zkr_election_join(zkr_election_t *e, int timeout_ms)
{
    zkr__waiter_t w;
    int rc;
    if (!e)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    zkr__waiter_init(&w);
    rc = zkr_election_join_async(e, blocking_cb, &w);
    if (rc == ZKR_OK) {
        rc = zkr__waiter_wait(&w, timeout_ms);
        if (rc == ZKR_ETIMEDOUT) {
            /* The waiter lives on our stack: detach it from the join,
             * which goes on without a completion. */
            pthread_mutex_lock(&e->obj.mu);
            if (e->join_cb == blocking_cb && e->join_ctx == &w) {
                e->join_cb = NULL;
                e->join_ctx = NULL;
                pthread_mutex_unlock(&e->obj.mu);
            } else {
                /* already queued: it runs shortly */
                pthread_mutex_unlock(&e->obj.mu);
                rc = zkr__waiter_wait(&w, -1);
            }
        }
    }
    zkr__waiter_destroy(&w);
    return rc;
}

int zkr_election_await(zkr_election_t *e, int timeout_ms)
{
    struct timespec ts;
    int has, rc = ZKR_OK;
    if (!e)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    has = timeout_ms > 0 ? zkr__deadline(timeout_ms, &ts) : 0;
    pthread_mutex_lock(&e->obj.mu);
    for (;;) {
        if (e->closed || e->freed) {
            rc = ZKR_ECLOSED;
            break;
        }
        if (!e->joined) {
            rc = ZKR_ENOTHELD;
            break;
        }
        if (e->leading && !e->suspended)
            break;
        if (timeout_ms == 0 ||
            zkr__cond_wait(&e->cv, &e->obj.mu, has, &ts) == ETIMEDOUT) {
            rc = e->leading && !e->suspended ? ZKR_OK : ZKR_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&e->obj.mu);
    return rc;
}

int zkr_election_resign(zkr_election_t *e)
{
    if (!e)
        return ZKR_EINVAL;
    pthread_mutex_lock(&e->obj.mu);
    if (!e->joined) {
        pthread_mutex_unlock(&e->obj.mu);
        return ZKR_ENOTHELD;
    }
    give_up(e, ZKR_ECANCELED);
    unlock_fire(e);
    return ZKR_OK;
}

int zkr_election_is_leader(zkr_election_t *e)
{
    int v;
    if (!e)
        return 0;
    pthread_mutex_lock(&e->obj.mu);
    v = e->leading && !e->suspended;
    pthread_mutex_unlock(&e->obj.mu);
    return v;
}

int64_t zkr_election_token(zkr_election_t *e)
{
    int64_t t;
    if (!e)
        return 0;
    pthread_mutex_lock(&e->obj.mu);
    t = e->leading ? e->czxid : 0;
    pthread_mutex_unlock(&e->obj.mu);
    return t;
}

int zkr_election_node(zkr_election_t *e, char *buf, size_t len)
{
    int rc = ZKR_ENOTHELD;
    if (!e || !buf)
        return ZKR_EINVAL;
    pthread_mutex_lock(&e->obj.mu);
    if (e->node) {
        rc = zkr__copy_out(e->node, buf, len);
    }
    pthread_mutex_unlock(&e->obj.mu);
    return rc;
}

void zkr_election_participants_free(zkr_election_participant_t *p, int n)
{
    if (!p)
        return;
    for (int i = 0; i < n; i++) {
        free(p[i].id);
        free(p[i].node);
    }
    free(p);
}

int zkr_election_participants(zkr_election_t *e,
                              zkr_election_participant_t **out, int *count)
{
    char **names = NULL;
    int n = 0, k, rc, got = 0;
    lnode_t *v = NULL;
    zkr_election_participant_t *p = NULL;
    if (!out || !count)
        return ZKR_EINVAL;
    *out = NULL;
    *count = 0;
    if (!e)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    rc = zkr_children(e->c, e->path, &names, &n);
    if (rc == ZKR_ENONODE)
        return ZKR_OK;
    if (rc != ZKR_OK)
        return rc;
    k = collect(names, n, &v);
    if (k < 0 || (k > 0 && !(p = calloc((size_t)k, sizeof *p)))) {
        free(v);
        zkr_strings_free(names, n);
        return ZKR_ENOMEM;
    }
    for (int i = 0; i < k && rc == ZKR_OK; i++) {
        char *child = child_path(e, v[i].name), *data = NULL;
        size_t len = 0;
        zkr_stat_t st;
        rc = child ? zkr_get(e->c, child, &data, &len, &st) : ZKR_ENOMEM;
        free(child);
        if (rc == ZKR_ENONODE) { /* left meanwhile */
            rc = ZKR_OK;
            continue;
        }
        if (rc != ZKR_OK)
            break;
        p[got].id = data;
        p[got].node = strdup(v[i].name);
        p[got].czxid = st.czxid;
        p[got].owner = st.ephemeral_owner;
        p[got].is_leader = got == 0;
        if (!p[got++].node)
            rc = ZKR_ENOMEM;
    }
    free(v);
    zkr_strings_free(names, n);
    if (rc != ZKR_OK) {
        zkr_election_participants_free(p, got);
        return rc;
    }
    if (got == 0) {
        free(p);
        p = NULL;
    }
    *out = p;
    *count = got;
    return ZKR_OK;
}

int zkr_election_leader(zkr_election_t *e, char **id)
{
    zkr_election_participant_t *p;
    int n, rc;
    if (!id)
        return ZKR_EINVAL;
    *id = NULL;
    rc = zkr_election_participants(e, &p, &n);
    if (rc != ZKR_OK)
        return rc;
    if (n == 0)
        return ZKR_ENONODE;
    *id = p[0].id;
    p[0].id = NULL;
    zkr_election_participants_free(p, n);
    return ZKR_OK;
}

void zkr_election_free(zkr_election_t *e)
{
    if (!e)
        return;
    zkr_client_remove_listener(e->c, on_state, e);
    pthread_mutex_lock(&e->obj.mu);
    e->freed = 1;
    if (e->joined)
        give_up(e, ZKR_ECANCELED);
    unlock_fire(e);
    /* Another thread may be running our callbacks: let it finish, unless
     * that thread is this one (free called from a callback). */
    pthread_mutex_lock(&e->obj.mu);
    while (e->firing && !pthread_equal(e->drainer, pthread_self()))
        pthread_cond_wait(&e->cv, &e->obj.mu);
    pthread_mutex_unlock(&e->obj.mu);
    zkr__obj_unref(&e->obj);
}
