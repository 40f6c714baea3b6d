#!/usr/bin/env bash
# test_mfu_bound.sh - tests of scripts/mfu_bound.py and build/micro/micro
# --gemm-calls (bench/micro/gemm.cc): a short run over configs tiny and S
# (tiny only on a sanitizer build: S's step is slow there) exits 0 and writes
# bound.json / bound.md that parse; the sgemm calls it recorded are the
# trainer's, checked against the shapes of the config train_model --describe
# prints: every matmul of a layer (forward NT, weight gradient TN, input
# gradient NN) L times a step, the tied classifier's FLOPs 6 B T C V, the
# blocked attention's 7 products of each query block (forward 2, backward 5)
# and nothing else (the FLOPs add up exactly); the timed step saw the same
# calls; the figures are consistent (MFU <= its bound in the step, GEMM share
# in (0, 1]); bad arguments exit 2 naming what was wrong; make mfu-bound
# runs the script; a refused run leaves no folder. No timing is asserted.
# Ends with "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
source tests/check.sh
check_built test_mfu_bound "$BUILD/micro/micro" "$BUILD/micro/ceilings" "$BUILD/lockfree/train_model"

# expect_rc CODE TEXT COMMAND...: exits CODE and says TEXT on stderr
expect_rc() {
    local code=$1 text=$2 rc=0; shift 2
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc -eq $code ]] && grep -qF -- "$text" "$T/err"; then ok; else
        bad "$* -> rc $rc (want $code, '$text'): $(head -c 300 "$T/err")"; fi
}
make -n --no-print-directory mfu-bound MFU_ARGS=--x >"$T/make" 2>&1 || true
check "make mfu-bound runs scripts/mfu_bound.py with MFU_ARGS" grep -q "scripts/mfu_bound.py --x" "$T/make"
expect_rc 2 "unknown config 'nope'" "$BUILD/micro/micro" --gemm-calls=nope --benchmark_filter=none
expect_rc 2 "presets: tiny" "$BUILD/micro/micro" --gemm-calls=tiny,nope --benchmark_filter=none
expect_rc 2 "--gemm-calls takes its list after '='" "$BUILD/micro/micro" --gemm-calls
expect_rc 2 "no config named" "$BUILD/micro/micro" --gemm-calls= --benchmark_filter=none
expect_rc 2 "unknown config 'nope'" scripts/mfu_bound.py --configs nope --ceilings /dev/null --out "$T/bad1"
expect_rc 2 "--configs: 'S;rm'" scripts/mfu_bound.py --configs 'S;rm' --out "$T/bad2"
expect_rc 2 "must be positive" scripts/mfu_bound.py --min-time 0 --out "$T/bad3"
expect_rc 2 "--ceilings /nonexistent" scripts/mfu_bound.py --ceilings /nonexistent --out "$T/bad4"
check "a refused run leaves no run folder" test ! -e "$T/bad4"

cfgs=tiny,S
[[ $BUILD == *san* ]] && { cfgs=tiny; skip "config S: its step under the sanitizers is slow; tiny checks the same code"; }
rc=0
scripts/mfu_bound.py --configs "$cfgs" --min-time 0.002 --seconds 0.05 --out "$T/run" >"$T/md" 2>"$T/err" || rc=$?
check "mfu_bound.py --configs $cfgs exits 0 ($(head -c 300 "$T/err"))" test $rc -eq 0
if [[ $rc -eq 0 ]]; then
    for c in ${cfgs//,/ }; do
        "$BUILD/lockfree/train_model" --config "$c" --describe >"$T/describe-$c.json"
    done
    "$PY" - "$T" "$cfgs" <<'EOF' >"$T/py" 2>&1 || true
import json, os, sys
T, cfgs = sys.argv[1], sys.argv[2].split(",")
npass = nfail = 0
def check(ok, msg):
    global npass, nfail
    if ok: npass += 1
    else: nfail += 1; print("FAIL:", msg)
try:
    bound = json.load(open(os.path.join(T, "run", "bound.json")))
    md = open(os.path.join(T, "run", "bound.md")).read()
except (OSError, ValueError) as e:
    print("FAIL: bound.json / bound.md:", e); print("checks 0 1"); sys.exit()
check([r["config"] for r in bound["configs"]] == cfgs, f"configs {[r['config'] for r in bound['configs']]}")
check(bound["peak_gflops"] > 0, "FMA peak > 0")
ATT_QB = 64      # core/ops.c
for r in bound["configs"]:
    c = json.load(open(os.path.join(T, f"describe-{r['config']}.json")))["shape"]["config"]
    B, T_, C, F, V, L, NH = (c[k] for k in ("B", "T", "C", "F", "V", "L", "NH"))
    N, HS = B * T_, C // NH
    check(f"| {r['config']}" in md, f"{r['config']}: a row of bound.md")
    got = {}
    for x in r["calls"]:
        k = (x["transA"], x["transB"], x["M"], x["N"], x["K"])
        got[k] = got.get(k, 0) + x["calls_per_step"]
    want, lin = {}, 0.0
    for (ci, co) in ((C, 3 * C), (C, C), (C, F), (F, C)):
        for k in ((0, 1, N, co, ci), (1, 0, co, ci, N), (0, 0, N, ci, co)):
            want[k] = want.get(k, 0) + L
            lin += 2.0 * L * k[2] * k[3] * k[4]
    for k, n in want.items():
        check(got.get(k, 0) == n, f"{r['config']}: {n} calls of {k} (transA, transB, M, N, K) a step, recorded {got.get(k, 0)}")
    att = sum(7 * 2.0 * min(ATT_QB, T_ - q0) * (q0 + min(ATT_QB, T_ - q0)) * HS
              for q0 in range(0, T_, ATT_QB)) * B * NH * L
    cls = 6.0 * N * C * V
    tot = sum(x["calls_per_step"] * x["flop"] for x in r["calls"])
    check(abs(tot - (lin + att + cls)) <= 1e-9 * tot,
          f"{r['config']}: recorded sgemm FLOPs {tot:.0f} = layers {lin:.0f} + attention {att:.0f} + classifier {cls:.0f}")
    check(abs(r["gemm_flop"] - tot) <= 1e-9 * tot, f"{r['config']}: the timed step's sgemm FLOPs {r['gemm_flop']:.0f} = recorded {tot:.0f}")
    check(r["gemm_calls"] == sum(x["calls_per_step"] for x in r["calls"]), f"{r['config']}: the timed step's call count")
    flops = 6.0 * N * (L * (4 * C * C + 2 * C * F) + V * C) + 12.0 * L * B * T_ * T_ * C
    check(abs(r["model_flop"] - flops) <= 1e-9 * flops, f"{r['config']}: model FLOPs {r['model_flop']} = config_flops {flops}")
    check(0 < r["gemm_share"] <= 1, f"{r['config']}: GEMM share {r['gemm_share']} in (0, 1]")
    check(0 < r["mfu"] <= r["mfu_bound_in_step"] * (1 + 1e-12), f"{r['config']}: MFU {r['mfu']} <= bound in step {r['mfu_bound_in_step']}")
    check(all(x["gflops_alone"] > 0 for x in r["calls"]), f"{r['config']}: every call's rate > 0")
print("checks", npass, nfail)
EOF
    read -r _ np nf < <(tail -n 1 "$T/py") || true
    grep '^FAIL' "$T/py" || true
    if [[ ${np:-} =~ ^[0-9]+$ && ${nf:-} =~ ^[0-9]+$ ]]; then
        check_pass=$((check_pass + np)); check_fail=$((check_fail + nf))
    else bad "the checks of bound.json did not run: $(head -c 300 "$T/py")"; fi
fi
check_finish test_mfu_bound
