/* SPDX-License-Identifier: Apache-2.0 */
/* The sequential-node lock engine behind zkr_lock_t, the read/write lock
 * and the semaphore's mutex. */
#ifndef ZKR_LOCKCORE_H
#define ZKR_LOCKCORE_H

#include "internal.h"
#include "zkr/lock.h"

/* Contender kinds. */
#define ZKR__LK_EXCLUSIVE 1
#define ZKR__LK_SHARED 2

typedef struct {
    const char *marker;            /* our names: "_c_<uuid>" marker <seq> */
    int kind;                      /* kind of our own nodes */
    int (*classify)(const char *); /* kind of a child name, 0: not ours */
} zkr__lockspec_t;

extern const zkr__lockspec_t zkr__spec_mutex;
extern const zkr__lockspec_t zkr__spec_read;
extern const zkr__lockspec_t zkr__spec_write;

int zkr__lock_new_spec(zkr_client_t *c, const char *path,
                       const zkr__lockspec_t *spec,
                       const zkr_lock_opts_t *opts, zkr_lock_t **out);

/* zkr_lock_acquire_async that gives up (ZKR_EWOULDBLOCK) instead of
 * waiting when the lock is held elsewhere. */
int zkr__lock_try_async(zkr_lock_t *l, zkr_lock_cb cb, void *ctx);

#endif
