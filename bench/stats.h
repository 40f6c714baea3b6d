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
#include "noise.h"

#define STATS_NAME_MAX 32   /* variant names (template.h's TEMPLATE_NAME_MAX) */
#define STATS_PHASES 8
#define STATS_PHASES_FIRST 6   /* the phases before comm: summary.csv's columns in place */
/* forward, backward, lock_wait, barrier_wait, reduce, optimizer, comm, comm_sum */
extern const char *const STATS_PHASE_NAMES[STATS_PHASES];

/* One run, as far as the statistics need it. */
typedef struct {
    char variant[STATS_NAME_MAX];
    int threads, rep;
    int ranks;                    /* MPI ranks (record "ranks"; 1 when absent; 0 reads as 1) */
    int ok;                       /* status "ok" (exited 0 with a readable report) */
    double wall_s, user_s, sys_s; /* spawn..wait4, rusage of the child */
    double peak_rss_kib;          /* ru_maxrss */
    double metric;                /* the sweep's metric (stats_metric_of), NAN when missing */
    double tokens;                /* from the child's report */
    double mem_per_thread;        /* report memory.per_thread_total, bytes */
    double phase_s[STATS_PHASES]; /* report phases.wall_s summed over threads */
    double task_clock_s;          /* counter task-clock */
    double ipc;                   /* instructions / cycles */
    double llc_per_token;         /* LLC load misses / report tokens */
    double outside_cpus;          /* record outside_cpus: load from other processes */
    int noisy;                    /* record noisy: 1 true, 0 false, -1 null */
    double eff_ghz, cycles_per_ref, eff_ghz_ref;   /* stats_eff_freq of the record's counters */
} stats_run;

/* One (variant, threads, ranks) point; medians are over the successful reps. */
typedef struct {
    char variant[STATS_NAME_MAX];
    int threads;                  /* per rank */
    int ranks, workers;           /* MPI ranks (1: one process), workers = ranks x threads */
    int oversubscribed;           /* workers > usable CPUs (affinity mask and cgroup quota) */
    int reps_ok, reps_failed;     /* failed counts timeouts too */
    double wall_median, wall_min, wall_max, wall_stddev, wall_cv;
    double tps_median, tps_min, tps_max;       /* the metric (tokens/s by default) */
    double tps_cv;                /* stddev / mean of the metric: the variability warning */
    double speedup, speedup_min, speedup_max;  /* over the 1-worker point: stats_speedup */
    double efficiency, cpu_util, karp_flatt;
    double user_median, sys_median, rss_median_kib;
    double mem_analytic;          /* bytes per thread, from the report */
    double phase_s[STATS_PHASES];
    double task_clock_s, ipc, llc_per_token;
    double eff_ghz, cycles_per_ref, eff_ghz_ref;   /* medians */
    /* set by stats_mark_points */
    int smt_shared;               /* cores < threads <= usable: workers share SMT siblings */
    int cores, usable;            /* what the point was judged against */
    int reps_noisy;               /* successful reps whose outside load exceeded noise_max */
    int reps_noise_undetermined;  /* successful reps too short (or unmeasured) to tell */
    double noise_max;             /* CPUs */
    double outside_cpus_median, outside_cpus_max;
} stats_point;

/* Per-thread memory of one variant (at one rank count), analytic against measured. */
typedef struct {
    char variant[STATS_NAME_MAX];
    int ranks;
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
/* Smallest / largest finite value of x (NAN when none). */
double stats_min(const double *x, int n);
double stats_max(const double *x, int n);
/* Least-squares line y = a + b x over the finite pairs; returns the number
 * of pairs used, and b = NAN unless at least two distinct x. */
int stats_linfit(const double *x, const double *y, int n, double *a, double *b);
/* The speedup cand / base of two samples of positive metrics (sizes m, n),
 * the one quantity the report, summary.csv and the analysis print: the
 * Hodges-Lehmann ratio, the median of the m*n pairwise ratios cand_j /
 * base_i (on log scale, as scripts/cllm_analysis/stats.py hl_ratio_ci,
 * whose Mann-Whitney interval always contains it), and the range of those
 * ratios [min cand / max base, max cand / min base], which contains it
 * too. NAN when a side is empty. */
void stats_speedup(const double *base, int m, const double *cand, int n, double *est, double *lo, double *hi);
/* Karp-Flatt serial fraction of speedup s on n threads (NAN for n <= 1). */
double stats_karp_flatt(double s, int n);

/* The metric the speedups use (build/scale's --metric, --work, --unit). */
typedef struct {
    const char *key;              /* a number of the report at this dotted path; NULL: work / wall */
    double work;                  /* --work N: units per thread (weak) or in total (strong) */
    int strong;                   /* --scaling strong */
    const char *unit;             /* the label of every table, e.g. "tokens/s" */
    int is_default;               /* the report's tokens_per_s as before --metric existed:
                                     summary.csv keeps its tokens_per_s_* columns */
} stats_metric;
/* tokens_per_s of the report, in tokens/s (a NULL metric means this one) */
extern const stats_metric STATS_METRIC_DEFAULT;

/* The metric of one run: the number at m->key in report, or m->work
 * (x workers under weak scaling: every thread of every rank, threads x
 * ranks, each did m->work) / wall_s. NAN when missing or not > 0. */
double stats_metric_of(const stats_metric *m, const json *report, double wall_s, int workers);
/* The metric of a runs.jsonl record: its "metric" field (written by
 * stats_write_record), or for a record older than that field the
 * stats_metric_of of its report (m NULL: the report's tokens_per_s). The one
 * place that falls back for old folders. */
double stats_record_metric(const json *rec, const stats_metric *m);

/* Where a run ran and what else ran meanwhile (bench/RESULTS.md, runs.jsonl). */
typedef struct {
    int usable_cpus, cores;       /* usable CPUs (affinity + quota), cores in the affinity mask */
    const noise_run *noise;       /* outside load over the run; NULL: not measured */
    int noisy;                    /* noise_verdict against --noise-max: 1, 0, -1 undetermined */
    double nominal_mhz;           /* the clock ref-cycles tick at (cpufreq base_frequency); NAN unknown */
    const char *pin;              /* --pin given to the child; NULL when none was */
} stats_host;

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
    char *const *env;             /* NAME=VALUE set for it (a template's prefix); NULL: none,
                                     and no "env" field (train_model's variants) */
    const counters *cnt;          /* events of the child */
    const json *report;           /* the child's report, NULL when none */
    const char *stderr_tail;      /* end of the child's output when not ok, else NULL */
    const stats_host *host;       /* NULL: usable = cpus, nothing else known */
    int ranks;                    /* MPI ranks of threads each (mpirun); 0 or 1: one process */
    const stats_metric *metric;   /* the sweep's metric, recorded as "metric" (NULL: the default) */
} stats_record;

/* The effective clock from counts of one run (NAN where one is missing):
 * out[0] = cycles / task-clock ns, GHz (perf stat's figure: the clock while
 * the threads ran); out[1] = cycles / ref-cycles (from one group, the same
 * windows); out[2] = out[1] x nominal_mhz / 1000, GHz. */
void stats_eff_freq(double cycles, double ref_cycles, double task_clock_ns, double nominal_mhz,
                    double out[3]);

/* Writes r as one runs.jsonl line, newline included. */
void stats_write_record(FILE *f, const stats_record *r);

/* Fill r from one runs.jsonl record, its metric by m (NULL: the default).
 * Returns 0, or -1 with err filled when a field the sweep needs (variant,
 * threads, rep, status) is missing. */
int stats_run_from_json(const json *rec, const stats_metric *m, stats_run *r, char *err, size_t errlen);

/* Reads a runs.jsonl file, calling add(ctx, record) for each line. A last
 * line cut short (no newline, or not JSON: the harness was killed mid-write)
 * is dropped with a warning on stderr and cut from the file, so the next
 * append starts on a clean line. Returns the number of records (0 when the
 * file does not exist), or -1 with err filled on a bad line before the last
 * or an I/O error. */
int stats_read_runs(const char *path, void (*add)(void *ctx, const json *rec), void *ctx,
                    char *err, size_t errlen);

/* Summaries of every (variant, threads) pair, variant-major: out has nv*nt
 * entries. cpus = usable CPUs: a point above them is oversubscribed. */
void stats_summarize(const stats_run *runs, int nruns, const char *const *variants,
                     int nv, const int *threads, int nt, int cpus, stats_point *out);
/* The same over the n points of pts whose variant, threads and ranks are
 * set (the rest is filled in); speedups are over the 1-worker point of the
 * same variant. */
void stats_summarize_points(const stats_run *runs, int nruns, stats_point *pts, int n, int cpus);
/* After stats_summarize (given the usable CPUs): marks the points sharing
 * SMT siblings (cores < threads <= usable) and fills the outside-load
 * figures of each point from its successful runs. */
void stats_mark_points(stats_point *pts, int n, const stats_run *runs, int nruns, int cores,
                       int usable, double noise_max);
/* Memory fit of the nt points of one variant at one rank count (pts points at them). */
void stats_memory_fit(const stats_point *pts, int nt, stats_memory *m);

/* Writers; return 0, or -1 when the stream reports an error. summary.csv
 * names the metric's columns tokens_per_s_* under the default metric, else
 * metric_* with a last column metric_unit. */
int stats_write_summary_csv(FILE *f, const stats_point *pts, int n, const stats_metric *m);
int stats_write_memory_csv(FILE *f, const stats_memory *m, int nv);
/* The same as a JSON array of objects (meta.json analysis.memory). */
void stats_write_memory_json(FILE *f, const stats_memory *m, int nv);
/* Warnings (wall cv > 5 %, failed reps, outside load over noise_max): one
 * line each on err, and the same texts as a comma-separated list of JSON
 * strings on json_list. */
void stats_warnings(const stats_point *pts, int n, const stats_metric *m, FILE *err, FILE *json_list);
void stats_print_table(FILE *f, const stats_point *pts, int n, const stats_memory *m,
                       int nv, int cpus, const stats_metric *metric);

#endif
