/*
 * train.cc - Google Benchmark cases for what the core exposes about a whole
 * step and its threads: trainer_step of config S at 1..online CPUs workers
 * (weak scaling), with the trainer's own phase clocks reported as counters,
 * and the pool's barrier round trip and dispatch at 1..CPUs and 2x CPUs.
 *
 * AdamW is static in core/trainer.c, so it is not called alone: its time per
 * step, and the reduce's inside the step, come from the trainer's phase
 * clocks (trainer_phase_times) around the timed loop, and their rates from
 * the bytes they must move over that time (reduce_GBps, adamw_GBps); the
 * reduce alone is in reduce.cc.
 * These cases run on several threads, so their time is wall-clock
 * (UseRealTime) and the rate counters are per wall second.
 *
 * Software event counts (context switches, minor faults) come from
 * getrusage(RUSAGE_SELF) around the timed loop: bench/counters attaches only
 * to a spawned child and cannot count this process yet (it would need a
 * counters_open_self(); until then no perf_event counts are reported here).
 */
#include "micro.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>

namespace micro {

/* The synthetic corpus train_model uses without DATA (same seed and size),
 * tokenised with the bytes tokenizer, split for sequences of T tokens: built
 * once per T, freed at exit. */
namespace {
class Corpus {
public:
    explicit Corpus(int T) {
        text_t text;
        char err[256];
        CHECK(text_synthetic(&text, 42, 1 << 19) == 0, "cannot build the synthetic corpus");
        tokenizer_t tk;
        CHECK(tokenizer_build(&tk, TOK_BYTES, text.text, text.len, 256, err, sizeof err) == 0, "%s", err);
        size_t n = 0;
        tok_ = tokenizer_encode(&tk, text.text, text.len, &n);
        CHECK(tok_ != nullptr, "cannot encode the synthetic corpus");
        tokenizer_free(&tk);
        text_free(&text);
        CHECK(corpus_split(&corpus_, tok_, n, T, err, sizeof err) == 0, "%s", err);
    }
    ~Corpus() { free(tok_); }
    Corpus(const Corpus &) = delete;
    Corpus &operator=(const Corpus &) = delete;
    const corpus_t *get() const { return &corpus_; }
private:
    int *tok_ = nullptr;
    corpus_t corpus_;
};
}  // namespace

const corpus_t *corpus(int T) {
    static std::map<int, std::unique_ptr<Corpus>> all;
    std::unique_ptr<Corpus> &c = all[T];
    if (!c) c.reset(new Corpus(T));
    return c->get();
}

namespace {

struct Usage {
    double csw, minflt;
    static Usage now() {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return { (double)ru.ru_nvcsw + (double)ru.ru_nivcsw, (double)ru.ru_minflt };
    }
};

void usage_counters(benchmark::State &st, const Usage &a, const Usage &b) {
    st.counters["ctx_switches"] = benchmark::Counter(b.csw - a.csw, benchmark::Counter::kAvgIterations);
    st.counters["minor_faults"] = benchmark::Counter(b.minflt - a.minflt, benchmark::Counter::kAvgIterations);
}

/* Bytes a training step must move at least, from the same tables the
 * allocator uses (P parameters, A bytes of one worker's activations and
 * scratch, N workers): forward reads the parameters and writes the
 * activations; backward reads both and writes a gradient; the reduce reads
 * N gradients and writes one (N > 1); AdamW reads the gradient and reads and
 * writes params, m and v. scripts/roofline.py applies the same formula to a
 * train_model report (its memory table). */
double step_bytes(const config_t &c, int nth, size_t P, double *act, double *reduce, double *adamw) {
    mem_item items[CTX_ITEMS];
    size_t total = 0;
    int n = ctx_layout(&c, c.B, RECOMPUTE_NONE, nullptr, items, &total);
    CHECK(n > 0, "ctx_layout failed for config %s", c.name);
    double A = 0;
    for (int i = 0; i < n; i++) A += (double)items[i].bytes;
    *act = A;
    double p4 = 4.0 * (double)P;
    *reduce = p4 * nth + (nth > 1 ? p4 : 0);
    *adamw = 7 * p4;
    return nth * (p4 + A) + nth * (p4 + A + p4) + *reduce + *adamw;
}

void bm_trainer_step(benchmark::State &st, const std::string &cn, int nth) {
    config_t c = config_get(cn);
    train_opts o;
    train_opts_default(&o);
    o.lr_steps = 1000000;           /* a flat schedule: no step is special */
    char err[512];
    trainer_t *t = trainer_create(&c, &o, nth, corpus(c.T), err, sizeof err);
    if (!t) { st.SkipWithError(err); return; }
    trainer_step(t);                /* warm-up: first touch of every buffer */
    std::vector<double> w0((size_t)nth * PH_COUNT), w1((size_t)nth * PH_COUNT), cpu(PH_COUNT);
    for (int i = 0; i < nth; i++) trainer_phase_times(t, i, &w0[(size_t)i * PH_COUNT], cpu.data());
    Usage u0 = Usage::now();
    float loss = 0;
    for (auto _ : st) loss += trainer_step(t);
    Usage u1 = Usage::now();
    benchmark::DoNotOptimize(loss);
    for (int i = 0; i < nth; i++) trainer_phase_times(t, i, &w1[(size_t)i * PH_COUNT], cpu.data());
    const double it = (double)st.iterations();
    /* per phase: mean over workers and max over workers, seconds per step */
    double mean[PH_COUNT], mx[PH_COUNT];
    for (int p = 0; p < PH_COUNT; p++) {
        mean[p] = mx[p] = 0;
        for (int i = 0; i < nth; i++) {
            double d = (w1[(size_t)i * PH_COUNT + p] - w0[(size_t)i * PH_COUNT + p]) / it;
            mean[p] += d / nth;
            mx[p] = std::max(mx[p], d);
        }
    }
    for (int p = 0; p < PH_COUNT; p++) {
        if (p == PH_LOCK_WAIT) continue;   /* 0 in the lock-free library */
        st.counters[std::string(phase_names[p]) + "_ms"] = mean[p] * 1e3;
    }
    double act_b, reduce_b, adamw_b;
    size_t P = trainer_nparams(t);
    double bytes = step_bytes(c, nth, P, &act_b, &reduce_b, &adamw_b);
    double flop = config_flops(&c, trainer_global_batch(t));
    /* working set: params, m, v and every worker's context and gradient */
    set_work(st, flop, bytes, 3 * 4.0 * (double)P + nth * (act_b + 4.0 * (double)P));
    /* the workers reduce and update their slices at the same time: the
     * slowest worker's phase time is the phase's wall time */
    if (mx[PH_REDUCE] > 0) st.counters["reduce_GBps"] = reduce_b / mx[PH_REDUCE] * 1e-9;
    if (mx[PH_OPTIM] > 0) {
        st.counters["adamw_GBps"] = adamw_b / mx[PH_OPTIM] * 1e-9;
        /* about 17 FLOPs a parameter: moments, bias corrections, sqrt, decay */
        st.counters["adamw_GFLOPps"] = 17.0 * (double)P / mx[PH_OPTIM] * 1e-9;
    }
    st.counters["params"] = (double)P;
    st.counters["act_bytes"] = act_b;     /* one worker's activations and scratch */
    st.counters["reduce_bytes"] = reduce_b;
    st.counters["adamw_bytes"] = adamw_b;
    st.counters["adamw_flop"] = 17.0 * (double)P;
    st.counters["tokens"] = benchmark::Counter((double)trainer_global_batch(t) * c.T * it,
                                               benchmark::Counter::kIsRate);
    usage_counters(st, u0, u1);
    char label[128];
    std::snprintf(label, sizeof label, "weak B=%d/worker T=%d params=%zu", c.B, c.T, P);
    st.SetLabel(label);
    trainer_free(t);
}

/* pool_barrier: every worker crosses K barriers per pool_run */
constexpr int K_BARRIERS = 256;

void barrier_job(void *arg, int ith, int nth) {
    pool_t *p = static_cast<pool_t *>(arg);
    for (int k = 0; k < K_BARRIERS; k++) pool_barrier(p);
}

void empty_job(void *, int, int) {}

void bm_pool(benchmark::State &st, int nth, bool barrier) {
    char err[256];
    pool_t *p = pool_create(nth, err, sizeof err);
    if (!p) { st.SkipWithError(err); return; }
    pool_run(p, barrier ? barrier_job : empty_job, p);   /* threads started and parked */
    Usage u0 = Usage::now();
    double t0 = time_wall();
    for (auto _ : st) pool_run(p, barrier ? barrier_job : empty_job, p);
    double t1 = time_wall();
    Usage u1 = Usage::now();
    const double it = (double)st.iterations();
    if (barrier) {
        st.counters["barriers"] = benchmark::Counter(K_BARRIERS * it, benchmark::Counter::kIsRate);
        st.counters["ns_per_barrier"] = (t1 - t0) / (K_BARRIERS * it) * 1e9;
        st.counters["barriers_per_iter"] = K_BARRIERS;
    } else {
        st.counters["runs"] = benchmark::Counter(it, benchmark::Counter::kIsRate);
        st.counters["ns_per_run"] = (t1 - t0) / it * 1e9;
    }
    usage_counters(st, u0, u1);
    int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    st.SetLabel(nth > cpus ? "oversubscribed" : "");
    pool_free(p);
}

}  // namespace

std::vector<int> thread_counts(bool oversubscribe) {
    int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    cpus = std::max(1, std::min(cpus, THREADS_MAX));
    std::vector<int> v;
    for (int n = 1; n < cpus; n *= 2) v.push_back(n);
    v.push_back(cpus);
    if (oversubscribe && 2 * cpus <= THREADS_MAX) v.push_back(2 * cpus);
    return v;
}

void register_train() {
    for (int n : thread_counts(false))
        benchmark::RegisterBenchmark(("trainer_step/S/threads:" + std::to_string(n)).c_str(),
                                     [n](benchmark::State &st) { bm_trainer_step(st, "S", n); })
            ->UseRealTime()->Unit(benchmark::kMillisecond);
    for (int n : thread_counts(true)) {
        benchmark::RegisterBenchmark(("pool_barrier/threads:" + std::to_string(n)).c_str(),
                                     [n](benchmark::State &st) { bm_pool(st, n, true); })
            ->UseRealTime()->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("pool_run/threads:" + std::to_string(n)).c_str(),
                                     [n](benchmark::State &st) { bm_pool(st, n, false); })
            ->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
}

}  // namespace micro
