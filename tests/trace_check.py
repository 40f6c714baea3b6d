"""trace_check.py - checks of a train_model --trace file (a module and a
command for tests/test_trace.sh; not a test itself):

    trace_check.py FILE RANKS THREADS STEPS [TOL_US [LAYERS]]

prints one "FAIL: ..." line per failed check and the closing
"N passed, N failed" line (tests/check.py), and exits non-zero on a failure.
What it checks: the file parses as JSON with a traceEvents array; every
event has the fields the Chrome Trace Event format requires for its phase
type; complete events on one track are in time order and either disjoint
or properly nested (a later one starts at or after an earlier one's end, or
lies inside it: what Perfetto accepts), and the file writes an enclosing
event before the ones inside it; on each worker's track the phase events of
one step (with its rank's MPI-exchange track for worker 0) add up to that
step's event within TOL_US (default 0.01 us: the file's nanosecond
resolution; the events tile the step); every forward and backward event
holds the per-layer events of every layer (LAYERS, when given: the run's
L, also otherData.layers) once each, in the model's order, inside it,
tiling it (a pass split in pieces, as --overlap on splits worker 0's
forward at a wait for parameters: each piece tiled by its parts, the part
it was split in ending one piece and beginning the next): they add up to the phase within 0.01 us (the same clock
readings); the ranks, workers and steps are those of the run.
"""
import json
import sys
from collections import defaultdict

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from check import check, finish  # noqa: E402

REQUIRED = {"X": ("name", "ts", "dur", "pid", "tid"), "i": ("name", "ts", "pid", "tid", "s"),
            "C": ("name", "ts", "pid", "args"), "M": ("name", "pid", "tid", "args")}


EPS = 0.0005      # half of the file's last digit (ns), in us


def nesting_faults(lst):
    """Events (file order) of one track that start before an earlier one and
    events that overlap an earlier one without lying inside it."""
    order = partial = 0
    stack = []                       # the enclosing events' ends
    for a, b in zip(lst, lst[1:]):
        order += b["ts"] < a["ts"] - EPS
    for e in lst:
        t0, t1 = e["ts"], e["ts"] + e["dur"]
        while stack and t0 >= stack[-1] - EPS:
            stack.pop()
        if stack and t1 > stack[-1] + EPS:
            partial += 1
        stack.append(t1)
    return order, partial


def layer_parts(L, fwd):
    """The names of the layer events of a forward (fwd) or backward event, in order."""
    if fwd:
        return ["forward embeddings"] + [f"forward layer {i}" for i in range(L)] + ["forward head"]
    return ["backward head"] + [f"backward layer {i}" for i in reversed(range(L))] + ["backward embeddings"]


def check_layers(xs, L):
    """Per worker track and step: each forward/backward phase event followed
    (file order) by its layer events, inside it and tiling it; over the
    pieces of one step's pass (--overlap on splits worker 0's forward at a
    wait for parameters, and the part it waited in then ends one piece and
    begins the next), the names in the model's order, each once. Returns
    (passes seen, faults, worst sum error us, layer events in passes)."""
    passes = defaultdict(list)          # (track, step, pass) -> [(phase event, its parts)]
    for k, lst in xs.items():
        for i, e in enumerate(lst):
            if e.get("cat") != "phase" or e["name"] not in ("forward", "backward"):
                continue
            j = i + 1
            while j < len(lst) and lst[j].get("cat") == "layer":
                j += 1
            passes[(k, e["args"]["step"], e["name"])].append((e, lst[i + 1:j]))
    bad = nparts = 0
    worst = 0.0
    for (k, step, name), pieces in passes.items():
        names = []
        for e, parts in pieces:
            nparts += len(parts)
            if not parts or any(p["args"]["step"] != step for p in parts):
                bad += 1
                continue
            end = e["ts"] + e["dur"]
            inside = all(p["ts"] >= e["ts"] - EPS and p["ts"] + p["dur"] <= end + EPS for p in parts)
            tiled = abs(parts[0]["ts"] - e["ts"]) <= EPS and all(
                abs(q["ts"] - (p["ts"] + p["dur"])) <= EPS for p, q in zip(parts, parts[1:]))
            bad += not (inside and tiled)
            worst = max(worst, abs(sum(p["dur"] for p in parts) - e["dur"]))
            # a piece's first part continues the previous piece's last
            names += [p["name"] for p in parts][1 if names and names[-1] == parts[0]["name"] else 0:]
        bad += names != layer_parts(L, name == "forward")
    return len(passes), bad, worst, nparts


def main(path, ranks, threads, steps, tol_us=0.01, layers=None):
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
        o, p = nesting_faults(lst)
        order += o
        overlap += p
    check(f"events on each track in time order ({order} out of order)", order == 0)
    check(f"events on a track are disjoint or nested ({overlap} overlap without nesting)", overlap == 0)
    # the phase events alone never overlap (they tile the step)
    ph_over = 0
    for lst in xs.values():
        top = [e for e in lst if e.get("cat") != "layer"]
        ph_over += sum(b["ts"] < a["ts"] + a["dur"] - EPS for a, b in zip(top, top[1:]))
    check(f"phase events on a track never overlap ({ph_over} overlaps)", ph_over == 0)
    dropped = (d.get("otherData") or {}).get("dropped_events")
    check(f"no event dropped (otherData.dropped_events {dropped})", dropped == 0)
    # per-layer events inside forward and backward
    L = (d.get("otherData") or {}).get("layers")
    check(f"otherData.layers is the run's ({L}, want {layers})", isinstance(L, int) and L >= 1 and
          (layers is None or L == layers))
    if isinstance(L, int) and L >= 1:
        seen, badl, worst, nl = check_layers(xs, L)
        check(f"forward/backward passes: {seen}, want 2 per step and worker ({2 * steps * ranks * threads})",
              seen == 2 * steps * ranks * threads)
        check(f"every forward/backward holds its {L + 2} layer events in order, inside it and tiling it "
              f"({badl} faults in {seen} passes)", badl == 0)
        check(f"the layer events add up to their phase (worst {worst:.4f} us, tolerance 0.01 us)", worst <= 0.01)
        nlay = sum(1 for lst in xs.values() for e in lst if e.get("cat") == "layer")
        check(f"no layer events outside a forward/backward ({nlay}, {nl} inside)", nlay == nl)
    # steps
    for r in range(ranks):
        st = [e for e in xs.get((r, 0), []) if e.get("cat") == "step"]
        check(f"rank {r}: {steps} step events, got {len(st)}", len(st) == steps)
        xtid = threads + 1
        worst = 0.0
        for s in st:
            n = s["args"]["step"]
            for i in range(threads):
                tot = sum(e["dur"] for e in xs.get((r, i + 1), []) if e["args"]["step"] == n and e["cat"] == "phase")
                if i == 0:
                    tot += sum(e["dur"] for e in xs.get((r, xtid), []) if e["args"]["step"] == n and e["cat"] == "phase")
                worst = max(worst, abs(tot - s["dur"]))
        check(f"rank {r}: each worker's phases add up to the step (worst {worst:.4f} us, tolerance {tol_us} us)",
              worst <= tol_us)
        phases = {e["name"] for i in range(threads) for e in xs.get((r, i + 1), []) if e["cat"] == "phase"}
        need = {"job_start", "forward", "backward", "barrier_wait", "optimizer"}
        check(f"rank {r}: the phases {sorted(need - phases)} are there", need <= phases)
        if ranks > 1:
            check(f"rank {r}: the MPI exchange has a track with events", bool(xs.get((r, xtid))))
    counters = {e["name"] for e in ev if e["ph"] == "C"}
    check(f"loss and tokens/s counters, got {sorted(counters)}", {"loss", "tokens/s"} <= counters)
    return d


if __name__ == "__main__":
    a = sys.argv
    main(a[1], int(a[2]), int(a[3]), int(a[4]), float(a[5]) if len(a) > 5 else 0.01,
         int(a[6]) if len(a) > 6 else None)
    finish()
