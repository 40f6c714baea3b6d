/*
 * scale_opts.h - build/scale's options: the command-line parser, the checks
 * that turn option text into the sweep (thread list, variants, repetitions,
 * steps, timeout), and the --resume reader that takes the options stored in
 * a run folder's meta.json. Nothing here prints or exits: every error comes
 * back as a return code with its message in err (without the "scale: "
 * prefix), and scale.c turns it into the exit code.
 */
#ifndef CLLM_SCALE_OPTS_H
#define CLLM_SCALE_OPTS_H

#include <stddef.h>

#include "facts.h"
#include "json.h"
#include "template.h"

#define MAX_ENTRIES 4096     /* thread list entries */
#define NVARIANTS 3          /* train_model's: lockfree, locked, mpi */
#define MAX_COMMANDS 16      /* --command NAME=TEMPLATE */
#define MAX_VARIANTS (NVARIANTS + MAX_COMMANDS)

/* Options; the first OPT_COMPARED ones define the sweep and must match on
 * --resume (so do the --command templates, kept apart in cmd_raw). */
enum { OPT_THREADS, OPT_VARIANTS, OPT_REPS, OPT_CONFIG, OPT_STEPS, OPT_SCALING, OPT_DATA,
       OPT_EVENTS, OPT_PIN, OPT_METRIC, OPT_WORK, OPT_UNIT, OPT_RANKS, OPT_BATCH, OPT_OVERLAP, OPT_COMPARED,
       OPT_TIMEOUT = OPT_COMPARED, OPT_NOISE_MAX, OPT_MPIRUN_ARGS, OPT_BIN_DIR, OPT_OUT, OPT_RESUME,
       OPT_EXPORT_HYPERFINE, NOPTS };

/* Option names without "--", also the keys of meta.json's "options". */
extern const char *const OPT_NAMES[NOPTS];

typedef struct {
    char *raw[NOPTS];          /* option text (malloc'ed), NULL = not set */
    int given[NOPTS];          /* set on the command line */
    int threads[MAX_ENTRIES], nt;
    int ranks[MAX_ENTRIES], nr;  /* --ranks (the mpi variant's); {1} when not given */
    /* the variants of the sweep: the --variants ones (train_model's command
     * line, tmpl NULL) first, then one per --command in the order given */
    const char *variants[MAX_VARIANTS];
    const template *tmpl[MAX_VARIANTS];
    int nv, nbuiltin, reps, steps;
    char *cmd_raw[MAX_COMMANDS];   /* --command text NAME=TEMPLATE (malloc'ed) */
    int ncmd, cmd_given;
    template cmds[MAX_COMMANDS];   /* parsed by scale_opts_validate */
    int dry_run;                   /* --dry-run: print every point's command, run nothing */
    int default_out;               /* --default-out: print the default run folder's name, run nothing */
    int quiet;                     /* --quiet: no progress lines */
    int reps_over;                 /* --reps-over N: reps of oversubscribed points; -1: --reps */
    int steps_over;                /* --steps-over N: train_model's --steps at oversubscribed points
                                      (min with --steps); -1: --steps */
    int trace;                     /* --trace [POINTS]: keep rep 0's train_model --trace */
    const char *trace_points;      /* its thread counts (comma list); NULL: the default points */
    const char *machine;           /* --machine PATH: plan on that snapshot or XML only (scale.c) */
    int cores, usable_cpus;        /* the machine the mpi variant's mapping is for (scale.c sets them) */
    facts facts;                   /* train_model's configs and limits (scale.c reads them from
                                      train_model --describe); unknown: those checks are skipped */
    double timeout;
    double noise_max;          /* --noise-max: outside load (CPUs) above which a run is noisy */
    /* the metric the speedups use: the report's number at metric_key (a
     * dotted path), or work / wall time when work is finite (--work) */
    const char *metric_key;    /* "tokens_per_s" unless --metric / --work */
    double work;               /* --work N, NAN when not given */
    const char *unit;          /* --unit, else the default of the metric */
    int metric_default;        /* none of --metric, --work, --unit, --command: today's sweep */
} scale_opts;

/* The default text of option k (NULL: none), the one owner of each default. */
const char *scale_opts_default(int k);

/* Reads argv[1..argc-1] into o->raw / o->given (o zeroed or freed before)
 * and fills in the defaults. Returns 0, 1 when --help / -h was asked (the
 * caller prints usage), or -1 with a usage error in err (scale exits 2). */
int scale_opts_parse(scale_opts *o, int argc, char **argv, char *err, size_t errlen);

/* Converts the raw option text into threads, ranks, variants (parsing every
 * --command template), reps, steps, timeout, noise_max and the metric, and
 * checks --pin's form and that every template can give the metric. --ranks
 * without --variants sweeps the mpi variant; --ranks with variants that
 * leave out mpi is an error; --config, threads, ranks and ranks x threads
 * are checked against o->facts when known.
 * Returns 0, or -1 with a usage error in err (scale exits 2). */
int scale_opts_validate(scale_opts *o, char *err, size_t errlen);

/* Takes the options of the run folder dir from its parsed meta.json: options
 * given on the command line must equal the stored ones (--command: the same
 * names and templates in the same order), the others are taken from it;
 * then validates like scale_opts_validate. Returns 0; -1 when meta
 * is not a scale meta.json or lacks an option (scale exits 1); -2 when a given
 * option differs from the stored one or a value is invalid (scale exits 2). */
int scale_opts_resume(scale_opts *o, const json *meta, const char *dir, char *err, size_t errlen);

/* --steps-over in effect: the steps of the oversubscribed train_model
 * points when fewer than --steps (and some variant is train_model's), else
 * -1 (meta.json steps_oversubscribed null). */
int scale_opts_steps_over(const scale_opts *o);

/* Frees the option text; tolerates a zeroed o (and NULL). */
void scale_opts_free(scale_opts *o);

#endif
