#!/usr/bin/python3
"""analysis_checks.py - checks of the analysis package (scripts/cllm_analysis)
on data built in memory: the reference implementations' published
coefficients, the coverage of every interval labelled 95% in simulation,
fit hygiene, superlinear data, the comparison's verdicts, the projection on
the committed reference run, the loader's refusals and the memory of strong
scaling. No check depends on this machine's speed: the data are synthetic,
published or committed. Prints the figures it checks and a closing
"N passed, N failed"; exits 1 on any failure. Run by tests/test_analysis_py.sh.
"""
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "scripts"))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import analysis_synth  # noqa: E402
from cllm_analysis import analysis, compare, models, project, runs, stats  # noqa: E402
from check import check, finish  # noqa: E402


def close(a, b, rel):
    return abs(a - b) <= rel * abs(b)


# --- 1. R usl (usl 2.0+, nonlinear least squares on throughput): the package's
# published output. Data: usl's bundled specsdm91 (Gunther, Guerrilla Capacity
# Planning; SPEC SDM91 on a 16-CPU Sun SPARCcenter 2000) and raytracer (GCaP;
# BRL-CAD on an SGI Origin 2000). specsdm91's values are confirmed by the
# package's own tests: fitted + residuals (tests/fitted.Rout.save,
# tests/residuals.Rout.save) and efficiency = X / N / gamma
# (tests/efficiency.Rout.save) give them back to the printed digits.
SPEC_N = [1, 18, 36, 72, 108, 144, 216]
SPEC_X = [64.9, 995.9, 1652.4, 1853.2, 1828.9, 1775.0, 1702.2]
RAY_N = [1, 4, 8, 12, 16, 20, 24, 28, 32, 48, 64]
RAY_X = [20, 78, 130, 170, 190, 200, 210, 230, 260, 280, 310]
# smoeding/usl tests/usl-nlxb.Rout.save and tests/summary.Rout.save (usl 2.0, R 3.6.2):
#   alpha 0.0277285 (se 0.0091217), beta 0.0001044 (se 0.0000199), gamma 89.9952330 (se 14.2134894),
#   residual standard error 82.85 on 4 degrees of freedom
PUB_SPEC = {"alpha": (0.0277285, 0.0091217), "beta": (0.0001044, 0.0000199), "gamma": (89.9952330, 14.2134894)}
f = models.fit_nls_throughput(SPEC_N, SPEC_X)
print("R usl published (specsdm91) against ours:")
for nm, (pv, pse) in PUB_SPEC.items():
    print(f"  {nm:5s} {pv:<12g} se {pse:<10g}  ours {f[nm]:.7g} se {f[nm + '_se']:.7g}")
    check(f"specsdm91 {nm} = {pv} (ours {f[nm]:.7g})", close(f[nm], pv, 5e-4 if nm == "beta" else 2e-5))
    check(f"specsdm91 {nm} se = {pse} (ours {f[nm + '_se']:.7g})", close(f[nm + "_se"], pse, 3e-3 if nm == "beta" else 2e-5))
check(f"specsdm91 residual standard error 82.85 on 4 dof (ours {f['resid_se']:.4g} on {f['dof']})",
      close(f["resid_se"], 82.85, 1e-4) and f["dof"] == 4)
# tests/confint.Rout.save: coef alpha 0.0578, beta 0.0000, gamma 21.8488; confint (qt(0.95, n - 1)):
#   alpha [0.033677, 0.081864], beta [-0.000214, 0.000214], gamma [17.868380, 25.829306]
g = models.fit_nls_throughput(RAY_N, RAY_X)
ci = models.r_usl_confint(g, len(RAY_N))
print(f"R usl published (raytracer): alpha 0.0578 beta 0.0000 gamma 21.8488; ours alpha {g['alpha']:.4f} "
      f"beta {g['beta']:.4f} gamma {g['gamma']:.4f}; confint alpha [0.033677, 0.081864] ours "
      f"[{ci['alpha'][0]:.6f}, {ci['alpha'][1]:.6f}], gamma [17.868380, 25.829306] ours "
      f"[{ci['gamma'][0]:.6f}, {ci['gamma'][1]:.6f}]")
check("raytracer alpha 0.0578", round(g["alpha"], 4) == 0.0578)
check("raytracer beta 0.0000, at its bound", round(g["beta"], 4) == 0 and "beta" in g["at_bound"])
check("raytracer gamma 21.8488", round(g["gamma"], 4) == 21.8488)
for nm, (lo, hi) in (("alpha", (0.033677, 0.081864)), ("beta", (-0.000214, 0.000214)), ("gamma", (17.868380, 25.829306))):
    check(f"raytracer confint {nm} [{lo}, {hi}]", round(ci[nm][0], 6) == lo and round(ci[nm][1], 6) == hi)
# usl 1.x's default (GCaP 5.2.3, linear least squares of the quadratic): README.md and
# tests/t03.Rout.save of usl 1.x: sigma 1.705e-02, kappa 7.892e-05 on specsdm91
q = models.fit_gunther_quadratic(SPEC_N, SPEC_X)
print(f"usl 1.x published (specsdm91): sigma 1.705e-02 kappa 7.892e-05; ours {q['sigma']:.4g} {q['kappa']:.4g}")
check("usl 1.x sigma 1.705e-02", round(q["sigma"], 5) == 0.01705)
check("usl 1.x kappa 7.892e-05", round(q["kappa"] * 1e8) == 7892)
lg = models.fit_log({n: [x] for n, x in zip(SPEC_N, SPEC_X)}, True, 0.0, 63)
print(f"log estimator on specsdm91: sigma {lg['sigma']:.4g} (standard estimator {f['alpha']:.4g}: ratio "
      f"{f['alpha'] / lg['sigma']:.2f})")
check("the log estimator's sigma differs from R usl's on specsdm91 (about 2x)", 1.5 < f["alpha"] / lg["sigma"] < 2.5)

# --- 2. coverage: the interval labelled 95% holds the true 63-thread speedup
TH = (1, 2, 4, 8, 16, 32, 63)
CASES = [("USL sigma 0.03 kappa 2e-4", 0.03, 2e-4, 0.0), ("USL sigma 0.005 kappa 1e-5", 0.005, 1e-5, 0.0),
         ("superlinear (case 1: a = 0.15)", 0.003, 2e-6, 0.15)]
D = 300
t0 = time.time()
print(f"coverage over {D} data sets per case (threads {','.join(map(str, TH))}): fit = profile interval of the "
      f"step model's speedup at 63, measured = the Hodges-Lehmann ratio's Mann-Whitney interval at 63; no interval "
      "counts as a miss")
for ci_, (name, S, K, A) in enumerate(CASES):
    true = float(models.speedup(63, S, K, A))
    for reps in (3, 5):
        for noise in (0.02, 0.05):
            rng = np.random.default_rng(1000 * ci_ + 10 * reps + int(noise * 100))
            hit = hitm = zero = nd = nm = inside = 0
            for _ in range(D):
                mult = np.exp(rng.normal(0, noise, (len(TH), reps)))
                data = {n: 2000.0 * float(models.speedup(n, S, K, A)) * mult[i] for i, n in enumerate(TH)}
                # a as the analysis measures it: the optimizer's share, median over the 1-thread reps
                ah = A * float(np.median(np.exp(rng.normal(0, noise, reps)))) if A else 0.0
                fit = models.fit_log(data, True, ah)
                if fit["status"] == "fit":
                    lo, hi = fit["speedup_target_ci"]
                    hit += lo <= true <= hi
                    zero += not hi > lo
                else:
                    nd += 1
                ms, wci, _ = stats.hl_ratio_ci(data[1], data[63])
                hitm += wci is not None and wci[0] <= true <= wci[1]
                nm += wci is None
                inside += wci is None or wci[0] <= ms <= wci[1]
            print(f"  {name:32s} {reps} reps {noise:.0%} noise: true {true:5.1f}x  fit {hit / D:.1%}  "
                  f"measured {hitm / D:.1%}  (no interval {nd}, measured none {nm}, zero-width {zero})")
            check(f"coverage {name}, {reps} reps, {noise:.0%}: fit {hit / D:.1%} >= 93%", hit >= 0.93 * D)
            check(f"the measured speedup inside its own interval ({name}, {reps} reps)", inside == D)
            if reps >= 4:
                check(f"coverage {name}, {reps} reps, {noise:.0%}: measured {hitm / D:.1%} >= 93%", hitm >= 0.93 * D)
            else:     # 3 and 3 reps: no distribution-free interval reaches 95% (at most 90%)
                check(f"no measured 95% interval claimed from {reps} reps", nm == D)
            check(f"no zero-width interval ({name}, {reps} reps, {noise:.0%})", zero == 0)
print(f"  ({time.time() - t0:.1f} s)")

# --- 3. superlinear data shaped like case 1 (2.15x at 2 threads, Karp-Flatt < 0)
A, S, K = 0.15, 0.01, 3e-4                 # superlinear at 2, 26x at 63: the claim is false here
true = float(models.speedup(63, S, K, A))
print(f"superlinear data: {models.speedup(2, S, K, A):.2f}x at 2 threads, true {true:.1f}x at 63")
for reps in (3, 5):
    recs = analysis_synth.records([1, 2, 4, 8, 16, 32], reps, 32, sigma=S, kappa=K, amort=A, noise=0.03, seed=7 + reps)
    run = runs.run_from_records(analysis_synth.meta([1, 2, 4, 8, 16, 32], reps, 32), recs)
    res = analysis.analyze(run, boot=0)
    V = res["variants"]["lockfree"]["fits"]
    cls = res["verdict"]["class"]
    print(f"  {reps} reps: verdict {cls}; step model {V['step_usl']['status']} "
          f"{V['step_usl'].get('speedup_target_ci')}; without the amortisation term {V['plain_usl']['status']} "
          f"{V['plain_usl'].get('speedup_target_ci') or V['plain_usl'].get('reason')}")
    check(f"superlinear, {reps} reps: no false 'supported' (true {true:.1f}x)", cls in ("contradicted", "undecided"))
    for key in ("step_usl", "plain_usl", "step_amdahl", "par_usl"):
        c = V[key].get("speedup_target_ci")
        check(f"superlinear, {reps} reps: {key} gives no zero-width interval ({c})", c is None or c[1] > c[0])
    check(f"superlinear, {reps} reps: the step model's interval holds {true:.1f}",
          V["step_usl"]["speedup_target_ci"][0] <= true <= V["step_usl"]["speedup_target_ci"][1])
# the case: 2 CPUs, 2.15x at 2 threads: never "Supported"
recs = analysis_synth.records([1, 2, 4, 63], 3, 2, sigma=0.0, kappa=0.0, amort=0.14, noise=0.02, seed=3)
res = analysis.analyze(runs.run_from_records(analysis_synth.meta([1, 2, 4, 63], 3, 2), recs), boot=0)
r2 = next(r for r in res["variants"]["lockfree"]["rows"] if r["threads"] == 2)
check(f"2 CPUs at {r2['speedup']:.2f}x and Karp-Flatt {r2['karp_flatt']:.3f}: 'not testable'",
      res["verdict"]["class"] == "not testable" and r2["karp_flatt"] < 0)
check("2 CPUs: the verdict names the amortisation term", "amortisation term" in res["verdict"]["text"])

# --- 4. fit hygiene
few = models.fit_log({1: [1.0, 1.1], 2: [1.9, 2.0]})
check("2 thread counts: not determined", few["status"] == "not determined" and "at least 3" in few["reason"])
exact = models.fit_log({n: [1000 * float(models.speedup(n, 0.02, 1e-4))] * 3 for n in TH})
check(f"no spread at all: not determined ({exact.get('reason')})", exact["status"] == "not determined")
rng = np.random.default_rng(5)
bent = {n: 1000 * n ** 0.6 * (1.6 if n == 8 else 1.0) * np.exp(rng.normal(0, 0.01, 5)) for n in TH}
lof = models.fit_log(bent)
check(f"residuals far beyond the rep spread: does not fit ({lof.get('reason')})", lof["status"] == "does not fit")
sl = {n: 1000 * n * (1.1 if n > 1 else 1.0) * np.exp(rng.normal(0, 0.01, 5)) for n in TH}
pl = models.fit_log(sl)
check(f"superlinear data, USL without the amortisation term: pinned at 0, does not fit ({pl.get('reason')})",
      pl["status"] == "does not fit" and "sigma" in pl["at_lower_bound"])

# --- 5. the comparison: 3 reps cannot decide, never "same"
base3, cand3 = [1900, 1850, 2000], [3600, 3500, 3800]        # 1.89x, as on the reference run
r = compare.compare_point(base3, cand3)
print(f"compare 3 against 3 reps at {r['ratio']:.2f}x: {r['verdict']} (min p {r['min_p']:.3g})")
check("3 reps: 'undecidable (3 reps; at least 4 needed)'", r["verdict"] == "undecidable (3 reps; at least 4 needed)")
check("reps needed for alpha 0.05: 4 (1/C(8,4) = 1/70)", stats.reps_needed(0.05) == 4)
r5 = compare.compare_point([1900, 1850, 2000, 1950, 1880], [3600, 3500, 3800, 3700, 3550])
check(f"5 reps at 1.9x: faster ({r5['verdict']}, p {r5['p_faster']:.3g})", r5["verdict"] == "faster")
same = compare.compare_point([1000, 1010, 990, 1005, 995], [1002, 998, 1007, 993, 1001], threshold=0.05)
check(f"identical-looking runs: equivalent within the threshold ({same['verdict']})", same["verdict"].startswith("equivalent"))
noisy = compare.compare_point([1000, 1300, 800, 1100, 900], [1050, 1250, 850, 1150, 950])
check(f"noisy, overlapping: 'no significant difference' ({noisy['verdict']})", noisy["verdict"] == "no significant difference")
check("no verdict says 'same'", all("same" not in x["verdict"] for x in (r, r5, same, noisy)))
mw = stats.mann_whitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])
check(f"Mann-Whitney exact: p = 1/252 for full separation of 5 and 5 ({mw['p_greater']:.6f})",
      abs(mw["p_greater"] * 252 - 1) < 1e-9 and mw["exact"] and mw["U"] == 25)
rows = [dict(compare.compare_point([], []), gated=True, cand_variant="lockfree", threads=2, oversubscribed=False)]
code, msg = compare.gate(rows)
check(f"no data on any gated row: exit 1, no 'ok' ({msg})", code == 1 and "ok" not in msg)
rows = [dict(r, gated=True, cand_variant="lockfree", threads=2, oversubscribed=False)]
code, msg = compare.gate(rows, expect_faster=True)
check(f"3 reps under --expect-faster: exit 3, undecidable ({msg})", code == 3 and "UNDECIDABLE" in msg)
# the Welch interval of a ratio: coverage on log-normal data, 3 and 5 reps
rng = np.random.default_rng(11)
for reps in (3, 5):
    b = 1000 * np.exp(rng.normal(0, 0.05, (2000, reps)))
    c = 1500 * np.exp(rng.normal(0, 0.05, (2000, reps)))
    _, cis, _ = stats.geo_ratio_ci(b, c)
    cov = float(np.mean((cis[:, 0] <= 1.5) & (1.5 <= cis[:, 1])))
    print(f"Welch 95% interval of a ratio, {reps} reps: coverage {cov:.1%} over 2000 data sets")
    check(f"Welch interval coverage, {reps} reps >= 93% ({cov:.1%})", cov >= 0.93)
for reps in (5, 8):
    b = 1000 * np.exp(rng.normal(0, 0.05, (500, reps)))
    c = 1500 * np.exp(rng.normal(0, 0.05, (500, reps)))
    res = [stats.hl_ratio_ci(x, y) for x, y in zip(b, c)]
    cov = float(np.mean([ci[0] <= 1.5 <= ci[1] for _, ci, _ in res]))
    inside = all(ci[0] <= s_ <= ci[1] for s_, ci, _ in res)
    print(f"Hodges-Lehmann 95% interval of a ratio, {reps} reps: coverage {cov:.1%} over 500 data sets "
          f"(exact coverage {res[0][2]:.1%})")
    check(f"Hodges-Lehmann interval coverage, {reps} reps >= 93% ({cov:.1%})", cov >= 0.93)
    check(f"every Hodges-Lehmann ratio inside its interval ({reps} reps)", inside)

# --- 6. the projection on real data of a 2-CPU machine: from the 1-thread phases
# alone, the 2-thread step within 10% of the measured one. Committed data rather
# than a live sweep: a 10% check on timings taken under other load would fail on a
# busy machine for reasons that are not the model's. The data: tests/data/
# scale-2core-20261126 (make bench of 2026-11-26 on the 2-vCPU AMD EPYC VM, family
# 26 model 2; ceilings measured on that VM kind); the error on today's committed
# reference run is printed beside it (README and the session note say why it is
# larger there: both vCPUs busy slow each worker's compute by 7-21%, which 1-thread
# data cannot show).
ref = runs.load_folder(os.path.join(REPO, "tests", "data", "scale-2core-20261126"))
CEIL = {"bw1": 35.3, "bw_all": 36.2, "n_all": 2, "peak1": 265.0, "peak_all": 235.0}
for ceil in (None, CEIL):
    res = analysis.analyze(ref, boot=200, ceil=ceil, target={"cores": 64, "dram_gbs": 200.0})
    ck = res["projection"]["check"]
    print(f"projection from 1 thread, {'with' if ceil else 'without'} ceilings: 2-thread step "
          f"{ck['projected_step_s'] * 1e3:.2f} ms projected, {ck['measured_step_s'] * 1e3:.2f} ms measured "
          f"({ck['error']:+.1%}); target 64 cores at 63: {res['projection']['target']['speedup'][62]:.1f}x "
          f"{res['projection']['target'].get('speedup_spread', {}).get('63')}")
    check(f"projection within 10% at 2 threads ({'with' if ceil else 'without'} ceilings: {ck['error']:+.1%})",
          abs(ck["error"]) <= 0.10)
    check("the projection is labelled a projection in the verdict", "a model, not a measurement" in res["verdict"]["text"])
cur_dir = os.path.join(REPO, "results", "reference-2core")
cur = analysis.analyze(runs.load_folder(cur_dir), boot=0,
                       ceil=project.load_ceilings(os.path.join(cur_dir, "ceilings.json")))
ck = cur["projection"]["check"]
print(f"    (results/reference-2core, not checked: 2-thread step {ck['projected_step_s'] * 1e3:.2f} ms projected, "
      f"{ck['measured_step_s'] * 1e3:.2f} ms measured, {ck['error']:+.1%}; waiting "
      f"{ck['parts_s']['waiting'] * 1e3:.2f} ms projected)")
check("the reference run: 'not testable' on 2 CPUs", cur["verdict"]["class"] == "not testable")
for bad in ("cores=0,dram-gbs=10", "cores=64", "cores=64,dram=3", "cores=x,dram-gbs=1"):
    try:
        project.parse_target(bad)
        check(f"--project {bad} refused", False)
    except ValueError:
        check(f"--project {bad} refused", True)

# the barrier wait the projection expects from 1-thread step times (order
# statistics): steps of 0 and 1 s, two workers wait 0.25 s on average; equal
# steps, none; normal steps, E[max of 2] = 1/sqrt(pi) standard deviations
rng = np.random.default_rng(7)
check("jitter: steps 0, 1 -> 0.25 s at 2 workers", abs(project.jitter_wait([[0.0, 1.0]], 2) - 0.25) < 1e-12)
check("jitter: equal steps -> 0", abs(project.jitter_wait([[0.02] * 10], 8)) < 1e-15)
check("jitter: normal steps -> sigma / sqrt(pi) at 2", close(project.jitter_wait([rng.normal(1, 0.01, 200000)], 2),
                                                              0.01 / np.sqrt(np.pi), 0.01))
check("jitter: grows with N", project.jitter_wait([rng.normal(1, 0.01, 1000)], 63)
      > project.jitter_wait([rng.normal(1, 0.01, 1000)], 2) > 0)
c1 = {"compute": 0.01, "combine": 0.001, "optimizer": 0.002, "waiting": 0.0, "other": 0.0, "step": 0.013,
      "step_times": [[0.012, 0.014]]}
shape1 = {"P": 1e5, "A": 1e5, "flops": 0.0, "tokens_per_step_1": 64}
mach0 = project.machine_model(None, 2)
w2 = project.step_time(np.array([1.0, 2.0]), c1, None, shape1, mach0)["waiting"]
check(f"1-thread projection: waiting = W_1 + J(N) ({w2})", w2[0] == 0.0 and abs(w2[1] - 0.0005) < 1e-12)

# --- 7. the loader refuses what build/scale did not write
try:
    runs.load_folder(os.path.join(REPO, "results", "reference-2core-peers"))
    check("a peers folder is refused", False)
except runs.NotScaleFolder as e:
    check(f"a peers folder is refused ({e})", "peers" in str(e))
try:
    runs.run_from_records({"tool": "hyperfine"}, [])
    check("meta.json of another tool is refused", False)
except runs.NotScaleFolder:
    check("meta.json of another tool is refused", True)

# --- 8. memory: strong scaling point by point, weak scaling by the slope
for scaling in ("strong", "weak"):
    recs = analysis_synth.records([1, 2, 4], 2, 8, scaling=scaling, seed=4)
    res = analysis.analyze(runs.run_from_records(analysis_synth.meta([1, 2, 4], 2, 8, scaling=scaling), recs,
                                                 analysis_synth.memory_rows(recs)), boot=0)
    m = res["memory"]["variants"]["lockfree"]
    if scaling == "strong":
        check("strong scaling: no per-thread slope", "measured_per_thread" not in m)
        check("strong scaling: analytic total and peak RSS per point",
              all(q["analytic_total"] and q["peak_rss"] and q["difference"] is not None for q in m["points"]))
    else:
        check(f"weak scaling: the RSS slope ({m['measured_per_thread']:.0f}) near the analytic per-thread size "
              f"({m['analytic_per_thread']:.0f})", close(m["measured_per_thread"], 1.02 * m["analytic_per_thread"], 0.01))

# --- 9. another config: the verdict says so
recs = analysis_synth.records(TH, 3, 64, config="bench", seed=9)
res = analysis.analyze(runs.run_from_records(analysis_synth.meta(TH, 3, 64, config="bench"), recs), boot=0)
check(f"config bench: the verdict is not about the claim ({res['verdict']['class']})",
      res["verdict"]["class"] == "not the claim's config")

# --- 10. ranks x threads (the mpi variant's --ranks grid): fits over workers,
# a process per worker against a thread per worker, the comm per step
from cllm_analysis import ranks as mranks  # noqa: E402
RK, TK = [1, 2, 4, 8], [1, 2, 4]
recs = analysis_synth.rank_records(RK, TK, 5, 64, seed=10)
run = runs.run_from_records(dict(analysis_synth.meta(TK, 5, 64, variants=("mpi",)), ), recs)
check("ranks: runs.py's points are the one-rank ones only",
      sorted(run["points"]) == [("mpi", t) for t in TK] and mranks.has_ranks(run))
res = analysis.analyze(run, boot=0)
g = res["ranks"]
check(f"ranks: {len(g['rows'])} rows of R x T, workers = R x T",
      len(g["rows"]) == 12 and all(r["workers"] == r["ranks"] * r["threads"] for r in g["rows"]))
r41 = next(r for r in g["rows"] if (r["ranks"], r["threads"]) == (4, 1))
check(f"ranks: comm per step is worker 0's MPI time ({r41['comm_ms']:.4f} ms = 20% of {r41['step_ms']:.4f} ms)",
      close(r41["comm_ms"], 0.2 * r41["step_ms"], 1e-9) and close(r41["comm_share"], 0.2, 1e-9))
check("ranks: no comm at one rank", all(r["comm_ms"] == 0 for r in g["rows"] if r["ranks"] == 1))
fp, ft = g["fits"]["processes"], g["fits"]["threads"]
check(f"ranks: the process series' sigma {fp.get('sigma', float('nan')):.3f} near the true 0.08, the thread "
      f"series' {ft.get('sigma', float('nan')):.3f} near 0.02",
      fp["status"] == "fit" and abs(fp["sigma"] - 0.08) < 0.02 and ft["status"] == "fit" and abs(ft["sigma"] - 0.02) < 0.015)
cmp4 = next(c for c in g["comparison"] if c["workers"] == 4)
true4 = analysis_synth.speedup(4, 0.08, 0) / analysis_synth.speedup(4, 0.02, 0)
check(f"ranks: 4 processes against 4 threads: ratio {cmp4['ratio']:.3f} (true {true4:.3f}), {cmp4['verdict']}",
      cmp4["ci"][0] <= true4 <= cmp4["ci"][1] and cmp4["verdict"] == "slower")
check("ranks: the comparison covers N = 2, 4 (8 threads x 1 rank is not in the grid)",
      [c["workers"] for c in g["comparison"]] == [2, 4])

# --- 10b. the derived fields are read as build/scale recorded them, never
# recomputed: records whose derived fields deliberately disagree with their
# raw ones come out as recorded; a record without them (an old folder) gets
# them derived once, in runs.recorded.
recs = analysis_synth.records([1, 2, 4], reps=3, cpus=8, noise=0.0, variants=("lockfree",))
for r in recs:
    r["workers"] = r["threads"]
    r["usable_cpus"] = 8
    r["metric"] = 1000.0 * r["threads"] + 7          # not tokens_per_s, not work x workers / wall
    r["timed_cpu_s"] = 123.0 + r["threads"]          # not timed_cpu_user_s + timed_cpu_sys_s
    r["oversubscribed"] = r["threads"] == 4          # 4 threads, 8 CPUs in the mask
run = runs.run_from_records(analysis_synth.meta([1, 2, 4], 3, 8, variants=("lockfree",)), recs)
p4 = run["points"][("lockfree", 4)]
check("a recorded oversubscribed (true at 4 threads, 8 CPUs in the mask) is read as recorded", p4["over"] is True
      and run["points"][("lockfree", 2)]["over"] is False)
check("the recorded metric is read, not recomputed from the report",
      sorted({q["tps"] for q in p4["reps"]}) == [4007.0])
check("the recorded timed_cpu_s is read", {q["timed_cpu_s"] for q in p4["reps"]} == {127.0})
res = analysis.analyze(run, boot=50)
row4 = next(r for r in res["variants"]["lockfree"]["rows"] if r["threads"] == 4)
check(f"the analysis keeps the recorded figures (tps median {row4.get('tps_median')}, oversubscribed "
      f"{row4.get('oversubscribed')})", row4.get("tps_median") == 4007.0 and row4.get("oversubscribed") is True)
mrecs = analysis_synth.rank_records([1, 2], [1, 2], reps=2, cpus=8)
for r in mrecs:
    r["workers"] = 99 if int(r.get("ranks") or 1) * int(r["threads"]) == 4 else int(r.get("ranks") or 1) * int(r["threads"])
    r["oversubscribed"] = int(r.get("ranks") or 1) == 2 and int(r["threads"]) == 2
mrun = runs.run_from_records(analysis_synth.meta([1, 2], 2, 8), mrecs)
from cllm_analysis import ranks as ranks_of  # noqa: E402
mp = ranks_of.points(mrun)
q22 = next(p for k, p in mp.items() if k[1] == 2 and k[2] == 2)
check(f"ranks: the recorded workers ({q22['workers']}) and oversubscribed ({q22['over']}) are read",
      q22["workers"] == 99 and q22["over"] is True)
old = dict(recs[0])
for k in ("metric", "timed_cpu_s", "workers", "oversubscribed"):
    old.pop(k)
q = runs.rep_of(old, runs.DEFAULT_METRIC)
check("an old record without the fields: the metric is its report's tokens_per_s, timed CPU its user + sys",
      q["tps"] == old["report"]["tokens_per_s"] and
      q["timed_cpu_s"] == old["report"]["timed_cpu_user_s"] + old["report"]["timed_cpu_sys_s"])
check("an old record without oversubscribed: workers > CPUs in the mask",
      runs.recorded(dict(old, threads=9), "oversubscribed", cpus=8) is True and
      runs.recorded(old, "oversubscribed", cpus=8) is False)

# --- 11. the package has no import cycle
import re  # noqa: E402
pkg = os.path.join(REPO, "scripts", "cllm_analysis")
deps = {}
for fn in os.listdir(pkg):
    if fn.endswith(".py") and fn != "__init__.py":
        src = open(os.path.join(pkg, fn)).read()
        mods = set(re.findall(r"^from \.(\w+) import", src, re.M))
        for line in re.findall(r"^from \. import (.+)$", src, re.M):
            mods |= {m.strip() for m in line.split(",")}
        deps[fn[:-3]] = mods
seen = set()
def visit(m, stack=()):
    if m in stack:
        return False
    if m in seen:
        return True
    ok = all(visit(d, stack + (m,)) for d in deps.get(m, ()))
    seen.add(m)
    return ok
check(f"no import cycle among {len(deps)} modules ({sorted(deps)})", all(visit(m) for m in deps))

finish()
