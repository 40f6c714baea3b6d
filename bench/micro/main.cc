/*
 * main.cc - the entry point of build/micro/micro: one BLAS thread (the core's
 * contract: sgemm runs in the calling worker), the build and machine facts as
 * Google Benchmark context, then every case of ops.cc and train.cc.
 *
 *   build/micro/micro [--benchmark_filter=RE] [--benchmark_repetitions=N]
 *                     [--benchmark_min_time=S] [--benchmark_out=FILE.json
 *                      --benchmark_out_format=json]
 * scripts/roofline.sh runs it into a run folder (make micro).
 *   build/micro/micro --isa-list   the core's ISA clones this CPU runs, "a,b,c"
 *   build/micro/micro --gemm-calls=S,G,M [--benchmark_*]   also the sgemm calls
 *                     of one step of each config, alone, and the step's time
 *                     inside sgemm (gemm.cc; scripts/mfu_bound.py runs it)
 * The kernels run in the clone the core picked at start (ops.h ops_isa): the
 * widest the CPU runs, or the one CLLM_ISA names; the context says which.
 */
#include "micro.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace micro {

const std::vector<std::string> &configs() {
    static const std::vector<std::string> names = { "seed", "S", "M" };
    return names;
}

config_t config_get(const std::string &name) {
    config_t c;
    CHECK(config_preset(&c, name.c_str()) == 0, "unknown config preset '%s'", name.c_str());
    return c;
}

}  // namespace micro

int main(int argc, char **argv) {
    char isas[64];
    ops_isa_list(isas, sizeof isas);
    if (argc == 2 && std::string(argv[1]) == "--isa-list") {
        std::printf("%s\n", isas);
        return 0;
    }
    /* --gemm-calls=LIST is ours: taken out before Google Benchmark sees argv */
    std::string gemm_calls;
    bool want_gemm = false;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a.rfind("--gemm-calls", 0) != 0) continue;
        if (a.rfind("--gemm-calls=", 0) != 0) {
            std::fprintf(stderr, "micro: --gemm-calls takes its list after '=' (--gemm-calls=S,G,M)\n");
            return 2;
        }
        gemm_calls = a.substr(13);
        want_gemm = true;
        for (int j = i; j < argc; j++) argv[j] = argv[j + 1];
        argc--;
        i--;
    }
    blas_single_thread();   /* one BLAS thread inside each worker, as train_model */
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    benchmark::AddCustomContext("cllm_git", build_git());
    benchmark::AddCustomContext("cllm_core_compiler", build_compiler());
    benchmark::AddCustomContext("cllm_core_cflags", build_cflags());
    benchmark::AddCustomContext("cllm_blas", build_blas());
    benchmark::AddCustomContext("cllm_variant", build_variant());
    benchmark::AddCustomContext("cllm_isa", ops_isa());
    benchmark::AddCustomContext("cllm_isa_list", isas);
    benchmark::AddCustomContext("micro_compiler", __VERSION__);
    benchmark::AddCustomContext("online_cpus", std::to_string(sysconf(_SC_NPROCESSORS_ONLN)));
    benchmark::AddCustomContext("counters",
        "perf_event counters not read: bench/counters attaches to spawned children only");
    micro::register_ops();
    micro::register_train();
    micro::register_reduce();
    if (want_gemm) {
        std::string err;
        if (micro::register_gemm_calls(gemm_calls, &err) != 0) {
            std::fprintf(stderr, "micro: %s\n", err.c_str());
            return 2;
        }
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
