/* SPDX-License-Identifier: Apache-2.0 */
/* examples/zkr-queue.c, main renamed, with its option parsing reachable (see
 * reach.h). */
#define main fz_zkr_queue_main
int fz_zkr_queue_main(int argc, char **argv);
#include "../examples/zkr-queue.c"
#undef main

#include "reach.h"

int fz_queue_parse_seconds(const char *s, double *out)
{
    return parse_seconds(s, out);
}
