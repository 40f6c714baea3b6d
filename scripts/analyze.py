#!/usr/bin/python3
"""analyze.py - the scaling analysis of one results folder of build/scale
(bench/RESULTS.md): Amdahl and USL fits with intervals, Karp-Flatt per thread
count, the 63-thread projection against the original note's 40-50x claim,
RESULTS_DIR/REPORT.md, RESULTS_DIR/fit.json and the gnuplot plots.

    scripts/analyze.py RESULTS_DIR [--plots-dir DIR] [--bootstrap B] [--seed S]
                                   [--no-plots] [--train-model PATH]

Default plots folder: plots/<name of RESULTS_DIR>/ at the top of the repository.
Prints the report's path on stdout. Exit: 0 ok, 1 unreadable results folder or
a failed plot, 2 usage error. This file is the one implementation of the fits:
scripts/compare.py and the tests import it.

Standard library + numpy only (no scipy): the least-squares fit is a projected
Levenberg-Marquardt written here; intervals are a seeded bootstrap over the
repetitions (resampling the runs of each thread count) and, beside it, the
Jacobian standard errors.
"""
import argparse, csv, json, math, os, re, shutil, subprocess, sys
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHASES = ["forward", "backward", "lock_wait", "barrier_wait", "reduce", "optimizer"]
CLAIM_THREADS, CLAIM_LO, CLAIM_HI = 63, 40.0, 50.0
NOTE_PER_THREAD_KIB = 6277           # the note's per-thread table (config seed): "6.1 MB"
NOTE_TOTAL_63_MB = 386               # its "63 threads: 386 MB"
LLC_NAMES = ("LLC-load-misses", "LLC-misses", "cache-misses")
DEFAULT_SEED, DEFAULT_BOOT = 20240617, 1000


def die(msg, code=1):
    print("analyze: " + msg, file=sys.stderr)
    sys.exit(code)

# ----------------------------------------------------------------------------
# loading a results folder


def load_run(d):
    """meta.json + runs.jsonl (+ memory.csv when present) of a results folder.
    Raises OSError/ValueError with the path at fault."""
    try:
        with open(os.path.join(d, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{os.path.join(d, 'meta.json')}: {e}")
    runs, path = [], os.path.join(d, "runs.jsonl")
    with open(path) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            runs.append(json.loads(line))
        except ValueError as e:
            if i >= len(lines) - 2:            # a cut-short last line: scale drops it too
                print(f"analyze: warning: {path}: ignoring a truncated last line {i + 1}", file=sys.stderr)
            else:
                raise ValueError(f"{path} line {i + 1} is not valid JSON: {e}")
    memory = {}
    mpath = os.path.join(d, "memory.csv")
    if os.path.exists(mpath):
        with open(mpath) as f:
            for row in csv.DictReader(f):
                memory[row["variant"]] = {k: num(v) for k, v in row.items() if k != "variant"}
    host = meta.get("host") or {}
    cpus = host.get("affinity_cpus") or next((r.get("affinity_cpus") for r in runs if r.get("affinity_cpus")), None)
    opts = meta.get("options") or {}
    variants = list(opts.get("variants") or dict.fromkeys(r["variant"] for r in runs))
    return {"dir": d, "name": os.path.basename(os.path.normpath(d)), "meta": meta, "runs": runs,
            "memory": memory, "cpus": cpus, "options": opts, "variants": variants,
            "points": points_of(runs, variants, cpus)}


def num(v):
    try:
        x = float(v)
        return x if math.isfinite(x) else None
    except (TypeError, ValueError):
        return None


def counter(cnt, names):
    """Scaled value of the first counter whose listed name ("a|b") contains one of names."""
    for nm in names:
        for key, c in (cnt or {}).items():
            if nm in key.split("|") and isinstance(c, dict) and num(c.get("value")) is not None:
                return float(c["value"])
    return None


def points_of(runs, variants, cpus):
    """{(variant, threads): point} with the per-rep values of the successful runs."""
    pts = {}
    for r in runs:
        key = (r["variant"], int(r["threads"]))
        p = pts.setdefault(key, {"variant": key[0], "threads": key[1], "failed": 0, "tps": [], "cpu_util": [],
                                 "rss_kib": [], "phase_tok": [], "ipc": [], "llc_tok": [], "report": None,
                                 "over": (key[1] > cpus) if cpus else bool(r.get("oversubscribed"))})
        rep = r.get("report") or {}
        if r.get("status") != "ok" or num(rep.get("tokens_per_s")) is None:
            p["failed"] += 1
            continue
        p["report"] = p["report"] or rep
        p["tps"].append(float(rep["tokens_per_s"]))
        if r.get("wall_s"):
            p["cpu_util"].append((r.get("user_s", 0) + r.get("sys_s", 0)) / r["wall_s"])
        if r.get("peak_rss_kib") is not None:
            p["rss_kib"].append(float(r["peak_rss_kib"]))
        tokens = num(rep.get("tokens"))
        ph = rep.get("phases") or {}
        if tokens and ph.get("wall_s"):
            names = ph.get("names") or PHASES
            sums = {n: float(sum(ph["wall_s"][i])) for i, n in enumerate(names) if i < len(ph["wall_s"])}
            row = [sums.get(n, 0.0) / tokens for n in PHASES]
            total = key[1] * (num(rep.get("wall_s")) or 0.0) / tokens
            row.append(max(0.0, total - sum(row)))          # "other": outside every phase clock
            p["phase_tok"].append(row)
        cyc, ins = counter(r.get("counters"), ("cycles",)), counter(r.get("counters"), ("instructions",))
        if cyc and ins is not None:
            p["ipc"].append(ins / cyc)
        llc = counter(r.get("counters"), LLC_NAMES)
        if llc is not None and tokens:
            p["llc_tok"].append(llc / tokens)
    for p in pts.values():
        p["tps"] = np.array(p["tps"])
    return pts


def variant_points(run, v):
    return sorted((p for (vv, _), p in run["points"].items() if vv == v), key=lambda p: p["threads"])


def med(xs):
    return float(np.median(xs)) if len(xs) else None

# ----------------------------------------------------------------------------
# statistics: bootstrap, Karp-Flatt


def percentile_ci(samples, level=0.95):
    s = np.asarray([x for x in samples if x is not None and np.isfinite(x)])
    if len(s) == 0:
        return None
    a = (1 - level) / 2
    return [float(np.quantile(s, a)), float(np.quantile(s, 1 - a))]


def boot_medians(x, rng, B):
    """B bootstrap medians of x (resampling with replacement)."""
    x = np.asarray(x, float)
    return np.median(x[rng.integers(0, len(x), size=(B, len(x)))], axis=1)


def karp_flatt(s, n):
    """Serial fraction e = (1/s - 1/n) / (1 - 1/n) from speedup s at n threads."""
    return (1.0 / s - 1.0 / n) / (1.0 - 1.0 / n) if n > 1 and s and s > 0 else None


def t975(dof):
    """0.975 quantile of Student's t (Cornish-Fisher; within 1e-3 for dof >= 3)."""
    if dof <= 0:
        return float("nan")
    if dof <= 2:
        return {1: 12.706, 2: 4.303}[dof]
    z = 1.959964
    return z + (z**3 + z) / (4 * dof) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * dof**2)

# ----------------------------------------------------------------------------
# the fit: USL X(N) = lambda N / (1 + sigma (N-1) + kappa N (N-1)); Amdahl = USL with kappa = 0


def usl_speedup(n, sigma, kappa):
    n = np.asarray(n, float)
    return n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def _resid_jac(p, n, logx, kappa_free):
    sigma, kappa = p[1], (p[2] if kappa_free else 0.0)
    d = 1 + sigma * (n - 1) + kappa * n * (n - 1)
    r = logx - (p[0] + np.log(n) - np.log(d))          # multiplicative noise: residuals in log
    cols = [-np.ones_like(n), (n - 1) / d] + ([n * (n - 1) / d] if kappa_free else [])
    return r, np.stack(cols, axis=1)


def lm_fit(n, logx, p0, kappa_free, iters=200):
    """Projected Levenberg-Marquardt: min sum r^2 with sigma, kappa >= 0.
    Returns (p, r, J, active) where active marks parameters held at their bound."""
    lower = np.array([-np.inf, 0.0, 0.0][: len(p0)])
    p = np.maximum(np.array(p0, float), lower)
    r, J = _resid_jac(p, n, logx, kappa_free)
    cost, mu = r @ r, 1e-3
    for _ in range(iters):
        g = J.T @ r
        active = (p <= lower) & (g > 0)
        free = ~active
        A = (J.T @ J)[np.ix_(free, free)]
        dp = np.zeros_like(p)
        try:
            dp[free] = np.linalg.solve(A + mu * np.diag(np.diag(A) + 1e-12), -g[free])
        except np.linalg.LinAlgError:
            mu *= 10
            continue
        pn = np.maximum(p + dp, lower)
        rn, Jn = _resid_jac(pn, n, logx, kappa_free)
        cn = rn @ rn
        if cn <= cost:
            done = cost - cn <= 1e-12 * cost or np.max(np.abs(pn - p) / (np.abs(p) + 1e-9)) < 1e-8
            p, r, J, cost, mu = pn, rn, Jn, cn, max(mu / 10, 1e-12)
            if done:
                break
        else:
            mu *= 10
            if mu > 1e12:
                break
    return p, r, J, (p <= lower) & ((J.T @ r) >= 0)


def fit_start(n, logx, kappa_free):
    """A start from a coarse grid, lambda solved exactly for each (sigma, kappa)."""
    best = None
    for s in (0.0, 0.01, 0.1, 0.5, 1.0, 2.0):
        for k in ((0.0, 1e-4, 1e-3, 1e-2) if kappa_free else (0.0,)):
            ll = np.mean(logx - np.log(n) + np.log(1 + s * (n - 1) + k * n * (n - 1)))
            p = [ll, s, k][: 3 if kappa_free else 2]
            r, _ = _resid_jac(np.array(p), n, logx, kappa_free)
            if best is None or r @ r < best[0]:
                best = (r @ r, p)
    return best[1]


def fit_model(samples, model, rng=None, boot=DEFAULT_BOOT):
    """Fits 'usl' or 'amdahl' to {threads: [tokens/s per rep]} (non-oversubscribed
    thread counts only). Returns a dict (fit.json's fits.<variant>.<model>)."""
    kf = model == "usl"
    ns = sorted(samples)
    out = {"model": model, "threads_used": ns, "determined": len(ns) >= 3}
    if not out["determined"]:
        out["reason"] = (f"{len(ns)} non-oversubscribed thread count{'s' if len(ns) != 1 else ''} "
                         f"({', '.join(map(str, ns)) or 'none'}); the fit needs at least 3")
        return out
    n = np.concatenate([np.full(len(samples[k]), float(k)) for k in ns])
    logx = np.log(np.concatenate([samples[k] for k in ns]))
    p, r, J, active = lm_fit(n, logx, fit_start(n, logx, kf), kf)
    free = ~active
    dof = len(n) - int(free.sum())
    se = np.full(len(p), np.nan)
    cov = np.zeros((len(p), len(p)))
    if dof > 0:
        s2 = (r @ r) / dof
        Jf = J[:, free]
        try:
            cov[np.ix_(free, free)] = s2 * np.linalg.inv(Jf.T @ Jf)
            se[free] = np.sqrt(np.maximum(np.diag(cov)[free], 0))
        except np.linalg.LinAlgError:
            pass
    se[active] = 0.0
    sigma, kappa = float(p[1]), float(p[2]) if kf else 0.0
    d63 = 1 + sigma * 62 + kappa * 63 * 62
    grad = np.array([0.0, -63 * 62 / d63**2] + ([-63 * 3906 / d63**2] if kf else []))
    s63_se = float(math.sqrt(max(grad @ cov @ grad, 0))) if dof > 0 else None
    tq = t975(dof)
    names = ["sigma", "kappa"][: 2 if kf else 1]
    out.update({
        "n_obs": int(len(n)), "dof": dof, "lambda_tokens_per_s": float(math.exp(p[0])), "t975": tq,
        "resid_sd_log": float(math.sqrt(r @ r / dof)) if dof > 0 else None,
        "at_bound": [nm for i, nm in enumerate(names) if active[i + 1]],
        "speedup_63": float(63 / d63), "speedup_63_se": s63_se,
        "need_40x": float(62 * sigma + 3906 * kappa),   # 40x needs <= 0.575, 50x <= 0.26
    })
    for i, nm in enumerate(names):
        v = float(p[i + 1])
        out[nm] = v
        out[nm + "_se"] = float(se[i + 1]) if np.isfinite(se[i + 1]) else None
        # none for a parameter held at its bound: its standard error says nothing about how far above it may lie
        out[nm + "_ci_se"] = [v - tq * se[i + 1], v + tq * se[i + 1]] if np.isfinite(se[i + 1]) and not active[i + 1] else None
    gn = np.array([0.0, 62.0] + ([3906.0] if kf else []))
    for nm, v, sd, lo, hi in (("speedup_63", out["speedup_63"], s63_se, 0.0, 63.0),
                              ("need_40x", out["need_40x"], math.sqrt(max(gn @ cov @ gn, 0)) if dof > 0 else None, 0.0, math.inf)):
        out[nm + "_ci_se"] = [max(lo, v - tq * sd), min(hi, v + tq * sd)] if sd is not None else None
    for nm in names:
        if out[nm + "_ci_se"]:
            out[nm + "_ci_se"][0] = max(0.0, out[nm + "_ci_se"][0])
    # bootstrap over the repetitions: resample the runs of every thread count, refit
    reps = [len(samples[k]) for k in ns]
    if rng is not None and boot > 0 and max(reps) >= 2:
        bs = {nm: [] for nm in names + ["speedup_63", "need_40x"]}
        for _ in range(boot):
            lb = np.concatenate([resample_log(np.log(samples[k]), rng) for k in ns])
            pb, *_ = lm_fit(n, lb, p, kf, iters=100)
            sb, kb = pb[1], (pb[2] if kf else 0.0)
            bs["sigma"].append(sb)
            if kf:
                bs["kappa"].append(kb)
            bs["speedup_63"].append(float(usl_speedup(63, sb, kb)))
            bs["need_40x"].append(62 * sb + 3906 * kb)
        out["bootstrap"] = {"resamples": boot, "reps_per_thread_count": dict(zip(map(str, ns), reps))}
        for nm, vals in bs.items():
            out[nm + "_ci_boot"] = percentile_ci(vals)
        grid = curve_grid()
        curves = np.array([usl_speedup(grid, s, k) for s, k in zip(bs["sigma"], bs.get("kappa") or [0.0] * boot)])
        out["curve_band"] = [np.quantile(curves, 0.025, axis=0).tolist(), np.quantile(curves, 0.975, axis=0).tolist()]
    # the interval reported: the envelope of the bootstrap and the Jacobian (t) intervals.
    # Each alone covers the truth ~90% of the time with 3-5 reps (tests/test_analysis.sh).
    for nm in names + ["speedup_63", "need_40x"]:
        parts = [c for c in (out.get(nm + "_ci_boot"), out.get(nm + "_ci_se")) if c]
        out[nm + "_ci"] = [min(c[0] for c in parts), max(c[1] for c in parts)] if parts else None
    return out


def resample_log(lx, rng):
    """One bootstrap resample of a thread count's log tokens/s: the runs drawn with
    replacement, their spread about the group mean widened by sqrt(n/(n-1)) so the
    resampled mean has the unbiased variance (a plain bootstrap of 3-5 reps is too narrow)."""
    n = len(lx)
    if n < 2:
        return lx
    m = lx.mean()
    return m + math.sqrt(n / (n - 1)) * (lx[rng.integers(0, n, n)] - m)


def curve_grid():
    return np.unique(np.round(np.geomspace(1, 64, 120), 4))

# ----------------------------------------------------------------------------
# the analysis of a run: table rows, fits, phases, memory, counters, verdict


def analyze(run, boot=DEFAULT_BOOT, seed=DEFAULT_SEED, train_model=None):
    rng = np.random.default_rng(seed)
    res = {"run": run["name"], "cpus": run["cpus"], "seed": seed, "bootstrap": boot, "variants": {}}
    for v in run["variants"]:
        pts = [p for p in variant_points(run, v) if len(p["tps"])]
        base = next((p for p in pts if p["threads"] == 1), None)
        x1 = med(base["tps"]) if base else None
        b1 = boot_medians(base["tps"], rng, 2000) if base else None
        rows = []
        for p in variant_points(run, v):
            n, ok = p["threads"], len(p["tps"])
            row = {"threads": n, "oversubscribed": p["over"], "reps_ok": ok, "reps_failed": p["failed"]}
            if ok:
                row.update({"tps_median": med(p["tps"]), "tps_min": float(p["tps"].min()), "tps_max": float(p["tps"].max()),
                            "cpu_util": med(p["cpu_util"]), "rss_mib": med(p["rss_kib"]) / 1024 if p["rss_kib"] else None,
                            "ipc": med(p["ipc"]), "llc_per_token": med(p["llc_tok"]),
                            "phase_us_per_token": (np.median(np.array(p["phase_tok"]), axis=0) * 1e6).tolist()
                            if p["phase_tok"] else None})
            if ok and x1:
                s = row["tps_median"] / x1
                row.update({"speedup": s, "speedup_min": row["tps_min"] / x1, "speedup_max": row["tps_max"] / x1,
                            "efficiency": s / n, "karp_flatt": karp_flatt(s, n)})
                if n > 1:
                    sb = boot_medians(p["tps"], rng, 2000) / b1
                    row["karp_flatt_ci"] = percentile_ci((1 / sb - 1 / n) / (1 - 1 / n))
                    row["speedup_ci"] = percentile_ci(sb)
            rows.append(row)
        samples = {p["threads"]: p["tps"] for p in pts if not p["over"]}
        fits = {m: fit_model(samples, m, rng, boot) for m in ("usl", "amdahl")}
        res["variants"][v] = {"x1_median": x1, "rows": rows, "fits": fits,
                              "excluded_oversubscribed": [p["threads"] for p in pts if p["over"]]}
    res["memory"] = memory_of(run, train_model)
    res["counters"] = counters_of(run)
    res["verdict"] = verdict_of(run, res)
    return res


def memory_of(run, train_model):
    out = {"variants": {}, "note_per_thread_bytes": NOTE_PER_THREAD_KIB * 1024,
           "note_total_63_bytes": NOTE_TOTAL_63_MB * 1024 * 1024}
    for v in run["variants"]:
        pts = [p for p in variant_points(run, v) if p["report"]]
        if not pts:
            continue
        mem = pts[0]["report"].get("memory") or {}
        m = {"analytic_per_thread": num(mem.get("per_thread_total")), "shared": num(mem.get("shared_total")),
             "rss_points": [[p["threads"], med(p["rss_kib"]) * 1024, p["over"]] for p in pts if p["rss_kib"]]}
        csvm = run["memory"].get(v)
        if csvm and csvm.get("measured_bytes_per_thread") is not None:
            m["measured_per_thread"], m["measured_intercept"] = csvm["measured_bytes_per_thread"], csvm.get("measured_intercept_bytes")
        elif len(m["rss_points"]) >= 2:                      # scale's fit: RSS medians over threads
            x, y = np.array([q[0] for q in m["rss_points"]], float), np.array([q[1] for q in m["rss_points"]])
            slope, icpt = np.polyfit(x, y, 1)
            m["measured_per_thread"], m["measured_intercept"] = float(slope), float(icpt)
        out["variants"][v] = m
    cfg = next((p["report"].get("config") for p in run["points"].values() if p["report"]), {}) or {}
    out["config"] = cfg.get("name")
    seed = None
    if cfg.get("name") == "seed" and out["variants"]:
        m0 = next(iter(out["variants"].values()))
        seed = {"per_thread": m0["analytic_per_thread"], "shared": m0["shared"], "source": "this run's reports",
                "total_63": m0["shared"] + 63 * m0["analytic_per_thread"]}
    elif train_model and os.access(train_model, os.X_OK):
        try:
            txt = subprocess.run([train_model, "--config", "seed", "--memory-table", "--threads", "63"],
                                 capture_output=True, text=True, timeout=30).stdout
            got = [re.search(rx, txt, re.M) for rx in (r"^\s*per-thread\s+(\d+) bytes", r"^\s*shared\s+(\d+) bytes",
                                                       r"^total at 63 threads: (\d+) bytes")]
            if all(got):
                seed = {"per_thread": float(got[0].group(1)), "shared": float(got[1].group(1)),
                        "total_63": float(got[2].group(1)), "source": "train_model --config seed --memory-table --threads 63"}
        except (OSError, subprocess.SubprocessError):
            pass
    out["seed_config"] = seed
    return out


def counters_of(run):
    have = any(p["ipc"] or p["llc_tok"] for p in run["points"].values())
    reasons = {}
    for r in run["runs"]:
        for key, c in (r.get("counters") or {}).items():
            if any(nm in key.split("|") for nm in ("cycles", "instructions") + LLC_NAMES) and isinstance(c, dict) \
                    and c.get("value") is None:
                reasons.setdefault(key, c.get("reason") or "no value")
    if not have:
        why = ("; ".join(f"{k}: {v}" for k, v in sorted(reasons.items())) if reasons else
               "the runs recorded no cycles/instructions/LLC counters (events not requested)")
        return {"available": False, "reason": why}
    return {"available": True, "unavailable_events": reasons}


def fmt_ci(ci, f="{:.3g}"):
    return f"[{f.format(ci[0])}, {f.format(ci[1])}]" if ci else "n/a"


def phase_loss(res, v):
    """(top non-oversubscribed N > 1, per-token thread-us at 1 and at N by phase) or None."""
    rows = {r["threads"]: r for r in res["variants"][v]["rows"] if r.get("phase_us_per_token")}
    ns = [n for n in rows if not rows[n]["oversubscribed"] and n > 1]
    if 1 not in rows or not ns:
        return None
    n = max(ns)
    return n, np.array(rows[1]["phase_us_per_token"]), np.array(rows[n]["phase_us_per_token"])


def loss_words(t1, tn, min_share=0.01):
    """'barrier wait 60%, other 35%': each phase's share of the thread-time per token
    that grew from 1 to N threads (phases that shrank are left out)."""
    extra = np.maximum(tn - t1, 0)
    if extra.sum() <= 0:
        return ""
    parts = sorted(((extra[i], nm) for i, nm in enumerate(PHASES + ["other"]) if extra[i] > 0), reverse=True)
    return ", ".join(f"{nm.replace('_', ' ')} {e / extra.sum():.0%}" for e, nm in parts if e / extra.sum() >= min_share)


def verdict_of(run, res):
    """{class: supported|contradicted|undecided|not testable|not determined|no data, text}."""
    v = "lockfree" if "lockfree" in res["variants"] else (run["variants"] or [None])[0]
    V = res["variants"].get(v)
    if V is None or V["x1_median"] is None:
        return {"class": "no data", "variant": v, "text": "**No data.** No successful 1-thread run of the lock-free "
                "variant, so no speedup can be computed."}
    cpus, fit = run["cpus"], V["fits"]["usl"]
    rows = {r["threads"]: r for r in V["rows"]}
    measured = [n for n, r in rows.items() if not r["oversubscribed"] and r.get("speedup") is not None]
    top = max(measured)
    over = V["excluded_oversubscribed"]
    over_txt = (f" Points at {', '.join(map(str, over))} threads (more threads than the {cpus} CPUs) were measured "
                f"and are shown, marked oversubscribed, but they time the scheduler sharing {cpus} CPUs rather than "
                f"the trainer, and are excluded from every fit." if over else "")
    pl = phase_loss(res, v)
    loss = loss_words(pl[1], pl[2], 0.05) if pl else ""
    loss_txt = (f" Where the rest goes at {pl[0]} threads (growth of thread-time per token over 1 thread, by phase): "
                f"{loss}." if loss else "")
    lk = res["variants"].get("locked")
    lk_txt = ""
    if lk and lk["fits"]["usl"]["determined"]:
        f = lk["fits"]["usl"]
        lk_txt = (f" The locked variant fits sigma = {f['sigma']:.3f} {fmt_ci(f.get('sigma_ci'))}: " +
                  ("serialised, as a lock around forward+backward should be." if f["sigma"] > 0.8 else
                   "less serial than a lock around forward+backward predicts (sigma near 1)."))
    if not fit["determined"]:
        r = rows[top]
        meas = (f" What was measured: at {top} threads lock-free runs at {r['speedup']:.2f}x its 1-thread throughput "
                f"(efficiency {r['efficiency']:.0%}, Karp-Flatt serial fraction {r['karp_flatt']:.3g} "
                f"{fmt_ci(r.get('karp_flatt_ci'))}, {r['cpu_util']:.2f} CPUs busy on average); 40x at 63 threads "
                f"needs a serial fraction of at most 0.93% (50x: 0.42%), but one or two thread counts cannot tell a "
                f"constant serial fraction from one that grows with threads, and load from other processes on the "
                f"machine inflates it." if top > 1 else "")
        if cpus is not None and cpus < 3:
            cls, head = "not testable", f"**Not testable on this machine ({cpus} CPU{'s' if cpus != 1 else ''}).**"
            why = (f"this machine gives the harness {cpus} CPU{'s' if cpus != 1 else ''} (sched_getaffinity), so only "
                   f"thread counts up to {cpus} run without oversubscription, and a scaling model needs at least 3")
        else:
            cls, head = "not determined", "**Not determined.**"
            why = f"the sweep has {fit['reason']}; rerun build/scale with more thread counts up to the {cpus} CPUs"
        text = (f"{head} The claim is 40-50x at 63 threads; {why}. The fit is not determined, so no 63-thread "
                f"projection is made.{over_txt}{meas}{loss_txt}{lk_txt} To test the claim, run `make bench` on a "
                f"machine with at least 63 free CPUs.")
        return {"class": cls, "variant": v, "text": text}
    if 63 in measured:
        s, ci, basis = rows[63]["speedup"], rows[63].get("speedup_ci"), "measured at 63 threads"
    else:
        s, ci = fit["speedup_63"], fit.get("speedup_63_ci") or fit.get("speedup_63_ci_se")
        basis = f"projected by the USL fitted on {', '.join(map(str, fit['threads_used']))} threads"
    lo, hi = ci if ci else (s, s)
    cls = "supported" if lo >= CLAIM_LO else "contradicted" if hi < CLAIM_LO else "undecided"
    extra = (f" This extrapolates from at most {top} threads to 63 and rests on the USL's form; only a machine with "
             f"63 free CPUs measures it." if 63 not in measured and top < 32 else "")
    a = V["fits"]["amdahl"]
    text = (f"**{cls.capitalize()}.** Lock-free speedup at 63 threads: {s:.1f}x {fmt_ci(ci, '{:.1f}')} (95%), "
            f"{basis}, against the claimed 40-50x" +
            (" (the interval straddles 40x: more reps or thread counts would decide it)" if cls == "undecided" else "") +
            f". USL: sigma = {fit['sigma']:.4g} {fmt_ci(fit.get('sigma_ci'))}, kappa = {fit['kappa']:.3g} "
            f"{fmt_ci(fit.get('kappa_ci'))}; 62 sigma + 3906 kappa = {fit['need_40x']:.3g} {fmt_ci(fit.get('need_40x_ci'))} "
            f"(40x needs <= 0.575, 50x <= 0.26). Amdahl serial fraction {a['sigma']:.3%} "
            f"{fmt_ci(a.get('sigma_ci'), '{:.3%}')} (40x needs <= 0.93%). Largest measured point: "
            f"{rows[top]['speedup']:.1f}x at {top} threads (efficiency {rows[top]['efficiency']:.0%})."
            f"{extra}{loss_txt}{over_txt}{lk_txt}")
    return {"class": cls, "variant": v, "text": text, "speedup_63": s, "speedup_63_ci": ci, "basis": basis}


def fnum(x, f="{:.3g}"):
    return "NA" if x is None else f.format(x)


def where_time_goes(res, v):
    """Report lines on the per-token thread-time of each phase, top thread count against 1."""
    pl = phase_loss(res, v)
    if not pl:
        return []
    n, t1, tn = pl
    lines = [f"- {v}, {n} threads against 1: {tn.sum():.3g} against {t1.sum():.3g} thread-us per token "
             f"(ratio {t1.sum() / tn.sum():.2f}; 1.00 = nothing lost)."]
    if (tn - t1).sum() > 0:
        lines.append(f"  The growth ({(tn - t1).sum():+.3g} thread-us per token net) by phase: {loss_words(t1, tn)}.")
    share = tn / tn.sum()
    lines.append(f"  Shares at {n} threads: " + ", ".join(f"{nm.replace('_', ' ')} {share[i]:.0%}"
                                                          for i, nm in enumerate(PHASES + ["other"]) if share[i] >= 0.005) + ".")
    return lines

# ----------------------------------------------------------------------------
# REPORT.md


def write_atomic(path, text):
    """temp file in the same folder, fsync, rename: never a half-written file"""
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_report(run, res, plots_dir, made, cmp_text):
    meta, opts, host = run["meta"], run["options"], run["meta"].get("host") or {}
    cfg = next((p["report"].get("config") for p in run["points"].values() if p["report"]), {}) or {}
    params = next((p["report"].get("params") for p in run["points"].values() if p["report"]), None)
    L = [f"# Scaling report: {run['name']}", "",
         "Written by scripts/analyze.py from this folder's runs.jsonl, meta.json and memory.csv (bench/RESULTS.md).", "",
         "## Verdict on the 40-50x claim", "", res["verdict"]["text"], "",
         "## Machine and configuration", "",
         f"- CPU: {host.get('cpu_model')}; {host.get('online_cpus')} online, **{run['cpus']} in the affinity mask**; "
         f"governor {host.get('scaling_governor')}; kernel {(host.get('kernel') or {}).get('release')}",
         f"- BLAS: {meta.get('blas')}; train_model {(meta.get('train_model_build') or {}).get('compiler')} "
         f"{(meta.get('train_model_build') or {}).get('cflags')}, git {(meta.get('train_model_build') or {}).get('git')}",
         f"- Sweep: config **{opts.get('config')}** (V={cfg.get('V')} C={cfg.get('C')} L={cfg.get('L')} NH={cfg.get('NH')} "
         f"F={cfg.get('F')} T={cfg.get('T')} B={cfg.get('B')}, {params} parameters), {opts.get('scaling')} scaling, "
         f"{opts.get('steps')} steps, {opts.get('reps')} reps, threads {opts.get('threads')}, variants {opts.get('variants')}",
         f"- Status {meta.get('status')}, {meta.get('runs_ok')} runs ok, {meta.get('runs_failed')} failed; "
         f"started {meta.get('first_start_time')}", "",
         "## Measurements", "",
         "Speedup = tokens/s over the 1-thread median of the same variant (" +
         ("weak scaling: N threads do N times the work" if opts.get("scaling", "weak") == "weak" else
          "strong scaling: a fixed global batch") + "). Range = min-max over the reps. Karp-Flatt e = (1/s - 1/N)/(1 - 1/N) with a bootstrap 95% interval. "
         "CPU = (user+sys)/wall over the whole process. **over** = oversubscribed (threads > "
         f"{run['cpus']} CPUs): shown, never fitted.", ""]
    for v in run["variants"]:
        V = res["variants"][v]
        L += [f"### {v}", "", "| threads | reps ok/failed | tokens/s median [min-max] | speedup [min-max] | efficiency | CPU util | Karp-Flatt [95%] | peak RSS MiB | |",
              "|---:|---:|---|---|---:|---:|---|---:|---|"]
        for r in V["rows"]:
            if not r["reps_ok"]:
                L.append(f"| {r['threads']} | 0/{r['reps_failed']} | no successful run | | | | | | {'over' if r['oversubscribed'] else ''} |")
                continue
            L.append(f"| {r['threads']} | {r['reps_ok']}/{r['reps_failed']} | {r['tps_median']:.0f} [{r['tps_min']:.0f}-{r['tps_max']:.0f}] | "
                     f"{fnum(r.get('speedup'), '{:.2f}')} [{fnum(r.get('speedup_min'), '{:.2f}')}-{fnum(r.get('speedup_max'), '{:.2f}')}] | "
                     f"{fnum(r.get('efficiency'), '{:.0%}')} | {fnum(r.get('cpu_util'), '{:.2f}')} | "
                     f"{fnum(r.get('karp_flatt'))} {fmt_ci(r.get('karp_flatt_ci')) if r.get('karp_flatt_ci') else ''} | "
                     f"{fnum(r.get('rss_mib'), '{:.1f}')} | {'**over**' if r['oversubscribed'] else ''} |")
        L.append("")
    L += ["## Fits", "",
          "Least squares on log tokens/s of every successful rep at the non-oversubscribed thread counts "
          "(projected Levenberg-Marquardt, sigma, kappa >= 0). X(N) = lambda N / (1 + sigma (N-1) + kappa N (N-1)); "
          "Amdahl is kappa = 0 (sigma = serial fraction). Intervals in brackets: 95%, the envelope of "
          f"a bootstrap over the reps ({res['bootstrap']} resamples, seed {res['seed']}; each thread count's runs "
          "resampled, refitted) and the Jacobian t interval; +- is the Jacobian standard error. In simulation "
          "(tests/test_analysis.sh) each alone holds the true value about 90% of the time with 3-5 reps.", "",
          "| variant | model | threads fitted | sigma | kappa | 62 sigma + 3906 kappa | speedup at 63 [95%] | resid sd (log) |",
          "|---|---|---|---|---|---|---|---:|"]
    for v in run["variants"]:
        V = res["variants"][v]
        for m in ("usl", "amdahl"):
            f = V["fits"][m]
            if not f["determined"]:
                L.append(f"| {v} | {m} | {', '.join(map(str, f['threads_used'])) or '-'} | not determined: {f['reason']} | | | | |")
                continue
            sg = f"{f['sigma']:.4g} +- {fnum(f['sigma_se'])} {fmt_ci(f.get('sigma_ci'))}"
            kp = f"{f['kappa']:.3g} +- {fnum(f['kappa_se'])} {fmt_ci(f.get('kappa_ci'))}" if m == "usl" else "0 (Amdahl)"
            L.append(f"| {v} | {m} | {', '.join(map(str, f['threads_used']))} | {sg} | {kp} | {f['need_40x']:.3g} {fmt_ci(f.get('need_40x_ci'))} | "
                     f"{f['speedup_63']:.1f} {fmt_ci(f.get('speedup_63_ci') or f.get('speedup_63_ci_se'), '{:.1f}')} | {fnum(f['resid_sd_log'])} |")
            if f.get("at_bound"):
                L[-1] = L[-1][:-1] + f" {', '.join(f['at_bound'])} at its bound 0 |"
    excl = {v: res["variants"][v]["excluded_oversubscribed"] for v in run["variants"] if res["variants"][v]["excluded_oversubscribed"]}
    L += ["", ("Excluded from every fit as oversubscribed (threads > " + f"{run['cpus']} CPUs): " +
               "; ".join(f"{v} {', '.join(map(str, ns))}" for v, ns in excl.items()) + ".") if excl
          else "No point is oversubscribed.",
          "", "For reference: 40x at 63 threads needs an Amdahl serial fraction <= 0.93% (USL: 62 sigma + 3906 kappa "
          "<= 0.575); 50x needs <= 0.42% (<= 0.26).", "", "## Where the time goes", "",
          "Thread-seconds per token in each phase (the reports' per-thread phase clocks summed over threads, "
          "median over reps; 'other' = threads x training wall time minus the phases: the worker pool's start and "
          "end of each step, i.e. waking the workers and waiting for the last one, and the step loop's bookkeeping). "
          "The total stays flat when "
          "nothing is lost, so its growth is the lost efficiency, split by phase.", ""]
    for v in run["variants"]:
        L += where_time_goes(res, v)
    lk = {r["threads"]: r for r in res["variants"].get("locked", {}).get("rows", [])}
    for n, r in sorted(lk.items()):
        if n > 1 and r.get("phase_us_per_token"):
            t = np.array(r["phase_us_per_token"])
            L.append(f"- locked, {n} threads{' (oversubscribed)' if r['oversubscribed'] else ''}: lock wait is "
                     f"{t[2] / t.sum():.0%} of all thread time.")
    L += ["", "## Lock-free against locked", "", "```", cmp_text.rstrip(), "```", "", "## Memory", ""]
    mem = res["memory"]
    for v, m in mem["variants"].items():
        L.append(f"- {v}: per thread {fnum(m['analytic_per_thread'] and m['analytic_per_thread'] / 2**20, '{:.3f}')} MiB analytic "
                 f"(buffers each worker owns), {fnum(m.get('measured_per_thread') and m['measured_per_thread'] / 2**20, '{:.3f}')} MiB "
                 f"measured (slope of peak RSS over threads); shared {fnum(m['shared'] and m['shared'] / 2**20, '{:.2f}')} MiB; "
                 f"analytic total at 63 threads {fnum(m['shared'] and (m['shared'] + 63 * m['analytic_per_thread']) / 2**20, '{:.1f}')} MiB.")
    sc = mem["seed_config"]
    L.append(f"- The original note (config seed): 6.1 MB per thread ({NOTE_PER_THREAD_KIB} KiB), {NOTE_TOTAL_63_MB} MB at 63 threads." +
             (f" cllm's analytic figure for the same config: {sc['per_thread'] / 2**20:.2f} MiB per thread, "
              f"{sc['total_63'] / 2**20:.0f} MiB at 63 threads (the note left out the per-thread "
              f"gradient buffer; source: {sc['source']})." if sc else
              " (cllm's seed-config figure was not available: no train_model binary to ask.)"))
    L.append("- Measured per-thread memory is meaningful only when the buffers are large against run-to-run RSS noise.")
    L += ["", "## Hardware counters", ""]
    c = res["counters"]
    if c["available"]:
        L.append("IPC and LLC misses per token by thread count: see the counters plot and fit.json.")
        for v in run["variants"]:
            L.append(f"- {v}: " + ", ".join(f"{r['threads']}{'*' if r['oversubscribed'] else ''}: IPC {fnum(r.get('ipc'), '{:.2f}')}, "
                                            f"LLC/token {fnum(r.get('llc_per_token'), '{:.3g}')}" for r in res["variants"][v]["rows"] if r["reps_ok"]))
    else:
        L.append(f"Not available, so the counters plot was not made: {c['reason']}.")
    hf = os.path.join(run["dir"], "hyperfine.csv")
    if os.path.exists(hf):   # written by scripts/hyperfine.sh --run DIR
        L += ["", "## hyperfine beside the harness", "",
              "Wall time per run of the same commands: hyperfine's mean (scripts/hyperfine.sh) "
              "beside this harness's median.", "",
              "| variant | threads | hyperfine mean s | stddev s | harness median s | ratio |",
              "|---|---:|---:|---:|---:|---:|"]
        with open(hf) as f:
            for row in csv.DictReader(f):
                L.append(f"| {row.get('variant')} | {row.get('threads')} | {row.get('mean_s')} | "
                         f"{row.get('stddev_s')} | {row.get('harness_wall_median_s')} | {row.get('mean_over_harness')} |")
    L += ["", "## Plots", ""]
    rel = os.path.relpath(plots_dir, run["dir"])
    L += [f"![{p}]({rel}/{p}.png)" for p in made]
    if made:
        L.append(f"\n(SVG beside each PNG in `{rel}/`; the gnuplot scripts and data there redraw them.)")
    if res.get("plots_note"):
        L.append(res["plots_note"])
    L.append("")
    write_atomic(os.path.join(run["dir"], "REPORT.md"), "\n".join(L))

# ----------------------------------------------------------------------------
# plots: one data file and one gnuplot script per plot, drawn as PNG and SVG

STYLE = {"lockfree": ("#1d4e89", "lock-free"), "locked": ("#c8553d", "locked")}
PHASE_COLORS = ["#4c78a8", "#72b7b2", "#e45756", "#f58518", "#b279a2", "#54a24b", "#bab0ac"]


def gp_header(name, w=1150, h=720):
    return (f'if (!exists("fmt")) fmt = "png"\nset encoding utf8\n'
            f'if (fmt eq "svg") {{ set terminal svg size {w},{h} dynamic enhanced font "Sans,13" background rgb "white"; '
            f'set output "{name}.svg" }} else {{ set terminal pngcairo size {w},{h} enhanced font "Sans,13"; '
            f'set output "{name}.png" }}\nset datafile missing "?"\nset grid lc rgb "#dddddd"\n')


def gp_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def vstyle(v):
    return STYLE.get(v, ("#333333", v))


def cpu_marks(cpus, y_label_at="graph 0.5", cpu_y="graph 0.03"):
    if not cpus or cpus >= 64:
        return ""
    return (f'set object 1 rect from first {cpus}, graph 0 to graph 1, graph 1 behind fc rgb "#eeeeee" fs solid 1.0 noborder\n'
            f'set arrow 1 from first {cpus}, graph 0 to first {cpus}, graph 1 nohead dt 2 lw 2 lc rgb "#555555"\n'
            f'set label 1 "{cpus} CPUs" at first {cpus}, {cpu_y} offset 0.6,0 left tc rgb "#555555"\n'
            f'set label 2 "oversubscribed:\\nshown, not fitted" at first {cpus * 1.12}, {y_label_at} left tc rgb "#777777"\n')


def plot_speedup(run, res, d):
    cpus, title_fit = run["cpus"], []
    plots = ["x title 'ideal (linear)' lc rgb 'black' dt 3 lw 1.5"]
    grid = curve_grid()
    cols = [grid]
    ymin = 0.5
    for v in run["variants"]:
        V = res["variants"][v]
        color, label = vstyle(v)
        rows = [r for r in V["rows"] if r.get("speedup") is not None]
        with open(os.path.join(d, f"speedup_{v}.dat"), "w") as f:
            f.write("# threads speedup_median speedup_min speedup_max oversubscribed\n")
            for r in rows:
                f.write(f"{r['threads']} {r['speedup']:.6g} {r['speedup_min']:.6g} {r['speedup_max']:.6g} {int(r['oversubscribed'])}\n")
                ymin = min(ymin, r["speedup_min"] * 0.8)
        if not rows:
            continue
        for m, dt in (("usl", 1), ("amdahl", 2)):
            f = V["fits"][m]
            if not f["determined"]:
                continue
            cols.append(usl_speedup(grid, f["sigma"], f.get("kappa", 0.0)))
            c = len(cols)
            desc = f"σ={f['sigma']:.3g}" + (f", κ={f['kappa']:.2g}" if m == "usl" else "")
            plots.append(f"'curves.dat' using 1:{c} with lines lw 2 dt {dt} lc rgb '{color}' title '{m.upper() if m == 'usl' else 'Amdahl'} fit, {label} ({desc})'")
            if m == "usl" and f.get("curve_band"):
                cols += [np.array(f["curve_band"][0]), np.array(f["curve_band"][1])]
                plots.insert(1, f"'curves.dat' using 1:{c + 1}:{c + 2} with filledcurves fc rgb '{color}' fs transparent solid 0.15 noborder title 'USL 95% band, {label}'")
        if not V["fits"]["usl"]["determined"]:
            title_fit.append((label, V["fits"]["usl"]["reason"]))
        plots.append(f"'speedup_{v}.dat' using 1:($5==0?$2:1/0):3:4 with yerrorbars pt 7 ps 1.4 lw 1.5 lc rgb '{color}' title '{label} (median, min-max)'")
        if any(r["oversubscribed"] for r in rows):
            plots.append(f"'speedup_{v}.dat' using 1:($5==1?$2:1/0):3:4 with yerrorbars pt 6 ps 1.8 lw 1.5 lc rgb '{color}' title '{label}, oversubscribed (not fitted)'")
    np.savetxt(os.path.join(d, "curves.dat"), np.column_stack(cols), fmt="%.6g",
               header="threads then, per fitted model: speedup (USL also its 95% band low, high)")
    cfg = run["options"].get("config")
    reasons = {r for _, r in title_fit}
    sub = ("\n".join(f"{lab}: fit not determined ({r})" for lab, r in title_fit) if len(reasons) > 1
           else f"fit not determined: {reasons.pop()}" if reasons
           else "points: median over reps, bars: min-max; curves fitted on the non-oversubscribed points")
    if res["verdict"]["class"] == "not testable":
        sub += f"\nthe 40-50x claim is not testable on {cpus} CPUs"
    gp = gp_header("speedup") + f"""set title {gp_str(f"cllm {run['options'].get('scaling', 'weak')}-scaling speedup, config {cfg}, {cpus} CPUs ({run['name']})")}."\\n{{/*0.8 " . {gp_str(sub)} . "}}"
set logscale xy 2
set xrange [0.85:90]
set yrange [{ymin:.3g}:90]
set xtics (1, 2, 4, 8, 16, 32, 63)
set ytics ("1/8" 0.125, "1/4" 0.25, "1/2" 0.5, 1, 2, 4, 8, 16, 32, 64)
set xlabel "worker threads"
set ylabel "speedup: tokens/s over the 1-thread median"
set key top left box opaque font ",11"
{cpu_marks(cpus, "graph 0.45")}set object 2 rect from 55,40 to 72,50 front fc rgb "#e9c46a" fs transparent solid 0.6 border lc rgb "#b08900"
set style textbox opaque noborder
set label 3 "claim: 40-50x\\nat 63 threads" at 53, 45 right front boxed tc rgb "#7a5c00"
plot {", ".join(plots)}
"""
    return gp


def plot_efficiency(run, res, d):
    cpus = run["cpus"]
    left, right = [], []
    for v in run["variants"]:
        color, label = vstyle(v)
        rows = [r for r in res["variants"][v]["rows"] if r.get("efficiency") is not None]
        with open(os.path.join(d, f"efficiency_{v}.dat"), "w") as f:
            f.write("# threads efficiency oversubscribed karp_flatt kf_lo kf_hi\n")
            for r in rows:
                ci = r.get("karp_flatt_ci") or [r.get("karp_flatt")] * 2
                kf = [fnum(x, "{:.6g}").replace("NA", "?") for x in (r.get("karp_flatt"), ci[0], ci[1])]
                f.write(f"{r['threads']} {r['efficiency']:.6g} {int(r['oversubscribed'])} {' '.join(kf)}\n")
        left += [f"'efficiency_{v}.dat' using 1:($3==0?100*$2:1/0) with linespoints pt 7 ps 1.4 lw 2 lc rgb '{color}' title '{label}'",
                 f"'efficiency_{v}.dat' using 1:($3==1?100*$2:1/0) with points pt 6 ps 1.8 lw 1.5 lc rgb '{color}' title '{label}, oversubscribed'"]
        right += [f"'efficiency_{v}.dat' using 1:($3==0?$4:1/0):5:6 with yerrorbars pt 7 ps 1.4 lw 1.5 lc rgb '{color}' title '{label} (95% bootstrap)'",
                  f"'efficiency_{v}.dat' using 1:($3==1?$4:1/0):5:6 with yerrorbars pt 6 ps 1.8 lw 1.5 lc rgb '{color}' title '{label}, oversubscribed'"]
    kfs = [r.get("karp_flatt") for v in run["variants"] for r in res["variants"][v]["rows"] if r.get("karp_flatt") is not None]
    emax = max([110] + [115 * r["efficiency"] for v in run["variants"] for r in res["variants"][v]["rows"]
                        if r.get("efficiency") is not None])
    kf_scale = "set logscale y 10\nset yrange [0.001:*]\n" if kfs and min(kfs) > 0.001 else ""
    return gp_header("efficiency", 1300, 620) + f"""set multiplot layout 1,2 title {gp_str(f"parallel efficiency and Karp-Flatt serial fraction, {cpus} CPUs ({run['name']})")}
set logscale x 2
set xrange [0.85:90]
set xtics (1, 2, 4, 8, 16, 32, 63)
set xlabel "worker threads"
{cpu_marks(cpus)}set ylabel "efficiency, % (speedup / threads)"
set yrange [0:{emax:.0f}]
set key top right box opaque font ",11"
plot 100 with lines dt 3 lc rgb "black" title "ideal", {", ".join(left)}
set ylabel "Karp-Flatt e = (1/s - 1/N) / (1 - 1/N)"
set yrange [*:*]
{kf_scale}set key top right box opaque font ",11"
set label 4 "40x at 63 needs e ≤ 0.93%" at first 1.0, first 0.0093 offset 0,0.6 left front tc rgb "#7a5c00"
plot 0.0093 with lines lw 2 lc rgb "#b08900" notitle, 0.0042 with lines lw 1 dt 2 lc rgb "#b08900" title "50x needs e ≤ 0.42%", {", ".join(right)}
unset multiplot
"""


def plot_phases(run, res, d):
    blocks, plots = [], []
    for bi, v in enumerate(run["variants"]):
        rows = [r for r in res["variants"][v]["rows"] if r.get("phase_us_per_token")]
        if not rows:
            continue
        lines = ["# threads " + " ".join(PHASES + ["other"]) + "  (thread-us per token, median over reps)"]
        lines += [f"\"{r['threads']}{'*' if r['oversubscribed'] else ''}\" " + " ".join(f"{x:.6g}" for x in r["phase_us_per_token"])
                  for r in rows]
        idx = len(blocks)
        blocks.append("\n".join(lines))
        plots.append(f"newhistogram {gp_str(vstyle(v)[1])} lt 1")
        for i, nm in enumerate(PHASES + ["other"]):
            plots.append(f"'phases.dat' index {idx} using {i + 2}{':xtic(1)' if i == 0 else ''} "
                         f"lc rgb '{PHASE_COLORS[i]}' {'title ' + gp_str(nm.replace('_', ' ').replace('other', 'other (pool start/end)')) if idx == 0 else 'notitle'}")
    if not blocks:
        return None
    with open(os.path.join(d, "phases.dat"), "w") as f:
        f.write("\n\n\n".join(blocks) + "\n")
    return gp_header("phases", 1250, 700) + f"""set title {gp_str(f"where the time goes: thread-time per token by phase and worker threads ({run['name']})")}."\\n{{/*0.8 flat bars = perfect weak scaling; growth = lost efficiency; * = oversubscribed (threads > {run['cpus']} CPUs)}}"
set style data histograms
set style histogram rowstacked title offset 0,-1 font ",13"
set bmargin 5
set style fill solid 0.9 border rgb "#333333"
set boxwidth 0.7
set key outside right top vertical font ",12"
set ylabel "thread-µs per token"
set yrange [0:*]
plot {", ".join(plots)}
"""


def plot_memory(run, res, d):
    mem = res["memory"]
    bars = []
    for v, m in mem["variants"].items():
        lab = vstyle(v)[1]
        bars.append((f"{lab} analytic", m["analytic_per_thread"], 0))
        if m.get("measured_per_thread") is not None:
            bars.append((f"{lab} measured", m["measured_per_thread"], 1))
    bars.append(("note: seed", mem["note_per_thread_bytes"], 2))
    sc = mem["seed_config"]
    if sc:
        bars.append(("cllm: seed", sc["per_thread"], 3))
    with open(os.path.join(d, "memory_bars.dat"), "w") as f:
        f.write("# label per_thread_MiB kind(0 analytic, 1 measured, 2 note, 3 cllm seed)\n")
        for lab, b, k in bars:
            f.write(f"\"{lab}\" {max(b or 0, 1) / 2**20:.6g} {k}\n")
    fns, plots = [], []
    for v, m in mem["variants"].items():
        color, lab = vstyle(v)
        if m["shared"] is not None and m["analytic_per_thread"] is not None:
            fns.append(f"a_{v}(x) = ({m['shared']:.6g} + x * {m['analytic_per_thread']:.6g}) / 2**20")
            plots.append(f"a_{v}(x) lw 2 lc rgb '{color}' title '{lab}: analytic, config {mem['config']}'")
        if m.get("measured_per_thread") is not None and m.get("measured_intercept") is not None:
            fns.append(f"m_{v}(x) = ({m['measured_intercept']:.6g} + x * {m['measured_per_thread']:.6g}) / 2**20")
            plots.append(f"m_{v}(x) lw 1.5 dt 2 lc rgb '{color}' title '{lab}: measured fit, extrapolated'")
        with open(os.path.join(d, f"memory_rss_{v}.dat"), "w") as f:
            f.write("# threads peak_rss_MiB oversubscribed\n")
            for n, b, over in m["rss_points"]:
                f.write(f"{n} {b / 2**20:.6g} {int(over)}\n")
        plots.append(f"'memory_rss_{v}.dat' using 1:2 with points pt 7 ps 1.3 lc rgb '{color}' title '{lab}: peak RSS (median)'")
    plots.append(f"x * {NOTE_PER_THREAD_KIB} / 1024.0 lw 2 lc rgb '#b08900' title 'original note (seed): 6.1 MB x threads'")
    labels = [f'set label 5 "note: {NOTE_TOTAL_63_MB} MB" at 63, {NOTE_TOTAL_63_MB} offset -1,0 right tc rgb "#7a5c00"']
    if sc:
        fns.append(f"s_cllm(x) = ({sc['shared']:.6g} + x * {sc['per_thread']:.6g}) / 2**20")
        plots.append("s_cllm(x) lw 2 lc rgb '#6a4c93' title 'cllm analytic, config seed'")
        t63 = sc["total_63"] / 2**20
        labels.append(f'set label 6 "cllm seed: {t63:.0f} MiB" at 63, {t63:.6g} offset -1,0.8 right tc rgb "#6a4c93"')
    return gp_header("memory", 1350, 650) + f"""set multiplot layout 1,2 title {gp_str(f"memory per thread and in total ({run['name']}, config {mem['config']})")}
set logscale y 10
set style fill solid 0.85 border rgb "#333333"
set boxwidth 0.6
set ylabel "MiB per thread"
set xtics rotate by -25 font ",11"
set yrange [*:*]
set palette defined (0 "#1d4e89", 1 "#72b7b2", 2 "#b08900", 3 "#6a4c93")
unset colorbox
set title "per-thread overhead: analytic (buffers) vs measured (RSS slope)"
plot 'memory_bars.dat' using 0:2:3:xtic(1) with boxes lc palette notitle, '' using 0:2:(sprintf("%.3g", $2)) with labels offset 0,0.8 notitle
unset xtics
set xtics norotate font ",13"
set xtics (1, 8, 16, 32, 48, 63)
set xrange [1:66]
set xlabel "worker threads"
set ylabel "MiB in total"
set title "total memory against threads, up to 63"
set key bottom right box opaque font ",10"
set arrow 3 from 63, graph 0 to 63, graph 1 nohead dt 3 lc rgb "#999999"
{chr(10).join(fns)}
{chr(10).join(labels)}
plot {", ".join(plots)}
unset multiplot
"""


def plot_counters(run, res, d):
    if not res["counters"]["available"]:
        return None
    ipc, llc = [], []
    for v in run["variants"]:
        color, label = vstyle(v)
        with open(os.path.join(d, f"counters_{v}.dat"), "w") as f:
            f.write("# threads ipc llc_misses_per_token oversubscribed\n")
            for r in res["variants"][v]["rows"]:
                if r["reps_ok"]:
                    f.write(f"{r['threads']} {fnum(r.get('ipc'), '{:.6g}').replace('NA', '?')} "
                            f"{fnum(r.get('llc_per_token'), '{:.6g}').replace('NA', '?')} {int(r['oversubscribed'])}\n")
        for col, lst in ((2, ipc), (3, llc)):
            lst += [f"'counters_{v}.dat' using 1:($4==0?${col}:1/0) with linespoints pt 7 ps 1.4 lw 2 lc rgb '{color}' title '{label}'",
                    f"'counters_{v}.dat' using 1:($4==1?${col}:1/0) with points pt 6 ps 1.8 lw 1.5 lc rgb '{color}' title '{label}, oversubscribed'"]
    return gp_header("counters", 1300, 600) + f"""set multiplot layout 1,2 title {gp_str(f"hardware counters per thread count ({run['name']})")}
set logscale x 2
set xrange [0.85:90]
set xtics (1, 2, 4, 8, 16, 32, 63)
set xlabel "worker threads"
{cpu_marks(run['cpus'])}set key top right box opaque font ",11"
set ylabel "instructions per cycle"
set yrange [0:*]
plot {", ".join(ipc)}
set ylabel "LLC misses per token"
plot {", ".join(llc)}
unset multiplot
"""


def make_plots(run, res, d):
    """Writes data + scripts into d and draws them; returns (plots made, why some are missing)."""
    os.makedirs(d, exist_ok=True)
    if not shutil.which("gnuplot"):
        return [], "No plots: gnuplot is not installed (scripts/deps.sh installs gnuplot-nox)."
    made, failed = [], []
    for name, fn in (("speedup", plot_speedup), ("efficiency", plot_efficiency), ("phases", plot_phases),
                     ("memory", plot_memory), ("counters", plot_counters)):
        gp = fn(run, res, d)
        if gp is None:
            continue
        with open(os.path.join(d, name + ".gp"), "w") as f:
            f.write(f"# {name}.gp - written by scripts/analyze.py; redraw with: gnuplot -e 'fmt=\"svg\"' {name}.gp\n" + gp)
        for fmt in ("png", "svg"):
            p = subprocess.run(["gnuplot", "-e", f'fmt="{fmt}"', name + ".gp"], cwd=d, capture_output=True, text=True)
            errs = [l for l in p.stderr.splitlines() if l.strip() and "warning" not in l.lower()]
            if p.returncode != 0 or errs:
                failed.append(f"gnuplot failed on {os.path.join(d, name + '.gp')} ({fmt}): {p.stderr.strip()[-500:]}")
                break
        else:
            made.append(name)
    return made, ("; ".join(failed) if failed else "")

# ----------------------------------------------------------------------------


def json_clean(o):
    """numpy values to Python ones, NaN and infinities to null: fit.json stays valid JSON."""
    if isinstance(o, dict):
        return {k: json_clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, np.ndarray)):
        return [json_clean(v) for v in o]
    if isinstance(o, (np.bool_, bool)):
        return bool(o)
    if isinstance(o, (np.integer, int)):
        return int(o)
    if isinstance(o, (np.floating, float)):
        return float(o) if math.isfinite(o) else None
    return o


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results_dir")
    ap.add_argument("--plots-dir", help="default: plots/<results folder name>/ at the top of the repository")
    ap.add_argument("--bootstrap", type=int, default=DEFAULT_BOOT, help=f"resamples (default {DEFAULT_BOOT}, 0 = none)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed (reports are reproducible)")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--train-model", default=os.path.join(REPO, "build", "lockfree", "train_model"),
                    help="asked for the seed config's memory table (default build/lockfree/train_model)")
    a = ap.parse_args()
    if a.bootstrap < 0:
        ap.error("--bootstrap must be >= 0")
    try:
        run = load_run(a.results_dir)
    except (OSError, ValueError) as e:
        die(f"cannot read results folder: {e}")
    res = analyze(run, a.bootstrap, a.seed, a.train_model)
    plots_dir = a.plots_dir or os.path.join(REPO, "plots", run["name"])
    made, note = ([], "No plots: --no-plots was given.") if a.no_plots else make_plots(run, res, plots_dir)
    res["plots"], res["plots_note"] = made, note
    res["counters_plot_made"] = "counters" in made
    import compare                                    # beside this file
    cmp_text = compare.variants_table(run, seed=a.seed)
    write_report(run, res, plots_dir, made, cmp_text)
    res.pop("plots_note")
    write_atomic(os.path.join(run["dir"], "fit.json"), json.dumps(json_clean(res), indent=1, allow_nan=False) + "\n")
    print(os.path.join(run["dir"], "REPORT.md"))
    if note and not a.no_plots:
        if shutil.which("gnuplot"):
            die(note)                                 # a plot failed: the report says which
        print("analyze: warning: " + note, file=sys.stderr)


if __name__ == "__main__":
    main()
