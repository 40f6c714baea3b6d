/*
 * cli.c - train_model's flags (see cli.h and train_model --help).
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "pin.h"

static int parse_long(const char *flag, const char *s, long lo, long hi, long *out,
                      char *err, size_t errlen) {
    if (!s) { snprintf(err, errlen, "%s needs a value", flag); return -1; }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE) {
        snprintf(err, errlen, "%s: '%.64s' is not an integer", flag, s);
        return -1;
    }
    if (v < lo || v > hi) {
        snprintf(err, errlen, "%s: %ld is out of range %ld..%ld", flag, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_double(const char *flag, const char *s, double lo, double hi, double *out,
                        char *err, size_t errlen) {
    if (!s) { snprintf(err, errlen, "%s needs a value", flag); return -1; }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v)) {
        snprintf(err, errlen, "%s: '%.64s' is not a number", flag, s);
        return -1;
    }
    if (v < lo || v > hi) {
        snprintf(err, errlen, "%s: %g is out of range %g..%g", flag, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_choice(const char *flag, const char *v, const char *a, const char *b,
                        const char **out, char *err, size_t errlen) {
    if (!v || (strcmp(v, a) && strcmp(v, b))) {
        snprintf(err, errlen, "%s: '%.64s' is not %s or %s", flag, v ? v : "", a, b);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse(cli_opts *o, int argc, char **argv, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    o->config_name = CONFIG_DEFAULT;
    o->tokname = "bytes";
    for (int k = 0; k < 7; k++) o->over[k] = -1;
    o->threads = 1;
    o->ranks = 0;
    o->eval_batches = 2;
    o->steps = -1;
    o->epochs = -1;
    train_opts_default(&o->opt);
    const char *over_flag[7] = { "--V", "--C", "--L", "--NH", "--F", "--seq", "--batch" };
    const long over_max[7] = { 1L << 22, 1L << 16, 1024, 4096, 1L << 18, 1L << 16, 1L << 20 };

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long l;
        double d;
        const char *s;
        int k, takes = 1;             /* flags below take a value unless they say 0 */
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { o->help = 1; takes = 0; }
        else if (strcmp(a, "--quiet") == 0) { o->quiet = 1; takes = 0; }
        else if (strcmp(a, "--no-timing") == 0) { o->opt.timing = 0; takes = 0; }
        else if (strcmp(a, "--memory-table") == 0) { o->memtable = 1; takes = 0; }
        else if (strcmp(a, "--describe") == 0) { o->describe = 1; takes = 0; }
        else if (strcmp(a, "--pin-plan") == 0) { o->pin_plan = 1; takes = 0; }
        else if (strcmp(a, "--config") == 0) {
            if (!v) goto missing;
            o->config_name = v;
            o->config_given = 1;
        } else {
            for (k = 0; k < 7 && strcmp(a, over_flag[k]) != 0; k++) {}
            if (k < 7) {
                if (parse_long(a, v, 1, over_max[k], &l, err, errlen)) return -1;
                o->over[k] = (int)l;
            }
#define LONG(name, lo, hi, dst, bit) \
    else if (strcmp(a, name) == 0) { if (parse_long(a, v, lo, hi, &l, err, errlen)) return -1; dst = l; o->given |= bit; }
#define DBL(name, lo, hi, dst, bit) \
    else if (strcmp(a, name) == 0) { if (parse_double(a, v, lo, hi, &d, err, errlen)) return -1; dst = d; o->given |= bit; }
#define STR(name, dst) \
    else if (strcmp(a, name) == 0) { if (!v) goto missing; dst = v; }
            LONG("--threads", 1, THREADS_MAX, o->threads, 0)
            LONG("--ranks", 1, RANKS_MAX, o->ranks, 0)
            LONG("--steps", 1, 1L << 40, o->steps, 0)
            DBL("--epochs", 1e-6, 1e6, o->epochs, 0)
            DBL("--lr", 0, 1e6, o->opt.lr, CLI_LR)
            DBL("--min-lr-frac", 0, 1, o->opt.min_lr_frac, CLI_MIN_LR_FRAC)
            LONG("--warmup", 0, 1L << 30, o->opt.warmup, CLI_WARMUP)
            LONG("--lr-steps", 1, 1L << 40, o->opt.lr_steps, CLI_LR_STEPS)
            DBL("--wd", 0, 10, o->opt.wd, CLI_WD)
            DBL("--clip", 0, 1e6, o->opt.clip, CLI_CLIP)
            LONG("--seed", 0, 1L << 62, o->opt.seed, CLI_SEED)
            LONG("--eval-batches", 0, 1 << 20, o->eval_batches, 0)
            LONG("--save-every", 1, 1L << 40, o->save_every, 0)
            DBL("--save-every-s", 1e-3, 1e7, o->save_every_s, 0)
            STR("--save", o->save)
            STR("--resume", o->resume)
            STR("--report", o->report)
            STR("--pin", o->pin)
            STR("--machine", o->machine)
            STR("--phase-counters", o->phase_counters)
            STR("--trace", o->trace)
#undef LONG
#undef DBL
#undef STR
            else if (strcmp(a, "--scaling") == 0) {
                if (parse_choice(a, v, "weak", "strong", &s, err, errlen)) return -1;
                o->opt.strong = strcmp(s, "strong") == 0;
                o->given |= CLI_SCALING;
            } else if (strcmp(a, "--recompute") == 0) {
                if (parse_choice(a, v, "none", "layers", &s, err, errlen)) return -1;
                o->opt.recompute = strcmp(s, "layers") == 0 ? RECOMPUTE_LAYERS : RECOMPUTE_NONE;
            } else if (strcmp(a, "--trace-steps") == 0) {
                char *end;
                if (!v) goto missing;
                errno = 0;
                o->trace_a = strtol(v, &end, 10);
                if (end == v || *end != ':' || errno) goto bad_window;
                const char *b = end + 1;
                o->trace_b = strtol(b, &end, 10);
                if (end == b || *end || errno || o->trace_a < 1 || o->trace_b < o->trace_a) goto bad_window;
            } else if (strcmp(a, "--overlap") == 0) {
                if (parse_choice(a, v, "on", "off", &s, err, errlen)) return -1;
                o->opt.overlap = strcmp(s, "on") == 0;
            } else if (strcmp(a, "--tokenizer") == 0) {
                if (parse_choice(a, v, "bytes", "words", &o->tokname, err, errlen)) return -1;
            } else if (a[0] == '-' && a[1]) {
                snprintf(err, errlen, "unknown option '%.64s'", a);
                return -1;
            } else if (!o->data_path) {
                o->data_path = a;
                takes = 0;
            } else {
                snprintf(err, errlen, "more than one DATA argument ('%.200s' and '%.200s')", o->data_path, a);
                return -1;
            }
        }
        i += takes;
        continue;
    missing:
        snprintf(err, errlen, "%s needs a value", a);
        return -1;
    bad_window:
        snprintf(err, errlen, "--trace-steps: '%.64s' is not A:B, two step numbers with 1 <= A <= B "
                 "(as the progress lines number them)", v);
        return -1;
    }
    if ((o->trace_a || o->trace_b) && !o->trace) {
        snprintf(err, errlen, "--trace-steps needs --trace FILE");
        return -1;
    }
    if (o->trace && !o->opt.timing) {
        snprintf(err, errlen, "--trace reads the phase clocks, which --no-timing turns off");
        return -1;
    }
    if (o->steps > 0 && o->epochs > 0) {
        snprintf(err, errlen, "--steps and --epochs exclude each other");
        return -1;
    }
    if (o->ranks && !o->describe) {
        snprintf(err, errlen, "--ranks goes with --describe (a run's ranks are mpirun's -n)");
        return -1;
    }
    if ((o->save_every || o->save_every_s) && !o->save) {
        snprintf(err, errlen, "%s needs --save FILE (the checkpoint it rewrites)",
                 o->save_every ? "--save-every" : "--save-every-s");
        return -1;
    }
    if (pin_parse(o->pin ? o->pin : "none", &o->pin_spec, err, errlen) != 0) return -1;
    if (o->phase_counters && perfev_parse(o->phase_counters, &o->opt.events, err, errlen) != 0) return -1;
    return 0;
}
