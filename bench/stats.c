/*
 * stats.c - the statistics side of a scaling sweep (see stats.h): the
 * runs.jsonl record format both ways (write one, read the file back), the
 * summary of each (variant, threads) point, the per-thread memory fit, and
 * the summary.csv / memory.csv / table writers.
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

// ----------------------------------------------------------------------------
// the metric

const stats_metric STATS_METRIC_DEFAULT = { "tokens_per_s", NAN, 0, "tokens/s", 1 };

double stats_metric_of(const stats_metric *m, const json *report, double wall_s, int threads) {
    if (!m) m = &STATS_METRIC_DEFAULT;
    double v = m->key ? json_num(json_path(report, m->key), NAN)
                      : wall_s > 0 ? m->work * (m->strong ? 1 : threads) / wall_s : NAN;
    return v > 0 && isfinite(v) ? v : NAN;
}

double stats_record_metric(const json *rec, const stats_metric *m) {
    const json *v = json_get(rec, "metric");
    if (v) return json_num(v, NAN);
    /* a record written before it carried its metric: computed from its report */
    const json *report = json_get(rec, "report");
    return m ? stats_metric_of(m, report, json_num(json_get(rec, "wall_s"), NAN),
                               (int)json_num(json_get(rec, "threads"), 0))
             : json_num(json_get(report, "tokens_per_s"), NAN);
}

// ----------------------------------------------------------------------------
// run records

/* Sum of one phase over threads. wall_s is [phase][thread] per REPORT.md;
 * [thread][phase] is accepted too when only that reading fits the names. */
static void phases_from_report(const json *report, double out[STATS_PHASES]) {
    for (int p = 0; p < STATS_PHASES; p++) out[p] = NAN;
    const json *names = json_path(report, "phases.names");
    const json *wall = json_path(report, "phases.wall_s");
    if (!names || names->type != JSON_ARR || !wall || wall->type != JSON_ARR) return;
    int by_phase = wall->len == names->len;
    for (int k = 0; k < names->len; k++) {
        const char *name = json_str(json_at(names, k), "");
        int p = 0;
        while (p < STATS_PHASES && strcmp(STATS_PHASE_NAMES[p], name) != 0) p++;
        if (p == STATS_PHASES) continue;
        double sum = 0;
        int any = 0;
        if (by_phase) {
            for (const json *t = json_at(wall, k)->child; t; t = t->next)
                if (t->type == JSON_NUM && isfinite(t->num)) { sum += t->num; any = 1; }
        } else {
            for (const json *row = wall->child; row; row = row->next) {
                double v = json_num(json_at(row, k), NAN);
                if (isfinite(v)) { sum += v; any = 1; }
            }
        }
        out[p] = any ? sum : NAN;
    }
}

/* 1 when name is one of the '|' alternatives of a listed event name
 * ("LLC-load-misses|cache-misses" lists "cache-misses"). */
static int lists_name(const char *list, const char *name) {
    size_t k = strlen(name);
    for (const char *s = list; s && *s;) {
        size_t w = strcspn(s, "|");
        if (w == k && strncmp(s, name, k) == 0) return 1;
        s += w + (s[w] == '|');
    }
    return 0;
}

/* The scaled value of a counter whose listed name contains one of the
 * alternatives; NAN when absent or unsupported (null). */
static double counter_value_of(const json *cnt, const char *const *names) {
    if (!cnt || cnt->type != JSON_OBJ) return NAN;
    for (const char *const *nm = names; *nm; nm++) {
        for (const json *c = cnt->child; c; c = c->next) {
            if (!lists_name(c->key, *nm)) continue;
            double v = json_num(json_get(c, "value"), NAN);
            if (isfinite(v)) return v;
        }
    }
    return NAN;
}

/* The same on the live counters of a finished run. */
static double counter_live(const counters *cnt, const char *name) {
    for (int i = 0; i < counters_count(cnt); i++) {
        const counter_value *v = counters_get(cnt, i);
        if (v->supported && lists_name(v->name, name)) return v->value;
    }
    return NAN;
}

void stats_eff_freq(double cycles, double ref_cycles, double task_clock_ns, double nominal_mhz,
                    double out[3]) {
    out[0] = cycles > 0 && task_clock_ns > 0 ? cycles / task_clock_ns : NAN;
    out[1] = cycles > 0 && ref_cycles > 0 ? cycles / ref_cycles : NAN;
    out[2] = nominal_mhz > 0 ? out[1] * nominal_mhz / 1000.0 : NAN;
}

static void put_counters(FILE *f, const counters *c) {
    fputc('{', f);
    for (int i = 0; i < counters_count(c); i++) {
        const counter_value *v = counters_get(c, i);
        char val[64];
        int sup = counters_format_value(v, "null", val, sizeof val);
        fputs(i ? "," : "", f);
        json_put_str(f, v->name);
        fprintf(f, ":{\"value\":%s", val);
        if (sup && v->group) {
            fprintf(f, ",\"group\":%d,\"group_leader\":", v->group);
            json_put_str(f, v->leader);
        }
        if (sup) {
            fprintf(f, ",\"raw\":%llu,\"time_enabled_ns\":%llu,\"time_running_ns\":%llu,"
                    "\"running_frac\":", (unsigned long long)v->raw,
                    (unsigned long long)v->time_enabled, (unsigned long long)v->time_running);
            json_put_num(f, v->running_frac);
            json_kv_bool(f, "user_only", v->user_only);
            json_kv_str(f, "opened", v->opened);
        } else {
            if (v->group) fprintf(f, ",\"group\":%d", v->group);   /* listed in a group, did not open */
            fputs(",\"reason\":", f);
            json_put_str(f, v->reason);
        }
        fputc('}', f);
    }
    fputc('}', f);
}

/* The record's placement, noise and clock fields (bench/RESULTS.md). */
static void stats_write_host_fields(FILE *f, const stats_record *r) {
    static const stats_host none = { 0, 0, NULL, -1, NAN, NULL };
    const stats_host *h = r->host ? r->host : &none;
    int usable = h->usable_cpus > 0 ? h->usable_cpus : r->cpus;
    int workers = r->threads * (r->ranks > 1 ? r->ranks : 1);
    int over = workers > usable;
    json_kv_bool(f, "oversubscribed", over);
    json_kv_bool(f, "smt_shared", !over && h->cores > 0 && workers > h->cores);
    json_kv_num(f, "affinity_cpus", r->cpus);
    json_kv_num(f, "usable_cpus", usable);
    json_kv_num(f, "cores", h->cores > 0 ? h->cores : NAN);
    json_kv_str(f, "pin", h->pin);
    const noise_run *n = h->noise;
    json_kv_num(f, "outside_busy_s", n ? n->outside_busy_s : NAN);
    json_kv_num(f, "outside_cpus", n ? n->outside_cpus : NAN);
    json_kv_num(f, "outside_share", n ? n->outside_share : NAN);
    json_kv_num(f, "steal_cpus", n ? n->steal_cpus : NAN);
    json_kv_num(f, "outside_resolution_s", n ? n->resolution_s : NAN);
    const double *ld[2] = { n ? n->load_start : NULL, n ? n->load_end : NULL };
    for (int k = 0; k < 2; k++) {
        fprintf(f, ",\"loadavg_%s\":", k ? "end" : "start");
        if (!ld[k] || !isfinite(ld[k][0])) { fputs("null", f); continue; }
        fprintf(f, "[%.2f,%.2f,%.2f]", ld[k][0], ld[k][1], ld[k][2]);
    }
    fprintf(f, ",\"noisy\":%s", h->noisy > 0 ? "true" : h->noisy == 0 ? "false" : "null");
    double e[3];
    stats_eff_freq(counter_live(r->cnt, "cycles"), counter_live(r->cnt, "ref-cycles"),
                   counter_live(r->cnt, "task-clock"), h->nominal_mhz, e);
    json_kv_num(f, "nominal_mhz", h->nominal_mhz);
    json_kv_num(f, "eff_ghz", e[0]);
    json_kv_num(f, "cycles_per_ref_cycle", e[1]);
    json_kv_num(f, "eff_ghz_ref", e[2]);
}

/* ,"key":v with every digit (%.17g), so that reading it back gives the
 * same double; null when not finite */
static void put_exact(FILE *f, const char *key, double v) {
    fprintf(f, ",\"%s\":", key);
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fputs("null", f);
}

void stats_write_record(FILE *f, const stats_record *r) {
    const struct rusage *ru = r->ru;
    fputs("{\"variant\":", f);
    json_put_str(f, r->variant);
    int ranks = r->ranks > 1 ? r->ranks : 1;
    fprintf(f, ",\"threads\":%d,\"ranks\":%d,\"workers\":%d,\"rep\":%d,\"point\":%d", r->threads,
            ranks, ranks * r->threads, r->rep, r->point);
    json_kv_str(f, "status", r->status);
    json_kv_num(f, "exit_code", r->exit_code >= 0 ? r->exit_code : NAN);
    json_kv_str(f, "signal", r->signal);
    json_kv_str(f, "reason", r->reason);
    json_kv_str(f, "start_time", r->start_time);
    put_exact(f, "wall_s", r->wall_s);   /* every digit: the metric is derived from it */
    json_kv_num(f, "user_s", ru->ru_utime.tv_sec + ru->ru_utime.tv_usec * 1e-6);
    json_kv_num(f, "sys_s", ru->ru_stime.tv_sec + ru->ru_stime.tv_usec * 1e-6);
    json_kv_num(f, "peak_rss_kib", (double)ru->ru_maxrss);
    json_kv_num(f, "voluntary_ctx_switches", (double)ru->ru_nvcsw);
    json_kv_num(f, "involuntary_ctx_switches", (double)ru->ru_nivcsw);
    stats_write_host_fields(f, r);
    /* the derived figures, computed here once: the analysis reads them */
    put_exact(f, "metric", stats_metric_of(r->metric, r->report, r->wall_s, r->threads));
    put_exact(f, "timed_cpu_s", json_num(json_get(r->report, "timed_cpu_user_s"), NAN) +
                                json_num(json_get(r->report, "timed_cpu_sys_s"), NAN));
    fputs(",\"command\":[", f);
    for (int i = 0; r->argv[i]; i++) {
        if (i) fputc(',', f);
        json_put_str(f, r->argv[i]);
    }
    fputc(']', f);
    if (r->env) {
        fputs(",\"env\":{", f);
        for (int i = 0; r->env[i]; i++) {
            size_t k = strcspn(r->env[i], "=");
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(k < 255 ? k : 255), r->env[i]);
            if (i) fputc(',', f);
            json_put_str(f, name);
            fputc(':', f);
            json_put_str(f, r->env[i][k] ? r->env[i] + k + 1 : "");
        }
        fputc('}', f);
    }
    fputs(",\"counters\":", f);
    put_counters(f, r->cnt);
    fputs(",\"report\":", f);
    json_write(f, r->report);
    json_kv_str(f, "stderr_tail", r->stderr_tail);
    fputs("}\n", f);
}

int stats_run_from_json(const json *rec, const stats_metric *m, stats_run *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    const char *variant = json_str(json_get(rec, "variant"), NULL);
    const char *status = json_str(json_get(rec, "status"), NULL);
    double threads = json_num(json_get(rec, "threads"), NAN);
    double rep = json_num(json_get(rec, "rep"), NAN);
    if (!variant || !status || !isfinite(threads) || !isfinite(rep) ||
        strlen(variant) >= sizeof r->variant) {
        snprintf(err, errlen, "record without variant, threads, rep or status");
        return -1;
    }
    if (threads < 1 || threads > 4096 || rep < 0 || rep > 1e6) {
        snprintf(err, errlen, "record with threads %g or rep %g out of range", threads, rep);
        return -1;
    }
    double ranks = json_num(json_get(rec, "ranks"), 1);
    if (!(ranks >= 1 && ranks <= 4096)) {
        snprintf(err, errlen, "record with ranks %g out of range", ranks);
        return -1;
    }
    snprintf(r->variant, sizeof r->variant, "%s", variant);
    r->threads = (int)threads;
    r->ranks = (int)ranks;
    r->rep = (int)rep;
    r->ok = strcmp(status, "ok") == 0;
    r->wall_s = json_num(json_get(rec, "wall_s"), NAN);
    r->user_s = json_num(json_get(rec, "user_s"), NAN);
    r->sys_s = json_num(json_get(rec, "sys_s"), NAN);
    r->peak_rss_kib = json_num(json_get(rec, "peak_rss_kib"), NAN);
    const json *report = json_get(rec, "report");
    r->metric = stats_record_metric(rec, m);
    r->tokens = json_num(json_get(report, "tokens"), NAN);
    r->mem_per_thread = json_num(json_path(report, "memory.per_thread_total"), NAN);
    phases_from_report(report, r->phase_s);
    const json *cnt = json_get(rec, "counters");
    static const char *const task[] = { "task-clock", NULL };
    static const char *const cyc[] = { "cycles", NULL };
    static const char *const ins[] = { "instructions", NULL };
    static const char *const llc[] = { "LLC-load-misses", "LLC-misses", "cache-misses", NULL };
    r->task_clock_s = counter_value_of(cnt, task) / 1e9;
    double c = counter_value_of(cnt, cyc), i = counter_value_of(cnt, ins);
    r->ipc = c > 0 ? i / c : NAN;
    r->llc_per_token = r->tokens > 0 ? counter_value_of(cnt, llc) / r->tokens : NAN;
    static const char *const refc[] = { "ref-cycles", NULL };
    double e[3];
    stats_eff_freq(c, counter_value_of(cnt, refc), counter_value_of(cnt, task),
                   json_num(json_get(rec, "nominal_mhz"), NAN), e);
    r->eff_ghz = e[0];
    r->cycles_per_ref = e[1];
    r->eff_ghz_ref = e[2];
    r->outside_cpus = json_num(json_get(rec, "outside_cpus"), NAN);
    const json *noisy = json_get(rec, "noisy");
    r->noisy = noisy && noisy->type == JSON_BOOL ? (int)noisy->num : -1;
    return 0;
}

int stats_read_runs(const char *path, void (*add)(void *ctx, const json *rec), void *ctx,
                    char *err, size_t errlen) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return 0;
    struct stat st;
    char *buf = NULL;
    size_t n = 0, got = 0;
    if (fd >= 0 && fstat(fd, &st) == 0) buf = malloc((n = (size_t)st.st_size) + 1);
    while (buf && got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    if (!buf || got < n) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        free(buf);
        if (fd >= 0) close(fd);
        return -1;
    }
    int count = 0, rc = 0;
    size_t start = 0;
    for (int line = 1; start < n; line++) {
        char *nl = memchr(buf + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - buf) : n;
        char perr[200] = "no newline";
        json *rec = end > start && nl ? json_parse(buf + start, end - start, perr, sizeof perr) : NULL;
        if (!rec && end > start) {
            if (end + 1 < n) {
                snprintf(err, errlen, "%s line %d is not valid JSON: %s", path, line, perr);
                rc = -1;
            } else {
                fprintf(stderr, "scale: warning: %s: ignoring a truncated last line %d (%s)\n", path, line, perr);
                if (ftruncate(fd, (off_t)start) != 0) {
                    snprintf(err, errlen, "cannot truncate %s: %s", path, strerror(errno));
                    rc = -1;
                }
            }
            break;
        }
        if (rec) { add(ctx, rec); count++; }
        json_free(rec);
        start = end + 1;
    }
    free(buf);
    close(fd);
    return rc < 0 ? rc : count;
}

// ----------------------------------------------------------------------------
// points

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
    /* speedups need the 1-worker median of the same variant */
    for (int j = 0; j < n; j++) {
        stats_point *p = &pts[j];
        double base = NAN;
        for (int i = 0; i < n; i++)
            if (pts[i].workers == 1 && strcmp(pts[i].variant, p->variant) == 0) base = pts[i].tps_median;
        int good = base > 0;
        p->speedup = good ? p->tps_median / base : NAN;
        p->speedup_min = good ? p->tps_min / base : NAN;
        p->speedup_max = good ? p->tps_max / base : NAN;
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
        json_put_str(json_list, msg);
        first = 0;
    }
}

void stats_write_memory_json(FILE *f, const stats_memory *m, int nv) {
    fputc('[', f);
    for (int v = 0; v < nv; v++) {
        fputs(v ? ",{\"variant\":" : "{\"variant\":", f);
        json_put_str(f, m[v].variant);
        json_kv_num(f, "analytic_bytes_per_thread", m[v].analytic);
        json_kv_num(f, "measured_bytes_per_thread", m[v].measured);
        json_kv_num(f, "difference_bytes", m[v].measured - m[v].analytic);
        json_kv_num(f, "measured_intercept_bytes", m[v].intercept);
        json_kv_num(f, "fit_points", m[v].points);
        json_kv_num(f, "ranks", m[v].ranks > 1 ? m[v].ranks : 1);
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
        fprintf(f, "workers = ranks x threads; speedup = %s over the 1-worker (1 rank x 1 thread) median of "
                "the same variant;\nmemory per thread: the fit over threads at each rank count, of the largest "
                "process's RSS (one rank);\nserial = Karp-Flatt fraction over workers;\n", metric->unit);
    else
        fprintf(f, "speedup = %s over the 1-thread median of the same variant; "
                "serial = Karp-Flatt fraction;\n", metric->unit);
    fputs("GHz = cycles / task-clock (NA without hardware counters); "
          "outside = CPUs kept busy by other processes during a run (median)\n", f);
}
