/* SPDX-License-Identifier: Apache-2.0 */
#include "cli.h"

#include <stdio.h>

int zkr_cli_connect(const char *prog, const char *hosts, int session_ms,
                    int connect_ms, zkr_client_t **out)
{
    zkr_client_opts_t co;
    int rc;
    zkr_client_opts_init(&co);
    if (hosts)
        co.hosts = hosts;
    co.session_timeout_ms = session_ms;
    if (connect_ms > 0)
        co.connect_timeout_ms = connect_ms;
    rc = zkr_client_new(&co, out);
    if (rc == ZKR_EHOSTS) {
        fprintf(stderr, "%s: bad connect string '%s'\n", prog, co.hosts);
        return ZKR_CLI_EXIT_USAGE;
    }
    if (rc != ZKR_OK) {
        fprintf(stderr, "%s: cannot connect to %s: %s\n", prog, co.hosts,
                zkr_strerror(rc));
        return ZKR_CLI_EXIT_CONNECT;
    }
    return 0;
}
