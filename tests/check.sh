# check.sh - the shell tests' counterpart of tests/check.h, sourced by
# tests/test_*.sh (it is not a test: the runner runs only test_*.sh):
#
#   ok                       one check passed
#   bad MESSAGE              one check failed: prints "FAIL: MESSAGE"
#   check MESSAGE CMD...     passes when CMD succeeds, otherwise bad MESSAGE
#   skip REASON              one check not made: prints "SKIP: REASON", which
#                            scripts/run-tests.sh shows under the test's line
#   check_finish NAME        prints "NAME: N passed, N failed, N skipped" and
#                            returns non-zero when any check failed or nothing
#                            at all was checked or skipped
#   check_built NAME FILE... unless every FILE is an executable: one failed
#                            check ("FILE not built"), check_finish NAME, exit 1
#
# Sourced by scripts that use `set -euo pipefail`; the counters are globals.
check_pass=0 check_fail=0 check_skip=0
ok() { check_pass=$((check_pass + 1)); }
bad() { check_fail=$((check_fail + 1)); echo "FAIL: $*"; }
check() { local d=$1; shift; if "$@"; then ok; else bad "$d"; fi; }
skip() { check_skip=$((check_skip + 1)); echo "SKIP: $*"; }
check_finish() {
    echo "$1: $check_pass passed, $check_fail failed, $check_skip skipped"
    [[ $check_fail -eq 0 && $((check_pass + check_skip)) -gt 0 ]]
}
check_built() {
    local name=$1 f; shift
    for f; do
        [[ -x $f ]] || { bad "$f not built (make all)"; check_finish "$name" || exit 1; }
    done
}
