#!/usr/bin/env bash
# fuzz.sh - run libFuzzer targets (built by `make fuzz-build` into
# build/fuzz/) for a bounded time each, and end with "N passed, N failed".
#
#   scripts/fuzz.sh [TARGET...]        default: every target in build/fuzz/
#
# Environment:
#   FUZZ_SECONDS=S   time per target (default 60); 0 = only replay the corpus
#   FUZZ_JOBS=J      targets run at once (default 1)
#   FUZZ_BUILD=DIR   where the targets are (default build/fuzz)
#   FUZZ_WORK=DIR    where new corpus entries go (default $FUZZ_BUILD/corpus;
#                    the committed seeds in core/fuzz/corpus/ and
#                    bench/fuzz/corpus/ are read, never written)
#
# Each target starts from its committed corpus (seeds and every crash found
# so far, kept as regression inputs) and its work corpus. A crash leaves the
# input in $FUZZ_BUILD/artifacts/TARGET/ and fails the run; once the bug is
# fixed, the input goes into the committed corpus, where every later run
# replays it.
#
# Exit codes: 0 every target ran clean, 1 a target crashed, leaked or hung,
# 2 usage (unknown option, a target that is not built).
set -euo pipefail
cd "$(dirname "$0")/.."
for x in "$@"; do
    case $x in
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz.sh: unknown option '$x' (the arguments are target names; see scripts/fuzz.sh --help)" >&2; exit 2 ;;
    esac
done
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_WORK=${FUZZ_WORK:-$FUZZ_BUILD/corpus}
[[ $FUZZ_SECONDS =~ ^[0-9]+$ ]] || { echo "fuzz.sh: FUZZ_SECONDS must be a whole number of seconds" >&2; exit 2; }

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    for b in "$FUZZ_BUILD"/fuzz_*; do [[ -x $b ]] && targets+=("$(basename "$b")"); done
fi
[[ ${#targets[@]} -gt 0 ]] || { echo "fuzz.sh: no targets in $FUZZ_BUILD (make fuzz-build)" >&2; exit 2; }

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# per-target options: where its seeds are, the input size, a dictionary
options() {
    local t=$1 src=core
    [[ -d bench/fuzz/corpus/$t || -f bench/fuzz/$t.c ]] && src=bench
    seeds=$src/fuzz/corpus/$t
    opts=(-timeout=20 -rss_limit_mb=2048 -print_final_stats=1)
    case $t in
        fuzz_ckpt|fuzz_ckpt_fixed) opts+=(-max_len=20000) ;;
        fuzz_tokenizer|fuzz_text) opts+=(-max_len=70000) ;;
        fuzz_cli) opts+=(-max_len=512 -dict=core/fuzz/cli.dict) ;;
        fuzz_json|fuzz_runs|fuzz_scale_opts) opts+=(-max_len=20000 -dict=bench/fuzz/json.dict) ;;
    esac
}

# run_one TARGET: fuzz (or replay) it; writes $logs/TARGET.{log,rc}
run_one() {
    local t=$1 bin=$FUZZ_BUILD/$1 rc=0
    local seeds opts
    options "$t"
    local work=$FUZZ_WORK/$t art=$FUZZ_BUILD/artifacts/$t
    mkdir -p "$work" "$art"
    local dirs=("$work")
    [[ -d $seeds ]] && dirs+=("$seeds")
    # fuzz_text makes files: keep them in a folder of this run
    local tmpd; tmpd=$(mktemp -d "$logs/tmp.XXXXXX")
    if [[ $FUZZ_SECONDS -eq 0 ]]; then
        TMPDIR=$tmpd "$bin" "${opts[@]}" -runs=0 -artifact_prefix="$art/" "${dirs[@]}" >"$logs/$t.log" 2>&1 || rc=$?
    else
        TMPDIR=$tmpd "$bin" "${opts[@]}" -max_total_time="$FUZZ_SECONDS" -artifact_prefix="$art/" \
            "${dirs[@]}" >"$logs/$t.log" 2>&1 || rc=$?
    fi
    echo "$rc" >"$logs/$t.rc"
}

if [[ ! -x $FUZZ_BUILD/${targets[0]} ]]; then
    echo "fuzz.sh: $FUZZ_BUILD/${targets[0]} not built (make fuzz-build)" >&2; exit 2
fi
running=0
for t in "${targets[@]}"; do
    if [[ ! -x $FUZZ_BUILD/$t ]]; then echo "fuzz.sh: $FUZZ_BUILD/$t not built" >&2; exit 2; fi
    run_one "$t" &
    running=$((running + 1))
    if [[ $running -ge $FUZZ_JOBS ]]; then wait -n || true; running=$((running - 1)); fi
done
wait

pass=0 fail=0
for t in "${targets[@]}"; do
    rc=$(cat "$logs/$t.rc" 2>/dev/null || echo 99)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -n1)
    cov=$(grep -oE 'cov: [0-9]+' "$logs/$t.log" | tail -n1 || true)
    if [[ $rc -eq 0 ]]; then
        pass=$((pass + 1))
        printf '%-18s ok      %8s inputs  %s\n' "$t" "${execs:-?}" "${cov:-}"
    else
        fail=$((fail + 1))
        printf '%-18s FAILED  rc=%s\n' "$t" "$rc"
        grep -E 'ERROR: |FUZZ_CHECK|SUMMARY|runtime error|Test unit written|^(Base64|0x)' "$logs/$t.log" | head -n 20 | sed 's/^/    | /'
        ls "$FUZZ_BUILD/artifacts/$t/" 2>/dev/null | sed "s|^|    artifact: $FUZZ_BUILD/artifacts/$t/|" | tail -n 3
    fi
done
echo "fuzz: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
