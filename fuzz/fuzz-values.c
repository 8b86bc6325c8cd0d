/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the parsers of node data: a counter's value (Curator's
 * 8- and 4-byte big-endian encodings) and the id generator's metadata
 * ("zkr-idgen batch=N"). Invariants:
 *  - counter: data of the right size decodes, and encodes back to the
 *    same bytes; an empty node is the initial value; any other size is
 *    ZKR_EMARSHALLING; decode(encode(v)) == v for v in range; adds wrap
 *    like Java's int and long;
 *  - metadata: an accepted batch is within 1..MAX_BATCH and its written
 *    form parses back to it; accepted text other than the written form is
 *    only what strtol forgives (leading blanks, a '+', leading zeros) or
 *    bytes after a NUL. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reach.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int64_t be(const uint8_t *p, size_t n)
{
    uint64_t u = 0;
    for (size_t i = 0; i < n; i++)
        u = u << 8 | p[i];
    return n == 4 ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
}

static void check_counter(int enc, const uint8_t *data, size_t size)
{
    size_t want = enc ? 4 : 8;
    int64_t v = 0, initial = size >= 8 ? be(data, 8) : 42, w = 0, a, b, s;
    unsigned char out[8];
    int rc = fz_counter_decode(enc, initial, data, size, &v);
    if (size == 0) {
        if (rc != ZKR_OK || v != initial)
            abort();
    } else if (size != want) {
        if (rc != ZKR_EMARSHALLING)
            abort();
    } else {
        /* format(parse(x)) == x */
        if (rc != ZKR_OK || !fz_counter_in_range(enc, v) ||
            fz_counter_encode(enc, v, out) != want ||
            memcmp(out, data, want) != 0 || v != be(data, want))
            abort();
    }
    /* parse(format(v)) == v, for values from the input */
    if (size >= 16) {
        a = be(data, 8);
        b = be(data + 8, 8);
        if (enc)
            a = (int32_t)a;
        if (fz_counter_encode(enc, a, out) != want ||
            fz_counter_decode(enc, 0, out, want, &w) != ZKR_OK || w != a)
            abort();
        if (fz_counter_in_range(enc, b) !=
            (!enc || (b >= INT32_MIN && b <= INT32_MAX)))
            abort();
        s = fz_counter_wrap_add(enc, a, b);
        if (enc ? s != (int64_t)(int32_t)(uint32_t)((uint64_t)a + (uint64_t)b)
                : s != (int64_t)((uint64_t)a + (uint64_t)b))
            abort();
        if (!fz_counter_in_range(enc, s))
            abort(); /* a sum is always storable */
    }
}

/* Text strtol takes as n that is not "%d" of n: leading blanks, a '+',
 * leading zeros. */
static int forgiven(const char *num)
{
    const char *p = num;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '+')
        p++;
    return p != num || (p[0] == '0' && p[1] != '\0');
}

static void check_meta(const uint8_t *data, size_t size)
{
    static const char prefix[] = "zkr-idgen batch=";
    char text[80], copy[80];
    int batch = 0, again = 0, n;
    if (size > (1u << 20) ||
        !fz_idgen_parse_meta((const char *)data, (int)size, &batch))
        return;
    if (batch < 1 || batch > fz_idgen_max_batch())
        abort();
    n = fz_idgen_format_meta(batch, text, sizeof text);
    if (n <= 0 || !fz_idgen_parse_meta(text, n, &again) || again != batch)
        abort();
    if ((size_t)n == size && memcmp(text, data, size) == 0)
        return; /* the written form */
    /* anything else accepted must be a forgiven spelling of the number */
    if (size >= sizeof copy || size <= sizeof prefix - 1 ||
        memcmp(data, prefix, sizeof prefix - 1) != 0)
        abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    if (strlen(copy) == size && !forgiven(copy + sizeof prefix - 1))
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* every batch the generator may write reads back */
    (void)argc;
    (void)argv;
    for (int b = 1; b <= fz_idgen_max_batch(); b++) {
        char text[80];
        int n = fz_idgen_format_meta(b, text, sizeof text), again = 0;
        if (!fz_idgen_parse_meta(text, n, &again) || again != b)
            abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_counter(0, data, size);
    check_counter(1, data, size);
    check_meta(data, size);
    return 0;
}
