#!/usr/bin/env bash
# roofline.sh - measure this machine's ceilings and the core's kernels, and
# plot them on a roofline.
#
#   scripts/roofline.sh --measure [options]   make micro: a new run folder
#       1. build/micro/ceilings (at 1, 2, 4, ... and all CPUs) -> RUN/ceilings.json
#       2. build/micro/micro (repetitions) -> RUN/micro.json (+ micro.txt), then
#          the core's kernels in each other ISA clone the CPU runs (CLLM_ISA)
#          -> RUN/micro-<clone>.json, and the ceilings of each clone's ISA at 1
#          thread (ceilings --isa) -> RUN/ceilings-<clone>.json
#       3. train_model --config S at 1 and all online CPUs -> RUN/train_t<N>.json
#       4. the roofline (below)
#   scripts/roofline.sh [options] [RUN]      make roofline: redo step 4 for RUN
#       (default: the newest results/*-micro); steps 1 and 3 are run first
#       when their files are missing.
#   4. scripts/roofline.py -> RUN/roofline.md, RUN/roofline.json,
#      PLOTS/roofline.{png,svg} (+ the gnuplot script and data beside them)
#
# options:
#   --out DIR         run folder (default results/<UTC time>-<host>-micro)
#   --plots DIR       plot folder (default plots/<basename of RUN>)
#   --reps N          --benchmark_repetitions (default 5)
#   --min-time S      --benchmark_min_time, seconds (default 0.2)
#   --filter RE       --benchmark_filter (default: all)
#   --seconds S       ceilings: time per measurement (default 0.5)
#   --train-steps N   train_model steps (default 20; the first is warm-up)
#
# BUILD (default build) selects the binaries. Outputs go under results/ and
# plots/ only (or where --out / --plots say). Exit 1 on any failure, 2 on usage.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

measure=0 run='' plots='' reps=5 min_time=0.2 filter='' seconds=0.5 train_steps=20
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die_usage() { echo "roofline.sh: $*" >&2; echo "(scripts/roofline.sh --help lists the options)" >&2; exit 2; }
need() { [[ $# -ge 2 && -n $2 ]] || die_usage "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
    case $1 in
        --help|-h) usage; exit 0 ;;
        --measure) measure=1; shift ;;
        --out) need "$@"; run=$2; shift 2 ;;
        --plots) need "$@"; plots=$2; shift 2 ;;
        --reps) need "$@"; reps=$2; shift 2 ;;
        --min-time) need "$@"; min_time=$2; shift 2 ;;
        --filter) need "$@"; filter=$2; shift 2 ;;
        --seconds) need "$@"; seconds=$2; shift 2 ;;
        --train-steps) need "$@"; train_steps=$2; shift 2 ;;
        -*) die_usage "unknown option '$1'" ;;
        *) [[ -z $run ]] || die_usage "more than one run folder ('$run' and '$1')"; run=$1; shift ;;
    esac
done
[[ $reps =~ ^[1-9][0-9]*$ ]] || die_usage "--reps: '$reps' is not a positive integer"
[[ $train_steps =~ ^[1-9][0-9]*$ ]] || die_usage "--train-steps: '$train_steps' is not a positive integer"
[[ $min_time =~ ^[0-9]*\.?[0-9]+$ ]] || die_usage "--min-time: '$min_time' is not a number of seconds"
[[ $seconds =~ ^[0-9]*\.?[0-9]+$ ]] || die_usage "--seconds: '$seconds' is not a number of seconds"

for bin in "$BUILD/micro/micro" "$BUILD/micro/ceilings" "$BUILD/lockfree/train_model"; do
    [[ -x $bin ]] || { echo "roofline.sh: $bin is not built (make all)" >&2; exit 1; }
done
for tool in python3 gnuplot; do
    command -v "$tool" >/dev/null || { echo "roofline.sh: $tool is missing (scripts/deps.sh)" >&2; exit 1; }
done
cpus=$(getconf _NPROCESSORS_ONLN)

if [[ $measure -eq 1 ]]; then
    if [[ -z $run ]]; then
        host=$(hostname | tr -c 'A-Za-z0-9.\n-' '_')
        run="results/$(date -u +%Y%m%dT%H%M%SZ)-$host-micro"
    fi
    [[ ! -e $run/micro.json ]] || { echo "roofline.sh: $run already holds a micro.json" >&2; exit 1; }
    mkdir -p "$run"
    uptime >"$run/uptime.txt"
    echo "roofline.sh: run folder $run (load: $(uptime | sed 's/.*load average/load average/'))" >&2
    # the thread counts of the multi-threaded micro cases (1, 2, 4, ... and the CPUs),
    # so the combine meets the triad at the same count
    counts=1; for ((n = 2; n < cpus; n *= 2)); do counts+=",$n"; done; [[ $cpus -gt 1 ]] && counts+=",$cpus"
    "$BUILD/micro/ceilings" --seconds "$seconds" --threads "$counts" --out "$run/ceilings.json"
    args=(--benchmark_repetitions="$reps" --benchmark_min_time="$min_time"
          --benchmark_out="$run/micro.json" --benchmark_out_format=json)
    [[ $reps -gt 1 ]] && args+=(--benchmark_display_aggregates_only=true)
    [[ -n $filter ]] && args+=(--benchmark_filter="$filter")
    "$BUILD/micro/micro" "${args[@]}" | tee "$run/micro.txt"
    # the core's own kernels again in every other ISA clone this CPU runs
    # (CLLM_ISA: the core's switch), one micro-<clone>.json each
    isas=$("$BUILD/micro/micro" --isa-list)
    main_isa=${isas%%,*}
    [[ -n ${CLLM_ISA:-} ]] && main_isa=$CLLM_ISA
    kfilter='^(layernorm|gelu|crossentropy|adamw|attention)'
    [[ -n $filter ]] && kfilter="$filter"
    for isa in ${isas//,/ }; do
        [[ $isa == "$main_isa" ]] && continue
        echo "roofline.sh: the kernels in the $isa clone (CLLM_ISA=$isa)" >&2
        kargs=(--benchmark_repetitions="$reps" --benchmark_min_time="$min_time" --benchmark_filter="$kfilter"
               --benchmark_out="$run/micro-$isa.json" --benchmark_out_format=json)
        [[ $reps -gt 1 ]] && kargs+=(--benchmark_display_aggregates_only=true)
        CLLM_ISA=$isa "$BUILD/micro/micro" "${kargs[@]}" \
            | tee "$run/micro-$isa.txt"
    done
    # the roofs of each clone's own ISA at 1 thread (ceilings --isa), where
    # it is not the one ceilings.json measured: the baseline clone is SSE2
    # on x86-64 (Advanced SIMD on aarch64)
    widest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("isa",""))' "$run/ceilings.json")
    for isa in ${isas//,/ }; do
        case $isa in
            default) cisa=$(case $(uname -m) in x86_64) echo sse2 ;; aarch64) echo neon ;; *) echo scalar ;; esac) ;;
            *) cisa=$isa ;;
        esac
        [[ $cisa == "$widest" ]] && continue
        echo "roofline.sh: ceilings of the $isa clone's ISA (--isa $cisa)" >&2
        "$BUILD/micro/ceilings" --isa "$cisa" --threads 1 --seconds "$seconds" --out "$run/ceilings-$isa.json"
    done
    uptime >>"$run/uptime.txt"
else
    if [[ -z $run ]]; then
        run=$(ls -d results/*-micro 2>/dev/null | sort | tail -n1 || true)
        [[ -n $run ]] || { echo "roofline.sh: no results/*-micro run folder: run make micro first" >&2; exit 1; }
    fi
    [[ -f $run/micro.json ]] || { echo "roofline.sh: $run/micro.json is missing: run make micro first" >&2; exit 1; }
    [[ -f $run/ceilings.json ]] || "$BUILD/micro/ceilings" --seconds "$seconds" --out "$run/ceilings.json"
fi

# the whole training step: config S, weak scaling, at 1 and all CPUs
for n in $(printf '%s\n' 1 "$cpus" | sort -un); do
    [[ -f $run/train_t$n.json ]] && continue
    "$BUILD/lockfree/train_model" --config S --threads "$n" --steps "$train_steps" \
        --eval-batches 0 --quiet --report "$run/train_t$n.json"
done

[[ -n $plots ]] || plots="plots/$(basename "$run")"
mkdir -p "$plots"
python3 scripts/roofline.py "$run" "$plots"
(cd "$plots" && gnuplot roofline.gp)
for f in "$plots/roofline.png" "$plots/roofline.svg" "$run/roofline.md"; do
    [[ -s $f ]] || { echo "roofline.sh: $f was not written" >&2; exit 1; }
done
echo "roofline.sh: $run/roofline.md, $plots/roofline.png, $plots/roofline.svg" >&2
