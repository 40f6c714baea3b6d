#!/usr/bin/python3
"""bench_2node.py - make bench-2node: the MPI variant on two nodes of
scripts/cluster (network namespaces joined by a tbf-shaped veth link), one
rank of 1 thread per node, through build/scale, against the projection of
the 2-node model (cllm_analysis/nodes.py) from a link probe and a 1-node
reference measured in the same run. Root only (exit 2 otherwise).

  scripts/bench_2node.py [--configs seed,S,seed:8] [--rates none,1gbit,200mbit]
                         [--reps 3] [--steps 8] [--probe-mb 32] [--probe-iters 6]
                         [--probe-gap-ms 0|ref] [--out DIR]

  --configs   config[:batch] list; seed:8 is config seed with --batch 8
  --rates     tc rates of the link (none: unshaped veth)
  --overlap   train_model's --overlap values (default off,on: both, their order
              turning at each rep like the rates')
Every rep goes over every config, and within it over every rate (the order
of the rates turns by one at each rep, so that drift does not fall on one
rate): the link is shaped, probed (scripts/cluster probe: TCP ping-pong and
stream, both directions at once as the exchange runs, and the stream's CPU
cost; --mpi: build/mpi/comm_probe, the config's step of messages in the
trainer's calls, overlap off's and on's, --probe-iters times after
--probe-gap-ms of idle link; the model's input, not the training run's own
throughput), then one build/scale --reps 1 run of
--variants mpi --ranks 2 --threads 1 with the cluster's mpirun arguments (its
hostfile and agent) runs in node 0, once per --overlap value. Before the rates of a config, one
build/scale run of the lock-free build at 1 node x 2 threads (the same
workers and batch) is the reference the model starts from. Not root: exit 2 before anything is written.

The folder (default results/<UTC>-<host>-2node/): raw/ (every scale run and
probe), table.csv, table.json and table.md (per config and rate: medians of
step time, the exchange's exposed and hidden time from the ranks' clocks,
bytes per step, the rate the exchange reached, the probes, the model's step
beside the measured one with its error, overlap off and on), REPORT.md (the
same with the issue's goals judged; cllm_analysis/twonode.py, which
`scripts/analyze FOLDER` reruns), meta.json (machine, load, command line,
git revision). The cluster (prefix cllm2-) is
taken down at the end, also after an error or an interrupt.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cllm_analysis import twonode                # noqa: E402
from cllm_analysis.atomic import write_atomic    # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv, log):
    with open(log, "a") as f:
        f.write("$ " + " ".join(argv) + "\n")
        f.flush()
        return subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT).returncode


def record(folder):
    with open(os.path.join(folder, "runs.jsonl")) as f:
        return json.loads(f.readline())


def cpu_name():
    """model name, vendor, family and model of the first CPU in /proc/cpuinfo"""
    f = {}
    for line in open("/proc/cpuinfo"):
        if not line.strip():
            break
        k, _, v = line.partition(":")
        f[k.strip()] = v.strip()
    return (f"{f.get('model name', '?')} ({f.get('vendor_id', '?')} family {f.get('cpu family', '?')} "
            f"model {f.get('model', '?')})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="seed,S,seed:8")
    ap.add_argument("--rates", default="none,1gbit,200mbit")
    ap.add_argument("--overlap", default="off,on", help="train_model's --overlap values to run (off,on)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--probe-mb", type=int, default=32)
    ap.add_argument("--probe-iters", type=int, default=6, help="the MPI probe's iterations (default 6)")
    ap.add_argument("--probe-gap-ms", default="0",
                    help="the link idle before each MPI probe iteration: ms, or ref (the reference's step)")
    ap.add_argument("--bin-dir", default="build")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.probe_gap_ms != "ref" and not a.probe_gap_ms.isdigit():
        ap.error(f"--probe-gap-ms {a.probe_gap_ms!r}: milliseconds, or ref")
    if a.reps < 1 or a.steps < 2:
        ap.error("--reps >= 1 and --steps >= 2 (the first step is left out of the step time)")
    configs = [(c.split(":")[0], c.split(":")[1] if ":" in c else None) for c in a.configs.split(",")]
    rates = a.rates.split(",")
    overlaps = a.overlap.split(",")
    if not overlaps or any(v not in ("on", "off") for v in overlaps):
        ap.error(f"--overlap {a.overlap!r}: on, off or both (off,on)")
    if os.geteuid() != 0:   # before the folder is made: scripts/cluster needs root
        print("bench-2node: must run as root (scripts/cluster makes network namespaces and tc qdiscs): "
              "sudo make bench-2node", file=sys.stderr)
        sys.exit(2)
    host = socket.gethostname().split(".")[0]
    out = a.out or os.path.join("results", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{host}-2node")
    raw = os.path.join(out, "raw")
    os.makedirs(raw, exist_ok=True)
    log = os.path.join(out, "log.txt")
    cl = [sys.executable, os.path.join(ROOT, "scripts", "cluster"), "--prefix", "cllm2-",
          "--dir", os.path.join(out, ".cluster")]
    env_note = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (set by scripts/cluster)"
    meta = {"tool": twonode.TOOL, "command": sys.argv, "configs": a.configs, "rates": rates, "overlaps": overlaps,
            "reps": a.reps, "steps": a.steps, "probe_mb": a.probe_mb, "probe_iters": a.probe_iters,
            "probe_gap_ms": a.probe_gap_ms, "host": host, "env": env_note,
            "cpu": cpu_name(),
            "cpus": os.cpu_count(), "loadavg_start": open("/proc/loadavg").read().split()[:3],
            "git": subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.strip() or None,
            "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    rc = subprocess.run(cl + ["up", "--rate", "none"]).returncode
    if rc != 0:
        sys.exit(rc)
    rows = {}
    try:
        for rep in range(a.reps):
            for cname, batch in configs:
                label = cname + (f"-b{batch}" if batch else "")
                common = ["--config", cname, "--steps", str(a.steps), "--reps", "1", "--bin-dir", a.bin_dir] + \
                         (["--batch", batch] if batch else [])
                d = os.path.join(raw, f"ref-{label}-r{rep}")
                if run([os.path.join(a.bin_dir, "scale"), "--variants", "lockfree", "--threads", "2", "--out", d]
                       + common, log) != 0:
                    sys.exit(f"bench-2node: the 1-node reference failed (see {log})")
                rows.setdefault((label, "ref"), []).append({"rec": record(d)})
                gap = a.probe_gap_ms if a.probe_gap_ms != "ref" else \
                    str(round(twonode.comm_of(rows[(label, "ref")][-1]["rec"], 1, 2)["step_ms"]))
                for k in range(len(rates)):
                    rate = rates[(k + rep) % len(rates)]
                    if run(cl + ["shape", "--rate", rate], log) != 0:
                        sys.exit(f"bench-2node: shaping the link to {rate} failed (see {log})")
                    pj = os.path.join(raw, f"probe-{label}-{rate}-r{rep}.json")
                    if run(cl + ["probe", "--mb", str(a.probe_mb), "--json", pj, "--mpi", cname, "--mpi-iters",
                                 str(a.probe_iters), "--mpi-gap-ms", gap, "--bin-dir", a.bin_dir], log) != 0:
                        sys.exit(f"bench-2node: the link probe failed (see {log})")
                    with open(pj) as f:
                        probe = json.load(f)
                    for j in range(len(overlaps)):
                        ov = overlaps[(j + rep) % len(overlaps)]
                        d = os.path.join(raw, f"mpi-{label}-{rate}-{ov}-r{rep}")
                        if run(cl + ["exec", "--", "bash", "-c", 'exec "$0" "$@" --mpirun-args "$CLUSTER_MPIRUN_ARGS"',
                                     os.path.join(a.bin_dir, "scale"), "--ranks", "2", "--threads", "1",
                                     "--overlap", ov, "--out", d] + common, log) != 0:
                            sys.exit(f"bench-2node: the 2-node run at {rate}, overlap {ov} failed (see {log})")
                        rows.setdefault((label, rate, ov), []).append({"rec": record(d), "probe": probe})
                    print(f"bench-2node: rep {rep + 1}/{a.reps} {label} {rate}: probe "
                          f"{probe['both_ways_gbps']:.3f} Gbit/s both ways, rtt {probe['rtt_us']:.0f} us; MPI "
                          f"{probe['mpi']['off']['median_ms']:.1f} ms (off), {probe['mpi']['on']['median_ms']:.1f} ms "
                          f"(on)", flush=True)
    finally:
        subprocess.run(cl + ["down"], stdout=subprocess.DEVNULL)
    meta["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    meta["end"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_atomic(os.path.join(out, "meta.json"), json.dumps(meta, indent=1) + "\n")
    _, md = twonode.write(out, meta, rows)     # table.json/.csv/.md and REPORT.md (scripts/analyze does the same)
    print(md)
    print(f"bench-2node: results in {out} (REPORT.md: the goals judged)")


if __name__ == "__main__":
    main()
