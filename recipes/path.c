/* SPDX-License-Identifier: Apache-2.0 */
/* Path validation and joining, sequence suffixes, protected-name UUIDs. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define ZKR_PATH_MAX 4096

int zkr_path_validate(const char *path)
{
    size_t len;
    if (!path)
        return ZKR_EINVAL;
    len = strlen(path);
    if (len == 0 || path[0] != '/' || len >= ZKR_PATH_MAX)
        return ZKR_EBADPATH;
    if (len == 1)
        return ZKR_OK;
    if (path[len - 1] == '/')
        return ZKR_EBADPATH;
    /* Walk components: none may be empty, "." or "..". */
    const char *p = path + 1;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0)
            return ZKR_EBADPATH;
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return ZKR_EBADPATH;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)p[i];
            if (ch < 0x20 || ch == 0x7f)
                return ZKR_EBADPATH;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return ZKR_OK;
}

int zkr_path_join(const char *parent, const char *child, char **out)
{
    int rc;
    size_t pl, cl;
    char *s;
    if (!parent || !child || !out)
        return ZKR_EINVAL;
    *out = NULL;
    if ((rc = zkr_path_validate(parent)) != ZKR_OK)
        return rc;
    if (child[0] == '\0' || strchr(child, '/'))
        return ZKR_EBADPATH;
    pl = strlen(parent);
    cl = strlen(child);
    if (pl == 1)
        pl = 0; /* parent is the root */
    s = malloc(pl + cl + 2);
    if (!s)
        return ZKR_ENOMEM;
    memcpy(s, parent, pl);
    s[pl] = '/';
    memcpy(s + pl + 1, child, cl + 1);
    if ((rc = zkr_path_validate(s)) != ZKR_OK) {
        free(s);
        return rc;
    }
    *out = s;
    return ZKR_OK;
}

char *zkr__path_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *s;
    if (!slash)
        return NULL;
    if (slash == path)
        return strdup("/");
    s = strndup(path, (size_t)(slash - path));
    return s;
}

const char *zkr__path_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int zkr__seq_of(const char *name, int32_t *seq)
{
    size_t len = strlen(name);
    const char *s;
    long long v = 0;
    int neg = 0;
    if (len < 10)
        return -1;
    s = name + len - 10;
    /* The server formats with %010d: -1 is "-000000001", but numbers
     * below -999999999 take 11 characters ("-2147483648"). A '-' before ten
     * digits is a sign only when the character before it is a separator,
     * as in "lock--2147483648" or "__lock__-2147483648". */
    if (*s == '-') {
        neg = 1;
        s++;
    } else if (len >= 12 && name[len - 11] == '-' &&
               (name[len - 12] == '-' || name[len - 12] == '_')) {
        neg = 1;
    }
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (neg)
        v = -v;
    if (v > INT32_MAX || v < INT32_MIN)
        return -1;
    *seq = (int32_t)v;
    return 0;
}

int zkr_seq_parse(const char *name, int32_t *seq)
{
    if (!name || !seq)
        return ZKR_EINVAL;
    return zkr__seq_of(name, seq) == 0 ? ZKR_OK : ZKR_EINVAL;
}

int zkr__seq_cmp(int32_t a, int32_t b)
{
    /* Serial-number arithmetic: the difference taken modulo 2^32 decides,
     * so 2147483647 sorts before -2147483648 (the wrapped successor). */
    int32_t d = (int32_t)((uint32_t)a - (uint32_t)b);
    if (d == INT32_MIN) /* exactly 2^31 apart: break the tie by value so
                           that the order stays antisymmetric */
        return a < b ? -1 : 1;
    return d < 0 ? -1 : d > 0 ? 1 : 0;
}

void zkr__uuid(char out[37])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* Fall back to something unique enough: time and address. */
            uint64_t t = (uint64_t)zkr__now_ms() ^ (uint64_t)(uintptr_t)out;
            for (size_t i = got; i < sizeof b; i++, t = t * 6364136223846793005ULL + 1)
                b[i] = (unsigned char)(t >> 56);
            break;
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
}

char *zkr__protected_path(const char *dir, const char *suffix,
                          char uuid[37])
{
    char name[200];
    char *p = NULL;
    zkr__uuid(uuid);
    if (snprintf(name, sizeof name, "_c_%s%s", uuid, suffix) >=
        (int)sizeof name)
        return NULL;
    return zkr_path_join(dir, name, &p) == ZKR_OK ? p : NULL;
}

char *zkr__default_node_data(void)
{
    char host[256], buf[300];
    if (gethostname(host, sizeof host) != 0)
        strcpy(host, "unknown");
    host[sizeof host - 1] = '\0';
    snprintf(buf, sizeof buf, "%s:%ld", host, (long)getpid());
    return strdup(buf);
}

void zkr__stat_copy(zkr_stat_t *dst, const struct Stat *src)
{
    if (!dst)
        return;
    if (!src) {
        memset(dst, 0, sizeof *dst);
        return;
    }
    dst->czxid = src->czxid;
    dst->mzxid = src->mzxid;
    dst->ctime = src->ctime;
    dst->mtime = src->mtime;
    dst->version = src->version;
    dst->cversion = src->cversion;
    dst->aversion = src->aversion;
    dst->ephemeral_owner = src->ephemeralOwner;
    dst->data_length = src->dataLength;
    dst->num_children = src->numChildren;
    dst->pzxid = src->pzxid;
}

int zkr__copy_out(const char *s, char *buf, size_t len)
{
    size_t n = strlen(s);
    if (n >= len)
        return ZKR_EINVAL;
    memcpy(buf, s, n + 1);
    return ZKR_OK;
}
