/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/barrier.h
 * @brief Barrier (a gate that is set and removed) and double barrier (N
 *        members enter together and leave together).
 *
 * Barrier: the barrier is up while the node `<path>` exists (Curator's
 * DistributedBarrier layout). zkr_barrier_set creates it, persistent or
 * ephemeral; zkr_barrier_remove deletes it; zkr_barrier_wait returns once
 * it does not exist, watching it meanwhile. An ephemeral barrier goes away
 * by itself when the session that set it ends, so a crashed setter cannot
 * keep the waiters out forever; a persistent one stays until removed.
 *
 * Double barrier: each member is an EPHEMERAL node `<path>/<uuid>`, and a
 * node `<path>/ready` opens the barrier (Curator's DistributedDoubleBarrier
 * layout). Entering creates the member node; the member that finds N
 * members creates `ready`, and every member waiting on `ready` proceeds.
 * Leaving: the member with the lowest name leaves last; it waits for the
 * member with the highest name to go, the others delete their node and
 * wait for the lowest to go, until none is left; the last one out deletes
 * `ready`, so the path can be used again once everybody has left.
 *
 * What a crash does: a member's node lives as long as its session. If a
 * member dies before the barrier opened, its node vanishes when its
 * session expires and the others keep waiting for N members (a new
 * member can take its place). If it dies after entering, the others'
 * leave waits until its session expires (the session timeout, at most),
 * then completes: a crashed member never wedges the others for good. A
 * member whose own session ends while waiting enters again on its new
 * session; one whose session ends while inside is simply no longer
 * counted, and its leave waits only for the others.
 *
 * All members must agree on N: it is not stored in ZooKeeper.
 *
 * Threading: handles may be used from any thread; callbacks run on the
 * ZooKeeper completion thread and must be short; blocking calls made from
 * a callback return ZKR_EDEADLK.
 */
#ifndef ZKR_BARRIER_H
#define ZKR_BARRIER_H

#include <zkr/zkr.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque barrier handle. */
typedef struct zkr_barrier zkr_barrier_t;
/** Opaque double-barrier member handle. */
typedef struct zkr_double_barrier zkr_double_barrier_t;

/** Completion of zkr_barrier_wait_async: ZKR_OK (the barrier is down),
 *  ZKR_ECANCELED (canceled, freed, or the client closed), or a ZooKeeper
 *  error such as ZKR_ENOAUTH. */
typedef void (*zkr_barrier_cb)(zkr_barrier_t *b, int status, void *ctx);

/** Completion of an enter or leave: ZKR_OK, ZKR_ECANCELED (canceled,
 *  freed, or the client closed; the member node is deleted), or a
 *  ZooKeeper error. */
typedef void (*zkr_double_barrier_cb)(zkr_double_barrier_t *d, int status,
                                      void *ctx);

/**
 * Make a barrier handle on @p path.
 * @return ZKR_OK; ZKR_EINVAL (NULL client/out); ZKR_EBADPATH (malformed,
 *         or "/"); ZKR_ECLOSED; ZKR_ENOMEM.
 * Ownership: free with zkr_barrier_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_barrier_new(zkr_client_t *client, const char *path,
                               zkr_barrier_t **out);

/**
 * Put the barrier up (create the node and any missing parents). Setting a
 * barrier that is up is no error.
 * @param flags ZKR_PERSISTENT (stays until removed) or ZKR_EPHEMERAL (goes
 *        when this client's session ends).
 * @return ZKR_OK; ZKR_EINVAL (NULL, other flags); ZKR_ECONNLOSS;
 *         ZKR_ECLOSED; ZKR_EDEADLK; ZKR_ENOMEM; ZooKeeper errors (such as
 *         ZKR_ENOAUTH, ZKR_ESESSIONEXPIRED).
 * Ownership: nothing is kept or returned; the node belongs to the
 * ensemble (an ephemeral one to this client's current session).
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_barrier_set(zkr_barrier_t *b, int flags);

/**
 * Take the barrier down (delete the node). Removing a barrier that is not
 * up is no error.
 * @return ZKR_OK; ZKR_EINVAL; ZKR_ENOTEMPTY (the node has children);
 *         ZKR_ECONNLOSS; ZKR_ECLOSED; ZKR_EDEADLK; ZKR_ENOMEM; ZooKeeper
 *         errors.
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_barrier_remove(zkr_barrier_t *b);

/**
 * Wait until the barrier is down, at most @p timeout_ms (-1 forever, 0 =
 * just look).
 * @return ZKR_OK; ZKR_ETIMEDOUT (still up); ZKR_EBUSY (a wait is pending
 *         on this handle); ZKR_ECANCELED (zkr_barrier_cancel from another
 *         thread, or the client was freed); ZKR_EAUTHFAILED; ZKR_EINVAL;
 *         ZKR_ECLOSED; ZKR_EDEADLK; ZKR_ENOMEM; ZooKeeper errors.
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_barrier_wait(zkr_barrier_t *b, int timeout_ms);

/**
 * Start waiting until the barrier is down; @p cb runs exactly once if this
 * returns ZKR_OK (at once, on the completion thread, if it is down). Out
 * of memory while starting reaches @p cb as ZKR_ENOMEM, on the calling
 * thread before this returns; a refused authentication as ZKR_EAUTHFAILED.
 * @return ZKR_OK; ZKR_EINVAL (NULL b or cb); ZKR_EBUSY; ZKR_ECLOSED.
 * Ownership: @p ctx is borrowed until @p cb has run.
 * Thread safety: any thread, also callbacks.
 */
ZKR_EXTERN int zkr_barrier_wait_async(zkr_barrier_t *b, zkr_barrier_cb cb,
                                      void *ctx);

/** Cancel a pending wait: its callback runs with ZKR_ECANCELED on the
 *  calling thread before this returns.
 *  @return ZKR_OK; ZKR_ENOTHELD (nothing pending); ZKR_EINVAL.
 *  Ownership: nothing is kept or returned; the wait's ctx is not used
 *  again. Thread safety: any thread, also callbacks. */
ZKR_EXTERN int zkr_barrier_cancel(zkr_barrier_t *b);

/** Cancel a pending wait (its callback runs with ZKR_ECANCELED on the
 *  calling thread) and free the handle; the barrier node is left as it is.
 *  Accepts NULL. Ownership: the handle is invalid once this returns.
 *  Thread safety: call once, when no other thread uses the handle. */
ZKR_EXTERN void zkr_barrier_free(zkr_barrier_t *b);

/**
 * Make a double-barrier member on @p path for @p members members.
 * @return ZKR_OK; ZKR_EINVAL (NULL client/out, members < 1);
 *         ZKR_EBADPATH; ZKR_ECLOSED; ZKR_ENOMEM.
 * Ownership: free with zkr_double_barrier_free().
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_double_barrier_new(zkr_client_t *client,
                                      const char *path, int members,
                                      zkr_double_barrier_t **out);

/**
 * Enter: wait until @p members members have entered, at most @p timeout_ms
 * (-1 forever, 0 = only if it is open already).
 * @return ZKR_OK; ZKR_ETIMEDOUT (not open in time; our member node is
 *         deleted); ZKR_EBUSY (entered already, or an enter or leave is
 *         pending); ZKR_ECANCELED (zkr_double_barrier_cancel from another
 *         thread, or the client was freed); ZKR_EAUTHFAILED; ZKR_EINVAL;
 *         ZKR_ECLOSED; ZKR_EDEADLK; ZKR_ENOMEM; ZooKeeper errors.
 * Ownership: nothing is returned; the member node belongs to the handle
 * until it leaves (or is canceled or freed).
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_double_barrier_enter(zkr_double_barrier_t *d,
                                        int timeout_ms);

/**
 * Start entering; @p cb runs exactly once if this returns ZKR_OK. Out of
 * memory while starting reaches @p cb as ZKR_ENOMEM, on the calling thread
 * before this returns; a refused authentication as ZKR_EAUTHFAILED.
 * @return ZKR_OK; ZKR_EINVAL (NULL d or cb); ZKR_EBUSY; ZKR_ECLOSED.
 * Ownership: @p ctx is borrowed until @p cb has run.
 * Thread safety: any thread, also callbacks.
 */
ZKR_EXTERN int zkr_double_barrier_enter_async(zkr_double_barrier_t *d,
                                              zkr_double_barrier_cb cb,
                                              void *ctx);

/**
 * Leave: delete our member node and wait until every member has left, at
 * most @p timeout_ms (-1 forever, 0 = only if everybody else is out).
 * @return ZKR_OK; ZKR_ETIMEDOUT (others are still inside; our node is
 *         deleted, we count as gone); ZKR_EBUSY (not entered, or an enter
 *         or leave is pending); ZKR_ECANCELED (zkr_double_barrier_cancel
 *         from another thread, or the client was freed); ZKR_EAUTHFAILED;
 *         ZKR_EINVAL; ZKR_ECLOSED; ZKR_EDEADLK; ZKR_ENOMEM; ZooKeeper
 *         errors.
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_double_barrier_leave(zkr_double_barrier_t *d,
                                        int timeout_ms);

/**
 * Start leaving; @p cb runs exactly once if this returns ZKR_OK (also
 * with ZKR_ENOMEM or ZKR_EAUTHFAILED).
 * @return ZKR_OK; ZKR_EINVAL (NULL d or cb); ZKR_EBUSY; ZKR_ECLOSED.
 * Ownership: @p ctx is borrowed until @p cb has run.
 * Thread safety: any thread, also callbacks.
 */
ZKR_EXTERN int zkr_double_barrier_leave_async(zkr_double_barrier_t *d,
                                              zkr_double_barrier_cb cb,
                                              void *ctx);

/** Cancel a pending enter or leave (callback with ZKR_ECANCELED, on the
 *  calling thread before this returns; our member node is deleted).
 *  @return ZKR_OK; ZKR_ENOTHELD (nothing pending); ZKR_EINVAL.
 *  Ownership: nothing is kept or returned; the pending call's ctx is not
 *  used again. Thread safety: any thread, also callbacks. */
ZKR_EXTERN int zkr_double_barrier_cancel(zkr_double_barrier_t *d);

/** @return 1 while entered (enter succeeded, leave not begun; it stays 1
 *  if the session ends or the client is freed meanwhile, though the
 *  member node is gone then), else 0; 0 for NULL.
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int zkr_double_barrier_is_in(zkr_double_barrier_t *d);

/** Cancel what is pending (its callback runs with ZKR_ECANCELED on the
 *  calling thread), delete our member node (in the background), free.
 *  Accepts NULL. Ownership: the handle is invalid once this returns.
 *  Thread safety: call once, when no other thread uses the handle. */
ZKR_EXTERN void zkr_double_barrier_free(zkr_double_barrier_t *d);

#ifdef __cplusplus
}
#endif
#endif
