/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/error.h
 * @brief Error codes shared by every zkr module.
 *
 * Every zkr function that can fail returns an `int`: ZKR_OK (0) on success
 * or one of the negative codes below. Codes mirrored from ZooKeeper keep the
 * ZooKeeper C client's values, so `ZKR_ENONODE == ZNONODE`; zkr's own codes
 * start at -1000.
 */
#ifndef ZKR_ERROR_H
#define ZKR_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(ZKR_BUILDING)
#define ZKR_EXTERN __attribute__((visibility("default")))
#else
#define ZKR_EXTERN
#endif

/* X(name, value, text). One table produces the enum, zkr_strerror and
 * zkr_err_name so they can never disagree. */
#define ZKR_ERRNO_MAP(X)                                                    \
    X(OK, 0, "success")                                                     \
    X(ESYSTEM, -1, "ZooKeeper system error")                                \
    X(EINCONSISTENT, -2, "ZooKeeper runtime inconsistency")                 \
    X(EDATAINCONSISTENT, -3, "ZooKeeper data inconsistency")                \
    X(ECONNLOSS, -4, "connection to the server lost")                       \
    X(EMARSHALLING, -5, "marshalling error")                                \
    X(EUNIMPLEMENTED, -6, "operation not implemented by the server")        \
    X(EOPTIMEOUT, -7, "ZooKeeper operation timed out")                      \
    X(EBADARGUMENTS, -8, "ZooKeeper rejected the arguments")                \
    X(EINVALIDSTATE, -9, "ZooKeeper handle in an unusable state")           \
    X(ENONODE, -101, "node does not exist")                                 \
    X(ENOAUTH, -102, "not authorised")                                      \
    X(EBADVERSION, -103, "version conflict")                                \
    X(ENOCHILDRENFOREPHEMERALS, -108, "ephemeral nodes cannot have children")\
    X(ENODEEXISTS, -110, "node already exists")                             \
    X(ENOTEMPTY, -111, "node has children")                                 \
    X(ESESSIONEXPIRED, -112, "session expired")                             \
    X(EINVALIDACL, -114, "invalid ACL")                                     \
    X(EAUTHFAILED, -115, "authentication failed")                           \
    X(ECLOSING, -116, "ZooKeeper handle is closing")                        \
    X(ESESSIONMOVED, -118, "session moved to another server")               \
    X(ENOTREADONLY, -119, "write sent to a read-only server")               \
    X(ENOWATCHER, -121, "no such watcher")                                  \
    X(ETHROTTLED, -127, "operation throttled by the server; retry")        \
    X(EINVAL, -1000, "invalid argument")                                    \
    X(ENOMEM, -1001, "out of memory")                                       \
    X(ECANCELED, -1002, "operation canceled")                               \
    X(ELOCKLOST, -1003, "lock lost (session suspended or expired)")         \
    X(EDEADLK, -1004, "blocking call from a ZooKeeper callback thread")     \
    X(ETIMEDOUT, -1005, "timed out")                                        \
    X(ECONNECT, -1006, "cannot connect to ZooKeeper")                       \
    X(EBADPATH, -1007, "malformed znode path")                              \
    X(ETOOBIG, -1008, "data larger than the server accepts")                \
    X(ECLOSED, -1009, "client or object already closed")                    \
    X(EBUSY, -1010, "operation already in progress")                        \
    X(ENOTHELD, -1011, "not held by this handle")                           \
    X(EWOULDBLOCK, -1012, "held by another; not waiting")                   \
    X(EHOSTS, -1013, "malformed connect string")                            \
    X(ESYS, -1014, "operating system error")                                \
    X(EUNKNOWN, -1015, "unknown ZooKeeper error")

typedef enum {
#define ZKR__ERRNO_ENUM(name, value, text) ZKR_##name = (value),
    ZKR_ERRNO_MAP(ZKR__ERRNO_ENUM)
#undef ZKR__ERRNO_ENUM
} zkr_errno_t;

/**
 * Human-readable text for an error code.
 * @return a static string, never NULL ("unknown error" for unknown codes).
 * Ownership: static storage, do not free.
 * Thread safety: safe from any thread.
 */
ZKR_EXTERN const char *zkr_strerror(int code);

/**
 * Symbolic name of an error code without the ZKR_ prefix ("ENONODE").
 * @return a static string, never NULL ("EUNKNOWN" for unknown codes).
 * Ownership: static storage. Thread safety: safe from any thread.
 */
ZKR_EXTERN const char *zkr_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif
