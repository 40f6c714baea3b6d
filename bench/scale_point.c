/*
 * scale_point.c - the command of one point of build/scale's sweep
 * (scale_point.h): train_model's command line or a --command template's
 * expansion, spawning it with its environment and the counters, whether its
 * report gives the metric, the interleaved order, the check of every
 * variant's program before the first run, and --dry-run.
 */
#include "scale_point.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

int point_is_mpi(const scale_opts *o, int v) { return !o->tmpl[v] && strcmp(o->variants[v], "mpi") == 0; }
int point_nranks(const scale_opts *o, int v) { return point_is_mpi(o, v) ? o->nr : 1; }
int point_rank(const scale_opts *o, int v, int r) { return point_is_mpi(o, v) ? o->ranks[r] : 1; }

/* the runs at one thread count of one repetition */
static int point_per_threads(const scale_opts *o) {
    int n = 0;
    for (int v = 0; v < o->nv; v++) n += point_nranks(o, v);
    return n;
}

int point_total(const scale_opts *o) { return o->reps * o->nt * point_per_threads(o); }

int point_skipped(const scale_opts *o, int rep, int t, int v, int r) {
    if (o->reps_over < 0 || rep < o->reps_over || o->usable_cpus <= 0) return 0;
    int workers = o->threads[t] * (point_is_mpi(o, v) ? point_rank(o, v, r) : 1);
    return workers > o->usable_cpus;
}

int point_steps(const scale_opts *o, int v, int threads, int ranks) {
    if (o->tmpl[v]) return -1;
    int over = scale_opts_steps_over(o);
    return over >= 0 && o->usable_cpus > 0 && threads * ranks > o->usable_cpus ? over : o->steps;
}

int point_expected(const scale_opts *o) {
    int n = 0, total = point_total(o);
    for (int point = 0; point < total; point++) {
        int rep, t, v, r;
        point_order(o, point, &rep, &t, &v, &r);
        n += !point_skipped(o, rep, t, v, r);
    }
    return n;
}

void point_order(const scale_opts *o, int point, int *rep, int *t, int *v, int *r) {
    int nv = o->nv, nt = o->nt, per = point_per_threads(o);
    *rep = point / (per * nt);
    int j = point / per % nt, q = point % per;
    *t = (j + *rep) % nt;
    for (int k = 0;; k++) {
        *v = *rep % 2 ? nv - 1 - k : k;
        int nr = point_nranks(o, *v);
        if (q < nr) { *r = (q + *rep) % nr; return; }
        q -= nr;
    }
}

/* 1 when --mpirun-args maps or binds itself */
static int mpirun_args_bind(const scale_opts *o) {
    const char *m = o->raw[OPT_MPIRUN_ARGS];
    return m && (strstr(m, "-map-by") || strstr(m, "-bind-to"));
}

/* mpirun and its options for `ranks` ranks of `threads` threads into argv;
 * returns the count */
static int mpirun_prefix(const scale_opts *o, int ranks, int threads, point_cmd *pc, char **argv) {
    int a = 0, w = ranks * threads;
    argv[a++] = "mpirun";
    argv[a++] = "-np";
    snprintf(pc->nb, sizeof pc->nb, "%d", ranks);
    argv[a++] = pc->nb;
    if (!mpirun_args_bind(o)) {
        snprintf(pc->pe, sizeof pc->pe, "slot:PE=%d", threads);
        if (o->usable_cpus > 0 && w > o->usable_cpus) {
            argv[a++] = "--oversubscribe";
            argv[a++] = "--map-by";
            argv[a++] = "slot";
            argv[a++] = "--bind-to";
            argv[a++] = "none";
        } else {
            int smt = o->cores > 0 && w > o->cores;
            if (smt) argv[a++] = "--use-hwthread-cpus";
            argv[a++] = "--map-by";
            argv[a++] = pc->pe;
            argv[a++] = "--bind-to";
            argv[a++] = smt ? "hwthread" : "core";
        }
    }
    pc->words = o->raw[OPT_MPIRUN_ARGS] ? strdup(o->raw[OPT_MPIRUN_ARGS]) : NULL;
    char *save = NULL;
    for (char *tok = pc->words ? strtok_r(pc->words, " ", &save) : NULL; tok && a < 12 + POINT_MPIRUN_WORDS;
         tok = strtok_r(NULL, " ", &save))
        argv[a++] = tok;
    return a;
}

/* scale --trace: is this point one whose rep 0 keeps its trace? The thread
 * counts given, else 1 and the largest workers count that is not
 * oversubscribed (ranks x threads <= usable CPUs) */
static int point_traced(const scale_opts *o, int threads, int ranks) {
    if (o->trace_points) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", o->trace_points);
        for (char *sv, *tok = strtok_r(buf, ",", &sv); tok; tok = strtok_r(NULL, ",", &sv))
            if (atoi(tok) == threads) return 1;
        return 0;
    }
    if (threads * ranks == 1) return 1;
    int best = 0;
    for (int t = 0; t < o->nt; t++)
        for (int r = 0; r < o->nr; r++) {
            int w = o->threads[t] * (o->nr > 1 ? o->ranks[r] : 1);
            if (w <= o->usable_cpus && w > best) best = w;
        }
    return threads * ranks == best;
}

void point_command(const scale_opts *o, const char *out, int v, int threads, int ranks, int rep, point_cmd *pc) {
    const char *variant = o->variants[v];
    const template *t = o->tmpl[v];
    int mpi = point_is_mpi(o, v);
    pc->words = NULL;
    /* an mpi point's report name carries its ranks */
    if (mpi) snprintf(pc->report, sizeof pc->report, "%s/.report-%s-%dx%d-%d.json", out, variant, ranks, threads, rep);
    else snprintf(pc->report, sizeof pc->report, "%s/.report-%s-%d-%d.json", out, variant, threads, rep);
    snprintf(pc->tb, sizeof pc->tb, "%d", threads);
    snprintf(pc->rb, sizeof pc->rb, "%d", rep);
    pc->expanded = t != NULL;
    if (t) {
        const char *val[TPL_NPLACEHOLDERS] = { pc->tb, pc->rb, pc->report, out };
        template_expand(t, val, &pc->envv, &pc->argv);
        return;
    }
    snprintf(pc->bin, sizeof pc->bin, "%s/%s/train_model", o->raw[OPT_BIN_DIR], variant);
    int steps = point_steps(o, v, threads, mpi ? ranks : 1);
    snprintf(pc->kb, sizeof pc->kb, "%d", steps);
    char **argv = pc->fixed;
    int a = mpi ? mpirun_prefix(o, ranks, threads, pc, argv) : 0;
    argv[a++] = pc->bin;
    if (o->raw[OPT_DATA]) argv[a++] = o->raw[OPT_DATA];
    /* --eval-batches 0: no validation pass after training, so the process
     * does the same work outside the timed steps at every thread count */
    char *rest[] = { "--config", o->raw[OPT_CONFIG], "--threads", pc->tb, "--steps", pc->kb,
                     "--scaling", o->raw[OPT_SCALING], "--eval-batches", "0", "--quiet",
                     "--report", pc->report };
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) argv[a++] = rest[i];
    if (o->raw[OPT_PIN]) { argv[a++] = "--pin"; argv[a++] = o->raw[OPT_PIN]; }
    pc->trace[0] = 0;
    if (o->trace && rep == 0 && point_traced(o, threads, mpi ? ranks : 1)) {
        /* the first 100 steps at most: enough for the timeline, bounded in size */
        if (mpi) snprintf(pc->trace, sizeof pc->trace, "%s/trace-%s-%dx%d.json", out, variant, ranks, threads);
        else snprintf(pc->trace, sizeof pc->trace, "%s/trace-%s-%d.json", out, variant, threads);
        snprintf(pc->tw, sizeof pc->tw, "1:%d", steps < 100 ? steps : 100);
        argv[a++] = "--trace";
        argv[a++] = pc->trace;
        argv[a++] = "--trace-steps";
        argv[a++] = pc->tw;
    }
    if (o->raw[OPT_BATCH]) { argv[a++] = "--batch"; argv[a++] = o->raw[OPT_BATCH]; }
    if (o->raw[OPT_OVERLAP]) { argv[a++] = "--overlap"; argv[a++] = o->raw[OPT_OVERLAP]; }
    argv[a] = NULL;
    pc->argv = argv;
    pc->envv = NULL;
}

void point_command_free(point_cmd *pc) {
    free(pc->words);
    pc->words = NULL;
    if (!pc->expanded) return;
    template_free_words(pc->argv);
    template_free_words(pc->envv);
}

/* environ with the settings in, swapped around the fork: this process runs
 * one thread, and the child's execvp searches the PATH of its environment */
pid_t point_spawn(counters *cnt, const point_cmd *pc, int logfd, char *err, size_t errlen) {
    if (!pc->envv || !pc->envv[0]) return counters_spawn(cnt, pc->argv, logfd, logfd, err, errlen);
    char **env = template_child_env(pc->envv), **saved = environ;
    environ = env;
    pid_t pid = counters_spawn(cnt, pc->argv, logfd, logfd, err, errlen);
    environ = saved;
    free(env);
    return pid;
}

void point_check_report(const stats_metric *m, const template *t, const char *report, double wall,
                        int workers, json **rj, char *reason, size_t n) {
    char perr[256];
    const char *key = m->key;
    *rj = NULL;
    if (!t) {   /* train_model always writes one */
        if (!(*rj = json_parse_file(report, perr, sizeof perr))) {
            snprintf(reason, n, "report unreadable: %s", perr);
            return;
        }
    } else if (t->uses[TPL_REPORT]) {
        if (access(report, F_OK) != 0) {
            if (key) snprintf(reason, n, "wrote no report at %s ({report}), so no %s (--metric)", report, key);
            return;    /* --work: a report is optional */
        }
        if (!(*rj = json_parse_file(report, perr, sizeof perr))) {
            snprintf(reason, n, "report %s ({report}) is not JSON: %s", report, perr);
            return;
        }
    }
    if (isfinite(stats_metric_of(m, *rj, wall, workers))) return;
    if (key && !strcmp(key, "tokens_per_s") && !t) snprintf(reason, n, "report has no numeric tokens_per_s");
    else if (key) snprintf(reason, n, "report has no positive number at '%s' (--metric)", key);
    else snprintf(reason, n, "no positive wall time for --work");
}

int point_check_programs(const scale_opts *o, const char *out, char *err, size_t errlen) {
    for (int v = 0; v < o->nv; v++) {
        point_cmd pc;
        struct stat st;
        char path[PATH_MAX], why[PATH_MAX + 400];
        point_command(o, out, v, o->threads[0], point_rank(o, v, 0), 0, &pc);
        if (!o->tmpl[v]) {
            point_command_free(&pc);   /* the mpirun words; pc.bin stays */
            if (stat(pc.bin, &st) != 0) {
                snprintf(err, errlen, "train_model binary %s: %s (build it, or pass --bin-dir)", pc.bin, strerror(errno));
                return 1;
            }
            if (!S_ISREG(st.st_mode) || access(pc.bin, X_OK) != 0) {
                snprintf(err, errlen, "train_model binary %s is not an executable file", pc.bin);
                return 1;
            }
            continue;
        }
        const char *env_path = getenv("PATH");
        for (char **e = pc.envv; *e; e++)
            if (!strncmp(*e, "PATH=", 5)) env_path = *e + 5;
        int bad = template_find_program(pc.argv[0], env_path, path, sizeof path, why, sizeof why) != 0;
        point_command_free(&pc);
        if (bad) {
            snprintf(err, errlen, "--command %s: %s", o->variants[v], why);
            return 2;
        }
    }
    return 0;
}

void point_dry_run(FILE *f, const scale_opts *o, const char *out) {
    int total = point_total(o);
    for (int point = 0; point < total; point++) {
        int rep, t, v, r;
        point_cmd pc;
        point_order(o, point, &rep, &t, &v, &r);
        if (point_skipped(o, rep, t, v, r)) continue;
        point_command(o, out, v, o->threads[t], point_rank(o, v, r), rep, &pc);
        fprintf(f, "{\"point\":%d,\"variant\":", point);
        jw_put_str(f, o->variants[v]);
        fprintf(f, ",\"threads\":%d,\"ranks\":%d,\"rep\":%d,\"command\":[", o->threads[t],
                point_rank(o, v, r), rep);
        for (int i = 0; pc.argv[i]; i++) { fputs(i ? "," : "", f); jw_put_str(f, pc.argv[i]); }
        fputs("],\"env\":{", f);
        for (int i = 0; pc.envv && pc.envv[i]; i++) {
            size_t k = strcspn(pc.envv[i], "=");
            fprintf(f, "%s\"%.*s\":", i ? "," : "", (int)k, pc.envv[i]);
            jw_put_str(f, pc.envv[i] + k + 1);
        }
        fputs("},\"shell\":", f);
        char *line = NULL;
        size_t len;
        FILE *m = open_memstream(&line, &len);
        template_put_shell(m, pc.envv, pc.argv);
        fclose(m);
        jw_put_str(f, line);
        fputs("}\n", f);
        free(line);
        point_command_free(&pc);
    }
    fflush(f);
}

