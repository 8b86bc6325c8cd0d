/* SPDX-License-Identifier: Apache-2.0 */
/* Curator ServiceInstance JSON: exact output of Curator 5.4's serializer,
 * round trips, and malformed JSON, wrong types, missing members and huge
 * inputs returning codes. No server needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include <zkr/registry.h>

static int parse(const char *json, zkr_service_instance_t **out)
{
    return zkr_service_instance_from_json(json, strlen(json), out);
}

static void bad(const char *json, int want, const char *what)
{
    zkr_service_instance_t *s = (zkr_service_instance_t *)1;
    is(parse(json, &s), want, "%s", what);
    ok(s == NULL, "%s: out cleared", what);
}

int main(void)
{
    zkr_service_instance_t in, *out = NULL;
    char *json = NULL, *json2 = NULL;
    size_t len = 0;

    /* what Curator 5.4 writes for
     * ServiceInstance.builder().name("svc").address("127.0.0.1").port(8080) */
    zkr_service_instance_init(&in);
    in.name = "svc";
    in.id = "88f731c0-589a-4793-815c-8acfd90b9a19";
    in.address = "127.0.0.1";
    in.port = 8080;
    in.registration_time_utc = 1795465352218LL;
    is(zkr_service_instance_to_json(&in, &json, &len), ZKR_OK, "to_json");
    is_str(json,
           "{\"name\":\"svc\",\"id\":\"88f731c0-589a-4793-815c-8acfd90b9a19\","
           "\"address\":\"127.0.0.1\",\"port\":8080,\"sslPort\":null,"
           "\"payload\":null,\"registrationTimeUTC\":1795465352218,"
           "\"serviceType\":\"DYNAMIC\",\"uriSpec\":null}",
           "byte for byte what Curator writes");
    is(len, strlen(json), "length");
    zkr_free(json);

    /* ...and with everything set, as Curator writes it */
    in.id = "8d23378b-00be-4403-8f10-b014ab38e442";
    in.address = "10.0.0.1";
    in.port = 80;
    in.ssl_port = 443;
    in.payload = "\"hello\"";
    in.service_type = ZKR_SERVICE_STATIC;
    in.uri_spec = "{scheme}://{address}:{port}";
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_OK, "full to_json");
    is_str(json,
           "{\"name\":\"svc\",\"id\":\"8d23378b-00be-4403-8f10-b014ab38e442\","
           "\"address\":\"10.0.0.1\",\"port\":80,\"sslPort\":443,"
           "\"payload\":\"hello\",\"registrationTimeUTC\":1795465352218,"
           "\"serviceType\":\"STATIC\",\"uriSpec\":{\"parts\":["
           "{\"value\":\"scheme\",\"variable\":true},"
           "{\"value\":\"://\",\"variable\":false},"
           "{\"value\":\"address\",\"variable\":true},"
           "{\"value\":\":\",\"variable\":false},"
           "{\"value\":\"port\",\"variable\":true}]}}",
           "uriSpec parts and payload as Curator writes them");

    /* round trip */
    is(zkr_service_instance_from_json(json, strlen(json), &out), ZKR_OK,
       "parse it back");
    is_str(out->name, "svc", "name");
    is_str(out->id, in.id, "id");
    is_str(out->address, "10.0.0.1", "address");
    is(out->port, 80, "port");
    is(out->ssl_port, 443, "sslPort");
    is_str(out->payload, "\"hello\"", "payload as JSON text");
    is(out->registration_time_utc, 1795465352218LL, "registrationTimeUTC");
    is(out->service_type, ZKR_SERVICE_STATIC, "serviceType");
    is_str(out->uri_spec, "{scheme}://{address}:{port}", "uriSpec template");
    is(out->enabled, 1, "enabled by default");
    is(zkr_service_instance_to_json(out, &json2, NULL), ZKR_OK,
       "serialize the parsed instance");
    is_str(json2, json, "identical JSON after a round trip");
    zkr_free(json);
    zkr_free(json2);
    zkr_service_instance_free(out);

    /* disabled instance, object payload, odd characters */
    zkr_service_instance_init(&in);
    in.name = "na\xc3\xafve \"svc\"";
    in.id = "id\\1";
    in.payload = "{\"@class\":\"java.util.HashMap\", \"k\": [1, 2.5, null]}";
    in.enabled = 0;
    in.service_type = ZKR_SERVICE_PERMANENT;
    in.uri_spec = "http://x{a}{}";
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_OK,
       "odd instance to_json");
    ok(json && strstr(json, "\"enabled\":false}") != NULL,
       "disabled instance writes \"enabled\":false last");
    ok(json && strstr(json, "\"payload\":{\"@class\":\"java.util.HashMap\","
                            "\"k\":[1,2.5,null]}") != NULL,
       "object payload written compactly in its order");
    ok(json && strstr(json, "\"name\":\"na\xc3\xafve \\\"svc\\\"\"") != NULL,
       "quotes escaped, UTF-8 kept");
    is(parse(json, &out), ZKR_OK, "parse odd instance");
    is_str(out->name, in.name, "odd name round trip");
    is_str(out->id, "id\\1", "backslash round trip");
    is(out->enabled, 0, "disabled round trip");
    is(out->service_type, ZKR_SERVICE_PERMANENT, "PERMANENT round trip");
    is_str(out->uri_spec, "http://x{a}{}", "empty variable round trip");
    is_str(out->payload, "{\"@class\":\"java.util.HashMap\",\"k\":[1,2.5,null]}",
           "payload round trip");
    ok(out->address == NULL && out->port == -1 && out->ssl_port == -1,
       "nulls stay absent");
    zkr_service_instance_free(out);
    zkr_free(json);

    /* lenient like Curator: unknown members, missing optional ones */
    is(parse("{\"name\":\"s\",\"id\":\"x\",\"foo\":{\"bar\":[1]}}", &out),
       ZKR_OK, "unknown members ignored, optional ones missing");
    ok(out && out->port == -1 && out->address == NULL &&
           out->service_type == ZKR_SERVICE_DYNAMIC &&
           out->registration_time_utc == 0 && out->enabled == 1,
       "defaults for missing members");
    zkr_service_instance_free(out);
    is(parse(" {\"name\":\"s\",\"id\":\"x\",\"serviceType\":"
             "\"DYNAMIC_SEQUENTIAL\",\"payload\":[],\"uriSpec\":null} ",
             &out),
       ZKR_OK, "whitespace, DYNAMIC_SEQUENTIAL, array payload");
    is(out ? (int)out->service_type : -1, ZKR_SERVICE_DYNAMIC_SEQUENTIAL,
       "DYNAMIC_SEQUENTIAL");
    is_str(out ? out->payload : NULL, "[]", "array payload");
    zkr_service_instance_free(out);
    is_str(zkr_service_type_name(ZKR_SERVICE_STATIC), "STATIC", "type name");
    is_str(zkr_service_type_name((zkr_service_type_t)42), "?",
           "unknown type name");

    /* malformed JSON */
    bad("", ZKR_EINVAL, "empty input");
    bad("{", ZKR_EINVAL, "truncated object");
    bad("{\"name\":\"s\",\"id\":\"x\"", ZKR_EINVAL, "missing brace");
    bad("{\"name\":\"s\",\"id\":\"x\"}}", ZKR_EINVAL, "trailing garbage");
    bad("{'name':'s','id':'x'}", ZKR_EINVAL, "single quotes");
    bad("{\"name\":\"s\",\"id\":\"x\",}", ZKR_EINVAL, "trailing comma");
    bad("[{\"name\":\"s\",\"id\":\"x\"}]", ZKR_EINVAL, "array at top");
    bad("\"svc\"", ZKR_EINVAL, "string at top");
    bad("null", ZKR_EINVAL, "null at top");
    bad("{\"name\":\"s\xff\",\"id\":\"x\"}", ZKR_EINVAL, "invalid UTF-8");
    bad("{\"name\":\"s\\u0000t\",\"id\":\"x\"}", ZKR_EINVAL,
        "NUL escape in a string");
    bad("{\"name\":\"s\",\"name\":\"t\",\"id\":\"x\"}", ZKR_EINVAL,
        "duplicate member");
    /* wrong types */
    bad("{\"name\":1,\"id\":\"x\"}", ZKR_EINVAL, "name not a string");
    bad("{\"name\":\"s\",\"id\":[]}", ZKR_EINVAL, "id not a string");
    bad("{\"name\":\"s\",\"id\":\"x\",\"port\":\"80\"}", ZKR_EINVAL,
        "port as a string");
    bad("{\"name\":\"s\",\"id\":\"x\",\"port\":80.5}", ZKR_EINVAL,
        "port as a real");
    bad("{\"name\":\"s\",\"id\":\"x\",\"port\":70000}", ZKR_EINVAL,
        "port out of range");
    bad("{\"name\":\"s\",\"id\":\"x\",\"sslPort\":-2}", ZKR_EINVAL,
        "negative sslPort");
    bad("{\"name\":\"s\",\"id\":\"x\",\"address\":5}", ZKR_EINVAL,
        "address not a string");
    bad("{\"name\":\"s\",\"id\":\"x\",\"serviceType\":\"WEIRD\"}", ZKR_EINVAL,
        "unknown serviceType");
    bad("{\"name\":\"s\",\"id\":\"x\",\"serviceType\":1}", ZKR_EINVAL,
        "serviceType not a string");
    bad("{\"name\":\"s\",\"id\":\"x\",\"registrationTimeUTC\":\"now\"}",
        ZKR_EINVAL, "time not a number");
    bad("{\"name\":\"s\",\"id\":\"x\",\"registrationTimeUTC\":"
        "99999999999999999999999}",
        ZKR_EINVAL, "time beyond 64 bits");
    bad("{\"name\":\"s\",\"id\":\"x\",\"enabled\":\"yes\"}", ZKR_EINVAL,
        "enabled not a boolean");
    bad("{\"name\":\"s\",\"id\":\"x\",\"uriSpec\":\"{a}\"}", ZKR_EINVAL,
        "uriSpec as a string");
    bad("{\"name\":\"s\",\"id\":\"x\",\"uriSpec\":{\"parts\":{}}}", ZKR_EINVAL,
        "uriSpec parts not an array");
    bad("{\"name\":\"s\",\"id\":\"x\",\"uriSpec\":{\"parts\":[{\"value\":1}]}}",
        ZKR_EINVAL, "uriSpec part value not a string");
    bad("{\"name\":\"s\",\"id\":\"x\",\"uriSpec\":{\"parts\":[{\"value\":"
        "\"{\",\"variable\":false}]}}",
        ZKR_EINVAL, "uriSpec literal with a brace");
    /* missing members */
    bad("{\"id\":\"x\"}", ZKR_EINVAL, "missing name");
    bad("{\"name\":\"s\"}", ZKR_EINVAL, "missing id");
    bad("{\"name\":null,\"id\":\"x\"}", ZKR_EINVAL, "null name");
    bad("{}", ZKR_EINVAL, "empty object");

    /* huge inputs */
    {
        size_t n = ZKR_MAX_DATA + 10;
        char *big = malloc(n + 1);
        memset(big, ' ', n);
        big[n] = '\0';
        is(zkr_service_instance_from_json(big, n, &out), ZKR_ETOOBIG,
           "input over 1 MB");
        /* 100,000 nested arrays: the parser's depth limit, no stack blow */
        n = 200000 + 64;
        {
            size_t w = (size_t)sprintf(big, "{\"name\":\"s\",\"id\":\"x\","
                                            "\"payload\":");
            for (int i = 0; i < 100000; i++)
                big[w++] = '[';
            for (int i = 0; i < 100000; i++)
                big[w++] = ']';
            big[w++] = '}';
            big[w] = '\0';
            is(zkr_service_instance_from_json(big, w, &out), ZKR_EINVAL,
               "100,000 nested arrays refused");
        }
        /* a long but legal id */
        {
            size_t w = (size_t)sprintf(big, "{\"name\":\"s\",\"id\":\"");
            memset(big + w, 'i', 500000);
            w += 500000;
            w += (size_t)sprintf(big + w, "\"}");
            is(zkr_service_instance_from_json(big, w, &out), ZKR_OK,
               "half a megabyte id parses");
            is(out ? strlen(out->id) : 0, 500000, "all of it");
            zkr_service_instance_free(out);
        }
        free(big);
    }
    is(zkr_service_instance_from_json("{\"name\":\"s\",\"id\":\"x\"}", 10,
                                      &out),
       ZKR_EINVAL, "length shorter than the text: truncated");
    is(zkr_service_instance_from_json(NULL, 3, &out), ZKR_EINVAL, "NULL json");
    is(zkr_service_instance_from_json("{}", 2, NULL), ZKR_EINVAL, "NULL out");

    /* bad instances for to_json */
    zkr_service_instance_init(&in);
    in.name = "svc";
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_EINVAL, "no id");
    ok(json == NULL, "out cleared");
    in.id = "a/b";
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_EINVAL,
       "'/' in id");
    in.id = "..";
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_EINVAL, "id '..'");
    in.id = "ok";
    in.port = 65536;
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_EINVAL,
       "port too big");
    in.port = -5;
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_EINVAL,
       "negative port other than -1");
    in.port = 1;
    in.payload = "{not json";
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_EINVAL,
       "payload not JSON");
    in.payload = "1 2";
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_EINVAL,
       "payload with trailing data");
    in.payload = NULL;
    in.uri_spec = "{a{b}}";
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_EINVAL,
       "nested brace in uriSpec");
    in.uri_spec = "a}";
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_EINVAL,
       "unopened brace in uriSpec");
    in.uri_spec = "{a";
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_EINVAL,
       "unclosed brace in uriSpec");
    in.uri_spec = NULL;
    in.address = "bad\xff";
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_EINVAL,
       "address not UTF-8");
    in.address = NULL;
    in.service_type = (zkr_service_type_t)9;
    is(zkr_service_instance_to_json(&in, &json, NULL), ZKR_EINVAL,
       "unknown service type");
    is(zkr_service_instance_to_json(NULL, &json, NULL), ZKR_EINVAL,
       "NULL instance");
    zkr_service_instance_free(NULL);
    zkr_service_instance_init(NULL);
    return done_testing();
}
