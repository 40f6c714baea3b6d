#!/usr/bin/python3
"""bench_estimate.py - how long a sweep will take on this machine, said up
front by make bench: one 1-thread run of the sweep's first command is timed
here, and every point of `build/scale --dry-run` (JSON lines on stdin) is
counted at that time x its workers / min(workers, usable CPUs) under weak
scaling (N workers do N times the work; past the usable CPUs they share
them), the same time under strong scaling. Prints the estimate in words.

    build/scale --dry-run ARGS | scripts/bench_estimate.py USABLE_CPUS
"""
import json
import os
import subprocess
import sys
import time


def main():
    usable = max(1, int(sys.argv[1]))
    pts = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
    if not pts:
        return
    one = next((p for p in pts if p["threads"] * p.get("ranks", 1) == 1), pts[0])
    cmd = list(one["command"])
    for flag in ("--report", "--trace", "--trace-steps"):     # the timing run writes nothing
        if flag in cmd:
            i = cmd.index(flag)
            del cmd[i:i + 2]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600,
                           env=None if not one.get("env") else {**os.environ, **one["env"]})
    except (OSError, subprocess.SubprocessError):
        return
    if p.returncode != 0:
        return
    u = time.monotonic() - t0
    strong = "strong" in cmd
    total = 0.0
    for p in pts:
        w = p["threads"] * p.get("ranks", 1)
        total += u * (1.0 if strong else w / min(w, usable)) * (1.0 if w <= usable else 1.1)
    print(f"about {total / 60:.0f} min for {len(pts)} runs (one 1-thread run took {u:.1f} s here just now, "
          f"scaled by each point's workers over the {usable} usable CPUs; a loaded machine takes longer)")


if __name__ == "__main__":
    main()
