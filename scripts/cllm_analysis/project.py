"""project.py - what would this run show on N cores? A model of the
lock-free step time at N workers from this run's per-phase costs at 1 and 2
threads, the bytes the combine and the optimizer move, and the machine's
measured ceilings (build/micro/ceilings: STREAM triad at 1 thread and at all
CPUs, FMA peak). A projection, never a measurement.

Per worker and step (seconds), with P parameters, A bytes of one worker's
activations and scratch, B(N) = min(N * triad_1, triad_all) the memory
bandwidth N workers can draw (GB/s; the target's dram-gbs for a target):

  compute    F(N) = max(F_b,  N (12P + 2A) / B(N),  flops / peak_core(N))
             F_b  = forward + backward at the base thread count b (2 when the
             run has it, else 1; times b / N under strong scaling); flops =
             one worker's model FLOPs per step; peak_core(N) = the FMA peak
             per core (linear between 1 thread and all CPUs; on a target,
             this machine's 1-thread peak: its cores are assumed to be these)
  combine    R(N) = max(r(N) / e_b,  N r(N) / B(N)),  r(N) = 4P (N+1) / N bytes
             (its slice read from all N gradient buffers, the sum written;
             4P at N = 1, the norm's read), e_b = the bandwidth the measured
             combine got per worker at b
  optimizer  O(N) = max(O_b b / N,  28P / B(N))   (AdamW over P/N parameters:
             gradient read, params, m, v read and written)
  waiting    W(N) = W_1 + (W_2 - W_1) E_N / E_2   (barrier and lock wait: the
             expected maximum of N normal deviates E_N scales the 2-thread
             imbalance); from 1 thread alone W(N) = W_1 + J(N), J(N) = the
             expected maximum of N of the 1-thread run's timed step times
             minus their mean (the order statistics of each rep's steps,
             averaged over the reps): N workers whose steps vary as one
             worker's did wait at the barrier for the slowest (W_1 alone
             when the reports have no step_ms)
  other      Q(N) = Q_b                          (the pool's start and end)

  T(N) = F + R + O + W + Q;  speedup S(N) = (tokens per step at N / T(N)) /
  (tokens per step at 1 / T(1)).

On a machine target (--project machine=PATH,dram-gbs-per-node=X[,link-gbs=Y],
an hwloc snapshot or XML): the workers sit where its plan puts them (--pin
cores: train_model --machine --pin-plan); B(N) = sum over NUMA nodes of
min(n_k triad_1, X) with n_k of the N workers on node k; the combine also
waits for N r(N) c(N) / Y, c(N) = sum_k n_k (N - n_k) / N^2 the share of its
reads that cross nodes (without Y: no link limit, and it says so); the
compute of a step is its slowest worker's: F times the fastest kind's max
MHz over the slowest planned kind's (hwloc cpukinds; 1 when the machine has
one kind or no frequencies), times the most workers on one core (SMT
siblings share it; no SMT gain assumed, a lower bound). The cores are
assumed like this run's.

Step times are training wall / steps (the warm-up step included, as the
phase clocks include it). Without a ceilings file there is no bandwidth
ceiling: the projection is then an upper bound on the speedup, and says so.
A triad below the bandwidth a phase of this run drew (observed_gbs) is no
ceiling: the observed figure replaces it.
The interval is the spread of the projection over the reps (a percentile
bootstrap of the 1- and 2-thread reps): it leaves out the model's own error.
"""
import functools
import os

import numpy as np
from scipy import stats as st

from . import ijson, stats

PARTS = ["compute", "combine", "optimizer", "waiting", "other"]


def ceilings_of(obj):
    """{bw1, bw_all, n_all, peak1, peak_all} (GB/s, GFLOP/s) from the JSON of
    build/micro/ceilings; raises ValueError when a figure is missing."""
    def best(key, field):
        rows = [r for r in (obj.get(key) or []) if r.get(field)]
        if not rows:
            raise ValueError(f"ceilings: no {key} figures")
        rows.sort(key=lambda r: r["threads"])
        return rows[0], rows[-1]
    d1, dn = best("triad_dram", "best_gbs")
    f1, fn = best("fma", "best_gflops")
    return {"bw1": float(d1["best_gbs"]), "bw_all": float(dn["best_gbs"]), "n_all": int(dn["threads"]),
            "peak1": float(f1["best_gflops"]), "peak_all": float(fn["best_gflops"]),
            "cpu_model": obj.get("cpu_model"), "loadavg": obj.get("loadavg"), "time_utc": obj.get("time_utc")}


def load_ceilings(path):
    return ceilings_of(ijson.load_file(path))


# The snapshots carry no bandwidth: a machine target without dram-gbs-per-node
# gets this figure per NUMA node (GB/s; `make machines` prints it). A STREAM
# triad of one socket of the DDR2/DDR3 era these hwloc snapshots come from
# is about 5-20 GB/s and of a DDR4 server socket 40-100: give the real one.
DEFAULT_DRAM_GBS_PER_NODE = 20.0


def parse_target(text):
    """'cores=64,dram-gbs=200' -> {cores: 64, dram_gbs: 200.0}, or
    'machine=PATH,dram-gbs-per-node=X[,link-gbs=Y]' -> {machine: PATH,
    dram_gbs_node: X, link_gbs: Y or None}; ValueError naming the fault."""
    out = {}
    for part in text.split(","):
        k, _, v = part.partition("=")
        k = k.strip()
        try:
            if k == "cores":
                out["cores"] = int(v)
            elif k in ("dram-gbs", "dram_gbs"):
                out["dram_gbs"] = float(v)
            elif k == "machine":
                out["machine"] = v
            elif k in ("dram-gbs-per-node", "dram_gbs_per_node"):
                out["dram_gbs_node"] = float(v)
            elif k in ("link-gbs", "link_gbs"):
                out["link_gbs"] = float(v)
            else:
                raise ValueError(f"unknown key '{k}' (cores=N,dram-gbs=X or machine=PATH,dram-gbs-per-node=X"
                                 f"[,link-gbs=Y])")
        except ValueError as e:
            raise ValueError(f"--project {text}: {e}")
    if "machine" in out:
        if not out["machine"] or "cores" in out or "dram_gbs" in out:
            raise ValueError(f"--project {text}: machine=PATH takes dram-gbs-per-node=X[,link-gbs=Y], not cores or dram-gbs")
        out.setdefault("dram_gbs_node", None)
        out.setdefault("link_gbs", None)
        for k in ("dram_gbs_node", "link_gbs"):
            if out[k] is not None and not 0 < out[k] < 1e6:
                raise ValueError(f"--project {text}: {k.replace('_', '-')} must be > 0")
        return out
    if not 1 <= out.get("cores", 0) <= 4096 or not 0 < out.get("dram_gbs", 0) < 1e6:
        raise ValueError(f"--project {text}: give cores=N (1..4096) and dram-gbs=X (> 0), e.g. cores=64,dram-gbs=200")
    return out


def load_machine(target, build):
    """A machine target made concrete: its topology (build/topo --machine)
    and its plan at every usable PU (train_model --machine --pin-plan --pin
    cores; the plan at N workers is the first N entries of it, as pin.c
    orders them). Adds to target: cores (usable PUs), usable_cores, the
    node, the kind and the kind's max MHz of each worker, the machine's
    name. RuntimeError with the tool's message when the machine is refused."""
    import subprocess
    def run(args):
        r = subprocess.run(args, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip() or f"{args[0]} exited {r.returncode}")
        return ijson.loads(r.stdout, f"{args[0]} --machine {path}")
    path = target["machine"]
    topo = run([f"{build}/topo", "--machine", path])
    n = min(int(topo["usable_cpus"]), 1024)
    plan = run([f"{build}/train_model", "--machine", path, "--threads", str(n), "--pin", "cores", "--pin-plan"])
    w = plan["workers"]
    kind_mhz = {k["index"]: float(k["info"].get("FrequencyMaxMHz") or 0) or None for k in topo.get("cpukinds", [])}
    out = dict(target)
    out.update({"cores": n, "usable_pus": n, "name": os.path.basename(os.path.normpath(path)),
                "usable_cores": len({x["core"] for x in w}), "packages": topo["packages"],
                "numa_nodes": topo["numa_nodes"], "nkinds": len(topo.get("cpukinds", [])),
                "node": [x["buffers_numa"] for x in w], "kind": [x["kind"] for x in w], "core": [x["core"] for x in w],
                "kind_mhz": [kind_mhz.get(x["kind"]) for x in w],
                "dram_default": target.get("dram_gbs_node") is None})
    if out["dram_default"]:
        out["dram_gbs_node"] = DEFAULT_DRAM_GBS_PER_NODE
    out["shares"] = [machine_shares(out, k) for k in range(1, n + 1)]   # computed once: the bootstrap reads them
    return out


def machine_shares(t, n):
    """At the first n workers of machine target t: the workers per NUMA node,
    the share of the combine's reads that cross nodes (worker i reads its
    slice from every worker j's gradient buffer, which sits on j's node), and
    the slowest worker's compute factor (fastest kind's max MHz / its own:
    the step waits for it; 1 without frequencies), times the most workers
    sharing one core (SMT siblings, with no SMT gain assumed)."""
    nodes = t["node"][:n]
    per = {}
    for x in nodes:
        per[x] = per.get(x, 0) + 1
    cross = sum(c * (n - c) for c in per.values()) / (n * n) if n > 1 else 0.0
    mhz = [m for m in t["kind_mhz"][:n] if m]
    top = max((m for m in t["kind_mhz"] if m), default=None)
    slow = top / min(mhz) if mhz and top else 1.0
    # SMT: workers on one core's PUs share it; counted with no SMT gain (a
    # lower bound: siblings add 0-30% on most cores)
    on_core = {}
    for c in t["core"][:n]:
        on_core[c] = on_core.get(c, 0) + 1
    return per, cross, slow * max(on_core.values(), default=1)


_X = np.linspace(-8, 8, 2001)
_PDF, _CDF = st.norm.pdf(_X), st.norm.cdf(_X)


@functools.lru_cache(maxsize=None)
def expected_max_normal(n):
    """E[max of n standard normal deviates] (0 at n = 1), by quadrature."""
    if n <= 1:
        return 0.0
    return float(np.trapz(_X * n * _PDF * _CDF ** (n - 1), _X))


def costs(phase_steps):
    """Mean per-worker per-step phase costs of a list of reps' phase_step dicts."""
    m = {k: float(np.mean([p.get(k, 0.0) for p in phase_steps])) for k in
         ("forward", "backward", "reduce", "optimizer", "barrier_wait", "lock_wait", "other", "step")}
    return {"compute": m["forward"] + m["backward"], "combine": m["reduce"], "optimizer": m["optimizer"],
            "waiting": m["barrier_wait"] + m["lock_wait"], "other": m["other"], "step": m["step"],
            "step_times": [p["step_times"] for p in phase_steps if p.get("step_times")]}


def plain(c):
    """costs without the step times (fit.json keeps the means)"""
    return {k: v for k, v in c.items() if k != "step_times"} if c else c


def jitter_wait(step_times, n):
    """J(n): the expected maximum of n draws from a rep's step times minus
    their mean (order statistics of the empirical distribution: the i-th
    smallest of k is the maximum with probability (i/k)^n - ((i-1)/k)^n),
    averaged over the reps; 0 at n = 1 or without step times."""
    vals = []
    for t in step_times:
        x = np.sort(np.asarray(t, float))
        k = len(x)
        if k < 2 or n <= 1:
            continue
        i = np.arange(1, k + 1)
        vals.append(float(np.sum(((i / k) ** n - ((i - 1) / k) ** n) * x) - x.mean()))
    return float(np.mean(vals)) if vals else 0.0


def step_time(ns, c1, c2, shape, machine, strong=False):
    """Projected per-part step times at each N of ns (arrays, seconds) from the
    1-thread costs c1, the 2-thread costs c2 (None: from 1 thread alone),
    shape {P, A, flops} and machine {bw_agg(N), peak_core(N)} (machine_model). Returns {part: array, total: array}."""
    ns = np.asarray(ns, float)
    P, A = shape["P"], shape["A"]
    b, cb = (2.0, c2) if c2 else (1.0, c1)
    bw = np.array([machine["bw_agg"](n) or np.inf for n in ns]) * 1e9
    peak = np.array([machine["peak_core"](n) or np.inf for n in ns]) * 1e9
    share = (1.0 / ns) if strong else 1.0          # a worker's part of the 1-thread work
    Fb = cb["compute"] * ((b / ns) if strong else 1.0)
    Fb = np.where(ns < b, c1["compute"] * share, Fb)   # N = 1 from a 2-thread base: the 1-thread cost
    slow = np.array([machine.get("slow", lambda n: 1.0)(n) for n in ns])   # the slowest kind's factor
    compute = np.maximum.reduce([Fb * slow, ns * (12 * P + 2 * A * share) / bw, shape["flops"] * share / peak * slow])
    def rbytes(n):
        return np.where(n > 1, 4 * P * (n + 1) / n, 4 * P)
    eb = rbytes(np.array(b)) / cb["combine"] if cb["combine"] > 0 else np.inf
    combine = np.maximum(rbytes(ns) / eb, ns * rbytes(ns) / bw)
    if machine.get("cross"):   # the reads that cross NUMA nodes, over the links
        link = np.array([machine["link_gbs"](n) or np.inf for n in ns]) * 1e9
        cross = np.array([machine["cross"](n) for n in ns])
        combine = np.maximum(combine, ns * rbytes(ns) * cross / link)
    optimizer = np.maximum(cb["optimizer"] * b / ns, 28 * P / bw)
    if c2:
        e2 = expected_max_normal(2)
        waiting = c1["waiting"] + (c2["waiting"] - c1["waiting"]) * np.array([expected_max_normal(int(n)) for n in ns]) / e2
        waiting = np.where(ns <= 1, c1["waiting"], np.maximum(waiting, 0.0))
    else:
        waiting = c1["waiting"] + np.array([jitter_wait(c1["step_times"], n) for n in ns])
    other = np.where(ns <= 1, c1["other"], cb["other"])
    out = {"compute": compute, "combine": combine, "optimizer": optimizer, "waiting": waiting, "other": other}
    out["total"] = sum(out[k] for k in PARTS)
    return out


def observed_gbs(c, n, shape):
    """The largest aggregate bandwidth a phase drew at n workers (GB/s): a
    triad below it is no ceiling."""
    P, A = shape["P"], shape["A"]
    r = 4 * P * (n + 1) if n > 1 else 4 * P
    cands = [(28 * P, c["optimizer"]), (r, c["combine"]), (n * (12 * P + 2 * A), c["compute"])]
    return max([b / t * 1e-9 for b, t in cands if t > 0] + [0.0])


def machine_model(ceil, cpus, target=None, seen1=0.0, seen_all=0.0):
    """bw_agg(N) (GB/s N workers can draw, None = no ceiling) and peak_core(N)
    (GFLOP/s of one core at N busy, None = no ceiling) for this machine (its
    ceilings, or none) or a target. seen1, seen_all: the bandwidth the run's
    phases drew at 1 and at 2 threads, which raise a triad that is lower."""
    bw1 = max(ceil["bw1"], seen1) if ceil else None
    if target and target.get("machine"):
        cap = target["dram_gbs_node"]

        sh = target["shares"]

        def bw_agg(n):   # each node's workers draw up to its bandwidth
            return sum(min(c * bw1, cap) if bw1 else cap for c in sh[int(n) - 1][0].values())
        return {"bw_agg": bw_agg, "peak_core": lambda n: ceil["peak1"] if ceil else None, "cores": target["cores"],
                "cross": lambda n: sh[int(n) - 1][1], "slow": lambda n: sh[int(n) - 1][2],
                "link_gbs": lambda n: target["link_gbs"]}
    if target:
        cap = target["dram_gbs"]
        return {"bw_agg": lambda n: min(n * bw1, cap) if bw1 else cap,
                "peak_core": lambda n: ceil["peak1"] if ceil else None, "cores": target["cores"]}
    if not ceil:
        return {"bw_agg": lambda n: None, "peak_core": lambda n: None, "cores": cpus}
    na = max(ceil["n_all"], 1)
    p1, pa = ceil["peak1"], ceil["peak_all"] / na
    bw_all = max(ceil["bw_all"], seen_all, bw1)

    def peak_core(n):
        return p1 if na <= 1 else p1 + (min(n, na) - 1) / (na - 1) * (pa - p1)
    return {"bw_agg": lambda n: min(n * bw1, bw_all), "peak_core": peak_core, "cores": cpus}


def project(reps1, reps2, shape, ceil, cpus, target=None, strong=False, boot=1000, seed=1, variant="lockfree"):
    """The projection for this machine (target None) or a target: N = 1..cores.
    reps1, reps2: lists of per-rep phase_step dicts at 1 and 2 threads (reps2
    may be empty). Returns a dict for fit.json and the report, or one with a
    'reason' when it cannot be made."""
    shown = {k: v for k, v in target.items() if k != "shares"} if target else target
    out = {"variant": variant, "target": shown, "ceilings": ceil, "strong": strong}
    if variant != "lockfree":
        out["reason"] = "only the lock-free variant is projected (the lock serialises forward and backward)"
        return out
    if not reps1:
        out["reason"] = "no successful 1-thread run with phase clocks"
        return out
    c1, c2 = costs(reps1), (costs(reps2) if reps2 else None)
    seen1 = observed_gbs(c1, 1, shape)
    seen2 = observed_gbs(c2, 2, shape) if c2 else seen1
    mach = machine_model(ceil, cpus, target, seen1, seen2)
    cores = int(mach["cores"] or 1)
    ns = np.arange(1, cores + 1, dtype=float)
    base = 2 if c2 else 1
    tp1 = shape["tokens_per_step_1"]
    tok = ns * tp1 if not strong else np.full(len(ns), tp1)

    def curve_of(k1, k2):
        t = step_time(ns, k1, k2, shape, mach, strong)
        return t, (tok / t["total"]) / (tok[0] / t["total"][0])

    def curve(r1, r2):
        return curve_of(costs(r1), costs(r2) if r2 is not None and len(r2) else None)

    parts, sp = curve_of(c1, c2)
    if target and target.get("machine"):
        out["cross_node_share"] = [target["shares"][int(n) - 1][1] for n in ns]
        out["slowest_kind_factor"] = [target["shares"][int(n) - 1][2] for n in ns]
    out.update({"threads": ns.astype(int).tolist(), "base_threads": base, "costs_1": plain(c1), "costs_2": plain(c2),
                "observed_gbs": {"1": seen1, "2": seen2 if c2 else None},
                "parts_s": {k: v.tolist() for k, v in parts.items()}, "speedup": sp.tolist(),
                "bandwidth_ceiling": bool(ceil) or bool(target)})
    # spread over the reps: percentile bootstrap of the 1- and 2-thread reps
    samples = [reps1] + ([reps2] if reps2 else [])
    keys = sorted({cores, min(2, cores), min(63, cores)} |
                  ({min(target["usable_cores"], cores)} if target and target.get("machine") else set()))
    if boot > 0 and all(len(s) >= 2 for s in samples):
        objs = [np.array(s, dtype=object) for s in samples]

        def stat(*ii):
            r1 = list(objs[0][np.asarray(ii[0], int)])
            r2 = list(objs[1][np.asarray(ii[1], int)]) if len(ii) > 1 else None
            return curve(r1, r2)[1][[k - 1 for k in keys]]
        cis = stats.bootstrap_percentile([np.arange(len(o)) for o in objs], stat, boot, seed)
        out["speedup_spread"] = {str(k): ci for k, ci in zip(keys, cis or []) if ci}
    return out


def check_two(reps1, reps2, shape, ceil, cpus, strong=False):
    """The projection's check on a measured point: the 2-thread step projected
    from the 1-thread phases alone against the measured 2-thread step."""
    if not reps1 or not reps2:
        return None
    c1 = costs(reps1)
    seen1 = observed_gbs(c1, 1, shape)
    mach = machine_model(ceil, cpus, None, seen1, seen1)
    t = step_time(np.array([2.0]), c1, None, shape, mach, strong)
    proj = float(t["total"][0])
    meas = float(np.mean([r["step"] for r in reps2]))
    return {"projected_step_s": proj, "measured_step_s": meas, "error": proj / meas - 1.0,
            "parts_s": {k: float(v[0]) for k, v in t.items()}}
