/*
 * fuzz_tokenizer.c - both tokenizers on arbitrary bytes: tokenizer_build
 * (bytes and words, any vmax), tokenizer_encode, tokenizer_decode into
 * buffers of every size, and tokenizer_from_words on arbitrary word lists
 * (what a checkpoint's vocabulary can hold). Invalid UTF-8, NUL bytes,
 * huge words and lines, and empty input all come from the mutator.
 *
 * Input: byte 0 = mode (bit 0: words, bit 1: from_words), bytes 1..4 = vmax
 * or the word count, byte 5 = decode buffer size, then the text / list.
 *
 * Checked: ids in [0, V); encode emits no PAD or BOS; decode stays inside
 * its buffer and NUL-terminates; bytes round-trip exactly; for words,
 * decode(encode(decode(encode(x)))) == decode(encode(x)) (for word lists
 * tokenizer_build can make); a words tokenizer
 * builds from any text when vmax > 4.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "fuzz_util.h"

/* encode, check every id, decode into a buffer of cap bytes */
static int *encode_checked(const tokenizer_t *tk, const char *text, size_t len, size_t *n) {
    int *ids = tokenizer_encode(tk, text, len, n);
    FUZZ_CHECK(ids != NULL, "encode of %zu bytes failed", len);
    for (size_t i = 0; i < *n; i++) {
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < tk->V, "id %d at %zu outside [0, %d)", ids[i], i, tk->V);
        if (tk->kind == TOK_WORDS)
            FUZZ_CHECK(ids[i] != TOK_PAD && ids[i] != TOK_BOS, "encode emitted special id %d", ids[i]);
    }
    return ids;
}

static char *decode_checked(const tokenizer_t *tk, const int *ids, size_t n, size_t cap, size_t *k) {
    char *buf = malloc(cap ? cap : 1);
    FUZZ_CHECK(buf != NULL, "malloc");
    *k = tokenizer_decode(tk, ids, n, buf, cap);
    if (cap == 0) FUZZ_CHECK(*k == 0, "decode into 0 bytes returned %zu", *k);
    else FUZZ_CHECK(*k < cap && buf[*k] == 0, "decode returned %zu for a buffer of %zu", *k, cap);
    return buf;
}

/* 1 when every word is one tokenizer_build could make: the four specials
 * first, then words of 1..63 bytes, no whitespace, no upper case. Only then is decode(encode(.))
 * stable: a checkpoint can carry any word list, whose odd words simply
 * never come out of encode. */
static int vocab_like_build(const tokenizer_t *tk) {
    static const char *const special[TOK_SPECIAL] = { "<pad>", "<unk>", "<bos>", "<eos>" };
    for (int id = 0; id < TOK_SPECIAL && id < tk->V; id++)
        if (strcmp(tk->words[id], special[id]) != 0) return 0;
    for (int id = TOK_SPECIAL; id < tk->V; id++) {
        const char *w = tk->words[id];
        size_t n = strlen(w);
        if (n == 0 || n > 63) return 0;
        for (size_t i = 0; i < n; i++)
            if (strchr(" \t\n\r\f\v", w[i]) || (w[i] >= 'A' && w[i] <= 'Z')) return 0;
    }
    return 1;
}

static void exercise(const tokenizer_t *tk, const char *text, size_t len, size_t small_cap) {
    size_t n, k;
    int *ids = encode_checked(tk, text, len, &n);
    free(decode_checked(tk, ids, n, small_cap, &k));
    /* room for every id: 63 bytes of word, a separator */
    size_t cap = 65 * (n + 1);
    char *t2 = decode_checked(tk, ids, n, cap, &k);
    if (tk->kind == TOK_BYTES) {
        FUZZ_CHECK(k == len && memcmp(t2, text, len) == 0, "bytes do not round-trip");
    } else if (vocab_like_build(tk)) {
        size_t n2, k3;
        int *ids2 = encode_checked(tk, t2, k, &n2);
        char *t3 = decode_checked(tk, ids2, n2, 65 * (n2 + 1), &k3);
        FUZZ_CHECK(k3 == k && memcmp(t3, t2, k) == 0, "decode(encode(.)) is not stable: '%.80s' -> '%.80s'", t2, t3);
        free(t3);
        free(ids2);
    }
    free(t2);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    fuzz_in in = { d, n, 0 };
    uint8_t mode = fuzz_u8(&in);
    uint32_t num = fuzz_u32(&in);
    size_t small_cap = fuzz_u8(&in);
    size_t len;
    char *text = fuzz_rest(&in, &len);
    if (!text) return 0;
    tokenizer_t tk;
    char err[512];
    if (mode & 2) {
        /* a checkpoint's word list: n words, NUL-separated */
        /* a checkpoint's count is at most V <= 1 << 22 (config_validate);
         * above that, the word array alone would take gigabytes */
        int words = (mode & 4) ? (int)(num % ((1u << 22) + 8)) - 4 : (int)(num % 300);
        if (tokenizer_from_words(&tk, text, len, words, err, sizeof err) == 0) {
            FUZZ_CHECK(tk.kind == TOK_WORDS && tk.V == words, "V %d, asked for %d", tk.V, words);
            static const char probe[] = "<unk> a b\nthe the\n\n x";
            exercise(&tk, probe, sizeof probe - 1, small_cap);
            exercise(&tk, text, len, small_cap);
            tokenizer_free(&tk);
        }
    } else {
        int kind = (mode & 1) ? TOK_WORDS : TOK_BYTES;
        int vmax = (mode & 4) ? (int)num : (int)(num % 600);
        int rc = tokenizer_build(&tk, kind, text, len, vmax, err, sizeof err);
        if (kind == TOK_WORDS && vmax > TOK_SPECIAL)
            FUZZ_CHECK(rc == 0, "words tokenizer (vmax %d) failed on %zu bytes: %s", vmax, len, err);
        if (kind == TOK_BYTES && vmax >= 256) FUZZ_CHECK(rc == 0, "bytes tokenizer failed: %s", err);
        if (rc == 0) {
            FUZZ_CHECK(tk.V <= (vmax > 0 ? vmax : 0) && tk.V >= (kind == TOK_WORDS ? TOK_SPECIAL : 256),
                       "V %d for vmax %d", tk.V, vmax);
            exercise(&tk, text, len, small_cap);
            tokenizer_free(&tk);
        }
    }
    free(text);
    return 0;
}
