#!/usr/bin/env bash
# test_pin_cli.sh - train_model's --pin and --phase-counters on this machine:
# bad values and CPUs outside the affinity mask exit 2 naming the flag; --pin
# LIST puts worker 0 on that CPU (bound, sched_getcpu and the affinity mask
# in the report); cores past the CPU count wraps with a warning; a synthetic
# topology in the environment is refused; no --pin leaves every worker
# unbound; per-phase counters in the report, an unavailable event with its
# reason and null counts (never 0); pinning and counting change no bit of
# the result (checkpoints compared, both variants). Ends with
# "test_pin_cli: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LF=$BUILD/lockfree/train_model
LK=$BUILD/locked/train_model
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
source tests/check.sh
# expect_rc CODE WORDS DESCRIPTION COMMAND...: exit CODE and stderr holding WORDS
expect_rc() {
    local code=$1 words=$2 d=$3 rc=0; shift 3
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc -eq $code ]] && grep -q -- "$words" "$T/err"; then ok
    else bad "$d: rc $rc (want $code), stderr: $(head -c 300 "$T/err")"; fi
}
# report FILE PYTHON-EXPR: the expression holds for r = the report
report() { /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$1"; }

RUN=(--steps 3 --quiet --eval-batches 0)
cpus=$(/usr/bin/python3 -c 'import os; print(" ".join(map(str, sorted(os.sched_getaffinity(0)))))')
last=${cpus##* }
ncpu=$(wc -w <<<"$cpus")

# --- bad values: exit 2, naming --pin
for v in x 1, ,1 3-1 '' core 1,,2; do
    expect_rc 2 "--pin" "--pin '$v'" "$LF" "${RUN[@]}" --pin "$v"
done
expect_rc 2 "CPU 1023" "--pin 1023 (no such CPU)" "$LF" "${RUN[@]}" --pin 1023
if command -v taskset >/dev/null && [[ $ncpu -ge 2 ]]; then
    first=${cpus%% *}
    expect_rc 2 "not one this process may run on" "--pin $last outside taskset -c $first" \
        taskset -c "$first" "$LF" "${RUN[@]}" --pin "$last"
else
    skip "--pin outside the affinity mask: needs taskset and 2 CPUs"
fi
expect_rc 2 "HWLOC_SYNTHETIC" "a synthetic topology cannot be bound" \
    env HWLOC_SYNTHETIC="pack:2 core:2 pu:2" "$LF" "${RUN[@]}" --pin cores
expect_rc 2 "--phase-counters" "--phase-counters nope" "$LF" "${RUN[@]}" --phase-counters nope
expect_rc 2 "--phase-counters" "--phase-counters empty" "$LF" "${RUN[@]}" --phase-counters ''

# --- --pin LIST: worker 0 on the last allowed CPU, as bound, as seen at the end
"$LF" "${RUN[@]}" --pin "$last" --report "$T/p1.json"
check "--pin $last: worker 0 bound there, ran there, mask = that CPU" report "$T/p1.json" \
    "r['pin']['mode'] == 'list' and r['pin']['workers'][0]['bound'] == $last and r['pin']['workers'][0]['cpu_end'] == $last and r['pin']['workers'][0]['affinity_end'] == '$last'"
# --- cores on every CPU, then one worker more: wrapped, warned
"$LF" "${RUN[@]}" --pin cores --threads "$ncpu" --report "$T/pc.json"
check "--pin cores at $ncpu threads: $ncpu distinct CPUs, each worker where bound" report "$T/pc.json" \
    "len({w['bound'] for w in r['pin']['workers']}) == $ncpu and all(w['cpu_end'] == w['bound'] and w['affinity_end'] == str(w['bound']) for w in r['pin']['workers']) and r['pin']['wrapped'] == 0"
expect_rc 0 "wraps around" "--pin cores at $((ncpu + 1)) threads warns" \
    "$LF" "${RUN[@]}" --pin cores --threads $((ncpu + 1)) --report "$T/pw.json"
check "--pin cores wrapped: recorded" report "$T/pw.json" "r['pin']['wrapped'] == 1 and r['pin']['workers'][-1]['bound'] == r['pin']['workers'][0]['bound']"
# --- no --pin: nothing bound, the CPU still sampled
"$LF" "${RUN[@]}" --threads 2 --report "$T/pn.json"
check "no --pin: mode none, no worker bound, each CPU sampled" report "$T/pn.json" \
    "r['pin']['mode'] == 'none' and all(w['bound'] is None and w['cpu_end'] is not None for w in r['pin']['workers'])"

# --- per-phase counters in the report
"$LF" "${RUN[@]}" --threads 2 --phase-counters task-clock,page-faults,context-switches,cycles --report "$T/ev.json"
check "phase_counters: 4 events x every phase x 2 workers, task-clock counted in forward" report "$T/ev.json" \
    "len(r['phase_counters']['events']) == 4 and all(len(e['counts']) == len(r['phases']['names']) == len(r['phase_counters']['phases']) and all(len(c) == 2 for c in e['counts']) for e in r['phase_counters']['events']) and all(x > 0 for x in r['phase_counters']['events'][0]['counts'][0])"
check "cycles: counted, or unavailable with a reason and null counts (never 0)" report "$T/ev.json" \
    "(lambda e: (e['available_workers'] == 2 and all(x is not None for c in e['counts'] for x in c)) or (e['available_workers'] == 0 and all(x is None for c in e['counts'] for x in c) and all(u and '(' in u for u in e['unavailable'])))(r['phase_counters']['events'][3])"
CLLM_FAIL_PERFEV=page-faults "$LF" "${RUN[@]}" --phase-counters task-clock,page-faults --report "$T/ev2.json"
check "an injected failure: page-faults unavailable (EACCES), task-clock still counted" report "$T/ev2.json" \
    "r['phase_counters']['events'][1]['unavailable'][0].startswith('EACCES') and r['phase_counters']['events'][1]['counts'][0][0] is None and r['phase_counters']['events'][0]['counts'][0][0] > 0"
"$LF" "${RUN[@]}" --report "$T/noev.json"
check "no --phase-counters: phase_counters is null" report "$T/noev.json" "r['phase_counters'] is None"

# --- pinning and counting change no bit: checkpoints of both variants equal
n=$((ncpu < 2 ? 2 : ncpu))
for v in "$LF" "$LK"; do
    "$v" "${RUN[@]}" --threads "$n" --save "$T/a.ck"
    "$v" "${RUN[@]}" --threads "$n" --pin cores --phase-counters task-clock,context-switches --save "$T/b.ck"
    check "$(basename "$(dirname "$v")"): --pin cores --phase-counters give the same checkpoint" cmp -s "$T/a.ck" "$T/b.ck"
done
"$LK" "${RUN[@]}" --threads "$n" --pin cores --save "$T/c.ck"
check "locked == lock-free, pinned" cmp -s "$T/b.ck" "$T/c.ck"

check_finish test_pin_cli
