#!/usr/bin/env bash
# peers.sh - make peers: cllm against PyTorch (bench/peers/torch_gpt.py) through
# the scaling harness, build/scale, and the one analysis of its folders.
#
#   scripts/peers.sh [--configs S,G,M] [--threads 1,2] [--reps 3]
#                    [--steps S=20:3,G=5:1,M=3:1] [--policies PASSIVE,ACTIVE]
#                    [--ceilings FILE | --peak-seconds 2] [--bin-dir build] [--python /usr/bin/python3]
#                    [--timeout 900] [--out DIR]
#   scripts/peers.sh --rebuild DIR [--ceilings FILE]    the report again, running nothing
#
# For each config C one build/scale sweep (weak scaling, interleaved, every
# run with rusage and counters, bench/RESULTS.md) into DIR/C/, of:
#   lockfree, locked      <bin-dir>/<variant>/train_model --config C --steps K+1 ... (its
#                         first step is its warm-up, left out of its tokens_per_s)
#   torch-<policy>        one --command per OMP_WAIT_POLICY in --policies:
#                         OMP_NUM_THREADS={threads} OPENBLAS_NUM_THREADS={threads}
#                         OMP_WAIT_POLICY=<policy> <python> bench/peers/torch_gpt.py
#                         --config C --threads {threads} --steps K --warmup W --scaling weak
#                         --report {report}
# (--steps gives K timed steps and W torch warm-up steps per config). Under
# weak scaling both train B sequences per worker or intra-op thread, so the
# comparison is tokens/s, the sweep's metric. OPENBLAS_NUM_THREADS: Debian's
# torch calls the pthread OpenBLAS, which would otherwise start a thread per
# CPU of its own.
#
# The peak the MFU (fraction of the fp32 FMA peak) divides by is measured on
# this machine by <bin-dir>/micro/ceilings at every thread count just before
# the sweeps (--peak-seconds per kernel and thread count, default 2), kept as
# DIR/ceilings.json (--ceilings FILE: a ceilings.json of this machine
# instead); never a constant. The report, scripts/peers-report
# (the analysis package's statistics, the same as every sweep's), writes
# DIR/peers.md and DIR/peers.csv: per config and thread count every variant's
# tokens/s with its interval, MFU, cllm/torch against torch's better wait
# policy (the other is shown beside it), the machine; and one plot in
# plots/<DIR name>/peers.png, .svg.
# Writes results/<UTC YYYYmmddTHHMMSSZ>-<host>-peers/ unless --out DIR.
# Exit: 0 every run ok, 1 a run failed or a runtime error, 2 usage, 130 interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "peers.sh: $1" >&2; exit "${2:-1}"; }
configs=S,G,M threads=1,2 reps=3 steps='S=20:3,G=5:1,M=3:1' policies=PASSIVE,ACTIVE
ceilings='' bin=build python=/usr/bin/python3 timeout=900 out='' rebuild='' peak_s=2
while (($#)); do
    case $1 in
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
        --configs|--threads|--reps|--steps|--policies|--ceilings|--bin-dir|--python|--timeout|--out|--rebuild|--peak-seconds)
            (($# >= 2)) || die "$1 needs a value" 2
            v=$2
            case $1 in
                --configs) configs=$v ;; --threads) threads=$v ;; --reps) reps=$v ;; --steps) steps=$v ;;
                --policies) policies=$v ;; --ceilings) ceilings=$v ;; --bin-dir) bin=$v ;;
                --python) python=$v ;; --timeout) timeout=$v ;; --out) out=$v ;; --rebuild) rebuild=$v ;;
                --peak-seconds) peak_s=$v ;;
            esac
            shift 2 ;;
        *) die "unknown option '$1' (scripts/peers.sh --help)" 2 ;;
    esac
done
report() {   # the one report of the folder $1, with the peak from $ceilings or $1/ceilings.json
    /usr/bin/python3 scripts/peers-report "$1" ${ceilings:+--ceilings "$ceilings"}
}
if [[ -n $rebuild ]]; then
    [[ -d $rebuild ]] || die "--rebuild $rebuild: no such folder"
    report "$rebuild"
    exit
fi

# --- the options (build/scale checks threads, reps and timeout itself) -----------------
declare -A K W
for item in ${steps//,/ }; do
    [[ $item =~ ^([A-Za-z-]+)=([0-9]+)(:([0-9]+))?$ ]] && ((BASH_REMATCH[2] >= 1)) ||
        die "--steps: '$item' is not CONFIG=STEPS[:WARMUP]" 2
    K[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]} W[${BASH_REMATCH[1]}]=${BASH_REMATCH[4]:-1}
done
for c in ${configs//,/ }; do
    case $c in tiny|seed|S|G|M|bench) ;; *) die "--configs: '$c' is not one torch_gpt.py knows (tiny seed S G M bench)" 2 ;; esac
done
for p in ${policies//,/ }; do
    [[ $p == PASSIVE || $p == ACTIVE ]] || die "--policies: '$p' is not PASSIVE or ACTIVE" 2
done
[[ -n ${configs//,/} && -n ${policies//,/} ]] || die "--configs and --policies need at least one entry" 2
[[ -x $bin/scale ]] || die "$bin/scale is missing: run make all"
"$python" -c 'import torch' 2>/dev/null ||
    die "$python cannot import torch: sudo apt-get install python3-torch (or --python PATH)"
out=${out:-$("$bin/scale" --default-out)-peers}
mkdir -p "$out" || die "cannot create $out"

# --- the peak, measured here, now --------------------------------------------------------
if [[ -n $ceilings ]]; then
    [[ -f $ceilings ]] || die "--ceilings $ceilings: no such file"
else
    [[ -x $bin/micro/ceilings ]] || die "$bin/micro/ceilings is missing (it measures the FMA peak): run make all, or give --ceilings FILE"
    echo "peers.sh: measuring the FMA peak: $bin/micro/ceilings --threads $threads --seconds $peak_s" >&2
    "$bin/micro/ceilings" --threads "$threads" --seconds "$peak_s" --out "$out/ceilings.json" >/dev/null ||
        die "$bin/micro/ceilings --seconds $peak_s failed"
fi

# --- one sweep per config ------------------------------------------------------------------
echo "peers.sh: results in $out/<config>/ and $out/peers.md, plots in plots/${out##*/}/" >&2
rc=0
for c in ${configs//,/ }; do
    k=${K[$c]:-10} w=${W[$c]:-1}
    cmds=()
    for p in ${policies//,/ }; do
        cmds+=(--command "torch-${p,,}=OMP_NUM_THREADS={threads} OPENBLAS_NUM_THREADS={threads} OMP_WAIT_POLICY=$p $python bench/peers/torch_gpt.py --config $c --threads {threads} --steps $k --warmup $w --scaling weak --report {report}")
    done
    args=(--threads "$threads" --reps "$reps" --config "$c" --steps $((k + 1)) --scaling weak
          --variants lockfree,locked "${cmds[@]}" --bin-dir "$bin" --timeout "$timeout")
    if [[ -f $out/$c/runs.jsonl ]]; then args=(--resume "$out/$c" "${args[@]}"); else args+=(--out "$out/$c"); fi
    est=$("$bin/scale" --dry-run "${args[@]}" 2>/dev/null | "$python" scripts/bench_estimate.py "$(nproc)" || true)
    [[ -z $est ]] || echo "peers.sh: config $c, expected time on this machine: $est" >&2
    r=0
    "$bin/scale" "${args[@]}" || r=$?
    [[ $r -eq 0 || $r -eq 1 ]] || { echo "peers.sh: build/scale exited $r on config $c; finish with the same command" >&2; exit "$r"; }
    ((r == 0)) || rc=1
done
report "$out" || rc=1
exit "$rc"
