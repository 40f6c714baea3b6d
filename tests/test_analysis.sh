#!/usr/bin/env bash
# test_analysis.sh - tests of the scaling analysis (scripts/analyze.py,
# scripts/compare.py, scripts/ci-compare.sh): the fit recovers known sigma and
# kappa from synthetic throughput with noise within its interval (one folder
# end to end, and the coverage over 20 data sets); oversubscribed points are
# excluded and said so; under 3 usable thread counts the fit is "not
# determined"; plots and report for synthetic folders with and without
# hardware counters and for a small real sweep; compare exits 1 on a synthetic
# regression and 0 on identical runs; and the CI gate (lock-free against
# locked at 2 threads) on a real sweep. Synthetic results folders come from
# the generator below. Ends with "N passed, N failed"; exits non-zero on any
# failure. Run from anywhere; BUILD picks the build folder (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${PYTHON:-/usr/bin/python3}
pass=0 fail=0
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local d=$1; shift; if "$@"; then ok; else bad "$d"; fi; }
has() { grep -qF -- "$2" "$1"; }
# pyck DESCRIPTION FOLDER EXPR: EXPR (Python, with fit = FOLDER/fit.json) is true
pyck() {
    local out
    if out=$("$PY" -c "import json,sys; fit=json.load(open(sys.argv[1])); v=fit['variants']
ok = $3
print('' if ok else 'false')" "$2/fit.json" 2>&1) && [[ -z $out ]]; then ok; else bad "$1: $out"; fi
}
# analyze DIR [ARGS]: runs the analysis, plots into $T/plots/<name>; rc in $rc
analyze() { local d=$1; shift; rc=0; scripts/analyze.py "$d" --plots-dir "$T/plots/$(basename "$d")" "$@" >"$T/out" 2>"$T/err" || rc=$?; }
plots_made() {   # plots_made NAME LIST...: every PNG (magic) and SVG there and non-empty
    local d=$T/plots/$1; shift
    for p in "$@"; do
        [[ -s $d/$p.svg && $(head -c 4 "$d/$p.png" | od -An -c | tr -d ' ') == 211PNG ]] || { echo "  no $p plot in $d"; return 1; }
    done
}

# --- the generator: meta.json + runs.jsonl with the fields bench/RESULTS.md
# gives them, tokens/s from the USL with log-normal noise
cat >"$T/gen.py" <<'EOF'
import argparse, json, os
import numpy as np
ap = argparse.ArgumentParser()
ap.add_argument("out"); ap.add_argument("--cpus", type=int, default=64)
ap.add_argument("--threads", default="1,2,4,8,16,32,48,63"); ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--sigma", type=float, default=0.03); ap.add_argument("--kappa", type=float, default=2e-4)
ap.add_argument("--locked-sigma", type=float, default=0.97); ap.add_argument("--noise", type=float, default=0.03)
ap.add_argument("--scale", type=float, default=1.0); ap.add_argument("--counters", action="store_true")
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = np.random.default_rng(a.seed)
threads = [int(t) for t in a.threads.split(",")]
usl = lambda n, s, k: n / (1 + s * (n - 1) + k * n * (n - 1))
names = ["forward", "backward", "lock_wait", "barrier_wait", "reduce", "optimizer"]
os.makedirs(a.out, exist_ok=True)
recs = []
for rep in range(a.reps):
    for n in threads:
        for v in ("lockfree", "locked"):
            s, k = (a.sigma, a.kappa) if v == "lockfree" else (a.locked_sigma, 0.0)
            over = n > a.cpus
            sp = usl(min(n, a.cpus), s, k) * (0.6 if over else 1.0)   # oversubscribed: junk the fit must skip
            tps = a.scale * 50000 * sp * float(np.exp(rng.normal(0, a.noise)))
            tokens = 64 * 20 * n
            wall = tokens / tps
            work = tokens / 50000 / n                                   # each thread's share of 1-thread work
            per = [0.55 * work, 0.35 * work, 0, 0, 0.06 * work, 0.04 * work]
            per[2 if v == "locked" else 3] = max(0.0, wall - work) * 0.9
            cnt = {"task-clock": {"value": wall * 1e9}}
            for e, val in (("cycles", 3e9 * n * wall), ("instructions", 3e9 * n * wall * (2 - 0.01 * n)),
                           ("LLC-load-misses|cache-misses", tokens * (5 + 0.5 * n))):
                cnt[e] = {"value": val} if a.counters else {"value": None, "reason": "perf_event_open: No such file or directory"}
            report = {"tool": "train_model", "variant": v, "threads": n, "scaling": "weak",
                      "config": {"name": "bench", "V": 256, "C": 64, "L": 2, "NH": 4, "F": 256, "T": 64, "B": 2},
                      "params": 120000, "steps": 20, "tokens": tokens, "tokens_per_s": tps, "wall_s": wall,
                      "phases": {"names": names, "wall_s": [[x] * n for x in per], "cpu_s": [[x] * n for x in per]},
                      "memory": {"per_thread_total": 2000000, "shared_total": 1500000}}
            recs.append({"variant": v, "threads": n, "rep": rep, "point": len(recs), "status": "ok", "exit_code": 0,
                         "signal": None, "reason": None, "wall_s": wall + 0.01, "user_s": min(n, a.cpus) * wall,
                         "sys_s": 0.001, "peak_rss_kib": (6e6 + n * 2.1e6) / 1024, "oversubscribed": over,
                         "affinity_cpus": a.cpus, "counters": cnt, "report": report, "stderr_tail": None})
with open(os.path.join(a.out, "runs.jsonl"), "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in recs)
with open(os.path.join(a.out, "meta.json"), "w") as f:
    json.dump({"tool": "scale", "format": 1, "status": "complete", "runs_ok": len(recs), "runs_failed": 0,
               "options": {"threads": threads, "variants": ["lockfree", "locked"], "reps": a.reps,
                           "config": "bench", "steps": 20, "scaling": "weak"},
               "host": {"hostname": "synthetic", "cpu_model": "synthetic", "online_cpus": a.cpus,
                        "affinity_cpus": a.cpus}}, f)
EOF
gen() { "$PY" "$T/gen.py" "$@"; }

# --- 1. known sigma, kappa on 64 CPUs, with counters: recovered within the interval
gen "$T/usl" --counters --sigma 0.03 --kappa 2e-4
analyze "$T/usl" --bootstrap 400
check "analyze exits 0 on a synthetic folder (rc $rc: $(head -c 300 "$T/err"))" test "$rc" -eq 0
check "analyze prints the report path" test "$(tail -n1 "$T/out")" = "$T/usl/REPORT.md"
pyck "lockfree USL fitted on every thread count" "$T/usl" "v['lockfree']['fits']['usl']['threads_used'] == [1,2,4,8,16,32,48,63]"
pyck "sigma 0.03 within its interval" "$T/usl" "v['lockfree']['fits']['usl']['sigma_ci'][0] <= 0.03 <= v['lockfree']['fits']['usl']['sigma_ci'][1]"
pyck "kappa 2e-4 within its interval" "$T/usl" "v['lockfree']['fits']['usl']['kappa_ci'][0] <= 2e-4 <= v['lockfree']['fits']['usl']['kappa_ci'][1]"
pyck "sigma, kappa have standard errors" "$T/usl" "v['lockfree']['fits']['usl']['sigma_se'] > 0 and v['lockfree']['fits']['usl']['kappa_se'] > 0"
pyck "locked fits sigma close to 1 (0.97 within its interval)" "$T/usl" \
    "0.9 < v['locked']['fits']['usl']['sigma'] < 1.05 and v['locked']['fits']['usl']['sigma_ci'][0] <= 0.97 <= v['locked']['fits']['usl']['sigma_ci'][1]"
pyck "Amdahl fitted too" "$T/usl" "v['lockfree']['fits']['amdahl']['determined'] and v['lockfree']['fits']['amdahl']['sigma'] > 0.03"
pyck "Karp-Flatt per thread count with an interval" "$T/usl" \
    "all(r['karp_flatt_ci'] for r in v['lockfree']['rows'] if r['threads'] > 1) and v['lockfree']['rows'][0]['karp_flatt'] is None"
pyck "17x at 63 threads contradicts 40-50x" "$T/usl" "fit['verdict']['class'] == 'contradicted'"
check "report: verdict, tables, fits" has "$T/usl/REPORT.md" "**Contradicted.**"
check "report: a table row per thread count" test "$(grep -c '^| 63 |' "$T/usl/REPORT.md")" -eq 2
check "report: no oversubscribed point" has "$T/usl/REPORT.md" "No point is oversubscribed."
check "report: counters section lists IPC" has "$T/usl/REPORT.md" "IPC"
check "five plots, PNG and SVG, counters included" plots_made usl speedup efficiency phases memory counters
check "the gnuplot scripts redraw the plots" test -s "$T/plots/usl/speedup.gp"
cp "$T/usl/fit.json" "$T/fit1.json"
analyze "$T/usl" --bootstrap 400
check "fit.json is reproducible (seeded bootstrap)" cmp -s "$T/fit1.json" "$T/usl/fit.json"

# --- 2. coverage: over 20 noisy data sets the interval holds sigma, kappa and the
# 63-thread speedup at least 16 times each (~19 expected; a wrong interval gives far fewer)
cov=$("$PY" - <<'EOF'
import sys
sys.path.insert(0, "scripts")
import analyze, numpy as np
S, K, hit = 0.03, 2e-4, [0, 0, 0]
s63 = float(analyze.usl_speedup(63, S, K))
for seed in range(20):
    g = np.random.default_rng(1000 + seed)
    data = {n: 5e4 * analyze.usl_speedup(n, S, K) * np.exp(g.normal(0, 0.03, 4)) for n in (1, 2, 4, 8, 16, 32, 63)}
    f = analyze.fit_model(data, "usl", np.random.default_rng(seed), 200)
    for i, (nm, t) in enumerate((("sigma", S), ("kappa", K), ("speedup_63", s63))):
        hit[i] += f[nm + "_ci"][0] <= t <= f[nm + "_ci"][1]
print(*hit)
EOF
)
read -r c_s c_k c_63 <<<"$cov"
check "coverage over 20 data sets: sigma $c_s, kappa $c_k, speedup_63 $c_63 of 20 (want >= 16)" \
    test "$c_s" -ge 16 -a "$c_k" -ge 16 -a "$c_63" -ge 16

# --- 3. a near-ideal lock-free (sigma 0.002) on 32 CPUs: projected above 40x, "supported"
gen "$T/good" --cpus 32 --threads 1,2,4,8,16,32 --sigma 0.002 --kappa 0 --noise 0.01
analyze "$T/good" --bootstrap 300 --no-plots
pyck "sigma 0.002 projects ~56x at 63 threads: supported" "$T/good" \
    "fit['verdict']['class'] == 'supported' and 50 < v['lockfree']['fits']['usl']['speedup_63'] < 60"
check "report says the projection is a projection" has "$T/good/REPORT.md" "projected by the USL fitted on 1, 2, 4, 8, 16, 32 threads"

# --- 4. oversubscribed points (8 CPUs, threads up to 63): shown, marked, not fitted
gen "$T/over" --cpus 8 --threads 1,2,4,8,16,32,63 --sigma 0.03 --kappa 2e-4
analyze "$T/over" --bootstrap 300
pyck "fit uses only threads <= 8 CPUs" "$T/over" "v['lockfree']['fits']['usl']['threads_used'] == [1,2,4,8]"
pyck "oversubscribed points listed as excluded" "$T/over" "v['lockfree']['excluded_oversubscribed'] == [16,32,63]"
pyck "sigma still recovered without them" "$T/over" "v['lockfree']['fits']['usl']['sigma_ci'][0] <= 0.03 <= v['lockfree']['fits']['usl']['sigma_ci'][1]"
check "report says they are excluded" has "$T/over/REPORT.md" "Excluded from every fit as oversubscribed (threads > 8 CPUs): lockfree 16, 32, 63"
check "report marks them in the table" test "$(grep -c '| \*\*over\*\* |' "$T/over/REPORT.md")" -eq 6
check "speedup plot data flags them" grep -q '^16 .* 1$' "$T/plots/over/speedup_lockfree.dat"
check "the plot has an oversubscribed legend entry" grep -q "oversubscribed (not fitted)" "$T/plots/over/speedup.gp"

# --- 5. fewer than 3 usable thread counts: "not determined", no numbers
gen "$T/two" --cpus 2 --threads 1,2,4 --sigma 0.03 --kappa 0
analyze "$T/two" --bootstrap 300
pyck "2 CPUs: fit not determined" "$T/two" "not v['lockfree']['fits']['usl']['determined'] and 'sigma' not in v['lockfree']['fits']['usl']"
pyck "2 CPUs: verdict 'not testable'" "$T/two" "fit['verdict']['class'] == 'not testable'"
check "report: not testable on this machine (2 CPUs)" has "$T/two/REPORT.md" "**Not testable on this machine (2 CPUs).**"
check "report: fit table says not determined" has "$T/two/REPORT.md" "not determined: 2 non-oversubscribed thread counts (1, 2); the fit needs at least 3"
check "report: no fitted sigma printed" bash -c "! grep -qE 'sigma = [0-9]' '$T/two/REPORT.md'"
check "plots still made without a fit" plots_made two speedup efficiency phases memory
gen "$T/few" --cpus 16 --threads 1,2 --sigma 0.03 --kappa 0
analyze "$T/few" --bootstrap 0 --no-plots
pyck "16 CPUs, 2 thread counts: 'not determined'" "$T/few" "fit['verdict']['class'] == 'not determined'"

# --- 6. hardware counters unavailable: no counters plot, the report says why
gen "$T/nocnt" --sigma 0.03 --kappa 2e-4
analyze "$T/nocnt" --bootstrap 100
check "no counters: other plots made" plots_made nocnt speedup efficiency phases memory
check "no counters: no counters plot" test ! -e "$T/plots/nocnt/counters.png"
check "no counters: the report says why" grep -q "Not available, so the counters plot was not made: .*cycles: perf_event_open: No such file or directory" "$T/nocnt/REPORT.md"

# --- 7. compare: a synthetic 15% regression fails, identical runs pass
gen "$T/base" --seed 11 --threads 1,2,4,8 --cpus 8
gen "$T/slow" --seed 12 --threads 1,2,4,8 --cpus 8 --scale 0.85
rc=0; scripts/compare.py "$T/base" "$T/slow" >"$T/out" 2>&1 || rc=$?
check "compare: 15% regression exits 1 (rc $rc)" test "$rc" -eq 1
check "compare: the regression is called slower" grep -q "^lockfree 2 .*slower" "$T/out"
check "compare: says FAIL" has "$T/out" "compare: FAIL"
rc=0; scripts/compare.py "$T/base" "$T/base" >"$T/out" 2>&1 || rc=$?
check "compare: identical runs exit 0 (rc $rc)" test "$rc" -eq 0
rc=0; scripts/compare.py "$T/base" "$T/slow" --threshold 0.3 >"$T/out" 2>&1 || rc=$?
check "compare: 15% under a 30% threshold exits 0 (rc $rc)" test "$rc" -eq 0
rc=0; scripts/compare.py "$T/base" --variants locked,lockfree --expect-faster --gate-threads 2,4,8 >"$T/out" 2>&1 || rc=$?
check "compare: one folder, lock-free faster than locked (rc $rc)" test "$rc" -eq 0
rc=0; scripts/compare.py "$T/base" --variants lockfree,locked --expect-faster --gate-threads 2 >"$T/out" 2>&1 || rc=$?
check "compare: --expect-faster fails the other way round (rc $rc)" test "$rc" -eq 1
rc=0; scripts/compare.py "$T/base" "$T/slow" --threshold 2 >"$T/out" 2>&1 || rc=$?
check "compare: bad --threshold is a usage error (rc $rc)" test "$rc" -eq 2
rc=0; scripts/compare.py "$T/nonexistent" >"$T/out" 2>&1 || rc=$?
check "compare: missing folder exits 2 naming it (rc $rc)" test "$rc" -eq 2 -a -n "$(grep nonexistent "$T/out")"
mw=$("$PY" -c "
import sys; sys.path.insert(0, 'scripts'); import compare
a = compare.mann_whitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]); b = compare.mann_whitney([1, 3, 5], [2, 4, 6])
print(round(a['p_greater'] * 252, 6), a['U'], round(b['p_two'], 4))")
check "Mann-Whitney exact: p = 1/252 for full separation of 5 and 5, U=25; U=3 of 9 p=0.7 ($mw)" test "$mw" = "1.0 25.0 0.7"

# --- 8. usage errors of analyze
rc=0; scripts/analyze.py "$T/nonexistent" >"$T/out" 2>"$T/err" || rc=$?
check "analyze: missing folder exits 1 naming it (rc $rc)" test "$rc" -eq 1 -a -n "$(grep nonexistent "$T/err")"
rc=0; scripts/analyze.py >"$T/out" 2>"$T/err" || rc=$?
check "analyze: no argument is a usage error (rc $rc)" test "$rc" -eq 2

# --- 9. a small real sweep: report and plots
if [[ -x $BUILD/scale && -x $BUILD/lockfree/train_model && -x $BUILD/locked/train_model ]]; then
    rc=0
    "$BUILD/scale" --threads 1,2 --config tiny --reps 2 --steps 5 --bin-dir "$BUILD" --out "$T/real" >"$T/scale.out" 2>&1 || rc=$?
    check "real sweep ran (rc $rc)" test "$rc" -eq 0
    analyze "$T/real" --bootstrap 200
    check "real sweep: analyze exits 0 (rc $rc: $(head -c 300 "$T/err"))" test "$rc" -eq 0
    check "real sweep: REPORT.md and fit.json" test -s "$T/real/REPORT.md" -a -s "$T/real/fit.json"
    check "real sweep: plots" plots_made real speedup efficiency phases memory
    cpus=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['host']['affinity_cpus'])" "$T/real/meta.json")
    if ((cpus <= 2)); then
        check "real sweep on $cpus CPUs: not testable, said so" has "$T/real/REPORT.md" "Not testable on this machine ($cpus CPU"
    else
        check "real sweep on $cpus CPUs: 2 thread counts, not determined" has "$T/real/REPORT.md" "**Not determined.**"
    fi
    pyck "real sweep: counters plot made exactly when counters were available" "$T/real" \
        "fit['counters']['available'] == fit['counters_plot_made']"
    check "real sweep: report has the lock-free against locked table" has "$T/real/REPORT.md" "candidate lockfree against baseline locked"
else
    bad "$BUILD/scale or $BUILD/{lockfree,locked}/train_model not built"
fi

# --- 10. the CI gate: lock-free beats locked at 2 threads (timings: plain build only)
if [[ $BUILD == build && -x build/scale ]]; then
    rc=0
    scripts/ci-compare.sh >"$T/gate.out" 2>&1 || rc=$?
    sed 's/^/  gate | /' "$T/gate.out"
    check "ci-compare.sh passes or says why it cannot tell (rc $rc)" test "$rc" -eq 0
    check "ci-compare.sh prints the comparison table" grep -qE '^2 +[0-9]+ +[0-9.e+]+ +[0-9]+ ' "$T/gate.out"
    check "ci-compare.sh reports the locked lock-wait share" has "$T/gate.out" "locked variant, 2 threads: lock wait is"
    check "ci-compare.sh ends with a verdict" grep -qE "^ci-compare: (PASS|SKIP|INCONCLUSIVE)" "$T/gate.out"
    # a lock-free that is serialised (the locked binary in its place) must never pass:
    # FAIL with free CPUs, INCONCLUSIVE under load (alpha 0.002: a chance pass is ~0.2%)
    mkdir -p "$T/serial/lockfree" "$T/serial/locked"
    ln -s "$PWD/build/locked/train_model" "$T/serial/lockfree/train_model"
    ln -s "$PWD/build/locked/train_model" "$T/serial/locked/train_model"
    rc=0
    CI_BIN_DIR=$T/serial CI_ATTEMPTS=1 CI_REPS=7 CI_ALPHA=0.002 scripts/ci-compare.sh >"$T/gate2.out" 2>&1 || rc=$?
    grep -E "^ci-compare: (PASS|FAIL|INCONCLUSIVE|SKIP)|CPUs free" "$T/gate2.out" | sed 's/^/  serialised gate | /'
    check "ci-compare.sh does not pass a serialised lock-free (rc $rc)" \
        grep -qE "^ci-compare: (FAIL|INCONCLUSIVE|SKIP)" "$T/gate2.out"
    check "ci-compare.sh: exit 1 exactly on FAIL (rc $rc)" test "$rc" -eq "$(grep -q '^ci-compare: FAIL' "$T/gate2.out" && echo 1 || echo 0)"
else
    echo "SKIP: the ci gate: BUILD=$BUILD is not the plain build (timings under sanitizers prove nothing)"
fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
