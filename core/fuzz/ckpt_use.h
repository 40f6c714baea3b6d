/*
 * ckpt_use.h - what train_model does with a checkpoint that ckpt_load
 * accepted (core/train_model.c, --resume), as checks for the checkpoint
 * fuzz targets: a loaded checkpoint must be safe to train from; and the
 * load-and-check step both checkpoint targets share.
 */
#ifndef CLLM_FUZZ_CKPT_USE_H
#define CLLM_FUZZ_CKPT_USE_H

#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
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

/* ckpt_load on the n bytes of d as a file; a loaded checkpoint goes through
 * ckpt_use, a refused one must name the file */
static void ckpt_load_and_use(const uint8_t *d, size_t n) {
    char path[64], err[1024];
    int fd = fuzz_file(d, n, path, sizeof path);
    if (fd < 0) return;
    ckpt_t ck;
    err[0] = 0;
    int rc = ckpt_load(path, &ck, err, sizeof err);
    if (fuzz_verbose()) fprintf(stderr, "ckpt_load: %s\n", rc == 0 ? "loaded" : err + strlen(path) + 12);
    if (rc == 0) ckpt_use(&ck);
    else FUZZ_CHECK(strstr(err, path) != NULL, "the error does not name the file: '%s'", err);
    ckpt_free(&ck);
    close(fd);
}

#endif
