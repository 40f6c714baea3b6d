#!/usr/bin/env bash
# test_optim.sh - cllm's optimizer against a written-out formula and against
# torch.optim.AdamW: the learning-rate schedule (warmup, cosine, the floor
# after --lr-steps), global-norm clipping (active in the steps checked), the
# AdamW update with both bias corrections and the weight-decay set. 60 real
# training steps at 2 threads (so the optimizer's parameter slices cut
# tensors) through build/tests/optim_dump; tests/optim_ref.py compares every
# step and says why its tolerances are what they are.
#
# Needs Debian's python3-torch and python3-numpy for /usr/bin/python3
# (scripts/deps.sh installs them); TORCH_PYTHON overrides the python. Without
# torch the test fails: it does not skip.
#
# Run from anywhere after `make all`; prints "N passed, N failed" last.
# test-timeout: 120
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${TORCH_PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
    echo "FAIL: $PY cannot import torch and numpy: run scripts/deps.sh (python3-torch python3-numpy)"
    echo "test_optim: 0 passed, 1 failed"; exit 1
fi
[[ -x $BUILD/tests/optim_dump ]] || { echo "FAIL: $BUILD/tests/optim_dump is missing: make all"; echo "test_optim: 0 passed, 1 failed"; exit 1; }

# a small model, so every step's state fits in a few MB; lr and wd large
# enough that each term of the update is far above float32 rounding; clip
# below the gradient norms this run has (0.47..2.3); warmup, cosine and the
# floor after lr-steps each take part of the 60 steps
"$BUILD/tests/optim_dump" "$tmp/run.dump" --C 16 --NH 2 --F 32 --seq 8 --batch 2 --threads 2 \
    --steps 60 --lr 1e-2 --warmup 5 --lr-steps 45 --min-lr-frac 0.1 --wd 0.5 --clip 0.25 --seed 5 ||
    { echo "FAIL: optim_dump"; echo "test_optim: 0 passed, 1 failed"; exit 1; }
rc=0
"$PY" tests/optim_ref.py "$tmp/run.dump" | sed 's/^\([0-9]* passed, [0-9]* failed\)$/test_optim: \1/' || rc=$?
exit "$rc"
