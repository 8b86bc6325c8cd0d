/* SPDX-License-Identifier: Apache-2.0 */
/* At-least-once queue: take_lease / ack / nack; a leased item is invisible
 * to other lease consumers; a consumer whose session is expired mid-item
 * loses its lease and the item is redelivered; nothing is lost when a
 * consumer process is killed between take and ack (t/zkr-queue-peer is
 * exec'ed as that consumer). Also exactly-once callbacks, EDEADLK, bad
 * input, leases on a sharded queue. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zktest.h"
#include <zkr/queue.h>

extern char **environ;

/* ---- a peer process --------------------------------------------------- */

struct peer {
    pid_t pid;
    FILE *out;
};

static void peer_start(struct peer *p, const char *session_ms,
                       const char *const *args)
{
    const char *top = getenv("ZKR_TOP_BUILDDIR");
    char exe[600], env_session[64];
    char *argv[12], *envp[256];
    int fds[2], ne = 0;
    posix_spawn_file_actions_t fa;
    snprintf(exe, sizeof exe, "%s/t/zkr-queue-peer", top ? top : ".");
    snprintf(env_session, sizeof env_session, "ZKR_PEER_SESSION_MS=%s",
             session_ms);
    argv[0] = exe;
    for (int i = 0; i < 10 && args[i]; i++) {
        argv[i + 1] = (char *)args[i];
        argv[i + 2] = NULL;
    }
    for (char **e = environ; *e && ne < 250; e++)
        if (strncmp(*e, "ZKR_PEER_", 9) != 0)
            envp[ne++] = *e;
    envp[ne++] = env_session;
    envp[ne] = NULL;
    if (pipe(fds) != 0)
        bail_out("pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    if (posix_spawn(&p->pid, exe, &fa, NULL, argv, envp) != 0)
        bail_out("cannot run %s", exe);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    p->out = fdopen(fds[0], "r");
}

/* Read a line from the peer (blocking); NULL at EOF. */
static char *peer_line(struct peer *p, char *buf, size_t len)
{
    if (!fgets(buf, (int)len, p->out))
        return NULL;
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

static int peer_wait(struct peer *p)
{
    int st = -1;
    waitpid(p->pid, &st, 0);
    fclose(p->out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- callbacks -------------------------------------------------------- */

struct lrec {
    atomic_int calls;
    atomic_int status;
    zkr_queue_lease_t *lease;
    zkr_queue_t *probe;
    int probe_take, probe_ack;
    zkr_queue_lease_t *ack_me; /* ack_async from the callback */
    atomic_int ack_calls, ack_status;
};

static void ack_cb(zkr_queue_t *q, int status, void *ctx)
{
    struct lrec *r = ctx;
    (void)q;
    atomic_store(&r->ack_status, status);
    atomic_fetch_add(&r->ack_calls, 1);
}

static void lease_cb(zkr_queue_t *q, int status, zkr_queue_lease_t *l,
                     void *ctx)
{
    struct lrec *r = ctx;
    (void)q;
    if (r->probe && l) {
        zkr_queue_lease_t *x;
        r->probe_take = zkr_queue_take_lease(r->probe, 0, &x);
        r->probe_ack = zkr_queue_ack(l); /* refused: l stays ours */
        if (zkr_queue_ack_async(l, ack_cb, r) != ZKR_OK)
            r->probe_ack = -1;
        l = NULL;
    }
    r->lease = l;
    atomic_store(&r->status, status);
    atomic_fetch_add(&r->calls, 1);
}

static int wait_for(atomic_int *v, int n)
{
    for (int i = 0; i < 600 && atomic_load(v) < n; i++)
        zkt_sleep_ms(25);
    return atomic_load(v);
}

static const char *ldata(zkr_queue_lease_t *l)
{
    const char *d = l ? zkr_queue_lease_data(l, NULL) : NULL;
    return d ? d : "(none)";
}

static size_t qsize(zkr_queue_t *q)
{
    size_t n = 0;
    return zkr_queue_size(q, &n) == ZKR_OK ? n : (size_t)-1;
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *c1 = zkt_client(hosts, 4000), *c2 = zkt_client(hosts, 4000);
    zkr_queue_t *q1, *q2;
    zkr_queue_lease_t *a, *b, *x;
    struct lrec r;
    char line[256];
    size_t len;

    is(zkr_queue_new(c1, "/q/lease", NULL, &q1), ZKR_OK, "consumer 1");
    is(zkr_queue_new(c2, "/q/lease", NULL, &q2), ZKR_OK, "consumer 2");
    is(zkr_queue_take_lease(q1, 0, &a), ZKR_ETIMEDOUT,
       "lease on an empty queue: ETIMEDOUT");
    zkr_queue_put(q1, "a", 1);
    zkr_queue_put(q1, "b", 1);
    zkr_queue_put(q1, "c", 1);

    /* take, ack, nack */
    is(zkr_queue_take_lease(q1, 1000, &a), ZKR_OK, "1 leases");
    is_str(ldata(a), "a", "the oldest item");
    {
        const void *d = zkr_queue_lease_data(a, &len);
        ok(d && len == 1, "lease_data gives the length");
    }
    ok(strncmp(zkr_queue_lease_name(a), "qn-", 3) == 0, "lease name %s",
       zkr_queue_lease_name(a));
    {
        char path[128];
        zkr_stat_t st;
        snprintf(path, sizeof path, "/q/lease/leases/%s",
                 zkr_queue_lease_name(a));
        is(zkr_exists(c2, path, &st), ZKR_OK, "lease node <queue>/leases/<item>");
        ok(st.ephemeral_owner == zkr_client_session_id(c1),
           "ephemeral, owned by the consumer's session");
    }
    is(qsize(q2), 3, "a leased item still counts in size");
    is(zkr_queue_take_lease(q2, 1000, &b), ZKR_OK, "2 leases");
    is_str(ldata(b), "b", "the next one, not the leased one");
    is(zkr_queue_ack(a), ZKR_OK, "1 acks");
    is(qsize(q2), 2, "the acked item is gone");
    is(zkr_queue_nack(b), ZKR_OK, "2 nacks");
    /* nack does not wait for its delete: let it land before looking */
    is(zkr_client_flush(c2, 5000), ZKR_OK, "2's nack is applied");
    is(zkr_queue_take_lease(q1, 1000, &a), ZKR_OK, "1 leases again");
    is_str(ldata(a), "b", "the nacked item comes back first");
    is(zkr_queue_take_lease(q2, 1000, &b), ZKR_OK, "2 leases");
    is_str(ldata(b), "c", "c");
    is(zkr_queue_take_lease(q2, 300, &x), ZKR_ETIMEDOUT,
       "everything leased: nothing for 2");
    is(zkr_queue_ack(b), ZKR_OK, "2 acks c");

    /* a blocked lease taker is woken by a nack */
    memset(&r, 0, sizeof r);
    is(zkr_queue_take_lease_async(q2, lease_cb, &r), ZKR_OK,
       "2 waits for a lease");
    zkt_sleep_ms(200);
    is(atomic_load(&r.calls), 0, "nothing while 1 holds the last item");
    is(zkr_queue_nack(a), ZKR_OK, "1 nacks");
    is(wait_for(&r.calls, 1), 1, "2's callback ran");
    is(atomic_load(&r.status), ZKR_OK, "with a lease");
    is_str(ldata(r.lease), "b", "on the released item");
    zkt_sleep_ms(50);
    is(atomic_load(&r.calls), 1, "exactly once");

    /* session expired mid-item: the lease is lost, the item redelivered */
    is(zkr_client_expire_session(c2), ZKR_OK, "2's session is expired");
    is(zkr_queue_take_lease(q1, 10000, &a), ZKR_OK,
       "1 gets the item 2 was working on");
    is_str(ldata(a), "b", "redelivered");
    is(zkr_queue_ack(r.lease), ZKR_ELOCKLOST, "2's late ack: ELOCKLOST");
    is(qsize(q1), 1, "and it did not remove the item");
    is(zkr_queue_ack(a), ZKR_OK, "1 acks it");
    is(qsize(q1), 0, "the queue is empty");

    /* async callbacks, EDEADLK, ack_async from a callback */
    memset(&r, 0, sizeof r);
    r.probe = q1;
    zkr_queue_put(q1, "d", 1);
    is(zkr_queue_take_lease_async(q2, lease_cb, &r), ZKR_OK, "async lease");
    is(wait_for(&r.calls, 1), 1, "callback ran");
    is(r.probe_take, ZKR_EDEADLK, "blocking take_lease in a callback: EDEADLK");
    is(r.probe_ack, ZKR_EDEADLK, "blocking ack in a callback: EDEADLK");
    is(wait_for(&r.ack_calls, 1), 1, "ack_async from the callback completed");
    is(atomic_load(&r.ack_status), ZKR_OK, "with ZKR_OK");
    zkt_sleep_ms(50);
    is(atomic_load(&r.ack_calls), 1, "exactly once");
    is(qsize(q1), 0, "acked");

    /* a plain take leaves a leased item alone; ack of an item that a
     * foreign consumer (a bare delete, as Curator's SimpleDistributedQueue
     * takes) removed meanwhile */
    zkr_queue_put(q1, "e", 1);
    is(zkr_queue_take_lease(q1, 1000, &a), ZKR_OK, "lease e");
    {
        char *d = NULL, p[96];
        is(zkr_queue_take(q2, 300, &d, &len), ZKR_ETIMEDOUT,
           "a plain take does not take a leased item");
        zkr_free(d);
        snprintf(p, sizeof p, "/q/lease/%s", zkr_queue_lease_name(a));
        is(zkr_delete(c2, p, -1), ZKR_OK, "a foreign consumer deletes it");
    }
    is(zkr_queue_ack(a), ZKR_ENONODE, "ack then reports ENONODE");

    /* free with a pending lease take */
    memset(&r, 0, sizeof r);
    {
        zkr_queue_t *q3;
        zkr_queue_new(c1, "/q/lease", NULL, &q3);
        is(zkr_queue_take_lease_async(q3, lease_cb, &r), ZKR_OK, "pending");
        zkr_queue_free(q3);
        is(wait_for(&r.calls, 1), 1, "free ran the callback");
        is(atomic_load(&r.status), ZKR_ECANCELED, "with ZKR_ECANCELED");
    }

    /* a consumer process killed between take and ack */
    {
        struct peer p;
        const char *args[] = {hosts, "lease", "/q/lease-crash", NULL};
        char ns_path[300];
        zkr_queue_t *qc;
        zkr_client_t *root = zkt_client_ns(hosts, 4000, NULL);
        snprintf(ns_path, sizeof ns_path, "%s/q/lease-crash", zkt_ns());
        args[2] = ns_path;
        zkr_queue_new(root, ns_path, NULL, &qc);
        zkr_queue_put(qc, "crash-item", 10);
        peer_start(&p, "1500", args);
        ok(peer_line(&p, line, sizeof line) && !strcmp(line, "leased crash-item"),
           "peer process leased the item (%s)", line);
        is(zkr_queue_take_lease(qc, 0, &x), ZKR_ETIMEDOUT,
           "invisible while the peer holds it");
        kill(p.pid, SIGKILL);
        is(peer_wait(&p), 128 + SIGKILL, "peer killed before its ack");
        is(zkr_queue_take_lease(qc, 15000, &x), ZKR_OK,
           "the item comes back once the peer's session expires");
        is_str(ldata(x), "crash-item", "the same item");
        is(zkr_queue_ack(x), ZKR_OK, "acked here");

        /* many items, a consumer killed at some point while working */
        {
            char log[512];
            const char *cargs[] = {hosts, "consume-lease", ns_path, log, NULL};
            int total = 200, got = 0, dup = 0, missing = 0;
            char *seen = calloc((size_t)total, 1);
            FILE *f;
            snprintf(log, sizeof log, "%s/zkr-402-%ld.log",
                     getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                     (long)getpid());
            unlink(log);
            for (int i = 0; i < total; i++) {
                char buf[32];
                snprintf(buf, sizeof buf, "%d", i);
                zkr_queue_put(qc, buf, strlen(buf));
            }
            peer_start(&p, "1500", cargs);
            peer_line(&p, line, sizeof line); /* ready */
            for (int i = 0; i < 400; i++) { /* let it work a little */
                int lines = 0;
                f = fopen(log, "r");
                while (f && fgets(line, sizeof line, f))
                    lines++;
                if (f)
                    fclose(f);
                if (lines >= 40)
                    break;
                zkt_sleep_ms(10);
            }
            kill(p.pid, SIGKILL);
            peer_wait(&p);
            f = fopen(log, "r");
            while (f && fgets(line, sizeof line, f)) {
                int v = atoi(line);
                if (v >= 0 && v < total && seen[v]++)
                    dup++;
            }
            if (f)
                fclose(f);
            for (int i = 0; i < total; i++)
                got += seen[i] != 0;
            diag("the killed consumer processed %d items", got);
            ok(got > 0 && got < total, "killed while working");
            /* the rest, here */
            while (zkr_queue_take_lease(qc, 5000, &x) == ZKR_OK) {
                int v = atoi(ldata(x));
                if (v >= 0 && v < total && seen[v]++)
                    dup++;
                zkr_queue_ack(x);
            }
            for (int i = 0; i < total; i++)
                missing += !seen[i];
            is(missing, 0, "no item lost");
            ok(dup <= 1, "at most the item in hand was processed twice (%d)",
               dup);
            is(qsize(qc), 0, "queue drained");
            free(seen);
            unlink(log);
        }
        zkr_queue_free(qc);
        zkr_delete_recursive(root, ns_path);
        zkr_client_free(root);
    }

    /* leases on a sharded queue */
    {
        zkr_queue_opts_t o;
        zkr_queue_t *s1, *s2;
        int seen[20] = {0}, once = 1;
        zkr_queue_lease_t *held[20];
        int nh = 0;
        zkr_queue_opts_init(&o);
        o.shards = 4;
        zkr_queue_new(c1, "/q/lease-sharded", &o, &s1);
        zkr_queue_new(c2, "/q/lease-sharded", &o, &s2);
        for (int i = 0; i < 20; i++) {
            char buf[8];
            snprintf(buf, sizeof buf, "%d", i);
            zkr_queue_put(s1, buf, strlen(buf));
        }
        for (int i = 0; i < 20; i++) {
            zkr_queue_lease_t *l;
            if (zkr_queue_take_lease(i % 2 ? s2 : s1, 2000, &l) != ZKR_OK)
                break;
            seen[atoi(ldata(l)) % 20]++;
            held[nh++] = l;
        }
        is(nh, 20, "20 leases over 4 shards from two sessions");
        for (int i = 0; i < 20; i++)
            once &= seen[i] == 1;
        ok(once, "each item leased once");
        ok(strncmp(zkr_queue_lease_name(held[0]), "s-", 2) == 0 &&
               strstr(zkr_queue_lease_name(held[0]), "/qn-") != NULL,
           "sharded lease name %s", zkr_queue_lease_name(held[0]));
        is(zkr_queue_take_lease(s1, 0, &x), ZKR_ETIMEDOUT, "none left");
        once = 1;
        for (int i = 0; i < nh; i++)
            once &= zkr_queue_ack(held[i]) == ZKR_OK;
        ok(once, "all acked");
        is(qsize(s1), 0, "sharded queue empty");
        zkr_queue_free(s1);
        zkr_queue_free(s2);
    }

    /* bad input */
    is(zkr_queue_take_lease(NULL, 0, &x), ZKR_EINVAL, "take_lease NULL queue");
    is(zkr_queue_take_lease(q1, 0, NULL), ZKR_EINVAL, "take_lease NULL out");
    is(zkr_queue_take_lease_async(q1, NULL, NULL), ZKR_EINVAL,
       "take_lease_async NULL cb");
    is(zkr_queue_ack(NULL), ZKR_EINVAL, "ack NULL");
    is(zkr_queue_ack_async(NULL, ack_cb, &r), ZKR_EINVAL, "ack_async NULL");
    is(zkr_queue_nack(NULL), ZKR_EINVAL, "nack NULL");
    ok(zkr_queue_lease_data(NULL, &len) == NULL && len == 0,
       "lease_data NULL");
    ok(zkr_queue_lease_name(NULL) == NULL, "lease_name NULL");

    zkr_queue_free(q1);
    zkr_queue_free(q2);
    zkr_client_free(c1);
    zkr_client_free(c2);
    return done_testing();
}
