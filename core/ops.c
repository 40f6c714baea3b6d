/*
 * ops.c - forward and backward of each layer. One implementation, called by
 * every worker thread on its own buffers; matmuls go through CBLAS.
 * Backward comments quote the forward line they invert.
 */
#include "ops.h"
#include "util.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- exp, tanh */

/* expf in plain C the compiler can vectorise (glibc's expf and tanhf are
 * scalar calls and were 28% of a step on config S). Cody-Waite reduction
 * x = n ln2 + r, |r| <= ln2/2, then Cephes' degree-6 polynomial for e^r:
 * about 2 ulp over the clamped range. Inputs below -87.3 give 2^-126 instead
 * of 0 or a denormal, which is harmless where it is used (softmax terms,
 * tanh saturation). Deterministic: no -ffast-math involved. */
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

/* tanh(u) = 1 - 2 / (e^{2u} + 1): saturates to +-1, absolute error ~1e-7 */
static inline float tanh_approx(float u) {
    return 1.0f - 2.0f / (exp_approx(2.0f * u) + 1.0f);
}

/* ---------------------------------------------------------------- encoder */

void encoder_forward(float *out, const int *inp, const float *wte, const float *wpe,
                     int B, int T, int C) {
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * C;
            const float *te = wte + (size_t)inp[(size_t)b * T + t] * C;
            const float *pe = wpe + (size_t)t * C;
            for (int i = 0; i < C; i++) o[i] = te[i] + pe[i];
        }
    }
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp,
                      int B, int T, int C) {
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            float *dte = dwte + (size_t)inp[(size_t)b * T + t] * C;
            float *dpe = dwpe + (size_t)t * C;
            for (int i = 0; i < C; i++) {
                dte[i] += d[i];   /* o[i] = te[i] + pe[i] */
                dpe[i] += d[i];
            }
        }
    }
}

/* ---------------------------------------------------------------- layernorm */

HOT void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, size_t N, int C) {
    const float eps = 1e-5f;
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float m = 0.0f;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        float v = 0.0f;
        for (int i = 0; i < C; i++) { float d = x[i] - m; v += d * d; }
        v /= C;
        float s = 1.0f / sqrtf(v + eps);
        float *o = out + (size_t)n * C;
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s * w[i] + b[i];
        mean[n] = m;
        rstd[n] = s;
    }
}

HOT void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const float *mean,
                        const float *rstd, size_t N, int C) {
    for (size_t n = 0; n < N; n++) {
        const float *d = dout + (size_t)n * C;
        const float *x = inp + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float m = mean[n], s = rstd[n];
        /* two reductions: mean of dnorm and of dnorm * norm */
        float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
        for (int i = 0; i < C; i++) {
            float norm = (x[i] - m) * s;
            float dnorm = w[i] * d[i];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean /= C;
        dnorm_norm_mean /= C;
        for (int i = 0; i < C; i++) {
            float norm = (x[i] - m) * s;
            float dnorm = w[i] * d[i];
            db[i] += d[i];          /* o = norm * w + b */
            dw[i] += norm * d[i];
            dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
        }
    }
}

/* ---------------------------------------------------------------- matmul */

void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                    size_t N, int C, int OC, int accumulate) {
    CHECK(N <= INT_MAX, "matmul over %zu rows: more than a CBLAS int", N);
    if (bias) {
        if (accumulate) {
            for (size_t n = 0; n < N; n++)
                for (int o = 0; o < OC; o++) out[n * OC + o] += bias[o];
        } else {
            for (size_t n = 0; n < N; n++) memcpy(out + n * OC, bias, sizeof(float) * OC);
        }
    }
    float beta = (bias || accumulate) ? 1.0f : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, OC, C,
                1.0f, inp, C, w, C, beta, out, OC);
}

void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                     const float *inp, const float *w, size_t N, int C, int OC) {
    CHECK(N <= INT_MAX, "matmul over %zu rows: more than a CBLAS int", N);
    /* out = inp @ w^T + bias */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, C, OC,
                    1.0f, dout, OC, w, C, 0.0f, dinp, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, (int)N,
                1.0f, dout, OC, inp, C, 1.0f, dw, C);
    if (dbias) {
        for (size_t n = 0; n < N; n++) {
            const float *d = dout + n * OC;
            for (int o = 0; o < OC; o++) dbias[o] += d[o];
        }
    }
}

/* ---------------------------------------------------------------- attention */

HOT void attention_forward(float *out, float *att, const float *qkv,
                       int B, int T, int C, int NH) {
    const int HS = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)HS);
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * HS;
            const float *k = q + C, *v = q + 2 * C;
            float *a = att + ((size_t)b * NH + h) * T * T;
            /* a = scale * q k^T: the full square; the causal half is masked below */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS,
                        scale, q, C3, k, C3, 0.0f, a, T);
            for (int t = 0; t < T; t++) {
                float *row = a + (size_t)t * T;
                float mx = row[0];
                for (int j = 1; j <= t; j++) mx = row[j] > mx ? row[j] : mx;
                float sum = 0.0f;
                for (int j = 0; j <= t; j++) { row[j] = exp_approx(row[j] - mx); sum += row[j]; }
                float inv = 1.0f / sum;
                for (int j = 0; j <= t; j++) row[j] *= inv;
                for (int j = t + 1; j < T; j++) row[j] = 0.0f;
            }
            /* out = a @ v */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T,
                        1.0f, a, T, v, C3, 0.0f, out + (size_t)b * T * C + h * HS, C);
        }
    }
}

HOT void attention_backward(float *dqkv, float *dtt, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH) {
    const int HS = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)HS);
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (size_t)b * T * C3 + h * HS;
            const float *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + (size_t)b * T * C3 + h * HS;
            float *dk = dq + C, *dv = dq + 2 * C;
            const float *a = att + ((size_t)b * NH + h) * T * T;
            const float *d = dout + (size_t)b * T * C + h * HS;
            /* out = a @ v  ->  da = dout v^T,  dv = a^T dout */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS,
                        1.0f, d, C, v, C3, 0.0f, dtt, T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T,
                        1.0f, a, T, d, C, 0.0f, dv, C3);
            /* a = softmax(s) over j <= t  ->  ds = a * (da - sum(a * da)) */
            for (int t = 0; t < T; t++) {
                const float *arow = a + (size_t)t * T;
                float *drow = dtt + (size_t)t * T;
                float dot = 0.0f;
                for (int j = 0; j <= t; j++) dot += arow[j] * drow[j];
                for (int j = 0; j <= t; j++) drow[j] = arow[j] * (drow[j] - dot);
                for (int j = t + 1; j < T; j++) drow[j] = 0.0f;
            }
            /* s = scale * q k^T  ->  dq = scale ds k,  dk = scale ds^T q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T,
                        scale, dtt, T, k, C3, 0.0f, dq, C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T,
                        scale, dtt, T, q, C3, 0.0f, dk, C3);
        }
    }
}

/* ---------------------------------------------------------------- gelu */

#define GELU_K 0.7978845608028654f   /* sqrt(2/pi) */

HOT void gelu_forward(float *out, const float *inp, size_t N) {
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanh_approx(GELU_K * (x + 0.044715f * x * x * x)));
    }
}

HOT void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N) {
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        float th = tanh_approx(u);
        float sech2 = 1.0f - th * th;
        /* d/dx 0.5 x (1 + tanh(u)) = 0.5 (1 + tanh u) + 0.5 x sech^2(u) u' */
        /* |x| > 10 saturates tanh (sech^2 = 0): clamping there keeps x^2 finite
         * for huge x (inf * 0 would be NaN) and changes nothing else */
        float xc = x < -10.0f ? -10.0f : x > 10.0f ? 10.0f : x;
        float g = 0.5f * (1.0f + th) + 0.5f * xc * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * xc * xc);
        dinp[i] = g * dout[i];
    }
}

/* ---------------------------------------------------------------- loss */

HOT double crossentropy_forward(float *probs, float *losses, const int *targets, size_t N, int V) {
    double total = 0.0;
    for (size_t n = 0; n < N; n++) {
        float *p = probs + n * V;
        float lane[8];                      /* max in 8 lanes: vectorisable */
        for (int l = 0; l < 8; l++) lane[l] = p[0];
        int i = 0;
        for (; i + 8 <= V; i += 8)
            for (int l = 0; l < 8; l++) lane[l] = p[i + l] > lane[l] ? p[i + l] : lane[l];
        for (; i < V; i++) lane[0] = p[i] > lane[0] ? p[i] : lane[0];
        float mx = lane[0];
        for (int l = 1; l < 8; l++) mx = lane[l] > mx ? lane[l] : mx;
        float lt = p[targets[n]];
        for (i = 0; i < V; i++) p[i] = exp_approx(p[i] - mx);
        /* 8 double partial sums in a fixed order: vectorisable and exact enough */
        double part[8] = { 0 };
        for (i = 0; i + 8 <= V; i += 8)
            for (int l = 0; l < 8; l++) part[l] += p[i + l];
        for (; i < V; i++) part[0] += p[i];
        double sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
        float inv = (float)(1.0 / sum);
        for (i = 0; i < V; i++) p[i] *= inv;
        /* -log softmax[target] from the logit: no log of a rounded probability */
        losses[n] = (float)(log(sum) - (double)(lt - mx));
        total += losses[n];
    }
    return total;
}

HOT void crossentropy_backward(float *probs, const int *targets, float dloss, size_t N, int V) {
    for (size_t n = 0; n < N; n++) {
        float *p = probs + n * V;
        for (int i = 0; i < V; i++) p[i] *= dloss;   /* loss = -log softmax(logits)[target] */
        p[targets[n]] -= dloss;
    }
}
