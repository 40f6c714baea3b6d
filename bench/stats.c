/*
 * stats.c - the numbers of a scaling sweep (stats.h): median, mean,
 * spread, the least-squares line, Karp-Flatt, the Hodges-Lehmann speedup,
 * and the sweep's metric. The other jobs of stats.h are in their own files:
 * runs_format.c (the runs.jsonl record, both ways), points.c (the per-point
 * summaries and the memory fit), stats_write.c (summary.csv, memory.csv,
 * the warnings and the table).
 */
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const STATS_PHASE_NAMES[STATS_PHASES] = {
    "forward", "backward", "lock_wait", "barrier_wait", "reduce", "optimizer", "comm", "comm_sum",
};

// ----------------------------------------------------------------------------
// basic statistics

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Moves the finite values of x to its front; returns how many. */
static int keep_finite(double *x, int n) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) x[k++] = x[i];
    return k;
}

double stats_median(double *x, int n) {
    n = keep_finite(x, n);
    if (n == 0) return NAN;
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

double stats_mean(const double *x, int n) {
    double s = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) { s += x[i]; k++; }
    return k ? s / k : NAN;
}

double stats_stddev(const double *x, int n) {
    double m = stats_mean(x, n), s = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) { s += (x[i] - m) * (x[i] - m); k++; }
    return k >= 2 ? sqrt(s / (k - 1)) : NAN;
}

double stats_min(const double *x, int n) {
    double m = NAN;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && !(m <= x[i])) m = x[i];
    return m;
}

double stats_max(const double *x, int n) {
    double m = NAN;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && !(m >= x[i])) m = x[i];
    return m;
}

int stats_linfit(const double *x, const double *y, int n, double *a, double *b) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i];
        k++;
    }
    double den = k * sxx - sx * sx;
    if (k < 2 || fabs(den) < 1e-12) { *a = k ? sy / k : NAN; *b = NAN; return k; }
    *b = (k * sxy - sx * sy) / den;
    *a = (sy - *b * sx) / k;
    return k;
}

double stats_karp_flatt(double s, int n) {
    if (n <= 1 || !isfinite(s) || s <= 0) return NAN;
    return (1.0 / s - 1.0 / n) / (1.0 - 1.0 / n);
}

void stats_speedup(const double *base, int m, const double *cand, int n, double *est, double *lo, double *hi) {
    *est = *lo = *hi = NAN;
    if (m < 1 || n < 1) return;
    double *d = malloc(sizeof *d * (size_t)m * (size_t)n);
    if (!d) { fprintf(stderr, "scale: out of memory\n"); exit(1); }
    size_t k = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) d[k++] = log(cand[j]) - log(base[i]);
    qsort(d, k, sizeof *d, cmp_double);
    *est = exp(k % 2 ? d[k / 2] : (d[k / 2 - 1] + d[k / 2]) / 2);
    *lo = exp(d[0]);
    *hi = exp(d[k - 1]);
    free(d);
}

// ----------------------------------------------------------------------------
// the metric

const stats_metric STATS_METRIC_DEFAULT = { "tokens_per_s", NAN, 0, "tokens/s", 1 };

double stats_metric_of(const stats_metric *m, const json *report, double wall_s, int workers) {
    if (!m) m = &STATS_METRIC_DEFAULT;
    double v = m->key ? json_num(json_path(report, m->key), NAN)
                      : wall_s > 0 ? m->work * (m->strong ? 1 : workers) / wall_s : NAN;
    return v > 0 && isfinite(v) ? v : NAN;
}

double stats_record_metric(const json *rec, const stats_metric *m) {
    const json *v = json_get(rec, "metric");
    if (v) return json_num(v, NAN);
    /* a record written before it carried its metric: computed from its report */
    const json *report = json_get(rec, "report");
    double ranks = json_num(json_get(rec, "ranks"), 1);
    int workers = (int)json_num(json_get(rec, "threads"), 0) * (ranks > 1 ? (int)ranks : 1);
    return m ? stats_metric_of(m, report, json_num(json_get(rec, "wall_s"), NAN), workers)
             : json_num(json_get(report, "tokens_per_s"), NAN);
}

