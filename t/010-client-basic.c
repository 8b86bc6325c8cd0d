/* SPDX-License-Identifier: Apache-2.0 */
/* Client layer against a real standalone server: connect, CRUD with
 * versions, ensure_path, namespaces, bad input, unreachable servers. */
#include <stdlib.h>
#include <string.h>

#include "zktest.h"

/* What a log callback heard. */
struct logrec {
    pthread_mutex_t mu;
    int n, connected, errors;
    zkr_log_level_t worst; /* most verbose level delivered */
};

static void log_cb(void *ctx, zkr_log_level_t level, const char *msg)
{
    struct logrec *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->n++;
    if (strstr(msg, "CONNECTED"))
        r->connected++;
    if (level == ZKR_LOG_ERROR)
        r->errors++;
    if (level > r->worst)
        r->worst = level;
    pthread_mutex_unlock(&r->mu);
}

static int logrec_get(struct logrec *r, int *field)
{
    int v;
    pthread_mutex_lock(&r->mu);
    v = *field;
    pthread_mutex_unlock(&r->mu);
    return v;
}

/* The log callback gets the library's messages up to the chosen level and
 * nothing above it; ZKR_LOG_NONE keeps it silent. */
static void logging(const char *hosts)
{
    static struct logrec info = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0};
    static struct logrec none = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0};
    static struct logrec err = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0};
    zkr_client_opts_t o;
    zkr_client_t *c = NULL, *q = NULL;
    int i;

    zkr_client_opts_init(&o);
    ok(o.log_fn == NULL && o.log_level == ZKR_LOG_WARN,
       "default: no log callback, level WARN");
    o.hosts = hosts;
    o.log_fn = log_cb;
    o.log_ctx = &none;
    o.log_level = ZKR_LOG_NONE;
    is(zkr_client_new(&o, &q), ZKR_OK, "connect with a silent logger");
    o.log_ctx = &info;
    o.log_level = ZKR_LOG_INFO;
    is(zkr_client_new(&o, &c), ZKR_OK, "connect with an INFO logger");
    /* the message may be delivered just after zkr_client_new returns */
    for (i = 0; i < 500 && logrec_get(&info, &info.connected) == 0; i++)
        zkt_sleep_ms(10);
    ok(logrec_get(&info, &info.connected) >= 1,
       "INFO logger heard the session start");
    zkr_client_free(c);
    zkr_client_free(q);
    ok(logrec_get(&info, &info.n) >= 1 && info.worst <= ZKR_LOG_INFO,
       "nothing above INFO was delivered (%d messages)", info.n);
    is(logrec_get(&none, &none.n), 0, "ZKR_LOG_NONE delivers nothing");

    /* the ZooKeeper client's own errors reach the callback too */
    zkr_client_opts_init(&o);
    o.hosts = "127.0.0.1:1";
    o.connect_timeout_ms = 700;
    o.log_fn = log_cb;
    o.log_ctx = &err;
    o.log_level = ZKR_LOG_ERROR;
    is(zkr_client_new(&o, &c), ZKR_ECONNECT, "unreachable, with a logger");
    ok(logrec_get(&err, &err.errors) >= 1 && err.worst == ZKR_LOG_ERROR,
       "connection errors were logged at ERROR only (%d)", err.errors);
}

static void bad_input(zkr_client_t *c)
{
    char *data = NULL;
    size_t len;
    char **names;
    int n;
    char *big = calloc(1, ZKR_MAX_DATA + 10);

    is(zkr_create(NULL, "/x", NULL, 0, 0, NULL), ZKR_EINVAL, "create NULL client");
    is(zkr_create(c, NULL, NULL, 0, 0, NULL), ZKR_EINVAL, "create NULL path");
    is(zkr_create(c, "x", NULL, 0, 0, NULL), ZKR_EBADPATH, "create relative path");
    is(zkr_create(c, "/x/", NULL, 0, 0, NULL), ZKR_EBADPATH, "create trailing slash");
    is(zkr_create(c, "/x", NULL, 5, 0, NULL), ZKR_EINVAL, "create NULL data with length");
    is(zkr_create(c, "/big", big, ZKR_MAX_DATA + 1, 0, NULL), ZKR_ETOOBIG, "create over 1 MB");
    is(zkr_set(c, "/big", big, ZKR_MAX_DATA + 1, -1, NULL), ZKR_ETOOBIG, "set over 1 MB");
    is(zkr_get(c, "/a//b", &data, &len, NULL), ZKR_EBADPATH, "get bad path");
    is(zkr_get(c, "/x", NULL, &len, NULL), ZKR_EINVAL, "get NULL out");
    is(zkr_children(c, "/", NULL, &n), ZKR_EINVAL, "children NULL out");
    is(zkr_children(c, "bad", &names, &n), ZKR_EBADPATH, "children bad path");
    is(zkr_delete(c, "/..", -1), ZKR_EBADPATH, "delete dot-dot");
    is(zkr_ensure_path(c, "/a/../b"), ZKR_EBADPATH, "ensure bad path");
    is(zkr_create(c, "/", NULL, 0, 0, NULL), ZKR_ENODEEXISTS, "create root");
    is(zkr_client_add_listener(c, NULL, NULL), ZKR_EINVAL, "listener NULL cb");
    is(zkr_client_remove_listener(c, zkt_states_cb, c), ZKR_ENONODE, "remove unknown listener");
    free(big);
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *c, *raw;
    zkr_client_opts_t o;
    zkr_stat_t st, st2;
    char *created = NULL, *data = NULL, **names = NULL;
    size_t len = 0;
    int n = 0, rc;

    c = zkt_client(hosts, 4000);
    ok(c != NULL, "connected to %s", hosts);
    is(zkr_client_state(c), ZKR_STATE_CONNECTED, "state is CONNECTED");
    ok(zkr_client_session_id(c) != 0, "session id is set");
    is(zkr_client_session_count(c), 1, "one session so far");
    ok(zkr_client_session_timeout(c) > 0, "negotiated timeout %d ms",
       zkr_client_session_timeout(c));

    /* create / get / set / delete with versions */
    is(zkr_create(c, "/node", "hello", 5, ZKR_PERSISTENT, &created), ZKR_OK, "create");
    is_str(created, "/node", "created path is relative to the namespace");
    zkr_free(created);
    is(zkr_create(c, "/node", "x", 1, 0, NULL), ZKR_ENODEEXISTS, "create twice");
    is(zkr_get(c, "/node", &data, &len, &st), ZKR_OK, "get");
    is(len, 5, "length");
    is_str(data, "hello", "data round trip");
    is(st.version, 0, "version 0");
    ok(st.czxid > 0, "czxid set");
    zkr_free(data);
    is(zkr_set(c, "/node", "world!", 6, 0, &st2), ZKR_OK, "set with version");
    is(st2.version, 1, "version bumped");
    is(zkr_set(c, "/node", "no", 2, 0, NULL), ZKR_EBADVERSION, "stale version rejected");
    is(zkr_exists(c, "/node", &st), ZKR_OK, "exists");
    is(st.data_length, 6, "stat data length");
    is(zkr_exists(c, "/nope", NULL), ZKR_ENONODE, "exists on missing node");
    is(zkr_get(c, "/nope", &data, &len, NULL), ZKR_ENONODE, "get missing");
    ok(data == NULL, "no data on error");
    is(zkr_delete(c, "/node", 0), ZKR_EBADVERSION, "delete with stale version");
    is(zkr_delete(c, "/node", 1), ZKR_OK, "delete with version");
    is(zkr_delete(c, "/node", -1), ZKR_ENONODE, "delete twice");

    /* empty data is returned as an empty string */
    is(zkr_create(c, "/empty", NULL, 0, 0, NULL), ZKR_OK, "create empty");
    is(zkr_get(c, "/empty", &data, &len, NULL), ZKR_OK, "get empty");
    ok(data && len == 0 && data[0] == '\0', "empty data is an empty string");
    zkr_free(data);

    /* sequential and ephemeral */
    is(zkr_ensure_path(c, "/seq"), ZKR_OK, "ensure /seq");
    is(zkr_create(c, "/seq/n-", NULL, 0, ZKR_EPHEMERAL | ZKR_SEQUENTIAL, &created), ZKR_OK,
       "create ephemeral sequential");
    ok(created && strncmp(created, "/seq/n-", 7) == 0 && strlen(created) == 17,
       "sequence suffix appended: %s", created ? created : "");
    {
        int32_t seq = -1;
        is(zkr_seq_parse(created, &seq), ZKR_OK, "suffix parses");
        is(seq, 0, "first sequence is 0");
    }
    zkr_free(created);
    is(zkr_create(c, "/seq/n-", NULL, 0, ZKR_SEQUENTIAL, NULL), ZKR_OK, "second sequential");
    is(zkr_children(c, "/seq", &names, &n), ZKR_OK, "children");
    is(n, 2, "two children");
    zkr_strings_free(names, n);
    is(zkr_create(c, "/seq/n-0000000000/child", NULL, 0, 0, NULL), ZKR_ENOCHILDRENFOREPHEMERALS,
       "ephemeral nodes take no children");

    /* ensure_path is idempotent and creates every level */
    is(zkr_ensure_path(c, "/deep/er/and/deeper"), ZKR_OK, "ensure deep path");
    is(zkr_exists(c, "/deep/er/and/deeper", NULL), ZKR_OK, "deep path exists");
    is(zkr_ensure_path(c, "/deep/er/and/deeper"), ZKR_OK, "ensure again is fine");
    is(zkr_ensure_path(c, "/"), ZKR_OK, "ensure root");
    is(zkr_delete(c, "/deep", -1), ZKR_ENOTEMPTY, "delete non-empty");
    is(zkr_delete_recursive(c, "/deep"), ZKR_OK, "delete recursive");
    is(zkr_exists(c, "/deep", NULL), ZKR_ENONODE, "gone");

    is(zkr_client_flush(c, 5000), ZKR_OK, "flush");
    is(zkr_client_flush(NULL, 5000), ZKR_EINVAL, "flush NULL");
    bad_input(c);

    /* the namespace really is a subtree of the server */
    raw = zkt_client_ns(hosts, 4000, NULL);
    {
        char *p;
        zkr_path_join(zkt_ns(), "empty", &p);
        is(zkr_exists(raw, p, NULL), ZKR_OK, "namespace maps to %s", p);
        zkr_free(p);
    }
    is(zkr_delete_recursive(raw, zkt_ns()), ZKR_OK, "clean the namespace");
    zkr_client_free(raw);
    zkr_client_free(c);

    logging(hosts);

    /* bad connect strings */
    zkr_client_opts_init(&o);
    c = (zkr_client_t *)&o; /* must be cleared on error */
    o.hosts = "no-port-here";
    is(zkr_client_new(&o, &c), ZKR_EHOSTS, "host without port");
    ok(c == NULL, "out cleared on error");
    o.hosts = "127.0.0.1:99999";
    is(zkr_client_new(&o, &c), ZKR_EHOSTS, "port out of range");
    o.hosts = "127.0.0.1:2181,";
    is(zkr_client_new(&o, &c), ZKR_EHOSTS, "trailing comma");
    o.hosts = "";
    is(zkr_client_new(&o, &c), ZKR_EHOSTS, "empty hosts");
    o.hosts = NULL;
    is(zkr_client_new(&o, &c), ZKR_EHOSTS, "NULL hosts");
    o.hosts = hosts;
    o.chroot = "bad";
    is(zkr_client_new(&o, &c), ZKR_EBADPATH, "bad chroot");
    o.chroot = NULL;
    o.session_timeout_ms = 0;
    is(zkr_client_new(&o, &c), ZKR_EINVAL, "zero session timeout");
    o.session_timeout_ms = 10000;
    o.resolve_interval_ms = -2;
    is(zkr_client_new(&o, &c), ZKR_EINVAL, "resolve_interval_ms below -1");
    /* the other name-resolution settings connect and serve requests */
    for (int v = -1; v <= 0; v++) {
        o.resolve_interval_ms = v;
        rc = zkr_client_new(&o, &c);
        is(rc, ZKR_OK, "resolve_interval_ms %d connects", v);
        if (rc == ZKR_OK) {
            is(zkr_exists(c, "/", NULL), ZKR_OK,
               "resolve_interval_ms %d: a read is answered", v);
            zkr_client_free(c);
        } else {
            ok(0, "resolve_interval_ms %d: a read is answered", v);
        }
    }
    is(zkr_client_new(NULL, NULL), ZKR_EINVAL, "NULL out");

    /* unreachable server: a port nobody listens on (the server's own port
     * after it is stopped would race; 1 is privileged and closed) */
    zkr_client_opts_init(&o);
    o.hosts = "127.0.0.1:1";
    o.connect_timeout_ms = 700;
    rc = zkr_client_new(&o, &c);
    is(rc, ZKR_ECONNECT, "unreachable server gives ECONNECT");
    zkr_client_free(NULL);
    ok(1, "zkr_client_free(NULL) is harmless");
    return done_testing();
}
