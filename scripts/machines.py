#!/usr/bin/python3
"""machines.py - `make machines`: for each hwloc snapshot (NAME.tar.bz2 of
../shared/machines/, or --snapshots DIR), its topology (build/topo
--machine), the worker plan at 1, half and all usable PUs for --pin cores
and scatter (train_model --machine --pin-plan), and the projection of a
reference run (default results/reference-2core/) onto it, workers placed by
its plan; one table. Written under results/machines/ (--out): README.md
(the table), machines.json (every figure), NAME/topo.json and
NAME/plan-MODE-N.json.

The snapshots carry no memory bandwidth: each NUMA node gets
--dram-gbs-per-node (default project.DEFAULT_DRAM_GBS_PER_NODE), overridden
per machine with --dram NAME=X; --link-gbs NAME=Y bounds the reads that
cross nodes (none by default). The cores are assumed like the reference
run's: a projection, not a measurement.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from cllm_analysis import analysis, project, runs  # noqa: E402
from cllm_analysis.util import fmt_ci, json_text, write_atomic  # noqa: E402


def run_json(args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def pairs(items, what):
    out = {}
    for it in items or []:
        k, _, v = it.partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            sys.exit(f"machines: {what} {it}: give NAME=GB/s")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snapshots", default=os.path.join(os.path.dirname(REPO), "shared", "machines"))
    ap.add_argument("--reference", default=os.path.join(REPO, "results", "reference-2core"))
    ap.add_argument("--out", default=os.path.join(REPO, "results", "machines"))
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--dram-gbs-per-node", type=float, default=project.DEFAULT_DRAM_GBS_PER_NODE)
    ap.add_argument("--dram", action="append", metavar="NAME=X", help="GB/s per NUMA node of one machine")
    ap.add_argument("--link-gbs", action="append", metavar="NAME=Y", help="GB/s between NUMA nodes of one machine")
    ap.add_argument("--bootstrap", type=int, default=analysis.DEFAULT_BOOT)
    a = ap.parse_args()
    dram, link = pairs(a.dram, "--dram"), pairs(a.link_gbs, "--link-gbs")
    snaps = sorted(f[:-8] for f in os.listdir(a.snapshots) if f.endswith(".tar.bz2")) if os.path.isdir(a.snapshots) else []
    if not snaps:
        sys.exit(f"machines: no NAME.tar.bz2 snapshots in {a.snapshots} (--snapshots DIR)")
    try:
        run = runs.load_folder(a.reference)
    except (runs.NotScaleFolder, OSError, ValueError) as e:
        sys.exit(f"machines: cannot read the reference run: {e}")
    cpath = os.path.join(a.reference, "ceilings.json")
    ceil = project.load_ceilings(cpath) if os.path.exists(cpath) else None
    rows, full = [], {}
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        for name in snaps:
            tar = os.path.join(a.snapshots, name + ".tar.bz2")
            top = subprocess.run(["tar", "tjf", tar], capture_output=True, text=True).stdout.split("\n")[0].split("/")[0]
            subprocess.run(["tar", "xjf", tar, "-C", tmp], check=True)
            path = os.path.join(tmp, top)
            odir = os.path.join(a.out, name)
            os.makedirs(odir, exist_ok=True)
            topo = run_json([f"{a.build}/topo", "--machine", path])
            topo["machine_path"] = name + ".tar.bz2"   # not this machine's temporary folder
            write_atomic(os.path.join(odir, "topo.json"), json_text(topo))
            u = int(topo["usable_cpus"])
            plans = {}
            for mode in ("cores", "scatter"):
                for n in sorted({1, max(1, u // 2), u}):
                    p = run_json([f"{a.build}/train_model", "--machine", path, "--threads", str(n), "--pin", mode,
                                  "--pin-plan"])
                    p["machine"]["path"] = name + ".tar.bz2"
                    write_atomic(os.path.join(odir, f"plan-{mode}-{n}.json"), json_text(p))
                    plans[f"{mode}-{n}"] = [w["pu"] for w in p["workers"]]
            tgt = project.parse_target(f"machine={path}" + (f",dram-gbs-per-node={dram[name]}" if name in dram else
                                                            f",dram-gbs-per-node={a.dram_gbs_per_node}")
                                       + (f",link-gbs={link[name]}" if name in link else ""))
            tgt = project.load_machine(tgt, a.build)
            tgt["dram_default"] = name not in dram
            pr = analysis.projections_of(run, ceil, tgt, a.bootstrap, analysis.DEFAULT_SEED).get("target") or {}
            sp, spr = pr.get("speedup") or [], pr.get("speedup_spread") or {}
            nc = tgt["usable_cores"]
            at = lambda k: (sp[k - 1] if 0 < k <= len(sp) else None, spr.get(str(k)))  # noqa: E731
            row = {"machine": name, "cpu_model": topo.get("cpu_model"), "packages": topo["packages"],
                   "numa_nodes": topo["numa_nodes"], "cores": topo["cores"], "pus": topo["pus"],
                   "kinds": len(topo.get("cpukinds") or []), "usable_pus": u, "usable_cores": nc,
                   "offline": topo.get("offline_list"), "dram_gbs_per_node": tgt["dram_gbs_node"],
                   "link_gbs": tgt.get("link_gbs"), "speedup_per_core": at(nc), "speedup_per_pu": at(u),
                   "cross_node_share_at_pus": (pr.get("cross_node_share") or [None])[-1],
                   "reason": pr.get("reason")}
            rows.append(row)
            pr.pop("target", None)
            full[name] = {"row": row, "plans": plans, "projection": pr}
            print(f"machines: {name}: {u} usable PUs, speedup {fmt(row['speedup_per_core'])} at {nc} workers, "
                  f"{fmt(row['speedup_per_pu'])} at {u}", file=sys.stderr)
    meta = {"reference": os.path.relpath(a.reference, REPO), "ceilings": ceil, "bootstrap": a.bootstrap,
            "default_dram_gbs_per_node": a.dram_gbs_per_node, "machines": full}
    write_atomic(os.path.join(a.out, "machines.json"), json_text(meta))
    write_atomic(os.path.join(a.out, "README.md"), table(rows, a, run))
    print(os.path.join(os.path.relpath(a.out, REPO), "README.md"))


def fmt(v):
    s, ci = v
    return "n/a" if s is None else f"{s:.2f}x" + (f" {fmt_ci(ci, '{:.2f}')}" if ci else "")


def table(rows, a, run):
    L = ["# Machines: the plan and the projection on each hwloc snapshot", "",
         f"Written by `make machines` (scripts/machines.py) from the snapshots of `../shared/machines/` "
         f"(hwloc's test suite; licence in COPYING.hwloc there) and the reference run "
         f"`{os.path.relpath(a.reference, REPO)}` ({run['meta'].get('host', {}).get('cpu_model')}). Per machine, "
         "`NAME/topo.json` is build/topo --machine's JSON and `NAME/plan-MODE-N.json` train_model --pin-plan's "
         "at 1, half and all usable PUs.", "",
         "The projection is a model, not a measurement (scripts/cllm_analysis/project.py): the reference run's "
         "1- and 2-thread phase costs, workers placed where `--pin cores` puts them, each NUMA node's workers "
         "drawing up to its DRAM bandwidth, the combine's reads that cross nodes, and the step waiting for its "
         "slowest worker (a slower core kind; workers on SMT siblings of one core share it, with no SMT gain "
         "assumed, so the per-PU column is a lower bound where the machine has SMT). **The snapshots carry no "
         f"bandwidth**: every NUMA node is given {a.dram_gbs_per_node:g} GB/s (the default; `--dram NAME=X` per "
         "machine), with no limit between nodes unless `--link-gbs NAME=Y`; **the cores are assumed like the "
         "reference run's** (Zen 3 at that clock): an Opteron of 2008 or a POWER7 is not. The spread is the "
         "bootstrap's over the reference reps (it leaves out the model's own error).", "",
         "| machine | packages | NUMA nodes | cores | PUs | kinds | usable PUs | GB/s per node | speedup, 1 worker per usable core | speedup, 1 worker per usable PU | cross-node reads at all PUs |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|"]
    for r in rows:
        cs = r["cross_node_share_at_pus"]
        L.append(f"| {r['machine']} | {r['packages']} | {r['numa_nodes']} | {r['cores']} | {r['pus']} | "
                 f"{r['kinds'] or 'n/a'} | {r['usable_pus']}" + (f" (offline {r['offline']})" if r['offline'] else "") +
                 f" | {r['dram_gbs_per_node']:g} | {fmt(r['speedup_per_core'])} at {r['usable_cores']} | "
                 f"{fmt(r['speedup_per_pu'])} at {r['usable_pus']} | {'n/a' if cs is None else f'{cs:.0%}'} |")
    L += ["", "kinds: hwloc cpukinds (n/a: the snapshot gives none). usable PUs: online, in the allowed cpuset "
          "(cgroup) and, live, in the affinity mask (core/machine.h); no snapshot holds a CPU quota.", ""]
    return "\n".join(L)


main()
