#!/usr/bin/env bash
# test_analysis_py.sh - the analysis package's checks on data built in memory
# (tests/analysis_checks.py: published R usl coefficients, interval coverage
# in simulation, fit hygiene, superlinear data, the comparison's verdicts, the
# projection on the committed reference run, the loader's refusals). Nothing
# here times this machine. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-/usr/bin/python3}" tests/analysis_checks.py
