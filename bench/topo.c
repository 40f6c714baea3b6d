/*
 * topo.c - the machine's topology through hwloc, and the kernel's view of
 * what this process may use: affinity mask, cgroup CPU quota, cpufreq,
 * transparent huge pages (see topo.h). Built with -DTOPO_MAIN it is the
 * build/topo command, which prints topo_write_json's object and a newline.
 */
#include "topo.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hwloc.h>

#include "json.h"

// ----------------------------------------------------------------------------
// small file readers

/* Copies s into d (size n), cut to fit. */
static void topo_copy(char *d, size_t n, const char *s) {
    size_t k = strlen(s);
    if (k >= n) k = n - 1;
    memcpy(d, s, k);
    d[k] = '\0';
}

/* A file holding one number (kHz for cpufreq); NAN when unreadable. */
static double topo_read_num(const char *path) {
    char buf[64], *end;
    if (!machine_read_line(path, buf, sizeof buf)) return NAN;
    double v = strtod(buf, &end);
    return end == buf ? NAN : v;
}

// ----------------------------------------------------------------------------
// cgroup CPU quota and usable CPUs: core/machine.c (one definition)

void topo_read_cgroup(topo_cgroup *c) { machine_read_cgroup(c, NULL); }

int topo_usable_cpus(int affinity_cpus, const topo_cgroup *c) {
    hwloc_bitmap_t aff = hwloc_bitmap_alloc();
    if (!aff) return affinity_cpus;
    if (affinity_cpus > 0) hwloc_bitmap_set_range(aff, 0, affinity_cpus - 1);
    int n = machine_usable(NULL, NULL, aff, c ? c->quota_ceil : 0, NULL);
    hwloc_bitmap_free(aff);
    return n;
}

// ----------------------------------------------------------------------------
// cpufreq, transparent huge pages, /proc/cpuinfo

static void topo_read_cpufreq(topo_cpufreq *q, int cpu, const char *root) {
    char dir[1200], path[1300], buf[64];
    memset(q, 0, sizeof *q);
    q->cpu = cpu;
    snprintf(dir, sizeof dir, "%s/sys/devices/system/cpu/cpu%d/cpufreq", root, cpu);
    snprintf(path, sizeof path, "%s/scaling_governor", dir);
    if (machine_read_line(path, buf, sizeof buf)) topo_copy(q->governor, sizeof q->governor, buf);
    snprintf(path, sizeof path, "%s/scaling_driver", dir);
    if (machine_read_line(path, buf, sizeof buf)) topo_copy(q->driver, sizeof q->driver, buf);
    static const char *const files[4] = { "base_frequency", "cpuinfo_min_freq", "cpuinfo_max_freq",
                                           "scaling_cur_freq" };
    double *out[4] = { &q->base_mhz, &q->min_mhz, &q->max_mhz, &q->cur_mhz };
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        *out[i] = topo_read_num(path) / 1000.0;   /* kHz */
    }
    /* boost: the global acpi-cpufreq / amd-pstate switch, intel_pstate's
     * no_turbo (inverted), or the per-policy switch of newer kernels */
    static const struct { const char *path; int inverted; } boost[] = {
        { "sys/devices/system/cpu/cpufreq/boost", 0 },
        { "sys/devices/system/cpu/intel_pstate/no_turbo", 1 },
        { NULL, 0 },
    };
    q->boost = -1;
    for (int i = 0; i < 3 && q->boost < 0; i++) {
        char p[1300];
        if (boost[i].path) snprintf(p, sizeof p, "%s/%s", root, boost[i].path);
        else snprintf(p, sizeof p, "%s/boost", dir);
        if (!machine_read_line(p, buf, sizeof buf) || (buf[0] != '0' && buf[0] != '1')) continue;
        q->boost = (buf[0] == '1') != boost[i].inverted;
        topo_copy(q->boost_source, sizeof q->boost_source, p + strlen(root));   /* relative to the machine */
    }
}

/* The bracketed choice of a THP file ("always [madvise] never" -> madvise). */
static void topo_read_thp(const char *path, char *out, size_t n) {
    char buf[256];
    out[0] = '\0';
    if (!machine_read_line(path, buf, sizeof buf)) return;
    char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;
    if (a && b) snprintf(out, n, "%.*s", (int)(b - a - 1), a + 1);
}

/* hwloc has no clock figure: the "cpu MHz" of the first CPU listed (x86
 * only; in a VM often the host's TSC rate, not the clock it runs at). */
static double topo_cpuinfo_mhz(const char *root) {
    char file[1200];
    snprintf(file, sizeof file, "%s/proc/cpuinfo", root);
    FILE *f = fopen(file, "r");
    char line[512];
    double mhz = NAN;
    while (f && isnan(mhz) && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (colon && strncmp(line, "cpu MHz", 7) == 0) mhz = strtod(colon + 1, NULL);
    }
    if (f) fclose(f);
    return mhz > 0 ? mhz : NAN;
}

// ----------------------------------------------------------------------------
// hwloc

static const hwloc_obj_type_t TOPO_CACHE_TYPES[] = {
    HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L1ICACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L2ICACHE,
    HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L3ICACHE, HWLOC_OBJ_L4CACHE, HWLOC_OBJ_L5CACHE,
};
#define TOPO_NCACHE_TYPES (int)(sizeof TOPO_CACHE_TYPES / sizeof TOPO_CACHE_TYPES[0])

static void topo_read_caches(topo *t, hwloc_topology_t hw) {
    t->ncaches = 0;
    for (int k = 0; k < TOPO_NCACHE_TYPES && t->ncaches < TOPO_MAX_CACHES; k++) {
        int n = hwloc_get_nbobjs_by_type(hw, TOPO_CACHE_TYPES[k]);
        if (n <= 0) continue;
        hwloc_obj_t o = hwloc_get_obj_by_type(hw, TOPO_CACHE_TYPES[k], 0);
        topo_cache *c = &t->caches[t->ncaches++];
        memset(c, 0, sizeof *c);
        c->hwloc_type = (int)TOPO_CACHE_TYPES[k];
        c->level = (int)o->attr->cache.depth;
        static const char *const kinds[3] = { "data", "instruction", "unified" }, *const suffix[3] = { "d", "i", "" };
        hwloc_obj_cache_type_t ct = o->attr->cache.type;
        int kind = ct == HWLOC_OBJ_CACHE_DATA ? 0 : ct == HWLOC_OBJ_CACHE_INSTRUCTION ? 1 : 2;
        snprintf(c->type, sizeof c->type, "%s", kinds[kind]);
        snprintf(c->name, sizeof c->name, "L%d%s", c->level, suffix[kind]);
        c->size = o->attr->cache.size ? (double)o->attr->cache.size : NAN;
        c->linesize = (int)o->attr->cache.linesize;
        c->ways = o->attr->cache.associativity;
        c->instances = n;
        c->pus_per_instance = hwloc_bitmap_weight(o->cpuset);
        c->total = 0;
        for (int i = 0; i < n; i++)
            c->total += (double)hwloc_get_obj_by_type(hw, TOPO_CACHE_TYPES[k], (unsigned)i)->attr->cache.size;
        if (!(c->total > 0)) c->total = NAN;
    }
}

/* CPUModel / CPUVendor: on the package object on x86, on the root elsewhere. */
static void topo_info_attr(hwloc_topology_t hw, const char *name, char *out, size_t n) {
    hwloc_obj_t pkg = hwloc_get_obj_by_type(hw, HWLOC_OBJ_PACKAGE, 0);
    const char *v = pkg ? hwloc_obj_get_info_by_name(pkg, name) : NULL;
    if (!v) v = hwloc_obj_get_info_by_name(hwloc_get_root_obj(hw), name);
    snprintf(out, n, "%s", v ? v : "");
}

int topo_read_machine(topo *t, const char *path, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    machine_t *m = &t->m;
    if (machine_load(m, path, err, errlen) != 0) return -1;
    hwloc_topology_t hw = m->hw;
    t->hw = hw;
    /* the root every other file is read under: "" live, the snapshot's
     * folder, none for an XML file (it holds no /proc or /sys) */
    const char *root = m->live ? "" : !strcmp(m->source, "snapshot") ? m->path : NULL;
    topo_copy(t->hwloc_version, sizeof t->hwloc_version, HWLOC_VERSION);
    t->this_system = hwloc_topology_is_thissystem(hw);
    topo_info_attr(hw, "CPUModel", t->cpu_model, sizeof t->cpu_model);
    topo_info_attr(hw, "CPUVendor", t->cpu_vendor, sizeof t->cpu_vendor);
    /* the CPU's identity, not only its name: VMs often show "AMD EPYC" or
     * "Intel Xeon Processor" alone, and family/model tell Zen 4 from Zen 5 */
    const char *num_attr[3] = { "CPUFamilyNumber", "CPUModelNumber", "CPUStepping" };
    int *num_out[3] = { &t->cpu_family, &t->cpu_model_number, &t->cpu_stepping };
    for (int k = 0; k < 3; k++) {
        char v[32];
        topo_info_attr(hw, num_attr[k], v, sizeof v);
        *num_out[k] = v[0] ? atoi(v) : -1;
    }
    t->packages = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PACKAGE);
    t->numa_nodes = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE);
    t->cores = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_CORE);
    t->pus = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PU);
    t->online_cpus = hwloc_bitmap_weight(m->online);

    /* a synthetic machine (HWLOC_SYNTHETIC, tests) has no affinity of its
     * own: machine_load takes its allowed set */
    if (m->live && !t->this_system) hwloc_bitmap_copy(m->affinity, m->allowed);
    hwloc_const_bitmap_t aff = m->affinity;
    t->affinity_cpus = hwloc_bitmap_weight(aff);
    hwloc_bitmap_list_asprintf(&t->affinity_list, aff);
    t->pus_per_core_min = 0;
    for (int i = 0; i < t->cores; i++) {
        hwloc_obj_t core = hwloc_get_obj_by_type(hw, HWLOC_OBJ_CORE, (unsigned)i);
        int w = hwloc_bitmap_weight(core->cpuset);
        if (w > t->pus_per_core) t->pus_per_core = w;
        if (!t->pus_per_core_min || w < t->pus_per_core_min) t->pus_per_core_min = w;
        if (hwloc_bitmap_intersects(core->cpuset, aff)) t->affinity_cores++;
    }
    if (t->cores == 0) {   /* hwloc found no core level: count PUs as cores */
        t->cores = t->pus;
        t->affinity_cores = t->affinity_cpus;
        t->pus_per_core = t->pus_per_core_min = 1;
    }
    int first = hwloc_bitmap_first(aff);

    topo_read_caches(t, hw);
    t->cgroup = m->cgroup;
    if (m->live && !t->this_system)   /* keep the one definition: usable over the synthetic sets */
        m->usable = machine_usable(m->online, m->allowed, m->affinity, m->cgroup.quota_ceil, m->usable_set);
    t->usable_cpus = m->usable;
    t->cpufreq.boost = -1;
    t->cpufreq.base_mhz = t->cpufreq.min_mhz = t->cpufreq.max_mhz = t->cpufreq.cur_mhz = NAN;
    t->cpuinfo_mhz = NAN;
    if (root) {
        char p1[1200], p2[1200];
        topo_read_cpufreq(&t->cpufreq, first > 0 ? first : 0, root);
        snprintf(p1, sizeof p1, "%s/sys/kernel/mm/transparent_hugepage/enabled", root);
        snprintf(p2, sizeof p2, "%s/sys/kernel/mm/transparent_hugepage/defrag", root);
        topo_read_thp(p1, t->thp_enabled, sizeof t->thp_enabled);
        topo_read_thp(p2, t->thp_defrag, sizeof t->thp_defrag);
        t->cpuinfo_mhz = topo_cpuinfo_mhz(root);
    }
    const char *where = m->live ? "this machine" : root ? "the snapshot" : "an hwloc XML file";
    if (!t->cpufreq.governor[0] && isnan(t->cpufreq.max_mhz))
        snprintf(t->why_no_cpufreq, sizeof t->why_no_cpufreq, "%s has no cpufreq files for CPU %d%s", where,
                 t->cpufreq.cpu, m->live ? " (usual in a VM)" : "");
    if (!t->thp_enabled[0])
        snprintf(t->why_no_thp, sizeof t->why_no_thp, "%s has no sys/kernel/mm/transparent_hugepage", where);
    if (isnan(t->cpuinfo_mhz))
        snprintf(t->why_no_mhz, sizeof t->why_no_mhz, "%s has no \"cpu MHz\" line in proc/cpuinfo", where);
    return 0;
}

int topo_read(topo *t, char *err, size_t errlen) { return topo_read_machine(t, NULL, err, errlen); }

void topo_free(topo *t) {
    if (!t) return;
    machine_free(&t->m);
    free(t->affinity_list);
    t->hw = NULL;
    t->affinity_list = NULL;
}

// ----------------------------------------------------------------------------
// JSON

static void topo_kv_opt(FILE *f, const char *key, const char *s) { jw_kv_str(f, key, *s ? s : NULL); }

static void topo_put_cpuset(FILE *f, hwloc_const_bitmap_t set) {
    char *s = NULL;
    hwloc_bitmap_list_asprintf(&s, set);
    jw_put_str(f, s);
    free(s);
}

/* hwloc's cpukinds: index (higher = faster, as hwloc ranks them), its
 * efficiency, PUs, cores and info attributes (CoreType, FrequencyMaxMHz) */
static void topo_write_kinds(FILE *f, const topo *t) {
    hwloc_topology_t hw = (hwloc_topology_t)t->hw;
    fputs(",\"cpukinds\":[", f);
    for (int k = 0; hw && k < t->m.nkinds; k++) {
        hwloc_bitmap_t set = hwloc_bitmap_alloc();
        int eff = -1;
        unsigned ninfo = 0;
        struct hwloc_info_s *info = NULL;
        if (!set || hwloc_cpukinds_get_info(hw, (unsigned)k, set, &eff, &ninfo, &info, 0) != 0) {
            hwloc_bitmap_free(set);
            continue;
        }
        fprintf(f, "%s{\"index\":%d", k ? "," : "", k);
        jw_kv_num(f, "efficiency", eff >= 0 ? eff : NAN);
        fputs(",\"pus\":", f);
        topo_put_cpuset(f, set);
        jw_kv_num(f, "cores", hwloc_get_nbobjs_inside_cpuset_by_type(hw, set, HWLOC_OBJ_CORE));
        fputs(",\"info\":{", f);
        for (unsigned i = 0; i < ninfo; i++) {
            if (i) fputc(',', f);
            jw_put_str(f, info[i].name);
            fputc(':', f);
            jw_put_str(f, info[i].value);
        }
        fputs("}}", f);
        hwloc_bitmap_free(set);
    }
    fputc(']', f);
    if (t->m.nkinds > 1)
        jw_kv_str(f, "cpukinds_warning", "cores of different kinds: with equal work per worker, the slowest kind "
                    "is the straggler of every step (--pin cores fills the fastest kind first)");
}

/* every PU hwloc shows: OS index, core and package (logical indexes), NUMA
 * node (OS index), kind, allowed, usable, and cpufreq's max MHz where the
 * machine has the file */
static void topo_write_pus(FILE *f, const topo *t) {
    hwloc_topology_t hw = (hwloc_topology_t)t->hw;
    const char *root = t->m.live ? "" : t->m.source && !strcmp(t->m.source, "snapshot") ? t->m.path : NULL;
    fputs(",\"pu_map\":[", f);
    hwloc_obj_t pu = NULL;
    for (int i = 0; hw && (pu = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_PU, pu)); i++) {
        machine_place p;
        machine_place_of(&t->m, (int)pu->os_index, &p);
        fprintf(f, "%s{\"pu\":%u", i ? "," : "", pu->os_index);
        jw_kv_num(f, "core", p.core >= 0 ? p.core : NAN);
        jw_kv_num(f, "package", p.package >= 0 ? p.package : NAN);
        jw_kv_num(f, "numa", p.numa >= 0 ? p.numa : NAN);
        jw_kv_num(f, "kind", p.kind >= 0 ? p.kind : NAN);
        jw_kv_bool(f, "allowed", hwloc_bitmap_isset(t->m.allowed, pu->os_index));
        jw_kv_bool(f, "usable", hwloc_bitmap_isset(t->m.usable_set, pu->os_index));
        double mhz = NAN;
        if (root) {
            char path[1300];
            snprintf(path, sizeof path, "%s/sys/devices/system/cpu/cpu%u/cpufreq/cpuinfo_max_freq", root, pu->os_index);
            mhz = topo_read_num(path) / 1000.0;
        }
        jw_kv_num(f, "max_mhz", mhz);
        fputc('}', f);
    }
    fputc(']', f);
}

void topo_write_json(FILE *f, const topo *t) {
    hwloc_topology_t hw = (hwloc_topology_t)t->hw;
    fputs("{\"source\":", f);
    jw_put_str(f, "hwloc");
    jw_kv_str(f, "hwloc_version", t->hwloc_version);
    jw_kv_bool(f, "this_system", t->this_system);
    jw_kv_str(f, "machine", t->m.source ? t->m.source : "live");
    jw_kv_str(f, "machine_path", t->m.path[0] ? t->m.path : NULL);
    topo_kv_opt(f, "cpu_model", t->cpu_model);
    topo_kv_opt(f, "cpu_vendor", t->cpu_vendor);
    jw_kv_num(f, "cpu_family", t->cpu_family >= 0 ? t->cpu_family : NAN);
    jw_kv_num(f, "cpu_model_number", t->cpu_model_number >= 0 ? t->cpu_model_number : NAN);
    jw_kv_num(f, "cpu_stepping", t->cpu_stepping >= 0 ? t->cpu_stepping : NAN);
    jw_kv_num(f, "cpuinfo_mhz", t->cpuinfo_mhz);
    topo_kv_opt(f, "cpuinfo_mhz_absent", t->why_no_mhz);
    jw_kv_num(f, "packages", t->packages);
    jw_kv_num(f, "numa_nodes", t->numa_nodes);
    jw_kv_num(f, "cores", t->cores);
    jw_kv_num(f, "pus", t->pus);
    jw_kv_num(f, "pus_per_core", t->pus_per_core);
    jw_kv_num(f, "pus_per_core_min", t->pus_per_core_min);
    jw_kv_num(f, "online_cpus", t->online_cpus);
    jw_kv_num(f, "affinity_cpus", t->affinity_cpus);
    jw_kv_num(f, "affinity_cores", t->affinity_cores);
    jw_kv_str(f, "affinity_list", t->affinity_list);
    jw_kv_num(f, "usable_cpus", t->usable_cpus);
    if (t->m.online) {
        fputs(",\"online_list\":", f);
        topo_put_cpuset(f, t->m.online);
        hwloc_bitmap_t off = hwloc_bitmap_alloc();
        if (off) hwloc_bitmap_andnot(off, hwloc_topology_get_complete_cpuset(hw), t->m.online);
        fputs(",\"offline_list\":", f);
        if (off) topo_put_cpuset(f, off); else fputs("null", f);
        hwloc_bitmap_free(off);
        fputs(",\"allowed_list\":", f);
        topo_put_cpuset(f, t->m.allowed);
        fputs(",\"usable_list\":", f);
        topo_put_cpuset(f, t->m.usable_set);
    }
    topo_write_kinds(f, t);
    topo_write_pus(f, t);
    fputs(",\"numa\":[", f);
    for (int i = 0; hw && i < t->numa_nodes; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(hw, HWLOC_OBJ_NUMANODE, (unsigned)i);
        fprintf(f, "%s{\"os_index\":%u,\"pus\":", i ? "," : "", o->os_index);
        topo_put_cpuset(f, o->cpuset);
        jw_kv_bool(f, "allowed", hwloc_bitmap_isset(hwloc_topology_get_allowed_nodeset(hw), o->os_index));
        jw_kv_num(f, "local_memory_bytes", o->attr->numanode.local_memory
                    ? (double)o->attr->numanode.local_memory : NAN);
        fputc('}', f);
    }
    fputs("],\"caches\":[", f);
    for (int i = 0; i < t->ncaches; i++) {
        const topo_cache *c = &t->caches[i];
        fprintf(f, "%s{\"name\":", i ? "," : "");
        jw_put_str(f, c->name);
        jw_kv_num(f, "level", c->level);
        jw_kv_str(f, "type", c->type);
        jw_kv_num(f, "size_bytes", c->size);
        jw_kv_num(f, "total_bytes", c->total);
        jw_kv_num(f, "instances", c->instances);
        jw_kv_num(f, "pus_per_instance", c->pus_per_instance);
        jw_kv_num(f, "linesize", c->linesize > 0 ? c->linesize : NAN);
        jw_kv_num(f, "ways", c->ways != 0 ? c->ways : NAN);
        fputs(",\"shared_pus\":[", f);
        for (int j = 0; hw && j < c->instances; j++) {
            if (j) fputc(',', f);
            topo_put_cpuset(f, hwloc_get_obj_by_type(hw, (hwloc_obj_type_t)c->hwloc_type, (unsigned)j)->cpuset);
        }
        fputs("],\"instance_bytes\":[", f);   /* each instance's size: they may differ */
        for (int j = 0; hw && j < c->instances; j++) {
            hwloc_obj_t o = hwloc_get_obj_by_type(hw, (hwloc_obj_type_t)c->hwloc_type, (unsigned)j);
            if (j) fputc(',', f);
            jw_put_num(f, o->attr->cache.size ? (double)o->attr->cache.size : NAN);
        }
        fputs("]}", f);
    }
    const topo_cgroup *g = &t->cgroup;
    fputs("],\"cgroup\":{\"version\":", f);
    jw_put_num(f, g->version ? g->version : NAN);
    jw_kv_bool(f, "override", g->override);
    jw_kv_str(f, "path", g->version || g->override ? g->path : NULL);
    jw_kv_num(f, "quota_cpus", g->quota_cpus);
    jw_kv_num(f, "quota_us", g->quota_us);
    jw_kv_num(f, "period_us", g->period_us);
    jw_kv_num(f, "quota_ceil", g->quota_ceil ? g->quota_ceil : NAN);
    topo_kv_opt(f, "limit_at", g->limit_at);
    topo_kv_opt(f, "error", g->error);
    topo_kv_opt(f, "absent", g->absent);
    const topo_cpufreq *q = &t->cpufreq;
    fputs("},\"cpufreq\":{\"cpu\":", f);
    jw_put_num(f, q->cpu);
    topo_kv_opt(f, "governor", q->governor);
    topo_kv_opt(f, "driver", q->driver);
    jw_kv_num(f, "base_mhz", q->base_mhz);
    jw_kv_num(f, "min_mhz", q->min_mhz);
    jw_kv_num(f, "max_mhz", q->max_mhz);
    jw_kv_num(f, "cur_mhz", q->cur_mhz);
    if (q->boost < 0) fputs(",\"boost\":null", f);
    else jw_kv_bool(f, "boost", q->boost);
    topo_kv_opt(f, "boost_source", q->boost_source);
    topo_kv_opt(f, "absent", t->why_no_cpufreq);
    fputs("},\"thp\":{\"enabled\":", f);
    jw_put_str(f, *t->thp_enabled ? t->thp_enabled : NULL);
    topo_kv_opt(f, "defrag", t->thp_defrag);
    topo_kv_opt(f, "absent", t->why_no_thp);
    fputs("}}", f);
}

// ----------------------------------------------------------------------------
// build/topo

#ifdef TOPO_MAIN
int main(int argc, char **argv) {
    const char *path = NULL;
    int bad = 0, help = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) help = 1;
        else if (!strcmp(argv[i], "--machine") && i + 1 < argc) path = argv[++i];
        else bad = 1;
    }
    if (help || bad) {
        fprintf(help ? stdout : stderr,
                "%susage: topo [--machine PATH]\nPrints the machine's topology, usable CPUs, cgroup CPU quota, "
                "cpufreq and THP state\nas one JSON object (bench/RESULTS.md, meta.json host.topology).\n"
                "--machine PATH: an extracted hwloc snapshot folder (hwloc-gather-topology) or an hwloc XML\n"
                "file instead of this machine; what it lacks is null with the reason.\n",
                help ? "" : "topo: unexpected arguments\n");
        return help ? 0 : 2;
    }
    topo t;
    char err[1024];
    if (topo_read_machine(&t, path, err, sizeof err) != 0) {
        fprintf(stderr, "topo: %s\n", err);
        return path ? 2 : 1;
    }
    topo_write_json(stdout, &t);
    fputc('\n', stdout);
    topo_free(&t);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
#endif
