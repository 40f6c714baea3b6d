/*
 * fuzz_util.h - helpers shared by the libFuzzer targets (core/fuzz/,
 * bench/fuzz/): the input as a file (a memfd named by /proc/self/fd/N, so no
 * disk and nothing to clean up), a reader of little-endian fields, and a
 * check that aborts with file:line, which libFuzzer reports as a crash.
 *
 * Header-only and static: each target is one translation unit.
 */
#ifndef CLLM_FUZZ_UTIL_H
#define CLLM_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* An invariant of the code under test failed: libFuzzer saves the input. */
#define FUZZ_CHECK(cond, ...) do {                                            \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, "\n");                                            \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* argv from the input: argv0, then d[0, n) cut at NUL bytes, each argument
 * its own allocation (so ASan sees reads past one); at most max arguments in
 * all, NULL-terminated (argv needs max + 1 slots). Returns argc; free with
 * fuzz_argv_free. */
static inline int fuzz_argv(const uint8_t *d, size_t n, const char *argv0, char **argv, int max) {
    int argc = 0;
    argv[argc++] = strdup(argv0);
    size_t start = 0;
    for (size_t i = 0; i <= n && argc < max; i++) {
        if (i < n && d[i] != 0) continue;
        if (i > start || i < n) {
            argv[argc] = malloc(i - start + 1);
            memcpy(argv[argc], d + start, i - start);
            argv[argc][i - start] = 0;
            argc++;
        }
        start = i + 1;
    }
    argv[argc] = NULL;
    return argc;
}

static inline void fuzz_argv_free(char **argv, int argc) {
    for (int i = 0; i < argc; i++) free(argv[i]);
}

/* FUZZ_VERBOSE=1 in the environment: targets print what each input led to
 * (which check rejected it), to see how deep a corpus reaches. */
static inline int fuzz_verbose(void) {
    static int v = -1;
    if (v < 0) v = getenv("FUZZ_VERBOSE") != NULL;
    return v;
}

/* The n bytes of d as a regular file; path gets "/proc/self/fd/N".
 * Returns the fd (close it when done), or -1 (the input is then skipped). */
static inline int fuzz_file(const uint8_t *d, size_t n, char *path, size_t plen) {
    int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
    if (fd < 0) return -1;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, d + off, n - off);
        if (w <= 0) { close(fd); return -1; }
        off += (size_t)w;
    }
    snprintf(path, plen, "/proc/self/fd/%d", fd);
    return fd;
}

/* A cursor over the input for targets that take a few parameters first. */
typedef struct { const uint8_t *d; size_t n, i; } fuzz_in;

static inline uint32_t fuzz_u32(fuzz_in *in) {
    uint32_t v = 0;
    for (int k = 0; k < 4 && in->i < in->n; k++) v |= (uint32_t)in->d[in->i++] << (8 * k);
    return v;
}

static inline uint8_t fuzz_u8(fuzz_in *in) { return in->i < in->n ? in->d[in->i++] : 0; }

/* The rest of the input as an exact-size heap copy, so that a read one byte
 * past the end is seen by AddressSanitizer; *len gets its length. */
static inline char *fuzz_rest(fuzz_in *in, size_t *len) {
    *len = in->n - in->i;
    char *p = malloc(*len ? *len : 1);
    if (p && *len) memcpy(p, in->d + in->i, *len);
    in->i = in->n;
    return p;
}

#endif
