/* SPDX-License-Identifier: Apache-2.0 */
/* Client layer: sessions, connection states, listeners, logging. */
#define ZKR_BUILDING 1
#include "client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- logging ------------------------------------------------------------- */

/* ZooKeeper's C client logs through a per-handle callback without a context
 * pointer, so its messages go to every live client that asked for them. */
static pthread_mutex_t g_clients_mu = PTHREAD_MUTEX_INITIALIZER;
static zkr_client_t *g_log_clients[64];
static int g_zk_log_level_set;

static void zk_log_forward(const char *message)
{
    zkr_log_level_t lvl = ZKR_LOG_DEBUG;
    if (strstr(message, "ZOO_ERROR"))
        lvl = ZKR_LOG_ERROR;
    else if (strstr(message, "ZOO_WARN"))
        lvl = ZKR_LOG_WARN;
    else if (strstr(message, "ZOO_INFO"))
        lvl = ZKR_LOG_INFO;
    pthread_mutex_lock(&g_clients_mu);
    for (size_t i = 0; i < sizeof g_log_clients / sizeof *g_log_clients; i++) {
        zkr_client_t *c = g_log_clients[i];
        if (c && c->log_fn && lvl <= c->log_level)
            c->log_fn(c->log_ctx, lvl, message);
    }
    pthread_mutex_unlock(&g_clients_mu);
}

static void log_register(zkr_client_t *c, int add)
{
    pthread_mutex_lock(&g_clients_mu);
    if (!g_zk_log_level_set) {
        /* Only errors from the C client: its INFO lines are per-request. */
        zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
        g_zk_log_level_set = 1;
    }
    for (size_t i = 0; i < sizeof g_log_clients / sizeof *g_log_clients; i++) {
        if (add && !g_log_clients[i]) {
            g_log_clients[i] = c;
            break;
        }
        if (!add && g_log_clients[i] == c) {
            g_log_clients[i] = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&g_clients_mu);
}

void zkr__log(zkr_client_t *c, zkr_log_level_t level, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    if (!c || !c->log_fn || level > c->log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->log_fn(c->log_ctx, level, buf);
}

/* ---- listeners ----------------------------------------------------------- */

static _Thread_local zkr_client_t *tls_dispatching;

static void dispatch(zkr_client_t *c, zkr_state_t st)
{
    zkr_client_t *outer = tls_dispatching;
    zkr__listener_t **pp, *l;
    pthread_mutex_lock(&c->lmu);
    tls_dispatching = c;
    for (l = c->listeners; l; l = l->next)
        if (!l->dead)
            l->cb(c, st, l->ctx);
    tls_dispatching = outer;
    for (pp = &c->listeners; *pp;) {
        l = *pp;
        if (l->dead) {
            *pp = l->next;
            free(l);
        } else {
            pp = &l->next;
        }
    }
    pthread_mutex_unlock(&c->lmu);
}

int zkr_client_add_listener(zkr_client_t *c, zkr_state_cb cb, void *ctx)
{
    zkr__listener_t *l, **pp;
    int nested;
    if (!c || !cb)
        return ZKR_EINVAL;
    l = calloc(1, sizeof *l);
    if (!l)
        return ZKR_ENOMEM;
    l->cb = cb;
    l->ctx = ctx;
    nested = tls_dispatching == c;
    if (!nested)
        pthread_mutex_lock(&c->lmu);
    for (pp = &c->listeners; *pp; pp = &(*pp)->next)
        ;
    *pp = l;
    if (!nested)
        pthread_mutex_unlock(&c->lmu);
    return ZKR_OK;
}

int zkr_client_remove_listener(zkr_client_t *c, zkr_state_cb cb, void *ctx)
{
    zkr__listener_t *l;
    int nested, rc = ZKR_ENONODE;
    if (!c || !cb)
        return ZKR_EINVAL;
    nested = tls_dispatching == c;
    if (!nested)
        pthread_mutex_lock(&c->lmu);
    for (l = c->listeners; l; l = l->next) {
        if (!l->dead && l->cb == cb && l->ctx == ctx) {
            l->dead = 1; /* unlinked by the dispatcher or below */
            rc = ZKR_OK;
            break;
        }
    }
    if (!nested) {
        zkr__listener_t **pp;
        for (pp = &c->listeners; *pp;) {
            l = *pp;
            if (l->dead) {
                *pp = l->next;
                free(l);
            } else {
                pp = &l->next;
            }
        }
        pthread_mutex_unlock(&c->lmu);
    }
    return rc;
}

/* ---- session ------------------------------------------------------------- */

static void set_state(zkr_client_t *c, zkr_state_t st)
{
    c->state = st;
    pthread_cond_broadcast(&c->cv);
}

static void global_watcher(zhandle_t *zh, int type, int state,
                           const char *path, void *ctx)
{
    zkr_client_t *c = ctx;
    zkr_state_t emit = 0;
    (void)path;
    zkr__mark_callback_thread();
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&c->mu);
    if (zh != c->zh || c->closing) {
        /* A retired handle: its session is already given up. */
        pthread_mutex_unlock(&c->mu);
        return;
    }
    if (state == ZOO_CONNECTED_STATE) {
        const clientid_t *id = zoo_client_id(zh);
        c->session_id = id ? id->client_id : 0;
        c->negotiated_timeout = zoo_recv_timeout(zh);
        emit = c->handle_connected ? ZKR_STATE_RECONNECTED
                                   : ZKR_STATE_CONNECTED;
        c->handle_connected = 1;
        set_state(c, emit);
    } else if (state == ZOO_CONNECTING_STATE ||
               state == ZOO_ASSOCIATING_STATE) {
        if (c->state == ZKR_STATE_CONNECTED ||
            c->state == ZKR_STATE_RECONNECTED) {
            emit = ZKR_STATE_SUSPENDED;
            c->suspended_at = zkr__now_ms();
            set_state(c, emit);
        }
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
        emit = ZKR_STATE_LOST;
        c->retired = c->zh;
        c->zh = NULL;
        c->session_id = 0;
        c->want_new_session = 1;
        set_state(c, emit);
    } else if (state == ZOO_AUTH_FAILED_STATE) {
        emit = ZKR_STATE_AUTH_FAILED;
        set_state(c, emit);
    }
    pthread_mutex_unlock(&c->mu);
    if (emit) {
        zkr__log(c, ZKR_LOG_INFO, "zkr: session 0x%llx %s",
                 (unsigned long long)c->session_id, zkr_state_name(emit));
        dispatch(c, emit);
    }
}

/* Caller holds c->mu. */
static int open_handle(zkr_client_t *c)
{
    zhandle_t *zh;
    zh = zookeeper_init2(c->hosts, global_watcher, c->session_timeout_ms,
                         NULL, c, ZOO_NO_LOG_CLIENTENV, zk_log_forward);
    if (!zh)
        return errno == EINVAL ? ZKR_EHOSTS : ZKR_ESYS;
    /* libzookeeper_mt resolves the connect string again before every poll
     * of its socket by default (a hosts-file read and a netlink round trip
     * per network event); resolve_interval_ms bounds that. */
    zoo_set_servers_resolution_delay(zh, c->resolve_interval_ms);
    if (c->digest) {
        int rc = zoo_add_auth(zh, "digest", c->digest,
                              (int)strlen(c->digest), NULL, NULL);
        if (rc != ZOK) {
            zookeeper_close(zh);
            return zkr__map_zk(rc);
        }
    }
    c->zh = zh;
    c->gen++;
    c->handle_connected = 0;
    return ZKR_OK;
}

static void close_retired(zkr_client_t *c)
{
    zhandle_t *old = c->retired;
    unsigned gen = c->gen;
    if (!old)
        return;
    c->retired = NULL;
    pthread_mutex_unlock(&c->mu);
    zookeeper_close(old); /* joins that handle's threads */
    zkr__sweep(c, gen, 0);
    pthread_mutex_lock(&c->mu);
}

/* The manager thread closes retired handles (never on their own completion
 * thread), opens new sessions after LOST, and turns a SUSPENDED state that
 * outlasts the session timeout into LOST. */
static void *manager_main(void *arg)
{
    zkr_client_t *c = arg;
    int backoff = 50;
    /* Listeners run here too (LOST by timer): they must not block it. */
    zkr__mark_callback_thread();
    pthread_mutex_lock(&c->mu);
    while (!c->closing) {
        if (c->want_new_session) {
            close_retired(c);
            if (c->closing)
                break;
            if (open_handle(c) == ZKR_OK) {
                c->want_new_session = 0;
                backoff = 50;
            } else {
                struct timespec ts;
                zkr__deadline(backoff, &ts);
                backoff = backoff < 2000 ? backoff * 2 : 2000;
                zkr__cond_wait(&c->cv, &c->mu, 1, &ts);
            }
            continue;
        }
        if (c->state == ZKR_STATE_SUSPENDED && c->lost_after_suspend) {
            int limit = c->negotiated_timeout > 0 ? c->negotiated_timeout
                                                  : c->session_timeout_ms;
            int64_t left = c->suspended_at + limit - zkr__now_ms();
            if (left <= 0) {
                c->retired = c->zh;
                c->zh = NULL;
                c->session_id = 0;
                c->want_new_session = 1;
                set_state(c, ZKR_STATE_LOST);
                pthread_mutex_unlock(&c->mu);
                zkr__log(c, ZKR_LOG_WARN,
                         "zkr: suspended for %d ms, session given up", limit);
                dispatch(c, ZKR_STATE_LOST);
                pthread_mutex_lock(&c->mu);
                continue;
            }
            struct timespec ts;
            zkr__deadline((int)left, &ts);
            zkr__cond_wait(&c->cv, &c->mu, 1, &ts);
            continue;
        }
        pthread_cond_wait(&c->cv, &c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

void zkr_client_opts_init(zkr_client_opts_t *o)
{
    const char *env;
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    env = getenv("ZKR_HOSTS");
    o->hosts = env && *env ? env : "127.0.0.1:2181";
    o->session_timeout_ms = 10000;
    o->connect_timeout_ms = 10000;
    o->acl = ZKR_ACL_OPEN;
    o->log_level = ZKR_LOG_WARN;
    o->lost_after_suspend = 1;
    o->resolve_interval_ms = 60000;
}

/* host:port[,host:port]*, ports 1..65535, no chroot suffix (zkr handles the
 * namespace itself so it can create it). */
int zkr__check_hosts(const char *hosts)
{
    const char *p = hosts;
    if (!*p)
        return ZKR_EHOSTS;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *colon = NULL;
        long port = 0;
        for (size_t i = 0; i < n; i++)
            if (p[i] == ':')
                colon = p + i;
        if (!colon || colon == p)
            return ZKR_EHOSTS;
        if (colon + 1 == p + n)
            return ZKR_EHOSTS;
        for (const char *q = colon + 1; q < p + n; q++) {
            if (*q < '0' || *q > '9')
                return ZKR_EHOSTS;
            port = port * 10 + (*q - '0');
            if (port > 65535)
                return ZKR_EHOSTS;
        }
        if (port == 0)
            return ZKR_EHOSTS;
        for (const char *q = p; q < colon; q++)
            if (*q == '/' || *q == ' ')
                return ZKR_EHOSTS;
        p += n;
        if (*p == ',') {
            p++;
            if (!*p)
                return ZKR_EHOSTS;
        }
    }
    return ZKR_OK;
}

static void client_destroy(zkr_client_t *c)
{
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->lmu);
    pthread_cond_destroy(&c->cv);
    while (c->listeners) {
        zkr__listener_t *l = c->listeners;
        c->listeners = l->next;
        free(l);
    }
    free(c->hosts);
    free(c->chroot);
    if (c->digest) {
        memset(c->digest, 0, strlen(c->digest));
        free(c->digest);
    }
    free(c);
}

void zkr__client_ref(zkr_client_t *c)
{
    pthread_mutex_lock(&c->mu);
    c->refs++;
    pthread_mutex_unlock(&c->mu);
}

void zkr__client_unref(zkr_client_t *c)
{
    int last;
    pthread_mutex_lock(&c->mu);
    last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last)
        client_destroy(c);
}

int zkr__client_closed(zkr_client_t *c)
{
    int v;
    pthread_mutex_lock(&c->mu);
    v = c->closing;
    pthread_mutex_unlock(&c->mu);
    return v;
}

unsigned zkr__client_gen(zkr_client_t *c)
{
    unsigned g;
    pthread_mutex_lock(&c->mu);
    g = c->gen;
    pthread_mutex_unlock(&c->mu);
    return g;
}

static const struct ACL_vector *acl_vector(zkr_acl_t acl)
{
    switch (acl) {
    case ZKR_ACL_CREATOR_ALL:
        return &ZOO_CREATOR_ALL_ACL;
    case ZKR_ACL_READ_ONLY:
        return &ZOO_READ_ACL_UNSAFE;
    case ZKR_ACL_OPEN:
        break;
    }
    return &ZOO_OPEN_ACL_UNSAFE;
}

const struct ACL_vector *zkr__client_acl(zkr_client_t *c)
{
    return acl_vector(c->acl);
}

/* A usable ACL choice: a zkr_acl_t value, and CREATOR_ALL only with
 * credentials (without them the server refuses every create). */
static int acl_valid(zkr_acl_t acl, int has_digest)
{
    switch (acl) {
    case ZKR_ACL_OPEN:
    case ZKR_ACL_READ_ONLY:
        return 1;
    case ZKR_ACL_CREATOR_ALL:
        return has_digest;
    }
    return 0;
}

int zkr__acl_pick(zkr_client_t *c, const zkr_acl_t *override,
                  const struct ACL_vector **out)
{
    if (!override) {
        *out = zkr__client_acl(c);
        return ZKR_OK;
    }
    /* the digest is fixed at zkr_client_new */
    if (!acl_valid(*override, c->digest != NULL))
        return ZKR_EINVAL;
    *out = acl_vector(*override);
    return ZKR_OK;
}

int zkr_client_wait_connected(zkr_client_t *c, int timeout_ms)
{
    struct timespec ts;
    int has, rc = ZKR_OK;
    if (!c)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    has = zkr__deadline(timeout_ms, &ts);
    pthread_mutex_lock(&c->mu);
    while (!c->closing && c->state != ZKR_STATE_CONNECTED &&
           c->state != ZKR_STATE_RECONNECTED) {
        if (c->state == ZKR_STATE_AUTH_FAILED) {
            rc = ZKR_EAUTHFAILED;
            break;
        }
        if (zkr__cond_wait(&c->cv, &c->mu, has, &ts) == ETIMEDOUT) {
            rc = ZKR_ETIMEDOUT;
            break;
        }
    }
    if (c->closing)
        rc = ZKR_ECLOSED;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int zkr_client_new(const zkr_client_opts_t *opts, zkr_client_t **out)
{
    zkr_client_opts_t defaults;
    zkr_client_t *c;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    if (!opts) {
        zkr_client_opts_init(&defaults);
        opts = &defaults;
    }
    if (!opts->hosts)
        return ZKR_EHOSTS;
    if (opts->session_timeout_ms <= 0 || opts->connect_timeout_ms < 0 ||
        opts->resolve_interval_ms < -1)
        return ZKR_EINVAL;
    if ((rc = zkr__check_hosts(opts->hosts)) != ZKR_OK)
        return rc;
    if (opts->chroot && *opts->chroot &&
        (rc = zkr_path_validate(opts->chroot)) != ZKR_OK)
        return rc;
    if (opts->digest && !strchr(opts->digest, ':'))
        return ZKR_EINVAL;
    if (!acl_valid(opts->acl, opts->digest != NULL))
        return ZKR_EINVAL;

    c = calloc(1, sizeof *c);
    if (!c)
        return ZKR_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->lmu, NULL);
    zkr__cond_init(&c->cv);
    c->refs = 1;
    c->hosts = strdup(opts->hosts);
    if (opts->chroot && *opts->chroot && strcmp(opts->chroot, "/") != 0) {
        c->chroot = strdup(opts->chroot);
        c->chroot_len = c->chroot ? strlen(c->chroot) : 0;
    }
    c->digest = opts->digest ? strdup(opts->digest) : NULL;
    c->session_timeout_ms = opts->session_timeout_ms;
    c->connect_timeout_ms = opts->connect_timeout_ms;
    c->acl = opts->acl;
    c->log_fn = opts->log_fn;
    c->log_ctx = opts->log_ctx;
    c->log_level = opts->log_level;
    c->lost_after_suspend = opts->lost_after_suspend;
    c->resolve_interval_ms = opts->resolve_interval_ms;
    if (!c->hosts || (opts->digest && !c->digest) ||
        (opts->chroot && *opts->chroot && strcmp(opts->chroot, "/") != 0 &&
         !c->chroot)) {
        client_destroy(c);
        return ZKR_ENOMEM;
    }
    log_register(c, 1);

    pthread_mutex_lock(&c->mu);
    rc = open_handle(c);
    pthread_mutex_unlock(&c->mu);
    if (rc != ZKR_OK) {
        log_register(c, 0);
        client_destroy(c);
        return rc;
    }
    if (pthread_create(&c->manager, NULL, manager_main, c) != 0) {
        zkr_client_free(c);
        return ZKR_ESYS;
    }
    c->manager_started = 1;

    rc = zkr_client_wait_connected(c, c->connect_timeout_ms);
    if (rc == ZKR_ETIMEDOUT)
        rc = ZKR_ECONNECT;
    if (rc == ZKR_OK && c->chroot) {
        /* Create the namespace itself, outside of it. */
        char *saved = c->chroot;
        c->chroot = NULL;
        c->chroot_len = 0;
        /* Look first: creating an existing node under a parent we may not
         * write to is refused even though nothing would change. */
        rc = zkr_exists(c, saved, NULL);
        if (rc == ZKR_ENONODE)
            rc = zkr_ensure_path(c, saved);
        c->chroot = saved;
        c->chroot_len = strlen(saved);
    }
    if (rc != ZKR_OK) {
        zkr_client_free(c);
        return rc;
    }
    *out = c;
    return ZKR_OK;
}

static void *deferred_free(void *arg)
{
    zkr_client_free(arg);
    return NULL;
}

void zkr_client_free(zkr_client_t *c)
{
    zhandle_t *zh, *retired;
    if (!c)
        return;
    if (zkr__in_callback()) {
        /* Closing joins the completion thread we are running on. */
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, deferred_free, c) == 0) {
            pthread_attr_destroy(&a);
            return;
        }
        pthread_attr_destroy(&a);
    }
    pthread_mutex_lock(&c->mu);
    c->closing = 1;
    zh = c->zh;
    retired = c->retired;
    c->zh = NULL;
    c->retired = NULL;
    c->state = ZKR_STATE_CLOSED;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->manager_started)
        pthread_join(c->manager, NULL);
    if (retired)
        zookeeper_close(retired);
    if (zh)
        zookeeper_close(zh);
    log_register(c, 0);
    zkr__sweep(c, 0, 1);
    {
        int was = zkr__set_callback_thread(1);
        dispatch(c, ZKR_STATE_CLOSED);
        zkr__set_callback_thread(was);
    }
    zkr__client_unref(c);
}

zkr_state_t zkr_client_state(const zkr_client_t *c)
{
    zkr_state_t s;
    if (!c)
        return ZKR_STATE_CLOSED;
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    s = c->state;
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return s;
}

int64_t zkr_client_session_id(const zkr_client_t *c)
{
    int64_t id;
    if (!c)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    id = c->session_id;
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return id;
}

unsigned zkr_client_session_count(const zkr_client_t *c)
{
    return c ? zkr__client_gen((zkr_client_t *)c) : 0;
}

int zkr_client_session_timeout(const zkr_client_t *c)
{
    int t;
    if (!c)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    t = c->negotiated_timeout;
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return t;
}

static void expire_watcher(zhandle_t *zh, int type, int state,
                           const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    if (type != ZOO_SESSION_EVENT)
        return;
    zkr__waiter_signal(ctx, state == ZOO_CONNECTED_STATE ? ZKR_OK
                            : state == ZOO_EXPIRED_SESSION_STATE
                                ? ZKR_ESESSIONEXPIRED
                                : ZKR_ECONNECT);
}

/* A second connection presents session @p id: ZKR_OK when it was taken
 * over (and closed again, which asks the server to end the session),
 * ZKR_ESESSIONEXPIRED when the server says the session is gone. */
static int twin_connect(zkr_client_t *c, const clientid_t *id)
{
    zkr__waiter_t w;
    zhandle_t *twin;
    int rc;
    zkr__waiter_init(&w);
    twin = zookeeper_init2(c->hosts, expire_watcher, c->session_timeout_ms,
                           id, &w, ZOO_NO_LOG_CLIENTENV, zk_log_forward);
    rc = twin ? zkr__waiter_wait(&w, c->connect_timeout_ms) : ZKR_ECONNECT;
    if (twin)
        zookeeper_close(twin);
    zkr__waiter_destroy(&w);
    return rc;
}

/* One attempt: a second connection presents our session id and password,
 * then closes, and the server ends the session. Meanwhile our own handle
 * is pointed at a closed port, so that it cannot take the session back
 * before the close arrives (it would win if it reconnected first). The
 * close is asynchronous on the server: our handle is let back only once a
 * further connection with the session id is told that it has expired. */
static int expire_once(zkr_client_t *c, int64_t sid)
{
    clientid_t id;
    int rc = ZKR_ECONNECT;
    pthread_mutex_lock(&c->mu);
    if (c->closing || !c->zh || c->session_id != sid) {
        pthread_mutex_unlock(&c->mu);
        return ZKR_ECLOSED;
    }
    id = *zoo_client_id(c->zh);
    zoo_set_servers(c->zh, "127.0.0.1:1");
    /* zoo_set_servers closed the connection at once: from here on the
     * server cannot reach this handle, nor it the server. */
    pthread_mutex_unlock(&c->mu);

    for (int tries = 0; tries < 5 && rc != ZKR_ESESSIONEXPIRED; tries++)
        rc = twin_connect(c, &id);

    pthread_mutex_lock(&c->mu);
    if (c->zh && c->session_id == sid)
        zoo_set_servers(c->zh, c->hosts);
    pthread_mutex_unlock(&c->mu);
    return rc == ZKR_ESESSIONEXPIRED ? ZKR_OK : ZKR_ECONNECT;
}

static int expire_attempts(zkr_client_t *c, int64_t sid);

int zkr_client_expire_session(zkr_client_t *c)
{
    int64_t sid;
    int rc;
    if (!c)
        return ZKR_EINVAL;
    if (zkr__in_callback())
        return ZKR_EDEADLK;
    sid = zkr_client_session_id(c);
    if (!sid)
        return ZKR_ECLOSED;
    /* Listeners run during the wait and may free the client: keep the
     * struct alive until we are done with it. */
    zkr__client_ref(c);
    rc = expire_attempts(c, sid);
    zkr__client_unref(c);
    return rc;
}

static int expire_attempts(zkr_client_t *c, int64_t sid)
{
    int rc = ZKR_ECONNECT;
    for (int attempt = 0; attempt < 3; attempt++) {
        struct timespec ts;
        int has;
        rc = expire_once(c, sid);
        if (rc == ZKR_ECLOSED)
            return zkr_client_session_id(c) != sid ? ZKR_OK : rc;
        if (rc != ZKR_OK)
            continue;
        /* Done when our handle has heard that the session is gone. */
        has = zkr__deadline(c->connect_timeout_ms, &ts);
        pthread_mutex_lock(&c->mu);
        while (!c->closing && c->session_id == sid &&
               zkr__cond_wait(&c->cv, &c->mu, has, &ts) != ETIMEDOUT)
            ;
        rc = c->session_id != sid || c->closing ? ZKR_OK : ZKR_ETIMEDOUT;
        pthread_mutex_unlock(&c->mu);
        if (rc == ZKR_OK)
            return ZKR_OK;
    }
    return rc == ZKR_ETIMEDOUT ? ZKR_ECONNECT : rc;
}

int zkr_client_server(zkr_client_t *c, char *buf, size_t len)
{
    const char *cur = NULL;
    int rc = ZKR_ECONNLOSS;
    if (!c || !buf || !len)
        return ZKR_EINVAL;
    pthread_mutex_lock(&c->mu);
    if (c->zh && (c->state == ZKR_STATE_CONNECTED ||
                  c->state == ZKR_STATE_RECONNECTED))
        cur = zoo_get_current_server(c->zh);
    if (cur) {
        rc = zkr__copy_out(cur, buf, len);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}
