#!/usr/bin/env bash
# bench-analysis.sh - how long the analysis takes: a synthetic results folder
# of 63 thread counts (1..63) x 2 variants x 5 reps on 64 CPUs
# (tests/analysis_synth.py), analysed with the default bootstrap, the
# projection onto a target, the plots and the report, timed by hyperfine
# (3 runs after a warm-up; /usr/bin/time once without it). A benchmark, not
# a test: the figure depends on the machine and its load (make bench-analysis).
#
#   scripts/bench-analysis.sh [--keep DIR]     (--keep: leave the folder there; --help)
set -euo pipefail
cd "$(dirname "$0")/.."
keep=''
case ${1:-} in
    '') ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    --keep) keep=${2:?--keep needs a folder} ;;
    *) echo "bench-analysis.sh: unknown option '$1' (see scripts/bench-analysis.sh --help)" >&2; exit 2 ;;
esac
if [[ -n $keep ]]; then T=$keep; mkdir -p "$T"; else T=$(mktemp -d); trap 'rm -rf "$T"' EXIT; fi
threads=$(seq -s, 1 63)
/usr/bin/python3 tests/analysis_synth.py "$T/sweep" --cpus 64 --threads "$threads" --reps 5 --amort 0.1
cmd="scripts/analyze $T/sweep --plots-dir $T/plots --project cores=64,dram-gbs=200"
echo "bench-analysis: $(wc -l <"$T/sweep/runs.jsonl") runs (63 thread counts x 2 variants x 5 reps); load: $(cut -d' ' -f1-3 /proc/loadavg)"
if command -v hyperfine >/dev/null; then
    hyperfine --warmup 1 --runs 3 --export-json "$T/hyperfine.json" "$cmd"
else
    /usr/bin/time -f "bench-analysis: %e s wall, %U s user" $cmd >/dev/null
fi
