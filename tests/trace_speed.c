/*
 * trace_speed.c - what the timeline's recording costs a worker per step
 * (core/trace.h), without the model: one worker's calls of a one-rank step
 * (trace_step_begin, trace_phase per phase boundary, trace_job_end,
 * trace_step_end) as trainer.c makes them, with the phase clocks read as
 * phase_end reads them, in four modes:
 *   clocks  the phase clocks alone (what a timed run pays without a trace)
 *   stats   + the straggler statistics (every timed run; no --trace)
 *   events  + the phase events (--trace before per-layer events)
 *   layers  + the per-layer events: 2 (L + 1) trace_mark calls, each a
 *           clock reading (--trace now)
 * Not a test: a measurement (README's Tracing section). Prints, per mode,
 * the median over REPS interleaved rounds of this thread's CPU time per
 * step, in ns, and each mode's excess over `clocks`.
 *
 *   make build/tests/trace_speed && build/tests/trace_speed [L] [REPS] [STEPS]
 */
#include <stdio.h>
#include <stdlib.h>

#include "trace.h"
#include "trainer.h"
#include "util.h"

enum { M_CLOCKS, M_STATS, M_EVENTS, M_LAYERS, M_COUNT };
static const char *const mode_name[M_COUNT] = { "clocks", "stats", "events", "layers" };

static volatile double sink;

/* one round of `steps` steps in mode m; returns CPU seconds */
static double round_of(int m, int L, long steps) {
    char err[256];
    trace_t *tr = NULL;
    if (m != M_CLOCKS) {
        tr = trace_create(1, L, NULL, 0, steps, m >= M_EVENTS, 0, steps - 1, err, sizeof err);
        if (!tr) { fprintf(stderr, "trace_speed: %s\n", err); exit(1); }
    }
    trace_lane *l = tr ? trace_lane_of(tr, 0) : NULL;
    static const int after[] = { PH_BARRIER, PH_REDUCE, PH_BARRIER, PH_OPTIM };
    double acc = 0.0, c0 = time_thread_cpu();
    for (long s = 0; s < steps; s++) {
        if (tr) trace_step_begin(tr, s, time_wall());
        double t = time_wall(), e;
        /* forward and backward, with the model's marks between the parts */
        for (int pass = 0; pass < 2; pass++) {
            if (m == M_LAYERS)
                for (int k = 0; k <= L; k++) trace_mark(l, pass == 0 ? k - 1 : L - k);
            e = time_wall();
            if (l) trace_phase(l, pass == 0 ? PH_FORWARD : PH_BACKWARD, t, e);
            acc += e - t;
            t = e;
        }
        for (int k = 0; k < 4; k++) {
            e = time_wall();
            if (l) trace_phase(l, after[k], t, e);
            acc += e - t;
            t = e;
        }
        if (tr) {
            double tp = time_wall();
            trace_job_end(tr, tp);
            trace_step_end(tr, tp);
        }
    }
    double cpu = time_thread_cpu() - c0;
    sink = acc;
    trace_free(tr);
    return cpu;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int L = argc > 1 ? atoi(argv[1]) : 6;
    int reps = argc > 2 ? atoi(argv[2]) : 15;
    long steps = argc > 3 ? atol(argv[3]) : 20000;
    if (L < 1 || L > 1024 || reps < 1 || reps > 1000 || steps < 1 || steps > 10000000) {
        fprintf(stderr, "usage: trace_speed [L 1..1024] [REPS 1..1000] [STEPS 1..1e7]\n");
        return 2;
    }
    double *t = malloc(sizeof(double) * (size_t)reps * M_COUNT);
    if (!t) return 1;
    for (int m = 0; m < M_COUNT; m++) (void)round_of(m, L, steps / 10 + 1);   /* warm-up */
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < M_COUNT; k++) {
            int m = (k + r) % M_COUNT;      /* rotate the order each round */
            t[m * reps + r] = round_of(m, L, steps) / (double)steps * 1e9;
        }
    printf("trace_speed: L = %d, %ld steps x %d rounds, one worker, ns of CPU per step (median)\n", L, steps, reps);
    double base = 0.0;
    for (int m = 0; m < M_COUNT; m++) {
        qsort(t + m * reps, (size_t)reps, sizeof(double), cmp_d);
        double med = t[m * reps + reps / 2], lo = t[m * reps], hi = t[m * reps + reps - 1];
        if (m == M_CLOCKS) base = med;
        printf("  %-7s %8.1f ns  [min %.1f, max %.1f]  over clocks: %+.1f ns\n", mode_name[m], med, lo, hi,
               med - base);
    }
    free(t);
    return 0;
}
