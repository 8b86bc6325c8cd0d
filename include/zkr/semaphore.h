/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/semaphore.h
 * @brief Counting semaphore with a fixed number of leases, compatible with
 *        Curator's InterProcessSemaphoreV2.
 *
 * Layout (Curator's): a mutex on `<path>/locks` serialises acquirers; each
 * lease is an EPHEMERAL_SEQUENTIAL node `<path>/leases/_c_<uuid>-lease-<seq>`.
 * An acquirer holding the mutex creates its lease node and keeps it once
 * the number of leases is at most the maximum, waiting on a children watch
 * otherwise; then it releases the mutex. A lease dies with its session, so
 * a crashed holder frees its leases when its session expires.
 *
 * All participants must agree on the maximum: it is not stored in
 * ZooKeeper (as with Curator's fixed-count constructor).
 *
 * Threading: a handle may be used from any thread; callbacks run on the
 * ZooKeeper completion thread and must be short.
 */
#ifndef ZKR_SEMAPHORE_H
#define ZKR_SEMAPHORE_H

#include <zkr/zkr.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zkr_semaphore zkr_semaphore_t;

/** Completion of zkr_semaphore_acquire_async: ZKR_OK (all requested leases
 *  held), ZKR_ECANCELED (canceled or freed, also the client; none of the
 *  leases of this call are kept), ZKR_ELOCKLOST (the session ended while
 *  acquiring), ZKR_ENOMEM, or a ZooKeeper error. */
typedef void (*zkr_semaphore_cb)(zkr_semaphore_t *sem, int status,
                                 void *ctx);

/**
 * Make a semaphore handle on @p path with @p max_leases leases in all.
 * @param data lease-node data (copied), NULL for "host:pid".
 * @return ZKR_OK; ZKR_EINVAL (NULL client/out, max_leases < 1);
 *         ZKR_EBADPATH; ZKR_ETOOBIG; ZKR_ECLOSED; ZKR_ENOMEM.
 * Ownership: free with zkr_semaphore_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_semaphore_new(zkr_client_t *client, const char *path,
                                 int max_leases, const void *data,
                                 size_t data_len, zkr_semaphore_t **out);

/**
 * Acquire @p count leases (all or none), waiting at most @p timeout_ms (-1
 * forever, 0 = only if free now).
 * @return ZKR_OK; ZKR_ETIMEDOUT (none kept); ZKR_EINVAL (NULL sem, count
 *         < 1 or more than max_leases); ZKR_EBUSY (an acquire is pending on
 *         this handle); ZKR_EDEADLK (called from a callback); ZKR_ECLOSED
 *         (client freed); ZKR_ECANCELED (zkr_semaphore_cancel from another
 *         thread, or the client freed meanwhile); ZKR_ELOCKLOST;
 *         ZKR_ENOMEM; ZooKeeper errors. On error no lease of this call is
 *         kept.
 * Ownership: nothing is returned; the leases belong to the handle until
 * released (zkr_semaphore_release, zkr_semaphore_free) or lost with the
 * session.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_semaphore_acquire(zkr_semaphore_t *sem, int count,
                                     int timeout_ms);

/**
 * Start acquiring @p count leases; @p cb runs exactly once if this returns
 * ZKR_OK (on the calling thread before this returns if the acquire cannot
 * even be started).
 * @return ZKR_OK; ZKR_EINVAL (NULL sem or cb, count < 1 or more than
 *         max_leases); ZKR_EBUSY; ZKR_ECLOSED (client freed).
 * Ownership: @p ctx is borrowed until @p cb has run.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_semaphore_acquire_async(zkr_semaphore_t *sem, int count,
                                           zkr_semaphore_cb cb, void *ctx);

/** Cancel a pending acquire (callback with ZKR_ECANCELED, on the calling
 *  thread before this returns; its leases are deleted).
 *  @return ZKR_OK; ZKR_ENOTHELD (nothing pending); ZKR_EINVAL (NULL sem).
 *  Ownership: nothing is kept or returned; the acquire's ctx is not used
 *  after its callback. Thread safety: any thread, also from callbacks. */
ZKR_EXTERN int zkr_semaphore_cancel(zkr_semaphore_t *sem);

/**
 * Return @p count leases held by this handle (deletes their nodes without
 * waiting for the replies). Leases of a pending acquire do not count.
 * @return ZKR_OK; ZKR_ENOTHELD (fewer held, also after the session or the
 *         client is gone); ZKR_EINVAL (NULL sem, count < 1).
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_semaphore_release(zkr_semaphore_t *sem, int count);

/** @return the leases this handle holds now, not counting those of a
 *  pending acquire; 0 after its session is lost or its client freed, and
 *  for NULL.
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int zkr_semaphore_held(zkr_semaphore_t *sem);

/** Cancel (the callback runs with ZKR_ECANCELED on the calling thread),
 *  return every lease (deleting the nodes without waiting), free. Accepts
 *  NULL. Ownership: the handle is invalid once this returns.
 *  Thread safety: call once, when no other thread uses the handle; any
 *  thread, also from its callbacks. */
ZKR_EXTERN void zkr_semaphore_free(zkr_semaphore_t *sem);

#ifdef __cplusplus
}
#endif
#endif
