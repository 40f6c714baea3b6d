/*
 * test_counter_groups.c - perf_event groups in the counters module ("{a,b}"
 * in an event list), tested with software events, which can be grouped like
 * hardware ones. The child is this binary re-executed with "--work MS PAGES":
 * it touches PAGES fresh pages (PAGES page faults at least) and burns MS
 * milliseconds of its own CPU time, so the counts are known however loaded
 * the machine is.
 *
 * Checks: a group {task-clock,context-switches,page-faults} opens as one
 * group led by task-clock, its members share one time_enabled/time_running,
 * and each member's value is the one counted for the same event outside the
 * group in the same child (so the PERF_FORMAT_GROUP read is matched to the
 * right member); a leader that fails hands the lead to the next member; a
 * hardware member (cycles) is either counted in the group or unsupported with
 * a reason, never 0, and the others still count; the default list's
 * {cycles,instructions,ref-cycles} group likewise; malformed braces are
 * refused; no fd is left open.
 */
#include "counters.h"
#include "check.h"
#include "counters_child.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define WORK_MS 200
#define WORK_PAGES 3000

// ----------------------------------------------------------------------------
// the child: --work MS PAGES

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int work_main(int ms, long pages) {
    long pg = sysconf(_SC_PAGESIZE);
    volatile char *m = mmap(NULL, (size_t)(pages * pg), PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 1;
    for (long i = 0; i < pages; i++) m[i * pg] = 1;
    double until = cpu_now() + ms * 1e-3;
    volatile uint64_t x = 1;
    while (cpu_now() < until)
        for (int i = 0; i < 4096; i++) x = x * 6364136223846793005ull + 1;
    return 0;
}

// ----------------------------------------------------------------------------
// helpers

/* Spawns "self --work" under c, reaps it, reads c. Returns counters_read's
 * result, or -1 when the child was not reaped. */
static int run_work(counters *c, double *cpu_s) {
    char ms[16], pages[16];
    snprintf(ms, sizeof ms, "%d", WORK_MS);
    snprintf(pages, sizeof pages, "%d", WORK_PAGES);
    char *argv[] = { child_exe, "--work", ms, pages, NULL };
    return child_run(c, argv, cpu_s, NULL) == 0 ? counters_read(c) : -1;
}

static void show(const counters *c) {
    char buf[64];
    for (int i = 0; i < counters_count(c); i++) {
        const counter_value *v = counters_get(c, i);
        counters_format_value(v, "NA", buf, sizeof buf);
        printf("  %-22s group %d leader %-12s %14s  enabled %llu running %llu  %s\n", v->name,
               v->group, v->leader[0] ? v->leader : "-", buf, (unsigned long long)v->time_enabled,
               (unsigned long long)v->time_running, v->supported ? "" : v->reason);
    }
}

/* Unsupported means a reason and an NA, never a 0. */
static void expect_na(const counter_value *v) {
    char buf[64];
    EXPECT(!v->supported && v->reason[0], "%s: unsupported without a reason", v->name);
    EXPECT(counters_format_value(v, "NA", buf, sizeof buf) == 0 && strcmp(buf, "NA") == 0,
           "%s: unsupported formatted as \"%s\"", v->name, buf);
}

// ----------------------------------------------------------------------------
// tests

/* 1: a software group against the same events counted on their own. */
static void test_group_matches_solo(void) {
    char err[256];
    /* 0 1: solo; 2 3 4: the group */
    counters *c = counters_create("task-clock,page-faults,{task-clock, context-switches ,page-faults}",
                                  err, sizeof err);
    EXPECT(c != NULL, "create: %s", err);
    if (!c) return;
    double cpu = 0;
    int n = run_work(c, &cpu);
    printf("solo task-clock, page-faults and the group {task-clock,context-switches,page-faults}:\n");
    show(c);
    EXPECT(n == 5, "%d of 5 software events read", n);
    const counter_value *solo_tc = counters_get(c, 0), *solo_pf = counters_get(c, 1);
    const counter_value *g[3] = { counters_get(c, 2), counters_get(c, 3), counters_get(c, 4) };
    EXPECT(solo_tc->group == 0 && solo_pf->group == 0 && !solo_tc->leader[0], "solo events marked grouped");
    for (int k = 0; k < 3; k++) {
        EXPECT(g[k]->group == 1, "%s: group %d, want 1", g[k]->name, g[k]->group);
        EXPECT(strcmp(g[k]->leader, "task-clock") == 0, "%s: leader '%s'", g[k]->name, g[k]->leader);
        EXPECT(g[k]->supported, "%s unsupported: %s", g[k]->name, g[k]->reason);
        EXPECT(g[k]->time_enabled == g[0]->time_enabled && g[k]->time_running == g[0]->time_running,
               "%s: times %llu/%llu differ from the leader's %llu/%llu", g[k]->name,
               (unsigned long long)g[k]->time_enabled, (unsigned long long)g[k]->time_running,
               (unsigned long long)g[0]->time_enabled, (unsigned long long)g[0]->time_running);
    }
    if (!(n == 5)) { counters_free(c); return; }
    /* the right value went to the right member */
    EXPECT(g[2]->value >= WORK_PAGES, "grouped page-faults %.0f < the %d pages touched", g[2]->value, WORK_PAGES);
    EXPECT(fabs(g[2]->value - solo_pf->value) <= 0.02 * solo_pf->value + 5,
           "grouped page-faults %.0f vs solo %.0f", g[2]->value, solo_pf->value);
    EXPECT(fabs(g[0]->value - solo_tc->value) <= 0.05 * solo_tc->value,
           "grouped task-clock %.0f ns vs solo %.0f ns", g[0]->value, solo_tc->value);
    EXPECT(fabs(g[0]->value * 1e-9 - cpu) <= 0.05 * cpu + 0.01,
           "grouped task-clock %.3f s vs rusage %.3f s", g[0]->value * 1e-9, cpu);
    EXPECT(g[1]->value < g[2]->value, "context-switches %.0f >= page-faults %.0f: values swapped?",
           g[1]->value, g[2]->value);
    counters_free(c);
}

/* 2: the leader fails: the next member leads, the rest still count. */
static void test_leader_fails(void) {
    char err[256];
    counters *c = counters_create("{task-clock,page-faults,context-switches}", err, sizeof err);
    EXPECT(c != NULL, "create: %s", err);
    if (!c) return;
    counters_force_fail(c, "task-clock", ENOENT);
    int n = run_work(c, NULL);
    printf("group with its leader forced to fail:\n");
    show(c);
    EXPECT(n == 2, "%d events read, want 2", n);
    expect_na(counters_find(c, "task-clock"));
    const counter_value *pf = counters_find(c, "page-faults"), *cs = counters_find(c, "context-switches");
    EXPECT(pf->supported && pf->value >= WORK_PAGES, "page-faults %.0f (%s)", pf->value, pf->reason);
    EXPECT(strcmp(pf->leader, "page-faults") == 0 && strcmp(cs->leader, "page-faults") == 0,
           "leaders '%s' '%s', want page-faults", pf->leader, cs->leader);
    EXPECT(cs->supported && cs->time_enabled == pf->time_enabled, "context-switches not in the group");
    counters_free(c);
}

/* 3: a hardware member: counted in the group, or unsupported with a reason
 * (these VMs: ENOENT); forced to fail on machines where it opens. */
static void test_hardware_member(void) {
    char err[256];
    for (int force = 0; force < 2; force++) {
        counters *c = counters_create("{task-clock,cycles,page-faults}", err, sizeof err);
        EXPECT(c != NULL, "create: %s", err);
        if (!c) return;
        if (force) counters_force_fail(c, "cycles", ENOENT);
        int n = run_work(c, NULL);
        printf("group with a hardware member%s:\n", force ? " (forced to fail)" : "");
        show(c);
        const counter_value *cy = counters_find(c, "cycles"), *tc = counters_find(c, "task-clock");
        const counter_value *pf = counters_find(c, "page-faults");
        EXPECT(tc->supported && pf->supported && pf->value >= WORK_PAGES,
               "software members broken by the hardware one");
        if (cy->supported) {
            EXPECT(!force, "cycles supported although forced to fail");
            EXPECT(cy->value > 0 && cy->time_running == tc->time_running && strcmp(cy->leader, "task-clock") == 0,
                   "cycles %.0f not counted in the group", cy->value);
            EXPECT(n == 3, "%d events read", n);
        } else {
            expect_na(cy);
            EXPECT(n == 2, "%d events read, want 2", n);
        }
        counters_free(c);
    }
}

/* 4: the default list's {cycles,instructions,ref-cycles}: each member is
 * counted with one group's times, or unsupported with a reason. */
static void test_default_group(void) {
    char err[256];
    counters *c = counters_create(NULL, err, sizeof err);
    EXPECT(c != NULL, "default list: %s", err);
    if (!c) return;
    run_work(c, NULL);
    printf("the default list:\n");
    show(c);
    const char *hw[] = { "cycles", "instructions", "ref-cycles" };
    const counter_value *first = NULL;
    for (int k = 0; k < 3; k++) {
        const counter_value *v = counters_find(c, hw[k]);
        EXPECT(v && v->group > 0, "%s is not grouped in the default list", hw[k]);
        if (!v) continue;
        if (!v->supported) { expect_na(v); continue; }
        EXPECT(v->value > 0, "%s supported with 0", hw[k]);
        if (!first) first = v;
        EXPECT(v->time_running == first->time_running && strcmp(v->leader, first->leader) == 0,
               "%s not in the same group as %s", hw[k], first->name);
    }
    const counter_value *tc = counters_find(c, "task-clock");
    EXPECT(tc && tc->supported && tc->group == 0, "task-clock: not counted on its own");
    counters_free(c);
}

/* 5: braces that do not open or close a group are refused. */
static void test_malformed_groups(void) {
    const char *bad[] = { "{", "{}", "{ }", "{task-clock", "task-clock}", "{task-clock,{page-faults}}",
                          "{,task-clock}", "{task-clock,}", "task{-clock", "{task-clock}}",
                          "{task-clock},page-faults}" };
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        counters *c = counters_create(bad[i], err, sizeof err);
        EXPECT(c == NULL && err[0], "\"%s\" accepted (or no message)", bad[i]);
        if (i < 4) printf("refused \"%s\": %s\n", bad[i], err);
        counters_free(c);
    }
    counters *c = counters_create("{task-clock},{ page-faults , cycles },context-switches", err, sizeof err);
    EXPECT(c && counters_count(c) == 4, "two groups and a solo event refused: %s", err);
    if (c) {
        EXPECT(counters_get(c, 0)->group == 1 && counters_get(c, 1)->group == 2 &&
               counters_get(c, 2)->group == 2 && counters_get(c, 3)->group == 0,
               "groups numbered %d %d %d %d", counters_get(c, 0)->group, counters_get(c, 1)->group,
               counters_get(c, 2)->group, counters_get(c, 3)->group);
        EXPECT(strcmp(counters_get(c, 1)->name, "page-faults") == 0, "spaces kept: '%s'", counters_get(c, 1)->name);
    }
    counters_free(c);
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "--work") == 0) return work_main(atoi(argv[2]), atol(argv[3]));
    if (child_init() != 0) return 1;
    int fds = child_count_fds();
    test_group_matches_solo();
    test_leader_fails();
    test_hardware_member();
    test_default_group();
    test_malformed_groups();
    EXPECT(child_count_fds() == fds, "fds %d at start, %d at the end", fds, child_count_fds());
    return check_finish("test_counter_groups");
}
