/* SPDX-License-Identifier: Apache-2.0 */
/* Semaphore: lease counts never exceeded under contention, all-or-nothing
 * multi-lease acquire, try and timeout, Curator's layout, session loss. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/semaphore.h>

#define MAXL 3
static atomic_int inside, peak, over, total;

struct worker {
    zkr_semaphore_t *s;
    int errors;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 12; i++) {
        if (zkr_semaphore_acquire(w->s, 1, 30000) != ZKR_OK) {
            w->errors++;
            continue;
        }
        int n = atomic_fetch_add(&inside, 1) + 1;
        if (n > MAXL)
            atomic_fetch_add(&over, 1);
        if (n > atomic_load(&peak))
            atomic_store(&peak, n);
        zkt_sleep_ms(3);
        atomic_fetch_sub(&inside, 1);
        atomic_fetch_add(&total, 1);
        if (zkr_semaphore_release(w->s, 1) != ZKR_OK)
            w->errors++;
    }
    return NULL;
}

static int leases(zkr_client_t *c, const char *path)
{
    char **names;
    int n = -1;
    if (zkr_children(c, path, &names, &n) != ZKR_OK)
        return -1;
    zkr_strings_free(names, n);
    return n;
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *cs[4];
    zkr_semaphore_t *a, *b;
    struct worker ws[8];
    pthread_t th[8];
    char **names;
    int i, n, errors = 0;

    for (i = 0; i < 4; i++)
        cs[i] = zkt_client(hosts, 3000);

    is(zkr_semaphore_new(cs[0], "/sem", 2, NULL, 0, &a), ZKR_OK, "semaphore a (2 leases)");
    is(zkr_semaphore_new(cs[1], "/sem", 2, NULL, 0, &b), ZKR_OK, "semaphore b");
    is(zkr_semaphore_acquire(a, 1, -1), ZKR_OK, "a takes one lease");
    is(zkr_semaphore_held(a), 1, "a holds 1");
    is(zkr_children(cs[0], "/sem/leases", &names, &n), ZKR_OK, "leases listed");
    ok(n == 1 && strncmp(names[0], "_c_", 3) == 0 && strstr(names[0], "-lease-"),
       "Curator lease layout: %s", n ? names[0] : "");
    zkr_strings_free(names, n);
    is(zkr_exists(cs[0], "/sem/locks", NULL), ZKR_OK, "mutex directory /sem/locks");
    is(zkr_semaphore_acquire(b, 1, 0), ZKR_OK, "b takes the second lease");
    is(zkr_semaphore_acquire(b, 1, 0), ZKR_ETIMEDOUT, "no third lease now");
    is(leases(cs[1], "/sem/leases"), 2, "failed try left no lease node");
    is(zkr_semaphore_acquire(b, 1, 300), ZKR_ETIMEDOUT, "no third lease within 300 ms");
    is(leases(cs[1], "/sem/leases"), 2, "timeout left no lease node");
    is(zkr_semaphore_release(a, 1), ZKR_OK, "a returns its lease");
    is(zkr_semaphore_release(a, 1), ZKR_ENOTHELD, "a has none left");
    is(zkr_semaphore_acquire(b, 1, 5000), ZKR_OK, "b now gets a second lease");
    is(zkr_semaphore_held(b), 2, "b holds 2");
    is(zkr_semaphore_acquire(a, 3, 0), ZKR_EINVAL, "more than max is refused");
    is(zkr_semaphore_acquire(a, 0, 0), ZKR_EINVAL, "zero leases is refused");
    is(zkr_semaphore_release(b, 2), ZKR_OK, "b returns both");
    is(zkr_semaphore_acquire(a, 2, 5000), ZKR_OK, "a takes both at once");
    is(zkr_semaphore_held(a), 2, "a holds 2");

    /* session loss: every lease goes */
    is(zkr_client_expire_session(cs[0]), ZKR_OK, "expire a's session");
    for (i = 0; i < 200 && zkr_semaphore_held(a) != 0; i++)
        zkt_sleep_ms(25);
    is(zkr_semaphore_held(a), 0, "a holds nothing after LOST");
    is(zkr_semaphore_acquire(b, 2, 10000), ZKR_OK, "b gets both leases after a's session ended");
    zkr_semaphore_free(b);
    zkr_semaphore_free(a);

    /* contention: 8 workers over 4 sessions, 3 leases */
    for (i = 0; i < 8; i++) {
        ws[i].errors = 0;
        zkr_semaphore_new(cs[i % 4], "/sem-load", MAXL, NULL, 0, &ws[i].s);
        pthread_create(&th[i], NULL, work, &ws[i]);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        errors += ws[i].errors;
    }
    is(errors, 0, "every acquire and release succeeded");
    is(atomic_load(&total), 8 * 12, "all leases were used");
    is(atomic_load(&over), 0, "never more than %d holders", MAXL);
    diag("at most %d leases in use at once", atomic_load(&peak));
    for (i = 0; i < 8; i++)
        zkr_semaphore_free(ws[i].s);
    for (i = 0; i < 4; i++)
        zkr_client_flush(cs[i], 10000); /* the deletes do not wait */
    is(leases(cs[1], "/sem-load/leases"), 0, "no lease left behind");

    is(zkr_semaphore_new(cs[1], "/x", 0, NULL, 0, &a), ZKR_EINVAL, "zero max leases");
    is(zkr_semaphore_new(NULL, "/x", 1, NULL, 0, &a), ZKR_EINVAL, "NULL client");
    is(zkr_semaphore_new(cs[1], "x", 1, NULL, 0, &a), ZKR_EBADPATH, "bad path");
    is(zkr_semaphore_new(cs[1], "/x", 1, NULL, 3, &a), ZKR_EINVAL, "NULL data with length");
    is(zkr_semaphore_acquire(NULL, 1, 0), ZKR_EINVAL, "acquire NULL");
    is(zkr_semaphore_release(NULL, 1), ZKR_EINVAL, "release NULL");
    zkr_semaphore_free(NULL);
    for (i = 0; i < 4; i++)
        zkr_client_free(cs[i]);
    return done_testing();
}
