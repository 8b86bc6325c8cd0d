/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/election.h
 * @brief Leader election in Apache Curator's LeaderLatch layout, with a
 *        fencing token.
 *
 * Layout: each candidate is an EPHEMERAL_SEQUENTIAL child of the election
 * path named `_c_<uuid>-latch-<seq>` (Curator's protected form), holding
 * the participant id as its data. The lowest sequence number leads, so
 * leadership passes in join order. A zkr candidate and a Java candidate
 * using Curator's LeaderLatch on the same path elect among themselves.
 * Children without `latch-` and a sequence suffix are ignored.
 *
 * Each candidate watches only the node in front of it, so a leader's
 * departure wakes exactly one candidate. When that candidate's predecessor
 * was the leader, its deletion makes the candidate leader without another
 * listing (sequence numbers only grow). Before claiming leadership a
 * candidate checks that the node's ephemeral owner is its own current
 * session, so a node left by an older session of the same client never
 * counts.
 *
 * Leadership is reported as lost as soon as it becomes uncertain: when the
 * connection is suspended (the session may be expiring and another
 * candidate may soon lead). If the same session reconnects and our node is
 * still first, leadership is reported again. After a lost session the
 * candidate rejoins on the client's new session by itself, at the end of
 * the line.
 *
 * Fencing token (zkr_election_token): the czxid of the leader's node. It
 * grows with every new leader across the ensemble; give it to the resource
 * you protect and let the resource reject smaller tokens. That is the only
 * protection against a leader that was paused (GC, SIGSTOP, a frozen VM)
 * past its session timeout and acts before it learns of the loss.
 *
 * Threading: a zkr_election_t may be used from any thread; it locks
 * internally. Callbacks of one election never run concurrently and run in
 * the order of the events; they run on the ZooKeeper completion thread (or
 * the thread calling zkr_election_resign/free, or the client's manager
 * thread for a LOST it decides) and must be short. Blocking calls made
 * from a callback return ZKR_EDEADLK.
 */
#ifndef ZKR_ELECTION_H
#define ZKR_ELECTION_H

#include <zkr/zkr.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque election handle: one candidate (or an observer until joined). */
typedef struct zkr_election zkr_election_t;

/**
 * Election callback: leadership events and join completion.
 *
 * As on_leader: @p status is ZKR_OK; zkr_election_token is valid.
 *
 * As on_lost (exactly once after every on_leader): ZKR_ECONNLOSS the
 * connection is suspended, leadership is uncertain (stop acting as leader
 * now; it may be reported again after reconnecting); ZKR_ESESSIONEXPIRED
 * the session is gone; ZKR_ENONODE our node was deleted by someone else
 * (we rejoin); ZKR_ECANCELED zkr_election_resign or zkr_election_free;
 * ZKR_ECLOSED the client was freed.
 *
 * As join completion: ZKR_OK (our node exists and we know our place);
 * ZKR_ECANCELED (resign, free or client free first); a ZooKeeper error
 * (ZKR_ENOAUTH, ZKR_EAUTHFAILED, ...), after which we are not a candidate.
 */
typedef void (*zkr_election_cb)(zkr_election_t *e, int status, void *ctx);

/** Election options; fill with zkr_election_opts_init(). */
typedef struct {
    const char *id;           /**< participant id, the node's data (copied);
                                   NULL: "host:pid". Any bytes but NUL. */
    zkr_election_cb on_leader; /**< we became leader; may be NULL */
    zkr_election_cb on_lost;   /**< we stopped being leader; may be NULL */
    void *ctx;                 /**< passed to on_leader and on_lost */
    const zkr_acl_t *acl;      /**< ACL for the nodes this election
                                    creates (its own node and missing
                                    parents); NULL (default): the client's
                                    (zkr_client_opts_t.acl). The pointed-to
                                    value is read during zkr_election_new
                                    only (copied). */
} zkr_election_opts_t;

/** One participant, as listed by zkr_election_participants(). */
typedef struct {
    char *id;        /**< participant id (node data), NUL-terminated */
    char *node;      /**< node name, "_c_<uuid>-latch-<seq>" */
    int64_t czxid;   /**< its fencing token if it leads */
    int64_t owner;   /**< owning session id */
    int is_leader;   /**< 1 for the first participant */
} zkr_election_participant_t;

/** Fill @p opts with defaults. Thread safety: any thread. */
ZKR_EXTERN void zkr_election_opts_init(zkr_election_opts_t *opts);

/**
 * Make an election handle for @p path (created with its parents, as
 * container nodes, when joining). The handle does not take part until
 * zkr_election_join(); before that it can observe (leader, participants).
 * @return ZKR_OK; ZKR_EINVAL (NULL client/out; opts->acl not a zkr_acl_t,
 *         or ZKR_ACL_CREATOR_ALL on a client without digest credentials);
 *         ZKR_EBADPATH (also "/"); ZKR_ETOOBIG (id over ZKR_MAX_DATA);
 *         ZKR_ECLOSED (client freed); ZKR_ENOMEM.
 * Ownership: free with zkr_election_free(); inputs are copied.
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_election_new(zkr_client_t *client, const char *path,
                                const zkr_election_opts_t *opts,
                                zkr_election_t **out);

/**
 * Join the election: create our node. @p cb runs exactly once (see
 * zkr_election_cb) once our node exists and our place is known; on_leader
 * may follow at once. The candidate stays in the election until resign or
 * free, rejoining after a lost session.
 * @return ZKR_OK (cb will run; out of memory while starting reaches it as
 *         ZKR_ENOMEM, on the calling thread before this returns);
 *         ZKR_EBUSY (already a candidate); ZKR_ECLOSED (client freed);
 *         ZKR_EINVAL (NULL e or cb). On error cb never runs.
 * Ownership: @p ctx is borrowed until @p cb has run.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_election_join_async(zkr_election_t *e, zkr_election_cb cb,
                                       void *ctx);

/**
 * Join and wait until our node exists (not until we lead).
 * @param timeout_ms -1 waits forever.
 * @return ZKR_OK; ZKR_ETIMEDOUT (the join goes on in the background:
 *         resign to stop it); ZKR_EBUSY; ZKR_ECANCELED (resigned or freed
 *         from another thread, or the client freed); ZKR_ECLOSED;
 *         ZKR_EDEADLK (called from a callback); ZKR_EAUTHFAILED;
 *         ZKR_ENOAUTH and other ZooKeeper errors; ZKR_ENOMEM; ZKR_EINVAL.
 * Ownership: nothing is returned; our node belongs to the handle.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_election_join(zkr_election_t *e, int timeout_ms);

/**
 * Wait until this candidate leads.
 * @param timeout_ms -1 waits forever, 0 only checks.
 * @return ZKR_OK (leader now); ZKR_ETIMEDOUT; ZKR_ENOTHELD (not a
 *         candidate: never joined, resigned, or the join failed);
 *         ZKR_ECLOSED (the client was freed); ZKR_EDEADLK; ZKR_EINVAL
 *         (NULL e).
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_election_await(zkr_election_t *e, int timeout_ms);

/**
 * Leave the election: delete our node (without waiting for the reply, as
 * a lock release does), report on_lost(ZKR_ECANCELED) if we led, and
 * complete a pending join with ZKR_ECANCELED. The handle may join again.
 * Those callbacks run on the calling thread before this returns, unless
 * this election's callbacks are running already (they then run after the
 * current one, on its thread).
 * @return ZKR_OK; ZKR_ENOTHELD (not a candidate, also after the client
 *         was freed); ZKR_EINVAL (NULL e).
 * Ownership: nothing is kept or returned; a pending join's ctx is not used
 * after its callback.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_election_resign(zkr_election_t *e);

/** @return 1 if this candidate leads and the connection is up, else 0
 *  (also for NULL, and once the client is freed).
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int zkr_election_is_leader(zkr_election_t *e);

/** @return the fencing token of the current leadership (czxid of our
 *  node); 0 when not leader (also while suspended, for NULL, and once the
 *  client is freed).
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int64_t zkr_election_token(zkr_election_t *e);

/**
 * Name of our node (e.g. "_c_...-latch-0000000007") into @p buf.
 * @return ZKR_OK; ZKR_ENOTHELD (no node now); ZKR_EINVAL (NULL or small
 *         buffer).
 * Ownership: @p buf is the caller's; nothing is kept.
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_election_node(zkr_election_t *e, char *buf, size_t len);

/**
 * Read the participants in order (the leader first) from the server.
 * @param out receives an array of @p count entries (NULL and 0 when
 *        nobody takes part).
 * @return ZKR_OK; ZKR_EINVAL; ZKR_EDEADLK; ZKR_ECONNLOSS,
 *         ZKR_ESESSIONEXPIRED, ZKR_ENOAUTH, ZKR_ECLOSED; ZKR_ENOMEM.
 * Ownership: free with zkr_election_participants_free(out, count).
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_election_participants(zkr_election_t *e,
                                         zkr_election_participant_t **out,
                                         int *count);

/** Free an array from zkr_election_participants. Accepts NULL.
 *  Thread safety: any thread. */
ZKR_EXTERN void zkr_election_participants_free(zkr_election_participant_t *p,
                                               int count);

/**
 * Read the id of the current leader from the server.
 * @param id receives a NUL-terminated copy.
 * @return ZKR_OK; ZKR_ENONODE (nobody takes part); the errors of
 *         zkr_election_participants.
 * Ownership: free *id with zkr_free().
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_election_leader(zkr_election_t *e, char **id);

/**
 * Resign (see zkr_election_resign) and free the handle. Callbacks due at
 * that point run before it returns, unless it is called from one of this
 * election's own callbacks. Accepts NULL.
 * Thread safety: call once; any thread, also from callbacks.
 */
ZKR_EXTERN void zkr_election_free(zkr_election_t *e);

#ifdef __cplusplus
}
#endif
#endif
