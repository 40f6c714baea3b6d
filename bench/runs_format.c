/*
 * runs_format.c - the runs.jsonl record (stats.h, bench/RESULTS.md): the
 * one place its schema is written (stats_write_record) and read back
 * (stats_run_from_json, stats_read_runs).
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
        jw_put_str(f, v->name);
        fprintf(f, ":{\"value\":%s", val);
        if (sup && v->group) {
            fprintf(f, ",\"group\":%d,\"group_leader\":", v->group);
            jw_put_str(f, v->leader);
        }
        if (sup) {
            fprintf(f, ",\"raw\":%llu,\"time_enabled_ns\":%llu,\"time_running_ns\":%llu,"
                    "\"running_frac\":", (unsigned long long)v->raw,
                    (unsigned long long)v->time_enabled, (unsigned long long)v->time_running);
            jw_put_num(f, v->running_frac);
            jw_kv_bool(f, "user_only", v->user_only);
            jw_kv_str(f, "opened", v->opened);
        } else {
            if (v->group) fprintf(f, ",\"group\":%d", v->group);   /* listed in a group, did not open */
            fputs(",\"reason\":", f);
            jw_put_str(f, v->reason);
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
    jw_kv_bool(f, "oversubscribed", over);
    jw_kv_bool(f, "smt_shared", !over && h->cores > 0 && workers > h->cores);
    jw_kv_num(f, "affinity_cpus", r->cpus);
    jw_kv_num(f, "usable_cpus", usable);
    jw_kv_num(f, "cores", h->cores > 0 ? h->cores : NAN);
    jw_kv_str(f, "pin", h->pin);
    const noise_run *n = h->noise;
    jw_kv_num(f, "outside_busy_s", n ? n->outside_busy_s : NAN);
    jw_kv_num(f, "outside_cpus", n ? n->outside_cpus : NAN);
    jw_kv_num(f, "outside_share", n ? n->outside_share : NAN);
    jw_kv_num(f, "steal_cpus", n ? n->steal_cpus : NAN);
    jw_kv_num(f, "outside_resolution_s", n ? n->resolution_s : NAN);
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
    jw_kv_num(f, "nominal_mhz", h->nominal_mhz);
    jw_kv_num(f, "eff_ghz", e[0]);
    jw_kv_num(f, "cycles_per_ref_cycle", e[1]);
    jw_kv_num(f, "eff_ghz_ref", e[2]);
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
    jw_put_str(f, r->variant);
    int ranks = r->ranks > 1 ? r->ranks : 1;
    fprintf(f, ",\"threads\":%d,\"ranks\":%d,\"workers\":%d,\"rep\":%d,\"point\":%d", r->threads,
            ranks, ranks * r->threads, r->rep, r->point);
    jw_kv_str(f, "status", r->status);
    jw_kv_num(f, "exit_code", r->exit_code >= 0 ? r->exit_code : NAN);
    jw_kv_str(f, "signal", r->signal);
    jw_kv_str(f, "reason", r->reason);
    jw_kv_str(f, "start_time", r->start_time);
    put_exact(f, "wall_s", r->wall_s);   /* every digit: the metric is derived from it */
    jw_kv_num(f, "user_s", ru->ru_utime.tv_sec + ru->ru_utime.tv_usec * 1e-6);
    jw_kv_num(f, "sys_s", ru->ru_stime.tv_sec + ru->ru_stime.tv_usec * 1e-6);
    jw_kv_num(f, "peak_rss_kib", (double)ru->ru_maxrss);
    jw_kv_num(f, "voluntary_ctx_switches", (double)ru->ru_nvcsw);
    jw_kv_num(f, "involuntary_ctx_switches", (double)ru->ru_nivcsw);
    stats_write_host_fields(f, r);
    /* the derived figures, computed here once: the analysis reads them */
    put_exact(f, "metric", stats_metric_of(r->metric, r->report, r->wall_s, ranks * r->threads));
    put_exact(f, "timed_cpu_s", json_num(json_get(r->report, "timed_cpu_user_s"), NAN) +
                                json_num(json_get(r->report, "timed_cpu_sys_s"), NAN));
    fputs(",\"command\":[", f);
    for (int i = 0; r->argv[i]; i++) {
        if (i) fputc(',', f);
        jw_put_str(f, r->argv[i]);
    }
    fputc(']', f);
    if (r->env) {
        fputs(",\"env\":{", f);
        for (int i = 0; r->env[i]; i++) {
            size_t k = strcspn(r->env[i], "=");
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(k < 255 ? k : 255), r->env[i]);
            if (i) fputc(',', f);
            jw_put_str(f, name);
            fputc(':', f);
            jw_put_str(f, r->env[i][k] ? r->env[i] + k + 1 : "");
        }
        fputc('}', f);
    }
    fputs(",\"counters\":", f);
    put_counters(f, r->cnt);
    fputs(",\"report\":", f);
    json_write(f, r->report);
    jw_kv_str(f, "stderr_tail", r->stderr_tail);
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

