/* SPDX-License-Identifier: Apache-2.0 */
/* recipes/naming.c with the id generator's metadata parser reachable (see
 * reach.h). */
#include "../recipes/naming.c"

#include "reach.h"

int fz_idgen_parse_meta(const char *v, int len, int *batch)
{
    return parse_meta(v, len, batch);
}

int fz_idgen_format_meta(int batch, char *buf, size_t len)
{
    /* as meta_cb writes it */
    return snprintf(buf, len, META_PREFIX "%d", batch);
}

int fz_idgen_max_batch(void)
{
    return MAX_BATCH;
}
