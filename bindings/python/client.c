/* SPDX-License-Identifier: Apache-2.0 */
/* zkr.Client: the session, its listeners and the plain znode operations. */
#include "zkrmodule.h"

#include <limits.h>

typedef struct ClientObject {
    PyObject_HEAD
    zkrpy_guard_t guard;     /* handle: zkr_client_t * */
    PyObject *listeners;     /* list of callables */
    int listening;           /* the native listener may call into Python */
    struct ClientObject *prev, *next; /* open clients, closed at exit */
    int linked;
} ClientObject;

static ClientObject *open_clients;

static void
link_client(ClientObject *self)
{
    self->prev = NULL;
    self->next = open_clients;
    if (open_clients != NULL) {
        open_clients->prev = self;
    }
    open_clients = self;
    self->linked = 1;
}

static void
unlink_client(ClientObject *self)
{
    if (!self->linked) {
        return;
    }
    if (self->prev != NULL) {
        self->prev->next = self->next;
    }
    else {
        open_clients = self->next;
    }
    if (self->next != NULL) {
        self->next->prev = self->prev;
    }
    self->prev = self->next = NULL;
    self->linked = 0;
}

/* ---- listeners ---------------------------------------------------------- */

/* GIL held. Calls every listener with zkr.State(state); their exceptions are
 * reported as unraisable, there being no caller to hand them to. */
static void
notify(ClientObject *self, zkr_state_t state)
{
    PyObject *snapshot, *st;
    Py_ssize_t n;

    if (self->listeners == NULL || PyList_GET_SIZE(self->listeners) == 0) {
        return;
    }
    /* A copy: listeners may add or remove listeners. */
    snapshot = PyList_AsTuple(self->listeners);
    st = snapshot != NULL ? PyObject_CallFunction(zkrpy_State, "i",
                                                  (int)state)
                          : NULL;
    if (st == NULL) {
        PyErr_WriteUnraisable((PyObject *)self);
        Py_XDECREF(snapshot);
        return;
    }
    n = PyTuple_GET_SIZE(snapshot);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *fn = PyTuple_GET_ITEM(snapshot, i);
        PyObject *r = PyObject_CallOneArg(fn, st);

        if (r == NULL) {
            PyErr_WriteUnraisable(fn);
        }
        Py_XDECREF(r);
    }
    Py_DECREF(st);
    Py_DECREF(snapshot);
}

/* The native listener: runs on a ZooKeeper thread with the listener lock of
 * the client held, which is why every Python thread releases the GIL around
 * each zkr call (a zkr call may need that lock). */
static void
on_state(zkr_client_t *zc, zkr_state_t state, void *ctx)
{
    ClientObject *self = ctx;
    PyGILState_STATE gs;

    if (!zkrpy_callback_enter()) {
        return;
    }
    gs = PyGILState_Ensure();
    /* listening is cleared, under the GIL, before the client is freed or
     * deallocated; self is valid until the listener is removed. */
    if (self->listening) {
        Py_INCREF(self);
        zkrpy_set_in_callback(1);
        notify(self, state);
        zkrpy_set_in_callback(0);
        /* May deallocate the client here, on the ZooKeeper thread: the free
         * path copes (zkr hands the close to another thread). */
        Py_DECREF(self);
    }
    PyGILState_Release(gs);
    zkrpy_callback_leave();
}

static void
client_free_native(void *handle, void *owner)
{
    /* After the removal the listener is not running and will not run. */
    zkr_client_remove_listener(handle, on_state, owner);
    zkr_client_free(handle);
}

/* ---- helpers for the other types ---------------------------------------- */

zkr_client_t *
zkrpy_client_enter(PyObject *client)
{
    ClientObject *c;

    if (!PyObject_TypeCheck(client, &zkrpy_ClientType)) {
        PyErr_Format(PyExc_TypeError, "expected a zkr.Client, not %.100s",
                     Py_TYPE(client)->tp_name);
        return NULL;
    }
    c = (ClientObject *)client;
    if (zkrpy_guard_enter(&c->guard) < 0) {
        return NULL;
    }
    return c->guard.handle;
}

void
zkrpy_client_leave(PyObject *client)
{
    zkrpy_guard_leave(&((ClientObject *)client)->guard);
}

zkr_client_t *
zkrpy_client_enter_data(PyObject *client, PyObject *data, Py_buffer *view)
{
    zkr_client_t *zc;

    if (zkrpy_get_data(data, view) < 0) {
        return NULL;
    }
    zc = zkrpy_client_enter(client);
    if (zc == NULL) {
        PyBuffer_Release(view);
    }
    return zc;
}

void
zkrpy_client_leave_data(PyObject *client, Py_buffer *view)
{
    zkrpy_client_leave(client);
    PyBuffer_Release(view);
}

int
zkrpy_client_closed(PyObject *client)
{
    return !zkrpy_guard_open(&((ClientObject *)client)->guard);
}

static void
client_close_impl(ClientObject *self)
{
    /* Entered so that listeners calling close() again do nothing and the
     * free waits until they are done. */
    if (zkrpy_guard_enter(&self->guard) < 0) {
        PyErr_Clear();
        return;
    }
    zkrpy_guard_close(&self->guard);
    unlink_client(self);
    self->listening = 0;
    notify(self, ZKR_STATE_CLOSED);
    zkrpy_guard_leave(&self->guard);
}

void
zkrpy_close_all_clients(void)
{
    while (open_clients != NULL) {
        ClientObject *c = open_clients;

        Py_INCREF(c);
        unlink_client(c);
        client_close_impl(c);
        Py_DECREF(c);
    }
}

/* ---- construction ------------------------------------------------------- */

static int
seconds_to_ms(PyObject *obj, const char *what, int positive, int *ms)
{
    double s = 0.0;
    int r = zkrpy_seconds(obj, &s);

    if (r <= 0) {
        return r;
    }
    if (!(positive ? s > 0.0 : s >= 0.0) || s * 1000.0 >= (double)INT_MAX) {
        PyErr_Format(PyExc_ValueError, "%s out of range", what);
        return -1;
    }
    *ms = (int)(s * 1000.0 + 0.999);
    return 0;
}

static PyObject *
client_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"hosts", "session_timeout", "connect_timeout",
                             "chroot", "digest", "acl", NULL};
    const char *hosts = NULL, *chroot = NULL, *digest = NULL;
    PyObject *st = NULL, *ct = NULL;
    int acl = ZKR_ACL_OPEN, rc;
    zkr_client_opts_t o;
    zkr_client_t *zc = NULL;
    ClientObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|zOOzz$i:Client", kwlist,
                                     &hosts, &st, &ct, &chroot, &digest,
                                     &acl)) {
        return NULL;
    }
    zkr_client_opts_init(&o);
    if (hosts != NULL) {
        o.hosts = hosts;
    }
    if (seconds_to_ms(st, "session_timeout", 1, &o.session_timeout_ms) < 0 ||
        seconds_to_ms(ct, "connect_timeout", 0, &o.connect_timeout_ms) < 0) {
        return NULL;
    }
    if (acl != ZKR_ACL_OPEN && acl != ZKR_ACL_CREATOR_ALL &&
        acl != ZKR_ACL_READ_ONLY) {
        return zkrpy_raise(ZKR_EINVAL, "acl");
    }
    o.chroot = chroot;
    o.digest = digest;
    o.acl = (zkr_acl_t)acl;

    self = (ClientObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->listeners = PyList_New(0);
    if (self->listeners == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_client_new(&o, &zc);
    if (rc == ZKR_OK) {
        rc = zkr_client_add_listener(zc, on_state, self);
        if (rc != ZKR_OK) {
            zkr_client_free(zc);
            zc = NULL;
        }
    }
    Py_END_ALLOW_THREADS
    if (rc != ZKR_OK) {
        Py_DECREF(self);
        return zkrpy_raise(rc, o.hosts);
    }
    self->guard.handle = zc;
    self->guard.free_fn = client_free_native;
    self->guard.owner = self;
    self->listening = 1;
    link_client(self);
    return (PyObject *)self;
}

static int
client_traverse(ClientObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->listeners);
    return 0;
}

static int
client_clear(ClientObject *self)
{
    Py_CLEAR(self->listeners);
    return 0;
}

static void
client_dealloc(ClientObject *self)
{
    PyObject_GC_UnTrack(self);
    unlink_client(self);
    self->listening = 0;
    zkrpy_guard_close(&self->guard);
    Py_CLEAR(self->listeners);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- methods ---------------------------------------------------------------
 * Each enters the guard, calls zkr without the GIL and leaves
 * (ZKRPY_GUARDED). */

static PyObject *
client_close(ClientObject *self, PyObject *unused)
{
    client_close_impl(self);
    Py_RETURN_NONE;
}

static PyObject *
client_enter(ClientObject *self, PyObject *unused)
{
    if (!zkrpy_guard_open(&self->guard)) {
        return zkrpy_raise(ZKR_ECLOSED, NULL);
    }
    return Py_NewRef(self);
}

static PyObject *
client_exit(ClientObject *self, PyObject *args)
{
    client_close_impl(self);
    Py_RETURN_FALSE;
}

static PyObject *
client_add_listener(ClientObject *self, PyObject *fn)
{
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "listener must be callable");
        return NULL;
    }
    if (self->listeners == NULL || PyList_Append(self->listeners, fn) < 0) {
        return PyErr_Occurred() ? NULL : zkrpy_raise(ZKR_ECLOSED, NULL);
    }
    Py_RETURN_NONE;
}

static PyObject *
client_remove_listener(ClientObject *self, PyObject *fn)
{
    Py_ssize_t n = self->listeners ? PyList_GET_SIZE(self->listeners) : 0;

    for (Py_ssize_t i = 0; i < n; i++) {
        int eq = PyObject_RichCompareBool(PyList_GET_ITEM(self->listeners, i),
                                          fn, Py_EQ);

        if (eq < 0) {
            return NULL;
        }
        if (eq) {
            if (PySequence_DelItem(self->listeners, i) < 0) {
                return NULL;
            }
            Py_RETURN_TRUE;
        }
    }
    Py_RETURN_FALSE;
}

static PyObject *
client_create(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", "data", "ephemeral", "sequential",
                             "container", NULL};
    const char *path;
    PyObject *obj = Py_None;
    Py_buffer data;
    int eph = 0, seq = 0, cont = 0, rc;
    char *created = NULL;
    PyObject *r;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|O$ppp:create", kwlist,
                                     &path, &obj, &eph, &seq, &cont) ||
        zkrpy_get_data(obj, &data) < 0) {
        return NULL;
    }
    ZKRPY_GUARDED(&self->guard, rc, zc,
                  zkr_create(zc, path, data.buf, (size_t)data.len,
                             (eph ? ZKR_EPHEMERAL : 0) |
                                 (seq ? ZKR_SEQUENTIAL : 0) |
                                 (cont ? ZKR_CONTAINER : 0),
                             &created));
    PyBuffer_Release(&data);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, path);
    }
    r = PyUnicode_FromString(created);
    zkr_free(created);
    return r;
}

static PyObject *
client_get(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", NULL};
    const char *path;
    char *data = NULL;
    size_t len = 0;
    zkr_stat_t st;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s:get", kwlist, &path)) {
        return NULL;
    }
    ZKRPY_GUARDED(&self->guard, rc, zc,
                  zkr_get(zc, path, &data, &len, &st));
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, path);
    }
    return zkrpy_data_stat(data, len, &st);
}

static PyObject *
client_set(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", "data", "version", NULL};
    const char *path;
    PyObject *obj;
    Py_buffer data;
    int version = -1, rc;
    zkr_stat_t st;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "sO|i:set", kwlist, &path,
                                     &obj, &version) ||
        zkrpy_get_data(obj, &data) < 0) {
        return NULL;
    }
    ZKRPY_GUARDED(&self->guard, rc, zc,
                  zkr_set(zc, path, data.buf, (size_t)data.len, version,
                          &st));
    PyBuffer_Release(&data);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, path);
    }
    return zkrpy_stat_new(&st);
}

static PyObject *
client_delete(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", "version", NULL};
    const char *path;
    int version = -1, rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|i:delete", kwlist, &path,
                                     &version)) {
        return NULL;
    }
    ZKRPY_GUARDED(&self->guard, rc, zc, zkr_delete(zc, path, version));
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, path);
    }
    Py_RETURN_NONE;
}

static PyObject *
client_exists(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", NULL};
    const char *path;
    zkr_stat_t st;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s:exists", kwlist,
                                     &path)) {
        return NULL;
    }
    ZKRPY_GUARDED(&self->guard, rc, zc, zkr_exists(zc, path, &st));
    if (rc == ZKR_ENONODE) {
        Py_RETURN_NONE;
    }
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, path);
    }
    return zkrpy_stat_new(&st);
}

static PyObject *
client_children(ClientObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", NULL};
    const char *path;
    char **names = NULL;
    int count = 0, rc;
    PyObject *list;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s:children", kwlist,
                                     &path)) {
        return NULL;
    }
    ZKRPY_GUARDED(&self->guard, rc, zc,
                  zkr_children(zc, path, &names, &count));
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, path);
    }
    list = PyList_New(count);
    for (int i = 0; list != NULL && i < count; i++) {
        PyObject *s = PyUnicode_DecodeUTF8(names[i],
                                           (Py_ssize_t)strlen(names[i]),
                                           "surrogateescape");

        if (s == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, s);
    }
    zkr_strings_free(names, count);
    return list;
}

/* A blocking call taking only a path. */
static PyObject *
path_call(ClientObject *self, PyObject *args, const char *fmt,
          int (*fn)(zkr_client_t *, const char *))
{
    const char *path;
    int rc;

    if (!PyArg_ParseTuple(args, fmt, &path)) {
        return NULL;
    }
    ZKRPY_GUARDED(&self->guard, rc, zc, fn(zc, path));
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, path);
    }
    Py_RETURN_NONE;
}

static PyObject *
client_ensure_path(ClientObject *self, PyObject *args)
{
    return path_call(self, args, "s:ensure_path", zkr_ensure_path);
}

static PyObject *
client_delete_recursive(ClientObject *self, PyObject *args)
{
    return path_call(self, args, "s:delete_recursive", zkr_delete_recursive);
}

static PyObject *
client_expire_session(ClientObject *self, PyObject *unused)
{
    int rc;

    ZKRPY_GUARDED(&self->guard, rc, zc, zkr_client_expire_session(zc));
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, NULL);
    }
    Py_RETURN_NONE;
}

static PyObject *
client_flush(ClientObject *self, PyObject *args, PyObject *kwds)
{
    int ms, rc;

    if (zkrpy_timeout_arg(args, kwds, "|O:flush", &ms) < 0) {
        return NULL;
    }
    ZKRPY_GUARDED(&self->guard, rc, zc, zkr_client_flush(zc, ms));
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, NULL);
    }
    Py_RETURN_NONE;
}

/* Waits in slices so that close() from another thread and Ctrl-C are
 * noticed; zkr's own wait ends only when the client is freed. */
static PyObject *
client_wait_connected(ClientObject *self, PyObject *args, PyObject *kwds)
{
    zkr_client_t *zc;
    int ms, rc;

    if (zkrpy_timeout_arg(args, kwds, "|O:wait_connected", &ms) < 0) {
        return NULL;
    }
    if (zkrpy_in_callback()) {
        return zkrpy_raise(ZKR_EDEADLK, NULL);
    }
    if (zkrpy_guard_enter(&self->guard) < 0) {
        return NULL;
    }
    zc = self->guard.handle;
    for (;;) {
        int slice = ms < 0 || ms > 100 ? 100 : ms;

        Py_BEGIN_ALLOW_THREADS
        rc = zkr_client_wait_connected(zc, slice);
        Py_END_ALLOW_THREADS
        if (rc != ZKR_ETIMEDOUT) {
            break;
        }
        if (ms >= 0) {
            ms -= slice;
            if (ms <= 0) {
                break;
            }
        }
        if (self->guard.closing) {
            rc = ZKR_ECLOSED;
            break;
        }
        if (PyErr_CheckSignals() < 0) {
            rc = ZKRPY_RAISED;
            break;
        }
    }
    zkrpy_guard_leave(&self->guard);
    return zkrpy_wait_result(rc, NULL);
}

/* client.Lock(path, ...) is zkr.Lock(client, path, ...), and so on. */
PyObject *
zkrpy_make_with_client(PyObject *client, PyTypeObject *type, PyObject *args,
                       PyObject *kwds)
{
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    PyObject *full = PyTuple_New(n + 1), *r;

    if (full == NULL) {
        return NULL;
    }
    PyTuple_SET_ITEM(full, 0, Py_NewRef(client));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(full, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    }
    r = PyObject_Call((PyObject *)type, full, kwds);
    Py_DECREF(full);
    return r;
}

/* A method calling zkrpy_make_with_client with one type: client.Lock(...)
 * and friends. */
#define CLIENT_FACTORY(name, type)                                          \
    static PyObject *name(PyObject *self, PyObject *args, PyObject *kwds)   \
    {                                                                       \
        return zkrpy_make_with_client(self, &(type), args, kwds);           \
    }

CLIENT_FACTORY(client_lock, zkrpy_LockType)
CLIENT_FACTORY(client_rwlock, zkrpy_RWLockType)
CLIENT_FACTORY(client_semaphore, zkrpy_SemaphoreType)
CLIENT_FACTORY(client_queue, zkrpy_QueueType)
CLIENT_FACTORY(client_election, zkrpy_ElectionType)
CLIENT_FACTORY(client_config, zkrpy_ConfigType)
CLIENT_FACTORY(client_register, zkrpy_RegistrationType)
CLIENT_FACTORY(client_discovery, zkrpy_DiscoveryType)

/* ---- properties ------------------------------------------------------------
 * Read without entering the guard: they take only the client's own mutex,
 * never the listener lock, and the handle cannot be freed while the GIL is
 * held by this thread. */

static PyObject *
client_get_state(ClientObject *self, void *closure)
{
    zkr_state_t st = ZKR_STATE_CLOSED;

    if (zkrpy_guard_open(&self->guard)) {
        st = zkr_client_state(self->guard.handle);
    }
    return PyObject_CallFunction(zkrpy_State, "i", (int)st);
}

static PyObject *
client_get_closed(ClientObject *self, void *closure)
{
    return PyBool_FromLong(!zkrpy_guard_open(&self->guard));
}

static PyObject *
client_get_session_id(ClientObject *self, void *closure)
{
    int64_t id = 0;

    if (self->guard.handle != NULL) {
        id = zkr_client_session_id(self->guard.handle);
    }
    return PyLong_FromLongLong(id);
}

static PyObject *
client_get_session_count(ClientObject *self, void *closure)
{
    unsigned n = 0;

    if (self->guard.handle != NULL) {
        n = zkr_client_session_count(self->guard.handle);
    }
    return PyLong_FromUnsignedLong(n);
}

static PyObject *
client_get_session_timeout(ClientObject *self, void *closure)
{
    int ms = 0;

    if (self->guard.handle != NULL) {
        ms = zkr_client_session_timeout(self->guard.handle);
    }
    return PyFloat_FromDouble(ms / 1000.0);
}

static PyObject *
client_get_server(ClientObject *self, void *closure)
{
    char buf[300];

    if (self->guard.handle == NULL ||
        zkr_client_server(self->guard.handle, buf, sizeof buf) != ZKR_OK) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(buf);
}

static PyObject *
client_get_listeners(ClientObject *self, void *closure)
{
    if (self->listeners == NULL) {
        return PyTuple_New(0);
    }
    return PyList_AsTuple(self->listeners);
}

static PyObject *
client_repr(ClientObject *self)
{
    zkr_state_t st = ZKR_STATE_CLOSED;
    int64_t id = 0;
    char sid[32];

    if (zkrpy_guard_open(&self->guard)) {
        st = zkr_client_state(self->guard.handle);
        id = zkr_client_session_id(self->guard.handle);
    }
    PyOS_snprintf(sid, sizeof sid, "%llx", (unsigned long long)id);
    return PyUnicode_FromFormat("<zkr.Client state=%s session=0x%s>",
                                zkr_state_name(st), sid);
}

static PyMethodDef client_methods[] = {
    {"close", (PyCFunction)client_close, METH_NOARGS,
     PyDoc_STR("close($self, /)\n--\n\n"
               "Close the session (its ephemeral nodes and locks go with "
               "it). Listeners hear State.CLOSED. Idempotent.")},
    {"__enter__", (PyCFunction)client_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)client_exit, METH_VARARGS, NULL},
    {"add_listener", (PyCFunction)client_add_listener, METH_O,
     PyDoc_STR("add_listener($self, listener, /)\n--\n\n"
               "Call listener(state) on every connection state change. It "
               "runs on a ZooKeeper thread and must return quickly; "
               "blocking zkr calls made there raise zkr.Deadlock.")},
    {"remove_listener", (PyCFunction)client_remove_listener, METH_O,
     PyDoc_STR("remove_listener($self, listener, /)\n--\n\n"
               "Remove a listener; True if it was registered.")},
    {"create", (PyCFunction)(void (*)(void))client_create,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("create($self, /, path, data=b'', *, ephemeral=False, "
               "sequential=False, container=False)\n--\n\n"
               "Create a node; return its path (with the sequence suffix). "
               "Raises NoNode (no parent), NodeExists, ...")},
    {"get", (PyCFunction)(void (*)(void))client_get,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("get($self, /, path)\n--\n\n"
               "Return (data, stat) of a node.")},
    {"set", (PyCFunction)(void (*)(void))client_set,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("set($self, /, path, data, version=-1)\n--\n\n"
               "Write data if the version matches (-1: any); return the "
               "new stat. Raises BadVersion.")},
    {"delete", (PyCFunction)(void (*)(void))client_delete,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("delete($self, /, path, version=-1)\n--\n\n"
               "Delete a node. Raises NoNode, NotEmpty, BadVersion.")},
    {"exists", (PyCFunction)(void (*)(void))client_exists,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("exists($self, /, path)\n--\n\n"
               "Return the node's stat, or None if it does not exist.")},
    {"children", (PyCFunction)(void (*)(void))client_children,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("children($self, /, path)\n--\n\n"
               "Return the names of the children, in the server's "
               "order.")},
    {"ensure_path", (PyCFunction)client_ensure_path, METH_VARARGS,
     PyDoc_STR("ensure_path($self, path, /)\n--\n\n"
               "Create a node and its missing parents.")},
    {"delete_recursive", (PyCFunction)client_delete_recursive, METH_VARARGS,
     PyDoc_STR("delete_recursive($self, path, /)\n--\n\n"
               "Delete a node and everything below it (no error if it "
               "does not exist).")},
    {"expire_session", (PyCFunction)client_expire_session, METH_NOARGS,
     PyDoc_STR("expire_session($self, /)\n--\n\n"
               "Make the server expire the current session (for tests). "
               "Listeners hear LOST, then CONNECTED on a new session.")},
    {"flush", (PyCFunction)(void (*)(void))client_flush,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("flush($self, /, timeout=None)\n--\n\n"
               "Wait until the server has answered every request sent "
               "before, e.g. the deletes of lock releases.")},
    {"wait_connected", (PyCFunction)(void (*)(void))client_wait_connected,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("wait_connected($self, /, timeout=None)\n--\n\n"
               "Wait until connected; False on timeout.")},
    {"Lock", (PyCFunction)(void (*)(void))client_lock,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("Lock($self, /, path, data=None, reentrant=True, "
               "timeout=None, *, acl=None)\n--\n\n"
               "A zkr.Lock on path (Curator's InterProcessMutex layout); "
               "acl: ACL of the nodes it creates (None: the client's).")},
    {"RWLock", (PyCFunction)(void (*)(void))client_rwlock,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("RWLock($self, /, path, data=None, reentrant=True, "
               "timeout=None, *, acl=None)\n--\n\n"
               "A zkr.RWLock on path (Curator's InterProcessReadWriteLock "
               "layout); acl: ACL of the nodes it creates (None: the "
               "client's).")},
    {"Semaphore", (PyCFunction)(void (*)(void))client_semaphore,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("Semaphore($self, /, path, max_leases, data=None, "
               "timeout=None)\n--\n\n"
               "A zkr.Semaphore on path (Curator's InterProcessSemaphoreV2 "
               "layout).")},
    {"Queue", (PyCFunction)(void (*)(void))client_queue,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("Queue($self, /, path, shards=0, prefetch=0, *, "
               "acl=None)\n--\n\n"
               "A zkr.Queue on path (Curator's SimpleDistributedQueue "
               "layout); acl: ACL of the nodes it creates (None: the "
               "client's).")},
    {"Election", (PyCFunction)(void (*)(void))client_election,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("Election($self, /, path, id=None, *, on_leader=None, "
               "on_lost=None, join=True, timeout=None, acl=None)\n--\n\n"
               "A zkr.Election candidate on path (Curator's LeaderLatch "
               "layout); acl: ACL of the nodes it creates (None: the "
               "client's).")},
    {"Config", (PyCFunction)(void (*)(void))client_config,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("Config($self, /, path, callback=None, *, children=False, "
               "timeout=None)\n--\n\n"
               "A zkr.Config: watched cache of the node at path.")},
    {"push_config", (PyCFunction)(void (*)(void))zkrpy_push_config,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("push_config($self, /, path, data, version=zkr.CONFIG_ANY)\n"
               "--\n\n"
               "Write data to path with compare-and-swap on the version "
               "(CONFIG_ANY: unconditionally, CONFIG_ABSENT: only if the "
               "node does not exist; both create it with its parents; None "
               "is CONFIG_ABSENT, as Config.version of an absent node). "
               "Returns the new zkr.Stat. Raises BadVersion on a "
               "conflict, NoNode when a version is given and the node "
               "does not exist.")},
    {"register", (PyCFunction)(void (*)(void))client_register,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("register($self, /, path, data=None, *, persistent=False, "
               "keep=False, container_parents=False, on_state=None, "
               "timeout=None, acl=None)\n--\n\n"
               "Register the node path (ephemeral by default) and keep it "
               "registered across sessions; a zkr.Registration. acl: ACL "
               "of the nodes it creates (None: the client's).")},
    {"register_service", (PyCFunction)(void (*)(void))
     zkrpy_register_service, METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("register_service($self, /, name, address=None, port=None, "
               "*, id=None, ssl_port=None, payload=None, uri_spec=None, "
               "service_type='DYNAMIC', base=zkr.DISCOVERY_BASE, "
               "on_state=None, timeout=None, acl=None)\n--\n\n"
               "Register a Curator x-discovery ServiceInstance at "
               "base/name/id; a zkr.Registration. acl: ACL of the nodes "
               "it creates (None: the client's).")},
    {"register_dubbo", (PyCFunction)(void (*)(void))zkrpy_register_dubbo,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("register_dubbo($self, /, url, *, root=zkr.DUBBO_ROOT, "
               "on_state=None, timeout=None, acl=None)\n--\n\n"
               "Register a Dubbo URL (plain text) in Dubbo's ZooKeeper "
               "registry layout; a zkr.Registration. acl: ACL of the "
               "nodes it creates (None: the client's).")},
    {"Discovery", (PyCFunction)(void (*)(void))client_discovery,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("Discovery($self, /, path, layout=zkr.LAYOUT_CURATOR, "
               "callback=None, *, timeout=None)\n--\n\n"
               "A zkr.Discovery cache of the instances under path.")},
    {"discover", (PyCFunction)(void (*)(void))zkrpy_discover,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("discover($self, /, name, callback=None, *, "
               "base=zkr.DISCOVERY_BASE, timeout=None)\n--\n\n"
               "A zkr.Discovery of the Curator service name.")},
    {"discover_dubbo", (PyCFunction)(void (*)(void))zkrpy_discover_dubbo,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("discover_dubbo($self, /, interface, callback=None, *, "
               "root=zkr.DUBBO_ROOT, category='providers', timeout=None)\n"
               "--\n\n"
               "A zkr.Discovery of the Dubbo providers (or another "
               "category) of interface.")},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef client_getset[] = {
    {"state", (getter)client_get_state, NULL,
     "Connection state (a zkr.State).", NULL},
    {"closed", (getter)client_get_closed, NULL, "True after close().", NULL},
    {"session_id", (getter)client_get_session_id, NULL,
     "Current session id (0 when none).", NULL},
    {"session_count", (getter)client_get_session_count, NULL,
     "Number of sessions opened (grows after each LOST).", NULL},
    {"session_timeout", (getter)client_get_session_timeout, NULL,
     "Negotiated session timeout in seconds.", NULL},
    {"server", (getter)client_get_server, NULL,
     "The server connected to, as 'host:port', or None.", NULL},
    {"listeners", (getter)client_get_listeners, NULL,
     "The registered listeners (a tuple).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zkrpy_ClientType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.Client",
    .tp_basicsize = sizeof(ClientObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "Client(hosts=None, session_timeout=10.0, connect_timeout=10.0, "
        "chroot=None, digest=None, *, acl=ACL_OPEN)\n--\n\n"
        "A ZooKeeper session. Connects before returning (ConnectionLost "
        "if no server answers within connect_timeout seconds). hosts "
        "defaults to $ZKR_HOSTS, then '127.0.0.1:2181'; chroot is a "
        "namespace created if missing; digest is 'user:password'. After "
        "an expiry the client opens a new session by itself. Use it as a "
        "context manager, or call close()."),
    .tp_new = client_new,
    .tp_dealloc = (destructor)client_dealloc,
    .tp_traverse = (traverseproc)client_traverse,
    .tp_clear = (inquiry)client_clear,
    .tp_repr = (reprfunc)client_repr,
    .tp_methods = client_methods,
    .tp_getset = client_getset,
};
