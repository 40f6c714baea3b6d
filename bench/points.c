/*
 * points.c - the summary of each (variant, threads, ranks) point over its
 * reps, the marks judged against the machine (oversubscribed, SMT, noise),
 * and the per-thread memory fit (stats.h).
 */
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// ----------------------------------------------------------------------------
// points

/* The positive metrics of the successful runs of point p into out (room
 * for nruns); returns how many. */
static int point_metrics(const stats_run *runs, int nruns, const stats_point *p, double *out) {
    int k = 0;
    for (int i = 0; i < nruns; i++)
        if (runs[i].ok && runs[i].threads == p->threads && (runs[i].ranks > 1 ? runs[i].ranks : 1) == p->ranks &&
            strcmp(runs[i].variant, p->variant) == 0 && runs[i].metric > 0)
            out[k++] = runs[i].metric;
    return k;
}

void stats_summarize(const stats_run *runs, int nruns, const char *const *variants,
                     int nv, const int *threads, int nt, int cpus, stats_point *out) {
    for (int v = 0; v < nv; v++)
        for (int t = 0; t < nt; t++) {
            stats_point *p = &out[v * nt + t];
            memset(p, 0, sizeof *p);
            snprintf(p->variant, sizeof p->variant, "%s", variants[v]);
            p->threads = threads[t];
            p->ranks = 1;
        }
    stats_summarize_points(runs, nruns, out, nv * nt, cpus);
}

void stats_summarize_points(const stats_run *runs, int nruns, stats_point *pts, int n, int cpus) {
    double *buf = malloc(sizeof(double) * (size_t)(nruns > 0 ? nruns : 1) * 4);
    const stats_run **ok = malloc(sizeof(*ok) * (size_t)(nruns > 0 ? nruns : 1));
    if (!buf || !ok) { fprintf(stderr, "scale: out of memory\n"); exit(1); }
    double *wall = buf, *tps = buf + nruns, *util = buf + 2 * nruns, *a = buf + 3 * nruns;
    for (int j = 0; j < n; j++) {
        stats_point *p = &pts[j];
        char variant[sizeof p->variant];
        int threads = p->threads, ranks = p->ranks > 1 ? p->ranks : 1;
        memcpy(variant, p->variant, sizeof variant);
        memset(p, 0, sizeof *p);
        memcpy(p->variant, variant, sizeof variant);
        p->threads = threads;
        p->ranks = ranks;
        p->workers = ranks * threads;
        p->oversubscribed = cpus > 0 && p->workers > cpus;
        /* the successful runs of this point */
        int k = 0;
        for (int i = 0; i < nruns; i++) {
            if (strcmp(runs[i].variant, variant) != 0 || runs[i].threads != threads ||
                (runs[i].ranks > 1 ? runs[i].ranks : 1) != ranks)
                continue;
            if (runs[i].ok) ok[k++] = &runs[i];
            else p->reps_failed++;
        }
        p->reps_ok = k;
        for (int i = 0; i < k; i++) {
            wall[i] = ok[i]->wall_s;
            tps[i] = ok[i]->metric;
            util[i] = ok[i]->wall_s > 0 ? (ok[i]->user_s + ok[i]->sys_s) / ok[i]->wall_s : NAN;
        }
        p->wall_min = stats_min(wall, k);
        p->wall_max = stats_max(wall, k);
        p->wall_stddev = stats_stddev(wall, k);
        double mean = stats_mean(wall, k);
        p->wall_cv = mean > 0 ? p->wall_stddev / mean : NAN;
        p->wall_median = stats_median(wall, k);
        p->tps_min = stats_min(tps, k);
        p->tps_max = stats_max(tps, k);
        p->tps_median = stats_median(tps, k);
        double tmean = stats_mean(tps, k);
        p->tps_cv = tmean > 0 ? stats_stddev(tps, k) / tmean : NAN;
        p->cpu_util = stats_median(util, k);
#define MEDIAN_OF(field, expr) do {                                  \
            for (int i = 0; i < k; i++) a[i] = (expr);              \
            p->field = stats_median(a, k);                          \
        } while (0)
        MEDIAN_OF(user_median, ok[i]->user_s);
        MEDIAN_OF(sys_median, ok[i]->sys_s);
        MEDIAN_OF(rss_median_kib, ok[i]->peak_rss_kib);
        MEDIAN_OF(mem_analytic, ok[i]->mem_per_thread);
        MEDIAN_OF(task_clock_s, ok[i]->task_clock_s);
        MEDIAN_OF(ipc, ok[i]->ipc);
        MEDIAN_OF(llc_per_token, ok[i]->llc_per_token);
        MEDIAN_OF(eff_ghz, ok[i]->eff_ghz);
        MEDIAN_OF(cycles_per_ref, ok[i]->cycles_per_ref);
        MEDIAN_OF(eff_ghz_ref, ok[i]->eff_ghz_ref);
        for (int ph = 0; ph < STATS_PHASES; ph++) MEDIAN_OF(phase_s[ph], ok[i]->phase_s[ph]);
#undef MEDIAN_OF
    }
    /* speedups over the 1-worker point of the same variant */
    for (int j = 0; j < n; j++) {
        stats_point *p = &pts[j];
        const stats_point *base = NULL;
        for (int i = 0; i < n; i++)
            if (pts[i].workers == 1 && strcmp(pts[i].variant, p->variant) == 0) base = &pts[i];
        int kb = base ? point_metrics(runs, nruns, base, wall) : 0;
        int kc = point_metrics(runs, nruns, p, tps);
        stats_speedup(wall, kb, tps, kc, &p->speedup, &p->speedup_min, &p->speedup_max);
        p->efficiency = p->speedup / p->workers;
        p->karp_flatt = stats_karp_flatt(p->speedup, p->workers);
    }
    free(ok);
    free(buf);
}

void stats_mark_points(stats_point *pts, int n, const stats_run *runs, int nruns, int cores,
                       int usable, double noise_max) {
    double *x = malloc(sizeof(double) * (size_t)(nruns > 0 ? nruns : 1));
    if (!x) { fprintf(stderr, "scale: out of memory\n"); exit(1); }
    for (int i = 0; i < n; i++) {
        stats_point *p = &pts[i];
        p->cores = cores;
        p->usable = usable;
        p->noise_max = noise_max;
        int workers = p->workers > 0 ? p->workers : p->threads;
        p->smt_shared = !p->oversubscribed && cores > 0 && workers > cores;
        int k = 0;
        p->reps_noisy = p->reps_noise_undetermined = 0;
        for (int j = 0; j < nruns; j++) {
            const stats_run *r = &runs[j];
            if (!r->ok || r->threads != p->threads || (r->ranks > 1 ? r->ranks : 1) != (p->ranks > 1 ? p->ranks : 1) ||
                strcmp(r->variant, p->variant) != 0)
                continue;
            x[k++] = r->outside_cpus;
            p->reps_noisy += r->noisy == 1;
            p->reps_noise_undetermined += r->noisy < 0;
        }
        p->outside_cpus_max = stats_max(x, k);
        p->outside_cpus_median = stats_median(x, k);
    }
    free(x);
}

void stats_memory_fit(const stats_point *pts, int nt, stats_memory *m) {
    double x[nt > 0 ? nt : 1], y[nt > 0 ? nt : 1], an[nt > 0 ? nt : 1];
    memset(m, 0, sizeof *m);
    snprintf(m->variant, sizeof m->variant, "%s", nt > 0 ? pts[0].variant : "");
    m->ranks = nt > 0 && pts[0].ranks > 1 ? pts[0].ranks : 1;
    for (int t = 0; t < nt; t++) {
        x[t] = pts[t].reps_ok > 0 ? pts[t].threads : NAN;
        y[t] = pts[t].rss_median_kib * 1024.0;
        an[t] = pts[t].mem_analytic;
    }
    m->analytic = stats_median(an, nt);
    m->points = stats_linfit(x, y, nt, &m->intercept, &m->measured);
}

