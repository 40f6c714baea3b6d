/*
 * ops.h - the layers of the model, forward and backward, on plain float
 * buffers. Shapes use B (sequences), T (positions), C (channels), NH heads,
 * HS = C/NH, F (MLP width), V (vocabulary), OC (output channels). Every
 * count and offset is size_t (B*T*F passes 2^31 for configs the trainer
 * accepts); a matrix dimension handed to CBLAS must fit its int, which a
 * CHECK enforces (the trainer refuses configs whose B*T rows do not fit).
 *
 * Contracts: forward functions overwrite their outputs. Each parameter
 * gradient (dw, db) is written by exactly one backward call per step, so
 * backward functions OVERWRITE it unless the comment says it accumulates or
 * takes an `accumulate` flag: no caller has to zero a gradient buffer first.
 * Weight gradients are overwritten by the sgemm itself (beta = 0); the
 * gradients that are sums over rows in plain loops (LayerNorm's dw, db, a
 * matmul's dbias, the encoder's dwpe: C to T*C floats) are zeroed inside
 * their op; dwte accumulates (the classifier's beta = 0 GEMM writes it
 * first, then the encoder's scatter adds). dinp is overwritten or
 * accumulated as each comment says. Matmuls are CBLAS
 * sgemm calls, single-threaded in the calling thread.
 */
#ifndef CLLM_OPS_H
#define CLLM_OPS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out (B,T,C) = wte[inp[b,t]] + wpe[t];  inp (B,T) token ids, wte (V,C), wpe (T,C) */
void encoder_forward(float *out, const int *inp, const float *wte, const float *wpe,
                     size_t B, size_t T, size_t C);
/* dwte[inp] += dout (accumulates: the tied classifier writes dwte first);
 * dwpe (T,C) = sum over b of dout (overwritten) */
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp,
                      size_t B, size_t T, size_t C);

/* out (N,C) = (inp - mean) * rstd * w + b; mean, rstd (N) saved for backward.
 * res_out (N,C), when not NULL, gets inp + res_bias (C) in the same pass: the
 * first terms of the residual sum res + x @ W^T + bias, which the next
 * matmul_forward completes with accumulate = 1 (no copy of the residual). */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, float *res_out, const float *res_bias,
                       size_t N, size_t C);
/* out = (inp - mean) * rstd * w + b from the saved mean and rstd: the same
 * bits as layernorm_forward's out, one pass (the backward's recompute) */
void layernorm_apply(float *out, const float *inp, const float *w, const float *b,
                     const float *mean, const float *rstd, size_t N, size_t C);
/* dinp += ... (accumulates: the residual stream's gradient); dw, db (C) overwritten */
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const float *mean,
                        const float *rstd, size_t N, size_t C);

/* out (N,OC) = inp (N,C) @ w^T (w is (OC,C)) + bias (OC, may be NULL).
 * accumulate: 0 overwrites out, 1 adds to it (used for residual adds). */
void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                    size_t N, size_t C, size_t OC, int accumulate);
/* dw (OC,C) = dout^T @ inp and dbias (OC, may be NULL) = column sums of dout,
 * overwritten (accumulate 0) or added to (accumulate 1); then dinp (N,C) =
 * dout @ w, overwritten (may be NULL). dinp may alias inp: inp is read only
 * before dinp is written. */
void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                     const float *inp, const float *w, size_t N, size_t C, size_t OC,
                     int accumulate);

/* Causal self-attention, blocked: each block of QB query rows (64, ops.c
 * ATT_QB) meets only the keys up to its last row (the masked half of T x T is
 * skipped, up to the diagonal blocks), its scores live in a (QB, T) scratch,
 * and nothing of size T x T is kept: backward recomputes the scores and the
 * softmax (the same bits) from the saved row statistics.
 *
 * out (B,T,C) = causal softmax(Q K^T / sqrt(HS)) V per head; qkv (B,T,3C)
 * holds Q, K, V side by side; stats (B,NH,T,2) gets each row's max score and
 * 1 / (sum of exp(score - max)); scratch holds attention_scratch_floats(T). */
void attention_forward(float *out, float *stats, float *scratch, const float *qkv,
                       size_t B, size_t T, size_t C, size_t NH);
/* dqkv (B,T,3C) overwritten, from dout (B,T,C), the forward's qkv and stats */
void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *stats, size_t B, size_t T, size_t C, size_t NH);
size_t attention_scratch_floats(size_t T);

/* GELU, tanh form: out (N) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
 * tanh from one exp (ops.c's tanh_approx, which says why not the sigmoid
 * form). dgelu (N), when not NULL,
 * gets gelu'(inp) in the same pass, for the backward; it may alias inp. */
void gelu_forward(float *out, float *dgelu, const float *inp, size_t N);
/* dinp = dgelu * dout, dgelu from gelu_forward (overwritten; dinp may alias dout) */
void gelu_backward(float *dinp, const float *dgelu, const float *dout, size_t N);

/* logits (N,V) in place -> the softmax numerators exp(logit - max of the row);
 * scale (N) = 1 / (sum of the row's numerators), so probs = numerators * scale;
 * losses (N) = -log probs[target]. Returns the sum of losses. */
double crossentropy_forward(float *logits, float *scale, float *losses, const int *targets,
                            size_t N, size_t V);
/* numerators -> dlogits in place: (probs - onehot(target)) * dloss */
void crossentropy_backward(float *logits, const float *scale, const int *targets, float dloss,
                           size_t N, size_t V);

/* AdamW over n parameters of one tensor: g = grad * gscale; m, v updated;
 * p -= lr * (m * rb1 / (sqrt(v * rb2) + eps) + wd * p), where rb1, rb2 are
 * the reciprocal bias corrections 1 / (1 - beta^t), computed once per step. */
typedef struct { float lr, beta1, beta2, rb1, rb2, eps, wd, gscale; } adamw_step;
void adamw_update(float *p, float *m, float *v, const float *grad, size_t n, const adamw_step *s);

/* The ISA clone the hot kernels above run (ops.c, ops_kern.h): "avx512f",
 * "avx2" or "default" (baseline x86-64; the only one of builds without
 * clones: clang, ThreadSanitizer, other CPUs). Picked once before main: the
 * one the environment's CLLM_ISA names (a clone this build or CPU cannot
 * run there is an error: a message and exit 2), else the widest this CPU
 * runs. Every clone gives the same bits (tests/test_clones.c). */
typedef enum { OPS_ISA_DEFAULT, OPS_ISA_AVX2, OPS_ISA_AVX512F } ops_isa_t;
const char *ops_isa(void);
ops_isa_t ops_isa_id(void);
/* switch every hot kernel to clone `name` (tests, benchmarks): 0, or -1 when
 * this build has no such clone or this CPU cannot run it. Not while another
 * thread runs a kernel. */
int ops_isa_set(const char *name);
/* the clones this build has and this CPU runs, widest first, "a,b,c" */
void ops_isa_list(char *buf, size_t n);

#ifdef __cplusplus
}
#endif

#endif
