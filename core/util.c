/*
 * util.c - random numbers, clocks, aligned allocation with fault injection,
 * atomic file writes and the build facts (the BLAS's: core/blas.c).
 */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* under AddressSanitizer, untouched buffers come from its allocator, so that
 * overflows out of them are still caught */
#if defined(__SANITIZE_ADDRESS__)
#define UNTOUCHED_MMAP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNTOUCHED_MMAP 0
#endif
#endif
#ifndef UNTOUCHED_MMAP
#define UNTOUCHED_MMAP 1
#endif

#ifndef CLLM_CC
#define CLLM_CC "unknown"
#endif
#ifndef CLLM_CFLAGS
#define CLLM_CFLAGS "unknown"
#endif
#ifndef CLLM_GIT
#define CLLM_GIT "unknown"
#endif

/* ---------------------------------------------------------------- rng */

uint64_t rng_next(rng_t *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

float rng_normal(rng_t *r) {
    double u1 = ((rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

uint64_t rng_hash(uint64_t a, uint64_t b, uint64_t c) {
    rng_t r = { a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL) };
    rng_next(&r);
    r.s ^= c * 0xd6e8feb86659fd93ULL;
    rng_next(&r);
    return rng_next(&r);
}

/* ---------------------------------------------------------------- clocks */

double time_wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double time_thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- memory */

/* allocations left before injected failures start: -2 not read from the
 * environment yet, -1 unlimited */
static _Atomic long alloc_budget = -2;
static _Atomic size_t alloc_total;

size_t mem_allocated(void) { return alloc_total; }

void mem_fail_after(long n) { alloc_budget = n < 0 ? -1 : n; }

/* 1 when this allocation is to fail (fault injection) */
static int alloc_fails(void) {
    long b = alloc_budget;
    if (b == -2) {
        const char *s = getenv("CLLM_FAIL_ALLOC_AFTER");
        long v = s ? atol(s) : -1;
        long expect = -2;
        atomic_compare_exchange_strong(&alloc_budget, &expect, v < 0 ? -1 : v);
    }
    for (;;) {
        b = alloc_budget;
        if (b < 0) return 0;
        if (b == 0) return 1;
        if (atomic_compare_exchange_weak(&alloc_budget, &b, b - 1)) return 0;
    }
}

/* the padded size mem_alloc hands out, 0 on overflow */
static size_t padded(size_t bytes) {
    size_t n = mem_round_line(bytes);
    if (n < bytes) return 0;
    return n ? n : CACHE_LINE;
}

/* the mapping behind mem_alloc_untouched: padded bytes in whole pages, 0 on overflow */
static size_t untouched_map(size_t bytes) {
    size_t n = padded(bytes), pg = mem_page_size();
    size_t map = (n + pg - 1) / pg * pg;
    return n == 0 || map < n ? 0 : map;
}

void *mem_alloc(size_t bytes) {
    if (alloc_fails()) return NULL;
    size_t n = padded(bytes);
    if (n == 0) return NULL;               /* the rounding overflowed */
    void *p = NULL;
    if (posix_memalign(&p, CACHE_LINE, n) != 0) return NULL;
    memset(p, 0, n);
    alloc_total += n;
    return p;
}

int cpu_affinity_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    return CPU_COUNT(&set);
}

size_t mem_page_size(void) {
    long pg = sysconf(_SC_PAGESIZE);
    return pg > 0 ? (size_t)pg : 4096;
}

void *mem_alloc_untouched(size_t bytes) {
    if (alloc_fails()) return NULL;
    size_t n = padded(bytes), map = untouched_map(bytes);
    if (map == 0) return NULL;
    void *p = NULL;
#if UNTOUCHED_MMAP
    p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#else
    if (posix_memalign(&p, mem_page_size(), map) != 0) return NULL;
#endif
    alloc_total += n;
    return p;
}

void mem_free_untouched(void *p, size_t bytes) {
    if (!p) return;
#if UNTOUCHED_MMAP
    munmap(p, untouched_map(bytes));
#else
    (void)bytes;
    free(p);
#endif
}

void *xmalloc(size_t bytes) { return alloc_fails() ? NULL : malloc(bytes ? bytes : 1); }
void *xcalloc(size_t n, size_t size) { return alloc_fails() ? NULL : calloc(n ? n : 1, size ? size : 1); }
void *xrealloc(void *p, size_t bytes) { return alloc_fails() ? NULL : realloc(p, bytes ? bytes : 1); }

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void mem_free(void *p) { free(p); }

int size_mul(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int size_add(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

/* ---------------------------------------------------------------- build */

const char *build_compiler(void) { return CLLM_CC; }
const char *build_cflags(void) { return CLLM_CFLAGS; }
const char *build_git(void) { return CLLM_GIT; }
#ifndef CLLM_MPI
#define CLLM_MPI 0
#endif
const char *build_variant(void) { return CLLM_MPI ? "mpi" : CLLM_LOCKED ? "locked" : "lockfree"; }

