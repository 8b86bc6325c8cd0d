/* SPDX-License-Identifier: Apache-2.0 */
/* Locks under faults on a 3-node ensemble: lock lost on forced session
 * expiry, a crashed holder hands over, and connection loss during create
 * leaves no orphan node. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zktest.h"
#include <zkr/lock.h>

static atomic_int lost, suspended, reconfirmed;

static void state_cb(zkr_lock_t *l, int status, void *ctx)
{
    (void)l;
    (void)ctx;
    if (status == ZKR_ELOCKLOST)
        atomic_fetch_add(&lost, 1);
    else if (status == ZKR_ECONNLOSS)
        atomic_fetch_add(&suspended, 1);
    else if (status == ZKR_OK)
        atomic_fetch_add(&reconfirmed, 1);
}

struct granted {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, status;
};

static void granted_init(struct granted *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->done = 0;
    g->status = 0;
}

static void granted_cb(zkr_lock_t *l, int status, void *ctx)
{
    struct granted *g = ctx;
    (void)l;
    pthread_mutex_lock(&g->mu);
    g->done = 1;
    g->status = status;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int granted_wait(struct granted *g, int ms)
{
    int st;
    for (int i = 0; i < ms / 20; i++) {
        pthread_mutex_lock(&g->mu);
        st = g->done;
        pthread_mutex_unlock(&g->mu);
        if (st)
            return g->status;
        zkt_sleep_ms(20);
    }
    return ZKR_ETIMEDOUT;
}

static int children(zkr_client_t *c, const char *path)
{
    char **names;
    int n = 0;
    if (zkr_children(c, path, &names, &n) != ZKR_OK)
        return -1;
    zkr_strings_free(names, n);
    return n;
}

int main(void)
{
    zkt_server_t *ens = zkt_start(3);
    zkr_client_t *c1 = zkt_client(ens->hosts, 2000);
    zkr_client_t *c2 = zkt_client(ens->hosts, 2000);
    zkr_lock_t *a, *b;
    zkr_lock_opts_t o;
    int i, member;
    pid_t child;
    int pipefd[2];

    /* 1. forced expiry: the holder is told, and no longer holds */
    zkr_lock_opts_init(&o);
    o.state_cb = state_cb;
    is(zkr_lock_new(c1, "/faults/expiry", &o, &a), ZKR_OK, "lock with state callback");
    is(zkr_lock_acquire(a, -1), ZKR_OK, "held");
    is(zkr_client_expire_session(c1), ZKR_OK, "expire the holder's session");
    for (i = 0; i < 200 && !atomic_load(&lost); i++)
        zkt_sleep_ms(25);
    is(atomic_load(&lost), 1, "state callback: ZKR_ELOCKLOST");
    is(zkr_lock_is_held(a), 0, "is_held is 0 after the loss");
    is(zkr_lock_token(a), 0, "no token after the loss");
    is(zkr_lock_release(a), ZKR_ENOTHELD, "release after loss: ENOTHELD");
    is(zkr_lock_new(c2, "/faults/expiry", NULL, &b), ZKR_OK, "second contender");
    is(zkr_lock_acquire(b, 10000), ZKR_OK, "another session takes the lock");
    is(zkr_client_wait_connected(c1, 10000), ZKR_OK, "holder reconnected with a new session");
    is(zkr_lock_acquire(a, 0), ZKR_EWOULDBLOCK, "old holder now has to queue");
    zkr_lock_free(b);
    is(zkr_lock_acquire(a, 10000), ZKR_OK, "and gets it after release");
    zkr_lock_free(a);

    /* 2. holder crash: a child process holds the lock and is killed */
    /* (exec, not just fork: a forked copy of a process with ZooKeeper
     * threads may inherit a held mutex) */
    if (pipe(pipefd) != 0)
        bail_out("pipe");
    child = fork();
    if (child == 0) {
        char peer[600], path[300];
        const char *top = getenv("ZKR_TOP_BUILDDIR");
        snprintf(peer, sizeof peer, "%s/t/zkr-peer", top ? top : ".");
        snprintf(path, sizeof path, "%s/faults/crash", zkt_ns());
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        setenv("ZKR_PEER_SESSION_MS", "1500", 1);
        execl(peer, peer, ens->hosts, "holdforever", path, "1", "/dev/null",
              "0", (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    {
        /* "ready\nheld\n" */
        char out[64] = "";
        size_t got = 0;
        ssize_t r;
        while (got < sizeof out - 1 && !strstr(out, "held") &&
               (r = read(pipefd[0], out + got, sizeof out - 1 - got)) > 0)
            got += (size_t)r;
        ok(strstr(out, "held") != NULL, "child process holds the lock");
    }
    close(pipefd[0]);
    is(zkr_lock_new(c2, "/faults/crash", NULL, &b), ZKR_OK, "waiter");
    is(zkr_lock_acquire(b, 0), ZKR_EWOULDBLOCK, "held by the child");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    is(zkr_lock_acquire(b, 20000), ZKR_OK,
       "waiter takes over once the crashed holder's session expires");
    zkr_lock_free(b);

    /* 3. connection loss during create. With the leader paused, the
     * member we talk to forwards our create and waits; we kill that
     * member (our create's reply is lost) and resume the leader, which
     * may still apply the forwarded create. Either way the lock must end
     * up with exactly our one node, and none after release. */
    for (i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof path, "/faults/orphan%d", i);
        is(zkr_ensure_path(c2, path), ZKR_OK, "round %d: lock directory", i);
        is(zkr_lock_new(c2, path, NULL, &b), ZKR_OK, "round %d: lock", i);
        member = zkt_member_of(ens, c2);
        int leader = zkt_leader(ens);
        if (member == leader) {
            /* move: kill our member so we reconnect elsewhere */
            zkt_ctl(ens, "kill %d", member);
            zkr_client_wait_connected(c2, 10000);
            zkt_ctl(ens, "restart %d", member);
            zkr_exists(c2, "/", NULL);
            member = zkt_member_of(ens, c2);
            leader = zkt_leader(ens);
        }
        zkt_ctl(ens, "pause %d", leader);
        struct granted g;
        granted_init(&g);
        is(zkr_lock_acquire_async(b, granted_cb, &g), ZKR_OK, "round %d: acquire sent", i);
        zkt_sleep_ms(150);
        zkt_ctl(ens, "kill %d", member);
        zkt_ctl(ens, "resume %d", leader);
        is(granted_wait(&g, 30000), ZKR_OK, "round %d: acquired after the loss", i);
        is(children(c2, path), 1, "round %d: exactly one node of ours", i);
        is(zkr_lock_release(b), ZKR_OK, "round %d: released", i);
        is(children(c2, path), 0, "round %d: nothing left behind", i);
        zkr_lock_free(b);
        is(zkt_ctl(ens, "restart %d", member), 0, "round %d: member back", i);
    }
    zkt_stop(ens);
    return done_testing();
}
