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
#define CKPT_VERSION 3          /* written; versions 1, 2 and 3 are read */
#define CKPT_HEADER_BYTES 256   /* versions 2 and 3; version 1 has 128 */
#define CKPT_HEADER_BYTES_V1 128
/* Version 3's checksum: CRC-32C (crc32c.h) of the header, and of each block
 * of CKPT_BLOCK_BYTES of each payload section, the block CRCs in a table
 * after the payload. 1 MiB blocks: CRC-32C keeps Hamming distance 4 up to
 * 2^31 - 33 data bits (CHECKPOINT.md cites the table), 256 times longer. */
#define CKPT_BLOCK_BYTES (1 << 20)
#define CKPT_SUM_CRC32C 1

/* The checksum of versions 1 and 2 (CHECKPOINT.md), read only: FNV-1a over
 * 64-bit little-endian words, the tail of each call's bytes zero-padded.
 * Start from CKPT_HASH_INIT. Also a cheap fingerprint (ranks comparing their
 * inputs), not a guard against corruption: pairs of top-bit flips cancel. */
#define CKPT_HASH_INIT 0xcbf29ce484222325ULL
uint64_t ckpt_hash(uint64_t h, const void *data, size_t n);

typedef struct {
    int version;            /* 1, 2 or 3, as read */
    config_t cfg;
    int tok_kind;
    int tok_words;          /* words tokenizer: number of ids (0 for bytes) */
    char *vocab;            /* NUL-separated words */
    size_t vocab_bytes;
    long step;
    unsigned long long seed;
    /* the training options of the run that saved it (versions 2, 3; a version
     * 1 file holds only the seed: has_opts 0, opt is the library default
     * with that seed). opt.timing is not stored (always 1 here). */
    int has_opts;
    train_opts opt;
    size_t nparams;
    float *params, *m, *v;
} ckpt_t;

/* Write a version 3 checkpoint atomically and durably (core/afile.h) with
 * the training options o (lr_steps as the schedule uses it: the CLI stores
 * the horizon it resolved); on failure the previous file at path is
 * untouched and no temp file is left. 0, or -1 with err. */
int ckpt_save(const char *path, const config_t *c, const tokenizer_t *tk, long step,
              const train_opts *o, const float *params, const float *m,
              const float *v, size_t nparams, char *err, size_t errlen);
/* Read and verify everything: magic, version, header size, header checksum,
 * config validity, tokenizer, sizes, the training options (versions 2, 3),
 * the checksum kind and block size (version 3), the file length, then the
 * payload checksum(s). -1 with err naming the file and the first check that
 * failed (a checksum failure names the checksum, and the block for version
 * 3); on success err is the empty string (every call writes it, so a caller
 * never reads the message of an earlier call). */
int ckpt_load(const char *path, ckpt_t *out, char *err, size_t errlen);
/* The same from the len bytes at buf (name is the file named in err). */
int ckpt_load_mem(const void *buf, size_t len, const char *name, ckpt_t *out, char *err, size_t errlen);
void ckpt_free(ckpt_t *c);

#ifdef __cplusplus
}
#endif

#endif
