/*
 * ranks.h - the combine of gradients across the ranks of the MPI variant,
 * and the all-gather of the parameters after it. trainer.c's step calls
 * these between the pool's barriers (it keeps the barriers, the phase
 * clocks and which worker does what); this file holds the arithmetic and
 * the MPI calls (through comm.h), so that their order is stated once:
 *
 *   1. every worker: this rank's sum over its T workers' gradient buffers
 *      of the slices it handles                          ranks_local_sum
 *   2. worker 0: each rank's range to its owner          ranks_exchange
 *   3. every worker: its own slice, the R ranks' sums added in rank order
 *      0..R-1, and its squared norm                      ranks_owner_sum
 *   4. (AdamW on the owned range, in trainer.c)
 *   5. worker 0: every rank's updated range to all       ranks_allgather
 *      (--overlap on: posted bucket by bucket, waited for in the next
 *      step's forward before the layer that reads it   ranks_params_post)
 *
 * Every sum is reduce_sum's fixed order (reduce.h), so R ranks x 1 thread
 * give the bits of 1 process x R threads; the library reduces nothing.
 * Worker 0 alone calls MPI (MPI_THREAD_FUNNELED, comm.h).
 */
#ifndef CLLM_RANKS_H
#define CLLM_RANKS_H

#include <stddef.h>

#include "comm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A view of the trainer's rank fields; owns nothing. */
typedef struct {
    comm_t *comm;
    int rank, nranks;          /* this rank of nranks */
    int nth;                   /* workers (threads) of each rank */
    const size_t *off, *cnt;   /* [nranks]: the parameter range each rank owns */
    float *xbuf;               /* nranks x cnt[rank]: what the exchange receives, rank-major */
} ranks_t;

/* grad[0][k0, k1) = sum over j = 0..nth-1 of grad[j][k0, k1), in that
 * order (nothing to do when nth == 1). */
void ranks_local_sum(const ranks_t *r, float *const *grad, size_t k0, size_t k1);
/* Worker 0, after every worker's local sums: rank d's range of grad0 goes to
 * rank d; xbuf receives this rank's range from every rank. */
void ranks_exchange(const ranks_t *r, const float *grad0);
/* grad0[k0, k1) (inside this rank's range) = the ranks' sums of it added in
 * rank order 0..R-1 from xbuf; returns its squared norm (reduce_sum's). */
double ranks_owner_sum(const ranks_t *r, float *grad0, size_t k0, size_t k1);
/* Worker 0, after the optimizer: every rank's range of params to every rank. */
void ranks_allgather(const ranks_t *r, float *params);
/* Bytes this rank sends and receives per step: the exchange, the all-gather
 * and the per-step statistics (2 doubles per worker). 0 with one rank. */
void ranks_bytes(const ranks_t *r, double *sent, double *received);

/* ---- the overlapped exchange (--overlap on). A bucket is the slices of
 * the parameter vector whose gradients backward finishes together: bucket b
 * < L is layer L-1-b's slice of each of the 12 per-layer tensors (model.h's
 * layout keeps a tensor's layers apart: 12 segments), bucket L the
 * embeddings and the final LayerNorm (final only when backward returns).
 * Every bucket goes to its owners as soon as it is ready; what lands in
 * xbuf, and so every sum after it, is what ranks_exchange delivers. */
#define RANKS_SEGS_MAX 16
typedef struct { size_t off, len; } ranks_seg;
typedef struct { int nseg; ranks_seg seg[RANKS_SEGS_MAX]; } ranks_bucket;

/* The L + 1 buckets into b, from the tensors' element counts (model.h's
 * param_counts, in P_* order). */
void ranks_buckets(const size_t *pcount, int L, ranks_bucket *b);
/* The most messages the L + 1 buckets post in a step on either queue
 * (comm_reserve). */
int ranks_messages(const ranks_t *r, int L);
/* This rank's sum over its nth buffers of bucket b, in place into grad[0]
 * (ranks_local_sum over each segment). */
void ranks_bucket_local_sum(const ranks_t *r, float *const *grad, const ranks_bucket *b);
/* Worker 0: post bucket b's sends (its parts in other ranks' ranges) and
 * receives (its part in this rank's range, from every other rank, into
 * xbuf), and copy this rank's own part into xbuf, on COMM_Q_GRAD.
 * comm_wait_all completes them; every rank posts the buckets in the same
 * order. */
void ranks_bucket_post(const ranks_t *r, const float *grad0, const ranks_bucket *b);
/* Worker 0, after the optimizer: post bucket b's all-gather: sends = 1,
 * this rank's updated part of each segment to every other rank
 * (COMM_Q_PARAM_SEND); sends = 0, every other rank's part into params (in
 * place, where ranks_allgather puts it; COMM_Q_PARAM). Every rank posts the
 * sends and the receives each in bucket order. Nothing may read a received
 * part before its messages are complete, nor write a sent part before they
 * are. */
void ranks_params_post(const ranks_t *r, float *params, const ranks_bucket *b, int sends);

#ifdef __cplusplus
}
#endif

#endif
