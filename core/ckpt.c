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

/* header field offsets (CHECKPOINT.md); [0, 128) is the same in both
 * versions, the training options of version 2 follow */
enum {
    H_MAGIC = 0, H_VERSION = 8, H_HDRBYTES = 12,
    H_V = 16, H_C = 20, H_L = 24, H_NH = 28, H_F = 32, H_T = 36, H_B = 40,
    H_TOKKIND = 44, H_TOKWORDS = 48, H_NAME = 52,   /* 32 bytes, NUL-padded */
    H_VOCABBYTES = 88, H_NPARAMS = 96, H_STEP = 104, H_SEED = 112,
    H_PAYLOADSUM = 120,
    /* version 2 */
    H_LR = 128, H_MINLR = 132, H_WD = 136, H_BETA1 = 140, H_BETA2 = 144, H_EPS = 148,
    H_CLIP = 152, H_WARMUP = 156, H_LRSTEPS = 160, H_SCALING = 168,
    /* the header checksum covers bytes [0, header size) and is stored right
     * after them: at 128 (version 1) or 256 (version 2) */
};

static void put32(unsigned char *h, int off, uint32_t v) { memcpy(h + off, &v, 4); }
static void put64(unsigned char *h, int off, uint64_t v) { memcpy(h + off, &v, 8); }
static void putf(unsigned char *h, int off, float v) { memcpy(h + off, &v, 4); }
static uint32_t get32(const unsigned char *h, int off) { uint32_t v; memcpy(&v, h + off, 4); return v; }
static uint64_t get64(const unsigned char *h, int off) { uint64_t v; memcpy(&v, h + off, 8); return v; }
static float getf(const unsigned char *h, int off) { float v; memcpy(&v, h + off, 4); return v; }

int ckpt_save(const char *path, const config_t *c, const tokenizer_t *tk, long step,
              const train_opts *o, const float *params, const float *m,
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
    put64(h, H_SEED, o->seed);
    putf(h, H_LR, o->lr);
    putf(h, H_MINLR, o->min_lr_frac);
    putf(h, H_WD, o->wd);
    putf(h, H_BETA1, o->beta1);
    putf(h, H_BETA2, o->beta2);
    putf(h, H_EPS, o->eps);
    putf(h, H_CLIP, o->clip);
    put32(h, H_WARMUP, (uint32_t)o->warmup);
    put64(h, H_LRSTEPS, (uint64_t)o->lr_steps);
    put32(h, H_SCALING, o->strong ? 1 : 0);
    uint64_t ps = CKPT_HASH_INIT;
    if (vocab_bytes) ps = ckpt_hash(ps, tk->pool, vocab_bytes);
    ps = ckpt_hash(ps, params, nparams * sizeof(float));
    ps = ckpt_hash(ps, m, nparams * sizeof(float));
    ps = ckpt_hash(ps, v, nparams * sizeof(float));
    put64(h, H_PAYLOADSUM, ps);
    put64(h, CKPT_HEADER_BYTES, ckpt_hash(CKPT_HASH_INIT, h, CKPT_HEADER_BYTES));

    afile a;
    if (afile_open(&a, path, err, errlen) != 0) return -1;
    fwrite(h, 1, sizeof h, a.f);
    if (vocab_bytes) fwrite(tk->pool, 1, vocab_bytes, a.f);
    fwrite(params, sizeof(float), nparams, a.f);
    fwrite(m, sizeof(float), nparams, a.f);
    fwrite(v, sizeof(float), nparams, a.f);
    return afile_commit(&a, err, errlen);
}

/* version 2's training options from header h into o: 0, or -1 with err
 * naming the first one out of the ranges the CLI accepts */
static int read_opts(const unsigned char *h, train_opts *o, const char *path, char *err, size_t errlen) {
    const struct { const char *name; int off; double lo, hi; int lo_open, hi_open; } f[] = {
        { "lr", H_LR, 0, 1e6, 0, 0 },       { "min_lr_frac", H_MINLR, 0, 1, 0, 0 },
        { "wd", H_WD, 0, 10, 0, 0 },         { "beta1", H_BETA1, 0, 1, 0, 1 },
        { "beta2", H_BETA2, 0, 1, 0, 1 },    { "eps", H_EPS, 0, 1, 1, 0 },
        { "clip", H_CLIP, 0, 1e6, 0, 0 },
    };
    float *dst[] = { &o->lr, &o->min_lr_frac, &o->wd, &o->beta1, &o->beta2, &o->eps, &o->clip };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        double x = getf(h, f[i].off);
        int ok = x >= f[i].lo && x <= f[i].hi && !(f[i].lo_open && x == f[i].lo) &&
                 !(f[i].hi_open && x == f[i].hi);   /* false for NaN */
        if (!ok) {
            snprintf(err, errlen, "checkpoint %s: training option %s = %g is out of range %s%g..%g%s",
                     path, f[i].name, x, f[i].lo_open ? "(" : "", f[i].lo, f[i].hi, f[i].hi_open ? ")" : "");
            return -1;
        }
        *dst[i] = (float)x;
    }
    uint32_t warmup = get32(h, H_WARMUP), scaling = get32(h, H_SCALING);
    uint64_t lr_steps = get64(h, H_LRSTEPS);
    if (warmup > (1u << 30)) {
        snprintf(err, errlen, "checkpoint %s: training option warmup = %u is out of range 0..%u",
                 path, warmup, 1u << 30);
        return -1;
    }
    if (lr_steps > (1ULL << 40)) {
        snprintf(err, errlen, "checkpoint %s: training option lr_steps = %llu is out of range 0..2^40",
                 path, (unsigned long long)lr_steps);
        return -1;
    }
    if (scaling > 1) {
        snprintf(err, errlen, "checkpoint %s: training option scaling = %u is neither 0 (weak) nor 1 (strong)",
                 path, scaling);
        return -1;
    }
    o->warmup = (int)warmup;
    o->lr_steps = (long)lr_steps;
    o->strong = (int)scaling;
    return 0;
}

int ckpt_load(const char *path, ckpt_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (errlen) err[0] = 0;
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
    if (got < 16) {
        snprintf(err, errlen, "checkpoint %s: truncated header (%zu of at least %d bytes)", path, got,
                 CKPT_HEADER_BYTES_V1 + 8);
        goto fail;
    }
    uint32_t version = get32(h, H_VERSION);
    if (version != 1 && version != 2) {
        snprintf(err, errlen, "checkpoint %s: version %u, this build reads versions 1 and 2", path, version);
        goto fail;
    }
    size_t hb = version == 1 ? CKPT_HEADER_BYTES_V1 : CKPT_HEADER_BYTES;
    if (get32(h, H_HDRBYTES) != hb) {
        snprintf(err, errlen, "checkpoint %s: header size %u, version %u has %zu", path,
                 get32(h, H_HDRBYTES), version, hb);
        goto fail;
    }
    if (got < hb + 8) {
        snprintf(err, errlen, "checkpoint %s: truncated header (%zu of %zu bytes)", path, got, hb + 8);
        goto fail;
    }
    if (get64(h, (int)hb) != ckpt_hash(CKPT_HASH_INIT, h, hb)) {
        snprintf(err, errlen, "checkpoint %s: header checksum mismatch (corrupted header)", path);
        goto fail;
    }
    out->version = (int)version;
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
    train_opts_default(&out->opt);
    if (version >= 2) {
        if (read_opts(h, &out->opt, path, err, errlen) != 0) goto fail;
        out->has_opts = 1;
    }
    out->opt.seed = out->seed;
    double expect = (double)hb + 8 + out->vocab_bytes + 3.0 * np * sizeof(float);
    if ((double)st.st_size != expect) {
        snprintf(err, errlen, "checkpoint %s: %s: the header promises %.0f bytes, the file has %lld",
                 path, (double)st.st_size < expect ? "truncated" : "trailing bytes", expect,
                 (long long)st.st_size);
        goto fail;
    }
    if (fseek(fp, (long)(hb + 8), SEEK_SET) != 0) {
        snprintf(err, errlen, "checkpoint %s: cannot seek past the header: %s", path, strerror(errno));
        goto fail;
    }
    out->vocab = out->vocab_bytes ? xmalloc(out->vocab_bytes) : NULL;
    out->params = xmalloc(np * sizeof(float));
    out->m = xmalloc(np * sizeof(float));
    out->v = xmalloc(np * sizeof(float));
    if ((out->vocab_bytes && !out->vocab) || !out->params || !out->m || !out->v) {
        snprintf(err, errlen, "checkpoint %s: cannot allocate %zu bytes for its payload", path,
                 out->vocab_bytes + 3 * np * sizeof(float));
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
