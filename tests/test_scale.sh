#!/usr/bin/env bash
# test_scale.sh - tests of the scaling harness (build/scale) against the fake
# train_model (tests/fake_train_model.sh): well-formed output files, crashing,
# failing and hanging children, SIGINT/SIGTERM and --resume, every bad input
# with its exit code and message; plus one small real sweep when
# build/lockfree/train_model exists. The fake's repeats differ
# (FAKE_REPS_DIR), so medians over even and odd counts are checked against
# the values they must have. Run from the repo root; ends with
# "N passed, N failed, N skipped" and exits non-zero on any failure.
# test-timeout: 180
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/scale_common.sh    # BUILD SCALE PY T, check.sh, fake_bins, run, expect_fail
bg=''
cleanup() { [[ -n $bg ]] && kill "$bg" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

lines() { if [[ -f $1 ]]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
stderr_has() { grep -qF -- "$1" "$T/stderr"; }

check_built test_scale "$SCALE"
fake_bins "$T/bin"
export FAKE_SLEEP=0.02
FAST=(--bin-dir "$T/bin" --config tiny --steps 3)
# the CPUs scale judges oversubscription against: affinity mask and cgroup quota
CPUS=$("$BUILD/topo" | python3 -c 'import json, sys; print(json.load(sys.stdin)["usable_cpus"])')
OVER=$((CPUS + 1 > 3 ? CPUS + 1 : 3))   # a thread count above the CPUs, not 1 or 2

# validate DIR LINES THREADS REPS: every file well-formed, with every field
cat >"$T/validate.py" <<'EOF'
import csv, json, math, os, sys
d, want_lines, threads, reps = sys.argv[1], int(sys.argv[2]), [int(t) for t in sys.argv[3].split(',')], int(sys.argv[4])
variants = sys.argv[5].split(',') if len(sys.argv) > 5 else ['lockfree', 'locked']
errs = []
def err(m): errs.append(m)
recs = [json.loads(l) for l in open(os.path.join(d, 'runs.jsonl'))]
if len(recs) != want_lines: err(f'runs.jsonl has {len(recs)} lines, want {want_lines}')
need = ['variant', 'threads', 'rep', 'point', 'status', 'exit_code', 'signal', 'reason', 'start_time',
        'wall_s', 'user_s', 'sys_s', 'peak_rss_kib', 'voluntary_ctx_switches',
        'involuntary_ctx_switches', 'oversubscribed', 'smt_shared', 'usable_cpus', 'cores', 'pin',
        'outside_busy_s', 'outside_cpus', 'outside_share', 'steal_cpus', 'loadavg_start', 'loadavg_end',
        'outside_resolution_s', 'noisy', 'nominal_mhz', 'eff_ghz', 'cycles_per_ref_cycle', 'eff_ghz_ref', 'command', 'counters',
        'report', 'stderr_tail']
keys = set()
for r in recs:
    for k in need:
        if k not in r: err(f'record lacks {k}: {r.get("variant")} {r.get("threads")}')
    keys.add((r['variant'], r['threads'], r['rep']))
    if r['status'] not in ('ok', 'failed', 'timeout'): err('bad status ' + r['status'])
    if r['status'] == 'ok' and not (r['report'] and r['report']['tokens_per_s'] > 0): err('ok run without report')
    if r['status'] != 'ok' and not r['reason']: err('failed run without reason')
    if not (r['wall_s'] > 0): err('wall_s not positive')
    for name, c in r['counters'].items():
        if c['value'] is None and not c.get('reason'): err(f'counter {name} null without reason')
        if c['value'] is not None and not isinstance(c['value'], (int, float)): err(f'counter {name} not numeric')
if len(keys) != len(recs): err('duplicate (variant, threads, rep) records')
cols = ('variant,threads,oversubscribed,reps_ok,reps_failed,wall_median_s,wall_min_s,wall_max_s,'
        'wall_stddev_s,wall_cv,tokens_per_s_median,tokens_per_s_min,tokens_per_s_max,speedup,'
        'speedup_min,speedup_max,efficiency,cpu_util,karp_flatt,user_s_median,sys_s_median,'
        'peak_rss_kib_median,mem_per_thread_analytic_bytes,phase_forward_s,phase_backward_s,'
        'phase_lock_wait_s,phase_barrier_wait_s,phase_reduce_s,phase_optimizer_s,task_clock_s,ipc,'
        'llc_misses_per_token,smt_shared,usable_cpus,outside_cpus_median,outside_cpus_max,reps_noisy,'
        'reps_noise_undetermined,eff_ghz,cycles_per_ref_cycle,eff_ghz_ref,phase_comm_s,phase_comm_sum_s,'
        'ranks,workers').split(',')
rows = list(csv.reader(open(os.path.join(d, 'summary.csv'))))
if rows[0] != cols: err('summary.csv header: ' + ','.join(rows[0]))
if len(rows) - 1 != len(variants) * len(threads): err(f'summary.csv has {len(rows) - 1} rows')
for row in rows[1:]:
    if len(row) != len(cols): err('summary.csv row width')
    for c in row[1:]:
        if c != 'NA':
            try: float(c)
            except ValueError: err('summary.csv cell ' + c)
mrows = list(csv.reader(open(os.path.join(d, 'memory.csv'))))
if mrows[0] != ['variant', 'analytic_bytes_per_thread', 'measured_bytes_per_thread', 'difference_bytes',
                'measured_intercept_bytes', 'fit_points', 'ranks']: err('memory.csv header')
if [r[0] for r in mrows[1:]] != variants: err('memory.csv variants')
m = json.load(open(os.path.join(d, 'meta.json')))
for k in ['tool', 'status', 'start_time', 'end_time', 'command', 'argv', 'options', 'host', 'harness',
          'train_model_build', 'blas', 'points_total', 'runs_recorded', 'analysis']:
    if k not in m: err('meta.json lacks ' + k)
for k in ['hostname', 'cpu_model', 'online_cpus', 'affinity_cpus', 'usable_cpus', 'cores', 'kernel', 'topology']:
    if k not in m['host']: err('meta.json host lacks ' + k)
for k in ['cc', 'cflags', 'git', 'libpfm_version']:
    if k not in m['harness']: err('meta.json harness lacks ' + k)
if m['options']['threads'] != threads or m['options']['reps'] != reps: err('meta.json options')
if 'memory' not in m['analysis'] or 'warnings' not in m['analysis']: err('meta.json analysis')
left = [f for f in os.listdir(d) if f.startswith('.')]
if left: err('temporary files left: ' + ' '.join(left))
for e in errs: print(e)
sys.exit(1 if errs else 0)
EOF
valid() { python3 "$T/validate.py" "$@"; }
# field DIR PYTHON-EXPR: evaluates EXPR over recs (runs.jsonl), rows (summary.csv dicts), meta
field() {
    python3 - "$1" "$2" <<'EOF'
import csv, json, sys
d = sys.argv[1]
recs = [json.loads(l) for l in open(d + '/runs.jsonl')]
rows = list(csv.DictReader(open(d + '/summary.csv')))
mem = list(csv.DictReader(open(d + '/memory.csv')))
meta = json.load(open(d + '/meta.json'))
row = lambda v, t: next(r for r in rows if r['variant'] == v and int(r['threads']) == t)
print(eval(sys.argv[2]))
EOF
}
is_true() { [[ $(field "$1" "$2") == True ]]; }

# --- help and a good sweep ---------------------------------------------------
run --help
check "--help exits 0 with usage" test "$rc" -eq 0
check "--help lists --resume" grep -q -- "--resume" "$T/stdout"

D=$T/good
FAKE_REPS_DIR=$T/reps-good run "${FAST[@]}" --threads 1,2,$OVER --reps 2 --out "$D"
check "good sweep exits 0 (rc $rc)" test "$rc" -eq 0
check "good sweep files well-formed" valid "$D" 12 1,2,$OVER 2
check "order: variants ABBA, threads rotated per rep" is_true "$D" \
    "[(r['rep'], r['variant'][-3:], r['threads']) for r in recs] == [(0, 'ree', 1), (0, 'ked', 1), (0, 'ree', 2), (0, 'ked', 2), (0, 'ree', $OVER), (0, 'ked', $OVER), (1, 'ked', 2), (1, 'ree', 2), (1, 'ked', $OVER), (1, 'ree', $OVER), (1, 'ked', 1), (1, 'ree', 1)]"
check "points in order" is_true "$D" "[r['point'] for r in recs] == list(range(12))"
check "speedup from tokens/s (fake: 2^0.9)" is_true "$D" "abs(float(row('lockfree', 2)['speedup']) - 2**0.9) < 1e-3"
# the fake's 2 repeats of a point report 1.0x and 1.3x its rate: the median
# is their mean, the min and max the two
check "tokens/s median of 2 different repeats is their mean (fake: 1.15 x 20000 x 2^0.9; the report has 6 digits)" is_true "$D" \
    "abs(float(row('lockfree', 2)['tokens_per_s_median']) / (1.15 * 20000 * 2**0.9) - 1) < 1e-5 and abs(float(row('lockfree', 1)['tokens_per_s_median']) - 23000) < 1e-6"
check "tokens/s min and max of the repeats (fake: 1.0x and 1.3x)" is_true "$D" \
    "abs(float(row('locked', 1)['tokens_per_s_min']) - 20000) < 1e-6 and abs(float(row('locked', 1)['tokens_per_s_max']) - 26000) < 1e-6"
check "efficiency = speedup/N" is_true "$D" \
    "abs(float(row('locked', 2)['efficiency']) - float(row('locked', 2)['speedup']) / 2) < 1e-6"
check "Karp-Flatt serial fraction" is_true "$D" \
    "abs(float(row('locked', 2)['karp_flatt']) - (1 / float(row('locked', 2)['speedup']) - 0.5) / 0.5) < 1e-6"
check "karp_flatt NA at 1 thread" is_true "$D" "row('lockfree', 1)['karp_flatt'] == 'NA'"
check "phases summed over threads (median of 2 repeats: their mean)" is_true "$D" \
    "abs(float(row('lockfree', 2)['phase_forward_s']) - 2 * sum(r['report']['phases']['wall_s'][0][0] for r in recs if r['variant'] == 'lockfree' and r['threads'] == 2) / 2) < 1e-6"
check "oversubscribed flag" is_true "$D" "row('lockfree', $OVER)['oversubscribed'] == '1' and row('lockfree', 2)['oversubscribed'] == ('1' if 2 > $CPUS else '0')"
check "table labels oversubscription" grep -qF "oversubscribed ($OVER threads > $CPUS usable CPUs)" "$T/stdout"
check "memory.csv analytic bytes" is_true "$D" "mem[0]['analytic_bytes_per_thread'] == '393216'"
check "memory.csv measured slope" is_true "$D" "mem[1]['measured_bytes_per_thread'] != 'NA' and mem[1]['fit_points'] == '3'"
check "table shows per-thread memory" grep -q "per-thread memory" "$T/stdout"
check "counters recorded for every run" is_true "$D" "all(r['counters'] for r in recs)"
check "every counter has a value with its raw count, or null with a reason" is_true "$D" \
    "all((c['value'] is None and c.get('reason')) or (c['value'] is not None and c.get('raw') is not None) for r in recs for c in r['counters'].values())"
check "ipc NA exactly when cycles unsupported" is_true "$D" \
    "(row('lockfree', 1)['ipc'] == 'NA') == (recs[0]['counters'].get('cycles', {}).get('value') is None)"
check "meta status complete, build from report" is_true "$D" \
    "meta['status'] == 'complete' and meta['train_model_build']['compiler'] == 'fake' and meta['blas'] == 'none'"
check "plain progress lines, no terminal codes, when stderr is not a terminal" \
    bash -c "grep -q '^scale: \[1/' '$T/stderr' && ! grep -q \$'\r' '$T/stderr'"

expect_fail 1 "already holds runs.jsonl" "${FAST[@]}" --threads 1 --out "$D"

# an odd number of different repeats: the median is the middle one (1.1x,
# where the mean of 1.0, 1.3 and 1.1 would be 1.133x); an event that does not
# exist is null with a reason in every record, never 0, while task-clock counts
D=$T/odd
FAKE_REPS_DIR=$T/reps-odd run "${FAST[@]}" --threads 1 --reps 3 --variants lockfree \
    --events task-clock,no-such-event-cllm --out "$D"
check "3 repeats: sweep exits 0 (rc $rc)" test "$rc" -eq 0
check "tokens/s median of 3 different repeats is the middle one (fake: 1.1 x 20000)" is_true "$D" \
    "abs(float(row('lockfree', 1)['tokens_per_s_median']) - 22000) < 1e-6"
check "an unknown event is null with a reason in every record, never 0" is_true "$D" \
    "len(recs) == 3 and all(r['counters']['no-such-event-cllm']['value'] is None and r['counters']['no-such-event-cllm']['reason'] for r in recs)"
check "task-clock counted alongside it" is_true "$D" "all(r['counters']['task-clock']['value'] > 0 for r in recs)"

# --- failing children ---------------------------------------------------------
D=$T/crash
FAKE_FAULT=crash FAKE_MATCH=locked:2 run "${FAST[@]}" --threads 1,2,4 --reps 2 --out "$D"
check "crashing child: sweep exits 1 (rc $rc)" test "$rc" -eq 1
check "crashing child: every point still ran" valid "$D" 12 1,2,4 2
check "crash recorded as failed with SIGSEGV" is_true "$D" \
    "[(r['status'], r['signal']) for r in recs if r['variant'] == 'locked' and r['threads'] == 2] == [('failed', 'SIGSEGV')] * 2"
check "crash point summarised as 0 ok, 2 failed, NA" is_true "$D" \
    "row('locked', 2)['reps_ok'] == '0' and row('locked', 2)['reps_failed'] == '2' and row('locked', 2)['wall_median_s'] == 'NA'"
check "other points ok" is_true "$D" "sum(r['status'] == 'ok' for r in recs) == 10"
check "crash named on stderr" stderr_has "SIGSEGV"

D=$T/exit2
FAKE_FAULT=exit2 FAKE_MATCH=lockfree run "${FAST[@]}" --threads 1 --reps 1 --out "$D"
check "exit code 2 of the child recorded" is_true "$D" \
    "[(r['variant'], r['status'], r['exit_code']) for r in recs] == [('lockfree', 'failed', 2), ('locked', 'ok', 0)]"
check "child stderr kept for a failed run" is_true "$D" "'fake usage error' in recs[0]['stderr_tail']"

D=$T/badrep
FAKE_FAULT=badreport run "${FAST[@]}" --threads 1 --reps 1 --variants locked --out "$D"
check "unreadable report -> failed (rc $rc)" is_true "$D" \
    "recs[0]['status'] == 'failed' and 'report' in recs[0]['reason'] and recs[0]['report'] is None"

D=$T/hang
t0=$SECONDS
FAKE_FAULT=hang FAKE_MATCH=lockfree:2 run "${FAST[@]}" --threads 1,2 --reps 1 --timeout 1 --out "$D"
check "hanging child: sweep exits 1 (rc $rc)" test "$rc" -eq 1
# the fake hangs for 1000 s: ending within 30 s means the timeout killed it,
# whatever else the busy machine was doing
check "hanging child killed at --timeout 1 ($((SECONDS - t0)) s in all)" test $((SECONDS - t0)) -le 30
check "hang recorded as timeout" is_true "$D" \
    "[r['status'] for r in recs if r['variant'] == 'lockfree' and r['threads'] == 2] == ['timeout'] and all(r['status'] == 'ok' for r in recs if r['threads'] == 1)"
check "timeout wall time at least the 1 s limit, far below the hang" is_true "$D" \
    "[0.9 < r['wall_s'] < 20 for r in recs if r['status'] == 'timeout'] == [True]"
check "hang files well-formed" valid "$D" 4 1,2 1

# --- interrupt and resume -----------------------------------------------------
D=$T/intr
FAKE_SLEEP=0.15 "$SCALE" "${FAST[@]}" --threads 1,2,3 --reps 2 --out "$D" >"$T/stdout" 2>"$T/stderr" &
bg=$!
for _ in $(seq 100); do [[ $(lines "$D/runs.jsonl") -ge 3 ]] && break; sleep 0.05; done
kill -INT "$bg"
rc=0; wait "$bg" || rc=$?; bg=''
n1=$(lines "$D/runs.jsonl")
check "SIGINT: exit 130 (rc $rc)" test "$rc" -eq 130
check "SIGINT: some but not all runs kept ($n1)" test "$n1" -ge 3 -a "$n1" -lt 12
check "SIGINT: files well-formed" valid "$D" "$n1" 1,2,3 2
check "SIGINT: meta status interrupted" is_true "$D" "meta['status'] == 'interrupted'"
check "SIGINT: message says how to resume" stderr_has "--resume $D"
expect_fail 2 "--config" --resume "$D" --config S
expect_fail 2 "--steps" --resume "$D" --steps 99
expect_fail 2 "--threads" --resume "$D" --threads 1,2
check "refused resume ran nothing" test "$(lines "$D/runs.jsonl")" -eq "$n1"
rm -f "$T/fake.log"
FAKE_LOG=$T/fake.log run --resume "$D" --bin-dir "$T/bin"
check "resume exits 0 (rc $rc)" test "$rc" -eq 0
check "resume completes the sweep" valid "$D" 12 1,2,3 2
check "resume ran only the missing points" test "$(lines "$T/fake.log")" -eq $((12 - n1))
check "resume: meta complete and resumed" is_true "$D" "meta['status'] == 'complete' and meta['resumed'] is True"

# a truncated last line (harness killed mid-write) is dropped with a warning
head -n 11 "$D/runs.jsonl" >"$T/r" && printf '{"variant":"locked","threads":3,"re' >>"$T/r"
cp "$T/r" "$D/runs.jsonl"
rm -f "$T/fake.log"
FAKE_LOG=$T/fake.log run --resume "$D"
check "truncated line: resume exits 0 (rc $rc)" test "$rc" -eq 0
check "truncated line: warned" stderr_has "truncated"
check "truncated line: dropped and the point re-run" test "$(lines "$T/fake.log")" -eq 1
check "truncated line: files well-formed" valid "$D" 12 1,2,3 2

D=$T/term
FAKE_SLEEP=0.3 "$SCALE" "${FAST[@]}" --threads 1,2 --reps 2 --out "$D" >"$T/stdout" 2>"$T/stderr" &
bg=$!
for _ in $(seq 100); do [[ $(lines "$D/runs.jsonl") -ge 1 ]] && break; sleep 0.05; done
kill -TERM "$bg"
rc=0; wait "$bg" || rc=$?; bg=''
check "SIGTERM: exit 143 (rc $rc)" test "$rc" -eq 143
check "SIGTERM: files well-formed" valid "$D" "$(lines "$D/runs.jsonl")" 1,2 2

# --- bad input ----------------------------------------------------------------
expect_fail 2 "'foo'" "${FAST[@]}" --variants lockfree,foo --out "$T/x"
expect_fail 2 "'XL'" "${FAST[@]}" --config XL --out "$T/x"
expect_fail 2 "0 is not a positive" "${FAST[@]}" --threads 1,0 --out "$T/x"
expect_fail 2 "-4 is not a positive" "${FAST[@]}" --threads -4 --out "$T/x"
expect_fail 2 "'two' is not a number" "${FAST[@]}" --threads 1,two --out "$T/x"
expect_fail 2 "empty list" "${FAST[@]}" --threads "" --out "$T/x"
expect_fail 2 "entry 2 is empty" "${FAST[@]}" --threads 1,,2 --out "$T/x"
expect_fail 2 "1025 exceeds" "${FAST[@]}" --threads 1,1025 --out "$T/x"
expect_fail 2 "more than 4096 entries" "${FAST[@]}" --threads "$(seq -s, 1 4097)" --out "$T/x"
expect_fail 2 "2 is listed twice" "${FAST[@]}" --threads 1,2,2 --out "$T/x"
expect_fail 2 "--reps" "${FAST[@]}" --reps 0 --out "$T/x"
expect_fail 2 "--steps" "${FAST[@]}" --steps 2x --out "$T/x"
expect_fail 2 "'medium'" "${FAST[@]}" --scaling medium --out "$T/x"
expect_fail 2 "--timeout" "${FAST[@]}" --timeout 0 --out "$T/x"
expect_fail 2 "--frobnicate" "${FAST[@]}" --frobnicate --out "$T/x"
expect_fail 2 "needs a value" "${FAST[@]}" --out
expect_fail 2 "--events" "${FAST[@]}" --events ",," --out "$T/x"
expect_fail 2 "cannot be used together" "${FAST[@]}" --out "$T/x" --resume "$T/good"
expect_fail 1 "$T/nobin/lockfree/train_model" --bin-dir "$T/nobin" --out "$T/x"
touch "$T/afile"
expect_fail 1 "$T/afile/out" "${FAST[@]}" --out "$T/afile/out"
expect_fail 1 "$T/nodir/meta.json" --resume "$T/nodir"
expect_fail 1 "$T/nodata" "${FAST[@]}" --data "$T/nodata" --out "$T/x"
check "bad input wrote nothing" test ! -e "$T/x"

# --- a small real sweep, when the core is built -------------------------------
if [[ -x $BUILD/lockfree/train_model && -x $BUILD/locked/train_model ]]; then
    D=$T/real
    run --bin-dir "$BUILD" --threads 1,2 --config tiny --reps 2 --steps 5 --timeout 120 --out "$D"
    check "real sweep exits 0 (rc $rc): $(tail -n 3 "$T/stderr" | tr '\n' ' ')" test "$rc" -eq 0
    check "real sweep files well-formed" valid "$D" 8 1,2 2
    check "real sweep: every run ok with tokens/s" is_true "$D" \
        "all(r['status'] == 'ok' and r['report']['tokens_per_s'] > 0 for r in recs)"
    check "real sweep: speedups and analytic memory present" is_true "$D" \
        "all(r['speedup'] != 'NA' and r['mem_per_thread_analytic_bytes'] != 'NA' for r in rows)"
else
    skip "a small real sweep: $BUILD/lockfree/train_model is not built"
fi

check_finish test_scale
