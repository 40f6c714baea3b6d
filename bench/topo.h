/*
 * topo.h - the machine's topology and the CPUs a run may really use: one
 * source for build/scale's meta.json, build/micro/ceilings and the scripts
 * (through the build/topo command, which prints the same JSON).
 *
 * Read through hwloc: packages, NUMA nodes, cores, PUs (hardware threads),
 * PUs per core (SMT), caches per level (size, instances, which PUs share
 * each instance), the CPU model. Read from the kernel, where hwloc has no
 * figure: the affinity mask, the cgroup CPU quota (v2 cpu.max, or v1
 * cpu.cfs_quota_us / cpu.cfs_period_us), the cpufreq governor, driver,
 * frequencies and boost state, transparent huge pages, and the "cpu MHz"
 * line of /proc/cpuinfo (the only field hwloc does not give).
 *
 * Usable CPUs: core/machine.h's one definition (online ∩ allowed ∩
 * affinity, capped by ceil(quota / period)): the count a thread count is
 * judged against (oversubscribed above it). With --machine PATH (build/topo,
 * build/scale) every field comes from that snapshot or XML file, and a
 * group it lacks is null with the reason (why_no_*, cgroup.absent).
 *
 * Test-only environment (tests/test_topo.sh; never set it for a real run):
 *   CLLM_TOPO_CGROUP_ROOT=DIR   read the cgroup quota from DIR as if it were
 *                               the cgroup hierarchy's root, instead of the
 *                               mounted one;
 *   CLLM_TOPO_CGROUP_PATH=/a/b  the process's cgroup under that root (default
 *                               "/"): DIR/a/b, DIR/a and DIR are read, each as
 *                               cpu.max or cpu.cfs_quota_us + cpu.cfs_period_us.
 * hwloc's own HWLOC_SYNTHETIC / HWLOC_XMLFILE give a made-up machine; its
 * topology is then not this system, and the affinity mask is taken to be
 * every PU of it (this_system false in the JSON).
 */
#ifndef CLLM_TOPO_H
#define CLLM_TOPO_H

#include <stddef.h>
#include <stdio.h>

#include "../core/machine.h"   /* the machine and its usable CPUs */

#define TOPO_MAX_CACHES 12

typedef struct {
    char name[8];          /* lscpu's name: L1d, L1i, L2, L3, ... */
    int level;
    char type[12];         /* data | instruction | unified */
    double size;           /* bytes of one instance (the first); NAN unknown */
    double total;          /* bytes, summed over instances */
    int instances;
    int pus_per_instance;  /* PUs sharing the first instance */
    int linesize, ways;    /* 0: unknown; ways -1: fully associative */
    int hwloc_type;        /* its hwloc_obj_type_t */
} topo_cache;

typedef machine_cgroup topo_cgroup;   /* core/machine.h */

typedef struct {
    int cpu;               /* the CPU the files were read for (first of the affinity mask) */
    char governor[32], driver[32];     /* "" when not readable (VMs) */
    double base_mhz, min_mhz, max_mhz, cur_mhz;   /* NAN when not readable */
    int boost;             /* 1 on, 0 off, -1 not readable */
    char boost_source[96]; /* the file boost was read from */
} topo_cpufreq;

typedef struct topo {
    machine_t m;           /* the machine (live, snapshot or XML) and its usable CPUs */
    void *hw;              /* m.hw */
    int this_system;       /* 0: hwloc read a synthetic or XML machine (tests) */
    char hwloc_version[16];  /* HWLOC_VERSION of the headers it was built with */
    char cpu_model[128], cpu_vendor[64];   /* "" unknown */
    int cpu_family, cpu_model_number, cpu_stepping;   /* x86 CPUID figures; -1 unknown */
    double cpuinfo_mhz;    /* /proc/cpuinfo "cpu MHz" of the first CPU; NAN when absent */
    int packages, numa_nodes, cores, pus, pus_per_core;   /* whole machine; pus_per_core: the largest core's */
    int pus_per_core_min;  /* the smallest core's (hybrid machines: E-cores without SMT) */
    int online_cpus;       /* PUs the kernel has online (hwloc's topology cpuset) */
    int affinity_cpus;     /* PUs in the calling thread's affinity mask (read before pinning) */
    int affinity_cores;    /* cores with at least one PU in that mask */
    char *affinity_list;   /* that mask, "0-3,8" (malloc'ed) */
    int usable_cpus;       /* machine_usable: |online ∩ allowed ∩ affinity| capped by the quota */
    topo_cache caches[TOPO_MAX_CACHES];
    int ncaches;
    topo_cgroup cgroup;
    topo_cpufreq cpufreq;
    char thp_enabled[16], thp_defrag[32];  /* the selected [value]; "" not readable */
    char why_no_cpufreq[200], why_no_thp[200], why_no_mhz[200];   /* why a group is null; "" read */
} topo;

/* Reads everything. Returns 0, or -1 with err filled when hwloc cannot load
 * a topology (t is then freed). The kernel files are best effort: what
 * cannot be read is "" / NAN / -1 and written as null. */
int topo_read(topo *t, char *err, size_t errlen);
/* The same for --machine PATH (NULL: live): every field from that machine,
 * none from this one; -1 with err naming the path and hwloc's reason. */
int topo_read_machine(topo *t, const char *path, char *err, size_t errlen);
void topo_free(topo *t);   /* tolerates a zeroed t */

/* The cgroup quota alone, from the mounted hierarchy or the test override.
 * Fills c; never fails (an unreadable file is c->error). */
void topo_read_cgroup(topo_cgroup *c);

/* Usable CPUs: min(affinity, ceil(quota)), affinity when there is no quota. */
int topo_usable_cpus(int affinity_cpus, const topo_cgroup *c);

/* Writes the topology as one compact JSON object (bench/RESULTS.md,
 * "meta.json host.topology"). */
void topo_write_json(FILE *f, const topo *t);

#endif
