# cllm - build, test and benchmark.
#
#   make            build both variants of the core, the harness and the tests into build/
#   make test       install what is missing (scripts/deps.sh), build with -Werror, run every test
#   make bench      install, build, run the default scaling sweep, then the analysis
#   make perf       perf stat per thread count          make hyperfine / micro / peers
#   make clean
#
#   make BLAS=blis  the same against BLIS instead of OpenBLAS (below, "BLAS")
#   make test-arm64 cross build for aarch64, fast tests under qemu-user (mk/arm64.mk)
#
# CC, CFLAGS, BLAS, BLAS_CFLAGS / BLAS_LIBS and PKG_CONFIG are overridable.

CC       ?= cc
CXX      ?= c++
OPT      ?= -O3
CFLAGS   ?= $(OPT) -g
WARN     := -std=c11 -Wall -Wextra -Wshadow -Wno-unused-parameter $(if $(WERROR),-Werror)
# -fno-trapping-math: lets the compiler vectorise the clamps in core/ops.c's
# exp; it assumes no floating-point trap handler, changes no result, and is
# not -ffast-math (which stays banned from core/: it changes results).
WARN     += -fno-trapping-math -fno-math-errno
# Flags of the libraries from pkg-config where they ship a .pc (OpenBLAS,
# hwloc), so no path of one architecture is written here; PKG_CONFIG names
# another pkg-config (a cross one: mk/arm64.mk).
PKG_CONFIG ?= pkg-config
# The BLAS: BLAS=openblas (Debian's libopenblas-dev, pthread variant: its
# openblas.pc) or BLAS=blis (Debian's libblis-serial-dev: BLIS without
# threads of its own, one per worker). BLIS ships no .pc: its Debian
# layout is include/<multiarch>/blis-serial and lib/<multiarch>/blis-serial,
# the multiarch triplet being the compiler's (-print-multiarch); BLAS_CFLAGS
# and BLAS_LIBS override both. Why OpenBLAS is the default: README, "BLAS".
BLAS     ?= openblas
BLAS_CHOICES := openblas blis
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
ifeq ($(BLAS),openblas)
BLAS_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags openblas)
BLAS_LIBS   ?= $(shell $(PKG_CONFIG) --libs openblas)
else ifeq ($(BLAS),blis)
BLAS_CFLAGS ?= -isystem /usr/include/$(MULTIARCH)/blis-serial
BLAS_LIBS   ?= -L/usr/lib/$(MULTIARCH)/blis-serial -Wl,-rpath,/usr/lib/$(MULTIARCH)/blis-serial -lblis
else
$(error BLAS=$(BLAS) is not a BLAS this build knows: the choices are $(BLAS_CHOICES) (make BLAS=openblas or make BLAS=blis))
endif
BLAS_CFLAGS += -DCLLM_BLAS_$(BLAS)=1
HWLOC_CFLAGS := $(shell $(PKG_CONFIG) --cflags hwloc)
HWLOC_LIBS   := $(shell $(PKG_CONFIG) --libs hwloc)
LIBS     := $(BLAS_LIBS) $(HWLOC_LIBS) -lpthread -lm
BUILD    ?= build
GIT_REV  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
DEFS     = -D_GNU_SOURCE -DCLLM_CC='"$(shell $(CC) --version | head -n1)"' \
           -DCLLM_CFLAGS='"$(CFLAGS)"' -DCLLM_GIT='"$(GIT_REV)"'

# the core modules the harness compiles too (it does not link libcllm): the
# JSON writer, --pin's parser, the atomic file writer and the machine (usable CPUs, one definition)
BENCH_CORE_SRC := core/jsonw.c core/pinspec.c core/afile.c core/machine.c
CORE_SRC := core/util.c core/blas.c core/crc32c.c core/cli.c core/config.c core/ops.c core/model.c core/pool.c core/pin.c core/plan.c core/perfev.c core/reduce.c core/ranks.c \
            core/trainer.c core/trainer_plan.c core/memtable.c core/describe.c core/trace.c core/data.c core/ckpt.c core/report.c core/comm_single.c $(BENCH_CORE_SRC)
CORE_HDR := $(wildcard core/*.h)

LOCKFREE_OBJ := $(CORE_SRC:core/%.c=$(BUILD)/lockfree/obj/%.o)
LOCKED_OBJ   := $(CORE_SRC:core/%.c=$(BUILD)/locked/obj/%.o)

TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))

BENCH_SRC := $(filter-out bench/test_%.c,$(wildcard bench/*.c))
BENCH_HDR := $(wildcard bench/*.h)
# the harness's modules as a library (all but scale.c's main), for build/scale
# and the bench/test_*.c programs
BENCH_OBJ := $(patsubst bench/%.c,$(BUILD)/bench/obj/%.o,$(filter-out bench/scale.c,$(BENCH_SRC))) \
             $(BENCH_CORE_SRC:core/%.c=$(BUILD)/bench/obj/core/%.o)
BENCH_TEST_BINS := $(patsubst bench/%.c,$(BUILD)/tests/%,$(wildcard bench/test_*.c))

.PHONY: all test bench perf clean deps sanitize asan-build tsan-build FORCE

# Fragments in mk/ add targets (analysis, perf, micro, fuzz); each may append
# binaries to EXTRA_ALL and test commands to nothing else: tests are found by
# scripts/run-tests.sh as build/tests/test_* binaries and tests/test_*.sh.
EXTRA_ALL :=
.DEFAULT_GOAL := all
-include $(wildcard mk/*.mk)

all: $(EXTRA_ALL) $(BUILD)/lockfree/train_model $(BUILD)/locked/train_model $(BUILD)/train_model \
     $(TEST_BINS) $(BUILD)/tests/torch_dump $(if $(wildcard bench/scale.c),$(BUILD)/scale) $(BENCH_TEST_BINS)

$(BUILD)/lockfree/obj/%.o: core/%.c $(CORE_HDR) Makefile $(BUILD)/.blas
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(BLAS_CFLAGS) $(HWLOC_CFLAGS) $(DEFS) -DCLLM_LOCKED=0 -c $< -o $@

$(BUILD)/locked/obj/%.o: core/%.c $(CORE_HDR) Makefile $(BUILD)/.blas
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(BLAS_CFLAGS) $(HWLOC_CFLAGS) $(DEFS) -DCLLM_LOCKED=1 -c $< -o $@

# The git revision (and a -dirty mark) is compiled into util.o and scale for
# every report and results folder; this stamp changes when the revision
# does, so they are rebuilt and never carry a stale one.
$(BUILD)/.gitrev: FORCE
	@mkdir -p $(@D)
	@echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' > $@
FORCE:
# the same for the BLAS: objects and programs built against one BLAS are
# rebuilt when `make BLAS=...` names another (or other flags for it)
BLAS_STAMP := $(BLAS) $(BLAS_CFLAGS) $(BLAS_LIBS)
$(BUILD)/.blas: FORCE
	@mkdir -p $(@D)
	@echo '$(BLAS_STAMP)' | cmp -s - $@ || echo '$(BLAS_STAMP)' > $@
$(BUILD)/lockfree/obj/util.o $(BUILD)/locked/obj/util.o $(BUILD)/scale: $(BUILD)/.gitrev

$(BUILD)/lockfree/libcllm.a: $(LOCKFREE_OBJ)
	ar rcs $@ $^
$(BUILD)/locked/libcllm.a: $(LOCKED_OBJ)
	ar rcs $@ $^

$(BUILD)/%/train_model: core/train_model.c $(BUILD)/%/libcllm.a $(CORE_HDR) $(BUILD)/.blas
	$(CC) $(WARN) $(CFLAGS) $(BLAS_CFLAGS) $(DEFS) $< $(BUILD)/$*/libcllm.a $(LIBS) -o $@

$(BUILD)/train_model: $(BUILD)/lockfree/train_model
	cp $< $@

# tests link the lock-free library; locked against lock-free is compared
# through the two binaries (tests/test_cli.sh).
$(BUILD)/tests/%: tests/%.c $(BUILD)/lockfree/libcllm.a $(CORE_HDR) tests/check.h tests/corpus.h $(BUILD)/.blas
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(BLAS_CFLAGS) $(DEFS) -Icore $< $(BUILD)/lockfree/libcllm.a $(LIBS) -o $@

$(BUILD)/bench/obj/%.o: bench/%.c $(BENCH_HDR) $(CORE_HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(DEFS) $(HWLOC_CFLAGS) -Ibench -c $< -o $@

$(BUILD)/bench/obj/core/%.o: core/%.c $(CORE_HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(DEFS) $(HWLOC_CFLAGS) -Ibench -c $< -o $@

$(BUILD)/bench/libbench.a: $(BENCH_OBJ)
	ar rcs $@ $^

$(BUILD)/scale: bench/scale.c $(BUILD)/bench/libbench.a $(BENCH_HDR) $(CORE_HDR) $(BUILD)/lockfree/libcllm.a
	$(CC) $(WARN) $(CFLAGS) $(DEFS) $(HWLOC_CFLAGS) -Ibench $< $(BUILD)/bench/libbench.a -lpfm $(HWLOC_LIBS) -lm -o $@

# every bench/test_*.c by this one rule (the tests/ rule above links the core)
$(BUILD)/tests/test_%: bench/test_%.c $(BUILD)/bench/libbench.a $(BENCH_HDR) tests/check.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(DEFS) $(HWLOC_CFLAGS) -Ibench -Itests $< $(BUILD)/bench/libbench.a -lpfm $(HWLOC_LIBS) -lm -o $@

deps:
	@scripts/deps.sh

# make test's builds take one job per CPU of the affinity mask (nproc: a
# build's parallelism, not the usable-CPU figure runs are judged by, which
# is core/machine.c's) unless make was given -j itself
TEST_JOBS = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc))
test: deps
	$(MAKE) $(TEST_JOBS) WERROR=1 all
	$(MAKE) $(TEST_JOBS) WERROR=1 CC=clang BUILD=build/clang all
	$(MAKE) $(TEST_JOBS) asan-build tsan-build
	scripts/run-tests.sh --all

# AddressSanitizer + UndefinedBehaviorSanitizer over the whole test suite, and
# ThreadSanitizer over both variants (scripts/tsan.sh). `make test` runs both
# after the plain suite and prints one closing "N passed, N failed" line.
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer
asan-build:
	$(MAKE) WERROR=1 BUILD=build/asan CFLAGS="$(SAN_FLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all" all
tsan-build:
	$(MAKE) WERROR=1 BUILD=build/tsan CFLAGS="$(SAN_FLAGS) -fsanitize=thread" \
	    build/tsan/lockfree/train_model build/tsan/locked/train_model build/tsan/tests/test_threads \
	    $(if $(MPI_LIBS),build/tsan/mpi/train_model)
sanitize: asan-build tsan-build
	scripts/run-tests.sh --sanitizers

bench: deps all
	scripts/bench.sh $(BENCH_ARGS)

perf: deps all
	scripts/perf-stat.sh $(PERF_ARGS)

clean:
	rm -rf $(BUILD) build
