/* SPDX-License-Identifier: Apache-2.0 */
/* zkr.Semaphore: a counting semaphore of max_leases leases. */
#include "zkrmodule.h"

#include <string.h>

typedef struct {
    zkrpy_obj_t base;       /* handle: zkr_semaphore_t * */
    int max_leases;
    int enter_timeout_ms;
} SemaphoreObject;

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

typedef struct {
    zkr_semaphore_t *sem;
    int count;
} acquire_arg_t;

static int
start_acquire(void *arg, zkrpy_waiter_t *w)
{
    acquire_arg_t *a = arg;

    return zkr_semaphore_acquire_async(a->sem, a->count, waiter_cb, w);
}

/* Inside the guard; as acquire_wait in locks.c. */
static int
acquire_wait(SemaphoreObject *self, int count, int timeout_ms)
{
    acquire_arg_t a = {self->base.guard.handle, count};
    int rc, interrupted;

    if (timeout_ms == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = zkr_semaphore_acquire(a.sem, count, 0);
        Py_END_ALLOW_THREADS
        return rc;
    }
    if (zkrpy_in_callback()) {
        return ZKR_EDEADLK;
    }
    rc = zkrpy_async_wait(start_acquire, &a, timeout_ms, cancel_sem, a.sem,
                          &interrupted);
    if (interrupted) {
        if (rc == ZKR_OK) {
            Py_BEGIN_ALLOW_THREADS
            zkr_semaphore_release(a.sem, count);
            Py_END_ALLOW_THREADS
        }
        return ZKRPY_RAISED;
    }
    return rc;
}

/* Returns the zkr status (ZKR_ECLOSED: closed meanwhile), or
 * ZKRPY_RAISED. */
static int
acquire_guarded(SemaphoreObject *self, int count, int timeout_ms)
{
    int rc, closing;

    if (zkrpy_guard_enter(&self->base.guard) < 0) {
        return ZKRPY_RAISED;
    }
    rc = acquire_wait(self, count, timeout_ms);
    closing = self->base.guard.closing;
    zkrpy_guard_leave(&self->base.guard);
    return zkrpy_closed_status(rc, closing, self->base.client);
}

static PyObject *
sem_acquire(SemaphoreObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"count", "blocking", "timeout", NULL};
    int count = 1, blocking = 1, ms, rc;
    PyObject *timeout = Py_None;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|ipO:acquire", kwlist,
                                     &count, &blocking, &timeout) ||
        zkrpy_blocking_timeout(blocking, timeout, &ms) < 0) {
        return NULL;
    }
    rc = acquire_guarded(self, count, ms);
    return zkrpy_wait_result(rc == ZKR_EWOULDBLOCK ? ZKR_ETIMEDOUT : rc,
                             self->base.path);
}

static int
release_guarded(SemaphoreObject *self, int count)
{
    int rc;

    ZKRPY_GUARDED(&self->base.guard, rc, s,
                  zkr_semaphore_release(s, count));
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
    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->base.path);
    }
    Py_RETURN_NONE;
}

static PyObject *
sem_enter(SemaphoreObject *self, PyObject *unused)
{
    int rc = acquire_guarded(self, 1, self->enter_timeout_ms);

    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->base.path);
    }
    return Py_NewRef(self);
}

static PyObject *
sem_exit(SemaphoreObject *self, PyObject *args)
{
    int rc = release_guarded(self, 1);

    if (rc == ZKRPY_RAISED) {
        PyErr_Clear();
    }
    else if (rc != ZKR_OK && rc != ZKR_ENOTHELD) {
        return zkrpy_raise_at(rc, self->base.path);
    }
    Py_RETURN_FALSE;
}

static PyObject *
sem_cancel(SemaphoreObject *self, PyObject *unused)
{
    int rc;

    ZKRPY_GUARDED(&self->base.guard, rc, s, zkr_semaphore_cancel(s));
    return zkrpy_held_result(rc, self->base.path);
}

static int
held_now(SemaphoreObject *self)
{
    zkr_semaphore_t *s = self->base.guard.handle;

    return s != NULL ? zkr_semaphore_held(s) : 0;
}

static PyObject *
sem_get_held(SemaphoreObject *self, void *closure)
{
    return PyLong_FromLong(held_now(self));
}

static PyObject *
sem_get_max_leases(SemaphoreObject *self, void *closure)
{
    return PyLong_FromLong(self->max_leases);
}

static PyObject *
sem_repr(SemaphoreObject *self)
{
    return PyUnicode_FromFormat("<zkr.Semaphore path=%R held=%d of %d>",
                                self->base.path, held_now(self),
                                self->max_leases);
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
    zc = zkrpy_client_enter_data(client, data, &view);
    if (zc == NULL) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_semaphore_new(zc, path, max_leases, view.buf, (size_t)view.len,
                           &s);
    Py_END_ALLOW_THREADS
    zkrpy_client_leave_data(client, &view);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, path);
    }
    self = (SemaphoreObject *)zkrpy_obj_adopt(type, client, path, s,
                                              sem_free_native);
    if (self != NULL) {
        /* close() returns every lease and cancels a pending acquire. */
        self->base.close_wake = cancel_sem;
        self->max_leases = max_leases;
        self->enter_timeout_ms = ms;
    }
    return (PyObject *)self;
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
    {"close", zkrpy_obj_close, METH_NOARGS,
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
    {"path", zkrpy_obj_get_path, NULL, "The semaphore path.", NULL},
    {"closed", zkrpy_obj_get_closed, NULL, "True after close().", NULL},
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
    .tp_dealloc = zkrpy_obj_dealloc,
    .tp_traverse = zkrpy_obj_traverse,
    .tp_repr = (reprfunc)sem_repr,
    .tp_methods = sem_methods,
    .tp_getset = sem_getset,
};
