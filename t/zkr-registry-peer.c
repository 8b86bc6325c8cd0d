/* SPDX-License-Identifier: Apache-2.0 */
/* A registered service instance in its own process, for the registry
 * tests (killed to show that its node goes with its session):
 *
 *   zkr-registry-peer HOSTS CHROOT dubbo ROOT URL
 *   zkr-registry-peer HOSTS CHROOT node PATH [DATA]
 *
 * CHROOT may be "-" for none. $ZKR_PEER_SESSION_MS sets the session
 * timeout (default 2000). Prints "registered <session id hex>" once the
 * node exists, then sleeps until killed. And, for the counter interop:
 *
 *   zkr-registry-peer HOSTS CHROOT counter long|int PATH [DELTA]
 *
 * adds DELTA (or reads) and prints the value. Exit 1 on errors, 2 on
 * usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zkr/counter.h>
#include <zkr/registry.h>

static int counter(zkr_client_t *c, int argc, char **argv)
{
    zkr_counter_opts_t o;
    zkr_counter_t *k;
    int64_t v = 0;
    int rc;
    zkr_counter_opts_init(&o);
    o.encoding = !strcmp(argv[4], "int") ? ZKR_COUNTER_INT : ZKR_COUNTER_LONG;
    rc = zkr_counter_new(c, argv[5], &o, &k);
    if (rc == ZKR_OK)
        rc = argc > 6 ? zkr_counter_add(k, atoll(argv[6]), &v)
                      : zkr_counter_get(k, &v, NULL);
    zkr_counter_free(k);
    zkr_client_free(c);
    if (rc != ZKR_OK) {
        fprintf(stderr, "zkr-registry-peer: counter: %s\n", zkr_strerror(rc));
        return 1;
    }
    printf("%lld\n", (long long)v);
    return 0;
}

int main(int argc, char **argv)
{
    zkr_client_opts_t o;
    zkr_client_t *c;
    zkr_registration_t *r = NULL;
    const char *env = getenv("ZKR_PEER_SESSION_MS");
    int rc;
    if (argc < 5 ||
        (strcmp(argv[3], "dubbo") && strcmp(argv[3], "node") &&
         strcmp(argv[3], "counter")) ||
        (!strcmp(argv[3], "dubbo") && argc != 6) ||
        (!strcmp(argv[3], "counter") && argc < 6)) {
        fprintf(stderr, "usage: zkr-registry-peer HOSTS CHROOT dubbo ROOT URL\n"
                        "       zkr-registry-peer HOSTS CHROOT node PATH "
                        "[DATA]\n"
                        "       zkr-registry-peer HOSTS CHROOT counter "
                        "long|int PATH [DELTA]\n");
        return 2;
    }
    zkr_client_opts_init(&o);
    o.hosts = argv[1];
    o.chroot = strcmp(argv[2], "-") ? argv[2] : NULL;
    o.session_timeout_ms = env ? atoi(env) : 2000;
    if ((rc = zkr_client_new(&o, &c)) != ZKR_OK) {
        fprintf(stderr, "zkr-registry-peer: connect: %s\n", zkr_strerror(rc));
        return 1;
    }
    if (!strcmp(argv[3], "counter"))
        return counter(c, argc, argv);
    if (!strcmp(argv[3], "dubbo")) {
        zkr_dubbo_url_t *u;
        rc = zkr_dubbo_url_parse(argv[5], &u);
        if (rc == ZKR_OK)
            rc = zkr_registration_new_dubbo(c, argv[4], u, NULL, &r);
        zkr_dubbo_url_free(u);
    } else {
        const char *data = argc > 5 ? argv[5] : "";
        rc = zkr_registration_new(c, argv[4], data, strlen(data), NULL, &r);
    }
    if (rc == ZKR_OK)
        rc = zkr_registration_wait(r, 10000);
    if (rc != ZKR_OK) {
        fprintf(stderr, "zkr-registry-peer: register: %s\n",
                zkr_strerror(rc));
        return 1;
    }
    printf("registered %llx\n", (unsigned long long)zkr_client_session_id(c));
    fflush(stdout);
    for (;;)
        pause();
}
