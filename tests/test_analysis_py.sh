#!/usr/bin/env bash
# test_analysis_py.sh - the analysis package's checks on data built in memory
# (tests/analysis_checks.py: published R usl coefficients, interval coverage
# in simulation, fit hygiene, superlinear data, the comparison's verdicts, the
# projection on the committed reference run, the loader's refusals). Nothing
# here times this machine. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
# pure Python, no binary of the build: the sanitizer suite (BUILD=build/asan)
# would only repeat it
if [[ ${BUILD:-build} != build ]]; then
    echo "SKIP: test_analysis_py: nothing here uses BUILD=$BUILD's binaries; the plain suite runs it"
    echo "test_analysis_py: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
exec "${PYTHON:-/usr/bin/python3}" tests/analysis_checks.py
