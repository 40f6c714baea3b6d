"""check.py - the Python tests' counterpart of tests/check.h and
tests/check.sh (a module, not a test: the runner runs only test_*):

    check(desc, ok)   one check; prints "FAIL: desc" when ok is false
    skip(reason)      one check not made: prints "SKIP: reason"
    finish(name="")   prints the closing "N passed, N failed, N skipped" line
                      and exits 1 when any check failed or when nothing at
                      all was checked or skipped (as check.h does), else 0
"""
import sys

passed = failed = skipped = 0


def check(desc, ok):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {desc}")


def skip(reason):
    global skipped
    skipped += 1
    print(f"SKIP: {reason}", flush=True)


def finish(name=""):
    lead = f"{name}: " if name else ""
    print(f"{lead}{passed} passed, {failed} failed, {skipped} skipped")
    if passed + failed + skipped == 0:
        print("FAIL: nothing was checked", flush=True)
    sys.exit(1 if failed or passed + skipped == 0 else 0)
