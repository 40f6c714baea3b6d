/*
 * ops.c - forward and backward of each layer. One implementation, called by
 * every worker thread on its own buffers; matmuls go through CBLAS.
 * Backward comments quote the forward line they invert.
 *
 * The hot kernels (LayerNorm, attention's rows, GELU, cross-entropy, AdamW)
 * live in ops_kern.h, compiled here once per ISA clone: AVX-512F, AVX2 and
 * baseline x86-64 (gcc on x86-64; other builds have the baseline only). One
 * clone is picked before main, the widest the CPU runs or the one the
 * environment's CLLM_ISA names (ops.h), and every call goes to it.
 *
 * Reductions (sums, maxima) run in LANES partial results combined in a
 * fixed pairwise order, then the tail: since every lane does the same IEEE
 * operations in the same order whatever the vector width, each clone gives
 * the same bits (tests/test_clones.c checks it).
 */
#include "ops.h"
#include "util.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if CLLM_HAVE_CLONES
#include <immintrin.h>   /* the vector square roots of ops_kern.h's lsqrt */
#endif

#define LANES 16            /* partial sums per reduction: one AVX-512 register of floats */
/* query rows per attention block: against 64, attention's forward+backward
 * took 4% longer with 32 at config S's shape (the same at M's), 14% longer
 * with 128 (the whole square) */
#ifndef ATT_QB
#define ATT_QB 64
#endif

/* the helpers of the hot kernels are always inlined, so that each clone
 * (below) compiles them for its own ISA */
#define VINLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------------- exp */

/* expf in plain C the compiler can vectorise (glibc's expf and tanhf are
 * scalar calls and were 28% of a step on config S). Cody-Waite reduction
 * x = n ln2 + r, |r| <= ln2/2, then Cephes' degree-6 polynomial for e^r:
 * about 2 ulp over the clamped range. Inputs below -87.3 give 2^-126 instead
 * of 0 or a denormal, which is harmless where it is used (softmax terms,
 * GELU saturation). Deterministic: no -ffast-math involved. */
VINLINE float exp_approx(float x) {
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

VINLINE void layernorm_row(float *restrict o, const float *restrict x, const float *restrict w,
                           const float *restrict b, float m, float s, size_t C) {
    for (size_t i = 0; i < C; i++) o[i] = (x[i] - m) * s * w[i] + b[i];
}


VINLINE void layernorm_backward_row(float *restrict dx, float *restrict dw, float *restrict db,
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

/* ---------------------------------------------------------------- gelu */

#define GELU_K 0.7978845608028654f   /* sqrt(2/pi) */

/* tanh(u) = 1 - 2 / (e^{2u} + 1): saturates to exactly +-1, absolute error
 * ~1e-7. (The sigmoid form x / (1 + e^{-2u}) is the same function, but GCC
 * splits exp_approx's clamps into constant paths and then computes x times
 * the saturated sigmoid, a denormal, in every lane: microcode assists made
 * it 2.5x slower. Here the saturated values are 0 and x.) */
VINLINE float tanh_approx(float u) {
    return 1.0f - 2.0f / (exp_approx(2.0f * u) + 1.0f);
}


/* ---------------------------------------------------------------- ISA clones */

/* the hot kernels of one clone */
typedef struct {
    void (*ln_fwd)(float *, float *, float *, const float *, const float *, const float *,
                   float *, const float *, size_t, size_t);
    void (*ln_apply)(float *, const float *, const float *, const float *, const float *,
                     const float *, size_t, size_t);
    void (*ln_bwd)(float *, float *, float *, const float *, const float *, const float *,
                   const float *, const float *, size_t, size_t);
    void (*att_fwd)(float *, float *, float *, const float *, size_t, size_t, size_t, size_t);
    void (*att_bwd)(float *, float *, const float *, const float *, const float *, size_t,
                    size_t, size_t, size_t);
    void (*gelu_fwd)(float *, float *, const float *, size_t);
    void (*gelu_bwd)(float *, const float *, const float *, size_t);
    double (*ce_fwd)(float *, float *, float *, const int *, size_t, size_t);
    void (*ce_bwd)(float *, const float *, const int *, float, size_t, size_t);
    void (*adamw)(float *, float *, float *, const float *, size_t, const adamw_step *);
} ops_kernels;

/* the vector helpers of ops_kern.h are always inlined into their caller, so
 * no vector crosses a call: the compilers' note that passing one changes
 * the ABI without AVX-512 does not apply (gcc and clang both know -Wpsabi) */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#define OPS_CAT2(a, b) a##_##b
#define OPS_CAT(a, b) OPS_CAT2(a, b)
#define K(name) OPS_CAT(name, OPS_ISA)

#if CLLM_HAVE_CLONES
#pragma GCC push_options
#pragma GCC target("avx512f")
#define OPS_ISA avx512f
#include "ops_kern.h"
#undef OPS_ISA
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2")
#define OPS_ISA avx2
#include "ops_kern.h"
#undef OPS_ISA
#pragma GCC pop_options
#endif

#define OPS_ISA default
#include "ops_kern.h"
#undef OPS_ISA

/* the clones of this build, widest first */
static const struct { const char *name; ops_isa_t id; const ops_kernels *k; } clones[] = {
#if CLLM_HAVE_CLONES
    { "avx512f", OPS_ISA_AVX512F, &ops_kernels_avx512f },
    { "avx2", OPS_ISA_AVX2, &ops_kernels_avx2 },
#endif
    { "default", OPS_ISA_DEFAULT, &ops_kernels_default },
};
#define N_CLONES (sizeof clones / sizeof clones[0])

/* the clone in use: the baseline until ops_isa_init has run */
static size_t clone_now = N_CLONES - 1;

static int clone_runs(size_t c) {
#if CLLM_HAVE_CLONES
    __builtin_cpu_init();
    if (clones[c].id == OPS_ISA_AVX512F) return __builtin_cpu_supports("avx512f");
    if (clones[c].id == OPS_ISA_AVX2) return __builtin_cpu_supports("avx2");
#endif
    return 1;
}

const char *ops_isa(void) { return clones[clone_now].name; }
ops_isa_t ops_isa_id(void) { return clones[clone_now].id; }

int ops_isa_set(const char *name) {
    for (size_t c = 0; c < N_CLONES; c++) {
        if (strcmp(name, clones[c].name) != 0) continue;
        if (!clone_runs(c)) return -1;
        clone_now = c;
        return 0;
    }
    return -1;
}

void ops_isa_list(char *buf, size_t n) {
    size_t used = 0;
    if (n) buf[0] = '\0';
    for (size_t c = 0; c < N_CLONES; c++)
        if (clone_runs(c) && used < n)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? "," : "", clones[c].name);
}

/* Before main: the clone CLLM_ISA names, else the widest this CPU runs. A
 * CLLM_ISA this build or CPU cannot honour is the user's error: a message
 * and exit 2 (no kernel has run yet, nothing is half-written). */
__attribute__((constructor)) static void ops_isa_init(void) {
    const char *want = getenv("CLLM_ISA");
    if (want && *want) {
        if (ops_isa_set(want) == 0) return;
        char list[64];
        ops_isa_list(list, sizeof list);
        fprintf(stderr, "CLLM_ISA=%s: not a kernel clone this build and CPU can run (choices here: %s)\n",
                want, list);
        exit(2);
    }
    for (size_t c = 0; c < N_CLONES; c++)
        if (clone_runs(c)) { clone_now = c; return; }
}

/* ---------------------------------------------------------------- the hot ops */

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, float *res_out, const float *res_bias, size_t N, size_t C) {
    clones[clone_now].k->ln_fwd(out, mean, rstd, inp, w, b, res_out, res_bias, N, C);
}

void layernorm_apply(float *out, const float *inp, const float *w, const float *b,
                     const float *mean, const float *rstd, size_t N, size_t C) {
    clones[clone_now].k->ln_apply(out, inp, w, b, mean, rstd, N, C);
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, size_t N, size_t C) {
    clones[clone_now].k->ln_bwd(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
}

void attention_forward(float *out, float *stats, float *scratch, const float *qkv,
                       size_t B, size_t T, size_t C, size_t NH) {
    clones[clone_now].k->att_fwd(out, stats, scratch, qkv, B, T, C, NH);
}

void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *stats, size_t B, size_t T, size_t C, size_t NH) {
    clones[clone_now].k->att_bwd(dqkv, scratch, dout, qkv, stats, B, T, C, NH);
}

void gelu_forward(float *out, float *dgelu, const float *inp, size_t N) {
    clones[clone_now].k->gelu_fwd(out, dgelu, inp, N);
}

void gelu_backward(float *dinp, const float *dgelu, const float *dout, size_t N) {
    clones[clone_now].k->gelu_bwd(dinp, dgelu, dout, N);
}

double crossentropy_forward(float *logits, float *scale, float *losses, const int *targets,
                            size_t N, size_t V) {
    return clones[clone_now].k->ce_fwd(logits, scale, losses, targets, N, V);
}

void crossentropy_backward(float *logits, const float *scale, const int *targets, float dloss,
                           size_t N, size_t V) {
    clones[clone_now].k->ce_bwd(logits, scale, targets, dloss, N, V);
}

void adamw_update(float *p, float *m, float *v, const float *grad, size_t n, const adamw_step *s) {
    clones[clone_now].k->adamw(p, m, v, grad, n, s);
}
