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

void point_order(const scale_opts *o, int point, int *rep, int *t, int *v) {
    int nv = o->nv, nt = o->nt;
    *rep = point / (nv * nt);
    int j = point / nv % nt, k = point % nv;
    *t = (j + *rep) % nt;
    *v = *rep % 2 ? nv - 1 - k : k;
}

void point_command(const scale_opts *o, const char *out, int v, int threads, int rep, point_cmd *pc) {
    const char *variant = o->variants[v];
    const template *t = o->tmpl[v];
    snprintf(pc->report, sizeof pc->report, "%s/.report-%s-%d-%d.json", out, variant, threads, rep);
    snprintf(pc->tb, sizeof pc->tb, "%d", threads);
    snprintf(pc->rb, sizeof pc->rb, "%d", rep);
    pc->expanded = t != NULL;
    if (t) {
        const char *val[TPL_NPLACEHOLDERS] = { pc->tb, pc->rb, pc->report, out };
        template_expand(t, val, &pc->envv, &pc->argv);
        return;
    }
    snprintf(pc->bin, sizeof pc->bin, "%s/%s/train_model", o->raw[OPT_BIN_DIR], variant);
    snprintf(pc->kb, sizeof pc->kb, "%d", o->steps);
    char **argv = pc->fixed;
    int a = 0;
    argv[a++] = pc->bin;
    if (o->raw[OPT_DATA]) argv[a++] = o->raw[OPT_DATA];
    /* --eval-batches 0: no validation pass after training, so the process
     * does the same work outside the timed steps at every thread count */
    char *rest[] = { "--config", o->raw[OPT_CONFIG], "--threads", pc->tb, "--steps", pc->kb,
                     "--scaling", o->raw[OPT_SCALING], "--eval-batches", "0", "--quiet",
                     "--report", pc->report };
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) argv[a++] = rest[i];
    if (o->raw[OPT_PIN]) { argv[a++] = "--pin"; argv[a++] = o->raw[OPT_PIN]; }
    argv[a] = NULL;
    pc->argv = argv;
    pc->envv = NULL;
}

void point_command_free(point_cmd *pc) {
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
                        int threads, json **rj, char *reason, size_t n) {
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
    if (isfinite(stats_metric_of(m, *rj, wall, threads))) return;
    if (key && !strcmp(key, "tokens_per_s") && !t) snprintf(reason, n, "report has no numeric tokens_per_s");
    else if (key) snprintf(reason, n, "report has no positive number at '%s' (--metric)", key);
    else snprintf(reason, n, "no positive wall time for --work");
}

int point_check_programs(const scale_opts *o, const char *out, char *err, size_t errlen) {
    for (int v = 0; v < o->nv; v++) {
        point_cmd pc;
        struct stat st;
        char path[PATH_MAX], why[PATH_MAX + 400];
        point_command(o, out, v, o->threads[0], 0, &pc);
        if (!o->tmpl[v]) {
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
    int total = o->reps * o->nv * o->nt;
    for (int point = 0; point < total; point++) {
        int rep, t, v;
        point_cmd pc;
        point_order(o, point, &rep, &t, &v);
        point_command(o, out, v, o->threads[t], rep, &pc);
        fprintf(f, "{\"point\":%d,\"variant\":", point);
        json_put_str(f, o->variants[v]);
        fprintf(f, ",\"threads\":%d,\"rep\":%d,\"command\":[", o->threads[t], rep);
        for (int i = 0; pc.argv[i]; i++) { fputs(i ? "," : "", f); json_put_str(f, pc.argv[i]); }
        fputs("],\"env\":{", f);
        for (int i = 0; pc.envv && pc.envv[i]; i++) {
            size_t k = strcspn(pc.envv[i], "=");
            fprintf(f, "%s\"%.*s\":", i ? "," : "", (int)k, pc.envv[i]);
            json_put_str(f, pc.envv[i] + k + 1);
        }
        fputs("},\"shell\":", f);
        char *line = NULL;
        size_t len;
        FILE *m = open_memstream(&line, &len);
        template_put_shell(m, pc.envv, pc.argv);
        fclose(m);
        json_put_str(f, line);
        fputs("}\n", f);
        free(line);
        point_command_free(&pc);
    }
    fflush(f);
}

