/* SPDX-License-Identifier: Apache-2.0 */
/* A queue and barrier client run as a separate process by the tests (so
 * that it can be killed with SIGKILL while it holds something):
 *
 *   zkr-queue-peer HOSTS MODE PATH [ARGS...]
 *
 * MODE:
 *   lease PATH              take one item under a lease, print
 *                           "leased <data>", then sleep until killed
 *   consume-lease PATH LOG  take items under leases until none comes for
 *                           3 s; for each: append "<data>\n" to LOG, then
 *                           ack (a kill between the two leaves it leased)
 *   put PATH PREFIX N       put PREFIX-0 .. PREFIX-(N-1), print "done"
 *   take PATH N             take N items (waiting up to 20 s for each),
 *                           print each on its own line
 *   drain PATH SECONDS      take items until none arrives for SECONDS,
 *                           print each on its own line
 *   dbarrier PATH N         enter a double barrier of N members, print
 *                           "entered", then sleep until killed
 *
 * $ZKR_PEER_SESSION_MS sets the session timeout (default 10000); with
 * $ZKR_PEER_SHARDS the queue is sharded. Exit 0 when done, 1 on an
 * error, 2 on a usage error. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zkr/barrier.h>
#include <zkr/queue.h>

static void die(const char *what, int rc)
{
    fprintf(stderr, "zkr-queue-peer: %s: %s\n", what, zkr_strerror(rc));
    exit(1);
}

static int usage(void)
{
    fprintf(stderr, "usage: zkr-queue-peer HOSTS MODE PATH [ARGS...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    zkr_client_opts_t o;
    zkr_client_t *c;
    zkr_queue_opts_t qo;
    zkr_queue_t *q = NULL;
    const char *mode, *env;
    int rc;

    if (argc < 4)
        return usage();
    mode = argv[2];
    zkr_client_opts_init(&o);
    o.hosts = argv[1];
    env = getenv("ZKR_PEER_SESSION_MS");
    o.session_timeout_ms = env ? atoi(env) : 10000;
    if ((rc = zkr_client_new(&o, &c)) != ZKR_OK)
        die("connect", rc);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (!strcmp(mode, "dbarrier")) {
        zkr_double_barrier_t *d;
        if (argc != 5)
            return usage();
        if ((rc = zkr_double_barrier_new(c, argv[3], atoi(argv[4]), &d)) !=
            ZKR_OK)
            die("double_barrier_new", rc);
        if ((rc = zkr_double_barrier_enter(d, -1)) != ZKR_OK)
            die("enter", rc);
        printf("entered\n");
        for (;;)
            pause();
    }

    zkr_queue_opts_init(&qo);
    env = getenv("ZKR_PEER_SHARDS");
    qo.shards = env ? atoi(env) : 0;
    if ((rc = zkr_queue_new(c, argv[3], &qo, &q)) != ZKR_OK)
        die("queue_new", rc);

    if (!strcmp(mode, "lease") && argc == 4) {
        zkr_queue_lease_t *l;
        if ((rc = zkr_queue_take_lease(q, -1, &l)) != ZKR_OK)
            die("take_lease", rc);
        printf("leased %s\n", (const char *)zkr_queue_lease_data(l, NULL));
        for (;;)
            pause();
    } else if (!strcmp(mode, "consume-lease") && argc == 5) {
        int fd = open(argv[4], O_WRONLY | O_APPEND | O_CREAT, 0644);
        zkr_queue_lease_t *l;
        if (fd < 0) {
            perror("zkr-queue-peer: open log");
            return 1;
        }
        printf("ready\n");
        while ((rc = zkr_queue_take_lease(q, 3000, &l)) == ZKR_OK) {
            size_t len;
            const char *d = zkr_queue_lease_data(l, &len);
            char line[256];
            int n = snprintf(line, sizeof line, "%.*s\n", (int)len, d);
            if (write(fd, line, (size_t)n) != n) {
                perror("zkr-queue-peer: log");
                return 1;
            }
            if ((rc = zkr_queue_ack(l)) != ZKR_OK)
                die("ack", rc);
        }
        if (rc != ZKR_ETIMEDOUT)
            die("take_lease", rc);
        close(fd);
    } else if (!strcmp(mode, "put") && argc == 6) {
        int n = atoi(argv[5]);
        for (int i = 0; i < n; i++) {
            char buf[256];
            int len = snprintf(buf, sizeof buf, "%s-%d", argv[4], i);
            if ((rc = zkr_queue_put(q, buf, (size_t)len)) != ZKR_OK)
                die("put", rc);
        }
        printf("done\n");
    } else if (!strcmp(mode, "take") && argc == 5) {
        int n = atoi(argv[4]);
        for (int i = 0; i < n; i++) {
            char *data;
            size_t len;
            if ((rc = zkr_queue_take(q, 20000, &data, &len)) != ZKR_OK)
                die("take", rc);
            printf("%s\n", data);
            zkr_free(data);
        }
    } else if (!strcmp(mode, "drain") && argc == 5) {
        char *data;
        size_t len;
        while ((rc = zkr_queue_take(q, atoi(argv[4]) * 1000, &data, &len)) ==
               ZKR_OK) {
            printf("%s\n", data);
            zkr_free(data);
        }
        if (rc != ZKR_ETIMEDOUT)
            die("take", rc);
    } else {
        return usage();
    }
    zkr_queue_free(q);
    zkr_client_free(c);
    return 0;
}
