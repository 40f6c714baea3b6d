/*
 * test_odd_shape.c - the trainer end to end at a shape whose parameter
 * count is not a multiple of 16 (a test-only config: C = 10, F = 30, T = 7,
 * 4890 parameters, 4890 mod 16 = 10), so the last worker's slice of the
 * lock-free combine and AdamW ends in a partial vector, and every row of
 * LayerNorm (C = 10) is a scalar tail: at 1, 2 and 3 threads, every single
 * parameter moves in the first steps (a tail skipped by the combine or the
 * update stays at its initial value), the loss falls, a rerun gives the same
 * bits, and under strong scaling 2 and 3 threads follow 1 thread's losses
 * and parameters within float rounding.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "corpus.h"
#include "data.h"
#include "trainer.h"

enum { STEPS = 8 };
static corpus_t corpus;

/* STEPS steps at nth threads (strong scaling); losses, the initial and the
 * final parameters out (malloc'ed) */
static int run(const config_t *c, int nth, float *losses, float **init, float **fin, size_t *np) {
    train_opts o;
    train_opts_default(&o);
    o.strong = 1;
    o.lr = 3e-3f;
    o.warmup = 2;
    o.lr_steps = STEPS;
    char err[512];
    trainer_t *t = trainer_create(c, &o, nth, &corpus, err, sizeof err);
    EXPECT(t != NULL, "trainer_create at %d threads: %s", nth, err);
    if (!t) return -1;
    *np = trainer_nparams(t);
    *init = malloc(*np * sizeof(float));
    *fin = malloc(*np * sizeof(float));
    memcpy(*init, trainer_params(t), *np * sizeof(float));
    for (int s = 0; s < STEPS; s++) losses[s] = trainer_step(t);
    memcpy(*fin, trainer_params(t), *np * sizeof(float));
    trainer_free(t);
    return 0;
}

int main(void) {
    /* V: the corpus's byte tokens */
    config_t c = { "odd-test", 256, 10, 2, 2, 30, 7, 6 };
    char err[256];
    EXPECT(config_validate(&c, err, sizeof err) == 0, "the test's config is refused: %s", err);
    int *tokens = test_corpus(&corpus, c.T);
    float ref[STEPS], *ref_fin = NULL;
    size_t ref_np = 0;
    int nths[] = { 1, 2, 3 };
    for (int i = 0; i < 3; i++) {
        int nth = nths[i];
        float la[STEPS], lb[STEPS], *ia = NULL, *fa = NULL, *ib = NULL, *fb = NULL;
        size_t np;
        if (run(&c, nth, la, &ia, &fa, &np) || run(&c, nth, lb, &ib, &fb, &np)) continue;
        EXPECT(np % 16 != 0, "the parameter count %zu is a multiple of 16: the test lost its point", np);
        size_t still = 0, last = 0;
        for (size_t k = 0; k < np; k++)
            if (fa[k] == ia[k]) { still++; last = k; }
        EXPECT(still == 0, "%d threads: %zu of %zu parameters never moved (the last at %zu; %zu mod 16 = %zu)", nth,
               still, np, last, np, np % 16);
        EXPECT(la[STEPS - 1] < la[0], "%d threads: loss did not fall (%.4f -> %.4f)", nth, la[0], la[STEPS - 1]);
        EXPECT(memcmp(la, lb, sizeof la) == 0 && memcmp(fa, fb, np * sizeof(float)) == 0,
               "%d threads: a rerun gave other bits", nth);
        if (nth == 1) {
            memcpy(ref, la, sizeof ref);
            ref_fin = fa;
            fa = NULL;
            ref_np = np;
        } else if (ref_fin && np == ref_np) {
            double wl = 0, wp = 0, mp = 0;
            for (int s = 0; s < STEPS; s++) wl = fmax(wl, fabs(la[s] - ref[s]) / fabs(ref[s]));
            for (size_t k = 0; k < np; k++) {
                wp = fmax(wp, fabs(fa[k] - ref_fin[k]));
                mp = fmax(mp, fabs(ref_fin[k]));
            }
            EXPECT(wl <= 1e-5, "%d threads vs 1: relative loss difference %.3g", nth, wl);
            EXPECT(wp <= 1e-4 * mp, "%d threads vs 1: parameters differ by %.3g (largest %.3g)", nth, wp, mp);
        }
        free(ia); free(fa); free(ib); free(fb);
    }
    free(ref_fin);
    free(tokens);
    return check_finish("test_odd_shape");
}
