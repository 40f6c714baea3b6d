/*
 * test_schedule.c - the learning-rate schedule (trainer.h, trainer_lr_at)
 * against its formula written out here in double precision, over a grid of
 * warmups and horizons that includes warmup >= lr_steps, no warmup and
 * lr_steps = 0 (the library default: no decay); and the default through a
 * real trainer, whose steps must use exactly trainer_lr_at's value.
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
#include "util.h"

/* the schedule of trainer.h, as a reader would write it from the comment */
static double lr_formula(double lr, double m, long W, long H, long s) {
    if (s < W) return lr * (double)(s + 1) / (double)W;
    if (H <= 0) return lr;
    if (s >= H) return lr * m;
    return lr * (m + (1.0 - m) * 0.5 * (1.0 + cos(M_PI * (double)(s - W) / (double)(H - W))));
}

static void test_formula(void) {
    const long warmups[] = { 0, 1, 3, 10, 25 };
    const long horizons[] = { 0, 1, 2, 10, 11, 20, 100 };
    const float mins[] = { 0.0f, 0.1f, 1.0f };
    int cases = 0, bad = 0;
    double worst = 0;
    for (size_t wi = 0; wi < sizeof warmups / sizeof *warmups; wi++)
        for (size_t hi = 0; hi < sizeof horizons / sizeof *horizons; hi++)
            for (size_t mi = 0; mi < 3; mi++) {
                train_opts o;
                train_opts_default(&o);
                o.lr = 2e-3f;
                o.min_lr_frac = mins[mi];
                o.warmup = (int)warmups[wi];
                o.lr_steps = horizons[hi];
                for (long s = 0; s < 130; s++) {
                    double want = lr_formula(o.lr, o.min_lr_frac, o.warmup, o.lr_steps, s);
                    double got = trainer_lr_at(&o, s);
                    double rel = fabs(got - want) / fmax(want, 1e-30);
                    cases++;
                    if (rel > worst) worst = rel;
                    if (rel > 2e-7 || !isfinite(got) || got < 0) {
                        if (bad++ < 10)
                            EXPECT(0, "warmup %d lr_steps %ld min %g step %ld: lr %.9g, formula %.9g",
                                   o.warmup, o.lr_steps, o.min_lr_frac, s, got, want);
                    }
                }
            }
    EXPECT(bad == 0, "%d of %d schedule points off the formula", bad, cases);
    printf("trainer_lr_at: %d points against the formula, worst relative difference %.2g\n", cases, worst);

    /* the corners, as numbers */
    train_opts o;
    train_opts_default(&o);
    o.lr = 1e-3f;
    o.warmup = 10;
    o.lr_steps = 0;
    EXPECT(trainer_lr_at(&o, 9) == o.lr && trainer_lr_at(&o, 10) == o.lr && trainer_lr_at(&o, 100000) == o.lr,
           "lr_steps 0: lr must hold after the warmup, got %g %g %g", trainer_lr_at(&o, 9),
           trainer_lr_at(&o, 10), trainer_lr_at(&o, 100000));
    o.lr_steps = 5;          /* warmup 10 >= horizon 5: the warmup, then lr * min_lr_frac */
    EXPECT(trainer_lr_at(&o, 4) == o.lr * 5 / 10 && trainer_lr_at(&o, 9) == o.lr &&
           trainer_lr_at(&o, 10) == o.lr * o.min_lr_frac, "warmup >= lr_steps: %g %g %g",
           trainer_lr_at(&o, 4), trainer_lr_at(&o, 9), trainer_lr_at(&o, 10));
    o.lr_steps = 10;         /* warmup == horizon */
    EXPECT(trainer_lr_at(&o, 9) == o.lr && trainer_lr_at(&o, 10) == o.lr * o.min_lr_frac,
           "warmup == lr_steps: %g %g", trainer_lr_at(&o, 9), trainer_lr_at(&o, 10));
    o.warmup = 0;
    o.lr_steps = 20;         /* no warmup: the cosine starts at lr, is halfway at step 10 */
    EXPECT(trainer_lr_at(&o, 0) == o.lr && fabs(trainer_lr_at(&o, 10) - o.lr * 0.55) < 1e-9 &&
           trainer_lr_at(&o, 20) == o.lr * o.min_lr_frac, "no warmup: %g %g %g",
           trainer_lr_at(&o, 0), trainer_lr_at(&o, 10), trainer_lr_at(&o, 20));
}

/* The library default (lr_steps 0) through real steps: after the warmup the
 * rate holds at lr (before the fix it fell to about 0.55 lr one step after
 * the warmup, every step being taken for the horizon's last). */
static void test_default_in_trainer(void) {
    char err[512];
    corpus_t corpus;
    int *tok = test_corpus(&corpus, 16);
    config_t c;
    config_preset(&c, "tiny");
    train_opts o;
    train_opts_default(&o);
    o.warmup = 3;
    trainer_t *t = trainer_create(&c, &o, 1, &corpus, err, sizeof err);
    EXPECT(t != NULL, "trainer_create: %s", err);
    if (t) {
        float lr[8];
        for (int s = 0; s < 8; s++) { trainer_step(t); lr[s] = trainer_last_lr(t); }
        for (int s = 0; s < 8; s++)
            EXPECT(lr[s] == trainer_lr_at(&o, s), "step %d ran at lr %g, trainer_lr_at says %g", s, lr[s],
                   trainer_lr_at(&o, s));
        EXPECT(lr[2] == o.lr && lr[3] == o.lr && lr[7] == o.lr,
               "library default: lr %g %g %g after the warmup, want %g throughout", lr[2], lr[3], lr[7], o.lr);
        printf("library default (lr_steps 0): lr per step %g %g %g %g ... %g\n", lr[0], lr[1], lr[2], lr[3], lr[7]);
        trainer_free(t);
    }
    free(tok);
}

int main(void) {
    blas_single_thread();
    test_formula();
    test_default_in_trainer();
    return check_finish("test_schedule");
}
