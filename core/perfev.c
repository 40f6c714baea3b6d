/*
 * perfev.c - per-thread perf_event groups from a built-in table of generic
 * events (see perfev.h).
 */
#include "perfev.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CACHE(level, op, result) \
    ((PERF_COUNT_HW_CACHE_##level) | (PERF_COUNT_HW_CACHE_OP_##op << 8) | (PERF_COUNT_HW_CACHE_RESULT_##result << 16))

static const struct { const char *name; uint32_t type; uint64_t config; } table[] = {
    { "task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK },
    { "cpu-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK },
    { "page-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS },
    { "minor-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN },
    { "major-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MAJ },
    { "context-switches", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES },
    { "cpu-migrations", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS },
    { "cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES },
    { "instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS },
    { "ref-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_REF_CPU_CYCLES },
    { "cache-references", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_REFERENCES },
    { "cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES },
    { "branches", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_INSTRUCTIONS },
    { "branch-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES },
    { "LLC-loads", PERF_TYPE_HW_CACHE, CACHE(LL, READ, ACCESS) },
    { "LLC-load-misses", PERF_TYPE_HW_CACHE, CACHE(LL, READ, MISS) },
};
#define NTABLE ((int)(sizeof table / sizeof table[0]))

const char *perfev_name(int id) { return id >= 0 && id < NTABLE ? table[id].name : "?"; }

const char *perfev_all_names(void) {
    static char buf[512];
    if (!buf[0]) {
        size_t k = 0;
        for (int i = 0; i < NTABLE && k < sizeof buf; i++)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", i ? "," : "", table[i].name);
    }
    return buf;
}

int perfev_parse(const char *list, perfev_set *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!list || !*list) { snprintf(err, errlen, "--phase-counters: the event list is empty"); return -1; }
    const char *p = list;
    for (;;) {
        size_t len = strcspn(p, ",");
        int id = -1;
        for (int i = 0; i < NTABLE && id < 0; i++)
            if (strlen(table[i].name) == len && strncmp(table[i].name, p, len) == 0) id = i;
        if (id < 0) {
            snprintf(err, errlen, "--phase-counters: unknown event '%.*s' (known: %s)", (int)(len > 64 ? 64 : len),
                     p, perfev_all_names());
            return -1;
        }
        for (int i = 0; i < out->n; i++)
            if (out->id[i] == id) {
                snprintf(err, errlen, "--phase-counters: event '%s' is listed twice", table[id].name);
                return -1;
            }
        if (out->n == PERFEV_MAX) {
            snprintf(err, errlen, "--phase-counters: more than %d events", PERFEV_MAX);
            return -1;
        }
        out->id[out->n++] = id;
        if (!p[len]) return 0;
        p += len + 1;
    }
}

static int open_one(int id, int group, int user_only) {
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = table[id].type;
    a.config = table[id].config;
    a.read_format = PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
    a.exclude_kernel = (unsigned)user_only;
    a.exclude_hv = (unsigned)user_only;
    return (int)syscall(SYS_perf_event_open, &a, 0 /* this thread */, -1 /* any CPU */, group, PERF_FLAG_FD_CLOEXEC);
}

void perfev_open(perfev_thread *pt, const perfev_set *s) {
    memset(pt, 0, sizeof *pt);
    pt->n = s->n;
    pt->leader = -1;
    const char *fail = getenv("CLLM_FAIL_PERFEV");
    int nopen = 0;
    for (int i = 0; i < s->n; i++) {
        int id = s->id[i], fd = -1, e = 0, user = 0;
        if (fail && strcmp(fail, table[id].name) == 0) {
            e = EACCES;
        } else {
            fd = open_one(id, pt->leader, 0);
            if (fd < 0 && (errno == EACCES || errno == EPERM)) {
                user = 1;
                fd = open_one(id, pt->leader, 1);
            }
            if (fd < 0) e = errno ? errno : EINVAL;
        }
        pt->fd[i] = fd;
        pt->err[i] = fd < 0 ? e : 0;
        pt->user_only[i] = fd >= 0 && user;
        pt->slot[i] = fd >= 0 ? nopen++ : -1;
        if (fd >= 0 && pt->leader < 0) pt->leader = fd;
    }
}

int perfev_read(const perfev_thread *pt, uint64_t v[PERFEV_MAX], uint64_t *enabled, uint64_t *running) {
    if (pt->leader < 0) return 0;
    /* PERF_FORMAT_GROUP with both times: nr, time_enabled, time_running, values[nr] */
    uint64_t buf[3 + PERFEV_MAX];
    ssize_t want = (ssize_t)sizeof(uint64_t) * 3, got = read(pt->leader, buf, sizeof buf);
    if (got < want) return -1;
    uint64_t nr = buf[0];
    if (nr > PERFEV_MAX || got < want + (ssize_t)(nr * sizeof(uint64_t))) return -1;
    *enabled = buf[1];
    *running = buf[2];
    for (int i = 0; i < pt->n; i++)
        if (pt->slot[i] >= 0 && (uint64_t)pt->slot[i] < nr) v[i] = buf[3 + pt->slot[i]];
    return 0;
}

void perfev_close(perfev_thread *pt) {
    /* members first, then the leader */
    for (int i = pt->n - 1; i >= 0; i--)
        if (pt->fd[i] >= 0) { close(pt->fd[i]); pt->fd[i] = -1; }
    pt->leader = -1;
}
