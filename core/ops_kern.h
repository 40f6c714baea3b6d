/*
 * ops_kern.h - not a header: the body of the hot kernels of ops.c, which
 * includes it once per ISA clone (under #pragma GCC target("avx512f"),
 * target("avx2"), then for the baseline), with OPS_ISA naming the clone and
 * K(name) giving name_<OPS_ISA>. Nothing here is visible outside ops.c.
 *
 * LANES (16) partial sums per reduction, combined pairwise in a fixed order
 * (ops.c's header says why): held as NV native vectors of LANES / NV floats,
 * one zmm for AVX-512, two ymm for AVX2, four xmm for the baseline. One
 * 64-byte generic vector (the previous form, the same for every clone) has
 * no machine mode without AVX-512, so gcc kept it in memory and moved it
 * through general registers on every add in the AVX2 and baseline clones:
 * LayerNorm's forward ran at 3 GB/s on a Zen 3 (AVX2) core. Each lane does
 * the same IEEE operations in the same order whatever NV is, so every clone
 * gives the same bits (tests/test_clones.c).
 */
#if defined(__AVX512F__)
#define NV 1        /* vectors per LANES floats */
#define LOG2_VW 4   /* log2(LANES / NV) */
#elif defined(__AVX2__)
#define NV 2
#define LOG2_VW 3
#else
#define NV 4
#define LOG2_VW 2
#endif

#define vec K(vec)
#define veci K(veci)
#define lanes K(lanes)
#define lzero K(lzero)
#define lsplat K(lsplat)
#define lload K(lload)
#define ladd K(ladd)
#define lmul K(lmul)
#define lsub_s K(lsub_s)
#define lmul_s K(lmul_s)
#define lmax K(lmax)
#define lsum K(lsum)
#define lmaxall K(lmaxall)
#define sum_lanes K(sum_lanes)
#define dot_lanes K(dot_lanes)
#define max_lanes K(max_lanes)

typedef float vec __attribute__((vector_size(LANES / NV * sizeof(float))));
typedef int32_t veci __attribute__((vector_size(LANES / NV * sizeof(int32_t))));
/* lane l is element l % (LANES / NV) of v[l / (LANES / NV)] */
typedef struct { vec v[NV]; } lanes;

/* the loops over j < NV unroll completely (NV <= 4): the vectors stay in registers */
VINLINE lanes lzero(void) {
    lanes r;
    for (int j = 0; j < NV; j++) r.v[j] = (vec){ 0 };
    return r;
}

VINLINE lanes lsplat(float x) {
    lanes r;
    for (int j = 0; j < NV; j++) r.v[j] = (vec){ 0 } + x;
    return r;
}

VINLINE lanes lload(const float *p) {
    lanes r;
    for (int j = 0; j < NV; j++) memcpy(&r.v[j], p + j * (LANES / NV), sizeof r.v[j]);
    return r;
}

VINLINE lanes ladd(lanes a, lanes b) {
    for (int j = 0; j < NV; j++) a.v[j] += b.v[j];
    return a;
}

VINLINE lanes lmul(lanes a, lanes b) {
    for (int j = 0; j < NV; j++) a.v[j] *= b.v[j];
    return a;
}

VINLINE lanes lsub_s(lanes a, float s) {
    for (int j = 0; j < NV; j++) a.v[j] -= s;
    return a;
}

VINLINE lanes lmul_s(lanes a, float s) {
    for (int j = 0; j < NV; j++) a.v[j] *= s;
    return a;
}

/* a > b ? a : b in each lane (NaN in a never wins, as in the scalar form) */
VINLINE lanes lmax(lanes a, lanes b) {
    for (int j = 0; j < NV; j++) {
        veci m = a.v[j] > b.v[j];
        a.v[j] = (vec)((m & (veci)a.v[j]) | (~m & (veci)b.v[j]));
    }
    return a;
}

/* the lanes added pairwise: lane l += lane l + w for w = LANES/2, ..., 1.
 * The steps with w >= LANES / NV add whole vectors (lane l of v[j] is
 * lane j * LANES / NV + l), the rest are scalar; every loop has a constant
 * trip count and unrolls completely */
VINLINE float lsum(lanes v) {
    for (int w = NV / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++) v.v[j] += v.v[j + w];
    float p[LANES / NV];
    memcpy(p, &v.v[0], sizeof p);
#pragma GCC unroll 4
    for (int s = 1; s <= LOG2_VW; s++)
#pragma GCC unroll 8
        for (int l = 0; l < (LANES / NV) >> s; l++) p[l] += p[l + ((LANES / NV) >> s)];
    return p[0];
}

VINLINE float lmaxall(lanes v) {
    for (int w = NV / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++) {
            veci m = v.v[j + w] > v.v[j];
            v.v[j] = (vec)((m & (veci)v.v[j + w]) | (~m & (veci)v.v[j]));
        }
    float p[LANES / NV];
    memcpy(p, &v.v[0], sizeof p);
#pragma GCC unroll 4
    for (int s = 1; s <= LOG2_VW; s++)
#pragma GCC unroll 8
        for (int l = 0; l < (LANES / NV) >> s; l++) {
            int w = (LANES / NV) >> s;
            p[l] = p[l + w] > p[l] ? p[l + w] : p[l];
        }
    return p[0];
}

/* sum of x[0..n): lane l adds x[l], x[l + LANES], ...; the lanes pairwise;
 * then the tail past the last whole group, in order */
VINLINE float sum_lanes(const float *x, size_t n) {
    lanes p = lzero();
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) p = ladd(p, lload(x + i));
    float s = lsum(p);
    for (; i < n; i++) s += x[i];
    return s;
}

/* sum of a[i] * b[i] over [0, n), in the same order */
VINLINE float dot_lanes(const float *a, const float *b, size_t n) {
    lanes p = lzero();
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) p = ladd(p, lmul(lload(a + i), lload(b + i)));
    float s = lsum(p);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* max of x[0..n), n >= 1; every lane starts at 0 + x[0] (so -0 starts as +0) */
VINLINE float max_lanes(const float *x, size_t n) {
    lanes p = lsplat(0.0f + x[0]);
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) p = lmax(lload(x + i), p);
    float mx = lmaxall(p);
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

/* ---------------------------------------------------------------- layernorm */

static void K(layernorm_forward)(float *out, float *mean, float *rstd, const float *inp,
                                 const float *w, const float *b, float *res_out,
                                 const float *res_bias, size_t N, size_t C) {
    const float eps = 1e-5f;
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        float m = sum_lanes(x, C) / (float)C;
        lanes p = lzero();
        size_t i = 0;
        for (; i + LANES <= C; i += LANES) {
            lanes d = lsub_s(lload(x + i), m);
            p = ladd(p, lmul(d, d));
        }
        float v = lsum(p);
        for (; i < C; i++) { float d = x[i] - m; v += d * d; }
        v /= (float)C;
        float s = 1.0f / sqrtf(v + eps);
        layernorm_row(out + n * C, x, w, b, m, s, C);
        if (res_out) {
            float *r = res_out + n * C;
            for (i = 0; i < C; i++) r[i] = x[i] + res_bias[i];
        }
        mean[n] = m;
        rstd[n] = s;
    }
}

static void K(layernorm_apply)(float *out, const float *inp, const float *w, const float *b,
                               const float *mean, const float *rstd, size_t N, size_t C) {
    for (size_t n = 0; n < N; n++)
        layernorm_row(out + n * C, inp + n * C, w, b, mean[n], rstd[n], C);
}

static void K(layernorm_backward)(float *dinp, float *dw, float *db, const float *dout,
                                  const float *inp, const float *w, const float *mean,
                                  const float *rstd, size_t N, size_t C) {
    memset(dw, 0, sizeof(float) * C);
    memset(db, 0, sizeof(float) * C);
    for (size_t n = 0; n < N; n++) {
        const float *d = dout + n * C;
        const float *x = inp + n * C;
        float *dx = dinp + n * C;
        float m = mean[n], s = rstd[n];
        /* two reductions: the means of dnorm and of dnorm * norm */
        lanes pa = lzero(), pb = lzero();
        size_t i = 0;
        for (; i + LANES <= C; i += LANES) {
            lanes norm = lmul_s(lsub_s(lload(x + i), m), s);
            lanes dnorm = lmul(lload(w + i), lload(d + i));
            pa = ladd(pa, dnorm);
            pb = ladd(pb, lmul(dnorm, norm));
        }
        float ta = lsum(pa), tb = lsum(pb);
        for (; i < C; i++) {
            float norm = (x[i] - m) * s;
            float dnorm = w[i] * d[i];
            ta += dnorm;
            tb += dnorm * norm;
        }
        layernorm_backward_row(dx, dw, db, d, x, w, m, s, ta / (float)C, tb / (float)C, C);
    }
}

/* ---------------------------------------------------------------- attention */

static void K(attention_forward)(float *out, float *stats, float *scratch, const float *qkv,
                                 size_t B, size_t T, size_t C, size_t NH) {
    const size_t HS = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)HS);
    float *a = scratch;                     /* (qn, kn) scores, then the softmax */
    for (size_t b = 0; b < B; b++) {
        for (size_t h = 0; h < NH; h++) {
            const float *q = qkv + b * T * C3 + h * HS;
            const float *k = q + C, *v = q + 2 * C;
            float *o = out + b * T * C + h * HS;
            float *st = stats + (b * NH + h) * T * 2;
            for (size_t q0 = 0; q0 < T; q0 += ATT_QB) {
                size_t qn = MIN((size_t)ATT_QB, T - q0), kn = q0 + qn;
                attention_scores(a, q, k, q0, qn, HS, C3, scale);
                for (size_t r = 0; r < qn; r++) {
                    size_t t = q0 + r, n = t + 1;     /* row t sees keys 0..t */
                    float *row = a + r * kn;
                    float mx = max_lanes(row, n);
                    for (size_t j = 0; j < n; j++) row[j] = exp_approx(row[j] - mx);
                    float inv = 1.0f / sum_lanes(row, n);
                    size_t j = 0;
                    for (; j < n; j++) row[j] *= inv;
                    for (; j < kn; j++) row[j] = 0.0f;
                    st[2 * t] = mx;
                    st[2 * t + 1] = inv;
                }
                /* out = a @ v over the keys this block sees */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_dim(qn), blas_dim(HS),
                            blas_dim(kn), 1.0f, a, blas_dim(kn), v, blas_dim(C3), 0.0f, o + q0 * C,
                            blas_dim(C));
            }
        }
    }
}

static void K(attention_backward)(float *dqkv, float *scratch, const float *dout, const float *qkv,
                                  const float *stats, size_t B, size_t T, size_t C, size_t NH) {
    const size_t HS = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)HS);
    float *a = scratch, *da = scratch + (size_t)ATT_QB * T;   /* (qn, kn) each */
    const size_t nblk = (T + ATT_QB - 1) / ATT_QB;
    for (size_t b = 0; b < B; b++) {
        for (size_t h = 0; h < NH; h++) {
            const float *q = qkv + b * T * C3 + h * HS;
            const float *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + b * T * C3 + h * HS;
            float *dk = dq + C, *dv = dq + 2 * C;
            const float *d = dout + b * T * C + h * HS;
            const float *st = stats + (b * NH + h) * T * 2;
            /* the last block first: it sees every key, so it overwrites all
             * of dk, dv, and the blocks before it add to them */
            for (size_t blk = nblk; blk-- > 0;) {
                size_t q0 = blk * ATT_QB, qn = MIN((size_t)ATT_QB, T - q0), kn = q0 + qn;
                float beta = blk == nblk - 1 ? 0.0f : 1.0f;
                /* the forward's softmax again: the same scores, max and 1/sum, so the same bits */
                attention_scores(a, q, k, q0, qn, HS, C3, scale);
                /* out = a @ v  ->  da = dout v^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_dim(qn), blas_dim(kn),
                            blas_dim(HS), 1.0f, d + q0 * C, blas_dim(C), v, blas_dim(C3), 0.0f, da,
                            blas_dim(kn));
                for (size_t r = 0; r < qn; r++) {
                    size_t t = q0 + r, n = t + 1;
                    float *arow = a + r * kn, *drow = da + r * kn;
                    float mx = st[2 * t], inv = st[2 * t + 1];
                    /* a = softmax(s) over j <= t  ->  ds = a * (da - sum(a * da)) */
                    for (size_t j = 0; j < n; j++) arow[j] = exp_approx(arow[j] - mx) * inv;
                    float dot = dot_lanes(arow, drow, n);
                    size_t j = 0;
                    for (; j < n; j++) drow[j] = arow[j] * (drow[j] - dot);
                    for (; j < kn; j++) arow[j] = drow[j] = 0.0f;
                }
                /* s = scale * q k^T  ->  dq = scale ds k,  dk = scale ds^T q;  dv = a^T dout */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_dim(qn), blas_dim(HS),
                            blas_dim(kn), scale, da, blas_dim(kn), k, blas_dim(C3), 0.0f, dq + q0 * C3,
                            blas_dim(C3));
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_dim(kn), blas_dim(HS),
                            blas_dim(qn), scale, da, blas_dim(kn), q + q0 * C3, blas_dim(C3), beta, dk,
                            blas_dim(C3));
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blas_dim(kn), blas_dim(HS),
                            blas_dim(qn), 1.0f, a, blas_dim(kn), d + q0 * C, blas_dim(C), beta, dv,
                            blas_dim(C3));
            }
        }
    }
}

/* ---------------------------------------------------------------- gelu */

static void K(gelu_forward)(float *out, float *dgelu, const float *inp, size_t N) {
    if (!dgelu) {
        for (size_t i = 0; i < N; i++) {
            float x = inp[i];
            out[i] = 0.5f * x * (1.0f + tanh_approx(GELU_K * (x + 0.044715f * x * x * x)));
        }
        return;
    }
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float th = tanh_approx(GELU_K * (x + 0.044715f * x * x * x));
        float sech2 = 1.0f - th * th;
        /* d/dx 0.5 x (1 + tanh(u)) = 0.5 (1 + tanh u) + 0.5 x sech^2(u) u' */
        /* |x| > 10 saturates tanh (sech^2 = 0): clamping there keeps x^2 finite
         * for huge x (inf * 0 would be NaN) and changes nothing else */
        float xc = x < -10.0f ? -10.0f : x > 10.0f ? 10.0f : x;
        out[i] = 0.5f * x * (1.0f + th);
        dgelu[i] = 0.5f * (1.0f + th) + 0.5f * xc * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * xc * xc);
    }
}

static void K(gelu_backward)(float *dinp, const float *dgelu, const float *dout, size_t N) {
    for (size_t i = 0; i < N; i++) dinp[i] = dgelu[i] * dout[i];
}

/* ---------------------------------------------------------------- loss */

static double K(crossentropy_forward)(float *logits, float *scale, float *losses,
                                      const int *targets, size_t N, size_t V) {
    double total = 0.0;
    for (size_t n = 0; n < N; n++) {
        float *p = logits + n * V;
        float mx = max_lanes(p, V);
        float lt = p[targets[n]];
        for (size_t i = 0; i < V; i++) p[i] = exp_approx(p[i] - mx);
        /* 8 double partial sums in a fixed order: vectorisable and exact enough */
        double part[8] = { 0 };
        size_t i = 0;
        for (; i + 8 <= V; i += 8)
            for (int l = 0; l < 8; l++) part[l] += p[i + l];
        double tail = 0.0;
        for (; i < V; i++) tail += p[i];
        double sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7])) + tail;
        scale[n] = (float)(1.0 / sum);
        /* -log softmax[target] from the logit: no log of a rounded probability */
        losses[n] = (float)(log(sum) - (double)(lt - mx));
        total += losses[n];
    }
    return total;
}

static void K(crossentropy_backward)(float *logits, const float *scale, const int *targets,
                                     float dloss, size_t N, size_t V) {
    for (size_t n = 0; n < N; n++) {
        float *p = logits + n * V;
        const float s = scale[n] * dloss;
        for (size_t i = 0; i < V; i++) p[i] *= s;   /* loss = -log softmax(logits)[target] */
        p[targets[n]] -= dloss;
    }
}

/* ---------------------------------------------------------------- adamw */

static void K(adamw_update)(float *restrict p, float *restrict m, float *restrict v,
                            const float *restrict grad, size_t n, const adamw_step *s) {
    const float b1 = s->beta1, b2 = s->beta2, c1 = 1.0f - s->beta1, c2 = 1.0f - s->beta2;
    const float rb1 = s->rb1, rb2 = s->rb2, lr = s->lr, eps = s->eps, wd = s->wd, gs = s->gscale;
    for (size_t k = 0; k < n; k++) {
        float g = grad[k] * gs;
        float mk = m[k] = b1 * m[k] + c1 * g;
        float vk = v[k] = b2 * v[k] + c2 * g * g;
        p[k] -= lr * (mk * rb1 / (sqrtf(vk * rb2) + eps) + wd * p[k]);
    }
}

static const ops_kernels K(ops_kernels) = {
    K(layernorm_forward), K(layernorm_apply), K(layernorm_backward), K(attention_forward),
    K(attention_backward), K(gelu_forward), K(gelu_backward), K(crossentropy_forward),
    K(crossentropy_backward), K(adamw_update),
};

#undef vec
#undef veci
#undef lanes
#undef lzero
#undef lsplat
#undef lload
#undef ladd
#undef lmul
#undef lsub_s
#undef lmul_s
#undef lmax
#undef lsum
#undef lmaxall
#undef sum_lanes
#undef dot_lanes
#undef max_lanes
#undef NV
#undef LOG2_VW
