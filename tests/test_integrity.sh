#!/usr/bin/env bash
# test_integrity.sh - issue 21's checks of the harness and the analysis:
#   - build/scale SIGKILLed at 50 random moments of a sweep, then --resume
#     until complete: the same set of records, keyed by (variant, ranks,
#     threads, rep), as an uninterrupted sweep, none lost, none twice;
#   - a results folder at a Latin-1 path whose records hold every byte value
#     1..255 in a string (a child's stderr) and a Latin-1 argument: written as
#     valid I-JSON, read back byte for byte, analysed (scripts/analyze);
#   - --steps 1000000 and a --timeout with 13 digits survive --resume;
#   - summary.csv's speedup (C) equal to the analysis's (Python), inside its
#     interval and its range;
#   - --pin bounded alike in scale and train_model;
#   - every field a record carries (wall, user, sys, peak RSS, context
#     switches, the task-clock and page-fault counters) against the child's
#     own getrusage of the same run (tests/self_measure.py);
#   - the Python side (tests/integrity_checks.py): the speedup inside its
#     own interval, the rank metric, the strict reader, the atomic writer,
#     check.py failing a test that checked nothing.
# The sweeps run `true` and a tiny script through --command: seconds, and no
# figure depends on this machine's speed. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/scale_common.sh    # BUILD SCALE PY T, check.sh, run, expect_fail
check_built test_integrity "$SCALE" "$BUILD/train_model"

# --- the Python side ---------------------------------------------------------------
if out=$("$PY" tests/integrity_checks.py 2>&1); then ok; else bad "tests/integrity_checks.py failed"; fi
echo "$out" | grep -E "^(FAIL|issue)" || true

# keys FILE: the sorted (variant, ranks, threads, rep) of runs.jsonl, one a line
keys() {
    "$PY" - "$1" <<'EOF'
import sys
sys.path.insert(0, "scripts")
from cllm_analysis import ijson
recs = [r for _, r in ijson.load_lines(sys.argv[1]) if isinstance(r, dict)]
for k in sorted((r["variant"], r.get("ranks", 1), r["threads"], r["rep"]) for r in recs):
    print(*k)
EOF
}

# --- SIGKILL at 50 random moments, then --resume -------------------------------------
SWEEP=(--threads 1,2 --reps 3 --work 1 --command "a=true" --command "b=true" --timeout 30)
t0=$(date +%s%N)
run "${SWEEP[@]}" --out "$T/ref"
t1=$(date +%s%N)
check "the uninterrupted sweep exits 0 (rc $rc)" test "$rc" -eq 0
keys "$T/ref/runs.jsonl" >"$T/ref.keys"
check "the uninterrupted sweep has 12 records" test "$(wc -l <"$T/ref.keys")" -eq 12
dur_ms=$(((t1 - t0) / 1000000 * 9 / 10 + 1))    # kills inside the sweep, most of them
RANDOM=21
landed=0 before=0 same=0 lost=0 twice=0 noresume=0
KILLS=50
if [[ $BUILD != build ]]; then      # a sanitizer build: the plain suite makes the 50 kills
    skip "SIGKILL at 50 moments: run on the plain build only (BUILD=$BUILD); 5 here"
    KILLS=5
fi
for i in $(seq "$KILLS"); do
    D=$T/k$i
    "$SCALE" "${SWEEP[@]}" --out "$D" >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '0.%03d' $((RANDOM % dur_ms % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then landed=$((landed + 1)); fi
    wait "$pid" 2>/dev/null || true
    if [[ ! -s $D/meta.json ]]; then before=$((before + 1)); continue; fi
    tries=0
    until "$SCALE" --resume "$D" >/dev/null 2>"$T/resume.err"; do
        tries=$((tries + 1))
        if ((tries == 3)); then noresume=$((noresume + 1)); echo "resume $i: $(head -c 300 "$T/resume.err")"; break; fi
    done
    keys "$D/runs.jsonl" >"$T/got.keys"
    if cmp -s "$T/ref.keys" "$T/got.keys"; then same=$((same + 1)); else
        [[ -n $(comm -23 "$T/ref.keys" <(sort -u "$T/got.keys")) ]] && lost=$((lost + 1))
        [[ $(sort -u "$T/got.keys" | wc -l) -ne $(wc -l <"$T/got.keys") ]] && twice=$((twice + 1))
    fi
    rm -rf "$D"
done
echo "SIGKILL: $landed of $KILLS kills landed while scale ran, $before before meta.json; resumed folders with" \
     "the same records $same, with a record lost $lost, with one twice $twice, resume refused $noresume"
check "every resumed folder holds the same records as the uninterrupted sweep ($same of $((KILLS - before)))" \
    test "$same" -eq $((KILLS - before))
check "no record lost ($lost) or twice ($twice), no resume refused ($noresume)" \
    test $((lost + twice + noresume)) -eq 0

# --- a Latin-1 results folder and every byte in a record ------------------------------
L1=$T/$'r\xe9sultats'
mkdir -p "$L1"
"$PY" - "$L1/bytes" <<'EOF'
import os, sys
open(sys.argv[1], "w").write("#!/bin/sh\nexec /usr/bin/python3 -c 'import sys; sys.stderr.buffer.write(bytes(range(1, 256))); "
                             "sys.exit(1)' \"$@\"\n")
os.chmod(sys.argv[1], 0o755)
EOF
D=$L1/$'sweep-\xe9t\xe9'
run --threads 1,2 --reps 2 --work 1 --command "a=true" --command "b=$L1/bytes "$'\xff\xe9' --out "$D"
check "the sweep at a Latin-1 path ran (rc $rc: the failing command makes it 0 or 1)" test "$rc" -le 1
check "meta.json and runs.jsonl are valid UTF-8 I-JSON" "$PY" - "$D" <<'EOF'
import os, sys
sys.path.insert(0, "scripts")
from cllm_analysis import ijson
d = sys.argv[1]
ijson.load_file(os.path.join(d, "meta.json"))
bad = [e for _, e in ijson.load_lines(os.path.join(d, "runs.jsonl")) if isinstance(e, Exception)]
sys.exit(print(bad) or 1 if bad else 0)
EOF
check "a record's stderr tail holds every byte 1..255, read back exactly" "$PY" - "$D" <<'EOF'
import os, sys
sys.path.insert(0, "scripts")
from cllm_analysis import ijson
recs = [r for _, r in ijson.load_lines(os.path.join(sys.argv[1], "runs.jsonl"))]
tails = [os.fsencode(r.get("stderr_tail") or "") for r in recs if r["variant"] == "b"]
sys.exit(0 if tails and all(bytes(range(1, 256)) in t for t in tails) else print([t[:80] for t in tails]) or 1)
EOF
check "the C writer and the Python writer give the same text for every byte 1..255" "$PY" - "$D" <<'EOF'
import json, os, sys
sys.path.insert(0, "scripts")
from cllm_analysis import ijson
want = '"stderr_tail":' + json.dumps(ijson.encode_str(bytes(range(1, 256))), ensure_ascii=False)
lines = open(os.path.join(sys.argv[1], "runs.jsonl"), encoding="utf-8").read().splitlines()
sys.exit(0 if any(want in l for l in lines if '"variant":"b"' in l) else 1)
EOF
check "the Latin-1 argument and path come back byte for byte" "$PY" - "$D" <<'EOF'
import os, sys
sys.path.insert(0, "scripts")
from cllm_analysis import ijson
m = ijson.load_file(os.path.join(sys.argv[1], "meta.json"))
t = [os.fsencode(c["template"]) for c in m["options"]["commands"] if c["name"] == "b"][0]
sys.exit(0 if b"r\xe9sultats/bytes" in t and b"\xff\xe9" in t else print(t) or 1)
EOF
rc=0
scripts/analyze "$D" --no-plots --bootstrap 0 >"$T/an.out" 2>&1 || rc=$?
check "scripts/analyze reads the Latin-1 folder (rc $rc: $(tail -c 300 "$T/an.out"))" test "$rc" -eq 0

# --- the speedup: one quantity in summary.csv (C) and the analysis (Python) -----------
fake_bins "$T/bin"
mkdir -p "$T/reps"
FAKE_SLEEP=0.01 FAKE_REPS_DIR=$T/reps run --threads 1,2 --reps 4 --variants lockfree --bin-dir "$T/bin" --out "$T/sp"
check "the fake sweep ran (rc $rc)" test "$rc" -eq 0
rc=0
scripts/analyze "$T/sp" --no-plots --bootstrap 0 >"$T/an.out" 2>&1 || rc=$?
check "scripts/analyze of the fake sweep (rc $rc)" test "$rc" -eq 0
check "summary.csv's speedup (C) is the analysis's figure, inside its interval and range" "$PY" - "$T/sp" <<'EOF'
import csv, json, os, sys
d = sys.argv[1]
fit = json.load(open(os.path.join(d, "fit.json")))
py = {r["threads"]: r for r in fit["variants"]["lockfree"]["rows"]}
c = {int(r["threads"]): r for r in csv.DictReader(open(os.path.join(d, "summary.csv")))}
r, s = py[2], float(c[2]["speedup"])
ok = (abs(s - r["speedup"]) <= 1e-6 * r["speedup"] and r["speedup_ci"][0] <= r["speedup"] <= r["speedup_ci"][1]
      and float(c[2]["speedup_min"]) <= s <= float(c[2]["speedup_max"]))
sys.exit(0 if ok else print(s, r["speedup"], r["speedup_ci"], c[2]["speedup_min"], c[2]["speedup_max"]) or 1)
EOF

# --- stored options round-trip exactly -------------------------------------------------
run --threads 1 --reps 1 --steps 1000000 --timeout 12.3456789012345 --work 1 --command "a=true" --out "$T/steps"
check "a sweep with --steps 1000000 ran (rc $rc)" test "$rc" -eq 0
check "meta.json stores 1000000 as 1000000" grep -q '"steps":1000000[,}]' "$T/steps/meta.json"
run --resume "$T/steps" --steps 1000000 --timeout 12.3456789012345
check "--resume --steps 1000000 --timeout 12.3456789012345 matches the stored sweep (rc $rc: $(head -c 200 "$T/stderr"))" \
    test "$rc" -eq 0
expect_fail 2 "--steps" --resume "$T/steps" --steps 1000001

# --- every field of a record against the child's own measurement of the same run ----
# tests/self_measure.py burns ~0.25 s user and ~0.1 s system CPU, holds ~96 MiB and
# reports its own getrusage(RUSAGE_SELF): the record (wait4's rusage, the counters,
# the wall clock) must agree with it, so a swapped field or a wrong unit fails here
run --threads 1 --reps 2 --work 1 --command "m=$PY tests/self_measure.py {report}" --out "$T/fields"
check "the self-measuring sweep ran (rc $rc: $(head -c 200 "$T/stderr"))" test "$rc" -eq 0
"$PY" - "$T/fields" >"$T/fields.out" <<'EOF'
import json, os, sys
recs = [json.loads(l) for l in open(os.path.join(sys.argv[1], "runs.jsonl"))]
near = lambda a, b, rel, ab: abs(a - b) <= ab + rel * abs(b)
for r in recs:
    me, tag = r["report"]["self"], f"rep {r['rep']}"
    print(tag, "user_s", near(r["user_s"], me["user_s"], 0.05, 0.02), r["user_s"], me["user_s"])
    print(tag, "sys_s", near(r["sys_s"], me["sys_s"], 0.05, 0.02), r["sys_s"], me["sys_s"])
    print(tag, "peak_rss_kib", near(r["peak_rss_kib"], me["maxrss_kib"], 0.05, 1024), r["peak_rss_kib"],
          me["maxrss_kib"])
    # the wall clock spans the child's whole life: at least its own elapsed time and its CPU time
    print(tag, "wall_s", me["elapsed_s"] <= r["wall_s"] <= me["elapsed_s"] + 5 and
          r["wall_s"] >= 0.9 * (me["user_s"] + me["sys_s"]), r["wall_s"], me["elapsed_s"])
    print(tag, "voluntary_ctx_switches", me["nvcsw"] <= r["voluntary_ctx_switches"] <= me["nvcsw"] + 100,
          r["voluntary_ctx_switches"], me["nvcsw"])
    c = r.get("counters") or {}
    for ev, want, rel, ab, scale in (("task-clock", me["user_s"] + me["sys_s"], 0.05, 0.03, 1e-9),
                                     ("page-faults", me["minflt"] + me["majflt"], 0.1, 500, 1)):
        v = (c.get(ev) or {}).get("value")
        if v is None:
            print(tag, "SKIP", f"counters.{ev} not counted: {(c.get(ev) or {}).get('reason')}")
        else:
            print(tag, f"counters.{ev}", near(v * scale, want, rel, ab), v * scale, want)
EOF
while read -r tag rep field verdict rest; do
    case $field in
        SKIP) skip "$tag $rep: $verdict $rest" ;;
        *) check "record $tag $rep: $field agrees with the child's own measurement ($verdict $rest)" \
               test "$verdict" = True ;;
    esac
done <"$T/fields.out"
check "the field check covered 2 reps x 7 fields" test "$(wc -l <"$T/fields.out")" -eq 14

# --- --pin: one bound for scale and train_model ------------------------------------------
expect_fail 2 "below 1024" --pin 2000 --threads 1 --reps 1 --work 1 --command "a=true" --dry-run
rc=0
"$BUILD/train_model" --config tiny --steps 1 --pin 2000 >/dev/null 2>"$T/tm.err" || rc=$?
check "train_model refuses --pin 2000 with the same bound (rc $rc)" \
    bash -c "[[ $rc -ne 0 ]] && grep -q 'below 1024' '$T/tm.err'"
run --pin 1023 --threads 1 --reps 1 --work 1 --command "a=true" --dry-run
check "--pin 1023 (the last CPU number the bound allows) is accepted (rc $rc)" test "$rc" -eq 0

check_finish test_integrity
