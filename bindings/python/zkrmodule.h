/* SPDX-License-Identifier: Apache-2.0 */
/* Declarations shared by the files of the zkr Python extension. */
#ifndef ZKRPY_MODULE_H
#define ZKRPY_MODULE_H

/* Python.h first: it sets feature macros the C library headers depend on. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>

#include <zkr/config.h>
#include <zkr/election.h>
#include <zkr/lock.h>
#include <zkr/queue.h>
#include <zkr/registry.h>
#include <zkr/rwlock.h>
#include <zkr/semaphore.h>
#include <zkr/zkr.h>

/* CPython's slot and method signatures carry arguments (closure, unused
 * args, visitproc context) that many implementations do not need. */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif

/* ---- module-wide objects (created once by PyInit_zkr) ------------------- */

extern PyTypeObject zkrpy_ErrorType;
extern PyTypeObject zkrpy_ClientType;
extern PyTypeObject zkrpy_LockType;
extern PyTypeObject zkrpy_RWLockType;
extern PyTypeObject zkrpy_SemaphoreType;
extern PyTypeObject zkrpy_StatType;
extern PyTypeObject zkrpy_QueueType;
extern PyTypeObject zkrpy_LeaseType;
extern PyTypeObject zkrpy_ElectionType;
extern PyTypeObject zkrpy_ParticipantType; /* a struct sequence */
extern PyStructSequence_Desc zkrpy_participant_desc;
extern PyTypeObject zkrpy_ConfigType;
extern PyTypeObject zkrpy_RegistrationType;
extern PyTypeObject zkrpy_DiscoveryType;
extern PyTypeObject zkrpy_InstanceType;
extern PyObject *zkrpy_State; /* the zkr.State IntEnum */

/* ---- errors ------------------------------------------------------------- */

/* Returned by helpers instead of a zkr status when a Python exception is
 * set (from a signal handler, MemoryError, zkr.Closed). */
#define ZKRPY_RAISED 1

/* Raise the exception class mapped to @code. @context (a path, may be NULL)
 * is added to the message. ZKRPY_RAISED leaves the pending exception as it
 * is, so any status a helper returned can be passed. Always returns NULL. */
PyObject *zkrpy_raise(int code, const char *context);
/* zkrpy_raise with a str (or NULL) as the context; "?" stands for a str
 * that cannot be encoded. */
PyObject *zkrpy_raise_at(int code, PyObject *where);

/* The usual results of methods, raising other statuses at @where:
 * - wait_result: True for ZKR_OK, False for ZKR_ETIMEDOUT (wait, join,
 *   acquire);
 * - held_result: True for ZKR_OK, False for ZKR_ENOTHELD (cancel, resign). */
PyObject *zkrpy_wait_result(int rc, PyObject *where);
PyObject *zkrpy_held_result(int rc, PyObject *where);

/* ---- handle guard ----------------------------------------------------------
 * Counts the threads inside zkr calls on one native handle so that close()
 * from another thread never frees the handle under them: the free is left to
 * the last thread that leaves. Every field is protected by the GIL. */
typedef struct zkrpy_guard {
    void *handle;                            /* NULL once freed */
    int busy;                                /* threads inside a call */
    int in_cb;                               /* callbacks of the handle
                                                running Python code */
    int closing;                             /* close() was called */
    void (*free_fn)(void *handle, void *owner); /* runs without the GIL */
    void *owner;
} zkrpy_guard_t;

/* 0, or -1 with zkr.Closed raised when the handle is closed. */
int zkrpy_guard_enter(zkrpy_guard_t *g);
/* Leaves; frees the handle (GIL released) when it is closing and idle. */
void zkrpy_guard_leave(zkrpy_guard_t *g);
/* Marks the handle closing and frees it now if idle. Returns 1 if the
 * handle was open before the call, 0 if it was closed already. */
int zkrpy_guard_close(zkrpy_guard_t *g);

/* 1 while the handle may be used: not freed, close() not called. */
static inline int
zkrpy_guard_open(const zkrpy_guard_t *g)
{
    return g->handle != NULL && !g->closing;
}

/* close() of an object owning a guarded handle; nothing when it is closed
 * already. Inside the guard, so that the free waits for this call: runs
 * first(handle) with the GIL released while callbacks still run, clears
 * *listening, marks the handle closing, runs wake(handle) with the GIL
 * released (to make calls pending in other threads return), and leaves;
 * the last thread out frees. listening, first and wake may be NULL. */
void zkrpy_guard_shutdown(zkrpy_guard_t *g, int *listening,
                          int (*first)(void *handle),
                          int (*wake)(void *handle));

/* Statement macros for the common call of one zkr function on a guarded
 * handle (g, a zkrpy_guard_t *). They are macros because the call is any
 * expression: h is declared as a void * naming the handle, and the call
 * runs with the GIL released, so it must not touch Python objects.
 *
 * ZKRPY_GUARDED: sets rc to expr evaluated inside the guard, or to
 * ZKRPY_RAISED (zkr.Closed raised) when the handle is closed. */
#define ZKRPY_GUARDED(g, rc, h, expr)                                       \
    do {                                                                    \
        zkrpy_guard_t *zkrpy_g_ = (g);                                      \
        void *h;                                                            \
                                                                            \
        if (zkrpy_guard_enter(zkrpy_g_) < 0) {                              \
            (rc) = ZKRPY_RAISED;                                            \
            break;                                                          \
        }                                                                   \
        h = zkrpy_g_->handle;                                               \
        (void)h;                                                            \
        Py_BEGIN_ALLOW_THREADS                                              \
        (rc) = (expr);                                                      \
        Py_END_ALLOW_THREADS                                                \
        zkrpy_guard_leave(zkrpy_g_);                                        \
    } while (0)

/* ZKRPY_IF_OPEN: runs the statement stmt inside the guard when the handle
 * is open; does nothing, raising nothing, when it is closed (properties
 * that read as empty on a closed object). */
#define ZKRPY_IF_OPEN(g, h, stmt)                                           \
    do {                                                                    \
        zkrpy_guard_t *zkrpy_g_ = (g);                                      \
                                                                            \
        if (zkrpy_guard_open(zkrpy_g_)) {                                   \
            void *h = zkrpy_g_->handle;                                     \
                                                                            \
            (void)zkrpy_guard_enter(zkrpy_g_); /* open: cannot fail */      \
            Py_BEGIN_ALLOW_THREADS                                          \
            stmt;                                                           \
            Py_END_ALLOW_THREADS                                            \
            zkrpy_guard_leave(zkrpy_g_);                                    \
        }                                                                   \
    } while (0)

/* ---- waiting ---------------------------------------------------------------
 * Completion of an _async call, signalled on the ZooKeeper completion thread
 * without touching Python. On the heap with two references, the waiting
 * thread's and the callback's: a daemon thread may be ended by the
 * interpreter's exit while its operation is pending, and the callback must
 * not then write into that thread's stack. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int status;
    int refs;
} zkrpy_waiter_t;

/* A waiter with both references, or NULL (MemoryError raised). */
zkrpy_waiter_t *zkrpy_waiter_new(void);
/* Drops one reference: the waiting thread's once it is done with the
 * waiter, and once more when the callback will never run. */
void zkrpy_waiter_unref(zkrpy_waiter_t *w);
/* The callback side: records the status and drops its reference. */
void zkrpy_waiter_signal(zkrpy_waiter_t *w, int status);

/* Waits (GIL released) for @w to complete or @timeout_ms (-1: forever) to
 * pass, waking now and then to run Python signal handlers. On timeout or a
 * pending exception from a handler it calls cancel(handle) and waits for the
 * completion, which runs exactly once. Returns the completion's status,
 * ZKR_ECANCELED turned into ZKR_ETIMEDOUT after a timeout; *interrupted is
 * set when an exception is pending (a status of ZKR_OK then means the
 * operation succeeded just before the cancel and must be undone). With a
 * NULL cancel it returns ZKR_ETIMEDOUT at once instead, leaving the
 * operation running (its callback drops the other reference). */
int zkrpy_wait(zkrpy_waiter_t *w, int timeout_ms, int (*cancel)(void *),
               void *handle, int *interrupted);

/* Calls fn(handle, ms, arg) with the GIL released, in slices of at most
 * 100 ms, until it returns anything but ZKR_ETIMEDOUT or @timeout_ms (-1:
 * forever) has passed; @timeout_ms 0 makes one call with 0. Between slices
 * it returns ZKR_ECLOSED once the guard is closing or @client (a
 * zkr.Client) is closed, and runs signal handlers (ZKRPY_RAISED with their
 * exception). fn must wait at most ms and leave nothing pending when it
 * times out: then a wait needs no cancel, which would reach other threads'
 * waits on the same handle too. Call inside the guard. */
int zkrpy_wait_sliced(zkrpy_guard_t *g, PyObject *client, int timeout_ms,
                      int (*fn)(void *handle, int ms, void *arg), void *arg);

/* zkrpy_wait_sliced inside the guard, refusing to wait (Deadlock raised at
 * @where) in a callback unless @timeout_ms is 0. Returns its status, or
 * ZKRPY_RAISED (also when closed); *closing tells whether close() was
 * called meanwhile. */
int zkrpy_wait_guarded(zkrpy_guard_t *g, PyObject *client, int timeout_ms,
                       int (*fn)(void *handle, int ms, void *arg), void *arg,
                       PyObject *where, int *closing);

/* Starts an _async call and waits for it with zkrpy_wait (same @timeout_ms,
 * @cancel, @handle, *interrupted). start(arg, w) runs with the GIL
 * released and returns the call's status; on ZKR_OK the call must end with
 * zkrpy_waiter_signal(w, status). Returns start's failure, the status
 * zkrpy_wait returns, or ZKRPY_RAISED (MemoryError). */
int zkrpy_async_wait(int (*start)(void *arg, zkrpy_waiter_t *w), void *arg,
                     int timeout_ms, int (*cancel)(void *), void *handle,
                     int *interrupted);

/* The status of a call made inside the guard of an object of @client, as
 * seen by its caller: ZKR_ECLOSED when close() was called meanwhile
 * (@closing) or the client was closed under a pending call (ZKR_ECANCELED),
 * else @rc. */
int zkrpy_closed_status(int rc, int closing, PyObject *client);

/* Node data: a bytes-like object, or None for no data (view->buf NULL).
 * Release with PyBuffer_Release. */
int zkrpy_get_data(PyObject *obj, Py_buffer *view);

/* bytes from zkr data (NULL: b''). */
PyObject *zkrpy_bytes(const void *data, size_t len);
/* (bytes, zkr.Stat) from a read; frees @data with zkr_free. */
PyObject *zkrpy_data_stat(char *data, size_t len, const zkr_stat_t *st);

/* A struct sequence of @type from its @n values, NULL when one of them is
 * NULL (an error is set). Steals every value. */
PyObject *zkrpy_struct_seq(PyTypeObject *type, PyObject **v, int n);

/* A number of seconds: 1 with *s set, 0 for None or NULL (*s untouched),
 * -1 with an exception set. */
int zkrpy_seconds(PyObject *obj, double *s);
/* Converts a timeout in seconds (None or -1: forever) into milliseconds. */
int zkrpy_timeout_ms(PyObject *obj, int *ms);
/* Parses the one argument timeout=None of a method (fmt: "|O:name") into
 * milliseconds. 0, or -1 with an exception set. */
int zkrpy_timeout_arg(PyObject *args, PyObject *kwds, const char *fmt,
                      int *ms);
/* "blocking" and "timeout" as Lock.acquire takes them: blocking=False
 * means 0 ms and refuses a timeout. */
int zkrpy_blocking_timeout(int blocking, PyObject *timeout, int *ms);

/* 0, or -1 with TypeError("<what> must be callable or None"). */
int zkrpy_check_callable(PyObject *fn, const char *what);

/* The acl=None argument of the recipes (opts.acl of zkr_lock_new,
 * zkr_rwlock_new, zkr_queue_new, zkr_election_new, zkr_registration_new*):
 * None (or NULL) sets *acl to NULL, the client's default; ACL_OPEN,
 * ACL_CREATOR_ALL or ACL_READ_ONLY is stored in *buf and *acl points to
 * it. Those calls read the value during the call only (copied), so @buf
 * may be a local of the caller. 0, or -1 with TypeError (not an int) or
 * InvalidArgument (EINVAL: any other int), as Client(acl=) raises. Whether
 * the client may use ACL_CREATOR_ALL (it needs a digest) is for the C call
 * to tell. */
int zkrpy_acl_arg(PyObject *obj, zkr_acl_t *buf, const zkr_acl_t **acl);

/* ---- callbacks into Python -------------------------------------------------
 * ZooKeeper threads call into Python only between callback_enter (which
 * returns 0 once the interpreter is shutting down) and callback_leave. */
int zkrpy_callback_enter(void);
void zkrpy_callback_leave(void);
/* 1 on a thread that is running a Python callback for zkr: blocking calls
 * there would wait for the thread itself. */
int zkrpy_in_callback(void);
void zkrpy_set_in_callback(int on);

/* Callbacks of recipe objects (Election, Config, Registration, Discovery).
 * The native handle gets the Python object itself as its ctx; it is alive
 * whenever the handle calls back, because
 * - the handle is freed (close() or deallocation) with the GIL released and
 *   its free waits for callbacks running on other threads;
 * - a running callback holds a reference, and counts itself in the guard's
 *   in_cb, which defers a close() made meanwhile;
 * - a handle is never freed from one of its own callbacks (some zkr
 *   handles deliver queued callbacks after such a free): when a callback
 *   would drop the last reference, or leaves a close() to finish, it hands
 *   both to the main thread with Py_AddPendingCall.
 *
 * zkrpy_cb_enter returns 1 with the GIL held, a reference to obj and the
 * callback counted (call the Python function, then zkrpy_cb_leave), or 0
 * when nothing may run: the interpreter is exiting, or *listening is 0
 * (cleared, under the GIL, by close() and deallocation). */
typedef struct {
    PyGILState_STATE gs;
    int prev_in_callback;
} zkrpy_cbstate_t;

int zkrpy_cb_enter(PyObject *obj, zkrpy_guard_t *g, const int *listening,
                   zkrpy_cbstate_t *st);
void zkrpy_cb_leave(PyObject *obj, zkrpy_guard_t *g, zkrpy_cbstate_t *st);
/* Calls fn(*args) (a NULL args: an error is pending already) and reports
 * an exception through sys.unraisablehook. Steals args. */
void zkrpy_cb_call(PyObject *fn, PyObject *args);

/* A str from a C string (UTF-8, undecodable bytes as surrogates), None
 * for NULL. */
PyObject *zkrpy_str_or_none(const char *s);

/* ---- objects owning a guarded handle ---------------------------------------
 * Config, Election, Registration, Discovery, Queue, Semaphore and RWLock
 * begin with this head as their first member, so that a pointer to the
 * object is a pointer to its head: the methods, getters and slots below
 * serve all of them. */
typedef struct {
    PyObject_HEAD
    PyObject *client;       /* zkr.Client: keeps the session alive */
    zkrpy_guard_t guard;    /* the native handle */
    PyObject *path;         /* str, or NULL until known */
    PyObject *callback;     /* what the native callbacks call, or NULL */
    int listening;          /* the native callbacks may call into Python */
    /* What close() runs besides the free (see zkrpy_guard_shutdown), or
     * NULL: close_first before marking the handle closing, close_wake
     * after. */
    int (*close_first)(void *handle);
    int (*close_wake)(void *handle);
} zkrpy_obj_t;

/* A new object of @type (whose struct begins with a zkrpy_obj_t) with a
 * reference to @client and @path as a str (NULL: none yet), or NULL. */
PyObject *zkrpy_obj_alloc(PyTypeObject *type, PyObject *client,
                          const char *path);
/* zkrpy_obj_alloc, then the guard takes @handle (freed with free_fn). On
 * failure frees @handle itself (GIL released) and returns NULL. */
PyObject *zkrpy_obj_adopt(PyTypeObject *type, PyObject *client,
                          const char *path, void *handle,
                          void (*free_fn)(void *handle, void *owner));
/* The end of a constructor: @self when @rc is ZKR_OK, else NULL after
 * raising @rc at the object's path and dropping @self. */
PyObject *zkrpy_obj_or_raise(PyObject *self, int rc);
/* The body of a native callback that calls one Python function: *fn (read
 * under the GIL; nothing runs when it is NULL) with the arguments
 * Py_BuildValue(fmt, ...) makes; see zkrpy_cb_enter. */
void zkrpy_obj_notify(zkrpy_obj_t *o, PyObject *const *fn, const char *fmt,
                      ...);

/* close(), and __exit__ (which closes), __enter__ (Closed when closed). */
PyObject *zkrpy_obj_close(PyObject *self, PyObject *unused);
PyObject *zkrpy_obj_exit(PyObject *self, PyObject *args);
PyObject *zkrpy_obj_enter(PyObject *self, PyObject *unused);
/* The path and closed properties. */
PyObject *zkrpy_obj_get_path(PyObject *self, void *closure);
PyObject *zkrpy_obj_get_closed(PyObject *self, void *closure);
/* "<type path='...'>", with " closed" once closed. */
PyObject *zkrpy_obj_repr(PyObject *self);
/* tp_traverse visiting the client and the callback; types with more
 * references call it too. */
int zkrpy_obj_traverse(PyObject *self, visitproc visit, void *arg);
/* tp_clear: stops the callbacks and drops the callback, which often refers
 * to the object. A callback running meanwhile holds a reference, so the
 * collector never clears an object in use. */
int zkrpy_obj_clear(PyObject *self);
/* tp_dealloc: stops the callbacks, frees the handle, then runs the type's
 * tp_clear, if any, and drops the client and the path. */
void zkrpy_obj_dealloc(PyObject *self);

/* ---- client helpers --------------------------------------------------------
 * Enter the guard of a zkr.Client and return its native handle, or NULL with
 * an exception set (TypeError, zkr.Closed). Leave with zkrpy_client_leave. */
zkr_client_t *zkrpy_client_enter(PyObject *client);
void zkrpy_client_leave(PyObject *client);
/* The node data @data (see zkrpy_get_data) in *view, then
 * zkrpy_client_enter: NULL, holding nothing, on failure. Leave with
 * zkrpy_client_leave_data, which also releases the data. */
zkr_client_t *zkrpy_client_enter_data(PyObject *client, PyObject *data,
                                      Py_buffer *view);
void zkrpy_client_leave_data(PyObject *client, Py_buffer *view);
/* 1 once close() was called on a zkr.Client. */
int zkrpy_client_closed(PyObject *client);
/* client.Queue(...) and friends: calls type(client, *args, **kwds). */
PyObject *zkrpy_make_with_client(PyObject *client, PyTypeObject *type,
                                 PyObject *args, PyObject *kwds);
/* Closes every open client (at interpreter exit). */
void zkrpy_close_all_clients(void);
/** The module's _atexit: closes every client and waits for callbacks in
 *  flight; afterwards no ZooKeeper thread enters Python again. */
PyObject *zkrpy_module_atexit(PyObject *module, PyObject *unused);

/* The module's entry point. */
PyMODINIT_FUNC PyInit_zkr(void);

/* Builds a zkr.Stat from a native stat. */
PyObject *zkrpy_stat_new(const zkr_stat_t *st);

/* client.push_config (config.c). */
PyObject *zkrpy_push_config(PyObject *client, PyObject *args, PyObject *kwds);
/* client.register_service, register_dubbo, discover, discover_dubbo
 * (registry.c). */
PyObject *zkrpy_register_service(PyObject *client, PyObject *args,
                                 PyObject *kwds);
PyObject *zkrpy_register_dubbo(PyObject *client, PyObject *args,
                               PyObject *kwds);
PyObject *zkrpy_discover(PyObject *client, PyObject *args, PyObject *kwds);
PyObject *zkrpy_discover_dubbo(PyObject *client, PyObject *args,
                               PyObject *kwds);
/* Module-level functions of registry.c. */
PyObject *zkrpy_dubbo_provider_url(PyObject *module, PyObject *args,
                                   PyObject *kwds);
PyObject *zkrpy_dubbo_consumer_url(PyObject *module, PyObject *args,
                                   PyObject *kwds);

#endif
