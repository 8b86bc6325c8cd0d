/* SPDX-License-Identifier: Apache-2.0 */
/* zkr.Queue (a distributed FIFO queue) and zkr.Lease (an at-least-once
 * hold on one of its items). */
#include "zkrmodule.h"

#include <limits.h>

typedef struct {
    zkrpy_obj_t base;       /* handle: zkr_queue_t * */
    int shards;
    int prefetch;
} QueueObject;

typedef struct {
    PyObject_HEAD
    PyObject *queue;            /* the zkr.Queue it was taken from */
    zkr_queue_lease_t *lease;   /* NULL once acked or nacked */
    PyObject *data;             /* bytes */
    PyObject *name;             /* str: the item's node name */
} LeaseObject;

static void
queue_free_native(void *handle, void *owner)
{
    zkr_queue_free(handle);
}

static int
cancel_queue(void *handle)
{
    return zkr_queue_cancel(handle);
}

/* ---- take ------------------------------------------------------------------
 * A waiting take runs as takes of at most 100 ms each (zkrpy_wait_sliced):
 * zkr_queue_cancel would end the takes of every thread using this queue,
 * while a timed-out zkr_queue_take withdraws its own request only, and
 * keeps an item claimed for it meanwhile for the next take. */

/* take() and take_lease(): parses (blocking, timeout) with fmt, waits with
 * slice(handle, ms, out), and returns what result(self, out) makes of a
 * take (called inside the guard), or None when nothing came in time. */
static PyObject *
take_common(QueueObject *self, PyObject *args, PyObject *kwds,
            const char *fmt, int (*slice)(void *handle, int ms, void *out),
            void *out, PyObject *(*result)(QueueObject *self, void *out))
{
    static char *kwlist[] = {"blocking", "timeout", NULL};
    zkrpy_guard_t *g = &self->base.guard;
    int blocking = 1, ms, rc, closing;
    PyObject *timeout = Py_None, *r = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &blocking,
                                     &timeout) ||
        zkrpy_blocking_timeout(blocking, timeout, &ms) < 0) {
        return NULL;
    }
    if (ms != 0 && zkrpy_in_callback()) {
        return zkrpy_raise_at(ZKR_EDEADLK, self->base.path);
    }
    if (zkrpy_guard_enter(g) < 0) {
        return NULL;
    }
    rc = zkrpy_wait_sliced(g, self->base.client, ms, slice, out);
    if (rc == ZKR_OK) {
        r = result(self, out);
    }
    closing = g->closing;
    zkrpy_guard_leave(g);
    if (rc == ZKR_OK) {
        return r; /* taken before a close(): it is the caller's */
    }
    if (rc == ZKR_ETIMEDOUT || rc == ZKR_EWOULDBLOCK) {
        Py_RETURN_NONE;
    }
    return zkrpy_raise_at(zkrpy_closed_status(rc, closing, self->base.client),
                          self->base.path);
}

typedef struct {
    char *data;
    size_t len;
} take_out_t;

static int
take_slice(void *handle, int ms, void *arg)
{
    take_out_t *o = arg;

    return zkr_queue_take(handle, ms, &o->data, &o->len);
}

static PyObject *
take_result(QueueObject *self, void *arg)
{
    take_out_t *o = arg;
    PyObject *r = zkrpy_bytes(o->data, o->len);

    if (r == NULL) {
        /* The item is ours alone: give it back rather than lose it. */
        zkr_queue_t *q = self->base.guard.handle;

        Py_BEGIN_ALLOW_THREADS
        zkr_queue_put(q, o->data, o->len);
        Py_END_ALLOW_THREADS
    }
    zkr_free(o->data);
    return r;
}

static PyObject *
queue_take(QueueObject *self, PyObject *args, PyObject *kwds)
{
    take_out_t o = {NULL, 0};

    return take_common(self, args, kwds, "|pO:take", take_slice, &o,
                       take_result);
}

static int
lease_slice(void *handle, int ms, void *arg)
{
    return zkr_queue_take_lease(handle, ms, arg);
}

static PyObject *lease_new(QueueObject *queue, zkr_queue_lease_t *l);

/* A lease outlives its queue handle. */
static PyObject *
lease_result(QueueObject *self, void *arg)
{
    return lease_new(self, *(zkr_queue_lease_t **)arg);
}

static PyObject *
queue_take_lease(QueueObject *self, PyObject *args, PyObject *kwds)
{
    zkr_queue_lease_t *l = NULL;

    return take_common(self, args, kwds, "|pO:take_lease", lease_slice, &l,
                       lease_result);
}

/* ---- put, peek, size ------------------------------------------------------ */

static PyObject *
queue_put(QueueObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"data", NULL};
    PyObject *obj;
    Py_buffer view;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:put", kwlist, &obj)) {
        return NULL;
    }
    if (obj == Py_None) {
        PyErr_SetString(PyExc_TypeError, "a queue item must be bytes-like");
        return NULL;
    }
    if (zkrpy_get_data(obj, &view) < 0) {
        return NULL;
    }
    ZKRPY_GUARDED(&self->base.guard, rc, q,
                  zkr_queue_put(q, view.buf, (size_t)view.len));
    PyBuffer_Release(&view);
    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->base.path);
    }
    Py_RETURN_NONE;
}

static PyObject *
queue_put_batch(QueueObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"items", NULL};
    PyObject *obj, *seq;
    Py_buffer *views = NULL;
    const void **bufs = NULL;
    size_t *lens = NULL;
    Py_ssize_t n, got = 0;
    int rc = ZKR_OK;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:put_batch", kwlist,
                                     &obj)) {
        return NULL;
    }
    seq = PySequence_Fast(obj, "put_batch expects a sequence of items");
    if (seq == NULL) {
        return NULL;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    if (n == 0) {
        Py_DECREF(seq);
        Py_RETURN_NONE;
    }
    if (n > INT_MAX) {
        Py_DECREF(seq);
        return zkrpy_raise_at(ZKR_ETOOBIG, self->base.path);
    }
    views = PyMem_Calloc((size_t)n, sizeof *views);
    bufs = PyMem_Calloc((size_t)n, sizeof *bufs);
    lens = PyMem_Calloc((size_t)n, sizeof *lens);
    if (views == NULL || bufs == NULL || lens == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; got < n; got++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, got);

        if (item == Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "a queue item must be bytes-like");
            goto done;
        }
        if (zkrpy_get_data(item, &views[got]) < 0) {
            goto done;
        }
        /* A NULL pointer marks a bad item for zkr: b"" is not one. */
        bufs[got] = views[got].buf != NULL ? views[got].buf : "";
        lens[got] = (size_t)views[got].len;
    }
    ZKRPY_GUARDED(&self->base.guard, rc, q,
                  zkr_queue_put_batch(q, bufs, lens, (int)n));
    if (rc != ZKR_OK) {
        zkrpy_raise_at(rc, self->base.path);
    }
done:
    for (Py_ssize_t i = 0; i < got; i++) {
        PyBuffer_Release(&views[i]);
    }
    PyMem_Free(views);
    PyMem_Free(bufs);
    PyMem_Free(lens);
    Py_DECREF(seq);
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
queue_peek(QueueObject *self, PyObject *unused)
{
    char *data = NULL;
    size_t len = 0;
    PyObject *r;
    int rc;

    ZKRPY_GUARDED(&self->base.guard, rc, q, zkr_queue_peek(q, &data, &len));
    if (rc == ZKR_ENONODE) {
        Py_RETURN_NONE;
    }
    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->base.path);
    }
    r = zkrpy_bytes(data, len);
    zkr_free(data);
    return r;
}

/* Returns the count, or -1 with an exception set. */
static Py_ssize_t
queue_count(QueueObject *self)
{
    size_t n = 0;
    int rc;

    ZKRPY_GUARDED(&self->base.guard, rc, q, zkr_queue_size(q, &n));
    if (rc != ZKR_OK) {
        zkrpy_raise_at(rc, self->base.path);
        return -1;
    }
    return (Py_ssize_t)n;
}

static PyObject *
queue_size(QueueObject *self, PyObject *unused)
{
    Py_ssize_t n = queue_count(self);

    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static Py_ssize_t
queue_len(PyObject *self)
{
    return queue_count((QueueObject *)self);
}

static PyObject *
queue_cancel(QueueObject *self, PyObject *unused)
{
    int rc;

    ZKRPY_GUARDED(&self->base.guard, rc, q, zkr_queue_cancel(q));
    return zkrpy_held_result(rc, self->base.path);
}

static PyObject *
queue_get_shards(QueueObject *self, void *closure)
{
    return PyLong_FromLong(self->shards);
}

static PyObject *
queue_repr(QueueObject *self)
{
    return PyUnicode_FromFormat(
        "<zkr.Queue path=%R shards=%d%s>", self->base.path, self->shards,
        zkrpy_guard_open(&self->base.guard) ? "" : " closed");
}

static PyObject *
queue_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"client", "path", "shards", "prefetch", "acl",
                             NULL};
    PyObject *client, *acl_arg = Py_None;
    const char *path;
    int shards = 0, prefetch = 0, rc;
    zkr_acl_t acl; /* o.acl may point here: zkr_queue_new copies it */
    zkr_queue_opts_t o;
    zkr_queue_t *q = NULL;
    zkr_client_t *zc;
    QueueObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Os|ii$O:Queue", kwlist,
                                     &client, &path, &shards, &prefetch,
                                     &acl_arg)) {
        return NULL;
    }
    zkr_queue_opts_init(&o);
    if (zkrpy_acl_arg(acl_arg, &acl, &o.acl) < 0) {
        return NULL;
    }
    zc = zkrpy_client_enter(client);
    if (zc == NULL) {
        return NULL;
    }
    o.shards = shards;
    o.prefetch = prefetch;
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_queue_new(zc, path, &o, &q);
    Py_END_ALLOW_THREADS
    zkrpy_client_leave(client);
    if (rc != ZKR_OK) {
        return zkrpy_raise(rc, path);
    }
    self = (QueueObject *)zkrpy_obj_adopt(type, client, path, q,
                                          queue_free_native);
    if (self != NULL) {
        /* close() cancels the takes pending in other threads; the last
         * thread out frees. */
        self->base.close_wake = cancel_queue;
        self->shards = shards;
        self->prefetch = prefetch;
    }
    return (PyObject *)self;
}

static PyMethodDef queue_methods[] = {
    {"put", (PyCFunction)(void (*)(void))queue_put,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("put($self, /, data)\n--\n\n"
               "Append one item (bytes-like, up to MAX_DATA). Items put "
               "through one Queue object land in call order. Raises "
               "ConnectionLost when the outcome is unknown.")},
    {"put_batch", (PyCFunction)(void (*)(void))queue_put_batch,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("put_batch($self, /, items)\n--\n\n"
               "Append a sequence of items atomically (all or none, in "
               "order) in one multi; the batch must fit in MAX_DATA in "
               "all (about 64 bytes more per item). An empty sequence "
               "does nothing.")},
    {"take", (PyCFunction)(void (*)(void))queue_take,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("take($self, /, blocking=True, timeout=None)\n--\n\n"
               "Remove and return the oldest item (bytes), waiting at most "
               "timeout seconds (None: forever) for one to arrive. Returns "
               "None when nothing arrived in time (or at once, with "
               "blocking=False): test with `is None`, an item may be b''. "
               "The GIL is released while waiting; Ctrl-C interrupts. Each "
               "item goes to exactly one take; it is gone from ZooKeeper "
               "once taken (see take_lease for at-least-once).")},
    {"take_lease", (PyCFunction)(void (*)(void))queue_take_lease,
     METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("take_lease($self, /, blocking=True, timeout=None)\n--\n\n"
               "Lease the oldest item nobody holds a lease on: a zkr.Lease, "
               "or None as take() does. The item stays in the queue, "
               "hidden from other lease takers, until lease.ack() "
               "removes it or lease.nack() (or the end of this session) "
               "gives it back. Consume a queue with take() or with leases, "
               "not both.")},
    {"peek", (PyCFunction)queue_peek, METH_NOARGS,
     PyDoc_STR("peek($self, /)\n--\n\n"
               "The oldest item (bytes) without taking it, or None when "
               "the queue is empty. Leased items count.")},
    {"size", (PyCFunction)queue_size, METH_NOARGS,
     PyDoc_STR("size($self, /)\n--\n\n"
               "The number of items now (leased ones included); one read "
               "of the server, also behind len(queue).")},
    {"cancel", (PyCFunction)queue_cancel, METH_NOARGS,
     PyDoc_STR("cancel($self, /)\n--\n\n"
               "Make every take pending on this object, in other threads, "
               "raise Canceled; False if none was pending.")},
    {"close", zkrpy_obj_close, METH_NOARGS,
     PyDoc_STR("close($self, /)\n--\n\n"
               "Cancel pending takes (they raise Closed) and free the "
               "queue; items claimed ahead (prefetch) go back to the "
               "tail. Leases taken before stay valid. Idempotent.")},
    {"__enter__", zkrpy_obj_enter, METH_NOARGS, NULL},
    {"__exit__", zkrpy_obj_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef queue_getset[] = {
    {"path", zkrpy_obj_get_path, NULL, "The queue path.", NULL},
    {"shards", (getter)queue_get_shards, NULL,
     "Number of shards (0: a plain queue).", NULL},
    {"closed", zkrpy_obj_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods queue_as_sequence = {
    .sq_length = queue_len,
};

PyTypeObject zkrpy_QueueType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.Queue",
    .tp_basicsize = sizeof(QueueObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "Queue(client, path, shards=0, prefetch=0, *, acl=None)\n--\n\n"
        "A distributed FIFO queue; usually made with client.Queue(path). "
        "Items are PERSISTENT_SEQUENTIAL nodes `qn-<seq>` under path, the "
        "layout of Curator's SimpleDistributedQueue, so Java, C (the "
        "zkr-queue command) and Python producers and consumers share a "
        "queue. shards > 0 spreads items over that many buckets for very "
        "large queues (every client of the path must use sharded mode); "
        "prefetch claims that many items ahead of the takes. acl "
        "(ACL_OPEN, ACL_CREATOR_ALL or ACL_READ_ONLY) is the ACL of the "
        "nodes this object creates: items, shards, leases, claim markers "
        "and missing parents; None takes the client's acl. "
        "ACL_CREATOR_ALL needs a client with a digest (else "
        "InvalidArgument). The object may be shared by threads; a context "
        "manager that closes it."),
    .tp_new = queue_new,
    .tp_dealloc = zkrpy_obj_dealloc,
    .tp_traverse = zkrpy_obj_traverse,
    .tp_repr = (reprfunc)queue_repr,
    .tp_methods = queue_methods,
    .tp_getset = queue_getset,
    .tp_as_sequence = &queue_as_sequence,
};

/* ---- Lease -------------------------------------------------------------- */

static PyObject *
lease_new(QueueObject *queue, zkr_queue_lease_t *l)
{
    LeaseObject *self = PyObject_GC_New(LeaseObject, &zkrpy_LeaseType);
    size_t len = 0;
    const void *data = zkr_queue_lease_data(l, &len);

    if (self != NULL) {
        self->lease = l;
        self->queue = Py_NewRef(queue);
        self->data = zkrpy_bytes(data, len);
        self->name = zkrpy_str_or_none(zkr_queue_lease_name(l));
        PyObject_GC_Track(self);
        if (self->data == NULL || self->name == NULL) {
            Py_DECREF(self); /* gives the item back */
            return NULL;
        }
        return (PyObject *)self;
    }
    Py_BEGIN_ALLOW_THREADS
    zkr_queue_nack(l);
    Py_END_ALLOW_THREADS
    return NULL;
}

/* Returns the zkr status of the ack, or ZKRPY_RAISED. */
static int
lease_ack_impl(LeaseObject *self)
{
    zkr_queue_lease_t *l = self->lease;
    int rc;

    if (l == NULL) {
        zkrpy_raise_at(ZKR_ENOTHELD, self->name);
        return ZKRPY_RAISED;
    }
    if (zkrpy_in_callback()) {
        zkrpy_raise_at(ZKR_EDEADLK, self->name);
        return ZKRPY_RAISED;
    }
    /* Taken first: another thread acking at once finds nothing. */
    self->lease = NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = zkr_queue_ack(l);
    Py_END_ALLOW_THREADS
    if (rc == ZKR_EDEADLK || rc == ZKR_EINVAL) {
        self->lease = l; /* not consumed */
    }
    return rc;
}

static PyObject *
lease_ack(LeaseObject *self, PyObject *unused)
{
    int rc = lease_ack_impl(self);

    if (rc == ZKRPY_RAISED) {
        return NULL;
    }
    if (rc != ZKR_OK) {
        return zkrpy_raise_at(rc, self->name);
    }
    Py_RETURN_NONE;
}

static void
lease_nack_impl(LeaseObject *self)
{
    zkr_queue_lease_t *l = self->lease;

    self->lease = NULL;
    /* ZKR_ELOCKLOST: the lease ended with its session, which gave the item
     * back as well. */
    Py_BEGIN_ALLOW_THREADS
    zkr_queue_nack(l);
    Py_END_ALLOW_THREADS
}

static PyObject *
lease_nack(LeaseObject *self, PyObject *unused)
{
    if (self->lease == NULL) {
        return zkrpy_raise_at(ZKR_ENOTHELD, self->name);
    }
    lease_nack_impl(self);
    Py_RETURN_NONE;
}

static PyObject *
lease_enter(LeaseObject *self, PyObject *unused)
{
    if (self->lease == NULL) {
        return zkrpy_raise_at(ZKR_ENOTHELD, self->name);
    }
    return Py_NewRef(self);
}

/* Acks when the block succeeded, nacks when it raised; a lease ended in
 * the block already is left alone. */
static PyObject *
lease_exit(LeaseObject *self, PyObject *args)
{
    PyObject *et = PyTuple_GET_SIZE(args) > 0 ? PyTuple_GET_ITEM(args, 0)
                                              : Py_None;

    if (self->lease != NULL) {
        if (et == Py_None) {
            PyObject *r = lease_ack(self, NULL);

            if (r == NULL) {
                return NULL;
            }
            Py_DECREF(r);
        }
        else {
            lease_nack_impl(self);
        }
    }
    Py_RETURN_FALSE;
}

static PyObject *
lease_get_data(LeaseObject *self, void *closure)
{
    return Py_NewRef(self->data);
}

static PyObject *
lease_get_name(LeaseObject *self, void *closure)
{
    return Py_NewRef(self->name);
}

static PyObject *
lease_get_queue(LeaseObject *self, void *closure)
{
    return Py_NewRef(self->queue);
}

static PyObject *
lease_get_done(LeaseObject *self, void *closure)
{
    return PyBool_FromLong(self->lease == NULL);
}

static PyObject *
lease_repr(LeaseObject *self)
{
    return PyUnicode_FromFormat("<zkr.Lease %U%s>", self->name,
                                self->lease == NULL ? " done" : "");
}

static int
lease_traverse(LeaseObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->queue);
    return 0;
}

static void
lease_dealloc(LeaseObject *self)
{
    PyObject_GC_UnTrack(self);
    if (self->lease != NULL) {
        lease_nack_impl(self);
    }
    Py_CLEAR(self->queue);
    Py_CLEAR(self->data);
    Py_CLEAR(self->name);
    PyObject_GC_Del(self);
}

static PyMethodDef lease_methods[] = {
    {"ack", (PyCFunction)lease_ack, METH_NOARGS,
     PyDoc_STR("ack($self, /)\n--\n\n"
               "Done with the item: delete it and the lease in one multi. "
               "Raises SessionExpired if the lease ended with its session "
               "first (the item is delivered again), NoNode if somebody "
               "else removed the item, ConnectionLost if the outcome is "
               "unknown, NotHeld if the lease has ended already.")},
    {"nack", (PyCFunction)lease_nack, METH_NOARGS,
     PyDoc_STR("nack($self, /)\n--\n\n"
               "Give the item back: it stays in its place in the queue and "
               "is leased again. Does not wait. Raises NotHeld if the "
               "lease has ended already.")},
    {"__enter__", (PyCFunction)lease_enter, METH_NOARGS,
     PyDoc_STR("Returns the lease; leaving the block acks, leaving it "
               "with an exception nacks.")},
    {"__exit__", (PyCFunction)lease_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef lease_getset[] = {
    {"data", (getter)lease_get_data, NULL, "The item's bytes.", NULL},
    {"name", (getter)lease_get_name, NULL,
     "The item's node name, e.g. 'qn-0000000042'.", NULL},
    {"queue", (getter)lease_get_queue, NULL, "The zkr.Queue.", NULL},
    {"done", (getter)lease_get_done, NULL,
     "True once acked or nacked.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zkrpy_LeaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "zkr.Lease",
    .tp_basicsize = sizeof(LeaseObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = PyDoc_STR(
        "A lease on one queue item, from Queue.take_lease(): the item is "
        "processed at least once. `with lease:` acks when the block "
        "succeeds and nacks when it raises; a lease garbage collected "
        "unended is nacked. One thread per lease."),
    .tp_dealloc = (destructor)lease_dealloc,
    .tp_traverse = (traverseproc)lease_traverse,
    .tp_repr = (reprfunc)lease_repr,
    .tp_methods = lease_methods,
    .tp_getset = lease_getset,
};
