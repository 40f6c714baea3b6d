/*
 * trainer.c - the worker pool's training step: forward/backward per worker,
 * lock-free gradient combine, global-norm clipping and AdamW (see trainer.h).
 */
#include "trainer.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "comm.h"
#include "pin.h"
#include "ops.h"
#include "pool.h"
#include "ranks.h"
#include "reduce.h"
#include "trace.h"

#ifndef CLLM_LOCKED
#define CLLM_LOCKED 0
#endif

const char *const phase_names[PH_COUNT] = {
    "forward", "backward", "lock_wait", "barrier_wait", "reduce", "optimizer", "comm", "comm_sum",
};

const char *const xclk_names[XCLK_COUNT] = {
    "exposed", "hidden", "inflight_exchange", "exposed_exchange", "hidden_exchange",
    "inflight_allgather", "exposed_allgather", "hidden_allgather",
};

/* per-worker state written by that worker only; padded so no two workers
 * share a cache line */
typedef struct {
    _Alignas(CACHE_LINE) double wall[PH_COUNT];
    double cpu[PH_COUNT];
    double loss;           /* sum of this step's position losses */
    double sqnorm;         /* squared norm of this worker's gradient slice */
    int row0, rows;        /* global sequence indices [row0, row0 + rows) */
    size_t k0, k1;         /* parameter slice [k0, k1) (of global worker rank * nth + ith) */
    /* where it runs */
    long tid;
    int bound, cpu_now;    /* -1: not bound / not sampled */
    cpu_set_t affinity;    /* sampled with cpu_now */
    char bind_err[160];    /* set when binding failed in trainer_create */
    /* per-phase counters: the group, its last reading, the sums per phase */
    perfev_thread ev;
    int ev_failed;         /* errno of a failed read: counting stopped */
    uint64_t ev_last[PERFEV_MAX], ev_sum[PH_COUNT][PERFEV_MAX];
    uint64_t ev_en, ev_run, ev_en_last, ev_run_last;
    first_touch_t touch;
    trace_lane *tl;        /* its lane of the run's timeline (trace.h), NULL: none */
} worker_t;

struct trainer {
    config_t cfg;
    train_opts opt;
    int nth, Bglobal, Bmax;
    size_t nparams;
    size_t pcount[P_COUNT];
    float *shared;                 /* params (pad_p bytes) | adam m | adam v (pad_s bytes each: this
                                      rank's shard) | with several ranks the exchange buffer */
    size_t pad_p, pad_s, shared_bytes, wbytes;   /* wbytes: one worker's context + gradients */
    float *params, *m, *v;
    params_t p;
    char **wmem;                   /* per worker: context + gradient buffer */
    ctx_t *ctx;
    float **grad;
    params_t *g;
    worker_t *w;
    pool_t *pool;
    hwloc_topology_t topo;         /* loaded when pinning */
    pthread_t creator;             /* worker 0: its affinity is restored by trainer_free */
    cpu_set_t creator_mask;
    int restore_mask;
    int debug_touch;               /* CLLM_DEBUG_FIRST_TOUCH=1 */
    pthread_mutex_t model_lock;    /* used by the locked variant only */
    const corpus_t *data;
    long step;                     /* steps done = Adam's t before this step */
    long hang_step;                /* test hook (CLLM_TEST_HANG_STEP): -1 off */
    long eval_batch;
    float lr_now, grad_norm;
    /* ranks (comm.h). This process is rank `rank` of `nranks`; its workers
     * are the global workers rank * nth .. rank * nth + nth - 1 of
     * nworkers, and the parameter slices are those of one process of
     * nworkers workers. With one rank nothing below is used but moff = 0. */
    comm_t *comm;
    int rank, nranks, nworkers;
    size_t moff;                   /* adam m and v hold params [moff, moff + rank_cnt[rank]) */
    size_t *rank_off, *rank_cnt;   /* the range each rank owns: its workers' slices */
    size_t rank_one[2];            /* rank_off, rank_cnt of one rank */
    float *xbuf;                   /* comm_exchange's receive buffer, nranks x rank_cnt[rank] */
    double *wstat, *wstat_all;     /* per step (loss, sqnorm) of this rank's workers / of all */
    double *phase_mine, *phase_all;   /* trainer_gather_stats: [nth or nworkers][2][PH_COUNT] */
    long *rss_all;                 /* trainer_gather_stats: peak RSS of each rank, KiB */
    long kill_rank, kill_step;     /* test hook (CLLM_TEST_KILL_RANK): -1 off */
    struct trace *trace;           /* trainer_set_trace: the run's timeline, NULL: none */
    /* --overlap on with several ranks (ranks.h): L + 1 buckets; per step,
     * how many workers finished each, whether its local sum is done, the
     * next bucket worker 0 posts */
    int overlap;
    ranks_bucket *bk;
    atomic_int *bk_count, *bk_ready;
    int bk_next;
    int progress_ticks;            /* 1: worker 0 also progresses between a layer's matmuls */
    int late;                      /* test hook: each bucket posted when forward needs it, over NaN */
    /* the parameter all-gather (overlap): posted after the job in forward
     * order (k = 0 is bucket L, the embeddings; k = l + 1 is layer l's);
     * bucket k's receives are complete at message ag_mark[k + 1] of
     * COMM_Q_PARAM (the sends, COMM_Q_PARAM_SEND, by the end of forward);
     * ag_have = buckets complete, the other workers' gate in forward */
    int ag_pending, ag_posted;     /* in flight; buckets posted of it */
    int *ag_mark;
    atomic_int ag_have;
    /* the exchange's clocks (trainer.h's XCLK_*, worker 0): this step's,
     * the last step's, the totals, every rank's totals (gather_stats) */
    double xs[XCLK_COUNT], xlast[XCLK_COUNT], xtot[XCLK_COUNT], *xall;
    double ex_open;                /* the gradient queue in flight since, -1: not */
    double step_t0;                /* this step's start */
};

/* ---- test-only hook (tests/test_cli.sh), off unless CLLM_TEST_HOLD_MS is set:
 * each worker sleeps that many ms inside forward+backward (so inside the
 * model lock of the locked variant) and counts how many workers are inside
 * at once; trainer_free prints the most seen. It proves the locked variant
 * serialises and the lock-free one overlaps without depending on speed. */
static int hold_ms;            /* hooks.hold_ms of the last trainer created */
static atomic_int hold_inside, hold_most;
static void hold_enter(void) {
    if (hold_ms <= 0) return;
    int n = atomic_fetch_add(&hold_inside, 1) + 1, m = atomic_load(&hold_most);
    while (n > m && !atomic_compare_exchange_weak(&hold_most, &m, n)) {}
    struct timespec ts = { hold_ms / 1000, (hold_ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0) {}
    atomic_fetch_sub(&hold_inside, 1);
}
/* ---- end of the test-only hook */

void train_opts_default(train_opts *o) {
    o->lr = 1e-3f;
    o->min_lr_frac = 0.1f;
    o->wd = 0.1f;
    o->beta1 = 0.9f;
    o->beta2 = 0.95f;
    o->eps = 1e-8f;
    o->clip = 1.0f;
    o->warmup = 10;
    o->lr_steps = 0;
    o->seed = 1337;
    o->strong = 0;
    o->timing = 1;
    o->pin_cpus = NULL;
    memset(&o->events, 0, sizeof o->events);
    o->recompute = RECOMPUTE_NONE;
    o->overlap = 0;
}


/* ---------------------------------------------------------------- placement */

/* pages of [lo, hi) resident now (mincore), for the first-touch hook */
static long resident_pages(const char *lo, const char *hi) {
    size_t pg = mem_page_size();
    uintptr_t a = (uintptr_t)lo / pg * pg, e = ((uintptr_t)hi + pg - 1) / pg * pg;
    long n = 0;
    unsigned char vec[256];
    for (; a < e; a += sizeof vec * pg) {
        size_t len = MIN((size_t)(e - a), sizeof vec * pg);
        if (mincore((void *)a, len, vec) != 0) return -1;
        for (size_t i = 0; i < (len + pg - 1) / pg; i++) n += vec[i] & 1;
    }
    return n;
}

static char *page_up(char *p) {
    size_t pg = mem_page_size();
    return (char *)(((uintptr_t)p + pg - 1) / pg * pg);
}

/* Worker ith's pages of shared array a (0 params, 1 adam m, 2 adam v; m and
 * v hold this rank's shard, params [moff, moff + shard)): those whose first
 * byte lies in its slice of the array; a page whose first byte lies before
 * the first worker's slice or in an array's padding goes to the first or
 * the last worker. Over all workers and arrays these tile the pages of
 * params, m and v without overlap (the exchange buffer of several ranks is
 * placed by its first writer, MPI). */
static void owned_pages(const trainer_t *t, int a, int ith, char **lo, char **hi) {
    char *arr = a == 0 ? (char *)t->shared : (char *)t->shared + t->pad_p + (size_t)(a - 1) * t->pad_s;
    size_t base = a == 0 ? 0 : t->moff, len = a == 0 ? t->pad_p : t->pad_s;
    char *s = ith == 0 ? arr : arr + (t->w[ith].k0 - base) * sizeof(float);
    char *e = ith == t->nth - 1 ? arr + len : arr + (t->w[ith + 1].k0 - base) * sizeof(float);
    *lo = page_up(s);
    *hi = page_up(e);
    if (*hi < *lo) *hi = *lo;
}

/* the region worker w writes first, with the debug hook's page count and
 * residency before any of the worker's writes */
static void touch_note(const trainer_t *t, worker_t *w, int r, char *lo, char *hi) {
    w->touch.r[r].lo = lo;
    w->touch.r[r].hi = hi;
    w->touch.r[r].pages = w->touch.r[r].resident_before = w->touch.r[r].resident_after = -1;
    if (!t->debug_touch) return;
    size_t pg = mem_page_size();
    w->touch.r[r].pages = hi > lo ? (long)(((uintptr_t)hi + pg - 1) / pg - (uintptr_t)lo / pg) : 0;
    w->touch.r[r].resident_before = hi > lo ? resident_pages(lo, hi) : 0;
}

/* The first job of a trainer: each worker binds itself to its CPU (when
 * pinned), opens its counters, and makes the first write to its own
 * context and gradient buffer and to its pages of the shared block. */
static void place_job(void *arg, int ith, int nth) {
    trainer_t *t = arg;
    worker_t *w = &t->w[ith];
    w->tid = (long)syscall(SYS_gettid);
    w->touch.tid = w->tid;
    if (w->bound >= 0 && pin_bind(t->topo, w->bound, w->bind_err, sizeof w->bind_err) != 0) return;
    if (t->opt.events.n > 0) perfev_open(&w->ev, &t->opt.events);
    char *mem = t->wmem[ith];
    touch_note(t, w, FT_CTX, mem, mem + (t->wbytes - t->pad_p));
    touch_note(t, w, FT_GRAD, mem + (t->wbytes - t->pad_p), mem + t->wbytes);
    for (int a = 0; a < 3; a++) {
        char *lo, *hi;
        owned_pages(t, a, ith, &lo, &hi);
        touch_note(t, w, FT_PARAMS + a, lo, hi);
    }
    for (int r = 0; r < FT_COUNT; r++) {
        char *lo = (char *)w->touch.r[r].lo, *hi = (char *)w->touch.r[r].hi;
        if (hi > lo) memset(lo, 0, (size_t)(hi - lo));     /* the first write */
    }
    if (t->debug_touch)
        for (int r = 0; r < FT_COUNT; r++)
            w->touch.r[r].resident_after = w->touch.r[r].hi > w->touch.r[r].lo ?
                resident_pages(w->touch.r[r].lo, w->touch.r[r].hi) : 0;
    (void)nth;
}

/* ---------------------------------------------------------------- create */

trainer_t *trainer_create(const config_t *c, const train_opts *o, int nth,
                          const corpus_t *data, char *err, size_t errlen) {
    return trainer_create_ranks(c, o, nth, NULL, data, err, errlen);
}

trainer_t *trainer_create_ranks(const config_t *c, const train_opts *o, int nth, comm_t *comm,
                                const corpus_t *data, char *err, size_t errlen) {
    trainer_plan_t p;             /* on the stack: the fault-injection tests count the allocations */
    if (trainer_plan(c, o, nth, comm_rank(comm), comm_size(comm), &p, err, errlen) != 0) return NULL;
    return trainer_create_planned(&p, o, comm, data, err, errlen);
}

size_t trainer_worker_bytes(void) { return sizeof(worker_t); }

/* The test hooks, read from the environment in one place, by each
 * trainer_create (a test may set one between two trainers). */
static struct {
    int hold_ms;                   /* CLLM_TEST_HOLD_MS */
    long hang_step;                /* CLLM_TEST_HANG_STEP, -1 off */
    long kill_rank, kill_step;     /* CLLM_TEST_KILL_RANK=R:S, -1 off */
    int debug_touch;               /* CLLM_DEBUG_FIRST_TOUCH=1 */
    int progress_ticks;            /* CLLM_OVERLAP_PROGRESS=layers: 0 (a benchmark's comparison) */
    int late;                      /* CLLM_TEST_LATE_ALLGATHER=1 (2: and worker 0 always waits) */
} hooks;

static void hooks_read(void) {
    const char *hold = getenv("CLLM_TEST_HOLD_MS");
    hooks.hold_ms = hold ? atoi(hold) : 0;
    const char *hang = getenv("CLLM_TEST_HANG_STEP");
    hooks.hang_step = hang && *hang ? atol(hang) : -1;
    const char *kill = getenv("CLLM_TEST_KILL_RANK");
    hooks.kill_rank = hooks.kill_step = -1;
    if (kill && *kill && sscanf(kill, "%ld:%ld", &hooks.kill_rank, &hooks.kill_step) != 2)
        hooks.kill_rank = hooks.kill_step = -1;
    const char *dbg = getenv("CLLM_DEBUG_FIRST_TOUCH");
    hooks.debug_touch = dbg && strcmp(dbg, "1") == 0;
    const char *prog = getenv("CLLM_OVERLAP_PROGRESS");
    hooks.progress_ticks = !(prog && strcmp(prog, "layers") == 0);
    const char *late = getenv("CLLM_TEST_LATE_ALLGATHER");
    hooks.late = !late ? 0 : strcmp(late, "1") == 0 ? 1 : strcmp(late, "2") == 0 ? 2 : 0;
}

trainer_t *trainer_create_planned(const trainer_plan_t *pl, const train_opts *o, comm_t *comm,
                                  const corpus_t *data, char *err, size_t errlen) {
    hooks_read();
    hold_ms = hooks.hold_ms;
    const config_t *c = &pl->cfg;
    const memtable_t mt = pl->mem;
    const int nth = pl->nth, rank = pl->rank, nranks = pl->nranks;
    trainer_t *t = xcalloc(1, sizeof *t);
    if (!t) { snprintf(err, errlen, "cannot allocate %zu bytes for the trainer", sizeof *t); return NULL; }
    t->cfg = *c;
    t->opt = *o;
    t->nth = nth;
    t->data = data;
    t->Bmax = mt.Bmax;
    t->comm = comm;
    t->rank = rank;
    t->nranks = nranks;
    t->nworkers = nth * nranks;
    const int nw = t->nworkers;
    t->Bglobal = pl->Bglobal;
    t->hang_step = hooks.hang_step;
    t->kill_rank = hooks.kill_rank;
    t->kill_step = hooks.kill_step;
    t->nparams = param_counts(c, t->pcount);
    /* the layout of the shared block, from the memory table's own items */
    size_t pad_p = mem_round_line(mt.shared[0].bytes), pad_s = mem_round_line(mt.shared[1].bytes);
    t->pad_p = pad_p;
    t->pad_s = pad_s;
    t->shared_bytes = mt.shared_total;
    t->wbytes = mt.per_thread_total - sizeof(worker_t);
    t->debug_touch = hooks.debug_touch;

    /* untouched: each page is placed where place_job first writes it */
    t->shared = mem_alloc_untouched(mt.shared_total);
    if (!t->shared) {
        snprintf(err, errlen, "cannot allocate %zu bytes for the shared parameters and Adam state",
                 mt.shared_total);
        goto fail;
    }
    t->params = t->shared;
    t->m = (float *)((char *)t->shared + pad_p);
    t->v = (float *)((char *)t->shared + pad_p + pad_s);
    if (nranks > 1) t->xbuf = (float *)((char *)t->shared + pad_p + 2 * pad_s);
    params_point(&t->p, t->params, c);
#ifdef MADV_NOHUGEPAGE
    if (nth > 1) madvise(t->shared, mt.shared_total, MADV_NOHUGEPAGE);   /* advisory: failure is harmless */
#endif

    /* one rank: the table lives in the trainer (no allocation: the same
     * allocations as before ranks existed, which the fault-injection
     * tests count) */
    t->rank_off = nranks == 1 ? t->rank_one : xcalloc(2 * (size_t)nranks, sizeof(size_t));
    if (!t->rank_off) {
        snprintf(err, errlen, "cannot allocate %zu bytes for the table of %d ranks",
                 2 * nranks * sizeof(size_t), nranks);
        goto fail;
    }
    t->rank_cnt = t->rank_off + nranks;
    for (int r = 0; r < nranks; r++) memtable_rank_range(t->nparams, nth, nranks, r, &t->rank_off[r], &t->rank_cnt[r]);
    t->moff = t->rank_off[rank];
    if (nranks > 1) {
        size_t nd = 2 * (size_t)nth + 2 * (size_t)nw + 2 * PH_COUNT * (size_t)(nth + nw) + XCLK_COUNT * (size_t)nranks;
        t->wstat = xcalloc(nd, sizeof(double));
        t->rss_all = xcalloc((size_t)nranks, sizeof(long));
        if (!t->wstat || !t->rss_all) {
            snprintf(err, errlen, "cannot allocate %zu bytes for the per-worker tables of %d ranks",
                     nd * sizeof(double) + nranks * sizeof(long), nranks);
            goto fail;
        }
        t->wstat_all = t->wstat + 2 * nth;
        t->phase_mine = t->wstat_all + 2 * nw;
        t->phase_all = t->phase_mine + 2 * PH_COUNT * nth;
        t->xall = t->phase_all + 2 * PH_COUNT * (size_t)nw;
    }
    if (nranks > 1 && o->overlap) {
        const int nb = c->L + 1;
        const ranks_t rk = { comm, rank, nranks, nth, t->rank_off, t->rank_cnt, NULL };
        t->bk = xcalloc((size_t)nb, sizeof *t->bk);
        t->bk_count = xcalloc(2 * (size_t)nb, sizeof *t->bk_count);
        t->ag_mark = xcalloc((size_t)nb + 1, sizeof *t->ag_mark);
        if (!t->bk || !t->bk_count || !t->ag_mark || comm_reserve(comm, COMM_Q_GRAD, ranks_messages(&rk, c->L)) != 0 ||
            comm_reserve(comm, COMM_Q_PARAM, ranks_messages(&rk, c->L)) != 0 ||
            comm_reserve(comm, COMM_Q_PARAM_SEND, ranks_messages(&rk, c->L)) != 0) {
            snprintf(err, errlen, "cannot allocate the overlapped exchange's tables (%d buckets, %d ranks)", nb, nranks);
            goto fail;
        }
        t->bk_ready = t->bk_count + nb;
        ranks_buckets(t->pcount, c->L, t->bk);
        t->overlap = 1;
        t->progress_ticks = hooks.progress_ticks;
        t->late = hooks.late;
        t->ex_open = -1;
    }

    t->w = mem_alloc(sizeof(worker_t) * nth);
    t->wmem = xcalloc(nth, sizeof *t->wmem);
    t->ctx = xcalloc(nth, sizeof *t->ctx);
    t->grad = xcalloc(nth, sizeof *t->grad);
    t->g = xcalloc(nth, sizeof *t->g);
    if (!t->w || !t->wmem || !t->ctx || !t->grad || !t->g) {
        snprintf(err, errlen, "cannot allocate %zu bytes for the worker tables of %d threads",
                 (sizeof(worker_t) + sizeof(char *) + sizeof(ctx_t) + sizeof(float *) + sizeof(params_t)) * nth, nth);
        goto fail;
    }
    size_t ctx_bytes = t->wbytes - pad_p;
    for (int i = 0; i < nth; i++) {
        worker_t *w = &t->w[i];
        w->bound = o->pin_cpus ? o->pin_cpus[i] : -1;
        w->cpu_now = -1;
        for (int k = 0; k < PERFEV_MAX; k++) w->ev.fd[k] = -1;
        w->ev.leader = -1;
        w->row0 = pl->share[i].row0;
        w->rows = pl->share[i].rows;
        w->k0 = pl->share[i].k0;
        w->k1 = pl->share[i].k1;
    }
    for (int i = 0; i < nth; i++) {
        t->wmem[i] = mem_alloc_untouched(t->wbytes);
        if (!t->wmem[i]) {
            snprintf(err, errlen, "cannot allocate %zu bytes for the training context and "
                     "gradients of worker %d", t->wbytes, i);
            goto fail;
        }
        ctx_carve(c, t->Bmax, o->recompute, &t->ctx[i], t->wmem[i]);
        t->grad[i] = (float *)(t->wmem[i] + ctx_bytes);
        params_point(&t->g[i], t->grad[i], c);
    }
    t->pool = pool_create(nth, err, errlen);
    if (!t->pool) goto fail;
    pthread_mutex_init(&t->model_lock, NULL);
    if (o->pin_cpus) {
        char e[256];
        t->topo = pin_topology_load(e, sizeof e);
        if (!t->topo) { snprintf(err, errlen, "pinning: %s", e); goto fail; }
        t->creator = pthread_self();
        t->restore_mask = pthread_getaffinity_np(t->creator, sizeof t->creator_mask, &t->creator_mask) == 0;
        /* workers pinned two to a CPU must not spin at a barrier: the one
         * spinning holds the CPU the other needs to arrive */
        int shared_cpu = 0;
        for (int i = 0; i < nth && !shared_cpu; i++)
            for (int k = 0; k < i && !shared_cpu; k++) shared_cpu = o->pin_cpus[i] == o->pin_cpus[k];
        if (shared_cpu) pool_spin(t->pool, 0);
    }
    pool_run(t->pool, place_job, t);
    for (int i = 0; i < nth; i++)
        if (t->w[i].bind_err[0]) {
            snprintf(err, errlen, "worker %d: %s", i, t->w[i].bind_err);
            goto fail;
        }
    /* the initial values, written after the placement (the same values at
     * every thread count: one generator over the whole vector) */
    params_init(t->params, c, o->seed);
    return t;
fail:
    trainer_free(t);
    return NULL;
}

static void params_sync(trainer_t *t);

void trainer_free(trainer_t *t) {
    if (!t) return;
    params_sync(t);
    if (t->overlap) comm_wait_all(t->comm, COMM_Q_PARAM_SEND);
    if (hold_ms > 0 && t->pool)
        fprintf(stderr, "CLLM_TEST_HOLD_MS: at most %d workers inside forward+backward at once\n",
                atomic_load(&hold_most));
    if (t->pool) {                 /* the lock exists exactly when the pool does */
        pool_free(t->pool);
        pthread_mutex_destroy(&t->model_lock);
    }
    for (int i = 0; t->w && i < t->nth; i++) perfev_close(&t->w[i].ev);
    if (t->restore_mask) pthread_setaffinity_np(t->creator, sizeof t->creator_mask, &t->creator_mask);
    if (t->topo) hwloc_topology_destroy(t->topo);
    for (int i = 0; t->wmem && i < t->nth; i++) mem_free_untouched(t->wmem[i], t->wbytes);
    free(t->wmem);
    free(t->ctx);
    free(t->grad);
    free(t->g);
    if (t->rank_off != t->rank_one) free(t->rank_off);
    free(t->wstat);
    free(t->rss_all);
    free(t->bk);
    free(t->bk_count);
    free(t->ag_mark);
    mem_free(t->w);
    mem_free_untouched(t->shared, t->shared_bytes);
    free(t);
}

/* ---------------------------------------------------------------- the step */

typedef struct { double wall, cpu; } stamp;

static inline stamp stamp_now(const trainer_t *t) {
    stamp s = { 0, 0 };
    if (t->opt.timing) { s.wall = time_wall(); s.cpu = time_thread_cpu(); }
    return s;
}

/* the worker's counters at a phase boundary: what they moved since the last
 * boundary goes to phase ph (ph < 0: the start of a step, nothing is added) */
static void phase_counts_read(worker_t *w, int ph) {
    if (w->ev.leader < 0 || w->ev_failed) return;
    uint64_t v[PERFEV_MAX], en, run;
    memcpy(v, w->ev_last, sizeof v);
    if (perfev_read(&w->ev, v, &en, &run) != 0) {
        w->ev_failed = errno ? errno : EIO;
        return;
    }
    if (ph >= 0) {
        for (int i = 0; i < w->ev.n; i++) w->ev_sum[ph][i] += v[i] - w->ev_last[i];
        w->ev_en += en - w->ev_en_last;
        w->ev_run += run - w->ev_run_last;
    }
    memcpy(w->ev_last, v, sizeof v);
    w->ev_en_last = en;
    w->ev_run_last = run;
}

static inline stamp phase_start(const trainer_t *t, worker_t *w) {
    stamp s = stamp_now(t);
    phase_counts_read(w, -1);
    return s;
}

static inline stamp phase_end(const trainer_t *t, worker_t *w, int ph, stamp s) {
    stamp e = stamp_now(t);
    w->wall[ph] += e.wall - s.wall;
    w->cpu[ph] += e.cpu - s.cpu;
    phase_counts_read(w, ph);
    if (w->tl) trace_phase(w->tl, ph, s.wall, e.wall);
    return e;
}

static void fill_batch(trainer_t *t, worker_t *w, ctx_t *x, int val, long step) {
    const int T = t->cfg.T;
    for (int r = 0; r < w->rows; r++)
        corpus_sample(t->data, val, t->opt.seed, (uint64_t)step, (uint64_t)(w->row0 + r), T,
                      x->inp + (size_t)r * T, x->tgt + (size_t)r * T);
}

/* AdamW over params[k0, k1), tensor by tensor (weight decay is per tensor);
 * the bias corrections' reciprocals are computed once per step; the moments
 * are this rank's shard, which starts at parameter moff */
static void adamw_slice(trainer_t *t, size_t k0, size_t k1, float scale) {
    const train_opts *o = &t->opt;
    long step = t->step + 1;
    adamw_step s = { .lr = t->lr_now, .beta1 = o->beta1, .beta2 = o->beta2,
                     .rb1 = 1.0f / (1.0f - powf(o->beta1, (float)step)),
                     .rb2 = 1.0f / (1.0f - powf(o->beta2, (float)step)),
                     .eps = o->eps, .gscale = scale };
    size_t base = 0;
    for (int i = 0; i < P_COUNT; i++) {
        size_t a = MAX(k0, base), b = MIN(k1, base + t->pcount[i]);
        base += t->pcount[i];
        if (a >= b) continue;
        s.wd = param_decays(i) ? o->wd : 0.0f;
        adamw_update(t->params + a, t->m + (a - t->moff), t->v + (a - t->moff), t->grad[0] + a, b - a, &s);
    }
}

/* ---- the combine across ranks (nranks > 1; trainer_create_ranks in
 * trainer.h; the arithmetic and the MPI calls are ranks.c's). Worker 0
 * alone calls MPI (MPI_THREAD_FUNNELED), between the pool's barriers. */

static ranks_t ranks_view(const trainer_t *t) {
    return (ranks_t){ t->comm, t->rank, t->nranks, t->nth, t->rank_off, t->rank_cnt, t->xbuf };
}

/* ---- --overlap on: the gradient buckets during backward, the parameter
 * all-gather during the next forward (trainer.h's XCLK_* clocks). */

/* the gradient queue's in-flight span ends at t_end, `blocked` of it spent
 * in a wait: the clocks and the trace's in-flight track */
static void ex_close(trainer_t *t, double t_end, double blocked) {
    if (t->ex_open < 0) return;
    double span = t_end - t->ex_open;
    t->xs[XCLK_INFLIGHT_EXCHANGE] += span;
    t->xs[XCLK_EXPOSED_EXCHANGE] += blocked;
    t->xs[XCLK_HIDDEN_EXCHANGE] += MAX(0.0, span - blocked);
    if (t->w[0].tl) trace_mpi_inflight(t->w[0].tl, t->ex_open, t_end);
    t->ex_open = -1;
}

/* Worker 0: post the buckets that are ready, in order, and let MPI
 * progress the ones in flight (all: post every bucket, which the caller
 * knows to be ready, and leave the span open for its wait). */
static void overlap_post(trainer_t *t, int all) {
    const ranks_t rk = ranks_view(t);
    const int nb = t->cfg.L + 1;
    while (t->bk_next < nb && (all || atomic_load_explicit(&t->bk_ready[t->bk_next], memory_order_acquire))) {
        if (t->opt.timing && t->ex_open < 0) t->ex_open = time_wall();
        ranks_bucket_post(&rk, t->grad[0], &t->bk[t->bk_next++]);
    }
    if (comm_progress(t->comm, COMM_Q_GRAD) && !all && t->ex_open >= 0) ex_close(t, time_wall(), 0.0);
}

typedef struct { trainer_t *t; int ith; worker_t *w; stamp *s; } layer_arg;

/* model_hooks.layer_done after layer l: the last of the rank's workers to
 * finish it sums the bucket over them and marks it ready; worker 0 posts
 * what is ready (it alone calls MPI). */
static void layer_done(void *arg, int l) {
    layer_arg *a = arg;
    trainer_t *t = a->t;
    if (l >= t->cfg.L) return;  /* the head's call: its bucket is summed after the barrier */
    const int b = t->cfg.L - 1 - l;
    if (atomic_fetch_add_explicit(&t->bk_count[b], 1, memory_order_acq_rel) == t->nth - 1) {
        const ranks_t rk = ranks_view(t);
        ranks_bucket_local_sum(&rk, t->grad, &t->bk[b]);
        atomic_store_explicit(&t->bk_ready[b], 1, memory_order_release);
    }
    if (a->ith == 0) overlap_post(t, 0);
}

/* model_hooks.tick, between a layer's matmuls: worker 0 lets MPI progress
 * the all-gather in flight (forward) and posts the gradient buckets ready
 * (backward), each an MPI_Testall over a queue: a few us */
static void layer_tick(void *arg) {
    layer_arg *a = arg;
    trainer_t *t = a->t;
    if (a->ith != 0 || !t->progress_ticks) return;
    if (t->ag_pending) {
        comm_progress(t->comm, COMM_Q_PARAM);
        comm_progress(t->comm, COMM_Q_PARAM_SEND);
    }
    else overlap_post(t, 0);
}

/* Worker 0: post the all-gather's receives, bucket by bucket in forward
 * order, up to bucket kk */
static void ag_post_upto(trainer_t *t, int kk) {
    const ranks_t rk = ranks_view(t);
    const int L = t->cfg.L;
    for (; t->ag_posted < kk; t->ag_posted++) {
        ranks_params_post(&rk, t->params, &t->bk[L - t->ag_posted], 0);
        t->ag_mark[t->ag_posted + 1] = comm_posted(t->comm, COMM_Q_PARAM);
    }
}

/* Worker 0 after the job (every AdamW done): post the all-gather, sends
 * and receives. Test hook (late): the receives of each bucket only when
 * forward reaches it (a message lands when its receive is posted), over
 * NaN, so that a read before its arrival shows. */
static void ag_post(trainer_t *t) {
    const ranks_t rk = ranks_view(t);
    for (int k = 0; k <= t->cfg.L; k++) ranks_params_post(&rk, t->params, &t->bk[t->cfg.L - k], 1);
    t->ag_mark[0] = 0;
    t->ag_posted = 0;
    t->ag_pending = 1;
    if (t->late) {
        size_t a = t->rank_off[t->rank], e = a + t->rank_cnt[t->rank];
        for (size_t i = 0; i < t->nparams; i++)
            if (i < a || i >= e) t->params[i] = NAN;
        return;
    }
    ag_post_upto(t, t->cfg.L + 1);
    comm_progress(t->comm, COMM_Q_PARAM_SEND);
    comm_progress(t->comm, COMM_Q_PARAM);
}

/* the all-gather's receives in flight completed (between steps: no clock;
 * its sends are waited for before this rank's next AdamW, in the combine,
 * or by trainer_free) */
static void params_sync(trainer_t *t) {
    if (!t->ag_pending) return;
    ag_post_upto(t, t->cfg.L + 1);
    comm_wait_all(t->comm, COMM_Q_PARAM);
    t->ag_pending = 0;
}

/* the other workers' gate: until more than k buckets of parameters are
 * complete (spin briefly, then sleep on the futex worker 0 wakes) */
static void ag_gate(atomic_int *have, int k) {
    for (int spin = 0;; spin++) {
        int v = atomic_load_explicit(have, memory_order_acquire);
        if (v > k) return;
        if (spin < 256) continue;
        syscall(SYS_futex, have, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
    }
}

/* model_hooks.layer_begin, before layer l (-1: the embeddings) reads its
 * parameters: bucket k = l + 1 of the all-gather must be complete. Worker 0
 * tests it, waits when it is not (its forward phase ends there and the
 * wait is `comm`: exposed), then opens the gate; the others wait at it. */
static void layer_begin(void *arg, int l) {
    layer_arg *a = arg;
    trainer_t *t = a->t;
    const int nb = t->cfg.L + 1, k = l + 1;
    if (k >= nb) return;                         /* the final LayerNorm: in bucket L (k = 0) */
    if (a->ith != 0) { ag_gate(&t->ag_have, k); return; }
    if (!t->ag_pending) return;                  /* nothing in flight: the gate is open */
    ag_post_upto(t, k + 1);                      /* posted already (but under the test hook) */
    const int n = t->ag_mark[k + 1];
    if (t->late == 2 || !comm_test_upto(t->comm, COMM_Q_PARAM, n)) {   /* 2: a wait each layer (test hook) */
        *a->s = phase_end(t, a->w, PH_FORWARD, *a->s);
        double t0 = a->s->wall;
        comm_wait_upto(t->comm, COMM_Q_PARAM, n);
        *a->s = phase_end(t, a->w, PH_COMM, *a->s);
        t->xs[XCLK_EXPOSED_ALLGATHER] += a->s->wall - t0;
    }
    if (k == nb - 1) {
        comm_wait_all(t->comm, COMM_Q_PARAM);    /* all complete: empties the queue */
        t->ag_pending = 0;
        if (t->opt.timing) {
            double now = time_wall(), span = now - t->step_t0;
            t->xs[XCLK_INFLIGHT_ALLGATHER] += span;
            t->xs[XCLK_HIDDEN_ALLGATHER] += MAX(0.0, span - t->xs[XCLK_EXPOSED_ALLGATHER]);
            if (a->w->tl) trace_mpi_inflight(a->w->tl, t->step_t0, now);
        }
    }
    atomic_store_explicit(&t->ag_have, k + 1, memory_order_release);
    if (t->nth > 1) syscall(SYS_futex, &t->ag_have, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* model_hooks.mark, between the parts of a pass: a clock reading for the
 * trace's per-layer events (trace_mark: only in a step it records; the
 * backward's comes after layer_done, so that a layer's event holds the
 * bucket work that follows it) */
static void layer_mark(void *arg, int l) {
    layer_arg *a = arg;
    trace_mark(a->w->tl, l);
}

/* --overlap on, after backward's barrier (every layer's bucket is summed):
 * worker 0 sums the last bucket, posts what is left and waits for all;
 * then every worker its own slice as the ranks' sums in rank order. */
static double ranks_combine_overlap(trainer_t *t, worker_t *w, int ith, stamp *s) {
    const ranks_t rk = ranks_view(t);
    if (ith == 0) {
        ranks_bucket_local_sum(&rk, t->grad, &t->bk[t->cfg.L]);
        *s = phase_end(t, w, PH_REDUCE, *s);
        double t0 = s->wall;
        overlap_post(t, 1);
        comm_wait_all(t->comm, COMM_Q_GRAD);
        comm_wait_all(t->comm, COMM_Q_PARAM_SEND);   /* the last all-gather's: AdamW rewrites what they read */
        *s = phase_end(t, w, PH_COMM, *s);
        if (t->opt.timing) ex_close(t, s->wall, s->wall - t0);
    }
    pool_barrier(t->pool);
    *s = phase_end(t, w, PH_BARRIER, *s);
    double sq = ranks_owner_sum(&rk, t->grad[0], w->k0, w->k1);
    *s = phase_end(t, w, PH_COMM_SUM, *s);
    return sq;
}

static double ranks_combine(trainer_t *t, worker_t *w, int ith, stamp *s) {
    if (t->overlap) return ranks_combine_overlap(t, w, ith, s);
    const ranks_t rk = ranks_view(t);
    for (int d = 0; d < t->nranks && t->nth > 1; d++) {
        size_t k0, k1;
        memtable_worker_slice(t->nparams, t->nworkers, d * t->nth + ith, &k0, &k1);
        ranks_local_sum(&rk, t->grad, k0, k1);
    }
    *s = phase_end(t, w, PH_REDUCE, *s);
    pool_barrier(t->pool);
    *s = phase_end(t, w, PH_BARRIER, *s);
    if (ith == 0) {
        ranks_exchange(&rk, t->grad[0]);
        *s = phase_end(t, w, PH_COMM, *s);
    }
    pool_barrier(t->pool);
    *s = phase_end(t, w, PH_BARRIER, *s);
    double sq = ranks_owner_sum(&rk, t->grad[0], w->k0, w->k1);
    *s = phase_end(t, w, PH_COMM_SUM, *s);
    return sq;
}

/* After the barrier that ends the combine: worker 0 gathers every worker's
 * (loss, squared norm) into wstat_all (global worker order), then all meet. */
static void ranks_gather_stat(trainer_t *t, worker_t *w, int ith, stamp *s) {
    if (ith == 0) {
        for (int j = 0; j < t->nth; j++) {
            t->wstat[2 * j] = t->w[j].loss;
            t->wstat[2 * j + 1] = t->w[j].sqnorm;
        }
        comm_allgather_f64(t->comm, t->wstat, t->wstat_all, 2 * t->nth);
        *s = phase_end(t, w, PH_COMM, *s);
    }
    pool_barrier(t->pool);
    *s = phase_end(t, w, PH_BARRIER, *s);
}

static void step_job(void *arg, int ith, int nth) {
    trainer_t *t = arg;
    worker_t *w = &t->w[ith];
    ctx_t *x = &t->ctx[ith];
    const float dloss = 1.0f / ((float)t->Bglobal * t->cfg.T);
    stamp s = phase_start(t, w);

#if CLLM_LOCKED
    pthread_mutex_lock(&t->model_lock);
    s = phase_end(t, w, PH_LOCK_WAIT, s);
#endif
    /* test hook: the last worker never finishes this step (a stuck step for
     * train_model's stop-signal grace period; tests/test_signals.sh) */
    if (t->step == t->hang_step && ith == nth - 1)
        for (;;) pause();
    fill_batch(t, w, x, 0, t->step);
    /* no zeroing of the gradient buffer: forward+backward overwrite every
     * gradient with its first write (model.h, ops.h) */
    /* the forward phase includes the classifier's fused backward (model.h);
     * with --overlap on the parameter all-gather is waited for layer by
     * layer inside it (worker 0's blocked waits are `comm`; the others'
     * waits for worker 0 stay in their forward) and the gradient buckets
     * go out during backward; the model's hooks only where they do
     * something: the overlapped exchange, or a step whose per-layer events
     * the trace records */
    layer_arg la = { t, ith, w, &s };
    const int marks = w->tl && w->tl->on;
    const model_hooks hk = { t->overlap ? layer_begin : NULL, t->overlap ? layer_done : NULL,
                             t->overlap ? layer_tick : NULL, marks ? layer_mark : NULL, &la };
    const model_hooks *h = t->overlap || marks ? &hk : NULL;
    w->loss = model_forward_hooks(&t->cfg, &t->p, x, w->rows, &t->g[ith], dloss, h);
    s = phase_end(t, w, PH_FORWARD, s);
    model_backward_hooks(&t->cfg, &t->p, &t->g[ith], x, w->rows, h);
    hold_enter();   /* test-only, see the top */
#if CLLM_LOCKED
    pthread_mutex_unlock(&t->model_lock);
#endif
    s = phase_end(t, w, PH_BACKWARD, s);

    pool_barrier(t->pool);
    s = phase_end(t, w, PH_BARRIER, s);

    if (t->nranks > 1) {
        /* ---- MPI insertion point 1 of 3: the combine across ranks */
        w->sqnorm = ranks_combine(t, w, ith, &s);
    } else {
        /* combine: my slice, summed over every worker's buffer in order 0..N-1 */
        const float *src[THREADS_MAX];
        for (int j = 0; j < nth; j++) src[j] = t->grad[j] + w->k0;
        w->sqnorm = reduce_sum(t->grad[0] + w->k0, src, nth, w->k1 - w->k0);
        s = phase_end(t, w, PH_REDUCE, s);
    }

    pool_barrier(t->pool);
    s = phase_end(t, w, PH_BARRIER, s);

    double total = 0.0;
    if (t->nranks > 1) {
        /* ---- MPI insertion point 2 of 3: every worker's partial, in global order */
        ranks_gather_stat(t, w, ith, &s);
        for (int g = 0; g < t->nworkers; g++) total += t->wstat_all[2 * g + 1];
    } else {
        for (int j = 0; j < nth; j++) total += t->w[j].sqnorm;
    }
    float norm = (float)sqrt(total);
    float scale = (t->opt.clip > 0 && norm > t->opt.clip) ? t->opt.clip / norm : 1.0f;
    if (ith == 0) t->grad_norm = norm;
    adamw_slice(t, w->k0, w->k1, scale);
    phase_end(t, w, PH_OPTIM, s);
}

float trainer_lr_at(const train_opts *o, long step) {
    if (step < o->warmup) return o->lr * (float)(step + 1) / (float)o->warmup;
    if (o->lr_steps <= 0) return o->lr;
    if (step >= o->lr_steps) return o->lr * o->min_lr_frac;
    double frac = (double)(step - o->warmup) / (double)(o->lr_steps - o->warmup);
    double coeff = 0.5 * (1.0 + cos(M_PI * frac));
    return (float)(o->lr * (o->min_lr_frac + (1.0 - o->min_lr_frac) * coeff));
}

float trainer_step(trainer_t *t) {
    if (t->step == t->kill_step && t->rank == t->kill_rank) raise(SIGKILL);   /* test hook */
    t->lr_now = trainer_lr_at(&t->opt, t->step);
    struct trace *tr = t->trace;
    t->step_t0 = t->opt.timing ? time_wall() : 0.0;
    if (tr) trace_step_begin(tr, t->step, t->step_t0);
    memset(t->xs, 0, sizeof t->xs);
    const double comm0 = t->w[0].wall[PH_COMM];
    if (t->overlap) {   /* before the job: pool_run orders these writes before the workers start */
        for (int b = 0; b <= t->cfg.L; b++) {
            atomic_store_explicit(&t->bk_count[b], 0, memory_order_relaxed);
            atomic_store_explicit(&t->bk_ready[b], 0, memory_order_relaxed);
        }
        t->bk_next = 0;
        atomic_store_explicit(&t->ag_have, t->ag_pending ? 0 : t->cfg.L + 1, memory_order_relaxed);
    }
    pool_run(t->pool, step_job, t);
    /* under MPI worker 0's allgather below starts at the clock reading that
     * ends the job and its end ends the step, so the trace tiles the step
     * with no gap a preemption could widen (its phase total includes
     * trace_job_end's statistics, a few microseconds) */
    stamp s = { 0, 0 };
    if (t->nranks > 1) s = phase_start(t, &t->w[0]);
    double t_pool = tr ? (t->nranks > 1 ? s.wall : time_wall()) : 0.0;
    if (tr) trace_job_end(tr, t_pool);
    double loss = 0.0, t_end = t_pool;   /* one rank: nothing after the job */
    if (t->nranks > 1) {
        /* ---- MPI insertion point 3 of 3: the updated slices from every rank
         * (worker 0 is this thread; the job's end ordered every AdamW before) */
        const ranks_t rk = ranks_view(t);
        if (t->overlap)
            ag_post(t);            /* completed in the next step's forward (or by params_sync) */
        else
            ranks_allgather(&rk, t->params);
        t_end = phase_end(t, &t->w[0], PH_COMM, s).wall;
        for (int g = 0; g < t->nworkers; g++) loss += t->wstat_all[2 * g];
        t->xs[XCLK_EXPOSED] = t->w[0].wall[PH_COMM] - comm0;
        t->xs[XCLK_HIDDEN] = t->xs[XCLK_HIDDEN_EXCHANGE] + t->xs[XCLK_HIDDEN_ALLGATHER];
        for (int i = 0; i < XCLK_COUNT; i++) t->xtot[i] += t->xs[i];
        memcpy(t->xlast, t->xs, sizeof t->xs);
    } else {
        for (int j = 0; j < t->nth; j++) loss += t->w[j].loss;
    }
    if (tr) trace_step_end(tr, t_end);
    t->step++;
    return (float)(loss / ((double)t->Bglobal * t->cfg.T));
}

static void eval_job(void *arg, int ith, int nth) {
    trainer_t *t = arg;
    worker_t *w = &t->w[ith];
    ctx_t *x = &t->ctx[ith];
#if CLLM_LOCKED
    pthread_mutex_lock(&t->model_lock);
#endif
    fill_batch(t, w, x, 1, t->eval_batch);
    w->loss = model_forward(&t->cfg, &t->p, x, w->rows, NULL, 0.0f);
#if CLLM_LOCKED
    pthread_mutex_unlock(&t->model_lock);
#endif
}

void trainer_eval_add(trainer_t *t, int b, double *loss) {
    params_sync(t);
    t->eval_batch = b;
    pool_run(t->pool, eval_job, t);
    if (t->nranks > 1) {
        for (int j = 0; j < t->nth; j++) t->wstat[j] = t->w[j].loss;
        comm_allgather_f64(t->comm, t->wstat, t->wstat_all, t->nth);
        for (int g = 0; g < t->nworkers; g++) *loss += t->wstat_all[g];
    } else {
        for (int j = 0; j < t->nth; j++) *loss += t->w[j].loss;
    }
}

float trainer_eval(trainer_t *t, int batches) {
    double loss = 0.0;
    for (int b = 0; b < batches; b++) trainer_eval_add(t, b, &loss);
    return (float)(loss / ((double)batches * t->Bglobal * t->cfg.T));
}

/* ---------------------------------------------------------------- accessors */

long trainer_steps_done(const trainer_t *t) { return t->step; }
void trainer_set_steps_done(trainer_t *t, long step) { t->step = step; }
size_t trainer_nparams(const trainer_t *t) { return t->nparams; }
float *trainer_params(trainer_t *t) { params_sync(t); return t->params; }
float *trainer_adam_m(trainer_t *t) { return t->m; }
float *trainer_adam_v(trainer_t *t) { return t->v; }
const float *trainer_grads(const trainer_t *t) { return t->grad[0]; }
float trainer_last_grad_norm(const trainer_t *t) { return t->grad_norm; }
float trainer_last_lr(const trainer_t *t) { return t->lr_now; }
int trainer_threads(const trainer_t *t) { return t->nth; }
int trainer_global_batch(const trainer_t *t) { return t->Bglobal; }
const config_t *trainer_config(const trainer_t *t) { return &t->cfg; }
const train_opts *trainer_opts(const trainer_t *t) { return &t->opt; }
int trainer_rank(const trainer_t *t) { return t->rank; }
int trainer_ranks(const trainer_t *t) { return t->nranks; }
int trainer_workers(const trainer_t *t) { return t->nworkers; }

void trainer_set_moments(trainer_t *t, const float *m, const float *v) {
    size_t n = t->rank_cnt[t->rank];
    memcpy(t->m, m + t->moff, n * sizeof(float));
    memcpy(t->v, v + t->moff, n * sizeof(float));
}

void trainer_gather_moments(trainer_t *t, float *m, float *v) {
    comm_gather(t->comm, t->m, m, t->rank_off, t->rank_cnt);
    comm_gather(t->comm, t->v, v, t->rank_off, t->rank_cnt);
}

double trainer_overlap_inflight_s(const trainer_t *t) { return t->xtot[XCLK_INFLIGHT_EXCHANGE]; }

void trainer_xclocks(const trainer_t *t, int r, double out[XCLK_COUNT]) {
    for (int i = 0; i < XCLK_COUNT; i++)
        out[i] = r == t->rank || !t->xall ? t->xtot[i] : t->xall[(size_t)r * XCLK_COUNT + i];
}

void trainer_xclocks_last(const trainer_t *t, double out[XCLK_COUNT]) { memcpy(out, t->xlast, sizeof t->xlast); }
int trainer_overlap(const trainer_t *t) { return t->overlap; }

void trainer_comm_bytes(const trainer_t *t, double *sent, double *received) {
    const ranks_t rk = ranks_view(t);
    ranks_bytes(&rk, sent, received);
}

void trainer_phase_times(const trainer_t *t, int g, double wall[PH_COUNT], double cpu[PH_COUNT]) {
    int local = g - t->rank * t->nth;
    for (int p = 0; p < PH_COUNT; p++) {
        if (local >= 0 && local < t->nth) {
            wall[p] = t->w[local].wall[p];
            cpu[p] = t->w[local].cpu[p];
        } else {
            wall[p] = t->phase_all[(size_t)g * 2 * PH_COUNT + p];
            cpu[p] = t->phase_all[(size_t)g * 2 * PH_COUNT + PH_COUNT + p];
        }
    }
}

static long self_rss_kib(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

void trainer_gather_stats(trainer_t *t) {
    if (t->nranks == 1) return;
    for (int j = 0; j < t->nth; j++)
        for (int p = 0; p < PH_COUNT; p++) {
            t->phase_mine[(size_t)j * 2 * PH_COUNT + p] = t->w[j].wall[p];
            t->phase_mine[(size_t)j * 2 * PH_COUNT + PH_COUNT + p] = t->w[j].cpu[p];
        }
    comm_allgather_f64(t->comm, t->phase_mine, t->phase_all, t->nth * 2 * PH_COUNT);
    comm_allgather_f64(t->comm, t->xtot, t->xall, XCLK_COUNT);
    double rss = (double)self_rss_kib();     /* wstat_all is free between steps */
    comm_allgather_f64(t->comm, &rss, t->wstat_all, 1);
    for (int r = 0; r < t->nranks; r++) t->rss_all[r] = (long)t->wstat_all[r];
}

long trainer_rank_rss(const trainer_t *t, int r) {
    if (t->nranks == 1 || !t->rss_all) return self_rss_kib();
    return t->rss_all[r];
}

void trainer_slice(const trainer_t *t, int ith, size_t *k0, size_t *k1) {
    *k0 = t->w[ith].k0;
    *k1 = t->w[ith].k1;
}

void trainer_worker_slice(size_t np, int n, int g, size_t *k0, size_t *k1) { memtable_worker_slice(np, n, g, k0, k1); }

long trainer_syncs(const trainer_t *t) { return pool_syncs(t->pool); }

void trainer_set_trace(trainer_t *t, struct trace *tr) {
    if (tr && !t->opt.timing) tr = NULL;
    CHECK(!tr || trace_threads(tr) == t->nth, "a trace of %d workers for %d", trace_threads(tr), t->nth);
    t->trace = tr;
    for (int i = 0; i < t->nth; i++) t->w[i].tl = tr ? trace_lane_of(tr, i) : NULL;
}
long trainer_spin_ns(const trainer_t *t) { return pool_spin_ns(t->pool); }

static void sample_job(void *arg, int ith, int nth) {
    trainer_t *t = arg;
    worker_t *w = &t->w[ith];
    w->cpu_now = sched_getcpu();
    if (sched_getaffinity(0, sizeof w->affinity, &w->affinity) != 0) CPU_ZERO(&w->affinity);
    (void)nth;
}

void trainer_sample_cpus(trainer_t *t) { pool_run(t->pool, sample_job, t); }

/* "0-3,8": the CPUs of a set */
static void cpuset_list(const cpu_set_t *set, char *out, size_t n) {
    size_t k = 0;
    out[0] = 0;
    for (int c = 0; c < CPU_SETSIZE && k + 1 < n; c++) {
        if (!CPU_ISSET(c, set)) continue;
        int e = c;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set)) e++;
        int w = e > c ? snprintf(out + k, n - k, "%s%d-%d", k ? "," : "", c, e)
                      : snprintf(out + k, n - k, "%s%d", k ? "," : "", c);
        if (w < 0 || (size_t)w >= n - k) { out[k] = 0; break; }
        k += (size_t)w;
        c = e;
    }
}

void trainer_worker_cpu(const trainer_t *t, int ith, worker_cpu *out) {
    const worker_t *w = &t->w[ith];
    out->tid = w->tid;
    out->bound = w->bound;
    out->cpu_now = w->cpu_now;
    out->affinity[0] = 0;
    if (w->cpu_now >= 0 || CPU_COUNT(&w->affinity) > 0) cpuset_list(&w->affinity, out->affinity, sizeof out->affinity);
}

int trainer_phase_counts(const trainer_t *t, int ith, int ev, unsigned long long out[PH_COUNT], int *user_only) {
    const worker_t *w = &t->w[ith];
    *user_only = 0;
    if (ev < 0 || ev >= w->ev.n) return EINVAL;
    if (w->ev.fd[ev] < 0) return w->ev.err[ev] ? w->ev.err[ev] : EINVAL;
    if (w->ev_failed) return w->ev_failed;
    for (int p = 0; p < PH_COUNT; p++) out[p] = w->ev_sum[p][ev];
    *user_only = w->ev.user_only[ev];
    return 0;
}

void trainer_counter_times(const trainer_t *t, int ith, unsigned long long *enabled, unsigned long long *running) {
    *enabled = t->w[ith].ev_en;
    *running = t->w[ith].ev_run;
}

void trainer_first_touch(const trainer_t *t, int ith, first_touch_t *out) { *out = t->w[ith].touch; }
