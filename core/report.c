/*
 * report.c - the JSON report of a run and the memory table.
 */
#include "report.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "afile.h"
#include "comm.h"
#include "jsonw.h"
#include "trace.h"
#include "machine.h"
#include "util.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* where each worker ran: --pin, the CPU it was bound to, and its CPU and
 * affinity mask sampled at the end of the run (trainer_sample_cpus) */
static void json_pin(jw *j, const trainer_t *t, const run_info *ri) {
    int nth = trainer_threads(t);
    jw_obj_open(j, "pin");
    jw_str(j, "given", ri->pin ? ri->pin : "none");
    jw_str(j, "mode", ri->pin_mode ? ri->pin_mode : "none");
    jw_int(j, "wrapped", ri->pin_wrapped);
    jw_arr_open(j, "workers");
    for (int i = 0; i < nth; i++) {
        worker_cpu wc;
        trainer_worker_cpu(t, i, &wc);
        jw_obj_open(j, NULL);
        jw_int(j, "worker", i);
        jw_int(j, "tid", wc.tid);
        if (wc.bound >= 0) jw_int(j, "bound", wc.bound); else jw_null(j, "bound");
        if (wc.cpu_now >= 0) jw_int(j, "cpu_end", wc.cpu_now); else jw_null(j, "cpu_end");
        if (wc.affinity[0]) jw_str(j, "affinity_end", wc.affinity); else jw_null(j, "affinity_end");
        jw_obj_close(j);
    }
    jw_arr_close(j);
    jw_obj_close(j);
}

/* "ENOENT (No such file or directory)" */
static const char *errno_text(int e, char *buf, size_t n) {
    const char *name = strerrorname_np(e);
    snprintf(buf, n, "%s (%s)", name ? name : "errno", strerror(e));
    return buf;
}

/* --phase-counters: per event, counts[phase][worker] (null for a worker on
 * which it is unavailable, with the reason in unavailable[worker]) */
static void json_phase_counters(jw *j, const trainer_t *t) {
    const perfev_set *ev = &trainer_opts(t)->events;
    int nth = trainer_threads(t);
    if (ev->n == 0) { jw_null(j, "phase_counters"); return; }
    jw_obj_open(j, "phase_counters");
    jw_arr_open(j, "phases");
    for (int p = 0; p < PH_COUNT; p++) jw_str(j, NULL, phase_names[p]);
    jw_arr_close(j);
    jw_arr_open(j, "events");
    for (int e = 0; e < ev->n; e++) {
        jw_obj_open(j, NULL);
        jw_str(j, "name", perfev_name(ev->id[e]));
        int avail = 0, user = 0;
        unsigned long long c[PH_COUNT];
        for (int i = 0; i < nth; i++) {
            int u;
            if (trainer_phase_counts(t, i, e, c, &u) == 0) { avail++; user |= u; }
        }
        jw_int(j, "available_workers", avail);
        jw_str(j, "scope", avail == 0 ? "none" : user ? "user" : "user+kernel");
        jw_arr_open(j, "counts");
        for (int p = 0; p < PH_COUNT; p++) {
            jw_arr_open(j, NULL);
            for (int i = 0; i < nth; i++) {
                int u;
                if (trainer_phase_counts(t, i, e, c, &u) == 0) jw_uint(j, NULL, c[p]);
                else jw_null(j, NULL);
            }
            jw_arr_close(j);
        }
        jw_arr_close(j);
        jw_arr_open(j, "unavailable");
        for (int i = 0; i < nth; i++) {
            int u, rc = trainer_phase_counts(t, i, e, c, &u);
            char buf[128];
            if (rc == 0) jw_null(j, NULL);
            else jw_str(j, NULL, errno_text(rc, buf, sizeof buf));
        }
        jw_arr_close(j);
        jw_obj_close(j);
    }
    jw_arr_close(j);
    const char *kind[2] = { "time_enabled_ns", "time_running_ns" };
    for (int k = 0; k < 2; k++) {
        jw_arr_open(j, kind[k]);
        for (int i = 0; i < nth; i++) {
            unsigned long long en, run;
            trainer_counter_times(t, i, &en, &run);
            jw_uint(j, NULL, k == 0 ? en : run);
        }
        jw_arr_close(j);
    }
    jw_obj_close(j);
}

void report_json_build(jw *j) {
    jw_obj_open(j, "build");
    jw_str(j, "compiler", build_compiler());
    jw_str(j, "cflags", build_cflags());
    jw_str(j, "blas", build_blas());
    jw_str(j, "git", build_git());
    jw_str(j, "variant", build_variant());
    jw_obj_close(j);
}

void report_json_memtable(jw *j, const memtable_t *m, int nth, int recompute) {
    jw_obj_open(j, "memory");
    jw_str(j, "recompute", recompute == RECOMPUTE_LAYERS ? "layers" : "none");
    jw_arr_open(j, "per_thread");
    for (int i = 0; i < m->n_per_thread; i++) {
        jw_obj_open(j, NULL);
        jw_str(j, "name", m->per_thread[i].name);
        jw_int(j, "bytes", (long long)m->per_thread[i].bytes);
        jw_obj_close(j);
    }
    jw_arr_close(j);
    jw_int(j, "per_thread_total", (long long)m->per_thread_total);
    jw_arr_open(j, "shared");
    for (int i = 0; i < m->n_shared; i++) {
        jw_obj_open(j, NULL);
        jw_str(j, "name", m->shared[i].name);
        jw_int(j, "bytes", (long long)m->shared[i].bytes);
        jw_obj_close(j);
    }
    jw_arr_close(j);
    jw_int(j, "shared_total", (long long)m->shared_total);
    jw_int(j, "threads", nth);
    jw_int(j, "total_at_threads", (long long)m->total);
    jw_int(j, "rank", m->rank);
    jw_int(j, "ranks", m->nranks);
    jw_int(j, "adam_shard_params", (long long)m->shard);
    jw_obj_close(j);
}

int report_write(const char *path, const trainer_t *t, const run_info *ri, char *err, size_t errlen) {
    const config_t *c = trainer_config(t);
    int nth = trainer_threads(t), nw = trainer_workers(t), nranks = trainer_ranks(t);
    afile a;
    if (afile_open(&a, path, err, errlen) != 0) return -1;
    jw j;
    jw_begin(&j, a.f);
    jw_obj_open(&j, NULL);
    jw_str(&j, "tool", "train_model");
    jw_str(&j, "variant", build_variant());
    jw_int(&j, "threads", nth);
    jw_int(&j, "ranks", nranks);
    jw_int(&j, "workers", nw);
    jw_str(&j, "scaling", ri->scaling_strong ? "strong" : "weak");
    jw_str(&j, "recompute", ri->recompute == RECOMPUTE_LAYERS ? "layers" : "none");
    jw_obj_open(&j, "config");
    jw_str(&j, "name", c->name);
    jw_int(&j, "V", c->V); jw_int(&j, "C", c->C); jw_int(&j, "L", c->L);
    jw_int(&j, "NH", c->NH); jw_int(&j, "F", c->F); jw_int(&j, "T", c->T);
    jw_int(&j, "B", c->B);
    jw_obj_close(&j);
    jw_str(&j, "tokenizer", ri->tokenizer);
    jw_uint(&j, "seed", trainer_opts(t)->seed);
    jw_str(&j, "data", ri->data);
    jw_int(&j, "params", (long long)trainer_nparams(t));
    long long tps = (long long)trainer_global_batch(t) * c->T;
    jw_int(&j, "first_step", ri->first_step);
    jw_int(&j, "steps", ri->nsteps);
    jw_int(&j, "tokens_per_step", tps);
    jw_int(&j, "tokens", tps * ri->nsteps);
    jw_num(&j, "wall_s", ri->wall_s);
    /* The first step of a run is warm-up, left out of the throughput when
     * there is more than one. It does not pay the first touch of our buffers
     * (each worker zeroes its own in trainer_create: ~11000 minor page faults
     * for config S there); it pays what is still cold: OpenBLAS's buffers,
     * mapped at a thread's first sgemm call, and the workers' stacks (~130
     * page faults in step 1 of config S, none in step 2), cold caches, TLB
     * and branch predictors. */
    long warm = ri->nsteps > 1 ? 1 : 0;
    double timed_ms = 0;
    for (long i = warm; i < ri->nsteps; i++) timed_ms += ri->step_ms[i];
    jw_int(&j, "warmup_steps", warm);
    jw_num(&j, "timed_wall_s", timed_ms * 1e-3);
    jw_num(&j, "timed_cpu_user_s", ri->timed_cpu_user_s);
    jw_num(&j, "timed_cpu_sys_s", ri->timed_cpu_sys_s);
    jw_num(&j, "tokens_per_s", timed_ms > 0 ? tps * (ri->nsteps - warm) / (timed_ms * 1e-3) : 0.0);
    double *ms = xmalloc(sizeof(double) * (ri->nsteps > 0 ? ri->nsteps : 1));
    if (!ms) {
        afile_abort(&a);
        snprintf(err, errlen, "cannot allocate %zu bytes for the report of %s",
                 sizeof(double) * (ri->nsteps > 0 ? ri->nsteps : 1), path);
        return -1;
    }
    jw_obj_open(&j, "ms_per_step");
    if (ri->nsteps > 0) {
        memcpy(ms, ri->step_ms, sizeof(double) * ri->nsteps);
        qsort(ms, ri->nsteps, sizeof(double), cmp_double);
        long n = ri->nsteps;
        jw_num(&j, "median", n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]));
        jw_num(&j, "min", ms[0]);
        jw_num(&j, "max", ms[n - 1]);
    }
    jw_obj_close(&j);
    free(ms);
    jw_arr_open(&j, "step_ms");
    for (long i = 0; i < ri->nsteps; i++) jw_num(&j, NULL, ri->step_ms[i]);
    jw_arr_close(&j);
    jw_arr_open(&j, "loss");
    for (long i = 0; i < ri->nsteps; i++) jw_num(&j, NULL, ri->losses[i]);
    jw_arr_close(&j);
    jw_int(&j, "val_batches", ri->val_batches);
    if (ri->val_batches > 0) jw_num(&j, "val_loss", ri->val_loss);
    else jw_null(&j, "val_loss");
    jw_num(&j, "flops_per_step", config_flops(c, trainer_global_batch(t)));
    jw_int(&j, "online_cpus", sysconf(_SC_NPROCESSORS_ONLN));
    jw_int(&j, "affinity_cpus", cpu_affinity_count());
    /* the count the pool judged its threads against (machine.h's one definition) */
    jw_int(&j, "usable_cpus", machine_usable_here());
    jw_int(&j, "barrier_spin_ns", trainer_spin_ns(t));   /* 0: waiters sleep at once */

    /* phases: wall_s[phase][worker], cpu_s[phase][worker], over every
     * rank's workers in global order (rank-major) */
    double (*wall)[PH_COUNT] = xmalloc(sizeof(double[PH_COUNT]) * nw);
    double (*cpu)[PH_COUNT] = xmalloc(sizeof(double[PH_COUNT]) * nw);
    if (!wall || !cpu) {
        free(wall); free(cpu);
        afile_abort(&a);
        snprintf(err, errlen, "cannot allocate %zu bytes for the report of %s",
                 2 * sizeof(double[PH_COUNT]) * nw, path);
        return -1;
    }
    for (int i = 0; i < nw; i++) trainer_phase_times(t, i, wall[i], cpu[i]);
    jw_obj_open(&j, "phases");
    jw_arr_open(&j, "names");
    for (int p = 0; p < PH_COUNT; p++) jw_str(&j, NULL, phase_names[p]);
    jw_arr_close(&j);
    const char *kind[2] = { "wall_s", "cpu_s" };
    for (int k = 0; k < 2; k++) {
        jw_arr_open(&j, kind[k]);
        for (int p = 0; p < PH_COUNT; p++) {
            jw_arr_open(&j, NULL);
            for (int i = 0; i < nw; i++) jw_num(&j, NULL, k == 0 ? wall[i][p] : cpu[i][p]);
            jw_arr_close(&j);
        }
        jw_arr_close(&j);
    }
    jw_obj_close(&j);
    jw_obj_open(&j, "imbalance");
    for (int p = 0; p < PH_COUNT; p++) {
        double mx = 0, sum = 0;
        for (int i = 0; i < nw; i++) { sum += wall[i][p]; mx = MAX(mx, wall[i][p]); }
        jw_num(&j, phase_names[p], sum > 0 ? mx / (sum / nw) : 1.0);
    }
    jw_obj_close(&j);
    free(wall);
    free(cpu);
    json_pin(&j, t, ri);
    json_phase_counters(&j, t);
    trace_report_json(ri->trace, &j);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    jw_int(&j, "peak_rss_kib", ru.ru_maxrss);
    jw_arr_open(&j, "ranks_peak_rss_kib");
    for (int r = 0; r < nranks; r++) jw_int(&j, NULL, trainer_rank_rss(t, r));
    jw_arr_close(&j);
    memtable_t mt;
    char merr[256];
    if (trainer_memtable_rank(c, nth, ri->scaling_strong, ri->recompute, trainer_rank(t), nranks, &mt, merr,
                              sizeof merr) == 0)
        report_json_memtable(&j, &mt, nth, ri->recompute);
    if (ri->comm && comm_library(ri->comm)) {
        double sent, recv;
        trainer_comm_bytes(t, &sent, &recv);
        jw_obj_open(&j, "mpi");
        jw_str(&j, "library", comm_library(ri->comm));
        jw_str(&j, "thread_level", comm_thread_level(ri->comm));
        jw_int(&j, "ranks", nranks);
        jw_int(&j, "threads_per_rank", nth);
        jw_num(&j, "bytes_sent_per_step", sent);
        jw_num(&j, "bytes_received_per_step", recv);
        jw_str(&j, "overlap", trainer_overlap(t) ? "on" : "off");
        jw_num(&j, "exchange_in_flight_s", trainer_overlap_inflight_s(t));
        /* the exchange's clocks (trainer.h's XCLK_*): per rank, seconds
         * summed over the steps, and per step (mean over steps and ranks) */
        jw_obj_open(&j, "clocks");
        jw_int(&j, "steps", ri->nsteps);
        double x[XCLK_COUNT], mean[XCLK_COUNT] = { 0 };
        for (int k = 0; k < XCLK_COUNT; k++) {
            jw_arr_open(&j, xclk_names[k]);
            for (int r = 0; r < nranks; r++) {
                trainer_xclocks(t, r, x);
                jw_num(&j, NULL, x[k]);
                mean[k] += x[k] / nranks;
            }
            jw_arr_close(&j);
        }
        long steps = ri->nsteps;
        jw_obj_open(&j, "ms_per_step");
        for (int k = 0; k < XCLK_COUNT; k++) jw_num(&j, xclk_names[k], steps > 0 ? 1e3 * mean[k] / steps : 0.0);
        jw_obj_close(&j);
        for (int k = 0; k < 2 && ri->xstep_ms; k++) {      /* this (the report's) rank, step by step */
            jw_arr_open(&j, k == 0 ? "exposed_ms_each_step" : "hidden_ms_each_step");
            for (long i = 0; i < ri->nsteps; i++) jw_num(&j, NULL, ri->xstep_ms[2 * i + k]);
            jw_arr_close(&j);
        }
        jw_obj_close(&j);
        jw_obj_close(&j);
    } else {
        jw_null(&j, "mpi");
    }
    report_json_build(&j);
    jw_str(&j, "command", ri->command);
    jw_obj_close(&j);
    return afile_commit(&a, err, errlen);
}

/* ---------------------------------------------------------------- memory table */

/* The original note's per-thread table (config `seed`), and which of our
 * buffers correspond to each line. */
static const struct {
    const char *note;
    double kb;
    const char *ours;
    const char *why;
} note_rows[] = {
    { "Input embeddings", 64, "encoded", "same: B*T*C floats" },
    { "Layer inputs", 384, "-", "not stored again: a layer's input is the layer below's output (res3)" },
    { "Attention outputs", 384, "atty", "same: L*B*T*C" },
    { "FF outputs", 384, "res2", "the residual after attention; the MLP output is added into res3 in place" },
    { "Layer outputs", 384, "res3", "same: L*B*T*C" },
    { "FF hidden", 1536, "fch", "pre-GELU only, L*B*T*F; the GELU output is recomputed in backward" },
    { "Final hidden", 64, "lnf", "same: B*T*C" },
    { "Logits", 197, "logits+ce_scale", "a block of positions (at least T) by V, reused for the softmax and dlogits" },
    { "Attention cache", 2688, "qkv+att_stats",
      "Q,K,V (L*B*T*3C) and each softmax row's max and 1/sum (L*B*NH*T*2): no T*T matrix is kept" },
    { "Backward temp", 192, "ln+gelu+dres+dbtc+dqkv+att_scratch",
      "one layer's scratch: LayerNorm/GELU recompute, gradients of B*T*C, B*T*3C, B*T*F, one block of scores" },
};

static size_t item_bytes(const memtable_t *m, const char *names) {
    size_t total = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", names);
    for (char *tok = strtok(buf, "+"); tok; tok = strtok(NULL, "+"))
        for (int i = 0; i < m->n_per_thread; i++)
            if (strcmp(m->per_thread[i].name, tok) == 0) total += m->per_thread[i].bytes;
    return total;
}

int report_memtable(FILE *f, const config_t *c, int nth, int strong, int recompute,
                    char *err, size_t errlen) {
    return report_memtable_ranks(f, c, nth, strong, recompute, 1, err, errlen);
}

int report_memtable_ranks(FILE *f, const config_t *c, int nth, int strong, int recompute, int nranks,
                          char *err, size_t errlen) {
    memtable_t both[2], m;
    for (int r = 0; r < 2; r++)
        if (trainer_memtable_rank(c, nth, strong, r, 0, nranks, &both[r], err, errlen) != 0) return -1;
    m = both[recompute == RECOMPUTE_LAYERS];
    char ranks[96] = "";
    if (nranks > 1)
        snprintf(ranks, sizeof ranks, "rank 0 of %d ranks (%d workers in all), ", nranks, nranks * nth);
    fprintf(f, "memory table: config %s (V=%d C=%d L=%d NH=%d F=%d T=%d B=%d), %s%d thread%s, "
            "%s scaling, %d sequence%s per worker context, --recompute %s\n",
            c->name, c->V, c->C, c->L, c->NH, c->F, c->T, c->B, ranks, nth, nth == 1 ? "" : "s",
            strong ? "strong" : "weak", m.Bmax, m.Bmax == 1 ? "" : "s",
            recompute == RECOMPUTE_LAYERS ? "layers" : "none");
    fprintf(f, "\nper-thread buffers (training context + gradient buffer), in both layouts; "
            "this run's is marked *:\n");
    fprintf(f, "  %-14s %27s   %27s\n", "", "--recompute none", "--recompute layers");
    for (int i = 0; i < m.n_per_thread; i++)
        fprintf(f, "  %-14s %14zu bytes %8.1f KiB   %14zu bytes %8.1f KiB\n", m.per_thread[i].name,
                both[0].per_thread[i].bytes, both[0].per_thread[i].bytes / 1024.0,
                both[1].per_thread[i].bytes, both[1].per_thread[i].bytes / 1024.0);
    fprintf(f, "  %-14s %14zu bytes %8.2f MiB%s %14zu bytes %8.2f MiB%s  (each buffer padded to %d bytes)\n",
            "per-thread", both[0].per_thread_total, both[0].per_thread_total / 1048576.0,
            recompute == RECOMPUTE_LAYERS ? " " : "*", both[1].per_thread_total,
            both[1].per_thread_total / 1048576.0, recompute == RECOMPUTE_LAYERS ? "*" : " ", CACHE_LINE);
    if (nranks > 1)
        fprintf(f, "\nshared state of this rank (Adam's moments: its shard of %zu of the %zu parameters, "
                "ZeRO-1; comm_recv: every rank's sums of that shard):\n", m.shard, m.shared[0].bytes / sizeof(float));
    else
        fprintf(f, "\nshared state:\n");
    for (int i = 0; i < m.n_shared; i++)
        fprintf(f, "  %-14s %14zu bytes %12.1f KiB\n", m.shared[i].name, m.shared[i].bytes,
                m.shared[i].bytes / 1024.0);
    fprintf(f, "  %-14s %14zu bytes %12.1f KiB\n", "shared", m.shared_total, m.shared_total / 1024.0);
    fprintf(f, "\ntotal at %d thread%s: %zu bytes (%.2f MiB); with --recompute %s it would be %zu bytes (%.2f MiB)\n",
            nth, nth == 1 ? "" : "s", m.total, m.total / 1048576.0,
            recompute == RECOMPUTE_LAYERS ? "none" : "layers", both[!recompute].total,
            both[!recompute].total / 1048576.0);
    if (nranks > 1) {
        fprintf(f, "\nper rank (%d threads each):\n  %-6s %14s %14s %14s\n", nth, "rank", "adam m+v bytes",
                "comm_recv", "total bytes");
        for (int r = 0; r < nranks; r++) {
            memtable_t mr;
            if (trainer_memtable_rank(c, nth, strong, recompute, r, nranks, &mr, err, errlen) != 0) return -1;
            fprintf(f, "  %-6d %14zu %14zu %14zu  (%.2f MiB)\n", r, mr.shared[1].bytes + mr.shared[2].bytes,
                    mr.shared[3].bytes, mr.total, mr.total / 1048576.0);
        }
        memtable_t one;
        if (trainer_memtable(c, nth * nranks, strong, recompute, &one, err, errlen) == 0)
            fprintf(f, "  (one process of %d threads: adam m+v %zu bytes, total %zu bytes = %.2f MiB)\n",
                    nth * nranks, one.shared[1].bytes + one.shared[2].bytes, one.total, one.total / 1048576.0);
    }
    if (strcmp(c->name, "seed") == 0) {
        double note_total = 0, ours_total = 0;
        m = both[0];
        fprintf(f, "\nthe original note's per-thread table (config seed) beside ours (--recompute none):\n");
        fprintf(f, "  %-18s %9s  %-24s %10s  %s\n", "note", "note KB", "ours", "ours KB", "difference");
        for (size_t i = 0; i < sizeof note_rows / sizeof note_rows[0]; i++) {
            double kb = item_bytes(&m, note_rows[i].ours) / 1024.0;
            note_total += note_rows[i].kb;
            ours_total += kb;
            fprintf(f, "  %-18s %9.0f  %-24s %10.1f  %s\n", note_rows[i].note, note_rows[i].kb,
                    note_rows[i].ours, kb, note_rows[i].why);
        }
        double grad_kb = item_bytes(&m, "grad") / 1024.0;
        double rest_kb = item_bytes(&m, "inp+tgt+ln1_mean+ln1_rstd+ln2_mean+ln2_rstd+lnf_mean+lnf_rstd+losses") / 1024.0;
        fprintf(f, "  %-18s %9s  %-24s %10.1f  %s\n", "(not in the note)", "-", "grad", grad_kb,
                "the per-thread gradient buffer: one float per parameter");
        fprintf(f, "  %-18s %9s  %-24s %10.1f  %s\n", "(not in the note)", "-", "stats, tokens", rest_kb,
                "LayerNorm mean/rstd caches, token ids, losses");
        fprintf(f, "  %-18s %9.0f  %-24s %10.1f  (note total 6277 KB = 6.1 MB; 63 threads: %.0f MB vs ours %.0f MB)\n",
                "total", note_total, "", ours_total + grad_kb + rest_kb,
                note_total * 63 / 1024.0, m.per_thread_total * 63 / 1048576.0);
    }
    return 0;
}
