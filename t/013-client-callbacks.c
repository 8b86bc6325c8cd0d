/* SPDX-License-Identifier: Apache-2.0 */
/* Blocking calls from a callback return ZKR_EDEADLK instead of hanging;
 * listeners can remove themselves; freeing a client from a callback is
 * handed off instead of deadlocking. */
#include <stdlib.h>
#include <string.h>

#include "zktest.h"

struct probe {
    zkt_states_t rec;
    int get_rc, wait_rc, new_rc, ensure_rc, expire_rc;
    int calls;
    zkr_client_t *c;
};

static void probing_listener(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    struct probe *p = ctx;
    char *data = NULL;
    size_t len;
    zkr_client_t *other = NULL;
    if (st != ZKR_STATE_LOST)
        return;
    p->calls++;
    p->get_rc = zkr_get(c, "/x", &data, &len, NULL);
    p->wait_rc = zkr_client_wait_connected(c, 1000);
    p->new_rc = zkr_client_new(NULL, &other);
    p->ensure_rc = zkr_ensure_path(c, "/y");
    p->expire_rc = zkr_client_expire_session(c);
    /* a listener may remove itself */
    zkr_client_remove_listener(c, probing_listener, ctx);
    zkt_states_cb(c, st, &p->rec);
}

static void freeing_listener(zkr_client_t *c, zkr_state_t st, void *ctx)
{
    int *freed = ctx;
    if (st == ZKR_STATE_LOST && !*freed) {
        *freed = 1;
        zkr_client_free(c); /* handed to a background thread */
    }
}

int main(void)
{
    const char *hosts = zkt_hosts();
    struct probe p;
    zkr_client_t *c, *c2;
    int freed = 0, i;

    memset(&p, 0, sizeof p);
    zkt_states_init(&p.rec);
    c = zkt_client(hosts, 4000);
    is(zkr_client_add_listener(c, probing_listener, &p), ZKR_OK, "listener");
    is(zkr_client_expire_session(c), ZKR_OK, "expire session");
    ok(zkt_states_wait(&p.rec, ZKR_STATE_LOST, 0, 15000) >= 0, "LOST seen");
    is(p.get_rc, ZKR_EDEADLK, "zkr_get from a callback: EDEADLK");
    is(p.wait_rc, ZKR_EDEADLK, "wait_connected from a callback: EDEADLK");
    is(p.new_rc, ZKR_EDEADLK, "client_new from a callback: EDEADLK");
    is(p.ensure_rc, ZKR_EDEADLK, "ensure_path from a callback: EDEADLK");
    is(p.expire_rc, ZKR_EDEADLK, "expire_session from a callback: EDEADLK");
    is(zkr_client_wait_connected(c, 15000), ZKR_OK, "reconnected");
    is(zkr_client_expire_session(c), ZKR_OK, "expire again");
    is(zkr_client_wait_connected(c, 200), zkr_client_wait_connected(c, 200),
       "state query is stable");
    for (i = 0; i < 100 && zkr_client_session_count(c) < 3; i++)
        zkt_sleep_ms(100);
    is(p.calls, 1, "self-removed listener ran exactly once");
    is(zkr_ensure_path(c, "/y"), ZKR_OK, "blocking calls work off the callback thread");
    zkr_client_free(c);

    c2 = zkt_client(hosts, 4000);
    zkr_client_add_listener(c2, freeing_listener, &freed);
    zkr_client_expire_session(c2);
    for (i = 0; i < 100 && !freed; i++)
        zkt_sleep_ms(100);
    ok(freed, "a listener freed its client without deadlock");
    zkt_sleep_ms(300); /* let the background close finish before exit */
    return done_testing();
}
