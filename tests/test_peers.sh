#!/usr/bin/env bash
# test_peers.sh - make peers' path: scripts/peers.sh runs cllm and PyTorch
# (bench/peers/torch_gpt.py) through build/scale with --command templates
# (threads and both OMP_WAIT_POLICY values from the template), measures the
# FMA peak with build/micro/ceilings, and scripts/peers-report writes one
# table and one plot. Config tiny at 1 and 2 threads, 2 reps. Checked, as
# arithmetic on what the same run recorded (no speed is assumed): every
# point went through the harness with its command and environment; torch ran
# its intra-op threads from {threads} and the weak-scaling batch; MFU =
# flops_per_step x tokens/s / tokens_per_step / the peak measured at that
# thread count; torch's figure is its better wait policy; cllm / torch is
# the ratio of the medians; the machine and the unit are named; --rebuild
# runs nothing. Needs python3-torch (scripts/deps.sh): without it the test
# fails. Skipped on the sanitizer builds (SKIP line, the reason below). Ends
# with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T" "plots/$(basename "$T")-peers"' EXIT
source tests/check.sh
# expect RC TEXT ARGS...: peers.sh exits RC and its stderr holds TEXT
expect() {
    local want=$1 text=$2; shift 2
    local rc=0
    scripts/peers.sh "$@" >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc -eq $want ]] && grep -qF -- "$text" "$T/err"; then ok; else
        bad "peers.sh $* -> rc $rc (want $want, '$text'): $(head -c 300 "$T/err")"; fi
}

check_built test_peers "$BUILD/scale" "$BUILD/micro/ceilings" "$BUILD/lockfree/train_model"
# On a sanitizer build this test would add only PyTorch's time: its parts
# that run BUILD's binaries run there in their own tests (scale's --command
# templates: test_scale_command.sh; the ceilings: test_micro.sh; train_model
# tiny at 1 and 2 threads: test_cli.sh and most others)
if [[ $BUILD == *san* ]]; then
    skip "make peers' run: on $BUILD it adds only PyTorch's time (scale's templates, the ceilings and train_model run under the sanitizers in test_scale_command.sh, test_micro.sh, test_cli.sh); the plain suite runs it"
    check_finish test_peers; exit
fi
"$PY" -c 'import torch' 2>/dev/null || { bad "$PY cannot import torch (scripts/deps.sh)"; check_finish test_peers; exit 1; }

expect 2 "--policies: 'LAZY' is not PASSIVE or ACTIVE" --policies LAZY
expect 2 "--steps: 'tiny=x' is not CONFIG=STEPS[:WARMUP]" --steps tiny=x
expect 2 "--configs: 'XL' is not one torch_gpt.py knows" --configs XL
expect 2 "unknown option '--bogus'" --bogus
expect 1 "--rebuild $T/none: no such folder" --rebuild "$T/none"

D=$T/$(basename "$T")-peers
rc=0
scripts/peers.sh --configs tiny --threads 1,2 --reps 2 --steps tiny=3:1 --peak-seconds 0.1 \
    --bin-dir "$BUILD" --out "$D" >"$T/out" 2>"$T/err" || rc=$?
check "peers.sh exits 0 (rc $rc: $(tail -c 300 "$T/err"))" test "$rc" -eq 0
check "the FMA peak measured here, now, into the folder" "$PY" - "$D/ceilings.json" <<'EOF'
import json, socket, sys
c = json.load(open(sys.argv[1]))
assert c['tool'] == 'ceilings' and c['hostname'] == socket.gethostname(), c.get('hostname')
assert sorted(r['threads'] for r in c['fma']) == [1, 2] and all(r['best_gflops'] > 0 for r in c['fma'])
EOF
check "every point through build/scale: templates, commands and environment" "$PY" - "$D/tiny" <<'EOF'
import json, sys
d = sys.argv[1]
m = json.load(open(d + '/meta.json'))
assert m['tool'] == 'scale' and m['options']['variants'] == ['lockfree', 'locked'], m['options']
assert [c['name'] for c in m['options']['commands']] == ['torch-passive', 'torch-active']
assert m['options']['scaling'] == 'weak' and m['options']['steps'] == 4 and m['metric']['unit'] == 'tokens/s'
recs = [json.loads(l) for l in open(d + '/runs.jsonl')]
assert len(recs) == 16 and all(r['status'] == 'ok' for r in recs), [r['reason'] for r in recs]
for r in recs:
    n = str(r['threads'])
    if r['variant'].startswith('torch'):
        pol = r['variant'].split('-')[1].upper()
        assert r['env'] == {'OMP_NUM_THREADS': n, 'OPENBLAS_NUM_THREADS': n, 'OMP_WAIT_POLICY': pol}, r['env']
        c = r['command']
        assert c[1] == 'bench/peers/torch_gpt.py' and c[c.index('--threads') + 1] == n and '--report' in c, c
        rep = r['report']
        assert rep['intra_op_threads'] == r['threads'] and rep['omp_wait_policy'] == pol, rep
        assert rep['batch'] == 4 * r['threads'] and rep['scaling'] == 'weak', rep       # tiny: B = 4 per thread
    else:
        assert 'env' not in r and r['command'][0].endswith('/' + r['variant'] + '/train_model')
        assert r['report']['tokens_per_step'] == 4 * 16 * r['threads']                    # B T N
EOF
check "peers.csv: MFU, the better policy, cllm / torch, from the records and the measured peak" "$PY" - "$D" <<'EOF'
import csv, json, math, statistics, sys
d = sys.argv[1]
recs = [json.loads(l) for l in open(d + '/tiny/runs.jsonl')]
peak = {r['threads']: r['best_gflops'] for r in json.load(open(d + '/ceilings.json'))['fma']}
rows = list(csv.DictReader(open(d + '/peers.csv')))
assert len(rows) == 8, len(rows)
rel = lambda a, b: abs(a - b) <= 1e-4 * abs(b)
med, tpsl = {}, {}
# the speedup is the Hodges-Lehmann ratio: the median of every pairwise ratio
hl = lambda c, b: math.exp(statistics.median(math.log(x / y) for x in c for y in b))
for row in rows:
    v, n = row['variant'], int(row['threads'])
    rs = [r for r in recs if r['variant'] == v and r['threads'] == n]
    tps = statistics.median(r['report']['tokens_per_s'] for r in rs)
    med[v, n] = tps
    tpsl[v, n] = [r['report']['tokens_per_s'] for r in rs]
    fl = statistics.median(r['report']['flops_per_step'] / r['report']['tokens_per_step'] for r in rs)
    assert rel(float(row['metric_median']), tps) and row['metric_unit'] == 'tokens/s', row
    assert rel(float(row['peak_gflops']), peak[n]), row
    assert rel(float(row['mfu']), fl * tps / 1e9 / peak[n]), (row['mfu'], fl * tps / 1e9 / peak[n])
for n in (1, 2):
    best = max(('torch-passive', 'torch-active'), key=lambda v: med[v, n])
    ch = {row['variant']: row['chosen'] for row in rows if int(row['threads']) == n}
    assert ch[best] == '1' and ch[({'torch-passive', 'torch-active'} - {best}).pop()] == '0', ch
    for row in rows:
        if int(row['threads']) == n and row['impl'] == 'cllm':
            assert row['peer_variant'] == best and rel(float(row['cllm_over_peer']), hl(tpsl[row['variant'], n], tpsl[best, n])), row
EOF
check "peers.md names the machine, the unit and the MFU column" "$PY" - "$D/peers.md" <<'EOF'
import re, socket, sys
t = open(sys.argv[1]).read()
assert f'`{socket.gethostname()}`' in t and 'usable CPUs' in t, t[:400]
assert '| tokens/s median [min-max] |' in t and '| MFU [min-max] |' in t and 'cllm / peer [95%]' in t
assert re.search(r'\| torch \| torch-(passive|active) \(beside torch-(passive|active): ', t), t
assert 'fp32 FMA peak at the same thread count' in t and "build/micro/ceilings' " in t
EOF
check "the table with MFU beside tokens/s on stdout" grep -q "| tokens/s median \[min-max\] | cllm / peer \[95%\] | GFLOP/s | MFU" "$T/out"
check "the one plot, PNG and SVG" test -s "plots/$(basename "$D")/peers.png" -a -s "plots/$(basename "$D")/peers.svg"

cp "$D/tiny/runs.jsonl" "$T/runs.before"
rm "$D/peers.md"
rc=0
scripts/peers.sh --rebuild "$D" >"$T/out" 2>"$T/err" || rc=$?
check "--rebuild rewrites the report and runs nothing (rc $rc)" test "$rc" -eq 0 -a -s "$D/peers.md"
check "--rebuild leaves runs.jsonl as it was" cmp -s "$T/runs.before" "$D/tiny/runs.jsonl"

check_finish test_peers
