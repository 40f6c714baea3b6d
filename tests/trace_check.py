"""trace_check.py - checks of a train_model --trace file (a module and a
command for tests/test_trace.sh; not a test itself):

    trace_check.py FILE RANKS THREADS STEPS [TOL_US [LAYERS]]
    trace_check.py --broken FILE   each Perfetto rule rejects FILE broken its way
    trace_check.py --show FILE     the tracks as Perfetto's UI lists them, and
                                   the Perfetto rules FILE breaks (exit 1)

prints one "FAIL: ..." line per failed check and the closing
"N passed, N failed" line (tests/check.py), and exits non-zero on a failure.
What it checks: the rules of Perfetto's JSON importer (PERFETTO_RULES below,
a model read from its sources: the file imports with no error or warning
and shows its tracks, named and ordered, as meant); the file parses as JSON with a traceEvents array; every
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
import math
import os
import re
import subprocess
import sys
import tempfile
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


# ------------------------------------------------ Perfetto's JSON importer
# A model of what ui.perfetto.dev does with the file, read from
# google/perfetto's trace processor (paths under src/trace_processor/) and
# its UI: each rule below names the source it mirrors. perfetto_faults()
# returns {rule: [examples]} (an empty list: the rule holds) and the tracks
# as the UI would list them; selftest() checks that each rule rejects a
# trace broken on purpose, so none of them is vacuous.

PERFETTO_RULES = {
    "json": "strict JSON: no NaN/Infinity literals, no raw control characters in strings "
            "(util/json_parser.h ParseValue/ParseNumber: any other token fails the whole import)",
    "traceEvents": "the top level is an object whose traceEvents is an array "
                   "(importers/json/json_trace_tokenizer.cc HandleDictionaryKey: fatal otherwise)",
    "displayTimeUnit": "displayTimeUnit, when present, is a string (tokenizer: 'Could not parse "
                       "displayTimeUnit' is fatal; its value is ignored, stat json_display_time_unit)",
    "ph": "every event has ph, one character among those cllm writes (X i I C M) "
          "(tokenizer: a non-empty event without ph is a json_tokenizer_failure; only ph[0] is read)",
    "ts": "every non-M event has ts, a number (or a numeric string) of microseconds "
          "(tokenizer CoerceToTs: integral x1000, else llround(x*1000) ns; otherwise dropped)",
    "ts_nonneg": "no timestamp is negative (sorter/trace_sorter.h Push: dropped, "
                 "stat trace_sorter_negative_timestamp_dropped)",
    "dur": "every X event has dur, a number >= 0 (json_trace_parser.cc 'X': json_parser_failure "
           "without it; common/slice_tracker.h Scoped: slice_negative_duration below 0)",
    "ids": "pid and tid are integers in [0, 2^32) on every event that needs them "
           "(tokenizer CoerceToUint32: anything else becomes 0)",
    "tid0": "no event has tid 0 under a pid other than 0 (tokenizer: 'Make the tid equal to the pid "
            "if tid is not set' moves it to tid = pid, onto another track)",
    "main_thread": "no thread track has tid = pid (Perfetto's process tracker makes it the process's "
                   "main thread, and the UI chips its tracks 'main thread': "
                   "ui/src/plugins/dev.perfetto.TraceProcessorTrack)",
    "name": "every X, i and C event has a non-empty name (parser: '[No name]' otherwise)",
    "meta": "M events are thread_name/process_name with a non-empty args.name, or "
            "thread_sort_index/process_sort_index with a numeric args.sort_index "
            "(parser 'M': any other name is ignored, a bad value is a json_parser_failure)",
    "counter": "C events carry a non-empty args object of numbers; the track is '<name> <key>' "
               "(parser 'C': json_parser_failure for an empty args or a non-numeric value)",
    "instant": "instant events say their scope s: g, p (needs pid) or t (needs tid) "
               "(tokenizer 's': any other value silently makes a thread-scoped slice)",
    "overlap": "on each thread track, in the importer's order, slices nest or are disjoint "
               "(slice_tracker.cc MaybeCloseStack: a partial overlap is moved to an overflow track, "
               "stat slice_spill_overlapping_complete_event)",
    "depth": "each X event lands at the depth meant: cat layer one below its phase, every other "
             "at the top (trace_sorter.h SlowOperatorLess: at one ts, longer X first, so a "
             "zero-length or equal-start event nests under its neighbour)",
    "track_names": "each thread track with slices has one thread_name and one thread_sort_index, "
                   "each pid one process_name and one process_sort_index, thread names differ "
                   "within a process (parser 'M': a second one overwrites the first)",
    "order": "the UI lists ranks by pid and, in each, the steps track, then the workers in order, "
             "then the rest (ui/src/plugins/dev.perfetto.ProcessThreadGroups: sort index, "
             "then main thread first, then tid)",
}
KNOWN_PH = set("XiICM")


def _reject_constant(s):
    raise ValueError(f"{s} is not JSON")


def strict_load(text):
    """The file as Perfetto's parser accepts it: json.loads without the
    NaN/Infinity that Python would otherwise let through."""
    return json.loads(text, parse_constant=_reject_constant)


def to_ns(v):
    """CoerceToTs (json_trace_tokenizer.cc): microseconds to integer ns, or
    None where Perfetto reports an error."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v * 1000
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        if v == math.trunc(v):
            return int(v) * 1000
        x = v * 1000.0
        return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))   # llround
    if isinstance(v, str):
        if not re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?", v):
            return None
        return to_ns(json.loads(v))
    return None


def _u32(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2 ** 32


def _num(v):
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return math.isfinite(v)
    return isinstance(v, str) and to_ns(v) is not None


def perfetto_faults(text):
    """({rule: [example, ...]}, view): the rules above applied to the
    file's text; view = [(process, [thread track, ...], [counter track or
    process instant, ...]), ...] as the UI lists them."""
    f = {r: [] for r in PERFETTO_RULES}
    try:
        d = strict_load(text)
    except ValueError as e:
        f["json"].append(str(e)[:120])
        return f, []
    ev = d.get("traceEvents") if isinstance(d, dict) else None
    if not isinstance(ev, list):
        f["traceEvents"].append(type(ev).__name__)
        return f, []
    if "displayTimeUnit" in d and not isinstance(d["displayTimeUnit"], str):
        f["displayTimeUnit"].append(repr(d["displayTimeUnit"]))
    slices = defaultdict(list)                 # (pid, tid) -> [(ts ns, dur ns, index, event)]
    tname, tsort, pname, psort = (defaultdict(list) for _ in range(4))
    pids_used = set()
    for k, e in enumerate(ev):
        ph = e.get("ph") if isinstance(e, dict) else None
        if not (isinstance(ph, str) and len(ph) == 1 and ph in KNOWN_PH):
            f["ph"].append(f"event {k}: ph {ph!r}")
            continue
        pid, tid = e.get("pid"), e.get("tid")
        need_tid = ph == "X" or ph == "M" and str(e.get("name", "")).startswith("thread") or \
            ph in "iI" and e.get("s") in (None, "t")
        if not _u32(pid) or ("tid" in e or need_tid) and not _u32(tid):
            f["ids"].append(f"event {k}: pid {pid!r} tid {tid!r}")
            continue
        tid = tid if _u32(tid) else 0
        if tid == 0 and pid != 0:
            f["tid0"].append(f"event {k} ({e.get('name')}): pid {pid} tid 0")
            tid = pid
        if ph == "M":
            name, args = e.get("name"), e.get("args")
            args = args if isinstance(args, dict) else {}
            if name in ("thread_name", "process_name"):
                ok = isinstance(args.get("name"), str) and args["name"] != ""
                (tname[(pid, tid)] if name == "thread_name" else pname[pid]).append(args.get("name"))
            elif name in ("thread_sort_index", "process_sort_index"):
                v = args.get("sort_index")
                ok = isinstance(v, (int, float)) and not isinstance(v, bool)
                (tsort[(pid, tid)] if name == "thread_sort_index" else psort[pid]).append(v)
            else:
                ok = False
            if not ok:
                f["meta"].append(f"event {k}: {name!r} {args!r}"[:120])
            continue
        pids_used.add(pid)
        if not (isinstance(e.get("name"), str) and e["name"]):
            f["name"].append(f"event {k}: name {e.get('name')!r}")
        ts = to_ns(e.get("ts"))
        if ts is None:
            f["ts"].append(f"event {k} ({e.get('name')}): ts {e.get('ts')!r}")
            continue
        if ts < 0:
            f["ts_nonneg"].append(f"event {k} ({e.get('name')}): ts {e.get('ts')!r}")
            continue
        if ph == "X":
            dur = to_ns(e.get("dur"))
            if dur is None or dur < 0:
                f["dur"].append(f"event {k} ({e.get('name')}): dur {e.get('dur')!r}")
                continue
            slices[(pid, tid)].append((ts, dur, k, e))
        elif ph == "C":
            a = e.get("args")
            if not (isinstance(a, dict) and a and all(_num(v) for v in a.values())):
                f["counter"].append(f"event {k} ({e.get('name')}): args {a!r}"[:120])
        else:
            s = e.get("s")
            if s not in ("g", "p", "t"):
                f["instant"].append(f"event {k} ({e.get('name')}): s {s!r}")
            elif s == "t":
                slices[(pid, tid)].append((ts, 0, k, e))
    # slices per thread track, in the sorter's order (SlowOperatorLess: ts,
    # then X by key max - dur, other phases max, then file order), through
    # SliceTracker::MaybeCloseStack's stack
    for key, lst in slices.items():
        stack = []                                   # (start, dur)
        for ts, dur, k, e in sorted(lst, key=lambda s: (s[0], -s[1] if s[3]["ph"] == "X" else 0, s[2])):
            overlap = None
            for i in reversed(range(len(stack))):
                s0, d0 = stack[i]
                end = s0 + d0
                if end < ts or (end == ts and not (d0 == 0 and dur == 0)):
                    stack.pop()
                    continue
                if ts < end < ts + dur:
                    overlap = (s0, d0)
                    break
            if overlap:
                f["overlap"].append(f"pid {key[0]} tid {key[1]}: {e.get('name')} at {ts} ns ({dur} ns) "
                                    f"over the slice at {overlap[0]} ns ({overlap[1]} ns)")
                continue
            want = 1 if e.get("cat") == "layer" else 0
            if e["ph"] == "X" and len(stack) != want:
                f["depth"].append(f"pid {key[0]} tid {key[1]}: {e.get('name')} (step "
                                  f"{(e.get('args') or {}).get('step')}) at depth {len(stack)}, meant {want}")
            stack.append((ts, dur))
    f["main_thread"] += [f"pid {k[0]} tid {k[1]} ({(tname[k] or ['no name'])[-1]})" for k in slices if k[0] == k[1]]
    # names and order of the tracks
    view = []
    shown = sorted(pids_used | set(pname), key=lambda p: (psort[p][-1] if psort[p] else 0, p))
    for pid in shown:
        if len(pname[pid]) != 1 or len(psort[pid]) != 1:
            f["track_names"].append(f"pid {pid}: {len(pname[pid])} process_name, {len(psort[pid])} process_sort_index")
        tracks = sorted((k for k in slices if k[0] == pid),
                        key=lambda k: (tsort[k][-1] if tsort[k] else 0, -(k[1] == k[0]), k[1]))
        names = []
        for k in tracks:
            if len(tname[k]) != 1 or len(tsort[k]) != 1:
                f["track_names"].append(f"pid {pid} tid {k[1]}: names {tname[k]}, {len(tsort[k])} thread_sort_index")
            names.append(tname[k][-1] if tname[k] else f"Thread {k[1]}")
        if len(set(names)) != len(names):
            f["track_names"].append(f"pid {pid}: the same name on two tracks: {names}")
        workers = [int(m.group(1)) for n in names for m in [re.match(r"worker (\d+)", str(n))] if m]
        first_w = next((i for i, n in enumerate(names) if str(n).startswith("worker ")), None)
        if names and (names[0] != "steps" or workers != sorted(workers) or
                      first_w is not None and names[first_w:first_w + len(workers)] !=
                      [n for n in names if str(n).startswith("worker ")]):
            f["order"].append(f"pid {pid}: {names}")
        counters = sorted({f"{e['name']} {a}" for e in ev if isinstance(e, dict) and e.get("ph") == "C"
                           and e.get("pid") == pid and isinstance(e.get("args"), dict) for a in e["args"]})
        counters += sorted({f"instants ({e.get('s')}): {e['name']}" for e in ev if isinstance(e, dict) and
                            e.get("ph") in ("i", "I") and e.get("pid") == pid and e.get("s") in ("p", "g")})
        view.append((f"{pname[pid][-1] if pname[pid] else 'Process'} {pid}", names, counters))
    if shown != sorted(shown):
        f["order"].append(f"processes not in pid order: {[v[0] for v in view]}")
    return f, view


def _first(ev, **kw):
    return next(e for e in ev if all(e.get(k) == v for k, v in kw.items()))


def _w0tid(ev):
    """worker 0's tid (rank 0), by its name"""
    return _first([e for e in ev if e.get("ph") == "M" and e.get("name") == "thread_name" and
                   str(e["args"].get("name")).startswith("worker 0: ")], pid=0)["tid"]


def _mut_depth(d):
    """a step's job_start made zero-length at its forward's start: the
    sorter puts the longer forward (and its first part) first, and
    job_start nests under them"""
    ev = d["traceEvents"]
    js = _first(ev, ph="X", name="job_start", tid=_w0tid(ev))
    fw = _first(ev, ph="X", name="forward", tid=_w0tid(ev))
    js["ts"], js["dur"] = fw["ts"], 0


def _mut_overlap(d):
    ev = d["traceEvents"]
    fw = _first(ev, ph="X", name="forward", tid=_w0tid(ev))
    part = _first(ev, ph="X", cat="layer", tid=_w0tid(ev))
    part["dur"] = part["dur"] + fw["dur"]


def _mut_order(d):
    ev = d["traceEvents"]
    tid = _first(ev, ph="X", cat="step")["tid"]
    _first(ev, ph="M", name="thread_sort_index", pid=0, tid=tid)["args"]["sort_index"] = 99


# rule -> (what is broken, how); each must make its rule fail
BROKEN = {
    "json": ("a NaN loss", lambda d: _first(d["traceEvents"], ph="C")["args"].update(loss=float("nan"))),
    "traceEvents": ("traceEvents an object", lambda d: d.update(traceEvents={"events": d["traceEvents"]})),
    "displayTimeUnit": ("displayTimeUnit a number", lambda d: d.update(displayTimeUnit=1)),
    "ph": ("an X event without ph", lambda d: _first(d["traceEvents"], ph="X").pop("ph")),
    "ts": ("a ts that is no number", lambda d: _first(d["traceEvents"], ph="X").update(ts="soon")),
    "ts_nonneg": ("a negative ts", lambda d: _first(d["traceEvents"], ph="X", tid=_w0tid(d["traceEvents"])).update(ts=-0.5)),
    "dur": ("a negative dur", lambda d: _first(d["traceEvents"], ph="X", cat="layer").update(dur=-1.0)),
    "ids": ("a tid of -1", lambda d: _first(d["traceEvents"], ph="X", tid=_w0tid(d["traceEvents"])).update(tid=-1)),
    "tid0": ("an event at pid 1, tid 0", lambda d: _first(d["traceEvents"], ph="X", tid=_w0tid(d["traceEvents"])).update(pid=1, tid=0)),
    "main_thread": ("an event of pid 0 on tid 0", lambda d: _first(d["traceEvents"], ph="X", cat="phase")
                    .update(tid=0)),
    "name": ("an X event with an empty name", lambda d: _first(d["traceEvents"], ph="X").update(name="")),
    "meta": ("a thread_name without a name", lambda d: _first(d["traceEvents"], ph="M", name="thread_name")
             .update(args={"name": ""})),
    "counter": ("a counter without args", lambda d: _first(d["traceEvents"], ph="C").update(args={})),
    "instant": ("an instant of scope 'x'", lambda d: _first(d["traceEvents"], ph="i").update(s="x")),
    "overlap": ("a layer event running past its phase", _mut_overlap),
    "depth": ("a zero-length job_start at its forward's start", _mut_depth),
    "track_names": ("a second thread_name for worker 0's track", lambda d: d["traceEvents"].append(
        {"name": "thread_name", "ph": "M", "pid": 0, "tid": _w0tid(d["traceEvents"]), "args": {"name": "other"}})),
    "order": ("the steps track sorted last", _mut_order),
}


def _w0(ev, **kw):
    return _first(ev, ph="X", tid=_w0tid(ev), **kw)


def _swap_first(d):
    ev = d["traceEvents"]
    i, j = ev.index(_w0(ev, name="job_start")), ev.index(_w0(ev, name="forward"))
    ev[i], ev[j] = ev[j], ev[i]


def _drop(d, **kw):
    d["traceEvents"].remove(_first(d["traceEvents"], **kw))


# main()'s own checks: FAIL text each must print -> (what is broken, how)
MAIN_BROKEN = {
    "in time order": ("worker 0's forward written before its job_start", _swap_first),
    "disjoint or nested": ("a job_start running into its forward", lambda d: _w0(d["traceEvents"], name="job_start")
                           .update(dur=_w0(d["traceEvents"], name="job_start")["dur"] +
                                   _w0(d["traceEvents"], name="forward")["dur"] / 2)),
    "add up to the step": ("an optimizer 0.5 us short", lambda d: _w0(d["traceEvents"], name="optimizer")
                           .update(dur=_w0(d["traceEvents"], name="optimizer")["dur"] - 0.5)),
    "layer events in order": ("a backward layer 0 missing", lambda d: _drop(d, ph="X", name="backward layer 0")),
    "no event dropped": ("a dropped event counted", lambda d: d["otherData"].update(dropped_events=1)),
    "step events": ("a step event missing", lambda d: _drop(d, ph="X", cat="step")),
    "counters": ("no tokens/s counter", lambda d: d.update(traceEvents=[e for e in d["traceEvents"]
                                                                         if e.get("name") != "tokens/s"])),
    "name a CPU": ("a worker track without its CPU", lambda d: _first(
        [e for e in d["traceEvents"] if e.get("ph") == "M" and e.get("name") == "thread_name"
         and e["args"]["name"].startswith("worker 0: ")]).update(args={"name": "worker 0: somewhere"})),
}


def selftest(path):
    """Each Perfetto rule rejects the trace at path broken its way (and
    the trace as written passes them all); so do main()'s own checks (each
    broken trace run through this script as test_trace.sh runs it)."""
    with open(path) as fh:
        text = fh.read()
    f, _ = perfetto_faults(text)
    bad = {r: x for r, x in f.items() if x}
    check(f"{path}: the trace as written breaks no Perfetto rule ({bad})", not bad)
    check("every Perfetto rule has its broken trace", set(BROKEN) == set(PERFETTO_RULES))
    for rule, (what, mutate) in BROKEN.items():
        d = json.loads(text)
        mutate(d)
        f2, _ = perfetto_faults(json.dumps(d))
        check(f"Perfetto rule {rule!r} rejects {what} (faults: {[r for r, x in f2.items() if x]})", bool(f2[rule]))
    o = json.loads(text)["otherData"]
    run = [str(o["ranks"]), str(o["threads"]), str(o["steps_last"] - o["steps_first"] + 1), "0.01", str(o["layers"])]
    with tempfile.TemporaryDirectory() as tmp:
        for words, (what, mutate) in [("", ("nothing", lambda d: None))] + list(MAIN_BROKEN.items()):
            d = json.loads(text)
            mutate(d)
            bad_path = os.path.join(tmp, "t.json")
            with open(bad_path, "w") as fh:
                json.dump(d, fh)
            r = subprocess.run([sys.executable, __file__, bad_path] + run, capture_output=True, text=True)
            fails = [x for x in r.stdout.splitlines() if x.startswith("FAIL")]
            if not words:
                check(f"trace_check passes the trace as written ({fails[:2]})", r.returncode == 0 and not fails)
            else:
                check(f"trace_check fails '{words}' on {what} (rc {r.returncode}, {fails[:3]})",
                      r.returncode != 0 and any(words in x for x in fails))


def main(path, ranks, threads, steps, tol_us=0.01, layers=None):
    with open(path) as f:
        text = f.read()
    d = json.loads(text)
    # what Perfetto's importer does with it (above): one check per rule
    faults, _ = perfetto_faults(text)
    for rule, desc in PERFETTO_RULES.items():
        check(f"Perfetto: {desc} ({len(faults[rule])} faults: {faults[rule][:2]})", not faults[rule])
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
        st = [e for k, lst in xs.items() if k[0] == r for e in lst if e.get("cat") == "step"]
        check(f"rank {r}: {steps} step events, got {len(st)}", len(st) == steps)
        # the rank's tracks by their names: its workers (numbered across
        # ranks) and worker 0's MPI calls
        wtid = {int(m.group(1)) - r * threads: k[1] for k, v in names.items() if k[0] == r
                for m in [re.match(r"worker (\d+): ", v)] if m}
        xtid = next((k[1] for k, v in names.items() if k[0] == r and v.startswith("MPI exchange")), None)
        check(f"rank {r}: worker tracks {sorted(wtid)}, want 0..{threads - 1}", sorted(wtid) == list(range(threads)))
        worst = 0.0
        for s in st:
            n = s["args"]["step"]
            for i in range(threads):
                tot = sum(e["dur"] for e in xs.get((r, wtid.get(i)), []) if e["args"]["step"] == n and e["cat"] == "phase")
                if i == 0:
                    tot += sum(e["dur"] for e in xs.get((r, xtid), []) if e["args"]["step"] == n and e["cat"] == "phase")
                worst = max(worst, abs(tot - s["dur"]))
        check(f"rank {r}: each worker's phases add up to the step (worst {worst:.4f} us, tolerance {tol_us} us)",
              worst <= tol_us)
        phases = {e["name"] for i in range(threads) for e in xs.get((r, wtid.get(i)), []) if e["cat"] == "phase"}
        need = {"job_start", "forward", "backward", "barrier_wait", "optimizer"}
        check(f"rank {r}: the phases {sorted(need - phases)} are there", need <= phases)
        if ranks > 1:
            check(f"rank {r}: the MPI exchange has a track with events", bool(xs.get((r, xtid))))
    counters = {e["name"] for e in ev if e["ph"] == "C"}
    check(f"loss and tokens/s counters, got {sorted(counters)}", {"loss", "tokens/s"} <= counters)
    return d


if __name__ == "__main__":
    a = sys.argv
    if len(a) == 3 and a[1] == "--broken":
        selftest(a[2])
        finish()
    if len(a) == 3 and a[1] == "--show":
        with open(a[2]) as fh:
            faults, view = perfetto_faults(fh.read())
        for proc, tracks, counters in view:
            print(proc)
            for t in tracks:
                print(f"    {t}")
            for c in counters:
                print(f"    {c if c.startswith('instants') else 'counter: ' + c}")
        for r, x in faults.items():
            for e in x[:3]:
                print(f"FAULT {r}: {e}")
        sys.exit(1 if any(faults.values()) else 0)
    main(a[1], int(a[2]), int(a[3]), int(a[4]), float(a[5]) if len(a) > 5 else 0.01,
         int(a[6]) if len(a) > 6 else None)
    finish()
