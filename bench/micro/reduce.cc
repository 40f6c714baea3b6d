/*
 * reduce.cc - Google Benchmark cases for the gradient combine (core/reduce.h,
 * reduce_sum) as the trainer runs it: N workers, N gradient buffers, worker
 * i sums its slice (the trainer's slicing: multiples of 16 floats) over all
 * N buffers, each buffer first written by its own worker; and the pool's
 * synchronisation shape of one training step.
 *
 *   reduce/dram/threads:N   buffers of 12x the last-level cache in all (the
 *                           working set of ceilings' DRAM triad: three
 *                           arrays of 4x the LLC), so every pass is DRAM
 *   reduce/S/threads:N      config S's parameter count per buffer: the
 *                           trainer's own case, in cache when it fits
 *   pool_step/threads:N     a job with two pool_barrier calls: the three
 *                           barriers of a training step (ns per step's
 *                           synchronisation, barriers counted by pool_syncs)
 *
 * Bytes are counted as STREAM counts its triad, so the two compare like with
 * like: every array read once plus every array written once, no
 * write-allocate: 4·P·(N + 1) for N > 1 (N buffers read, grad[0] written),
 * 4·P for N = 1 (the squared norm reads one buffer). The triad writes an
 * array it does not read, so its real traffic has a fourth stream (the
 * write-allocate) that its 24 bytes per element do not count; the combine
 * writes what it has just read and has none. FLOPs: (N-1)·P adds + 2·P for
 * the norm. These cases use wall time (several threads).
 */
#include "micro.h"

#include <unistd.h>

#include <hwloc.h>

#include <algorithm>
#include <string>

extern "C" {
#include "reduce.h"
}

namespace micro {
namespace {

struct ReduceJob {
    std::vector<float *> grad;
    size_t P = 0, dr = 0;
    int fill = 0;                  /* 1: each worker writes its own buffer first */
    double sq = 0;
};

void reduce_job(void *arg, int ith, int nth) {
    ReduceJob *j = static_cast<ReduceJob *>(arg);
    if (j->fill) {
        float *g = j->grad[(size_t)ith];
        for (size_t k = 0; k < j->P; k++) g[k] = 1e-3f * (float)(ith + 1);
        return;
    }
    size_t k0 = std::min((size_t)ith * j->dr, j->P), k1 = std::min(k0 + j->dr, j->P);
    const float *src[1024];
    for (int i = 0; i < nth && i < 1024; i++) src[i] = j->grad[(size_t)i] + k0;
    double s = reduce_sum(j->grad[0] + k0, src, nth, k1 - k0);
    if (ith == 0) j->sq = s;
}

/* the last-level caches of the machine, all instances together (hwloc), as
 * ceilings sizes its DRAM triad; 32 MiB when hwloc finds none */
size_t llc_bytes() {
    hwloc_topology_t t;
    size_t total = 0;
    if (hwloc_topology_init(&t) == 0 && hwloc_topology_load(t) == 0) {
        const hwloc_obj_type_t levels[] = { HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L2CACHE };
        for (hwloc_obj_type_t ty : levels) {
            int n = hwloc_get_nbobjs_by_type(t, ty);
            for (int i = 0; i < n; i++) total += hwloc_get_obj_by_type(t, ty, (unsigned)i)->attr->cache.size;
            if (total) break;
        }
    }
    hwloc_topology_destroy(t);
    return total ? total : (size_t)32 << 20;
}

void bm_reduce(benchmark::State &st, int nth, size_t P) {
    char err[256];
    pool_t *pool = pool_create(nth, err, sizeof err);
    if (!pool) { st.SkipWithError(err); return; }
    ReduceJob j;
    j.P = P;
    j.dr = ((P + nth - 1) / nth + 15) / 16 * 16;
    for (int i = 0; i < nth; i++) {
        float *g = static_cast<float *>(mem_alloc_untouched(P * sizeof(float)));
        if (!g) {
            for (float *q : j.grad) mem_free_untouched(q, P * sizeof(float));
            pool_free(pool);
            st.SkipWithError("cannot allocate the gradient buffers");
            return;
        }
        j.grad.push_back(g);
    }
    j.fill = 1;
    pool_run(pool, reduce_job, &j);
    j.fill = 0;
    pool_run(pool, reduce_job, &j);            /* warm-up pass */
    for (auto _ : st) pool_run(pool, reduce_job, &j);
    benchmark::DoNotOptimize(j.sq);
    double p = (double)P;
    double bytes = 4.0 * p * (nth > 1 ? nth + 1 : 1);
    set_work(st, (double)(nth - 1) * p + 2.0 * p, bytes, 4.0 * p * nth);
    st.counters["buffers"] = nth;
    st.counters["floats_per_buffer"] = p;
    char label[96];
    std::snprintf(label, sizeof label, "%d buffers of %.1f MiB", nth, 4.0 * p / 1048576.0);
    st.SetLabel(label);
    for (float *g : j.grad) mem_free_untouched(g, P * sizeof(float));
    pool_free(pool);
}

void step_sync_job(void *arg, int, int) {
    pool_t *p = static_cast<pool_t *>(arg);
    pool_barrier(p);
    pool_barrier(p);
}

void bm_pool_step(benchmark::State &st, int nth) {
    char err[256];
    pool_t *p = pool_create(nth, err, sizeof err);
    if (!p) { st.SkipWithError(err); return; }
    pool_run(p, step_sync_job, p);
    long s0 = pool_syncs(p);
    double t0 = time_wall();
    for (auto _ : st) pool_run(p, step_sync_job, p);
    double t1 = time_wall();
    const double it = (double)st.iterations();
    st.counters["steps"] = benchmark::Counter(it, benchmark::Counter::kIsRate);
    st.counters["ns_per_step_sync"] = (t1 - t0) / it * 1e9;
    st.counters["barriers_per_step"] = (double)(pool_syncs(p) - s0) / it;
    int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    st.SetLabel(nth > cpus ? "oversubscribed" : "");
    pool_free(p);
}

}  // namespace

void register_reduce() {
    config_t s = config_get("S");
    size_t counts_[P_COUNT];
    size_t P_S = param_counts(&s, counts_);
    size_t total = 12 * llc_bytes() / sizeof(float);       /* floats over all buffers */
    for (int n : thread_counts(false)) {
        size_t P = total / (size_t)n / 16 * 16;
        benchmark::RegisterBenchmark(("reduce/dram/threads:" + std::to_string(n)).c_str(),
                                     [n, P](benchmark::State &st) { bm_reduce(st, n, P); })
            ->UseRealTime()->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("reduce/S/threads:" + std::to_string(n)).c_str(),
                                     [n, P_S](benchmark::State &st) { bm_reduce(st, n, P_S); })
            ->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
    for (int n : thread_counts(true))
        benchmark::RegisterBenchmark(("pool_step/threads:" + std::to_string(n)).c_str(),
                                     [n](benchmark::State &st) { bm_pool_step(st, n); })
            ->UseRealTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace micro
