"""runs.py - loading a results folder of build/scale (bench/RESULTS.md) into
plain data: the sweep's options and machine, its metric and unit, and per
(variant, threads) point the successful reps with what the analysis needs of
each. A rep's "tps" is the sweep's metric: the report's tokens_per_s unless
the sweep was run with --metric KEY or --work N (meta.json "metric"), as for
a --command template (another trainer, PyTorch, bench/peers/amdahl); the
unit it is in goes with the run ("unit") into every table and plot. Points of
more than one MPI rank (the mpi variant's --ranks grid) are left out of
those points: ranks.py reads them.

load_folder(path) reads the files and refuses a folder build/scale did not
write (meta.json missing, or its "tool" is not "scale", or no runs.jsonl);
run_from_records(meta, records, ...) builds the same data from objects in
memory, so the tests need no files.
"""
import csv
import os
import sys

import numpy as np

from . import ijson
from .util import num

PHASES = ["forward", "backward", "lock_wait", "barrier_wait", "reduce", "optimizer"]
LLC_NAMES = ("LLC-load-misses", "LLC-misses", "cache-misses")


class NotScaleFolder(ValueError):
    """The folder is not one build/scale wrote."""


def counter(cnt, names):
    """Scaled value of the first counter whose listed name ("a|b") contains one of names."""
    for nm in names:
        for key, c in (cnt or {}).items():
            if nm in key.split("|") and isinstance(c, dict) and num(c.get("value")) is not None:
                return float(c["value"])
    return None


DEFAULT_METRIC = {"key": "tokens_per_s", "work": None, "unit": "tokens/s", "columns": "tokens_per_s"}


def metric_of(meta):
    """The sweep's metric from meta.json (absent: the report's tokens_per_s,
    in tokens/s, as every sweep before --metric had), with "strong" set from
    its scaling (--work N is in total under strong scaling, per thread under weak)."""
    m = dict(DEFAULT_METRIC, **((meta or {}).get("metric") or {}))
    m["strong"] = ((meta or {}).get("options") or {}).get("scaling") == "strong"
    return m


def dotted(obj, key):
    """obj["a"]["b"] for key "a.b" (None where a step is missing)."""
    for part in key.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


# ---- old folders --------------------------------------------------------------
# build/scale records every derived figure of a run once (bench/RESULTS.md):
# "workers", "oversubscribed" (against its usable CPUs), "metric" and
# "timed_cpu_s"; the analysis reads them. Folders written before a field
# existed (results/reference-* lack "metric" and "timed_cpu_s") get it here,
# derived from the raw fields as scale derived it then: the one place that
# falls back.

def legacy_metric(r, metric):
    """The metric of a record without one, as build/scale computes it
    (stats_metric_of): the number at metric["key"] of its report, or work (x
    workers under weak scaling: every thread of every rank, threads x ranks)
    over its wall time."""
    if metric.get("key"):
        return num(dotted(r.get("report") or {}, metric["key"]))
    w, wall = num(metric.get("work")), num(r.get("wall_s"))
    workers = int(r["threads"]) * max(1, int(r.get("ranks") or 1))
    return w * (1 if metric.get("strong") else workers) / wall if w and wall and wall > 0 else None


def recorded(r, field, metric=None, cpus=None):
    """Derived field `field` of record r: as build/scale recorded it, else
    (an older record) derived as above."""
    if field in r:
        return int(r[field]) if field == "workers" else num(r[field]) if field in ("metric", "timed_cpu_s") \
            else r[field]
    if field == "metric":
        return legacy_metric(r, metric or DEFAULT_METRIC)
    if field == "timed_cpu_s":
        rep = r.get("report") or {}
        cu, cs = num(rep.get("timed_cpu_user_s")), num(rep.get("timed_cpu_sys_s"))
        return cu + cs if cu is not None and cs is not None else None
    if field == "workers":
        return int(r.get("ranks") or 1) * int(r["threads"])
    if field == "oversubscribed":
        return recorded(r, "workers") > cpus if cpus else False
    raise KeyError(field)


def metric_value(r, metric):
    """The metric of one record (positive, else None)."""
    v = recorded(r, "metric", metric)
    return v if v is not None and v > 0 else None


def rep_of(r, metric=None):
    """What the analysis uses of one successful runs.jsonl record (None when
    the run failed or has no positive metric: by default its report's tokens_per_s)."""
    rep = r.get("report") or {}
    tps = metric_value(r, metric or DEFAULT_METRIC)
    if r.get("status") != "ok" or tps is None:
        return None
    n = int(r["threads"])
    steps = num(rep.get("steps")) or 0
    warm = num(rep.get("warmup_steps")) or 0
    tps_step = num(rep.get("tokens_per_step"))
    tokens = num(rep.get("tokens"))
    train_wall = num(rep.get("wall_s"))
    timed_wall = num(rep.get("timed_wall_s"))
    out = {"tps": tps, "threads": n, "steps": steps, "warmup_steps": warm, "tokens_per_step": tps_step,
           "tokens": tokens, "train_wall_s": train_wall, "timed_wall_s": timed_wall,
           "timed_tokens": tps_step * (steps - warm) if tps_step and steps > warm else None,
           "timed_cpu_s": recorded(r, "timed_cpu_s"),
           "proc_wall_s": num(r.get("wall_s")), "proc_cpu_s": (num(r.get("user_s")) or 0) + (num(r.get("sys_s")) or 0),
           "rss_bytes": num(r.get("peak_rss_kib")) * 1024 if num(r.get("peak_rss_kib")) is not None else None,
           "params": num(rep.get("params")), "config": rep.get("config") or {}, "memory": rep.get("memory") or {},
           "flops_per_step": num(rep.get("flops_per_step")), "scaling": rep.get("scaling"),
           "report_raw": {"stragglers": rep.get("stragglers"), "pin": rep.get("pin")}}
    # per-step phase times: mean over workers (seconds per step, all steps)
    ph = rep.get("phases") or {}
    names = ph.get("names") or PHASES
    walls = ph.get("wall_s") or []
    per = {}
    for i, nm in enumerate(names):
        if i < len(walls) and walls[i] and steps:
            per[nm] = float(np.mean(walls[i])) / steps
    if per and train_wall and steps:
        step = train_wall / steps
        per["other"] = max(0.0, step - sum(per.get(p, 0.0) for p in PHASES))
        per["step"] = step
        # the timed steps' wall times (s): the step-to-step spread the
        # projection turns into barrier wait (report field step_ms)
        sm = rep.get("step_ms")
        if isinstance(sm, list) and len(sm) > warm + 1 and all(isinstance(x, (int, float)) for x in sm):
            per["step_times"] = [float(x) * 1e-3 for x in sm[int(warm):]]
        out["phase_step"] = per
        # thread-seconds per token by phase (sums over workers), "other" last
        if tokens:
            row = [float(np.sum(walls[names.index(p)])) / tokens if p in names and names.index(p) < len(walls) else 0.0
                   for p in PHASES]
            row.append(max(0.0, n * train_wall / tokens - sum(row)))
            out["phase_tok"] = row
    cyc, ins = counter(r.get("counters"), ("cycles",)), counter(r.get("counters"), ("instructions",))
    out["ipc"] = ins / cyc if cyc and ins is not None else None
    llc = counter(r.get("counters"), LLC_NAMES)
    out["llc_per_token"] = llc / tokens if llc is not None and tokens else None
    return out


def run_from_records(meta, records, memory_rows=None, name="run", path=".", hyperfine_rows=None):
    """The run as plain data from meta.json's object and the runs.jsonl
    records (dicts). Points: {(variant, threads): {variant, threads, over,
    failed, reps: [rep_of(...)]}}."""
    if not isinstance(meta, dict) or meta.get("tool") != "scale":
        raise NotScaleFolder(f"meta.json says tool {meta.get('tool')!r}, not 'scale'" if isinstance(meta, dict)
                             else "meta.json is not a JSON object")
    host = meta.get("host") or {}
    opts = meta.get("options") or {}
    cpus = host.get("affinity_cpus") or next((r.get("affinity_cpus") for r in records if r.get("affinity_cpus")), None)
    # train_model's variants first, then the --command templates, as build/scale ran them
    commands = [c.get("name") for c in opts.get("commands") or [] if isinstance(c, dict) and c.get("name")]
    variants = list(opts.get("variants") or []) + commands if (opts.get("variants") or commands) \
        else list(dict.fromkeys(r["variant"] for r in records))
    metric = metric_of(meta)
    pts = {}
    for r in records:
        if int(r.get("ranks") or 1) > 1:
            continue                  # the ranks x threads grid: ranks.py
        key = (r["variant"], int(r["threads"]))
        p = pts.setdefault(key, {"variant": key[0], "threads": key[1], "failed": 0, "reps": [],
                                 "over": bool(recorded(r, "oversubscribed", cpus=cpus))})
        rep = rep_of(r, metric)
        if rep is None:
            p["failed"] += 1
        else:
            p["reps"].append(rep)
    first = next((q for p in pts.values() for q in p["reps"]), None)
    return {"dir": path, "name": name, "meta": meta, "records": records, "host": host, "options": opts,
            "cpus": cpus, "variants": variants, "points": pts, "metric": metric, "unit": metric["unit"],
            "train_model_variants": [v for v in variants if v not in commands],
            "templates": {c["name"]: c.get("template") for c in opts.get("commands") or [] if isinstance(c, dict)},
            "scaling": opts.get("scaling") or (first or {}).get("scaling") or "weak",
            "config": opts.get("config") or (first["config"].get("name") if first else None),
            "steps": opts.get("steps"), "memory_csv": {row["variant"]: row for row in (memory_rows or [])},
            "hyperfine": hyperfine_rows}


def read_runs_jsonl(path):
    """The records of runs.jsonl; a cut-short last line is dropped with a
    warning (scale drops it too), a bad line before it is an error."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    recs = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            recs.append(ijson.loads(line))      # strict I-JSON, strings decoded back to their bytes
        except ValueError as e:
            if i >= len(lines) - 2:
                print(f"analyze: warning: {path}: ignoring a truncated last line {i + 1}", file=sys.stderr)
            else:
                raise ValueError(f"{path} line {i + 1} is not valid JSON: {e}")
    return recs


def load_folder(d):
    """Reads a results folder. Raises NotScaleFolder for a folder build/scale
    did not write, OSError/ValueError (naming the file) for unreadable files."""
    mpath, rpath = os.path.join(d, "meta.json"), os.path.join(d, "runs.jsonl")
    if not os.path.isdir(d):
        raise OSError(f"{d}: no such folder")
    if not os.path.exists(mpath):
        raise NotScaleFolder(f"{d} has no meta.json: not a build/scale results folder")
    try:
        meta = ijson.load_file(mpath)
    except (OSError, ValueError) as e:
        raise ValueError(f"{mpath}: {e}")
    if not isinstance(meta, dict) or meta.get("tool") != "scale":
        tool = meta.get("tool") if isinstance(meta, dict) else None
        raise NotScaleFolder(f"{d} was written by {tool!r}, not build/scale (meta.json 'tool'); "
                             f"the analysis reads only scale's results folders"
                             + (" (a peers folder has its own report, peers.md)" if tool == "peers" else ""))
    if not os.path.exists(rpath):
        raise NotScaleFolder(f"{d} has a scale meta.json but no runs.jsonl")
    recs = read_runs_jsonl(rpath)
    mem_rows = None
    if os.path.exists(os.path.join(d, "memory.csv")):
        with open(os.path.join(d, "memory.csv"), encoding="utf-8", errors="surrogateescape") as f:
            mem_rows = list(csv.DictReader(f))
    hf = None
    if os.path.exists(os.path.join(d, "hyperfine.csv")):      # scripts/hyperfine.sh --run DIR
        with open(os.path.join(d, "hyperfine.csv"), encoding="utf-8", errors="surrogateescape") as f:
            hf = list(csv.DictReader(f))
    return run_from_records(meta, recs, mem_rows, os.path.basename(os.path.normpath(d)), d, hf)


def variant_points(run, v):
    return sorted((p for (vv, _), p in run["points"].items() if vv == v), key=lambda p: p["threads"])


def tps(p):
    return np.array([q["tps"] for q in p["reps"]])
