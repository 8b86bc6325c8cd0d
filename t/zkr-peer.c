/* SPDX-License-Identifier: Apache-2.0 */
/* zkr side of the interop tests, with the CLI and log format of
 * t/peers/Peer.java and t/peers/kazoo_peer.py:
 *
 *   zkr-peer HOSTS MODE PATH COUNT LOGFILE HOLD_MS
 *
 * MODE: mutex | read | write | sem:N | holdforever. $ZKR_PEER_SESSION_MS
 * sets the session timeout (default 10000). Prints "ready" once
 * connected; then COUNT times: acquire, append "<pid> enter <MODE>", sleep
 * HOLD_MS, append "<pid> leave <MODE>", release. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zkr/rwlock.h>
#include <zkr/semaphore.h>

static int logfd;

static void log_line(const char *what, const char *mode)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%ld %s %s\n", (long)getpid(), what,
                     mode);
    if (write(logfd, line, (size_t)n) != n) {
        perror("zkr-peer: log");
        exit(1);
    }
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "zkr-peer: %s: %s\n", what, zkr_strerror(rc));
    exit(1);
}

int main(int argc, char **argv)
{
    zkr_client_opts_t o;
    zkr_client_t *c;
    zkr_rwlock_t *rw = NULL;
    zkr_lock_t *l = NULL;
    zkr_semaphore_t *sem = NULL;
    const char *mode;
    int count, hold_ms, rc;

    if (argc != 7) {
        fprintf(stderr,
                "usage: zkr-peer HOSTS MODE PATH COUNT LOGFILE HOLD_MS\n");
        return 2;
    }
    mode = argv[2];
    count = atoi(argv[4]);
    hold_ms = atoi(argv[6]);
    logfd = open(argv[5], O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (logfd < 0) {
        perror("zkr-peer: open log");
        return 1;
    }
    zkr_client_opts_init(&o);
    o.hosts = argv[1];
    o.session_timeout_ms = getenv("ZKR_PEER_SESSION_MS")
                               ? atoi(getenv("ZKR_PEER_SESSION_MS"))
                               : 10000;
    if ((rc = zkr_client_new(&o, &c)) != ZKR_OK)
        die("connect", rc);
    if (!strcmp(mode, "mutex") || !strcmp(mode, "holdforever"))
        rc = zkr_lock_new(c, argv[3], NULL, &l);
    else if (!strcmp(mode, "read") || !strcmp(mode, "write")) {
        rc = zkr_rwlock_new(c, argv[3], NULL, &rw);
        if (rc == ZKR_OK)
            l = !strcmp(mode, "read") ? zkr_rwlock_read(rw)
                                      : zkr_rwlock_write(rw);
    } else if (!strncmp(mode, "sem:", 4) && atoi(mode + 4) > 0)
        rc = zkr_semaphore_new(c, argv[3], atoi(mode + 4), NULL, 0, &sem);
    else {
        fprintf(stderr, "zkr-peer: unknown mode '%s'\n", mode);
        return 2;
    }
    if (rc != ZKR_OK)
        die("new", rc);
    printf("ready\n");
    fflush(stdout);
    if (!strcmp(mode, "holdforever")) {
        if ((rc = zkr_lock_acquire(l, -1)) != ZKR_OK)
            die("acquire", rc);
        log_line("enter", mode);
        printf("held\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    for (int i = 0; i < count; i++) {
        struct timespec ts = {hold_ms / 1000, (long)(hold_ms % 1000) * 1000000L};
        rc = sem ? zkr_semaphore_acquire(sem, 1, -1) : zkr_lock_acquire(l, -1);
        if (rc != ZKR_OK)
            die("acquire", rc);
        log_line("enter", mode);
        nanosleep(&ts, NULL);
        log_line("leave", mode);
        rc = sem ? zkr_semaphore_release(sem, 1) : zkr_lock_release(l);
        if (rc != ZKR_OK)
            die("release", rc);
    }
    zkr_semaphore_free(sem);
    if (rw)
        zkr_rwlock_free(rw);
    else
        zkr_lock_free(l);
    zkr_client_free(c);
    return 0;
}
