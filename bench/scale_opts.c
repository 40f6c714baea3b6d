/*
 * scale_opts.c - build/scale's options (scale_opts.h): the command-line
 * parser, the conversion of option text into the sweep, and the --resume
 * reader of the options stored in meta.json. Errors are messages in err and
 * return codes, never output or exit: scale.c decides the exit code, and the
 * fuzzer (bench/fuzz/fuzz_scale_opts.c) runs this code in-process.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scale_opts.h"
#include "../core/pinspec.h"

static const char *const VARIANTS[NVARIANTS] = { "lockfree", "locked", "mpi" };

const char *const OPT_NAMES[NOPTS] = { "threads", "variants", "reps", "config", "steps",
    "scaling", "data", "events", "pin", "metric", "work", "unit", "ranks", "batch", "overlap", "timeout", "noise-max",
    "mpirun-args", "bin-dir", "out", "resume", "export-hyperfine" };
/* pin NULL: no --pin for train_model (its default, none); metric, work,
 * unit NULL: the report's tokens_per_s in tokens/s; ranks NULL: no MPI
 * sweep (one process per point); batch NULL: the config's own; overlap
 * NULL: train_model's default (off) */
static const char *const OPT_DEFAULTS[NOPTS] = { "1,2,4,8,16,32,63", "lockfree,locked", "3",
    "seed", "24", "weak", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "600", "0.1", NULL, "build", NULL,
    NULL, NULL };

const char *scale_opts_default(int k) { return k >= 0 && k < NOPTS ? OPT_DEFAULTS[k] : NULL; }

/* Writes the message into err and returns rc. */
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int scale_opts_parse(scale_opts *o, int argc, char **argv, char *err, size_t errlen) {
    o->reps_over = -1;
    o->steps_over = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return 1;
        if (strncmp(a, "--", 2) != 0) return fail(err, errlen, -1, "unexpected argument '%s'", a);
        if (strcmp(a, "--dry-run") == 0) { o->dry_run = 1; continue; }
        if (strcmp(a, "--default-out") == 0) { o->default_out = 1; continue; }
        if (strcmp(a, "--quiet") == 0) { o->quiet = 1; continue; }
        if (strcmp(a, "--reps-over") == 0) {
            char *end;
            long n = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
            if (i + 1 >= argc || end == argv[i + 1] || *end || n < 1 || n > 1000)
                return fail(err, errlen, -1, "--reps-over needs a repetition count 1..1000");
            o->reps_over = (int)n;
            i++;
            continue;
        }
        if (strcmp(a, "--steps-over") == 0) {
            /* 2 at least: train_model times the steps after its warm-up step */
            char *end;
            long n = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
            if (i + 1 >= argc || end == argv[i + 1] || *end || n < 2 || n > 1000000000)
                return fail(err, errlen, -1, "--steps-over needs a step count 2..1000000000 (a warm-up step "
                            "and at least one timed step)");
            o->steps_over = (int)n;
            i++;
            continue;
        }
        if (strcmp(a, "--trace") == 0) {      /* an optional value: the next word unless it is a flag */
            o->trace = 1;
            if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                const char *p = argv[++i];
                if (!*p || strspn(p, "0123456789,") != strlen(p))
                    return fail(err, errlen, -1, "--trace: '%s' is not a list of thread counts (e.g. 1,2)", p);
                o->trace_points = p;
            }
            continue;
        }
        if (strcmp(a, "--machine") == 0 || strncmp(a, "--machine=", 10) == 0) {
            o->machine = a[9] == '=' ? a + 10 : i + 1 < argc ? argv[++i] : NULL;
            if (!o->machine || !*o->machine) return fail(err, errlen, -1, "--machine needs a snapshot folder or XML file");
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (len == 7 && strncmp(a + 2, "command", 7) == 0) {   /* repeatable: one variant each */
            const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val) return fail(err, errlen, -1, "--command needs NAME='TEMPLATE'");
            if (o->ncmd == MAX_COMMANDS) return fail(err, errlen, -1, "--command: more than %d templates", MAX_COMMANDS);
            o->cmd_raw[o->ncmd++] = strdup(val);
            o->cmd_given = 1;
            continue;
        }
        int k = 0;
        while (k < NOPTS && !(strlen(OPT_NAMES[k]) == len && strncmp(a + 2, OPT_NAMES[k], len) == 0)) k++;
        if (k == NOPTS) return fail(err, errlen, -1, "unknown option '%s'", a);
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) return fail(err, errlen, -1, "--%s needs a value", OPT_NAMES[k]);
        free(o->raw[k]);
        o->raw[k] = strdup(val);
        o->given[k] = 1;
    }
    /* with --command, the train_model variants run only when --variants names them */
    if (o->cmd_given && !o->given[OPT_VARIANTS]) o->raw[OPT_VARIANTS] = strdup("");
    for (int k = 0; k < NOPTS; k++)
        if (!o->raw[k] && OPT_DEFAULTS[k]) o->raw[k] = strdup(OPT_DEFAULTS[k]);
    return 0;
}

static int parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno) return -1;
    *out = v;
    return v < lo || v > hi ? -2 : 0;
}

/* A list of distinct counts 1..max (--threads, --ranks) into out[*n]; max
 * is train_model's limit when known (o->facts), else INT_MAX. */
static int opts_parse_counts(const char *flag, const char *what, long max, const char *list, int *out,
                             int *nout, char *err, size_t errlen) {
    if (!*list) return fail(err, errlen, -1, "--%s: empty list", flag);
    int entries = 1;
    for (const char *c = list; *c; c++) entries += *c == ',';
    if (entries > MAX_ENTRIES)
        return fail(err, errlen, -1, "--%s: %d entries, more than %d entries", flag, entries, MAX_ENTRIES);
    *nout = 0;
    const char *s = list;
    for (int entry = 1;; entry++) {
        size_t n = strcspn(s, ",");
        char item[32];
        if (n == 0) return fail(err, errlen, -1, "--%s '%s': entry %d is empty", flag, list, entry);
        snprintf(item, sizeof item, "%.*s", (int)(n < 31 ? n : 31), s);
        long v;
        int r = parse_int(item, LONG_MIN, LONG_MAX, &v);
        if (r == -1 || n >= 31) return fail(err, errlen, -1, "--%s: '%s' is not a number", flag, item);
        if (v < 1) return fail(err, errlen, -1, "--%s: %ld is not a positive %s count", flag, v, what);
        if (v > max)
            return fail(err, errlen, -1, "--%s: %ld exceeds %s limit of %ld %ss", flag, v,
                        max < INT_MAX ? "train_model's" : "the", max, what);
        for (int t = 0; t < *nout; t++)
            if (out[t] == v) return fail(err, errlen, -1, "--%s: %ld is listed twice", flag, v);
        out[(*nout)++] = (int)v;
        if (!s[n]) break;
        s += n + 1;
    }
    return 0;
}

static int opts_parse_threads(scale_opts *o, const char *list, char *err, size_t errlen) {
    return opts_parse_counts("threads", "thread", o->facts.known ? o->facts.threads_max : INT_MAX, list,
                             o->threads, &o->nt, err, errlen);
}

/* --ranks: the mpi variant's rank counts; checked against the variants
 * and the thread counts (at most train_model's workers_max in all) */
static int opts_parse_ranks(scale_opts *o, char *err, size_t errlen) {
    o->nr = 1;
    o->ranks[0] = 1;
    if (!o->raw[OPT_RANKS]) return 0;
    if (opts_parse_counts("ranks", "rank", o->facts.known ? o->facts.ranks_max : INT_MAX, o->raw[OPT_RANKS],
                          o->ranks, &o->nr, err, errlen) != 0)
        return -1;
    int mpi = 0;
    for (int v = 0; v < o->nv; v++) mpi |= strcmp(o->variants[v], "mpi") == 0;
    if (!mpi)
        return fail(err, errlen, -1, "--ranks sweeps the mpi variant, which --variants leaves out (add mpi)");
    for (int r = 0; r < o->nr; r++)
        for (int t = 0; t < o->nt; t++)
            if (o->facts.known && (long)o->ranks[r] * o->threads[t] > o->facts.workers_max)
                return fail(err, errlen, -1, "--ranks %d x --threads %d are %ld workers, more than train_model's "
                            "%d", o->ranks[r], o->threads[t], (long)o->ranks[r] * o->threads[t],
                            o->facts.workers_max);
    return 0;
}

static int opts_parse_variants(scale_opts *o, const char *list, char *err, size_t errlen) {
    o->nv = 0;
    const char *s = list;
    for (; *list;) {
        size_t n = strcspn(s, ",");
        int k = 0;
        while (k < NVARIANTS && !(strlen(VARIANTS[k]) == n && strncmp(s, VARIANTS[k], n) == 0)) k++;
        if (k == NVARIANTS)
            return fail(err, errlen, -1, "--variants: unknown variant '%.*s' (lockfree, locked, mpi)", (int)n, s);
        for (int v = 0; v < o->nv; v++)
            if (o->variants[v] == VARIANTS[k]) return fail(err, errlen, -1, "--variants: %s is listed twice", VARIANTS[k]);
        o->tmpl[o->nv] = NULL;
        o->variants[o->nv++] = VARIANTS[k];
        if (!s[n]) break;
        s += n + 1;
    }
    o->nbuiltin = o->nv;
    return 0;
}

/* Parses every --command NAME=TEMPLATE into o->cmds and appends the
 * variants after the train_model ones. */
static int opts_parse_commands(scale_opts *o, char *err, size_t errlen) {
    char terr[512];
    for (int c = 0; c < MAX_COMMANDS; c++) template_free(&o->cmds[c]);
    for (int c = 0; c < o->ncmd; c++) {
        const char *raw = o->cmd_raw[c], *eq = strchr(raw, '=');
        char name[TEMPLATE_NAME_MAX + 1];
        size_t n = eq ? (size_t)(eq - raw) : 0;
        if (!eq || n == 0)
            return fail(err, errlen, -1, "--command '%.100s': want NAME='TEMPLATE' (NAME names the variant)", raw);
        snprintf(name, sizeof name, "%.*s", (int)(n < TEMPLATE_NAME_MAX ? n : TEMPLATE_NAME_MAX), raw);
        if (template_parse(&o->cmds[c], n < TEMPLATE_NAME_MAX ? name : "", eq + 1, terr, sizeof terr) != 0)
            return fail(err, errlen, -1, "--command %.*s: %s", (int)(n < 64 ? n : 64), raw, terr);
        for (int k = 0; k < NVARIANTS; k++)
            if (strcmp(name, VARIANTS[k]) == 0)
                return fail(err, errlen, -1, "--command %s: '%s' is a train_model variant of --variants; "
                            "name the template otherwise", name, name);
        for (int v = 0; v < o->nv; v++)
            if (strcmp(o->variants[v], name) == 0)
                return fail(err, errlen, -1, "--command %s: the name is given twice", name);
        o->tmpl[o->nv] = &o->cmds[c];
        o->variants[o->nv++] = o->cmds[c].name;
    }
    if (o->nv == 0) return fail(err, errlen, -1, "--variants: no variant to run (give --variants or --command)");
    return 0;
}

/* The metric: --metric KEY (a dotted path of numbers in the report), or
 * --work N; its unit; and that every template can give it. */
static int opts_parse_metric(scale_opts *o, int cross, char *err, size_t errlen) {
    const char *key = o->raw[OPT_METRIC], *work = o->raw[OPT_WORK], *unit = o->raw[OPT_UNIT];
    o->work = NAN;
    if (key && work) return fail(err, errlen, -1, "--metric and --work exclude each other (one metric per sweep)");
    if (key) {
        int ok = *key && *key != '.' && key[strlen(key) - 1] != '.' && !strstr(key, "..");
        for (const char *c = key; *c && ok; c++) ok = isalnum((unsigned char)*c) || strchr("_.-", *c);
        if (!ok) return fail(err, errlen, -1, "--metric '%.200s' is not a dotted path of field names (a.b.c)", key);
    }
    if (work) {
        char *end;
        o->work = strtod(work, &end);
        if (end == work || *end || !(o->work > 0) || !isfinite(o->work))
            return fail(err, errlen, -1, "--work: '%.200s' is not a positive number of work units", work);
    }
    if (unit && (!*unit || strlen(unit) > 40 || strpbrk(unit, ",\"\n")))
        return fail(err, errlen, -1, "--unit: '%.200s' is not a label of 1..40 characters without , \" or newline", unit);
    o->metric_key = work ? NULL : key ? key : "tokens_per_s";
    o->unit = unit ? unit : work ? "units/s" : strcmp(o->metric_key, "tokens_per_s") == 0 ? "tokens/s" : o->metric_key;
    o->metric_default = !key && !work && !unit && o->ncmd == 0;
    for (int v = o->nbuiltin; v < o->nv && cross; v++)
        if (o->metric_key && !o->tmpl[v]->uses[TPL_REPORT])
            return fail(err, errlen, -1, "--command %s: the template has no {report}, so the metric '%s' cannot be "
                        "read from a report: add {report}, or give --work N", o->variants[v], o->metric_key);
    return 0;
}

/* --pin none | cores | scatter | LIST (CPU numbers and ranges: 0,2,4-7),
 * passed on to train_model and parsed here by its own parser, so the two
 * bound it alike (core/pinspec.h); NULL (not given) is fine. */
static int opts_check_pin(const char *pin, char *err, size_t errlen) {
    if (!pin) return 0;
    pin_spec *spec = malloc(sizeof *spec);
    if (!spec) return fail(err, errlen, -1, "out of memory");
    int rc = pin_parse(pin, spec, err, errlen);
    free(spec);
    return rc;
}

static int opts_parse_noise_max(scale_opts *o, char *err, size_t errlen) {
    char *end;
    const char *t = o->raw[OPT_NOISE_MAX] ? o->raw[OPT_NOISE_MAX] : "0.1";
    o->noise_max = strtod(t, &end);
    if (end == t || *end || !(o->noise_max >= 0) || !isfinite(o->noise_max))
        return fail(err, errlen, -1, "--noise-max: '%.200s' is not a number of CPUs >= 0", t);
    return 0;
}

/* cross 0: leaves out the check of the templates against the metric (the
 * given options of a --resume, before the stored ones are in) */
static int opts_validate(scale_opts *o, int cross, char *err, size_t errlen) {
    static const int needed[] = { OPT_THREADS, OPT_VARIANTS, OPT_REPS, OPT_CONFIG, OPT_STEPS,
                                  OPT_SCALING, OPT_TIMEOUT, OPT_BIN_DIR };
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        if (!o->raw[needed[i]]) return fail(err, errlen, -1, "--%s: no value", OPT_NAMES[needed[i]]);
    long v;
    if (opts_parse_threads(o, o->raw[OPT_THREADS], err, errlen) != 0) return -1;
    /* --ranks alone sweeps the mpi variant */
    if (o->raw[OPT_RANKS] && !o->given[OPT_VARIANTS] && strcmp(o->raw[OPT_VARIANTS], "lockfree,locked") == 0) {
        free(o->raw[OPT_VARIANTS]);
        o->raw[OPT_VARIANTS] = strdup("mpi");
    }
    if (opts_parse_variants(o, o->raw[OPT_VARIANTS], err, errlen) != 0) return -1;
    if (opts_parse_commands(o, err, errlen) != 0) return -1;
    if (opts_parse_ranks(o, err, errlen) != 0) return -1;
    if (parse_int(o->raw[OPT_REPS], 1, 1000, &v) != 0)
        return fail(err, errlen, -1, "--reps: '%s' is not 1..1000", o->raw[OPT_REPS]);
    o->reps = (int)v;
    if (parse_int(o->raw[OPT_STEPS], 1, 1000000000, &v) != 0)
        return fail(err, errlen, -1, "--steps: '%s' is not a positive integer", o->raw[OPT_STEPS]);
    o->steps = (int)v;
    if (o->raw[OPT_BATCH] && parse_int(o->raw[OPT_BATCH], 1, 65536, &v) != 0)
        return fail(err, errlen, -1, "--batch: '%s' is not 1..65536", o->raw[OPT_BATCH]);
    if (o->raw[OPT_OVERLAP] && strcmp(o->raw[OPT_OVERLAP], "on") != 0 && strcmp(o->raw[OPT_OVERLAP], "off") != 0)
        return fail(err, errlen, -1, "--overlap: '%s' is not on or off", o->raw[OPT_OVERLAP]);
    if (!facts_has_config(&o->facts, o->raw[OPT_CONFIG])) {
        char names[FACTS_CONFIGS_MAX * (FACTS_NAME_MAX + 2)];
        facts_config_list(&o->facts, names, sizeof names);
        return fail(err, errlen, -1, "--config: unknown config '%s' (%s)", o->raw[OPT_CONFIG], names);
    }
    if (strcmp(o->raw[OPT_SCALING], "weak") != 0 && strcmp(o->raw[OPT_SCALING], "strong") != 0)
        return fail(err, errlen, -1, "--scaling: '%s' is not weak or strong", o->raw[OPT_SCALING]);
    char *end;
    o->timeout = strtod(o->raw[OPT_TIMEOUT], &end);
    if (end == o->raw[OPT_TIMEOUT] || *end || !(o->timeout > 0) || !isfinite(o->timeout))
        return fail(err, errlen, -1, "--timeout: '%s' is not a positive number of seconds", o->raw[OPT_TIMEOUT]);
    if (o->raw[OPT_DATA] && !*o->raw[OPT_DATA]) return fail(err, errlen, -1, "--data: empty path");
    if (opts_check_pin(o->raw[OPT_PIN], err, errlen) != 0) return -1;
    if (opts_parse_noise_max(o, err, errlen) != 0) return -1;
    if (opts_parse_metric(o, cross, err, errlen) != 0) return -1;
    if (o->raw[OPT_EXPORT_HYPERFINE] && !*o->raw[OPT_EXPORT_HYPERFINE])
        return fail(err, errlen, -1, "--export-hyperfine: empty path");
    if (!*o->raw[OPT_BIN_DIR]) return fail(err, errlen, -1, "--bin-dir: empty path");
    if (o->given[OPT_OUT] && o->given[OPT_RESUME])
        return fail(err, errlen, -1, "--out and --resume cannot be used together (--resume writes into its folder)");
    return 0;
}

int scale_opts_validate(scale_opts *o, char *err, size_t errlen) { return opts_validate(o, 1, err, errlen); }

/* The canonical text of option k, as stored in meta.json and compared on resume. */
static void opts_canon(const scale_opts *o, int k, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = '\0';
    if (k == OPT_THREADS) {
        for (int t = 0; t < o->nt && used < n; t++)
            used += (size_t)snprintf(buf + used, n - used, "%s%d", t ? "," : "", o->threads[t]);
    } else if (k == OPT_RANKS && o->raw[OPT_RANKS]) {
        for (int r = 0; r < o->nr && used < n; r++)
            used += (size_t)snprintf(buf + used, n - used, "%s%d", r ? "," : "", o->ranks[r]);
    } else if (k == OPT_VARIANTS) {
        for (int v = 0; v < o->nbuiltin && used < n; v++)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", v ? "," : "", o->variants[v]);
    } else if (k == OPT_REPS) snprintf(buf, n, "%d", o->reps);
    else if (k == OPT_STEPS) snprintf(buf, n, "%d", o->steps);
    else if (k == OPT_TIMEOUT) jw_fmt_num(buf, n, o->timeout);
    else if (k == OPT_NOISE_MAX) jw_fmt_num(buf, n, o->noise_max);
    else if (k == OPT_WORK && o->raw[k]) jw_fmt_num(buf, n, o->work);
    else snprintf(buf, n, "%s", o->raw[k] ? o->raw[k] : "");
}

/* The stored value of option k as option text (malloc'ed), NULL when null. */
static char *stored_option(const json *opts, int k) {
    const json *j = json_get(opts, OPT_NAMES[k]);
    if (!j || j->type == JSON_NULL) return NULL;
    char *buf = NULL;
    size_t n;
    FILE *m = open_memstream(&buf, &n);
    if (!m) return strdup("");
    /* numbers as the writer writes them, so they round-trip exactly
     * (--steps 1000000 stays 1000000; %g made it 1e+06) */
    char num[40];
    if (j->type == JSON_ARR) {
        for (const json *c = j->child; c; c = c->next) {
            fputs(c != j->child ? "," : "", m);
            if (c->type == JSON_NUM) { jw_fmt_num(num, sizeof num, c->num); fputs(num, m); }
            else fputs(json_str(c, ""), m);
        }
    } else if (j->type == JSON_NUM) { jw_fmt_num(num, sizeof num, j->num); fputs(num, m); }
    else fputs(json_str(j, ""), m);
    fclose(m);
    return buf;
}

/* The stored --command templates (meta.json options.commands, absent in a
 * sweep without them) against the given ones, or taken when none is given.
 * Returns 0, -1 (malformed) or -2 (differs). */
static int resume_commands(scale_opts *o, const json *opts, const char *dir, char *err, size_t errlen) {
    const json *cmds = json_get(opts, "commands");
    int n = cmds && cmds->type == JSON_ARR ? cmds->len : 0;
    if (cmds && cmds->type != JSON_ARR && cmds->type != JSON_NULL)
        return fail(err, errlen, -1, "--resume %s: meta.json options.commands is not a list", dir);
    if (n > MAX_COMMANDS) return fail(err, errlen, -1, "--resume %s: meta.json holds %d templates", dir, n);
    char *stored[MAX_COMMANDS];
    for (int c = 0; c < n; c++) {
        const json *e = json_at(cmds, c);
        const char *name = json_str(json_get(e, "name"), NULL), *text = json_str(json_get(e, "template"), NULL);
        if (!name || !text) {
            for (int k = 0; k < c; k++) free(stored[k]);
            return fail(err, errlen, -1, "--resume %s: meta.json options.commands[%d] lacks name or template", dir, c);
        }
        size_t len = strlen(name) + strlen(text) + 2;
        stored[c] = malloc(len);
        if (!stored[c]) { fputs("scale: out of memory\n", stderr); exit(1); }
        snprintf(stored[c], len, "%s=%s", name, text);
    }
    int rc = 0;
    if (o->cmd_given) {
        for (int k = 0; k < (n > o->ncmd ? n : o->ncmd) && !rc; k++) {
            const char *st = k < n ? stored[k] : "(none)", *mine = k < o->ncmd ? o->cmd_raw[k] : "(none)";
            if (strcmp(st, mine) != 0)
                rc = fail(err, errlen, -2, "--resume %s: --command %d differs from the stored sweep's templates "
                          "(stored '%.300s', given '%.300s')", dir, k + 1, st, mine);
        }
        for (int k = 0; k < n; k++) free(stored[k]);
        return rc;
    }
    for (int k = 0; k < o->ncmd; k++) free(o->cmd_raw[k]);
    for (int k = 0; k < n; k++) o->cmd_raw[k] = stored[k];
    o->ncmd = n;
    return 0;
}

int scale_opts_resume(scale_opts *o, const json *meta, const char *dir, char *err, size_t errlen) {
    if (!dir) dir = ".";
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    const json *opts = json_get(meta, "options");
    if (strcmp(json_str(json_get(meta, "tool"), ""), "scale") != 0 || !opts)
        return fail(err, errlen, -1, "--resume %s: %s is not a scale meta.json", dir, path);
    /* the given options in canonical form (scale has validated them already) */
    if (opts_validate(o, 0, err, errlen) != 0) return -2;
    int rc = resume_commands(o, opts, dir, err, errlen);
    if (rc != 0) return rc;
    for (int k = 0; k <= OPT_BIN_DIR; k++) {
        char *stored = stored_option(opts, k);
        if (o->given[k] && k < OPT_COMPARED) {
            char mine[MAX_ENTRIES * 6 + 64];
            opts_canon(o, k, mine, sizeof mine);
            if (strcmp(mine, stored ? stored : "") != 0) {
                fail(err, errlen, -2, "--resume %s: --%s differs from the stored sweep (stored '%s', given '%s')",
                     dir, OPT_NAMES[k], stored ? stored : "(default)", mine);
                free(stored);
                return -2;
            }
        }
        if (!o->given[k] && (stored || k < OPT_COMPARED)) {
            free(o->raw[k]);
            o->raw[k] = stored;
        } else free(stored);
    }
    if (!o->raw[OPT_TIMEOUT]) o->raw[OPT_TIMEOUT] = strdup(OPT_DEFAULTS[OPT_TIMEOUT]);
    if (!o->raw[OPT_BIN_DIR]) o->raw[OPT_BIN_DIR] = strdup(OPT_DEFAULTS[OPT_BIN_DIR]);
    for (int k = 0; k < OPT_COMPARED; k++)
        if (!o->raw[k] && OPT_DEFAULTS[k])
            return fail(err, errlen, -1, "--resume %s: meta.json has no option '%s'", dir, OPT_NAMES[k]);
    if (scale_opts_validate(o, err, errlen) != 0) return -2;
    /* --steps-over: the stored one unless given; a different one would mix
     * runs of two step counts at the same points */
    const json *so = json_get(meta, "steps_oversubscribed");
    int stored = so && so->type == JSON_NUM && so->num >= 2 && so->num <= 1e9 ? (int)so->num : -1;
    if (o->steps_over < 0) o->steps_over = stored;
    else if (scale_opts_steps_over(o) != stored) {
        char mine[16] = "null", st[16] = "null";
        if (scale_opts_steps_over(o) >= 0) snprintf(mine, sizeof mine, "%d", scale_opts_steps_over(o));
        if (stored >= 0) snprintf(st, sizeof st, "%d", stored);
        return fail(err, errlen, -2, "--resume %s: --steps-over differs from the stored sweep (stored "
                    "steps_oversubscribed %s, given %s)", dir, st, mine);
    }
    return 0;
}

int scale_opts_steps_over(const scale_opts *o) {
    return o->steps_over >= 0 && o->steps_over < o->steps && o->nbuiltin > 0 ? o->steps_over : -1;
}

void scale_opts_free(scale_opts *o) {
    if (!o) return;
    for (int k = 0; k < NOPTS; k++) {
        free(o->raw[k]);
        o->raw[k] = NULL;
    }
    for (int c = 0; c < MAX_COMMANDS; c++) {
        free(o->cmd_raw[c]);
        o->cmd_raw[c] = NULL;
        template_free(&o->cmds[c]);
    }
    o->ncmd = 0;
}
