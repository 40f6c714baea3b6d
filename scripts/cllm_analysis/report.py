"""report.py - REPORT.md of a results folder, from the run (runs.py) and its
analysis (analysis.py). text(...) returns the Markdown; write(...) puts it
in the folder atomically."""
import os

import numpy as np

from . import compare, models, stragglers
from .analysis import NOTE_PER_THREAD_KIB, NOTE_TOTAL_63_MB
from .runs import PHASES
from .util import fmetric, fmt_ci, fnum, ranges, write_atomic
from .verdict import loss_words

COVERAGE_NOTE = ("In simulation (tests/test_analysis_py.sh: at least 200 data sets per case; USL curves and "
                 "superlinear step-model curves over 1..63 threads, 3 and 5 reps, 2% and 5% multiplicative noise) "
                 "the 95% intervals of the 63-thread speedup hold the true value at least 93% of the time; the "
                 "test prints the figures.")
QTY = {"step_usl": ("whole step", "USL + amortisation"), "step_amdahl": ("whole step", "Amdahl + amortisation"),
       "plain_usl": ("whole step", "USL without the amortisation term"),
       "par_usl": ("parallel part", "USL"), "par_amdahl": ("parallel part", "Amdahl")}


def _row_cells(r):
    if not r["reps_ok"]:
        return f"| {r['threads']} | 0/{r['reps_failed']} | no successful run | | | | | | | | | {'over' if r['oversubscribed'] else ''} |"
    return (f"| {r['threads']} | {r['reps_ok']}/{r['reps_failed']} | {fmetric(r['tps_median'])} [{fmetric(r['tps_min'])}-{fmetric(r['tps_max'])}] | "
            f"{fnum(r.get('tps_cv'), '{:.1%}')} | "
            f"{fnum(r.get('speedup'), '{:.2f}')} [{fnum(r.get('speedup_min'), '{:.2f}')}-{fnum(r.get('speedup_max'), '{:.2f}')}] "
            f"{fmt_ci(r.get('speedup_ci'), '{:.2f}') if r.get('speedup_ci') else ''} | "
            f"{fnum(r.get('efficiency'), '{:.0%}')} | "
            f"{fnum(r.get('karp_flatt'))} {fmt_ci(r.get('karp_flatt_ci')) if r.get('karp_flatt_ci') else ''} | "
            f"{fnum(r.get('par_speedup'), '{:.2f}')} {fmt_ci(r.get('par_speedup_ci'), '{:.2f}') if r.get('par_speedup_ci') else ''} | "
            f"{fnum(r.get('cpu_util_timed'), '{:.2f}')} ({fnum(r.get('cpu_util_process'), '{:.2f}')}) | "
            f"{fnum(r.get('cpu_us_per_token_timed'), '{:.0f}')} ({fnum(r.get('cpu_us_per_token_process'), '{:.0f}')}) | "
            f"{fnum(r.get('rss_mib'), '{:.1f}')} | {'**over**' if r['oversubscribed'] else ''} |")


def _fit_row(v, key, f):
    q, m = QTY[key]
    if f is None:
        return f"| {v} | {q} | {m} | | no phase clocks | | | | | |"
    used = ranges(f["threads_used"]) or "-"
    if f.get("status") != "fit" and "sigma" not in f:
        return f"| {v} | {q} | {m} | {used} | {f['status']}: {f.get('reason')} | | | | | |"
    def par(nm):
        if nm == "kappa" and f["model"] == "amdahl":
            return "0 (Amdahl)"
        if nm in f.get("at_lower_bound", []):
            return f"{f[nm]:.3g} (at its bound 0)"
        if f["status"] != "fit" or f.get(nm + "_se") is None:
            return f"{f[nm]:.4g}"
        return f"{f[nm]:.4g} +- {f[nm + '_se']:.2g}"
    status = "fit" if f["status"] == "fit" else f"**{f['status']}**: {f.get('reason')}"
    lof = f.get("lack_of_fit")
    return (f"| {v} | {q} | {m} | {used} | {status} | {par('sigma')} | {par('kappa')} | "
            f"{f['speedup_target']:.3g} {fmt_ci(f.get('speedup_target_ci'), '{:.3g}')} | "
            f"{fnum(f.get('resid_sd_log'))} | {fnum(lof and lof['p'], '{:.2g}')} |"
            if "speedup_target" in f else
            f"| {v} | {q} | {m} | {used} | {status} | {par('sigma')} | {par('kappa')} | | {fnum(f.get('resid_sd_log'))} | "
            f"{fnum(lof and lof['p'], '{:.2g}')} |")


def fits_section(run, res):
    T = res["target_threads"]
    L = ["## Fits", "",
         f"Least squares on log {run['unit']} of every successful rep at the non-oversubscribed thread counts "
         "(scipy.optimize.least_squares, bounds sigma, kappa >= 0): the **log estimator**. The models, as throughput "
         "X(N) at N workers, D(N) = 1 + sigma (N-1) + kappa N (N-1):",
         "",
         "- parallel part (per-worker forward+backward throughput): USL X = lambda N / D(N); Amdahl: kappa = 0;",
         "- whole step, with the amortisation term written out: X = lambda N / ((1 - a) D(N) + a/N), a = the "
         "share of the 1-thread step that is divided over the N workers (weak scaling: the optimizer, measured from "
         "the phase clocks; 0 under strong scaling). USL and Amdahl describe throughput lost to contention (sigma) "
         "and coherency (kappa) among concurrent workers; the a/N term is work that shrinks per token as N grows, "
         "which neither can describe: fitted without it (the row 'without the amortisation term') they pin at their "
         "bounds on superlinear data.",
         "",
         f"Speedup at {T} threads with its 95% **profile likelihood interval** (F(1, dof) calibration on the log "
         f"estimator's residual variance; the bounds do not break it, and a zero-width interval is never given). "
         f"{COVERAGE_NOTE} sigma, kappa: +- the Jacobian standard error (as R usl reports it; none for a parameter "
         f"at its bound). Hygiene: fewer than 3 thread counts, no residual spread: not determined; residuals larger "
         f"than the spread of the reps (lack-of-fit F test p < {models.LOF_ALPHA}) or a parameter at its upper bound: "
         f"does not fit.", ""]
    for v in run["variants"]:
        fs = res["variants"][v]["fits"]
        if fs["amortised_note"]:
            L.append(f"- {v}: a = {fs['amortised_share']:.3f} ({fs['amortised_note']}).")
        else:
            L.append(f"- {v}: a = {fs['amortised_share']:.3f} {fmt_ci(fs['amortised_share_range'], '{:.3f}')} "
                     f"(range over the 1-thread reps).")
    L += ["", f"| variant | speedup of | model | threads fitted | status | sigma | kappa | speedup at {T} [95%] | "
              "resid sd (log) | lack-of-fit p |", "|---|---|---|---|---|---|---|---|---:|---:|"]
    for v in run["variants"]:
        for key in QTY:
            L.append(_fit_row(v, key, res["variants"][v]["fits"].get(key)))
    L += ["", "**The standard estimator** (R usl's, usl 2.0 and later: nonlinear least squares on throughput "
          "itself, X = gamma N / D(N), every rep an observation, 0 <= alpha, beta <= 1; no amortisation term, as in "
          "R usl). It weights the points differently from the log estimator, so its sigma can differ by a factor "
          "of 2 on the same data; no interval is labelled 95% for it (its coverage is not tested here).", "",
          f"| variant | gamma ({run['unit']}) | alpha (sigma) | beta (kappa) | resid SE ({run['unit']}) | dof | speedup at {T} |",
          "|---|---|---|---|---|---:|---:|"]
    for v in run["variants"]:
        g = res["variants"][v]["fits"]["nls_usl"]
        if "gamma" not in g:
            L.append(f"| {v} | {g.get('reason')} | | | | | |")
            continue
        b = lambda nm: " (at its bound)" if nm in g["at_bound"] else ""
        L.append(f"| {v} | {g['gamma']:.4g} +- {g['gamma_se']:.3g} | {g['alpha']:.4g} +- {g['alpha_se']:.2g}{b('alpha')} | "
                 f"{g['beta']:.3g} +- {g['beta_se']:.2g}{b('beta')} | {fnum(g['resid_se'])} | {g['dof']} | "
                 f"{g['speedup_target']:.1f} |")
    excl = {v: res["variants"][v]["excluded_oversubscribed"] for v in run["variants"]
            if res["variants"][v]["excluded_oversubscribed"]}
    L += ["", ("Excluded from every fit as oversubscribed (threads > " + f"{run['cpus']} CPUs): " +
               "; ".join(f"{v} {', '.join(map(str, ns))}" for v, ns in excl.items()) + ".") if excl
          else "No point is oversubscribed.", ""]
    return L


def projection_section(res):
    pr = res["projection"]
    T = res["target_threads"]
    L = ["## Projection: what would this run show on N cores?", "",
         "A model, not a measurement (scripts/cllm_analysis/project.py): the lock-free step at N workers from this "
         "run's per-phase costs at 1 and 2 threads, the bytes the combine moves (each worker's slice read from all N "
         "gradient buffers: 4P(N+1) bytes a step) and the optimizer's (28P), bounded by the machine's ceilings "
         "(STREAM triad at 1 thread and all CPUs, FMA peak). The spread is a percentile bootstrap of the 1- and "
         "2-thread reps: it leaves out the model's own error. It knows only what 1 and 2 threads show and the "
         "memory bandwidth: contention that grows with N (coherency traffic, the barrier, NUMA, SMT siblings) shows "
         "only in a sweep on the target, so read it as an upper bound.", ""]
    if pr.get("reason"):
        return L + [f"Not made: {pr['reason']}.", ""]
    c = pr.get("ceilings")
    L.append("- Ceilings: " + (f"DRAM triad {c['bw1']:.1f} GB/s at 1 thread, {c['bw_all']:.1f} GB/s at {c['n_all']}; "
                                f"FMA {c['peak1']:.0f} / {c['peak_all']:.0f} GFLOP/s (measured {c.get('time_utc')}, "
                                f"load {c.get('loadavg')})." if c else
                                "none (no ceilings.json in the results folder and no --ceilings): no bandwidth or FMA "
                                "ceiling for this machine, so its projection is an upper bound on the speedup."))
    ck = pr.get("check")
    if ck:
        p = ck["parts_s"]
        L.append(f"- Check against a measurement: from the 1-thread phases alone, the 2-thread step is projected at "
                 f"{ck['projected_step_s'] * 1e3:.2f} ms (compute {p['compute'] * 1e3:.2f}, combine {p['combine'] * 1e3:.2f}, "
                 f"optimizer {p['optimizer'] * 1e3:.2f}, waiting {p['waiting'] * 1e3:.2f}, other {p['other'] * 1e3:.2f}); "
                 f"measured {ck['measured_step_s'] * 1e3:.2f} ms: error {ck['error']:+.1%}.")
    for key, what in (("machine", "this machine"), ("target", "the target")):
        t = pr.get(key)
        if not t or not t.get("speedup"):
            continue
        n = len(t["speedup"])
        k = min(T, n)
        tg = t["target"]
        if tg and tg.get("machine"):
            desc = (f"{tg['name']}: {tg['packages']} packages, {tg['numa_nodes']} NUMA nodes, {tg['usable_cores']} usable "
                    f"cores, {tg['usable_pus']} usable PUs, workers where --pin cores puts them; "
                    f"{tg['dram_gbs_node']:g} GB/s per NUMA node{' (the default: the snapshot has no figure)' if tg['dram_default'] else ''}, "
                    + (f"{tg['link_gbs']:g} GB/s between nodes" if tg.get("link_gbs") else "no link limit given")
                    + f", {t['cross_node_share'][-1]:.0%} of the combine's reads cross nodes at {n}"
                    + (f", the slowest core kind and SMT siblings (no SMT gain assumed) make compute up to "
                       f"{max(t['slowest_kind_factor']):.2f}x slower" if max(t['slowest_kind_factor']) > 1 else "")
                    + "; cores assumed like this machine's")
        else:
            desc = (f"{tg['cores']} cores, {tg['dram_gbs']:g} GB/s DRAM, cores assumed like this machine's"
                    if tg else f"{n} CPUs")
        spr = t.get("speedup_spread") or {}
        L.append(f"- {what} ({desc}; base: the {t['base_threads']}-thread costs): whole-step speedup "
                 f"{t['speedup'][k - 1]:.2f}x at {k} threads {fmt_ci(spr.get(str(k)), '{:.2f}') if spr.get(str(k)) else ''}; "
                 f"step at {k}: " + ", ".join(f"{nm} {t['parts_s'][nm][k - 1] * 1e3:.2f} ms" for nm in
                                              ("compute", "combine", "optimizer", "waiting", "other")) + ".")
    return L + [""]


def oversubscribed_note(meta, opts):
    """What the sweep spent less on at the oversubscribed points (meta.json
    reps_oversubscribed, steps_oversubscribed): the bracket after the reps
    of the report's sweep line, "" when neither was used."""
    r, k = meta.get("reps_oversubscribed"), meta.get("steps_oversubscribed")
    parts = ([f"{r} reps: --reps-over"] if r else []) + (
        [f"{k} steps, not {opts.get('steps')}: --steps-over; tokens/s leaves out the warm-up step at every point, "
         f"so their {k - 1} timed steps widen its spread rather than shift it, while the whole-process figures (CPU "
         f"and CPU-us/token in brackets) and the per-step phase split, which count start-up and the warm-up step, "
         f"weigh those more there"] if k else [])
    return f" (at the oversubscribed points {'; '.join(parts)})" if parts else ""


def text(run, res, plots_dir, made, plots_note=""):
    meta, opts, host = run["meta"], run["options"], run["host"]
    first = next((q for p in run["points"].values() for q in p["reps"]), {}) or {}
    cfg = first.get("config") or {}
    L = [f"# Scaling report: {run['name']}", "",
         "Written by scripts/analyze (scripts/cllm_analysis) from this folder's runs.jsonl, meta.json and memory.csv "
         "(bench/RESULTS.md). Every interval labelled 95% is a 95% interval whose coverage the tests check; other "
         "spreads say what they are.", "",
         "## Verdict on the 40-50x claim", "", res["verdict"]["text"], ""]
    if res["warnings"]:
        L += ["## Warnings", ""] + [f"- {w}" for w in res["warnings"]] + [""]
    tb = meta.get("train_model_build") or {}
    tm = run.get("train_model_variants", run["variants"])
    if tm:      # the config's shapes: from a train_model report, not a template's
        first = next((q for (v, _), p in run["points"].items() if v in tm for q in p["reps"]), {}) or {}
        cfg = first.get("config") or {}
    L += ["## Machine and configuration", "",
          f"- CPU: {host.get('cpu_model')}; {host.get('online_cpus')} online, **{run['cpus']} in the affinity mask**; "
          f"governor {host.get('scaling_governor')}; kernel {(host.get('kernel') or {}).get('release')}",
          f"- BLAS: {meta.get('blas')}; train_model {tb.get('compiler')} {tb.get('cflags')}, git {tb.get('git')}; "
          f"child environment {meta.get('child_env') or 'not recorded (OPENBLAS_NUM_THREADS unset: train_model re-executed itself)'}"
          if tm else f"- Child environment {meta.get('child_env')} (a template's own settings are in each record's env)",
          (f"- Sweep: config **{run['config']}** (V={cfg.get('V')} C={cfg.get('C')} L={cfg.get('L')} NH={cfg.get('NH')} "
           f"F={cfg.get('F')} T={cfg.get('T')} B={cfg.get('B')}, {fnum(first.get('params'), '{:.0f}')} parameters), "
           f"{opts.get('steps')} steps, " if tm else "- Sweep: ") +
          f"{run['scaling']} scaling, {opts.get('reps')} reps" +
          oversubscribed_note(meta, opts) + f", threads {opts.get('threads')}, "
          f"variants {run['variants']}; the metric: **{run['unit']}** (" +
          (f"the report's {run['metric']['key']}" if run['metric'].get('key') else
           f"--work {run['metric']['work']:g} units {'in total' if run['scaling'] == 'strong' else 'per thread'} "
           f"over the process's wall time") + ")",
          *[f"- Template {n}: `{t}`" for n, t in run.get("templates", {}).items()],
          f"- Status {meta.get('status')}, {meta.get('runs_ok')} runs ok, {meta.get('runs_failed')} failed; "
          f"started {meta.get('first_start_time')}", "",
          "## Measurements", "",
          f"Whole-step speedup = {run['unit']} (" + ("timed steps" if run["unit"] == "tokens/s" else "the sweep's metric") +
          ") over the 1-thread point of the same variant (" +
          ("weak scaling: N threads do N times the work" if run["scaling"] == "weak" else
           "strong scaling: a fixed global batch") + "): the Hodges-Lehmann ratio (the median of the pairwise "
          "ratios of the reps) [min-max of those ratios] and its 95% interval from the Mann-Whitney test (Moses; "
          "it always contains the figure, and is left out where the reps cannot reach 95%). Karp-Flatt e = (1/s - 1/N)/(1 - 1/N) from that speedup and "
          "interval. Parallel part = per-worker forward+backward throughput over its 1-thread value. CPU = CPUs "
          "busy, (user+sys)/wall, over the timed steps (the report's timed_cpu_*) and, in brackets, over the whole "
          f"process; CPU-us per token likewise. cv = coefficient of variation of {run['unit']}. **over** = oversubscribed "
          f"(threads > {run['cpus']} CPUs): shown, never fitted.", ""]
    for v in run["variants"]:
        V = res["variants"][v]
        L += [f"### {v}", "", f"| threads | reps ok/failed | {run['unit']} median [min-max] | cv | whole-step speedup [min-max] [95%] | "
              "efficiency | Karp-Flatt [95%] | parallel part [95%] | CPU timed (process) | CPU-us/token timed (process) | "
              "peak RSS MiB | |", "|---:|---:|---|---:|---|---:|---|---|---|---|---:|---|"]
        L += [_row_cells(r) for r in V["rows"]] + [""]
    if any(r.get("step_ms") for v in run["variants"] for r in res["variants"][v]["rows"]):
        L += step_section(run, res)
    L += fits_section(run, res)
    L += projection_section(res)
    L += where_time_goes(run, res)
    L += stragglers.section(res)
    L += ["## Lock-free against locked", ""]
    rows = res.get("comparison")
    if rows:
        L += ["```", compare.table(rows, "tokens/s: candidate lockfree against baseline locked, per thread count",
                                   show_phases=True).rstrip(), "```", ""]
    else:
        L += ["Only one variant in this run: nothing to compare.", ""]
    L += ranks_section(res)
    L += memory_section(res)
    L += counters_section(run, res)
    if run.get("hyperfine"):
        L += ["## hyperfine beside the harness", "",
              "Wall time per run of the same commands: hyperfine's mean (scripts/hyperfine.sh) beside this harness's median.", "",
              "| variant | threads | hyperfine mean s | stddev s | harness median s | ratio |", "|---|---:|---:|---:|---:|---:|"]
        for row in run["hyperfine"]:
            L.append(f"| {row.get('variant')} | {row.get('threads')} | {row.get('mean_s')} | {row.get('stddev_s')} | "
                     f"{row.get('harness_wall_median_s')} | {row.get('mean_over_harness')} |")
        L.append("")
    L += ["## Plots", ""]
    rel = os.path.relpath(plots_dir, run["dir"])
    L += [f"![{p}]({rel}/{p}.png)" for p in made]
    if made:
        L.append(f"\n(SVG beside each PNG in `{rel}/`; the gnuplot scripts and data there redraw them.)")
    if plots_note:
        L.append(plots_note)
    L.append("")
    return "\n".join(L)


def step_section(run, res):
    L = ["## The step at N workers", "",
          "Milliseconds per worker per step (phase clocks, mean over workers and reps; all steps, the warm-up "
          "included): compute = forward + backward, combine = reduce, optimizer = AdamW over the worker's P/N "
          "parameters, waiting = barrier + lock wait, other = the rest of the step (the pool's start and end).", "",
          "| variant | threads | compute | combine | optimizer | waiting | other | step |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for v in run["variants"]:
        for r in res["variants"][v]["rows"]:
            s = r.get("step_ms")
            if s:
                L.append(f"| {v} | {r['threads']}{'*' if r['oversubscribed'] else ''} | " +
                         " | ".join(f"{s[k]:.2f}" for k in ("compute", "combine", "optimizer", "waiting", "other", "step")) + " |")
    return L + [""]


def where_time_goes(run, res):
    L = ["## Where the time goes", "",
         "Thread-seconds per token in each phase (the phase clocks summed over threads, median over reps; 'other' = "
         "threads x training wall time minus the phases). Under weak scaling the total stays flat when nothing is "
         "lost; its growth is the lost efficiency, split by phase (shown only when something was lost).", ""]
    for v in run["variants"]:
        rows = {r["threads"]: r for r in res["variants"][v]["rows"] if r.get("phase_us_per_token")}
        ns = [n for n in rows if not rows[n]["oversubscribed"] and n > 1]
        if 1 not in rows or not ns:
            continue
        n = max(ns)
        t1, tn = np.array(rows[1]["phase_us_per_token"]), np.array(rows[n]["phase_us_per_token"])
        L.append(f"- {v}, {n} threads against 1: {tn.sum():.3g} against {t1.sum():.3g} thread-us per token "
                 f"(ratio {t1.sum() / tn.sum():.2f}; 1.00 = nothing lost, above 1 = less thread time per token).")
        if (rows[n].get("efficiency") or 1) < 1 and (tn - t1).sum() > 0:
            L.append(f"  The growth ({(tn - t1).sum():+.3g} thread-us per token net) by phase: {loss_words(t1, tn)}.")
        share = tn / tn.sum()
        L.append(f"  Shares at {n} threads: " + ", ".join(f"{nm.replace('_', ' ')} {share[i]:.0%}"
                                                          for i, nm in enumerate(PHASES + ["other"]) if share[i] >= 0.005) + ".")
    for n, r in sorted({r["threads"]: r for r in res["variants"].get("locked", {}).get("rows", [])}.items()):
        if n > 1 and r.get("phase_us_per_token"):
            t = np.array(r["phase_us_per_token"])
            L.append(f"- locked, {n} threads{' (oversubscribed)' if r['oversubscribed'] else ''}: lock wait is "
                     f"{t[2] / t.sum():.0%} of all thread time.")
    return L + [""]


def ranks_section(res):
    """Ranks x threads (the mpi variant's --ranks grid; ranks.py)."""
    g = res.get("ranks")
    if not g:
        return []
    L = ["## Ranks x threads (MPI)", "",
         f"The {g['variant']} variant at R ranks x T threads, N = R x T workers. Speedup = tokens/s over the 1 rank x "
         "1 thread point, the Hodges-Lehmann ratio [95% Mann-Whitney interval]; per step (all steps, the warm-up included): the step, comm = worker 0 "
         "of each rank inside MPI calls (waiting for the slowest rank included: the exchange's exposed time), hidden = "
         "its messages in flight beside compute (--overlap on; mean over ranks, from the ranks' clocks, NA in runs "
         "without them), comm_sum = adding the rank sums; "
         "share = (comm + comm_sum) / step; payload = bytes rank 0 sends per step (its gradient sums and updated "
         "slice, core/REPORT.md), and payload / comm, a lower bound of the rate the transport reached. **over** = "
         "oversubscribed (N > the CPUs): shown, never fitted.", "",
         "| ranks | threads | N | reps ok/failed | tokens/s median [min-max] | speedup [95%] | efficiency | step ms | "
         "comm ms | hidden ms | comm_sum ms | share | payload bytes | payload/comm Gbit/s | |",
         "|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in g["rows"]:
        if not r["reps_ok"]:
            L.append(f"| {r['ranks']} | {r['threads']} | {r['workers']} | 0/{r['reps_failed']} | no successful run "
                     f"| | | | | | | | | | {'**over**' if r['over'] else ''} |")
            continue
        L.append(f"| {r['ranks']} | {r['threads']} | {r['workers']} | {r['reps_ok']}/{r['reps_failed']} | "
                 f"{r['tps_median']:.0f} [{r['tps_min']:.0f}-{r['tps_max']:.0f}] | {fnum(r.get('speedup'), '{:.2f}')} "
                 f"{fmt_ci(r.get('speedup_ci'), '{:.2f}') if r.get('speedup_ci') else ''} | "
                 f"{fnum(r.get('efficiency'), '{:.0%}')} | {fnum(r.get('step_ms'), '{:.2f}')} | "
                 f"{fnum(r.get('comm_ms'), '{:.3f}')} | {fnum(r.get('hidden_ms'), '{:.3f}')} | "
                 f"{fnum(r.get('comm_sum_ms'), '{:.3f}')} | "
                 f"{fnum(r.get('comm_share'), '{:.1%}')} | {fnum(r.get('bytes_per_step'), '{:.0f}')} | "
                 f"{fnum(r.get('payload_gbit_s_lower_bound'), '{:.2f}')} | {'**over**' if r['over'] else ''} |")
    L += ["", f"Fits over N workers (USL with the amortisation term a = {g['amortised_share']:.3g}, log estimator; "
          "the speedup at the target N with its 95% profile interval):", ""]
    for f in g["fits"].values():
        if f.get("status") == "fit":
            L.append(f"- {f['series']}: sigma {f['sigma']:.3g}, kappa {f['kappa']:.3g}, speedup at "
                     f"{f['target_threads']} {f['speedup_target']:.3g} {fmt_ci(f.get('speedup_target_ci'), '{:.3g}')}")
        else:
            L.append(f"- {f['series']}: {f['status']}: {f.get('reason')}")
    L += ["", "A process per worker (N ranks x 1 thread) against a thread per worker (1 rank x N threads), tokens/s "
          "ratio process / thread (> 1: processes faster) with its 95% interval and the comparison's verdict:", ""]
    if not g["comparison"]:
        L.append("No worker count has both: nothing to compare.")
    else:
        L += ["| N | ratio [95%] | verdict | thread step ms | process step ms | process comm ms | |",
              "|---:|---|---|---:|---:|---:|---|"]
        for c in g["comparison"]:
            L.append(f"| {c['workers']} | {fnum(c.get('ratio'), '{:.3f}')} {fmt_ci(c.get('ci'), '{:.3f}') if c.get('ci') else ''} "
                     f"| {c['verdict']} | {fnum(c.get('thread_step_ms'), '{:.2f}')} | {fnum(c.get('process_step_ms'), '{:.2f}')} "
                     f"| {fnum(c.get('process_comm_ms'), '{:.3f}')} | {'**over**' if c['over'] else ''} |")
    return L + [""]


def memory_section(res):
    mem = res["memory"]
    L = ["## Memory", ""]
    if mem["scaling"] == "strong":
        L += ["Strong scaling: each worker's context holds B/N sequences, so it shrinks as N grows and the slope of "
              "peak RSS over N is no per-thread size. The analytic total at N (the report's memory table) against "
              "the peak RSS at N, point by point:", "",
              "| variant | threads | analytic per thread MiB | analytic total MiB | peak RSS MiB | RSS - analytic MiB |",
              "|---|---:|---:|---:|---:|---:|"]
        for v, m in mem["variants"].items():
            for q in m["points"]:
                L.append(f"| {v} | {q['threads']}{'*' if q['over'] else ''} | {fnum(q['analytic_per_thread'] and q['analytic_per_thread'] / 2**20, '{:.2f}')} | "
                         f"{fnum(q['analytic_total'] and q['analytic_total'] / 2**20, '{:.1f}')} | {fnum(q['peak_rss'] and q['peak_rss'] / 2**20, '{:.1f}')} | "
                         f"{fnum(q['difference'] and q['difference'] / 2**20, '{:+.1f}')} |")
        L.append("")
    else:
        for v, m in mem["variants"].items():
            L.append(f"- {v}: per thread {fnum(m['analytic_per_thread'] and m['analytic_per_thread'] / 2**20, '{:.3f}')} MiB analytic "
                     f"(buffers each worker owns), {fnum(m.get('measured_per_thread') and m['measured_per_thread'] / 2**20, '{:.3f}')} MiB "
                     f"measured (slope of peak RSS over threads); shared {fnum(m['shared'] and m['shared'] / 2**20, '{:.2f}')} MiB; "
                     f"analytic total at 63 threads {fnum(m['shared'] and (m['shared'] + 63 * m['analytic_per_thread']) / 2**20, '{:.1f}')} MiB.")
    sc = mem["seed_config"]
    L.append(f"- The original note (config seed): 6.1 MB per thread ({NOTE_PER_THREAD_KIB} KiB), {NOTE_TOTAL_63_MB} MB at 63 threads." +
             (f" cllm's analytic figure for the same config: {sc['per_thread'] / 2**20:.2f} MiB per thread, "
              f"{sc['total_63'] / 2**20:.0f} MiB at 63 threads (the note left out the per-thread gradient buffer; "
              f"source: {sc['source']})." if sc else " (cllm's seed-config figure was not available: no train_model binary to ask.)"))
    L.append("- Measured per-thread memory is meaningful only when the buffers are large against run-to-run RSS noise.")
    return L + [""]


def counters_section(run, res):
    L = ["## Counters", ""]
    L.append("CPU time per token over the timed steps is in the measurement tables (CPU-us/token). Hardware counters "
             "(perf_event_open on the child) cover the whole process: start, model init and the warm-up step too.")
    c = res["counters"]
    if c["available"]:
        for v in run["variants"]:
            L.append(f"- {v}: " + ", ".join(f"{r['threads']}{'*' if r['oversubscribed'] else ''}: IPC {fnum(r.get('ipc'), '{:.2f}')}, "
                                            f"LLC/token {fnum(r.get('llc_per_token'), '{:.3g}')}" for r in res["variants"][v]["rows"] if r["reps_ok"]))
    else:
        L.append(f"Hardware counters not available, so the counters plot was not made: {c['reason']}.")
    return L + [""]


def write(run, res, plots_dir, made, plots_note=""):
    write_atomic(os.path.join(run["dir"], "REPORT.md"), text(run, res, plots_dir, made, plots_note))
