#!/usr/bin/env python3
"""crash_kill.py - SIGKILL train_model inside its checkpoint writes
(tests/test_ckpt_integrity.sh runs it; `make test-long` with more kills).

    crash_kill.py BIN WORKDIR [--kills N] [--periodic N] [--jobs J]

Write window: the atomic writer's test hook (core/afile.h,
CLLM_TEST_AFILE_SLOW) slows the write and prints "afile-hook: open PATH" once
the temporary file exists and "afile-hook: done PATH" after the folder's
fsync. Each of --kills runs resumes a config tiny checkpoint ("old", step 2)
for one step and saves over it; once "open" is printed, it waits a random
time within 1.1x the window's length (measured here, in the same run) and
SIGKILLs it. A kill with no "done" printed landed inside the window. The file
at the path must then be byte for byte the old checkpoint or the new one (the
uninterrupted run's), never anything else, and each of the two, resumed,
trains bit for bit as a run that was never interrupted (same final
checkpoint). The temporaries the killed writers left are removed by the next
write (a dead pid's).

--periodic N runs: --steps 40 --save-every 4, SIGKILLed after a random
progress line: the checkpoint left is the last periodic one (at most the
steps since the last multiple of 4 are lost) and resumes bit for bit.

Prints the counts and "crash_kill: N passed, N failed"; exits 1 on a failure.
"""
import argparse
import os
import random
import shutil
import struct
import subprocess
import sys
import threading
import time

OPTS = ["--config", "tiny", "--lr-steps", "100", "--seed", "5", "--eval-batches", "0"]
SLOW_US = "200"      # the hook's sleep per 4 KiB piece and per commit step


class Checks:
    def __init__(self):
        self.passed = self.failed = 0
        self.lock = threading.Lock()

    def check(self, ok, what):
        with self.lock:
            if ok:
                self.passed += 1
            else:
                self.failed += 1
                print(f"FAIL: {what}", flush=True)


def run(bin_, args, env=None):
    r = subprocess.run([bin_] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    return r.returncode, r.stderr


def step_of(path):
    with open(path, "rb") as f:
        f.seek(104)
        return struct.unpack("<Q", f.read(8))[0]


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def temps(folder, name):
    return [f for f in os.listdir(folder) if f.startswith("." + name + ".") and f.endswith(".tmp")]


def hooked_env():
    env = dict(os.environ)
    env["CLLM_TEST_AFILE_SLOW"] = SLOW_US
    return env


def start(bin_, args):
    return subprocess.Popen([bin_] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=hooked_env(),
                            text=True, bufsize=1)


def window_length(bin_, work, old):
    """Seconds between the hook's open and done lines of one uninterrupted write."""
    ck = os.path.join(work, "w.ck")
    shutil.copyfile(old, ck)
    p = start(bin_, OPTS + ["--quiet", "--steps", "1", "--resume", ck, "--save", ck])
    t_open = t_done = None
    for line in p.stderr:
        if line.startswith("afile-hook: open " + ck):
            t_open = time.monotonic()
        elif line.startswith("afile-hook: done " + ck):
            t_done = time.monotonic()
    p.wait()
    return (t_done - t_open) if t_open and t_done else None


def kill_in_write(bin_, folder, old_bytes, rng, counts, c):
    ck = os.path.join(folder, "ck")
    with open(ck, "wb") as f:
        f.write(old_bytes)
    p = start(bin_, OPTS + ["--quiet", "--steps", "1", "--resume", ck, "--save", ck])
    opened = False
    for line in p.stderr:
        if line.startswith("afile-hook: open " + ck):
            opened = True
            break
    if opened:
        time.sleep(rng.uniform(0, 1.1 * counts["window_s"]))
    p.kill()
    rest = p.stderr.read()
    p.wait()
    p.stderr.close()
    inside = opened and ("afile-hook: done " + ck) not in rest
    with c.lock:
        counts["kills"] += 1
        counts["inside" if inside else "outside"] += 1
        got = read(ck)
        key = "old" if got == old_bytes else "new" if got == counts["new_bytes"] else "other"
        counts[key] += 1
    c.check(opened, f"{folder}: the write's temporary file was never created (rc {p.returncode})")
    c.check(key != "other", f"{folder}: after a kill the checkpoint is neither the old nor the new one "
            f"({len(got) if got else 'no'} bytes)")


def periodic(bin_, folder, ref40, rng, c, tally):
    ck = os.path.join(folder, "p.ck")
    if os.path.exists(ck):
        os.unlink(ck)
    p = start(bin_, OPTS + ["--steps", "40", "--save-every", "4", "--save", ck])
    target = rng.randint(1, 36)
    last = 0
    for line in p.stderr:
        if line.startswith("step "):
            last = int(line.split()[1].split("/")[0])
            if last >= target:
                time.sleep(rng.uniform(0, 0.02))
                break
    p.kill()
    rest = p.stderr.read()
    p.wait()
    p.stderr.close()
    for line in rest.splitlines():
        if line.startswith("step "):
            last = int(line.split()[1].split("/")[0])
    if not os.path.exists(ck):
        c.check(last < 8, f"periodic: killed after step {last} with no checkpoint (one is due every 4 steps)")
        return
    s = step_of(ck)
    lo = 4 * ((last - 1) // 4)
    c.check(s % 4 == 0 and lo <= s <= last,
            f"periodic: killed after step {last}: checkpoint at step {s}, expected a multiple of 4 in {lo}..{last}")
    tally.append((last, s))
    r = os.path.join(folder, "p.rest.ck")
    if s < 40:
        rc, err = run(bin_, OPTS + ["--quiet", "--steps", str(40 - s), "--resume", ck, "--save", r])
        c.check(rc == 0 and read(r) == ref40,
                f"periodic: resumed from step {s} to 40 (rc {rc}): not bit-identical to the uninterrupted run {err[-300:]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("work")
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--periodic", type=int, default=6)
    ap.add_argument("--jobs", type=int, default=4)
    a = ap.parse_args()
    c = Checks()
    rng = random.Random(2126)
    w = a.work
    old, new = os.path.join(w, "old.ck"), os.path.join(w, "new.ck")
    rc, err = run(a.bin, OPTS + ["--quiet", "--steps", "2", "--save", old])
    c.check(rc == 0, f"the old checkpoint: rc {rc} {err[-300:]}")
    shutil.copyfile(old, new)
    rc, err = run(a.bin, OPTS + ["--quiet", "--steps", "1", "--resume", new, "--save", new])
    c.check(rc == 0, f"the new checkpoint: rc {rc} {err[-300:]}")
    refs = {}
    for total in (4, 40):
        path = os.path.join(w, f"ref{total}.ck")
        rc, err = run(a.bin, OPTS + ["--quiet", "--steps", str(total), "--save", path])
        c.check(rc == 0, f"the uninterrupted {total}-step run: rc {rc} {err[-300:]}")
        refs[total] = read(path)
    win = window_length(a.bin, w, old)
    c.check(win is not None and win > 0, "the test hook printed no open/done lines: is CLLM_TEST_AFILE_SLOW read?")
    if c.failed:
        print(f"crash_kill: {c.passed} passed, {c.failed} failed")
        return 1
    counts = dict(window_s=win, new_bytes=read(new), kills=0, inside=0, outside=0, old=0, new=0, other=0)
    old_bytes = read(old)

    def worker(j, n):
        folder = os.path.join(w, f"job{j}")
        os.makedirs(folder, exist_ok=True)
        r = random.Random(1000 + j)
        for _ in range(n):
            kill_in_write(a.bin, folder, old_bytes, r, counts, c)

    per = [a.kills // a.jobs + (1 if j < a.kills % a.jobs else 0) for j in range(a.jobs)]
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(j, per[j])) for j in range(a.jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"crash_kill: {counts['kills']} SIGKILLs ({time.monotonic() - t0:.1f} s; write window "
          f"{1e3 * win:.0f} ms): {counts['inside']} landed inside the write (temporary file created, folder "
          f"not yet synced), {counts['outside']} after it; the file found: old {counts['old']}, "
          f"new {counts['new']}, otherwise {counts['other']}")
    c.check(counts["other"] == 0, f"{counts['other']} files were neither the old nor the new checkpoint")
    c.check(counts["inside"] >= a.kills // 2, f"only {counts['inside']} of {a.kills} kills landed inside the window")
    # each state found, resumed, trains as the uninterrupted run did
    for name, data, steps in (("old", old_bytes, 2), ("new", counts["new_bytes"], 1)):
        src, out = os.path.join(w, f"found-{name}.ck"), os.path.join(w, f"resumed-{name}.ck")
        with open(src, "wb") as f:
            f.write(data)
        rc, err = run(a.bin, OPTS + ["--quiet", "--steps", str(steps), "--resume", src, "--save", out])
        c.check(rc == 0 and read(out) == refs[4],
                f"the {name} checkpoint resumed to step 4 (rc {rc}) is not bit-identical to the uninterrupted run")
    # the dead writers' temporaries: left by the kills, removed by the next write there
    left = sum(len(temps(os.path.join(w, f"job{j}"), "ck")) for j in range(a.jobs))
    for j in range(a.jobs):
        folder = os.path.join(w, f"job{j}")
        ck = os.path.join(folder, "ck")
        rc, err = run(a.bin, OPTS + ["--quiet", "--steps", "1", "--resume", ck, "--save", ck])
        c.check(rc == 0, f"{folder}: a write after the kills failed (rc {rc}) {err[-300:]}")
        c.check(not temps(folder, "ck"), f"{folder}: temporaries of dead writers left: {temps(folder, 'ck')}")
    print(f"crash_kill: {left} temporaries left by the killed writers, all removed by the next write")
    tally = []
    for k in range(a.periodic):
        folder = os.path.join(w, "job0")
        periodic(a.bin, folder, refs[40], random.Random(77 + k), c, tally)
    if a.periodic:
        print("crash_kill: --save-every 4, SIGKILL after step -> checkpoint found at step: " +
              ", ".join(f"{x} -> {y}" for x, y in tally))
    print(f"crash_kill: {c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
