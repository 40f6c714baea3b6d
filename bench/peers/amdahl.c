/*
 * amdahl.c - a test program with a known serial fraction, for sweeping
 * through build/scale --command: a serial part of set length on the main
 * thread, then a parallel loop over N threads, timed together. Under strong
 * scaling the parallel work is split over the threads, so Amdahl's law holds
 * with serial fraction f = serial / (serial + parallel) up to the cost of
 * starting and joining the threads; the Karp-Flatt estimate from a sweep
 * must find it (tests/test_amdahl.sh).
 *
 *   amdahl --threads N [--serial U] [--parallel U] [--kind sleep|spin]
 *          [--scaling strong|weak] [--report FILE]
 *
 * A unit of work is 1 ms of waiting (--kind sleep, the default: it needs no
 * CPU, so the result does not depend on the machine's speed or load) or
 * AMDAHL_SPIN_ITERS steps of a dependent integer recurrence (--kind spin:
 * real CPU work, which shows what oversubscription does). --report FILE gets
 * one JSON object: the settings, the true serial fraction, the units done,
 * the timed region and units_per_s (the metric to sweep with --metric),
 * and for --kind sleep the ideal region (serial + the longest thread's share,
 * in ms) and overhead_s, how much longer the region took: thread start and
 * join, and wake-ups the scheduler made late. That is the part of the
 * measured serial fraction the program does not set; the test allows for it.
 * Exit: 0 done, 1 the report could not be written, 2 bad arguments.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AMDAHL_MAX_THREADS 1024
#define AMDAHL_SPIN_ITERS 1000000   /* steps of xorshift64 per unit of --kind spin */

typedef struct {
    int spin;          /* --kind spin, else sleep */
    double units;      /* this thread's share */
    uint64_t sink;     /* spin's result, so the loop is not removed */
} work;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Does w->units of work: waits until an absolute deadline (so wake-ups
 * late by the scheduler do not add up), or spins. */
static void work_do(work *w) {
    if (!w->spin) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double end = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + w->units * 1e-3;
        ts.tv_sec = (time_t)end;
        ts.tv_nsec = (long)((end - (double)ts.tv_sec) * 1e9);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
        return;
    }
    uint64_t x = 88172645463325252ull ^ (uint64_t)(uintptr_t)w;
    long n = lround(w->units * AMDAHL_SPIN_ITERS);
    for (long i = 0; i < n; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; }
    w->sink = x;
}

static void *worker(void *arg) {
    work_do(arg);
    return NULL;
}

static void usage(FILE *f) {
    fputs("usage: amdahl --threads N [--serial U] [--parallel U] [--kind sleep|spin]\n"
          "              [--scaling strong|weak] [--report FILE]\n"
          "  serial U units on one thread, then parallel U units over N threads (strong: split,\n"
          "  weak: U per thread); a unit is 1 ms asleep (sleep) or a fixed spin loop (spin).\n"
          "  Defaults: --serial 60 --parallel 180 --kind sleep --scaling strong.\n", f);
}

static int bad(const char *fmt, const char *arg) {
    fputs("amdahl: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (amdahl --help)\n", stderr);
    return 2;
}

static int parse_num(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    double threads = 1, serial = 60, parallel = 180;
    const char *kind = "sleep", *scaling = "strong", *report = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!v) return bad("%s needs a value", a);
        i++;
        if (!strcmp(a, "--threads")) {
            if (parse_num(v, 1, AMDAHL_MAX_THREADS, &threads) || threads != floor(threads))
                return bad("--threads '%s' is not 1..1024", v);
        } else if (!strcmp(a, "--serial")) {
            if (parse_num(v, 0, 1e7, &serial)) return bad("--serial '%s' is not 0..1e7 units", v);
        } else if (!strcmp(a, "--parallel")) {
            if (parse_num(v, 0, 1e7, &parallel)) return bad("--parallel '%s' is not 0..1e7 units", v);
        } else if (!strcmp(a, "--kind")) {
            if (strcmp(v, "sleep") && strcmp(v, "spin")) return bad("--kind '%s' is not sleep or spin", v);
            kind = v;
        } else if (!strcmp(a, "--scaling")) {
            if (strcmp(v, "strong") && strcmp(v, "weak")) return bad("--scaling '%s' is not strong or weak", v);
            scaling = v;
        } else if (!strcmp(a, "--report")) {
            report = v;
        } else return bad("unknown option '%s'", a);
    }
    if (serial + parallel <= 0) return bad("no work: --serial and --parallel are both 0%s", "");
    int n = (int)threads, strong = !strcmp(scaling, "strong"), spin = !strcmp(kind, "spin");
    pthread_t *tid = calloc((size_t)n, sizeof *tid);
    work *w = calloc((size_t)n + 1, sizeof *w);
    if (!tid || !w) { fputs("amdahl: out of memory\n", stderr); return 1; }

    double t0 = now_s();
    w[n] = (work){ spin, serial, 0 };
    work_do(&w[n]);                               /* the serial part */
    for (int i = 0; i < n; i++) {                 /* the parallel loop */
        w[i] = (work){ spin, strong ? parallel / n : parallel, 0 };
        int e = pthread_create(&tid[i], NULL, worker, &w[i]);
        if (e) { fprintf(stderr, "amdahl: pthread_create: %s\n", strerror(e)); return 1; }
    }
    for (int i = 0; i < n; i++) pthread_join(tid[i], NULL);
    double region = now_s() - t0;

    double units = serial + (strong ? parallel : parallel * n);
    double ideal = spin ? NAN : (serial + (strong ? parallel / n : parallel)) * 1e-3;
    uint64_t sink = 0;
    for (int i = 0; i <= n; i++) sink ^= w[i].sink;
    printf("amdahl: %d threads, %g units (%s, %s) in %.6f s: %.6g units/s\n", n, units, kind, scaling,
           region, units / region);
    int rc = 0;
    if (report) {
        FILE *f = fopen(report, "w");
        if (f) {
            fprintf(f, "{\"tool\":\"amdahl\",\"kind\":\"%s\",\"scaling\":\"%s\",\"threads\":%d,"
                    "\"serial_units\":%.17g,\"parallel_units\":%.17g,\"serial_fraction\":%.17g,"
                    "\"units\":%.17g,\"region_s\":%.17g,\"units_per_s\":%.17g,",
                    kind, scaling, n, serial, parallel, serial / (serial + parallel), units, region,
                    units / region);
            if (spin) fputs("\"ideal_s\":null,\"overhead_s\":null", f);
            else fprintf(f, "\"ideal_s\":%.17g,\"overhead_s\":%.17g", ideal, region - ideal);
            fprintf(f, ",\"spin_sink\":%llu}\n", (unsigned long long)sink);
        }
        if (!f || fclose(f) != 0) {
            fprintf(stderr, "amdahl: cannot write --report %s: %s\n", report, strerror(errno));
            rc = 1;
        }
    }
    free(tid);
    free(w);
    return rc;
}
