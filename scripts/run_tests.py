#!/usr/bin/env python3
"""run_tests.py - the test runner behind scripts/run-tests.sh (see there for
the usage): runs every test binary (BUILD/tests/test_*) and test script
(tests/test_*.sh), each in its own session under a time limit, adds up
their summary lines and ends with one closing line.

What a test must do (tests/check.h and tests/check.sh do it):
  - print at least one summary line "[NAME: ]N passed, N failed[, N skipped]"
    at the start of a line; every such line counts (they are summed), so a
    test that shows a tool's own summary indents it;
  - print "SKIP: <reason>" for each check it could not make (the runner
    shows them under the test's line and counts them);
  - exit non-zero when a check failed.
A test that exits 0 without a summary line fails ("no summary line"); one
that exits non-zero with no failed check counts one failure.

Time limits: DEFAULT_LIMIT seconds, or the number in a "test-timeout: N"
line of the test's source (tests/NAME.sh or scripts/NAME.sh for a script,
tests/NAME.c or bench/NAME.c for a binary; first 40 lines), times SANITIZER_FACTOR on the sanitizer
builds; TEST_TIMEOUT=S overrides every limit. A test past its limit gets
SIGTERM, then SIGKILL after TEST_GRACE seconds (default 10), sent to every
process of its session (it runs under setsid), and counts as failed:
"TIMEOUT". Processes a test leaves running when it exits are killed the same
way and named in the output.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

DEFAULT_LIMIT = 300
SANITIZER_FACTOR = 3
SUMMARY_RE = re.compile(r"^(?:[A-Za-z0-9_./-]+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?")
SKIP_RE = re.compile(r"^(?:SKIP|skipped): (.*)")
LIMIT_RE = re.compile(r"test-timeout: (\d+)")
# lines a test wants in the CI log even when it passes (e.g. the gate's table)
SHOW_RE = re.compile(r"^  (gate|table) \|")
# a failed check's line (tests/check.sh, tests/check.h) or a sanitizer's verdict
FAIL_RE = re.compile(r"^(FAIL\b|ERROR: \w+Sanitizer|WARNING: ThreadSanitizer|.*runtime error: )")
FAIL_LINES_SHOWN = 30
USAGE = """usage: scripts/run-tests.sh [--sanitizers | --all] [--only NAME[,NAME...]]
  (none)         the suite on $BUILD (default build)
  --sanitizers   the suite on build/asan (ASan+UBSan), then scripts/tsan.sh on build/tsan
  --all          both of the above, one closing line
  --only LIST    only these tests, by file name (test_cli.sh, test_model, tsan.sh)
"""
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def session_pids(sid):
    """Pids of the live processes in session sid (from /proc/PID/stat)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after the command: state ppid pgrp session ...; zombies are dead already
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(d))
    return pids


def kill_session(sid, grace):
    """SIGTERM to every process of the session, then SIGKILL to any left after
    grace seconds. Returns how many processes there were."""
    def signal_all(sig):
        for p in session_pids(sid):
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass

    def gone_within(secs):
        end = time.monotonic() + secs
        while session_pids(sid):
            if time.monotonic() > end:
                return False
            time.sleep(0.1)
        return True

    n = len(session_pids(sid))
    if n:
        signal_all(signal.SIGTERM)
        if not gone_within(grace):
            signal_all(signal.SIGKILL)
            gone_within(5)
    return n


def time_limit(name, sanitized):
    if os.environ.get("TEST_TIMEOUT"):
        return float(os.environ["TEST_TIMEOUT"])
    limit = DEFAULT_LIMIT
    srcs = (f"tests/{name}", f"scripts/{name}") if name.endswith(".sh") else (f"tests/{name}.c", f"bench/{name}.c")
    for src in srcs:
        try:
            with open(os.path.join(ROOT, src)) as f:
                head = "".join(f.readline() for _ in range(40))
        except OSError:
            continue
        m = LIMIT_RE.search(head)
        if m:
            limit = int(m.group(1))
        break
    return limit * (SANITIZER_FACTOR if sanitized else 1)


class Totals:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.bad = []
        self.fail_lines = []    # (test, line): repeated at the end, where a log's tail shows them


def run_one(label, name, argv, env, sanitized, tot):
    limit = time_limit(name, sanitized)
    grace = float(os.environ.get("TEST_GRACE", "10"))
    with tempfile.TemporaryFile(mode="w+", errors="replace") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=ROOT, start_new_session=True)
        timed_out = False
        try:
            rc = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_session(proc.pid, grace)
            rc = proc.wait()
        secs = time.monotonic() - t0
        left = 0 if timed_out else kill_session(proc.pid, grace)
        log.seek(0)
        lines = log.read().splitlines()

    p = f = s = nsum = 0
    skips = []
    for line in lines:
        m = SUMMARY_RE.match(line)
        if m:
            nsum += 1
            p += int(m.group(1))
            f += int(m.group(2))
            s += int(m.group(3) or 0)
        m = SKIP_RE.match(line)
        if m:
            skips.append(m.group(1))
    notes = []
    if s > len(skips):
        notes.append(f"{s - len(skips)} skip(s) without a SKIP line")
    s = max(s, len(skips))
    if timed_out:
        f += 1
        notes.append(f"TIMEOUT: {name} ran past its limit of {limit:.0f} s and was killed")
    elif rc != 0 and f == 0:
        f = 1
    elif rc == 0 and nsum == 0:
        f = 1
        notes.append(f"{name} exited 0 without a summary line")
    if left:
        notes.append(f"left {left} process(es) running when it exited: killed")
    tot.passed += p
    tot.failed += f
    tot.skipped += s
    status = "TIMEOUT" if timed_out else f"rc={rc}"
    more = f"  [{nsum} summary lines]" if nsum > 1 else ""
    print(f"{label:<32s} {p:4d} passed {f:3d} failed {s:3d} skipped  {status:<7s} {secs:4.0f}s{more}")
    for r in skips:
        print(f"    SKIP: {r}")
    for line in lines:
        if SHOW_RE.match(line):
            print("    " + line)
    for n in notes:
        print(f"    {n}")
    if f:
        tot.bad.append(label + (" (TIMEOUT)" if timed_out else ""))
        why = [line for line in lines if FAIL_RE.match(line)] + [n for n in notes if not n.startswith("SKIP")]
        tot.fail_lines += [(label, w) for w in (why or [f"exit code {rc}, no FAIL line (its last lines are above)"])]
        for line in lines[-40:]:
            print("    | " + line)
    sys.stdout.flush()


def suite(build, tag, only, leave_out, sanitized, tot, extra_env=None):
    """Runs the suite on one build; returns the names of the tests found."""
    env = dict(os.environ, BUILD=build, **(extra_env or {}))
    tdir = os.path.join(ROOT, build, "tests")
    bins = sorted(b for b in os.listdir(tdir) if b.startswith("test_")) if os.path.isdir(tdir) else []
    found = set()
    for b in bins:
        path = os.path.join(tdir, b)
        if os.access(path, os.X_OK):
            found.add(b)
            if not only or b in only:
                run_one(tag + b, b, [path], env, sanitized, tot)
    for sh in sorted(os.listdir(os.path.join(ROOT, "tests"))):
        if re.fullmatch(r"test_.*\.sh", sh):
            found.add(sh)
            if sh not in leave_out and (not only or sh in only):
                run_one(tag + sh, sh, ["bash", os.path.join("tests", sh)], env, sanitized, tot)
    return found


def main(argv):
    mode, only = "plain", set()
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in ("--sanitizers", "--all"):
            mode = a
        elif a == "--only" and args:
            only = {t for t in args.pop(0).split(",") if t}
        elif a in ("-h", "--help"):
            print(USAGE + "\n" + __doc__.split("\n\n", 1)[1], end="")
            return 0
        else:
            print(f"run-tests.sh: unknown argument '{a}' (--help lists them)", file=sys.stderr)
            return 2
    tot = Totals()
    found = {"tsan.sh"}
    if mode in ("plain", "--all"):
        found |= suite(os.environ.get("BUILD", "build"), "", only, set(), False, tot)
    if mode in ("--sanitizers", "--all"):
        # timing cross-checks against perf and hyperfine mean nothing on
        # instrumented binaries; valgrind does not run sanitizer builds
        san = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
               "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
        found |= suite("build/asan", "asan/", only, {"test_perf.sh", "test_hyperfine.sh", "test_valgrind.sh"},
                       True, tot, san)
        if not only or "tsan.sh" in only:
            run_one("tsan/scripts/tsan.sh", "tsan.sh", ["bash", "scripts/tsan.sh"],
                    dict(os.environ, BUILD="build/tsan"), True, tot)
    for name in sorted(only - found):   # --only a test that is not there: never a silent pass
        print(f"{name:<32s} no such test (not tests/{name}, not built as a test binary)")
        tot.failed += 1
        tot.bad.append(name)
        tot.fail_lines.append((name, "no such test"))
    if tot.bad:
        # the failed checks again, last, so that the tail of a long CI log names them
        print(f"failed checks ({len(tot.fail_lines)}):")
        for label, line in tot.fail_lines[:FAIL_LINES_SHOWN]:
            print(f"    {label}: {line[:300]}")
        if len(tot.fail_lines) > FAIL_LINES_SHOWN:
            print(f"    ... and {len(tot.fail_lines) - FAIL_LINES_SHOWN} more (each test's lines are above)")
        print("failed: " + " ".join(tot.bad))
    print(f"{tot.passed} passed, {tot.failed} failed, {tot.skipped} skipped")
    return 1 if tot.failed or tot.passed + tot.skipped == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
