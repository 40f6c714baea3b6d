"""cli.py - the command lines: analyze (REPORT.md, fit.json and plots of a
results folder), compare (the point-by-point comparison and gate) and
peers-report (make peers' table and plot). They
parse arguments, read the folders and call the package; nothing else."""
import argparse
import os
import sys

from . import analysis, compare, ijson, peers, plots, project, report, runs, timeline, twonode
from .util import json_text, write_atomic

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ANALYZE_EPILOG = """\
Reads RESULTS_DIR/meta.json, runs.jsonl and memory.csv (bench/RESULTS.md) of a
folder build/scale wrote (make bench-2node's folder: its 2-node table, the model
beside the measurement with its error, and the goals, into REPORT.md; any other
folder is refused), writes
RESULTS_DIR/REPORT.md, RESULTS_DIR/fit.json and the plots (PNG and SVG, with
their gnuplot scripts and data) into the plots folder, and prints the report's
path. The ceilings of the projection come from --ceilings, else
RESULTS_DIR/ceilings.json (build/micro/ceilings --out FILE; make bench writes
it); without them the projection says so and leaves the ceilings out.

Exit: 0 ok, 1 unreadable or refused results folder or a failed plot, 2 usage error.
"""

COMPARE_EPILOG = """\
Per point: ratio = candidate over baseline as a speed (> 1 = candidate faster),
the Hodges-Lehmann ratio (median of the pairwise ratios) with its 95%
Mann-Whitney (Moses) interval, which always contains it, and the Mann-Whitney U test (scipy, exact without ties). Verdicts: faster / slower
(p < alpha in that direction, the interval excludes 1 and the ratio is beyond
1 +- threshold), equivalent (the interval inside 1 +- threshold), no
significant difference, undecidable (the rep counts cannot reach alpha: the
smallest p of an exact test of these sizes is >= alpha; it says how many reps
are needed), no data. Several points are tested without a multiple-comparison
correction; the threshold guards against small, significant but irrelevant
changes.

Two folders must agree in config, scaling, steps and machine (CPU model, CPUs
in the affinity mask): otherwise compare refuses (exit 2) unless
--allow-different is given, and the table then names every difference.

Exit: 0 no gated point slower (with --expect-faster: every gated point faster);
1 a gated point slower (not faster), or no gated point has data on both sides;
2 usage error, unreadable folder, runs that differ; 3 undecidable (a gated point's
rep counts cannot reach alpha) and nothing failed.
"""


def die(tool, msg, code=1):
    print(f"{tool}: {msg}", file=sys.stderr)
    sys.exit(code)


def analyze_main(argv=None):
    ap = argparse.ArgumentParser(prog="analyze", description="The scaling analysis of one build/scale results folder.",
                                 epilog=ANALYZE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results_dir", help="a folder build/scale wrote")
    ap.add_argument("--plots-dir", help="where the plots go (default: plots/<results folder name>/ at the top of the repository)")
    ap.add_argument("--bootstrap", type=int, default=analysis.DEFAULT_BOOT,
                    help=f"bootstrap resamples of the projection's spread (default {analysis.DEFAULT_BOOT}, 0 = none)")
    ap.add_argument("--seed", type=int, default=analysis.DEFAULT_SEED, help="bootstrap seed (reports are reproducible)")
    ap.add_argument("--no-plots", action="store_true", help="write REPORT.md and fit.json only")
    ap.add_argument("--ceilings", help="build/micro/ceilings JSON for the projection (default RESULTS_DIR/ceilings.json)")
    ap.add_argument("--project", metavar="cores=N,dram-gbs=X | machine=PATH,dram-gbs-per-node=X[,link-gbs=Y]",
                    help="also project onto a target machine of N cores and X GB/s of DRAM bandwidth, or onto an hwloc "
                         "snapshot folder or XML file (workers placed by its plan, X GB/s per NUMA node, Y GB/s between "
                         "nodes); cores like this machine's")
    ap.add_argument("--machine", metavar="PATH",
                    help="--project machine=PATH with the default bandwidth per NUMA node "
                         f"({project.DEFAULT_DRAM_GBS_PER_NODE:g} GB/s)")
    ap.add_argument("--train-model", default=os.path.join(REPO, "build", "lockfree", "train_model"),
                    help="asked for the seed config's memory table (default build/lockfree/train_model)")
    a = ap.parse_args(argv)
    if a.bootstrap < 0:
        ap.error("--bootstrap must be >= 0")
    try:
        if a.machine and a.project:
            raise ValueError("give --machine PATH or --project, not both")
        target = project.parse_target(a.project if a.project else f"machine={a.machine}" if a.machine else "") \
            if a.project or a.machine else None
    except ValueError as e:
        ap.error(str(e))
    if target and target.get("machine"):
        try:
            target = project.load_machine(target, os.path.join(REPO, "build"))
        except (RuntimeError, OSError, ValueError) as e:
            print(f"analyze: --machine {target['machine']}: {e}", file=sys.stderr)
            sys.exit(2)
    if twonode.is_folder(a.results_dir):   # make bench-2node's folder: the 2-node table and its model
        try:
            twonode.write(a.results_dir)
        except (OSError, ValueError, KeyError, TypeError) as e:
            die("analyze", f"cannot read the bench-2node folder {a.results_dir}: {e}")
        print(os.path.join(a.results_dir, "REPORT.md"))
        return 0
    try:
        run = runs.load_folder(a.results_dir)
    except runs.NotScaleFolder as e:
        die("analyze", f"refusing {a.results_dir}: {e}")
    except (OSError, ValueError) as e:
        die("analyze", f"cannot read results folder: {e}")
    cpath = a.ceilings or os.path.join(a.results_dir, "ceilings.json")
    ceil = None
    if a.ceilings or os.path.exists(cpath):
        try:
            ceil = project.load_ceilings(cpath)
        except (OSError, ValueError, KeyError, TypeError) as e:
            die("analyze", f"cannot read the ceilings file {cpath}: {e}")
    res = analysis.analyze(run, a.bootstrap, a.seed, a.train_model, ceil, target)
    plots_dir = a.plots_dir or os.path.join(REPO, "plots", run["name"])
    made, note = ([], "No plots: --no-plots was given.") if a.no_plots else plots.make(run, res, plots_dir, (("timeline", timeline.plot),))
    res["plots"] = made
    res["counters_plot_made"] = "counters" in made
    report.write(run, res, plots_dir, made, note)
    for f in res["variants"].values():
        f["fits"].pop("samples", None)
    write_atomic(os.path.join(run["dir"], "fit.json"), json_text(res))
    print(os.path.join(run["dir"], "REPORT.md"))
    if note and not a.no_plots:
        if "gnuplot is not installed" not in note:
            die("analyze", note)              # a plot failed: the report says which
        print("analyze: warning: " + note, file=sys.stderr)
    return 0


PEERS_EPILOG = """\
Reads the build/scale folders under PEERS_DIR (one per config, as scripts/peers.sh
writes them: train_model's variants and the peers' --command templates) and
PEERS_DIR/ceilings.json (build/micro/ceilings: the FMA peak the MFU divides by;
--ceilings FILE instead), writes PEERS_DIR/peers.md and peers.csv and the plot
(plots/<PEERS_DIR name>/peers.png, .svg with peers.gp and peers.dat), and prints
the table.

Exit: 0 ok, 1 unreadable folder or ceilings, or a failed plot; 2 usage error.
"""


def peers_main(argv=None):
    ap = argparse.ArgumentParser(prog="peers-report", description="cllm against its peers: one table and one plot "
                                 "from the sweeps of scripts/peers.sh.", epilog=PEERS_EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("peers_dir", help="the folder scripts/peers.sh wrote")
    ap.add_argument("--ceilings", help="build/micro/ceilings JSON of this machine (default PEERS_DIR/ceilings.json)")
    ap.add_argument("--plots-dir", help="where the plot goes (default: plots/<PEERS_DIR name>/ at the top of the repository)")
    a = ap.parse_args(argv)
    try:
        subs = peers.load(a.peers_dir)
    except (runs.NotScaleFolder, OSError, ValueError) as e:
        die("peers-report", f"cannot read {a.peers_dir}: {e}")
    cpath = a.ceilings or os.path.join(a.peers_dir, "ceilings.json")
    ceil = None
    if a.ceilings or os.path.exists(cpath):
        try:
            ceil = ijson.load_file(cpath)
            res = peers.build(subs, ceil)
        except (OSError, ValueError, KeyError, TypeError) as e:
            die("peers-report", f"cannot use the ceilings file {cpath}: {e}")
    else:
        print(f"peers-report: warning: no {cpath}: no FMA peak, so no MFU", file=sys.stderr)
        res = peers.build(subs, None)
    plots_dir = a.plots_dir or os.path.join(REPO, "plots", os.path.basename(os.path.normpath(a.peers_dir)))
    note, md = peers.write(a.peers_dir, subs, res, plots_dir)
    print(md[md.index("| config"):md.index("\nNotes")])
    print(f"peers-report: wrote {os.path.join(a.peers_dir, 'peers.md')}, peers.csv"
          + ("" if note else f"; {os.path.join(plots_dir, 'peers.png')}, .svg"))
    if note:
        die("peers-report", note)
    return 0


def compare_main(argv=None):
    ap = argparse.ArgumentParser(prog="compare", description=(
        "Compare two scaling runs (BASE_DIR CAND_DIR: the same variant and thread count in both), or two variants "
        "of one run (RUN_DIR --variants BASE,CAND), point by point; exits non-zero on a significant regression: "
        "usable as a gate."), epilog=COMPARE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", metavar="DIR", help="BASE_DIR CAND_DIR, or one RUN_DIR")
    ap.add_argument("--variants", help="two folders: the variants compared (default: all in both); one folder: "
                                       "BASE,CAND (default locked,lockfree)")
    ap.add_argument("--threads", help="only these thread counts (comma-separated)")
    ap.add_argument("--metric", default="tokens_per_s", choices=["tokens_per_s", "wall_s"],
                    help="tokens_per_s (default; higher is better) or wall_s (the process's wall time; lower is better)")
    ap.add_argument("--threshold", type=float, default=0.05,
                    help="relative change that matters, in [0, 1) (default 0.05)")
    ap.add_argument("--alpha", type=float, default=0.05, help="significance level of the one-sided test (default 0.05)")
    ap.add_argument("--expect-faster", action="store_true",
                    help="exit 1 unless the candidate is faster at every gated point")
    ap.add_argument("--include-oversubscribed", action="store_true",
                    help="gate on oversubscribed points too (default: shown, not gated)")
    ap.add_argument("--gate-threads", help="gate only on these thread counts (the others are shown)")
    ap.add_argument("--phases", action="store_true", help="also print each point's phase shares")
    ap.add_argument("--allow-different", action="store_true",
                    help="compare runs that differ in config, scaling, steps or machine (flagged in the table)")
    ap.add_argument("--json", metavar="FILE", help="also write the rows and the outcome as JSON")
    a = ap.parse_args(argv)
    if len(a.dirs) > 2:
        ap.error("give one results folder (compare its variants) or two (baseline, candidate)")
    if not (0 <= a.threshold < 1) or not (0 < a.alpha < 1):
        ap.error("--threshold must be in [0, 1) and --alpha in (0, 1)")

    def int_list(opt, v):
        try:
            return [int(t) for t in v.split(",")] if v else None
        except ValueError:
            ap.error(f"{opt} must be a comma-separated list of integers, not '{v}'")
    threads, gate_threads = int_list("--threads", a.threads), int_list("--gate-threads", a.gate_threads)
    try:
        rs = [runs.load_folder(d) for d in a.dirs]
    except (OSError, ValueError) as e:
        die("compare", f"cannot read results folder: {e}", 2)
    base, cand = rs[0], rs[-1]
    notes = []
    if len(rs) == 1:
        vs = (a.variants or "locked,lockfree").split(",")
        if len(vs) != 2 or any(v not in base["variants"] for v in vs):
            ap.error(f"--variants must be BASE,CAND, two of {','.join(base['variants'])} (got '{a.variants}')")
        ns = sorted({n for (v, n) in base["points"] if v in vs})
        pairs = [(vs[0], vs[1], n) for n in ns if threads is None or n in threads]
        header = f"{a.metric}: candidate {vs[1]} against baseline {vs[0]} in {base['name']}"
    else:
        diff = compare.differences(base, cand)
        if diff and not a.allow_different:
            die("compare", f"refusing to compare {base['name']} with {cand['name']}: they differ in "
                           f"{'; '.join(diff)} (their figures are not comparable; --allow-different compares them "
                           f"anyway, flagged)", 2)
        notes = [f"the runs differ in {d}" for d in diff]
        vs = a.variants.split(",") if a.variants else [v for v in base["variants"] if v in cand["variants"]]
        common = sorted(set(base["points"]) & set(cand["points"]),
                        key=lambda k: (vs.index(k[0]) if k[0] in vs else 99, k[1]))
        pairs = [(v, v, n) for (v, n) in common if v in vs and (threads is None or n in threads)]
        header = f"{a.metric}: candidate {cand['name']} against baseline {base['name']}"
    if not pairs:
        die("compare", "no point in common to compare", 2)
    rows = compare.compare_runs(base, cand, pairs, a.metric, a.threshold, a.alpha, a.include_oversubscribed)
    for r in rows:
        if gate_threads is not None and r["threads"] not in gate_threads:
            r["gated"] = False
    print(compare.table(rows, header, a.phases, notes))
    code, msg = compare.gate(rows, a.expect_faster, a.threshold, a.alpha)
    print(msg)
    if a.json:
        write_atomic(a.json, json_text({"rows": rows, "exit": code, "outcome": msg, "notes": notes}))
    return code
