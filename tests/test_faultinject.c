/*
 * test_faultinject.c - injected failures at every allocation and at every
 * thread creation of the core's load, tokenize, checkpoint and create paths.
 *
 *   allocations   mem_fail_after(n) for n = 0, 1, 2, ... until the path
 *                 succeeds: each failure must come back as an error that says
 *                 "cannot allocate" (or NULL where the API has no message),
 *                 with nothing half-built left behind; under ASan (the
 *                 sanitizer pass of the suite) a double free or a leak on any
 *                 of these paths fails the run
 *   threads       CLLM_FAIL_THREAD_AT=i for every worker index i of a pool
 *                 and of a trainer: an error naming thread i, no hang (an
 *                 alarm ends the test if a failing create does not return),
 *                 no leak
 *
 * test-timeout: 120 (under ASan x3: the 2828 allocation points take about 30 s there)
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ckpt.h"
#include "config.h"
#include "data.h"
#include "pool.h"
#include "report.h"
#include "trainer.h"
#include "util.h"

static char dir[] = "/tmp/cllm-faultinject-XXXXXX";

static void write_file(const char *name, const char *text, size_t len, int copies) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); exit(1); }
    for (int i = 0; i < copies; i++) fwrite(text, 1, len, f);
    fclose(f);
}

/* a corpus folder: two files (one of 300 KB, so the text buffer grows by
 * realloc several times), a subfolder, a binary file, 70 small files (the
 * name list grows past its first 64 slots) and a symlink loop */
static void make_tree(void) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    char p[256];
    snprintf(p, sizeof p, "%s/sub", dir);
    mkdir(p, 0755);
    static const char line[] = "the quick brown fox jumps over the lazy dog\n";
    write_file("a.txt", line, sizeof line - 1, 7000);
    write_file("sub/b.txt", "a cat sat on the mat\n", 21, 3);
    write_file("sub/c.bin", "bin\0ary", 7, 1);
    for (int i = 0; i < 70; i++) {
        char name[32], body[64];
        snprintf(name, sizeof name, "sub/f%02d.txt", i);
        int k = snprintf(body, sizeof body, "word%d other%d\n", i, i * 7);
        write_file(name, body, (size_t)k, 1);
    }
    snprintf(p, sizeof p, "%s/sub/loop", dir);
    if (symlink("..", p) != 0) perror("symlink");
}

static void remove_tree(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* text with `n` distinct words, so the words tokenizer's counting table
 * grows (it starts at 4096 slots and doubles at half full) */
static char *many_words(int n, size_t *len) {
    size_t cap = (size_t)n * 16 + 64, k = 0;
    char *s = malloc(cap);
    for (int i = 0; i < n; i++) k += (size_t)snprintf(s + k, cap - k, "w%d%s", i, i % 10 == 9 ? "\n" : " ");
    *len = k;
    return s;
}

/* ---- each path, run once with the current budget: 0 ok, -1 failed (err set) */

static int path_text_load(char *err, size_t errlen) {
    text_t t;
    if (text_load(&t, dir, err, errlen) != 0) {
        EXPECT(t.text == NULL && t.len == 0, "text_load failed but left %zu bytes of text", t.len);
        return -1;
    }
    text_free(&t);
    return 0;
}

static int path_synthetic(char *err, size_t errlen) {
    text_t t;
    if (text_synthetic(&t, 42, 1 << 12) != 0) { snprintf(err, errlen, "cannot allocate (synthetic)"); return -1; }
    text_free(&t);
    return 0;
}

static char *words_text;
static size_t words_len;

static int path_words(char *err, size_t errlen) {
    tokenizer_t tk;
    if (tokenizer_build(&tk, TOK_WORDS, words_text, words_len, 3000, err, errlen) != 0) {
        EXPECT(tk.words == NULL && tk.pool == NULL && tk.table == NULL, "failed build left a tokenizer behind");
        return -1;
    }
    size_t n;
    int *ids = tokenizer_encode(&tk, words_text, words_len, &n);
    if (!ids) { tokenizer_free(&tk); snprintf(err, errlen, "cannot allocate (encode)"); return -1; }
    tokenizer_t tk2;
    int rc = tokenizer_from_words(&tk2, tk.pool, tk.pool_len, tk.V, err, errlen);
    if (rc == 0) tokenizer_free(&tk2);
    else EXPECT(tk2.words == NULL && tk2.pool == NULL, "failed from_words left a tokenizer behind");
    free(ids);
    tokenizer_free(&tk);
    return rc;
}

static char ckpath[300];

static int path_ckpt_load(char *err, size_t errlen) {
    ckpt_t ck;
    if (ckpt_load(ckpath, &ck, err, errlen) != 0) {
        EXPECT(ck.params == NULL && ck.vocab == NULL, "failed load left arrays behind");
        return -1;
    }
    ckpt_free(&ck);
    return 0;
}

static corpus_t corpus;
static char reportpath[300];

static int path_trainer(char *err, size_t errlen) {
    config_t c;
    config_preset(&c, "tiny");
    train_opts o;
    train_opts_default(&o);
    o.lr_steps = 2;
    trainer_t *t = trainer_create(&c, &o, 3, &corpus, err, errlen);
    if (!t) return -1;
    trainer_step(t);
    float loss = 3.0f;
    double ms = 1.0;
    run_info ri = { "synthetic", "bytes", "test", &loss, &ms, 1, 0, 0.001, NAN, 0, 0, 0.0, 0.0, RECOMPUTE_NONE, NULL, NULL, NULL, 0, NULL, NULL };
    int rc = report_write(reportpath, t, &ri, err, errlen);
    trainer_free(t);
    return rc;
}

/* mem_fail_after(n) for n = 0.. until `fn` succeeds */
static void sweep(const char *name, int (*fn)(char *, size_t)) {
    char err[1024];
    long n = 0;
    int failures = 0, named = 0;
    for (;; n++) {
        snprintf(err, sizeof err, "STALE");
        mem_fail_after(n);
        int rc = fn(err, sizeof err);
        mem_fail_after(-1);
        if (rc == 0) break;
        failures++;
        if (strstr(err, "cannot allocate")) named++;
        else EXPECT(0, "%s: allocation %ld failed with '%s'", name, n, err);
        if (n > 100000) { EXPECT(0, "%s: still failing after %ld allocations", name, n); break; }
    }
    EXPECT(failures > 0, "%s: no allocation point found", name);
    printf("%-28s %5ld allocation points, each failure a clean error (%d messages say 'cannot allocate')\n",
           name, n, named);
}

/* ---- threads */

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "test_faultinject: a failed thread creation hung (alarm)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

static void test_threads(void) {
    char err[512], at[16], want[96];
    for (int nth = 2; nth <= 6; nth += 4) {
        for (int i = 1; i < nth; i++) {
            snprintf(at, sizeof at, "%d", i);
            setenv("CLLM_FAIL_THREAD_AT", at, 1);
            snprintf(want, sizeof want, "cannot create worker thread %d of %d", i, nth);
            for (int rep = 0; rep < 20; rep++) {
                snprintf(err, sizeof err, "STALE");
                alarm(20);
                pool_t *p = pool_create(nth, err, sizeof err);
                alarm(0);
                EXPECT(!p && strstr(err, want), "pool of %d, thread %d fails: %s", nth, i, p ? "created" : err);
                pool_free(p);
            }
            config_t c;
            config_preset(&c, "tiny");
            train_opts o;
            train_opts_default(&o);
            snprintf(err, sizeof err, "STALE");
            alarm(20);
            trainer_t *t = trainer_create(&c, &o, nth, &corpus, err, sizeof err);
            alarm(0);
            EXPECT(!t && strstr(err, want), "trainer of %d, thread %d fails: %s", nth, i, t ? "created" : err);
            trainer_free(t);
        }
    }
    unsetenv("CLLM_FAIL_THREAD_AT");
    alarm(20);
    pool_t *p = pool_create(6, err, sizeof err);
    alarm(0);
    EXPECT(p != NULL, "pool of 6 without injection: %s", err);
    pool_free(p);
    printf("thread creation: failing at every worker index of pools of 2 and 6 gives the error, no hang\n");
}

int main(void) {
    blas_single_thread();
    signal(SIGALRM, on_alarm);
    make_tree();
    words_text = many_words(2600, &words_len);

    /* a words checkpoint and a token corpus for the later paths */
    text_t text;
    char err[512];
    text_synthetic(&text, 42, 1 << 17);
    tokenizer_t tk;
    tokenizer_build(&tk, TOK_WORDS, text.text, text.len, 40, err, sizeof err);
    size_t ntok;
    int *tok = tokenizer_encode(&tk, text.text, text.len, &ntok);
    config_t c;
    config_preset(&c, "tiny");
    c.V = 40;
    snprintf(ckpath, sizeof ckpath, "%s/w.ck", dir);
    snprintf(reportpath, sizeof reportpath, "%s/r.json", dir);
    size_t counts[P_COUNT];
    size_t np = param_counts(&c, counts);
    float *zeros = calloc(np, sizeof(float));
    train_opts o;
    train_opts_default(&o);
    EXPECT(ckpt_save(ckpath, &c, &tk, 3, &o, zeros, zeros, zeros, np, err, sizeof err) == 0, "save: %s", err);
    free(zeros);
    tokenizer_free(&tk);
    text_free(&text);
    free(tok);
    text_synthetic(&text, 42, 1 << 16);
    tokenizer_build(&tk, TOK_BYTES, text.text, text.len, 256, err, sizeof err);
    tok = tokenizer_encode(&tk, text.text, text.len, &ntok);
    corpus_split(&corpus, tok, ntok, 16, err, sizeof err);
    text_free(&text);
    tokenizer_free(&tk);

    sweep("text_load (a folder)", path_text_load);
    sweep("text_synthetic", path_synthetic);
    sweep("words tokenizer", path_words);
    sweep("ckpt_load (words)", path_ckpt_load);
    sweep("trainer + report", path_trainer);
    test_threads();

    free(words_text);
    free(tok);
    remove_tree();
    return check_finish("test_faultinject");
}
