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

/* One worker's training context: every activation of forward and the
 * backward scratch, for up to Bmax sequences. Per-layer buffers are (L, ...). */
typedef struct {
    int Bmax;
    int *inp, *tgt;              /* (B,T) tokens and next-token targets */
    float *encoded;              /* (B,T,C) token + position embedding */
    float *ln1, *ln1_mean, *ln1_rstd;   /* (L,B,T,C), (L,B,T) x2 */
    float *qkv;                  /* (L,B,T,3C) */
    float *att;                  /* (L,B,NH,T,T) softmax, zero above diagonal */
    float *atty;                 /* (L,B,T,C) attention output before projection */
    float *res2;                 /* (L,B,T,C) residual after attention */
    float *ln2, *ln2_mean, *ln2_rstd;   /* (L,B,T,C), (L,B,T) x2 */
    float *fch, *fch_gelu;       /* (L,B,T,F) MLP hidden before / after GELU */
    float *res3;                 /* (L,B,T,C) residual after the MLP = layer output */
    float *lnf, *lnf_mean, *lnf_rstd;   /* (B,T,C), (B,T) x2 */
    float *probs;                /* (B,T,V) logits -> probs -> dlogits, in place */
    float *losses;               /* (B,T) */
    /* backward scratch, one layer's worth, reused by every layer */
    float *dres;                 /* (B,T,C) gradient of the residual stream */
    float *dbtc;                 /* (B,T,C) gradient of a LayerNorm output / attention output */
    float *dqkv;                 /* (B,T,3C) */
    float *dfch;                 /* (B,T,F) */
    float *dtt;                  /* (T,T) attention score gradient of one head */
} ctx_t;

typedef struct {
    const char *name;
    size_t bytes;                /* unpadded */
    void **slot;                 /* where the carved pointer goes (NULL: size only) */
} mem_item;

#define CTX_ITEMS 26
/* Fill items[] with the context's buffers for Bmax sequences (slots point into
 * *x when x is not NULL). Returns the number of items; *total gets the bytes
 * of one allocation holding them all, each padded to a cache line. Returns -1
 * when a size overflows. */
int ctx_layout(const config_t *c, int Bmax, ctx_t *x, mem_item items[CTX_ITEMS], size_t *total);
/* Point the context's buffers into base (from ctx_layout's total). */
void ctx_carve(const config_t *c, int Bmax, ctx_t *x, char *base);

/* Forward over the first B sequences of x (inp, tgt filled). Returns the sum
 * of the B*T position losses. */
double model_forward(const config_t *c, const params_t *p, ctx_t *x, int B);
/* Backward: g must be zeroed by the caller (gradients accumulate). dloss is
 * d(total loss)/d(position loss), e.g. 1/(global tokens) for a mean. */
void model_backward(const config_t *c, const params_t *p, const params_t *g,
                    ctx_t *x, int B, float dloss);

#endif
