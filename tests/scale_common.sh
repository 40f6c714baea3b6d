# scale_common.sh - what the tests of build/scale share (sourced from the
# repo root by tests/test_scale.sh, tests/test_scale_command.sh,
# tests/test_scale_host.sh, tests/test_progress.sh and tests/test_integrity.sh;
# not a test itself): BUILD (default build), SCALE (its scale), PY (Debian's
# python), T (a temp folder, removed by an EXIT trap that a test may replace
# with its own cleanup), tests/check.sh, and
#
#   fake_bins DIR                   DIR/lockfree/train_model and
#                                   DIR/locked/train_model: the fake
#                                   (tests/fake_train_model.sh), for --bin-dir
#   run ARGS...                     runs $SCALE ARGS: sets rc, output in
#                                   $T/stdout and $T/stderr
#   expect_fail CODE TEXT ARGS...   one check: scale ARGS exits CODE and its
#                                   stderr holds TEXT
BUILD=${BUILD:-build}
SCALE=$BUILD/scale
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
source tests/check.sh

fake_bins() {
    local v
    for v in lockfree locked; do
        mkdir -p "$1/$v"
        cp tests/fake_train_model.sh "$1/$v/train_model"
        chmod +x "$1/$v/train_model"
    done
}
run() { rc=0; "$SCALE" "$@" >"$T/stdout" 2>"$T/stderr" || rc=$?; }
expect_fail() {
    local code=$1 text=$2; shift 2
    run "$@"
    if [[ $rc -eq $code ]] && grep -qF -- "$text" "$T/stderr"; then ok; else
        local args="$*"
        bad "scale ${args:0:200} -> rc $rc (want $code, '$text'), stderr: $(head -c 300 "$T/stderr")"
    fi
}
