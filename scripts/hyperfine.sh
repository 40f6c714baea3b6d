#!/usr/bin/env bash
# hyperfine.sh - wall time of train_model per variant x thread count with
# hyperfine, next to the harness's medians.
#
#   scripts/hyperfine.sh [--threads 1,2,4,8,16,32,63] [--variants lockfree,locked]
#                        [--config bench] [--steps 6] [--scaling weak] [--data PATH]
#                        [--runs 5] [--warmup 1] [--bin-dir build] [--run DIR | --out DIR]
#
# Runs
#     hyperfine -N --warmup W --runs R -L variant lockfree,locked -L threads 1,2,... \
#         --export-json hyperfine.json --export-markdown hyperfine.md \
#         '<bin-dir>/{variant}/train_model [DATA] --config C --threads {threads} --steps K --scaling S
#          --eval-batches 0 --quiet --report <folder>/.hyperfine-report-{variant}-{threads}.json'
# with OPENBLAS_NUM_THREADS=1 in the environment, which is the harness's child
# command and environment (bench/RESULTS.md): the report too, as train_model writes
# and fsyncs it before it exits, in both (the report files are removed after).
# (-N: no shell in between, as the harness spawns train_model directly; the
# first -L varies fastest, so the variants alternate at each thread count and
# slow drift does not fall on one of them). The folder is
# results/<UTC YYYYmmddTHHMMSSZ>-<host>-hyperfine/, or, with --run DIR, the
# harness run folder DIR itself (its meta.json gives the defaults of threads,
# variants, config, steps, scaling, data and bin-dir, so the points are the
# harness's); --out DIR names another folder.
#
# hyperfine.csv - one row per point, for scripts/analyze.py (read when present):
#   variant,threads       the point
#   runs                  timed runs (after the warm-up runs)
#   mean_s,stddev_s       hyperfine's mean and standard deviation of the wall time, seconds
#                         (stddev NA with --runs 1)
#   median_s,min_s,max_s  hyperfine's median, min, max wall time, seconds
#   user_s,system_s       hyperfine's mean user and system CPU time, seconds
#   harness_wall_median_s the harness's wall_median_s for the same point (summary.csv of
#                         the --run folder); NA without one or when the point is not in it
#   mean_over_harness     mean_s / harness_wall_median_s; NA likewise
# Both measure spawn to exit of the whole process (start-up, init, training).
#
# Exit codes: 0 ok, 1 runtime failure (hyperfine missing, a command failed), 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-/usr/bin/python3}
HYPERFINE=${HYPERFINE:-hyperfine}
me=hyperfine.sh

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }
die() { echo "$me: $*" >&2; exit 1; }
usage_err() { echo "$me: $*" >&2; echo "$me: see $0 --help" >&2; exit 2; }

declare -A opt=([threads]="1,2,4,8,16,32,63" [variants]="lockfree,locked" [config]=bench
                [steps]=6 [scaling]=weak [data]='' [runs]=5 [warmup]=1 [bin-dir]=build)
declare -A given=()
run_dir='' out=''
while [[ $# -gt 0 ]]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --run) [[ $# -ge 2 ]] || usage_err "--run needs a folder"; run_dir=$2; shift 2 ;;
        --out) [[ $# -ge 2 ]] || usage_err "--out needs a folder"; out=$2; shift 2 ;;
        --threads|--variants|--config|--steps|--scaling|--data|--runs|--warmup|--bin-dir)
            k=${1#--}
            [[ $# -ge 2 ]] || usage_err "$1 needs a value"
            opt[$k]=$2; given[$k]=1; shift 2 ;;
        *) usage_err "unknown option '$1'" ;;
    esac
done
[[ -n $run_dir && -n $out ]] && usage_err "--run and --out cannot be combined"

if [[ -n $run_dir ]]; then
    [[ -d $run_dir ]] || usage_err "--run $run_dir: no such folder"
    if [[ -f $run_dir/meta.json ]]; then
        while IFS='=' read -r k v; do
            [[ -n ${given[$k]:-} ]] || opt[$k]=$v
        done < <("$PY" - "$run_dir/meta.json" <<'PYEOF'
import json, sys
o = json.load(open(sys.argv[1])).get('options', {})
for k in ('threads', 'variants', 'config', 'steps', 'scaling', 'data', 'bin-dir'):
    v = o.get(k)
    if v is not None:
        print(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}")
PYEOF
        ) || die "--run $run_dir: cannot read meta.json"
    fi
    out=$run_dir
fi

[[ ${opt[threads]} =~ ^[0-9]+(,[0-9]+)*$ ]] || usage_err "--threads '${opt[threads]}': want a list like 1,2,4"
IFS=, read -r -a threads <<<"${opt[threads]}"
for t in "${threads[@]}"; do
    ((10#$t >= 1 && 10#$t <= 1024)) || usage_err "--threads: $t is not in 1..1024"
done
IFS=, read -r -a variants <<<"${opt[variants]}"
for v in "${variants[@]}"; do
    [[ $v == lockfree || $v == locked ]] || usage_err "--variants: unknown variant '$v' (lockfree, locked)"
done
if ! [[ ${opt[runs]} =~ ^[0-9]+$ ]] || ((opt[runs] < 1)); then
    usage_err "--runs '${opt[runs]}': want 1 or more"
fi
[[ ${opt[warmup]} =~ ^[0-9]+$ ]] || usage_err "--warmup '${opt[warmup]}': want 0 or more"
if ! [[ ${opt[steps]} =~ ^[0-9]+$ ]] || ((opt[steps] < 1)); then
    usage_err "--steps '${opt[steps]}': want a positive integer"
fi
[[ ${opt[scaling]} == weak || ${opt[scaling]} == strong ]] || usage_err "--scaling '${opt[scaling]}': weak or strong"
[[ -z ${opt[data]} || -e ${opt[data]} ]] || usage_err "--data ${opt[data]}: no such file or folder"
for k in bin-dir data; do
    [[ ${opt[$k]} != *[{}\'\"\ ]* ]] \
        || usage_err "--$k '${opt[$k]}' may not hold spaces, quotes or braces (hyperfine splits the command)"
done
for v in "${variants[@]}"; do
    [[ -x ${opt[bin-dir]}/$v/train_model ]] || die "${opt[bin-dir]}/$v/train_model is missing: run make all"
done
if ! command -v "$HYPERFINE" >/dev/null 2>&1; then
    die "hyperfine not found (looked for '$HYPERFINE' on PATH). Install it:
    sudo apt-get install hyperfine       # Debian 12 ships 1.15
or set HYPERFINE=/path/to/hyperfine."
fi
hv=$("$HYPERFINE" --version 2>&1) || die "'$HYPERFINE --version' failed: $hv"

if [[ -z $out ]]; then
    out=results/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)-hyperfine
fi
[[ $out != *[{}\'\"\ ]* ]] || usage_err "folder '$out' may not hold spaces, quotes or braces (hyperfine splits the command)"
[[ -e $out/hyperfine.json ]] && die "$out already holds a hyperfine.json: remove it or choose another folder"
mkdir -p "$out" || die "cannot create $out"
[[ -w $out ]] || die "$out is not writable"

cmd="${opt[bin-dir]}/{variant}/train_model${opt[data]:+ ${opt[data]}} --config ${opt[config]} --threads {threads} --steps ${opt[steps]} --scaling ${opt[scaling]} --eval-batches 0 --quiet --report $out/.hyperfine-report-{variant}-{threads}.json"
rc=0
OPENBLAS_NUM_THREADS=1 "$HYPERFINE" -N --style basic --warmup "${opt[warmup]}" --runs "${opt[runs]}" \
    -L variant "${opt[variants]}" -L threads "${opt[threads]}" \
    --export-json "$out/.hyperfine.json.tmp" --export-markdown "$out/.hyperfine.md.tmp" \
    "$cmd" || rc=$?
rm -f "$out"/.hyperfine-report-*.json
[[ $rc -eq 0 ]] || { rm -f "$out"/.hyperfine.*.tmp; die "hyperfine failed (exit code $rc): a train_model run failed or was interrupted"; }
mv "$out/.hyperfine.json.tmp" "$out/hyperfine.json"
mv "$out/.hyperfine.md.tmp" "$out/hyperfine.md"

# hyperfine.csv, beside the harness's medians when the folder has them
"$PY" - "$out" "$hv" <<'PYEOF'
import csv, json, os, sys
out, hv = sys.argv[1:3]
res = json.load(open(os.path.join(out, 'hyperfine.json')))['results']
harness = {}
summ = os.path.join(out, 'summary.csv')
if os.path.exists(summ):
    for r in csv.DictReader(open(summ)):
        try:
            harness[(r['variant'], int(r['threads']))] = float(r['wall_median_s'])
        except (KeyError, ValueError):
            pass
cols = ['variant', 'threads', 'runs', 'mean_s', 'stddev_s', 'median_s', 'min_s', 'max_s',
        'user_s', 'system_s', 'harness_wall_median_s', 'mean_over_harness']
rows = []
for r in res:
    v, t = r['parameters']['variant'], int(r['parameters']['threads'])
    h = harness.get((v, t))
    g = lambda x: f'{x:.6f}' if x is not None else 'NA'
    rows.append({'variant': v, 'threads': t, 'runs': len(r['times']), 'mean_s': g(r['mean']),
                 'stddev_s': g(r.get('stddev')), 'median_s': g(r['median']), 'min_s': g(r['min']),
                 'max_s': g(r['max']), 'user_s': g(r['user']), 'system_s': g(r['system']),
                 'harness_wall_median_s': g(h), 'mean_over_harness': f"{r['mean'] / h:.4f}" if h else 'NA'})
tmp = os.path.join(out, '.hyperfine.csv.tmp')
with open(tmp, 'w', newline='') as f:
    w = csv.DictWriter(f, cols, lineterminator='\n')
    w.writeheader()
    w.writerows(rows)
os.replace(tmp, os.path.join(out, 'hyperfine.csv'))
print(f"{'variant':<9} {'threads':>7} {'mean s':>9} {'+- s':>8} {'median s':>9} {'harness s':>10} {'ratio':>7}")
for r in rows:
    print(f"{r['variant']:<9} {r['threads']:>7} {r['mean_s']:>9.9} {r['stddev_s']:>8.8} {r['median_s']:>9.9} "
          f"{r['harness_wall_median_s']:>10.10} {r['mean_over_harness']:>7}")
print(f'{hv}; wrote {os.path.join(out, "hyperfine.csv")}')
PYEOF
