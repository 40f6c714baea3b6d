/*
 * test_ckpt.c - the checkpoint loader check by check (core/CHECKPOINT.md):
 * each corruption is made to fail exactly one check, with the checksums
 * fixed up so that the earlier checks pass, and must come back with that
 * check's own message, naming the file, written by that call (err is filled
 * with a stale text before every call, and a successful load must leave it
 * empty). Also: the training options round-trip bit for bit, and the same
 * checkpoint rewritten as version 2 (FNV checksums, no block table) and as
 * version 1 (128-byte header) loads, version 1 with its seed and no options,
 * and a flipped payload bit in either is refused by its old checksum.
 * tests/test_ckpt_flips.c flips bits of a version 3 file by the thousand.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ckpt.h"
#include "config.h"
#include "crc32c.h"
#include "data.h"
#include "model.h"
#include "trainer.h"
#include "util.h"

static char dir[] = "/tmp/cllm-test-ckpt-XXXXXX";
static char good[300], bad[300];
static unsigned char *orig;
static size_t orig_n;

static void put32(unsigned char *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void put64(unsigned char *b, size_t off, uint64_t v) { memcpy(b + off, &v, 8); }
static void putf(unsigned char *b, size_t off, float v) { memcpy(b + off, &v, 4); }

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 64);
    if (fread(b, 1, *n, f) != *n) { perror(path); exit(1); }
    fclose(f);
    return b;
}

static void write_all(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) { perror(path); exit(1); }
    fclose(f);
}

/* the header checksum of a version 3 header, recomputed */
static void fix_header(unsigned char *b) { put64(b, 256, crc32c(0, b, 256)); }

static size_t pool_len;     /* the vocabulary's bytes: the payload starts at 264 */

/* The checkpoint orig as version 1 or 2: the FNV payload checksum at 120,
 * the header (128 or 256 bytes) and its FNV checksum, the payload, no block
 * table. *n: its length. */
static unsigned char *legacy(int version, size_t np, size_t *n) {
    size_t hb = version == 1 ? 128 : 256, payload = pool_len + 12 * np;
    unsigned char *b = malloc(hb + 8 + payload);
    memcpy(b, orig, hb);
    memcpy(b + hb + 8, orig + 264, payload);
    put32(b, 8, (uint32_t)version);
    put32(b, 12, (uint32_t)hb);
    const unsigned char *pl = orig + 264;
    uint64_t ps = ckpt_hash(CKPT_HASH_INIT, pl, pool_len);
    for (int k = 0; k < 3; k++) ps = ckpt_hash(ps, pl + pool_len + k * 4 * np, 4 * np);
    put64(b, 120, ps);
    put64(b, hb, ckpt_hash(CKPT_HASH_INIT, b, hb));
    *n = hb + 8 + payload;
    return b;
}

/* load `path`; 1 when it failed with a message naming the file, holding
 * `want`, written by this call */
static int fails_with(const char *path, const char *want, char *err, size_t errlen) {
    snprintf(err, errlen, "STALE message of an earlier call");
    ckpt_t ck;
    int rc = ckpt_load(path, &ck, err, errlen);
    if (rc == 0) { ckpt_free(&ck); snprintf(err, errlen, "(loaded)"); return 0; }
    return strstr(err, want) != NULL && strstr(err, path) != NULL && strstr(err, "STALE") == NULL;
}

/* a copy of the good file with `edit` applied, header checksum fixed when
 * fix is set, cut or extended to n bytes (n = 0: the same length) */
typedef void (*edit_fn)(unsigned char *b);
static void case_fails(const char *what, edit_fn edit, int fix, size_t n, const char *want) {
    unsigned char *b = malloc(orig_n + 64);
    memcpy(b, orig, orig_n);
    memset(b + orig_n, 0, 64);
    if (edit) edit(b);
    if (fix) fix_header(b);
    write_all(bad, b, n ? n : orig_n);
    free(b);
    char err[1024];
    int ok = fails_with(bad, want, err, sizeof err);
    EXPECT(ok, "%s: expected '%s', got '%s'", what, want, err);
}

static void e_magic(unsigned char *b) { b[3] ^= 0x20; }
static void e_version(unsigned char *b) { put32(b, 8, 4); }
static void e_hdrsize(unsigned char *b) { put32(b, 12, 128); }
static void e_config_bits(unsigned char *b) { b[20] ^= 1; }
static void e_nh(unsigned char *b) { put32(b, 28, 3); }
static void e_tokkind(unsigned char *b) { put32(b, 44, 7); }
static void e_tokwords(unsigned char *b) { put32(b, 48, 100); }
static void e_nparams(unsigned char *b) { put64(b, 96, 225); }
static void e_step(unsigned char *b) { put64(b, 104, (1ULL << 40) + 1); }
static void e_lr(unsigned char *b) { putf(b, 128, NAN); }
static void e_minlr(unsigned char *b) { putf(b, 132, 1.5f); }
static void e_wd(unsigned char *b) { putf(b, 136, -1.0f); }
static void e_beta1(unsigned char *b) { putf(b, 140, 1.0f); }
static void e_beta2(unsigned char *b) { putf(b, 144, -0.1f); }
static void e_eps(unsigned char *b) { putf(b, 148, 0.0f); }
static void e_clip(unsigned char *b) { putf(b, 152, INFINITY); }
static void e_warmup(unsigned char *b) { put32(b, 156, (1u << 30) + 1); }
static void e_lrsteps(unsigned char *b) { put64(b, 160, (1ULL << 40) + 1); }
static void e_scaling(unsigned char *b) { put32(b, 168, 2); }
static void e_blocks(unsigned char *b) { put32(b, 120, 4096); }
static void e_payload(unsigned char *b) { b[264 + pool_len + 5] ^= 0x40; }
static void e_vocab(unsigned char *b) { b[270] ^= 0x01; }
static void e_table(unsigned char *b) { b[orig_n - 3] ^= 0x40; }

static void test_each_check(void) {
    char err[1024];
    case_fails("magic", e_magic, 0, 0, "bad magic");
    case_fails("one byte", NULL, 0, 1, "bad magic");
    write_all(bad, orig, 0);
    EXPECT(fails_with(bad, "bad magic", err, sizeof err), "empty file: %s", err);
    case_fails("12 bytes", NULL, 0, 12, "truncated header (12 of at least 136 bytes)");
    case_fails("version 4", e_version, 0, 0, "version 4, this build reads versions 1 to 3");
    case_fails("header size", e_hdrsize, 0, 0, "header size 128, version 3 has 256");
    case_fails("short v2 header", NULL, 0, 200, "truncated header (200 of 264 bytes)");
    case_fails("header checksum", e_config_bits, 0, 0, "header checksum mismatch");
    case_fails("config", e_nh, 1, 0, "invalid config: config field NH=3 does not divide C=4");
    case_fails("tokenizer kind", e_tokkind, 1, 0, "unknown tokenizer kind 7");
    case_fails("tokenizer size", e_tokwords, 1, 0, "words tokenizer of 100 ids does not fit V=16");
    case_fails("parameter count", e_nparams, 1, 0, "225 parameters, the config in its header needs 224");
    case_fails("step", e_step, 1, 0, "step 1099511627777 is out of range");
    case_fails("lr", e_lr, 1, 0, "training option lr = nan is out of range 0..1e+06");
    case_fails("min_lr_frac", e_minlr, 1, 0, "training option min_lr_frac = 1.5 is out of range 0..1");
    case_fails("wd", e_wd, 1, 0, "training option wd = -1 is out of range 0..10");
    case_fails("beta1", e_beta1, 1, 0, "training option beta1 = 1 is out of range 0..1)");
    case_fails("beta2", e_beta2, 1, 0, "training option beta2 = -0.1 is out of range");
    case_fails("eps", e_eps, 1, 0, "training option eps = 0 is out of range (0..1");
    case_fails("clip", e_clip, 1, 0, "training option clip = inf is out of range");
    case_fails("warmup", e_warmup, 1, 0, "training option warmup = 1073741825 is out of range");
    case_fails("lr_steps", e_lrsteps, 1, 0, "training option lr_steps = 1099511627777 is out of range");
    case_fails("scaling", e_scaling, 1, 0, "training option scaling = 2 is neither");
    case_fails("block size", e_blocks, 1, 0, "checksum kind 1 over blocks of 4096 bytes, this build reads");
    case_fails("truncated payload", NULL, 0, orig_n - 4, "truncated: the header promises");
    case_fails("trailing bytes", NULL, 0, orig_n + 8, "trailing bytes: the header promises");
    case_fails("payload (params)", e_payload, 0, 0, "payload checksum mismatch");
    case_fails("payload (vocabulary)", e_vocab, 0, 0, "payload checksum mismatch (CRC-32C of block 0, bytes 264..");
    case_fails("payload (block table)", e_table, 0, 0, "payload checksum mismatch (CRC-32C of block 3, bytes 2113..3008 of the file, in the Adam second moments)");
    EXPECT(fails_with(dir, "not a regular file", err, sizeof err), "a directory: %s", err);
    char missing[320];
    snprintf(missing, sizeof missing, "%s/none.ck", dir);
    EXPECT(fails_with(missing, "cannot read checkpoint", err, sizeof err), "missing file: %s", err);

    /* success after a failure: the message is this call's, empty */
    snprintf(err, sizeof err, "STALE message of an earlier call");
    ckpt_t ck;
    EXPECT(ckpt_load(good, &ck, err, sizeof err) == 0 && err[0] == 0, "a good load left err '%s'", err);
    ckpt_free(&ck);
}

static void test_versions(const train_opts *o, const tokenizer_t *tk, size_t np) {
    char err[1024];
    ckpt_t ck;
    EXPECT(ckpt_load(good, &ck, err, sizeof err) == 0, "load: %s", err);
    EXPECT(ck.version == 3 && ck.has_opts == 1, "version %d has_opts %d", ck.version, ck.has_opts);
    const float *a[] = { &o->lr, &o->min_lr_frac, &o->wd, &o->beta1, &o->beta2, &o->eps, &o->clip };
    const float *b[] = { &ck.opt.lr, &ck.opt.min_lr_frac, &ck.opt.wd, &ck.opt.beta1, &ck.opt.beta2,
                         &ck.opt.eps, &ck.opt.clip };
    int same = 1;
    for (int i = 0; i < 7; i++) same &= memcmp(a[i], b[i], sizeof(float)) == 0;
    EXPECT(same && ck.opt.warmup == o->warmup && ck.opt.lr_steps == o->lr_steps &&
           ck.opt.strong == o->strong && ck.opt.seed == o->seed && ck.seed == o->seed && ck.step == 7,
           "training options do not round-trip");
    EXPECT(ck.tok_kind == TOK_WORDS && ck.tok_words == tk->V && ck.vocab_bytes == tk->pool_len &&
           memcmp(ck.vocab, tk->pool, tk->pool_len) == 0, "vocabulary does not round-trip");
    ckpt_free(&ck);

    /* version 2: the same header and payload, FNV checksums, no block table */
    size_t n2;
    unsigned char *v2 = legacy(2, np, &n2);
    char p2[320];
    snprintf(p2, sizeof p2, "%s/v2.ck", dir);
    write_all(p2, v2, n2);
    snprintf(err, sizeof err, "STALE");
    EXPECT(ckpt_load(p2, &ck, err, sizeof err) == 0 && err[0] == 0, "version 2 load: %s", err);
    EXPECT(ck.version == 2 && ck.has_opts == 1 && ck.opt.lr == o->lr && ck.step == 7 &&
           memcmp(ck.params, orig + 264 + pool_len, 4 * np) == 0, "version 2: version %d has_opts %d",
           ck.version, ck.has_opts);
    ckpt_free(&ck);
    v2[264 + pool_len + 9] ^= 0x08;
    write_all(p2, v2, n2);
    EXPECT(fails_with(p2, "payload checksum mismatch (corrupted data)", err, sizeof err), "v2 flip: %s", err);
    v2[264 + pool_len + 9] ^= 0x08;
    v2[40] ^= 0x02;
    write_all(p2, v2, n2);
    EXPECT(fails_with(p2, "header checksum mismatch (FNV-1a", err, sizeof err), "v2 header flip: %s", err);
    free(v2);

    /* version 1: header [0, 128), its checksum at 128, payload at 136 */
    size_t n1;
    unsigned char *v1 = legacy(1, np, &n1);
    char p1[320];
    snprintf(p1, sizeof p1, "%s/v1.ck", dir);
    write_all(p1, v1, n1);
    snprintf(err, sizeof err, "STALE");
    EXPECT(ckpt_load(p1, &ck, err, sizeof err) == 0 && err[0] == 0, "version 1 load: %s", err);
    train_opts def;
    train_opts_default(&def);
    EXPECT(ck.version == 1 && ck.has_opts == 0 && ck.seed == o->seed && ck.opt.seed == o->seed &&
           ck.opt.lr == def.lr && ck.opt.lr_steps == def.lr_steps && ck.step == 7,
           "version 1: version %d has_opts %d seed %llu", ck.version, ck.has_opts, ck.seed);
    ckpt_free(&ck);
    /* a version 1 header with the version 2 header size, and cut short */
    put32(v1, 12, 256);
    write_all(p1, v1, n1);
    EXPECT(fails_with(p1, "header size 256, version 1 has 128", err, sizeof err), "v1 size: %s", err);
    put32(v1, 12, 128);
    write_all(p1, v1, 100);
    EXPECT(fails_with(p1, "truncated header (100 of 136 bytes)", err, sizeof err), "v1 short: %s", err);
    v1[136 + pool_len + 3] ^= 0x80;
    write_all(p1, v1, n1);
    EXPECT(fails_with(p1, "payload checksum mismatch (corrupted data)", err, sizeof err), "v1 flip: %s", err);
    free(v1);
}

int main(void) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(good, sizeof good, "%s/good.ck", dir);
    snprintf(bad, sizeof bad, "%s/bad.ck", dir);
    /* a small words model: V=16 C=4 L=1 NH=1 F=4 T=4 B=1, 224 parameters */
    config_t c = { "small", 16, 4, 1, 1, 4, 4, 1 };
    static const char text[] = "the cat sees the dog\nthe dog sees a bird by the river\na cat\n";
    tokenizer_t tk;
    char err[512];
    EXPECT(tokenizer_build(&tk, TOK_WORDS, text, sizeof text - 1, 16, err, sizeof err) == 0, "%s", err);
    size_t counts[P_COUNT];
    size_t np = param_counts(&c, counts);
    float *p = malloc(3 * np * sizeof(float));
    rng_t r = { 5 };
    for (size_t i = 0; i < 3 * np; i++) p[i] = rng_normal(&r);
    train_opts o;
    train_opts_default(&o);
    o.lr = 3e-3f; o.min_lr_frac = 0.25f; o.wd = 0.05f; o.beta1 = 0.8f; o.beta2 = 0.99f;
    o.eps = 1e-6f; o.clip = 0.5f; o.warmup = 3; o.lr_steps = 40; o.seed = 987654321; o.strong = 1;
    EXPECT(ckpt_save(good, &c, &tk, 7, &o, p, p + np, p + 2 * np, np, err, sizeof err) == 0, "save: %s", err);
    orig = read_all(good, &orig_n);
    pool_len = tk.pool_len;
    /* four sections of one block each: four CRCs after the payload */
    EXPECT(orig_n == 264 + tk.pool_len + 12 * np + 16, "file of %zu bytes", orig_n);

    test_each_check();
    test_versions(&o, &tk, np);

    free(orig);
    free(p);
    tokenizer_free(&tk);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_finish("test_ckpt");
}
