/* SPDX-License-Identifier: Apache-2.0 */
/* examples/zkr-lock.c, main renamed, with its option parsing reachable (see
 * reach.h). */
#define main fz_zkr_lock_main
int fz_zkr_lock_main(int argc, char **argv);
#include "../examples/zkr-lock.c"
#undef main

#include "reach.h"

int fz_lock_parse_seconds(const char *s, double *out)
{
    return parse_seconds(s, out);
}
