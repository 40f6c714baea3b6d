#!/usr/bin/env bash
# test_fuzz.sh - the libFuzzer targets in `make test`: builds them through
# `make fuzz-build` (clang, ASan + UBSan, -Werror; a second build does
# nothing and a changed target recompiles no object), replays every committed
# corpus input (seeds and past crashes) and fuzzes each target for a few
# seconds, two at a time, so a regression in a loader or parser is caught.
#
#   FUZZ_TEST_SECONDS=S   fuzzing time per target (default 6; 0 = replay only).
#                         Under a sanitizer build of the suite (BUILD=build/asan
#                         ...) the default is 0: the targets are the same
#                         binaries, the corpus replay is what is left to check.
#
# Ends with "N passed, N failed, N skipped"; exits non-zero on any failure.
# Without clang's libFuzzer runtime the whole test is one skip, with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
default_secs=6
[[ $BUILD == build ]] || default_secs=0
secs=${FUZZ_TEST_SECONDS:-$default_secs}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0 skip=0

finish() {
    echo "test_fuzz: $pass passed, $fail failed, $skip skipped"
    [[ $fail -eq 0 ]]
    exit
}

# libFuzzer comes with clang (Debian: libclang-rt-14-dev)
if ! command -v "${FUZZ_CC:-clang}" >/dev/null ||
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
       "${FUZZ_CC:-clang}" -x c -fsanitize=fuzzer - -o "$tmp/probe" 2>/dev/null; then
    echo "skipped: ${FUZZ_CC:-clang} cannot link -fsanitize=fuzzer (install clang and libclang-rt-14-dev)"
    skip=1
    finish
fi

if ! make -s -j"$(nproc)" WERROR=1 FUZZ_BUILD="$FUZZ_BUILD" fuzz-build >"$tmp/build.log" 2>&1; then
    echo "FAIL: make fuzz-build"; tail -n 30 "$tmp/build.log"
    fail=1
    finish
fi
pass=$((pass + 1))
targets=$(make -s FUZZ_BUILD="$FUZZ_BUILD" fuzz-list)

# a second build does nothing, and a changed target recompiles only itself:
# no object may be an intermediate file that make deleted after the build
if make -q WERROR=1 FUZZ_BUILD="$FUZZ_BUILD" fuzz-build; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: make fuzz-build right after make fuzz-build is not up to date"
fi
for src in core/fuzz/fuzz_cli.c bench/fuzz/fuzz_json.c; do
    [[ -f $src ]] || continue
    n=$(make -n -W "$src" WERROR=1 FUZZ_BUILD="$FUZZ_BUILD" fuzz-build | grep -c -- ' -c ' || true)
    if [[ $n -eq 0 ]]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL: a changed $src recompiles $n object files (they were deleted as intermediates?)"
    fi
done

rc=0
# shellcheck disable=SC2086
FUZZ_SECONDS=$secs FUZZ_JOBS=2 FUZZ_BUILD=$FUZZ_BUILD FUZZ_WORK=$tmp/work \
    scripts/fuzz.sh $targets >"$tmp/fuzz.log" 2>&1 || rc=$?
grep -vE '^fuzz: [0-9]+ passed' "$tmp/fuzz.log" || true
line=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed' "$tmp/fuzz.log" | tail -n1 || true)
if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    pass=$((pass + BASH_REMATCH[1])); fail=$((fail + BASH_REMATCH[2]))
fi
if [[ $rc -ne 0 && -z $line ]]; then fail=$((fail + 1)); echo "FAIL: scripts/fuzz.sh rc=$rc"; fi
[[ $secs -gt 0 ]] && echo "(each target fuzzed for $secs s after replaying its corpus)" ||
    echo "(corpus replay only: FUZZ_TEST_SECONDS=0 or a sanitizer build of the suite)"
finish
