/* SPDX-License-Identifier: Apache-2.0 */
/* dubbo-consumer: registers itself as a Dubbo consumer, discovers the
 * providers of the demo interface through a watch-maintained cache, and
 * calls them from several threads with least-active balancing. A call
 * that fails (its provider died and its node is still there until the
 * session times out) moves on to another provider, and the failed one is
 * left alone for two seconds.
 *
 *   dubbo-consumer [-s HOSTS] [-n CALLS] [-c THREADS] [-i INTERVAL_MS]
 *
 * Prints one line per call and a summary per provider. Exit 0 when every
 * call got a reply; 1 otherwise; 2 usage; 3 cannot connect. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <zkr/registry.h>

#define INTERFACE "org.zkr.demo.EchoService"
#define MAX_TRIES 40
#define QUARANTINE_MS 2000
#define MAX_QUARANTINE 64

static zkr_discovery_t *disc;
static atomic_int next_call, failed;
static int calls = 20, interval_ms = 100;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

/* Instances that failed a call lately, by node name. */
static struct {
    char *name;
    long long until;
} quarantine[MAX_QUARANTINE];
static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int quarantined(const char *name)
{
    int hit = 0;
    pthread_mutex_lock(&q_mu);
    for (int i = 0; i < MAX_QUARANTINE; i++)
        if (quarantine[i].name && !strcmp(quarantine[i].name, name) &&
            quarantine[i].until > now_ms())
            hit = 1;
    pthread_mutex_unlock(&q_mu);
    return hit;
}

static void put_in_quarantine(const char *name)
{
    int slot = 0;
    pthread_mutex_lock(&q_mu);
    for (int i = 0; i < MAX_QUARANTINE; i++) {
        if (quarantine[i].name && !strcmp(quarantine[i].name, name)) {
            slot = i;
            break;
        }
        if (quarantine[i].until < quarantine[slot].until)
            slot = i;
    }
    if (!quarantine[slot].name || strcmp(quarantine[slot].name, name)) {
        free(quarantine[slot].name);
        quarantine[slot].name = strdup(name);
    }
    quarantine[slot].until = now_ms() + QUARANTINE_MS;
    pthread_mutex_unlock(&q_mu);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One request over a fresh connection; 0 and the reply line on success. */
static int call(const char *host, int port, const char *text, char *reply,
                size_t len)
{
    struct sockaddr_in a;
    struct timeval tv = {2, 0};
    char req[256];
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), n;
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    n = snprintf(req, sizeof req, "echo %s\n", text);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    while (got < len - 1) {
        ssize_t r = read(fd, reply + got, len - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (memchr(reply, '\n', got))
            break;
    }
    close(fd);
    reply[got] = '\0';
    if (!strchr(reply, '\n'))
        return -1;
    *strchr(reply, '\n') = '\0';
    return 0;
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        int k = atomic_fetch_add(&next_call, 1), done = 0;
        char text[32], reply[512];
        if (k >= calls)
            break;
        snprintf(text, sizeof text, "call-%d", k);
        for (int t = 0; t < MAX_TRIES && !done; t++) {
            zkr_instance_t *in;
            char port[8];
            int rc = zkr_discovery_pick(disc, ZKR_LB_LEAST_ACTIVE, NULL, 0,
                                        &in);
            if (rc != ZKR_OK) {
                sleep_ms(100); /* no provider now: wait for one */
                continue;
            }
            snprintf(port, sizeof port, "%d", zkr_instance_port(in));
            if (quarantined(zkr_instance_name(in))) {
                zkr_instance_release(in);
                sleep_ms(5); /* pick again: it is random among the idle */
                continue;
            }
            zkr_instance_begin(in);
            rc = call(zkr_instance_host(in), zkr_instance_port(in), text,
                      reply, sizeof reply);
            zkr_instance_end(in);
            pthread_mutex_lock(&out_mu);
            if (rc == 0)
                printf("%s -> 127.0.0.1:%s replied \"%s\"\n", text, port,
                       reply);
            else
                printf("%s -> 127.0.0.1:%s failed; trying another "
                       "provider\n",
                       text, port);
            fflush(stdout);
            pthread_mutex_unlock(&out_mu);
            if (rc == 0)
                done = 1;
            else
                put_in_quarantine(zkr_instance_name(in));
            zkr_instance_release(in);
        }
        if (!done)
            atomic_fetch_add(&failed, 1);
        sleep_ms(interval_ms);
    }
    return NULL;
}

static void on_change(zkr_discovery_t *d, int status, void *ctx)
{
    (void)ctx;
    /* runs on the completion thread: only a short note */
    pthread_mutex_lock(&out_mu);
    if (status == ZKR_OK)
        printf("consumer: %d provider(s) now\n", zkr_discovery_count(d));
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

int main(int argc, char **argv)
{
    const char *hosts = getenv("ZKR_HOSTS");
    int threads = 4, opt, rc;
    zkr_client_opts_t co;
    zkr_client_t *c;
    zkr_dubbo_url_t *u = NULL;
    zkr_registration_t *r = NULL;
    zkr_discovery_opts_t o;
    char *dir = NULL;
    pthread_t th[32];

    while ((opt = getopt(argc, argv, "s:n:c:i:h")) != -1) {
        switch (opt) {
        case 's':
            hosts = optarg;
            break;
        case 'n':
            calls = atoi(optarg);
            break;
        case 'c':
            threads = atoi(optarg);
            break;
        case 'i':
            interval_ms = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: dubbo-consumer [-s HOSTS] [-n CALLS] "
                            "[-c THREADS] [-i INTERVAL_MS]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (calls < 0 || threads < 1 || threads > 32 || interval_ms < 0 ||
        optind != argc) {
        fprintf(stderr, "dubbo-consumer: bad arguments\n");
        return 2;
    }
    zkr_client_opts_init(&co);
    if (hosts)
        co.hosts = hosts;
    if ((rc = zkr_client_new(&co, &c)) != ZKR_OK) {
        fprintf(stderr, "dubbo-consumer: connect: %s\n", zkr_strerror(rc));
        return 3;
    }
    /* as a Dubbo consumer does: register under consumers/, watch
     * providers/ */
    rc = zkr_dubbo_url_consumer("127.0.0.1", INTERFACE, &u);
    if (rc == ZKR_OK)
        rc = zkr_dubbo_url_set(u, "application", "demo-consumer");
    if (rc == ZKR_OK)
        rc = zkr_dubbo_url_set(u, "methods", "echo");
    if (rc == ZKR_OK)
        rc = zkr_registration_new_dubbo(c, NULL, u, NULL, &r);
    zkr_dubbo_url_free(u);
    zkr_discovery_opts_init(&o);
    o.layout = ZKR_LAYOUT_DUBBO;
    o.on_change = on_change;
    if (rc == ZKR_OK)
        rc = zkr_dubbo_dir(NULL, INTERFACE, "providers", &dir);
    if (rc == ZKR_OK)
        rc = zkr_discovery_new(c, dir, &o, &disc);
    if (rc == ZKR_OK)
        rc = zkr_discovery_refresh(disc, 10000);
    if (rc != ZKR_OK) {
        fprintf(stderr, "dubbo-consumer: %s\n", zkr_strerror(rc));
        return 1;
    }
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    printf("consumer: %d call(s), %d failed\n", calls, atomic_load(&failed));
    zkr_discovery_free(disc);
    zkr_registration_free(r);
    zkr_free(dir);
    zkr_client_flush(c, 2000);
    zkr_client_free(c);
    for (int i = 0; i < MAX_QUARANTINE; i++)
        free(quarantine[i].name);
    return atomic_load(&failed) ? 1 : 0;
}
