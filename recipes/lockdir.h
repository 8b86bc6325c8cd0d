/* SPDX-License-Identifier: Apache-2.0 */
/* Shared listings of a lock directory: one per (client, directory, kind of
 * lock). Every contender of that directory on that client is served by at
 * most one getChildren in flight, and the newest listing is kept, with the
 * nodes known to be gone since, so that a waiter deep in the queue can
 * often find its new predecessor without listing again. */
#ifndef ZKR_LOCKDIR_H
#define ZKR_LOCKDIR_H

#include "lockcore.h"

typedef struct {
    const char *name;
    int32_t seq;
    int kind;
} zkr__lnode_t;

typedef struct zkr__lockdir zkr__lockdir_t;

/* Listing for a contender: nodes of this kind of lock sorted by sequence,
 * valid during the call; rc != ZKR_OK means no listing (nodes NULL). */
typedef void (*zkr__dir_deliver_fn)(void *obj, unsigned attempt,
                                    const zkr__lnode_t *nodes, int n,
                                    int rc);

zkr__lockdir_t *zkr__dir_get(zkr_client_t *c, const char *path,
                             const zkr__lockspec_t *spec,
                             zkr__dir_deliver_fn deliver);
void zkr__dir_unref(zkr__lockdir_t *d);

/* Send the create of a contender node (with acl; NULL: the client's
 * default) and, unless one is already on its way, a getChildren right
 * behind it (one round trip). *need receives the number of the listing
 * that will include the node. */
int zkr__dir_create(zkr__lockdir_t *d, const char *path, const void *data,
                    size_t len, const struct ACL_vector *acl, zkr__op_cb cb,
                    void *ctx, unsigned *need);

/* Ask for a listing for obj: the one numbered need, or (need 0) one taken
 * after now. deliver runs exactly once for each ZKR_OK return. */
int zkr__dir_want(zkr__lockdir_t *d, void *obj, unsigned attempt,
                  unsigned need);

/* Node seq is known to be gone (we deleted it, or saw it deleted). */
void zkr__dir_gone(zkr__lockdir_t *d, int32_t seq);

/* From the newest listing: the nodes before seq (only exclusive ones when
 * only_exclusive) that are not known to be gone, nearest first; up to max
 * names are copied into out (caller frees them). Returns how many there
 * are (max + 1 when more), or -1 when seq is not in the newest listing. */
int zkr__dir_before(zkr__lockdir_t *d, int32_t seq, int only_exclusive,
                    char **out, int max);

#endif
