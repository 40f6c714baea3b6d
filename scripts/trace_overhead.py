#!/usr/bin/python3
"""trace_overhead.py - the cost of train_model --trace: interleaved pairs of
runs, one with --trace and one without (order alternating), per thread
count; prints per thread count the median of the paired throughput ratios
(traced / untraced, timed steps' tokens_per_s) with its 95% interval (the
distribution-free order-statistic interval of a median, from
scipy.stats.binom), and the load average before and after.

    scripts/trace_overhead.py [--bin build/lockfree/train_model] [--config S]
                              [--threads 1,2] [--pairs 10] [--steps 8]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from scipy import stats


def median_ci(x, conf=0.95):
    """The median of x and the interval [x(k), x(n-k+1)] whose binomial
    coverage is at least conf (None when n is too small)."""
    x = np.sort(np.asarray(x, dtype=float))
    n = len(x)
    k = int(stats.binom.ppf((1 - conf) / 2, n, 0.5))
    while k > 0 and stats.binom.cdf(k - 1, n, 0.5) * 2 > 1 - conf:
        k -= 1
    if k < 1:
        return float(np.median(x)), None, 1.0
    cover = 1 - 2 * stats.binom.cdf(k - 1, n, 0.5)
    return float(np.median(x)), (float(x[k - 1]), float(x[n - k])), float(cover)


def run(a, threads, trace, d):
    rep = os.path.join(d, "r.json")
    cmd = [a.bin, "--config", a.config, "--threads", str(threads), "--steps", str(a.steps),
           "--eval-batches", "0", "--quiet", "--report", rep]
    if trace:
        cmd += ["--trace", os.path.join(d, "t.json")]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(rep) as f:
        r = json.load(f)
    # throughput, and the timed steps' CPU time per token (less disturbed by
    # other processes on a loaded machine than the wall time)
    cpu = (r["timed_cpu_user_s"] + r["timed_cpu_sys_s"]) / (r["tokens_per_step"] * (r["steps"] - r["warmup_steps"]))
    return r["tokens_per_s"], cpu


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default="build/lockfree/train_model")
    p.add_argument("--config", default="S")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--pairs", type=int, default=10)
    p.add_argument("--steps", type=int, default=8)
    a = p.parse_args()
    load0 = open("/proc/loadavg").read().split()[:3]
    ratios = {int(t): [] for t in a.threads.split(",")}
    cpur = {t: [] for t in ratios}
    with tempfile.TemporaryDirectory() as d:
        for i in range(a.pairs):
            for t in ratios:
                first = i % 2 == 0          # alternate which of the pair runs first
                x = run(a, t, first, d)
                y = run(a, t, not first, d)
                (on, con), (off, coff) = (x, y) if first else (y, x)
                ratios[t].append(on / off)
                cpur[t].append(con / coff)
                print(f"pair {i + 1} threads {t}: traced {on:.0f} untraced {off:.0f} tokens/s, ratio {on / off:.4f}; "
                      f"CPU per token ratio {con / coff:.4f}", file=sys.stderr)
    load1 = open("/proc/loadavg").read().split()[:3]
    print(f"config {a.config}, {a.steps} steps, {a.pairs} interleaved pairs; loadavg before {' '.join(load0)}, "
          f"after {' '.join(load1)}")
    for t, r in ratios.items():
        m, ci, cover = median_ci(r)
        print(f"threads {t}: traced/untraced throughput, median {m:.4f}" +
              (f" [{ci[0]:.4f}, {ci[1]:.4f}] ({100 * cover:.1f}% order-statistic interval)" if ci else
               " (too few pairs for an interval)") + f"; min {min(r):.4f} max {max(r):.4f}")
        m, ci, cover = median_ci(cpur[t])
        print(f"threads {t}: traced/untraced CPU time per token (timed steps), median {m:.4f}" +
              (f" [{ci[0]:.4f}, {ci[1]:.4f}] ({100 * cover:.1f}%)" if ci else ""))


if __name__ == "__main__":
    main()
