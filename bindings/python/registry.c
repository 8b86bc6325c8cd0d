/* SPDX-License-Identifier: Apache-2.0 */
/* Service registry: zkr.Registration (a node kept registered across
 * sessions: raw, Curator x-discovery or Dubbo layout), zkr.Discovery (a
 * watched cache of the instances of a service) and zkr.Instance. */
#include "zkrmodule.h"

#include <limits.h>

typedef struct {
    zkrpy_obj_t base;       /* handle: zkr_registration_t *; path: the
                               registered node; callback: on_state */
} RegistrationObject;

typedef struct {
    zkrpy_obj_t base;       /* handle: zkr_discovery_t *; path: the watched
                               directory */
    int layout;
    int error;              /* last failure reported by zkr, or 0 */
} DiscoveryObject;

typedef struct {
    PyObject_HEAD
    zkr_instance_t *inst;   /* a reference of our own */
} InstanceObject;

/* ======================================================================= */
/* Registration                                                             */
/* ======================================================================= */

static void
registration_free_native(void *handle, void *owner)
{
    zkr_registration_free(handle);
}

/* Runs on the ZooKeeper completion thread (or the client's manager
 * thread), in order and never twice at once. */
static void
reg_state_cb(zkr_registration_t *r, int status, void *ctx)
{
    RegistrationObject *self = ctx;

    zkrpy_obj_notify(&self->base, &self->base.callback, "(i)", status);
}

static int
reg_wait_slice(void *handle, int ms, void *arg)
{
    return zkr_registration_wait(handle, ms);
}

/* Returns the zkr status, or ZKRPY_RAISED. */
static int
reg_wait_impl(RegistrationObject *self, int ms)
{
    int closing;
    int rc = zkrpy_wait_guarded(&self->base.guard, self->base.client, ms,
                                reg_wait_slice, NULL, self->base.path,
                                &closing);

    return closing && rc != ZKRPY_RAISED ? ZKR_ECLOSED : rc;
}

typedef int (*reg_create_fn)(zkr_client_t *zc,
                             const zkr_registration_opts_t *o, void *arg,
                             zkr_registration_t **out);

/* The common part of the three ways to register: makes the object, the
 * native registration (create), and waits until the node exists. acl is
 * the acl= argument (None: the client's). */
static PyObject *
registration_make(PyObject *client, PyObject *on_state, PyObject *acl_arg,
                  int persistent, int keep, int container_parents,
                  int timeout_ms, reg_create_fn create, void *arg,
                  const char *what)
{
    PyTypeObject *type = &zkrpy_RegistrationType;
    RegistrationObject *self;
    zkr_acl_t acl; /* o.acl may point here: the _new calls copy it */
    zkr_registration_opts_t o;
    zkr_registration_t *r = NULL;
    zkr_client_t *zc;
    char buf[4200];
    int rc;

    zkr_registration_opts_init(&o);
    if (zkrpy_check_callable(on_state, "on_state") < 0 ||
        zkrpy_acl_arg(acl_arg, &acl, &o.acl) < 0) {
        return NULL;
    }
    self = (RegistrationObject *)zkrpy_obj_alloc(type, client, NULL);
    if (self == NULL) {
        return NULL;
    }
    if (on_state != Py_None) {
        self->base.callback = Py_NewRef(on_state);
    }
    zc = zkrpy_client_enter(client);
    if (zc == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    o.persistent = persistent;
    o.keep_on_free = keep;
    o.container_parents = container_parents;
    if (on_state != Py_None) {
        o.on_state = reg_state_cb;
        o.ctx = self;
    }
    self->base.listening = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = create(zc, &o, arg, &r);
    Py_END_ALLOW_THREADS
    zkrpy_client_leave(client);
    if (rc != ZKR_OK) {
        Py_DECREF(self);
        return zkrpy_raise(rc, what);
    }
    self->base.guard.handle = r;
    self->base.guard.free_fn = registration_free_native;
    if (zkr_registration_path(r, buf, sizeof buf) == ZKR_OK) {
        self->base.path = zkrpy_str_or_none(buf);
    }
    else {
        self->base.path = PyUnicode_FromString(what);
    }
    if (self->base.path == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return zkrpy_obj_or_raise((PyObject *)self,
                              reg_wait_impl(self, timeout_ms));
}

/* ---- raw ------------------------------------------------------------------ */

typedef struct {
    const char *path;
    Py_buffer data;
} raw_arg_t;

static int
create_raw(zkr_client_t *zc, const zkr_registration_opts_t *o, void *arg,
           zkr_registration_t **out)
{
    raw_arg_t *a = arg;

    return zkr_registration_new(zc, a->path, a->data.buf,
                                (size_t)a->data.len, o, out);
}

static PyObject *
registration_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"client", "path", "data", "persistent", "keep",
                             "container_parents", "on_state", "timeout",
                             "acl", NULL};
    PyObject *client, *data = Py_None, *on_state = Py_None;
    PyObject *timeout = Py_None, *acl = Py_None, *r;
    int persistent = 0, keep = 0, containers = 0, ms;
    raw_arg_t a;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Os|O$pppOOO:Registration",
                                     kwlist, &client, &a.path, &data,
                                     &persistent, &keep, &containers,
                                     &on_state, &timeout, &acl) ||
        zkrpy_timeout_ms(timeout, &ms) < 0 ||
        zkrpy_get_data(data, &a.data) < 0) {
        return NULL;
    }
    r = registration_make(client, on_state, acl, persistent, keep,
                          containers, ms, create_raw, &a, a.path);
    PyBuffer_Release(&a.data);
    return r;
}

/* ---- Curator x-discovery -------------------------------------------------- */

typedef struct {
    const char *base;
    zkr_service_instance_t si;
} curator_arg_t;

static int
create_curator(zkr_client_t *zc, const zkr_registration_opts_t *o,
               void *arg, zkr_registration_t **out)
{
    curator_arg_t *a = arg;

    return zkr_registration_new_curator(zc, a->base, &a->si, o, out);
}

static int
service_type_arg(const char *s, zkr_service_type_t *t)
{
    if (strcmp(s, "DYNAMIC") == 0) {
        *t = ZKR_SERVICE_DYNAMIC;
    }
    else if (strcmp(s, "STATIC") == 0) {
        *t = ZKR_SERVICE_STATIC;
    }
    else if (strcmp(s, "PERMANENT") == 0) {
        *t = ZKR_SERVICE_PERMANENT;
    }
    else {
        PyErr_SetString(PyExc_ValueError,
                        "service_type must be 'DYNAMIC', 'STATIC' or "
                        "'PERMANENT'");
        return -1;
    }
    return 0;
}

/* json.dumps(obj) in compact form, or json.loads(text). */
static PyObject *
json_call(const char *fn, PyObject *arg)
{
    PyObject *json = PyImport_ImportModule("json"), *r = NULL;

    if (json == NULL) {
        return NULL;
    }
    if (strcmp(fn, "dumps") == 0) {
        PyObject *f = PyObject_GetAttrString(json, "dumps");
        PyObject *kw = Py_BuildValue("{s(ss)}", "separators", ",", ":");
        PyObject *a = PyTuple_Pack(1, arg);

        if (f != NULL && kw != NULL && a != NULL) {
            r = PyObject_Call(f, a, kw);
        }
        Py_XDECREF(f);
        Py_XDECREF(kw);
        Py_XDECREF(a);
    }
    else {
        r = PyObject_CallMethod(json, fn, "O", arg);
    }
    Py_DECREF(json);
    return r;
}

static PyObject *
new_uuid(void)
{
    PyObject *mod = PyImport_ImportModule("uuid"), *u, *s;

    if (mod == NULL) {
        return NULL;
    }
    u = PyObject_CallMethod(mod, "uuid4", NULL);
    Py_DECREF(mod);
    if (u == NULL) {
        return NULL;
    }
    s = PyObject_Str(u);
    Py_DECREF(u);
    return s;
}

static int
port_arg(PyObject *obj, const char *what, int *port)
{
    long v;

    if (obj == Py_None) {
        *port = -1;
        return 0;
    }
    v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (v < 0 || v > 65535) {
        PyErr_Format(PyExc_ValueError, "%s must be 0..65535 or None", what);
        return -1;
    }
    *port = (int)v;
    return 0;
}

PyObject *
zkrpy_register_service(PyObject *client, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"name",     "address",      "port",
                             "id",       "ssl_port",     "payload",
                             "uri_spec", "service_type", "base",
                             "on_state", "timeout",      "acl",
                             NULL};
    const char *name, *address = NULL, *id = NULL, *uri_spec = NULL;
    const char *stype = "DYNAMIC", *base = NULL;
    PyObject *port = Py_None, *ssl_port = Py_None, *payload = Py_None;
    PyObject *on_state = Py_None, *timeout = Py_None, *uuid = NULL;
    PyObject *acl = Py_None, *json = NULL, *r = NULL;
    curator_arg_t a;
    int ms;

    if (!PyArg_ParseTupleAndKeywords(
            args, kwds, "s|zO$zOOzszOOO:register_service", kwlist, &name,
            &address, &port, &id, &ssl_port, &payload, &uri_spec, &stype,
            &base, &on_state, &timeout, &acl) ||
        zkrpy_timeout_ms(timeout, &ms) < 0) {
        return NULL;
    }
    zkr_service_instance_init(&a.si);
    a.base = base;
    a.si.name = name;
    a.si.address = address;
    a.si.uri_spec = uri_spec;
    if (port_arg(port, "port", &a.si.port) < 0 ||
        port_arg(ssl_port, "ssl_port", &a.si.ssl_port) < 0 ||
        service_type_arg(stype, &a.si.service_type) < 0) {
        return NULL;
    }
    if (id == NULL) {
        /* Curator's default: a random UUID. */
        uuid = new_uuid();
        if (uuid == NULL || (id = PyUnicode_AsUTF8(uuid)) == NULL) {
            goto done;
        }
    }
    a.si.id = id;
    if (payload != Py_None) {
        json = json_call("dumps", payload);
        if (json == NULL || (a.si.payload = PyUnicode_AsUTF8(json)) == NULL) {
            goto done;
        }
    }
    r = registration_make(client, on_state, acl, 0, 0, 1, ms, create_curator,
                          &a, name);
done:
    Py_XDECREF(uuid);
    Py_XDECREF(json);
    return r;
}

/* ---- Dubbo ------------------------------------------------------------------ */

typedef struct {
    const char *root;
    zkr_dubbo_url_t *url;
} dubbo_arg_t;

static int
create_dubbo(zkr_client_t *zc, const zkr_registration_opts_t *o, void *arg,
             zkr_registration_t **out)
{
    dubbo_arg_t *a = arg;

    return zkr_registration_new_dubbo(zc, a->root, a->url, o, out);
}

PyObject *
zkrpy_register_dubbo(PyObject *client, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"url",     "root", "on_state",
                             "timeout", "acl",  NULL};
    const char *text;
    PyObject *on_state = Py_None, *timeout = Py_None, *acl = Py_None, *r;
    dubbo_arg_t a = {NULL, NULL};
    int ms, rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|$zOOO:register_dubbo",
                                     kwlist, &text, &a.root, &on_state,
                                     &timeout, &acl) ||
        zkrpy_timeout_ms(timeout, &ms) < 0) {
        return NULL;
    }
    rc = zkr_dubbo_url_parse(text, &a.url);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, text);
    }
    r = registration_make(client, on_state, acl, 0, 0, 0, ms, create_dubbo,
                          &a, text);
    zkr_dubbo_url_free(a.url);
    return r;
}

/* ---- methods ------------------------------------------------------------ */

static PyObject *
registration_wait(RegistrationObject *self, PyObject *args, PyObject *kwds)
{
    int ms;

    if (zkrpy_timeout_arg(args, kwds, "|O:wait", &ms) < 0) {
        return NULL;
    }
    return zkrpy_wait_result(reg_wait_impl(self, ms), self->base.path);
}

static PyObject *
registration_set_data(RegistrationObject *self, PyObject *args,
                      PyObject *kwds)
{
    static char *kwlist[] = {"data", NULL};
    PyObject *obj;
    Py_buffer view;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:set_data", kwlist,
                                     &obj) ||
        zkrpy_get_data(obj, &view) < 0) {
        return NULL;
    }
    ZKRPY_GUARDED(&self->base.guard, rc, r,
                  zkr_registration_set_data(r, view.buf, (size_t)view.len));
    PyBuffer_Release(&view);
    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->base.path);
    }
    Py_RETURN_NONE;
}

static PyObject *
registration_get_registered(RegistrationObject *self, void *closure)
{
    int v = 0;

    ZKRPY_IF_OPEN(&self->base.guard, r,
                  v = zkr_registration_is_registered(r));
    return PyBool_FromLong(v);
}

static PyObject *
registration_get_count(RegistrationObject *self, void *closure)
{
    unsigned n = 0;

    ZKRPY_IF_OPEN(&self->base.guard, r, n = zkr_registration_count(r));
    return PyLong_FromUnsignedLong(n);
}

static PyMethodDef registration_methods[] = {
    {"wait", (PyCFunction)(void (*)(void))registration_wait,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("wait($self, /, timeout=None)\n--\n\n"
               "Wait until the node is registered on the current session: "
               "True, or False on timeout. Raises the error that stopped "
               "the registration (e.g. NoAuth).")},
    {"set_data", (PyCFunction)(void (*)(void))registration_set_data,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("set_data($self, /, data)\n--\n\n"
               "Replace the node data: written now if registered, and "
               "used for every re-registration.")},
    {"close", zkrpy_obj_close, METH_NOARGS,
     PyDoc_STR("close($self, /)\n--\n\n"
               "Unregister: delete the node (unless keep=True) without "
               "waiting for the reply; on_state does not run after. "
               "Idempotent.")},
    {"__enter__", zkrpy_obj_enter, METH_NOARGS, NULL},
    {"__exit__", zkrpy_obj_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef registration_getset[] = {
    {"registered", (getter)registration_get_registered, NULL,
     "True while the node is known to exist on the current session.",
     NULL},
    {"count", (getter)registration_get_count, NULL,
     "How many times the node was (re-)created.", NULL},
    {"path", zkrpy_obj_get_path, NULL, "The registered node's path.", NULL},
    {"closed", zkrpy_obj_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zkrpy_RegistrationType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.Registration",
    .tp_basicsize = sizeof(RegistrationObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "Registration(client, path, data=None, *, persistent=False, "
        "keep=False, container_parents=False, on_state=None, "
        "timeout=None, acl=None)\n--\n\n"
        "A node kept registered for as long as the object is open: "
        "re-created on every new session and when somebody deletes it. "
        "Usually made with client.register(path, data), "
        "client.register_service(name, ...) (Curator x-discovery) or "
        "client.register_dubbo(url) (Dubbo). The constructor waits until "
        "the node exists (at most timeout seconds, else Timeout). "
        "Ephemeral unless persistent=True; keep=True leaves a persistent "
        "node on close.\n\n"
        "on_state(code) runs on every change: OK (registered, also after "
        "each re-registration), ESESSIONEXPIRED (to be re-created on the "
        "next session), ENONODE (deleted by somebody; being re-created), "
        "or an error that stops the registration until the next session. "
        "It runs on a ZooKeeper thread holding the GIL: keep it short. A "
        "context manager that unregisters.\n\n"
        "acl (ACL_OPEN, ACL_CREATOR_ALL or ACL_READ_ONLY) is the ACL of "
        "the nodes the registration creates, its own and missing parents "
        "(the same for register_service and register_dubbo); None takes "
        "the client's acl. ACL_CREATOR_ALL needs a client with a digest "
        "(else InvalidArgument)."),
    .tp_new = registration_new,
    .tp_dealloc = zkrpy_obj_dealloc,
    .tp_traverse = zkrpy_obj_traverse,
    .tp_clear = zkrpy_obj_clear,
    .tp_repr = zkrpy_obj_repr,
    .tp_methods = registration_methods,
    .tp_getset = registration_getset,
};

/* ======================================================================= */
/* Instance                                                                 */
/* ======================================================================= */

/* Takes a reference of its own to @i. */
static PyObject *
instance_new(zkr_instance_t *i)
{
    InstanceObject *self = PyObject_New(InstanceObject, &zkrpy_InstanceType);

    if (self != NULL) {
        self->inst = zkr_instance_ref(i);
    }
    return (PyObject *)self;
}

/* A list of zkr.Instance objects; consumes the array. */
static PyObject *
instance_list(zkr_instance_t **v, int n)
{
    PyObject *list = PyList_New(n);

    for (int i = 0; list != NULL && i < n; i++) {
        PyObject *o = instance_new(v[i]);

        if (o == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, o);
    }
    zkr_instances_free(v, n);
    return list;
}

static void
instance_dealloc(InstanceObject *self)
{
    zkr_instance_release(self->inst);
    PyObject_Free(self);
}

static PyObject *
instance_get_name(InstanceObject *self, void *closure)
{
    return zkrpy_str_or_none(zkr_instance_name(self->inst));
}

static PyObject *
instance_get_data(InstanceObject *self, void *closure)
{
    size_t len = 0;
    const char *d = zkr_instance_data(self->inst, &len);

    return zkrpy_bytes(d, len);
}

static PyObject *
instance_get_host(InstanceObject *self, void *closure)
{
    return zkrpy_str_or_none(zkr_instance_host(self->inst));
}

static PyObject *
instance_get_port(InstanceObject *self, void *closure)
{
    int p = zkr_instance_port(self->inst);

    if (p < 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLong(p);
}

static PyObject *
instance_get_weight(InstanceObject *self, void *closure)
{
    return PyLong_FromLong(zkr_instance_weight(self->inst));
}

static PyObject *
instance_get_active(InstanceObject *self, void *closure)
{
    return PyLong_FromLong(zkr_instance_active(self->inst));
}

static PyObject *
instance_get_url(InstanceObject *self, void *closure)
{
    const zkr_dubbo_url_t *u = zkr_instance_dubbo_url(self->inst);
    char *text = NULL;
    PyObject *r;
    int rc;

    if (u == NULL) {
        Py_RETURN_NONE;
    }
    rc = zkr_dubbo_url_to_string(u, &text);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, NULL);
    }
    r = zkrpy_str_or_none(text);
    zkr_free(text);
    return r;
}

static PyObject *
instance_get_params(InstanceObject *self, void *closure)
{
    const zkr_dubbo_url_t *u = zkr_instance_dubbo_url(self->inst);
    int n = zkr_dubbo_url_param_count(u);
    PyObject *dict;

    if (u == NULL) {
        Py_RETURN_NONE;
    }
    dict = PyDict_New();
    for (int i = 0; dict != NULL && i < n; i++) {
        const char *k = NULL, *v = NULL;
        PyObject *ko, *vo;

        if (zkr_dubbo_url_param_at(u, i, &k, &v) != ZKR_OK) {
            continue;
        }
        ko = zkrpy_str_or_none(k);
        vo = zkrpy_str_or_none(v);
        if (ko == NULL || vo == NULL || PyDict_SetItem(dict, ko, vo) < 0) {
            Py_CLEAR(dict);
        }
        Py_XDECREF(ko);
        Py_XDECREF(vo);
    }
    return dict;
}

static int
dict_set(PyObject *d, const char *key, PyObject *v)
{
    int rc;

    if (v == NULL) {
        return -1;
    }
    rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

static PyObject *
port_or_none(int p)
{
    if (p < 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLong(p);
}

static PyObject *
instance_get_service(InstanceObject *self, void *closure)
{
    const zkr_service_instance_t *s = zkr_instance_service(self->inst);
    PyObject *d, *payload;

    if (s == NULL) {
        Py_RETURN_NONE;
    }
    d = PyDict_New();
    if (d == NULL || dict_set(d, "name", zkrpy_str_or_none(s->name)) < 0 ||
        dict_set(d, "id", zkrpy_str_or_none(s->id)) < 0 ||
        dict_set(d, "address", zkrpy_str_or_none(s->address)) < 0 ||
        dict_set(d, "port", port_or_none(s->port)) < 0 ||
        dict_set(d, "ssl_port", port_or_none(s->ssl_port)) < 0 ||
        dict_set(d, "registration_time_utc",
                 PyLong_FromLongLong(s->registration_time_utc)) < 0 ||
        dict_set(d, "service_type",
                 PyUnicode_FromString(
                     zkr_service_type_name(s->service_type))) < 0 ||
        dict_set(d, "uri_spec", zkrpy_str_or_none(s->uri_spec)) < 0 ||
        dict_set(d, "enabled", PyBool_FromLong(s->enabled)) < 0) {
        Py_XDECREF(d);
        return NULL;
    }
    /* The payload is JSON text: handed out decoded, as it was given to
     * register_service. */
    payload = zkrpy_str_or_none(s->payload);
    if (payload != NULL && payload != Py_None) {
        Py_SETREF(payload, json_call("loads", payload));
    }
    if (dict_set(d, "payload", payload) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *
instance_begin(InstanceObject *self, PyObject *unused)
{
    zkr_instance_begin(self->inst);
    Py_RETURN_NONE;
}

static PyObject *
instance_end(InstanceObject *self, PyObject *unused)
{
    int rc = zkr_instance_end(self->inst);

    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, "end() without begin()");
    }
    Py_RETURN_NONE;
}

static PyObject *
instance_enter(InstanceObject *self, PyObject *unused)
{
    zkr_instance_begin(self->inst);
    return Py_NewRef(self);
}

static PyObject *
instance_exit(InstanceObject *self, PyObject *args)
{
    zkr_instance_end(self->inst);
    Py_RETURN_FALSE;
}

static PyObject *
instance_repr(InstanceObject *self)
{
    const char *host = zkr_instance_host(self->inst);
    const char *name = zkr_instance_name(self->inst);

    return PyUnicode_FromFormat("<zkr.Instance %s %s:%d>",
                                name != NULL ? name : "?",
                                host != NULL ? host : "?",
                                zkr_instance_port(self->inst));
}

static PyObject *
instance_richcompare(PyObject *a, PyObject *b, int op)
{
    int eq;

    if (!PyObject_TypeCheck(b, &zkrpy_InstanceType) ||
        (op != Py_EQ && op != Py_NE)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    /* Snapshots of the same node, with the same data, are equal. */
    {
        zkr_instance_t *x = ((InstanceObject *)a)->inst;
        zkr_instance_t *y = ((InstanceObject *)b)->inst;
        size_t lx = 0, ly = 0;
        const char *dx = zkr_instance_data(x, &lx);
        const char *dy = zkr_instance_data(y, &ly);

        eq = x == y ||
             (strcmp(zkr_instance_name(x), zkr_instance_name(y)) == 0 &&
              lx == ly && (lx == 0 || memcmp(dx, dy, lx) == 0));
    }
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static Py_hash_t
instance_hash(InstanceObject *self)
{
    PyObject *name = zkrpy_str_or_none(zkr_instance_name(self->inst));
    Py_hash_t h;

    if (name == NULL) {
        return -1;
    }
    h = PyObject_Hash(name);
    Py_DECREF(name);
    return h;
}

static PyMethodDef instance_methods[] = {
    {"begin", (PyCFunction)instance_begin, METH_NOARGS,
     PyDoc_STR("begin($self, /)\n--\n\n"
               "Count a call to this instance as active (for "
               "LB_LEAST_ACTIVE); end it with end().")},
    {"end", (PyCFunction)instance_end, METH_NOARGS,
     PyDoc_STR("end($self, /)\n--\n\n"
               "End a call counted by begin().")},
    {"__enter__", (PyCFunction)instance_enter, METH_NOARGS,
     PyDoc_STR("begin(); leaving the block calls end().")},
    {"__exit__", (PyCFunction)instance_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef instance_getset[] = {
    {"name", (getter)instance_get_name, NULL,
     "The node name (the encoded URL in the Dubbo layout, the instance "
     "id in Curator's).", NULL},
    {"data", (getter)instance_get_data, NULL, "The node data (bytes).",
     NULL},
    {"host", (getter)instance_get_host, NULL,
     "Host (Dubbo URL host, Curator address), or None.", NULL},
    {"port", (getter)instance_get_port, NULL,
     "Port (Curator: port, else sslPort), or None.", NULL},
    {"weight", (getter)instance_get_weight, NULL,
     "Weight for the balancing policies (Dubbo's 'weight' parameter, "
     "else 100).", NULL},
    {"active", (getter)instance_get_active, NULL,
     "Calls begun and not ended, over every snapshot of this node.", NULL},
    {"url", (getter)instance_get_url, NULL,
     "The full Dubbo URL (Dubbo layout), else None.", NULL},
    {"params", (getter)instance_get_params, NULL,
     "The Dubbo URL parameters as a dict (Dubbo layout), else None.",
     NULL},
    {"service", (getter)instance_get_service, NULL,
     "The Curator ServiceInstance as a dict (name, id, address, port, "
     "ssl_port, payload, registration_time_utc, service_type, uri_spec, "
     "enabled), else None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zkrpy_InstanceType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.Instance",
    .tp_basicsize = sizeof(InstanceObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = PyDoc_STR(
        "One service instance seen by a zkr.Discovery: an immutable "
        "snapshot of its node, valid after the discovery is closed. "
        "`with instance:` counts a call as active for LB_LEAST_ACTIVE."),
    .tp_dealloc = (destructor)instance_dealloc,
    .tp_repr = (reprfunc)instance_repr,
    .tp_hash = (hashfunc)instance_hash,
    .tp_richcompare = instance_richcompare,
    .tp_methods = instance_methods,
    .tp_getset = instance_getset,
};

/* ======================================================================= */
/* Discovery                                                                */
/* ======================================================================= */

static void
discovery_free_native(void *handle, void *owner)
{
    zkr_discovery_free(handle);
}

/* Runs on the ZooKeeper completion thread, in order and never twice at
 * once, each time the set of instances changes. */
static void
disc_change_cb(zkr_discovery_t *d, int status, void *ctx)
{
    DiscoveryObject *self = ctx;
    zkr_instance_t **v = NULL;
    int n = 0;
    zkrpy_cbstate_t st;

    /* Listed before taking the GIL. */
    if (zkr_discovery_list(d, &v, &n) != ZKR_OK) {
        v = NULL;
        n = 0;
    }
    if (!zkrpy_cb_enter((PyObject *)self, &self->base.guard,
                        &self->base.listening, &st)) {
        zkr_instances_free(v, n);
        return;
    }
    if (status != ZKR_OK) {
        self->error = status;
    }
    if (self->base.callback != NULL) {
        PyObject *fn = Py_NewRef(self->base.callback);
        PyObject *list = instance_list(v, n);

        zkrpy_cb_call(fn, list != NULL ? PyTuple_Pack(1, list) : NULL);
        Py_XDECREF(list);
        Py_DECREF(fn);
    }
    else {
        zkr_instances_free(v, n);
    }
    zkrpy_cb_leave((PyObject *)self, &self->base.guard, &st);
}

static void
refresh_done(zkr_discovery_t *d, int status, void *ctx)
{
    zkrpy_waiter_signal(ctx, status);
}

/* One refresh, waited for in slices; a wait that ends early leaves the
 * listing to finish in the background. Returns the zkr status, or
 * ZKRPY_RAISED. */
static int
refresh_impl(DiscoveryObject *self, int timeout_ms)
{
    zkrpy_guard_t *g = &self->base.guard;
    zkrpy_waiter_t *w;
    int rc, interrupted = 0, left = timeout_ms;

    if (zkrpy_in_callback()) {
        zkrpy_raise_at(ZKR_EDEADLK, self->base.path);
        return ZKRPY_RAISED;
    }
    if (zkrpy_guard_enter(g) < 0) {
        return ZKRPY_RAISED;
    }
    w = zkrpy_waiter_new();
    if (w == NULL) {
        zkrpy_guard_leave(g);
        return ZKRPY_RAISED;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_discovery_refresh_async(g->handle, refresh_done, w);
    Py_END_ALLOW_THREADS
    if (rc != ZKR_OK) {
        zkrpy_waiter_unref(w); /* the callback's: it will not run */
    }
    while (rc == ZKR_OK) {
        int slice = left < 0 || left > 100 ? 100 : left;

        rc = zkrpy_wait(w, slice, NULL, NULL, &interrupted);
        if (rc != ZKR_ETIMEDOUT) {
            break;
        }
        if (interrupted) {
            rc = ZKRPY_RAISED;
            break;
        }
        if (left >= 0 && (left -= slice) <= 0) {
            break;
        }
        if (g->closing || zkrpy_client_closed(self->base.client)) {
            rc = ZKR_ECLOSED;
            break;
        }
        rc = ZKR_OK;
    }
    zkrpy_waiter_unref(w);
    if (g->closing && rc != ZKRPY_RAISED) {
        rc = ZKR_ECLOSED;
    }
    zkrpy_guard_leave(g);
    return rc;
}

static PyObject *
discovery_refresh(DiscoveryObject *self, PyObject *args, PyObject *kwds)
{
    int ms;

    if (zkrpy_timeout_arg(args, kwds, "|O:refresh", &ms) < 0) {
        return NULL;
    }
    return zkrpy_wait_result(refresh_impl(self, ms), self->base.path);
}

static PyObject *
discovery_instances(DiscoveryObject *self, PyObject *unused)
{
    zkr_instance_t **v = NULL;
    int n = 0, rc;

    ZKRPY_GUARDED(&self->base.guard, rc, d, zkr_discovery_list(d, &v, &n));
    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->base.path);
    }
    return instance_list(v, n);
}

static PyObject *
discovery_pick(DiscoveryObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"policy", "key", NULL};
    int policy = ZKR_LB_RANDOM, rc;
    PyObject *key = Py_None, *r;
    Py_buffer view;
    zkr_instance_t *inst = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|iO:pick", kwlist, &policy,
                                     &key)) {
        return NULL;
    }
    if (PyUnicode_Check(key)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(key, &n);

        if (s == NULL ||
            PyBuffer_FillInfo(&view, key, (void *)s, n, 1, PyBUF_SIMPLE) <
                0) {
            return NULL;
        }
    }
    else if (zkrpy_get_data(key, &view) < 0) {
        return NULL;
    }
    ZKRPY_GUARDED(&self->base.guard, rc, d,
                  zkr_discovery_pick(d, (zkr_lb_policy_t)policy, view.buf,
                                     (size_t)view.len, &inst));
    PyBuffer_Release(&view);
    if (rc == ZKR_ENONODE) {
        Py_RETURN_NONE;
    }
    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->base.path);
    }
    r = instance_new(inst);
    zkr_instance_release(inst);
    return r;
}

static Py_ssize_t
discovery_len(PyObject *o)
{
    DiscoveryObject *self = (DiscoveryObject *)o;
    int n = 0;

    ZKRPY_IF_OPEN(&self->base.guard, d, n = zkr_discovery_count(d));
    return n;
}

static PyObject *
discovery_get_version(DiscoveryObject *self, void *closure)
{
    uint64_t v = 0;

    ZKRPY_IF_OPEN(&self->base.guard, d, v = zkr_discovery_version(d));
    return PyLong_FromUnsignedLongLong(v);
}

static PyObject *
discovery_get_error(DiscoveryObject *self, void *closure)
{
    return PyLong_FromLong(self->error);
}

static PyObject *
discovery_get_layout(DiscoveryObject *self, void *closure)
{
    return PyLong_FromLong(self->layout);
}

static PyObject *
discovery_repr(DiscoveryObject *self)
{
    return PyUnicode_FromFormat("<zkr.Discovery path=%R instances=%zd>",
                                self->base.path,
                                discovery_len((PyObject *)self));
}

static PyObject *
discovery_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"client", "path", "layout", "callback",
                             "timeout", NULL};
    PyObject *client, *callback = Py_None, *timeout = Py_None;
    const char *path;
    int layout = ZKR_LAYOUT_CURATOR, ms, rc;
    zkr_discovery_opts_t o;
    zkr_discovery_t *d = NULL;
    zkr_client_t *zc;
    DiscoveryObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Os|iO$O:Discovery", kwlist,
                                     &client, &path, &layout, &callback,
                                     &timeout) ||
        zkrpy_timeout_ms(timeout, &ms) < 0 ||
        zkrpy_check_callable(callback, "callback") < 0) {
        return NULL;
    }
    self = (DiscoveryObject *)zkrpy_obj_alloc(type, client, path);
    if (self == NULL) {
        return NULL;
    }
    if (callback != Py_None) {
        self->base.callback = Py_NewRef(callback);
    }
    self->layout = layout;
    zc = zkrpy_client_enter(client);
    if (zc == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    zkr_discovery_opts_init(&o);
    o.layout = (zkr_layout_t)layout;
    o.on_change = disc_change_cb;
    o.ctx = self;
    self->base.listening = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_discovery_new(zc, path, &o, &d);
    Py_END_ALLOW_THREADS
    zkrpy_client_leave(client);
    if (rc == ZKR_OK) {
        self->base.guard.handle = d;
        self->base.guard.free_fn = discovery_free_native;
        rc = refresh_impl(self, ms);
    }
    return zkrpy_obj_or_raise((PyObject *)self, rc);
}

/* ---- client helpers ------------------------------------------------------ */

static PyObject *
discovery_at(PyObject *client, const char *path, int layout,
             PyObject *callback, PyObject *timeout)
{
    PyObject *args, *kw, *r = NULL;

    args = Py_BuildValue("(OsiO)", client, path, layout, callback);
    kw = Py_BuildValue("{sO}", "timeout", timeout);
    if (args != NULL && kw != NULL) {
        r = PyObject_Call((PyObject *)&zkrpy_DiscoveryType, args, kw);
    }
    Py_XDECREF(args);
    Py_XDECREF(kw);
    return r;
}

PyObject *
zkrpy_discover(PyObject *client, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"name", "callback", "base", "timeout", NULL};
    const char *name, *base = ZKR_DISCOVERY_BASE;
    PyObject *callback = Py_None, *timeout = Py_None, *r;
    char *path = NULL;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|O$sO:discover", kwlist,
                                     &name, &callback, &base, &timeout)) {
        return NULL;
    }
    rc = zkr_path_join(base, name, &path);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, name);
    }
    r = discovery_at(client, path, ZKR_LAYOUT_CURATOR, callback, timeout);
    zkr_free(path);
    return r;
}

PyObject *
zkrpy_discover_dubbo(PyObject *client, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"interface", "callback", "root", "category",
                             "timeout", NULL};
    const char *iface, *root = NULL, *category = NULL;
    PyObject *callback = Py_None, *timeout = Py_None, *r;
    char *dir = NULL;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|O$zzO:discover_dubbo",
                                     kwlist, &iface, &callback, &root,
                                     &category, &timeout)) {
        return NULL;
    }
    rc = zkr_dubbo_dir(root, iface, category, &dir);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, iface);
    }
    r = discovery_at(client, dir, ZKR_LAYOUT_DUBBO, callback, timeout);
    zkr_free(dir);
    return r;
}

static PyMethodDef discovery_methods[] = {
    {"instances", (PyCFunction)discovery_instances, METH_NOARGS,
     PyDoc_STR("instances($self, /)\n--\n\n"
               "The usable instances now (parsed and enabled), sorted by "
               "node name, as zkr.Instance objects. No request is made; "
               "safe in callbacks.")},
    {"pick", (PyCFunction)(void (*)(void))discovery_pick,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("pick($self, /, policy=zkr.LB_RANDOM, key=None)\n--\n\n"
               "One usable instance chosen by policy (LB_RANDOM weighted, "
               "LB_ROUND_ROBIN, LB_LEAST_ACTIVE, LB_CONSISTENT_HASH by "
               "key, bytes or str), or None when there is none. No "
               "request is made.")},
    {"refresh", (PyCFunction)(void (*)(void))discovery_refresh,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("refresh($self, /, timeout=None)\n--\n\n"
               "List the directory again and wait until the cache "
               "reflects it: True, or False on timeout. The constructor "
               "refreshes once.")},
    {"close", zkrpy_obj_close, METH_NOARGS,
     PyDoc_STR("close($self, /)\n--\n\n"
               "Stop watching; no callback runs after. Instances "
               "obtained stay valid. Idempotent.")},
    {"__enter__", zkrpy_obj_enter, METH_NOARGS, NULL},
    {"__exit__", zkrpy_obj_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef discovery_getset[] = {
    {"version", (getter)discovery_get_version, NULL,
     "A counter that grows on every change of the instance set.", NULL},
    {"error", (getter)discovery_get_error, NULL,
     "The code of the last listing failure zkr gave up on (e.g. "
     "ENOAUTH), or 0.", NULL},
    {"path", zkrpy_obj_get_path, NULL, "The watched directory.", NULL},
    {"layout", (getter)discovery_get_layout, NULL,
     "LAYOUT_CURATOR, LAYOUT_DUBBO or LAYOUT_RAW.", NULL},
    {"closed", zkrpy_obj_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods discovery_as_sequence = {
    .sq_length = discovery_len,
};

PyTypeObject zkrpy_DiscoveryType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.Discovery",
    .tp_basicsize = sizeof(DiscoveryObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "Discovery(client, path, layout=zkr.LAYOUT_CURATOR, callback=None, *, "
        "timeout=None)\n--\n\n"
        "A cache of the instances registered under the directory path, "
        "kept up to date by watches; usually made with "
        "client.discover(name) (Curator x-discovery: base/name), "
        "client.discover_dubbo(interface) (Dubbo providers) or "
        "client.Discovery(path, layout). The constructor waits for the "
        "first listing (at most timeout seconds, else Timeout); a "
        "missing directory is a service without instances. len() is the "
        "number of usable instances.\n\n"
        "callback(instances) runs with the new list each time the set of "
        "instances changes (and when listing failed for good: see "
        "error). It runs on a ZooKeeper thread, never twice at once, "
        "holding the GIL: keep it short. A context manager that closes."),
    .tp_new = discovery_new,
    .tp_dealloc = zkrpy_obj_dealloc,
    .tp_traverse = zkrpy_obj_traverse,
    .tp_clear = zkrpy_obj_clear,
    .tp_repr = (reprfunc)discovery_repr,
    .tp_methods = discovery_methods,
    .tp_getset = discovery_getset,
    .tp_as_sequence = &discovery_as_sequence,
};

/* ======================================================================= */
/* Dubbo URL helpers                                                        */
/* ======================================================================= */

/* Adds **params (values through str()) and returns the URL text. Frees
 * @u. */
static PyObject *
url_finish(zkr_dubbo_url_t *u, PyObject *params)
{
    PyObject *key, *value, *r = NULL;
    Py_ssize_t pos = 0;
    char *text = NULL;
    int rc = ZKR_OK;

    while (params != NULL && PyDict_Next(params, &pos, &key, &value)) {
        PyObject *vs = PyObject_Str(value);
        const char *k = PyUnicode_AsUTF8(key);
        const char *v = vs != NULL ? PyUnicode_AsUTF8(vs) : NULL;

        if (k == NULL || v == NULL) {
            Py_XDECREF(vs);
            zkr_dubbo_url_free(u);
            return NULL;
        }
        rc = zkr_dubbo_url_set(u, k, v);
        Py_DECREF(vs);
        if (rc != ZKR_OK) {
            zkr_dubbo_url_free(u);
            return zkrpy_raise(rc, k);
        }
    }
    rc = zkr_dubbo_url_to_string(u, &text);
    zkr_dubbo_url_free(u);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, NULL);
    }
    r = zkrpy_str_or_none(text);
    zkr_free(text);
    return r;
}

PyObject *
zkrpy_dubbo_provider_url(PyObject *module, PyObject *args, PyObject *kwds)
{
    const char *host, *iface;
    int port, rc;
    zkr_dubbo_url_t *u = NULL;

    if (!PyArg_ParseTuple(args, "sis:dubbo_provider_url", &host, &port,
                          &iface)) {
        return NULL;
    }
    rc = zkr_dubbo_url_provider(host, port, iface, &u);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, iface);
    }
    return url_finish(u, kwds);
}

PyObject *
zkrpy_dubbo_consumer_url(PyObject *module, PyObject *args, PyObject *kwds)
{
    const char *host, *iface;
    int rc;
    zkr_dubbo_url_t *u = NULL;

    if (!PyArg_ParseTuple(args, "ss:dubbo_consumer_url", &host, &iface)) {
        return NULL;
    }
    rc = zkr_dubbo_url_consumer(host, iface, &u);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, iface);
    }
    return url_finish(u, kwds);
}
