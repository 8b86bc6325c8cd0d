/* SPDX-License-Identifier: Apache-2.0 */
/* The zkr Python extension: module setup, exceptions, constants, and the
 * helpers the object files share (guards, waiting, callback gating). */
#include "zkrmodule.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- exceptions ------------------------------------------------------------
 * zkr.Error keeps (code, message) in its args, like OSError keeps (errno,
 * strerror); the attributes read them back so that instances made by user
 * code and by the extension behave the same. */

static PyObject *
error_arg(PyObject *self, Py_ssize_t i)
{
    PyObject *args = ((PyBaseExceptionObject *)self)->args;

    if (args != NULL && PyTuple_Check(args) && PyTuple_GET_SIZE(args) > i) {
        return PyTuple_GET_ITEM(args, i);
    }
    return NULL;
}

static int
error_code(PyObject *self, int *code)
{
    PyObject *c = error_arg(self, 0);
    int overflow = 0;
    long v;

    if (c == NULL || !PyLong_Check(c)) {
        return -1;
    }
    v = PyLong_AsLongAndOverflow(c, &overflow);
    if (overflow || v < INT_MIN || v > INT_MAX) {
        return -1;
    }
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    *code = (int)v;
    return 0;
}

static PyObject *
error_get_code(PyObject *self, void *closure)
{
    PyObject *c = error_arg(self, 0);

    return Py_NewRef(c != NULL ? c : Py_None);
}

static PyObject *
error_get_message(PyObject *self, void *closure)
{
    PyObject *m = error_arg(self, 1);
    int code;

    if (m != NULL) {
        return Py_NewRef(m);
    }
    if (error_code(self, &code) == 0) {
        return PyUnicode_FromString(zkr_strerror(code));
    }
    Py_RETURN_NONE;
}

static PyObject *
error_get_name(PyObject *self, void *closure)
{
    int code;

    if (error_code(self, &code) == 0) {
        return PyUnicode_FromString(zkr_err_name(code));
    }
    Py_RETURN_NONE;
}

static PyObject *
error_str(PyObject *self)
{
    PyObject *m = error_get_message(self, NULL);

    if (m == NULL) {
        return NULL;
    }
    if (m == Py_None) {
        Py_DECREF(m);
        return ((PyTypeObject *)PyExc_Exception)->tp_str(self);
    }
    if (!PyUnicode_Check(m)) {
        Py_SETREF(m, PyObject_Str(m));
    }
    return m;
}

static PyGetSetDef error_getset[] = {
    {"code", error_get_code, NULL,
     "The zkr error code (a negative int, one of the E* constants).", NULL},
    {"message", error_get_message, NULL,
     "What went wrong, with the path concerned when there is one.", NULL},
    {"name", error_get_name, NULL,
     "Symbolic name of the code, e.g. 'ENONODE'.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zkrpy_ErrorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.Error",
    .tp_basicsize = sizeof(PyBaseExceptionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = PyDoc_STR("Error(code, message)\n--\n\n"
                        "Base class of every error zkr reports."),
    .tp_str = error_str,
    .tp_getset = error_getset,
};

static PyObject *exc_timeout, *exc_connection_lost, *exc_session_expired,
    *exc_no_node, *exc_node_exists, *exc_bad_version, *exc_not_empty,
    *exc_no_auth, *exc_auth_failed, *exc_invalid, *exc_closed,
    *exc_canceled, *exc_deadlock, *exc_busy, *exc_not_held;

static PyObject *
error_class(int code)
{
    switch (code) {
    case ZKR_ETIMEDOUT:
    case ZKR_EOPTIMEOUT:
    case ZKR_EWOULDBLOCK:
        return exc_timeout;
    case ZKR_ECONNLOSS:
    case ZKR_ECONNECT:
        return exc_connection_lost;
    case ZKR_ESESSIONEXPIRED:
    case ZKR_ELOCKLOST:
        return exc_session_expired;
    case ZKR_ENONODE:
        return exc_no_node;
    case ZKR_ENODEEXISTS:
        return exc_node_exists;
    case ZKR_EBADVERSION:
        return exc_bad_version;
    case ZKR_ENOTEMPTY:
        return exc_not_empty;
    case ZKR_ENOAUTH:
        return exc_no_auth;
    case ZKR_EAUTHFAILED:
        return exc_auth_failed;
    case ZKR_EINVAL:
    case ZKR_EBADPATH:
    case ZKR_EHOSTS:
    case ZKR_ETOOBIG:
    case ZKR_EBADARGUMENTS:
    case ZKR_EINVALIDACL:
        return exc_invalid;
    case ZKR_ECLOSED:
    case ZKR_ECLOSING:
        return exc_closed;
    case ZKR_ECANCELED:
        return exc_canceled;
    case ZKR_EDEADLK:
        return exc_deadlock;
    case ZKR_EBUSY:
        return exc_busy;
    case ZKR_ENOTHELD:
        return exc_not_held;
    default:
        return (PyObject *)&zkrpy_ErrorType;
    }
}

PyObject *
zkrpy_raise(int code, const char *context)
{
    PyObject *args;

    if (code == ZKR_ENOMEM) {
        return PyErr_NoMemory();
    }
    if (context != NULL) {
        args = Py_BuildValue("(iN)", code,
                             PyUnicode_FromFormat("%s: %s",
                                                  zkr_strerror(code),
                                                  context));
    }
    else {
        args = Py_BuildValue("(is)", code, zkr_strerror(code));
    }
    if (args != NULL) {
        PyErr_SetObject(error_class(code), args);
        Py_DECREF(args);
    }
    return NULL;
}

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
    if (g->handle == NULL || g->closing) {
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
    int was_open = g->handle != NULL && !g->closing;

    if (g->handle == NULL) {
        return 0;
    }
    g->closing = 1;
    if (guard_idle(g)) {
        guard_free(g);
    }
    return was_open;
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
zkrpy_get_data(PyObject *obj, Py_buffer *view)
{
    if (obj == NULL || obj == Py_None) {
        memset(view, 0, sizeof *view);
        return 0;
    }
    /* str is refused: node data are bytes, the encoding is the caller's. */
    return PyObject_GetBuffer(obj, view, PyBUF_SIMPLE);
}

int
zkrpy_timeout_ms(PyObject *obj, int *ms)
{
    double s;

    if (obj == NULL || obj == Py_None) {
        *ms = -1;
        return 0;
    }
    s = PyFloat_AsDouble(obj);
    if (s == -1.0 && PyErr_Occurred()) {
        return -1;
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

/* Runs from atexit, before the interpreter starts finalizing: after it no
 * ZooKeeper thread enters Python again (a thread taking the GIL during
 * finalization would be terminated, and it is the completion thread). */
static PyObject *
module_atexit(PyObject *module, PyObject *unused)
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

/* ---- Stat --------------------------------------------------------------- */

static PyStructSequence_Field stat_fields[] = {
    {"czxid", "zxid of the change that created the node (a lock's fencing "
              "token)"},
    {"mzxid", "zxid of the last change of the data"},
    {"ctime", "creation time, ms since the epoch"},
    {"mtime", "last change time, ms since the epoch"},
    {"version", "data version"},
    {"cversion", "children version"},
    {"aversion", "ACL version"},
    {"ephemeral_owner", "session id of the owner, 0 if persistent"},
    {"data_length", "length of the data"},
    {"num_children", "number of children"},
    {"pzxid", "zxid of the last change of the children"},
    {NULL, NULL},
};

static PyStructSequence_Desc stat_desc = {
    "zkr.Stat",
    "Metadata of a znode (ZooKeeper's Stat).",
    stat_fields,
    11,
};

PyTypeObject zkrpy_StatType;

PyObject *
zkrpy_stat_new(const zkr_stat_t *st)
{
    PyObject *o = PyStructSequence_New(&zkrpy_StatType);
    PyObject *v[11];

    if (o == NULL) {
        return NULL;
    }
    v[0] = PyLong_FromLongLong(st->czxid);
    v[1] = PyLong_FromLongLong(st->mzxid);
    v[2] = PyLong_FromLongLong(st->ctime);
    v[3] = PyLong_FromLongLong(st->mtime);
    v[4] = PyLong_FromLong(st->version);
    v[5] = PyLong_FromLong(st->cversion);
    v[6] = PyLong_FromLong(st->aversion);
    v[7] = PyLong_FromLongLong(st->ephemeral_owner);
    v[8] = PyLong_FromLong(st->data_length);
    v[9] = PyLong_FromLong(st->num_children);
    v[10] = PyLong_FromLongLong(st->pzxid);
    for (int i = 0; i < 11; i++) {
        if (v[i] == NULL) {
            for (int j = i + 1; j < 11; j++) {
                Py_XDECREF(v[j]);
            }
            Py_DECREF(o);
            return NULL;
        }
        PyStructSequence_SetItem(o, i, v[i]);
    }
    return o;
}

/* ---- module ------------------------------------------------------------- */

/* Codes outside int range are simply unknown codes. */
static int
code_arg(PyObject *arg, int *code)
{
    int overflow = 0;
    long v = PyLong_AsLongAndOverflow(arg, &overflow);

    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *code = overflow || v < INT_MIN || v > INT_MAX ? INT_MIN : (int)v;
    return 0;
}

static PyObject *
module_strerror(PyObject *module, PyObject *arg)
{
    int code;

    if (code_arg(arg, &code) < 0) {
        return NULL;
    }
    return PyUnicode_FromString(zkr_strerror(code));
}

static PyObject *
module_err_name(PyObject *module, PyObject *arg)
{
    int code;

    if (code_arg(arg, &code) < 0) {
        return NULL;
    }
    return PyUnicode_FromString(zkr_err_name(code));
}

static PyMethodDef module_methods[] = {
    {"strerror", module_strerror, METH_O,
     PyDoc_STR("strerror(code, /)\n--\n\n"
               "Text for a zkr error code.")},
    {"err_name", module_err_name, METH_O,
     PyDoc_STR("err_name(code, /)\n--\n\n"
               "Symbolic name of a zkr error code, e.g. 'ENONODE'.")},
    {"dubbo_provider_url", (PyCFunction)(void (*)(void))
     zkrpy_dubbo_provider_url, METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("dubbo_provider_url(host, port, interface, /, **params)\n"
               "--\n\n"
               "The URL text of a Dubbo provider as Dubbo writes it "
               "(protocol dubbo, anyhost, dynamic, pid, side=provider, "
               "timestamp, ...), with params added; parameters sorted by "
               "key. Register it with client.register_dubbo(url).")},
    {"dubbo_consumer_url", (PyCFunction)(void (*)(void))
     zkrpy_dubbo_consumer_url, METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("dubbo_consumer_url(host, interface, /, **params)\n--\n\n"
               "The URL text of a Dubbo consumer (consumer://host/"
               "interface?category=consumers&...), with params added.")},
    {"_atexit", module_atexit, METH_NOARGS,
     PyDoc_STR("Closes every client and stops callbacks (registered with "
               "atexit).")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef zkr_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "zkr",
    .m_doc = PyDoc_STR(
        "ZooKeeper coordination recipes (locks with fencing tokens, "
        "read/write locks, semaphores, queues, leader election, watched "
        "configuration, service registry and discovery) over the zkr C "
        "library.\n\n"
        "Layouts are Apache Curator's (and Dubbo's for the registry), so "
        "Python, C and Java processes share a lock, a queue or an "
        "election. Blocking calls release the GIL; listeners and recipe "
        "callbacks run on a ZooKeeper thread and must return quickly."),
    .m_size = -1,
    .m_methods = module_methods,
};

static int
add_exception(PyObject *m, PyObject **slot, const char *name,
              PyObject *base, PyObject *extra_base, const char *doc)
{
    char full[64];
    PyObject *bases;

    PyOS_snprintf(full, sizeof full, "zkr.%s", name);
    if (extra_base != NULL) {
        bases = PyTuple_Pack(2, base, extra_base);
    }
    else {
        bases = Py_NewRef(base);
    }
    if (bases == NULL) {
        return -1;
    }
    *slot = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (*slot == NULL) {
        return -1;
    }
    return PyModule_AddObjectRef(m, name, *slot);
}

static int
add_exceptions(PyObject *m)
{
    PyObject *err = (PyObject *)&zkrpy_ErrorType;

    if (add_exception(m, &exc_timeout, "LockTimeout", err, NULL,
                      "Not acquired (or not done) in time: ETIMEDOUT, "
                      "EWOULDBLOCK, EOPTIMEOUT.") < 0 ||
        add_exception(m, &exc_connection_lost, "ConnectionLost", err, NULL,
                      "No connection to ZooKeeper: ECONNLOSS, "
                      "ECONNECT.") < 0 ||
        add_exception(m, &exc_session_expired, "SessionExpired", err, NULL,
                      "The session ended, and with it ephemeral nodes and "
                      "locks: ESESSIONEXPIRED, ELOCKLOST.") < 0 ||
        add_exception(m, &exc_no_node, "NoNode", err, NULL,
                      "The node does not exist: ENONODE.") < 0 ||
        add_exception(m, &exc_node_exists, "NodeExists", err, NULL,
                      "The node exists already: ENODEEXISTS.") < 0 ||
        add_exception(m, &exc_bad_version, "BadVersion", err, NULL,
                      "Version check failed: EBADVERSION.") < 0 ||
        add_exception(m, &exc_not_empty, "NotEmpty", err, NULL,
                      "The node has children: ENOTEMPTY.") < 0 ||
        add_exception(m, &exc_no_auth, "NoAuth", err, NULL,
                      "Not authorised: ENOAUTH.") < 0 ||
        add_exception(m, &exc_auth_failed, "AuthFailed", exc_no_auth, NULL,
                      "The server refused the credentials: "
                      "EAUTHFAILED.") < 0 ||
        add_exception(m, &exc_invalid, "InvalidArgument", err,
                      PyExc_ValueError,
                      "Bad input: EINVAL, EBADPATH, EHOSTS, ETOOBIG, "
                      "EBADARGUMENTS, EINVALIDACL.") < 0 ||
        add_exception(m, &exc_closed, "Closed", err, NULL,
                      "The client or object is closed: ECLOSED.") < 0 ||
        add_exception(m, &exc_canceled, "Canceled", err, NULL,
                      "Canceled by cancel() from another thread: "
                      "ECANCELED.") < 0 ||
        add_exception(m, &exc_deadlock, "Deadlock", err,
                      PyExc_RuntimeError,
                      "A blocking call made from a listener, which runs on "
                      "the thread the call would wait for: EDEADLK.") < 0 ||
        add_exception(m, &exc_busy, "Busy", err, PyExc_RuntimeError,
                      "Another acquire is in progress on this object, or "
                      "it is held and not reentrant: EBUSY.") < 0 ||
        add_exception(m, &exc_not_held, "NotHeld", err, PyExc_RuntimeError,
                      "Released without holding: ENOTHELD.") < 0) {
        return -1;
    }
    /* The same class under a name that fits queues and elections too. */
    return PyModule_AddObjectRef(m, "Timeout", exc_timeout);
}

static int
add_constants(PyObject *m)
{
#define ZKRPY_ADD_CODE(name, value, text)                                   \
    if (PyModule_AddIntConstant(m, #name, (value)) < 0) {                   \
        return -1;                                                          \
    }
    ZKR_ERRNO_MAP(ZKRPY_ADD_CODE)
#undef ZKRPY_ADD_CODE
    if (PyModule_AddIntConstant(m, "ACL_OPEN", ZKR_ACL_OPEN) < 0 ||
        PyModule_AddIntConstant(m, "ACL_CREATOR_ALL",
                                ZKR_ACL_CREATOR_ALL) < 0 ||
        PyModule_AddIntConstant(m, "ACL_READ_ONLY", ZKR_ACL_READ_ONLY) < 0 ||
        PyModule_AddIntConstant(m, "MAX_DATA", (long)ZKR_MAX_DATA) < 0 ||
        PyModule_AddIntConstant(m, "CONFIG_ANY", ZKR_CONFIG_ANY) < 0 ||
        PyModule_AddIntConstant(m, "CONFIG_ABSENT", ZKR_CONFIG_ABSENT) < 0 ||
        PyModule_AddIntConstant(m, "LAYOUT_CURATOR", ZKR_LAYOUT_CURATOR) < 0 ||
        PyModule_AddIntConstant(m, "LAYOUT_DUBBO", ZKR_LAYOUT_DUBBO) < 0 ||
        PyModule_AddIntConstant(m, "LAYOUT_RAW", ZKR_LAYOUT_RAW) < 0 ||
        PyModule_AddIntConstant(m, "LB_RANDOM", ZKR_LB_RANDOM) < 0 ||
        PyModule_AddIntConstant(m, "LB_ROUND_ROBIN", ZKR_LB_ROUND_ROBIN) < 0 ||
        PyModule_AddIntConstant(m, "LB_LEAST_ACTIVE",
                                ZKR_LB_LEAST_ACTIVE) < 0 ||
        PyModule_AddIntConstant(m, "LB_CONSISTENT_HASH",
                                ZKR_LB_CONSISTENT_HASH) < 0 ||
        PyModule_AddStringConstant(m, "DUBBO_ROOT", ZKR_DUBBO_ROOT) < 0 ||
        PyModule_AddStringConstant(m, "DISCOVERY_BASE",
                                   ZKR_DISCOVERY_BASE) < 0 ||
        PyModule_AddStringConstant(m, "__version__",
                                   zkr_version_string()) < 0) {
        return -1;
    }
    return 0;
}

PyObject *zkrpy_State;

static int
add_state_enum(PyObject *m)
{
    static const zkr_state_t states[] = {
        ZKR_STATE_CONNECTED, ZKR_STATE_SUSPENDED,   ZKR_STATE_RECONNECTED,
        ZKR_STATE_LOST,      ZKR_STATE_AUTH_FAILED, ZKR_STATE_CLOSED,
    };
    PyObject *enum_mod, *int_enum, *members, *args = NULL, *kw = NULL;
    size_t n = sizeof states / sizeof states[0];

    enum_mod = PyImport_ImportModule("enum");
    if (enum_mod == NULL) {
        return -1;
    }
    int_enum = PyObject_GetAttrString(enum_mod, "IntEnum");
    Py_DECREF(enum_mod);
    if (int_enum == NULL) {
        return -1;
    }
    members = PyList_New((Py_ssize_t)n);
    if (members == NULL) {
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        PyObject *item = Py_BuildValue("(si)", zkr_state_name(states[i]),
                                       (int)states[i]);

        if (item == NULL) {
            goto done;
        }
        PyList_SET_ITEM(members, (Py_ssize_t)i, item);
    }
    args = Py_BuildValue("(sO)", "State", members);
    kw = Py_BuildValue("{ss}", "module", "zkr");
    if (args == NULL || kw == NULL) {
        goto done;
    }
    zkrpy_State = PyObject_Call(int_enum, args, kw);
done:
    Py_XDECREF(members);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    Py_DECREF(int_enum);
    if (zkrpy_State == NULL) {
        return -1;
    }
    return PyModule_AddObjectRef(m, "State", zkrpy_State);
}

static int
register_atexit(PyObject *m)
{
    PyObject *atexit_mod, *fn, *r;

    atexit_mod = PyImport_ImportModule("atexit");
    if (atexit_mod == NULL) {
        return -1;
    }
    fn = PyObject_GetAttrString(m, "_atexit");
    r = fn != NULL ? PyObject_CallMethod(atexit_mod, "register", "O", fn)
                   : NULL;
    Py_XDECREF(fn);
    Py_DECREF(atexit_mod);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static int
add_type(PyObject *m, PyTypeObject *type)
{
    if (PyType_Ready(type) < 0) {
        return -1;
    }
    return PyModule_AddType(m, type);
}

PyMODINIT_FUNC
PyInit_zkr(void)
{
    PyObject *m;

    /* Callbacks take the GIL through PyGILState_Ensure, which serves the
     * main interpreter only. */
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_SetString(PyExc_ImportError,
                        "zkr can only be imported in the main interpreter");
        return NULL;
    }
    m = PyModule_Create(&zkr_module);
    if (m == NULL) {
        return NULL;
    }
    zkrpy_ErrorType.tp_base = (PyTypeObject *)PyExc_Exception;
    if (zkrpy_StatType.tp_name == NULL &&
        PyStructSequence_InitType2(&zkrpy_StatType, &stat_desc) < 0) {
        goto fail;
    }
    if (zkrpy_ParticipantType.tp_name == NULL &&
        PyStructSequence_InitType2(&zkrpy_ParticipantType,
                                   &zkrpy_participant_desc) < 0) {
        goto fail;
    }
    if (add_type(m, &zkrpy_ErrorType) < 0 ||
        PyModule_AddObjectRef(m, "Stat", (PyObject *)&zkrpy_StatType) < 0 ||
        add_type(m, &zkrpy_ClientType) < 0 ||
        add_type(m, &zkrpy_LockType) < 0 ||
        add_type(m, &zkrpy_RWLockType) < 0 ||
        add_type(m, &zkrpy_SemaphoreType) < 0 ||
        add_type(m, &zkrpy_QueueType) < 0 ||
        add_type(m, &zkrpy_LeaseType) < 0 ||
        add_type(m, &zkrpy_ElectionType) < 0 ||
        PyModule_AddObjectRef(m, "Participant",
                              (PyObject *)&zkrpy_ParticipantType) < 0 ||
        add_type(m, &zkrpy_ConfigType) < 0 ||
        add_type(m, &zkrpy_RegistrationType) < 0 ||
        add_type(m, &zkrpy_DiscoveryType) < 0 ||
        add_type(m, &zkrpy_InstanceType) < 0 || add_exceptions(m) < 0 ||
        add_constants(m) < 0 || add_state_enum(m) < 0 ||
        register_atexit(m) < 0) {
        goto fail;
    }
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
