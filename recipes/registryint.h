/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the registry recipes (registry.c, discovery.c): ordered
 * delivery of user callbacks. Never installed. */
#ifndef ZKR_REGISTRYINT_H
#define ZKR_REGISTRYINT_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>

#include "internal.h"

/* Callbacks are queued under the object's mutex and delivered by one thread
 * at a time, in order, with the mutex released. Free waits for a delivery
 * in progress (unless it is called from it), so state callbacks never run
 * after free returns; one-shot callbacks are always delivered. */
typedef void (*ev_fn)(void);

struct ev {
    struct ev *next;
    ev_fn cb; /* the object's own callback type, cast back to call it */
    void *ctx;
    int status;
    int is_state; /* dropped once the object is freed */
    unsigned target; /* refresh waiters: listing generation awaited */
};

struct evq {
    struct ev *head, *tail;
    int delivering;
    pthread_t who;
    pthread_cond_t idle;
};

static inline void evq_push(struct evq *q, struct ev *e)
{
    e->next = NULL;
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
}

static inline void evq_state(struct evq *q, ev_fn cb, void *ctx, int status)
{
    struct ev *e;
    if (!cb || !(e = calloc(1, sizeof *e)))
        return; /* a state report is best effort under memory pressure */
    e->cb = cb;
    e->ctx = ctx;
    e->status = status;
    e->is_state = 1;
    evq_push(q, e);
}

/* Called with *mu held; returns with it released. */
static inline void evq_deliver(struct evq *q, pthread_mutex_t *mu, void *obj,
                        const int *freed,
                        void (*invoke)(void *obj, const struct ev *e))
{
    if (q->delivering) {
        pthread_mutex_unlock(mu);
        return;
    }
    q->delivering = 1;
    q->who = pthread_self();
    while (q->head) {
        struct ev *e = q->head;
        q->head = e->next;
        if (!q->head)
            q->tail = NULL;
        if (e->is_state && *freed) {
            free(e);
            continue;
        }
        pthread_mutex_unlock(mu);
        invoke(obj, e);
        free(e);
        pthread_mutex_lock(mu);
    }
    q->delivering = 0;
    pthread_cond_broadcast(&q->idle);
    pthread_mutex_unlock(mu);
}

/* Caller holds *mu: wait until no other thread delivers. */
static inline void evq_wait_idle(struct evq *q, pthread_mutex_t *mu)
{
    while (q->delivering && !pthread_equal(q->who, pthread_self()))
        pthread_cond_wait(&q->idle, mu);
}

/* Wait for a one-shot callback queued in *list (under *mu) that signals
 * @p w. On timeout take it back if still queued; if it is already on its
 * way, wait for the result it brings. */
static inline int evq_wait_waiter(zkr__waiter_t *w, int timeout_ms,
                                  pthread_mutex_t *mu, struct ev **list)
{
    int rc = zkr__waiter_wait(w, timeout_ms);
    if (rc == ZKR_ETIMEDOUT) {
        struct ev **pp;
        int found = 0;
        pthread_mutex_lock(mu);
        for (pp = list; *pp; pp = &(*pp)->next)
            if ((*pp)->ctx == w) {
                struct ev *e = *pp;
                *pp = e->next;
                free(e);
                found = 1;
                break;
            }
        pthread_mutex_unlock(mu);
        if (!found)
            rc = zkr__waiter_wait(w, -1);
    }
    return rc;
}

static inline int is_connected(zkr_client_t *c)
{
    zkr_state_t s = zkr_client_state(c);
    return s == ZKR_STATE_CONNECTED || s == ZKR_STATE_RECONNECTED;
}

static inline int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

#endif
