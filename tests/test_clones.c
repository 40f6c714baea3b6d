/*
 * test_clones.c - the hot ops of core/ops.c and core/reduce.c give the same
 * bits whichever ISA clone runs (ops.h ops_isa: AVX-512F, AVX2, baseline
 * x86-64), so results do not depend on the CPU the program lands on.
 *
 * Each clone is picked with ops_isa_set, the switch CLLM_ISA drives. Every
 * op then runs on the same inputs (sizes with vector tails, attention over
 * several blocks, the combine of 1, 2 and 6 buffers) in each clone the CPU
 * can run, and the outputs are compared bit for bit with the baseline
 * clone's. A clone this CPU cannot run is reported as not tested.
 *
 * Built without clones (clang, ThreadSanitizer), there is one
 * implementation: the test then checks that two runs of it give the same bits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "ops.h"
#include "reduce.h"
#include "util.h"

/* shapes: tails of 8 (C = 200), 7 (V = 1003), 9 (GN = 1001) elements past
 * whole 16-float vectors; attention over two blocks, the second partial */
enum { LN = 37, LC = 200, AB = 2, AT = 100, AC = 64, ANH = 4, GN = 1001, CN = 7, CV = 1003, RB = 6 };

typedef struct {
    float ln_out[LN * LC], ln_mean[LN], ln_rstd[LN], ln_res[LN * LC], ln_app[LN * LC];
    float ln_dx[LN * LC], ln_dw[LC], ln_db[LC];
    float att_out[AB * AT * AC], att_st[AB * ANH * AT * 2], att_dqkv[AB * AT * 3 * AC];
    float gelu_out[GN], gelu_out2[GN], gelu_dg[GN], gelu_dx[GN];
    float ce_logits[CN * CV], ce_scale[CN], ce_loss[CN];
    double ce_total;
    float ad_p[GN], ad_m[GN], ad_v[GN];
    float rd_one[GN], rd_two[GN], rd_six[GN];   /* reduce_sum of 1 (in place), 2 and RB buffers */
    double rd_norm[3];
} outputs;

typedef struct {
    float ln_x[LN * LC], ln_w[LC], ln_b[LC], ln_rb[LC], ln_dout[LN * LC], ln_dx0[LN * LC];
    float att_qkv[AB * AT * 3 * AC], att_dout[AB * AT * AC];
    float gelu_x[GN], gelu_dout[GN];
    float ce_logits[CN * CV];
    int ce_tgt[CN];
    float ad_p[GN], ad_m[GN], ad_v[GN], ad_g[GN];
    float rd_src[RB][GN];
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
    for (int b = 0; b < RB; b++) fill(in->rd_src[b], GN, &s, -2, 2);
}

static void run_ops(const inputs *in, outputs *out) {
    memset(out, 0, sizeof *out);
    layernorm_forward(out->ln_out, out->ln_mean, out->ln_rstd, in->ln_x, in->ln_w, in->ln_b, out->ln_res,
              in->ln_rb, LN, LC);
    layernorm_apply(out->ln_app, in->ln_x, in->ln_w, in->ln_b, out->ln_mean, out->ln_rstd, LN, LC);
    memcpy(out->ln_dx, in->ln_dx0, sizeof out->ln_dx);
    layernorm_backward(out->ln_dx, out->ln_dw, out->ln_db, in->ln_dout, in->ln_x, in->ln_w, out->ln_mean,
              out->ln_rstd, LN, LC);
    float *scr = malloc(sizeof(float) * attention_scratch_floats(AT));
    CHECK(scr, "out of memory");
    attention_forward(out->att_out, out->att_st, scr, in->att_qkv, AB, AT, AC, ANH);
    attention_backward(out->att_dqkv, scr, in->att_dout, in->att_qkv, out->att_st, AB, AT, AC, ANH);
    free(scr);
    gelu_forward(out->gelu_out, NULL, in->gelu_x, GN);
    gelu_forward(out->gelu_out2, out->gelu_dg, in->gelu_x, GN);
    gelu_backward(out->gelu_dx, out->gelu_dg, in->gelu_dout, GN);
    memcpy(out->ce_logits, in->ce_logits, sizeof out->ce_logits);
    out->ce_total = crossentropy_forward(out->ce_logits, out->ce_scale, out->ce_loss, in->ce_tgt, CN, CV);
    crossentropy_backward(out->ce_logits, out->ce_scale, in->ce_tgt, 1.0f / CN, CN, CV);
    memcpy(out->ad_p, in->ad_p, sizeof out->ad_p);
    memcpy(out->ad_m, in->ad_m, sizeof out->ad_m);
    memcpy(out->ad_v, in->ad_v, sizeof out->ad_v);
    adamw_step st = { .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .rb1 = 1.0f / (1.0f - 0.9f * 0.9f),
                      .rb2 = 1.0f / (1.0f - 0.95f * 0.95f), .eps = 1e-8f, .wd = 0.1f, .gscale = 0.7f };
    adamw_update(out->ad_p, out->ad_m, out->ad_v, in->ad_g, GN, &st);
    /* the combine: in place over one buffer (the norm alone), two buffers
     * into a separate dst, six (a group of four, then one of one) */
    const float *src[RB];
    for (int b = 0; b < RB; b++) src[b] = in->rd_src[b];
    memcpy(out->rd_one, in->rd_src[0], sizeof out->rd_one);
    float *one = out->rd_one;
    out->rd_norm[0] = reduce_sum(one, (const float *const *)&one, 1, GN);
    out->rd_norm[1] = reduce_sum(out->rd_two, src, 2, GN);
    out->rd_norm[2] = reduce_sum(out->rd_six, src, RB, GN);
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
    SAME("reduce_sum 1 buffer", rd_one);
    SAME("reduce_sum 2 buffers", rd_two);
    SAME("reduce_sum 6 buffers", rd_six);
    SAME("reduce_sum norms", rd_norm);
#undef SAME
    int ok = memcmp(&a->ce_total, &ref->ce_total, sizeof(double)) == 0;
    printf("  %-4s %-8s %-26s same bits as the reference\n", ok ? "ok" : "FAIL", name, "crossentropy total");
    EXPECT(ok, "clone %s: the cross-entropy total differs", name);
}

/* LayerNorm runs several rows at once, their reductions side by side
 * (ops_kern.h): each row must keep the bits it has alone. Here row by row
 * (N = 1 calls) in the current clone, against that clone's outputs of all
 * LN rows in one call (LN = 37: groups of rows and a remainder); dw and db
 * of one call per row are summed over the rows in order, as one call adds
 * them. */
static void rows_alone(const char *name, const inputs *in, const outputs *all) {
    static float out[LC], res[LC], dx[LC], dw[LC], db[LC], sdw[LC], sdb[LC];
    int fwd = 1, bwd = 1;
    memset(sdw, 0, sizeof sdw);
    memset(sdb, 0, sizeof sdb);
    for (int n = 0; n < LN; n++) {
        float m, s;
        layernorm_forward(out, &m, &s, in->ln_x + n * LC, in->ln_w, in->ln_b, res, in->ln_rb, 1, LC);
        fwd &= memcmp(out, all->ln_out + n * LC, sizeof out) == 0;
        fwd &= memcmp(res, all->ln_res + n * LC, sizeof res) == 0;
        fwd &= memcmp(&m, &all->ln_mean[n], sizeof m) == 0 && memcmp(&s, &all->ln_rstd[n], sizeof s) == 0;
        memcpy(dx, in->ln_dx0 + n * LC, sizeof dx);
        layernorm_backward(dx, dw, db, in->ln_dout + n * LC, in->ln_x + n * LC, in->ln_w, &all->ln_mean[n],
                           &all->ln_rstd[n], 1, LC);
        bwd &= memcmp(dx, all->ln_dx + n * LC, sizeof dx) == 0;
        for (int i = 0; i < LC; i++) {
            sdw[i] += dw[i];
            sdb[i] += db[i];
        }
    }
    bwd &= memcmp(sdw, all->ln_dw, sizeof sdw) == 0 && memcmp(sdb, all->ln_db, sizeof sdb) == 0;
    printf("  %-4s %-8s %-26s same bits row by row\n", fwd ? "ok" : "FAIL", name, "layernorm_forward");
    printf("  %-4s %-8s %-26s same bits row by row\n", bwd ? "ok" : "FAIL", name, "layernorm_backward");
    EXPECT(fwd, "clone %s: layernorm_forward of %d rows differs from one row at a time", name, LN);
    EXPECT(bwd, "clone %s: layernorm_backward of %d rows differs from one row at a time", name, LN);
}

#if CLLM_HAVE_CLONES
/* run every op in clone `name`, or say why not */
static int run_in(const char *name, const inputs *in, outputs *out) {
    if (ops_isa_set(name) != 0) {
        printf("  --   %-8s not tested: this CPU cannot run it\n", name);
        return 0;
    }
    EXPECT(strcmp(ops_isa(), name) == 0, "ops_isa() is %s after ops_isa_set(%s)", ops_isa(), name);
    run_ops(in, out);
    return 1;
}
#endif

/* this program again with CLLM_ISA=isa in its environment (the child only
 * reports ops_isa()): its exit status, its first output line in out */
static int run_self(const char *isa, char *out, size_t n) {
    char cmd[4096];
    /* TEST_CLONES_EXEC: the command that runs this program (an emulator and
     * the binary, tests/test_arm64.sh); else the program itself */
    const char *self = getenv("TEST_CLONES_EXEC");
    if (self) snprintf(cmd, sizeof cmd, "CLLM_ISA=%s TEST_CLONES_CHILD=1 %s 2>&1", isa, self);
    else snprintf(cmd, sizeof cmd, "CLLM_ISA=%s TEST_CLONES_CHILD=1 /proc/%d/exe 2>&1", isa, (int)getpid());
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    if (!fgets(out, (int)n, p)) out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void) {
    if (getenv("TEST_CLONES_CHILD")) {   /* run_self's child: which clone CLLM_ISA gave */
        printf("%s\n", ops_isa());
        return 0;
    }
    blas_single_thread();
    static inputs in;
    static outputs ref, got;
    make_inputs(&in);
    char list[64];
    ops_isa_list(list, sizeof list);
    printf("clones this build has and this CPU runs: %s (picked at start: %s)\n", list, ops_isa());
    /* a name no build has, and (where the CPU lacks AVX2) one it cannot run */
    EXPECT(ops_isa_set("sse9") == -1, "ops_isa_set accepted an unknown clone");
    EXPECT(strcmp(ops_isa(), "sse9") != 0, "a refused clone became the current one");
    /* CLLM_ISA picks the clone before main; one this build or CPU lacks is
     * refused with a message naming the choices, exit 2 */
    char line[256];
    int rc = run_self("default", line, sizeof line);
    EXPECT(rc == 0 && strcmp(line, "default") == 0, "CLLM_ISA=default: exit %d, clone '%s'", rc, line);
    rc = run_self("sse9", line, sizeof line);
    EXPECT(rc == 2 && strstr(line, "CLLM_ISA=sse9") && strstr(line, "default"),
           "CLLM_ISA=sse9: exit %d, message '%s'", rc, line);
    printf("CLLM_ISA=sse9: exit %d, \"%s\"\n", rc, line);
#if CLLM_HAVE_CLONES
    __builtin_cpu_init();
    const int has512 = __builtin_cpu_supports("avx512f"), has2 = __builtin_cpu_supports("avx2");
    printf("this CPU: avx512f %s, avx2 %s\n", has512 ? "yes" : "no", has2 ? "yes" : "no");
    /* the widest clone the CPU runs is the one picked at start (no CLLM_ISA in tests) */
    if (!getenv("CLLM_ISA"))
        EXPECT(strncmp(list, ops_isa(), strlen(ops_isa())) == 0, "picked %s, not the widest of %s",
               ops_isa(), list);
    EXPECT((ops_isa_set("avx512f") == 0) == !!has512, "ops_isa_set(avx512f) disagrees with the CPU");
    EXPECT((ops_isa_set("avx2") == 0) == !!has2, "ops_isa_set(avx2) disagrees with the CPU");
    EXPECT(run_in("default", &in, &ref), "the baseline clone cannot run");
    rows_alone("default", &in, &ref);
    if (run_in("avx2", &in, &got)) {
        compare("avx2", &got, &ref);
        rows_alone("avx2", &in, &got);
    }
    if (run_in("avx512f", &in, &got)) {
        compare("avx512f", &got, &ref);
        rows_alone("avx512f", &in, &got);
    }
#else
    printf("no ISA clones in this build: one implementation, run twice\n");
    EXPECT(strcmp(list, "default") == 0, "a build without clones lists %s", list);
    run_ops(&in, &ref);
    run_ops(&in, &got);
    compare("rerun", &got, &ref);
    rows_alone("only", &in, &ref);
#endif
    return check_finish("test_clones");
}
