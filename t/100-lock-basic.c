/* SPDX-License-Identifier: Apache-2.0 */
/* zkr_lock_t on one server: acquire/release, try, timeout, cancel,
 * reentrancy, tokens, node layout, exactly-once callbacks, EDEADLK, bad
 * input. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/lock.h>

struct counter {
    atomic_int calls;
    atomic_int status;
    zkr_lock_t *other; /* for the EDEADLK probe */
    atomic_int probe_rc;
};

static void count_cb(zkr_lock_t *l, int status, void *ctx)
{
    struct counter *k = ctx;
    (void)l;
    atomic_store(&k->status, status);
    if (k->other)
        atomic_store(&k->probe_rc, zkr_lock_acquire(k->other, -1));
    atomic_fetch_add(&k->calls, 1);
}

static int wait_calls(struct counter *k, int n)
{
    for (int i = 0; i < 200 && atomic_load(&k->calls) < n; i++)
        zkt_sleep_ms(25);
    return atomic_load(&k->calls);
}

static int count_children(zkr_client_t *c, const char *path)
{
    char **names;
    int n, rc = zkr_children(c, path, &names, &n);
    if (rc == ZKR_ENONODE)
        return 0;
    if (rc != ZKR_OK)
        return -1;
    zkr_strings_free(names, n);
    return n;
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *c1 = zkt_client(hosts, 4000), *c2 = zkt_client(hosts, 4000);
    zkr_lock_t *a, *b, *nr;
    zkr_lock_opts_t o;
    struct counter k = {0};
    char node[200];
    int64_t t1, t2;
    int32_t seq;

    is(zkr_lock_new(c1, "/locks/basic", NULL, &a), ZKR_OK, "new lock a");
    is(zkr_lock_new(c2, "/locks/basic", NULL, &b), ZKR_OK, "new lock b");
    is(zkr_lock_is_held(a), 0, "not held before acquire");
    is(zkr_lock_token(a), 0, "no token before acquire");
    is(zkr_lock_release(a), ZKR_ENOTHELD, "release when not held");
    is(zkr_lock_cancel(a), ZKR_ENOTHELD, "cancel with nothing pending");

    is(zkr_lock_acquire(a, -1), ZKR_OK, "a acquires (parents created)");
    is(zkr_lock_is_held(a), 1, "a holds");
    t1 = zkr_lock_token(a);
    ok(t1 > 0, "fencing token %lld", (long long)t1);
    is(zkr_lock_node(a, node, sizeof node), ZKR_OK, "node name");
    ok(strncmp(node, "_c_", 3) == 0 && strlen(node) == 3 + 36 + 6 + 10 &&
           strncmp(node + 39, "-lock-", 6) == 0,
       "Curator protected layout: %s", node);
    is(zkr_seq_parse(node, &seq), ZKR_OK, "sequence suffix parses");
    {
        char *data = NULL;
        size_t len;
        char path[300];
        snprintf(path, sizeof path, "/locks/basic/%s", node);
        is(zkr_get(c1, path, &data, &len, NULL), ZKR_OK, "lock node readable");
        ok(data && strchr(data, ':') != NULL, "default data is host:pid (%s)",
           data ? data : "");
        zkr_free(data);
        is(zkr_exists(c1, "/locks/basic", NULL), ZKR_OK, "lock directory exists");
    }

    is(zkr_lock_acquire(b, 0), ZKR_EWOULDBLOCK, "b try fails while a holds");
    is(count_children(c2, "/locks/basic"), 1, "failed try left no node");
    is(zkr_lock_acquire(b, 300), ZKR_ETIMEDOUT, "b times out");
    is(count_children(c2, "/locks/basic"), 1, "timeout left no node");

    /* reentrancy */
    is(zkr_lock_acquire(a, 0), ZKR_OK, "a re-acquires (reentrant)");
    is(zkr_lock_release(a), ZKR_OK, "first release");
    is(zkr_lock_is_held(a), 1, "still held after one of two releases");
    is(zkr_lock_acquire_async(a, count_cb, &k), ZKR_OK, "async reentrant");
    is(atomic_load(&k.calls), 1, "reentrant async completes at once");
    is(atomic_load(&k.status), ZKR_OK, "with ZKR_OK");
    is(zkr_lock_release(a), ZKR_OK, "release reentrant hold");

    /* async waiter is granted on release, exactly once */
    memset(&k, 0, sizeof k);
    is(zkr_lock_acquire_async(b, count_cb, &k), ZKR_OK, "b waits async");
    is(zkr_lock_acquire_async(b, count_cb, &k), ZKR_EBUSY, "second async while pending");
    is(zkr_lock_acquire(b, 0), ZKR_EBUSY, "blocking while pending");
    zkt_sleep_ms(100);
    is(atomic_load(&k.calls), 0, "b not granted while a holds");
    is(zkr_lock_release(a), ZKR_OK, "a releases");
    is(zkr_lock_is_held(a), 0, "a no longer holds");
    is(wait_calls(&k, 1), 1, "b's callback ran once");
    is(atomic_load(&k.status), ZKR_OK, "b granted");
    is(zkr_lock_is_held(b), 1, "b holds");
    t2 = zkr_lock_token(b);
    ok(t2 > t1, "token grows with each holder (%lld > %lld)", (long long)t2,
       (long long)t1);
    zkt_sleep_ms(50);
    is(atomic_load(&k.calls), 1, "still exactly once");

    /* cancel a pending acquire */
    memset(&k, 0, sizeof k);
    is(zkr_lock_acquire_async(a, count_cb, &k), ZKR_OK, "a waits");
    zkt_sleep_ms(100);
    is(count_children(c1, "/locks/basic"), 2, "two contenders");
    is(zkr_lock_cancel(a), ZKR_OK, "cancel");
    is(wait_calls(&k, 1), 1, "callback ran");
    is(atomic_load(&k.status), ZKR_ECANCELED, "with ZKR_ECANCELED");
    zkt_sleep_ms(100);
    is(count_children(c1, "/locks/basic"), 1, "canceled waiter's node deleted");

    /* free while waiting */
    memset(&k, 0, sizeof k);
    is(zkr_lock_acquire_async(a, count_cb, &k), ZKR_OK, "a waits again");
    zkr_lock_free(a);
    is(wait_calls(&k, 1), 1, "free runs the callback");
    is(atomic_load(&k.status), ZKR_ECANCELED, "with ZKR_ECANCELED");
    zkt_sleep_ms(100);
    is(count_children(c1, "/locks/basic"), 1, "freed waiter's node deleted");

    /* blocking acquire from a callback: EDEADLK */
    is(zkr_lock_new(c1, "/locks/basic", NULL, &a), ZKR_OK, "new a");
    memset(&k, 0, sizeof k);
    is(zkr_lock_new(c1, "/locks/other", NULL, &k.other), ZKR_OK, "probe lock");
    is(zkr_lock_acquire_async(a, count_cb, &k), ZKR_OK, "a waits for b");
    is(zkr_lock_release(b), ZKR_OK, "b releases");
    is(wait_calls(&k, 1), 1, "a granted");
    is(atomic_load(&k.probe_rc), ZKR_EDEADLK, "blocking acquire in a callback: EDEADLK");
    zkr_lock_free(k.other);

    /* non-reentrant */
    zkr_lock_opts_init(&o);
    o.reentrant = 0;
    o.data = "custom";
    o.data_len = 6;
    is(zkr_lock_new(c2, "/locks/nr", &o, &nr), ZKR_OK, "non-reentrant lock");
    is(zkr_lock_acquire(nr, -1), ZKR_OK, "acquire");
    is(zkr_lock_acquire(nr, 0), ZKR_EBUSY, "second acquire refused");
    {
        char *data = NULL;
        size_t len;
        char path[300];
        zkr_lock_node(nr, node, sizeof node);
        snprintf(path, sizeof path, "/locks/nr/%s", node);
        zkr_get(c2, path, &data, &len, NULL);
        is_str(data, "custom", "custom node data");
        zkr_free(data);
    }
    zkr_lock_free(nr); /* releases */
    zkt_sleep_ms(100);
    is(count_children(c2, "/locks/nr"), 0, "free released the hold");

    /* bad input */
    is(zkr_lock_new(NULL, "/x", NULL, &nr), ZKR_EINVAL, "NULL client");
    is(zkr_lock_new(c1, NULL, NULL, &nr), ZKR_EINVAL, "NULL path");
    is(zkr_lock_new(c1, "x", NULL, &nr), ZKR_EBADPATH, "relative path");
    is(zkr_lock_new(c1, "/", NULL, &nr), ZKR_EBADPATH, "root as lock path");
    is(zkr_lock_new(c1, "/x", NULL, NULL), ZKR_EINVAL, "NULL out");
    o.data = NULL;
    o.data_len = 4;
    is(zkr_lock_new(c1, "/x", &o, &nr), ZKR_EINVAL, "NULL data with length");
    o.data = "x";
    o.data_len = ZKR_MAX_DATA + 1;
    is(zkr_lock_new(c1, "/x", &o, &nr), ZKR_ETOOBIG, "oversized data");
    is(zkr_lock_acquire(NULL, 0), ZKR_EINVAL, "acquire NULL");
    is(zkr_lock_acquire_async(a, NULL, NULL), ZKR_EINVAL, "async NULL cb");
    is(zkr_lock_release(NULL), ZKR_EINVAL, "release NULL");
    is(zkr_lock_cancel(NULL), ZKR_EINVAL, "cancel NULL");
    is(zkr_lock_is_held(NULL), 0, "is_held NULL");
    is(zkr_lock_node(a, node, 5), ZKR_EINVAL, "node buffer too small");
    zkr_lock_free(NULL);

    /* client freed under a pending acquire */
    is(zkr_lock_new(c2, "/locks/basic", NULL, &b), ZKR_OK, "b again");
    memset(&k, 0, sizeof k);
    is(zkr_lock_acquire_async(b, count_cb, &k), ZKR_OK, "b waits behind a");
    zkt_sleep_ms(100);
    zkr_client_free(c2);
    is(wait_calls(&k, 1), 1, "client free completes the pending acquire");
    is(atomic_load(&k.status), ZKR_ECANCELED, "with ZKR_ECANCELED");
    is(zkr_lock_acquire(b, 0), ZKR_ECLOSED, "lock of a freed client: ECLOSED");
    zkr_lock_free(b);

    /* client freed under a hold: the node went with the session */
    {
        zkr_client_t *c3 = zkt_client(hosts, 4000);
        zkr_lock_opts_t so;
        zkr_lock_t *h;
        memset(&k, 0, sizeof k);
        zkr_lock_opts_init(&so);
        so.state_cb = count_cb;
        so.state_ctx = &k;
        is(zkr_lock_new(c3, "/locks/closed", &so, &h), ZKR_OK, "lock h");
        is(zkr_lock_acquire(h, 5000), ZKR_OK, "h held");
        zkr_client_free(c3);
        is(zkr_lock_is_held(h), 0, "not held once its client is freed");
        is(zkr_lock_token(h), 0, "no token then");
        is(atomic_load(&k.calls), 1, "state callback ran once");
        is(atomic_load(&k.status), ZKR_ELOCKLOST, "with ZKR_ELOCKLOST");
        is(zkr_lock_release(h), ZKR_ENOTHELD, "release then: ENOTHELD");
        zkr_lock_free(h);
        is(atomic_load(&k.calls), 1, "no further state callback on free");
    }

    zkr_lock_free(a);
    zkr_client_free(c1);
    return done_testing();
}
