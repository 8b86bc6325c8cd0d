/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/rwlock.h
 * @brief Shared/exclusive (read/write) lock, compatible with Curator's
 *        InterProcessReadWriteLock.
 *
 * Both sides queue in one directory: readers as `_c_<uuid>-__READ__<seq>`,
 * writers as `_c_<uuid>-__WRIT__<seq>`. A writer holds the lock when no
 * node is ahead of it; a reader holds it when no writer is ahead of it, so
 * readers share and wait only for earlier writers, and writers wait for
 * everybody earlier (no writer starvation). Each side is a zkr_lock_t, so
 * acquire, try, timeout, cancel, tokens and state callbacks work as in
 * zkr/lock.h.
 *
 * Unlike Curator, holding the write side does not let the same handle take
 * the read side without queueing (no downgrade).
 */
#ifndef ZKR_RWLOCK_H
#define ZKR_RWLOCK_H

#include <zkr/lock.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zkr_rwlock zkr_rwlock_t;

/**
 * Make a read/write lock on @p path.
 * @param opts options for both sides (data, reentrancy, state callback,
 *        ACL of the nodes they create), or NULL for defaults. Copied.
 * @return ZKR_OK; ZKR_EINVAL (as zkr_lock_new, also for opts->acl);
 *         ZKR_EBADPATH; ZKR_ETOOBIG; ZKR_ECLOSED; ZKR_ENOMEM.
 * Ownership: free with zkr_rwlock_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_rwlock_new(zkr_client_t *client, const char *path,
                              const zkr_lock_opts_t *opts,
                              zkr_rwlock_t **out);

/** @return the read (shared) side; NULL for a NULL handle.
 *  Ownership: borrowed: valid until zkr_rwlock_free; do not pass it to
 *  zkr_lock_free. Thread safety: any thread. */
ZKR_EXTERN zkr_lock_t *zkr_rwlock_read(zkr_rwlock_t *rw);

/** @return the write (exclusive) side; NULL for a NULL handle.
 *  Ownership: borrowed, as for zkr_rwlock_read.
 *  Thread safety: any thread. */
ZKR_EXTERN zkr_lock_t *zkr_rwlock_write(zkr_rwlock_t *rw);

/** Free both sides (canceling and releasing as zkr_lock_free does).
 *  Accepts NULL. Ownership: the handle and both sides are invalid once
 *  this returns. Thread safety: call once; any thread. */
ZKR_EXTERN void zkr_rwlock_free(zkr_rwlock_t *rw);

#ifdef __cplusplus
}
#endif
#endif
