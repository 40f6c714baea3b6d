#!/usr/bin/env bash
# run-tests.sh - run every test binary (build/tests/test_*) and test script
# (tests/test_*.sh), add up their "N passed, N failed" lines and end with the
# total. Exits non-zero when any check failed or any test exited non-zero.
#
#   scripts/run-tests.sh               the suite on $BUILD (default build)
#   scripts/run-tests.sh --sanitizers  the suite on build/asan (ASan+UBSan), then
#                                      scripts/tsan.sh on build/tsan
#   scripts/run-tests.sh --all         both of the above, one closing line
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-plain}
total_pass=0; total_fail=0; bad=()
run() {
    local name=$1; shift
    local log; log=$(mktemp)
    local t0=$SECONDS rc=0
    "$@" >"$log" 2>&1 </dev/null || rc=$?
    local line; line=$(grep -E '^([A-Za-z0-9_.-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1 || true)
    local p=0 f=0
    if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then p=${BASH_REMATCH[1]}; f=${BASH_REMATCH[2]}; fi
    if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    printf '%-32s %4d passed %3d failed  rc=%d  %3ds\n' "$name" "$p" "$f" "$rc" $((SECONDS - t0))
    # lines a test wants in the CI log even when it passes (e.g. the gate's table)
    grep -E '^  (gate|table) \|' "$log" | sed 's/^/    /' || true
    if [[ $rc -ne 0 || $f -ne 0 ]]; then bad+=("$name"); sed 's/^/    | /' "$log" | tail -n 40; fi
    rm -f "$log"
}
suite() {   # $1: build folder, $2: label prefix, $3: scripts to leave out
    local b=$1 tag=$2 skip=${3:-}
    for bin in "$b"/tests/test_*; do
        [[ -x $bin ]] || continue
        run "$tag$(basename "$bin")" env BUILD="$b" "$bin"
    done
    for sh in tests/test_*.sh; do
        [[ -f $sh ]] || continue
        [[ " $skip " == *" $(basename "$sh") "* ]] && continue
        run "$tag$(basename "$sh")" env BUILD="$b" bash "$sh"
    done
}
case $mode in
    plain) suite "${BUILD:-build}" "" ;;
    --sanitizers|--all)
        [[ $mode == --all ]] && suite "${BUILD:-build}" ""
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        # timing cross-checks against perf and hyperfine mean nothing on
        # instrumented binaries; valgrind does not run sanitizer builds
        suite build/asan "asan/" "test_perf.sh test_hyperfine.sh test_valgrind.sh"
        unset ASAN_OPTIONS UBSAN_OPTIONS
        run "tsan/scripts/tsan.sh" env BUILD=build/tsan bash scripts/tsan.sh ;;
    *) echo "usage: run-tests.sh [--sanitizers|--all]" >&2; exit 2 ;;
esac
[[ ${#bad[@]} -eq 0 ]] || echo "failed: ${bad[*]}"
echo "$total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 ]]
