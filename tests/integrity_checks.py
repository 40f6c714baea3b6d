"""integrity_checks.py - issue 21's checks of the Python side, run by
tests/test_integrity.sh (not a test itself): the speedup and its interval
are one quantity (the issue's example), the --work metric counts every
worker of every rank, the strict I-JSON reader and the byte escape, the
atomic writer's protocol, and check.py failing a test that checked nothing.
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
sys.path.insert(0, HERE)

from check import check, finish  # noqa: E402
from cllm_analysis import atomic, compare, ijson, runs, stats  # noqa: E402

# --- the speedup: the figure inside its own interval ---------------------------
# issue 21: base 5 reps near 100, candidate 6 near 400 and 4 near 100 printed
# 3.99x (ratio of medians) beside [1.38, 3.84] (geometric means)
base = [99.0, 100.0, 101.0, 100.5, 99.5]
cand = [400.0, 401.0, 399.0, 402.0, 398.0, 400.5, 100.0, 101.0, 99.0, 100.2]
s, ci, cover = stats.hl_ratio_ci(base, cand)
print(f"issue 21's example: speedup {s:.2f}x {ci} (coverage {cover:.3f})")
check(f"the speedup {s:.3f} lies inside its interval {ci}", ci is not None and ci[0] <= s <= ci[1])
row = compare.compare_point(base, cand)
check(f"compare's ratio {row['ratio']:.3f} inside its interval {row['ci']}",
      row["ci"] is not None and row["ci"][0] <= row["ratio"] <= row["ci"][1])
# the verdict is decided on that same interval: it includes 1 here, so no "faster"
check(f"the verdict follows the interval ({row['verdict']})",
      (row["verdict"] == "faster") == (row["ci"][0] > 1))
# the analysis table's row: its figure is that same estimator, inside its range and interval
from cllm_analysis import analysis  # noqa: E402


def _rep(v):
    return {"tps": v, "timed_cpu_s": None, "timed_wall_s": None, "proc_cpu_s": 1.0, "proc_wall_s": 1.0,
            "timed_tokens": None, "tokens": None, "rss_bytes": None, "ipc": None, "llc_per_token": None}


row = analysis.point_row({"threads": 2, "over": False, "failed": 0, "reps": [_rep(v) for v in cand]},
                         {"threads": 1, "over": False, "failed": 0, "reps": [_rep(v) for v in base]})
check(f"the analysis row's speedup {row['speedup']:.4f} is the Hodges-Lehmann ratio {s:.4f}", abs(row["speedup"] - s) < 1e-12)
check("the row's speedup inside its interval and its range",
      row["speedup_ci"][0] <= row["speedup"] <= row["speedup_ci"][1]
      and row["speedup_min"] <= row["speedup"] <= row["speedup_max"])
# the exact U distribution: counts sum to C(m+n, m) and match scipy's p values
import math  # noqa: E402
from scipy import stats as st  # noqa: E402
c = stats._mwu_counts(5, 7)
check("U counts sum to C(12, 5)", sum(c) == math.comb(12, 5))
x, y = [1.0, 2.5, 3.1, 4.7, 9.0], [0.5, 1.7, 2.2, 3.3, 3.9, 5.5, 6.1]
u = st.mannwhitneyu(x, y, alternative="less", method="exact")
ucount = sum(a > b for a in x for b in y)
check(f"U tail from the counts equals scipy's exact p ({u.pvalue:.6f})",
      abs(sum(c[:ucount + 1]) / math.comb(12, 5) - u.pvalue) < 1e-12)
# too few reps for 95%: no interval rather than one that does not hold
check("3 and 3 reps: no 95% interval claimed", stats.hl_ratio_ci([1, 2, 3], [4, 5, 6])[1] is None)

# --- the --work metric counts every worker of every rank ------------------------
m = {"key": None, "work": 10.0, "strong": False}
r1 = {"threads": 1, "ranks": 1, "wall_s": 2.0}
r2 = {"threads": 1, "ranks": 2, "wall_s": 2.0}
r4 = {"threads": 2, "ranks": 2, "wall_s": 2.0}
check("weak --work: 2 ranks x 1 thread at the same wall = twice the metric",
      runs.metric_value(r2, m) == 2 * runs.metric_value(r1, m))
check("weak --work: 2 ranks x 2 threads = 4 workers' work", runs.metric_value(r4, m) == 4 * runs.metric_value(r1, m))
check("strong --work: the total, whatever the ranks",
      runs.metric_value(r4, dict(m, strong=True)) == runs.metric_value(r1, dict(m, strong=True)))

# --- the strict reader and the byte escape ---------------------------------------
every = bytes(range(1, 256))
s = os.fsdecode(every)
text = ijson.dumps({"s": s, os.fsdecode(b"k\xe9y"): 1})
check("dumps of every byte is ASCII-or-UTF-8 text", isinstance(text, str) and text.encode("utf-8"))
back = ijson.loads(text.encode("utf-8"))
check("every byte 1..255 round-trips through dumps/loads", os.fsencode(back["s"]) == every)
check("a Latin-1 member name round-trips", os.fsencode(next(k for k in back if k != "s")) == b"k\xe9y")
# the same text as the C writer: an escaped byte is U+10FE00 + byte
check("byte 0xE9 is written as U+10FEE9", ijson.encode_str(os.fsdecode(b"\xe9")) == "\U0010fee9")
check("a literal escape code point is itself escaped", ijson.encode_str("\U0010fe80") == "\U0010fef4\U0010fe8f"
      "\U0010feba\U0010fe80" and os.fsencode(ijson.decode_str(ijson.encode_str("\U0010fe80"))) ==
      "\U0010fe80".encode("utf-8"))
for bad, what in ((b'"a\\u0000b"', "\\u0000"), (b'"\\ud800"', "lone surrogate"), (b'"\\udc00x"', "lone surrogate"),
                  (b'"\\ufffe"', "noncharacter"), (b'"\xe9t\xe9"', "not UTF-8"), (b"01", "leading zero"),
                  (b'{"a":1,"a":2}', "duplicate"), (b'"abc', "cut short")):
    try:
        ijson.loads(bad)
        check(f"the reader refuses {bad!r} ({what})", False)
    except ValueError:
        check(f"the reader refuses {bad!r} ({what})", True)

# --- the atomic writer's protocol ---------------------------------------------------
with tempfile.TemporaryDirectory() as d:
    target = os.path.join(d, "out.json")
    dead = subprocess.Popen(["true"])
    dead.wait()                                  # a pid that is no live process now
    stale = os.path.join(d, f".out.json.{dead.pid}.0123abcd.tmp")
    live = os.path.join(d, f".out.json.{os.getppid()}.89abcdef.tmp")
    other = os.path.join(d, f".other.json.{dead.pid}.0123abcd.tmp")
    for p in (stale, live, other):
        open(p, "w").close()
    atomic.write_atomic(target, "new\n")
    check("the target holds the new text", open(target).read() == "new\n")
    check("a dead writer's temporary is removed", not os.path.exists(stale))
    check("a live writer's temporary is kept", os.path.exists(live))
    check("another target's temporary is left alone", os.path.exists(other))
    left = [n for n in os.listdir(d) if n.startswith(".out.json.") and n != os.path.basename(live)]
    check(f"no temporary of this write is left ({left})", not left)
    # the temporary's name and O_EXCL: a writer that fails leaves the old file
    real_fsync = os.fsync
    seen = []

    def failing_fsync(fd):
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        raise OSError(5, "injected")
    os.fsync = failing_fsync
    try:
        atomic.write_atomic(target, "newer\n")
        check("a failed fsync raises", False)
    except OSError:
        check("a failed fsync raises", True)
    finally:
        os.fsync = real_fsync
    name = os.path.basename(seen[0]) if seen else ""
    import re  # noqa: E402
    check(f"the temporary is named .<basename>.<pid>.<hex>.tmp in the target's folder ({name})",
          re.fullmatch(rf"\.out\.json\.{os.getpid()}\.[0-9a-f]+\.tmp", name) is not None
          and os.path.dirname(seen[0]) == os.path.realpath(d))
    check("after a failed write the target is untouched", open(target).read() == "new\n")
    check("after a failed write no temporary is left",
          not [n for n in os.listdir(d) if n.startswith(f".out.json.{os.getpid()}.")])

# --- check.py: a test that checked nothing fails ----------------------------------
r = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import check; check.finish()",
                    HERE], capture_output=True, text=True)
check(f"check.py: zero checks exit non-zero (rc {r.returncode})", r.returncode != 0)
r = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import check; "
                    "check.skip('x'); check.finish()", HERE], capture_output=True, text=True)
check(f"check.py: a skip alone exits 0 (rc {r.returncode})", r.returncode == 0)

finish("integrity_checks")
