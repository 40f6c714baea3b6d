/*
 * ranks.c - the combine of gradients across ranks and the parameter
 * all-gather (ranks.h): fixed-order sums around comm.h's collectives.
 */
#include "ranks.h"

#include "reduce.h"
#include "trainer.h"   /* THREADS_MAX */

void ranks_local_sum(const ranks_t *r, float *const *grad, size_t k0, size_t k1) {
    if (r->nth == 1) return;
    const float *src[THREADS_MAX];
    for (int j = 0; j < r->nth; j++) src[j] = grad[j] + k0;
    reduce_sum(grad[0] + k0, src, r->nth, k1 - k0);
}

void ranks_exchange(const ranks_t *r, const float *grad0) {
    comm_exchange(r->comm, grad0, r->off, r->cnt, r->xbuf);
}

double ranks_owner_sum(const ranks_t *r, float *grad0, size_t k0, size_t k1) {
    const float *src[RANKS_MAX];
    size_t cnt = r->cnt[r->rank], rel = k0 - r->off[r->rank];
    for (int d = 0; d < r->nranks; d++) src[d] = r->xbuf + (size_t)d * cnt + rel;
    return reduce_sum(grad0 + k0, src, r->nranks, k1 - k0);
}

void ranks_allgather(const ranks_t *r, float *params) {
    comm_allgather(r->comm, params, r->off, r->cnt);
}

void ranks_bytes(const ranks_t *r, double *sent, double *received) {
    /* the exchange sends every other rank its range and receives this
     * rank's range from each; the allgather the reverse; the per-step
     * statistics add 2 doubles per worker */
    double other = 0, mine = (double)r->cnt[r->rank] * (r->nranks - 1);
    for (int d = 0; d < r->nranks; d++)
        if (d != r->rank) other += (double)r->cnt[d];
    double stat = 16.0 * r->nth * (r->nranks - 1);
    *sent = r->nranks > 1 ? 4.0 * (other + mine) + stat : 0.0;
    *received = *sent > 0 ? 4.0 * (mine + other) + 16.0 * r->nth * (r->nranks - 1) : 0.0;
}
