"""timeline.py - the timeline picture (plots/<run>/timeline.png and .svg):
a few steps of the traced point with the most workers that is not
oversubscribed (scale --trace keeps train_model --trace files in the run
folder), one row per worker, each phase a coloured bar; the locked
variant's timeline under the lock-free one, on the same time axis, so that
the model lock shows at a glance.
"""
import glob
import json
import os
import re

from .plots import gp_header, gp_str, vstyle

PHASES = [("job_start", "#bab0ac", "job start (waking)"), ("forward", "#4c78a8", "forward"),
          ("backward", "#72b7b2", "backward"), ("lock_wait", "#e45756", "lock wait"),
          ("barrier_wait", "#f58518", "barrier wait"), ("reduce", "#54a24b", "combine"),
          ("optimizer", "#b279a2", "optimizer"), ("comm", "#9d755d", "MPI calls"),
          ("comm_sum", "#eeca3b", "rank-order sum")]
STEPS = 3


def traces(run_dir):
    """{variant: {workers: path}} of the trace files scale --trace kept."""
    out = {}
    for p in glob.glob(os.path.join(run_dir, "trace-*.json")):
        m = re.match(r"trace-(.+)-(?:(\d+)x)?(\d+)\.json$", os.path.basename(p))
        if m:
            ranks = int(m.group(2) or 1)
            out.setdefault(m.group(1), {})[ranks * int(m.group(3))] = p
    return out


def pick(run, found):
    """The worker count to draw: the largest traced one within the usable CPUs
    (else the smallest traced), the same for every variant that has it."""
    counts = sorted({w for v in found.values() for w in v})
    if not counts:
        return None
    ok = [w for w in counts if w <= run["cpus"]]
    return max(ok) if ok else counts[0]


def load(path, nsteps=STEPS):
    """(rows, bars, span_ms): the bars of nsteps steps after the first traced
    one (the warm-up), times in ms from the first of them."""
    with open(path) as f:
        ev = json.load(f)["traceEvents"]
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    steps = sorted(e["args"]["step"] for e in ev if e["ph"] == "X" and e.get("cat") == "step" and e["pid"] == 0)
    keep = set(steps[1:1 + nsteps] if len(steps) > 1 else steps)
    xs = [e for e in ev if e["ph"] == "X" and e.get("cat") == "phase" and e["args"]["step"] in keep]
    if not xs:
        return [], [], 0.0
    t0 = min(e["ts"] for e in xs)
    tracks = sorted({(e["pid"], e["tid"]) for e in xs})
    rows = [names.get(t, f"rank {t[0]} track {t[1]}") for t in tracks]
    y = {t: i for i, t in enumerate(tracks)}
    idx = {p[0]: i for i, p in enumerate(PHASES)}
    bars = [((e["ts"] - t0) / 1e3, (e["ts"] + e["dur"] - t0) / 1e3, y[(e["pid"], e["tid"])], idx.get(e["name"], 0))
            for e in xs]
    return rows, bars, max(b[1] for b in bars)


def plot(run, res, d):
    """gnuplot script of the timeline (data files written into d), or None
    when the run folder holds no trace."""
    found = traces(run["dir"])
    W = pick(run, found)
    if W is None:
        return None
    variants = [v for v in run["variants"] if W in found.get(v, {})] or [v for v in found if W in found[v]]
    panels = []
    for v in variants:
        rows, bars, span = load(found[v][W])
        if not bars:
            continue
        with open(os.path.join(d, f"timeline_{v}.dat"), "w") as f:
            f.write("# x_ms y xlow xhigh ylow yhigh phase\n")
            for a, b, yy, p in bars:
                f.write(f"{(a + b) / 2:.6f} {yy} {a:.6f} {b:.6f} {yy - 0.38} {yy + 0.38} {p + 1}\n")
        panels.append((v, rows, span))
    if not panels:
        return None
    xmax = max(p[2] for p in panels)
    lts = "".join(f"set linetype {i + 1} lc rgb '{c}'\n" for i, (_, c, _) in enumerate(PHASES))
    keys = ", ".join(f"keyentry with boxes fs solid lc rgb '{c}' title '{lab}'" for _, c, lab in PHASES)
    over = " (oversubscribed)" if W > run["cpus"] else ""
    run_name = run["name"].replace("_", "\\_")
    gp = gp_header("timeline", 1400, 260 + 170 * sum(len(p[1]) for p in panels)) + lts
    title = (f"timeline: {STEPS} steps after the first, {W} workers{over} ({run_name}); phase clocks, "
             "train\\_model --trace")
    gp += (f"set multiplot layout {len(panels)},1 title {gp_str(title)}\n"
           f"set xrange [0:{xmax * 1.01:.6g}]\nset xlabel 'ms since the first step shown'\n"
           "set key at screen 0.5, screen 0.01 center bottom horizontal font ',10'\nset bmargin 5\n")
    for k, (v, rows, _) in enumerate(panels):
        ytics = ", ".join(f"{gp_str(r)} {i}" for i, r in enumerate(rows))
        gp += (f"set title {gp_str(vstyle(v, run)[1])}\nset yrange [{len(rows) - 0.5}:-0.5]\nset ytics ({ytics}) font ',10'\n"
               f"plot 'timeline_{v}.dat' using 1:2:3:4:5:6:7 with boxxyerror fs solid 1.0 noborder lc variable notitle"
               + (f", {keys}\n" if k == len(panels) - 1 else "\n"))
    return gp + "unset multiplot\n"
