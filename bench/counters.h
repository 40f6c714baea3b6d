/*
 * counters.h - hardware and software event counters for a child process.
 *
 * Events are named as libpfm4 / perf know them ("task-clock", "cycles",
 * "instructions", "LLC-load-misses", ...). They are opened with
 * perf_event_open on a child created by counters_spawn(): disabled,
 * enable_on_exec, inherit (so every thread of the child counts), with
 * TOTAL_TIME_ENABLED/RUNNING read back so multiplexed counts are scaled.
 *
 * Groups: "{a,b,c}" in a list opens a, b and c as one perf_event group (the
 * first that opens leads it; the others follow it on and off the PMU) and
 * reads them together with PERF_FORMAT_GROUP, so every member is counted over
 * the same windows and their ratios (instructions / cycles, cycles /
 * ref-cycles) are exact even when the group is multiplexed. A member that
 * cannot be opened is unsupported; the rest of the group still counts.
 *
 * Contract: an event that cannot be opened is never reported as 0. It is
 * marked unsupported, with the errno text, and its value is meaningless.
 */
#ifndef CLLM_COUNTERS_H
#define CLLM_COUNTERS_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/resource.h>

#define COUNTERS_MAX 32

typedef struct {
    char name[64];          /* as asked for */
    int supported;          /* 1: opened and read; 0: see reason */
    char reason[128];       /* errno text / libpfm4 error when unsupported */
    double value;           /* scaled count: raw * enabled / running */
    uint64_t raw;           /* raw count */
    uint64_t time_enabled;  /* ns */
    uint64_t time_running;  /* ns */
    double running_frac;    /* time_running / time_enabled (1.0 = never multiplexed) */
    int user_only;          /* 1: kernel not allowed (perf_event_paranoid), user space counted */
    char opened[64];        /* the name that opened: for "a|b", a or b */
    int group;              /* 0: counted on its own; k: member of the k-th "{...}" group */
    char leader[64];        /* grouped and opened: the opened name of the group's leader */
} counter_value;

typedef struct counters counters;

/* The default event list: software events always, hardware where they open. */
extern const char *COUNTERS_DEFAULT_EVENTS;

/* Parse a comma-separated list (NULL = default). "a|b" is one event: the
 * first of a, b that opens (LLC-load-misses|cache-misses); "{a,b}" is a
 * group (see above; not nested). Returns NULL and fills err on a malformed
 * list (empty name, more than COUNTERS_MAX events, a brace that does not
 * open or close a group). Unknown event names are not an error here: they
 * become unsupported at open time. */
counters *counters_create(const char *events, char *err, size_t errlen);
void counters_free(counters *c);   /* tolerates NULL; closes open fds */

/* Force an event (name as listed) to fail at open with the given errno; 0
 * undoes it (tests use this to exercise the unsupported path on machines
 * where the event exists). */
void counters_force_fail(counters *c, const char *name, int err);

/* Fork + exec argv (argv[0] searched in PATH) with the events attached to the
 * child before exec; c NULL = no events. Re-spawning closes the last child's
 * events. stdout_fd/stderr_fd: -1 = inherit, otherwise dup2'ed in the child.
 * Returns the pid, or -1 with err filled (fork failed, exec failed: the exec
 * failure is reported back through a close-on-exec pipe). */
pid_t counters_spawn(counters *c, char *const argv[], int stdout_fd,
                     int stderr_fd, char *err, size_t errlen);

/* Read every supported event of the last spawned child. Call after the child
 * has exited (wait4) - inherited counts are only complete then. Returns the
 * number of supported events, -1 when no child was spawned. An event that
 * never ran (time_running 0) becomes unsupported. The members of a group
 * share one time_enabled / time_running (the group's). */
int counters_read(counters *c);

/* The scaling counters_read applies to each event read back: from v->raw,
 * v->time_enabled and v->time_running, value = raw * enabled / running (the
 * count extrapolated over the time the event was multiplexed out) and
 * running_frac. Returns 1 with v supported, or 0 with v unsupported and its
 * reason when the event was never enabled or never ran. Exposed so tests can
 * feed in multiplexed values, which software events never produce. */
int counters_scale(counter_value *v);

int counters_count(const counters *c);
const counter_value *counters_get(const counters *c, int i);
const counter_value *counters_find(const counters *c, const char *name);

/* Format one value for CSV/JSON: writes the scaled count and returns 1, or
 * writes na (NULL: "unsupported"; the harness passes "NA" / "null") and
 * returns 0 when v is NULL or unsupported - never "0" for a missing count. */
int counters_format_value(const counter_value *v, const char *na, char *buf, size_t n);

#endif
