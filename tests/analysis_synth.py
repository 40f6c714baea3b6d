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
