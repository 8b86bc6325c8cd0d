/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/zkr.h
 * @brief The zkr client layer: session, connection states, plain znode
 *        operations and the helpers every recipe shares.
 *
 * A zkr_client_t owns one ZooKeeper session at a time. When the server
 * expires that session the client opens a new one by itself and tells its
 * listeners (ZKR_STATE_LOST, then ZKR_STATE_CONNECTED).
 *
 * Threading: libzookeeper_mt delivers every completion and watch on one
 * completion thread per session. Listener and recipe callbacks run there
 * (LOST decided by the client's own timer comes from the client's manager
 * thread; cancellations during zkr_client_free from the freeing thread) and
 * must be short. Blocking zkr calls made from any of these callbacks return
 * ZKR_EDEADLK.
 */
#ifndef ZKR_ZKR_H
#define ZKR_ZKR_H

#include <stddef.h>
#include <stdint.h>

#include <zkr/error.h>
#include <zkr/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque client handle. */
typedef struct zkr_client zkr_client_t;

/** Connection states reported to listeners. */
typedef enum {
    ZKR_STATE_CONNECTED = 1,   /**< a session (first or new) is established */
    ZKR_STATE_SUSPENDED = 2,   /**< connection lost; the session may live */
    ZKR_STATE_RECONNECTED = 3, /**< the same session is connected again */
    ZKR_STATE_LOST = 4,        /**< the session is gone (expired, or
                                    suspended longer than its timeout) */
    ZKR_STATE_AUTH_FAILED = 5, /**< the server refused our credentials */
    ZKR_STATE_CLOSED = 6       /**< zkr_client_free was called */
} zkr_state_t;

/** Log levels for zkr_client_opts_t.log_level. */
typedef enum {
    ZKR_LOG_NONE = 0,
    ZKR_LOG_ERROR = 1,
    ZKR_LOG_WARN = 2,
    ZKR_LOG_INFO = 3,
    ZKR_LOG_DEBUG = 4
} zkr_log_level_t;

/** Default ACL for nodes created by recipes and zkr_create. */
typedef enum {
    ZKR_ACL_OPEN = 0,        /**< world:anyone, all permissions (default) */
    ZKR_ACL_CREATOR_ALL = 1, /**< auth:, all permissions for our identity
                                  (needs digest credentials) */
    ZKR_ACL_READ_ONLY = 2    /**< world:anyone, read only */
} zkr_acl_t;

/** Create flags for zkr_create. */
enum {
    ZKR_PERSISTENT = 0,
    ZKR_EPHEMERAL = 1,
    ZKR_SEQUENTIAL = 2,
    ZKR_CONTAINER = 4
};

/** Largest data accepted by a default server (jute.maxbuffer, 1 MiB),
 *  less room for the request header and path. */
#define ZKR_MAX_DATA ((size_t)1048576 - 1024)

/** Node metadata (ZooKeeper's Stat). */
typedef struct {
    int64_t czxid;          /**< zxid of the create; the fencing token */
    int64_t mzxid;          /**< zxid of the last change */
    int64_t ctime;          /**< create time, ms since the epoch */
    int64_t mtime;          /**< last change time, ms since the epoch */
    int32_t version;        /**< data version */
    int32_t cversion;       /**< children version */
    int32_t aversion;       /**< ACL version */
    int64_t ephemeral_owner; /**< owning session id, 0 if persistent */
    int32_t data_length;
    int32_t num_children;
    int64_t pzxid;
} zkr_stat_t;

/**
 * Log sink. @p msg is borrowed for the duration of the call.
 * Called from any zkr or ZooKeeper thread; must not block.
 */
typedef void (*zkr_log_fn)(void *ctx, zkr_log_level_t level, const char *msg);

/**
 * Connection-state listener. Runs on the completion thread (or on the thread
 * calling zkr_client_free for ZKR_STATE_CLOSED); must not block.
 */
typedef void (*zkr_state_cb)(zkr_client_t *client, zkr_state_t state,
                             void *ctx);

/** Client options; fill with zkr_client_opts_init(). Strings are copied. */
typedef struct {
    const char *hosts;          /**< "host:port,host:port"; default
                                     $ZKR_HOSTS, then "127.0.0.1:2181" */
    int session_timeout_ms;     /**< requested session timeout (10000) */
    int connect_timeout_ms;     /**< zkr_client_new waits this long (10000) */
    const char *chroot;         /**< optional namespace, e.g. "/app" */
    zkr_acl_t acl;              /**< ACL for nodes we create (OPEN) */
    const char *digest;         /**< "user:password" for digest auth, or NULL */
    zkr_log_fn log_fn;          /**< NULL: the library stays silent */
    void *log_ctx;
    zkr_log_level_t log_level;  /**< messages above it are dropped (WARN) */
    int lost_after_suspend;     /**< 1 (default): report LOST and open a new
                                     session when SUSPENDED outlasts the
                                     session timeout, without waiting to
                                     hear it from a server */
    int resolve_interval_ms;    /**< re-resolve the names in hosts at most
                                     this often while connected (60000);
                                     -1: only after a connection is lost;
                                     0: before every poll of the socket
                                     (libzookeeper_mt's own default, a
                                     name lookup per network event) */
} zkr_client_opts_t;

/**
 * Fill @p opts with defaults. Accepts NULL (does nothing).
 * Ownership: the strings it sets are static or come from getenv(); they are
 * borrowed and must not be freed.
 * Thread safety: safe from any thread (reads $ZKR_HOSTS).
 */
ZKR_EXTERN void zkr_client_opts_init(zkr_client_opts_t *opts);

/**
 * Open a session and wait until it is connected.
 * @param opts  options, or NULL for defaults. Copied.
 * @param out   receives the client; set to NULL on failure.
 * @return ZKR_OK; ZKR_EINVAL (NULL out, bad timeout, resolve_interval_ms
 *         below -1, digest without ':',
 *         an acl outside zkr_acl_t, ZKR_ACL_CREATOR_ALL without a digest);
 *         ZKR_EHOSTS (malformed
 *         connect string); ZKR_EBADPATH (bad chroot); ZKR_ECONNECT (no server
 *         answered within connect_timeout_ms); ZKR_EAUTHFAILED; ZKR_ENOMEM;
 *         ZKR_EDEADLK (called from a ZooKeeper callback).
 * Ownership: free the client with zkr_client_free().
 * Thread safety: safe from any thread but the completion thread.
 */
ZKR_EXTERN int zkr_client_new(const zkr_client_opts_t *opts,
                              zkr_client_t **out);

/**
 * Close the session and release the client. Recipe objects made from the
 * client stay valid until freed: their pending callbacks run once with
 * ZKR_ECANCELED and later calls return ZKR_ECLOSED. Accepts NULL.
 * Must not be called from a zkr callback (it joins the completion thread);
 * if it is, the close is handed to a background thread.
 * Ownership: the client is invalid once this returns (or, from a callback,
 * once that callback returns).
 * Thread safety: call once, when no other thread uses the client.
 */
ZKR_EXTERN void zkr_client_free(zkr_client_t *client);

/**
 * Register a connection-state listener. Listeners hear state changes from
 * now on (not the current state), then ZKR_STATE_CLOSED on free.
 * @return ZKR_OK; ZKR_EINVAL (NULL client or cb); ZKR_ENOMEM.
 * Ownership: @p ctx is borrowed; keep it valid until the listener is removed
 * or the client is freed.
 * Thread safety: safe from any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_client_add_listener(zkr_client_t *client, zkr_state_cb cb,
                                       void *ctx);

/**
 * Remove a listener added with the same cb and ctx. When it returns the
 * listener is not running and will not run again, unless called from that
 * listener itself.
 * @return ZKR_OK; ZKR_EINVAL (NULL client or cb); ZKR_ENONODE (no such
 *         listener).
 * Ownership: nothing is kept or returned; @p ctx is only compared.
 * Thread safety: safe from any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_client_remove_listener(zkr_client_t *client,
                                          zkr_state_cb cb, void *ctx);

/** @return the current state; ZKR_STATE_CLOSED for NULL.
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN zkr_state_t zkr_client_state(const zkr_client_t *client);

/** @return the current session id (0 when none, e.g. after LOST until
 *  the next session, or for NULL).
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int64_t zkr_client_session_id(const zkr_client_t *client);

/** @return the number of sessions this client has opened (1 after
 *  zkr_client_new; grows after each LOST; 0 for NULL).
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN unsigned zkr_client_session_count(const zkr_client_t *client);

/**
 * The server the client is connected to, as "host:port", written into @p buf.
 * @return ZKR_OK; ZKR_EINVAL (NULL or too small buffer); ZKR_ECONNLOSS (not
 *         connected now).
 * Ownership: @p buf is the caller's.
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_client_server(zkr_client_t *client, char *buf, size_t len);

/** @return the negotiated session timeout in ms (0 before the first
 *  connection, or for NULL).
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int zkr_client_session_timeout(const zkr_client_t *client);

/**
 * Make the server expire this client's current session, for fault testing:
 * a second connection attaches to the session and closes it (meanwhile the
 * client is kept from reconnecting, so it cannot take the session back).
 * Returns once the client has seen its session end; listeners then see LOST
 * and a new session is opened.
 * @return ZKR_OK; ZKR_EINVAL (NULL client); ZKR_ECLOSED (no session now,
 *         e.g. after LOST until the next one); ZKR_ECONNECT (no server
 *         took the second connection, or the session survived three
 *         attempts); ZKR_EDEADLK.
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread (it blocks).
 */
ZKR_EXTERN int zkr_client_expire_session(zkr_client_t *client);

/**
 * Wait until the client is connected (CONNECTED or RECONNECTED).
 * @param timeout_ms -1 waits forever.
 * @return ZKR_OK; ZKR_ETIMEDOUT; ZKR_ECLOSED (zkr_client_free has
 *         begun); ZKR_EAUTHFAILED (the server refused our credentials);
 *         ZKR_EDEADLK; ZKR_EINVAL (NULL client).
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_client_wait_connected(zkr_client_t *client,
                                         int timeout_ms);

/**
 * Wait until the server has answered every request this client sent before
 * the call, such as the deletes of lock releases, which do not wait for
 * their replies. One round trip: the session answers requests in order.
 * @return ZKR_OK; ZKR_ETIMEDOUT; ZKR_ECONNLOSS; ZKR_ESESSIONEXPIRED (also
 *         when no session is open: after LOST until the next one);
 *         ZKR_ECLOSED; ZKR_EDEADLK; ZKR_EINVAL (NULL client); ZKR_ENOMEM.
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_client_flush(zkr_client_t *client, int timeout_ms);

/* ---- plain znode operations (blocking) -------------------------------- */
/* Each returns ZKR_OK or: ZKR_EINVAL (NULL client/out), ZKR_EBADPATH,
 * ZKR_ETOOBIG, ZKR_ENONODE, ZKR_ENODEEXISTS, ZKR_EBADVERSION, ZKR_ENOTEMPTY,
 * ZKR_ENOAUTH, ZKR_ECONNLOSS, ZKR_ESESSIONEXPIRED, ZKR_ECLOSED, ZKR_EDEADLK
 * (called on the completion thread), ZKR_ENOMEM, as they apply; rarely
 * ZKR_ECLOSING (sent while SUSPENDED, still pending when the client gave
 * that session up: its fate is unknown, as with ZKR_ECONNLOSS). Read-only
 * operations and zkr_ensure_path are retried on connection loss while the
 * session lives (at most five attempts, with a growing pause); other writes
 * are not (a write may have been applied). Ownership: inputs are copied or
 * only read during the call; returned memory is the caller's, freed as each
 * function says. Thread safety: any thread but the completion thread.
 * Paths are relative to the client's chroot. */

/**
 * Create a node. @p flags: ZKR_EPHEMERAL, ZKR_SEQUENTIAL, ZKR_CONTAINER.
 * @param created if not NULL, receives the created path (with sequence
 *        suffix). Ownership: free it with zkr_free().
 * Its own codes: ZKR_ENODEEXISTS (also for "/"), ZKR_ENONODE (the parent
 * is missing), ZKR_ENOCHILDRENFOREPHEMERALS (the parent is ephemeral),
 * ZKR_EINVAL also for data NULL with len > 0.
 */
ZKR_EXTERN int zkr_create(zkr_client_t *client, const char *path,
                          const void *data, size_t len, int flags,
                          char **created);

/** Delete a node; @p version -1 matches any. Its own codes: ZKR_ENONODE,
 *  ZKR_EBADVERSION, ZKR_ENOTEMPTY (the node has children). */
ZKR_EXTERN int zkr_delete(zkr_client_t *client, const char *path,
                          int version);

/** Stat a node: ZKR_OK if it exists, ZKR_ENONODE if not. @p stat may be
 *  NULL. */
ZKR_EXTERN int zkr_exists(zkr_client_t *client, const char *path,
                          zkr_stat_t *stat);

/**
 * Read a node's data. @p data receives a NUL-terminated copy (the NUL is
 * not counted in @p len); free it with zkr_free(). @p len and @p stat may
 * be NULL. Its own codes: ZKR_ENONODE; ZKR_EINVAL also for NULL data.
 */
ZKR_EXTERN int zkr_get(zkr_client_t *client, const char *path, char **data,
                       size_t *len, zkr_stat_t *stat);

/** Write a node's data if its version is @p version (-1: any). @p stat may
 *  be NULL. Its own codes: ZKR_ENONODE, ZKR_EBADVERSION; ZKR_EINVAL also
 *  for data NULL with len > 0. */
ZKR_EXTERN int zkr_set(zkr_client_t *client, const char *path,
                       const void *data, size_t len, int version,
                       zkr_stat_t *stat);

/**
 * List children (names, not paths), in the server's order.
 * @param names receives an array of @p count strings; free it with
 *        zkr_strings_free(names, count).
 * Its own codes: ZKR_ENONODE; ZKR_EINVAL also for NULL names or count.
 */
ZKR_EXTERN int zkr_children(zkr_client_t *client, const char *path,
                            char ***names, int *count);

/** Create @p path and any missing parents as persistent nodes; succeeds if
 *  it exists already. Its own code: ZKR_ENOCHILDRENFOREPHEMERALS (a prefix
 *  is an ephemeral node). */
ZKR_EXTERN int zkr_ensure_path(zkr_client_t *client, const char *path);

/** Delete @p path and everything below it, child by child (not atomic:
 *  on an error part of it may be gone); ZKR_OK if it did not exist. For
 *  "/" only the children go. Its own codes: none beyond the list above
 *  (ZKR_ENONODE and ZKR_ENOTEMPTY from racing clients are handled). */
ZKR_EXTERN int zkr_delete_recursive(zkr_client_t *client, const char *path);

/* ---- helpers ----------------------------------------------------------- */

/**
 * Check a znode path: absolute, no empty, "." or ".." components, no
 * trailing slash (except "/"), no control characters, under 4096 bytes.
 * @return ZKR_OK or ZKR_EBADPATH (ZKR_EINVAL for NULL).
 * Ownership: @p path is only read.
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_path_validate(const char *path);

/**
 * Join a parent path and a child name ("/a" + "b" -> "/a/b").
 * @return ZKR_OK; ZKR_EINVAL; ZKR_EBADPATH; ZKR_ENOMEM.
 * Ownership: *out is freed with zkr_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_path_join(const char *parent, const char *child,
                             char **out);

/**
 * Parse the 10-digit sequence suffix of a sequential node's name. The
 * server's counter is a signed 32-bit number and wraps to negative after
 * 2147483647; zkr orders by this number, not by text.
 * @return ZKR_OK or ZKR_EINVAL (NULL argument, or no valid suffix).
 * Ownership: @p name is only read; *seq is the caller's.
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_seq_parse(const char *name, int32_t *seq);

/** Free memory returned by zkr. Accepts NULL. Thread safety: any thread. */
ZKR_EXTERN void zkr_free(void *p);

/** Free an array returned by zkr_children. Accepts NULL. Thread safety: any
 *  thread. */
ZKR_EXTERN void zkr_strings_free(char **names, int count);

/** @return the name of a state ("CONNECTED"); never NULL ("UNKNOWN" for
 *  values outside zkr_state_t). Ownership: static storage, do not free.
 *  Thread safety: any thread. */
ZKR_EXTERN const char *zkr_state_name(zkr_state_t state);

#ifdef __cplusplus
}
#endif
#endif
