/*
 * fuzz_scale_opts.c - build/scale's option parser and its --resume reader of
 * meta.json, in bench/scale_opts.c (moved out of scale.c, which turns each
 * error into its exit code). mk/fuzz.mk builds this target when
 * bench/scale_opts.h exists; it declares:
 *
 *   typedef struct { ... } scale_opts;              (moved from scale.c)
 *   // 0 ok, 1 --help asked, -1 usage error with err: scale exits 2
 *   int scale_opts_parse(scale_opts *o, int argc, char **argv, char *err, size_t errlen);
 *   // 0, or -1 usage error with err (what opts_validate dies with)
 *   int scale_opts_validate(scale_opts *o, char *err, size_t errlen);
 *   // options from a parsed meta.json of folder dir: 0; -1 not a scale
 *   // meta.json or an option missing (exit 1); -2 a given option differs
 *   // from the stored one (exit 2). Validates like scale_opts_validate.
 *   int scale_opts_resume(scale_opts *o, const json *meta, const char *dir,
 *                         char *err, size_t errlen);
 *   void scale_opts_free(scale_opts *o);             // tolerates a zeroed o
 *
 * Input: argv cut at NUL bytes, up to a "\n---\n" line; after it, meta.json.
 * Checked: return codes in range and a message with every error; accepted
 * options are inside the ranges --help states; nothing leaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "json.h"
#include "scale_opts.h"

#define MAX_ARGS 64

static void check_opts(const scale_opts *o) {
    FUZZ_CHECK(o->nt >= 1, "no thread counts");
    for (int i = 0; i < o->nt; i++) {
        FUZZ_CHECK(o->threads[i] >= 1 && o->threads[i] <= 1024, "threads %d", o->threads[i]);
        for (int j = 0; j < i; j++) FUZZ_CHECK(o->threads[i] != o->threads[j], "thread count twice");
    }
    FUZZ_CHECK(o->nv >= 1 && o->nv <= MAX_VARIANTS, "variants %d", o->nv);
    FUZZ_CHECK(o->reps >= 1 && o->reps <= 1000, "reps %d", o->reps);
    FUZZ_CHECK(o->steps >= 1, "steps %d", o->steps);
    FUZZ_CHECK(o->timeout > 0 && o->timeout < 1e308, "timeout %g", o->timeout);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    size_t split = n;
    for (size_t i = 0; i + 5 <= n; i++)
        if (memcmp(d + i, "\n---\n", 5) == 0) { split = i; break; }
    char *argv[MAX_ARGS + 2];
    int argc = fuzz_argv(d, split, "scale", argv, MAX_ARGS);

    scale_opts o;
    memset(&o, 0, sizeof o);
    /* what build/scale reads from train_model --describe (bench/facts.h) */
    o.facts = (facts){ .known = 1, .threads_max = 1024, .ranks_max = 1024, .workers_max = 1024, .nconfigs = 2,
                       .configs = { "tiny", "seed" } };
    char err[1024];
    err[0] = 0;
    int rc = scale_opts_parse(&o, argc, argv, err, sizeof err);
    FUZZ_CHECK(rc >= -1 && rc <= 1, "scale_opts_parse returned %d", rc);
    if (rc < 0) FUZZ_CHECK(err[0], "usage error without a message");
    if (rc == 0) {
        err[0] = 0;
        if (split < n) {
            json *meta = json_parse((const char *)d + split + 5, n - split - 5, err, sizeof err);
            if (meta) {
                err[0] = 0;
                rc = scale_opts_resume(&o, meta, "results/x", err, sizeof err);
                FUZZ_CHECK(rc >= -2 && rc <= 0, "scale_opts_resume returned %d", rc);
                if (rc < 0) FUZZ_CHECK(err[0], "resume error without a message");
                else check_opts(&o);
                json_free(meta);
            }
        } else {
            rc = scale_opts_validate(&o, err, sizeof err);
            FUZZ_CHECK(rc == 0 || (rc == -1 && err[0]), "validate returned %d ('%s')", rc, err);
            if (rc == 0) check_opts(&o);
        }
    }
    scale_opts_free(&o);
    fuzz_argv_free(argv, argc);
    return 0;
}
