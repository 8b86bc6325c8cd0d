/* SPDX-License-Identifier: Apache-2.0 */
/* Library-internal interfaces shared by the client layer and the recipes.
 * Never installed. */
#ifndef ZKR_INTERNAL_H
#define ZKR_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <zookeeper/zookeeper.h>

#include "zkr/zkr.h"

/* ---- completion-thread detection ---------------------------------------- */

/* Set on every thread that runs ZooKeeper completions or watches (and on the
 * threads that deliver cancellations), so blocking calls can refuse. */
void zkr__mark_callback_thread(void);
int zkr__in_callback(void);
/* Set or clear the mark; returns the previous value. */
int zkr__set_callback_thread(int on);

/* ---- errors -------------------------------------------------------------- */
int zkr__map_zk(int zrc);

/* ---- time ---------------------------------------------------------------- */
int64_t zkr__now_ms(void);
/* Absolute CLOCK_MONOTONIC deadline for pthread_cond_timedwait; timeout_ms
 * < 0 means none (returns 0 and leaves *ts untouched). */
int zkr__deadline(int timeout_ms, struct timespec *ts);
/* Wait on cv (created with CLOCK_MONOTONIC) until deadline; returns
 * ETIMEDOUT like pthread_cond_timedwait. has_deadline 0 waits forever. */
int zkr__cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int has_deadline,
                   const struct timespec *ts);
void zkr__cond_init(pthread_cond_t *cv);

/* ---- logging ------------------------------------------------------------- */
void zkr__log(zkr_client_t *c, zkr_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- async operations ---------------------------------------------------- */

typedef struct zkr__op zkr__op_t;
typedef struct zkr__watch zkr__watch_t;

/* Completion of an operation started through the client layer. Runs exactly
 * once: on the completion thread, or with ZKR_ECANCELED when the session's
 * handle is closed first. Result fields of op are valid during the call. */
typedef void (*zkr__op_cb)(zkr__op_t *op, int rc);

/* A watch fires exactly once: with the node event type (ZOO_*_EVENT), or
 * with ZKR__WATCH_CANCELED when it was not set (its operation failed), when
 * the session ended or the client was closed. path is relative to the
 * chroot (NULL when canceled). */
#define ZKR__WATCH_CANCELED 0
typedef void (*zkr__watch_cb)(void *ctx, int type, const char *path);

struct zkr__op {
    zkr__op_t *prev, *next;
    zkr_client_t *c;
    unsigned gen;
    zkr__op_cb cb;
    void *ctx;
    zkr__watch_t *watch;   /* watch registered by this op, if any */
    int is_exists;         /* exists registers its watch also on NONODE */
    /* results, valid only during cb */
    const char *value;     /* data, or created path (chroot stripped) */
    int value_len;
    const struct Stat *stat;
    const struct String_vector *strings;
    /* multi: owned copies */
    int nmulti;
    zoo_op_t *mops;
    zoo_op_result_t *mres;
    char **mstrs;          /* strings the mops point at */
    int nmstrs;
    char *created_buf;     /* scratch for stripped created paths */
};

struct zkr__watch {
    zkr__watch_t *prev, *next;
    zkr_client_t *c;
    unsigned gen;
    zkr__watch_cb cb;
    void *ctx;
    int fired;
};

/* Start operations. Return ZKR_OK (cb will run exactly once) or an error
 * (cb never runs). Paths are relative to the chroot and validated.
 * Creates use the client's default ACL, or with the _acl variants acl
 * (NULL: the client's; see zkr__acl_pick). */
int zkr__acreate(zkr_client_t *c, const char *path, const void *data,
                 size_t len, int flags, zkr__op_cb cb, void *ctx);
int zkr__acreate_acl(zkr_client_t *c, const char *path, const void *data,
                     size_t len, int flags, const struct ACL_vector *acl,
                     zkr__op_cb cb, void *ctx);
int zkr__adelete(zkr_client_t *c, const char *path, int version,
                 zkr__op_cb cb, void *ctx);
int zkr__aexists(zkr_client_t *c, const char *path, zkr__watch_cb wcb,
                 void *wctx, zkr__op_cb cb, void *ctx);
int zkr__aget(zkr_client_t *c, const char *path, zkr__watch_cb wcb,
              void *wctx, zkr__op_cb cb, void *ctx);
int zkr__aset(zkr_client_t *c, const char *path, const void *data,
              size_t len, int version, zkr__op_cb cb, void *ctx);
int zkr__achildren(zkr_client_t *c, const char *path, zkr__watch_cb wcb,
                   void *wctx, zkr__op_cb cb, void *ctx);

/* sync: the server the session talks to catches up with the leader, so
 * reads sent after the completion see every write committed before it. */
int zkr__async_sync(zkr_client_t *c, const char *path, zkr__op_cb cb,
                    void *ctx);

/* Multi: build with zkr__multi_* then zkr__amulti. */
typedef struct zkr__multi zkr__multi_t;
zkr__multi_t *zkr__multi_new(zkr_client_t *c, int max_ops);
int zkr__multi_create(zkr__multi_t *m, const char *path, const void *data,
                      size_t len, int flags);
int zkr__multi_create_acl(zkr__multi_t *m, const char *path,
                          const void *data, size_t len, int flags,
                          const struct ACL_vector *acl);
int zkr__multi_delete(zkr__multi_t *m, const char *path, int version);
int zkr__multi_check(zkr__multi_t *m, const char *path, int version);
int zkr__multi_set(zkr__multi_t *m, const char *path, const void *data,
                   size_t len, int version);
void zkr__multi_free(zkr__multi_t *m);
/* Consumes m whatever it returns. In cb, op->nmulti and op->mres hold the
 * per-op results. */
int zkr__amulti(zkr__multi_t *m, zkr__op_cb cb, void *ctx);

/* ---- blocking waits ------------------------------------------------------ */

/* A one-shot rendezvous for blocking wrappers over async operations. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int rc;
} zkr__waiter_t;
void zkr__waiter_init(zkr__waiter_t *w);
void zkr__waiter_destroy(zkr__waiter_t *w);
void zkr__waiter_signal(zkr__waiter_t *w, int rc);
/* ZKR_ETIMEDOUT if not signalled in time; otherwise the signalled rc. */
int zkr__waiter_wait(zkr__waiter_t *w, int timeout_ms);

/* ---- recipe objects and their callback contexts ------------------------- */

/* The head of every recipe object (its first member, named obj): the
 * mutex that guards the object, and its reference count: one for the
 * caller's handle plus one per callback context in flight. destroy frees
 * the rest of the object (and the object) once the last reference is
 * gone; the mutex is already destroyed then. */
typedef struct zkr__obj {
    pthread_mutex_t mu;
    int refs;
    void (*destroy)(struct zkr__obj *o);
} zkr__obj_t;

/* refs = 1 (the caller's). ZKR_OK or ZKR_ENOMEM (mutex). */
int zkr__obj_init(zkr__obj_t *o, void (*destroy)(zkr__obj_t *o));
/* Drop one reference; the caller does not hold o->mu. */
void zkr__obj_unref(zkr__obj_t *o);
/* Undo zkr__obj_init of an object that was never handed out (its
 * creation failed before destroy could run). */
void zkr__obj_fini(zkr__obj_t *o);

/* What a recipe passes to an async operation or a watch: the object it
 * belongs to (referenced) and the object's attempt and token counters at
 * the time, which tell a stale reply from a wanted one. */
typedef struct {
    zkr__obj_t *o;
    unsigned attempt;
    unsigned token;
    int flag;   /* the recipe's own use */
    char *name; /* copy of a node name, or NULL */
} zkr__ctx_t;

/* Caller holds o->mu. NULL on ENOMEM (then no reference is taken). */
zkr__ctx_t *zkr__ctx_new(zkr__obj_t *o, unsigned attempt, unsigned token,
                         const char *name);
/* Free a context whose operation never started. Caller holds o->mu, so
 * this never drops the last reference. Accepts NULL. */
void zkr__ctx_drop(zkr__ctx_t *x);
/* Free a context once its callback is done with it. Caller does not hold
 * o->mu (this may free the object). */
void zkr__ctx_done(zkr__ctx_t *x);

/* ---- client internals used by recipes ----------------------------------- */

/* Keep the client struct alive while a recipe object uses it. */
void zkr__client_ref(zkr_client_t *c);
void zkr__client_unref(zkr_client_t *c);
int zkr__client_closed(zkr_client_t *c);
/* Session generation: bumps on every new session. */
unsigned zkr__client_gen(zkr_client_t *c);
const struct ACL_vector *zkr__client_acl(zkr_client_t *c);
/* The ACL a recipe creates its nodes with, for its _new: *override, or
 * the client's default (zkr_client_opts_t.acl) when override is NULL.
 * ZKR_EINVAL for a value outside zkr_acl_t, or ZKR_ACL_CREATOR_ALL on a
 * client without digest credentials (as zkr_client_new). *out points at
 * libzookeeper's static vectors: the recipe keeps it in place of the
 * option (override may go away). */
int zkr__acl_pick(zkr_client_t *c, const zkr_acl_t *override,
                  const struct ACL_vector **out);
/* Host name and pid, the default lock-node data. Ownership: caller frees. */
char *zkr__default_node_data(void);

/* Validate a connect string "host:port[,host:port]*": ZKR_OK or
 * ZKR_EHOSTS. */
int zkr__check_hosts(const char *hosts);

/* ---- paths and names ----------------------------------------------------- */

/* Copy s into buf when it fits (with its NUL): ZKR_OK, else ZKR_EINVAL. */
int zkr__copy_out(const char *s, char *buf, size_t len);

/* 36-char lowercase UUID v4 + NUL. */
void zkr__uuid(char out[37]);
/* A fresh uuid into @p uuid and the path of a protected create under
 * @p dir: "<dir>/_c_<uuid><suffix>" (Curator's protected-name layout; the
 * uuid finds the node again when the create's reply is lost). malloc'd,
 * NULL on ENOMEM or a bad dir. */
char *zkr__protected_path(const char *dir, const char *suffix,
                          char uuid[37]);
/* Split "/a/b/c" into parent "/a/b" (malloc'd) or NULL on error. */
char *zkr__path_parent(const char *path);
/* Last path component (points into path). */
const char *zkr__path_basename(const char *path);
/* Sequence suffix of a name: the last 10 characters if they are a signed
 * decimal number; returns 0 on success. */
int zkr__seq_of(const char *name, int32_t *seq);
/* Compare sequence numbers, tolerating one wrap of the signed counter:
 * values far apart across the sign boundary compare by distance. */
int zkr__seq_cmp(int32_t a, int32_t b);

void zkr__stat_copy(zkr_stat_t *dst, const struct Stat *src);

/* Async ensure-path: create path and each missing parent, as flags
 * (ZKR_PERSISTENT or ZKR_CONTAINER). One round trip when the parent exists.
 * done runs exactly once (ZKR_OK if path exists in the end) if this
 * returns ZKR_OK. */
typedef void (*zkr__done_cb)(void *ctx, int rc);
int zkr__aensure(zkr_client_t *c, const char *path, int flags,
                 zkr__done_cb done, void *ctx);
/* The same, creating with acl (NULL: the client's default). */
int zkr__aensure_acl(zkr_client_t *c, const char *path, int flags,
                     const struct ACL_vector *acl, zkr__done_cb done,
                     void *ctx);

/* zkr_create and zkr_ensure_path (blocking; persistent parents) creating
 * with acl (NULL: the client's default). */
int zkr__create_acl(zkr_client_t *c, const char *path, const void *data,
                    size_t len, int flags, const struct ACL_vector *acl,
                    char **created);
int zkr__ensure_path_acl(zkr_client_t *c, const char *path,
                         const struct ACL_vector *acl);

/* Delete path in the background, without a callback: a lost connection
 * sends it again (the ZooKeeper client queues it until reconnected); a lost
 * session or a closed client ends it (an ephemeral node goes with its
 * session). Returns ZKR_OK or the error of the first attempt. */
int zkr__delete_bg(zkr_client_t *c, const char *path);

#endif
