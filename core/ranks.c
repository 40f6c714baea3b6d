/*
 * ranks.c - the combine of gradients across ranks and the parameter
 * all-gather (ranks.h): fixed-order sums around comm.h's collectives.
 */
#include "ranks.h"

#include <string.h>

#include "model.h"

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

void ranks_buckets(const size_t *pcount, int L, ranks_bucket *b) {
    size_t base[P_COUNT], at = 0;
    for (int i = 0; i < P_COUNT; i++) {
        base[i] = at;
        at += pcount[i];
    }
    for (int k = 0; k < L; k++) {
        size_t l = (size_t)(L - 1 - k);
        b[k].nseg = 0;
        for (int i = P_LN1W; i <= P_FCPROJB; i++) {
            size_t per = pcount[i] / (size_t)L;
            b[k].seg[b[k].nseg++] = (ranks_seg){ base[i] + l * per, per };
        }
    }
    static const int rest[] = { P_WTE, P_WPE, P_LNFW, P_LNFB };
    b[L].nseg = 0;
    for (size_t j = 0; j < sizeof rest / sizeof rest[0]; j++)
        b[L].seg[b[L].nseg++] = (ranks_seg){ base[rest[j]], pcount[rest[j]] };
}

int ranks_messages(const ranks_t *r, int L) {
    /* a segment sends to at most every other rank and receives from each */
    return (12 * L + 4) * 2 * (r->nranks - 1);
}

void ranks_bucket_local_sum(const ranks_t *r, float *const *grad, const ranks_bucket *b) {
    for (int i = 0; i < b->nseg; i++) ranks_local_sum(r, grad, b->seg[i].off, b->seg[i].off + b->seg[i].len);
}

void ranks_bucket_post(const ranks_t *r, const float *grad0, const ranks_bucket *b) {
    const int me = r->rank;
    const size_t mine = r->cnt[me];
    for (int i = 0; i < b->nseg; i++) {
        size_t s0 = b->seg[i].off, s1 = s0 + b->seg[i].len;
        for (int d = 0; d < r->nranks; d++) {
            size_t a = s0 > r->off[d] ? s0 : r->off[d], e = s1 < r->off[d] + r->cnt[d] ? s1 : r->off[d] + r->cnt[d];
            if (a >= e) continue;
            if (d != me) {
                comm_post_send(r->comm, COMM_Q_GRAD, grad0 + a, e - a, d);
                continue;
            }
            size_t rel = a - r->off[me];
            memcpy(r->xbuf + (size_t)me * mine + rel, grad0 + a, (e - a) * sizeof(float));
            for (int q = 0; q < r->nranks; q++)
                if (q != me) comm_post_recv(r->comm, COMM_Q_GRAD, r->xbuf + (size_t)q * mine + rel, e - a, q);
        }
    }
}

void ranks_params_post(const ranks_t *r, float *params, const ranks_bucket *b, int sends) {
    const int me = r->rank;
    for (int i = 0; i < b->nseg; i++) {
        size_t s0 = b->seg[i].off, s1 = s0 + b->seg[i].len;
        for (int d = 0; d < r->nranks; d++) {
            size_t a = s0 > r->off[d] ? s0 : r->off[d], e = s1 < r->off[d] + r->cnt[d] ? s1 : r->off[d] + r->cnt[d];
            if (a >= e) continue;
            if (d != me && !sends) comm_post_recv(r->comm, COMM_Q_PARAM, params + a, e - a, d);
            for (int q = 0; q < r->nranks && d == me && sends; q++)
                if (q != me) comm_post_send(r->comm, COMM_Q_PARAM_SEND, params + a, e - a, q);
        }
    }
}
