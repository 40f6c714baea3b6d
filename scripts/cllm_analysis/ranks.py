"""ranks.py - the MPI variant's ranks x threads grid (build/scale --ranks;
bench/RESULTS.md, "MPI: ranks x threads"): per (ranks, threads) point the
throughput and its speedup over total workers (ranks x threads), the fits
over workers, a process per worker against a thread per worker at equal
worker counts, and what communication costs per step.

Points with more than one rank are kept out of runs.py's (variant, threads)
points, which stay the one-process thread sweep; this module reads every
record itself.

Communication per step, from rank 0's report (it holds every worker's
phase clocks, rank-major): comm = the time worker 0 of each rank spends in
MPI calls (the mean over the ranks' worker 0: the exchange of gradient sums,
the allgathers of statistics and parameters, waiting for the slowest rank
included), comm_sum = adding the rank sums of a slice (mean over workers),
both over all steps (the warm-up included) like the step time they are a
share of; hidden = the exchange in flight beside compute (the report's
mpi.clocks, core/trainer.h's XCLK_HIDDEN: --overlap on), per step, mean
over the ranks. The payload per step is the report's mpi.bytes_sent_per_step;
payload / comm time is a lower bound of the rate the transport reached
(comm includes waiting).

Pure functions of the run (runs.run_from_records); no files, no printing.
"""
import numpy as np

from . import compare, models, stats
from .runs import recorded, rep_of
from .util import med, num

SERIES = (("threads", "1 rank x N threads (a thread per worker)", lambda p: p["ranks"] == 1),
          ("processes", "N ranks x 1 thread (a process per worker)", lambda p: p["threads"] == 1),
          ("all", "every ranks x threads point, over N = ranks x threads", lambda p: True))


def has_ranks(run):
    """True when the run has a point of more than one rank."""
    return any(int(r.get("ranks") or 1) > 1 for r in run["records"])


def comm_of(r, ranks, threads):
    """Per-step communication figures of one successful record."""
    rep = r.get("report") or {}
    steps = num(rep.get("steps")) or 0
    ph = rep.get("phases") or {}
    names, walls = ph.get("names") or [], ph.get("wall_s") or []

    def phase(nm):
        i = names.index(nm) if nm in names else -1
        return walls[i] if 0 <= i < len(walls) and walls[i] else None

    clk = (((rep.get("mpi") or {}).get("clocks") or {}).get("ms_per_step") or {})
    out = {"comm_ms": None, "comm_sum_ms": None, "step_ms": None,
           "bytes_per_step": num((rep.get("mpi") or {}).get("bytes_sent_per_step")),
           "hidden_ms": num(clk.get("hidden"))}
    if not steps:
        return out
    comm, csum = phase("comm"), phase("comm_sum")
    if comm:
        w0 = [comm[k * threads] for k in range(ranks) if k * threads < len(comm)]
        out["comm_ms"] = 1e3 * float(np.mean(w0)) / steps
    if csum:
        out["comm_sum_ms"] = 1e3 * float(np.mean(csum)) / steps
    wall = num(rep.get("wall_s"))
    out["step_ms"] = 1e3 * wall / steps if wall else None
    return out


def points(run):
    """{(variant, ranks, threads): {variant, ranks, threads, workers, over,
    failed, reps}} over every record; each rep is runs.rep_of's with the
    communication figures added."""
    pts, cpus = {}, run["cpus"]
    for r in run["records"]:
        R, T = int(r.get("ranks") or 1), int(r["threads"])
        p = pts.setdefault((r["variant"], R, T), {
            "variant": r["variant"], "ranks": R, "threads": T, "workers": recorded(r, "workers"), "failed": 0,
            "reps": [], "over": bool(recorded(r, "oversubscribed", cpus=cpus))})
        q = rep_of(r, run.get("metric"))
        if q is None:
            p["failed"] += 1
            continue
        q.update(comm_of(r, R, T))
        p["reps"].append(q)
    return pts


def row_of(p, base):
    """One table row; speedup over the 1-worker point base."""
    x = np.array([q["tps"] for q in p["reps"]])
    row = {k: p[k] for k in ("ranks", "threads", "workers", "over")}
    row.update({"reps_ok": len(x), "reps_failed": p["failed"]})
    if not len(x):
        return row
    row.update({"tps_median": float(np.median(x)), "tps_min": float(x.min()), "tps_max": float(x.max()),
                "tps_cv": stats.cv(x)})
    for k in ("comm_ms", "comm_sum_ms", "step_ms", "bytes_per_step", "hidden_ms"):
        row[k] = med([q[k] for q in p["reps"] if q.get(k) is not None])
    if row["step_ms"] and row["comm_ms"] is not None:
        row["comm_share"] = (row["comm_ms"] + (row["comm_sum_ms"] or 0.0)) / row["step_ms"]
    if row["bytes_per_step"] and row["comm_ms"]:
        row["payload_gbit_s_lower_bound"] = row["bytes_per_step"] * 8 / (row["comm_ms"] * 1e-3) / 1e9
    if base and base["reps"]:
        b = np.array([q["tps"] for q in base["reps"]])
        s, ci, _ = stats.hl_ratio_ci(b, x)    # one quantity with its interval (analysis.point_row)
        row.update({"speedup": s, "efficiency": s / p["workers"], "karp_flatt": stats.karp_flatt(s, p["workers"])})
        if p["workers"] > 1:
            row["speedup_ci"] = ci
    return row


def analysis_of(run, a=0.0, target=models.TARGET_N, variant="mpi"):
    """The ranks x threads analysis of one variant (fit.json's "ranks"):
    rows, fits over workers per series, the process-against-thread
    comparison at equal worker counts. a: the amortisation term of the
    step model (analysis.amortised_share of the 1-worker point)."""
    pts = {k[1:]: p for k, p in points(run).items() if k[0] == variant}
    base = pts.get((1, 1))
    order = sorted(pts, key=lambda k: (k[0] * k[1], k[0]))
    out = {"variant": variant, "amortised_share": a, "rows": [row_of(pts[k], base) for k in order], "fits": {},
           "comparison": []}
    for name, what, keep in SERIES:
        samples = {}
        for k in order:
            p = pts[k]
            if keep(p) and p["reps"] and not p["over"]:
                samples.setdefault(p["workers"], []).extend(q["tps"] for q in p["reps"])
        f = models.fit_log({n: np.array(v) for n, v in samples.items()}, True, a, target)
        f["series"] = what
        out["fits"][name] = f
    for n in sorted({p["workers"] for p in pts.values() if p["workers"] > 1}):
        th, pr = pts.get((1, n)), pts.get((n, 1))
        if not th or not pr:
            continue
        c = compare.compare_point([q["tps"] for q in th["reps"]], [q["tps"] for q in pr["reps"]])
        c.update({"workers": n, "over": th["over"] or pr["over"],
                  "thread_step_ms": med([q["step_ms"] for q in th["reps"] if q.get("step_ms")]),
                  "process_step_ms": med([q["step_ms"] for q in pr["reps"] if q.get("step_ms")]),
                  "process_comm_ms": med([q["comm_ms"] for q in pr["reps"] if q.get("comm_ms") is not None])})
        out["comparison"].append(c)
    return out
