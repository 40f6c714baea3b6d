/*
 * ops.h - the layers of the model, forward and backward, on plain float
 * buffers. Shapes use B (sequences), T (positions), C (channels), NH heads,
 * HS = C/NH, F (MLP width), V (vocabulary), OC (output channels).
 *
 * Contracts: forward functions overwrite their outputs. Backward functions
 * ACCUMULATE (+=) into parameter gradients (dw, db) and into dinp where the
 * comment says so; the caller zeroes what must start at zero. Matmuls are
 * CBLAS sgemm calls, single-threaded in the calling thread.
 *
 * Element counts and row counts (N) are size_t: B*T*F passes 2^31 for
 * configs the trainer accepts. Single dimensions (B, T, C, OC, V, NH) are
 * int, bounded by config_validate; offsets are computed in size_t.
 */
#ifndef CLLM_OPS_H
#define CLLM_OPS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out (B,T,C) = wte[inp[b,t]] + wpe[t];  inp (B,T) token ids, wte (V,C), wpe (T,C) */
void encoder_forward(float *out, const int *inp, const float *wte, const float *wpe,
                     int B, int T, int C);
/* dwte[inp] += dout, dwpe[t] += dout */
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp,
                      int B, int T, int C);

/* out (N,C) = (inp - mean) * rstd * w + b; mean, rstd (N) saved for backward */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, size_t N, int C);
/* dinp += ..., dw += ..., db += ... */
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const float *mean,
                        const float *rstd, size_t N, int C);

/* out (N,OC) = inp (N,C) @ w^T (w is (OC,C)) + bias (OC, may be NULL).
 * accumulate: 0 overwrites out, 1 adds to it (used for residual adds).
 * N is at most INT_MAX: it is a dimension of the CBLAS call (the trainer
 * refuses configs whose B*T rows do not fit). */
void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                    size_t N, int C, int OC, int accumulate);
/* dinp (N,C) = dout @ w (overwritten; may be NULL), dw (OC,C) += dout^T @ inp,
 * dbias (OC) += column sums of dout (may be NULL) */
void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                     const float *inp, const float *w, size_t N, int C, int OC);

/* out (B,T,C) = causal softmax(Q K^T / sqrt(HS)) V per head; qkv (B,T,3C) holds
 * Q, K, V side by side; att (B,NH,T,T) keeps the softmax (zero above the
 * diagonal) for the backward pass. */
void attention_forward(float *out, float *att, const float *qkv,
                       int B, int T, int C, int NH);
/* dqkv (B,T,3C) overwritten; dtt is (T,T) scratch */
void attention_backward(float *dqkv, float *dtt, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH);

/* GELU, tanh form: out (N) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
void gelu_forward(float *out, const float *inp, size_t N);
/* dinp = gelu'(inp) * dout (overwritten; dinp may alias dout) */
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N);

/* probs (N,V): logits softmaxed in place. losses (N) = -log probs[target].
 * Returns the sum of losses. */
double crossentropy_forward(float *probs, float *losses, const int *targets, size_t N, int V);
/* probs -> dlogits in place: (probs - onehot(target)) * dloss */
void crossentropy_backward(float *probs, const int *targets, float dloss, size_t N, int V);

#ifdef __cplusplus
}
#endif

#endif
