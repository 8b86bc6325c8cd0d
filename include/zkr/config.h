/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/config.h
 * @brief Watched configuration node: a local cache of one znode (and
 *        optionally its children) that never misses the last value, and a
 *        compare-and-swap push.
 *
 * The cache reads the node with a watch; every event makes it read again
 * (and set a new watch), so whatever happens in between, the last read
 * comes after the last change. Bursts of changes are coalesced: you may
 * not see every intermediate version, but you always end up with the
 * final one. After a reconnection (RECONNECTED) and after a new session
 * (a lost session) the cache reads everything again, so changes made while
 * it was cut off are not missed either. While disconnected it keeps
 * serving the last value it read.
 *
 * With zkr_config_opts_t.children set, the node's children (one level) and
 * their data are cached too, each with its own watch.
 *
 * Threading: a zkr_config_t may be used from any thread. The change
 * callback runs on the ZooKeeper completion thread (or the client's
 * manager thread), never twice at once, and must be short: typically it
 * wakes a thread that calls zkr_config_get().
 */
#ifndef ZKR_CONFIG_H
#define ZKR_CONFIG_H

#include <zkr/zkr.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque cache handle. */
typedef struct zkr_config zkr_config_t;

/** zkr_config_push version: overwrite whatever is there, create the node
 *  (and its parents) if missing. */
#define ZKR_CONFIG_ANY (-1)
/** zkr_config_push version: create the node only if it does not exist. */
#define ZKR_CONFIG_ABSENT (-2)

/**
 * Change callback. Runs once the cache has loaded for the first time, then
 * after every change it sees (changes in a burst may be coalesced into
 * one call; the cache then holds the newest state). @p status: ZKR_OK the
 * node exists (its data, version or children changed); ZKR_ENONODE the
 * node does not exist. Read the new state with zkr_config_get().
 */
typedef void (*zkr_config_cb)(zkr_config_t *cfg, int status, void *ctx);

/** Cache options; fill with zkr_config_opts_init(). */
typedef struct {
    zkr_config_cb on_change; /**< may be NULL */
    void *ctx;
    int children;            /**< 1: also cache the children and their data */
} zkr_config_opts_t;

/** One cached child, as returned by zkr_config_children(). */
typedef struct {
    char *name;     /**< child name (not a path) */
    char *data;     /**< its data, NUL-terminated (NUL not counted in len) */
    size_t len;
    zkr_stat_t stat;
} zkr_config_entry_t;

/** Fill @p opts with defaults. Thread safety: any thread. */
ZKR_EXTERN void zkr_config_opts_init(zkr_config_opts_t *opts);

/**
 * Start caching @p path (which need not exist yet). Loading goes on in the
 * background: see zkr_config_wait_synced() and the change callback.
 * @return ZKR_OK; ZKR_EINVAL (NULL client/out); ZKR_EBADPATH; ZKR_ECLOSED
 *         (client freed); ZKR_ENOMEM.
 * Ownership: free with zkr_config_free(); @p path and @p opts are copied
 * (opts->ctx is passed to the callback as is).
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_config_new(zkr_client_t *client, const char *path,
                              const zkr_config_opts_t *opts,
                              zkr_config_t **out);

/**
 * Wait until the cache has loaded once.
 * @param timeout_ms -1 waits forever.
 * @return ZKR_OK (also at once if it has loaded before); ZKR_ETIMEDOUT;
 *         ZKR_ECLOSED (the client was freed before the first load);
 *         ZKR_EDEADLK (called from a callback); ZKR_EINVAL (NULL cfg).
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_config_wait_synced(zkr_config_t *cfg, int timeout_ms);

/**
 * The cached value of the node.
 * @param data if not NULL, receives a NUL-terminated copy (the NUL is not
 *        counted in @p len). @p len and @p stat may be NULL.
 * @return ZKR_OK; ZKR_ENONODE (the node does not exist); ZKR_EBUSY (not
 *         loaded yet); ZKR_EINVAL; ZKR_ENOMEM.
 * Ownership: free *data with zkr_free().
 * Thread safety: any thread, also from callbacks (it does not block).
 */
ZKR_EXTERN int zkr_config_get(zkr_config_t *cfg, char **data, size_t *len,
                              zkr_stat_t *stat);

/**
 * The cached children, sorted by name.
 * @param out receives an array of @p count entries (NULL when none).
 * @return ZKR_OK; ZKR_EBUSY (not loaded yet); ZKR_EINVAL (NULL arguments,
 *         or the cache was made without opts.children); ZKR_ENOMEM.
 * Ownership: free with zkr_config_entries_free(out, count).
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_config_children(zkr_config_t *cfg,
                                   zkr_config_entry_t **out, int *count);

/** Free an array from zkr_config_children(). Accepts NULL.
 *  Thread safety: any thread. */
ZKR_EXTERN void zkr_config_entries_free(zkr_config_entry_t *entries,
                                        int count);

/**
 * Stop caching and free the handle. A change callback running on another
 * thread finishes before this returns (unless called from that callback).
 * Accepts NULL.
 * Thread safety: call once; any thread, also from callbacks.
 */
ZKR_EXTERN void zkr_config_free(zkr_config_t *cfg);

/**
 * Write @p data to @p path with compare-and-swap on the data version.
 * @param version the version the new data is based on (from
 *        zkr_config_get's stat): the write succeeds only if the node is
 *        still at that version. ZKR_CONFIG_ABSENT: only if the node does
 *        not exist (it is created, with its parents). ZKR_CONFIG_ANY:
 *        unconditionally (created if missing).
 * @param stat if not NULL, receives the node's new stat on success, and
 *        its current stat on a conflict (zeroed if it does not exist).
 * @return ZKR_OK; ZKR_EBADVERSION (conflict: the node is at another
 *         version, or exists when ZKR_CONFIG_ABSENT was asked);
 *         ZKR_ENONODE (a version was given but the node does not exist);
 *         ZKR_EINVAL (NULL client, data NULL with len > 0, version below
 *         -2); ZKR_EBADPATH; ZKR_ETOOBIG (over ZKR_MAX_DATA); ZKR_EDEADLK;
 *         ZKR_ECONNLOSS (the write may or may not have been applied: read
 *         back); ZKR_ENOAUTH and other ZooKeeper errors.
 * Ownership: @p data is the caller's (sent, not kept); @p stat is the
 *         caller's.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_config_push(zkr_client_t *client, const char *path,
                               const void *data, size_t len, int version,
                               zkr_stat_t *stat);

#ifdef __cplusplus
}
#endif
#endif
