/*
 * check.h - the tests' only framework: CHECK-style assertions that count,
 * skips with their reason, and a closing "N passed, N failed, N skipped"
 * line (the runner, scripts/run-tests.sh, sums these lines). A test binary
 * returns check_finish(), which is non-zero when any check failed or when
 * nothing was checked or skipped at all.
 *
 *   EXPECT(cond, fmt, ...)   one check; prints "FAIL file:line: ..." when false
 *   SKIP(fmt, ...)           one check not made: prints "SKIP: <reason>" on
 *                            stdout, which the runner shows under the test
 */
#ifndef CLLM_CHECK_H
#define CLLM_CHECK_H

#include <stdio.h>

static int check_passed, check_failed, check_skipped;

#define EXPECT(cond, ...) do {                                              \
        if (cond) { check_passed++; }                                       \
        else {                                                              \
            check_failed++;                                                 \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);            \
            fprintf(stderr, __VA_ARGS__);                                   \
            fprintf(stderr, "\n");                                          \
        }                                                                   \
    } while (0)

#define SKIP(...) do {                                                      \
        check_skipped++;                                                    \
        fflush(stderr);                                                     \
        fprintf(stdout, "SKIP: ");                                          \
        fprintf(stdout, __VA_ARGS__);                                       \
        fprintf(stdout, "\n");                                              \
        fflush(stdout);                                                     \
    } while (0)

static inline int check_finish(const char *name) {
    fprintf(stdout, "%s: %d passed, %d failed, %d skipped\n", name, check_passed, check_failed,
            check_skipped);
    return check_failed != 0 || check_passed + check_skipped == 0;
}

#endif
