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

/* dst[k] = ((src[0][k] + src[1][k]) + src[2][k]) + ... + src[n-1][k] for k
 * in [0, len), in that order for every element (so the bits do not depend
 * on the blocking below, the thread count's slicing, the split into ranks
 * or the CPU); dst may be src[0] (the in-place combine of one process's
 * workers), else it overlaps no source. Returns the squared norm of the
 * result: eight double partial sums, sum l taking the elements l, l + 8,
 * ... of dst in increasing order (elements past the last multiple of 8 go to
 * sum 0), added as ((s0+s1)+(s2+s3))+((s4+s5)+(s6+s7)). The trainer's slices
 * start at multiples of 16 floats, so the lanes are the same whichever
 * worker or rank sums a slice.
 *
 * Bytes moved, counted as STREAM counts its triad (every array read once
 * plus every array written once, no write-allocate): 4 len (n + 1) for
 * n > 1 (n buffers read, one written), 4 len for n = 1 in place (the norm
 * reads dst and writes nothing). */
double reduce_sum(float *dst, const float *const *src, int n, size_t len);

#ifdef __cplusplus
}
#endif

#endif
