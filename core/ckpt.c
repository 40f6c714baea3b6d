/*
 * ckpt.c - checkpoint writer and verifying reader (layout: CHECKPOINT.md).
 */
#include "ckpt.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model.h"
#include "util.h"

/* FNV-1a over 64-bit little-endian words (the tail zero-padded), so a
 * gigabyte of parameters hashes in well under a second. */
uint64_t ckpt_hash(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, p + i, n - i);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    return h;
}

/* header field offsets */
enum {
    H_MAGIC = 0, H_VERSION = 8, H_HDRBYTES = 12,
    H_V = 16, H_C = 20, H_L = 24, H_NH = 28, H_F = 32, H_T = 36, H_B = 40,
    H_TOKKIND = 44, H_TOKWORDS = 48, H_NAME = 52,   /* 32 bytes, NUL-padded */
    H_VOCABBYTES = 88, H_NPARAMS = 96, H_STEP = 104, H_SEED = 112,
    H_PAYLOADSUM = 120,
    /* the header checksum covers bytes [0, 120) and is stored after the
     * header proper, at byte 128, so the header stays 128 bytes + 8 */
};

static void put32(unsigned char *h, int off, uint32_t v) { memcpy(h + off, &v, 4); }
static void put64(unsigned char *h, int off, uint64_t v) { memcpy(h + off, &v, 8); }
static uint32_t get32(const unsigned char *h, int off) { uint32_t v; memcpy(&v, h + off, 4); return v; }
static uint64_t get64(const unsigned char *h, int off) { uint64_t v; memcpy(&v, h + off, 8); return v; }

int ckpt_save(const char *path, const config_t *c, const tokenizer_t *tk, long step,
              unsigned long long seed, const float *params, const float *m,
              const float *v, size_t nparams, char *err, size_t errlen) {
    unsigned char h[CKPT_HEADER_BYTES + 8];
    memset(h, 0, sizeof h);
    memcpy(h + H_MAGIC, CKPT_MAGIC, 8);
    put32(h, H_VERSION, CKPT_VERSION);
    put32(h, H_HDRBYTES, CKPT_HEADER_BYTES);
    int f[7] = { c->V, c->C, c->L, c->NH, c->F, c->T, c->B };
    for (int i = 0; i < 7; i++) put32(h, H_V + 4 * i, (uint32_t)f[i]);
    put32(h, H_TOKKIND, (uint32_t)tk->kind);
    size_t vocab_bytes = tk->kind == TOK_WORDS ? tk->pool_len : 0;
    put32(h, H_TOKWORDS, tk->kind == TOK_WORDS ? (uint32_t)tk->V : 0);
    memcpy(h + H_NAME, c->name, strnlen(c->name, 31));
    put64(h, H_VOCABBYTES, vocab_bytes);
    put64(h, H_NPARAMS, nparams);
    put64(h, H_STEP, (uint64_t)step);
    put64(h, H_SEED, seed);
    uint64_t ps = CKPT_HASH_INIT;
    if (vocab_bytes) ps = ckpt_hash(ps, tk->pool, vocab_bytes);
    ps = ckpt_hash(ps, params, nparams * sizeof(float));
    ps = ckpt_hash(ps, m, nparams * sizeof(float));
    ps = ckpt_hash(ps, v, nparams * sizeof(float));
    put64(h, H_PAYLOADSUM, ps);
    put64(h, CKPT_HEADER_BYTES, ckpt_hash(CKPT_HASH_INIT, h, H_PAYLOADSUM + 8));

    afile a;
    if (afile_open(&a, path, err, errlen) != 0) return -1;
    fwrite(h, 1, sizeof h, a.f);
    if (vocab_bytes) fwrite(tk->pool, 1, vocab_bytes, a.f);
    fwrite(params, sizeof(float), nparams, a.f);
    fwrite(m, sizeof(float), nparams, a.f);
    fwrite(v, sizeof(float), nparams, a.f);
    return afile_commit(&a, err, errlen);
}

int ckpt_load(const char *path, ckpt_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) { snprintf(err, errlen, "cannot read checkpoint %s: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "checkpoint %s: not a regular file", path);
        fclose(fp);
        return -1;
    }
    unsigned char h[CKPT_HEADER_BYTES + 8];
    size_t got = fread(h, 1, sizeof h, fp);
    if (got < 8 || memcmp(h, CKPT_MAGIC, 8) != 0) {
        snprintf(err, errlen, "checkpoint %s: bad magic: not a cllm checkpoint", path);
        goto fail;
    }
    if (got < sizeof h) {
        snprintf(err, errlen, "checkpoint %s: truncated header (%zu of %zu bytes)", path, got, sizeof h);
        goto fail;
    }
    if (get32(h, H_VERSION) != CKPT_VERSION) {
        snprintf(err, errlen, "checkpoint %s: version %u, this build reads version %d",
                 path, get32(h, H_VERSION), CKPT_VERSION);
        goto fail;
    }
    if (get32(h, H_HDRBYTES) != CKPT_HEADER_BYTES) {
        snprintf(err, errlen, "checkpoint %s: header size %u, expected %d", path, get32(h, H_HDRBYTES),
                 CKPT_HEADER_BYTES);
        goto fail;
    }
    if (get64(h, CKPT_HEADER_BYTES) != ckpt_hash(CKPT_HASH_INIT, h, H_PAYLOADSUM + 8)) {
        snprintf(err, errlen, "checkpoint %s: header checksum mismatch (corrupted header)", path);
        goto fail;
    }
    config_t *c = &out->cfg;
    int *f[7] = { &c->V, &c->C, &c->L, &c->NH, &c->F, &c->T, &c->B };
    for (int i = 0; i < 7; i++) *f[i] = (int)get32(h, H_V + 4 * i);
    memcpy(c->name, h + H_NAME, 31);
    c->name[31] = 0;
    char cerr[256];
    if (config_validate(c, cerr, sizeof cerr) != 0) {
        snprintf(err, errlen, "checkpoint %s: invalid config: %s", path, cerr);
        goto fail;
    }
    out->tok_kind = (int)get32(h, H_TOKKIND);
    out->tok_words = (int)get32(h, H_TOKWORDS);
    out->vocab_bytes = get64(h, H_VOCABBYTES);
    out->nparams = get64(h, H_NPARAMS);
    out->step = (long)get64(h, H_STEP);
    out->seed = get64(h, H_SEED);
    if (out->tok_kind != TOK_BYTES && out->tok_kind != TOK_WORDS) {
        snprintf(err, errlen, "checkpoint %s: unknown tokenizer kind %d", path, out->tok_kind);
        goto fail;
    }
    if (out->tok_kind == TOK_WORDS && (out->tok_words <= TOK_SPECIAL || out->tok_words > c->V)) {
        snprintf(err, errlen, "checkpoint %s: words tokenizer of %d ids does not fit V=%d",
                 path, out->tok_words, c->V);
        goto fail;
    }
    size_t counts[P_COUNT];
    size_t np = param_counts(c, counts);
    if (out->nparams != np) {
        snprintf(err, errlen, "checkpoint %s: %zu parameters, the config in its header needs %zu",
                 path, out->nparams, np);
        goto fail;
    }
    if (get64(h, H_STEP) > (1ULL << 40)) {
        snprintf(err, errlen, "checkpoint %s: step %llu is out of range (at most 2^40)", path,
                 (unsigned long long)get64(h, H_STEP));
        goto fail;
    }
    double expect = (double)sizeof h + out->vocab_bytes + 3.0 * np * sizeof(float);
    if ((double)st.st_size != expect) {
        snprintf(err, errlen, "checkpoint %s: %s: the header promises %.0f bytes, the file has %lld",
                 path, (double)st.st_size < expect ? "truncated" : "trailing bytes", expect,
                 (long long)st.st_size);
        goto fail;
    }
    out->vocab = out->vocab_bytes ? malloc(out->vocab_bytes) : NULL;
    out->params = malloc(np * sizeof(float));
    out->m = malloc(np * sizeof(float));
    out->v = malloc(np * sizeof(float));
    if ((out->vocab_bytes && !out->vocab) || !out->params || !out->m || !out->v) {
        snprintf(err, errlen, "checkpoint %s: cannot allocate %zu bytes", path, 3 * np * sizeof(float));
        goto fail;
    }
    if ((out->vocab_bytes && fread(out->vocab, 1, out->vocab_bytes, fp) != out->vocab_bytes) ||
        fread(out->params, sizeof(float), np, fp) != np || fread(out->m, sizeof(float), np, fp) != np ||
        fread(out->v, sizeof(float), np, fp) != np) {
        snprintf(err, errlen, "checkpoint %s: read error", path);
        goto fail;
    }
    uint64_t ps = CKPT_HASH_INIT;
    if (out->vocab_bytes) ps = ckpt_hash(ps, out->vocab, out->vocab_bytes);
    ps = ckpt_hash(ps, out->params, np * sizeof(float));
    ps = ckpt_hash(ps, out->m, np * sizeof(float));
    ps = ckpt_hash(ps, out->v, np * sizeof(float));
    if (ps != get64(h, H_PAYLOADSUM)) {
        snprintf(err, errlen, "checkpoint %s: payload checksum mismatch (corrupted data)", path);
        goto fail;
    }
    fclose(fp);
    return 0;
fail:
    fclose(fp);
    ckpt_free(out);
    return -1;
}

void ckpt_free(ckpt_t *c) {
    free(c->vocab);
    free(c->params);
    free(c->m);
    free(c->v);
    memset(c, 0, sizeof *c);
}
