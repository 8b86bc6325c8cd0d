/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: Dubbo URL parsing, percent-encoding and decoding on
 * arbitrary bytes. Invariants: decode(encode(x)) == x for NUL-free x; a
 * parsed URL prints to text that parses back to the same text, also
 * through its encoded node name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zkr/registry.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_url(const char *text)
{
    zkr_dubbo_url_t *u = NULL, *v = NULL, *w = NULL;
    char *s1 = NULL, *s2 = NULL, *node = NULL, *s3 = NULL, *path = NULL;
    if (zkr_dubbo_url_parse(text, &u) != ZKR_OK)
        return;
    if (zkr_dubbo_url_to_string(u, &s1) != ZKR_OK)
        abort();
    if (zkr_dubbo_url_parse(s1, &v) != ZKR_OK)
        abort(); /* printed text must parse */
    if (zkr_dubbo_url_to_string(v, &s2) != ZKR_OK || strcmp(s1, s2) != 0)
        abort();
    if (zkr_dubbo_url_node(u, &node) != ZKR_OK)
        abort();
    if (zkr_dubbo_url_from_node(node, &w) != ZKR_OK)
        abort();
    if (zkr_dubbo_url_to_string(w, &s3) != ZKR_OK || strcmp(s1, s3) != 0)
        abort();
    (void)zkr_dubbo_url_registry_path(NULL, u, &path);
    for (int i = 0; i < zkr_dubbo_url_param_count(u); i++) {
        const char *k, *val;
        if (zkr_dubbo_url_param_at(u, i, &k, &val) != ZKR_OK ||
            strcmp(zkr_dubbo_url_get(u, k), val) != 0)
            abort();
    }
    zkr_free(path);
    zkr_free(s1);
    zkr_free(s2);
    zkr_free(s3);
    zkr_free(node);
    zkr_dubbo_url_free(u);
    zkr_dubbo_url_free(v);
    zkr_dubbo_url_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *enc = NULL, *dec = NULL;
    size_t dlen = 0;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    if (zkr_dubbo_encode(data, size, &enc) == ZKR_OK) {
        int rc = zkr_dubbo_decode(enc, &dec, &dlen);
        if (memchr(data, 0, size) ? rc != ZKR_EINVAL
                                  : rc != ZKR_OK || dlen != size ||
                                        memcmp(dec, data, size) != 0)
            abort();
        zkr_free(dec);
        dec = NULL;
    }
    zkr_free(enc);
    if (zkr_dubbo_decode(text, &dec, &dlen) == ZKR_OK) {
        check_url(dec);
        zkr_free(dec);
    }
    check_url(text);
    free(text);
    return 0;
}
