/* SPDX-License-Identifier: Apache-2.0 */
/* ACLs on recipes: a lock made by a client with digest credentials and
 * ZKR_ACL_CREATOR_ALL cannot be taken, released or deleted by a client
 * without them (ZKR_ENOAUTH); the owner's identity can. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/lock.h>
#include <zkr/semaphore.h>


int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *owner = zkt_client_as(hosts, "svc:pw", ZKR_ACL_CREATOR_ALL);
    zkr_client_t *same = zkt_client_as(hosts, "svc:pw", ZKR_ACL_CREATOR_ALL);
    zkr_client_t *anon = zkt_client_as(hosts, NULL, ZKR_ACL_OPEN);
    zkr_lock_t *l, *x, *y;
    zkr_semaphore_t *s, *t;
    char node[200], path[300];

    is(zkr_lock_new(owner, "/acl/lock", NULL, &l), ZKR_OK, "owner's lock");
    is(zkr_lock_acquire(l, 10000), ZKR_OK, "owner holds (directory made with CREATOR_ALL)");
    is(zkr_lock_node(l, node, sizeof node), ZKR_OK, "node name");
    snprintf(path, sizeof path, "/acl/lock/%s", node);

    is(zkr_lock_new(anon, "/acl/lock", NULL, &x), ZKR_OK, "anonymous lock handle");
    is(zkr_lock_acquire(x, 2000), ZKR_ENOAUTH, "anonymous acquire: ENOAUTH");
    is(zkr_delete(anon, path, -1), ZKR_ENOAUTH, "anonymous delete of the holder's node: ENOAUTH");
    is(zkr_lock_is_held(l), 1, "owner still holds");

    is(zkr_lock_new(same, "/acl/lock", NULL, &y), ZKR_OK, "same identity, other session");
    is(zkr_lock_acquire(y, 0), ZKR_EWOULDBLOCK, "it queues normally (held)");
    is(zkr_lock_release(l), ZKR_OK, "owner releases");
    is(zkr_lock_acquire(y, 10000), ZKR_OK, "same identity takes it");
    zkr_lock_free(y);
    zkr_lock_free(x);
    zkr_lock_free(l);

    is(zkr_semaphore_new(owner, "/acl/sem", 1, NULL, 0, &s), ZKR_OK, "owner's semaphore");
    is(zkr_semaphore_acquire(s, 1, 10000), ZKR_OK, "owner takes the lease");
    is(zkr_semaphore_new(anon, "/acl/sem", 1, NULL, 0, &t), ZKR_OK, "anonymous semaphore handle");
    is(zkr_semaphore_acquire(t, 1, 2000), ZKR_ENOAUTH, "anonymous lease: ENOAUTH");
    zkr_semaphore_free(t);
    zkr_semaphore_free(s);
    zkr_client_free(anon);
    zkr_client_free(same);
    zkr_client_free(owner);
    return done_testing();
}
