/* SPDX-License-Identifier: Apache-2.0 */
/* One client of the fault rounds: hammers a lock for DURATION_MS and logs
 * every hold to LOGFILE as "<pid> enter t<token>" / "<pid> leave t<token>"
 * (one O_APPEND write per line).
 *
 *   zkr-chaos-worker HOSTS LOCKPATH LOGFILE DURATION_MS SESSION_MS
 *
 * A holder that hears its connection is suspended logs "leave" at once:
 * from then on it must not touch the protected resource. The checker
 * replays the log: holds never overlap and tokens only grow.
 *
 *   zkr-chaos-worker elect HOSTS PATH LOGFILE DURATION_MS SESSION_MS
 *
 * does the same as a candidate of a leader election: a term is logged as a
 * hold (the token is the leader node's czxid); a leader resigns after a few
 * milliseconds and joins again, so leadership keeps moving. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zkr/election.h>
#include <zkr/lock.h>

static int logfd;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int holding;
static long long token;

static void log_line(const char *what, long long tok)
{
    char line[96];
    int n = snprintf(line, sizeof line, "%ld %s t%lld\n", (long)getpid(),
                     what, tok);
    if (write(logfd, line, (size_t)n) != n)
        _exit(1);
}

/* Give up the claim once, whoever notices first. */
static void leave(void)
{
    pthread_mutex_lock(&mu);
    if (holding) {
        holding = 0;
        log_line("leave", token);
    }
    pthread_mutex_unlock(&mu);
}

static void on_state(zkr_lock_t *l, int status, void *ctx)
{
    (void)l;
    (void)ctx;
    if (status == ZKR_ECONNLOSS || status == ZKR_ELOCKLOST)
        leave();
}

static void on_leader(zkr_election_t *e, int status, void *ctx)
{
    (void)status;
    (void)ctx;
    pthread_mutex_lock(&mu);
    if (!holding && zkr_election_is_leader(e)) {
        holding = 1;
        token = zkr_election_token(e);
        log_line("enter", token);
    }
    pthread_mutex_unlock(&mu);
}

static void on_lost(zkr_election_t *e, int status, void *ctx)
{
    (void)e;
    (void)status;
    (void)ctx;
    leave();
}

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    zkr_client_opts_t co;
    zkr_lock_opts_t lo;
    zkr_client_t *c;
    zkr_lock_t *l;
    long long end;
    int holds = 0, rc;
    if (argc == 4 && !strcmp(argv[1], "count")) {
        /* zkr-chaos-worker count HOSTS PATH: number of children */
        char **names;
        int n = 0;
        zkr_client_opts_init(&co);
        co.hosts = argv[2];
        if (zkr_client_new(&co, &c) != ZKR_OK)
            return 3;
        rc = zkr_children(c, argv[3], &names, &n);
        if (rc == ZKR_OK)
            zkr_strings_free(names, n);
        printf("%d\n", rc == ZKR_OK ? n : rc == ZKR_ENONODE ? 0 : -1);
        zkr_client_free(c);
        return 0;
    }
    if (argc == 7 && !strcmp(argv[1], "elect")) {
        zkr_election_opts_t eo;
        zkr_election_t *e;
        int terms = 0;
        logfd = open(argv[4], O_WRONLY | O_APPEND | O_CREAT, 0644);
        zkr_client_opts_init(&co);
        co.hosts = argv[2];
        co.session_timeout_ms = atoi(argv[6]);
        co.connect_timeout_ms = 30000;
        if (logfd < 0 || zkr_client_new(&co, &c) != ZKR_OK)
            return 3;
        zkr_election_opts_init(&eo);
        eo.on_leader = on_leader;
        eo.on_lost = on_lost;
        if (zkr_election_new(c, argv[3], &eo, &e) != ZKR_OK)
            return 1;
        srand((unsigned)getpid());
        end = now_ms() + atoll(argv[5]);
        zkr_election_join(e, 30000);
        while (now_ms() < end) {
            int lead;
            pthread_mutex_lock(&mu);
            lead = holding;
            pthread_mutex_unlock(&mu);
            if (!lead) {
                usleep(2000);
                continue;
            }
            usleep((useconds_t)(1000 + rand() % 8000));
            leave();
            terms++;
            zkr_election_resign(e);
            zkr_election_join(e, 5000);
        }
        zkr_election_free(e);
        zkr_client_free(c);
        printf("%d terms\n", terms);
        return 0;
    }
    if (argc != 6) {
        fprintf(stderr, "usage: zkr-chaos-worker HOSTS LOCKPATH LOGFILE "
                        "DURATION_MS SESSION_MS\n"
                        "       zkr-chaos-worker elect HOSTS PATH LOGFILE "
                        "DURATION_MS SESSION_MS\n");
        return 2;
    }
    logfd = open(argv[3], O_WRONLY | O_APPEND | O_CREAT, 0644);
    zkr_client_opts_init(&co);
    co.hosts = argv[1];
    co.session_timeout_ms = atoi(argv[5]);
    co.connect_timeout_ms = 30000;
    if (logfd < 0 || zkr_client_new(&co, &c) != ZKR_OK)
        return 3;
    zkr_lock_opts_init(&lo);
    lo.state_cb = on_state;
    if (zkr_lock_new(c, argv[2], &lo, &l) != ZKR_OK)
        return 1;
    srand((unsigned)getpid());
    end = now_ms() + atoll(argv[4]);
    while (now_ms() < end) {
        rc = zkr_lock_acquire(l, 1000);
        if (rc != ZKR_OK) {
            usleep(20000);
            continue;
        }
        pthread_mutex_lock(&mu);
        /* a hold that is already uncertain is not entered at all */
        if (zkr_lock_is_held(l)) {
            holding = 1;
            token = zkr_lock_token(l);
            log_line("enter", token);
            holds++;
        }
        pthread_mutex_unlock(&mu);
        usleep((useconds_t)(1000 + rand() % 8000));
        leave();
        zkr_lock_release(l);
    }
    zkr_lock_free(l);
    zkr_client_free(c);
    printf("%d holds\n", holds);
    return 0;
}
