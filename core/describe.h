/*
 * describe.h - train_model --describe: the facts of this build as one JSON
 * object on stdout, for build/scale and the analysis to read instead of
 * copying them: the configs and their fields, the limits (threads, ranks,
 * workers, the BLAS's thread limit), the build (variant, compiler, flags,
 * BLAS, git) and the memory table of the given shape (the report's "memory"
 * object, core/REPORT.md). Its fields: core/REPORT.md, "train_model --describe".
 */
#ifndef CLLM_DESCRIBE_H
#define CLLM_DESCRIBE_H

#include <stdio.h>

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write the description for config c at nth threads per rank and nranks
 * ranks (strong / recompute as the run's). Returns 0, or -1 with err when the
 * shape has no memory table (a strong-scaling batch smaller than the
 * workers, sizes that overflow, limits passed): the caller exits 2. */
int describe_write(FILE *f, const config_t *c, int nth, int nranks, int strong, int recompute,
                   char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
