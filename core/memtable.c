/*
 * memtable.c - the memory table (memtable.h): every buffer of a trainer of
 * a given shape, from the same size table the allocator carves, and the
 * parameter slices the workers and ranks own.
 */
#include "memtable.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "trainer.h"
#include "util.h"

/* the parameter slice [k0, k1) of worker g of n: whole cache lines (16
 * floats) each, the last ones short or empty */
void memtable_worker_slice(size_t np, int n, int g, size_t *k0, size_t *k1) {
    size_t dr = (np + n - 1) / n;
    dr = (dr + 15) / 16 * 16;
    *k0 = MIN((size_t)g * dr, np);
    *k1 = MIN(*k0 + dr, np);
}

/* the range rank r of R owns: the slices of its nth workers */
void memtable_rank_range(size_t np, int nth, int R, int r, size_t *off, size_t *cnt) {
    size_t a, b, e;
    memtable_worker_slice(np, nth * R, r * nth, off, &b);
    memtable_worker_slice(np, nth * R, r * nth + nth - 1, &a, &e);
    *cnt = e - *off;
}

int trainer_memtable(const config_t *c, int nth, int strong, int recompute, memtable_t *mt,
                     char *err, size_t errlen) {
    return trainer_memtable_rank(c, nth, strong, recompute, 0, 1, mt, err, errlen);
}

int trainer_memtable_rank(const config_t *c, int nth, int strong, int recompute, int rank, int nranks,
                          memtable_t *mt, char *err, size_t errlen) {
    memset(mt, 0, sizeof *mt);
    int nw = nth * nranks;
    if (strong && c->B < nw) {
        if (nranks > 1)
            snprintf(err, errlen, "--scaling strong: the global batch of %d sequences is smaller than the %d "
                     "workers (%d ranks x --threads %d) that strong scaling splits it over; raise --batch to "
                     "at least %d", c->B, nw, nranks, nth, nw);
        else
            snprintf(err, errlen, "--scaling strong: the global batch of %d sequences is smaller than "
                     "--threads %d (strong scaling splits it over the threads); raise --batch to at least %d",
                     c->B, nth, nth);
        return -2;
    }
    mt->Bmax = strong ? (c->B + nw - 1) / nw : c->B;
    mt->rank = rank;
    mt->nranks = nranks;
    if ((long long)mt->Bmax * c->T > INT_MAX) {
        snprintf(err, errlen, "a worker's %d sequences of %d tokens are %lld rows, more than the %d "
                 "rows a BLAS call takes (int): lower --batch or --seq", mt->Bmax, c->T,
                 (long long)mt->Bmax * c->T, INT_MAX);
        return -1;
    }
    size_t ctx_bytes;
    int n = ctx_layout(c, mt->Bmax, recompute, NULL, mt->per_thread, &ctx_bytes);
    if (n < 0) { snprintf(err, errlen, "config sizes overflow the per-thread buffers"); return -1; }
    size_t counts[P_COUNT];
    size_t np = param_counts(c, counts), pbytes;
    if (!size_mul(np, sizeof(float), &pbytes)) { snprintf(err, errlen, "parameter bytes overflow"); return -1; }
    mt->per_thread[n++] = (mem_item){ "grad", pbytes, NULL };
    mt->per_thread[n++] = (mem_item){ "worker_state", trainer_worker_bytes(), NULL };
    mt->n_per_thread = n;
    size_t pad_p = mem_round_line(pbytes);
    if (!size_add(ctx_bytes, pad_p, &mt->per_thread_total)) goto overflow;
    /* worker_t lives in the trainer's array of workers, padded to a line */
    mt->per_thread_total += trainer_worker_bytes();
    /* Adam's moments are sharded over the ranks (ZeRO-1): this rank's range;
     * with several ranks, the receive buffer of the exchange too */
    size_t off, cnt;
    memtable_rank_range(np, nth, nranks, rank, &off, &cnt);
    mt->shard = cnt;
    size_t sbytes = cnt * sizeof(float), pad_s = mem_round_line(sbytes);
    mt->shared[0] = (mem_item){ "params", pbytes, NULL };
    mt->shared[1] = (mem_item){ "adam_m", sbytes, NULL };
    mt->shared[2] = (mem_item){ "adam_v", sbytes, NULL };
    mt->n_shared = 3;
    if (!size_add(pad_p, pad_s, &mt->shared_total) || !size_add(mt->shared_total, pad_s, &mt->shared_total))
        goto overflow;
    if (nranks > 1) {
        size_t xbytes;
        if (!size_mul(sbytes, (size_t)nranks, &xbytes)) goto overflow;
        mt->shared[mt->n_shared++] = (mem_item){ "comm_recv", xbytes, NULL };
        if (!size_add(mt->shared_total, mem_round_line(xbytes), &mt->shared_total)) goto overflow;
    }
    size_t all;
    if (!size_mul(mt->per_thread_total, (size_t)nth, &all) || !size_add(all, mt->shared_total, &mt->total))
        goto overflow;
    return 0;
overflow:
    snprintf(err, errlen, "config sizes overflow: the memory footprint does not fit in 64 bits");
    return -1;
}

