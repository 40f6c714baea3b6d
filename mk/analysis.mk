# mk/analysis.mk - the scaling analysis (scripts/analyze, scripts/compare: the
# package scripts/cllm_analysis/; scripts/ci-compare.sh); included by the
# Makefile. Nothing to build: Debian's python3 with numpy and scipy, and
# gnuplot (scripts/deps.sh installs them).
#
#   make analyze [ANALYZE_DIR=results/<run>] [ANALYZE_ARGS=...]
#                        REPORT.md, fit.json and plots/<run>/ for a results folder
#                        (default: the newest results/<UTC time>-<host> folder)
#   make compare COMPARE_ARGS="results/A results/B"     point-by-point gate
#   make ci-compare      the CI gate: lock-free beats locked at 2 threads
#                        (also run by tests/test_analysis.sh in make test)
#   make bench-analysis  how long the analysis of 63 thread counts x 2 variants
#                        x 5 reps takes (scripts/bench-analysis.sh; a benchmark)

# a bare `make` still builds: this file is read before the Makefile's `all:` rule
.DEFAULT_GOAL := all

# the newest folder build/scale wrote (it writes summary.csv; peers and micro
# folders have none), leaving out committed reference runs; analyze refuses
# any folder scale did not write
ANALYZE_DIR ?= $(patsubst %/summary.csv,%,$(lastword $(sort $(filter-out results/reference-%,$(wildcard results/*/summary.csv)))))

.PHONY: analyze compare ci-compare bench-analysis

analyze:
	@test -n "$(ANALYZE_DIR)" || { echo "make analyze: no results folder; give ANALYZE_DIR=results/<run>" >&2; exit 2; }
	scripts/analyze $(ANALYZE_DIR) $(ANALYZE_ARGS)

compare:
	@test -n "$(COMPARE_ARGS)" || { echo 'make compare: give COMPARE_ARGS="BASE_DIR [CAND_DIR] [options]"' >&2; exit 2; }
	scripts/compare $(COMPARE_ARGS)

ci-compare: all
	scripts/ci-compare.sh

bench-analysis:
	scripts/bench-analysis.sh

# make machines: the plan and the projection of results/reference-2core/ on
# each hwloc snapshot of ../shared/machines/ (scripts/machines.py), written to
# results/machines/ (README.md holds the table). MACHINES_ARGS: --dram NAME=X,
# --link-gbs NAME=Y, --dram-gbs-per-node X, --snapshots DIR, --reference DIR.
.PHONY: machines
machines: all
	/usr/bin/python3 scripts/machines.py $(MACHINES_ARGS)
