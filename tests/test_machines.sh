#!/usr/bin/env bash
# test_machines.sh - the machine snapshots of ../shared/machines/ (hwloc's
# own test suite: NAME.tar.bz2 with NAME.console, the lstopo output hwloc
# expects from it), extracted once to a temporary folder (tmpfs when there
# is one: ~40,000 small files):
#   - build/tests/plan_invariants: the plan's invariants at every thread
#     count and mode on each, and on a made-up hybrid machine (cpukinds);
#   - tests/machines_check.py: build/topo --machine against each console,
#     train_model --machine --pin-plan on each, the live --pin binding equal
#     to --pin-plan's, bad input (not a snapshot, truncated, broken XML,
#     --machine while training) exits 2 naming the path.
# Nothing here depends on this machine's CPUs. CLLM_MACHINES=DIR points
# elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/check.sh
BUILD=${BUILD:-build}
PY=${PYTHON:-/usr/bin/python3}
SNAP=${CLLM_MACHINES:-../shared/machines}
if [[ $BUILD != build ]]; then
    skip "test_machines: ~40,000 files to extract for hwloc and the planner, not memory safety; the plain suite runs it"
    check_finish test_machines; exit
fi
check_built test_machines "$BUILD/topo" "$BUILD/train_model" "$BUILD/tests/plan_invariants"
if ! compgen -G "$SNAP/*.tar.bz2" >/dev/null; then
    skip "test_machines: no snapshots in $SNAP (they sit beside the repo in ../shared/machines/; CLLM_MACHINES=DIR)"
    check_finish test_machines; exit
fi
shm=; [[ -d /dev/shm && -w /dev/shm ]] && shm=/dev/shm
T=$(mktemp -d ${shm:+-p $shm}); trap 'rm -rf "$T"' EXIT
mkdir "$T/m"
n=0
for f in "$SNAP"/*.tar.bz2; do tar xjf "$f" -C "$T/m"; n=$((n + 1)); done
rc=0
"$BUILD/tests/plan_invariants" "$T/m" "$n" || rc=1
"$PY" tests/machines_check.py "$BUILD" "$T/m" "$SNAP" || rc=1
exit $rc
