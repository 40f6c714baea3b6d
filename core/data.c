/*
 * data.c - corpus loading, the synthetic corpus, tokenizers, sampling.
 */
#include "data.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

/* ---------------------------------------------------------------- loading */

/* append n bytes to t (NUL-terminated); -1 when the buffer cannot grow,
 * with *want the bytes asked for */
static int append(text_t *t, size_t *cap, const char *buf, size_t n, size_t *want) {
    if (t->len + n + 1 > *cap) {
        size_t nc = *cap ? *cap : 1 << 16;
        while (nc < t->len + n + 1) nc *= 2;
        char *p = xrealloc(t->text, nc);
        if (!p) { *want = nc; return -1; }
        t->text = p;
        *cap = nc;
    }
    memcpy(t->text + t->len, buf, n);
    t->len += n;
    t->text[t->len] = 0;
    return 0;
}

static int load_file(text_t *t, size_t *cap, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno)); return -1; }
    size_t start = t->len, want = 0;
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (memchr(buf, 0, n)) {            /* binary file: skip it whole */
            t->len = start;
            if (t->text) t->text[start] = 0;
            t->skipped_nul++;
            fclose(f);
            return 0;
        }
        if (append(t, cap, buf, n, &want) != 0) {
            fclose(f);
            snprintf(err, errlen, "cannot allocate %zu bytes for the text of %s", want, path);
            return -1;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { snprintf(err, errlen, "cannot read %s: read error", path); return -1; }
    if (t->len > start && t->text[t->len - 1] != '\n' && append(t, cap, "\n", 1, &want) != 0) {
        snprintf(err, errlen, "cannot allocate %zu bytes for the text of %s", want, path);
        return -1;
    }
    t->files++;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One walk of text_load: the text so far and every directory entered, by
 * (device, inode), so that each is read once whatever links lead to it (as
 * `find -L` does). A corpus has few directories: a linear search is enough. */
typedef struct { dev_t dev; ino_t ino; } dir_id;
typedef struct {
    text_t *t;
    size_t cap;              /* bytes allocated for t->text */
    dir_id *seen;
    size_t nseen, seencap;
} walk_t;

/* 1 when the directory was entered before; 0 after remembering it; -1 when
 * the list cannot grow */
static int walk_seen(walk_t *w, const struct stat *st) {
    for (size_t i = 0; i < w->nseen; i++)
        if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino) return 1;
    if (w->nseen == w->seencap) {
        size_t nc = w->seencap ? 2 * w->seencap : 16;
        dir_id *p = xrealloc(w->seen, nc * sizeof *p);
        if (!p) return -1;
        w->seen = p;
        w->seencap = nc;
    }
    w->seen[w->nseen++] = (dir_id){ st->st_dev, st->st_ino };
    return 0;
}

static int load_path(walk_t *w, const char *path, int depth, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISREG(st.st_mode)) return load_file(w->t, &w->cap, path, err, errlen);
    if (!S_ISDIR(st.st_mode)) return 0;      /* sockets, fifos: not data */
    int seen = walk_seen(w, &st);
    if (seen < 0) {
        snprintf(err, errlen, "cannot allocate %zu bytes for the directory list of %s",
                 2 * w->seencap * sizeof(dir_id), path);
        return -1;
    }
    if (seen) { w->t->skipped_dirs++; return 0; }
    if (depth > 64) { snprintf(err, errlen, "%s: directories nested too deep", path); return -1; }
    DIR *d = opendir(path);
    if (!d) { snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno)); return -1; }
    char **names = NULL;
    size_t n = 0, ncap = 0, want = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;   /* ., .. and hidden files */
        if (n == ncap) {
            size_t nc = ncap ? 2 * ncap : 64;
            char **nn = xrealloc(names, nc * sizeof *names);
            if (!nn) { rc = -1; want = nc * sizeof *names; break; }
            names = nn;
            ncap = nc;
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = xmalloc(len);
        if (!names[n]) { rc = -1; want = len; break; }
        snprintf(names[n], len, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (rc != 0) snprintf(err, errlen, "cannot allocate %zu bytes listing %s", want, path);
    if (rc == 0 && n > 1) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) rc = load_path(w, names[i], depth + 1, err, errlen);
        free(names[i]);
    }
    free(names);
    return rc;
}

int text_load(text_t *t, const char *path, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    walk_t w = { t, 0, NULL, 0, 0 };
    int rc = load_path(&w, path, 0, err, errlen);
    free(w.seen);
    if (rc != 0) { text_free(t); return -1; }
    size_t nonspace = 0;
    for (size_t i = 0; i < t->len && !nonspace; i++) nonspace = !isspace((unsigned char)t->text[i]);
    if (!nonspace) {
        if (t->skipped_nul)
            snprintf(err, errlen, "no text in %s: %d file(s) skipped because they contain NUL bytes",
                     path, t->skipped_nul);
        else
            snprintf(err, errlen, "no text in %s: %s", path, t->files ? "only whitespace" : "no files");
        text_free(t);
        return -1;
    }
    return 0;
}

void text_free(text_t *t) {
    free(t->text);
    memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- synthetic */

/* Sentences from a small grammar: subject-verb agreement, a few fixed
 * phrases, numbers that count up. Byte- and word-level models both find
 * structure in it, so the loss visibly falls. */
int text_synthetic(text_t *t, unsigned long long seed, size_t bytes) {
    static const char *adj[] = { "small", "red", "quiet", "old", "bright", "lazy", "quick", "green" };
    static const char *noun[] = { "cat", "dog", "bird", "fox", "tree", "river", "stone", "child" };
    static const char *verb[] = { "sees", "likes", "follows", "finds", "hears", "watches" };
    static const char *place[] = { "in the garden", "near the house", "by the river", "under the tree" };
    memset(t, 0, sizeof *t);
    size_t cap = bytes + 256;
    t->text = xmalloc(cap);
    if (!t->text) return -1;
    rng_t r = { seed * 0x2545f4914f6cdd1dULL + 7 };
    char line[256];
    int count = 0;
    while (t->len + sizeof line < cap) {
        int a1 = rng_next(&r) % 8, n1 = rng_next(&r) % 8, v = rng_next(&r) % 6;
        int a2 = rng_next(&r) % 8, n2 = rng_next(&r) % 8, pl = rng_next(&r) % 4;
        int k;
        if (rng_next(&r) % 4 == 0)
            k = snprintf(line, sizeof line, "%d. the %s %s %s the %s %s %s.\n", count++ % 100,
                         adj[a1], noun[n1], verb[v], adj[a2], noun[n2], place[pl]);
        else
            k = snprintf(line, sizeof line, "the %s %s %s the %s %s.\n",
                         adj[a1], noun[n1], verb[v], noun[n2], place[pl]);
        memcpy(t->text + t->len, line, k);
        t->len += k;
    }
    t->text[t->len] = 0;
    t->files = 0;
    return 0;
}

/* ---------------------------------------------------------------- tokenizers */

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 0x100000001b3ULL; }
    return h;
}

/* find the slot of word w (length n) in an open-addressing table of ids whose
 * strings are words[] */
static size_t table_slot(int *table, size_t cap, char **words, const char *w, size_t n) {
    size_t i = fnv1a(w, n) & (cap - 1);
    while (table[i] >= 0) {
        const char *s = words[table[i]];
        if (strlen(s) == n && memcmp(s, w, n) == 0) return i;
        i = (i + 1) & (cap - 1);
    }
    return i;
}

/* whitespace, and NUL: a word never holds a NUL byte (words are C strings) */
static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0;
}

/* next word of text[*pos..len): lowercased into buf (truncated to 63 bytes);
 * returns its length, 0 at the end; *newline set when a newline was crossed */
static size_t next_word(const char *text, size_t len, size_t *pos, char *buf, int *newline) {
    size_t i = *pos;
    *newline = 0;
    while (i < len && is_space(text[i])) { if (text[i] == '\n') *newline = 1; i++; }
    size_t n = 0;
    while (i < len && !is_space(text[i])) {
        if (n < 63) buf[n++] = (char)tolower((unsigned char)text[i]);
        i++;
    }
    buf[n] = 0;
    *pos = i;
    return n;
}

typedef struct { char *w; long count; } wcount;

static int cmp_wcount(const void *a, const void *b) {
    const wcount *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->w, y->w);
}

static int tokenizer_index(tokenizer_t *tk, char *err, size_t errlen) {
    tk->cap = 16;
    while (tk->cap < (size_t)tk->V * 2) tk->cap *= 2;
    tk->table = xmalloc(tk->cap * sizeof *tk->table);
    if (!tk->table) {
        snprintf(err, errlen, "cannot allocate %zu bytes for the tokenizer table", tk->cap * sizeof *tk->table);
        return -1;
    }
    for (size_t i = 0; i < tk->cap; i++) tk->table[i] = -1;
    for (int id = TOK_SPECIAL; id < tk->V; id++) {
        size_t s = table_slot(tk->table, tk->cap, tk->words, tk->words[id], strlen(tk->words[id]));
        if (tk->table[s] >= 0) { snprintf(err, errlen, "duplicate word '%s' in vocabulary", tk->words[id]); return -1; }
        tk->table[s] = id;
    }
    return 0;
}

int tokenizer_build(tokenizer_t *tk, int kind, const char *text, size_t len, int vmax,
                    char *err, size_t errlen) {
    memset(tk, 0, sizeof *tk);
    tk->kind = kind;
    if (kind == TOK_BYTES) {
        if (vmax < 256) { snprintf(err, errlen, "the bytes tokenizer needs V >= 256 (V=%d)", vmax); return -1; }
        tk->V = 256;
        return 0;
    }
    if (vmax <= TOK_SPECIAL) { snprintf(err, errlen, "the words tokenizer needs V > %d", TOK_SPECIAL); return -1; }
    /* count distinct words: a growing hash table of (word, count) */
    size_t cap = 1 << 12, n = 0;
    wcount *wc = xcalloc(cap, sizeof *wc);
    if (!wc) goto oom;
    size_t pos = 0;
    char w[64];
    int nl;
    size_t wl;
    while ((wl = next_word(text, len, &pos, w, &nl)) > 0) {
        if (2 * (n + 1) > cap) {
            wcount *nw = xcalloc(cap * 2, sizeof *nw);
            if (!nw) goto oom;
            for (size_t i = 0; i < cap; i++) {
                if (!wc[i].w) continue;
                size_t j = fnv1a(wc[i].w, strlen(wc[i].w)) & (2 * cap - 1);
                while (nw[j].w) j = (j + 1) & (2 * cap - 1);
                nw[j] = wc[i];
            }
            free(wc);
            wc = nw;
            cap *= 2;
        }
        size_t j = fnv1a(w, wl) & (cap - 1);
        while (wc[j].w && strcmp(wc[j].w, w) != 0) j = (j + 1) & (cap - 1);
        if (!wc[j].w) {
            wc[j].w = xstrdup(w);
            if (!wc[j].w) goto oom;
            n++;
        }
        wc[j].count++;
    }
    /* compact, rank by count (ties by bytes), keep the first vmax - specials */
    /* each moved entry leaves its old slot empty, so the cleanup below
     * (oom) frees every word exactly once */
    size_t k = 0;
    for (size_t i = 0; i < cap; i++) {
        if (!wc[i].w) continue;
        wc[k] = wc[i];
        if (k != i) wc[i].w = NULL;
        k++;
    }
    qsort(wc, k, sizeof *wc, cmp_wcount);
    size_t keep = MIN(k, (size_t)(vmax - TOK_SPECIAL));
    static const char *special[TOK_SPECIAL] = { "<pad>", "<unk>", "<bos>", "<eos>" };
    size_t pool = 0;
    for (int i = 0; i < TOK_SPECIAL; i++) pool += strlen(special[i]) + 1;
    for (size_t i = 0; i < keep; i++) pool += strlen(wc[i].w) + 1;
    tk->V = (int)(TOK_SPECIAL + keep);
    tk->words = xcalloc(tk->V, sizeof *tk->words);
    tk->pool = xmalloc(pool);
    if (!tk->words || !tk->pool) goto oom;
    tk->pool_len = pool;
    char *p = tk->pool;
    for (int i = 0; i < tk->V; i++) {
        const char *s = i < TOK_SPECIAL ? special[i] : wc[i - TOK_SPECIAL].w;
        size_t l = strlen(s) + 1;
        memcpy(p, s, l);
        tk->words[i] = p;
        p += l;
    }
    for (size_t i = 0; i < k; i++) free(wc[i].w);
    free(wc);
    if (tokenizer_index(tk, err, errlen) != 0) { tokenizer_free(tk); return -1; }
    return 0;
oom:
    if (wc) for (size_t i = 0; i < cap; i++) free(wc[i].w);
    free(wc);
    tokenizer_free(tk);
    snprintf(err, errlen, "cannot allocate memory for the words tokenizer");
    return -1;
}

int tokenizer_from_words(tokenizer_t *tk, const char *buf, size_t len, int n,
                         char *err, size_t errlen) {
    memset(tk, 0, sizeof *tk);
    tk->kind = TOK_WORDS;
    if (n <= TOK_SPECIAL || len == 0 || buf[len - 1] != 0 || (size_t)n > len) {
        snprintf(err, errlen, "bad word list (%d words, %zu bytes)", n, len);
        return -1;
    }
    tk->pool = xmalloc(len);
    tk->words = xcalloc(n, sizeof *tk->words);
    if (!tk->pool || !tk->words) {
        tokenizer_free(tk);
        snprintf(err, errlen, "cannot allocate %zu bytes for the tokenizer", len + (size_t)n * sizeof *tk->words);
        return -1;
    }
    memcpy(tk->pool, buf, len);
    tk->pool_len = len;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (off >= len) { tokenizer_free(tk); snprintf(err, errlen, "word list holds fewer than %d words", n); return -1; }
        tk->words[i] = tk->pool + off;
        off += strlen(tk->pool + off) + 1;
    }
    if (off != len) { tokenizer_free(tk); snprintf(err, errlen, "word list has %zu trailing bytes", len - off); return -1; }
    tk->V = n;
    if (tokenizer_index(tk, err, errlen) != 0) { tokenizer_free(tk); return -1; }
    return 0;
}

int *tokenizer_encode(const tokenizer_t *tk, const char *text, size_t len, size_t *n) {
    size_t cap = len + 16;   /* bytes: one id a byte; words: a word and an EOS need >= 2 bytes */
    int *out = xmalloc(cap * sizeof *out);
    if (!out) return NULL;
    size_t k = 0;
    if (tk->kind == TOK_BYTES) {
        for (size_t i = 0; i < len; i++) out[k++] = (unsigned char)text[i];
    } else {
        size_t pos = 0;
        char w[64];
        int nl;
        size_t wl;
        while ((wl = next_word(text, len, &pos, w, &nl)) > 0) {
            if (nl && k > 0) out[k++] = TOK_EOS;
            size_t s = table_slot(tk->table, tk->cap, tk->words, w, wl);
            out[k++] = tk->table[s] >= 0 ? tk->table[s] : TOK_UNK;
        }
        if (k > 0) out[k++] = TOK_EOS;
    }
    *n = k;
    return out;
}

size_t tokenizer_decode(const tokenizer_t *tk, const int *ids, size_t n, char *buf, size_t cap) {
    size_t k = 0;
    if (cap == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        if (tk->kind == TOK_BYTES) {
            if (k + 1 >= cap) break;
            buf[k++] = (char)ids[i];
            continue;
        }
        const char *s = (ids[i] >= 0 && ids[i] < tk->V) ? tk->words[ids[i]] : "<unk>";
        if (ids[i] == TOK_EOS) s = "\n";
        size_t l = strlen(s);
        int sep = k > 0 && buf[k - 1] != '\n' && ids[i] != TOK_EOS;
        if (k + l + sep + 1 > cap) break;
        if (sep) buf[k++] = ' ';
        memcpy(buf + k, s, l);
        k += l;
    }
    buf[k] = 0;
    return k;
}

void tokenizer_free(tokenizer_t *tk) {
    free(tk->words);
    free(tk->pool);
    free(tk->table);
    memset(tk, 0, sizeof *tk);
}

/* ---------------------------------------------------------------- corpus */

int corpus_split(corpus_t *c, int *tok, size_t n, int T, char *err, size_t errlen) {
    size_t nval = MAX(n / 10, (size_t)T + 1);
    if (n < nval + (size_t)T + 1) {
        snprintf(err, errlen, "the data has %zu tokens: too few for sequences of %d tokens "
                 "(at least %zu needed for training and validation)", n, T, 2 * ((size_t)T + 1));
        return -1;
    }
    c->tok = tok;
    c->n = n;
    c->ntrain = n - nval;
    return 0;
}

void corpus_sample(const corpus_t *c, int val, uint64_t seed, uint64_t step, uint64_t g,
                   int T, int *inp, int *tgt) {
    const int *base = val ? c->tok + c->ntrain : c->tok;
    size_t n = val ? c->n - c->ntrain : c->ntrain;
    size_t pos = rng_hash(seed, step * 2 + (uint64_t)val, g) % (n - T);
    memcpy(inp, base + pos, sizeof(int) * T);
    memcpy(tgt, base + pos + 1, sizeof(int) * T);
}
