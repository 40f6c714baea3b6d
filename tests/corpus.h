/*
 * corpus.h - the tests' training corpus: 256 KiB of the built-in synthetic
 * text (seed 42), byte tokens, split for sequences of T tokens. Returns the
 * token array (the corpus points into it; free it at the end).
 */
#ifndef CLLM_TEST_CORPUS_H
#define CLLM_TEST_CORPUS_H

#include "data.h"

static int *test_corpus(corpus_t *corpus, int T) {
    text_t text;
    text_synthetic(&text, 42, 1 << 18);
    tokenizer_t tk;
    char err[256];
    tokenizer_build(&tk, TOK_BYTES, text.text, text.len, 256, err, sizeof err);
    size_t n;
    int *tokens = tokenizer_encode(&tk, text.text, text.len, &n);
    corpus_split(corpus, tokens, n, T, err, sizeof err);
    text_free(&text);
    tokenizer_free(&tk);
    return tokens;
}

#endif
