#!/usr/bin/env bash
# test_cluster.sh - scripts/cluster: two nodes in network namespaces joined by
# a tbf-shaped veth link, Open MPI launched into them through its rsh agent:
#   - refusals: bad arguments exit 2; not root exits 2 saying so;
#   - up makes the namespaces, the link (addresses only inside them, tbf on
#     both ends), the hostfile and the agent; the probe measures the link
#     (TCP, the stream's CPU, and --mpi: build/mpi/comm_probe's two patterns
#     of a config's step of messages); comm_probe refuses 1 rank, bad flags;
#   - 2 nodes x 1 thread over the link: the bits of 1 node x 2 ranks (shared
#     memory) and of 1 process x 2 threads; --overlap on (the exchange in
#     buckets during backward, the parameter all-gather beside the next
#     forward) the bits of off at 2 x 1 and 2 x 2;
#   - bench_2node's smallest run: its table, the MPI probe's bytes = the
#     training run's, the model's arithmetic (MPI probe; the TCP one beside);
#   - a rank's process killed on node 1, and node 1's link taken down mid-run,
#     once the job has written a periodic checkpoint (--save-every): mpirun
#     exits non-zero within 30 s, its message names the rank or node lost, no
#     process is left in either namespace within 30 s of the fault, and the
#     last periodic checkpoint is intact and resumes on one node with the bits
#     of an uninterrupted run;
#   - down leaves nothing (namespaces, processes, files), also after a crash
#     (namespaces and a process left without cluster.json).
# Root only (a SKIP line otherwise); the namespaces carry the prefix cllmt-,
# so that a cluster a user has up (cllm-) is left alone. Skipped on the
# sanitizer builds (the same launch path; the plain build covers it).
# test-timeout: 300
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MPI=$BUILD/mpi/train_model LF=$BUILD/lockfree/train_model MPI_PROBE=$BUILD/mpi/comm_probe
. tests/mpi_common.sh    # Open MPI as root, RUN, tmp, check
CL=(scripts/cluster --prefix cllmt- --dir "$tmp/cl")
trap '"${CL[@]}" down >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT

# --- refusals (any user)
for bad_args in "up --nodes 1" "up --rate fast" "up --nodes x" "frobnicate" "run" "exec --" "--prefix Bad up"; do
    rc=0; "${CL[@]}" $bad_args >/dev/null 2>"$tmp/err" || rc=$?
    check "cluster $bad_args: exit 2 (got $rc: $(tail -n 1 "$tmp/err"))" test $rc -eq 2
done
# --- the 2-node model on known inputs (cllm_analysis/nodes.py; any user)
check "nodes.model: 20 MB at 1 Gbit/s + 3 x 100 us on a 300 ms step; exposed = max(0, exchange - fwd - bwd)" \
    /usr/bin/python3 - <<'PY'
import sys
sys.path.insert(0, "scripts")
from cllm_analysis import nodes
m = nodes.model(300.0, 50.0, 100.0, 20e6, 1.0, 100.0)
assert abs(m["exchange_ms"] - 160.3) < 1e-9 and abs(m["step_off_ms"] - 460.3) < 1e-9, m
assert abs(m["exposed_on_ms"] - 10.3) < 1e-9 and abs(m["step_on_ms"] - 310.3) < 1e-9, m
m = nodes.model(300.0, 100.0, 200.0, 20e6, 1.0, 100.0)
assert m["exposed_on_ms"] == 0.0 and m["step_on_ms"] == 300.0 and abs(m["hidden_on_ms"] - 160.3) < 1e-9, m
assert abs(nodes.error(110.0, 100.0) - 0.1) < 1e-12 and nodes.error(None, 1.0) is None
rep = {"steps": 2, "phases": {"names": ["forward", "comm"], "wall_s": [[0.2, 0.4], [0.3, 0.1]]}}
assert abs(nodes.phase_ms(rep, "forward") - 150.0) < 1e-9 and nodes.phase_ms(rep, "x") is None
assert abs(nodes.exchange_least_ms(rep, 2, 1) - 50.0) < 1e-9
PY
check "nodes.model_mpi: off = ref + MPI probe (off); on = ref + net CPU + max(0, MPI probe (on) - fwd - bwd)" \
    /usr/bin/python3 - <<'PY'
import sys
sys.path.insert(0, "scripts")
from cllm_analysis import nodes
# 0.5 s of CPU per GB carried, 2 nodes on this machine sending 20 MB a step each, 2 CPUs: 10 ms
assert abs(nodes.net_cpu_ms(0.5, 20e6, 2, 2, 2) - 10.0) < 1e-9
assert nodes.net_cpu_ms(0.5, 20e6, 2, 4, 2) == 0.0 and nodes.net_cpu_ms(None, 20e6, 2, 2, 2) is None
m = nodes.model_mpi(300.0, 50.0, 100.0, 200.0, 180.0, 10.0)
assert m["step_off_ms"] == 500.0 and m["exposed_on_ms"] == 30.0 and m["step_on_ms"] == 340.0, m
m = nodes.model_mpi(300.0, 50.0, 100.0, 200.0, 120.0, 10.0)
assert m["exposed_on_ms"] == 0.0 and m["step_on_ms"] == 310.0, m
m = nodes.model_mpi(300.0, 50.0, 100.0, None, None, None)
assert m["step_off_ms"] is None and m["step_on_ms"] is None, m
PY
# --- the bench-2node folder's analysis (cllm_analysis/twonode.py, what scripts/analyze runs on
# it) on a made-up folder: the clocks, not a difference of runs; the model and its error; the goals
check "twonode: the table from the ranks' clocks, the model's error, REPORT.md's goals" \
    /usr/bin/python3 - "$tmp/fake2n" <<'PY'
import json, os, sys
sys.path.insert(0, "scripts")
from cllm_analysis import twonode
out = sys.argv[1]
def put(d, rep):
    os.makedirs(os.path.join(out, "raw", d))
    with open(os.path.join(out, "raw", d, "runs.jsonl"), "w") as f:
        f.write(json.dumps({"report": rep}) + "\n")
ph = lambda fwd, bwd, comm, n: {"names": ["forward", "backward", "comm"],
                                "wall_s": [[fwd] * n, [bwd] * n, [comm] * n]}
# the reference: 2 steps of 100 ms; forward 20 ms, backward 40 ms a step
put("ref-tiny-b2-r0", {"steps": 2, "wall_s": 0.2, "phases": ph(0.04, 0.08, 0.0, 2)})
clk = lambda e, h: {"exposed": e, "hidden": h, "inflight_exchange": h + 5.0, "inflight_allgather": 0.0}
for ov, wall, e, h in (("off", 0.4, 90.0, 0.0), ("on", 0.3, 50.0, 45.0)):
    put(f"mpi-tiny-b2-1gbit-{ov}-r0", {"steps": 2, "wall_s": wall, "phases": ph(0.04, 0.08, 2 * e / 1e3, 1),
                                       "mpi": {"bytes_sent_per_step": 10e6, "clocks": {"ms_per_step": clk(e, h)}}})
with open(os.path.join(out, "raw", "probe-tiny-b2-1gbit-r0.json"), "w") as f:
    json.dump({"both_ways_gbps": 1.0, "one_way_gbps": 1.0, "rtt_us": 100.0}, f)
with open(os.path.join(out, "meta.json"), "w") as f:
    json.dump({"tool": twonode.TOOL, "configs": "tiny:2", "rates": ["1gbit"], "overlaps": ["off", "on"], "reps": 1,
               "steps": 2, "cpus": 2, "cpu": "x", "host": "h", "loadavg_start": ["1", "1", "1"]}, f)
assert twonode.is_folder(out) and not twonode.is_folder("scripts")
t, _ = twonode.write(out)
ref, off, on = t
assert ref["step_ms"] == 100.0 and abs(ref["fwd_ms"] - 20.0) < 1e-9 and abs(ref["bwd_ms"] - 40.0) < 1e-9, ref
assert off["exchange_ms"] == 90.0 and off["exchange_hidden_ms"] == 0.0 and on["exchange_hidden_ms"] == 45.0, (off, on)
# 10 MB at 1 Gbit/s = 80 ms, + 3 x 100 us; off 180.3 against 200 measured; on 100 + max(0, 80.3 - 60)
assert abs(off["model_step_ms"] - 180.3) < 1e-9 and abs(off["model_error"] - (180.3 - 200) / 200) < 1e-12, off
assert abs(on["model_step_ms"] - 120.3) < 1e-9 and abs(on["model_error"] - (120.3 - 150) / 150) < 1e-12, on
assert abs(off["exchange_gbps"] - 10e6 * 8 / 90e-3 / 1e9) < 1e-9 and on["exchange_gbps"] is None, (off, on)
# hidden of allowed: what overlap saved (the off step 200 - the on step 150 ms) over min(the off
# run's exposed 90 ms, forward + backward 20 + 40): 50 / 60, not the probe's time less the exposed
assert abs(on["hidden_allowed_ms"] - 60.0) < 1e-9 and abs(on["hidden_saved_ms"] - 50.0) < 1e-9, on
assert abs(on["hidden_of_allowed"] - 50.0 / 60) < 1e-9 and off["hidden_of_allowed"] is None, (off, on)
md = open(os.path.join(out, "REPORT.md")).read()
assert "at >= 80% of the shaped rate (overlap off, bytes / exposed time): met: lowest 89%" in md, md
assert "dependencies allow hidden: met: tiny-b2 83%" in md, md
assert "| 45.0; saved 50.0 (83%) |" in md, md
assert "within 15% of the measured step (every rate, overlap on and off): not met: 1 of 2 rows" in md, md
PY
check "twonode: with the MPI probe and the stream's CPU cost, the model is the MPI one; the TCP one beside it" \
    /usr/bin/python3 - "$tmp/fake2n" "$tmp/fake2m" <<'PY'
import json, os, shutil, sys
sys.path.insert(0, "scripts")
from cllm_analysis import twonode
src, out = sys.argv[1:]
shutil.copytree(src, out)
pj = os.path.join(out, "raw", "probe-tiny-b2-1gbit-r0.json")
p = json.load(open(pj))
# MPI probe: 95 ms for off's collectives, 85 ms for on's buckets; 1 s of CPU per GB carried
p["mpi"] = {"off": {"median_ms": 95.0}, "on": {"median_ms": 85.0}}
p["cpu"] = {"s_per_gb": 1.0}
json.dump(p, open(pj, "w"))
t, md = twonode.write(out)
ref, off, on = t
# off: 100 + 95 = 195 against 200; on: net CPU 1 s/GB x 10 MB x 2 nodes / 2 CPUs = 10 ms,
# 100 + 10 + max(0, 85 - 60) = 135 against 150; the TCP model's as before
assert off["model_kind"] == on["model_kind"] == "mpi", (off, on)
assert abs(off["model_step_ms"] - 195.0) < 1e-9 and abs(off["model_error"] + 0.025) < 1e-12, off
assert abs(on["model_net_cpu_ms"] - 10.0) < 1e-9 and abs(on["model_step_ms"] - 135.0) < 1e-9, on
assert abs(on["model_tcp_step_ms"] - 120.3) < 1e-9 and abs(off["model_tcp_step_ms"] - 180.3) < 1e-9, (off, on)
assert abs(off["mpi_probe_gbps"] - 10e6 * 8 / 95e-3 / 1e9) < 1e-9, off
# hidden of allowed does not depend on the probe: the steps the run measured, 50 / 60 as before
assert abs(on["hidden_of_allowed"] - 50.0 / 60.0) < 1e-9, on
assert "| 95.0 (0.842) | NA | 195.0 | -2.5% | 180.3, -9.8% |" in md, md
PY

if [[ $(id -u) -ne 0 ]]; then
    skip "not root: scripts/cluster needs root for namespaces and tc (the cluster checks run as root, as CI does)"
    rc=0; "${CL[@]}" up >/dev/null 2>"$tmp/err" || rc=$?
    check "as non-root: up exits 2 (got $rc)" test $rc -eq 2
    check "and says it needs root" grep -q "must run as root" "$tmp/err"
    check_finish test_cluster; exit
fi
if ! command -v setpriv >/dev/null; then
    skip "setpriv missing (util-linux): the non-root refusal is not checked"
elif ! setpriv --reuid=65534 --regid=65534 --clear-groups test -r scripts/cluster 2>/dev/null; then
    skip "user nobody cannot read scripts/cluster here (the clone's folder): the non-root refusal is not checked"
else
    rc=0; setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 scripts/cluster up \
        >/dev/null 2>"$tmp/err" || rc=$?
    check "as nobody: up exits 2 (got $rc)" test $rc -eq 2
    check "and says it needs root: $(cat "$tmp/err")" grep -q "must run as root" "$tmp/err"
    rc=0; setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 scripts/bench_2node.py \
        --out "$tmp/nobody" >/dev/null 2>"$tmp/err" || rc=$?
    check "as nobody: bench_2node exits 2 (got $rc), says why and writes nothing" \
        bash -c "[[ $rc -eq 2 && ! -e '$tmp/nobody' ]] && grep -q 'must run as root' '$tmp/err'"
fi
case $BUILD in *asan*|*tsan*)
    skip "sanitizer build: the cluster runs are the plain build's (the same launch path)"
    check_finish test_cluster; exit ;;
esac
check_built test_cluster "$MPI" "$LF" "$MPI_PROBE"
nsl() { ip netns list | awk '{print $1}' | grep '^cllmt-' || true; }
left() { local n p=0; for n in $(nsl); do p=$((p + $(ip netns pids "$n" | wc -l))); done; echo $p; }

# --- up
rc=0; "${CL[@]}" up --rate 1gbit >"$tmp/up.log" 2>&1 || rc=$?
if [[ $rc -eq 2 ]]; then   # root, but no namespaces, ip, tc or tbf here (a container without CAP_NET_ADMIN)
    skip "scripts/cluster up refused (exit 2): $(cat "$tmp/up.log")"
    check_finish test_cluster; exit
fi
[[ $rc -eq 0 ]] || bad "up: exit $rc: $(cat "$tmp/up.log")"
check "up: namespaces cllmt-n0 and cllmt-n1" test "$(nsl | sort | tr '\n' ' ')" = "cllmt-n0 cllmt-n1 "
check "up: tbf on both ends" bash -c 'ip netns exec cllmt-n0 tc qdisc show dev l0 | grep -q tbf &&
    ip netns exec cllmt-n1 tc qdisc show dev l1 | grep -q tbf'
check "up: the addresses exist only in the namespaces" bash -c \
    '! ip -o addr show | grep -q "198\.18\.25\." && ip -n cllmt-n1 -o addr show dev l1 | grep -q "198\.18\.25\.2/24"'
check "up: hostfile and agent" test -s "$tmp/cl/hostfile" -a -x "$tmp/cl/agent"
"${CL[@]}" probe --mb 16 --json "$tmp/probe.json" --mpi tiny --mpi-iters 2 --bin-dir "$BUILD" >"$tmp/probe.log" 2>&1 ||
    bad "probe: $(cat "$tmp/probe.log")"
check "probe: a latency and a bandwidth below the shaped 1 Gbit/s: $(head -n 1 "$tmp/probe.log")" \
    /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]));
sys.exit(not (0 < r["rtt_us"] and 0 < r["one_way_gbps"] <= 1.1 and 0 < r["both_ways_gbps"] <= 1.1))' "$tmp/probe.json"
check "probe: the stream's CPU cost (both ends), and the MPI probe's two patterns of config tiny's step" \
    /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); c, m = r["cpu"], r["mpi"]
assert c["client_s"] > 0 and c["server_s"] > 0 and c["s_per_gb"] > 0, c
for pat in ("off", "on"):
    x = m[pat]
    assert x["pattern"] == pat and x["ranks"] == 2 and x["config"] == "tiny" and len(x["iter_ms"]) == 2, x
    # (no upper bound on the rate: the 137 kB of config tiny fit in the token bucket burst)
    assert x["median_ms"] > 0 and x["bytes_sent_per_iter"] > 0 and x["gbps"] > 0, x
assert m["off"]["collectives_per_iter"] == 3 and m["on"]["messages_per_iter"] > 3, m
assert m["cpu"]["poll_us"] == 200 and m["cpu"]["s_per_gb"] > 0 and m["on"]["poll_us"] == 0, m
assert m["off"]["bytes_sent_per_iter"] == m["on"]["bytes_sent_per_iter"], m' "$tmp/probe.json"
rc=0; "${RUN[@]}" -np 1 "$MPI_PROBE" >/dev/null 2>"$tmp/err" || rc=$?
check "comm_probe on 1 rank: exit 2, saying it needs 2 ($(head -n 1 "$tmp/err"))" bash -c "[[ $rc -eq 2 ]] && grep -q 'mpirun -np 2' '$tmp/err'"
rc=0; "${RUN[@]}" -np 2 "$MPI_PROBE" --iters 0 >/dev/null 2>"$tmp/err" || rc=$?
check "comm_probe --iters 0: exit 2 ($(grep -m1 iters "$tmp/err" || true))" bash -c "[[ $rc -eq 2 ]] && grep -q 'iters' '$tmp/err'"

# --- the same bits: 2 nodes x 1 thread, 1 node x 2 ranks, 1 process x 2 threads
A=(--steps 8 --quiet --eval-batches 0)
"${CL[@]}" run -- "$PWD/$MPI" "${A[@]}" --save "$tmp/c2.ck" >"$tmp/c2.log" 2>&1 || bad "cluster run: $(tail -n 5 "$tmp/c2.log")"
"${RUN[@]}" -np 2 "$MPI" "${A[@]}" --save "$tmp/m2.ck" >/dev/null 2>&1 || bad "mpirun -np 2: exit $?"
"$LF" "${A[@]}" --threads 2 --save "$tmp/t2.ck" >/dev/null || bad "lockfree 2 threads: exit $?"
check "2 nodes x 1 thread: the bits of 1 node x 2 ranks" cmp -s "$tmp/c2.ck" "$tmp/m2.ck"
check "2 nodes x 1 thread: the bits of 1 process x 2 threads" cmp -s "$tmp/c2.ck" "$tmp/t2.ck"
check "nothing left in the namespaces after the run" test "$(left)" -eq 0

# --- the overlapped exchange (--overlap on): the same bits at 2 nodes x 2 threads (oversubscribed:
# 4 workers on 2 CPUs; 2 x 1 on against 1 x 2 threads is bench_2node's run below), and the report
"${CL[@]}" run -- "$PWD/$MPI" "${A[@]}" --threads 2 --save "$tmp/c22.ck" >/dev/null 2>&1 || bad "2 x 2 overlap off: exit $?"
"${CL[@]}" run -- "$PWD/$MPI" "${A[@]}" --threads 2 --overlap on --save "$tmp/c22on.ck" --report "$tmp/c2on.json" \
    >/dev/null 2>&1 || bad "2 x 2 overlap on: exit $?"
check "2 nodes x 2 threads: overlap on gives the bits of overlap off" cmp -s "$tmp/c22on.ck" "$tmp/c22.ck"
"${CL[@]}" run -- "$PWD/$MPI" "${A[@]}" --overlap on --save "$tmp/c2on.ck" >/dev/null 2>&1 || bad "2 x 1 overlap on: exit $?"
check "2 nodes x 1 thread: overlap on (the all-gather beside the next forward) gives the bits of off" \
    cmp -s "$tmp/c2on.ck" "$tmp/c2.ck"
# each layer's bucket landing only once forward waits for it (the test hook, over NaN), across the link
CLLM_TEST_LATE_ALLGATHER=1 "${CL[@]}" run -- -x CLLM_TEST_LATE_ALLGATHER "$PWD/$MPI" "${A[@]}" --threads 2 --overlap on \
    --save "$tmp/c22late.ck" >/dev/null 2>&1 || bad "2 x 2 late all-gather: exit $?"
check "2 nodes x 2 threads: each layer waits for its parameters (late all-gather over NaN: the bits of off)" \
    cmp -s "$tmp/c22late.ck" "$tmp/c22.ck"
"${RUN[@]}" -np 2 "$MPI" "${A[@]}" --overlap on --save "$tmp/m2on.ck" --report "$tmp/m2on.json" \
    >/dev/null 2>&1 || bad "mpirun -np 2 --overlap on: exit $?"
check "1 node x 2 ranks, overlap on: the bits of 1 process x 2 threads" cmp -s "$tmp/m2on.ck" "$tmp/t2.ck"
# In flight: worker 0 posts a bucket at its own layer ends once every worker of its rank has
# finished that layer. At 1 thread a rank that is always so for layer L-1, and layer 0's
# backward runs after it (tiny: L = 2), so the time is > 0 on any machine; at 2 threads the
# other worker may still be in that layer at each of worker 0's layer ends (a loaded machine
# deschedules it for longer than this backward takes), so there the report says on, and a
# time >= 0.
check "the reports: overlap on; at 2 x 1 the exchange in flight during backward, at 2 x 2 a time" /usr/bin/python3 -c '
import json, sys
m1, m2 = (json.load(open(f))["mpi"] for f in sys.argv[1:])
sys.exit(not (m1["overlap"] == m2["overlap"] == "on" and m1["threads_per_rank"] == 1 and
              m1["exchange_in_flight_s"] > 0 and m2["exchange_in_flight_s"] >= 0))' "$tmp/m2on.json" "$tmp/c2on.json"

# --- faults: a job resuming a checkpoint (step 8) with a periodic one every EVERY steps, lost
# mid-run once it has written two; then the last periodic checkpoint, resumed on one node for 6
# steps, against an uninterrupted run from step 8 to the same step
EVERY=20
"$LF" "${A[@]}" --save "$tmp/base.ck" >/dev/null
step_of() { /usr/bin/python3 -c 'import struct, sys; print(struct.unpack_from("<Q", open(sys.argv[1], "rb").read(112), 104)[0])' "$1"; }
now_us() { echo "${EPOCHREALTIME/./}"; }
fault() {   # fault NAME ACTION: the job, ACTION once it has written 2 periodic checkpoints, the checks
    local name=$1 action=$2 rc=0 t0 dt dl pid s
    "${CL[@]}" run -- "$PWD/$MPI" --resume "$tmp/base.ck" --steps 100000000 --eval-batches 0 \
        --save "$tmp/$name.ck" --save-every $EVERY >"$tmp/$name.out" 2>"$tmp/$name.log" &
    pid=$!
    # written atomically (renamed into place): once it exists it is whole; the fault once the
    # second periodic one has replaced the first
    for _ in $(seq 600); do
        [[ -e $tmp/$name.ck ]] && (( $(step_of "$tmp/$name.ck") >= 2 * EVERY )) && break; sleep 0.1
    done
    [[ -e $tmp/$name.ck ]] || bad "$name: no periodic checkpoint within 60 s: $(tail -n 3 "$tmp/$name.log")"
    t0=$(now_us)
    eval "$action"
    wait $pid || rc=$?
    dt=$(( $(now_us) - t0 ))
    # the job's processes may still be ending when mpirun has exited (rank 0 under its stop-signal
    # grace, orted's children reaped): poll, bounded by the same 30 s from the fault
    while (( $(left) > 0 && $(now_us) - t0 < 30000000 )); do sleep 0.1; done
    dl=$(( $(now_us) - t0 ))
    s=$(step_of "$tmp/$name.ck" 2>/dev/null || echo 0)
    printf '  %s: mpirun exit %d after %.1f s; the namespaces polled until %.1f s after the fault; last periodic checkpoint: step %d\n' \
        "$name" $rc "${dt}e-6" "${dl}e-6" "$s"
    check "$name: mpirun exits non-zero (got $rc)" test $rc -ne 0
    check "$name: within 30 s ($(printf %.1f "${dt}e-6") s)" test $dt -lt 30000000
    check "$name: no process left in either namespace 30 s after the fault" test "$(left)" -eq 0
    check "$name: the last periodic checkpoint is one (step $s: a multiple of $EVERY, at least $((2 * EVERY)))" \
        test $((s % EVERY)) -eq 0 -a $s -ge $((2 * EVERY))
    rc=0; "$LF" --resume "$tmp/$name.ck" --steps 6 --quiet --eval-batches 0 --threads 2 \
        --save "$tmp/$name.res.ck" >/dev/null 2>"$tmp/$name.res.log" || rc=$?
    if (( s > 8 )); then
        "$LF" --resume "$tmp/base.ck" --steps $((s - 8 + 6)) --quiet --eval-batches 0 --threads 2 \
            --save "$tmp/$name.ref.ck" >/dev/null || true
    fi
    check "$name: it is intact and resumes on one node (exit $rc: $(tail -n 1 "$tmp/$name.res.log"))" test $rc -eq 0
    check "$name: with the bits of the run uninterrupted from step 8 to step $((s + 6))" \
        cmp -s "$tmp/$name.res.ck" "$tmp/$name.ref.ck"
}
fault kill 'kill -KILL $(for p in $(ip netns pids cllmt-n1); do [[ $(readlink /proc/$p/exe) == *train_model ]] && echo $p; done)'
check "kill: the message names rank 1 and node 1 ($(grep -m1 'rank 1' "$tmp/kill.log" || true))" \
    grep -q "rank 1 .*on node 198\.18\.25\.2.*signal 9" "$tmp/kill.log"
fault linkdown '"${CL[@]}" link down --node 1 >/dev/null'
check "linkdown: the message names the node and rank lost ($(grep -m1 'was lost' "$tmp/linkdown.log" || true))" \
    grep -q "node 1 (cllmt-n1, 198\.18\.25\.2) was lost: rank 1 of 2" "$tmp/linkdown.log"

# --- make bench-2node's script, smallest form: a table with the reference, the link and the model
/usr/bin/python3 scripts/bench_2node.py --configs tiny:2 --rates 1gbit --reps 1 --steps 2 --probe-mb 2 \
    --bin-dir "$BUILD" --out "$tmp/b2" >"$tmp/b2.log" 2>&1 || bad "bench_2node: $(tail -n 5 "$tmp/b2.log")"
check "bench_2node: reference and 1gbit rows, the probe and the model beside the measurement" \
    /usr/bin/python3 - "$tmp/b2/table.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
assert [(r["link"], r.get("overlap")) for r in t] == [("1 node x 2 threads (reference)", None),
                                                      ("1gbit", "off"), ("1gbit", "on")], t
r = t[1]
on = t[2]
assert on["exchange_in_flight_ms"] > 0 and on["model_step_ms"] == on["model_step_on_ms"], on
# hidden from the ranks' clocks, not a difference of two runs: 0 with overlap off
assert r["exchange_hidden_ms"] == 0 and 0 <= on["exchange_hidden_ms"] <= on["exchange_in_flight_ms"], on
assert r["reps"] == 1 and r["bytes_per_step"] > 0 and r["step_ms"] > 0 and r["exchange_ms"] > 0, r
assert 0 < r["probe_gbps"] <= 1.1 and r["probe_rtt_us"] > 0, r
m = r["model_tcp_exchange_ms"]
assert abs(m - (r["bytes_per_step"] * 8 / (r["probe_gbps"] * 1e9) * 1e3 + 3 * r["probe_rtt_us"] * 1e-3)) < 1e-9, r
assert abs(r["model_tcp_step_ms"] - (t[0]["step_ms"] + m)) < 1e-9, r
assert r["model_exchange_ms"] == r["mpi_probe_off_ms"] > 0 and r["mpi_probe_gbps"] > 0, r
assert abs(r["model_step_off_ms"] - (t[0]["step_ms"] + r["mpi_probe_off_ms"])) < 1e-9, r
assert r["model_error"] is not None and r["model_step_ms"] == r["model_step_off_ms"], r
# on: + the exchange's CPU (0 on a machine with more CPUs than the 2 ranks) + what the compute cannot hide
x = t[0]["step_ms"] + on["model_net_cpu_ms"] + max(0.0, on["mpi_probe_on_ms"] - t[0]["fwd_ms"] - t[0]["bwd_ms"])
assert on["model_net_cpu_ms"] >= 0 and abs(on["model_step_ms"] - x) < 1e-9, on
PY
check "bench_2node: the MPI probe moved the bytes the training run sent per step, and the model is the MPI one" \
    /usr/bin/python3 - "$tmp/b2" <<'PY'
import json, sys
out = sys.argv[1]
p = json.load(open(out + "/raw/probe-tiny-b2-1gbit-r0.json"))
for ov in ("off", "on"):
    rep = json.loads(open(f"{out}/raw/mpi-tiny-b2-1gbit-{ov}-r0/runs.jsonl").readline())["report"]
    assert p["mpi"][ov]["bytes_sent_per_iter"] == rep["mpi"]["bytes_sent_per_step"], (p["mpi"][ov], rep["mpi"])
t = json.load(open(out + "/table.json"))
assert [r.get("model_kind") for r in t[1:]] == ["mpi", "mpi"], t
assert abs(t[1]["model_step_ms"] - (t[0]["step_ms"] + t[1]["mpi_probe_off_ms"])) < 1e-9, t[1]
PY
check "bench_2node: scale --batch 2 reached train_model (B = 2 in both runs' reports)" /usr/bin/python3 -c '
import json, sys
for d in sys.argv[1:]:
    assert json.loads(open(d + "/runs.jsonl").readline())["report"]["config"]["B"] == 2, d' \
    "$tmp/b2/raw/ref-tiny-b2-r0" "$tmp/b2/raw/mpi-tiny-b2-1gbit-on-r0"
rm -f "$tmp/b2/REPORT.md"
check "analyze of the bench-2node folder: REPORT.md with the model's error and the goals" bash -c \
    'scripts/analyze "$1/b2" >/dev/null && grep -q "| error |" "$1/b2/REPORT.md" && grep -q "projection within 15%" "$1/b2/REPORT.md"' _ "$tmp"
check "bench_2node: its cluster is down" test -z "$(ip netns list | awk '{print $1}' | grep '^cllm2-' || true)"

# --- down leaves nothing, also after a crash (no cluster.json, a process left)
"${CL[@]}" down >/dev/null
check "down: no namespace left" test -z "$(nsl)"
check "down: its files removed" test ! -e "$tmp/cl/hostfile" -a ! -e "$tmp/cl/agent" -a ! -e "$tmp/cl/cluster.json"
ip netns add cllmt-n0; ip netns add cllmt-n1
ip netns exec cllmt-n1 sleep 300 &
sl=$!
"${CL[@]}" down >/dev/null
check "down after a crash: no namespace left" test -z "$(nsl)"
check "down after a crash: the process left in a namespace is ended" bash -c "! kill -0 $sl 2>/dev/null"
wait $sl 2>/dev/null || true
check_finish test_cluster
