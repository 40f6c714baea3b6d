/*
 * test_tails.c - every kernel with a vector body and a scalar tail, at
 * lengths that leave a tail: core/ops.c works in LANES = 16 partial results
 * (sum, dot and max over rows), its loss and core/reduce.c in blocks of 8,
 * and the compiler vectorises the elementwise loops by 4, 8 or 16. Each
 * kernel runs through its public function at every length of LENS (below
 * and above one and two vectors, most not a multiple of 8 or 16) against a
 * naive double-precision reference written here, so a tail that is skipped,
 * run twice or read past its end fails at once, whichever clone the CPU
 * picks and however the kernels are rewritten. tests/test_ops.c checks the
 * same layers' contracts and gradients at small shapes (C = 8, V = 11: all
 * tail, no vector body); this file is the other half.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops.h"
#include "reduce.h"

static const size_t LENS[] = { 1, 3, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 47, 63, 65, 100 };
#define NLENS (sizeof LENS / sizeof LENS[0])

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static float urand(void) {   /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}
static float *frand(size_t n, float scale) {
    float *x = malloc(sizeof *x * (n ? n : 1));
    for (size_t i = 0; i < n; i++) x[i] = scale * urand();
    return x;
}

/* max over i of |a[i] - ref[i]| / (rtol |ref[i]| + atol): <= 1 passes */
static double worst(const float *a, const double *ref, size_t n, double rtol, double atol) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - ref[i]) / (rtol * fabs(ref[i]) + atol);
        if (!(e <= w)) w = e;     /* NaN sticks */
    }
    return w;
}

/* ---------------------------------------------------------------- gelu */

static void test_gelu(size_t n) {
    float *x = frand(n, 4.0f), *out = malloc(sizeof(float) * n), *dg = malloc(sizeof(float) * n);
    float *dout = frand(n, 1.0f), *dinp = malloc(sizeof(float) * n);
    double *ro = malloc(sizeof(double) * n), *rd = malloc(sizeof(double) * n), *ri = malloc(sizeof(double) * n);
    const double k = sqrt(2.0 / M_PI);
    for (size_t i = 0; i < n; i++) {
        double v = x[i], u = k * (v + 0.044715 * v * v * v), t = tanh(u);
        ro[i] = 0.5 * v * (1 + t);
        rd[i] = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v);
        ri[i] = rd[i] * dout[i];
    }
    gelu_forward(out, dg, x, n);
    gelu_backward(dinp, dg, dout, n);
    EXPECT(worst(out, ro, n, 1e-4, 1e-6) <= 1, "gelu_forward n=%zu: off the reference", n);
    /* the derivative's 1 - tanh^2 cancels in float where tanh nears +-1:
     * an absolute error of a few 1e-6 on a value of order 1 */
    EXPECT(worst(dg, rd, n, 1e-4, 1e-5) <= 1, "gelu_forward's dgelu n=%zu: off the reference by %g", n,
           worst(dg, rd, n, 1e-4, 1e-5));
    EXPECT(worst(dinp, ri, n, 1e-4, 1e-5) <= 1, "gelu_backward n=%zu: off the reference", n);
    free(x); free(out); free(dg); free(dout); free(dinp); free(ro); free(rd); free(ri);
}

/* ----------------------------------------------------------- layernorm */

static void test_layernorm(size_t C) {
    enum { N = 3 };
    size_t nc = N * C;
    float *x = frand(nc, 2.0f), *w = frand(C, 1.0f), *b = frand(C, 1.0f), *rb = frand(C, 1.0f);
    float *out = malloc(sizeof(float) * nc), *res = malloc(sizeof(float) * nc), *app = malloc(sizeof(float) * nc);
    float mean[N], rstd[N];
    float *dout = frand(nc, 1.0f), *dinp = frand(nc, 1.0f), *dw = frand(C, 9.0f), *db = frand(C, 9.0f);
    double *ro = malloc(sizeof(double) * nc), *rres = malloc(sizeof(double) * nc), *rdi = malloc(sizeof(double) * nc);
    double *rdw = calloc(C, sizeof(double)), *rdb = calloc(C, sizeof(double)), rm[N], rr[N];
    for (size_t i = 0; i < nc; i++) rdi[i] = dinp[i];    /* dinp accumulates */
    for (size_t r = 0; r < N; r++) {
        const float *xr = x + r * C;
        double m = 0, v = 0;
        for (size_t i = 0; i < C; i++) m += xr[i];
        m /= (double)C;
        for (size_t i = 0; i < C; i++) v += (xr[i] - m) * (xr[i] - m);
        v /= (double)C;
        double s = 1.0 / sqrt(v + 1e-5);
        rm[r] = m;
        rr[r] = s;
        double mdn = 0, mdnx = 0;
        for (size_t i = 0; i < C; i++) {
            double xh = (xr[i] - m) * s, dn = (double)dout[r * C + i] * w[i];
            ro[r * C + i] = xh * w[i] + b[i];
            rres[r * C + i] = (double)xr[i] + rb[i];
            rdw[i] += (double)dout[r * C + i] * xh;
            rdb[i] += dout[r * C + i];
            mdn += dn;
            mdnx += dn * xh;
        }
        mdn /= (double)C;
        mdnx /= (double)C;
        for (size_t i = 0; i < C; i++) {
            double xh = (xr[i] - m) * s, dn = (double)dout[r * C + i] * w[i];
            rdi[r * C + i] += s * (dn - mdn - xh * mdnx);
        }
    }
    layernorm_forward(out, mean, rstd, x, w, b, res, rb, N, C);
    layernorm_apply(app, x, w, b, mean, rstd, N, C);
    layernorm_backward(dinp, dw, db, dout, x, w, mean, rstd, N, C);
    EXPECT(worst(out, ro, nc, 1e-4, 1e-5) <= 1, "layernorm_forward C=%zu: out off the reference", C);
    EXPECT(worst(res, rres, nc, 1e-6, 1e-7) <= 1, "layernorm_forward C=%zu: the residual start off", C);
    EXPECT(worst(mean, rm, N, 1e-5, 1e-6) <= 1 && worst(rstd, rr, N, 1e-4, 1e-6) <= 1,
           "layernorm_forward C=%zu: mean or rstd off the reference", C);
    EXPECT(memcmp(app, out, sizeof(float) * nc) == 0, "layernorm_apply C=%zu: not the forward's bits", C);
    /* C = 1: x - mean = 0, so out = b exactly and the gradients of x vanish
     * up to rounding: the absolute tolerance covers it */
    EXPECT(worst(dinp, rdi, nc, 1e-3, 1e-4) <= 1, "layernorm_backward C=%zu: dinp off the reference", C);
    EXPECT(worst(dw, rdw, C, 1e-3, 1e-4) <= 1 && worst(db, rdb, C, 1e-4, 1e-5) <= 1,
           "layernorm_backward C=%zu: dw or db off the reference", C);
    free(x); free(w); free(b); free(rb); free(out); free(res); free(app); free(dout); free(dinp); free(dw);
    free(db); free(ro); free(rres); free(rdi); free(rdw); free(rdb);
}

/* ------------------------------------------------------- cross-entropy */

static void test_crossentropy(size_t V) {
    enum { N = 3 };
    size_t nv = N * V;
    float *lg = frand(nv, 5.0f), scale[N], losses[N];
    int tg[N] = { 0, (int)(V / 2), (int)(V - 1) };
    /* each row's largest logit in its last element (in the tail whenever
     * V mod 16 != 0), far above the rest: a row maximum that missed it
     * would overflow exp() in the softmax, which is otherwise indifferent
     * to the shift */
    for (size_t r = 0; r < N && V > 1; r++) lg[r * V + V - 1] = 120.0f + (float)r;
    double *rp = malloc(sizeof(double) * nv), rl[N], rsum = 0;
    const float dloss = 0.25f;
    for (size_t r = 0; r < N; r++) {
        double mx = -INFINITY, s = 0;
        for (size_t i = 0; i < V; i++) mx = fmax(mx, lg[r * V + i]);
        for (size_t i = 0; i < V; i++) s += exp(lg[r * V + i] - mx);
        rl[r] = log(s) - (lg[r * V + tg[r]] - mx);
        rsum += rl[r];
        for (size_t i = 0; i < V; i++)
            rp[r * V + i] = (exp(lg[r * V + i] - mx) / s - (i == (size_t)tg[r])) * dloss;
    }
    double sum = crossentropy_forward(lg, scale, losses, tg, N, V);
    crossentropy_backward(lg, scale, tg, dloss, N, V);
    EXPECT(worst(losses, rl, N, 1e-4, 1e-6) <= 1, "crossentropy_forward V=%zu: losses off the reference", V);
    EXPECT(fabs(sum - rsum) <= 1e-4 * fabs(rsum) + 1e-6, "crossentropy_forward V=%zu: sum %g, want %g", V, sum, rsum);
    EXPECT(worst(lg, rp, nv, 1e-4, 1e-6) <= 1, "crossentropy_backward V=%zu: dlogits off the reference", V);
    free(lg); free(rp);
}

/* --------------------------------------------------------------- adamw */

static void test_adamw(size_t n) {
    float *p = frand(n, 1.0f), *m = frand(n, 0.1f), *v = frand(n, 0.01f), *g = frand(n, 1.0f);
    for (size_t i = 0; i < n; i++) v[i] = fabsf(v[i]);
    double *rp = malloc(sizeof(double) * n), *rm = malloc(sizeof(double) * n), *rv = malloc(sizeof(double) * n);
    adamw_step s = { .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .rb1 = 1.0f / (1 - 0.9f * 0.9f),
                     .rb2 = 1.0f / (1 - 0.95f * 0.95f), .eps = 1e-8f, .wd = 0.1f, .gscale = 0.5f };
    for (size_t i = 0; i < n; i++) {
        double gi = (double)g[i] * s.gscale;
        rm[i] = s.beta1 * (double)m[i] + (1 - (double)s.beta1) * gi;
        rv[i] = s.beta2 * (double)v[i] + (1 - (double)s.beta2) * gi * gi;
        rp[i] = p[i] - s.lr * (rm[i] * s.rb1 / (sqrt(rv[i] * s.rb2) + s.eps) + s.wd * (double)p[i]);
    }
    adamw_update(p, m, v, g, n, &s);
    EXPECT(worst(m, rm, n, 1e-5, 1e-8) <= 1 && worst(v, rv, n, 1e-5, 1e-9) <= 1,
           "adamw_update n=%zu: moments off the reference", n);
    EXPECT(worst(p, rp, n, 1e-5, 1e-7) <= 1, "adamw_update n=%zu: parameters off the reference", n);
    free(p); free(m); free(v); free(g); free(rp); free(rm); free(rv);
}

/* -------------------------------------------------------------- reduce */

static void test_reduce(size_t len) {
    enum { NS = 3 };
    float *src[NS], *dst = malloc(sizeof(float) * (len + 1));
    for (int k = 0; k < NS; k++) src[k] = frand(len, 1.0f);
    dst[len] = 12345.0f;                            /* one past the end: untouched */
    for (int n = 1; n <= NS; n++) {
        double norm = reduce_sum(dst, (const float *const *)src, n, len), rn = 0;
        int same = 1;
        for (size_t i = 0; i < len; i++) {
            float s = src[0][i];
            for (int k = 1; k < n; k++) s += src[k][i];    /* the documented order, in float */
            same &= s == dst[i];
            rn += (double)s * s;
        }
        EXPECT(same, "reduce_sum len=%zu n=%d: not the sums in order", len, n);
        EXPECT(fabs(norm - rn) <= 1e-12 * rn, "reduce_sum len=%zu n=%d: norm %.17g, want %.17g", len, n, norm, rn);
    }
    EXPECT(dst[len] == 12345.0f, "reduce_sum len=%zu wrote past the end", len);
    for (int k = 0; k < NS; k++) free(src[k]);
    free(dst);
}

/* ----------------------------------------------------------- attention */

/* causal attention of one sequence in double: out (T,C), and the gradient
 * dqkv (T,3C) of sum(out * dout) */
static void attention_ref(double *out, double *dqkv, const float *qkv, const float *dout, size_t T, size_t C,
                          size_t NH) {
    size_t HS = C / NH, C3 = 3 * C;
    double sc = 1.0 / sqrt((double)HS);
    double *P = malloc(sizeof(double) * T * T), *dP = malloc(sizeof(double) * T);
    memset(dqkv, 0, sizeof(double) * T * C3);
    for (size_t h = 0; h < NH; h++) {
        for (size_t t = 0; t < T; t++) {
            const float *q = qkv + t * C3 + h * HS;
            double mx = -INFINITY, s = 0;
            for (size_t j = 0; j <= t; j++) {
                const float *k = qkv + j * C3 + C + h * HS;
                double d = 0;
                for (size_t i = 0; i < HS; i++) d += (double)q[i] * k[i];
                P[t * T + j] = d * sc;
                mx = fmax(mx, d * sc);
            }
            for (size_t j = 0; j <= t; j++) s += (P[t * T + j] = exp(P[t * T + j] - mx));
            for (size_t j = 0; j <= t; j++) P[t * T + j] /= s;
            for (size_t i = 0; i < HS; i++) {
                double o = 0;
                for (size_t j = 0; j <= t; j++) o += P[t * T + j] * qkv[j * C3 + 2 * C + h * HS + i];
                out[t * C + h * HS + i] = o;
            }
            /* backward of this row */
            const float *dt = dout + t * C + h * HS;
            double pd = 0;
            for (size_t j = 0; j <= t; j++) {
                const float *vj = qkv + j * C3 + 2 * C + h * HS;
                double d = 0;
                for (size_t i = 0; i < HS; i++) {
                    d += (double)dt[i] * vj[i];
                    dqkv[j * C3 + 2 * C + h * HS + i] += P[t * T + j] * dt[i];
                }
                dP[j] = d;
                pd += P[t * T + j] * d;
            }
            for (size_t j = 0; j <= t; j++) {
                double ds = P[t * T + j] * (dP[j] - pd) * sc;
                for (size_t i = 0; i < HS; i++) {
                    dqkv[t * C3 + h * HS + i] += ds * qkv[j * C3 + C + h * HS + i];
                    dqkv[j * C3 + C + h * HS + i] += ds * q[i];
                }
            }
        }
    }
    free(P);
    free(dP);
}

static void test_attention(size_t T, size_t HS) {
    const size_t NH = 2, C = NH * HS, B = 1;
    float *qkv = frand(T * 3 * C, 1.0f), *dout = frand(T * C, 1.0f);
    float *out = malloc(sizeof(float) * T * C), *stats = malloc(sizeof(float) * NH * T * 2);
    float *dqkv = malloc(sizeof(float) * T * 3 * C), *scratch = malloc(sizeof(float) * attention_scratch_floats(T));
    double *ro = malloc(sizeof(double) * T * C), *rd = malloc(sizeof(double) * T * 3 * C);
    attention_ref(ro, rd, qkv, dout, T, C, NH);
    attention_forward(out, stats, scratch, qkv, B, T, C, NH);
    attention_backward(dqkv, scratch, dout, qkv, stats, B, T, C, NH);
    EXPECT(worst(out, ro, T * C, 1e-4, 1e-5) <= 1, "attention_forward T=%zu HS=%zu: off the reference", T, HS);
    EXPECT(worst(dqkv, rd, T * 3 * C, 1e-3, 1e-5) <= 1, "attention_backward T=%zu HS=%zu: off the reference", T, HS);
    free(qkv); free(dout); free(out); free(stats); free(dqkv); free(scratch); free(ro); free(rd);
}

int main(void) {
    for (size_t k = 0; k < NLENS; k++) {
        test_gelu(LENS[k]);
        test_layernorm(LENS[k]);
        test_crossentropy(LENS[k] + 1);     /* a class count of 1 has no loss to speak of */
        test_adamw(LENS[k]);
        test_reduce(LENS[k]);
    }
    test_reduce(257);
    static const size_t TS[] = { 1, 17, 33, 70 }, HSS[] = { 1, 5, 16, 17, 33 };
    for (size_t t = 0; t < sizeof TS / sizeof TS[0]; t++)
        for (size_t h = 0; h < sizeof HSS / sizeof HSS[0]; h++) test_attention(TS[t], HSS[h]);
    return check_finish("test_tails");
}
