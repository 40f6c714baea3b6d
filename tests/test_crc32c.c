/*
 * test_crc32c.c - core/crc32c.c: known values, every implementation this
 * CPU has against the others at every length 0..300 and offset 0..7 and on
 * blocks, and the facts behind checkpoint format 3's guarantee checked on
 * the polynomial itself (core/CHECKPOINT.md):
 *   - x^(2^31-1) = 1 modulo P = G / (x+1), and 2^31-1 is prime: the order
 *     of x, hence the longest codeword in which every 2-bit error is caught,
 *     is 2^31-1 bits (a 1 MiB block and its CRC are far shorter);
 *   - G(1) = 0: x+1 divides G, so every odd number of flips is caught;
 *   - G has a constant term: every burst of at most 32 bits is caught.
 * Also, exhaustively (the guarantee, not a sample): every 1- and 2-bit
 * error of a 4 KiB block with its CRC, every 3-bit error of a 256-byte one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crc32c.h"

/* G = x^32 + 0x1EDC6F41 (bit i = coefficient of x^i), as a 64-bit word */
#define G ((1ULL << 32) | 0x1EDC6F41ULL)

static int deg(uint64_t a) { return a ? 63 - __builtin_clzll(a) : -1; }

static uint64_t pmod(uint64_t a, uint64_t m) {      /* a mod m over GF(2) */
    int dm = deg(m);
    while (deg(a) >= dm) a ^= m << (deg(a) - dm);
    return a;
}

static uint64_t pmulmod(uint64_t a, uint64_t b, uint64_t m) {   /* a*b mod m, deg(a), deg(b) < 32 */
    uint64_t r = 0;
    for (int i = 0; i < 64; i++) {
        if (b >> i & 1) r ^= a;
        a <<= 1;
        if (deg(a) >= deg(m)) a ^= m;
    }
    return pmod(r, m);
}

static uint64_t pdiv(uint64_t a, uint64_t m) {      /* a / m over GF(2), exact division assumed */
    uint64_t q = 0;
    int dm = deg(m);
    while (deg(a) >= dm) {
        int s = deg(a) - dm;
        q |= 1ULL << s;
        a ^= m << s;
    }
    return q;
}

static void test_polynomial(void) {
    EXPECT(__builtin_popcountll(G) % 2 == 0, "G(1) != 0: x+1 does not divide G");
    EXPECT(G & 1, "G has no constant term");
    uint64_t P = pdiv(G, 3);     /* G / (x+1) */
    EXPECT(pmod(G, 3) == 0 && deg(P) == 31, "G / (x+1): remainder %llu, degree %d",
           (unsigned long long)pmod(G, 3), deg(P));
    /* x^(2^31) by 31 squarings, then x^(2^31-1) = x^(2^31) / x: check x^(2^31) = x */
    uint64_t x = 2;
    for (int i = 0; i < 31; i++) x = pmulmod(x, x, P);
    EXPECT(x == 2, "x^(2^31) mod P = %#llx, not x: the order of x is not 2^31-1", (unsigned long long)x);
    /* 2^31-1 is prime (a Mersenne prime), so the order is exactly 2^31-1 */
    int prime = 1;
    for (uint64_t d = 3; d * d <= 2147483647ULL; d += 2) if (2147483647ULL % d == 0) { prime = 0; break; }
    EXPECT(prime, "2^31-1 is not prime");
}

static uint32_t bitwise(const unsigned char *p, size_t n) {
    uint32_t c = ~0u;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

static void test_impl(const char *name, const unsigned char *buf) {
    EXPECT(crc32c(0, "123456789", 9) == 0xE3069283u, "%s: check value %08x", name, crc32c(0, "123456789", 9));
    EXPECT(crc32c(0, "", 0) == 0, "%s: empty", name);
    int bad = 0;
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n <= 300; n++) {
            uint32_t want = bitwise(buf + off, n);
            if (crc32c(0, buf + off, n) != want) bad++;
            size_t cut = n / 3;      /* continued in two calls */
            if (crc32c(crc32c(0, buf + off, cut), buf + off + cut, n - cut) != want) bad++;
        }
    EXPECT(bad == 0, "%s: %d lengths/offsets differ from the bitwise CRC", name, bad);
    /* blocks: 3-at-a-time, single, and the short last one; odd block sizes too */
    const size_t sizes[] = { 1, 7, 8, 64, 1000, 4096 };
    bad = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t n = 0; n <= 7 * sizes[s] + 3; n += sizes[s] > 64 ? 997 : 1) {
            uint32_t out[64];
            crc32c_blocks(buf + 1, n, sizes[s], out);
            for (size_t b = 0; b * sizes[s] < n; b++) {
                size_t len = n - b * sizes[s] < sizes[s] ? n - b * sizes[s] : sizes[s];
                if (out[b] != bitwise(buf + 1 + b * sizes[s], len)) bad++;
            }
        }
    EXPECT(bad == 0, "%s: %d blocks differ", name, bad);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Every error of up to `upto` bits (2 or 3) in an n-byte block and its CRC
 * is detected, exhaustively. The CRC is affine, so flipping bit i changes the
 * check by a syndrome s_i that does not depend on the data (a data bit: the
 * change of the CRC; a bit of the stored CRC: that bit); an error goes
 * unseen iff its syndromes XOR to 0: s_i = 0, s_i = s_j, or s_i ^ s_j = s_k. */
static void test_errors(const unsigned char *src, size_t n, int upto) {
    const size_t bits = 8 * (n + 4);
    uint32_t *s = malloc(bits * sizeof *s), *sorted = malloc(bits * sizeof *s);
    unsigned char *b = malloc(n);
    memcpy(b, src, n);
    uint32_t c0 = crc32c(0, b, n);
    for (size_t i = 0; i < 8 * n; i++) {
        b[i / 8] ^= (unsigned char)(1u << (i % 8));
        s[i] = crc32c(0, b, n) ^ c0;
        b[i / 8] ^= (unsigned char)(1u << (i % 8));
    }
    for (size_t i = 8 * n; i < bits; i++) s[i] = 1u << (i - 8 * n);
    memcpy(sorted, s, bits * sizeof *s);
    qsort(sorted, bits, sizeof *s, cmp_u32);
    long missed1 = 0, missed2 = 0, missed3 = 0;
    for (size_t i = 0; i < bits; i++) missed1 += sorted[i] == 0;
    for (size_t i = 1; i < bits; i++) missed2 += sorted[i] == sorted[i - 1];
    if (upto >= 3)
        for (size_t i = 0; i < bits; i++)
            for (size_t j = i + 1; j < bits; j++) {
                uint32_t x = s[i] ^ s[j];
                /* s_k == x with k != i, j: x differs from s_i and s_j unless one is 0 */
                missed3 += bsearch(&x, sorted, bits, sizeof *s, cmp_u32) != NULL;
            }
    EXPECT(missed1 == 0 && missed2 == 0 && missed3 == 0,
           "undetected errors in a %zu-byte block: %ld of 1 bit, %ld of 2, %ld of 3", n, missed1, missed2, missed3);
    free(s);
    free(sorted);
    free(b);
}

int main(void) {
    unsigned char *buf = malloc(1 << 16);
    uint64_t r = 88172645463325252ULL;
    for (int i = 0; i < 1 << 16; i++) { r ^= r << 13; r ^= r >> 7; r ^= r << 17; buf[i] = (unsigned char)r; }
    test_polynomial();
    const char *hw = crc32c_impl();
    printf("crc32c: this CPU uses %s\n", hw);
    if (strcmp(hw, "table") != 0) test_impl(hw, buf);
    else SKIP("no CRC instructions on this CPU: only the table implementation tested");
    EXPECT(crc32c_force("table") == 0, "cannot force the table implementation");
    test_impl("table", buf);
    if (strcmp(hw, "table") != 0) EXPECT(crc32c_force(hw) == 0, "cannot go back to %s", hw);
    test_errors(buf, 4096, 2);   /* every 1- and 2-bit error of a 4 KiB block */
    test_errors(buf, 256, 3);    /* and every 3-bit error of a 256-byte one */
    free(buf);
    return check_finish("test_crc32c");
}
