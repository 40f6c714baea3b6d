#!/usr/bin/env python3
"""mutants.py - `make mutants`: re-introduce known bugs one at a time and check
that the tests catch each one. Not part of `make test` or CI.

    scripts/mutants.py [--list] [--keep] [--no-baseline] [NAME...]

For each mutant of the table below (or only those named): copy the working
tree (git's tracked and untracked, not ignored, files, and build/ without the
sanitizer and fuzz builds) into a scratch folder, apply the mutant's edits,
`make WERROR=1 all`, run the tests listed for it through scripts/run-tests.sh
(so with its time limits: a hang ends as a TIMEOUT, which counts as caught)
and print "caught" or "MISSED". First, unless --no-baseline, the same tests
run on the unmutated copy and must pass, or a mutant's failure would prove
nothing. Ends with "mutants: N caught, N missed, N did not apply, N did not
build" and exits 1 unless every mutant was caught, 2 when the baseline fails.

Every edit is exact text that must occur exactly once in its file: text that
is not found (the code changed) is "did not apply", a failure of this script,
so a mutant cannot silently stop testing anything. Retarget it to the new
code instead of deleting it.

Adding a mutant (do it for every bug fixed from now on): append to MUTANTS a
Mutant(name, what, edits, tests), where edits are (file, old text, new text)
triples and tests are names as scripts/run-tests.sh --only takes them
(test_cli.sh, test_model). The mutant must build with -Werror (leave no
unused variable behind: "(void)x;"), and `scripts/mutants.py NAME` must
print "caught" with the fix's test, and "MISSED" without it.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import namedtuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Mutant = namedtuple("Mutant", "name what edits tests")

MUTANTS = [
    # ---- issue 10, "Passed the whole suite"
    Mutant("adam-v-bias-beta1", "AdamW's second-moment bias correction computed with beta1",
           [("core/trainer.c", ".rb2 = 1.0f / (1.0f - powf(o->beta2, (float)step)),",
             ".rb2 = 1.0f / (1.0f - powf(o->beta1, (float)step)),")],
           ["test_optim.sh"]),
    Mutant("decay-every-tensor", "weight decay applied to every tensor",
           [("core/trainer.c", "s.wd = param_decays(i) ? o->wd : 0.0f;", "s.wd = o->wd;")],
           ["test_optim.sh"]),
    Mutant("decay-set-norm", "the decay set holds a LayerNorm weight",
           [("core/model.c", "return i == P_WTE || i == P_WPE ||", "return i == P_LN2W || i == P_WTE || i == P_WPE ||")],
           ["test_optim.sh"]),
    Mutant("clip-not-applied", "clipping computed but not applied",
           [("core/trainer.c", "adamw_slice(t, w->k0, w->k1, scale);",
             "(void)scale;\n    adamw_slice(t, w->k0, w->k1, 1.0f);")],
           ["test_optim.sh"]),
    Mutant("no-cosine", "the cosine schedule removed (constant lr after warmup)",
           [("core/trainer.c", "double coeff = 0.5 * (1.0 + cos(M_PI * frac));", "double coeff = 1.0 + 0.0 * frac;")],
           ["test_optim.sh"]),
    Mutant("locked-takes-no-lock", "the locked variant taking no lock",
           [("core/trainer.c", "#if CLLM_LOCKED\n    pthread_mutex_lock(&t->model_lock);\n    s = phase_end(t, w, PH_LOCK_WAIT, s);",
             "#if CLLM_LOCKED\n    s = phase_end(t, w, PH_LOCK_WAIT, s);"),
            ("core/trainer.c", "    hold_enter();   /* test-only, see the top */\n#if CLLM_LOCKED\n    pthread_mutex_unlock(&t->model_lock);\n#endif",
             "    hold_enter();   /* test-only, see the top */")],
           ["test_cli.sh"]),
    Mutant("median-even", "stats_median wrong for even n (the upper middle value)",
           [("bench/stats.c", "return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);", "return x[n / 2];")],
           ["test_stats", "test_scale.sh"]),
    Mutant("counter-scaling", "counter scaling written raw * running / enabled",
           [("bench/counters.c", "v->value = (double)v->raw / v->running_frac;", "v->value = (double)v->raw * v->running_frac;")],
           ["test_counters"]),
    Mutant("eval-on-train-split", "validation batches drawn from the training split (the eval job)",
           [("core/trainer.c", "fill_batch(t, w, x, 1, t->eval_batch);", "fill_batch(t, w, x, 0, t->eval_batch);")],
           ["test_model"]),
    Mutant("sampler-ignores-split", "validation batches drawn from the training split (the sampler)",
           [("core/data.c", "const int *base = val ? c->tok + c->ntrain : c->tok;", "const int *base = c->tok;")],
           ["test_model"]),
    # ---- issue 10, "Hung the suite"
    Mutant("locked-never-unlocks", "the locked variant never unlocking (hangs: caught by the time limit)",
           [("core/trainer.c", "    hold_enter();   /* test-only, see the top */\n#if CLLM_LOCKED\n    pthread_mutex_unlock(&t->model_lock);\n#endif",
             "    hold_enter();   /* test-only, see the top */")],
           ["test_cli.sh"]),
    # ---- issue 10, "Missed by the fuzzers"
    Mutant("ckpt-no-payload-checksum", "a skipped payload-checksum check in ckpt_load",
           [("core/ckpt.c", "if (got[b] == table[blk]) continue;", "if (1 || got[b] == table[blk]) continue;")],
           ["test_model", "test_cli.sh", "test_ckpt"]),
    # ---- issue 10, "Defects" 1-8: the text is the fix on the core branch
    # (i10-core); until that branch is merged these report "did not apply"
    Mutant("resume-ignores-seed", "defect 1: --resume ignores the checkpoint's seed",
           [("core/train_model.c", '    OVERRIDE(CLI_SEED, "--seed", seed, "%llu", unsigned long long);\n', "")],
           ["test_resume.sh", "test_ckpt"]),
    Mutant("int-element-count", "defect 2: GELU's element count an int (B*T*F past 2^31 skips it)",
           [("core/ops.h", "void gelu_forward(float *out, float *dgelu, const float *inp, size_t N);",
             "void gelu_forward(float *out, float *dgelu, const float *inp, int N);"),
            ("core/ops.c", "void gelu_forward(float *out, float *dgelu, const float *inp, size_t N) {",
             "void gelu_forward(float *out, float *dgelu, const float *inp, int N) {")],
           ["test_bigcount"]),
    Mutant("pool-create-hang", "defect 3: pool_create hangs when a thread cannot be created "
           "(the started workers are never released)",
           [("core/pool.c", "            atomic_store_explicit(&p->start, -1, memory_order_release);\n"
             "            futex_wake_all(&p->start);\n            for (int k = 1; k < i; k++)",
             "            for (int k = 1; k < i; k++)")],
           ["test_faultinject"]),
    Mutant("tokenizer-double-free", "defect 4: after the vocabulary compaction, a failed allocation "
           "frees moved words twice",
           [("core/data.c", "        wc[k] = wc[i];\n        if (k != i) wc[i].w = NULL;\n",
             "        wc[k] = wc[i];\n")],
           ["test_faultinject"]),
    Mutant("lr-default-horizon", "defect 5: the library's default schedule (lr_steps = 0) is not "
           "the documented one",
           [("core/trainer.c", "    if (o->lr_steps <= 0) return o->lr;\n", "")],
           ["test_schedule"]),
    Mutant("symlink-loop", "defect 6: a symlink loop in a corpus folder is descended until the "
           "depth limit",
           [("core/data.c", "    if (seen) { w->t->skipped_dirs++; return 0; }", "    (void)seen;")],
           ["test_limits.sh"]),
    Mutant("val-nan", "defect 7: --eval-batches 0 prints 'val nan'",
           [("core/train_model.c", '        if (val_batches > 0) snprintf(valtxt, sizeof valtxt, ", val %.4f", val);',
             '        (void)val_batches;\n        snprintf(valtxt, sizeof valtxt, ", val %.4f", val);')],
           ["test_limits.sh"]),
    Mutant("blas-thread-limit", "defect 8: more workers than OpenBLAS's MAX_THREADS accepted",
           [("core/trainer_plan.c", "    if (blas_max > 0 && nth > blas_max) {", "    if (0 && blas_max > 0 && nth > blas_max) {")],
           ["test_limits.sh"]),
    # ---- issue 13, the MPI variant
    Mutant("mpi-rank-order", "the ranks' sums of a slice added in reverse rank order",
           [("core/ranks.c", "    for (int d = 0; d < r->nranks; d++) src[d] = r->xbuf + (size_t)d * cnt + rel;",
             "    for (int d = 0; d < r->nranks; d++) src[d] = r->xbuf + (size_t)(r->nranks - 1 - d) * cnt + rel;")],
           ["test_mpi.sh"]),
    # ---- issue 21, integrity
    Mutant("ckpt-old-hash", "issue 21: the old carry-only hash (FNV over words, its top 32 bits) put back "
           "in place of each block's CRC-32C: two flipped sign bits cancel",
           [("core/ckpt.c", "            crc32c_blocks(p + off, n, CKPT_BLOCK_BYTES, sum);",
             "            for (size_t q = 0; q * CKPT_BLOCK_BYTES < n; q++)\n"
             "                sum[q] = (uint32_t)(ckpt_hash(CKPT_HASH_INIT, p + off + q * CKPT_BLOCK_BYTES,\n"
             "                                              MIN(CKPT_BLOCK_BYTES, n - q * CKPT_BLOCK_BYTES)) >> 32);"),
            ("core/ckpt.c", "            crc32c_blocks(p + o, n, CKPT_BLOCK_BYTES, got);",
             "            for (size_t q = 0; q * CKPT_BLOCK_BYTES < n; q++)\n"
             "                got[q] = (uint32_t)(ckpt_hash(CKPT_HASH_INIT, p + o + q * CKPT_BLOCK_BYTES,\n"
             "                                              MIN(CKPT_BLOCK_BYTES, n - q * CKPT_BLOCK_BYTES)) >> 32);")],
           ["test_ckpt_flips"]),
    Mutant("afile-no-dir-fsync", "issue 21: the atomic writer does not fsync the folder after the rename",
           [("core/afile.c", "    if (dfd < 0 || (fsync(dfd) != 0 && errno != EINVAL)) {",
             "    if (dfd < 0) {")],
           ["test_afile"]),
    Mutant("afile-no-sweep", "issue 21: a dead writer's temporaries are never removed",
           [("core/afile.c", "    afile_sweep(path);\n    int fd = -1;", "    int fd = -1;")],
           ["test_afile", "test_ckpt_integrity.sh"]),
    Mutant("afile-sweeps-live", "issue 21: the sweep removes a live writer's temporary too",
           [("core/afile.c", "if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;",
             "if (kill((pid_t)pid, 0) != 0 && errno != ESRCH) continue;")],
           ["test_afile"]),
    Mutant("validation-ignores-stop", "issue 21: validation does not check the stop flag",
           [("core/train_model.c", "        if (stop_agreed()) { *done = b; return NAN; }", "")],
           ["test_ckpt_integrity.sh"]),
    Mutant("no-periodic-save", "issue 21: --save-every never writes",
           [("core/train_model.c", "    int due = sv->every > 0 && step > 0 && step % sv->every == 0;",
             "    int due = 0 && sv->every > 0 && step > 0 && step % sv->every == 0;")],
           ["test_ckpt_integrity.sh"]),
    Mutant("mpi-moments-not-gathered", "rank 0 saves its own shard of the moments, not every rank's",
           [("core/trainer.c", "    comm_gather(t->comm, t->m, m, t->rank_off, t->rank_cnt);\n"
             "    comm_gather(t->comm, t->v, v, t->rank_off, t->rank_cnt);",
             "    if (t->rank == 0) { memcpy(m, t->m, t->rank_cnt[0] * sizeof(float)); "
             "memcpy(v, t->v, t->rank_cnt[0] * sizeof(float)); }")],
           ["test_mpi.sh"]),
    # ---- issue 21, integrity (the data and analysis half)
    Mutant("metric-without-ranks", "--work's weak-scaling metric counts threads, not ranks x threads (C)",
           [("bench/stats.c", "int workers = (int)json_num(json_get(rec, \"threads\"), 0) * (ranks > 1 ? (int)ranks : 1);",
             "int workers = (int)json_num(json_get(rec, \"threads\"), 0) * (ranks > 0 ? 1 : 1);"),
            ("bench/runs_format.c", "stats_metric_of(r->metric, r->report, r->wall_s, ranks * r->threads)",
             "stats_metric_of(r->metric, r->report, r->wall_s, r->threads)")],
           ["test_stats"]),
    Mutant("metric-without-ranks-py", "--work's weak-scaling metric counts threads, not ranks x threads (Python)",
           [("scripts/cllm_analysis/runs.py", 'workers = int(r["threads"]) * max(1, int(r.get("ranks") or 1))',
             'workers = int(r["threads"])')],
           ["test_integrity.sh"]),
    Mutant("speedup-ratio-of-medians", "summary.csv's speedup a ratio of medians again, not the pairwise median",
           [("bench/points.c", "stats_speedup(wall, kb, tps, kc, &p->speedup, &p->speedup_min, &p->speedup_max);",
             "stats_speedup(wall, kb, tps, kc, &p->speedup, &p->speedup_min, &p->speedup_max);\n"
             "        if (base) p->speedup = p->tps_median / base->tps_median;")],
           ["test_stats"]),
    Mutant("speedup-ratio-of-medians-py", "the analysis's speedup a ratio of medians beside another interval",
           [("scripts/cllm_analysis/analysis.py", "        s, ci, cover = stats.hl_ratio_ci(b, x)",
             "        s, ci, cover = stats.hl_ratio_ci(b, x)\n        s = float(np.median(x) / np.median(b))")],
           ["test_integrity.sh"]),
    Mutant("json-raw-bytes", "the JSON writer copies a byte that is not UTF-8 raw into the file",
           [("core/jsonw.c", "if (n == 0) { put_byte_escape(f, *s++); continue; }", "if (n == 0) { fputc(*s++, f); continue; }")],
           ["test_json"]),
    Mutant("json-accepts-u0000", "the reader takes \\u0000 (and cuts the string short)",
           [("bench/json.c", "            if (cp == 0) {", "            if (cp == 0 && 0) {")],
           ["test_json"]),
    Mutant("json-leading-zero", "the reader takes a number with a leading zero",
           [("bench/json.c", "if (p->s[digits] == '0' && p->i - digits > 1) {", "if (0) {")],
           ["test_json"]),
    Mutant("options-as-%g", "a stored option read back with %g (--steps 1000000 becomes 1e+06)",
           [("bench/scale_opts.c", "} else if (j->type == JSON_NUM) { jw_fmt_num(num, sizeof num, j->num); fputs(num, m); }",
             "} else if (j->type == JSON_NUM) fprintf(m, \"%g\", j->num);")],
           ["test_integrity.sh"]),
    Mutant("pin-unbounded-in-scale", "scale checks --pin with its own bound (2^20), not train_model's",
           [("bench/scale_opts.c", "    int rc = pin_parse(pin, spec, err, errlen);",
             "    int rc = 0;\n    (void)pin_parse;")],
           ["test_integrity.sh"]),
    Mutant("check-py-zero-checks", "tests/check.py passes a test that checked nothing",
           [("tests/check.py", "sys.exit(1 if failed or passed + skipped == 0 else 0)", "sys.exit(1 if failed else 0)")],
           ["test_integrity.sh"]),
    Mutant("atomic-keeps-stale", "the Python atomic writer leaves a dead writer's temporaries",
           [("scripts/cllm_analysis/atomic.py", "    remove_stale(path)\n", "")],
           ["test_integrity.sh"]),
    Mutant("record-user-sys-swapped", "a record's user and system CPU times swapped",
           [("bench/runs_format.c", 'jw_kv_num(f, "user_s", ru->ru_utime.tv_sec + ru->ru_utime.tv_usec * 1e-6);',
             'jw_kv_num(f, "user_s", ru->ru_stime.tv_sec + ru->ru_stime.tv_usec * 1e-6);'),
            ("bench/runs_format.c", 'jw_kv_num(f, "sys_s", ru->ru_stime.tv_sec + ru->ru_stime.tv_usec * 1e-6);',
             'jw_kv_num(f, "sys_s", ru->ru_utime.tv_sec + ru->ru_utime.tv_usec * 1e-6);')],
           ["test_integrity.sh"]),
    Mutant("record-rss-bytes", "a record's peak RSS in bytes under the name peak_rss_kib",
           [("bench/runs_format.c", 'jw_kv_num(f, "peak_rss_kib", (double)ru->ru_maxrss);',
             'jw_kv_num(f, "peak_rss_kib", (double)ru->ru_maxrss * 1024);')],
           ["test_integrity.sh"]),
    Mutant("tail-skipped-sum", "the row sums' scalar tail skipped (LayerNorm mean, softmax sums)",
           [("core/ops_kern.h", "    float s = lsum(p);\n    for (; i < n; i++) s += x[i];\n    return s;",
             "    float s = lsum(p);\n    (void)n;\n    return s;")],
           ["test_tails"]),
    Mutant("tail-skipped-max", "the row maxima's scalar tail skipped (softmax, cross-entropy)",
           [("core/ops_kern.h", "    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;\n", "")],
           ["test_tails"]),
    Mutant("tail-skipped-dot", "the dot products' scalar tail skipped (attention backward)",
           [("core/ops_kern.h", "    for (; i < n; i++) s += a[i] * b[i];\n", "")],
           ["test_tails"]),
    Mutant("slice-drops-tail", "the workers' slices end at the last multiple of 16 parameters (the rest never updated)",
           [("core/memtable.c", "    *k1 = MIN(*k0 + dr, np);\n}", "    *k1 = MIN(*k0 + dr, np / 16 * 16);\n}")],
           ["test_odd_shape"]),
    Mutant("tail-skipped-norm", "the gradient norm's elements past the last 8 left out",
           [("core/reduce.c", "        for (; k < e; k++) sq[0] += (double)dst[k] * dst[k];\n", "")],
           ["test_tails"]),
]


def sh(cmd, cwd, log=None, env=None):
    """Run cmd; returns (rc, output)."""
    r = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, errors="replace", env=env)
    return r.returncode, r.stdout


def make_base(dst):
    """Copy the working tree and the plain build into dst (mtimes kept, so
    make rebuilds only what a mutant touches), then build it."""
    rc, out = sh(["git", "ls-files", "-co", "--exclude-standard", "-z"], ROOT)
    if rc != 0:
        sys.exit(f"mutants: git ls-files failed: {out}")
    for rel in filter(None, out.split("\0")):
        src = os.path.join(ROOT, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dst, rel), follow_symlinks=False)
    build = os.path.join(ROOT, "build")
    if os.path.isdir(build):
        skip = lambda d, names: [n for n in names if d == build and
                                 (n in ("asan", "tsan", "clang") or n.startswith("fuzz"))]
        shutil.copytree(build, os.path.join(dst, "build"), symlinks=True, ignore=skip)
    return build_tree(dst)


def build_tree(d):
    return sh(["make", "-s", "-j2", "WERROR=1", "all"], d)


def apply_edits(d, m):
    """None, or why the mutant does not apply."""
    for path, old, new in m.edits:
        p = os.path.join(d, path)
        try:
            with open(p) as f:
                text = f.read()
        except OSError as e:
            return f"{path}: {e.strerror}"
        n = text.count(old)
        if n != 1:
            first = old.strip().splitlines()[0][:70]
            return f"{path}: the text '{first}' occurs {n} times, not once"
        with open(p, "w") as f:
            f.write(text.replace(old, new))
    return None


def missing_tests(d, tests):
    """The tests a mutant names that this tree does not have."""
    return [t for t in tests if not os.path.exists(os.path.join(d, "tests", t) if t.endswith(".sh")
                                                   else os.path.join(d, "build", "tests", t))]


def run_tests(d, tests):
    t0 = time.monotonic()
    rc, out = sh(["scripts/run-tests.sh", "--only", ",".join(tests)], d, env=dict(os.environ, BUILD="build"))
    rows = [l for l in out.splitlines() if l.split(" ", 1)[0] in tests]
    caught_by = [l.split()[0] + (" TIMEOUT" if "TIMEOUT" in l else f" ({l.split()[3]} failed)")
                 for l in rows if "TIMEOUT" in l or l.split()[3] != "0"]
    return rc, out, caught_by, time.monotonic() - t0


def main(argv):
    keep = "--keep" in argv
    names = [a for a in argv if not a.startswith("--")]
    unknown = [a for a in argv if a.startswith("--") and a not in ("--keep", "--list", "--no-baseline", "--help")]
    if "--help" in argv or "-h" in argv:
        print(__doc__.split("\n\n", 1)[1])
        return 0
    if unknown:
        print(f"mutants: unknown option {unknown[0]} (--help lists them)", file=sys.stderr)
        return 2
    if "--list" in argv:
        for m in MUTANTS:
            files = " ".join(sorted({e[0] for e in m.edits}))
            print(f"{m.name:26s} {files:34s} {','.join(m.tests):28s} {m.what}")
        return 0
    todo = [m for m in MUTANTS if not names or m.name in names]
    missing = set(names) - {m.name for m in MUTANTS}
    if missing:
        print(f"mutants: no mutant named {' '.join(sorted(missing))} (--list)", file=sys.stderr)
        return 2

    scratch = tempfile.mkdtemp(prefix="cllm-mutants-")
    try:
        base = os.path.join(scratch, "base")
        print(f"mutants: copying and building the tree in {base}", flush=True)
        rc, out = make_base(base)
        if rc != 0:
            print(out[-3000:])
            print("mutants: the unmutated tree does not build")
            return 2
        if "--no-baseline" not in argv:
            # (a test this tree lacks makes its mutants "did not apply" below)
            tests = sorted({t for m in todo for t in m.tests} - set(missing_tests(base, [t for m in todo for t in m.tests])))
            rc, out, _, secs = run_tests(base, tests)
            print(f"baseline: {' '.join(tests)}: {out.strip().splitlines()[-1]} ({secs:.0f} s)", flush=True)
            if rc != 0:
                print(out[-5000:])
                print("mutants: the tests fail on the unmutated tree: the mutants would prove nothing")
                return 2
        counts = {"caught": 0, "MISSED": 0, "did not apply": 0, "did not build": 0}
        for m in todo:
            d = os.path.join(scratch, m.name)
            shutil.copytree(base, d, symlinks=True)
            why = apply_edits(d, m)
            gone = missing_tests(d, m.tests)
            if gone and not why:
                why = "no test " + " ".join(gone) + " in this tree"
            if why:
                verdict, detail = "did not apply", why
            else:
                rc, out = build_tree(d)
                if rc != 0:
                    verdict = "did not build"
                    detail = " | ".join(l for l in out.splitlines() if "error" in l)[:300]
                else:
                    rc, out, caught_by, secs = run_tests(d, m.tests)
                    verdict = "caught" if rc != 0 else "MISSED"
                    detail = (", ".join(caught_by) or out.strip().splitlines()[-1]) + f"  [{secs:.0f} s]"
            counts[verdict] += 1
            print(f"{verdict:14s} {m.name:26s} {detail}\n{'':15s}{m.what}", flush=True)
            if not keep:
                shutil.rmtree(d, ignore_errors=True)
        print("mutants: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        return 0 if counts["caught"] == len(todo) else 1
    finally:
        if keep:
            print(f"mutants: scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
