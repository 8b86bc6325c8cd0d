/* SPDX-License-Identifier: Apache-2.0 */
/* Test helpers: private reference servers, namespaced clients, state
 * recorders. */
#ifndef ZKR_ZKTEST_H
#define ZKR_ZKTEST_H

#include <pthread.h>

#include <zkr/zkr.h>

#include "tap.h"

typedef struct {
    char dir[512];
    char hosts[512];
    int members;
} zkt_server_t;

/* Start a private server (members 1 or 3) under a fresh temporary
 * directory. Bails out, naming the Debian package, when it cannot. It is
 * stopped at exit, and by a watchdog if this process dies. */
zkt_server_t *zkt_start(int members);
void zkt_stop(zkt_server_t *s);
/* Run "zkr-server CMD --dir DIR"; returns its exit status. */
int zkt_ctl(zkt_server_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Index (1-based) of the member a client is connected to, or -1. */
int zkt_member_of(zkt_server_t *s, zkr_client_t *c);
/* Index of the current leader (1 for standalone), or -1. */
int zkt_leader(zkt_server_t *s);
/* Connect string of a standalone server shared by this test program. */
const char *zkt_hosts(void);

/* A namespace unique to this test program run, e.g. "/zkr-t/010-client-1234".
 */
const char *zkt_ns(void);
/* Connect with the test namespace as chroot. Bails out on failure. */
zkr_client_t *zkt_client(const char *hosts, int session_ms);
zkr_client_t *zkt_client_ns(const char *hosts, int session_ms,
                            const char *chroot);
/* Connect in the test namespace with digest credentials (NULL: none) and
 * a default ACL for what the client creates. Bails out on failure. */
zkr_client_t *zkt_client_as(const char *hosts, const char *digest,
                            zkr_acl_t acl);

/* Records the connection states a client reports. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    zkr_state_t states[256];
    int n;
} zkt_states_t;
void zkt_states_init(zkt_states_t *r);
void zkt_states_cb(zkr_client_t *c, zkr_state_t st, void *ctx);
/* Wait until state st has been seen at index >= from; returns its index or
 * -1 on timeout. */
int zkt_states_wait(zkt_states_t *r, zkr_state_t st, int from,
                    int timeout_ms);

/* A fault proxy (t/zkr-faultproxy) in front of 127.0.0.1:target_port.
 * hosts is the connect string through it. Stopped at exit. */
typedef struct {
    int port, ctl;
    int pid;
    char hosts[64];
} zkt_proxy_t;
zkt_proxy_t *zkt_proxy_start(int target_port);
/* Send one control command ("cut", "blackhole down", ...); 0 when ok. */
int zkt_proxy(zkt_proxy_t *p, const char *cmd);
/* Port of the first member of a connect string. */
int zkt_first_port(const char *hosts);

void zkt_sleep_ms(int ms);
long long zkt_now_ms(void);

#endif
