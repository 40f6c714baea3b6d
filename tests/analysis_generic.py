#!/usr/bin/python3
"""analysis_generic.py - the analysis package on sweeps of a program that is
not cllm (build/scale --command, --metric / --work), from synthetic runs
built in memory: a program with a known Amdahl serial fraction f, whose
report has nothing of train_model's (no phases, memory table or tokens).

Checked: the Karp-Flatt interval at 2 threads holds f as often as it says
(coverage in simulation); the fit of the whole pipeline (records -> runs ->
analysis) finds f with an interval whose coverage is checked too; on 2 CPUs
(1, 2 and oversubscribed points) no model is fitted and the oversubscribed
points are labelled and left out; the unit is named in the report's
tables and the plots' titles; --work's metric. Run by tests/test_analysis_generic.sh.
Prints "N passed, N failed" last.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
from cllm_analysis import analysis, models, plots, report, runs  # noqa: E402
from check import check, finish  # noqa: E402


def amdahl_runs(threads, f, cpus, reps=5, noise=0.02, seed=1, x1=500.0, metric=None):
    """meta and records of a sweep of an Amdahl program (strong scaling): units/s
    at N = x1 / (f + (1 - f) / N) with log-normal noise; oversubscribed points
    (N > cpus) run as on cpus CPUs and then lose 40%: junk a fit must skip."""
    rng = np.random.default_rng(seed)
    m = metric or {"key": "units_per_s", "work": None, "unit": "units/s", "columns": "metric"}
    meta = {"tool": "scale", "format": 1, "status": "complete",
            "options": {"threads": list(threads), "variants": [], "reps": reps, "config": "seed", "steps": 24,
                        "scaling": "strong", "commands": [{"name": "prog", "template": "prog --threads {threads} --report {report}"}]},
            "metric": m, "host": {"hostname": "synthetic", "cpu_model": "synthetic", "online_cpus": cpus, "affinity_cpus": cpus}}
    recs = []
    for rep in range(reps):
        for n in threads:
            k = min(n, cpus)
            x = x1 / (f + (1 - f) / k) * (0.6 if n > cpus else 1.0) * float(np.exp(rng.normal(0, noise)))
            units = 240.0
            recs.append({"variant": "prog", "threads": n, "rep": rep, "status": "ok", "exit_code": 0,
                         "wall_s": units / x + 0.001, "user_s": 0.01, "sys_s": 0.0, "peak_rss_kib": 2000,
                         "oversubscribed": n > cpus, "affinity_cpus": cpus, "counters": {},
                         "command": ["prog", "--threads", str(n)], "env": {},
                         "report": {"units_per_s": x, "units": units, "region_s": units / x}})
    return meta, recs


F = 0.1

# --- 1. Karp-Flatt at 2 threads: the interval's coverage -----------------------------
t0 = time.time()
for noise in (0.02, 0.05):
    D, hit, none = 400, 0, 0
    for i in range(D):
        meta, recs = amdahl_runs((1, 2), F, 2, 5, noise, seed=100 + i)
        run = runs.run_from_records(meta, recs)
        pts = runs.variant_points(run, "prog")
        row = analysis.point_row(pts[1], pts[0])
        ci = row.get("karp_flatt_ci")
        none += ci is None
        hit += ci is not None and ci[0] <= F <= ci[1]
    print(f"Karp-Flatt at 2 threads, 5 reps, {noise:.0%} noise: the 95% interval holds f = {F} in {hit / D:.1%} "
          f"of {D} data sets ({none} without one)")
    check(f"Karp-Flatt interval coverage {hit / D:.1%} >= 93% ({noise:.0%} noise)", hit >= 0.93 * D)
    check(f"Karp-Flatt interval coverage {hit / D:.1%} <= 99% ({noise:.0%} noise): not wider than it says", hit <= 0.99 * D)

# --- 2. the fit through the whole pipeline, on 1..16 threads of 16 CPUs, + 2 oversubscribed -----
TH, CPUS, TARGET = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32), 16, 16
true = float(models.speedup(TARGET, F, 0.0))
D, hit, sig_ok, fitted = 120, 0, 0, 0
for i in range(D):
    meta, recs = amdahl_runs(TH, F, CPUS, 5, 0.02, seed=1000 + i)
    res = analysis.analyze(runs.run_from_records(meta, recs), boot=0, target_threads=TARGET)
    fit = res["variants"]["prog"]["fits"]["step_amdahl"]
    if fit["status"] == "fit":
        fitted += 1
        lo, hi = fit["speedup_target_ci"]
        hit += lo <= true <= hi
        sig_ok += fit.get("sigma_se") is not None and abs(fit["sigma"] - F) <= 3 * fit["sigma_se"]
    if i == 0:
        first = (res, fit)
print(f"Amdahl fit, threads 1-16 of 16 CPUs + 24, 32 oversubscribed, 5 reps, 2% noise: fitted {fitted}/{D}; the 95% "
      f"profile interval of the speedup at {TARGET} holds the true {true:.3f} in {hit / D:.1%}; sigma within 3 SE of f "
      f"in {sig_ok / D:.1%} ({time.time() - t0:.1f} s so far)")
check(f"the Amdahl fit is made on every data set ({fitted}/{D})", fitted == D)
check(f"fit coverage at {TARGET} {hit / D:.1%} >= 90%", hit >= 0.90 * D)
check(f"sigma within 3 SE of the true serial fraction {sig_ok / D:.1%} >= 95%", sig_ok >= 0.95 * D)
res, fit = first
check("the oversubscribed points are left out of the fit", fit["threads_used"] == [1, 2, 3, 4, 6, 8, 12, 16])
check("and listed as such", res["variants"]["prog"]["excluded_oversubscribed"] == [24, 32])
check("Karp-Flatt stays near f at every fitted N (Amdahl: e = f)",
      all(abs(r["karp_flatt"] - F) < 0.03 for r in res["variants"]["prog"]["rows"] if 1 < r["threads"] <= 16))
check("no claim verdict for a program that is not cllm", res["verdict"]["class"] == "not applicable")

# --- 3. two CPUs: Karp-Flatt at 2 is the only estimate ----------------------------------
meta, recs = amdahl_runs((1, 2, 3, 4), 0.25, 2, 5, 0.02, seed=7)
run2 = runs.run_from_records(meta, recs)
res2 = analysis.analyze(run2, boot=0)
fits = res2["variants"]["prog"]["fits"]
check("2 CPUs: no model fitted (fewer than 3 usable thread counts)",
      all(fits[k]["status"] == "not determined" and "a fit needs at least 3" in fits[k]["reason"]
          for k in ("step_usl", "step_amdahl")))
rows = {r["threads"]: r for r in res2["variants"]["prog"]["rows"]}
check("2 CPUs: Karp-Flatt at 2 with its interval", rows[2].get("karp_flatt_ci") is not None)
check("2 CPUs: 3 and 4 threads labelled oversubscribed", [n for n, r in rows.items() if r["oversubscribed"]] == [3, 4])

# --- 4. the unit in every table and plot ---------------------------------------------------
md = report.text(run2, res2, "/tmp/plots", [])
check("report: the measurement table names the unit", "| units/s median [min-max] |" in md)
check("report: the fits name the unit", "log units/s" in md and "gamma (units/s)" in md)
check("report: the sweep's metric and template named", "the metric: **units/s** (the report's units_per_s)" in md
      and "Template prog: `prog --threads {threads} --report {report}`" in md)
check("report: no tokens/s anywhere for a units/s sweep", "tokens/s" not in md)
d = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"analysis_generic_{os.getpid()}")
os.makedirs(d, exist_ok=True)
try:
    sp, ef = plots.plot_speedup(run2, res2, d), plots.plot_efficiency(run2, res2, d)
finally:
    for x in os.listdir(d):
        os.unlink(os.path.join(d, x))
    os.rmdir(d)
check("plots: the speedup plot names the unit and the program", "speedup of units/s" in sp and "prog strong-scaling" in sp)
check("plots: the efficiency plot names the unit, and no claim band", "serial fraction of units/s" in ef and "50x" not in ef)

# --- 5. --work: units over the process's wall time ----------------------------------------
wm = {"key": None, "work": 240.0, "unit": "units/s", "columns": "metric"}
meta, recs = amdahl_runs((1, 2), F, 2, 3, 0.02, seed=9, metric=wm)
for r in recs:
    r["report"] = None
run = runs.run_from_records(meta, recs)
got = [q["tps"] for p in run["points"].values() for q in p["reps"]]
want = [240.0 / r["wall_s"] for r in sorted(recs, key=lambda r: (r["threads"], r["rep"]))]
check("--work, strong: the metric is N / wall_s of each record", np.allclose(sorted(got), sorted(want), rtol=1e-12))
meta["options"]["scaling"] = "weak"
run = runs.run_from_records(meta, recs)
check("--work, weak: N x threads / wall_s",
      np.allclose(sorted(q["tps"] for q in run["points"][("prog", 2)]["reps"]),
                  sorted(480.0 / r["wall_s"] for r in recs if r["threads"] == 2), rtol=1e-12))
check("a sweep of old folders (no meta metric) reads tokens_per_s", runs.metric_of({})["key"] == "tokens_per_s")

print(f"({time.time() - t0:.1f} s)")
finish()
