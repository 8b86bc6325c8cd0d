/* SPDX-License-Identifier: Apache-2.0 */
/* Read/write lock: two lock-engine handles on one directory. */
#define ZKR_BUILDING 1
#include "zkr/rwlock.h"

#include <stdlib.h>

#include "lockcore.h"

struct zkr_rwlock {
    zkr_lock_t *read;
    zkr_lock_t *write;
};

int zkr_rwlock_new(zkr_client_t *c, const char *path,
                   const zkr_lock_opts_t *opts, zkr_rwlock_t **out)
{
    zkr_rwlock_t *rw;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    rw = calloc(1, sizeof *rw);
    if (!rw)
        return ZKR_ENOMEM;
    rc = zkr__lock_new_spec(c, path, &zkr__spec_read, opts, &rw->read);
    if (rc == ZKR_OK)
        rc = zkr__lock_new_spec(c, path, &zkr__spec_write, opts, &rw->write);
    if (rc != ZKR_OK) {
        zkr_lock_free(rw->read);
        free(rw);
        return rc;
    }
    *out = rw;
    return ZKR_OK;
}

zkr_lock_t *zkr_rwlock_read(zkr_rwlock_t *rw) { return rw ? rw->read : NULL; }

zkr_lock_t *zkr_rwlock_write(zkr_rwlock_t *rw)
{
    return rw ? rw->write : NULL;
}

void zkr_rwlock_free(zkr_rwlock_t *rw)
{
    if (!rw)
        return;
    zkr_lock_free(rw->read);
    zkr_lock_free(rw->write);
    free(rw);
}
