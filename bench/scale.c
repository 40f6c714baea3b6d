/*
 * scale.c - the scaling benchmark harness. Runs every (repetition, thread
 * count, variant) point as a child with event counters attached
 * (counters_spawn): <bin-dir>/<variant>/train_model for the --variants, or
 * the command a --command template (template.h) expands into. It times each
 * run and writes runs.jsonl, summary.csv, memory.csv, runs.csv and meta.json
 * into the run folder, and hyperfine's JSON on --export-hyperfine. Every
 * file and column is documented in bench/RESULTS.md. The mpi variant's points
 * also have a rank count (--ranks): the child is mpirun, which starts the
 * ranks; its rusage and counters (inherited) cover them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <perfmon/pfmlib.h>

#include "../core/afile.h"
#include "counters.h"
#include "export.h"
#include "json.h"
#include "noise.h"
#include "scale_opts.h"
#include "scale_point.h"
#include "stats.h"
#include "template.h"
#include "topo.h"

/* CLLM_CC, CLLM_CFLAGS, CLLM_GIT: the harness's own build, from the
 * Makefile's DEFS (the only build of this file; core/util.c keeps the
 * fallbacks for builds of the core without them) */
#if !defined(CLLM_CC) || !defined(CLLM_CFLAGS) || !defined(CLLM_GIT)
#error "build/scale is built by the Makefile, which defines CLLM_CC, CLLM_CFLAGS and CLLM_GIT"
#endif

#define TAIL_BYTES 2000      /* stderr kept from a failed child */


/* The sweep in progress. */
typedef struct {
    scale_opts o;
    int argc;
    char **argv;
    char *command;             /* argv joined by spaces */
    char out[PATH_MAX];
    int cpus;                  /* CPUs in the affinity mask */
    topo topo;                 /* the machine, usable CPUs (affinity + cgroup quota) */
    counters *cnt;
    stats_metric metric;       /* what the speedups divide: --metric / --work, --unit */
    stats_run *runs;           /* recorded runs, resumed ones first */
    int nruns, caprun;
    char *build_json;          /* report.build of the first report, compact JSON */
    char start_time[32], first_start[32];
    int resumed;
    int runs_fd;               /* runs.jsonl, O_APPEND */
} scale;

static volatile sig_atomic_t g_signal;

static void on_signal(int sig) { g_signal = sig; }
static void on_child(int sig) { (void)sig; }

// ----------------------------------------------------------------------------
// small helpers

static void die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("scale: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (code == 2) fputs("run 'scale --help' for usage\n", stderr);
    exit(code);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void utc_time(char *buf, size_t n, const char *fmt) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, fmt, &tm);
}

static const char *signal_name(int sig, char *buf, size_t n) {
    static const struct { int sig; const char *name; } names[] = {
#define S(x) { x, #x }
        S(SIGHUP), S(SIGINT), S(SIGQUIT), S(SIGILL), S(SIGTRAP), S(SIGABRT), S(SIGBUS), S(SIGFPE),
        S(SIGKILL), S(SIGUSR1), S(SIGSEGV), S(SIGUSR2), S(SIGPIPE), S(SIGALRM), S(SIGTERM),
        S(SIGXCPU), S(SIGXFSZ), S(SIGSYS),
#undef S
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig) return names[i].name;
    snprintf(buf, n, "SIG%d", sig);
    return buf;
}

static int mkdir_p(const char *path) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) { errno = ENAMETOOLONG; return -1; }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    struct stat st;
    if (stat(tmp, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) { errno = ENOTDIR; return -1; }
    return 0;
}

/* Atomic, durable files: the core's one writer (core/afile.h: temporary
 * file in the folder, fsync, rename, fsync of the folder, dead writers'
 * temporaries removed). Both return with errno set on failure. */
typedef afile atomic_file;

static FILE *atomic_open(atomic_file *a, const char *dir, const char *name) {
    char path[PATH_MAX + 32], err[PATH_MAX + 128];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) { errno = ENAMETOOLONG; return NULL; }
    return afile_open(a, path, err, sizeof err) == 0 ? a->f : NULL;
}

static int atomic_commit(atomic_file *a, const char *dir) {
    (void)dir;
    char err[PATH_MAX + 256];
    return afile_commit(a, err, sizeof err);
}

// ----------------------------------------------------------------------------
// options

/* The defaults and limits come from their owners: scale_opts.c's table and
 * train_model --describe (facts, when a train_model is under --bin-dir). */
static void usage(FILE *f, const facts *fa) {
    char threads_max[32] = "train_model's limit", configs[FACTS_CONFIGS_MAX * (FACTS_NAME_MAX + 2)];
    snprintf(configs, sizeof configs, "a config of train_model --describe");
    if (fa->known) {
        snprintf(threads_max, sizeof threads_max, "%d", fa->threads_max);
        facts_config_list(fa, configs, sizeof configs);
    }
    fprintf(f, "usage: scale [options]\n"
          "Runs <bin-dir>/<variant>/train_model, or the programs of --command templates, over\n"
          "thread counts, variants and repetitions and writes runs.jsonl, summary.csv,\n"
          "memory.csv, runs.csv and meta.json (bench/RESULTS.md).\n"
          "  --threads LIST   thread counts, 1..%s each (default %s)\n"
          "  --variants LIST  train_model's variants: lockfree, locked (default lockfree,locked;\n"
          "                   none when --command is given, unless listed here)\n"
          "  --command NAME='TEMPLATE'  one more variant, NAME, running TEMPLATE (repeatable):\n"
          "                   split into words like a shell's (quotes, backslash), run without\n"
          "                   one; {threads} {rep} {report} {out} are replaced, {{ }} are braces;\n"
          "                   leading NAME=VALUE words go into its environment\n"
          "  --metric KEY     the number of the report at dotted path KEY is the metric\n"
          "                   (a rate: higher is faster; default tokens_per_s)\n"
          "  --work N         instead: N units per thread (weak) or in total (strong) / wall time\n"
          "  --unit LABEL     the metric's unit in every table (default tokens/s; units/s with\n"
          "                   --work; KEY with --metric)\n"
          "  --reps N         repetitions of every point (default %s)\n"
          "  --config NAME    %s (default %s)\n"
          "  --steps K        training steps per run (default 24)\n"
          "  --scaling S      weak | strong (default weak)\n"
          "  --batch B        train_model's --batch B (sequences per worker; default: the config's)\n"
          "  --overlap on|off train_model's --overlap (the mpi variant's exchange during backward)\n"
          "  --data PATH      training text file or folder (default: train_model's synthetic corpus)\n"
          "  --out DIR        run folder (default results/<UTC time>-<hostname>; --default-out\n"
          "                   prints the one it would take now, and exits)\n"
          "  --timeout S      kill a run after S seconds (default 600)\n"
          "  --resume DIR     finish the sweep in DIR; options and templates must match the stored ones\n"
          "  --events LIST    counter events, {a,b} = one group (default: the counters module's list)\n"
          "  --pin P          passed to train_model as --pin P: none | cores | scatter | CPU list\n"
          "                   (default: no --pin, train_model's own default)\n"
          "  --trace [POINTS] keep the timeline (train_model --trace, first 100 steps at most) of rep 0\n"
          "                   of these thread counts (comma list; default: 1 and the largest count\n"
          "                   that is not oversubscribed) as <out>/trace-<variant>-<threads>.json\n"
          "  --reps-over N    N repetitions (fewer than --reps) of the oversubscribed points\n"
          "                   (more workers than usable CPUs): shown, never fitted; meta.json\n"
          "                   reps_oversubscribed (default: --reps; make bench: 2)\n"
          "  --steps-over N   train_model's --steps N (2 or more, fewer than --steps) at the\n"
          "                   oversubscribed points: its tokens/s counts the steps after the\n"
          "                   warm-up step either way; meta.json steps_oversubscribed (default:\n"
          "                   --steps; make bench: 6). A --command template's steps are its own:\n"
          "                   scale cannot set them, so its points keep them (null when only\n"
          "                   --command variants run)\n"
          "  --quiet          no progress (by default: a line that redraws itself on a terminal,\n"
          "                   else one plain line per finished point, with elapsed time and ETA)\n"
          "  --noise-max C    warn when other processes kept more than C CPUs busy during a run\n"
          "                   (default 0.1)\n"
          "  --bin-dir DIR    where <variant>/train_model is (default build)\n"
          "  --ranks LIST     MPI rank counts of the mpi variant (build/mpi/train_model under\n"
          "                   mpirun, --threads per rank); alone it sweeps the mpi variant only.\n"
          "                   mpirun maps T threads per rank (--map-by slot:PE=T --bind-to core,\n"
          "                   or hwthread); past the usable CPUs it runs --oversubscribe\n"
          "                   --bind-to none and the point is labelled oversubscribed. As root,\n"
          "                   Open MPI needs OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1\n"
          "  --mpirun-args A  more mpirun arguments, split at spaces (e.g. '--mca btl tcp,self',\n"
          "                   '--hostfile H'); with a --map-by or --bind-to of its own, scale adds none\n"
          "  --export-hyperfine FILE  also write hyperfine's JSON export (--export-json) to FILE\n"
          "  --dry-run        print every point's command (JSON lines) and run nothing\n"
          "  --machine PATH   plan only, on an hwloc snapshot folder or XML file: its topology, and\n"
          "                   per --threads entry the usable-CPU verdict and train_model --pin-plan's\n"
          "                   plan (--pin, default cores); runs and writes nothing\n"
          "  --help           this text\n"
          "Exit: 0 all runs ok, 1 runtime error or some run failed, 2 usage error (a bad\n"
          "template too), 130/143 interrupted by SIGINT/SIGTERM (completed runs are kept).\n",
            threads_max, scale_opts_default(OPT_THREADS), scale_opts_default(OPT_REPS), configs,
            scale_opts_default(OPT_CONFIG));
}

/* results/<UTC time>-<hostname>: the one place the default run folder's
 * name is made (scripts ask build/scale --default-out) */
static void default_out(char *buf, size_t n) {
    char t[32], host[128] = "host";
    utc_time(t, sizeof t, "%Y%m%dT%H%M%SZ");
    gethostname(host, sizeof host - 1);
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.')) *p = '_';
    snprintf(buf, n, "results/%s-%s", t, host);
}

// ----------------------------------------------------------------------------
// meta.json

/* The host: identity and kernel here, the machine from the topology module. */
static void meta_host(FILE *f, const scale *s) {
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    struct utsname u;
    uname(&u);
    const topo *t = &s->topo;
    fputs("{\"hostname\":", f);
    jw_put_str(f, host);
    jw_kv_str(f, "cpu_model", *t->cpu_model ? t->cpu_model : NULL);
    jw_kv_num(f, "online_cpus", t->online_cpus);
    jw_kv_num(f, "affinity_cpus", s->cpus);
    jw_kv_num(f, "usable_cpus", t->usable_cpus);
    jw_kv_num(f, "cores", t->affinity_cores);
    fputs(",\"kernel\":{\"sysname\":", f);
    jw_put_str(f, u.sysname);
    jw_kv_str(f, "release", u.release);
    jw_kv_str(f, "version", u.version);
    jw_kv_str(f, "machine", u.machine);
    fputs("},\"topology\":", f);
    topo_write_json(f, t);
    fputs("}", f);
}

/* analysis.noise: the outside load over the recorded runs. */
static void meta_noise(FILE *f, const scale *s) {
    double *x = malloc(sizeof(double) * (size_t)(s->nruns > 0 ? s->nruns : 1));
    if (!x) die(1, "out of memory");
    int k = 0, noisy = 0, undetermined = 0;
    for (int i = 0; i < s->nruns; i++) {
        if (isfinite(s->runs[i].outside_cpus)) x[k++] = s->runs[i].outside_cpus;
        noisy += s->runs[i].noisy == 1;
        undetermined += s->runs[i].noisy < 0;
    }
    double mx = stats_max(x, k);
    fputs("{\"noise_max_cpus\":", f);
    jw_put_num(f, s->o.noise_max);
    jw_kv_num(f, "runs_measured", k);
    jw_kv_num(f, "runs_noisy", noisy);
    jw_kv_num(f, "runs_undetermined", undetermined);
    jw_kv_num(f, "outside_cpus_median", stats_median(x, k));
    jw_kv_num(f, "outside_cpus_max", mx);
    fputs("}", f);
    free(x);
}

/* Writes meta.json atomically; status is running, complete, incomplete or interrupted. */
static int meta_write(const scale *s, const char *status, const char *end_time,
                      const stats_memory *mem, int nv, const char *warnings) {
    atomic_file a;
    FILE *f = atomic_open(&a, s->out, "meta.json");
    if (!f) return -1;
    fputs("{\"tool\":\"scale\",\"format\":1", f);
    jw_kv_str(f, "status", status);
    jw_kv_str(f, "start_time", s->start_time);
    jw_kv_str(f, "end_time", end_time);
    jw_kv_str(f, "first_start_time", s->first_start);
    jw_kv_bool(f, "resumed", s->resumed);
    jw_kv_str(f, "command", s->command);
    fputs(",\"argv\":[", f);
    for (int i = 0; i < s->argc; i++) { fputs(i ? "," : "", f); jw_put_str(f, s->argv[i]); }
    fprintf(f, "],\"options\":{\"threads\":[");
    for (int t = 0; t < s->o.nt; t++) fprintf(f, "%s%d", t ? "," : "", s->o.threads[t]);
    fputs("]", f);
    if (s->o.raw[OPT_RANKS]) {   /* only then, like mpirun-args: a sweep without writes what it did */
        fputs(",\"ranks\":", f);
        for (int r = 0; r < s->o.nr; r++) fprintf(f, "%s%d", r ? "," : "[", s->o.ranks[r]);
        fputs("]", f);
    }
    fputs(",\"variants\":[", f);
    for (int v = 0; v < s->o.nbuiltin; v++) { fputs(v ? "," : "", f); jw_put_str(f, s->o.variants[v]); }
    fputs("]", f);
    if (s->o.ncmd) {           /* only then: a sweep without them records what it always did */
        fputs(",\"commands\":[", f);
        for (int c = 0; c < s->o.ncmd; c++) {
            fputs(c ? ",{\"name\":" : "{\"name\":", f);
            jw_put_str(f, s->o.cmds[c].name);
            jw_kv_str(f, "template", s->o.cmds[c].text);
            fputc('}', f);
        }
        fputc(']', f);
    }
    jw_kv_num(f, "reps", s->o.reps);
    jw_kv_str(f, "config", s->o.raw[OPT_CONFIG]);
    jw_kv_num(f, "steps", s->o.steps);
    for (int k = OPT_SCALING; k <= OPT_BIN_DIR; k++)
        if (((k == OPT_METRIC || k == OPT_WORK || k == OPT_UNIT || k == OPT_MPIRUN_ARGS || k == OPT_BATCH ||
              k == OPT_OVERLAP) &&
             !s->o.raw[k]) ||
            k == OPT_RANKS)
            continue;               /* ranks: above, as a list */
        else if (k == OPT_WORK) jw_kv_num(f, OPT_NAMES[k], s->o.work);
        else if (k == OPT_TIMEOUT) jw_kv_num(f, OPT_NAMES[k], s->o.timeout);
        else if (k == OPT_NOISE_MAX) jw_kv_num(f, OPT_NAMES[k], s->o.noise_max);
        else jw_kv_str(f, OPT_NAMES[k], s->o.raw[k]);
    fputs("},\"child_env\":{\"OPENBLAS_NUM_THREADS\":\"1\"}", f);
    if (!s->o.metric_default) {   /* what summary.csv's metric columns and every table hold */
        fputs(",\"metric\":{\"key\":", f);
        jw_put_str(f, s->metric.key);
        jw_kv_num(f, "work", s->metric.work);
        jw_kv_str(f, "unit", s->metric.unit);
        jw_kv_str(f, "columns", s->metric.is_default ? "tokens_per_s" : "metric");
        fputc('}', f);
    }
    fputs(",\"host\":", f);
    meta_host(f, s);
    fputs(",\"harness\":{\"cc\":", f);
    jw_put_str(f, CLLM_CC);
    jw_kv_str(f, "cflags", CLLM_CFLAGS);
    jw_kv_str(f, "git", CLLM_GIT);
    int pv = pfm_get_version();
    fprintf(f, ",\"libpfm_version\":\"%d.%d\"},\"train_model_build\":%s", PFM_MAJ_VERSION(pv),
            pv & 0xffff, s->build_json ? s->build_json : "null");
    json *b = s->build_json ? json_parse(s->build_json, strlen(s->build_json), NULL, 0) : NULL;
    jw_kv_str(f, "blas", json_str(json_get(b, "blas"), NULL));
    json_free(b);
    int ok = 0;
    for (int i = 0; i < s->nruns; i++) ok += s->runs[i].ok;
    fprintf(f, ",\"points_total\":%d,\"runs_recorded\":%d,\"runs_ok\":%d,\"runs_failed\":%d",
            point_expected(&s->o), s->nruns, ok, s->nruns - ok);
    /* --reps-over: the repetitions of oversubscribed points (null: --reps) */
    if (s->o.reps_over >= 0 && s->o.reps_over < s->o.reps) fprintf(f, ",\"reps_oversubscribed\":%d", s->o.reps_over);
    else fputs(",\"reps_oversubscribed\":null", f);
    /* --steps-over: train_model's steps at oversubscribed points (null: --steps) */
    if (scale_opts_steps_over(&s->o) >= 0) fprintf(f, ",\"steps_oversubscribed\":%d", scale_opts_steps_over(&s->o));
    else fputs(",\"steps_oversubscribed\":null", f);
    fputs(",\"analysis\":{\"memory\":", f);
    stats_write_memory_json(f, mem, nv);
    fputs(",\"noise\":", f);
    meta_noise(f, s);
    fprintf(f, ",\"warnings\":[%s]}}\n", warnings ? warnings : "");
    return atomic_commit(&a, s->out);
}

// ----------------------------------------------------------------------------
// one run

/* Waits for pid: until it exits (0), the timeout passes (1: SIGKILL sent), or
 * SIGINT/SIGTERM arrives (2: SIGTERM sent, SIGKILL after 2 s). SIGCHLD, SIGINT
 * and SIGTERM are blocked while waiting and taken with sigtimedwait, so the
 * exit is seen at once; the child is always reaped, with its rusage. With
 * term_first (mpirun, which cannot pass a SIGKILL on to its ranks) a timeout
 * sends SIGTERM first, and SIGKILL only 5 s later. */
static int wait_child(pid_t pid, double t0, double timeout, int term_first, int *st, struct rusage *ru) {
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, &old);
    int outcome = 0, reaped = 0;
    double deadline = t0 + timeout;
    for (;;) {
        pid_t r = wait4(pid, st, WNOHANG, ru);
        if (r == pid) { reaped = 1; break; }
        if (r < 0 && errno != EINTR) die(1, "wait4 %d: %s", (int)pid, strerror(errno));
        if (g_signal) { outcome = 2; deadline = now_s() + 2.0; break; }
        double left = deadline - now_s();
        if (left <= 0) { outcome = 1; break; }
        if (left > 0.5) left = 0.5;
        struct timespec ts = { (time_t)left, (long)((left - (double)(time_t)left) * 1e9) };
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) g_signal = sig;
    }
    if (!reaped) kill(pid, outcome == 2 || term_first ? SIGTERM : SIGKILL);
    if (!reaped && outcome == 1 && term_first) deadline = now_s() + 5.0;
    while (!reaped && (outcome == 2 || term_first)) {
        if (wait4(pid, st, WNOHANG, ru) == pid) { reaped = 1; break; }
        double left = deadline - now_s();
        if (left <= 0) { kill(pid, SIGKILL); break; }
        struct timespec ts = { 0, (long)(fmin(left, 0.1) * 1e9) };
        sigtimedwait(&set, NULL, &ts);
    }
    while (!reaped && wait4(pid, st, 0, ru) < 0 && errno == EINTR) {}
    sigprocmask(SIG_SETMASK, &old, NULL);
    return outcome;
}

/* The last TAIL_BYTES of a child's output, malloc'ed; NULL when empty. */
static char *file_tail(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    long k = n < TAIL_BYTES ? n : TAIL_BYTES;
    char *buf = k > 0 ? malloc((size_t)k + 1) : NULL;
    if (buf) {
        fseek(f, n - k, SEEK_SET);
        buf[fread(buf, 1, (size_t)k, f)] = '\0';
    }
    fclose(f);
    return buf;
}

/* Adds a record (one parsed runs.jsonl line) to the runs in memory. */
static void runs_add(scale *s, const json *rec) {
    char err[128];
    if (s->nruns == s->caprun) {
        s->caprun = s->caprun ? 2 * s->caprun : 64;
        s->runs = realloc(s->runs, sizeof *s->runs * (size_t)s->caprun);
        if (!s->runs) die(1, "out of memory");
    }
    if (stats_run_from_json(rec, &s->metric, &s->runs[s->nruns], err, sizeof err) != 0)
        die(1, "runs.jsonl: %s", err);
    s->nruns++;
    const json *b = json_path(rec, "report.build");
    if (b && !s->build_json) {
        size_t n;
        FILE *m = open_memstream(&s->build_json, &n);
        json_write(m, b);
        fclose(m);
    }
}

/* The record's placement, outside load and clock fields, in h (from n0, n1:
 * the snapshots around the run; nr receives the outside load). */
static void record_host(const scale *s, stats_record *r, stats_host *h, noise_run *nr,
                        const noise_snap *n0, const noise_snap *n1) {
    const struct rusage *ru = r->ru;
    double child = (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec)
                 + 1e-6 * (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec);
    noise_measure(n0, n1, r->wall_s, child, s->topo.online_cpus, nr);
    h->usable_cpus = s->topo.usable_cpus;
    h->cores = s->topo.affinity_cores;
    h->noise = nr;
    h->noisy = noise_verdict(nr, s->o.noise_max);
    h->nominal_mhz = s->topo.cpufreq.base_mhz;
    h->pin = s->o.raw[OPT_PIN];
    r->host = h;
}

/* Runs one point and appends its record to runs.jsonl (one write, then
 * fsync). Returns 0 when recorded, 1 when interrupted (nothing recorded). */
static int sweep_run(scale *s, int v, int threads, int ranks, int rep, int point) {
    const char *variant = s->o.variants[v];
    char logp[PATH_MAX + 64], err[256] = "";
    int mpi = point_is_mpi(&s->o, v);
    point_cmd pc;
    point_command(&s->o, s->out, v, threads, ranks, rep, &pc);
    const char *report = pc.report;
    /* an mpi point's temp files carry its ranks */
    if (mpi) snprintf(logp, sizeof logp, "%s/.child-%s-%dx%d-%d.log", s->out, variant, ranks, threads, rep);
    else snprintf(logp, sizeof logp, "%s/.child-%s-%d-%d.log", s->out, variant, threads, rep);
    unlink(report);
    int logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (logfd < 0) die(1, "cannot create %s: %s", logp, strerror(errno));

    char start[32];
    utc_time(start, sizeof start, "%Y-%m-%dT%H:%M:%SZ");
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    int st = 0, outcome = 0;
    noise_snap n0, n1;
    noise_sample(&n0, NULL, NULL);
    double t0 = now_s();
    pid_t pid = point_spawn(s->cnt, &pc, logfd, err, sizeof err);
    if (pid > 0) outcome = wait_child(pid, t0, s->o.timeout, mpi, &st, &ru);
    double wall = now_s() - t0;
    noise_sample(&n1, NULL, NULL);
    close(logfd);
    /* interrupted: not recorded, unless the child had already finished cleanly
     * (a terminal's Ctrl-C reaches the child too: its death is no result) */
    if (outcome == 2 || (g_signal && !(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0))) {
        unlink(report);
        unlink(logp);
        point_command_free(&pc);
        return 1;
    }
    if (pid > 0) counters_read(s->cnt);

    const char *status = "failed", *sig = NULL;
    char reason[PATH_MAX + 512] = "", sbuf[16];
    int exit_code = -1;
    json *rj = NULL;
    if (pid <= 0) snprintf(reason, sizeof reason, "%s", err);
    else if (outcome == 1) {
        status = "timeout";
        sig = mpi ? "SIGTERM" : "SIGKILL";
        if (mpi)
            snprintf(reason, sizeof reason, "stopped after %g s (--timeout): SIGTERM to mpirun, which ends "
                     "its ranks (SIGKILL 5 s later if it had not exited)", s->o.timeout);
        else
            snprintf(reason, sizeof reason, "killed after %g s (--timeout)", s->o.timeout);
    } else if (WIFSIGNALED(st)) {
        sig = signal_name(WTERMSIG(st), sbuf, sizeof sbuf);
        snprintf(reason, sizeof reason, "killed by %s", sig);
    } else if ((exit_code = WEXITSTATUS(st)) != 0) {
        snprintf(reason, sizeof reason, "exit code %d", exit_code);
    } else {
        point_check_report(&s->metric, s->o.tmpl[v], report, wall, threads * (ranks > 1 ? ranks : 1), &rj, reason, sizeof reason);
        if (!*reason) status = "ok";
    }
    char *tail = strcmp(status, "ok") != 0 ? file_tail(logp) : NULL;
    unlink(report);
    unlink(logp);

    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    stats_record r = { variant, threads, rep, point, status, exit_code, sig, *reason ? reason : NULL,
                       start, wall, &ru, s->cpus, pc.argv, pc.envv, s->cnt, rj, tail, NULL, ranks,
                       &s->metric };
    noise_run nr;
    stats_host host;
    record_host(s, &r, &host, &nr, &n0, &n1);
    stats_write_record(f, &r);
    fclose(f);
    free(tail);
    json_free(rj);
    point_command_free(&pc);

    for (size_t off = 0; off < len;) {
        ssize_t w = write(s->runs_fd, line + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die(1, "cannot write %s/runs.jsonl: %s", s->out, strerror(errno));
        off += (size_t)w;
    }
    if (fsync(s->runs_fd) != 0) die(1, "cannot fsync %s/runs.jsonl: %s", s->out, strerror(errno));
    char perr[128];
    json *rec = json_parse(line, len, perr, sizeof perr);
    if (!rec) die(1, "internal error: record not valid JSON: %s", perr);
    runs_add(s, rec);
    json_free(rec);
    free(line);
    char rk[32] = "";
    if (mpi) snprintf(rk, sizeof rk, "%d ranks x ", ranks);
    if (strcmp(status, "ok") != 0)
        fprintf(stderr, "%sscale: %s %s%d threads rep %d: %s (%s)\n", isatty(2) ? "\r\033[K" : "",
                variant, rk, threads, rep, status, reason);
    return 0;
}

// ----------------------------------------------------------------------------
// the sweep

/* the index of a point in the grid (rep, variant, threads, rank index) */
static int grid_index(const scale *s, const char *variant, int threads, int ranks, int rep) {
    int v = 0, t = 0, r = 0;
    while (v < s->o.nv && strcmp(s->o.variants[v], variant) != 0) v++;
    while (t < s->o.nt && s->o.threads[t] != threads) t++;
    if (v == s->o.nv) return -1;
    while (r < point_nranks(&s->o, v) && point_rank(&s->o, v, r) != ranks) r++;
    if (t == s->o.nt || r == point_nranks(&s->o, v) || rep < 0 || rep >= s->o.reps) return -1;
    return ((rep * s->o.nv + v) * s->o.nt + t) * s->o.nr + r;
}

static void fmt_secs(char *buf, size_t n, double x) {
    if (!isfinite(x)) snprintf(buf, n, "?");
    else if (x < 120) snprintf(buf, n, "%.0fs", x);
    else snprintf(buf, n, "%dm%02ds", (int)x / 60, (int)x % 60);
}

/* Runs every point not yet recorded, in the interleaved order. Returns 0,
 * or the signal that interrupted it. */
static int sweep(scale *s) {
    int total = point_total(&s->o), todo = point_expected(&s->o), done_now = 0;
    char *done = calloc((size_t)(s->o.reps * s->o.nv * s->o.nt * s->o.nr), 1);
    for (int i = 0; i < s->nruns; i++) {
        int g = grid_index(s, s->runs[i].variant, s->runs[i].threads, s->runs[i].ranks > 1 ? s->runs[i].ranks : 1,
                           s->runs[i].rep);
        if (g >= 0 && !done[g]) { done[g] = 1; todo -= !point_skipped(&s->o, s->runs[i].rep, g / s->o.nr % s->o.nt,
                                                                          g / s->o.nr / s->o.nt % s->o.nv, g % s->o.nr); }
    }
    int tty = isatty(2), sig = 0;
    double t_start = now_s();
    for (int point = 0; point < total && !sig; point++) {
        int rep, t, v, r;
        point_order(&s->o, point, &rep, &t, &v, &r);
        int ranks = point_rank(&s->o, v, r);
        if (done[((rep * s->o.nv + v) * s->o.nt + t) * s->o.nr + r]) continue;
        if (point_skipped(&s->o, rep, t, v, r)) continue;
        if (g_signal) { sig = g_signal; break; }
        if (tty && !s->o.quiet) {
            char el[16], eta[16], rk[32] = "";
            double e = now_s() - t_start;
            fmt_secs(el, sizeof el, e);
            fmt_secs(eta, sizeof eta, done_now ? e / done_now * (todo - done_now) : NAN);
            if (point_is_mpi(&s->o, v)) snprintf(rk, sizeof rk, "%d ranks x ", ranks);
            fprintf(stderr, "\r[%d/%d] %s %s%d threads rep %d  elapsed %s  ETA %s\033[K",
                    done_now + 1, todo, s->o.variants[v], rk, s->o.threads[t], rep, el, eta);
        }
        double p0 = now_s();
        if (sweep_run(s, v, s->o.threads[t], ranks, rep, point)) sig = g_signal;
        done_now++;
        if (!tty && !s->o.quiet && !sig) {
            /* not a terminal (a log, a pipe): one plain line per finished point */
            char el[16], eta[16], rk[32] = "";
            double e = now_s() - t_start;
            fmt_secs(el, sizeof el, e);
            fmt_secs(eta, sizeof eta, e / done_now * (todo - done_now));
            if (point_is_mpi(&s->o, v)) snprintf(rk, sizeof rk, "%d ranks x ", ranks);
            fprintf(stderr, "scale: [%d/%d] %s %s%d threads rep %d done in %.1fs%s  elapsed %s  ETA %s\n",
                    done_now, todo, s->o.variants[v], rk, s->o.threads[t], rep, now_s() - p0,
                    s->o.threads[t] * ranks > s->topo.usable_cpus ? " (oversubscribed)" : "", el, eta);
        }
    }
    if (!sig) sig = g_signal;
    if (tty && !s->o.quiet && todo) fputc('\n', stderr);
    free(done);
    return sig;
}

// ----------------------------------------------------------------------------
// resume

/* Reads DIR/meta.json: options given on the command line must equal the
 * stored ones (else exit 2, naming the option); the others are taken from it. */
/* train_model's configs and limits (facts.h) from the train_model under
 * bin_dir. None there leaves them unknown (a sweep of --command templates
 * only; a train_model variant then fails point_check_programs); one that
 * does not describe itself (a stand-in, an old build) too, with a warning:
 * each run's train_model still checks its own options. */
static void read_facts(scale *s, const char *bin_dir) {
    char err[1024];
    if (facts_read(&s->o.facts, bin_dir, err, sizeof err) != 0 && strncmp(err, "no train_model", 14) != 0)
        fprintf(stderr, "scale: warning: %s: --config and the thread and rank limits are left to each "
                "run's train_model\n", err);
}

static void resume_options(scale *s, const char *dir) {
    static char err[65536];    /* messages quote stored and given option values */
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    json *meta = json_parse_file(path, err, sizeof err);
    if (!meta) die(1, "--resume %s: cannot read %s: %s", dir, path, err);
    read_facts(s, s->o.given[OPT_BIN_DIR] ? s->o.raw[OPT_BIN_DIR]
                  : json_str(json_path(meta, "options.bin-dir"), s->o.raw[OPT_BIN_DIR]));
    int r = scale_opts_resume(&s->o, meta, dir, err, sizeof err);
    if (r != 0) {
        json_free(meta);
        die(r == -1 ? 1 : 2, "%s", err);
    }
    const char *first = json_str(json_get(meta, "first_start_time"), json_str(json_get(meta, "start_time"), NULL));
    if (first) snprintf(s->first_start, sizeof s->first_start, "%s", first);
    json_free(meta);
}

static void resume_add(void *ctx, const json *rec) { runs_add(ctx, rec); }

// ----------------------------------------------------------------------------
// results

/* runs.csv into the run folder and, with --export-hyperfine FILE, hyperfine's
 * JSON into FILE, both atomically. Returns 0, or -1 (said on stderr). */
static int write_exports(scale *s) {
    char runs[PATH_MAX + 16], err[PATH_MAX + 256] = "";
    snprintf(runs, sizeof runs, "%s/runs.jsonl", s->out);
    atomic_file a;
    int bad = 0;
    FILE *f = atomic_open(&a, s->out, "runs.csv");
    int r = f ? export_runs_csv(f, runs, s->cnt, &s->metric, err, sizeof err) : -1;
    if (f && r != 0) afile_abort(&a);
    if (!f || r != 0 || atomic_commit(&a, s->out) != 0) {
        fprintf(stderr, "scale: cannot write %s/runs.csv: %s\n", s->out, *err ? err : strerror(errno));
        bad = -1;
    }
    const char *hf = s->o.raw[OPT_EXPORT_HYPERFINE];
    if (!hf) return bad;
    char dir[PATH_MAX], name[PATH_MAX];
    const char *slash = strrchr(hf, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash == hf ? 1 : slash - hf) : 1, slash ? hf : ".");
    snprintf(name, sizeof name, "%s", slash ? slash + 1 : hf);
    *err = '\0';
    f = *name ? atomic_open(&a, dir, name) : NULL;
    r = f ? export_hyperfine(f, runs, s->o.variants, s->o.nv, s->o.threads, s->o.nt, err, sizeof err) : -1;
    if (f && r != 0) afile_abort(&a);
    if (!f || r != 0 || atomic_commit(&a, dir) != 0) {
        fprintf(stderr, "scale: cannot write --export-hyperfine %s: %s\n", hf, *err ? err : strerror(errno));
        bad = -1;
    }
    return bad;
}

/* Writes summary.csv, memory.csv and meta.json and prints the table.
 * Returns 0, or -1 when a file could not be written. */
static int finish(scale *s, const char *status) {
    int nv = s->o.nv, nt = s->o.nt, bad = 0, np = 0, nm = 0;
    /* points variant-major, then by rank count, then by threads: each
     * (variant, ranks) group's nt points side by side for its memory fit */
    stats_point *pts = calloc((size_t)(nv * nt * s->o.nr), sizeof *pts);
    stats_memory *mem = calloc((size_t)(nv * s->o.nr), sizeof *mem);
    if (!pts || !mem) die(1, "out of memory");
    for (int v = 0; v < nv; v++)
        for (int r = 0; r < point_nranks(&s->o, v); r++)
            for (int t = 0; t < nt; t++, np++) {
                snprintf(pts[np].variant, sizeof pts[np].variant, "%s", s->o.variants[v]);
                pts[np].threads = s->o.threads[t];
                pts[np].ranks = point_rank(&s->o, v, r);
            }
    stats_summarize_points(s->runs, s->nruns, pts, np, s->topo.usable_cpus);
    stats_mark_points(pts, np, s->runs, s->nruns, s->topo.affinity_cores, s->topo.usable_cpus,
                      s->o.noise_max);
    for (int g = 0; g < np; g += nt) stats_memory_fit(&pts[g], nt, &mem[nm++]);
    /* strong scaling: each worker's context holds B/N sequences, so the
     * slope of peak RSS over N is no per-thread size (the analysis compares
     * analytic total and peak RSS point by point instead) */
    if (strcmp(s->o.raw[OPT_SCALING], "strong") == 0)
        for (int m = 0; m < nm; m++) mem[m].measured = mem[m].intercept = NAN;

    char *warn = NULL;
    size_t wn;
    FILE *w = open_memstream(&warn, &wn);
    stats_warnings(pts, np, &s->metric, stderr, w);
    fclose(w);

    atomic_file a;
    FILE *f = atomic_open(&a, s->out, "summary.csv");
    if (f) stats_write_summary_csv(f, pts, np, &s->metric);   /* errors: ferror, seen by the commit */
    if (!f || atomic_commit(&a, s->out) != 0) {
        fprintf(stderr, "scale: cannot write %s/summary.csv: %s\n", s->out, strerror(errno));
        bad = -1;
    }
    f = atomic_open(&a, s->out, "memory.csv");
    if (f) stats_write_memory_csv(f, mem, nm);
    if (!f || atomic_commit(&a, s->out) != 0) {
        fprintf(stderr, "scale: cannot write %s/memory.csv: %s\n", s->out, strerror(errno));
        bad = -1;
    }
    if (write_exports(s) != 0) bad = -1;
    char end[32];
    utc_time(end, sizeof end, "%Y-%m-%dT%H:%M:%SZ");
    if (meta_write(s, status, end, mem, nm, warn) != 0) {
        fprintf(stderr, "scale: cannot write %s/meta.json: %s\n", s->out, strerror(errno));
        bad = -1;
    }
    stats_print_table(stdout, pts, np, mem, nm, s->topo.usable_cpus, &s->metric);
    printf("results in %s (%s)\n", s->out, status);
    fflush(stdout);
    free(warn);
    free(pts);
    free(mem);
    return bad;
}

/* Before an mpi sweep: mpirun must run, as root only with Open MPI's two
 * variables set, and --mpirun-args must fit. */
static void check_mpirun(const scale *s) {
    const char *m = s->o.raw[OPT_MPIRUN_ARGS];
    int words = 0;
    for (const char *c = m; c && *c; c++) words += *c != ' ' && (c == m || c[-1] == ' ');
    if (words > POINT_MPIRUN_WORDS) die(2, "--mpirun-args: %d words, more than %d", words, POINT_MPIRUN_WORDS);
    if (geteuid() == 0 && !(getenv("OMPI_ALLOW_RUN_AS_ROOT") && getenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM")))
        die(1, "the mpi variant runs under mpirun, and Open MPI refuses to run as root unless "
            "OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are in the environment "
            "(set both to allow it, as CI does; bench/RESULTS.md)");
    char *argv[] = { "mpirun", "--version", NULL };
    char err[256];
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_t pid = counters_spawn(NULL, argv, devnull, devnull, err, sizeof err);
    int st = 0;
    if (pid > 0) while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (devnull >= 0) close(devnull);
    if (pid <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die(1, "the mpi variant needs mpirun: %s (install openmpi-bin: scripts/deps.sh)",
            pid <= 0 ? err : "mpirun --version failed");
}

/* scale --machine PATH: the sweep's plan on that machine, run nothing. One
 * JSON object: the machine's topology (build/topo's), then per thread count
 * the usable-CPU verdict and train_model --machine --pin-plan's plan (the
 * core plans; scale only drives it through its CLI). */
static int machine_plan(scale *s) {
    const char *pin = s->o.raw[OPT_PIN] && strcmp(s->o.raw[OPT_PIN], "none") ? s->o.raw[OPT_PIN] : "cores";
    printf("{\"machine\":");
    topo_write_json(stdout, &s->topo);
    printf(",\"pin\":");
    jw_put_str(stdout, pin);
    printf(",\"points\":[");
    for (int i = 0; i < s->o.nt; i++) {
        int n = s->o.threads[i];
        char tn[16], bin[PATH_MAX];
        snprintf(tn, sizeof tn, "%d", n);
        snprintf(bin, sizeof bin, "%s/train_model", s->o.raw[OPT_BIN_DIR]);
        fflush(stdout);
        printf("%s{\"threads\":%d,\"usable_cpus\":%d", i ? "," : "", n, s->topo.usable_cpus);
        jw_kv_bool(stdout, "oversubscribed", n > s->topo.usable_cpus);
        printf(",\"plan\":");
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            execl(bin, bin, "--machine", s->o.machine, "--threads", tn, "--pin", pin, "--pin-plan", "--config",
                  s->o.raw[OPT_CONFIG], (char *)NULL);
            fprintf(stderr, "scale: cannot run %s: %s\n", bin, strerror(errno));
            _exit(127);
        }
        int st = 0;
        while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("null}]}\n");
            fprintf(stderr, "scale: --machine %s: train_model --pin-plan failed at --threads %d\n", s->o.machine, n);
            return WIFEXITED(st) && WEXITSTATUS(st) == 2 ? 2 : 1;
        }
        printf("}");
    }
    printf("]}\n");
    return fflush(stdout) == 0 ? 0 : 1;
}

/* The topology (meta.json host.topology) and the usable CPUs every point is
 * judged against; says so when a cgroup quota lowers them. */
static void read_topology(scale *s) {
    char err[1024];
    if (topo_read_machine(&s->topo, s->o.machine, err, sizeof err) != 0)
        die(s->o.machine ? 2 : 1, "cannot read the topology: %s", err);
    const topo_cgroup *g = &s->topo.cgroup;
    if (g->error[0]) fprintf(stderr, "scale: warning: cgroup CPU quota unreadable: %s\n", g->error);
    if (s->topo.usable_cpus < s->cpus)
        fprintf(stderr, "scale: %d usable CPUs: the cgroup quota (%.2f CPUs at %s) is below the %d "
                "of the affinity mask\n", s->topo.usable_cpus, g->quota_cpus, g->limit_at, s->cpus);
}

int main(int argc, char **argv) {
    static scale s;
    static char oerr[65536];   /* messages quote option values */
    int r = scale_opts_parse(&s.o, argc, argv, oerr, sizeof oerr);
    if (r == 1 || (r == 0 && s.o.default_out)) {   /* the facts for --help's lists, best effort */
        char ferr[1024];
        facts_read(&s.o.facts, s.o.raw[OPT_BIN_DIR] ? s.o.raw[OPT_BIN_DIR] : "build", ferr, sizeof ferr);
        if (r == 1) usage(stdout, &s.o.facts);
        else {
            default_out(s.out, sizeof s.out);
            puts(s.out);
        }
        exit(0);
    }
    if (r == 0 && !s.o.given[OPT_RESUME]) read_facts(&s, s.o.raw[OPT_BIN_DIR]);
    /* --resume validates after taking the stored options (scale_opts_resume) */
    if (r != 0 || (!s.o.given[OPT_RESUME] && scale_opts_validate(&s.o, oerr, sizeof oerr) != 0)) die(2, "%s", oerr);
    s.argc = argc;
    s.argv = argv;
    size_t cn;
    FILE *m = open_memstream(&s.command, &cn);
    for (int i = 0; i < argc; i++) fprintf(m, "%s%s", i ? " " : "", argv[i]);
    fclose(m);
    utc_time(s.start_time, sizeof s.start_time, "%Y-%m-%dT%H:%M:%SZ");
    memcpy(s.first_start, s.start_time, sizeof s.first_start);
    /* the child's OpenBLAS starts no thread pool of its own (train_model
     * runs BLAS single-threaded in each worker), so train_model does not
     * re-exec itself to set this: the same process at every thread count */
    if (setenv("OPENBLAS_NUM_THREADS", "1", 1) != 0) die(1, "setenv OPENBLAS_NUM_THREADS: %s", strerror(errno));
    cpu_set_t cs;
    s.cpus = sched_getaffinity(0, sizeof cs, &cs) == 0 ? CPU_COUNT(&cs) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (s.o.machine && s.o.given[OPT_RESUME])
        die(2, "--machine %s: scale only plans on a snapshot; --resume runs on this machine", s.o.machine);
    read_topology(&s);
    if (s.o.machine) {   /* plan only: nothing runs, nothing is written */
        s.cpus = s.topo.affinity_cpus;
        exit(machine_plan(&s));
    }

    if (s.o.given[OPT_RESUME]) {
        resume_options(&s, s.o.raw[OPT_RESUME]);
        snprintf(s.out, sizeof s.out, "%s", s.o.raw[OPT_RESUME]);
        s.resumed = 1;
    } else if (s.o.given[OPT_OUT]) {
        snprintf(s.out, sizeof s.out, "%s", s.o.raw[OPT_OUT]);
    } else {
        default_out(s.out, sizeof s.out);
    }

    s.metric = (stats_metric){ s.o.metric_key, s.o.work, strcmp(s.o.raw[OPT_SCALING], "strong") == 0, s.o.unit,
                               s.o.metric_key && !strcmp(s.o.metric_key, "tokens_per_s") && !strcmp(s.o.unit, "tokens/s") };
    /* check everything before the first run */
    char perr[PATH_MAX + 512];
    /* the machine the mpi variant's mapping is chosen for */
    s.o.cores = s.topo.affinity_cores;
    s.o.usable_cpus = s.topo.usable_cpus;
    int any_mpi = 0;
    for (int v = 0; v < s.o.nv; v++) any_mpi |= point_is_mpi(&s.o, v);
    if (any_mpi && !s.o.dry_run) check_mpirun(&s);
    int prc = point_check_programs(&s.o, s.out, perr, sizeof perr);
    if (prc) die(prc, "%s", perr);
    if (s.o.dry_run) { point_dry_run(stdout, &s.o, s.out); exit(0); }
    struct stat st;
    if (s.o.raw[OPT_DATA] && stat(s.o.raw[OPT_DATA], &st) != 0)
        die(1, "--data %s: %s", s.o.raw[OPT_DATA], strerror(errno));
    char err[256];
    if (!(s.cnt = counters_create(s.o.raw[OPT_EVENTS], err, sizeof err))) die(2, "--events: %s", err);
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/.probe-XXXXXX", s.out);
    int pfd = -1;
    if (mkdir_p(s.out) != 0 || (pfd = mkstemp(probe)) < 0)
        die(1, "cannot write to the output folder %s: %s", s.out, strerror(errno));
    close(pfd);
    unlink(probe);
    char runs_path[PATH_MAX + 16];
    snprintf(runs_path, sizeof runs_path, "%s/runs.jsonl", s.out);
    if (s.resumed) {
        if (stats_read_runs(runs_path, resume_add, &s, err, sizeof err) < 0) die(1, "%s", err);
    } else if (stat(runs_path, &st) == 0)
        die(1, "output folder %s already holds runs.jsonl: use --resume %s or another --out", s.out, s.out);
    s.runs_fd = open(runs_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s.runs_fd < 0) die(1, "cannot open %s: %s", runs_path, strerror(errno));

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_child;
    sigaction(SIGCHLD, &sa, NULL);

    if (meta_write(&s, "running", NULL, NULL, 0, NULL) != 0)
        die(1, "cannot write %s/meta.json: %s", s.out, strerror(errno));
    int sig = sweep(&s);
    int total = point_expected(&s.o), failed = 0;
    for (int i = 0; i < s.nruns; i++) failed += !s.runs[i].ok;
    int bad = finish(&s, sig ? "interrupted" : s.nruns < total ? "incomplete" : "complete");
    close(s.runs_fd);
    counters_free(s.cnt);
    topo_free(&s.topo);
    if (sig) {
        fprintf(stderr, "scale: interrupted by %s after %d of %d runs; finish with: scale --resume %s\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM", s.nruns, total, s.out);
        return 128 + sig;
    }
    if (bad) return 1;
    if (failed) {
        fprintf(stderr, "scale: %d of %d runs failed (see %s/runs.jsonl)\n", failed, s.nruns, s.out);
        return 1;
    }
    return 0;
}
