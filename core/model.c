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

/* The classifier's logits buffer holds cls_rows positions by V. More rows
 * per GEMM make the three GEMMs larger (the dwte one has K = rows) and cut
 * the read-modify-writes of the whole dwte (V x C) to one per block: on
 * config G (V = 50257), 512 rows instead of 128 took 7-14% off the step's
 * CPU time (two runs on a shared machine). So:
 * CLS_ROWS positions (at least one sequence, at most the batch); all of the
 * batch when that fits in CLS_SMALL_BYTES (small vocabularies); and one
 * sequence with --recompute layers, where memory comes first. */
#ifndef CLS_ROWS
#define CLS_ROWS 512
#endif
#define CLS_SMALL_BYTES ((size_t)8 << 20)

static size_t cls_rows(const config_t *c, size_t BT, int recompute) {
    size_t T = c->T, row_bytes = (size_t)c->V * sizeof(float);
    if (BT * row_bytes <= CLS_SMALL_BYTES) return BT;
    size_t rows = recompute == RECOMPUTE_LAYERS ? T : MAX(T, (size_t)CLS_ROWS);
    return MIN(rows, BT);
}

int ctx_layout(const config_t *c, int Bmax, int recompute, ctx_t *x, mem_item it[CTX_ITEMS],
               size_t *total) {
    size_t B = Bmax, T = c->T, C = c->C, L = c->L, NH = c->NH, F = c->F, V = c->V;
    size_t BT = B * T, f = sizeof(float);
    size_t Ls = recompute == RECOMPUTE_LAYERS ? 1 : L;   /* layers whose activations are kept */
    size_t R = cls_rows(c, BT, recompute);
#define ITEM(nm, count, sz, field) \
    it[k++] = (mem_item){ nm, (count) * (sz), x ? (void **)&x->field : NULL }
    int k = 0;
    ITEM("inp", BT, sizeof(int), inp);
    ITEM("tgt", BT, sizeof(int), tgt);
    ITEM("encoded", BT * C, f, encoded);
    ITEM("ln1_mean", Ls * BT, f, ln1_mean);
    ITEM("ln1_rstd", Ls * BT, f, ln1_rstd);
    ITEM("qkv", Ls * BT * 3 * C, f, qkv);
    ITEM("att_stats", Ls * B * NH * T * 2, f, att_stats);
    ITEM("atty", Ls * BT * C, f, atty);
    ITEM("res2", Ls * BT * C, f, res2);
    ITEM("ln2_mean", Ls * BT, f, ln2_mean);
    ITEM("ln2_rstd", Ls * BT, f, ln2_rstd);
    ITEM("fch", Ls * BT * F, f, fch);
    ITEM("res3", L * BT * C, f, res3);
    ITEM("lnf", BT * C, f, lnf);
    ITEM("lnf_mean", BT, f, lnf_mean);
    ITEM("lnf_rstd", BT, f, lnf_rstd);
    ITEM("logits", R * V, f, logits);
    ITEM("ce_scale", R, f, ce_scale);
    ITEM("losses", BT, f, losses);
    ITEM("ln", BT * C, f, ln);
    ITEM("gelu", BT * F, f, gelu);
    ITEM("dres", BT * C, f, dres);
    ITEM("dbtc", BT * C, f, dbtc);
    ITEM("dqkv", BT * 3 * C, f, dqkv);
    ITEM("att_scratch", attention_scratch_floats(T), f, att_scratch);
#undef ITEM
    CHECK(k == CTX_ITEMS, "ctx_layout: %d items, CTX_ITEMS is %d", k, CTX_ITEMS);
    /* overflow check in double: every count above is a product of ints */
    double big = (double)L * B * T * (3.0 * C + F) * f + (double)R * V * f;
    if (big > 1e18) return -1;
    if (x) {
        x->recompute = recompute;
        x->cls_rows = R;
    }
    size_t sum = 0;
    for (int i = 0; i < k; i++) sum += mem_round_line(it[i].bytes);
    *total = sum;
    return k;
}

void ctx_carve(const config_t *c, int Bmax, int recompute, ctx_t *x, char *base) {
    mem_item it[CTX_ITEMS];
    size_t total;
    int n = ctx_layout(c, Bmax, recompute, x, it, &total);
    CHECK(n == CTX_ITEMS, "ctx_carve: layout failed");
    x->Bmax = Bmax;
    for (int i = 0; i < n; i++) {
        *it[i].slot = base;
        base += mem_round_line(it[i].bytes);
    }
}

/* ---------------------------------------------------------------- passes */

/* layer l's activations: where they live in x (one slot when recomputing) */
typedef struct {
    const float *res;            /* the layer's input */
    float *ln1m, *ln1r, *qkv, *stats, *atty, *res2, *ln2m, *ln2r, *fch, *res3;
} layer_act;

static layer_act layer_acts(const config_t *c, const ctx_t *x, int l) {
    const size_t T = c->T, C = c->C, NH = c->NH, F = c->F, Bmax = x->Bmax;
    const size_t sBTC = Bmax * T * C, sBT = Bmax * T;
    const size_t ls = x->recompute == RECOMPUTE_LAYERS ? 0 : (size_t)l;
    layer_act a;
    a.res = l == 0 ? x->encoded : x->res3 + (size_t)(l - 1) * sBTC;
    a.ln1m = x->ln1_mean + ls * sBT;
    a.ln1r = x->ln1_rstd + ls * sBT;
    a.qkv = x->qkv + ls * sBTC * 3;
    a.stats = x->att_stats + ls * Bmax * NH * T * 2;
    a.atty = x->atty + ls * sBTC;
    a.res2 = x->res2 + ls * sBTC;
    a.ln2m = x->ln2_mean + ls * sBT;
    a.ln2r = x->ln2_rstd + ls * sBT;
    a.fch = x->fch + ls * Bmax * T * F;
    a.res3 = x->res3 + (size_t)l * sBTC;
    return a;
}

/* model_hooks' calls (model.h) */
#define HOOK_AT(h, fn, l) do { if ((h) && (h)->fn) (h)->fn((h)->arg, (l)); } while (0)
#define HOOK_TICK(h) do { if ((h) && (h)->tick) (h)->tick((h)->arg); } while (0)

/* Layer l's forward. full = 0 stops after fch (the recompute inside
 * backward: res3 is kept, GELU is redone by backward); x->ln then holds ln2. */
static void layer_forward(const config_t *c, const params_t *p, ctx_t *x, int l, int B, int full,
                          const model_hooks *h) {
    const size_t T = c->T, C = c->C, NH = c->NH, F = c->F, BT = (size_t)B * T, li = l;
    layer_act a = layer_acts(c, x, l);
    /* ln1 = layernorm(res); res2 starts as res + attprojb */
    layernorm_forward(x->ln, a.ln1m, a.ln1r, a.res, p->t[P_LN1W] + li * C, p->t[P_LN1B] + li * C,
                      a.res2, p->t[P_ATTPROJB] + li * C, BT, C);
    matmul_forward(a.qkv, x->ln, p->t[P_QKVW] + li * 3 * C * C, p->t[P_QKVB] + li * 3 * C, BT, C, 3 * C, 0);
    HOOK_TICK(h);
    attention_forward(a.atty, a.stats, x->att_scratch, a.qkv, B, T, C, NH);
    HOOK_TICK(h);
    /* res2 = res + attprojb + atty @ attprojw^T */
    matmul_forward(a.res2, a.atty, p->t[P_ATTPROJW] + li * C * C, NULL, BT, C, C, 1);
    /* ln2 = layernorm(res2); res3 starts as res2 + fcprojb */
    layernorm_forward(x->ln, a.ln2m, a.ln2r, a.res2, p->t[P_LN2W] + li * C, p->t[P_LN2B] + li * C,
                      full ? a.res3 : NULL, p->t[P_FCPROJB] + li * C, BT, C);
    matmul_forward(a.fch, x->ln, p->t[P_FCW] + li * F * C, p->t[P_FCB] + li * F, BT, C, F, 0);
    HOOK_TICK(h);
    if (!full) return;
    gelu_forward(x->gelu, NULL, a.fch, BT * F);
    /* res3 = res2 + fcprojb + gelu @ fcprojw^T */
    matmul_forward(a.res3, x->gelu, p->t[P_FCPROJW] + li * C * F, NULL, BT, F, C, 1);
}

double model_forward(const config_t *c, const params_t *p, ctx_t *x, int B,
                     const params_t *g, float dloss) {
    return model_forward_hooks(c, p, x, B, g, dloss, NULL);
}

double model_forward_hooks(const config_t *c, const params_t *p, ctx_t *x, int B,
                           const params_t *g, float dloss, const model_hooks *h) {
    const size_t T = c->T, C = c->C, L = c->L, V = c->V;
    const size_t BT = (size_t)B * T;
    CHECK(B <= x->Bmax, "forward over %d sequences, context holds %d", B, x->Bmax);

    HOOK_AT(h, layer_begin, -1);
    encoder_forward(x->encoded, x->inp, p->t[P_WTE], p->t[P_WPE], B, T, C);
    HOOK_AT(h, mark, -1);
    for (size_t l = 0; l < L; l++) {
        HOOK_AT(h, layer_begin, (int)l);
        layer_forward(c, p, x, (int)l, B, 1, h);
        HOOK_AT(h, mark, (int)l);
    }
    HOOK_AT(h, layer_begin, (int)L);
    layernorm_forward(x->lnf, x->lnf_mean, x->lnf_rstd, x->res3 + (L - 1) * x->Bmax * T * C,
                      p->t[P_LNFW], p->t[P_LNFB], NULL, NULL, BT, C);
    /* the tied classifier, cls_rows positions at a time: logits = lnf @ wte^T */
    double loss = 0.0;
    for (size_t r0 = 0; r0 < BT; r0 += x->cls_rows) {
        const size_t n = MIN(x->cls_rows, BT - r0);
        const float *lnf = x->lnf + r0 * C;
        const int *tgt = x->tgt + r0;
        matmul_forward(x->logits, lnf, p->t[P_WTE], NULL, n, C, V, 0);
        loss += crossentropy_forward(x->logits, x->ce_scale, x->losses + r0, tgt, n, V);
        if (!g) continue;
        crossentropy_backward(x->logits, x->ce_scale, tgt, dloss, n, V);   /* now dlogits */
        /* the first block overwrites dwte, the others add to it */
        matmul_backward(x->dbtc + r0 * C, g->t[P_WTE], NULL, x->logits, lnf, p->t[P_WTE], n, C, V,
                        r0 > 0);
    }
    return loss;
}

void model_backward(const config_t *c, const params_t *p, const params_t *g, ctx_t *x, int B) {
    model_backward_hooks(c, p, g, x, B, NULL);
}

void model_backward_hooks(const config_t *c, const params_t *p, const params_t *g, ctx_t *x, int B,
                          const model_hooks *h) {
    const size_t T = c->T, C = c->C, L = c->L, NH = c->NH, F = c->F;
    const size_t BT = (size_t)B * T;

    /* lnf = layernorm(res3[L-1]); d(lnf) is in dbtc (model_forward). dres is
     * an activation gradient that layernorm_backward adds into: zeroed once */
    memset(x->dres, 0, sizeof(float) * BT * C);
    layernorm_backward(x->dres, g->t[P_LNFW], g->t[P_LNFB], x->dbtc, x->res3 + (L - 1) * x->Bmax * T * C,
                       p->t[P_LNFW], x->lnf_mean, x->lnf_rstd, BT, C);
    HOOK_AT(h, mark, (int)L);

    for (size_t l = L; l-- > 0;) {
        layer_act a = layer_acts(c, x, (int)l);
        /* ln2 = layernorm(res2) is needed below: recompute the layer (leaves ln2 in x->ln) or ln2 alone */
        if (x->recompute == RECOMPUTE_LAYERS)
            layer_forward(c, p, x, (int)l, B, 0, h);
        else
            layernorm_apply(x->ln, a.res2, p->t[P_LN2W] + l * C, p->t[P_LN2B] + l * C, a.ln2m, a.ln2r, BT, C);

        /* res3 = res2 + gelu(fch) @ fcprojw^T + b: dres flows to res2 unchanged and into the MLP.
         * gelu recomputed, and fch replaced by gelu'(fch); then d(gelu) overwrites gelu */
        gelu_forward(x->gelu, a.fch, a.fch, BT * F);
        matmul_backward(x->gelu, g->t[P_FCPROJW] + l * C * F, g->t[P_FCPROJB] + l * C,
                        x->dres, x->gelu, p->t[P_FCPROJW] + l * C * F, BT, F, C, 0);
        HOOK_TICK(h);
        gelu_backward(x->gelu, a.fch, x->gelu, BT * F);          /* now d(fch) */
        /* fch = ln2 @ fcw^T + b */
        matmul_backward(x->dbtc, g->t[P_FCW] + l * F * C, g->t[P_FCB] + l * F,
                        x->gelu, x->ln, p->t[P_FCW] + l * F * C, BT, C, F, 0);
        HOOK_TICK(h);
        layernorm_backward(x->dres, g->t[P_LN2W] + l * C, g->t[P_LN2B] + l * C, x->dbtc, a.res2,
                           p->t[P_LN2W] + l * C, a.ln2m, a.ln2r, BT, C);
        /* res2 = res + atty @ attprojw^T + b */
        matmul_backward(x->dbtc, g->t[P_ATTPROJW] + l * C * C, g->t[P_ATTPROJB] + l * C,
                        x->dres, a.atty, p->t[P_ATTPROJW] + l * C * C, BT, C, C, 0);
        HOOK_TICK(h);
        attention_backward(x->dqkv, x->att_scratch, x->dbtc, a.qkv, a.stats, B, T, C, NH);
        HOOK_TICK(h);
        /* qkv = ln1 @ qkvw^T + b, ln1 = layernorm(res): recompute ln1 */
        layernorm_apply(x->ln, a.res, p->t[P_LN1W] + l * C, p->t[P_LN1B] + l * C, a.ln1m, a.ln1r, BT, C);
        matmul_backward(x->dbtc, g->t[P_QKVW] + l * 3 * C * C, g->t[P_QKVB] + l * 3 * C,
                        x->dqkv, x->ln, p->t[P_QKVW] + l * 3 * C * C, BT, C, 3 * C, 0);
        layernorm_backward(x->dres, g->t[P_LN1W] + l * C, g->t[P_LN1B] + l * C, x->dbtc, a.res,
                           p->t[P_LN1W] + l * C, a.ln1m, a.ln1r, BT, C);
        HOOK_AT(h, layer_done, (int)l);
        HOOK_AT(h, mark, (int)l);
    }
    /* encoded = wte[inp] + wpe: dwte already holds the classifier's part */
    encoder_backward(g->t[P_WTE], g->t[P_WPE], x->dres, x->inp, B, T, C);
}
