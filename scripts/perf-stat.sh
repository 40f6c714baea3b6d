#!/usr/bin/env bash
# perf-stat.sh - `perf stat` (Debian's linux-perf) over train_model, one
# point per variant x thread count, into a run folder.
#
#   scripts/perf-stat.sh [--threads 1,2,4,8,16,32,63] [--variants lockfree,locked]
#                        [--config bench] [--steps 6] [--scaling weak] [--data PATH]
#                        [--reps 3] [--events LIST] [--bin-dir build]
#                        [--run DIR | --out DIR]
#   scripts/perf-stat.sh --parse FILE     print perf.csv rows for one perf -x';' output
#
# Each point runs
#     perf stat -x';' -r REPS -e EVENTS -o <folder>/<variant>-<N>.csv -- \
#         <bin-dir>/<variant>/train_model [DATA] --config C --threads N --steps K --scaling S --quiet
# (train_model's own output goes to <variant>-<N>.log). The folder is
# results/<UTC YYYYmmddTHHMMSSZ>-<host>-perf/, or DIR/perf/ with --run DIR
# (an existing run folder of build/scale: its meta.json gives the defaults of
# threads, variants, config, steps, scaling, data and bin-dir, so the points
# are the harness's), or DIR with --out DIR.
#
# Files in the folder:
#   <variant>-<N>.csv   perf's own output for the point, verbatim (-x';', -r REPS:
#                       value;unit;event;stddev%;counter-runtime;%running;metric;metric-unit)
#   perf.csv            every point's events in one table, comma-separated:
#     variant,threads,reps   the point; reps = perf's -r
#     event                  as requested (perf's own name when it differs is in perf_event)
#     status                 counted | unsupported (perf printed <not supported>) |
#                            not_counted (<not counted>: never scheduled) |
#                            invalid (perf rejected the event name; reason in meta.json) |
#                            failed (the point's command failed; no values)
#     value                  mean over the reps, in `unit`; NA unless counted (never 0 for "absent")
#     unit                   perf's unit (msec for task-clock, empty for counts)
#     stddev_pct             perf's +- over the reps, percent of the mean (NA when reps = 1)
#     runtime_ns             time the counter was enabled and running (perf's counter-runtime)
#     pct_running            percent of the enabled time the counter was running (below 100
#                            when the PMU multiplexed); kept for every status perf reported
#     metric_value,metric_unit   perf's derived metric (CPUs utilized, /sec, ...), NA if none
#     perf_event             the event name perf printed
#   meta.json           options, command, host (CPU model name, vendor, family and
#                       model number), perf version, perf_event_paranoid,
#                       invalid events with perf's reason, per-point exit status
#
# Hardware events (cycles, instructions, ...) print <not supported> in most VMs
# and containers; they stay in perf.csv as `unsupported`. Needs perf on PATH
# (or PERF=/path/to/perf) and a perf_event_paranoid that lets this user count
# its own processes: the script says what to install or set when it cannot.
# Exit codes: 0 every point ran, 1 runtime failure or a failed point, 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-/usr/bin/python3}
PERF=${PERF:-perf}
me=perf-stat.sh

# --- the parser and the folder's summary files (Python, embedded) -------------
read -r -d '' PARSER <<'PYEOF' || true
import csv, json, os, sys

COLS = ['variant', 'threads', 'reps', 'event', 'status', 'value', 'unit', 'stddev_pct',
        'runtime_ns', 'pct_running', 'metric_value', 'metric_unit', 'perf_event']

def parse(path):
    """Rows of one perf stat -x';' output: {event, status, value, ...}."""
    rows = []
    for line in open(path, errors='replace'):
        line = line.rstrip('\n')
        if not line.strip() or line.startswith('#'):
            continue
        f = line.split(';')
        if len(f) < 3 or not f[2]:
            continue                      # a metric-only continuation line
        f += [''] * 8
        val, unit, ev = f[0], f[1], f[2]
        if f[3].endswith('%'):            # -r > 1: value;unit;event;stddev%;runtime;pct;...
            sd, rt, pct, mv, mu = f[3][:-1], f[4], f[5], f[6], f[7]
        else:                             # -r 1: value;unit;event;runtime;pct;metric;unit
            sd, rt, pct, mv, mu = '', f[3], f[4], f[5], f[6]
        if val.startswith('<not supported>'):
            st, val = 'unsupported', ''
        elif val.startswith('<not counted>'):
            st, val = 'not_counted', ''
        else:
            try:
                float(val)
                st = 'counted'
            except ValueError:
                st, val = 'unparsed', ''
        na = lambda s: s if s.strip() != '' else 'NA'
        rows.append({'event': ev, 'status': st, 'value': na(val), 'unit': unit,
                     'stddev_pct': na(sd) if st == 'counted' else 'NA', 'runtime_ns': na(rt),
                     'pct_running': na(pct), 'metric_value': na(mv), 'metric_unit': na(mu),
                     'perf_event': ev})
    return rows

def match(rows, want):
    """Pairs each requested event with perf's row (perf may add :u and such)."""
    out, used = [], set()
    for w in want:
        hit = None
        for i, r in enumerate(rows):
            if i not in used and (r['event'] == w or r['event'].split(':')[0] == w.split(':')[0]):
                hit = i
                break
        if hit is None:
            out.append(None)
        else:
            used.add(hit)
            out.append(rows[hit])
    return out

def summarize(folder, meta_path):
    meta = json.load(open(meta_path))
    want = meta['options']['events']
    invalid = meta['invalid_events']
    table = []
    for p in meta['points']:
        rows = parse(os.path.join(folder, p['file'])) if p['status'] == 'ok' else []
        got = match(rows, [e for e in want if e not in invalid])
        it = iter(got)
        for e in want:
            base = {'variant': p['variant'], 'threads': p['threads'], 'reps': meta['options']['reps'],
                    'event': e}
            r = None if e in invalid else next(it)
            if e in invalid:
                st = 'invalid'
            elif p['status'] != 'ok':
                st = 'failed'
            elif r is None:
                st = 'missing'            # perf printed no line for it: say so, never 0
            else:
                table.append({**base, **r, 'event': e})
                continue
            table.append({**base, 'status': st, 'value': 'NA', 'unit': '', 'stddev_pct': 'NA',
                          'runtime_ns': 'NA', 'pct_running': 'NA', 'metric_value': 'NA',
                          'metric_unit': 'NA', 'perf_event': e})
    tmp = os.path.join(folder, '.perf.csv.tmp')
    with open(tmp, 'w', newline='') as f:
        w = csv.DictWriter(f, COLS, lineterminator='\n')
        w.writeheader()
        w.writerows(table)
    os.replace(tmp, os.path.join(folder, 'perf.csv'))
    # a short table on stdout: one line per point, the counted events; the rest once
    print(f"{'variant':<9} {'threads':>7}  events (mean over {meta['options']['reps']} reps)")
    other = {}
    for p in meta['points']:
        cells = []
        for r in table:
            if r['variant'] == p['variant'] and r['threads'] == p['threads']:
                if r['status'] == 'counted':
                    cells.append(f"{r['event']}={r['value']}{(' ' + r['unit']) if r['unit'] else ''}")
                else:
                    other.setdefault(r['status'], []).append(r['event'])
        print(f"{p['variant']:<9} {p['threads']:>7}  " + (', '.join(cells) or '-'))
    for st, evs in sorted(other.items()):
        print(f"{st} (in perf.csv, no value): {', '.join(dict.fromkeys(evs))}")
    return table

if __name__ == '__main__':
    if sys.argv[1] == 'parse':
        w = csv.DictWriter(sys.stdout, ['event', 'status', 'value', 'unit', 'stddev_pct', 'runtime_ns',
                                        'pct_running', 'metric_value', 'metric_unit', 'perf_event'],
                           lineterminator='\n')
        w.writeheader()
        w.writerows(parse(sys.argv[2]))
    elif sys.argv[1] == 'summarize':
        summarize(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == 'meta-options':   # print KEY=VALUE lines of a harness meta.json
        o = json.load(open(sys.argv[2])).get('options', {})
        for k in ('threads', 'variants', 'config', 'steps', 'scaling', 'data', 'bin-dir'):
            v = o.get(k)
            if v is None:
                continue
            if isinstance(v, list):
                v = ','.join(str(x) for x in v)
            print(f'{k}={v}')
PYEOF

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}
die() { echo "$me: $*" >&2; exit 1; }
usage_err() { echo "$me: $*" >&2; echo "$me: see $0 --help" >&2; exit 2; }

# --- options ------------------------------------------------------------------
declare -A opt=([threads]="1,2,4,8,16,32,63" [variants]="lockfree,locked" [config]=bench
                [steps]=6 [scaling]=weak [data]='' [reps]=3 [bin-dir]=build
                [events]="task-clock,context-switches,cpu-migrations,page-faults,cycles,instructions,cache-misses,branch-misses")
declare -A given=()
run_dir='' out=''
while [[ $# -gt 0 ]]; do
    case $1 in
        -h|--help) usage; exit 0 ;;
        --parse)
            [[ $# -ge 2 && -f $2 ]] || usage_err "--parse needs a file of perf stat -x';' output"
            exec "$PY" -c "$PARSER" parse "$2" ;;
        --run) [[ $# -ge 2 ]] || usage_err "--run needs a folder"; run_dir=$2; shift 2 ;;
        --out) [[ $# -ge 2 ]] || usage_err "--out needs a folder"; out=$2; shift 2 ;;
        --threads|--variants|--config|--steps|--scaling|--data|--reps|--events|--bin-dir)
            k=${1#--}
            [[ $# -ge 2 ]] || usage_err "$1 needs a value"
            opt[$k]=$2; given[$k]=1; shift 2 ;;
        *) usage_err "unknown option '$1'" ;;
    esac
done
[[ -n $run_dir && -n $out ]] && usage_err "--run and --out cannot be combined"

if [[ -n $run_dir ]]; then
    [[ -d $run_dir ]] || usage_err "--run $run_dir: no such folder"
    if [[ -f $run_dir/meta.json ]]; then      # the harness's points, unless given here
        while IFS='=' read -r k v; do
            [[ -n ${given[$k]:-} ]] || opt[$k]=$v
        done < <("$PY" -c "$PARSER" meta-options "$run_dir/meta.json") \
            || die "--run $run_dir: cannot read meta.json"
    fi
    out=$run_dir/perf
fi

[[ ${opt[threads]} =~ ^[0-9]+(,[0-9]+)*$ ]] || usage_err "--threads '${opt[threads]}': want a list like 1,2,4"
IFS=, read -r -a threads <<<"${opt[threads]}"
for t in "${threads[@]}"; do
    ((10#$t >= 1 && 10#$t <= 1024)) || usage_err "--threads: $t is not in 1..1024"
done
IFS=, read -r -a variants <<<"${opt[variants]}"
for v in "${variants[@]}"; do
    [[ $v == lockfree || $v == locked ]] || usage_err "--variants: unknown variant '$v' (lockfree, locked)"
done
if ! [[ ${opt[reps]} =~ ^[0-9]+$ ]] || ((opt[reps] < 1 || opt[reps] > 1000)); then
    usage_err "--reps '${opt[reps]}': want 1..1000"
fi
if ! [[ ${opt[steps]} =~ ^[0-9]+$ ]] || ((opt[steps] < 1)); then
    usage_err "--steps '${opt[steps]}': want a positive integer"
fi
[[ ${opt[scaling]} == weak || ${opt[scaling]} == strong ]] || usage_err "--scaling '${opt[scaling]}': weak or strong"
[[ -z ${opt[data]} || -e ${opt[data]} ]] || usage_err "--data ${opt[data]}: no such file or folder"
[[ -n ${opt[events]} ]] || usage_err "--events is empty"
IFS=, read -r -a events <<<"${opt[events]}"
for v in "${variants[@]}"; do
    [[ -x ${opt[bin-dir]}/$v/train_model ]] || die "${opt[bin-dir]}/$v/train_model is missing: run make all"
done
[[ -x $PY ]] || die "$PY is missing: install python3 (sudo apt-get install python3)"

# --- perf present and allowed ---------------------------------------------------
if ! command -v "$PERF" >/dev/null 2>&1; then
    die "perf not found (looked for '$PERF' on PATH). Install Debian's linux-perf:
    sudo apt-get install linux-perf
or set PERF=/path/to/perf."
fi
if ! pv=$(LC_ALL=C "$PERF" --version 2>&1); then
    die "'$PERF --version' failed: $pv
Debian's perf must match the kernel's major version: sudo apt-get install linux-perf"
fi
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo unknown)
probe=$(mktemp)
trap 'rm -f "$probe" "$probe.err"' EXIT
if ! LC_ALL=C "$PERF" stat -x';' -e task-clock -o "$probe" -- true >/dev/null 2>"$probe.err"; then
    msg=$(cat "$probe.err"); rm -f "$probe.err"
    if grep -qiE 'paranoid|permission|not permitted|access to performance' <<<"$msg"; then
        die "perf may not count this user's processes: kernel.perf_event_paranoid is $paranoid.
Counting your own processes needs 2 or lower (Debian's default 3 forbids it for non-root users):
    sudo sysctl kernel.perf_event_paranoid=2          # 1 adds kernel-side counts
(persist it in /etc/sysctl.d/), or run as root. perf said:
$(head -n 8 <<<"$msg" | sed 's/^/    /')"
    fi
    die "perf stat does not work here. perf said:
$(head -n 8 <<<"$msg" | sed 's/^/    /')"
fi
rm -f "$probe.err"

# Each event alone: a name perf rejects (unknown, mistyped) would stop every
# point, so it is recorded as invalid, with perf's reason, and left out.
ok_events=() invalid_json='{}'
for e in "${events[@]}"; do
    if LC_ALL=C "$PERF" stat -x';' -e "$e" -o "$probe" -- true >/dev/null 2>"$probe.err"; then
        ok_events+=("$e")
    else
        reason=$(grep -v '^ *$' "$probe.err" | head -n 2 | tr '\n' ' ' | tr -s ' ' | sed 's/ *$//')
        echo "$me: event '$e' rejected by perf, recorded as invalid: $reason" >&2
        invalid_json=$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d[sys.argv[2]]=sys.argv[3] or "rejected by perf"; print(json.dumps(d))' \
            "$invalid_json" "$e" "$reason")
    fi
    rm -f "$probe.err"
done
ev_list=$(IFS=,; echo "${ok_events[*]:-}")

# --- the run folder ---------------------------------------------------------------
if [[ -z $out ]]; then
    out=results/$(date -u +%Y%m%dT%H%M%SZ)-$(hostname)-perf
fi
[[ -e $out/perf.csv ]] && die "$out already holds a perf.csv: remove it or choose another folder"
mkdir -p "$out" || die "cannot create $out"
[[ -w $out ]] || die "$out is not writable"
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# --- the points ---------------------------------------------------------------------
points_json='[]' failed=0
data_arg=()
[[ -n ${opt[data]} ]] && data_arg=("${opt[data]}")
for t in "${threads[@]}"; do
    for v in "${variants[@]}"; do
        f=$v-$t.csv
        cmd=("${opt[bin-dir]}/$v/train_model" "${data_arg[@]}" --config "${opt[config]}" --threads "$t"
             --steps "${opt[steps]}" --scaling "${opt[scaling]}" --quiet)
        echo "$me: $v, $t threads, $f" >&2
        rc=0
        if [[ ${#ok_events[@]} -gt 0 ]]; then
            LC_ALL=C "$PERF" stat -x';' -r "${opt[reps]}" -e "$ev_list" -o "$out/$f" -- "${cmd[@]}" \
                >"$out/$v-$t.log" 2>&1 || rc=$?
        else
            : >"$out/$f"; "${cmd[@]}" >"$out/$v-$t.log" 2>&1 || rc=$?
        fi
        st=ok
        if [[ $rc -ne 0 ]]; then
            st=failed; failed=$((failed + 1))
            echo "$me: $v $t threads: exit code $rc (see $out/$v-$t.log)" >&2
        fi
        points_json=$("$PY" -c 'import json,sys; p=json.loads(sys.argv[1]); p.append({"variant":sys.argv[2],"threads":int(sys.argv[3]),"status":sys.argv[4],"exit_code":int(sys.argv[5]),"file":sys.argv[6],"log":sys.argv[7],"command":sys.argv[8:]}); print(json.dumps(p))' \
            "$points_json" "$v" "$t" "$st" "$rc" "$f" "$v-$t.log" "$PERF" stat -x';' -r "${opt[reps]}" -e "$ev_list" -- "${cmd[@]}")
    done
done

# --- meta.json, perf.csv --------------------------------------------------------------
"$PY" - "$out/meta.json" "$start" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$pv" "$paranoid" \
    "$invalid_json" "$points_json" "${run_dir:-}" "${opt[threads]}" "${opt[variants]}" \
    "${opt[config]}" "${opt[steps]}" "${opt[scaling]}" "${opt[data]}" "${opt[reps]}" \
    "${opt[events]}" "${opt[bin-dir]}" <<'PYEOF'
import json, os, platform, socket, subprocess, sys
(path, start, end, pv, paranoid, invalid, points, run_dir, threads, variants, config, steps,
 scaling, data, reps, events, bindir) = sys.argv[1:18]
# the machine from <bin-dir>/topo (bench/topo.c, the same JSON as scale's meta.json host.topology)
try:
    topo = json.loads(subprocess.run([os.path.join(bindir, 'topo')], capture_output=True, text=True,
                                     check=True).stdout)
except (OSError, subprocess.CalledProcessError, ValueError) as e:
    print(f'perf-stat.sh: warning: no topology: {bindir}/topo: {e}', file=sys.stderr)
    topo = None
meta = {
    'tool': 'perf-stat', 'format': 1, 'start_time': start, 'end_time': end,
    'harness_run': run_dir or None,
    'options': {'threads': [int(t) for t in threads.split(',')], 'variants': variants.split(','),
                'config': config, 'steps': int(steps), 'scaling': scaling, 'data': data or None,
                'reps': int(reps), 'events': events.split(','), 'bin-dir': bindir},
    'perf_version': pv, 'perf_event_paranoid': paranoid, 'uid': os.getuid(),
    'invalid_events': json.loads(invalid),
    'host': {'hostname': socket.gethostname(), 'cpu_model': topo and topo['cpu_model'],
             'cpu_vendor': topo and topo['cpu_vendor'], 'cpu_family': topo and topo['cpu_family'],
             'cpu_model_number': topo and topo['cpu_model_number'],
             'online_cpus': os.cpu_count(), 'affinity_cpus': len(os.sched_getaffinity(0)),
             'usable_cpus': topo and topo['usable_cpus'], 'kernel': platform.release(),
             'topology': topo},
    'points': json.loads(points),
}
tmp = path + '.tmp'
with open(tmp, 'w') as f:
    json.dump(meta, f, indent=1)
    f.write('\n')
os.replace(tmp, path)
PYEOF
"$PY" -c "$PARSER" summarize "$out" "$out/meta.json"
echo "$me: wrote $out/perf.csv ($(( ${#threads[@]} * ${#variants[@]} )) points, ${opt[reps]} reps each)"
[[ $failed -eq 0 ]] || { echo "$me: $failed point(s) failed" >&2; exit 1; }
