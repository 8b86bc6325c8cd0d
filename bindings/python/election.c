/* SPDX-License-Identifier: Apache-2.0 */
/* zkr.Election: one candidate in a leader election (Curator's LeaderLatch
 * layout), with leader / lost callbacks and a fencing token. */
#include "zkrmodule.h"

typedef struct {
    zkrpy_obj_t base;       /* handle: zkr_election_t * */
    PyObject *on_leader;    /* callable or NULL */
    PyObject *on_lost;      /* callable or NULL */
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

static int
resign_native(void *handle)
{
    return zkr_election_resign(handle);
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

    zkrpy_obj_notify(&self->base, &self->on_leader, "(L)", (long long)token);
}

static void
on_lost_cb(zkr_election_t *e, int status, void *ctx)
{
    ElectionObject *self = ctx;

    zkrpy_obj_notify(&self->base, &self->on_lost, "(i)", status);
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

static int
start_join(void *e, zkrpy_waiter_t *w)
{
    return zkr_election_join_async(e, join_done, w);
}

/* Returns the zkr status (ZKR_ETIMEDOUT: not joined in time, and not a
 * candidate; ZKR_ECLOSED: closed meanwhile), or ZKRPY_RAISED. */
static int
join_impl(ElectionObject *self, int timeout_ms)
{
    zkrpy_guard_t *g = &self->base.guard;
    join_cancel_t jc;
    int rc, interrupted, closing;

    if (zkrpy_in_callback()) {
        zkrpy_raise_at(ZKR_EDEADLK, self->base.path);
        return ZKRPY_RAISED;
    }
    if (zkrpy_guard_enter(g) < 0) {
        return ZKRPY_RAISED;
    }
    jc.e = g->handle;
    jc.canceled = 0;
    rc = zkrpy_async_wait(start_join, jc.e, timeout_ms, cancel_join, &jc,
                          &interrupted);
    closing = g->closing;
    zkrpy_guard_leave(g);
    if (interrupted) {
        return ZKRPY_RAISED;
    }
    if (jc.canceled &&
        (rc == ZKR_OK || rc == ZKR_ECANCELED || rc == ZKR_ETIMEDOUT)) {
        return ZKR_ETIMEDOUT;
    }
    return zkrpy_closed_status(rc, closing, self->base.client);
}

static PyObject *
election_join(ElectionObject *self, PyObject *args, PyObject *kwds)
{
    int ms;

    if (zkrpy_timeout_arg(args, kwds, "|O:join", &ms) < 0) {
        return NULL;
    }
    return zkrpy_wait_result(join_impl(self, ms), self->base.path);
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
    int ms, rc, closing;

    if (zkrpy_timeout_arg(args, kwds, "|O:wait_leader", &ms) < 0) {
        return NULL;
    }
    rc = zkrpy_wait_guarded(&self->base.guard, self->base.client, ms,
                            await_slice, NULL, self->base.path, &closing);
    /* close() from another thread resigns: that is no NotHeld. */
    if (closing && rc != ZKR_OK && rc != ZKR_ETIMEDOUT &&
        rc != ZKRPY_RAISED) {
        rc = ZKR_ECLOSED;
    }
    return zkrpy_wait_result(rc, self->base.path);
}

/* ---- other methods ---------------------------------------------------- */

static PyObject *
election_resign(ElectionObject *self, PyObject *unused)
{
    int rc;

    /* on_lost may run on this thread meanwhile, taking the GIL. */
    ZKRPY_GUARDED(&self->base.guard, rc, e, zkr_election_resign(e));
    return zkrpy_held_result(rc, self->base.path);
}

static PyObject *
election_leader(ElectionObject *self, PyObject *unused)
{
    char *id = NULL;
    PyObject *r;
    int rc;

    ZKRPY_GUARDED(&self->base.guard, rc, e, zkr_election_leader(e, &id));
    if (rc == ZKR_ENONODE) {
        Py_RETURN_NONE;
    }
    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->base.path);
    }
    r = zkrpy_str_or_none(id);
    zkr_free(id);
    return r;
}

static PyObject *
participant_new(const zkr_election_participant_t *p)
{
    PyObject *v[5];

    v[0] = zkrpy_str_or_none(p->id);
    v[1] = zkrpy_str_or_none(p->node);
    v[2] = PyLong_FromLongLong(p->czxid);
    v[3] = PyLong_FromLongLong(p->owner);
    v[4] = PyBool_FromLong(p->is_leader);
    return zkrpy_struct_seq(&zkrpy_ParticipantType, v, 5);
}

static PyObject *
election_participants(ElectionObject *self, PyObject *unused)
{
    zkr_election_participant_t *p = NULL;
    int n = 0, rc;
    PyObject *list;

    ZKRPY_GUARDED(&self->base.guard, rc, e,
                  zkr_election_participants(e, &p, &n));
    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->base.path);
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

/* ---- properties ------------------------------------------------------- */

static PyObject *
election_get_is_leader(ElectionObject *self, void *closure)
{
    int v = 0;

    ZKRPY_IF_OPEN(&self->base.guard, e, v = zkr_election_is_leader(e));
    return PyBool_FromLong(v);
}

static PyObject *
election_get_token(ElectionObject *self, void *closure)
{
    int64_t t = 0;

    ZKRPY_IF_OPEN(&self->base.guard, e, t = zkr_election_token(e));
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

    ZKRPY_IF_OPEN(&self->base.guard, e,
                  rc = zkr_election_node(e, buf, sizeof buf));
    if (rc != ZKR_OK) {
        Py_RETURN_NONE;
    }
    return zkrpy_str_or_none(buf);
}

static PyObject *
election_repr(ElectionObject *self)
{
    PyObject *lead = election_get_is_leader(self, NULL), *r;

    if (lead == NULL) {
        return NULL;
    }
    r = PyUnicode_FromFormat("<zkr.Election path=%R leader=%s%s>",
                             self->base.path,
                             lead == Py_True ? "True" : "False",
                             zkrpy_guard_open(&self->base.guard) ? ""
                                                                 : " closed");
    Py_DECREF(lead);
    return r;
}

/* ---- construction ----------------------------------------------------- */

static PyObject *
election_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"client",  "path", "id",      "on_leader",
                             "on_lost", "join", "timeout", "acl", NULL};
    PyObject *client, *on_leader = Py_None, *on_lost = Py_None;
    PyObject *timeout = Py_None, *acl_arg = Py_None;
    zkr_acl_t acl; /* o.acl may point here: zkr_election_new copies it */
    const char *path, *id = NULL;
    Py_ssize_t id_len = 0;
    int join = 1, ms, rc;
    zkr_election_opts_t o;
    zkr_election_t *e = NULL;
    zkr_client_t *zc;
    ElectionObject *self;

    zkr_election_opts_init(&o);
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Os|z#$OOpOO:Election",
                                     kwlist, &client, &path, &id, &id_len,
                                     &on_leader, &on_lost, &join,
                                     &timeout, &acl_arg) ||
        zkrpy_timeout_ms(timeout, &ms) < 0 ||
        zkrpy_check_callable(on_leader, "on_leader") < 0 ||
        zkrpy_check_callable(on_lost, "on_lost") < 0 ||
        zkrpy_acl_arg(acl_arg, &acl, &o.acl) < 0) {
        return NULL;
    }
    if (id != NULL && (size_t)id_len != strlen(id)) {
        PyErr_SetString(PyExc_ValueError, "id must not contain NUL");
        return NULL;
    }
    self = (ElectionObject *)zkrpy_obj_alloc(type, client, path);
    if (self == NULL) {
        return NULL;
    }
    /* Resigned first, still listening: on_lost reports the end of a
     * leadership, as after resign(). */
    self->base.close_first = resign_native;
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
    o.id = id;
    o.on_leader = on_leader_cb;
    o.on_lost = on_lost_cb;
    o.ctx = self;
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_election_new(zc, path, &o, &e);
    Py_END_ALLOW_THREADS
    zkrpy_client_leave(client);
    if (rc == ZKR_OK) {
        self->base.guard.handle = e;
        self->base.guard.free_fn = election_free_native;
        self->base.listening = 1;
        if (join) {
            rc = join_impl(self, ms);
        }
    }
    return zkrpy_obj_or_raise((PyObject *)self, rc);
}

static int
election_traverse(ElectionObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->on_leader);
    Py_VISIT(self->on_lost);
    return zkrpy_obj_traverse((PyObject *)self, visit, arg);
}

/* Callbacks often refer to their election: dropping them breaks the
 * cycle. A callback running meanwhile holds a reference, so the collector
 * never clears an election in use. */
static int
election_clear(ElectionObject *self)
{
    self->base.listening = 0;
    Py_CLEAR(self->on_leader);
    Py_CLEAR(self->on_lost);
    return 0;
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
    {"close", zkrpy_obj_close, METH_NOARGS,
     PyDoc_STR("close($self, /)\n--\n\n"
               "Resign (on_lost runs if we led, unless close() is called "
               "from one of this election's callbacks) and free; no "
               "callback runs after. Idempotent.")},
    {"__enter__", zkrpy_obj_enter, METH_NOARGS, NULL},
    {"__exit__", zkrpy_obj_exit, METH_VARARGS, NULL},
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
    {"path", zkrpy_obj_get_path, NULL, "The election path.", NULL},
    {"closed", zkrpy_obj_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zkrpy_ElectionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.Election",
    .tp_basicsize = sizeof(ElectionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "Election(client, path, id=None, *, on_leader=None, on_lost=None, "
        "join=True, timeout=None, acl=None)\n--\n\n"
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
        "rejoins by itself. A context manager that closes (resigns).\n\n"
        "acl (ACL_OPEN, ACL_CREATOR_ALL or ACL_READ_ONLY) is the ACL of "
        "the nodes the candidate creates, its own and missing parents; "
        "None takes the client's acl. ACL_CREATOR_ALL needs a client with "
        "a digest (else InvalidArgument)."),
    .tp_new = election_new,
    .tp_dealloc = zkrpy_obj_dealloc,
    .tp_traverse = (traverseproc)election_traverse,
    .tp_clear = (inquiry)election_clear,
    .tp_repr = (reprfunc)election_repr,
    .tp_methods = election_methods,
    .tp_getset = election_getset,
};
