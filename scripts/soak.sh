#!/usr/bin/env bash
# soak.sh - the lock-free trainer at 63 threads for a long time (make soak).
#
#   1. repeatability: the same short job twice at 63 threads, lock-free and
#      locked: the four checkpoints are bitwise identical
#   2. soak: one lock-free run of SOAK_SECONDS at 63 threads, stopped with
#      SIGTERM; VmRSS is sampled from /proc/PID/status while it runs. Checks:
#      the loss of every step is finite, RSS after warm-up does not grow, the
#      run stops cleanly (exit 143) with a checkpoint that resumes.
#
# Environment:
#   SOAK_SECONDS=S    soak length (default 600)
#   SOAK_THREADS=N    worker threads (default 63)
#   SOAK_CONFIG=NAME  model config (default tiny)
#   BUILD=DIR         which build (default build; build/asan or build/tsan,
#                     after `make asan-build` / `make tsan-build`, soak under a
#                     sanitizer: its report fails the run)
#
# Writes results/soak-<UTC time>/ (rss.tsv: seconds, VmRSS KiB; report.json;
# summary.txt) and ends with "soak: N passed, N failed". It takes no
# arguments (the environment above sets it up). Exit codes: 0 every check
# passed, 1 a check failed, 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."
case ${1:-} in
    '') ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown option '$1' (it takes none: SOAK_SECONDS etc. go in the environment; see scripts/soak.sh --help)" >&2; exit 2 ;;
esac
BUILD=${BUILD:-build}
SECS=${SOAK_SECONDS:-600}
NTH=${SOAK_THREADS:-63}
CFG=${SOAK_CONFIG:-tiny}
LF=$BUILD/lockfree/train_model
LK=$BUILD/locked/train_model
[[ $SECS =~ ^[0-9]+$ && $SECS -ge 10 ]] || { echo "soak.sh: SOAK_SECONDS must be a whole number >= 10" >&2; exit 2; }
for b in "$LF" "$LK"; do [[ -x $b ]] || { echo "soak.sh: $b not built (make all)" >&2; exit 2; }; done
OUT=results/soak-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
tmp=$(mktemp -d)
pid=''
cleanup() { [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
check() { local d=$1; shift; if "$@"; then pass=$((pass + 1)); echo "ok: $d"; else fail=$((fail + 1)); echo "FAIL: $d"; fi; }
log() { echo "$*" | tee -a "$OUT/summary.txt"; }
log "soak: $LF, config $CFG, $NTH threads, $SECS s, $(nproc) CPUs, $(date -u +%FT%TZ)"

# --- 1. repeatability at 63 threads ---------------------------------------------
for i in 1 2; do
    t_start=$EPOCHREALTIME
    "$LF" --config "$CFG" --threads "$NTH" --steps 30 --quiet --eval-batches 0 --save "$tmp/lf$i.ck" >/dev/null
    t_end=$EPOCHREALTIME
    "$LK" --config "$CFG" --threads "$NTH" --steps 30 --quiet --eval-batches 0 --save "$tmp/lk$i.ck" >/dev/null
done
check "lock-free at $NTH threads: two runs, the same checkpoint bits" cmp "$tmp/lf1.ck" "$tmp/lf2.ck"
check "locked at $NTH threads: two runs, the same checkpoint bits" cmp "$tmp/lk1.ck" "$tmp/lk2.ck"
check "locked and lock-free at $NTH threads: the same bits" cmp "$tmp/lf1.ck" "$tmp/lk1.ck"

# --- 2. the soak -------------------------------------------------------------------
# train_model keeps a 12-byte loss and time record per step, allocated for
# --steps up front: ask for about 4 times the steps that fit in SOAK_SECONDS
# (from the timing of the 30-step run) and stop it with SIGTERM
us=$(( 10#${t_end/./} - 10#${t_start/./} ))
steps=$(( 30 * 1000000 / (us > 0 ? us : 1) * SECS * 4 + 10000 ))
log "about $(( 30 * 1000000 / (us > 0 ? us : 1) )) steps/s from the 30-step run: --steps $steps"
"$LF" --config "$CFG" --threads "$NTH" --steps "$steps" --quiet --eval-batches 0 \
    --save "$tmp/soak.ck" --report "$OUT/report.json" >"$tmp/soak.out" 2>"$tmp/soak.err" &
pid=$!
period=$(( SECS >= 300 ? 2 : 1 ))
t0=$SECONDS
echo -e "seconds\tvmrss_kib" >"$OUT/rss.tsv"
while (( SECONDS - t0 < SECS )) && kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n $rss ]] && echo -e "$((SECONDS - t0))\t$rss" >>"$OUT/rss.tsv"
    sleep "$period"
done
alive=0; kill -0 "$pid" 2>/dev/null && alive=1
kill -TERM "$pid" 2>/dev/null || true
rc=0; wait "$pid" || rc=$?
pid=''
check "ran the whole $SECS s (alive at the end)" test "$alive" -eq 1
check "stopped by SIGTERM cleanly (exit 143, got $rc): $(tail -c 300 "$tmp/soak.err")" test "$rc" -eq 143
check "no sanitizer report" bash -c '! grep -qE "ERROR: (Address|Leak|Thread)Sanitizer|runtime error|WARNING: ThreadSanitizer" "$1"' _ "$tmp/soak.err"

# losses finite; RSS flat after warm-up (the first 10 %, at least 5 s): the
# largest sample of the last quarter may exceed the largest of the first
# post-warm-up quarter by 1 MiB + 1 % + the loss history written meanwhile
python3 - "$OUT/report.json" "$OUT/rss.tsv" "$SECS" >"$tmp/analysis" <<'EOF' || true
import json, math, sys
rep, rss_path, secs = sys.argv[1], sys.argv[2], int(sys.argv[3])
nsteps = 0
try:
    r = json.load(open(rep))
    loss = r["loss"]
    nsteps = len(loss)
    bad = [i for i, x in enumerate(loss) if x is None or not math.isfinite(x)]
    print(f"steps {len(loss)} loss {loss[0]:.4f} -> {loss[-1]:.4f} min {min(loss):.4f} max {max(loss):.4f}")
    print("LOSS_OK" if loss and not bad else f"LOSS_BAD first non-finite at step {bad[0] if bad else '-'}")
except Exception as e:
    print(f"LOSS_BAD report unreadable: {e}")
rows = [l.split("\t") for l in open(rss_path).read().split("\n")[1:] if l]
pts = [(int(a), int(b)) for a, b in rows]
warm = max(5, secs // 10)
after = [p for p in pts if p[0] >= warm]
if len(after) < 4:
    print(f"RSS_BAD only {len(after)} samples after warm-up")
else:
    q = len(after) // 4
    first, last = max(b for _, b in after[:q]), max(b for _, b in after[-q:])
    n = len(after); mx = sum(a for a, _ in after) / n; my = sum(b for _, b in after) / n
    sxx = sum((a - mx) ** 2 for a, _ in after)
    slope = sum((a - mx) * (b - my) for a, b in after) / sxx * 60 if sxx else 0.0
    # by design the loss/time history grows 12 bytes a step
    hist = 12 * nsteps / max(1, secs) * (after[-1][0] - after[0][0]) / 1024
    limit = int(first + 1024 + first // 100 + hist)
    print(f"rss KiB: warm-up ends {warm} s, first quarter max {first}, last quarter max {last}, "
          f"limit {limit}, trend {slope:+.1f} KiB/min, peak {max(b for _, b in pts)}")
    print("RSS_OK" if last <= limit else "RSS_BAD")
EOF
cat "$tmp/analysis" | grep -vE '^(LOSS|RSS)_' | tee -a "$OUT/summary.txt"
check "every step's loss is finite" grep -q '^LOSS_OK' "$tmp/analysis"
check "RSS does not grow after warm-up" grep -q '^RSS_OK' "$tmp/analysis"
rc=0; "$LF" --config "$CFG" --threads 2 --steps 1 --quiet --eval-batches 0 --resume "$tmp/soak.ck" >/dev/null 2>"$tmp/res.err" || rc=$?
check "the soak's checkpoint resumes (rc $rc)" test "$rc" -eq 0
log "results in $OUT"
log "soak: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
