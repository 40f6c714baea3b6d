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
    ckpt_load_and_use(d, n);
    return 0;
}
