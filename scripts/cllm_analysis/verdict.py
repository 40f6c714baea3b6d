"""verdict.py - the verdict on the original note's claim, worded from the
analysis (analysis.py's result): 40-50x at 63 threads once the model lock
is gone, for config seed under weak scaling. The claim is about the whole
step's throughput (tokens/s, what a user sees); the verdict states that
speedup and the parallel part's beside it, writes out the amortisation term
that separates them, and says which figures are measured and which are a
model's (a fit's extrapolation or the projection).

Classes: supported (the 95% interval of the whole-step speedup at 63 is at
or above 40), contradicted (below 40), undecided (it straddles 40), not
determined (no fit and no 63-thread measurement), not testable (fewer than
3 CPUs), no data; for a sweep of another config or scaling the class says
so ("not the claim's config") and the figures are given for that config.
"""
import numpy as np

from . import models
from .runs import PHASES
from .util import fmt_ci, fnum, plural, ranges

CLAIM_LO, CLAIM_HI = 40.0, 50.0


def loss_words(t1, tn, min_share=0.01):
    """'barrier wait 60%, other 35%': each phase's share of the thread-time per
    token that grew from 1 to N threads (phases that shrank are left out)."""
    extra = np.maximum(np.asarray(tn) - np.asarray(t1), 0)
    if extra.sum() <= 0:
        return ""
    parts = sorted(((extra[i], nm) for i, nm in enumerate(PHASES + ["other"]) if extra[i] > 0), reverse=True)
    return ", ".join(f"{nm.replace('_', ' ')} {e / extra.sum():.0%}" for e, nm in parts if e / extra.sum() >= min_share)


def classify(ci):
    lo, hi = ci
    return "supported" if lo >= CLAIM_LO else "contradicted" if hi < CLAIM_LO else "undecided"


def whole_at(V, T):
    """(speedup, 95% interval, basis) of the whole step at T threads, or None."""
    rows = {r["threads"]: r for r in V["rows"]}
    r = rows.get(T)
    if r and not r["oversubscribed"] and r.get("speedup_ci"):
        return r["speedup"], r["speedup_ci"], f"measured at {T} threads ({r['reps_ok']} reps)"
    f = V["fits"]["step_usl"]
    if f.get("status") == "fit":
        return (f["speedup_target"], f["speedup_target_ci"],
                f"projected by the step model (USL with the amortisation term) fitted on "
                f"{ranges(f['threads_used'])} threads")
    return None


def par_at(V, T):
    rows = {r["threads"]: r for r in V["rows"]}
    r = rows.get(T)
    if r and not r["oversubscribed"] and r.get("par_speedup_ci"):
        return r["par_speedup"], r["par_speedup_ci"], "measured"
    f = V["fits"].get("par_usl") or {}
    if f.get("status") == "fit":
        return f["speedup_target"], f["speedup_target_ci"], "USL fit"
    return None


def where_rest_goes(V):
    """(N, words) for the top non-oversubscribed N > 1 when efficiency < 100%."""
    rows = {r["threads"]: r for r in V["rows"] if r.get("phase_us_per_token")}
    ns = [n for n in rows if not rows[n]["oversubscribed"] and n > 1]
    if 1 not in rows or not ns:
        return None
    n = max(ns)
    if (rows[n].get("efficiency") or 1.0) >= 1.0:
        return None                      # nothing was lost: no "where the rest goes"
    w = loss_words(rows[1]["phase_us_per_token"], rows[n]["phase_us_per_token"], 0.05)
    return (n, w) if w else None


def projection_words(res):
    pr = res.get("projection") or {}
    out = []
    ck = pr.get("check")
    if ck:
        out.append(f"Projection check on this machine: from the 1-thread phase costs alone the step model gives a "
                   f"2-thread step of {ck['projected_step_s'] * 1e3:.1f} ms against {ck['measured_step_s'] * 1e3:.1f} ms "
                   f"measured ({ck['error']:+.1%}).")
    t = pr.get("target")
    if t and t.get("speedup"):
        T = min(res["target_threads"], len(t["speedup"]))
        spr = (t.get("speedup_spread") or {}).get(str(T))
        tg = t["target"]
        what = (f"the machine {tg['name']} ({tg['usable_pus']} usable PUs, {tg['numa_nodes']} NUMA nodes at "
                f"{tg['dram_gbs_node']:g} GB/s each, workers where --pin cores puts them)" if tg.get("machine") else
                f"a target of {tg['cores']} cores and {tg['dram_gbs']:g} GB/s of DRAM bandwidth")
        out.append(f"Projection (a model, not a measurement) for {what}, cores assumed like this machine's: whole-step "
                   f"speedup {t['speedup'][T - 1]:.1f}x at {T} threads" +
                   (f" (spread over the reps {fmt_ci(spr, '{:.1f}')}; model error not included)" if spr else "") +
                   ("" if t.get("bandwidth_ceiling") else "; no bandwidth ceiling was applied") +
                   "; an upper bound: contention that grows with N shows only in a sweep on such a machine.")
    if not pr.get("ceilings"):
        out.append("No ceilings file (build/micro/ceilings): the projections leave out the memory-bandwidth and "
                   "FMA ceilings of this machine.")
    return " ".join(out)


def verdict_of(run, res):
    tm = run.get("train_model_variants", run["variants"])
    if not tm:
        names = ", ".join(run["variants"])
        return {"class": "not applicable", "variant": None, "text": f"**Not applicable.** This sweep ran "
                f"{names} through --command templates and no train_model variant: the claim is about cllm's "
                f"lock-free trainer, so there is no verdict on it here; the figures below are the programs'."}
    v = "lockfree" if "lockfree" in tm else tm[0]
    V = res["variants"].get(v)
    T = res["target_threads"]
    if V is None or V["x1_median"] is None:
        return {"class": "no data", "variant": v, "text": "**No data.** No successful 1-thread run of the lock-free "
                "variant, so no speedup can be computed."}
    cpus = run["cpus"]
    rows = {r["threads"]: r for r in V["rows"]}
    measured = [n for n, r in rows.items() if not r["oversubscribed"] and r.get("speedup") is not None]
    top = max(measured)
    fits = V["fits"]
    a = fits["amortised_share"]
    claim_cfg = run["config"] == "seed" and run["scaling"] == "weak"
    cfg_txt = ("" if claim_cfg else
               f" This sweep is config {run['config']} with {run['scaling']} scaling, not the claim's config seed with "
               f"weak scaling: its figures describe this config and test the claim only by analogy.")
    head_claim = (f"The claim: {CLAIM_LO:.0f}-{CLAIM_HI:.0f}x at {T} threads once the model lock is gone, config seed, "
                  f"weak scaling. It is about the whole step's throughput (tokens/s, what a user sees), not the "
                  f"parallel part's.")
    # the measured top point, both speedups
    r = rows[top]
    meas = ""
    if top > 1:
        meas = (f" Measured at {top} threads: whole step {r['speedup']:.2f}x {fmt_ci(r.get('speedup_ci'), '{:.2f}')} "
                f"(95%), parallel part {fnum(r.get('par_speedup'), '{:.2f}')}x "
                f"{fmt_ci(r.get('par_speedup_ci'), '{:.2f}')}; Karp-Flatt {fnum(r.get('karp_flatt'))} "
                f"{fmt_ci(r.get('karp_flatt_ci'))}; CPUs busy {fnum(r.get('cpu_util_timed'), '{:.2f}')} over the "
                f"timed steps ({fnum(r.get('cpu_util_process'), '{:.2f}')} over the whole process).")
    amort = ""
    if a > 0:
        ideal = float(models.speedup(T, 0.0, 0.0, a))
        amort = (f" The amortisation term: the optimizer is a = {a:.1%} of the 1-thread step "
                 f"{fmt_ci(fits['amortised_share_range'], '{:.1%}')} (range over the reps) and each of N workers runs "
                 f"1/N of it, so a step costs (1 - a) D(N) + a/N of the 1-thread step: with nothing else lost the "
                 f"whole step would reach {T}/((1 - a) + a/{T}) = {ideal:.1f}x at {T} threads, and at small N it runs "
                 f"faster than N times 1 thread (superlinear) with no faster compute.")
    rest = where_rest_goes(V)
    rest_txt = (f" Where the rest goes at {rest[0]} threads (growth of thread-time per token over 1 thread, by phase): "
                f"{rest[1]}." if rest else "")
    over = V["excluded_oversubscribed"]
    over_txt = (f" Points at {', '.join(map(str, over))} threads (more threads than the {cpus} CPUs) were measured "
                f"and are shown, marked oversubscribed, but they time the scheduler sharing {cpus} CPUs rather than "
                f"the trainer, and are excluded from every fit." if over else "")
    lk = res["variants"].get("locked")
    lk_txt = ""
    if lk and lk["fits"]["par_usl"] and lk["fits"]["plain_usl"].get("status") == "fit":
        f = lk["fits"]["plain_usl"]
        lk_txt = (f" The locked variant fits sigma = {f['sigma']:.3f}: " +
                  ("serialised, as a lock around forward+backward should be." if f["sigma"] > 0.8 else
                   "less serial than a lock around forward+backward predicts (sigma near 1)."))
    proj = projection_words(res)
    proj = f" {proj}" if proj else ""
    W = whole_at(V, T)
    Pp = par_at(V, T)
    par_txt = (f" Parallel part (per-worker forward+backward) at {T} threads: {Pp[0]:.1f}x {fmt_ci(Pp[1], '{:.1f}')} "
               f"(95%, {Pp[2]})." if Pp else "")
    if W is None:
        f = fits["step_usl"]
        if cpus is not None and cpus < 3:
            cls, head = "not testable", f"**Not testable on this machine ({plural(cpus, 'CPU')}).**"
            why = (f"this machine gives the harness {plural(cpus, 'CPU')} (sched_getaffinity), so only thread counts "
                   f"up to {cpus} run without oversubscription, and a scaling model needs at least 3")
        else:
            cls, head = "not determined", "**Not determined.**"
            why = f"the step model is {f['status']}: {f.get('reason')}"
        if not claim_cfg:
            cls = "not the claim's config"
        text = (f"{head} {head_claim} Here {why}, so no {T}-thread figure is given.{cfg_txt}{meas}{amort}{rest_txt}"
                f"{proj}{over_txt}{lk_txt} To test the claim, run `make bench` on a machine with at least {T} free CPUs.")
        return {"class": cls, "variant": v, "text": text}
    s, ci, basis = W
    cls = classify(ci)
    extra = (f" This extrapolates from at most {top} threads to {T} and rests on the model's form; only a machine "
             f"with {T} free CPUs measures it." if T not in measured else "")
    head = {"supported": "**Supported.**", "contradicted": "**Contradicted.**", "undecided": "**Undecided.**"}[cls]
    if ci[0] > CLAIM_HI:
        head = "**Supported (above the claimed range).**"
    if not claim_cfg:
        cls, head = "not the claim's config", f"**Not the claim's config ({run['config']}, {run['scaling']} scaling).**"
    sf = fits["step_usl"]
    fit_txt = ""
    if sf.get("status") == "fit":
        fit_txt = (f" Step model: sigma = {sf['sigma']:.4g}, kappa = {sf['kappa']:.3g}, a = {a:.3f}; "
                   f"(T-1) sigma + T(T-1) kappa = {sf['psi']:.3g} {fmt_ci(sf['psi_ci'])} (40x needs <= "
                   f"{_psi_for(CLAIM_LO, T, a):.3g}, 50x <= {_psi_for(CLAIM_HI, T, a):.3g}).")
    text = (f"{head} {head_claim} Whole step at {T} threads: {s:.1f}x {fmt_ci(ci, '{:.1f}')} (95%), {basis}" +
            (" (the interval straddles 40x: more reps or thread counts would decide it)" if cls == "undecided" else "") +
            f".{par_txt}{fit_txt}{extra}{cfg_txt}{meas}{amort}{rest_txt}{proj}{over_txt}{lk_txt}")
    return {"class": cls, "variant": v, "text": text, "speedup_63": s, "speedup_63_ci": ci, "basis": basis,
            "parallel_63": Pp[0] if Pp else None, "parallel_63_ci": Pp[1] if Pp else None}


def _psi_for(speed, T, a):
    """psi = D(T) - 1 that gives the whole-step speedup speed at T."""
    return (T / speed - a / T) / (1 - a) - 1
