#!/usr/bin/env bash
# test_progress.sh - build/scale's output when stderr is not a terminal: one
# plain "scale: [k/n] ... elapsed ... ETA ..." line per finished point, none
# with --quiet; --reps-over N runs N repetitions of the oversubscribed points
# only (meta.json reps_oversubscribed, status complete) and --steps-over N
# runs N steps there only (meta.json steps_oversubscribed; --resume takes it
# and refuses another; bad values exit 2; the report's sweep line says both;
# scripts/bench_estimate.py counts each point's steps); --trace keeps the
# trace of rep 0 at 1 thread and at the largest non-oversubscribed count,
# and the analysis draws plots/<run>/timeline.png from them, linked from
# REPORT.md. Ends with "test_progress: N passed, N failed, N skipped".
# test-timeout: 120
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/scale_common.sh    # BUILD SCALE PY T, check.sh
check_built test_progress "$SCALE" "$BUILD/lockfree/train_model" "$BUILD/topo"
# the usable CPUs scale judges oversubscription by (core/machine.c, via build/topo)
usable=$("$BUILD/topo" | $PY -c 'import json, sys; print(json.load(sys.stdin)["usable_cpus"])')
over=$((usable + 1))
BASE=(--bin-dir "$BUILD" --config tiny --steps 3 --variants lockfree)

# stderr a pipe: a plain line per finished point
"$SCALE" "${BASE[@]}" --threads 1 --reps 2 --out "$T/a" 2>&1 >/dev/null | cat >"$T/a.err"
check "two plain progress lines on a pipe ($(head -c 300 "$T/a.err"))" \
    test "$(grep -cE '^scale: \[[12]/2\] lockfree 1 threads rep [01] done in [0-9.]+s  elapsed [0-9]+s  ETA [0-9]+s$' "$T/a.err")" -eq 2
check "no terminal control characters on a pipe" bash -c "! grep -q $'\\r' '$T/a.err'"
"$SCALE" "${BASE[@]}" --threads 1 --reps 2 --quiet --out "$T/q" 2>&1 >/dev/null | cat >"$T/q.err"
check "--quiet: no progress line" bash -c "! grep -q '^scale: \[' '$T/q.err'"

# --reps-over, --steps-over: fewer repetitions and steps where oversubscribed, said in meta.json
"$SCALE" "${BASE[@]}" --threads "1,$over" --reps 3 --reps-over 1 --steps-over 2 --quiet --trace --out "$T/o" >/dev/null 2>&1 || true
check "--reps-over 1: 3 + 1 runs" test "$(wc -l <"$T/o/runs.jsonl")" -eq 4
check "meta.json: reps_oversubscribed 1, steps_oversubscribed 2, status complete" $PY -c '
import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if m["reps_oversubscribed"]==1 and m["steps_oversubscribed"]==2 and m["status"]=="complete" and m["points_total"]==4 else 1)' "$T/o/meta.json"
check "--steps-over 2: the oversubscribed run trained 2 steps, the 1-thread ones --steps 3" $PY -c '
import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]
s=sorted((x["threads"], x["report"]["steps"]) for x in r); sys.exit(0 if s==[(1,3)]*3+[(int(sys.argv[2]),2)] else 1)' "$T/o/runs.jsonl" "$over"
"$SCALE" --resume "$T/o" --dry-run --quiet >"$T/o.dry" 2>/dev/null || true
check "--resume takes the stored --steps-over" grep -q '"--threads","'"$over"'","--steps","2"' "$T/o.dry"
rc=0; "$SCALE" --resume "$T/o" --steps-over 3 --quiet >/dev/null 2>"$T/o.err" || rc=$?
check "--resume with another --steps-over refused (exit 2, $rc)" test $rc -eq 2 -a -n "$(grep 'steps_oversubscribed 2, given null' "$T/o.err")"
rc=0; "$SCALE" --steps-over 1 --dry-run >/dev/null 2>"$T/s.err" || rc=$?
check "--steps-over 1 refused (exit 2, $rc): a warm-up and a timed step" test $rc -eq 2 -a -n "$(grep -- '--steps-over needs a step count 2' "$T/s.err")"
"$SCALE" "${BASE[@]}" --threads "1,$over" --reps 1 --steps-over 5 --dry-run >"$T/n.dry"
check "--steps-over 5 >= --steps 3: every point at --steps" test "$(grep -c '"--steps","3"' "$T/n.dry")" -eq 2
check "the report's sweep line says both" $PY -c '
import sys; sys.path.insert(0, "scripts"); from cllm_analysis import report
n = report.oversubscribed_note({"reps_oversubscribed": 2, "steps_oversubscribed": 6}, {"steps": 24})
sys.exit(0 if "2 reps: --reps-over" in n and "6 steps, not 24: --steps-over" in n and "5 timed steps" in n
         and report.oversubscribed_note({"reps_oversubscribed": None, "steps_oversubscribed": None}, {}) == "" else 1)'
# the estimate: start-up plus each point's steps at the timing run's time per step
check "bench_estimate: a point's time is start-up + its steps x the time per step" $PY -c '
import sys; sys.path.insert(0, "scripts"); import bench_estimate as be
t = (10.0, 2.0, 0.5, 16)
tm = {"command": ["train_model", "--steps", "6", "--report", "r.json"]}
sys.exit(0 if be.point_time(t, tm) == 5.0 and be.point_time(t, {"command": ["prog", "{report}"]}) == 10.0 else 1)'
fake_bins "$T/fb"
"$SCALE" --bin-dir "$T/fb" --config tiny --variants lockfree --threads "1,$over" --reps 1 --steps 4 --steps-over 2 \
    --dry-run | $PY scripts/bench_estimate.py "$usable" >"$T/est" 2>&1 || true
check "bench_estimate reads the timing run's report and each point's steps ($(head -c 300 "$T/est"))" \
    grep -qE '^about [0-9]+ min for 2 runs \(1-thread runs timed here just now: lockfree [0-9.]+ s \(4 steps\);.* by its steps \(2, 4\)' "$T/est"
check "--trace kept rep 0's trace at 1 thread" test -s "$T/o/trace-lockfree-1.json"
check "no trace of the oversubscribed point" test ! -e "$T/o/trace-lockfree-$over.json"
check "--reps-over 0 refused (exit 2)" bash -c "'$SCALE' --reps-over 0 --dry-run >/dev/null 2>&1; test \$? -eq 2"

# the timeline picture from a traced 2-thread point
if [[ $usable -ge 2 ]] && command -v gnuplot >/dev/null; then
    "$SCALE" "${BASE[@]}" --variants lockfree,locked --threads 1,2 --reps 1 --steps 6 --quiet --trace --out "$T/t" >/dev/null 2>&1
    check "traces of 1 and 2 threads, both variants" test -s "$T/t/trace-lockfree-2.json" -a -s "$T/t/trace-locked-2.json" -a -s "$T/t/trace-lockfree-1.json"
    $PY scripts/analyze.py "$T/t" --plots "$T/plots" >/dev/null 2>&1 || true
    check "timeline.png and .svg drawn" test -s "$T/plots/timeline.png" -a -s "$T/plots/timeline.svg"
    check "REPORT.md links the timeline" grep -q 'timeline.png' "$T/t/REPORT.md"
    check "the timeline has both variants' panels" grep -q "timeline_locked.dat" "$T/plots/timeline.gp"
else
    skip "timeline picture: needs 2 usable CPUs and gnuplot"
fi
check_finish test_progress
