#!/usr/bin/python3
"""bench_estimate.py - how long a sweep will take on this machine, said up
front by make bench and make peers: the 1-thread point of each variant of
`build/scale --dry-run` (JSON lines on stdin) is run once here, now (its
report into a temporary file, nothing else written), and every point of the
sweep is counted at its variant's time x its workers / min(workers, usable
CPUs) under weak scaling (N workers do N times the work and share the CPUs
past the usable ones), x 1 under strong scaling. A train_model point's time
is its start-up (the timing run's process time outside its training steps)
plus its own --steps (fewer at oversubscribed points under --steps-over)
at the timing run's time per step; a --command template's is the timing
run's. Prints the estimate in words (nothing when a timing run fails).

The model stays linear in the workers: a make bench on a loaded 2-vCPU
machine (AMD family 25, 24 steps everywhere) took 3.0-5.5 s per run per
(workers / 2 CPUs) at 4 to 63 threads, within the 3-8 s its 1- and
2-thread runs took; it ran 40% past its estimate because its timing run
(about 2.7 s) was taken at a quieter moment, not because oversubscribed
runs cost more than linear. On a loaded machine runs take longer than this.

    build/scale --dry-run ARGS | scripts/bench_estimate.py USABLE_CPUS
"""
import json
import os
import subprocess
import sys
import tempfile
import time


def steps_of(cmd):
    """train_model's --steps of a point's command (None: a template's own)."""
    if "--steps" not in cmd or "--report" not in cmd:
        return None
    try:
        return int(cmd[cmd.index("--steps") + 1])
    except (IndexError, ValueError):
        return None


def time_once(p, tmp):
    """Runs point p once: (process seconds, start-up seconds, seconds per
    training step, its steps); the last three None for a template."""
    cmd = list(p["command"])
    for flag in ("--trace", "--trace-steps"):     # the timing run writes nothing but its report
        if flag in cmd:
            i = cmd.index(flag)
            del cmd[i:i + 2]
    steps = steps_of(cmd)
    report = os.path.join(tmp, "report.json")
    if steps:
        cmd[cmd.index("--report") + 1] = report
    elif "--report" in cmd:
        i = cmd.index("--report")
        del cmd[i:i + 2]
    cmd = [w for w in cmd if "{report}" not in w]
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900,
                           env={**os.environ, **(p.get("env") or {})})
    except (OSError, subprocess.SubprocessError):
        return None
    took = time.monotonic() - t0
    if r.returncode != 0:
        return None
    try:
        with open(report) as f:
            rep = json.load(f)
        train = float(rep["wall_s"])
        return took, max(0.0, took - train), train / max(1, int(rep["steps"])), steps
    except (OSError, ValueError, KeyError, TypeError):
        return took, None, None, None


def point_time(t, p):
    """Point p's run time from its variant's timing t (1 worker)."""
    took, startup, per_step, _ = t
    steps = steps_of(p["command"])
    return startup + per_step * steps if steps and per_step is not None else took


def main():
    usable = max(1, int(sys.argv[1]))
    pts = [json.loads(l) for l in sys.stdin if l.strip().startswith("{")]
    if not pts:
        return
    u = {}
    with tempfile.TemporaryDirectory(prefix="bench_estimate.") as tmp:
        for p in pts:
            v = p["variant"]
            if v not in u and p["threads"] * p.get("ranks", 1) == 1:
                u[v] = time_once(p, tmp)
                if u[v] is None:
                    return
    if not u:
        return
    fallback = max(u.values(), key=lambda t: t[0])
    total = 0.0
    for p in pts:
        w = p["threads"] * p.get("ranks", 1)
        strong = "strong" in p["command"]
        total += point_time(u.get(p["variant"], fallback), p) * (1.0 if strong else w / min(w, usable))
    said = ", ".join(f"{v} {t[0]:.1f} s" + (f" ({t[3]} steps)" if t[3] else "") for v, t in u.items())
    steps = sorted({s for s in map(lambda p: steps_of(p["command"]), pts) if s})
    print(f"about {max(1, round(total / 60))} min for {len(pts)} runs (1-thread runs timed here just now: {said}; "
          f"scaled by each point's workers over the {usable} usable CPUs"
          + (f" and by its steps ({', '.join(map(str, steps))})" if len(steps) > 1 else "")
          + "; on a loaded machine the runs, oversubscribed ones most, take longer)")


if __name__ == "__main__":
    main()
