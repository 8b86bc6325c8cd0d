/* SPDX-License-Identifier: Apache-2.0 */
/* recipes/lockdir.c with its contender listing reachable (see reach.h). */
#include "../recipes/lockdir.c"

#include "reach.h"

zkr__lnode_t *fz_lockdir_sort(const zkr__lockspec_t *spec, char *const *names,
                              int n, int *k)
{
    struct String_vector sv = {n, (char **)names};
    *k = 0;
    return sort_children(spec, &sv, k);
}
