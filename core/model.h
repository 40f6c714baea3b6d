/*
 * model.h - the GPT-2 style decoder: its parameter table, the activation
 * table of one training context, init, and forward/backward over one
 * context. Both tables are the single source of sizes: the allocator carves
 * buffers from them and the memory report prints them.
 */
#ifndef CLLM_MODEL_H
#define CLLM_MODEL_H

#include <stddef.h>

#include "config.h"
#include "util.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    P_WTE, P_WPE, P_LN1W, P_LN1B, P_QKVW, P_QKVB, P_ATTPROJW, P_ATTPROJB,
    P_LN2W, P_LN2B, P_FCW, P_FCB, P_FCPROJW, P_FCPROJB, P_LNFW, P_LNFB, P_COUNT
};

/* Parameter tensors, laid out back to back in this order (no padding):
 *   wte (V,C) wpe (T,C) ln1w ln1b (L,C) qkvw (L,3C,C) qkvb (L,3C)
 *   attprojw (L,C,C) attprojb (L,C) ln2w ln2b (L,C) fcw (L,F,C) fcb (L,F)
 *   fcprojw (L,C,F) fcprojb (L,C) lnfw lnfb (C)                            */
typedef struct { float *t[P_COUNT]; } params_t;

extern const char *const param_names[P_COUNT];
/* Element counts of each tensor; returns the total. */
size_t param_counts(const config_t *c, size_t counts[P_COUNT]);
/* 1 when weight decay applies (matrices and embeddings), 0 for biases and norms. */
int param_decays(int i);
void params_point(params_t *p, float *base, const config_t *c);
/* GPT-2 init: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)), biases 0,
 * norms 1. Deterministic in seed. */
void params_init(float *base, const config_t *c, unsigned long long seed);

/* One worker's training context: every activation of forward that backward
 * needs, and the backward scratch, for up to Bmax sequences. Per-layer
 * buffers are (L, ...). What is cheap to recompute is not stored per layer:
 * LayerNorm outputs (by running layernorm_forward again on the saved
 * residual, which recomputes the mean and rstd too and rewrites the same
 * values) and the GELU output (from fch) are recomputed in backward into
 * one-layer scratch, and
 * the classifier runs one sequence at a time with its backward fused in, so
 * logits need (T,V), not (B,T,V). */
typedef struct {
    int Bmax;
    int *inp, *tgt;              /* (B,T) tokens and next-token targets */
    float *encoded;              /* (B,T,C) token + position embedding */
    float *ln1_mean, *ln1_rstd;  /* (L,B,T) */
    float *qkv;                  /* (L,B,T,3C) */
    float *att;                  /* (L,B,NH,T,T) softmax, zero above diagonal */
    float *atty;                 /* (L,B,T,C) attention output before projection */
    float *res2;                 /* (L,B,T,C) residual after attention */
    float *ln2_mean, *ln2_rstd;  /* (L,B,T) */
    float *fch;                  /* (L,B,T,F) MLP hidden before GELU */
    float *res3;                 /* (L,B,T,C) residual after the MLP = layer output */
    float *lnf, *lnf_mean, *lnf_rstd;   /* (B,T,C), (B,T) x2 */
    float *probs;                /* (T,V) one sequence: logits -> probs -> dlogits, in place */
    float *losses;               /* (B,T) */
    /* one-layer scratch, reused by every layer */
    float *ln;                   /* (B,T,C) a LayerNorm output (forward, recomputed in backward) */
    float *gelu;                 /* (B,T,F) GELU output (forward, recomputed in backward) */
    float *dres;                 /* (B,T,C) gradient of the residual stream */
    float *dbtc;                 /* (B,T,C) gradient of a LayerNorm output / attention output;
                                    holds d(lnf) from the fused classifier until backward */
    float *dqkv;                 /* (B,T,3C) */
    float *dfch;                 /* (B,T,F) */
    float *dtt;                  /* (T,T) attention score gradient of one head */
} ctx_t;

typedef struct {
    const char *name;
    size_t bytes;                /* unpadded */
    void **slot;                 /* where the carved pointer goes (NULL: size only) */
} mem_item;

#define CTX_ITEMS 25
/* Fill items[] with the context's buffers for Bmax sequences (slots point into
 * *x when x is not NULL). Returns the number of items; *total gets the bytes
 * of one allocation holding them all, each padded to a cache line. Returns -1
 * when a size overflows. */
int ctx_layout(const config_t *c, int Bmax, ctx_t *x, mem_item items[CTX_ITEMS], size_t *total);
/* Point the context's buffers into base (from ctx_layout's total). */
void ctx_carve(const config_t *c, int Bmax, ctx_t *x, char *base);

/* Forward over the first B sequences of x (inp, tgt filled). Returns the sum
 * of the B*T position losses. With g (training), the classifier's backward is
 * fused in, one sequence at a time: d(loss)/d(logits) scaled by dloss (e.g.
 * 1/(global tokens) for a mean) goes into g's wte gradient and into x->dbtc
 * as d(lnf). g's buffers must be zeroed by the caller first (gradients
 * accumulate). With g NULL it only evaluates. */
double model_forward(const config_t *c, const params_t *p, ctx_t *x, int B,
                     const params_t *g, float dloss);
/* The rest of the backward pass, from d(lnf) in x->dbtc down to the
 * embeddings; call after model_forward with the same g. */
void model_backward(const config_t *c, const params_t *p, const params_t *g, ctx_t *x, int B);

#ifdef __cplusplus
}
#endif

#endif
