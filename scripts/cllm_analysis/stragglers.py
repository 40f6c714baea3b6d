"""stragglers.py - who arrives last at the step's barriers (the train_model
report's "stragglers", core/REPORT.md): per barrier the arrival spread
(latest minus median arrival, ms) of every step and the worker that was
last; here pooled over a point's repetitions, the share of steps each
worker was last, and a flag where one worker is last more often than
chance allows: a one-sided binomial test (scipy.stats.binomtest) of k last
arrivals in n steps against 1/W, Bonferroni-adjusted over the point's
workers x barriers, flagged at p < 0.01. When every worker of every rep was
bound to the same CPU (--pin), the same test per group of workers, against
the group's share of the workers, is added for the NUMA nodes (when the
machine has several: meta.json's host.topology.numa) and for the core kinds
(when it has several: host.topology.cpukinds, hwloc's, e.g. IntelCore and
IntelAtom), each group a test of its own in the Bonferroni count. Unbound
workers move between CPUs, so neither is grouped then.
"""
import numpy as np
from scipy import stats as sps

ALPHA = 0.01


def cpu_list(text):
    """"0-3,8" -> {0, 1, 2, 3, 8}"""
    out = set()
    for part in str(text or "").split(","):
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        elif part.strip():
            out.add(int(part))
    return out


def bound_cpus(reports, W):
    """Each worker's CPU when every rep bound every worker to the same CPU
    (the reports' pin.workers[].bound); else None."""
    bound = None
    for r in reports:
        ws = ((r.get("pin") or {}).get("workers")) or []
        b = [w.get("bound") for w in ws]
        if len(b) != W or any(x is None for x in b) or (bound is not None and b != bound):
            return None
        bound = b
    return bound


def group_of_workers(reports, groups, key, W):
    """Each worker's group (the value of `key` of the group whose "pus" list
    holds its CPU) when every worker is bound and there are several groups;
    else None."""
    if not groups or len(groups) < 2:
        return None
    bound = bound_cpus(reports, W)
    of = {c: g[key] for g in groups for c in cpu_list(g.get("pus"))}
    out = [of.get(c) for c in bound or []]
    return out if out and None not in out else None


def numa_of_workers(reports, numa, W):
    """Each worker's NUMA node (os_index), see group_of_workers."""
    return group_of_workers(reports, numa, "os_index", W)


def kind_of_workers(reports, cpukinds, W):
    """Each worker's core kind (hwloc's cpukind index, higher = faster), see
    group_of_workers."""
    return group_of_workers(reports, cpukinds, "index", W)


def kind_name(cpukinds, k):
    """hwloc's CoreType of kind k (e.g. IntelAtom) or its FrequencyMaxMHz, "" when neither."""
    for c in cpukinds or []:
        if c.get("index") == k:
            info = c.get("info") or {}
            if info.get("CoreType"):
                return info["CoreType"]
            if info.get("FrequencyMaxMHz"):
                return f"{info['FrequencyMaxMHz']} MHz"
    return ""


def analyse(reports, skip_warmup=1, numa=None, cpukinds=None):
    """One point: reports = the train_model reports of its repetitions (dicts
    with "stragglers", and "pin" for the grouping by NUMA node and core
    kind). None when none carries the statistics (1 worker, or no phase
    clocks). The first skip_warmup steps of each are left out. numa,
    cpukinds: meta.json's host.topology.numa and .cpukinds lists."""
    st = [r.get("stragglers") for r in reports if isinstance(r, dict) and r.get("stragglers")]
    if not st:
        return None
    W = int(st[0]["workers"])
    names = [b["name"] for b in st[0]["barriers"]]
    out = {"workers": W, "reps": len(st), "barriers": [], "flags": []}
    tests = []
    with_st = [r for r in reports if isinstance(r, dict) and r.get("stragglers")]
    nodes = numa_of_workers(with_st, numa, W)
    kinds = kind_of_workers(with_st, cpukinds, W)
    if kinds:
        out["core_kinds"] = kinds
    for i, name in enumerate(names):
        spread, last = [], []
        for s in st:
            if i >= len(s["barriers"]) or s["barriers"][i]["name"] != name:
                continue
            b = s["barriers"][i]
            spread += [x for x in b["spread_ms"][skip_warmup:] if x is not None]
            last += [x for x in b["last"][skip_warmup:] if x is not None and x >= 0]
        if not last:
            continue
        n = len(last)
        counts = np.bincount(np.asarray(last, dtype=int), minlength=W)[:W]
        sp = np.asarray(spread, dtype=float)
        out["barriers"].append({"name": name, "steps": n, "spread_median_ms": float(np.median(sp)),
                                "spread_p90_ms": float(np.percentile(sp, 90)), "spread_mean_ms": float(np.mean(sp)),
                                "last_share": [float(c) / n for c in counts]})
        for w in range(W):
            tests.append((name, "worker", w, int(counts[w]), n, 1.0 / W))
        for key, of in (("numa_node", nodes), ("core_kind", kinds)):
            for g in sorted(set(of or [])):
                members = [w for w in range(W) if of[w] == g]
                tests.append((name, key, g, int(sum(counts[w] for w in members)), n, len(members) / W))
    m = max(1, len(tests))
    for name, kind, who, k, n, p0 in tests:
        if p0 >= 1.0:
            continue
        p = sps.binomtest(k, n, p0, alternative="greater").pvalue
        p_adj = min(1.0, p * m)
        if p_adj < ALPHA:
            f = {"barrier": name, kind: who, "last": k, "steps": n, "share": k / n, "p": p_adj}
            if kind == "core_kind":
                f["core_kind_name"] = kind_name(cpukinds, who)
            out["flags"].append(f)
    # the time the median worker waits for the last one, per step: the
    # mean spreads added over the barriers
    out["wait_ms_per_step"] = float(sum(b["spread_mean_ms"] for b in out["barriers"]))
    return out


def of_run(run):
    """Per variant, the points with stragglers statistics (thread count order)."""
    res = {}
    topo = ((run.get("meta") or {}).get("host") or {}).get("topology") or {}
    for (v, n), p in sorted(run["points"].items(), key=lambda kv: (kv[0][0], kv[0][1])):
        a = analyse([q.get("report_raw") or {} for q in p["reps"]], numa=topo.get("numa"),
                    cpukinds=topo.get("cpukinds"))
        if a:
            a.update({"threads": n, "oversubscribed": bool(p.get("over"))})
            res.setdefault(v, []).append(a)
    return res


def who_of(f):
    if "worker" in f:
        return f"worker {f['worker']}"
    if "core_kind" in f:
        name = f.get("core_kind_name")
        return f"core kind {f['core_kind']}" + (f" ({name})" if name else "")
    return f"NUMA node {f['numa_node']}"


def verdict_sentence(res, v="lockfree", min_share=0.10, min_ms=0.05):
    """One sentence when stragglers explain a measurable part of what the step
    lost at the largest non-oversubscribed point against 1 thread: their
    wait is at least min_share of the loss and min_ms a step; else None."""
    pts = [a for a in (res.get("stragglers") or {}).get(v, []) if not a["oversubscribed"]]
    rows = {r["threads"]: r for r in res["variants"].get(v, {}).get("rows", [])}
    if not pts or 1 not in rows or not rows[1].get("step_ms"):
        return None
    a = pts[-1]
    rn = rows.get(a["threads"]) or {}
    if not rn.get("step_ms"):
        return None
    lost = rn["step_ms"]["step"] - rows[1]["step_ms"]["step"]
    wait = a["wait_ms_per_step"]
    if lost <= 0 or wait < min_ms or wait < min_share * lost:
        return None
    s = (f"Stragglers: at {a['threads']} threads ({v}) the last worker reached the step's barriers {wait:.2f} ms "
         f"after the median one per step (mean over steps and reps, added over the barriers), "
         f"{100 * wait / lost:.0f}% of the {lost:.2f} ms a step lost against 1 thread")
    if a["flags"]:
        spread = {b["name"]: b["spread_mean_ms"] for b in a["barriers"]}
        f = max(a["flags"], key=lambda x: spread.get(x["barrier"], 0.0))
        s += (f"; {who_of(f)} was last at the barrier {f['barrier']} in {100 * f['share']:.0f}% of "
              f"{f['steps']} steps, more than chance allows (binomial p = {f['p']:.2g}, adjusted)")
    return s + "."


def section(res):
    """REPORT.md's "Stragglers" section."""
    S = res.get("stragglers") or {}
    L = ["## Stragglers", "",
         "Per barrier of a step (phase clocks, every step but the first of each rep, reps pooled): the arrival "
         "spread, latest minus median arrival (ms: median and 90th percentile over steps), and the share of steps "
         "each worker arrived last. A flag: one worker last more often than chance (1/W) allows, one-sided "
         "binomial test, Bonferroni over the tests (workers and groups x barriers), p < 0.01; with every worker "
         "bound (--pin) on a machine of several NUMA nodes or of several core kinds (hwloc cpukinds), also per "
         "node and per kind against its share of the workers. Under MPI: rank 0's workers.", ""]
    if not S:
        return L + ["No point with more than one worker carries the statistics (train_model before the report's "
                    "`stragglers` field, or --no-timing).", ""]
    L += ["| variant | threads | barrier | steps | spread median ms | p90 ms | last share per worker | flag |",
          "|---|---:|---|---:|---:|---:|---|---|"]
    for v, pts in S.items():
        for a in pts:
            for b in a["barriers"]:
                fl = [f for f in a["flags"] if f["barrier"] == b["name"]]
                share = " ".join(f"{100 * x:.0f}%" for x in b["last_share"][:16]) + (" ..." if a["workers"] > 16 else "")
                L.append(f"| {v} | {a['threads']}{' (over)' if a['oversubscribed'] else ''} | {b['name']} | "
                         f"{b['steps']} | {b['spread_median_ms']:.3f} | {b['spread_p90_ms']:.3f} | {share} | " +
                         ("; ".join(f"{who_of(f)} p = {f['p']:.2g}" for f in fl) or "-") + " |")
    return L + [""]
