/* SPDX-License-Identifier: Apache-2.0 */
/* recipes/counter.c with its value codec reachable (see reach.h). */
#include "../recipes/counter.c"

#include "reach.h"

static void fake(zkr_counter_t *k, int enc, int64_t initial)
{
    memset(k, 0, sizeof *k);
    k->enc = enc ? ZKR_COUNTER_INT : ZKR_COUNTER_LONG;
    k->initial = initial;
}

int fz_counter_decode(int enc, int64_t initial, const void *data,
                      size_t len, int64_t *v)
{
    zkr_counter_t k;
    fake(&k, enc, initial);
    return decode(&k, data, len, v);
}

size_t fz_counter_encode(int enc, int64_t v, unsigned char out[8])
{
    zkr_counter_t k;
    fake(&k, enc, 0);
    encode(&k, v, out);
    return enc_size(&k);
}

int fz_counter_in_range(int enc, int64_t v)
{
    zkr_counter_t k;
    fake(&k, enc, 0);
    return in_range(&k, v);
}

int64_t fz_counter_wrap_add(int enc, int64_t a, int64_t b)
{
    zkr_counter_t k;
    fake(&k, enc, 0);
    return wrap_add(&k, a, b);
}
