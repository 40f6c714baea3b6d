#!/usr/bin/env bash
# bench.sh - make bench: the default scaling sweep (build/scale) with 5 reps
# (the fewest at which the report's locked-against-lock-free comparison can
# reach p < 0.05 with a rep to spare: 3 never can, 4 only when every pair is
# ordered), this machine's ceilings (build/micro/ceilings) for the
# projection, then the analysis (report and plots) of the folder it wrote.
#
#   scripts/bench.sh [build/scale options]     (make bench BENCH_ARGS="--threads 1,2 --reps 7")
#
# Every option goes to build/scale (`build/scale --help` lists them); without
# --out or --resume the folder is results/<UTC time>-<host>/. On a machine
# with fewer than 63 CPUs the report also projects onto a target of 64 cores
# and 200 GB/s (BENCH_PROJECT="cores=N,dram-gbs=X" picks another,
# BENCH_PROJECT= none). Exit codes are build/scale's: 0 every run ok, 1 a run
# failed or a runtime error, 2 a usage error (nothing run), 130/143 interrupted.
# Oversubscribed points (more workers than usable CPUs: shown, never fitted)
# run 2 reps and 6 steps (--reps-over 2 --steps-over 6); give either with N at
# or above --reps / --steps to run them like the others.
set -euo pipefail
cd "$(dirname "$0")/.."
for x in "$@"; do
    if [[ $x == -h || $x == --help ]]; then
        sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
        if [[ -x build/scale ]]; then echo; build/scale --help; else echo "(build/scale: run make all first)"; fi
        exit 0
    fi
done
[[ -x build/scale && -x build/topo ]] || { echo "make bench: build/scale or build/topo is missing: run make all" >&2; exit 1; }
out="" reps=0 reps_over=0 steps_over=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
        --out|--resume) out=${args[i + 1]:-} ;;
        --reps) reps=1 ;;
        --reps-over) reps_over=1 ;;
        --steps-over) steps_over=1 ;;
    esac
done
# make bench's own choice of repetitions (build/scale's default is for a quick look)
[[ $reps -eq 1 || " ${args[*]} " == *" --resume "* ]] || args+=(--reps 5)
# oversubscribed points (more threads than usable CPUs) are shown, never
# fitted: 2 repetitions of them, not 5 (most of a small machine's sweep went there)
[[ $reps_over -eq 1 ]] || args+=(--reps-over 2)
# and 6 training steps there, not --steps (24): their tokens/s counts the 5
# steps after the warm-up one; --steps-over N >= --steps runs them at --steps.
# A --resume keeps the stored sweep's (meta.json steps_oversubscribed)
[[ $steps_over -eq 1 || " ${args[*]} " == *" --resume "* ]] || args+=(--steps-over 6)
# the timelines of rep 0 at 1 thread and the largest non-oversubscribed
# count (trace-*.json in the run folder; plots/<run>/timeline.png)
[[ " ${args[*]} " == *" --trace "* || " ${args[*]} " == *" --resume "* ]] || args+=(--trace)
if [[ -z $out ]]; then
    out=$(build/scale --default-out)
    args+=(--out "$out")
fi
# the usable CPUs as the core defines them (core/machine.c: online, cpuset,
# affinity and cgroup quota), through build/topo: the figure scale judges
# oversubscription by, not nproc's affinity count
cpus=$(build/topo | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["usable_cpus"])') ||
    { echo "make bench: build/topo could not say how many CPUs are usable" >&2; exit 1; }
echo "make bench: sweep into $out, report $out/REPORT.md, plots in plots/${out##*/}/ ($cpus CPUs usable;" \
     "thread counts above $cpus are oversubscribed)" >&2
if [[ " ${args[*]} " != *" --resume "* ]]; then
    est=$(build/scale --dry-run "${args[@]}" 2>/dev/null | /usr/bin/python3 scripts/bench_estimate.py "$cpus" || true)
    [[ -z $est ]] || echo "make bench: expected time on this machine: $est, plus about a minute for the ceilings and the analysis" >&2
fi
rc=0
build/scale "${args[@]}" || rc=$?
if [[ $rc -eq 2 ]]; then
    echo "make bench: usage error, nothing was run (build/scale --help lists the options)" >&2
    exit 2
fi
if [[ $rc -ne 0 && $rc -ne 1 ]]; then
    echo "make bench: build/scale exited $rc; what completed is in $out" >&2
    exit "$rc"
fi
if [[ -x build/micro/ceilings && -d $out ]]; then
    build/micro/ceilings --seconds 0.5 --out "$out/ceilings.json" >/dev/null ||
        echo "make bench: build/micro/ceilings failed: the projection goes without ceilings" >&2
fi
project=()
if [[ -n ${BENCH_PROJECT-cores=64,dram-gbs=200} ]] && ((cpus < 63)); then
    project=(--project "${BENCH_PROJECT-cores=64,dram-gbs=200}")
fi
if [[ -f scripts/analyze.py && -f $out/summary.csv ]]; then
    /usr/bin/python3 scripts/analyze.py "$out" "${project[@]}"
fi
[[ $rc -eq 0 ]] || echo "make bench: some runs failed (see $out/runs.jsonl)" >&2
exit "$rc"
