#!/usr/bin/env bash
# test_cli.sh - train_model as users run it: locked and lock-free give the
# same bits, checkpoints resume exactly, the report is well-formed, and every
# bad input gets its exit code and a message naming what was wrong; the
# locked variant serialises forward+backward and the lock-free one does not
# (seen through the test hook CLLM_TEST_HOLD_MS in core/trainer.c).
# test-timeout: 120
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/check.sh
BUILD=${BUILD:-build}
LF=$BUILD/lockfree/train_model
LK=$BUILD/locked/train_model
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect CODE PATTERN -- command...: exit code and a stderr line matching PATTERN
expect() {
    local code=$1 pat=$2; shift 3
    local rc=0
    "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
    if [[ $rc -ne $code ]]; then bad "'$*' exited $rc, expected $code: $(head -c 300 "$tmp/err")"; return; fi
    if [[ -n $pat ]] && ! grep -qiE -- "$pat" "$tmp/err"; then bad "'$*': message does not match /$pat/: $(head -c 300 "$tmp/err")"; return; fi
    ok
}

# --- locked and lock-free: the same bits for the same thread count and seed
for n in 1 2 3 4 8; do
    "$LF" --threads "$n" --steps 6 --quiet --report "$tmp/lf$n.json" --save "$tmp/lf$n.ck" >/dev/null
    "$LK" --threads "$n" --steps 6 --quiet --report "$tmp/lk$n.json" --save "$tmp/lk$n.ck" >/dev/null
    if cmp -s "$tmp/lf$n.ck" "$tmp/lk$n.ck"; then ok; else bad "$n threads: locked and lock-free checkpoints differ"; fi
    if python3 - "$tmp/lf$n.json" "$tmp/lk$n.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["loss"] == b["loss"], (a["loss"], b["loss"])
assert a["variant"] == "lockfree" and b["variant"] == "locked"
assert b["phases"]["names"][2] == "lock_wait"
PY
    then ok; else bad "$n threads: reports differ"; fi
done

# --- --recompute layers: the same bits as without, in both variants
"$LF" --threads 2 --steps 6 --quiet --recompute layers --save "$tmp/rc.ck" >/dev/null
"$LK" --threads 2 --steps 6 --quiet --recompute layers --save "$tmp/rck.ck" >/dev/null
if cmp -s "$tmp/lf2.ck" "$tmp/rc.ck" && cmp -s "$tmp/rc.ck" "$tmp/rck.ck"; then ok
else bad "--recompute layers changes the checkpoint"; fi
"$LF" --config seed-cli --memory-table --recompute layers > "$tmp/mtr.txt"
grep -q -- "--recompute layers$" "$tmp/mtr.txt" && grep -q "MiB\*" "$tmp/mtr.txt" && ok || bad "memory table of --recompute layers"
# --- the model lock, deterministically: CLLM_TEST_HOLD_MS makes each worker
# sleep H ms inside forward+backward (inside the lock, in the locked variant)
# and train_model then prints the most workers seen inside at once. Locked:
# never 2 at once, so each step lasts at least 2 H (the run at least
# steps * 2 H, whatever the machine's speed), and some worker waited a whole
# hold for the lock. Lock-free: the two sleeps overlap (both workers start a
# step together; missing that in all 6 steps would take a 100 ms stall each
# time). (The lock-free variant's lock_wait is 0 by construction: it has no
# lock to time, so nothing is checked on it.)
H=100 HS=6
for v in lockfree locked; do
    env CLLM_TEST_HOLD_MS=$H "$BUILD/$v/train_model" --threads 2 --steps $HS --eval-batches 0 --quiet \
        --report "$tmp/hold-$v.json" >/dev/null 2>"$tmp/hold-$v.err" || bad "$v with CLLM_TEST_HOLD_MS failed: $(head -c 300 "$tmp/hold-$v.err")"
done
most() { sed -n 's/^CLLM_TEST_HOLD_MS: at most \([0-9]*\) workers.*/\1/p' "$tmp/hold-$1.err"; }
check "locked: one worker at a time inside forward+backward (saw $(most locked))" test "$(most locked)" = 1
check "lock-free: both workers inside forward+backward at once (saw $(most lockfree))" test "$(most lockfree)" = 2
hold_py() {   # hold_py VARIANT EXPR: EXPR over the report r, the hold h (s) and steps n;
              # EXPR "info" prints the figures instead
    /usr/bin/python3 - "$tmp/hold-$1.json" "$H" "$HS" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); h = float(sys.argv[2]) / 1000; n = int(sys.argv[3])
wait = sum(r["phases"]["wall_s"][r["phases"]["names"].index("lock_wait")])
if sys.argv[4] == "info":
    print(f"wall {r['wall_s']:.3f} s, lock wait {wait:.3f} s, {n} steps, {h:.3f} s holds")
    sys.exit(0)
sys.exit(0 if eval(sys.argv[4]) else 1)
PY
}
check "locked: steps serialised, wall >= $HS * 2 * $H ms: $(hold_py locked info)" hold_py locked "r['wall_s'] >= n * 2 * h"
check "locked: a worker waited a whole hold for the lock: $(hold_py locked info)" hold_py locked "wait >= 0.9 * h"

# --- the report's fields (core/REPORT.md)
if python3 - "$tmp/lf2.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
need = ["tool", "variant", "threads", "scaling", "config", "tokenizer", "seed" if False else "data", "params",
        "steps", "tokens_per_step", "tokens", "wall_s", "tokens_per_s", "ms_per_step", "loss", "val_loss",
        "flops_per_step", "online_cpus", "affinity_cpus", "phases", "imbalance", "peak_rss_kib", "memory",
        "build", "command"]
missing = [k for k in need if k not in r]
assert not missing, missing
assert r["threads"] == 2 and r["steps"] == 6 and len(r["loss"]) == 6
assert r["tokens"] == r["tokens_per_step"] * 6 == 2 * 4 * 16 * 6
assert r["warmup_steps"] == 1 and r["timed_wall_s"] <= r["wall_s"]
assert abs(r["tokens_per_s"] - r["tokens_per_step"] * 5 / r["timed_wall_s"]) < 1e-6 * r["tokens_per_s"]
assert len(r["phases"]["wall_s"]) == len(r["phases"]["names"]) == 8 and all(len(p) == 2 for p in r["phases"]["wall_s"])
assert r["phases"]["names"][6:] == ["comm", "comm_sum"] and all(v == 0 for p in r["phases"]["wall_s"][6:] for v in p)
assert r["ranks"] == 1 and r["workers"] == 2 and r["mpi"] is None
assert r["memory"]["total_at_threads"] == r["memory"]["shared_total"] + 2 * r["memory"]["per_thread_total"]
for k in ["compiler", "cflags", "blas", "git", "variant"]:
    assert r["build"][k], k
PY
then ok; else bad "report fields"; fi

# --- checkpoint: 4 steps + resume 2 == 6 steps, bitwise (same cosine horizon)
"$LF" --steps 6 --quiet --report "$tmp/full.json" >/dev/null
"$LF" --steps 4 --lr-steps 6 --quiet --save "$tmp/half.ck" >/dev/null
"$LF" --steps 2 --resume "$tmp/half.ck" --quiet --report "$tmp/rest.json" >/dev/null
if python3 - "$tmp/full.json" "$tmp/rest.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["loss"][4:] == b["loss"], (a["loss"], b["loss"])
assert b["first_step"] == 4
PY
then ok; else bad "resumed run differs from the uninterrupted one"; fi

# --- words tokenizer on a directory of files, with a binary file skipped
mkdir -p "$tmp/data/sub"
for i in 1 2 3 4 5 6; do printf 'the quick fox jumps over the lazy dog %d times\n' "$i" >> "$tmp/data/a.txt"; done
for i in $(seq 1 200); do echo "a cat and a dog sat on the mat near the tree number $((i % 7))"; done > "$tmp/data/sub/b.txt"
printf 'bin\0ary' > "$tmp/data/c.bin"
expect 0 "skipped 1 file" -- "$LF" "$tmp/data" --tokenizer words --V 64 --steps 3 --save "$tmp/w.ck"
expect 0 "" -- "$LF" "$tmp/data" --steps 1 --resume "$tmp/w.ck"
expect 2 "checkpoint has V=64" -- "$LF" "$tmp/data" --steps 1 --resume "$tmp/w.ck" --V 100

# --- bad input: exit 2 for usage, 1 for runtime, message names the problem
expect 2 "--threads.*out of range"  -- "$LF" --threads 0
expect 2 "--threads.*out of range"  -- "$LF" --threads -3
expect 2 "--threads: 'abc' is not an integer" -- "$LF" --threads abc
expect 2 "--threads.*out of range"  -- "$LF" --threads 100000
expect 2 "--threads needs a value"   -- "$LF" --threads
expect 2 "unknown option '--bogus'"  -- "$LF" --bogus
expect 2 "unknown config 'huge'"     -- "$LF" --config huge
expect 2 "NH=3 does not divide C=32" -- "$LF" --NH 3
expect 2 "--steps.*out of range"     -- "$LF" --steps 0
expect 2 "--lr: 'x' is not a number" -- "$LF" --lr x
expect 2 "--scaling: 'diagonal'"     -- "$LF" --scaling diagonal
expect 2 "--recompute: 'all' is not none or layers" -- "$LF" --recompute all
expect 2 "smaller than --threads 8"  -- "$LF" --scaling strong --batch 4 --threads 8
expect 2 "exclude each other"        -- "$LF" --steps 3 --epochs 1
expect 2 "more than one DATA"        -- "$LF" a b
expect 1 "cannot read .*no-such-data" -- "$LF" "$tmp/no-such-data"
: > "$tmp/empty.txt"
expect 1 "no text in .*empty.txt"    -- "$LF" "$tmp/empty.txt"
mkdir -p "$tmp/emptydir"
expect 1 "no text in .*emptydir"     -- "$LF" "$tmp/emptydir"
printf 'tiny\n' > "$tmp/short.txt"
expect 1 "too few"                   -- "$LF" "$tmp/short.txt"
expect 1 "more than the machine"     -- "$LF" --config M --threads 1024
expect 1 "cannot write .*nodir"      -- "$LF" --steps 1 --report "$tmp/nodir/r.json"
expect 1 "cannot write .*nodir"      -- "$LF" --steps 1 --save "$tmp/nodir/c.ck"
expect 1 "cannot read checkpoint"    -- "$LF" --resume "$tmp/none.ck"
head -c 1000 "$tmp/lf1.ck" > "$tmp/trunc.ck"
expect 1 "truncated"                 -- "$LF" --resume "$tmp/trunc.ck"
printf 'PK\3\4 this is a zip file, not a checkpoint' > "$tmp/foreign.ck"
expect 1 "bad magic"                 -- "$LF" --resume "$tmp/foreign.ck"
expect 1 "cannot allocate [0-9]+ bytes for the shared" -- env CLLM_FAIL_ALLOC_AFTER=3 "$LF" --steps 1
expect 1 "cannot allocate [0-9]+ bytes for the worker table" -- env CLLM_FAIL_ALLOC_AFTER=4 "$LF" --steps 1
expect 1 "cannot allocate [0-9]+ bytes for the training context and gradients of worker 1" -- env CLLM_FAIL_ALLOC_AFTER=10 "$LF" --steps 1 --threads 2
expect 1 "the loss became NaN"       -- "$LF" --lr 1e5 --clip 0 --steps 200 --warmup 0
if compgen -G "$tmp/.*.tmp" >/dev/null; then bad "temporary files left behind"; else ok; fi

# --- a save that fails after the start-up probe passed: the write (a file
# size limit, with SIGXFSZ ignored so write() returns EFBIG) and the rename
# (onto a folder): exit 1, the error names the file, the old checkpoint is
# byte-identical and no temporary file is left
mkdir -p "$tmp/fs/isdir"
"$LF" --steps 1 --quiet --save "$tmp/fs/c.ck" >/dev/null
cp "$tmp/fs/c.ck" "$tmp/c.prev"
expect 1 "cannot write .*fs/c.ck: File too large" -- bash -c 'trap "" XFSZ; ulimit -f 64; exec "$@"' _ "$LF" --steps 2 --quiet --save "$tmp/fs/c.ck"
expect 1 "cannot rename .*fs/isdir" -- "$LF" --steps 1 --quiet --save "$tmp/fs/isdir"
check "failed saves: the old checkpoint is byte-identical" cmp -s "$tmp/fs/c.ck" "$tmp/c.prev"
check "failed saves: nothing else in the folder: $(ls -A "$tmp/fs" | tr '\n' ' ')" \
    test "$(ls -A "$tmp/fs" | tr '\n' ' ')" = "c.ck isdir "
check "failed saves: the folder in the way is untouched" test -z "$(ls -A "$tmp/fs/isdir")"

# --- SIGTERM during training with --save: exits non-zero, checkpoint valid;
# sent once the first step's progress line is out, so the handler is set
"$LF" --config S --steps 100000 --save "$tmp/sig.ck" >/dev/null 2>"$tmp/sig.err" &
pid=$!
for _ in $(seq 3000); do grep -q '^step' "$tmp/sig.err" && break; sleep 0.01; done
kill -TERM $pid
rc=0; wait $pid || rc=$?
if [[ $rc -eq 143 ]] && grep -q "stopped by signal 15" "$tmp/sig.err"; then ok; else bad "SIGTERM: rc=$rc $(cat "$tmp/sig.err")"; fi
expect 0 "" -- "$LF" --config S --steps 1 --resume "$tmp/sig.ck" --quiet

# --- --memory-table and --help
expect 0 "" -- "$LF" --help
if grep -q "variant: lockfree" "$tmp/out"; then ok; else bad "--help does not name the variant"; fi
"$LK" --help | grep -q "variant: locked" && ok || bad "locked --help does not name the variant"
"$LF" --config seed --memory-table > "$tmp/mt.txt"
grep -q "6277" "$tmp/mt.txt" && grep -q "^  grad " "$tmp/mt.txt" && ok || bad "seed memory table lacks the note's figures"

check_finish test_cli
