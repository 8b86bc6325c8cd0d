/* SPDX-License-Identifier: Apache-2.0 */
/* zkr.Config: a watched cache of one configuration node (and optionally
 * its children), and the compare-and-swap push. */
#include "zkrmodule.h"
#include <limits.h>

typedef struct {
    zkrpy_obj_t base;       /* handle: zkr_config_t * */
    int children;           /* children cached too */
} ConfigObject;

static void
config_free_native(void *handle, void *owner)
{
    zkr_config_free(handle);
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
    r = Py_BuildValue("(Ni)", zkrpy_bytes(data, len), st->version);
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
    if (!zkrpy_cb_enter((PyObject *)self, &self->base.guard,
                        &self->base.listening, &cs)) {
        zkr_free(data);
        return;
    }
    if (self->base.callback != NULL) {
        PyObject *fn = Py_NewRef(self->base.callback);

        zkrpy_cb_call(fn, value_version(rc, data, len, &st));
        Py_DECREF(fn);
    }
    else {
        zkr_free(data);
    }
    zkrpy_cb_leave((PyObject *)self, &self->base.guard, &cs);
}

/* Reads the cache (GIL released). Returns the zkr status of
 * zkr_config_get, or ZKRPY_RAISED (closed). */
static int
config_read(ConfigObject *self, char **data, size_t *len, zkr_stat_t *st)
{
    int rc;

    ZKRPY_GUARDED(&self->base.guard, rc, cfg,
                  zkr_config_get(cfg, data, len, st));
    if (rc != ZKR_OK && rc != ZKR_ENONODE) {
        zkrpy_raise_at(rc, self->base.path);
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
    int rc = config_read(self, &data, &len, &st);

    if (rc == ZKRPY_RAISED) {
        return NULL;
    }
    if (rc == ZKR_ENONODE) {
        return Py_BuildValue("(OO)", Py_None, Py_None);
    }
    return zkrpy_data_stat(data, len, &st);
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
    r = zkrpy_bytes(data, len);
    zkr_free(data);
    return r;
}

/* The version property (closure NULL) and the stat property. */
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
    if (closure == NULL) {
        return PyLong_FromLong(st.version);
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
    ZKRPY_GUARDED(&self->base.guard, rc, cfg,
                  zkr_config_children(cfg, &v, &n));
    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->base.path);
    }
    dict = PyDict_New();
    for (int i = 0; dict != NULL && i < n; i++) {
        PyObject *k = zkrpy_str_or_none(v[i].name);
        PyObject *d = zkrpy_bytes(v[i].data, v[i].len);

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
    int closing;
    int rc = zkrpy_wait_guarded(&self->base.guard, self->base.client, ms,
                                synced_slice, NULL, self->base.path,
                                &closing);

    return closing && rc != ZKRPY_RAISED ? ZKR_ECLOSED : rc;
}

static PyObject *
config_wait_synced(ConfigObject *self, PyObject *args, PyObject *kwds)
{
    int ms;

    if (zkrpy_timeout_arg(args, kwds, "|O:wait_synced", &ms) < 0) {
        return NULL;
    }
    return zkrpy_wait_result(wait_synced_impl(self, ms), self->base.path);
}

/* ---- push ----------------------------------------------------------------- */

static PyObject *
push(PyObject *client, const char *path, PyObject *obj, int version)
{
    Py_buffer view;
    zkr_client_t *zc;
    zkr_stat_t st;
    int rc;

    zc = zkrpy_client_enter_data(client, obj, &view);
    if (zc == NULL) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_config_push(zc, path, view.buf, (size_t)view.len, version, &st);
    Py_END_ALLOW_THREADS
    zkrpy_client_leave_data(client, &view);
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
    const char *path = PyUnicode_AsUTF8(self->base.path);

    if (path == NULL ||
        !PyArg_ParseTupleAndKeywords(args, kwds, "O|O&:push", kwlist, &obj,
                                     version_arg, &version)) {
        return NULL;
    }
    return push(self->base.client, path, obj, version);
}

/* ---- construction --------------------------------------------------------- */

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
        zkrpy_timeout_ms(timeout, &ms) < 0 ||
        zkrpy_check_callable(callback, "callback") < 0) {
        return NULL;
    }
    self = (ConfigObject *)zkrpy_obj_alloc(type, client, path);
    if (self == NULL) {
        return NULL;
    }
    if (callback != Py_None) {
        self->base.callback = Py_NewRef(callback);
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
    self->base.listening = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_config_new(zc, path, &o, &cfg);
    Py_END_ALLOW_THREADS
    zkrpy_client_leave(client);
    if (rc == ZKR_OK) {
        self->base.guard.handle = cfg;
        self->base.guard.free_fn = config_free_native;
        rc = wait_synced_impl(self, ms);
    }
    return zkrpy_obj_or_raise((PyObject *)self, rc);
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
    {"close", zkrpy_obj_close, METH_NOARGS,
     PyDoc_STR("close($self, /)\n--\n\n"
               "Stop watching; no callback runs after. Idempotent.")},
    {"__enter__", zkrpy_obj_enter, METH_NOARGS, NULL},
    {"__exit__", zkrpy_obj_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef config_getset[] = {
    {"value", (getter)config_get_value, NULL,
     "The cached data (bytes), or None when the node does not exist.",
     NULL},
    {"version", (getter)config_get_stat, NULL,
     "The cached data version, or None when the node does not exist.",
     NULL},
    {"stat", (getter)config_get_stat, NULL,
     "The cached zkr.Stat, or None when the node does not exist.",
     (void *)"stat"},
    {"path", zkrpy_obj_get_path, NULL, "The node path.", NULL},
    {"closed", zkrpy_obj_get_closed, NULL, "True after close().", NULL},
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
    .tp_dealloc = zkrpy_obj_dealloc,
    .tp_traverse = zkrpy_obj_traverse,
    .tp_clear = zkrpy_obj_clear,
    .tp_repr = zkrpy_obj_repr,
    .tp_methods = config_methods,
    .tp_getset = config_getset,
};
