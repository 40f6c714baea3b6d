#!/usr/bin/env bash
# perf-stat.sh - `perf stat` over train_model per variant x thread count
# (make perf): scripts/perf_stat.py under Debian's python (--help).
PY=${PYTHON:-/usr/bin/python3}
[[ -x $PY ]] || { echo "perf-stat.sh: $PY is missing: install python3 (sudo apt-get install python3)" >&2; exit 1; }
cd "$(dirname "$0")/.." && exec "$PY" scripts/perf_stat.py "$@"
