/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/queue.h
 * @brief Distributed FIFO queue over PERSISTENT_SEQUENTIAL children, with an
 *        at-least-once mode (leases) and a sharded mode for large queues.
 *
 * Layout (plain mode, the default): each item is a PERSISTENT_SEQUENTIAL
 * child `<path>/qn-<10-digit seq>` whose data are the item's bytes; the
 * oldest item is the one with the smallest sequence number. This is the
 * layout of Curator's SimpleDistributedQueue (and of ZooKeeper's own C
 * queue recipe), so a Java producer and a zkr consumer, or the reverse,
 * share a queue. Nodes of other names under `<path>` are ignored; zkr's
 * takes add one, `<path>/leases` (Curator's consumer skips it and logs it
 * as a foreign node).
 *
 * Taking: a consumer keeps the sorted listing of the queue and reads the
 * data of the next items ahead of time (reads change nothing). To take
 * (claim) item `qn-X` it sends one multi: delete the item and create a
 * claim marker `<path>/leases/qn-X`, a PERSISTENT node holding the
 * handle's random claim id ("zkr-claim-<uuid>"). A multi that succeeds
 * makes the item its own; one that fails changed nothing: another consumer
 * won the item (its delete finds no node), or holds a lease on it (the
 * marker's create finds the lease node). Right after a claim is known to
 * be its own, the consumer deletes the marker, not waiting for the reply:
 * in the multi of its next claim, or in one of its own when no claim
 * follows at once. Several claims go in one multi while they keep
 * succeeding. After losing a race the consumer
 * continues at a random place of its listing, so that consumers spread out
 * instead of all fighting over the oldest items. The listing is fetched
 * again only when the cached one is used up, and children are watched
 * only while the queue is empty, so an idle consumer costs nothing and a
 * busy one needs no getChildren per item.
 *
 * Guarantees of the plain take:
 * - no item is ever delivered twice, across any number of zkr consumers in
 *   any number of processes, also when connections drop and sessions
 *   expire while takes are in flight: when the reply to a claim is lost,
 *   the consumer reads the claim marker once connected again (on the same
 *   session or a new one): it holds its own claim id exactly when the
 *   claim was applied; then the item is delivered, else it is not;
 * - every item is delivered to exactly one take, except in the cases
 *   below, where an item removed from the queue is never delivered (at
 *   most once, never twice):
 *   - the consumer's process dies, or its client is closed under the
 *     handle, after the claim and before the item was handed to a take
 *     (items claimed ahead are put back by zkr_queue_free);
 *   - a claim's reply was lost and the consumer cannot check its marker
 *     before zkr_queue_free gives up (twice the session timeout without a
 *     connection), or before the marker is removed as an orphan (below);
 * - FIFO: items put by one producer (one handle, or puts ordered one after
 *   the other) come out of a single consumer in the order they were put.
 *   With several consumers each item still goes to exactly one of them,
 *   oldest first as long as they do not collide; a consumer that collided
 *   takes the rest of its listing from a random place on, wrapping around,
 *   so what one of several consumers receives is not always in put order;
 * - an item is removed from ZooKeeper when it is taken: if the consumer
 *   dies before it has processed the item, the item is gone. Use leases
 *   (below) when that is not acceptable;
 * - markers: a marker lives one round trip after its claim, and is
 *   deleted again (also on a new session) if that delete does not go
 *   through; zkr_queue_free waits for the deletes. A marker whose consumer
 *   died before deleting it (an orphan) is deleted by any consumer that
 *   lists the queue (at most once a minute per handle) once it is older
 *   than opts.orphan_ms (default ten minutes, server time against the
 *   consumer's clock); a consumer that stays cut off from ZooKeeper for
 *   longer than that with a claim in doubt may lose that item. Markers are
 *   named after items already deleted, so listings ignore them;
 * - a plain take never takes an item leased by a lease consumer (below);
 *   once one of its claims met a lease, the handle leaves leased items out
 *   of its listings and waits for them to be acked or given back;
 * - consumers need the right to create `<path>/leases` (first take) and
 *   to create and delete nodes in it, besides deleting items;
 * - foreign consumers that take with a bare delete (Curator's
 *   SimpleDistributedQueue) are not covered: an item such a consumer
 *   deletes is never delivered twice by zkr, but the foreign consumer
 *   itself may lose or repeat items on connection loss.
 *
 * Order is by sequence number compared as a serial number, so the
 * server's signed 32-bit counter wrapping to negative keeps the order
 * (Curator compares names as text and does not).
 *
 * At-least-once mode (zkr_queue_take_lease, zkr_queue_ack,
 * zkr_queue_nack): a lease on item `qn-X` is an EPHEMERAL node
 * `<path>/leases/qn-X`, created in one multi with a check that the item
 * still exists. While it exists other lease consumers skip the item; ack
 * deletes the item and the lease in one multi; nack deletes the lease only.
 * When the consumer's session ends (crash, expiry) its leases vanish with
 * it and the items are taken again by others: nothing is lost when a
 * consumer dies between take and ack, but an item can be delivered more
 * than once (at least once). A redelivered item keeps its place in the
 * queue; consumers find it when they next list the queue. Order is
 * otherwise as for the plain take.
 * Plain takes and lease takes may share a queue: a plain claim and a lease
 * claim of one item create the same node, so only one of them succeeds.
 * Lease consumers skip claim markers (they name items already taken).
 *
 * Sharded mode (opts.shards > 0): items are spread over bucket nodes
 * `<path>/s-0000` ... `<path>/s-<shards-1>`, each holding `qn-` children,
 * so that no child list nears ZooKeeper's 1 MB packet limit (about 60,000
 * items per list): 64 shards hold millions of items. A producer handle
 * puts each item (each batch) into the next shard, round robin from a
 * random start. A consumer discovers the shards by listing `<path>`,
 * starts at a random one, and drains the cached listing of one shard
 * before it moves on to the next. Ordering guarantee: within one shard
 * items are taken in the order they were put (as for a plain queue: by a
 * single consumer, and oldest first by several); across shards there is
 * no order. Every item is still taken exactly once
 * (plain takes, as above) or at least once (leases); leases and claim
 * markers are named `<path>/leases/s-NNNN-qn-X`.
 * All producers and consumers of a sharded queue must use sharded mode.
 *
 * Threading: a handle may be used from any thread; callbacks run on the
 * ZooKeeper completion thread and must be short. Blocking calls made from
 * a callback return ZKR_EDEADLK.
 */
#ifndef ZKR_QUEUE_H
#define ZKR_QUEUE_H

#include <stddef.h>

#include <zkr/zkr.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque queue handle. */
typedef struct zkr_queue zkr_queue_t;
/** Opaque lease on one item (at-least-once mode). */
typedef struct zkr_queue_lease zkr_queue_lease_t;

/** Queue options; fill with zkr_queue_opts_init(). */
typedef struct {
    int shards;   /**< 0 (default): plain queue; N > 0: sharded over N
                       buckets (1..9999). Consumers use the buckets they
                       find, so N matters for producers only. */
    int prefetch; /**< items a consumer claims ahead of its takes (0).
                       Raises take throughput, since claims are pipelined
                       and batched: the handle claims up to this many, and
                       claims again once half of them are taken (or a
                       take waits). It keeps these items also between
                       takes, so free it when done consuming.
                       Claimed items are removed from the queue, so if the
                       process dies they are lost (plain takes) or return
                       to the queue when the session ends (leases).
                       zkr_queue_free puts claimed, undelivered items back
                       at the tail (plain) or releases them (leases). */
    int orphan_ms; /**< age (ms) after which a consumer removes another
                        consumer's claim marker that was never deleted
                        (its process died just after a claim); 0: the
                        default ZKR_QUEUE_ORPHAN_MS. A consumer cut off
                        from ZooKeeper for longer than this while a take's
                        claim is in doubt may lose that item. */
    const zkr_acl_t *acl; /**< ACL for the nodes this queue creates (its
                               own nodes: items, shards, leases, claim
                               markers; and missing parents); NULL
                               (default): the client's
                               (zkr_client_opts_t.acl). The pointed-to
                               value is read during zkr_queue_new only
                               (copied). */
} zkr_queue_opts_t;

/** Default of zkr_queue_opts_t.orphan_ms: 10 minutes. */
#define ZKR_QUEUE_ORPHAN_MS 600000

/** Completion of a put or an ack: ZKR_OK, ZKR_ECONNLOSS (the connection
 *  dropped: the put may or may not have been applied), ZKR_ECANCELED
 *  (client closed), or a ZooKeeper error. */
typedef void (*zkr_queue_cb)(zkr_queue_t *q, int status, void *ctx);

/**
 * Completion of zkr_queue_take_async. On ZKR_OK @p data (@p len bytes,
 * followed by a NUL not counted in @p len) and @p name (the item's node
 * name, "qn-0000000042", or "s-0003/qn-0000000042" in sharded mode) are
 * borrowed until the callback returns; otherwise they are NULL.
 * status: ZKR_OK; ZKR_ECANCELED (zkr_queue_cancel, zkr_queue_free or the
 * client closed); or a ZooKeeper error such as ZKR_ENOAUTH.
 */
typedef void (*zkr_queue_take_cb)(zkr_queue_t *q, int status,
                                  const void *data, size_t len,
                                  const char *name, void *ctx);

/**
 * Completion of zkr_queue_take_lease_async. On ZKR_OK the callee owns
 * @p lease and must end it with zkr_queue_ack() or zkr_queue_nack();
 * otherwise @p lease is NULL. Statuses as for zkr_queue_take_cb.
 */
typedef void (*zkr_queue_lease_cb)(zkr_queue_t *q, int status,
                                   zkr_queue_lease_t *lease, void *ctx);

/**
 * Fill @p opts with defaults (plain queue, no prefetch).
 * Thread safety: any thread.
 */
ZKR_EXTERN void zkr_queue_opts_init(zkr_queue_opts_t *opts);

/**
 * Make a queue handle on @p path. Nothing is created until the first put.
 * @param opts options, or NULL for defaults.
 * @return ZKR_OK; ZKR_EINVAL (NULL client/out, shards or prefetch out of
 *         range, orphan_ms < 0, opts->acl not a zkr_acl_t or
 *         ZKR_ACL_CREATOR_ALL on a client without digest credentials);
 *         ZKR_EBADPATH (malformed path, or "/"); ZKR_ECLOSED; ZKR_ENOMEM.
 * Ownership: free with zkr_queue_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_queue_new(zkr_client_t *client, const char *path,
                             const zkr_queue_opts_t *opts,
                             zkr_queue_t **out);

/**
 * Append one item. Puts from one handle, also pipelined async ones, land
 * in the order they were made.
 * @return ZKR_OK; ZKR_EINVAL (NULL q, NULL data with len > 0);
 *         ZKR_ETOOBIG (len > ZKR_MAX_DATA); ZKR_ECONNLOSS (outcome
 *         unknown); ZKR_ECLOSED; ZKR_EDEADLK (called from a callback);
 *         ZooKeeper errors (ZKR_ENOAUTH, ...).
 * Ownership: @p data is copied. Thread safety: any thread but the
 * completion thread.
 */
ZKR_EXTERN int zkr_queue_put(zkr_queue_t *q, const void *data, size_t len);

/**
 * Start appending one item; @p cb runs exactly once if this returns ZKR_OK.
 * Items put by one handle are appended in call order.
 * @return ZKR_OK; ZKR_EINVAL; ZKR_ETOOBIG; ZKR_ECLOSED; ZKR_ENOMEM.
 * Ownership: @p data is copied. Thread safety: any thread, also callbacks.
 */
ZKR_EXTERN int zkr_queue_put_async(zkr_queue_t *q, const void *data,
                                   size_t len, zkr_queue_cb cb, void *ctx);

/**
 * Append @p n items atomically (all or none) in one multi, in array order.
 * In sharded mode the whole batch goes to one shard.
 * @return ZKR_OK; ZKR_EINVAL (n < 1, NULL arrays or items);
 *         ZKR_ETOOBIG (the batch would exceed ZKR_MAX_DATA in all,
 *         counting about 64 bytes per item for its path);
 *         ZKR_ECONNLOSS; ZKR_ECLOSED; ZKR_EDEADLK; ZooKeeper errors.
 * Ownership: items are copied. Thread safety: any thread but the
 * completion thread.
 */
ZKR_EXTERN int zkr_queue_put_batch(zkr_queue_t *q,
                                   const void *const *items,
                                   const size_t *lens, int n);

/**
 * Start zkr_queue_put_batch; @p cb runs exactly once if this returns
 * ZKR_OK, with the statuses of zkr_queue_cb.
 * @return ZKR_OK; ZKR_EINVAL (NULL q or cb, n < 1, NULL arrays or items);
 *         ZKR_ETOOBIG; ZKR_ECLOSED (handle or client freed);
 *         ZKR_ESESSIONEXPIRED (no session open now: after a LOST, before
 *         the next session) and other errors of sending; ZKR_ENOMEM.
 * Ownership: items are copied; @p ctx is borrowed until @p cb has run.
 * Thread safety: any thread, also callbacks.
 */
ZKR_EXTERN int zkr_queue_put_batch_async(zkr_queue_t *q,
                                         const void *const *items,
                                         const size_t *lens, int n,
                                         zkr_queue_cb cb, void *ctx);

/**
 * Take the oldest item, waiting up to @p timeout_ms for one to arrive (-1
 * forever, 0 = only if one is there: one fresh look at the queue).
 * @param data receives a NUL-terminated copy (the NUL is not counted in
 *        @p len).
 * @return ZKR_OK; ZKR_ETIMEDOUT (nothing arrived in time); ZKR_EINVAL
 *         (NULL q, data or len); ZKR_ECLOSED; ZKR_ECANCELED
 *         (zkr_queue_cancel from another thread); ZKR_EDEADLK; ZKR_ENOMEM
 *         (the item is put back at the tail); ZooKeeper errors.
 * Ownership: free *data with zkr_free(). Thread safety: any thread but the
 * completion thread; several threads may take from one handle at once.
 */
ZKR_EXTERN int zkr_queue_take(zkr_queue_t *q, int timeout_ms, char **data,
                              size_t *len);

/**
 * Start a take that waits as long as needed; @p cb runs exactly once if
 * this returns ZKR_OK (possibly on the calling thread before this
 * returns, e.g. when an item claimed ahead is ready). Several takes may be
 * pending on one handle: they are served in call order, and their claims
 * are pipelined.
 * @return ZKR_OK; ZKR_EINVAL (NULL q or cb); ZKR_ECLOSED (handle or
 *         client freed); ZKR_ENOMEM.
 * Ownership: @p ctx is borrowed until @p cb has run; the item's data and
 * name are borrowed for the duration of @p cb (copy what you keep).
 * Thread safety: any thread, also callbacks.
 */
ZKR_EXTERN int zkr_queue_take_async(zkr_queue_t *q, zkr_queue_take_cb cb,
                                    void *ctx);

/**
 * Cancel every pending take and take_lease of this handle (their
 * callbacks run with ZKR_ECANCELED, on the calling thread before this
 * returns). Items claimed for them meanwhile are kept for the next take.
 * @return ZKR_OK; ZKR_ENOTHELD (nothing pending, also after the client
 *         was freed); ZKR_EINVAL (NULL q).
 * Ownership: nothing is kept or returned; the takes' ctx are not used
 * after their callbacks.
 * Thread safety: any thread, also callbacks.
 */
ZKR_EXTERN int zkr_queue_cancel(zkr_queue_t *q);

/**
 * Read the oldest item without taking it (sharded: the oldest item of the
 * first non-empty shard). Leased items are included.
 * @return ZKR_OK; ZKR_ENONODE (the queue is empty); ZKR_EINVAL;
 *         ZKR_ECLOSED; ZKR_EDEADLK; ZooKeeper errors.
 * Ownership: free *data with zkr_free(). Thread safety: any thread but the
 * completion thread.
 */
ZKR_EXTERN int zkr_queue_peek(zkr_queue_t *q, char **data, size_t *len);

/**
 * Count the items in the queue now (leased items included; a moment's
 * view, as other clients put and take). A queue whose node does not exist
 * yet counts 0.
 * @return ZKR_OK; ZKR_EINVAL (NULL q or count); ZKR_ECLOSED (client
 *         freed); ZKR_EDEADLK; ZKR_ENOMEM; ZooKeeper errors.
 * Ownership: nothing is kept; *count is the caller's (0 on error).
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_queue_size(zkr_queue_t *q, size_t *count);

/**
 * Take the oldest item that is not leased by anybody under a lease,
 * waiting up to @p timeout_ms (-1 forever, 0 = only if one is there).
 * The item stays in the queue, invisible to other lease consumers, until
 * zkr_queue_ack (done: removed) or zkr_queue_nack (given back), or until
 * this client's session ends (given back).
 * @return ZKR_OK; ZKR_ETIMEDOUT; ZKR_EINVAL; ZKR_ECLOSED; ZKR_ECANCELED;
 *         ZKR_EDEADLK; ZooKeeper errors.
 * Ownership: *lease is the caller's until ack or nack.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_queue_take_lease(zkr_queue_t *q, int timeout_ms,
                                    zkr_queue_lease_t **lease);

/**
 * Start a lease take that waits as long as needed; @p cb runs exactly once
 * if this returns ZKR_OK (possibly on the calling thread before this
 * returns, e.g. when a lease claimed ahead is ready).
 * @return ZKR_OK; ZKR_EINVAL (NULL q or cb); ZKR_ECLOSED (handle or
 *         client freed); ZKR_ENOMEM.
 * Ownership: @p ctx is borrowed until @p cb has run; a lease handed to
 * @p cb with ZKR_OK is the callee's (end it with ack or nack).
 * Thread safety: any thread, also callbacks.
 */
ZKR_EXTERN int zkr_queue_take_lease_async(zkr_queue_t *q,
                                          zkr_queue_lease_cb cb, void *ctx);

/**
 * The leased item's bytes (NUL-terminated; the NUL is not counted in
 * *len). @p len may be NULL. Returns NULL for a NULL lease.
 * Ownership: valid until the lease is acked or nacked.
 * Thread safety: any thread.
 */
ZKR_EXTERN const void *zkr_queue_lease_data(const zkr_queue_lease_t *lease,
                                            size_t *len);

/**
 * @return the leased item's node name ("qn-0000000042", or
 * "s-0003/qn-0000000042" in sharded mode); NULL for a NULL lease.
 * Ownership: as zkr_queue_lease_data. Thread safety: any thread.
 */
ZKR_EXTERN const char *zkr_queue_lease_name(const zkr_queue_lease_t *lease);

/**
 * Finish the item: delete it and its lease in one multi, and free the
 * lease handle (whatever the result, except ZKR_EINVAL and ZKR_EDEADLK).
 * @return ZKR_OK; ZKR_ELOCKLOST (the lease ended with its session before
 *         the ack: the item was or will be delivered again, and is not
 *         deleted by this call); ZKR_ENONODE (the item was removed by
 *         somebody else, e.g. a plain take; the lease is released);
 *         ZKR_ECONNLOSS (outcome unknown: if the ack was not applied the
 *         item is delivered again once the session ends); ZKR_ECLOSED;
 *         ZKR_EDEADLK (called from a callback: use zkr_queue_ack_async);
 *         ZKR_EINVAL; ZooKeeper errors.
 * Thread safety: any thread but the completion thread; one thread per
 * lease.
 */
ZKR_EXTERN int zkr_queue_ack(zkr_queue_lease_t *lease);

/**
 * Start zkr_queue_ack; @p cb runs exactly once with the statuses of
 * zkr_queue_ack if this returns ZKR_OK. The lease handle is consumed
 * (freed) when this returns ZKR_OK or any error but ZKR_EINVAL.
 * @return ZKR_OK; ZKR_EINVAL (NULL lease or cb); ZKR_ELOCKLOST;
 *         ZKR_ECLOSED; ZKR_ENOMEM.
 * Thread safety: any thread, also callbacks.
 */
ZKR_EXTERN int zkr_queue_ack_async(zkr_queue_lease_t *lease,
                                   zkr_queue_cb cb, void *ctx);

/**
 * Give the item back: delete the lease (without waiting for the reply) so
 * that the item, still in its place in the queue, is taken again; frees
 * the lease handle.
 * @return ZKR_OK; ZKR_ELOCKLOST (the lease had already ended with its
 *         session: the item is back in any case); ZKR_EINVAL (NULL).
 * Thread safety: any thread, also callbacks.
 */
ZKR_EXTERN int zkr_queue_nack(zkr_queue_lease_t *lease);

/**
 * Cancel pending takes (callbacks with ZKR_ECANCELED) and free the handle.
 * Items claimed ahead (prefetch, or for a take that timed out) and not
 * delivered are put back at the tail of the queue; leases claimed ahead
 * are released; claims whose reply was lost are checked (what was ours
 * is put back) and claim markers are deleted. Unless called from a
 * callback, waits (up to twice the session timeout, also for the
 * connection to come back) until that is done; what is left then is
 * logged (a claim not checked: its item may be lost; a marker: removed as
 * an orphan later). Puts in flight complete normally
 * and their callbacks still run once. Leases handed out stay valid.
 * Accepts NULL. Thread safety: call once, when no other thread uses the
 * handle.
 */
ZKR_EXTERN void zkr_queue_free(zkr_queue_t *q);

#ifdef __cplusplus
}
#endif
#endif
