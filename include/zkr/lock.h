/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/lock.h
 * @brief Fair distributed mutex with fencing tokens, compatible with
 *        Curator's InterProcessMutex and kazoo's Lock.
 *
 * Layout: contenders are EPHEMERAL_SEQUENTIAL children of the lock path,
 * named `_c_<uuid>-lock-<seq>` (Curator's protected form). The lowest
 * sequence number holds the lock; each waiter watches only its immediate
 * predecessor, so one release wakes one waiter. Nodes of kazoo's Lock
 * (`<uuid>__lock__<seq>`) are contenders too, so zkr, Curator and kazoo
 * clients can share one lock (kazoo needs `extra_lock_patterns=("-lock-",)`
 * to see Curator's and zkr's nodes).
 *
 * Sequence numbers are signed 32-bit per parent and wrap after
 * 2147483647; zkr orders them as serial numbers, so a wrap in the middle of
 * a queue keeps its order.
 *
 * The fencing token (zkr_lock_token) is the czxid of our lock node: it
 * grows with every new holder across the ensemble. Give it to the resource
 * you protect and let it reject smaller tokens.
 *
 * Threading: a zkr_lock_t may be used from any thread; it locks
 * internally. Callbacks run on the ZooKeeper completion thread and must be
 * short; blocking zkr calls made there return ZKR_EDEADLK.
 */
#ifndef ZKR_LOCK_H
#define ZKR_LOCK_H

#include <zkr/zkr.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque lock handle. */
typedef struct zkr_lock zkr_lock_t;

/**
 * Completion of zkr_lock_acquire_async, and the state callback.
 *
 * As acquire completion, @p status is ZKR_OK (held), ZKR_ECANCELED
 * (zkr_lock_cancel, zkr_lock_free or zkr_client_free came first), or a
 * ZooKeeper error (ZKR_ENOAUTH, ...).
 *
 * As state callback (zkr_lock_opts_t.state_cb), for a held lock:
 * ZKR_ECONNLOSS = connection suspended, the hold is uncertain (stop
 * touching the resource); ZKR_OK = reconnected with the same session, the
 * hold is certain again; ZKR_ELOCKLOST = the session is gone (expired, or
 * closed by zkr_client_free) and so is the lock (zkr_lock_is_held is now
 * 0).
 */
typedef void (*zkr_lock_cb)(zkr_lock_t *lock, int status, void *ctx);

/** Lock options; fill with zkr_lock_opts_init(). */
typedef struct {
    const void *data;     /**< lock-node data (copied); NULL: "host:pid" */
    size_t data_len;
    int reentrant;        /**< 1 (default): acquiring a held lock again on
                               the same handle counts up; 0: ZKR_EBUSY */
    zkr_lock_cb state_cb; /**< hold-state changes, may be NULL */
    void *state_ctx;
    const zkr_acl_t *acl; /**< ACL for the nodes this lock creates (its
                               own nodes and missing parents); NULL
                               (default): the client's
                               (zkr_client_opts_t.acl). The pointed-to
                               value is read during zkr_lock_new only
                               (copied). */
} zkr_lock_opts_t;

/** Fill @p opts with defaults. Any thread. */
ZKR_EXTERN void zkr_lock_opts_init(zkr_lock_opts_t *opts);

/**
 * Make a lock handle for @p path (created with its parents, as container
 * nodes, on first use).
 * @return ZKR_OK; ZKR_EINVAL (NULL client/out; opts->acl not a zkr_acl_t,
 *         or ZKR_ACL_CREATOR_ALL on a client without digest credentials);
 *         ZKR_EBADPATH; ZKR_ETOOBIG (data); ZKR_ECLOSED (client freed);
 *         ZKR_ENOMEM.
 * Ownership: free with zkr_lock_free(); inputs are copied.
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_lock_new(zkr_client_t *client, const char *path,
                            const zkr_lock_opts_t *opts, zkr_lock_t **out);

/**
 * Acquire, waiting at most @p timeout_ms (-1 forever, 0 = try once).
 * @return ZKR_OK (held); ZKR_EWOULDBLOCK (timeout 0 and held elsewhere);
 *         ZKR_ETIMEDOUT; ZKR_ECANCELED (zkr_lock_cancel from another
 *         thread, or the client freed); ZKR_EBUSY (already acquiring, or
 *         held and not reentrant); ZKR_EDEADLK (called from a callback);
 *         ZKR_ECLOSED (client freed); ZKR_EAUTHFAILED; ZKR_ENOMEM;
 *         ZKR_ENOAUTH and other ZooKeeper errors; ZKR_EINVAL (NULL lock).
 * On any error no node of ours is left behind.
 * Ownership: nothing is returned; our lock node belongs to the handle until
 * the last release.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_lock_acquire(zkr_lock_t *lock, int timeout_ms);

/**
 * Start acquiring; @p cb runs exactly once when held or failed (see
 * zkr_lock_cb). If the lock is already held and reentrant, the hold count
 * grows and cb runs before this returns.
 * @return ZKR_OK (cb will run; if the first create cannot be sent, e.g.
 *         out of memory, it runs with that error on the calling thread
 *         before this returns); ZKR_EBUSY (an acquire is in progress, or
 *         held and not reentrant); ZKR_ECLOSED (client freed); ZKR_EINVAL
 *         (NULL lock or cb). On error cb never runs.
 * Ownership: @p ctx is borrowed until @p cb has run.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_lock_acquire_async(zkr_lock_t *lock, zkr_lock_cb cb,
                                      void *ctx);

/**
 * Give up a pending acquire: its callback runs with ZKR_ECANCELED (on the
 * calling thread, before this returns) and our node is deleted. No effect
 * when nothing is pending.
 * @return ZKR_OK; ZKR_ENOTHELD (nothing pending: idle or held);
 *         ZKR_EINVAL (NULL lock).
 * Ownership: nothing is kept or returned; the acquire's ctx is not used
 * after its callback.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_lock_cancel(zkr_lock_t *lock);

/**
 * Release one hold. The last release deletes our node without waiting for
 * the reply (the session orders it before any later request; a lost
 * connection is retried, a lost session deletes the node anyway).
 * @return ZKR_OK; ZKR_ENOTHELD (not held, also after ZKR_ELOCKLOST);
 *         ZKR_EINVAL (NULL lock).
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_lock_release(zkr_lock_t *lock);

/** @return 1 if held and the connection is up (not SUSPENDED), else 0;
 *  0 for NULL, and 0 once the session is gone (expired, or closed by
 *  zkr_client_free): the node went with it.
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int zkr_lock_is_held(zkr_lock_t *lock);

/** @return the fencing token of the current hold (czxid of our node),
 *  also while SUSPENDED; 0 when not held (also once the session is gone)
 *  and for NULL.
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int64_t zkr_lock_token(zkr_lock_t *lock);

/**
 * Name of our lock node (e.g. "_c_...-lock-0000000007") into @p buf.
 * @return ZKR_OK; ZKR_ENOTHELD (no node); ZKR_EINVAL (NULL or small buf).
 * Ownership: @p buf is the caller's; nothing is kept.
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_lock_node(zkr_lock_t *lock, char *buf, size_t len);

/**
 * Cancel any pending acquire (callback with ZKR_ECANCELED), release a hold
 * (deleting our node), and free the handle. Accepts NULL.
 * Thread safety: call once; any thread, also from callbacks.
 */
ZKR_EXTERN void zkr_lock_free(zkr_lock_t *lock);

#ifdef __cplusplus
}
#endif
#endif
