/* SPDX-License-Identifier: Apache-2.0 */
/* What the command-line tools share. Not installed. */
#ifndef ZKR_CLI_H
#define ZKR_CLI_H

#include <zkr/zkr.h>

/* Exit statuses every tool agrees on. */
#define ZKR_CLI_EXIT_USAGE 2
#define ZKR_CLI_EXIT_CONNECT 3

/* Connect for tool prog. hosts NULL: $ZKR_HOSTS, then 127.0.0.1:2181;
 * connect_ms <= 0: the library's default. Returns 0 and sets *out, or
 * prints why on stderr and returns the exit status to use:
 * ZKR_CLI_EXIT_USAGE for a malformed connect string, ZKR_CLI_EXIT_CONNECT
 * when no server answered. */
int zkr_cli_connect(const char *prog, const char *hosts, int session_ms,
                    int connect_ms, zkr_client_t **out);

#endif
