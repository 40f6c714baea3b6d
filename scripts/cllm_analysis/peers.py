"""peers.py - cllm against its peers (make peers, scripts/peers.sh): one table
and one plot from the build/scale folders of one peers run (DIR/<config>/,
one sweep per config, with train_model's variants and the peers' --command
templates), through the statistics every sweep gets (analysis.point_row:
medians, min-max, the speedup and its interval (stats.hl_ratio_ci); compare.compare_point
for the ratio of cllm over the peer).

Per config and thread count, for every variant: the sweep's metric (tokens/s
under weak scaling for make peers) with its range, GFLOP/s of model FLOPs
(the report's flops_per_step; torch_gpt.py reports the same formula) and the
MFU, that over the fp32 FMA peak build/micro/ceilings measured on this
machine at the same thread count (DIR/ceilings.json or --ceilings; a thread
count it did not measure is the 1-thread peak x threads, said so; never a
constant). Variants named <peer>-<setting> (torch-passive, torch-active: one
per OMP_WAIT_POLICY) are one peer: at each thread count its better setting
by median is the peer's figure, the other is shown beside it. cllm's rows
carry cllm / peer with its 95% interval.

load(dir) reads the folders; build(...) is pure (the tests call it on data
in memory); text, csv_text and plot_script format the result.
"""
import os
import shutil
import subprocess

import numpy as np

from . import analysis, compare, runs
from .plots import gp_header, gp_str, vstyle
from .atomic import open_atomic
from .util import fmetric, fmt_ci, fnum, write_atomic

LOW_PEAK = 0.75       # a multi-thread peak under 0.75 x min(N, CPUs) x the 1-thread one: load held a CPU


def load(d):
    """The scale folders under d (one per config), in the order they ran,
    and d's ceilings.json (None when absent)."""
    subs = []
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if os.path.isfile(os.path.join(p, "meta.json")) and os.path.isfile(os.path.join(p, "runs.jsonl")):
            subs.append(runs.load_folder(p))
    if not subs:
        raise runs.NotScaleFolder(f"{d} holds no build/scale folder (DIR/<config>/meta.json and runs.jsonl)")
    subs.sort(key=lambda r: r["meta"].get("first_start_time") or r["meta"].get("start_time") or "")
    return subs


def peaks_of(ceil, threads, cpus):
    """GFLOP/s of the FMA peak per thread count from a ceilings.json object,
    the sentence saying where it came from, and warnings."""
    rows = {int(r["threads"]): float(r["best_gflops"]) for r in ceil.get("fma") or []}
    if not rows or (1 not in rows and not all(t in rows for t in threads)):
        raise ValueError("the ceilings file has no FMA peak at 1 thread or at each thread count")
    peaks = {t: rows[t] if t in rows else rows[1] * t for t in threads}
    scaled = [t for t in threads if t not in rows]
    trials = sorted({int(r.get("trials", 0)) for r in ceil["fma"]})
    src = (f"build/micro/ceilings' {ceil.get('isa')} FMA kernel, best of {'/'.join(map(str, trials))} trials, "
           f"measured {ceil.get('time_utc')} on `{ceil.get('hostname')}` ({ceil.get('cpu_model')}), "
           f"1-minute load {(ceil.get('loadavg') or ['?'])[0]}")
    if scaled:
        src += f"; at {', '.join(map(str, scaled))} threads: not measured, the 1-thread peak x threads"
    warn = [f"at {t} threads the measured FMA peak {rows[t]:.0f} GFLOP/s is under {LOW_PEAK} x min(threads, CPUs) "
            f"x the 1-thread peak: other load likely held a CPU while it was measured, so MFU there reads high"
            for t in threads if t > 1 and t in rows and 1 in rows and rows[t] < LOW_PEAK * min(t, cpus or t) * rows[1]]
    return peaks, src, warn


def peer_of(v):
    """'torch' for 'torch-passive'; None for a variant that is not a peer's setting (cllm's)."""
    return v.split("-", 1)[0] if "-" in v else None


def gflops(p, row):
    """Model GFLOP/s at the median metric: flops_per_step x metric / tokens_per_step
    (the metric is tokens/s), from the point's reps."""
    fl = [q["flops_per_step"] / q["tokens_per_step"] for q in p["reps"] if q.get("flops_per_step") and q.get("tokens_per_step")]
    if not fl or row.get("tps_median") is None:
        return None, None
    f = float(np.median(fl))
    return f * row["tps_median"] / 1e9, [f * row["tps_min"] / 1e9, f * row["tps_max"] / 1e9]


def build(subs, ceil):
    """Rows per config x threads x variant (dicts), and the notes."""
    threads = sorted({n for r in subs for (_, n) in r["points"]})
    cpus = subs[0]["cpus"]
    peaks, src, warn = peaks_of(ceil, threads, cpus) if ceil else ({}, None, [])
    out = []
    for run in subs:
        cfg = run["config"]
        tm = run.get("train_model_variants", run["variants"])
        for n in sorted({n for (_, n) in run["points"]}):
            group = []
            for v in run["variants"]:
                pts = runs.variant_points(run, v)
                p = run["points"].get((v, n))
                if not p:
                    continue
                base = next((q for q in pts if q["threads"] == 1 and q["reps"]), None)
                row = analysis.point_row(p, base)
                row.pop("compute_tps", None)
                g, g_range = gflops(p, row)
                peak = peaks.get(n)
                row.update({"config": cfg, "variant": v, "impl": "cllm" if v in tm else peer_of(v) or v,
                            "gflops": g, "gflops_range": g_range, "peak_gflops": peak,
                            "mfu": g / peak if g is not None and peak else None,
                            "mfu_range": [x / peak for x in g_range] if g_range and peak else None,
                            "samples": runs.tps(p).tolist() if p["reps"] else [],
                            "seqs_per_step": next((q["tokens_per_step"] / q["config"].get("T") for q in p["reps"]
                                                   if q.get("tokens_per_step") and (q.get("config") or {}).get("T")), None)})
                group.append(row)
            # a peer's better setting by median is its figure at this thread count
            best = {}
            for r in group:
                if r["impl"] != "cllm" and r.get("tps_median") is not None:
                    if r["impl"] not in best or r["tps_median"] > best[r["impl"]]["tps_median"]:
                        best[r["impl"]] = r
            for r in group:
                r["chosen"] = r["impl"] == "cllm" or best.get(r["impl"]) is r
                r["others"] = [o for o in group if o["impl"] == r["impl"] and o is not r and r["impl"] != "cllm"]
                if r["impl"] == "cllm":
                    r["against"] = {}
                    for peer, b in best.items():
                        c = compare.compare_point(b["samples"], r["samples"])
                        r["against"][peer] = {"variant": b["variant"], "ratio_medians": c["ratio_medians"],
                                              "ratio": c["ratio"], "ci": c["ci"], "verdict": c["verdict"]}
            out += group
    return {"rows": out, "threads": threads, "peaks": peaks, "peak_source": src, "warnings": warn,
            "unit": subs[0]["unit"], "scaling": subs[0]["scaling"], "cpus": cpus}


def _machine(subs):
    """The machine the sweeps ran on, as its meta.json names it (host, topology)."""
    r = subs[0]
    h, t = r["host"], r["host"].get("topology") or {}
    ident = ", ".join(f"{k} {t[v]}" for k, v in (("family", "cpu_family"), ("model", "cpu_model_number"))
                      if t.get(v) is not None)
    vendor = f" ({t.get('cpu_vendor')}, {ident})" if ident else ""
    return (f"`{h.get('hostname')}`: {h.get('cpu_model') or 'unknown CPU'}{vendor}, "
            f"{h.get('usable_cpus') or r['cpus']} usable CPUs ({h.get('cores')} cores)")


def text(subs, res, plot_rel=None):
    """peers.md."""
    unit, rows = res["unit"], res["rows"]
    torch = next((q["report"].get("torch") for s in subs for q in s["records"] if (q.get("report") or {}).get("torch")), None)
    tb = subs[0]["meta"].get("train_model_build") or {}
    configs = [s["config"] for s in subs]
    L = [f"# cllm against its peers: {', '.join(configs)} at {', '.join(map(str, res['threads']))} threads", "",
         f"Machine {_machine(subs)}; torch {torch or '?'}; cllm `{tb.get('git', '?')}` ({tb.get('compiler', '?')}, "
         f"{tb.get('cflags', '?')}, {subs[0]['meta'].get('blas', '?')}). Sweeps: " +
         ", ".join(f"`{os.path.basename(os.path.normpath(s['dir']))}/` ({s['meta'].get('status')}, "
                   f"{s['meta'].get('runs_ok')} runs ok, {s['meta'].get('runs_failed')} failed)" for s in subs) + ".", ""]
    if res["warnings"]:
        L += [f"- **Warning**: {w}." for w in res["warnings"]] + [""]
    L += [f"| config | threads | impl | variant | seqs/step | {unit} median [min-max] | cllm / peer [95%] | "
          f"GFLOP/s | MFU [min-max] | CPU (process) | |", "|---|---:|---|---|---:|---|---|---:|---|---:|---|"]
    for r in rows:
        if not r["chosen"]:
            continue
        if not r["reps_ok"]:
            L.append(f"| {r['config']} | {r['threads']} | {r['impl']} | {r['variant']} | | failed (0/{r['reps_failed']}) | | | | | |")
            continue
        vs = "; ".join(f"{a['ratio']:.2f} {fmt_ci(a['ci'], '{:.2f}')} ({a['variant']})"
                       for a in (r.get("against") or {}).values())
        var = r["variant"] + "".join(f" (beside {o['variant']}: {fmetric(o.get('tps_median'))})" for o in r["others"])
        L.append(f"| {r['config']} | {r['threads']} | {r['impl']} | {var} | {fnum(r['seqs_per_step'], '{:.0f}')} | "
                 f"{fmetric(r['tps_median'])} [{fmetric(r['tps_min'])}-{fmetric(r['tps_max'])}] | {vs} | "
                 f"{fnum(r['gflops'], '{:.1f}')} | {fnum(r['mfu'] and 100 * r['mfu'], '{:.1f}%')} "
                 f"{fmt_ci(r['mfu_range'] and [100 * x for x in r['mfu_range']], '{:.1f}%') if r['mfu_range'] else ''} | "
                 f"{fnum(r.get('cpu_util_process'), '{:.2f}')} | {'**oversubscribed**' if r['oversubscribed'] else ''} |")
    peak_list = ", ".join(f"{t}: {p:.1f}" for t, p in res["peaks"].items())
    L += ["", "Notes", "",
          f"- **{res['scaling'].capitalize()} scaling**: cllm at N threads trains N x B sequences per step (B per "
          "worker); torch_gpt.py with --scaling weak trains N x B sequences on N intra-op threads, so both do the same "
          f"work per step and the comparison is {unit}, the sweeps' metric. cllm / peer = cllm over the "
          "peer's better setting, the Hodges-Lehmann ratio (median of the pairwise ratios of the reps) with its 95% "
          "Mann-Whitney interval (scripts/compare's).",
          "- **tokens/s**: training tokens of the steps after the warm-up over their summed wall time, in cllm's report "
          "(one warm-up step) and torch_gpt.py's (its --warmup steps) alike; medians and ranges over the reps, which "
          "build/scale interleaved (bench/RESULTS.md).",
          "- **GFLOP/s**: model FLOPs, the report's flops_per_step (6·(sequences·T)·(L·(4C²+2CF) + VC) + "
          "12·L·(sequences·T)·T·C: matmuls and attention, forward and backward; no LayerNorm, softmax, GELU or AdamW, "
          "the same formula in cllm and torch_gpt.py) x tokens/s ÷ tokens per step. **MFU** = that over the fp32 FMA "
          f"peak at the same thread count (GFLOP/s {peak_list or 'none'}; source: {res['peak_source'] or 'no ceilings.json: no MFU'}).",
          "- **torch threads**: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and torch.set_num_threads from {threads}; each "
          "OMP_WAIT_POLICY in its own variant; the table keeps the better by median, the other beside it. CPU = "
          "(user+sys)/wall of the whole process (start-up included).",
          f"- **oversubscribed**: threads > {res['cpus']} usable CPUs, labelled, not left out.",
          "- Files: `peers.csv` (every variant and setting), each config's folder (runs.jsonl, summary.csv, runs.csv; "
          "scripts/analyze DIR/<config> gives its full report)" + (f", plot `{plot_rel}.png` / `.svg`." if plot_rel else ".")]
    return "\n".join(L) + "\n"


CSV_COLS = ["config", "threads", "impl", "variant", "chosen", "oversubscribed", "reps_ok", "reps_failed", "seqs_per_step",
            "metric_median", "metric_min", "metric_max", "metric_unit", "speedup", "speedup_ci_lo", "speedup_ci_hi",
            "gflops_per_s", "peak_gflops", "mfu", "mfu_min", "mfu_max", "cpu_util_process",
            "cllm_over_peer", "cllm_over_peer_ci_lo", "cllm_over_peer_ci_hi", "peer_variant"]


def csv_text(res):
    cell = lambda x: "NA" if x is None else (f"{x:.6g}" if isinstance(x, float) else str(int(x) if isinstance(x, bool) else x))
    lines = [",".join(CSV_COLS)]
    for r in res["rows"]:
        a = next(iter((r.get("against") or {}).values()), {})
        ci, sci, mr = a.get("ci") or [None, None], r.get("speedup_ci") or [None, None], r.get("mfu_range") or [None, None]
        vals = [r["config"], r["threads"], r["impl"], r["variant"], r["chosen"], r["oversubscribed"], r["reps_ok"],
                r["reps_failed"], r.get("seqs_per_step"), r.get("tps_median"), r.get("tps_min"), r.get("tps_max"), res["unit"],
                r.get("speedup"), sci[0], sci[1], r.get("gflops"), r.get("peak_gflops"), r.get("mfu"), mr[0], mr[1],
                r.get("cpu_util_process"), a.get("ratio"), ci[0], ci[1], a.get("variant")]
        lines.append(",".join(cell(x) for x in vals))
    return "\n".join(lines) + "\n"


def plot_script(subs, res, d):
    """peers.gp and its data: the metric over threads on a log axis (the
    implementations may be orders of magnitude apart), one panel per config,
    every variant (a peer's setting never kept dashed)."""
    configs = [s["config"] for s in subs]
    names = []
    for s in subs:
        for v in s["variants"]:
            if v not in names:
                names.append(v)
    with open_atomic(os.path.join(d, "peers.dat")) as f:
        f.write("# one block per config (gnuplot index i = the i-th): threads, then median min max of "
                + ", ".join(names) + f" ({res['unit']}; ? = none)\n")
        for c in configs:
            f.write(f"# config {c}\n")
            for n in res["threads"]:
                vals = [str(n)]
                for v in names:
                    r = next((r for r in res["rows"] if r["config"] == c and r["threads"] == n and r["variant"] == v), None)
                    vals += [fnum(r and r.get(k), "{:.6g}", "?") for k in ("tps_median", "tps_min", "tps_max")]
                f.write(" ".join(vals) + "\n")
            f.write("\n\n")
    run0 = {"variants": names}
    W = max(1, len(configs))
    unit, ts = res["unit"], res["threads"]
    title = (f"cllm against its peers: {unit}, median of the reps, bars min-max\n"
             f"{res['scaling']} scaling, {res['cpus']} CPUs; dashed: a setting never kept")
    gp = gp_header("peers", max(700, 520 * W), 560)
    gp += (f"set multiplot layout 1,{W} title {gp_str(title)}\n"
           f"set key below font \",10\"\nset xtics ({', '.join(map(str, ts))})\n"
           f"set xrange [{min(ts) - 0.5}:{max(ts) + 0.5}]\nset logscale y 10\n"
           f"set xlabel \"threads\"\nset ylabel {gp_str(unit)}\n")
    for i, c in enumerate(configs):
        gp += f"set title {gp_str('config ' + c)}\n"
        parts = []
        for k, v in enumerate(names):
            color, label = vstyle(v, run0)
            chosen = any(r["chosen"] for r in res["rows"] if r["variant"] == v)
            parts.append(f"'peers.dat' index {i} using 1:{2 + 3 * k}:{3 + 3 * k}:{4 + 3 * k} with yerrorlines "
                         f"lw 2 pt 7 dt {1 if chosen else 2} lc rgb '{color}' title {gp_str(label)}")
        gp += "plot " + ", ".join(parts) + "\n"
    return gp + "unset multiplot\n"


def write(d, subs, res, plots_dir):
    """peers.md, peers.csv (in d) and the plot (plots_dir); returns why the plot
    is missing ("" when it was drawn) and the text of peers.md."""
    os.makedirs(plots_dir, exist_ok=True)
    note = ""
    gp = plot_script(subs, res, plots_dir)
    with open_atomic(os.path.join(plots_dir, "peers.gp")) as f:
        f.write("# peers.gp - written by scripts/peers-report; redraw with: gnuplot -e 'fmt=\"svg\"' peers.gp\n" + gp)
    if not shutil.which("gnuplot"):
        note = "no plot: gnuplot is not installed (scripts/deps.sh installs gnuplot-nox)"
    else:
        for fmt in ("png", "svg"):
            p = subprocess.run(["gnuplot", "-e", f'fmt="{fmt}"', "peers.gp"], cwd=plots_dir, capture_output=True, text=True)
            if p.returncode != 0:
                note = f"gnuplot failed on {os.path.join(plots_dir, 'peers.gp')}: {p.stderr.strip()[-300:]}"
                break
    rel = os.path.relpath(os.path.join(plots_dir, "peers"), d)
    md = text(subs, res, None if note else rel)
    write_atomic(os.path.join(d, "peers.md"), md)
    write_atomic(os.path.join(d, "peers.csv"), csv_text(res))
    return note, md
