#!/usr/bin/env bash
# ci-compare.sh - the CI gate on locked against lock-free: a small interleaved
# sweep of both variants at 1 and 2 threads (build/scale, config tiny), then
# scripts/compare.py on the 2-thread point. Passes when compare calls the
# lock-free variant's 2-thread throughput "faster" than the locked one's:
# more than 5% faster, one-sided Mann-Whitney p < 0.05 (5 reps each: all but
# at most 4 of the 25 pairs in lock-free's favour) and the 95% Welch interval
# of the ratio above 1. Prints the comparison table, the phase shares and the
# locked variant's lock-wait share at 2 threads.
#
# Why this fact is robust on a noisy 2-core machine: the locked variant holds
# a lock around forward+backward, so at 2 threads it runs them one at a time
# (a throughput near 1 thread's) while lock-free runs them side by side (about
# 1.9x with 2 free CPUs). It needs 2 free CPUs, so the gate also measures them:
# - fewer than 2 CPUs in the affinity mask (meta.json): SKIP, exit 0;
# - not faster while other processes kept the CPUs busy (from /proc/stat over
#   the sweep, minus the sweep's own CPU time, fewer than 1.8 CPUs were left;
#   the load comes in bursts, so an average of 1.5 free can still hit the
#   2-thread lock-free runs hard):
#   retry, and after CI_ATTEMPTS tries INCONCLUSIVE, exit 0 (1 with CI_STRICT=1);
# - not faster with the CPUs free: FAIL, exit 1.
# A pass on any attempt passes (so 3 tries raise the false-pass rate a little).
#
#   scripts/ci-compare.sh          (after make all; takes no arguments; --help prints this)
#
# The run length is calibrated, not assumed: the steps of config tiny are
# raised from 300 until one 1-thread run holds CI_CPU_S (0.3) s of CPU
# (tests/calibrate.sh), so a faster machine runs more steps, not shorter runs.
#
# Environment: BUILD (default build), CI_BIN_DIR (train_model's folder for
# scale --bin-dir, default $BUILD), CI_STEPS (fixed steps: no calibration),
# CI_CPU_S (0.3), CI_REPS (5), CI_ALPHA
# (0.05), CI_MIN_FREE (1.8 CPUs), CI_ATTEMPTS (3), CI_STRICT (0), CI_KEEP=DIR
# (keep the run folders there).
# Exit: 0 pass / skip / inconclusive, 1 fail, 2 setup error (binaries missing,
# or CI_REPS too few for the exact test to reach CI_ALPHA at all).
#
# Why INCONCLUSIVE exits 0 on a busy machine: CI runs on a shared 2-vCPU VM
# whose neighbours and steal time come and go. A gate that fails for their
# load would fail for reasons no commit caused and would soon be ignored,
# while a serialised lock-free with free CPUs still fails (tests/test_analysis.sh
# checks both); the INCONCLUSIVE line is printed into the CI log, and
# CI_STRICT=1 (a dedicated runner) makes it a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
case ${1:-} in
    '') ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ci-compare.sh: unknown option '$1' (it takes none; see scripts/ci-compare.sh --help)" >&2; exit 2 ;;
esac
BUILD=${BUILD:-build}
STEPS=${CI_STEPS:-}
REPS=${CI_REPS:-5}
ATTEMPTS=${CI_ATTEMPTS:-3}
ALPHA=${CI_ALPHA:-0.05}
MIN_FREE=${CI_MIN_FREE:-1.8}
BIN=${CI_BIN_DIR:-$BUILD}
PY=${PYTHON:-/usr/bin/python3}
[[ -x $BUILD/scale && -x $BIN/lockfree/train_model && -x $BIN/locked/train_model ]] ||
    { echo "ci-compare: $BUILD/scale and $BIN/{lockfree,locked}/train_model must be built (make all)" >&2; exit 2; }
# the rep count must let the exact test reach alpha at all, or no run could pass
"$PY" -c "
import sys; sys.path.insert(0, 'scripts')
from cllm_analysis import stats
r, a = int(sys.argv[1]), float(sys.argv[2])
if stats.min_one_sided_p(r, r) >= a:
    sys.exit(f'ci-compare: CI_REPS={r} cannot reach alpha {a}: the smallest p of {r} against {r} reps is '
             f'{stats.min_one_sided_p(r, r):.3g}; at least {stats.reps_needed(a)} reps are needed')" "$REPS" "$ALPHA" || exit 2
if [[ -n ${CI_KEEP:-} ]]; then tmp=$CI_KEEP; mkdir -p "$tmp"; else tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; fi
if [[ -z $STEPS ]]; then
    source tests/calibrate.sh
    cal=$(calibrate_steps "$BUILD/scale" "$BIN" tiny 300 "${CI_CPU_S:-0.3}" "$tmp") ||
        { echo "ci-compare: FAIL: $cal"; exit 1; }
    STEPS=${cal%% *}
    echo "ci-compare: calibrated: $STEPS steps of config tiny hold ${cal#* } s of CPU at 1 thread (target ${CI_CPU_S:-0.3} s)"
fi

# CPU seconds spent so far on the CPUs of our affinity mask (all processes)
cpu_busy() {
    "$PY" -c '
import os
cpus, busy = os.sched_getaffinity(0), 0
for line in open("/proc/stat"):
    f = line.split()
    if f[0].startswith("cpu") and f[0] != "cpu" and int(f[0][3:]) in cpus:
        v = [int(x) for x in f[1:]] + [0] * 10
        busy += sum(v[:8]) - v[3] - v[4]      # user..steal without idle and iowait (guest is inside user)
print(busy / os.sysconf("SC_CLK_TCK"))'
}

verdict='' why=''
for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    dir=$tmp/attempt$attempt
    echo "ci-compare: attempt $attempt/$ATTEMPTS: scale --threads 1,2 --variants lockfree,locked --config tiny --reps $REPS --steps $STEPS"
    b0=$(cpu_busy); t0=$(date +%s.%N)
    rc=0
    "$BUILD/scale" --threads 1,2 --variants lockfree,locked --config tiny --reps "$REPS" --steps "$STEPS" \
        --bin-dir "$BIN" --out "$dir" >"$tmp/scale.log" 2>&1 || rc=$?
    b1=$(cpu_busy); t1=$(date +%s.%N)
    if [[ $rc -ne 0 ]]; then
        tail -n 20 "$tmp/scale.log"
        echo "ci-compare: FAIL: the sweep failed (scale exit $rc)"
        exit 1
    fi
    # CPUs left to the sweep: affinity CPUs minus what other processes used meanwhile
    read -r cpus free secs lockwait < <("$PY" - "$dir" "$b0" "$b1" "$t0" "$t1" <<'EOF'
import sys
sys.path.insert(0, "scripts")
from cllm_analysis import compare, runs
d, b0, b1, t0, t1 = sys.argv[1], *map(float, sys.argv[2:])
run = runs.load_folder(d)
ours = sum(r.get("user_s", 0) + r.get("sys_s", 0) for r in run["records"])
others = max(0.0, (b1 - b0) - ours) / max(t1 - t0, 1e-9)
cpus = run["cpus"] or 0
ph = compare.phase_shares(run, "locked", 2)
print(cpus, f"{cpus - others:.2f}", f"{t1 - t0:.1f}", f"{ph['lock_wait']:.1%}" if ph else "NA")
EOF
)
    if ((cpus < 2)); then
        echo "ci-compare: SKIP: the affinity mask has $cpus CPU (meta.json host.affinity_cpus): 2 threads cannot run side by side here, so lock-free cannot beat locked; not a failure"
        exit 0
    fi
    rc=0
    scripts/compare.py "$dir" --variants locked,lockfree --gate-threads 2 --expect-faster --alpha "$ALPHA" --phases || rc=$?
    echo "ci-compare: locked variant, 2 threads: lock wait is $lockwait of its thread time"
    echo "ci-compare: CPUs free for the sweep: $free of $cpus (others' load averaged over its $secs s)"
    if [[ $rc -eq 0 ]]; then verdict=PASS; why="lock-free beats locked at 2 threads with significance"; break; fi
    if [[ $rc -eq 3 ]]; then echo "ci-compare: FAIL: compare found the point undecidable (failed reps?)"; exit 1; fi
    if [[ $rc -ne 1 ]]; then echo "ci-compare: FAIL: compare.py exited $rc"; exit 1; fi
    if "$PY" -c "import sys; sys.exit(0 if $free < $MIN_FREE else 1)"; then
        [[ $verdict == FAIL ]] || verdict=INCONCLUSIVE
        why="other processes left only $free of $cpus CPUs free during the sweep"
    else
        verdict=FAIL; why="lock-free is not faster than locked at 2 threads with significance although $free of $cpus CPUs were free"
    fi
    echo "ci-compare: attempt $attempt: $verdict ($why)"
done
case $verdict in
    PASS) echo "ci-compare: PASS: $why"; exit 0 ;;
    FAIL) echo "ci-compare: FAIL: $why (in at least one of $ATTEMPTS attempts)"; exit 1 ;;
    *) if [[ ${CI_STRICT:-0} != 0 ]]; then
           echo "ci-compare: INCONCLUSIVE: $why in all $ATTEMPTS attempts; CI_STRICT is set: failing"; exit 1
       fi
       echo "ci-compare: INCONCLUSIVE: $why in all $ATTEMPTS attempts; not a failure (CI_STRICT=1 makes it one)"
       exit 0 ;;
esac
