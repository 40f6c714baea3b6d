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

/* Activation checkpointing: RECOMPUTE_NONE keeps every layer's activations
 * for backward; RECOMPUTE_LAYERS keeps only each layer's input (the layer
 * below's output, res3) and recomputes the layer's forward inside backward,
 * into one layer's worth of buffers. The recomputation repeats the forward's
 * operations on the same inputs, so both modes give the same bits
 * (tests/test_model.c checks it). */
enum { RECOMPUTE_NONE = 0, RECOMPUTE_LAYERS = 1 };

/* One worker's training context: every activation of forward that backward
 * needs, and the backward scratch, for up to Bmax sequences. Per-layer
 * buffers are (Ls, ...): Ls = L, or 1 with RECOMPUTE_LAYERS. What is cheap
 * to recompute is not stored per layer: LayerNorm outputs (from the residual
 * and the saved mean/rstd), the GELU output (from fch), the attention scores
 * and softmax (from qkv and each row's max and 1/sum). The classifier runs
 * cls_rows positions at a time with its backward fused in, so logits need
 * (cls_rows, V), not (B*T, V). */
typedef struct {
    int Bmax;
    int recompute;               /* RECOMPUTE_NONE or RECOMPUTE_LAYERS */
    size_t cls_rows;             /* positions per classifier GEMM */
    int *inp, *tgt;              /* (B,T) tokens and next-token targets */
    float *encoded;              /* (B,T,C) token + position embedding */
    float *ln1_mean, *ln1_rstd;  /* (Ls,B,T) */
    float *qkv;                  /* (Ls,B,T,3C) */
    float *att_stats;            /* (Ls,B,NH,T,2) each softmax row's max score and 1/sum */
    float *atty;                 /* (Ls,B,T,C) attention output before projection */
    float *res2;                 /* (Ls,B,T,C) residual after attention */
    float *ln2_mean, *ln2_rstd;  /* (Ls,B,T) */
    float *fch;                  /* (Ls,B,T,F) MLP hidden before GELU; backward overwrites
                                    it with GELU's derivative */
    float *res3;                 /* (L,B,T,C) residual after the MLP = layer output */
    float *lnf, *lnf_mean, *lnf_rstd;   /* (B,T,C), (B,T) x2 */
    float *logits;               /* (cls_rows,V): logits -> softmax numerators -> dlogits, in place */
    float *ce_scale;             /* (cls_rows) 1/sum of each row's numerators */
    float *losses;               /* (B,T) */
    /* one-layer scratch, reused by every layer */
    float *ln;                   /* (B,T,C) a LayerNorm output (forward, recomputed in backward) */
    float *gelu;                 /* (B,T,F) GELU output (forward, recomputed in backward), then
                                    in backward its gradient and that of fch */
    float *dres;                 /* (B,T,C) gradient of the residual stream */
    float *dbtc;                 /* (B,T,C) gradient of a LayerNorm output / attention output;
                                    holds d(lnf) from the fused classifier until backward */
    float *dqkv;                 /* (B,T,3C) */
    float *att_scratch;          /* attention_scratch_floats(T): one block of scores */
} ctx_t;

typedef struct {
    const char *name;
    size_t bytes;                /* unpadded */
    void **slot;                 /* where the carved pointer goes (NULL: size only) */
} mem_item;

#define CTX_ITEMS 25
/* Fill items[] with the context's buffers for Bmax sequences in the given
 * recompute mode (slots point into *x when x is not NULL; x->recompute and
 * x->cls_rows are set then). Returns the number of items; *total gets the
 * bytes of one allocation holding them all, each padded to a cache line.
 * Returns -1 when a size overflows. */
int ctx_layout(const config_t *c, int Bmax, int recompute, ctx_t *x, mem_item items[CTX_ITEMS],
               size_t *total);
/* Point the context's buffers into base (from ctx_layout's total). */
void ctx_carve(const config_t *c, int Bmax, int recompute, ctx_t *x, char *base);

/* Forward over the first B sequences of x (inp, tgt filled). Returns the sum
 * of the B*T position losses. With g (training), the classifier's backward is
 * fused in, cls_rows positions at a time: d(loss)/d(logits) scaled by dloss
 * (e.g. 1/(global tokens) for a mean) goes into g's wte gradient and into
 * x->dbtc as d(lnf). Every gradient in g is overwritten by forward+backward
 * (no zeroing needed first). With g NULL it only evaluates. */
double model_forward(const config_t *c, const params_t *p, ctx_t *x, int B,
                     const params_t *g, float dloss);
/* The rest of the backward pass, from d(lnf) in x->dbtc down to the
 * embeddings; call once after model_forward with the same g. */
void model_backward(const config_t *c, const params_t *p, const params_t *g, ctx_t *x, int B);
/* Calls from inside a pass, for the trainer's overlap of the ranks'
 * exchanges with compute and for the trace's per-layer events (any member
 * NULL: not called; the arithmetic is the same with or without them):
 *   layer_begin(arg, l)  forward: before layer l reads its parameters; l = -1
 *                        before the embeddings, l = L before the final
 *                        LayerNorm (the classifier reads wte, -1's)
 *   layer_done(arg, l)   backward: layer l's parameter gradients are final
 *                        (l = L-1 down to 0; the embeddings' and the final
 *                        LayerNorm's only when backward returns)
 *   tick(arg)            between the matmuls of a layer: 3 a layer in
 *                        forward (and its recompute), 4 in backward
 *   mark(arg, l)         a boundary between the parts of a pass. Forward:
 *                        l = -1 after the embeddings, l = 0..L-1 after
 *                        layer l (what follows the last call is the head:
 *                        final LayerNorm, classifier, loss and the
 *                        classifier's fused backward). Backward: l = L after
 *                        the final LayerNorm's backward (the head), then l
 *                        after layer l's (after layer_done; what follows the
 *                        l = 0 call is the embeddings' backward) */
typedef struct {
    void (*layer_begin)(void *arg, int l);
    void (*layer_done)(void *arg, int l);
    void (*tick)(void *arg);
    void (*mark)(void *arg, int l);
    void *arg;
} model_hooks;

/* model_forward and model_backward with hooks (h NULL: none). */
double model_forward_hooks(const config_t *c, const params_t *p, ctx_t *x, int B,
                           const params_t *g, float dloss, const model_hooks *h);
void model_backward_hooks(const config_t *c, const params_t *p, const params_t *g, ctx_t *x, int B,
                          const model_hooks *h);

#ifdef __cplusplus
}
#endif

#endif
