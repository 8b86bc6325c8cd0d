/* SPDX-License-Identifier: Apache-2.0 */
/* The queue handle, shared by the queue's files. Never installed.
 *   queue.c       handles, takes, delivery, connection states
 *   queuelist.c   listings, shards, the wait for items (watches)
 *   queueclaim.c  read-ahead, claims (single or batched), doubts, pump
 *   queueput.c    puts, leases (ack, nack), peek, size */
#ifndef ZKR_QUEUEINT_H
#define ZKR_QUEUEINT_H

#include "internal.h"
#include "zkr/queue.h"

#define QK_PLAIN 0
#define QK_LEASE 1

/* A pending take. */
typedef struct qreq {
    struct qreq *next;
    unsigned id;
    int kind;
    int poll;         /* timeout 0: fail once a fresh look found nothing */
    unsigned mark;    /* listings sent before it was made */
    zkr_queue_take_cb tcb;
    zkr_queue_lease_cb lcb;
    void *ctx;
    /* set when it completes */
    int status;
    struct qitem *item;
} qreq_t;

/* An item claimed by this handle (or one whose claim is in doubt). */
typedef struct qitem {
    struct qitem *next;
    int kind;
    char *name;       /* "qn-..." or "s-0003/qn-..." */
    char *item_path;
    char *lease_path; /* <path>/leases/<name, '/' as '-'>: the lease, or
                         the claim marker of a plain take */
    char *data;
    size_t len;
    unsigned gen;     /* session generation of the claim (and of its
                         marker or lease) */
    int checking;     /* doubt: an exists check is in flight */
} qitem_t;

/* A claim marker to delete (plain claims known to be ours). */
typedef struct qmark {
    struct qmark *next;
    char *path;
    int single; /* a multi with it failed: delete it alone */
    int tries;
} qmark_t;

/* A lease handed out: a lease-kind item is allocated as one of these, so
 * the item can be handed out without another allocation. */
struct zkr_queue_lease {
    qitem_t item; /* first: freeing the item frees the lease */
    zkr_queue_t *q;
};

/* An entry of the cached listing of the current shard. */
enum { E_NEW, E_READING, E_READ, E_GONE, E_TAKEN };
typedef struct {
    char *name;
    int32_t seq;
    int st;
    char *data;
    size_t len;
} qent_t;

typedef struct {
    char *name;  /* "s-0003"; "" for a plain queue */
    char *path;
    int armed;   /* a watch on its children (or existence) is pending */
    unsigned wtok; /* identifies the newest watch set on it */
} qshard_t;

/* A put or a batch waiting for its reply, or parked until its parent
 * exists. */
typedef struct qput {
    struct qput *next;
    zkr_queue_t *q;
    unsigned id;
    int shard;
    int batch;
    int n;
    char **data;
    size_t *lens;
    int tries;
    zkr_queue_cb cb;
    void *ctx;
} qput_t;

struct zkr_queue {
    zkr__obj_t obj;    /* first: mutex and references */
    pthread_cond_t cv; /* free waits on it for claims and put-backs */
    zkr_client_t *c;
    char *path;
    char *leases;
    const struct ACL_vector *acl; /* of every node the queue creates */
    int nshards_put; /* 0: plain */
    int prefetch;
    int freed;
    int closed;

    /* producer side */
    unsigned rr;
    unsigned next_put;
    qput_t *parked;      /* sorted by id */
    unsigned char *ensuring; /* per put shard: ensure in flight */
    int bg;              /* put-backs and releases in flight (free waits) */

    /* consumer side */
    int active;          /* a take was made: keep reading ahead */
    int last_kind;
    unsigned next_req;
    qreq_t *reqs;
    int nreq[2];
    qitem_t *ready, *ready_tail;
    int nready[2];
    int claiming[2];
    int refill[2];       /* claiming ahead until the prefetch is full */
    qitem_t *doubt;
    qshard_t *shards;
    int nsh;
    int cur;
    int adv;             /* move to the next shard before listing again */
    int discovered;
    int discovering;
    qent_t *ents;
    int nents, head;
    int cursor;          /* next entry to claim (>= head) */
    int batch;           /* claims per request now (adapts, 1..64) */
    int contended;       /* lost a race: jump to elsewhere in the cache */
    unsigned jumps;      /* jumps made; claims remember it */
    char *cname;         /* shard the cache lists ("" plain) */
    char *cpath;
    unsigned cgen;       /* bumps when the cache is replaced */
    unsigned epoch;      /* bumps when outstanding listings go stale */
    int reading;
    int listing;
    int empties;         /* empty listings in a row */
    unsigned nlist;      /* listings sent */
    unsigned cycle_from; /* nlist at the first empty listing of a cycle */
    int idle;            /* all empty: waiting for a watch */
    int dir_armed;
    unsigned dir_tok;
    int leases_armed;
    unsigned leases_tok;
    qitem_t *reclaim, *reclaim_tail; /* claims to send again (counted in
                                         claiming) */
    int leases_ensuring; /* reclaims wait for <path>/leases */
    int mixed;           /* a plain claim met a lease: list leases too */
    char token[48];      /* claim marker data: "zkr-claim-<uuid>" */
    size_t token_len;
    qmark_t *marks, *marks_tail; /* markers to delete (not in flight) */
    int orphan_ms;       /* age of a marker nobody will delete */
    int swept;           /* a sweep for orphaned markers was made */
    int sweeping;
    int64_t last_sweep;  /* monotonic ms */
    int checking;        /* doubt checks in flight */
    qreq_t *fires, *fires_tail; /* completed takes, run after unlock */
    qitem_t *orphans;    /* claimed items nobody will get: put back */
};

/* Context of an operation or watch of the consumer engine. */
typedef struct qlist qlist_t;
typedef struct {
    zkr_queue_t *q;
    unsigned epoch;
    unsigned nlist; /* listing number */
    int idx;        /* entry index (reads) */
    int kind;
    int idle;       /* listing made while waiting, with a watch */
    int paired;     /* a lease listing follows and finishes the job */
    int counted;    /* counted in q->listing */
    unsigned tok;   /* watch token */
    char *name;     /* shard name (listings, watches) */
    qitem_t **its;  /* claims */
    int nits;
    qmark_t *marks; /* claims: markers deleted in the same multi */
    int nmarks;
    qitem_t *it;    /* doubt check */
    int has_min;    /* sweep: min_seq is the oldest item listed */
    int32_t min_seq;
    qlist_t *lst;
} qctx_t;

/* ---- queue.c ---- */
void zkr__q_item_free(qitem_t *it);
unsigned zkr__q_rand(void);
/* Callers of the following hold q->obj.mu. */
qctx_t *zkr__q_ctx_new(zkr_queue_t *q);
void zkr__q_ctx_free_locked(qctx_t *x); /* never the last reference */
void zkr__q_fire(zkr_queue_t *q, qreq_t *r, int status, qitem_t *it);
void zkr__q_unlink_req(zkr_queue_t *q, qreq_t *r);
void zkr__q_fail_reqs(zkr_queue_t *q, int kind, int status);
void zkr__q_ready_push(zkr_queue_t *q, qitem_t *it);
void zkr__q_deliver(zkr_queue_t *q);
int zkr__q_connected(zkr_queue_t *q);
void zkr__q_demand(zkr_queue_t *q, int d[2]);
/* Connection trouble: the outcome is unknown, try again once connected. */
int zkr__q_gone_code(int rc);
/* Release q->obj.mu, run completed takes, put back orphans. */
void zkr__q_unlock_fire(zkr_queue_t *q);
/* Without q->obj.mu: release the context and its reference. */
void zkr__q_ctx_free(qctx_t *x);

/* ---- queuelist.c (callers hold q->obj.mu) ---- */
void zkr__q_wake(zkr_queue_t *q, int shard);
void zkr__q_refresh(zkr_queue_t *q);
int zkr__q_lease_mode(zkr_queue_t *q);
void zkr__q_ents_free(zkr_queue_t *q);
void zkr__q_shards_free(qshard_t *s, int n);
void zkr__q_qlist_unref(qlist_t *l);

/* ---- queueclaim.c (callers hold q->obj.mu) ---- */
void zkr__q_pump(zkr_queue_t *q);
void zkr__q_resolve(zkr_queue_t *q);
/* Free a list of markers (not their nodes). Accepts NULL. */
void zkr__q_marks_free(qmark_t *list);
/* Send the deletes of markers waiting in q->marks (when connected). */
void zkr__q_send_marks(zkr_queue_t *q);
/* A listing of shard (its oldest item min_seq, if has_min) was made: now
 * and then remove claim markers older than q->orphan_ms that nobody will
 * delete (their consumer died). */
void zkr__q_sweep(zkr_queue_t *q, const char *shard, int has_min,
                  int32_t min_seq);

/* ---- queueput.c ---- */
/* Start a put of copies of the items (n == 1 and !batch: a create, else a
 * multi); cb may be NULL for internal put-backs (they count in q->bg).
 * Caller does not hold q->obj.mu. */
int zkr__q_put(zkr_queue_t *q, const void *const *items, const size_t *lens,
               int n, int batch, zkr_queue_cb cb, void *ctx);
/* Release a lease node in the background (a lease claimed ahead that
 * nobody will get, or a nack). Counts in q->bg while in flight. Caller
 * holds q->obj.mu. */
void zkr__q_release(zkr_queue_t *q, const char *lease_path, unsigned gen);
/* Shard names as a consumer finds them: "s-NNNN" children of the queue,
 * sorted. Blocking. */
int zkr__q_list_shards(zkr_queue_t *q, char ***names, int *n);

#endif
