/*
 * ckpt.h - checkpoints: config, tokenizer vocabulary, parameters, Adam state,
 * step and training options, behind a header with magic, version, sizes and
 * checksums.
 * The format is documented in core/CHECKPOINT.md.
 */
#ifndef CLLM_CKPT_H
#define CLLM_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "data.h"
#include "trainer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CKPT_MAGIC "CLLMCKPT"
#define CKPT_VERSION 2          /* written; versions 1 and 2 are read */
#define CKPT_HEADER_BYTES 256   /* version 2; version 1 has 128 */
#define CKPT_HEADER_BYTES_V1 128

/* The checksum (CHECKPOINT.md): FNV-1a over 64-bit little-endian words,
 * the tail of each call's bytes zero-padded. Start from CKPT_HASH_INIT. */
#define CKPT_HASH_INIT 0xcbf29ce484222325ULL
uint64_t ckpt_hash(uint64_t h, const void *data, size_t n);

typedef struct {
    int version;            /* 1 or 2, as read */
    config_t cfg;
    int tok_kind;
    int tok_words;          /* words tokenizer: number of ids (0 for bytes) */
    char *vocab;            /* NUL-separated words */
    size_t vocab_bytes;
    long step;
    unsigned long long seed;
    /* the training options of the run that saved it (version 2; a version
     * 1 file holds only the seed: has_opts 0, opt is the library default
     * with that seed). opt.timing is not stored (always 1 here). */
    int has_opts;
    train_opts opt;
    size_t nparams;
    float *params, *m, *v;
} ckpt_t;

/* Write a version 2 checkpoint atomically (temp file + fsync + rename) with
 * the training options o (lr_steps as the schedule uses it: the CLI stores
 * the horizon it resolved); on failure the previous file at path is
 * untouched and no temp file is left. 0, or -1 with err. */
int ckpt_save(const char *path, const config_t *c, const tokenizer_t *tk, long step,
              const train_opts *o, const float *params, const float *m,
              const float *v, size_t nparams, char *err, size_t errlen);
/* Read and verify everything: magic, version, header checksum, config
 * validity, tokenizer, sizes against the file length, the training options
 * (version 2), payload checksum. -1 with err naming the file and the first
 * check that failed; on success err is the empty string (every call writes
 * it, so a caller never reads the message of an earlier call). */
int ckpt_load(const char *path, ckpt_t *out, char *err, size_t errlen);
void ckpt_free(ckpt_t *c);

#ifdef __cplusplus
}
#endif

#endif
