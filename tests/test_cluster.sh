#!/usr/bin/env bash
# test_cluster.sh - scripts/cluster: two nodes in network namespaces joined by
# a tbf-shaped veth link, Open MPI launched into them through its rsh agent:
#   - refusals: bad arguments exit 2; not root exits 2 saying so;
#   - up makes the namespaces, the link (addresses only inside them, tbf on
#     both ends), the hostfile and the agent; the probe measures the link;
#   - 2 nodes x 1 thread over the link: the bits of 1 node x 2 ranks (shared
#     memory) and of 1 process x 2 threads; --overlap on (the exchange in
#     buckets during backward) the bits of off at 2 x 2;
#   - bench_2node's smallest run: its table, the model's arithmetic;
#   - a rank's process killed on node 1, and node 1's link taken down mid-run:
#     mpirun exits non-zero within 30 s, its message names the rank or node
#     lost, no process is left in either namespace, and the checkpoint the job
#     resumed from (and was to overwrite) is intact and resumes on one node
#     with the bits of an uninterrupted run from it;
#   - down leaves nothing (namespaces, processes, files), also after a crash
#     (namespaces and a process left without cluster.json).
# Root only (a SKIP line otherwise); the namespaces carry the prefix cllmt-,
# so that a cluster a user has up (cllm-) is left alone. Skipped on the
# sanitizer builds (the same launch path; the plain build covers it).
# test-timeout: 150
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MPI=$BUILD/mpi/train_model LF=$BUILD/lockfree/train_model
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
check_built test_cluster "$MPI" "$LF"
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
"${CL[@]}" probe --mb 16 --json "$tmp/probe.json" >"$tmp/probe.log" 2>&1 || bad "probe: $(cat "$tmp/probe.log")"
check "probe: a latency and a bandwidth below the shaped 1 Gbit/s: $(cat "$tmp/probe.log")" \
    /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]));
sys.exit(not (0 < r["rtt_us"] and 0 < r["one_way_gbps"] <= 1.1 and 0 < r["both_ways_gbps"] <= 1.1))' "$tmp/probe.json"

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
"${RUN[@]}" -np 2 "$MPI" "${A[@]}" --overlap on --save "$tmp/m2on.ck" >/dev/null 2>&1 || bad "mpirun -np 2 --overlap on: exit $?"
check "1 node x 2 ranks, overlap on: the bits of 1 process x 2 threads" cmp -s "$tmp/m2on.ck" "$tmp/t2.ck"
check "the report: overlap on, the exchange in flight during backward" /usr/bin/python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))["mpi"]
sys.exit(not (m["overlap"] == "on" and m["exchange_in_flight_s"] > 0))' "$tmp/c2on.json"

# --- faults: a checkpoint to resume from, a job resuming it that is lost mid-run
"$LF" "${A[@]}" --save "$tmp/base.ck" >/dev/null
"$LF" --resume "$tmp/base.ck" --steps 6 --quiet --eval-batches 0 --threads 2 --save "$tmp/ref.ck" >/dev/null
fault() {   # fault NAME ACTION: the job, ACTION once it has done a step, the checks
    local name=$1 action=$2 rc=0 t0 dt pid
    cp "$tmp/base.ck" "$tmp/$name.ck"
    "${CL[@]}" run -- "$PWD/$MPI" --resume "$tmp/$name.ck" --steps 100000000 --eval-batches 0 --save "$tmp/$name.ck" \
        >"$tmp/$name.out" 2>"$tmp/$name.log" &
    pid=$!
    for _ in $(seq 600); do grep -q "^step " "$tmp/$name.log" && break; sleep 0.1; done
    t0=$(date +%s.%N)
    eval "$action"
    wait $pid || rc=$?
    dt=$(/usr/bin/python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)")
    echo "  $name: mpirun exit $rc after $dt s"
    check "$name: mpirun exits non-zero (got $rc)" test $rc -ne 0
    check "$name: within 30 s ($dt s)" /usr/bin/python3 -c "import sys; sys.exit(not float(sys.argv[1]) < 30)" "$dt"
    check "$name: no process left in either namespace" test "$(left)" -eq 0
    check "$name: the checkpoint it resumed from is intact" cmp -s "$tmp/$name.ck" "$tmp/base.ck"
    "$LF" --resume "$tmp/$name.ck" --steps 6 --quiet --eval-batches 0 --threads 2 --save "$tmp/$name.res.ck" >/dev/null
    check "$name: it resumes on one node with the bits of the uninterrupted run" cmp -s "$tmp/$name.res.ck" "$tmp/ref.ck"
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
assert abs(on["exchange_hidden_ms"] - (r["exchange_ms"] - on["exchange_ms"])) < 1e-9, on
assert r["reps"] == 1 and r["bytes_per_step"] > 0 and r["step_ms"] > 0 and r["exchange_ms"] > 0, r
assert 0 < r["probe_gbps"] <= 1.1 and r["probe_rtt_us"] > 0, r
m = r["model_exchange_ms"]
assert abs(m - (r["bytes_per_step"] * 8 / (r["probe_gbps"] * 1e9) * 1e3 + 3 * r["probe_rtt_us"] * 1e-3)) < 1e-9, r
assert abs(r["model_step_off_ms"] - (t[0]["step_ms"] + m)) < 1e-9, r
assert r["model_error"] is not None and r["model_step_ms"] == r["model_step_off_ms"], r
assert r["model_step_on_ms"] <= r["model_step_off_ms"], r
PY
check "bench_2node: scale --batch 2 reached train_model (B = 2 in both runs' reports)" /usr/bin/python3 -c '
import json, sys
for d in sys.argv[1:]:
    assert json.loads(open(d + "/runs.jsonl").readline())["report"]["config"]["B"] == 2, d' \
    "$tmp/b2/raw/ref-tiny-b2-r0" "$tmp/b2/raw/mpi-tiny-b2-1gbit-on-r0"
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
