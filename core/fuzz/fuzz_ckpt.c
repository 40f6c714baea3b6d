/*
 * fuzz_ckpt.c - ckpt_load on arbitrary bytes: every header field, short
 * files, trailing bytes, bad checksums. Random bytes rarely pass the header
 * checksum; fuzz_ckpt_fixed.c fixes the checksums up to reach the checks
 * behind it. An accepted checkpoint goes through what --resume does with it
 * (ckpt_use.h); a rejected one must come with a message naming the file.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "ckpt_use.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
    char path[64], err[1024];
    int fd = fuzz_file(d, n, path, sizeof path);
    if (fd < 0) return 0;
    ckpt_t ck;
    err[0] = 0;
    int rc = ckpt_load(path, &ck, err, sizeof err);
    if (fuzz_verbose()) fprintf(stderr, "ckpt_load: %s\n", rc == 0 ? "loaded" : err + strlen(path) + 12);
    if (rc == 0) ckpt_use(&ck);
    else FUZZ_CHECK(strstr(err, path) != NULL, "the error does not name the file: '%s'", err);
    ckpt_free(&ck);
    close(fd);
    return 0;
}
