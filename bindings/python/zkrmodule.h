/* SPDX-License-Identifier: Apache-2.0 */
/* Declarations shared by the files of the zkr Python extension. */
#ifndef ZKRPY_MODULE_H
#define ZKRPY_MODULE_H

/* Python.h first: it sets feature macros the C library headers depend on. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>

#include <zkr/lock.h>
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
extern PyObject *zkrpy_State; /* the zkr.State IntEnum */

/* ---- errors ------------------------------------------------------------- */

/* Raise the exception class mapped to @code. @context (a path, may be NULL)
 * is added to the message. Always returns NULL. */
PyObject *zkrpy_raise(int code, const char *context);

/* ---- handle guard ----------------------------------------------------------
 * Counts the threads inside zkr calls on one native handle so that close()
 * from another thread never frees the handle under them: the free is left to
 * the last thread that leaves. Every field is protected by the GIL. */
typedef struct zkrpy_guard {
    void *handle;                            /* NULL once freed */
    int busy;                                /* threads inside a call */
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
 * operation succeeded just before the cancel and must be undone). */
int zkrpy_wait(zkrpy_waiter_t *w, int timeout_ms, int (*cancel)(void *),
               void *handle, int *interrupted);

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

/* ---- client helpers --------------------------------------------------------
 * Enter the guard of a zkr.Client and return its native handle, or NULL with
 * an exception set (TypeError, zkr.Closed). Leave with zkrpy_client_leave. */
zkr_client_t *zkrpy_client_enter(PyObject *client);
void zkrpy_client_leave(PyObject *client);
/* 1 once close() was called on a zkr.Client. */
int zkrpy_client_closed(PyObject *client);
/* Closes every open client (at interpreter exit). */
void zkrpy_close_all_clients(void);

/* The module's entry point. */
PyMODINIT_FUNC PyInit_zkr(void);

/* Builds a zkr.Stat from a native stat. */
PyObject *zkrpy_stat_new(const zkr_stat_t *st);

#endif
