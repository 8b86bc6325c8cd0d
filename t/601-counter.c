/* SPDX-License-Identifier: Apache-2.0 */
/* Shared counter on one server: encodings (Curator's 8-byte and 4-byte
 * big-endian), get/set, CAS on version and on value, add-and-get reaching
 * exactly N*M under contention, async adds in order and exactly once,
 * cancel on free, EDEADLK, malformed data, bad input. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/counter.h>

#define N 8
#define M 60

struct worker {
    const char *hosts;
    int rc;
    unsigned conflicts;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    zkr_client_t *c = zkt_client(w->hosts, 5000);
    zkr_counter_t *k;
    int64_t v;
    w->rc = zkr_counter_new(c, "/ctr/shared", NULL, &k);
    for (int i = 0; i < M && w->rc == ZKR_OK; i++)
        w->rc = zkr_counter_add(k, 1, &v);
    w->conflicts = zkr_counter_conflicts(k);
    zkr_counter_free(k);
    zkr_client_free(c);
    return NULL;
}

struct acb {
    atomic_int calls;
    int status[200];
    int64_t value[200];
    zkr_counter_t *probe;
    atomic_int probe_rc;
    atomic_int probe_all; /* every blocking call said EDEADLK */
};

static void add_cb(zkr_counter_t *k, int status, int64_t value, void *ctx)
{
    struct acb *a = ctx;
    int i = atomic_load(&a->calls);
    (void)k;
    if (a->probe) {
        int64_t v;
        int32_t ver;
        atomic_store(&a->probe_rc, zkr_counter_add(a->probe, 1, &v));
        atomic_store(&a->probe_all,
                     zkr_counter_get(a->probe, &v, &ver) == ZKR_EDEADLK &&
                         zkr_counter_set(a->probe, 1) == ZKR_EDEADLK &&
                         zkr_counter_cas(a->probe, 0, 1, NULL) ==
                             ZKR_EDEADLK &&
                         zkr_counter_compare_and_set(a->probe, 0, 1) ==
                             ZKR_EDEADLK);
    }
    if (i < 200) {
        a->status[i] = status;
        a->value[i] = value;
    }
    atomic_fetch_add(&a->calls, 1);
}

static int wait_calls(atomic_int *calls, int n)
{
    for (int i = 0; i < 400 && atomic_load(calls) < n; i++)
        zkt_sleep_ms(25);
    return atomic_load(calls);
}

static int raw(zkr_client_t *c, const char *path, unsigned char *buf,
               size_t *len)
{
    char *d = NULL;
    int rc = zkr_get(c, path, &d, len, NULL);
    if (rc == ZKR_OK)
        memcpy(buf, d, *len < 16 ? *len : 16);
    zkr_free(d);
    return rc;
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *c = zkt_client(hosts, 4000);
    zkr_counter_t *k, *ki;
    zkr_counter_opts_t o;
    int64_t v;
    int32_t ver, nv;
    unsigned char buf[16];
    size_t len;

    /* ---- 64-bit, DistributedAtomicLong's layout ---- */
    is(zkr_counter_new(c, "/ctr/a", NULL, &k), ZKR_OK, "new counter");
    is(zkr_counter_get(k, &v, &ver), ZKR_OK, "get a missing counter");
    is(v, 0, "reads as the initial value");
    is(ver, -1, "version -1: no node");
    is(zkr_counter_add(k, 5, &v), ZKR_OK, "add 5 (creates it)");
    is(v, 5, "add-and-get returns 5");
    is(raw(c, "/ctr/a", buf, &len), ZKR_OK, "raw node");
    is(len, 8, "8 bytes");
    ok(!memcmp(buf, "\0\0\0\0\0\0\0\5", 8), "big-endian 5");
    is(zkr_counter_add(k, -7, &v), ZKR_OK, "add -7");
    is(v, -2, "negative value");
    is(raw(c, "/ctr/a", buf, &len), ZKR_OK, "raw node");
    ok(!memcmp(buf, "\xff\xff\xff\xff\xff\xff\xff\xfe", 8),
       "two's complement big-endian -2");
    is(zkr_counter_get(k, &v, &ver), ZKR_OK, "get");
    is(ver, 1, "version 1 after two writes");
    is(zkr_counter_cas(k, 0, 100, &nv), ZKR_EBADVERSION, "CAS on a stale "
                                                         "version");
    is(zkr_counter_cas(k, 1, 100, &nv), ZKR_OK, "CAS on the current version");
    is(nv, 2, "new version");
    is(zkr_counter_cas(k, -1, 7, NULL), ZKR_ENODEEXISTS,
       "CAS -1 (create) on an existing node");
    is(zkr_counter_compare_and_set(k, 99, 1), ZKR_EBADVERSION,
       "compare-and-set with the wrong value");
    is(zkr_counter_compare_and_set(k, 100, 1), ZKR_OK,
       "compare-and-set with the right value");
    zkr_counter_get(k, &v, NULL);
    is(v, 1, "value 1");
    is(zkr_counter_set(k, INT64_MAX), ZKR_OK, "set max");
    is(zkr_counter_add(k, 1, &v), ZKR_OK, "add past max");
    ok(v == INT64_MIN, "wraps like a Java long");
    zkr_counter_free(k);

    is(zkr_counter_new(c, "/ctr/deep/b", NULL, &k), ZKR_OK, "deep path");
    is(zkr_counter_cas(k, 3, 1, NULL), ZKR_ENONODE, "CAS on a missing node");
    is(zkr_counter_cas(k, -1, 42, &nv), ZKR_OK, "CAS -1 creates");
    is(nv, 0, "version 0");
    zkr_counter_get(k, &v, NULL);
    is(v, 42, "value 42");
    zkr_counter_free(k);
    zkr_counter_opts_init(&o);
    o.initial = 1000;
    is(zkr_counter_new(c, "/ctr/init", &o, &k), ZKR_OK, "initial 1000");
    is(zkr_counter_add(k, 1, &v), ZKR_OK, "add to a missing node");
    is(v, 1001, "starts from the initial value");
    is(zkr_counter_set(k, 0), ZKR_OK, "set 0");
    zkr_counter_free(k);

    /* ---- 32-bit, SharedCount's layout ---- */
    zkr_counter_opts_init(&o);
    o.encoding = ZKR_COUNTER_INT;
    is(zkr_counter_new(c, "/ctr/int", &o, &ki), ZKR_OK, "int counter");
    is(zkr_counter_set(ki, 258), ZKR_OK, "set 258");
    is(raw(c, "/ctr/int", buf, &len), ZKR_OK, "raw node");
    is(len, 4, "4 bytes");
    ok(!memcmp(buf, "\0\0\1\2", 4), "big-endian 258");
    is(zkr_counter_set(ki, INT32_MAX), ZKR_OK, "set int max");
    is(zkr_counter_add(ki, 1, &v), ZKR_OK, "add past int max");
    is(v, INT32_MIN, "wraps like a Java int");
    is(zkr_counter_set(ki, (int64_t)INT32_MAX + 1), ZKR_EINVAL,
       "set out of int range");
    is(zkr_counter_add(ki, (int64_t)1 << 40, &v), ZKR_EINVAL,
       "delta out of int range");
    zkr_counter_free(ki);
    is(zkr_create(c, "/ctr/empty", NULL, 0, ZKR_PERSISTENT, NULL), ZKR_OK,
       "empty node");
    is(zkr_counter_new(c, "/ctr/empty", &o, &ki), ZKR_OK, "int counter");
    is(zkr_counter_get(ki, &v, &ver), ZKR_OK, "an empty node");
    ok(v == 0 && ver == 0, "reads as the initial value");
    is(zkr_counter_add(ki, 3, &v), ZKR_OK, "add");
    is(v, 3, "3");
    zkr_counter_free(ki);

    /* ---- data of another shape ---- */
    is(zkr_create(c, "/ctr/bad", "abc", 3, ZKR_PERSISTENT, NULL), ZKR_OK,
       "three-byte node");
    is(zkr_counter_new(c, "/ctr/bad", NULL, &k), ZKR_OK, "counter on it");
    is(zkr_counter_get(k, &v, NULL), ZKR_EMARSHALLING, "get: EMARSHALLING");
    is(zkr_counter_add(k, 1, &v), ZKR_EMARSHALLING, "add: EMARSHALLING");
    is(zkr_counter_compare_and_set(k, 0, 1), ZKR_EMARSHALLING,
       "compare-and-set: EMARSHALLING");
    zkr_counter_free(k);
    is(zkr_counter_new(c, "/ctr/int", NULL, &k), ZKR_OK,
       "8-byte counter on a 4-byte node");
    is(zkr_counter_get(k, &v, NULL), ZKR_EMARSHALLING, "is refused");
    zkr_counter_free(k);

    /* ---- N clients add M times ---- */
    {
        struct worker w[N];
        pthread_t th[N];
        unsigned conflicts = 0;
        int fails = 0;
        for (int i = 0; i < N; i++) {
            w[i].hosts = hosts;
            w[i].rc = -1;
            pthread_create(&th[i], NULL, worker_main, &w[i]);
        }
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            fails += w[i].rc != ZKR_OK;
            conflicts += w[i].conflicts;
        }
        is(fails, 0, "%d clients added %d times each", N, M);
        zkr_counter_new(c, "/ctr/shared", NULL, &k);
        is(zkr_counter_get(k, &v, NULL), ZKR_OK, "read the total");
        is(v, N * M, "exactly N*M = %d", N * M);
        diag("%u version conflicts were retried", conflicts);
        zkr_counter_free(k);
    }

    /* ---- async adds: in order, exactly once, EDEADLK, cancel ---- */
    {
        struct acb a;
        memset(&a, 0, sizeof a);
        is(zkr_counter_new(c, "/ctr/async", NULL, &k), ZKR_OK, "counter");
        for (int i = 0; i < 100; i++)
            zkr_counter_add_async(k, 1, add_cb, &a);
        is(wait_calls(&a.calls, 100), 100, "100 callbacks");
        {
            int in_order = 1, all_ok = 1;
            for (int i = 0; i < 100; i++) {
                all_ok &= a.status[i] == ZKR_OK;
                in_order &= a.value[i] == i + 1;
            }
            ok(all_ok, "all succeeded");
            ok(in_order, "in the order they were made (1..100)");
        }
        zkt_sleep_ms(100);
        is(atomic_load(&a.calls), 100, "exactly once each");

        memset(&a, 0, sizeof a);
        is(zkr_counter_new(c, "/ctr/probe", NULL, &a.probe), ZKR_OK, "probe");
        is(zkr_counter_add_async(k, 1, add_cb, &a), ZKR_OK, "add_async");
        is(wait_calls(&a.calls, 1), 1, "callback ran");
        is(atomic_load(&a.probe_rc), ZKR_EDEADLK,
           "blocking add in a callback: EDEADLK");
        ok(atomic_load(&a.probe_all),
           "get, set, cas, compare_and_set in a callback: EDEADLK");
        zkr_counter_free(a.probe);

        memset(&a, 0, sizeof a);
        for (int i = 0; i < 5; i++)
            zkr_counter_add_async(k, 1, add_cb, &a);
        zkr_counter_free(k);
        is(wait_calls(&a.calls, 5), 5, "free completes every pending add");
        {
            int canceled = 0;
            for (int i = 0; i < 5; i++)
                canceled += a.status[i] == ZKR_ECANCELED;
            ok(canceled >= 4, "with ZKR_ECANCELED (%d of 5)", canceled);
        }
        zkt_sleep_ms(200);
        is(atomic_load(&a.calls), 5, "and only once");
    }

    /* ---- max_retries ---- */
    zkr_counter_opts_init(&o);
    o.max_retries = 0;
    is(zkr_counter_new(c, "/ctr/retry", &o, &k), ZKR_OK, "no retries");
    is(zkr_counter_add(k, 2, &v), ZKR_OK, "uncontended add succeeds");
    is(v, 2, "value 2");
    zkr_counter_free(k);

    /* ---- bad input ---- */
    zkr_counter_opts_init(&o);
    is(zkr_counter_new(NULL, "/x", NULL, &k), ZKR_EINVAL, "NULL client");
    is(zkr_counter_new(c, "x", NULL, &k), ZKR_EBADPATH, "relative path");
    is(zkr_counter_new(c, "/", NULL, &k), ZKR_EBADPATH, "root");
    is(zkr_counter_new(c, "/x", NULL, NULL), ZKR_EINVAL, "NULL out");
    o.encoding = (zkr_counter_encoding_t)7;
    is(zkr_counter_new(c, "/x", &o, &k), ZKR_EINVAL, "unknown encoding");
    o.encoding = ZKR_COUNTER_INT;
    o.initial = (int64_t)1 << 33;
    is(zkr_counter_new(c, "/x", &o, &k), ZKR_EINVAL,
       "initial out of int range");
    zkr_counter_opts_init(&o);
    o.max_retries = -2;
    is(zkr_counter_new(c, "/x", &o, &k), ZKR_EINVAL, "max_retries -2");
    is(zkr_counter_new(c, "/x", NULL, &k), ZKR_OK, "good counter");
    is(zkr_counter_get(k, NULL, NULL), ZKR_EINVAL, "get NULL value");
    is(zkr_counter_get(NULL, &v, NULL), ZKR_EINVAL, "get NULL counter");
    is(zkr_counter_add(NULL, 1, &v), ZKR_EINVAL, "add NULL counter");
    is(zkr_counter_add_async(k, 1, NULL, NULL), ZKR_EINVAL, "NULL callback");
    is(zkr_counter_cas(k, -2, 1, NULL), ZKR_EINVAL, "version -2");
    is(zkr_counter_set(NULL, 1), ZKR_EINVAL, "set NULL counter");
    zkr_counter_free(k);
    zkr_counter_free(NULL);

    /* ---- client freed under the counter ---- */
    {
        zkr_client_t *c2 = zkt_client(hosts, 4000);
        struct acb a;
        memset(&a, 0, sizeof a);
        is(zkr_counter_new(c2, "/ctr/closing", NULL, &k), ZKR_OK, "counter");
        zkr_client_free(c2);
        is(zkr_counter_add_async(k, 1, add_cb, &a), ZKR_ECLOSED,
           "add after the client is freed: ECLOSED");
        zkr_counter_free(k);
    }
    zkr_client_free(c);
    return done_testing();
}
