/*
 * check.h - the tests' only framework: CHECK-style assertions that count,
 * and a closing "N passed, N failed" line. A test binary returns
 * check_finish(), which is non-zero when any check failed.
 */
#ifndef CLLM_CHECK_H
#define CLLM_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

#define EXPECT(cond, ...) do {                                              \
        if (cond) { check_passed++; }                                       \
        else {                                                              \
            check_failed++;                                                 \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);            \
            fprintf(stderr, __VA_ARGS__);                                   \
            fprintf(stderr, "\n");                                          \
        }                                                                   \
    } while (0)

static inline int check_finish(const char *name) {
    fprintf(stdout, "%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed != 0 || check_passed == 0;
}

#endif
