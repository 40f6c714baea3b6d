/*
 * test_pin.c - --pin's parser and placement (core/pin.h) as pure functions
 * over hwloc's synthetic topologies (nothing can be bound to those), and
 * pin_plan_here on this machine:
 *   - cores fills physical cores before SMT siblings, scatter alternates
 *     packages and NUMA nodes first, both only over the allowed CPUs and
 *     wrapping (and saying so) past them;
 *   - LIST: entries in order, cycled when shorter, extra entries unused, an
 *     entry outside the allowed set refused with the CPU named;
 *   - bad values refused; a synthetic topology in the environment refused
 *     by pin_plan_here (it cannot be bound).
 * Ends with "test_pin: N passed, N failed".
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>

#include "check.h"
#include "pin.h"

static hwloc_topology_t synthetic(const char *desc) {
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0 || hwloc_topology_set_synthetic(t, desc) != 0 ||
        hwloc_topology_load(t) != 0) {
        EXPECT(0, "cannot load the synthetic topology '%s'", desc);
        return NULL;
    }
    return t;
}

static void fmt(char *out, size_t n, const int *v, int k) {
    size_t at = 0;
    out[0] = 0;
    for (int i = 0; i < k && at < n; i++) at += (size_t)snprintf(out + at, n - at, "%s%d", i ? "," : "", v[i]);
}

/* plan `spec` for nth workers over topology desc with the allowed CPUs
 * `allow` ("" = all); compare with `want` ("a,b,..."), and the wrap flag */
static void expect_plan(const char *desc, const char *allow, const char *spec, int nth, const char *want,
                        int want_wrapped) {
    hwloc_topology_t t = synthetic(desc);
    if (!t) return;
    hwloc_bitmap_t allowed = hwloc_bitmap_dup(hwloc_topology_get_topology_cpuset(t));
    if (*allow) hwloc_bitmap_list_sscanf(allowed, allow);
    pin_spec s;
    char err[512], got[512];
    int cpus[64], wrapped = -1;
    EXPECT(pin_parse(spec, &s, err, sizeof err) == 0, "pin_parse(%s): %s", spec, err);
    int rc = pin_plan(t, allowed, &s, nth, cpus, &wrapped, err, sizeof err);
    fmt(got, sizeof got, cpus, nth);
    EXPECT(rc == 0 && strcmp(got, want) == 0 && wrapped == want_wrapped,
           "'%s' allowed '%s' --pin %s x%d: got %s (wrapped %d, rc %d %s), want %s (wrapped %d)", desc, allow,
           spec, nth, rc == 0 ? got : "-", wrapped, rc, rc ? err : "", want, want_wrapped);
    hwloc_bitmap_free(allowed);
    hwloc_topology_destroy(t);
}

static void test_parse(void) {
    pin_spec s;
    char err[512];
    EXPECT(pin_parse("none", &s, err, sizeof err) == 0 && s.mode == PIN_NONE, "none");
    EXPECT(pin_parse("cores", &s, err, sizeof err) == 0 && s.mode == PIN_CORES, "cores");
    EXPECT(pin_parse("scatter", &s, err, sizeof err) == 0 && s.mode == PIN_SCATTER, "scatter");
    EXPECT(pin_parse("0,2,4-7,1", &s, err, sizeof err) == 0 && s.mode == PIN_LIST && s.n == 7 &&
           s.cpus[0] == 0 && s.cpus[1] == 2 && s.cpus[2] == 4 && s.cpus[5] == 7 && s.cpus[6] == 1,
           "0,2,4-7,1: %d entries", s.n);
    const char *bad[] = { "", "core", "1,", ",1", "3-1", "-1", "1-", "1,,2", "a", "0x1", "99999", "1 ", "+1", NULL };
    for (int i = 0; bad[i]; i++)
        EXPECT(pin_parse(bad[i], &s, err, sizeof err) != 0 && strstr(err, "--pin"), "'%s' accepted", bad[i]);
}

static void test_synthetic(void) {
    /* 2 packages x 2 cores x 2 PUs: OS indices 0..7 in that order */
    const char *t2 = "pack:2 core:2 pu:2";
    expect_plan(t2, "", "cores", 8, "0,2,4,6,1,3,5,7", 0);
    expect_plan(t2, "", "cores", 3, "0,2,4", 0);
    expect_plan(t2, "", "scatter", 8, "0,4,2,6,1,5,3,7", 0);
    expect_plan(t2, "", "scatter", 2, "0,4", 0);
    expect_plan(t2, "", "cores", 10, "0,2,4,6,1,3,5,7,0,2", 1);
    expect_plan(t2, "", "none", 3, "-1,-1,-1", 0);
    /* only package 0 allowed: scatter has one domain left */
    expect_plan(t2, "0-3", "scatter", 4, "0,2,1,3", 0);
    expect_plan(t2, "0-3", "cores", 5, "0,2,1,3,0", 1);
    /* an SMT sibling missing from the mask: its core still counts once */
    expect_plan(t2, "0,2-7", "cores", 7, "0,2,4,6,3,5,7", 0);
    /* 2 packages x 2 NUMA nodes x 2 cores x 2 PUs: scatter alternates packages, then nodes */
    const char *t4 = "pack:2 numa:2 core:2 pu:2";
    expect_plan(t4, "", "scatter", 8, "0,8,4,12,2,10,6,14", 0);
    expect_plan(t4, "", "scatter", 16, "0,8,4,12,2,10,6,14,1,9,5,13,3,11,7,15", 0);
    expect_plan(t4, "", "cores", 9, "0,2,4,6,8,10,12,14,1", 0);
    /* no SMT */
    expect_plan("pack:1 core:4 pu:1", "", "cores", 4, "0,1,2,3", 0);
    expect_plan("pack:1 core:4 pu:1", "", "scatter", 4, "0,1,2,3", 0);
    /* LIST: in order, cycled, extra entries unused */
    expect_plan(t2, "", "5,1,3", 3, "5,1,3", 0);
    expect_plan(t2, "", "5,1", 5, "5,1,5,1,5", 0);
    expect_plan(t2, "", "0-7", 2, "0,1", 0);
    /* LIST entries past the topology or the mask: refused, naming the CPU and the worker */
    hwloc_topology_t t = synthetic(t2);
    if (t) {
        hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
        hwloc_bitmap_list_sscanf(allowed, "0-3");
        pin_spec s;
        char err[512];
        int cpus[8], wrapped;
        pin_parse("1,6", &s, err, sizeof err);
        EXPECT(pin_plan(t, allowed, &s, 2, cpus, &wrapped, err, sizeof err) != 0 && strstr(err, "CPU 6") &&
               strstr(err, "worker 1") && strstr(err, "0-3"), "CPU 6 outside 0-3: %s", err);
        /* an entry past the workers is not checked: a sweep's LIST serves every count */
        EXPECT(pin_plan(t, allowed, &s, 1, cpus, &wrapped, err, sizeof err) == 0 && cpus[0] == 1,
               "1,6 at 1 worker: %s", err);
        pin_parse("12", &s, err, sizeof err);
        EXPECT(pin_plan(t, allowed, &s, 1, cpus, &wrapped, err, sizeof err) != 0 && strstr(err, "CPU 12"),
               "CPU 12 past the topology: %s", err);
        hwloc_bitmap_free(allowed);
        hwloc_topology_destroy(t);
    }
}

static void test_here(void) {
    cpu_set_t aff;
    sched_getaffinity(0, sizeof aff, &aff);
    int first = -1, n = CPU_COUNT(&aff);
    for (int c = CPU_SETSIZE - 1; c >= 0; c--) if (CPU_ISSET(c, &aff)) first = c;
    pin_spec s;
    char err[512], spec[32];
    int cpus[64], wrapped;
    pin_parse("cores", &s, err, sizeof err);
    EXPECT(pin_plan_here(&s, n, cpus, &wrapped, err, sizeof err) == 0 && !wrapped, "cores here: %s", err);
    int distinct = 1;
    for (int i = 0; i < n && i < 64; i++) {
        distinct &= CPU_ISSET(cpus[i], &aff);
        for (int j = 0; j < i; j++) distinct &= cpus[i] != cpus[j];
    }
    EXPECT(distinct, "cores here: %d workers not on %d distinct CPUs of the mask", n, n);
    EXPECT(pin_plan_here(&s, n + 1, cpus, &wrapped, err, sizeof err) == 0 && wrapped,
           "cores here with one worker more than CPUs: not wrapped (%s)", err);
    snprintf(spec, sizeof spec, "%d", first);
    pin_parse(spec, &s, err, sizeof err);
    EXPECT(pin_plan_here(&s, 1, cpus, &wrapped, err, sizeof err) == 0 && cpus[0] == first, "--pin %s: %s",
           spec, err);
    pin_parse("1023", &s, err, sizeof err);
    EXPECT(pin_plan_here(&s, 1, cpus, &wrapped, err, sizeof err) != 0 && strstr(err, "CPU 1023"),
           "CPU 1023: %s", err);
    /* a synthetic topology from the environment cannot be bound: refused */
    setenv("HWLOC_SYNTHETIC", "pack:2 core:2 pu:2", 1);
    pin_parse("cores", &s, err, sizeof err);
    EXPECT(pin_plan_here(&s, 2, cpus, &wrapped, err, sizeof err) != 0 && strstr(err, "HWLOC_SYNTHETIC"),
           "HWLOC_SYNTHETIC set: %s", err);
    unsetenv("HWLOC_SYNTHETIC");
}

int main(void) {
    test_parse();
    test_synthetic();
    test_here();
    return check_finish("test_pin");
}
