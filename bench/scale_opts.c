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

#define MAX_THREADS 1024     /* train_model's limit */
#define NCONFIGS 7

static const char *const VARIANTS[NVARIANTS] = { "lockfree", "locked" };
static const char *const CONFIGS[NCONFIGS] = { "tiny", "seed", "seed-cli", "S", "G", "M", "bench" };

const char *const OPT_NAMES[NOPTS] = { "threads", "variants", "reps", "config", "steps",
    "scaling", "data", "events", "pin", "timeout", "noise-max", "bin-dir", "out", "resume" };
/* pin NULL: no --pin for train_model (its default, none) */
static const char *const OPT_DEFAULTS[NOPTS] = { "1,2,4,8,16,32,63", "lockfree,locked", "3",
    "seed", "24", "weak", NULL, NULL, NULL, "600", "0.1", "build", NULL, NULL };

/* Writes the message into err and returns rc. */
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int scale_opts_parse(scale_opts *o, int argc, char **argv, char *err, size_t errlen) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return 1;
        if (strncmp(a, "--", 2) != 0) return fail(err, errlen, -1, "unexpected argument '%s'", a);
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        int k = 0;
        while (k < NOPTS && !(strlen(OPT_NAMES[k]) == len && strncmp(a + 2, OPT_NAMES[k], len) == 0)) k++;
        if (k == NOPTS) return fail(err, errlen, -1, "unknown option '%s'", a);
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) return fail(err, errlen, -1, "--%s needs a value", OPT_NAMES[k]);
        free(o->raw[k]);
        o->raw[k] = strdup(val);
        o->given[k] = 1;
    }
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

static int opts_parse_threads(scale_opts *o, const char *list, char *err, size_t errlen) {
    if (!*list) return fail(err, errlen, -1, "--threads: empty list");
    int entries = 1;
    for (const char *c = list; *c; c++) entries += *c == ',';
    if (entries > MAX_ENTRIES)
        return fail(err, errlen, -1, "--threads: %d entries, more than %d entries", entries, MAX_ENTRIES);
    o->nt = 0;
    const char *s = list;
    for (int entry = 1;; entry++) {
        size_t n = strcspn(s, ",");
        char item[32];
        if (n == 0) return fail(err, errlen, -1, "--threads '%s': entry %d is empty", list, entry);
        snprintf(item, sizeof item, "%.*s", (int)(n < 31 ? n : 31), s);
        long v;
        int r = parse_int(item, LONG_MIN, LONG_MAX, &v);
        if (r == -1 || n >= 31) return fail(err, errlen, -1, "--threads: '%s' is not a number", item);
        if (v < 1) return fail(err, errlen, -1, "--threads: %ld is not a positive thread count", v);
        if (v > MAX_THREADS)
            return fail(err, errlen, -1, "--threads: %ld exceeds train_model's limit of %d threads", v, MAX_THREADS);
        for (int t = 0; t < o->nt; t++)
            if (o->threads[t] == v) return fail(err, errlen, -1, "--threads: %ld is listed twice", v);
        o->threads[o->nt++] = (int)v;
        if (!s[n]) break;
        s += n + 1;
    }
    return 0;
}

static int opts_parse_variants(scale_opts *o, const char *list, char *err, size_t errlen) {
    o->nv = 0;
    const char *s = list;
    for (;;) {
        size_t n = strcspn(s, ",");
        int k = 0;
        while (k < NVARIANTS && !(strlen(VARIANTS[k]) == n && strncmp(s, VARIANTS[k], n) == 0)) k++;
        if (k == NVARIANTS)
            return fail(err, errlen, -1, "--variants: unknown variant '%.*s' (lockfree, locked)", (int)n, s);
        for (int v = 0; v < o->nv; v++)
            if (o->variants[v] == VARIANTS[k]) return fail(err, errlen, -1, "--variants: %s is listed twice", VARIANTS[k]);
        o->variants[o->nv++] = VARIANTS[k];
        if (!s[n]) break;
        s += n + 1;
    }
    return 0;
}

/* --pin none | cores | scatter | LIST (CPU numbers and ranges: 0,2,4-7),
 * passed on to train_model; NULL (not given) is fine. */
static int opts_check_pin(const char *pin, char *err, size_t errlen) {
    if (!pin || !strcmp(pin, "none") || !strcmp(pin, "cores") || !strcmp(pin, "scatter")) return 0;
    const char *s = pin;
    for (;;) {
        char *end;
        errno = 0;
        long a = strtol(s, &end, 10), b = a;
        int ok = end != s && isdigit((unsigned char)*s) && !errno && a <= 1 << 20;
        if (ok && *end == '-') {
            s = end + 1;
            b = strtol(s, &end, 10);
            ok = end != s && isdigit((unsigned char)*s) && !errno && b >= a && b <= 1 << 20;
        }
        if (!ok || (*end != ',' && *end != '\0'))
            return fail(err, errlen, -1, "--pin: '%.200s' is not none, cores, scatter or a CPU list like 0,2,4-7", pin);
        if (!*end) return 0;
        s = end + 1;
    }
}

static int opts_parse_noise_max(scale_opts *o, char *err, size_t errlen) {
    char *end;
    const char *t = o->raw[OPT_NOISE_MAX] ? o->raw[OPT_NOISE_MAX] : "0.1";
    o->noise_max = strtod(t, &end);
    if (end == t || *end || !(o->noise_max >= 0) || !isfinite(o->noise_max))
        return fail(err, errlen, -1, "--noise-max: '%.200s' is not a number of CPUs >= 0", t);
    return 0;
}

int scale_opts_validate(scale_opts *o, char *err, size_t errlen) {
    static const int needed[] = { OPT_THREADS, OPT_VARIANTS, OPT_REPS, OPT_CONFIG, OPT_STEPS,
                                  OPT_SCALING, OPT_TIMEOUT, OPT_BIN_DIR };
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        if (!o->raw[needed[i]]) return fail(err, errlen, -1, "--%s: no value", OPT_NAMES[needed[i]]);
    long v;
    if (opts_parse_threads(o, o->raw[OPT_THREADS], err, errlen) != 0) return -1;
    if (opts_parse_variants(o, o->raw[OPT_VARIANTS], err, errlen) != 0) return -1;
    if (parse_int(o->raw[OPT_REPS], 1, 1000, &v) != 0)
        return fail(err, errlen, -1, "--reps: '%s' is not 1..1000", o->raw[OPT_REPS]);
    o->reps = (int)v;
    if (parse_int(o->raw[OPT_STEPS], 1, 1000000000, &v) != 0)
        return fail(err, errlen, -1, "--steps: '%s' is not a positive integer", o->raw[OPT_STEPS]);
    o->steps = (int)v;
    int c = 0;
    while (c < NCONFIGS && strcmp(o->raw[OPT_CONFIG], CONFIGS[c]) != 0) c++;
    if (c == NCONFIGS)
        return fail(err, errlen, -1, "--config: unknown config '%s' (tiny, seed, seed-cli, S, G, M, bench)", o->raw[OPT_CONFIG]);
    if (strcmp(o->raw[OPT_SCALING], "weak") != 0 && strcmp(o->raw[OPT_SCALING], "strong") != 0)
        return fail(err, errlen, -1, "--scaling: '%s' is not weak or strong", o->raw[OPT_SCALING]);
    char *end;
    o->timeout = strtod(o->raw[OPT_TIMEOUT], &end);
    if (end == o->raw[OPT_TIMEOUT] || *end || !(o->timeout > 0) || !isfinite(o->timeout))
        return fail(err, errlen, -1, "--timeout: '%s' is not a positive number of seconds", o->raw[OPT_TIMEOUT]);
    if (o->raw[OPT_DATA] && !*o->raw[OPT_DATA]) return fail(err, errlen, -1, "--data: empty path");
    if (opts_check_pin(o->raw[OPT_PIN], err, errlen) != 0) return -1;
    if (opts_parse_noise_max(o, err, errlen) != 0) return -1;
    if (!*o->raw[OPT_BIN_DIR]) return fail(err, errlen, -1, "--bin-dir: empty path");
    if (o->given[OPT_OUT] && o->given[OPT_RESUME])
        return fail(err, errlen, -1, "--out and --resume cannot be used together (--resume writes into its folder)");
    return 0;
}

/* The canonical text of option k, as stored in meta.json and compared on resume. */
static void opts_canon(const scale_opts *o, int k, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = '\0';
    if (k == OPT_THREADS) {
        for (int t = 0; t < o->nt && used < n; t++)
            used += (size_t)snprintf(buf + used, n - used, "%s%d", t ? "," : "", o->threads[t]);
    } else if (k == OPT_VARIANTS) {
        for (int v = 0; v < o->nv && used < n; v++)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", v ? "," : "", o->variants[v]);
    } else if (k == OPT_REPS) snprintf(buf, n, "%d", o->reps);
    else if (k == OPT_STEPS) snprintf(buf, n, "%d", o->steps);
    else if (k == OPT_TIMEOUT) snprintf(buf, n, "%g", o->timeout);
    else if (k == OPT_NOISE_MAX) snprintf(buf, n, "%g", o->noise_max);
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
    if (j->type == JSON_ARR) {
        for (const json *c = j->child; c; c = c->next) {
            fputs(c != j->child ? "," : "", m);
            if (c->type == JSON_NUM) fprintf(m, "%g", c->num);
            else fputs(json_str(c, ""), m);
        }
    } else if (j->type == JSON_NUM) fprintf(m, "%g", j->num);
    else fputs(json_str(j, ""), m);
    fclose(m);
    return buf;
}

int scale_opts_resume(scale_opts *o, const json *meta, const char *dir, char *err, size_t errlen) {
    if (!dir) dir = ".";
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    const json *opts = json_get(meta, "options");
    if (strcmp(json_str(json_get(meta, "tool"), ""), "scale") != 0 || !opts)
        return fail(err, errlen, -1, "--resume %s: %s is not a scale meta.json", dir, path);
    /* the given options in canonical form (scale has validated them already) */
    if (scale_opts_validate(o, err, errlen) != 0) return -2;
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
    return scale_opts_validate(o, err, errlen) != 0 ? -2 : 0;
}

void scale_opts_free(scale_opts *o) {
    if (!o) return;
    for (int k = 0; k < NOPTS; k++) {
        free(o->raw[k]);
        o->raw[k] = NULL;
    }
}
