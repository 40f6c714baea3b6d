#!/usr/bin/env bash
# test_mpi_fail.sh - an MPI job that fails on one rank ends with a message and
# a non-zero exit, never a hang, and the harness sweeps ranks x threads:
#   - a rank killed mid-run (CLLM_TEST_KILL_RANK) ends the job (mpirun's own
#     handling) well within scale's --timeout, and a checkpoint written
#     before stays byte for byte, with no temp file left;
#   - a rank stuck in a step (CLLM_TEST_HANG_STEP) is ended by scale's
#     --timeout (SIGTERM to mpirun), leaving no process behind;
#   - a stop signal to one rank stops every rank after the same step, and
#     rank 0's checkpoint resumes there;
#   - a bad flag on one rank (mpirun's MPMD form) exits 2 naming the rank and
#     the flag; ranks given different command lines exit 2 too;
#   - scale --ranks 1,2,4 --threads 1,2 records ranks and workers in
#     runs.jsonl and summary.csv, binds T cores per rank, and runs and labels
#     the points past the usable CPUs as oversubscribed;
#   - scale's usage errors for --ranks, and the root check.
# tests/mpi_common.sh sets OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (CI runs as root).
# test-timeout: 150
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MPI=$BUILD/mpi/train_model SCALE=$BUILD/scale
. tests/mpi_common.sh    # Open MPI as root (CI) and under ASan; RUN, tmp, check
field() { /usr/bin/python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r[sys.argv[2]])' "$@"; }
if [[ ! -x $MPI || ! -x $SCALE ]] || ! command -v mpirun >/dev/null; then
    bad "$MPI, $SCALE or mpirun missing (make all; scripts/deps.sh)"; check_finish test_mpi_fail; exit 1
fi
S=(--config tiny --reps 1)

# --- a rank killed at step 5 of 100000: the job ends, within the harness's --timeout
t0=$SECONDS
rc=0; CLLM_TEST_KILL_RANK=1:5 "$SCALE" "${S[@]}" --ranks 2 --threads 1 --steps 100000 --timeout 120 \
    --out "$tmp/kill" >/dev/null 2>"$tmp/kill.log" || rc=$?
check "scale: the killed rank's run failed (exit $rc)" test $rc -eq 1
check "its record says failed, not timeout: $(field "$tmp/kill/runs.jsonl" reason)" \
    test "$(field "$tmp/kill/runs.jsonl" status)" = failed
check "and it ended within the --timeout of 120 s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -lt 120
printf 'an earlier checkpoint\n' >"$tmp/keep.ck"; cp "$tmp/keep.ck" "$tmp/keep.orig"
rc=0; CLLM_TEST_KILL_RANK=0:3 timeout 120 "${RUN[@]}" -np 2 "$MPI" --steps 100000 --quiet --save "$tmp/keep.ck" \
    >/dev/null 2>"$tmp/kill0.log" || rc=$?
check "rank 0 killed: mpirun exits non-zero, no hang (exit $rc)" bash -c "[[ $rc -ne 0 && $rc -ne 124 ]]"
check "mpirun says which rank died" grep -q "rank 0 .*exited on signal 9" "$tmp/kill0.log"
check "the checkpoint written before is intact" cmp -s "$tmp/keep.ck" "$tmp/keep.orig"
check "no temp file is left" bash -c '! ls "$1"/.keep.ck.*.tmp 2>/dev/null' _ "$tmp"

# --- a rank stuck in a step: the harness's --timeout ends the job, nothing is left running
rc=0; CLLM_TEST_HANG_STEP=2 "$SCALE" "${S[@]}" --ranks 2 --threads 1 --steps 50 --timeout 3 --out "$tmp/hang" \
    >/dev/null 2>&1 || rc=$?
check "a stuck rank: scale records a timeout (exit $rc)" test "$(field "$tmp/hang/runs.jsonl" status)" = timeout
if pgrep -f "train_model.*$tmp/hang/" >/dev/null; then bad "a process of the stuck job is left"; else ok; fi

# --- a stop signal to one rank: every rank stops after the same step, rank 0 saves
"${RUN[@]}" -np 2 "$MPI" --steps 100000000 --save "$tmp/stop.ck" >/dev/null 2>"$tmp/stop.log" &
mp=$!
for _ in $(seq 600); do grep -q "^step " "$tmp/stop.log" && break; sleep 0.1; done   # a step is done
kill -TERM "$(pgrep -P $mp -f train_model | tail -n 1)" 2>/dev/null || true
rc=0; wait $mp || rc=$?
check "SIGTERM to one rank: the job exits 143 (got $rc)" test $rc -eq 143
n=$(sed -n 's/.*stopped by signal 15 after \([0-9]*\) steps (checkpoint written).*/\1/p' "$tmp/stop.log")
check "rank 0 says where it stopped and that it saved: '$n' steps" test -n "$n"
"$MPI" --resume "$tmp/stop.ck" --steps 1 --quiet --eval-batches 0 --report "$tmp/stop.json" >/dev/null 2>&1 || true
check "the checkpoint resumes at step $n" bash -c "grep -q '\"first_step\":$n,' '$tmp/stop.json'"

# --- bad flags on one rank: exit 2, naming the rank and the flag
rc=0; "${RUN[@]}" -np 1 "$MPI" --steps 3 --quiet : -np 1 "$MPI" --steps 3 --quiet --bogus \
    >/dev/null 2>"$tmp/flag.log" || rc=$?
check "a bad flag on rank 1 of 2: exit 2 (got $rc)" test $rc -eq 2
check "the message names the rank and the flag" grep -q "rank 1 of 2.*unknown option '--bogus'" "$tmp/flag.log"
rc=0; "${RUN[@]}" -np 1 "$MPI" --steps 3 --quiet : -np 1 "$MPI" --steps 4 --quiet >/dev/null 2>"$tmp/diff.log" || rc=$?
check "different command lines on the ranks: exit 2 (got $rc)" test $rc -eq 2
check "the message says the command line differs" grep -q "rank 1 of 2.*command line differs from rank 0" "$tmp/diff.log"
rc=0; "${RUN[@]}" -np 2 "$MPI" --steps 3 --quiet --threads 2 --scaling strong --batch 3 >/dev/null 2>"$tmp/strong.log" || rc=$?
check "a batch smaller than the workers: exit 2 (got $rc)" test $rc -eq 2

# --- the sweep: ranks x threads, ranks and workers recorded, oversubscription labelled
"$SCALE" "${S[@]}" --ranks 1,2,4 --threads 1,2 --steps 3 --out "$tmp/sweep" >"$tmp/sweep.out" 2>&1 || bad "scale sweep: exit $?"
check "sweep: runs.jsonl and summary.csv carry ranks and workers, binding per point" \
    /usr/bin/python3 - "$tmp/sweep" "$(nproc)" <<'PY'
import csv, json, sys
d, cpus = sys.argv[1], int(sys.argv[2])
runs = [json.loads(l) for l in open(d + "/runs.jsonl")]
assert sorted((r["ranks"], r["threads"]) for r in runs) == [(1, 1), (1, 2), (2, 1), (2, 2), (4, 1), (4, 2)]
for r in runs:
    assert r["status"] == "ok" and r["workers"] == r["ranks"] * r["threads"] == r["report"]["workers"], r["status"]
    cmd = " ".join(r["command"])
    over = r["workers"] > cpus
    assert r["oversubscribed"] == over, (cmd, r["oversubscribed"])
    want = "--oversubscribe --map-by slot --bind-to none" if over else f"--map-by slot:PE={r['threads']} --bind-to"
    assert cmd.startswith(f"mpirun -np {r['ranks']} ") and want in cmd, cmd
rows = list(csv.DictReader(open(d + "/summary.csv")))
assert sorted((int(x["ranks"]), int(x["threads"])) for x in rows) == sorted((r["ranks"], r["threads"]) for r in runs)
for x in rows:
    assert int(x["workers"]) == int(x["ranks"]) * int(x["threads"])
    assert x["oversubscribed"] == str(int(int(x["workers"]) > cpus)) and x["phase_comm_s"] != "NA"
meta = json.load(open(d + "/meta.json"))
assert meta["options"]["ranks"] == [1, 2, 4] and meta["options"]["variants"] == ["mpi"], meta["options"]
assert meta["points_total"] == 6 and meta["runs_ok"] == 6
PY
check "the table labels the oversubscribed points" grep -q "mpi .* 4 .*oversubscribed (4 workers > " "$tmp/sweep.out"

# --- scale's usage errors and the root check
rc=0; "$SCALE" --ranks 2 --variants lockfree --out "$tmp/u1" >/dev/null 2>"$tmp/u1.log" || rc=$?
check "--ranks without the mpi variant: exit 2 (got $rc)" bash -c "[[ $rc -eq 2 ]] && grep -q 'add mpi' '$tmp/u1.log'"
rc=0; "$SCALE" --ranks 0 --out "$tmp/u2" >/dev/null 2>&1 || rc=$?
check "--ranks 0: exit 2 (got $rc)" test $rc -eq 2
rc=0; "$SCALE" --ranks 512 --threads 4 --out "$tmp/u3" >/dev/null 2>&1 || rc=$?
check "--ranks 512 x --threads 4 workers: exit 2 (got $rc)" test $rc -eq 2
if [[ $(id -u) -eq 0 ]]; then
    rc=0; env -u OMPI_ALLOW_RUN_AS_ROOT "$SCALE" "${S[@]}" --ranks 1 --threads 1 --steps 1 --out "$tmp/root" \
        >/dev/null 2>"$tmp/root.log" || rc=$?
    check "as root without OMPI_ALLOW_RUN_AS_ROOT: exit 1 naming the variables (got $rc)" \
        bash -c "[[ $rc -eq 1 ]] && grep -q OMPI_ALLOW_RUN_AS_ROOT_CONFIRM '$tmp/root.log'"
fi

check_finish test_mpi_fail
