/*
 * test_ops.c - every layer of core/ops.c against a naive double-precision
 * reference written here. Forward outputs are compared element by element;
 * each backward is compared with central finite differences of the
 * reference objective sum(out * R) (so dout = R) with respect to every
 * input and parameter. Also checked: the overwrite / accumulate contracts
 * of ops.h, the causal mask of attention, GELU at 0 and large |x|, and a
 * cross-entropy that stays finite for logits whose exp overflows a float.
 */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "ops.h"

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

    float dwte[V * C], dwpe[T * C], pre_wte[V * C], pre_wpe[T * C];
    set(dwte, V * C, 0.0f);
    set(dwpe, T * C, 0.0f);
    encoder_backward(dwte, dwpe, R, inp, B, T, C);
    check_grad("encoder", "dwte", dwte, NULL, g_wte, V * C);
    check_grad("encoder", "dwpe", dwpe, NULL, g_wpe, T * C);
    fill(pre_wte, V * C, rng, -1, 1);
    fill(pre_wpe, T * C, rng, -1, 1);
    memcpy(dwte, pre_wte, sizeof dwte);
    memcpy(dwpe, pre_wpe, sizeof dwpe);
    encoder_backward(dwte, dwpe, R, inp, B, T, C);
    check_grad("encoder", "dwte += (prefilled)", dwte, pre_wte, g_wte, V * C);
    check_grad("encoder", "dwpe += (prefilled)", dwpe, pre_wpe, g_wpe, T * C);
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
    float x[N * C], w[C], b[C], R[N * C], out[N * C], mean[N], rstd[N];
    fill(x, N * C, rng, 1, 5);   /* mean far from 0, so the centring matters */
    fill(w, C, rng, 0.5f, 1.5f);
    fill(b, C, rng, -0.5f, 0.5f);
    fill(R, N * C, rng, -1, 1);
    set(out, N * C, GARBAGE);
    layernorm_forward(out, mean, rstd, x, w, b, N, C);
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

    float dx[N * C], dw[C], db[C], pre_x[N * C], pre_w[C], pre_b[C];
    set(dx, N * C, 0.0f);
    set(dw, C, 0.0f);
    set(db, C, 0.0f);
    layernorm_backward(dx, dw, db, R, x, w, mean, rstd, N, C);
    check_grad("layernorm", "dinp", dx, NULL, g_x, N * C);
    check_grad("layernorm", "dw", dw, NULL, g_w, C);
    check_grad("layernorm", "db", db, NULL, g_b, C);
    fill(pre_x, N * C, rng, -1, 1);
    fill(pre_w, C, rng, -1, 1);
    fill(pre_b, C, rng, -1, 1);
    memcpy(dx, pre_x, sizeof dx);
    memcpy(dw, pre_w, sizeof dw);
    memcpy(db, pre_b, sizeof db);
    layernorm_backward(dx, dw, db, R, x, w, mean, rstd, N, C);
    check_grad("layernorm", "dinp += (prefilled)", dx, pre_x, g_x, N * C);
    check_grad("layernorm", "dw += (prefilled)", dw, pre_w, g_w, C);
    check_grad("layernorm", "db += (prefilled)", db, pre_b, g_b, C);
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

    float dx[N * F], dw[F * F], db[F], pre_w[F * F], pre_b[F];
    set(dx, N * ci, GARBAGE);
    set(dw, co * ci, 0.0f);
    set(db, co, 0.0f);
    matmul_backward(dx, dw, has_bias ? db : NULL, R, x, w, N, ci, co);
    check_grad(op, "dinp = (overwritten)", dx, NULL, g_x, N * ci);
    check_grad(op, "dw", dw, NULL, g_w, co * ci);
    if (has_bias) check_grad(op, "dbias", db, NULL, g_b, co);
    /* again with dinp = NULL (allowed) and dw, dbias prefilled */
    fill(pre_w, co * ci, rng, -1, 1);
    fill(pre_b, co, rng, -1, 1);
    memcpy(dw, pre_w, sizeof(float) * co * ci);
    memcpy(db, pre_b, sizeof(float) * co);
    matmul_backward(NULL, dw, has_bias ? db : NULL, R, x, w, N, ci, co);
    check_grad(op, "dw += (prefilled)", dw, pre_w, g_w, co * ci);
    if (has_bias) check_grad(op, "dbias += (prefilled)", db, pre_b, g_b, co);
}

/* ---------------------------------------------------------------- attention */

struct att_ctx { double qkv[N * 3 * C], R[N * C]; };

/* att (B,NH,T,T) may be NULL */
static void ref_attention(double *out, double *att, const double *qkv) {
    const double scale = 1.0 / sqrt((double)HS);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *q = qkv + (b * T + t) * 3 * C + h * HS;
                double s[T], mx = -INFINITY, sum = 0.0;
                for (int j = 0; j <= t; j++) {
                    s[j] = scale * dot(q, qkv + (b * T + j) * 3 * C + C + h * HS, HS);
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (int j = 0; j <= t; j++) { s[j] = exp(s[j] - mx); sum += s[j]; }
                double *o = out + (b * T + t) * C + h * HS;
                for (int i = 0; i < HS; i++) o[i] = 0.0;
                for (int j = 0; j <= t; j++) {
                    const double *v = qkv + (b * T + j) * 3 * C + 2 * C + h * HS;
                    for (int i = 0; i < HS; i++) o[i] += s[j] / sum * v[i];
                }
                if (att)
                    for (int j = 0; j < T; j++)
                        att[((b * NH + h) * T + t) * T + j] = j <= t ? s[j] / sum : 0.0;
            }
}

static double att_objective(void *p) {
    struct att_ctx *c = p;
    double out[N * C];
    ref_attention(out, NULL, c->qkv);
    return dot(out, c->R, N * C);
}

static void test_attention(uint64_t *rng) {
    static struct att_ctx c;
    enum { NQ = N * 3 * C, NA = B * NH * T * T };
    float qkv[NQ], R[N * C], out[N * C], att[NA], dqkv[NQ], dtt[T * T];
    fill(qkv, NQ, rng, -2, 2);   /* scores of a few units: a softmax far from uniform */
    fill(R, N * C, rng, -1, 1);
    set(out, N * C, GARBAGE);
    set(att, NA, GARBAGE);
    attention_forward(out, att, qkv, B, T, C, NH);
    widen(c.qkv, qkv, NQ);
    widen(c.R, R, N * C);
    double ref[N * C], ratt[NA], g_qkv[NQ];
    ref_attention(ref, ratt, c.qkv);
    check_fwd("attention", "out", out, ref, N * C);
    check_fwd("attention", "att", att, ratt, NA);
    double above = 0.0;   /* the mask must be exact zeros */
    for (int bh = 0; bh < B * NH; bh++)
        for (int t = 0; t < T; t++)
            for (int j = t + 1; j < T; j++) above = worse(above, fabs(att[(bh * T + t) * T + j]));
    report("attention", "att above diagonal", above, 0.0);

    /* causality: new K and V for position t0 of sequence 0 leave earlier positions
     * (and the other sequence) bit-identical, and do change position t0 */
    const int t0 = 2;
    float qkv2[NQ], out2[N * C], att2[NA];
    memcpy(qkv2, qkv, sizeof qkv);
    fill(qkv2 + t0 * 3 * C + C, 2 * C, rng, -2, 2);
    attention_forward(out2, att2, qkv2, B, T, C, NH);
    double leak = 0.0, moved = 0.0;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < C; i++) {
            double d = fabs((double)out2[n * C + i] - out[n * C + i]);
            if (n < t0 || n >= T) leak = worse(leak, d);
            else if (n == t0) moved = worse(moved, d);
        }
    report("attention", "future K/V leak", leak, 0.0);
    printf("  %-4s %-26s %-24s max change %.2e\n", moved > 0.0 ? "ok" : "FAIL", "attention",
           "K/V change reaches t0", moved);
    fflush(stdout);
    EXPECT(moved > 0.0, "attention: changing K/V at t0 did not change out at t0");

    fd_gradient(g_qkv, c.qkv, NQ, att_objective, &c);
    set(dqkv, NQ, GARBAGE);
    set(dtt, T * T, GARBAGE);
    attention_backward(dqkv, dtt, R, qkv, att, B, T, C, NH);
    check_grad("attention", "dqkv = (overwritten)", dqkv, NULL, g_qkv, NQ);
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
                                     10.0f, -10.0f, 50.0f, -50.0f, 1e4f, -1e4f };
    const int ns = (int)(sizeof special / sizeof special[0]);
    float x[NG], R[NG], out[NG], dx[NG], buf[NG];
    fill(x, NG, rng, -4, 4);
    memcpy(x, special, sizeof special);
    fill(R, NG, rng, -1, 1);
    set(out, NG, GARBAGE);
    gelu_forward(out, x, NG);
    widen(c.x, x, NG);
    widen(c.R, R, NG);
    double ref[NG], g_x[NG];
    for (int i = 0; i < NG; i++) ref[i] = ref_gelu(c.x[i]);
    check_fwd("gelu", "out", out, ref, NG);
    fd_gradient(g_x, c.x, NG, gelu_objective, &c);
    set(dx, NG, GARBAGE);
    gelu_backward(dx, x, R, NG);
    check_grad("gelu", "dinp = (overwritten)", dx, NULL, g_x, NG);
    check_grad("gelu", "dinp at 0 and large |x|", dx, NULL, g_x, ns);
    memcpy(buf, R, sizeof buf);
    gelu_backward(buf, x, buf, NG);   /* dinp aliasing dout, as documented */
    check_grad("gelu", "dinp aliasing dout", buf, NULL, g_x, NG);
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
    float logits[N * V], probs[N * V], losses[N];
    for (int n = 0; n < N; n++) targets[n] = (int)(splitmix64(rng) % V);
    fill(logits, N * V, rng, -3, 3);
    targets[0] = 2;
    logits[0 * V + 7] = 80.0f;                 /* a large logit off the target: loss ~ 80 */
    logits[1 * V + targets[1]] = 80.0f;        /* on the target: loss ~ 0 */
    for (int i = 0; i < V; i++)                /* exp(90) overflows a float: needs the max shift */
        logits[2 * V + i] += 90.0f;
    memcpy(probs, logits, sizeof probs);
    set(losses, N, GARBAGE);
    double total = crossentropy_forward(probs, losses, targets, N, V);
    c.targets = targets;
    c.dloss = 1.0f / N;                        /* the mean loss, as the trainer uses it */
    widen(c.logits, logits, N * V);
    double rprobs[N * V], rlosses[N], g_logits[N * V];
    double rtotal = ref_crossentropy(rprobs, rlosses, &c);
    check_fwd("crossentropy", "probs", probs, rprobs, N * V);
    check_fwd("crossentropy", "losses", losses, rlosses, N);
    report("crossentropy", "sum of losses (rel)", fabs(total - rtotal) / fabs(rtotal), FWD_RTOL);
    fd_gradient(g_logits, c.logits, N * V, ce_objective, &c);
    crossentropy_backward(probs, targets, (float)c.dloss, N, V);
    check_grad("crossentropy", "dlogits", probs, NULL, g_logits, N * V);
}

/* ---------------------------------------------------------------- main */

int main(void) {
    openblas_set_num_threads(1);
    uint64_t rng = 0x5eedull;
    test_encoder(&rng);
    test_layernorm(&rng);
    test_matmul(&rng, C, OC, 1, 0);   /* qkv-style projection */
    test_matmul(&rng, C, OC, 0, 0);   /* lm-head style, no bias */
    test_matmul(&rng, F, C, 1, 1);    /* fc-proj into the residual stream */
    test_matmul(&rng, C, F, 0, 1);
    test_attention(&rng);
    test_gelu(&rng);
    test_crossentropy(&rng);
    return check_finish("test_ops");
}
