"""analysis.py - the analysis of one run (runs.run_from_records): per thread
count the measurements and both speedups, the fits, the memory, the
counters, the projection and the comparison of the variants; the verdict is
verdict.py's. Returns one plain dict (fit.json); verdict.py words the verdict.

The data-parallel step at N workers, from the phase clocks (per worker,
per step): compute = forward + backward, combine = reduce, optimizer (its
P/N parameters), waiting = barrier + lock wait, other = the rest of the
step (the pool's start and end). Two speedups:
  whole step     tokens/s over the 1-thread tokens/s: what a user sees
  parallel part  the forward+backward section's throughput (tokens per step
                 over the section's time: forward, backward and the waits up
                 to the barrier after it; a lock makes it serial) over its
                 1-thread value
USL and Amdahl are fitted to the parallel part as they stand, and to the
whole step with the amortisation term written out (models.py), a = the
optimizer's share of the 1-thread step under weak scaling (0 under strong
scaling, where every part of a step is divided over the workers).
"""
import json
import os
import subprocess

import numpy as np

from . import compare, models, project, ranks, stats, stragglers, verdict
from .runs import LLC_NAMES, tps, variant_points
from .util import med, num

NOTE_PER_THREAD_KIB = 6277           # the original note's per-thread table (config seed): "6.1 MB"
NOTE_TOTAL_63_MB = 386               # its "63 threads: 386 MB"
CV_WARN = 0.05
DEFAULT_SEED, DEFAULT_BOOT = 20240617, 1000


def compute_span(q):
    """The forward+backward section of a step: from its start to the barrier
    after backward, the same for every worker (each one's forward, backward,
    lock wait and barrier wait add up to it; the barrier after the combine,
    short because the slices are equal, is counted in with it)."""
    ps = q["phase_step"]
    return sum(ps.get(k, 0.0) for k in ("forward", "backward", "lock_wait", "barrier_wait"))


def point_row(p, base):
    """One table row: point p against the 1-thread point base (or None)."""
    reps = p["reps"]
    n = p["threads"]
    row = {"threads": n, "oversubscribed": p["over"], "reps_ok": len(reps), "reps_failed": p["failed"]}
    if not reps:
        return row
    x = tps(p)
    row.update({"tps_median": float(np.median(x)), "tps_min": float(x.min()), "tps_max": float(x.max()),
                "tps_cv": stats.cv(x)})
    tc = [q["timed_cpu_s"] / q["timed_wall_s"] for q in reps if q["timed_cpu_s"] is not None and q["timed_wall_s"]]
    row["cpu_util_timed"] = med(tc)
    row["cpu_util_process"] = med([q["proc_cpu_s"] / q["proc_wall_s"] for q in reps if q["proc_wall_s"]])
    row["cpu_us_per_token_timed"] = med([q["timed_cpu_s"] / q["timed_tokens"] * 1e6 for q in reps
                                         if q["timed_cpu_s"] is not None and q["timed_tokens"]])
    row["cpu_us_per_token_process"] = med([q["proc_cpu_s"] / q["tokens"] * 1e6 for q in reps if q["tokens"]])
    row["rss_mib"] = med([q["rss_bytes"] / 2**20 for q in reps if q["rss_bytes"] is not None])
    row["ipc"] = med([q["ipc"] for q in reps if q["ipc"] is not None])
    row["llc_per_token"] = med([q["llc_per_token"] for q in reps if q["llc_per_token"] is not None])
    tok = [q["phase_tok"] for q in reps if q.get("phase_tok")]
    row["phase_us_per_token"] = (np.median(np.array(tok), axis=0) * 1e6).tolist() if tok else None
    ps = [q["phase_step"] for q in reps if q.get("phase_step")]
    if ps:
        c = project.costs(ps)
        row["step_ms"] = {k: v * 1e3 for k, v in project.plain(c).items()}
        row["compute_tps"] = [q["tokens_per_step"] / span for q in reps
                              if q.get("phase_step") and q["tokens_per_step"] and (span := compute_span(q)) > 0]
    if base and base["reps"]:
        # the speedup, its range and its interval: one quantity, the
        # Hodges-Lehmann ratio of the reps (stats.hl_ratio_ci; bench/stats.c
        # stats_speedup prints the same figure and range in summary.csv)
        b = tps(base)
        s, ci, cover = stats.hl_ratio_ci(b, x)
        d = x[None, :] / b[:, None]
        row.update({"speedup": s, "speedup_min": float(d.min()), "speedup_max": float(d.max()),
                    "efficiency": s / n, "karp_flatt": stats.karp_flatt(s, n)})
        if n > 1:
            row["speedup_ci"], row["speedup_ci_coverage"] = ci, cover
            if ci:
                row["karp_flatt_ci"] = sorted([stats.karp_flatt(ci[1], n), stats.karp_flatt(ci[0], n)])
        bp = point_row(base, None) if n > 1 else row
        if row.get("compute_tps") and bp.get("compute_tps"):
            ps, pci, _ = stats.hl_ratio_ci(bp["compute_tps"], row["compute_tps"])
            row["par_speedup"] = ps
            if n > 1:
                row["par_speedup_ci"] = pci
    return row


def amortised_share(run, v):
    """a: the optimizer's share of the 1-thread step (median over the reps)
    under weak scaling, with its range; 0 under strong scaling."""
    if run["scaling"] == "strong":
        return 0.0, None, "strong scaling: every part of a step is divided over the workers"
    p = run["points"].get((v, 1))
    shares = [q["phase_step"]["optimizer"] / q["phase_step"]["step"] for q in (p or {}).get("reps", [])
              if q.get("phase_step") and q["phase_step"].get("step")]
    if not shares:
        return 0.0, None, "no 1-thread phase clocks: the amortisation term is left out (a = 0)"
    return float(np.median(shares)), [float(min(shares)), float(max(shares))], None


def fits_of(run, v, target):
    """The fits of one variant (see the module docstring)."""
    pts = [p for p in variant_points(run, v) if p["reps"] and not p["over"]]
    whole = {p["threads"]: tps(p) for p in pts}
    par = {}
    for p in pts:
        r = point_row(p, None).get("compute_tps")
        if r:
            par[p["threads"]] = np.array(r)
    a, a_range, a_note = amortised_share(run, v)
    f = {"amortised_share": a, "amortised_share_range": a_range, "amortised_note": a_note,
         "step_usl": models.fit_log(whole, True, a, target), "step_amdahl": models.fit_log(whole, False, a, target),
         "plain_usl": models.fit_log(whole, True, 0.0, target),
         "par_usl": models.fit_log(par, True, 0.0, target) if par else None,
         "par_amdahl": models.fit_log(par, False, 0.0, target) if par else None}
    if len(whole) >= 4:
        ns = np.concatenate([[n] * len(x) for n, x in whole.items()])
        f["nls_usl"] = models.fit_nls_throughput(ns, np.concatenate(list(whole.values())))
        g = f["nls_usl"]
        g["speedup_target"] = float(models.speedup(target, g["alpha"], g["beta"]))
    else:
        f["nls_usl"] = {"estimator": "nls", "reason": f"{len(whole)} usable thread counts; R usl's fit of 3 "
                        f"parameters needs at least 4"}
    f["samples"] = {"whole": whole, "par": par}
    return f


def describe(train_model, *args):
    """train_model --describe ARGS as an object (core/REPORT.md): the
    build's configs, limits and the memory table of a shape, read from the
    core instead of copied or scraped; None when it cannot answer."""
    try:
        p = subprocess.run([train_model, "--describe", *args], capture_output=True, text=True, timeout=30)
        return json.loads(p.stdout) if p.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def memory_of(run, train_model):
    """Analytic memory against peak RSS: under weak scaling the per-thread
    slope; under strong scaling point by point (each worker's context holds
    B/N sequences, so no slope is a per-thread size)."""
    strong = run["scaling"] == "strong"
    out = {"scaling": run["scaling"], "variants": {}, "note_per_thread_bytes": NOTE_PER_THREAD_KIB * 1024,
           "note_total_63_bytes": NOTE_TOTAL_63_MB * 2**20, "config": run["config"]}
    for v in run["variants"]:
        pts = [p for p in variant_points(run, v) if p["reps"]]
        if not pts:
            continue
        mem0 = pts[0]["reps"][0]["memory"]
        m = {"analytic_per_thread": num(mem0.get("per_thread_total")), "shared": num(mem0.get("shared_total")),
             "points": []}
        for p in pts:
            rss = med([q["rss_bytes"] for q in p["reps"] if q["rss_bytes"] is not None])
            tot = num(p["reps"][0]["memory"].get("total_at_threads"))
            m["points"].append({"threads": p["threads"], "over": p["over"], "peak_rss": rss, "analytic_total": tot,
                                "analytic_per_thread": num(p["reps"][0]["memory"].get("per_thread_total")),
                                "difference": rss - tot if rss is not None and tot is not None else None})
        if not strong:      # build/scale's fit (memory.csv); none there: not determined
            csvm = run["memory_csv"].get(v) or {}
            m["measured_per_thread"] = num(csvm.get("measured_bytes_per_thread"))
            m["measured_intercept"] = num(csvm.get("measured_intercept_bytes"))
        out["variants"][v] = m
    seed = None
    m0 = next(iter(out["variants"].values()), None)
    if run["config"] == "seed" and m0 and not strong and m0.get("analytic_per_thread") is not None \
            and m0.get("shared") is not None:      # (a --command sweep's reports have no memory table)
        seed = {"per_thread": m0["analytic_per_thread"], "shared": m0["shared"], "source": "this run's reports",
                "total_63": m0["shared"] + 63 * m0["analytic_per_thread"]}
    elif train_model and os.access(train_model, os.X_OK):
        d = describe(train_model, "--config", "seed", "--threads", "63")
        mem = (d or {}).get("memory") or {}
        got = [num(mem.get(k)) for k in ("per_thread_total", "shared_total", "total_at_threads")]
        if None not in got and mem.get("threads") == 63:
            seed = {"per_thread": got[0], "shared": got[1], "total_63": got[2],
                    "source": "train_model --describe --config seed --threads 63"}
    out["seed_config"] = seed
    return out


def counters_of(run):
    have = any(q.get("ipc") is not None or q.get("llc_per_token") is not None
               for p in run["points"].values() for q in p["reps"])
    reasons = {}
    for r in run["records"]:
        for key, c in (r.get("counters") or {}).items():
            if any(nm in key.split("|") for nm in ("cycles", "instructions") + LLC_NAMES) and isinstance(c, dict) \
                    and c.get("value") is None:
                reasons.setdefault(key, c.get("reason") or "no value")
    if not have:
        why = ("; ".join(f"{k}: {v}" for k, v in sorted(reasons.items())) if reasons else
               "the runs recorded no cycles/instructions/LLC counters (events not requested)")
        return {"available": False, "reason": why}
    return {"available": True, "unavailable_events": reasons}


def shape_of(run, v="lockfree"):
    p = run["points"].get((v, 1))
    if not p or not p["reps"]:
        return None
    q = p["reps"][0]
    items = q["memory"].get("per_thread") or []
    A = sum(i["bytes"] for i in items if i.get("name") not in ("grad", "worker_state"))
    if not q["params"] or not q["tokens_per_step"]:
        return None
    return {"P": q["params"], "A": float(A), "tokens_per_step_1": q["tokens_per_step"],
            "flops": q["flops_per_step"] or 0.0}


def projections_of(run, ceil, target, boot, seed):
    v = "lockfree" if "lockfree" in run["variants"] else None
    out = {"ceilings": ceil}
    shape = shape_of(run, v) if v else None
    if not shape:
        out["reason"] = "no successful 1-thread lock-free run with phase clocks and a memory table"
        return out
    pick = lambda n: [q["phase_step"] for q in (run["points"].get((v, n)) or {}).get("reps", [])
                      if q.get("phase_step")] if not (run["points"].get((v, n)) or {}).get("over") else []
    r1, r2 = pick(1), pick(2)
    strong = run["scaling"] == "strong"
    out["shape"] = shape
    out["machine"] = project.project(r1, r2, shape, ceil, run["cpus"] or 1, None, strong, boot, seed)
    if target:
        out["target"] = project.project(r1, r2, shape, ceil, run["cpus"] or 1, target, strong, boot, seed)
    out["check"] = project.check_two(r1, r2, shape, ceil, run["cpus"] or 1, strong)
    return out


def warnings_of(run, res):
    w = []
    st = run["meta"].get("status")
    if st != "complete":
        w.append(f"the sweep's status is '{st}' (meta.json): not every point ran")
    for v in run["variants"]:
        for r in res["variants"][v]["rows"]:
            if r.get("tps_cv") is not None and r["tps_cv"] > CV_WARN:
                w.append(f"{v} {r['threads']} threads: {run['unit']} varies by {r['tps_cv']:.1%} (cv) over "
                         f"{r['reps_ok']} reps, more than {CV_WARN:.0%}")
            if r["reps_failed"]:
                w.append(f"{v} {r['threads']} threads: {r['reps_failed']} of {r['reps_ok'] + r['reps_failed']} reps failed")
    tm = set(run.get("train_model_variants", run["variants"]))
    if tm and not any(q.get("timed_cpu_s") is not None for (v, _), p in run["points"].items() if v in tm
                      for q in p["reps"]):
        w.append("the reports have no timed_cpu_user_s/timed_cpu_sys_s (train_model older than these fields): "
                 "CPU utilisation is over the whole process only")
    topo = (run["meta"].get("host") or {}).get("topology") or {}
    if topo.get("cpukinds_warning"):   # build/topo's, from hwloc cpukinds
        kinds = ", ".join(f"{k.get('info', {}).get('CoreType', 'kind ' + str(k['index']))} on PUs {k['pus']}"
                          for k in topo.get("cpukinds") or [])
        w.append(f"this machine has cores of different kinds ({kinds}): {topo['cpukinds_warning']}")
    return w


def analyze(run, boot=DEFAULT_BOOT, seed=DEFAULT_SEED, train_model=None, ceil=None, target=None,
            target_threads=models.TARGET_N):
    """The whole analysis of a run, its verdict included."""
    res = {"run": run["name"], "cpus": run["cpus"], "seed": seed, "bootstrap": boot, "config": run["config"],
           "scaling": run["scaling"], "target_threads": target_threads, "unit": run["unit"],
           "metric": {k: v for k, v in run["metric"].items()}, "variants": {}}
    for v in run["variants"]:
        pts = variant_points(run, v)
        base = next((p for p in pts if p["threads"] == 1 and p["reps"]), None)
        rows = [point_row(p, base) for p in pts]
        for r in rows:
            r.pop("compute_tps", None)
        res["variants"][v] = {"x1_median": rows[0]["tps_median"] if base else None, "rows": rows,
                              "fits": fits_of(run, v, target_threads),
                              "excluded_oversubscribed": [p["threads"] for p in pts if p["over"] and p["reps"]]}
    res["memory"] = memory_of(run, train_model)
    res["counters"] = counters_of(run)
    res["projection"] = projections_of(run, ceil, target, boot, seed)
    res["comparison"] = compare.variants_rows(run)
    if ranks.has_ranks(run):
        res["ranks"] = ranks.analysis_of(run, amortised_share(run, "mpi")[0], target_threads)
    res["stragglers"] = stragglers.of_run(run)
    res["warnings"] = warnings_of(run, res)
    res["verdict"] = verdict.verdict_of(run, res)
    sentence = stragglers.verdict_sentence(res)
    if sentence:
        res["verdict"]["text"] += " " + sentence
        res["verdict"]["stragglers"] = sentence
    return res
