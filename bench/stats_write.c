/*
 * stats_write.c - what a sweep's summaries are written as (stats.h):
 * summary.csv, memory.csv and its JSON, the warnings and the table on
 * standard output.
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
// writers

static void put_val(FILE *f, double v, const char *fmt) {
    if (isfinite(v)) fprintf(f, fmt, v);
    else fputs("NA", f);
}

int stats_write_summary_csv(FILE *f, const stats_point *pts, int n, const stats_metric *m) {
    if (!m) m = &STATS_METRIC_DEFAULT;
    const char *mc = m->is_default ? "tokens_per_s" : "metric";
    fprintf(f, "variant,threads,oversubscribed,reps_ok,reps_failed,wall_median_s,wall_min_s,"
            "wall_max_s,wall_stddev_s,wall_cv,%s_median,%s_min,%s_max,speedup,speedup_min,"
            "speedup_max,efficiency,cpu_util,karp_flatt,user_s_median,sys_s_median,"
            "peak_rss_kib_median,mem_per_thread_analytic_bytes", mc, mc, mc);
    /* the phases before the comm ones where they always were; the columns
     * added later (comm phases, ranks, workers) after the others */
    for (int ph = 0; ph < STATS_PHASES_FIRST; ph++) fprintf(f, ",phase_%s_s", STATS_PHASE_NAMES[ph]);
    fputs(",task_clock_s,ipc,llc_misses_per_token", f);
    fputs(",smt_shared,usable_cpus,outside_cpus_median,outside_cpus_max,reps_noisy,reps_noise_undetermined,"
          "eff_ghz,cycles_per_ref_cycle,eff_ghz_ref", f);
    fputs(m->is_default ? "" : ",metric_unit", f);
    for (int ph = STATS_PHASES_FIRST; ph < STATS_PHASES; ph++) fprintf(f, ",phase_%s_s", STATS_PHASE_NAMES[ph]);
    fputs(",ranks,workers\n", f);
    for (int i = 0; i < n; i++) {
        const stats_point *p = &pts[i];
        fprintf(f, "%s,%d,%d,%d,%d", p->variant, p->threads, p->oversubscribed,
                p->reps_ok, p->reps_failed);
        const double vals[] = {
            p->wall_median, p->wall_min, p->wall_max, p->wall_stddev, p->wall_cv,
            p->tps_median, p->tps_min, p->tps_max, p->speedup, p->speedup_min,
            p->speedup_max, p->efficiency, p->cpu_util, p->karp_flatt,
            p->user_median, p->sys_median, p->rss_median_kib, p->mem_analytic,
        };
        for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++) {
            fputc(',', f);
            put_val(f, vals[k], "%.9g");
        }
        for (int ph = 0; ph < STATS_PHASES_FIRST; ph++) { fputc(',', f); put_val(f, p->phase_s[ph], "%.9g"); }
        fputc(',', f); put_val(f, p->task_clock_s, "%.9g");
        fputc(',', f); put_val(f, p->ipc, "%.6g");
        fputc(',', f); put_val(f, p->llc_per_token, "%.6g");
        fprintf(f, ",%d,%d", p->smt_shared, p->usable);
        const double more[] = { p->outside_cpus_median, p->outside_cpus_max };
        for (int k = 0; k < 2; k++) { fputc(',', f); put_val(f, more[k], "%.4g"); }
        fprintf(f, ",%d,%d", p->reps_noisy, p->reps_noise_undetermined);
        const double clk[] = { p->eff_ghz, p->cycles_per_ref, p->eff_ghz_ref };
        for (int k = 0; k < 3; k++) { fputc(',', f); put_val(f, clk[k], "%.4g"); }
        if (!m->is_default) fprintf(f, ",%s", m->unit);   /* checked: no comma, quote or newline */
        for (int ph = STATS_PHASES_FIRST; ph < STATS_PHASES; ph++) { fputc(',', f); put_val(f, p->phase_s[ph], "%.9g"); }
        int ranks = p->ranks > 1 ? p->ranks : 1;
        fprintf(f, ",%d,%d\n", ranks, ranks * p->threads);
    }
    return ferror(f) ? -1 : 0;
}

int stats_write_memory_csv(FILE *f, const stats_memory *m, int nv) {
    fputs("variant,analytic_bytes_per_thread,measured_bytes_per_thread,difference_bytes,"
          "measured_intercept_bytes,fit_points,ranks\n", f);
    for (int v = 0; v < nv; v++) {
        fprintf(f, "%s,", m[v].variant);
        put_val(f, m[v].analytic, "%.0f");
        fputc(',', f);
        put_val(f, m[v].measured, "%.0f");
        fputc(',', f);
        put_val(f, m[v].measured - m[v].analytic, "%.0f");
        fputc(',', f);
        put_val(f, m[v].intercept, "%.0f");
        fprintf(f, ",%d,%d\n", m[v].points, m[v].ranks > 1 ? m[v].ranks : 1);
    }
    return ferror(f) ? -1 : 0;
}

/* "lockfree 2 threads", or "mpi 2 ranks x 1 threads" */
static const char *point_label(const stats_point *p, char *buf, size_t n) {
    if (p->ranks > 1) snprintf(buf, n, "%s %d ranks x %d threads", p->variant, p->ranks, p->threads);
    else snprintf(buf, n, "%s %d threads", p->variant, p->threads);
    return buf;
}

void stats_warnings(const stats_point *pts, int n, const stats_metric *m, FILE *err, FILE *json_list) {
    if (!m) m = &STATS_METRIC_DEFAULT;
    int first = 1;
    for (int i = 0; i < n; i++) {
        const stats_point *p = &pts[i];
        char msg[480] = "", lb[64];
        size_t k = 0;
        point_label(p, lb, sizeof lb);
        /* tokens/s, the metric the speedups use (the wall time also counts
         * process start and model init) */
        if (p->tps_cv > 0.05)
            k += (size_t)snprintf(msg, sizeof msg, "%s: %s cv %.1f%% > 5%%", lb, m->unit, 100 * p->tps_cv);
        if (p->reps_failed)
            k += (size_t)snprintf(msg + k, sizeof msg - k, "%s%s: %d of %d reps failed", k ? "; " : "",
                                  lb, p->reps_failed, p->reps_ok + p->reps_failed);
        if (p->reps_noisy && k < sizeof msg)
            snprintf(msg + k, sizeof msg - k, "%s%s: other processes kept more than %g CPUs busy "
                     "in %d of %d reps (up to %.2f CPUs)", k ? "; " : "", lb,
                     p->noise_max, p->reps_noisy, p->reps_ok, p->outside_cpus_max);
        if (!*msg) continue;
        fprintf(err, "scale: warning: %s\n", msg);
        if (!first) fputc(',', json_list);
        jw_put_str(json_list, msg);
        first = 0;
    }
}

void stats_write_memory_json(FILE *f, const stats_memory *m, int nv) {
    fputc('[', f);
    for (int v = 0; v < nv; v++) {
        fputs(v ? ",{\"variant\":" : "{\"variant\":", f);
        jw_put_str(f, m[v].variant);
        jw_kv_num(f, "analytic_bytes_per_thread", m[v].analytic);
        jw_kv_num(f, "measured_bytes_per_thread", m[v].measured);
        jw_kv_num(f, "difference_bytes", m[v].measured - m[v].analytic);
        jw_kv_num(f, "measured_intercept_bytes", m[v].intercept);
        jw_kv_num(f, "fit_points", m[v].points);
        jw_kv_num(f, "ranks", m[v].ranks > 1 ? m[v].ranks : 1);
        fputc('}', f);
    }
    fputc(']', f);
}

static void put_cell(FILE *f, double v, int width, const char *fmt) {
    char s[32];
    if (isfinite(v)) snprintf(s, sizeof s, fmt, v);
    else snprintf(s, sizeof s, "NA");
    fprintf(f, " %*s", width, s);
}

void stats_print_table(FILE *f, const stats_point *pts, int n, const stats_memory *m,
                       int nv, int cpus, const stats_metric *metric) {
    if (!metric) metric = &STATS_METRIC_DEFAULT;
    int mranks = 0;
    for (int i = 0; i < n; i++) mranks |= pts[i].ranks > 1;
    int vw = 9, uw = (int)strlen(metric->unit) > 12 ? (int)strlen(metric->unit) : 12;
    for (int i = 0; i < n; i++) if ((int)strlen(pts[i].variant) > vw) vw = (int)strlen(pts[i].variant);
    fprintf(f, "%-*s%s %7s %5s %9s %6s %*s %5s %7s %6s %6s %7s %9s %7s\n", vw, "variant", mranks ? "   ranks" : "",
            "threads", "reps", "wall_med", "cv%", uw, metric->unit, "GHz", "speedup", "eff", "cpu", "serial",
            "rss_MiB", "outside");
    for (int i = 0; i < n; i++) {
        const stats_point *p = &pts[i];
        char reps[24];
        snprintf(reps, sizeof reps, "%d/%d", p->reps_ok, p->reps_ok + p->reps_failed);
        fprintf(f, "%-*s", vw, p->variant);
        if (mranks) fprintf(f, " %7d", p->ranks > 1 ? p->ranks : 1);
        fprintf(f, " %7d %5s", p->threads, reps);
        put_cell(f, p->wall_median, 9, "%.3fs");
        put_cell(f, p->wall_cv * 100, 6, "%.1f");
        put_cell(f, p->tps_median, uw, metric->is_default ? "%.1f" : "%.6g");
        put_cell(f, p->eff_ghz, 5, "%.2f");
        put_cell(f, p->speedup, 7, "%.2f");
        put_cell(f, p->efficiency, 6, "%.2f");
        put_cell(f, p->cpu_util, 6, "%.2f");
        put_cell(f, p->karp_flatt, 7, "%.3f");
        put_cell(f, p->rss_median_kib / 1024, 9, "%.1f");
        put_cell(f, p->outside_cpus_median, 7, "%.2f");
        int w = p->workers > 0 ? p->workers : p->threads;
        const char *unit = mranks ? "workers" : "threads";
        if (p->oversubscribed) fprintf(f, "  oversubscribed (%d %s > %d usable CPUs)", w, unit, cpus);
        else if (p->smt_shared) fprintf(f, "  SMT siblings shared (%d %s > %d cores)", w, unit, p->cores);
        if (p->reps_noisy) fprintf(f, "  noisy (%d rep%s)", p->reps_noisy, p->reps_noisy > 1 ? "s" : "");
        fputc('\n', f);
    }
    int mw = vw > 19 ? vw : 19;
    fprintf(f, "\n%-*s %14s %14s %14s\n", mw, "per-thread memory", "analytic_B", "measured_B", "difference_B");
    for (int v = 0; v < nv; v++) {
        char name[STATS_NAME_MAX + 24];
        if (m[v].ranks > 1) snprintf(name, sizeof name, "%s %d ranks", m[v].variant, m[v].ranks);
        else snprintf(name, sizeof name, "%s", m[v].variant);
        fprintf(f, "%-*s", mw, name);
        put_cell(f, m[v].analytic, 14, "%.0f");
        put_cell(f, m[v].measured, 14, "%.0f");
        put_cell(f, m[v].measured - m[v].analytic, 14, "%.0f");
        if (m[v].points < 2) fputs("  (measured needs 2+ thread counts)", f);
        fputc('\n', f);
    }
    if (mranks)
        fprintf(f, "workers = ranks x threads; speedup = %s over the 1-worker (1 rank x 1 thread) point of "
                "the same variant,\nthe median of the pairwise ratios of their reps (Hodges-Lehmann);\nmemory per thread: the fit over threads at each rank count, of the largest "
                "process's RSS (one rank);\nserial = Karp-Flatt fraction over workers;\n", metric->unit);
    else
        fprintf(f, "speedup = %s over the 1-thread point of the same variant, the median of the pairwise "
                "ratios of their reps (Hodges-Lehmann); "
                "serial = Karp-Flatt fraction;\n", metric->unit);
    fputs("GHz = cycles / task-clock (NA without hardware counters); "
          "outside = CPUs kept busy by other processes during a run (median)\n", f);
}
