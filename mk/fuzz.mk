# mk/fuzz.mk - libFuzzer targets, the fuzzing run and the soak (included by
# the Makefile). Nothing here is added to EXTRA_ALL: the targets need clang
# and its libFuzzer runtime, and `make all` builds with gcc too.
#
#   make fuzz-build     build every target into build/fuzz/ (clang, ASan + UBSan)
#   make fuzz           run each target for FUZZ_SECONDS (default 60) on its
#                       corpus (scripts/fuzz.sh); crashes land in build/fuzz/artifacts/
#   make fuzz-build FUZZ_BUILD=build/fuzz-strict FUZZ_EXTRA=-DFUZZ_STRICT
#                       the same, without the guards around known bugs
#   make soak           63 lock-free threads for SOAK_SECONDS (default 600):
#                       loss finite, RSS flat, runs bitwise repeatable (scripts/soak.sh)
#
# tests/test_fuzz.sh builds the targets through fuzz-build and runs each for a
# few seconds in `make test`.

# the first rule of a fragment would otherwise become the default goal
.DEFAULT_GOAL := all

FUZZ_CC    ?= clang
FUZZ_BUILD ?= build/fuzz
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all
# FUZZ_EXTRA=-DFUZZ_STRICT (with another FUZZ_BUILD) also fuzzes the inputs of
# the known, reported bugs that the targets step around until they are fixed
FUZZ_EXTRA ?=
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) $(FUZZ_EXTRA)
FUZZ_DEFS  := -D_GNU_SOURCE -DCLLM_LOCKED=0

# Core sources are the Makefile's list, so a new core file is fuzzed as it is
# built. bench/: the JSON reader and the runs.jsonl reader (stats.c, which
# needs counters.c and libpfm for its record writer).
FUZZ_CORE_OBJ  := $(CORE_SRC:core/%.c=$(FUZZ_BUILD)/obj/core/%.o)
FUZZ_BENCH_SRC := bench/json.c bench/stats.c bench/runs_format.c bench/points.c bench/stats_write.c bench/counters.c $(wildcard bench/scale_opts.c bench/template.c bench/facts.c)
FUZZ_BENCH_OBJ := $(FUZZ_BENCH_SRC:bench/%.c=$(FUZZ_BUILD)/obj/bench/%.o)

# fuzz_scale_opts needs scale's option parser as functions (bench/scale_opts.h,
# bench/scale_opts.c): it is built when that header exists.
FUZZ_CORE_T  := $(patsubst core/fuzz/%.c,%,$(wildcard core/fuzz/fuzz_*.c))
FUZZ_BENCH_T := $(patsubst bench/fuzz/%.c,%,$(wildcard bench/fuzz/fuzz_*.c))
ifeq ($(wildcard bench/scale_opts.h),)
FUZZ_BENCH_T := $(filter-out fuzz_scale_opts,$(FUZZ_BENCH_T))
endif
FUZZ_TARGETS := $(FUZZ_CORE_T) $(FUZZ_BENCH_T)
FUZZ_BINS    := $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-build fuzz-list soak

fuzz-build: $(FUZZ_BINS)

fuzz-list:
	@echo $(FUZZ_TARGETS)

fuzz: fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) scripts/fuzz.sh $(FUZZ_TARGETS)

soak: all
	BUILD=$(BUILD) scripts/soak.sh

$(FUZZ_BUILD)/obj/core/%.o: core/%.c $(CORE_HDR) mk/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(WARN) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(BLAS_CFLAGS) $(FUZZ_DEFS) -c $< -o $@

$(FUZZ_BUILD)/obj/bench/%.o: bench/%.c $(BENCH_HDR) mk/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(WARN) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_DEFS) -Ibench -c $< -o $@

# Both object sets go through an archive, an explicit rule: objects named
# only in a pattern rule's prerequisites would be intermediate files, which
# make deletes after the build, so every later build recompiled them.
$(FUZZ_BUILD)/libcore.a: $(FUZZ_CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/libbench.a: $(FUZZ_BENCH_OBJ) $(FUZZ_BUILD)/obj/core/jsonw.o $(FUZZ_BUILD)/obj/core/pinspec.o
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: core/fuzz/fuzz_%.c $(wildcard core/fuzz/*.h) $(FUZZ_BUILD)/libcore.a $(CORE_HDR)
	$(FUZZ_CC) $(WARN) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(BLAS_CFLAGS) $(FUZZ_DEFS) -Icore -Icore/fuzz \
	    $< $(FUZZ_BUILD)/libcore.a $(LIBS) -o $@

$(FUZZ_BUILD)/fuzz_%: bench/fuzz/fuzz_%.c core/fuzz/fuzz_util.h $(FUZZ_BUILD)/libbench.a $(BENCH_HDR)
	$(FUZZ_CC) $(WARN) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_DEFS) -Ibench -Icore/fuzz \
	    $< $(FUZZ_BUILD)/libbench.a -lpfm -lm -o $@
