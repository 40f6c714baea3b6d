#!/usr/bin/env bash
# bench-mpi.sh - make bench-mpi: a ranks x threads sweep of the MPI variant
# on this machine (build/scale --ranks, through scripts/bench.sh: 5 reps,
# the ceilings, the analysis with its "Ranks x threads" section: fits over
# workers, a process per worker against a thread per worker, comm per step).
#
#   scripts/bench-mpi.sh [build/scale options]   (make bench-mpi BENCH_MPI_ARGS="--config S --ranks 1,2,4")
#
# Default: --ranks and --threads are the powers of two up to this machine's
# usable CPUs (1,2 on 2 CPUs), so every R x T up to the CPUs is measured and
# the points past them are labelled oversubscribed; --config seed; the folder
# is results/<UTC time>-<host>-mpi/. Options given replace the defaults.
# Open MPI refuses to run as root unless OMPI_ALLOW_RUN_AS_ROOT=1 and
# OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are set: as root, this script sets both
# (CI runs as root; say so rather than run as root elsewhere).
# Exit codes are build/scale's (scripts/bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
case " $* " in *" -h "*|*" --help "*) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;; esac
if [[ $(id -u) -eq 0 ]]; then
    echo "make bench-mpi: running as root: setting OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" >&2
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
cpus=$(nproc)
list=1
for ((n = 2; n <= cpus; n *= 2)); do list+=",$n"; done
args=("$@")
has() { [[ " ${args[*]} " == *" $1 "* ]]; }
has --ranks || args+=(--ranks "$list")
has --threads || args+=(--threads "$list")
has --config || args+=(--config seed)
has --out || has --resume || args+=(--out "$(build/scale --default-out)-mpi")
exec scripts/bench.sh "${args[@]}"
