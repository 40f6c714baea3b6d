#!/usr/bin/env bash
# test_trace.sh - train_model --trace (core/trace.h): the file parses as JSON
# and every event has its required fields, tracks are ordered and their
# events disjoint or nested, each worker's phases add up to its step, every
# forward and backward holds one event per layer (and the embeddings and
# head) that tile it, ranks / workers / steps match the run
# (tests/trace_check.py), for the lock-free, locked and MPI variants (MPI
# with the overlapped exchange too); the file imports cleanly into Perfetto
# and shows its tracks as meant (trace_check.py's model of Perfetto's JSON
# importer, each rule rejecting a trace broken its way); tracing changes no bit of the
# training; --trace-steps keeps a window; a stop signal still writes the
# trace; an unwritable path, a bad window and a trace past 100 MB exit 2
# before training; a deliberately slowed worker (CLLM_TEST_SLOW_WORKER) is
# the one the report's stragglers name last, the analysis flags it and a
# sweep's verdict names it; the analysis groups bound workers by NUMA node
# and by core kind (made-up reports; hwloc cpukinds of a hybrid XML).
# Ends with "test_trace: N passed, N failed, N skipped".
# test-timeout: 120
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LF=$BUILD/lockfree/train_model
LK=$BUILD/locked/train_model
MPI=$BUILD/mpi/train_model
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
source tests/check.sh
TOPO=$BUILD/topo
check_built test_trace "$LF" "$LK" "$TOPO"
# expect_rc CODE WORDS DESCRIPTION COMMAND...: exit CODE and stderr holding WORDS
expect_rc() {
    local code=$1 words=$2 d=$3 rc=0; shift 3
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    if [[ $rc -eq $code ]] && grep -q -- "$words" "$T/err"; then ok
    else bad "$d: rc $rc (want $code), stderr: $(head -c 300 "$T/err")"; fi
}
# tcheck FILE RANKS THREADS STEPS [TOL]: tests/trace_check.py's checks, counted here
tcheck() {
    local out rc=0
    out=$($PY tests/trace_check.py "$@" 2>&1) || rc=$?
    # its FAIL lines only: its own "N passed, N failed" line would be counted by the runner
    if [[ $rc -eq 0 ]]; then ok; else bad "trace_check $*: $(grep -v ' passed, ' <<<"$out")"; fi
}
RUN=(--steps 6 --quiet --eval-batches 1)

for v in "$LF" "$LK"; do
    for th in 1 2; do
        "$v" "${RUN[@]}" --threads $th --trace "$T/t.json" --save "$T/ck" >/dev/null
        tcheck "$T/t.json" 1 $th 6 0.01 2      # tiny: L = 2
    done
done
# tests/trace_check.py's model of Perfetto's JSON importer (its rules run on
# every trace above and below): each rule rejects a trace broken its way
out=$($PY tests/trace_check.py --broken "$T/t.json" 2>&1) && ok || bad "trace_check --broken: $(grep -v ' passed, ' <<<"$out")"
# the model's hooks and clock readings change nothing it computes
"$LF" "${RUN[@]}" --threads 2 --trace "$T/t2.json" --save "$T/ck1" >/dev/null
"$LF" "${RUN[@]}" --threads 2 --save "$T/ck2" >/dev/null
check "the same checkpoint with and without --trace" cmp -s "$T/ck1" "$T/ck2"
# a model of 3 layers: its layers are named
"$LF" --steps 2 --quiet --eval-batches 0 --threads 2 --L 3 --trace "$T/l3.json" >/dev/null
tcheck "$T/l3.json" 1 2 2 0.01 3
# instants: validation and checkpoint
check "validation and checkpoint instants" $PY -c '
import json,sys; ev=json.load(open(sys.argv[1]))["traceEvents"]
n={e["name"] for e in ev if e["ph"]=="i"}; sys.exit(0 if {"validation","checkpoint"}<=n else 1)' "$T/t.json"
# a window of steps
"$LF" --steps 8 --quiet --eval-batches 0 --threads 2 --trace "$T/w.json" --trace-steps 3:5 >/dev/null
tcheck "$T/w.json" 1 2 3 0.01 2
check "--trace-steps 3:5 holds steps 3..5" $PY -c '
import json,sys; ev=json.load(open(sys.argv[1]))["traceEvents"]
s={e["args"]["step"] for e in ev if e["ph"]=="X"}; sys.exit(0 if s=={3,4,5} else 1)' "$T/w.json"

# bad input: exit 2 before training (no step line, no file)
expect_rc 2 "--trace" "unwritable --trace" "$LF" "${RUN[@]}" --trace "$T/no/such/dir/t.json"
expect_rc 2 "--trace-steps" "--trace-steps 5:2" "$LF" "${RUN[@]}" --trace "$T/x.json" --trace-steps 5:2
expect_rc 2 "--trace-steps" "--trace-steps x" "$LF" "${RUN[@]}" --trace "$T/x.json" --trace-steps x
expect_rc 2 "needs --trace" "--trace-steps without --trace" "$LF" "${RUN[@]}" --trace-steps 1:2
expect_rc 2 "this run's steps" "--trace-steps past the run" "$LF" "${RUN[@]}" --trace "$T/x.json" --trace-steps 9:12
expect_rc 2 "--trace-steps A:B" "a trace past 100 MB" "$LF" --steps 100000000 --quiet --threads 2 --trace "$T/x.json"
# the layer events count: 400 steps of a 1024-layer model pass 100 MB (about 250 MB), 400 of 2 layers do not
expect_rc 2 "--trace-steps A:B" "a 1024-layer trace past 100 MB" "$LF" --L 1024 --steps 400 --quiet --threads 2 \
    --trace "$T/x.json"
check "no trace file after the refusals" test ! -e "$T/x.json"
expect_rc 2 "--no-timing" "--trace with --no-timing" "$LF" "${RUN[@]}" --trace "$T/x.json" --no-timing

# a stop signal: the steps done are in the trace
"$LF" --steps 100000 --quiet --eval-batches 0 --threads 2 --trace "$T/s.json" --trace-steps 1:10000 \
    >/dev/null 2>"$T/serr" & pid=$!
sleep 1; kill -TERM $pid; rc=0; wait $pid || rc=$?
check "stopped run exits 143 (got $rc)" test $rc -eq 143
done_steps=$(sed -n 's/.*stopped by signal 15 after \([0-9]*\) steps.*/\1/p' "$T/serr")
if [[ -n $done_steps && -s $T/s.json ]]; then tcheck "$T/s.json" 1 2 "$(( done_steps < 10000 ? done_steps : 10000 ))" 0.01 2
else bad "stopped run: no trace or no step count ($(head -c 200 "$T/serr"))"; fi

# a slowed worker is the straggler: last at the barrier after backward in every step
# (20 ms of sleep against steps of about a millisecond: worker 0 would have to
# lose its CPU for longer than that to arrive later; 90% of the steps is asked)
CLLM_TEST_SLOW_WORKER=1:20 "$LF" --steps 24 --quiet --eval-batches 0 --threads 2 --report "$T/r.json" >/dev/null
check "the report names worker 1 last after backward in 90% of the steps" $PY -c '
import json,sys; s=json.load(open(sys.argv[1]))["stragglers"]; b=s["barriers"][0]
sys.exit(0 if b["name"]=="after backward" and len(b["last"])==24 and b["last"].count(1)>=22 and sorted(b["spread_ms"])[12]>=5 else 1)' "$T/r.json"
check "the analysis flags worker 1 after backward (binomial p < 0.01), not worker 0" $PY -c '
import json,sys; sys.path.insert(0,"scripts")
from cllm_analysis import stragglers
r=stragglers.analyse([json.load(open(sys.argv[1]))])
f={x.get("worker"): x["p"] for x in r["flags"] if x["barrier"]=="after backward"}
sys.exit(0 if f.get(1, 1) < 0.01 and 0 not in f else 1)' "$T/r.json"
# the verdict: a sweep (build/scale) whose worker 1 sleeps 40 ms a step gets
# the stragglers sentence naming it (the analysis as scripts/analyze runs it;
# steps of tiny take about a millisecond, so the sleep is most of what the
# 2-thread step lost; needs 2 usable CPUs, else 2 threads are oversubscribed)
if (( $(nproc) >= 2 )) && [[ -x $BUILD/scale ]]; then
    CLLM_TEST_SLOW_WORKER=1:40 "$BUILD/scale" --config tiny --threads 1,2 --reps 2 --steps 12 --variants lockfree \
        --bin-dir "$BUILD" --out "$T/sweep" --quiet --trace >/dev/null 2>"$T/sweep.err" || bad "scale: $(tail -c 300 "$T/sweep.err")"
    # the trace scale keeps of a point (as make bench does) passes the same checks
    tcheck "$T/sweep/trace-lockfree-2.json" 1 2 12 0.01 2
    check "the verdict's stragglers sentence names worker 1 after backward" $PY -c '
import sys; sys.path.insert(0,"scripts")
from cllm_analysis import analysis, runs
res=analysis.analyze(runs.load_folder(sys.argv[1]))
s=res["verdict"].get("stragglers") or ""
sys.exit(0 if s.startswith("Stragglers: at 2 threads (lockfree)") and "worker 1 was last at the barrier after backward" in s
         and s in res["verdict"]["text"] else print(s or res["verdict"]["text"][-300:]) or 1)' "$T/sweep"
else
    skip "the verdict's stragglers sentence: fewer than 2 usable CPUs or no build/scale"
fi
# by NUMA node (made-up reports: 4 workers bound to CPUs 0-3, nodes {0,1} and
# {2,3}, workers 2 and 3 taking turns at being last): the node is flagged, no worker is
check "the analysis flags a NUMA node whose workers share the last arrivals" $PY -c '
import sys; sys.path.insert(0,"scripts")
from cllm_analysis import stragglers
last=[2,3]*12
rep={"stragglers":{"workers":4,"barriers":[{"name":"after backward","spread_ms":[1.0]*24,"last":last}]},
     "pin":{"workers":[{"bound":c} for c in range(4)]}}
numa=[{"os_index":0,"pus":"0-1"},{"os_index":1,"pus":"2-3"}]
r=stragglers.analyse([rep], numa=numa)
nodes=[x["numa_node"] for x in r["flags"] if "numa_node" in x]
workers=[x["worker"] for x in r["flags"] if "worker" in x]
unbound=stragglers.analyse([{**rep, "pin": {"workers": [{"bound": None}] * 4}}], numa=numa)
sys.exit(0 if nodes==[1] and not workers and not unbound["flags"] else 1)'
# by core kind: hwloc's cpukinds of the made-up hybrid machine
# tests/data/hybrid-8e6p.xml (E-cores PUs 0-7 kind 0 IntelAtom, P-cores
# PUs 8-19 kind 1 IntelCore) as build/topo writes them into meta.json's
# host.topology, read through of_run as the analysis reads a run; 8 workers
# bound to PUs 0-3 and 8,10,12,14, the four E-core workers taking turns at
# being last (each 25% of the steps: not flagged alone): kind 0 is flagged
# and named, no worker; the same reports on a one-kind machine or unbound:
# no kind grouping
"$TOPO" --machine tests/data/hybrid-8e6p.xml >"$T/hybrid.json"
check "the analysis flags a core kind whose workers share the last arrivals" $PY -c '
import json,sys; sys.path.insert(0,"scripts")
from cllm_analysis import stragglers
topo=json.load(open(sys.argv[1]))
last=[0]+[0,1,2,3]*10
rep={"stragglers":{"workers":8,"barriers":[{"name":"after backward","spread_ms":[1.0]*41,"last":last}]},
     "pin":{"workers":[{"bound":c} for c in (0,1,2,3,8,10,12,14)]}}
run={"meta":{"host":{"topology":topo}},"points":{("lockfree",8):{"reps":[{"report_raw":rep}],"over":False}}}
a=stragglers.of_run(run)["lockfree"][0]
kinds=[(x["core_kind"],x["core_kind_name"]) for x in a["flags"] if "core_kind" in x]
workers=[x for x in a["flags"] if "worker" in x]
text="\n".join(stragglers.section({"stragglers":{"lockfree":[a]}}))
one=stragglers.analyse([rep],numa=topo["numa"],cpukinds=topo["cpukinds"][:1])
unbound=stragglers.analyse([{**rep,"pin":{"workers":[{"bound":None}]*8}}],numa=topo["numa"],cpukinds=topo["cpukinds"])
ok=(kinds==[(0,"IntelAtom")] and not workers and a["core_kinds"]==[0]*4+[1]*4 and "core kind 0 (IntelAtom)" in text
    and not one["flags"] and "core_kinds" not in one and not unbound["flags"])
sys.exit(0 if ok else print(kinds, workers, a.get("core_kinds"), one["flags"], unbound["flags"]) or 1)' "$T/hybrid.json"
"$LF" --steps 4 --quiet --eval-batches 0 --threads 1 --report "$T/r1.json" >/dev/null
check "1 thread: stragglers null" $PY -c '
import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["stragglers"] is None else 1)' "$T/r1.json"

# MPI: one file with every rank
if [[ -x $MPI ]] && command -v mpirun >/dev/null; then
    # as tests/mpi_common.sh (not sourced: it brings its own temp folder and counters)
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    export LSAN_OPTIONS="suppressions=$PWD/tests/lsan_mpi.supp:fast_unwind_on_malloc=0"
    export OMPI_MCA_mca_base_component_disable_dlclose=1 PMIX_MCA_mca_base_component_disable_dlclose=1
    mpirun --oversubscribe --bind-to none -np 2 "$MPI" --steps 4 --quiet --eval-batches 0 --threads 2 \
        --trace "$T/m.json" >/dev/null 2>"$T/merr" || bad "mpirun: $(head -c 300 "$T/merr")"
    # worker 0's MPI calls sit on their own track; the allgather after the
    # job starts at the job's end and ends the step: the same tiling, 0.01 us
    tcheck "$T/m.json" 2 2 4 0.01 2
    # --overlap on: the messages in flight on a track of their own beside the MPI calls' (worker 0's
    # forward split at its waits for parameters); per rank, its events add up to the report's clocks
    mpirun --oversubscribe --bind-to none -np 2 "$MPI" --steps 4 --quiet --eval-batches 0 --threads 2 \
        --overlap on --trace "$T/mo.json" --report "$T/mo_r.json" >/dev/null 2>"$T/merr" || bad "mpirun --overlap on: $(head -c 300 "$T/merr")"
    tcheck "$T/mo.json" 2 2 4 0.01 2
    check "--overlap on: the in-flight track's events add up to rank 0's clocks" $PY -c '
import json,sys; ev=json.load(open(sys.argv[1]))["traceEvents"]; c=json.load(open(sys.argv[2]))["mpi"]["clocks"]
tid={e["tid"] for e in ev if e["ph"]=="M" and e["name"]=="thread_name" and e["pid"]==0 and e["args"]["name"].startswith("MPI in flight")}
d=sum(e["dur"] for e in ev if e["ph"]=="X" and e["pid"]==0 and e["tid"] in tid)
want=1e6*(c["inflight_exchange"][0]+c["inflight_allgather"][0])
sys.exit(0 if len(tid)==1 and want>0 and abs(d-want)<=0.01*16 else 1)' "$T/mo.json" "$T/mo_r.json"
    # every bucket of parameters late and waited for (test hook): worker 0's forward split at a
    # wait before each layer; its pieces still tile, their layer events name every part once, in order
    CLLM_TEST_LATE_ALLGATHER=2 mpirun --oversubscribe --bind-to none -x CLLM_TEST_LATE_ALLGATHER -np 2 "$MPI" \
        --steps 3 --quiet --eval-batches 0 --threads 2 --overlap on --trace "$T/ml.json" >/dev/null 2>"$T/merr" \
        || bad "mpirun --overlap on, late all-gather: $(head -c 300 "$T/merr")"
    tcheck "$T/ml.json" 2 2 3 0.01 2
    check "late all-gather: worker 0's forward split in pieces (more forward events than steps)" $PY -c '
import json,sys; ev=json.load(open(sys.argv[1]))["traceEvents"]
w0={e["tid"] for e in ev if e["ph"]=="M" and e["name"]=="thread_name" and e["pid"]==0 and e["args"]["name"].startswith("worker 0: ")}
n=sum(1 for e in ev if e["ph"]=="X" and e["pid"]==0 and e["tid"] in w0 and e.get("cat")=="phase" and e["name"]=="forward")
sys.exit(0 if n > 3 else 1)' "$T/ml.json"
else
    skip "MPI trace: build/mpi/train_model or mpirun missing"
fi
check_finish test_trace
