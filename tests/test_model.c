/*
 * test_model.c - the whole model and its surroundings: a gradient check of
 * every parameter tensor by directional central differences (on a gradient
 * buffer prefilled with NaN: every gradient must be overwritten), the same
 * bits with --recompute layers as without, the loss falling on the built-in
 * corpus, validation batches drawn only from the validation split, tokenizer
 * round trips, checkpoint round trip, corruption and failed saves, config
 * validation, and the memory table against what the allocator really hands
 * out, in both layouts, with seed-cli's per-worker budgets.
 */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "ckpt.h"
#include "config.h"
#include "data.h"
#include "model.h"
#include "trainer.h"
#include "util.h"

/* ---------------------------------------------------------------- gradients */

static double loss_at(const config_t *c, float *params, ctx_t *x, int B) {
    params_t p;
    params_point(&p, params, c);
    return model_forward(c, &p, x, B, NULL, 0.0f) / ((double)B * c->T);
}

static void test_gradcheck(void) {
    config_t c = { "grad", 24, 16, 2, 2, 32, 6, 2 };
    size_t counts[P_COUNT];
    size_t np = param_counts(&c, counts);
    float *params = mem_alloc(np * sizeof(float)), *grads = mem_alloc(np * sizeof(float));
    float *dir = mem_alloc(np * sizeof(float)), *probe = mem_alloc(np * sizeof(float));
    params_init(params, &c, 7);
    /* move off the init point so biases and norm weights are not all 0 / 1 */
    rng_t r = { 99 };
    for (size_t k = 0; k < np; k++) params[k] += 0.05f * rng_normal(&r);
    size_t bytes;
    mem_item it[CTX_ITEMS];
    ctx_layout(&c, c.B, RECOMPUTE_NONE, NULL, it, &bytes);
    char *mem = mem_alloc(bytes);
    ctx_t x;
    ctx_carve(&c, c.B, RECOMPUTE_NONE, &x, mem);
    for (int i = 0; i < c.B * c.T; i++) {
        x.inp[i] = (int)(rng_next(&r) % c.V);
        x.tgt[i] = (int)(rng_next(&r) % c.V);
    }
    params_t p, g;
    params_point(&p, params, &c);
    params_point(&g, grads, &c);
    for (size_t k = 0; k < np; k++) grads[k] = NAN;   /* no zeroing: all must be overwritten */
    model_forward(&c, &p, &x, c.B, &g, 1.0f / (c.B * c.T));
    model_backward(&c, &p, &g, &x, c.B);
    size_t nonfinite = 0;
    for (size_t k = 0; k < np; k++) nonfinite += !isfinite(grads[k]);
    EXPECT(nonfinite == 0, "%zu of %zu gradients were not written by forward+backward", nonfinite, np);

    /* one random direction inside each tensor: (L(p + h d) - L(p - h d)) / 2h = g . d */
    size_t off = 0;
    for (int t = 0; t < P_COUNT; t++) {
        memset(dir, 0, np * sizeof(float));
        double norm = 0;
        for (size_t k = off; k < off + counts[t]; k++) { dir[k] = rng_normal(&r); norm += dir[k] * dir[k]; }
        norm = sqrt(norm);
        double gd = 0;
        for (size_t k = off; k < off + counts[t]; k++) { dir[k] /= norm; gd += (double)grads[k] * dir[k]; }
        const float h = 1e-2f;
        for (size_t k = 0; k < np; k++) probe[k] = params[k] + h * dir[k];
        double lp = loss_at(&c, probe, &x, c.B);
        for (size_t k = 0; k < np; k++) probe[k] = params[k] - h * dir[k];
        double lm = loss_at(&c, probe, &x, c.B);
        double fd = (lp - lm) / (2 * h);
        double err = fabs(fd - gd);
        EXPECT(err <= 2e-2 * fabs(gd) + 2e-5, "gradcheck %s: analytic %.6g, finite difference %.6g",
               param_names[t], gd, fd);
        off += counts[t];
    }
    mem_free(mem); mem_free(params); mem_free(grads); mem_free(dir); mem_free(probe);
}

/* ---------------------------------------------------------------- training */

static int *synthetic_tokens(size_t *n) {
    text_t text;
    text_synthetic(&text, 42, 1 << 18);
    tokenizer_t tk;
    char err[256];
    tokenizer_build(&tk, TOK_BYTES, text.text, text.len, 256, err, sizeof err);
    int *tok = tokenizer_encode(&tk, text.text, text.len, n);
    text_free(&text);
    tokenizer_free(&tk);
    return tok;
}

static void test_loss_falls(void) {
    size_t n;
    int *tok = synthetic_tokens(&n);
    corpus_t corpus;
    char err[512];
    config_t c;
    config_preset(&c, "tiny");
    EXPECT(corpus_split(&corpus, tok, n, c.T, err, sizeof err) == 0, "split: %s", err);
    train_opts o;
    train_opts_default(&o);
    o.lr = 3e-3f;
    o.lr_steps = 300;
    trainer_t *t = trainer_create(&c, &o, 1, &corpus, err, sizeof err);
    EXPECT(t != NULL, "trainer_create: %s", err);
    if (!t) { free(tok); return; }
    float first = trainer_step(t), last = first;
    EXPECT(fabsf(first - logf(256.0f)) < 0.1f, "first loss %.4f is not near ln 256 = %.4f", first, logf(256));
    for (int s = 1; s < 300; s++) last = trainer_step(t);
    printf("loss: %.4f -> %.4f after 300 tiny steps\n", first, last);
    EXPECT(last < 0.7f * first, "loss fell only from %.4f to %.4f in 300 steps", first, last);
    float val = trainer_eval(t, 4);
    EXPECT(val < 0.7f * first, "validation loss %.4f did not fall below 70%% of %.4f", val, first);
    trainer_free(t);
    free(tok);
}

/* ---------------------------------------------------------------- recompute */

/* --recompute layers repeats the forward's operations on the same inputs:
 * the same losses and parameters, bit for bit, after a few steps, at 1 and
 * 2 workers, and on shapes with T not a multiple of the attention block */
static void test_recompute(void) {
    size_t n;
    int *tok = synthetic_tokens(&n);
    const char *names[] = { "tiny", "bench" };
    for (int ci = 0; ci < 3; ci++) {
        config_t c;
        config_preset(&c, names[ci % 2]);
        if (ci == 2) { c.T = 45; c.L = 3; c.NH = 2; }
        corpus_t corpus;
        char err[512];
        if (corpus_split(&corpus, tok, n, c.T, err, sizeof err) != 0) { EXPECT(0, "split: %s", err); continue; }
        float loss[2][5];
        float *par[2] = { NULL, NULL };
        size_t np = 0;
        int nth = ci == 1 ? 2 : 1;
        for (int r = 0; r < 2; r++) {
            train_opts o;
            train_opts_default(&o);
            o.lr = 3e-3f;
            o.lr_steps = 5;
            o.recompute = r ? RECOMPUTE_LAYERS : RECOMPUTE_NONE;
            trainer_t *t = trainer_create(&c, &o, nth, &corpus, err, sizeof err);
            EXPECT(t != NULL, "trainer_create: %s", err);
            if (!t) continue;
            for (int s = 0; s < 5; s++) loss[r][s] = trainer_step(t);
            np = trainer_nparams(t);
            par[r] = malloc(np * sizeof(float));
            memcpy(par[r], trainer_params(t), np * sizeof(float));
            trainer_free(t);
        }
        if (par[0] && par[1]) {
            EXPECT(memcmp(loss[0], loss[1], sizeof loss[0]) == 0,
                   "config %s T=%d: --recompute layers changes the losses (%.9g vs %.9g at step 5)",
                   c.name, c.T, loss[1][4], loss[0][4]);
            EXPECT(memcmp(par[0], par[1], np * sizeof(float)) == 0,
                   "config %s T=%d: --recompute layers changes the parameters", c.name, c.T);
            printf("recompute layers: config %s T=%d, %d thread(s): same bits as without over 5 steps\n",
                   c.name, c.T, nth);
        }
        free(par[0]);
        free(par[1]);
    }
    free(tok);
}

/* Training and validation halves that use disjoint token ids: the training
 * split only ids below 128, the validation split only ids from 128 up. The
 * sampler must return only the split it is asked for, and the evaluation
 * must use the validation split: after training, the model puts almost no
 * probability on ids it never saw as targets, so the validation loss is
 * above ln 256 (uniform; measured 7.7) while the training loss is far below
 * it (measured 0.14). Evaluating on training batches would give a loss near
 * the training loss. */
static void test_eval_split(void) {
    config_t c;
    config_preset(&c, "tiny");
    size_t n = 20000;
    int *tok = malloc(n * sizeof *tok);
    corpus_t corpus;
    char err[512];
    EXPECT(corpus_split(&corpus, tok, n, c.T, err, sizeof err) == 0, "split: %s", err);
    for (size_t k = 0; k < n; k++)
        tok[k] = k < corpus.ntrain ? (int)(k * 5 % 61) : 128 + (int)(k * 3 % 59);
    int inp[64], tgt[64];
    int bad_val = 0, bad_train = 0;
    for (uint64_t step = 0; step < 50; step++) {
        for (uint64_t g = 0; g < 8; g++) {
            corpus_sample(&corpus, 1, 1337, step, g, c.T, inp, tgt);
            for (int i = 0; i < c.T; i++) bad_val += inp[i] < 128 || tgt[i] < 128;
            corpus_sample(&corpus, 0, 1337, step, g, c.T, inp, tgt);
            for (int i = 0; i < c.T; i++) bad_train += inp[i] >= 128 || tgt[i] >= 128;
        }
    }
    EXPECT(bad_val == 0, "%d validation tokens of 6400 came from the training split", bad_val);
    EXPECT(bad_train == 0, "%d training tokens of 6400 came from the validation split", bad_train);

    train_opts o;
    train_opts_default(&o);
    o.lr = 1e-2f;
    o.lr_steps = 60;
    trainer_t *t = trainer_create(&c, &o, 2, &corpus, err, sizeof err);
    EXPECT(t != NULL, "trainer_create: %s", err);
    if (!t) { free(tok); return; }
    float loss = 0;
    for (int s = 0; s < 60; s++) loss = trainer_step(t);
    float val = trainer_eval(t, 4);
    printf("disjoint splits: training loss %.4f, validation loss %.4f after 60 steps (ln 256 = %.4f)\n",
           loss, val, logf(256.0f));
    EXPECT(loss < 0.8f * logf(256.0f), "training loss %.4f did not fall below 0.8 ln 256", loss);
    EXPECT(val > logf(256.0f), "validation loss %.4f is not above ln 256 = %.4f: the evaluation "
           "did not read the validation split", val, logf(256.0f));
    trainer_free(t);
    free(tok);
}

/* ---------------------------------------------------------------- tokenizers */

static void test_tokenizers(void) {
    char err[256];
    tokenizer_t tk;
    const char *s = "Hello, world!\n\tbytes \xff\x01 survive.";
    EXPECT(tokenizer_build(&tk, TOK_BYTES, s, strlen(s), 256, err, sizeof err) == 0, "bytes: %s", err);
    size_t n;
    int *ids = tokenizer_encode(&tk, s, strlen(s), &n);
    char buf[256];
    tokenizer_decode(&tk, ids, n, buf, sizeof buf);
    EXPECT(n == strlen(s) && strcmp(buf, s) == 0, "bytes round trip: '%s'", buf);
    free(ids);
    tokenizer_free(&tk);
    EXPECT(tokenizer_build(&tk, TOK_BYTES, s, strlen(s), 100, err, sizeof err) != 0,
           "bytes tokenizer accepted V=100");

    const char *text = "the cat sat\nthe cat ran\nThe dog sat\n";
    EXPECT(tokenizer_build(&tk, TOK_WORDS, text, strlen(text), 7, err, sizeof err) == 0, "words: %s", err);
    /* specials + the 3 most frequent: the(3) cat(2) sat(2) -- ties in byte order */
    EXPECT(tk.V == 7 && strcmp(tk.words[4], "the") == 0 && strcmp(tk.words[5], "cat") == 0 &&
           strcmp(tk.words[6], "sat") == 0, "words vocabulary ranking: V=%d [%s %s %s]", tk.V,
           tk.V > 4 ? tk.words[4] : "", tk.V > 5 ? tk.words[5] : "", tk.V > 6 ? tk.words[6] : "");
    ids = tokenizer_encode(&tk, text, strlen(text), &n);
    int expect[] = { 4, 5, 6, TOK_EOS, 4, 5, TOK_UNK, TOK_EOS, 4, TOK_UNK, 6, TOK_EOS };
    EXPECT(n == 12 && memcmp(ids, expect, sizeof expect) == 0, "words encode: %zu ids", n);
    tokenizer_decode(&tk, ids, n, buf, sizeof buf);
    EXPECT(strcmp(buf, "the cat sat\nthe cat <unk>\nthe <unk> sat\n") == 0, "words decode: '%s'", buf);
    free(ids);
    /* normalised text with every word known round-trips exactly */
    const char *norm = "the cat sat\nsat the cat\n";
    ids = tokenizer_encode(&tk, norm, strlen(norm), &n);
    tokenizer_decode(&tk, ids, n, buf, sizeof buf);
    EXPECT(strcmp(buf, norm) == 0, "words round trip: '%s'", buf);
    free(ids);
    /* rebuilt from its word list (as a checkpoint does): same ids */
    tokenizer_t tk2;
    EXPECT(tokenizer_from_words(&tk2, tk.pool, tk.pool_len, tk.V, err, sizeof err) == 0, "from words: %s", err);
    size_t n2;
    int *ids1 = tokenizer_encode(&tk, text, strlen(text), &n);
    int *ids2 = tokenizer_encode(&tk2, text, strlen(text), &n2);
    EXPECT(n == n2 && memcmp(ids1, ids2, n * sizeof(int)) == 0, "rebuilt tokenizer encodes differently");
    free(ids1); free(ids2);
    tokenizer_free(&tk2);
    EXPECT(tokenizer_from_words(&tk2, "a\0b", 3, 2, err, sizeof err) != 0, "accepted a 2-word list");
    tokenizer_free(&tk);
    /* huge words are truncated, not overflowed; invalid UTF-8 is just bytes */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    big[100] = ' ';
    big[200] = '\xc3';
    /* two words of 100 and 4899 bytes: both truncated to the same 63-byte word */
    EXPECT(tokenizer_build(&tk, TOK_WORDS, big, strlen(big), 50, err, sizeof err) == 0 && tk.V == 5,
           "long words: V=%d", tk.V);
    tokenizer_free(&tk);
}

/* ---------------------------------------------------------------- checkpoints */

static int corrupt_and_load(const char *src, const char *dst, long off, int truncate_to,
                            const char *want, char *err, size_t errlen) {
    FILE *f = fopen(src, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n);
    if (fread(buf, 1, n, f) != (size_t)n) { fclose(f); free(buf); return 0; }
    fclose(f);
    if (off >= 0) buf[off] ^= 0x40;
    f = fopen(dst, "wb");
    fwrite(buf, 1, truncate_to >= 0 ? truncate_to : n, f);
    fclose(f);
    free(buf);
    ckpt_t ck;
    err[0] = 0;   /* no message of an earlier call can pass for this one's */
    int rc = ckpt_load(dst, &ck, err, errlen);
    if (rc == 0) {
        ckpt_free(&ck);
        snprintf(err, errlen, "loaded without an error");
    }
    return rc != 0 && strstr(err, want) != NULL;
}

static char *read_all(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(*n > 0 ? *n : 1);
    if (fread(buf, 1, *n, f) != (size_t)*n) { free(buf); buf = NULL; }
    fclose(f);
    return buf;
}

/* the atomic writer's temporaries of path (core/afile.h): files in its
 * folder named ".<name>.<pid>.<hex>.tmp" */
static int temp_files_of(const char *path) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    char prefix[256];
    snprintf(prefix, sizeof prefix, ".%s.", base);
    if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
    DIR *d = opendir(dir);
    int k = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        k += strncmp(e->d_name, prefix, strlen(prefix)) == 0 && n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0;
    }
    if (d) closedir(d);
    return k;
}

static void test_checkpoint(void) {
    size_t n;
    int *tok = synthetic_tokens(&n);
    corpus_t corpus;
    char err[512];
    config_t c;
    config_preset(&c, "tiny");
    corpus_split(&corpus, tok, n, c.T, err, sizeof err);
    train_opts o;
    train_opts_default(&o);
    o.lr_steps = 20;
    tokenizer_t tk;
    tokenizer_build(&tk, TOK_BYTES, "", 0, 256, err, sizeof err);
    char path[] = "/tmp/cllm-test-ckpt-XXXXXX";
    int fd = mkstemp(path);
    close(fd);

    trainer_t *a = trainer_create(&c, &o, 2, &corpus, err, sizeof err);
    for (int s = 0; s < 10; s++) trainer_step(a);
    size_t np = trainer_nparams(a);
    EXPECT(ckpt_save(path, &c, &tk, trainer_steps_done(a), &o, trainer_params(a),
                     trainer_adam_m(a), trainer_adam_v(a), np, err, sizeof err) == 0, "save: %s", err);
    float next_a = trainer_step(a);

    ckpt_t ck;
    EXPECT(ckpt_load(path, &ck, err, sizeof err) == 0, "load: %s", err);
    trainer_t *b = trainer_create(&ck.cfg, &o, 2, &corpus, err, sizeof err);
    memcpy(trainer_params(b), ck.params, np * sizeof(float));
    memcpy(trainer_adam_m(b), ck.m, np * sizeof(float));
    memcpy(trainer_adam_v(b), ck.v, np * sizeof(float));
    trainer_set_steps_done(b, ck.step);
    EXPECT(ck.step == 10 && memcmp(&ck.cfg.V, &c.V, 7 * sizeof(int)) == 0, "checkpoint header: step %ld", ck.step);
    float next_b = trainer_step(b);
    EXPECT(memcmp(&next_a, &next_b, sizeof(float)) == 0, "resumed loss %.9g differs from %.9g", next_b, next_a);
    float a2 = trainer_step(a), b2 = trainer_step(b);
    EXPECT(memcmp(&a2, &b2, sizeof(float)) == 0 &&
           memcmp(trainer_params(a), trainer_params(b), np * sizeof(float)) == 0,
           "parameters diverge after resuming");
    ckpt_free(&ck);
    trainer_free(a);
    trainer_free(b);

    /* every corruption is named */
    char bad[] = "/tmp/cllm-test-bad-XXXXXX";
    fd = mkstemp(bad);
    close(fd);
    EXPECT(corrupt_and_load(path, bad, 0, -1, "bad magic", err, sizeof err), "magic: %s", err);
    EXPECT(corrupt_and_load(path, bad, 8, -1, "version", err, sizeof err), "version: %s", err);
    EXPECT(corrupt_and_load(path, bad, 20, -1, "header checksum", err, sizeof err), "header: %s", err);
    EXPECT(corrupt_and_load(path, bad, 5000, -1, "payload checksum", err, sizeof err), "payload: %s", err);
    EXPECT(corrupt_and_load(path, bad, -1, 5000, "truncated", err, sizeof err), "truncated: %s", err);
    EXPECT(corrupt_and_load(path, bad, -1, 60, "truncated header", err, sizeof err), "short: %s", err);
    EXPECT(corrupt_and_load(path, bad, -1, 0, "bad magic", err, sizeof err), "empty: %s", err);
    ckpt_t ck2;
    EXPECT(ckpt_load("/nonexistent/ck.bin", &ck2, err, sizeof err) != 0 && strstr(err, "/nonexistent/ck.bin"),
           "missing file: %s", err);
    /* a save that cannot start names the file */
    EXPECT(ckpt_save("/nonexistent-dir/ck.bin", &c, &tk, 1, &o, ck2.params, ck2.m, ck2.v, 0, err, sizeof err) != 0 &&
           strstr(err, "/nonexistent-dir/ck.bin"), "unwritable save: %s", err);
    /* a save that fails while writing (a file size limit, SIGXFSZ ignored so
     * write() returns EFBIG) over an existing checkpoint: the error names the
     * file, the old file is byte-identical, and no temporary file is left */
    long n_old, n_new;
    char *old = read_all(path, &n_old);
    float *zeros = calloc(np, sizeof(float));
    struct rlimit fs_was, fs_small = { 4096, 4096 };
    getrlimit(RLIMIT_FSIZE, &fs_was);
    fs_small.rlim_max = fs_was.rlim_max;
    void (*xfsz_was)(int) = signal(SIGXFSZ, SIG_IGN);
    EXPECT(setrlimit(RLIMIT_FSIZE, &fs_small) == 0, "cannot lower RLIMIT_FSIZE");
    err[0] = 0;
    int save_rc = ckpt_save(path, &c, &tk, 99, &o, zeros, zeros, zeros, np, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &fs_was);
    signal(SIGXFSZ, xfsz_was);
    EXPECT(save_rc != 0 && strstr(err, path) && strstr(err, "File too large"),
           "save past the file size limit: rc %d, '%s'", save_rc, err);
    char *now = read_all(path, &n_new);
    EXPECT(old && now && n_old == n_new && n_old > 4096 && memcmp(old, now, n_old) == 0,
           "the old checkpoint changed under a failed save (%ld -> %ld bytes)", n_old, n_new);
    EXPECT(temp_files_of(path) == 0, "a failed save left %d temporary file(s) by %s", temp_files_of(path), path);
    free(old); free(now); free(zeros);
    unlink(bad);
    unlink(path);
    tokenizer_free(&tk);
    free(tok);
}

/* ---------------------------------------------------------------- config, memory */

static void test_config(void) {
    char err[256];
    config_t c;
    EXPECT(config_preset(&c, "nope") != 0, "unknown preset accepted");
    config_t p;
    for (int i = 0; config_at(i, &p) == 0; i++) {
        EXPECT(config_preset(&c, p.name) == 0 && config_validate(&c, err, sizeof err) == 0,
               "preset %s: %s", p.name, err);
    }
    config_preset(&c, "tiny");
    c.NH = 3;
    EXPECT(config_validate(&c, err, sizeof err) != 0 && strstr(err, "NH"), "NH not dividing C: %s", err);
    config_preset(&c, "tiny");
    c.L = 0;
    EXPECT(config_validate(&c, err, sizeof err) != 0 && strstr(err, "L"), "L=0: %s", err);
    config_preset(&c, "tiny");
    c.B = -4;
    EXPECT(config_validate(&c, err, sizeof err) != 0 && strstr(err, "B"), "B<0: %s", err);
    config_preset(&c, "tiny");
    c.L = 1024; c.B = 1 << 20; c.T = 1 << 16; c.NH = 4096; c.C = 4096;
    EXPECT(config_validate(&c, err, sizeof err) != 0 && strstr(err, "overflow"), "overflowing sizes: %s", err);
    /* M-sized model at 1024 threads does not fit this machine: refused, named */
    config_preset(&c, "M");
    train_opts o;
    train_opts_default(&o);
    corpus_t dummy = { 0 };
    trainer_t *t = trainer_create(&c, &o, 1024, &dummy, err, sizeof err);
    EXPECT(!t && strstr(err, "memory"), "M at 1024 threads: %s", t ? "accepted" : err);
    trainer_free(t);
    config_preset(&c, "S");
    EXPECT(fabs(config_flops(&c, 4) - (6.0 * 4 * 128 * (12.0 * 6 * 128 * 128 + 256 * 128) +
                                        12.0 * 6 * 4 * 128 * 128 * 128)) < 1, "flops formula");
}

static void test_memtable(void) {
    size_t n;
    int *tok = synthetic_tokens(&n);
    corpus_t corpus;
    char err[256];
    config_t c;
    config_preset(&c, "seed");
    corpus_split(&corpus, tok, n, c.T, err, sizeof err);
    train_opts o;
    train_opts_default(&o);
    int nths[] = { 1, 3, 1, 2 };
    for (int i = 0; i < 4; i++) {
        memtable_t mt;
        o.recompute = i >= 2 ? RECOMPUTE_LAYERS : RECOMPUTE_NONE;
        EXPECT(trainer_memtable(&c, nths[i], 0, o.recompute, &mt, err, sizeof err) == 0, "memtable: %s", err);
        size_t before = mem_allocated();
        trainer_t *t = trainer_create(&c, &o, nths[i], &corpus, err, sizeof err);
        size_t got = mem_allocated() - before;
        EXPECT(t && got == mt.total, "%d threads, recompute %d: allocated %zu bytes, the memory table says %zu",
               nths[i], o.recompute, got, mt.total);
        size_t sum = 0;
        for (int k = 0; k < mt.n_per_thread; k++) sum += mt.per_thread[k].bytes;
        EXPECT(sum <= mt.per_thread_total && mt.per_thread_total - sum < 64 * (size_t)mt.n_per_thread,
               "per-thread items %zu vs padded total %zu", sum, mt.per_thread_total);
        trainer_free(t);
    }
    /* seed-cli, the original CLI's defaults: per worker at most 350 MiB, and
     * at most 160 MiB with --recompute layers (issue 14's budgets) */
    config_t sc;
    config_preset(&sc, "seed-cli");
    memtable_t m0, m1;
    EXPECT(trainer_memtable(&sc, 1, 0, RECOMPUTE_NONE, &m0, err, sizeof err) == 0 &&
           trainer_memtable(&sc, 1, 0, RECOMPUTE_LAYERS, &m1, err, sizeof err) == 0, "seed-cli: %s", err);
    printf("seed-cli per worker: %.1f MiB, %.1f MiB with --recompute layers\n",
           m0.per_thread_total / 1048576.0, m1.per_thread_total / 1048576.0);
    EXPECT(m0.per_thread_total <= (size_t)350 << 20, "seed-cli: %.1f MiB per worker, budget 350",
           m0.per_thread_total / 1048576.0);
    EXPECT(m1.per_thread_total <= (size_t)160 << 20, "seed-cli --recompute layers: %.1f MiB per worker, budget 160",
           m1.per_thread_total / 1048576.0);
    /* the original note's sizes for the buffers it shares with ours (config seed, B=1) */
    memtable_t mt;
    trainer_memtable(&c, 1, 0, RECOMPUTE_NONE, &mt, err, sizeof err);
    int found_encoded = 0, found_res3 = 0;
    for (int k = 0; k < mt.n_per_thread; k++) {
        if (strcmp(mt.per_thread[k].name, "encoded") == 0) {
            found_encoded = 1;
            EXPECT(mt.per_thread[k].bytes == 64 * 1024, "encoded %zu bytes, note says 64 KB", mt.per_thread[k].bytes);
        }
        if (strcmp(mt.per_thread[k].name, "res3") == 0) {
            found_res3 = 1;
            EXPECT(mt.per_thread[k].bytes == 384 * 1024, "res3 %zu bytes, note says 384 KB", mt.per_thread[k].bytes);
        }
    }
    EXPECT(found_encoded && found_res3, "the memory table has no item named %s",
           found_encoded ? "res3" : "encoded");
    free(tok);
}

int main(void) {
    blas_single_thread();
    test_gradcheck();
    test_recompute();
    test_loss_falls();
    test_eval_split();
    test_tokenizers();
    test_checkpoint();
    test_config();
    test_memtable();
    return check_finish("test_model");
}
