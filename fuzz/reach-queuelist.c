/* SPDX-License-Identifier: Apache-2.0 */
/* recipes/queuelist.c with its name parsing reachable (see reach.h). */
#include "../recipes/queuelist.c"

#include "reach.h"

struct fz_qlist {
    qlist_t l;
};

int fz_queue_is_shard_name(const char *s)
{
    return is_shard_name(s);
}

fz_qlist_t *fz_qlist_new(char *const *names, int n, int items_only)
{
    fz_qlist_t *f = calloc(1, sizeof *f);
    struct String_vector sv = {n, (char **)names};
    if (!f)
        return NULL;
    f->l.rc = ZKR_OK;
    qlist_fill(&f->l, &sv, items_only);
    if (f->l.rc != ZKR_OK) {
        fz_qlist_free(f);
        return NULL;
    }
    if (!items_only) /* as leases_list_cb sorts the lease listing */
        qsort(f->l.names, (size_t)f->l.n, sizeof *f->l.names, cmp_str);
    return f;
}

int fz_qlist_count(const fz_qlist_t *f)
{
    return f->l.n;
}

const char *fz_qlist_name(const fz_qlist_t *f, int i)
{
    return f->l.names[i];
}

int32_t fz_qlist_seq(const fz_qlist_t *f, int i)
{
    return f->l.seqs[i];
}

int fz_qlist_leased(const fz_qlist_t *f, const char *shard,
                    const char *item)
{
    return leased_in(&f->l, shard, item);
}

void fz_qlist_free(fz_qlist_t *f)
{
    if (!f)
        return;
    if (f->l.names)
        zkr_strings_free(f->l.names, f->l.n);
    free(f->l.seqs);
    free(f);
}
