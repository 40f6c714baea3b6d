#!/usr/bin/python3
"""analysis_synth.py - synthetic build/scale results for the analysis tests
(tests/test_analysis.sh, tests/analysis_checks.py) and the analysis benchmark
(scripts/bench-analysis.sh): meta.json and runs.jsonl records with the fields
bench/RESULTS.md and core/REPORT.md give them.

Tokens/s follow the step model X(N) = X1 N / ((1 - a) D(N) + a / N) with
D(N) = 1 + sigma (N-1) + kappa N (N-1) and log-normal noise; the phase
clocks split each step consistently (the optimizer a T1 / N, a constant
combine, compute and waiting the rest), so the analysis sees the same a in
the phases as in the throughput. The locked variant follows the USL with
sigma = locked_sigma and its lock wait.

    analysis_synth.py OUT [--cpus 64] [--threads 1,2,4,...] [--reps 5] [--sigma S]
                          [--kappa K] [--amort A] [--noise X] [--config seed] ...
"""
import argparse
import json
import os

import numpy as np

PHASES = ["forward", "backward", "lock_wait", "barrier_wait", "reduce", "optimizer"]


def speedup(n, s, k, a=0.0):
    return n / ((1 - a) * (1 + s * (n - 1) + k * n * (n - 1)) + a / n)


def records(threads, reps=5, cpus=64, sigma=0.03, kappa=2e-4, amort=0.0, locked_sigma=0.97, noise=0.03,
            scale=1.0, counters=False, seed=1, config="seed", scaling="weak", steps=20, variants=("lockfree", "locked")):
    """The runs.jsonl records of a synthetic sweep (list of dicts)."""
    rng = np.random.default_rng(seed)
    x1 = 2000.0 * scale                        # tokens/s at 1 thread
    T, B = 64, 1
    recs = []
    for rep in range(reps):
        for n in threads:
            for v in variants:
                over = n > cpus
                if v == "lockfree":
                    sp = speedup(min(n, cpus), sigma, kappa, amort if scaling == "weak" else 0.0)
                else:
                    sp = speedup(min(n, cpus), locked_sigma, 0.0, amort if scaling == "weak" else 0.0)
                sp *= 0.6 if over else 1.0                 # oversubscribed: junk the fit must skip
                e = float(np.exp(rng.normal(0, noise)))
                tps = x1 * sp * e
                tps_step = T * B * (n if scaling == "weak" else 1)
                step = tps_step / tps                      # seconds per step
                t1 = T * B / x1                            # 1-thread step
                opt = amort * t1 / n / e
                comb = 0.04 * t1
                other = 0.002 * step
                wait = 0.01 * step if n > 1 else 0.0001 * step
                lock = 0.0
                comp = step - opt - comb - other - wait
                if v == "locked" and n > 1:
                    lock = comp * (1 - 1 / n)
                    comp -= lock
                per = [0.45 * comp, 0.55 * comp, lock, wait, comb, opt]
                wall = steps * step
                cnt = {"task-clock": {"value": wall * 1e9}}
                for ev, val in (("cycles", 3e9 * n * wall), ("instructions", 3e9 * n * wall * (2 - 0.01 * n)),
                                ("LLC-load-misses|cache-misses", steps * tps_step * (5 + 0.5 * n))):
                    cnt[ev] = {"value": val} if counters else {"value": None, "reason": "perf_event_open: No such file or directory"}
                bsz = B if scaling == "weak" else max(1, B // n)
                per_thread = 2_000_000 * bsz + 400_000
                report = {"tool": "train_model", "variant": v, "threads": n, "scaling": scaling,
                          "config": {"name": config, "V": 788, "C": 256, "L": 6, "NH": 8, "F": 1024, "T": T, "B": B},
                          "params": 100000, "steps": steps, "warmup_steps": 1, "tokens_per_step": tps_step,
                          "tokens": steps * tps_step, "tokens_per_s": tps, "wall_s": wall,
                          "timed_wall_s": (steps - 1) * step, "timed_cpu_user_s": (steps - 1) * step * min(n, cpus) * 0.98,
                          "timed_cpu_sys_s": 0.001, "flops_per_step": 1e8 * (n if scaling == "weak" else 1),
                          "phases": {"names": PHASES, "wall_s": [[x * steps] * n for x in per],
                                     "cpu_s": [[x * steps] * n for x in per]},
                          "memory": {"per_thread": [{"name": "acts", "bytes": per_thread - 400_000},
                                                    {"name": "grad", "bytes": 400_000}],
                                     "per_thread_total": per_thread, "shared_total": 1_500_000,
                                     "total_at_threads": 1_500_000 + n * per_thread}}
                recs.append({"variant": v, "threads": n, "rep": rep, "point": len(recs), "status": "ok", "exit_code": 0,
                             "signal": None, "reason": None, "wall_s": wall * 1.05 + 0.01,
                             "user_s": min(n, cpus) * wall, "sys_s": 0.001,
                             "peak_rss_kib": (6e6 + 1.5e6 + n * per_thread * 1.02) / 1024, "oversubscribed": over,
                             "affinity_cpus": cpus, "counters": cnt, "report": report, "stderr_tail": None})
    return recs


def rank_records(ranks, threads, reps=5, cpus=64, sigma_threads=0.02, sigma_procs=0.08, comm_share=0.2,
                 noise=0.02, seed=1, steps=20):
    """runs.jsonl records of a synthetic ranks x threads sweep of the mpi
    variant (bench/RESULTS.md, "MPI: ranks x threads"): tokens/s follow the
    USL over N = R x T workers with sigma_threads when R = 1, sigma_procs
    otherwise; with R > 1, worker 0 of each rank spends comm_share of every
    step in MPI calls, the others wait as long at a barrier."""
    rng = np.random.default_rng(seed)
    x1, T, B = 2000.0, 64, 1
    recs = []
    for rep in range(reps):
        for R in ranks:
            for n in threads:
                N = R * n
                e = float(np.exp(rng.normal(0, noise)))
                tps = x1 * speedup(N, sigma_threads if R == 1 else sigma_procs, 0.0) * e
                tps_step = T * B * N
                step = tps_step / tps
                comm = comm_share * step if R > 1 else 0.0
                per = [0.4 * (step - comm), 0.5 * (step - comm), 0.0, 0.1 * (step - comm), 0.0, 0.0]
                walls = [[x * steps] * N for x in per]
                walls.append([comm * steps if (w % n == 0 and R > 1) else 0.0 for w in range(N)])
                walls.append([0.0] * N)
                for w in range(N):
                    if R > 1 and w % n:
                        walls[3][w] += comm * steps
                report = {"tool": "train_model", "variant": "mpi", "threads": n, "ranks": R, "workers": N,
                          "scaling": "weak", "config": {"name": "seed", "T": T, "B": B}, "params": 100000,
                          "steps": steps, "warmup_steps": 1, "tokens_per_step": tps_step, "tokens": steps * tps_step,
                          "tokens_per_s": tps, "wall_s": steps * step, "timed_wall_s": (steps - 1) * step,
                          "phases": {"names": PHASES + ["comm", "comm_sum"], "wall_s": walls, "cpu_s": walls},
                          "mpi": {"ranks": R, "bytes_sent_per_step": 8e5 * (R - 1) / R if R > 1 else 0.0} if R > 1 else None,
                          "memory": {"per_thread_total": 1e6, "shared_total": 1e6, "total_at_threads": 1e6 * (n + 1)}}
                recs.append({"variant": "mpi", "threads": n, "ranks": R, "workers": N, "rep": rep, "point": len(recs),
                             "status": "ok", "exit_code": 0, "wall_s": steps * step + 0.3, "user_s": N * steps * step,
                             "sys_s": 0.01, "peak_rss_kib": 8000, "oversubscribed": N > cpus, "affinity_cpus": cpus,
                             "counters": {}, "report": report})
    return recs


def memory_rows(recs):
    """memory.csv's rows as build/scale writes them (bench/points.c,
    stats_memory_fit): per variant the least-squares line of the points'
    median peak RSS (bytes) over threads, one-process points only."""
    rows = []
    for v in dict.fromkeys(r["variant"] for r in recs):
        pts = {}
        for r in recs:
            if r["variant"] == v and int(r.get("ranks") or 1) == 1 and r["status"] == "ok":
                pts.setdefault(int(r["threads"]), []).append(r["peak_rss_kib"] * 1024.0)
        x = sorted(pts)
        an = float(np.median([r["report"]["memory"]["per_thread_total"] for r in recs if r["variant"] == v]))
        row = {"variant": v, "analytic_bytes_per_thread": an, "measured_bytes_per_thread": "NA",
               "difference_bytes": "NA", "measured_intercept_bytes": "NA", "fit_points": len(x), "ranks": 1}
        if len(x) >= 2:
            b, a = np.polyfit(x, [float(np.median(pts[n])) for n in x], 1)
            row.update({"measured_bytes_per_thread": float(b), "difference_bytes": float(b) - an,
                        "measured_intercept_bytes": float(a)})
        rows.append(row)
    return rows


def meta(threads, reps, cpus, config="seed", scaling="weak", steps=20, variants=("lockfree", "locked"), host="synthetic"):
    return {"tool": "scale", "format": 1, "status": "complete", "runs_ok": None, "runs_failed": 0,
            "options": {"threads": list(threads), "variants": list(variants), "reps": reps, "config": config,
                        "steps": steps, "scaling": scaling},
            "child_env": {"OPENBLAS_NUM_THREADS": "1"},
            "host": {"hostname": host, "cpu_model": host, "online_cpus": cpus, "affinity_cpus": cpus}}


def write_folder(out, threads, reps, cpus, host="synthetic", **kw):
    os.makedirs(out, exist_ok=True)
    recs = records(threads, reps, cpus, **kw)
    m = meta(threads, reps, cpus, kw.get("config", "seed"), kw.get("scaling", "weak"), kw.get("steps", 20),
             kw.get("variants", ("lockfree", "locked")), host)
    m["runs_ok"] = len(recs)
    with open(os.path.join(out, "runs.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in recs)
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(m, f)
    rows = memory_rows(recs)
    with open(os.path.join(out, "memory.csv"), "w") as f:
        f.write(",".join(rows[0]) + "\n")
        f.writelines(",".join(str(x) for x in r.values()) + "\n" for r in rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--cpus", type=int, default=64)
    ap.add_argument("--threads", default="1,2,4,8,16,32,48,63")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--sigma", type=float, default=0.03)
    ap.add_argument("--kappa", type=float, default=2e-4)
    ap.add_argument("--amort", type=float, default=0.0)
    ap.add_argument("--locked-sigma", type=float, default=0.97)
    ap.add_argument("--noise", type=float, default=0.03)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--counters", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--config", default="seed")
    ap.add_argument("--scaling", default="weak")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--host", default="synthetic")
    a = ap.parse_args()
    write_folder(a.out, [int(t) for t in a.threads.split(",")], a.reps, a.cpus, sigma=a.sigma, kappa=a.kappa,
                 amort=a.amort, locked_sigma=a.locked_sigma, noise=a.noise, scale=a.scale, counters=a.counters,
                 seed=a.seed, config=a.config, scaling=a.scaling, steps=a.steps, host=a.host)


if __name__ == "__main__":
    main()
