#!/usr/bin/python3
"""mfu_bound.py - how far the sgemm calls alone let a step's MFU go.

For each config (1 worker, 1 thread) it runs

  1. build/micro/ceilings --threads 1: the FMA peak P (GFLOP/s) the MFU is
     judged against (or --ceilings FILE, a ceilings JSON measured before);
  2. build/micro/micro --gemm-calls=CONFIGS: one trainer_step records every
     cblas_sgemm call the core makes (shape, transposes, leading dimensions,
     alpha, beta: bench/micro/gemm.cc), then
       step_gemm/<cfg>  times trainer_step with the time inside sgemm summed
                        (one clock for both: the thread's CPU time),
       sgemm/<cfg>/<i>  times each distinct call alone, warm in cache;

and writes, per config, with F the step's model FLOPs (config_flops: the MFU
every other tool reports), G the FLOPs of its sgemm calls (attention's
blocks skip most of the masked half, and backward recomputes the scores, so
G != F):

  MFU measured        F / step time / P
  GEMM share          time inside sgemm / step time
  sgemm eff. in step  G / time inside sgemm / P
  sgemm eff. alone    G / sum(calls x time of the call alone) / P
                      (the FLOP-weighted efficiency of OpenBLAS at exactly
                      these calls)
  MFU bound in step   F / time inside sgemm / P: the MFU with the core's own
                      kernels at zero cost and sgemm as fast as in the step
  MFU bound alone     F / sum(calls x time alone) / P: the same with every
                      sgemm call as fast as alone, warm

Outputs (written atomically) in the run folder: micro.json (Google
Benchmark's), ceilings.json, bound.json, bound.md; bound.md is also printed.
All times are the thread's CPU time (time spent waiting for the CPU counts
in none of them), but a loaded machine still slows the CPU time itself
(shared caches and cores): run it on a quiet machine. The load average is
recorded; a step whose CPU time is below 90% of its wall time is flagged.

    scripts/mfu_bound.py [--configs S,G,M] [--min-time 0.1] [--out DIR]
                         [--ceilings FILE] [--seconds 0.5] [--build build]
                         [--top 8]
Exit 0, 1 on a failed run, 2 on a usage error.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cllm_analysis import peers  # noqa: E402
from cllm_analysis.atomic import write_atomic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def die(msg, code=1):
    print(f"mfu_bound.py: {msg}", file=sys.stderr)
    sys.exit(code)


def fma_peak(ceil):
    """1-thread FMA peak of a ceilings JSON, GFLOP/s, and its ISA: the
    analysis package's reading of the file (peers.peaks_of), as make peers"""
    try:
        return peers.peaks_of(ceil, [1], None)[0][1], ceil.get("isa")
    except (ValueError, KeyError, TypeError) as e:
        die(f"the ceilings JSON has no 1-thread FMA figure ({e})")


def summarise(bench, peak, top):
    """bound.json's rows from Google Benchmark's benchmarks list"""
    steps, calls = {}, {}
    for b in bench:
        if b.get("run_type", "iteration") != "iteration":
            continue
        m = re.fullmatch(r"step_gemm/([^/]+)", b["name"])
        if m:
            steps[m.group(1)] = b
            continue
        m = re.fullmatch(r"sgemm/([^/]+)/(\d+)", b["name"])
        if m:
            calls.setdefault(m.group(1), []).append(b)
    rows = []
    for cfg, s in steps.items():
        cs = calls.get(cfg, [])
        if len(cs) != int(s["gemm_shapes"]):
            die(f"{cfg}: {len(cs)} sgemm rows for {int(s['gemm_shapes'])} recorded shapes "
                "(a --benchmark_filter that drops some?)")
        unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
        shapes = []
        for b in cs:
            t = b["cpu_time"] * unit[b["time_unit"]]        # CPU seconds a call, alone
            n = int(b["calls_per_step"])
            shapes.append({
                "name": b["name"], "label": b.get("label", ""), "calls_per_step": n,
                "M": int(b["M"]), "N": int(b["N"]), "K": int(b["K"]),
                "transA": int(b["transA"]), "transB": int(b["transB"]), "beta": b["beta"],
                "flop": b["flop_per_iter"], "s_alone": t, "gflops_alone": b["flop_per_iter"] / t * 1e-9,
                "eff_alone": b["flop_per_iter"] / t * 1e-9 / peak, "s_per_step": n * t})
        alone = sum(x["s_per_step"] for x in shapes)
        gflop_rec = sum(x["calls_per_step"] * x["flop"] for x in shapes)
        for x in shapes:
            x["share_of_alone"] = x["s_per_step"] / alone if alone else None
        F, G = s["model_flop"], s["gemm_flop"]
        step, gemm = s["step_s"], s["gemm_s"]
        wall = s["step_wall_s"]
        rows.append({
            "config": cfg, "label": s.get("label", ""), "model_flop": F, "gemm_flop": G,
            "gemm_flop_recorded": gflop_rec, "gemm_calls": s["gemm_calls"], "shapes": len(shapes),
            "step_s": step, "step_wall_s": wall, "loaded": step < 0.9 * wall, "gemm_s": gemm,
            "gemm_alone_s": alone, "rest_s": step - gemm,
            "mfu": F / step * 1e-9 / peak, "gemm_share": gemm / step,
            "eff_in_step": G / gemm * 1e-9 / peak, "eff_alone": gflop_rec / alone * 1e-9 / peak,
            "mfu_bound_in_step": F / gemm * 1e-9 / peak, "mfu_bound_alone": F / alone * 1e-9 / peak,
            "top": sorted(shapes, key=lambda x: -x["s_per_step"])[:top], "calls": shapes})
    return rows


def markdown(rows, peak, isa, meta):
    pc = lambda x: f"{100 * x:.1f}%"
    out = [f"MFU bound: FMA peak {peak:.1f} GFLOP/s ({isa}, 1 thread, ceilings), "
           f"{meta['host']}, load {meta['loadavg']}, {meta['time_utc']}; CPU time, 1 worker.", "",
           "| config | step ms | in sgemm ms | GEMM share | sgemm eff. in step | sgemm eff. alone "
           "| MFU bound (in step) | MFU bound (alone) | MFU measured |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        flag = " (loaded: CPU < 90% of wall)" if r["loaded"] else ""
        out.append(f"| {r['config']}{flag} | {1e3 * r['step_s']:.1f} | {1e3 * r['gemm_s']:.1f} | "
                   f"{pc(r['gemm_share'])} | {pc(r['eff_in_step'])} | {pc(r['eff_alone'])} | "
                   f"{pc(r['mfu_bound_in_step'])} | {pc(r['mfu_bound_alone'])} | {pc(r['mfu'])} |")
    out += ["", "MFU bound = the step's model FLOPs over its sgemm time alone (the core's own kernels "
            "at zero cost); 'alone' = each call timed by itself, warm, times its calls per step.", ""]
    for r in rows:
        out += [f"{r['config']}: {r['shapes']} shapes, {r['gemm_calls']:.0f} calls a step, sgemm "
                f"{r['gemm_flop'] / 1e9:.3f} GFLOP vs model {r['model_flop'] / 1e9:.3f} GFLOP; "
                "the calls taking the most time alone:", "",
                "| call | shape | calls/step | GFLOP/s alone | % of peak | share of sgemm time alone |",
                "|---|---|---|---|---|---|"]
        for x in r["top"]:
            out.append(f"| {x['name']} | {x['label']} | {x['calls_per_step']} | {x['gflops_alone']:.1f} | "
                       f"{pc(x['eff_alone'])} | {pc(x['share_of_alone'])} |")
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="S,G,M")
    ap.add_argument("--min-time", type=float, default=0.1, help="--benchmark_min_time per call shape (s)")
    ap.add_argument("--seconds", type=float, default=0.5, help="ceilings: time per measurement (s)")
    ap.add_argument("--ceilings", help="a ceilings JSON to take the FMA peak from (no ceilings run)")
    ap.add_argument("--out", help="run folder (default results/<UTC>-<host>-mfubound)")
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--top", type=int, default=8, help="call shapes listed per config")
    a = ap.parse_args()
    cfgs = a.configs.split(",")
    if not a.configs or any(not re.fullmatch(r"[A-Za-z0-9_-]+", c) for c in cfgs):
        die(f"--configs: '{a.configs}' is not a comma-separated list of config names", 2)
    if a.min_time <= 0 or a.seconds <= 0 or a.top < 1:
        die("--min-time and --seconds must be positive, --top at least 1", 2)
    build = a.build if os.path.isabs(a.build) else os.path.join(ROOT, a.build)
    micro, ceilings = os.path.join(build, "micro", "micro"), os.path.join(build, "micro", "ceilings")
    for b in (micro, ceilings, os.path.join(build, "lockfree", "train_model")):
        if not os.access(b, os.X_OK):
            die(f"{os.path.relpath(b, ROOT)} is not built (make all)")
    # the presets: train_model --describe's list (the one list of them)
    tm = os.path.join(build, "lockfree", "train_model")
    r = subprocess.run([tm, "--describe"], capture_output=True, text=True)
    if r.returncode != 0:
        die(f"{os.path.relpath(tm, ROOT)} --describe failed ({r.returncode}): {r.stderr.strip()}")
    known = [c["name"] for c in json.loads(r.stdout)["configs"]]
    for c in cfgs:
        if c not in known:
            die(f"--configs: unknown config '{c}' (presets: {', '.join(known)})", 2)
    host = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())
    utc = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = a.out or os.path.join(ROOT, "results", f"{utc}-{host}-mfubound")
    meta = {"host": host, "time_utc": utc, "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "command": sys.argv, "configs": cfgs}
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")

    if a.ceilings:
        try:
            with open(a.ceilings) as f:
                ceil = json.load(f)
        except (OSError, ValueError) as e:
            die(f"--ceilings {a.ceilings}: {e}", 2)
    else:
        r = subprocess.run([ceilings, "--threads", "1", "--seconds", str(a.seconds)],
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            die(f"ceilings failed ({r.returncode}): {r.stderr.strip()}")
        ceil = json.loads(r.stdout)
    peak, isa = fma_peak(ceil)
    os.makedirs(out, exist_ok=True)
    write_atomic(os.path.join(out, "ceilings.json"), json.dumps(ceil, indent=1) + "\n")

    # Google Benchmark writes its JSON in place: into a temporary, renamed
    # onto micro.json once micro has succeeded
    mj = os.path.join(out, f".micro.json.{os.getpid()}.tmp")
    alt = "|".join(re.escape(c) for c in cfgs)
    cmd = [micro, f"--gemm-calls={a.configs}", f"--benchmark_filter=^(step_gemm|sgemm)/({alt})(/|$)",
           f"--benchmark_min_time={a.min_time}", f"--benchmark_out={mj}", "--benchmark_out_format=json"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        if os.path.exists(mj):
            os.remove(mj)
        die(f"micro failed ({r.returncode}): {r.stderr.strip()}", 2 if r.returncode == 2 else 1)
    with open(mj) as f:
        bench = json.load(f)
    os.replace(mj, os.path.join(out, "micro.json"))
    meta["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["context"] = bench.get("context", {})
    rows = summarise(bench.get("benchmarks", []), peak, a.top)
    if sorted(r["config"] for r in rows) != sorted(cfgs):
        die(f"micro reported configs {[r['config'] for r in rows]}, asked {cfgs}")
    rows.sort(key=lambda r: cfgs.index(r["config"]))
    md = markdown(rows, peak, isa, meta)
    write_atomic(os.path.join(out, "bound.json"), json.dumps(
        {"meta": meta, "peak_gflops": peak, "isa": isa, "configs": rows}, indent=1) + "\n")
    write_atomic(os.path.join(out, "bound.md"), md + "\n")
    print(md)
    print(f"mfu_bound.py: wrote {os.path.relpath(out, ROOT)}/bound.md, bound.json", file=sys.stderr)


if __name__ == "__main__":
    main()
