#!/usr/bin/python3
"""hyperfine_run.py - the work behind scripts/hyperfine.sh (USAGE below):
hyperfine over train_model per variant x thread count, and hyperfine.csv beside
the harness's medians. Options, the child command and the folder: sweep_common.py."""
import csv
import glob
import json
import os
import subprocess

import sweep_common as sc
from cllm_analysis.atomic import write_atomic

USAGE = """\
hyperfine.sh - wall time of train_model per variant x thread count with
hyperfine, next to the harness's medians.

  scripts/hyperfine.sh [--threads 1,2,4,8,16,32,63] [--variants lockfree,locked]
                       [--config bench] [--steps 6] [--scaling weak] [--data PATH]
                       [--runs 5] [--warmup 1] [--bin-dir build] [--run DIR | --out DIR]

Runs
    hyperfine -N --warmup W --runs R -L variant lockfree,locked -L threads 1,2,... \\
        --export-json hyperfine.json --export-markdown hyperfine.md \\
        '<bin-dir>/{variant}/train_model [DATA] --config C --threads {threads} --steps K --scaling S
         --eval-batches 0 --quiet --report <folder>/.hyperfine-report-{variant}-{threads}.json'
with OPENBLAS_NUM_THREADS=1 in the environment, which is the harness's child
command and environment (bench/RESULTS.md): the report too, as train_model writes
and fsyncs it before it exits, in both (the report files are removed after).
(-N: no shell in between, as the harness spawns train_model directly; the
first -L varies fastest, so the variants alternate at each thread count and
slow drift does not fall on one of them). The folder is
results/<UTC YYYYmmddTHHMMSSZ>-<host>-hyperfine/, or, with --run DIR, the
harness run folder DIR itself (its meta.json gives the defaults of threads,
variants, config, steps, scaling, data and bin-dir, so the points are the
harness's); --out DIR names another folder.

hyperfine.csv - one row per point, for scripts/analyze.py (read when present):
  variant,threads       the point
  runs                  timed runs (after the warm-up runs)
  mean_s,stddev_s       hyperfine's mean and standard deviation of the wall time, seconds
                        (stddev NA with --runs 1)
  median_s,min_s,max_s  hyperfine's median, min, max wall time, seconds
  user_s,system_s       hyperfine's mean user and system CPU time, seconds
  harness_wall_median_s the harness's wall_median_s for the same point (summary.csv of
                        the --run folder); NA without one or when the point is not in it
  mean_over_harness     mean_s / harness_wall_median_s; NA likewise
Both measure spawn to exit of the whole process (start-up, init, training).

Exit codes: 0 ok, 1 runtime failure (hyperfine missing, a command failed), 2 usage.
"""

TOOL = sc.Tool('hyperfine.sh', USAGE)
DEFAULTS = {**sc.SWEEP_DEFAULTS, 'runs': '5', 'warmup': '1'}
COLS = ['variant', 'threads', 'runs', 'mean_s', 'stddev_s', 'median_s', 'min_s', 'max_s',
        'user_s', 'system_s', 'harness_wall_median_s', 'mean_over_harness']
SPLIT_CHARS = set('{}\'" ')      # what hyperfine's split of the command would break on


def harness_medians(out):
    """{(variant, threads): wall_median_s} of the folder's summary.csv, if any."""
    harness = {}
    summ = os.path.join(out, 'summary.csv')
    if os.path.exists(summ):
        with open(summ) as f:
            for r in csv.DictReader(f):
                try:
                    harness[(r['variant'], int(r['threads']))] = float(r['wall_median_s'])
                except (KeyError, ValueError):
                    pass
    return harness


def hyperfine_rows(results, harness):
    """hyperfine.csv's rows from hyperfine.json's results."""
    g = lambda x: f'{x:.6f}' if x is not None else 'NA'  # noqa: E731
    rows = []
    for r in results:
        v, t = r['parameters']['variant'], int(r['parameters']['threads'])
        h = harness.get((v, t))
        rows.append({'variant': v, 'threads': t, 'runs': len(r['times']), 'mean_s': g(r['mean']),
                     'stddev_s': g(r.get('stddev')), 'median_s': g(r['median']), 'min_s': g(r['min']),
                     'max_s': g(r['max']), 'user_s': g(r['user']), 'system_s': g(r['system']),
                     'harness_wall_median_s': g(h),
                     'mean_over_harness': f"{r['mean'] / h:.4f}" if h else 'NA'})
    return rows


def hyperfine_main(argv):
    opt, run_dir, out = sc.sweep_args(TOOL, argv, DEFAULTS)
    if run_dir:
        out = run_dir
    _, variants = sc.sweep_points(TOOL, opt)
    sc.count_arg(TOOL, opt, 'runs', 1, None, 'want 1 or more')
    sc.count_arg(TOOL, opt, 'warmup', 0, None, 'want 0 or more')
    sc.sweep_checks(TOOL, opt)
    for k in ('bin-dir', 'data'):
        if SPLIT_CHARS & set(opt[k]):
            TOOL.usage_err(f"--{k} '{opt[k]}' may not hold spaces, quotes or braces (hyperfine splits the command)")
    sc.sweep_binaries(TOOL, opt, variants)
    hf = sc.find_tool(TOOL, 'HYPERFINE', 'hyperfine',
                      'Install it:\n    sudo apt-get install hyperfine       # Debian 12 ships 1.15')
    try:
        r = subprocess.run([hf, '--version'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors='replace')
        hv, ok = r.stdout.rstrip('\n'), r.returncode == 0
    except OSError as e:
        hv, ok = str(e), False
    if not ok:
        TOOL.die(f"'{hf} --version' failed: {hv}")

    out = out or sc.out_default('hyperfine')
    if SPLIT_CHARS & set(out):
        TOOL.usage_err(f"folder '{out}' may not hold spaces, quotes or braces (hyperfine splits the command)")
    sc.out_make(TOOL, out, 'hyperfine.json')

    report = f'{out}/.hyperfine-report-{{variant}}-{{threads}}.json'
    cmd = ' '.join([sc.train_model(opt, '{variant}')] + sc.child_args(opt, '{threads}', report))
    tmp_json, tmp_md = (os.path.join(out, f'.hyperfine.{x}.tmp') for x in ('json', 'md'))
    try:
        rc = sc.exit_code(subprocess.run(
            [hf, '-N', '--style', 'basic', '--warmup', opt['warmup'], '--runs', opt['runs'],
             '-L', 'variant', opt['variants'], '-L', 'threads', opt['threads'],
             '--export-json', tmp_json, '--export-markdown', tmp_md, cmd],
            env={**os.environ, **sc.CHILD_ENV}).returncode)
    finally:
        for f in glob.glob(os.path.join(glob.escape(out), '.hyperfine-report-*.json')):
            os.unlink(f)
    if rc != 0:
        for f in (tmp_json, tmp_md):
            if os.path.exists(f):
                os.unlink(f)
        TOOL.die(f'hyperfine failed (exit code {rc}): a train_model run failed or was interrupted')
    os.replace(tmp_json, os.path.join(out, 'hyperfine.json'))
    os.replace(tmp_md, os.path.join(out, 'hyperfine.md'))

    # hyperfine.csv, beside the harness's medians when the folder has them
    with open(os.path.join(out, 'hyperfine.json')) as f:
        rows = hyperfine_rows(json.load(f)['results'], harness_medians(out))
    csv_path = os.path.join(out, 'hyperfine.csv')
    write_atomic(csv_path, sc.csv_text(COLS, rows))
    print(f"{'variant':<9} {'threads':>7} {'mean s':>9} {'+- s':>8} {'median s':>9} {'harness s':>10} {'ratio':>7}")
    for r in rows:
        print(f"{r['variant']:<9} {r['threads']:>7} {r['mean_s']:>9.9} {r['stddev_s']:>8.8} {r['median_s']:>9.9} "
              f"{r['harness_wall_median_s']:>10.10} {r['mean_over_harness']:>7}")
    print(f'{hv}; wrote {csv_path}')
    return 0


if __name__ == '__main__':
    sc.main(hyperfine_main)
