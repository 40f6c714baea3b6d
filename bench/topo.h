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
 * Usable CPUs = min(PUs in the affinity mask, ceil(quota / period)): the
 * count a thread count is judged against (oversubscribed above it).
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

typedef struct {
    int version;           /* 2 (cpu.max), 1 (cfs files), 0: no cpu controller found */
    int override;          /* 1: read from CLLM_TOPO_CGROUP_ROOT (test only) */
    char path[512];        /* own cgroup, relative to the hierarchy root */
    double quota_cpus;     /* quota / period of the tightest level; NAN: no quota */
    double quota_us, period_us;  /* of that level; NAN when no quota */
    int quota_ceil;        /* ceil(quota / period); 0 when no quota */
    char limit_at[512];    /* that level's path; "" when no quota */
    char error[256];       /* a quota file that could not be read or parsed; "" ok */
} topo_cgroup;

typedef struct {
    int cpu;               /* the CPU the files were read for (first of the affinity mask) */
    char governor[32], driver[32];     /* "" when not readable (VMs) */
    double base_mhz, min_mhz, max_mhz, cur_mhz;   /* NAN when not readable */
    int boost;             /* 1 on, 0 off, -1 not readable */
    char boost_source[96]; /* the file boost was read from */
} topo_cpufreq;

typedef struct topo {
    void *hw;              /* hwloc_topology_t */
    int this_system;       /* 0: hwloc read a synthetic or XML machine (tests) */
    char hwloc_version[16];  /* HWLOC_VERSION of the headers it was built with */
    char cpu_model[128], cpu_vendor[64];   /* "" unknown */
    int cpu_family, cpu_model_number, cpu_stepping;   /* x86 CPUID figures; -1 unknown */
    double cpuinfo_mhz;    /* /proc/cpuinfo "cpu MHz" of the first CPU; NAN when absent */
    int packages, numa_nodes, cores, pus, pus_per_core;   /* whole machine */
    int online_cpus;       /* sysconf(_SC_NPROCESSORS_ONLN) */
    int affinity_cpus;     /* PUs in the calling thread's affinity mask (read before pinning) */
    int affinity_cores;    /* cores with at least one PU in that mask */
    char *affinity_list;   /* that mask, "0-3,8" (malloc'ed) */
    int usable_cpus;       /* min(affinity_cpus, cgroup quota_ceil) */
    topo_cache caches[TOPO_MAX_CACHES];
    int ncaches;
    topo_cgroup cgroup;
    topo_cpufreq cpufreq;
    char thp_enabled[16], thp_defrag[32];  /* the selected [value]; "" not readable */
} topo;

/* Reads everything. Returns 0, or -1 with err filled when hwloc cannot load
 * a topology (t is then freed). The kernel files are best effort: what
 * cannot be read is "" / NAN / -1 and written as null. */
int topo_read(topo *t, char *err, size_t errlen);
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
