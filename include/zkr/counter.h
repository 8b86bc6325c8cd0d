/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/counter.h
 * @brief Shared counter: a 64-bit (or 32-bit) value in one znode, with
 *        compare-and-swap on the node version and add-and-get with retries.
 *
 * Encodings (Curator's layouts, so Java and C share a counter):
 * - ZKR_COUNTER_LONG: 8-byte big-endian signed value, as Curator's
 *   DistributedAtomicLong writes it (the default);
 * - ZKR_COUNTER_INT: 4-byte big-endian signed value, as Curator's
 *   SharedCount writes it. Values are 32-bit and arithmetic wraps, as in
 *   Java.
 * A missing node or an empty node reads as the initial value (0 by
 * default); the node is created (with missing parents) on the first write.
 *
 * An add reads the node, writes value + delta with the version it read,
 * and starts again when another writer came first (ZKR_EBADVERSION), so N
 * clients adding M times leave exactly N*M, whatever the contention.
 * A write whose reply is lost with the connection may or may not have been
 * applied: it is reported as ZKR_ECONNLOSS, never retried blindly (unlike
 * Curator, whose retry can apply an increment twice).
 *
 * Threading: a handle may be used from any thread. Callbacks run on the
 * ZooKeeper completion thread and must be short. Blocking calls made from a
 * callback return ZKR_EDEADLK.
 */
#ifndef ZKR_COUNTER_H
#define ZKR_COUNTER_H

#include <stdint.h>

#include <zkr/zkr.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zkr_counter zkr_counter_t;

/** Value encodings. */
typedef enum {
    ZKR_COUNTER_LONG = 0, /**< 8 bytes big-endian (DistributedAtomicLong) */
    ZKR_COUNTER_INT = 1   /**< 4 bytes big-endian (SharedCount) */
} zkr_counter_encoding_t;

/** Counter options; fill with zkr_counter_opts_init(). */
typedef struct {
    zkr_counter_encoding_t encoding; /**< ZKR_COUNTER_LONG */
    int64_t initial;  /**< value of a missing or empty node (0) */
    int max_retries;  /**< version conflicts an add tolerates; -1 (the
                           default) retries until it succeeds */
    const zkr_acl_t *acl; /**< ACL for the nodes this counter creates (its
                               node and missing parents); NULL (default):
                               the client's (zkr_client_opts_t.acl). The
                               pointed-to value is read during
                               zkr_counter_new only (copied). */
} zkr_counter_opts_t;

/** Completion of zkr_counter_add_async: ZKR_OK with the new value;
 *  ZKR_EBADVERSION (max_retries conflicts); ZKR_ECONNLOSS (the write's
 *  fate is unknown); ZKR_EMARSHALLING (the node holds something else);
 *  ZKR_ECANCELED (handle or client freed first); ZKR_ENOMEM; ZooKeeper
 *  errors such as ZKR_ESESSIONEXPIRED. */
typedef void (*zkr_counter_cb)(zkr_counter_t *k, int status, int64_t value,
                               void *ctx);

/** Defaults. Thread safety: any thread. */
ZKR_EXTERN void zkr_counter_opts_init(zkr_counter_opts_t *o);

/**
 * Make a counter handle on @p path. Sends nothing.
 * @return ZKR_OK; ZKR_EINVAL (NULL client/out, bad encoding, initial out of
 *         the encoding's range, max_retries < -1, opts->acl not a
 *         zkr_acl_t or ZKR_ACL_CREATOR_ALL on a client without digest
 *         credentials); ZKR_EBADPATH; ZKR_ECLOSED; ZKR_ENOMEM.
 * Ownership: free with zkr_counter_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_counter_new(zkr_client_t *client, const char *path,
                               const zkr_counter_opts_t *opts,
                               zkr_counter_t **out);

/**
 * Read the value and the node version (-1 when the node does not exist;
 * the value is then the initial one).
 * @param version may be NULL.
 * @return ZKR_OK; ZKR_EMARSHALLING (data of another length); ZKR_EINVAL
 *         (NULL k or value); ZKR_ECLOSED (client freed); ZKR_ENOMEM;
 *         ZooKeeper errors; ZKR_EDEADLK.
 * Ownership: nothing is kept; *value and *version are the caller's.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_counter_get(zkr_counter_t *k, int64_t *value,
                               int32_t *version);

/**
 * Write @p value whatever the current one (creating the node if needed).
 * @return ZKR_OK; ZKR_EINVAL (NULL k, value out of range for INT);
 *         ZKR_ENODEEXISTS (others deleted and created the node under us
 *         ten times running); ZKR_ECLOSED (client freed); ZKR_ENOMEM;
 *         ZooKeeper errors; ZKR_EDEADLK.
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_counter_set(zkr_counter_t *k, int64_t value);

/**
 * Compare-and-swap on the version: write @p value only if the node's
 * version is still @p version (as read by zkr_counter_get); @p version -1
 * writes only if the node does not exist yet (it is created).
 * @param new_version may be NULL; receives the version after the write.
 * @return ZKR_OK; ZKR_EBADVERSION (changed meanwhile); ZKR_ENODEEXISTS
 *         (version -1 and the node exists); ZKR_ENONODE (version >= 0 and
 *         no node); ZKR_EINVAL (NULL k, version below -1, value out of
 *         range for INT); ZKR_ECONNLOSS (the write may or may not have
 *         been applied); ZKR_ECLOSED (client freed); ZKR_ENOMEM;
 *         ZooKeeper errors; ZKR_EDEADLK.
 * Ownership: nothing is kept; *new_version is the caller's.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_counter_cas(zkr_counter_t *k, int32_t version,
                               int64_t value, int32_t *new_version);

/**
 * Compare-and-set on the value (DistributedAtomicLong.compareAndSet):
 * write @p value if the current value is @p expected.
 * @return ZKR_OK; ZKR_EBADVERSION (the value differs); ZKR_EINVAL (NULL
 *         k, value out of range for INT); ZKR_EMARSHALLING; ZKR_ECONNLOSS
 *         (the write may or may not have been applied); ZKR_ECLOSED
 *         (client freed); ZKR_ENOMEM; ZooKeeper errors; ZKR_EDEADLK.
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_counter_compare_and_set(zkr_counter_t *k,
                                           int64_t expected, int64_t value);

/**
 * Add @p delta and return the new value (add-and-get), retrying on
 * version conflicts.
 * @param result may be NULL.
 * @return ZKR_OK; the errors of zkr_counter_cb; ZKR_EINVAL (NULL k, delta
 *         out of range for INT); ZKR_ECLOSED (handle or client freed);
 *         ZKR_ENOMEM; ZKR_EDEADLK.
 * Ownership: nothing is kept; *result is the caller's (0 on error).
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_counter_add(zkr_counter_t *k, int64_t delta,
                               int64_t *result);

/**
 * Start an add; @p cb runs exactly once if this returns ZKR_OK. Adds of
 * one handle run one after the other, in the order they were made. When
 * the first read cannot be sent (out of memory, or no session open), @p cb
 * runs with that error on the calling thread before this returns.
 * @return ZKR_OK; ZKR_EINVAL (NULL k or cb, delta out of range for INT);
 *         ZKR_ECLOSED (handle or client freed); ZKR_ENOMEM.
 * Ownership: @p ctx is borrowed until @p cb has run.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_counter_add_async(zkr_counter_t *k, int64_t delta,
                                     zkr_counter_cb cb, void *ctx);

/** @return the version conflicts this handle's adds met and retried so
 *  far (0 for NULL). Ownership: nothing is kept or returned.
 *  Thread safety: any thread. */
ZKR_EXTERN unsigned zkr_counter_conflicts(zkr_counter_t *k);

/** Free; pending add callbacks run with ZKR_ECANCELED. Accepts NULL. Call
 *  once. Thread safety: any thread. */
ZKR_EXTERN void zkr_counter_free(zkr_counter_t *k);

#ifdef __cplusplus
}
#endif
#endif
