/*
 * export.c - runs.csv and hyperfine's JSON from runs.jsonl (export.h).
 * Numbers are copied with the text runs.jsonl holds (no digit changes) into
 * runs.csv; hyperfine's statistics are computed here, over the wall times
 * of every recorded run of a point, as hyperfine --ignore-failure computes
 * them over its runs.
 */
#include "export.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

// ----------------------------------------------------------------------------
// shared: a record's command line

/* The record's env object and command array as a shell line (malloc'ed). */
static char *record_command_line(const json *rec) {
    const json *cmd = json_get(rec, "command"), *env = json_get(rec, "env");
    int na = cmd && cmd->type == JSON_ARR ? cmd->len : 0, ne = env && env->type == JSON_OBJ ? env->len : 0;
    char **argv = calloc((size_t)na + 1, sizeof *argv), **envv = calloc((size_t)ne + 1, sizeof *envv);
    if (!argv || !envv) { fputs("scale: out of memory\n", stderr); exit(1); }
    int k = 0;
    for (const json *c = na ? cmd->child : NULL; c; c = c->next) argv[k++] = (char *)json_str(c, "");
    k = 0;
    for (const json *c = ne ? env->child : NULL; c; c = c->next) {
        size_t n = strlen(c->key) + strlen(json_str(c, "")) + 2;
        envv[k] = malloc(n);
        if (!envv[k]) { fputs("scale: out of memory\n", stderr); exit(1); }
        snprintf(envv[k++], n, "%s=%s", c->key, json_str(c, ""));
    }
    char *line = NULL;
    size_t len;
    FILE *m = open_memstream(&line, &len);
    if (!m) { fputs("scale: out of memory\n", stderr); exit(1); }
    template_put_shell(m, envv, argv);
    fclose(m);
    for (int i = 0; i < ne; i++) free(envv[i]);
    free(envv);
    free(argv);
    return line;
}

// ----------------------------------------------------------------------------
// runs.csv

/* The record fields of runs.csv, in its column order, before the metric. */
static const char *const CSV_FIELDS[] = {
    "variant", "threads", "rep", "point", "status", "exit_code", "signal", "reason", "start_time",
    "wall_s", "user_s", "sys_s", "peak_rss_kib", "voluntary_ctx_switches", "involuntary_ctx_switches",
    "oversubscribed", "smt_shared", "affinity_cpus", "usable_cpus", "cores", "pin", "outside_busy_s",
    "outside_cpus", "outside_share", "steal_cpus", "outside_resolution_s", "noisy", "nominal_mhz",
    "eff_ghz", "cycles_per_ref_cycle", "eff_ghz_ref", "ranks", "workers",
};
#define NCSV_FIELDS (sizeof CSV_FIELDS / sizeof CSV_FIELDS[0])
static const char *const CSV_COUNTER_FIELDS[] = { "value", "raw", "time_enabled_ns", "time_running_ns", "running_frac" };
#define NCSV_COUNTER (sizeof CSV_COUNTER_FIELDS / sizeof CSV_COUNTER_FIELDS[0])

/* A CSV cell: quoted (RFC 4180) when it holds a comma, quote or line break. */
static void csv_str(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A JSON value as a cell: numbers as written, true/false as 1/0, null and
 * absent as NA, strings quoted where needed. */
static void csv_value(FILE *f, const json *j) {
    if (!j || j->type == JSON_NULL || (j->type == JSON_NUM && !j->str)) fputs("NA", f);
    else if (j->type == JSON_NUM) fputs(j->str, f);
    else if (j->type == JSON_BOOL) fputs(j->num ? "1" : "0", f);
    else if (j->type == JSON_STR) csv_str(f, j->str);
    else fputs("NA", f);
}

/* An event name as a column name: counter_<name>, every character other
 * than a letter, digit or _ made _ ("LLC-load-misses|cache-misses" ->
 * counter_LLC_load_misses_cache_misses). */
static void csv_counter_name(FILE *f, const char *name, const char *field) {
    fputs("counter_", f);
    for (const char *c = name; *c; c++)
        fputc((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ? *c : '_', f);
    if (strcmp(field, "value") != 0) fprintf(f, "_%s", field);
}

typedef struct {
    FILE *f;
    const counters *cnt;
    const stats_metric *m;
} csv_ctx;

static void csv_row(void *ctx, const json *rec) {
    csv_ctx *c = ctx;
    for (size_t k = 0; k < NCSV_FIELDS; k++) {
        if (k) fputc(',', c->f);
        csv_value(c->f, json_get(rec, CSV_FIELDS[k]));
    }
    /* the metric of an ok run (as the summaries use it), NA otherwise */
    const char *status = json_str(json_get(rec, "status"), "");
    double v = !strcmp(status, "ok") ? stats_record_metric(rec, c->m) : NAN;
    fputc(',', c->f);
    if (isfinite(v)) fprintf(c->f, "%.17g", v); else fputs("NA", c->f);
    fputc(',', c->f);
    csv_str(c->f, c->m->unit);
    fputc(',', c->f);
    char *line = record_command_line(rec);
    csv_str(c->f, line);
    free(line);
    const json *cj = json_get(rec, "counters");
    for (int i = 0; i < counters_count(c->cnt); i++) {
        const json *e = json_get(cj, counters_get(c->cnt, i)->name);
        for (size_t k = 0; k < NCSV_COUNTER; k++) {
            fputc(',', c->f);
            csv_value(c->f, json_get(e, CSV_COUNTER_FIELDS[k]));
        }
    }
    fputc('\n', c->f);
}

int export_runs_csv(FILE *f, const char *runs_path, const counters *cnt, const stats_metric *m,
                    char *err, size_t errlen) {
    if (!m) m = &STATS_METRIC_DEFAULT;
    for (size_t k = 0; k < NCSV_FIELDS; k++) fprintf(f, "%s%s", k ? "," : "", CSV_FIELDS[k]);
    fputs(",metric,metric_unit,command", f);
    for (int i = 0; i < counters_count(cnt); i++)
        for (size_t k = 0; k < NCSV_COUNTER; k++) {
            fputc(',', f);
            csv_counter_name(f, counters_get(cnt, i)->name, CSV_COUNTER_FIELDS[k]);
        }
    fputc('\n', f);
    csv_ctx c = { f, cnt, m };
    if (stats_read_runs(runs_path, csv_row, &c, err, errlen) < 0) return -1;
    if (ferror(f)) { snprintf(err, errlen, "write error"); return -1; }
    return 0;
}

// ----------------------------------------------------------------------------
// hyperfine

typedef struct {
    char variant[STATS_NAME_MAX];
    int threads, ranks;
    double wall, user, sys;
    double exit_code;          /* NAN: none (a signal ended it, or it never started) */
    char *command;             /* shell line of the run */
} hf_run;

typedef struct { hf_run *r; int n, cap; } hf_list;

static void hf_add(void *ctx, const json *rec) {
    hf_list *l = ctx;
    const char *variant = json_str(json_get(rec, "variant"), NULL);
    if (!variant || strlen(variant) >= STATS_NAME_MAX) return;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->r = realloc(l->r, sizeof *l->r * (size_t)l->cap);
        if (!l->r) { fputs("scale: out of memory\n", stderr); exit(1); }
    }
    hf_run *r = &l->r[l->n++];
    snprintf(r->variant, sizeof r->variant, "%s", variant);
    r->threads = (int)json_num(json_get(rec, "threads"), 0);
    r->ranks = (int)json_num(json_get(rec, "ranks"), 1);
    if (r->ranks < 1) r->ranks = 1;
    r->wall = json_num(json_get(rec, "wall_s"), NAN);
    r->user = json_num(json_get(rec, "user_s"), NAN);
    r->sys = json_num(json_get(rec, "sys_s"), NAN);
    r->exit_code = json_num(json_get(rec, "exit_code"), NAN);
    r->command = record_command_line(rec);
}

/* A number with every digit a double holds (hyperfine writes them so), null when not finite. */
static void hf_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.17g", v); else fputs("null", f);
}

int export_hyperfine(FILE *f, const char *runs_path, const char *const *variants, int nv,
                     const int *threads, int nt, char *err, size_t errlen) {
    hf_list l = { 0 };
    if (stats_read_runs(runs_path, hf_add, &l, err, errlen) < 0) return -1;
    double *x = malloc(sizeof *x * (size_t)(l.n + 1));
    if (!x) { fputs("scale: out of memory\n", stderr); exit(1); }
    fputs("{\"results\":[", f);
    int first = 1;
    /* one result per (variant, threads) and, for the mpi variant, per rank
     * count, smallest first */
    for (int v = 0; v < nv; v++)
        for (int t = 0; t < nt; t++)
        for (int rk = 0;;) {
            int next = 0;
            for (int i = 0; i < l.n; i++)
                if (l.r[i].threads == threads[t] && !strcmp(l.r[i].variant, variants[v]) && l.r[i].ranks > rk &&
                    (!next || l.r[i].ranks < next))
                    next = l.r[i].ranks;
            if (!next) break;
            rk = next;
            int k = 0, cmd = -1;
            double us = 0, ss = 0;
            for (int i = 0; i < l.n; i++) {
                if (l.r[i].threads != threads[t] || l.r[i].ranks != rk || strcmp(l.r[i].variant, variants[v]) != 0)
                    continue;
                if (cmd < 0) cmd = i;
                x[k++] = l.r[i].wall;
                us += l.r[i].user;
                ss += l.r[i].sys;
            }
            if (!k) continue;
            fputs(first ? "\n{\"command\":" : ",\n{\"command\":", f);
            first = 0;
            jw_put_str(f, l.r[cmd].command);
            fputs(",\"mean\":", f); hf_num(f, stats_mean(x, k));
            fputs(",\"stddev\":", f); hf_num(f, stats_stddev(x, k));
            double lo = stats_min(x, k), hi = stats_max(x, k);
            fputs(",\"median\":", f);
            double *y = malloc(sizeof *y * (size_t)k);
            if (!y) { fputs("scale: out of memory\n", stderr); exit(1); }
            memcpy(y, x, sizeof *y * (size_t)k);
            hf_num(f, stats_median(y, k));
            free(y);
            fputs(",\"user\":", f); hf_num(f, us / k);
            fputs(",\"system\":", f); hf_num(f, ss / k);
            fputs(",\"min\":", f); hf_num(f, lo);
            fputs(",\"max\":", f); hf_num(f, hi);
            fputs(",\"times\":[", f);
            for (int i = 0; i < k; i++) { if (i) fputc(',', f); hf_num(f, x[i]); }
            fputs("],\"exit_codes\":[", f);
            int j = 0;
            for (int i = 0; i < l.n; i++) {
                if (l.r[i].threads != threads[t] || l.r[i].ranks != rk || strcmp(l.r[i].variant, variants[v]) != 0)
                    continue;
                if (j++) fputc(',', f);
                hf_num(f, l.r[i].exit_code);
            }
            fprintf(f, "],\"parameters\":{\"threads\":\"%d\",\"variant\":", threads[t]);
            jw_put_str(f, variants[v]);
            if (rk > 1) fprintf(f, ",\"ranks\":\"%d\"", rk);
            fputs("}}", f);
        }
    fputs("\n]}\n", f);
    for (int i = 0; i < l.n; i++) free(l.r[i].command);
    free(l.r);
    free(x);
    if (ferror(f)) { snprintf(err, errlen, "write error"); return -1; }
    return 0;
}
