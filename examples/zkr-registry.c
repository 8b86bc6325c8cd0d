/* SPDX-License-Identifier: Apache-2.0 */
/* zkr-registry: register a service instance, list or watch the instances
 * of a service, in Dubbo's or Curator's registry layout. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include <zkr/registry.h>

#define EXIT_NONE 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3

static const char usage_text[] =
    "usage: zkr-registry [-s HOSTS] [options] register URL "
    "[--layout dubbo|curator]\n"
    "       zkr-registry [-s HOSTS] [options] list SERVICE\n"
    "       zkr-registry [-s HOSTS] [options] watch SERVICE\n"
    "Options may come before or after the command and its argument.\n"
    "\n"
    "register  Register URL as a service instance and keep it registered\n"
    "          until killed (SIGINT, SIGTERM, SIGHUP unregister it). After a\n"
    "          new session (the old one expired) it registers again. Prints\n"
    "          \"registered PATH\" once the node exists.\n"
    "list      Print the instances of SERVICE, one a line.\n"
    "watch     Print the instances of SERVICE as \"+ INSTANCE\", then every\n"
    "          change as \"+ INSTANCE\" or \"- INSTANCE\", until killed.\n"
    "\n"
    "  -s, --hosts HOSTS       connect string (default $ZKR_HOSTS, then\n"
    "                          127.0.0.1:2181)\n"
    "  -l, --layout LAYOUT     dubbo (default) or curator\n"
    "  -r, --root PATH         Dubbo registry root (default /dubbo), or\n"
    "                          Curator base path (default /services)\n"
    "  -c, --category NAME     Dubbo: providers (default), consumers,\n"
    "                          routers, configurators\n"
    "  -t, --session-timeout MS  session timeout, also how long to try to\n"
    "                          connect (default 10000)\n"
    "  -v, --verbose           report session changes on stderr\n"
    "  -h, --help              show this help\n"
    "\n"
    "Dubbo layout: URL is a Dubbo URL such as\n"
    "  dubbo://10.0.0.5:20880/org.example.Greeter?application=app&"
    "methods=hi\n"
    "(parameters are kept and sorted; \"interface\", \"side\", \"dynamic\",\n"
    "\"pid\" and \"timestamp\" are added when missing, and consumer:// URLs\n"
    "get category=consumers); the node is the encoded URL under\n"
    "ROOT/<interface>/<category>. SERVICE is the interface name; instances\n"
    "print as their URLs.\n"
    "\n"
    "Curator layout (Apache Curator's ServiceDiscovery): URL is\n"
    "  SCHEME://ADDRESS:PORT/NAME[?id=ID&payload=JSON&uriSpec=TEMPLATE&"
    "sslPort=N]\n"
    "(payload and uriSpec are percent-decoded when they hold a '%')\n"
    "and the instance is ROOT/NAME/ID holding ServiceInstance JSON (ID is a\n"
    "random UUID unless given). SERVICE is the service name; instances\n"
    "print as \"ID ADDRESS:PORT\".\n"
    "\n"
    "Exit status: 0 success (list: at least one instance); 1 list found no\n"
    "instance, or the registration was refused; 2 usage error; 3 cannot\n"
    "connect.\n";

static int verbose;

static void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zkr-registry: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'zkr-registry --help'.\n");
    va_end(ap);
}

static void uuid4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(b, 1, sizeof b, f) != sizeof b) {
        srand((unsigned)time(NULL) ^ (unsigned)getpid());
        for (int i = 0; i < 16; i++)
            b[i] = (unsigned char)rand();
    }
    if (f)
        fclose(f);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (int i = 0, o = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[36] = '\0';
}

/* ---- register ------------------------------------------------------------ */

static void on_reg_state(zkr_registration_t *r, int status, void *ctx)
{
    (void)r;
    (void)ctx;
    if (!verbose)
        return;
    if (status == ZKR_OK)
        fprintf(stderr, "zkr-registry: registered\n");
    else if (status == ZKR_ESESSIONEXPIRED)
        fprintf(stderr, "zkr-registry: session lost; registering again on "
                        "the next session\n");
    else
        fprintf(stderr, "zkr-registry: %s\n", zkr_strerror(status));
}

static int fill_dubbo(zkr_dubbo_url_t *u)
{
    char pid[24], ts[24];
    int consumer = !strcmp(zkr_dubbo_url_protocol(u), "consumer");
    const char *iface = zkr_dubbo_url_get(u, "interface");
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        snprintf(ts, sizeof ts, "%lld",
                 (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    }
    if (!iface && zkr_dubbo_url_path(u) &&
        zkr_dubbo_url_set(u, "interface", zkr_dubbo_url_path(u)) != ZKR_OK)
        return 0;
    if (!zkr_dubbo_url_get(u, "interface"))
        return 0;
    if (consumer && !zkr_dubbo_url_get(u, "category"))
        zkr_dubbo_url_set(u, "category", "consumers");
    if (!zkr_dubbo_url_get(u, "side"))
        zkr_dubbo_url_set(u, "side", consumer ? "consumer" : "provider");
    if (!consumer && !zkr_dubbo_url_get(u, "dynamic"))
        zkr_dubbo_url_set(u, "dynamic", "true");
    if (!zkr_dubbo_url_get(u, "pid"))
        zkr_dubbo_url_set(u, "pid", pid);
    if (!zkr_dubbo_url_get(u, "timestamp"))
        zkr_dubbo_url_set(u, "timestamp", ts);
    return 1;
}

/* Values holding '%' are percent-decoded (so JSON can carry '&'). */
static const char *decoded(const char *v, char **buf)
{
    if (v && strchr(v, '%') && zkr_dubbo_decode(v, buf, NULL) == ZKR_OK)
        return *buf;
    return v;
}

static int do_register(zkr_client_t *c, int curator, const char *root,
                       const char *text, const sigset_t *sigs)
{
    zkr_registration_opts_t o;
    zkr_registration_t *r = NULL;
    zkr_dubbo_url_t *u = NULL;
    char path[4096];
    int rc, sig;

    if (zkr_dubbo_url_parse(text, &u) != ZKR_OK) {
        usage_error("malformed URL '%s'", text);
        return EXIT_USAGE;
    }
    zkr_registration_opts_init(&o);
    o.on_state = on_reg_state;
    if (curator) {
        zkr_service_instance_t s;
        char id[37], *payload = NULL, *spec = NULL;
        const char *ssl = zkr_dubbo_url_get(u, "sslPort");
        zkr_service_instance_init(&s);
        s.name = zkr_dubbo_url_path(u);
        s.id = zkr_dubbo_url_get(u, "id");
        if (!s.id) {
            uuid4(id);
            s.id = id;
        }
        s.address = zkr_dubbo_url_host(u);
        s.port = zkr_dubbo_url_port(u);
        s.ssl_port = ssl ? atoi(ssl) : -1;
        s.payload = decoded(zkr_dubbo_url_get(u, "payload"), &payload);
        s.uri_spec = decoded(zkr_dubbo_url_get(u, "uriSpec"), &spec);
        if (!s.name) {
            usage_error("the URL needs a path: the service name (%s)", text);
            zkr_dubbo_url_free(u);
            return EXIT_USAGE;
        }
        rc = zkr_registration_new_curator(c, root, &s, &o, &r);
        zkr_free(payload);
        zkr_free(spec);
    } else {
        if (!fill_dubbo(u)) {
            usage_error("the URL names no interface (%s)", text);
            zkr_dubbo_url_free(u);
            return EXIT_USAGE;
        }
        rc = zkr_registration_new_dubbo(c, root, u, &o, &r);
    }
    zkr_dubbo_url_free(u);
    if (rc == ZKR_EINVAL || rc == ZKR_EBADPATH) {
        fprintf(stderr, "zkr-registry: cannot register '%s': %s\n", text,
                zkr_strerror(rc));
        return EXIT_USAGE;
    }
    if (rc == ZKR_OK)
        rc = zkr_registration_wait(r, 30000);
    if (rc != ZKR_OK) {
        fprintf(stderr, "zkr-registry: registration failed: %s\n",
                zkr_strerror(rc));
        zkr_registration_free(r);
        return EXIT_NONE;
    }
    zkr_registration_path(r, path, sizeof path);
    printf("registered %s\n", path);
    fflush(stdout);
    while (sigwait(sigs, &sig) != 0)
        ;
    zkr_registration_free(r); /* unregisters */
    zkr_client_flush(c, 2000);
    return 0;
}

/* ---- list and watch ------------------------------------------------------ */

/* One printable line per instance; NULL for none. Caller frees. */
static char *describe(const zkr_instance_t *i, int curator)
{
    char *s = NULL;
    if (curator) {
        const zkr_service_instance_t *p = zkr_instance_service(i);
        size_t n;
        if (!p)
            return NULL;
        n = strlen(p->id) + (p->address ? strlen(p->address) : 4) + 16;
        if ((s = malloc(n)))
            snprintf(s, n, "%s %s:%d", p->id,
                     p->address ? p->address : "null", p->port);
        return s;
    }
    if (zkr_dubbo_url_to_string(zkr_instance_dubbo_url(i), &s) != ZKR_OK)
        return NULL;
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The instance lines now, sorted. */
static char **snapshot(zkr_discovery_t *d, int curator, int *count)
{
    zkr_instance_t **v;
    char **lines;
    int n, k = 0;
    *count = 0;
    if (zkr_discovery_list(d, &v, &n) != ZKR_OK)
        return NULL;
    lines = calloc((size_t)n + 1, sizeof *lines);
    for (int i = 0; lines && i < n; i++) {
        char *s = describe(v[i], curator);
        if (s)
            lines[k++] = s;
    }
    zkr_instances_free(v, n);
    if (lines)
        qsort(lines, (size_t)k, sizeof *lines, cmp_str);
    *count = k;
    return lines;
}

static void free_lines(char **l, int n)
{
    for (int i = 0; l && i < n; i++)
        free(l[i]);
    free(l);
}

static int do_list(zkr_discovery_t *d, int curator)
{
    int n, rc = zkr_discovery_refresh(d, 30000);
    char **lines;
    if (rc != ZKR_OK) {
        fprintf(stderr, "zkr-registry: cannot list: %s\n", zkr_strerror(rc));
        return EXIT_CONNECT;
    }
    lines = snapshot(d, curator, &n);
    for (int i = 0; i < n; i++)
        printf("%s\n", lines[i]);
    free_lines(lines, n);
    return n > 0 ? 0 : EXIT_NONE;
}

static int do_watch(zkr_discovery_t *d, int curator, const sigset_t *sigs)
{
    char **old = NULL;
    int nold = 0, rc = zkr_discovery_refresh(d, 30000);
    uint64_t seen = (uint64_t)-1;
    struct timespec tick = {0, 50 * 1000000L};
    if (rc != ZKR_OK) {
        fprintf(stderr, "zkr-registry: cannot list: %s\n", zkr_strerror(rc));
        return EXIT_CONNECT;
    }
    for (;;) {
        uint64_t ver = zkr_discovery_version(d);
        if (ver != seen) {
            int n, i = 0, j = 0;
            char **cur = snapshot(d, curator, &n);
            seen = ver;
            /* both sorted: a merge gives the difference */
            while (i < nold || j < n) {
                int c = i == nold ? 1 : j == n ? -1 : strcmp(old[i], cur[j]);
                if (c < 0)
                    printf("- %s\n", old[i++]);
                else if (c > 0)
                    printf("+ %s\n", cur[j++]);
                else
                    i++, j++;
            }
            fflush(stdout);
            free_lines(old, nold);
            old = cur;
            nold = n;
        }
        if (sigtimedwait(sigs, NULL, &tick) > 0)
            break;
    }
    free_lines(old, nold);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"hosts", required_argument, NULL, 's'},
        {"layout", required_argument, NULL, 'l'},
        {"root", required_argument, NULL, 'r'},
        {"category", required_argument, NULL, 'c'},
        {"session-timeout", required_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *hosts = getenv("ZKR_HOSTS"), *root = NULL,
               *category = "providers", *cmd, *arg;
    int curator = 0, session_ms = 10000, opt, rc;
    zkr_client_t *c;
    sigset_t sigs;

    while ((opt = getopt_long(argc, argv, "s:l:r:c:t:vh", longopts, NULL)) !=
           -1) {
        switch (opt) {
        case 's':
            hosts = optarg;
            break;
        case 'l':
            if (!strcmp(optarg, "curator"))
                curator = 1;
            else if (!strcmp(optarg, "dubbo"))
                curator = 0;
            else {
                usage_error("unknown layout '%s' (dubbo or curator)", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'r':
            root = optarg;
            break;
        case 'c':
            category = optarg;
            break;
        case 't': {
            char *end;
            long v;
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v <= 0 || v > 3600000) {
                usage_error("bad --session-timeout '%s'", optarg);
                return EXIT_USAGE;
            }
            session_ms = (int)v;
            break;
        }
        case 'v':
            verbose = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fprintf(stderr, "Try 'zkr-registry --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        usage_error("%s", argc - optind < 2 ? "missing arguments"
                                            : "too many arguments");
        return EXIT_USAGE;
    }
    cmd = argv[optind];
    arg = argv[optind + 1];
    if (strcmp(cmd, "register") && strcmp(cmd, "list") &&
        strcmp(cmd, "watch")) {
        usage_error("unknown command '%s'", cmd);
        return EXIT_USAGE;
    }
    if (root && zkr_path_validate(root) != ZKR_OK) {
        usage_error("bad --root '%s'", root);
        return EXIT_USAGE;
    }
    if (!*arg || (strcmp(cmd, "register") && strchr(arg, '/'))) {
        usage_error("bad SERVICE '%s'", arg);
        return EXIT_USAGE;
    }

    /* register and watch end on these: every thread (the ZooKeeper ones
     * too) leaves them to sigwait; list keeps the default actions */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    if (strcmp(cmd, "list"))
        pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    /* give up as fast as a session would */
    if ((rc = zkr_cli_connect("zkr-registry", hosts, session_ms, session_ms,
                              &c)) != 0)
        return rc;
    if (!strcmp(cmd, "register")) {
        rc = do_register(c, curator, root, arg, &sigs);
    } else {
        zkr_discovery_opts_t o;
        zkr_discovery_t *d = NULL;
        char *dir = NULL;
        zkr_discovery_opts_init(&o);
        o.layout = curator ? ZKR_LAYOUT_CURATOR : ZKR_LAYOUT_DUBBO;
        rc = curator ? zkr_path_join(root ? root : ZKR_DISCOVERY_BASE, arg,
                                     &dir)
                     : zkr_dubbo_dir(root, arg, category, &dir);
        if (rc == ZKR_OK)
            rc = zkr_discovery_new(c, dir, &o, &d);
        if (rc != ZKR_OK) {
            usage_error("bad SERVICE or --category (%s)", zkr_strerror(rc));
            rc = EXIT_USAGE;
        } else if (!strcmp(cmd, "list")) {
            rc = do_list(d, curator);
        } else {
            rc = do_watch(d, curator, &sigs);
        }
        zkr_discovery_free(d);
        zkr_free(dir);
    }
    zkr_client_free(c);
    return rc;
}
