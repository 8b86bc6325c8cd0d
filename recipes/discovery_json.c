/* SPDX-License-Identifier: Apache-2.0 */
/* Curator x-discovery ServiceInstance JSON, read and written with jansson.
 * The output matches Curator 5.4's default JsonInstanceSerializer byte for
 * byte: member order, compact separators, null for absent values, and no
 * "enabled" member unless the instance is disabled. */
#define ZKR_BUILDING 1
#include "zkr/registry.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *const type_names[] = {"DYNAMIC", "STATIC", "PERMANENT",
                                         "DYNAMIC_SEQUENTIAL"};

const char *zkr_service_type_name(zkr_service_type_t t)
{
    if ((int)t < 0 || (int)t > ZKR_SERVICE_DYNAMIC_SEQUENTIAL)
        return "?";
    return type_names[t];
}

void zkr_service_instance_init(zkr_service_instance_t *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->port = -1;
    s->ssl_port = -1;
    s->service_type = ZKR_SERVICE_DYNAMIC;
    s->enabled = 1;
}

/* A name usable as one znode path component. */
static int valid_name(const char *s)
{
    if (!s || !*s || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (const char *p = s; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* ---- uriSpec: template text <-> Curator's parts ---------------------- */

static int add_part(json_t *parts, const char *v, size_t n, int variable)
{
    /* json_pack fails on text that is not UTF-8 */
    json_t *p = json_pack("{s:s%,s:b}", "value", v, n, "variable", variable);
    if (!p)
        return ZKR_EINVAL;
    return json_array_append_new(parts, p) == 0 ? ZKR_OK : ZKR_ENOMEM;
}

static int spec_to_json(const char *spec, json_t **out)
{
    json_t *obj = json_object(), *parts = json_array();
    const char *start = spec;
    int inside = 0, rc = ZKR_OK;
    if (!obj || !parts || json_object_set(obj, "parts", parts) != 0) {
        json_decref(obj);
        json_decref(parts);
        return ZKR_ENOMEM;
    }
    for (const char *p = spec;; p++) {
        if (*p == '{' || *p == '}' || *p == '\0') {
            if ((*p == '{' && inside) || (*p == '}' && !inside) ||
                (*p == '\0' && inside)) {
                rc = ZKR_EINVAL;
                break;
            }
            if (p > start || *p == '}')
                rc = add_part(parts, start, (size_t)(p - start), *p == '}');
            if (rc != ZKR_OK || *p == '\0')
                break;
            inside = *p == '{';
            start = p + 1;
        }
    }
    json_decref(parts);
    if (rc != ZKR_OK) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return ZKR_OK;
}

static int spec_from_json(json_t *spec, char **out)
{
    json_t *parts = json_object_get(spec, "parts");
    size_t n = 0, i;
    json_t *p;
    char *s, *w;
    if (!json_is_array(parts))
        return ZKR_EINVAL;
    json_array_foreach(parts, i, p) {
        json_t *v = json_object_get(p, "value");
        json_t *var = json_object_get(p, "variable");
        if (!json_is_string(v) || (var && !json_is_boolean(var) &&
                                   !json_is_null(var)))
            return ZKR_EINVAL;
        if (memchr(json_string_value(v), '{', json_string_length(v)) ||
            memchr(json_string_value(v), '}', json_string_length(v)) ||
            memchr(json_string_value(v), '\0', json_string_length(v)))
            return ZKR_EINVAL; /* not expressible as a template */
        n += json_string_length(v) + 2;
    }
    s = w = malloc(n + 1);
    if (!s)
        return ZKR_ENOMEM;
    json_array_foreach(parts, i, p) {
        json_t *v = json_object_get(p, "value");
        int variable = json_is_true(json_object_get(p, "variable"));
        size_t len = json_string_length(v);
        if (variable)
            *w++ = '{';
        memcpy(w, json_string_value(v), len);
        w += len;
        if (variable)
            *w++ = '}';
    }
    *w = '\0';
    *out = s;
    return ZKR_OK;
}

/* ---- writing ------------------------------------------------------------- */

static json_t *opt_string(const char *s, int *bad)
{
    json_t *j;
    if (!s)
        return json_null();
    j = json_string(s);
    if (!j)
        *bad = 1; /* not UTF-8 */
    return j;
}

static json_t *opt_port(int port, int *bad)
{
    if (port == -1)
        return json_null();
    if (port < 0 || port > 65535) {
        *bad = 1;
        return NULL;
    }
    return json_integer(port);
}

int zkr_service_instance_to_json(const zkr_service_instance_t *s,
                                 char **json, size_t *len)
{
    json_t *o, *payload = NULL, *spec = NULL;
    int bad = 0, rc = ZKR_OK;
    char *text;
    if (json)
        *json = NULL;
    if (len)
        *len = 0;
    if (!s || !json)
        return ZKR_EINVAL;
    if (!valid_name(s->name) || !valid_name(s->id) ||
        (int)s->service_type < 0 ||
        (int)s->service_type > ZKR_SERVICE_DYNAMIC_SEQUENTIAL)
        return ZKR_EINVAL;
    if (s->payload) {
        json_error_t err;
        size_t plen = strnlen(s->payload, ZKR_MAX_DATA + 1);
        if (plen > ZKR_MAX_DATA)
            return ZKR_ETOOBIG;
        payload = json_loadb(s->payload, plen, JSON_DECODE_ANY, &err);
        if (!payload)
            return ZKR_EINVAL;
    } else {
        payload = json_null();
    }
    if (s->uri_spec && (rc = spec_to_json(s->uri_spec, &spec)) != ZKR_OK) {
        json_decref(payload);
        return rc;
    }
    if (!spec)
        spec = json_null();
    {
        struct {
            const char *key;
            json_t *value;
        } m[10] = {
            {"name", opt_string(s->name, &bad)},
            {"id", opt_string(s->id, &bad)},
            {"address", opt_string(s->address, &bad)},
            {"port", opt_port(s->port, &bad)},
            {"sslPort", opt_port(s->ssl_port, &bad)},
            {"payload", payload},
            {"registrationTimeUTC", json_integer(s->registration_time_utc)},
            {"serviceType", json_string(type_names[s->service_type])},
            {"uriSpec", spec},
            {"enabled", s->enabled ? NULL : json_false()},
        };
        int n = s->enabled ? 9 : 10, failed = 0;
        for (int i = 0; i < n; i++)
            failed |= m[i].value == NULL;
        o = failed ? NULL : json_object();
        for (int i = 0; i < n; i++) {
            /* set_new takes the value's reference, also when it fails */
            if (o && json_object_set_new(o, m[i].key, m[i].value) != 0) {
                json_decref(o);
                o = NULL;
            } else if (!o) {
                json_decref(m[i].value);
            }
        }
        if (!o)
            return bad ? ZKR_EINVAL : ZKR_ENOMEM;
    }
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return ZKR_ENOMEM;
    if (strlen(text) > ZKR_MAX_DATA) {
        free(text);
        return ZKR_ETOOBIG;
    }
    if (len)
        *len = strlen(text);
    *json = text;
    return ZKR_OK;
}

/* ---- reading ------------------------------------------------------------- */

void zkr_service_instance_free(zkr_service_instance_t *s)
{
    if (!s)
        return;
    /* every string of a parsed instance is our own allocation */
    free((char *)s->name);
    free((char *)s->id);
    free((char *)s->address);
    free((char *)s->payload);
    free((char *)s->uri_spec);
    free(s);
}

/* Member @p key: a string (copied), or null/missing (NULL) if allowed. */
static int get_string(json_t *o, const char *key, int required,
                      const char **out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return required ? ZKR_EINVAL : ZKR_OK;
    if (!json_is_string(v) ||
        memchr(json_string_value(v), '\0', json_string_length(v)))
        return ZKR_EINVAL;
    *out = strdup(json_string_value(v));
    return *out ? ZKR_OK : ZKR_ENOMEM;
}

static int get_port(json_t *o, const char *key, int *out)
{
    json_t *v = json_object_get(o, key);
    *out = -1;
    if (!v || json_is_null(v))
        return ZKR_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > 65535)
        return ZKR_EINVAL;
    *out = (int)json_integer_value(v);
    return ZKR_OK;
}

static int fill(json_t *o, zkr_service_instance_t *s)
{
    json_t *v;
    int rc;
    if ((rc = get_string(o, "name", 1, &s->name)) != ZKR_OK ||
        (rc = get_string(o, "id", 1, &s->id)) != ZKR_OK ||
        (rc = get_string(o, "address", 0, &s->address)) != ZKR_OK ||
        (rc = get_port(o, "port", &s->port)) != ZKR_OK ||
        (rc = get_port(o, "sslPort", &s->ssl_port)) != ZKR_OK)
        return rc;
    v = json_object_get(o, "registrationTimeUTC");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v))
            return ZKR_EINVAL;
        s->registration_time_utc = json_integer_value(v);
    }
    v = json_object_get(o, "serviceType");
    if (v && !json_is_null(v)) {
        int found = 0;
        if (!json_is_string(v))
            return ZKR_EINVAL;
        for (int i = 0; i <= ZKR_SERVICE_DYNAMIC_SEQUENTIAL; i++)
            if (!strcmp(json_string_value(v), type_names[i]) &&
                json_string_length(v) == strlen(type_names[i])) {
                s->service_type = (zkr_service_type_t)i;
                found = 1;
            }
        if (!found)
            return ZKR_EINVAL;
    }
    v = json_object_get(o, "enabled");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v))
            return ZKR_EINVAL;
        s->enabled = json_is_true(v);
    }
    v = json_object_get(o, "uriSpec");
    if (v && !json_is_null(v)) {
        char *spec = NULL;
        if (!json_is_object(v))
            return ZKR_EINVAL;
        if ((rc = spec_from_json(v, &spec)) != ZKR_OK)
            return rc;
        s->uri_spec = spec;
    }
    v = json_object_get(o, "payload");
    if (v && !json_is_null(v)) {
        char *p = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                    JSON_ENCODE_ANY);
        if (!p)
            return ZKR_ENOMEM;
        s->payload = p;
    }
    return ZKR_OK;
}

int zkr_service_instance_from_json(const char *json, size_t len,
                                   zkr_service_instance_t **out)
{
    zkr_service_instance_t *s;
    json_error_t err;
    json_t *o;
    int rc;
    if (!out)
        return ZKR_EINVAL;
    *out = NULL;
    if (!json)
        return ZKR_EINVAL;
    if (len > ZKR_MAX_DATA)
        return ZKR_ETOOBIG;
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!o)
        return ZKR_EINVAL;
    if (!json_is_object(o)) {
        json_decref(o);
        return ZKR_EINVAL;
    }
    s = malloc(sizeof *s);
    if (!s) {
        json_decref(o);
        return ZKR_ENOMEM;
    }
    zkr_service_instance_init(s);
    rc = fill(o, s);
    json_decref(o);
    if (rc != ZKR_OK) {
        zkr_service_instance_free(s);
        return rc;
    }
    *out = s;
    return ZKR_OK;
}
