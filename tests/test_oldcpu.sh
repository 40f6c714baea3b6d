#!/usr/bin/env bash
# test_oldcpu.sh - the x86-64 build on CPUs older than the one it was built
# on: a build for a CPU without a clone's ISA runs the portable clone, never
# an illegal instruction. The programs of BUILD run under qemu-user
# (qemu-x86_64 -cpu MODEL), whose CPUID is the model's and whose translator
# raises SIGILL on an instruction the model lacks:
#   - Conroe (Core 2: SSSE3; no SSE4.2, no AVX) and Nehalem (SSE4.2, no AVX):
#     test_clones passes, the clone picked at start is the baseline one and
#     the CPU is seen without AVX2;
#   - train_model, 2 steps of config tiny on the Conroe (the baseline clone,
#     the portable CRC-32C): exit 0 and the same losses as the host's run
#     (whose clone and OpenBLAS kernels are the host's widest: equal within
#     1e-6 relative, as OpenBLAS picks other sgemm kernels per CPU); each CPU
#     resumes the other's checkpoint (the portable CRC-32C and SSE4.2's agree);
#   - CLLM_ISA=avx2 on the Nehalem: exit 2 and a message naming the choices,
#     not an illegal instruction.
# Not qemu64: OpenBLAS takes that model (AMD family 15) for an Opteron and
# runs 3DNow! (femms), which the model lacks: SIGILL inside OpenBLAS.
# Skips, saying why, off x86-64, without qemu-x86_64 (scripts/deps.sh
# installs qemu-user) and on the sanitizer builds (their shadow memory under
# an emulator: they run once, in the plain suite). About 5 s.
# test-timeout: 120
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/check.sh
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [[ $BUILD == *san* ]]; then
    skip "old x86-64 CPUs under qemu: $BUILD is a sanitizer build (they run once, in the plain suite)"
    check_finish test_oldcpu; exit
fi
if [[ $(uname -m) != x86_64 ]]; then
    skip "old x86-64 CPUs under qemu: this host is $(uname -m)"
    check_finish test_oldcpu; exit
fi
if ! command -v qemu-x86_64 >/dev/null; then
    skip "old x86-64 CPUs under qemu: no qemu-x86_64 (scripts/deps.sh installs qemu-user, as root)"
    check_finish test_oldcpu; exit
fi
LF=$BUILD/lockfree/train_model TC=$BUILD/tests/test_clones
check_built test_oldcpu "$LF" "$TC"

# on CPU PROGRAM ARGS...: PROGRAM under qemu-x86_64 with that CPU model.
# OPENBLAS_NUM_THREADS=1: without it train_model sets it and execs
# /proc/self/exe, which qemu-user 7.2 hands to the kernel as the x86-64
# program it is, so the run would go on natively, on this host's CPU
on() { local cpu=$1; shift; OPENBLAS_NUM_THREADS=1 qemu-x86_64 -cpu "$cpu" "$@"; }

# --- test_clones: the baseline clone, no AVX2 seen, its checks pass
for cpu in Conroe Nehalem; do
    rc=0
    TEST_CLONES_EXEC="qemu-x86_64 -cpu $cpu $TC" on "$cpu" "$TC" >"$tmp/tc-$cpu" 2>&1 || rc=$?
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$tmp/tc-$cpu" | tail -1 || true)
    check "test_clones on $cpu: exit 0 and its closing line (exit $rc: $(grep -E 'FAIL|Illegal|signal' "$tmp/tc-$cpu" | head -3))" \
        test "$rc" -eq 0 -a -n "$line"
    check "test_clones on $cpu: the baseline clone picked at start: $(grep -m1 '^clones this' "$tmp/tc-$cpu" || true)" \
        grep -q 'picked at start: default)' "$tmp/tc-$cpu"
    if grep -q '^this CPU:' "$tmp/tc-$cpu"; then   # builds with clones (gcc)
        check "test_clones on $cpu: no AVX2 seen: $(grep -m1 '^this CPU:' "$tmp/tc-$cpu")" \
            grep -q '^this CPU: avx512f no, avx2 no' "$tmp/tc-$cpu"
    fi
    echo "  test_clones (qemu -cpu $cpu): ${line#*: }"
done

# --- train_model on a Core 2 against the host, and each resuming the other
rc=0; "$LF" --steps 2 --quiet --report "$tmp/host.json" --save "$tmp/host.ck" >/dev/null 2>&1 || rc=$?
check "train_model on this host: exit 0 (exit $rc)" test "$rc" -eq 0
rc=0; on Conroe "$LF" --steps 2 --quiet --report "$tmp/old.json" --save "$tmp/old.ck" >"$tmp/old.out" 2>&1 || rc=$?
check "train_model on Conroe: exit 0, not an illegal instruction (exit $rc: $(tail -c 300 "$tmp/old.out"))" \
    test "$rc" -eq 0
check "train_model: Conroe's losses equal this host's within 1e-6 relative" /usr/bin/python3 -c '
import json, math, sys
a, b = (json.load(open(p))["loss"] for p in sys.argv[1:3])
assert len(a) == len(b) == 2 and all(math.isclose(x, y, rel_tol=1e-6) for x, y in zip(a, b)), (a, b)
print("  losses: host %s, Conroe %s" % (a, b))' "$tmp/host.json" "$tmp/old.json"
rc=0; "$LF" --resume "$tmp/old.ck" --steps 1 --quiet --eval-batches 0 >"$tmp/r1.out" 2>&1 || rc=$?
check "this host resumes Conroe's checkpoint (exit $rc: $(tail -c 300 "$tmp/r1.out"))" test "$rc" -eq 0
rc=0; on Conroe "$LF" --resume "$tmp/host.ck" --steps 1 --quiet --eval-batches 0 >"$tmp/r2.out" 2>&1 || rc=$?
check "Conroe resumes this host's checkpoint (exit $rc: $(tail -c 300 "$tmp/r2.out"))" test "$rc" -eq 0

# --- a clone the CPU lacks, asked for by name: refused before any kernel runs
rc=0; CLLM_ISA=avx2 on Nehalem "$LF" --steps 1 --quiet >/dev/null 2>"$tmp/isa.err" || rc=$?
check "CLLM_ISA=avx2 on Nehalem: exit 2 and a message naming the choices (exit $rc: $(head -c 300 "$tmp/isa.err"))" \
    bash -c '[[ $1 -eq 2 ]] && grep -q "CLLM_ISA=avx2: not a kernel clone.*choices here: default)" "$2"' _ "$rc" "$tmp/isa.err"
check_finish test_oldcpu
