/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the formatters, driven from built values rather than
 * parsed text: parse(format(v)) == v for a Dubbo URL made with
 * zkr_dubbo_url_new/set_auth/set, and for a Curator ServiceInstance that
 * zkr_service_instance_to_json accepts. The input is lines: protocol,
 * host, port, path, user, password, then "key=value" parameters for the
 * URL; the same lines (name, id, address, port, sslPort, payload, time,
 * type, uriSpec, enabled) for the instance. An empty line is "absent". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <zkr/registry.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 32

static const char *opt(char **l, int n, int i)
{
    return i < n && *l[i] ? l[i] : NULL;
}

static int num(char **l, int n, int i, int dflt)
{
    return i < n && *l[i] ? atoi(l[i]) : dflt;
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The parser trims blanks around each parameter, as Dubbo's does, so a
 * value's trailing blanks do not come back. */
static int same_value(const char *set, const char *got)
{
    size_t n = strlen(set);
    while (n > 0 && (set[n - 1] == ' ' || set[n - 1] == '\t'))
        n--;
    return strlen(got) == n && memcmp(set, got, n) == 0;
}

static void check_url(char **l, int n)
{
    zkr_dubbo_url_t *u = NULL, *v = NULL;
    char *text = NULL;
    int port = num(l, n, 2, 0);
    if (n < 2 || zkr_dubbo_url_new(l[0], l[1], port, opt(l, n, 3), &u) !=
                     ZKR_OK)
        return;
    if (opt(l, n, 4))
        (void)zkr_dubbo_url_set_auth(u, l[4], n > 5 ? l[5] : NULL);
    for (int i = 6; i < n; i++) {
        char *eq = strchr(l[i], '=');
        if (eq) {
            *eq = '\0';
            (void)zkr_dubbo_url_set(u, l[i], eq + 1);
            *eq = '=';
        }
    }
    if (zkr_dubbo_url_to_string(u, &text) != ZKR_OK)
        goto out;
    if (zkr_dubbo_url_parse(text, &v) != ZKR_OK)
        abort(); /* what we print must parse */
    if (!same(zkr_dubbo_url_protocol(u), zkr_dubbo_url_protocol(v)) ||
        !same(zkr_dubbo_url_host(u), zkr_dubbo_url_host(v)) ||
        zkr_dubbo_url_port(u) != zkr_dubbo_url_port(v) ||
        !same(zkr_dubbo_url_path(u), zkr_dubbo_url_path(v)) ||
        !same(zkr_dubbo_url_user(u), zkr_dubbo_url_user(v)) ||
        !same(zkr_dubbo_url_password(u), zkr_dubbo_url_password(v)) ||
        zkr_dubbo_url_param_count(u) != zkr_dubbo_url_param_count(v))
        abort();
    for (int i = 0; i < zkr_dubbo_url_param_count(u); i++) {
        const char *k1, *v1, *k2, *v2;
        if (zkr_dubbo_url_param_at(u, i, &k1, &v1) != ZKR_OK ||
            zkr_dubbo_url_param_at(v, i, &k2, &v2) != ZKR_OK ||
            strcmp(k1, k2) != 0 || !same_value(v1, v2))
            abort();
    }
out:
    zkr_free(text);
    zkr_dubbo_url_free(u);
    zkr_dubbo_url_free(v);
}

static void check_instance(char **l, int n)
{
    zkr_service_instance_t s, *t = NULL;
    char *j1 = NULL, *j2 = NULL;
    size_t len = 0;
    if (n < 2)
        return;
    zkr_service_instance_init(&s);
    s.name = l[0];
    s.id = l[1];
    s.address = opt(l, n, 2);
    s.port = num(l, n, 3, -1);
    s.ssl_port = num(l, n, 4, -1);
    s.payload = opt(l, n, 5);
    s.registration_time_utc = n > 6 ? strtoll(l[6], NULL, 10) : 0;
    s.service_type = (zkr_service_type_t)num(l, n, 7, 0);
    s.uri_spec = opt(l, n, 8);
    s.enabled = num(l, n, 9, 1) != 0;
    if (zkr_service_instance_to_json(&s, &j1, &len) != ZKR_OK)
        return;
    if (strlen(j1) != len || zkr_service_instance_from_json(j1, len, &t) !=
                                 ZKR_OK)
        abort(); /* what we write must read */
    if (strcmp(s.name, t->name) != 0 || strcmp(s.id, t->id) != 0 ||
        !same(s.address, t->address) || s.port != t->port ||
        s.ssl_port != t->ssl_port ||
        s.registration_time_utc != t->registration_time_utc ||
        s.service_type != t->service_type || s.enabled != t->enabled ||
        !same(s.uri_spec, t->uri_spec))
        abort();
    if (s.payload) {
        /* the payload comes back as its compact JSON text */
        json_t *p = json_loads(s.payload, JSON_DECODE_ANY, NULL);
        char *want = p ? json_dumps(p, JSON_COMPACT | JSON_ENCODE_ANY |
                                           JSON_PRESERVE_ORDER)
                       : NULL;
        if (!want)
            abort();
        /* a null payload is no payload */
        if (strcmp(want, "null") == 0 ? t->payload != NULL
                                      : !t->payload ||
                                            strcmp(want, t->payload) != 0)
            abort();
        free(want);
        json_decref(p);
    } else if (t->payload) {
        abort();
    }
    /* and writes the same text again */
    if (zkr_service_instance_to_json(t, &j2, NULL) != ZKR_OK ||
        strcmp(j1, j2) != 0)
        abort();
    zkr_free(j1);
    zkr_free(j2);
    zkr_service_instance_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), *l[MAX_LINES], *p;
    int n = 0;
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    for (p = s; n < MAX_LINES;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        l[n++] = p;
        if (!nl)
            break;
        p = nl + 1;
    }
    check_url(l, n);
    check_instance(l, n);
    free(s);
    return 0;
}
