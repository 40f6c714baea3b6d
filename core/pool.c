/*
 * pool.c - worker threads, a futex barrier, and the job boundary (see pool.h).
 *
 * Two kinds of synchronisation, both without a mutex:
 *   - pool_barrier: every worker of the job meets (an arrival counter and a
 *     generation word);
 *   - the job boundary, one split barrier per job: a worker that finishes
 *     arrives (`done`) and waits for the next job's start (`job`), which only
 *     the calling thread advances, in the next pool_run, after it has seen
 *     every arrival. So the end of one job and the start of the next are one
 *     barrier, not two.
 * A waiter spins for SPIN_NS of wall time (measured with the clock, not a
 * count of pause instructions, whose cost differs ~20x between CPUs), then
 * sleeps on a futex. Each word counts its sleepers, and the thread that
 * advances it calls futex_wake only when there is one.
 */
#include "pool.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "machine.h"
#include "util.h"

/* How long a waiter spins before it sleeps. A futex sleep and wake costs
 * about 10-50 us on the VMs this was measured on (make micro's
 * pool_barrier at 2x CPUs); spinning about as long as blocking costs keeps a
 * wait within 2x of the better of the two (the classic competitive bound),
 * and a step's barriers usually release far sooner. */
#define SPIN_NS 50000

/* a word that waiters watch for a change, with a count of those asleep on it */
typedef struct {
    _Alignas(CACHE_LINE) atomic_int val;
    atomic_int sleepers;
} signal_t;

typedef struct {
    _Alignas(CACHE_LINE) atomic_int count;   /* arrivals in this generation */
    signal_t gen;                            /* bumped by the last arrival */
    int n;
} barrier_t;

struct pool {
    int nth;
    _Atomic long spin_ns;         /* 0 when oversubscribed: sleep at once (pool_spin) */
    pthread_t *threads;
    barrier_t bar;                /* bar.n is nth for the pool's whole life */
    signal_t job;                 /* job generation: advanced by pool_run and pool_free */
    _Alignas(CACHE_LINE) atomic_int done;   /* workers 1..nth-1 finished this job */
    signal_t fin;                 /* bumped by the last of them */
    _Alignas(CACHE_LINE) atomic_long syncs; /* barriers and job boundaries completed */
    atomic_int start;             /* 0 while pool_create runs, 1 ready, -1 failed */
    pool_fn fn;
    void *arg;
    int quit;
};

typedef struct { pool_t *p; int ith; } worker_arg;

static void futex_wait(atomic_int *addr, int val) {
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake_all(atomic_int *addr) {
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Wait until s->val differs from old; returns the new value (acquire). The
 * clock is read only once 64 spins have not seen the change, so a barrier
 * that releases quickly costs no clock read. */
static int signal_wait(signal_t *s, int old, const _Atomic long *spin) {
    int v;
    long spin_ns = atomic_load_explicit(spin, memory_order_relaxed);
    if (spin_ns > 0) {
        long long deadline = 0;
        for (unsigned i = 1;; i++) {
            if ((v = atomic_load_explicit(&s->val, memory_order_acquire)) != old) return v;
            cpu_relax();
            if ((i & 63) == 0) {
                long long t = now_ns();
                if (!deadline) deadline = t + spin_ns;
                else if (t >= deadline) break;
            }
        }
    }
    /* seq_cst pairs with signal_post: either the poster sees this sleeper
     * and wakes it, or the futex sees the new value and does not sleep */
    atomic_fetch_add_explicit(&s->sleepers, 1, memory_order_seq_cst);
    while ((v = atomic_load_explicit(&s->val, memory_order_seq_cst)) == old) futex_wait(&s->val, old);
    atomic_fetch_sub_explicit(&s->sleepers, 1, memory_order_relaxed);
    return v;
}

/* advance s->val (release everything written before) and wake sleepers, if any */
static void signal_post(signal_t *s) {
    atomic_fetch_add_explicit(&s->val, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&s->sleepers, memory_order_seq_cst) > 0) futex_wake_all(&s->val);
}

/* one more barrier done. Only one thread counts each (the last to arrive,
 * or pool_run's caller at a job's end), and each count happens after the
 * previous one (the barriers order them), so a plain add is enough: no
 * locked instruction on the 1-thread path. */
static inline void count_sync(pool_t *p) {
    atomic_store_explicit(&p->syncs, atomic_load_explicit(&p->syncs, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void barrier_wait(pool_t *p) {
    barrier_t *b = &p->bar;
    if (b->n == 1) { count_sync(p); return; }
    int gen = atomic_load_explicit(&b->gen.val, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == b->n - 1) {
        /* last to arrive: reset for the next round, then release everyone */
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        count_sync(p);
        signal_post(&b->gen);
        return;
    }
    signal_wait(&b->gen, gen, &p->spin_ns);
}

static void *worker_main(void *v) {
    worker_arg *wa = v;
    pool_t *p = wa->p;
    int ith = wa->ith;
    free(wa);
    /* wait until every worker exists: a pool whose creation failed is left
     * here, before any barrier, so no barrier ever counts a missing thread */
    int st;
    while ((st = atomic_load_explicit(&p->start, memory_order_acquire)) == 0)
        futex_wait(&p->start, 0);
    if (st < 0) return NULL;
    int job = 0;
    for (;;) {
        job = signal_wait(&p->job, job, &p->spin_ns);     /* the next job starts */
        if (p->quit) break;
        p->fn(p->arg, ith, p->nth);
        /* arrive at the job's end; the last of the workers tells pool_run */
        if (atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel) == p->nth - 2)
            signal_post(&p->fin);
    }
    return NULL;
}

/* test hook: CLLM_FAIL_THREAD_AT=i makes the creation of worker thread i fail */
static int fail_thread_at(void) {
    const char *s = getenv("CLLM_FAIL_THREAD_AT");
    return s && *s ? atoi(s) : -1;
}

pool_t *pool_create(int nth, char *err, size_t errlen) {
    pool_t *p = xcalloc(1, sizeof *p);
    if (!p) { snprintf(err, errlen, "cannot allocate %zu bytes for the thread pool", sizeof *p); return NULL; }
    p->nth = nth;
    p->bar.n = nth;
    /* oversubscribed (more workers than usable CPUs: affinity, cpuset and the
     * cgroup quota, machine.h): sleep at once, a spinning waiter burns the
     * quota its peers need to arrive */
    atomic_init(&p->spin_ns, nth <= machine_usable_here() ? SPIN_NS : 0);
    atomic_init(&p->bar.count, 0);
    atomic_init(&p->bar.gen.val, 0);
    atomic_init(&p->bar.gen.sleepers, 0);
    atomic_init(&p->job.val, 0);
    atomic_init(&p->job.sleepers, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->fin.val, 0);
    atomic_init(&p->fin.sleepers, 0);
    atomic_init(&p->syncs, 0);
    atomic_init(&p->start, 0);
    p->threads = xcalloc(nth, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        snprintf(err, errlen, "cannot allocate %zu bytes for the thread pool", nth * sizeof(pthread_t));
        return NULL;
    }
    int fail_at = fail_thread_at();
    for (int i = 1; i < nth; i++) {
        worker_arg *wa = xmalloc(sizeof *wa);
        int rc = ENOMEM;
        if (wa) {
            wa->p = p;
            wa->ith = i;
            rc = i == fail_at ? EAGAIN : pthread_create(&p->threads[i], NULL, worker_main, wa);
        }
        if (rc != 0) {
            if (!wa)
                snprintf(err, errlen, "cannot allocate %zu bytes to start worker thread %d of %d",
                         sizeof *wa, i, nth);
            else
                snprintf(err, errlen, "cannot create worker thread %d of %d: %s%s", i, nth, strerror(rc),
                         i == fail_at ? " (injected: CLLM_FAIL_THREAD_AT)" : "");
            free(wa);
            /* the i - 1 started workers wait at the start gate: send them home */
            atomic_store_explicit(&p->start, -1, memory_order_release);
            futex_wake_all(&p->start);
            for (int k = 1; k < i; k++) pthread_join(p->threads[k], NULL);
            free(p->threads);
            free(p);
            return NULL;
        }
    }
    atomic_store_explicit(&p->start, 1, memory_order_release);
    futex_wake_all(&p->start);
    return p;
}

void pool_free(pool_t *p) {
    if (!p) return;
    p->quit = 1;
    signal_post(&p->job);           /* publishes quit (release) */
    for (int i = 1; i < p->nth; i++) pthread_join(p->threads[i], NULL);
    free(p->threads);
    free(p);
}

void pool_run(pool_t *p, pool_fn fn, void *arg) {
    if (p->nth == 1) { fn(arg, 0, 1); count_sync(p); return; }
    p->fn = fn;
    p->arg = arg;
    /* every worker arrived at the previous job's end (pool_run waited for
     * it), so `done` can be reset before the start is published */
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    int fin = atomic_load_explicit(&p->fin.val, memory_order_relaxed);
    signal_post(&p->job);           /* publishes fn/arg (release) and starts the workers */
    fn(arg, 0, p->nth);
    signal_wait(&p->fin, fin, &p->spin_ns);   /* every worker done */
    count_sync(p);
}

void pool_barrier(pool_t *p) { barrier_wait(p); }

int pool_size(const pool_t *p) { return p->nth; }

long pool_spin_ns(const pool_t *p) { return atomic_load_explicit(&p->spin_ns, memory_order_relaxed); }

void pool_spin(pool_t *p, long ns) { atomic_store_explicit(&p->spin_ns, ns > 0 ? ns : 0, memory_order_relaxed); }

long pool_syncs(const pool_t *p) { return atomic_load_explicit(&p->syncs, memory_order_relaxed); }
