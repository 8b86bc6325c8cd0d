/* SPDX-License-Identifier: Apache-2.0 */
/* Entry points into the static parsers of the library and the tools, for
 * the fuzz targets. Each fuzz/reach-X.c includes one source file and
 * defines the wrappers declared here; fuzz/run.sh links it into every
 * target in place of the recipes/X.c it includes (a tool's main is
 * renamed). These wrappers exist only in fuzz builds. */
#ifndef ZKR_FUZZ_REACH_H
#define ZKR_FUZZ_REACH_H

#include <stddef.h>
#include <stdint.h>

#include "../recipes/lockdir.h"

/* ---- recipes/counter.c: node data of a counter -------------------------- */

/* enc is a zkr_counter_encoding_t; initial: the value of an empty node. */
int fz_counter_decode(int enc, int64_t initial, const void *data,
                      size_t len, int64_t *v);
/* Writes the encoding of v (4 or 8 bytes) to out; returns its size. */
size_t fz_counter_encode(int enc, int64_t v, unsigned char out[8]);
int fz_counter_in_range(int enc, int64_t v);
int64_t fz_counter_wrap_add(int enc, int64_t a, int64_t b);

/* ---- recipes/naming.c: id generator metadata ---------------------------- */

/* 1 and *batch when v is metadata, 0 otherwise. */
int fz_idgen_parse_meta(const char *v, int len, int *batch);
/* The metadata text the generator writes for batch; its length. */
int fz_idgen_format_meta(int batch, char *buf, size_t len);
int fz_idgen_max_batch(void);

/* ---- recipes/queuelist.c: shard, item and lease names ------------------- */

int fz_queue_is_shard_name(const char *s);
typedef struct fz_qlist fz_qlist_t;
/* A listing as the consumer keeps it: items_only keeps "qn-<seq>" items
 * (the shard listing), else every name (the lease listing, sorted by
 * name as the consumer does). NULL on ENOMEM. */
fz_qlist_t *fz_qlist_new(char *const *names, int n, int items_only);
int fz_qlist_count(const fz_qlist_t *l);
const char *fz_qlist_name(const fz_qlist_t *l, int i);
int32_t fz_qlist_seq(const fz_qlist_t *l, int i);
/* Is item of shard ("" when not sharded) in the lease listing l? */
int fz_qlist_leased(const fz_qlist_t *l, const char *shard,
                    const char *item);
void fz_qlist_free(fz_qlist_t *l);

/* ---- recipes/election.c: candidate names -------------------------------- */

/* Candidates among names, sorted: up to n into onames/oseqs; the count,
 * or -1 on ENOMEM. */
int fz_election_collect(char *const *names, int n, const char **onames,
                        int32_t *oseqs);

/* ---- recipes/lockdir.c: contenders of a lock directory ------------------ */

/* Contenders among names for spec, sorted; *k of them. Caller frees the
 * array (names are borrowed). NULL on ENOMEM. */
zkr__lnode_t *fz_lockdir_sort(const zkr__lockspec_t *spec, char *const *names,
                              int n, int *k);

/* ---- examples/: option values of the command-line tools ----------------- */

/* zkr-config --signal PIDFILE:SIG: the signal number of SIG, or -1. */
int fz_config_signal_number(const char *s);
/* SECONDS options: 1 and *out when valid (--wait, --grace). */
int fz_lock_parse_seconds(const char *s, double *out);
int fz_elect_parse_seconds(const char *s, double *out);
int fz_queue_parse_seconds(const char *s, double *out);

#endif
