/*
 * perfev.h - per-thread perf_event counters that a worker reads at its phase
 * boundaries (train_model --phase-counters), like LIKWID's markers.
 *
 * A small built-in table of the kernel's generic events (no libpfm):
 *   software  task-clock cpu-clock page-faults minor-faults major-faults
 *             context-switches cpu-migrations
 *   hardware  cycles instructions ref-cycles cache-references cache-misses
 *             branches branch-misses LLC-loads LLC-load-misses
 * Each thread opens its own events (perf_event_open on itself, pid 0, any
 * CPU, no inherit) as one group, so one read() returns them all; an event
 * that cannot be opened is unavailable, with the errno of the open, and is
 * never read as 0. Where the kernel refuses kernel-mode counting
 * (perf_event_paranoid, EACCES/EPERM) the open is retried for user mode
 * only, and the event says so (its scope).
 *
 * Test hook: CLLM_FAIL_PERFEV=NAME makes the open of event NAME fail with
 * EACCES, for the unavailable path on machines where it opens.
 */
#ifndef CLLM_PERFEV_H
#define CLLM_PERFEV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PERFEV_MAX 8

typedef struct {
    int n;
    int id[PERFEV_MAX];          /* indices into the built-in table */
} perfev_set;

/* "task-clock,page-faults": names of the table (see above); -1 with err on
 * an unknown or repeated name, an empty list or more than PERFEV_MAX. */
int perfev_parse(const char *list, perfev_set *out, char *err, size_t errlen);
const char *perfev_name(int id);
const char *perfev_all_names(void);     /* the table, comma-separated, for --help */

/* one thread's open events */
typedef struct {
    int n;                       /* events asked for (the set's n) */
    int fd[PERFEV_MAX];          /* -1: unavailable */
    int err[PERFEV_MAX];         /* errno of the failed open, 0 when open */
    int user_only[PERFEV_MAX];   /* 1: counts user mode only (kernel refused) */
    int slot[PERFEV_MAX];        /* position in the group read, -1: unavailable */
    int leader;                  /* fd of the group leader, -1: none open */
} perfev_thread;

/* Open the set's events for the calling thread; never fails as a whole. */
void perfev_open(perfev_thread *pt, const perfev_set *s);
/* Read every open event of the group: v[i] for event i (left alone when
 * unavailable); times (ns) the group was enabled and running. -1 when the
 * read fails (the caller stops counting). */
int perfev_read(const perfev_thread *pt, uint64_t v[PERFEV_MAX], uint64_t *enabled, uint64_t *running);
void perfev_close(perfev_thread *pt);    /* tolerates a thread with nothing open */

#ifdef __cplusplus
}
#endif

#endif
