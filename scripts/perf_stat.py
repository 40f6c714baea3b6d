#!/usr/bin/python3
"""perf_stat.py - the work behind scripts/perf-stat.sh (USAGE below): perf stat
over train_model per variant x thread count, the parser of perf's -x';' output
and the folder's perf.csv and meta.json. Options, the child command and the
folder: sweep_common.py."""
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile

import sweep_common as sc
from cllm_analysis import ijson
from cllm_analysis.atomic import write_atomic

USAGE = """\
perf-stat.sh - `perf stat` (Debian's linux-perf) over train_model, one
point per variant x thread count, into a run folder.

  scripts/perf-stat.sh [--threads 1,2,4,8,16,32,63] [--variants lockfree,locked]
                       [--config bench] [--steps 6] [--scaling weak] [--data PATH]
                       [--reps 3] [--events LIST] [--bin-dir build]
                       [--run DIR | --out DIR]
  scripts/perf-stat.sh --parse FILE     print perf.csv rows for one perf -x';' output

Each point runs
    perf stat -x';' -r REPS -e EVENTS -o <folder>/<variant>-<N>.csv -- \\
        <bin-dir>/<variant>/train_model [DATA] --config C --threads N --steps K --scaling S
        --eval-batches 0 --quiet --report <folder>/.perf-report-<variant>-<N>.json
with OPENBLAS_NUM_THREADS=1 (and LC_ALL=C, for perf's number format) in the
environment, recorded in meta.json as child_env: the harness's child command
and environment (bench/RESULTS.md), so that task-clock counts what build/scale
times (the report is removed after the point). train_model's own output goes
to <variant>-<N>.log. The folder is
results/<UTC YYYYmmddTHHMMSSZ>-<host>-perf/, or DIR/perf/ with --run DIR
(an existing run folder of build/scale: its meta.json gives the defaults of
threads, variants, config, steps, scaling, data and bin-dir, so the points
are the harness's), or DIR with --out DIR.

Files in the folder:
  <variant>-<N>.csv   perf's own output for the point, verbatim (-x';', -r REPS:
                      value;unit;event;stddev%;counter-runtime;%running;metric;metric-unit)
  perf.csv            every point's events in one table, comma-separated:
    variant,threads,reps   the point; reps = perf's -r
    event                  as requested (perf's own name when it differs is in perf_event)
    status                 counted | unsupported (perf printed <not supported>) |
                           not_counted (<not counted>: never scheduled) |
                           invalid (perf rejected the event name; reason in meta.json) |
                           failed (the point's command failed; no values)
    value                  mean over the reps, in `unit`; NA unless counted (never 0 for "absent")
    unit                   perf's unit (msec for task-clock, empty for counts)
    stddev_pct             perf's +- over the reps, percent of the mean (NA when reps = 1)
    runtime_ns             time the counter was enabled and running (perf's counter-runtime)
    pct_running            percent of the enabled time the counter was running (below 100
                           when the PMU multiplexed); kept for every status perf reported
    metric_value,metric_unit   perf's derived metric (CPUs utilized, /sec, ...), NA if none
    perf_event             the event name perf printed
  meta.json           options, command, child_env, host (CPU model name, vendor,
                      family and model number), perf version, perf_event_paranoid,
                      invalid events with perf's reason, per-point exit status

Hardware events (cycles, instructions, ...) print <not supported> in most VMs
and containers; they stay in perf.csv as `unsupported`. Needs perf on PATH
(or PERF=/path/to/perf) and a perf_event_paranoid that lets this user count
its own processes: the script says what to install or set when it cannot.
Exit codes: 0 every point ran, 1 runtime failure or a failed point, 2 usage.
"""

TOOL = sc.Tool('perf-stat.sh', USAGE)
DEFAULTS = {**sc.SWEEP_DEFAULTS, 'reps': '3',
            'events': 'task-clock,context-switches,cpu-migrations,page-faults,cycles,instructions,'
                      'cache-misses,branch-misses'}
COLS = ['variant', 'threads', 'reps', 'event', 'status', 'value', 'unit', 'stddev_pct',
        'runtime_ns', 'pct_running', 'metric_value', 'metric_unit', 'perf_event']
PARSE_COLS = COLS[3:]
# perf and its child: the harness's child environment; C for perf's number format
PERF_ENV = {**sc.CHILD_ENV, 'LC_ALL': 'C'}


# --- perf's output ---------------------------------------------------------------
def perf_parse(path):
    """Rows of one perf stat -x';' output: {event, status, value, ...}."""
    rows = []
    with open(path, errors='replace') as fh:
        for line in fh:
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
            na = lambda s: s if s.strip() != '' else 'NA'  # noqa: E731
            rows.append({'event': ev, 'status': st, 'value': na(val), 'unit': unit,
                         'stddev_pct': na(sd) if st == 'counted' else 'NA', 'runtime_ns': na(rt),
                         'pct_running': na(pct), 'metric_value': na(mv), 'metric_unit': na(mu),
                         'perf_event': ev})
    return rows


def perf_match(rows, want):
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


def perf_table(folder, meta):
    """perf.csv's rows: every point x every requested event, absent ones with a status."""
    want = meta['options']['events']
    invalid = meta['invalid_events']
    table = []
    for p in meta['points']:
        rows = perf_parse(os.path.join(folder, p['file'])) if p['status'] == 'ok' else []
        it = iter(perf_match(rows, [e for e in want if e not in invalid]))
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
    return table


def perf_print(meta, table):
    """A short table on stdout: one line per point, the counted events; the rest once."""
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


# --- perf present and allowed -------------------------------------------------------
def perf_stat_true(perf, event, out):
    """perf stat -e event of `true` into out: (ok, perf's stderr)."""
    try:
        r = subprocess.run([perf, 'stat', '-x;', '-e', event, '-o', out, '--', 'true'],
                           env={**os.environ, 'LC_ALL': 'C'}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, errors='replace')
    except OSError as e:
        return False, f'{perf}: {e.strerror}'
    return r.returncode == 0, r.stderr


def indent8(msg):
    return '\n'.join('    ' + x for x in msg.rstrip('\n').split('\n')[:8])


def perf_check(perf, probe):
    """perf's version and perf_event_paranoid; exits 1 with what to install or
    set when perf stat cannot count this user's processes."""
    try:
        r = subprocess.run([perf, '--version'], env={**os.environ, 'LC_ALL': 'C'},
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors='replace')
        pv, ok = r.stdout.rstrip('\n'), r.returncode == 0
    except OSError as e:
        pv, ok = str(e), False
    if not ok:
        TOOL.die(f"'{perf} --version' failed: {pv}\n"
                 "Debian's perf must match the kernel's major version: sudo apt-get install linux-perf")
    try:
        with open('/proc/sys/kernel/perf_event_paranoid') as f:
            paranoid = f.read().rstrip('\n')
    except OSError:
        paranoid = 'unknown'
    ok, msg = perf_stat_true(perf, 'task-clock', probe)
    if not ok:
        if re.search(r'paranoid|permission|not permitted|access to performance', msg, re.I):
            TOOL.die(f"""perf may not count this user's processes: kernel.perf_event_paranoid is {paranoid}.
Counting your own processes needs 2 or lower (Debian's default 3 forbids it for non-root users):
    sudo sysctl kernel.perf_event_paranoid=2          # 1 adds kernel-side counts
(persist it in /etc/sysctl.d/), or run as root. perf said:
{indent8(msg)}""")
        TOOL.die(f'perf stat does not work here. perf said:\n{indent8(msg)}')
    return pv, paranoid


def perf_events(perf, events, probe):
    """Each event alone: a name perf rejects (unknown, mistyped) would stop every
    point, so it is recorded as invalid, with perf's reason, and left out.
    Returns (the events perf takes, {invalid event: reason})."""
    ok_events, invalid = [], {}
    for e in events:
        ok, err = perf_stat_true(perf, e, probe)
        if ok:
            ok_events.append(e)
            continue
        lines = [x for x in err.split('\n') if x.strip(' ')][:2]
        reason = re.sub(' +', ' ', ''.join(x + ' ' for x in lines)).rstrip(' ')
        TOOL.say(f"event '{e}' rejected by perf, recorded as invalid: {reason}")
        invalid[e] = reason or 'rejected by perf'
    return ok_events, invalid


# --- the points ---------------------------------------------------------------------
def point_run(perf, opt, ok_events, out, v, t):
    """One point under perf stat (or bare, without events): its meta.json record."""
    f, log = f'{v}-{t}.csv', f'{v}-{t}.log'
    report = os.path.join(out, f'.perf-report-{v}-{t}.json')
    cmd = [sc.train_model(opt, v)] + sc.child_args(opt, t, report)
    perf_cmd = [perf, 'stat', '-x;', '-r', opt['reps'], '-e', ','.join(ok_events), '--']
    TOOL.say(f'{v}, {t} threads, {f}')
    with open(os.path.join(out, log), 'w') as lf:
        if ok_events:
            argv = perf_cmd[:-1] + ['-o', os.path.join(out, f), '--'] + cmd
        else:
            open(os.path.join(out, f), 'w').close()
            argv = cmd
        try:
            rc = sc.exit_code(subprocess.run(argv, env={**os.environ, **PERF_ENV}, stdout=lf,
                                             stderr=subprocess.STDOUT).returncode)
        except OSError as e:
            lf.write(f'{argv[0]}: {e.strerror}\n')
            rc = 127
    if os.path.exists(report):
        os.unlink(report)
    if rc != 0:
        TOOL.say(f'{v} {t} threads: exit code {rc} (see {os.path.join(out, log)})')
    return {'variant': v, 'threads': int(t), 'status': 'ok' if rc == 0 else 'failed', 'exit_code': rc,
            'file': f, 'log': log, 'command': perf_cmd + cmd}


def host_info(bindir):
    """The machine from <bin-dir>/topo (bench/topo.c, the same JSON as scale's
    meta.json host.topology)."""
    try:
        topo = json.loads(subprocess.run([os.path.join(bindir, 'topo')], capture_output=True, text=True,
                                         check=True).stdout)
    except (OSError, subprocess.CalledProcessError, ValueError) as e:
        TOOL.say(f'warning: no topology: {bindir}/topo: {e}')
        topo = None
    t = topo or {}
    return {'hostname': socket.gethostname(), 'cpu_model': t.get('cpu_model'),
            'cpu_vendor': t.get('cpu_vendor'), 'cpu_family': t.get('cpu_family'),
            'cpu_model_number': t.get('cpu_model_number'),
            'online_cpus': os.cpu_count(), 'affinity_cpus': len(os.sched_getaffinity(0)),
            'usable_cpus': t.get('usable_cpus'), 'kernel': platform.release(), 'topology': topo}


def parse_only(args):
    """--parse FILE: print perf.csv's event columns for one perf -x';' output, exit 0."""
    if not args or not os.path.isfile(args[0]):
        TOOL.usage_err("--parse needs a file of perf stat -x';' output")
    sys.stdout.write(sc.csv_text(PARSE_COLS, perf_parse(args[0])))
    sys.exit(0)


def perf_stat_main(argv):
    opt, run_dir, out = sc.sweep_args(TOOL, argv, DEFAULTS, {'--parse': parse_only})
    if run_dir:
        out = os.path.join(run_dir, 'perf')
    threads, variants = sc.sweep_points(TOOL, opt)
    reps = sc.count_arg(TOOL, opt, 'reps', 1, 1000, 'want 1..1000')
    sc.sweep_checks(TOOL, opt)
    if not opt['events']:
        TOOL.usage_err('--events is empty')
    events = opt['events'].split(',')
    sc.sweep_binaries(TOOL, opt, variants)

    perf = sc.find_tool(TOOL, 'PERF', 'perf', "Install Debian's linux-perf:\n    sudo apt-get install linux-perf")
    fd, probe = tempfile.mkstemp()
    os.close(fd)
    try:
        pv, paranoid = perf_check(perf, probe)
        ok_events, invalid = perf_events(perf, events, probe)
    finally:
        os.unlink(probe)

    out = out or sc.out_default('perf')
    sc.out_make(TOOL, out, 'perf.csv')
    start = sc.utc_now()
    points = [point_run(perf, opt, ok_events, out, v, t) for t in threads for v in variants]
    end = sc.utc_now()
    meta = {
        'tool': 'perf-stat', 'format': 1, 'start_time': start, 'end_time': end,
        'harness_run': run_dir or None,
        'options': {'threads': [int(t) for t in threads], 'variants': variants,
                    'config': opt['config'], 'steps': int(opt['steps']), 'scaling': opt['scaling'],
                    'data': opt['data'] or None, 'reps': reps, 'events': events, 'bin-dir': opt['bin-dir']},
        'child_env': PERF_ENV,
        'perf_version': pv, 'perf_event_paranoid': paranoid, 'uid': os.getuid(),
        'invalid_events': invalid,
        'host': host_info(opt['bin-dir']),
        'points': points,
    }
    write_atomic(os.path.join(out, 'meta.json'), ijson.dumps(meta, indent=1) + '\n')
    table = perf_table(out, meta)
    write_atomic(os.path.join(out, 'perf.csv'), sc.csv_text(COLS, table))
    perf_print(meta, table)
    print(f"{TOOL.name}: wrote {out}/perf.csv ({len(points)} points, {reps} reps each)", flush=True)
    failed = sum(p['status'] != 'ok' for p in points)
    if failed:
        TOOL.say(f'{failed} point(s) failed')
        return 1
    return 0


if __name__ == '__main__':
    sc.main(perf_stat_main)
