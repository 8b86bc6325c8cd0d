/* SPDX-License-Identifier: Apache-2.0 */
/* Error table, time and wait helpers, thread marking. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *zkr_strerror(int code)
{
    switch (code) {
#define ZKR__ERRNO_TEXT(name, value, text)                                   \
    case (value):                                                            \
        return text;
        ZKR_ERRNO_MAP(ZKR__ERRNO_TEXT)
#undef ZKR__ERRNO_TEXT
    }
    return "unknown error";
}

const char *zkr_err_name(int code)
{
    switch (code) {
#define ZKR__ERRNO_NAME(name, value, text)                                   \
    case (value):                                                            \
        return #name;
        ZKR_ERRNO_MAP(ZKR__ERRNO_NAME)
#undef ZKR__ERRNO_NAME
    }
    return "EUNKNOWN";
}

int zkr__map_zk(int zrc)
{
    /* A request that timed out with its connection has an unknown outcome,
     * exactly like one failed by connection loss: recipes treat both alike. */
    if (zrc == ZOPERATIONTIMEOUT)
        return ZKR_ECONNLOSS;
    switch (zrc) {
#define ZKR__ERRNO_KNOWN(name, value, text)                                  \
    case (value):                                                            \
        return (value);
        ZKR_ERRNO_MAP(ZKR__ERRNO_KNOWN)
#undef ZKR__ERRNO_KNOWN
    }
    return ZKR_EUNKNOWN;
}

static _Thread_local int tls_callback_thread;

void zkr__mark_callback_thread(void) { tls_callback_thread = 1; }
int zkr__in_callback(void) { return tls_callback_thread; }

int zkr__set_callback_thread(int on)
{
    int was = tls_callback_thread;
    tls_callback_thread = on;
    return was;
}

int64_t zkr__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int zkr__deadline(int timeout_ms, struct timespec *ts)
{
    if (timeout_ms < 0)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
    return 1;
}

void zkr__cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

int zkr__cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu, int has_deadline,
                   const struct timespec *ts)
{
    if (!has_deadline)
        return pthread_cond_wait(cv, mu);
    return pthread_cond_timedwait(cv, mu, ts);
}

void zkr__waiter_init(zkr__waiter_t *w)
{
    pthread_mutex_init(&w->mu, NULL);
    zkr__cond_init(&w->cv);
    w->done = 0;
    w->rc = ZKR_OK;
}

void zkr__waiter_destroy(zkr__waiter_t *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

void zkr__waiter_signal(zkr__waiter_t *w, int rc)
{
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->rc = rc;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int zkr__waiter_wait(zkr__waiter_t *w, int timeout_ms)
{
    struct timespec ts;
    int has = zkr__deadline(timeout_ms, &ts);
    int rc;
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        if (zkr__cond_wait(&w->cv, &w->mu, has, &ts) == ETIMEDOUT)
            break;
    }
    rc = w->done ? w->rc : ZKR_ETIMEDOUT;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void zkr_free(void *p) { free(p); }

void zkr_strings_free(char **names, int count)
{
    if (!names)
        return;
    for (int i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

const char *zkr_state_name(zkr_state_t state)
{
    switch (state) {
    case ZKR_STATE_CONNECTED:
        return "CONNECTED";
    case ZKR_STATE_SUSPENDED:
        return "SUSPENDED";
    case ZKR_STATE_RECONNECTED:
        return "RECONNECTED";
    case ZKR_STATE_LOST:
        return "LOST";
    case ZKR_STATE_AUTH_FAILED:
        return "AUTH_FAILED";
    case ZKR_STATE_CLOSED:
        return "CLOSED";
    }
    return "UNKNOWN";
}

const char *zkr_version_string(void) { return ZKR_VERSION_STRING; }
