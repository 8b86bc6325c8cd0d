/* SPDX-License-Identifier: Apache-2.0 */
/* Service registry on one server: Dubbo providers and consumers at their
 * exact paths, ephemeral; an instance of a killed process vanishes; a
 * registration comes back after its session expired, replaces a leftover
 * node and survives deletion; Curator instances with their JSON; the
 * discovery cache converges after 50 register/unregister events; the
 * distribution of every balancing policy; exactly-once callbacks, EDEADLK
 * and bad input. */
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zktest.h"
#include <zkr/registry.h>

#define IFACE "org.apache.dubbo.demo.DemoService"

extern char **environ;

/* ---- recorders ----------------------------------------------------------- */

struct rec {
    pthread_mutex_t mu;
    int n;
    int status[64];
    atomic_int probe;
    zkr_registration_t *probe_r;
    zkr_discovery_t *probe_d;
};

static void rec_init(struct rec *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
}

static void rec_push(struct rec *r, int status)
{
    pthread_mutex_lock(&r->mu);
    if (r->n < 64)
        r->status[r->n] = status;
    r->n++;
    pthread_mutex_unlock(&r->mu);
}

static int rec_count(struct rec *r)
{
    int n;
    pthread_mutex_lock(&r->mu);
    n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Print the statuses recorded from index @p from on. */
static void rec_diag(struct rec *r, int from)
{
    pthread_mutex_lock(&r->mu);
    for (int k = from; k < r->n && k < 64; k++)
        diag("status[%d] = %s", k, zkr_strerror(r->status[k]));
    pthread_mutex_unlock(&r->mu);
}

/* Wait until status @p st appears at index >= from; its index or -1. */
static int rec_wait(struct rec *r, int st, int from)
{
    for (int i = 0; i < 600; i++) {
        pthread_mutex_lock(&r->mu);
        for (int k = from; k < r->n && k < 64; k++)
            if (r->status[k] == st) {
                pthread_mutex_unlock(&r->mu);
                return k;
            }
        pthread_mutex_unlock(&r->mu);
        zkt_sleep_ms(25);
    }
    return -1;
}

/* Wait until @p n callbacks ran; returns the count. */
static int rec_wait_n(struct rec *r, int n)
{
    for (int i = 0; i < 600 && rec_count(r) < n; i++)
        zkt_sleep_ms(25);
    return rec_count(r);
}

static void reg_cb(zkr_registration_t *reg, int status, void *ctx)
{
    struct rec *r = ctx;
    (void)reg;
    if (r->probe_r)
        atomic_store(&r->probe, zkr_registration_wait(r->probe_r, 10));
    rec_push(r, status);
}

static void disc_cb(zkr_discovery_t *d, int status, void *ctx)
{
    struct rec *r = ctx;
    (void)d;
    if (r->probe_d)
        atomic_store(&r->probe, zkr_discovery_refresh(r->probe_d, 10));
    rec_push(r, status);
}

/* Wait until the cache holds @p n instances; returns the count seen. */
static int wait_count(zkr_discovery_t *d, int n)
{
    for (int i = 0; i < 600 && zkr_discovery_count(d) != n; i++)
        zkt_sleep_ms(20);
    return zkr_discovery_count(d);
}

/* ---- helpers ------------------------------------------------------------- */

static int starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static zkr_dubbo_url_t *provider(int port, int weight)
{
    zkr_dubbo_url_t *u = NULL;
    char w[16];
    zkr_dubbo_url_provider("127.0.0.1", port, IFACE, &u);
    zkr_dubbo_url_set(u, "application", "demo-provider");
    zkr_dubbo_url_set(u, "methods", "sayHello,sayHelloAsync");
    snprintf(w, sizeof w, "%d", weight);
    zkr_dubbo_url_set(u, "weight", w);
    return u;
}

static zkr_registration_t *reg_provider(zkr_client_t *c, int port, int weight)
{
    zkr_dubbo_url_t *u = provider(port, weight);
    zkr_registration_t *r = NULL;
    if (zkr_registration_new_dubbo(c, NULL, u, NULL, &r) != ZKR_OK ||
        zkr_registration_wait(r, 10000) != ZKR_OK)
        bail_out("cannot register provider %d", port);
    zkr_dubbo_url_free(u);
    return r;
}

/* Spawn the peer (exec, never a bare fork of a threaded process). */
static pid_t spawn_peer(const char *hosts, const char *mode, const char *a,
                        const char *b, FILE **out)
{
    char peer[1024];
    const char *top = getenv("ZKR_TOP_BUILDDIR");
    char *argv[7];
    int fds[2];
    pid_t pid;
    posix_spawn_file_actions_t fa;
    snprintf(peer, sizeof peer, "%s/t/zkr-registry-peer", top ? top : ".");
    argv[0] = peer;
    argv[1] = (char *)hosts;
    argv[2] = (char *)zkt_ns();
    argv[3] = (char *)mode;
    argv[4] = (char *)a;
    argv[5] = (char *)b;
    argv[6] = NULL;
    if (pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    if (posix_spawn(&pid, peer, &fa, NULL, argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    *out = fdopen(fds[0], "r");
    return pid;
}

static int count_children(zkr_client_t *c, const char *path)
{
    char **names;
    int n;
    if (zkr_children(c, path, &names, &n) != ZKR_OK)
        return -1;
    zkr_strings_free(names, n);
    return n;
}

/* Pick @p n times; counts[i] is how often the instance on port base+i. */
static void tally(zkr_discovery_t *d, zkr_lb_policy_t p, int n, int base,
                  int *counts, int k)
{
    memset(counts, 0, sizeof *counts * (size_t)k);
    for (int i = 0; i < n; i++) {
        zkr_instance_t *in;
        if (zkr_discovery_pick(d, p, NULL, 0, &in) == ZKR_OK) {
            int at = zkr_instance_port(in) - base;
            if (at >= 0 && at < k)
                counts[at]++;
            zkr_instance_release(in);
        }
    }
}

/* ---- parts --------------------------------------------------------------- */

static void test_dubbo_layout(zkr_client_t *c, zkr_client_t *c2)
{
    zkr_dubbo_url_t *u = provider(20880, 100), *cu = NULL, *back = NULL;
    zkr_registration_t *r, *rc;
    zkr_stat_t st;
    char path[4096], *node = NULL, *expect = NULL, **names;
    int n;

    is(zkr_registration_new_dubbo(c, NULL, u, NULL, &r), ZKR_OK,
       "register a Dubbo provider");
    is(zkr_registration_wait(r, 10000), ZKR_OK, "registered");
    is(zkr_registration_is_registered(r), 1, "is_registered");
    is(zkr_registration_path(r, path, sizeof path), ZKR_OK, "its path");
    zkr_dubbo_url_node(u, &node);
    zkr_dubbo_url_registry_path(NULL, u, &expect);
    is_str(path, expect, "the path Dubbo computes");
    ok(starts(path, "/dubbo/" IFACE "/providers/dubbo%3A%2F%2F127.0.0.1%3A"
                    "20880%2F" IFACE "%3Fanyhost%3Dfalse%26application%3D"
                    "demo-provider%26dubbo%3D2.0.2%26dynamic%3Dtrue%26"
                    "generic%3Dfalse%26interface%3D" IFACE "%26methods%3D"
                    "sayHello%2CsayHelloAsync%26pid%3D"),
       "exact Dubbo path and encoding (%s)", path);
    is(zkr_children(c2, "/dubbo/" IFACE "/providers", &names, &n), ZKR_OK,
       "list providers from another session");
    is(n, 1, "one provider");
    is_str(n == 1 ? names[0] : "", node, "node name is the encoded URL");
    if (n == 1)
        is(zkr_dubbo_url_from_node(names[0], &back), ZKR_OK,
           "the name parses back");
    is_str(zkr_dubbo_url_get(back, "methods"), "sayHello,sayHelloAsync",
           "with its parameters");
    zkr_dubbo_url_free(back);
    zkr_strings_free(names, n);
    is(zkr_exists(c2, path, &st), ZKR_OK, "node exists");
    is(st.ephemeral_owner, zkr_client_session_id(c), "ephemeral, ours");
    is(st.data_length, 0, "no data");
    is(zkr_exists(c2, "/dubbo/" IFACE "/providers", &st), ZKR_OK,
       "providers directory");
    is(st.ephemeral_owner, 0, "persistent");

    is(zkr_dubbo_url_consumer("127.0.0.1", IFACE, &cu), ZKR_OK, "consumer URL");
    is(zkr_registration_new_dubbo(c, ZKR_DUBBO_ROOT, cu, NULL, &rc), ZKR_OK,
       "register a consumer");
    is(zkr_registration_wait(rc, 10000), ZKR_OK, "registered");
    is(zkr_children(c2, "/dubbo/" IFACE "/consumers", &names, &n), ZKR_OK,
       "list consumers");
    is(n, 1, "one consumer");
    ok(n == 1 && starts(names[0], "consumer%3A%2F%2F127.0.0.1%2F" IFACE
                                  "%3Fcategory%3Dconsumers%26check%3Dfalse"
                                  "%26"),
       "consumer://ip/iface?category=consumers&check=false&... (%s)",
       n == 1 ? names[0] : "");
    zkr_strings_free(names, n);
    zkr_registration_free(rc);
    zkr_registration_free(r);
    zkr_client_flush(c, 5000);
    is(count_children(c2, "/dubbo/" IFACE "/providers"), 0,
       "free unregisters the provider");
    is(count_children(c2, "/dubbo/" IFACE "/consumers"), 0,
       "and the consumer");
    zkr_dubbo_url_free(u);
    zkr_dubbo_url_free(cu);
    zkr_free(node);
    zkr_free(expect);
}

/* A registered instance in another process, killed: its node goes with
 * its session. Once as a plain node, once as a Dubbo provider. */
static void test_process_kill(const char *hosts, zkr_client_t *c, int dubbo)
{
    const char *what = dubbo ? "dubbo" : "node";
    zkr_discovery_opts_t o;
    zkr_discovery_t *d;
    FILE *out = NULL;
    char line[128] = "";
    pid_t pid;
    int st;
    zkr_discovery_opts_init(&o);
    o.layout = dubbo ? ZKR_LAYOUT_DUBBO : ZKR_LAYOUT_RAW;
    is(zkr_discovery_new(c, dubbo ? "/dubbo/org.zkr.Kill/providers" : "/kill",
                         &o, &d),
       ZKR_OK, "%s: watch the service", what);
    if (dubbo)
        pid = spawn_peer(hosts, "dubbo", ZKR_DUBBO_ROOT,
                         "dubbo://127.0.0.1:20999/org.zkr.Kill?"
                         "interface=org.zkr.Kill&side=provider&weight=7",
                         &out);
    else
        pid = spawn_peer(hosts, "node", "/kill/peer-1", NULL, &out);
    ok(pid > 0, "%s: peer process started", what);
    ok(out && fgets(line, sizeof line, out) &&
           !strncmp(line, "registered", 10),
       "%s: peer registered (%s)", what, line);
    is(wait_count(d, 1), 1, "%s: the cache sees the peer's instance", what);
    if (dubbo) {
        zkr_instance_t *in = NULL;
        is(zkr_discovery_pick(d, ZKR_LB_LEAST_ACTIVE, NULL, 0, &in), ZKR_OK,
           "dubbo: pick the peer's provider");
        ok(in && zkr_instance_port(in) == 20999 &&
               zkr_instance_weight(in) == 7,
           "dubbo: with its port and weight");
        zkr_instance_release(in);
    }
    st = 0;
    if (pid > 0) { /* never kill(-1, ...) */
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    ok(pid > 0 && WIFSIGNALED(st), "%s: peer killed", what);
    is(wait_count(d, 0), 0, "%s: its instance vanishes when its session ends",
       what);
    if (out)
        fclose(out);
    zkr_discovery_free(d);
}

static void test_session(zkr_client_t *c, zkr_client_t *c2)
{
    zkr_registration_opts_t ro;
    zkr_registration_t *r;
    zkr_stat_t st;
    struct rec rr;
    int64_t old;
    int at;

    /* a leftover node of another session is replaced */
    is(zkr_create(c2, "/sess/svc/inst", "old", 3, ZKR_EPHEMERAL, NULL),
       ZKR_ENONODE, "(no parent yet)");
    zkr_ensure_path(c2, "/sess/svc");
    is(zkr_create(c2, "/sess/svc/inst", "old", 3, ZKR_EPHEMERAL, NULL), ZKR_OK,
       "another session holds the node");
    rec_init(&rr);
    zkr_registration_opts_init(&ro);
    ro.on_state = reg_cb;
    ro.ctx = &rr;
    is(zkr_registration_new(c, "/sess/svc/inst", "new", 3, &ro, &r), ZKR_OK,
       "register on the same path");
    is(zkr_registration_wait(r, 10000), ZKR_OK, "registered");
    is(zkr_exists(c2, "/sess/svc/inst", &st), ZKR_OK, "node");
    is(st.ephemeral_owner, zkr_client_session_id(c),
       "deleted and re-created: now ours");
    is(rec_wait(&rr, ZKR_OK, 0), 0, "state callback: registered");

    /* deleted behind our back: re-created */
    is(zkr_delete(c2, "/sess/svc/inst", -1), ZKR_OK, "somebody deletes it");
    at = rec_wait(&rr, ZKR_ENONODE, 1);
    ok(at > 0, "state callback: ENONODE");
    ok(rec_wait(&rr, ZKR_OK, at + 1) > at, "then registered again");
    is(zkr_exists(c2, "/sess/svc/inst", &st), ZKR_OK, "node is back");
    is(zkr_registration_count(r), 2, "created twice");

    /* session expiry */
    old = zkr_client_session_id(c);
    at = rec_count(&rr);
    is(zkr_client_expire_session(c), ZKR_OK, "expire the session");
    if (!ok(rec_wait(&rr, ZKR_ESESSIONEXPIRED, at) >= at,
            "state callback: ESESSIONEXPIRED"))
        rec_diag(&rr, at);
    ok(rec_wait(&rr, ZKR_OK, at + 1) > at, "then registered again");
    is(zkr_registration_wait(r, 10000), ZKR_OK, "wait: registered");
    is(zkr_exists(c2, "/sess/svc/inst", &st), ZKR_OK,
       "the instance returns after session expiry");
    ok(st.ephemeral_owner == zkr_client_session_id(c) &&
           st.ephemeral_owner != old,
       "owned by the new session");
    {
        char *v = NULL;
        size_t len;
        zkr_get(c2, "/sess/svc/inst", &v, &len, NULL);
        is_str(v, "new", "with our data");
        zkr_free(v);
    }
    is(zkr_registration_set_data(r, "newer", 5), ZKR_OK, "set_data");
    zkr_client_flush(c, 5000);
    {
        char *v = NULL;
        size_t len;
        zkr_get(c2, "/sess/svc/inst", &v, &len, NULL);
        is_str(v, "newer", "data updated in place");
        zkr_free(v);
    }
    at = rec_count(&rr);
    zkr_registration_free(r);
    zkr_create(c2, "/sess/svc/inst", NULL, 0, ZKR_PERSISTENT, NULL);
    zkr_delete(c2, "/sess/svc/inst", -1);
    zkt_sleep_ms(200);
    is(rec_count(&rr), at, "no state callback after free");

    /* persistent registrations: kept on free when asked */
    zkr_registration_opts_init(&ro);
    ro.persistent = 1;
    ro.keep_on_free = 1;
    is(zkr_registration_new(c, "/sess/perm", "p", 1, &ro, &r), ZKR_OK,
       "persistent registration");
    is(zkr_registration_wait(r, 10000), ZKR_OK, "registered");
    zkr_registration_free(r);
    zkr_client_flush(c, 5000);
    is(zkr_exists(c2, "/sess/perm", &st), ZKR_OK, "kept after free");
    is(st.ephemeral_owner, 0, "persistent");
}

static void test_curator_layout(zkr_client_t *c, zkr_client_t *c2)
{
    zkr_service_instance_t s;
    zkr_registration_t *r;
    zkr_discovery_t *d;
    zkr_instance_t **v;
    zkr_stat_t st;
    char *data = NULL;
    size_t len;
    int n;

    zkr_service_instance_init(&s);
    s.name = "orders";
    s.id = "c-instance-1";
    s.address = "127.0.0.1";
    s.port = 8080;
    s.registration_time_utc = 1700000000000LL;
    s.payload = "{\"zone\":\"a\"}";
    is(zkr_registration_new_curator(c, NULL, &s, NULL, &r), ZKR_OK,
       "register a Curator instance");
    is(zkr_registration_wait(r, 10000), ZKR_OK, "registered");
    is(zkr_get(c2, "/services/orders/c-instance-1", &data, &len, &st), ZKR_OK,
       "at <base>/<name>/<id>");
    is_str(data,
           "{\"name\":\"orders\",\"id\":\"c-instance-1\",\"address\":"
           "\"127.0.0.1\",\"port\":8080,\"sslPort\":null,\"payload\":"
           "{\"zone\":\"a\"},\"registrationTimeUTC\":1700000000000,"
           "\"serviceType\":\"DYNAMIC\",\"uriSpec\":null}",
           "holding Curator's JSON");
    zkr_free(data);
    is(st.ephemeral_owner, zkr_client_session_id(c), "DYNAMIC: ephemeral");
    is(zkr_discovery_new(c2, "/services/orders", NULL, &d), ZKR_OK,
       "discover orders");
    is(zkr_discovery_refresh(d, 10000), ZKR_OK, "refresh");
    is(zkr_discovery_list(d, &v, &n), ZKR_OK, "list");
    is(n, 1, "one instance");
    if (n == 1) {
        const zkr_service_instance_t *p = zkr_instance_service(v[0]);
        is_str(zkr_instance_host(v[0]), "127.0.0.1", "host");
        is(zkr_instance_port(v[0]), 8080, "port");
        is_str(p ? p->id : NULL, "c-instance-1", "parsed instance");
        ok(zkr_instance_dubbo_url(v[0]) == NULL, "no Dubbo URL");
    }
    zkr_instances_free(v, n);
    /* an update reaches the cache through the data watch */
    s.payload = "{\"zone\":\"b\"}";
    {
        char *json;
        zkr_service_instance_to_json(&s, &json, &len);
        is(zkr_registration_set_data(r, json, len), ZKR_OK, "update");
        zkr_free(json);
    }
    {
        int seen = 0;
        for (int i = 0; i < 300 && !seen; i++) {
            zkr_instance_t *in;
            if (zkr_discovery_pick(d, ZKR_LB_RANDOM, NULL, 0, &in) == ZKR_OK) {
                const zkr_service_instance_t *p = zkr_instance_service(in);
                seen = p && p->payload && strstr(p->payload, "\"b\"");
                zkr_instance_release(in);
            }
            if (!seen)
                zkt_sleep_ms(20);
        }
        ok(seen, "the cache sees the updated payload");
    }
    /* junk data is not an instance */
    is(zkr_create(c2, "/services/orders/junk", "{bad", 4, ZKR_EPHEMERAL, NULL),
       ZKR_OK, "junk node");
    is(zkr_discovery_refresh(d, 10000), ZKR_OK, "refresh");
    is(zkr_discovery_count(d), 1, "unparseable JSON is skipped");
    zkr_registration_free(r);
    is(wait_count(d, 0), 0, "unregistered");
    s.service_type = ZKR_SERVICE_DYNAMIC_SEQUENTIAL;
    is(zkr_registration_new_curator(c, NULL, &s, NULL, &r), ZKR_EINVAL,
       "DYNAMIC_SEQUENTIAL is not registrable");
    s.service_type = ZKR_SERVICE_STATIC;
    s.id = "static-1";
    is(zkr_registration_new_curator(c, "/svc2", &s, NULL, &r), ZKR_OK,
       "STATIC instance");
    is(zkr_registration_wait(r, 10000), ZKR_OK, "registered");
    is(zkr_exists(c2, "/svc2/orders/static-1", &st), ZKR_OK, "under base");
    is(st.ephemeral_owner, 0, "persistent");
    zkr_registration_free(r);
    zkr_client_flush(c, 5000);
    is(zkr_exists(c2, "/svc2/orders/static-1", &st), ZKR_ENONODE,
       "STATIC is removed on free");
    zkr_discovery_free(d);
}

static void test_convergence(zkr_client_t *c, zkr_client_t *c2,
                             zkr_layout_t layout, const char *what)
{
    enum { EVENTS = 50, SLOTS = 12 };
    zkr_registration_t *slot[SLOTS] = {0};
    zkr_discovery_opts_t o;
    zkr_discovery_t *d;
    struct rec rr;
    unsigned seed = 12345;
    int live = 0, match = 1;
    long long t0, dt;
    const char *dir = layout == ZKR_LAYOUT_DUBBO ? "/dubbo/" IFACE "/providers"
                                                 : "/services/conv";

    rec_init(&rr);
    zkr_discovery_opts_init(&o);
    o.layout = layout;
    o.on_change = disc_cb;
    o.ctx = &rr;
    is(zkr_discovery_new(c2, dir, &o, &d), ZKR_OK, "%s: discovery", what);
    is(zkr_discovery_refresh(d, 10000), ZKR_OK, "%s: refreshed", what);
    is(zkr_discovery_count(d), 0, "%s: empty", what);
    t0 = zkt_now_ms();
    for (int e = 0; e < EVENTS; e++) {
        int k = (int)((seed = seed * 1103515245u + 12345u) >> 16) % SLOTS;
        if (slot[k]) {
            zkr_registration_free(slot[k]);
            slot[k] = NULL;
            live--;
        } else if (layout == ZKR_LAYOUT_DUBBO) {
            zkr_dubbo_url_t *u = provider(21000 + k, 100);
            zkr_registration_new_dubbo(c, NULL, u, NULL, &slot[k]);
            zkr_dubbo_url_free(u);
            live++;
        } else {
            zkr_service_instance_t s;
            char id[16];
            zkr_service_instance_init(&s);
            snprintf(id, sizeof id, "i%02d", k);
            s.name = "conv";
            s.id = id;
            s.address = "127.0.0.1";
            s.port = 21000 + k;
            zkr_registration_new_curator(c, NULL, &s, NULL, &slot[k]);
            live++;
        }
    }
    /* converge without asking: the watches alone bring the cache there */
    for (int i = 0; i < 1000; i++) {
        zkr_instance_t **v;
        int n;
        match = 0;
        if (zkr_discovery_list(d, &v, &n) == ZKR_OK && n == live) {
            match = 1;
            for (int k = 0; k < n; k++) {
                int port = zkr_instance_port(v[k]) - 21000;
                if (port < 0 || port >= SLOTS || !slot[port])
                    match = 0;
            }
        }
        zkr_instances_free(v, n);
        if (match)
            break;
        zkt_sleep_ms(10);
    }
    dt = zkt_now_ms() - t0;
    ok(match, "%s: the cache converged to the %d live instances after %d "
              "events",
       what, live, EVENTS);
    diag("%s: %d events applied and seen by the cache in %lld ms", what,
         EVENTS, dt);
    ok(rec_count(&rr) > 0, "%s: change callbacks ran (%d)", what,
       rec_count(&rr));
    is(zkr_discovery_refresh(d, 10000), ZKR_OK, "%s: refresh", what);
    is(zkr_discovery_count(d), live, "%s: a fresh listing agrees", what);
    for (int k = 0; k < SLOTS; k++)
        zkr_registration_free(slot[k]);
    is(wait_count(d, 0), 0, "%s: all gone", what);
    if (layout == ZKR_LAYOUT_DUBBO) {
        /* latency from a registration's confirmation to the cache */
        long long up = 0, down = 0;
        int rounds = 20, fine = 1;
        for (int i = 0; i < rounds; i++) {
            zkr_dubbo_url_t *u = provider(22000, 100);
            zkr_registration_t *r = NULL;
            long long t;
            zkr_registration_new_dubbo(c, NULL, u, NULL, &r);
            zkr_dubbo_url_free(u);
            zkr_registration_wait(r, 10000);
            t = zkt_now_ms();
            while (zkr_discovery_count(d) != 1 && zkt_now_ms() - t < 10000)
                zkt_sleep_ms(1);
            up += zkt_now_ms() - t;
            fine &= zkr_discovery_count(d) == 1;
            zkr_registration_free(r);
            t = zkt_now_ms();
            while (zkr_discovery_count(d) != 0 && zkt_now_ms() - t < 10000)
                zkt_sleep_ms(1);
            down += zkt_now_ms() - t;
            fine &= zkr_discovery_count(d) == 0;
        }
        ok(fine, "%s: %d register/unregister rounds seen by the cache", what,
           rounds);
        diag("%s: cache sees a registration %.1f ms after it is confirmed, "
             "an unregistration %.1f ms after free (mean of %d)",
             what, (double)up / rounds, (double)down / rounds, rounds);
    }
    zkr_discovery_free(d);
}

static void test_balancing(zkr_client_t *c, zkr_client_t *c2)
{
    zkr_registration_t *r[4];
    zkr_discovery_opts_t o;
    zkr_discovery_t *d;
    zkr_instance_t *in, *a, *b;
    char dir[256];
    int counts[4];

    zkr_discovery_opts_init(&o);
    o.layout = ZKR_LAYOUT_DUBBO;
    o.seed = 42;
    snprintf(dir, sizeof dir, "/dubbo/%s/providers", IFACE);
    is(zkr_discovery_new(c2, dir, &o, &d), ZKR_OK, "balancing: discovery");
    is(zkr_discovery_pick(d, ZKR_LB_RANDOM, NULL, 0, &in), ZKR_ENONODE,
       "no instance: ENONODE");
    r[0] = reg_provider(c, 30000, 100);
    r[1] = reg_provider(c, 30001, 200);
    r[2] = reg_provider(c, 30002, 300);
    is(wait_count(d, 3), 3, "three providers, weights 100/200/300");

    tally(d, ZKR_LB_RANDOM, 6000, 30000, counts, 3);
    ok(counts[0] > 850 && counts[0] < 1150 && counts[1] > 1800 &&
           counts[1] < 2200 && counts[2] > 2750 && counts[2] < 3250,
       "weighted random follows the weights: %d/%d/%d of 6000", counts[0],
       counts[1], counts[2]);

    tally(d, ZKR_LB_ROUND_ROBIN, 600, 30000, counts, 3);
    ok(counts[0] == 100 && counts[1] == 200 && counts[2] == 300,
       "round robin: exactly 100/200/300 of 600 (%d/%d/%d)", counts[0],
       counts[1], counts[2]);
    {
        int smooth = 1;
        for (int blk = 0; blk < 20; blk++) {
            tally(d, ZKR_LB_ROUND_ROBIN, 6, 30000, counts, 3);
            smooth &= counts[0] == 1 && counts[1] == 2 && counts[2] == 3;
        }
        ok(smooth, "round robin is smooth: every 6 picks are 1/2/3");
    }

    /* least active */
    zkr_discovery_pick(d, ZKR_LB_LEAST_ACTIVE, NULL, 0, &a);
    zkr_instance_begin(a);
    is(zkr_instance_active(a), 1, "one active call");
    tally(d, ZKR_LB_LEAST_ACTIVE, 300, 30000, counts, 3);
    ok(counts[zkr_instance_port(a) - 30000] == 0,
       "least active avoids the busy instance (%d/%d/%d)", counts[0],
       counts[1], counts[2]);
    {
        int others = 0;
        for (int i = 0; i < 3; i++)
            if (i != zkr_instance_port(a) - 30000)
                others += counts[i] > 0;
        is(others, 2, "and spreads over the idle ones");
    }
    zkr_discovery_pick(d, ZKR_LB_LEAST_ACTIVE, NULL, 0, &b);
    zkr_instance_begin(b);
    tally(d, ZKR_LB_LEAST_ACTIVE, 100, 30000, counts, 3);
    {
        int idle = 3 * 30000 + 3 - zkr_instance_port(a) - zkr_instance_port(b);
        is(counts[idle - 30000], 100, "with two busy, the idle one takes all");
    }
    is(zkr_instance_end(a), ZKR_OK, "end a");
    is(zkr_instance_end(a), ZKR_EINVAL, "end without begin");
    is(zkr_instance_end(b), ZKR_OK, "end b");
    {
        /* a slow instance: its calls never end during the run */
        int slow_port = 30002, slow = 0;
        for (int i = 0; i < 300; i++) {
            zkr_discovery_pick(d, ZKR_LB_LEAST_ACTIVE, NULL, 0, &in);
            if (zkr_instance_port(in) == slow_port) {
                zkr_instance_begin(in);
                slow++;
            }
            zkr_instance_release(in);
        }
        is(slow, 1, "a slow instance gets one call, then none while busy");
    }
    zkr_instance_release(a);
    zkr_instance_release(b);

    /* consistent hash */
    {
        int stable = 1, moved_wrongly = 0;
        int per[3] = {0, 0, 0};
        int *owner = malloc(sizeof *owner * 3000);
        for (int k = 0; k < 3000; k++) {
            char key[32];
            int p1, p2;
            snprintf(key, sizeof key, "user-%d", k);
            zkr_discovery_pick(d, ZKR_LB_CONSISTENT_HASH, key, strlen(key),
                               &in);
            p1 = zkr_instance_port(in);
            zkr_instance_release(in);
            zkr_discovery_pick(d, ZKR_LB_CONSISTENT_HASH, key, strlen(key),
                               &in);
            p2 = zkr_instance_port(in);
            zkr_instance_release(in);
            stable &= p1 == p2;
            owner[k] = p1;
            per[p1 - 30000]++;
        }
        ok(stable, "consistent hash: a key always goes to the same instance");
        ok(per[0] > 600 && per[1] > 600 && per[2] > 600,
           "keys spread over the ring: %d/%d/%d of 3000", per[0], per[1],
           per[2]);
        zkr_registration_free(r[1]);
        is(wait_count(d, 2), 2, "remove one instance");
        for (int k = 0; k < 3000; k++) {
            char key[32];
            snprintf(key, sizeof key, "user-%d", k);
            zkr_discovery_pick(d, ZKR_LB_CONSISTENT_HASH, key, strlen(key),
                               &in);
            if (owner[k] != 30001 && zkr_instance_port(in) != owner[k])
                moved_wrongly++;
            zkr_instance_release(in);
        }
        is(moved_wrongly, 0, "only the removed instance's keys move");
        free(owner);
        r[1] = reg_provider(c, 30001, 200);
    }

    /* weight 0 and disabled providers */
    r[3] = reg_provider(c, 30003, 0);
    is(wait_count(d, 4), 4, "a weight-0 provider");
    tally(d, ZKR_LB_RANDOM, 500, 30000, counts, 4);
    is(counts[3], 0, "weight 0: never picked by random");
    tally(d, ZKR_LB_ROUND_ROBIN, 500, 30000, counts, 4);
    is(counts[3], 0, "nor by round robin");
    zkr_registration_free(r[3]);
    {
        zkr_dubbo_url_t *u = provider(30003, 100);
        zkr_dubbo_url_set(u, "enabled", "false");
        zkr_registration_new_dubbo(c, NULL, u, NULL, &r[3]);
        zkr_registration_wait(r[3], 10000);
        zkr_dubbo_url_free(u);
    }
    zkr_discovery_refresh(d, 10000);
    is(zkr_discovery_count(d), 3, "a disabled provider is not usable");
    {
        zkr_instance_t **v;
        int n;
        zkr_discovery_list(d, &v, &n);
        ok(n == 3 && strcmp(zkr_instance_name(v[0]), zkr_instance_name(v[1])) <
                         0,
           "list is sorted by name");
        is(zkr_instance_weight(v[0]), 100, "weight parameter read");
        ok(zkr_instance_dubbo_url(v[0]) != NULL, "parsed Dubbo URL");
        zkr_instances_free(v, n);
    }
    for (int i = 0; i < 4; i++)
        zkr_registration_free(r[i]);
    is(wait_count(d, 0), 0, "all unregistered");
    is(zkr_discovery_pick(d, ZKR_LB_ROUND_ROBIN, NULL, 0, &in), ZKR_ENONODE,
       "empty again: ENONODE");
    zkr_discovery_free(d);
}

static void test_callbacks(zkr_client_t *c, const char *hosts)
{
    zkr_registration_t *r, *r2;
    zkr_discovery_t *d;
    zkr_discovery_opts_t o;
    struct rec a, b;

    /* wait_async: once */
    rec_init(&a);
    is(zkr_registration_new(c, "/cb/one", NULL, 0, NULL, &r), ZKR_OK, "new");
    is(zkr_registration_wait_async(r, reg_cb, &a), ZKR_OK, "wait_async");
    is(rec_wait(&a, ZKR_OK, 0), 0, "callback with ZKR_OK");
    zkt_sleep_ms(100);
    is(rec_count(&a), 1, "exactly once");
    /* EDEADLK from a state callback (always on the completion thread) */
    {
        zkr_registration_opts_t ro;
        rec_init(&b);
        b.probe_r = r;
        zkr_registration_opts_init(&ro);
        ro.on_state = reg_cb;
        ro.ctx = &b;
        is(zkr_registration_new(c, "/cb/probe", NULL, 0, &ro, &r2), ZKR_OK,
           "registration with a state callback");
        is(rec_wait(&b, ZKR_OK, 0), 0, "state callback ran");
        is(atomic_load(&b.probe), ZKR_EDEADLK,
           "blocking wait in a callback: EDEADLK");
        zkr_registration_free(r2);
    }
    zkr_registration_free(r);

    /* free with a pending wait_async: ECANCELED once */
    {
        zkr_client_t *c2 = zkt_client(hosts, 4000);
        rec_init(&b);
        /* a registration that cannot complete: ephemeral parent */
        zkr_create(c2, "/cb/eph", NULL, 0, ZKR_EPHEMERAL, NULL);
        is(zkr_registration_new(c, "/cb/eph/child", NULL, 0, NULL, &r2),
           ZKR_OK, "registration under an ephemeral node");
        is(zkr_registration_wait(r2, 10000), ZKR_ENOCHILDRENFOREPHEMERALS,
           "fails with the server's reason");
        is(zkr_registration_wait_async(r2, reg_cb, &b), ZKR_OK,
           "wait_async on a failed registration");
        is(rec_wait(&b, ZKR_ENOCHILDRENFOREPHEMERALS, 0), 0,
           "reports the failure at once");
        zkr_registration_free(r2);
        zkr_client_free(c2);
    }
    rec_init(&b);
    is(zkr_registration_new(c, "/cb/two", NULL, 0, NULL, &r2), ZKR_OK, "new");
    is(zkr_registration_wait_async(r2, reg_cb, &b), ZKR_OK, "wait_async");
    zkr_registration_free(r2);
    is(rec_wait_n(&b, 1), 1, "the callback ran");
    ok(b.status[0] == ZKR_ECANCELED || b.status[0] == ZKR_OK,
       "with ECANCELED (or OK if registered first): %d", b.status[0]);
    zkt_sleep_ms(100);
    is(rec_count(&b), 1, "exactly once");

    /* refresh_async: once; EDEADLK from the change callback */
    rec_init(&a);
    rec_init(&b);
    zkr_discovery_opts_init(&o);
    o.layout = ZKR_LAYOUT_RAW;
    o.on_change = disc_cb;
    o.ctx = &a;
    zkr_create(c, "/cb/base", NULL, 0, ZKR_PERSISTENT, NULL);
    {
        zkr_discovery_t *d0;
        zkr_discovery_new(c, "/cb", NULL, &d0);
        a.probe_d = d0;
        is(zkr_discovery_new(c, "/cb", &o, &d), ZKR_OK, "discovery");
        is(rec_wait(&a, ZKR_OK, 0), 0, "change callback ran");
        is(atomic_load(&a.probe), ZKR_EDEADLK,
           "blocking refresh in a callback: EDEADLK");
        a.probe_d = NULL;
        zkr_discovery_free(d0);
    }
    is(zkr_discovery_refresh_async(d, disc_cb, &b), ZKR_OK, "refresh_async");
    is(rec_wait(&b, ZKR_OK, 0), 0, "refresh callback with ZKR_OK");
    zkt_sleep_ms(100);
    is(rec_count(&b), 1, "exactly once");
    rec_init(&b);
    is(zkr_discovery_refresh_async(d, disc_cb, &b), ZKR_OK, "refresh_async");
    zkr_discovery_free(d);
    is(rec_wait_n(&b, 1), 1, "free completes a pending refresh");
    ok(b.status[0] == ZKR_ECANCELED || b.status[0] == ZKR_OK,
       "with ECANCELED (or OK if done first): %d", b.status[0]);
    zkt_sleep_ms(100);
    is(rec_count(&b), 1, "exactly once");
    {
        int before = rec_count(&a);
        zkr_create(c, "/cb/late", NULL, 0, ZKR_PERSISTENT, NULL);
        zkt_sleep_ms(200);
        is(rec_count(&a), before, "no change callback after free");
    }

    /* client freed: pending callbacks canceled, later calls ECLOSED */
    {
        zkr_client_t *c3 = zkt_client(hosts, 4000);
        rec_init(&b);
        is(zkr_discovery_new(c3, "/cb", NULL, &d), ZKR_OK, "discovery");
        is(zkr_registration_new(c3, "/cb/three", NULL, 0, NULL, &r), ZKR_OK,
           "registration");
        zkr_registration_wait(r, 10000);
        zkr_client_free(c3);
        is(zkr_discovery_refresh_async(d, disc_cb, &b), ZKR_ECLOSED,
           "refresh after client free: ECLOSED");
        is(zkr_registration_wait_async(r, reg_cb, &b), ZKR_ECLOSED,
           "wait after client free: ECLOSED");
        zkr_discovery_free(d);
        zkr_registration_free(r);
    }
}

/* A paused server answers nothing: the blocking calls time out, take their
 * waiters back, and succeed once it resumes. */
static void test_timeouts(void)
{
    zkt_server_t *srv = zkt_start(1);
    zkr_client_t *c = zkt_client(srv->hosts, 8000);
    zkr_registration_t *r;
    zkr_discovery_t *d;
    zkr_discovery_opts_t o;
    struct rec a;
    zkr_discovery_opts_init(&o);
    o.layout = ZKR_LAYOUT_RAW;
    is(zkr_discovery_new(c, "/to", &o, &d), ZKR_OK, "discovery");
    is(zkr_discovery_refresh(d, 10000), ZKR_OK, "refresh");
    is(zkt_ctl(srv, "pause 1"), 0, "pause the server");
    is(zkr_registration_new(c, "/to/inst", "raw-data", 8, NULL, &r), ZKR_OK,
       "register while it is paused");
    is(zkr_registration_wait(r, 300), ZKR_ETIMEDOUT, "wait times out");
    is(zkr_discovery_refresh(d, 300), ZKR_ETIMEDOUT, "refresh times out");
    rec_init(&a);
    is(zkr_registration_wait_async(r, reg_cb, &a), ZKR_OK, "wait_async");
    is(zkt_ctl(srv, "resume 1"), 0, "resume");
    is(zkr_registration_wait(r, 10000), ZKR_OK, "registered after resume");
    is(rec_wait_n(&a, 1), 1, "wait_async callback ran");
    is(a.status[0], ZKR_OK, "with ZKR_OK");
    is(zkr_discovery_refresh(d, 10000), ZKR_OK, "refresh after resume");
    is(zkr_discovery_count(d), 1, "the instance is seen");
    {
        zkr_instance_t *in = NULL;
        size_t len = 0;
        is(zkr_discovery_pick(d, ZKR_LB_RANDOM, NULL, 0, &in), ZKR_OK,
           "pick it");
        is_str(in ? zkr_instance_data(in, &len) : "", "raw-data",
               "raw layout: the instance carries the node's data");
        is((int)len, 8, "of its length");
        zkr_instance_release(in);
    }
    zkt_sleep_ms(100);
    is(rec_count(&a), 1, "the timed-out waits left no callback behind");
    zkr_registration_free(r);
    zkr_discovery_free(d);
    zkr_client_free(c);
    zkt_stop(srv);
}

static void test_bad_input(zkr_client_t *c)
{
    zkr_registration_t *r;
    zkr_discovery_t *d;
    zkr_discovery_opts_t o;
    zkr_dubbo_url_t *u;
    zkr_instance_t *in;
    zkr_service_instance_t s;
    char buf[4];

    is(zkr_registration_new(NULL, "/x", NULL, 0, NULL, &r), ZKR_EINVAL,
       "registration: NULL client");
    is(zkr_registration_new(c, "x", NULL, 0, NULL, &r), ZKR_EBADPATH,
       "registration: bad path");
    is(zkr_registration_new(c, "/", NULL, 0, NULL, &r), ZKR_EBADPATH,
       "registration: root");
    is(zkr_registration_new(c, "/x", NULL, 3, NULL, &r), ZKR_EINVAL,
       "registration: NULL data with length");
    is(zkr_registration_new(c, "/x", "x", ZKR_MAX_DATA + 1, NULL, &r),
       ZKR_ETOOBIG, "registration: data too big");
    is(zkr_registration_new(c, "/x", NULL, 0, NULL, NULL), ZKR_EINVAL,
       "registration: NULL out");
    is(zkr_registration_new_dubbo(c, NULL, NULL, NULL, &r), ZKR_EINVAL,
       "dubbo: NULL URL");
    zkr_dubbo_url_new("dubbo", "h", 1, NULL, &u);
    is(zkr_registration_new_dubbo(c, NULL, u, NULL, &r), ZKR_EINVAL,
       "dubbo: URL without interface");
    is(zkr_registration_new_dubbo(c, "bad", u, NULL, &r), ZKR_EINVAL,
       "dubbo: bad root and no interface");
    zkr_dubbo_url_free(u);
    zkr_service_instance_init(&s);
    is(zkr_registration_new_curator(c, NULL, &s, NULL, &r), ZKR_EINVAL,
       "curator: instance without name/id");
    s.name = "n";
    s.id = "i";
    is(zkr_registration_new_curator(c, "rel", &s, NULL, &r), ZKR_EBADPATH,
       "curator: bad base");
    is(zkr_registration_wait(NULL, 0), ZKR_EINVAL, "wait NULL");
    is(zkr_registration_wait_async(NULL, reg_cb, NULL), ZKR_EINVAL,
       "wait_async NULL");
    is(zkr_registration_set_data(NULL, "x", 1), ZKR_EINVAL, "set_data NULL");
    is(zkr_registration_new(c, "/bad/r", NULL, 0, NULL, &r), ZKR_OK, "new");
    is(zkr_registration_wait_async(r, NULL, NULL), ZKR_EINVAL,
       "wait_async NULL callback");
    is(zkr_registration_path(r, buf, sizeof buf), ZKR_EINVAL,
       "path buffer too small");
    is(zkr_registration_set_data(r, "x", ZKR_MAX_DATA + 1), ZKR_ETOOBIG,
       "set_data too big");
    zkr_registration_free(r);
    zkr_registration_free(NULL);
    ok(!zkr_registration_is_registered(NULL) && !zkr_registration_count(NULL),
       "accessors accept NULL");

    zkr_discovery_opts_init(&o);
    is(zkr_discovery_new(NULL, "/x", NULL, &d), ZKR_EINVAL,
       "discovery: NULL client");
    is(zkr_discovery_new(c, "x", NULL, &d), ZKR_EBADPATH, "discovery: bad path");
    is(zkr_discovery_new(c, "/x", NULL, NULL), ZKR_EINVAL, "discovery: NULL out");
    o.layout = (zkr_layout_t)9;
    is(zkr_discovery_new(c, "/x", &o, &d), ZKR_EINVAL, "discovery: bad layout");
    zkr_discovery_opts_init(&o);
    o.hash_replicas = 0;
    is(zkr_discovery_new(c, "/x", &o, &d), ZKR_EINVAL,
       "discovery: 0 replicas");
    is(zkr_discovery_new(c, "/x", NULL, &d), ZKR_OK, "discovery");
    is(zkr_discovery_pick(d, (zkr_lb_policy_t)9, NULL, 0, &in), ZKR_EINVAL,
       "pick: bad policy");
    is(zkr_discovery_pick(d, ZKR_LB_CONSISTENT_HASH, NULL, 3, &in),
       ZKR_EINVAL, "pick: NULL key with length");
    is(zkr_discovery_pick(d, ZKR_LB_RANDOM, NULL, 0, NULL), ZKR_EINVAL,
       "pick: NULL out");
    is(zkr_discovery_refresh_async(d, NULL, NULL), ZKR_EINVAL,
       "refresh_async: NULL callback");
    is(zkr_discovery_list(d, NULL, NULL), ZKR_EINVAL, "list: NULL");
    is(zkr_discovery_refresh(NULL, 0), ZKR_EINVAL, "refresh NULL");
    zkr_discovery_free(d);
    zkr_discovery_free(NULL);
    zkr_instances_free(NULL, 0);
    zkr_instance_release(NULL);
    ok(!zkr_instance_name(NULL) && zkr_instance_port(NULL) == -1 &&
           zkr_instance_begin(NULL) == ZKR_EINVAL &&
           zkr_instance_active(NULL) == 0,
       "instance accessors accept NULL");
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *c = zkt_client(hosts, 2000), *c2 = zkt_client(hosts, 4000);
    test_dubbo_layout(c, c2);
    test_process_kill(hosts, c2, 0);
    test_process_kill(hosts, c2, 1);
    test_session(c, c2);
    test_curator_layout(c, c2);
    test_convergence(c, c2, ZKR_LAYOUT_DUBBO, "dubbo");
    test_convergence(c, c2, ZKR_LAYOUT_CURATOR, "curator");
    test_balancing(c, c2);
    test_callbacks(c, hosts);
    test_timeouts();
    test_bad_input(c);
    zkr_client_free(c2);
    zkr_client_free(c);
    return done_testing();
}
