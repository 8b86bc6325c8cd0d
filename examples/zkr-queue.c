/* SPDX-License-Identifier: Apache-2.0 */
/* zkr-queue: put, take, peek and count items of a ZooKeeper queue (the
 * layout of Curator's SimpleDistributedQueue). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include <zkr/queue.h>

#define EXIT_NOTHING 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3
#define EXIT_FAILED 4

static const char usage_text[] =
    "usage: zkr-queue [-s HOSTS] [options] put PATH [DATA | -]\n"
    "       zkr-queue [-s HOSTS] [options] take PATH [-w SECONDS]\n"
    "       zkr-queue [-s HOSTS] [options] peek PATH\n"
    "       zkr-queue [-s HOSTS] [options] size PATH\n"
    "\n"
    "Work with the distributed FIFO queue at the ZooKeeper path PATH.\n"
    "\n"
    "  put     append one item: DATA, or standard input when DATA is '-'\n"
    "          or missing (up to about 1 MB)\n"
    "  take    remove the oldest item and write its bytes to standard\n"
    "          output, waiting for one to arrive (forever unless -w)\n"
    "  peek    write the oldest item's bytes without removing it\n"
    "  size    print the number of items\n"
    "\n"
    "  -s, --hosts HOSTS       connect string (default $ZKR_HOSTS, then\n"
    "                          127.0.0.1:2181)\n"
    "  -w, --wait SECONDS      take: give up after SECONDS (fractions\n"
    "                          allowed; 0 = only if an item is there)\n"
    "      --shards N          the queue is sharded over N buckets (use the\n"
    "                          same mode as every other client of PATH)\n"
    "  -t, --session-timeout MS  session timeout (default 10000)\n"
    "  -h, --help              show this help\n"
    "\n"
    "Items are PERSISTENT_SEQUENTIAL nodes PATH/qn-<seq> holding the item's\n"
    "bytes, as with Apache Curator's SimpleDistributedQueue, so Java\n"
    "programs using it share the queue. A taken item is removed: each item\n"
    "is taken by exactly one taker.\n"
    "\n"
    "Exit status: 0 done; 1 nothing arrived in time (take) or the queue is\n"
    "empty (peek); 2 usage error; 3 cannot connect; 4 the operation failed.\n";

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && *out >= 0 &&
           *out < 1e7;
}

/* Read all of stdin (at most ZKR_MAX_DATA + 1 bytes, to detect more). */
static int read_stdin(char **data, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -1;
    for (;;) {
        size_t r;
        if (n == cap) {
            char *nb;
            if (cap > ZKR_MAX_DATA)
                break;
            nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(stdin)) {
        free(buf);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "zkr-queue: %s: %s\n", what, zkr_strerror(rc));
    return EXIT_FAILED;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"hosts", required_argument, NULL, 's'},
        {"wait", required_argument, NULL, 'w'},
        {"shards", required_argument, NULL, 'S'},
        {"session-timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *hosts = getenv("ZKR_HOSTS");
    const char *cmd, *path;
    double wait_s = -1;
    int opt, rc, session_ms = 10000, shards = 0, status = 0;
    zkr_client_t *c = NULL;
    zkr_queue_opts_t qo;
    zkr_queue_t *q = NULL;

    while ((opt = getopt_long(argc, argv, "s:w:t:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            hosts = optarg;
            break;
        case 'w':
            if (!parse_seconds(optarg, &wait_s)) {
                fprintf(stderr, "zkr-queue: bad --wait value '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'S':
            shards = atoi(optarg);
            if (shards < 1 || shards > 9999) {
                fprintf(stderr, "zkr-queue: bad --shards value '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 't':
            session_ms = atoi(optarg);
            if (session_ms <= 0) {
                fprintf(stderr, "zkr-queue: bad --session-timeout '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind < 2) {
        fprintf(stderr, "zkr-queue: missing command or PATH\n%s", usage_text);
        return EXIT_USAGE;
    }
    cmd = argv[optind];
    path = argv[optind + 1];
    if (strcmp(cmd, "put") != 0 && strcmp(cmd, "take") != 0 &&
        strcmp(cmd, "peek") != 0 && strcmp(cmd, "size") != 0) {
        fprintf(stderr, "zkr-queue: unknown command '%s'\n", cmd);
        return EXIT_USAGE;
    }
    if (argc - optind > (strcmp(cmd, "put") == 0 ? 3 : 2)) {
        fprintf(stderr, "zkr-queue: too many arguments\n");
        return EXIT_USAGE;
    }
    if (wait_s >= 0 && strcmp(cmd, "take") != 0) {
        fprintf(stderr, "zkr-queue: -w applies to take only\n");
        return EXIT_USAGE;
    }
    if (zkr_path_validate(path) != ZKR_OK || strcmp(path, "/") == 0) {
        fprintf(stderr, "zkr-queue: '%s' is not a valid queue path\n", path);
        return EXIT_USAGE;
    }

    if ((rc = zkr_cli_connect("zkr-queue", hosts, session_ms, 0, &c)) != 0)
        return rc;
    zkr_queue_opts_init(&qo);
    qo.shards = shards;
    if ((rc = zkr_queue_new(c, path, &qo, &q)) != ZKR_OK) {
        zkr_client_free(c);
        return fail(path, rc);
    }

    if (!strcmp(cmd, "put")) {
        const char *arg = argc - optind == 3 ? argv[optind + 2] : "-";
        char *data = NULL;
        size_t len;
        if (strcmp(arg, "-") == 0) {
            if (read_stdin(&data, &len) != 0) {
                perror("zkr-queue: reading standard input");
                status = EXIT_FAILED;
            }
        } else {
            data = strdup(arg);
            len = strlen(arg);
        }
        if (!status) {
            rc = data ? zkr_queue_put(q, data, len) : ZKR_ENOMEM;
            if (rc == ZKR_ETOOBIG) {
                fprintf(stderr, "zkr-queue: the item is too big (at most "
                                "%zu bytes)\n",
                        (size_t)ZKR_MAX_DATA);
                status = EXIT_USAGE;
            } else if (rc != ZKR_OK) {
                status = fail("put", rc);
            }
        }
        free(data);
    } else if (!strcmp(cmd, "take") || !strcmp(cmd, "peek")) {
        char *data;
        size_t len;
        if (!strcmp(cmd, "take"))
            rc = zkr_queue_take(q,
                                wait_s < 0 || wait_s * 1000 > INT_MAX
                                    ? -1
                                    : (int)(wait_s * 1000 + 0.5),
                                &data, &len);
        else
            rc = zkr_queue_peek(q, &data, &len);
        if (rc == ZKR_OK) {
            if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
                perror("zkr-queue: writing standard output");
                status = EXIT_FAILED;
            }
            zkr_free(data);
        } else if (rc == ZKR_ETIMEDOUT || rc == ZKR_ENONODE) {
            status = EXIT_NOTHING;
        } else {
            status = fail(cmd, rc);
        }
    } else {
        size_t n;
        if ((rc = zkr_queue_size(q, &n)) == ZKR_OK)
            printf("%zu\n", n);
        else
            status = fail("size", rc);
    }
    zkr_queue_free(q);
    zkr_client_free(c);
    return status;
}
