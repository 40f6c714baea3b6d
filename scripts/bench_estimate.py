#!/usr/bin/python3
"""bench_estimate.py - how long a sweep will take on this machine, said up
front by make bench and make peers: the 1-thread point of each variant of
`build/scale --dry-run` (JSON lines on stdin) is run once here, now, writing
nothing, and every point of the sweep is counted at its variant's time x its
workers / min(workers, usable CPUs) under weak scaling (N workers do N
times the work and share the CPUs past the usable ones), x 1 under strong
scaling. Prints the estimate in words (nothing when a timing run fails).

    build/scale --dry-run ARGS | scripts/bench_estimate.py USABLE_CPUS
"""
import json
import os
import subprocess
import sys
import time


def time_once(p):
    cmd = list(p["command"])
    for flag in ("--report", "--trace", "--trace-steps"):     # the timing run writes nothing
        if flag in cmd:
            i = cmd.index(flag)
            del cmd[i:i + 2]
    cmd = [w for w in cmd if "{report}" not in w]
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900,
                           env={**os.environ, **(p.get("env") or {})})
    except (OSError, subprocess.SubprocessError):
        return None
    return time.monotonic() - t0 if r.returncode == 0 else None


def main():
    usable = max(1, int(sys.argv[1]))
    pts = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
    if not pts:
        return
    u = {}
    for p in pts:
        v = p["variant"]
        if v not in u and p["threads"] * p.get("ranks", 1) == 1:
            u[v] = time_once(p)
            if u[v] is None:
                return
    if not u:
        return
    fallback = max(u.values())
    total = 0.0
    for p in pts:
        w = p["threads"] * p.get("ranks", 1)
        strong = "strong" in p["command"]
        total += u.get(p["variant"], fallback) * (1.0 if strong else w / min(w, usable))
    said = ", ".join(f"{v} {t:.1f} s" for v, t in u.items())
    print(f"about {max(1, round(total / 60))} min for {len(pts)} runs (1-thread runs timed here just now: {said}; "
          f"scaled by each point's workers over the {usable} usable CPUs; a loaded machine takes longer)")


if __name__ == "__main__":
    main()
