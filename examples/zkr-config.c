/* SPDX-License-Identifier: Apache-2.0 */
/* zkr-config: push a configuration file into a znode with compare-and-swap,
 * or watch a znode and keep a local file up to date with it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include <zkr/config.h>

#define EXIT_ERROR 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3
#define EXIT_CONFLICT 4

static const char usage_text[] =
    "usage: zkr-config push [-s HOSTS] [--force | --expect-version N] PATH FILE\n"
    "       zkr-config watch [-s HOSTS] PATH --out FILE [--exec CMD]\n"
    "                        [--signal PIDFILE:SIG] [--once]\n"
    "       zkr-config get [-s HOSTS] [-V] PATH\n"
    "\n"
    "push   Write FILE (- for standard input) into the znode PATH, creating\n"
    "       it and its parents if missing. The write is a compare-and-swap:\n"
    "       by default it succeeds only if nobody changed PATH between our\n"
    "       read of its version and our write (so of two racing pushes one\n"
    "       fails); with --expect-version N only if PATH is at version N\n"
    "       (the version you based your edit on, from 'get -V'); --force\n"
    "       overwrites whatever is there. Prints 'PATH version N'.\n"
    "watch  Keep FILE equal to the data of PATH: write every new version\n"
    "       atomically (a temporary file in FILE's directory, then rename),\n"
    "       then run the reload hooks. Bursts of changes may be coalesced,\n"
    "       but the last version is always written. Rides through server\n"
    "       restarts and lost sessions (it reads PATH again). While PATH does\n"
    "       not exist FILE is left alone. Runs until SIGTERM or SIGINT.\n"
    "get    Print the data of PATH on standard output.\n"
    "\n"
    "  -s, --hosts HOSTS          connect string (default $ZKR_HOSTS, then\n"
    "                             127.0.0.1:2181)\n"
    "  -f, --force                push: overwrite without comparing\n"
    "  -e, --expect-version N     push: write only if PATH is at version N\n"
    "  -o, --out FILE             watch: the file to keep up to date\n"
    "  -x, --exec CMD             watch: after each write run 'sh -c CMD' with\n"
    "                             ZKR_CONFIG_PATH, ZKR_CONFIG_FILE and\n"
    "                             ZKR_CONFIG_VERSION set\n"
    "  -k, --signal PIDFILE:SIG   watch: after each write send SIG (HUP, USR1,\n"
    "                             ... or a number) to the pid in PIDFILE\n"
    "  -1, --once                 watch: write the current version and exit\n"
    "  -V, --version              get: also print 'version N' on stderr\n"
    "  -t, --session-timeout MS   session timeout (default 10000)\n"
    "  -q, --quiet                no status lines on stderr\n"
    "  -h, --help                 show this help\n"
    "\n"
    "Exit status: 0 ok (watch: stopped by SIGTERM or SIGINT); 1 error (get,\n"
    "watch --once: PATH does not exist); 2 usage error; 3 cannot connect;\n"
    "4 push conflict: PATH changed meanwhile, is not at the expected version,\n"
    "or does not exist although a version was expected (nothing written).\n";

static atomic_int stop_sig;
static int quiet;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int changed;

static void on_signal(int sig)
{
    atomic_store(&stop_sig, sig);
}

static void on_change(zkr_config_t *cfg, int status, void *ctx)
{
    (void)cfg;
    (void)status;
    (void)ctx;
    pthread_mutex_lock(&mu);
    changed = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static int read_all(const char *file, char **out, size_t *len)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    size_t cap = 4096, n = 0;
    char *buf;
    if (!f)
        return -1;
    buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            char *b;
            if (cap > ZKR_MAX_DATA + 1)
                break; /* too big anyway */
            b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
            }
            buf = b;
            cap *= 2;
        }
    }
    if (f != stdin)
        fclose(f);
    if (!buf)
        return -1;
    *out = buf;
    *len = n;
    return 0;
}

static int signal_number(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},
                 {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM},
                 {"ALRM", SIGALRM}, {"CONT", SIGCONT}, {"KILL", SIGKILL}};
    char *end;
    long v;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcasecmp(s, names[i].name) == 0)
            return names[i].sig;
    v = strtol(s, &end, 10);
    return *s && *end == '\0' && v > 0 && v < 65 ? (int)v : -1;
}

static int connect_to(const char *hosts, int session_ms, zkr_client_t **c)
{
    /* give up on connecting as soon as a session would expire */
    return zkr_cli_connect("zkr-config", hosts, session_ms, session_ms, c);
}

static int do_push(zkr_client_t *c, const char *path, const char *file,
                   int force, long expect)
{
    char *data = NULL;
    size_t len = 0;
    zkr_stat_t st;
    int version, rc;
    if (read_all(file, &data, &len) != 0) {
        fprintf(stderr, "zkr-config: cannot read %s: %s\n", file,
                strerror(errno));
        return EXIT_ERROR;
    }
    if (len > ZKR_MAX_DATA) {
        fprintf(stderr, "zkr-config: %s is larger than a znode holds\n", file);
        free(data);
        return EXIT_ERROR;
    }
    if (force) {
        version = ZKR_CONFIG_ANY;
    } else if (expect >= 0) {
        version = (int)expect;
    } else {
        rc = zkr_exists(c, path, &st);
        if (rc != ZKR_OK && rc != ZKR_ENONODE) {
            fprintf(stderr, "zkr-config: %s: %s\n", path, zkr_strerror(rc));
            free(data);
            return EXIT_ERROR;
        }
        version = rc == ZKR_ENONODE ? ZKR_CONFIG_ABSENT : st.version;
    }
    rc = zkr_config_push(c, path, data, len, version, &st);
    free(data);
    if (rc == ZKR_OK) {
        printf("%s version %d\n", path, st.version);
        return 0;
    }
    if (rc == ZKR_EBADVERSION || rc == ZKR_ENONODE) {
        if (rc == ZKR_ENONODE)
            fprintf(stderr, "zkr-config: conflict: %s does not exist (expected "
                    "version %d); nothing written\n", path, version);
        else if (version == ZKR_CONFIG_ABSENT)
            fprintf(stderr, "zkr-config: conflict: %s was created meanwhile "
                    "(now version %d); nothing written, use --force to "
                    "overwrite\n", path, st.version);
        else
            fprintf(stderr, "zkr-config: conflict: %s is at version %d, not "
                    "%d; nothing written, use --force to overwrite\n", path,
                    st.version, version);
        return EXIT_CONFLICT;
    }
    fprintf(stderr, "zkr-config: push %s: %s\n", path, zkr_strerror(rc));
    return EXIT_ERROR;
}

static int write_atomically(const char *out, const char *data, size_t len)
{
    size_t n = strlen(out) + 32;
    char *tmp = malloc(n);
    int fd, rc = -1;
    if (!tmp)
        return -1;
    /* same directory, so rename stays within one file system */
    snprintf(tmp, n, "%s.tmp.%ld", out, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t done = 0;
        while (done < len) {
            ssize_t w = write(fd, data + done, len - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        if (done == len && fsync(fd) == 0 && close(fd) == 0) {
            fd = -1;
            rc = rename(tmp, out);
        }
        if (fd >= 0)
            close(fd);
        if (rc != 0)
            unlink(tmp);
    }
    free(tmp);
    return rc;
}

static void run_hooks(const char *path, const char *out, int version,
                      const char *exec_cmd, const char *sigspec)
{
    if (exec_cmd) {
        char v[16];
        pid_t pid;
        snprintf(v, sizeof v, "%d", version);
        setenv("ZKR_CONFIG_PATH", path, 1);
        setenv("ZKR_CONFIG_FILE", out, 1);
        setenv("ZKR_CONFIG_VERSION", v, 1);
        pid = fork();
        if (pid == 0) {
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            execl("/bin/sh", "sh", "-c", exec_cmd, (char *)NULL);
            _exit(127);
        }
        if (pid > 0) {
            int st;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            if (!quiet && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
                fprintf(stderr, "zkr-config: reload command failed\n");
        }
    }
    if (sigspec) {
        const char *colon = strrchr(sigspec, ':');
        char *pidfile = strndup(sigspec, (size_t)(colon - sigspec));
        FILE *f = pidfile ? fopen(pidfile, "r") : NULL;
        long pid = 0;
        if (!f || fscanf(f, "%ld", &pid) != 1 || pid <= 0 ||
            kill((pid_t)pid, signal_number(colon + 1)) != 0)
            fprintf(stderr, "zkr-config: cannot signal the pid in %s\n",
                    pidfile ? pidfile : sigspec);
        if (f)
            fclose(f);
        free(pidfile);
    }
}

static int do_watch(zkr_client_t *c, const char *path, const char *out,
                    const char *exec_cmd, const char *sigspec, int once)
{
    zkr_config_opts_t o;
    zkr_config_t *cfg;
    int64_t written = -1;
    int said_absent = 0, rc, code = 0;
    zkr_config_opts_init(&o);
    o.on_change = on_change;
    rc = zkr_config_new(c, path, &o, &cfg);
    if (rc != ZKR_OK) {
        fprintf(stderr, "zkr-config: %s: %s\n", path, zkr_strerror(rc));
        return EXIT_ERROR;
    }
    rc = ZKR_ETIMEDOUT;
    while (rc == ZKR_ETIMEDOUT && !atomic_load(&stop_sig))
        rc = zkr_config_wait_synced(cfg, 200);
    while (!atomic_load(&stop_sig)) {
        char *data = NULL;
        size_t len = 0;
        zkr_stat_t st;
        pthread_mutex_lock(&mu);
        changed = 0;
        pthread_mutex_unlock(&mu);
        rc = zkr_config_get(cfg, &data, &len, &st);
        if (rc == ZKR_OK && st.mzxid != written) {
            if (write_atomically(out, data, len) != 0) {
                fprintf(stderr, "zkr-config: cannot write %s: %s\n", out,
                        strerror(errno));
                code = EXIT_ERROR;
                zkr_free(data);
                break;
            }
            written = st.mzxid;
            said_absent = 0;
            if (!quiet)
                fprintf(stderr, "zkr-config: wrote version %d of %s to %s\n",
                        st.version, path, out);
            run_hooks(path, out, st.version, exec_cmd, sigspec);
        } else if (rc == ZKR_ENONODE && !said_absent) {
            if (!quiet)
                fprintf(stderr, "zkr-config: %s does not exist; %s left "
                        "alone\n", path, out);
            said_absent = 1;
        }
        zkr_free(data);
        if (once) {
            code = rc == ZKR_OK ? 0 : EXIT_ERROR;
            break;
        }
        pthread_mutex_lock(&mu);
        if (!changed && !atomic_load(&stop_sig)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&cv, &mu, &ts);
        }
        pthread_mutex_unlock(&mu);
    }
    zkr_config_free(cfg);
    return code;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"hosts", required_argument, NULL, 's'},
        {"force", no_argument, NULL, 'f'},
        {"expect-version", required_argument, NULL, 'e'},
        {"out", required_argument, NULL, 'o'},
        {"exec", required_argument, NULL, 'x'},
        {"signal", required_argument, NULL, 'k'},
        {"once", no_argument, NULL, '1'},
        {"version", no_argument, NULL, 'V'},
        {"session-timeout", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *hosts = getenv("ZKR_HOSTS"), *cmd, *path, *out = NULL;
    const char *exec_cmd = NULL, *sigspec = NULL;
    int force = 0, once = 0, show_version = 0, session_ms = 10000, opt, rc;
    long expect = -1;
    zkr_client_t *c = NULL;
    struct sigaction sa;

    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "--help") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    cmd = argv[1];
    if (strcmp(cmd, "push") != 0 && strcmp(cmd, "watch") != 0 &&
        strcmp(cmd, "get") != 0) {
        fprintf(stderr, "zkr-config: unknown command '%s'\n%s", cmd,
                usage_text);
        return EXIT_USAGE;
    }
    argv++;
    argc--;
    while ((opt = getopt_long(argc, argv, "s:fe:o:x:k:1Vt:qh", longopts,
                              NULL)) != -1) {
        char *end;
        switch (opt) {
        case 's':
            hosts = optarg;
            break;
        case 'f':
            force = 1;
            break;
        case 'e':
            errno = 0;
            expect = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || expect < 0 ||
                expect > 2147483647L) {
                fprintf(stderr, "zkr-config: bad --expect-version '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o':
            out = optarg;
            break;
        case 'x':
            exec_cmd = optarg;
            break;
        case 'k':
            sigspec = optarg;
            if (!strchr(optarg, ':') || strrchr(optarg, ':') == optarg ||
                signal_number(strrchr(optarg, ':') + 1) < 0) {
                fprintf(stderr, "zkr-config: bad --signal '%s' (want "
                        "PIDFILE:SIG)\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case '1':
            once = 1;
            break;
        case 'V':
            show_version = 1;
            break;
        case 't':
            session_ms = atoi(optarg);
            if (session_ms <= 0) {
                fprintf(stderr, "zkr-config: bad --session-timeout '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "zkr-config: missing PATH\n");
        return EXIT_USAGE;
    }
    path = argv[optind++];
    if (zkr_path_validate(path) != ZKR_OK) {
        fprintf(stderr, "zkr-config: '%s' is not a valid znode path\n", path);
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "push") == 0) {
        if (optind != argc - 1) {
            fprintf(stderr, "zkr-config: push needs PATH and FILE\n");
            return EXIT_USAGE;
        }
        if (force && expect >= 0) {
            fprintf(stderr, "zkr-config: --force and --expect-version "
                    "exclude each other\n");
            return EXIT_USAGE;
        }
        if (out || exec_cmd || sigspec || once || show_version) {
            fprintf(stderr, "zkr-config: option not valid for push\n");
            return EXIT_USAGE;
        }
    } else if (strcmp(cmd, "watch") == 0) {
        if (optind != argc || !out) {
            fprintf(stderr, "zkr-config: watch needs PATH and --out FILE\n");
            return EXIT_USAGE;
        }
        if (force || expect >= 0 || show_version) {
            fprintf(stderr, "zkr-config: option not valid for watch\n");
            return EXIT_USAGE;
        }
    } else if (optind != argc || force || expect >= 0 || out || exec_cmd ||
               sigspec || once) {
        fprintf(stderr, "zkr-config: get takes PATH and -V only\n");
        return EXIT_USAGE;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if ((rc = connect_to(hosts, session_ms, &c)) != 0)
        return rc;
    if (strcmp(cmd, "push") == 0) {
        rc = do_push(c, path, argv[optind], force, expect);
    } else if (strcmp(cmd, "watch") == 0) {
        rc = do_watch(c, path, out, exec_cmd, sigspec, once);
    } else {
        char *data = NULL;
        size_t len = 0;
        zkr_stat_t st;
        rc = zkr_get(c, path, &data, &len, &st);
        if (rc == ZKR_OK) {
            fwrite(data, 1, len, stdout);
            if (show_version)
                fprintf(stderr, "version %d\n", st.version);
            rc = 0;
        } else {
            fprintf(stderr, "zkr-config: %s: %s\n", path, zkr_strerror(rc));
            rc = EXIT_ERROR;
        }
        zkr_free(data);
    }
    zkr_client_free(c);
    return rc;
}
