/*
 * fuzz_ckpt_fixed.c - structure-aware fuzzing of ckpt_load: the input is a
 * checkpoint whose checksums are recomputed before loading, so mutations get
 * past the header checksum to the config, tokenizer, size and payload
 * checks. A custom mutator sets header fields to edge values, resizes the
 * payload to what the header promises, and writes word lists.
 *
 * Layout (core/ckpt.c, CHECKPOINT.md): version 1 has a 128-byte header,
 * versions 2 and 3 a 256-byte one (the training options at 128..172); the
 * header checksum follows the header, then vocabulary bytes, params, Adam m,
 * Adam v; version 3 then has a CRC-32C per 1 MiB block of each section
 * (versions 1 and 2: one FNV-1a payload checksum at 120). Byte 84 of the header is unused by both versions; here it steers the
 * fix-up:
 *   bit 0 set: keep the header checksum as it is (reach the mismatch error)
 *   bit 1 set: keep the payload checksum as it is (reach that mismatch: a
 *              loader that skipped the check is caught by ckpt_use.h's
 *              independent verification of what it accepted)
 * If the format changes, update the offsets below with it.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "crc32c.h"
#include "ckpt_use.h"
#include "fuzz_util.h"
#include "model.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

enum {
    H_VERSION = 8, H_HDRBYTES = 12, H_V = 16, H_TOKKIND = 44, H_TOKWORDS = 48, H_NAME = 52,
    H_CONTROL = 84, H_VOCABBYTES = 88, H_NPARAMS = 96, H_STEP = 104, H_SEED = 112,
    H_PAYLOADSUM = 120,
    /* version 2 training options */
    H_LR = 128, H_WARMUP = 156, H_LRSTEPS = 160, H_SCALING = 168,
    H_END_V1 = 136,           /* smallest header + checksum */
};

static uint32_t get32(const uint8_t *h, int off) { uint32_t v; memcpy(&v, h + off, 4); return v; }
static uint64_t get64(const uint8_t *h, int off) { uint64_t v; memcpy(&v, h + off, 8); return v; }
static void put32(uint8_t *h, int off, uint32_t v) { memcpy(h + off, &v, 4); }
static void put64(uint8_t *h, int off, uint64_t v) { memcpy(h + off, &v, 8); }

/* where the header checksum is (= the header size) for b's version field */
static size_t sum_at(const uint8_t *b) { return get32(b, H_VERSION) == 1 ? 128 : 256; }

/* Recompute the checksums the way ckpt_save does, unless byte 84 says not to. */
static void fix_sums(uint8_t *b, size_t n) {
    if (n < H_END_V1) return;
    size_t hs = sum_at(b), end = hs + 8;
    if (n < end) return;
    uint8_t ctl = b[H_CONTROL];
    int v3 = get32(b, H_VERSION) == 3;
    if (!(ctl & 2)) {
        uint64_t vb = get64(b, H_VOCABBYTES), np = get64(b, H_NPARAMS);
        uint64_t ps = CKPT_HASH_INIT;
        size_t off = end, left = n - end;
        const uint64_t B = CKPT_BLOCK_BYTES;
        uint64_t nblocks = vb <= left && np <= left / 4 ? (vb + B - 1) / B + 3 * ((np * 4 + B - 1) / B) : 0;
        /* the loader checks vocab, params, m, v separately; when the sizes
         * do not add up the loader stops before the payload sums anyway */
        if (v3 && vb <= left && np <= (left - vb) / 12 && vb + 12 * np + 4 * nblocks == left) {
            uint8_t *tab = b + off + vb + 12 * np;
            uint64_t len[4] = { vb, 4 * np, 4 * np, 4 * np }, k = 0;
            for (int q = 0; q < 4; off += len[q], q++)
                for (uint64_t o = 0; o < len[q]; o += B, k++)
                    put32(tab, (int)(4 * k), crc32c(0, b + off + o, len[q] - o < B ? len[q] - o : B));
        } else if (!v3 && vb <= left && np <= (left - vb) / 12 && vb + 12 * np == left) {
            if (vb) ps = ckpt_hash(ps, b + off, vb);
            off += vb;
            for (int k = 0; k < 3; k++, off += np * 4) ps = ckpt_hash(ps, b + off, np * 4);
            put64(b, H_PAYLOADSUM, ps);
        } else if (!v3) {
            put64(b, H_PAYLOADSUM, ckpt_hash(ps, b + off, left));
        }
    }
    if (!(ctl & 1))
        put64(b, (int)hs, v3 ? crc32c(0, b, hs) : ckpt_hash(CKPT_HASH_INIT, b, hs));
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return 0;
    memcpy(b, d, n);
    fix_sums(b, n);
    ckpt_load_and_use(b, n);
    free(b);
    return 0;
}

// ----------------------------------------------------------------------------
// mutator

static uint64_t rnd(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Resize the payload to what the header promises: nparams from the config
 * (when it is valid), then header + 8 + vocab + 12 * nparams bytes (and
 * version 3's block table). */
static size_t fit_payload(uint8_t *b, size_t n, size_t max, uint64_t *s) {
    const size_t H_END = sum_at(b) + 8;
    config_t c;
    memset(&c, 0, sizeof c);
    int *f[7] = { &c.V, &c.C, &c.L, &c.NH, &c.F, &c.T, &c.B };
    for (int i = 0; i < 7; i++) *f[i] = (int)get32(b, H_V + 4 * i);
    char err[256];
    if (config_validate(&c, err, sizeof err) != 0) return n;
    size_t counts[P_COUNT];
    uint64_t np = param_counts(&c, counts);
    if (max < H_END || np > (max - H_END) / 12) return n;
    put64(b, H_NPARAMS, np);
    uint64_t vb = get64(b, H_VOCABBYTES);
    if (vb > max - H_END - 12 * np) {
        vb = 0;
        put64(b, H_VOCABBYTES, 0);
    }
    size_t want = H_END + vb + 12 * np;
    if (get32(b, H_VERSION) == 3) {      /* the block table */
        const uint64_t B = CKPT_BLOCK_BYTES;
        size_t table = 4 * ((vb + B - 1) / B + 3 * ((np * 4 + B - 1) / B));
        if (want > max || table > max - want) return n;
        want += table;
    }
    for (size_t i = n; i < want; i++) b[i] = rnd(s) % 4 ? 0 : (uint8_t)rnd(s);
    return want;
}

/* A words vocabulary: the specials and k short words (sometimes a repeat or
 * an empty one), put in after the header. */
static size_t make_vocab(uint8_t *b, size_t n, size_t max, uint64_t *s) {
    const size_t H_END = sum_at(b) + 8;
    if (n < H_END) return n;
    char voc[2048];
    size_t len = 0;
    static const char *const sp[] = { "<pad>", "<unk>", "<bos>", "<eos>" };
    for (int i = 0; i < 4; i++) { memcpy(voc + len, sp[i], strlen(sp[i]) + 1); len += strlen(sp[i]) + 1; }
    int k = 1 + (int)(rnd(s) % 40);
    for (int i = 0; i < k && len + 16 < sizeof voc; i++) {
        int wl = (int)(rnd(s) % 6);
        if (rnd(s) % 16 == 0 && i > 0) {
            voc[len++] = 'a';                /* a repeat */
            voc[len++] = 0;
            continue;
        }
        for (int j = 0; j < wl; j++) voc[len++] = (char)('a' + rnd(s) % 26);
        voc[len++] = 0;
    }
    int words = 4 + k + (int)(rnd(s) % 3) - 1;
    if (rnd(s) % 8 == 0 && len) len--;          /* not NUL-terminated */
    size_t oldvb = (size_t)get64(b, H_VOCABBYTES);
    if (oldvb > n - H_END) oldvb = 0;
    size_t rest = n - H_END - oldvb;
    if (H_END + len + rest > max) return n;
    memmove(b + H_END + len, b + H_END + oldvb, rest);
    memcpy(b + H_END, voc, len);
    put32(b, H_TOKKIND, TOK_WORDS);
    put32(b, H_TOKWORDS, (uint32_t)words);
    put64(b, H_VOCABBYTES, len);
    if ((int)get32(b, H_V) < words) put32(b, H_V, (uint32_t)words + (uint32_t)(rnd(s) % 4));
    return fit_payload(b, H_END + len + rest, max, s);
}

/* a version 2 training option set to an edge value: NaN, infinities,
 * negatives, zero, the ends of the accepted ranges and just past them */
static void mutate_option(uint8_t *b, uint64_t *s) {
    static const float vf[] = { 0.0f, -0.0f, 1.0f, -1.0f, 1e-8f, 0.9999999f, 1.0000001f, 10.0f,
                                10.000001f, 1e6f, 1.0000001e6f, 1e30f, 1e-45f };
    uint64_t r = rnd(s) % 12;
    if (r < 7) {                               /* lr min_lr_frac wd beta1 beta2 eps clip */
        float v = rnd(s) % 4 == 0 ? (rnd(s) % 2 ? NAN : (rnd(s) % 2 ? INFINITY : -INFINITY))
                                  : vf[rnd(s) % (sizeof vf / sizeof vf[0])];
        memcpy(b + H_LR + 4 * r, &v, 4);
    } else if (r < 9) {
        static const uint32_t vw[] = { 0, 1, 10, 1u << 30, (1u << 30) + 1, 0xffffffffu };
        put32(b, r == 7 ? H_WARMUP : H_SCALING, r == 8 ? (uint32_t)(rnd(s) % 4) : vw[rnd(s) % 6]);
    } else {
        static const uint64_t vl[] = { 0, 1, 9, 10, 1ull << 40, (1ull << 40) + 1, ~0ull };
        put64(b, H_LRSTEPS, vl[rnd(s) % 7]);
    }
}

size_t LLVMFuzzerCustomMutator(uint8_t *b, size_t n, size_t max, unsigned seed) {
    uint64_t s = seed;
    if (n < H_END_V1 || max < H_END_V1 || n < sum_at(b) + 8) return LLVMFuzzerMutate(b, n, max);
    const size_t H_END = sum_at(b) + 8;
    static const int off32[] = { H_VERSION, H_HDRBYTES, H_V, H_V + 4, H_V + 8, H_V + 12, H_V + 16,
                                 H_V + 20, H_V + 24, H_TOKKIND, H_TOKWORDS };
    static const int off64[] = { H_VOCABBYTES, H_NPARAMS, H_STEP, H_SEED };
    static const uint32_t v32[] = { 0, 1, 2, 3, 4, 5, 7, 8, 16, 255, 256, 257, 4096, 65535, 65536,
                                    65537, 1u << 18, 1u << 20, 1u << 22, (1u << 22) + 1, INT_MAX,
                                    0x80000000u, 0xffffffffu };
    static const uint64_t v64[] = { 0, 1, 7, 8, 9, 4096, 1ull << 31, 1ull << 32, 1ull << 40,
                                    1ull << 62, (uint64_t)LONG_MAX - 5, (uint64_t)LONG_MAX,
                                    1ull << 63, ~0ull };
    switch (rnd(&s) % 10) {
    case 0: case 1: case 2:
        return LLVMFuzzerMutate(b, n, max);
    case 3: case 4: {
        if (rnd(&s) % 2) {
            int off = off32[rnd(&s) % (sizeof off32 / sizeof off32[0])];
            uint32_t v = rnd(&s) % 3 ? v32[rnd(&s) % (sizeof v32 / sizeof v32[0])]
                                     : get32(b, off) + (uint32_t)(rnd(&s) % 3) - 1;
            put32(b, off, v);
        } else {
            int off = off64[rnd(&s) % (sizeof off64 / sizeof off64[0])];
            uint64_t v = rnd(&s) % 3 ? v64[rnd(&s) % (sizeof v64 / sizeof v64[0])]
                                     : get64(b, off) + rnd(&s) % 3 - 1;
            put64(b, off, v);
        }
        return rnd(&s) % 2 ? fit_payload(b, n, max, &s) : n;
    }
    case 5: case 6:
        return fit_payload(b, n, max, &s);
    case 7:
        return make_vocab(b, n, max, &s);
    case 8:
        b[H_CONTROL] = (uint8_t)(rnd(&s) % 8 == 0 ? rnd(&s) % 4 : 0);
        if (rnd(&s) % 4 == 0) b[H_NAME + rnd(&s) % 32] = (uint8_t)rnd(&s);
        if (get32(b, H_VERSION) == 2 && rnd(&s) % 2) mutate_option(b, &s);
        return n;
    default: {
        /* mutate the payload only, keeping the header and the size */
        size_t pl = n - H_END;
        if (!pl) return n;
        size_t k = LLVMFuzzerMutate(b + H_END, pl, pl);
        if (k < pl) memset(b + H_END + k, 0, pl - k);
        return n;
    }
    }
}
