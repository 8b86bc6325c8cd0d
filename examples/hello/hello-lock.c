/* SPDX-License-Identifier: Apache-2.0 */
/* A program outside the zkr tree, built against the installed library:
 *   make -C examples/hello        (uses pkg-config --cflags --libs zkr)
 *   ./hello-lock HOSTS            takes /hello/lock once and prints its token */
#include <stdio.h>
#include <zkr/lock.h>

int main(int argc, char **argv)
{
    zkr_client_opts_t o;
    zkr_client_t *c;
    zkr_lock_t *l;
    int rc;
    zkr_client_opts_init(&o);
    if (argc > 1)
        o.hosts = argv[1];
    if ((rc = zkr_client_new(&o, &c)) != ZKR_OK) {
        fprintf(stderr, "hello-lock: %s\n", zkr_strerror(rc));
        return 1;
    }
    if ((rc = zkr_lock_new(c, "/hello/lock", NULL, &l)) == ZKR_OK &&
        (rc = zkr_lock_acquire(l, 10000)) == ZKR_OK) {
        printf("zkr %s: holding /hello/lock, token %lld\n",
               zkr_version_string(), (long long)zkr_lock_token(l));
        zkr_lock_release(l);
    } else {
        fprintf(stderr, "hello-lock: %s\n", zkr_strerror(rc));
    }
    zkr_lock_free(l);
    zkr_client_free(c);
    return rc == ZKR_OK ? 0 : 1;
}
