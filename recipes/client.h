/* SPDX-License-Identifier: Apache-2.0 */
/* The client struct, shared by client.c and ops.c only. */
#ifndef ZKR_CLIENT_H
#define ZKR_CLIENT_H

#include "internal.h"

typedef struct zkr__listener {
    struct zkr__listener *next;
    zkr_state_cb cb;
    void *ctx;
    int dead;
} zkr__listener_t;

struct zkr_client {
    pthread_mutex_t mu; /* everything below except listeners */
    pthread_cond_t cv;  /* state changes, manager wake-ups */
    int refs;           /* the user's + one per live recipe object */

    /* options (copies) */
    char *hosts;
    char *chroot; /* NULL or "/app" (no trailing slash) */
    size_t chroot_len;
    int session_timeout_ms;
    int connect_timeout_ms;
    zkr_acl_t acl;
    char *digest;
    zkr_log_fn log_fn;
    void *log_ctx;
    zkr_log_level_t log_level;
    int lost_after_suspend;
    int resolve_interval_ms; /* zoo_set_servers_resolution_delay */

    /* session */
    zhandle_t *zh;            /* current handle, NULL between sessions */
    zhandle_t *retired;       /* handle the manager must close */
    unsigned gen;             /* sessions opened so far */
    int handle_connected;     /* current handle reached CONNECTED once */
    zkr_state_t state;
    int64_t session_id;
    int negotiated_timeout;
    int64_t suspended_at;     /* monotonic ms, when state is SUSPENDED */
    int want_new_session;
    int closing;

    /* outstanding work, for cancellation when a handle is closed */
    zkr__op_t *ops;
    zkr__watch_t *watches;

    /* listeners: dispatch holds lmu, so removal can wait for a running
     * listener to return */
    pthread_mutex_t lmu;
    zkr__listener_t *listeners;

    pthread_t manager;
    int manager_started;
};

/* Build the server-side path: chroot + path. Caller frees. */
char *zkr__abs_path(zkr_client_t *c, const char *path);
/* Strip the chroot from a server-side path (points into p). */
const char *zkr__rel_path(zkr_client_t *c, const char *p);
/* After a handle is closed (its threads joined), deliver ZKR_ECANCELED to
 * every op and watch of generation gen (all when gen == 0). */
void zkr__sweep(zkr_client_t *c, unsigned gen, int all);

#endif
