/*
 * micro.h - what the Google Benchmark kernels of bench/micro share: the core's
 * C headers (wrapped in extern "C": the core headers have no guards of their
 * own), aligned float buffers filled from a seeded generator, and the
 * counters every benchmark reports.
 *
 * Counters written by every benchmark (see set_work):
 *   GFLOP   rate (kIsRate): analytic FLOPs per second / 1e9  -> GFLOP/s
 *   GB      rate (kIsRate): analytic minimal bytes per second / 1e9 -> GB/s
 *   flop_per_iter, bytes_per_iter: the analytic counts of one iteration
 *           (the roofline's arithmetic intensity is their ratio)
 *   ws_bytes  the working set, which picks the cache level of its roof
 *   exec_flop_per_iter  (the kernels built on ops.c's exp_approx only) the
 *           floating-point operations the core's source executes in one
 *           iteration, exp's polynomial and GELU's division included: what
 *           the compute roof (mul + add) is judged against
 * The pool benchmarks, which move neither, report "barriers" / "runs" rates.
 */
#ifndef CLLM_MICRO_H
#define CLLM_MICRO_H

#include <benchmark/benchmark.h>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

extern "C" {
#include "config.h"
#include "data.h"
#include "model.h"
#include "ops.h"
#include "pool.h"
#include "trainer.h"
#include "util.h"
}

namespace micro {

/* One 64-byte-aligned float buffer, freed on scope exit. */
class Buf {
public:
    explicit Buf(size_t n) : n_(n), p_(static_cast<float *>(mem_alloc(n * sizeof(float) + 64))) {
        CHECK(p_ != nullptr, "cannot allocate %zu floats for a benchmark buffer", n);
    }
    ~Buf() { mem_free(p_); }
    Buf(const Buf &) = delete;
    Buf &operator=(const Buf &) = delete;
    float *get() { return p_; }
    size_t size() const { return n_; }
    /* N(0, scale) from a fixed seed: the same data on every run */
    void normal(unsigned long long seed, float scale = 1.0f) {
        rng_t r = { seed };
        for (size_t i = 0; i < n_; i++) p_[i] = scale * rng_normal(&r);
    }
    void fill(float v) { for (size_t i = 0; i < n_; i++) p_[i] = v; }
private:
    size_t n_;
    float *p_;
};

/* Report the analytic work of one iteration as rate counters; ws is the
 * working set (distinct bytes the timed call touches: an in-place buffer
 * counts once, where bytes counts its read and its write). */
inline void set_work(benchmark::State &st, double flop, double bytes, double ws, double exec_flop = 0) {
    double it = static_cast<double>(st.iterations());
    st.counters["GFLOP"] = benchmark::Counter(flop * it * 1e-9, benchmark::Counter::kIsRate);
    st.counters["GB"] = benchmark::Counter(bytes * it * 1e-9, benchmark::Counter::kIsRate);
    st.counters["flop_per_iter"] = flop;
    st.counters["bytes_per_iter"] = bytes;
    st.counters["ws_bytes"] = ws;
    if (exec_flop > 0) st.counters["exec_flop_per_iter"] = exec_flop;
}

/* bytes of the buffers a timed call touches */
inline double footprint(std::initializer_list<const Buf *> bufs) {
    double b = 0;
    for (const Buf *x : bufs) b += 4.0 * static_cast<double>(x->size());
    return b;
}

/* The configs whose shapes are benchmarked (names of core/config.c presets). */
const std::vector<std::string> &configs();
config_t config_get(const std::string &name);   /* aborts on an unknown name */

/* 1, 2, 4, ... below the online CPUs, the online CPUs, and 2x them when asked */
std::vector<int> thread_counts(bool oversubscribe);

/* train_model's synthetic corpus (no DATA) split for sequences of T tokens (train.cc) */
const corpus_t *corpus(int T);

void register_ops();     /* ops.cc: matmul, attention, layernorm, GELU, cross-entropy */
void register_train();   /* train.cc: trainer_step at N threads, pool barrier / run */
void register_reduce();  /* reduce.cc: the gradient combine at N threads, a step's barriers */
/* gemm.cc: the sgemm calls of one trainer_step of each config named in list
 * (comma-separated presets), alone, and the step's time inside sgemm; 0, or
 * -1 with err naming what was wrong */
int register_gemm_calls(const std::string &list, std::string *err);

}  // namespace micro

#endif
