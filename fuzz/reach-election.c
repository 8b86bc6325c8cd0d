/* SPDX-License-Identifier: Apache-2.0 */
/* recipes/election.c with its candidate listing reachable (see reach.h). */
#include "../recipes/election.c"

#include "reach.h"

int fz_election_collect(char *const *names, int n, const char **onames,
                        int32_t *oseqs)
{
    lnode_t *v = NULL;
    int k = collect(names, n, &v);
    for (int i = 0; i < k; i++) {
        onames[i] = v[i].name;
        oseqs[i] = v[i].seq;
    }
    free(v);
    return k;
}
