#!/usr/bin/env bash
# run-tests.sh - run every test binary and test script, add up their
# "N passed, N failed" lines and end with the total. Exits non-zero when any
# check failed or any test exited non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
total_pass=0; total_fail=0; bad=()
run() {
    local name=$1; shift
    local log; log=$(mktemp)
    local t0=$SECONDS rc=0
    "$@" >"$log" 2>&1 || rc=$?
    local line; line=$(grep -E '^([A-Za-z0-9_.-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1 || true)
    local p=0 f=0
    if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then p=${BASH_REMATCH[1]}; f=${BASH_REMATCH[2]}; fi
    if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    printf '%-28s %4d passed %3d failed  rc=%d  %3ds\n' "$name" "$p" "$f" "$rc" $((SECONDS - t0))
    if [[ $rc -ne 0 || $f -ne 0 ]]; then bad+=("$name"); sed 's/^/    | /' "$log" | tail -n 40; fi
    rm -f "$log"
}
for bin in "$BUILD"/tests/test_*; do
    [[ -x $bin ]] || continue
    run "$(basename "$bin")" "$bin"
done
for sh in tests/test_*.sh; do
    [[ -f $sh ]] || continue
    run "$(basename "$sh")" bash "$sh"
done
[[ ${#bad[@]} -eq 0 ]] || echo "failed: ${bad[*]}"
echo "$total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 ]]
