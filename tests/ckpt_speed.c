/*
 * ckpt_speed.c - the time of ckpt_save and ckpt_load on a config M
 * checkpoint (85 M parameters, 1.02 GB), as `--save` and `--resume` spend it:
 * wall and CPU time of each call, one save and one load per run. Not a test:
 * a measurement (README), built against this tree's library or against
 * another revision's (the calls it makes exist since checkpoint version 2):
 *
 *   make build/tests/ckpt_speed && build/tests/ckpt_speed FILE
 *   prints: save_wall_s save_cpu_s load_wall_s load_cpu_s
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckpt.h"
#include "config.h"
#include "data.h"
#include "model.h"
#include "trainer.h"
#include "util.h"

static double clk(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: ckpt_speed FILE\n"); return 2; }
    config_t c;
    config_preset(&c, "M");
    tokenizer_t tk;
    char err[1024];
    static const char text[] = "bytes";
    if (tokenizer_build(&tk, TOK_BYTES, text, sizeof text - 1, c.V, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    size_t counts[P_COUNT], np = param_counts(&c, counts);
    float *p = malloc(3 * np * sizeof(float));
    rng_t r = { 3 };
    for (size_t i = 0; i < 3 * np; i++) p[i] = rng_normal(&r);
    train_opts o;
    train_opts_default(&o);
    double w0 = clk(CLOCK_MONOTONIC), c0 = clk(CLOCK_PROCESS_CPUTIME_ID);
    if (ckpt_save(argv[1], &c, &tk, 1, &o, p, p + np, p + 2 * np, np, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double w1 = clk(CLOCK_MONOTONIC), c1 = clk(CLOCK_PROCESS_CPUTIME_ID);
    ckpt_t ck;
    if (ckpt_load(argv[1], &ck, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }
    double w2 = clk(CLOCK_MONOTONIC), c2 = clk(CLOCK_PROCESS_CPUTIME_ID);
    int same = memcmp(ck.params, p, np * sizeof(float)) == 0 && memcmp(ck.v, p + 2 * np, np * sizeof(float)) == 0;
    printf("%.3f %.3f %.3f %.3f%s\n", w1 - w0, c1 - c0, w2 - w1, c2 - c1, same ? "" : " MISMATCH");
    ckpt_free(&ck);
    free(p);
    tokenizer_free(&tk);
    return same ? 0 : 1;
}
