#!/usr/bin/env bash
# test_analysis.sh - the analysis command lines end to end (scripts/analyze,
# scripts/compare, scripts/ci-compare.sh) on synthetic results folders
# (tests/analysis_synth.py) and a small real sweep: the report, fit.json and
# plots; both speedups and the step model; oversubscribed points excluded and
# said so; "not determined" / "not testable" under 3 usable thread counts;
# counters missing; strong-scaling memory; the claim box only for config
# seed; what analyze and compare refuse; compare's verdicts and exit codes
# (undecidable with 3 reps, no data, runs that differ, --help); the CI gate.
# The pure functions (coverage, R usl's coefficients, the projection) are
# checked by tests/test_analysis_py.sh. Ends with "N passed, N failed, N skipped".
# BUILD picks the build folder (default build); on a sanitizer build only the
# real sweep runs (the rest runs none of its binaries: one SKIP line).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${PYTHON:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
source tests/check.sh
has() { grep -qF -- "$2" "$1"; }
# pyck DESCRIPTION FOLDER EXPR: EXPR (Python, with fit = FOLDER/fit.json, v = its variants) is true
pyck() {
    local out
    if out=$("$PY" -c "import json,sys; fit=json.load(open(sys.argv[1])); v=fit['variants']
ok = $3
print('' if ok else 'false')" "$2/fit.json" 2>&1) && [[ -z $out ]]; then ok; else bad "$1: $out"; fi
}
# analyze DIR [ARGS]: runs the analysis, plots into $T/plots/<name>; rc in $rc
analyze() { local d=$1; shift; rc=0; scripts/analyze "$d" --plots-dir "$T/plots/$(basename "$d")" "$@" >"$T/out" 2>"$T/err" || rc=$?; }
plots_made() {   # plots_made NAME LIST...: every PNG (magic) and SVG there and non-empty
    local d=$T/plots/$1; shift
    for p in "$@"; do
        [[ -s $d/$p.svg && $(head -c 4 "$d/$p.png" | od -An -c | tr -d ' ') == 211PNG ]] || { echo "  no $p plot in $d"; return 1; }
    done
}
gen() { "$PY" tests/analysis_synth.py "$@"; }
cmp_rc() { rc=0; scripts/compare "$@" >"$T/out" 2>&1 || rc=$?; }

# --- 0. a small real sweep on BUILD's binaries: the same region at every N, report and plots
if [[ -x $BUILD/scale && -x $BUILD/lockfree/train_model && -x $BUILD/locked/train_model ]]; then
    rc=0
    "$BUILD/scale" --threads 1,2 --config tiny --reps 2 --steps 5 --bin-dir "$BUILD" --out "$T/real" >"$T/scale.out" 2>&1 || rc=$?
    check "real sweep ran (rc $rc)" test "$rc" -eq 0
    analyze "$T/real" --bootstrap 100
    check "real sweep: analyze exits 0 (rc $rc: $(head -c 300 "$T/err"))" test "$rc" -eq 0
    check "real sweep: REPORT.md and fit.json" test -s "$T/real/REPORT.md" -a -s "$T/real/fit.json"
    check "real sweep: plots" plots_made real speedup efficiency phases memory
    check "real sweep: children run with --eval-batches 0" grep -q '"--eval-batches","0"' "$T/real/runs.jsonl"
    check "real sweep: OPENBLAS_NUM_THREADS=1 recorded for the children" grep -q '"child_env":{"OPENBLAS_NUM_THREADS":"1"}' "$T/real/meta.json"
    pyck "real sweep: CPU utilisation of the timed steps at every N" "$T/real" \
        "all(r['cpu_util_timed'] is not None for r in v['lockfree']['rows'])"
    cpus=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['host']['affinity_cpus'])" "$T/real/meta.json")
    if ((cpus <= 2)); then
        check "real sweep on $cpus CPUs: not testable, said so" has "$T/real/REPORT.md" "Not testable on this machine ($cpus CPU"
    else
        pyck "real sweep on $cpus CPUs: tiny is not the claim's config" "$T/real" "fit['verdict']['class'] == \"not the claim's config\""
    fi
    pyck "real sweep: counters plot made exactly when counters were available" "$T/real" \
        "fit['counters']['available'] == fit['counters_plot_made']"
    check "real sweep: report has the lock-free against locked table" has "$T/real/REPORT.md" "candidate lockfree against baseline locked"
else
    bad "$BUILD/scale or $BUILD/{lockfree,locked}/train_model not built"
fi

# Everything below but the CI gate is the analysis alone on synthetic
# folders, pure Python that runs none of BUILD's binaries: the sanitizer
# suite (BUILD=build/asan) would only repeat it, so it stops here (the real
# sweep above ran its scale and train_model under the sanitizers).
if [[ $BUILD == *san* ]]; then
    skip "sections 1-9 and the CI gate: pure Python on synthetic folders (or timings), none of $BUILD's binaries; the plain suite runs them"
    check_finish test_analysis; exit
fi

# --- 1. USL data on 64 CPUs with counters: the step model recovers sigma, kappa; 17x contradicts 40-50x
gen "$T/usl" --counters --sigma 0.03 --kappa 2e-4
analyze "$T/usl" --bootstrap 200
check "analyze exits 0 on a synthetic folder (rc $rc: $(head -c 300 "$T/err"))" test "$rc" -eq 0
check "analyze prints the report path" test "$(tail -n1 "$T/out")" = "$T/usl/REPORT.md"
pyck "the step model is fitted on every thread count" "$T/usl" \
    "v['lockfree']['fits']['step_usl']['threads_used'] == [1,2,4,8,16,32,48,63] and v['lockfree']['fits']['step_usl']['status'] == 'fit'"
pyck "sigma 0.03 within 4 standard errors" "$T/usl" \
    "abs(v['lockfree']['fits']['step_usl']['sigma'] - 0.03) < 4 * v['lockfree']['fits']['step_usl']['sigma_se']"
pyck "kappa 2e-4 within 4 standard errors" "$T/usl" \
    "abs(v['lockfree']['fits']['step_usl']['kappa'] - 2e-4) < 4 * v['lockfree']['fits']['step_usl']['kappa_se']"
pyck "the 63-thread interval holds the true 17.3x" "$T/usl" \
    "v['lockfree']['fits']['step_usl']['speedup_target_ci'][0] <= 17.30 <= v['lockfree']['fits']['step_usl']['speedup_target_ci'][1]"
pyck "locked: sigma near 1" "$T/usl" "0.9 < v['locked']['fits']['plain_usl']['sigma'] < 1.1"
pyck "Amdahl does not fit USL data with kappa > 0 (lack of fit)" "$T/usl" \
    "v['lockfree']['fits']['step_amdahl']['status'] == 'does not fit'"
pyck "the standard estimator (R usl's) is fitted and named" "$T/usl" \
    "v['lockfree']['fits']['nls_usl']['estimator'] == 'nls' and v['lockfree']['fits']['nls_usl']['alpha'] > 0"
pyck "both speedups per thread count, with 95% intervals" "$T/usl" \
    "all(r['speedup_ci'] and r['par_speedup_ci'] for r in v['lockfree']['rows'] if r['threads'] > 1)"
pyck "CPU utilisation over the timed steps beside the process's" "$T/usl" \
    "all(r['cpu_util_timed'] and r['cpu_util_process'] for r in v['lockfree']['rows'])"
pyck "measured at 63 threads: contradicted" "$T/usl" "fit['verdict']['class'] == 'contradicted' and 'measured at 63' in fit['verdict']['basis']"
check "report: verdict" has "$T/usl/REPORT.md" "**Contradicted.**"
check "report: the claim is about the whole step" has "$T/usl/REPORT.md" "It is about the whole step's throughput"
check "report: a table row per thread count and variant" test "$(grep -c '^| 63 |' "$T/usl/REPORT.md")" -eq 2
check "report: the standard estimator named" has "$T/usl/REPORT.md" "**The standard estimator** (R usl's"
check "report: the coverage of the 95% label" has "$T/usl/REPORT.md" "hold the true value at least 93% of the time"
check "report: no point is oversubscribed" has "$T/usl/REPORT.md" "No point is oversubscribed."
check "report: counters section lists IPC" has "$T/usl/REPORT.md" "IPC"
check "five plots, PNG and SVG, counters included" plots_made usl speedup efficiency phases memory counters
check "the claim box on a seed sweep to 63 threads" grep -q "58,40 to 68,50" "$T/plots/usl/speedup.gp"
check "the Karp-Flatt targets as one band with one key entry" test "$(grep -c 'band: e for 50x' "$T/plots/usl/efficiency.gp")" -eq 1
check "the keys sit outside the plots" grep -q "set key outside" "$T/plots/usl/speedup.gp"
cp "$T/usl/fit.json" "$T/fit1.json"
analyze "$T/usl" --bootstrap 200
check "fit.json is reproducible (seeded)" cmp -s "$T/fit1.json" "$T/usl/fit.json"

# --- 2. a near-ideal lock-free (sigma 0.002) on 32 CPUs: projected above 40x by the step model
gen "$T/good" --cpus 32 --threads 1,2,4,8,16,32 --sigma 0.002 --kappa 0 --noise 0.01
analyze "$T/good" --bootstrap 0 --no-plots
pyck "sigma 0.002 projects above 50x at 63 threads: supported" "$T/good" \
    "fit['verdict']['class'] == 'supported' and 50 < v['lockfree']['fits']['step_usl']['speedup_target'] < 63"
check "report says the 63-thread figure is the model's" has "$T/good/REPORT.md" "projected by the step model (USL with the amortisation term) fitted on 1, 2, 4, 8, 16, 32 threads"
pyck "a parameter at its bound 0 has no standard error" "$T/good" \
    "all(v['lockfree']['fits']['step_usl'][p + '_se'] is None for p in v['lockfree']['fits']['step_usl']['at_lower_bound'])"
pyck "no zero-width interval at the bound" "$T/good" \
    "v['lockfree']['fits']['step_usl']['speedup_target_ci'][1] > v['lockfree']['fits']['step_usl']['speedup_target_ci'][0]"

# --- 3. superlinear weak scaling (the optimizer amortised, a = 0.15): no false verdict, the term written out
gen "$T/amort" --cpus 16 --threads 1,2,4,8,16 --sigma 0.02 --kappa 2e-4 --amort 0.15 --noise 0.02
analyze "$T/amort" --bootstrap 0 --no-plots
pyck "a measured from the phases (0.15)" "$T/amort" "abs(v['lockfree']['fits']['amortised_share'] - 0.15) < 0.01"
pyck "superlinear at 2 threads (Karp-Flatt < 0)" "$T/amort" \
    "[r for r in v['lockfree']['rows'] if r['threads'] == 2][0]['karp_flatt'] < 0"
pyck "without the amortisation term the USL does not fit" "$T/amort" "v['lockfree']['fits']['plain_usl']['status'] == 'does not fit'"
pyck "the step model fits and is not 'supported' (true 12.9x)" "$T/amort" \
    "v['lockfree']['fits']['step_usl']['status'] == 'fit' and fit['verdict']['class'] == 'contradicted'"
check "report: the amortisation term written out" has "$T/amort/REPORT.md" "a step costs (1 - a) D(N) + a/N of the 1-thread step"

# --- 4. oversubscribed points (8 CPUs, threads up to 63): shown, marked, not fitted
gen "$T/over" --cpus 8 --threads 1,2,4,8,16,32,63 --sigma 0.03 --kappa 2e-4
analyze "$T/over" --bootstrap 0
pyck "fit uses only threads <= 8 CPUs" "$T/over" "v['lockfree']['fits']['step_usl']['threads_used'] == [1,2,4,8]"
pyck "oversubscribed points listed as excluded" "$T/over" "v['lockfree']['excluded_oversubscribed'] == [16,32,63]"
check "report says they are excluded" has "$T/over/REPORT.md" "Excluded from every fit as oversubscribed (threads > 8 CPUs): lockfree 16, 32, 63"
check "report marks them in the tables" test "$(grep -c '| \*\*over\*\* |' "$T/over/REPORT.md")" -eq 6
check "speedup plot data flags them" grep -q '^16 .* 1 ' "$T/plots/over/speedup_lockfree.dat"

# --- 5. fewer than 3 usable thread counts: "not determined", no numbers
gen "$T/two" --cpus 2 --threads 1,2,4 --sigma 0.03 --kappa 0 --reps 3
analyze "$T/two" --bootstrap 100
pyck "2 CPUs: fit not determined" "$T/two" "v['lockfree']['fits']['step_usl']['status'] == 'not determined' and 'sigma' not in v['lockfree']['fits']['step_usl']"
pyck "2 CPUs: verdict 'not testable'" "$T/two" "fit['verdict']['class'] == 'not testable'"
check "report: not testable on this machine (2 CPUs)" has "$T/two/REPORT.md" "**Not testable on this machine (2 CPUs).**"
check "report: not determined, and why" has "$T/two/REPORT.md" "not determined: 2 usable thread counts (1, 2); a fit needs at least 3"
check "report: no fitted sigma printed" bash -c "! grep -qE 'sigma = [0-9]' '$T/two/REPORT.md'"
check "plots still made without a fit" plots_made two speedup efficiency phases memory
check "3 reps: the variants' comparison says undecidable, never same" \
    bash -c "grep -q 'undecidable (3 reps; at least 4 needed)' '$T/two/REPORT.md' && ! grep -qE ' same( \(|\$)' '$T/two/REPORT.md'"
gen "$T/super2" --cpus 2 --threads 1,2 --sigma 0 --kappa 0 --amort 0.14 --reps 5 --noise 0.01
analyze "$T/super2" --bootstrap 0 --no-plots
pyck "superlinear on 2 CPUs: efficiency above 100%" "$T/super2" "[r for r in v['lockfree']['rows'] if r['threads'] == 2][0]['efficiency'] > 1"
check "report: no 'where the rest goes' when nothing was lost" bash -c "! grep -q 'Where the rest goes' '$T/super2/REPORT.md'"

# --- 6. hardware counters unavailable: no counters plot, the report says why
gen "$T/nocnt" --sigma 0.03 --kappa 2e-4 --config bench --threads 1,2,4,8,16,32
analyze "$T/nocnt" --bootstrap 0
check "no counters: other plots made" plots_made nocnt speedup efficiency phases memory
check "no counters: no counters plot" test ! -e "$T/plots/nocnt/counters.png"
check "no counters: the report says why" grep -q "not available, so the counters plot was not made: .*cycles: perf_event_open: No such file or directory" "$T/nocnt/REPORT.md"
pyck "config bench: the verdict is not about the claim" "$T/nocnt" "fit['verdict']['class'] == \"not the claim's config\""
check "config bench: no claim box" bash -c "! grep -q '58,40 to 68,50' '$T/plots/nocnt/speedup.gp'"
check "the x axis ends at the sweep's 32 threads" grep -q "set xrange \[0.85:36.8\]" "$T/plots/nocnt/speedup.gp"

# --- 7. strong scaling: memory point by point, no slope
gen "$T/strong" --cpus 8 --threads 1,2,4,8 --scaling strong --reps 3
analyze "$T/strong" --bootstrap 0 --no-plots
check "strong scaling: analytic total against peak RSS point by point" has "$T/strong/REPORT.md" "| variant | threads | analytic per thread MiB | analytic total MiB | peak RSS MiB | RSS - analytic MiB |"
pyck "strong scaling: no per-thread RSS slope" "$T/strong" "'measured_per_thread' not in fit['memory']['variants']['lockfree']"

# --- 8. analyze refuses what build/scale did not write; usage errors
rc=0; scripts/analyze results/reference-2core-peers --no-plots >"$T/out" 2>"$T/err" || rc=$?
check "analyze refuses a peers folder (rc $rc: $(cat "$T/err"))" test "$rc" -eq 1 -a -n "$(grep 'refusing.*peers' "$T/err")"
check "analyze wrote nothing into the refused folder" test ! -e results/reference-2core-peers/REPORT.md
rc=0; scripts/analyze "$T/nonexistent" >"$T/out" 2>"$T/err" || rc=$?
check "analyze: missing folder exits 1 naming it (rc $rc)" test "$rc" -eq 1 -a -n "$(grep nonexistent "$T/err")"
rc=0; scripts/analyze >"$T/out" 2>"$T/err" || rc=$?
check "analyze: no argument is a usage error (rc $rc)" test "$rc" -eq 2
rc=0; scripts/analyze "$T/usl" --project cores=0 >"$T/out" 2>"$T/err" || rc=$?
check "analyze: a bad --project is a usage error (rc $rc)" test "$rc" -eq 2 -a -n "$(grep 'cores=N' "$T/err")"
analyze "$T/good" --no-plots --project cores=64,dram-gbs=200
check "--project: the report shows the target, labelled a projection" has "$T/good/REPORT.md" "Projection (a model, not a measurement) for a target of 64 cores"

# --- 9. compare: verdicts and exit codes
gen "$T/base" --seed 11 --threads 1,2,4,8 --cpus 8
gen "$T/slow" --seed 12 --threads 1,2,4,8 --cpus 8 --scale 0.85
cmp_rc "$T/base" "$T/slow"
check "compare: 15% regression exits 1 (rc $rc)" test "$rc" -eq 1
check "compare: the regression is called slower" grep -q "^lockfree 2 .*slower" "$T/out"
check "compare: says FAIL" has "$T/out" "compare: FAIL"
cmp_rc "$T/base" "$T/base"
check "compare: identical runs exit 0 (rc $rc)" test "$rc" -eq 0
check "compare: identical runs are equivalent, not 'same'" bash -c "grep -q 'equivalent (within +-5%)' '$T/out' && ! grep -qE ' same( \(|\$)' '$T/out'"
cmp_rc "$T/base" "$T/slow" --threshold 0.3
check "compare: 15% under a 30% threshold exits 0 (rc $rc)" test "$rc" -eq 0
cmp_rc "$T/base" --variants locked,lockfree --expect-faster --gate-threads 2,4,8
check "compare: one folder, lock-free faster than locked (rc $rc)" test "$rc" -eq 0
cmp_rc "$T/base" --variants lockfree,locked --expect-faster --gate-threads 2
check "compare: --expect-faster fails the other way round (rc $rc)" test "$rc" -eq 1
cmp_rc "$T/base" "$T/slow" --threshold 2
check "compare: bad --threshold is a usage error (rc $rc)" test "$rc" -eq 2
cmp_rc "$T/nonexistent"
check "compare: missing folder exits 2 naming it (rc $rc)" test "$rc" -eq 2 -a -n "$(grep nonexistent "$T/out")"
cmp_rc "$T/two" --variants locked,lockfree --expect-faster --gate-threads 2
check "compare: 3 reps: undecidable, exit 3 (rc $rc)" test "$rc" -eq 3
check "compare: 3 reps: says how many are needed" has "$T/out" "undecidable (3 reps; at least 4 needed)"
gen "$T/other" --seed 13 --threads 1,2,4,8 --cpus 8 --config bench
cmp_rc "$T/base" "$T/other"
check "compare: refuses runs of different configs (rc $rc)" test "$rc" -eq 2 -a -n "$(grep 'config: seed against bench' "$T/out")"
gen "$T/othermachine" --seed 14 --threads 1,2,4,8 --cpus 8 --host elsewhere
cmp_rc "$T/base" "$T/othermachine"
check "compare: refuses runs of different machines (rc $rc)" test "$rc" -eq 2 -a -n "$(grep 'CPU model' "$T/out")"
cmp_rc "$T/base" "$T/other" --allow-different
check "compare: --allow-different flags the difference (rc $rc)" grep -q "^WARNING: the runs differ in config: seed against bench" "$T/out"
"$PY" - "$T/base" "$T/nodata" <<'EOF'
import json, os, shutil, sys
src, dst = sys.argv[1:]
os.makedirs(dst, exist_ok=True)
shutil.copy(os.path.join(src, "meta.json"), dst)
with open(os.path.join(src, "runs.jsonl")) as f, open(os.path.join(dst, "runs.jsonl"), "w") as g:
    for line in f:
        r = json.loads(line)
        r.update(status="failed", reason="exit code 1", report=None)
        g.write(json.dumps(r) + "\n")
EOF
cmp_rc "$T/nodata" --variants locked,lockfree --gate-threads 2,4
check "compare: no data on any gated row exits 1 (rc $rc)" test "$rc" -eq 1
check "compare: no data is not 'ok'" bash -c "grep -q 'NO DATA' '$T/out' && ! grep -q 'compare: ok' '$T/out'"
COLUMNS=300 scripts/compare --help >"$T/help" 2>&1
check "compare --help documents every option" bash -c "for o in threshold alpha expect-faster gate-threads allow-different metric; do grep -qE -- \"--\$o.*[a-z]{4}\" '$T/help' || exit 1; done"
check "compare --help documents the exit codes" grep -q "3 undecidable" "$T/help"

# --- 11. the CI gate: lock-free beats locked at 2 threads (timings: plain build only)
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
    rc=0
    CI_REPS=3 scripts/ci-compare.sh >"$T/gate3.out" 2>&1 || rc=$?
    check "ci-compare.sh refuses a rep count that cannot reach alpha (rc $rc)" \
        test "$rc" -eq 2 -a -n "$(grep 'cannot reach' "$T/gate3.out")"
else
    skip "the ci gate: BUILD=$BUILD is not the plain build (timings under sanitizers prove nothing)"
fi

check_finish test_analysis
