"""trace_check.py - checks of a train_model --trace file (a module and a
command for tests/test_trace.sh; not a test itself):

    trace_check.py FILE RANKS THREADS STEPS [TOL_US]

prints one "FAIL: ..." line per failed check and the closing
"N passed, N failed" line (tests/check.py), and exits non-zero on a failure.
What it checks: the file parses as JSON with a traceEvents array; every
event has the fields the Chrome Trace Event format requires for its phase
type; complete events on one track are in time order and never overlap; on
each worker's track the events of one step (with its rank's MPI-exchange
track for worker 0) add up to that step's event within TOL_US (default 0.01
us: the file's nanosecond resolution; the events tile the step); the ranks,
workers and steps are those of the run.
"""
import json
import sys
from collections import defaultdict

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from check import check, finish  # noqa: E402

REQUIRED = {"X": ("name", "ts", "dur", "pid", "tid"), "i": ("name", "ts", "pid", "tid", "s"),
            "C": ("name", "ts", "pid", "args"), "M": ("name", "pid", "tid", "args")}


def main(path, ranks, threads, steps, tol_us=0.01):
    with open(path) as f:
        d = json.load(f)
    ev = d.get("traceEvents")
    check("traceEvents is an array", isinstance(ev, list) and ev)
    bad = [e for e in ev if e.get("ph") not in REQUIRED or any(k not in e for k in REQUIRED[e["ph"]])]
    check(f"every event has its phase type's fields ({len(bad)} do not: {bad[:2]})", not bad)
    # tracks
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    pids = {e["pid"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"}
    check(f"{ranks} processes (ranks), got {sorted(pids)}", pids == set(range(ranks)))
    workers = {k: v for k, v in names.items() if v.startswith("worker ")}
    check(f"{ranks * threads} worker tracks, got {len(workers)}", len(workers) == ranks * threads)
    check("worker tracks name a CPU", all(" CPU" in v for v in workers.values()))
    xs = defaultdict(list)
    for e in ev:
        if e["ph"] == "X":
            xs[(e["pid"], e["tid"])].append(e)
    order = overlap = 0
    for k, lst in xs.items():
        for a, b in zip(lst, lst[1:]):
            order += b["ts"] < a["ts"]
            overlap += b["ts"] < a["ts"] + a["dur"] - 0.0005
    check(f"events on each track in time order ({order} out of order)", order == 0)
    check(f"no overlapping events on a track ({overlap} overlaps)", overlap == 0)
    # steps
    for r in range(ranks):
        st = [e for e in xs.get((r, 0), []) if e.get("cat") == "step"]
        check(f"rank {r}: {steps} step events, got {len(st)}", len(st) == steps)
        xtid = threads + 1
        worst = 0.0
        for s in st:
            n = s["args"]["step"]
            for i in range(threads):
                tot = sum(e["dur"] for e in xs.get((r, i + 1), []) if e["args"]["step"] == n)
                if i == 0:
                    tot += sum(e["dur"] for e in xs.get((r, xtid), []) if e["args"]["step"] == n)
                worst = max(worst, abs(tot - s["dur"]))
        check(f"rank {r}: each worker's phases add up to the step (worst {worst:.4f} us, tolerance {tol_us} us)",
              worst <= tol_us)
        phases = {e["name"] for i in range(threads) for e in xs.get((r, i + 1), [])}
        need = {"job_start", "forward", "backward", "barrier_wait", "optimizer"}
        check(f"rank {r}: the phases {sorted(need - phases)} are there", need <= phases)
        if ranks > 1:
            check(f"rank {r}: the MPI exchange has a track with events", bool(xs.get((r, xtid))))
    counters = {e["name"] for e in ev if e["ph"] == "C"}
    check(f"loss and tokens/s counters, got {sorted(counters)}", {"loss", "tokens/s"} <= counters)
    return d


if __name__ == "__main__":
    a = sys.argv
    main(a[1], int(a[2]), int(a[3]), int(a[4]), float(a[5]) if len(a) > 5 else 0.01)
    finish()
