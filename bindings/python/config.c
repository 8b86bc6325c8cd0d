/* SPDX-License-Identifier: Apache-2.0 */
/* zkr.Config: a watched cache of one configuration node (and optionally
 * its children), and the compare-and-swap push. */
#include "zkrmodule.h"
#include <limits.h>

typedef struct {
    PyObject_HEAD
    PyObject *client;       /* zkr.Client: keeps the session alive */
    zkrpy_guard_t guard;    /* handle: zkr_config_t * */
    PyObject *path;         /* str */
    PyObject *callback;     /* callable or NULL */
    int children;           /* children cached too */
    int listening;          /* the native callback may call into Python */
} ConfigObject;

static void
config_free_native(void *handle, void *owner)
{
    zkr_config_free(handle);
}

static const char *
config_path(ConfigObject *self)
{
    const char *p = PyUnicode_AsUTF8(self->path);

    if (p == NULL) {
        PyErr_Clear();
        return "?";
    }
    return p;
}

/* (value, version) for a cached state: (None, None) when the node does
 * not exist. Steals @data (a zkr copy). */
static PyObject *
value_version(int rc, char *data, size_t len, const zkr_stat_t *st)
{
    PyObject *r;

    if (rc != ZKR_OK) {
        zkr_free(data);
        return Py_BuildValue("(OO)", Py_None, Py_None);
    }
    r = Py_BuildValue("(y#i)", data != NULL ? data : "", (Py_ssize_t)len,
                      st->version);
    zkr_free(data);
    return r;
}

/* Runs on the ZooKeeper completion thread (or the client's manager
 * thread), never twice at once; changes in a burst are coalesced. */
static void
on_change_cb(zkr_config_t *cfg, int status, void *ctx)
{
    ConfigObject *self = ctx;
    char *data = NULL;
    size_t len = 0;
    zkr_stat_t st;
    zkrpy_cbstate_t cs;
    int rc;

    /* Read before taking the GIL: the cache is only locked briefly. */
    rc = zkr_config_get(cfg, &data, &len, &st);
    if (!zkrpy_cb_enter((PyObject *)self, &self->guard, &self->listening,
                        &cs)) {
        zkr_free(data);
        return;
    }
    if (self->callback != NULL) {
        PyObject *fn = Py_NewRef(self->callback);

        zkrpy_cb_call(fn, value_version(rc, data, len, &st));
        Py_DECREF(fn);
    }
    else {
        zkr_free(data);
    }
    zkrpy_cb_leave((PyObject *)self, &self->guard, &cs);
}

/* Reads the cache (GIL released). Returns the zkr status of
 * zkr_config_get, or ZKRPY_RAISED (closed). */
static int
config_read(ConfigObject *self, char **data, size_t *len, zkr_stat_t *st)
{
    int rc;

    if (zkrpy_guard_enter(&self->guard) < 0) {
        return ZKRPY_RAISED;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_config_get(self->guard.handle, data, len, st);
    Py_END_ALLOW_THREADS
    zkrpy_guard_leave(&self->guard);
    if (rc != ZKR_OK && rc != ZKR_ENONODE) {
        zkrpy_raise(rc, config_path(self));
        return ZKRPY_RAISED;
    }
    return rc;
}

static PyObject *
config_get(ConfigObject *self, PyObject *unused)
{
    char *data = NULL;
    size_t len = 0;
    zkr_stat_t st;
    PyObject *bytes, *stat;
    int rc = config_read(self, &data, &len, &st);

    if (rc == ZKRPY_RAISED) {
        return NULL;
    }
    if (rc == ZKR_ENONODE) {
        return Py_BuildValue("(OO)", Py_None, Py_None);
    }
    bytes = PyBytes_FromStringAndSize(data != NULL ? data : "",
                                      (Py_ssize_t)len);
    zkr_free(data);
    stat = bytes != NULL ? zkrpy_stat_new(&st) : NULL;
    if (stat == NULL) {
        Py_XDECREF(bytes);
        return NULL;
    }
    return Py_BuildValue("(NN)", bytes, stat);
}

static PyObject *
config_get_value(ConfigObject *self, void *closure)
{
    char *data = NULL;
    size_t len = 0;
    zkr_stat_t st;
    PyObject *r;
    int rc = config_read(self, &data, &len, &st);

    if (rc == ZKRPY_RAISED) {
        return NULL;
    }
    if (rc == ZKR_ENONODE) {
        Py_RETURN_NONE;
    }
    r = PyBytes_FromStringAndSize(data != NULL ? data : "", (Py_ssize_t)len);
    zkr_free(data);
    return r;
}

static PyObject *
config_get_version(ConfigObject *self, void *closure)
{
    zkr_stat_t st;
    int rc = config_read(self, NULL, NULL, &st);

    if (rc == ZKRPY_RAISED) {
        return NULL;
    }
    if (rc == ZKR_ENONODE) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLong(st.version);
}

static PyObject *
config_get_stat(ConfigObject *self, void *closure)
{
    zkr_stat_t st;
    int rc = config_read(self, NULL, NULL, &st);

    if (rc == ZKRPY_RAISED) {
        return NULL;
    }
    if (rc == ZKR_ENONODE) {
        Py_RETURN_NONE;
    }
    return zkrpy_stat_new(&st);
}

static PyObject *
config_children(ConfigObject *self, PyObject *unused)
{
    zkr_config_entry_t *v = NULL;
    int n = 0, rc;
    PyObject *dict;

    if (!self->children) {
        PyErr_SetString(PyExc_ValueError,
                        "children are cached only with children=True");
        return NULL;
    }
    if (zkrpy_guard_enter(&self->guard) < 0) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_config_children(self->guard.handle, &v, &n);
    Py_END_ALLOW_THREADS
    zkrpy_guard_leave(&self->guard);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, config_path(self));
    }
    dict = PyDict_New();
    for (int i = 0; dict != NULL && i < n; i++) {
        PyObject *k = zkrpy_str_or_none(v[i].name);
        PyObject *d = PyBytes_FromStringAndSize(
            v[i].data != NULL ? v[i].data : "", (Py_ssize_t)v[i].len);

        if (k == NULL || d == NULL || PyDict_SetItem(dict, k, d) < 0) {
            Py_CLEAR(dict);
        }
        Py_XDECREF(k);
        Py_XDECREF(d);
    }
    zkr_config_entries_free(v, n);
    return dict;
}

static int
synced_slice(void *handle, int ms, void *arg)
{
    return zkr_config_wait_synced(handle, ms);
}

/* Returns the zkr status, or ZKRPY_RAISED. */
static int
wait_synced_impl(ConfigObject *self, int ms)
{
    int rc, closing;

    if (ms != 0 && zkrpy_in_callback()) {
        zkrpy_raise(ZKR_EDEADLK, config_path(self));
        return ZKRPY_RAISED;
    }
    if (zkrpy_guard_enter(&self->guard) < 0) {
        return ZKRPY_RAISED;
    }
    rc = zkrpy_wait_sliced(&self->guard, self->client, ms, synced_slice,
                           NULL);
    closing = self->guard.closing;
    zkrpy_guard_leave(&self->guard);
    if (closing && rc != ZKRPY_RAISED) {
        rc = ZKR_ECLOSED;
    }
    return rc;
}

static PyObject *
config_wait_synced(ConfigObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    int ms, rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:wait_synced", kwlist,
                                     &timeout) ||
        zkrpy_timeout_ms(timeout, &ms) < 0) {
        return NULL;
    }
    rc = wait_synced_impl(self, ms);
    switch (rc) {
    case ZKR_OK:
        Py_RETURN_TRUE;
    case ZKR_ETIMEDOUT:
        Py_RETURN_FALSE;
    case ZKRPY_RAISED:
        return NULL;
    default:
        return zkrpy_raise(rc, config_path(self));
    }
}

/* ---- push ----------------------------------------------------------------- */

static PyObject *
push(PyObject *client, const char *path, PyObject *obj, int version)
{
    Py_buffer view;
    zkr_client_t *zc;
    zkr_stat_t st;
    int rc;

    if (zkrpy_get_data(obj, &view) < 0) {
        return NULL;
    }
    zc = zkrpy_client_enter(client);
    if (zc == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_config_push(zc, path, view.buf, (size_t)view.len, version, &st);
    Py_END_ALLOW_THREADS
    zkrpy_client_leave(client);
    PyBuffer_Release(&view);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, path);
    }
    return zkrpy_stat_new(&st);
}

/* O& converter for a push version: an int, or None for "the node must not
 * exist" (what Config.version says of an absent node). */
static int
version_arg(PyObject *obj, void *out)
{
    long v;
    if (obj == Py_None) {
        *(int *)out = ZKR_CONFIG_ABSENT;
        return 1;
    }
    v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred())
        return 0;
    if (v < INT_MIN || v > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "version out of range");
        return 0;
    }
    *(int *)out = (int)v;
    return 1;
}

PyObject *
zkrpy_push_config(PyObject *client, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"path", "data", "version", NULL};
    const char *path;
    PyObject *obj;
    int version = ZKR_CONFIG_ANY;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "sO|O&:push_config", kwlist,
                                     &path, &obj, version_arg, &version)) {
        return NULL;
    }
    return push(client, path, obj, version);
}

static PyObject *
config_push(ConfigObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"data", "version", NULL};
    PyObject *obj;
    int version = ZKR_CONFIG_ANY;
    const char *path = PyUnicode_AsUTF8(self->path);

    if (path == NULL ||
        !PyArg_ParseTupleAndKeywords(args, kwds, "O|O&:push", kwlist, &obj,
                                     version_arg, &version)) {
        return NULL;
    }
    return push(self->client, path, obj, version);
}

/* ---- lifetime ------------------------------------------------------------- */

static void
config_close_impl(ConfigObject *self)
{
    if (zkrpy_guard_enter(&self->guard) < 0) {
        PyErr_Clear();
        return;
    }
    self->listening = 0;
    zkrpy_guard_close(&self->guard);
    zkrpy_guard_leave(&self->guard);
}

static PyObject *
config_close(ConfigObject *self, PyObject *unused)
{
    config_close_impl(self);
    Py_RETURN_NONE;
}

static PyObject *
config_enter(ConfigObject *self, PyObject *unused)
{
    if (self->guard.handle == NULL || self->guard.closing) {
        return zkrpy_raise(ZKR_ECLOSED, config_path(self));
    }
    return Py_NewRef(self);
}

static PyObject *
config_exit(ConfigObject *self, PyObject *args)
{
    config_close_impl(self);
    Py_RETURN_FALSE;
}

static PyObject *
config_get_path(ConfigObject *self, void *closure)
{
    return Py_NewRef(self->path);
}

static PyObject *
config_get_closed(ConfigObject *self, void *closure)
{
    return PyBool_FromLong(self->guard.handle == NULL || self->guard.closing);
}

static PyObject *
config_repr(ConfigObject *self)
{
    return PyUnicode_FromFormat("<zkr.Config path=%R%s>", self->path,
                                self->guard.handle == NULL ||
                                        self->guard.closing
                                    ? " closed"
                                    : "");
}

static PyObject *
config_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"client", "path", "callback", "children",
                             "timeout", NULL};
    PyObject *client, *callback = Py_None, *timeout = Py_None;
    const char *path;
    int children = 0, ms, rc;
    zkr_config_opts_t o;
    zkr_config_t *cfg = NULL;
    zkr_client_t *zc;
    ConfigObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Os|O$pO:Config", kwlist,
                                     &client, &path, &callback, &children,
                                     &timeout) ||
        zkrpy_timeout_ms(timeout, &ms) < 0) {
        return NULL;
    }
    if (callback != Py_None && !PyCallable_Check(callback)) {
        PyErr_SetString(PyExc_TypeError, "callback must be callable or None");
        return NULL;
    }
    self = (ConfigObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->path = PyUnicode_FromString(path);
    if (self->path == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->client = Py_NewRef(client);
    if (callback != Py_None) {
        self->callback = Py_NewRef(callback);
    }
    self->children = children;
    zc = zkrpy_client_enter(client);
    if (zc == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    zkr_config_opts_init(&o);
    if (callback != Py_None) {
        o.on_change = on_change_cb;
        o.ctx = self;
    }
    o.children = children;
    /* Set first: the first load may complete before zkr_config_new
     * returns, and its callback waits for the GIL. */
    self->listening = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_config_new(zc, path, &o, &cfg);
    Py_END_ALLOW_THREADS
    zkrpy_client_leave(client);
    if (rc != ZKR_OK) {
        Py_DECREF(self);
        return zkrpy_raise(rc, path);
    }
    self->guard.handle = cfg;
    self->guard.free_fn = config_free_native;
    rc = wait_synced_impl(self, ms);
    if (rc != ZKR_OK) {
        if (rc != ZKRPY_RAISED) {
            zkrpy_raise(rc, path);
        }
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
config_traverse(ConfigObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->client);
    Py_VISIT(self->callback);
    return 0;
}

static int
config_clear(ConfigObject *self)
{
    self->listening = 0;
    Py_CLEAR(self->callback);
    return 0;
}

static void
config_dealloc(ConfigObject *self)
{
    PyObject_GC_UnTrack(self);
    self->listening = 0;
    zkrpy_guard_close(&self->guard);
    config_clear(self);
    Py_CLEAR(self->client);
    Py_CLEAR(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef config_methods[] = {
    {"get", (PyCFunction)config_get, METH_NOARGS,
     PyDoc_STR("get($self, /)\n--\n\n"
               "(value, stat) of the cached node, read together; (None, "
               "None) when it does not exist. No request is made.")},
    {"children", (PyCFunction)config_children, METH_NOARGS,
     PyDoc_STR("children($self, /)\n--\n\n"
               "The cached children as a dict {name: data}, sorted by "
               "name (made with children=True).")},
    {"push", (PyCFunction)(void (*)(void))config_push,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("push($self, /, data, version=zkr.CONFIG_ANY)\n--\n\n"
               "client.push_config(self.path, data, version): write with "
               "compare-and-swap on the version read from this cache; "
               "returns the new zkr.Stat, raises BadVersion on a "
               "conflict. The cache sees the change through its watch, "
               "shortly after.")},
    {"wait_synced", (PyCFunction)(void (*)(void))config_wait_synced,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("wait_synced($self, /, timeout=None)\n--\n\n"
               "Wait until the cache has loaded once: True, or False on "
               "timeout. The constructor waits already.")},
    {"close", (PyCFunction)config_close, METH_NOARGS,
     PyDoc_STR("close($self, /)\n--\n\n"
               "Stop watching; no callback runs after. Idempotent.")},
    {"__enter__", (PyCFunction)config_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)config_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef config_getset[] = {
    {"value", (getter)config_get_value, NULL,
     "The cached data (bytes), or None when the node does not exist.",
     NULL},
    {"version", (getter)config_get_version, NULL,
     "The cached data version, or None when the node does not exist.",
     NULL},
    {"stat", (getter)config_get_stat, NULL,
     "The cached zkr.Stat, or None when the node does not exist.", NULL},
    {"path", (getter)config_get_path, NULL, "The node path.", NULL},
    {"closed", (getter)config_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zkrpy_ConfigType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.Config",
    .tp_basicsize = sizeof(ConfigObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "Config(client, path, callback=None, *, children=False, "
        "timeout=None)\n--\n\n"
        "A local cache of the node at path (which need not exist), kept "
        "up to date by watches; usually made with client.Config(path). "
        "The constructor waits until the cache has loaded (at most "
        "timeout seconds, else Timeout). Reading value, version, stat or "
        "get() costs no request. children=True caches the children and "
        "their data too.\n\n"
        "callback(value, version) runs after the first load and after "
        "every change seen, with the node's data and version, or (None, "
        "None) when it does not exist. Changes in a burst may be "
        "coalesced, but the last state is always delivered, also after "
        "reconnecting or a new session. It runs on a ZooKeeper thread, "
        "never twice at once, holding the GIL: keep it short; blocking "
        "zkr calls made there raise Deadlock. A context manager that "
        "closes."),
    .tp_new = config_new,
    .tp_dealloc = (destructor)config_dealloc,
    .tp_traverse = (traverseproc)config_traverse,
    .tp_clear = (inquiry)config_clear,
    .tp_repr = (reprfunc)config_repr,
    .tp_methods = config_methods,
    .tp_getset = config_getset,
};
