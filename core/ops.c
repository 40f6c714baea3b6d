/*
 * ops.c - forward and backward of each layer. One implementation, called by
 * every worker thread on its own buffers; matmuls go through CBLAS.
 * Backward comments quote the forward line they invert.
 *
 * Reductions (sums, maxima) run in LANES partial results (one vector value)
 * combined in a fixed pairwise order, then the tail: since every lane does
 * the same IEEE operations in the same order whatever the vector width, each
 * target_clones clone (util.h HOT) gives the same bits (tests/test_clones.c
 * checks it).
 */
#include "ops.h"
#include "util.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define LANES 16            /* one AVX-512 register of floats */
/* query rows per attention block: against 64, attention's forward+backward
 * took 4% longer with 32 at config S's shape (the same at M's), 14% longer
 * with 128 (the whole square) */
#ifndef ATT_QB
#define ATT_QB 64
#endif

/* ---------------------------------------------------------------- exp, reductions */

/* expf in plain C the compiler can vectorise (glibc's expf and tanhf are
 * scalar calls and were 28% of a step on config S). Cody-Waite reduction
 * x = n ln2 + r, |r| <= ln2/2, then Cephes' degree-6 polynomial for e^r:
 * about 2 ulp over the clamped range. Inputs below -87.3 give 2^-126 instead
 * of 0 or a denormal, which is harmless where it is used (softmax terms,
 * GELU saturation). Deterministic: no -ffast-math involved. */
static inline float exp_approx(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    const float shift = 12582912.0f;                 /* 1.5 * 2^23: round to nearest */
    float n = (x * 1.44269504088896341f + shift) - shift;
    float r = x - n * 0.693359375f;                  /* ln2 split in two parts */
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    /* 2^n: n + 127 in [1, 254] lands in the low mantissa bits of f, then
     * moves to the exponent field; unsigned, so even a NaN x is no UB (and
     * y is NaN then, so NaN propagates) */
    float f = n + (127.0f + 8388608.0f);
    uint32_t fb;
    memcpy(&fb, &f, sizeof fb);
    uint32_t bits = (fb - 0x4B000000u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

/* LANES floats as one value (GCC/clang vector extension): the compiler
 * keeps it in one AVX-512 register, two AVX2 ones or four SSE ones, and each
 * lane does the same IEEE operations whatever the width. Partial sums live
 * in such a value, in registers; an array of lanes indexed by a variable
 * (for the tail) had kept them in memory and made these loops 3-4x slower. */
typedef float vfloat __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t vint __attribute__((vector_size(LANES * sizeof(int32_t))));
/* the helpers below are always inlined into their caller (its clone), so
 * no vector crosses a call: the compilers' note that passing one without
 * AVX-512 changes the ABI does not apply (gcc and clang both know -Wpsabi) */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#define VINLINE static inline __attribute__((always_inline))

VINLINE vfloat vload(const float *p) {
    vfloat v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* a > b ? a : b in each lane (NaN in a never wins, as in the scalar form) */
VINLINE vfloat vmax(vfloat a, vfloat b) {
    vint m = a > b;
    return (vfloat)((m & (vint)a) | (~m & (vint)b));
}

/* the lanes added pairwise: lane l += lane l + w for w = LANES/2, ..., 1 */
VINLINE float vsum(vfloat v) {
    float p[LANES];
    memcpy(p, &v, sizeof p);
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) p[l] += p[l + w];
    return p[0];
}

VINLINE float vmaxall(vfloat v) {
    float p[LANES];
    memcpy(p, &v, sizeof p);
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) p[l] = p[l + w] > p[l] ? p[l + w] : p[l];
    return p[0];
}

/* sum of x[0..n): lane l adds x[l], x[l + LANES], ...; the lanes pairwise;
 * then the tail past the last whole group, in order */
VINLINE float sum_lanes(const float *x, size_t n) {
    vfloat p = { 0 };
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) p += vload(x + i);
    float s = vsum(p);
    for (; i < n; i++) s += x[i];
    return s;
}

/* sum of a[i] * b[i] over [0, n), in the same order */
VINLINE float dot_lanes(const float *a, const float *b, size_t n) {
    vfloat p = { 0 };
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) p += vload(a + i) * vload(b + i);
    float s = vsum(p);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* max of x[0..n), n >= 1 */
VINLINE float max_lanes(const float *x, size_t n) {
    vfloat p = { 0 };
    p += x[0];
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) p = vmax(vload(x + i), p);
    float mx = vmaxall(p);
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

/* ---------------------------------------------------------------- encoder */

void encoder_forward(float *out, const int *inp, const float *wte, const float *wpe,
                     size_t B, size_t T, size_t C) {
    for (size_t b = 0; b < B; b++) {
        for (size_t t = 0; t < T; t++) {
            float *o = out + (b * T + t) * C;
            const float *te = wte + (size_t)inp[b * T + t] * C;
            const float *pe = wpe + t * C;
            for (size_t i = 0; i < C; i++) o[i] = te[i] + pe[i];
        }
    }
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp,
                      size_t B, size_t T, size_t C) {
    memset(dwpe, 0, sizeof(float) * T * C);
    for (size_t b = 0; b < B; b++) {
        for (size_t t = 0; t < T; t++) {
            const float *d = dout + (b * T + t) * C;
            float *dte = dwte + (size_t)inp[b * T + t] * C;
            float *dpe = dwpe + t * C;
            for (size_t i = 0; i < C; i++) {
                dte[i] += d[i];   /* o[i] = te[i] + pe[i] */
                dpe[i] += d[i];
            }
        }
    }
}

/* ---------------------------------------------------------------- layernorm */

static inline void layernorm_row(float *restrict o, const float *restrict x, const float *restrict w,
                                 const float *restrict b, float m, float s, size_t C) {
    for (size_t i = 0; i < C; i++) o[i] = (x[i] - m) * s * w[i] + b[i];
}

HOT void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                           const float *w, const float *b, float *res_out, const float *res_bias,
                           size_t N, size_t C) {
    const float eps = 1e-5f;
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        float m = sum_lanes(x, C) / (float)C;
        vfloat p = { 0 };
        size_t i = 0;
        for (; i + LANES <= C; i += LANES) { vfloat d = vload(x + i) - m; p += d * d; }
        float v = vsum(p);
        for (; i < C; i++) { float d = x[i] - m; v += d * d; }
        v /= (float)C;
        float s = 1.0f / sqrtf(v + eps);
        layernorm_row(out + n * C, x, w, b, m, s, C);
        if (res_out) {
            float *r = res_out + n * C;
            for (i = 0; i < C; i++) r[i] = x[i] + res_bias[i];
        }
        mean[n] = m;
        rstd[n] = s;
    }
}

HOT void layernorm_apply(float *out, const float *inp, const float *w, const float *b,
                         const float *mean, const float *rstd, size_t N, size_t C) {
    for (size_t n = 0; n < N; n++)
        layernorm_row(out + n * C, inp + n * C, w, b, mean[n], rstd[n], C);
}

static inline void layernorm_backward_row(float *restrict dx, float *restrict dw, float *restrict db,
                                          const float *restrict d, const float *restrict x,
                                          const float *restrict w, float m, float s,
                                          float dnorm_mean, float dnorm_norm_mean, size_t C) {
    for (size_t i = 0; i < C; i++) {
        float norm = (x[i] - m) * s;
        float dnorm = w[i] * d[i];
        db[i] += d[i];          /* o = norm * w + b */
        dw[i] += norm * d[i];
        dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
    }
}

HOT void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
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
        vfloat pa = { 0 }, pb = { 0 };
        size_t i = 0;
        for (; i + LANES <= C; i += LANES) {
            vfloat norm = (vload(x + i) - m) * s;
            vfloat dnorm = vload(w + i) * vload(d + i);
            pa += dnorm;
            pb += dnorm * norm;
        }
        float ta = vsum(pa), tb = vsum(pb);
        for (; i < C; i++) {
            float norm = (x[i] - m) * s;
            float dnorm = w[i] * d[i];
            ta += dnorm;
            tb += dnorm * norm;
        }
        layernorm_backward_row(dx, dw, db, d, x, w, m, s, ta / (float)C, tb / (float)C, C);
    }
}

/* ---------------------------------------------------------------- matmul */

/* cblas takes int dimensions */
static int blas_dim(size_t n) {
    CHECK(n <= INT_MAX, "matrix dimension %zu does not fit the BLAS's int", n);
    return (int)n;
}

void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                    size_t N, size_t C, size_t OC, int accumulate) {
    if (bias) {
        if (accumulate) {
            for (size_t n = 0; n < N; n++)
                for (size_t o = 0; o < OC; o++) out[n * OC + o] += bias[o];
        } else {
            for (size_t n = 0; n < N; n++) memcpy(out + n * OC, bias, sizeof(float) * OC);
        }
    }
    float beta = (bias || accumulate) ? 1.0f : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_dim(N), blas_dim(OC), blas_dim(C),
                1.0f, inp, blas_dim(C), w, blas_dim(C), beta, out, blas_dim(OC));
}

void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                     const float *inp, const float *w, size_t N, size_t C, size_t OC,
                     int accumulate) {
    /* out = inp @ w^T + bias; dw first, so that dinp may overwrite inp */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_dim(OC), blas_dim(C), blas_dim(N),
                1.0f, dout, blas_dim(OC), inp, blas_dim(C), accumulate ? 1.0f : 0.0f, dw, blas_dim(C));
    if (dbias) {
        if (!accumulate) memset(dbias, 0, sizeof(float) * OC);
        for (size_t n = 0; n < N; n++) {
            const float *d = dout + n * OC;
            for (size_t o = 0; o < OC; o++) dbias[o] += d[o];
        }
    }
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_dim(N), blas_dim(C), blas_dim(OC),
                    1.0f, dout, blas_dim(OC), w, blas_dim(C), 0.0f, dinp, blas_dim(C));
}

/* ---------------------------------------------------------------- attention */

size_t attention_scratch_floats(size_t T) { return 2 * (size_t)ATT_QB * T; }

/* s (qn, kn) = scale * Q[q0, q0+qn) K[0, kn)^T for one head; kn = q0 + qn */
static void attention_scores(float *s, const float *q, const float *k, size_t q0, size_t qn,
                             size_t HS, size_t C3, float scale) {
    size_t kn = q0 + qn;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_dim(qn), blas_dim(kn), blas_dim(HS),
                scale, q + q0 * C3, blas_dim(C3), k, blas_dim(C3), 0.0f, s, blas_dim(kn));
}

HOT void attention_forward(float *out, float *stats, float *scratch, const float *qkv,
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
                    for (size_t j = 0; j < n; j++) row[j] = exp_approx(row[j] - mx);
                    float inv = 1.0f / sum_lanes(row, n);
                    size_t j = 0;
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

HOT void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
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
                    for (size_t j = 0; j < n; j++) arow[j] = exp_approx(arow[j] - mx) * inv;
                    float dot = dot_lanes(arow, drow, n);
                    size_t j = 0;
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

#define GELU_K 0.7978845608028654f   /* sqrt(2/pi) */

/* tanh(u) = 1 - 2 / (e^{2u} + 1): saturates to exactly +-1, absolute error
 * ~1e-7. (The sigmoid form x / (1 + e^{-2u}) is the same function, but GCC
 * splits exp_approx's clamps into constant paths and then computes x times
 * the saturated sigmoid, a denormal, in every lane: microcode assists made
 * it 2.5x slower. Here the saturated values are 0 and x.) */
static inline float tanh_approx(float u) {
    return 1.0f - 2.0f / (exp_approx(2.0f * u) + 1.0f);
}

HOT void gelu_forward(float *out, float *dgelu, const float *inp, size_t N) {
    if (!dgelu) {
        for (size_t i = 0; i < N; i++) {
            float x = inp[i];
            out[i] = 0.5f * x * (1.0f + tanh_approx(GELU_K * (x + 0.044715f * x * x * x)));
        }
        return;
    }
    for (size_t i = 0; i < N; i++) {
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

HOT void gelu_backward(float *dinp, const float *dgelu, const float *dout, size_t N) {
    for (size_t i = 0; i < N; i++) dinp[i] = dgelu[i] * dout[i];
}

/* ---------------------------------------------------------------- loss */

HOT double crossentropy_forward(float *logits, float *scale, float *losses, const int *targets,
                                size_t N, size_t V) {
    double total = 0.0;
    for (size_t n = 0; n < N; n++) {
        float *p = logits + n * V;
        float mx = max_lanes(p, V);
        float lt = p[targets[n]];
        for (size_t i = 0; i < V; i++) p[i] = exp_approx(p[i] - mx);
        /* 8 double partial sums in a fixed order: vectorisable and exact enough */
        double part[8] = { 0 };
        size_t i = 0;
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

HOT void crossentropy_backward(float *logits, const float *scale, const int *targets, float dloss,
                               size_t N, size_t V) {
    for (size_t n = 0; n < N; n++) {
        float *p = logits + n * V;
        const float s = scale[n] * dloss;
        for (size_t i = 0; i < V; i++) p[i] *= s;   /* loss = -log softmax(logits)[target] */
        p[targets[n]] -= dloss;
    }
}

/* ---------------------------------------------------------------- adamw */

HOT void adamw_update(float *restrict p, float *restrict m, float *restrict v,
                      const float *restrict grad, size_t n, const adamw_step *s) {
    const float b1 = s->beta1, b2 = s->beta2, c1 = 1.0f - s->beta1, c2 = 1.0f - s->beta2;
    const float rb1 = s->rb1, rb2 = s->rb2, lr = s->lr, eps = s->eps, wd = s->wd, gs = s->gscale;
    for (size_t k = 0; k < n; k++) {
        float g = grad[k] * gs;
        float mk = m[k] = b1 * m[k] + c1 * g;
        float vk = v[k] = b2 * v[k] + c2 * g * g;
        p[k] -= lr * (mk * rb1 / (sqrtf(vk * rb2) + eps) + wd * p[k]);
    }
}
