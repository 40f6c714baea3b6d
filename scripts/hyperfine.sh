#!/usr/bin/env bash
# hyperfine.sh - wall time of train_model per variant x thread count with
# hyperfine (make hyperfine): scripts/hyperfine_run.py under Debian's python (--help).
PY=${PYTHON:-/usr/bin/python3}
[[ -x $PY ]] || { echo "hyperfine.sh: $PY is missing: install python3 (sudo apt-get install python3)" >&2; exit 1; }
cd "$(dirname "$0")/.." && exec "$PY" scripts/hyperfine_run.py "$@"
