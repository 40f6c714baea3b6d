# mk/micro.mk - Google Benchmark microbenchmarks of the core (bench/micro/*.cc),
# the machine-ceilings probe (bench/micro/ceilings.c) and the roofline.
#
#   make micro      ceilings + every microbenchmark with repetitions + train_model
#                   at 1 and all CPUs into results/<UTC>-<host>-micro/, then the
#                   roofline (plots/<run>/roofline.png/.svg, <run>/roofline.md)
#   make roofline   redo the roofline of the newest results/*-micro run
#                   (ROOFLINE_ARGS="results/<run>" picks another one)
#   make mfu-bound  scripts/mfu_bound.py $(MFU_ARGS): the sgemm calls of a step
#                   of S, G, M alone and the MFU they allow (~1 min quiet)
#
# micro is linked with -Wl,--wrap=cblas_sgemm: the core's sgemm calls go
# through bench/micro/gemm.cc, which records or times them for --gemm-calls
# and otherwise passes them on.
# MICRO_ARGS go to scripts/roofline.sh --measure (--reps N --min-time S ...).
# Built by `make all` (EXTRA_ALL). Under a sanitizer build (CFLAGS holding
# -fsanitize=...) the same sanitizer flags are passed on, so the binaries link
# against the instrumented core.

# The Makefile includes mk/*.mk before its `all:` rule; a rule here would
# otherwise become the default goal of a bare `make`.
.DEFAULT_GOAL := all

MICRO_SRC := $(wildcard bench/micro/*.cc)
MICRO_HDR := $(wildcard bench/micro/*.h)
MICRO_SAN := $(filter -fsanitize% -fno-sanitize%,$(CFLAGS))
MICRO_CXXFLAGS := -std=c++17 -O2 -g -Wall -Wextra -Wshadow -Wno-unused-parameter \
                  $(if $(WERROR),-Werror) $(MICRO_SAN)

EXTRA_ALL += $(BUILD)/micro/micro $(BUILD)/micro/ceilings

$(BUILD)/micro/micro: $(MICRO_SRC) $(MICRO_HDR) $(BUILD)/lockfree/libcllm.a $(CORE_HDR) mk/micro.mk
	@mkdir -p $(@D)
	$(CXX) $(MICRO_CXXFLAGS) -D_GNU_SOURCE -Icore $(BLAS_CFLAGS) $(MICRO_SRC) \
	    $(BUILD)/lockfree/libcllm.a -Wl,--wrap=cblas_sgemm -lbenchmark $(LIBS) -o $@

# the ceilings are C, built at -O3 whatever CFLAGS says (the FMA kernel is
# intrinsics): at -O2 gcc 12 leaves the triad scalar, and a scalar triad
# measures the core's instruction rate in L2 and LLC, not their bandwidth
$(BUILD)/micro/ceilings: bench/micro/ceilings.c bench/topo.c bench/topo.h bench/json.c core/jsonw.c core/jsonw.h core/machine.c core/machine.h mk/micro.mk
	@mkdir -p $(@D)
	$(CC) $(WARN) -O3 -g $(MICRO_SAN) -D_GNU_SOURCE $(HWLOC_CFLAGS) -Ibench $< bench/topo.c bench/json.c core/jsonw.c core/machine.c $(HWLOC_LIBS) -lpthread -lm -o $@

.PHONY: micro roofline mfu-bound
micro: deps all
	scripts/roofline.sh --measure $(MICRO_ARGS)

roofline: all
	scripts/roofline.sh $(ROOFLINE_ARGS)

mfu-bound: all
	scripts/mfu_bound.py $(MFU_ARGS)
