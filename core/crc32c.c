/*
 * crc32c.c - CRC-32C with the CPU's instructions or portable tables
 * (contract: crc32c.h).
 *
 * The state inside is the register before the final XOR (crc ^ 0xFFFFFFFF);
 * every path below steps that register the same way, byte for byte, so
 * they agree on every input. The hardware paths hide the instruction's
 * 3-cycle latency by running three independent blocks at once
 * (crc32c_blocks): no folding or combining arithmetic is needed because the
 * checkpoint keeps one CRC per block.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <nmmintrin.h>
#define CRC_X86 1
#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#define CRC_ARM 1
#endif

#define POLY 0x82F63B78u     /* 0x1EDC6F41 bit-reversed */

/* ---------------------------------------------------------------- tables */

static uint32_t table[8][256];   /* slicing by 8: table[k][b] = b followed by k zero bytes */

static void table_init(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++) c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++) table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
}

static uint32_t sw_update(uint32_t c, const unsigned char *p, size_t n) {
    while (n && ((uintptr_t)p & 7)) { c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff]; n--; }
    for (; n >= 8; n -= 8, p += 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        lo = __builtin_bswap32(lo);
        hi = __builtin_bswap32(hi);
#endif
        lo ^= c;
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
            table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^ table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
    }
    while (n--) c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    return c;
}

static void sw_blocks3(const unsigned char *p, size_t len, uint32_t out[3]) {
    for (int k = 0; k < 3; k++) out[k] = ~sw_update(~0u, p + k * len, len);
}

/* ---------------------------------------------------------------- x86-64 SSE4.2 */

#if CRC_X86
__attribute__((target("sse4.2"))) static uint32_t hw_update(uint32_t c, const unsigned char *p, size_t n) {
    while (n && ((uintptr_t)p & 7)) { c = _mm_crc32_u8(c, *p++); n--; }
#if defined(__x86_64__)
    uint64_t c64 = c;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = _mm_crc32_u64(c64, w);
    }
    c = (uint32_t)c64;
#endif
    while (n--) c = _mm_crc32_u8(c, *p++);
    return c;
}

__attribute__((target("sse4.2"))) static void hw_blocks3(const unsigned char *p, size_t len, uint32_t out[3]) {
    const unsigned char *p0 = p, *p1 = p + len, *p2 = p + 2 * len;
    uint32_t a = ~0u, b = ~0u, c = ~0u;
    size_t i = 0;
#if defined(__x86_64__)
    uint64_t a64 = a, b64 = b, c64 = c;
    for (; i + 8 <= len; i += 8) {
        uint64_t w0, w1, w2;
        memcpy(&w0, p0 + i, 8);
        memcpy(&w1, p1 + i, 8);
        memcpy(&w2, p2 + i, 8);
        a64 = _mm_crc32_u64(a64, w0);
        b64 = _mm_crc32_u64(b64, w1);
        c64 = _mm_crc32_u64(c64, w2);
    }
    a = (uint32_t)a64; b = (uint32_t)b64; c = (uint32_t)c64;
#endif
    for (; i < len; i++) {
        a = _mm_crc32_u8(a, p0[i]);
        b = _mm_crc32_u8(b, p1[i]);
        c = _mm_crc32_u8(c, p2[i]);
    }
    out[0] = ~a; out[1] = ~b; out[2] = ~c;
}

static int hw_available(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    return (ecx & bit_SSE4_2) != 0;
}
#define HW_NAME "sse4.2"

/* ---------------------------------------------------------------- AArch64 CRC32 */

#elif CRC_ARM
/* the instructions through inline assembly, so the file builds with gcc and
 * clang for any AArch64 target (the CRC extension is optional before
 * ARMv8.1); they run only when the auxiliary vector says the CPU has them */
static inline uint32_t crc_x(uint32_t c, uint64_t w) {
    __asm__(".arch_extension crc\n\tcrc32cx %w0, %w0, %x1" : "+r"(c) : "r"(w));
    return c;
}
static inline uint32_t crc_b(uint32_t c, unsigned char b) {
    uint32_t w = b;
    __asm__(".arch_extension crc\n\tcrc32cb %w0, %w0, %w1" : "+r"(c) : "r"(w));
    return c;
}

static uint32_t hw_update(uint32_t c, const unsigned char *p, size_t n) {
    while (n && ((uintptr_t)p & 7)) { c = crc_b(c, *p++); n--; }
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = crc_x(c, w);
    }
    while (n--) c = crc_b(c, *p++);
    return c;
}

static void hw_blocks3(const unsigned char *p, size_t len, uint32_t out[3]) {
    const unsigned char *p0 = p, *p1 = p + len, *p2 = p + 2 * len;
    uint32_t a = ~0u, b = ~0u, c = ~0u;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w0, w1, w2;
        memcpy(&w0, p0 + i, 8);
        memcpy(&w1, p1 + i, 8);
        memcpy(&w2, p2 + i, 8);
        a = crc_x(a, w0);
        b = crc_x(b, w1);
        c = crc_x(c, w2);
    }
    for (; i < len; i++) {
        a = crc_b(a, p0[i]);
        b = crc_b(b, p1[i]);
        c = crc_b(c, p2[i]);
    }
    out[0] = ~a; out[1] = ~b; out[2] = ~c;
}

static int hw_available(void) { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }
#define HW_NAME "armv8-crc"
#endif

/* ---------------------------------------------------------------- dispatch */

static uint32_t (*impl_update)(uint32_t, const unsigned char *, size_t);
static void (*impl_blocks3)(const unsigned char *, size_t, uint32_t[3]);
static const char *impl_name;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void set_impl(int hw) {
#if defined(HW_NAME)
    if (hw) { impl_update = hw_update; impl_blocks3 = hw_blocks3; impl_name = HW_NAME; return; }
#else
    (void)hw;
#endif
    impl_update = sw_update;
    impl_blocks3 = sw_blocks3;
    impl_name = "table";
}

static void init(void) {
    table_init();
#if defined(HW_NAME)
    set_impl(hw_available());
#else
    set_impl(0);
#endif
}

uint32_t crc32c(uint32_t crc, const void *data, size_t n) {
    pthread_once(&once, init);
    return ~impl_update(~crc, data, n);
}

void crc32c_blocks(const void *data, size_t n, size_t block, uint32_t *out) {
    pthread_once(&once, init);
    const unsigned char *p = data;
    size_t full = block ? n / block : 0, i = 0;
    for (; i + 3 <= full; i += 3) impl_blocks3(p + i * block, block, out + i);
    for (; i < full; i++) out[i] = ~impl_update(~0u, p + i * block, block);
    if (block && n % block) out[full] = ~impl_update(~0u, p + full * block, n % block);
    if (!block && n) out[0] = ~impl_update(~0u, p, n);
}

const char *crc32c_impl(void) {
    pthread_once(&once, init);
    return impl_name;
}

int crc32c_force(const char *name) {
    pthread_once(&once, init);
    if (strcmp(name, "table") == 0) { set_impl(0); return 0; }
#if defined(HW_NAME)
    if (strcmp(name, HW_NAME) == 0 && hw_available()) { set_impl(1); return 0; }
#endif
    return -1;
}
