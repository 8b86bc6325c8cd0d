/* SPDX-License-Identifier: Apache-2.0 */
/* zkr.Semaphore: a counting semaphore of max_leases leases. */
#include "zkrmodule.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    PyObject *client;
    zkrpy_guard_t guard;    /* handle: zkr_semaphore_t * */
    PyObject *path;
    int max_leases;
    int enter_timeout_ms;
} SemaphoreObject;

/* Returned instead of a zkr status when a Python exception is set. */
#define RAISED 1

static void
sem_free_native(void *handle, void *owner)
{
    zkr_semaphore_free(handle);
}

static int
cancel_sem(void *handle)
{
    return zkr_semaphore_cancel(handle);
}

static void
waiter_cb(zkr_semaphore_t *sem, int status, void *ctx)
{
    zkrpy_waiter_signal(ctx, status);
}

static const char *
sem_path(SemaphoreObject *self)
{
    const char *p = PyUnicode_AsUTF8(self->path);

    if (p == NULL) {
        PyErr_Clear();
        return "?";
    }
    return p;
}

/* Inside the guard; as acquire_wait in locks.c. */
static int
acquire_wait(SemaphoreObject *self, int count, int timeout_ms)
{
    zkr_semaphore_t *s = self->guard.handle;
    zkrpy_waiter_t *w;
    int rc, interrupted = 0;

    if (timeout_ms == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = zkr_semaphore_acquire(s, count, 0);
        Py_END_ALLOW_THREADS
        return rc;
    }
    if (zkrpy_in_callback()) {
        return ZKR_EDEADLK;
    }
    w = zkrpy_waiter_new();
    if (w == NULL) {
        return RAISED;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_semaphore_acquire_async(s, count, waiter_cb, w);
    Py_END_ALLOW_THREADS
    if (rc == ZKR_OK) {
        rc = zkrpy_wait(w, timeout_ms, cancel_sem, s, &interrupted);
    }
    else {
        zkrpy_waiter_unref(w); /* the callback's: it will not run */
    }
    zkrpy_waiter_unref(w);
    if (interrupted) {
        if (rc == ZKR_OK) {
            Py_BEGIN_ALLOW_THREADS
            zkr_semaphore_release(s, count);
            Py_END_ALLOW_THREADS
        }
        return RAISED;
    }
    return rc;
}

static int
acquire_guarded(SemaphoreObject *self, int count, int timeout_ms)
{
    int rc, closing;

    if (zkrpy_guard_enter(&self->guard) < 0) {
        return RAISED;
    }
    rc = acquire_wait(self, count, timeout_ms);
    closing = self->guard.closing;
    zkrpy_guard_leave(&self->guard);
    if (rc == RAISED) {
        return rc;
    }
    if (closing ||
        (rc == ZKR_ECANCELED && zkrpy_client_closed(self->client))) {
        zkrpy_raise(ZKR_ECLOSED, sem_path(self));
        return RAISED;
    }
    return rc;
}

static PyObject *
sem_acquire(SemaphoreObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"count", "blocking", "timeout", NULL};
    int count = 1, blocking = 1, ms, rc;
    PyObject *timeout = Py_None;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|ipO:acquire", kwlist,
                                     &count, &blocking, &timeout) ||
        zkrpy_timeout_ms(timeout, &ms) < 0) {
        return NULL;
    }
    if (!blocking) {
        if (timeout != Py_None) {
            PyErr_SetString(PyExc_ValueError,
                            "can't specify a timeout for a non-blocking "
                            "call");
            return NULL;
        }
        ms = 0;
    }
    rc = acquire_guarded(self, count, ms);
    switch (rc) {
    case ZKR_OK:
        Py_RETURN_TRUE;
    case ZKR_ETIMEDOUT:
    case ZKR_EWOULDBLOCK:
        Py_RETURN_FALSE;
    case RAISED:
        return NULL;
    default:
        return zkrpy_raise(rc, sem_path(self));
    }
}

static int
release_guarded(SemaphoreObject *self, int count)
{
    int rc;

    if (zkrpy_guard_enter(&self->guard) < 0) {
        return RAISED;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_semaphore_release(self->guard.handle, count);
    Py_END_ALLOW_THREADS
    zkrpy_guard_leave(&self->guard);
    return rc;
}

static PyObject *
sem_release(SemaphoreObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"count", NULL};
    int count = 1, rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|i:release", kwlist,
                                     &count)) {
        return NULL;
    }
    rc = release_guarded(self, count);
    if (rc == RAISED) {
        return NULL;
    }
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, sem_path(self));
    }
    Py_RETURN_NONE;
}

static PyObject *
sem_enter(SemaphoreObject *self, PyObject *unused)
{
    int rc = acquire_guarded(self, 1, self->enter_timeout_ms);

    if (rc == RAISED) {
        return NULL;
    }
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, sem_path(self));
    }
    return Py_NewRef(self);
}

static PyObject *
sem_exit(SemaphoreObject *self, PyObject *args)
{
    int rc = release_guarded(self, 1);

    if (rc == RAISED) {
        PyErr_Clear();
    }
    else if (rc != ZKR_OK && rc != ZKR_ENOTHELD) {
        return zkrpy_raise(rc, sem_path(self));
    }
    Py_RETURN_FALSE;
}

static PyObject *
sem_cancel(SemaphoreObject *self, PyObject *unused)
{
    int rc;

    if (zkrpy_guard_enter(&self->guard) < 0) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_semaphore_cancel(self->guard.handle);
    Py_END_ALLOW_THREADS
    zkrpy_guard_leave(&self->guard);
    if (rc == ZKR_ENOTHELD) {
        Py_RETURN_FALSE;
    }
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, sem_path(self));
    }
    Py_RETURN_TRUE;
}

static PyObject *
sem_close(SemaphoreObject *self, PyObject *unused)
{
    zkr_semaphore_t *s;

    if (zkrpy_guard_enter(&self->guard) < 0) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    s = self->guard.handle;
    zkrpy_guard_close(&self->guard);
    Py_BEGIN_ALLOW_THREADS
    zkr_semaphore_cancel(s);
    Py_END_ALLOW_THREADS
    zkrpy_guard_leave(&self->guard);
    Py_RETURN_NONE;
}

static PyObject *
sem_get_held(SemaphoreObject *self, void *closure)
{
    int n = 0;

    if (self->guard.handle != NULL) {
        n = zkr_semaphore_held(self->guard.handle);
    }
    return PyLong_FromLong(n);
}

static PyObject *
sem_get_max_leases(SemaphoreObject *self, void *closure)
{
    return PyLong_FromLong(self->max_leases);
}

static PyObject *
sem_get_path(SemaphoreObject *self, void *closure)
{
    return Py_NewRef(self->path);
}

static PyObject *
sem_get_closed(SemaphoreObject *self, void *closure)
{
    return PyBool_FromLong(self->guard.handle == NULL || self->guard.closing);
}

static PyObject *
sem_repr(SemaphoreObject *self)
{
    int held = 0;

    if (self->guard.handle != NULL) {
        held = zkr_semaphore_held(self->guard.handle);
    }
    return PyUnicode_FromFormat("<zkr.Semaphore path=%R held=%d of %d>",
                                self->path, held, self->max_leases);
}

static PyObject *
sem_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"client", "path", "max_leases", "data",
                             "timeout", NULL};
    PyObject *client, *data = Py_None, *timeout = Py_None;
    const char *path;
    int max_leases, ms, rc;
    Py_buffer view;
    zkr_semaphore_t *s = NULL;
    zkr_client_t *zc;
    SemaphoreObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Osi|OO:Semaphore", kwlist,
                                     &client, &path, &max_leases, &data,
                                     &timeout) ||
        zkrpy_timeout_ms(timeout, &ms) < 0) {
        return NULL;
    }
    if (zkrpy_get_data(data, &view) < 0) {
        return NULL;
    }
    zc = zkrpy_client_enter(client);
    if (zc == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_semaphore_new(zc, path, max_leases, view.buf, (size_t)view.len,
                           &s);
    Py_END_ALLOW_THREADS
    zkrpy_client_leave(client);
    PyBuffer_Release(&view);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, path);
    }
    self = (SemaphoreObject *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->path = PyUnicode_FromString(path);
    }
    if (self == NULL || self->path == NULL) {
        Py_BEGIN_ALLOW_THREADS
        zkr_semaphore_free(s);
        Py_END_ALLOW_THREADS
        Py_XDECREF(self);
        return NULL;
    }
    self->client = Py_NewRef(client);
    self->guard.handle = s;
    self->guard.free_fn = sem_free_native;
    self->max_leases = max_leases;
    self->enter_timeout_ms = ms;
    return (PyObject *)self;
}

static int
sem_traverse(SemaphoreObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->client);
    return 0;
}

static void
sem_dealloc(SemaphoreObject *self)
{
    PyObject_GC_UnTrack(self);
    zkrpy_guard_close(&self->guard);
    Py_CLEAR(self->client);
    Py_CLEAR(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef sem_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))sem_acquire,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("acquire($self, /, count=1, blocking=True, timeout=None)\n"
               "--\n\n"
               "Acquire count leases, all or none, waiting at most timeout "
               "seconds (None: forever). True when held, False when not "
               "acquired in time. The GIL is released while waiting.")},
    {"release", (PyCFunction)(void (*)(void))sem_release,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("release($self, /, count=1)\n--\n\n"
               "Return count leases. Raises NotHeld if fewer are held.")},
    {"cancel", (PyCFunction)sem_cancel, METH_NOARGS,
     PyDoc_STR("cancel($self, /)\n--\n\n"
               "Make a pending acquire in another thread raise Canceled; "
               "False if none was pending.")},
    {"close", (PyCFunction)sem_close, METH_NOARGS,
     PyDoc_STR("close($self, /)\n--\n\n"
               "Return every lease, cancel a pending acquire, free.")},
    {"__enter__", (PyCFunction)sem_enter, METH_NOARGS,
     PyDoc_STR("Acquire one lease (within the timeout given to the "
               "constructor, else LockTimeout).")},
    {"__exit__", (PyCFunction)sem_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sem_getset[] = {
    {"held", (getter)sem_get_held, NULL,
     "Leases this object holds now (0 after its session is lost).", NULL},
    {"max_leases", (getter)sem_get_max_leases, NULL,
     "The number of leases in all.", NULL},
    {"path", (getter)sem_get_path, NULL, "The semaphore path.", NULL},
    {"closed", (getter)sem_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zkrpy_SemaphoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.Semaphore",
    .tp_basicsize = sizeof(SemaphoreObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "Semaphore(client, path, max_leases, data=None, timeout=None)\n"
        "--\n\n"
        "A counting semaphore with Curator's InterProcessSemaphoreV2 "
        "layout; usually made with client.Semaphore(path, max_leases). "
        "Every participant must use the same max_leases. `with sem:` "
        "takes one lease."),
    .tp_new = sem_new,
    .tp_dealloc = (destructor)sem_dealloc,
    .tp_traverse = (traverseproc)sem_traverse,
    .tp_repr = (reprfunc)sem_repr,
    .tp_methods = sem_methods,
    .tp_getset = sem_getset,
};
