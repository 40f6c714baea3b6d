#!/usr/bin/env bash
# test_mpi.sh - the MPI variant (build/mpi/train_model under mpirun) trains
# what one process trains:
#   - the lock-free and locked builds link no MPI (ldd, nm); the MPI build does;
#   - 1, 2, 4 ranks (4 oversubscribed on 2 CPUs) x 1 and 2 threads, 20 steps:
#     R x 1 gives the bits of one process of R threads (cmp of the checkpoints:
#     the same slices, data and sum tree), R x 2 a loss within 1e-6 relative of
#     one process of 2R threads at every step (its sum tree adds rank sums);
#   - a run is bitwise repeatable for the same ranks, threads and seed;
#   - save at 2 ranks, resume at 1 (and the reverse): the bits of the
#     uninterrupted run (the moments are gathered into one file and re-sharded);
#   - --memory-table shows each rank's 1/R of Adam's moments;
#   - the report carries ranks, workers, the library and the comm phases;
#   - TCP (--mca btl tcp,self) gives the bits of shared memory (vader);
#   - --overlap on gives the bits of off at 2 x 1 and 2 x 2 (a periodic
#     checkpoint and the validation between the steps), also when every
#     bucket of the parameter all-gather lands only once forward waits for
#     it (CLLM_TEST_LATE_ALLGATHER, over NaN), and the report's
#     exchange clocks: all exposed with it off, the all-gather and the
#     gradient buckets in flight with it on.
# Open MPI refuses root unless OMPI_ALLOW_RUN_AS_ROOT=1 and
# OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are set: tests/mpi_common.sh sets both (CI
# runs as root). Failures (a killed rank, bad flags, the harness) are tests/test_mpi_fail.sh.
# test-timeout: 150
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MPI=$BUILD/mpi/train_model LF=$BUILD/lockfree/train_model
. tests/mpi_common.sh    # Open MPI as root (CI) and under ASan; RUN, tmp, check
# the per-step loss of two reports within a relative tolerance
close() { /usr/bin/python3 - "$@" <<'PY'
import json, sys
a, b = (json.load(open(p))["loss"] for p in sys.argv[1:3])
tol = float(sys.argv[3])
worst = max(abs(x - y) / abs(y) for x, y in zip(a, b))
print(f"  {sys.argv[1].rsplit('/', 1)[-1]} vs {sys.argv[2].rsplit('/', 1)[-1]}: {len(a)} steps, "
      f"largest relative loss difference {worst:.3g}")
sys.exit(0 if len(a) == len(b) == 20 and worst <= tol else 1)
PY
}
if [[ ! -x $MPI ]] || ! command -v mpirun >/dev/null; then
    bad "$MPI or mpirun missing (make all; scripts/deps.sh installs openmpi-bin libopenmpi-dev)"
    check_finish test_mpi; exit 1
fi

# --- one source, three variants: only the MPI one links MPI
for v in lockfree locked; do
    check "$v links no libmpi" bash -c '! ldd "$1" | grep -q libmpi' _ "$BUILD/$v/train_model"
    check "$v has no MPI symbol" bash -c '! nm "$1" | grep -q " U MPI_"' _ "$BUILD/$v/train_model"
done
check "the MPI variant links libmpi" bash -c 'ldd "$1" | grep -q libmpi' _ "$MPI"

# --- ranks x threads against one process of ranks * threads threads
A=(--steps 20 --quiet --eval-batches 0)
for n in 1 2 4 8; do "$LF" "${A[@]}" --threads $n --save "$tmp/lf$n.ck" --report "$tmp/lf$n.json" >/dev/null; done
for r in 1 2 4; do
    for t in 1 2; do
        "${RUN[@]}" -np $r "$MPI" "${A[@]}" --threads $t --save "$tmp/m${r}x$t.ck" --report "$tmp/m${r}x$t.json" \
            >/dev/null 2>"$tmp/m${r}x$t.log" || bad "$r ranks x $t threads: exit $? ($(tail -n 3 "$tmp/m${r}x$t.log"))"
    done
done
for r in 1 2 4; do
    check "$r ranks x 1 thread: the bits of 1 process x $r threads" cmp -s "$tmp/m${r}x1.ck" "$tmp/lf$r.ck"
done
check "1 rank x 2 threads: the bits of the lock-free build at 2 threads" cmp -s "$tmp/m1x2.ck" "$tmp/lf2.ck"
for r in 2 4; do
    check "$r ranks x 2 threads: loss within 1e-6 of 1 x $((2 * r)) threads" close "$tmp/m${r}x2.json" "$tmp/lf$((2 * r)).json" 1e-6
    cmp -s "$tmp/m${r}x2.ck" "$tmp/lf$((2 * r)).ck" && s=bitwise || s="not bitwise (the rank sums change the sum tree)"
    echo "  $r ranks x 2 threads against 1 x $((2 * r)) threads: parameters and moments $s"
done
"${RUN[@]}" -np 2 "$MPI" "${A[@]}" --threads 2 --save "$tmp/again.ck" >/dev/null
check "2 ranks x 2 threads: bitwise repeatable" cmp -s "$tmp/again.ck" "$tmp/m2x2.ck"
"${RUN[@]}" -np 4 "$MPI" "${A[@]}" --threads 1 --scaling strong --batch 6 --save "$tmp/s4.ck" >/dev/null
"$LF" "${A[@]}" --threads 4 --scaling strong --batch 6 --save "$tmp/s1.ck" >/dev/null
check "strong scaling, a batch of 6 over 4 ranks: the bits of 4 threads" cmp -s "$tmp/s4.ck" "$tmp/s1.ck"

# --- the report
check "report: ranks, workers, library, phases of every worker" /usr/bin/python3 - "$tmp/m2x2.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["variant"] == "mpi" and r["ranks"] == 2 and r["threads"] == 2 and r["workers"] == 4, r
m = r["mpi"]
assert m["library"].startswith("Open MPI") and m["thread_level"] in ("funneled", "serialized", "multiple"), m
assert m["ranks"] == 2 and m["bytes_sent_per_step"] > 4 * r["params"] / 2, m
ph = dict(zip(r["phases"]["names"], r["phases"]["wall_s"]))
assert all(len(v) == 4 for v in ph.values())
assert ph["comm"][0] > 0 and ph["comm"][2] > 0 and ph["comm"][1] == ph["comm"][3] == 0, ph["comm"]
assert all(x > 0 for x in ph["comm_sum"]), ph["comm_sum"]
assert len(r["ranks_peak_rss_kib"]) == 2 and all(x > 0 for x in r["ranks_peak_rss_kib"])
assert r["memory"]["ranks"] == 2 and [s["name"] for s in r["memory"]["shared"]][-1] == "comm_recv"
PY

# --- save at R ranks, resume at another R: the uninterrupted run's bits
H=(--quiet --eval-batches 0 --lr-steps 20)
"${RUN[@]}" -np 2 "$MPI" "${H[@]}" --steps 10 --threads 1 --save "$tmp/a.ck" >/dev/null
"${RUN[@]}" -np 1 "$MPI" "${H[@]}" --steps 10 --threads 2 --resume "$tmp/a.ck" --save "$tmp/a2.ck" >/dev/null
check "saved at 2 ranks x 1, resumed at 1 rank x 2: the bits of 20 steps at 2 workers" cmp -s "$tmp/a2.ck" "$tmp/lf2.ck"
"${RUN[@]}" -np 1 "$MPI" "${H[@]}" --steps 10 --threads 2 --save "$tmp/b.ck" >/dev/null
"${RUN[@]}" -np 2 "$MPI" "${H[@]}" --steps 10 --threads 1 --resume "$tmp/b.ck" --save "$tmp/b2.ck" >/dev/null
check "saved at 1 rank x 2, resumed at 2 ranks x 1: the same bits" cmp -s "$tmp/b2.ck" "$tmp/lf2.ck"
check "the 2-rank checkpoint is the 1-process one (moments gathered)" cmp -s "$tmp/a.ck" "$tmp/b.ck"

# --- the memory table: Adam's moments sharded, 1/R per rank
"${RUN[@]}" -np 2 "$MPI" --config seed --threads 2 --memory-table >"$tmp/mt2.txt"
check "--memory-table at 2 ranks: each rank holds half of Adam's moments" /usr/bin/python3 - "$tmp/mt2.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
rows = [tuple(map(int, m)) for m in re.findall(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\(", t, re.M)]
one = int(re.search(r"one process of 4 threads: adam m\+v (\d+) bytes", t).group(1))
assert len(rows) == 2 and rows[0][0] == 0 and rows[1][0] == 1, rows
assert sum(r[1] for r in rows) == one, (rows, one)
assert all(abs(r[1] - one / 2) <= 2 * 64 * 4 for r in rows), (rows, one)
PY

# --- --overlap on (gradient buckets during backward, the parameter all-gather during the next
# forward, layer by layer): the bits of off at 2 x 1 and 2 x 2, through a periodic checkpoint
# (which completes an all-gather in flight) and the validation after; the exchange's clocks
O=(--steps 8 --quiet --eval-batches 1 --save-every 3)
for t in 1 2; do
    for ov in off on; do
        "${RUN[@]}" -np 2 "$MPI" "${O[@]}" --threads $t --overlap $ov --save "$tmp/o$t$ov.ck" \
            --report "$tmp/o$t$ov.json" >/dev/null 2>"$tmp/o.log" || bad "2 x $t --overlap $ov: exit $? ($(tail -n 3 "$tmp/o.log"))"
    done
    check "2 ranks x $t threads: --overlap on gives the bits of off" cmp -s "$tmp/o${t}on.ck" "$tmp/o${t}off.ck"
    # the test hook posts each bucket's receives only when forward reaches it, over NaN: a layer
    # read before its wait (worker 0) or its gate (the others) makes the loss NaN
    CLLM_TEST_LATE_ALLGATHER=1 "${RUN[@]}" -x CLLM_TEST_LATE_ALLGATHER -np 2 "$MPI" "${O[@]}" --threads $t --overlap on \
        --save "$tmp/o${t}late.ck" >/dev/null 2>"$tmp/o.log" || bad "2 x $t late all-gather: exit $? ($(tail -n 3 "$tmp/o.log"))"
    check "2 ranks x $t threads: each layer waits for its parameters (late all-gather over NaN: the bits of off)" \
        cmp -s "$tmp/o${t}late.ck" "$tmp/o${t}off.ck"
    check "2 ranks x $t threads: --overlap on and off, the same losses and validation loss" /usr/bin/python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
sys.exit(not (a["loss"] == b["loss"] and a["val_loss"] == b["val_loss"] is not None))' "$tmp/o${t}on.json" "$tmp/o${t}off.json"
done
check "the exchange clocks: off all exposed; on, the all-gather in flight during forward on both ranks" \
    /usr/bin/python3 - "$tmp/o1off.json" "$tmp/o1on.json" "$tmp/o2on.json" <<'PY'
import json, sys
off, on1, on2 = (json.load(open(p))["mpi"] for p in sys.argv[1:])
for m in (off, on1, on2):
    c = m["clocks"]
    assert c["steps"] == 8 and len(c["exposed_ms_each_step"]) == len(c["hidden_ms_each_step"]) == 8, c
    for r in range(2):
        assert c["exposed"][r] > 0, c
        assert abs(c["hidden"][r] - c["hidden_exchange"][r] - c["hidden_allgather"][r]) < 1e-9, c
        assert 0 <= c["exposed_allgather"][r] <= c["inflight_allgather"][r], c
        assert 0 <= c["hidden_exchange"][r] <= c["inflight_exchange"][r], c
    assert abs(sum(c["exposed_ms_each_step"]) / 8 - 1e3 * c["exposed"][0] / 8) < 1e-6, c
c = off["clocks"]
assert off["overlap"] == "off" and sum(c["hidden"]) == sum(c["inflight_allgather"]) == sum(c["inflight_exchange"]) == 0, c
for m in (on1, on2):
    c = m["clocks"]
    # 8 steps, a periodic checkpoint after steps 3 and 6 completes the all-gather between steps:
    # steps 2, 3, 5, 6 and 8 find one in flight
    assert m["overlap"] == "on" and all(x > 0 for x in c["inflight_allgather"]), c
    assert all(x > 0 for x in c["inflight_exchange"]), c
PY

# --- the transport does not change the bits: TCP against shared memory
for btl in tcp vader; do
    mpirun -np 2 --mca pml ob1 --mca btl "$btl,self" --mca btl_tcp_if_include lo --mca btl_base_verbose 30 \
        "$MPI" "${A[@]}" --save "$tmp/$btl.ck" >/dev/null 2>"$tmp/$btl.log" || bad "btl $btl: exit $?"
done
check "--mca btl tcp,self ran over TCP" grep -q "btl: tcp: Using interface" "$tmp/tcp.log"
check "--mca btl vader,self ran over shared memory" grep -q "initializing btl component vader" "$tmp/vader.log"
check "TCP gives the bits of shared memory" cmp -s "$tmp/tcp.ck" "$tmp/vader.ck"
check "and of one process of 2 threads" cmp -s "$tmp/tcp.ck" "$tmp/lf2.ck"

check_finish test_mpi
