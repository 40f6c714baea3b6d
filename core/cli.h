/*
 * cli.h - train_model's command-line parser, apart from main() so that tests
 * and fuzzers can drive it. It only parses and range-checks: files, configs
 * and checkpoints are checked by the caller.
 */
#ifndef CLLM_CLI_H
#define CLLM_CLI_H

#include <stddef.h>

#include "pin.h"
#include "trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* the training options a flag was given for (cli_opts.given): on --resume
 * these override the checkpoint's */
enum {
    CLI_LR = 1 << 0, CLI_MIN_LR_FRAC = 1 << 1, CLI_WARMUP = 1 << 2, CLI_LR_STEPS = 1 << 3,
    CLI_WD = 1 << 4, CLI_CLIP = 1 << 5, CLI_SEED = 1 << 6, CLI_SCALING = 1 << 7,
};

typedef struct {
    const char *data_path, *config_name, *save, *resume, *report, *tokname;
    const char *pin;             /* --pin as given (NULL: none) */
    pin_spec pin_spec;           /* --pin parsed (pin_parse; mode none when not given) */
    const char *machine;         /* --machine PATH (NULL: the live machine); only with pin_plan */
    int pin_plan;                /* --pin-plan: print the placement as JSON and exit */
    const char *phase_counters;  /* --phase-counters as given (NULL: off); parsed into opt.events */
    const char *trace;           /* --trace FILE (NULL: off) */
    long trace_a, trace_b;       /* --trace-steps A:B (1-based, inclusive); 0:0 = every step */
    int over[7];                 /* V C L NH F T B overrides, -1 = not given */
    int config_given, threads, quiet, memtable, eval_batches, help;
    int describe;                /* --describe: print this build's facts as JSON (describe.h) */
    int ranks;                   /* --ranks R with --describe; 0 = not given */
    long steps;                  /* -1 = not given */
    double epochs;               /* -1 = not given */
    long save_every;             /* --save-every N steps, 0 = off */
    double save_every_s;         /* --save-every-s S seconds, 0 = off */
    train_opts opt;
    unsigned given;              /* CLI_* bits */
} cli_opts;

/* Parse argv (strings are referenced, not copied). Returns 0, or -1 with err
 * naming the flag and the bad value (the caller exits 2). --help sets help. */
int cli_parse(cli_opts *o, int argc, char **argv, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
