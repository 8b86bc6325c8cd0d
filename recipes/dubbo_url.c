/* SPDX-License-Identifier: Apache-2.0 */
/* Dubbo registry URLs: build, parse, Java URLEncoder-compatible encoding,
 * and the registry paths derived from them. Pure code, no ZooKeeper. */
#define ZKR_BUILDING 1
#include "zkr/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

struct param {
    char *key;
    char *value;
};

struct zkr_dubbo_url {
    char *protocol;
    char *user;
    char *password;
    char *host;
    char *path; /* NULL when none */
    int port;
    struct param *params; /* sorted by key (byte order) */
    int nparams, cap;
};

/* ---- percent-encoding ---------------------------------------------------- */

static int kept(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '*' ||
           ch == '_';
}

int zkr_dubbo_encode(const void *in, size_t len, char **out)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = in;
    char *s, *w;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!in && len)
        return ZKR_EINVAL;
    if (len > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    s = malloc(len * 3 + 1);
    if (!s)
        return ZKR_ENOMEM;
    w = s;
    for (size_t i = 0; i < len; i++) {
        if (kept(p[i])) {
            *w++ = (char)p[i];
        } else if (p[i] == ' ') {
            *w++ = '+';
        } else {
            *w++ = '%';
            *w++ = hex[p[i] >> 4];
            *w++ = hex[p[i] & 15];
        }
    }
    *w = '\0';
    *out = s;
    return ZKR_OK;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int zkr_dubbo_decode(const char *in, char **out, size_t *len)
{
    size_t n;
    char *s, *w;
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!in || !out)
        return ZKR_EINVAL;
    n = strnlen(in, ZKR_MAX_DATA + 1);
    if (n > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    s = malloc(n + 1);
    if (!s)
        return ZKR_ENOMEM;
    w = s;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '+') {
            *w++ = ' ';
        } else if (in[i] == '%') {
            int hi = i + 1 < n ? hexval(in[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(in[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(s);
                return ZKR_EINVAL;
            }
            *w++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *w++ = in[i];
        }
    }
    *w = '\0';
    if (len)
        *len = (size_t)(w - s);
    *out = s;
    return ZKR_OK;
}

/* ---- validation ---------------------------------------------------------- */

static int is_ctl(unsigned char ch)
{
    return ch < 0x20 || ch == 0x7f;
}

static int valid_protocol(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' ||
              ch == '.'))
            return 0;
    }
    return 1;
}

/* host, user, password: no separators the parser splits on */
static int valid_part(const char *s, size_t n, int allow_empty,
                      const char *extra)
{
    if (n == 0 && !allow_empty)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (is_ctl(ch) || ch == ' ' || ch == '/' || ch == '?' || ch == '@' ||
            ch == '&' || ch == '#' || (extra && strchr(extra, ch)))
            return 0;
    }
    return 1;
}

/* ':' only inside a bracketed IPv6 address, so the port split is
 * unambiguous */
static int valid_host(const char *s, size_t n)
{
    if (!valid_part(s, n, 0, NULL))
        return 0;
    if (memchr(s, ':', n) && !(s[0] == '[' && s[n - 1] == ']'))
        return 0;
    return 1;
}

static int valid_path(const char *s)
{
    if (s[0] == '/')
        return 0;
    for (const char *p = s; *p; p++)
        if (is_ctl((unsigned char)*p) || *p == '?')
            return 0;
    return 1;
}

static int valid_key(const char *k)
{
    if (!*k)
        return 0;
    for (const char *p = k; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (is_ctl(ch) || ch == '&' || ch == '=' || ch == '?' || ch == '#' ||
            ch == ' ')
            return 0;
    }
    return 1;
}

static int valid_value(const char *v)
{
    for (const char *p = v; *p; p++)
        if (is_ctl((unsigned char)*p) || *p == '&')
            return 0;
    return 1;
}

/* ---- construction -------------------------------------------------------- */

void zkr_dubbo_url_free(zkr_dubbo_url_t *u)
{
    if (!u)
        return;
    for (int i = 0; i < u->nparams; i++) {
        free(u->params[i].key);
        free(u->params[i].value);
    }
    free(u->params);
    free(u->protocol);
    free(u->user);
    free(u->password);
    free(u->host);
    free(u->path);
    free(u);
}

static zkr_dubbo_url_t *url_alloc(const char *protocol, size_t plen,
                                  const char *host, size_t hlen, int port,
                                  const char *path, size_t pathlen)
{
    zkr_dubbo_url_t *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->protocol = strndup(protocol, plen);
    u->host = strndup(host, hlen);
    u->port = port;
    if (pathlen)
        u->path = strndup(path, pathlen);
    if (!u->protocol || !u->host || (pathlen && !u->path)) {
        zkr_dubbo_url_free(u);
        return NULL;
    }
    return u;
}

int zkr_dubbo_url_new(const char *protocol, const char *host, int port,
                      const char *path, zkr_dubbo_url_t **out)
{
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!protocol || !host || port < 0 || port > 65535)
        return ZKR_EINVAL;
    if (!valid_protocol(protocol, strlen(protocol)) ||
        !valid_host(host, strlen(host)) || (path && !valid_path(path)))
        return ZKR_EINVAL;
    *out = url_alloc(protocol, strlen(protocol), host, strlen(host), port,
                     path ? path : "", path ? strlen(path) : 0);
    return *out ? ZKR_OK : ZKR_ENOMEM;
}

/* Index of key, or -(insertion point) - 1. */
static int find(const zkr_dubbo_url_t *u, const char *key)
{
    int lo = 0, hi = u->nparams - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(u->params[mid].key, key);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -lo - 1;
}

/* Takes ownership of key and value (freed on failure). */
static int put(zkr_dubbo_url_t *u, char *key, char *value)
{
    int at = find(u, key);
    if (at >= 0) {
        free(u->params[at].value);
        u->params[at].value = value;
        free(key);
        return ZKR_OK;
    }
    at = -at - 1;
    if (u->nparams == u->cap) {
        int cap = u->cap ? u->cap * 2 : 16;
        struct param *p = realloc(u->params, sizeof *p * (size_t)cap);
        if (!p) {
            free(key);
            free(value);
            return ZKR_ENOMEM;
        }
        u->params = p;
        u->cap = cap;
    }
    memmove(u->params + at + 1, u->params + at,
            sizeof *u->params * (size_t)(u->nparams - at));
    u->params[at].key = key;
    u->params[at].value = value;
    u->nparams++;
    return ZKR_OK;
}

int zkr_dubbo_url_set(zkr_dubbo_url_t *u, const char *key, const char *value)
{
    char *k, *v;
    if (!u || !key || !valid_key(key) || (value && !valid_value(value)))
        return ZKR_EINVAL;
    if (strlen(key) > ZKR_MAX_DATA || (value && strlen(value) > ZKR_MAX_DATA))
        return ZKR_ETOOBIG;
    if (!value) {
        int at = find(u, key);
        if (at < 0)
            return ZKR_ENONODE;
        free(u->params[at].key);
        free(u->params[at].value);
        memmove(u->params + at, u->params + at + 1,
                sizeof *u->params * (size_t)(u->nparams - at - 1));
        u->nparams--;
        return ZKR_OK;
    }
    k = strdup(key);
    v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return ZKR_ENOMEM;
    }
    return put(u, k, v);
}

int zkr_dubbo_url_set_auth(zkr_dubbo_url_t *u, const char *user,
                           const char *password)
{
    char *nu = NULL, *np = NULL;
    if (!u || (!user && password))
        return ZKR_EINVAL;
    if (user && !valid_part(user, strlen(user), 0, ":"))
        return ZKR_EINVAL;
    if (password && !valid_part(password, strlen(password), 1, NULL))
        return ZKR_EINVAL;
    if ((user && !(nu = strdup(user))) ||
        (password && !(np = strdup(password)))) {
        free(nu);
        free(np);
        return ZKR_ENOMEM;
    }
    free(u->user);
    free(u->password);
    u->user = nu;
    u->password = np;
    return ZKR_OK;
}

int zkr_dubbo_url_clone(const zkr_dubbo_url_t *u, zkr_dubbo_url_t **out)
{
    zkr_dubbo_url_t *c;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!u)
        return ZKR_EINVAL;
    c = url_alloc(u->protocol, strlen(u->protocol), u->host, strlen(u->host),
                  u->port, u->path ? u->path : "",
                  u->path ? strlen(u->path) : 0);
    if (!c || zkr_dubbo_url_set_auth(c, u->user, u->password) != ZKR_OK) {
        zkr_dubbo_url_free(c);
        return ZKR_ENOMEM;
    }
    if (u->nparams) {
        c->params = calloc((size_t)u->nparams, sizeof *c->params);
        if (!c->params) {
            zkr_dubbo_url_free(c);
            return ZKR_ENOMEM;
        }
        c->cap = u->nparams;
        for (int i = 0; i < u->nparams; i++) {
            c->params[i].key = strdup(u->params[i].key);
            c->params[i].value = strdup(u->params[i].value);
            c->nparams++;
            if (!c->params[i].key || !c->params[i].value) {
                zkr_dubbo_url_free(c);
                return ZKR_ENOMEM;
            }
        }
    }
    *out = c;
    return ZKR_OK;
}

static long long now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Parameters every Dubbo 2.7/3 registration carries. */
static int common_params(zkr_dubbo_url_t *u, const char *interface,
                         const char *side)
{
    char pid[24], ts[24];
    int rc;
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    snprintf(ts, sizeof ts, "%lld", now_ms());
    if ((rc = zkr_dubbo_url_set(u, "dubbo", "2.0.2")) != ZKR_OK ||
        (rc = zkr_dubbo_url_set(u, "interface", interface)) != ZKR_OK ||
        (rc = zkr_dubbo_url_set(u, "pid", pid)) != ZKR_OK ||
        (rc = zkr_dubbo_url_set(u, "side", side)) != ZKR_OK ||
        (rc = zkr_dubbo_url_set(u, "timestamp", ts)) != ZKR_OK)
        return rc;
    return ZKR_OK;
}

int zkr_dubbo_url_provider(const char *host, int port, const char *interface,
                           zkr_dubbo_url_t **out)
{
    zkr_dubbo_url_t *u;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!interface || !*interface)
        return ZKR_EINVAL;
    if ((rc = zkr_dubbo_url_new("dubbo", host, port, interface, &u)) !=
        ZKR_OK)
        return rc;
    if ((rc = common_params(u, interface, "provider")) != ZKR_OK ||
        (rc = zkr_dubbo_url_set(u, "anyhost", "false")) != ZKR_OK ||
        (rc = zkr_dubbo_url_set(u, "dynamic", "true")) != ZKR_OK ||
        (rc = zkr_dubbo_url_set(u, "generic", "false")) != ZKR_OK) {
        zkr_dubbo_url_free(u);
        return rc;
    }
    *out = u;
    return ZKR_OK;
}

int zkr_dubbo_url_consumer(const char *host, const char *interface,
                           zkr_dubbo_url_t **out)
{
    zkr_dubbo_url_t *u;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!interface || !*interface)
        return ZKR_EINVAL;
    if ((rc = zkr_dubbo_url_new("consumer", host, 0, interface, &u)) !=
        ZKR_OK)
        return rc;
    if ((rc = common_params(u, interface, "consumer")) != ZKR_OK ||
        (rc = zkr_dubbo_url_set(u, "category", "consumers")) != ZKR_OK ||
        (rc = zkr_dubbo_url_set(u, "check", "false")) != ZKR_OK) {
        zkr_dubbo_url_free(u);
        return rc;
    }
    *out = u;
    return ZKR_OK;
}

/* ---- parsing ------------------------------------------------------------- */

static int parse_port(const char *s, size_t n, int *port)
{
    int v = 0;
    if (n == 0 || n > 5)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    if (v > 65535)
        return 0;
    *port = v;
    return 1;
}

static int parse_params(zkr_dubbo_url_t *u, const char *q)
{
    while (*q) {
        const char *end = strchr(q, '&');
        size_t n = end ? (size_t)(end - q) : strlen(q);
        /* Dubbo trims each parameter; the empty ones are skipped */
        const char *s = q, *e = q + n;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            const char *eq = memchr(s, '=', (size_t)(e - s));
            char *k, *v;
            int rc;
            if (eq) {
                k = strndup(s, (size_t)(eq - s));
                v = strndup(eq + 1, (size_t)(e - eq - 1));
            } else {
                k = strndup(s, (size_t)(e - s));
                v = strndup(s, (size_t)(e - s));
            }
            if (!k || !v) {
                free(k);
                free(v);
                return ZKR_ENOMEM;
            }
            if (!*k || !valid_key(k) || !valid_value(v)) {
                free(k);
                free(v);
                return ZKR_EINVAL;
            }
            if ((rc = put(u, k, v)) != ZKR_OK)
                return rc;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return ZKR_OK;
}

int zkr_dubbo_url_parse(const char *text, zkr_dubbo_url_t **out)
{
    const char *sep, *auth, *hp, *hp_end, *at, *colon, *slash, *query;
    const char *user = NULL, *pass = NULL;
    size_t ulen = 0, plen = 0, tlen;
    int port = 0, rc;
    zkr_dubbo_url_t *u;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!text)
        return ZKR_EINVAL;
    tlen = strnlen(text, ZKR_MAX_DATA + 1);
    if (tlen > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    query = strchr(text, '?');
    sep = strstr(text, "://");
    if (!sep || (query && sep > query) ||
        !valid_protocol(text, (size_t)(sep - text)))
        return ZKR_EINVAL;
    auth = sep + 3;
    slash = strchr(auth, '/');
    if (query && slash && slash > query)
        slash = NULL;
    hp_end = slash ? slash : query ? query : text + tlen;
    /* user:password@ ends at the last '@' of the authority */
    at = NULL;
    for (const char *p = auth; p < hp_end; p++)
        if (*p == '@')
            at = p;
    hp = auth;
    if (at) {
        const char *c = memchr(auth, ':', (size_t)(at - auth));
        user = auth;
        ulen = c ? (size_t)(c - auth) : (size_t)(at - auth);
        if (c) {
            pass = c + 1;
            plen = (size_t)(at - c - 1);
        }
        if (!valid_part(user, ulen, 0, ":") ||
            (pass && !valid_part(pass, plen, 1, NULL)))
            return ZKR_EINVAL;
        hp = at + 1;
    }
    /* a port follows the last ':' unless that ':' is inside [IPv6] */
    colon = NULL;
    for (const char *p = hp; p < hp_end; p++)
        if (*p == ':')
            colon = p;
    if (colon && memchr(colon, ']', (size_t)(hp_end - colon)))
        colon = NULL;
    if (colon) {
        if (!parse_port(colon + 1, (size_t)(hp_end - colon - 1), &port))
            return ZKR_EINVAL;
    } else {
        colon = hp_end;
    }
    if (!valid_host(hp, (size_t)(colon - hp)))
        return ZKR_EINVAL;
    {
        const char *path = slash ? slash + 1 : "";
        size_t pathlen = slash ? (size_t)((query ? query : text + tlen) -
                                          slash - 1)
                               : 0;
        for (size_t i = 0; i < pathlen; i++)
            if (is_ctl((unsigned char)path[i]))
                return ZKR_EINVAL;
        u = url_alloc(text, (size_t)(sep - text), hp, (size_t)(colon - hp),
                      port, path, pathlen);
    }
    if (!u)
        return ZKR_ENOMEM;
    if (user) {
        u->user = strndup(user, ulen);
        if (pass)
            u->password = strndup(pass, plen);
        if (!u->user || (pass && !u->password)) {
            zkr_dubbo_url_free(u);
            return ZKR_ENOMEM;
        }
    }
    if (query && (rc = parse_params(u, query + 1)) != ZKR_OK) {
        zkr_dubbo_url_free(u);
        return rc;
    }
    *out = u;
    return ZKR_OK;
}

int zkr_dubbo_url_from_node(const char *node, zkr_dubbo_url_t **out)
{
    char *plain;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if ((rc = zkr_dubbo_decode(node, &plain, NULL)) != ZKR_OK)
        return rc;
    rc = zkr_dubbo_url_parse(plain, out);
    free(plain);
    return rc;
}

/* ---- output -------------------------------------------------------------- */

int zkr_dubbo_url_to_string(const zkr_dubbo_url_t *u, char **out)
{
    size_t n;
    char *s, *w;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!u)
        return ZKR_EINVAL;
    n = strlen(u->protocol) + strlen(u->host) + 32;
    if (u->user)
        n += strlen(u->user) + 2;
    if (u->password)
        n += strlen(u->password) + 1;
    if (u->path)
        n += strlen(u->path) + 1;
    for (int i = 0; i < u->nparams; i++)
        n += strlen(u->params[i].key) + strlen(u->params[i].value) + 2;
    if (n > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    s = malloc(n);
    if (!s)
        return ZKR_ENOMEM;
    w = s + sprintf(s, "%s://", u->protocol);
    if (u->user)
        w += sprintf(w, "%s%s%s@", u->user, u->password ? ":" : "",
                     u->password ? u->password : "");
    w += sprintf(w, "%s", u->host);
    if (u->port > 0)
        w += sprintf(w, ":%d", u->port);
    if (u->path)
        w += sprintf(w, "/%s", u->path);
    for (int i = 0; i < u->nparams; i++)
        w += sprintf(w, "%c%s=%s", i ? '&' : '?', u->params[i].key,
                     u->params[i].value);
    *out = s;
    return ZKR_OK;
}

int zkr_dubbo_url_node(const zkr_dubbo_url_t *u, char **out)
{
    char *full;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if ((rc = zkr_dubbo_url_to_string(u, &full)) != ZKR_OK)
        return rc;
    rc = zkr_dubbo_encode(full, strlen(full), out);
    free(full);
    return rc;
}

static int join3(const char *root, const char *a, const char *b,
                 const char *c, char **out)
{
    const char *parts[3] = {a, b, c};
    char *cur = NULL;
    int rc;
    if (!root)
        root = ZKR_DUBBO_ROOT;
    if ((rc = zkr_path_validate(root)) != ZKR_OK)
        return rc;
    if (!(cur = strdup(root)))
        return ZKR_ENOMEM;
    for (int i = 0; i < 3 && parts[i]; i++) {
        char *next = NULL;
        rc = zkr_path_join(cur, parts[i], &next);
        free(cur);
        if (rc != ZKR_OK)
            return rc;
        cur = next;
    }
    if ((rc = zkr_path_validate(cur)) != ZKR_OK) {
        free(cur);
        return rc;
    }
    *out = cur;
    return ZKR_OK;
}

int zkr_dubbo_dir(const char *root, const char *interface,
                  const char *category, char **out)
{
    char *iface = NULL;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!interface || !*interface || (category && !*category))
        return ZKR_EINVAL;
    if ((rc = zkr_dubbo_encode(interface, strlen(interface), &iface)) !=
        ZKR_OK)
        return rc;
    rc = join3(root, iface, category ? category : "providers", NULL, out);
    free(iface);
    return rc;
}

int zkr_dubbo_url_registry_path(const char *root, const zkr_dubbo_url_t *u,
                                char **out)
{
    const char *iface, *cat;
    char *dir = NULL, *node = NULL;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!u)
        return ZKR_EINVAL;
    iface = zkr_dubbo_url_get(u, "interface");
    if (!iface || !*iface)
        iface = u->path;
    if (!iface || !*iface)
        return ZKR_EINVAL;
    cat = zkr_dubbo_url_get(u, "category");
    if (!cat || !*cat)
        cat = "providers";
    if ((rc = zkr_dubbo_dir(root, iface, cat, &dir)) != ZKR_OK)
        return rc;
    if ((rc = zkr_dubbo_url_node(u, &node)) == ZKR_OK)
        rc = join3(dir, node, NULL, NULL, out);
    free(dir);
    free(node);
    return rc;
}

/* ---- accessors ----------------------------------------------------------- */

const char *zkr_dubbo_url_get(const zkr_dubbo_url_t *u, const char *key)
{
    int at;
    if (!u || !key)
        return NULL;
    at = find(u, key);
    return at >= 0 ? u->params[at].value : NULL;
}

const char *zkr_dubbo_url_protocol(const zkr_dubbo_url_t *u)
{
    return u ? u->protocol : NULL;
}

const char *zkr_dubbo_url_host(const zkr_dubbo_url_t *u)
{
    return u ? u->host : NULL;
}

int zkr_dubbo_url_port(const zkr_dubbo_url_t *u)
{
    return u ? u->port : 0;
}

const char *zkr_dubbo_url_path(const zkr_dubbo_url_t *u)
{
    return u ? u->path : NULL;
}

const char *zkr_dubbo_url_user(const zkr_dubbo_url_t *u)
{
    return u ? u->user : NULL;
}

const char *zkr_dubbo_url_password(const zkr_dubbo_url_t *u)
{
    return u ? u->password : NULL;
}

int zkr_dubbo_url_param_count(const zkr_dubbo_url_t *u)
{
    return u ? u->nparams : 0;
}

int zkr_dubbo_url_param_at(const zkr_dubbo_url_t *u, int i, const char **key,
                           const char **value)
{
    if (!u || i < 0 || i >= u->nparams)
        return ZKR_EINVAL;
    if (key)
        *key = u->params[i].key;
    if (value)
        *value = u->params[i].value;
    return ZKR_OK;
}
