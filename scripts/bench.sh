#!/usr/bin/env bash
# bench.sh - make bench: the default scaling sweep (build/scale), then the
# analysis (report and plots) of the folder it wrote. Arguments go to
# build/scale (make bench BENCH_ARGS="--threads 1,2 --reps 5").
set -euo pipefail
cd "$(dirname "$0")/.."
out=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
        --out|--resume) out=${args[i + 1]:-} ;;
    esac
done
if [[ -z $out ]]; then
    out="results/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname -s 2>/dev/null || hostname)"
    args+=(--out "$out")
fi
cpus=$(nproc)
echo "make bench: sweep into $out ($cpus CPUs online; thread counts above $cpus are oversubscribed)" >&2
rc=0
build/scale "${args[@]}" || rc=$?
if [[ $rc -ne 0 && $rc -ne 1 ]]; then
    echo "make bench: build/scale exited $rc; what completed is in $out" >&2
    exit "$rc"
fi
if [[ -f scripts/analyze.py && -f $out/summary.csv ]]; then
    /usr/bin/python3 scripts/analyze.py "$out"
fi
[[ $rc -eq 0 ]] || echo "make bench: some runs failed (see $out/runs.jsonl)" >&2
exit "$rc"
