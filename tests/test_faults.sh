#!/usr/bin/env bash
# test_faults.sh - fault injection: nothing is lost and nothing crashes when
# resources fail under train_model and build/scale.
#
#   allocation    CLLM_FAIL_ALLOC_AFTER=N for every allocation point of a
#                 2-thread run (both variants), and a large config under
#                 `ulimit -v`: exit 1, "cannot allocate N bytes for <buffer>",
#                 never a signal
#   filesystem    a full tmpfs (64 KiB) and a read-only bind mount under
#                 train_model --save / --report and scale --out / --resume,
#                 also a mount turning read-only in the middle of a run: exit 1,
#                 the error names the file, the previous file is byte-identical,
#                 no temporary file is left (needs root and mount; otherwise
#                 each such check is skipped with the reason)
#   children      a real train_model SIGKILLed, and one SIGSTOPped past
#                 --timeout, in a scale sweep: recorded, the sweep goes on,
#                 the other runs are intact
#   signals       SIGINT during training with --save; SIGTERM / SIGINT at
#                 random moments of training (after the first step's progress
#                 line, so the process is running with its handler set) and
#                 while the checkpoint is being written, SIGKILL while it is
#                 written: exit 128 + the signal, and the file at the path is
#                 always the old complete checkpoint or a new complete one
#                 (--resume)
#
# Run from anywhere; BUILD selects the build (default build). Ends with
# "N passed, N failed, N skipped" and exits non-zero on any failure.
# test-timeout: 300
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/check.sh
BUILD=${BUILD:-build}
LF=$BUILD/lockfree/train_model
LK=$BUILD/locked/train_model
SCALE=$BUILD/scale
T=$(mktemp -d)
mounts=()
bgpids=()
cleanup() {
    local p i
    for p in "${bgpids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM   # the runner's time limit: unmount on the way out
# run ARGS...: sets rc; stdout, stderr in $T/out, $T/err
run() { rc=0; "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?; }
err_has() { grep -qE -- "$1" "$T/err"; }
# the atomic writer's temporaries (core/afile.h): .<name>.<pid>.<hex>.tmp
no_tmp() { ! compgen -G "$1/.*.tmp" >/dev/null; }
# ckpt_step FILE: the step stored in a checkpoint header (core/ckpt.c: offset 104)
ckpt_step() { od -An -t d8 -j 104 -N 8 "$1" | tr -d ' '; }

for b in "$LF" "$LK"; do
    [[ -x $b ]] || { echo "$b not built"; echo "0 passed, 1 failed"; exit 1; }
done
# sanitizer builds reserve terabytes of address space: ulimit -v cannot apply
asan=0
if nm "$LF" 2>/dev/null | grep -q __asan_init || [[ $BUILD == *asan* ]]; then asan=1; fi

# a model whose checkpoint is 33 KB: two of them do not fit in 64 KiB
SMALL=(--V 256 --C 8 --NH 2 --L 1 --F 16 --seq 8 --batch 2 --eval-batches 0 --quiet)

# --- allocation failure at every allocation point -----------------------------
# (every allocation in core/ counts, the corpus and tokenizer too: each
# failure names its bytes and what they were for)
ALLOC_RE='cannot allocate [0-9]+ bytes (for|to) .+'
for v in lockfree locked; do
    bin=$BUILD/$v/train_model
    n=0 failed=0 seen=''
    while :; do
        run env CLLM_FAIL_ALLOC_AFTER=$n "$bin" --threads 2 --steps 2 --quiet
        [[ $rc -eq 0 ]] && break
        if [[ $rc -eq 1 ]] && err_has "$ALLOC_RE"; then
            failed=$((failed + 1))
            seen+="$(grep -oE "$ALLOC_RE" "$T/err" | sed -E 's/[0-9]+ bytes/N bytes/')|"
        else
            bad "$v CLLM_FAIL_ALLOC_AFTER=$n: rc $rc (>128: a signal), stderr: $(head -c 300 "$T/err")"
        fi
        n=$((n + 1))
        [[ $n -le 32 ]] || { bad "$v: still failing at CLLM_FAIL_ALLOC_AFTER=32"; break; }
    done
    check "$v: $failed allocation points, each a clean exit 1" test "$failed" -ge 4
    check "$v: the shared state, the tables and both workers' buffers named" \
        bash -c '[[ $1 == *shared* && $1 == *"worker 0"* && $1 == *"worker 1"* ]]' _ "$seen"
done

# --- a large config on a limited address space --------------------------------
# config M at 2 threads: the address space is the memory table's total less
# half a worker's buffers, so the allocations fail before the first matmul
# (below that, at OpenBLAS's own buffers, train_model hangs: see
# docs-reliability.md)
if [[ $asan -eq 1 ]]; then
    skip "ulimit -v under a sanitizer build (it reserves terabytes of address space)"
else
    "$LF" --config M --threads 2 --memory-table >"$T/mt"
    total=$(sed -n 's/^total at 2 threads: \([0-9]*\) bytes.*/\1/p' "$T/mt")
    per=$(sed -n 's/^  per-thread *\([0-9]*\) bytes.*/\1/p' "$T/mt")
    if [[ -z $total || -z $per ]]; then
        bad "ulimit -v: cannot read the total and per-thread bytes from --memory-table"
    else
        limit_kb=$(( (total - per / 2) / 1024 ))
        run timeout 120 bash -c 'ulimit -v "$2"; exec "$1" --config M --threads 2 --steps 1 --quiet' _ "$LF" "$limit_kb"
        check "ulimit -v $limit_kb: exit 1 (rc $rc), not a signal: $(head -c 200 "$T/err")" test "$rc" -eq 1
        check "ulimit -v: says which buffer could not be allocated" \
            err_has "cannot allocate [0-9]+ bytes for|more than the machine|address-space limit \(ulimit -v\)"
    fi
    # buffers that fit, but not OpenBLAS's per-thread buffer: OpenBLAS would
    # retry its mmap forever; the trainer refuses up front instead
    run timeout 60 bash -c 'ulimit -v 300000; exec "$1" --threads 2 --steps 3 --quiet' _ "$LF"
    check "ulimit -v 300000 at 2 threads: exit 1, no hang (rc $rc)" test "$rc" -eq 1
    check "ulimit -v 300000: names the address-space limit" err_has "address-space limit \(ulimit -v\)"
fi

# --- a full filesystem ---------------------------------------------------------
fs_ok=1
mkdir -p "$T/full"
if [[ $(id -u) -ne 0 ]]; then
    fs_ok=0; why="not root, cannot mount a small tmpfs"
elif ! mount -t tmpfs -o size=64k,mode=0755 tmpfs "$T/full" 2>"$T/mnt.err"; then
    fs_ok=0; why="mount -t tmpfs refused: $(head -c 100 "$T/mnt.err")"
else
    mounts+=("$T/full")
fi
fill() { dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null || true; }

if [[ $fs_ok -eq 0 ]]; then
    for what in "train_model --save on a full filesystem" "train_model --report on a full filesystem" \
                "scale summary.csv / meta.json on a full filesystem"; do skip "$what: $why"; done
else
    F=$T/full
    run "$LF" "${SMALL[@]}" --steps 2 --save "$F/ck" --report "$F/r.json"
    check "first checkpoint and report on the small tmpfs (rc $rc)" test "$rc" -eq 0
    cp "$F/ck" "$T/ck.prev"; cp "$F/r.json" "$T/r.prev"
    fill "$F"
    run "$LF" "${SMALL[@]}" --steps 3 --save "$F/ck"
    check "--save on a full fs: exit 1 (rc $rc)" test "$rc" -eq 1
    check "--save on a full fs: the error names the file: $(head -c 200 "$T/err")" \
        err_has "cannot write $F/ck: No space left on device"
    check "--save on a full fs: previous checkpoint intact" cmp -s "$F/ck" "$T/ck.prev"
    run "$LF" "${SMALL[@]}" --steps 3 --report "$F/r.json"
    check "--report on a full fs: exit 1 (rc $rc)" test "$rc" -eq 1
    check "--report on a full fs: the error names the file: $(head -c 200 "$T/err")" \
        err_has "cannot write $F/r.json: No space left on device"
    check "--report on a full fs: previous report intact" cmp -s "$F/r.json" "$T/r.prev"
    check "full fs: no temporary file left" no_tmp "$F"
    rm -f "$F/fill" "$F/ck" "$F/r.json"

    # scale: summary.csv, memory.csv and meta.json are written when the sweep
    # ends. runs.jsonl lives elsewhere (a symlink) so that the records can be
    # appended while the folder is full; the fake child fills the tmpfs after
    # its run and keeps a link to its report, so no page frees up.
    mkdir -p "$T/fbin" "$T/wbin" "$F/sweep" "$T/keep"
    for v in lockfree locked; do
        mkdir -p "$T/fbin/$v" "$T/wbin/$v"
        cp tests/fake_train_model.sh "$T/fbin/$v/train_model"
        cat >"$T/wbin/$v/train_model" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
bash "$FAULT_FAKE" "$@"
report=''
while (($#)); do [[ $1 == --report ]] && report=$2; shift; done
cp "$FAULT_OUT/meta.json" "$FAULT_SNAP/meta.json"
ln "$report" "$FAULT_FS/keep-$$"
dd if=/dev/zero of="$FAULT_FS/fill" bs=4k 2>/dev/null || true
EOF
        chmod +x "$T/fbin/$v/train_model" "$T/wbin/$v/train_model"
    done
    ln -s "$T/runs.jsonl" "$F/sweep/runs.jsonl"
    # shellcheck disable=SC2054
    FAST=(--config tiny --steps 2 --threads 1,2 --reps 1)
    run env FAKE_SLEEP=0 "$SCALE" --bin-dir "$T/fbin" "${FAST[@]}" --out "$F/sweep"
    check "scale: first sweep on the small tmpfs (rc $rc): $(tail -c 200 "$T/err")" test "$rc" -eq 0
    cp "$F/sweep/summary.csv" "$T/summary.prev"; cp "$F/sweep/memory.csv" "$T/memory.prev"
    sed -i '$d' "$T/runs.jsonl"       # one point left to run
    mkdir -p "$T/snap"
    run env FAKE_SLEEP=0 FAULT_FAKE="$PWD/tests/fake_train_model.sh" FAULT_OUT="$F/sweep" \
        FAULT_SNAP="$T/snap" FAULT_FS="$F" "$SCALE" --resume "$F/sweep" --bin-dir "$T/wbin"
    check "scale --resume on a full fs: exit 1 (rc $rc)" test "$rc" -eq 1
    for f in summary.csv memory.csv meta.json; do
        check "scale full fs: the error names $f: $(head -c 300 "$T/err")" \
            err_has "cannot write $F/sweep/$f: No space left on device"
    done
    check "scale full fs: previous summary.csv intact" cmp -s "$F/sweep/summary.csv" "$T/summary.prev"
    check "scale full fs: previous memory.csv intact" cmp -s "$F/sweep/memory.csv" "$T/memory.prev"
    check "scale full fs: previous meta.json intact" cmp -s "$F/sweep/meta.json" "$T/snap/meta.json"
    check "scale full fs: the run itself was recorded" test "$(wc -l <"$T/runs.jsonl")" -eq 4
    check "scale full fs: no temporary file left: $(ls -A "$F/sweep" | tr '\n' ' ')" \
        bash -c '! ls -A "$1" | grep -q "^\."' _ "$F/sweep"
    rm -f "$F"/fill "$F"/keep-*
    run "$SCALE" --resume "$F/sweep" --bin-dir "$T/fbin"
    check "scale: once there is room, --resume writes the summary (rc $rc)" test "$rc" -eq 0
    check "scale: ... from every recorded run" grep -q '"runs_recorded":4' "$F/sweep/meta.json"
fi

# --- a read-only filesystem ----------------------------------------------------
ro_ok=$fs_ok
mkdir -p "$T/rw" "$T/ro" "$T/rw2" "$T/mid"
if [[ $ro_ok -eq 1 ]]; then
    run "$LF" "${SMALL[@]}" --steps 2 --save "$T/rw/ck" --report "$T/rw/r.json"
    run "$SCALE" --bin-dir "$T/fbin" --config tiny --steps 2 --threads 1 --reps 1 --out "$T/rw/sweep"
    cp -a "$T/rw" "$T/rw.prev"
    if mount --bind "$T/rw" "$T/ro" 2>"$T/mnt.err"; then
        mounts+=("$T/ro")
        mount -o remount,ro,bind "$T/ro" 2>>"$T/mnt.err" || ro_ok=0
    else
        ro_ok=0
    fi
    [[ $ro_ok -eq 1 ]] || why="read-only bind mount refused: $(head -c 100 "$T/mnt.err")"
fi
if [[ $ro_ok -eq 0 ]]; then
    for what in "train_model on a read-only filesystem" "scale on a read-only filesystem" \
                "a filesystem turning read-only mid-run"; do skip "$what: $why"; done
else
    R=$T/ro
    run "$LF" "${SMALL[@]}" --steps 2 --save "$R/ck"
    check "--save read-only: exit 1 at start (rc $rc)" test "$rc" -eq 1
    check "--save read-only: names the file: $(head -c 200 "$T/err")" err_has "cannot write $R/ck: Read-only file system"
    run "$LF" "${SMALL[@]}" --steps 2 --report "$R/r.json"
    check "--report read-only: exit 1 (rc $rc), names the file" \
        bash -c '[[ $1 -eq 1 ]] && grep -q "cannot write $2/r.json: Read-only" "$3"' _ "$rc" "$R" "$T/err"
    run "$SCALE" --bin-dir "$T/fbin" --config tiny --steps 2 --threads 1 --reps 1 --out "$R/new"
    check "scale --out read-only: exit 1 (rc $rc), names the folder" \
        bash -c '[[ $1 -eq 1 ]] && grep -q "output folder $2/new: Read-only" "$3"' _ "$rc" "$R" "$T/err"
    run "$SCALE" --resume "$R/sweep" --bin-dir "$T/fbin"
    check "scale --resume read-only: exit 1 (rc $rc), names the folder: $(head -c 200 "$T/err")" \
        bash -c '[[ $1 -eq 1 ]] && grep -q "$2/sweep" "$3"' _ "$rc" "$R" "$T/err"
    check "read-only: every previous file intact" diff -r "$T/rw" "$T/rw.prev"

    # read-only from the middle of a run: the start-up probe passed, the
    # final writes fail; the previous checkpoint and report stay
    run "$LF" "${SMALL[@]}" --steps 2 --save "$T/rw2/ck" --report "$T/rw2/r.json"
    cp "$T/rw2/ck" "$T/mid.ck.prev"; cp "$T/rw2/r.json" "$T/mid.r.prev"
    mount --bind "$T/rw2" "$T/mid" && mounts+=("$T/mid")
    "$LF" --config S --steps 40 --save "$T/mid/ck" --report "$T/mid/r.json" >/dev/null 2>"$T/mid.err" &
    pid=$!; bgpids+=("$pid")
    for _ in $(seq 1000); do grep -q '^step' "$T/mid.err" && break; sleep 0.01; done
    mount -o remount,ro,bind "$T/mid"
    rc=0; wait "$pid" || rc=$?
    check "turned read-only mid-run: exit 1 (rc $rc)" test "$rc" -eq 1
    check "turned read-only mid-run: both files named: $(tail -c 300 "$T/mid.err")" \
        bash -c 'grep -q "cannot write $1/ck: Read-only" "$2" && grep -q "cannot write $1/r.json: Read-only" "$2"' _ "$T/mid" "$T/mid.err"
    check "turned read-only mid-run: previous checkpoint intact" cmp -s "$T/mid/ck" "$T/mid.ck.prev"
    check "turned read-only mid-run: previous report intact" cmp -s "$T/mid/r.json" "$T/mid.r.prev"
    check "turned read-only mid-run: no temporary file" no_tmp "$T/mid"
fi

# --- real children killed or hung during a sweep -------------------------------
# children_of PID: its child processes running train_model
children_of() {
    local c
    for c in $(pgrep -P "$1" 2>/dev/null); do
        # the sweep's runs only: not scale's own `train_model --describe`
        [[ $(readlink "/proc/$c/exe" 2>/dev/null) == */train_model ]] &&
            grep -qa -e '--report' "/proc/$c/cmdline" 2>/dev/null && echo "$c"
    done
    return 0
}
# steps of the tiny config that take about 0.8 s here (sanitizer builds are slower)
calibrate() {
    local t0=$EPOCHREALTIME
    "$LF" --steps 200 --quiet --eval-batches 0 >/dev/null
    local t1=$EPOCHREALTIME
    local ms=$(( (10#${t1/./} - 10#${t0/./}) / 1000 ))
    local n=$(( 200 * 800 / (ms > 0 ? ms : 1) ))
    echo $(( n < 100 ? 100 : n > 50000 ? 50000 : n ))
}
# sweep_and SIGNAL OUT TIMEOUT: run a 4-point real sweep, send SIGNAL to the
# second child; rc and the folder are checked by the caller
sweep_and() {
    local sig=$1 out=$2 tmo=$3 seen='' c n=0
    "$SCALE" --bin-dir "$BUILD" --config tiny --steps "$SWEEP_STEPS" --threads 1,2 --reps 1 \
        --timeout "$tmo" --out "$out" >"$T/sweep.out" 2>"$T/sweep.err" &
    local spid=$!
    bgpids+=("$spid")
    for _ in $(seq 600); do
        for c in $(children_of "$spid"); do
            [[ " $seen " == *" $c "* ]] && continue
            seen+=" $c"; n=$((n + 1))
            if [[ $n -eq 2 ]]; then sleep 0.2; kill "-$sig" "$c"; break 2; fi
        done
        sleep 0.02
    done
    rc=0; wait "$spid" || rc=$?
}
recs() {
    python3 - "$1/runs.jsonl" <<'EOF'
import json, sys
print(" ".join("%s:%s:%s:%s" % (r["variant"], r["threads"], r["status"], r["signal"])
               for r in map(json.loads, open(sys.argv[1]))))
EOF
}
if [[ ! -x $SCALE ]]; then
    skip "scale sweeps with a real train_model: $SCALE not built"
else
    SWEEP_STEPS=$(calibrate)
    sweep_and KILL "$T/killed" 60
    got=$(recs "$T/killed")
    check "SIGKILLed child: sweep exits 1 (rc $rc)" test "$rc" -eq 1
    check "SIGKILLed child: recorded failed with SIGKILL, the rest ok: $got" test \
        "$got" = "lockfree:1:ok:None locked:1:failed:SIGKILL lockfree:2:ok:None locked:2:ok:None"
    check "SIGKILLed child: summary written" test -s "$T/killed/summary.csv"
    check "SIGKILLed child: no report or log of the dead run left" bash -c '! ls -A "$1" | grep -q "^\."' _ "$T/killed"

    # --timeout 10: over 6x what a run that is not stopped takes at the load
    # the calibration saw (0.8 s of one thread's work, 2 threads' at most
    # twice that), so only the stopped child times out
    t0=$SECONDS
    sweep_and STOP "$T/hung" 10
    got=$(recs "$T/hung")
    check "stopped child: sweep exits 1 (rc $rc)" test "$rc" -eq 1
    check "stopped child: recorded as timeout, the rest ok: $got" test \
        "$got" = "lockfree:1:ok:None locked:1:timeout:SIGKILL lockfree:2:ok:None locked:2:ok:None"
    check "stopped child: killed at --timeout 10 ($((SECONDS - t0)) s in all)" test $((SECONDS - t0)) -lt 45
    check "no train_model left behind" test -z "$(pgrep -f "$T/" || true)"
fi

# --- signals to train_model ------------------------------------------------------
# wait_step PID FILE: until FILE (its stderr) shows a progress line, so the
# run is training with its signal handler set; 1 if it exited first
wait_step() {
    for _ in $(seq 6000); do
        grep -q '^step' "$2" && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.01
    done
    return 1
}
"$LF" --config S --steps 100000 --save "$T/int.ck" --report "$T/int.json" >/dev/null 2>"$T/int.err" &
pid=$!; bgpids+=("$pid")
check "SIGINT: the run started training" wait_step "$pid" "$T/int.err"
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
check "SIGINT: exit 130 (rc $rc)" test "$rc" -eq 130
check "SIGINT: says so: $(tail -c 200 "$T/int.err")" grep -q "stopped by signal 2" "$T/int.err"
run "$LF" --config S --steps 1 --quiet --resume "$T/int.ck"
check "SIGINT: the checkpoint resumes (rc $rc)" test "$rc" -eq 0
check "SIGINT: the report is complete JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/int.json"

# SIGTERM / SIGINT at random moments of a resume+save cycle's training (0 to
# 300 ms after its first progress line, of a run far longer than that), and
# at the moment the new checkpoint's temporary file starts filling; then
# SIGKILL there. The signal must land while the process runs: the exit is
# 128 + the signal (130, 143), never 0; the path always holds the old
# checkpoint or a complete new one.
P=$T/cyc.ck
"$LF" --config S --steps 1 --quiet --eval-batches 0 --save "$P" >/dev/null
RANDOM=7
declare -A sigrc=([INT]=130 [TERM]=143 [KILL]=137)
cycle() {   # cycle SIGNAL MODE: one run, the signal sent at a random time or on the temp file
    local sig=$1 mode=$2 old_step pid rc=0 landed=0 steps=100000
    cp "$P" "$T/cyc.prev"
    old_step=$(ckpt_step "$P")
    [[ $mode == tmpfile ]] && steps=2
    "$LF" --config S --steps $steps --eval-batches 0 --resume "$P" --save "$P" >/dev/null 2>"$T/cyc.err" &
    pid=$!; bgpids+=("$pid")
    if [[ $mode == random ]]; then
        wait_step "$pid" "$T/cyc.err" && landed=1
        sleep "0.$(printf '%03d' $((RANDOM % 300)))"
    else
        for _ in $(seq 20000); do
            for f in "$T"/.cyc.ck."$pid".*.tmp; do [[ -s $f ]] && landed=1; done
            [[ $landed -eq 1 ]] && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.001
        done
    fi
    kill "-$sig" "$pid" 2>/dev/null || landed=0
    wait "$pid" || rc=$?
    local step; step=$(ckpt_step "$P")
    local what="$sig $mode (rc $rc, step $old_step -> $step)"
    check "$what: the signal landed while the run was $([[ $mode == random ]] && echo training || echo saving)" test "$landed" -eq 1
    check "$what: exit ${sigrc[$sig]}" test "$rc" -eq "${sigrc[$sig]}"
    if [[ $sig == KILL ]]; then
        :   # a killed writer cannot clean up: the next write removes its temporary (core/afile.h)
    else
        check "$what: says it was stopped by the signal" grep -q "stopped by signal" "$T/cyc.err"
        check "$what: no temporary file left" no_tmp "$T"
    fi
    if [[ $step == "$old_step" ]]; then
        check "$what: the checkpoint is unchanged only when SIGKILLed mid-write" test "$sig" = KILL
        check "$what: unchanged checkpoint is byte-identical" cmp -s "$P" "$T/cyc.prev"
    elif [[ $mode == tmpfile ]]; then
        check "$what: new checkpoint 2 steps on" test "$step" -eq $((old_step + 2))
    else
        check "$what: new checkpoint at least 1 step on" test "$step" -gt "$old_step"
    fi
    run "$LF" --config S --steps 1 --quiet --eval-batches 0 --resume "$P"
    check "$what: the checkpoint at the path resumes (rc $rc): $(head -c 200 "$T/err")" test "$rc" -eq 0
}
# three rounds on the plain build; one on a sanitizer build, where each
# signal and moment still runs once (more rounds add random moments, which
# the plain build tries, at 3-4x the time)
rounds=3
if [[ $asan -eq 1 ]]; then
    rounds=1
    skip "sanitizer build: one round of the SIGTERM/SIGINT cycles and one SIGKILL mid-write (the plain build makes 3 rounds and 2)"
fi
for ((i = 0; i < rounds; i++)); do
    cycle TERM random
    cycle INT random
    cycle TERM tmpfile
    cycle INT tmpfile
done
cycle KILL tmpfile
[[ $asan -eq 1 ]] || cycle KILL tmpfile

check_finish test_faults
