/*
 * pool.c - worker threads and a futex barrier (see pool.h).
 */
#include "pool.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

typedef struct {
    _Alignas(CACHE_LINE) atomic_int count;   /* arrivals in this generation */
    _Alignas(CACHE_LINE) atomic_int gen;     /* bumped by the last arrival */
    int n;
    int spin;                                /* spins before sleeping */
} barrier_t;

struct pool {
    int nth;
    pthread_t *threads;
    barrier_t bar;                /* bar.n is nth for the pool's whole life */
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

static void barrier_wait(barrier_t *b) {
    if (b->n == 1) return;
    int gen = atomic_load_explicit(&b->gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == b->n - 1) {
        /* last to arrive: reset for the next round, then release everyone */
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->gen, 1, memory_order_release);
        futex_wake_all(&b->gen);
        return;
    }
    for (int i = 0; i < b->spin; i++) {
        if (atomic_load_explicit(&b->gen, memory_order_acquire) != gen) return;
        cpu_relax();
    }
    while (atomic_load_explicit(&b->gen, memory_order_acquire) == gen)
        futex_wait(&b->gen, gen);
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
    for (;;) {
        barrier_wait(&p->bar);          /* start of a job */
        if (p->quit) break;
        p->fn(p->arg, ith, p->nth);
        barrier_wait(&p->bar);          /* end of the job */
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
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p->bar.spin = nth <= cpus ? 4000 : 0;     /* oversubscribed: sleep at once */
    atomic_init(&p->bar.count, 0);
    atomic_init(&p->bar.gen, 0);
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
    barrier_wait(&p->bar);
    for (int i = 1; i < p->nth; i++) pthread_join(p->threads[i], NULL);
    free(p->threads);
    free(p);
}

void pool_run(pool_t *p, pool_fn fn, void *arg) {
    p->fn = fn;
    p->arg = arg;
    barrier_wait(&p->bar);      /* publishes fn/arg (release) and starts the workers */
    fn(arg, 0, p->nth);
    barrier_wait(&p->bar);      /* every worker done */
}

void pool_barrier(pool_t *p) { barrier_wait(&p->bar); }

int pool_size(const pool_t *p) { return p->nth; }
