/*
 * gemm.cc - the sgemm calls of a training step, alone and inside the step:
 *
 *   build/micro/micro --gemm-calls=S,G,M [--benchmark_* ...]
 *
 * records every cblas_sgemm call the core makes in one trainer_step of each
 * config (1 worker; the step also warms the trainer up), then registers
 *   sgemm/<cfg>/<i>   call shape i of the step (0, 1, ... in the order first
 *                     met), cblas_sgemm alone on buffers of its own with the
 *                     same transposes, sizes, leading dimensions, alpha and
 *                     beta, warm in cache (a best case: in the step the
 *                     operands come from wherever the step left them)
 *   step_gemm/<cfg>   trainer_step of that trainer, with the time spent
 *                     inside cblas_sgemm summed per step (counters gemm_s and
 *                     step_s: one clock for both, the thread's CPU time, so
 *                     that time the thread waits for the CPU counts in
 *                     neither; step_wall_s beside them)
 * scripts/mfu_bound.py turns them into the MFU bound (the step's model FLOPs
 * over the time its sgemm calls take alone, against the FMA peak).
 *
 * The calls are seen through the linker: micro is linked with
 * -Wl,--wrap=cblas_sgemm (mk/micro.mk), so the core's calls land in
 * __wrap_cblas_sgemm, which records or times them only while a step of this
 * file runs (one thread) and otherwise calls the BLAS at once.
 *
 * Counters of sgemm/<cfg>/<i> (numbers, for the script): M, N, K, transA,
 * transB (1 = transposed), lda, ldb, ldc, alpha, beta, calls_per_step, and
 * set_work's GFLOP (2 M N K per call), flop_per_iter.
 */
#include "micro.h"

#include <time.h>

#include <cblas.h>

#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <tuple>
#include <vector>

namespace {

/* cblas_sgemm's parameter types, whatever the BLAS header spells them
 * (OpenBLAS: blasint, BLIS: f77_int) */
template <typename F> struct fn_args;
template <typename R, typename... A> struct fn_args<R(A...)> { using type = std::tuple<A...>; };
template <size_t i> using arg_t = std::tuple_element_t<i, fn_args<decltype(cblas_sgemm)>::type>;

}  // namespace

#define SGEMM_PARAMS                                                                           \
    arg_t<0> order, arg_t<1> ta, arg_t<2> tb, arg_t<3> m, arg_t<4> n, arg_t<5> k,             \
        arg_t<6> alpha, arg_t<7> a, arg_t<8> lda, arg_t<9> b, arg_t<10> ldb, arg_t<11> beta, \
        arg_t<12> c, arg_t<13> ldc

extern "C" void __real_cblas_sgemm(SGEMM_PARAMS);
extern "C" void __wrap_cblas_sgemm(SGEMM_PARAMS);

namespace micro {
namespace {

/* one distinct call: everything that can change its speed */
struct Shape {
    int row_major, ta, tb;
    long m, n, k, lda, ldb, ldc;
    float alpha, beta;
    auto key() const { return std::make_tuple(row_major, ta, tb, m, n, k, lda, ldb, ldc, alpha, beta); }
    bool operator<(const Shape &o) const { return key() < o.key(); }
    double flop() const { return 2.0 * (double)m * (double)n * (double)k; }
};

/* what the wrapper does: nothing (pass through), record the shapes, or time */
enum Mode { PASS, RECORD, TIME };
Mode mode = PASS;
std::map<Shape, long> *recorded;        /* RECORD: shape -> calls */
std::vector<Shape> *first_seen;         /* RECORD: the shapes in the order first met */
double timed_s, timed_flop;             /* TIME: CPU seconds and FLOPs inside sgemm */
long timed_calls;

double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the calling thread's CPU time (a system call: ~0.1-0.5 us, twice a call) */
double now_s() { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

}  // namespace
}  // namespace micro

extern "C" void __wrap_cblas_sgemm(SGEMM_PARAMS) {
    using namespace micro;
    if (mode == PASS) {
        __real_cblas_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    Shape s = { order == CblasRowMajor, ta != CblasNoTrans, tb != CblasNoTrans, (long)m, (long)n,
                (long)k, (long)lda, (long)ldb, (long)ldc, alpha, beta };
    if (mode == RECORD) {
        if ((*recorded)[s]++ == 0) first_seen->push_back(s);
        __real_cblas_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    double t0 = now_s();
    __real_cblas_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    timed_s += now_s() - t0;
    timed_flop += s.flop();
    timed_calls++;
}

namespace micro {
namespace {

/* one config's trainer, kept from the recording step to step_gemm */
struct Step {
    config_t c;
    trainer_t *t = nullptr;
    std::vector<std::pair<Shape, long>> calls;   /* in the order first met */
    ~Step() { trainer_free(t); }
};

std::vector<std::unique_ptr<Step>> &steps() {
    static std::vector<std::unique_ptr<Step>> v;
    return v;
}

void bm_sgemm(benchmark::State &st, const Shape &s, long per_step) {
    /* operand extents as stored (row-major: rows x ld) */
    const long ar = s.ta ? s.k : s.m, br = s.tb ? s.n : s.k;
    Buf a((size_t)(ar * s.lda)), b((size_t)(br * s.ldb)), c((size_t)(s.m * s.ldc));
    a.normal(21); b.normal(22, 0.02f); c.fill(0);
    const auto tr = [](int t) { return t ? CblasTrans : CblasNoTrans; };
    for (auto _ : st) {
        __real_cblas_sgemm(s.row_major ? CblasRowMajor : CblasColMajor, tr(s.ta), tr(s.tb), s.m, s.n,
                           s.k, s.alpha, a.get(), s.lda, b.get(), s.ldb, s.beta, c.get(), s.ldc);
        benchmark::ClobberMemory();
    }
    /* read A, B (and C when beta != 0), write C */
    const double bytes = 4.0 * ((double)s.m * s.k + (double)s.k * s.n +
                                (double)s.m * s.n * (s.beta != 0.0f ? 2 : 1));
    set_work(st, s.flop(), bytes, footprint({ &a, &b, &c }));
    const std::pair<const char *, double> nums[] = {
        { "M", (double)s.m }, { "N", (double)s.n }, { "K", (double)s.k },
        { "transA", (double)s.ta }, { "transB", (double)s.tb }, { "lda", (double)s.lda },
        { "ldb", (double)s.ldb }, { "ldc", (double)s.ldc }, { "alpha", s.alpha },
        { "beta", s.beta }, { "calls_per_step", (double)per_step },
    };
    for (const auto &kv : nums) st.counters[kv.first] = kv.second;
    char label[160];
    std::snprintf(label, sizeof label, "%s%s M=%ld N=%ld K=%ld lda=%ld ldb=%ld ldc=%ld beta=%g x%ld/step",
                  s.ta ? "T" : "N", s.tb ? "T" : "N", s.m, s.n, s.k, s.lda, s.ldb, s.ldc,
                  (double)s.beta, per_step);
    st.SetLabel(label);
}

void bm_step_gemm(benchmark::State &st, Step *sp) {
    timed_s = timed_flop = 0;
    timed_calls = 0;
    double step_s = 0, wall_s = 0;
    float loss = 0;
    mode = TIME;
    for (auto _ : st) {
        double w0 = clock_s(CLOCK_MONOTONIC), t0 = now_s();
        loss += trainer_step(sp->t);
        step_s += now_s() - t0;
        wall_s += clock_s(CLOCK_MONOTONIC) - w0;
    }
    mode = PASS;
    benchmark::DoNotOptimize(loss);
    const double it = (double)st.iterations();
    const double flop = config_flops(&sp->c, trainer_global_batch(sp->t));
    set_work(st, flop, 0, 0);
    st.counters["model_flop"] = flop;
    st.counters["step_s"] = step_s / it;
    st.counters["step_wall_s"] = wall_s / it;
    st.counters["gemm_s"] = timed_s / it;
    st.counters["gemm_flop"] = timed_flop / it;
    st.counters["gemm_calls"] = (double)timed_calls / it;
    st.counters["gemm_shapes"] = (double)sp->calls.size();
    char label[96];
    std::snprintf(label, sizeof label, "1 worker, B=%d T=%d, %zu shapes", sp->c.B, sp->c.T,
                  sp->calls.size());
    st.SetLabel(label);
}

}  // namespace

int register_gemm_calls(const std::string &list, std::string *err) {
    std::vector<std::string> names;
    std::stringstream ss(list);
    for (std::string n; std::getline(ss, n, ',');) names.push_back(n);
    if (names.empty()) {
        *err = "--gemm-calls: no config named (e.g. --gemm-calls=S,G,M)";
        return -1;
    }
    for (const std::string &n : names) {
        config_t c;
        if (n.empty() || config_preset(&c, n.c_str()) != 0) {
            char all[256];
            config_list(all, sizeof all, ", ");
            *err = "--gemm-calls: unknown config '" + n + "' (presets: " + all + ")";
            return -1;
        }
    }
    for (const std::string &n : names) {
        std::unique_ptr<Step> sp(new Step);
        sp->c = config_get(n);
        train_opts o;
        train_opts_default(&o);
        o.lr_steps = 1000000;           /* a flat schedule: no step is special */
        char e[512];
        sp->t = trainer_create(&sp->c, &o, 1, corpus(sp->c.T), e, sizeof e);
        if (!sp->t) {
            *err = "--gemm-calls: config " + n + ": " + e;
            return -1;
        }
        std::map<Shape, long> rec;
        std::vector<Shape> order;
        recorded = &rec;
        first_seen = &order;
        mode = RECORD;
        trainer_step(sp->t);            /* the recording step, also the warm-up */
        mode = PASS;
        recorded = nullptr;
        first_seen = nullptr;
        for (const Shape &s : order) sp->calls.emplace_back(s, rec[s]);
        Step *p = sp.get();
        benchmark::RegisterBenchmark(("step_gemm/" + n).c_str(),
                                     [p](benchmark::State &st) { bm_step_gemm(st, p); })
            ->Unit(benchmark::kMillisecond);
        for (size_t i = 0; i < p->calls.size(); i++) {
            const Shape s = p->calls[i].first;
            const long per = p->calls[i].second;
            char name[64];
            std::snprintf(name, sizeof name, "sgemm/%s/%02zu", n.c_str(), i);
            benchmark::RegisterBenchmark(name, [s, per](benchmark::State &st) { bm_sgemm(st, s, per); })
                ->Unit(benchmark::kMicrosecond);
        }
        steps().push_back(std::move(sp));
    }
    return 0;
}

}  // namespace micro
