/*
 * ops_kern.h - not a header: the body of the hot kernels of ops.c, which
 * includes it once per ISA clone (under #pragma GCC target("avx512f"),
 * target("avx2"), then for the baseline), with OPS_ISA naming the clone and
 * K(name) giving name_<OPS_ISA>. Nothing here is visible outside ops.c.
 *
 * LANES (16) partial sums per reduction, combined pairwise in a fixed order
 * (ops.c's header says why): held as NV native vectors of LANES / NV floats,
 * one zmm for AVX-512, two ymm for AVX2, four xmm for the baseline. One
 * 64-byte generic vector (the previous form, the same for every clone) has
 * no machine mode without AVX-512, so gcc kept it in memory and moved it
 * through general registers on every add in the AVX2 and baseline clones:
 * LayerNorm's forward ran at 3 GB/s on a Zen 3 (AVX2) core. Each lane does
 * the same IEEE operations in the same order whatever NV is, so every clone
 * gives the same bits (tests/test_clones.c).
 */
#if defined(__AVX512F__)
#define NV 1        /* vectors per LANES floats */
#define LOG2_VW 4   /* log2(LANES / NV) */
#elif defined(__AVX2__)
#define NV 2
#define LOG2_VW 3
#else
#define NV 4
#define LOG2_VW 2
#endif

#define vec K(vec)
#define veci K(veci)
#define vecu K(vecu)
#define lstore K(lstore)
#define lsub K(lsub)
#define ldiv K(ldiv)
#define ladd_s K(ladd_s)
#define lrsub_s K(lrsub_s)
#define lrdiv_s K(lrdiv_s)
#define lbelow K(lbelow)
#define labove K(labove)
#define lexp K(lexp)
#define lsqrt K(lsqrt)
#define ltanh K(ltanh)
#define lanes K(lanes)
#define lzero K(lzero)
#define lsplat K(lsplat)
#define lload K(lload)
#define ladd K(ladd)
#define lmul K(lmul)
#define lsub_s K(lsub_s)
#define lmul_s K(lmul_s)
#define lmax K(lmax)
#define vsel_gt K(vsel_gt)
#define vsel_lt K(vsel_lt)
#define lsum K(lsum)
#define lmaxall K(lmaxall)
#define sum_lanes K(sum_lanes)
#define dot_lanes K(dot_lanes)
#define max_lanes K(max_lanes)
#define ln_stats K(ln_stats)
#define ln_forward_rows K(ln_forward_rows)

typedef float vec __attribute__((vector_size(LANES / NV * sizeof(float))));
typedef int32_t veci __attribute__((vector_size(LANES / NV * sizeof(int32_t))));
typedef uint32_t vecu __attribute__((vector_size(LANES / NV * sizeof(uint32_t))));
/* lane l is element l % (LANES / NV) of v[l / (LANES / NV)] */
typedef struct { vec v[NV]; } lanes;

/* the loops over j < NV unroll completely (NV <= 4): the vectors stay in registers */
VINLINE lanes lzero(void) {
    lanes r;
    for (int j = 0; j < NV; j++) r.v[j] = (vec){ 0 };
    return r;
}

VINLINE lanes lsplat(float x) {
    lanes r;
    for (int j = 0; j < NV; j++) r.v[j] = (vec){ 0 } + x;
    return r;
}

VINLINE lanes lload(const float *p) {
    lanes r;
    for (int j = 0; j < NV; j++) memcpy(&r.v[j], p + j * (LANES / NV), sizeof r.v[j]);
    return r;
}

VINLINE lanes ladd(lanes a, lanes b) {
    for (int j = 0; j < NV; j++) a.v[j] += b.v[j];
    return a;
}

VINLINE lanes lmul(lanes a, lanes b) {
    for (int j = 0; j < NV; j++) a.v[j] *= b.v[j];
    return a;
}

VINLINE lanes lsub_s(lanes a, float s) {
    for (int j = 0; j < NV; j++) a.v[j] -= s;
    return a;
}

VINLINE lanes lmul_s(lanes a, float s) {
    for (int j = 0; j < NV; j++) a.v[j] *= s;
    return a;
}

/* a > b ? a : b and a < b ? a : b in each lane, exactly: the x86 max/min
 * instructions are defined as these selects (the second operand when the
 * compare is false: a NaN or two zeros), one instruction where gcc emits a
 * compare and a blend for the select (2 uops, on the FP ports that
 * exp's multiplies need) */
VINLINE vec vsel_gt(vec a, vec b) {
#if CLLM_HAVE_CLONES && defined(__AVX512F__)
    return (vec)_mm512_max_ps((__m512)a, (__m512)b);
#elif CLLM_HAVE_CLONES && defined(__AVX2__)
    return (vec)_mm256_max_ps((__m256)a, (__m256)b);
#elif CLLM_HAVE_CLONES
    return (vec)_mm_max_ps((__m128)a, (__m128)b);
#else
    veci m = a > b;
    return (vec)((m & (veci)a) | (~m & (veci)b));
#endif
}

VINLINE vec vsel_lt(vec a, vec b) {
#if CLLM_HAVE_CLONES && defined(__AVX512F__)
    return (vec)_mm512_min_ps((__m512)a, (__m512)b);
#elif CLLM_HAVE_CLONES && defined(__AVX2__)
    return (vec)_mm256_min_ps((__m256)a, (__m256)b);
#elif CLLM_HAVE_CLONES
    return (vec)_mm_min_ps((__m128)a, (__m128)b);
#else
    veci m = a < b;
    return (vec)((m & (veci)a) | (~m & (veci)b));
#endif
}

/* a > b ? a : b in each lane (NaN in a never wins, as in the scalar form) */
VINLINE lanes lmax(lanes a, lanes b) {
    for (int j = 0; j < NV; j++) a.v[j] = vsel_gt(a.v[j], b.v[j]);
    return a;
}

VINLINE void lstore(float *p, lanes a) {
    for (int j = 0; j < NV; j++) memcpy(p + j * (LANES / NV), &a.v[j], sizeof a.v[j]);
}

VINLINE lanes lsub(lanes a, lanes b) {
    for (int j = 0; j < NV; j++) a.v[j] -= b.v[j];
    return a;
}

VINLINE lanes ldiv(lanes a, lanes b) {
    for (int j = 0; j < NV; j++) a.v[j] /= b.v[j];
    return a;
}

VINLINE lanes ladd_s(lanes a, float s) {
    for (int j = 0; j < NV; j++) a.v[j] += s;
    return a;
}

/* s - a, s / a */
VINLINE lanes lrsub_s(float s, lanes a) {
    for (int j = 0; j < NV; j++) a.v[j] = s - a.v[j];
    return a;
}

VINLINE lanes lrdiv_s(float s, lanes a) {
    for (int j = 0; j < NV; j++) a.v[j] = s / a.v[j];
    return a;
}

/* a < c ? c : a and a > c ? c : a in each lane, as the scalar clamps
 * (a NaN stays) */
VINLINE lanes lbelow(lanes a, float c) {
    for (int j = 0; j < NV; j++) a.v[j] = vsel_gt((vec){ 0 } + c, a.v[j]);   /* c > a ? c : a */
    return a;
}

VINLINE lanes labove(lanes a, float c) {
    for (int j = 0; j < NV; j++) a.v[j] = vsel_lt((vec){ 0 } + c, a.v[j]);   /* c < a ? c : a */
    return a;
}

/* sqrtf in each lane (IEEE, correctly rounded, as sqrtf) */
VINLINE lanes lsqrt(lanes a) {
    for (int j = 0; j < NV; j++) {
#if CLLM_HAVE_CLONES && defined(__AVX512F__)
        a.v[j] = (vec)_mm512_sqrt_ps((__m512)a.v[j]);
#elif CLLM_HAVE_CLONES && defined(__AVX2__)
        a.v[j] = (vec)_mm256_sqrt_ps((__m256)a.v[j]);
#elif CLLM_HAVE_CLONES
        a.v[j] = (vec)_mm_sqrt_ps((__m128)a.v[j]);
#else
        for (int l = 0; l < LANES / NV; l++) a.v[j][l] = sqrtf(a.v[j][l]);
#endif
    }
    return a;
}

/* exp_approx (ops.c) on LANES floats: the same operations in the same order
 * in every lane, so the same bits. Each step runs over all NV vectors
 * before the next, so their chains (some 30 dependent operations) are
 * interleaved in the instruction stream: a loop of exp_approx, vectorised
 * by gcc, ran one chain after the other and waited on latency (GELU at
 * half the mul+add peak on a Zen 3) */
VINLINE lanes lexp(lanes x) {
    x = lbelow(x, -87.3f);
    x = labove(x, 88.3f);
    const float shift = 12582912.0f;
    lanes n = lsub_s(ladd_s(lmul_s(x, 1.44269504088896341f), shift), shift);
    lanes r = lsub(x, lmul_s(n, 0.693359375f));
    r = lsub(r, lmul_s(n, -2.12194440e-4f));
    lanes p = lmul_s(r, 1.9875691500e-4f);
    p = ladd_s(p, 1.3981999507e-3f);
    p = ladd_s(lmul(p, r), 8.3334519073e-3f);
    p = ladd_s(lmul(p, r), 4.1665795894e-2f);
    p = ladd_s(lmul(p, r), 1.6666665459e-1f);
    p = ladd_s(lmul(p, r), 5.0000001201e-1f);
    lanes y = ladd_s(ladd(lmul(lmul(p, r), r), r), 1.0f);
    lanes f = ladd_s(n, 127.0f + 8388608.0f);
    lanes sc;
    for (int j = 0; j < NV; j++) sc.v[j] = (vec)(((vecu)f.v[j] - 0x4B000000u) << 23);
    return lmul(y, sc);
}

/* tanh_approx (ops.c) on LANES floats: 1 - 2 / (e^{2u} + 1) */
VINLINE lanes ltanh(lanes u) {
    return lrsub_s(1.0f, lrdiv_s(2.0f, ladd_s(lexp(lmul_s(u, 2.0f)), 1.0f)));
}

/* the lanes added pairwise: lane l += lane l + w for w = LANES/2, ..., 1.
 * The steps with w >= LANES / NV add whole vectors (lane l of v[j] is
 * lane j * LANES / NV + l), the rest are scalar; every loop has a constant
 * trip count and unrolls completely */
/* Full unrolling of the lane reductions below (their trip counts are
 * constants once the outer loop is unrolled). At -O1, as in the sanitizer
 * builds, gcc does not unroll the outer loop and warns that it ignores the
 * inner annotation (-Werror): there the loops run as written, the same
 * operations in the same order, so the same bits. */
#ifndef KERN_UNROLL
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(CLLM_NO_UNROLL)
#define KERN_UNROLL(n)
#else
#define KERN_PRAGMA_(x) _Pragma(#x)
#define KERN_UNROLL(n) KERN_PRAGMA_(GCC unroll n)
#endif
#endif
VINLINE float lsum(lanes v) {
    for (int w = NV / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++) v.v[j] += v.v[j + w];
    float p[LANES / NV];
    memcpy(p, &v.v[0], sizeof p);
KERN_UNROLL(4)
    for (int s = 1; s <= LOG2_VW; s++)
KERN_UNROLL(8)
        for (int l = 0; l < (LANES / NV) >> s; l++) p[l] += p[l + ((LANES / NV) >> s)];
    return p[0];
}

VINLINE float lmaxall(lanes v) {
    for (int w = NV / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++) v.v[j] = vsel_gt(v.v[j + w], v.v[j]);
    float p[LANES / NV];
    memcpy(p, &v.v[0], sizeof p);
KERN_UNROLL(4)
    for (int s = 1; s <= LOG2_VW; s++)
KERN_UNROLL(8)
        for (int l = 0; l < (LANES / NV) >> s; l++) {
            int w = (LANES / NV) >> s;
            p[l] = p[l + w] > p[l] ? p[l + w] : p[l];
        }
    return p[0];
}

/* sum of x[0..n): lane l adds x[l], x[l + LANES], ...; the lanes pairwise;
 * then the tail past the last whole group, in order */
VINLINE float sum_lanes(const float *x, size_t n) {
    lanes p = lzero();
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) p = ladd(p, lload(x + i));
    float s = lsum(p);
    for (; i < n; i++) s += x[i];
    return s;
}

/* sum of a[i] * b[i] over [0, n), in the same order */
VINLINE float dot_lanes(const float *a, const float *b, size_t n) {
    lanes p = lzero();
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) p = ladd(p, lmul(lload(a + i), lload(b + i)));
    float s = lsum(p);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* max of x[0..n), n >= 1; every lane starts at 0 + x[0] (so -0 starts as +0) */
VINLINE float max_lanes(const float *x, size_t n) {
    lanes p = lsplat(0.0f + x[0]);
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) p = lmax(lload(x + i), p);
    float mx = lmaxall(p);
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

/* ---------------------------------------------------------------- layernorm */

/* LayerNorm's forward takes LN_FROWS rows at a time, their reductions side
 * by side: one row's sums are serial chains (each lane adds into itself),
 * R rows keep R independent chains in flight. Each row still does its own
 * operations in its own order, so the bits are those of one row at a time
 * (tests/test_clones.c checks it). R * NV accumulator vectors must stay in
 * registers: 16 named vector registers without AVX-512. */
#if NV == 4
#define LN_FROWS 2
#else
#define LN_FROWS 4
#endif

/* mean m[r] and 1/std s[r] of the R rows x + r * C (R <= LN_FROWS, a
 * constant where inlined): sum, mean, then the squared deviations, each
 * row as sum_lanes and its variance loop did it alone */
VINLINE void ln_stats(const float *x, size_t C, int R, float *m_out, float *s_out) {
    const float eps = 1e-5f;
    const size_t cv = C / LANES * LANES;
    lanes p[LN_FROWS];
    float m[LN_FROWS];
    for (int r = 0; r < R; r++) p[r] = lzero();
    for (size_t i = 0; i < cv; i += LANES)
        for (int r = 0; r < R; r++) p[r] = ladd(p[r], lload(x + r * C + i));
    for (int r = 0; r < R; r++) {
        float t = lsum(p[r]);
        for (size_t i = cv; i < C; i++) t += x[r * C + i];
        m[r] = t / (float)C;
        p[r] = lzero();
    }
    for (size_t i = 0; i < cv; i += LANES)
        for (int r = 0; r < R; r++) {
            lanes d = lsub_s(lload(x + r * C + i), m[r]);
            p[r] = ladd(p[r], lmul(d, d));
        }
    for (int r = 0; r < R; r++) {
        float v = lsum(p[r]);
        for (size_t i = cv; i < C; i++) { float d = x[r * C + i] - m[r]; v += d * d; }
        v /= (float)C;
        m_out[r] = m[r];
        s_out[r] = 1.0f / sqrtf(v + eps);
    }
}

/* rows [n, n + R) of layernorm_forward, their mean and rstd known */
VINLINE void ln_forward_rows(float *out, const float *mean, const float *rstd, const float *inp,
                             const float *w, const float *b, float *res_out,
                             const float *res_bias, size_t n, size_t C, int R) {
    for (int r = 0; r < R; r++) {
        const float *x = inp + (n + r) * C;
        layernorm_row(out + (n + r) * C, x, w, b, mean[n + r], rstd[n + r], C);
        if (res_out) {
            float *o = res_out + (n + r) * C;
            for (size_t i = 0; i < C; i++) o[i] = x[i] + res_bias[i];
        }
    }
}

/* Software-pipelined over groups of LN_FROWS rows: the statistics of the
 * next group (reductions, a division, a square root: a chain of latencies)
 * are taken before the current group is normalised, so that independent
 * work overlaps them; a group normalised right after its own statistics
 * waited for them (perf annotate of layernorm_forward_avx2). */
static void K(layernorm_forward)(float *out, float *mean, float *rstd, const float *inp,
                                 const float *w, const float *b, float *res_out,
                                 const float *res_bias, size_t N, size_t C) {
    const size_t ng = N / LN_FROWS;
    if (ng) ln_stats(inp, C, LN_FROWS, mean, rstd);
    for (size_t g = 0; g < ng; g++) {
        const size_t n = g * LN_FROWS;
        if (g + 1 < ng)
            ln_stats(inp + (n + LN_FROWS) * C, C, LN_FROWS, mean + n + LN_FROWS, rstd + n + LN_FROWS);
        ln_forward_rows(out, mean, rstd, inp, w, b, res_out, res_bias, n, C, LN_FROWS);
    }
    for (size_t n = ng * LN_FROWS; n < N; n++) {
        ln_stats(inp + n * C, C, 1, mean + n, rstd + n);
        ln_forward_rows(out, mean, rstd, inp, w, b, res_out, res_bias, n, C, 1);
    }
}

static void K(layernorm_apply)(float *out, const float *inp, const float *w, const float *b,
                               const float *mean, const float *rstd, size_t N, size_t C) {
    for (size_t n = 0; n < N; n++)
        layernorm_row(out + n * C, inp + n * C, w, b, mean[n], rstd[n], C);
}

/* Not pipelined nor taken several rows at a time as the forward is: on the
 * Zen 3 VM neither form (rows in pairs sharing the dw/db pass, the next
 * rows' reductions taken first) beat this one (interleaved runs, config S):
 * its working set (inp, dout, dinp) streams from the LLC */
static void K(layernorm_backward)(float *dinp, float *dw, float *db, const float *dout,
                                  const float *inp, const float *w, const float *mean,
                                  const float *rstd, size_t N, size_t C) {
    memset(dw, 0, sizeof(float) * C);
    memset(db, 0, sizeof(float) * C);
    for (size_t n = 0; n < N; n++) {
        const float *d = dout + n * C;
        const float *x = inp + n * C;
        float *dx = dinp + n * C;
        float m = mean[n], s = rstd[n];
        /* two reductions: the means of dnorm and of dnorm * norm */
        lanes pa = lzero(), pb = lzero();
        size_t i = 0;
        for (; i + LANES <= C; i += LANES) {
            lanes norm = lmul_s(lsub_s(lload(x + i), m), s);
            lanes dnorm = lmul(lload(w + i), lload(d + i));
            pa = ladd(pa, dnorm);
            pb = ladd(pb, lmul(dnorm, norm));
        }
        float ta = lsum(pa), tb = lsum(pb);
        for (; i < C; i++) {
            float norm = (x[i] - m) * s;
            float dnorm = w[i] * d[i];
            ta += dnorm;
            tb += dnorm * norm;
        }
        layernorm_backward_row(dx, dw, db, d, x, w, m, s, ta / (float)C, tb / (float)C, C);
    }
}

/* ---------------------------------------------------------------- attention */

static void K(attention_forward)(float *out, float *stats, float *scratch, const float *qkv,
                                 size_t B, size_t T, size_t C, size_t NH) {
    const size_t HS = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)HS);
    float *a = scratch;                     /* (qn, kn) scores, then the softmax */
    for (size_t b = 0; b < B; b++) {
        for (size_t h = 0; h < NH; h++) {
            const float *q = qkv + b * T * C3 + h * HS;
            const float *k = q + C, *v = q + 2 * C;
            float *o = out + b * T * C + h * HS;
            float *st = stats + (b * NH + h) * T * 2;
            for (size_t q0 = 0; q0 < T; q0 += ATT_QB) {
                size_t qn = MIN((size_t)ATT_QB, T - q0), kn = q0 + qn;
                attention_scores(a, q, k, q0, qn, HS, C3, scale);
                for (size_t r = 0; r < qn; r++) {
                    size_t t = q0 + r, n = t + 1;     /* row t sees keys 0..t */
                    float *row = a + r * kn;
                    float mx = max_lanes(row, n);
                    size_t j = 0;
                    for (; j + LANES <= n; j += LANES) lstore(row + j, lexp(lsub_s(lload(row + j), mx)));
                    for (; j < n; j++) row[j] = exp_approx(row[j] - mx);
                    float inv = 1.0f / sum_lanes(row, n);
                    j = 0;
                    for (; j < n; j++) row[j] *= inv;
                    for (; j < kn; j++) row[j] = 0.0f;
                    st[2 * t] = mx;
                    st[2 * t + 1] = inv;
                }
                /* out = a @ v over the keys this block sees */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_dim(qn), blas_dim(HS),
                            blas_dim(kn), 1.0f, a, blas_dim(kn), v, blas_dim(C3), 0.0f, o + q0 * C,
                            blas_dim(C));
            }
        }
    }
}

static void K(attention_backward)(float *dqkv, float *scratch, const float *dout, const float *qkv,
                                  const float *stats, size_t B, size_t T, size_t C, size_t NH) {
    const size_t HS = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)HS);
    float *a = scratch, *da = scratch + (size_t)ATT_QB * T;   /* (qn, kn) each */
    const size_t nblk = (T + ATT_QB - 1) / ATT_QB;
    for (size_t b = 0; b < B; b++) {
        for (size_t h = 0; h < NH; h++) {
            const float *q = qkv + b * T * C3 + h * HS;
            const float *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + b * T * C3 + h * HS;
            float *dk = dq + C, *dv = dq + 2 * C;
            const float *d = dout + b * T * C + h * HS;
            const float *st = stats + (b * NH + h) * T * 2;
            /* the last block first: it sees every key, so it overwrites all
             * of dk, dv, and the blocks before it add to them */
            for (size_t blk = nblk; blk-- > 0;) {
                size_t q0 = blk * ATT_QB, qn = MIN((size_t)ATT_QB, T - q0), kn = q0 + qn;
                float beta = blk == nblk - 1 ? 0.0f : 1.0f;
                /* the forward's softmax again: the same scores, max and 1/sum, so the same bits */
                attention_scores(a, q, k, q0, qn, HS, C3, scale);
                /* out = a @ v  ->  da = dout v^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_dim(qn), blas_dim(kn),
                            blas_dim(HS), 1.0f, d + q0 * C, blas_dim(C), v, blas_dim(C3), 0.0f, da,
                            blas_dim(kn));
                for (size_t r = 0; r < qn; r++) {
                    size_t t = q0 + r, n = t + 1;
                    float *arow = a + r * kn, *drow = da + r * kn;
                    float mx = st[2 * t], inv = st[2 * t + 1];
                    /* a = softmax(s) over j <= t  ->  ds = a * (da - sum(a * da)) */
                    size_t j = 0;
                    for (; j + LANES <= n; j += LANES)
                        lstore(arow + j, lmul_s(lexp(lsub_s(lload(arow + j), mx)), inv));
                    for (; j < n; j++) arow[j] = exp_approx(arow[j] - mx) * inv;
                    float dot = dot_lanes(arow, drow, n);
                    j = 0;
                    for (; j < n; j++) drow[j] = arow[j] * (drow[j] - dot);
                    for (; j < kn; j++) arow[j] = drow[j] = 0.0f;
                }
                /* s = scale * q k^T  ->  dq = scale ds k,  dk = scale ds^T q;  dv = a^T dout */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_dim(qn), blas_dim(HS),
                            blas_dim(kn), scale, da, blas_dim(kn), k, blas_dim(C3), 0.0f, dq + q0 * C3,
                            blas_dim(C3));
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_dim(kn), blas_dim(HS),
                            blas_dim(qn), scale, da, blas_dim(kn), q + q0 * C3, blas_dim(C3), beta, dk,
                            blas_dim(C3));
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_dim(kn), blas_dim(HS),
                            blas_dim(qn), 1.0f, a, blas_dim(kn), d + q0 * C, blas_dim(C), beta, dv,
                            blas_dim(C3));
            }
        }
    }
}

/* ---------------------------------------------------------------- gelu */

static void K(gelu_forward)(float *out, float *dgelu, const float *inp, size_t N) {
    size_t i = 0;
    if (!dgelu) {
        /* whole groups of LANES as lanes (ltanh), the same operations as the tail's */
        for (; i + LANES <= N; i += LANES) {
            lanes x = lload(inp + i);
            lanes u = lmul_s(ladd(x, lmul(lmul(lmul_s(x, 0.044715f), x), x)), GELU_K);
            lstore(out + i, lmul(lmul_s(x, 0.5f), ladd_s(ltanh(u), 1.0f)));
        }
        for (; i < N; i++) {
            float x = inp[i];
            out[i] = 0.5f * x * (1.0f + tanh_approx(GELU_K * (x + 0.044715f * x * x * x)));
        }
        return;
    }
    /* dgelu may be inp (the backward's recompute): each group is loaded
     * before it is written */
    for (; i + LANES <= N; i += LANES) {
        lanes x = lload(inp + i);
        lanes th = ltanh(lmul_s(ladd(x, lmul(lmul(lmul_s(x, 0.044715f), x), x)), GELU_K));
        lanes sech2 = lrsub_s(1.0f, lmul(th, th));
        lanes xc = lbelow(labove(x, 10.0f), -10.0f);
        lanes th1 = ladd_s(th, 1.0f);
        lstore(out + i, lmul(lmul_s(x, 0.5f), th1));
        lanes g = lmul_s(lmul(lmul_s(xc, 0.5f), sech2), GELU_K);
        lanes poly = ladd_s(lmul(lmul_s(xc, 3.0f * 0.044715f), xc), 1.0f);
        lstore(dgelu + i, ladd(lmul_s(th1, 0.5f), lmul(g, poly)));
    }
    for (; i < N; i++) {
        float x = inp[i];
        float th = tanh_approx(GELU_K * (x + 0.044715f * x * x * x));
        float sech2 = 1.0f - th * th;
        /* d/dx 0.5 x (1 + tanh(u)) = 0.5 (1 + tanh u) + 0.5 x sech^2(u) u' */
        /* |x| > 10 saturates tanh (sech^2 = 0): clamping there keeps x^2 finite
         * for huge x (inf * 0 would be NaN) and changes nothing else */
        float xc = x < -10.0f ? -10.0f : x > 10.0f ? 10.0f : x;
        out[i] = 0.5f * x * (1.0f + th);
        dgelu[i] = 0.5f * (1.0f + th) + 0.5f * xc * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * xc * xc);
    }
}

static void K(gelu_backward)(float *dinp, const float *dgelu, const float *dout, size_t N) {
    for (size_t i = 0; i < N; i++) dinp[i] = dgelu[i] * dout[i];
}

/* ---------------------------------------------------------------- loss */

static double K(crossentropy_forward)(float *logits, float *scale, float *losses,
                                      const int *targets, size_t N, size_t V) {
    double total = 0.0;
    for (size_t n = 0; n < N; n++) {
        float *p = logits + n * V;
        float mx = max_lanes(p, V);
        float lt = p[targets[n]];
        size_t i = 0;
        for (; i + LANES <= V; i += LANES) lstore(p + i, lexp(lsub_s(lload(p + i), mx)));
        for (; i < V; i++) p[i] = exp_approx(p[i] - mx);
        /* 8 double partial sums in a fixed order: vectorisable and exact enough */
        double part[8] = { 0 };
        i = 0;
        for (; i + 8 <= V; i += 8)
            for (int l = 0; l < 8; l++) part[l] += p[i + l];
        double tail = 0.0;
        for (; i < V; i++) tail += p[i];
        double sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7])) + tail;
        scale[n] = (float)(1.0 / sum);
        /* -log softmax[target] from the logit: no log of a rounded probability */
        losses[n] = (float)(log(sum) - (double)(lt - mx));
        total += losses[n];
    }
    return total;
}

static void K(crossentropy_backward)(float *logits, const float *scale, const int *targets,
                                     float dloss, size_t N, size_t V) {
    for (size_t n = 0; n < N; n++) {
        float *p = logits + n * V;
        const float s = scale[n] * dloss;
        for (size_t i = 0; i < V; i++) p[i] *= s;   /* loss = -log softmax(logits)[target] */
        p[targets[n]] -= dloss;
    }
}

/* ---------------------------------------------------------------- adamw */

static void K(adamw_update)(float *restrict p, float *restrict m, float *restrict v,
                            const float *restrict grad, size_t n, const adamw_step *s) {
    const float b1 = s->beta1, b2 = s->beta2, c1 = 1.0f - s->beta1, c2 = 1.0f - s->beta2;
    const float rb1 = s->rb1, rb2 = s->rb2, lr = s->lr, eps = s->eps, wd = s->wd, gs = s->gscale;
    size_t k = 0;
    /* whole groups of LANES as lanes: the tail's operations in the same
     * order, the NV vectors' chains (sqrt and division among them)
     * interleaved, as in lexp */
    for (; k + LANES <= n; k += LANES) {
        lanes g = lmul_s(lload(grad + k), gs);
        lanes mk = ladd(lmul_s(lload(m + k), b1), lmul_s(g, c1));
        lanes vk = ladd(lmul_s(lload(v + k), b2), lmul(lmul_s(g, c2), g));
        lstore(m + k, mk);
        lstore(v + k, vk);
        lanes pk = lload(p + k);
        lanes t = ldiv(lmul_s(mk, rb1), ladd_s(lsqrt(lmul_s(vk, rb2)), eps));
        lstore(p + k, lsub(pk, lmul_s(ladd(t, lmul_s(pk, wd)), lr)));
    }
    for (; k < n; k++) {
        float g = grad[k] * gs;
        float mk = m[k] = b1 * m[k] + c1 * g;
        float vk = v[k] = b2 * v[k] + c2 * g * g;
        p[k] -= lr * (mk * rb1 / (sqrtf(vk * rb2) + eps) + wd * p[k]);
    }
}

static const ops_kernels K(ops_kernels) = {
    K(layernorm_forward), K(layernorm_apply), K(layernorm_backward), K(attention_forward),
    K(attention_backward), K(gelu_forward), K(gelu_backward), K(crossentropy_forward),
    K(crossentropy_backward), K(adamw_update),
};

#undef vec
#undef veci
#undef vecu
#undef lstore
#undef lsub
#undef ldiv
#undef ladd_s
#undef lrsub_s
#undef lrdiv_s
#undef lbelow
#undef labove
#undef lexp
#undef lsqrt
#undef ltanh
#undef lanes
#undef lzero
#undef lsplat
#undef lload
#undef ladd
#undef lmul
#undef lsub_s
#undef lmul_s
#undef lmax
#undef vsel_gt
#undef vsel_lt
#undef lsum
#undef lmaxall
#undef sum_lanes
#undef dot_lanes
#undef max_lanes
#undef ln_stats
#undef ln_forward_rows
#undef NV
#undef LOG2_VW
#undef LN_FROWS
