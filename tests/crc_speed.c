/*
 * crc_speed.c - checksum throughput on a buffer the size of config M's
 * checkpoint payload (3 x its parameter count in floats, unless MB is given):
 * the old FNV-1a (ckpt_hash), CRC-32C by core/crc32c.c (the CPU's
 * instructions one stream at a time, three 1 MiB blocks at a time as the
 * checkpoint does, and the table fallback), and, built with
 * -DWITH_ZLIB_ISAL -lz -lisal, Debian's zlib crc32 (IEEE) and ISA-L's
 * crc32_iscsi (CRC-32C). Not a test: a measurement (core/CHECKPOINT.md,
 * README). Prints the median of REPS runs of each, interleaved, in GB/s of
 * this thread's CPU time.
 *
 *   make build/tests/crc_speed && build/tests/crc_speed [MB] [REPS]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckpt.h"
#include "config.h"
#include "model.h"
#include "crc32c.h"
#ifdef WITH_ZLIB_ISAL
#include <isa-l/crc.h>
#include <zlib.h>
#endif

/* this thread's CPU time: on a machine shared with other work, the time
 * the checksum itself ran (the wall clock would add the waits) */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const unsigned char *buf;
static size_t n;
static volatile uint64_t sink;
static uint32_t *table;
static const char *hw;     /* the implementation chosen at start */

static void fnv(void) { sink += ckpt_hash(CKPT_HASH_INIT, buf, n); }
static void crc_serial(void) { sink += crc32c(0, buf, n); }
static void crc_blocks(void) { crc32c_blocks(buf, n, CKPT_BLOCK_BYTES, table); sink += table[0]; }
static void crc_table(void) {
    crc32c_force("table");
    crc32c_blocks(buf, n, CKPT_BLOCK_BYTES, table);
    crc32c_force(hw);
    sink += table[0];
}
#ifdef WITH_ZLIB_ISAL
static void zlib_crc(void) {
    uLong c = crc32(0L, Z_NULL, 0);
    for (size_t o = 0; o < n; o += 1 << 30) c = crc32(c, buf + o, (uInt)(n - o < (1u << 30) ? n - o : 1u << 30));
    sink += c;
}
static void isal_crc(void) { sink += crc32_iscsi((unsigned char *)buf, (int)n, 0xFFFFFFFF); }
#endif

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    size_t mb = argc > 1 ? (size_t)atol(argv[1]) : 0;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    config_t m;
    config_preset(&m, "M");
    size_t counts[P_COUNT], np = param_counts(&m, counts);
    n = mb ? mb << 20 : 3 * np * sizeof(float);
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 2654435761u >> 13);
    buf = b;
    table = malloc((n / CKPT_BLOCK_BYTES + 2) * sizeof *table);
    hw = crc32c_impl();
    struct { const char *name; void (*f)(void); double t[64]; } k[] = {
        { "FNV-1a 64-bit words (formats 1, 2)", fnv, { 0 } },
        { "CRC-32C one stream (crc32c)", crc_serial, { 0 } },
        { "CRC-32C 1 MiB blocks, 3 at once (format 3)", crc_blocks, { 0 } },
        { "CRC-32C 1 MiB blocks, table fallback", crc_table, { 0 } },
#ifdef WITH_ZLIB_ISAL
        { "zlib crc32 (IEEE 802.3, one stream)", zlib_crc, { 0 } },
        { "ISA-L crc32_iscsi (CRC-32C, one stream)", isal_crc, { 0 } },
#endif
    };
    int nk = sizeof k / sizeof k[0];
    if (reps > 64) reps = 64;
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < nk; i++) {
            double t0 = now();
            k[i].f();
            k[i].t[r] = now() - t0;
        }
    printf("%.0f MB, %d runs each, interleaved, CPU time of the thread; CRC-32C implementation: %s\n", n / 1e6, reps, hw);
    for (int i = 0; i < nk; i++) {
        qsort(k[i].t, (size_t)reps, sizeof(double), cmp);
        printf("  %-46s median %7.1f ms CPU  %6.2f GB/s  (min %.1f, max %.1f ms)\n", k[i].name, k[i].t[reps / 2] * 1e3,
               n / k[i].t[reps / 2] / 1e9, k[i].t[0] * 1e3, k[i].t[reps - 1] * 1e3);
    }
    free(b);
    free(table);
    return 0;
}
