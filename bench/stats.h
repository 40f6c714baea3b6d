/*
 * stats.h - statistics of a scaling sweep: the runs.jsonl record (written
 * from a finished run, read back into stats_run), per-point summaries
 * (variant x threads), the per-thread memory fit, and the summary.csv /
 * memory.csv / table writers. Missing values are NAN everywhere and are
 * written as NA (CSV) or null (JSON), never 0.
 */
#ifndef CLLM_STATS_H
#define CLLM_STATS_H

#include <stdio.h>

#include <sys/resource.h>

#include "counters.h"
#include "json.h"

#define STATS_PHASES 6
/* forward, backward, lock_wait, barrier_wait, reduce, optimizer */
extern const char *const STATS_PHASE_NAMES[STATS_PHASES];

/* One run, as far as the statistics need it. */
typedef struct {
    char variant[16];
    int threads, rep;
    int ok;                       /* status "ok" (exited 0 with a readable report) */
    double wall_s, user_s, sys_s; /* spawn..wait4, rusage of the child */
    double peak_rss_kib;          /* ru_maxrss */
    double tokens_per_s, tokens;  /* from the child's report */
    double mem_per_thread;        /* report memory.per_thread_total, bytes */
    double phase_s[STATS_PHASES]; /* report phases.wall_s summed over threads */
    double task_clock_s;          /* counter task-clock */
    double ipc;                   /* instructions / cycles */
    double llc_per_token;         /* LLC load misses / report tokens */
} stats_run;

/* One (variant, threads) point; medians are over the successful reps. */
typedef struct {
    char variant[16];
    int threads;
    int oversubscribed;           /* threads > CPUs in the affinity mask */
    int reps_ok, reps_failed;     /* failed counts timeouts too */
    double wall_median, wall_min, wall_max, wall_stddev, wall_cv;
    double tps_median, tps_min, tps_max;
    double tps_cv;                /* stddev / mean of tokens/s: the variability warning */
    double speedup, speedup_min, speedup_max;  /* tokens/s over the 1-thread median */
    double efficiency, cpu_util, karp_flatt;
    double user_median, sys_median, rss_median_kib;
    double mem_analytic;          /* bytes per thread, from the report */
    double phase_s[STATS_PHASES];
    double task_clock_s, ipc, llc_per_token;
} stats_point;

/* Per-thread memory of one variant, analytic against measured. */
typedef struct {
    char variant[16];
    double analytic;              /* median of report memory.per_thread_total */
    double measured;              /* least-squares slope of peak RSS (bytes) over threads */
    double intercept;             /* of the same fit, bytes */
    int points;                   /* thread counts in the fit (>= 2, else measured = NAN) */
} stats_memory;

/* Median / mean / sample stddev of the finite values of x (NAN when none;
 * stddev needs two). stats_median reorders x. */
double stats_median(double *x, int n);
double stats_mean(const double *x, int n);
double stats_stddev(const double *x, int n);
/* Least-squares line y = a + b x over the finite pairs; returns the number
 * of pairs used, and b = NAN unless at least two distinct x. */
int stats_linfit(const double *x, const double *y, int n, double *a, double *b);
/* Karp-Flatt serial fraction of speedup s on n threads (NAN for n <= 1). */
double stats_karp_flatt(double s, int n);

/* A finished run, as runs.jsonl records it. */
typedef struct {
    const char *variant;
    int threads, rep, point;      /* point: index in the sweep's order */
    const char *status;           /* ok | failed | timeout */
    int exit_code;                /* -1: none (signal, timeout, spawn failure) */
    const char *signal;           /* "SIGSEGV"..., NULL */
    const char *reason;           /* why not ok, NULL when ok */
    const char *start_time;       /* UTC, ISO 8601 */
    double wall_s;                /* CLOCK_MONOTONIC around spawn..wait4 */
    const struct rusage *ru;      /* from wait4 */
    int cpus;                     /* CPUs in the harness's affinity mask */
    char *const *argv;            /* the child's command, NULL-terminated */
    const counters *cnt;          /* events of the child */
    const json *report;           /* the child's report, NULL when none */
    const char *stderr_tail;      /* end of the child's output when not ok, else NULL */
} stats_record;

/* Writes r as one runs.jsonl line, newline included. */
void stats_write_record(FILE *f, const stats_record *r);

/* Fill r from one runs.jsonl record. Returns 0, or -1 with err filled when a
 * field the sweep needs (variant, threads, rep, status) is missing. */
int stats_run_from_json(const json *rec, stats_run *r, char *err, size_t errlen);

/* Reads a runs.jsonl file, calling add(ctx, record) for each line. A last
 * line cut short (no newline, or not JSON: the harness was killed mid-write)
 * is dropped with a warning on stderr and cut from the file, so the next
 * append starts on a clean line. Returns the number of records (0 when the
 * file does not exist), or -1 with err filled on a bad line before the last
 * or an I/O error. */
int stats_read_runs(const char *path, void (*add)(void *ctx, const json *rec), void *ctx,
                    char *err, size_t errlen);

/* Summaries of every (variant, threads) pair, variant-major: out has nv*nt
 * entries. cpus = CPUs in the affinity mask. */
void stats_summarize(const stats_run *runs, int nruns, const char *const *variants,
                     int nv, const int *threads, int nt, int cpus, stats_point *out);
/* Memory fit of the nt points of one variant (pts points at them). */
void stats_memory_fit(const stats_point *pts, int nt, stats_memory *m);

/* Writers; return 0, or -1 when the stream reports an error. */
int stats_write_summary_csv(FILE *f, const stats_point *pts, int n);
int stats_write_memory_csv(FILE *f, const stats_memory *m, int nv);
/* The same as a JSON array of objects (meta.json analysis.memory). */
void stats_write_memory_json(FILE *f, const stats_memory *m, int nv);
/* Warnings (wall cv > 5 %, failed reps): one line each on err, and the same
 * texts as a comma-separated list of JSON strings on json_list. */
void stats_warnings(const stats_point *pts, int n, FILE *err, FILE *json_list);
void stats_print_table(FILE *f, const stats_point *pts, int n, const stats_memory *m,
                       int nv, int cpus);

#endif
