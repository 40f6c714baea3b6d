#!/usr/bin/env bash
# test_scale_command.sh - build/scale sweeping other programs: --command
# templates (word splitting against Python's shlex.split, placeholders that
# never split a word, the environment prefix), --metric / --work / --unit,
# every bad template with its exit code or failed run and a message naming
# the variant, --resume refusing changed templates, --dry-run, and the two
# formats other tools read: runs.csv (long format) and --export-hyperfine
# (its schema against a file made by Debian's hyperfine). Needs no GPU and
# no particular speed: every figure checked is arithmetic on what the same
# run recorded. Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/scale_common.sh    # BUILD SCALE PY T, check.sh, fake_bins, run, expect_fail
# py DIR EXPR: EXPR over recs (runs.jsonl), rows (summary.csv), long (runs.csv), meta
py() {
    "$PY" - "$1" "$2" <<'EOF'
import csv, json, os, sys
d = sys.argv[1]
recs = [json.loads(l) for l in open(d + '/runs.jsonl')]
rows = list(csv.DictReader(open(d + '/summary.csv')))
long = list(csv.DictReader(open(d + '/runs.csv'))) if os.path.exists(d + '/runs.csv') else []
meta = json.load(open(d + '/meta.json'))
row = lambda v, t: next(r for r in rows if r['variant'] == v and int(r['threads']) == t)
print(eval(sys.argv[2]))
EOF
}
is_true() { [[ $(py "$1" "$2") == True ]]; }

check_built test_scale_command "$SCALE"
fake_bins "$T/bin"
export FAKE_SLEEP=0.01

# --- word splitting: the same words as Python's shlex.split (POSIX mode) -------
cat >"$T/templates.txt" <<'EOF'
true a b
true   spaced	tab
true "b c" 'd e' f\ g
true "h\"i" 'j\k' "l\\m" "n\o" '\'
true '' "" x''y a"b"c 'q'"r"s
true --opt=value "--x=y z" -- -
A=1 B="x y" C='' true arg
A=1 true B=2
true é 'ü ö'
EOF
fails=0
while IFS= read -r tpl; do
    if ! "$SCALE" --dry-run --threads 1 --reps 1 --work 1 --command "w=$tpl" >"$T/dry" 2>"$T/err"; then
        echo "dry-run failed on: $tpl: $(cat "$T/err")" >&2; fails=$((fails + 1)); continue
    fi
    "$PY" - "$tpl" "$T/dry" <<'EOF' || fails=$((fails + 1))
import json, re, shlex, sys
tpl, got = sys.argv[1], json.loads(open(sys.argv[2]).readline())
words = shlex.split(tpl)
env = []
while words and re.match(r'[A-Za-z_][A-Za-z0-9_]*=', words[0]):
    env.append(words.pop(0))
want_env = dict(w.split('=', 1) for w in env)
if got['command'] != words or got['env'] != want_env:
    sys.exit(print(f'{tpl!r}: scale {got["command"]} {got["env"]}, shlex {words} {want_env}') or 1)
# the shell line scale prints splits back into the same words
if shlex.split(got['shell']) != env + words:
    sys.exit(print(f'{tpl!r}: shell line {got["shell"]!r} does not split back') or 1)
EOF
done <"$T/templates.txt"
check "templates split like shlex.split, and the shell line splits back ($fails differ)" test "$fails" -eq 0

# --- placeholders: values never split a word; {{ }} are braces -------------------
O="$T/out dir"
"$SCALE" --dry-run --threads 1,2 --reps 2 --out "$O" --command \
    'p=X={threads} true {threads} "{rep}" '\''{report}'\'' {out}/f a{threads}b {{threads}} {{}}' >"$T/dry"
check "placeholders expanded in every word, quoted or not, without splitting" "$PY" - "$T/dry" "$O" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
o = sys.argv[2]
assert len(lines) == 4, lines
for l in lines:
    n, r = l['threads'], l['rep']
    want = ['true', str(n), str(r), f'{o}/.report-p-{n}-{r}.json', f'{o}/f', f'a{n}b', '{threads}', '{}']
    assert l['command'] == want and l['env'] == {'X': str(n)}, (l, want)
assert [(l['rep'], l['threads']) for l in lines] == [(0, 1), (0, 2), (1, 2), (1, 1)], lines
EOF
check "--dry-run creates no folder" test ! -e "$O"

# --- bad templates: exit 2 before any run, naming the variant and the fault -----
expect_fail 2 "--command w: unknown placeholder '{thread}'" --command 'w=true {thread}' --work 1
expect_fail 2 "--command w: '{' at character 6 is not closed" --command 'w=true {rep' --work 1
expect_fail 2 "--command w: a lone '}'" --command 'w=true }' --work 1
expect_fail 2 "--command w: a double quote is not closed" --command 'w=true "x' --work 1
expect_fail 2 "--command w: the template ends with a backslash" --command 'w=true x\' --work 1
expect_fail 2 "--command w: the template is empty" --command 'w=' --work 1
expect_fail 2 "--command w: no program after the environment settings" --command 'w=A=1 B=2' --work 1
expect_fail 2 "--command w: program 'no-such-program-xyz' not found in PATH" --command 'w=no-such-program-xyz' --work 1
expect_fail 2 "--command w: program ./tests/test_scale.sh is not an executable file" --command 'w=./tests/test_scale.sh' --work 1
expect_fail 2 "--command w: program 'true' not found in PATH (/nonexistent)" --command 'w=PATH=/nonexistent true' --work 1
expect_fail 2 "--command lockfree: 'lockfree' is a train_model variant" --command 'lockfree=true' --work 1
expect_fail 2 "--command w: the name is given twice" --command 'w=true' --command 'w=true' --work 1
expect_fail 2 "may hold only letters, digits and _ . -" --command 'w/x=true' --work 1
expect_fail 2 "want NAME='TEMPLATE'" --command 'true' --work 1
expect_fail 2 "--command w: the template has no {report}, so the metric 'tokens_per_s' cannot be read" --command 'w=true'
expect_fail 2 "--metric and --work exclude each other" --command 'w=true {report}' --work 1 --metric a
expect_fail 2 "--work: 'x' is not a positive number" --command 'w=true' --work x
expect_fail 2 "--metric 'a..b' is not a dotted path" --command 'w=true {report}' --metric a..b
expect_fail 2 "--unit: '' is not a label" --command 'w=true' --work 1 --unit ''

# --- a sweep of a program with a report: --metric, dotted path, the unit -------
cat >"$T/prog.sh" <<'EOF'
#!/bin/sh
# prog.sh THREADS REPORT [FAULT]: a report whose a.b is 10 x THREADS
case ${3:-} in
    notjson) echo 'this is not JSON' >"$2"; exit 0 ;;
    nokey) echo '{"a":{"c":1}}' >"$2"; exit 0 ;;
    noreport) exit 0 ;;
    exit3) exit 3 ;;
esac
echo "{\"a\":{\"b\":$((10 * $1))},\"threads\":$1,\"tokens_per_s\":$((1000 * $1))}" >"$2"
EOF
chmod +x "$T/prog.sh"
D=$T/metric
run --threads 1,2,3 --reps 2 --out "$D" --command "prog=$T/prog.sh {threads} {report}" \
    --command "prog2=$T/prog.sh {threads} {report}" --metric a.b --unit items/s --export-hyperfine "$D/hf.json"
check "metric sweep exits 0 (rc $rc: $(head -c 200 "$T/stderr"))" test "$rc" -eq 0
check "meta.json records the templates and the metric" is_true "$D" \
    "meta['options']['commands'][0] == {'name': 'prog', 'template': '$T/prog.sh {threads} {report}'} and meta['options']['variants'] == [] and meta['metric'] == {'key': 'a.b', 'work': None, 'unit': 'items/s', 'columns': 'metric'} and meta['options']['metric'] == 'a.b'"
check "with --command alone, no train_model variant" is_true "$D" "[r['variant'] for r in rows] == ['prog'] * 3 + ['prog2'] * 3"
check "metric from the dotted path; speedup = threads exactly" is_true "$D" \
    "[float(row('prog', t)['metric_median']) for t in (1, 2, 3)] == [10, 20, 30] and [float(row('prog', t)['speedup']) for t in (1, 2, 3)] == [1, 2, 3]"
check "summary.csv names its unit" is_true "$D" "all(r['metric_unit'] == 'items/s' for r in rows) and 'tokens_per_s_median' not in rows[0]"
check "the table names the unit" grep -q "items/s" "$T/stdout"
check "the table's speedup note names the unit" grep -qF "speedup = items/s over the 1-thread point" "$T/stdout"
check "every point's command line and env in runs.jsonl" is_true "$D" \
    "all(r['command'] == ['$T/prog.sh', str(r['threads']), '$D/.report-%s-%d-%d.json' % (r['variant'], r['threads'], r['rep'])] and r['env'] == {} for r in recs)"
check "the report is kept in the record" is_true "$D" "all(r['report']['a']['b'] == 10 * r['threads'] for r in recs if r['variant'] == 'prog')"

# --- runs.csv: one row per run, every rusage and counter field, the metric -----
check "runs.csv: a row per record, in its order" is_true "$D" \
    "[(l['variant'], l['threads'], l['rep']) for l in long] == [(r['variant'], str(r['threads']), str(r['rep'])) for r in recs]"
check "runs.csv: rusage fields copied as recorded" is_true "$D" \
    "all(float(l[k]) == r[k] for l, r in zip(long, recs) for k in ('wall_s', 'user_s', 'sys_s', 'peak_rss_kib', 'voluntary_ctx_switches', 'involuntary_ctx_switches'))"
check "runs.csv: the metric and its unit" is_true "$D" \
    "all(float(l['metric']) == 10 * int(l['threads']) and l['metric_unit'] == 'items/s' for l in long if l['variant'] == 'prog')"
check "runs.csv: five columns per event, NA exactly where the record has null" is_true "$D" \
    "all(((l['counter_' + ''.join(c if c.isalnum() or c == '_' else '_' for c in n)] == 'NA') == (v.get('value') is None)) for l, r in zip(long, recs) for n, v in r['counters'].items()) and sum(k.startswith('counter_') for k in long[0]) == 5 * len(recs[0]['counters'])"
check "runs.csv: booleans as 1/0" is_true "$D" "all(l['oversubscribed'] == str(int(r['oversubscribed'])) for l, r in zip(long, recs))"
check "runs.csv: the command line pastes into a shell" is_true "$D" \
    "__import__('shlex').split(long[0]['command']) == recs[0]['command']"
check "runs.csv: pandas-style reading (every row as wide as the header)" is_true "$D" \
    "len(set(len(r) for r in csv.reader(open('$D/runs.csv')))) == 1"

# --- --export-hyperfine against a file Debian's hyperfine wrote ---------------
if command -v hyperfine >/dev/null; then
    hyperfine -N --runs 2 -L variant a -L threads 1,2 --export-json "$T/hf-ref.json" 'true {variant} {threads}' >/dev/null 2>&1
    check "hyperfine export: the schema of Debian's hyperfine $(hyperfine --version | cut -d' ' -f2)" "$PY" - "$T/hf-ref.json" "$D/hf.json" <<'EOF'
import json, statistics, sys
ref, got = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert list(got) == list(ref) == ['results'], (list(got), list(ref))
kind = lambda x: 'num' if isinstance(x, (int, float)) and not isinstance(x, bool) else type(x).__name__
R = ref['results'][0]
assert len(got['results']) == 6, len(got['results'])
for g in got['results']:
    assert list(g) == list(R), (list(g), list(R))
    for k in R:
        if k == 'stddev' and g[k] is None and len(g['times']) < 2: continue
        assert kind(g[k]) == kind(R[k]), (k, g[k], R[k])
    assert all(kind(t) == 'num' for t in g['times']) and all(kind(c) == 'num' for c in g['exit_codes'])
    assert sorted(g['parameters']) == sorted(['threads', 'variant']) and all(isinstance(v, str) for v in g['parameters'].values())
    t = g['times']
    assert len(t) == len(g['exit_codes']) == 2 and g['exit_codes'] == [0, 0]
    assert abs(g['mean'] - statistics.mean(t)) < 1e-12 and abs(g['median'] - statistics.median(t)) < 1e-12
    assert g['min'] == min(t) and g['max'] == max(t) and abs(g['stddev'] - statistics.stdev(t)) < 1e-12
assert [(g['parameters']['variant'], g['parameters']['threads']) for g in got['results']] == \
    [(v, str(n)) for v in ('prog', 'prog2') for n in (1, 2, 3)]
EOF
    check "hyperfine export: times are the records' wall times" is_true "$D" \
        "all(sorted(g['times']) == sorted(r['wall_s'] for r in recs if r['variant'] == g['parameters']['variant'] and str(r['threads']) == g['parameters']['threads']) for g in json.load(open('$D/hf.json'))['results'])"
else
    bad "hyperfine is not installed (scripts/deps.sh installs it)"
fi

# --- train_model's variants and a template in one sweep, on tokens_per_s ------
D=$T/mixed
run --threads 1,2 --reps 1 --out "$D" --bin-dir "$T/bin" --variants locked --config tiny --steps 2 \
    --command "prog=$T/prog.sh {threads} {report}"
check "mixed sweep exits 0 (rc $rc)" test "$rc" -eq 0
check "mixed: train_model's variants first, then the templates" is_true "$D" "[r['variant'] for r in rows] == ['locked', 'locked', 'prog', 'prog']"
check "mixed: tokens_per_s keeps summary.csv's tokens_per_s_* columns" is_true "$D" \
    "float(row('prog', 2)['tokens_per_s_median']) == 2000 and 'metric_unit' not in rows[0] and meta['metric']['columns'] == 'tokens_per_s'"
check "mixed: train_model's records carry no env, the template's do" is_true "$D" \
    "all(('env' in r) == (r['variant'] == 'prog') for r in recs) and all(r['command'][0] == '$T/bin/locked/train_model' for r in recs if r['variant'] == 'locked')"

# --- runs that fail: a failed run with its reason, naming the variant -----------
D=$T/faults
run --threads 1 --reps 1 --out "$D" --metric a.b \
    --command "notjson=$T/prog.sh {threads} {report} notjson" --command "nokey=$T/prog.sh {threads} {report} nokey" \
    --command "noreport=$T/prog.sh {threads} {report} noreport" --command "exit3=$T/prog.sh {threads} {report} exit3"
check "failing templates: exit 1, every file written (rc $rc)" test "$rc" -eq 1 -a -f "$D/summary.csv" -a -f "$D/runs.csv"
check "a report that is not JSON: failed, with the reason" is_true "$D" \
    "[r['reason'] for r in recs if r['variant'] == 'notjson'][0].startswith('report $D/.report-notjson-1-0.json ({report}) is not JSON: ')"
check "a missing metric key: failed, naming the key" is_true "$D" \
    "[r['reason'] for r in recs if r['variant'] == 'nokey'] == [\"report has no positive number at 'a.b' (--metric)\"]"
check "no report: failed" is_true "$D" "[r['status'] for r in recs if r['variant'] == 'noreport'] == ['failed'] and 'wrote no report' in [r['reason'] for r in recs if r['variant'] == 'noreport'][0]"
check "exit code 3: failed" is_true "$D" "[(r['status'], r['exit_code']) for r in recs if r['variant'] == 'exit3'] == [('failed', 3)]"
check "stderr names the variant and what was wrong" grep -qF "scale: nokey 1 threads rep 0: failed (report has no positive number at 'a.b' (--metric))" "$T/stderr"
check "stderr: the report that is not JSON" grep -qF "scale: notjson 1 threads rep 0: failed (report" "$T/stderr"

# a program that goes away after the check: the exec error is the reason
cp "$T/prog.sh" "$T/gone.sh"
cat >"$T/remove.sh" <<EOF
#!/bin/sh
rm -f "$T/gone.sh"
EOF
chmod +x "$T/remove.sh"
D=$T/gone
run --threads 1,2 --reps 1 --out "$D" --work 1 --command "rm=$T/remove.sh" --command "gone=$T/gone.sh {threads} {report}"
check "a program missing at run time: failed with the exec error (rc $rc)" is_true "$D" \
    "[r['reason'] for r in recs if r['variant'] == 'gone' and r['threads'] == 2] == ['exec $T/gone.sh: No such file or directory']"

# --- --work: units / wall time, per thread under weak scaling -------------------
D=$T/work
run --threads 1,2 --reps 2 --out "$D" --work 50 --command "s=sleep 0.05"
check "--work sweep exits 0 (rc $rc)" test "$rc" -eq 0
check "--work, weak: metric = N x threads / wall_s of the same record" is_true "$D" \
    "all(abs(float(l['metric']) - 50 * int(l['threads']) / r['wall_s']) <= 1e-12 * float(l['metric']) for l, r in zip(long, recs))"
check "--work: the default unit" is_true "$D" "meta['metric']['unit'] == 'units/s' and rows[0]['metric_unit'] == 'units/s'"
check "--work: no {report} needed, report null" is_true "$D" "all(r['report'] is None for r in recs)"
D=$T/work-strong
run --threads 1,2 --reps 1 --out "$D" --work 50 --scaling strong --unit steps/s --command "s=sleep 0.05"
check "--work, strong: metric = N / wall_s" is_true "$D" \
    "all(abs(float(l['metric']) - 50 / r['wall_s']) <= 1e-12 * float(l['metric']) and l['metric_unit'] == 'steps/s' for l, r in zip(long, recs))"

# --- --resume: the stored templates, refused when they differ ------------------
D=$T/resume
run --threads 1,2 --reps 2 --out "$D" --work 1 --command "a=$T/prog.sh {threads} {report}" --command 'b=true'
head -n 2 "$D/runs.jsonl" >"$T/keep" && mv "$T/keep" "$D/runs.jsonl"
expect_fail 2 "--command 1 differs from the stored sweep's templates (stored 'a=$T/prog.sh {threads} {report}', given 'a=$T/prog.sh {threads}')" \
    --resume "$D" --command "a=$T/prog.sh {threads}" --command 'b=true'
expect_fail 2 "--command 3 differs from the stored sweep's templates (stored '(none)', given 'c=true')" \
    --resume "$D" --command "a=$T/prog.sh {threads} {report}" --command 'b=true' --command 'c=true'
expect_fail 2 "--command 2 differs" --resume "$D" --command "a=$T/prog.sh {threads} {report}"
expect_fail 2 "--work differs from the stored sweep (stored '1', given '2')" --resume "$D" --work 2
expect_fail 2 "--metric differs from the stored sweep (stored '(default)', given 'x')" --resume "$D" --metric x
run --resume "$D" --command "a=$T/prog.sh {threads} {report}" --command 'b=true'
check "--resume with the same templates completes (rc $rc)" is_true "$D" "len(recs) == 8 and meta['status'] == 'complete'"
head -n 3 "$D/runs.jsonl" >"$T/keep" && mv "$T/keep" "$D/runs.jsonl"
run --resume "$D"
check "--resume without --command takes the stored templates (rc $rc)" is_true "$D" \
    "len(recs) == 8 and sorted(set(r['variant'] for r in recs)) == ['a', 'b'] and len(rows) == 4"

check_finish test_scale_command
