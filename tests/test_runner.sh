#!/usr/bin/env bash
# test_runner.sh - tests of scripts/run_tests.py (scripts/run-tests.sh), the
# runner every CI log comes from, on a scratch tree of fake tests:
#   - the closing line adds up the tests' summary lines; exit 1 on a failure;
#   - a failed check's FAIL line is repeated after the last test, above the
#     "failed:" line, so the tail of a long log names the check (a CI log is
#     often read from its tail only);
#   - a test that exits non-zero without a FAIL line, one that exits 0 without
#     a summary line and one past its time limit each count as failed, and the
#     tail says why;
#   - --only a test that does not exist fails; a passing suite exits 0.
# test-timeout: 60
# Ends with "N passed, N failed" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
source tests/check.sh

mkdir -p "$T/scripts" "$T/tests"
cp scripts/run_tests.py "$T/scripts/"
fake() { printf '#!/usr/bin/env bash\n%s\n' "$2" >"$T/tests/$1"; }
fake test_a.sh 'echo "a: 3 passed, 0 failed, 1 skipped"; echo "SKIP: no widget"'
fake test_b.sh 'echo "FAIL: the widget is 7 (want 8)"; echo "b: 1 passed, 1 failed"; exit 1'
fake test_c.sh 'echo "c: 2 passed, 0 failed"; echo noise; exit 3'
fake test_d.sh 'echo "nothing counted"'
# (the limit's tag split here, or the runner would read it in this file too)
fake test_e.sh "# test-""timeout: 1
sleep 30; echo \"e: 1 passed, 0 failed\""

run() { rc=0; TEST_GRACE=1 /usr/bin/python3 "$T/scripts/run_tests.py" "$@" >"$T/out" 2>&1 || rc=$?; }

run
check "a failing suite exits 1 (rc $rc)" [ "$rc" -eq 1 ]
check "closing line adds up: 6 passed, 4 failed, 1 skipped ($(tail -n 1 "$T/out"))" \
    [ "$(tail -n 1 "$T/out")" = "6 passed, 4 failed, 1 skipped" ]
tail8=$(tail -n 8 "$T/out")
check "the tail repeats the failed check's line" grep -q "test_b.sh: FAIL: the widget is 7 (want 8)" <<<"$tail8"
check "the tail says test_c exited non-zero without a FAIL line" grep -q "test_c.sh: exit code 3, no FAIL line" <<<"$tail8"
check "the tail says test_d printed no summary line" grep -q "test_d.sh: test_d.sh exited 0 without a summary line" <<<"$tail8"
check "the tail says test_e timed out" grep -q "test_e.sh: TIMEOUT: test_e.sh ran past its limit of 1 s" <<<"$tail8"
check "the failed tests named on the line before the totals" \
    [ "$(tail -n 2 "$T/out" | head -n 1)" = "failed: test_b.sh test_c.sh test_d.sh test_e.sh (TIMEOUT)" ]
check "a passing test's lines are not repeated" bash -c "! grep -q 'test_a.sh:' <<<\"\$1\"" _ "$tail8"

run --only test_a.sh
check "a passing test alone: exit 0 (rc $rc)" [ "$rc" -eq 0 ]
check "and no failed-checks section" bash -c "! grep -q 'failed checks' '$T/out'"
run --only test_a.sh,test_zz.sh
check "--only a missing test fails (rc $rc)" [ "$rc" -eq 1 ]
check "and names it" grep -q "test_zz.sh *no such test" "$T/out"
check "and the tail names it too" grep -q "^    test_zz.sh: no such test" "$T/out"

check_finish test_runner
