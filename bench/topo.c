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

/* First line of a file, newline cut; NULL when unreadable or empty. */
static const char *topo_read_line(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *r = fgets(buf, (int)n, f);
    fclose(f);
    if (!r) return NULL;
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

/* Copies s into d (size n), cut to fit. */
static void topo_copy(char *d, size_t n, const char *s) {
    size_t k = strlen(s);
    if (k >= n) k = n - 1;
    memcpy(d, s, k);
    d[k] = '\0';
}

/* Whether the sep-separated list names the word want (list is cut up). */
static int topo_has_word(char *list, const char *sep, const char *want) {
    char *save = NULL;
    for (char *tok = strtok_r(list, sep, &save); tok; tok = strtok_r(NULL, sep, &save))
        if (strcmp(tok, want) == 0) return 1;
    return 0;
}

/* A file holding one number (kHz for cpufreq); NAN when unreadable. */
static double topo_read_num(const char *path) {
    char buf[64], *end;
    if (!topo_read_line(path, buf, sizeof buf)) return NAN;
    double v = strtod(buf, &end);
    return end == buf ? NAN : v;
}

// ----------------------------------------------------------------------------
// cgroup CPU quota

/* One level's limit. Returns 1 with quota and period (microseconds) when a
 * quota is set, 0 when there is none at this level ("max", -1 or no file),
 * -1 with err filled when a file is there but malformed. *version is set to
 * the format found (2 cpu.max, 1 cfs files). */
static int topo_cg_level(const char *dir, double *quota, double *period, int *version,
                         char *err, size_t errlen) {
    char path[1200], buf[128], pbuf[64];
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    if (topo_read_line(path, buf, sizeof buf)) {
        *version = 2;
        char q[64];
        long long p;
        if (sscanf(buf, "%63s %lld", q, &p) != 2 || p <= 0) {
            snprintf(err, errlen, "cpu.max '%.60s' is not 'QUOTA PERIOD' or 'max PERIOD'", buf);
            return -1;
        }
        if (strcmp(q, "max") == 0) return 0;
        char *end;
        long long qv = strtoll(q, &end, 10);
        if (*end || qv <= 0) {
            snprintf(err, errlen, "cpu.max '%.60s': quota is not a positive integer or max", buf);
            return -1;
        }
        *quota = (double)qv;
        *period = (double)p;
        return 1;
    }
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
    if (!topo_read_line(path, buf, sizeof buf)) return 0;
    *version = 1;
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
    char *end, *pend;
    long long qv = strtoll(buf, &end, 10);
    const char *ps = topo_read_line(path, pbuf, sizeof pbuf);
    long long pv = ps ? strtoll(ps, &pend, 10) : 0;
    if (end == buf || *end || (qv <= 0 && qv != -1) || !ps || *pend || pv <= 0) {
        snprintf(err, errlen, "cpu.cfs_quota_us '%.40s' / cpu.cfs_period_us '%.40s' are not a quota and a period",
                 buf, ps ? ps : "(unreadable)");
        return -1;
    }
    if (qv == -1) return 0;
    *quota = (double)qv;
    *period = (double)pv;
    return 1;
}

/* Walks dir = root + path, then each parent up to root, keeping the tightest
 * quota: a parent's quota limits its children too. */
static void topo_cg_walk(topo_cgroup *c, const char *root) {
    char rel[512];
    snprintf(rel, sizeof rel, "%s", c->path);
    for (;;) {
        char dir[1100], err[200] = "";
        snprintf(dir, sizeof dir, "%s%s", root, strcmp(rel, "/") == 0 ? "" : rel);
        double q = NAN, p = NAN;
        int v = 0, r = topo_cg_level(dir, &q, &p, &v, err, sizeof err);
        if (v && !c->version) c->version = v;
        if (r < 0 && !c->error[0]) snprintf(c->error, sizeof c->error, "%.80s: %.160s", rel, err);
        if (r > 0 && !(q / p >= c->quota_cpus)) {
            c->quota_cpus = q / p;
            c->quota_us = q;
            c->period_us = p;
            c->quota_ceil = (int)(((long long)q + (long long)p - 1) / (long long)p);
            snprintf(c->limit_at, sizeof c->limit_at, "%s", rel);
        }
        if (strcmp(rel, "/") == 0) break;
        char *slash = strrchr(rel, '/');
        if (slash == rel) rel[1] = '\0';
        else *slash = '\0';
    }
}

/* The mount of the hierarchy holding the cpu controller: cgroup2 when its
 * root lists "cpu" in cgroup.controllers, else a v1 mount whose options name
 * "cpu". Fills mnt (mount point) and mroot (the mount's root inside the
 * hierarchy); returns 2, 1 or 0 (none). */
static int topo_cg_mount(char *mnt, size_t mn, char *mroot, size_t rn) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f) return 0;
    char line[4096];
    int found = 0;
    char v1mnt[1024] = "", v1root[1024] = "";
    while (!found && fgets(line, sizeof line, f)) {
        char root[1024], point[1024];
        /* id parent major:minor root mount-point options ... - fstype source super-options */
        if (sscanf(line, "%*s %*s %*s %1023s %1023s", root, point) != 2) continue;
        char *sep = strstr(line, " - ");
        if (!sep) continue;
        char fstype[64], src[256], opts[1024] = "";
        if (sscanf(sep + 3, "%63s %255s %1023s", fstype, src, opts) < 2) continue;
        if (strcmp(fstype, "cgroup2") == 0) {
            char path[1100], ctl[512];
            snprintf(path, sizeof path, "%s/cgroup.controllers", point);
            if (topo_read_line(path, ctl, sizeof ctl) && topo_has_word(ctl, " ", "cpu")) found = 2;
            if (found) { snprintf(mnt, mn, "%s", point); snprintf(mroot, rn, "%s", root); }
        } else if (strcmp(fstype, "cgroup") == 0 && !v1mnt[0] && topo_has_word(opts, ",", "cpu")) {
            snprintf(v1mnt, sizeof v1mnt, "%s", point);
            snprintf(v1root, sizeof v1root, "%s", root);
        }
    }
    fclose(f);
    if (!found && v1mnt[0]) {
        snprintf(mnt, mn, "%s", v1mnt);
        snprintf(mroot, rn, "%s", v1root);
        found = 1;
    }
    return found;
}

/* The process's cgroup in hierarchy `version` from /proc/self/cgroup. */
static int topo_cg_own_path(int version, char *path, size_t n) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return -1;
    char line[4096];
    int ok = -1;
    while (ok < 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = '\0';
        const char *ctl = c1 + 1;
        int match = 0;
        if (version == 2) match = strcmp(line, "0") == 0 && *ctl == '\0';
        else {
            char list[512];
            snprintf(list, sizeof list, "%s", ctl);
            match = topo_has_word(list, ",", "cpu");
        }
        if (match) { snprintf(path, n, "%s", c2 + 1); ok = 0; }
    }
    fclose(f);
    return ok;
}

void topo_read_cgroup(topo_cgroup *c) {
    memset(c, 0, sizeof *c);
    c->quota_cpus = c->quota_us = c->period_us = NAN;
    snprintf(c->path, sizeof c->path, "/");
    const char *froot = getenv("CLLM_TOPO_CGROUP_ROOT");
    if (froot && *froot) {
        c->override = 1;
        const char *fp = getenv("CLLM_TOPO_CGROUP_PATH");
        if (fp && *fp == '/') snprintf(c->path, sizeof c->path, "%s", fp);
        topo_cg_walk(c, froot);
        return;
    }
    char mnt[1024], mroot[1024], own[512];
    int v = topo_cg_mount(mnt, sizeof mnt, mroot, sizeof mroot);
    if (!v) return;
    c->version = v;
    if (topo_cg_own_path(v, own, sizeof own) != 0) {
        snprintf(c->error, sizeof c->error, "no cgroup v%d entry with the cpu controller in /proc/self/cgroup", v);
        return;
    }
    /* the mount shows the hierarchy from mroot down (containers mount their
     * own cgroup as the root): strip that prefix from the own path */
    size_t k = strlen(mroot);
    const char *rel = own;
    if (strcmp(mroot, "/") != 0 && strncmp(own, mroot, k) == 0 && (own[k] == '/' || own[k] == '\0'))
        rel = own[k] ? own + k : "/";
    snprintf(c->path, sizeof c->path, "%s", rel);
    topo_cg_walk(c, mnt);
}

int topo_usable_cpus(int affinity_cpus, const topo_cgroup *c) {
    if (c && c->quota_ceil > 0 && c->quota_ceil < affinity_cpus) return c->quota_ceil;
    return affinity_cpus;
}

// ----------------------------------------------------------------------------
// cpufreq, transparent huge pages, /proc/cpuinfo

static void topo_read_cpufreq(topo_cpufreq *q, int cpu) {
    char dir[96], path[160], buf[64];
    memset(q, 0, sizeof *q);
    q->cpu = cpu;
    snprintf(dir, sizeof dir, "/sys/devices/system/cpu/cpu%d/cpufreq", cpu);
    snprintf(path, sizeof path, "%s/scaling_governor", dir);
    if (topo_read_line(path, buf, sizeof buf)) topo_copy(q->governor, sizeof q->governor, buf);
    snprintf(path, sizeof path, "%s/scaling_driver", dir);
    if (topo_read_line(path, buf, sizeof buf)) topo_copy(q->driver, sizeof q->driver, buf);
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
        { "/sys/devices/system/cpu/cpufreq/boost", 0 },
        { "/sys/devices/system/cpu/intel_pstate/no_turbo", 1 },
        { NULL, 0 },
    };
    q->boost = -1;
    for (int i = 0; i < 3 && q->boost < 0; i++) {
        char p[160];
        if (boost[i].path) snprintf(p, sizeof p, "%s", boost[i].path);
        else snprintf(p, sizeof p, "%s/boost", dir);
        if (!topo_read_line(p, buf, sizeof buf) || (buf[0] != '0' && buf[0] != '1')) continue;
        q->boost = (buf[0] == '1') != boost[i].inverted;
        topo_copy(q->boost_source, sizeof q->boost_source, p);
    }
}

/* The bracketed choice of a THP file ("always [madvise] never" -> madvise). */
static void topo_read_thp(const char *path, char *out, size_t n) {
    char buf[256];
    out[0] = '\0';
    if (!topo_read_line(path, buf, sizeof buf)) return;
    char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;
    if (a && b) snprintf(out, n, "%.*s", (int)(b - a - 1), a + 1);
}

/* hwloc has no clock figure: the "cpu MHz" of the first CPU listed (x86
 * only; in a VM often the host's TSC rate, not the clock it runs at). */
static double topo_cpuinfo_mhz(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
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

int topo_read(topo *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    hwloc_topology_t hw;
    if (hwloc_topology_init(&hw) != 0) {
        snprintf(err, errlen, "hwloc_topology_init: %s", strerror(errno));
        return -1;
    }
    /* the whole machine, as lscpu shows it, even where a cgroup cpuset hides part */
    hwloc_topology_set_flags(hw, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    hwloc_topology_set_icache_types_filter(hw, HWLOC_TYPE_FILTER_KEEP_ALL);   /* L1i, as lscpu */
    if (hwloc_topology_load(hw) != 0) {
        snprintf(err, errlen, "hwloc_topology_load: %s", strerror(errno));
        hwloc_topology_destroy(hw);
        return -1;
    }
    t->hw = hw;
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
    t->online_cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);

    hwloc_bitmap_t aff = hwloc_bitmap_alloc();
    if (!t->this_system || hwloc_get_cpubind(hw, aff, HWLOC_CPUBIND_THREAD) != 0)
        hwloc_bitmap_copy(aff, hwloc_topology_get_topology_cpuset(hw));
    t->affinity_cpus = hwloc_bitmap_weight(aff);
    hwloc_bitmap_list_asprintf(&t->affinity_list, aff);
    for (int i = 0; i < t->cores; i++) {
        hwloc_obj_t core = hwloc_get_obj_by_type(hw, HWLOC_OBJ_CORE, (unsigned)i);
        int w = hwloc_bitmap_weight(core->cpuset);
        if (w > t->pus_per_core) t->pus_per_core = w;
        if (hwloc_bitmap_intersects(core->cpuset, aff)) t->affinity_cores++;
    }
    if (t->cores == 0) {   /* hwloc found no core level: count PUs as cores */
        t->cores = t->pus;
        t->affinity_cores = t->affinity_cpus;
        t->pus_per_core = 1;
    }
    int first = hwloc_bitmap_first(aff);
    hwloc_bitmap_free(aff);

    topo_read_caches(t, hw);
    topo_read_cgroup(&t->cgroup);
    t->usable_cpus = topo_usable_cpus(t->affinity_cpus, &t->cgroup);
    topo_read_cpufreq(&t->cpufreq, first > 0 ? first : 0);
    topo_read_thp("/sys/kernel/mm/transparent_hugepage/enabled", t->thp_enabled, sizeof t->thp_enabled);
    topo_read_thp("/sys/kernel/mm/transparent_hugepage/defrag", t->thp_defrag, sizeof t->thp_defrag);
    t->cpuinfo_mhz = topo_cpuinfo_mhz();
    return 0;
}

void topo_free(topo *t) {
    if (!t) return;
    if (t->hw) hwloc_topology_destroy((hwloc_topology_t)t->hw);
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

void topo_write_json(FILE *f, const topo *t) {
    hwloc_topology_t hw = (hwloc_topology_t)t->hw;
    fputs("{\"source\":", f);
    jw_put_str(f, "hwloc");
    jw_kv_str(f, "hwloc_version", t->hwloc_version);
    jw_kv_bool(f, "this_system", t->this_system);
    topo_kv_opt(f, "cpu_model", t->cpu_model);
    topo_kv_opt(f, "cpu_vendor", t->cpu_vendor);
    jw_kv_num(f, "cpu_family", t->cpu_family >= 0 ? t->cpu_family : NAN);
    jw_kv_num(f, "cpu_model_number", t->cpu_model_number >= 0 ? t->cpu_model_number : NAN);
    jw_kv_num(f, "cpu_stepping", t->cpu_stepping >= 0 ? t->cpu_stepping : NAN);
    jw_kv_num(f, "cpuinfo_mhz", t->cpuinfo_mhz);
    jw_kv_num(f, "packages", t->packages);
    jw_kv_num(f, "numa_nodes", t->numa_nodes);
    jw_kv_num(f, "cores", t->cores);
    jw_kv_num(f, "pus", t->pus);
    jw_kv_num(f, "pus_per_core", t->pus_per_core);
    jw_kv_num(f, "online_cpus", t->online_cpus);
    jw_kv_num(f, "affinity_cpus", t->affinity_cpus);
    jw_kv_num(f, "affinity_cores", t->affinity_cores);
    jw_kv_str(f, "affinity_list", t->affinity_list);
    jw_kv_num(f, "usable_cpus", t->usable_cpus);
    fputs(",\"numa\":[", f);
    for (int i = 0; hw && i < t->numa_nodes; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(hw, HWLOC_OBJ_NUMANODE, (unsigned)i);
        fprintf(f, "%s{\"os_index\":%u,\"pus\":", i ? "," : "", o->os_index);
        topo_put_cpuset(f, o->cpuset);
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
    fputs("},\"thp\":{\"enabled\":", f);
    jw_put_str(f, *t->thp_enabled ? t->thp_enabled : NULL);
    topo_kv_opt(f, "defrag", t->thp_defrag);
    fputs("}}", f);
}

// ----------------------------------------------------------------------------
// build/topo

#ifdef TOPO_MAIN
int main(int argc, char **argv) {
    if (argc > 1) {
        int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
        fprintf(help ? stdout : stderr,
                "%susage: topo\nPrints this machine's topology, cgroup CPU quota, cpufreq and THP state\n"
                "as one JSON object (bench/RESULTS.md, meta.json host.topology).\n",
                help ? "" : "topo: no arguments expected\n");
        return help ? 0 : 2;
    }
    topo t;
    char err[256];
    if (topo_read(&t, err, sizeof err) != 0) {
        fprintf(stderr, "topo: %s\n", err);
        return 1;
    }
    topo_write_json(stdout, &t);
    fputc('\n', stdout);
    topo_free(&t);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
#endif
