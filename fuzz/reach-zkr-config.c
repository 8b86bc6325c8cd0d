/* SPDX-License-Identifier: Apache-2.0 */
/* examples/zkr-config.c, main renamed, with its option parsing reachable
 * (see reach.h). */
#define main fz_zkr_config_main
int fz_zkr_config_main(int argc, char **argv);
#include "../examples/zkr-config.c"
#undef main

#include "reach.h"

int fz_config_signal_number(const char *s)
{
    return signal_number(s);
}
