/*
 * fuzz_cli.c - train_model's flag parser (cli_parse) and what main() does
 * with its result before any data is read: the preset, the overrides,
 * config_validate, the memory table. Arguments are the input split at NUL
 * bytes; "-" bytes and flag names come from the dictionary (cli.dict).
 *
 * Checked: cli_parse returns 0 or -1, and -1 comes with a message; parsed
 * values are inside the ranges --help states; a config that validates has
 * a memory table or an overflow message, never a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "fuzz_util.h"
#include "report.h"
#include "trainer.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w"))) abort();
    /* argv: the input cut at NUL bytes, each argument its own allocation */
    char *argv[MAX_ARGS + 2];
    int argc = fuzz_argv(d, n, "train_model", argv, MAX_ARGS);

    cli_opts o;
    char err[1024];
    err[0] = 0;
    int rc = cli_parse(&o, argc, argv, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1, "cli_parse returned %d", rc);
    if (rc != 0) {
        FUZZ_CHECK(err[0] != 0, "usage error without a message");
        goto done;
    }
    FUZZ_CHECK(o.threads >= 1 && o.threads <= THREADS_MAX, "threads %d", o.threads);
    FUZZ_CHECK(o.steps == -1 || o.steps >= 1, "steps %ld", o.steps);
    FUZZ_CHECK(!(o.steps > 0 && o.epochs > 0), "--steps and --epochs both set");
    FUZZ_CHECK(o.eval_batches >= 0, "eval_batches %d", o.eval_batches);
    FUZZ_CHECK(o.opt.lr >= 0 && o.opt.wd >= 0 && o.opt.clip >= 0 && o.opt.warmup >= 0, "negative option");
    FUZZ_CHECK(o.opt.min_lr_frac >= 0 && o.opt.min_lr_frac <= 1, "min_lr_frac %g", o.opt.min_lr_frac);
    FUZZ_CHECK(!strcmp(o.tokname, "bytes") || !strcmp(o.tokname, "words"), "tokenizer %s", o.tokname);
    for (int k = 0; k < 7; k++) FUZZ_CHECK(o.over[k] == -1 || o.over[k] >= 1, "override %d: %d", k, o.over[k]);

    /* main(): preset, overrides, validation, memory table */
    config_t cfg;
    if (config_preset(&cfg, o.config_name) != 0) goto done;
    int *field[7] = { &cfg.V, &cfg.C, &cfg.L, &cfg.NH, &cfg.F, &cfg.T, &cfg.B };
    for (int k = 0; k < 7; k++) if (o.over[k] > 0) *field[k] = o.over[k];
    if (config_validate(&cfg, err, sizeof err) != 0) goto done;
    memtable_t mt;
    if (trainer_memtable(&cfg, o.threads, o.opt.strong, o.opt.recompute, &mt, err, sizeof err) == 0) {
        FUZZ_CHECK(mt.total >= mt.shared_total, "total below shared");
        report_memtable(devnull, &cfg, o.threads, o.opt.strong, o.opt.recompute, err, sizeof err);
    }
    config_flops(&cfg, (long)cfg.B * o.threads);
done:
    fuzz_argv_free(argv, argc);
    return 0;
}
