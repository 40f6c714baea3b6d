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
    barrier_t bar;
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
    for (;;) {
        barrier_wait(&p->bar);          /* start of a job */
        if (p->quit) break;
        p->fn(p->arg, ith, p->nth);
        barrier_wait(&p->bar);          /* end of the job */
    }
    return NULL;
}

pool_t *pool_create(int nth, char *err, size_t errlen) {
    pool_t *p = calloc(1, sizeof *p);
    if (!p) { snprintf(err, errlen, "cannot allocate the thread pool"); return NULL; }
    p->nth = nth;
    p->bar.n = nth;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p->bar.spin = nth <= cpus ? 4000 : 0;     /* oversubscribed: sleep at once */
    atomic_init(&p->bar.count, 0);
    atomic_init(&p->bar.gen, 0);
    p->threads = calloc(nth, sizeof *p->threads);
    if (!p->threads) { free(p); snprintf(err, errlen, "cannot allocate the thread pool"); return NULL; }
    for (int i = 1; i < nth; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) { wa->p = p; wa->ith = i; }
        int rc = wa ? pthread_create(&p->threads[i], NULL, worker_main, wa) : ENOMEM;
        if (rc != 0) {
            free(wa);
            snprintf(err, errlen, "cannot create worker thread %d of %d: %s", i, nth, strerror(rc));
            /* release the i-1 started workers: they wait at the barrier for nth arrivals */
            p->bar.n = i;
            p->quit = 1;
            barrier_wait(&p->bar);
            for (int k = 1; k < i; k++) pthread_join(p->threads[k], NULL);
            free(p->threads);
            free(p);
            return NULL;
        }
    }
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
