#!/usr/bin/env bash
# test_scripts.sh - the scripts and the README as a new user meets them:
#   - every scripts/*.sh answers --help: exit 0, its usage on stdout (the
#     first line "NAME.sh - what it does" or "usage: ..."), within 30 s, and
#     nothing written under results/ or plots/ (a --help that starts the work
#     fails here);
#   - every scripts/*.sh refuses an unknown option: exit 2, the option named
#     on stderr, nothing run or written;
#   - the README's training examples (its "## Training" block) run as
#     written, from an empty folder, with exit 0 (skipped under a sanitizer
#     build: they check the docs, not memory).
# Run from anywhere after `make all`; ends with "N passed, N failed, N skipped" and
# exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROOT=$PWD
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
source tests/check.sh
# what the scripts may write: a listing to compare before and after
outputs() { find results plots -mindepth 1 -maxdepth 1 2>/dev/null | sort; }
# run_script OUT ERR SCRIPT ARGS...: rc in $rc; timeout(1) kills the whole
# process group, so a script that starts work instead of answering stops
run_script() {
    local o=$1 e=$2; shift 2
    rc=0
    timeout -k 5 30 bash "$@" >"$o" 2>"$e" </dev/null || rc=$?
}

# --- 1. --help and an unknown option, for every script ----------------------------
before=$(outputs)
for s in scripts/*.sh; do
    name=${s##*/}
    run_script "$T/out" "$T/err" "$s" --help
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then
        bad "$name --help: still running after 30 s (it started the work?)"
    elif [[ $rc -ne 0 ]]; then
        bad "$name --help: exit $rc, want 0: $(head -c 200 "$T/err")"
    elif ! head -n1 "$T/out" | grep -qE "^($name - |usage: )"; then
        bad "$name --help: stdout does not start with '$name - ' or 'usage: ': $(head -c 200 "$T/out")"
    else
        ok
    fi
    run_script "$T/out" "$T/err" "$s" --no-such-option
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then
        bad "$name --no-such-option: still running after 30 s (it started the work?)"
    elif [[ $rc -ne 2 ]]; then
        bad "$name --no-such-option: exit $rc, want 2: $(head -c 200 "$T/err")"
    elif ! grep -qF -- "--no-such-option" "$T/err"; then
        bad "$name --no-such-option: stderr does not name the option: $(head -c 200 "$T/err")"
    else
        ok
    fi
done
after=$(outputs)
if [[ $before == "$after" ]]; then ok; else
    bad "--help / an unknown option wrote under results/ or plots/: $(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')"
fi

# --- 2. the README's training examples, as written -------------------------------
if nm "$BUILD/lockfree/train_model" 2>/dev/null | grep -qE '__asan_init|__tsan_init' || [[ $BUILD == *san* ]]; then
    skip "the README examples: $BUILD is a sanitizer build"
else
    mapfile -t cmds < <(awk '/^## Training/ { t = 1; next } t && /^```/ { if (b) exit; b = 1; next } t && b' README.md)
    if [[ ${#cmds[@]} -lt 3 ]]; then
        bad "README.md: no training examples found under '## Training' (${#cmds[@]} lines)"
    fi
    mkdir -p "$T/readme"
    for c in "${cmds[@]}"; do
        c=${c%%#*}
        read -r -a argv <<<"$c"
        [[ ${#argv[@]} -gt 0 ]] || continue
        [[ ${argv[0]} == build/* ]] || { bad "README example does not start with build/: $c"; continue; }
        argv[0]=$ROOT/$BUILD/${argv[0]#build/}
        rc=0
        (cd "$T/readme" && "${argv[@]}") >"$T/out" 2>"$T/err" </dev/null || rc=$?
        if [[ $rc -eq 0 ]]; then ok; else bad "README example '$c': exit $rc: $(tail -c 300 "$T/err")"; fi
    done
fi

check_finish test_scripts
