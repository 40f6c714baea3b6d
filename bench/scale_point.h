/*
 * scale_point.h - the command of one point (variant, threads, rep) of
 * build/scale's sweep: train_model's command line for a --variants variant,
 * the expanded template (template.h) for a --command one; spawning it,
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

typedef struct {
    char report[PATH_MAX + 64], bin[PATH_MAX], tb[16], kb[16], rb[16];
    char *fixed[24];           /* train_model's argv */
    char **argv, **envv;       /* what runs; envv NULL for train_model (no "env" field) */
    int expanded;              /* argv and envv are template_expand's */
} point_cmd;

/* The command of variant v at (threads, rep); out is the run folder ({out},
 * and where {report} lies). Free with point_command_free. */
void point_command(const scale_opts *o, const char *out, int v, int threads, int rep, point_cmd *pc);
void point_command_free(point_cmd *pc);

/* Spawns the command with the counters attached (counters_spawn), its
 * environment settings added to this process's: the pid, or -1 with err. */
pid_t point_spawn(counters *cnt, const point_cmd *pc, int logfd, char *err, size_t errlen);

/* Whether a run that exited 0 gave the metric m: its report read into *rj
 * (NULL when there is none) and reason filled when not (left empty: ok). */
void point_check_report(const stats_metric *m, const template *t, const char *report, double wall,
                        int threads, json **rj, char *reason, size_t n);

/* The point-th run of the interleaved order: repetition r rotates the
 * thread list by r and runs the variants forwards (r even) or backwards
 * (r odd), ABBA. Gives its repetition, thread index and variant index. */
void point_order(const scale_opts *o, int point, int *rep, int *t, int *v);

/* Every variant's program exists. Returns 0; 1 with err when a train_model
 * binary is missing (as always); 2 when a template's program is not found or
 * not executable (a bad template: err names the variant). */
int point_check_programs(const scale_opts *o, const char *out, char *err, size_t errlen);

/* --dry-run: every point's command in the sweep's order, one JSON line each
 * ({point, variant, threads, rep, command, env, shell}) on f. */
void point_dry_run(FILE *f, const scale_opts *o, const char *out);

#endif
