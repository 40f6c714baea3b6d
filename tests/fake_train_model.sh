#!/usr/bin/env bash
# fake_train_model.sh - a stand-in for build/<variant>/train_model in the
# harness tests (tests/test_scale.sh): it takes train_model's flags, sleeps a
# little and writes a plausible --report JSON (core/REPORT.md). Installed as
# DIR/lockfree/train_model and DIR/locked/train_model; the variant is the
# name of the folder it sits in.
#
# Environment:
#   FAKE_SLEEP=S     seconds to "train" (default 0.02)
#   FAKE_FAULT=F     crash (SIGSEGV) | hang (sleep 1000) | exit1 | exit2 |
#                    noreport (exit 0 without a report) | badreport (invalid JSON)
#   FAKE_MATCH=LIST  where FAKE_FAULT applies: comma list of VARIANT:THREADS,
#                    VARIANT or :THREADS (default: every run)
#   FAKE_LOG=FILE    append "VARIANT THREADS" for each run (tests count runs)
#   FAKE_DESCRIBE=BIN  the real train_model that answers --describe (the
#                    configs and limits build/scale reads; default
#                    ${BUILD:-build}/lockfree/train_model from the current folder)
#   FAKE_REPS_DIR=D  repeats differ: the k-th run (k = 0, 1, ...) of each
#                    (variant, threads) point, counted in D/VARIANT-THREADS,
#                    reports its throughput times FACTOR[k % 4], FACTOR =
#                    1.0 1.3 1.1 0.9 (so the median of 2 repeats is 1.15x the
#                    base, of 3 repeats 1.1x, of 4 repeats 1.05x; speedups
#                    between points are unchanged). Unset: every repeat equal.
set -euo pipefail

variant=$(basename "$(dirname "$0")")
case $variant in lockfree|locked) ;; *) variant=lockfree ;; esac

usage() {
    echo "usage: train_model [DATA] [--config NAME] [--threads N] [--steps S] [--scaling weak|strong]"
    echo "                   [--report FILE] [--quiet] ... (fake: see tests/fake_train_model.sh)"
}
die_usage() { echo "train_model: $*" >&2; exit 2; }

config=tiny threads=1 steps=10 scaling=weak report='' data=synthetic quiet=0 seed=1337
cmdline="train_model $*"
while (($#)); do
    case $1 in
        --help) usage; exit 0 ;;
        --describe) exec "${FAKE_DESCRIBE:-${BUILD:-build}/lockfree/train_model}" --describe ;;
        --quiet) quiet=1 ;;
        --no-timing|--memory-table) ;;
        --config|--threads|--steps|--scaling|--report|--epochs|--V|--C|--L|--NH|--F|--seq|\
        --batch|--lr|--warmup|--wd|--clip|--seed|--tokenizer|--save|--resume|--pin|--eval-batches)
            (($# >= 2)) || die_usage "$1 needs a value"
            case $1 in
                --config) config=$2 ;;
                --threads) threads=$2 ;;
                --steps) steps=$2 ;;
                --scaling) scaling=$2 ;;
                --report) report=$2 ;;
                --seed) seed=$2 ;;
            esac
            shift ;;
        --*) die_usage "unknown option $1" ;;
        *) data=$1 ;;
    esac
    shift
done
case $config in tiny|seed|seed-cli|S|G|M|bench) ;; *) die_usage "unknown config '$config'" ;; esac
case $scaling in weak|strong) ;; *) die_usage "--scaling must be weak or strong, not '$scaling'" ;; esac
[[ $threads =~ ^[0-9]+$ ]] && ((threads >= 1 && threads <= 1024)) ||
    die_usage "--threads must be 1..1024, not '$threads'"
[[ $steps =~ ^[0-9]+$ ]] && ((steps >= 1)) || die_usage "--steps must be a positive integer"

[[ -n ${FAKE_LOG:-} ]] && echo "$variant $threads" >>"$FAKE_LOG"
factor=1
if [[ -n ${FAKE_REPS_DIR:-} ]]; then
    mkdir -p "$FAKE_REPS_DIR"
    count=$FAKE_REPS_DIR/$variant-$threads
    k=0; [[ -f $count ]] && k=$(wc -l <"$count")
    echo run >>"$count"
    factors=(1.0 1.3 1.1 0.9)
    factor=${factors[k % 4]}
fi

fault=${FAKE_FAULT:-}
if [[ -n $fault && -n ${FAKE_MATCH:-} ]]; then
    hit=0
    IFS=, read -ra pats <<<"$FAKE_MATCH"
    for p in "${pats[@]}"; do
        case $p in
            "$variant:$threads"|"$variant"|":$threads") hit=1 ;;
        esac
    done
    ((hit)) || fault=''
fi

sleep "${FAKE_SLEEP:-0.02}"
case $fault in
    crash) kill -SEGV $$ ;;
    hang) exec sleep 1000 ;;
    exit1) echo "train_model: fake runtime failure" >&2; exit 1 ;;
    exit2) echo "train_model: fake usage error" >&2; exit 2 ;;
    noreport) exit 0 ;;
    badreport|'') ;;
    *) echo "fake_train_model: unknown FAKE_FAULT '$fault'" >&2; exit 1 ;;
esac
((quiet)) || echo "step $steps/$steps loss 4.2" >&2
[[ -n $report ]] || exit 0

# a plausible report: lockfree scales better than locked
awk -v variant="$variant" -v threads="$threads" -v steps="$steps" -v scaling="$scaling" \
    -v config="$config" -v data="$data" -v seed="$seed" -v cmd="$cmdline" -v factor="$factor" \
    -v bad="$([[ $fault == badreport ]] && echo 1 || echo 0)" '
function arr(n, v, step,   s, i) { s = "["; for (i = 0; i < n; i++) s = s (i ? "," : "") sprintf("%.6g", v + i * step); return s "]" }
BEGIN {
    T = 64; B = 4; C = 64; L = 2; V = 256
    gb = scaling == "weak" ? B * threads : B
    tps_step = gb * T; tokens = steps * tps_step
    eff = variant == "lockfree" ? 0.9 : 0.6
    rate = 20000 * (threads ^ eff) * (scaling == "weak" ? 1 : 0.9) * factor
    wall = tokens / rate; ms = 1000 * wall / steps
    per = 131072 + 4096 * T; shared = 4 * 12 * L * C * C
    printf "{\"tool\":\"train_model\",\"variant\":\"%s\",\"threads\":%d,\"scaling\":\"%s\",", variant, threads, scaling
    printf "\"config\":{\"name\":\"%s\",\"V\":%d,\"C\":%d,\"L\":%d,\"NH\":4,\"F\":%d,\"T\":%d,\"B\":%d},", config, V, C, L, 4 * C, T, B
    printf "\"tokenizer\":\"bytes\",\"seed\":%d,\"data\":\"%s\",\"params\":%d,", seed, data, 12 * L * C * C + V * C
    printf "\"steps\":%d,\"tokens_per_step\":%d,\"tokens\":%d,\"wall_s\":%.6g,\"tokens_per_s\":%.6g,", steps, tps_step, tokens, wall, rate
    printf "\"timed_wall_s\":%.6g,\"timed_cpu_user_s\":%.6g,\"timed_cpu_sys_s\":%.6g,", wall, wall * threads * 0.95, wall * 0.01
    printf "\"ms_per_step\":{\"median\":%.6g,\"min\":%.6g,\"max\":%.6g},", ms, ms * 0.95, ms * 1.1
    printf "\"loss\":%s,\"val_loss\":%.6g,\"flops_per_step\":%d,", arr(steps, 5.5, -0.01), 5.5 - 0.01 * steps, 6 * gb * T * (12 * L * C * C + V * C)
    printf "\"online_cpus\":2,\"affinity_cpus\":2,\"phases\":{\"names\":[\"forward\",\"backward\",\"lock_wait\",\"barrier_wait\",\"reduce\",\"optimizer\"],"
    f = wall * 0.3; bw = wall * 0.55; lw = variant == "locked" ? wall * 0.1 * (threads - 1) / threads : 0
    printf "\"wall_s\":[%s,%s,%s,%s,%s,%s],", arr(threads, f, 0), arr(threads, bw, 0), arr(threads, lw, 0), arr(threads, wall * 0.05, 0), arr(threads, wall * 0.05, 0), arr(threads, wall * 0.02, 0)
    printf "\"cpu_s\":[%s,%s,%s,%s,%s,%s]},", arr(threads, f, 0), arr(threads, bw, 0), arr(threads, 0, 0), arr(threads, 0, 0), arr(threads, wall * 0.05, 0), arr(threads, wall * 0.02, 0)
    printf "\"imbalance\":{\"forward\":1.01,\"backward\":1.02},\"peak_rss_kib\":4096,"
    printf "\"memory\":{\"per_thread\":[{\"name\":\"activations\",\"bytes\":%d},{\"name\":\"grads\",\"bytes\":131072}],\"per_thread_total\":%d,", per - 131072, per
    printf "\"shared\":[{\"name\":\"params\",\"bytes\":%d}],\"shared_total\":%d,\"total_at_threads\":%d},", shared, shared, shared + threads * per
    printf "\"build\":{\"compiler\":\"fake\",\"cflags\":\"-O0\",\"blas\":\"none\",\"git\":\"fake\",\"variant\":\"%s\"},", variant
    gsub(/"/, "\\\"", cmd)
    printf "\"command\":\"%s\"%s\n", cmd, bad ? "" : "}"
}' >"$report.tmp"
mv "$report.tmp" "$report"
