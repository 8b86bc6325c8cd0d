/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file zkr/registry.h
 * @brief Service registry: register service instances, discover the
 *        instances of a service through a watch-maintained cache, and pick
 *        one with a load-balancing policy. Two znode layouts, so C services
 *        meet Java services on either side:
 *
 * **Dubbo** (Apache Dubbo's ZooKeeper registry): a provider is the
 * EPHEMERAL node `/<group>/<interface>/providers/<encoded URL>` (group
 * "dubbo" by default), a consumer `/<group>/<interface>/consumers/<...>`.
 * The node name is the whole URL `protocol://host:port/path?k=v&...`
 * (parameters sorted by key) encoded with Java's URLEncoder rules; the
 * node data are unused. zkr_dubbo_url_t builds and parses such URLs.
 *
 * **Curator x-discovery** (Apache Curator's ServiceDiscovery): an instance
 * is `<base>/<service name>/<instance id>` holding ServiceInstance JSON
 * (zkr_service_instance_t); DYNAMIC instances are EPHEMERAL, STATIC and
 * PERMANENT ones persistent.
 *
 * A registration (zkr_registration_t) keeps its node in place for as long
 * as it lives: it re-creates an ephemeral node on every new session (and
 * when somebody deletes it), deleting a leftover node of an older session
 * first, as Dubbo and Curator do.
 *
 * A discovery cache (zkr_discovery_t) lists a directory with a children
 * watch, keeps the entries in a hash table keyed by node name (reading each
 * node's data with a data watch in the Curator layout), and calls a change
 * callback whenever the set of usable instances changes. Picking an
 * instance costs no request to ZooKeeper.
 *
 * Threading: every handle may be used from any thread. Callbacks run on the
 * ZooKeeper completion thread (state changes also on the client's manager
 * thread or the thread freeing the client) and must be short. Blocking
 * calls made from a callback return ZKR_EDEADLK.
 */
#ifndef ZKR_REGISTRY_H
#define ZKR_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <zkr/zkr.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================= */
/* Dubbo URLs                                                               */
/* ======================================================================= */

/** A Dubbo URL: protocol, optional user and password, host, port (0 when
 *  absent), path and parameters kept sorted by key. Opaque. */
typedef struct zkr_dubbo_url zkr_dubbo_url_t;

/** Default Dubbo registry root ("/" + Dubbo's default group). */
#define ZKR_DUBBO_ROOT "/dubbo"

/**
 * Make a URL without parameters.
 * @param protocol e.g. "dubbo"; letters, digits, '+', '-', '.'.
 * @param host     host name or address; no '/', '?', '@', '&', '#' or
 *                 spaces, and ':' only in a bracketed IPv6 address.
 * @param port     0..65535 (0: written without a port, like Dubbo).
 * @param path     service path such as "org.example.DemoService", or NULL /
 *                 "" for none; no '?', no leading '/'.
 * @return ZKR_OK; ZKR_EINVAL (NULL out, malformed part); ZKR_ENOMEM.
 * Ownership: free *out with zkr_dubbo_url_free().
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_dubbo_url_new(const char *protocol, const char *host,
                                 int port, const char *path,
                                 zkr_dubbo_url_t **out);

/**
 * A provider URL as Dubbo writes it: protocol "dubbo", path and parameter
 * "interface" = @p interface, and anyhost=false, dubbo=2.0.2, dynamic=true,
 * generic=false, pid, side=provider, timestamp (ms now). Add methods,
 * application, weight, ... with zkr_dubbo_url_set().
 * @return ZKR_OK; ZKR_EINVAL; ZKR_ENOMEM.
 * Ownership: free *out with zkr_dubbo_url_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_dubbo_url_provider(const char *host, int port,
                                      const char *interface,
                                      zkr_dubbo_url_t **out);

/**
 * A consumer URL as Dubbo writes it:
 * `consumer://HOST/INTERFACE?category=consumers&check=false&dubbo=2.0.2&
 * interface=INTERFACE&pid=..&side=consumer&timestamp=..`.
 * @return ZKR_OK; ZKR_EINVAL; ZKR_ENOMEM.
 * Ownership: free *out with zkr_dubbo_url_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_dubbo_url_consumer(const char *host, const char *interface,
                                      zkr_dubbo_url_t **out);

/**
 * Parse a plain (not percent-encoded) URL
 * `protocol://[user[:password]@]host[:port][/path][?k=v&k=v...]`.
 * Empty parameters are skipped, a parameter without '=' gets its key as
 * value (as in Dubbo), and a repeated key keeps its last value.
 * @return ZKR_OK; ZKR_EINVAL (NULL, no protocol, no host, bad port, ...);
 *         ZKR_ETOOBIG (over 1 MB); ZKR_ENOMEM.
 * Ownership: free *out with zkr_dubbo_url_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_dubbo_url_parse(const char *text, zkr_dubbo_url_t **out);

/**
 * Parse a registry node name: percent-decode it (Java URLDecoder rules),
 * then zkr_dubbo_url_parse().
 * @return as zkr_dubbo_url_parse(), and ZKR_EINVAL for a bad escape.
 * Ownership: free *out with zkr_dubbo_url_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_dubbo_url_from_node(const char *node,
                                       zkr_dubbo_url_t **out);

/** Deep copy. @return ZKR_OK; ZKR_EINVAL; ZKR_ENOMEM.
 *  Ownership: free *out with zkr_dubbo_url_free(). Thread safety: any
 *  thread (concurrent reads of @p u are fine). */
ZKR_EXTERN int zkr_dubbo_url_clone(const zkr_dubbo_url_t *u,
                                   zkr_dubbo_url_t **out);

/** Free a URL. Accepts NULL.
 *  Thread safety: not while another thread uses the URL. */
ZKR_EXTERN void zkr_dubbo_url_free(zkr_dubbo_url_t *u);

/**
 * Set parameter @p key to @p value (copied), replacing an old value; a NULL
 * value removes the key.
 * @param key   non-empty; no '&', '=', '?', '#', spaces or control chars.
 * @param value no '&' and no control characters (so the URL parses back).
 * @return ZKR_OK; ZKR_EINVAL; ZKR_ENONODE (removing a missing key);
 *         ZKR_ENOMEM.
 * Thread safety: not with other calls on the same URL.
 */
ZKR_EXTERN int zkr_dubbo_url_set(zkr_dubbo_url_t *u, const char *key,
                                 const char *value);

/** Set the user and password part (NULL removes it). Same character rules
 *  as the host, and no ':' in the user.
 *  @return ZKR_OK; ZKR_EINVAL (NULL u, a password without a user, a bad
 *  character); ZKR_ENOMEM (the URL is unchanged).
 *  Ownership: @p user and @p password are copied; strings returned before
 *  by zkr_dubbo_url_user() and zkr_dubbo_url_password() become invalid.
 *  Thread safety: as zkr_dubbo_url_set(). */
ZKR_EXTERN int zkr_dubbo_url_set_auth(zkr_dubbo_url_t *u, const char *user,
                                      const char *password);

/** @return the value of @p key, or NULL (no such key, NULL URL or key).
 *  Ownership: borrowed until the URL changes or is freed.
 *  Thread safety: concurrent reads are fine. */
ZKR_EXTERN const char *zkr_dubbo_url_get(const zkr_dubbo_url_t *u,
                                         const char *key);

/** Accessors. @return the part, NULL for a NULL URL (user, password and
 *  path may be NULL anyway); the port is 0 when absent or for NULL.
 *  Ownership: borrowed until the URL changes or is freed.
 *  Thread safety: concurrent reads are fine. */
ZKR_EXTERN const char *zkr_dubbo_url_protocol(const zkr_dubbo_url_t *u);
ZKR_EXTERN const char *zkr_dubbo_url_host(const zkr_dubbo_url_t *u);
ZKR_EXTERN int zkr_dubbo_url_port(const zkr_dubbo_url_t *u);
ZKR_EXTERN const char *zkr_dubbo_url_path(const zkr_dubbo_url_t *u);
ZKR_EXTERN const char *zkr_dubbo_url_user(const zkr_dubbo_url_t *u);
ZKR_EXTERN const char *zkr_dubbo_url_password(const zkr_dubbo_url_t *u);

/** @return the number of parameters (0 for NULL).
 *  Ownership: nothing is kept or returned.
 *  Thread safety: concurrent reads are fine. */
ZKR_EXTERN int zkr_dubbo_url_param_count(const zkr_dubbo_url_t *u);

/**
 * Parameter @p i in key order.
 * @return ZKR_OK; ZKR_EINVAL (NULL, index out of range).
 * Ownership: *key and *value are borrowed. Thread safety: reads only.
 */
ZKR_EXTERN int zkr_dubbo_url_param_at(const zkr_dubbo_url_t *u, int i,
                                      const char **key, const char **value);

/**
 * The full URL text (Dubbo's toFullString): parameters sorted by key,
 * nothing percent-encoded.
 * @return ZKR_OK; ZKR_EINVAL; ZKR_ENOMEM.
 * Ownership: free *out with zkr_free(). Thread safety: reads only.
 */
ZKR_EXTERN int zkr_dubbo_url_to_string(const zkr_dubbo_url_t *u, char **out);

/**
 * The registry node name: the full URL encoded with zkr_dubbo_encode().
 * @return ZKR_OK; ZKR_EINVAL; ZKR_ENOMEM.
 * Ownership: free *out with zkr_free(). Thread safety: reads only.
 */
ZKR_EXTERN int zkr_dubbo_url_node(const zkr_dubbo_url_t *u, char **out);

/**
 * The registry path of a URL: `<root>/<encoded interface>/<category>/
 * <node>`, where interface is the "interface" parameter (else the path)
 * and category the "category" parameter (else "providers").
 * @param root e.g. ZKR_DUBBO_ROOT; NULL means ZKR_DUBBO_ROOT.
 * @return ZKR_OK; ZKR_EINVAL (no interface); ZKR_EBADPATH (bad root, path
 *         over 4 KB); ZKR_ENOMEM.
 * Ownership: free *out with zkr_free(). Thread safety: reads only.
 */
ZKR_EXTERN int zkr_dubbo_url_registry_path(const char *root,
                                           const zkr_dubbo_url_t *u,
                                           char **out);

/**
 * A category directory `<root>/<encoded interface>/<category>`, e.g. the
 * providers of an interface, for zkr_discovery_new().
 * @param root NULL means ZKR_DUBBO_ROOT. @param category NULL means
 *        "providers".
 * @return ZKR_OK; ZKR_EINVAL; ZKR_EBADPATH; ZKR_ENOMEM.
 * Ownership: free *out with zkr_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_dubbo_dir(const char *root, const char *interface,
                             const char *category, char **out);

/**
 * Percent-encode @p len bytes as Java's URLEncoder does with UTF-8:
 * letters, digits and ". - * _" are kept, space becomes '+', every other
 * byte "%XX" with upper-case hex.
 * @return ZKR_OK; ZKR_EINVAL (NULL); ZKR_ETOOBIG (over 1 MB); ZKR_ENOMEM.
 * Ownership: free *out with zkr_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_dubbo_encode(const void *in, size_t len, char **out);

/**
 * Decode as Java's URLDecoder: '+' is a space, "%XX" (either case) a byte.
 * @param len if not NULL, receives the decoded length.
 * @return ZKR_OK; ZKR_EINVAL (NULL, '%' not followed by two hex digits,
 *         or "%00", which a C string cannot hold); ZKR_ETOOBIG; ZKR_ENOMEM.
 * Ownership: free *out (NUL-terminated) with zkr_free().
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_dubbo_decode(const char *in, char **out, size_t *len);

/* ======================================================================= */
/* Curator x-discovery ServiceInstance JSON                                 */
/* ======================================================================= */

/** Curator's ServiceType. */
typedef enum {
    ZKR_SERVICE_DYNAMIC = 0,           /**< ephemeral (the default) */
    ZKR_SERVICE_STATIC = 1,            /**< persistent, removed on free */
    ZKR_SERVICE_PERMANENT = 2,         /**< persistent, kept on free */
    ZKR_SERVICE_DYNAMIC_SEQUENTIAL = 3 /**< ephemeral sequential (parsed
                                            only; not registrable) */
} zkr_service_type_t;

/** Default base path of Curator service discovery in zkr. */
#define ZKR_DISCOVERY_BASE "/services"

/**
 * A Curator ServiceInstance. The JSON is written exactly as Curator 5.4's
 * default JsonInstanceSerializer does:
 * `{"name":..,"id":..,"address":..,"port":..,"sslPort":..,"payload":..,
 * "registrationTimeUTC":..,"serviceType":"DYNAMIC","uriSpec":..}`
 * (plus "enabled":false only for a disabled instance).
 */
typedef struct {
    const char *name;   /**< service name (required; one znode name) */
    const char *id;     /**< instance id (required; one znode name) */
    const char *address; /**< NULL writes null */
    int port;           /**< 0..65535, -1 writes null */
    int ssl_port;       /**< 0..65535, -1 writes null */
    const char *payload; /**< JSON text of the payload value; NULL writes
                              null. Java peers with a typed payload class
                              expect their own shape here. */
    int64_t registration_time_utc; /**< ms since the epoch; 0 = now when
                                        written by a registration */
    zkr_service_type_t service_type;
    const char *uri_spec; /**< template such as "{scheme}://{address}:
                               {port}", NULL writes null */
    int enabled;        /**< 1 (default) or 0 */
} zkr_service_instance_t;

/** Defaults: port -1, ssl_port -1, DYNAMIC, enabled, the rest NULL/0.
 *  Thread safety: any thread. */
ZKR_EXTERN void zkr_service_instance_init(zkr_service_instance_t *s);

/**
 * Serialize to JSON (UTF-8, no trailing newline).
 * @param len if not NULL, receives strlen(*json).
 * @return ZKR_OK; ZKR_EINVAL (NULL, missing name/id, name or id not a
 *         valid znode name, port out of range, payload not JSON, bad
 *         uri_spec template); ZKR_ETOOBIG (JSON over 1 MB); ZKR_ENOMEM.
 * Ownership: free *json with zkr_free(). Thread safety: any thread.
 */
ZKR_EXTERN int zkr_service_instance_to_json(const zkr_service_instance_t *s,
                                            char **json, size_t *len);

/**
 * Parse ServiceInstance JSON as Curator writes it. Unknown members are
 * ignored (as Curator does), duplicate members refused; "name" and "id"
 * must be strings; address,
 * port, sslPort, uriSpec may be null or missing; payload may be any JSON
 * value (kept as compact JSON text); serviceType defaults to DYNAMIC.
 * @return ZKR_OK; ZKR_EINVAL (NULL, malformed JSON, wrong member types,
 *         missing name/id, port out of range, unknown serviceType, a
 *         uriSpec part with a brace, duplicate members, nesting deeper
 *         than the parser allows); ZKR_ETOOBIG (over 1 MB);
 *         ZKR_ENOMEM.
 * Ownership: free *out with zkr_service_instance_free(); its strings live
 *         as long as it does.
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_service_instance_from_json(const char *json, size_t len,
                                              zkr_service_instance_t **out);

/** Free an instance returned by zkr_service_instance_from_json. Accepts
 *  NULL. Never pass a caller-built struct.
 *  Thread safety: not while another thread reads the instance. */
ZKR_EXTERN void zkr_service_instance_free(zkr_service_instance_t *s);

/** @return "DYNAMIC", "STATIC", "PERMANENT", "DYNAMIC_SEQUENTIAL", or "?"
 *  for an unknown value; never NULL. Ownership: static storage.
 *  Thread safety: any thread. */
ZKR_EXTERN const char *zkr_service_type_name(zkr_service_type_t t);

/* ======================================================================= */
/* Registrations                                                            */
/* ======================================================================= */

typedef struct zkr_registration zkr_registration_t;

/**
 * Registration callback. As the state callback of zkr_registration_opts_t
 * it runs on every change: ZKR_OK (the node exists on the current session:
 * first registration and every re-registration), ZKR_ESESSIONEXPIRED (the
 * session ended; the node will be re-created on the next session),
 * ZKR_ENONODE (somebody deleted the node; being re-created), or an error
 * that stops the registration until the next session (ZKR_ENOAUTH,
 * ZKR_ENODEEXISTS after repeated fights over the node, ...). It does not
 * run once zkr_registration_free has returned.
 * As the callback of zkr_registration_wait_async it runs exactly once.
 */
typedef void (*zkr_registration_cb)(zkr_registration_t *r, int status,
                                    void *ctx);

/** Registration options; fill with zkr_registration_opts_init(). */
typedef struct {
    int persistent;        /**< 0: EPHEMERAL node (default); 1: persistent */
    int keep_on_free;      /**< persistent only: leave the node when freed */
    int container_parents; /**< create missing parents as container nodes
                                (Curator) instead of persistent (Dubbo) */
    zkr_registration_cb on_state; /**< optional state callback */
    void *ctx;
    const zkr_acl_t *acl;  /**< ACL for the nodes this registration creates
                                (its own node and missing parents); NULL
                                (default): the client's
                                (zkr_client_opts_t.acl). The pointed-to
                                value is read during the _new call only
                                (copied). */
} zkr_registration_opts_t;

/** Defaults: ephemeral, persistent parents, no callback.
 *  Thread safety: any thread. */
ZKR_EXTERN void zkr_registration_opts_init(zkr_registration_opts_t *o);

/**
 * Register the node @p path with @p data, creating missing parents, and
 * keep it registered. Returns at once; wait with zkr_registration_wait().
 * @return ZKR_OK; ZKR_EINVAL (NULL client/out, data NULL with len,
 *         opts->acl not a zkr_acl_t or ZKR_ACL_CREATOR_ALL on a client
 *         without digest credentials); ZKR_EBADPATH; ZKR_ETOOBIG;
 *         ZKR_ECLOSED; ZKR_ENOMEM.
 * Ownership: free *out with zkr_registration_free(); inputs are copied.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_registration_new(zkr_client_t *client, const char *path,
                                    const void *data, size_t len,
                                    const zkr_registration_opts_t *opts,
                                    zkr_registration_t **out);

/**
 * Register a Dubbo URL at zkr_dubbo_url_registry_path(root, url)
 * (ephemeral; opts->persistent is ignored).
 * @return as zkr_registration_new, and ZKR_EINVAL for a URL without
 *         interface.
 * Ownership: free *out with zkr_registration_free(); the URL is copied.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_registration_new_dubbo(zkr_client_t *client,
                                          const char *root,
                                          const zkr_dubbo_url_t *url,
                                          const zkr_registration_opts_t *opts,
                                          zkr_registration_t **out);

/**
 * Register a Curator instance at `<base>/<name>/<id>` with its JSON
 * (registration_time_utc 0 is replaced by now). DYNAMIC is ephemeral,
 * STATIC persistent, PERMANENT persistent and kept on free; parents are
 * containers, as with Curator (opts may be NULL).
 * @param base NULL means ZKR_DISCOVERY_BASE.
 * @return as zkr_registration_new, and ZKR_EINVAL for an instance
 *         zkr_service_instance_to_json rejects or DYNAMIC_SEQUENTIAL.
 * Ownership: free *out with zkr_registration_free(); the instance is
 *         copied.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_registration_new_curator(
    zkr_client_t *client, const char *base, const zkr_service_instance_t *s,
    const zkr_registration_opts_t *opts, zkr_registration_t **out);

/**
 * Wait until the node is registered on the current session.
 * @param timeout_ms -1 forever.
 * @return ZKR_OK; ZKR_ETIMEDOUT; the error that stopped the registration
 *         (at once while it stays stopped, until the next session);
 *         ZKR_ECANCELED (the client or the registration was freed while
 *         waiting); ZKR_ECLOSED (the client was freed before); ZKR_EDEADLK
 *         (on the completion thread); ZKR_ENOMEM; ZKR_EINVAL (NULL r).
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_registration_wait(zkr_registration_t *r, int timeout_ms);

/**
 * Call @p cb exactly once: ZKR_OK when the node is registered (at once,
 * on this thread, if it is now), the error that stops the registration,
 * or ZKR_ECANCELED when the registration or its client is freed first.
 * @return ZKR_OK (cb will run); ZKR_EINVAL (NULL r or cb); ZKR_ECLOSED
 *         (the client was freed); ZKR_ENOMEM.
 * Ownership: @p ctx is borrowed until @p cb has run.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_registration_wait_async(zkr_registration_t *r,
                                           zkr_registration_cb cb, void *ctx);

/** @return 1 while the node is known to exist on the current session,
 *  else 0 (also for NULL, and once the client is freed).
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int zkr_registration_is_registered(zkr_registration_t *r);

/** @return how many times this handle (re-)created its node (0 for NULL;
 *  the last count once the client is freed).
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN unsigned zkr_registration_count(zkr_registration_t *r);

/**
 * The registered path, written into @p buf.
 * @return ZKR_OK; ZKR_EINVAL (NULL or too small buffer).
 * Ownership: @p buf is the caller's; nothing is kept.
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_registration_path(zkr_registration_t *r, char *buf,
                                     size_t len);

/**
 * Replace the node data (Curator's updateService): written now if
 * registered (without waiting; a failed write is not reported), and used
 * for every re-registration. Once the client is freed the data is kept
 * but not written, and this still returns ZKR_OK.
 * @return ZKR_OK; ZKR_EINVAL (NULL r, data NULL with len > 0);
 *         ZKR_ETOOBIG; ZKR_ENOMEM.
 * Ownership: @p data is copied.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_registration_set_data(zkr_registration_t *r,
                                         const void *data, size_t len);

/**
 * Unregister and free: the node is deleted (unless keep_on_free) without
 * waiting for the reply; a pending wait_async callback runs with
 * ZKR_ECANCELED; the state callback does not run after this returns
 * (unless called from it). Accepts NULL. Call once.
 * Thread safety: any thread.
 */
ZKR_EXTERN void zkr_registration_free(zkr_registration_t *r);

/* ======================================================================= */
/* Discovery cache and load balancing                                       */
/* ======================================================================= */

typedef struct zkr_discovery zkr_discovery_t;
/** One instance in a discovery cache: an immutable snapshot of a node,
 *  reference counted, with a shared count of active calls. */
typedef struct zkr_instance zkr_instance_t;

/** How the children of a discovery directory are read. */
typedef enum {
    ZKR_LAYOUT_CURATOR = 0, /**< data = ServiceInstance JSON */
    ZKR_LAYOUT_DUBBO = 1,   /**< name = encoded Dubbo URL */
    ZKR_LAYOUT_RAW = 2      /**< name and data as they are (the data is
                                 read and watched, as for Curator's) */
} zkr_layout_t;

/** Load-balancing policies for zkr_discovery_pick(). */
typedef enum {
    ZKR_LB_RANDOM = 0,         /**< weighted random */
    ZKR_LB_ROUND_ROBIN = 1,    /**< smooth weighted round robin */
    ZKR_LB_LEAST_ACTIVE = 2,   /**< fewest active calls (begin/end), ties
                                    by weighted random */
    ZKR_LB_CONSISTENT_HASH = 3 /**< hash ring of node names, by key */
} zkr_lb_policy_t;

/**
 * Discovery callback. As the change callback of zkr_discovery_opts_t it
 * runs each time the set of instances changes (ZKR_OK), and with an error
 * when listing failed for good (ZKR_ENOAUTH, ...); never after
 * zkr_discovery_free has returned (unless called from it). As the callback
 * of zkr_discovery_refresh_async it runs exactly once.
 */
typedef void (*zkr_discovery_cb)(zkr_discovery_t *d, int status, void *ctx);

/** Discovery options; fill with zkr_discovery_opts_init(). */
typedef struct {
    zkr_layout_t layout;       /**< ZKR_LAYOUT_CURATOR by default */
    zkr_discovery_cb on_change; /**< optional change callback */
    void *ctx;
    uint64_t seed;             /**< random seed for picks; 0: from time */
    int hash_replicas;         /**< ring points per instance (160) */
} zkr_discovery_opts_t;

/** Fill @p o with defaults. Thread safety: any thread. */
ZKR_EXTERN void zkr_discovery_opts_init(zkr_discovery_opts_t *o);

/**
 * Watch the children of @p path (a Curator service directory such as
 * "/services/orders", or a Dubbo category directory from zkr_dubbo_dir).
 * Returns at once; the cache fills in the background (see
 * zkr_discovery_refresh). A missing directory is an empty service, watched
 * until it appears.
 * @return ZKR_OK; ZKR_EINVAL (NULL client/out, bad layout or replicas);
 *         ZKR_EBADPATH; ZKR_ECLOSED; ZKR_ENOMEM.
 * Ownership: free *out with zkr_discovery_free().
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_discovery_new(zkr_client_t *client, const char *path,
                                 const zkr_discovery_opts_t *opts,
                                 zkr_discovery_t **out);

/**
 * List the directory again and wait until the cache reflects that listing
 * (every new node's data read).
 * @return ZKR_OK; ZKR_ETIMEDOUT; ZKR_ECONNLOSS / ZKR_ESESSIONEXPIRED /
 *         ZKR_ENOAUTH (listing failed); ZKR_ECANCELED (the client or the
 *         cache was freed while waiting); ZKR_ECLOSED (the client was
 *         freed before); ZKR_EDEADLK; ZKR_ENOMEM; ZKR_EINVAL (NULL d).
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread but the completion thread.
 */
ZKR_EXTERN int zkr_discovery_refresh(zkr_discovery_t *d, int timeout_ms);

/**
 * Start a refresh; @p cb runs exactly once: ZKR_OK when the cache reflects
 * a listing made after this call, an error if that listing failed, or
 * ZKR_ECANCELED when the cache or its client is freed first.
 * @return ZKR_OK; ZKR_EINVAL (NULL d or cb); ZKR_ECLOSED (the client was
 *         freed); ZKR_ENOMEM.
 * Ownership: @p ctx is borrowed until @p cb has run.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_discovery_refresh_async(zkr_discovery_t *d,
                                           zkr_discovery_cb cb, void *ctx);

/** @return the number of usable instances now (parsed and enabled; 0 for
 *  NULL; once the client is freed, the last count it saw).
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int zkr_discovery_count(zkr_discovery_t *d);

/** @return a counter that grows on every change of the instance set (0
 *  for NULL; it stops growing once the client is freed).
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN uint64_t zkr_discovery_version(zkr_discovery_t *d);

/**
 * The usable instances now, sorted by node name.
 * @return ZKR_OK; ZKR_EINVAL; ZKR_ENOMEM.
 * Ownership: each element is a reference; free the array with
 *            zkr_instances_free(v, count).
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_discovery_list(zkr_discovery_t *d, zkr_instance_t ***v,
                                  int *count);

/**
 * Pick one usable instance with @p policy. @p key (@p key_len bytes) is
 * used by ZKR_LB_CONSISTENT_HASH only (NULL: the empty key).
 * Instances of weight 0 are picked only when all have weight 0.
 * @return ZKR_OK; ZKR_ENONODE (no usable instance); ZKR_EINVAL.
 * Ownership: *out is a reference: zkr_instance_release() it.
 * Thread safety: any thread, also from callbacks.
 */
ZKR_EXTERN int zkr_discovery_pick(zkr_discovery_t *d, zkr_lb_policy_t policy,
                                  const void *key, size_t key_len,
                                  zkr_instance_t **out);

/** Stop watching and free. Pending refresh callbacks run with
 *  ZKR_ECANCELED. Instances still referenced stay valid. Accepts NULL.
 *  Call once. Thread safety: any thread. */
ZKR_EXTERN void zkr_discovery_free(zkr_discovery_t *d);

/** Release every reference of an array from zkr_discovery_list and the
 *  array. Accepts NULL. Ownership: the array and this caller's references
 *  are given back; instances referenced elsewhere stay valid.
 *  Thread safety: any thread. */
ZKR_EXTERN void zkr_instances_free(zkr_instance_t **v, int count);

/* ---- instances --------------------------------------------------------
 * The accessors accept NULL (and return NULL, 0 or -1). What they return
 * is borrowed for as long as the caller holds its reference to the
 * instance. Thread safety: any thread (instances are immutable but for the
 * atomic count of active calls). */

/** Take another reference. @return @p i (NULL for NULL).
 *  Ownership: the caller owns the new reference: zkr_instance_release()
 *  it. Thread safety: any thread. */
ZKR_EXTERN zkr_instance_t *zkr_instance_ref(zkr_instance_t *i);
/** Drop a reference; the last one frees the instance. Accepts NULL.
 *  Ownership: what the accessors returned through this reference is not
 *  to be used afterwards. Thread safety: any thread. */
ZKR_EXTERN void zkr_instance_release(zkr_instance_t *i);

/** @return the node name (the encoded URL in the Dubbo layout).
 *  Ownership: borrowed. Thread safety: any thread. */
ZKR_EXTERN const char *zkr_instance_name(const zkr_instance_t *i);
/** @return the node data, NUL-terminated; its length in @p len (may be
 *  NULL). Ownership: borrowed. Thread safety: any thread. */
ZKR_EXTERN const char *zkr_instance_data(const zkr_instance_t *i,
                                         size_t *len);
/** @return the host (Dubbo URL host, Curator address; NULL if none).
 *  Ownership: borrowed. Thread safety: any thread. */
ZKR_EXTERN const char *zkr_instance_host(const zkr_instance_t *i);
/** @return the port (Curator: port, else sslPort; -1 if none, and for
 *  NULL). Ownership: nothing is kept or returned.
 *  Thread safety: any thread. */
ZKR_EXTERN int zkr_instance_port(const zkr_instance_t *i);
/** @return the weight: Dubbo's "weight" parameter (default 100, clamped
 *  to 0..1000000), 100 in the other layouts; 0 for NULL.
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int zkr_instance_weight(const zkr_instance_t *i);
/** @return the parsed Dubbo URL (Dubbo layout), else NULL.
 *  Ownership: borrowed. Thread safety: any thread. */
ZKR_EXTERN const zkr_dubbo_url_t *zkr_instance_dubbo_url(
    const zkr_instance_t *i);
/** @return the parsed ServiceInstance (Curator layout), else NULL.
 *  Ownership: borrowed. Thread safety: any thread. */
ZKR_EXTERN const zkr_service_instance_t *zkr_instance_service(
    const zkr_instance_t *i);

/**
 * Report the start / the end of a call to this instance, for
 * ZKR_LB_LEAST_ACTIVE. The count is shared by every snapshot of the same
 * node in the same cache.
 * @return ZKR_OK; ZKR_EINVAL (NULL; end without begin).
 * Ownership: nothing is kept or returned.
 * Thread safety: any thread.
 */
ZKR_EXTERN int zkr_instance_begin(zkr_instance_t *i);
ZKR_EXTERN int zkr_instance_end(zkr_instance_t *i);
/** @return the calls begun and not yet ended (0 for NULL).
 *  Ownership: nothing is kept or returned. Thread safety: any thread. */
ZKR_EXTERN int zkr_instance_active(const zkr_instance_t *i);

#ifdef __cplusplus
}
#endif
#endif
