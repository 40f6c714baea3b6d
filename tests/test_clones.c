/*
 * test_clones.c - the hot ops of core/ops.c give the same bits whichever
 * target_clones clone runs (util.h HOT: AVX-512F, AVX2, baseline x86-64), so
 * results do not depend on the CPU the program lands on.
 *
 * Each clone is picked the way the program picks it at load time: by GCC's
 * resolver of the function, which reads the CPU features libgcc detected
 * (__cpu_model, an ABI that compiled __builtin_cpu_supports calls rely on).
 * With AVX-512F masked out of them the resolver returns the AVX2 clone, with
 * AVX2 masked too the baseline one. Every op then runs on the same inputs
 * (sizes with vector tails, attention over several blocks) in each clone the
 * CPU can run, and the outputs are compared bit for bit with the baseline
 * clone's. A clone this CPU cannot run is reported as not tested.
 *
 * Built without clones (clang, ThreadSanitizer: HOT is empty), there is one
 * implementation: the test then checks that two runs of it give the same bits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ops.h"
#include "util.h"

typedef void (*ln_fwd_fn)(float *, float *, float *, const float *, const float *, const float *,
                          float *, const float *, size_t, size_t);
typedef void (*ln_apply_fn)(float *, const float *, const float *, const float *, const float *,
                            const float *, size_t, size_t);
typedef void (*ln_bwd_fn)(float *, float *, float *, const float *, const float *, const float *,
                          const float *, const float *, size_t, size_t);
typedef void (*att_fwd_fn)(float *, float *, float *, const float *, size_t, size_t, size_t, size_t);
typedef void (*att_bwd_fn)(float *, float *, const float *, const float *, const float *, size_t,
                           size_t, size_t, size_t);
typedef void (*gelu_fwd_fn)(float *, float *, const float *, size_t);
typedef void (*gelu_bwd_fn)(float *, const float *, const float *, size_t);
typedef double (*ce_fwd_fn)(float *, float *, float *, const int *, size_t, size_t);
typedef void (*ce_bwd_fn)(float *, const float *, const int *, float, size_t, size_t);
typedef void (*adamw_fn)(float *, float *, float *, const float *, size_t, const adamw_step *);

/* one implementation of each hot op */
typedef struct {
    ln_fwd_fn ln_fwd;
    ln_apply_fn ln_apply;
    ln_bwd_fn ln_bwd;
    att_fwd_fn att_fwd;
    att_bwd_fn att_bwd;
    gelu_fwd_fn gelu_fwd;
    gelu_bwd_fn gelu_bwd;
    ce_fwd_fn ce_fwd;
    ce_bwd_fn ce_bwd;
    adamw_fn adamw;
} op_set;
#define N_OPS 10

/* shapes: tails of 8 (C = 200), 7 (V = 1003), 9 (GN = 1001) elements past
 * whole 16-float vectors; attention over two blocks, the second partial */
enum { LN = 37, LC = 200, AB = 2, AT = 100, AC = 64, ANH = 4, GN = 1001, CN = 7, CV = 1003 };

typedef struct {
    float ln_out[LN * LC], ln_mean[LN], ln_rstd[LN], ln_res[LN * LC], ln_app[LN * LC];
    float ln_dx[LN * LC], ln_dw[LC], ln_db[LC];
    float att_out[AB * AT * AC], att_st[AB * ANH * AT * 2], att_dqkv[AB * AT * 3 * AC];
    float gelu_out[GN], gelu_out2[GN], gelu_dg[GN], gelu_dx[GN];
    float ce_logits[CN * CV], ce_scale[CN], ce_loss[CN];
    double ce_total;
    float ad_p[GN], ad_m[GN], ad_v[GN];
} outputs;

typedef struct {
    float ln_x[LN * LC], ln_w[LC], ln_b[LC], ln_rb[LC], ln_dout[LN * LC], ln_dx0[LN * LC];
    float att_qkv[AB * AT * 3 * AC], att_dout[AB * AT * AC];
    float gelu_x[GN], gelu_dout[GN];
    float ce_logits[CN * CV];
    int ce_tgt[CN];
    float ad_p[GN], ad_m[GN], ad_v[GN], ad_g[GN];
} inputs;

static void fill(float *x, size_t n, rng_t *r, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)((double)(rng_next(r) >> 40) * 0x1.0p-24);
}

static void make_inputs(inputs *in) {
    rng_t s = { 0xc10e5ull };
    fill(in->ln_x, LN * LC, &s, -3, 5);
    fill(in->ln_w, LC, &s, 0.5f, 1.5f);
    fill(in->ln_b, LC, &s, -0.5f, 0.5f);
    fill(in->ln_rb, LC, &s, -1, 1);
    fill(in->ln_dout, LN * LC, &s, -1, 1);
    fill(in->ln_dx0, LN * LC, &s, -1, 1);
    fill(in->att_qkv, AB * AT * 3 * AC, &s, -2, 2);
    fill(in->att_dout, AB * AT * AC, &s, -1, 1);
    fill(in->gelu_x, GN, &s, -12, 12);   /* past the saturation at |x| = 10 */
    fill(in->gelu_dout, GN, &s, -1, 1);
    fill(in->ce_logits, CN * CV, &s, -8, 8);
    for (int n = 0; n < CN; n++) in->ce_tgt[n] = (int)(rng_next(&s) % CV);
    fill(in->ad_p, GN, &s, -1, 1);
    fill(in->ad_m, GN, &s, -0.1f, 0.1f);
    fill(in->ad_v, GN, &s, 0, 0.01f);
    fill(in->ad_g, GN, &s, -1, 1);
}

static void run_ops(const op_set *o, const inputs *in, outputs *out) {
    memset(out, 0, sizeof *out);
    o->ln_fwd(out->ln_out, out->ln_mean, out->ln_rstd, in->ln_x, in->ln_w, in->ln_b, out->ln_res,
              in->ln_rb, LN, LC);
    o->ln_apply(out->ln_app, in->ln_x, in->ln_w, in->ln_b, out->ln_mean, out->ln_rstd, LN, LC);
    memcpy(out->ln_dx, in->ln_dx0, sizeof out->ln_dx);
    o->ln_bwd(out->ln_dx, out->ln_dw, out->ln_db, in->ln_dout, in->ln_x, in->ln_w, out->ln_mean,
              out->ln_rstd, LN, LC);
    float *scr = malloc(sizeof(float) * attention_scratch_floats(AT));
    CHECK(scr, "out of memory");
    o->att_fwd(out->att_out, out->att_st, scr, in->att_qkv, AB, AT, AC, ANH);
    o->att_bwd(out->att_dqkv, scr, in->att_dout, in->att_qkv, out->att_st, AB, AT, AC, ANH);
    free(scr);
    o->gelu_fwd(out->gelu_out, NULL, in->gelu_x, GN);
    o->gelu_fwd(out->gelu_out2, out->gelu_dg, in->gelu_x, GN);
    o->gelu_bwd(out->gelu_dx, out->gelu_dg, in->gelu_dout, GN);
    memcpy(out->ce_logits, in->ce_logits, sizeof out->ce_logits);
    out->ce_total = o->ce_fwd(out->ce_logits, out->ce_scale, out->ce_loss, in->ce_tgt, CN, CV);
    o->ce_bwd(out->ce_logits, out->ce_scale, in->ce_tgt, 1.0f / CN, CN, CV);
    memcpy(out->ad_p, in->ad_p, sizeof out->ad_p);
    memcpy(out->ad_m, in->ad_m, sizeof out->ad_m);
    memcpy(out->ad_v, in->ad_v, sizeof out->ad_v);
    adamw_step st = { .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .rb1 = 1.0f / (1.0f - 0.9f * 0.9f),
                      .rb2 = 1.0f / (1.0f - 0.95f * 0.95f), .eps = 1e-8f, .wd = 0.1f, .gscale = 0.7f };
    o->adamw(out->ad_p, out->ad_m, out->ad_v, in->ad_g, GN, &st);
}

/* bit-for-bit comparison of each op's outputs of clone `name` with ref's */
static void compare(const char *name, const outputs *a, const outputs *ref) {
#define SAME(what, field) do {                                                          \
        int ok = memcmp(a->field, ref->field, sizeof a->field) == 0;                    \
        printf("  %-4s %-8s %-26s same bits as the reference\n", ok ? "ok" : "FAIL", name, what); \
        EXPECT(ok, "clone %s: %s differs from the reference", name, what);              \
    } while (0)
    SAME("layernorm_forward out", ln_out);
    SAME("layernorm_forward mean", ln_mean);
    SAME("layernorm_forward rstd", ln_rstd);
    SAME("layernorm_forward res_out", ln_res);
    SAME("layernorm_apply", ln_app);
    SAME("layernorm_backward dinp", ln_dx);
    SAME("layernorm_backward dw", ln_dw);
    SAME("layernorm_backward db", ln_db);
    SAME("attention_forward out", att_out);
    SAME("attention_forward stats", att_st);
    SAME("attention_backward", att_dqkv);
    SAME("gelu_forward", gelu_out);
    SAME("gelu_forward + dgelu", gelu_out2);
    SAME("gelu_forward dgelu", gelu_dg);
    SAME("gelu_backward", gelu_dx);
    SAME("crossentropy dlogits", ce_logits);
    SAME("crossentropy scale", ce_scale);
    SAME("crossentropy losses", ce_loss);
    SAME("adamw params", ad_p);
    SAME("adamw m", ad_m);
    SAME("adamw v", ad_v);
#undef SAME
    int ok = memcmp(&a->ce_total, &ref->ce_total, sizeof(double)) == 0;
    printf("  %-4s %-8s %-26s same bits as the reference\n", ok ? "ok" : "FAIL", name, "crossentropy total");
    EXPECT(ok, "clone %s: the cross-entropy total differs", name);
}

#if CLLM_HAVE_CLONES
/* GCC's resolvers (weak globals named "<function>.resolver") and the CPU
 * features they read: libgcc's struct __processor_model; AVX2 is bit 10 and
 * AVX-512F bit 15 of __cpu_features[0] (libgcc's enum processor_features) */
void *r_ln_fwd(void) __asm__("layernorm_forward.resolver");
void *r_ln_apply(void) __asm__("layernorm_apply.resolver");
void *r_ln_bwd(void) __asm__("layernorm_backward.resolver");
void *r_att_fwd(void) __asm__("attention_forward.resolver");
void *r_att_bwd(void) __asm__("attention_backward.resolver");
void *r_gelu_fwd(void) __asm__("gelu_forward.resolver");
void *r_gelu_bwd(void) __asm__("gelu_backward.resolver");
void *r_ce_fwd(void) __asm__("crossentropy_forward.resolver");
void *r_ce_bwd(void) __asm__("crossentropy_backward.resolver");
void *r_adamw(void) __asm__("adamw_update.resolver");
extern struct { unsigned int vendor, type, subtype; unsigned int features[1]; } __cpu_model;
#define FEAT_AVX2 (1u << 10)
#define FEAT_AVX512F (1u << 15)

/* the clones the resolvers return with the features in `clear` masked out */
static op_set resolve(unsigned clear) {
    unsigned saved = __cpu_model.features[0];
    __cpu_model.features[0] = saved & ~clear;
    op_set o = {
        (ln_fwd_fn)r_ln_fwd(), (ln_apply_fn)r_ln_apply(), (ln_bwd_fn)r_ln_bwd(),
        (att_fwd_fn)r_att_fwd(), (att_bwd_fn)r_att_bwd(), (gelu_fwd_fn)r_gelu_fwd(),
        (gelu_bwd_fn)r_gelu_bwd(), (ce_fwd_fn)r_ce_fwd(), (ce_bwd_fn)r_ce_bwd(), (adamw_fn)r_adamw(),
    };
    __cpu_model.features[0] = saved;
    return o;
}

/* how many of the ops' pointers differ between two sets */
static int differ(const op_set *a, const op_set *b) {
    void *const *pa = (void *const *)a, *const *pb = (void *const *)b;
    int n = 0;
    for (int i = 0; i < N_OPS; i++) n += pa[i] != pb[i];
    return n;
}
#endif

int main(void) {
    blas_single_thread();
    static inputs in;
    static outputs ref, got;
    make_inputs(&in);
#if CLLM_HAVE_CLONES
    __builtin_cpu_init();
    const int has512 = __builtin_cpu_supports("avx512f"), has2 = __builtin_cpu_supports("avx2");
    op_set base = resolve(FEAT_AVX512F | FEAT_AVX2), avx2 = resolve(FEAT_AVX512F), best = resolve(0);
    printf("this CPU: avx512f %s, avx2 %s\n", has512 ? "yes" : "no", has2 ? "yes" : "no");
    /* the resolvers must hand out distinct clones, or the comparisons below say nothing */
    if (has2)
        EXPECT(differ(&base, &avx2) == N_OPS, "masking AVX2 changed %d of %d resolver answers",
               differ(&base, &avx2), N_OPS);
    run_ops(&base, &in, &ref);
    if (has2) {
        run_ops(&avx2, &in, &got);
        compare("avx2", &got, &ref);
    } else {
        printf("  --   avx2     not tested: this CPU has no AVX2\n");
    }
    if (has512) {
        EXPECT(differ(&avx2, &best) == N_OPS, "AVX-512F changed %d of %d resolver answers",
               differ(&avx2, &best), N_OPS);
        run_ops(&best, &in, &got);
        compare("avx512f", &got, &ref);
    } else {
        printf("  --   avx512f  not tested: this CPU has no AVX-512F\n");
    }
#else
    printf("no target_clones in this build: one implementation, run twice\n");
    op_set one = { layernorm_forward, layernorm_apply, layernorm_backward, attention_forward,
                   attention_backward, gelu_forward, gelu_backward, crossentropy_forward,
                   crossentropy_backward, adamw_update };
    run_ops(&one, &in, &ref);
    run_ops(&one, &in, &got);
    compare("rerun", &got, &ref);
#endif
    return check_finish("test_clones");
}
