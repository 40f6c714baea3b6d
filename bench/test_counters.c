/*
 * test_counters.c - the counters module against a child whose work is known:
 * this binary re-executes itself with "--burn MS", which runs 2 threads that
 * each burn MS milliseconds of their own CPU time (so the total is fixed
 * however loaded the machine is), while the main thread only waits.
 *
 * Checks: task-clock against the child's rusage (5%) and both threads counted
 * (inherit); forced and unknown events are unsupported with a reason and are
 * never formatted as 0; "cycles" is either > 0 or unsupported; exec failure
 * is -1 naming the path with no zombie; malformed lists are refused; no fd
 * is left open; multiplexed read-backs (enabled != running, which software
 * events never produce) are scaled up by enabled/running.
 */
#include "counters.h"
#include "check.h"
#include "counters_child.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BURN_MS 500         /* per thread, test 1 */
#define BURN_THREADS 2

// ----------------------------------------------------------------------------
// the child: --burn MS

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *burn_thread(void *arg) {
    double until = thread_cpu_s() + *(const double *)arg;
    volatile uint64_t x = 1;
    while (thread_cpu_s() < until)
        for (int i = 0; i < 4096; i++) x = x * 6364136223846793005ull + 1442695040888963407ull;
    return NULL;
}

static int burn_main(int ms) {
    double s = ms * 1e-3;
    pthread_t t[BURN_THREADS];
    for (int i = 0; i < BURN_THREADS; i++)
        if (pthread_create(&t[i], NULL, burn_thread, &s) != 0) return 1;
    for (int i = 0; i < BURN_THREADS; i++) pthread_join(t[i], NULL);
    return 0;
}

// ----------------------------------------------------------------------------
// helpers

/* Spawn "self --burn ms" under c, wait4 it. Returns 0 when it was reaped;
 * *cpu_s = rusage user+sys, *wall = spawn to reap. */
static int run_burn(counters *c, int ms, double *cpu_s, double *wall) {
    char arg[32];
    snprintf(arg, sizeof(arg), "%d", ms);
    char *argv[] = {child_exe, "--burn", arg, NULL};
    return child_run(c, argv, cpu_s, wall);
}

static void print_counters(const counters *c) {
    char buf[64];
    for (int i = 0; i < counters_count(c); i++) {
        const counter_value *v = counters_get(c, i);
        counters_format_value(v, "NA", buf, sizeof(buf));
        printf("  %-40s %16s  frac %.2f  %s%s\n", v->name, buf, v->running_frac,
               v->supported ? v->opened : v->reason, v->user_only ? " (user space only)" : "");
    }
}

// ----------------------------------------------------------------------------
// tests

/* 1: task-clock agrees with rusage, and both threads were counted. */
static void test_task_clock(void) {
    char err[256];
    counters *c = counters_create(NULL, err, sizeof(err));
    EXPECT(c != NULL, "default list refused: %s", err);
    if (!c) return;
    double cpu = 0, wall = 0;
    if (run_burn(c, BURN_MS, &cpu, &wall) == 0) {
        EXPECT(counters_read(c) >= 4, "fewer than the 4 software events read");
        printf("default events, child burning 2 x %d ms (rusage %.3f s, wall %.3f s):\n",
               BURN_MS, cpu, wall);
        print_counters(c);
        const counter_value *tc = counters_find(c, "task-clock");
        EXPECT(tc && tc->supported, "task-clock unsupported: %s", tc ? tc->reason : "missing");
        if (tc && tc->supported) {
            double tcs = tc->value * 1e-9;   /* task-clock is in ns */
            EXPECT(tcs > 0, "task-clock is 0");
            EXPECT(fabs(tcs - cpu) <= 0.05 * cpu,
                   "task-clock %.4f s vs rusage %.4f s: more than 5%% apart", tcs, cpu);
            /* inherit: the main thread only waits, so without it ~0 counts */
            double need = 0.95 * BURN_THREADS * BURN_MS * 1e-3;
            EXPECT(tcs >= need, "task-clock %.3f s < %.3f s: not every thread counted",
                   tcs, need);
            EXPECT(tc->running_frac > 0.999 && tc->running_frac <= 1.0,
                   "software event multiplexed? running_frac %.3f", tc->running_frac);
            /* > wall only where 2 cores were actually given to the child */
            if (sysconf(_SC_NPROCESSORS_ONLN) >= 2 && cpu > 1.2 * wall)
                EXPECT(tcs > wall, "task-clock %.3f s <= wall %.3f s on >= 2 cores", tcs, wall);
            else
                printf("  (task-clock > wall not checked: %ld cpus, rusage/wall %.2f)\n",
                       sysconf(_SC_NPROCESSORS_ONLN), cpu / wall);
        }
        const char *sw[] = {"context-switches", "cpu-migrations", "page-faults"};
        for (int i = 0; i < 3; i++) {
            const counter_value *v = counters_find(c, sw[i]);
            EXPECT(v && v->supported, "%s unsupported: %s", sw[i], v ? v->reason : "missing");
        }
        const counter_value *pf = counters_find(c, "page-faults");
        EXPECT(pf && pf->value > 0, "no page faults after an exec");
        for (int i = 0; i < counters_count(c); i++) {
            const counter_value *v = counters_get(c, i);
            EXPECT(v->supported || v->reason[0], "%s unsupported without a reason", v->name);
        }
    }
    counters_free(c);
}

/* 2: a forced failure stays unsupported and is never formatted as 0. */
static void test_forced_fail(void) {
    char err[256], buf[64];
    counters *c = counters_create("task-clock,page-faults", err, sizeof(err));
    EXPECT(c != NULL, "create: %s", err);
    if (!c) return;
    counters_force_fail(c, "page-faults", ENOENT);
    if (run_burn(c, 20, NULL, NULL) == 0) {
        EXPECT(counters_read(c) == 1, "expected only task-clock supported");
        const counter_value *pf = counters_find(c, "page-faults");
        EXPECT(pf && !pf->supported, "forced page-faults reported as supported");
        EXPECT(pf && strstr(pf->reason, strerror(ENOENT)),
               "reason \"%s\" lacks the errno text", pf ? pf->reason : "");
        EXPECT(counters_format_value(pf, "NA", buf, sizeof(buf)) == 0 && !strcmp(buf, "NA"),
               "CSV: unsupported formatted as \"%s\"", buf);
        EXPECT(counters_format_value(pf, "null", buf, sizeof(buf)) == 0 && !strcmp(buf, "null"),
               "JSON: unsupported formatted as \"%s\"", buf);
        EXPECT(counters_format_value(pf, NULL, buf, sizeof(buf)) == 0
               && !strcmp(buf, "unsupported"), "default text \"%s\"", buf);
        const counter_value *tc = counters_find(c, "task-clock");
        EXPECT(tc && tc->supported && tc->value > 0, "task-clock broken by the forced event");
        EXPECT(counters_format_value(tc, "NA", buf, sizeof(buf)) == 1
               && strtod(buf, NULL) == round(tc->value), "supported formatted as \"%s\"", buf);
    }
    /* the formatter itself: a zero that is unsupported is never "0" */
    counter_value v = {.supported = 0, .value = 0.0};
    EXPECT(counters_format_value(&v, "NA", buf, sizeof(buf)) == 0 && !strcmp(buf, "NA"),
           "unsupported 0 formatted as \"%s\"", buf);
    v.supported = 1;
    v.value = 12345.0;
    EXPECT(counters_format_value(&v, "NA", buf, sizeof(buf)) == 1 && !strcmp(buf, "12345"),
           "12345 formatted as \"%s\"", buf);
    EXPECT(counters_format_value(NULL, "NA", buf, sizeof(buf)) == 0 && !strcmp(buf, "NA"),
           "NULL formatted as \"%s\"", buf);
    counters_free(c);
}

/* 3: an unknown name is unsupported; the others still count. */
static void test_unknown(void) {
    char err[256];
    counters *c = counters_create("task-clock,no-such-event,page-faults", err, sizeof(err));
    EXPECT(c != NULL, "unknown names must not fail create: %s", err);
    if (!c) return;
    if (run_burn(c, 20, NULL, NULL) == 0) {
        EXPECT(counters_read(c) == 2, "expected 2 supported events");
        const counter_value *u = counters_find(c, "no-such-event");
        EXPECT(u && !u->supported && u->reason[0], "no-such-event: supported or no reason");
        printf("no-such-event: %s\n", u ? u->reason : "?");
        const counter_value *tc = counters_find(c, "task-clock");
        const counter_value *pf = counters_find(c, "page-faults");
        EXPECT(tc && tc->supported && tc->value > 0, "task-clock broken by an unknown event");
        EXPECT(pf && pf->supported && pf->value > 0, "page-faults broken by an unknown event");
    }
    counters_free(c);
}

/* 4: a hardware event is > 0 after a busy child, or unsupported with a reason. */
static void test_cycles(void) {
    char err[256];
    counters *c = counters_create("cycles,instructions", err, sizeof(err));
    EXPECT(c != NULL, "create: %s", err);
    if (!c) return;
    if (run_burn(c, 100, NULL, NULL) == 0) {
        counters_read(c);
        for (int i = 0; i < counters_count(c); i++) {
            const counter_value *v = counters_get(c, i);
            EXPECT(v->supported ? v->value > 0 : v->reason[0] != '\0',
                   "%s: supported %d value %.0f reason \"%s\"", v->name, v->supported,
                   v->value, v->reason);
            if (v->supported) printf("%s: %.0f\n", v->name, v->value);
            else printf("%s: unsupported: %s\n", v->name, v->reason);
        }
    }
    counters_free(c);
}

/* 5: exec failure is -1 naming the path; no zombie, no fd left. */
static void test_exec_fail(void) {
    char err[256] = "";
    const char *path = "/nonexistent/cllm-no-such-program";
    counters *c = counters_create("task-clock", err, sizeof(err));
    EXPECT(c != NULL, "create: %s", err);
    if (!c) return;
    int fds = child_count_fds();
    char *argv[] = {(char *)path, NULL};
    pid_t pid = counters_spawn(c, argv, -1, -1, err, sizeof(err));
    EXPECT(pid == -1, "spawn of a missing program returned %d", (int)pid);
    EXPECT(strstr(err, path) != NULL, "error \"%s\" does not name the path", err);
    printf("exec failure: %s\n", err);
    EXPECT(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "a child is left behind");
    EXPECT(child_count_fds() == fds, "fds %d -> %d after a failed spawn", fds, child_count_fds());
    EXPECT(counters_read(c) == -1, "read after a failed spawn must be -1");
    EXPECT(!counters_get(c, 0)->supported, "task-clock supported after a failed spawn");
    counters_free(c);
}

/* 6: malformed lists are refused with a message. */
static void test_malformed(void) {
    char err[256], list[64 * (COUNTERS_MAX + 1)];
    const char *bad[] = {",,", "", "task-clock,", ",task-clock", "task-clock,,page-faults",
                         "task-clock, ,page-faults",
                         "an-event-name-that-is-far-too-long-to-fit-in-sixty-three-characters"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        counters *c = counters_create(bad[i], err, sizeof(err));
        EXPECT(c == NULL && err[0], "\"%s\" accepted (or no message)", bad[i]);
        counters_free(c);
    }
    list[0] = '\0';
    for (int i = 0; i < COUNTERS_MAX; i++) strcat(list, i ? ",task-clock" : "task-clock");
    counters *c = counters_create(list, err, sizeof(err));
    EXPECT(c && counters_count(c) == COUNTERS_MAX, "%d events refused: %s", COUNTERS_MAX, err);
    counters_free(c);
    strcat(list, ",page-faults");
    err[0] = '\0';
    c = counters_create(list, err, sizeof(err));
    EXPECT(c == NULL && err[0], "%d events accepted", COUNTERS_MAX + 1);
    printf("too many: %s\n", err);
    counters_free(c);
    c = counters_create(" task-clock , page-faults ", err, sizeof(err));
    EXPECT(c && counters_find(c, "page-faults"), "spaces around names not dropped");
    counters_free(c);
}

/* 7: the scaling of a multiplexed count: value = raw * enabled / running */
static int scaled(counter_value *v, uint64_t raw, uint64_t enabled, uint64_t running) {
    memset(v, 0, sizeof *v);
    v->raw = raw;
    v->time_enabled = enabled;
    v->time_running = running;
    return counters_scale(v);
}

static void test_scale(void) {
    counter_value v;
    /* ran a quarter of the time it was enabled: 1000 counted -> 4000 */
    EXPECT(scaled(&v, 1000, 4000000, 1000000) == 1 && v.supported, "multiplexed read refused");
    EXPECT(fabs(v.value - 4000) < 1e-9 && fabs(v.running_frac - 0.25) < 1e-12 && v.raw == 1000,
           "raw 1000 over running 1e6 / enabled 4e6 ns: value %.6g (want 4000), running_frac %.6g",
           v.value, v.running_frac);
    EXPECT(scaled(&v, 777, 3000, 3000) == 1 && v.value == 777 && v.running_frac == 1.0,
           "never multiplexed: value %.6g, want the raw 777", v.value);
    EXPECT(scaled(&v, 5, 3000, 0) == 0 && !v.supported && strstr(v.reason, "never scheduled"),
           "running 0: supported=%d reason '%s'", v.supported, v.reason);
    EXPECT(scaled(&v, 5, 0, 0) == 0 && !v.supported && strstr(v.reason, "never enabled"),
           "enabled 0: supported=%d reason '%s'", v.supported, v.reason);
    char buf[64];
    EXPECT(counters_format_value(&v, "NA", buf, sizeof buf) == 0 && strcmp(buf, "NA") == 0,
           "a never-enabled count formats as '%s', not NA", buf);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--burn") == 0) return burn_main(atoi(argv[2]));
    if (child_init() != 0) return 1;
    int fds = child_count_fds();
    test_task_clock();
    test_forced_fail();
    test_unknown();
    test_cycles();
    test_exec_fail();
    test_malformed();
    test_scale();
    EXPECT(child_count_fds() == fds, "fds %d at start, %d at the end", fds, child_count_fds());
    return check_finish("test_counters");
}
