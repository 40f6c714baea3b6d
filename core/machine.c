/*
 * machine.c - the machine a command reasons about (live, an hwloc snapshot
 * or an hwloc XML file), its cgroup CPU quota, and the one definition of
 * usable CPUs (see machine.h). Uses only libc and hwloc, so bench/ builds it
 * too: the harness and the core count usable CPUs with the same code.
 */
#include "machine.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// ----------------------------------------------------------------------------
// small file readers

/* First line of a file (machine.h); bench/topo.c reads sysfs with it too. */
const char *machine_read_line(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *r = fgets(buf, (int)n, f);
    fclose(f);
    if (!r) return NULL;
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

/* Whether the sep-separated list names the word want (list is cut up). */
static int has_word(char *list, const char *sep, const char *want) {
    char *save = NULL;
    for (char *tok = strtok_r(list, sep, &save); tok; tok = strtok_r(NULL, sep, &save))
        if (strcmp(tok, want) == 0) return 1;
    return 0;
}

// ----------------------------------------------------------------------------
// cgroup CPU quota

/* One level's limit. Returns 1 with quota and period (microseconds) when a
 * quota is set, 0 when there is none at this level ("max", -1 or no file),
 * -1 with err filled when a file is there but malformed. *version is set to
 * the format found (2 cpu.max, 1 cfs files). */
static int cg_level(const char *dir, double *quota, double *period, int *version, char *err, size_t errlen) {
    char path[1200], buf[128], pbuf[64];
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    if (machine_read_line(path, buf, sizeof buf)) {
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
    if (!machine_read_line(path, buf, sizeof buf)) return 0;
    *version = 1;
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
    char *end, *pend;
    long long qv = strtoll(buf, &end, 10);
    const char *ps = machine_read_line(path, pbuf, sizeof pbuf);
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
 * quota: a parent's quota limits its children too. Returns how many levels
 * held quota files. */
static int cg_walk(machine_cgroup *c, const char *root) {
    char rel[512];
    int files = 0;
    snprintf(rel, sizeof rel, "%s", c->path);
    for (;;) {
        char dir[1100], err[200] = "";
        snprintf(dir, sizeof dir, "%s%s", root, strcmp(rel, "/") == 0 ? "" : rel);
        double q = NAN, p = NAN;
        int v = 0, r = cg_level(dir, &q, &p, &v, err, sizeof err);
        if (v) files++;
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
    return files;
}

/* The mount of the hierarchy holding the cpu controller: cgroup2 when its
 * root lists "cpu" in cgroup.controllers, else a v1 mount whose options name
 * "cpu". Live: /proc/self/mountinfo; a snapshot: its proc/mounts (whose
 * mounts show the hierarchy from its root). Fills mnt (mount point, under
 * fsroot) and mroot (the mount's root inside the hierarchy); returns 2, 1 or
 * 0 (none). */
static int cg_mount(const char *fsroot, char *mnt, size_t mn, char *mroot, size_t rn) {
    char file[1200];
    snprintf(file, sizeof file, "%s%s", fsroot ? fsroot : "", fsroot ? "/proc/mounts" : "/proc/self/mountinfo");
    FILE *f = fopen(file, "r");
    if (!f) return 0;
    char line[4096];
    int found = 0;
    char v1mnt[2300] = "", v1root[1024] = "";
    while (!found && fgets(line, sizeof line, f)) {
        char root[1024] = "/", point[1024], fstype[64], opts[1024] = "";
        if (fsroot) {   /* source mount-point fstype options dump pass */
            if (sscanf(line, "%*s %1023s %63s %1023s", point, fstype, opts) < 2) continue;
        } else {        /* id parent major:minor root mount-point options ... - fstype source super-options */
            if (sscanf(line, "%*s %*s %*s %1023s %1023s", root, point) != 2) continue;
            char *sep = strstr(line, " - ");
            if (!sep || sscanf(sep + 3, "%63s %*s %1023s", fstype, opts) < 1) continue;
        }
        char full[2300];
        snprintf(full, sizeof full, "%s%s", fsroot ? fsroot : "", point);
        if (strcmp(fstype, "cgroup2") == 0) {
            char path[2400], ctl[512];
            snprintf(path, sizeof path, "%s/cgroup.controllers", full);
            if (machine_read_line(path, ctl, sizeof ctl) && has_word(ctl, " ", "cpu")) found = 2;
            if (found) { snprintf(mnt, mn, "%.1100s", full); snprintf(mroot, rn, "%s", root); }
        } else if (strcmp(fstype, "cgroup") == 0 && !v1mnt[0] && has_word(opts, ",", "cpu")) {
            snprintf(v1mnt, sizeof v1mnt, "%s", full);
            snprintf(v1root, sizeof v1root, "%s", root);
        }
    }
    fclose(f);
    if (!found && v1mnt[0]) {
        snprintf(mnt, mn, "%.1100s", v1mnt);
        snprintf(mroot, rn, "%s", v1root);
        found = 1;
    }
    return found;
}

/* The process's cgroup in hierarchy `version` from proc/self/cgroup. */
static int cg_own_path(const char *fsroot, int version, char *path, size_t n) {
    char file[1200];
    snprintf(file, sizeof file, "%s/proc/self/cgroup", fsroot ? fsroot : "");
    FILE *f = fopen(file, "r");
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
            match = has_word(list, ",", "cpu");
        }
        if (match) { snprintf(path, n, "%s", c2 + 1); ok = 0; }
    }
    fclose(f);
    return ok;
}

void machine_read_cgroup(machine_cgroup *c, const char *fsroot) {
    memset(c, 0, sizeof *c);
    c->quota_cpus = c->quota_us = c->period_us = NAN;
    snprintf(c->path, sizeof c->path, "/");
    const char *froot = fsroot ? NULL : getenv("CLLM_TOPO_CGROUP_ROOT");
    if (froot && *froot) {
        c->override = 1;
        const char *fp = getenv("CLLM_TOPO_CGROUP_PATH");
        if (fp && *fp == '/') snprintf(c->path, sizeof c->path, "%s", fp);
        cg_walk(c, froot);
        if (!c->quota_ceil) snprintf(c->absent, sizeof c->absent, "no CPU quota at %.120s or above", c->path);
        return;
    }
    char mnt[1200], mroot[1024], own[512];
    int v = cg_mount(fsroot, mnt, sizeof mnt, mroot, sizeof mroot);
    if (!v) {
        snprintf(c->absent, sizeof c->absent, fsroot ? "the snapshot's proc/mounts holds no cgroup hierarchy with "
                 "the cpu controller" : "no cgroup hierarchy with the cpu controller is mounted");
        return;
    }
    c->version = v;
    if (cg_own_path(fsroot, v, own, sizeof own) != 0) {
        snprintf(c->error, sizeof c->error, "no cgroup v%d entry with the cpu controller in %sproc/self/cgroup", v,
                 fsroot ? "the snapshot's " : "/");
        snprintf(c->absent, sizeof c->absent, "the process's cgroup is not known");
        return;
    }
    /* the mount shows the hierarchy from mroot down (containers mount their
     * own cgroup as the root): strip that prefix from the own path */
    size_t k = strlen(mroot);
    const char *rel = own;
    if (strcmp(mroot, "/") != 0 && strncmp(own, mroot, k) == 0 && (own[k] == '/' || own[k] == '\0'))
        rel = own[k] ? own + k : "/";
    snprintf(c->path, sizeof c->path, "%s", rel);
    int files = cg_walk(c, mnt);
    if (!c->quota_ceil)
        snprintf(c->absent, sizeof c->absent, files ? "no CPU quota is set at %.80s or above"
                 : fsroot ? "the snapshot holds no cpu.max or cpu.cfs_quota_us file (hwloc-gather-topology does "
                            "not save them)" : "no cpu.max or cpu.cfs_quota_us file at %.80s or above", c->path);
}

// ----------------------------------------------------------------------------
// usable CPUs

int machine_usable(hwloc_const_bitmap_t online, hwloc_const_bitmap_t allowed,
                   hwloc_const_bitmap_t affinity, int quota_ceil, hwloc_bitmap_t out) {
    hwloc_bitmap_t s = hwloc_bitmap_alloc();
    if (!s) return 1;
    hwloc_bitmap_fill(s);
    if (online) hwloc_bitmap_and(s, s, online);
    if (allowed) hwloc_bitmap_and(s, s, allowed);
    if (affinity) hwloc_bitmap_and(s, s, affinity);
    int n = hwloc_bitmap_weight(s);
    if (n < 0) n = 0;
    if (quota_ceil > 0 && quota_ceil < n) n = quota_ceil;
    if (out) hwloc_bitmap_copy(out, s);
    hwloc_bitmap_free(s);
    return n;
}

int machine_usable_here(void) {
    hwloc_bitmap_t online = hwloc_bitmap_alloc(), aff = hwloc_bitmap_alloc();
    int n = 1;
    if (online && aff) {
        char buf[4096];
        if (!machine_read_line("/sys/devices/system/cpu/online", buf, sizeof buf) || hwloc_bitmap_list_sscanf(online, buf) != 0) {
            hwloc_bitmap_free(online);   /* unknown: does not restrict */
            online = NULL;
        }
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0) {
            for (int c = 0; c < CPU_SETSIZE; c++)
                if (CPU_ISSET(c, &set)) hwloc_bitmap_set(aff, (unsigned)c);
        } else {
            long on = sysconf(_SC_NPROCESSORS_ONLN);
            hwloc_bitmap_set_range(aff, 0, on > 0 ? (int)on - 1 : 0);
        }
        machine_cgroup cg;
        machine_read_cgroup(&cg, NULL);
        n = machine_usable(online, NULL, aff, cg.quota_ceil, NULL);
    }
    hwloc_bitmap_free(online);
    hwloc_bitmap_free(aff);
    return n > 0 ? n : 1;
}

// ----------------------------------------------------------------------------
// loading

void machine_free(machine_t *m) {
    if (!m) return;
    if (m->hw) hwloc_topology_destroy(m->hw);
    hwloc_bitmap_free(m->online);
    hwloc_bitmap_free(m->allowed);
    hwloc_bitmap_free(m->affinity);
    hwloc_bitmap_free(m->usable_set);
    memset(m, 0, sizeof *m);
}

/* A snapshot cut short (a truncated tarball, a partial copy) loads without
 * an error but with CPUs or nodes missing: every CPU and NUMA node its
 * online files list must have its sysfs folder. */
static int snapshot_check(machine_t *m, char *err, size_t errlen) {
    static const char *const kinds[2] = { "cpu", "node" };
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        char file[1200], buf[4096];
        snprintf(file, sizeof file, "%s/sys/devices/system/%s/online", m->path, kinds[k]);
        if (!machine_read_line(file, buf, sizeof buf)) continue;   /* old kernels lack it */
        hwloc_bitmap_t want = hwloc_bitmap_alloc();
        if (!want || hwloc_bitmap_list_sscanf(want, buf) != 0) {
            snprintf(err, errlen, "--machine %s: incomplete snapshot: sys/devices/system/%s/online is '%.100s', "
                     "not a list of numbers", m->path, kinds[k], buf);
            rc = -1;
        }
        unsigned i;
        hwloc_bitmap_foreach_begin(i, want) {
            struct stat st;
            snprintf(file, sizeof file, "%s/sys/devices/system/%s/%s%u", m->path, kinds[k], kinds[k], i);
            if (rc == 0 && stat(file, &st) != 0) {
                snprintf(err, errlen, "--machine %s: incomplete snapshot: sys/devices/system/%s/online lists %s but "
                         "there is no sys/devices/system/%s/%s%u (a truncated or partly extracted snapshot?)",
                         m->path, kinds[k], buf, kinds[k], kinds[k], i);
                rc = -1;
            }
        } hwloc_bitmap_foreach_end();
        hwloc_bitmap_free(want);
    }
    /* snapshots of old kernels have no online files: proc/cpuinfo's
     * processors must all be in the topology hwloc built */
    char file[1200], line[256];
    snprintf(file, sizeof file, "%s/proc/cpuinfo", m->path);
    FILE *f = rc == 0 ? fopen(file, "r") : NULL;
    while (f && rc == 0 && fgets(line, sizeof line, f)) {
        unsigned cpu;
        if (sscanf(line, "processor : %u", &cpu) == 1 || sscanf(line, "processor\t: %u", &cpu) == 1) {
            if (!hwloc_bitmap_isset(hwloc_topology_get_complete_cpuset(m->hw), cpu)) {
                snprintf(err, errlen, "--machine %s: incomplete snapshot: proc/cpuinfo lists processor %u but hwloc "
                         "found no topology for it in sys/devices/system/cpu (a truncated or partly extracted "
                         "snapshot?)", m->path, cpu);
                rc = -1;
            }
        }
    }
    if (f) fclose(f);
    return rc;
}

int machine_load(machine_t *m, const char *path, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    struct stat st;
    int folder = 0;
    m->live = !path || !*path;
    m->source = "live";
    if (!m->live) {
        snprintf(m->path, sizeof m->path, "%s", path);
        if (stat(path, &st) != 0) {
            snprintf(err, errlen, "--machine %s: %s", path, strerror(errno));
            return -1;
        }
        folder = S_ISDIR(st.st_mode);
        m->source = folder ? "snapshot" : "xml";
        if (folder) {
            char d[1200];
            snprintf(d, sizeof d, "%s/sys/devices/system/cpu", path);
            if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
                snprintf(err, errlen, "--machine %s: not an hwloc snapshot: it has no sys/devices/system/cpu "
                         "(give the folder hwloc-gather-topology's tarball extracts to, or an hwloc XML file)", path);
                return -1;
            }
        }
    }
    if (hwloc_topology_init(&m->hw) != 0) {
        snprintf(err, errlen, "hwloc_topology_init: %s", strerror(errno));
        m->hw = NULL;
        return -1;
    }
    /* the whole machine, as lscpu shows it, even where a cgroup cpuset hides part */
    hwloc_topology_set_flags(m->hw, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    hwloc_topology_set_icache_types_filter(m->hw, HWLOC_TYPE_FILTER_KEEP_ALL);   /* L1i, as lscpu */
    int rc = 0, saved = 0;
    const char *what = "hwloc_topology_load";
    char *old_fsroot = NULL, *old_components = NULL;
    if (!m->live && !folder) {
        what = "hwloc_topology_set_xml";
        int verbose = !getenv("HWLOC_XML_VERBOSE");
        if (verbose) setenv("HWLOC_XML_VERBOSE", "1", 1);   /* hwloc prints why it refuses a file */
        rc = hwloc_topology_set_xml(m->hw, path);
        saved = errno;
        if (rc == 0) {
            rc = hwloc_topology_load(m->hw);
            saved = errno;
            what = "hwloc_topology_load";
        }
        if (verbose) unsetenv("HWLOC_XML_VERBOSE");
    } else if (!m->live) {
        /* hwloc reads a snapshot through HWLOC_FSROOT, consulted when the
         * topology is loaded; restored after */
        const char *o = getenv("HWLOC_FSROOT"), *c = getenv("HWLOC_COMPONENTS");
        old_fsroot = o ? strdup(o) : NULL;
        old_components = c ? strdup(c) : NULL;
        setenv("HWLOC_FSROOT", path, 1);
        setenv("HWLOC_COMPONENTS", "-x86", 1);   /* never this CPU's CPUID */
    }
    if (m->live || folder) {
        rc = hwloc_topology_load(m->hw);
        saved = errno;
    }
    if (folder) {
        if (old_fsroot) setenv("HWLOC_FSROOT", old_fsroot, 1); else unsetenv("HWLOC_FSROOT");
        if (old_components) setenv("HWLOC_COMPONENTS", old_components, 1); else unsetenv("HWLOC_COMPONENTS");
        free(old_fsroot);
        free(old_components);
    }
    if (rc != 0) {
        snprintf(err, errlen, "--machine %s: hwloc refuses it: %s: %s%s", m->live ? "(live)" : path, what,
                 strerror(saved), folder || m->live ? "" : " (hwloc's own message, if any, is above)");
        machine_free(m);
        return -1;
    }
    m->online = hwloc_bitmap_dup(hwloc_topology_get_topology_cpuset(m->hw));
    m->allowed = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(m->hw));
    m->affinity = hwloc_bitmap_dup(m->allowed);
    m->usable_set = hwloc_bitmap_alloc();
    if (!m->online || !m->allowed || !m->affinity || !m->usable_set) {
        snprintf(err, errlen, "--machine: cannot allocate CPU sets");
        machine_free(m);
        return -1;
    }
    if (hwloc_bitmap_iszero(m->online)) {
        snprintf(err, errlen, "--machine %s: hwloc found no CPU in it", m->live ? "(live)" : path);
        machine_free(m);
        return -1;
    }
    if (folder && snapshot_check(m, err, errlen) != 0) { machine_free(m); return -1; }
    if (m->live) {
        if (hwloc_get_cpubind(m->hw, m->affinity, HWLOC_CPUBIND_THREAD) != 0) hwloc_bitmap_copy(m->affinity, m->allowed);
        machine_read_cgroup(&m->cgroup, NULL);
    } else if (folder) {
        machine_read_cgroup(&m->cgroup, path);
    } else {
        m->cgroup.quota_cpus = m->cgroup.quota_us = m->cgroup.period_us = NAN;
        snprintf(m->cgroup.absent, sizeof m->cgroup.absent, "an hwloc XML file holds no cgroup CPU quota");
    }
    m->usable = machine_usable(m->online, m->allowed, m->affinity, m->cgroup.quota_ceil, m->usable_set);
    int nk = hwloc_cpukinds_get_nr(m->hw, 0);
    m->nkinds = nk > 0 ? nk : 0;
    return 0;
}

void machine_place_of(const machine_t *m, int pu, machine_place *out) {
    out->pu = pu;
    out->core = out->package = out->numa = out->kind = -1;
    hwloc_obj_t o = hwloc_get_pu_obj_by_os_index(m->hw, (unsigned)pu);
    if (!o) return;
    for (hwloc_obj_t p = o->parent; p; p = p->parent) {
        if (p->type == HWLOC_OBJ_CORE && out->core < 0) out->core = (int)p->logical_index;
        if (p->type == HWLOC_OBJ_PACKAGE && out->package < 0) out->package = (int)p->logical_index;
    }
    hwloc_obj_t n = NULL;
    while ((n = hwloc_get_next_obj_by_type(m->hw, HWLOC_OBJ_NUMANODE, n)))
        if (hwloc_bitmap_isset(n->cpuset, (unsigned)pu)) { out->numa = (int)n->os_index; break; }
    if (m->nkinds > 1) {
        hwloc_bitmap_t s = hwloc_bitmap_alloc();
        if (s) {
            hwloc_bitmap_only(s, (unsigned)pu);
            out->kind = hwloc_cpukinds_get_by_cpuset(m->hw, s, 0);
            hwloc_bitmap_free(s);
        }
    }
}
