/*
 * ceilings.c - this machine's roofline ceilings, measured: the fp32 FMA peak
 * (a register-only kernel for the widest vector unit, picked at run time, or
 * the one --isa names; the triads use the same ISA's vectors) and
 * the memory bandwidth (a STREAM-style triad over arrays of at least 4x the
 * last-level caches, plus the same triad on private arrays filling half the
 * L1d, half the L2 and half the LLC for the cache roofs), at 1 thread and at the number of
 * online CPUs. Writes one JSON object.
 *
 *   build/micro/ceilings [--seconds S] [--threads 1,2] [--array-mb M]
 *                        [--isa avx512f|avx2|fma|sse2|neon|scalar] [--out FILE]
 *
 * Conventions: FMA = 2 FLOPs per lane. The triad a = b + s*c on doubles
 * counts 24 bytes per element (STREAM's count: no write-allocate traffic).
 * Each figure is the best of several trials (STREAM's convention); the
 * median is written beside it. Exit codes: 0 ok, 1 runtime failure, 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "topo.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

#if defined(__aarch64__)
#include <arm_neon.h>   /* Advanced SIMD: part of the ARMv8-A baseline */
#define HAVE_NEON 1
#else
#define HAVE_NEON 0
#endif

#define MAXTHREADS 1024
#define MAXTRIALS 64

static void usage(FILE *f) {
    fprintf(f,
"usage: ceilings [options]\n"
"  --seconds S     time per measurement (FMA, DRAM, L2 and LLC triads), per thread count (default 0.5)\n"
"  --threads LIST  comma-separated thread counts (default: 1 and the online CPUs)\n"
"  --array-mb M    bytes of EACH triad array, MiB (default: 4 x the sum of the last-level caches)\n"
"  --isa NAME      avx512f | avx2 | fma | sse2 (x86-64) | neon (aarch64) | scalar (default: the\n"
"                  widest the CPU has);\n"
"                  the FMA kernel and every triad use its vectors (JSON: isa, triad_isa;\n"
"                  scalar: the triads in the baseline vectors, SSE2 on x86-64)\n"
"  --out FILE      write the JSON there (default: stdout)\n"
"  --help\n"
"exit codes: 0 ok, 1 runtime failure, 2 usage error\n");
}

__attribute__((format(printf, 2, 3)))
static void die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ceilings: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (code == 2) fprintf(stderr, "(ceilings --help lists the options)\n");
    exit(code);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---------------------------------------------------------------- caches */

static long long parse_size(const char *s) {   /* "32768K", "2M", "512" */
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end == 'K') v <<= 10;
    else if (*end == 'M') v <<= 20;
    else if (*end == 'G') v <<= 30;
    return v;
}

typedef struct {
    long long llc_bytes;    /* one instance */
    int llc_level, llc_instances;
    long long l2_bytes;
    const char *source, *l2_source;
} caches_t;

/* The highest data/unified cache level of cpu0, and how many distinct
 * instances of it the online CPUs share (shared_cpu_list). */
static void caches_read(caches_t *c, int ncpu) {
    char path[256], buf[256];
    c->llc_bytes = 0; c->llc_level = 0; c->llc_instances = 1; c->l2_bytes = 0;
    c->source = c->l2_source = "sysfs";
    int llc_index = -1;
    for (int i = 0; i < 16; i++) {
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (!machine_read_line(path, buf, sizeof buf)) break;
        if (strcmp(buf, "Instruction") == 0) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if (!machine_read_line(path, buf, sizeof buf)) continue;
        int level = atoi(buf);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!machine_read_line(path, buf, sizeof buf)) continue;
        long long sz = parse_size(buf);
        if (level == 2) c->l2_bytes = sz;
        if (level > c->llc_level) { c->llc_level = level; c->llc_bytes = sz; llc_index = i; }
    }
    if (llc_index >= 0) {
        static char seen[256][256];
        int nseen = 0;
        for (int cpu = 0; cpu < ncpu && nseen < 256; cpu++) {
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cache/index%d/shared_cpu_list",
                     cpu, llc_index);
            if (!machine_read_line(path, buf, sizeof buf)) continue;
            int dup = 0;
            for (int j = 0; j < nseen; j++) dup |= strcmp(seen[j], buf) == 0;
            if (!dup) snprintf(seen[nseen++], sizeof seen[0], "%s", buf);
        }
        if (nseen > 0) c->llc_instances = nseen;
    }
    if (c->llc_bytes <= 0) {
        long s = sysconf(_SC_LEVEL3_CACHE_SIZE);
        if (s <= 0) s = sysconf(_SC_LEVEL2_CACHE_SIZE);
        c->llc_bytes = s > 0 ? s : 32LL << 20;
        c->source = s > 0 ? "sysconf" : "default 32 MiB (not found)";
    }
    if (c->l2_bytes <= 0) {
        long s = sysconf(_SC_LEVEL2_CACHE_SIZE);
        c->l2_bytes = s > 0 ? s : 512 << 10;
        c->l2_source = s > 0 ? "sysconf" : "default 512 KiB (not found)";
    }
}

/* cpu0's level-1 data cache in bytes (sysfs, else sysconf, else 32 KiB);
 * *source says which */
static long long l1d_bytes(const char **source) {
    char path[256], buf[256];
    for (int i = 0; i < 16; i++) {
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        if (!machine_read_line(path, buf, sizeof buf)) break;
        if (strcmp(buf, "Data") != 0) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        if (!machine_read_line(path, buf, sizeof buf) || atoi(buf) != 1) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!machine_read_line(path, buf, sizeof buf)) continue;
        long long sz = parse_size(buf);
        if (sz > 0) { *source = "sysfs"; return sz; }
    }
    long v = sysconf(_SC_LEVEL1_DCACHE_SIZE);
    *source = v > 0 ? "sysconf" : "default 32 KiB (not found)";
    return v > 0 ? v : 32 << 10;
}

/* ---------------------------------------------------------------- FMA kernels */

/* Each kernel runs `iters` rounds of NACC independent x = x*a + b chains, so
 * the FMA latency is covered; a = 1 - 2^-20 and b small keep every value
 * finite and normal. Returns a sum of the accumulators (so nothing is dead). */
#define REP16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

static volatile float fma_a = 0.99999905f, fma_b = 1e-7f;

#if HAVE_X86
__attribute__((target("avx512f")))
static float fma_avx512(long iters) {
    __m512 a = _mm512_set1_ps(fma_a), b = _mm512_set1_ps(fma_b);
#define DECL(i) __m512 x##i = _mm512_set1_ps(1.0f + (float)(i) * 1e-3f);
    REP16(DECL)
#undef DECL
    for (long n = 0; n < iters; n++) {
#define STEP(i) x##i = _mm512_fmadd_ps(x##i, a, b);
        REP16(STEP)
#undef STEP
    }
    __m512 s = _mm512_setzero_ps();
#define SUM(i) s = _mm512_add_ps(s, x##i);
    REP16(SUM)
#undef SUM
    float out[16];
    _mm512_storeu_ps(out, s);
    float r = 0;
    for (int i = 0; i < 16; i++) r += out[i];
    return r;
}

__attribute__((target("avx,fma")))
static float fma_avx256(long iters) {
    __m256 a = _mm256_set1_ps(fma_a), b = _mm256_set1_ps(fma_b);
#define DECL(i) __m256 x##i = _mm256_set1_ps(1.0f + (float)(i) * 1e-3f);
    REP12(DECL)
#undef DECL
    for (long n = 0; n < iters; n++) {
#define STEP(i) x##i = _mm256_fmadd_ps(x##i, a, b);
        REP12(STEP)
#undef STEP
    }
    __m256 s = _mm256_setzero_ps();
#define SUM(i) s = _mm256_add_ps(s, x##i);
    REP12(SUM)
#undef SUM
    float out[8];
    _mm256_storeu_ps(out, s);
    float r = 0;
    for (int i = 0; i < 8; i++) r += out[i];
    return r;
}

/* SSE2, the x86-64 baseline (the ISA of the core's baseline clone): no FMA,
 * so each step is a multiply then an add, 2 FLOPs a lane as the FMA kernels
 * count theirs: this figure is the baseline's mul+add peak itself. 16
 * chains of 4 lanes cover the latency of the two dependent operations */
static float fma_sse2(long iters) {
    __m128 a = _mm_set1_ps(fma_a), b = _mm_set1_ps(fma_b);
#define DECL(i) __m128 x##i = _mm_set1_ps(1.0f + (float)(i) * 1e-3f);
    REP16(DECL)
#undef DECL
    for (long n = 0; n < iters; n++) {
#define STEP(i) x##i = _mm_add_ps(_mm_mul_ps(x##i, a), b);
        REP16(STEP)
#undef STEP
    }
    __m128 s = _mm_setzero_ps();
#define SUM(i) s = _mm_add_ps(s, x##i);
    REP16(SUM)
#undef SUM
    float out[4];
    _mm_storeu_ps(out, s);
    return out[0] + out[1] + out[2] + out[3];
}
#endif

#if HAVE_NEON
/* 16 independent 4-lane FMA chains (vfmaq_f32: FMLA): enough to cover the
 * FMA latency of the aarch64 cores in use (4 cycles, 2-4 pipes) */
static float fma_neon(long iters) {
    float32x4_t a = vdupq_n_f32(fma_a), b = vdupq_n_f32(fma_b);
#define DECL(i) float32x4_t x##i = vdupq_n_f32(1.0f + (float)(i) * 1e-3f);
    REP16(DECL)
#undef DECL
    for (long n = 0; n < iters; n++) {
#define STEP(i) x##i = vfmaq_f32(b, x##i, a);
        REP16(STEP)
#undef STEP
    }
    float32x4_t s = vdupq_n_f32(0.0f);
#define SUM(i) s = vaddq_f32(s, x##i);
    REP16(SUM)
#undef SUM
    return vaddvq_f32(s);
}

/* the triad with 2-lane double FMAs, 4 vectors a round; the tail scalar */
static void triad_neon(double *restrict a, const double *restrict b, const double *restrict c,
                       double s, size_t n) {
    float64x2_t vs = vdupq_n_f64(s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        vst1q_f64(a + i, vfmaq_f64(vld1q_f64(b + i), vs, vld1q_f64(c + i)));
        vst1q_f64(a + i + 2, vfmaq_f64(vld1q_f64(b + i + 2), vs, vld1q_f64(c + i + 2)));
        vst1q_f64(a + i + 4, vfmaq_f64(vld1q_f64(b + i + 4), vs, vld1q_f64(c + i + 4)));
        vst1q_f64(a + i + 6, vfmaq_f64(vld1q_f64(b + i + 6), vs, vld1q_f64(c + i + 6)));
    }
    for (; i < n; i++) a[i] = b[i] + s * c[i];
}
#endif

/* no FMA unit: separate multiply and add (2 FLOPs per lane all the same) */
static float fma_scalar(long iters) {
    float a = fma_a, b = fma_b;
#define DECL(i) float x##i = 1.0f + (float)(i) * 1e-3f;
    REP16(DECL)
#undef DECL
    for (long n = 0; n < iters; n++) {
#define STEP(i) x##i = x##i * a + b;
        REP16(STEP)
#undef STEP
    }
    float r = 0;
#define SUM(i) r += x##i;
    REP16(SUM)
#undef SUM
    return r;
}

/* ---------------------------------------------------------------- triad */

/* The triad a = b + s*c in the vectors of the ISA measured (--isa), so every
 * figure of a run uses one ISA, named in the JSON: a multiply and an add
 * (STREAM's operation; memory-bound, so fused or not makes no difference) */
#if HAVE_X86
__attribute__((target("avx512f")))
static void triad_avx512(double *restrict a, const double *restrict b, const double *restrict c,
                         double s, size_t n) {
    __m512d vs = _mm512_set1_pd(s);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_pd(a + i, _mm512_add_pd(_mm512_loadu_pd(b + i), _mm512_mul_pd(vs, _mm512_loadu_pd(c + i))));
        _mm512_storeu_pd(a + i + 8, _mm512_add_pd(_mm512_loadu_pd(b + i + 8),
                                                  _mm512_mul_pd(vs, _mm512_loadu_pd(c + i + 8))));
    }
    for (; i < n; i++) a[i] = b[i] + s * c[i];
}

__attribute__((target("avx")))
static void triad_avx256(double *restrict a, const double *restrict b, const double *restrict c,
                         double s, size_t n) {
    __m256d vs = _mm256_set1_pd(s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_pd(a + i, _mm256_add_pd(_mm256_loadu_pd(b + i), _mm256_mul_pd(vs, _mm256_loadu_pd(c + i))));
        _mm256_storeu_pd(a + i + 4, _mm256_add_pd(_mm256_loadu_pd(b + i + 4),
                                                  _mm256_mul_pd(vs, _mm256_loadu_pd(c + i + 4))));
    }
    for (; i < n; i++) a[i] = b[i] + s * c[i];
}
#endif

/* --isa scalar: the FMA kernel is scalar, the triads run in the baseline
 * ISA's vectors (compiled for it and vectorised at -O3: SSE2 on x86-64, the
 * Advanced SIMD of aarch64), which every CPU of the architecture has; a
 * scalar triad would measure the core's instruction rate in L1 and L2,
 * not their bandwidth */
static void triad_base(double *restrict a, const double *restrict b, const double *restrict c,
                       double s, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
}
#if defined(__x86_64__)
#define TRIAD_BASE "sse2", 128
#elif defined(__aarch64__)
#define TRIAD_BASE "neon", 128
#else
#define TRIAD_BASE "baseline", 0
#endif

typedef struct {
    const char *name;
    int vector_bits;
    double flops_per_iter;    /* per call round */
    float (*fn)(long);
    void (*triad)(double *restrict, const double *restrict, const double *restrict, double, size_t);
    const char *triad_isa;    /* the vectors the triads use */
    int triad_bits;           /* 0: not known */
} isa_t;

static const isa_t isas[] = {
#if HAVE_X86
    { "avx512f", 512, 16 * 16 * 2.0, fma_avx512, triad_avx512, "avx512f", 512 },
    { "avx2", 256, 12 * 8 * 2.0, fma_avx256, triad_avx256, "avx", 256 },
    { "fma", 256, 12 * 8 * 2.0, fma_avx256, triad_avx256, "avx", 256 },
    { "sse2", 128, 16 * 4 * 2.0, fma_sse2, triad_base, "sse2", 128 },
#endif
#if HAVE_NEON
    { "neon", 128, 16 * 4 * 2.0, fma_neon, triad_neon, "neon", 128 },
#endif
    { "scalar", 32, 16 * 2.0, fma_scalar, triad_base, TRIAD_BASE },
};

static int isa_supported(const char *name) {
#if HAVE_X86
    __builtin_cpu_init();
    if (strcmp(name, "avx512f") == 0) return __builtin_cpu_supports("avx512f");
    if (strcmp(name, "avx2") == 0) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (strcmp(name, "fma") == 0) return __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma");
    if (strcmp(name, "sse2") == 0) return 1;   /* the x86-64 baseline */
#endif
#if HAVE_NEON
    if (strcmp(name, "neon") == 0) return 1;
#endif
    return strcmp(name, "scalar") == 0;
}

/* ---------------------------------------------------------------- threads */

enum { JOB_FMA, JOB_DRAM, JOB_CACHE };

typedef struct {
    int job, nth, trials;
    const isa_t *isa;
    long fma_iters;
    double *a, *b, *c;      /* DRAM arrays (shared, sliced) */
    size_t n;               /* elements per DRAM array */
    size_t cn;              /* elements per private cache-resident array */
    long sweeps;            /* sweeps over them per trial */
    pthread_barrier_t bar;
    double t0[MAXTRIALS], t1[MAXTRIALS];
    double sink[MAXTHREADS];
    int cpus[MAXTHREADS];   /* where to pin (-1: not pinned) */
    char err[256];
} shared_t;

typedef struct { shared_t *s; int ith; } targ_t;

static void *worker(void *arg) {
    targ_t *ta = arg;
    shared_t *s = ta->s;
    int ith = ta->ith, nth = s->nth;
    if (s->cpus[ith] >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(s->cpus[ith], &set);
        pthread_setaffinity_np(pthread_self(), sizeof set, &set);   /* best effort */
    }
    size_t lo = s->n * (size_t)ith / (size_t)nth, hi = s->n * (size_t)(ith + 1) / (size_t)nth;
    double *pa = NULL, *pb = NULL, *pc = NULL;
    if (s->job == JOB_DRAM) {
        /* first touch by the thread that streams the slice */
        for (size_t i = lo; i < hi; i++) { s->a[i] = 0.0; s->b[i] = 1.0; s->c[i] = 2.0; }
    } else if (s->job == JOB_CACHE) {
        pa = malloc(3 * s->cn * sizeof(double));
        if (!pa) snprintf(s->err, sizeof s->err, "cannot allocate 3 arrays of %zu doubles", s->cn);
        else {
            pb = pa + s->cn; pc = pb + s->cn;
            for (size_t i = 0; i < s->cn; i++) { pa[i] = 0.0; pb[i] = 1.0; pc[i] = 2.0; }
        }
    }
    double acc = 0.0;
    for (int t = 0; t < s->trials; t++) {
        pthread_barrier_wait(&s->bar);
        if (ith == 0) s->t0[t] = now();
        if (s->job == JOB_FMA) {
            acc += s->isa->fn(s->fma_iters);
        } else if (s->job == JOB_DRAM) {
            s->isa->triad(s->a + lo, s->b + lo, s->c + lo, 3.0, hi - lo);
            acc += s->a[lo];
        } else if (pa) {
            for (long r = 0; r < s->sweeps; r++) {
                s->isa->triad(pa, pb, pc, 3.0, s->cn);
                acc += pa[r % (long)s->cn];
            }
        }
        pthread_barrier_wait(&s->bar);
        if (ith == 0) s->t1[t] = now();
    }
    s->sink[ith] = acc;
    free(pa);
    return NULL;
}

/* Run one job on nth threads (the caller is worker 0); fills per-trial times. */
static int run_job(shared_t *s) {
    pthread_t tid[MAXTHREADS];
    targ_t ta[MAXTHREADS];
    pthread_barrier_init(&s->bar, NULL, (unsigned)s->nth);
    s->err[0] = 0;
    for (int i = 1; i < s->nth; i++) {
        ta[i].s = s; ta[i].ith = i;
        if (pthread_create(&tid[i], NULL, worker, &ta[i]) != 0) {
            /* the barrier counts nth: we cannot go on with fewer threads */
            fprintf(stderr, "ceilings: cannot create thread %d of %d: %s\n", i, s->nth, strerror(errno));
            exit(1);
        }
    }
    ta[0].s = s; ta[0].ith = 0;
    worker(&ta[0]);
    for (int i = 1; i < s->nth; i++) pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&s->bar);
    return s->err[0] ? -1 : 0;
}

typedef struct { double best, median; int trials; } result_t;

/* rate = work / time per trial: best (max) and median */
static result_t rates(const shared_t *s, double work) {
    double r[MAXTRIALS];
    result_t out = { 0, 0, s->trials };
    for (int t = 0; t < s->trials; t++) {
        double dt = s->t1[t] - s->t0[t];
        r[t] = dt > 0 ? work / dt : 0;
        if (r[t] > out.best) out.best = r[t];
    }
    out.median = median(r, s->trials);
    return out;
}

/* The triad on private arrays of `ws` bytes per thread (three of them), at
 * s->nth threads: the roof of the cache level that holds them. *ws_out gets
 * the working set used (at least 3 x 256 doubles). */
static result_t cache_roof(shared_t *s, double ws, int trials, size_t *ws_out) {
    s->cn = (size_t)(ws / 3 / sizeof(double));
    if (s->cn < 256) s->cn = 256;
    /* sweeps for about 10 ms on one thread, timed on arrays of this size
     * (the DRAM arrays can be smaller than a cache level's: --array-mb) */
    double *ca = malloc(3 * s->cn * sizeof(double));
    if (!ca) die(1, "cannot allocate 3 arrays of %zu doubles", s->cn);
    for (size_t i = 0; i < 3 * s->cn; i++) ca[i] = 1.0;
    double t = now();
    for (int r = 0; r < 4; r++) s->isa->triad(ca, ca + s->cn, ca + 2 * s->cn, 3.0, s->cn);
    t = (now() - t) / 4;
    s->sink[0] += ca[0];
    free(ca);
    s->sweeps = t > 0 ? (long)(0.01 / t) + 1 : 100;
    s->job = JOB_CACHE; s->trials = trials;
    if (run_job(s) != 0) die(1, "%s", s->err);
    *ws_out = 3 * s->cn * sizeof(double);
    return rates(s, 24.0 * (double)s->cn * (double)s->sweeps * s->nth);
}

/* ---------------------------------------------------------------- main */

/* ws: bytes of one thread's working set (0: not written) */
static void json_result(FILE *f, int nth, result_t r, double scale, const char *unit, size_t ws,
                        const char *isa, int last) {
    fprintf(f, "    {\"threads\": %d, \"isa\": \"%s\", \"best_%s\": %.4f, \"median_%s\": %.4f, \"trials\": %d",
            nth, isa, unit, r.best * scale, unit, r.median * scale, r.trials);
    if (ws) fprintf(f, ", \"bytes_per_thread\": %zu", ws);
    fprintf(f, "}%s\n", last ? "" : ",");
}

int main(int argc, char **argv) {
    double seconds = 0.5, array_mb = 0;
    const char *out_path = NULL, *isa_name = NULL, *threads_arg = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage(stdout); return 0; }
        if (!v) die(2, "option '%s' needs a value (or is unknown)", a);
        char *end;
        if (strcmp(a, "--seconds") == 0) {
            seconds = strtod(v, &end);
            if (*end || !(seconds > 0 && seconds <= 600)) die(2, "--seconds: '%s' is not in (0, 600]", v);
        } else if (strcmp(a, "--array-mb") == 0) {
            array_mb = strtod(v, &end);
            if (*end || !(array_mb >= 1 && array_mb <= 65536)) die(2, "--array-mb: '%s' is not in 1..65536", v);
        } else if (strcmp(a, "--threads") == 0) threads_arg = v;
        else if (strcmp(a, "--isa") == 0) isa_name = v;
        else if (strcmp(a, "--out") == 0) out_path = v;
        else die(2, "unknown option '%s'", a);
    }

    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    int nthreads[16], nt = 0;
    if (threads_arg) {
        const char *p = threads_arg;
        while (*p && nt < 16) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < 1 || v > MAXTHREADS || (*end && *end != ','))
                die(2, "--threads: '%s' is not a list of counts 1..1024", threads_arg);
            nthreads[nt++] = (int)v;
            p = *end ? end + 1 : end;
        }
    } else {
        nthreads[nt++] = 1;
        if (ncpu > 1) nthreads[nt++] = ncpu;
    }

    const isa_t *isa = NULL;
    for (size_t i = 0; i < sizeof isas / sizeof isas[0] && !isa; i++)
        if ((!isa_name || strcmp(isa_name, isas[i].name) == 0) && isa_supported(isas[i].name))
            isa = &isas[i];
    if (!isa) die(2, "--isa: '%s' is unknown or not supported by this CPU", isa_name ? isa_name : "");

    caches_t ca;
    caches_read(&ca, ncpu);
    /* model, clock and topology from the topology module (bench/topo.h),
     * read before any thread is pinned */
    topo machine;
    char terr[256];
    int have_topo = topo_read(&machine, terr, sizeof terr) == 0;
    if (!have_topo) fprintf(stderr, "ceilings: warning: no topology: %s\n", terr);
    size_t array_bytes = array_mb > 0 ? (size_t)(array_mb * 1048576.0)
                                      : (size_t)(4 * ca.llc_bytes * ca.llc_instances);
    if (array_bytes < (size_t)(16 << 20) && array_mb <= 0) array_bytes = 16 << 20;
    /* a --array-mb whose three arrays fit the last-level caches measures
     * them, not DRAM: said on stderr and in the JSON */
    int dram_in_cache = 3.0 * (double)array_bytes <= (double)ca.llc_bytes * ca.llc_instances;
    if (dram_in_cache)
        fprintf(stderr, "ceilings: warning: --array-mb %g: the three triad arrays (%.1f MiB) fit the "
                "last-level caches (%.1f MiB): the \"DRAM\" triad measures a cache\n", array_mb,
                3.0 * (double)array_bytes / 1048576.0, (double)ca.llc_bytes * ca.llc_instances / 1048576.0);

    /* the CPUs we may run on, for pinning worker i to the i-th of them */
    int cpus[MAXTHREADS], ncpus_aff = 0;
    cpu_set_t aff;
    if (sched_getaffinity(0, sizeof aff, &aff) == 0)
        for (int c = 0; c < CPU_SETSIZE && ncpus_aff < MAXTHREADS; c++)
            if (CPU_ISSET(c, &aff)) cpus[ncpus_aff++] = c;

    shared_t *s = calloc(1, sizeof *s);
    if (!s) die(1, "cannot allocate the shared state");
    s->isa = isa;
    s->n = array_bytes / sizeof(double);
    s->a = malloc(s->n * sizeof(double));
    s->b = malloc(s->n * sizeof(double));
    s->c = malloc(s->n * sizeof(double));
    if (!s->a || !s->b || !s->c)
        die(1, "cannot allocate three triad arrays of %zu bytes each (try a smaller --array-mb)", array_bytes);

    /* calibrate: FMA rounds that take about 10 ms on one thread */
    long fma_iters = 1 << 16;
    for (;;) {
        double t = now();
        s->sink[0] += isa->fn(fma_iters);
        t = now() - t;
        if (t > 0.01 || fma_iters > (1L << 40)) break;
        fma_iters *= 2;
    }
    const char *l1_source;
    long long l1_bytes = l1d_bytes(&l1_source);
    result_t fma[16], dram[16], l1[16], l2[16], llc[16];
    size_t l1_ws[16], l2_ws[16], llc_ws[16];
    for (int k = 0; k < nt; k++) {
        s->nth = nthreads[k];
        for (int i = 0; i < s->nth; i++) s->cpus[i] = s->nth <= ncpus_aff ? cpus[i] : -1;
        int trials = (int)(seconds / 0.01 / 4);
        trials = trials < 3 ? 3 : trials > MAXTRIALS ? MAXTRIALS : trials;

        s->job = JOB_FMA; s->trials = trials; s->fma_iters = fma_iters;
        run_job(s);
        fma[k] = rates(s, isa->flops_per_iter * (double)fma_iters * s->nth);

        /* one DRAM pass moves 3 * array_bytes: one pass timed here (no
         * bandwidth assumed), then as many passes as fit a quarter of the time */
        s->job = JOB_DRAM; s->trials = 1;
        run_job(s);
        double pass = s->t1[0] - s->t0[0];
        s->trials = pass > 0 ? (int)(seconds / 4 / pass) : MAXTRIALS;
        s->trials = s->trials < 3 ? 3 : s->trials > MAXTRIALS ? MAXTRIALS : s->trials;
        run_job(s);
        dram[k] = rates(s, 24.0 * (double)s->n);

        /* cache triads: each thread's three arrays fill half its L1d, half
         * its L2, then its share of half the LLC (per-thread working sets, in the JSON) */
        l1[k] = cache_roof(s, (double)l1_bytes / 2, trials, &l1_ws[k]);
        l2[k] = cache_roof(s, (double)ca.l2_bytes / 2, trials, &l2_ws[k]);
        llc[k] = cache_roof(s, (double)ca.llc_bytes * ca.llc_instances / 2 / s->nth, trials, &llc_ws[k]);
        fprintf(stderr, "ceilings: %d thread%s: FMA (%s) %.1f GFLOP/s, triad (%s) DRAM %.2f GB/s, "
                "LLC %.1f GB/s, L2 %.1f GB/s, L1 %.1f GB/s\n", s->nth, s->nth > 1 ? "s" : "", isa->name,
                fma[k].best * 1e-9, isa->triad_isa, dram[k].best * 1e-9, llc[k].best * 1e-9, l2[k].best * 1e-9,
                l1[k].best * 1e-9);
    }

    FILE *f = stdout;
    if (out_path && !(f = fopen(out_path, "w"))) die(1, "cannot write --out '%s'", out_path);
    char host[256] = "unknown", model[256] = "unknown";
    gethostname(host, sizeof host - 1);
    char vendor[64] = "unknown";
    if (have_topo && machine.cpu_model[0]) snprintf(model, sizeof model, "%s", machine.cpu_model);
    if (have_topo && machine.cpu_vendor[0]) snprintf(vendor, sizeof vendor, "%s", machine.cpu_vendor);
    double load[3] = { 0, 0, 0 };
    if (getloadavg(load, 3) < 0) load[0] = load[1] = load[2] = -1;
    char when[32];
    time_t tnow = time(NULL);
    struct tm tm;
    gmtime_r(&tnow, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (char *p = model; *p; p++) if (*p == '"' || *p == '\\') *p = ' ';
    for (char *p = vendor; *p; p++) if (*p == '"' || *p == '\\') *p = ' ';
    for (char *p = host; *p; p++) if (*p == '"' || *p == '\\') *p = '_';

    fprintf(f, "{\n  \"tool\": \"ceilings\",\n  \"time_utc\": \"%s\",\n  \"hostname\": \"%s\",\n", when, host);
    fprintf(f, "  \"cpu_model\": \"%s\",\n  \"cpu_mhz\": ", model);
    jw_put_num(f, have_topo ? machine.cpuinfo_mhz : NAN);   /* null when /proc/cpuinfo has none */
    fprintf(f, ",\n  \"online_cpus\": %d,\n  \"affinity_cpus\": %d,\n", ncpu, ncpus_aff);
    /* the CPU's identity, not only its name (-1: unknown) */
    fprintf(f, "  \"cpu_vendor\": \"%s\",\n  \"cpu_family\": %d,\n  \"cpu_model_number\": %d,\n"
            "  \"cpu_stepping\": %d,\n", vendor,
            have_topo ? machine.cpu_family : -1, have_topo ? machine.cpu_model_number : -1,
            have_topo ? machine.cpu_stepping : -1);
    if (have_topo) {
        fprintf(f, "  \"usable_cpus\": %d,\n  \"topology\": ", machine.usable_cpus);
        topo_write_json(f, &machine);
        fputs(",\n", f);
        topo_free(&machine);
    }
    fprintf(f, "  \"loadavg\": [%.2f, %.2f, %.2f],\n", load[0], load[1], load[2]);
    fprintf(f, "  \"isa\": \"%s\",\n  \"vector_bits\": %d,\n  \"flops_per_fma_round\": %.0f,\n",
            isa->name, isa->vector_bits, isa->flops_per_iter);
    /* --isa applies to the triads too: their vectors (avx2's triads need AVX only) */
    fprintf(f, "  \"triad_isa\": \"%s\",\n  \"triad_vector_bits\": %d,\n", isa->triad_isa, isa->triad_bits);
    fprintf(f, "  \"triad_dram_fits_llc\": %s,\n", dram_in_cache ? "true" : "false");
    fprintf(f, "  \"llc\": {\"level\": %d, \"bytes\": %lld, \"instances\": %d, \"source\": \"%s\"},\n",
            ca.llc_level, ca.llc_bytes, ca.llc_instances, ca.source);
    fprintf(f, "  \"l2_bytes\": %lld,\n  \"l2_source\": \"%s\",\n  \"triad_array_bytes\": %zu,\n",
            ca.l2_bytes, ca.l2_source, s->n * sizeof(double));
    fprintf(f, "  \"l1d_bytes\": %lld,\n  \"l1d_source\": \"%s\",\n", l1_bytes, l1_source);
    fprintf(f, "  \"seconds\": %g,\n", seconds);
    fprintf(f, "  \"fma\": [\n");
    for (int k = 0; k < nt; k++) json_result(f, nthreads[k], fma[k], 1e-9, "gflops", 0, isa->name, k == nt - 1);
    fprintf(f, "  ],\n  \"triad_dram\": [\n");
    for (int k = 0; k < nt; k++)
        json_result(f, nthreads[k], dram[k], 1e-9, "gbs", 3 * s->n * sizeof(double) / (size_t)nthreads[k],
                    isa->triad_isa, k == nt - 1);
    fprintf(f, "  ],\n  \"triad_llc\": [\n");
    for (int k = 0; k < nt; k++) json_result(f, nthreads[k], llc[k], 1e-9, "gbs", llc_ws[k], isa->triad_isa, k == nt - 1);
    fprintf(f, "  ],\n  \"triad_l2\": [\n");
    for (int k = 0; k < nt; k++) json_result(f, nthreads[k], l2[k], 1e-9, "gbs", l2_ws[k], isa->triad_isa, k == nt - 1);
    fprintf(f, "  ],\n  \"triad_l1\": [\n");
    for (int k = 0; k < nt; k++) json_result(f, nthreads[k], l1[k], 1e-9, "gbs", l1_ws[k], isa->triad_isa, k == nt - 1);
    double sink = 0;
    for (int i = 0; i < MAXTHREADS; i++) sink += s->sink[i];
    fprintf(f, "  ],\n  \"checksum\": %.6g\n}\n", sink);
    int rc = 0;
    if (f != stdout && fclose(f) != 0) { fprintf(stderr, "ceilings: writing '%s' failed\n", out_path); rc = 1; }
    free(s->a); free(s->b); free(s->c); free(s);
    return rc;
}
