# calibrate.sh - sourced by the timing tests (test_perf.sh, test_hyperfine.sh):
# sizes a train_model run by measuring it, so that no test assumes how fast
# the machine is.
#
#   calibrate_steps SCALE BIN_DIR CONFIG STEPS TARGET_CPU_S TMPDIR
#
# Runs SCALE (build/scale) once at 1 thread, lock-free, CONFIG and STEPS, and
# reads the run's user+sys (wait4: the child's own CPU time, which other load
# on the machine hardly changes). Under TARGET_CPU_S it raises the steps in
# proportion, aiming 20% past the target (start-up does not grow with the
# steps), and measures again, up to 5 times. Prints "STEPS CPU_S" and returns
# 0 once a run reached the target; prints why and returns 1 otherwise. Never
# lowers the steps below STEPS, so a slow machine only takes longer.

calibrate_steps() {
    local scale=$1 bin=$2 config=$3 steps=$4 target=$5 tmp=$6 i cpu=''
    for i in 1 2 3 4 5; do
        "$scale" --bin-dir "$bin" --threads 1 --variants lockfree --reps 1 --config "$config" \
            --steps "$steps" --out "$tmp/calibrate$i" >/dev/null 2>"$tmp/calibrate.err" ||
            { echo "calibration: scale failed: $(tail -n 3 "$tmp/calibrate.err")"; return 1; }
        cpu=$(/usr/bin/python3 -c 'import json,sys
print(*["%.3f" % (r["user_s"] + r["sys_s"]) for r in map(json.loads, open(sys.argv[1])) if r["status"] == "ok"])' \
            "$tmp/calibrate$i/runs.jsonl")
        [[ -n $cpu ]] || { echo "calibration: the run at $steps steps failed"; return 1; }
        if /usr/bin/python3 -c "import sys; sys.exit(0 if $cpu >= $target else 1)"; then
            echo "$steps $cpu"; return 0
        fi
        steps=$(/usr/bin/python3 -c "import math
print(min(100000, max($steps + 1, math.ceil($steps * 1.2 * $target / $cpu))))")
    done
    echo "calibration: $steps steps of config $config still under $target s of CPU ($cpu s)"
    return 1
}
