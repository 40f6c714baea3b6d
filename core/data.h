/*
 * data.h - text in, tokens out: the corpus loader (a file or a directory read
 * recursively), the built-in synthetic corpus, the two tokenizers and the
 * deterministic batch sampler.
 */
#ifndef CLLM_DATA_H
#define CLLM_DATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char *text;
    size_t len;
    int files;          /* files read */
    int skipped_nul;    /* files skipped because they hold NUL bytes */
    int skipped_dirs;   /* links to a directory the walk had read already
                           (a symlink loop such as /usr/bin/X11 -> .) */
} text_t;

/* Read path (a regular file, or a directory walked recursively, following
 * symlinks, files in name order). Each directory, identified by device and
 * inode, is read once: a link to one already read is skipped and counted in
 * skipped_dirs. Returns 0, or -1 with err naming the path and the reason:
 * missing, unreadable, out of memory, or no text at all. */
int text_load(text_t *t, const char *path, char *err, size_t errlen);
/* The built-in corpus: about `bytes` of deterministic sentences from a small
 * grammar (structure a model can learn), seeded. */
int text_synthetic(text_t *t, unsigned long long seed, size_t bytes);
void text_free(text_t *t);

enum { TOK_BYTES = 0, TOK_WORDS = 1 };
enum { TOK_PAD = 0, TOK_UNK = 1, TOK_BOS = 2, TOK_EOS = 3, TOK_SPECIAL = 4 };

typedef struct {
    int kind;
    int V;              /* ids in use: 256 for bytes, specials + words for words */
    char **words;       /* words: id -> word (NULL for bytes) */
    char *pool;         /* storage of the words */
    size_t pool_len;
    int *table;         /* open addressing hash: word -> id, -1 empty */
    size_t cap;
} tokenizer_t;

/* bytes: V = 256. words: lowercase, whitespace split; PAD UNK BOS EOS then the
 * most frequent words (ties in byte order) up to vmax ids in all; a newline
 * ends a line with EOS. Returns 0 or -1 with err. */
int tokenizer_build(tokenizer_t *tk, int kind, const char *text, size_t len, int vmax,
                    char *err, size_t errlen);
/* Rebuild a words tokenizer from its word list (checkpoint): n words,
 * NUL-separated in buf. */
int tokenizer_from_words(tokenizer_t *tk, const char *buf, size_t len, int n,
                         char *err, size_t errlen);
/* Encode into a malloc'ed array; *n gets the count. NULL on allocation failure. */
int *tokenizer_encode(const tokenizer_t *tk, const char *text, size_t len, size_t *n);
/* Decode n ids into buf (NUL-terminated, truncated to cap). Returns length. */
size_t tokenizer_decode(const tokenizer_t *tk, const int *ids, size_t n, char *buf, size_t cap);
void tokenizer_free(tokenizer_t *tk);

/* Tokens split into training (first ntrain) and validation (the rest). */
typedef struct {
    int *tok;
    size_t n, ntrain;
} corpus_t;

/* Split: the last 10% (at least T+1 tokens) is validation. -1 with err when
 * there are too few tokens for sequences of length T in both parts. */
int corpus_split(corpus_t *c, int *tok, size_t n, int T, char *err, size_t errlen);

/* Fill sequence g of step `step` deterministically from (seed, step, g):
 * inp = tok[pos .. pos+T), tgt = tok[pos+1 .. pos+T]. val selects the split. */
void corpus_sample(const corpus_t *c, int val, uint64_t seed, uint64_t step, uint64_t g,
                   int T, int *inp, int *tgt);

#ifdef __cplusplus
}
#endif

#endif
