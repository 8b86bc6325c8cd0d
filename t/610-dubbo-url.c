/* SPDX-License-Identifier: Apache-2.0 */
/* Dubbo URLs: Java URLEncoder-compatible encoding, the exact registry node
 * names and paths, parsing, round trips of odd characters, bad input. No
 * server needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include <zkr/registry.h>

static int starts(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void round_trip_value(const char *value, const char *what)
{
    zkr_dubbo_url_t *u = NULL, *back = NULL;
    char *node = NULL;
    int rc = zkr_dubbo_url_new("dubbo", "10.1.2.3", 20880, "org.x.Svc", &u);
    if (rc == ZKR_OK)
        rc = zkr_dubbo_url_set(u, "v", value);
    if (rc == ZKR_OK)
        rc = zkr_dubbo_url_node(u, &node);
    if (rc == ZKR_OK)
        rc = zkr_dubbo_url_from_node(node, &back);
    is(rc, ZKR_OK, "round trip of %s: encode and parse", what);
    is_str(zkr_dubbo_url_get(back, "v"), value, "round trip of %s: value",
           what);
    zkr_dubbo_url_free(u);
    zkr_dubbo_url_free(back);
    zkr_free(node);
}

int main(void)
{
    zkr_dubbo_url_t *u = NULL, *v = NULL;
    char *s = NULL, *d = NULL;
    size_t len = 0;
    const char *k, *val;

    /* encoding, as java.net.URLEncoder.encode(s, "UTF-8") */
    is(zkr_dubbo_encode("a b.c-d*e_f~g+h", 15, &s), ZKR_OK, "encode");
    is_str(s, "a+b.c-d*e_f%7Eg%2Bh", "space is '+', .-*_ kept, ~ and + "
                                      "escaped");
    zkr_free(s);
    is(zkr_dubbo_encode("\xc3\xa9/:\x01", 5, &s), ZKR_OK, "encode UTF-8");
    is_str(s, "%C3%A9%2F%3A%01", "UTF-8 bytes escaped in upper-case hex");
    zkr_free(s);
    is(zkr_dubbo_encode("", 0, &s), ZKR_OK, "encode empty");
    is_str(s, "", "empty stays empty");
    zkr_free(s);
    is(zkr_dubbo_decode("a+b%2fc%2F%C3%A9", &d, &len), ZKR_OK, "decode");
    is_str(d, "a b/c/\xc3\xa9", "'+' is space, either hex case");
    is(len, 8, "decoded length");
    zkr_free(d);
    is(zkr_dubbo_decode("%", &d, NULL), ZKR_EINVAL, "lone %%");
    ok(d == NULL, "out cleared on error");
    is(zkr_dubbo_decode("%4", &d, NULL), ZKR_EINVAL, "short escape");
    is(zkr_dubbo_decode("%zz", &d, NULL), ZKR_EINVAL, "non-hex escape");
    is(zkr_dubbo_decode("%-1", &d, NULL), ZKR_EINVAL, "negative escape");
    is(zkr_dubbo_decode("a%00b", &d, NULL), ZKR_EINVAL, "%%00 refused");
    is(zkr_dubbo_decode(NULL, &d, NULL), ZKR_EINVAL, "decode NULL");
    is(zkr_dubbo_encode(NULL, 3, &s), ZKR_EINVAL, "encode NULL");
    is(zkr_dubbo_encode("x", ZKR_MAX_DATA + 1, &s), ZKR_ETOOBIG,
       "encode over 1 MB");

    /* the example from Dubbo's documentation */
    is(zkr_dubbo_url_new("dubbo", "172.19.4.113", 20880,
                         "org.apache.dubbo.demo.DemoService", &u),
       ZKR_OK, "new URL");
    is(zkr_dubbo_url_set(u, "timeout", "3000"), ZKR_OK, "set timeout");
    is(zkr_dubbo_url_set(u, "side", "provider"), ZKR_OK, "set side");
    is(zkr_dubbo_url_to_string(u, &s), ZKR_OK, "to_string");
    is_str(s,
           "dubbo://172.19.4.113:20880/org.apache.dubbo.demo.DemoService?"
           "side=provider&timeout=3000",
           "full string, parameters sorted by key");
    zkr_free(s);
    is(zkr_dubbo_url_node(u, &s), ZKR_OK, "node name");
    is_str(s,
           "dubbo%3A%2F%2F172.19.4.113%3A20880%2Forg.apache.dubbo.demo."
           "DemoService%3Fside%3Dprovider%26timeout%3D3000",
           "exact Dubbo encoding");
    zkr_free(s);
    is(zkr_dubbo_url_registry_path(NULL, u, &s), ZKR_OK,
       "no interface parameter: the path names the service");
    ok(starts(s, "/dubbo/org.apache.dubbo.demo.DemoService/providers/dubbo%3A"),
       "service directory from the path");
    zkr_free(s);
    is(zkr_dubbo_url_set(u, "interface", "org.apache.dubbo.demo.DemoService"),
       ZKR_OK, "set interface");
    is(zkr_dubbo_url_registry_path(NULL, u, &s), ZKR_OK, "registry path");
    is_str(s,
           "/dubbo/org.apache.dubbo.demo.DemoService/providers/"
           "dubbo%3A%2F%2F172.19.4.113%3A20880%2Forg.apache.dubbo.demo."
           "DemoService%3Finterface%3Dorg.apache.dubbo.demo.DemoService%26"
           "side%3Dprovider%26timeout%3D3000",
           "providers path");
    zkr_free(s);
    is(zkr_dubbo_url_registry_path("/mygroup", u, &s), ZKR_OK,
       "path in another group");
    ok(starts(s, "/mygroup/org.apache.dubbo.demo.DemoService/"
                       "providers/"),
       "group root used (%s)", s ? s : "");
    zkr_free(s);
    is(zkr_dubbo_url_set(u, "category", "configurators"), ZKR_OK,
       "category parameter");
    is(zkr_dubbo_url_registry_path(NULL, u, &s), ZKR_OK, "category path");
    ok(s && strstr(s, "/configurators/dubbo%3A") != NULL,
       "category chooses the directory");
    zkr_free(s);
    is(zkr_dubbo_url_set(u, "category", NULL), ZKR_OK, "remove category");
    is(zkr_dubbo_url_set(u, "category", NULL), ZKR_ENONODE,
       "remove a missing key");
    is(zkr_dubbo_url_param_count(u), 3, "three parameters");
    is(zkr_dubbo_url_param_at(u, 0, &k, &val), ZKR_OK, "param 0");
    is_str(k, "interface", "sorted first key");
    is(zkr_dubbo_url_param_at(u, 3, &k, &val), ZKR_EINVAL, "index past end");
    is(zkr_dubbo_url_set(u, "timeout", "5000"), ZKR_OK, "replace value");
    is_str(zkr_dubbo_url_get(u, "timeout"), "5000", "replaced");
    is(zkr_dubbo_url_param_count(u), 3, "still three parameters");
    ok(zkr_dubbo_url_get(u, "nope") == NULL, "missing key is NULL");
    zkr_dubbo_url_free(u);

    /* parse a real provider node written by Dubbo 2.7 */
    is(zkr_dubbo_url_from_node(
           "dubbo%3A%2F%2F192.168.1.5%3A20880%2Forg.apache.dubbo.demo."
           "DemoService%3Fanyhost%3Dtrue%26application%3Ddemo-provider%26"
           "deprecated%3Dfalse%26dubbo%3D2.0.2%26dynamic%3Dtrue%26generic%3D"
           "false%26interface%3Dorg.apache.dubbo.demo.DemoService%26methods%3D"
           "sayHello%2CsayHelloAsync%26pid%3D4242%26release%3D2.7.8%26side%3D"
           "provider%26timestamp%3D1600000000000",
           &u),
       ZKR_OK, "parse a Dubbo provider node");
    is_str(zkr_dubbo_url_protocol(u), "dubbo", "protocol");
    is_str(zkr_dubbo_url_host(u), "192.168.1.5", "host");
    is(zkr_dubbo_url_port(u), 20880, "port");
    is_str(zkr_dubbo_url_path(u), "org.apache.dubbo.demo.DemoService",
           "path");
    is_str(zkr_dubbo_url_get(u, "methods"), "sayHello,sayHelloAsync",
           "methods (comma decoded)");
    is_str(zkr_dubbo_url_get(u, "application"), "demo-provider",
           "application");
    is(zkr_dubbo_url_param_count(u), 12, "twelve parameters");
    is(zkr_dubbo_url_clone(u, &v), ZKR_OK, "clone");
    zkr_dubbo_url_free(u);
    is_str(zkr_dubbo_url_get(v, "pid"), "4242", "clone is independent");
    zkr_dubbo_url_free(v);

    /* consumer and provider helpers */
    is(zkr_dubbo_url_consumer("10.0.0.7", "org.x.Svc", &u), ZKR_OK,
       "consumer URL");
    is(zkr_dubbo_url_to_string(u, &s), ZKR_OK, "consumer string");
    ok(starts(s, "consumer://10.0.0.7/org.x.Svc?category=consumers&"
                       "check=false&dubbo=2.0.2&interface=org.x.Svc&pid="),
       "consumer://ip/iface?category=consumers&check=false&... (%s)",
       s ? s : "");
    zkr_free(s);
    is(zkr_dubbo_url_registry_path(NULL, u, &s), ZKR_OK, "consumer path");
    ok(starts(s, "/dubbo/org.x.Svc/consumers/consumer%3A%2F%2F10.0.0.7"
                       "%2Forg.x.Svc%3Fcategory%3Dconsumers"),
       "consumers directory (%s)", s ? s : "");
    zkr_free(s);
    zkr_dubbo_url_free(u);
    is(zkr_dubbo_url_provider("10.0.0.8", 20881, "org.x.Svc", &u), ZKR_OK,
       "provider URL");
    is_str(zkr_dubbo_url_get(u, "side"), "provider", "side=provider");
    is_str(zkr_dubbo_url_get(u, "dynamic"), "true", "dynamic=true");
    is_str(zkr_dubbo_url_get(u, "interface"), "org.x.Svc", "interface");
    ok(zkr_dubbo_url_get(u, "timestamp") != NULL, "timestamp");
    zkr_dubbo_url_free(u);
    is(zkr_dubbo_dir(NULL, "org.x.Svc", NULL, &s), ZKR_OK, "providers dir");
    is_str(s, "/dubbo/org.x.Svc/providers", "providers directory");
    zkr_free(s);
    is(zkr_dubbo_dir("/g", "a b", "routers", &s), ZKR_OK, "odd interface");
    is_str(s, "/g/a+b/routers", "interface is encoded in the path");
    zkr_free(s);

    /* parsing details */
    is(zkr_dubbo_url_parse("dubbo://u:p:w@h:1/p/q?a&b=&=c&&d=e=f", &u),
       ZKR_EINVAL, "empty key refused");
    is(zkr_dubbo_url_parse("dubbo://u:p:w@h:1/p/q?a&b=& x=1 &&d=e=f", &u),
       ZKR_OK, "parse details");
    is_str(zkr_dubbo_url_user(u), "u", "user");
    is_str(zkr_dubbo_url_password(u), "p:w", "password keeps ':'");
    is_str(zkr_dubbo_url_path(u), "p/q", "path keeps '/'");
    is_str(zkr_dubbo_url_get(u, "a"), "a", "key without '=' is its value");
    is_str(zkr_dubbo_url_get(u, "b"), "", "empty value");
    is_str(zkr_dubbo_url_get(u, "x"), "1", "parameter trimmed");
    is_str(zkr_dubbo_url_get(u, "d"), "e=f", "value keeps '='");
    is(zkr_dubbo_url_to_string(u, &s), ZKR_OK, "to_string");
    is_str(s, "dubbo://u:p:w@h:1/p/q?a=a&b=&d=e=f&x=1", "normalised text");
    zkr_free(s);
    zkr_dubbo_url_free(u);
    is(zkr_dubbo_url_parse("rest://[::1]:8080?x=1", &u), ZKR_OK, "IPv6");
    is_str(zkr_dubbo_url_host(u), "[::1]", "IPv6 host");
    is(zkr_dubbo_url_port(u), 8080, "IPv6 port");
    ok(zkr_dubbo_url_path(u) == NULL, "no path");
    zkr_dubbo_url_free(u);
    is(zkr_dubbo_url_parse("a://h?k=v/w", &u), ZKR_OK, "'/' in a value");
    ok(zkr_dubbo_url_path(u) == NULL, "not taken as a path");
    is_str(zkr_dubbo_url_get(u, "k"), "v/w", "value with '/'");
    zkr_dubbo_url_free(u);
    is(zkr_dubbo_url_parse("a://h?k=v?w", &u), ZKR_OK, "'?' in a value");
    is_str(zkr_dubbo_url_get(u, "k"), "v?w", "value with '?'");
    zkr_dubbo_url_free(u);
    is(zkr_dubbo_url_parse("a://h?k=1&k=2", &u), ZKR_OK, "repeated key");
    is_str(zkr_dubbo_url_get(u, "k"), "2", "last value wins");
    zkr_dubbo_url_free(u);

    /* round trips of odd characters through encode + parse */
    round_trip_value("hello world", "spaces");
    round_trip_value("a+b%20c%", "'+' and '%'");
    round_trip_value("x=y=z", "'='");
    round_trip_value("/p?q#r", "'/', '?' and '#'");
    round_trip_value("\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "UTF-8");
    round_trip_value("~!$'()*,;:@[]", "punctuation");
    round_trip_value("", "an empty value");
    round_trip_value("\"quoted\" \\back\\", "quotes and backslashes");

    /* bad URLs */
    is(zkr_dubbo_url_parse(NULL, &u), ZKR_EINVAL, "NULL text");
    is(zkr_dubbo_url_parse("x", NULL), ZKR_EINVAL, "NULL out");
    is(zkr_dubbo_url_parse("", &u), ZKR_EINVAL, "empty text");
    ok(u == NULL, "out cleared");
    is(zkr_dubbo_url_parse("172.19.4.113:20880/x", &u), ZKR_EINVAL,
       "no protocol");
    is(zkr_dubbo_url_parse("://h:1/x", &u), ZKR_EINVAL, "empty protocol");
    is(zkr_dubbo_url_parse("du bbo://h:1/x", &u), ZKR_EINVAL,
       "space in protocol");
    is(zkr_dubbo_url_parse("dubbo://", &u), ZKR_EINVAL, "no host");
    is(zkr_dubbo_url_parse("dubbo://:20880/x", &u), ZKR_EINVAL,
       "empty host");
    is(zkr_dubbo_url_parse("dubbo://h:65536/x", &u), ZKR_EINVAL,
       "port too big");
    is(zkr_dubbo_url_parse("dubbo://h:12a/x", &u), ZKR_EINVAL, "bad port");
    is(zkr_dubbo_url_parse("dubbo://h:/x", &u), ZKR_EINVAL, "empty port");
    is(zkr_dubbo_url_parse("dubbo://h?x://y", &u), ZKR_OK,
       "'://' after '?' is a value");
    zkr_dubbo_url_free(u);
    is(zkr_dubbo_url_parse("a?b://h", &u), ZKR_EINVAL, "'?' before '://'");
    is(zkr_dubbo_url_parse("dubbo://h/x\n", &u), ZKR_EINVAL,
       "control character in path");
    is(zkr_dubbo_url_parse("dubbo://h/x?a=\x01", &u), ZKR_EINVAL,
       "control character in value");
    is(zkr_dubbo_url_from_node("dubbo%3A%2F%2Fh%3A1%2", &u), ZKR_EINVAL,
       "truncated escape in a node name");
    is(zkr_dubbo_url_from_node("h%3A1", &u), ZKR_EINVAL,
       "node name without protocol");
    {
        char *big = malloc(ZKR_MAX_DATA + 20);
        memset(big, 'a', ZKR_MAX_DATA + 19);
        memcpy(big, "dubbo://h/", 10);
        big[ZKR_MAX_DATA + 19] = '\0';
        is(zkr_dubbo_url_parse(big, &u), ZKR_ETOOBIG, "huge URL");
        is(zkr_dubbo_decode(big, &d, NULL), ZKR_ETOOBIG, "huge decode");
        free(big);
    }
    is(zkr_dubbo_url_new(NULL, "h", 1, NULL, &u), ZKR_EINVAL, "NULL protocol");
    is(zkr_dubbo_url_new("dubbo", "", 1, NULL, &u), ZKR_EINVAL, "empty host");
    is(zkr_dubbo_url_new("dubbo", "a/b", 1, NULL, &u), ZKR_EINVAL,
       "'/' in host");
    is(zkr_dubbo_url_new("dubbo", "a:b", 1, NULL, &u), ZKR_EINVAL,
       "':' in a host that is not [IPv6]");
    is(zkr_dubbo_url_new("dubbo", "h", -1, NULL, &u), ZKR_EINVAL,
       "negative port");
    is(zkr_dubbo_url_new("dubbo", "h", 70000, NULL, &u), ZKR_EINVAL,
       "port too big");
    is(zkr_dubbo_url_new("dubbo", "h", 1, "/abs", &u), ZKR_EINVAL,
       "path with a leading '/'");
    is(zkr_dubbo_url_new("dubbo", "h", 1, "a?b", &u), ZKR_EINVAL,
       "'?' in path");
    is(zkr_dubbo_url_new("dubbo", "h", 1, "p", NULL), ZKR_EINVAL, "NULL out");
    is(zkr_dubbo_url_new("dubbo", "h", 0, "p", &u), ZKR_OK, "port 0");
    is(zkr_dubbo_url_to_string(u, &s), ZKR_OK, "to_string");
    is_str(s, "dubbo://h/p", "port 0 is left out");
    zkr_free(s);
    is(zkr_dubbo_url_set(u, "a&b", "1"), ZKR_EINVAL, "'&' in key");
    is(zkr_dubbo_url_set(u, "a=b", "1"), ZKR_EINVAL, "'=' in key");
    is(zkr_dubbo_url_set(u, "", "1"), ZKR_EINVAL, "empty key");
    is(zkr_dubbo_url_set(u, "k", "1&2"), ZKR_EINVAL, "'&' in value");
    is(zkr_dubbo_url_set(u, "k", "1\n"), ZKR_EINVAL, "newline in value");
    is(zkr_dubbo_url_set(NULL, "k", "1"), ZKR_EINVAL, "NULL URL");
    is(zkr_dubbo_url_set(u, NULL, "1"), ZKR_EINVAL, "NULL key");
    is(zkr_dubbo_url_set_auth(u, "a:b", "c"), ZKR_EINVAL, "':' in user");
    is(zkr_dubbo_url_set_auth(u, NULL, "c"), ZKR_EINVAL,
       "password without user");
    is(zkr_dubbo_url_set_auth(u, "me", "secret"), ZKR_OK, "user and password");
    is(zkr_dubbo_url_to_string(u, &s), ZKR_OK, "to_string");
    is_str(s, "dubbo://me:secret@h/p", "user and password written");
    zkr_free(s);
    is(zkr_dubbo_url_registry_path("bad", u, &s), ZKR_EBADPATH,
       "relative root");
    is(zkr_dubbo_url_registry_path(NULL, NULL, &s), ZKR_EINVAL, "NULL URL");
    zkr_dubbo_url_free(u);
    is(zkr_dubbo_dir(NULL, "", NULL, &s), ZKR_EINVAL, "empty interface");
    is(zkr_dubbo_dir(NULL, "x", "", &s), ZKR_EINVAL, "empty category");
    is(zkr_dubbo_dir(NULL, "x", "a/b", &s), ZKR_EBADPATH, "'/' in category");
    is(zkr_dubbo_url_to_string(NULL, &s), ZKR_EINVAL, "to_string NULL");
    ok(zkr_dubbo_url_get(NULL, "k") == NULL && !zkr_dubbo_url_host(NULL) &&
           zkr_dubbo_url_param_count(NULL) == 0,
       "accessors accept NULL");
    zkr_dubbo_url_free(NULL);
    return done_testing();
}
