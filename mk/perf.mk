# mk/perf.mk - measurement with outside tools (included by the Makefile).
#
#   make hyperfine [HYPERFINE_ARGS="--run results/<run> ..."]   scripts/hyperfine.sh
#   make perf      [PERF_ARGS="--run results/<run> ..."]         scripts/perf-stat.sh (rule in the Makefile)
#
# Each script's --help lists its options and the files it writes.

# This file is read before the Makefile's own rules: name `all` first so that
# a plain `make` still builds instead of running the first rule below.
all:

hyperfine: deps all
	scripts/hyperfine.sh $(HYPERFINE_ARGS)
