/*
 * crc32c.h - CRC-32C (Castagnoli): the checksum of checkpoint format 3
 * (core/CHECKPOINT.md says why this polynomial and which block length).
 *
 * The standard CRC-32C of iSCSI, ext4 and SSE4.2's crc32 instruction:
 * polynomial 0x1EDC6F41 (reflected 0x82F63B78), initial value and final XOR
 * 0xFFFFFFFF, so crc32c(0, "123456789", 9) == 0xE3069283.
 *
 * Computed with the CPU's CRC instructions where it has them (x86-64 SSE4.2
 * crc32, AArch64 CRC32 extension: chosen once, at the first call, from
 * cpuid / the auxiliary vector), else with portable tables (slicing by 8).
 * Every path gives the same value: tests/test_crc32c.c checks them against
 * each other and known values. No other core dependency: bench/ can compile
 * it as it is.
 */
#ifndef CLLM_CRC32C_H
#define CLLM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CRC-32C of data[0, n) continued from crc (0 to start; the value of an
 * earlier call to continue a stream). */
uint32_t crc32c(uint32_t crc, const void *data, size_t n);

/* The CRC-32C of each block of data[0, n): block bytes each (the last one
 * shorter when n is not a multiple), out[i] for block i, each started from 0.
 * The same values as crc32c() per block; faster on the hardware paths, which
 * run three blocks at once to hide the instruction's latency. */
void crc32c_blocks(const void *data, size_t n, size_t block, uint32_t *out);

/* The implementation in use: "sse4.2", "armv8-crc" or "table". */
const char *crc32c_impl(void);

/* Force an implementation for tests and measurements: "table" or the
 * hardware one, if this CPU has it. 0, or -1 when it cannot. */
int crc32c_force(const char *impl);

#ifdef __cplusplus
}
#endif

#endif
