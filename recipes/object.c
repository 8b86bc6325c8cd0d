/* SPDX-License-Identifier: Apache-2.0 */
/* Reference-counted recipe objects and the contexts their callbacks get. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int zkr__obj_init(zkr__obj_t *o, void (*destroy)(zkr__obj_t *o))
{
    if (pthread_mutex_init(&o->mu, NULL) != 0)
        return ZKR_ENOMEM;
    o->refs = 1;
    o->destroy = destroy;
    return ZKR_OK;
}

void zkr__obj_unref(zkr__obj_t *o)
{
    int last;
    pthread_mutex_lock(&o->mu);
    last = --o->refs == 0;
    pthread_mutex_unlock(&o->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&o->mu);
    o->destroy(o);
}

void zkr__obj_fini(zkr__obj_t *o)
{
    pthread_mutex_destroy(&o->mu);
}

zkr__ctx_t *zkr__ctx_new(zkr__obj_t *o, unsigned attempt, unsigned token,
                         const char *name)
{
    zkr__ctx_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    if (name && !(x->name = strdup(name))) {
        free(x);
        return NULL;
    }
    x->o = o;
    x->attempt = attempt;
    x->token = token;
    o->refs++;
    return x;
}

void zkr__ctx_drop(zkr__ctx_t *x)
{
    if (!x)
        return;
    x->o->refs--; /* never the last: the caller's own path holds one */
    free(x->name);
    free(x);
}

void zkr__ctx_done(zkr__ctx_t *x)
{
    zkr__obj_t *o = x->o;
    free(x->name);
    free(x);
    zkr__obj_unref(o);
}
