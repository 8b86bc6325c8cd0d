/* SPDX-License-Identifier: Apache-2.0 */
/* Group membership: input checks, member lists of every session converge,
 * leave, rejoin after a forced session expiry and after the node is
 * deleted from outside, a duplicate id waits, callbacks exactly once,
 * ZKR_EDEADLK from the change callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/group.h>

#define NM 4

typedef struct {
    pthread_mutex_t mu;
    int changes, joins, join_status;
    int probe, probe_rc[2];
} rec_t;

static void rec_init(rec_t *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->join_status = 1;
}

static void on_change(zkr_group_t *g, int status, void *ctx)
{
    rec_t *r = ctx;
    int probe;
    (void)status;
    pthread_mutex_lock(&r->mu);
    r->changes++;
    probe = r->probe;
    r->probe = 0;
    pthread_mutex_unlock(&r->mu);
    if (probe) {
        int a = zkr_group_join(g, "x", NULL, 0, 10);
        int b = zkr_group_wait_synced(g, 10);
        pthread_mutex_lock(&r->mu);
        r->probe_rc[0] = a;
        r->probe_rc[1] = b;
        pthread_mutex_unlock(&r->mu);
    }
}

static void on_join(zkr_group_t *g, int status, void *ctx)
{
    rec_t *r = ctx;
    (void)g;
    pthread_mutex_lock(&r->mu);
    r->joins++;
    r->join_status = status;
    pthread_mutex_unlock(&r->mu);
}

static int rget(rec_t *r, const int *f)
{
    int v;
    pthread_mutex_lock(&r->mu);
    v = *f;
    pthread_mutex_unlock(&r->mu);
    return v;
}

/* "id=data/owner-session-index;..." for comparison */
static void describe(zkr_group_t *g, zkr_client_t **cs, int ncs, char *buf,
                     size_t len)
{
    zkr_group_member_t *m;
    int n;
    buf[0] = '\0';
    if (zkr_group_members(g, &m, &n) != ZKR_OK) {
        snprintf(buf, len, "(not loaded)");
        return;
    }
    for (int i = 0; i < n; i++) {
        int who = -1;
        size_t used = strlen(buf);
        for (int k = 0; k < ncs; k++)
            if (cs[k] && m[i].owner == zkr_client_session_id(cs[k]))
                who = k;
        snprintf(buf + used, len - used, "%s=%s/%d;", m[i].id, m[i].data, who);
    }
    zkr_group_members_free(m, n);
}

/* Wait until every handle lists exactly want. */
static int converge(zkr_group_t **gs, int ng, zkr_client_t **cs, int ncs,
                    const char *want)
{
    char buf[512];
    int good = 0;
    for (int t = 0; t < 500 && good < ng; t++) {
        good = 0;
        for (int i = 0; i < ng; i++) {
            describe(gs[i], cs, ncs, buf, sizeof buf);
            good += strcmp(buf, want) == 0;
        }
        if (good < ng)
            zkt_sleep_ms(20);
    }
    for (int i = 0; i < ng && good < ng; i++) {
        describe(gs[i], cs, ncs, buf, sizeof buf);
        if (strcmp(buf, want) != 0)
            diag("handle %d lists %s, want %s", i, buf, want);
    }
    return good;
}

static void check_inputs(zkr_client_t *c)
{
    zkr_group_t *g = NULL;
    zkr_group_member_t *m;
    char *big;
    int n;
    rec_t r;
    rec_init(&r);
    is(zkr_group_new(NULL, "/g", NULL, &g), ZKR_EINVAL, "new: NULL client");
    is(zkr_group_new(c, "/g", NULL, NULL), ZKR_EINVAL, "new: NULL out");
    is(zkr_group_new(c, "g", NULL, &g), ZKR_EBADPATH, "new: relative path");
    is(zkr_group_new(c, "/", NULL, &g), ZKR_EBADPATH, "new: root");
    is(zkr_group_new(c, "/inputs", NULL, &g), ZKR_OK, "new");
    is(zkr_group_join_async(g, NULL, "", 0, on_join, &r), ZKR_EINVAL, "join: NULL id");
    is(zkr_group_join_async(g, "", "", 0, on_join, &r), ZKR_EINVAL, "join: empty id");
    is(zkr_group_join_async(g, "a/b", "", 0, on_join, &r), ZKR_EINVAL, "join: id with a slash");
    is(zkr_group_join_async(g, "..", "", 0, on_join, &r), ZKR_EINVAL, "join: id ..");
    is(zkr_group_join_async(g, "a", NULL, 3, on_join, &r), ZKR_EINVAL, "join: NULL data, len 3");
    is(zkr_group_join_async(g, "a", "", 0, NULL, &r), ZKR_EINVAL, "join: NULL cb");
    big = calloc(1, ZKR_MAX_DATA + 1);
    is(zkr_group_join_async(g, "a", big, ZKR_MAX_DATA + 1, on_join, &r), ZKR_ETOOBIG, "join: data over 1 MB");
    free(big);
    is(zkr_group_leave(g), ZKR_ENOTHELD, "leave before join: ENOTHELD");
    is(zkr_group_leave(NULL), ZKR_EINVAL, "leave: NULL");
    is(zkr_group_members(g, NULL, &n), ZKR_EINVAL, "members: NULL out");
    is(zkr_group_members(NULL, &m, &n), ZKR_EINVAL, "members: NULL group");
    is(zkr_group_wait_synced(g, 10000), ZKR_OK, "synced");
    is(zkr_group_members(g, &m, &n), ZKR_OK, "members of a missing group");
    is(n, 0, "none");
    is(rget(&r, &r.joins), 0, "no join callback after refused joins");
    is(zkr_group_is_member(g), 0, "not a member");
    zkr_group_free(g);
    zkr_group_free(NULL);
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *cs[NM + 1];
    zkr_group_t *g[NM + 1], *dup;
    zkr_group_opts_t o;
    rec_t rec[NM + 1], rdup;
    char id[16], data[16];
    int i;

    for (i = 0; i <= NM; i++)
        cs[i] = zkt_client(hosts, 3000);
    check_inputs(cs[0]);

    zkr_group_opts_init(&o);
    o.on_change = on_change;
    for (i = 0; i <= NM; i++) {
        rec_init(&rec[i]);
        o.ctx = &rec[i];
        if (zkr_group_new(cs[i], "/grp/workers", &o, &g[i]) != ZKR_OK)
            bail_out("zkr_group_new");
    }
    for (i = 0; i < NM; i++) {
        snprintf(id, sizeof id, "m%d", i);
        snprintf(data, sizeof data, "d%d", i);
        if (zkr_group_join_async(g[i], id, data, strlen(data), on_join, &rec[i]) != ZKR_OK)
            break;
    }
    is(i, NM, "%d members join (handle %d only observes)", NM, NM);
    for (i = 0; i < NM; i++) {
        for (int t = 0; t < 500 && rget(&rec[i], &rec[i].joins) == 0; t++)
            zkt_sleep_ms(20);
        if (rget(&rec[i], &rec[i].joins) != 1 || rget(&rec[i], &rec[i].join_status) != ZKR_OK)
            break;
    }
    is(i, NM, "every join callback ran once with ZKR_OK");
    is(zkr_group_is_member(g[0]), 1, "is_member");
    is(zkr_group_is_member(g[NM]), 0, "the observer is no member");
    is(converge(g, NM + 1, cs, NM + 1, "m0=d0/0;m1=d1/1;m2=d2/2;m3=d3/3;"), NM + 1,
       "all lists converge on 4 members with their data and sessions");
    ok(rget(&rec[NM], &rec[NM].changes) >= 1, "observer's change callback ran");

    is(zkr_group_leave(g[1]), ZKR_OK, "m1 leaves");
    is(zkr_group_leave(g[1]), ZKR_ENOTHELD, "leave again: ENOTHELD");
    is(converge(g, NM + 1, cs, NM + 1, "m0=d0/0;m2=d2/2;m3=d3/3;"), NM + 1,
       "all lists converge without m1");

    /* EDEADLK from on_change */
    pthread_mutex_lock(&rec[3].mu);
    rec[3].probe = 1;
    pthread_mutex_unlock(&rec[3].mu);

    is(zkr_client_expire_session(cs[2]), ZKR_OK, "expire m2's session");
    is(zkr_client_wait_connected(cs[2], 10000), ZKR_OK, "m2 has a new session");
    is(converge(g, NM + 1, cs, NM + 1, "m0=d0/0;m2=d2/2;m3=d3/3;"), NM + 1,
       "m2 is back, owned by its new session, in every list");
    is(rget(&rec[2], &rec[2].joins), 1, "no second join callback after the rejoin");
    is(rget(&rec[3], &rec[3].probe_rc[0]), ZKR_EDEADLK, "join from on_change: EDEADLK");
    is(rget(&rec[3], &rec[3].probe_rc[1]), ZKR_EDEADLK, "wait_synced from on_change: EDEADLK");

    is(zkr_delete(cs[NM], "/grp/workers/m3", -1), ZKR_OK, "delete m3's node from outside");
    is(converge(g, NM + 1, cs, NM + 1, "m0=d0/0;m2=d2/2;m3=d3/3;"), NM + 1,
       "m3 creates it again");

    /* a duplicate id waits for the name */
    rec_init(&rdup);
    is(zkr_group_new(cs[1], "/grp/workers", NULL, &dup), ZKR_OK, "another handle");
    is(zkr_group_join_async(dup, "m0", "dup", 3, on_join, &rdup), ZKR_OK, "joins with m0's id");
    zkt_sleep_ms(500);
    is(rget(&rdup, &rdup.joins), 0, "waits while m0 lives");
    is(zkr_group_is_member(dup), 0, "not a member yet");
    zkr_group_free(g[0]);
    g[0] = NULL;
    for (i = 0; i < 500 && rget(&rdup, &rdup.joins) == 0; i++)
        zkt_sleep_ms(20);
    is(rget(&rdup, &rdup.joins), 1, "joins once m0 is gone");
    is(rget(&rdup, &rdup.join_status), ZKR_OK, "with ZKR_OK");
    is(converge(g + 1, NM, cs, NM + 1, "m0=dup/1;m2=d2/2;m3=d3/3;"), NM,
       "lists show the new m0");
    zkr_group_free(dup);

    /* leave while joining: ECANCELED once */
    {
        zkr_group_t *q;
        rec_t rq;
        rec_init(&rq);
        zkr_group_new(cs[1], "/grp/workers", NULL, &q);
        is(zkr_group_join_async(q, "m2", "", 0, on_join, &rq), ZKR_OK, "join with a taken id");
        is(zkr_group_leave(q), ZKR_OK, "leave while waiting");
        is(rget(&rq, &rq.joins), 1, "join callback ran once");
        is(rget(&rq, &rq.join_status), ZKR_ECANCELED, "with ZKR_ECANCELED");
        zkr_group_free(q);
        is(rget(&rq, &rq.joins), 1, "still once after free");
    }

    for (i = 0; i <= NM; i++)
        zkr_group_free(g[i]);
    {
        char **names;
        int n = -1;
        for (i = 0; i <= NM; i++)
            zkr_client_flush(cs[i], 10000);
        if (zkr_children(cs[NM], "/grp/workers", &names, &n) == ZKR_OK)
            zkr_strings_free(names, n);
        is(n, 0, "free leaves the group: no member node left");
    }
    for (i = 0; i <= NM; i++)
        zkr_client_free(cs[i]);
    return done_testing();
}
