#!/usr/bin/env bash
# run-tests.sh - run every test binary (build/tests/test_*) and test script
# (tests/test_*.sh), each under a time limit, add up their summary lines and
# end with "N passed, N failed, N skipped". Exits non-zero when any check
# failed, any test exited non-zero, printed no summary line or timed out.
#
#   scripts/run-tests.sh               the suite on $BUILD (default build)
#   scripts/run-tests.sh --sanitizers  the suite on build/asan (ASan+UBSan), then
#                                      scripts/tsan.sh on build/tsan
#   scripts/run-tests.sh --all         both of the above, one closing line
#   scripts/run-tests.sh --only test_cli.sh,test_model   just those tests
#
# A test's time limit is 300 s, or N from a "test-timeout: N" line in its
# source, 3x on the sanitizer builds; TEST_TIMEOUT=S overrides them all. Past
# it, the test's whole session gets SIGTERM, then SIGKILL after TEST_GRACE
# seconds (10), and the test fails as TIMEOUT. "SKIP: reason" lines a test
# prints are shown under its line. The conventions: scripts/run_tests.py
# (which does the work), tests/check.h and tests/check.sh.
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/run_tests.py" "$@"
