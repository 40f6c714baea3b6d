#!/usr/bin/env bash
# test_signals.sh - a stuck train_model ends on SIGTERM. A test hook of the
# core (CLLM_TEST_HANG_STEP=S, core/trainer.h) makes the last worker block
# forever in step S; then:
#   - SIGTERM: the step never ends, so after the grace period
#     (CLLM_STOP_GRACE_S=1 here) train_model exits 1 with a message, leaving
#     neither a checkpoint nor a temp file (both variants, 1 and 2 threads);
#   - SIGTERM then SIGINT: the second signal exits at once (130);
#   - a run that is not stuck still stops after its step, saves and exits 143.
# Every run has an outer `timeout`: a train_model that ignores the signal is
# killed (rc 124) and fails the check instead of hanging the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
pass=0; fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local d=$1; shift; if "$@"; then ok; else bad "$d"; fi; }

# start BIN ARGS...: train_model in the background under an outer timeout,
# stderr in $tmp/err; waits until the hung step has started (its progress
# line for the step before it is printed)
start() {
    : >"$tmp/err"
    timeout -s KILL 30 "$@" 2>"$tmp/err" >/dev/null &
    pid=$!; pids+=("$pid")
    for _ in $(seq 1000); do grep -q '^step *3/' "$tmp/err" && break; sleep 0.01; done
    sleep 0.1
}
# the train_model process under the timeout
child() { pgrep -P "$pid" | head -n1; }

for v in lockfree locked; do
    for n in 1 2; do
        bin=$BUILD/$v/train_model
        what="$v, $n thread(s), step 3 stuck"
        t0=$EPOCHREALTIME
        CLLM_TEST_HANG_STEP=3 CLLM_STOP_GRACE_S=1 start "$bin" --threads "$n" --steps 1000 --save "$tmp/ck"
        kill -TERM "$(child)"
        rc=0; wait "$pid" || rc=$?
        secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
        check "$what: SIGTERM ends it with exit 1 after the grace period (rc $rc, ${secs} s): $(tail -c 300 "$tmp/err")" \
            test "$rc" -eq 1
        check "$what: the message says the step did not finish in the grace period" \
            grep -q "did not finish within the grace period" "$tmp/err"
        check "$what: first the stop notice" grep -q "stopping after the step in flight" "$tmp/err"
        check "$what: no checkpoint and no temp file written" \
            bash -c '! ls "$1"/ck* >/dev/null 2>&1' _ "$tmp"
    done
done

# the second signal exits at once, even with a long grace period
CLLM_TEST_HANG_STEP=3 CLLM_STOP_GRACE_S=600 start "$BUILD/lockfree/train_model" --threads 2 --steps 1000 --save "$tmp/ck"
c=$(child)
kill -TERM "$c"; sleep 0.2; kill -INT "$c"
rc=0; wait "$pid" || rc=$?
check "second signal: exit 130 at once (rc $rc): $(tail -c 200 "$tmp/err")" test "$rc" -eq 130
check "second signal: says so" grep -q "a second stop signal: exiting at once" "$tmp/err"
check "second signal: no checkpoint and no temp file" bash -c '! ls "$1"/ck* >/dev/null 2>&1' _ "$tmp"

# not stuck: the step in flight ends, the checkpoint is written, exit 143
CLLM_STOP_GRACE_S=1 start "$BUILD/lockfree/train_model" --config S --steps 100000 --save "$tmp/ok.ck"
kill -TERM "$(child)"
rc=0; wait "$pid" || rc=$?
check "not stuck: SIGTERM stops after the step, exit 143 (rc $rc): $(tail -c 200 "$tmp/err")" test "$rc" -eq 143
check "not stuck: the checkpoint is written" grep -q "stopped by signal 15 .*checkpoint written" "$tmp/err"
check "not stuck: the checkpoint resumes" bash -c '"$1" --config S --steps 1 --quiet --eval-batches 0 \
    --resume "$2" >/dev/null' _ "$BUILD/lockfree/train_model" "$tmp/ok.ck"

echo "test_signals: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
