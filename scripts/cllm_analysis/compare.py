"""compare.py - two scaling runs, or two variants of one run, point by point,
and the verdict of each point, for a report or a gate.

Per point: ratio = candidate over baseline as a speed (> 1 = candidate
faster; for wall_s the inverse), the Hodges-Lehmann ratio (the median of the
pairwise ratios) with the interval that inverts the Mann-Whitney test
(stats.hl_ratio_ci: it always contains the ratio), and the Mann-Whitney U
test itself (scipy, exact where it can be): figure, interval, p values and
verdict are all of one quantity. The ratio of medians is kept in the row
("ratio_medians") for reference, not printed as the figure. Verdicts:

  faster / slower   p (one-sided, in that direction) < alpha, the interval
                    excludes 1, and the ratio is beyond 1 +- threshold
  equivalent        the interval lies inside [1 - threshold, 1 + threshold]
  no significant difference   none of the above
  undecidable (3 reps; at least 4 needed)   the rep counts cannot reach
                    alpha at all (the smallest p of an exact test of these
                    sizes is >= alpha): never "same"
  no data           a side has no successful run

Runs that differ in config, scaling, steps or machine are refused
(compatibility) unless allowed, and the table then says how they differ.
"""
import numpy as np

from . import stats
from .runs import PHASES
from .util import fnum

PHASE_NAMES = PHASES + ["other"]


def samples(run, variant, threads, metric):
    p = run["points"].get((variant, threads))
    if not p:
        return []
    key = "tps" if metric == "tokens_per_s" else "proc_wall_s"
    return [q[key] for q in p["reps"] if q.get(key) is not None and q[key] > 0]


def compare_point(base, cand, higher_better=True, threshold=0.05, alpha=0.05, level=0.95):
    """The verdict of one point from the per-rep values of each side."""
    base, cand = np.asarray(base, float), np.asarray(cand, float)
    out = {"n_base": len(base), "n_cand": len(cand),
           "base_median": float(np.median(base)) if len(base) else None,
           "cand_median": float(np.median(cand)) if len(cand) else None,
           "ratio": None, "ratio_medians": None, "ci": None, "p_two": None, "p_faster": None, "p_slower": None}
    if not len(base) or not len(cand):
        return dict(out, verdict="no data")
    b, c = (base, cand) if higher_better else (1 / base, 1 / cand)     # as speeds
    r, ci, cover = stats.hl_ratio_ci(b, c, level)
    mw = stats.mann_whitney(c, b)
    mp = stats.min_one_sided_p(len(b), len(c))
    out.update({"ratio": r, "ratio_medians": float(np.median(c) / np.median(b)), "ci": ci, "ci_coverage": cover,
                "U": mw["U"], "p_two": mw["p_two"], "p_faster": mw["p_greater"], "p_slower": mw["p_less"],
                "exact": mw["exact"], "min_p": mp, "alpha": alpha, "threshold": threshold})
    if mp >= alpha:
        need = stats.reps_needed(alpha)
        have = f"{len(b)} reps" if len(b) == len(c) else f"{len(b)} and {len(c)} reps"
        out["verdict"] = f"undecidable ({have}; at least {need} needed)"
        out["reps_needed"] = need
    elif ci and mw["p_greater"] < alpha and ci[0] > 1 and r > 1 + threshold:
        out["verdict"] = "faster"
    elif ci and mw["p_less"] < alpha and ci[1] < 1 and r < 1 - threshold:
        out["verdict"] = "slower"
    elif ci and ci[0] >= 1 - threshold and ci[1] <= 1 + threshold:
        out["verdict"] = f"equivalent (within +-{threshold:.0%})"
    else:
        out["verdict"] = "no significant difference"
    return out


def phase_shares(run, variant, threads):
    p = run["points"].get((variant, threads))
    rows = [q["phase_tok"] for q in (p or {}).get("reps", []) if q.get("phase_tok")]
    if not rows:
        return None
    t = np.median(np.array(rows), axis=0)
    return dict(zip(PHASE_NAMES, (t / t.sum()).tolist())) if t.sum() > 0 else None


def differences(base, cand):
    """How two runs differ in what makes their figures comparable."""
    out = []
    for what, get in (("config", lambda r: r.get("config")), ("scaling", lambda r: r.get("scaling")),
                      ("steps", lambda r: r.get("steps")),
                      ("machine (CPU model)", lambda r: r["host"].get("cpu_model")),
                      ("machine (CPUs in the affinity mask)", lambda r: r.get("cpus"))):
        a, b = get(base), get(cand)
        if a != b:
            out.append(f"{what}: {a} against {b}")
    return out


def compare_runs(base_run, cand_run, pairs, metric="tokens_per_s", threshold=0.05, alpha=0.05,
                 include_over=False, level=0.95):
    """pairs: [(base_variant, cand_variant, threads)]. Returns the rows."""
    rows = []
    for bv, cv, n in pairs:
        row = compare_point(samples(base_run, bv, n, metric), samples(cand_run, cv, n, metric),
                            metric != "wall_s", threshold, alpha, level)
        pb, pc = base_run["points"].get((bv, n)), cand_run["points"].get((cv, n))
        over = bool((pb and pb["over"]) or (pc and pc["over"]))
        row.update({"base_variant": bv, "cand_variant": cv, "threads": n, "oversubscribed": over,
                    "gated": include_over or not over,
                    "base_phases": phase_shares(base_run, bv, n), "cand_phases": phase_shares(cand_run, cv, n)})
        rows.append(row)
    return rows


def table(rows, header, show_phases=False, notes=()):
    by_variant = any(r["base_variant"] != r["cand_variant"] for r in rows)
    L = [header] + [f"WARNING: {n}" for n in notes]
    L.append(f"{'point':<16} {'n_b':>3} {'base median':>12} {'n_c':>3} {'cand median':>12} {'ratio':>7} "
             f"{'95% CI':>17} {'p 2-sided':>9} {'p 1-sided':>9}  verdict")
    for r in rows:
        star = "*" if r["oversubscribed"] else ""
        pt = f"{r['threads']}{star}" if by_variant else f"{r['cand_variant']} {r['threads']}{star}"
        ci = f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]" if r.get("ci") else "NA"
        p1 = r.get("p_faster") if (r.get("ratio") or 0) >= 1 else r.get("p_slower")
        note = "" if r["gated"] else " (oversubscribed, not gated)" if r["oversubscribed"] else " (not gated)"
        L.append(f"{pt:<16} {r['n_base']:>3} {fnum(r['base_median'], '{:.6g}'):>12} {r['n_cand']:>3} "
                 f"{fnum(r['cand_median'], '{:.6g}'):>12} {fnum(r.get('ratio'), '{:.3f}'):>7} {ci:>17} "
                 f"{fnum(r.get('p_two'), '{:.3g}'):>9} {fnum(p1, '{:.3g}'):>9}  {r['verdict']}{note}")
        if show_phases:
            for side in ("base", "cand"):
                ph = r[side + "_phases"]
                if ph:
                    L.append(f"{'':<16} {r[side + '_variant']} phase shares: " +
                             ", ".join(f"{k.replace('_', ' ')} {v:.1%}" for k, v in ph.items() if v >= 0.0005))
    L.append("* = oversubscribed (threads > CPUs); ratio = candidate / baseline as a speed (> 1 = candidate "
             "faster), Hodges-Lehmann (median of the pairwise ratios); 95% CI: its Mann-Whitney (Moses) interval; "
             "p: Mann-Whitney U (exact without ties), "
             "1-sided in the ratio's direction")
    return "\n".join(L)


def variants_rows(run, alpha=0.05, threshold=0.05):
    """locked -> lock-free at every thread count of one run (the report's table)."""
    if not {"locked", "lockfree"} <= set(run["variants"]):
        return None
    ns = sorted({n for (v, n) in run["points"] if v in ("locked", "lockfree")})
    return compare_runs(run, run, [("locked", "lockfree", n) for n in ns], threshold=threshold, alpha=alpha)


def gate(rows, expect_faster=False, threshold=0.05, alpha=0.05):
    """(exit code, message) of a gate over the gated rows: 0 ok; 1 a gated
    point slower (or, expecting faster, not faster) or no gated point with
    data; 3 undecidable (the rep counts cannot reach alpha) and nothing failed."""
    gated = [r for r in rows if r["gated"]]
    with_data = [r for r in gated if r["verdict"] != "no data"]
    names = lambda rs: ", ".join(f"{r['cand_variant']} {r['threads']}" for r in rs)
    if not with_data:
        return 1, (f"compare: NO DATA: none of the {len(gated)} gated point{'s' if len(gated) != 1 else ''} "
                   f"has successful runs on both sides")
    nodata = [r for r in gated if r["verdict"] == "no data"]
    undec = [r for r in gated if r["verdict"].startswith("undecidable")]
    if expect_faster:
        bad = [r for r in gated if r["verdict"] != "faster" and not r["verdict"].startswith("undecidable")]
        if bad:
            return 1, f"compare: FAIL: not faster with significance (p < {alpha}, interval above 1): {names(bad)}"
    else:
        bad = [r for r in gated if r["verdict"] == "slower"]
        if bad:
            return 1, f"compare: FAIL: slower by more than {threshold:.0%} with p < {alpha}: {names(bad)}"
    if undec:
        return 3, (f"compare: UNDECIDABLE: {names(undec)}: {undec[0]['verdict']} (no failure, no pass: "
                   f"rerun with more reps)")
    extra = f"; no data at {names(nodata)}" if nodata else ""
    return 0, f"compare: ok ({len(with_data)} gated point{'s' if len(with_data) != 1 else ''} decided{extra})"
