#!/usr/bin/env bash
# test_arm64.sh - the core built for aarch64 and its fast correctness tests run
# there (make test-arm64; make test runs it too): a cross build with Debian's
# gcc-aarch64-linux-gnu against the arm64 OpenBLAS and hwloc (multiarch;
# make arm64-build, mk/arm64.mk), run under qemu-user (qemu-aarch64), or
# natively on an aarch64 machine:
#   - test_ops (ops against naive references), test_ckpt (checkpoints), on
#     a Neoverse N1 (not test_blas_limit: its 640 OpenBLAS buffers of 32 MiB
#     do not fit qemu-user's guest address space, and OpenBLAS retries a
#     failed mmap forever); with
#     ARM64_FULL=1 (make test-arm64 sets it) also test_model (the model
#     against central finite differences) and test_threads (1 thread against
#     N), which take 1-2 minutes of emulated CPU each;
#   - the ceilings' NEON FMA and triad kernels run;
#   - test_clones on two emulated CPUs, cortex-a53 (ARMv8.0: Advanced SIMD
#     only) and max (SVE and every other extension qemu has): aarch64 has no
#     target_clones in GCC 12, so the core is one portable build for the
#     ARMv8-A baseline (Advanced SIMD is part of it), which must run on the
#     oldest CPU and give the same bits on both;
#   - locked = lock-free: the two train_model variants at 1 and 2 threads
#     (2 steps of config tiny) give the same checkpoint bytes and losses, and
#     the Cortex-A53 the same checkpoint as the Neoverse N1.
# The guest's loader and libc must come from one glibc build (see `on`);
# every emulated program has a time limit (ARM64_LIMIT_S, default 1200 s:
# ten times test_model's 2 minutes of emulated CPU), so that a hang is a
# failed check, not a make test-arm64 that never ends.
# Skips, saying why, when the toolchain or qemu is missing and under the
# sanitizer builds (emulation under a sanitizer is minutes). Counter tests are
# not run here (no perf events under qemu-user).
# test-timeout: 600 (the cross build from clean: 1-2 min on a 2-vCPU VM; the
# emulated tests about 40 s of CPU, 2-3 min more with ARM64_FULL=1)
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/check.sh
HOST_BUILD=${BUILD:-build}
A=build/arm64
ARM64_CC=${ARM64_CC:-aarch64-linux-gnu-gcc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ $HOST_BUILD == *san* ]]; then
    skip "the aarch64 tests: $HOST_BUILD is a sanitizer build (they run once, in the plain suite)"
    check_finish test_arm64; exit
fi
native=0
[[ $(uname -m) == aarch64 ]] && native=1 && ARM64_CC=${ARM64_CC/aarch64-linux-gnu-gcc/cc}
if ! command -v "$ARM64_CC" >/dev/null; then
    skip "the aarch64 tests: no $ARM64_CC (scripts/deps.sh installs gcc-aarch64-linux-gnu, as root)"
    check_finish test_arm64; exit
fi
if (( !native )) && ! command -v qemu-aarch64 >/dev/null; then
    skip "the aarch64 tests: no qemu-aarch64 (scripts/deps.sh installs qemu-user, as root)"
    check_finish test_arm64; exit
fi
# The folder qemu-user loads the guest's loader and libraries from (-L).
# The loader must come from the glibc build of the libc.so.6 it then finds:
# the arm64 libraries are multiarch ones (/usr/lib/aarch64-linux-gnu, with
# libc6:arm64's libc.so.6 and /lib/ld-linux-aarch64.so.1), so "/" where that
# loader is installed. The cross compiler's sysroot (/usr/aarch64-linux-gnu,
# libc6-arm64-cross) has a loader of another build (Debian 12: 2.36-8cross1,
# against libc6:arm64 2.36-9+deb12u14): with it every program hung in its
# first pthread_create (glibc's private layout differs; a loop over the
# thread-stack cache never ended), so nothing with threads ran.
if [[ -e /lib/ld-linux-aarch64.so.1 ]]; then prefix=/; else prefix=/usr/$("$ARM64_CC" -dumpmachine); fi
limit=${ARM64_LIMIT_S:-1200}
# on CPU: run an aarch64 program (natively, or under qemu with that CPU model).
# Under qemu-user 7.2 the start of OpenBLAS's server threads never finishes
# (the program spins at load, before main): OPENBLAS_NUM_THREADS=1 starts
# none, as the harness does for every benchmark; train_model asks for one
# thread anyway (each worker calls sgemm itself)
on() {
    local cpu=$1; shift
    # TEST_CLONES_EXEC: how test_clones runs itself again (under qemu-user
    # /proc/self/exe is qemu, not the test)
    if (( native )); then timeout "$limit" "$@"
    else OPENBLAS_NUM_THREADS=1 TEST_CLONES_EXEC="qemu-aarch64 -cpu $cpu -L $prefix $1" \
         timeout "$limit" qemu-aarch64 -cpu "$cpu" -L "$prefix" "$@"; fi
}

# --- the build (make's output only on failure): the test programs this run
# uses (without ARM64_FULL not test_model and test_threads), a job per CPU
progs=(test_ops test_ckpt test_clones)
[[ ${ARM64_FULL:-0} == 1 ]] && progs+=(test_model test_threads)
if ! nice -n 10 make -s -j"$(nproc)" arm64-build ARM64_CC="$ARM64_CC" ARM64_BUILD="$A" WERROR=1 \
        ARM64_TESTS="${progs[*]}" >"$tmp/build" 2>&1; then
    bad "make arm64-build failed: $(tail -c 1500 "$tmp/build")"
    check_finish test_arm64; exit 1
fi
ok
check "build/arm64 programs are aarch64 ELF: $(file -b "$A/lockfree/train_model" | cut -c1-60)" \
    bash -c 'file -b "$1" | grep -q "ARM aarch64"' _ "$A/lockfree/train_model"

# --- the test programs; their "N passed, N failed" lines are added to ours
run_test() {   # CPU NAME
    local rc=0 line
    on "$1" "$A/tests/$2" >"$tmp/$2.out" 2>&1 || rc=$?
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$tmp/$2.out" | tail -1 || true)   # none: a crash or a hang
    if [[ $rc -ne 0 || -z $line ]]; then
        (( rc == 124 )) && echo "  $2 on $1: not done in $limit s (ARM64_LIMIT_S): stopped" >>"$tmp/$2.out"
        bad "$2 on $1: exit $rc: $(grep -E 'FAIL|error|Illegal' "$tmp/$2.out" | head -5) $(tail -c 400 "$tmp/$2.out")"
        return
    fi
    ok
    echo "  $2 (qemu -cpu $1): ${line#*: }"
}
for t in test_ops test_ckpt; do run_test neoverse-n1 "$t"; done
if [[ ${ARM64_FULL:-0} == 1 ]]; then
    for t in test_model test_threads; do run_test neoverse-n1 "$t"; done
else
    skip "test_model and test_threads under qemu: about 1-2 min of emulated CPU each, so make test leaves them out; make test-arm64 runs them (ARM64_FULL=1)"
fi
for cpu in cortex-a53 max; do run_test "$cpu" test_clones; done
# the ceilings' NEON kernels run (emulated: the figures mean nothing)
rc=0; on neoverse-n1 "$A/micro/ceilings" --seconds 0.02 --threads 1 --array-mb 8 --out "$tmp/ceil.json" >/dev/null 2>&1 || rc=$?
check "ceilings on aarch64: exit 0 with the neon FMA kernel and positive figures (rc $rc)" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["isa"] == "neon" and d["vector_bits"] == 128, d["isa"]
assert d["fma"][0]["best_gflops"] > 0 and d["triad_dram"][0]["best_gbs"] > 0' "$tmp/ceil.json"
grep -h '^SKIP' "$tmp"/*.out | sed 's/^/  /' || true

# --- locked = lock-free, and one step's numbers on the oldest CPU = the newest
LF=$A/lockfree/train_model LK=$A/locked/train_model
for n in 1 2; do
    rlf=0 rlk=0
    on neoverse-n1 "$LF" --threads "$n" --steps 2 --quiet --report "$tmp/lf$n.json" --save "$tmp/lf$n.ck" >"$tmp/lf$n.out" 2>&1 || rlf=$?
    on neoverse-n1 "$LK" --threads "$n" --steps 2 --quiet --report "$tmp/lk$n.json" --save "$tmp/lk$n.ck" >"$tmp/lk$n.out" 2>&1 || rlk=$?
    check "$n threads: locked and lock-free exit 0 (exit $rlf, $rlk; 124: not done in $limit s) and their checkpoints are byte-identical" \
        bash -c '[[ $3 -eq 0 && $4 -eq 0 && -s $1 && -s $2 ]] && cmp -s "$1" "$2"' _ "$tmp/lf$n.ck" "$tmp/lk$n.ck" "$rlf" "$rlk"
    check "$n threads: locked and lock-free losses equal" /usr/bin/python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["loss"] == b["loss"], (a["loss"], b["loss"])
assert a["variant"] == "lockfree" and b["variant"] == "locked" and a["threads"] == b["threads"] == int(sys.argv[3])' \
        "$tmp/lf$n.json" "$tmp/lk$n.json" "$n"
done
on cortex-a53 "$LF" --threads 1 --steps 2 --quiet --save "$tmp/a53.ck" >/dev/null 2>&1 || true
check "cortex-a53 (ARMv8.0) runs train_model and its checkpoint equals the Neoverse N1's" cmp -s "$tmp/a53.ck" "$tmp/lf1.ck"
check_finish test_arm64
