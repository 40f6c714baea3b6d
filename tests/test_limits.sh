#!/usr/bin/env bash
# test_limits.sh - train_model at the edges the code review found:
#   - thread counts past what this BLAS serves at once (core/blas.c; for
#     OpenBLAS from MAX_THREADS= in openblas_get_config(), checked against
#     the library by test_blas_limit): refused, naming the limit; the limit
#     itself runs;
#   - a thread that cannot be created (CLLM_FAIL_THREAD_AT): exit 1, no hang;
#   - the memory limit override CLLM_MEMORY_LIMIT_MIB, and the config whose
#     B*T*F passes 2^31 (--batch 32768 --seq 16 --F 4096 --L 1): run for one
#     step with CLLM_TEST_BIG=1 where the machine has the memory (it touches
#     about 17 GiB and takes minutes, so make test skips it and says so), a
#     skip line with the reason otherwise; rows past a BLAS int refused;
#   - corpus folders with a symlink loop (and /usr/bin, whose X11 -> .): each
#     directory read once, one warning line with the count;
#   - --eval-batches 0: no validation figure in the summary, val_loss null
#     in the report; the report's seed and first_step fields.
# test-timeout: 900 (the big config's step, with CLLM_TEST_BIG=1: about 17 GiB
# to touch; 2 min on a shared 2-vCPU VM, most of it page faults)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LF=$BUILD/lockfree/train_model
LK=$BUILD/locked/train_model
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source tests/check.sh
# run ARGS...: rc, stdout in $tmp/out, stderr in $tmp/err; RUN_LIMIT s at most (60)
run() { rc=0; timeout -s KILL "${RUN_LIMIT:-60}" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?; }
err_has() { grep -qE -- "$1" "$tmp/err"; }
TINY=(--steps 1 --quiet --eval-batches 0)

# --- threads against the BLAS limit
limit=$("$LF" --help | sed -n 's/.*this BLAS: at most \([0-9]*\)).*/\1/p')
if [[ -z $limit ]]; then
    skip "the BLAS thread limit: this BLAS has none ($("$LF" --help | grep -o 'this BLAS[^)]*'))"
else
    for b in "$LF" "$LK"; do
        run "$b" --threads $((limit + 1)) "${TINY[@]}"
        check "$(basename "$(dirname "$b")") --threads $((limit + 1)): exit 1 naming the limit $limit (rc $rc): $(head -c 300 "$tmp/err")" \
            bash -c '[[ $1 -eq 1 ]] && grep -q "more than the $2 workers that may call this BLAS.s sgemm at once" "$3"' \
            _ "$rc" "$limit" "$tmp/err"
    done
    run "$LF" --threads 1024 "${TINY[@]}"
    check "--threads 1024: exit 1, refused (rc $rc)" bash -c '[[ $1 -eq 1 ]] && grep -q "MAX_THREADS=" "$2"' _ "$rc" "$tmp/err"
    run "$LF" --threads "$limit" "${TINY[@]}"
    check "--threads $limit (the limit) runs (rc $rc): $(head -c 300 "$tmp/err")" test "$rc" -eq 0
fi

# --- a worker thread that cannot be created, at every index of a 4-thread run
for i in 1 2 3; do
    run env CLLM_FAIL_THREAD_AT=$i "$LF" --threads 4 "${TINY[@]}"
    check "CLLM_FAIL_THREAD_AT=$i of 4: exit 1 with the message, no hang (rc $rc): $(head -c 200 "$tmp/err")" \
        bash -c '[[ $1 -eq 1 ]] && grep -q "cannot create worker thread $2 of 4" "$3"' _ "$rc" "$i" "$tmp/err"
done

# --- the memory limit, and B*T*F past 2^31 elements
run env CLLM_MEMORY_LIMIT_MIB=1 "$LF" --config S "${TINY[@]}"
check "CLLM_MEMORY_LIMIT_MIB=1: refused, naming the limit (rc $rc): $(head -c 200 "$tmp/err")" \
    bash -c '[[ $1 -eq 1 ]] && grep -q "more than the limit CLLM_MEMORY_LIMIT_MIB of 1.0 MiB" "$2"' _ "$rc" "$tmp/err"
BIG=(--batch 32768 --seq 16 --F 4096 --L 1)
run "$LF" "${BIG[@]}" --memory-table
total=$(sed -n 's/^total at 1 thread: \([0-9]*\) bytes.*/\1/p' "$tmp/out")
fch=$(sed -n 's/^  fch *\([0-9]*\) bytes.*/\1/p' "$tmp/out")
check "the big config's memory table (rc $rc): fch holds 2^31 floats ($fch bytes)" test "${fch:-0}" -eq $((4 << 31))
avail=$(awk '/^MemAvailable:/ { printf "%.0f", $2 * 1024 }' /proc/meminfo)
[[ $avail =~ ^[0-9]+$ ]] || avail=0
need=$(( ${total:-0} + ${total:-0} / 5 + (1 << 30) ))
# the sanitizer builds add shadow memory the table does not count (and run 3x slower)
asan=0
if nm "$LF" 2>/dev/null | grep -q __asan_init || [[ $BUILD == *asan* ]]; then asan=1; fi
if [[ -z $total ]]; then
    bad "no total in the big config's memory table"
elif [[ ${CLLM_TEST_BIG:-0} != 1 ]]; then
    skip "one step of ${BIG[*]}: it touches $((total >> 20)) MiB and takes minutes, so make test leaves it out; CLLM_TEST_BIG=1 runs it (test_bigcount covers the ops past 2^31 in every run)"
elif [[ $asan -eq 1 ]]; then
    skip "one step of ${BIG[*]} under AddressSanitizer: its shadow memory comes on top of the $((total >> 20)) MiB footprint; the plain build runs it"
elif [[ $avail -lt $need ]]; then
    skip "one step of ${BIG[*]}: its footprint is $((total >> 20)) MiB, this machine has $((avail >> 20)) MiB available (needs $((need >> 20)) MiB with margin)"
    run "$LF" "${BIG[@]}" "${TINY[@]}"
    check "${BIG[*]} without the memory: refused before allocating (rc $rc): $(head -c 200 "$tmp/err")" \
        bash -c '[[ $1 -eq 1 ]] && grep -qE "more than the machine|cannot allocate" "$2"' _ "$rc" "$tmp/err"
else
    # a correctness check, not a speed one: the limit only catches a hang
    RUN_LIMIT=600 run env CLLM_MEMORY_LIMIT_MIB=$(( (need >> 20) + 1024 )) "$LF" "${BIG[@]}" --steps 1 --eval-batches 0
    check "one step of ${BIG[*]} (B*T*F = 2^31): exit 0 (rc $rc): $(tail -c 300 "$tmp/err")" test "$rc" -eq 0
    check "... with a finite loss: $(cat "$tmp/out")" grep -qE "loss [0-9.]+ -> [0-9.]+," "$tmp/out"
fi
run "$LF" --batch 1048576 --seq 4096 --memory-table
check "rows past a BLAS int: refused (rc $rc): $(head -c 200 "$tmp/err")" \
    bash -c '[[ $1 -eq 2 ]] && grep -q "more than the 2147483647 rows a BLAS call takes" "$2"' _ "$rc" "$tmp/err"

# --- symlink loops in a corpus folder
mkdir -p "$tmp/data/sub"
for i in $(seq 1 300); do echo "the quick brown fox $i jumps over the lazy dog"; done >"$tmp/data/a.txt"
echo "a second file in a folder" >"$tmp/data/sub/b.txt"
ln -s . "$tmp/data/self"
ln -s .. "$tmp/data/sub/up"
ln -s sub "$tmp/data/again"
run "$LF" "$tmp/data" "${TINY[@]}"
check "a folder with 3 links back into itself: exit 0 (rc $rc): $(head -c 300 "$tmp/err")" test "$rc" -eq 0
check "one warning line counting the 3 skipped links: $(cat "$tmp/err")" \
    bash -c '[[ $(grep -c "skipped" "$1") -eq 1 ]] && grep -q "skipped 3 link(s) to a directory already read" "$1"' _ "$tmp/err"
if [[ -d /usr/bin ]]; then
    run "$LF" /usr/bin "${TINY[@]}"
    check "/usr/bin: exit 0 (rc $rc): $(head -c 300 "$tmp/err")" test "$rc" -eq 0
    if [[ -L /usr/bin/X11 ]]; then
        check "/usr/bin: its X11 loop is skipped with one line: $(grep skipped "$tmp/err" | tr '\n' ' ')" \
            grep -q "skipped [0-9]* link(s) to a directory already read under /usr/bin" "$tmp/err"
    fi
else
    skip "/usr/bin: not on this machine"
fi

# --- --eval-batches 0, and the report's seed and first_step
run "$LF" --steps 2 --eval-batches 0 --seed 99 --report "$tmp/r0.json"
check "--eval-batches 0: no validation figure in the summary: $(cat "$tmp/out")" \
    bash -c 'grep -q "loss" "$1" && ! grep -qi "val" "$1"' _ "$tmp/out"
run "$LF" --steps 2 --eval-batches 1 --seed 99 --report "$tmp/r1.json"
check "--eval-batches 1: the summary has the validation loss: $(cat "$tmp/out")" grep -qE ", val [0-9.]+," "$tmp/out"
check "report: val_loss null and val_batches 0 without validation, a number with it; seed, first_step" \
    /usr/bin/python3 - "$tmp/r0.json" "$tmp/r1.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["val_loss"] is None and a["val_batches"] == 0, (a["val_loss"], a["val_batches"])
assert isinstance(b["val_loss"], float) and b["val_batches"] == 1, (b["val_loss"], b["val_batches"])
assert a["seed"] == 99 == b["seed"] and a["first_step"] == 0, (a["seed"], a["first_step"])
PY

check_finish test_limits
