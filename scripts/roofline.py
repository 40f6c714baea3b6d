#!/usr/bin/env python3
"""roofline.py RUN PLOTS - the roofline of one micro run (scripts/roofline.sh).

Reads RUN/ceilings.json (build/micro/ceilings), RUN/micro.json (build/micro/
micro, Google Benchmark JSON) and RUN/train_t<N>.json (train_model --report);
writes RUN/roofline.md (tables and the compute- or bandwidth-bound verdicts,
model FLOPs utilisation), RUN/roofline.json (the same numbers), and in PLOTS
the gnuplot script roofline.gp and its data files; roofline.sh runs gnuplot
there to draw roofline.png and roofline.svg.

Conventions: a point's arithmetic intensity (AI) is its analytic FLOPs over
its analytic minimal bytes (flop_per_iter / bytes_per_iter of micro.json).
Each point is judged against the roof of the memory level its working set
(ws_bytes) fits in: L1, L2, LLC or DRAM (ceilings' triads; L1 where the
ceilings measured it), and against the compute peak of the instructions it
may use: the FMA peak for the sgemm-based kernels (matmul, attention), half
of it for the core's own kernels (LayerNorm, GELU, cross-entropy, AdamW),
which the core compiles without FMA contraction (a multiply and an add). A
point is compute-bound when its AI is at or above that roof's ridge (peak /
bandwidth), bandwidth-bound below it; a point far below its roof (< 25 %) is limited by
something the roofline does not model (call overhead, exp/tanh throughput,
latency), which the verdict says. Missing values are written as "NA".

Every ISA clone of the core's kernels the CPU ran (make micro runs the kernel
benchmarks once per clone, CLLM_ISA=<clone>, into RUN/micro-<clone>.json)
gets its own rows in the per-clone table.
"""
import glob
import json
import math
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cllm_analysis import ijson  # noqa: E402
from cllm_analysis.atomic import open_atomic, write_atomic  # noqa: E402


def die(msg):
    print(f"roofline.py: {msg}", file=sys.stderr)
    sys.exit(1)


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        die(f"{path}: {e}")


def fmt(v, digits=3):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "NA"
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    if mag >= digits or mag < -4:
        return f"{v:.{digits - 1}e}" if mag < -4 else f"{v:.0f}"
    return f"{v:.{max(0, digits - 1 - mag)}f}"


def human_bytes(b):
    for unit, s in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= s:
            return f"{b / s:.1f} {unit}"
    return f"{b:.0f} B"


# ------------------------------------------------------------------ inputs

if len(sys.argv) != 3:
    die("usage: roofline.py RUN PLOTS")
RUN, PLOTS = sys.argv[1], sys.argv[2]
ceil = load(os.path.join(RUN, "ceilings.json"))
micro = load(os.path.join(RUN, "micro.json"))
reports = {}
for path in sorted(glob.glob(os.path.join(RUN, "train_t*.json"))):
    r = load(path)
    reports[int(r["threads"])] = r


def ceiling(kind, threads, key):
    rows = ceil.get(kind) or []
    if not rows:
        die(f"ceilings.json has no {kind}")
    best = min(rows, key=lambda r: abs(r["threads"] - threads))
    return best[key], best["threads"]


CPUS = int(ceil.get("online_cpus") or 1)
NMAX = max(r["threads"] for r in ceil["fma"])
PEAK = {n: ceiling("fma", n, "best_gflops")[0] for n in (1, NMAX)}
LEVELS = ("dram", "llc", "l2") + (("l1",) if ceil.get("triad_l1") else ())
BW = {lvl: {n: ceiling("triad_" + lvl, n, "best_gbs")[0] for n in (1, NMAX)}
      for lvl in LEVELS}
# a roof at NMAX threads is at least the 1-thread roof (one of the threads
# alone moves that much): a lower N-thread figure was measured under load
PEAK[NMAX] = max(PEAK[NMAX], PEAK[1])
for lvl in BW:
    BW[lvl][NMAX] = max(BW[lvl][NMAX], BW[lvl][1])
# STREAM's triad counts 24 bytes an element, but its store to a separate
# array also reads that array's line first (write-allocate): 32 bytes cross.
# A kernel that writes in place what it has just read (crossentropy_bwd, the
# reduce into gradient buffer 0, AdamW) moves no such extra line, so its
# counted bytes meet a roof 32/24 of the triad's.
INPLACE = 32.0 / 24.0
INPLACE_KERNELS = ("crossentropy_bwd",)
INPLACE_PHASES = ("reduce", "optimizer")
L2_BYTES = float(ceil.get("l2_bytes") or 0)
LLC_BYTES = float(ceil["llc"]["bytes"]) * float(ceil["llc"].get("instances", 1))
L1_BYTES = float(ceil.get("l1d_bytes") or 0) if "l1" in LEVELS else 0.0
# the core's kernels multiply and add separately (no FMA contraction in core/):
# their compute roof is half the FMA peak
MULADD = 0.5
FMA_GROUPS = ("matmul", "attention")


def roof_level(bytes_):
    """memory level whose bandwidth bounds a working set of this many bytes"""
    if bytes_ <= L1_BYTES:
        return "l1"
    if bytes_ <= L2_BYTES:
        return "l2"
    if bytes_ <= LLC_BYTES:
        return "llc"
    return "dram"


def clone_ceilings(path):
    """1-thread roofs of one ISA clone from RUN/ceilings-<clone>.json (ceilings
    --isa of that clone's ISA, written by roofline.sh --measure), or None"""
    if not os.path.exists(path):
        return None
    c = load(path)
    one = lambda kind, key: min(c.get(kind) or [{"threads": 1, key: 0}], key=lambda r: abs(r["threads"] - 1))[key]
    bw = {lvl: one("triad_" + lvl, "best_gbs") for lvl in LEVELS}
    if not one("fma", "best_gflops") or not all(bw.values()):
        return None
    # an ISA without FMA (sse2, scalar) measures mul + add itself: no halving
    return {"isa": c.get("isa"), "triad_isa": c.get("triad_isa", c.get("isa")), "peak": one("fma", "best_gflops"),
            "bw": bw, "muladd": c.get("isa") in ("sse2", "scalar")}


def verdict(ai, gflops, ws, threads, inplace=False, peak_frac=1.0, cs=None):
    """the roof of a kernel; cs: one clone's own 1-thread ceilings (clone_ceilings)"""
    peak = (cs["peak"] * (1.0 if cs["muladd"] else peak_frac) if cs
            else PEAK[1 if threads == 1 else NMAX] * peak_frac)
    lvl = roof_level(ws)
    bw = (cs["bw"][lvl] if cs else BW[lvl][1 if threads == 1 else NMAX]) * (INPLACE if inplace else 1.0)
    ridge = peak / bw
    roof = min(peak, ai * bw)
    frac = gflops / roof if roof > 0 else float("nan")
    if ai >= ridge:
        v = "compute-bound"
    else:
        v = f"bandwidth-bound ({lvl.upper()})"
    if frac < 0.25:
        v += f"; at {frac * 100:.0f}% of its roof: overhead/latency-limited"
    elif frac > 1.0:
        v += (f"; ABOVE its roof ({frac * 100:.0f}%): the {lvl.upper()} roof underestimates this kernel "
              f"(working set at a cache-size edge, or the triad measured under load)")
    return {"level": lvl, "ridge": ridge, "roof_gflops": roof, "frac_of_roof": frac,
            "frac_of_peak": gflops / peak, "verdict": v, "peak_kind": "FMA" if peak_frac == 1.0 else "mul+add",
            "roof_gbs": bw, "bound": "compute" if ai >= ridge else lvl}


# ------------------------------------------------------------------ micro.json

runs = {}       # run_name -> list of iteration rows
errors = []
for r in micro.get("benchmarks", []):
    if r.get("error_occurred"):
        errors.append((r.get("name"), r.get("error_message", "")))
        continue
    if r.get("run_type") == "aggregate":
        continue
    runs.setdefault(r.get("run_name", r["name"]), []).append(r)


def med(rows, key):
    v = [float(r[key]) for r in rows if key in r]
    return statistics.median(v) if v else None


def spread(rows, key):
    v = [float(r[key]) for r in rows if key in r]
    if len(v) < 2:
        return None
    m = statistics.median(v)
    return (max(v) - min(v)) / m if m else None


FAMILY = {  # benchmark family -> (plot group, direction)
    "matmul_fwd": ("matmul", "fwd"), "matmul_bwd": ("matmul", "bwd"),
    "attention_fwd": ("attention", "fwd"), "attention_bwd": ("attention", "bwd"),
    "layernorm_fwd": ("layernorm", "fwd"), "layernorm_bwd": ("layernorm", "bwd"),
    "gelu_fwd": ("gelu", "fwd"), "gelu_bwd": ("gelu", "bwd"),
    "crossentropy_fwd": ("crossentropy", "fwd"), "crossentropy_bwd": ("crossentropy", "bwd"),
    "adamw": ("adamw", "update"),
}
CONFIG_ORDER = ["seed", "S", "M"]

def kernel_row(name, rows, cs=None):
    """one kernel benchmark (1 thread) against its roof (cs: the clone's own
    ceilings, else ceilings.json's), or None"""
    parts = name.split("/")
    fam = parts[0]
    g = med(rows, "GFLOP")
    flop, byt = med(rows, "flop_per_iter"), med(rows, "bytes_per_iter")
    if g is None or not flop or not byt:
        return None
    k = {"name": name, "group": FAMILY[fam][0], "dir": FAMILY[fam][1],
         "config": parts[1] if len(parts) > 1 else "", "label": rows[0].get("label", ""), "gflops": g,
         "gbs": med(rows, "GB"), "spread": spread(rows, "GFLOP"), "reps": len(rows),
         "flop": flop, "bytes": byt, "ai": flop / byt, "ws": med(rows, "ws_bytes") or byt}
    frac = 1.0 if FAMILY[fam][0] in FMA_GROUPS else MULADD
    # sgemm-based kernels (attention) run the BLAS's own kernels, whatever
    # the clone: ceilings.json's widest FMA peak
    if FAMILY[fam][0] in FMA_GROUPS:
        cs = None
    k.update(verdict(k["ai"], g, k["ws"], 1, fam in INPLACE_KERNELS, frac, cs))
    k["roof_isa"] = (cs["isa"], cs["triad_isa"]) if cs else (ceil.get("isa"), ceil.get("triad_isa", ceil.get("isa")))
    # the FLOPs the source executes (exp, division), where micro counts them
    ex = med(rows, "exec_flop_per_iter")
    k["exec_flop"] = ex
    k["exec_gflops"] = g * ex / flop if ex else None
    k["exec"] = verdict(ex / byt, k["exec_gflops"], k["ws"], 1, fam in INPLACE_KERNELS, frac, cs) if ex else None
    return k


def kernel_runs(doc):
    """the iteration rows of each kernel benchmark of one micro JSON"""
    out = {}
    for r in doc.get("benchmarks", []):
        if r.get("error_occurred") or r.get("run_type") == "aggregate":
            continue
        name = r.get("run_name", r["name"])
        if name.split("/")[0] in FAMILY:
            out.setdefault(name, []).append(r)
    return out


kernels, steps, phases, pools, combines = [], [], [], [], []
for name, rows in runs.items():
    parts = name.split("/")
    fam = parts[0]
    if fam in FAMILY:
        k = kernel_row(name, rows)
        if k:
            kernels.append(k)
    elif fam == "trainer_step":
        n = int(re.search(r"threads:(\d+)", name).group(1))
        g = med(rows, "GFLOP")
        flop, byt = med(rows, "flop_per_iter"), med(rows, "bytes_per_iter")
        s = {"name": name, "threads": n, "gflops": g, "gbs": med(rows, "GB"), "flop": flop,
             "bytes": byt, "ai": flop / byt, "spread": spread(rows, "GFLOP"),
             "ms": med(rows, "real_time"), "params": med(rows, "params"),
             "act_bytes": med(rows, "act_bytes"), "ws": med(rows, "ws_bytes") or byt}
        s.update(verdict(s["ai"], g, s["ws"], n))
        steps.append(s)
        # the phases, from the trainer's clocks (mean over workers, per step)
        P, A = s["params"], s["act_bytes"]
        p4 = 4.0 * P
        ph = {  # phase: (FLOPs, minimal bytes, working set, ms per step)
            # forward = 1/3 of config_flops, backward = 2/3 (2x and 4x of 6x)
            "forward": (flop / 3, n * (p4 + A), p4 + n * A, med(rows, "forward_ms")),
            "backward": (2 * flop / 3, n * (2 * p4 + A), p4 + n * (A + p4), med(rows, "backward_ms")),
            "reduce": ((n - 1) * P + 2 * P, med(rows, "reduce_bytes"), n * p4, med(rows, "reduce_ms")),
            "optimizer": (med(rows, "adamw_flop"), med(rows, "adamw_bytes"), 4 * p4,
                          med(rows, "optimizer_ms")),
        }
        for pname, (pf, pb, pws, pms) in ph.items():
            if not pms or not pb:
                continue
            pg = pf / (pms * 1e-3) * 1e-9
            p = {"phase": pname, "threads": n, "flop": pf, "bytes": pb, "ws": pws, "ms": pms,
                 "ai": pf / pb, "gflops": pg, "gbs": pb / (pms * 1e-3) * 1e-9}
            p.update(verdict(p["ai"], pg, pws, n, pname in INPLACE_PHASES))
            phases.append(p)
        s["barrier_ms"] = med(rows, "barrier_wait_ms")
    elif fam in ("pool_barrier", "pool_run", "pool_step"):
        n = int(re.search(r"threads:(\d+)", name).group(1))
        key = {"pool_barrier": "ns_per_barrier", "pool_run": "ns_per_run", "pool_step": "ns_per_step_sync"}[fam]
        v = [float(r[key]) for r in rows if key in r]
        pools.append({"name": name, "threads": n, "ns": med(rows, key), "ns_min": min(v) if v else None,
                      "ctx_switches": (med(rows, "ctx_switches") or 0) / (med(rows, "barriers_per_iter") or 1),
                      "barriers": med(rows, "barriers_per_step"), "label": rows[0].get("label", "")})
    elif fam == "reduce":
        # the combine against the triad of the level it runs in, at the same thread count
        n = int(re.search(r"threads:(\d+)", name).group(1))
        gb = [float(r["GB"]) for r in rows if "GB" in r]     # GB/s: a rate counter
        lvl = "dram" if parts[1] == "dram" else roof_level(med(rows, "ws_bytes") or 0)
        tri = [r for r in ceil.get("triad_" + lvl) or [] if r["threads"] == n]
        c = {"name": name, "threads": n, "level": lvl, "label": rows[0].get("label", ""),
             "gbs_best": max(gb) if gb else None, "gbs_median": statistics.median(gb) if gb else None,
             "reps": len(gb), "triad_best": tri[0]["best_gbs"] if tri else None,
             "triad_median": tri[0]["median_gbs"] if tri else None}
        c["ratio_best"] = c["gbs_best"] / c["triad_best"] if c["triad_best"] and c["gbs_best"] else None
        c["ratio_median"] = c["gbs_median"] / c["triad_median"] if c["triad_median"] and c["gbs_median"] else None
        combines.append(c)

# every ISA clone of the core's kernels: micro.json's own (context cllm_isa)
# and RUN/micro-<clone>.json of the others
ISA_MAIN = (micro.get("context") or {}).get("cllm_isa", "NA")
# each clone against the ceilings of its own ISA where roofline.sh measured
# them (RUN/ceilings-<clone>.json), else against ceilings.json's
CLONE_CEIL = {}
clone_rows = []
for name, rows in kernel_runs(micro).items():
    CLONE_CEIL.setdefault(ISA_MAIN, clone_ceilings(os.path.join(RUN, f"ceilings-{ISA_MAIN}.json")))
    k = kernel_row(name, rows, CLONE_CEIL[ISA_MAIN])
    if k and k["group"] != "matmul":
        clone_rows.append(dict(k, isa=ISA_MAIN))
for path in sorted(glob.glob(os.path.join(RUN, "micro-*.json"))):
    doc = load(path)
    isa = (doc.get("context") or {}).get("cllm_isa") or os.path.basename(path)[6:-5]
    CLONE_CEIL.setdefault(isa, clone_ceilings(os.path.join(RUN, f"ceilings-{isa}.json")))
    for name, rows in kernel_runs(doc).items():
        k = kernel_row(name, rows, CLONE_CEIL[isa])
        if k and k["group"] != "matmul":
            clone_rows.append(dict(k, isa=isa))
CLONE_ORDER = ["avx512f", "avx2", "default"]

# ------------------------------------------------------------------ train_model reports


def report_bytes(r):
    """minimal bytes of one step: the formula of bench/micro/train.cc step_bytes"""
    n = int(r["threads"])
    P = float(r["params"])
    A = sum(float(i["bytes"]) for i in r["memory"]["per_thread"]
            if i["name"] not in ("grad", "worker_state"))
    p4 = 4.0 * P
    reduce_ = p4 * n + (p4 if n > 1 else 0.0)
    return n * (p4 + A) + n * (2 * p4 + A) + reduce_ + 7 * p4


trains = []
for n, r in sorted(reports.items()):
    tps = float(r.get("tokens_per_s") or 0)
    fps = float(r["flops_per_step"])
    g = tps * fps / float(r["tokens_per_step"]) * 1e-9
    byt = report_bytes(r)
    t = {"threads": n, "tokens_per_s": tps, "flops_per_token": fps / float(r["tokens_per_step"]),
         "gflops": g, "flop": fps, "bytes": byt, "ai": fps / byt,
         "ms_median": r.get("ms_per_step", {}).get("median"), "steps": r.get("steps"),
         "config": r["config"]["name"], "peak_gflops": PEAK[1 if n == 1 else NMAX],
         "peak_threads": ceiling("fma", n, "best_gflops")[1]}
    t["mfu"] = g / t["peak_gflops"] if t["peak_gflops"] else None
    # the same work over the CPU time the workers were given (all steps, all
    # phases, all threads): per-core efficiency while running, which other
    # load on the machine does not depress as it does wall time
    cpu_s = sum(sum(ph) for ph in r.get("phases", {}).get("cpu_s", []))
    t["gflops_per_cpu_s"] = fps * float(r.get("steps", 0)) / cpu_s * 1e-9 if cpu_s > 0 else None
    t["mfu_cpu"] = t["gflops_per_cpu_s"] / PEAK[1] if t["gflops_per_cpu_s"] else None
    t["ws"] = float(r["memory"].get("total_at_threads") or byt)
    t.update(verdict(t["ai"], g, t["ws"], n))
    micro_step = next((s for s in steps if s["threads"] == n), None)
    t["bytes_micro"] = micro_step["bytes"] if micro_step else None
    trains.append(t)

# ------------------------------------------------------------------ plot data

os.makedirs(PLOTS, exist_ok=True)
PT = {("seed", "fwd"): 7, ("seed", "bwd"): 6, ("S", "fwd"): 9, ("S", "bwd"): 8,
      ("M", "fwd"): 5, ("M", "bwd"): 4}
GROUPS = [("matmul", "#1f77b4"), ("attention", "#9467bd"), ("layernorm", "#2ca02c"),
          ("gelu", "#ff7f0e"), ("crossentropy", "#8c564b")]
for grp, _ in GROUPS:
    with open_atomic(os.path.join(PLOTS, f"k_{grp}.dat")) as f:
        f.write("# ai gflops pointtype name\n")
        for k in kernels:
            if k["group"] == grp:
                f.write(f'{k["ai"]:.6g} {k["gflops"]:.6g} {PT.get((k["config"], k["dir"]), 1)} "{k["name"]}"\n')
# labels sit beside their points, placed in data coordinates so that the
# close pairs (forward/backward, step 1T/NT) do not overwrite each other
LABEL_POS = {"forward": (1.15, 0.72), "backward": (1.15, 1.3), "reduce": (1.2, 1.0),
             "optimizer": (1.2, 1.0)}
with open_atomic(os.path.join(PLOTS, "steps.dat")) as f:
    f.write("# ai gflops label_x label_y label   (train_model --report, config S, weak scaling)\n")
    for i, t in enumerate(trains):
        dy = 0.72 if i % 2 == 0 else 1.35
        f.write(f'{t["ai"]:.6g} {t["gflops"]:.6g} {t["ai"] / 1.15:.6g} {t["gflops"] * dy:.6g} '
                f'"step {t["threads"]}T"\n')
for tag, sel in (("phases1", lambda p: p["threads"] == 1), ("phasesN", lambda p: p["threads"] > 1)):
    with open_atomic(os.path.join(PLOTS, f"{tag}.dat")) as f:
        f.write("# ai gflops label_x label_y label   (trainer_step phase clocks, config S)\n")
        for p in phases:
            if sel(p):
                fx, fy = LABEL_POS.get(p["phase"], (1.2, 1.0))
                # an N-thread point close to its 1-thread twin shares its label
                twin = next((q for q in phases if q["phase"] == p["phase"] and q["threads"] == 1), None)
                label = p["phase"] if p["threads"] == 1 else f'{p["phase"]} {p["threads"]}T'
                if p["threads"] > 1 and twin and 1 / 1.3 < p["ai"] / twin["ai"] < 1.3 \
                        and 1 / 1.3 < p["gflops"] / twin["gflops"] < 1.3:
                    label = ""
                f.write(f'{p["ai"]:.6g} {p["gflops"]:.6g} {p["ai"] * fx:.6g} {p["gflops"] * fy:.6g} '
                        f'"{label}"\n')

ais = [x["ai"] for x in kernels + trains + phases if x["ai"] > 0]
gfs = [x["gflops"] for x in kernels + trains + phases if x["gflops"] and x["gflops"] > 0]
if not ais:
    die(f"{RUN}/micro.json holds no kernel with a FLOP and byte count")
ridge_dram1 = PEAK[1] / BW["dram"][1]
xmin = 10 ** math.floor(math.log10(min(ais) / 2))
xmax = 10 ** math.ceil(math.log10(max(max(ais), ridge_dram1) * 4))
ymin = 10 ** math.floor(math.log10(min(gfs) / 2))
ymax = 10 ** math.ceil(math.log10(PEAK[NMAX] * 1.5))
host = ceil.get("hostname", "?")
title = (f"roofline: {ceil.get('cpu_model', '?')} ({CPUS} CPUs, {ceil.get('isa')}), "
         f"run {os.path.basename(os.path.normpath(RUN))}")

gp = [
    "# roofline.gp - written by scripts/roofline.py; run in this folder: gnuplot roofline.gp",
    "set encoding utf8",
    f'set title "{title}"',
    'set xlabel "arithmetic intensity (analytic FLOP / minimal byte)"',
    'set ylabel "GFLOP/s (analytic FLOPs / median time)"',
    "set logscale xy",
    f"set xrange [{xmin:g}:{xmax:g}]",
    f"set yrange [{ymin:g}:{ymax:g}]",
    "set grid xtics ytics mxtics mytics lc rgb '#dddddd'",
    "set key outside right top box opaque font ',10' spacing 1.1",
    "set samples 2000",
    "min(a, b) = a < b ? a : b",
    f"peak1 = {PEAK[1]:.6g}; peakN = {PEAK[NMAX]:.6g}",
    f"dram1 = {BW['dram'][1]:.6g}; dramN = {BW['dram'][NMAX]:.6g}",
    f"llc1 = {BW['llc'][1]:.6g}; l21 = {BW['l2'][1]:.6g}",
    "plot \\",
    f"  min(peak1, x * dram1) w l lw 2.5 lc rgb '#000000' t sprintf('roof, 1 thread: FMA %.0f GFLOP/s, DRAM %.1f GB/s', peak1, dram1), \\",
    f"  min(peakN, x * dramN) w l lw 2 dt 2 lc rgb '#444444' t sprintf('roof, {NMAX} threads: FMA %.0f GFLOP/s, DRAM %.1f GB/s', peakN, dramN), \\",
    "  min(peak1, x * llc1) w l lw 1.5 dt 4 lc rgb '#888888' t sprintf('1 thread, LLC triad %.0f GB/s', llc1), \\",
    "  min(peak1, x * l21) w l lw 1.5 dt 3 lc rgb '#aaaaaa' t sprintf('1 thread, L2 triad %.0f GB/s', l21), \\",
]
for grp, color in GROUPS:
    gp.append(f"  'k_{grp}.dat' u 1:2:3 w p pt variable ps 1.6 lc rgb '{color}' notitle, \\")
    gp.append(f"  NaN w p pt 7 ps 1.6 lc rgb '{color}' t '{grp} (1 thread)', \\")
gp += [
    "  'phases1.dat' u 1:2 w p pt 13 ps 1.9 lc rgb '#d62728' t 'trainer phases, S, 1 thread (labelled)', \\",
    f"  'phasesN.dat' u 1:2 w p pt 12 ps 1.9 lw 2 lc rgb '#d62728' t 'trainer phases, S, {NMAX} threads', \\",
    "  'phases1.dat' u 3:4:5 w labels left font ',9' tc rgb '#d62728' notitle, \\",
    "  'phasesN.dat' u 3:4:5 w labels left font ',9' tc rgb '#d62728' notitle, \\",
    "  'steps.dat' u 1:2 w p pt 3 ps 2.4 lw 2 lc rgb '#e377c2' t 'training step, S (train_model)', \\",
    "  'steps.dat' u 3:4:5 w labels right font ',9' tc rgb '#e377c2' notitle, \\",
    "  NaN w p pt 7 ps 1.4 lc rgb '#000000' t 'config seed (filled: fwd, open: bwd)', \\",
    "  NaN w p pt 9 ps 1.4 lc rgb '#000000' t 'config S', \\",
    "  NaN w p pt 5 ps 1.4 lc rgb '#000000' t 'config M'",
]
script = "\n".join(gp) + "\n"
with open_atomic(os.path.join(PLOTS, "roofline.gp")) as f:
    f.write("set terminal pngcairo size 1500,900 noenhanced font 'DejaVu Sans,11'\n")
    f.write("set output 'roofline.png'\n")
    f.write(script)
    f.write("set terminal svg size 1500,900 dynamic noenhanced font 'DejaVu Sans,11'\n")
    f.write("set output 'roofline.svg'\n")
    f.write("replot\n")
    f.write("unset output\n")

# ------------------------------------------------------------------ roofline.md

ctx = micro.get("context", {})
uptime = ""
up_path = os.path.join(RUN, "uptime.txt")
if os.path.exists(up_path):
    with open(up_path) as f:
        uptime = " / ".join(l.strip() for l in f if l.strip())
rel_png = os.path.relpath(os.path.join(PLOTS, "roofline.png"), RUN)
md = []
w = md.append
w(f"# Roofline: {os.path.basename(os.path.normpath(RUN))}\n")
w(f"![roofline]({rel_png})  (also `{os.path.relpath(os.path.join(PLOTS, 'roofline.svg'), RUN)}`)\n")
w(f"- machine: {ceil.get('cpu_model')} on `{host}`, {CPUS} online CPUs, widest FMA unit "
  f"{ceil.get('isa')} ({ceil.get('vector_bits')} bit), L2 {human_bytes(L2_BYTES)}, "
  f"LLC {human_bytes(LLC_BYTES)}")
w(f"- load: {uptime or 'not recorded'}; ceilings loadavg {ceil.get('loadavg')}; "
  f"micro loadavg {ctx.get('load_avg')}")
w(f"- micro: {ctx.get('date', '?')}, git {ctx.get('cllm_git', '?')}, core {ctx.get('cllm_core_compiler', '?')} "
  f"`{ctx.get('cllm_core_cflags', '?')}`, {ctx.get('cllm_blas', '?')}, "
  f"{max((k['reps'] for k in kernels), default=0)} repetitions (medians below; spread = (max-min)/median)")
w("- timings are noisy on a shared machine: compare runs by their medians and spreads, not single numbers.\n")

w("## Ceilings (build/micro/ceilings, best of trials)\n")
w("| | 1 thread | %d threads |" % NMAX)
w("|---|---|---|")
w(f"| fp32 FMA peak, GFLOP/s ({ceil.get('isa')}) | {fmt(PEAK[1])} | {fmt(PEAK[NMAX])} |")
for lvl, nm in (("dram", "DRAM triad"), ("llc", "LLC triad"), ("l2", "L2 triad"), ("l1", "L1 triad")):
    if lvl in BW:
        w(f"| {nm}, GB/s ({ceil.get('triad_isa', 'ISA not recorded')}) | {fmt(BW[lvl][1])} | {fmt(BW[lvl][NMAX])} |")
for lvl, nm in (("dram", "DRAM"), ("llc", "LLC"), ("l2", "L2"), ("l1", "L1")):
    if lvl not in BW:
        continue
    w(f"| ridge point vs {nm}, FLOP/byte | {fmt(PEAK[1] / BW[lvl][1])} | {fmt(PEAK[NMAX] / BW[lvl][NMAX])} |")
w(f"\nDRAM triad arrays: {human_bytes(float(ceil.get('triad_array_bytes', 0)))} each "
  f"(>= 4x the LLC); triad bytes are STREAM's 24 per element (no write-allocate).\n")

w("## Model FLOPs utilisation of a training step (train_model --config S, weak scaling)\n")
if trains:
    w("| threads | tokens/s | FLOP/token | GFLOP/s | peak GFLOP/s (FMA, same threads) | MFU | "
      "GFLOP per CPU-second | MFU by CPU time | AI | verdict |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for t in trains:
        mc = fmt(100 * t["mfu_cpu"]) + "%" if t["mfu_cpu"] else "NA"
        w(f"| {t['threads']} | {fmt(t['tokens_per_s'])} | {fmt(t['flops_per_token'])} | {fmt(t['gflops'])} | "
          f"{fmt(t['peak_gflops'])} ({t['peak_threads']}T) | {fmt(100 * t['mfu'])}% | "
          f"{fmt(t['gflops_per_cpu_s'])} | {mc} | {fmt(t['ai'])} | {t['verdict']} |")
    w("\nGFLOP/s = tokens/s x flops_per_step / tokens_per_step (the report's model FLOPs, "
      "6·Bg·T·(L·(4C²+2CF)+VC) + 12·L·Bg·T²·C); MFU = that / the FMA peak measured at the same thread count. "
      "Bytes of a step (for the AI): N·(4P + A) forward + N·(8P + A) backward + 4P·N (+4P when N > 1) reduce "
      "+ 28P AdamW, with P parameters and A one worker's activation bytes from the report's memory table. "
      "MFU by CPU time = the FLOPs of all steps / the CPU time of all workers' phases / the 1-thread peak: "
      "the efficiency of a core while it runs, which time-sharing with other load does not depress.")
    for t in trains:
        if t["bytes_micro"] and abs(t["bytes_micro"] - t["bytes"]) > 1e-6 * t["bytes"]:
            w(f"\n**warning**: step bytes at {t['threads']} threads differ between micro ({t['bytes_micro']:.0f}) "
              f"and the report ({t['bytes']:.0f}): the two formulas have diverged.")
else:
    w("No train_model reports in the run folder.")
w("")

w("## Training-step phases (micro trainer_step, config S, trainer phase clocks)\n")
if phases:
    w("| phase | threads | ms/step (mean over workers) | GFLOP/s | GB/s | AI | working set | % of roof | verdict |")
    w("|---|---|---|---|---|---|---|---|---|")
    order = ["forward", "backward", "reduce", "optimizer"]
    for p in sorted(phases, key=lambda p: (p["threads"], order.index(p["phase"]))):
        w(f"| {p['phase']} | {p['threads']} | {fmt(p['ms'])} | {fmt(p['gflops'])} | {fmt(p['gbs'])} | "
          f"{fmt(p['ai'])} | {human_bytes(p['ws'])} | {fmt(100 * p['frac_of_roof'])}% | {p['verdict']} |")
    w("")
    for s in steps:
        w(f"- trainer_step at {s['threads']} thread{'s' if s['threads'] > 1 else ''}: {fmt(s['ms'])} ms/step, {fmt(s['gflops'])} GFLOP/s, "
          f"barrier wait {fmt(s['barrier_ms'])} ms/step (mean over workers)")
    w("\nThe phases are timed by the trainer's phase clocks; AdamW (adamw/*) and the gradient "
      "reduction (reduce/*, below) are also benchmarked alone. Reduce FLOPs: (N-1)·P adds + 2P for the "
      "squared norm; AdamW: about 17 FLOPs a parameter.")
else:
    w("No trainer_step benchmarks in micro.json.")
w("")

w("## Kernels (1 thread, median over repetitions)\n")
w("| benchmark | shape | GFLOP/s | GB/s | spread | AI | working set | roof | % of roof | verdict |")
w("|---|---|---|---|---|---|---|---|---|---|")
for k in sorted(kernels, key=lambda k: (CONFIG_ORDER.index(k["config"]) if k["config"] in CONFIG_ORDER else 9,
                                        k["name"])):
    w(f"| {k['name']} | {k['label']} | {fmt(k['gflops'])} | {fmt(k['gbs'])} | "
      f"{fmt(100 * k['spread']) + '%' if k['spread'] is not None else 'NA'} | {fmt(k['ai'])} | "
      f"{human_bytes(k['ws'])} | {k['level'].upper()} | {fmt(100 * k['frac_of_roof'])}% | {k['verdict']} |")
w("")

w("## The core's kernels per ISA clone (1 thread, median over repetitions)\n")
if clone_rows:
    w("| benchmark | clone | GB/s | GFLOP/s (model) | GFLOP/s (executed) | roof | roof value | % of roof |")
    w("|---|---|---|---|---|---|---|---|")
    for k in sorted(clone_rows, key=lambda k: (CONFIG_ORDER.index(k["config"]) if k["config"] in CONFIG_ORDER else 9,
                                               k["name"], CLONE_ORDER.index(k["isa"]) if k["isa"] in CLONE_ORDER else 9)):
        v = k["exec"] or k     # judged on the executed FLOPs where micro counts them
        if v["bound"] == "compute":
            roof, val = f"compute ({v['peak_kind']} peak, {k['roof_isa'][0]})", f"{fmt(v['roof_gflops'])} GFLOP/s"
        else:
            roof, val = (f"{v['level'].upper()} ({human_bytes(k['ws'])}, triad {k['roof_isa'][1]})",
                         f"{fmt(v['roof_gbs'])} GB/s")
        w(f"| {k['name']} | {k['isa']} | {fmt(k['gbs'])} | {fmt(k['gflops'])} | {fmt(k['exec_gflops'])} | "
          f"{roof} | {val} | {fmt(100 * v['frac_of_roof'])}% |")
    w("\nA memory-bound kernel meets the triad of the level its working set fits in (the GB/s column "
      "against the roof value); a compute-bound one the mul+add peak, half the FMA peak, since core/ "
      "forbids FMA contraction. Model FLOPs are the analytic counts of bench/micro/ops.cc; for the "
      "kernels built on the core's exp (GELU, cross-entropy's forward) the executed FLOPs (its polynomial, "
      "GELU's division, counted from the source: bench/micro/ops.cc EXP_OPS) are several times more, and "
      "those are what the roof and the % judge (NA: the two counts are the same). The clone of micro.json is the one picked at start "
      f"({ISA_MAIN}); the others ran with CLLM_ISA set. Each clone is judged against the ceilings of its own ISA "
      "(the roof column names it: `ceilings --isa`, RUN/ceilings-<clone>.json; the baseline clone's is SSE2, "
      "whose kernel multiplies and adds separately, so its figure is the mul+add peak itself), "
      "or against ceilings.json's where that file is missing.")
else:
    w("No kernel benchmarks.")
w("")

w("## The gradient combine against the triad (micro reduce, ceilings triad, same thread count)\n")
if combines:
    w("| benchmark | buffers | combine GB/s best / median | triad GB/s best / median (same threads, level) | "
      "ratio best / median |")
    w("|---|---|---|---|---|")
    for c in sorted(combines, key=lambda c: (c["level"] != "dram", c["threads"])):
        tri = (f"{fmt(c['triad_best'])} / {fmt(c['triad_median'])} ({c['level'].upper()})" if c["triad_best"]
               else f"NA (ceilings did not run at {c['threads']} threads)")
        rat = (f"{fmt(100 * c['ratio_best'])}% / {fmt(100 * c['ratio_median'])}%" if c["ratio_best"] else "NA")
        w(f"| {c['name']} | {c['label']} | {fmt(c['gbs_best'])} / {fmt(c['gbs_median'])} | {tri} | {rat} |")
    w("\nBytes counted as the triad counts its own: each array read once plus each array written once, no "
      "write-allocate: 4P(N+1) per pass for N > 1 buffers (N read, one written), 4P for N = 1 (the norm "
      "only reads). The triad writes an array it does not read, so its real traffic has a write-allocate "
      "stream its 24 bytes per element leave out; the combine writes what it has just read. Best is the "
      "best repetition (STREAM's convention, as ceilings reports), median the median; the two programs run "
      "one after the other, so load from outside moves the ratio: repeat before trusting one run.\n")
    for c in combines:
        if c["level"] == "dram" and c["ratio_best"]:
            w(f"- combine at {c['threads']} thread{'s' if c['threads'] > 1 else ''}: {fmt(c['gbs_best'])} GB/s, "
              f"{fmt(100 * c['ratio_best'])}% of the DRAM triad ({fmt(c['triad_best'])} GB/s) at the same thread count")
    w("")

w("## Pool (barrier round trip, job dispatch)\n")
if pools:
    w("| benchmark | threads | ns per barrier / run / step (median, min) | context switches per barrier / per run | note |")
    w("|---|---|---|---|---|")
    for p in pools:
        note = "; ".join(x for x in (p["label"], f"{p['barriers']:.0f} barriers per step" if p["barriers"] else "") if x)
        w(f"| {p['name']} | {p['threads']} | {fmt(p['ns'])} ({fmt(p['ns_min'])}) | {fmt(p['ctx_switches'])} | {note} |")
    w("\npool_step is a job with two pool_barrier calls: the synchronisation of one training step "
      "(its barriers counted by pool_syncs). On a loaded machine the median at the CPU count is dominated "
      "by waits for a descheduled worker; the minimum is the round trip itself.")
    w("")

# the summary the brief asks for: which phases are compute- and which bandwidth-bound
w("## Verdict\n")
cb = sorted({p["phase"] for p in phases if p["verdict"].startswith("compute")})
bb = sorted({p["phase"] for p in phases if p["verdict"].startswith("bandwidth")})
w(f"- training-step phases, compute-bound: {', '.join(cb) or 'none'}; bandwidth-bound: {', '.join(bb) or 'none'}.")
kc = sorted({k["group"] + "_" + k["dir"] for k in kernels if k["verdict"].startswith("compute")})
kb = sorted({k["group"] + "_" + k["dir"] for k in kernels if k["verdict"].startswith("bandwidth")})
w(f"- kernels compute-bound at some config: {', '.join(kc) or 'none'}.")
w(f"- kernels bandwidth-bound at some config: {', '.join(kb) or 'none'}.")
low = [k["name"] for k in kernels if k["frac_of_roof"] < 0.25]
if low:
    w(f"- below 25% of their roof (limited by overhead, latency or exp/tanh throughput, "
      f"which the analytic FLOP counts do not see): {', '.join(low)}.")
for t in trains:
    w(f"- MFU of the S training step at {t['threads']} thread{'s' if t['threads'] > 1 else ''}: "
      f"{fmt(100 * t['mfu'])}% ({fmt(t['gflops'])} of {fmt(t['peak_gflops'])} GFLOP/s); by CPU time "
      f"{fmt(100 * t['mfu_cpu']) + '%' if t['mfu_cpu'] else 'NA'}.")
load = (ctx.get("load_avg") or [0])[0]
if load > 0.5 * CPUS:
    w(f"- the load average was {load:.2f} on {CPUS} CPUs when the benchmarks started: other work shared "
      f"the cores, so the wall-time figures (ceilings, the training step, trainer_step, the pool) are "
      f"depressed; the single-thread kernel rates (CPU time) and the MFU by CPU time much less so.")
w("")
w("## Notes\n")
w("- FLOP and byte counts are analytic (bench/micro/ops.cc and train.cc say how each is counted); "
  "bytes are the minimal traffic (each input read once, each output written once), so a kernel whose "
  "working set stays in cache can sit above the DRAM roof; it is judged against the roof of the level "
  "its working set fits in. Attention counts its sgemms over the full T×T square, as executed.")
w("- Roofs: the triads count STREAM's 24 bytes an element; kernels that write in place what they read "
  "(crossentropy_bwd, the reduce, AdamW) are judged against 32/24 of them, since the triad's store also "
  "reads its line first (write-allocate) and theirs does not. A roof at N threads is at least its 1-thread "
  "value. The cache triads of build/micro/ceilings are vectorised (built at -O3): a scalar triad measured "
  "the core's instruction rate, not the cache's bandwidth, and put vectorised kernels at 150-350% of it.")
w("- A point still above 100% of its roof is flagged ABOVE in its verdict: that roof is wrong for it "
  "(a working set at the edge of a cache size judged against the wrong level, or the triad measured under "
  "load); the figure is shown, not hidden.")
w("- Kernel times are the calling thread's CPU time (single-threaded kernels); trainer and pool cases "
  "are wall time.")
w("- Hardware counters are not read: bench/counters attaches only to a spawned child "
  "(no counters_open_self yet), and Debian's Google Benchmark has no libpfm. Context switches and "
  "minor faults come from getrusage.")
if errors:
    w("- benchmarks that failed: " + "; ".join(f"{n}: {m}" for n, m in errors))
with open_atomic(os.path.join(RUN, "roofline.md")) as f:
    f.write("\n".join(md) + "\n")

summary = {"ceilings": {"peak_gflops": PEAK, "bw_gbs": BW, "threads_max": NMAX},
           "kernels": kernels, "kernels_per_clone": clone_rows, "steps": steps, "phases": phases, "train": trains, "pool": pools,
           "combine": combines,
           "errors": errors}
write_atomic(os.path.join(RUN, "roofline.json"), ijson.dumps(summary, indent=1, default=str))
