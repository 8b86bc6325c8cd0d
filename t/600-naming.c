/* SPDX-License-Identifier: Apache-2.0 */
/* Naming service on one server: unique 64-bit IDs (no duplicates across 8
 * concurrent sessions, increasing per handle, ordered across handles, the
 * node layout, batch size agreement), name binding (persistent,
 * ephemeral, exclusive, replace), resolve, watch, exactly-once callbacks,
 * EDEADLK, bad input. Prints IDs per second with and without batching. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/naming.h>

#define THREADS 8
#define PER_THREAD 600

struct worker {
    const char *hosts;
    int64_t ids[PER_THREAD];
    int rc;
    int increasing;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    zkr_client_t *c = zkt_client(w->hosts, 5000);
    zkr_idgen_opts_t o;
    zkr_idgen_t *g;
    zkr_idgen_opts_init(&o);
    o.batch = 7; /* small blocks: many reservations racing */
    w->rc = zkr_idgen_new(c, "/ids/shared", &o, &g);
    w->increasing = 1;
    for (int i = 0; i < PER_THREAD && w->rc == ZKR_OK; i++) {
        w->rc = zkr_idgen_next(g, 10000, &w->ids[i]);
        if (i > 0 && w->ids[i] <= w->ids[i - 1])
            w->increasing = 0;
    }
    zkr_idgen_free(g);
    zkr_client_free(c);
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

struct idcb {
    atomic_int calls;
    atomic_int status;
    atomic_llong id;
    atomic_int probe;
    zkr_idgen_t *probe_g;
};

static void id_cb(zkr_idgen_t *g, int status, int64_t id, void *ctx)
{
    struct idcb *k = ctx;
    int64_t dummy;
    (void)g;
    atomic_store(&k->status, status);
    atomic_store(&k->id, id);
    if (k->probe_g)
        atomic_store(&k->probe, zkr_idgen_next(k->probe_g, 1000, &dummy));
    atomic_fetch_add(&k->calls, 1);
}

static int wait_calls(atomic_int *calls, int n)
{
    for (int i = 0; i < 400 && atomic_load(calls) < n; i++)
        zkt_sleep_ms(25);
    return atomic_load(calls);
}

static double rate(zkr_client_t *c, const char *path, int batch, int n)
{
    zkr_idgen_opts_t o;
    zkr_idgen_t *g;
    int64_t id;
    long long t0;
    zkr_idgen_opts_init(&o);
    o.batch = batch;
    if (zkr_idgen_new(c, path, &o, &g) != ZKR_OK)
        return 0;
    t0 = zkt_now_ms();
    for (int i = 0; i < n; i++)
        if (zkr_idgen_next(g, 10000, &id) != ZKR_OK) {
            zkr_idgen_free(g);
            return 0;
        }
    t0 = zkt_now_ms() - t0;
    zkr_idgen_free(g);
    return n * 1000.0 / (double)(t0 > 0 ? t0 : 1);
}

/* ---- name watch recorder ----------------------------------------------- */

struct rec {
    pthread_mutex_t mu;
    int n;
    int status[64];
    char value[64][32];
    zkr_client_t *probe_c;
    atomic_int probe;
    atomic_int probe_all;
};

static void rec_cb(zkr_naming_watch_t *w, int status, const char *value,
                   size_t len, void *ctx)
{
    struct rec *r = ctx;
    (void)w;
    (void)len;
    if (r->probe_c) {
        char *v = NULL;
        atomic_store(&r->probe, zkr_naming_bind(r->probe_c, "/names/x", "x",
                                                1, 0));
        atomic_store(&r->probe_all,
                     zkr_naming_resolve(r->probe_c, "/names/x", &v, NULL) ==
                             ZKR_EDEADLK &&
                         zkr_naming_unbind(r->probe_c, "/names/x") ==
                             ZKR_EDEADLK);
    }
    pthread_mutex_lock(&r->mu);
    if (r->n < 64) {
        r->status[r->n] = status;
        snprintf(r->value[r->n], sizeof r->value[0], "%s",
                 value ? value : "(null)");
        r->n++;
    }
    pthread_mutex_unlock(&r->mu);
}

static int rec_wait(struct rec *r, int n)
{
    int got = 0;
    for (int i = 0; i < 400; i++) {
        pthread_mutex_lock(&r->mu);
        got = r->n;
        pthread_mutex_unlock(&r->mu);
        if (got >= n)
            break;
        zkt_sleep_ms(25);
    }
    return got;
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *c = zkt_client(hosts, 4000), *c2 = zkt_client(hosts, 4000);
    zkr_idgen_t *g, *g2;
    zkr_idgen_opts_t o;
    struct worker w[THREADS];
    pthread_t th[THREADS];
    int64_t a, b, prev;
    char *v = NULL;
    size_t len = 0;

    /* ---- unique IDs: layout and order ---- */
    zkr_idgen_opts_init(&o);
    is(o.batch, 1000, "default batch 1000");
    o.batch = 10;
    is(zkr_idgen_new(c, "/ids/a", &o, &g), ZKR_OK, "new generator");
    is(zkr_idgen_next(g, 5000, &a), ZKR_OK, "first ID");
    ok(a >= 0, "IDs are not negative (%lld)", (long long)a);
    is(zkr_idgen_reservations(g), 1, "one reservation");
    prev = a;
    {
        int up = 1;
        for (int i = 0; i < 25; i++) {
            is(zkr_idgen_next(g, 5000, &b), ZKR_OK, "next ID %d", i);
            if (b <= prev)
                up = 0;
            prev = b;
        }
        ok(up, "IDs of one handle strictly increase");
    }
    is(zkr_idgen_reservations(g), 3, "26 IDs in blocks of 10: 3 round trips");
    is(zkr_get(c, "/ids/a", &v, &len, NULL), ZKR_OK, "generator node");
    is_str(v, "zkr-idgen batch=10", "it records the batch size");
    zkr_free(v);
    is(zkr_exists(c, "/ids/a/b-0000000000", NULL), ZKR_OK, "bucket 0");
    zkr_client_flush(c, 5000);
    {
        char **names;
        int n = -1;
        zkr_children(c, "/ids/a/b-0000000000", &names, &n);
        is(n, 0, "reservation nodes are deleted");
        zkr_strings_free(names, n);
    }
    /* a second handle follows the recorded batch, and reserves after */
    o.batch = 500;
    is(zkr_idgen_new(c2, "/ids/a", &o, &g2), ZKR_OK, "second generator");
    is(zkr_idgen_next(g2, 5000, &b), ZKR_OK, "its first ID");
    is(zkr_idgen_batch(g2), 10, "it uses the path's batch, not its own");
    ok(b > prev, "a block reserved later is larger (%lld > %lld)",
       (long long)b, (long long)prev);
    for (int i = 0; i < 4; i++)
        zkr_idgen_next(g, 5000, &a);
    is(zkr_idgen_next(g, 5000, &a), ZKR_OK, "first handle's next block");
    ok(a > b, "...is larger than the second's (%lld > %lld)", (long long)a,
       (long long)b);
    zkr_idgen_free(g2);

    /* a higher bucket made elsewhere is used by a new handle */
    is(zkr_create(c, "/ids/a/b-0000000005", NULL, 0, ZKR_PERSISTENT, NULL),
       ZKR_OK, "bucket 5 appears");
    is(zkr_idgen_new(c2, "/ids/a", NULL, &g2), ZKR_OK, "third generator");
    is(zkr_idgen_next(g2, 5000, &b), ZKR_OK, "its first ID");
    ok(b >= ((int64_t)5 << 31) * 10, "from bucket 5 (%lld)", (long long)b);
    zkr_idgen_free(g2);
    zkr_idgen_free(g);

    /* ---- 8 concurrent sessions ---- */
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].hosts = hosts;
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    {
        int64_t *all = malloc(sizeof *all * THREADS * PER_THREAD);
        int fails = 0, dups = 0, mono = 1, n = 0;
        for (int i = 0; i < THREADS; i++) {
            pthread_join(th[i], NULL);
            if (w[i].rc != ZKR_OK)
                fails++;
            mono &= w[i].increasing;
            memcpy(all + n, w[i].ids, sizeof w[i].ids);
            n += PER_THREAD;
        }
        qsort(all, (size_t)n, sizeof *all, cmp64);
        for (int i = 1; i < n; i++)
            if (all[i] == all[i - 1])
                dups++;
        is(fails, 0, "8 sessions took %d IDs each", PER_THREAD);
        is(dups, 0, "no duplicate among %d IDs", n);
        ok(mono, "each session's IDs increase");
        free(all);
    }

    /* ---- async: exactly once, EDEADLK, cancel on free ---- */
    {
        struct idcb k = {0};
        is(zkr_idgen_new(c, "/ids/async", NULL, &g), ZKR_OK, "generator");
        is(zkr_idgen_new(c, "/ids/probe", NULL, &k.probe_g), ZKR_OK,
           "probe generator");
        is(zkr_idgen_next_async(g, id_cb, &k), ZKR_OK, "next_async");
        is(wait_calls(&k.calls, 1), 1, "callback ran");
        is(atomic_load(&k.status), ZKR_OK, "with an ID");
        is(atomic_load(&k.probe), ZKR_EDEADLK,
           "blocking next in a callback: EDEADLK");
        zkr_idgen_free(k.probe_g);
        k.probe_g = NULL;
        is(zkr_idgen_next_async(g, id_cb, &k), ZKR_OK,
           "next_async from the block");
        is(atomic_load(&k.calls), 2, "served at once on this thread");
        zkt_sleep_ms(100);
        is(atomic_load(&k.calls), 2, "exactly once each");
        zkr_idgen_free(g);
        zkr_idgen_free(NULL);
        is(zkr_idgen_new(c, "/ids/fresh", NULL, &g), ZKR_OK, "fresh");
        memset(&k, 0, sizeof k);
        is(zkr_idgen_next_async(g, id_cb, &k), ZKR_OK, "pending next");
        zkr_idgen_free(g);
        is(wait_calls(&k.calls, 1), 1, "free completes it");
        is(atomic_load(&k.status), ZKR_ECANCELED, "with ZKR_ECANCELED");
        zkt_sleep_ms(200);
        is(atomic_load(&k.calls), 1, "and only once");
    }

    /* ---- bad input ---- */
    o.batch = 0;
    is(zkr_idgen_new(c, "/ids/x", &o, &g), ZKR_EINVAL, "batch 0");
    o.batch = 65537;
    is(zkr_idgen_new(c, "/ids/x", &o, &g), ZKR_EINVAL, "batch too big");
    is(zkr_idgen_new(NULL, "/ids/x", NULL, &g), ZKR_EINVAL, "NULL client");
    is(zkr_idgen_new(c, "ids", NULL, &g), ZKR_EBADPATH, "relative path");
    is(zkr_idgen_new(c, "/", NULL, &g), ZKR_EBADPATH, "root");
    is(zkr_idgen_new(c, "/x", NULL, NULL), ZKR_EINVAL, "NULL out");
    is(zkr_idgen_next(NULL, 0, &a), ZKR_EINVAL, "next NULL");
    is(zkr_set(c, "/ids/a", "junk", 4, -1, NULL), ZKR_OK, "spoil the node");
    is(zkr_idgen_new(c, "/ids/a", NULL, &g), ZKR_OK, "generator on it");
    is(zkr_idgen_next(g, 5000, NULL), ZKR_EINVAL, "NULL id");
    is(zkr_idgen_next(g, 5000, &a), ZKR_EMARSHALLING,
       "foreign data: EMARSHALLING");
    is(zkr_idgen_next_async(g, NULL, NULL), ZKR_EINVAL, "NULL callback");
    zkr_idgen_free(g);

    /* ---- speed: one ID per round trip vs blocks ---- */
    {
        double one = rate(c, "/ids/speed1", 1, 1500);
        double many = rate(c, "/ids/speed1000", 1000, 200000);
        ok(one > 0 && many > 0, "measured");
        diag("IDs/s: batch 1 = %.0f, batch 1000 = %.0f (x%.0f)", one, many,
             one > 0 ? many / one : 0);
    }

    /* ---- names ---- */
    is(zkr_naming_bind(c, "/names/db/primary", "10.0.0.1:5432", 13, 0), ZKR_OK,
       "bind (parents created)");
    is(zkr_naming_resolve(c2, "/names/db/primary", &v, &len), ZKR_OK,
       "resolve from another session");
    is_str(v, "10.0.0.1:5432", "value");
    is(len, 13, "length");
    zkr_free(v);
    is(zkr_naming_bind(c2, "/names/db/primary", "10.0.0.2:5432", 13, 0),
       ZKR_OK, "rebind replaces");
    zkr_naming_resolve(c, "/names/db/primary", &v, NULL);
    is_str(v, "10.0.0.2:5432", "new value");
    zkr_free(v);
    is(zkr_naming_bind(c, "/names/db/primary", "x", 1, ZKR_NAMING_EXCLUSIVE),
       ZKR_ENODEEXISTS, "exclusive bind of a bound name");
    is(zkr_naming_bind(c, "/names/db/excl", "y", 1, ZKR_NAMING_EXCLUSIVE),
       ZKR_OK, "exclusive bind of a free name");
    is(zkr_naming_unbind(c, "/names/db/excl"), ZKR_OK, "unbind");
    is(zkr_naming_resolve(c, "/names/db/excl", &v, NULL), ZKR_ENONODE,
       "resolve an unbound name");
    ok(v == NULL, "no value");
    is(zkr_naming_unbind(c, "/names/db/excl"), ZKR_ENONODE, "unbind twice");
    {
        zkr_stat_t st;
        zkr_client_t *c3 = zkt_client(hosts, 4000);
        is(zkr_naming_bind(c3, "/names/eph", "e3", 2, ZKR_NAMING_EPHEMERAL),
           ZKR_OK, "ephemeral bind");
        is(zkr_exists(c, "/names/eph", &st), ZKR_OK, "bound");
        is(st.ephemeral_owner, zkr_client_session_id(c3), "ephemeral node");
        is(zkr_naming_bind(c2, "/names/eph", "e2", 2, ZKR_NAMING_EPHEMERAL),
           ZKR_OK, "another session rebinds it");
        zkr_exists(c, "/names/eph", &st);
        is(st.ephemeral_owner, zkr_client_session_id(c2),
           "the node is replaced: now owned by the new binder");
        is(zkr_naming_bind(c2, "/names/eph", "e2b", 3, ZKR_NAMING_EPHEMERAL),
           ZKR_OK, "owner rebinds");
        zkr_exists(c, "/names/eph", &st);
        ok(st.version == 1 && st.ephemeral_owner == zkr_client_session_id(c2),
           "its own binding is updated in place");
        is(zkr_naming_bind(c, "/names/eph", "p", 1, 0), ZKR_OK,
           "persistent over ephemeral");
        zkr_exists(c, "/names/eph", &st);
        is(st.ephemeral_owner, 0, "now persistent");
        is(zkr_naming_bind(c3, "/names/eph3", "z", 1, ZKR_NAMING_EPHEMERAL),
           ZKR_OK, "ephemeral bind");
        zkr_client_free(c3);
        is(zkr_naming_resolve(c, "/names/eph3", &v, NULL), ZKR_ENONODE,
           "an ephemeral binding ends with its session");
    }

    /* ---- watch ---- */
    {
        struct rec r;
        zkr_naming_watch_t *nw;
        memset(&r, 0, sizeof r);
        pthread_mutex_init(&r.mu, NULL);
        is(zkr_naming_watch_new(c2, "/names/w", rec_cb, &r, &nw), ZKR_OK,
           "watch a free name");
        is(rec_wait(&r, 1), 1, "initial report");
        is(r.status[0], ZKR_ENONODE, "not bound");
        zkr_naming_bind(c, "/names/w", "v1", 2, 0);
        is(rec_wait(&r, 2), 2, "bind reported");
        is(r.status[1], ZKR_OK, "bound");
        is_str(r.value[1], "v1", "value v1");
        zkr_naming_bind(c, "/names/w", "v2", 2, 0);
        is(rec_wait(&r, 3), 3, "rebind reported");
        is_str(r.value[2], "v2", "value v2");
        zkr_naming_unbind(c, "/names/w");
        is(rec_wait(&r, 4), 4, "unbind reported");
        is(r.status[3], ZKR_ENONODE, "unbound");
        is(zkr_client_expire_session(c2), ZKR_OK, "expire the watcher's "
                                                  "session");
        zkr_client_wait_connected(c2, 10000);
        zkr_naming_bind(c, "/names/w", "v3", 2, ZKR_NAMING_EPHEMERAL);
        is(rec_wait(&r, 5), 5, "watch goes on in the new session");
        is_str(r.value[4], "v3", "value v3");
        zkr_naming_watch_free(nw);
        zkr_naming_bind(c, "/names/w", "v4", 2, 0);
        zkt_sleep_ms(300);
        is(rec_wait(&r, 0), 5, "no report after free");

        /* EDEADLK from the watch callback */
        memset(&r, 0, sizeof r);
        pthread_mutex_init(&r.mu, NULL);
        r.probe_c = c;
        is(zkr_naming_watch_new(c2, "/names/w", rec_cb, &r, &nw), ZKR_OK,
           "watch again");
        is(rec_wait(&r, 1), 1, "initial report");
        is(atomic_load(&r.probe), ZKR_EDEADLK,
           "blocking bind in a callback: EDEADLK");
        ok(atomic_load(&r.probe_all),
           "resolve and unbind in a callback: EDEADLK");
        zkr_naming_watch_free(nw);
        zkr_naming_watch_free(NULL);
    }

    /* ---- names: bad input ---- */
    is(zkr_naming_bind(NULL, "/n", "x", 1, 0), ZKR_EINVAL, "bind NULL client");
    is(zkr_naming_bind(c, "n", "x", 1, 0), ZKR_EBADPATH, "bind bad path");
    is(zkr_naming_bind(c, "/", "x", 1, 0), ZKR_EBADPATH, "bind root");
    is(zkr_naming_bind(c, "/n", NULL, 1, 0), ZKR_EINVAL, "NULL value with len");
    is(zkr_naming_bind(c, "/n", "x", 1, 8), ZKR_EINVAL, "unknown flag");
    is(zkr_naming_bind(c, "/n", "x", ZKR_MAX_DATA + 1, 0), ZKR_ETOOBIG,
       "value too big");
    is(zkr_naming_resolve(c, "/n", NULL, NULL), ZKR_EINVAL, "resolve NULL out");
    is(zkr_naming_resolve(c, "n", &v, NULL), ZKR_EBADPATH, "resolve bad path");
    is(zkr_naming_unbind(c, "/"), ZKR_EBADPATH, "unbind root");
    {
        zkr_naming_watch_t *nw;
        is(zkr_naming_watch_new(c, "/n", NULL, NULL, &nw), ZKR_EINVAL,
           "watch NULL callback");
        is(zkr_naming_watch_new(c, "n", rec_cb, NULL, &nw), ZKR_EBADPATH,
           "watch bad path");
    }
    zkr_client_free(c2);
    zkr_client_free(c);
    return done_testing();
}
