/*
 * plan_invariants.c - the worker plan's invariants on every machine folder
 * under DIR (tests/test_machines.sh extracts the hwloc snapshots of
 * ../shared/machines/ there and runs `plan_invariants DIR COUNT`) and on a
 * made-up hybrid machine with two cpukinds (tests/data/hybrid-8e6p.xml),
 * for every thread count from 1 to the usable PUs plus a few, in every mode:
 *   - every worker's PU is online, allowed (recomputed here from hwloc's
 *     sets, not taken from machine.c) and so usable;
 *   - no two workers share a PU until every usable PU has one, and the plan
 *     says it wrapped exactly when it had to;
 *   - cores: one PU of every core before any SMT sibling, fastest kind first;
 *   - scatter: the first workers each on a different NUMA node (or package);
 *   - the same input gives the same plan; a LIST naming an offline or
 *     disallowed PU is refused.
 * Also machine_usable(), the one definition of usable CPUs, on made-up sets
 * and quotas. Nothing depends on this machine's CPUs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "machine.h"
#include "pin.h"

#define NMAX 1100

static int same_core(hwloc_topology_t t, int a, int b) {
    hwloc_obj_t pa = hwloc_get_pu_obj_by_os_index(t, (unsigned)a), pb = hwloc_get_pu_obj_by_os_index(t, (unsigned)b);
    hwloc_obj_t ca = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_CORE, pa);
    hwloc_obj_t cb = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_CORE, pb);
    return ca ? ca == cb : a == b;
}

/* the scatter domain of a PU: its NUMA node when there are several, else its package */
static int domain_of(const machine_t *m, int pu) {
    machine_place p;
    machine_place_of(m, pu, &p);
    return hwloc_get_nbobjs_by_type(m->hw, HWLOC_OBJ_NUMANODE) > 1 ? p.numa : p.package;
}

static void check_machine(const char *name, const char *path) {
    machine_t m;
    char err[1024];
    if (machine_load(&m, path, err, sizeof err) != 0) { EXPECT(0, "%s: %s", name, err); return; }
    /* the usable set recomputed from hwloc's own sets */
    hwloc_bitmap_t ok = hwloc_bitmap_dup(hwloc_topology_get_topology_cpuset(m.hw));
    hwloc_bitmap_and(ok, ok, hwloc_topology_get_allowed_cpuset(m.hw));
    EXPECT(hwloc_bitmap_isequal(ok, m.usable_set), "%s: usable set is not online ∩ allowed", name);
    int nset = hwloc_bitmap_weight(ok);
    int ncores = 0, ndom = 0, doms[1024];
    hwloc_obj_t core = NULL;
    while ((core = hwloc_get_next_obj_by_type(m.hw, HWLOC_OBJ_CORE, core)))
        ncores += hwloc_bitmap_intersects(core->cpuset, ok);
    if (!hwloc_get_nbobjs_by_type(m.hw, HWLOC_OBJ_CORE)) ncores = nset;
    unsigned u;
    hwloc_bitmap_foreach_begin(u, ok) {
        int d = domain_of(&m, (int)u), seen = 0;
        for (int k = 0; k < ndom; k++) seen |= doms[k] == d;
        if (!seen && ndom < 1024) doms[ndom++] = d;
    } hwloc_bitmap_foreach_end();

    static int cpus[NMAX], again[NMAX];
    for (int mode = PIN_CORES; mode <= PIN_SCATTER; mode++) {
        pin_spec s = { .mode = mode };
        int nmax = nset + 5 < NMAX ? nset + 5 : NMAX;
        int bad_usable = 0, bad_share = 0, bad_wrap = 0, bad_core = 0, bad_kind = 0, bad_dom = 0, bad_same = 0, bad_rc = 0;
        for (int n = 1; n <= nmax; n++) {
            int wrapped = 0, w2 = 0;
            if (pin_plan_machine(&m, &s, n, cpus, &wrapped, err, sizeof err) != 0) { bad_rc = n; continue; }
            pin_plan_machine(&m, &s, n, again, &w2, err, sizeof err);
            if (memcmp(cpus, again, sizeof(int) * (size_t)n) || wrapped != w2) bad_same = n;
            int distinct = 0;
            for (int i = 0; i < n; i++) {
                if (!hwloc_bitmap_isset(ok, (unsigned)cpus[i])) bad_usable = n;
                int dup = 0;
                for (int k = 0; k < i && !dup; k++) dup = cpus[k] == cpus[i];
                distinct += !dup;
            }
            if (distinct != (n < nset ? n : nset)) bad_share = n;
            if (wrapped != (n > nset)) bad_wrap = n;
            int first = n < ncores ? n : ncores;
            for (int i = 0; i < first; i++)
                for (int k = 0; k < i; k++)
                    if (same_core(m.hw, cpus[i], cpus[k])) bad_core = n;
            if (mode == PIN_CORES && m.nkinds > 1) {
                machine_place a, b;
                for (int i = 1; i < first; i++) {
                    machine_place_of(&m, cpus[i - 1], &a);
                    machine_place_of(&m, cpus[i], &b);
                    if (b.kind > a.kind) bad_kind = n;
                }
            }
            if (mode == PIN_SCATTER) {
                int fd = n < ndom ? n : ndom;
                for (int i = 0; i < fd; i++)
                    for (int k = 0; k < i; k++)
                        if (domain_of(&m, cpus[i]) == domain_of(&m, cpus[k])) bad_dom = n;
            }
        }
        const char *mn = pin_mode_name(mode);
        EXPECT(!bad_rc, "%s %s: no plan at N=%d", name, mn, bad_rc);
        EXPECT(!bad_usable, "%s %s: a PU outside online ∩ allowed at N=%d", name, mn, bad_usable);
        EXPECT(!bad_share, "%s %s: a PU shared before all %d are used, N=%d", name, mn, nset, bad_share);
        EXPECT(!bad_wrap, "%s %s: wrapped flag wrong at N=%d", name, mn, bad_wrap);
        EXPECT(!bad_core, "%s %s: an SMT sibling before every core has a worker, N=%d", name, mn, bad_core);
        EXPECT(!bad_kind, "%s %s: a slower core kind before a faster one, N=%d", name, mn, bad_kind);
        EXPECT(!bad_dom, "%s %s: the first workers share a domain (of %d) at N=%d", name, mn, ndom, bad_dom);
        EXPECT(!bad_same, "%s %s: two plans of the same input differ at N=%d", name, mn, bad_same);
    }
    /* a LIST naming a PU that is offline or outside the allowed set is refused */
    hwloc_bitmap_t out = hwloc_bitmap_dup(hwloc_topology_get_complete_cpuset(m.hw));
    hwloc_bitmap_andnot(out, out, ok);
    int x = hwloc_bitmap_first(out);
    if (x >= 0) {
        pin_spec s;
        char v[32];
        snprintf(v, sizeof v, "%d", x);
        int wrapped;
        EXPECT(pin_parse(v, &s, err, sizeof err) == 0 && pin_plan_machine(&m, &s, 1, cpus, &wrapped, err, sizeof err) != 0
               && strstr(err, v), "%s: --pin %s (offline or disallowed) accepted", name, v);
    }
    hwloc_bitmap_free(out);
    hwloc_bitmap_free(ok);
    machine_free(&m);
}

static void check_definition(void) {
    hwloc_bitmap_t on = hwloc_bitmap_alloc(), al = hwloc_bitmap_alloc(), af = hwloc_bitmap_alloc(), s = hwloc_bitmap_alloc();
    hwloc_bitmap_list_sscanf(on, "4-20");
    hwloc_bitmap_list_sscanf(al, "0-15");
    hwloc_bitmap_list_sscanf(af, "0-63");
    EXPECT(machine_usable(on, al, af, 0, s) == 12 && hwloc_bitmap_first(s) == 4 && hwloc_bitmap_last(s) == 15,
           "online 4-20 ∩ allowed 0-15 ∩ affinity 0-63: want 12 (4-15)");
    EXPECT(machine_usable(on, al, af, 2, NULL) == 2, "a 2-CPU quota caps 12 usable PUs at 2");
    EXPECT(machine_usable(on, al, af, 64, NULL) == 12, "a 64-CPU quota does not raise 12");
    hwloc_bitmap_list_sscanf(af, "0-1");
    EXPECT(machine_usable(on, al, af, 0, NULL) == 0, "affinity outside online: 0 usable");
    EXPECT(machine_usable(NULL, NULL, af, 1, NULL) == 1, "NULL sets do not restrict; quota 1 caps 2");
    hwloc_bitmap_free(on); hwloc_bitmap_free(al); hwloc_bitmap_free(af); hwloc_bitmap_free(s);
    int here = machine_usable_here();
    EXPECT(here >= 1, "machine_usable_here() %d", here);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: plan_invariants DIR COUNT   (every folder of DIR is a machine snapshot; COUNT of them)\n");
        return 2;
    }
    check_definition();
    check_machine("hybrid-8e6p.xml", "tests/data/hybrid-8e6p.xml");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && ls -d */", argv[1]);
    FILE *p = popen(cmd, "r");
    char line[512];
    int n = 0;
    while (p && fgets(line, sizeof line, p)) {
        line[strcspn(line, "/\n")] = '\0';
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", argv[1], line);
        check_machine(line, path);
        n++;
    }
    if (p) pclose(p);
    EXPECT(n == atoi(argv[2]), "%d snapshots checked, want %s", n, argv[2]);
    return check_finish("plan_invariants");
}
