/*
 * model.c - parameter and activation tables, init, and the model's forward
 * and backward passes over one training context.
 */
#include "model.h"

#include <math.h>
#include <string.h>

#include "ops.h"

const char *const param_names[P_COUNT] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};

size_t param_counts(const config_t *c, size_t n[P_COUNT]) {
    size_t V = c->V, C = c->C, L = c->L, F = c->F, T = c->T;
    n[P_WTE] = V * C;          n[P_WPE] = T * C;
    n[P_LN1W] = L * C;         n[P_LN1B] = L * C;
    n[P_QKVW] = L * 3 * C * C; n[P_QKVB] = L * 3 * C;
    n[P_ATTPROJW] = L * C * C; n[P_ATTPROJB] = L * C;
    n[P_LN2W] = L * C;         n[P_LN2B] = L * C;
    n[P_FCW] = L * F * C;      n[P_FCB] = L * F;
    n[P_FCPROJW] = L * C * F;  n[P_FCPROJB] = L * C;
    n[P_LNFW] = C;             n[P_LNFB] = C;
    size_t total = 0;
    for (int i = 0; i < P_COUNT; i++) total += n[i];
    return total;
}

int param_decays(int i) {
    return i == P_WTE || i == P_WPE || i == P_QKVW || i == P_ATTPROJW ||
           i == P_FCW || i == P_FCPROJW;
}

void params_point(params_t *p, float *base, const config_t *c) {
    size_t n[P_COUNT];
    param_counts(c, n);
    for (int i = 0; i < P_COUNT; i++) {
        p->t[i] = base;
        base += n[i];
    }
}

void params_init(float *base, const config_t *c, unsigned long long seed) {
    size_t n[P_COUNT];
    param_counts(c, n);
    rng_t r = { seed ^ 0x5eedULL };
    float *p = base;
    for (int i = 0; i < P_COUNT; i++) {
        float std = 0.02f;
        if (i == P_ATTPROJW || i == P_FCPROJW) std = 0.02f / sqrtf(2.0f * c->L);
        int is_norm_w = i == P_LN1W || i == P_LN2W || i == P_LNFW;
        int is_bias = i == P_QKVB || i == P_ATTPROJB || i == P_FCB || i == P_FCPROJB ||
                      i == P_LN1B || i == P_LN2B || i == P_LNFB;
        for (size_t k = 0; k < n[i]; k++)
            p[k] = is_norm_w ? 1.0f : is_bias ? 0.0f : std * rng_normal(&r);
        p += n[i];
    }
}

/* ---------------------------------------------------------------- context */

int ctx_layout(const config_t *c, int Bmax, ctx_t *x, mem_item it[CTX_ITEMS], size_t *total) {
    size_t B = Bmax, T = c->T, C = c->C, L = c->L, NH = c->NH, F = c->F, V = c->V;
    size_t BT = B * T, f = sizeof(float);
#define ITEM(nm, count, sz, field) \
    it[k++] = (mem_item){ nm, (count) * (sz), x ? (void **)&x->field : NULL }
    int k = 0;
    ITEM("inp", BT, sizeof(int), inp);
    ITEM("tgt", BT, sizeof(int), tgt);
    ITEM("encoded", BT * C, f, encoded);
    ITEM("ln1_mean", L * BT, f, ln1_mean);
    ITEM("ln1_rstd", L * BT, f, ln1_rstd);
    ITEM("qkv", L * BT * 3 * C, f, qkv);
    ITEM("att", L * B * NH * T * T, f, att);
    ITEM("atty", L * BT * C, f, atty);
    ITEM("res2", L * BT * C, f, res2);
    ITEM("ln2_mean", L * BT, f, ln2_mean);
    ITEM("ln2_rstd", L * BT, f, ln2_rstd);
    ITEM("fch", L * BT * F, f, fch);
    ITEM("res3", L * BT * C, f, res3);
    ITEM("lnf", BT * C, f, lnf);
    ITEM("lnf_mean", BT, f, lnf_mean);
    ITEM("lnf_rstd", BT, f, lnf_rstd);
    ITEM("probs", T * V, f, probs);
    ITEM("losses", BT, f, losses);
    ITEM("ln", BT * C, f, ln);
    ITEM("gelu", BT * F, f, gelu);
    ITEM("dres", BT * C, f, dres);
    ITEM("dbtc", BT * C, f, dbtc);
    ITEM("dqkv", BT * 3 * C, f, dqkv);
    ITEM("dfch", BT * F, f, dfch);
    ITEM("dtt", T * T, f, dtt);
#undef ITEM
    CHECK(k == CTX_ITEMS, "ctx_layout: %d items, CTX_ITEMS is %d", k, CTX_ITEMS);
    /* overflow check in double: every count above is a product of ints */
    double big = (double)L * B * NH * T * T * f + (double)L * B * T * F * f + (double)T * V * f;
    if (big > 1e18) return -1;
    size_t sum = 0;
    for (int i = 0; i < k; i++) sum += (it[i].bytes + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    *total = sum;
    return k;
}

void ctx_carve(const config_t *c, int Bmax, ctx_t *x, char *base) {
    mem_item it[CTX_ITEMS];
    size_t total;
    int n = ctx_layout(c, Bmax, x, it, &total);
    CHECK(n == CTX_ITEMS, "ctx_carve: layout failed");
    x->Bmax = Bmax;
    for (int i = 0; i < n; i++) {
        *it[i].slot = base;
        base += (it[i].bytes + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    }
}

/* ---------------------------------------------------------------- passes */

double model_forward(const config_t *c, const params_t *p, ctx_t *x, int B,
                     const params_t *g, float dloss) {
    const int T = c->T, C = c->C, L = c->L, NH = c->NH, F = c->F, V = c->V;
    const size_t BT = (size_t)B * T;     /* rows; BT * F passes 2^31 for accepted configs */
    const size_t Bmax = x->Bmax;
    const size_t sBTC = Bmax * T * C, sBT = Bmax * T;
    CHECK(B <= x->Bmax, "forward over %d sequences, context holds %d", B, x->Bmax);

    encoder_forward(x->encoded, x->inp, p->t[P_WTE], p->t[P_WPE], B, T, C);
    for (int l = 0; l < L; l++) {
        const float *res = l == 0 ? x->encoded : x->res3 + (l - 1) * sBTC;
        float *ln1m = x->ln1_mean + l * sBT, *ln1r = x->ln1_rstd + l * sBT;
        float *qkv = x->qkv + l * sBTC * 3;
        float *att = x->att + l * Bmax * NH * T * T;
        float *atty = x->atty + l * sBTC, *res2 = x->res2 + l * sBTC;
        float *ln2m = x->ln2_mean + l * sBT, *ln2r = x->ln2_rstd + l * sBT;
        float *fch = x->fch + l * Bmax * T * F;
        float *res3 = x->res3 + l * sBTC;

        layernorm_forward(x->ln, ln1m, ln1r, res, p->t[P_LN1W] + l * C, p->t[P_LN1B] + l * C, BT, C);
        matmul_forward(qkv, x->ln, p->t[P_QKVW] + (size_t)l * 3 * C * C, p->t[P_QKVB] + l * 3 * C,
                       BT, C, 3 * C, 0);
        attention_forward(atty, att, qkv, B, T, C, NH);
        memcpy(res2, res, sizeof(float) * BT * C);        /* res2 = res + atty @ attprojw^T + b */
        matmul_forward(res2, atty, p->t[P_ATTPROJW] + (size_t)l * C * C, p->t[P_ATTPROJB] + l * C,
                       BT, C, C, 1);
        layernorm_forward(x->ln, ln2m, ln2r, res2, p->t[P_LN2W] + l * C, p->t[P_LN2B] + l * C, BT, C);
        matmul_forward(fch, x->ln, p->t[P_FCW] + (size_t)l * F * C, p->t[P_FCB] + l * F, BT, C, F, 0);
        gelu_forward(x->gelu, fch, BT * F);
        memcpy(res3, res2, sizeof(float) * BT * C);       /* res3 = res2 + gelu @ fcprojw^T + b */
        matmul_forward(res3, x->gelu, p->t[P_FCPROJW] + (size_t)l * C * F, p->t[P_FCPROJB] + l * C,
                       BT, F, C, 1);
    }
    layernorm_forward(x->lnf, x->lnf_mean, x->lnf_rstd, x->res3 + (L - 1) * sBTC,
                      p->t[P_LNFW], p->t[P_LNFB], BT, C);
    /* the tied classifier, one sequence at a time: logits = lnf @ wte^T */
    double loss = 0.0;
    for (int b = 0; b < B; b++) {
        const float *lnf = x->lnf + (size_t)b * T * C;
        const int *tgt = x->tgt + (size_t)b * T;
        matmul_forward(x->probs, lnf, p->t[P_WTE], NULL, T, C, V, 0);
        loss += crossentropy_forward(x->probs, x->losses + (size_t)b * T, tgt, T, V);
        if (!g) continue;
        crossentropy_backward(x->probs, tgt, dloss, T, V);     /* probs now hold dlogits */
        matmul_backward(x->dbtc + (size_t)b * T * C, g->t[P_WTE], NULL, x->probs, lnf,
                        p->t[P_WTE], T, C, V);
    }
    return loss;
}

void model_backward(const config_t *c, const params_t *p, const params_t *g, ctx_t *x, int B) {
    const int T = c->T, C = c->C, L = c->L, NH = c->NH, F = c->F;
    const size_t BT = (size_t)B * T;     /* rows; BT * F passes 2^31 for accepted configs */
    const size_t Bmax = x->Bmax;
    const size_t sBTC = Bmax * T * C, sBT = Bmax * T;

    /* lnf = layernorm(res3[L-1]); d(lnf) is in dbtc (model_forward) */
    memset(x->dres, 0, sizeof(float) * BT * C);
    layernorm_backward(x->dres, g->t[P_LNFW], g->t[P_LNFB], x->dbtc, x->res3 + (L - 1) * sBTC,
                       p->t[P_LNFW], x->lnf_mean, x->lnf_rstd, BT, C);

    for (int l = L - 1; l >= 0; l--) {
        const float *res = l == 0 ? x->encoded : x->res3 + (l - 1) * sBTC;
        float *ln1m = x->ln1_mean + l * sBT, *ln1r = x->ln1_rstd + l * sBT;
        const float *qkv = x->qkv + l * sBTC * 3;
        const float *att = x->att + l * Bmax * NH * T * T;
        const float *atty = x->atty + l * sBTC, *res2 = x->res2 + l * sBTC;
        float *ln2m = x->ln2_mean + l * sBT, *ln2r = x->ln2_rstd + l * sBT;
        const float *fch = x->fch + l * Bmax * T * F;

        /* res3 = res2 + gelu(fch) @ fcprojw^T + b: dres flows to res2 unchanged and into the MLP */
        gelu_forward(x->gelu, fch, BT * F);                   /* recomputed */
        matmul_backward(x->dfch, g->t[P_FCPROJW] + (size_t)l * C * F, g->t[P_FCPROJB] + l * C,
                        x->dres, x->gelu, p->t[P_FCPROJW] + (size_t)l * C * F, BT, F, C);
        gelu_backward(x->dfch, fch, x->dfch, BT * F);
        /* fch = ln2 @ fcw^T + b, ln2 = layernorm(res2): recompute ln2 (its mean/rstd come out the same) */
        layernorm_forward(x->ln, ln2m, ln2r, res2, p->t[P_LN2W] + l * C, p->t[P_LN2B] + l * C, BT, C);
        matmul_backward(x->dbtc, g->t[P_FCW] + (size_t)l * F * C, g->t[P_FCB] + l * F,
                        x->dfch, x->ln, p->t[P_FCW] + (size_t)l * F * C, BT, C, F);
        layernorm_backward(x->dres, g->t[P_LN2W] + l * C, g->t[P_LN2B] + l * C, x->dbtc, res2,
                           p->t[P_LN2W] + l * C, ln2m, ln2r, BT, C);
        /* res2 = res + atty @ attprojw^T + b */
        matmul_backward(x->dbtc, g->t[P_ATTPROJW] + (size_t)l * C * C, g->t[P_ATTPROJB] + l * C,
                        x->dres, atty, p->t[P_ATTPROJW] + (size_t)l * C * C, BT, C, C);
        attention_backward(x->dqkv, x->dtt, x->dbtc, qkv, att, B, T, C, NH);
        /* qkv = ln1 @ qkvw^T + b, ln1 = layernorm(res): recompute ln1 */
        layernorm_forward(x->ln, ln1m, ln1r, res, p->t[P_LN1W] + l * C, p->t[P_LN1B] + l * C, BT, C);
        matmul_backward(x->dbtc, g->t[P_QKVW] + (size_t)l * 3 * C * C, g->t[P_QKVB] + l * 3 * C,
                        x->dqkv, x->ln, p->t[P_QKVW] + (size_t)l * 3 * C * C, BT, C, 3 * C);
        layernorm_backward(x->dres, g->t[P_LN1W] + l * C, g->t[P_LN1B] + l * C, x->dbtc, res,
                           p->t[P_LN1W] + l * C, ln1m, ln1r, BT, C);
    }
    /* encoded = wte[inp] + wpe */
    encoder_backward(g->t[P_WTE], g->t[P_WPE], x->dres, x->inp, B, T, C);
}
