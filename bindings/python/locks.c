/* SPDX-License-Identifier: Apache-2.0 */
/* zkr.Lock and zkr.RWLock (whose two sides are zkr.Lock objects). */
#include "zkrmodule.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    PyObject *client;       /* zkr.Client: keeps the session alive */
    PyObject *owner;        /* the zkr.RWLock of a side, else NULL */
    zkr_lock_t *lock;       /* owned by the guard, or borrowed from owner */
    zkrpy_guard_t own;      /* guard of a plain lock */
    zkrpy_guard_t *guard;   /* &own, or the owner's guard */
    PyObject *path;         /* str */
    const char *kind;       /* "", " read side", " write side" */
    int enter_timeout_ms;   /* for the with statement */
} LockObject;

typedef struct {
    zkrpy_obj_t base;       /* handle: zkr_rwlock_t * */
    PyObject *read_lock;    /* LockObject sides */
    PyObject *write_lock;
} RWLockObject;

static void
lock_free_native(void *handle, void *owner)
{
    zkr_lock_free(handle);
}

static void
rwlock_free_native(void *handle, void *owner)
{
    zkr_rwlock_free(handle);
}

static int
cancel_lock(void *handle)
{
    return zkr_lock_cancel(handle);
}

/* close() of a read/write lock cancels pending acquires of both sides. */
static int
cancel_sides(void *handle)
{
    zkr_lock_cancel(zkr_rwlock_read(handle));
    return zkr_lock_cancel(zkr_rwlock_write(handle));
}

static void
waiter_cb(zkr_lock_t *lock, int status, void *ctx)
{
    zkrpy_waiter_signal(ctx, status);
}

static int
start_acquire(void *lock, zkrpy_waiter_t *w)
{
    return zkr_lock_acquire_async(lock, waiter_cb, w);
}

/* ---- acquire ---------------------------------------------------------------
 * Called inside the guard. Blocking forever in zkr_lock_acquire would leave
 * Ctrl-C and close() from another thread unheard, so a waiting acquire is
 * the async call plus zkrpy_wait. */
static int
acquire_wait(LockObject *self, int timeout_ms)
{
    zkr_lock_t *l = self->lock;
    int rc, interrupted;

    if (timeout_ms == 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = zkr_lock_acquire(l, 0);
        Py_END_ALLOW_THREADS
        return rc;
    }
    /* A listener runs on the thread that would grant the lock. */
    if (zkrpy_in_callback()) {
        return ZKR_EDEADLK;
    }
    rc = zkrpy_async_wait(start_acquire, l, timeout_ms, cancel_lock, l,
                          &interrupted);
    if (interrupted) {
        if (rc == ZKR_OK) {
            /* Granted just before the cancel: give it back. */
            Py_BEGIN_ALLOW_THREADS
            zkr_lock_release(l);
            Py_END_ALLOW_THREADS
        }
        return ZKRPY_RAISED;
    }
    return rc;
}

/* Returns the zkr status, or ZKRPY_RAISED with an exception set.
 * ZKR_ECLOSED: close() from another thread canceled us, or freed the lock
 * we just got. */
static int
acquire_guarded(LockObject *self, int timeout_ms)
{
    int rc, closing;

    if (zkrpy_guard_enter(self->guard) < 0) {
        return ZKRPY_RAISED;
    }
    rc = acquire_wait(self, timeout_ms);
    closing = self->guard->closing;
    zkrpy_guard_leave(self->guard);
    return zkrpy_closed_status(rc, closing, self->client);
}

static PyObject *
lock_acquire(LockObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"blocking", "timeout", NULL};
    int blocking = 1, ms, rc;
    PyObject *timeout = Py_None;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pO:acquire", kwlist,
                                     &blocking, &timeout) ||
        zkrpy_blocking_timeout(blocking, timeout, &ms) < 0) {
        return NULL;
    }
    rc = acquire_guarded(self, ms);
    return zkrpy_wait_result(rc == ZKR_EWOULDBLOCK ? ZKR_ETIMEDOUT : rc,
                             self->path);
}

static PyObject *
token_or_none(LockObject *self)
{
    int64_t t = 0;

    if (self->guard->handle != NULL) {
        t = zkr_lock_token(self->lock);
    }
    if (t == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(t);
}

static PyObject *
lock_enter(LockObject *self, PyObject *unused)
{
    int rc = acquire_guarded(self, self->enter_timeout_ms);

    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->path);
    }
    return token_or_none(self);
}

/* The sides of a read/write lock share the guard of its handle: the calls
 * use self->lock, not the guard's handle. */
static int
release_guarded(LockObject *self)
{
    int rc;

    ZKRPY_GUARDED(self->guard, rc, h, zkr_lock_release(self->lock));
    return rc;
}

static PyObject *
lock_release(LockObject *self, PyObject *unused)
{
    int rc = release_guarded(self);

    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->path);
    }
    Py_RETURN_NONE;
}

/* Leaving the with block gives the hold back; one that is gone already (the
 * session was lost, or close() ran) is no error here: listeners and is_held
 * report such losses. */
static PyObject *
lock_exit(LockObject *self, PyObject *args)
{
    int rc = release_guarded(self);

    if (rc == ZKRPY_RAISED) {
        PyErr_Clear();
    }
    else if (rc != ZKR_OK && rc != ZKR_ENOTHELD) {
        return zkrpy_raise_at(rc, self->path);
    }
    Py_RETURN_FALSE;
}

static PyObject *
lock_cancel(LockObject *self, PyObject *unused)
{
    int rc;

    ZKRPY_GUARDED(self->guard, rc, h, zkr_lock_cancel(self->lock));
    return zkrpy_held_result(rc, self->path);
}

static PyObject *
lock_close(LockObject *self, PyObject *unused)
{
    if (self->owner != NULL) {
        return zkrpy_obj_close(self->owner, NULL);
    }
    /* A pending acquire in another thread is canceled and its thread
     * frees the lock. */
    zkrpy_guard_shutdown(self->guard, NULL, NULL, cancel_lock);
    Py_RETURN_NONE;
}

static PyObject *
lock_get_is_held(LockObject *self, void *closure)
{
    int held = 0;

    if (self->guard->handle != NULL) {
        held = zkr_lock_is_held(self->lock);
    }
    return PyBool_FromLong(held);
}

static PyObject *
lock_get_token(LockObject *self, void *closure)
{
    return token_or_none(self);
}

static PyObject *
lock_get_node(LockObject *self, void *closure)
{
    char buf[512];

    if (self->guard->handle == NULL ||
        zkr_lock_node(self->lock, buf, sizeof buf) != ZKR_OK) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(buf);
}

static PyObject *
lock_get_path(LockObject *self, void *closure)
{
    return Py_NewRef(self->path);
}

static PyObject *
lock_get_closed(LockObject *self, void *closure)
{
    return PyBool_FromLong(self->guard->handle == NULL ||
                           self->guard->closing);
}

static PyObject *
lock_repr(LockObject *self)
{
    int held = self->guard->handle != NULL && zkr_lock_is_held(self->lock);

    return PyUnicode_FromFormat("<zkr.Lock%s path=%R held=%s>", self->kind,
                                self->path, held ? "True" : "False");
}

/* What the constructors of Lock and RWLock parse. */
typedef struct {
    PyObject *client;
    const char *path;
    int timeout_ms;
} lock_args_t;

/* Parses (client, path, data=None, reentrant=True, timeout=None, *,
 * acl=None) with fmt and makes the native lock: a zkr_rwlock_t when rw is
 * set, else a zkr_lock_t. Returns it, or NULL with an exception set. */
static void *
native_new(PyObject *args, PyObject *kwds, const char *fmt, int rw,
           lock_args_t *a)
{
    static char *kwlist[] = {"client", "path", "data", "reentrant",
                             "timeout", "acl", NULL};
    PyObject *data = Py_None, *timeout = Py_None, *acl_arg = Py_None;
    int reentrant = 1, rc;
    Py_buffer view;
    zkr_acl_t acl; /* o.acl may point here: zkr_*lock_new copies it */
    zkr_lock_opts_t o;
    zkr_lock_t *l = NULL;
    zkr_rwlock_t *h = NULL;
    zkr_client_t *zc;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &a->client,
                                     &a->path, &data, &reentrant,
                                     &timeout, &acl_arg) ||
        zkrpy_timeout_ms(timeout, &a->timeout_ms) < 0) {
        return NULL;
    }
    zkr_lock_opts_init(&o);
    if (zkrpy_acl_arg(acl_arg, &acl, &o.acl) < 0) {
        return NULL;
    }
    zc = zkrpy_client_enter_data(a->client, data, &view);
    if (zc == NULL) {
        return NULL;
    }
    o.data = view.buf;
    o.data_len = (size_t)view.len;
    o.reentrant = reentrant;
    Py_BEGIN_ALLOW_THREADS
    rc = rw ? zkr_rwlock_new(zc, a->path, &o, &h)
            : zkr_lock_new(zc, a->path, &o, &l);
    Py_END_ALLOW_THREADS
    zkrpy_client_leave_data(a->client, &view);
    if (rc != ZKR_OK) {
        zkrpy_raise(rc, a->path);
        return NULL;
    }
    return rw ? (void *)h : (void *)l;
}

static PyObject *
lock_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    lock_args_t a;
    zkr_lock_t *l = native_new(args, kwds, "Os|OpO$O:Lock", 0, &a);
    LockObject *self;

    if (l == NULL) {
        return NULL;
    }
    self = (LockObject *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->path = PyUnicode_FromString(a.path);
    }
    if (self == NULL || self->path == NULL) {
        Py_BEGIN_ALLOW_THREADS
        zkr_lock_free(l);
        Py_END_ALLOW_THREADS
        Py_XDECREF(self);
        return NULL;
    }
    self->client = Py_NewRef(a.client);
    self->lock = l;
    self->own.handle = l;
    self->own.free_fn = lock_free_native;
    self->guard = &self->own;
    self->kind = "";
    self->enter_timeout_ms = a.timeout_ms;
    return (PyObject *)self;
}

static int
lock_traverse(LockObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->client);
    Py_VISIT(self->owner);
    return 0;
}

static void
lock_dealloc(LockObject *self)
{
    PyObject_GC_UnTrack(self);
    /* Freed before the client reference goes: a side's lock belongs to its
     * owner, which outlives it. */
    if (self->owner == NULL && self->guard != NULL) {
        zkrpy_guard_close(&self->own);
    }
    Py_CLEAR(self->owner);
    Py_CLEAR(self->client);
    Py_CLEAR(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef lock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))lock_acquire,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("acquire($self, /, blocking=True, timeout=None)\n--\n\n"
               "Acquire, waiting at most timeout seconds (None: forever). "
               "True when held, False when not acquired in time (or at "
               "once, with blocking=False). Acquiring a held reentrant "
               "lock counts up. The GIL is released while waiting.")},
    {"release", (PyCFunction)lock_release, METH_NOARGS,
     PyDoc_STR("release($self, /)\n--\n\n"
               "Release one hold. Raises NotHeld.")},
    {"cancel", (PyCFunction)lock_cancel, METH_NOARGS,
     PyDoc_STR("cancel($self, /)\n--\n\n"
               "Make a pending acquire in another thread raise Canceled; "
               "False if none was pending.")},
    {"close", (PyCFunction)lock_close, METH_NOARGS,
     PyDoc_STR("close($self, /)\n--\n\n"
               "Release any hold, cancel a pending acquire and free the "
               "lock (for a read/write side: both sides).")},
    {"__enter__", (PyCFunction)lock_enter, METH_NOARGS,
     PyDoc_STR("Acquire (within the timeout given to the constructor, "
               "else LockTimeout) and return the fencing token.")},
    {"__exit__", (PyCFunction)lock_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef lock_getset[] = {
    {"is_held", (getter)lock_get_is_held, NULL,
     "True while held and connected (False while the connection is "
     "suspended: the hold is then uncertain).", NULL},
    {"token", (getter)lock_get_token, NULL,
     "Fencing token of the current hold (the czxid of the lock node, "
     "larger for every later holder), or None.", NULL},
    {"node", (getter)lock_get_node, NULL,
     "Name of our lock node, or None.", NULL},
    {"path", (getter)lock_get_path, NULL, "The lock path.", NULL},
    {"closed", (getter)lock_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zkrpy_LockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.Lock",
    .tp_basicsize = sizeof(LockObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "Lock(client, path, data=None, reentrant=True, timeout=None, *, "
        "acl=None)\n--\n\n"
        "A fair distributed mutex with fencing tokens; usually made with "
        "client.Lock(path). Nodes are `_c_<uuid>-lock-<seq>` under path, "
        "as Curator's InterProcessMutex, so zkr, Curator and the zkr-lock "
        "command exclude each other. data is stored in the lock node "
        "(default 'host:pid'). `with lock as token:` acquires (raising "
        "LockTimeout after timeout seconds if one is given) and releases. "
        "acl (ACL_OPEN, ACL_CREATOR_ALL or ACL_READ_ONLY) is the ACL of "
        "the nodes the lock creates, its own and missing parents; None "
        "takes the client's acl. ACL_CREATOR_ALL needs a client with a "
        "digest (else InvalidArgument)."),
    .tp_new = lock_new,
    .tp_dealloc = (destructor)lock_dealloc,
    .tp_traverse = (traverseproc)lock_traverse,
    .tp_repr = (reprfunc)lock_repr,
    .tp_methods = lock_methods,
    .tp_getset = lock_getset,
};

/* ---- RWLock ------------------------------------------------------------- */

static PyObject *
side_new(RWLockObject *rw, zkr_lock_t *l, const char *kind, int ms)
{
    LockObject *side = PyObject_GC_New(LockObject, &zkrpy_LockType);

    if (side == NULL) {
        return NULL;
    }
    side->client = Py_NewRef(rw->base.client);
    side->owner = Py_NewRef(rw);
    side->lock = l;
    memset(&side->own, 0, sizeof side->own);
    side->guard = &rw->base.guard;
    side->path = Py_NewRef(rw->base.path);
    side->kind = kind;
    side->enter_timeout_ms = ms;
    PyObject_GC_Track(side);
    return (PyObject *)side;
}

static PyObject *
rwlock_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    lock_args_t a;
    zkr_rwlock_t *h = native_new(args, kwds, "Os|OpO$O:RWLock", 1, &a);
    RWLockObject *self;
    int ms = a.timeout_ms;

    if (h == NULL) {
        return NULL;
    }
    self = (RWLockObject *)zkrpy_obj_adopt(type, a.client, a.path, h,
                                           rwlock_free_native);
    if (self == NULL) {
        return NULL;
    }
    self->base.close_wake = cancel_sides;
    self->read_lock = side_new(self, zkr_rwlock_read(h), " read side", ms);
    self->write_lock = side_new(self, zkr_rwlock_write(h), " write side",
                                ms);
    if (self->read_lock == NULL || self->write_lock == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
rwlock_traverse(RWLockObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->read_lock);
    Py_VISIT(self->write_lock);
    return zkrpy_obj_traverse((PyObject *)self, visit, arg);
}

/* The sides refer back to the RWLock: dropping them breaks the cycle. A
 * side holds a reference to us, so none is left at deallocation. */
static int
rwlock_clear(RWLockObject *self)
{
    Py_CLEAR(self->read_lock);
    Py_CLEAR(self->write_lock);
    return 0;
}

static PyObject *
rwlock_get_side(RWLockObject *self, void *closure)
{
    PyObject *side = closure != NULL ? self->write_lock : self->read_lock;

    if (side == NULL) {
        return zkrpy_raise(ZKR_ECLOSED, NULL);
    }
    return Py_NewRef(side);
}

static PyObject *
rwlock_repr(RWLockObject *self)
{
    return PyUnicode_FromFormat("<zkr.RWLock path=%R>", self->base.path);
}

static PyMethodDef rwlock_methods[] = {
    {"close", zkrpy_obj_close, METH_NOARGS,
     PyDoc_STR("close($self, /)\n--\n\n"
               "Release and free both sides.")},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef rwlock_getset[] = {
    {"read_lock", (getter)rwlock_get_side, NULL,
     "The shared side, a zkr.Lock: readers share it, waiting only for "
     "earlier writers.", NULL},
    {"write_lock", (getter)rwlock_get_side, NULL,
     "The exclusive side, a zkr.Lock: it waits for everybody earlier.",
     (void *)"w"},
    {"path", zkrpy_obj_get_path, NULL, "The lock path.", NULL},
    {"closed", zkrpy_obj_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zkrpy_RWLockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.RWLock",
    .tp_basicsize = sizeof(RWLockObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "RWLock(client, path, data=None, reentrant=True, timeout=None, *, "
        "acl=None)\n"
        "--\n\n"
        "A read/write lock with Curator's InterProcessReadWriteLock "
        "layout; usually made with client.RWLock(path). Use its "
        "read_lock and write_lock like zkr.Lock objects. acl is the ACL "
        "of the nodes both sides create, as for zkr.Lock (None: the "
        "client's)."),
    .tp_new = rwlock_new,
    .tp_dealloc = zkrpy_obj_dealloc,
    .tp_traverse = (traverseproc)rwlock_traverse,
    .tp_clear = (inquiry)rwlock_clear,
    .tp_repr = (reprfunc)rwlock_repr,
    .tp_methods = rwlock_methods,
    .tp_getset = rwlock_getset,
};
