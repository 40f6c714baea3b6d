/*
 * memtable.h - the memory table: the bytes of every buffer a trainer of a
 * given shape allocates (the same size table the allocator carves: one
 * owner), and the parameter slices of workers and ranks. Pure functions of
 * the shape; the trainer, its report, --memory-table and --describe read it.
 */
#ifndef CLLM_MEMTABLE_H
#define CLLM_MEMTABLE_H

#include <stddef.h>

#include "config.h"
#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- memory table: the same sizes the allocator uses ---- */
typedef struct {
    mem_item per_thread[CTX_ITEMS + 2];
    int n_per_thread;
    size_t per_thread_total;     /* one worker's allocation, padded */
    mem_item shared[4];          /* params, adam_m, adam_v (this rank's shard), comm_recv (ranks > 1) */
    int n_shared;
    size_t shared_total;
    size_t total;                /* shared + nth * per_thread: one rank's */
    int Bmax;                    /* sequences per worker context */
    int rank, nranks;
    size_t shard;                /* parameters whose moments this rank holds */
} memtable_t;

/* The table of the layout for recompute mode `recompute` (model.h). -1 with
 * err when sizes overflow; -2 (bad input: the caller's usage error) when the
 * split is impossible (strong scaling with fewer sequences than workers). */
int trainer_memtable(const config_t *c, int nth, int strong, int recompute, memtable_t *m,
                     char *err, size_t errlen);
/* The table of rank `rank` of nranks, nth threads each (trainer_memtable is
 * rank 0 of 1). */
int trainer_memtable_rank(const config_t *c, int nth, int strong, int recompute, int rank, int nranks,
                          memtable_t *m, char *err, size_t errlen);

/* The parameter slice [k0, k1) of worker g of n: whole cache lines (16
 * floats) each, the last ones short or empty. */
void memtable_worker_slice(size_t np, int n, int g, size_t *k0, size_t *k1);
/* The range [off, off + cnt) rank r of R owns: the slices of its nth workers. */
void memtable_rank_range(size_t np, int nth, int R, int r, size_t *off, size_t *cnt);

#ifdef __cplusplus
}
#endif

#endif
