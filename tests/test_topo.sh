#!/usr/bin/env bash
# test_topo.sh - the topology module on this machine: build/topo's JSON
# against lscpu, run now (packages, cores, threads per core, NUMA nodes, CPU
# model, L1d/L1i/L2/L3 sizes and instances: compared, never constants); the
# quota-aware usable CPUs and the SMT label in build/scale under a fake
# cpu.max (CLLM_TOPO_CGROUP_ROOT, test only) and a synthetic SMT machine
# (HWLOC_SYNTHETIC); and, where this runs as root with a writable cgroup
# hierarchy holding the cpu controller, under a real cgroup with a 0.5-CPU
# quota. Ends with "N passed, N failed, N skipped"; non-zero exit on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=/usr/bin/python3
T=$(mktemp -d)
CG=''
cleanup() { [[ -n $CG && -d $CG ]] && rmdir "$CG" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
source tests/check.sh
# pyck FILE EXPR: evaluates EXPR with j = the JSON in FILE
pyck() { "$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"; }

check_built test_topo "$BUILD/topo" "$BUILD/scale"

# --- build/topo against lscpu ----------------------------------------------------
rc=0; "$BUILD/topo" >"$T/topo.json" 2>"$T/err" || rc=$?
check "topo exits 0" test $rc -eq 0
check "topo prints one JSON object" pyck "$T/topo.json" "isinstance(j, dict) and j['this_system']"
rc=0; "$BUILD/topo" --bogus >/dev/null 2>"$T/err" || rc=$?
check "topo --bogus: exit 2 with usage" test $rc -eq 2 -a -s "$T/err"
check "topo --help: exit 0" "$BUILD/topo" --help >/dev/null
lscpu -J >"$T/lscpu.json"
lscpu -J -C -B >"$T/lscpu-caches.json"
lscpu -p=CPU,CORE,SOCKET,NODE >"$T/lscpu.csv"
"$PY" - "$T/topo.json" "$T/lscpu.json" "$T/lscpu-caches.json" "$T/lscpu.csv" >"$T/cmp.out" <<'EOF' || true
import json, sys
topo, summary, caches = (json.load(open(p)) for p in sys.argv[1:4])
def flat(items):                      # lscpu -J nests fields under "children" in some versions
    for it in items:
        yield it
        yield from flat(it.get('children', []))
field = {it['field'].rstrip(':'): it['data'] for it in flat(summary['lscpu'])}
rows = [l.strip().split(',') for l in open(sys.argv[4]) if not l.startswith('#')]
cores = {(r[2], r[1]) for r in rows}
nodes = {r[3] for r in rows if r[3] != ''}
def cmp(what, mine, theirs):
    print(f"{'ok  ' if mine == theirs else 'FAIL'} {what}: topo {mine}, lscpu {theirs}")
cmp('PUs (online CPUs)', topo['pus'], len(rows))
cmp('packages (distinct sockets)', topo['packages'], len({r[2] for r in rows}))
cmp('cores (distinct socket,core)', topo['cores'], len(cores))
cmp('NUMA nodes', topo['numa_nodes'], len(nodes) if nodes else 1)
for k, mine in (('Socket(s)', topo['packages']), ('Thread(s) per core', topo['pus_per_core']),
                ('NUMA node(s)', topo['numa_nodes']), ('Model name', topo['cpu_model'])):
    if k in field:
        cmp(k, mine if k == 'Model name' else str(mine), field[k] if k == 'Model name' else field[k].strip())
    else:
        print(f'SKIP: {k}: lscpu does not report it here')
if 'Core(s) per socket' in field and 'Socket(s)' in field:
    cmp('Core(s) per socket x Socket(s)', topo['cores'], int(field['Core(s) per socket']) * int(field['Socket(s)']))
mine = {c['name']: c for c in topo['caches']}
for c in caches['caches']:
    m = mine.get(c['name'])
    if c['name'] not in ('L1d', 'L1i', 'L2', 'L3') and not m:
        continue
    if not m:
        print(f"FAIL {c['name']}: lscpu lists it, topo does not"); continue
    cmp(f"{c['name']} size of one", int(m['size_bytes']), int(c['one-size']))
    cmp(f"{c['name']} size of all", int(m['total_bytes']), int(c['all-size']))
    cmp(f"{c['name']} level", m['level'], int(c['level']))
for n in mine:
    if n not in {c['name'] for c in caches['caches']}: print(f'FAIL {n}: topo lists it, lscpu does not')
EOF
cat "$T/cmp.out"
n_ok=$(grep -c '^ok ' "$T/cmp.out" || true); n_bad=$(grep -c '^FAIL' "$T/cmp.out" || true)
n_skip=$(grep -c '^SKIP: ' "$T/cmp.out" || true)
check_pass=$((check_pass + n_ok)) check_fail=$((check_fail + n_bad)) check_skip=$((check_skip + n_skip))
check "lscpu comparison ran (>= 10 fields)" test "$n_ok" -ge 10

# --- scale under a fake quota and a synthetic SMT machine -------------------------
for v in lockfree locked; do
    mkdir -p "$T/bin/$v"; cp tests/fake_train_model.sh "$T/bin/$v/train_model"; chmod +x "$T/bin/$v/train_model"
done
export FAKE_SLEEP=0.01
FAST=(--bin-dir "$T/bin" --config tiny --steps 2 --reps 1 --variants lockfree)
# rec DIR THREADS EXPR: EXPR over r = the runs.jsonl record, row = its summary.csv row, meta
rec() {
    "$PY" - "$@" <<'EOF'
import csv, json, sys
d, t, expr = sys.argv[1], int(sys.argv[2]), sys.argv[3]
r = next(x for x in map(json.loads, open(d + '/runs.jsonl')) if x['threads'] == t)
row = next(x for x in csv.DictReader(open(d + '/summary.csv')) if int(x['threads']) == t)
meta = json.load(open(d + '/meta.json'))
sys.exit(0 if eval(expr) else 1)
EOF
}
mkdir -p "$T/cg/sweep"
echo "50000 100000" >"$T/cg/sweep/cpu.max"
CLLM_TOPO_CGROUP_ROOT="$T/cg" CLLM_TOPO_CGROUP_PATH=/sweep \
    "$BUILD/scale" "${FAST[@]}" --threads 1,2 --out "$T/q" >"$T/q.out" 2>"$T/q.err" || true
check "fake 0.5-CPU quota: scale says so" grep -qF "1 usable CPUs: the cgroup quota (0.50 CPUs at /sweep)" "$T/q.err"
check "fake quota: 2 threads oversubscribed" rec "$T/q" 2 "r['oversubscribed'] and r['usable_cpus'] == 1 and row['oversubscribed'] == '1'"
check "fake quota: 1 thread not" rec "$T/q" 1 "not r['oversubscribed'] and row['usable_cpus'] == '1'"
check "fake quota in meta.json" rec "$T/q" 1 "meta['host']['usable_cpus'] == 1 and meta['host']['topology']['cgroup']['quota_cpus'] == 0.5 and meta['host']['topology']['cgroup']['override']"
check "fake quota: table label" grep -qF "oversubscribed (2 threads > 1 usable CPUs)" "$T/q.out"

SYN="pack:1 l3:1(size=8MiB) l2:2(size=1MiB) core:1 pu:2"      # 2 cores x 2 SMT siblings
HWLOC_SYNTHETIC=$SYN "$BUILD/scale" "${FAST[@]}" --threads 1,2,3,4,5 --out "$T/smt" >"$T/smt.out" 2>&1 || true
check "synthetic SMT: 2 threads on own cores" rec "$T/smt" 2 "not r['smt_shared'] and not r['oversubscribed'] and r['cores'] == 2"
check "synthetic SMT: 3 threads share siblings" rec "$T/smt" 3 "r['smt_shared'] and not r['oversubscribed'] and row['smt_shared'] == '1'"
check "synthetic SMT: 4 threads share siblings" rec "$T/smt" 4 "r['smt_shared'] and r['usable_cpus'] == 4"
check "synthetic SMT: 5 threads oversubscribed, not SMT" rec "$T/smt" 5 "r['oversubscribed'] and not r['smt_shared'] and row['smt_shared'] == '0'"
check "synthetic SMT: table label" grep -qF "SMT siblings shared (3 threads > 2 cores)" "$T/smt.out"
check "synthetic SMT: topology in meta.json" rec "$T/smt" 1 "meta['host']['topology']['pus_per_core'] == 2 and not meta['host']['topology']['this_system']"
echo "300000 100000" >"$T/cg/sweep/cpu.max"
CLLM_TOPO_CGROUP_ROOT="$T/cg" CLLM_TOPO_CGROUP_PATH=/sweep HWLOC_SYNTHETIC=$SYN \
    "$BUILD/scale" "${FAST[@]}" --threads 3,4 --out "$T/smtq" >"$T/smtq.out" 2>&1 || true
check "SMT + 3-CPU quota: 3 threads share siblings" rec "$T/smtq" 3 "r['smt_shared'] and r['usable_cpus'] == 3"
check "SMT + 3-CPU quota: 4 threads oversubscribed" rec "$T/smtq" 4 "r['oversubscribed'] and not r['smt_shared']"

# --- a real cgroup with a 0.5-CPU quota -------------------------------------------
real_cgroup() {   # prints the folder of a new child cgroup with the cpu controller, or why not
    local v2 v1
    v2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
    if [[ -n $v2 ]] && grep -qw cpu "$v2/cgroup.controllers" 2>/dev/null; then
        # only where the cpu controller is already on for the root's children: the
        # test does not change the machine's cgroup configuration
        if grep -qw cpu "$v2/cgroup.subtree_control" 2>/dev/null && mkdir "$v2/cllm-test-topo.$$" 2>/dev/null; then
            echo "2 $v2/cllm-test-topo.$$"; return
        fi
    fi
    v1=$(awk '$9 == "cgroup" && $NF ~ /(^|,)cpu(,|$)/ {print $5; exit}' /proc/self/mountinfo)
    if [[ -n $v1 ]] && mkdir "$v1/cllm-test-topo.$$" 2>/dev/null; then echo "1 $v1/cllm-test-topo.$$"; return; fi
    echo "0 no writable cgroup hierarchy with the cpu controller (uid $(id -u))"
}
read -r ver CG <<<"$(real_cgroup)"
if [[ $ver == 0 ]]; then
    skip "real cgroup: $CG; the fake cpu.max above covers the logic"; CG=''
else
    if [[ $ver == 2 ]]; then echo "50000 100000" >"$CG/cpu.max"
    else echo 100000 >"$CG/cpu.cfs_period_us"; echo 50000 >"$CG/cpu.cfs_quota_us"; fi
    # the child joins the cgroup, then runs topo and scale in it
    sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2/topo"' sh "$CG" "$BUILD" >"$T/real.json" 2>"$T/real.err" || true
    sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$BUILD/scale" "${FAST[@]}" \
        --threads 1,2 --out "$T/real" >"$T/real.out" 2>"$T/real.err2" || true
    echo "real cgroup v$ver: $(pyck "$T/real.json" True && "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["cgroup"])' "$T/real.json")"
    check "real cgroup v$ver: quota 0.5 CPUs read" pyck "$T/real.json" "j['cgroup']['quota_cpus'] == 0.5 and j['cgroup']['version'] == $ver and j['cgroup']['limit_at'].endswith('cllm-test-topo.$$') and not j['cgroup']['override']"
    check "real cgroup: usable 1" pyck "$T/real.json" "j['usable_cpus'] == 1"
    check "real cgroup: scale judges 2 threads oversubscribed" rec "$T/real" 2 "r['oversubscribed'] and r['usable_cpus'] == 1"
    # the pool decides with the same definition: its waiters sleep at once
    sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$BUILD/train_model" --threads 2 --steps 1 \
        --eval-batches 0 --quiet --report "$T/real-pool.json" >/dev/null 2>&1 || true
    check "real cgroup: train_model's pool (2 threads) counts 1 usable CPU and does not spin" \
        pyck "$T/real-pool.json" "j['usable_cpus'] == 1 and j['barrier_spin_ns'] == 0"
    rmdir "$CG" && CG=''
    check "real cgroup removed" test -z "$CG"
fi

check_finish test_topo
