/* SPDX-License-Identifier: Apache-2.0 */
/* zkr.Election: one candidate in a leader election (Curator's LeaderLatch
 * layout), with leader / lost callbacks and a fencing token. */
#include "zkrmodule.h"

typedef struct {
    PyObject_HEAD
    PyObject *client;       /* zkr.Client: keeps the session alive */
    zkrpy_guard_t guard;    /* handle: zkr_election_t * */
    PyObject *path;         /* str */
    PyObject *on_leader;    /* callable or NULL */
    PyObject *on_lost;      /* callable or NULL */
    int listening;          /* the native callbacks may call into Python */
} ElectionObject;

static PyStructSequence_Field participant_fields[] = {
    {"id", "participant id (the data of its node)"},
    {"node", "its node name, '_c_<uuid>-latch-<seq>'"},
    {"token", "its fencing token if it leads (the node's czxid)"},
    {"session_id", "the session owning the node"},
    {"is_leader", "True for the first participant, the leader"},
    {NULL, NULL},
};

PyStructSequence_Desc zkrpy_participant_desc = {
    "zkr.Participant",
    "One candidate of an election, as listed by Election.participants().",
    participant_fields,
    5,
};

PyTypeObject zkrpy_ParticipantType;

static void
election_free_native(void *handle, void *owner)
{
    zkr_election_free(handle);
}

static const char *
election_path(ElectionObject *self)
{
    const char *p = PyUnicode_AsUTF8(self->path);

    if (p == NULL) {
        PyErr_Clear();
        return "?";
    }
    return p;
}

/* ---- callbacks -------------------------------------------------------------
 * They run on the ZooKeeper completion thread, or on the thread calling
 * resign() or close(), in the order of the events and never two at once;
 * see zkrpy_cb_enter for the lifetime rules. */

static void
on_leader_cb(zkr_election_t *e, int status, void *ctx)
{
    ElectionObject *self = ctx;
    int64_t token = zkr_election_token(e); /* before taking the GIL */
    zkrpy_cbstate_t st;

    if (!zkrpy_cb_enter((PyObject *)self, &self->guard, &self->listening,
                        &st)) {
        return;
    }
    if (self->on_leader != NULL) {
        PyObject *fn = Py_NewRef(self->on_leader);

        zkrpy_cb_call(fn, Py_BuildValue("(L)", (long long)token));
        Py_DECREF(fn);
    }
    zkrpy_cb_leave((PyObject *)self, &self->guard, &st);
}

static void
on_lost_cb(zkr_election_t *e, int status, void *ctx)
{
    ElectionObject *self = ctx;
    zkrpy_cbstate_t st;

    if (!zkrpy_cb_enter((PyObject *)self, &self->guard, &self->listening,
                        &st)) {
        return;
    }
    if (self->on_lost != NULL) {
        PyObject *fn = Py_NewRef(self->on_lost);

        zkrpy_cb_call(fn, Py_BuildValue("(i)", status));
        Py_DECREF(fn);
    }
    zkrpy_cb_leave((PyObject *)self, &self->guard, &st);
}

/* ---- join ------------------------------------------------------------------
 * The async join and zkrpy_wait; a wait that times out (or is interrupted)
 * resigns, which takes us out even if the join completed meanwhile. */

typedef struct {
    zkr_election_t *e;
    int canceled;
} join_cancel_t;

static int
cancel_join(void *arg)
{
    join_cancel_t *jc = arg;

    jc->canceled = 1;
    return zkr_election_resign(jc->e);
}

static void
join_done(zkr_election_t *e, int status, void *ctx)
{
    zkrpy_waiter_signal(ctx, status);
}

/* Returns the zkr status (ZKR_ETIMEDOUT: not joined in time, and not a
 * candidate), or ZKRPY_RAISED. */
static int
join_impl(ElectionObject *self, int timeout_ms)
{
    zkrpy_waiter_t *w;
    join_cancel_t jc;
    int rc, interrupted = 0, closing;

    if (zkrpy_in_callback()) {
        zkrpy_raise(ZKR_EDEADLK, election_path(self));
        return ZKRPY_RAISED;
    }
    if (zkrpy_guard_enter(&self->guard) < 0) {
        return ZKRPY_RAISED;
    }
    jc.e = self->guard.handle;
    jc.canceled = 0;
    w = zkrpy_waiter_new();
    if (w == NULL) {
        zkrpy_guard_leave(&self->guard);
        return ZKRPY_RAISED;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_election_join_async(jc.e, join_done, w);
    Py_END_ALLOW_THREADS
    if (rc == ZKR_OK) {
        rc = zkrpy_wait(w, timeout_ms, cancel_join, &jc, &interrupted);
    }
    else {
        zkrpy_waiter_unref(w); /* the callback's: it will not run */
    }
    zkrpy_waiter_unref(w);
    closing = self->guard.closing;
    zkrpy_guard_leave(&self->guard);
    if (interrupted) {
        return ZKRPY_RAISED;
    }
    if (jc.canceled &&
        (rc == ZKR_OK || rc == ZKR_ECANCELED || rc == ZKR_ETIMEDOUT)) {
        return ZKR_ETIMEDOUT;
    }
    if (closing ||
        (rc == ZKR_ECANCELED && zkrpy_client_closed(self->client))) {
        zkrpy_raise(ZKR_ECLOSED, election_path(self));
        return ZKRPY_RAISED;
    }
    return rc;
}

static PyObject *
election_join(ElectionObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    int ms, rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:join", kwlist,
                                     &timeout) ||
        zkrpy_timeout_ms(timeout, &ms) < 0) {
        return NULL;
    }
    rc = join_impl(self, ms);
    switch (rc) {
    case ZKR_OK:
        Py_RETURN_TRUE;
    case ZKR_ETIMEDOUT:
        Py_RETURN_FALSE;
    case ZKRPY_RAISED:
        return NULL;
    default:
        return zkrpy_raise(rc, election_path(self));
    }
}

/* ---- waiting for leadership ------------------------------------------- */

static int
await_slice(void *handle, int ms, void *arg)
{
    return zkr_election_await(handle, ms);
}

static PyObject *
election_wait_leader(ElectionObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    int ms, rc, closing;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:wait_leader", kwlist,
                                     &timeout) ||
        zkrpy_timeout_ms(timeout, &ms) < 0) {
        return NULL;
    }
    if (ms != 0 && zkrpy_in_callback()) {
        return zkrpy_raise(ZKR_EDEADLK, election_path(self));
    }
    if (zkrpy_guard_enter(&self->guard) < 0) {
        return NULL;
    }
    rc = zkrpy_wait_sliced(&self->guard, self->client, ms, await_slice,
                           NULL);
    closing = self->guard.closing;
    zkrpy_guard_leave(&self->guard);
    switch (rc) {
    case ZKR_OK:
        Py_RETURN_TRUE;
    case ZKR_ETIMEDOUT:
        Py_RETURN_FALSE;
    case ZKRPY_RAISED:
        return NULL;
    default:
        /* close() from another thread resigns: that is no NotHeld. */
        return zkrpy_raise(closing ? ZKR_ECLOSED : rc, election_path(self));
    }
}

/* ---- other methods ---------------------------------------------------- */

static PyObject *
election_resign(ElectionObject *self, PyObject *unused)
{
    int rc;

    if (zkrpy_guard_enter(&self->guard) < 0) {
        return NULL;
    }
    /* on_lost may run on this thread meanwhile, taking the GIL. */
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_election_resign(self->guard.handle);
    Py_END_ALLOW_THREADS
    zkrpy_guard_leave(&self->guard);
    if (rc == ZKR_ENOTHELD) {
        Py_RETURN_FALSE;
    }
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, election_path(self));
    }
    Py_RETURN_TRUE;
}

static PyObject *
election_leader(ElectionObject *self, PyObject *unused)
{
    char *id = NULL;
    PyObject *r;
    int rc;

    if (zkrpy_guard_enter(&self->guard) < 0) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_election_leader(self->guard.handle, &id);
    Py_END_ALLOW_THREADS
    zkrpy_guard_leave(&self->guard);
    if (rc == ZKR_ENONODE) {
        Py_RETURN_NONE;
    }
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, election_path(self));
    }
    r = zkrpy_str_or_none(id);
    zkr_free(id);
    return r;
}

static PyObject *
participant_new(const zkr_election_participant_t *p)
{
    PyObject *o = PyStructSequence_New(&zkrpy_ParticipantType);
    PyObject *v[5];

    if (o == NULL) {
        return NULL;
    }
    v[0] = zkrpy_str_or_none(p->id);
    v[1] = zkrpy_str_or_none(p->node);
    v[2] = PyLong_FromLongLong(p->czxid);
    v[3] = PyLong_FromLongLong(p->owner);
    v[4] = PyBool_FromLong(p->is_leader);
    for (int i = 0; i < 5; i++) {
        if (v[i] == NULL) {
            for (int j = i + 1; j < 5; j++) {
                Py_XDECREF(v[j]);
            }
            Py_DECREF(o);
            return NULL;
        }
        PyStructSequence_SetItem(o, i, v[i]);
    }
    return o;
}

static PyObject *
election_participants(ElectionObject *self, PyObject *unused)
{
    zkr_election_participant_t *p = NULL;
    int n = 0, rc;
    PyObject *list;

    if (zkrpy_guard_enter(&self->guard) < 0) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_election_participants(self->guard.handle, &p, &n);
    Py_END_ALLOW_THREADS
    zkrpy_guard_leave(&self->guard);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, election_path(self));
    }
    list = PyList_New(n);
    for (int i = 0; list != NULL && i < n; i++) {
        PyObject *item = participant_new(&p[i]);

        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
    zkr_election_participants_free(p, n);
    return list;
}

static void
election_close_impl(ElectionObject *self)
{
    zkr_election_t *e;

    if (zkrpy_guard_enter(&self->guard) < 0) {
        PyErr_Clear();
        return;
    }
    e = self->guard.handle;
    /* Resigned first, still listening: on_lost reports the end of a
     * leadership, as after resign(). */
    Py_BEGIN_ALLOW_THREADS
    zkr_election_resign(e);
    Py_END_ALLOW_THREADS
    self->listening = 0;
    zkrpy_guard_close(&self->guard);
    zkrpy_guard_leave(&self->guard);
}

static PyObject *
election_close(ElectionObject *self, PyObject *unused)
{
    election_close_impl(self);
    Py_RETURN_NONE;
}

static PyObject *
election_enter(ElectionObject *self, PyObject *unused)
{
    if (self->guard.handle == NULL || self->guard.closing) {
        return zkrpy_raise(ZKR_ECLOSED, election_path(self));
    }
    return Py_NewRef(self);
}

static PyObject *
election_exit(ElectionObject *self, PyObject *args)
{
    election_close_impl(self);
    Py_RETURN_FALSE;
}

/* ---- properties ------------------------------------------------------- */

static int
is_open(ElectionObject *self)
{
    return self->guard.handle != NULL && !self->guard.closing;
}

static PyObject *
election_get_is_leader(ElectionObject *self, void *closure)
{
    int v = 0;

    if (is_open(self)) {
        zkr_election_t *e = self->guard.handle;

        Py_BEGIN_ALLOW_THREADS
        v = zkr_election_is_leader(e);
        Py_END_ALLOW_THREADS
    }
    return PyBool_FromLong(v);
}

static PyObject *
election_get_token(ElectionObject *self, void *closure)
{
    int64_t t = 0;

    if (is_open(self)) {
        zkr_election_t *e = self->guard.handle;

        Py_BEGIN_ALLOW_THREADS
        t = zkr_election_token(e);
        Py_END_ALLOW_THREADS
    }
    if (t == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLongLong(t);
}

static PyObject *
election_get_node(ElectionObject *self, void *closure)
{
    char buf[512];
    int rc = ZKR_ENOTHELD;

    if (is_open(self)) {
        zkr_election_t *e = self->guard.handle;

        Py_BEGIN_ALLOW_THREADS
        rc = zkr_election_node(e, buf, sizeof buf);
        Py_END_ALLOW_THREADS
    }
    if (rc != ZKR_OK) {
        Py_RETURN_NONE;
    }
    return zkrpy_str_or_none(buf);
}

static PyObject *
election_get_path(ElectionObject *self, void *closure)
{
    return Py_NewRef(self->path);
}

static PyObject *
election_get_closed(ElectionObject *self, void *closure)
{
    return PyBool_FromLong(!is_open(self));
}

static PyObject *
election_repr(ElectionObject *self)
{
    PyObject *lead = election_get_is_leader(self, NULL), *r;

    if (lead == NULL) {
        return NULL;
    }
    r = PyUnicode_FromFormat("<zkr.Election path=%R leader=%s%s>",
                             self->path, lead == Py_True ? "True" : "False",
                             is_open(self) ? "" : " closed");
    Py_DECREF(lead);
    return r;
}

/* ---- construction ----------------------------------------------------- */

static int
check_callable(PyObject *fn, const char *what)
{
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "%s must be callable or None", what);
        return -1;
    }
    return 0;
}

static PyObject *
election_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"client", "path",    "id",      "on_leader",
                             "on_lost", "join",   "timeout", NULL};
    PyObject *client, *on_leader = Py_None, *on_lost = Py_None;
    PyObject *timeout = Py_None;
    const char *path, *id = NULL;
    Py_ssize_t id_len = 0;
    int join = 1, ms, rc;
    zkr_election_opts_t o;
    zkr_election_t *e = NULL;
    zkr_client_t *zc;
    ElectionObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Os|z#$OOpO:Election",
                                     kwlist, &client, &path, &id, &id_len,
                                     &on_leader, &on_lost, &join,
                                     &timeout) ||
        zkrpy_timeout_ms(timeout, &ms) < 0 ||
        check_callable(on_leader, "on_leader") < 0 ||
        check_callable(on_lost, "on_lost") < 0) {
        return NULL;
    }
    if (id != NULL && (size_t)id_len != strlen(id)) {
        PyErr_SetString(PyExc_ValueError, "id must not contain NUL");
        return NULL;
    }
    self = (ElectionObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->path = PyUnicode_FromString(path);
    if (self->path == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->client = Py_NewRef(client);
    if (on_leader != Py_None) {
        self->on_leader = Py_NewRef(on_leader);
    }
    if (on_lost != Py_None) {
        self->on_lost = Py_NewRef(on_lost);
    }
    zc = zkrpy_client_enter(client);
    if (zc == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    zkr_election_opts_init(&o);
    o.id = id;
    o.on_leader = on_leader_cb;
    o.on_lost = on_lost_cb;
    o.ctx = self;
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_election_new(zc, path, &o, &e);
    Py_END_ALLOW_THREADS
    zkrpy_client_leave(client);
    if (rc != ZKR_OK) {
        Py_DECREF(self);
        return zkrpy_raise(rc, path);
    }
    self->guard.handle = e;
    self->guard.free_fn = election_free_native;
    self->listening = 1;
    if (join) {
        rc = join_impl(self, ms);
        if (rc != ZKR_OK) {
            if (rc != ZKRPY_RAISED) {
                zkrpy_raise(rc, path);
            }
            Py_DECREF(self);
            return NULL;
        }
    }
    return (PyObject *)self;
}

static int
election_traverse(ElectionObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->client);
    Py_VISIT(self->on_leader);
    Py_VISIT(self->on_lost);
    return 0;
}

/* Callbacks often refer to their election: dropping them breaks the
 * cycle. A callback running meanwhile holds a reference, so the collector
 * never clears an election in use. */
static int
election_clear(ElectionObject *self)
{
    self->listening = 0;
    Py_CLEAR(self->on_leader);
    Py_CLEAR(self->on_lost);
    return 0;
}

static void
election_dealloc(ElectionObject *self)
{
    PyObject_GC_UnTrack(self);
    self->listening = 0;
    zkrpy_guard_close(&self->guard);
    election_clear(self);
    Py_CLEAR(self->client);
    Py_CLEAR(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef election_methods[] = {
    {"join", (PyCFunction)(void (*)(void))election_join,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("join($self, /, timeout=None)\n--\n\n"
               "Take part: create our node and wait until it exists (not "
               "until we lead). True when joined; False when not done "
               "within timeout seconds (then we are not a candidate). "
               "Raises Busy when already a candidate. The constructor "
               "joins unless join=False.")},
    {"wait_leader", (PyCFunction)(void (*)(void))election_wait_leader,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("wait_leader($self, /, timeout=None)\n--\n\n"
               "Wait until this candidate leads: True, or False after "
               "timeout seconds (None: forever; 0: just check). The GIL "
               "is released while waiting. Raises NotHeld when not a "
               "candidate, Closed when closed meanwhile.")},
    {"resign", (PyCFunction)election_resign, METH_NOARGS,
     PyDoc_STR("resign($self, /)\n--\n\n"
               "Leave the election (our node is deleted; on_lost runs if "
               "we led). The next candidate leads. False if we were not a "
               "candidate. join() takes part again, at the end of the "
               "line.")},
    {"leader", (PyCFunction)election_leader, METH_NOARGS,
     PyDoc_STR("leader($self, /)\n--\n\n"
               "The id of the current leader, read from the server, or "
               "None when nobody takes part.")},
    {"participants", (PyCFunction)election_participants, METH_NOARGS,
     PyDoc_STR("participants($self, /)\n--\n\n"
               "The candidates in order, the leader first, as "
               "zkr.Participant(id, node, token, session_id, is_leader) "
               "tuples read from the server.")},
    {"close", (PyCFunction)election_close, METH_NOARGS,
     PyDoc_STR("close($self, /)\n--\n\n"
               "Resign (on_lost runs if we led, unless close() is called "
               "from one of this election's callbacks) and free; no "
               "callback runs after. Idempotent.")},
    {"__enter__", (PyCFunction)election_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)election_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef election_getset[] = {
    {"is_leader", (getter)election_get_is_leader, NULL,
     "True while this candidate leads and the connection is up (False "
     "while it is suspended: leadership is then uncertain).", NULL},
    {"token", (getter)election_get_token, NULL,
     "Fencing token of the current leadership (the czxid of our node, "
     "larger for every later leader), or None when not leading.", NULL},
    {"node", (getter)election_get_node, NULL,
     "Name of our node, or None.", NULL},
    {"path", (getter)election_get_path, NULL, "The election path.", NULL},
    {"closed", (getter)election_get_closed, NULL, "True after close().",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zkrpy_ElectionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.Election",
    .tp_basicsize = sizeof(ElectionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "Election(client, path, id=None, *, on_leader=None, on_lost=None, "
        "join=True, timeout=None)\n--\n\n"
        "A candidate in a leader election; usually made with "
        "client.Election(path). Nodes are `_c_<uuid>-latch-<seq>` under "
        "path holding the id (default 'host:pid'), the layout of "
        "Curator's LeaderLatch, so zkr, Curator and the zkr-elect command "
        "elect among themselves; the lowest sequence leads. The "
        "constructor joins (waiting at most timeout seconds, else "
        "Timeout) unless join=False.\n\n"
        "on_leader(token) runs when we become leader, with the fencing "
        "token; on_lost(code) once after each on_leader when leadership "
        "ends or becomes uncertain: ECONNLOSS (connection suspended: stop "
        "acting as leader now; it may come back), ESESSIONEXPIRED, "
        "ENONODE (our node was deleted; we rejoin), ECANCELED (resign or "
        "close), ECLOSED (client closed). They run on a ZooKeeper thread "
        "(or the thread calling resign() or close()), one at a time and "
        "in order, holding the GIL: keep them short; blocking zkr calls "
        "made there raise Deadlock. After a lost session the candidate "
        "rejoins by itself. A context manager that closes (resigns)."),
    .tp_new = election_new,
    .tp_dealloc = (destructor)election_dealloc,
    .tp_traverse = (traverseproc)election_traverse,
    .tp_clear = (inquiry)election_clear,
    .tp_repr = (reprfunc)election_repr,
    .tp_methods = election_methods,
    .tp_getset = election_getset,
};
