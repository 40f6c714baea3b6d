/*
 * test_stats.c - bench/stats.c's statistics on inputs whose answers are
 * known: median (odd and even n, unsorted, NaN dropped, none left), mean,
 * sample standard deviation, the least-squares line, the Karp-Flatt
 * fraction, and stats_summarize over hand-made runs whose repeats differ
 * (median, min, max, speedup, efficiency of a point; failed runs left out).
 * The sweep tests (tests/test_scale.sh) only see what the fake child
 * produces; these pin the arithmetic down directly.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "stats.h"

static int near(double a, double b) { return fabs(a - b) <= 1e-12 * fmax(1.0, fabs(b)); }

static void test_basic(void) {
    double odd[] = { 5, 1, 4 };
    EXPECT(near(stats_median(odd, 3), 4), "median {5,1,4} = %g, want 4", stats_median(odd, 3));
    double even[] = { 7, 1, 3, 10 };
    EXPECT(near(stats_median(even, 4), 5), "median {7,1,3,10} = %g, want 5 (mean of 3 and 7)",
           stats_median(even, 4));
    double two[] = { 2, 1 };
    EXPECT(near(stats_median(two, 2), 1.5), "median {2,1} = %g, want 1.5", stats_median(two, 2));
    double one[] = { 42 };
    EXPECT(near(stats_median(one, 1), 42), "median {42} = %g", stats_median(one, 1));
    /* NaN and Inf are dropped: {NaN, 8, Inf, 2, 6, 4} -> {8, 2, 6, 4}, median 5 */
    double holes[] = { NAN, 8, INFINITY, 2, 6, 4 };
    EXPECT(near(stats_median(holes, 6), 5), "median with NaN/Inf dropped = %g, want 5",
           stats_median(holes, 6));
    double none[] = { NAN, NAN };
    EXPECT(isnan(stats_median(none, 2)), "median of no finite value = %g, want NaN", stats_median(none, 2));
    EXPECT(isnan(stats_median(none, 0)), "median of n = 0 is not NaN");

    double xs[] = { 2, 4, 4, 4, 5, 5, 7, 9 };   /* mean 5, sum of squares 32 */
    EXPECT(near(stats_mean(xs, 8), 5), "mean = %g, want 5", stats_mean(xs, 8));
    EXPECT(near(stats_stddev(xs, 8), sqrt(32.0 / 7)), "sample stddev = %g, want sqrt(32/7) = %g",
           stats_stddev(xs, 8), sqrt(32.0 / 7));
    EXPECT(isnan(stats_stddev(xs, 1)), "stddev of one value is not NaN");
    double mixed[] = { 1, NAN, 3 };
    EXPECT(near(stats_mean(mixed, 3), 2), "mean with a NaN dropped = %g, want 2", stats_mean(mixed, 3));

    double x[] = { 1, 2, 3, 4 }, y[] = { 5, 7, 9, 11 };   /* y = 3 + 2x */
    double a, b;
    EXPECT(stats_linfit(x, y, 4, &a, &b) == 4 && near(a, 3) && near(b, 2), "linfit: a %g b %g, want 3, 2", a, b);
    double xn[] = { 1, NAN, 3, 5 }, yn[] = { 1, 100, 2, 3 };   /* (1,1) (3,2) (5,3): y = 0.5 + 0.5x */
    EXPECT(stats_linfit(xn, yn, 4, &a, &b) == 3 && near(a, 0.5) && near(b, 0.5),
           "linfit over finite pairs: a %g b %g, want 0.5, 0.5", a, b);
    double same[] = { 2, 2 }, ys[] = { 1, 3 };
    EXPECT(stats_linfit(same, ys, 2, &a, &b) == 2 && isnan(b), "linfit on one distinct x gave a slope %g", b);

    /* s = 1.6 on 2 threads: (1/1.6 - 1/2) / (1 - 1/2) = 0.25 */
    EXPECT(near(stats_karp_flatt(1.6, 2), 0.25), "karp-flatt(1.6, 2) = %g, want 0.25", stats_karp_flatt(1.6, 2));
    EXPECT(isnan(stats_karp_flatt(1.0, 1)), "karp-flatt at 1 thread is not NaN");
}

/* four repeats per point, tokens/s all different; one failed run */
static void test_summarize(void) {
    static const double tps1[] = { 100, 130, 110, 90 };    /* median 105 */
    static const double tps2[] = { 150, 210, 190, 170 };   /* median 180 */
    stats_run runs[9];
    memset(runs, 0, sizeof runs);
    for (int i = 0; i < 9; i++) {
        stats_run *r = &runs[i];
        snprintf(r->variant, sizeof r->variant, "lockfree");
        r->threads = i < 4 ? 1 : 2;
        r->rep = i % 4;
        r->ok = i < 8;
        r->metric = i < 4 ? tps1[i] : i < 8 ? tps2[i - 4] : 1e9;   /* the failed run is left out */
        r->wall_s = 1000.0 / r->metric;
        r->user_s = r->wall_s;
        for (int p = 0; p < STATS_PHASES; p++) r->phase_s[p] = NAN;
        r->mem_per_thread = r->peak_rss_kib = r->task_clock_s = r->ipc = r->llc_per_token = NAN;
    }
    const char *variants[] = { "lockfree" };
    int threads[] = { 1, 2 };
    stats_point pts[2];
    stats_summarize(runs, 9, variants, 1, threads, 2, 2, pts);
    EXPECT(pts[0].reps_ok == 4 && pts[1].reps_ok == 4 && pts[1].reps_failed == 1,
           "reps ok %d %d, failed %d", pts[0].reps_ok, pts[1].reps_ok, pts[1].reps_failed);
    EXPECT(near(pts[0].tps_median, 105) && near(pts[1].tps_median, 180),
           "tokens/s medians %g %g, want 105 180", pts[0].tps_median, pts[1].tps_median);
    EXPECT(near(pts[1].tps_min, 150) && near(pts[1].tps_max, 210), "2-thread min %g max %g",
           pts[1].tps_min, pts[1].tps_max);
    /* wall = 1000 / tps: 2-thread walls 6.667 4.762 5.263 5.882, median (5.263 + 5.882) / 2 */
    EXPECT(near(pts[1].wall_median, 0.5 * (1000.0 / 190 + 1000.0 / 170)), "2-thread wall median %g",
           pts[1].wall_median);
    /* the speedup: the median of the 16 pairwise ratios on log scale, the
     * 8th and 9th of them being 150/90 and 170/100; the range 150/130 .. 210/90 */
    double hl = sqrt(150.0 / 90 * 170.0 / 100);
    EXPECT(near(pts[1].speedup, hl) && near(pts[1].efficiency, hl / 2),
           "speedup %g efficiency %g, want %g %g", pts[1].speedup, pts[1].efficiency, hl, hl / 2);
    EXPECT(near(pts[1].speedup_min, 150.0 / 130) && near(pts[1].speedup_max, 210.0 / 90),
           "speedup range %g..%g", pts[1].speedup_min, pts[1].speedup_max);
    EXPECT(near(pts[0].cpu_util, 1.0), "cpu_util %g, want 1", pts[0].cpu_util);
}

/* issue 21's example: the figure and its range are one quantity (the
 * range contains the figure); a ratio of medians said 3.99x beside a
 * geometric-mean interval [1.38, 3.84] */
static void test_speedup_example(void) {
    double base[] = { 99, 100, 101, 100.5, 99.5 };
    double cand[] = { 400, 401, 399, 402, 398, 400.5, 100, 101, 99, 100.2 };
    double s, lo, hi;
    stats_speedup(base, 5, cand, 10, &s, &lo, &hi);
    EXPECT(lo <= s && s <= hi, "speedup %g outside its range [%g, %g]", s, lo, hi);
    /* 30 of the 50 pairwise ratios are near 4: their median is one of them */
    EXPECT(s > 3.9 && s < 4.1, "speedup %g, want the Hodges-Lehmann ratio near 4", s);
    stats_speedup(base, 5, cand, 0, &s, &lo, &hi);
    EXPECT(isnan(s) && isnan(lo) && isnan(hi), "a speedup without candidate reps is %g, not NaN", s);
}

/* --work under weak scaling counts every worker of every rank: 2 ranks x 1
 * thread at the same wall time as 1 x 1 did twice the work (issue 21) */
static void test_rank_metric(void) {
    stats_metric m = STATS_METRIC_DEFAULT;
    m.key = NULL;
    m.work = 10;
    m.strong = 0;
    const char *lines[] = {
        "{\"variant\":\"mpi\",\"threads\":1,\"ranks\":1,\"rep\":0,\"status\":\"ok\",\"wall_s\":2}",
        "{\"variant\":\"mpi\",\"threads\":1,\"ranks\":2,\"rep\":0,\"status\":\"ok\",\"wall_s\":2}",
        "{\"variant\":\"mpi\",\"threads\":2,\"ranks\":2,\"rep\":0,\"status\":\"ok\",\"wall_s\":2}" };
    double want[] = { 5, 10, 20 };
    for (int i = 0; i < 3; i++) {
        char err[128];
        json *rec = json_parse(lines[i], strlen(lines[i]), err, sizeof err);
        stats_run r;
        int rc = rec ? stats_run_from_json(rec, &m, &r, err, sizeof err) : -1;
        EXPECT(rc == 0 && near(r.metric, want[i]), "weak --work 10 over 2 s at record %d: metric %g, want %g (%s)",
               i, rc == 0 ? r.metric : NAN, want[i], rc == 0 ? "" : err);
        json_free(rec);
    }
    m.strong = 1;
    EXPECT(near(stats_metric_of(&m, NULL, 2.0, 4), 5), "strong --work: the total over the wall, whatever the workers");
}

int main(void) {
    test_basic();
    test_rank_metric();
    test_speedup_example();
    test_summarize();
    return check_finish("test_stats");
}
