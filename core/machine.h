/*
 * machine.h - the one machine a command reasons about, and the one
 * definition of the CPUs a run may use.
 *
 * A machine is the live system, an extracted hwloc snapshot (the folder
 * hwloc-gather-topology makes, holding proc/ and sys/) or an hwloc XML file
 * (--machine PATH). Everything about it comes from that one source: under a
 * snapshot no live value (affinity mask, cgroup quota, cpufreq) is ever
 * read, and a figure the snapshot lacks is absent, with the reason.
 *
 * Usable CPUs (the count a thread count is judged against; the pool's
 * decision to spin, scale's `oversubscribed`, the records and the plans all
 * use it):
 *
 *     usable set = online PUs ∩ allowed cpuset (the cgroup's cpuset) ∩ affinity
 *     usable     = min(|usable set|, ceil(cgroup CPU quota / period))
 *
 * Live, "affinity" is the calling thread's mask; under a snapshot it is the
 * snapshot's allowed cpuset (no live process runs there), and a quota counts
 * only when the snapshot holds the cgroup's quota files. machine_usable() is
 * the definition; machine_load() and machine_usable_here() only gather its
 * inputs.
 *
 * Test-only environment (tests/test_topo.sh; never set it for a real run):
 *   CLLM_TOPO_CGROUP_ROOT=DIR   read the live cgroup quota from DIR as if it
 *                               were the hierarchy's root;
 *   CLLM_TOPO_CGROUP_PATH=/a/b  the process's cgroup under that root.
 */
#ifndef CLLM_MACHINE_H
#define CLLM_MACHINE_H

#include <stddef.h>

#include <hwloc.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int version;           /* 2 (cpu.max), 1 (cfs files), 0: no cpu controller found */
    int override;          /* 1: read from CLLM_TOPO_CGROUP_ROOT (test only) */
    char path[512];        /* own cgroup, relative to the hierarchy root */
    double quota_cpus;     /* quota / period of the tightest level; NAN: no quota */
    double quota_us, period_us;  /* of that level; NAN when no quota */
    int quota_ceil;        /* ceil(quota / period); 0 when no quota */
    char limit_at[512];    /* that level's path; "" when no quota */
    char error[256];       /* a quota file that could not be read or parsed; "" ok */
    char absent[160];      /* why there is no quota figure at all ("" when read) */
} machine_cgroup;

typedef struct machine {
    hwloc_topology_t hw;   /* loaded with INCLUDE_DISALLOWED (offline PUs in complete_cpuset) */
    int live;              /* 1: this system; 0: a snapshot or an XML file */
    const char *source;    /* "live" | "snapshot" | "xml" */
    char path[1024];       /* PATH as given; "" live */
    hwloc_bitmap_t online;     /* PUs the kernel has online */
    hwloc_bitmap_t allowed;    /* the allowed cpuset (cgroup cpuset) */
    hwloc_bitmap_t affinity;   /* live: the thread's mask; snapshot: = allowed */
    hwloc_bitmap_t usable_set; /* online ∩ allowed ∩ affinity */
    machine_cgroup cgroup;
    int usable;            /* machine_usable() */
    int nkinds;            /* hwloc cpukinds (0: no information, 1: one kind) */
} machine_t;

/* The definition: |online ∩ allowed ∩ affinity| capped by quota_ceil (> 0);
 * a NULL set does not restrict. Writes the set into out when out != NULL. */
int machine_usable(hwloc_const_bitmap_t online, hwloc_const_bitmap_t allowed,
                   hwloc_const_bitmap_t affinity, int quota_ceil, hwloc_bitmap_t out);

/* Usable CPUs of the calling thread on the live machine, without loading a
 * topology (the pool and the report call it): online from sysfs, affinity
 * from sched_getaffinity (the kernel keeps it inside the cgroup's cpuset, so
 * it is the allowed set too), the quota as machine_read_cgroup reads it. At
 * least 1. */
int machine_usable_here(void);

/* The cgroup CPU quota. fsroot NULL: the live hierarchy (or the test
 * override); else a snapshot's root, whose proc/mounts and proc/self/cgroup
 * say where to look. Never fails: c->error / c->absent say what is missing. */
void machine_read_cgroup(machine_cgroup *c, const char *fsroot);

/* Loads the machine: path NULL or "" is the live one; a folder is a snapshot
 * (it must hold sys/devices/system/cpu); a file is hwloc XML. Returns 0, or
 * -1 with err naming the path and hwloc's reason (the caller exits 2). */
int machine_load(machine_t *m, const char *path, char *err, size_t errlen);
void machine_free(machine_t *m);   /* tolerates a zeroed m */

/* Where PU os_index sits: logical indexes of its core and package (-1 when
 * hwloc shows none), the OS index of its NUMA node (-1 none), its cpukind
 * index (-1 when the machine has fewer than two kinds; higher = faster, as
 * hwloc ranks them). */
typedef struct { int pu, core, package, numa, kind; } machine_place;
void machine_place_of(const machine_t *m, int pu, machine_place *out);

/* The first line of the file at path into buf (size n), newline cut;
 * returns buf, or NULL when the file cannot be read or is empty (the sysfs
 * and cgroup readers here and in bench/topo.c). */
const char *machine_read_line(const char *path, char *buf, size_t n);

#ifdef __cplusplus
}
#endif

#endif
