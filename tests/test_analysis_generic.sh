#!/usr/bin/env bash
# test_analysis_generic.sh - the analysis package on sweeps of programs that
# are not cllm (tests/analysis_generic.py: synthetic runs of a program with a
# known serial fraction; the Karp-Flatt interval's and the fit's coverage in
# simulation, the 2-CPU case, the unit in every table and plot). Nothing here
# times this machine. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
# pure Python, no binary of the build: the sanitizer suite would only repeat it
if [[ ${BUILD:-build} != build ]]; then
    echo "SKIP: test_analysis_generic: nothing here uses BUILD=$BUILD's binaries; the plain suite runs it"
    echo "test_analysis_generic: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
exec /usr/bin/python3 tests/analysis_generic.py
