/*
 * report.h - what a training run tells the world: the JSON report of
 * core/REPORT.md, and the memory table printed by --memory-table.
 */
#ifndef CLLM_REPORT_H
#define CLLM_REPORT_H

#include <stdio.h>

#include "trainer.h"
#include "jsonw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *data;          /* path, or "synthetic" */
    const char *tokenizer;     /* "bytes" / "words" */
    const char *command;       /* the command line */
    const float *losses;       /* per step of this run */
    const double *step_ms;     /* per step of this run */
    long nsteps;
    long first_step;           /* absolute index of losses[0] */
    double wall_s;             /* training steps only */
    float val_loss;            /* read only when val_batches > 0 */
    int val_batches;           /* validation batches run; 0 = none: val_loss is null */
    int scaling_strong;
    double timed_cpu_user_s;   /* process CPU time over the timed steps (after warm-up) */
    double timed_cpu_sys_s;
    int recompute;             /* RECOMPUTE_NONE / RECOMPUTE_LAYERS (model.h) */
    comm_t *comm;              /* the job's ranks (comm.h); NULL or no MPI: "mpi" is null */
    const char *pin;           /* --pin as given ("none" when not) */
    const char *pin_mode;      /* none / cores / scatter / list */
    int pin_wrapped;           /* cores/scatter had more workers than CPUs */
    const struct trace *trace; /* the run's timeline (trace.h): "stragglers"; NULL: null */
    const double *xstep_ms;    /* per step: this rank's exposed and hidden exchange ms
                                  (trainer.h's XCLK_*), 2 x nsteps; NULL: none */
} run_info;

/* Write atomically. -1 with err naming the file on failure. */
int report_write(const char *path, const trainer_t *t, const run_info *ri, char *err, size_t errlen);

/* The memory table for config c at nth threads, in both layouts (without
 * and with --recompute layers; `recompute` marks the run's). For the `seed`
 * config it also sets the original note's figures beside ours. Returns 0, or
 * -1 with err (overflow, impossible split). */
int report_memtable(FILE *f, const config_t *c, int nth, int strong, int recompute,
                    char *err, size_t errlen);
/* The same for rank 0 of nranks (nth threads each), with every rank's
 * sharded optimizer state and total. */
int report_memtable_ranks(FILE *f, const config_t *c, int nth, int strong, int recompute, int nranks,
                          char *err, size_t errlen);

/* The memory table as the report's "memory" object (core/REPORT.md), one
 * place for the report and train_model --describe. */
void report_json_memtable(jw *j, const memtable_t *m, int nth, int recompute);
/* The build as the report's "build" object (compiler, cflags, blas, git, variant). */
void report_json_build(jw *j);

#ifdef __cplusplus
}
#endif

#endif
