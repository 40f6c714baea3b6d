# mk/analysis.mk - the scaling analysis (scripts/analyze.py, scripts/compare.py,
# scripts/ci-compare.sh); included by the Makefile. Nothing to build: Python
# 3 + numpy and gnuplot (scripts/deps.sh installs them).
#
#   make analyze [ANALYZE_DIR=results/<run>] [ANALYZE_ARGS=...]
#                        REPORT.md, fit.json and plots/<run>/ for a results folder
#                        (default: the newest results/<UTC time>-<host> folder)
#   make compare COMPARE_ARGS="results/A results/B"     point-by-point gate
#   make ci-compare      the CI gate: lock-free beats locked at 2 threads
#                        (also run by tests/test_analysis.sh in make test)

# a bare `make` still builds: this file is read before the Makefile's `all:` rule
.DEFAULT_GOAL := all

# the newest sweep folder (one with a runs.jsonl), leaving out committed reference runs
ANALYZE_DIR ?= $(patsubst %/runs.jsonl,%,$(lastword $(sort $(filter-out results/reference-%,$(wildcard results/*/runs.jsonl)))))

.PHONY: analyze compare ci-compare

analyze:
	@test -n "$(ANALYZE_DIR)" || { echo "make analyze: no results folder; give ANALYZE_DIR=results/<run>" >&2; exit 2; }
	scripts/analyze.py $(ANALYZE_DIR) $(ANALYZE_ARGS)

compare:
	@test -n "$(COMPARE_ARGS)" || { echo 'make compare: give COMPARE_ARGS="BASE_DIR [CAND_DIR] [options]"' >&2; exit 2; }
	scripts/compare.py $(COMPARE_ARGS)

ci-compare: all
	scripts/ci-compare.sh
