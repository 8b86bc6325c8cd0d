/* SPDX-License-Identifier: Apache-2.0 */
/* Barrier: set, remove, wait with timeout, an ephemeral barrier whose
 * setter goes away. Double barrier: 5 members in separate sessions enter
 * and leave together; enter timeout; a member that crashes (a process
 * killed with SIGKILL) before the barrier opens does not count, and one
 * that crashes inside holds the others' leave only until its session
 * expires; a member whose session is expired while it waits enters on its
 * new session. Exactly-once callbacks, EDEADLK, bad input. */
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zktest.h"
#include <zkr/barrier.h>

extern char **environ;

struct brec {
    atomic_int calls, status;
    zkr_barrier_t *probe;
    int probe_wait, probe_set, probe_remove;
};

static void bcb(zkr_barrier_t *b, int status, void *ctx)
{
    struct brec *r = ctx;
    (void)b;
    if (r->probe) {
        r->probe_wait = zkr_barrier_wait(r->probe, 0);
        r->probe_set = zkr_barrier_set(r->probe, ZKR_PERSISTENT);
        r->probe_remove = zkr_barrier_remove(r->probe);
    }
    atomic_store(&r->status, status);
    atomic_fetch_add(&r->calls, 1);
}

struct drec {
    atomic_int calls, status;
    zkr_double_barrier_t *probe;
    int probe_enter, probe_leave;
};

static void dcb(zkr_double_barrier_t *d, int status, void *ctx)
{
    struct drec *r = ctx;
    (void)d;
    if (r->probe) {
        r->probe_enter = zkr_double_barrier_enter(r->probe, 0);
        r->probe_leave = zkr_double_barrier_leave(r->probe, 0);
    }
    atomic_store(&r->status, status);
    atomic_fetch_add(&r->calls, 1);
}

static int wait_for(atomic_int *v, int n, int ms)
{
    for (int i = 0; i < ms / 20 && atomic_load(v) < n; i++)
        zkt_sleep_ms(20);
    return atomic_load(v);
}

static int children(zkr_client_t *c, const char *path)
{
    char **names;
    int n;
    int rc = zkr_children(c, path, &names, &n);
    if (rc == ZKR_ENONODE)
        return 0;
    if (rc != ZKR_OK)
        return -1;
    zkr_strings_free(names, n);
    return n;
}

/* ---- 5 members in separate sessions ------------------------------------- */

#define MEMBERS 5
static atomic_int arrived, entered_early, left_calls, left_early, errors;

struct member {
    zkr_client_t *c;
    zkr_double_barrier_t *d;
    pthread_t th;
    int idx;
};

static void *member_run(void *arg)
{
    struct member *m = arg;
    zkt_sleep_ms(80 * m->idx); /* arrive one after the other */
    atomic_fetch_add(&arrived, 1);
    if (zkr_double_barrier_enter(m->d, -1) != ZKR_OK)
        atomic_fetch_add(&errors, 1);
    if (atomic_load(&arrived) < MEMBERS)
        atomic_fetch_add(&entered_early, 1);
    zkt_sleep_ms(80 * (MEMBERS - m->idx)); /* leave in another order */
    atomic_fetch_add(&left_calls, 1);
    if (zkr_double_barrier_leave(m->d, -1) != ZKR_OK)
        atomic_fetch_add(&errors, 1);
    if (atomic_load(&left_calls) < MEMBERS)
        atomic_fetch_add(&left_early, 1);
    return NULL;
}

static void round_of_five(const char *hosts, const char *path, int round)
{
    struct member ms[MEMBERS];
    atomic_store(&arrived, 0);
    atomic_store(&entered_early, 0);
    atomic_store(&left_calls, 0);
    atomic_store(&left_early, 0);
    atomic_store(&errors, 0);
    for (int i = 0; i < MEMBERS; i++) {
        ms[i].idx = i;
        ms[i].c = zkt_client(hosts, 4000);
        if (zkr_double_barrier_new(ms[i].c, path, MEMBERS, &ms[i].d) !=
            ZKR_OK)
            bail_out("double_barrier_new");
    }
    for (int i = 0; i < MEMBERS; i++)
        pthread_create(&ms[i].th, NULL, member_run, &ms[i]);
    for (int i = 0; i < MEMBERS; i++)
        pthread_join(ms[i].th, NULL);
    is(atomic_load(&errors), 0, "round %d: 5 members entered and left", round);
    is(atomic_load(&entered_early), 0,
       "round %d: nobody got in before all 5 arrived", round);
    is(atomic_load(&left_early), 0,
       "round %d: nobody got out before all 5 were leaving", round);
    is(children(ms[0].c, path), 0,
       "round %d: no member node and no ready node left", round);
    for (int i = 0; i < MEMBERS; i++) {
        zkr_double_barrier_free(ms[i].d);
        zkr_client_free(ms[i].c);
    }
}

/* ---- a member in another process ---------------------------------------- */

static pid_t spawn_member(const char *hosts, const char *path, int n,
                          FILE **out)
{
    const char *top = getenv("ZKR_TOP_BUILDDIR");
    char exe[600], ns[16];
    char *argv[7], *envp[256];
    int fds[2], ne = 0;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    snprintf(exe, sizeof exe, "%s/t/zkr-queue-peer", top ? top : ".");
    snprintf(ns, sizeof ns, "%d", n);
    argv[0] = exe;
    argv[1] = (char *)hosts;
    argv[2] = "dbarrier";
    argv[3] = (char *)path;
    argv[4] = ns;
    argv[5] = NULL;
    for (char **e = environ; *e && ne < 250; e++)
        if (strncmp(*e, "ZKR_PEER_", 9) != 0)
            envp[ne++] = *e;
    envp[ne++] = "ZKR_PEER_SESSION_MS=1500";
    envp[ne] = NULL;
    if (pipe(fds) != 0)
        bail_out("pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    if (posix_spawn(&pid, exe, &fa, NULL, argv, envp) != 0)
        bail_out("cannot run %s", exe);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    *out = fdopen(fds[0], "r");
    return pid;
}

static void kill_member(pid_t pid, FILE *out)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fclose(out);
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *c1 = zkt_client(hosts, 4000), *c2 = zkt_client(hosts, 4000);
    zkr_barrier_t *b1, *b2, *bad;
    zkr_double_barrier_t *d1, *d2, *d3, *dbad;
    struct brec br;
    struct drec dr, dr2;
    char full[300], line[64];

    /* ---- barrier ---- */
    is(zkr_barrier_new(c1, "/b/gate/one", &b1), ZKR_OK, "barrier handle 1");
    is(zkr_barrier_new(c2, "/b/gate/one", &b2), ZKR_OK, "barrier handle 2");
    is(zkr_barrier_wait(b2, 0), ZKR_OK, "not set: wait(0) passes");
    is(zkr_barrier_remove(b1), ZKR_OK, "removing a barrier not set: OK");
    is(zkr_barrier_set(b1, ZKR_PERSISTENT), ZKR_OK, "set (parents created)");
    is(zkr_barrier_set(b1, ZKR_PERSISTENT), ZKR_OK, "set again: OK");
    is(zkr_exists(c2, "/b/gate/one", NULL), ZKR_OK, "the barrier is a node");
    is(zkr_barrier_wait(b2, 0), ZKR_ETIMEDOUT, "set: wait(0) times out");
    is(zkr_barrier_wait(b2, 300), ZKR_ETIMEDOUT, "set: wait(300) times out");
    memset(&br, 0, sizeof br);
    is(zkr_barrier_wait_async(b2, bcb, &br), ZKR_OK, "async wait");
    is(zkr_barrier_wait_async(b2, bcb, &br), ZKR_EBUSY, "a second one: EBUSY");
    is(zkr_barrier_wait(b2, 0), ZKR_EBUSY, "blocking while pending: EBUSY");
    zkt_sleep_ms(150);
    is(atomic_load(&br.calls), 0, "waiting while set");
    is(zkr_barrier_remove(b1), ZKR_OK, "remove");
    is(wait_for(&br.calls, 1, 5000), 1, "the waiter's callback ran");
    is(atomic_load(&br.status), ZKR_OK, "with ZKR_OK");
    zkt_sleep_ms(50);
    is(atomic_load(&br.calls), 1, "exactly once");

    /* cancel, EDEADLK */
    zkr_barrier_set(b1, ZKR_PERSISTENT);
    memset(&br, 0, sizeof br);
    is(zkr_barrier_cancel(b2), ZKR_ENOTHELD, "cancel with nothing pending");
    is(zkr_barrier_wait_async(b2, bcb, &br), ZKR_OK, "async wait");
    is(zkr_barrier_cancel(b2), ZKR_OK, "cancel");
    is(wait_for(&br.calls, 1, 2000), 1, "callback ran");
    is(atomic_load(&br.status), ZKR_ECANCELED, "with ZKR_ECANCELED");
    memset(&br, 0, sizeof br);
    br.probe = b1;
    is(zkr_barrier_wait_async(b2, bcb, &br), ZKR_OK, "wait with probes");
    zkr_barrier_remove(b1);
    is(wait_for(&br.calls, 1, 5000), 1, "callback ran");
    is(br.probe_wait, ZKR_EDEADLK, "blocking wait in a callback: EDEADLK");
    is(br.probe_set, ZKR_EDEADLK, "set in a callback: EDEADLK");
    is(br.probe_remove, ZKR_EDEADLK, "remove in a callback: EDEADLK");

    /* an ephemeral barrier goes with its setter's session */
    {
        zkr_client_t *c3 = zkt_client(hosts, 4000);
        zkr_barrier_t *b3;
        zkr_barrier_new(c3, "/b/gate/eph", &b3);
        is(zkr_barrier_set(b3, ZKR_EPHEMERAL), ZKR_OK, "ephemeral set");
        memset(&br, 0, sizeof br);
        zkr_barrier_free(b1);
        zkr_barrier_new(c1, "/b/gate/eph", &b1);
        is(zkr_barrier_wait_async(b1, bcb, &br), ZKR_OK, "waiting on it");
        zkt_sleep_ms(100);
        is(atomic_load(&br.calls), 0, "still up");
        zkr_barrier_free(b3);
        zkr_client_free(c3); /* the setter goes away */
        is(wait_for(&br.calls, 1, 5000), 1, "the waiter is released");
        is(atomic_load(&br.status), ZKR_OK, "with ZKR_OK");
    }
    /* free with a pending wait */
    zkr_barrier_set(b2, ZKR_PERSISTENT);
    zkr_barrier_free(b2);
    zkr_barrier_new(c2, "/b/gate/one", &b2);
    zkr_barrier_set(b2, ZKR_PERSISTENT);
    memset(&br, 0, sizeof br);
    zkr_barrier_wait_async(b2, bcb, &br);
    zkr_barrier_free(b2);
    is(wait_for(&br.calls, 1, 2000), 1, "free runs the pending callback");
    is(atomic_load(&br.status), ZKR_ECANCELED, "with ZKR_ECANCELED");
    is(zkr_exists(c1, "/b/gate/one", NULL), ZKR_OK, "free leaves the node");

    /* barrier bad input */
    is(zkr_barrier_new(NULL, "/x", &bad), ZKR_EINVAL, "NULL client");
    is(zkr_barrier_new(c1, "x", &bad), ZKR_EBADPATH, "relative path");
    is(zkr_barrier_new(c1, "/", &bad), ZKR_EBADPATH, "root");
    is(zkr_barrier_new(c1, NULL, &bad), ZKR_EINVAL, "NULL path");
    is(zkr_barrier_new(c1, "/x", NULL), ZKR_EINVAL, "NULL out");
    is(zkr_barrier_set(b1, 7), ZKR_EINVAL, "bad flags");
    is(zkr_barrier_set(NULL, 0), ZKR_EINVAL, "set NULL");
    is(zkr_barrier_remove(NULL), ZKR_EINVAL, "remove NULL");
    is(zkr_barrier_wait(NULL, 0), ZKR_EINVAL, "wait NULL");
    is(zkr_barrier_wait_async(b1, NULL, NULL), ZKR_EINVAL, "NULL callback");
    is(zkr_barrier_cancel(NULL), ZKR_EINVAL, "cancel NULL");
    zkr_barrier_free(NULL);
    zkr_barrier_free(b1);

    /* ---- double barrier: 5 members in separate sessions, twice ---- */
    round_of_five(hosts, "/b/double", 1);
    round_of_five(hosts, "/b/double", 2);

    /* enter timeout */
    is(zkr_double_barrier_new(c1, "/b/d3", 3, &d1), ZKR_OK, "member 1 of 3");
    is(zkr_double_barrier_new(c2, "/b/d3", 3, &d2), ZKR_OK, "member 2 of 3");
    is(zkr_double_barrier_leave(d1, 0), ZKR_EBUSY, "leave before enter: EBUSY");
    memset(&dr, 0, sizeof dr);
    is(zkr_double_barrier_enter_async(d1, dcb, &dr), ZKR_OK, "1 enters async");
    is(zkr_double_barrier_enter_async(d1, dcb, &dr), ZKR_EBUSY,
       "entering twice: EBUSY");
    is(zkr_double_barrier_enter(d2, 400), ZKR_ETIMEDOUT,
       "2 of 3: enter times out");
    /* asked on the member's own session: ordered after its delete */
    is(children(c2, "/b/d3"), 1, "the timed-out member's node is gone");
    is(zkr_double_barrier_enter(d2, 0), ZKR_ETIMEDOUT, "enter(0) too");
    /* its node is deleted in the background too: wait for that on the
     * same session, or the count below could see it and stop early */
    is(children(c2, "/b/d3"), 1, "the enter(0) node is gone as well");
    is(atomic_load(&dr.calls), 0, "member 1 still waiting");
    /* member 3 is a session whose process is killed: it does not count */
    {
        FILE *out;
        pid_t pid;
        snprintf(full, sizeof full, "%s/b/d3", zkt_ns());
        pid = spawn_member(hosts, full, 3, &out);
        /* bounds only: a sanitizer build of the peer starts slowly */
        for (int i = 0; i < 1200 && children(c1, "/b/d3") < 2; i++)
            zkt_sleep_ms(25);
        is(children(c1, "/b/d3"), 2, "a member process joined (2 of 3)");
        kill_member(pid, out);
        for (int i = 0; i < 1200 && children(c1, "/b/d3") > 1; i++)
            zkt_sleep_ms(25);
        is(children(c1, "/b/d3"), 1,
           "crashed before the barrier opened: its node expires with it");
        is(atomic_load(&dr.calls), 0, "member 1 still waiting");
    }
    memset(&dr2, 0, sizeof dr2);
    is(zkr_double_barrier_enter_async(d2, dcb, &dr2), ZKR_OK, "2 enters");
    {
        zkr_client_t *c3 = zkt_client(hosts, 4000);
        is(zkr_double_barrier_new(c3, "/b/d3", 3, &d3), ZKR_OK, "member 3");
        is(zkr_double_barrier_enter(d3, 5000), ZKR_OK, "3 enters: open");
        is(wait_for(&dr.calls, 1, 5000), 1, "1's callback ran");
        is(atomic_load(&dr.status), ZKR_OK, "1 is in");
        is(wait_for(&dr2.calls, 1, 5000), 1, "2's callback ran");
        is(atomic_load(&dr2.status), ZKR_OK, "2 is in");
        ok(zkr_double_barrier_is_in(d1) && zkr_double_barrier_is_in(d3),
           "is_in");
        is(zkr_exists(c1, "/b/d3/ready", NULL), ZKR_OK, "ready node");
        memset(&dr, 0, sizeof dr);
        memset(&dr2, 0, sizeof dr2);
        is(zkr_double_barrier_leave_async(d1, dcb, &dr), ZKR_OK, "1 leaves");
        is(zkr_double_barrier_leave_async(d2, dcb, &dr2), ZKR_OK, "2 leaves");
        zkt_sleep_ms(200);
        ok(atomic_load(&dr.calls) == 0 && atomic_load(&dr2.calls) == 0,
           "nobody is out while 3 is in");
        is(zkr_double_barrier_leave(d3, 5000), ZKR_OK, "3 leaves");
        is(wait_for(&dr.calls, 1, 5000), 1, "1 is out");
        is(wait_for(&dr2.calls, 1, 5000), 1, "2 is out");
        ok(atomic_load(&dr.status) == ZKR_OK &&
               atomic_load(&dr2.status) == ZKR_OK,
           "both with ZKR_OK");
        zkt_sleep_ms(50);
        ok(atomic_load(&dr.calls) == 1 && atomic_load(&dr2.calls) == 1,
           "exactly once each");
        is(children(c1, "/b/d3"), 0, "empty afterwards");
        zkr_double_barrier_free(d3);
        zkr_client_free(c3);
    }

    /* a member process killed inside: the others' leave waits for its
     * session to expire, then completes */
    {
        FILE *out;
        pid_t pid;
        long long t0;
        memset(&dr, 0, sizeof dr);
        memset(&dr2, 0, sizeof dr2);
        snprintf(full, sizeof full, "%s/b/dcrash", zkt_ns());
        zkr_double_barrier_free(d1);
        zkr_double_barrier_free(d2);
        zkr_double_barrier_new(c1, "/b/dcrash", 3, &d1);
        zkr_double_barrier_new(c2, "/b/dcrash", 3, &d2);
        zkr_double_barrier_enter_async(d1, dcb, &dr);
        zkr_double_barrier_enter_async(d2, dcb, &dr2);
        pid = spawn_member(hosts, full, 3, &out);
        ok(fgets(line, sizeof line, out) && !strncmp(line, "entered", 7),
           "the member process entered");
        ok(wait_for(&dr.calls, 1, 5000) == 1 &&
               wait_for(&dr2.calls, 1, 5000) == 1,
           "the in-process members entered");
        kill_member(pid, out);
        t0 = zkt_now_ms();
        memset(&dr, 0, sizeof dr);
        is(zkr_double_barrier_leave_async(d1, dcb, &dr), ZKR_OK, "1 leaves");
        is(zkr_double_barrier_leave(d2, 20000), ZKR_OK,
           "2's leave completes once the crashed member's session expired");
        is(wait_for(&dr.calls, 1, 20000), 1, "1's leave completes too");
        is(atomic_load(&dr.status), ZKR_OK, "with ZKR_OK");
        diag("leave took %lld ms with a crashed member (session 1500 ms)",
             zkt_now_ms() - t0);
        is(children(c1, "/b/dcrash"), 0, "nothing left behind");
    }

    /* a member whose session is expired while it waits enters anew */
    {
        memset(&dr, 0, sizeof dr);
        zkr_double_barrier_free(d1);
        zkr_double_barrier_free(d2);
        zkr_double_barrier_new(c1, "/b/dexp", 2, &d1);
        zkr_double_barrier_new(c2, "/b/dexp", 2, &d2);
        is(zkr_double_barrier_enter_async(d1, dcb, &dr), ZKR_OK, "1 waits");
        zkt_sleep_ms(100);
        is(zkr_client_expire_session(c1), ZKR_OK, "1's session expired");
        for (int i = 0; i < 800 && children(c2, "/b/dexp") != 1; i++)
            zkt_sleep_ms(25);
        is(children(c2, "/b/dexp"), 1, "1 is a member again on its new session");
        is(zkr_double_barrier_enter(d2, 5000), ZKR_OK, "2 enters: open");
        is(wait_for(&dr.calls, 1, 5000), 1, "1's callback ran");
        is(atomic_load(&dr.status), ZKR_OK, "1 is in");
    }

    /* EDEADLK, cancel, free */
    {
        memset(&dr, 0, sizeof dr);
        memset(&dr2, 0, sizeof dr2);
        zkr_double_barrier_free(d1);
        zkr_double_barrier_free(d2);
        zkr_double_barrier_new(c1, "/b/dd", 1, &d1);
        zkr_double_barrier_new(c2, "/b/dd2", 2, &d2);
        dr.probe = d2;
        is(zkr_double_barrier_enter_async(d1, dcb, &dr), ZKR_OK,
           "a 1-member barrier opens at once");
        is(wait_for(&dr.calls, 1, 5000), 1, "callback ran");
        is(atomic_load(&dr.status), ZKR_OK, "in");
        is(dr.probe_enter, ZKR_EDEADLK, "blocking enter in a callback: EDEADLK");
        is(dr.probe_leave, ZKR_EDEADLK, "blocking leave in a callback: EDEADLK");
        is(zkr_double_barrier_leave(d1, 2000), ZKR_OK, "leave alone");
        is(zkr_double_barrier_cancel(d2), ZKR_ENOTHELD, "nothing to cancel");
        is(zkr_double_barrier_enter_async(d2, dcb, &dr2), ZKR_OK, "wait");
        is(zkr_double_barrier_cancel(d2), ZKR_OK, "cancel");
        is(wait_for(&dr2.calls, 1, 2000), 1, "callback ran");
        is(atomic_load(&dr2.status), ZKR_ECANCELED, "with ZKR_ECANCELED");
        for (int i = 0; i < 100 && children(c2, "/b/dd2") > 0; i++)
            zkt_sleep_ms(20);
        is(children(c2, "/b/dd2"), 0, "canceled member's node deleted");
        memset(&dr2, 0, sizeof dr2);
        zkr_double_barrier_enter_async(d2, dcb, &dr2);
        zkr_double_barrier_free(d2);
        is(wait_for(&dr2.calls, 1, 2000), 1, "free runs the callback");
        is(atomic_load(&dr2.status), ZKR_ECANCELED, "with ZKR_ECANCELED");
    }

    /* double barrier bad input */
    is(zkr_double_barrier_new(NULL, "/x", 2, &dbad), ZKR_EINVAL, "NULL client");
    is(zkr_double_barrier_new(c1, "/x", 0, &dbad), ZKR_EINVAL, "0 members");
    is(zkr_double_barrier_new(c1, "x", 2, &dbad), ZKR_EBADPATH, "bad path");
    is(zkr_double_barrier_new(c1, "/", 2, &dbad), ZKR_EBADPATH, "root");
    is(zkr_double_barrier_new(c1, "/x", 2, NULL), ZKR_EINVAL, "NULL out");
    is(zkr_double_barrier_enter(NULL, 0), ZKR_EINVAL, "enter NULL");
    is(zkr_double_barrier_leave(NULL, 0), ZKR_EINVAL, "leave NULL");
    is(zkr_double_barrier_enter_async(d1, NULL, NULL), ZKR_EINVAL,
       "NULL callback");
    is(zkr_double_barrier_cancel(NULL), ZKR_EINVAL, "cancel NULL");
    is(zkr_double_barrier_is_in(NULL), 0, "is_in NULL");
    zkr_double_barrier_free(NULL);

    /* client closed under a pending enter */
    zkr_double_barrier_free(d1);
    zkr_double_barrier_new(c2, "/b/closed", 2, &d1);
    memset(&dr, 0, sizeof dr);
    zkr_double_barrier_enter_async(d1, dcb, &dr);
    zkt_sleep_ms(100);
    zkr_client_free(c2);
    is(wait_for(&dr.calls, 1, 2000), 1, "client free completes the enter");
    is(atomic_load(&dr.status), ZKR_ECANCELED, "with ZKR_ECANCELED");
    is(zkr_double_barrier_enter(d1, 0), ZKR_ECLOSED, "then ECLOSED");
    zkr_double_barrier_free(d1);
    zkr_client_free(c1);
    return done_testing();
}
