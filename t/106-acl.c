/* SPDX-License-Identifier: Apache-2.0 */
/* ACLs on queues, registrations, elections and groups: what a client with
 * digest credentials makes under ZKR_ACL_CREATOR_ALL (the client default
 * ACL every recipe creates its nodes with) cannot be taken, released,
 * deleted or overwritten by a client without credentials (ZKR_ENOAUTH);
 * it stays in place, and its owner (or another session of the same
 * identity) still uses it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/election.h>
#include <zkr/group.h>
#include <zkr/queue.h>
#include <zkr/registry.h>

static zkr_client_t *as(const char *hosts, const char *digest, zkr_acl_t acl)
{
    zkr_client_opts_t o;
    zkr_client_t *c = NULL;
    zkr_client_opts_init(&o);
    o.hosts = hosts;
    o.chroot = zkt_ns();
    o.digest = digest;
    o.acl = acl;
    if (zkr_client_new(&o, &c) != ZKR_OK)
        bail_out("connect");
    return c;
}

/* Name of the only child of @p dir not called "leases", read by @p c. */
static int only_item(zkr_client_t *c, const char *dir, char *buf, size_t len)
{
    char **names;
    int n = 0, found = 0, rc = zkr_children(c, dir, &names, &n);
    if (rc != ZKR_OK)
        return rc;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], "leases") != 0) {
            snprintf(buf, len, "%s", names[i]);
            found++;
        }
    zkr_strings_free(names, n);
    return found == 1 ? ZKR_OK : ZKR_ENONODE;
}

static int data_is(zkr_client_t *c, const char *path, const char *want)
{
    char *data = NULL;
    size_t len = 0;
    int same = zkr_get(c, path, &data, &len, NULL) == ZKR_OK &&
               len == strlen(want) && memcmp(data, want, len) == 0;
    zkr_free(data);
    return same;
}

static void queues(zkr_client_t *owner, zkr_client_t *same,
                   zkr_client_t *anon)
{
    zkr_queue_t *qa, *qb, *qs;
    zkr_queue_lease_t *la = NULL, *lb = NULL;
    char name[64], path[200], lpath[200], *data = NULL;
    size_t len = 0, count = 0;

    /* plain takes */
    is(zkr_queue_new(owner, "/acl/queue", NULL, &qa), ZKR_OK, "owner's queue");
    is(zkr_queue_put(qa, "one", 3), ZKR_OK, "owner puts an item");
    is(only_item(owner, "/acl/queue", name, sizeof name), ZKR_OK,
       "the item's node");
    snprintf(path, sizeof path, "/acl/queue/%s", name);
    is(zkr_queue_new(anon, "/acl/queue", NULL, &qb), ZKR_OK,
       "anonymous queue handle");
    is(zkr_queue_take(qb, 0, &data, &len), ZKR_ENOAUTH,
       "anonymous take (now): ENOAUTH");
    ok(data == NULL && len == 0, "nothing handed out");
    is(zkr_queue_take(qb, 2000, &data, &len), ZKR_ENOAUTH,
       "anonymous take (waiting): ENOAUTH, not a timeout");
    zkr_free(data);
    data = NULL;
    is(zkr_delete(anon, path, -1), ZKR_ENOAUTH,
       "anonymous delete of the item: ENOAUTH");
    is(zkr_set(anon, path, "evil", 4, -1, NULL), ZKR_ENOAUTH,
       "anonymous overwrite of the item: ENOAUTH");
    is(zkr_queue_put(qb, "spam", 4), ZKR_ENOAUTH,
       "anonymous put: ENOAUTH");
    zkr_queue_free(qb);
    is(zkr_queue_size(qa, &count), ZKR_OK, "owner counts");
    is((long long)count, 1, "the item is still there");
    ok(data_is(owner, path, "one"), "with its data");
    is(zkr_queue_take(qa, 5000, &data, &len), ZKR_OK, "owner takes it");
    is_str(data, "one", "the owner's item");
    zkr_free(data);
    data = NULL;
    is(zkr_queue_put(qa, "two", 3), ZKR_OK, "owner puts another item");
    is(zkr_queue_new(same, "/acl/queue", NULL, &qs), ZKR_OK,
       "same identity, other session");
    is(zkr_queue_take(qs, 5000, &data, &len), ZKR_OK,
       "it takes the owner's item");
    is_str(data, "two", "the second item");
    zkr_free(data);
    zkr_queue_free(qs);
    zkr_queue_free(qa);

    /* leases */
    is(zkr_queue_new(owner, "/acl/lqueue", NULL, &qa), ZKR_OK,
       "owner's lease queue");
    is(zkr_queue_put(qa, "three", 5), ZKR_OK, "owner puts an item");
    is(only_item(owner, "/acl/lqueue", name, sizeof name), ZKR_OK,
       "the item's node");
    snprintf(path, sizeof path, "/acl/lqueue/%s", name);
    snprintf(lpath, sizeof lpath, "/acl/lqueue/leases/%s", name);
    is(zkr_queue_take_lease(qa, 5000, &la), ZKR_OK, "owner leases it");
    is_str(zkr_queue_lease_name(la), name, "the lease is on that item");
    is(zkr_exists(owner, lpath, NULL), ZKR_OK, "the lease node exists");
    is(zkr_queue_new(anon, "/acl/lqueue", NULL, &qb), ZKR_OK,
       "anonymous queue handle");
    is(zkr_queue_take_lease(qb, 0, &lb), ZKR_ENOAUTH,
       "anonymous lease take: ENOAUTH");
    ok(lb == NULL, "no lease handed out");
    is(zkr_delete(anon, lpath, -1), ZKR_ENOAUTH,
       "anonymous delete of the owner's lease: ENOAUTH");
    is(zkr_delete(anon, path, -1), ZKR_ENOAUTH,
       "anonymous delete of the leased item: ENOAUTH");
    is(zkr_exists(owner, lpath, NULL), ZKR_OK, "the lease is still there");
    is(zkr_queue_nack(la), ZKR_OK, "owner gives the item back");
    la = NULL;
    is(zkr_queue_take_lease(qb, 2000, &lb), ZKR_ENOAUTH,
       "anonymous lease take of the free item: ENOAUTH");
    ok(lb == NULL, "no lease handed out");
    is(zkr_queue_take(qb, 0, &data, &len), ZKR_ENOAUTH,
       "anonymous plain take of it: ENOAUTH");
    zkr_queue_free(qb);
    is(zkr_exists(owner, path, NULL), ZKR_OK, "the item is still there");
    is(zkr_queue_take_lease(qa, 5000, &la), ZKR_OK, "owner leases it again");
    ok(la && zkr_queue_lease_data(la, NULL) &&
           strcmp(zkr_queue_lease_data(la, NULL), "three") == 0,
       "the owner's item");
    is(zkr_queue_ack(la), ZKR_OK, "owner acks");
    is(zkr_exists(owner, path, NULL), ZKR_ENONODE, "the item is gone");
    is(zkr_exists(owner, lpath, NULL), ZKR_ENONODE, "and its lease");
    zkr_queue_free(qa);
}

static void registrations(zkr_client_t *owner, zkr_client_t *anon)
{
    zkr_registration_t *ra, *rb;
    zkr_service_instance_t si;
    const char *path = "/acl/reg/orders/a1";

    is(zkr_registration_new(owner, path, "A", 1, NULL, &ra), ZKR_OK,
       "owner registers");
    is(zkr_registration_wait(ra, 10000), ZKR_OK, "registered");
    is(zkr_registration_new(anon, path, "B", 1, NULL, &rb), ZKR_OK,
       "anonymous registration of the same path");
    is(zkr_registration_wait(rb, 5000), ZKR_ENOAUTH,
       "it stops with ENOAUTH");
    ok(!zkr_registration_is_registered(rb), "not registered");
    zkr_registration_free(rb);
    is(zkr_registration_new(anon, "/acl/reg/orders/b1", "B", 1, NULL, &rb),
       ZKR_OK, "anonymous registration of a new node under the owner's");
    is(zkr_registration_wait(rb, 5000), ZKR_ENOAUTH,
       "it stops with ENOAUTH");
    zkr_registration_free(rb);
    is(zkr_delete(anon, path, -1), ZKR_ENOAUTH,
       "anonymous delete of the registration: ENOAUTH");
    is(zkr_set(anon, path, "B", 1, -1, NULL), ZKR_ENOAUTH,
       "anonymous overwrite of the registration: ENOAUTH");
    ok(data_is(owner, path, "A"), "the owner's node keeps its data");
    ok(zkr_registration_is_registered(ra), "and stays registered");
    is((long long)zkr_registration_count(ra), 1,
       "created once: nobody deleted it");
    zkr_registration_free(ra);

    /* Curator layout */
    zkr_service_instance_init(&si);
    si.name = "billing";
    si.id = "i-1";
    si.address = "127.0.0.1";
    si.port = 8080;
    is(zkr_registration_new_curator(owner, "/acl/services", &si, NULL, &ra),
       ZKR_OK, "owner registers a Curator instance");
    is(zkr_registration_wait(ra, 10000), ZKR_OK, "registered");
    si.port = 9090;
    is(zkr_registration_new_curator(anon, "/acl/services", &si, NULL, &rb),
       ZKR_OK, "anonymous instance with the same id");
    is(zkr_registration_wait(rb, 5000), ZKR_ENOAUTH,
       "it stops with ENOAUTH");
    zkr_registration_free(rb);
    is(zkr_delete(anon, "/acl/services/billing/i-1", -1), ZKR_ENOAUTH,
       "anonymous delete of the instance: ENOAUTH");
    is(zkr_set(anon, "/acl/services/billing/i-1", "{}", 2, -1, NULL),
       ZKR_ENOAUTH, "anonymous overwrite of the instance: ENOAUTH");
    ok(zkr_registration_is_registered(ra), "the owner's instance stays");
    is((long long)zkr_registration_count(ra), 1, "created once");
    zkr_registration_free(ra);
}

static void elections(zkr_client_t *owner, zkr_client_t *anon)
{
    zkr_election_t *ea, *eb;
    char node[200], path[300];
    char *id = NULL;

    is(zkr_election_new(owner, "/acl/elect", NULL, &ea), ZKR_OK,
       "owner's election");
    is(zkr_election_join(ea, 10000), ZKR_OK, "owner joins");
    is(zkr_election_await(ea, 10000), ZKR_OK, "and leads");
    is(zkr_election_node(ea, node, sizeof node), ZKR_OK, "node name");
    snprintf(path, sizeof path, "/acl/elect/%s", node);
    is(zkr_election_new(anon, "/acl/elect", NULL, &eb), ZKR_OK,
       "anonymous election handle");
    is(zkr_election_join(eb, 5000), ZKR_ENOAUTH, "anonymous join: ENOAUTH");
    is(zkr_election_await(eb, 0), ZKR_ENOTHELD, "not a candidate");
    is(zkr_election_leader(eb, &id), ZKR_ENOAUTH,
       "anonymous read of the leader: ENOAUTH");
    zkr_free(id);
    zkr_election_free(eb);
    is(zkr_delete(anon, path, -1), ZKR_ENOAUTH,
       "anonymous delete of the leader's node: ENOAUTH");
    is(zkr_set(anon, path, "x", 1, -1, NULL), ZKR_ENOAUTH,
       "anonymous overwrite of the leader's id: ENOAUTH");
    is(zkr_exists(owner, path, NULL), ZKR_OK, "the leader's node stays");
    is(zkr_election_is_leader(ea), 1, "the owner still leads");
    zkr_election_free(ea);
}

static void groups(zkr_client_t *owner, zkr_client_t *anon)
{
    zkr_group_t *ga, *gb;

    is(zkr_group_new(owner, "/acl/group", NULL, &ga), ZKR_OK, "owner's group");
    is(zkr_group_join(ga, "a", "A", 1, 10000), ZKR_OK, "owner joins as a");
    is(zkr_group_new(anon, "/acl/group", NULL, &gb), ZKR_OK,
       "anonymous group handle");
    is(zkr_group_join(gb, "b", "B", 1, 5000), ZKR_ENOAUTH,
       "anonymous join as b: ENOAUTH");
    is(zkr_group_leave(gb), ZKR_ENOTHELD, "not a member");
    is(zkr_group_join(gb, "a", "B", 1, 5000), ZKR_ENOAUTH,
       "anonymous join as the owner's id: ENOAUTH, not a wait");
    zkr_group_free(gb);
    is(zkr_delete(anon, "/acl/group/a", -1), ZKR_ENOAUTH,
       "anonymous delete of the owner's member node: ENOAUTH");
    is(zkr_set(anon, "/acl/group/a", "B", 1, -1, NULL), ZKR_ENOAUTH,
       "anonymous overwrite of it: ENOAUTH");
    ok(data_is(owner, "/acl/group/a", "A"), "the member node keeps its data");
    is(zkr_group_is_member(ga), 1, "the owner is still a member");
    zkr_group_free(ga);
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *owner = as(hosts, "svc:pw", ZKR_ACL_CREATOR_ALL);
    zkr_client_t *same = as(hosts, "svc:pw", ZKR_ACL_CREATOR_ALL);
    zkr_client_t *anon = as(hosts, NULL, ZKR_ACL_OPEN);

    /* the common parent, as every recipe would make it */
    is(zkr_create(owner, "/acl", NULL, 0, 0, NULL), ZKR_OK,
       "owner makes /acl with CREATOR_ALL");
    queues(owner, same, anon);
    registrations(owner, anon);
    elections(owner, anon);
    groups(owner, anon);
    zkr_client_free(anon);
    zkr_client_free(same);
    zkr_client_free(owner);
    return done_testing();
}
