#!/usr/bin/env bash
# tsan.sh - ThreadSanitizer over both variants: test_threads (pool, bitwise
# runs at 1..8 and 63 threads) and train_model at 2 and 4 threads through
# warmup, clipping, evaluation and a checkpoint, and a pool whose thread 1
# or 3 of 4 cannot be created. Any report fails the run. Then the MPI
# variant (when built: build/tsan/mpi/train_model) under mpirun: 2 ranks x 2
# threads over shared memory alone, with no suppression (overlap off and on);
# 4 ranks x 2 threads
# (oversubscribed) with Open MPI's default transports, whose TCP transport
# needs the suppressions of tests/tsan_mpi.supp (a lock-order report inside
# Open MPI's MPI_Init), and a resume of its checkpoint at 2 ranks. Open MPI
# itself is not instrumented: what TSan checks is our threads and worker 0's
# MPI calls between the pool's barriers.
#
#   scripts/tsan.sh        (after make tsan-build; BUILD=DIR picks the build, default build/tsan)
#
# Ends with "tsan: N passed, N failed". Exit codes: 0 no report, 1 a report or
# a failed run, 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."
case ${1:-} in
    '') ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tsan.sh: unknown option '$1' (it takes none; see scripts/tsan.sh --help)" >&2; exit 2 ;;
esac
BUILD=${BUILD:-build/tsan}
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$PWD/tests/tsan.supp"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
# run_rc WANT ARGS...: the command must exit WANT with no ThreadSanitizer report
run_rc() {
    local want=$1 rc=0
    shift
    "$@" >"$tmp/log" 2>&1 || rc=$?
    if [[ $rc -eq $want ]] && ! grep -q "WARNING: ThreadSanitizer" "$tmp/log"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1)); echo "FAIL (rc=$rc, want $want): $*"; grep -A30 "WARNING: ThreadSanitizer" "$tmp/log" | head -60 || tail -20 "$tmp/log"
    fi
}
run() { run_rc 0 "$@"; }
run "$BUILD/tests/test_threads"
for v in lockfree locked; do
    for n in 2 4; do
        run "$BUILD/$v/train_model" --threads "$n" --steps 12 --warmup 3 --clip 0.5 --quiet \
            --save "$tmp/$v$n.ck" --report "$tmp/$v$n.json"
    done
    run "$BUILD/$v/train_model" --threads 4 --scaling strong --batch 6 --steps 4 --quiet
    # pinned workers (wrapping past the CPUs) and per-phase counters: the first job binds,
    # opens the counters and zeroes every worker's memory; the report reads it all
    run "$BUILD/$v/train_model" --threads 4 --steps 4 --pin cores --phase-counters task-clock,context-switches \
        --quiet --report "$tmp/$v-pin.json"
    # the timeline: workers write their lanes, the main thread reads them between jobs
    run "$BUILD/$v/train_model" --threads 4 --steps 4 --quiet --trace "$tmp/$v-trace.json" --report "$tmp/$v-tr.json"
    # a worker thread that cannot be created, with workers already started
    # (pool_create must release them without racing on the barrier)
    for i in 1 3; do run_rc 1 env CLLM_FAIL_THREAD_AT=$i "$BUILD/$v/train_model" --threads 4 --steps 1 --quiet; done
done
if [[ -x $BUILD/mpi/train_model ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # Open MPI as root (CI)
    M=(mpirun --oversubscribe --bind-to none)
    run "${M[@]}" -np 2 --mca pml ob1 --mca btl vader,self "$BUILD/mpi/train_model" --threads 2 --steps 8 \
        --warmup 3 --clip 0.5 --quiet --save "$tmp/mpi2.ck" --report "$tmp/mpi2.json" --trace "$tmp/mpi2-trace.json"
    # --overlap on: the buckets' counters and flags between the workers and worker 0's posts, the
    # parameter all-gather's gate in forward (also with each bucket landing late: the test hook),
    # completed between steps by a periodic checkpoint and the validation; traced (the model's
    # hooks serve the buckets and the per-layer events)
    for late in 0 1; do
        run env CLLM_TEST_LATE_ALLGATHER=$late "${M[@]}" -x CLLM_TEST_LATE_ALLGATHER -np 2 --mca pml ob1 \
            --mca btl vader,self "$BUILD/mpi/train_model" --threads 2 --steps 4 --overlap on --quiet \
            --eval-batches 1 --save-every 2 --save "$tmp/ov$late.ck" --trace "$tmp/ov$late-trace.json"
    done
    mpisupp="halt_on_error=1 exitcode=66 suppressions=$PWD/tests/tsan_mpi.supp"
    run env TSAN_OPTIONS="$mpisupp" "${M[@]}" -np 4 "$BUILD/mpi/train_model" --threads 2 --steps 4 --quiet \
        --save "$tmp/mpi4.ck"
    run env TSAN_OPTIONS="$mpisupp" "${M[@]}" -np 2 "$BUILD/mpi/train_model" --threads 2 --steps 2 --quiet \
        --resume "$tmp/mpi4.ck" --scaling strong --batch 4
fi
echo "tsan: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
