/*
 * util.h - the small things every module needs: CHECK for broken invariants,
 * a seeded random generator, clocks and aligned allocation (atomic file
 * writes are core/afile.h, the JSON writer core/jsonw.h).
 */
#ifndef CLLM_UTIL_H
#define CLLM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A broken invariant of the program itself: print file:line and abort.
 * Bad input from a user never goes through CHECK. */
#define CHECK(cond, ...) do {                                                \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* The hot kernels (core/ops.c, core/reduce.c) are compiled for AVX-512F,
 * AVX2 and baseline x86-64, one picked before main (ops.h ops_isa), so one
 * portable binary uses the widest vectors the CPU has. The clones compute
 * the same IEEE operations (no contraction into FMA: -std=c11 keeps
 * -ffp-contract=off in gcc; reductions in explicit lanes, core/ops_kern.h),
 * so results do not depend on which clone runs: tests/test_clones.c runs
 * each clone and compares the bits. gcc on x86-64 only (#pragma GCC target
 * sets the ISA macros there; clang's does not), and not under
 * ThreadSanitizer (whose builds have always had the baseline only). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define CLLM_HAVE_CLONES 1
#else
#define CLLM_HAVE_CLONES 0
#endif

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define CACHE_LINE 64

/* splitmix64: explicit state, never rand(). */
typedef struct { uint64_t s; } rng_t;
uint64_t rng_next(rng_t *r);
float rng_normal(rng_t *r);            /* N(0, 1), Box-Muller */
uint64_t rng_hash(uint64_t a, uint64_t b, uint64_t c);  /* stateless mix */

/* CPUs in this thread's affinity mask, -1 when it cannot be read */
int cpu_affinity_count(void);

double time_wall(void);                /* CLOCK_MONOTONIC, seconds */
double time_thread_cpu(void);          /* CLOCK_THREAD_CPUTIME_ID, seconds */

/* bytes rounded up to a whole number of cache lines (no overflow check:
 * callers of a size that could overflow check it themselves) */
static inline size_t mem_round_line(size_t bytes) { return (bytes + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE; }
/* 64-byte aligned, zeroed. NULL on failure (caller reports what failed). */
void *mem_alloc(size_t bytes);
void mem_free(void *p);
/* For buffers whose pages should land on the NUMA node of the thread that
 * uses them: page-aligned, NOT written here (anonymous mmap, so the kernel
 * places each page where it is first written, under the default policy),
 * counted in mem_allocated at the same padded size as mem_alloc (the
 * mapping itself is rounded up to whole pages). The contents are zero, but
 * the caller must make the first write itself, from the owning thread
 * (under AddressSanitizer this comes from posix_memalign instead and holds
 * garbage until then). Freed with mem_free_untouched(p, bytes) with the
 * same bytes. NULL on failure; counts as one allocation for fault injection. */
void *mem_alloc_untouched(size_t bytes);
void mem_free_untouched(void *p, size_t bytes);
size_t mem_page_size(void);
/* Bytes handed out by mem_alloc so far (padded sizes), for the memory-table test. */
size_t mem_allocated(void);
/* Every other allocation in core/ goes through these: malloc, calloc,
 * realloc and strdup, each NULL on failure (the caller reports what it was
 * for and how many bytes), freed with free(). */
void *xmalloc(size_t bytes);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t bytes);
char *xstrdup(const char *s);
/* Fault injection for tests: with CLLM_FAIL_ALLOC_AFTER=N in the
 * environment, the first N allocations (mem_alloc and the x* functions
 * together, in the order they are called) succeed and every later one
 * fails. mem_fail_after(N) sets the same budget from a test (-1: never
 * fail); it overrides the environment. */
void mem_fail_after(long n);

/* Checked size arithmetic: returns 0 on overflow. */
int size_mul(size_t a, size_t b, size_t *out);
int size_add(size_t a, size_t b, size_t *out);

/* Atomic file writes: core/afile.h. */

/* Build facts, from the Makefile. */
const char *build_compiler(void);
const char *build_cflags(void);
const char *build_git(void);
const char *build_blas(void);
const char *build_variant(void);

/* The BLAS (core/blas.c; which one: `make BLAS=openblas|blis`). */
/* one BLAS thread inside each worker: call before the first BLAS call */
void blas_single_thread(void);
/* The most workers that may call the BLAS's sgemm at once, 0 when the BLAS
 * has no limit of its own (BLIS); blas_limit_why() says where it comes from,
 * in words, for messages and --help. */
int blas_threads_max(void);
const char *blas_limit_why(void);

#ifdef __cplusplus
}
#endif

#endif
