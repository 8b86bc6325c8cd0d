/* SPDX-License-Identifier: Apache-2.0 */
/* Leader election: input checks, Curator's node layout, leadership in join
 * order, each candidate watching only its predecessor (asked of the server
 * with the wchc command), resign, callbacks exactly once, ZKR_EDEADLK from
 * callbacks, loss on session expiry and rejoin, node deleted under the leader, free while
 * leading and client freed first. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zktest.h"
#include <zkr/election.h>

typedef struct {
    pthread_mutex_t mu;
    int leader, lost, last_lost, joins, join_status;
    int probe; /* call blocking functions from on_leader */
    int probe_rc[4];
} rec_t;

static void rec_init(rec_t *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->join_status = 1;
}

static void on_leader(zkr_election_t *e, int status, void *ctx)
{
    rec_t *r = ctx;
    char *id = NULL;
    zkr_election_participant_t *p = NULL;
    int n = 0, probe;
    pthread_mutex_lock(&r->mu);
    r->leader++;
    probe = r->probe;
    pthread_mutex_unlock(&r->mu);
    (void)status;
    if (probe) {
        int a = zkr_election_await(e, 0);
        int b = zkr_election_join(e, 100);
        int c = zkr_election_participants(e, &p, &n);
        int d = zkr_election_leader(e, &id);
        pthread_mutex_lock(&r->mu);
        r->probe_rc[0] = a;
        r->probe_rc[1] = b;
        r->probe_rc[2] = c;
        r->probe_rc[3] = d;
        r->probe = 0;
        pthread_mutex_unlock(&r->mu);
    }
}

static void on_lost(zkr_election_t *e, int status, void *ctx)
{
    rec_t *r = ctx;
    (void)e;
    pthread_mutex_lock(&r->mu);
    r->lost++;
    r->last_lost = status;
    pthread_mutex_unlock(&r->mu);
}

static void on_join(zkr_election_t *e, int status, void *ctx)
{
    rec_t *r = ctx;
    (void)e;
    pthread_mutex_lock(&r->mu);
    r->joins++;
    r->join_status = status;
    pthread_mutex_unlock(&r->mu);
}

static int get(rec_t *r, const int *field)
{
    int v;
    pthread_mutex_lock(&r->mu);
    v = *field;
    pthread_mutex_unlock(&r->mu);
    return v;
}

/* Wait until *field reaches want; returns its value. */
static int wait_for(rec_t *r, const int *field, int want, int ms)
{
    for (int i = 0; i < ms / 20 && get(r, field) < want; i++)
        zkt_sleep_ms(20);
    return get(r, field);
}

static zkr_election_t *mk(zkr_client_t *c, const char *path, const char *id,
                          rec_t *r)
{
    zkr_election_opts_t o;
    zkr_election_t *e = NULL;
    zkr_election_opts_init(&o);
    o.id = id;
    o.on_leader = on_leader;
    o.on_lost = on_lost;
    o.ctx = r;
    if (zkr_election_new(c, path, &o, &e) != ZKR_OK)
        bail_out("zkr_election_new failed");
    return e;
}

static int matches(const char *s, const char *re)
{
    regex_t rx;
    int m;
    if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    m = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    return m;
}

/* The server's watches by session ("wchc"), or NULL. Free with free(). */
static char *server_watches(const char *hosts)
{
    struct sockaddr_in a;
    size_t cap = 65536, n = 0;
    char *buf = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0), good = 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)zkt_first_port(hosts));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        write(fd, "wchc", 4) == 4 && (buf = malloc(cap)) != NULL) {
        good = 1;
        for (;;) {
            ssize_t r;
            if (n + 1 == cap) {
                char *b = realloc(buf, cap * 2);
                if (!b) {
                    good = 0;
                    break;
                }
                buf = b;
                cap *= 2;
            }
            r = read(fd, buf + n, cap - n - 1);
            if (r <= 0)
                break;
            n += (size_t)r;
        }
    }
    if (fd >= 0)
        close(fd);
    if (!good) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Paths containing @p part that session @p sid watches, "|"-separated
 * into @p out; returns how many. */
static int session_watches(const char *wchc, int64_t sid, const char *part,
                           char *out, size_t len)
{
    char id[32];
    const char *s = wchc;
    int mine = 0, n = 0;
    snprintf(id, sizeof id, "0x%llx", (unsigned long long)sid);
    out[0] = '\0';
    while (s && *s) {
        const char *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(l < 511 ? l : 511), s);
        if (line[0] == '0' && line[1] == 'x')
            mine = strcmp(line, id) == 0;
        else if (mine && strstr(line, part)) {
            size_t u = strlen(out);
            const char *path = line + strspn(line, " \t");
            snprintf(out + u, len - u, "%s%s", n ? "|" : "", path);
            n++;
        }
        s = e ? e + 1 : NULL;
    }
    return n;
}

/* 1 if @p path ends with "/" @p name. */
static int ends_with_node(const char *path, const char *name)
{
    size_t a = strlen(path), b = strlen(name);
    return a > b && path[a - b - 1] == '/' && strcmp(path + a - b, name) == 0;
}

static void check_inputs(zkr_client_t *c)
{
    zkr_election_t *e = NULL;
    zkr_election_opts_t o;
    zkr_election_participant_t *p;
    char buf[8], *id, *big;
    int n;
    is(zkr_election_new(NULL, "/e", NULL, &e), ZKR_EINVAL, "new: NULL client");
    is(zkr_election_new(c, "/e", NULL, NULL), ZKR_EINVAL, "new: NULL out");
    is(zkr_election_new(c, "e", NULL, &e), ZKR_EBADPATH, "new: relative path");
    is(zkr_election_new(c, "/", NULL, &e), ZKR_EBADPATH, "new: root");
    is(zkr_election_new(c, "/a//b", NULL, &e), ZKR_EBADPATH, "new: empty component");
    is(zkr_election_new(c, NULL, NULL, &e), ZKR_EINVAL, "new: NULL path");
    big = malloc(ZKR_MAX_DATA + 2);
    memset(big, 'x', ZKR_MAX_DATA + 1);
    big[ZKR_MAX_DATA + 1] = '\0';
    zkr_election_opts_init(&o);
    o.id = big;
    is(zkr_election_new(c, "/e", &o, &e), ZKR_ETOOBIG, "new: id over 1 MB");
    free(big);
    ok(e == NULL, "out is NULL after a failed new");
    is(zkr_election_new(c, "/inputs", NULL, &e), ZKR_OK, "new with defaults");
    is(zkr_election_join_async(e, NULL, NULL), ZKR_EINVAL, "join_async: NULL cb");
    is(zkr_election_join_async(NULL, on_join, NULL), ZKR_EINVAL, "join_async: NULL e");
    is(zkr_election_join(NULL, 10), ZKR_EINVAL, "join: NULL e");
    is(zkr_election_resign(e), ZKR_ENOTHELD, "resign before join: ENOTHELD");
    is(zkr_election_resign(NULL), ZKR_EINVAL, "resign: NULL");
    is(zkr_election_await(e, 0), ZKR_ENOTHELD, "await before join: ENOTHELD");
    is(zkr_election_await(NULL, 0), ZKR_EINVAL, "await: NULL");
    is(zkr_election_node(e, buf, sizeof buf), ZKR_ENOTHELD, "node before join: ENOTHELD");
    is(zkr_election_node(e, NULL, 8), ZKR_EINVAL, "node: NULL buffer");
    is(zkr_election_participants(e, NULL, &n), ZKR_EINVAL, "participants: NULL out");
    is(zkr_election_participants(NULL, &p, &n), ZKR_EINVAL, "participants: NULL e");
    is(zkr_election_participants(e, &p, &n), ZKR_OK, "participants of an empty election");
    is(n, 0, "nobody takes part");
    is(zkr_election_leader(e, &id), ZKR_ENONODE, "leader of an empty election: ENONODE");
    is(zkr_election_leader(e, NULL), ZKR_EINVAL, "leader: NULL out");
    is(zkr_election_is_leader(NULL), 0, "is_leader(NULL) is 0");
    is(zkr_election_token(NULL), 0, "token(NULL) is 0");
    is(zkr_election_join(e, 5000), ZKR_OK, "join with the default id");
    is(zkr_election_node(e, buf, sizeof buf), ZKR_EINVAL, "node: small buffer");
    is(zkr_election_join(e, 5000), ZKR_EBUSY, "second join: EBUSY");
    zkr_election_free(e);
    zkr_election_free(NULL);
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *c1 = zkt_client(hosts, 4000);
    zkr_client_t *c2 = zkt_client(hosts, 4000);
    zkr_client_t *c3 = zkt_client(hosts, 4000);
    zkr_election_t *a, *b, *d, *x;
    rec_t ra, rb, rd, rx;
    zkr_election_participant_t *p;
    zkr_stat_t st;
    char node[128], path[256], *id, *data;
    size_t len;
    int n;
    int64_t ta, tb;

    check_inputs(c1);

    /* layout and first leader */
    rec_init(&ra);
    rec_init(&rb);
    rec_init(&rd);
    a = mk(c1, "/el/main", "alpha", &ra);
    b = mk(c2, "/el/main", "beta", &rb);
    d = mk(c3, "/el/main", "delta", &rd);
    is(zkr_election_join(a, 10000), ZKR_OK, "alpha joins (parents created)");
    is(zkr_election_await(a, 10000), ZKR_OK, "alpha leads");
    is(wait_for(&ra, &ra.leader, 1, 5000), 1, "on_leader ran once");
    is(zkr_election_is_leader(a), 1, "is_leader");
    ta = zkr_election_token(a);
    ok(ta > 0, "fencing token %lld", (long long)ta);
    is(zkr_election_node(a, node, sizeof node), ZKR_OK, "our node name");
    ok(matches(node, "^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-latch-[0-9]{10}$"),
       "Curator's protected latch name (%s)", node);
    snprintf(path, sizeof path, "/el/main/%s", node);
    is(zkr_get(c1, path, &data, &len, &st), ZKR_OK, "read our node");
    is_str(data, "alpha", "node data is the participant id");
    zkr_free(data);
    is(st.czxid, ta, "token is the node's czxid");
    is(st.ephemeral_owner, zkr_client_session_id(c1), "node is ephemeral, owned by our session");

    /* join order */
    is(zkr_election_join(b, 10000), ZKR_OK, "beta joins");
    is(zkr_election_join(d, 10000), ZKR_OK, "delta joins");
    is(zkr_election_await(b, 300), ZKR_ETIMEDOUT, "beta does not lead");
    is(zkr_election_is_leader(d), 0, "delta does not lead");
    is(zkr_election_token(b), 0, "no token for a standby");
    is(zkr_election_participants(b, &p, &n), ZKR_OK, "participants");
    is(n, 3, "three participants");
    if (n == 3) {
        is_str(p[0].id, "alpha", "first: alpha");
        is_str(p[1].id, "beta", "second: beta");
        is_str(p[2].id, "delta", "third: delta");
        ok(p[0].is_leader && !p[1].is_leader && !p[2].is_leader, "only the first leads");
        is(p[0].czxid, ta, "leader's czxid is its token");
        is(p[1].owner, zkr_client_session_id(c2), "beta's node owned by beta's session");
    }
    /* Each standby watches only the node in front of it (no herd), and
     * nothing else in the election: neither the election node's children
     * nor other candidates' nodes. The watch is set just after the join
     * completes: poll the server until it shows up. */
    if (n == 3) {
        char wb[1024] = "", wd[1024] = "";
        int nb = 0, nd = 0, good = 0;
        for (int t = 0; t < 250 && !good; t++) {
            char *w = server_watches(hosts);
            if (w) {
                nb = session_watches(w, zkr_client_session_id(c2), "/el/main",
                                     wb, sizeof wb);
                nd = session_watches(w, zkr_client_session_id(c3), "/el/main",
                                     wd, sizeof wd);
                good = nb == 1 && ends_with_node(wb, p[0].node) && nd == 1 &&
                       ends_with_node(wd, p[1].node);
                free(w);
            }
            if (!good)
                zkt_sleep_ms(20);
        }
        ok(nb == 1 && ends_with_node(wb, p[0].node),
           "beta watches only alpha's node (%d: %s)", nb, wb);
        ok(nd == 1 && ends_with_node(wd, p[1].node),
           "delta watches only beta's node (%d: %s)", nd, wd);
    }
    zkr_election_participants_free(p, n);
    is(zkr_election_leader(d, &id), ZKR_OK, "leader query");
    is_str(id, "alpha", "leader is alpha");
    zkr_free(id);

    /* resign: leadership passes to the next in line */
    is(zkr_election_resign(a), ZKR_OK, "alpha resigns");
    is(get(&ra, &ra.lost), 1, "alpha's on_lost ran during resign");
    is(get(&ra, &ra.last_lost), ZKR_ECANCELED, "with ZKR_ECANCELED");
    is(zkr_election_is_leader(a), 0, "alpha no longer leads");
    is(zkr_election_await(b, 10000), ZKR_OK, "beta leads next");
    tb = zkr_election_token(b);
    ok(tb > ta, "token grows (%lld > %lld)", (long long)tb, (long long)ta);
    is(zkr_election_is_leader(d), 0, "delta still waits");
    is(zkr_election_resign(a), ZKR_ENOTHELD, "second resign: ENOTHELD");

    /* rejoin after resign goes to the end of the line */
    is(zkr_election_join(a, 10000), ZKR_OK, "alpha joins again");
    is(zkr_election_participants(a, &p, &n), ZKR_OK, "participants again");
    ok(n == 3 && strcmp(p[0].id, "beta") == 0 && strcmp(p[2].id, "alpha") == 0,
       "alpha is now last");
    zkr_election_participants_free(p, n);

    /* EDEADLK from a callback, on the next leadership change */
    pthread_mutex_lock(&rd.mu);
    rd.probe = 1;
    pthread_mutex_unlock(&rd.mu);
    is(zkr_election_resign(b), ZKR_OK, "beta resigns");
    is(zkr_election_await(d, 10000), ZKR_OK, "delta leads");
    wait_for(&rd, &rd.leader, 1, 5000);
    is(get(&rd, &rd.probe_rc[0]), ZKR_EDEADLK, "await from on_leader: EDEADLK");
    is(get(&rd, &rd.probe_rc[1]), ZKR_EDEADLK, "join from on_leader: EDEADLK");
    is(get(&rd, &rd.probe_rc[2]), ZKR_EDEADLK, "participants from on_leader: EDEADLK");
    is(get(&rd, &rd.probe_rc[3]), ZKR_EDEADLK, "leader from on_leader: EDEADLK");

    /* session expiry: leadership lost, the next one leads, we rejoin at
     * the end with a new node */
    is(zkr_election_join(b, 10000), ZKR_OK, "beta back in line (after alpha)");
    is(zkr_election_node(d, node, sizeof node), ZKR_OK, "delta's node");
    is(zkr_client_expire_session(c3), ZKR_OK, "expire delta's session");
    /* The expiry helper lets the client reconnect for a moment before
     * the session is closed: delta may lead again briefly and then lose
     * its node (ENONODE). Every on_leader still pairs with one on_lost. */
    ok(wait_for(&rd, &rd.lost, 1, 10000) >= 1, "delta's on_lost ran");
    ok(get(&rd, &rd.last_lost) == ZKR_ECONNLOSS || get(&rd, &rd.last_lost) == ZKR_ESESSIONEXPIRED ||
           get(&rd, &rd.last_lost) == ZKR_ENONODE,
       "with ECONNLOSS, ESESSIONEXPIRED or ENONODE (%s)", zkr_err_name(get(&rd, &rd.last_lost)));
    is(zkr_election_await(a, 10000), ZKR_OK, "alpha leads after delta's expiry");
    is(zkr_client_wait_connected(c3, 10000), ZKR_OK, "delta has a new session");
    {
        char now[128] = "";
        int rejoined = 0;
        char seen[256] = "";
        for (int i = 0; i < 750 && !rejoined; i++) {
            if (zkr_election_node(d, now, sizeof now) == ZKR_OK &&
                strcmp(now, node) != 0 &&
                zkr_election_participants(a, &p, &n) == ZKR_OK) {
                rejoined = n == 3 && strcmp(p[2].id, "delta") == 0;
                snprintf(seen, sizeof seen, "%d: %s,%s,%s", n, n > 0 ? p[0].id : "",
                         n > 1 ? p[1].id : "", n > 2 ? p[2].id : "");
                zkr_election_participants_free(p, n);
            }
            if (!rejoined)
                zkt_sleep_ms(20);
        }
        ok(rejoined, "delta rejoined by itself with a new node, at the end (%s; %s)", seen, now);
    }
    is(zkr_election_is_leader(d), 0, "delta does not lead");
    is(get(&rd, &rd.leader), get(&rd, &rd.lost), "delta's leads and losses pair up");

    /* the leader's node deleted by someone else: lost, rejoin */
    is(zkr_election_node(a, node, sizeof node), ZKR_OK, "alpha's node");
    snprintf(path, sizeof path, "/el/main/%s", node);
    {
        int lost0 = get(&ra, &ra.lost);
        is(zkr_delete(c2, path, -1), ZKR_OK, "delete the leader's node from outside");
        is(wait_for(&ra, &ra.lost, lost0 + 1, 10000), lost0 + 1, "alpha's on_lost ran");
        is(get(&ra, &ra.last_lost), ZKR_ENONODE, "with ZKR_ENONODE");
        is(zkr_election_await(b, 10000), ZKR_OK, "beta leads next");
    }

    /* exactly-once join completion */
    rec_init(&rx);
    x = mk(c1, "/el/once", "x", &rx);
    is(zkr_election_join_async(x, on_join, &rx), ZKR_OK, "join_async");
    is(wait_for(&rx, &rx.joins, 1, 10000), 1, "join callback ran");
    is(get(&rx, &rx.join_status), ZKR_OK, "with ZKR_OK");
    is(zkr_election_await(x, 10000), ZKR_OK, "x leads its own election");
    zkr_election_free(x);
    is(get(&rx, &rx.joins), 1, "join callback not run again by free");
    is(get(&rx, &rx.lost), 1, "free while leading: on_lost once");
    is(get(&rx, &rx.last_lost), ZKR_ECANCELED, "with ZKR_ECANCELED");
    rec_init(&rx);
    x = mk(c1, "/el/once", "y", &rx);
    is(zkr_election_join_async(x, on_join, &rx), ZKR_OK, "join_async then resign at once");
    zkr_election_resign(x);
    is(wait_for(&rx, &rx.joins, 1, 5000), 1, "join callback ran exactly once");
    ok(get(&rx, &rx.join_status) == ZKR_ECANCELED || get(&rx, &rx.join_status) == ZKR_OK,
       "with ECANCELED or OK (%s)", zkr_err_name(get(&rx, &rx.join_status)));
    zkr_election_free(x);
    is(get(&rx, &rx.joins), 1, "still once after free");
    zkt_sleep_ms(200);
    {
        zkr_election_t *q = mk(c2, "/el/once", "q", &rx);
        is(zkr_election_participants(q, &p, &n), ZKR_OK, "list after resign and free");
        is(n, 0, "nothing left behind");
        zkr_election_participants_free(p, n);
        zkr_election_free(q);
    }

    zkr_election_free(a);
    zkr_election_free(b);

    /* client freed before the election */
    rec_init(&rx);
    x = mk(c3, "/el/closed", "z", &rx);
    is(zkr_election_join(x, 10000), ZKR_OK, "z joins");
    is(zkr_election_await(x, 10000), ZKR_OK, "z leads");
    zkr_client_free(c3);
    is(get(&rx, &rx.lost), 1, "client freed: on_lost once");
    is(get(&rx, &rx.last_lost), ZKR_ECLOSED, "with ZKR_ECLOSED");
    is(zkr_election_join_async(x, on_join, &rx), ZKR_ECLOSED, "join after client free: ECLOSED");
    is(zkr_election_await(x, 0), ZKR_ECLOSED, "await after client free: ECLOSED");
    zkr_election_free(x);
    is(get(&rx, &rx.lost), 1, "no second on_lost from free");

    zkr_election_free(d);
    zkr_client_free(c1);
    zkr_client_free(c2);
    return done_testing();
}
