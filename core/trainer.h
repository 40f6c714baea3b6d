/*
 * trainer.h - data-parallel training over a pool of worker threads.
 *
 * Each worker owns a training context (every activation and backward buffer)
 * and a full gradient buffer; all read the shared parameters, which nobody
 * writes during forward/backward. One step:
 *
 *   every worker:  sample its sequences, forward, backward into its own grads
 *                  (every gradient is overwritten by its first write: no zeroing pass)
 *   barrier
 *   worker i:      sum its slice of the parameter vector over all N gradient
 *                  buffers (fixed order 0..N-1), partial squared norm
 *   barrier
 *   every worker:  global norm = sum of partials in fixed order; clip; AdamW
 *                  on its own slice
 *   barrier (end of the job, which is also the next job's start: pool.h)
 *
 * Three barriers a step (trainer_syncs). The combine is reduce_sum
 * (reduce.h).
 *
 * No mutex and no floating-point atomics in that step, so results are
 * bitwise identical run to run for a given N and seed. Built with
 * CLLM_LOCKED=1, a model lock is held around each worker's forward+backward;
 * nothing else differs, so both variants give the same bits.
 *
 * Across processes (the MPI variant, CLLM_MPI=1; trainer_create_ranks), each
 * rank runs this pool and the combine gains an exchange between ranks
 * (comm.h), done by worker 0 between the pool's barriers at three marked
 * insertion points in trainer.c; with one rank the step is the one above.
 */
#ifndef CLLM_TRAINER_H
#define CLLM_TRAINER_H

#include <stddef.h>

#include "config.h"
#include "data.h"
#include "memtable.h"
#include "model.h"
#include "perfev.h"

#ifdef __cplusplus
extern "C" {
#endif

#define THREADS_MAX 1024
/* workers of a job over all ranks (ranks x threads): the same bound, so
 * global batch and sequence indices stay in the ranges of one process */
#define WORKERS_MAX 1024

typedef struct {
    float lr, min_lr_frac, wd, beta1, beta2, eps, clip;
    int warmup;            /* linear warmup steps */
    long lr_steps;         /* cosine horizon; 0 = none (see trainer_lr_at) */
    unsigned long long seed;
    int strong;            /* 1: B is the global batch, split over workers */
    int timing;            /* 1: read the phase clocks */
    int recompute;         /* RECOMPUTE_NONE or RECOMPUTE_LAYERS (model.h) */
    int overlap;           /* 1: the ranks' gradient exchange in buckets during backward, the
                              parameter all-gather during the next forward (ranks.h) */
    /* Where the workers run (pin.h's plan): worker i is bound to OS CPU
     * pin_cpus[i] before it touches its memory; NULL: not bound. Read by
     * trainer_create only (it copies the numbers). */
    const int *pin_cpus;
    /* Per-phase counters (perfev.h): each worker opens these events on
     * itself and reads them at its phase boundaries; n = 0: none. */
    perfev_set events;
} train_opts;

/* The library defaults: lr 1e-3, min_lr_frac 0.1, wd 0.1, betas 0.9 and
 * 0.95, eps 1e-8, clip 1.0, warmup 10, lr_steps 0, seed 1337, weak scaling,
 * timing on, not pinned, no counters, no overlap. */
void train_opts_default(train_opts *o);

/* The learning rate of step `step` (0-based: the step that runs when
 * `step` steps are done), with W = warmup, H = lr_steps, m = min_lr_frac:
 *
 *   step < W            lr * (step + 1) / W               linear warmup
 *   H <= 0              lr                                no decay
 *   step >= H           lr * m                            past the horizon
 *   otherwise           lr * (m + (1 - m) * (1 + cos(pi * (step - W) / (H - W))) / 2)
 *
 * in that order, so with W >= H the warmup runs its course and then lr * m
 * holds. H = 0 (the default) is a cosine whose horizon is at infinity: the
 * library does not know how many steps a caller will run. train_model sets H
 * to the last step of its run unless --lr-steps says otherwise (its --help),
 * and a checkpoint keeps the H of the run that saved it. The cosine is
 * evaluated in double and rounded to float once. */
float trainer_lr_at(const train_opts *o, long step);

/* comm: worker 0's wall time inside MPI calls (waiting for the slowest rank
 * included); comm_sum: adding the ranks' sums of a slice, in rank order.
 * Both stay 0 with one rank. */
enum { PH_FORWARD, PH_BACKWARD, PH_LOCK_WAIT, PH_BARRIER, PH_REDUCE, PH_OPTIM, PH_COMM, PH_COMM_SUM,
       PH_COUNT };
extern const char *const phase_names[PH_COUNT];

typedef struct trainer trainer_t;
typedef struct comm comm_t;          /* comm.h */

/* Allocate everything (shared state, every worker's context and gradients)
 * and start the pool. Placement: the buffers are allocated untouched
 * (mem_alloc_untouched) and each worker makes the first write to its own
 * context and gradient buffer, and to the pages of the parameters and Adam
 * moments it updates in AdamW (a page goes to the worker whose slice holds
 * its first byte, so each worker has at most one page of each array on
 * another's node), after binding itself to its CPU when pinned; the main
 * thread writes the initial values afterwards (the same values at every
 * thread count). So on a NUMA machine, under the default first-touch policy,
 * each worker's memory is on its own node. With more than one worker the
 * shared block is advised MADV_NOHUGEPAGE, or a transparent huge page
 * (THP "always") would put 2 MiB of several workers' slices on one node.
 *
 * NULL with err saying what failed: an invalid config or
 * thread count, a footprint larger than the memory limit
 * (trainer_memory_limit), more threads than the BLAS supports
 * (blas_threads_max, util.h), an allocation that failed (which buffer, how
 * many bytes), a thread that could not start, a worker that could not be
 * bound to its CPU.
 *
 * Test hook: CLLM_TEST_HANG_STEP=S in the environment makes the last worker
 * block forever in step S (0-based), a stuck step for the stop-signal tests. */
trainer_t *trainer_create(const config_t *c, const train_opts *o, int nth,
                          const corpus_t *data, char *err, size_t errlen);
/* The same as one rank of a job over comm's ranks (NULL: one process):
 * nth threads here, comm_size(comm) x nth workers in all; collective (every
 * rank calls it). The step then also:
 *
 *   worker i:      sums, over this rank's nth buffers (order 0..nth-1), the
 *                  slice that worker i of every rank owns
 *   barrier; worker 0: comm_exchange (each rank's sums of its slices to it)
 *   barrier; worker i: its slice = the ranks' sums added in rank order,
 *                  partial squared norm
 *   barrier; worker 0: allgather every worker's loss and partial
 *   barrier; every worker: the norm from all partials in global worker
 *                  order; clip; AdamW on its slice (the moments of this
 *                  rank's slices only: ZeRO-1)
 *   after the job, worker 0: allgather of the updated parameter slices
 *
 * The slices, the sampling and the norm are those of one process of
 * ranks x nth workers. The gradient's sum tree is that process's when
 * nth == 1 (bitwise the same results), else it adds rank sums. Additional
 * error: more than WORKERS_MAX workers, a config whose counts pass an int.
 * Test hook: CLLM_TEST_LATE_ALLGATHER=1 (--overlap on) makes worker 0 post
 * each bucket of the parameter all-gather only when forward reaches it, and
 * write NaN where the received parameters will land, so that a read before
 * their arrival shows in the loss and the bits.
 * Test hook: CLLM_TEST_KILL_RANK=R:S makes rank R kill itself (SIGKILL) at
 * the start of step S. */
trainer_t *trainer_create_ranks(const config_t *c, const train_opts *o, int nth, comm_t *comm,
                                const corpus_t *data, char *err, size_t errlen);
void trainer_free(trainer_t *t);   /* tolerates NULL */

/* ---- the plan: every check and every size, before anything is allocated ---- */
typedef struct {
    int row0, rows;                /* its sequences of the global batch */
    size_t k0, k1;                 /* its slice of the parameter vector */
} worker_share;

typedef struct {
    config_t cfg;
    int nth, rank, nranks, nworkers;
    int strong, recompute;
    int Bglobal;                   /* sequences per step over every worker */
    size_t nparams;
    memtable_t mem;                /* this rank's buffers: what trainer_create allocates */
    worker_share share[THREADS_MAX];   /* this rank's workers, by their index here */
} trainer_plan_t;

/* Makes every check trainer_create_ranks makes, and computes the memory
 * table, the global batch and the workers' slices, for rank `rank` of
 * nranks with nth threads each; allocates nothing, starts nothing, changes
 * nothing (it reads the memory limit, the address-space limit and the
 * BLAS's thread limit). Returns 0; -2 with err for bad input a user gave (a
 * strong-scaling batch smaller than the workers: train_model exits 2); -1
 * with err for any other refusal (the errors of trainer_create_ranks
 * before its allocations: train_model exits 1). */
int trainer_plan(const config_t *c, const train_opts *o, int nth, int rank, int nranks, trainer_plan_t *p,
                 char *err, size_t errlen);
/* trainer_create_ranks on a plan made for comm's rank and size (p is
 * copied): allocates, places and starts. NULL with err when an allocation,
 * a thread or a binding fails. */
trainer_t *trainer_create_planned(const trainer_plan_t *p, const train_opts *o, comm_t *comm,
                                  const corpus_t *data, char *err, size_t errlen);
/* The bytes of one worker's state in the trainer's array (the memory
 * table's "worker_state" item). */
size_t trainer_worker_bytes(void);

/* The memory the footprint is checked against, in bytes: the machine's
 * physical memory, or CLLM_MEMORY_LIMIT_MIB (MiB) from the environment when
 * it is set to a positive number, which may be more than the machine has (a
 * test of configs whose sizes pass 2^31 elements) or less. Returns what the
 * limit is, for messages. */
const char *trainer_memory_limit(double *bytes);

/* One training step; returns its mean loss (NaN/Inf are returned as they are:
 * the caller stops). */
float trainer_step(trainer_t *t);
/* Mean validation loss over `batches` global batches of the validation split. */
float trainer_eval(trainer_t *t, int batches);
/* Validation batch b (a global batch) on its own: adds every worker's summed
 * token loss, of every rank, to *loss in trainer_eval's order, so a caller
 * that stops between batches gets the same bits for those it ran. The mean
 * is *loss / (batches * global batch * T). Collective under MPI. */
void trainer_eval_add(trainer_t *t, int b, double *loss);

/* State for checkpoints and reports. */
long trainer_steps_done(const trainer_t *t);
void trainer_set_steps_done(trainer_t *t, long step);
size_t trainer_nparams(const trainer_t *t);
/* nparams floats; completes an all-gather in flight (--overlap on) first
 * (worker 0's thread: it calls MPI then) */
float *trainer_params(trainer_t *t);
/* Adam's moments of the parameters this rank holds (its shard, as
 * trainer_set_moments and trainer_gather_moments see it; all of them with
 * one rank) */
float *trainer_adam_m(trainer_t *t);
float *trainer_adam_v(trainer_t *t);
/* Set the moments from arrays of all nparams (a checkpoint's): this rank's
 * shard is copied. */
void trainer_set_moments(trainer_t *t, const float *m, const float *v);
/* Collective: every rank's moments into m and v (nparams each), on rank 0
 * only (m, v are not read elsewhere and may be NULL there). */
void trainer_gather_moments(trainer_t *t, float *m, float *v);
int trainer_rank(const trainer_t *t);
int trainer_ranks(const trainer_t *t);
int trainer_workers(const trainer_t *t);   /* ranks x threads */
/* bytes this rank sends and receives per step (payload, self excluded) */
void trainer_comm_bytes(const trainer_t *t, double *sent, double *received);
/* the combined gradient of the last step (before clipping), nparams floats:
 * what the optimizer read; for tests (tests/optim_dump.c). With several
 * ranks only this rank's shard of the moments' range holds the combined sum. */
const float *trainer_grads(const trainer_t *t);
float trainer_last_grad_norm(const trainer_t *t);
float trainer_last_lr(const trainer_t *t);
int trainer_threads(const trainer_t *t);
int trainer_global_batch(const trainer_t *t);
const config_t *trainer_config(const trainer_t *t);
const train_opts *trainer_opts(const trainer_t *t);
/* accumulated phase times of global worker g (0..trainer_workers-1),
 * seconds; other ranks' workers as of the last trainer_gather_stats */
/* The exchange's clocks (several ranks, timing on; all 0 otherwise), read
 * by worker 0, in seconds:
 *   XCLK_EXPOSED           time the step was blocked in MPI: worker 0's
 *                          phase `comm` (blocking collectives, posting, and
 *                          waits for messages not yet complete)
 *   XCLK_HIDDEN            in flight beside compute: HIDDEN_EXCHANGE +
 *                          HIDDEN_ALLGATHER (0 with --overlap off)
 *   XCLK_INFLIGHT_EXCHANGE the gradient buckets in flight: from posting a
 *                          bucket while none was in flight until every
 *                          posted one was seen complete (MPI_Testall at
 *                          worker 0's layer ends and between its matmuls,
 *                          or the wait after backward)
 *   XCLK_EXPOSED_EXCHANGE  the wait for them after backward (with the last
 *                          bucket's posting)
 *   XCLK_HIDDEN_EXCHANGE   INFLIGHT_EXCHANGE - EXPOSED_EXCHANGE
 *   XCLK_INFLIGHT_ALLGATHER the parameter all-gather in flight: from the
 *                          start of the step after the one that posted it
 *                          until its last bucket was complete (in forward)
 *   XCLK_EXPOSED_ALLGATHER worker 0's waits in forward for parameters not
 *                          yet arrived
 *   XCLK_HIDDEN_ALLGATHER  INFLIGHT_ALLGATHER - EXPOSED_ALLGATHER
 * Completion is seen only when worker 0 tests, so an in-flight time may
 * run past the transfer by up to one test interval. */
enum { XCLK_EXPOSED, XCLK_HIDDEN, XCLK_INFLIGHT_EXCHANGE, XCLK_EXPOSED_EXCHANGE, XCLK_HIDDEN_EXCHANGE,
       XCLK_INFLIGHT_ALLGATHER, XCLK_EXPOSED_ALLGATHER, XCLK_HIDDEN_ALLGATHER, XCLK_COUNT };
extern const char *const xclk_names[XCLK_COUNT];
/* rank r's clocks summed over the steps (other ranks' as of the last
 * trainer_gather_stats) */
void trainer_xclocks(const trainer_t *t, int r, double out[XCLK_COUNT]);
/* this rank's clocks of the last step */
void trainer_xclocks_last(const trainer_t *t, double out[XCLK_COUNT]);
/* this rank's XCLK_INFLIGHT_EXCHANGE */
double trainer_overlap_inflight_s(const trainer_t *t);
/* 1 when the exchanges are overlapped (--overlap on and several ranks):
 * the gradients with backward, the parameter all-gather with the next
 * step's forward. Between steps the all-gather may be in flight:
 * trainer_params, trainer_eval_add and trainer_free complete it first. */
int trainer_overlap(const trainer_t *t);
void trainer_phase_times(const trainer_t *t, int g, double wall[PH_COUNT], double cpu[PH_COUNT]);
/* Collective: every worker's phase times and every rank's peak RSS to every
 * rank (nothing to do with one rank). */
void trainer_gather_stats(trainer_t *t);
/* peak RSS of rank r in KiB (getrusage at the last trainer_gather_stats;
 * this process's now when there is one rank) */
long trainer_rank_rss(const trainer_t *t, int r);
/* local worker ith's (of this rank's pool) slice of the parameter vector, [k0, k1): it combines and
 * updates those parameters (multiples of 16 floats but the last) */
void trainer_slice(const trainer_t *t, int ith, size_t *k0, size_t *k1);
/* Record every phase of every worker into the run's timeline (trace.h:
 * straggler statistics, --trace's events) from the next step on; NULL
 * stops. The trace is this rank's, made for trainer_threads workers, and
 * must outlive its use. Nothing is recorded with timing off. Between
 * steps only. */
struct trace;
void trainer_set_trace(trainer_t *t, struct trace *tr);
/* the slice [k0, k1) worker g of n gets of np parameters, without a trainer
 * (what trainer_create assigns; --pin-plan prints it) */
void trainer_worker_slice(size_t np, int n, int g, size_t *k0, size_t *k1);
/* how long the pool's waiters spin before they sleep, ns (pool_spin_ns):
 * 0 when oversubscribed or when pinned workers share a CPU */
long trainer_spin_ns(const trainer_t *t);
/* barriers crossed since trainer_create (pool_syncs): 3 per step */
long trainer_syncs(const trainer_t *t);

/* ---- where the workers run ---- */
typedef struct {
    long tid;          /* gettid() of the worker's thread */
    int bound;         /* the CPU it was bound to, -1: not bound */
    int cpu_now;       /* sched_getcpu() at the last trainer_sample_cpus, -1: not sampled */
    char affinity[64]; /* its affinity mask then, as a CPU list ("0-3,8"), "" not sampled */
} worker_cpu;
/* Every worker reads its CPU and affinity mask now (a pool job). */
void trainer_sample_cpus(trainer_t *t);
void trainer_worker_cpu(const trainer_t *t, int ith, worker_cpu *out);

/* ---- per-phase counters (train_opts.events) ---- */
/* Worker ith's count of event ev (index into train_opts.events) per phase:
 * 0 with out[] filled, or the errno that made it unavailable on that
 * worker (the open failed, or a read failed later: counts stop). *user_only
 * is 1 when the kernel refused kernel-mode counting. */
int trainer_phase_counts(const trainer_t *t, int ith, int ev, unsigned long long out[PH_COUNT], int *user_only);
/* ns the worker's event group was enabled and running (equal unless the
 * PMU multiplexed it; counts are not scaled) */
void trainer_counter_times(const trainer_t *t, int ith, unsigned long long *enabled, unsigned long long *running);

/* ---- first touch (test hook) ---- */
enum { FT_CTX, FT_GRAD, FT_PARAMS, FT_ADAM_M, FT_ADAM_V, FT_COUNT };
typedef struct {
    long tid;                      /* gettid() of the thread that made these writes */
    struct {
        const char *lo, *hi;       /* the bytes it wrote first in trainer_create */
        long pages;                /* with CLLM_DEBUG_FIRST_TOUCH=1: pages of [lo, hi) */
        long resident_before;      /* and how many were resident just before (mincore), */
        long resident_after;       /* and after; -1 without the variable */
    } r[FT_COUNT];
} first_touch_t;
void trainer_first_touch(const trainer_t *t, int ith, first_touch_t *out);

#ifdef __cplusplus
}
#endif

#endif
