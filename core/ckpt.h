/*
 * ckpt.h - checkpoints: config, tokenizer vocabulary, parameters, Adam state
 * and step, behind a header with magic, version, sizes and checksums.
 * The format is documented in core/CHECKPOINT.md.
 */
#ifndef CLLM_CKPT_H
#define CLLM_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CKPT_MAGIC "CLLMCKPT"
#define CKPT_VERSION 1
#define CKPT_HEADER_BYTES 128

/* The checksum (CHECKPOINT.md): FNV-1a over 64-bit little-endian words,
 * the tail of each call's bytes zero-padded. Start from CKPT_HASH_INIT. */
#define CKPT_HASH_INIT 0xcbf29ce484222325ULL
uint64_t ckpt_hash(uint64_t h, const void *data, size_t n);

typedef struct {
    config_t cfg;
    int tok_kind;
    int tok_words;          /* words tokenizer: number of ids (0 for bytes) */
    char *vocab;            /* NUL-separated words */
    size_t vocab_bytes;
    long step;
    unsigned long long seed;
    size_t nparams;
    float *params, *m, *v;
} ckpt_t;

/* Write atomically (temp file + fsync + rename); on failure the previous
 * file at path is untouched and no temp file is left. 0, or -1 with err. */
int ckpt_save(const char *path, const config_t *c, const tokenizer_t *tk, long step,
              unsigned long long seed, const float *params, const float *m,
              const float *v, size_t nparams, char *err, size_t errlen);
/* Read and verify everything: magic, version, header checksum, config
 * validity, sizes against the file length, payload checksum. -1 with err
 * naming the first check that failed. */
int ckpt_load(const char *path, ckpt_t *out, char *err, size_t errlen);
void ckpt_free(ckpt_t *c);

#ifdef __cplusplus
}
#endif

#endif
