/*
 * reduce.c - the gradient combine at memory speed (see reduce.h).
 *
 * The slice is walked in blocks of REDUCE_BLOCK floats (8 KiB of each
 * buffer). Inside a block, the other buffers are added into grad[0] four at
 * a time, g0 = (((g0 + a) + b) + c) + d, so each pass streams four
 * buffers from memory while grad[0]'s block stays in L1, and grad[0] is
 * loaded and stored once per four buffers instead of once per buffer; then the
 * block's squared norm is taken from L1, its eight partial sums as one
 * vector. Measured on the 2-vCPU AMD EPYC VM (family 26 model 2, the Zen 5
 * family) with the machine quiet (interleaved
 * repetitions, medians), against the previous kernel (one buffer at a time,
 * 1 KiB blocks, a scalar norm): at DRAM sizes the same speed at 2 buffers
 * on 2 threads (57 vs 59 GB/s, both at memory speed, 128% of the triad
 * counted alike), 1.47x at 63 buffers on 2 threads (42.5 vs 29.0 GB/s),
 * 1.09x at 1 thread (the norm alone: 28.2 vs 25.7); in cache 1.27x at 16
 * buffers and 1.67x at 63. Blocks of 1-2K floats did best (4K lost 5% in
 * cache); groups of 8 gained nothing over 4; software prefetch of the next
 * block lost 10-40%; fusing the norm into the last add pass lost 40%.
 */
#include "reduce.h"

#include <string.h>

#include "ops.h"
#include "util.h"

#if CLLM_HAVE_CLONES
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#define REDUCE_BLOCK 2048

/* The norm's eight partial sums as vectors: lane l is sum l of reduce.h,
 * the same IEEE operations in the same order as eight scalar sums, which
 * gcc does not vectorise (it ran at half the speed of the adds in cache).
 * One 64-byte vector of doubles for AVX-512, two 32-byte ones for AVX2
 * (in intrinsics: norm_block_avx2 below), four 16-byte ones for the
 * baseline: a 64-byte vector has no machine mode
 * without AVX-512, and gcc had kept it in memory, moved through general
 * registers on every add (the norm alone ran at 2.7 GB/s on a Zen 3 core
 * in cache and from DRAM alike, against 13 GB/s for the two-buffer
 * combine). */
typedef float v8f __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));
typedef float v2f __attribute__((vector_size(8)));
typedef double v2d __attribute__((vector_size(16)));

/* g0[b, e) = f[b, e) + the n_add buffers of add[] in order, n_add 1..4;
 * f is g0 (in place) or overlaps none of them. Inlined into each case of
 * add_group, so that the in-place one is compiled knowing f == g0: gcc then
 * tests at run time only the overlaps that can exist (one loop leaving
 * f == g0 to that test ran 5-10% slower at 2 buffers in cache on the
 * 2-vCPU Zen 5 VM, shared, interleaved medians) */
static inline __attribute__((always_inline)) void add_terms(float *g0, const float *f,
                                                          const float *const *add, int n_add,
                                                          size_t b, size_t e) {
    const float *restrict a = add[0];
    if (n_add == 4) {
        const float *restrict x = add[1], *restrict y = add[2], *restrict z = add[3];
        for (size_t k = b; k < e; k++) g0[k] = (((f[k] + a[k]) + x[k]) + y[k]) + z[k];
    } else if (n_add == 3) {
        const float *restrict x = add[1], *restrict y = add[2];
        for (size_t k = b; k < e; k++) g0[k] = ((f[k] + a[k]) + x[k]) + y[k];
    } else if (n_add == 2) {
        const float *restrict x = add[1];
        for (size_t k = b; k < e; k++) g0[k] = (f[k] + a[k]) + x[k];
    } else {
        for (size_t k = b; k < e; k++) g0[k] = f[k] + a[k];
    }
}

/* dst[b, e) = first[b, e) + the n_add buffers of add[] in order; first may
 * be dst (in place); n_add is 0..4 */
static inline __attribute__((always_inline)) void add_group(float *dst, const float *first, const float *const *add, int n_add,
                             size_t b, size_t e) {
    if (n_add == 0) {
        if (first != dst) memcpy(dst + b, first + b, (e - b) * sizeof(float));
    } else if (first == dst) {
        add_terms(dst, dst, add, n_add, b, e);
    } else {
        add_terms(dst, first, add, n_add, b, e);
    }
}

/* sq[l] += dst[k]^2 for k = l, l + 8, ... in [b, b + 8 * ((e - b) / 8)):
 * nv (1 or 4) vectors of 8 / nv doubles (a constant where this is inlined) */
static inline __attribute__((always_inline)) size_t norm_block(double sq[8], const float *dst,
                                                                size_t b, size_t e, int nv) {
    size_t k = b;
    if (nv == 1) {
        v8d s;
        memcpy(&s, sq, sizeof s);
        for (; k + 8 <= e; k += 8) {
            v8f x;
            memcpy(&x, dst + k, sizeof x);
            v8d d = __builtin_convertvector(x, v8d);
            s += d * d;
        }
        memcpy(sq, &s, sizeof s);
    } else {
        v2d s0, s1, s2, s3;
        memcpy(&s0, sq, sizeof s0);
        memcpy(&s1, sq + 2, sizeof s1);
        memcpy(&s2, sq + 4, sizeof s2);
        memcpy(&s3, sq + 6, sizeof s3);
        for (; k + 8 <= e; k += 8) {
#if defined(__SSE2__)
            /* SSE2 (the x86-64 baseline): two cvtps2pd per 4 floats; the
             * generic conversion below became 8 scalar cvtss2sd and unpacks
             * (objdump of reduce_sum). The same exact conversions */
            __m128 xa = _mm_loadu_ps(dst + k), xb = _mm_loadu_ps(dst + k + 4);
            v2d d0 = (v2d)_mm_cvtps_pd(xa), d1 = (v2d)_mm_cvtps_pd(_mm_movehl_ps(xa, xa));
            v2d d2 = (v2d)_mm_cvtps_pd(xb), d3 = (v2d)_mm_cvtps_pd(_mm_movehl_ps(xb, xb));
#else
            v2f x0, x1, x2, x3;
            memcpy(&x0, dst + k, sizeof x0);
            memcpy(&x1, dst + k + 2, sizeof x1);
            memcpy(&x2, dst + k + 4, sizeof x2);
            memcpy(&x3, dst + k + 6, sizeof x3);
            v2d d0 = __builtin_convertvector(x0, v2d), d1 = __builtin_convertvector(x1, v2d);
            v2d d2 = __builtin_convertvector(x2, v2d), d3 = __builtin_convertvector(x3, v2d);
#endif
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
        }
        memcpy(sq, &s0, sizeof s0);
        memcpy(sq + 2, &s1, sizeof s1);
        memcpy(sq + 4, &s2, sizeof s2);
        memcpy(sq + 6, &s3, sizeof s3);
    }
    return k;
}

/* reduce_sum with the norm in nv vectors; inlined into one function per ISA */
static inline __attribute__((always_inline)) double reduce_body(float *dst, const float *const *src,
                                                                 int n, size_t len, int nv) {
    /* 8 partial sums in a fixed order: one serial chain of double adds would
     * cost its 4-cycle latency per element */
    double sq[8] = { 0 };
    for (size_t b = 0; b < len; b += REDUCE_BLOCK) {
        size_t e = MIN(b + REDUCE_BLOCK, len);
        /* the first group starts from src[0] (a copy when dst is not src[0]),
         * the others add into dst */
        add_group(dst, src[0], src + 1, MIN(4, n - 1), b, e);
        for (int j = 5; j < n; j += 4) add_group(dst, dst, src + j, MIN(4, n - j), b, e);
        size_t k = norm_block(sq, dst, b, e, nv);
        for (; k < e; k++) sq[0] += (double)dst[k] * dst[k];
    }
    return ((sq[0] + sq[1]) + (sq[2] + sq[3])) + ((sq[4] + sq[5]) + (sq[6] + sq[7]));
}

#if CLLM_HAVE_CLONES
#pragma GCC push_options
#pragma GCC target("avx512f")
static double reduce_sum_avx512f(float *dst, const float *const *src, int n, size_t len) {
    return reduce_body(dst, src, n, len, 1);
}
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2")
/* norm_block with nv = 2 in intrinsics: gcc 12 lowered the generic v4f ->
 * v4d conversion to four 2-float conversions, two 8-byte loads and two
 * inserts per 8 floats (objdump of reduce_sum_avx2), which ran the norm at
 * a third of the LLC's bandwidth on a Zen 3; here each half is one
 * vcvtps2pd from memory. The same conversions (exact), products (exact in
 * double) and adds in the same order, so the same bits */
static inline __attribute__((always_inline)) size_t norm_block_avx2(double sq[8], const float *dst,
                                                                     size_t b, size_t e) {
    __m256d s0 = _mm256_loadu_pd(sq), s1 = _mm256_loadu_pd(sq + 4);
    size_t k = b;
    for (; k + 8 <= e; k += 8) {
        __m256d d0 = _mm256_cvtps_pd(_mm_loadu_ps(dst + k));
        __m256d d1 = _mm256_cvtps_pd(_mm_loadu_ps(dst + k + 4));
        s0 = _mm256_add_pd(s0, _mm256_mul_pd(d0, d0));
        s1 = _mm256_add_pd(s1, _mm256_mul_pd(d1, d1));
    }
    _mm256_storeu_pd(sq, s0);
    _mm256_storeu_pd(sq + 4, s1);
    return k;
}

/* reduce_body with norm_block_avx2 */
static double reduce_sum_avx2(float *dst, const float *const *src, int n, size_t len) {
    double sq[8] = { 0 };
    for (size_t b = 0; b < len; b += REDUCE_BLOCK) {
        size_t e = MIN(b + REDUCE_BLOCK, len);
        add_group(dst, src[0], src + 1, MIN(4, n - 1), b, e);
        for (int j = 5; j < n; j += 4) add_group(dst, dst, src + j, MIN(4, n - j), b, e);
        size_t k = norm_block_avx2(sq, dst, b, e);
        for (; k < e; k++) sq[0] += (double)dst[k] * dst[k];
    }
    return ((sq[0] + sq[1]) + (sq[2] + sq[3])) + ((sq[4] + sq[5]) + (sq[6] + sq[7]));
}
#pragma GCC pop_options
#endif

/* the clone ops.c picked (ops_isa_id) */
double reduce_sum(float *dst, const float *const *src, int n, size_t len) {
#if CLLM_HAVE_CLONES
    switch (ops_isa_id()) {
    case OPS_ISA_AVX512F: return reduce_sum_avx512f(dst, src, n, len);
    case OPS_ISA_AVX2: return reduce_sum_avx2(dst, src, n, len);
    default: break;
    }
#endif
    return reduce_body(dst, src, n, len, 4);
}
