# cllm - build, test and benchmark.
#
#   make            build both variants of the core, the harness and the tests into build/
#   make test       install what is missing (scripts/deps.sh), build with -Werror, run every test
#   make bench      install, build, run the default scaling sweep, then the analysis
#   make perf       perf stat per thread count          make hyperfine / micro / peers
#   make clean
#
# CC, CFLAGS, BLAS (link flags of the BLAS) and BLAS_CFLAGS are overridable.

CC       ?= cc
CXX      ?= c++
OPT      ?= -O3
CFLAGS   ?= $(OPT) -g
WARN     := -std=c11 -Wall -Wextra -Wshadow -Wno-unused-parameter $(if $(WERROR),-Werror)
# -fno-trapping-math: lets the compiler vectorise the clamps in core/ops.c's
# exp; it assumes no floating-point trap handler, changes no result, and is
# not -ffast-math (which stays banned from core/: it changes results).
WARN     += -fno-trapping-math -fno-math-errno
BLAS_CFLAGS ?= -I/usr/include/x86_64-linux-gnu/openblas-pthread
BLAS     ?= -lopenblas
LIBS     := $(BLAS) -lhwloc -lpthread -lm
BUILD    ?= build
GIT_REV  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
DEFS     = -D_GNU_SOURCE -DCLLM_CC='"$(shell $(CC) --version | head -n1)"' \
           -DCLLM_CFLAGS='"$(CFLAGS)"' -DCLLM_GIT='"$(GIT_REV)"'

# the core modules the harness compiles too (it does not link libcllm): the
# JSON writer, --pin's parser, the atomic file writer and the machine (usable CPUs, one definition)
BENCH_CORE_SRC := core/jsonw.c core/pinspec.c core/afile.c core/machine.c
CORE_SRC := core/util.c core/crc32c.c core/cli.c core/config.c core/ops.c core/model.c core/pool.c core/pin.c core/plan.c core/perfev.c core/reduce.c core/ranks.c \
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

$(BUILD)/lockfree/obj/%.o: core/%.c $(CORE_HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(BLAS_CFLAGS) $(DEFS) -DCLLM_LOCKED=0 -c $< -o $@

$(BUILD)/locked/obj/%.o: core/%.c $(CORE_HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(BLAS_CFLAGS) $(DEFS) -DCLLM_LOCKED=1 -c $< -o $@

# The git revision (and a -dirty mark) is compiled into util.o and scale for
# every report and results folder; this stamp changes when the revision
# does, so they are rebuilt and never carry a stale one.
$(BUILD)/.gitrev: FORCE
	@mkdir -p $(@D)
	@echo '$(GIT_REV)' | cmp -s - $@ || echo '$(GIT_REV)' > $@
FORCE:
$(BUILD)/lockfree/obj/util.o $(BUILD)/locked/obj/util.o $(BUILD)/scale: $(BUILD)/.gitrev

$(BUILD)/lockfree/libcllm.a: $(LOCKFREE_OBJ)
	ar rcs $@ $^
$(BUILD)/locked/libcllm.a: $(LOCKED_OBJ)
	ar rcs $@ $^

$(BUILD)/%/train_model: core/train_model.c $(BUILD)/%/libcllm.a $(CORE_HDR)
	$(CC) $(WARN) $(CFLAGS) $(BLAS_CFLAGS) $(DEFS) $< $(BUILD)/$*/libcllm.a $(LIBS) -o $@

$(BUILD)/train_model: $(BUILD)/lockfree/train_model
	cp $< $@

# tests link the lock-free library; locked against lock-free is compared
# through the two binaries (tests/test_cli.sh).
$(BUILD)/tests/%: tests/%.c $(BUILD)/lockfree/libcllm.a $(CORE_HDR) tests/check.h tests/corpus.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(BLAS_CFLAGS) $(DEFS) -Icore $< $(BUILD)/lockfree/libcllm.a $(LIBS) -o $@

$(BUILD)/bench/obj/%.o: bench/%.c $(BENCH_HDR) $(CORE_HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(DEFS) -Ibench -c $< -o $@

$(BUILD)/bench/obj/core/%.o: core/%.c $(CORE_HDR) Makefile
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(DEFS) -Ibench -c $< -o $@

$(BUILD)/bench/libbench.a: $(BENCH_OBJ)
	ar rcs $@ $^

$(BUILD)/scale: bench/scale.c $(BUILD)/bench/libbench.a $(BENCH_HDR) $(CORE_HDR) $(BUILD)/lockfree/libcllm.a
	$(CC) $(WARN) $(CFLAGS) $(DEFS) -Ibench $< $(BUILD)/bench/libbench.a -lpfm -lhwloc -lm -o $@

# every bench/test_*.c by this one rule (the tests/ rule above links the core)
$(BUILD)/tests/test_%: bench/test_%.c $(BUILD)/bench/libbench.a $(BENCH_HDR) tests/check.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(DEFS) -Ibench -Itests $< $(BUILD)/bench/libbench.a -lpfm -lhwloc -lm -o $@

deps:
	@scripts/deps.sh

test: deps
	$(MAKE) WERROR=1 all
	$(MAKE) WERROR=1 CC=clang BUILD=build/clang all
	$(MAKE) asan-build tsan-build
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
