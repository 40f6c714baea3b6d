/*
 * fuzz_text.c - the corpus loader text_load on a file or on a directory tree
 * built from the input: files with any bytes (NUL bytes make a file be
 * skipped), empty files, hidden files, nested folders and symlinks to "."
 * (a loop, which the loader skips: each directory is read once). Then the
 * words tokenizer over what was loaded, as train_model does next.
 *
 * Input: byte 0 bit 0 clear: the rest is one file. Set: the rest is a list
 * of entries, each [kind byte][length byte][length bytes of content]:
 * kind % 5 = 0 file, 1 enter a new folder, 2 leave it, 3 hidden file,
 * 4 symlink to ".".
 *
 * Checked: on success the text is NUL-free, NUL-terminated, ends with a
 * newline and holds a non-space byte, and files + skipped > 0; on failure
 * the message names the path.
 */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data.h"
#include "fuzz_util.h"

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st; (void)flag; (void)f;
    return remove(p);
}

static void check_loaded(const text_t *t) {
    FUZZ_CHECK(t->text && t->len > 0, "empty text accepted");
    FUZZ_CHECK(memchr(t->text, 0, t->len) == NULL, "NUL byte in loaded text");
    FUZZ_CHECK(t->text[t->len] == 0, "not NUL-terminated");
    FUZZ_CHECK(t->text[t->len - 1] == '\n', "does not end with a newline");
    FUZZ_CHECK(t->files > 0, "text but no file counted");
    FUZZ_CHECK(t->skipped_dirs >= 0 && t->skipped_dirs <= 64, "%d skipped directory links from at most 64 entries",
               t->skipped_dirs);
    tokenizer_t tk;
    char err[256];
    if (tokenizer_build(&tk, TOK_WORDS, t->text, t->len, 64, err, sizeof err) == 0) {
        size_t n;
        int *ids = tokenizer_encode(&tk, t->text, t->len, &n);
        FUZZ_CHECK(ids != NULL, "encode");
        for (size_t i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < tk.V, "id %d", ids[i]);
        free(ids);
        tokenizer_free(&tk);
    }
}

static void load_and_check(const char *path) {
    text_t t;
    char err[2048];
    err[0] = 0;
    if (text_load(&t, path, err, sizeof err) == 0) {
        check_loaded(&t);
        text_free(&t);
    } else {
        FUZZ_CHECK(strstr(err, path) != NULL, "the error does not name %s: '%s'", path, err);
        FUZZ_CHECK(t.text == NULL && t.len == 0, "failed load left text behind");
    }
}

static char root[64];

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    if (!root[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(root, sizeof root, "%.40s/fuzz_text.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(root)) abort();
    }
    fuzz_in in = { d, n, 0 };
    uint8_t mode = fuzz_u8(&in);
    if (!(mode & 1)) {
        char path[64];
        int fd = fuzz_file(d + 1, n ? n - 1 : 0, path, sizeof path);
        if (fd < 0) return 0;
        load_and_check(path);
        close(fd);
        return 0;
    }
    char top[128], dir[1024];
    snprintf(top, sizeof top, "%s/t", root);
    nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(top, 0755) != 0) return 0;
    snprintf(dir, sizeof dir, "%s", top);
    int depth = 0;
    for (int e = 0; e < 64 && in.i < in.n; e++) {
        int kind = fuzz_u8(&in) % 5;
        size_t len = fuzz_u8(&in);
        if (len > in.n - in.i) len = in.n - in.i;
        const uint8_t *content = in.d + in.i;
        in.i += len;
        char p[1100];
        if (kind == 1 && depth < 8) {
            snprintf(p, sizeof p, "%s/d%02d", dir, e);
            if (mkdir(p, 0755) == 0) { snprintf(dir, sizeof dir, "%s", p); depth++; }
        } else if (kind == 2 && depth > 0) {
            *strrchr(dir, '/') = 0;
            depth--;
        } else if (kind == 4) {
            snprintf(p, sizeof p, "%s/l%02d", dir, e);
            if (symlink(".", p) != 0) continue;
        } else {
            snprintf(p, sizeof p, "%s/%sf%02d", dir, kind == 3 ? "." : "", e);
            FILE *f = fopen(p, "wb");
            if (!f) continue;
            fwrite(content, 1, len, f);
            fclose(f);
        }
    }
    load_and_check(top);
    return 0;
}
