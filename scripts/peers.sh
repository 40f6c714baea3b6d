#!/usr/bin/env bash
# peers.sh - cllm against its PyTorch peer (bench/peers/torch_gpt.py) on the
# same model configs and thread counts, in one table and one plot.
#
#   scripts/peers.sh [--configs S,G,M] [--threads 1,2] [--reps 3]
#                    [--steps S=20:3,G=5:1,M=3:1] [--policies PASSIVE,ACTIVE]
#                    [--ceilings FILE | --peak GFLOPS] [--bin-dir build]
#                    [--python /usr/bin/python3] [--timeout 900] [--out DIR]
#   scripts/peers.sh --rebuild DIR [--ceilings FILE | --peak GFLOPS]
#       rewrite DIR's peers.csv, peers.md, meta.json and plot from its runs.jsonl
#       and meta.json (the options, machine and load of the runs), running nothing
#
# For every config x thread count N x repetition it runs, interleaved (the
# order reverses on odd repetitions so slow drift falls on neither side):
#   cllm   <bin-dir>/lockfree/train_model and <bin-dir>/locked/train_model
#          --config C --threads N --steps K+1 --quiet --report ...  (its first step is
#          its warm-up, left out of its tokens_per_s)
#   torch  python3 bench/peers/torch_gpt.py --config C --threads N --steps K --warmup W
#          once per OMP_WAIT_POLICY in --policies, with OMP_NUM_THREADS=N and
#          OPENBLAS_NUM_THREADS=N (Debian's torch calls OpenBLAS' pthread build,
#          which otherwise starts a thread per CPU of its own); the policy with
#          the better median tokens/s is torch's figure, and which one it was is kept.
# --steps gives K (timed steps) and W (torch's warm-up steps) per config.
#
# Weak scaling: cllm at N threads trains N x B sequences per step (B per
# worker); torch trains B sequences per step on N intra-op threads. The two
# are compared on tokens/s, not ms/step.
#
# The fraction-of-peak column divides by the fp32 FMA peak of the machine the
# runs ran on, at the same thread count, measured: by default by
# <bin-dir>/micro/ceilings (the widest FMA kernel the CPU has, best of its
# trials over 2 s; built by make all) at each thread count just before the
# runs, kept as the run folder's ceilings.json. --ceilings FILE takes the
# peaks from a ceilings.json of that machine instead (make micro writes one);
# a thread count missing there is the 1-thread peak x threads, said so.
# --peak GFLOPS gives a per-core figure x threads, labelled as given, not
# measured. With --rebuild the default is DIR/ceilings.json, else a
# measurement now, on this machine, labelled with when and where it was made.
# A multi-thread peak under 0.75 x threads x the 1-thread one (other load held
# a CPU) is flagged in the notes.
#
# Writes results/<UTC YYYYmmddTHHMMSSZ>-<host>-peers/ (or --out DIR):
#   runs.jsonl  one line per run: config, threads, impl, variant, rep, order, status,
#               reason, wall_s, user_s, sys_s, cpu_util, tokens_per_s, ms_per_step_median,
#               tokens_per_step, flops_per_step, load1 (1-minute load average at its
#               start), env, command, result (torch's JSON line / cllm's report)
#   peers.csv   one row per config x threads x impl x variant (variant: lockfree, locked,
#               or omp-PASSIVE / omp-ACTIVE for torch), over the ok reps:
#                 config,threads,impl,variant,reps_ok,reps,tokens_per_step,
#                 tokens_per_s_median,tokens_per_s_min,tokens_per_s_max,ms_per_step_median,
#                 flops_per_step,gflops_per_s (flops_per_step x tokens/s / tokens_per_step),
#                 peak_gflops (the measured FMA peak at that thread count),peak_fraction,cpu_util_median
#                 ((user+sys)/wall of the whole process), ratio_cllm_over_torch (cllm rows:
#                 tokens/s / torch's best policy's), chosen (1: cllm rows and torch's best policy)
#   peers.md    the table, the machine, its load while the runs ran, the notes
#   meta.json   options, peak per thread count and its source, host (CPU model, vendor,
#               family, model number), torch version, cllm build
#   ceilings.json  build/micro/ceilings' measurement, when it was made for this run
# and plots/<same name>/peers.png, peers.svg (tokens/s against threads, one
# panel per config) with peers.dat and peers.gp to redraw them.
# Exit codes: 0 every run ok, 1 a run failed or a runtime error, 2 usage, 130 interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}     # runs this script's driver; --python runs torch_gpt.py
for x in "$@"; do
    [[ $x == -h || $x == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0; }
done
[[ -x $PY ]] || { echo "peers.sh: $PY is missing: sudo apt-get install python3" >&2; exit 1; }

exec "$PY" - "$@" <<'PYEOF'
import argparse, datetime, json, os, shutil, signal, socket, statistics, subprocess, sys
import time

me = 'peers.sh'
def die(msg, code=1):
    print(f'{me}: {msg}', file=sys.stderr)
    sys.exit(code)

class Parser(argparse.ArgumentParser):
    def error(self, message):
        die(f'{message} (see scripts/peers.sh --help)', 2)

ap = Parser(prog='scripts/peers.sh', add_help=False)
ap.add_argument('--configs', default='S,G,M')
ap.add_argument('--threads', default='1,2')
ap.add_argument('--reps', type=int, default=3)
ap.add_argument('--steps', default='S=20:3,G=5:1,M=3:1')
ap.add_argument('--policies', default='PASSIVE,ACTIVE')
ap.add_argument('--peak', default='')
ap.add_argument('--ceilings', default='')
ap.add_argument('--rebuild', default='')
ap.add_argument('--bin-dir', default='build')
ap.add_argument('--python', default='/usr/bin/python3')
ap.add_argument('--timeout', type=float, default=900)
ap.add_argument('--out', default='')
a = ap.parse_args(sys.argv[1:])
rebuild = a.rebuild
if rebuild:
    # the runs' own options come from DIR/meta.json: refuse others
    own = {'--configs', '--threads', '--reps', '--steps', '--policies', '--python', '--timeout', '--out'}
    bad = [x.split('=')[0] for x in sys.argv[1:] if x.split('=')[0] in own]
    if bad:
        die(f"--rebuild takes the runs' options from {rebuild}/meta.json; {', '.join(bad)} cannot be given with it", 2)
    try:
        old_meta = json.load(open(os.path.join(rebuild, 'meta.json')))
        old_recs = [json.loads(x) for x in open(os.path.join(rebuild, 'runs.jsonl')) if x.strip()]
        o = old_meta['options']
        a.configs, a.threads, a.reps = ','.join(o['configs']), ','.join(map(str, o['threads'])), o['reps']
        a.policies = ','.join(o['policies'])
        a.steps = ','.join(f"{c}={v['timed']}:{v['warmup']}" for c, v in o['steps'].items())
    except (OSError, ValueError, KeyError, TypeError) as e:
        die(f'--rebuild {rebuild}: cannot read the runs from its meta.json and runs.jsonl: {e}')
if a.peak and a.ceilings:
    die('--peak and --ceilings exclude each other', 2)

CONFIGS = ['tiny', 'seed', 'S', 'G', 'M', 'bench']          # the ones torch_gpt.py knows
configs = [c for c in a.configs.split(',') if c]
for c in configs:
    if c not in CONFIGS:
        die(f"--configs: unknown config '{c}' ({', '.join(CONFIGS)})", 2)
try:
    threads = [int(t) for t in a.threads.split(',')]
except ValueError:
    die(f"--threads '{a.threads}': want a list like 1,2", 2)
if not threads or any(t < 1 or t > 1024 for t in threads) or len(set(threads)) != len(threads):
    die(f"--threads '{a.threads}': thread counts 1..1024, no repeats", 2)
if not 1 <= a.reps <= 100:
    die(f'--reps {a.reps}: want 1..100', 2)
steps = {'S': (20, 3), 'G': (5, 1), 'M': (3, 1)}
for item in a.steps.split(','):
    try:
        c, kw = item.split('=')
        k, w = (kw.split(':') + ['1'])[:2]
        steps[c] = (int(k), int(w))
        assert steps[c][0] >= 1 and steps[c][1] >= 0
    except (ValueError, AssertionError):
        die(f"--steps: '{item}' is not CONFIG=STEPS[:WARMUP]", 2)
policies = [p for p in a.policies.split(',') if p]
if not policies or any(p not in ('PASSIVE', 'ACTIVE') for p in policies):
    die(f"--policies '{a.policies}': PASSIVE and/or ACTIVE", 2)
if a.timeout <= 0:
    die('--timeout must be positive', 2)

# --- what it needs ---------------------------------------------------------------
peer = 'bench/peers/torch_gpt.py'
if not rebuild:
    for v in ('lockfree', 'locked'):
        b = os.path.join(a.bin_dir, v, 'train_model')
        if not os.access(b, os.X_OK):
            die(f'{b} is missing: run make all')
    if not os.path.exists(peer):
        die(f'{peer} is missing')
    r = subprocess.run([a.python, '-c', 'import torch; print(torch.__version__)'], capture_output=True, text=True)
    if r.returncode != 0:
        die(f'{a.python} cannot import torch: sudo apt-get install python3-torch (or --python PATH)')
    torch_version = r.stdout.strip()
gnuplot = shutil.which('gnuplot')
if not gnuplot:
    die('gnuplot not found: sudo apt-get install gnuplot-nox')
peak_given = None
if a.peak:
    try:
        peak_given = float(a.peak)
        assert peak_given > 0
    except (ValueError, AssertionError):
        die(f"--peak '{a.peak}': a positive number of GFLOP/s per core", 2)
ceil_bin = os.path.join(a.bin_dir, 'micro', 'ceilings')
if not a.peak and not a.ceilings and not os.access(ceil_bin, os.X_OK) and not (
        rebuild and os.path.exists(os.path.join(rebuild, 'ceilings.json'))):
    die(f'{ceil_bin} is missing (it measures the FMA peak): run make all, or give --ceilings FILE')

def cpuinfo():
    """This machine, from <bin-dir>/topo (bench/topo.c: hwloc's CPUModel, CPUVendor,
    family and model numbers, and /proc/cpuinfo's "cpu MHz"); None where it has none."""
    h = {'hostname': socket.gethostname(), 'cpu_model': None, 'cpu_mhz': None, 'cpu_vendor': None,
         'cpu_family': None, 'cpu_model_number': None, 'online_cpus': os.cpu_count(),
         'affinity_cpus': len(os.sched_getaffinity(0))}
    try:
        r = subprocess.run([os.path.join(a.bin_dir, 'topo')], capture_output=True, text=True, check=True)
        t = json.loads(r.stdout)
    except (OSError, subprocess.CalledProcessError, ValueError) as e:
        print(f'{me}: warning: no CPU model: {a.bin_dir}/topo: {e}', file=sys.stderr)
        return h
    h.update({'cpu_model': t.get('cpu_model'), 'cpu_mhz': t.get('cpuinfo_mhz'),
              'cpu_vendor': t.get('cpu_vendor'), 'cpu_family': t.get('cpu_family'),
              'cpu_model_number': t.get('cpu_model_number'), 'usable_cpus': t.get('usable_cpus')})
    return h

def cpu_name(h):
    ident = ', '.join(f'{k} {h[v]}' for k, v in (('family', 'cpu_family'), ('model', 'cpu_model_number'))
                      if h.get(v) is not None)
    return f"{h.get('cpu_model') or 'unknown CPU'}" + (f" ({h.get('cpu_vendor')}, {ident})" if ident else '')

def peaks_from(path, when):
    """GFLOP/s per thread count from a ceilings.json, and a sentence saying where it came from."""
    try:
        c = json.load(open(path))
        rows = {int(r['threads']): float(r['best_gflops']) for r in c['fma']}
    except (OSError, ValueError, KeyError, TypeError) as e:
        die(f'{path}: not a ceilings.json of build/micro/ceilings: {e}')
    if not all(t in rows for t in threads) and 1 not in rows:
        die(f'{path}: no FMA peak at 1 thread or at each of {threads}')
    peaks = {t: rows[t] if t in rows else rows[1] * t for t in threads}
    scaled = [t for t in threads if t not in rows]
    trials = sorted({int(r.get('trials', 0)) for r in c['fma']})
    src = (f"build/micro/ceilings' {c.get('isa')} FMA kernel, best of {'/'.join(map(str, trials))} trials, "
           f"measured {c.get('time_utc')} on `{c.get('hostname')}`: {cpu_name(c)}, "
           f"1-minute load {c.get('loadavg', ['?'])[0]}, {when} (`{path}`)")
    if scaled:
        src += f"; at {', '.join(map(str, scaled))} threads: the 1-thread peak x threads"
    ncpu_c = int(c.get('affinity_cpus') or c.get('online_cpus') or 1)
    low = [t for t in threads if t > 1 and t in rows and 1 in rows and rows[t] < 0.75 * min(t, ncpu_c) * rows[1]]
    if low:         # best of trials, and still short of N cores' worth: other load held a CPU
        src += (f"; WARNING: at {', '.join(map(str, low))} threads the measured peak is under 0.75 x "
                "min(threads, CPUs) x the 1-thread peak, so other load likely held a CPU while it was measured "
                "and the % of peak there reads high")
    if rebuild:     # measured apart from the runs: say how far the two machines are known to match
        keys = [k for k in ('cpu_model', 'cpu_vendor', 'cpu_family', 'cpu_model_number') if host.get(k) is not None]
        same = all(host.get(k) == c.get(k) for k in keys)
        src += (f"; not during the runs ({old_meta.get('start_time')} to {old_meta.get('end_time')}), whose "
                f"meta.json records {', '.join(f'{k} {host[k]!r}' for k in keys) or 'no CPU'}, "
                + ('which this measurement matches' if same and keys else 'which this measurement does NOT match'))
    return peaks, src

# --- the folders -------------------------------------------------------------------
now = datetime.datetime.now(datetime.timezone.utc)
if rebuild:
    out = rebuild
    utc = datetime.datetime.strptime(old_meta['start_time'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    host, torch_version = old_meta.get('host') or {}, old_meta.get('torch', '?')
else:
    utc = now
    out = a.out or os.path.join('results', f"{utc.strftime('%Y%m%dT%H%M%SZ')}-{socket.gethostname()}-peers")
    host = cpuinfo()
    if os.path.exists(os.path.join(out, 'runs.jsonl')):
        die(f'{out} already holds a runs.jsonl: choose another folder')
plots = os.path.join('plots', os.path.basename(os.path.normpath(out)))
for d in (out, plots) + (() if rebuild else (os.path.join(out, 'logs'),)):
    try:
        os.makedirs(d, exist_ok=True)
    except OSError as e:
        die(f'cannot create {d}: {e.strerror}')
model, mhz = host.get('cpu_model'), host.get('cpu_mhz')

# --- the peak the fraction-of-peak column divides by ----------------------------------
if peak_given is not None:
    peaks = {t: peak_given * t for t in threads}
    peak_src = f'given with --peak: {peak_given:g} GFLOP/s per core x threads; not measured'
elif a.ceilings:
    peaks, peak_src = peaks_from(a.ceilings, 'given with --ceilings')
elif rebuild and os.path.exists(os.path.join(out, 'ceilings.json')):
    peaks, peak_src = peaks_from(os.path.join(out, 'ceilings.json'), 'the ceilings.json of this run folder')
else:
    cpath = os.path.join(out, 'ceilings.json')
    cmd = [ceil_bin, '--threads', ','.join(map(str, threads)), '--seconds', '2', '--out', cpath + '.tmp']
    print(f'{me}: measuring the FMA peak: {" ".join(cmd)}', file=sys.stderr)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        die(f'{ceil_bin} failed (exit {r.returncode}): {r.stderr.strip()[-300:]}')
    os.replace(cpath + '.tmp', cpath)
    peaks, peak_src = peaks_from(cpath, 'after the runs, on this machine, not during them' if rebuild
                                 else 'on this machine just before the runs')

# --- the runs ------------------------------------------------------------------------
kinds = []                                  # (impl, variant), cllm and torch alternating
cl, tp = ['lockfree', 'locked'], [f'omp-{p}' for p in policies]
for i in range(max(len(cl), len(tp))):
    if i < len(cl): kinds.append(('cllm', cl[i]))
    if i < len(tp): kinds.append(('torch', tp[i]))
plan = []
for c in configs:
    for rep in range(a.reps):
        ts = threads[rep % len(threads):] + threads[:rep % len(threads)]
        for t in ts:
            for impl, v in (kinds if rep % 2 == 0 else kinds[::-1]):
                plan.append((c, t, impl, v, rep))

child = None
def on_signal(sig, frame):
    if child and child.poll() is None:
        child.kill()
    raise KeyboardInterrupt
signal.signal(signal.SIGTERM, on_signal)

def run_one(c, t, impl, v, rep, order):
    global child
    k, w = steps.get(c, (10, 1))
    tag = f'{c}-{impl}-{v}-{t}-{rep}'
    log = os.path.join(out, 'logs', tag + '.log')
    env = {x: y for x, y in os.environ.items()
           if x not in ('OMP_NUM_THREADS', 'OMP_WAIT_POLICY', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')}
    setenv = {}
    if impl == 'cllm':
        rep_path = os.path.join(out, f'.report-{tag}.json')
        cmd = [os.path.join(a.bin_dir, v, 'train_model'), '--config', c, '--threads', str(t),
               '--steps', str(k + 1), '--quiet', '--report', rep_path]
    else:
        setenv = {'OMP_NUM_THREADS': str(t), 'OPENBLAS_NUM_THREADS': str(t),
                  'OMP_WAIT_POLICY': v.split('-', 1)[1]}
        cmd = [a.python, peer, '--config', c, '--threads', str(t), '--steps', str(k), '--warmup', str(w)]
    env.update(setenv)
    rec = {'config': c, 'threads': t, 'impl': impl, 'variant': v, 'rep': rep, 'order': order,
           'status': 'failed', 'reason': None, 'start_time': datetime.datetime.now(datetime.timezone.utc)
           .strftime('%Y-%m-%dT%H:%M:%SZ'), 'load1': os.getloadavg()[0], 'env': setenv, 'command': cmd}
    t0 = time.monotonic()
    with open(log, 'w') as lf:
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE if impl == 'torch' else lf, stderr=lf, env=env)
        outtxt = b''
        if impl == 'torch':
            import threading
            buf = []
            th = threading.Thread(target=lambda: buf.append(child.stdout.read()))
            th.start()
        timed_out = False
        while True:
            pid, status, ru = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > a.timeout:
                child.kill(); timed_out = True
                pid, status, ru = os.wait4(child.pid, 0)
                break
            time.sleep(0.005)
        child.returncode = os.waitstatus_to_exitcode(status)
        if impl == 'torch':
            th.join(); outtxt = buf[0] if buf else b''
            lf.write(outtxt.decode(errors='replace'))
    rec['wall_s'] = time.monotonic() - t0
    rec['user_s'], rec['sys_s'] = ru.ru_utime, ru.ru_stime
    rec['cpu_util'] = (ru.ru_utime + ru.ru_stime) / rec['wall_s']
    res = None
    if timed_out:
        rec['reason'] = f'killed after {a.timeout:g} s (--timeout)'
    elif child.returncode != 0:
        rec['reason'] = f'exit code {child.returncode}'
    elif impl == 'cllm':
        try:
            rp = json.load(open(rep_path))
            res = {x: rp.get(x) for x in ('variant', 'threads', 'config', 'params', 'steps', 'warmup_steps',
                                          'tokens_per_step', 'tokens_per_s', 'ms_per_step', 'flops_per_step',
                                          'wall_s', 'timed_wall_s', 'val_loss', 'build')}
            res['loss_last'] = rp['loss'][-1]
            rec.update(status='ok', tokens_per_s=rp['tokens_per_s'], ms_per_step_median=rp['ms_per_step']['median'],
                       tokens_per_step=rp['tokens_per_step'], flops_per_step=rp['flops_per_step'],
                       T=rp['config']['T'])
        except (OSError, ValueError, KeyError, TypeError) as e:
            rec['reason'] = f'report unreadable: {e}'
    else:
        try:
            line = [x for x in outtxt.decode().splitlines() if x.startswith('{')][-1]
            res = json.loads(line)
            rec.update(status='ok', tokens_per_s=res['tokens_per_s'], ms_per_step_median=res['ms_per_step']['median'],
                       tokens_per_step=res['batch'] * res['T'], flops_per_step=res['flops_per_step'], T=res['T'])
        except (IndexError, ValueError, KeyError) as e:
            rec['reason'] = f'no JSON line from torch_gpt.py: {e}'
    if impl == 'cllm' and os.path.exists(rep_path):
        os.remove(rep_path)
    rec['result'] = res
    if rec['status'] == 'ok':
        os.remove(log)
    else:
        rec['log'] = os.path.relpath(log, out)
    child = None
    return rec

if rebuild:
    recs, interrupted = old_recs, old_meta.get('status') == 'interrupted'
    uptime_before, uptime_after = old_meta['load']['before'], old_meta['load']['after']
else:
    uptime_before = open('/proc/loadavg').read().split()[:3]
    recs, interrupted = [], False
    t_start = time.monotonic()
    try:
        with open(os.path.join(out, 'runs.jsonl'), 'a') as jf:
            for i, (c, t, impl, v, rep) in enumerate(plan):
                r = run_one(c, t, impl, v, rep, i)
                recs.append(r)
                jf.write(json.dumps(r) + '\n'); jf.flush(); os.fsync(jf.fileno())
                el = time.monotonic() - t_start
                # MFU: model FLOP/s over the FMA peak at that thread count (the Peak note)
                what = (f"{r['tokens_per_s']:.0f} tokens/s, MFU "
                        f"{r['flops_per_step'] * r['tokens_per_s'] / r['tokens_per_step'] / 1e9 / peaks[t]:.1%}, "
                        f"cpu {r['cpu_util']:.2f}") if r['status'] == 'ok' else r['reason']
                print(f'[{i + 1}/{len(plan)}] {c} {t} threads {impl} {v} rep {rep}: {what} '
                      f'(load {r["load1"]:.2f}, {el:.0f} s)', file=sys.stderr)
    except KeyboardInterrupt:
        if child and child.poll() is None:
            child.kill()
        interrupted = True
        print(f'{me}: interrupted; writing what completed', file=sys.stderr)
    uptime_after = open('/proc/loadavg').read().split()[:3]
    if not os.listdir(os.path.join(out, 'logs')):   # logs are kept for failed runs only
        os.rmdir(os.path.join(out, 'logs'))

# --- the table ------------------------------------------------------------------------------
def med(xs):
    return statistics.median(xs) if xs else None
rows = []
for c in configs:
    for t in threads:
        group = []
        for impl, v in kinds:
            ok = [r for r in recs if (r['config'], r['threads'], r['impl'], r['variant']) == (c, t, impl, v)
                  and r['status'] == 'ok']
            n = sum(1 for r in recs if (r['config'], r['threads'], r['impl'], r['variant']) == (c, t, impl, v))
            tps = [r['tokens_per_s'] for r in ok]
            row = {'config': c, 'threads': t, 'impl': impl, 'variant': v, 'reps_ok': len(ok), 'reps': n,
                   'tokens_per_step': ok[0]['tokens_per_step'] if ok else None,
                   'seqs_per_step': ok[0]['tokens_per_step'] // ok[0]['T'] if ok else None,
                   'tokens_per_s_median': med(tps), 'tokens_per_s_min': min(tps) if tps else None,
                   'tokens_per_s_max': max(tps) if tps else None,
                   'ms_per_step_median': med([r['ms_per_step_median'] for r in ok]),
                   'flops_per_step': ok[0]['flops_per_step'] if ok else None,
                   'cpu_util_median': med([r['cpu_util'] for r in ok]),
                   'peak_gflops': peaks[t]}
            if ok:
                row['gflops_per_s'] = row['flops_per_step'] * row['tokens_per_s_median'] / row['tokens_per_step'] / 1e9
                row['peak_fraction'] = row['gflops_per_s'] / row['peak_gflops']
            group.append(row)
        torch_rows = [r for r in group if r['impl'] == 'torch' and r['tokens_per_s_median']]
        best = max(torch_rows, key=lambda r: r['tokens_per_s_median']) if torch_rows else None
        for r in group:
            r['chosen'] = 1 if r['impl'] == 'cllm' or r is best else 0
            if r['impl'] == 'cllm' and best and r['tokens_per_s_median']:
                r['ratio_cllm_over_torch'] = r['tokens_per_s_median'] / best['tokens_per_s_median']
        rows += group

COLS = ['config', 'threads', 'impl', 'variant', 'reps_ok', 'reps', 'tokens_per_step', 'tokens_per_s_median',
        'tokens_per_s_min', 'tokens_per_s_max', 'ms_per_step_median', 'flops_per_step', 'gflops_per_s',
        'peak_gflops', 'peak_fraction', 'cpu_util_median', 'ratio_cllm_over_torch', 'chosen']
def cell(x):
    if x is None:
        return 'NA'
    if isinstance(x, float):
        return f'{x:.6g}'
    return str(x)
def write_atomic(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)
lines = [','.join(COLS)] + [','.join(cell(r.get(k)) for k in COLS) for r in rows]
write_atomic(os.path.join(out, 'peers.csv'), '\n'.join(lines) + '\n')

loads = [r['load1'] for r in recs]
build = next((r['result'].get('build') for r in recs if r['impl'] == 'cllm' and r['result']), None) or {}
ncpu = host.get('affinity_cpus')
peak_list = ', '.join(f'{t} thread' + ('s' if t > 1 else '') + f': {peaks[t]:.1f} GFLOP/s' for t in threads)
def f0(x): return '—' if x is None else f'{x:,.0f}'
def f1(x): return '—' if x is None else f'{x:.1f}'
def f2(x): return '—' if x is None else f'{x:.2f}'
md = [f'# cllm against PyTorch: {", ".join(configs)} at {", ".join(map(str, threads))} threads', '',
      f'Run `{os.path.basename(os.path.normpath(out))}`, {utc.strftime("%Y-%m-%d %H:%M UTC")}, host '
      f'`{host.get("hostname")}`: {cpu_name(host)}, {ncpu} CPUs'
      f'{f", /proc/cpuinfo says {mhz:.0f} MHz" if mhz else ""}; torch {torch_version}; '
      f'cllm `{build.get("git", "?")}` ({build.get("compiler", "?")}, {build.get("cflags", "?")}, '
      f'{build.get("blas", "?")}).', '',
      f'Machine load (1-minute load average) while the runs ran: {f2(min(loads) if loads else None)} to '
      f'{f2(max(loads) if loads else None)}, median {f2(med(loads))} (sampled at each run\'s start; '
      f'{" ".join(uptime_before)} before, {" ".join(uptime_after)} after); other users\' load takes '
      f'cores from both sides alike, the runs being interleaved.', '',
      f'{a.reps} repetitions of each row, interleaved; tokens/s and ms/step are medians over them '
      '(range of tokens/s in brackets).' + (' **Interrupted: incomplete.**' if interrupted else ''), '',
      '| config | threads | impl | setting | seqs/step | tokens/s (min–max) | ms/step | cllm/torch | '
      'GFLOP/step | GFLOP/s | MFU (% of peak) | CPU util |',
      '|---|---:|---|---|---:|---|---:|---:|---:|---:|---:|---:|']
order = {(c, t): i for i, (c, t) in enumerate((c, t) for c in configs for t in threads)}
for r in sorted(rows, key=lambda r: (order[(r['config'], r['threads'])], r['impl'] == 'torch')):
    if not r['chosen']:
        continue
    if r['impl'] == 'torch':
        others = [o for o in rows if o['config'] == r['config'] and o['threads'] == r['threads']
                  and o['impl'] == 'torch' and o is not r]
        setting = (f'{r["threads"]} intra-op, OMP_WAIT_POLICY={r["variant"][4:]}' +
                   ''.join(f' ({o["variant"][4:]}: {f0(o["tokens_per_s_median"])} tok/s)' for o in others))
    else:
        setting = r['variant']
    seqs = r['seqs_per_step']
    rng = (f'{f0(r["tokens_per_s_median"])} ({f0(r["tokens_per_s_min"])}–{f0(r["tokens_per_s_max"])})'
           if r['tokens_per_s_median'] else f'failed ({r["reps_ok"]}/{r["reps"]} ok)')
    md.append(f'| {r["config"]} | {r["threads"]} | {r["impl"]} | {setting} | {seqs or "—"} | {rng} | '
              f'{f1(r["ms_per_step_median"])} | {f2(r.get("ratio_cllm_over_torch"))} | '
              f'{f2(r["flops_per_step"] / 1e9 if r["flops_per_step"] else None)} | {f1(r.get("gflops_per_s"))} | '
              f'{f1(100 * r["peak_fraction"]) if r.get("peak_fraction") is not None else "—"} | '
              f'{f2(r["cpu_util_median"])} |')
md += ['', 'Notes', '',
       '- **Weak scaling.** cllm at N threads trains N×B sequences per step (B per worker), torch trains B '
       'sequences per step with N intra-op threads; so ms/step is not comparable across the two at N > 1 and '
       'the comparison is tokens/s. cllm/torch = cllm tokens/s ÷ torch tokens/s (torch\'s better policy).',
       '- **tokens/s.** cllm: its report\'s `tokens_per_s`, training tokens of the steps after its one warm-up '
       'step over their wall time; torch: B·T ÷ the median step time after its warm-up steps '
       f'({", ".join(f"{c}: {steps.get(c, (10, 1))[1]}" for c in configs)}). Timed steps per run: '
       f'{", ".join(f"{c}: {steps.get(c, (10, 1))[0]}" for c in configs)}. ms/step: the median step time '
       '(cllm\'s includes its warm-up step in the median).',
       '- **FLOPs/step**: model FLOPs, 6·(sequences·T)·(L·(4C²+2CF) + VC) + 12·L·(sequences·T)·T·C '
       '(matmuls and attention forward+backward; no LayerNorm, softmax, GELU or AdamW), the same formula in '
       'cllm\'s report and torch_gpt.py. GFLOP/s = FLOPs/step × tokens/s ÷ tokens/step.',
       f'- **Peak** (the % of peak column): the fp32 FMA peak at the same thread count, '
       f'{peak_list}; '
       f'source: {peak_src}.'
       + (f' /proc/cpuinfo reports {mhz:.0f} MHz: the 1-thread peak is {peaks[1] / mhz * 1e3:.0f} FLOP per '
          'reported cycle (a VM\'s reported clock need not be the one it runs at).' if mhz and 1 in peaks else ''),
       '- **torch threads**: torch.set_num_threads(N) with OMP_NUM_THREADS=N and OPENBLAS_NUM_THREADS=N: '
       'Debian\'s torch calls the pthread OpenBLAS, which would otherwise start threads of its own and use '
       'both CPUs at "1 thread". Both OMP_WAIT_POLICY values were run; the table keeps the better, the other '
       'is in brackets. CPU util = (user+sys)/wall of the whole process (start-up included).',
       f'- Files: `peers.csv` (every variant, both policies), `runs.jsonl` (every run), plot '
       f'`{plots}/peers.png` / `.svg`.']
write_atomic(os.path.join(out, 'peers.md'), '\n'.join(md) + '\n')

if rebuild:     # the runs' record as it was, with the peak replaced and the rebuild noted
    meta = {k: v for k, v in old_meta.items() if k not in ('peak_gflops_per_core', 'peak_source')}
    meta.update(format=2, rebuilt={'time': now.strftime('%Y-%m-%dT%H:%M:%SZ'), 'argv': sys.argv[1:]})
else:
    meta = {'tool': 'peers', 'format': 2, 'start_time': utc.strftime('%Y-%m-%dT%H:%M:%SZ'),
            'end_time': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
            'status': 'interrupted' if interrupted else 'complete', 'argv': sys.argv[1:],
            'options': {'configs': configs, 'threads': threads, 'reps': a.reps,
                        'steps': {c: {'timed': steps.get(c, (10, 1))[0], 'warmup': steps.get(c, (10, 1))[1]} for c in configs},
                        'policies': policies, 'bin-dir': a.bin_dir, 'python': a.python, 'timeout': a.timeout},
            'torch': torch_version, 'cllm_build': build, 'host': host,
            'load': {'before': uptime_before, 'after': uptime_after, 'per_run_min': min(loads) if loads else None,
                     'per_run_median': med(loads), 'per_run_max': max(loads) if loads else None},
            'runs': len(recs), 'runs_ok': sum(r['status'] == 'ok' for r in recs)}
meta.update(peak_gflops={str(t): peaks[t] for t in threads}, peak_source=peak_src)
write_atomic(os.path.join(out, 'meta.json'), json.dumps(meta, indent=1) + '\n')

# --- the plot ---------------------------------------------------------------------------------
series = [('cllm', 'lockfree', 'cllm lock-free'), ('cllm', 'locked', 'cllm locked'), ('torch', None, 'PyTorch (best policy)')]
dat = ['# config-blocks (index i = i-th config); columns: threads, then median min max tokens/s of '
       + ', '.join(s[2] for s in series)]
for c in configs:
    dat.append(f'# {c}')
    for t in threads:
        vals = [str(t)]
        for impl, v, _ in series:
            r = next((r for r in rows if r['config'] == c and r['threads'] == t and r['impl'] == impl and r['chosen']
                      and (v is None or r['variant'] == v)), None)
            vals += [cell(r and r['tokens_per_s_median']), cell(r and r['tokens_per_s_min']), cell(r and r['tokens_per_s_max'])]
        dat.append(' '.join(vals))
    dat += ['', '']
write_atomic(os.path.join(plots, 'peers.dat'), '\n'.join(dat) + '\n')
W = max(1, len(configs))
gp = [f'# gnuplot script: cd {plots} && gnuplot peers.gp', 'set datafile missing "NA"',
      'set key below', 'set grid', f'set xtics ({", ".join(str(t) for t in threads)})',
      f'set xrange [{min(threads) - 0.5}:{max(threads) + 0.5}]', 'set yrange [0:*]',
      'set xlabel "threads"', 'set ylabel "tokens/s"']
PW = max(600, 400 * W)
for term, ext in (('pngcairo size %d,480 font ",10"' % PW, 'png'), ('svg size %d,480 dynamic font ",10"' % PW, 'svg')):
    gp += [f'set terminal {term}', f"set output 'peers.{ext}'",
           f'set multiplot layout 1,{W} title "cllm vs PyTorch: tokens/s, median of the reps, bars min-max\\n'
           f'(cllm at N threads: N x B sequences/step; PyTorch: B sequences/step on N intra-op threads)"']
    for i, c in enumerate(configs):
        gp.append(f'set title "config {c}"')
        gp.append(f"plot 'peers.dat' index {i} using 1:2:3:4 with yerrorlines lw 2 pt 7 title 'cllm lock-free', "
                  f"'' index {i} using 1:5:6:7 with yerrorlines lw 2 pt 5 title 'cllm locked', "
                  f"'' index {i} using 1:8:9:10 with yerrorlines lw 2 pt 9 title 'PyTorch'")
    gp += ['unset multiplot', 'unset output']
write_atomic(os.path.join(plots, 'peers.gp'), '\n'.join(gp) + '\n')
gpr = subprocess.run([gnuplot, 'peers.gp'], cwd=plots, capture_output=True, text=True)
if gpr.returncode != 0:
    print(f'{me}: gnuplot failed: {gpr.stderr.strip()[:500]}', file=sys.stderr)

print('\n'.join(md[md.index(next(x for x in md if x.startswith('| config'))):]))
print(f'\n{me}: wrote {out}/peers.csv, peers.md, runs.jsonl, meta.json; {plots}/peers.png, peers.svg')
bad = sum(r['status'] != 'ok' for r in recs)
if interrupted:
    sys.exit(130)
if bad or gpr.returncode != 0:
    print(f'{me}: {bad} run(s) failed' if bad else f'{me}: the plot failed', file=sys.stderr)
    sys.exit(1)
PYEOF
