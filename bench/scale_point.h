/*
 * scale_point.h - the command of one point (variant, threads, ranks, rep) of
 * build/scale's sweep: train_model's command line for a --variants variant
 * (under mpirun for the mpi variant), the expanded template (template.h) for
 * a --command one; spawning it,
 * checking its report for the metric, the sweep's interleaved order, the
 * programs' check before the first run and --dry-run. Nothing here exits:
 * errors are codes and messages (scale.c turns them into exit codes).
 */
#ifndef CLLM_SCALE_POINT_H
#define CLLM_SCALE_POINT_H

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

#include "counters.h"
#include "json.h"
#include "scale_opts.h"
#include "stats.h"
#include "template.h"

#define POINT_MPIRUN_WORDS 48   /* --mpirun-args words at most */

typedef struct {
    char report[PATH_MAX + 64], bin[PATH_MAX], tb[16], kb[16], rb[16], nb[16], pe[32];
    char trace[PATH_MAX + 64], tw[40];   /* --trace FILE and its --trace-steps window; "" none */
    char *fixed[24 + 12 + POINT_MPIRUN_WORDS];   /* [mpirun ...] train_model's argv */
    char *words;               /* --mpirun-args, split in place (malloc'ed) */
    char **argv, **envv;       /* what runs; envv NULL for train_model (no "env" field) */
    int expanded;              /* argv and envv are template_expand's */
} point_cmd;

/* The mpi variant: its points run under mpirun, one per --ranks entry. */
int point_is_mpi(const scale_opts *o, int v);
/* the rank counts variant v runs at (1 but for mpi), the r-th of them, and
 * the points of the whole sweep */
int point_nranks(const scale_opts *o, int v);
int point_rank(const scale_opts *o, int v, int r);
int point_total(const scale_opts *o);
/* --reps-over: is this point (rep, threads index t, variant v, rank index
 * r) one the sweep leaves out (an oversubscribed point past --reps-over)? */
int point_skipped(const scale_opts *o, int rep, int t, int v, int r);
/* --steps-over: train_model's --steps for variant v at threads x ranks
 * (the --steps-over steps when that is oversubscribed; a --command
 * template's steps are its own: -1) */
int point_steps(const scale_opts *o, int v, int threads, int ranks);
/* the points the sweep runs: point_total less the skipped ones */
int point_expected(const scale_opts *o);

/* The command of variant v at (threads, ranks, rep); out is the run folder
 * ({out}, and where {report} lies). For the mpi variant: mpirun -np ranks,
 * T cores per rank (--map-by slot:PE=T --bind-to core, or hardware threads
 * when the workers pass the cores), past the usable CPUs --oversubscribe
 * --bind-to none; none of it when --mpirun-args maps or binds. Free with
 * point_command_free. */
void point_command(const scale_opts *o, const char *out, int v, int threads, int ranks, int rep, point_cmd *pc);
void point_command_free(point_cmd *pc);

/* Spawns the command with the counters attached (counters_spawn), its
 * environment settings added to this process's: the pid, or -1 with err. */
pid_t point_spawn(counters *cnt, const point_cmd *pc, int logfd, char *err, size_t errlen);

/* Whether a run that exited 0 gave the metric m: its report read into *rj
 * (NULL when there is none) and reason filled when not (left empty: ok). */
void point_check_report(const stats_metric *m, const template *t, const char *report, double wall,
                        int workers, json **rj, char *reason, size_t n);

/* The point-th run of the interleaved order: repetition r rotates the
 * thread list by r and runs the variants forwards (r even) or backwards
 * (r odd), ABBA; the mpi variant's rank counts, rotated by r too, follow one
 * another in its place. Gives its repetition, thread, variant and rank index. */
void point_order(const scale_opts *o, int point, int *rep, int *t, int *v, int *r);

/* Every variant's program exists. Returns 0; 1 with err when a train_model
 * binary is missing (as always); 2 when a template's program is not found or
 * not executable (a bad template: err names the variant). */
int point_check_programs(const scale_opts *o, const char *out, char *err, size_t errlen);

/* --dry-run: every point's command in the sweep's order, one JSON line each
 * ({point, variant, threads, ranks, rep, command, env, shell}) on f. */
void point_dry_run(FILE *f, const scale_opts *o, const char *out);

#endif
