/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/group.h
 * @brief Group membership: join a group as an ephemeral member with data,
 *        and keep a live list of members.
 *
 * Layout (that of Curator's GroupMember): each member is an EPHEMERAL
 * child `<path>/<id>` holding the member's data; the group path is created
 * as a container node. A member keeps itself in the group: after its
 * session is lost it joins again on the client's new session, and if
 * somebody deletes its node it creates it again. Member ids must be unique:
 * a member whose id is taken by another live session waits until that
 * node goes away.
 *
 * The member list is a watched cache (zkr_config_t with children): it
 * converges on the group's current members after every change, also across
 * reconnections and new sessions.
 *
 * Threading: a zkr_group_t may be used from any thread. Callbacks run on
 * the ZooKeeper completion thread (or the thread calling leave/free) and
 * must be short; blocking calls made there return ZKR_EDEADLK.
 */
#ifndef ZKR_GROUP_H
#define ZKR_GROUP_H

#include <zkr/zkr.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque group handle. */
typedef struct zkr_group zkr_group_t;

/**
 * Group callback. As on_change: the member list changed (or was loaded
 * for the first time); @p status is ZKR_OK, or ZKR_ENONODE when the group
 * node does not exist. As join completion: ZKR_OK our node exists;
 * ZKR_ECANCELED (leave, free or client free first); a ZooKeeper error
 * (ZKR_ENOAUTH, ...), after which we are not a member.
 */
typedef void (*zkr_group_cb)(zkr_group_t *g, int status, void *ctx);

/** Group options; fill with zkr_group_opts_init(). */
typedef struct {
    zkr_group_cb on_change; /**< member list changed; may be NULL */
    void *ctx;
    const zkr_acl_t *acl;   /**< ACL for the nodes this group creates (its
                                 member node and missing parents); NULL
                                 (default): the client's
                                 (zkr_client_opts_t.acl). The pointed-to
                                 value is read during zkr_group_new only
                                 (copied). */
} zkr_group_opts_t;

/** One member, as listed by zkr_group_members(). */
typedef struct {
    char *id;      /**< member id (node name) */
    char *data;    /**< member data, NUL-terminated (not counted in len) */
    size_t len;
    int64_t owner; /**< owning session id */
} zkr_group_member_t;

/** Fill @p opts with defaults. Thread safety: any thread. */
ZKR_EXTERN void zkr_group_opts_init(zkr_group_opts_t *opts);

/**
 * Make a group handle and start watching the member list of @p path. It
 * observes only, until zkr_group_join().
 * @return ZKR_OK; ZKR_EINVAL (NULL client/out; opts->acl not a zkr_acl_t,
 *         or ZKR_ACL_CREATOR_ALL on a client without digest credentials);
 *         ZKR_EBADPATH (also "/"); ZKR_ECLOSED; ZKR_ENOMEM.
 * Ownership: free with zkr_group_free().
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_group_new(zkr_client_t *client, const char *path,
                             const zkr_group_opts_t *opts, zkr_group_t **out);

/**
 * Join as member @p id with @p data (copied). @p cb runs exactly once
 * (see zkr_group_cb). The membership is kept until leave or free.
 * @return ZKR_OK (cb will run); ZKR_EBUSY (already a member); ZKR_EINVAL
 *         (NULL g or cb, id NULL, empty, ".", "..", or with '/', data NULL
 *         with len > 0); ZKR_ETOOBIG; ZKR_ECLOSED; ZKR_ENOMEM. On error
 *         cb never runs. If the create cannot be sent at all (out of
 *         memory), cb runs on the calling thread before this returns.
 * Ownership: @p id and @p data are copied; @p ctx is borrowed until @p cb
 * has run.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_group_join_async(zkr_group_t *g, const char *id,
                                    const void *data, size_t len,
                                    zkr_group_cb cb, void *ctx);

/**
 * Join and wait until our member node exists.
 * @param timeout_ms -1 waits forever.
 * @return ZKR_OK; ZKR_ETIMEDOUT (joining goes on: leave to stop it); the
 *         errors of zkr_group_join_async; ZKR_ECANCELED (leave or free from
 *         another thread, or the client freed); ZKR_EAUTHFAILED;
 *         ZKR_EDEADLK; ZooKeeper errors.
 * Ownership: @p id and @p data are copied; nothing is returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_group_join(zkr_group_t *g, const char *id,
                              const void *data, size_t len, int timeout_ms);

/**
 * Leave the group: delete our member node (not waiting for the reply) and
 * stop rejoining; a pending join completes with ZKR_ECANCELED, on the
 * calling thread before this returns.
 * @return ZKR_OK; ZKR_ENOTHELD (not a member, also after the client was
 *         freed); ZKR_EINVAL (NULL g).
 * Ownership: nothing is kept or returned; a pending join's ctx is not used
 * after its callback.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_group_leave(zkr_group_t *g);

/**
 * Wait until the member list has loaded once.
 * @param timeout_ms -1 waits forever.
 * @return ZKR_OK (also at once if it has loaded before); ZKR_ETIMEDOUT;
 *         ZKR_ECLOSED (the client was freed before the first load);
 *         ZKR_EDEADLK; ZKR_EINVAL (NULL g).
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_group_wait_synced(zkr_group_t *g, int timeout_ms);

/**
 * The cached member list, sorted by id.
 * @return ZKR_OK; ZKR_EBUSY (not loaded yet); ZKR_EINVAL; ZKR_ENOMEM.
 * Ownership: free with zkr_group_members_free(out, count).
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_group_members(zkr_group_t *g, zkr_group_member_t **out,
                                 int *count);

/** Free an array from zkr_group_members(). Accepts NULL.
 *  Thread safety: any thread. */
ZKR_EXTERN void zkr_group_members_free(zkr_group_member_t *m, int count);

/** @return 1 if our member node exists now (joined and connected), else
 *  0 (also for NULL, and once the client is freed).
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int zkr_group_is_member(zkr_group_t *g);

/**
 * Leave (see zkr_group_leave) and free the handle. Callbacks running on
 * other threads finish before it returns, unless called from one of them.
 * Accepts NULL.
 * Thread safety: call once; any thread, also from callbacks.
 */
ZKR_EXTERN void zkr_group_free(zkr_group_t *g);

#ifdef __cplusplus
}
#endif
#endif
