#!/usr/bin/env bash
# test_valgrind.sh - memcheck over short train_model runs of both variants at
# 2 threads: training with --save and --report, --resume, the words
# tokenizer on a folder, and two error paths (an allocation that fails, a
# damaged checkpoint). Any invalid read or write, use of an uninitialised
# value in a branch, or definite/indirect leak fails the run. Also: the
# avx2 clones of the hot loops (which valgrind runs, having no AVX-512) give
# the checkpoint bits of the native run (the avx512f clones where the CPU
# has AVX-512).
#
# Skipped (with the reason) where valgrind is not installed or the build is
# a sanitizer build (BUILD=build/asan...: ASan and valgrind exclude each
# other). Ends with "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0 skip=0

finish() {
    echo "test_valgrind: $pass passed, $fail failed, $skip skipped"
    [[ $fail -eq 0 ]]
    exit
}
if ! command -v valgrind >/dev/null; then
    echo "skipped: valgrind is not installed (apt-get install valgrind)"; skip=1; finish
fi
if nm "$BUILD/lockfree/train_model" 2>/dev/null | grep -qE '__asan_init|__tsan_init' || [[ $BUILD == *san* ]]; then
    echo "skipped: $BUILD is a sanitizer build"; skip=1; finish
fi

# OPENBLAS_NUM_THREADS=1: train_model would otherwise set it and exec itself,
# and valgrind follows no exec by default.
# shellcheck disable=SC2054
VG=(env OPENBLAS_NUM_THREADS=1 valgrind --tool=memcheck -q --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect)
# vg EXPECTED_RC DESCRIPTION ARGS...: memcheck finds nothing and the program exits EXPECTED_RC
vg() {
    local want=$1 what=$2 rc=0; shift 2
    "${VG[@]}" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
    if [[ $rc -eq $want ]] && ! grep -q '^==[0-9]*==' "$T/err"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $what: rc $rc (want $want; 99 = memcheck error). Rerun with --track-origins=yes:"
        grep -A12 '^==[0-9]*==' "$T/err" | head -40 || tail -n 20 "$T/err"
    fi
}

mkdir -p "$T/data/sub"
for i in $(seq 1 60); do echo "the cat and the dog sat by the river number $((i % 9))"; done >"$T/data/a.txt"
for i in $(seq 1 40); do echo "a quick fox sees a lazy bird $((i % 5)) times"; done >"$T/data/sub/b.txt"

for v in lockfree locked; do
    bin=$BUILD/$v/train_model
    vg 0 "$v: train, save, report" "$bin" --threads 2 --steps 3 --quiet --save "$T/$v.ck" --report "$T/$v.json"
    vg 0 "$v: resume" "$bin" --threads 2 --steps 2 --quiet --eval-batches 1 --resume "$T/$v.ck"
    CLLM_FAIL_ALLOC_AFTER=10 vg 1 "$v: allocation failure at worker 1" "$bin" --threads 2 --steps 1 --quiet
done
vg 0 "words tokenizer on a folder, strong scaling" "$BUILD/lockfree/train_model" "$T/data" --tokenizer words \
    --V 40 --seq 8 --threads 2 --scaling strong --batch 4 --steps 2 --quiet --save "$T/w.ck"
vg 0 "resume a words checkpoint" "$BUILD/lockfree/train_model" "$T/data" --steps 1 --quiet --resume "$T/w.ck"
head -c 5000 "$T/lockfree.ck" >"$T/cut.ck"
vg 1 "a truncated checkpoint" "$BUILD/lockfree/train_model" --steps 1 --quiet --resume "$T/cut.ck"

# The hot loops' ISA clones (core/ops.c: avx512f, avx2, default) give
# the same bits. valgrind emulates no AVX-512 and hides it from CPUID, so
# under it the avx2 clones run; natively, on a CPU with AVX-512, the avx512f
# ones. Both runs use OpenBLAS's Haswell kernels (OPENBLAS_CORETYPE), so the
# only difference left is the clones. On a CPU without AVX-512 both runs take
# the avx2 clones and the check says so.
cat >"$T/isa.c" <<'EOF'
#include <stdio.h>
int main(void) {
    __builtin_cpu_init();
    puts(__builtin_cpu_supports("avx512f") ? "avx512f" : __builtin_cpu_supports("avx2") ? "avx2" : "default");
    return 0;
}
EOF
CLONE_RUN=(--threads 2 --steps 3 --quiet --eval-batches 0)
if ! "${CC:-cc}" -O1 "$T/isa.c" -o "$T/isa" 2>"$T/err"; then
    fail=$((fail + 1)); echo "FAIL: cannot build the ISA probe: $(head -c 200 "$T/err")"
elif ! env OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 "$BUILD/lockfree/train_model" "${CLONE_RUN[@]}" \
        --save "$T/native.ck" >/dev/null 2>"$T/err"; then
    fail=$((fail + 1)); echo "FAIL: native run for the clone check: $(head -c 200 "$T/err")"
else
    native=$("$T/isa") under=$(valgrind -q "$T/isa")
    OPENBLAS_CORETYPE=Haswell vg 0 "lockfree under valgrind for the clone check" "$BUILD/lockfree/train_model" \
        "${CLONE_RUN[@]}" --save "$T/valgrind.ck"
    if cmp -s "$T/native.ck" "$T/valgrind.ck"; then
        pass=$((pass + 1))
        echo "ISA clones: native ($native clones) and valgrind ($under clones) checkpoints are bitwise equal$(
            [[ $native == "$under" ]] && echo "; the same clones here, so this machine does not compare two")"
    else
        fail=$((fail + 1))
        echo "FAIL: the $native clones (native) and the $under clones (valgrind) give different checkpoints"
    fi
fi
finish
