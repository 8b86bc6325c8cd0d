/* SPDX-License-Identifier: Apache-2.0 */
/* Bad-input matrix: every public function of the client, lock, read/write
 * lock and semaphore modules called with NULL, empty, over-long and
 * malformed arguments returns its documented code, and nothing crashes. */
#include <stdlib.h>
#include <string.h>

#include "zktest.h"
#include <zkr/lock.h>
#include <zkr/rwlock.h>
#include <zkr/semaphore.h>

static void noop_lock_cb(zkr_lock_t *l, int s, void *c)
{
    (void)l;
    (void)s;
    (void)c;
}

static void noop_sem_cb(zkr_semaphore_t *l, int s, void *c)
{
    (void)l;
    (void)s;
    (void)c;
}

static void noop_state_cb(zkr_client_t *c, zkr_state_t s, void *x)
{
    (void)c;
    (void)s;
    (void)x;
}

int main(void)
{
    const char *hosts = zkt_hosts();
    zkr_client_t *c = zkt_client(hosts, 4000);
    char *longpath = malloc(5000), *big = calloc(1, ZKR_MAX_DATA + 2);
    char *data, **names, buf[8];
    size_t len;
    int n;
    zkr_stat_t st;
    zkr_lock_t *l = NULL;
    zkr_rwlock_t *rw = NULL;
    zkr_semaphore_t *s = NULL;
    const char *bad_paths[] = {"", "x", "/x/", "//", "/a//b", "/a/./b",
                               "/a/../b", "/a\n", NULL};

    memset(longpath, 'a', 4999);
    longpath[0] = '/';
    longpath[4999] = '\0';

    /* client */
    is(zkr_client_new(NULL, NULL), ZKR_EINVAL, "client_new(NULL out)");
    is(zkr_client_add_listener(NULL, noop_state_cb, NULL), ZKR_EINVAL, "add_listener(NULL)");
    is(zkr_client_remove_listener(NULL, noop_state_cb, NULL), ZKR_EINVAL, "remove_listener(NULL)");
    is(zkr_client_state(NULL), ZKR_STATE_CLOSED, "state(NULL) is CLOSED");
    is(zkr_client_session_id(NULL), 0, "session_id(NULL)");
    is(zkr_client_session_count(NULL), 0, "session_count(NULL)");
    is(zkr_client_session_timeout(NULL), 0, "session_timeout(NULL)");
    is(zkr_client_expire_session(NULL), ZKR_EINVAL, "expire_session(NULL)");
    is(zkr_client_wait_connected(NULL, 0), ZKR_EINVAL, "wait_connected(NULL)");
    is(zkr_client_flush(NULL, 0), ZKR_EINVAL, "flush(NULL)");
    is(zkr_client_server(NULL, buf, sizeof buf), ZKR_EINVAL, "server(NULL)");
    is(zkr_client_server(c, NULL, 8), ZKR_EINVAL, "server(NULL buf)");
    is(zkr_client_server(c, buf, 2), ZKR_EINVAL, "server(too small buf)");

    /* znode operations: every malformed path */
    for (int i = 0; bad_paths[i]; i++) {
        const char *p = bad_paths[i];
        int e = ZKR_EBADPATH;
        is(zkr_create(c, p, NULL, 0, 0, NULL), e, "create('%s')", p);
        is(zkr_delete(c, p, -1), e, "delete('%s')", p);
        is(zkr_exists(c, p, &st), e, "exists('%s')", p);
        is(zkr_get(c, p, &data, &len, NULL), e, "get('%s')", p);
        is(zkr_set(c, p, "x", 1, -1, NULL), e, "set('%s')", p);
        is(zkr_children(c, p, &names, &n), e, "children('%s')", p);
        is(zkr_ensure_path(c, p), e, "ensure_path('%s')", p);
        is(zkr_lock_new(c, p, NULL, &l), e, "lock_new('%s')", p);
        is(zkr_rwlock_new(c, p, NULL, &rw), e, "rwlock_new('%s')", p);
        is(zkr_semaphore_new(c, p, 1, NULL, 0, &s), e, "semaphore_new('%s')", p);
    }
    is(zkr_create(c, longpath, NULL, 0, 0, NULL), ZKR_EBADPATH, "create(over-long path)");
    is(zkr_lock_new(c, longpath, NULL, &l), ZKR_EBADPATH, "lock_new(over-long path)");
    is(zkr_create(c, NULL, NULL, 0, 0, NULL), ZKR_EINVAL, "create(NULL path)");
    is(zkr_get(c, NULL, &data, &len, NULL), ZKR_EINVAL, "get(NULL path)");
    is(zkr_create(NULL, "/x", NULL, 0, 0, NULL), ZKR_EINVAL, "create(NULL client)");
    is(zkr_delete(NULL, "/x", -1), ZKR_EINVAL, "delete(NULL client)");
    is(zkr_exists(NULL, "/x", NULL), ZKR_EINVAL, "exists(NULL client)");
    is(zkr_get(NULL, "/x", &data, &len, NULL), ZKR_EINVAL, "get(NULL client)");
    is(zkr_set(NULL, "/x", "x", 1, -1, NULL), ZKR_EINVAL, "set(NULL client)");
    is(zkr_children(NULL, "/x", &names, &n), ZKR_EINVAL, "children(NULL client)");
    is(zkr_ensure_path(NULL, "/x"), ZKR_EINVAL, "ensure_path(NULL client)");
    is(zkr_delete_recursive(NULL, "/x"), ZKR_EINVAL, "delete_recursive(NULL client)");
    is(zkr_create(c, "/x", big, ZKR_MAX_DATA + 1, 0, NULL), ZKR_ETOOBIG, "create(over 1 MB)");
    is(zkr_set(c, "/x", big, ZKR_MAX_DATA + 1, -1, NULL), ZKR_ETOOBIG, "set(over 1 MB)");
    is(zkr_set(c, "/x", NULL, 3, -1, NULL), ZKR_EINVAL, "set(NULL data, length 3)");
    is(zkr_path_join(NULL, NULL, NULL), ZKR_EINVAL, "path_join(NULL)");
    is(zkr_seq_parse("", NULL), ZKR_EINVAL, "seq_parse(NULL out)");

    /* lock */
    is(zkr_lock_new(c, "/ok", NULL, NULL), ZKR_EINVAL, "lock_new(NULL out)");
    is(zkr_lock_acquire(NULL, -1), ZKR_EINVAL, "lock_acquire(NULL)");
    is(zkr_lock_acquire_async(NULL, noop_lock_cb, NULL), ZKR_EINVAL, "lock_acquire_async(NULL)");
    is(zkr_lock_cancel(NULL), ZKR_EINVAL, "lock_cancel(NULL)");
    is(zkr_lock_release(NULL), ZKR_EINVAL, "lock_release(NULL)");
    is(zkr_lock_is_held(NULL), 0, "lock_is_held(NULL)");
    is(zkr_lock_token(NULL), 0, "lock_token(NULL)");
    is(zkr_lock_node(NULL, buf, sizeof buf), ZKR_EINVAL, "lock_node(NULL)");
    zkr_lock_free(NULL);
    is(zkr_lock_new(c, "/ok", NULL, &l), ZKR_OK, "a valid lock");
    is(zkr_lock_acquire_async(l, NULL, NULL), ZKR_EINVAL, "acquire_async(NULL cb)");
    is(zkr_lock_node(l, NULL, 10), ZKR_EINVAL, "lock_node(NULL buf)");
    is(zkr_lock_node(l, buf, sizeof buf), ZKR_ENOTHELD, "lock_node when not held");
    zkr_lock_free(l);

    /* read/write lock */
    is(zkr_rwlock_new(c, "/ok", NULL, NULL), ZKR_EINVAL, "rwlock_new(NULL out)");
    is(zkr_rwlock_new(NULL, "/ok", NULL, &rw), ZKR_EINVAL, "rwlock_new(NULL client)");
    ok(zkr_rwlock_read(NULL) == NULL, "rwlock_read(NULL)");
    ok(zkr_rwlock_write(NULL) == NULL, "rwlock_write(NULL)");
    zkr_rwlock_free(NULL);

    /* semaphore */
    is(zkr_semaphore_new(c, "/ok", 1, NULL, 0, NULL), ZKR_EINVAL, "semaphore_new(NULL out)");
    is(zkr_semaphore_new(c, "/ok", 0, NULL, 0, &s), ZKR_EINVAL, "semaphore_new(0 leases)");
    is(zkr_semaphore_new(c, "/ok", -3, NULL, 0, &s), ZKR_EINVAL, "semaphore_new(negative)");
    is(zkr_semaphore_new(c, "/ok", 1, big, ZKR_MAX_DATA + 1, &s), ZKR_ETOOBIG, "semaphore_new(big data)");
    is(zkr_semaphore_acquire(NULL, 1, 0), ZKR_EINVAL, "semaphore_acquire(NULL)");
    is(zkr_semaphore_acquire_async(NULL, 1, noop_sem_cb, NULL), ZKR_EINVAL, "semaphore_acquire_async(NULL)");
    is(zkr_semaphore_cancel(NULL), ZKR_EINVAL, "semaphore_cancel(NULL)");
    is(zkr_semaphore_release(NULL, 1), ZKR_EINVAL, "semaphore_release(NULL)");
    is(zkr_semaphore_held(NULL), 0, "semaphore_held(NULL)");
    is(zkr_semaphore_new(c, "/ok", 2, NULL, 0, &s), ZKR_OK, "a valid semaphore");
    is(zkr_semaphore_acquire(s, 3, 0), ZKR_EINVAL, "more leases than the maximum");
    is(zkr_semaphore_acquire_async(s, 1, NULL, NULL), ZKR_EINVAL, "acquire_async(NULL cb)");
    is(zkr_semaphore_release(s, 0), ZKR_EINVAL, "release(0)");
    is(zkr_semaphore_release(s, 1), ZKR_ENOTHELD, "release unheld lease");
    is(zkr_semaphore_cancel(s), ZKR_ENOTHELD, "cancel with nothing pending");
    zkr_semaphore_free(s);
    zkr_semaphore_free(NULL);

    free(longpath);
    free(big);
    zkr_client_free(c);
    return done_testing();
}
