/* SPDX-License-Identifier: Apache-2.0 */
/* Connection states on a 3-node ensemble: SUSPENDED then RECONNECTED when
 * the client's server dies or hangs, LOST then a new session after forced
 * expiry, and LOST by the client's own timer when no server answers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"

/* The states recorded from index from on, as "SUSPENDED,RECONNECTED". */
static const char *states_since(zkt_states_t *r, int from)
{
    static char buf[512];
    size_t off = 0;
    buf[0] = '\0';
    pthread_mutex_lock(&r->mu);
    for (int k = from; k < r->n && off < sizeof buf - 16; k++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s",
                                k > from ? "," : "",
                                zkr_state_name(r->states[k]));
    pthread_mutex_unlock(&r->mu);
    return buf;
}

/* The client's member failed (@p what): SUSPENDED within @p suspend_ms,
 * RECONNECTED within @p reconnect_ms after it, and nothing else. */
static void moved_on(zkt_states_t *rec, int suspend_ms, int reconnect_ms,
                     const char *what)
{
    int at = zkt_states_wait(rec, ZKR_STATE_SUSPENDED, 0, suspend_ms);
    ok(at >= 0, "SUSPENDED when %s", what);
    at = zkt_states_wait(rec, ZKR_STATE_RECONNECTED, at < 0 ? 0 : at,
                         reconnect_ms);
    ok(at >= 0, "RECONNECTED on another member when %s", what);
    is_str(states_since(rec, 0), "SUSPENDED,RECONNECTED",
           "listener sequence when %s: SUSPENDED then RECONNECTED only", what);
}

/* A hung (SIGSTOPped) member: the client hears nothing, suspends, and
 * moves on to a live member with the same session. A longer session
 * timeout leaves room for a leader election when the hung member led. */
static void pause_member(zkt_server_t *ens)
{
    zkt_states_t rec;
    zkr_client_t *c;
    int64_t sid;
    int i;

    zkt_states_init(&rec);
    c = zkt_client(ens->hosts, 8000);
    is(zkr_client_add_listener(c, zkt_states_cb, &rec), ZKR_OK,
       "second client listens");
    sid = zkr_client_session_id(c);
    i = zkt_member_of(ens, c);
    ok(i >= 1, "second client is on member %d", i);
    is(zkt_ctl(ens, "pause %d", i), 0, "member %d paused", i);
    moved_on(&rec, 20000, 30000, "a member hangs");
    is(zkr_client_session_id(c), sid, "same session");
    ok(zkt_member_of(ens, c) != i, "now on another member");
    is(zkt_ctl(ens, "resume %d", i), 0, "member %d resumed", i);
    zkr_client_free(c);
}

int main(void)
{
    zkt_server_t *ens = zkt_start(3);
    zkt_states_t rec;
    zkr_client_t *c;
    zkr_client_opts_t o;
    int64_t sid1, sid2;
    int i, at;
    char *created = NULL;

    pause_member(ens);

    zkt_states_init(&rec);
    /* 8 s, as above: room for a leader election when the killed member
     * led (a 3 s session could be given up by the client's timer first) */
    c = zkt_client(ens->hosts, 8000);
    is(zkr_client_add_listener(c, zkt_states_cb, &rec), ZKR_OK, "listener added");
    sid1 = zkr_client_session_id(c);
    is(zkr_create(c, "/eph", "x", 1, ZKR_EPHEMERAL, NULL), ZKR_OK, "ephemeral created");

    /* Kill the member the client is connected to; it must move on to a
     * live member with the same session. */
    i = zkt_member_of(ens, c);
    ok(i >= 1, "client is connected to member %d", i);
    zkt_ctl(ens, "kill %d", i);
    moved_on(&rec, 10000, 30000, "the connected member died");
    is(zkr_client_session_id(c), sid1, "same session after reconnect");
    is(zkr_exists(c, "/eph", NULL), ZKR_OK, "ephemeral node survived");
    ok(zkt_states_wait(&rec, ZKR_STATE_LOST, 0, 10) < 0, "no LOST so far");
    is(zkt_ctl(ens, "restart %d", i), 0, "member %d restarted", i);

    /* Forced expiry: LOST, then a new session by itself. */
    at = rec.n;
    is(zkr_client_expire_session(c), ZKR_OK, "expire the session");
    i = zkt_states_wait(&rec, ZKR_STATE_LOST, at, 15000);
    ok(i >= 0, "LOST reported");
    ok(zkt_states_wait(&rec, ZKR_STATE_CONNECTED, i < 0 ? at : i, 15000) > i,
       "then CONNECTED with a new session");
    is(zkr_client_wait_connected(c, 15000), ZKR_OK, "client usable again");
    sid2 = zkr_client_session_id(c);
    ok(sid2 != 0 && sid2 != sid1, "new session id");
    /* exactly one new session, unless the machine is so loaded that the
     * new one was also suspended longer than its 8 s timeout: then the
     * states say so */
    {
        const char *seq = states_since(&rec, at);
        unsigned n = zkr_client_session_count(c);
        const char *after = strstr(seq, "LOST,CONNECTED");
        after = after ? after + 14 : "";
        ok(n == 2 || (n > 2 && strstr(after, "SUSPENDED,LOST")),
           "one new session (%u handles; states %s)", n, seq);
        ok(!strncmp(seq, "SUSPENDED,LOST,CONNECTED", 24) ||
               !strncmp(seq, "LOST,CONNECTED", 14),
           "expiry: LOST, then CONNECTED (%s)", seq);
    }
    is(zkr_exists(c, "/eph", NULL), ZKR_ENONODE, "old ephemeral node is gone");
    is(zkr_create(c, "/eph2", NULL, 0, ZKR_EPHEMERAL, &created), ZKR_OK,
       "the new session works");
    zkr_free(created);

    /* No server at all for longer than the session timeout: the client
     * gives the session up by itself (LOST) instead of hanging in
     * SUSPENDED, and reconnects with a new session when servers return. */
    at = rec.n;
    zkt_ctl(ens, "pause 1");
    zkt_ctl(ens, "pause 2");
    zkt_ctl(ens, "pause 3");
    ok(zkt_states_wait(&rec, ZKR_STATE_SUSPENDED, at, 15000) >= 0,
       "SUSPENDED while every server is paused");
    ok(zkt_states_wait(&rec, ZKR_STATE_LOST, at, 40000) >= 0,
       "LOST once the session timeout has passed");
    is(zkr_exists(c, "/eph2", NULL) != ZKR_OK, 1, "operations fail meanwhile");
    zkt_ctl(ens, "resume 1");
    zkt_ctl(ens, "resume 2");
    zkt_ctl(ens, "resume 3");
    is(zkr_client_wait_connected(c, 90000), ZKR_OK, "connected again");
    ok(zkr_client_session_count(c) >= 3, "on a new session (%u)",
       zkr_client_session_count(c));
    /* the abandoned session could not be closed while no server answered:
     * the servers expire it once its timeout has passed after they resume */
    for (i = 0; i < 300 && zkr_exists(c, "/eph2", NULL) == ZKR_OK; i++)
        zkt_sleep_ms(100);
    is(zkr_exists(c, "/eph2", NULL), ZKR_ENONODE,
       "ephemeral of the abandoned session is gone");

    /* lost_after_suspend = 0 keeps waiting for the server's verdict */
    zkr_client_opts_init(&o);
    ok(o.lost_after_suspend == 1, "timer-based LOST is the default");

    is(zkr_client_remove_listener(c, zkt_states_cb, &rec), ZKR_OK, "listener removed");
    at = rec.n;
    zkr_client_free(c);
    is(rec.n, at, "removed listener not called on free");
    zkt_stop(ens);
    return done_testing();
}
