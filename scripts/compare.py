#!/usr/bin/python3
"""compare.py - compare two scaling runs, or the two variants of one run, point
by point, and exit non-zero on a significant regression: usable as a gate.

    scripts/compare.py BASE_DIR CAND_DIR [options]   same (variant, threads) in two results folders
    scripts/compare.py RUN_DIR [options]             --variants BASE,CAND of one folder (default locked,lockfree)

  --variants LIST      two folders: the variants compared (default all in both);
                       one folder: BASE,CAND
  --threads LIST       only these thread counts
  --metric M           tokens_per_s (default; higher is better) or wall_s (lower is better)
  --threshold X        relative change that matters (default 0.05)
  --alpha A            significance level of the one-sided Mann-Whitney test (default 0.05)
  --expect-faster      exit 1 unless the candidate is faster at every gated point
  --include-oversubscribed   gate on oversubscribed points too (default: shown, not gated)
  --gate-threads LIST  gate only on these thread counts (the others are shown)
  --phases             also print each point's phase shares (lock wait, barrier wait, ...)
  --bootstrap B --seed S     resamples and seed of the ratio's interval (default 2000, 20240617)
  --json FILE          write the table as JSON

Per point: ratio = candidate median / baseline median as a speed (> 1 =
candidate faster; for wall_s the inverse), its 95% percentile bootstrap
interval (each side resampled on its own), and the exact Mann-Whitney U test
(normal approximation with ties). A point is "slower" when the ratio is below
1 - threshold and the one-sided p (candidate slower) is below alpha; "faster"
symmetrically; else "same". Exit: 0 no gated point slower (with
--expect-faster: every gated point faster), 1 otherwise, 2 usage error or an
unreadable folder. Unlike Google Benchmark's compare.py this is meant to gate.
Several points are tested without a multiple-comparison correction: the
threshold guards against small, significant-but-irrelevant changes.
"""
import argparse, json, math, os, sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze  # noqa: E402  (load_run, the shared statistics)

PHASE_NAMES = analyze.PHASES + ["other"]


def _u_counts(m, n):
    """Number of orderings of m + n values giving U = 0..m*n (no ties)."""
    f = [[None] * (n + 1) for _ in range(m + 1)]
    for i in range(m + 1):
        for j in range(n + 1):
            if i == 0 or j == 0:
                f[i][j] = np.ones(1)
                continue
            c = np.zeros(i * j + 1)
            a = f[i - 1][j]
            c[j:j + len(a)] += a               # the largest value is an x: beats all j y's
            b = f[i][j - 1]
            c[:len(b)] += b
            f[i][j] = c
    return f[m][n]


def mann_whitney(x, y):
    """U = #(x_i > y_j) + ties/2, and one-sided p-values for 'x larger' and
    'x smaller' plus the two-sided p. Exact without ties (n <= 40 each)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    m, n = len(x), len(y)
    if m == 0 or n == 0:
        return {"U": None, "p_greater": 1.0, "p_less": 1.0, "p_two": 1.0, "exact": False}
    diff = x[:, None] - y[None, :]
    U = float((diff > 0).sum() + 0.5 * (diff == 0).sum())
    allv = np.concatenate([x, y])
    ties = len(np.unique(allv)) < len(allv)
    if not ties and m <= 40 and n <= 40:
        c = _u_counts(m, n)
        tot = c.sum()
        u = int(round(U))
        pg, pl = c[u:].sum() / tot, c[:u + 1].sum() / tot
        exact = True
    else:
        _, cnt = np.unique(allv, return_counts=True)
        N = m + n
        var = m * n / 12.0 * ((N + 1) - (cnt**3 - cnt).sum() / (N * (N - 1)))
        sd = math.sqrt(var) if var > 0 else float("inf")
        phi = lambda z: 0.5 * math.erfc(-z / math.sqrt(2))
        pg = 1 - phi((U - 0.5 - m * n / 2) / sd)
        pl = phi((U + 0.5 - m * n / 2) / sd)
        exact = False
    return {"U": U, "p_greater": float(min(1, pg)), "p_less": float(min(1, pl)),
            "p_two": float(min(1, 2 * min(pg, pl))), "exact": exact}


def min_p(m, n):
    """The smallest one-sided p an exact test of sizes m, n can give."""
    return 1.0 / math.comb(m + n, m) if m and n else 1.0


def compare_point(base, cand, higher_better=True, threshold=0.05, alpha=0.05, rng=None, boot=2000):
    base, cand = np.asarray(base, float), np.asarray(cand, float)
    out = {"n_base": len(base), "n_cand": len(cand),
           "base_median": float(np.median(base)) if len(base) else None,
           "cand_median": float(np.median(cand)) if len(cand) else None}
    if not len(base) or not len(cand):
        return dict(out, ratio=None, ci=None, p_two=None, p_faster=None, verdict="no data")
    speed = (lambda b, c: c / b) if higher_better else (lambda b, c: b / c)
    out["ratio"] = float(speed(out["base_median"], out["cand_median"]))
    rng = rng or np.random.default_rng(analyze.DEFAULT_SEED)
    out["ci"] = analyze.percentile_ci(speed(analyze.boot_medians(base, rng, boot), analyze.boot_medians(cand, rng, boot)))
    mw = mann_whitney(cand, base)
    p_faster, p_slower = (mw["p_greater"], mw["p_less"]) if higher_better else (mw["p_less"], mw["p_greater"])
    out.update({"U": mw["U"], "p_two": mw["p_two"], "p_faster": p_faster, "p_slower": p_slower, "exact": mw["exact"],
                "min_p": min_p(len(base), len(cand))})
    if out["ratio"] < 1 - threshold and p_slower < alpha:
        out["verdict"] = "slower"
    elif out["ratio"] > 1 + threshold and p_faster < alpha:
        out["verdict"] = "faster"
    else:
        out["verdict"] = "same"
    return out


def samples(run, variant, threads, metric):
    vals = []
    for r in run["runs"]:
        if r["variant"] != variant or int(r["threads"]) != threads or r.get("status") != "ok":
            continue
        v = (r.get("report") or {}).get("tokens_per_s") if metric == "tokens_per_s" else r.get("wall_s")
        if analyze.num(v) is not None:
            vals.append(float(v))
    return vals


def phase_shares(run, variant, threads):
    p = run["points"].get((variant, threads))
    if not p or not p["phase_tok"]:
        return None
    t = np.median(np.array(p["phase_tok"]), axis=0)
    return dict(zip(PHASE_NAMES, (t / t.sum()).tolist())) if t.sum() > 0 else None


def compare(base_run, cand_run, pairs, metric="tokens_per_s", threshold=0.05, alpha=0.05,
            include_over=False, seed=analyze.DEFAULT_SEED, boot=2000):
    """pairs: [(base_variant, cand_variant, threads)]. Returns the rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for bv, cv, n in pairs:
        row = compare_point(samples(base_run, bv, n, metric), samples(cand_run, cv, n, metric),
                            metric != "wall_s", threshold, alpha, rng, boot)
        pb, pc = base_run["points"].get((bv, n)), cand_run["points"].get((cv, n))
        over = bool((pb and pb["over"]) or (pc and pc["over"]))
        row.update({"base_variant": bv, "cand_variant": cv, "threads": n, "oversubscribed": over,
                    "gated": include_over or not over,
                    "base_phases": phase_shares(base_run, bv, n), "cand_phases": phase_shares(cand_run, cv, n)})
        rows.append(row)
    return rows


def f3(x, f="{:.3g}"):
    return "NA" if x is None else f.format(x)


def table(rows, header, show_phases=False, alpha=0.05):
    by_variant = any(r["base_variant"] != r["cand_variant"] for r in rows)
    L = [header, f"{'point':<18} {'n_b':>3} {'base median':>13} {'n_c':>3} {'cand median':>13} {'ratio':>7} "
                 f"{'95% CI':>17} {'p 2-sided':>9} {'p 1-sided':>9}  verdict"]
    for r in rows:
        pt = f"{r['threads']}{'*' if r['oversubscribed'] else ''}" if by_variant else f"{r['cand_variant']} {r['threads']}{'*' if r['oversubscribed'] else ''}"
        ci = f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]" if r.get("ci") else "NA"
        p1 = r.get("p_faster") if r.get("ratio") and r["ratio"] >= 1 else r.get("p_slower")
        note = "" if r["gated"] else " (oversubscribed, not gated)" if r["oversubscribed"] else " (not gated)"
        L.append(f"{pt:<18} {r['n_base']:>3} {f3(r['base_median'], '{:.6g}'):>13} {r['n_cand']:>3} "
                 f"{f3(r['cand_median'], '{:.6g}'):>13} {f3(r.get('ratio'), '{:.3f}'):>7} {ci:>17} "
                 f"{f3(r.get('p_two'), '{:.3g}'):>9} {f3(p1, '{:.3g}'):>9}  {r['verdict']}{note}")
        if show_phases:
            for side in ("base", "cand"):
                ph = r[side + "_phases"]
                if ph:
                    L.append(f"{'':<18} {r[side + '_variant']} phase shares: " +
                             ", ".join(f"{k.replace('_', ' ')} {v:.1%}" for k, v in ph.items() if v >= 0.0005))
    if any(r.get("min_p", 0) >= alpha for r in rows if r.get("n_base")):
        L.append(f"note: with these rep counts the smallest possible one-sided p is "
                 f"{min(r['min_p'] for r in rows if r.get('min_p')):.3g} >= alpha {alpha}: no difference can be significant; use more reps")
    L.append("* = oversubscribed (threads > CPUs); ratio > 1 = candidate faster; p 1-sided in the ratio's direction "
             "(Mann-Whitney); 95% CI: bootstrap of the ratio of medians")
    return "\n".join(L)


def variants_table(run, seed=analyze.DEFAULT_SEED):
    """The locked -> lock-free comparison of one run, for REPORT.md."""
    if not {"locked", "lockfree"} <= set(run["variants"]):
        return "only one variant in this run: nothing to compare"
    ns = sorted({n for (v, n) in run["points"] if v in ("locked", "lockfree")})
    rows = compare(run, run, [("locked", "lockfree", n) for n in ns], seed=seed)
    return table(rows, "tokens/s: candidate lockfree against baseline locked, per thread count", show_phases=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", metavar="DIR")
    ap.add_argument("--variants")
    ap.add_argument("--threads")
    ap.add_argument("--metric", default="tokens_per_s", choices=["tokens_per_s", "wall_s"])
    ap.add_argument("--threshold", type=float, default=0.05)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--expect-faster", action="store_true")
    ap.add_argument("--include-oversubscribed", action="store_true")
    ap.add_argument("--gate-threads")
    ap.add_argument("--phases", action="store_true")
    ap.add_argument("--bootstrap", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=analyze.DEFAULT_SEED)
    ap.add_argument("--json")
    a = ap.parse_args()
    if len(a.dirs) > 2:
        ap.error("give one results folder (compare its variants) or two (baseline, candidate)")
    if not (0 <= a.threshold < 1) or not (0 < a.alpha < 1) or a.bootstrap < 1:
        ap.error("--threshold must be in [0, 1), --alpha in (0, 1), --bootstrap >= 1")
    def int_list(opt, v):
        try:
            return [int(t) for t in v.split(",")] if v else None
        except ValueError:
            ap.error(f"{opt} must be a comma-separated list of integers, not '{v}'")
    threads, gate_threads = int_list("--threads", a.threads), int_list("--gate-threads", a.gate_threads)
    try:
        runs = [analyze.load_run(d) for d in a.dirs]
    except (OSError, ValueError) as e:
        print(f"compare: cannot read results folder: {e}", file=sys.stderr)
        sys.exit(2)
    base, cand = runs[0], runs[-1]
    if len(runs) == 1:
        vs = (a.variants or "locked,lockfree").split(",")
        if len(vs) != 2 or any(v not in base["variants"] for v in vs):
            ap.error(f"--variants must be BASE,CAND, two of {','.join(base['variants'])} (got '{a.variants}')")
        ns = sorted({n for (v, n) in base["points"] if v in vs})
        pairs = [(vs[0], vs[1], n) for n in ns if threads is None or n in threads]
        header = f"{a.metric}: candidate {vs[1]} against baseline {vs[0]} in {base['name']}"
    else:
        vs = a.variants.split(",") if a.variants else [v for v in base["variants"] if v in cand["variants"]]
        common = sorted(set(base["points"]) & set(cand["points"]), key=lambda k: (vs.index(k[0]) if k[0] in vs else 99, k[1]))
        pairs = [(v, v, n) for (v, n) in common if v in vs and (threads is None or n in threads)]
        header = f"{a.metric}: candidate {cand['name']} against baseline {base['name']}"
    if not pairs:
        print("compare: no point in common to compare", file=sys.stderr)
        sys.exit(2)
    rows = compare(base, cand, pairs, a.metric, a.threshold, a.alpha, a.include_oversubscribed, a.seed, a.bootstrap)
    for r in rows:
        if gate_threads is not None and r["threads"] not in gate_threads:
            r["gated"] = False
    print(table(rows, header, a.phases, a.alpha))
    gated = [r for r in rows if r["gated"]]
    if a.expect_faster:
        bad = [r for r in gated if r["verdict"] != "faster"]
        why = "not faster with significance" if bad or gated else "no gated point"
        failed = bool(bad) or not gated
    else:
        bad = [r for r in gated if r["verdict"] == "slower"]
        why, failed = f"slower by more than {a.threshold:.0%} with p < {a.alpha}", bool(bad)
    if failed:
        print(f"compare: FAIL: {why}: " + ", ".join(f"{r['cand_variant']} {r['threads']}" for r in bad))
    else:
        weak = [r for r in gated if r.get("min_p", 0) >= a.alpha]
        print(f"compare: ok ({len(gated)} gated point{'s' if len(gated) != 1 else ''}" +
              (f"; {len(weak)} of them with too few reps to ever show a significant change)" if weak else ")"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "failed": failed}, f, indent=1)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
