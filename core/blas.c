/*
 * blas.c - the facts of the BLAS this build links (`make BLAS=openblas` or
 * `make BLAS=blis`, which defines CLLM_BLAS_openblas or CLLM_BLAS_blis): its
 * name and version, one thread inside each worker, and how many workers may
 * call its sgemm at once.
 *
 * OpenBLAS (as Debian builds 0.3.21: pthreads, no thread-local buffers).
 * Every running level-3 call (sgemm) takes one buffer of a table in its
 * driver/others/memory.c: NUM_BUFFERS = max(50, 2 x MAX_THREADS) slots, then
 * on the first overflow a warning on stderr ("precompiled NUM_THREADS
 * exceeded, adding auxiliary array") and 512 slots more; past those its
 * allocation returns NULL and sgemm crashes on it. Before 0.3.25 (OpenBLAS
 * commit 7e939fb, "Fix handling of additional buffer structures in case of
 * overflow") giving back an auxiliary slot clears the flag of another one
 * (index + NUM_BUFFERS, past the array's end for the upper 128): a slot still
 * in use is handed out twice, the freed one is never reused, and the write
 * can land outside the array. So before 0.3.25 only the table is usable.
 * Each of OpenBLAS's own server threads (started at load when it sees more
 * than one CPU, at most MAX_THREADS - 1 of them, never stopped) holds one
 * slot from its start to its exit. The workers that can always run sgemm at
 * once: max(50, 2N) - (server threads), and 512 more from 0.3.25 on: for
 * Debian 12's N = 64, 128 in train_model (OPENBLAS_NUM_THREADS=1: no server
 * threads), 65 at worst (63 of them). tests/test_blas_limit.c checks both halves against the
 * library: the slots it really gives, and the broken give-back.
 *
 * BLIS (Debian's libblis-serial-dev: no threads of its own) keeps its packing
 * buffers in a pool that grows under a mutex: no limit of its own, so the
 * trainer's (THREADS_MAX, 1024) applies.
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(CLLM_BLAS_blis)
#include <blis.h>

void blas_single_thread(void) { bli_thread_set_num_threads(1); }

int blas_threads_max(void) { return 0; }

const char *blas_limit_why(void) { return "BLIS: no limit of its own"; }

const char *build_blas(void) {
    static char buf[128];
    if (!buf[0])
        snprintf(buf, sizeof buf, "BLIS %s (threading: %s)", bli_info_get_version_str(),
                 bli_info_get_enable_openmp() ? "openmp" : bli_info_get_enable_pthreads() ? "pthreads" : "none");
    return buf;
}

#else /* OpenBLAS */
#include <cblas.h>
#include <dlfcn.h>

void blas_single_thread(void) { openblas_set_num_threads(1); }

/* MAX_THREADS=N from openblas_get_config(), 0 when it does not say */
static int openblas_max_threads(void) {
    const char *p = strstr(openblas_get_config(), "MAX_THREADS=");
    if (!p) return 0;
    long n = strtol(p + strlen("MAX_THREADS="), NULL, 10);
    return n > 0 && n < (1L << 20) ? (int)n : 0;
}

/* the version from openblas_get_config() ("OpenBLAS 0.3.21 ..."), as
 * major * 10000 + minor * 100 + patch; 0 when it does not say */
static int openblas_version(void) {
    int a, b, c;
    if (sscanf(openblas_get_config(), "OpenBLAS %d.%d.%d", &a, &b, &c) != 3) return 0;
    return a * 10000 + b * 100 + c;
}

/* whether the 512 auxiliary slots are usable (fixed in 0.3.25) */
static int openblas_aux_ok(void) { return openblas_version() >= 325; }

/* OpenBLAS's own server threads, each holding one slot: blas_num_threads - 1
 * (its global, exported, read through dlsym so that a library without it
 * still links), else the most there can be, MAX_THREADS - 1. train_model
 * runs with OPENBLAS_NUM_THREADS=1 (it re-executes itself to set it), so
 * there it is 0 unless the user set another count. */
static int openblas_servers(int n) {
    const int *nt = (const int *)dlsym(RTLD_DEFAULT, "blas_num_threads");
    int s = nt ? *nt - 1 : n - 1;
    return s < 0 ? 0 : s > n - 1 ? n - 1 : s;
}

int blas_threads_max(void) {
    int n = openblas_max_threads();
    if (n <= 0) return 0;
    int table = 2 * n > 50 ? 2 * n : 50;
    return table + (openblas_aux_ok() ? 512 : 0) - openblas_servers(n);
}

const char *blas_limit_why(void) {
    static char buf[320];
    int n = openblas_max_threads();
    if (n <= 0) return "OpenBLAS names no MAX_THREADS: no limit known";
    if (!buf[0])
        snprintf(buf, sizeof buf, "OpenBLAS MAX_THREADS=%d: a table of max(50, 2x%d) sgemm buffers%s, "
                 "less the %d its own threads hold (OPENBLAS_NUM_THREADS - 1)", n, n,
                 openblas_aux_ok() ? " + 512 auxiliary ones" : " (its 512 auxiliary ones are unsafe before 0.3.25)",
                 openblas_servers(n));
    return buf;
}

const char *build_blas(void) {
    static char buf[256];
    if (!buf[0]) snprintf(buf, sizeof buf, "OpenBLAS %s", openblas_get_config());
    return buf;
}
#endif
