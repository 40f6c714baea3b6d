"""check.py - the Python tests' counterpart of tests/check.h and
tests/check.sh (a module, not a test: the runner runs only test_*):

    check(desc, ok)   one check; prints "FAIL: desc" when ok is false
    finish()          prints the closing "N passed, N failed" line and exits
                      1 when any check failed, else 0
"""
import sys

passed = failed = 0


def check(desc, ok):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {desc}")


def finish():
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
