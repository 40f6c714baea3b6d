/*
 * facts.h - what build/scale needs to know of train_model, read from
 * `train_model --describe` (core/describe.h) instead of copied: the config
 * names and the limits on threads, ranks and workers. One owner for each:
 * the core.
 */
#ifndef CLLM_FACTS_H
#define CLLM_FACTS_H

#include <stddef.h>

#include "json.h"

#define FACTS_CONFIGS_MAX 64
#define FACTS_NAME_MAX 32

typedef struct {
    int known;                    /* 0: no train_model answered (the checks below are skipped) */
    int threads_max, ranks_max, workers_max;
    int nconfigs;
    char configs[FACTS_CONFIGS_MAX][FACTS_NAME_MAX];
    char source[512];             /* the binary that answered */
} facts;

/* The facts of the parsed --describe output d. Returns 0, or -1 with err
 * naming the missing or malformed field. */
int facts_from_json(facts *f, const json *d, char *err, size_t errlen);

/* Runs the first executable of BIN_DIR/{lockfree,locked,mpi}/train_model
 * with --describe and reads its answer. Returns 0; -1 (err says why, f->known
 * 0) when none is there or it does not answer with a description. */
int facts_read(facts *f, const char *bin_dir, char *err, size_t errlen);

/* 1 when name is one of the configs (always 1 when the facts are unknown). */
int facts_has_config(const facts *f, const char *name);
/* The config names joined by ", " into buf. */
void facts_config_list(const facts *f, char *buf, size_t n);

#endif
