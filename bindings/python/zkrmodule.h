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

/* Raise the exception class mapped to @code. @context (a path, may be NULL)
 * is added to the message. Always returns NULL. */
PyObject *zkrpy_raise(int code, const char *context);

/* Returned by helpers instead of a zkr status when a Python exception is
 * set (from a signal handler, MemoryError, zkr.Closed). */
#define ZKRPY_RAISED 1

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

/* Node data: a bytes-like object, or None for no data (view->buf NULL).
 * Release with PyBuffer_Release. */
int zkrpy_get_data(PyObject *obj, Py_buffer *view);

/* Converts a timeout in seconds (None or -1: forever) into milliseconds. */
int zkrpy_timeout_ms(PyObject *obj, int *ms);

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

/* ---- client helpers --------------------------------------------------------
 * Enter the guard of a zkr.Client and return its native handle, or NULL with
 * an exception set (TypeError, zkr.Closed). Leave with zkrpy_client_leave. */
zkr_client_t *zkrpy_client_enter(PyObject *client);
void zkrpy_client_leave(PyObject *client);
/* 1 once close() was called on a zkr.Client. */
int zkrpy_client_closed(PyObject *client);
/* client.Queue(...) and friends: calls type(client, *args, **kwds). */
PyObject *zkrpy_make_with_client(PyObject *client, PyTypeObject *type,
                                 PyObject *args, PyObject *kwds);
/* Closes every open client (at interpreter exit). */
void zkrpy_close_all_clients(void);

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
