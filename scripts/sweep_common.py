"""sweep_common.py - what scripts/perf_stat.py and scripts/hyperfine_run.py share:
the sweep's options (their defaults; --run DIR taking them from a build/scale run
folder's meta.json; the checks on them), the child command and environment the
harness gives train_model, the messages and exit codes (1 runtime failure, 2 usage),
the output folder (files are written by cllm_analysis/atomic.py). Standard
library only: Debian's /usr/bin/python3 runs it."""
import csv
import io
import os
import re
import shutil
import socket
import sys
import time

from cllm_analysis import ijson

# the options of both tools that a harness run folder's meta.json gives
# ("options" of bench/RESULTS.md), so that --run DIR measures the harness's points
RUN_KEYS = ('threads', 'variants', 'config', 'steps', 'scaling', 'data', 'bin-dir')
SWEEP_DEFAULTS = {'threads': '1,2,4,8,16,32,63', 'variants': 'lockfree,locked', 'config': 'bench',
                  'steps': '6', 'scaling': 'weak', 'data': '', 'bin-dir': 'build'}
VARIANTS = ('lockfree', 'locked')
# what the harness sets for every child (bench/RESULTS.md, meta.json child_env)
CHILD_ENV = {'OPENBLAS_NUM_THREADS': '1'}


class Tool:
    """One command line's name, usage text and messages."""

    def __init__(self, name, usage):
        self.name, self.usage = name, usage

    def say(self, msg):
        print(f'{self.name}: {msg}', file=sys.stderr, flush=True)

    def die(self, msg):
        """A runtime failure: the message, exit 1."""
        self.say(msg)
        sys.exit(1)

    def usage_err(self, msg):
        """A usage error: the message and where the usage is, exit 2."""
        self.say(msg)
        self.say(f'see scripts/{self.name} --help')
        sys.exit(2)


def sweep_args(tool, argv, defaults, actions=None):
    """Parses argv in order: -h/--help prints the usage (exit 0), --run DIR,
    --out DIR, --KEY VALUE for every KEY of defaults, and actions (flag ->
    function of the arguments after it, which does not return). Returns
    (opt, run_dir, out): opt holds every KEY as text, the run folder's
    meta.json options in place of the defaults of the ones not given here."""
    opt, given, run_dir, out = dict(defaults), set(), '', ''
    i = 0
    while i < len(argv):
        a = argv[i]
        has_value = i + 1 < len(argv)
        if a in ('-h', '--help'):
            sys.stdout.write(tool.usage)
            sys.exit(0)
        elif actions and a in actions:
            actions[a](argv[i + 1:])
        elif a in ('--run', '--out'):
            if not has_value:
                tool.usage_err(f'{a} needs a folder')
            if a == '--run':
                run_dir = argv[i + 1]
            else:
                out = argv[i + 1]
        elif a.startswith('--') and a[2:] in opt:
            if not has_value:
                tool.usage_err(f'{a} needs a value')
            opt[a[2:]] = argv[i + 1]
            given.add(a[2:])
        else:
            tool.usage_err(f"unknown option '{a}'")
        i += 2
    if run_dir and out:
        tool.usage_err('--run and --out cannot be combined')
    if run_dir:
        if not os.path.isdir(run_dir):
            tool.usage_err(f'--run {run_dir}: no such folder')
        meta = os.path.join(run_dir, 'meta.json')
        if os.path.isfile(meta):            # the harness's points, unless given here
            try:
                o = ijson.load_file(meta).get('options', {})
                for k in RUN_KEYS:
                    v = o.get(k)
                    if v is not None and k not in given:
                        opt[k] = ','.join(map(str, v)) if isinstance(v, list) else str(v)
            except (OSError, ValueError, AttributeError):
                tool.die(f'--run {run_dir}: cannot read meta.json')
    return opt, run_dir, out


def sweep_points(tool, opt):
    """The thread counts (as given: they name the files) and the variants, checked."""
    if not re.fullmatch(r'[0-9]+(,[0-9]+)*', opt['threads']):
        tool.usage_err(f"--threads '{opt['threads']}': want a list like 1,2,4")
    threads = opt['threads'].split(',')
    for t in threads:
        if not 1 <= int(t) <= 1024:
            tool.usage_err(f'--threads: {t} is not in 1..1024')
    variants = opt['variants'].split(',')
    for v in variants:
        if v not in VARIANTS:
            tool.usage_err(f"--variants: unknown variant '{v}' ({', '.join(VARIANTS)})")
    return threads, variants


def count_arg(tool, opt, key, lo, hi, want):
    """opt[key] as a whole number in lo..hi (hi None: no bound), or a usage error."""
    v = opt[key]
    if not re.fullmatch(r'[0-9]+', v) or int(v) < lo or (hi is not None and int(v) > hi):
        tool.usage_err(f"--{key} '{v}': {want}")
    return int(v)


def sweep_checks(tool, opt):
    """The checks on steps, scaling and data."""
    count_arg(tool, opt, 'steps', 1, None, 'want a positive integer')
    if opt['scaling'] not in ('weak', 'strong'):
        tool.usage_err(f"--scaling '{opt['scaling']}': weak or strong")
    if opt['data'] and not os.path.exists(opt['data']):
        tool.usage_err(f"--data {opt['data']}: no such file or folder")


def sweep_binaries(tool, opt, variants):
    for v in variants:
        p = train_model(opt, v)
        if not (os.path.isfile(p) and os.access(p, os.X_OK)):
            tool.die(f'{p} is missing: run make all')


def train_model(opt, variant):
    return f"{opt['bin-dir']}/{variant}/train_model"


def child_args(opt, threads, report):
    """train_model's arguments after the binary, as the harness's child has them
    (bench/RESULTS.md "Every child of a --variants variant runs as")."""
    return ([opt['data']] if opt['data'] else []) + [
        '--config', opt['config'], '--threads', threads, '--steps', opt['steps'],
        '--scaling', opt['scaling'], '--eval-batches', '0', '--quiet', '--report', report]


def find_tool(tool, env_var, default, install):
    """The program named by $env_var (default `default`) on PATH, or exit 1
    with the install lines `install`."""
    prog = os.environ.get(env_var) or default
    if not shutil.which(prog):
        tool.die(f"{default} not found (looked for '{prog}' on PATH). {install}\n"
                 f"or set {env_var}=/path/to/{default}.")
    return prog


def utc_now(fmt='%Y-%m-%dT%H:%M:%SZ'):
    return time.strftime(fmt, time.gmtime())


def out_default(kind):
    """results/<UTC YYYYmmddTHHMMSSZ>-<host>-<kind>"""
    return f"results/{utc_now('%Y%m%dT%H%M%SZ')}-{socket.gethostname()}-{kind}"


def out_make(tool, out, holds):
    """Creates the folder out; refuses one that already holds the file `holds`."""
    if os.path.exists(os.path.join(out, holds)):
        tool.die(f'{out} already holds a {holds}: remove it or choose another folder')
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        tool.die(f'cannot create {out}: {e.strerror}')
    if not os.access(out, os.W_OK):
        tool.die(f'{out} is not writable')


def csv_text(cols, rows):
    s = io.StringIO()
    w = csv.DictWriter(s, cols, lineterminator='\n')
    w.writeheader()
    w.writerows(rows)
    return s.getvalue()


def exit_code(rc):
    """A subprocess return code as a shell shows it: 128 + N for signal N."""
    return 128 - rc if rc < 0 else rc


def main(fn):
    """Runs fn(argv) as a command line; ^C is exit 130, as in a shell."""
    try:
        sys.exit(fn(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
