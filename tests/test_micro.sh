#!/usr/bin/env bash
# test_micro.sh - tests of the microbenchmarks and the roofline: make all
# builds build/micro/micro and build/micro/ceilings; every benchmark runs once
# with a tiny --benchmark_min_time, its JSON parses and each benchmark has its
# rate counter > 0; the ceilings run briefly, are positive, use the kernel
# that /proc/cpuinfo's flags call for and name the CPU by vendor, family and
# model, and the widest FMA kernel beats the scalar one by a quarter of its
# lanes (ratios measured here: no absolute rate is asserted, machines
# differ); --array-mb 1 and 4 (smaller than the cache roofs' arrays: 4
# segfaulted) run and say when the "DRAM" triad fits the LLC; --isa of each
# ISA the CPU has names it for the FMA and every triad figure; scripts/roofline.sh draws the PNG/SVG and writes roofline.md from
# that run; bad options exit 2. Run from the repo root; ends
# with "N passed, N failed, N skipped" and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MICRO=$BUILD/micro/micro
CEIL=$BUILD/micro/ceilings
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

source tests/check.sh
# expect_rc CODE DESCRIPTION COMMAND...: the command exits with CODE
expect_rc() {
    local code=$1 d=$2 rc=0; shift 2
    "$@" >"$T/out" 2>&1 || rc=$?
    if [[ $rc -eq $code ]]; then ok; else bad "$d: rc $rc (want $code): $(head -c 300 "$T/out")"; fi
}
finish() { check_finish test_micro; exit $?; }

for b in "$MICRO" "$CEIL"; do
    if [[ ! -x $b ]]; then bad "$b not built (make all)"; finish; fi
    ok
done
# both are part of `make all` (a dry run into an empty build folder lists them)
make -n --no-print-directory BUILD="$T/nobuild" all >"$T/make_all" 2>&1 || true
check "make all builds micro/micro" grep -q -- "-o $T/nobuild/micro/micro" "$T/make_all"
check "make all builds micro/ceilings" grep -q -- "-o $T/nobuild/micro/ceilings" "$T/make_all"
make -n --no-print-directory BUILD="$T/nobuild" micro >"$T/make_micro" 2>&1 || true
check "make micro runs scripts/roofline.sh --measure" grep -q "scripts/roofline.sh --measure" "$T/make_micro"

RUN=$T/results/micro-run
mkdir -p "$RUN"

# ---- the microbenchmarks: one repetition, tiny min time
rc=0
"$MICRO" --benchmark_repetitions=1 --benchmark_min_time=0.001 \
    --benchmark_out="$RUN/micro.json" --benchmark_out_format=json >"$T/micro.txt" 2>&1 || rc=$?
check "micro exits 0 (rc $rc): $(tail -c 400 "$T/micro.txt")" test "$rc" -eq 0
cat >"$T/check_micro.py" <<'EOF'
import json, os, sys
errs = []
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"micro.json does not parse: {e}"); sys.exit(1)
rows = [b for b in d.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"]
cpus = os.cpu_count() or 1
fams = {}
for b in rows:
    fams.setdefault(b["name"].split("/")[0], []).append(b)
    if b.get("error_occurred"):
        errs.append(f"{b['name']}: error {b.get('error_message')}")
        continue
    fam = b["name"].split("/")[0]
    # the rate counter(s) each kind of benchmark must report
    need = {"pool_barrier": ["barriers"], "pool_run": ["runs"], "pool_step": ["steps"]}.get(fam, ["GFLOP", "GB"])
    for c in need:
        v = b.get(c)
        if not isinstance(v, (int, float)) or not v > 0:
            errs.append(f"{b['name']}: rate counter {c} = {v!r}, want > 0")
    if fam == "pool_step" and b.get("barriers_per_step") != 3:
        errs.append(f"{b['name']}: {b.get('barriers_per_step')!r} barriers per step, want 3")
    if fam not in ("pool_barrier", "pool_run", "pool_step"):
        for c in ("flop_per_iter", "bytes_per_iter", "ws_bytes"):
            if not b.get(c, 0) > 0:
                errs.append(f"{b['name']}: {c} = {b.get(c)!r}, want > 0")
want = {"matmul_fwd": 15, "matmul_bwd": 15, "attention_fwd": 3, "attention_bwd": 3,
        "layernorm_fwd": 3, "layernorm_bwd": 3, "gelu_fwd": 3, "gelu_bwd": 3,
        "crossentropy_fwd": 3, "crossentropy_bwd": 3}
for f, n in want.items():
    if len(fams.get(f, [])) != n:
        errs.append(f"family {f}: {len(fams.get(f, []))} benchmarks, want {n} (5 matmuls x seed,S,M or 1 x seed,S,M)")
for f in ("trainer_step", "pool_barrier", "pool_run", "pool_step", "reduce"):
    if not fams.get(f):
        errs.append(f"family {f}: missing")
# the combine at DRAM and at config S sizes, 1 .. CPUs threads; its bytes are
# the triad's way of counting: 4P(N+1) for N > 1 buffers, 4P for one
for kind in ("dram", "S"):
    rs = [b for b in fams.get("reduce", []) if b["name"].split("/")[1] == kind]
    th = sorted(int(b["name"].split("threads:")[1].split("/")[0]) for b in rs)
    if not th or th[0] != 1 or th[-1] != cpus:
        errs.append(f"reduce/{kind} thread counts {th}: want 1 .. {cpus}")
    for b in rs:
        n, P = b["buffers"], b["floats_per_buffer"]
        if b["bytes_per_iter"] != 4 * P * (n + 1 if n > 1 else 1):
            errs.append(f"{b['name']}: bytes_per_iter {b['bytes_per_iter']}, want 4P(N+1) = {4 * P * (n + 1)}")
thr = sorted(int(b["name"].split("threads:")[1].split("/")[0]) for b in fams.get("trainer_step", []))
if thr and (thr[0] != 1 or thr[-1] != cpus):
    errs.append(f"trainer_step thread counts {thr}: want 1 .. {cpus}")
ctx = d.get("context", {})
for k in ("cllm_git", "cllm_blas", "host_name", "num_cpus"):
    if k not in ctx:
        errs.append(f"context lacks {k}")
for e in errs:
    print(e)
sys.exit(1 if errs else 0)
EOF
check "micro.json: $(python3 "$T/check_micro.py" "$RUN/micro.json" 2>&1 | head -n 8 | tr '\n' ';')" \
    python3 "$T/check_micro.py" "$RUN/micro.json"

# ---- the ceilings: short, well-formed, consistent with this CPU. No absolute
# rate is asserted (machines differ): what is checked are the CPU's own flags
# and ratios measured here, in this run.
rc=0
"$CEIL" --seconds 0.05 --out "$RUN/ceilings.json" >"$T/ceil.txt" 2>&1 || rc=$?
check "ceilings exits 0 (rc $rc): $(tail -c 300 "$T/ceil.txt")" test "$rc" -eq 0
cat >"$T/check_ceil.py" <<'EOF'
import json, math, os, sys
errs = []
try:
    c = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"ceilings.json does not parse: {e}"); sys.exit(1)
cpus = os.cpu_count() or 1
# WANT_THREADS, WANT_ISA, WANT_ARRAY_MB: what the run's options asked for
want_th = [int(os.environ["WANT_THREADS"])] if os.environ.get("WANT_THREADS") else sorted({1, cpus})
for kind, key in (("fma", "best_gflops"), ("triad_dram", "best_gbs"),
                  ("triad_llc", "best_gbs"), ("triad_l2", "best_gbs"), ("triad_l1", "best_gbs")):
    rows = c.get(kind) or []
    ths = sorted(r["threads"] for r in rows)
    if ths != want_th:
        errs.append(f"{kind}: thread counts {ths}, want {want_th}")
    for r in rows:
        for k in (key, key.replace("best", "median")):
            v = r.get(k)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                errs.append(f"{kind} at {r['threads']} threads: {k} = {v!r}, want a positive number")
        if r.get(key, 0) < r.get(key.replace("best", "median"), 0):
            errs.append(f"{kind} at {r['threads']} threads: best below the median")
# the kernel is the widest that this CPU's flags allow
flags, ident = set(), {}
for line in open("/proc/cpuinfo"):
    k, _, v = line.partition(":")
    k = k.strip()
    if k == "flags" and not flags:
        flags = set(v.split())
    if k in ("vendor_id", "cpu family", "model") and k not in ident:
        ident[k] = v.strip()
want = ("avx512f" if "avx512f" in flags else "avx2" if {"avx2", "fma"} <= flags
        else "fma" if {"avx", "fma"} <= flags else "sse2" if os.uname().machine == "x86_64" else "scalar")
if os.environ.get("WANT_ISA"):
    want = os.environ["WANT_ISA"]
if c.get("isa") != want:
    errs.append(f"isa {c.get('isa')!r}, but /proc/cpuinfo's flags (or --isa) make it {want!r}")
if c.get("vector_bits") != {"avx512f": 512, "avx2": 256, "fma": 256, "sse2": 128, "neon": 128, "scalar": 32}.get(want):
    errs.append(f"vector_bits {c.get('vector_bits')} for {want}")
# the CPU named by its identity, not only by its model name
for key, src, conv in (("cpu_vendor", "vendor_id", str), ("cpu_family", "cpu family", int),
                       ("cpu_model_number", "model", int)):
    if src in ident and c.get(key) != conv(ident[src]):
        errs.append(f"{key} {c.get(key)!r}, /proc/cpuinfo says {ident[src]!r}")
# every figure names the ISA it used: the FMA rows the FMA kernel's, the
# triads the vectors of the same --isa (avx2's and fma's triads need AVX only)
base = "sse2" if os.uname().machine == "x86_64" else "neon" if os.uname().machine == "aarch64" else "baseline"
tri_isa = {"avx512f": "avx512f", "avx2": "avx", "fma": "avx", "sse2": "sse2", "neon": "neon", "scalar": base}
if c.get("triad_isa") != tri_isa.get(c.get("isa")):
    errs.append(f"triad_isa {c.get('triad_isa')!r} for isa {c.get('isa')!r}, want {tri_isa.get(c.get('isa'))!r}")
for kind in ("fma", "triad_dram", "triad_llc", "triad_l2", "triad_l1"):
    for r in c.get(kind) or []:
        want_isa = c.get("isa") if kind == "fma" else c.get("triad_isa")
        if r.get("isa") != want_isa:
            errs.append(f"{kind} at {r.get('threads')} threads: isa {r.get('isa')!r}, want {want_isa!r}")
llc = c.get("llc", {})
if "triad_array_bytes" in c and llc.get("bytes"):
    fits = 3 * c["triad_array_bytes"] <= llc["bytes"] * llc.get("instances", 1)
    if c.get("triad_dram_fits_llc") is not fits:
        errs.append(f"triad_dram_fits_llc {c.get('triad_dram_fits_llc')!r}, want {fits} "
                    f"(3 x {c['triad_array_bytes']} bytes against the LLC {llc})")
if (want_mb := os.environ.get("WANT_ARRAY_MB")):
    if c.get("triad_array_bytes") != int(want_mb) << 20:
        errs.append(f"--array-mb {want_mb}: triad_array_bytes {c.get('triad_array_bytes')}")
elif not llc.get("bytes", 0) > 0:
    errs.append(f"llc bytes {llc}")
elif not c.get("triad_array_bytes", 0) >= 4 * llc["bytes"] * llc.get("instances", 1):
    errs.append(f"triad arrays of {c.get('triad_array_bytes')} bytes: want >= 4x the LLC ({llc})")
for e in errs:
    print(e)
sys.exit(1 if errs else 0)
EOF
check "ceilings.json: $(python3 "$T/check_ceil.py" "$RUN/ceilings.json" 2>&1 | head -n 8 | tr '\n' ';')" \
    python3 "$T/check_ceil.py" "$RUN/ceilings.json"

# The widest FMA kernel against the scalar one, measured back to back here:
# faster by at least a quarter of its lane count (AVX-512's 16 lanes: 4x;
# fused or not, both count 2 FLOPs a lane). Catches a kernel that does not
# run vectorised; a ratio, so it holds on any machine. Up to 3 tries, as
# other load can slow either side.
cat >"$T/fma_ratio.py" <<'EOF'
import json, sys
w, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
wide, scal = w["fma"][0]["best_gflops"], s["fma"][0]["best_gflops"]
need = max(1.0, w["vector_bits"] / 32 / 4)
print(f"FMA {w['isa']} {wide:.1f} GFLOP/s, scalar {scal:.1f} GFLOP/s: {wide / scal:.1f}x "
      f"(want >= {need:g}x; try {sys.argv[3]})")
sys.exit(0 if w["isa"] == "scalar" or wide >= need * scal else 1)
EOF
fma_ratio() {
    local i
    for i in 1 2 3; do
        "$CEIL" --threads 1 --seconds 0.05 --array-mb 16 --out "$T/wide.json" 2>/dev/null || return 1
        "$CEIL" --threads 1 --seconds 0.05 --array-mb 16 --isa scalar --out "$T/scalar.json" 2>/dev/null || return 1
        python3 "$T/fma_ratio.py" "$T/wide.json" "$T/scalar.json" "$i" && return 0
    done
    return 1
}
if msg=$(fma_ratio 2>&1); then
    ok; echo "ceilings: $(tail -n1 <<<"$msg")"
else
    bad "ceilings: the widest FMA kernel is not faster than the scalar one: $(tr '\n' ';' <<<"$msg")"
fi

# ---- --array-mb below the cache roofs' working sets (4 segfaulted on x86:
# the cache roofs were calibrated on the DRAM arrays, past their end), and
# --isa applied to every figure: each ISA this CPU runs, one thread
for mb in 1 4; do
    rc=0
    "$CEIL" --threads 1 --seconds 0.02 --array-mb "$mb" --out "$T/mb$mb.json" >"$T/mb.txt" 2>&1 || rc=$?
    check "ceilings --array-mb $mb exits 0 (rc $rc): $(tail -c 300 "$T/mb.txt")" test "$rc" -eq 0
    check "ceilings --array-mb $mb: $(WANT_THREADS=1 WANT_ARRAY_MB=$mb python3 "$T/check_ceil.py" "$T/mb$mb.json" 2>&1 | head -n 8 | tr '\n' ';')" \
        env WANT_THREADS=1 WANT_ARRAY_MB=$mb python3 "$T/check_ceil.py" "$T/mb$mb.json"
    if python3 -c "import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))['triad_dram_fits_llc'] else 1)" "$T/mb$mb.json" 2>/dev/null; then
        check "ceilings --array-mb $mb warns that the DRAM triad fits the LLC" grep -q "measures a cache" "$T/mb.txt"
    fi
done
for isa in avx512f avx2 fma sse2 scalar; do
    case $isa in
        avx512f) grep -qw avx512f /proc/cpuinfo || continue ;;
        avx2) grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo || continue ;;
        fma) grep -qw avx /proc/cpuinfo && grep -qw fma /proc/cpuinfo || continue ;;
        sse2) [[ $(uname -m) == x86_64 ]] || continue ;;
    esac
    rc=0
    "$CEIL" --threads 1 --seconds 0.02 --array-mb 16 --isa "$isa" --out "$T/isa.json" >"$T/isa.txt" 2>&1 || rc=$?
    check "ceilings --isa $isa exits 0 (rc $rc): $(tail -c 300 "$T/isa.txt")" test "$rc" -eq 0
    check "ceilings --isa $isa: $(WANT_THREADS=1 WANT_ISA=$isa WANT_ARRAY_MB=16 python3 "$T/check_ceil.py" "$T/isa.json" 2>&1 | head -n 8 | tr '\n' ';')" \
        env WANT_THREADS=1 WANT_ISA=$isa WANT_ARRAY_MB=16 python3 "$T/check_ceil.py" "$T/isa.json"
    check "ceilings --isa $isa names the triads' ISA on stderr" grep -q "triad ($(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['triad_isa'])" "$T/isa.json" 2>/dev/null || echo '?'))" "$T/isa.txt"
done

# ---- the roofline from that run (it runs train_model for the step points)
PL=$T/plots/micro-run
rc=0
scripts/roofline.sh --train-steps 2 --plots "$PL" "$RUN" >"$T/roof.txt" 2>&1 || rc=$?
check "roofline.sh exits 0 (rc $rc): $(tail -c 400 "$T/roof.txt")" test "$rc" -eq 0
check "roofline.png is a PNG" bash -c "head -c 8 '$PL/roofline.png' | od -An -c | grep -q 'P   N   G'"
check "roofline.svg is an SVG" grep -q "<svg" "$PL/roofline.svg"
check "train reports at 1 and all CPUs" test -s "$RUN/train_t1.json" -a -s "$RUN/train_t$(getconf _NPROCESSORS_ONLN).json"
check "roofline.md has the ceilings" grep -q "fp32 FMA peak" "$RUN/roofline.md"
check "roofline.md has the MFU at 1 thread" grep -qE "MFU of the S training step at 1 thread: [0-9.]+%" "$RUN/roofline.md"
check "roofline.md judges the phases" grep -qE "training-step phases, compute-bound: .*; bandwidth-bound: " "$RUN/roofline.md"
check "roofline.md: the step bytes of micro and the report agree" bash -c "! grep -q 'formulas have diverged' '$RUN/roofline.md'"
check "roofline.md links the PNG" grep -q "roofline.png" "$RUN/roofline.md"
check "roofline.md has the combine against the triad at 1 thread" \
    grep -qE "combine at 1 thread: [0-9.]+ GB/s, [0-9.]+% of the DRAM triad" "$RUN/roofline.md"
check "roofline.md has the pool's step synchronisation" grep -qE "pool_step/threads:1/.* 3 barriers per step" "$RUN/roofline.md"
check "roofline.json parses" python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['kernels'] and d['train'] and d['phases']" "$RUN/roofline.json"
check "no absolute path in roofline.md" bash -c "! grep -qF '$T' '$RUN/roofline.md'"

# the per-clone table judges each clone against the ceilings of its own ISA
# (RUN/ceilings-<clone>.json, which roofline.sh --measure writes): here the
# baseline clone against SSE2's, written by hand into the same run
# (builds with clones only: in one without, the baseline is micro.json's own)
if [[ $(uname -m) == x86_64 ]] && "$MICRO" --isa-list | grep -q ',default'; then
    rc=0
    { "$CEIL" --isa sse2 --threads 1 --seconds 0.02 --array-mb 16 --out "$RUN/ceilings-default.json" &&
      CLLM_ISA=default "$MICRO" --benchmark_filter='^(layernorm_fwd|gelu_fwd|attention_fwd)/seed$' \
          --benchmark_repetitions=1 --benchmark_min_time=0.001 \
          --benchmark_out="$RUN/micro-default.json" --benchmark_out_format=json &&
      scripts/roofline.sh --plots "$PL" "$RUN"; } >"$T/clone.txt" 2>&1 || rc=$?
    check "roofline.sh with a clone's ceilings exits 0 (rc $rc): $(tail -c 300 "$T/clone.txt")" test "$rc" -eq 0
    check "the default clone's LayerNorm and GELU rows name SSE2's roofs" \
        bash -c "[[ \$(grep -cE '^\| (layernorm_fwd|gelu_fwd)/seed \| default \|.*(triad sse2|peak, sse2)' '$RUN/roofline.md') -eq 2 ]]"
    check "attention (sgemm) stays judged against the widest FMA peak in every clone" \
        bash -c "! grep -qE '^\| attention_fwd/seed \| default \|.*sse2' '$RUN/roofline.md'"
fi

# ---- bad input: usage errors exit 2
expect_rc 2 "roofline.sh --bogus" scripts/roofline.sh --bogus
expect_rc 2 "roofline.sh --reps 0" scripts/roofline.sh --measure --reps 0
expect_rc 2 "ceilings --seconds 0" "$CEIL" --seconds 0
expect_rc 2 "ceilings --isa nonsense" "$CEIL" --isa nonsense
expect_rc 2 "ceilings --threads x" "$CEIL" --threads x
expect_rc 2 "micro --bogus" "$MICRO" --bogus
expect_rc 1 "roofline.sh on a folder without micro.json" scripts/roofline.sh --plots "$T/p2" "$T"

finish
