/*
 * ckpt_use.h - what train_model does with a checkpoint that ckpt_load
 * accepted (core/train_model.c, --resume), as checks for the checkpoint
 * fuzz targets: a loaded checkpoint must be what its bytes say and safe to
 * train from; and the load-and-check step both checkpoint targets share.
 */
#ifndef CLLM_FUZZ_CKPT_USE_H
#define CLLM_FUZZ_CKPT_USE_H

#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "crc32c.h"
#include "config.h"
#include "data.h"
#include "fuzz_util.h"
#include "model.h"
#include "trainer.h"

static void ckpt_use(const ckpt_t *ck) {
    char err[512];
    FUZZ_CHECK(config_validate(&ck->cfg, err, sizeof err) == 0, "loaded an invalid config: %s", err);
    size_t counts[P_COUNT];
    FUZZ_CHECK(ck->nparams == param_counts(&ck->cfg, counts), "nparams %zu", ck->nparams);
    FUZZ_CHECK(ck->step >= 0, "negative step %ld", ck->step);
    FUZZ_CHECK(ck->step <= LONG_MAX - (1L << 40), "step %ld overflows step + --steps", ck->step);
    FUZZ_CHECK(ck->params && ck->m && ck->v, "no parameter arrays");
    FUZZ_CHECK(ck->tok_kind == TOK_BYTES || ck->tok_kind == TOK_WORDS, "kind %d", ck->tok_kind);
    /* the parameters are read in full: ASan sees a short buffer */
    volatile float sink = 0;
    for (size_t i = 0; i < ck->nparams; i++) sink += ck->params[i] + ck->m[i] + ck->v[i];
    (void)sink;

    /* the tokenizer, as train_model rebuilds it */
    tokenizer_t tk;
    static const char text[] = "the cat sees the dog\nby the river <unk> <eos> \xff\xfe zz\n";
    int rc;
    if (ck->tok_kind == TOK_WORDS)
        rc = tokenizer_from_words(&tk, ck->vocab, ck->vocab_bytes, ck->tok_words, err, sizeof err);
    else
        rc = tokenizer_build(&tk, TOK_BYTES, text, sizeof text - 1, ck->cfg.V, err, sizeof err);
    if (rc != 0) return;   /* train_model stops with the message */
    FUZZ_CHECK(tk.V <= ck->cfg.V, "tokenizer has %d ids, the model V=%d", tk.V, ck->cfg.V);
    size_t n = 0;
    int *ids = tokenizer_encode(&tk, text, sizeof text - 1, &n);
    FUZZ_CHECK(ids != NULL, "encode failed");
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < ck->cfg.V, "id %d outside the embedding (V=%d)", ids[i], ck->cfg.V);
    char out[256];
    size_t k = tokenizer_decode(&tk, ids, n, out, sizeof out);
    FUZZ_CHECK(k < sizeof out && out[k] == 0, "decode length %zu", k);
    free(ids);
    tokenizer_free(&tk);

    /* the memory table of the loaded config at one thread */
    memtable_t mt;
    trainer_memtable(&ck->cfg, 1, 0, RECOMPUTE_NONE, &mt, err, sizeof err);
}

static uint64_t use_get64(const uint8_t *d, size_t off) { uint64_t v; memcpy(&v, d + off, 8); return v; }

/* The oracle for an accepted checkpoint, from its bytes alone
 * (CHECKPOINT.md), independent of the loader: both checksums hold, the size
 * adds up, and what the loader returned is what the bytes say. A loader that
 * skips a check is caught here on the first input that check should have
 * refused. */
static void ckpt_verify_bytes(const uint8_t *d, size_t n, const ckpt_t *ck) {
    FUZZ_CHECK(n >= 16 && memcmp(d, CKPT_MAGIC, 8) == 0, "accepted without the magic");
    uint32_t version;
    memcpy(&version, d + 8, 4);
    FUZZ_CHECK(version >= 1 && version <= 3 && (int)version == ck->version, "accepted version %u", version);
    size_t hb = version == 1 ? CKPT_HEADER_BYTES_V1 : CKPT_HEADER_BYTES;
    FUZZ_CHECK(n >= hb + 8, "accepted a short header of %zu bytes", n);
    FUZZ_CHECK(use_get64(d, hb) == (version == 3 ? crc32c(0, d, hb) : ckpt_hash(CKPT_HASH_INIT, d, hb)),
               "accepted a wrong header checksum");
    uint64_t vb = use_get64(d, 88), np = use_get64(d, 96);
    FUZZ_CHECK(vb == ck->vocab_bytes && np == ck->nparams, "sizes differ from the header");
    const uint64_t B = CKPT_BLOCK_BYTES;
    uint64_t nblocks = version == 3 ? (vb + B - 1) / B + 3 * ((np * 4 + B - 1) / B) : 0;
    FUZZ_CHECK(vb <= n && np <= n / 12 && n == hb + 8 + vb + 12 * np + 4 * nblocks,
               "accepted %zu bytes for %llu + 12*%llu", n, (unsigned long long)vb, (unsigned long long)np);
    const uint8_t *pl = d + hb + 8;
    if (version == 3) {
        const uint8_t *tab = pl + vb + 12 * np;
        uint64_t k = 0;
        const uint8_t *sec[4] = { pl, pl + vb, pl + vb + 4 * np, pl + vb + 8 * np };
        uint64_t len[4] = { vb, 4 * np, 4 * np, 4 * np };
        for (int q = 0; q < 4; q++)
            for (uint64_t o = 0; o < len[q]; o += B, k++) {
                uint32_t want;
                memcpy(&want, tab + 4 * k, 4);
                FUZZ_CHECK(crc32c(0, sec[q] + o, len[q] - o < B ? len[q] - o : B) == want,
                           "accepted a wrong block checksum (block %llu)", (unsigned long long)k);
            }
    } else {
        uint64_t ps = CKPT_HASH_INIT;
        if (vb) ps = ckpt_hash(ps, pl, vb);
        for (int k = 0; k < 3; k++) ps = ckpt_hash(ps, pl + vb + (size_t)k * np * 4, np * 4);
        FUZZ_CHECK(ps == use_get64(d, 120), "accepted a wrong payload checksum");
    }
    FUZZ_CHECK((uint64_t)ck->step == use_get64(d, 104) && ck->seed == use_get64(d, 112) &&
               ck->opt.seed == ck->seed, "step or seed differ from the header");
    FUZZ_CHECK(ck->has_opts == (version >= 2), "has_opts %d for version %u", ck->has_opts, version);
    if (version >= 2) {
        const float *o[] = { &ck->opt.lr, &ck->opt.min_lr_frac, &ck->opt.wd, &ck->opt.beta1,
                             &ck->opt.beta2, &ck->opt.eps, &ck->opt.clip };
        for (int k = 0; k < 7; k++)
            FUZZ_CHECK(memcmp(o[k], d + 128 + 4 * k, 4) == 0, "training option %d differs from the header", k);
        FUZZ_CHECK(ck->opt.lr >= 0 && ck->opt.beta1 < 1 && ck->opt.beta2 < 1 && ck->opt.eps > 0 &&
                   ck->opt.min_lr_frac <= 1, "accepted training options out of range");
    }
    FUZZ_CHECK(memcmp(ck->params, pl + vb, np * 4) == 0 && memcmp(ck->m, pl + vb + np * 4, np * 4) == 0 &&
               memcmp(ck->v, pl + vb + np * 8, np * 4) == 0, "arrays differ from the file");
    if (vb) FUZZ_CHECK(memcmp(ck->vocab, pl, vb) == 0, "vocabulary differs from the file");
}

/* ckpt_load on the n bytes of d as a file; a loaded checkpoint is checked
 * against its bytes and goes through ckpt_use, a refused one must name the
 * file in a message written by this call */
static void ckpt_load_and_use(const uint8_t *d, size_t n) {
    char path[64], err[1024];
    int fd = fuzz_file(d, n, path, sizeof path);
    if (fd < 0) return;
    ckpt_t ck;
    snprintf(err, sizeof err, "STALE %s", path);     /* a message must be this call's */
    int rc = ckpt_load(path, &ck, err, sizeof err);
    if (fuzz_verbose()) fprintf(stderr, "ckpt_load: %s\n", rc == 0 ? "loaded" : err + strlen(path) + 12);
    if (rc == 0) {
        FUZZ_CHECK(err[0] == 0, "success left a message: '%s'", err);
        ckpt_verify_bytes(d, n, &ck);
        ckpt_use(&ck);
    } else {
        FUZZ_CHECK(strstr(err, path) != NULL, "the error does not name the file: '%s'", err);
        FUZZ_CHECK(strncmp(err, "STALE", 5) != 0, "the error is not this call's: '%s'", err);
    }
    ckpt_free(&ck);
    close(fd);
}

#endif
