/* SPDX-License-Identifier: Apache-2.0 */
/* Digest credentials and ACLs: nodes created with ZKR_ACL_CREATOR_ALL are
 * out of reach for clients without (or with wrong) credentials. */
#include <stdlib.h>
#include <string.h>

#include "zktest.h"

static zkr_client_t *connect_as(const char *hosts, const char *digest,
                                zkr_acl_t acl, int *rc)
{
    zkr_client_opts_t o;
    zkr_client_t *c = NULL;
    zkr_client_opts_init(&o);
    o.hosts = hosts;
    o.chroot = zkt_ns();
    o.digest = digest;
    o.acl = acl;
    *rc = zkr_client_new(&o, &c);
    return c;
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *alice, *anon, *mallory;
    char *data = NULL;
    size_t len;
    int rc;

    alice = connect_as(hosts, "alice:s3cret", ZKR_ACL_CREATOR_ALL, &rc);
    is(rc, ZKR_OK, "alice connects with digest credentials");
    if (!alice)
        bail_out("cannot continue without a client");
    is(zkr_create(alice, "/secure", "top", 3, 0, NULL), ZKR_OK,
       "alice creates /secure with CREATOR_ALL");
    is(zkr_create(alice, "/secure/item", "x", 1, 0, NULL), ZKR_OK,
       "alice creates a child");

    anon = connect_as(hosts, NULL, ZKR_ACL_OPEN, &rc);
    is(rc, ZKR_OK, "anonymous client connects");
    is(zkr_get(anon, "/secure", &data, &len, NULL), ZKR_ENOAUTH,
       "anonymous read denied");
    is(zkr_delete(anon, "/secure/item", -1), ZKR_ENOAUTH,
       "anonymous delete denied");
    is(zkr_set(anon, "/secure", "y", 1, -1, NULL), ZKR_ENOAUTH,
       "anonymous write denied");
    is(zkr_create(anon, "/secure/other", NULL, 0, 0, NULL), ZKR_ENOAUTH,
       "anonymous create under it denied");

    mallory = connect_as(hosts, "alice:guess", ZKR_ACL_OPEN, &rc);
    is(rc, ZKR_OK, "a client with a wrong password still connects");
    is(zkr_get(mallory, "/secure", &data, &len, NULL), ZKR_ENOAUTH,
       "wrong password: read denied");
    is(zkr_delete(mallory, "/secure/item", -1), ZKR_ENOAUTH,
       "wrong password: delete denied");

    is(zkr_get(alice, "/secure", &data, &len, NULL), ZKR_OK, "alice reads");
    is_str(data, "top", "alice sees her data");
    zkr_free(data);
    is(zkr_delete(alice, "/secure/item", -1), ZKR_OK, "alice deletes");
    is(zkr_delete(alice, "/secure", -1), ZKR_OK, "alice deletes the parent");

    /* bad option combinations */
    ok(connect_as(hosts, NULL, ZKR_ACL_CREATOR_ALL, &rc) == NULL && rc == ZKR_EINVAL,
       "CREATOR_ALL without credentials is refused");
    ok(connect_as(hosts, "nocolon", ZKR_ACL_OPEN, &rc) == NULL && rc == ZKR_EINVAL,
       "digest without user:password is refused");

    zkr_client_free(mallory);
    zkr_client_free(anon);
    zkr_client_free(alice);
    return done_testing();
}
