/*
 * export.h - a sweep's runs.jsonl in formats other tools read: runs.csv, one
 * row per run in long format (pandas' read_csv, R's read.csv), and the JSON
 * export of hyperfine (--export-json), so tools written for hyperfine read a
 * sweep. Both are built from runs.jsonl alone (resumed runs included);
 * columns and fields are documented in bench/RESULTS.md.
 */
#ifndef CLLM_EXPORT_H
#define CLLM_EXPORT_H

#include <stddef.h>
#include <stdio.h>

#include "counters.h"
#include "stats.h"

/* Writes runs.csv from the records of runs_path: fixed columns, the metric
 * (by m) and its unit, the command line, then five columns per event of cnt's
 * list. Returns 0, or -1 with err (unreadable file, write error). */
int export_runs_csv(FILE *f, const char *runs_path, const counters *cnt, const stats_metric *m,
                    char *err, size_t errlen);

/* Writes hyperfine's JSON: one result per (variant, threads) point that has
 * records, in the sweep's order (variants, then threads). Returns 0, or -1
 * with err. */
int export_hyperfine(FILE *f, const char *runs_path, const char *const *variants, int nv,
                     const int *threads, int nt, char *err, size_t errlen);

#endif
