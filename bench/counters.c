/*
 * counters.c - perf_event_open counters attached to a child process.
 *
 * counters_spawn() forks; the child blocks on a pipe while the parent opens
 * every event on it (disabled, enable_on_exec, inherit), then it is released
 * and execs. Names are encoded by libpfm4; the generic perf names are also
 * known from a built-in table in case libpfm4 does not resolve them.
 * "a|b" in a list means: the first of a, b that opens (e.g. LLC-load-misses
 * is missing on some CPUs where cache-misses works). "{a,b}" is a group:
 * the first member that opens is the leader (disabled, enable_on_exec), the
 * others are opened with its fd as group_fd, and the leader is read once
 * with PERF_FORMAT_GROUP | PERF_FORMAT_ID (values matched back by id).
 *
 * Contract (see counters.h): an event that did not open, did not read, or
 * never ran is unsupported with a reason, never a count of 0.
 * Not thread-safe: one thread drives a counters object at a time.
 */
#include "counters.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <perfmon/pfmlib_perf_event.h>

/* cycles, instructions and ref-cycles are divided by each other (IPC, the
 * effective clock): one group, so the ratios come from the same windows */
const char *COUNTERS_DEFAULT_EVENTS =
    "task-clock,context-switches,cpu-migrations,page-faults,"
    "{cycles,instructions,ref-cycles},LLC-load-misses|cache-misses,branch-misses,"
    "stalled-cycles-frontend,stalled-cycles-backend";

struct counters {
    int n;
    counter_value v[COUNTERS_MAX];
    int fd[COUNTERS_MAX];          /* -1: not open */
    int force_err[COUNTERS_MAX];   /* 0, or the errno open must fail with */
    int leader[COUNTERS_MAX];      /* grouped and open: index of its group's leader; else -1 */
    uint64_t id[COUNTERS_MAX];     /* grouped and open: PERF_EVENT_IOC_ID */
    pid_t pid;                     /* last spawned child, 0 = none */
};

// ----------------------------------------------------------------------------
// encoding: libpfm4 first, then the generic perf names

#define CACHE(id, op, res) ((id) | ((op) << 8) | ((res) << 16))

static const struct {
    const char *name;
    uint32_t type;
    uint64_t config;
} counters_generic[] = {
    {"task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
    {"cpu-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK},
    {"context-switches", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES},
    {"cs", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES},
    {"cpu-migrations", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS},
    {"migrations", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS},
    {"page-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
    {"faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
    {"minor-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN},
    {"major-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MAJ},
    {"cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
    {"cpu-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
    {"instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS},
    {"cache-references", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_REFERENCES},
    {"cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES},
    {"branches", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_INSTRUCTIONS},
    {"branch-instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_INSTRUCTIONS},
    {"branch-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES},
    {"bus-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BUS_CYCLES},
    {"stalled-cycles-frontend", PERF_TYPE_HARDWARE, PERF_COUNT_HW_STALLED_CYCLES_FRONTEND},
    {"stalled-cycles-backend", PERF_TYPE_HARDWARE, PERF_COUNT_HW_STALLED_CYCLES_BACKEND},
    {"ref-cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_REF_CPU_CYCLES},
    {"LLC-loads", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_LL,
        PERF_COUNT_HW_CACHE_OP_READ, PERF_COUNT_HW_CACHE_RESULT_ACCESS)},
    {"LLC-load-misses", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_LL,
        PERF_COUNT_HW_CACHE_OP_READ, PERF_COUNT_HW_CACHE_RESULT_MISS)},
    {"L1-dcache-loads", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_L1D,
        PERF_COUNT_HW_CACHE_OP_READ, PERF_COUNT_HW_CACHE_RESULT_ACCESS)},
    {"L1-dcache-load-misses", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_L1D,
        PERF_COUNT_HW_CACHE_OP_READ, PERF_COUNT_HW_CACHE_RESULT_MISS)},
    {"dTLB-load-misses", PERF_TYPE_HW_CACHE, CACHE(PERF_COUNT_HW_CACHE_DTLB,
        PERF_COUNT_HW_CACHE_OP_READ, PERF_COUNT_HW_CACHE_RESULT_MISS)},
};

/* pfm_initialize once per process; its result is kept for every later call. */
static int counters_pfm_state = 1;   /* 1: not tried, else the pfm_err_t */

/* Fill a with the encoding of one event name (no perf flags set yet) and
 * return 0, or return -1 with why filled (the libpfm4 error string). */
static int counters_encode(const char *name, struct perf_event_attr *a,
                           unsigned long *flags, char *why, size_t n) {
    memset(a, 0, sizeof(*a));
    *flags = 0;
    if (counters_pfm_state == 1) counters_pfm_state = pfm_initialize();
    int ret = counters_pfm_state;
    if (ret == PFM_SUCCESS) {
        pfm_perf_encode_arg_t arg;
        memset(&arg, 0, sizeof(arg));
        a->size = sizeof(*a);   /* else libpfm4 assumes the 64-byte v0 struct */
        arg.attr = a;
        arg.size = sizeof(arg);
        ret = pfm_get_os_event_encoding(name, PFM_PLM0 | PFM_PLM3,
                                        PFM_OS_PERF_EVENT_EXT, &arg);
        if (ret == PFM_SUCCESS) {
            *flags = (unsigned long)arg.flags;
            return 0;
        }
        memset(a, 0, sizeof(*a));
    }
    for (size_t i = 0; i < sizeof(counters_generic) / sizeof(counters_generic[0]); i++) {
        if (strcmp(name, counters_generic[i].name) == 0) {
            a->size = sizeof(*a);
            a->type = counters_generic[i].type;
            a->config = counters_generic[i].config;
            return 0;
        }
    }
    snprintf(why, n, "libpfm4: %s", pfm_strerror(ret));
    return -1;
}

/* Open one event name on pid. Returns the fd, or -1 with why filled. On
 * EACCES/EPERM with the kernel counted (perf_event_paranoid for a non-root
 * user) it retries for user space only and sets *user_only. grouped: 0 on
 * its own; 1 with group_fd -1: a group's leader; 1 with group_fd >= 0: a
 * member, switched on and off with its leader. */
static int counters_open_one(const char *name, pid_t pid, int force_err, int grouped,
                             int group_fd, int *user_only, char *why, size_t n) {
    struct perf_event_attr a;
    unsigned long flags;
    if (counters_encode(name, &a, &flags, why, n) != 0) return -1;
    a.disabled = group_fd < 0;
    a.enable_on_exec = group_fd < 0;
    a.inherit = 1;
    a.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
    if (grouped) a.read_format |= PERF_FORMAT_GROUP | PERF_FORMAT_ID;
    if (force_err) {
        snprintf(why, n, "perf_event_open: %s (forced)", strerror(force_err));
        return -1;
    }
    flags |= PERF_FLAG_FD_CLOEXEC;
    int fd = perf_event_open(&a, pid, -1, group_fd, flags);
    if (fd < 0 && (errno == EACCES || errno == EPERM) && !a.exclude_kernel) {
        a.exclude_kernel = 1;
        a.exclude_hv = 1;
        fd = perf_event_open(&a, pid, -1, group_fd, flags);
        if (fd >= 0) *user_only = 1;
    }
    if (fd < 0) snprintf(why, n, "perf_event_open: %s", strerror(errno));
    return fd;
}

/* The leader of entry i's group: the first earlier member that opened, or
 * -1 when there is none (entry i then leads it). */
static int counters_group_leader(const counters *c, int i) {
    for (int j = 0; j < i; j++)
        if (c->v[j].group == c->v[i].group && c->fd[j] >= 0) return j;
    return -1;
}

/* Open entry i on pid, trying each '|' alternative in turn. On failure the
 * reason lists what each alternative said. */
static void counters_open_entry(counters *c, int i, pid_t pid) {
    counter_value *v = &c->v[i];
    char list[sizeof(v->name)], why[128];
    memcpy(list, v->name, sizeof(list));
    v->reason[0] = '\0';
    int lead = v->group ? counters_group_leader(c, i) : -1;
    char *save = NULL;
    for (char *alt = strtok_r(list, "|", &save); alt; alt = strtok_r(NULL, "|", &save)) {
        int fd = counters_open_one(alt, pid, c->force_err[i], v->group != 0,
                                   lead >= 0 ? c->fd[lead] : -1, &v->user_only,
                                   why, sizeof(why));
        if (fd >= 0 && v->group && ioctl(fd, PERF_EVENT_IOC_ID, &c->id[i]) != 0) {
            snprintf(why, sizeof(why), "ioctl PERF_EVENT_IOC_ID: %s", strerror(errno));
            close(fd);
            fd = -1;
        }
        if (fd >= 0) {
            c->fd[i] = fd;
            snprintf(v->opened, sizeof(v->opened), "%s", alt);
            snprintf(v->reason, sizeof(v->reason), "not read yet");
            if (v->group) {
                c->leader[i] = lead >= 0 ? lead : i;
                memcpy(v->leader, c->v[c->leader[i]].opened, sizeof(v->leader));
            }
            return;
        }
        size_t len = strlen(v->reason);
        if (strchr(v->name, '|'))   /* name each alternative's reason */
            snprintf(v->reason + len, sizeof(v->reason) - len, "%s%s: %s",
                     len ? "; " : "", alt, why);
        else
            snprintf(v->reason, sizeof(v->reason), "%s", why);
    }
}

// ----------------------------------------------------------------------------
// create / free

static void counters_close(counters *c) {
    for (int i = c->n - 1; i >= 0; i--) {   /* members before their leader */
        if (c->fd[i] >= 0) close(c->fd[i]);
        c->fd[i] = -1;
        c->leader[i] = -1;
    }
}

/* Reset entry i to "nothing measured": unsupported, all numbers 0. */
static void counters_reset(counter_value *v, const char *reason) {
    v->supported = 0;
    snprintf(v->reason, sizeof(v->reason), "%s", reason);
    v->value = 0.0;
    v->raw = v->time_enabled = v->time_running = 0;
    v->running_frac = 0.0;
    v->user_only = 0;
    v->opened[0] = '\0';
    v->leader[0] = '\0';
}

/* Contract: NULL with err filled on an empty name, a name longer than 63
 * characters, more than COUNTERS_MAX names, a '{' inside a group, a '}'
 * outside one, a group left open, or out of memory. Spaces around names and
 * braces are dropped. */
counters *counters_create(const char *events, char *err, size_t errlen) {
    if (!events) events = COUNTERS_DEFAULT_EVENTS;
    counters *c = calloc(1, sizeof(*c));
    if (!c) { snprintf(err, errlen, "counters: out of memory"); return NULL; }
    const char *p = events;
    int groups = 0, in_group = 0;
    for (int k = 0;; k++) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        while (p < end && *p == ' ') p++;
        const char *e = end;
        while (e > p && e[-1] == ' ') e--;
        int opens = p < e && *p == '{', closes = e > p + opens && e[-1] == '}';
        if (opens && in_group) {
            snprintf(err, errlen, "counters: '{' inside a group at position %d in \"%s\" (groups do not nest)",
                     k + 1, events);
            goto err;
        }
        if (closes && !in_group && !opens) {
            snprintf(err, errlen, "counters: '}' without a '{' at position %d in \"%s\"", k + 1, events);
            goto err;
        }
        if (opens) { in_group = 1; groups++; p++; }
        if (closes) e--;
        while (p < e && *p == ' ') p++;
        while (e > p && e[-1] == ' ') e--;
        size_t len = (size_t)(e - p);
        if (len && (memchr(p, '{', len) || memchr(p, '}', len))) {
            snprintf(err, errlen, "counters: stray brace in \"%.*s\" at position %d", (int)len, p, k + 1);
            goto err;
        }
        if (len == 0) {
            snprintf(err, errlen, "counters: empty event name at position %d in \"%s\"",
                     k + 1, events);
            goto err;
        }
        if (c->n == COUNTERS_MAX) {
            snprintf(err, errlen, "counters: more than %d events", COUNTERS_MAX);
            goto err;
        }
        counter_value *v = &c->v[c->n];
        if (len >= sizeof(v->name)) {
            snprintf(err, errlen, "counters: event name too long (%zu > %zu): %.*s",
                     len, sizeof(v->name) - 1, (int)len, p);
            goto err;
        }
        memcpy(v->name, p, len);
        v->name[len] = '\0';
        counters_reset(v, "not spawned");
        v->group = in_group ? groups : 0;
        c->leader[c->n] = -1;
        c->fd[c->n++] = -1;
        if (closes) in_group = 0;
        if (*end == '\0') break;
        p = end + 1;
    }
    if (in_group) {
        snprintf(err, errlen, "counters: group %d in \"%s\" is not closed with '}'", groups, events);
        goto err;
    }
    return c;
err:
    free(c);
    return NULL;
}

void counters_free(counters *c) {
    if (!c) return;
    counters_close(c);
    free(c);
}

/* No effect when name is not in the list. err 0 removes a forced failure. */
void counters_force_fail(counters *c, const char *name, int err) {
    for (int i = 0; c && i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0) c->force_err[i] = err;
}

// ----------------------------------------------------------------------------
// spawn / read

static ssize_t counters_read_full(int fd, void *buf, size_t n) {
    ssize_t r;
    do { r = read(fd, buf, n); } while (r < 0 && errno == EINTR);
    return r;
}

/* Contract: returns the child's pid with every event opened (or marked
 * unsupported); the caller waits for it. Returns -1 with err filled when
 * pipe/fork fails or the exec fails; a child whose exec failed is reaped
 * here, and no event fd stays open. c may be NULL: spawn without counters. */
pid_t counters_spawn(counters *c, char *const argv[], int stdout_fd,
                     int stderr_fd, char *err, size_t errlen) {
    int go[2], ex[2];
    if (c) {
        counters_close(c);
        c->pid = 0;
        for (int i = 0; i < c->n; i++) counters_reset(&c->v[i], "not spawned");
    }
    if (!argv || !argv[0]) { snprintf(err, errlen, "spawn: empty command"); return -1; }
    if (pipe2(go, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "spawn %s: pipe: %s", argv[0], strerror(errno));
        return -1;
    }
    if (pipe2(ex, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "spawn %s: pipe: %s", argv[0], strerror(errno));
        close(go[0]); close(go[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "spawn %s: fork: %s", argv[0], strerror(errno));
        close(go[0]); close(go[1]); close(ex[0]); close(ex[1]);
        return -1;
    }
    if (pid == 0) {
        /* child: only async-signal-safe calls from here to exec */
        char b;
        close(go[1]);
        close(ex[0]);
        if (counters_read_full(go[0], &b, 1) != 1) _exit(127);  /* parent gave up */
        int e = 0;
        if (stdout_fd >= 0 && dup2(stdout_fd, 1) < 0) e = errno;
        if (!e && stderr_fd >= 0 && dup2(stderr_fd, 2) < 0) e = errno;
        if (!e) { execvp(argv[0], argv); e = errno; }
        ssize_t w = write(ex[1], &e, sizeof(e));
        (void)w;
        _exit(127);
    }
    close(go[0]);
    close(ex[1]);
    if (c) {
        for (int i = 0; i < c->n; i++) counters_open_entry(c, i, pid);
    }
    /* release the child; then EOF on ex means exec succeeded */
    ssize_t w;
    do { w = write(go[1], "x", 1); } while (w < 0 && errno == EINTR);
    close(go[1]);
    int e = 0;
    ssize_t r = counters_read_full(ex[0], &e, sizeof(e));
    close(ex[0]);
    if (w == 1 && r == 0) {
        if (c) c->pid = pid;
        return pid;
    }
    if (w != 1 || r < 0) e = errno;   /* w != 1: the child died unreleased */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    snprintf(err, errlen, "exec %s: %s", argv[0], strerror(e));
    if (c) {
        counters_close(c);
        for (int i = 0; i < c->n; i++) counters_reset(&c->v[i], "exec failed");
    }
    return -1;
}

/* Reads group leader i once: {nr, time_enabled, time_running, {value, id}
 * x nr}. Each open member gets its value (found by id) and the group's times
 * in v->raw / time_*; returns 0, or -1 with every member's reason set. */
static int counters_read_group(counters *c, int i) {
    uint64_t buf[3 + 2 * COUNTERS_MAX];
    ssize_t r = counters_read_full(c->fd[i], buf, sizeof(buf));
    uint64_t nr = r >= (ssize_t)(3 * sizeof(uint64_t)) ? buf[0] : 0;
    int bad = r < 0 || nr == 0 || nr > COUNTERS_MAX || (size_t)r < (3 + 2 * nr) * sizeof(uint64_t);
    char lead[sizeof(c->v[i].opened)];   /* a copy: the messages below may go to c->v[i] itself */
    memcpy(lead, c->v[i].opened, sizeof(lead));
    for (int k = i; k < c->n; k++) {
        if (c->fd[k] < 0 || c->leader[k] != i) continue;
        counter_value *v = &c->v[k];
        v->supported = 0;
        if (bad) {
            snprintf(v->reason, sizeof(v->reason), "read of group led by %s: %s", lead,
                     r < 0 ? strerror(errno) : "short read");
            continue;
        }
        uint64_t j = 0;
        while (j < nr && buf[3 + 2 * j + 1] != c->id[k]) j++;
        if (j == nr) {
            snprintf(v->reason, sizeof(v->reason), "not in the read of group led by %s", lead);
            continue;
        }
        v->raw = buf[3 + 2 * j];
        v->time_enabled = buf[1];
        v->time_running = buf[2];
        v->reason[0] = '\0';
    }
    return bad ? -1 : 0;
}

/* Contract: returns the number of supported events, or -1 when no child was
 * spawned. Each open event is read once more (reading twice is harmless). */
int counters_read(counters *c) {
    if (!c || c->pid <= 0) return -1;
    int nsup = 0;
    for (int i = 0; i < c->n; i++)   /* groups first: one read per leader */
        if (c->fd[i] >= 0 && c->leader[i] == i) counters_read_group(c, i);
    for (int i = 0; i < c->n; i++) {
        counter_value *v = &c->v[i];
        if (c->fd[i] < 0) continue;   /* reason set at open */
        if (c->leader[i] >= 0) {      /* read with its group above */
            if (v->reason[0]) continue;
        } else {
            uint64_t buf[3];          /* value, time_enabled, time_running */
            ssize_t r = counters_read_full(c->fd[i], buf, sizeof(buf));
            v->supported = 0;
            if (r != (ssize_t)sizeof(buf)) {
                snprintf(v->reason, sizeof(v->reason), "read: %s",
                         r < 0 ? strerror(errno) : "short read");
                continue;
            }
            v->raw = buf[0];
            v->time_enabled = buf[1];
            v->time_running = buf[2];
        }
        nsup += counters_scale(v);
    }
    return nsup;
}

/* Contract: see counters.h. */
int counters_scale(counter_value *v) {
    v->supported = 0;
    if (v->time_enabled == 0) {
        snprintf(v->reason, sizeof(v->reason), "never enabled (did the child exec?)");
        return 0;
    }
    if (v->time_running == 0) {
        snprintf(v->reason, sizeof(v->reason), "never scheduled (multiplexing)");
        return 0;
    }
    v->running_frac = (double)v->time_running / (double)v->time_enabled;
    v->value = (double)v->raw / v->running_frac;
    v->supported = 1;
    v->reason[0] = '\0';
    return 1;
}

// ----------------------------------------------------------------------------
// access

int counters_count(const counters *c) { return c ? c->n : 0; }

const counter_value *counters_get(const counters *c, int i) {
    return (c && i >= 0 && i < c->n) ? &c->v[i] : NULL;
}

const counter_value *counters_find(const counters *c, const char *name) {
    for (int i = 0; c && i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0) return &c->v[i];
    return NULL;
}

/* Contract: returns 1 with the scaled count (rounded to an integer) in buf,
 * or 0 with na (NULL: "unsupported") in buf when v is NULL or unsupported. */
int counters_format_value(const counter_value *v, const char *na, char *buf, size_t n) {
    if (!v || !v->supported) {
        snprintf(buf, n, "%s", na ? na : "unsupported");
        return 0;
    }
    snprintf(buf, n, "%.0f", v->value);
    return 1;
}
