/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the parsers of node names that come from ZooKeeper
 * listings. The input is a listing, names separated by '\n'; its first
 * bytes also give a sequence number and a uuid for names built the way
 * the recipes, Curator and kazoo build them. Invariants:
 *  - parse(format(seq)) == seq for every sequential name those create;
 *  - a parsed suffix is the server's "%010d" of the value, or one of the
 *    other forms the parser takes: ten digits after "--" or "_-" are
 *    negative (for the server's "-2147483648" after "lock-"), so
 *    "--0000000005" is -5 (the server writes "-000000005"), and
 *    "-000000000" is 0;
 *  - zkr_seq_parse, the internal parser and every listing agree;
 *  - lock, election and queue listings keep exactly the names their
 *    parsers accept, with their sequence numbers, sorted when the numbers
 *    are totally ordered by the wrap-tolerant comparison;
 *  - a lease listing finds every lease it holds, sharded or not;
 *  - shard names: "s-" and digits, and every "s-%04d" is one;
 *  - join(parent(p), basename(p)) == p for every valid path p but "/". */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reach.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_NAMES 64

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* The parser's rules, restated: which names it must accept. */
static void check_seq(const char *s)
{
    size_t len = strlen(s);
    int32_t v = 0, w = 0;
    int rc = zkr_seq_parse(s, &v);
    char canon[24];
    if ((rc == ZKR_OK) != (zkr__seq_of(s, &w) == 0) ||
        (rc == ZKR_OK && v != w))
        abort();
    if (len >= 10 && digits(s + len - 10, 10)) {
        long long val = atoll(s + len - 10);
        int neg = len >= 12 && s[len - 11] == '-' &&
                  (s[len - 12] == '-' || s[len - 12] == '_');
        if ((rc == ZKR_OK) != (neg ? val <= 2147483648LL : val <= INT32_MAX))
            abort();
        if (rc == ZKR_OK && v != (neg ? -val : val))
            abort();
    } else if (len >= 10 && s[len - 10] == '-' && digits(s + len - 9, 9)) {
        if (rc != ZKR_OK || v != -atoll(s + len - 9))
            abort();
    } else if (rc == ZKR_OK) {
        abort(); /* nothing else is a sequence suffix */
    }
    if (rc != ZKR_OK)
        return;
    snprintf(canon, sizeof canon, "%010d", v);
    if (strlen(canon) <= len && !strcmp(s + len - strlen(canon), canon))
        return; /* format(parse(x)) is the tail of x */
    if (v == 0 && !strcmp(s + len - 10, "-000000000"))
        return; /* "-0" */
    /* the other form: "--0000000005" is -5 (the server writes -000000005) */
    snprintf(canon, sizeof canon, "%010lld", -(long long)v);
    if (!(len >= 12 && s[len - 11] == '-' &&
          (s[len - 12] == '-' || s[len - 12] == '_') &&
          !strcmp(s + len - 10, canon)))
        abort();
}

static void check_cmp(int32_t a, int32_t b)
{
    int ab = zkr__seq_cmp(a, b), ba = zkr__seq_cmp(b, a);
    /* antisymmetric, also exactly 2^31 apart (serial numbers leave that
     * case open; zkr__seq_cmp breaks the tie by value) */
    if (ab != -ba || (a == b) != (ab == 0) || zkr__seq_cmp(a, a) != 0)
        abort();
    /* the successor sorts after, also across the wrap */
    if (zkr__seq_cmp(a, (int32_t)((uint32_t)a + 1)) >= 0)
        abort();
    if ((a >= 0) == (b >= 0) && ab != (a < b ? -1 : a > b))
        abort(); /* without a wrap between them: the natural order */
}

/* Names created by the recipes (and their Curator and kazoo peers) with
 * sequence seq appended the way the server does. */
static void check_formats(int32_t seq, const char *uuid, const char *hex)
{
    static const struct {
        const char *fmt; /* %s: the uuid (or hex for kazoo) */
        const zkr__lockspec_t *spec;
        int kind;
        int latch;
        int kazoo;
    } f[] = {
        {"_c_%s-lock-", &zkr__spec_mutex, ZKR__LK_EXCLUSIVE, 0, 0},
        {"_c_%s-__READ__", &zkr__spec_read, ZKR__LK_SHARED, 0, 0},
        {"_c_%s-__WRIT__", &zkr__spec_write, ZKR__LK_EXCLUSIVE, 0, 0},
        {"_c_%s-latch-", NULL, 0, 1, 0},
        {"_c_%s-lease-", NULL, 0, 0, 0},
        {"__READ__", &zkr__spec_read, ZKR__LK_SHARED, 0, 0},
        {"__WRIT__", &zkr__spec_write, ZKR__LK_EXCLUSIVE, 0, 0},
        {"latch-", NULL, 0, 1, 0},
        {"%s__lock__", &zkr__spec_mutex, ZKR__LK_EXCLUSIVE, 0, 1},
        {"qn-", NULL, 0, 0, 0},
        {"r-", NULL, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        char prefix[80], name[100];
        char *one[1] = {name};
        const char *got_name[1];
        int32_t v = 0, got_seq[1];
        snprintf(prefix, sizeof prefix, f[i].fmt, f[i].kazoo ? hex : uuid);
        snprintf(name, sizeof name, "%s%010d", prefix, seq);
        if (zkr_seq_parse(name, &v) != ZKR_OK || v != seq)
            abort();
        /* which lock kinds claim the name */
        if (zkr__spec_mutex.classify(name) !=
                (f[i].spec == &zkr__spec_mutex ? ZKR__LK_EXCLUSIVE : 0) ||
            zkr__spec_read.classify(name) !=
                (f[i].spec == &zkr__spec_read || f[i].spec == &zkr__spec_write
                     ? f[i].kind
                     : 0))
            abort();
        if (f[i].spec) {
            int k = 0;
            zkr__lnode_t *n = fz_lockdir_sort(f[i].spec, one, 1, &k);
            if (n && (k != 1 || n[0].seq != seq || n[0].kind != f[i].kind))
                abort();
            free(n);
        }
        if (fz_election_collect(one, 1, got_name, got_seq) !=
                (f[i].latch ? 1 : 0) ||
            (f[i].latch && got_seq[0] != seq))
            abort();
        if (!strcmp(f[i].fmt, "qn-")) {
            fz_qlist_t *l = fz_qlist_new(one, 1, 1);
            if (l && (fz_qlist_count(l) != 1 || fz_qlist_seq(l, 0) != seq))
                abort();
            fz_qlist_free(l);
        }
    }
}

static int32_t seq_or(const char *s, int32_t dflt)
{
    int32_t v;
    return zkr__seq_of(s, &v) == 0 ? v : dflt;
}

static int same_sign(const int32_t *v, int n)
{
    for (int i = 1; i < n; i++)
        if ((v[i] >= 0) != (v[0] >= 0))
            return 0;
    return 1;
}

static void check_sorted(const int32_t *v, int n)
{
    if (!same_sign(v, n))
        return; /* the order is a cycle across the wrap: any is as good */
    for (int i = 1; i < n; i++)
        if (v[i - 1] > v[i])
            abort();
}

static void check_lockdir(char *const *names, int n)
{
    const zkr__lockspec_t *specs[] = {&zkr__spec_mutex, &zkr__spec_read,
                                      &zkr__spec_write};
    for (size_t s = 0; s < 3; s++) {
        int k = 0, want = 0;
        int32_t seqs[MAX_NAMES];
        zkr__lnode_t *v = fz_lockdir_sort(specs[s], names, n, &k);
        if (!v)
            continue;
        for (int i = 0; i < n; i++) {
            int kind = specs[s]->classify(names[i]);
            /* the classifiers restated */
            int expect = specs[s] == &zkr__spec_mutex
                             ? (strstr(names[i], "-lock-") ||
                                strstr(names[i], "__lock__"))
                                   ? ZKR__LK_EXCLUSIVE
                                   : 0
                         : strstr(names[i], "__WRIT__") ? ZKR__LK_EXCLUSIVE
                         : strstr(names[i], "__READ__") ? ZKR__LK_SHARED
                                                        : 0;
            int32_t q;
            if (kind != expect)
                abort();
            if (kind && zkr__seq_of(names[i], &q) == 0)
                want++;
        }
        if (k != want)
            abort();
        for (int i = 0; i < k; i++) {
            if (v[i].kind != specs[s]->classify(v[i].name) ||
                v[i].seq != seq_or(v[i].name, ~v[i].seq))
                abort();
            seqs[i] = v[i].seq;
        }
        check_sorted(seqs, k);
        free(v);
    }
}

static void check_election(char *const *names, int n)
{
    const char *got[MAX_NAMES];
    int32_t seqs[MAX_NAMES];
    int k = fz_election_collect(names, n, got, seqs), want = 0;
    if (k < 0)
        return;
    for (int i = 0; i < n; i++) {
        int32_t q;
        if (strstr(names[i], "latch-") && zkr__seq_of(names[i], &q) == 0)
            want++;
    }
    if (k != want)
        abort();
    for (int i = 0; i < k; i++)
        if (!strstr(got[i], "latch-") || seqs[i] != seq_or(got[i], ~seqs[i]))
            abort();
    check_sorted(seqs, k);
}

static int shard_prefix(const char *s)
{
    /* length of a leading shard name followed by '-', or 0 */
    size_t i = 2;
    if (strncmp(s, "s-", 2) != 0)
        return 0;
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    return i > 2 && s[i] == '-' ? (int)i : 0;
}

static void check_queue(char *const *names, int n)
{
    fz_qlist_t *items = fz_qlist_new(names, n, 1);
    fz_qlist_t *leases = fz_qlist_new(names, n, 0);
    if (items) {
        int k = 0;
        for (int i = 0; i < n; i++) {
            int32_t q;
            if (strncmp(names[i], "qn-", 3) != 0 ||
                zkr__seq_of(names[i], &q) != 0)
                continue;
            /* items keep the listing's order */
            if (k >= fz_qlist_count(items) ||
                strcmp(fz_qlist_name(items, k), names[i]) != 0 ||
                fz_qlist_seq(items, k) != q)
                abort();
            k++;
        }
        if (k != fz_qlist_count(items))
            abort();
    }
    if (leases) {
        if (fz_qlist_count(leases) != n)
            abort();
        for (int i = 0; i < n; i++) {
            int sl = shard_prefix(names[i]);
            if (!fz_qlist_leased(leases, "", names[i]))
                abort();
            /* "s-0003-qn-..." is the lease of item "qn-..." of s-0003; the
             * lookup key is built in a 256-byte buffer */
            if (sl && strlen(names[i]) < 256) {
                char shard[256];
                memcpy(shard, names[i], (size_t)sl);
                shard[sl] = '\0';
                if (!fz_qlist_leased(leases, shard, names[i] + sl + 1))
                    abort();
            }
        }
        /* and nothing else */
        if (n > 0 && strlen(names[0]) < 200) {
            char other[256];
            int listed = 0;
            snprintf(other, sizeof other, "%s~", names[0]);
            for (int i = 0; i < n; i++)
                listed |= !strcmp(names[i], other);
            if (fz_qlist_leased(leases, "", other) != listed)
                abort();
        }
    }
    fz_qlist_free(items);
    fz_qlist_free(leases);
}

static void check_shard(const char *s, unsigned n)
{
    char name[16];
    int expect =
        strncmp(s, "s-", 2) == 0 && s[2] && digits(s + 2, strlen(s + 2));
    if (fz_queue_is_shard_name(s) != expect)
        abort();
    snprintf(name, sizeof name, "s-%04u", n % 10000); /* as queueput.c */
    if (!fz_queue_is_shard_name(name))
        abort();
}

static void check_path(const char *s)
{
    char *parent, *joined = NULL, buf[8];
    const char *base = zkr__path_basename(s);
    int rc;
    if (base < s || base > s + strlen(s) || strchr(base, '/'))
        abort();
    rc = zkr__copy_out(s, buf, sizeof buf);
    if ((rc == ZKR_OK) != (strlen(s) < sizeof buf) ||
        (rc == ZKR_OK && strcmp(buf, s) != 0))
        abort();
    parent = zkr__path_parent(s);
    if (!strchr(s, '/') != !parent)
        abort();
    if (zkr_path_validate(s) == ZKR_OK && strcmp(s, "/") != 0 && parent) {
        if (zkr_path_validate(parent) != ZKR_OK ||
            zkr_path_join(parent, base, &joined) != ZKR_OK ||
            strcmp(joined, s) != 0)
            abort();
        zkr_free(joined);
    }
    free(parent);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), *names[MAX_NAMES], *p;
    char uuid[37], hex[33];
    uint8_t b[16] = {0};
    int32_t seq = 0;
    int n = 0;
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    memcpy(b, data, size < sizeof b ? size : sizeof b);
    memcpy(&seq, b, sizeof seq);
    snprintf(uuid, sizeof uuid,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
    check_formats(seq, uuid, hex);
    check_cmp(seq, (int32_t)((uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 |
                             (uint32_t)b[6] << 8 | b[7]));

    check_seq(s);
    check_path(s);
    for (p = s; n < MAX_NAMES;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        names[n++] = p;
        check_seq(p);
        check_shard(p, (unsigned)seq);
        check_path(p);
        if (!nl)
            break;
        p = nl + 1;
    }
    check_lockdir(names, n);
    check_election(names, n);
    check_queue(names, n);
    free(s);
    return 0;
}
