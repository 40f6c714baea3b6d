/*
 * ckpt.c - checkpoint writer and verifying reader (layout: CHECKPOINT.md).
 */
#include "ckpt.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "afile.h"
#include "crc32c.h"
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
    H_PAYLOADSUM = 120,                             /* versions 1 and 2 */
    H_BLOCKBYTES = 120, H_SUMKIND = 124,            /* version 3 */
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

/* the payload's sections in file order (CHECKPOINT.md): the words
 * tokenizer's vocabulary (none for bytes), parameters, Adam m, Adam v */
typedef struct { void *p; size_t bytes; const char *name; } section;

static int sections_of(section s[4], const void *vocab, size_t vocab_bytes, const float *params,
                       const float *m, const float *v, size_t nparams) {
    int k = 0;
    if (vocab_bytes) s[k++] = (section){ (void *)vocab, vocab_bytes, "vocabulary" };
    s[k++] = (section){ (void *)params, nparams * sizeof(float), "parameters" };
    s[k++] = (section){ (void *)m, nparams * sizeof(float), "Adam first moments" };
    s[k++] = (section){ (void *)v, nparams * sizeof(float), "Adam second moments" };
    return k;
}

static size_t blocks_of(size_t bytes) { return (bytes + CKPT_BLOCK_BYTES - 1) / CKPT_BLOCK_BYTES; }

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
    put32(h, H_BLOCKBYTES, CKPT_BLOCK_BYTES);
    put32(h, H_SUMKIND, CKPT_SUM_CRC32C);
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
    put64(h, CKPT_HEADER_BYTES, crc32c(0, h, CKPT_HEADER_BYTES));

    section s[4];
    int ns = sections_of(s, tk->pool, vocab_bytes, params, m, v, nparams);
    size_t nblocks = 0;
    for (int k = 0; k < ns; k++) nblocks += blocks_of(s[k].bytes);
    uint32_t *sums = xmalloc(nblocks * sizeof *sums);
    if (!sums) {
        snprintf(err, errlen, "cannot write %s: cannot allocate %zu bytes for its checksums", path,
                 nblocks * sizeof *sums);
        return -1;
    }
    afile a;
    if (afile_open(&a, path, err, errlen) != 0) { free(sums); return -1; }
    int bad = afile_write(&a, h, sizeof h);
    /* each chunk checksummed right before it is written, while it is in cache */
    uint32_t *sum = sums;
    const size_t chunk = 3 * (size_t)CKPT_BLOCK_BYTES;
    for (int k = 0; k < ns && !bad; k++) {
        const unsigned char *p = s[k].p;
        for (size_t off = 0; off < s[k].bytes && !bad; off += chunk) {
            size_t n = MIN(chunk, s[k].bytes - off);
            crc32c_blocks(p + off, n, CKPT_BLOCK_BYTES, sum);
            sum += blocks_of(n);
            bad = afile_write(&a, p + off, n);
        }
    }
    if (!bad) bad = afile_write(&a, sums, nblocks * sizeof *sums);
    free(sums);
    return afile_commit(&a, err, errlen);   /* a failed write fails here, naming the file */
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

/* where a checkpoint is read from: a file descriptor or memory */
typedef struct { int fd; const unsigned char *mem; size_t len; } source;

/* n bytes at off into dst: 0, or -1 (errno set; EIO for a short file) */
static int src_read(const source *s, void *dst, size_t n, size_t off) {
    if (s->mem) {
        if (off > s->len || n > s->len - off) { errno = EIO; return -1; }
        memcpy(dst, s->mem + off, n);
        return 0;
    }
    unsigned char *d = dst;
    while (n) {
        ssize_t r = pread(s->fd, d, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { if (r == 0) errno = EIO; return -1; }
        d += r; n -= (size_t)r; off += (size_t)r;
    }
    return 0;
}

/* Version 1 and 2's payload checksum: FNV over the sections (CHECKPOINT.md),
 * read in chunks of whole 8-byte words so it equals one call per section.
 * Version 3's: one CRC-32C per block, against the table after the payload. */
static int read_payload(const source *src, const section *s, int ns, size_t start, int version,
                        uint64_t fnv_sum, const uint32_t *table, const char *path, char *err, size_t errlen) {
    uint64_t ps = CKPT_HASH_INIT;
    const size_t chunk = 3 * (size_t)CKPT_BLOCK_BYTES;
    size_t off = start, blk = 0;
    for (int k = 0; k < ns; k++) {
        unsigned char *p = s[k].p;
        for (size_t o = 0; o < s[k].bytes; o += chunk) {
            size_t n = MIN(chunk, s[k].bytes - o);
            if (src_read(src, p + o, n, off + o) != 0) {
                snprintf(err, errlen, "checkpoint %s: read error in the %s: %s", path, s[k].name, strerror(errno));
                return -1;
            }
            if (version < 3) { ps = ckpt_hash(ps, p + o, n); continue; }
            uint32_t got[3];
            crc32c_blocks(p + o, n, CKPT_BLOCK_BYTES, got);
            for (size_t b = 0; b < blocks_of(n); b++, blk++) {
                if (got[b] == table[blk]) continue;
                size_t b0 = off + o + b * CKPT_BLOCK_BYTES, b1 = MIN(b0 + CKPT_BLOCK_BYTES, off + s[k].bytes);
                snprintf(err, errlen, "checkpoint %s: payload checksum mismatch (CRC-32C of block %zu, bytes "
                         "%zu..%zu of the file, in the %s): corrupted data", path, blk, b0, b1 - 1, s[k].name);
                return -1;
            }
        }
        off += s[k].bytes;
    }
    if (version < 3 && ps != fnv_sum) {
        snprintf(err, errlen, "checkpoint %s: payload checksum mismatch (corrupted data)", path);
        return -1;
    }
    return 0;
}

/* the note added to a refusal made before the header checksum was checked:
 * whether the bytes hold a version 3 header whose checksum matches */
static const char *header_note(const unsigned char *h, size_t got) {
    if (got >= CKPT_HEADER_BYTES + 8 && get64(h, CKPT_HEADER_BYTES) == crc32c(0, h, CKPT_HEADER_BYTES)) return "";
    return " (nor does a version 3 header checksum match: a corrupted header or not a checkpoint)";
}

static int load(const source *src, size_t file_len, const char *path, ckpt_t *out, char *err, size_t errlen) {
    unsigned char h[CKPT_HEADER_BYTES + 8];
    uint32_t *table = NULL;
    size_t got = MIN(sizeof h, file_len);
    memset(h, 0, sizeof h);
    if (src_read(src, h, got, 0) != 0) {
        snprintf(err, errlen, "cannot read checkpoint %s: %s", path, strerror(errno));
        return -1;
    }
    if (got < 8 || memcmp(h, CKPT_MAGIC, 8) != 0) {
        snprintf(err, errlen, "checkpoint %s: bad magic: not a cllm checkpoint%s", path, header_note(h, got));
        goto fail;
    }
    if (got < 16) {
        snprintf(err, errlen, "checkpoint %s: truncated header (%zu of at least %d bytes)", path, got,
                 CKPT_HEADER_BYTES_V1 + 8);
        goto fail;
    }
    uint32_t version = get32(h, H_VERSION);
    if (version < 1 || version > 3) {
        snprintf(err, errlen, "checkpoint %s: version %u, this build reads versions 1 to 3%s", path, version,
                 header_note(h, got));
        goto fail;
    }
    size_t hb = version == 1 ? CKPT_HEADER_BYTES_V1 : CKPT_HEADER_BYTES;
    if (get32(h, H_HDRBYTES) != hb) {
        snprintf(err, errlen, "checkpoint %s: header size %u, version %u has %zu%s", path,
                 get32(h, H_HDRBYTES), version, hb, header_note(h, got));
        goto fail;
    }
    if (got < hb + 8) {
        snprintf(err, errlen, "checkpoint %s: truncated header (%zu of %zu bytes)", path, got, hb + 8);
        goto fail;
    }
    if (version == 3 ? get64(h, hb) != crc32c(0, h, hb) : get64(h, (int)hb) != ckpt_hash(CKPT_HASH_INIT, h, hb)) {
        snprintf(err, errlen, "checkpoint %s: header checksum mismatch (%s over bytes 0..%zu): corrupted header",
                 path, version == 3 ? "CRC-32C" : "FNV-1a", hb - 1);
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
    if (out->tok_kind == TOK_BYTES && out->vocab_bytes) {
        snprintf(err, errlen, "checkpoint %s: a bytes tokenizer with %zu vocabulary bytes", path, out->vocab_bytes);
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
    if (version == 3 && (get32(h, H_BLOCKBYTES) != CKPT_BLOCK_BYTES || get32(h, H_SUMKIND) != CKPT_SUM_CRC32C)) {
        snprintf(err, errlen, "checkpoint %s: checksum kind %u over blocks of %u bytes, this build reads kind %d "
                 "(CRC-32C) over blocks of %d", path, get32(h, H_SUMKIND), get32(h, H_BLOCKBYTES),
                 CKPT_SUM_CRC32C, CKPT_BLOCK_BYTES);
        goto fail;
    }
    train_opts_default(&out->opt);
    if (version >= 2) {
        if (read_opts(h, &out->opt, path, err, errlen) != 0) goto fail;
        out->has_opts = 1;
    }
    out->opt.seed = out->seed;
    if (out->vocab_bytes > ((size_t)1 << 40)) {
        snprintf(err, errlen, "checkpoint %s: %zu vocabulary bytes is out of range", path, out->vocab_bytes);
        goto fail;
    }
    section s[4];
    int ns = sections_of(s, NULL, out->vocab_bytes, NULL, NULL, NULL, np);
    size_t nblocks = 0;
    for (int k = 0; k < ns; k++) nblocks += blocks_of(s[k].bytes);
    double expect = (double)hb + 8 + out->vocab_bytes + 3.0 * np * sizeof(float) +
                    (version == 3 ? 4.0 * nblocks : 0.0);
    if ((double)file_len != expect) {
        snprintf(err, errlen, "checkpoint %s: %s: the header promises %.0f bytes, the file has %zu",
                 path, (double)file_len < expect ? "truncated" : "trailing bytes", expect, file_len);
        goto fail;
    }
    out->vocab = out->vocab_bytes ? xmalloc(out->vocab_bytes) : NULL;
    out->params = xmalloc(np * sizeof(float));
    out->m = xmalloc(np * sizeof(float));
    out->v = xmalloc(np * sizeof(float));
    table = version == 3 ? xmalloc(nblocks * sizeof *table) : NULL;
    if ((out->vocab_bytes && !out->vocab) || !out->params || !out->m || !out->v || (version == 3 && !table)) {
        snprintf(err, errlen, "checkpoint %s: cannot allocate %zu bytes for its payload", path,
                 out->vocab_bytes + 3 * np * sizeof(float));
        goto fail;
    }
    size_t start = hb + 8, payload = out->vocab_bytes + 3 * np * sizeof(float);
    if (version == 3 && src_read(src, table, nblocks * sizeof *table, start + payload) != 0) {
        snprintf(err, errlen, "checkpoint %s: read error in the checksum table: %s", path, strerror(errno));
        goto fail;
    }
    ns = sections_of(s, out->vocab, out->vocab_bytes, out->params, out->m, out->v, np);
    if (read_payload(src, s, ns, start, (int)version, get64(h, H_PAYLOADSUM), table, path, err, errlen) != 0)
        goto fail;
    free(table);
    return 0;
fail:
    free(table);
    ckpt_free(out);
    return -1;
}

int ckpt_load(const char *path, ckpt_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (errlen) err[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(err, errlen, "cannot read checkpoint %s: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "checkpoint %s: not a regular file", path);
        close(fd);
        return -1;
    }
    source src = { fd, NULL, 0 };
    int rc = load(&src, (size_t)st.st_size, path, out, err, errlen);
    close(fd);
    return rc;
}

int ckpt_load_mem(const void *buf, size_t len, const char *name, ckpt_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (errlen) err[0] = 0;
    source src = { -1, buf, len };
    return load(&src, len, name, out, err, errlen);
}

void ckpt_free(ckpt_t *c) {
    free(c->vocab);
    free(c->params);
    free(c->m);
    free(c->v);
    memset(c, 0, sizeof *c);
}
