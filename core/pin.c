/*
 * pin.c - the placement of workers on CPUs over an hwloc topology, and the
 * binding of a thread (see pin.h; --pin's parser is pinspec.c).
 */
#include "pin.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---------------------------------------------------------------- orders */

/* hwloc's cpukind index of a core (higher = faster), 0 when the machine
 * has fewer than two kinds or the core is not in one */
static int core_kind(hwloc_topology_t topo, hwloc_obj_t core) {
    if (hwloc_cpukinds_get_nr(topo, 0) < 2) return 0;
    int k = hwloc_cpukinds_get_by_cpuset(topo, core->cpuset, 0);
    return k > 0 ? k : 0;
}

/* The allowed PUs inside `within` in the `cores` order: PU r of every core,
 * for r = 0, 1, ...; in each round the cores of the fastest cpukind first
 * (hwloc's order inside a kind); a machine hwloc shows without cores counts
 * each PU as one. Returns how many went into out (at most max), -1 when the
 * core table cannot be allocated. */
static int order_cores(hwloc_topology_t topo, hwloc_const_bitmap_t allowed, hwloc_const_bitmap_t within,
                       int *out, int max) {
    int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    hwloc_obj_type_t unit = ncores > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
    int nunits = ncores > 0 ? ncores : hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    hwloc_obj_t *units = xcalloc((size_t)(nunits > 0 ? nunits : 1), sizeof *units);
    if (!units) return -1;
    /* the units by kind, fastest first (an insertion sort keeps hwloc's order inside a kind) */
    for (int u = 0; u < nunits; u++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(topo, unit, (unsigned)u);
        int k = core_kind(topo, o), j = u;
        while (j > 0 && core_kind(topo, units[j - 1]) < k) { units[j] = units[j - 1]; j--; }
        units[j] = o;
    }
    int n = 0;
    for (int r = 0, more = 1; more && n < max; r++) {
        more = 0;
        for (int u = 0; u < nunits && n < max; u++) {
            int seen = 0;
            hwloc_obj_t pu = NULL;
            while ((pu = hwloc_get_next_obj_inside_cpuset_by_type(topo, units[u]->cpuset, HWLOC_OBJ_PU, pu))) {
                if (!hwloc_bitmap_isset(allowed, pu->os_index) || !hwloc_bitmap_isset(within, pu->os_index))
                    continue;
                if (seen++ == r) { out[n++] = (int)pu->os_index; more = 1; break; }
            }
        }
    }
    free(units);
    return n;
}

typedef struct { hwloc_const_bitmap_t set; int rank, pkg; } domain_t;

static int domain_cmp(const void *a, const void *b) {
    const domain_t *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return (x->pkg > y->pkg) - (x->pkg < y->pkg);
}

/* the package holding all of `set`'s CPUs, NULL when none or several do */
static hwloc_obj_t package_of(hwloc_topology_t topo, hwloc_const_bitmap_t set) {
    if (hwloc_bitmap_iszero(set)) return NULL;
    hwloc_obj_t o = hwloc_get_obj_covering_cpuset(topo, set);
    while (o && o->type != HWLOC_OBJ_PACKAGE) o = o->parent;
    return o;
}

/* scatter: round-robin over the domains (NUMA nodes if several, else
 * packages, else the machine), each in the cores order. -1 on allocation
 * failure. */
static int order_scatter(hwloc_topology_t topo, hwloc_const_bitmap_t allowed, int *out, int max) {
    int nnuma = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    int npkg = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    hwloc_obj_type_t dt = nnuma > 1 ? HWLOC_OBJ_NUMANODE : npkg > 1 ? HWLOC_OBJ_PACKAGE : HWLOC_OBJ_MACHINE;
    int nd = dt == HWLOC_OBJ_NUMANODE ? nnuma : dt == HWLOC_OBJ_PACKAGE ? npkg : 1;
    domain_t *d = xcalloc((size_t)nd, sizeof *d);
    int *len = xcalloc((size_t)nd, sizeof *len), *pos = xcalloc((size_t)nd, sizeof *pos);
    int *list = xmalloc(sizeof(int) * (size_t)nd * (size_t)max);
    int *in_pkg = xcalloc((size_t)(npkg > 0 ? npkg : 1), sizeof(int));   /* domains seen per package */
    int n = -1;
    if (!d || !len || !pos || !list || !in_pkg) goto done;
    for (int i = 0; i < nd; i++) {
        hwloc_obj_t o = dt == HWLOC_OBJ_MACHINE ? hwloc_get_root_obj(topo)
                                                : hwloc_get_obj_by_type(topo, dt, (unsigned)i);
        hwloc_obj_t pkg = package_of(topo, o->cpuset);
        d[i].set = o->cpuset;
        d[i].pkg = pkg ? (int)pkg->logical_index : -1;
        /* the i-th domain of its package: sorting by (rank, package) alternates packages */
        d[i].rank = pkg && (int)pkg->logical_index < npkg ? in_pkg[pkg->logical_index]++ : i;
    }
    qsort(d, (size_t)nd, sizeof *d, domain_cmp);
    for (int i = 0; i < nd; i++)
        if ((len[i] = order_cores(topo, allowed, d[i].set, list + (size_t)i * max, max)) < 0) goto done;
    n = 0;
    for (int more = 1; more && n < max;) {
        more = 0;
        for (int i = 0; i < nd && n < max; i++)
            if (pos[i] < len[i]) { out[n++] = list[(size_t)i * max + pos[i]++]; more = 1; }
    }
done:
    free(d); free(len); free(pos); free(list); free(in_pkg);
    return n;
}

/* ---------------------------------------------------------------- plan */

int pin_plan(hwloc_topology_t topo, hwloc_const_bitmap_t allowed, const pin_spec *s, int nth,
             int *cpus, int *wrapped, char *err, size_t errlen) {
    *wrapped = 0;
    if (s->mode == PIN_NONE) {
        for (int i = 0; i < nth; i++) cpus[i] = -1;
        return 0;
    }
    if (s->mode == PIN_LIST) {
        for (int i = 0; i < s->n && i < nth; i++) {
            if (!hwloc_bitmap_isset(allowed, (unsigned)s->cpus[i])) {
                char mask[256];
                hwloc_bitmap_list_snprintf(mask, sizeof mask, allowed);
                snprintf(err, errlen, "--pin: CPU %d (worker %d) is not one this process may run on "
                         "(its usable CPUs, online and allowed and in its affinity mask: %s)", s->cpus[i], i, mask);
                return -1;
            }
        }
        for (int i = 0; i < nth; i++) cpus[i] = s->cpus[i % s->n];
        return 0;
    }
    int max = hwloc_bitmap_weight(allowed);
    if (max <= 0) { snprintf(err, errlen, "--pin: this process may run on no CPU of the topology"); return -1; }
    int *order = xmalloc(sizeof(int) * (size_t)max);
    if (!order) { snprintf(err, errlen, "--pin: cannot allocate %zu bytes", sizeof(int) * (size_t)max); return -1; }
    int m = s->mode == PIN_CORES ? order_cores(topo, allowed, allowed, order, max)
                                 : order_scatter(topo, allowed, order, max);
    if (m <= 0) {
        free(order);
        snprintf(err, errlen, m < 0 ? "--pin: cannot allocate the placement tables"
                                    : "--pin: no usable CPU is in the topology");
        return -1;
    }
    for (int i = 0; i < nth; i++) cpus[i] = order[i % m];
    *wrapped = nth > m;
    free(order);
    return 0;
}

hwloc_topology_t pin_topology_load(char *err, size_t errlen) {
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) {
        snprintf(err, errlen, "hwloc_topology_init: %s", strerror(errno));
        return NULL;
    }
    if (hwloc_topology_load(topo) != 0) {
        snprintf(err, errlen, "hwloc_topology_load: %s", strerror(errno));
        hwloc_topology_destroy(topo);
        return NULL;
    }
    return topo;
}

int pin_plan_machine(const machine_t *m, const pin_spec *s, int nth, int *cpus, int *wrapped,
                     char *err, size_t errlen) {
    return pin_plan(m->hw, m->usable_set, s, nth, cpus, wrapped, err, errlen);
}

int pin_plan_here(const pin_spec *s, int nth, int *cpus, int *wrapped, char *err, size_t errlen) {
    if (s->mode == PIN_NONE) return pin_plan(NULL, NULL, s, nth, cpus, wrapped, err, errlen);
    char e[512];
    machine_t m;
    if (machine_load(&m, NULL, e, sizeof e) != 0) { snprintf(err, errlen, "--pin: cannot read the topology: %s", e); return -1; }
    int rc = -1;
    if (!hwloc_topology_is_thissystem(m.hw)) {
        snprintf(err, errlen, "--pin %s: the topology hwloc loaded is not this machine's "
                 "(HWLOC_SYNTHETIC, HWLOC_XMLFILE or HWLOC_FSROOT in the environment?): threads "
                 "cannot be bound to it", pin_mode_name(s->mode));
    } else {
        rc = pin_plan_machine(&m, s, nth, cpus, wrapped, err, errlen);
    }
    machine_free(&m);
    return rc;
}

int pin_bind(hwloc_topology_t topo, int cpu, char *err, size_t errlen) {
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set) { snprintf(err, errlen, "cannot allocate a CPU set"); return -1; }
    hwloc_bitmap_only(set, (unsigned)cpu);
    int rc = hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD);
    if (rc != 0) snprintf(err, errlen, "cannot bind to CPU %d: %s", cpu, strerror(errno));
    hwloc_bitmap_free(set);
    return rc;
}
