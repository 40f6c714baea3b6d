/*
 * train_model.c - the command line: load data, build or resume a model,
 * train it with N worker threads, print progress, save a checkpoint and
 * write the JSON report (core/REPORT.md).
 *
 * Under mpirun (the MPI variant, build/mpi/train_model) every rank runs this
 * with the same command line and N threads of its own; rank 0 prints, saves
 * and reports. A failure on any rank ends every rank (comm_abort).
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage error.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "afile.h"
#include "ckpt.h"
#include "cli.h"
#include "comm.h"
#include "config.h"
#include "data.h"
#include "describe.h"
#include "pin.h"
#include "plan.h"
#include "report.h"
#include "trace.h"
#include "trainer.h"
#include "util.h"

#define STOP_GRACE_DEFAULT_S 5

static void usage(FILE *f) {
    char blas_max[32] = "no limit of its own", configs[256];
    config_list(configs, sizeof configs, " ");
    if (blas_threads_max() > 0) snprintf(blas_max, sizeof blas_max, "at most %d", blas_threads_max());
    fprintf(f,
"usage: train_model [DATA] [options]          (variant: %s)\n"
"  DATA                 a text file or a directory read recursively;\n"
"                       none = a built-in synthetic corpus\n"
"  --config NAME        %s (default %s)\n"
"  --V --C --L --NH --F N   override one field of the config\n"
"  --seq T              sequence length\n"
"  --batch B            sequences per worker per step (weak scaling) or the\n"
"                       global batch (strong scaling)\n"
"  --threads N          worker threads, 1..%d (default 1; this BLAS: %s)\n"
"  --scaling weak|strong   (default weak: every worker takes B sequences)\n"
"  --steps S            steps to run (default 20)   --epochs E  passes over the training split\n"
"  --lr X (1e-3)  --min-lr-frac X (0.1)  --warmup N (10)  --lr-steps N (cosine horizon,\n"
"                       default: the last step of this run)  --wd X (0.1)  --clip X (1.0)\n"
"  --seed N             initialisation and batch sampling (default 1337)\n"
"  --tokenizer bytes|words   (default bytes)\n"
"  --overlap on|off     MPI variant, several ranks: exchange the gradients in\n"
"                       buckets (a layer each) while backward runs, and gather the\n"
"                       updated parameters while the next forward runs, layer by\n"
"                       layer (default off; the same bits either way)\n"
"  --recompute none|layers   activation checkpointing: layers keeps only each\n"
"                       layer's input and recomputes its forward in backward\n"
"                       (less memory, same results; default none)\n"
"  --eval-batches N     validation batches after training (default 2, 0 = none)\n"
"  --save FILE          checkpoint at the end (and on SIGINT/SIGTERM), written atomically\n"
"                       and durably (core/CHECKPOINT.md)\n"
"  --save-every N       also write it after every N-th step (steps counted from the first\n"
"                       run, so a resumed run keeps the same ones)\n"
"  --save-every-s S     also write it when S seconds have passed since the last write\n"
"                       (both may be given: whichever comes first); a crash or SIGKILL\n"
"                       then loses at most the steps since the last one\n"
"  --resume FILE        continue from a checkpoint: config, vocabulary, seed and training\n"
"                       options (lr, warmup, cosine horizon, wd, clip, scaling) come from it;\n"
"                       a flag given for one of them overrides it (and says so)\n"
"  --report FILE        JSON report (fields: core/REPORT.md)\n"
"  --memory-table       print the memory table for the config and thread count, then exit\n"
"  --describe [--ranks R]   print this build's configs, limits, build facts and the\n"
"                       memory table of the shape given (R ranks of --threads each) as\n"
"                       JSON, then exit (fields: core/REPORT.md)\n"
"  --quiet              no per-step progress lines\n"
"  --no-timing          do not read the per-phase clocks\n"
"  --pin none|cores|scatter|LIST   bind worker i to one CPU (default none; README):\n"
"                       cores: physical cores first, then SMT siblings; scatter: round-robin\n"
"                       over NUMA nodes / packages; LIST: CPU numbers and ranges (0,2,4-7),\n"
"                       entry i for worker i, cycled when shorter, extra entries unused;\n"
"                       cores/scatter with more workers than CPUs wrap around (a warning)\n"
"  --pin-plan           print the plan as JSON (each worker's PU, core, package, NUMA node,\n"
"                       core kind, and the node of its buffers and parameter slice) and exit\n"
"  --machine PATH       with --pin-plan: plan on an hwloc snapshot folder or XML file\n"
"                       (hwloc-gather-topology's) instead of this machine; nothing is bound\n"
"  --phase-counters EVENTS   per-thread perf events read at every phase boundary, per\n"
"                       worker and phase in the report (comma list, at most %d of:\n"
"                       %s)\n"
"  --trace FILE         a timeline of every worker's phases per step, forward and backward\n"
"                       per layer (Chrome Trace Event JSON: open it in ui.perfetto.dev or\n"
"                       chrome://tracing; README)\n"
"  --trace-steps A:B    trace only steps A..B (as the progress lines number them); a trace\n"
"                       that would pass 100 MB is refused before training without it\n"
"  --help\n"
"signals: SIGINT/SIGTERM stop after the step in flight, or at the next validation batch,\n"
"  save the last completed step and exit 128+signal; a signal while the checkpoint or the\n"
"  report is written lets it finish. If the step in flight does not finish within the grace\n"
"  period (CLLM_STOP_GRACE_S seconds, default %d, at least 3x the longest step so far), exit 1\n"
"  without saving (the previous checkpoint stays as it was); a second signal exits at once\n"
"  (128+signal), the checkpoint being written, if any, left as it was\n"
"exit codes: 0 ok, 1 runtime failure, 2 usage error, 128+N stopped by signal N\n",
            build_variant(), configs, CONFIG_DEFAULT, THREADS_MAX, blas_max, PERFEV_MAX, perfev_all_names(), STOP_GRACE_DEFAULT_S);
}

/* the job's ranks (one without MPI); a failure on one rank ends them all */
static comm_t *g_comm;

/* "train_model: ", or "train_model (rank R of N): " under MPI */
static void say_prefix(void) {
    if (comm_size(g_comm) > 1) fprintf(stderr, "train_model (rank %d of %d): ", comm_rank(g_comm), comm_size(g_comm));
    else fprintf(stderr, "train_model: ");
}

static void die_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    say_prefix();
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(train_model --help lists the options)\n");
    va_end(ap);
    comm_abort(g_comm, 2);
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    say_prefix();
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    comm_abort(g_comm, 1);
}

/* ---- stop signals. The first SIGINT/SIGTERM asks the loop to stop after
 * the step in flight (then the checkpoint and report are written), and arms
 * an alarm: a step that does not end within the grace period is stuck, and
 * the process exits 1 without saving. A second signal exits at once. Either
 * way the temp file of a write in progress is removed. Once the steps are
 * done (`finishing`: validation checks the flag at every batch) or while a
 * periodic checkpoint is written (`writing`), a first signal arms no alarm:
 * the writes are let finish. */
static volatile sig_atomic_t stop_signal, finishing, writing;
static volatile sig_atomic_t grace_s = STOP_GRACE_DEFAULT_S;

static void say(const char *s) {         /* async-signal-safe */
    size_t n = 0;
    while (s[n]) n++;
    ssize_t w = write(2, s, n);
    (void)w;
}

static void on_signal(int sig) {
    if (stop_signal) {
        afile_unlink_pending();
        say("train_model: a second stop signal: exiting at once, nothing saved\n");
        _exit(128 + sig);
    }
    stop_signal = sig;
    if (!finishing && !writing) {
        say("train_model: stop signal: stopping after the step in flight (a second signal exits at once)\n");
        alarm((unsigned)grace_s);
    } else {
        say("train_model: stop signal: stopping once the validation batch or the write in flight "
            "is done (a second signal exits at once)\n");
    }
}

static void on_alarm(int sig) {
    (void)sig;
    afile_unlink_pending();
    say("train_model: the step in flight did not finish within the grace period after the stop "
        "signal (CLLM_STOP_GRACE_S): exiting, nothing saved\n");
    _exit(1);
}

/* the grace period of a stop signal: CLLM_STOP_GRACE_S (seconds, default
 * STOP_GRACE_DEFAULT_S), and at least 3x the longest step so far */
static int grace_base(void) {
    const char *s = getenv("CLLM_STOP_GRACE_S");
    long v = s && *s ? atol(s) : STOP_GRACE_DEFAULT_S;
    return v >= 1 && v <= 86400 ? (int)v : STOP_GRACE_DEFAULT_S;
}

/* --resume: take the checkpoint's training options, except those given as
 * flags; one line names each flag that changes the checkpoint's value. A
 * version 1 checkpoint holds the seed only (core/CHECKPOINT.md). */
static void resume_opts(train_opts *opt, unsigned given, const ckpt_t *ck, const char *path) {
    char msg[1024] = "";
    size_t k = 0;
#define OVERRIDE(bit, flag, field, fmt, cast)                                          \
    do {                                                                               \
        if (!(given & (bit))) opt->field = ck->opt.field;                              \
        else if (opt->field != ck->opt.field && k < sizeof msg)                        \
            k += (size_t)snprintf(msg + k, sizeof msg - k, "%s " flag " " fmt " (checkpoint: " fmt ")", \
                                  k ? "," : "", (cast)opt->field, (cast)ck->opt.field); \
    } while (0)
    OVERRIDE(CLI_SEED, "--seed", seed, "%llu", unsigned long long);
    if (ck->has_opts) {
        OVERRIDE(CLI_LR, "--lr", lr, "%g", double);
        OVERRIDE(CLI_MIN_LR_FRAC, "--min-lr-frac", min_lr_frac, "%g", double);
        OVERRIDE(CLI_WARMUP, "--warmup", warmup, "%d", int);
        OVERRIDE(CLI_LR_STEPS, "--lr-steps", lr_steps, "%ld", long);
        OVERRIDE(CLI_WD, "--wd", wd, "%g", double);
        OVERRIDE(CLI_CLIP, "--clip", clip, "%g", double);
        if (!(given & CLI_SCALING)) opt->strong = ck->opt.strong;
        else if (opt->strong != ck->opt.strong && k < sizeof msg)
            k += (size_t)snprintf(msg + k, sizeof msg - k, "%s --scaling %s (checkpoint: %s)", k ? "," : "",
                                  opt->strong ? "strong" : "weak", ck->opt.strong ? "strong" : "weak");
        opt->beta1 = ck->opt.beta1;
        opt->beta2 = ck->opt.beta2;
        opt->eps = ck->opt.eps;
    }
#undef OVERRIDE
    if (k) fprintf(stderr, "train_model: --resume %s: flags override the checkpoint's options:%s\n", path, msg);
    if (!ck->has_opts)
        fprintf(stderr, "train_model: --resume %s: a version 1 checkpoint holds the seed but no other "
                "training option: lr, warmup, cosine horizon, wd, clip and scaling come from the "
                "flags and their defaults\n", path);
}

/* check early that a file can be written where asked, so a long run does not
 * end in an error */
static void probe_writable(const char *what, const char *path) {
    char err[PATH_MAX + 256];
    if (afile_probe(path, err, sizeof err) != 0) die("%s: %s", what, err);
}

/* Under MPI every rank must train the same thing: the same command line
 * (argv[1..]), the same tokens and, on --resume, the same checkpoint. Rank
 * 0's hashes go to every rank; a rank that differs says what differs and
 * the job ends: exit 2 for the command line, 1 for the data. */
static void ranks_agree(int argc, char **argv, const int *tok, size_t ntok, const ckpt_t *ck) {
    uint64_t h[3] = { CKPT_HASH_INIT, CKPT_HASH_INIT, CKPT_HASH_INIT }, h0[3];
    for (int i = 1; i < argc; i++) h[0] = ckpt_hash(h[0], argv[i], strlen(argv[i]) + 1);
    h[1] = ckpt_hash(h[1], tok, ntok * sizeof *tok);
    if (ck) {
        h[2] = ckpt_hash(h[2], ck->params, ck->nparams * sizeof(float));
        h[2] = ckpt_hash(h[2], ck->m, ck->nparams * sizeof(float));
        h[2] = ckpt_hash(h[2], ck->v, ck->nparams * sizeof(float));
    }
    memcpy(h0, h, sizeof h);
    comm_bcast(g_comm, h0, sizeof h0);
    static const char *const what[3] = { "its command line", "its training tokens (the data or the tokenizer)",
                                         "the checkpoint it resumes from" };
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        if (h[k] == h0[k]) continue;
        say_prefix();
        fprintf(stderr, "%s differs from rank 0's: every rank must train the same thing\n", what[k]);
        if (!bad) bad = k == 0 ? 2 : 1;
    }
    int any = comm_max_int(g_comm, bad);
    if (any) comm_abort(g_comm, any);
}

/* The training tokens: DATA (or the synthetic corpus) encoded by the
 * tokenizer built from it (or, on --resume with words, the checkpoint's
 * vocabulary). Exits on failure: 2 for a tokenizer that cannot be built
 * from the user's data and options, 1 otherwise. */
static int *load_tokens(const char *data_path, const char *tokname, int V, const ckpt_t *ck,
                        const char *resume, int lead, tokenizer_t *tk, size_t *ntok) {
    char err[1024];
    text_t text;
    if (data_path) {
        if (text_load(&text, data_path, err, sizeof err) != 0) die("%s", err);
        if (text.skipped_nul && lead)
            fprintf(stderr, "train_model: skipped %d file(s) holding NUL bytes under %s\n",
                    text.skipped_nul, data_path);
        if (text.skipped_dirs && lead)
            fprintf(stderr, "train_model: skipped %d link(s) to a directory already read under %s "
                    "(symlink loops): each directory is read once\n", text.skipped_dirs, data_path);
    } else if (text_synthetic(&text, 42, 1 << 19) != 0) {
        die("cannot allocate %d bytes for the synthetic corpus", (1 << 19) + 256);
    }
    int tkind = strcmp(tokname, "words") == 0 ? TOK_WORDS : TOK_BYTES;
    if (ck && tkind == TOK_WORDS) {
        if (tokenizer_from_words(tk, ck->vocab, ck->vocab_bytes, ck->tok_words, err, sizeof err) != 0)
            die("checkpoint %s: %s", resume, err);
    } else if (tokenizer_build(tk, tkind, text.text, text.len, V, err, sizeof err) != 0) {
        if (resume) die("checkpoint %s: %s", resume, err);
        die_usage("%s", err);
    }
    int *tok = tokenizer_encode(tk, text.text, text.len, ntok);
    if (!tok) die("cannot allocate %zu bytes for the token array", (text.len + 16) * sizeof(int));
    text_free(&text);
    return tok;
}

/* the stop flag, the same on every rank (the largest signal number any saw) */
static int stop_agreed(void) { return comm_size(g_comm) > 1 ? comm_max_int(g_comm, stop_signal) : stop_signal; }

/* ---- checkpoints: --save at the end, and periodically with --save-every
 * N (after every step that is a multiple of N, counted from the first run)
 * and --save-every-s S (when S seconds have passed since the last write, by
 * rank 0's clock). Under MPI every rank takes part (the Adam moments are
 * gathered to rank 0, which writes). */
typedef struct {
    const char *path;
    long every;
    double every_s, last_t;   /* the time of the last write (or of the start) */
    long saved;               /* steps done at the last written checkpoint, -1 none */
    float *m_all, *v_all;     /* rank 0 under MPI: the gathered moments */
} saver_t;

/* dies when the gather buffers cannot be allocated */
static void saver_init(saver_t *sv, const char *path, long every, double every_s, size_t np) {
    memset(sv, 0, sizeof *sv);
    sv->path = path;
    sv->every = every;
    sv->every_s = every_s;
    sv->last_t = time_wall();
    sv->saved = -1;
    if (path && comm_size(g_comm) > 1 && comm_rank(g_comm) == 0) {
        sv->m_all = xmalloc(np * sizeof(float));
        sv->v_all = xmalloc(np * sizeof(float));
        if (!sv->m_all || !sv->v_all)
            die("--save %s: cannot allocate %zu bytes to gather the Adam moments of %d ranks",
                path, 2 * np * sizeof(float), comm_size(g_comm));
    }
}

static void saver_free(saver_t *sv) {
    free(sv->m_all);
    free(sv->v_all);
}

/* whether a periodic checkpoint is due now, the same answer on every rank */
static int saver_due(saver_t *sv, long step) {
    int due = sv->every > 0 && step > 0 && step % sv->every == 0;
    if (sv->every_s > 0) {
        int late = comm_rank(g_comm) == 0 && time_wall() - sv->last_t >= sv->every_s;
        if (comm_size(g_comm) > 1) late = comm_max_int(g_comm, late);
        due |= late;
    }
    return due && step != sv->saved;
}

/* Write the checkpoint of the trainer's state now. 0, or -1 after rank 0
 * said why on stderr (every rank returns the same, so they all agree on
 * what has been saved and call the collective gather together). */
static int saver_write(saver_t *sv, trainer_t *t, const config_t *cfg, const tokenizer_t *tk,
                       const train_opts *opt) {
    size_t np = trainer_nparams(t);
    float *m = trainer_adam_m(t), *v = trainer_adam_v(t);
    if (comm_size(g_comm) > 1) {        /* rank 0 writes one file with every rank's moments */
        trainer_gather_moments(t, sv->m_all, sv->v_all);
        m = sv->m_all;
        v = sv->v_all;
    }
    int rc = 0;
    char err[PATH_MAX + 512];
    if (comm_rank(g_comm) == 0 &&
        ckpt_save(sv->path, cfg, tk, trainer_steps_done(t), opt, trainer_params(t), m, v, np, err, sizeof err) != 0) {
        fprintf(stderr, "train_model: %s\n", err);
        rc = -1;
    }
    if (comm_size(g_comm) > 1) rc = -comm_max_int(g_comm, -rc);
    sv->last_t = time_wall();
    if (rc == 0) sv->saved = trainer_steps_done(t);
    return rc;
}

/* Validation, batch by batch: a stop signal ends it before the next batch,
 * on every rank at the same one. The mean loss, or NaN when it was stopped
 * (*done: the batches that ran). */
static float validate(trainer_t *t, int batches, int *done) {
    double loss = 0.0;
    for (int b = 0; b < batches; b++) {
        if (stop_agreed()) { *done = b; return NAN; }
        trainer_eval_add(t, b, &loss);
    }
    *done = batches;
    return (float)(loss / ((double)batches * trainer_global_batch(t) * trainer_config(t)->T));
}

int main(int argc, char **argv) {
    /* OpenBLAS starts its own thread pool when it loads, before main, and
     * those threads spin for a while: CPU time that is not training. With
     * OPENBLAS_NUM_THREADS=1 in the environment it starts none, so when the
     * variable is unset, set it and exec this program again (same pid, so
     * counters and wait4 see one process). If the exec fails, go on: the
     * call below still keeps BLAS single-threaded inside each worker. */
    if (!getenv("OPENBLAS_NUM_THREADS") && setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0)
        execv("/proc/self/exe", argv);
    blas_single_thread();          /* one BLAS thread inside each worker */

    char err[1024];
    /* MPI (the MPI variant) starts before anything can fail, so that a
     * failure on one rank ends them all instead of leaving them waiting */
    g_comm = comm_init(&argc, &argv, err, sizeof err);
    if (!g_comm) { fprintf(stderr, "train_model: %s\n", err); return 1; }
    const int nranks = comm_size(g_comm), lead = comm_rank(g_comm) == 0;
    cli_opts co;
    int prc = cli_parse(&co, argc, argv, err, sizeof err);
    if (prc < 0) die_usage("%s", err);
    if (co.help) {
        /* one write: past a pipe's 4 KiB stdio buffer a reader that stops
         * early (grep -q) would otherwise end the second write with SIGPIPE */
        static char help_buf[1 << 16];
        setvbuf(stdout, help_buf, _IOFBF, sizeof help_buf);
        if (lead) usage(stdout);
        comm_finalize(g_comm);
        return 0;
    }
    if (co.machine && !co.pin_plan)
        die_usage("--machine %s: a snapshot or XML machine can only be planned for: give --pin-plan "
                  "(training, --memory-table and the rest run on this machine only)", co.machine);
    const char *data_path = co.data_path, *config_name = co.config_name, *save = co.save;
    const char *resume = co.resume, *report = co.report, *tokname = co.tokname;
    int *over = co.over;
    const char *over_name[7] = { "V", "C", "L", "NH", "F", "seq (T)", "batch (B)" };
    int config_given = co.config_given, threads = co.threads, quiet = co.quiet;
    int memtable = co.memtable, eval_batches = co.eval_batches;
    long steps = co.steps;
    double epochs = co.epochs;
    train_opts opt = co.opt;

    /* ---- config: preset + overrides, or the checkpoint's */
    config_t cfg;
    ckpt_t ck;
    memset(&ck, 0, sizeof ck);
    if (config_preset(&cfg, config_name) != 0) {
        char names[256];
        config_list(names, sizeof names, " ");
        die_usage("--config: unknown config '%s' (one of: %s)", config_name, names);
    }
    int *field[7] = { &cfg.V, &cfg.C, &cfg.L, &cfg.NH, &cfg.F, &cfg.T, &cfg.B };
    for (int k = 0; k < 7; k++) if (over[k] > 0) *field[k] = over[k];
    int resume_has_opts = 0;
    if (resume) {
        if (ckpt_load(resume, &ck, err, sizeof err) != 0) die("%s", err);
        resume_opts(&opt, co.given, &ck, resume);
        resume_has_opts = ck.has_opts;
        int *ckf[7] = { &ck.cfg.V, &ck.cfg.C, &ck.cfg.L, &ck.cfg.NH, &ck.cfg.F, &ck.cfg.T, &ck.cfg.B };
        for (int k = 0; k < 7; k++)
            if ((config_given || over[k] > 0) && *field[k] != *ckf[k])
                die_usage("--resume: the checkpoint has %s=%d, the options ask for %d",
                          over_name[k], *ckf[k], *field[k]);
        cfg = ck.cfg;
        tokname = ck.tok_kind == TOK_WORDS ? "words" : "bytes";
    }
    if (config_validate(&cfg, err, sizeof err) != 0) die_usage("%s", err);

    if (co.describe) {
        if (lead && describe_write(stdout, &cfg, threads, co.ranks ? co.ranks : nranks, opt.strong, opt.recompute,
                                   err, sizeof err) != 0)
            die_usage("%s", err);
        comm_finalize(g_comm);
        return 0;
    }
    if (memtable) {
        if (lead && report_memtable_ranks(stdout, &cfg, threads, opt.strong, opt.recompute, nranks, err,
                                          sizeof err) != 0)
            die_usage("%s", err);
        comm_finalize(g_comm);
        return 0;
    }
    /* every check and every size of the trainer, before anything is
     * allocated: bad input exits 2 here, a refusal (memory, limits) 1 */
    static trainer_plan_t plan;
    int plan_rc = co.pin_plan ? 0   /* --pin-plan trains nothing: it plans the placement below */
                : trainer_plan(&cfg, &opt, threads, comm_rank(g_comm), nranks, &plan, err, sizeof err);
    if (plan_rc == -2) die_usage("%s", err);
    if (plan_rc != 0) die("%s", err);
    /* rank 0 writes the report and the checkpoint */
    if (report && lead) probe_writable("--report", report);
    if (save && lead) probe_writable("--save", save);
    if (co.trace && lead) {       /* a usage error: exit 2 before anything runs */
        afile a;
        if (afile_open(&a, co.trace, err, sizeof err) != 0) die_usage("--trace: %s", err);
        afile_abort(&a);
    }
    /* --pin: one CPU per worker, planned here so a bad value exits 2 before
     * any work; --pin-plan prints this same plan (pin_plan_machine) and exits */
    static pin_spec pin;
    pin = co.pin_spec;          /* parsed once, by cli_parse */
    static int pin_cpus[THREADS_MAX];
    int wrapped = 0;
    if (pin.mode != PIN_NONE || co.pin_plan) {
        machine_t mach;
        if (machine_load(&mach, co.machine, err, sizeof err) != 0) die_usage("%s", err);
        if (!co.pin_plan && !hwloc_topology_is_thissystem(mach.hw))
            die_usage("--pin %s: the topology hwloc loaded is not this machine's (HWLOC_SYNTHETIC, "
                      "HWLOC_XMLFILE or HWLOC_FSROOT in the environment?): threads cannot be bound to it",
                      pin_mode_name(pin.mode));
        if (pin_plan_machine(&mach, &pin, threads, pin_cpus, &wrapped, err, sizeof err) != 0) die_usage("%s", err);
        if (co.pin_plan) {
            size_t counts[P_COUNT];
            int rc = lead ? plan_write(stdout, &mach, &pin, co.pin, threads, pin_cpus, wrapped,
                                       param_counts(&cfg, counts), blas_threads_max()) : 0;
            machine_free(&mach);
            if (rc != 0) die("--pin-plan: cannot write the plan to stdout");
            comm_finalize(g_comm);
            return 0;
        }
        machine_free(&mach);
    }
    if (wrapped) {
        say_prefix();
        fprintf(stderr, "--pin %s: %d workers on fewer CPUs: the order wraps around, "
                "so some CPUs carry two or more workers (the report lists each worker's CPU)\n",
                pin_mode_name(pin.mode), threads);
    }
    if (pin.mode != PIN_NONE) opt.pin_cpus = pin_cpus;

    /* ---- data and tokenizer */
    tokenizer_t tk;
    size_t ntok;
    int *tok = load_tokens(data_path, tokname, cfg.V, resume ? &ck : NULL, resume, lead, &tk, &ntok);
    corpus_t corpus;
    if (corpus_split(&corpus, tok, ntok, cfg.T, err, sizeof err) != 0)
        die("%s%s", err, data_path ? "" : " (synthetic corpus)");

    /* ---- trainer */
    const int Bglobal = plan.Bglobal;
    if (epochs > 0) {
        double per_step = (double)Bglobal * cfg.T;
        steps = (long)ceil(epochs * corpus.ntrain / per_step);
        if (steps < 1) steps = 1;
    }
    if (steps < 0) steps = 20;
    long first = resume ? ck.step : 0;
    /* the cosine horizon: --lr-steps, else a version 2 checkpoint's, else
     * the last step of this run */
    if (!(co.given & CLI_LR_STEPS) && !resume_has_opts) opt.lr_steps = first + steps;
    if (nranks > 1) ranks_agree(argc, argv, tok, ntok, resume ? &ck : NULL);
    /* the timeline: straggler statistics whenever the phase clocks run,
     * events for --trace (its window clipped to this run's steps) */
    long tlo = first, thi = first + steps - 1;
    if (co.trace && co.trace_a > 0) {
        tlo = MAX(co.trace_a - 1, first);
        thi = MIN(co.trace_b - 1, first + steps - 1);
        if (tlo > thi)
            die_usage("--trace-steps %ld:%ld: this run's steps are %ld..%ld", co.trace_a, co.trace_b,
                      first + 1, first + steps);
    }
    if (co.trace) {
        double bytes = trace_estimate_bytes(thi - tlo + 1, threads * nranks, nranks, cfg.L);
        if (bytes > TRACE_MAX_BYTES)
            die_usage("--trace %s: %ld steps x %d workers would make a trace of about %.0f MB, more "
                      "than %.0f MB; trace a window of steps with --trace-steps A:B (for example "
                      "--trace-steps %ld:%ld)", co.trace, thi - tlo + 1, threads * nranks, bytes / 1e6,
                      TRACE_MAX_BYTES / 1e6, tlo + 1,
                      tlo + MAX(1L, (long)((thi - tlo + 1) * (TRACE_MAX_BYTES / bytes))));
    }
    trainer_t *t = trainer_create_planned(&plan, &opt, g_comm, &corpus, err, sizeof err);
    if (!t) die("%s", err);
    trace_t *tr = NULL;
    if (opt.timing) {
        tr = trace_create(threads, cfg.L, g_comm, first, steps, co.trace != NULL, tlo, thi, err, sizeof err);
        if (!tr) die("%s", err);
        trainer_set_trace(t, tr);
    }
    if (resume) {
        /* every rank read the same file; each keeps its shard of the moments */
        memcpy(trainer_params(t), ck.params, trainer_nparams(t) * sizeof(float));
        trainer_set_moments(t, ck.m, ck.v);
        trainer_set_steps_done(t, ck.step);
        ckpt_free(&ck);
    }

    float *losses = xmalloc(sizeof(float) * steps);
    double *step_ms = xmalloc(sizeof(double) * steps);
    double *xstep = xmalloc(sizeof(double) * 2 * steps);   /* this rank's exposed, hidden ms per step */
    if (!losses || !step_ms || !xstep)
        die("cannot allocate %zu bytes for the loss history of %ld steps",
            (sizeof(float) + 3 * sizeof(double)) * (size_t)steps, steps);

    int grace0 = grace_base();
    grace_s = grace0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);

    char ranks_txt[64] = "";
    if (nranks > 1) snprintf(ranks_txt, sizeof ranks_txt, "%d ranks x ", nranks);
    if (!quiet && lead)
        fprintf(stderr, "train_model (%s): config %s, %zu params, %s%d thread%s, %s scaling, "
                "global batch %d x %d tokens, %zu training tokens\n", build_variant(), cfg.name,
                trainer_nparams(t), ranks_txt, threads, threads == 1 ? "" : "s",
                opt.strong ? "strong" : "weak", Bglobal, cfg.T, corpus.ntrain);
    long done = 0;
    int failed = 0, stop = 0;
    double t_start = time_wall();
    /* CPU time of the timed steps (the report's tokens_per_s region: after
     * the warm-up step when there is more than one), whole process */
    struct rusage ru_start, ru_warm, ru_end;
    getrusage(RUSAGE_SELF, &ru_start);
    ru_warm = ru_start;
    saver_t sv;
    saver_init(&sv, save, co.save_every, co.save_every_s, trainer_nparams(t));
    /* a stop signal ends the run after the same step on every rank */
    for (long s = 0; s < steps && !(stop = stop_agreed()); s++) {
        if (s > 0 && save && saver_due(&sv, trainer_steps_done(t))) {   /* the step before this one */
            writing = 1;
            if (saver_write(&sv, t, &cfg, &tk, &opt) != 0 && lead)
                fprintf(stderr, "train_model: the periodic checkpoint failed; training goes on, and the "
                        "next one tries again\n");
            writing = 0;
            if ((stop = stop_agreed())) break;
        }
        double t0 = time_wall();
        float loss = trainer_step(t);
        double ms = (time_wall() - t0) * 1e3;
        losses[s] = loss;
        step_ms[s] = ms;
        double xc[XCLK_COUNT];
        trainer_xclocks_last(t, xc);
        xstep[2 * s] = 1e3 * xc[XCLK_EXPOSED];
        xstep[2 * s + 1] = 1e3 * xc[XCLK_HIDDEN];
        if (tr) trace_step_stats(tr, first + s, loss, (double)Bglobal * cfg.T / (ms * 1e-3));
        done = s + 1;
        if (3e-3 * ms > grace_s) grace_s = (sig_atomic_t)MIN(3e-3 * ms + 1, 86400.0);
        if (s == 0) getrusage(RUSAGE_SELF, &ru_warm);
        if (!isfinite(loss)) {     /* the same loss on every rank: all stop here */
            if (lead) fprintf(stderr, "train_model: the loss became %s at step %ld: stopping (try a lower --lr)\n",
                    isnan(loss) ? "NaN" : "infinite", first + s + 1);
            failed = 1;
            break;
        }
        if (!quiet && lead)
            fprintf(stderr, "step %5ld/%ld  loss %.4f  lr %.2e  norm %.3f  %8.2f ms/step  %9.0f tok/s\n",
                    first + s + 1, first + steps, loss, trainer_last_lr(t), trainer_last_grad_norm(t),
                    ms, (double)Bglobal * cfg.T / (ms * 1e-3));
    }
    double wall = time_wall() - t_start;
    getrusage(RUSAGE_SELF, &ru_end);
    const struct rusage *ru0 = done > 1 ? &ru_warm : &ru_start;
#define TV_S(tv) ((double)(tv).tv_sec + (double)(tv).tv_usec * 1e-6)
    double timed_user = TV_S(ru_end.ru_utime) - TV_S(ru0->ru_utime);
    double timed_sys = TV_S(ru_end.ru_stime) - TV_S(ru0->ru_stime);
#undef TV_S
    if (nranks > 1) {          /* the job's CPU time: every rank's process */
        double mine[2] = { timed_user, timed_sys }, *all = xmalloc(2 * sizeof(double) * nranks);
        if (!all) die("cannot allocate the CPU times of %d ranks", nranks);
        comm_allgather_f64(g_comm, mine, all, 2);
        timed_user = timed_sys = 0;
        for (int r = 0; r < nranks; r++) { timed_user += all[2 * r]; timed_sys += all[2 * r + 1]; }
        free(all);
    }
    /* the steps are over: a stop signal from now on arms no alarm (validation
     * checks it at every batch, the writes are let finish) */
    finishing = 1;
    alarm(0);
    /* a signal during the last step too: the loop checks only before a step */
    stop = stop_agreed();
    float val = NAN;
    int val_batches = 0;
    if (!failed && !stop && eval_batches > 0) {
        int ran = 0;
        double v0 = time_wall();
        val = validate(t, eval_batches, &ran);
        if (tr) trace_instant(tr, "validation", v0, time_wall());
        if (ran == eval_batches) val_batches = eval_batches;
        else if (lead)
            fprintf(stderr, "train_model: stop signal: validation stopped after %d of %d batches "
                    "(no validation loss)\n", ran, eval_batches);
    }

    int rc = failed ? 1 : 0;
    if (save && !failed && sv.saved != trainer_steps_done(t)) {
        double c0 = time_wall();
        if (saver_write(&sv, t, &cfg, &tk, &opt) != 0) rc = 1;
        if (tr) trace_instant(tr, "checkpoint", c0, time_wall());
    }
    saver_free(&sv);
    if (report) trainer_gather_stats(t);    /* every rank's phases, for rank 0's report */
    char cmd[4096] = "";
    for (int i = 0; i < argc; i++) {
        if (strlen(cmd) + strlen(argv[i]) + 2 >= sizeof cmd) break;
        if (i) strcat(cmd, " ");
        strcat(cmd, argv[i]);
    }
    if (co.trace && done > 0 &&          /* collective under MPI */
        trace_write(tr, co.trace, opt.pin_cpus, cmd, err, sizeof err) != 0) {
        fprintf(stderr, "train_model: %s\n", err);
        rc = 1;
    }
    if (report && lead) {
        trainer_sample_cpus(t);      /* each worker's CPU now, for the report */
        run_info ri = { data_path ? data_path : "synthetic", tokname, cmd, losses, step_ms,
                        done, first, wall, val, val_batches, opt.strong, timed_user, timed_sys,
                        opt.recompute, g_comm, co.pin ? co.pin : "none", pin_mode_name(pin.mode), wrapped, tr,
                        xstep };
        if (report_write(report, t, &ri, err, sizeof err) != 0) {
            fprintf(stderr, "train_model: %s\n", err);
            rc = 1;
        }
    }
    if (done > 0 && lead) {
        double tps = (double)Bglobal * cfg.T * done / wall;
        char valtxt[32] = "";            /* no figure when no validation ran */
        if (val_batches > 0) snprintf(valtxt, sizeof valtxt, ", val %.4f", val);
        printf("%s: %ld steps, %s%d thread%s, loss %.4f -> %.4f%s, %.3f s, %.0f tokens/s\n",
               build_variant(), done, ranks_txt, threads, threads == 1 ? "" : "s", losses[0],
               losses[done - 1], valtxt, wall, tps);
    }
    if (!stop) stop = stop_signal;   /* one that came during the validation or the writes */
    if (stop && !failed) {
        if (lead)
            fprintf(stderr, "train_model: stopped by signal %d after %ld steps%s\n", stop,
                    done, save && rc == 0 ? " (checkpoint written)" : "");
        if (rc == 0) rc = 128 + stop;   /* a failed write stays exit 1 */
    }
    trainer_free(t);
    trace_free(tr);
    tokenizer_free(&tk);
    free(tok);
    free(losses);
    free(step_ms);
    free(xstep);
    comm_finalize(g_comm);
    return rc;
}
