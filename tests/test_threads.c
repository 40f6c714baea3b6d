/*
 * test_threads.c - the worker pool and the lock-free step: bitwise
 * repeatability for a given thread count, strong scaling against one thread,
 * 63 oversubscribed workers (OpenBLAS called from 63 threads at once), the
 * pool's barrier, and thread-count validation. Locked against lock-free is
 * compared through the two binaries in tests/test_cli.sh.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "corpus.h"
#include "config.h"
#include "data.h"
#include "pool.h"
#include "trainer.h"
#include "util.h"

static corpus_t corpus;
static int *tokens;


/* run `steps` steps; losses[] and a copy of the final parameters out */
static int run(const config_t *c, int nth, int strong, int steps, float *losses, float **params, size_t *np) {
    train_opts o;
    train_opts_default(&o);
    o.strong = strong;
    o.lr = 3e-3f;
    o.warmup = 2;
    o.lr_steps = steps;
    char err[512];
    trainer_t *t = trainer_create(c, &o, nth, &corpus, err, sizeof err);
    EXPECT(t != NULL, "trainer_create at %d threads: %s", nth, err);
    if (!t) return -1;
    for (int s = 0; s < steps; s++) losses[s] = trainer_step(t);
    if (params) {
        *np = trainer_nparams(t);
        *params = malloc(*np * sizeof(float));
        memcpy(*params, trainer_params(t), *np * sizeof(float));
    }
    trainer_free(t);
    return 0;
}

static void test_bitwise(void) {
    config_t c;
    config_preset(&c, "tiny");
    int nths[] = { 1, 2, 3, 4, 8 };
    for (int i = 0; i < 5; i++) {
        float la[10], lb[10];
        float *pa = NULL, *pb = NULL;
        size_t np;
        if (run(&c, nths[i], 0, 10, la, &pa, &np) || run(&c, nths[i], 0, 10, lb, &pb, &np)) continue;
        EXPECT(memcmp(la, lb, sizeof la) == 0, "%d threads: losses differ between two runs", nths[i]);
        EXPECT(memcmp(pa, pb, np * sizeof(float)) == 0, "%d threads: parameters differ between two runs", nths[i]);
        EXPECT(la[9] < la[0], "%d threads: loss did not fall (%.4f -> %.4f)", nths[i], la[0], la[9]);
        free(pa);
        free(pb);
    }
}

static void test_strong(void) {
    config_t c;
    config_preset(&c, "tiny");
    c.B = 8;
    float ref[20];
    if (run(&c, 1, 1, 20, ref, NULL, NULL)) return;
    int nths[] = { 2, 3, 4, 8 };
    for (int i = 0; i < 4; i++) {
        float l[20];
        if (run(&c, nths[i], 1, 20, l, NULL, NULL)) continue;
        double worst = 0;
        for (int s = 0; s < 20; s++) worst = fmax(worst, fabs(l[s] - ref[s]) / fabs(ref[s]));
        EXPECT(worst <= 1e-5, "strong scaling, %d threads vs 1: relative loss difference %.3g", nths[i], worst);
        printf("strong scaling %d threads vs 1: max relative loss difference %.3g over 20 steps\n", nths[i], worst);
    }
}

static void test_63(void) {
    config_t c;
    config_preset(&c, "tiny");
    float la[3], lb[3];
    float *pa = NULL, *pb = NULL;
    size_t np;
    if (run(&c, 63, 0, 3, la, &pa, &np) || run(&c, 63, 0, 3, lb, &pb, &np)) return;
    EXPECT(memcmp(la, lb, sizeof la) == 0 && memcmp(pa, pb, np * sizeof(float)) == 0,
           "63 threads: two runs differ");
    EXPECT(isfinite(la[2]) && la[2] < la[0], "63 threads: loss %.4f -> %.4f", la[0], la[2]);
    free(pa);
    free(pb);
    /* the same global batch of 63 sequences on 1 and on 63 workers */
    c.B = 63;
    float l1[3], l63[3];
    if (run(&c, 1, 1, 3, l1, NULL, NULL) || run(&c, 63, 1, 3, l63, NULL, NULL)) return;
    for (int s = 0; s < 3; s++)
        EXPECT(fabs(l1[s] - l63[s]) <= 1e-5 * fabs(l1[s]), "63 threads strong, step %d: %.9g vs %.9g",
               s, l63[s], l1[s]);
}

/* ---------------------------------------------------------------- pool */

typedef struct { atomic_int phase_count[3]; int seen_bad; pool_t *p; int nth; } pool_probe;

static void pool_job(void *arg, int ith, int nth) {
    pool_probe *pp = arg;
    for (int k = 0; k < 3; k++) {
        atomic_fetch_add(&pp->phase_count[k], 1);
        pool_barrier(pp->p);
        /* after the barrier everyone has arrived at phase k */
        if (atomic_load(&pp->phase_count[k]) != nth) pp->seen_bad = 1;
    }
    (void)ith;
}

static void test_pool(void) {
    int sizes[] = { 1, 2, 7, 63 };
    for (int i = 0; i < 4; i++) {
        char err[256];
        pool_t *p = pool_create(sizes[i], err, sizeof err);
        EXPECT(p != NULL, "pool_create(%d): %s", sizes[i], err);
        if (!p) continue;
        for (int round = 0; round < 50; round++) {
            pool_probe pp = { .p = p, .nth = sizes[i] };
            pool_run(p, pool_job, &pp);
            if (pp.seen_bad || atomic_load(&pp.phase_count[2]) != sizes[i]) {
                EXPECT(0, "pool of %d: barrier let a worker through early (round %d)", sizes[i], round);
                break;
            }
        }
        EXPECT(pool_size(p) == sizes[i], "pool size");
        pool_free(p);
    }
    pool_free(NULL);
}

static void test_bad_threads(void) {
    config_t c;
    config_preset(&c, "tiny");
    train_opts o;
    train_opts_default(&o);
    char err[256];
    int bad[] = { 0, -3, THREADS_MAX + 1, 100000 };
    for (int i = 0; i < 4; i++) {
        trainer_t *t = trainer_create(&c, &o, bad[i], &corpus, err, sizeof err);
        EXPECT(!t && strstr(err, "thread count"), "%d threads accepted (%s)", bad[i], err);
        trainer_free(t);
    }
    o.strong = 1;
    c.B = 3;
    trainer_t *t = trainer_create(&c, &o, 4, &corpus, err, sizeof err);
    EXPECT(!t && strstr(err, "strong scaling"), "global batch 3 over 4 threads accepted (%s)", err);
    trainer_free(t);
}

int main(void) {
    blas_single_thread();
    tokens = test_corpus(&corpus, 64);
    test_pool();
    test_bitwise();
    test_strong();
    test_63();
    test_bad_threads();
    free(tokens);
    return check_finish("test_threads");
}
