/* SPDX-License-Identifier: Apache-2.0 */
/* The helpers the object files of the zkr Python extension share: guards
 * around library handles, waiting with the GIL released, callback gating,
 * and the common head of objects that own a guarded handle. */
#include "zkrmodule.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- guards ------------------------------------------------------------- */

static void
guard_free(zkrpy_guard_t *g)
{
    void *h = g->handle;

    /* Cleared first: while the GIL is released below, other threads must
     * already see the handle as gone. */
    g->handle = NULL;
    Py_BEGIN_ALLOW_THREADS
    g->free_fn(h, g->owner);
    Py_END_ALLOW_THREADS
}

int
zkrpy_guard_enter(zkrpy_guard_t *g)
{
    if (!zkrpy_guard_open(g)) {
        zkrpy_raise(ZKR_ECLOSED, NULL);
        return -1;
    }
    g->busy++;
    return 0;
}

/* A callback of the handle that runs Python code (in_cb) finishes the
 * free itself: see zkrpy_cb_leave. */
static int
guard_idle(const zkrpy_guard_t *g)
{
    return g->busy == 0 && g->in_cb == 0;
}

void
zkrpy_guard_leave(zkrpy_guard_t *g)
{
    g->busy--;
    if (guard_idle(g) && g->closing && g->handle != NULL) {
        guard_free(g);
    }
}

int
zkrpy_guard_close(zkrpy_guard_t *g)
{
    int was_open = zkrpy_guard_open(g);

    if (g->handle == NULL) {
        return 0;
    }
    g->closing = 1;
    if (guard_idle(g)) {
        guard_free(g);
    }
    return was_open;
}

void
zkrpy_guard_shutdown(zkrpy_guard_t *g, int *listening,
                     int (*first)(void *handle), int (*wake)(void *handle))
{
    void *h;

    if (zkrpy_guard_enter(g) < 0) {
        PyErr_Clear();
        return;
    }
    h = g->handle;
    /* closing before the first step: a waiter woken by it (a resign ends
     * wait_leader with NotHeld) must see that the object is closing */
    g->closing = 1;
    if (first != NULL) {
        Py_BEGIN_ALLOW_THREADS
        first(h);
        Py_END_ALLOW_THREADS
    }
    if (listening != NULL) {
        *listening = 0;
    }
    zkrpy_guard_close(g);
    if (wake != NULL) {
        Py_BEGIN_ALLOW_THREADS
        wake(h);
        Py_END_ALLOW_THREADS
    }
    zkrpy_guard_leave(g);
}

/* ---- waiting ------------------------------------------------------------ */

/* Long enough to cost nothing, short enough for Ctrl-C to feel immediate. */
#define WAIT_SLICE_MS 100

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

zkrpy_waiter_t *
zkrpy_waiter_new(void)
{
    zkrpy_waiter_t *w = malloc(sizeof *w);
    pthread_condattr_t a;

    if (w == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &a);
    pthread_condattr_destroy(&a);
    w->done = 0;
    w->status = ZKR_OK;
    w->refs = 2;
    return w;
}

void
zkrpy_waiter_unref(zkrpy_waiter_t *w)
{
    int last;

    pthread_mutex_lock(&w->mu);
    last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (last) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
    }
}

void
zkrpy_waiter_signal(zkrpy_waiter_t *w, int status)
{
    pthread_mutex_lock(&w->mu);
    w->status = status;
    w->done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    zkrpy_waiter_unref(w);
}

/* Called without the GIL. Returns 1 once the waiter is done. */
static int
wait_slice(zkrpy_waiter_t *w, int ms)
{
    struct timespec ts;
    int done;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    done = w->done;
    pthread_mutex_unlock(&w->mu);
    return done;
}

static void
wait_done(zkrpy_waiter_t *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

int
zkrpy_wait(zkrpy_waiter_t *w, int timeout_ms, int (*cancel)(void *),
           void *handle, int *interrupted)
{
    int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
    int done, timed_out = 0, status;

    *interrupted = 0;
    for (;;) {
        int slice = WAIT_SLICE_MS;

        if (timeout_ms >= 0) {
            int64_t left = deadline - now_ms();

            if (left <= 0) {
                timed_out = 1;
                break;
            }
            if (left < slice) {
                slice = (int)left;
            }
        }
        Py_BEGIN_ALLOW_THREADS
        done = wait_slice(w, slice);
        Py_END_ALLOW_THREADS
        if (done) {
            return w->status;
        }
        if (PyErr_CheckSignals() < 0) {
            *interrupted = 1;
            break;
        }
    }
    if (cancel == NULL) {
        /* Left running: its callback drops the other reference. */
        return ZKR_ETIMEDOUT;
    }
    Py_BEGIN_ALLOW_THREADS
    cancel(handle);
    wait_done(w);
    Py_END_ALLOW_THREADS
    status = w->status;
    if (timed_out && status == ZKR_ECANCELED) {
        status = ZKR_ETIMEDOUT;
    }
    return status;
}

int
zkrpy_wait_sliced(zkrpy_guard_t *g, PyObject *client, int timeout_ms,
                  int (*fn)(void *handle, int ms, void *arg), void *arg)
{
    int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
    void *h = g->handle;
    int rc;

    for (;;) {
        int slice = WAIT_SLICE_MS;

        if (timeout_ms == 0) {
            slice = 0;
        }
        else if (timeout_ms > 0) {
            int64_t left = deadline - now_ms();

            if (left <= 0) {
                return ZKR_ETIMEDOUT;
            }
            if (left < slice) {
                slice = (int)left;
            }
        }
        Py_BEGIN_ALLOW_THREADS
        rc = fn(h, slice, arg);
        Py_END_ALLOW_THREADS
        if (rc != ZKR_ETIMEDOUT || timeout_ms == 0) {
            return rc;
        }
        if (g->closing || (client != NULL && zkrpy_client_closed(client))) {
            return ZKR_ECLOSED;
        }
        if (PyErr_CheckSignals() < 0) {
            return ZKRPY_RAISED;
        }
    }
}

int
zkrpy_wait_guarded(zkrpy_guard_t *g, PyObject *client, int timeout_ms,
                   int (*fn)(void *handle, int ms, void *arg), void *arg,
                   PyObject *where, int *closing)
{
    int rc;

    *closing = 0;
    if (timeout_ms != 0 && zkrpy_in_callback()) {
        zkrpy_raise_at(ZKR_EDEADLK, where);
        return ZKRPY_RAISED;
    }
    if (zkrpy_guard_enter(g) < 0) {
        return ZKRPY_RAISED;
    }
    rc = zkrpy_wait_sliced(g, client, timeout_ms, fn, arg);
    *closing = g->closing;
    zkrpy_guard_leave(g);
    return rc;
}

int
zkrpy_async_wait(int (*start)(void *arg, zkrpy_waiter_t *w), void *arg,
                 int timeout_ms, int (*cancel)(void *), void *handle,
                 int *interrupted)
{
    zkrpy_waiter_t *w = zkrpy_waiter_new();
    int rc;

    *interrupted = 0;
    if (w == NULL) {
        return ZKRPY_RAISED;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = start(arg, w);
    Py_END_ALLOW_THREADS
    if (rc == ZKR_OK) {
        rc = zkrpy_wait(w, timeout_ms, cancel, handle, interrupted);
    }
    else {
        zkrpy_waiter_unref(w); /* the callback's: it will not run */
    }
    zkrpy_waiter_unref(w);
    return rc;
}

int
zkrpy_closed_status(int rc, int closing, PyObject *client)
{
    if (rc == ZKRPY_RAISED) {
        return rc;
    }
    if (closing || (rc == ZKR_ECANCELED && zkrpy_client_closed(client))) {
        return ZKR_ECLOSED;
    }
    return rc;
}

int
zkrpy_get_data(PyObject *obj, Py_buffer *view)
{
    if (obj == NULL || obj == Py_None) {
        memset(view, 0, sizeof *view);
        return 0;
    }
    /* str is refused: node data are bytes, the encoding is the caller's. */
    return PyObject_GetBuffer(obj, view, PyBUF_SIMPLE);
}

PyObject *
zkrpy_bytes(const void *data, size_t len)
{
    return PyBytes_FromStringAndSize(data != NULL ? data : "",
                                     (Py_ssize_t)len);
}

PyObject *
zkrpy_data_stat(char *data, size_t len, const zkr_stat_t *st)
{
    PyObject *bytes = zkrpy_bytes(data, len), *stat;

    zkr_free(data);
    stat = bytes != NULL ? zkrpy_stat_new(st) : NULL;
    if (stat == NULL) {
        Py_XDECREF(bytes);
        return NULL;
    }
    return Py_BuildValue("(NN)", bytes, stat);
}

PyObject *
zkrpy_struct_seq(PyTypeObject *type, PyObject **v, int n)
{
    PyObject *o = NULL;
    int complete = 1;

    for (int i = 0; i < n; i++) {
        complete = complete && v[i] != NULL;
    }
    if (complete) {
        o = PyStructSequence_New(type);
    }
    for (int i = 0; i < n; i++) {
        if (o != NULL) {
            PyStructSequence_SetItem(o, i, v[i]);
        }
        else {
            Py_XDECREF(v[i]);
        }
    }
    return o;
}

int
zkrpy_seconds(PyObject *obj, double *s)
{
    if (obj == NULL || obj == Py_None) {
        return 0;
    }
    *s = PyFloat_AsDouble(obj);
    if (*s == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    return 1;
}

int
zkrpy_timeout_ms(PyObject *obj, int *ms)
{
    double s = 0.0;
    int r = zkrpy_seconds(obj, &s);

    if (r <= 0) {
        *ms = -1; /* None: forever */
        return r;
    }
    if (s == -1.0) {
        /* threading.Lock.acquire spells "forever" this way */
        *ms = -1;
        return 0;
    }
    if (!(s >= 0.0)) {
        PyErr_SetString(PyExc_ValueError,
                        "timeout must be None or a non-negative number");
        return -1;
    }
    if (s * 1000.0 >= (double)INT_MAX) {
        *ms = -1;
        return 0;
    }
    /* Rounded up: a small positive timeout must not become 0 (try once). */
    *ms = (int)ceil(s * 1000.0);
    return 0;
}

int
zkrpy_timeout_arg(PyObject *args, PyObject *kwds, const char *fmt, int *ms)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = Py_None;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &timeout)) {
        return -1;
    }
    return zkrpy_timeout_ms(timeout, ms);
}

int
zkrpy_blocking_timeout(int blocking, PyObject *timeout, int *ms)
{
    if (zkrpy_timeout_ms(timeout, ms) < 0) {
        return -1;
    }
    if (!blocking) {
        if (timeout != Py_None) {
            PyErr_SetString(PyExc_ValueError,
                            "can't specify a timeout for a non-blocking "
                            "call");
            return -1;
        }
        *ms = 0;
    }
    return 0;
}

int
zkrpy_check_callable(PyObject *fn, const char *what)
{
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "%s must be callable or None", what);
        return -1;
    }
    return 0;
}

int
zkrpy_acl_arg(PyObject *obj, zkr_acl_t *buf, const zkr_acl_t **acl)
{
    PyObject *num;
    long v;
    int overflow;

    *acl = NULL;
    if (obj == NULL || obj == Py_None) {
        return 0;
    }
    /* As the "i" of Client(acl=): ints and objects with __index__. */
    if (!PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "acl must be zkr.ACL_OPEN, ACL_CREATOR_ALL, "
                     "ACL_READ_ONLY or None, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    num = PyNumber_Index(obj);
    if (num == NULL) {
        return -1;
    }
    v = PyLong_AsLongAndOverflow(num, &overflow);
    Py_DECREF(num);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow != 0 || (v != ZKR_ACL_OPEN && v != ZKR_ACL_CREATOR_ALL &&
                          v != ZKR_ACL_READ_ONLY)) {
        zkrpy_raise(ZKR_EINVAL, "acl");
        return -1;
    }
    *buf = (zkr_acl_t)v;
    *acl = buf;
    return 0;
}

/* ---- callback gating ---------------------------------------------------- */

static pthread_mutex_t cb_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cb_cv = PTHREAD_COND_INITIALIZER;
static int cb_shutdown;
static int cb_inflight;
static _Thread_local int tls_in_callback;

int
zkrpy_callback_enter(void)
{
    int ok;

    pthread_mutex_lock(&cb_mu);
    ok = !cb_shutdown;
    if (ok) {
        cb_inflight++;
    }
    pthread_mutex_unlock(&cb_mu);
    return ok;
}

void
zkrpy_callback_leave(void)
{
    pthread_mutex_lock(&cb_mu);
    if (--cb_inflight == 0) {
        pthread_cond_broadcast(&cb_cv);
    }
    pthread_mutex_unlock(&cb_mu);
}

int
zkrpy_in_callback(void)
{
    return tls_in_callback;
}

void
zkrpy_set_in_callback(int on)
{
    tls_in_callback = on;
}

/* ---- callbacks of recipe objects ------------------------------------------ */

int
zkrpy_cb_enter(PyObject *obj, zkrpy_guard_t *g, const int *listening,
               zkrpy_cbstate_t *st)
{
    if (!zkrpy_callback_enter()) {
        return 0;
    }
    st->gs = PyGILState_Ensure();
    if (!*listening) {
        PyGILState_Release(st->gs);
        zkrpy_callback_leave();
        return 0;
    }
    Py_INCREF(obj);
    g->in_cb++;
    st->prev_in_callback = zkrpy_in_callback();
    zkrpy_set_in_callback(1);
    return 1;
}

typedef struct {
    PyObject *obj;
    zkrpy_guard_t *guard;
} deferred_t;

/* A pending call: runs on the main thread, with the GIL. If a callback of
 * the object is running meanwhile (on this thread, under the pending call,
 * or on another one), it holds a reference and counts in in_cb: the free
 * is then left to its zkrpy_cb_leave, and this reference is not the last. */
static int
deferred_release(void *arg)
{
    deferred_t *d = arg;
    zkrpy_guard_t *g = d->guard;

    if (g->closing && g->handle != NULL && guard_idle(g)) {
        guard_free(g);
    }
    Py_DECREF(d->obj);
    PyMem_RawFree(d);
    return 0;
}

void
zkrpy_cb_leave(PyObject *obj, zkrpy_guard_t *g, zkrpy_cbstate_t *st)
{
    zkrpy_set_in_callback(st->prev_in_callback);
    g->in_cb--;
    if (Py_REFCNT(obj) == 1 ||
        (g->closing && g->handle != NULL && guard_idle(g))) {
        /* Either would free the handle from its own callback. */
        deferred_t *d = PyMem_RawMalloc(sizeof *d);

        if (d != NULL) {
            d->obj = obj;
            d->guard = g;
            if (Py_AddPendingCall(deferred_release, d) == 0) {
                obj = NULL; /* the reference went with it */
            }
            else {
                PyMem_RawFree(d);
            }
        }
        if (obj != NULL && Py_REFCNT(obj) == 1) {
            /* Nowhere to hand it to: keeping the object is safe, freeing
             * it here is not. */
            obj = NULL;
        }
    }
    Py_XDECREF(obj);
    PyGILState_Release(st->gs);
    zkrpy_callback_leave();
}

void
zkrpy_cb_call(PyObject *fn, PyObject *args)
{
    PyObject *r = NULL;

    if (args != NULL) {
        r = PyObject_Call(fn, args, NULL);
        Py_DECREF(args);
    }
    if (r == NULL) {
        PyErr_WriteUnraisable(fn);
    }
    Py_XDECREF(r);
}

PyObject *
zkrpy_str_or_none(const char *s)
{
    if (s == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "surrogateescape");
}

/* ---- objects owning a guarded handle ------------------------------------ */

PyObject *
zkrpy_obj_alloc(PyTypeObject *type, PyObject *client, const char *path)
{
    zkrpy_obj_t *o = (zkrpy_obj_t *)type->tp_alloc(type, 0);

    if (o == NULL) {
        return NULL;
    }
    o->client = Py_NewRef(client);
    if (path != NULL) {
        o->path = PyUnicode_FromString(path);
        if (o->path == NULL) {
            Py_DECREF(o);
            return NULL;
        }
    }
    return (PyObject *)o;
}

PyObject *
zkrpy_obj_adopt(PyTypeObject *type, PyObject *client, const char *path,
                void *handle, void (*free_fn)(void *handle, void *owner))
{
    zkrpy_obj_t *o = (zkrpy_obj_t *)zkrpy_obj_alloc(type, client, path);

    if (o == NULL) {
        Py_BEGIN_ALLOW_THREADS
        free_fn(handle, NULL);
        Py_END_ALLOW_THREADS
        return NULL;
    }
    o->guard.handle = handle;
    o->guard.free_fn = free_fn;
    return (PyObject *)o;
}

PyObject *
zkrpy_obj_or_raise(PyObject *self, int rc)
{
    if (rc == ZKR_OK) {
        return self;
    }
    zkrpy_raise_at(rc, ((zkrpy_obj_t *)self)->path);
    Py_DECREF(self);
    return NULL;
}

void
zkrpy_obj_notify(zkrpy_obj_t *o, PyObject *const *fn, const char *fmt, ...)
{
    zkrpy_cbstate_t st;

    if (!zkrpy_cb_enter((PyObject *)o, &o->guard, &o->listening, &st)) {
        return;
    }
    if (*fn != NULL) {
        PyObject *f = Py_NewRef(*fn);
        va_list ap;

        va_start(ap, fmt);
        zkrpy_cb_call(f, Py_VaBuildValue(fmt, ap));
        va_end(ap);
        Py_DECREF(f);
    }
    zkrpy_cb_leave((PyObject *)o, &o->guard, &st);
}

static void
obj_shutdown(zkrpy_obj_t *o)
{
    zkrpy_guard_shutdown(&o->guard, &o->listening, o->close_first,
                         o->close_wake);
}

PyObject *
zkrpy_obj_close(PyObject *self, PyObject *unused)
{
    obj_shutdown((zkrpy_obj_t *)self);
    Py_RETURN_NONE;
}

PyObject *
zkrpy_obj_exit(PyObject *self, PyObject *args)
{
    obj_shutdown((zkrpy_obj_t *)self);
    Py_RETURN_FALSE;
}

PyObject *
zkrpy_obj_enter(PyObject *self, PyObject *unused)
{
    zkrpy_obj_t *o = (zkrpy_obj_t *)self;

    if (!zkrpy_guard_open(&o->guard)) {
        return zkrpy_raise_at(ZKR_ECLOSED, o->path);
    }
    return Py_NewRef(self);
}

PyObject *
zkrpy_obj_get_path(PyObject *self, void *closure)
{
    return Py_NewRef(((zkrpy_obj_t *)self)->path);
}

PyObject *
zkrpy_obj_get_closed(PyObject *self, void *closure)
{
    return PyBool_FromLong(!zkrpy_guard_open(&((zkrpy_obj_t *)self)->guard));
}

PyObject *
zkrpy_obj_repr(PyObject *self)
{
    zkrpy_obj_t *o = (zkrpy_obj_t *)self;

    return PyUnicode_FromFormat("<%s path=%R%s>", Py_TYPE(self)->tp_name,
                                o->path,
                                zkrpy_guard_open(&o->guard) ? "" : " closed");
}

int
zkrpy_obj_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(((zkrpy_obj_t *)self)->client);
    Py_VISIT(((zkrpy_obj_t *)self)->callback);
    return 0;
}

int
zkrpy_obj_clear(PyObject *self)
{
    zkrpy_obj_t *o = (zkrpy_obj_t *)self;

    o->listening = 0;
    Py_CLEAR(o->callback);
    return 0;
}

void
zkrpy_obj_dealloc(PyObject *self)
{
    zkrpy_obj_t *o = (zkrpy_obj_t *)self;

    PyObject_GC_UnTrack(self);
    o->listening = 0;
    zkrpy_guard_close(&o->guard);
    if (Py_TYPE(self)->tp_clear != NULL) {
        Py_TYPE(self)->tp_clear(self);
    }
    Py_CLEAR(o->client);
    Py_CLEAR(o->path);
    Py_TYPE(self)->tp_free(self);
}

/* Runs from atexit, before the interpreter starts finalizing: after it no
 * ZooKeeper thread enters Python again (a thread taking the GIL during
 * finalization would be terminated, and it is the completion thread). */
PyObject *
zkrpy_module_atexit(PyObject *module, PyObject *unused)
{
    zkrpy_close_all_clients();
    pthread_mutex_lock(&cb_mu);
    cb_shutdown = 1;
    pthread_mutex_unlock(&cb_mu);
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&cb_mu);
    while (cb_inflight > 0) {
        pthread_cond_wait(&cb_cv, &cb_mu);
    }
    pthread_mutex_unlock(&cb_mu);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

