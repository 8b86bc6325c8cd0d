/* SPDX-License-Identifier: Apache-2.0 */
/* ACLs on queues, registrations, elections and groups: what a client with
 * digest credentials makes under ZKR_ACL_CREATOR_ALL (the client default
 * ACL every recipe creates its nodes with) cannot be taken, released,
 * deleted or overwritten by a client without credentials (ZKR_ENOAUTH);
 * it stays in place, and its owner (or another session of the same
 * identity) still uses it.
 * A recipe's own acl option overrides the client default both ways: with
 * an OPEN client default, recipes given CREATOR_ALL make nodes (and
 * missing parents) a client without credentials cannot touch, while
 * recipes without the option stay open; with a CREATOR_ALL client
 * default, a lock given OPEN makes nodes anybody may delete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/counter.h>
#include <zkr/election.h>
#include <zkr/group.h>
#include <zkr/lock.h>
#include <zkr/naming.h>
#include <zkr/queue.h>
#include <zkr/registry.h>

static const zkr_acl_t creator_all = ZKR_ACL_CREATOR_ALL;
static const zkr_acl_t open_acl = ZKR_ACL_OPEN;

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

/* The option is checked at _new like the client's own default. */
static void bad_options(zkr_client_t *owner, zkr_client_t *anon)
{
    zkr_lock_opts_t lo;
    zkr_queue_opts_t qo;
    zkr_registration_opts_t ro;
    zkr_election_opts_t eo;
    zkr_group_opts_t go;
    zkr_counter_opts_t ko;
    zkr_idgen_opts_t io;
    zkr_acl_t bogus = (zkr_acl_t)7;
    zkr_lock_t *l = NULL;
    zkr_queue_t *q = NULL;
    zkr_registration_t *r = NULL;
    zkr_election_t *e = NULL;
    zkr_group_t *g = NULL;
    zkr_counter_t *k = NULL;
    zkr_idgen_t *i = NULL;

    zkr_lock_opts_init(&lo);
    ok(lo.acl == NULL, "lock opts: acl defaults to NULL (the client's)");
    lo.acl = &creator_all;
    is(zkr_lock_new(anon, "/bad/lock", &lo, &l), ZKR_EINVAL,
       "CREATOR_ALL on a client without credentials: EINVAL");
    ok(l == NULL, "no handle");
    lo.acl = &bogus;
    is(zkr_lock_new(owner, "/bad/lock", &lo, &l), ZKR_EINVAL,
       "an ACL outside zkr_acl_t: EINVAL");
    zkr_queue_opts_init(&qo);
    ok(qo.acl == NULL, "queue opts: acl defaults to NULL");
    qo.acl = &creator_all;
    is(zkr_queue_new(anon, "/bad/queue", &qo, &q), ZKR_EINVAL,
       "queue: EINVAL");
    zkr_registration_opts_init(&ro);
    ok(ro.acl == NULL, "registration opts: acl defaults to NULL");
    ro.acl = &creator_all;
    is(zkr_registration_new(anon, "/bad/reg", NULL, 0, &ro, &r), ZKR_EINVAL,
       "registration: EINVAL");
    zkr_election_opts_init(&eo);
    ok(eo.acl == NULL, "election opts: acl defaults to NULL");
    eo.acl = &creator_all;
    is(zkr_election_new(anon, "/bad/elect", &eo, &e), ZKR_EINVAL,
       "election: EINVAL");
    zkr_group_opts_init(&go);
    ok(go.acl == NULL, "group opts: acl defaults to NULL");
    go.acl = &creator_all;
    is(zkr_group_new(anon, "/bad/group", &go, &g), ZKR_EINVAL,
       "group: EINVAL");
    zkr_counter_opts_init(&ko);
    ok(ko.acl == NULL, "counter opts: acl defaults to NULL");
    ko.acl = &bogus;
    is(zkr_counter_new(owner, "/bad/count", &ko, &k), ZKR_EINVAL,
       "counter: EINVAL");
    zkr_idgen_opts_init(&io);
    ok(io.acl == NULL, "idgen opts: acl defaults to NULL");
    io.acl = &creator_all;
    is(zkr_idgen_new(anon, "/bad/ids", &io, &i), ZKR_EINVAL,
       "idgen: EINVAL");
    ok(!l && !q && !r && !e && !g && !k && !i, "no handles");
    is(zkr_exists(owner, "/bad", NULL), ZKR_ENONODE, "nothing created");
}

/* Client default OPEN; the recipes are given CREATOR_ALL. */
static void overrides_closed(zkr_client_t *owner, zkr_client_t *anon)
{
    zkr_acl_t acl = ZKR_ACL_CREATOR_ALL; /* read during _new only */
    zkr_queue_opts_t qo;
    zkr_registration_opts_t ro;
    zkr_lock_opts_t lo;
    zkr_election_opts_t eo;
    zkr_group_opts_t go;
    zkr_counter_opts_t ko;
    zkr_idgen_opts_t io;
    zkr_queue_t *qa, *qb;
    zkr_registration_t *ra;
    zkr_lock_t *la, *lb;
    zkr_election_t *ea, *eb;
    zkr_group_t *ga, *gb;
    zkr_counter_t *ka, *kb;
    zkr_idgen_t *ia, *ib;
    char name[64], path[300], node[200], *data = NULL;
    size_t len = 0;
    int64_t v = 0, id = 0;

    is(zkr_create(owner, "/ovr", NULL, 0, 0, NULL), ZKR_OK,
       "owner makes /ovr with its OPEN default");
    is(zkr_create(anon, "/ovr/anon", NULL, 0, 0, NULL), ZKR_OK,
       "anonymous create under it: the default is OPEN");
    is(zkr_delete(anon, "/ovr/anon", -1), ZKR_OK, "and delete");

    /* queue items */
    zkr_queue_opts_init(&qo);
    qo.acl = &acl;
    is(zkr_queue_new(owner, "/ovr/queue", &qo, &qa), ZKR_OK,
       "owner's queue with opts.acl = CREATOR_ALL");
    acl = ZKR_ACL_OPEN; /* the handle kept its own copy */
    is(zkr_queue_put(qa, "one", 3), ZKR_OK, "owner puts an item");
    is(only_item(owner, "/ovr/queue", name, sizeof name), ZKR_OK,
       "the item's node");
    snprintf(path, sizeof path, "/ovr/queue/%s", name);
    is(zkr_queue_new(anon, "/ovr/queue", NULL, &qb), ZKR_OK,
       "anonymous queue handle");
    is(zkr_queue_take(qb, 0, &data, &len), ZKR_ENOAUTH,
       "anonymous take: ENOAUTH");
    zkr_free(data);
    data = NULL;
    is(zkr_delete(anon, path, -1), ZKR_ENOAUTH,
       "anonymous delete of the item: ENOAUTH");
    is(zkr_queue_put(qb, "spam", 4), ZKR_ENOAUTH,
       "anonymous put into the queue the recipe made: ENOAUTH");
    zkr_queue_free(qb);
    is(zkr_queue_take(qa, 5000, &data, &len), ZKR_OK, "owner takes it");
    is_str(data, "one", "the owner's item");
    zkr_free(data);
    data = NULL;
    zkr_queue_free(qa);

    /* the same client without the option: its default, OPEN */
    is(zkr_queue_new(owner, "/ovr/oqueue", NULL, &qa), ZKR_OK,
       "owner's queue without opts.acl");
    is(zkr_queue_put(qa, "free", 4), ZKR_OK, "owner puts an item");
    is(zkr_queue_new(anon, "/ovr/oqueue", NULL, &qb), ZKR_OK,
       "anonymous queue handle");
    is(zkr_queue_take(qb, 5000, &data, &len), ZKR_OK,
       "anonymous take of it: OK");
    is_str(data, "free", "the item");
    zkr_free(data);
    data = NULL;
    zkr_queue_free(qb);
    zkr_queue_free(qa);

    /* registration, with missing parents */
    acl = ZKR_ACL_CREATOR_ALL;
    zkr_registration_opts_init(&ro);
    ro.acl = &acl;
    is(zkr_registration_new(owner, "/ovr/reg/orders/a1", "A", 1, &ro, &ra),
       ZKR_OK, "owner registers with opts.acl = CREATOR_ALL");
    is(zkr_registration_wait(ra, 10000), ZKR_OK, "registered");
    is(zkr_delete(anon, "/ovr/reg/orders/a1", -1), ZKR_ENOAUTH,
       "anonymous delete of the registration: ENOAUTH");
    is(zkr_create(anon, "/ovr/reg/b1", NULL, 0, 0, NULL), ZKR_ENOAUTH,
       "anonymous create under a parent it made: ENOAUTH");
    ok(zkr_registration_is_registered(ra), "still registered");
    is((long long)zkr_registration_count(ra), 1, "created once");
    zkr_registration_free(ra);

    /* lock */
    zkr_lock_opts_init(&lo);
    lo.acl = &acl;
    is(zkr_lock_new(owner, "/ovr/lock", &lo, &la), ZKR_OK,
       "owner's lock with opts.acl = CREATOR_ALL");
    is(zkr_lock_acquire(la, 10000), ZKR_OK, "owner holds");
    is(zkr_lock_node(la, node, sizeof node), ZKR_OK, "node name");
    snprintf(path, sizeof path, "/ovr/lock/%s", node);
    is(zkr_delete(anon, path, -1), ZKR_ENOAUTH,
       "anonymous delete of the holder's node: ENOAUTH");
    is(zkr_lock_new(anon, "/ovr/lock", NULL, &lb), ZKR_OK,
       "anonymous lock handle");
    is(zkr_lock_acquire(lb, 2000), ZKR_ENOAUTH, "anonymous acquire: ENOAUTH");
    zkr_lock_free(lb);
    is(zkr_exists(owner, path, NULL), ZKR_OK, "the node stays");
    is(zkr_lock_is_held(la), 1, "owner still holds");
    zkr_lock_free(la);

    /* election and group */
    zkr_election_opts_init(&eo);
    eo.acl = &acl;
    is(zkr_election_new(owner, "/ovr/elect", &eo, &ea), ZKR_OK,
       "owner's election with opts.acl = CREATOR_ALL");
    is(zkr_election_join(ea, 10000), ZKR_OK, "owner joins");
    is(zkr_election_new(anon, "/ovr/elect", NULL, &eb), ZKR_OK,
       "anonymous election handle");
    is(zkr_election_join(eb, 5000), ZKR_ENOAUTH, "anonymous join: ENOAUTH");
    zkr_election_free(eb);
    zkr_election_free(ea);
    zkr_group_opts_init(&go);
    go.acl = &acl;
    is(zkr_group_new(owner, "/ovr/group", &go, &ga), ZKR_OK,
       "owner's group with opts.acl = CREATOR_ALL");
    is(zkr_group_join(ga, "a", "A", 1, 10000), ZKR_OK, "owner joins");
    is(zkr_delete(anon, "/ovr/group/a", -1), ZKR_ENOAUTH,
       "anonymous delete of the member node: ENOAUTH");
    is(zkr_group_new(anon, "/ovr/group", NULL, &gb), ZKR_OK,
       "anonymous group handle");
    is(zkr_group_join(gb, "b", "B", 1, 5000), ZKR_ENOAUTH,
       "anonymous join: ENOAUTH");
    zkr_group_free(gb);
    zkr_group_free(ga);

    /* counter and ID generator */
    zkr_counter_opts_init(&ko);
    ko.acl = &acl;
    is(zkr_counter_new(owner, "/ovr/count/c", &ko, &ka), ZKR_OK,
       "owner's counter with opts.acl = CREATOR_ALL");
    is(zkr_counter_add(ka, 5, &v), ZKR_OK, "owner adds (node created)");
    is(zkr_counter_new(anon, "/ovr/count/c", NULL, &kb), ZKR_OK,
       "anonymous counter handle");
    is(zkr_counter_add(kb, 1, &v), ZKR_ENOAUTH, "anonymous add: ENOAUTH");
    is(zkr_counter_set(kb, 9), ZKR_ENOAUTH, "anonymous set: ENOAUTH");
    zkr_counter_free(kb);
    is(zkr_counter_get(ka, &v, NULL), ZKR_OK, "owner reads");
    is((long long)v, 5, "its value");
    zkr_counter_free(ka);
    zkr_idgen_opts_init(&io);
    io.acl = &acl;
    is(zkr_idgen_new(owner, "/ovr/ids/g", &io, &ia), ZKR_OK,
       "owner's ID generator with opts.acl = CREATOR_ALL");
    is(zkr_idgen_next(ia, 10000, &id), ZKR_OK, "owner gets an ID");
    is(zkr_idgen_new(anon, "/ovr/ids/g", NULL, &ib), ZKR_OK,
       "anonymous generator handle");
    is(zkr_idgen_next(ib, 10000, &id), ZKR_ENOAUTH,
       "anonymous reservation: ENOAUTH");
    zkr_idgen_free(ib);
    zkr_idgen_free(ia);
}

/* Client default CREATOR_ALL; a lock is given OPEN. */
static void overrides_open(zkr_client_t *owner, zkr_client_t *anon)
{
    zkr_lock_opts_t lo;
    zkr_lock_t *l;
    char node[200], path[300];

    zkr_lock_opts_init(&lo);
    lo.acl = &open_acl;
    is(zkr_lock_new(owner, "/open/x/lock", &lo, &l), ZKR_OK,
       "owner's lock with opts.acl = OPEN");
    is(zkr_lock_acquire(l, 10000), ZKR_OK, "owner holds");
    is(zkr_lock_node(l, node, sizeof node), ZKR_OK, "node name");
    snprintf(path, sizeof path, "/open/x/lock/%s", node);
    is(zkr_create(anon, "/open/anon", NULL, 0, 0, NULL), ZKR_OK,
       "anonymous create under a parent the lock made: OK");
    is(zkr_delete(anon, "/open/anon", -1), ZKR_OK, "and delete");
    is(zkr_delete(anon, path, -1), ZKR_OK,
       "anonymous delete of the holder's node: OK");
    is(zkr_exists(owner, path, NULL), ZKR_ENONODE, "the node is gone");
    zkr_lock_free(l);

    /* the same client without the option: its default, CREATOR_ALL */
    is(zkr_lock_new(owner, "/open/closed", NULL, &l), ZKR_OK,
       "owner's lock without opts.acl");
    is(zkr_lock_acquire(l, 10000), ZKR_OK, "owner holds");
    is(zkr_lock_node(l, node, sizeof node), ZKR_OK, "node name");
    snprintf(path, sizeof path, "/open/closed/%s", node);
    is(zkr_delete(anon, path, -1), ZKR_ENOAUTH,
       "anonymous delete of that node: ENOAUTH");
    zkr_lock_free(l);
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *owner = zkt_client_as(hosts, "svc:pw", ZKR_ACL_CREATOR_ALL);
    zkr_client_t *same = zkt_client_as(hosts, "svc:pw", ZKR_ACL_CREATOR_ALL);
    zkr_client_t *anon = zkt_client_as(hosts, NULL, ZKR_ACL_OPEN);

    /* the common parent, as every recipe would make it */
    is(zkr_create(owner, "/acl", NULL, 0, 0, NULL), ZKR_OK,
       "owner makes /acl with CREATOR_ALL");
    queues(owner, same, anon);
    registrations(owner, anon);
    elections(owner, anon);
    groups(owner, anon);
    bad_options(owner, anon);
    overrides_open(owner, anon);
    {
        zkr_client_t *open_owner = zkt_client_as(hosts, "svc:pw", ZKR_ACL_OPEN);
        overrides_closed(open_owner, anon);
        zkr_client_free(open_owner);
    }
    zkr_client_free(anon);
    zkr_client_free(same);
    zkr_client_free(owner);
    return done_testing();
}
