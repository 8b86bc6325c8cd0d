/* SPDX-License-Identifier: Apache-2.0 */
/* zkr-lock: run a command while holding a ZooKeeper lock, like flock(1). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include <zkr/lock.h>
#include <zkr/rwlock.h>

#define EXIT_NOT_ACQUIRED 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3
#define EXIT_LOST 4

static const char usage_text[] =
    "usage: zkr-lock [-s HOSTS] [-w SECONDS | -n] [--shared | -x] [options]\n"
    "                PATH -- COMMAND [ARGS...]\n"
    "\n"
    "Acquire the ZooKeeper lock PATH, run COMMAND while holding it, release\n"
    "it when COMMAND exits, and exit with COMMAND's status.\n"
    "\n"
    "  -s, --hosts HOSTS       connect string (default $ZKR_HOSTS, then\n"
    "                          127.0.0.1:2181)\n"
    "  -w, --wait SECONDS      give up after SECONDS (fractions allowed)\n"
    "  -n, --nonblock          give up at once if the lock is held\n"
    "      --shared            take the shared (read) side of a read/write\n"
    "                          lock on PATH\n"
    "  -x, --exclusive         take the exclusive (write) side of a\n"
    "                          read/write lock on PATH\n"
    "                          (without --shared or -x: a plain mutex)\n"
    "  -t, --session-timeout MS  session timeout (default 10000)\n"
    "  -g, --grace SECONDS     after the lock is lost, wait this long\n"
    "                          after SIGTERM before SIGKILL (default 5)\n"
    "  -v, --verbose           say what happens on stderr\n"
    "  -h, --help              show this help\n"
    "\n"
    "Layouts are Apache Curator's: a mutex is InterProcessMutex, --shared\n"
    "and -x are InterProcessReadWriteLock, so Java services using Curator\n"
    "on the same PATH exclude and are excluded. A mutex and a read/write\n"
    "lock on the same PATH do not see each other.\n"
    "\n"
    "COMMAND gets ZKR_LOCK_TOKEN (the fencing token: the lock node's czxid,\n"
    "larger for every later holder) and ZKR_LOCK_PATH in its environment.\n"
    "If the session is lost while COMMAND runs, COMMAND gets SIGTERM (then\n"
    "SIGKILL after the grace period) and zkr-lock exits 4. SIGINT, SIGTERM\n"
    "and SIGHUP sent to zkr-lock are passed on to COMMAND.\n"
    "\n"
    "Exit status: COMMAND's status (128+N if killed by signal N); 1 lock not\n"
    "acquired; 2 usage error; 3 cannot connect; 4 lock lost while COMMAND\n"
    "ran; 126/127 COMMAND not executable/not found.\n";

static atomic_int lost;
static volatile pid_t child = -1;
static int verbose;

static void on_lock_state(zkr_lock_t *l, int status, void *ctx)
{
    (void)l;
    (void)ctx;
    if (status == ZKR_ECONNLOSS && verbose)
        fprintf(stderr, "zkr-lock: connection suspended, hold uncertain\n");
    if (status == ZKR_ELOCKLOST) {
        atomic_store(&lost, 1);
        if (child > 0)
            kill(child, SIGTERM);
    }
}

static void forward_signal(int sig)
{
    if (child > 0)
        kill(child, sig);
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && *out >= 0 &&
           *out < 1e7;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"hosts", required_argument, NULL, 's'},
        {"wait", required_argument, NULL, 'w'},
        {"nonblock", no_argument, NULL, 'n'},
        {"shared", no_argument, NULL, 'S'},
        {"exclusive", no_argument, NULL, 'x'},
        {"session-timeout", required_argument, NULL, 't'},
        {"grace", required_argument, NULL, 'g'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *hosts = getenv("ZKR_HOSTS");
    double wait_s = -1, grace_s = 5;
    int nonblock = 0, shared = 0, exclusive = 0, session_ms = 10000;
    int opt, rc, timeout_ms, status = 0;
    zkr_client_t *c = NULL;
    zkr_lock_opts_t lo;
    zkr_lock_t *lock = NULL;
    zkr_rwlock_t *rw = NULL;
    const char *path;
    char tokbuf[32];

    while ((opt = getopt_long(argc, argv, "+s:w:nxt:g:vh", longopts, NULL)) !=
           -1) {
        switch (opt) {
        case 's':
            hosts = optarg;
            break;
        case 'w':
            if (!parse_seconds(optarg, &wait_s)) {
                fprintf(stderr, "zkr-lock: bad --wait value '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'n':
            nonblock = 1;
            break;
        case 'S':
            shared = 1;
            break;
        case 'x':
            exclusive = 1;
            break;
        case 't':
            session_ms = atoi(optarg);
            if (session_ms <= 0) {
                fprintf(stderr, "zkr-lock: bad --session-timeout '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'g':
            if (!parse_seconds(optarg, &grace_s)) {
                fprintf(stderr, "zkr-lock: bad --grace value '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    if (nonblock && wait_s >= 0) {
        fprintf(stderr, "zkr-lock: -n and -w exclude each other\n");
        return EXIT_USAGE;
    }
    if (shared && exclusive) {
        fprintf(stderr, "zkr-lock: --shared and -x exclude each other\n");
        return EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "zkr-lock: missing PATH\n%s", usage_text);
        return EXIT_USAGE;
    }
    path = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    if (optind >= argc) {
        fprintf(stderr, "zkr-lock: missing COMMAND\n%s", usage_text);
        return EXIT_USAGE;
    }
    if (zkr_path_validate(path) != ZKR_OK || strcmp(path, "/") == 0) {
        fprintf(stderr, "zkr-lock: '%s' is not a valid lock path\n", path);
        return EXIT_USAGE;
    }

    if ((rc = zkr_cli_connect("zkr-lock", hosts, session_ms, 0, &c)) != 0)
        return rc;
    zkr_lock_opts_init(&lo);
    lo.state_cb = on_lock_state;
    if (shared || exclusive) {
        rc = zkr_rwlock_new(c, path, &lo, &rw);
        lock = rw ? (shared ? zkr_rwlock_read(rw) : zkr_rwlock_write(rw))
                  : NULL;
    } else {
        rc = zkr_lock_new(c, path, &lo, &lock);
    }
    if (rc != ZKR_OK) {
        fprintf(stderr, "zkr-lock: %s: %s\n", path, zkr_strerror(rc));
        zkr_client_free(c);
        return EXIT_USAGE;
    }
    /* -w beyond INT_MAX ms (about 24 days) waits forever */
    timeout_ms = nonblock                             ? 0
                 : wait_s < 0 || wait_s * 1000 > INT_MAX ? -1
                                                      : (int)(wait_s * 1000 + 0.5);
    if (verbose)
        fprintf(stderr, "zkr-lock: waiting for %s\n", path);
    rc = zkr_lock_acquire(lock, timeout_ms);
    if (rc != ZKR_OK) {
        if (rc != ZKR_EWOULDBLOCK && rc != ZKR_ETIMEDOUT)
            fprintf(stderr, "zkr-lock: %s: %s\n", path, zkr_strerror(rc));
        else if (verbose)
            fprintf(stderr, "zkr-lock: %s is held elsewhere\n", path);
        if (rw)
            zkr_rwlock_free(rw);
        else
            zkr_lock_free(lock);
        zkr_client_free(c);
        return EXIT_NOT_ACQUIRED;
    }
    snprintf(tokbuf, sizeof tokbuf, "%lld", (long long)zkr_lock_token(lock));
    if (verbose)
        fprintf(stderr, "zkr-lock: holding %s, token %s\n", path, tokbuf);

    signal(SIGINT, forward_signal);
    signal(SIGTERM, forward_signal);
    signal(SIGHUP, forward_signal);
    {
        pid_t pid = fork();
        if (pid < 0) {
            perror("zkr-lock: fork");
            status = 126 << 8;
        } else if (pid == 0) {
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            setenv("ZKR_LOCK_TOKEN", tokbuf, 1);
            setenv("ZKR_LOCK_PATH", path, 1);
            execvp(argv[optind], argv + optind);
            fprintf(stderr, "zkr-lock: %s: %s\n", argv[optind],
                    strerror(errno));
            _exit(errno == ENOENT ? 127 : 126);
        } else {
            struct timespec lost_at = {0, 0};
            child = pid;
            if (atomic_load(&lost))
                kill(pid, SIGTERM);
            for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid)
                    break;
                if (w < 0 && errno != EINTR) {
                    status = 126 << 8;
                    break;
                }
                if (atomic_load(&lost)) {
                    struct timespec now;
                    clock_gettime(CLOCK_MONOTONIC, &now);
                    if (!lost_at.tv_sec)
                        lost_at = now;
                    else if ((now.tv_sec - lost_at.tv_sec) +
                                 (now.tv_nsec - lost_at.tv_nsec) / 1e9 >
                             grace_s)
                        kill(pid, SIGKILL);
                }
                usleep(20000);
            }
            child = -1;
        }
    }
    if (rw)
        zkr_rwlock_free(rw); /* releases */
    else
        zkr_lock_free(lock);
    zkr_client_free(c);
    if (atomic_load(&lost)) {
        fprintf(stderr, "zkr-lock: lock %s was lost while the command ran\n",
                path);
        return EXIT_LOST;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 126;
}
