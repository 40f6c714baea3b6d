/*
 * test_ckpt_flips.c - flipped bits in a checkpoint are refused, and the
 * refusal names the checksum (core/CHECKPOINT.md, format 3). Against the
 * loader itself (ckpt_load_mem: the file's bytes in memory), so thousands of
 * corrupted files take a second:
 *   - a checkpoint of config tiny (bytes tokenizer, the shape of `train_model
 *     --config tiny --save`): every single-bit flip of its 264-byte header, a
 *     sample of 10,000 bit positions of the rest (payload and block table),
 *     the two sign bits of issue 21 (bit 7 of bytes 271 and 279: FNV's pairs
 *     of top bits cancelled) and every two-bit flip within the 16 bytes
 *     holding them;
 *   - a small words checkpoint (vocabulary section too): every two-bit flip
 *     within 64-byte windows across the header's end, the vocabulary, a
 *     section boundary, a random place and the block table.
 * tests/test_ckpt_integrity.sh does the sign bits once more through the CLI.
 * The sampled part is smaller under the sanitizers (a SKIP line says so).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ckpt.h"
#include "config.h"
#include "data.h"
#include "model.h"
#include "trainer.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static char dir[] = "/tmp/cllm-test-flips-XXXXXX";

/* save a checkpoint of config c with random parameters and moments; its
 * bytes in *n */
static unsigned char *make(const config_t *c, const tokenizer_t *tk, size_t *n) {
    size_t counts[P_COUNT], np = param_counts(c, counts);
    float *p = malloc(3 * np * sizeof(float));
    rng_t r = { 11 };
    for (size_t i = 0; i < 3 * np; i++) p[i] = rng_normal(&r);
    train_opts o;
    train_opts_default(&o);
    char path[300], err[1024];
    snprintf(path, sizeof path, "%s/%s.ck", dir, c->name);
    EXPECT(ckpt_save(path, c, tk, 2, &o, p, p + np, p + 2 * np, np, err, sizeof err) == 0, "save: %s", err);
    free(p);
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n) { perror(path); exit(1); }
    fclose(f);
    return b;
}

/* 1 when b loads; else 0 with err holding the refusal */
static int loads(const unsigned char *b, size_t n, char *err, size_t errlen) {
    ckpt_t ck;
    if (ckpt_load_mem(b, n, "flipped.ck", &ck, err, errlen) != 0) return 0;
    ckpt_free(&ck);
    return 1;
}

typedef struct { long tried, accepted, unnamed; char first[1024]; } tally;

/* flip the bits at bit positions i and j (j < 0: only i), load, count */
static void try_flip(unsigned char *b, size_t n, long i, long j, tally *t) {
    char err[1024];
    b[i / 8] ^= (unsigned char)(1u << (i % 8));
    if (j >= 0) b[j / 8] ^= (unsigned char)(1u << (j % 8));
    t->tried++;
    if (loads(b, n, err, sizeof err)) {
        if (!t->accepted && !t->unnamed) snprintf(t->first, sizeof t->first, "bits %ld,%ld accepted", i, j);
        t->accepted++;
    } else if (!strstr(err, "checksum")) {
        if (!t->accepted && !t->unnamed) snprintf(t->first, sizeof t->first, "bits %ld,%ld: %.900s", i, j, err);
        t->unnamed++;
    }
    b[i / 8] ^= (unsigned char)(1u << (i % 8));
    if (j >= 0) b[j / 8] ^= (unsigned char)(1u << (j % 8));
}

static void report(const char *what, const tally *t) {
    EXPECT(t->tried > 0 && t->accepted == 0 && t->unnamed == 0,
           "%s: %ld tried, %ld accepted, %ld refused without naming the checksum (first: %s)", what, t->tried,
           t->accepted, t->unnamed, t->first);
    printf("  %-58s %7ld flipped files, all refused naming the checksum\n", what, t->tried);
}

/* every two-bit flip within the `len` bytes from byte `at` */
static void window(unsigned char *b, size_t n, size_t at, size_t len, const char *what) {
    tally t = { 0 };
    long lo = (long)at * 8, hi = (long)(at + len < n ? at + len : n) * 8;
    for (long i = lo; i < hi; i++)
        for (long j = i + 1; j < hi; j++) try_flip(b, n, i, j, &t);
    char name[160];
    snprintf(name, sizeof name, "every 2-bit flip in bytes %zu..%zu (%s)", at, at + len - 1, what);
    report(name, &t);
}

int main(void) {
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char err[1024];

    /* ---- config tiny, bytes tokenizer */
    config_t c;
    config_preset(&c, "tiny");
    tokenizer_t tk;
    static const char text[] = "bytes";
    EXPECT(tokenizer_build(&tk, TOK_BYTES, text, sizeof text - 1, c.V, err, sizeof err) == 0, "%s", err);
    size_t n;
    unsigned char *b = make(&c, &tk, &n);
    EXPECT(loads(b, n, err, sizeof err), "the unflipped tiny checkpoint does not load: %s", err);
    tally t = { 0 };
    for (long i = 0; i < 264 * 8; i++) try_flip(b, n, i, -1, &t);
    report("every 1-bit flip of the header (tiny)", &t);
    memset(&t, 0, sizeof t);
    uint64_t r = 0x9e3779b97f4a7c15ULL;
    int sample = SANITIZED ? 1000 : 10000;
    if (SANITIZED) SKIP("sanitizer build: 1,000 payload positions instead of 10,000");
    for (int k = 0; k < sample; k++) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        try_flip(b, n, 264 * 8 + (long)(r % ((n - 264) * 8)), -1, &t);
    }
    report("1-bit flips at sampled payload and table positions (tiny)", &t);
    memset(&t, 0, sizeof t);
    try_flip(b, n, 271 * 8 + 7, 279 * 8 + 7, &t);
    report("the sign bits of bytes 271 and 279 together (issue 21)", &t);
    char msg[1024];
    b[271] ^= 0x80; b[279] ^= 0x80;
    EXPECT(!loads(b, n, msg, sizeof msg) && strstr(msg, "payload checksum mismatch (CRC-32C of block 0"),
           "sign bits: %s", msg);
    b[271] ^= 0x80; b[279] ^= 0x80;
    /* 16 bytes here (8,128 loads of 400 KB); the 64-byte windows are the small checkpoint's */
    window(b, n, 264, 16, "tiny: the first parameters, bytes 271 and 279");
    free(b);
    tokenizer_free(&tk);

    /* ---- a small words model: a vocabulary section, every section boundary close */
    config_t s = { "small", 16, 4, 1, 1, 4, 4, 1 };
    static const char words[] = "the cat sees the dog\nthe dog sees a bird by the river\na cat\n";
    EXPECT(tokenizer_build(&tk, TOK_WORDS, words, sizeof words - 1, 16, err, sizeof err) == 0, "%s", err);
    b = make(&s, &tk, &n);
    EXPECT(loads(b, n, err, sizeof err), "the unflipped small checkpoint does not load: %s", err);
    size_t counts[P_COUNT], np = param_counts(&s, counts), params_at = 264 + tk.pool_len;
    window(b, n, 232, 64, "small: the header's end, its checksum, the vocabulary");
    window(b, n, params_at - 32, 64, "small: vocabulary into parameters");
    window(b, n, params_at + 4 * np - 32, 64, "small: parameters into Adam m");
    window(b, n, params_at + 7 * np, 64, "small: inside Adam v");
    window(b, n, n - 64, 64, "small: Adam v's end and the block table");
    free(b);
    tokenizer_free(&tk);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_finish("test_ckpt_flips");
}
