#!/usr/bin/env bash
# test_scale_host.sh - what build/scale records about the machine around a
# run, with stand-in children: the outside load (a child that leaves a
# detached process burning a fixed 0.3 s of CPU, which is in no rusage of
# the child, must show as >= 0.3 s of outside busy time, a noisy run and a
# warning); the effective clock (NA where hardware counters are missing, and
# cycles / task-clock, cycles / ref-cycles x nominal from a record with known
# counts, through --resume); --pin passed to the child and recorded, and bad
# --pin / --noise-max values refused. Ends with "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/scale_common.sh    # BUILD SCALE PY T, check.sh, fake_bins
# rec DIR EXPR: EXPR over recs (runs.jsonl), r = the first record, rows (summary.csv), meta
rec() {
    "$PY" - "$@" <<'EOF'
import csv, json, sys
d, expr = sys.argv[1], sys.argv[2]
recs = [json.loads(l) for l in open(d + '/runs.jsonl')]
r = recs[0]
rows = list(csv.DictReader(open(d + '/summary.csv')))
meta = json.load(open(d + '/meta.json'))
sys.exit(0 if eval(expr) else 1)
EOF
}
check_built test_scale_host "$SCALE"
fake_bins "$T/bin"
for v in lockfree locked; do
    mkdir -p "$T/burn/$v"
    # a child that starts a burner it does not wait for (so the burner's CPU
    # time is in no rusage the harness sees) and exits once it has burned
    cat >"$T/burn/$v/train_model" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
report=''
while (($#)); do [[ $1 == --report ]] && report=$2; shift; done
flag=$BURN_DIR/burned.$RANDOM.$$
( /usr/bin/python3 -c '
import sys, time
t = time.process_time()
while time.process_time() - t < 0.3: pass
open(sys.argv[1], "w").close()' "$flag" & )
while [[ ! -f $flag ]]; do sleep 0.01; done
echo '{"tokens_per_s": 1000, "tokens": 1000}' >"$report"
EOF
    chmod +x "$T/burn/$v/train_model"
done
export FAKE_SLEEP=0.01 BURN_DIR=$T
FAST=(--config tiny --steps 2 --variants lockfree)

# --- outside load --------------------------------------------------------------
rc=0; "$BUILD/scale" "${FAST[@]}" --bin-dir "$T/burn" --threads 1 --reps 2 --noise-max 0.05 --out "$T/n" \
    >"$T/n.out" 2>"$T/n.err" || rc=$?
check "burner sweep exits 0" test $rc -eq 0
"$PY" - "$T/n/runs.jsonl" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(f"outside load: {r['outside_busy_s']:.3f} s over {r['wall_s']:.3f} s = {r['outside_cpus']:.2f} CPUs "
          f"(+-{r['outside_resolution_s']} s), steal {r['steal_cpus']}, loadavg {r['loadavg_start']} -> "
          f"{r['loadavg_end']}, noisy {r['noisy']}")
EOF
check "the burner's 0.3 s is outside load" rec "$T/n" "all(x['outside_busy_s'] >= 0.3 - x['outside_resolution_s'] for x in recs)"
check "outside_cpus = outside_busy_s / wall_s" rec "$T/n" "all(abs(x['outside_cpus'] - x['outside_busy_s'] / x['wall_s']) < 1e-6 for x in recs)"
check "the runs are noisy at 0.05 CPUs" rec "$T/n" "all(x['noisy'] is True for x in recs) and rows[0]['reps_noisy'] == '2'"
check "loadavg recorded at start and end" rec "$T/n" "all(len(x['loadavg_start']) == 3 and len(x['loadavg_end']) == 3 for x in recs)"
check "noise summary in meta.json" rec "$T/n" "meta['analysis']['noise']['runs_noisy'] == 2 and meta['analysis']['noise']['noise_max_cpus'] == 0.05 and meta['options']['noise-max'] == 0.05"
check "noise warning on stderr" grep -qF "other processes kept more than 0.05 CPUs busy in 2 of 2 reps" "$T/n.err"
check "noise warning in meta.json" rec "$T/n" "any('other processes kept more than 0.05 CPUs' in w for w in meta['analysis']['warnings'])"
check "table marks the point noisy" grep -qF "noisy (2 reps)" "$T/n.out"
# a limit no run can reach is never noisy; the verdict stays null where the run is too short to tell
"$BUILD/scale" "${FAST[@]}" --bin-dir "$T/burn" --threads 1 --reps 1 --noise-max 1000 --out "$T/n2" >/dev/null 2>&1 || true
check "--noise-max 1000: not noisy" rec "$T/n2" "r['noisy'] is False and rows[0]['reps_noisy'] == '0'"

# --- the effective clock ---------------------------------------------------------
"$BUILD/scale" "${FAST[@]}" --bin-dir "$T/bin" --threads 1,2 --reps 1 --out "$T/f" >/dev/null 2>&1 || true
check "clock fields follow the counters" rec "$T/f" "all((x['eff_ghz'] is None) == (x['counters']['cycles']['value'] is None) for x in recs)"
if rec "$T/f" "r['counters']['cycles']['value'] is None"; then
    check "no cycles counter: unavailable, not 0" rec "$T/f" "r['counters']['cycles']['reason'] and r['eff_ghz'] is None and rows[0]['eff_ghz'] == 'NA' and rows[0]['cycles_per_ref_cycle'] == 'NA'"
else
    check "cycles counted: eff_ghz = cycles / task-clock" rec "$T/f" "abs(r['eff_ghz'] - r['counters']['cycles']['value'] / r['counters']['task-clock']['value']) < 1e-6 * r['eff_ghz']"
fi
check "cycles, instructions, ref-cycles recorded as one group" rec "$T/f" "len({r['counters'][k].get('group') for k in ('cycles', 'instructions', 'ref-cycles')}) == 1 and r['counters']['cycles'].get('group')"
# known counts in a record, summarized again by --resume: 3e9 cycles over 1 s of task-clock = 3 GHz;
# 3e9 / 2e9 ref-cycles at 2000 MHz nominal = 3 GHz
"$PY" - "$T/f/runs.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
for r in recs:
    if r['threads'] == 2:
        for k, v in (('cycles', 3e9), ('ref-cycles', 2e9), ('task-clock', 1e9)):
            r['counters'][k] = {'value': v, 'raw': int(v), 'time_enabled_ns': 1, 'time_running_ns': 1, 'running_frac': 1}
        r['nominal_mhz'] = 2000
open(sys.argv[1], 'w').write(''.join(json.dumps(r) + '\n' for r in recs))
EOF
"$BUILD/scale" --resume "$T/f" >"$T/f.out" 2>&1 || true
check "resumed summary: eff_ghz 3 at 2 threads" rec "$T/f" "[(x['threads'], x['eff_ghz'], x['cycles_per_ref_cycle'], x['eff_ghz_ref']) for x in rows if x['threads'] == '2'] == [('2', '3', '1.5', '3')]"
check "table shows GHz next to tokens/s" grep -qE "^lockfree +2 .* 3\.00 " "$T/f.out"

# --- --pin and --noise-max ---------------------------------------------------------
"$BUILD/scale" "${FAST[@]}" --bin-dir "$T/bin" --threads 1 --reps 1 --pin 0,2-3 --out "$T/p" >/dev/null 2>&1 || true
check "--pin goes to the child" rec "$T/p" "r['command'][-2:] == ['--pin', '0,2-3'] and r['pin'] == '0,2-3' and r['status'] == 'ok'"
check "--pin in meta.json options" rec "$T/p" "meta['options']['pin'] == '0,2-3'"
check "no --pin: none passed, null recorded" rec "$T/f" "'--pin' not in r['command'] and r['pin'] is None and meta['options']['pin'] is None"
rc=0; "$BUILD/scale" --resume "$T/p" --pin cores >/dev/null 2>"$T/err" || rc=$?
check "--resume with another --pin refused" test $rc -eq 2
check "... naming --pin" grep -qF -- "--pin differs" "$T/err"
for p in bogus 3-1 1, ,1 -1 1-2-3 "1 2"; do
    rc=0; "$BUILD/scale" "${FAST[@]}" --bin-dir "$T/bin" --pin "$p" --out "$T/bad" >/dev/null 2>"$T/err" || rc=$?
    check "--pin '$p' refused (exit 2)" test $rc -eq 2
    check "--pin '$p': message names --pin" grep -qF -- "--pin: '$p'" "$T/err"
done
for p in none cores scatter 7 0-15,32; do
    rc=0; "$BUILD/scale" "${FAST[@]}" --bin-dir "$T/bin" --threads 1 --reps 1 --pin "$p" --out "$T/good-$p" >/dev/null 2>&1 || rc=$?
    check "--pin '$p' accepted" test $rc -eq 0
done
for v in -1 abc 1e999 ''; do
    rc=0; "$BUILD/scale" "${FAST[@]}" --bin-dir "$T/bin" --noise-max "$v" --out "$T/bad" >/dev/null 2>"$T/err" || rc=$?
    check "--noise-max '$v' refused (exit 2)" test $rc -eq 2
    check "--noise-max '$v': message" grep -qF -- "--noise-max" "$T/err"
done

check_finish test_scale_host
