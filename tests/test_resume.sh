#!/usr/bin/env bash
# test_resume.sh - --resume continues a run exactly: N steps, save, M more
# steps resumed WITHOUT repeating --seed or --lr-steps give the same losses,
# learning rates and gradient norms as N+M steps without interruption, and a
# byte-identical final checkpoint (cmp); the seed and the training options
# come from the checkpoint (core/CHECKPOINT.md), the cosine horizon stays
# the original run's, a flag given on resume overrides its option and says
# so in one line, and a version 1 checkpoint (no options) still resumes with
# its seed.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LF=$BUILD/lockfree/train_model
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local d=$1; shift; if "$@"; then ok; else bad "$d"; fi; }
# the per-step figures of a progress log: step, loss, lr, norm (not the timings)
figures() { sed -n 's/^step *\([0-9]*\)\/[0-9]*  loss \([^ ]*\)  lr \([^ ]*\)  norm \([^ ]*\) .*/\1 \2 \3 \4/p' "$1"; }

OPTS=(--seed 4242 --warmup 3 --lr 2e-3 --wd 0.05 --clip 0.7 --eval-batches 0)

# --- N + M == N+M, bitwise: the seed and the cosine horizon come from the checkpoint
"$LF" "${OPTS[@]}" --steps 10 --save "$tmp/full.ck" --report "$tmp/full.json" >/dev/null 2>"$tmp/full.log"
"$LF" "${OPTS[@]}" --steps 6 --lr-steps 10 --save "$tmp/half.ck" >/dev/null 2>"$tmp/half.log"
"$LF" --steps 4 --resume "$tmp/half.ck" --save "$tmp/rest.ck" --report "$tmp/rest.json" --eval-batches 0 \
    >/dev/null 2>"$tmp/rest.log"
check "resumed losses equal the uninterrupted run's (steps 7..10)" /usr/bin/python3 - "$tmp/full.json" "$tmp/rest.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["loss"][6:] == b["loss"], (a["loss"][6:], b["loss"])
assert b["first_step"] == 6 and b["seed"] == 4242 == a["seed"], (b["first_step"], b["seed"])
PY
check "resumed lr and norm per step equal the uninterrupted run's: $(figures "$tmp/rest.log" | tr '\n' ';')" \
    diff <(figures "$tmp/full.log" | tail -n 4) <(figures "$tmp/rest.log")
check "the final checkpoints are byte-identical" cmp "$tmp/full.ck" "$tmp/rest.ck"
check "no override message when no flag is given" bash -c '! grep -q override "$1"' _ "$tmp/rest.log"

# --- the horizon stays the original run's: 6 steps with the default horizon
# (6), resumed for 4: those run at lr * min_lr_frac = 2e-4
"$LF" "${OPTS[@]}" --steps 6 --save "$tmp/short.ck" >/dev/null 2>&1
"$LF" --steps 4 --resume "$tmp/short.ck" --eval-batches 0 >/dev/null 2>"$tmp/short.log"
lrs=$(figures "$tmp/short.log" | awk '{print $3}' | sort -u | tr '\n' ' ')
check "past the stored horizon the lr is lr*min_lr_frac: '$lrs'" test "$lrs" = "2.00e-04 "

# --- a flag given on resume overrides its option, in one message
"$LF" --steps 2 --resume "$tmp/half.ck" --lr 5e-3 --seed 7 --eval-batches 0 >/dev/null 2>"$tmp/ovr.log"
n=$(grep -c "override" "$tmp/ovr.log" || true)
check "one override line: $(grep override "$tmp/ovr.log" || true)" test "$n" -eq 1
check "it names --lr and --seed with both values" \
    grep -qE -- "--seed 7 \(checkpoint: 4242\).*--lr 0.005 \(checkpoint: 0.002\)" "$tmp/ovr.log"
check "the overriding lr is used (step 7 of the old horizon 10)" \
    bash -c 'figures() { sed -n "s/^step *\([0-9]*\)\/[0-9]*  loss [^ ]*  lr \([^ ]*\) .*/\1 \2/p" "$1"; }
             [[ $(figures "$1" | head -n1) == "7 3.25e-03" ]]' _ "$tmp/ovr.log"
# a flag equal to the checkpoint's value changes nothing and is not reported
"$LF" --steps 4 --resume "$tmp/half.ck" --seed 4242 --lr-steps 10 --save "$tmp/same.ck" --eval-batches 0 \
    >/dev/null 2>"$tmp/same.log"
check "flags equal to the checkpoint's: no message" bash -c '! grep -q override "$1"' _ "$tmp/same.log"
check "flags equal to the checkpoint's: the same checkpoint" cmp "$tmp/full.ck" "$tmp/same.ck"

# --- a version 1 checkpoint (the 6-step one rewritten with a 128-byte header)
/usr/bin/python3 - "$tmp/half.ck" "$tmp/v1.ck" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
FNV, M = 0x100000001b3, (1 << 64) - 1
def fnv(d):
    d = d + b"\0" * (-len(d) % 8); h = 0xcbf29ce484222325
    for (w,) in struct.iter_unpack("<Q", d): h = ((h ^ w) * FNV) & M
    return h
def fnv_from(h, d):
    d = d + b"\0" * (-len(d) % 8)
    for (w,) in struct.iter_unpack("<Q", d): h = ((h ^ w) * FNV) & M
    return h
assert struct.unpack_from("<II", b, 8) == (3, 256)
vocab, npar = struct.unpack_from("<QQ", b, 88)
payload = b[264:264 + vocab + 12 * npar]          # without version 3's CRC table
ps = 0xcbf29ce484222325
for off, n in ((0, vocab), (vocab, 4 * npar), (vocab + 4 * npar, 4 * npar), (vocab + 8 * npar, 4 * npar)):
    ps = fnv_from(ps, payload[off:off + n])
h = bytearray(b[:128]); struct.pack_into("<II", h, 8, 1, 128); struct.pack_into("<Q", h, 120, ps)
open(sys.argv[2], "wb").write(bytes(h) + struct.pack("<Q", fnv(bytes(h))) + payload)
PY
# version 1 holds the seed but not the horizon: give it, and the other
# options are this test's defaults, so the run must match again
"$LF" --steps 4 --resume "$tmp/v1.ck" --lr-steps 10 --warmup 3 --lr 2e-3 --wd 0.05 --clip 0.7 \
    --save "$tmp/v1rest.ck" --report "$tmp/v1rest.json" --eval-batches 0 >/dev/null 2>"$tmp/v1.log"
check "version 1: says it holds no training options: $(head -c 300 "$tmp/v1.log")" \
    grep -q "version 1 checkpoint holds the seed but no other training option" "$tmp/v1.log"
check "version 1: resumed with its seed, the losses equal the uninterrupted run's" \
    /usr/bin/python3 -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:3]); assert a["loss"][6:]==b["loss"], (a["loss"], b["loss"])' \
    "$tmp/full.json" "$tmp/v1rest.json"
check "version 1: the checkpoint it saves is version 3 and equals the uninterrupted one" cmp "$tmp/full.ck" "$tmp/v1rest.ck"

echo "test_resume: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
