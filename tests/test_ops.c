/*
 * test_ops.c - every layer of core/ops.c against a naive double-precision
 * reference written here. Forward outputs are compared element by element;
 * each backward is compared with central finite differences of the
 * reference objective sum(out * R) (so dout = R) with respect to every
 * input and parameter. Also checked: the overwrite / accumulate contracts
 * of ops.h (outputs that must be overwritten are prefilled with garbage),
 * the fused residual start of LayerNorm and its one-pass recompute,
 * matmul_backward with dinp aliasing inp, attention's causality and its
 * blocks (T longer than a block and not a multiple of it), GELU at 0 and
 * large |x|, a cross-entropy that stays finite for logits whose exp
 * overflows a float, and AdamW against the update written in double.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops.h"
#include "util.h"

enum { B = 2, T = 5, C = 8, NH = 2, HS = C / NH, F = 12, V = 11, OC = 6, N = B * T, NG = 40 };

#define FD_H      1e-5   /* central-difference step, in double */
#define GRAD_RTOL 2e-3   /* backward: max|ours - ref| <= GRAD_RTOL * max|ref| + GRAD_ATOL */
#define GRAD_ATOL 1e-6
#define FWD_RTOL  1e-4   /* forward: |ours - ref| <= FWD_RTOL * |ref| + FWD_ATOL, per element */
#define FWD_ATOL  1e-6
#define GARBAGE   777.0f /* prefill of outputs that must be overwritten */

/* ---------------------------------------------------------------- helpers */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* n floats uniform in [lo, hi) */
static void fill(float *x, int n, uint64_t *s, float lo, float hi) {
    for (int i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)((double)(splitmix64(s) >> 40) * 0x1.0p-24);
}

static void set(float *x, int n, float v) {
    for (int i = 0; i < n; i++) x[i] = v;
}

static void widen(double *d, const float *f, int n) {
    for (int i = 0; i < n; i++) d[i] = f[i];
}

static double dot(const double *a, const double *b, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double max_abs(const double *x, int n) {
    double m = 0.0;
    for (int i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* NaN-sticky running maximum of errors */
static double worse(double err, double e) {
    return (isnan(e) || e > err) ? e : err;
}

/* one check: prints its line and counts it through EXPECT */
static void report(const char *op, const char *tensor, double err, double tol) {
    int ok = err <= tol;   /* false for NaN */
    printf("  %-4s %-26s %-24s max err %.2e  tol %.2e\n", ok ? "ok" : "FAIL", op, tensor, err, tol);
    fflush(stdout);   /* keep the line before EXPECT's stderr message when both are piped */
    EXPECT(ok, "%s %s: max err %.3g > tol %.3g", op, tensor, err, tol);
}

/* forward: every |ours - ref| <= FWD_RTOL |ref| + FWD_ATOL; reports the worst ratio as an error */
static void check_fwd(const char *op, const char *tensor, const float *ours, const double *ref, int n) {
    double err = 0.0, excess = 0.0;
    for (int i = 0; i < n; i++) {
        double e = fabs((double)ours[i] - ref[i]);
        err = worse(err, e);
        excess = worse(excess, e / (FWD_RTOL * fabs(ref[i]) + FWD_ATOL));
    }
    int ok = excess <= 1.0;
    printf("  %-4s %-26s %-24s max err %.2e  (%.2f of tol)\n", ok ? "ok" : "FAIL", op, tensor, err, excess);
    fflush(stdout);
    EXPECT(ok, "%s %s: max err %.3g, %.3g times the elementwise tolerance", op, tensor, err, excess);
}

/* backward: ours against pre + ref (pre = the prefill of an accumulating output, or NULL) */
static void check_grad(const char *op, const char *tensor, const float *ours, const float *pre,
                       const double *ref, int n) {
    double err = 0.0;
    for (int i = 0; i < n; i++)
        err = worse(err, fabs((double)ours[i] - ((pre ? pre[i] : 0.0) + ref[i])));
    report(op, tensor, err, GRAD_RTOL * max_abs(ref, n) + GRAD_ATOL);
}

typedef double (*objective_fn)(void *ctx);

/* grad[i] = d f / d x[i] by central differences; x is restored */
static void fd_gradient(double *grad, double *x, int n, objective_fn f, void *ctx) {
    for (int i = 0; i < n; i++) {
        double x0 = x[i], xp = x0 + FD_H, xm = x0 - FD_H;
        x[i] = xp;
        double fp = f(ctx);
        x[i] = xm;
        double fm = f(ctx);
        x[i] = x0;
        grad[i] = (fp - fm) / (xp - xm);
    }
}

/* ---------------------------------------------------------------- encoder */

struct enc_ctx { const int *inp; double wte[V * C], wpe[T * C], R[N * C]; };

static void ref_encoder(double *out, const struct enc_ctx *c) {
    for (int n = 0; n < N; n++)
        for (int i = 0; i < C; i++)
            out[n * C + i] = c->wte[c->inp[n] * C + i] + c->wpe[(n % T) * C + i];
}

static double enc_objective(void *p) {
    struct enc_ctx *c = p;
    double out[N * C];
    ref_encoder(out, c);
    return dot(out, c->R, N * C);
}

static void test_encoder(uint64_t *rng) {
    static struct enc_ctx c;
    int inp[N];
    for (int n = 0; n < N; n++) inp[n] = (int)(splitmix64(rng) % V);
    inp[1] = inp[4] = inp[6] = 3;   /* one row of wte gathers three positions, over both sequences */
    float wte[V * C], wpe[T * C], R[N * C], out[N * C];
    fill(wte, V * C, rng, -1, 1);
    fill(wpe, T * C, rng, -1, 1);
    fill(R, N * C, rng, -1, 1);
    set(out, N * C, GARBAGE);
    encoder_forward(out, inp, wte, wpe, B, T, C);
    c.inp = inp;
    widen(c.wte, wte, V * C);
    widen(c.wpe, wpe, T * C);
    widen(c.R, R, N * C);
    double ref[N * C], g_wte[V * C], g_wpe[T * C];
    ref_encoder(ref, &c);
    check_fwd("encoder", "out", out, ref, N * C);
    fd_gradient(g_wte, c.wte, V * C, enc_objective, &c);
    fd_gradient(g_wpe, c.wpe, T * C, enc_objective, &c);

    float dwte[V * C], dwpe[T * C], pre_wte[V * C];
    set(dwte, V * C, 0.0f);
    set(dwpe, T * C, 0.0f);
    encoder_backward(dwte, dwpe, R, inp, B, T, C);
    check_grad("encoder", "dwte", dwte, NULL, g_wte, V * C);
    check_grad("encoder", "dwpe", dwpe, NULL, g_wpe, T * C);
    fill(pre_wte, V * C, rng, -1, 1);
    memcpy(dwte, pre_wte, sizeof dwte);
    set(dwpe, T * C, GARBAGE);
    encoder_backward(dwte, dwpe, R, inp, B, T, C);
    check_grad("encoder", "dwte += (prefilled)", dwte, pre_wte, g_wte, V * C);
    check_grad("encoder", "dwpe = (overwritten)", dwpe, NULL, g_wpe, T * C);
}

/* ---------------------------------------------------------------- layernorm */

struct ln_ctx { double x[N * C], w[C], b[C], R[N * C]; };

static void ref_layernorm(double *out, double *mean, double *rstd, const struct ln_ctx *c) {
    for (int n = 0; n < N; n++) {
        const double *x = c->x + n * C;
        double m = 0.0, v = 0.0;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        v /= C;
        double s = 1.0 / sqrt(v + (double)1e-5f);
        for (int i = 0; i < C; i++) out[n * C + i] = (x[i] - m) * s * c->w[i] + c->b[i];
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = s;
    }
}

static double ln_objective(void *p) {
    struct ln_ctx *c = p;
    double out[N * C];
    ref_layernorm(out, NULL, NULL, c);
    return dot(out, c->R, N * C);
}

static void test_layernorm(uint64_t *rng) {
    static struct ln_ctx c;
    float x[N * C], w[C], b[C], R[N * C], out[N * C], mean[N], rstd[N], res[N * C], rb[C], out2[N * C];
    fill(x, N * C, rng, 1, 5);   /* mean far from 0, so the centring matters */
    fill(w, C, rng, 0.5f, 1.5f);
    fill(b, C, rng, -0.5f, 0.5f);
    fill(R, N * C, rng, -1, 1);
    fill(rb, C, rng, -1, 1);
    set(out, N * C, GARBAGE);
    set(res, N * C, GARBAGE);
    layernorm_forward(out, mean, rstd, x, w, b, res, rb, N, C);
    /* the residual's start: x + rb exactly (one float add each) */
    double rexact = 0.0;
    for (int i = 0; i < N * C; i++) rexact = worse(rexact, fabs((double)res[i] - (double)(x[i] + rb[i % C])));
    report("layernorm", "res_out = inp + res_bias", rexact, 0.0);
    /* without res_out: the same out; the recompute from mean, rstd: the same bits */
    layernorm_forward(out2, mean, rstd, x, w, b, NULL, NULL, N, C);
    EXPECT(memcmp(out, out2, sizeof out) == 0, "layernorm_forward: res_out changes out");
    set(out2, N * C, GARBAGE);
    layernorm_apply(out2, x, w, b, mean, rstd, N, C);
    report("layernorm", "apply == forward (bits)", memcmp(out, out2, sizeof out) == 0 ? 0.0 : 1.0, 0.0);
    widen(c.x, x, N * C);
    widen(c.w, w, C);
    widen(c.b, b, C);
    widen(c.R, R, N * C);
    double ref[N * C], rmean[N], rrstd[N], g_x[N * C], g_w[C], g_b[C];
    ref_layernorm(ref, rmean, rrstd, &c);
    check_fwd("layernorm", "out", out, ref, N * C);
    check_fwd("layernorm", "mean", mean, rmean, N);
    check_fwd("layernorm", "rstd", rstd, rrstd, N);
    fd_gradient(g_x, c.x, N * C, ln_objective, &c);
    fd_gradient(g_w, c.w, C, ln_objective, &c);
    fd_gradient(g_b, c.b, C, ln_objective, &c);

    float dx[N * C], dw[C], db[C], pre_x[N * C];
    set(dx, N * C, 0.0f);
    set(dw, C, GARBAGE);
    set(db, C, GARBAGE);
    layernorm_backward(dx, dw, db, R, x, w, mean, rstd, N, C);
    check_grad("layernorm", "dinp", dx, NULL, g_x, N * C);
    check_grad("layernorm", "dw = (overwritten)", dw, NULL, g_w, C);
    check_grad("layernorm", "db = (overwritten)", db, NULL, g_b, C);
    fill(pre_x, N * C, rng, -1, 1);
    memcpy(dx, pre_x, sizeof dx);
    layernorm_backward(dx, dw, db, R, x, w, mean, rstd, N, C);
    check_grad("layernorm", "dinp += (prefilled)", dx, pre_x, g_x, N * C);
    check_grad("layernorm", "dw again (overwritten)", dw, NULL, g_w, C);
}

/* ---------------------------------------------------------------- matmul */

/* sizes up to F on both sides; ci, co are this case's C and OC */
struct mm_ctx { int ci, co, has_bias; double x[N * F], w[F * F], bias[F], R[N * F]; };

static void ref_matmul(double *out, const struct mm_ctx *c) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < c->co; o++)
            out[n * c->co + o] = dot(c->x + n * c->ci, c->w + o * c->ci, c->ci)
                                 + (c->has_bias ? c->bias[o] : 0.0);
}

static double mm_objective(void *p) {
    struct mm_ctx *c = p;
    double out[N * F];
    ref_matmul(out, c);
    return dot(out, c->R, N * c->co);
}

static void test_matmul(uint64_t *rng, int ci, int co, int has_bias, int accumulate) {
    static struct mm_ctx c;
    char op[64];
    snprintf(op, sizeof op, "matmul %dx%d%s%s", ci, co, has_bias ? " bias" : "",
             accumulate ? " acc=1" : "");
    c.ci = ci;
    c.co = co;
    c.has_bias = has_bias;
    float x[N * F], w[F * F], bias[F], R[N * F], out0[N * F], out[N * F];
    fill(x, N * ci, rng, -1, 1);
    fill(w, co * ci, rng, -1, 1);
    fill(bias, co, rng, -1, 1);
    fill(R, N * co, rng, -1, 1);
    if (accumulate) fill(out0, N * co, rng, -1, 1);   /* e.g. the residual stream */
    else set(out0, N * co, GARBAGE);                  /* must be overwritten */
    memcpy(out, out0, sizeof(float) * N * co);
    matmul_forward(out, x, w, has_bias ? bias : NULL, N, ci, co, accumulate);
    widen(c.x, x, N * ci);
    widen(c.w, w, co * ci);
    widen(c.bias, bias, co);
    widen(c.R, R, N * co);
    double ref[N * F], g_x[N * F], g_w[F * F], g_b[F];
    ref_matmul(ref, &c);
    if (accumulate)
        for (int i = 0; i < N * co; i++) ref[i] += out0[i];
    check_fwd(op, accumulate ? "out += x w^T (+b)" : "out", out, ref, N * co);
    fd_gradient(g_x, c.x, N * ci, mm_objective, &c);
    fd_gradient(g_w, c.w, co * ci, mm_objective, &c);
    fd_gradient(g_b, c.bias, co, mm_objective, &c);

    float dx[N * F], dw[F * F], db[F], pre_w[F * F], pre_b[F], xa[N * F], dw2[F * F];
    set(dx, N * ci, GARBAGE);
    set(dw, co * ci, GARBAGE);
    set(db, co, GARBAGE);
    matmul_backward(dx, dw, has_bias ? db : NULL, R, x, w, N, ci, co, 0);
    check_grad(op, "dinp = (overwritten)", dx, NULL, g_x, N * ci);
    check_grad(op, "dw = (accumulate 0)", dw, NULL, g_w, co * ci);
    if (has_bias) check_grad(op, "dbias = (accumulate 0)", db, NULL, g_b, co);
    /* dinp aliasing inp: the same bits as into a separate buffer */
    memcpy(xa, x, sizeof(float) * N * ci);
    matmul_backward(xa, dw2, NULL, R, xa, w, N, ci, co, 0);
    report(op, "dinp aliasing inp (bits)",
           memcmp(xa, dx, sizeof(float) * N * ci) == 0 && memcmp(dw2, dw, sizeof(float) * co * ci) == 0
           ? 0.0 : 1.0, 0.0);
    /* again with dinp = NULL (allowed) and dw, dbias prefilled */
    fill(pre_w, co * ci, rng, -1, 1);
    fill(pre_b, co, rng, -1, 1);
    memcpy(dw, pre_w, sizeof(float) * co * ci);
    memcpy(db, pre_b, sizeof(float) * co);
    matmul_backward(NULL, dw, has_bias ? db : NULL, R, x, w, N, ci, co, 1);
    check_grad(op, "dw += (accumulate 1)", dw, pre_w, g_w, co * ci);
    if (has_bias) check_grad(op, "dbias += (accumulate 1)", db, pre_b, g_b, co);
}

/* ---------------------------------------------------------------- attention */

/* sizes of one attention case: ab sequences of at positions (C, NH as above) */
struct att_ctx { int ab, at; double *qkv, *R; };

/* out (ab,at,C); stats (ab,NH,at,2) may be NULL: max score and 1/sum of each row */
static void ref_attention(double *out, double *stats, const double *qkv, int ab, int at) {
    const double scale = 1.0 / sqrt((double)HS);
    double *s = malloc(sizeof(double) * at);
    for (int b = 0; b < ab; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < at; t++) {
                const double *q = qkv + (b * at + t) * 3 * C + h * HS;
                double mx = -INFINITY, sum = 0.0;
                for (int j = 0; j <= t; j++) {
                    s[j] = scale * dot(q, qkv + (b * at + j) * 3 * C + C + h * HS, HS);
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (int j = 0; j <= t; j++) { s[j] = exp(s[j] - mx); sum += s[j]; }
                double *o = out + (b * at + t) * C + h * HS;
                for (int i = 0; i < HS; i++) o[i] = 0.0;
                for (int j = 0; j <= t; j++) {
                    const double *v = qkv + (b * at + j) * 3 * C + 2 * C + h * HS;
                    for (int i = 0; i < HS; i++) o[i] += s[j] / sum * v[i];
                }
                if (stats) {
                    stats[((b * NH + h) * at + t) * 2] = mx;
                    stats[((b * NH + h) * at + t) * 2 + 1] = 1.0 / sum;
                }
            }
    free(s);
}

static double att_objective(void *p) {
    struct att_ctx *c = p;
    int n = c->ab * c->at * C;
    double *out = malloc(sizeof(double) * n);
    ref_attention(out, NULL, c->qkv, c->ab, c->at);
    double r = dot(out, c->R, n);
    free(out);
    return r;
}

/* ab sequences of at positions: at = T fits one block; a longer at (not a
 * multiple of the block) runs several blocks, the last one partial */
static void test_attention(uint64_t *rng, int ab, int at) {
    char op[48];
    snprintf(op, sizeof op, "attention B=%d T=%d", ab, at);
    const int nq = ab * at * 3 * C, no = ab * at * C, ns = ab * NH * at * 2;
    const size_t nscr = attention_scratch_floats((size_t)at);
    float *qkv = malloc(sizeof(float) * nq), *R = malloc(sizeof(float) * no);
    float *out = malloc(sizeof(float) * no), *out2 = malloc(sizeof(float) * no);
    float *st = malloc(sizeof(float) * ns), *st2 = malloc(sizeof(float) * ns);
    float *dqkv = malloc(sizeof(float) * nq), *qkv2 = malloc(sizeof(float) * nq);
    float *scr = malloc(sizeof(float) * nscr);
    double *ref = malloc(sizeof(double) * no), *rst = malloc(sizeof(double) * ns);
    double *g_qkv = malloc(sizeof(double) * nq);
    struct att_ctx c = { ab, at, malloc(sizeof(double) * nq), malloc(sizeof(double) * no) };
    fill(qkv, nq, rng, -2, 2);   /* scores of a few units: a softmax far from uniform */
    fill(R, no, rng, -1, 1);
    set(out, no, GARBAGE);
    set(st, ns, GARBAGE);
    set(scr, (int)nscr, GARBAGE);
    attention_forward(out, st, scr, qkv, ab, at, C, NH);
    widen(c.qkv, qkv, nq);
    widen(c.R, R, no);
    ref_attention(ref, rst, c.qkv, ab, at);
    check_fwd(op, "out", out, ref, no);
    check_fwd(op, "stats (max, 1/sum)", st, rst, ns);

    /* causality: new K and V for position t0 of sequence 0 leave earlier positions
     * (and the other sequences) bit-identical, and do change position t0 */
    const int t0 = at / 2;
    memcpy(qkv2, qkv, sizeof(float) * nq);
    fill(qkv2 + t0 * 3 * C + C, 2 * C, rng, -2, 2);
    attention_forward(out2, st2, scr, qkv2, ab, at, C, NH);
    double leak = 0.0, moved = 0.0;
    for (int n = 0; n < ab * at; n++)
        for (int i = 0; i < C; i++) {
            double d = fabs((double)out2[n * C + i] - out[n * C + i]);
            if (n < t0 || n >= at) leak = worse(leak, d);
            else if (n == t0) moved = worse(moved, d);
        }
    report(op, "future K/V leak", leak, 0.0);
    printf("  %-4s %-26s %-24s max change %.2e\n", moved > 0.0 ? "ok" : "FAIL", op,
           "K/V change reaches t0", moved);
    fflush(stdout);
    EXPECT(moved > 0.0, "%s: changing K/V at t0 did not change out at t0", op);

    fd_gradient(g_qkv, c.qkv, nq, att_objective, &c);
    set(dqkv, nq, GARBAGE);
    set(scr, (int)nscr, GARBAGE);
    attention_backward(dqkv, scr, R, qkv, st, ab, at, C, NH);
    check_grad(op, "dqkv = (overwritten)", dqkv, NULL, g_qkv, nq);
    free(qkv); free(R); free(out); free(out2); free(st); free(st2); free(dqkv); free(qkv2);
    free(scr); free(ref); free(rst); free(g_qkv); free(c.qkv); free(c.R);
}

/* ---------------------------------------------------------------- gelu */

#define GELU_K 0.7978845608028654   /* sqrt(2/pi) */

struct gelu_ctx { double x[NG], R[NG]; };

static double ref_gelu(double x) {
    return 0.5 * x * (1.0 + tanh(GELU_K * (x + 0.044715 * x * x * x)));
}

static double gelu_objective(void *p) {
    struct gelu_ctx *c = p;
    double s = 0.0;
    for (int i = 0; i < NG; i++) s += ref_gelu(c->x[i]) * c->R[i];
    return s;
}

static void test_gelu(uint64_t *rng) {
    static struct gelu_ctx c;
    static const float special[] = { 0.0f, 1e-3f, -1e-3f, 1.0f, -1.0f, 3.0f, -3.0f, 5.0f, -5.0f,
                                     9.0f, -9.0f, 9.5f, -9.5f, 10.0f, -10.0f, 50.0f, -50.0f,
                                     1e4f, -1e4f };
    const int ns = (int)(sizeof special / sizeof special[0]);
    float x[NG], R[NG], out[NG], out2[NG], dg[NG], dx[NG], buf[NG];
    fill(x, NG, rng, -4, 4);
    memcpy(x, special, sizeof special);
    fill(R, NG, rng, -1, 1);
    set(out, NG, GARBAGE);
    gelu_forward(out, NULL, x, NG);
    widen(c.x, x, NG);
    widen(c.R, R, NG);
    double ref[NG], g_x[NG];
    for (int i = 0; i < NG; i++) ref[i] = ref_gelu(c.x[i]);
    check_fwd("gelu", "out", out, ref, NG);
    /* with the derivative: the same out */
    set(out2, NG, GARBAGE);
    set(dg, NG, GARBAGE);
    gelu_forward(out2, dg, x, NG);
    report("gelu", "out with dgelu (bits)", memcmp(out, out2, sizeof out) == 0 ? 0.0 : 1.0, 0.0);
    fd_gradient(g_x, c.x, NG, gelu_objective, &c);
    set(dx, NG, GARBAGE);
    gelu_backward(dx, dg, R, NG);
    check_grad("gelu", "dinp = (overwritten)", dx, NULL, g_x, NG);
    check_grad("gelu", "dinp at 0 and large |x|", dx, NULL, g_x, ns);
    memcpy(buf, R, sizeof buf);
    gelu_backward(buf, dg, buf, NG);   /* dinp aliasing dout, as documented */
    check_grad("gelu", "dinp aliasing dout", buf, NULL, g_x, NG);
    memcpy(buf, x, sizeof buf);        /* dgelu aliasing inp, as the model uses it */
    gelu_forward(out2, buf, buf, NG);
    report("gelu", "dgelu aliasing inp (bits)", memcmp(buf, dg, sizeof dg) == 0 ? 0.0 : 1.0, 0.0);
}

/* ---------------------------------------------------------------- crossentropy */

struct ce_ctx { const int *targets; double dloss, logits[N * V]; };

/* returns the sum of losses; probs and losses may be NULL */
static double ref_crossentropy(double *probs, double *losses, const struct ce_ctx *c) {
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        const double *x = c->logits + n * V;
        double mx = x[0], sum = 0.0;
        for (int i = 1; i < V; i++) mx = x[i] > mx ? x[i] : mx;
        for (int i = 0; i < V; i++) sum += exp(x[i] - mx);
        double lse = mx + log(sum);
        if (probs)
            for (int i = 0; i < V; i++) probs[n * V + i] = exp(x[i] - lse);
        if (losses) losses[n] = lse - x[c->targets[n]];
        total += lse - x[c->targets[n]];
    }
    return total;
}

static double ce_objective(void *p) {
    struct ce_ctx *c = p;
    return c->dloss * ref_crossentropy(NULL, NULL, c);
}

static void test_crossentropy(uint64_t *rng) {
    static struct ce_ctx c;
    int targets[N];
    float logits[N * V], probs[N * V], scale[N], losses[N], pr[N * V];
    for (int n = 0; n < N; n++) targets[n] = (int)(splitmix64(rng) % V);
    fill(logits, N * V, rng, -3, 3);
    targets[0] = 2;
    logits[0 * V + 7] = 80.0f;                 /* a large logit off the target: loss ~ 80 */
    logits[1 * V + targets[1]] = 80.0f;        /* on the target: loss ~ 0 */
    for (int i = 0; i < V; i++)                /* exp(90) overflows a float: needs the max shift */
        logits[2 * V + i] += 90.0f;
    memcpy(probs, logits, sizeof probs);
    set(losses, N, GARBAGE);
    double total = crossentropy_forward(probs, scale, losses, targets, N, V);
    for (int i = 0; i < N * V; i++) pr[i] = probs[i] * scale[i / V];   /* probs = numerators * scale */
    c.targets = targets;
    c.dloss = 1.0f / N;                        /* the mean loss, as the trainer uses it */
    widen(c.logits, logits, N * V);
    double rprobs[N * V], rlosses[N], g_logits[N * V];
    double rtotal = ref_crossentropy(rprobs, rlosses, &c);
    check_fwd("crossentropy", "numerators * scale", pr, rprobs, N * V);
    check_fwd("crossentropy", "losses", losses, rlosses, N);
    report("crossentropy", "sum of losses (rel)", fabs(total - rtotal) / fabs(rtotal), FWD_RTOL);
    fd_gradient(g_logits, c.logits, N * V, ce_objective, &c);
    crossentropy_backward(probs, scale, targets, (float)c.dloss, N, V);
    check_grad("crossentropy", "dlogits", probs, NULL, g_logits, N * V);
}

/* ---------------------------------------------------------------- adamw */

/* three steps of adamw_update against the same update in double, with weight
 * decay and a gradient scale (the clip); tolerance: float rounding of a few
 * operations per step, relative to the parameter's scale */
static void test_adamw(uint64_t *rng) {
    enum { NP = 37 };   /* not a multiple of any vector width */
    float p[NP], m[NP], v[NP], g[NP];
    double pd[NP], md[NP], vd[NP];
    fill(p, NP, rng, -1, 1);
    for (int i = 0; i < NP; i++) { m[i] = v[i] = 0.0f; pd[i] = p[i]; md[i] = vd[i] = 0.0; }
    const float b1 = 0.9f, b2 = 0.95f, lr = 1e-2f, eps = 1e-8f, wd = 0.1f, gs = 0.5f;
    for (int step = 1; step <= 3; step++) {
        fill(g, NP, rng, -1, 1);
        adamw_step s = { .lr = lr, .beta1 = b1, .beta2 = b2,
                         .rb1 = 1.0f / (1.0f - powf(b1, (float)step)),
                         .rb2 = 1.0f / (1.0f - powf(b2, (float)step)), .eps = eps, .wd = wd, .gscale = gs };
        adamw_update(p, m, v, g, NP, &s);
        for (int i = 0; i < NP; i++) {
            double gd = (double)g[i] * gs;
            md[i] = (double)b1 * md[i] + (1.0 - (double)b1) * gd;
            vd[i] = (double)b2 * vd[i] + (1.0 - (double)b2) * gd * gd;
            double mh = md[i] / (1.0 - pow(b1, step)), vh = vd[i] / (1.0 - pow(b2, step));
            pd[i] -= lr * (mh / (sqrt(vh) + eps) + wd * pd[i]);
        }
    }
    double err = 0.0;
    for (int i = 0; i < NP; i++) err = worse(err, fabs((double)p[i] - pd[i]));
    report("adamw", "params after 3 steps", err, 1e-6);
}

/* ---------------------------------------------------------------- main */

int main(void) {
    blas_single_thread();
    uint64_t rng = 0x5eedull;
    test_encoder(&rng);
    test_layernorm(&rng);
    test_matmul(&rng, C, OC, 1, 0);   /* qkv-style projection */
    test_matmul(&rng, C, OC, 0, 0);   /* lm-head style, no bias */
    test_matmul(&rng, F, C, 1, 1);    /* fc-proj into the residual stream */
    test_matmul(&rng, C, F, 0, 1);
    test_attention(&rng, B, T);
    test_attention(&rng, 2, 70);   /* three blocks of query rows, the last one partial */
    test_gelu(&rng);
    test_crossentropy(&rng);
    test_adamw(&rng);
    return check_finish("test_ops");
}
