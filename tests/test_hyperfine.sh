#!/usr/bin/env bash
# test_hyperfine.sh - tests of scripts/hyperfine.sh (make hyperfine):
#   - hyperfine's mean wall time agrees within 10% with build/scale's median
#     wall time, per point: lock-free and locked at 1 thread, config bench, at
#     least 200 steps: as many as make one run hold >= 0.5 s of CPU here,
#     calibrated first (tests/calibrate.sh), so process start-up and init
#     stay a small part of the time on any machine. On a
#     2-core machine that others share, 2-thread wall times swing by a third
#     with their load, so the points are 1-thread ones. The two tools are
#     interleaved run by run: five pairs of (build/scale --reps 1, then
#     hyperfine.sh --run into that folder, --runs 1 --warmup 0: the harness
#     run just before is the warm-up); the median over the five pairs of
#     hyperfine's time over the harness's within 10%. Two retries when a point
#     disagrees (the machine may just be busy; each try's figures are printed);
#   - hyperfine.csv's columns (with and without a harness folder), hyperfine.json
#     and hyperfine.md written; an existing hyperfine.json is not overwritten;
#   - hyperfine missing from PATH: a message that says what to install, exit 1;
#   - usage errors: exit 2.
# Run from anywhere after `make all`; ends with "N passed, N failed" and
# exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=/usr/bin/python3
H=scripts/hyperfine.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
source tests/check.sh
finish() { check_finish test_hyperfine; exit $?; }

check_built test_hyperfine "$BUILD/lockfree/train_model" "$BUILD/locked/train_model" "$BUILD/scale"
command -v hyperfine >/dev/null || { bad "hyperfine not installed: sudo apt-get install hyperfine"; finish; }

. tests/calibrate.sh

# --- 1. the files, on a tiny grid -------------------------------------------------------
rc=0
"$H" --out "$T/f" --bin-dir "$BUILD" --threads 1,2 --variants lockfree,locked --config tiny --steps 2 --runs 2 \
    >"$T/out" 2>"$T/err" || rc=$?
check "hyperfine.sh runs (rc $rc: $(tail -n 2 "$T/err"))" [ $rc -eq 0 ]
check "hyperfine.json, hyperfine.md written" test -s "$T/f/hyperfine.json" -a -s "$T/f/hyperfine.md"
check "hyperfine.csv header" [ "$(head -n1 "$T/f/hyperfine.csv" 2>/dev/null)" = \
    "variant,threads,runs,mean_s,stddev_s,median_s,min_s,max_s,user_s,system_s,harness_wall_median_s,mean_over_harness" ]
check "hyperfine.csv: 4 points, 2 runs each, no harness beside them" "$PY" -c "
import csv, sys
rows = list(csv.DictReader(open('$T/f/hyperfine.csv')))
want = sorted((v, t) for v in ('lockfree', 'locked') for t in ('1', '2'))
sys.exit(not (sorted((r['variant'], r['threads']) for r in rows) == want
              and all(r['runs'] == '2' and float(r['mean_s']) > 0 and float(r['stddev_s']) >= 0
                      and r['harness_wall_median_s'] == 'NA' and r['mean_over_harness'] == 'NA'
                      for r in rows)))"
rc=0
"$H" --out "$T/f" --bin-dir "$BUILD" --threads 1 --variants lockfree --config tiny --steps 2 --runs 2 >/dev/null 2>&1 || rc=$?
check "refuses a folder that holds a hyperfine.json (rc $rc)" [ $rc -eq 1 ]

# --- 2. agreement with the harness, interleaved run by run ---------------------------
# the steps: calibrated to >= 0.5 s of CPU a run (never below 200)
if cal=$(calibrate_steps "$BUILD/scale" "$BUILD" bench 200 0.5 "$T"); then
    read -r steps cal_cpu <<<"$cal"
    echo "agreement: config bench, 1 thread, $steps steps (calibrated: $cal_cpu s of CPU a run)"
else
    bad "hyperfine agreement: $cal"; finish
fi
POINT=(--threads 1 --variants "lockfree,locked" --config bench --steps "$steps")
# attempt N: five (harness, hyperfine) pairs in $T/aN/1..5, then the comparison
attempt() {
    local d=$T/a$1 i
    for i in 1 2 3 4 5; do
        "$BUILD"/scale --bin-dir "$BUILD" "${POINT[@]}" --reps 1 --out "$d/$i" >/dev/null 2>"$T/err" \
            || { echo "scale failed: $(tail -n 2 "$T/err")"; return 1; }
        "$H" --run "$d/$i" --runs 1 --warmup 0 >/dev/null 2>"$T/err" \
            || { echo "hyperfine.sh failed: $(tail -n 2 "$T/err")"; return 1; }
    done
    "$PY" - "$d" <<'EOF'
import csv, statistics, sys
d = sys.argv[1]
hf, h = {}, {}
for i in '12345':
    for r in csv.DictReader(open(f'{d}/{i}/hyperfine.csv')):
        k = (r['variant'], r['threads'])
        hf.setdefault(k, []).append(float(r['mean_s']))
        # the helper columns: the harness's median beside hyperfine's mean
        assert abs(float(r['mean_s']) / float(r['harness_wall_median_s']) - float(r['mean_over_harness'])) < 1e-3
    for r in csv.DictReader(open(f'{d}/{i}/summary.csv')):
        h.setdefault((r['variant'], r['threads']), []).append(float(r['wall_median_s']))
bad, out = 0, []
for k in sorted(hf):
    # each hyperfine run beside the harness run just before it: the median of
    # the five paired ratios, so a load that comes and goes over the minute
    # the pairs take moves both members of a pair, not one tool's whole set
    ratios = [a / b for a, b in zip(hf[k], h[k])]
    dev = statistics.median(ratios) - 1
    out.append(f'{k[0]}/{k[1]}: hyperfine mean {statistics.mean(hf[k]):.3f} s, harness median '
               f'{statistics.median(h[k]):.3f} s, median paired ratio {100 * dev:+.1f}%')
    bad += abs(dev) > 0.10 or len(hf[k]) != 5 or len(h[k]) != 5
print('; '.join(out))
sys.exit(1 if bad or len(hf) != 2 else 0)
EOF
}
tries=()
for a in 1 2 3; do
    if msg=$(attempt "$a" 2>&1); then
        ok; echo "agreement: try $a: $msg${tries:+ (earlier: ${tries[*]})}"; break
    fi
    tries+=("try $a: $msg;")
    echo "agreement, try $a beyond 10%: $msg"
    [[ $a -lt 3 ]] || bad "hyperfine mean vs harness median beyond 10% in 3 tries: ${tries[*]} (load: $(cut -d' ' -f1-3 /proc/loadavg))"
done

# --- 3. hyperfine missing ---------------------------------------------------------------
mkdir -p "$T/nohf"
for x in /usr/bin/* /usr/local/bin/* /bin/*; do
    n=${x##*/}
    [[ $n == hyperfine || -e $T/nohf/$n ]] && continue
    ln -s "$x" "$T/nohf/$n" 2>/dev/null || true
done
rc=0
PATH=$T/nohf bash "$H" --bin-dir "$BUILD" --out "$T/nh" --threads 1 >/dev/null 2>"$T/nh.err" || rc=$?
check "hyperfine missing: exit 1 (rc $rc)" [ $rc -eq 1 ]
check "hyperfine missing: says to install it ($(head -c 200 "$T/nh.err"))" grep -q "apt-get install hyperfine" "$T/nh.err"
check "hyperfine missing: no run folder" test ! -e "$T/nh"

# --- 4. usage errors ----------------------------------------------------------------------
for args in "--threads 1,x" "--variants fast" "--runs 0" "--bogus" "--run $T/none"; do
    rc=0
    # shellcheck disable=SC2086
    "$H" $args >/dev/null 2>&1 || rc=$?
    check "usage error '$args': exit 2 (rc $rc)" [ $rc -eq 2 ]
done
finish
