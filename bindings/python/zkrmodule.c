/* SPDX-License-Identifier: Apache-2.0 */
/* The zkr Python extension: module setup, exceptions, constants, and the
 * Stat type (the helpers the object files share are in guard.c). */
#include "zkrmodule.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
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

    if (code == ZKRPY_RAISED) {
        return NULL;
    }
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

PyObject *
zkrpy_raise_at(int code, PyObject *where)
{
    const char *s;

    if (code == ZKRPY_RAISED || where == NULL) {
        return zkrpy_raise(code, NULL);
    }
    s = PyUnicode_AsUTF8(where);
    if (s == NULL) {
        PyErr_Clear();
        s = "?";
    }
    return zkrpy_raise(code, s);
}

PyObject *
zkrpy_wait_result(int rc, PyObject *where)
{
    switch (rc) {
    case ZKR_OK:
        Py_RETURN_TRUE;
    case ZKR_ETIMEDOUT:
        Py_RETURN_FALSE;
    default:
        return zkrpy_raise_at(rc, where);
    }
}

PyObject *
zkrpy_held_result(int rc, PyObject *where)
{
    switch (rc) {
    case ZKR_OK:
        Py_RETURN_TRUE;
    case ZKR_ENOTHELD:
        Py_RETURN_FALSE;
    default:
        return zkrpy_raise_at(rc, where);
    }
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
    PyObject *v[11];

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
    return zkrpy_struct_seq(&zkrpy_StatType, v, 11);
}

/* ---- module ------------------------------------------------------------- */

/* text(code) for a Python int; codes outside int range are simply unknown
 * codes. */
static PyObject *
code_text(PyObject *arg, const char *(*text)(int code))
{
    int overflow = 0;
    long v = PyLong_AsLongAndOverflow(arg, &overflow);

    if (v == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyUnicode_FromString(
        text(overflow || v < INT_MIN || v > INT_MAX ? INT_MIN : (int)v));
}

static PyObject *
module_strerror(PyObject *module, PyObject *arg)
{
    return code_text(arg, zkr_strerror);
}

static PyObject *
module_err_name(PyObject *module, PyObject *arg)
{
    return code_text(arg, zkr_err_name);
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
    {"_atexit", zkrpy_module_atexit, METH_NOARGS,
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
