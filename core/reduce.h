/*
 * reduce.h - the gradient combine: one worker's slice of the parameter
 * vector summed over every worker's gradient buffer, in a fixed order.
 */
#ifndef CLLM_REDUCE_H
#define CLLM_REDUCE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* grad[0][k] = ((grad[0][k] + grad[1][k]) + grad[2][k]) + ... + grad[n-1][k]
 * for k in [k0, k1), in that order for every element (so the bits do not
 * depend on the blocking below, the thread count's slicing or the CPU), and
 * returns the squared norm of the result: eight double partial sums, sum l
 * taking the elements k0 + l, k0 + l + 8, ... in increasing k (elements past
 * the last multiple of 8 go to sum 0), added as ((s0+s1)+(s2+s3))+((s4+s5)+(s6+s7)).
 * k0 must be a multiple of 8. The buffers must not overlap.
 *
 * Bytes moved, counted as STREAM counts its triad (every array read once
 * plus every array written once, no write-allocate): 4 (k1 - k0) (n + 1)
 * for n > 1 (n buffers read, one written), 4 (k1 - k0) for n = 1 (the norm
 * reads grad[0] and writes nothing). */
double reduce_sum(float *const *grad, int n, size_t k0, size_t k1);

#ifdef __cplusplus
}
#endif

#endif
