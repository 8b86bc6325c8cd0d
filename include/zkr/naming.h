/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/naming.h
 * @brief Naming service: cluster-unique 64-bit IDs from sequential nodes,
 *        and names bound to values (persistent or ephemeral) that can be
 *        resolved and watched.
 *
 * **Unique IDs** (zkr_idgen_t). Layout under the generator path P:
 * - P holds "zkr-idgen batch=N": the block size every generator of P uses
 *   (the first one to create P decides it; the others follow it).
 * - P/b-0000000000, P/b-0000000001, ... are buckets. One reservation is
 *   one EPHEMERAL_SEQUENTIAL create `P/b-K/r-` whose sequence number S
 *   reserves the block of N IDs starting at ((K << 31) | S) * N; the
 *   reservation node is deleted at once (without waiting). One round trip
 *   yields N IDs.
 * - A bucket's counter (the parent's cversion, signed 32-bit) is retired
 *   at 2^30, before it could wrap: the generator that sees a sequence
 *   number at or past it creates bucket K+1 (a plain create, so racing
 *   generators agree on it) and reserves there.
 *
 * Guarantees: no ID is handed out twice, by any generator of P in any
 * process; the IDs one handle returns strictly increase; blocks are ordered
 * by the order the server committed their reservations (so a block
 * reserved later is larger than every block reserved before it, even by
 * others). IDs are not dense: unused IDs of a freed handle's block, and
 * every other sequence number, are skipped. IDs are never negative.
 *
 * **Names**. A name is a znode path; its value is the node's data. A bound
 * name is persistent, or ephemeral (gone when the binding session ends; it
 * is not re-created: use zkr_registration_new() for a binding that comes
 * back after a new session).
 *
 * Threading: handles may be used from any thread. Callbacks run on the
 * ZooKeeper completion thread and must be short. Blocking calls made from a
 * callback return ZKR_EDEADLK.
 */
#ifndef ZKR_NAMING_H
#define ZKR_NAMING_H

#include <stddef.h>
#include <stdint.h>

#include <zkr/zkr.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- unique IDs ------------------------------------------------------- */

typedef struct zkr_idgen zkr_idgen_t;

/** Completion of zkr_idgen_next_async: ZKR_OK with the ID, or an error
 *  (@p id is then 0): ZKR_ECANCELED (handle or client freed first),
 *  ZKR_ECONNLOSS / ZKR_ESESSIONEXPIRED are retried internally and never
 *  reported; ZKR_ENOAUTH, ZKR_EMARSHALLING (P holds something else),
 *  ZKR_EINVAL (the 64-bit space is used up), ZKR_ENOMEM. */
typedef void (*zkr_idgen_cb)(zkr_idgen_t *g, int status, int64_t id,
                             void *ctx);

/** Generator options; fill with zkr_idgen_opts_init(). */
typedef struct {
    int batch; /**< IDs per reservation, 1..65536 (default 1000); only the
                    first generator of a path decides it */
    const zkr_acl_t *acl; /**< ACL for the nodes this generator creates
                               (the path, its buckets and reservations,
                               and missing parents); NULL (default): the
                               client's (zkr_client_opts_t.acl). The
                               pointed-to value is read during
                               zkr_idgen_new only (copied). */
} zkr_idgen_opts_t;

/** Defaults. Thread safety: any thread. */
ZKR_EXTERN void zkr_idgen_opts_init(zkr_idgen_opts_t *o);

/**
 * Make a generator on @p path (created with missing parents on first use).
 * @return ZKR_OK; ZKR_EINVAL (NULL client/out, batch out of range,
 *         opts->acl not a zkr_acl_t or ZKR_ACL_CREATOR_ALL on a client
 *         without digest credentials); ZKR_EBADPATH; ZKR_ECLOSED;
 *         ZKR_ENOMEM.
 * Ownership: free with zkr_idgen_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_idgen_new(zkr_client_t *client, const char *path,
                             const zkr_idgen_opts_t *opts,
                             zkr_idgen_t **out);

/**
 * Get the next ID, reserving a new block when this handle's block is used
 * up.
 * @param timeout_ms -1 forever.
 * @return ZKR_OK; ZKR_ETIMEDOUT (the request is withdrawn; while the
 *         client is disconnected it waits for the connection);
 *         ZKR_EDEADLK (on the completion thread); ZKR_EINVAL (NULL g or
 *         id); ZKR_ECLOSED (handle or client freed); ZKR_ENOMEM; the
 *         errors of zkr_idgen_cb.
 * Ownership: nothing is kept; *id is the caller's (0 on error).
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_idgen_next(zkr_idgen_t *g, int timeout_ms, int64_t *id);

/**
 * Get the next ID asynchronously. @p cb runs exactly once: at once on this
 * thread when the current block has an ID left (or when the request fails
 * at once, e.g. out of memory), else on the completion thread. Requests
 * are served in the order they were made.
 * @return ZKR_OK; ZKR_EINVAL (NULL g or cb); ZKR_ECLOSED (handle or
 *         client freed); ZKR_ENOMEM.
 * Ownership: @p ctx is borrowed until @p cb has run.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_idgen_next_async(zkr_idgen_t *g, zkr_idgen_cb cb,
                                    void *ctx);

/** @return the block size in effect: the path's once known, else the
 *  option (0 for NULL). Ownership: nothing is kept or returned.
 *  Thread safety: any thread. */
ZKR_EXTERN int zkr_idgen_batch(zkr_idgen_t *g);

/** @return the number of reservations (round trips for IDs) this handle
 *  made (0 for NULL). Ownership: nothing is kept or returned.
 *  Thread safety: any thread. */
ZKR_EXTERN unsigned zkr_idgen_reservations(zkr_idgen_t *g);

/** Free; pending callbacks run with ZKR_ECANCELED. Accepts NULL. Call
 *  once. Thread safety: any thread. */
ZKR_EXTERN void zkr_idgen_free(zkr_idgen_t *g);

/* ---- names ------------------------------------------------------------- */

/** zkr_naming_bind flags. */
enum {
    ZKR_NAMING_EPHEMERAL = 1, /**< bind for the current session only */
    ZKR_NAMING_EXCLUSIVE = 2  /**< fail with ZKR_ENODEEXISTS if bound */
};

/**
 * Bind @p name to @p value, creating missing parents. An existing binding
 * is replaced (its node is replaced when persistence or the owner of an
 * ephemeral binding differs; else its data are set), unless
 * ZKR_NAMING_EXCLUSIVE.
 * @return ZKR_OK; ZKR_EINVAL (NULL client, value NULL with len, unknown
 *         flags); ZKR_EBADPATH; ZKR_ETOOBIG; ZKR_ENODEEXISTS (exclusive);
 *         ZKR_ENOTEMPTY (the bound node has children and must be
 *         replaced); ZKR_EBUSY (others kept changing it); ZKR_ECLOSED;
 *         ZKR_ENOMEM; ZooKeeper errors; ZKR_EDEADLK.
 * Ownership: @p value is the caller's (sent, not kept).
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_naming_bind(zkr_client_t *client, const char *name,
                               const void *value, size_t len, int flags);

/**
 * Resolve @p name.
 * @param value receives a NUL-terminated copy (NUL not counted in @p len,
 *        which may be NULL).
 * @return ZKR_OK; ZKR_ENONODE (not bound); ZKR_EINVAL (NULL client or
 *         value); ZKR_EBADPATH; ZKR_ECLOSED; ZKR_ENOMEM; ZooKeeper
 *         errors; ZKR_EDEADLK.
 * Ownership: free *value with zkr_free().
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_naming_resolve(zkr_client_t *client, const char *name,
                                  char **value, size_t *len);

/**
 * Remove the binding of @p name.
 * @return ZKR_OK; ZKR_ENONODE (not bound); ZKR_ENOTEMPTY (the node has
 *         children); ZKR_EINVAL (NULL client); ZKR_EBADPATH (also "/");
 *         ZKR_ECLOSED; ZKR_ENOMEM; ZooKeeper errors; ZKR_EDEADLK.
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_naming_unbind(zkr_client_t *client, const char *name);

typedef struct zkr_naming_watch zkr_naming_watch_t;

/**
 * Name watch callback: ZKR_OK with the value (borrowed, NUL-terminated)
 * when the name is bound or its value changed, ZKR_ENONODE (value NULL)
 * when it is not bound, or a lasting error (ZKR_ENOAUTH). The first call
 * reports the state at the start; later calls report each change seen
 * (changes between two reads may merge into one report). Never runs after
 * zkr_naming_watch_free has returned, unless called from the callback.
 */
typedef void (*zkr_naming_cb)(zkr_naming_watch_t *w, int status,
                              const char *value, size_t len, void *ctx);

/**
 * Watch @p name.
 * @return ZKR_OK; ZKR_EINVAL (NULL client, cb or out); ZKR_EBADPATH;
 *         ZKR_ECLOSED; ZKR_ENOMEM.
 * Ownership: free with zkr_naming_watch_free().
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_naming_watch_new(zkr_client_t *client, const char *name,
                                    zkr_naming_cb cb, void *ctx,
                                    zkr_naming_watch_t **out);

/** Stop watching and free the handle. A callback running on another
 *  thread finishes first; none runs after this returns. Accepts NULL.
 *  Ownership: the handle is invalid and ctx no longer used once this
 *  returns (called from the callback: once that callback returns).
 *  Thread safety: call once; any thread, also from the callback. */
ZKR_EXTERN void zkr_naming_watch_free(zkr_naming_watch_t *w);

#ifdef __cplusplus
}
#endif
#endif
