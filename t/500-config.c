/* SPDX-License-Identifier: Apache-2.0 */
/* Config cache and push: input checks, compare-and-swap conflicts,
 * watchers that end with the final value after a burst of 100 pushes,
 * after a server restart and after a forced session expiry, a node that
 * appears and disappears, the children cache, ZKR_EDEADLK from the change
 * callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/config.h>

#define NW 6

static zkr_client_t *g_client; /* for the push from a callback */

typedef struct {
    pthread_mutex_t mu;
    int calls, last_status;
    int probe;
    int probe_rc[3];
} rec_t;

static void rec_init(rec_t *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
}

static void on_change(zkr_config_t *cfg, int status, void *ctx)
{
    rec_t *r = ctx;
    int probe;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->last_status = status;
    probe = r->probe;
    pthread_mutex_unlock(&r->mu);
    if (probe) {
        char *d = NULL;
        int a = zkr_config_wait_synced(cfg, 10);
        int b = zkr_config_push(g_client, "/x", "", 0, ZKR_CONFIG_ANY, NULL);
        int c = zkr_config_get(cfg, &d, NULL, NULL);
        zkr_free(d);
        pthread_mutex_lock(&r->mu);
        r->probe_rc[0] = a;
        r->probe_rc[1] = b;
        r->probe_rc[2] = c;
        r->probe = 0;
        pthread_mutex_unlock(&r->mu);
    }
}

static int rget(rec_t *r, const int *f)
{
    int v;
    pthread_mutex_lock(&r->mu);
    v = *f;
    pthread_mutex_unlock(&r->mu);
    return v;
}

/* Wait until the cache holds want (NULL: the node is absent). */
static int wait_value(zkr_config_t *cfg, const char *want, int ms)
{
    for (int i = 0; i < ms / 20; i++) {
        char *d = NULL;
        int rc = zkr_config_get(cfg, &d, NULL, NULL), hit;
        hit = want ? rc == ZKR_OK && strcmp(d, want) == 0 : rc == ZKR_ENONODE;
        zkr_free(d);
        if (hit)
            return 1;
        zkt_sleep_ms(20);
    }
    return 0;
}

static int all_have(zkr_config_t **w, int n, const char *want, int ms)
{
    int good = 0;
    for (int i = 0; i < n; i++)
        good += wait_value(w[i], want, ms);
    return good;
}

static void check_inputs(zkr_client_t *c)
{
    zkr_config_t *g = NULL;
    zkr_config_entry_t *e;
    zkr_stat_t st;
    char *big;
    int n;
    is(zkr_config_new(NULL, "/c", NULL, &g), ZKR_EINVAL, "new: NULL client");
    is(zkr_config_new(c, "/c", NULL, NULL), ZKR_EINVAL, "new: NULL out");
    is(zkr_config_new(c, "c", NULL, &g), ZKR_EBADPATH, "new: relative path");
    is(zkr_config_new(c, "/c/", NULL, &g), ZKR_EBADPATH, "new: trailing slash");
    is(zkr_config_wait_synced(NULL, 0), ZKR_EINVAL, "wait_synced: NULL");
    is(zkr_config_get(NULL, NULL, NULL, NULL), ZKR_EINVAL, "get: NULL");
    is(zkr_config_children(NULL, &e, &n), ZKR_EINVAL, "children: NULL cfg");
    is(zkr_config_push(NULL, "/c", "x", 1, ZKR_CONFIG_ANY, NULL), ZKR_EINVAL, "push: NULL client");
    is(zkr_config_push(c, "/c", NULL, 1, ZKR_CONFIG_ANY, NULL), ZKR_EINVAL, "push: NULL data, len 1");
    is(zkr_config_push(c, "/c", "x", 1, -3, NULL), ZKR_EINVAL, "push: version -3");
    is(zkr_config_push(c, "c", "x", 1, ZKR_CONFIG_ANY, NULL), ZKR_EBADPATH, "push: relative path");
    is(zkr_config_push(c, NULL, "x", 1, ZKR_CONFIG_ANY, NULL), ZKR_EINVAL, "push: NULL path");
    big = calloc(1, ZKR_MAX_DATA + 1);
    is(zkr_config_push(c, "/c", big, ZKR_MAX_DATA + 1, ZKR_CONFIG_ANY, &st), ZKR_ETOOBIG, "push: over 1 MB");
    free(big);
    is(zkr_config_push(c, "/inputs/none", "x", 1, 3, &st), ZKR_ENONODE, "push with a version to a missing node: ENONODE");
    is(zkr_config_new(c, "/inputs/plain", NULL, &g), ZKR_OK, "new without options");
    is(zkr_config_children(g, &e, &n), ZKR_EINVAL, "children without opts.children: EINVAL");
    is(zkr_config_wait_synced(g, 10000), ZKR_OK, "synced");
    is(zkr_config_get(g, NULL, NULL, NULL), ZKR_ENONODE, "missing node: ENONODE");
    zkr_config_free(g);
    zkr_config_free(NULL);
}

int main(void)
{
    zkt_server_t *srv = zkt_start(1);
    zkr_client_t *c[3], *pusher;
    zkr_config_t *w[NW], *tree;
    zkr_config_opts_t o;
    rec_t rec[NW], rt;
    zkr_stat_t st, st2;
    char *d;
    size_t len;
    char val[32];
    int i, n;

    for (i = 0; i < 3; i++)
        c[i] = zkt_client(srv->hosts, 4000);
    pusher = zkt_client(srv->hosts, 4000);
    g_client = pusher;
    check_inputs(pusher);

    /* compare-and-swap */
    is(zkr_config_push(pusher, "/cfg/app/main", "one", 3, ZKR_CONFIG_ABSENT, &st), ZKR_OK,
       "push ABSENT creates the node and its parents");
    is(st.version, 0, "at version 0");
    is(zkr_config_push(pusher, "/cfg/app/main", "two", 3, ZKR_CONFIG_ABSENT, &st), ZKR_EBADVERSION,
       "push ABSENT on an existing node: conflict");
    is(st.version, 0, "conflict reports the current version");
    is(zkr_config_push(pusher, "/cfg/app/main", "two", 3, 5, &st), ZKR_EBADVERSION,
       "push based on version 5: conflict");
    is(st.version, 0, "current version 0");
    is(zkr_config_push(pusher, "/cfg/app/main", "two", 3, 0, &st), ZKR_OK, "push based on version 0");
    is(st.version, 1, "now at version 1");
    is(zkr_config_push(pusher, "/cfg/app/main", "lost", 4, 0, &st2), ZKR_EBADVERSION,
       "a second push based on version 0 loses");
    is(zkr_config_push(pusher, "/cfg/app/main", "three", 5, ZKR_CONFIG_ANY, &st), ZKR_OK, "push ANY");
    is(st.version, 2, "version 2");
    is(zkr_get(pusher, "/cfg/app/main", &d, &len, NULL), ZKR_OK, "read back");
    is_str(d, "three", "the forced value is there");
    zkr_free(d);
    is(zkr_config_push(pusher, "/cfg/app/other", "x", 1, ZKR_CONFIG_ANY, &st), ZKR_OK,
       "push ANY creates a missing node");

    /* watchers */
    zkr_config_opts_init(&o);
    o.on_change = on_change;
    for (i = 0; i < NW; i++) {
        rec_init(&rec[i]);
        o.ctx = &rec[i];
        if (zkr_config_new(c[i % 3], "/cfg/app/main", &o, &w[i]) != ZKR_OK)
            bail_out("zkr_config_new");
    }
    for (i = 0; i < NW; i++)
        if (zkr_config_wait_synced(w[i], 10000) != ZKR_OK)
            break;
    is(i, NW, "%d watchers synced", NW);
    is(zkr_config_get(w[0], &d, &len, &st), ZKR_OK, "get");
    is_str(d, "three", "cached value");
    is((long long)len, 5, "cached length");
    is(st.version, 2, "cached version");
    zkr_free(d);
    for (i = 0; i < 100 && rget(&rec[0], &rec[0].calls) < 1; i++)
        zkt_sleep_ms(20);
    is(rget(&rec[0], &rec[0].calls), 1, "initial change callback ran once");
    is(rget(&rec[0], &rec[0].last_status), ZKR_OK, "with ZKR_OK");

    /* EDEADLK from the callback */
    pthread_mutex_lock(&rec[1].mu);
    rec[1].probe = 1;
    pthread_mutex_unlock(&rec[1].mu);

    /* a burst of 100 pushes */
    for (i = 1; i <= 100; i++) {
        snprintf(val, sizeof val, "burst-%d", i);
        if (zkr_config_push(pusher, "/cfg/app/main", val, strlen(val), ZKR_CONFIG_ANY, &st) != ZKR_OK)
            break;
    }
    is(i, 101, "100 pushes");
    is(all_have(w, NW, "burst-100", 15000), NW, "every watcher ends with the last value");
    is(zkr_config_get(w[NW - 1], NULL, NULL, &st2), ZKR_OK, "stat of the cache");
    is(st2.version, st.version, "and its version (%d)", st.version);
    ok(rget(&rec[0], &rec[0].calls) >= 2, "change callbacks ran (%d, coalesced)", rget(&rec[0], &rec[0].calls));
    is(rget(&rec[1], &rec[1].probe_rc[0]), ZKR_EDEADLK, "wait_synced from the callback: EDEADLK");
    is(rget(&rec[1], &rec[1].probe_rc[1]), ZKR_EDEADLK, "push from the callback: EDEADLK");
    is(rget(&rec[1], &rec[1].probe_rc[2]), ZKR_OK, "get from the callback works");

    /* server restart */
    is(zkt_ctl(srv, "kill 1"), 0, "server killed");
    zkt_sleep_ms(300);
    is(zkt_ctl(srv, "restart 1"), 0, "server restarted");
    is(zkr_client_wait_connected(pusher, 15000), ZKR_OK, "pusher reconnected");
    is(zkr_config_push(pusher, "/cfg/app/main", "after-restart", 13, ZKR_CONFIG_ANY, &st), ZKR_OK,
       "push after the restart");
    is(all_have(w, NW, "after-restart", 20000), NW, "every watcher has it");

    /* forced session expiry of a watcher's client; push meanwhile */
    is(zkr_client_expire_session(c[0]), ZKR_OK, "expire a watcher client's session");
    is(zkr_config_push(pusher, "/cfg/app/main", "during-expiry", 13, ZKR_CONFIG_ANY, &st), ZKR_OK,
       "push while it opens a new session");
    is(all_have(w, NW, "during-expiry", 20000), NW, "every watcher has it, also the expired ones");
    for (i = 1; i <= 20; i++) {
        snprintf(val, sizeof val, "final-%d", i);
        zkr_config_push(pusher, "/cfg/app/main", val, strlen(val), ZKR_CONFIG_ANY, NULL);
        if (i == 5)
            zkr_client_expire_session(c[1]);
    }
    is(all_have(w, NW, "final-20", 20000), NW, "pushes across another expiry: final value everywhere");

    /* node deleted and created again */
    is(zkr_delete(pusher, "/cfg/app/main", -1), ZKR_OK, "delete the node");
    is(all_have(w, NW, NULL, 10000), NW, "watchers see it gone");
    for (i = 0; i < 100 && rget(&rec[2], &rec[2].last_status) != ZKR_ENONODE; i++)
        zkt_sleep_ms(20);
    is(rget(&rec[2], &rec[2].last_status), ZKR_ENONODE, "callback status ZKR_ENONODE");
    is(zkr_config_push(pusher, "/cfg/app/main", "reborn", 6, ZKR_CONFIG_ABSENT, NULL), ZKR_OK,
       "create it again");
    is(all_have(w, NW, "reborn", 10000), NW, "watchers see it back");

    /* children cache */
    rec_init(&rt);
    zkr_config_opts_init(&o);
    o.children = 1;
    o.on_change = on_change;
    o.ctx = &rt;
    is(zkr_config_new(c[2], "/cfg/tree", &o, &tree), ZKR_OK, "cache with children, node missing");
    is(zkr_config_wait_synced(tree, 10000), ZKR_OK, "synced");
    {
        zkr_config_entry_t *e;
        is(zkr_config_children(tree, &e, &n), ZKR_OK, "children of a missing node");
        is(n, 0, "none");
        zkr_config_entries_free(e, n);
    }
    zkr_config_push(pusher, "/cfg/tree/a", "A", 1, ZKR_CONFIG_ANY, NULL);
    zkr_config_push(pusher, "/cfg/tree/b", "B", 1, ZKR_CONFIG_ANY, NULL);
    zkr_config_push(pusher, "/cfg/tree/c", "C", 1, ZKR_CONFIG_ANY, NULL);
    zkr_config_push(pusher, "/cfg/tree/b", "B2", 2, ZKR_CONFIG_ANY, NULL);
    zkr_delete(pusher, "/cfg/tree/a", -1);
    zkr_config_push(pusher, "/cfg/tree/d", "", 0, ZKR_CONFIG_ANY, NULL);
    {
        int good = 0;
        for (i = 0; i < 500 && !good; i++) {
            zkr_config_entry_t *e;
            if (zkr_config_children(tree, &e, &n) == ZKR_OK)
                good = n == 3 && strcmp(e[0].name, "b") == 0 &&
                       strcmp(e[0].data, "B2") == 0 &&
                       strcmp(e[1].name, "c") == 0 &&
                       strcmp(e[1].data, "C") == 0 &&
                       strcmp(e[2].name, "d") == 0 && e[2].len == 0;
            zkr_config_entries_free(e, n);
            if (!good)
                zkt_sleep_ms(20);
        }
        ok(good, "children cache converges on b=B2 c=C d=''");
    }
    is(zkr_client_expire_session(c[2]), ZKR_OK, "expire the tree cache's session");
    zkr_config_push(pusher, "/cfg/tree/c", "C-after", 7, ZKR_CONFIG_ANY, NULL);
    zkr_delete(pusher, "/cfg/tree/d", -1);
    {
        int good = 0;
        for (i = 0; i < 500 && !good; i++) {
            zkr_config_entry_t *e;
            if (zkr_config_children(tree, &e, &n) == ZKR_OK)
                good = n == 2 && strcmp(e[1].data, "C-after") == 0;
            zkr_config_entries_free(e, n);
            if (!good)
                zkt_sleep_ms(20);
        }
        ok(good, "children cache resyncs after a new session");
    }
    zkr_config_free(tree);

    for (i = 0; i < NW; i++)
        zkr_config_free(w[i]);
    for (i = 0; i < 3; i++)
        zkr_client_free(c[i]);
    zkr_client_free(pusher);
    zkt_stop(srv);
    return done_testing();
}
