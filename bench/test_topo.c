/*
 * test_topo.c - the topology and outside-load modules on made-up inputs:
 * cgroup quota files (v2 cpu.max and v1 cfs files, nested levels, "max",
 * malformed files) through the test-only CLLM_TOPO_CGROUP_ROOT/PATH
 * override, the usable-CPU rule min(affinity, ceil(quota / period)), a
 * synthetic hwloc machine with SMT (HWLOC_SYNTHETIC), and the /proc/stat
 * arithmetic of noise_measure on written files. tests/test_topo.sh checks
 * the real machine against lscpu and a real cgroup where it can.
 */
#include "noise.h"
#include "topo.h"
#include "check.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[256];

static void put(const char *rel, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    FILE *f = fopen(path, "w");
    EXPECT(f != NULL, "cannot write %s: %s", path, strerror(errno));
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void rm(const char *rel) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    unlink(path);
}

/* topo_read_cgroup on the fake tree at path (under tmp/cg). */
static topo_cgroup cg_at(const char *path) {
    char root[300];
    snprintf(root, sizeof root, "%s/cg", tmp);
    setenv("CLLM_TOPO_CGROUP_ROOT", root, 1);
    setenv("CLLM_TOPO_CGROUP_PATH", path, 1);
    topo_cgroup c;
    topo_read_cgroup(&c);
    return c;
}

static int near(double a, double b) { return fabs(a - b) < 1e-9; }

// ----------------------------------------------------------------------------
// cgroup quota

static void test_cgroup(void) {
    char d[400];
    snprintf(d, sizeof d, "%s/cg/a/b", tmp);
    char cmd[500];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", d);
    EXPECT(system(cmd) == 0, "mkdir %s", d);

    topo_cgroup c = cg_at("/a/b");
    EXPECT(c.override && isnan(c.quota_cpus) && c.quota_ceil == 0 && !c.error[0],
           "no files: quota %g ceil %d error '%s'", c.quota_cpus, c.quota_ceil, c.error);
    EXPECT(topo_usable_cpus(8, &c) == 8, "no quota: usable %d, want 8", topo_usable_cpus(8, &c));

    put("cg/a/b/cpu.max", "max 100000\n");
    c = cg_at("/a/b");
    EXPECT(c.version == 2 && isnan(c.quota_cpus) && !c.error[0], "max: version %d quota %g", c.version, c.quota_cpus);

    put("cg/a/b/cpu.max", "150000 100000\n");
    c = cg_at("/a/b");
    EXPECT(near(c.quota_cpus, 1.5) && c.quota_ceil == 2 && strcmp(c.limit_at, "/a/b") == 0,
           "1.5 CPUs: quota %g ceil %d at '%s'", c.quota_cpus, c.quota_ceil, c.limit_at);
    EXPECT(topo_usable_cpus(8, &c) == 2 && topo_usable_cpus(1, &c) == 1,
           "usable with quota 1.5: %d of 8, %d of 1", topo_usable_cpus(8, &c), topo_usable_cpus(1, &c));

    put("cg/a/b/cpu.max", "200000 100000\n");
    c = cg_at("/a/b");
    EXPECT(c.quota_ceil == 2 && topo_usable_cpus(4, &c) == 2, "2 CPUs exactly: ceil %d", c.quota_ceil);

    put("cg/a/b/cpu.max", "50000 100000\n");
    c = cg_at("/a/b");
    EXPECT(c.quota_ceil == 1 && topo_usable_cpus(2, &c) == 1, "0.5 CPUs: ceil %d", c.quota_ceil);

    /* a parent's tighter quota wins; a looser one does not */
    put("cg/a/b/cpu.max", "400000 100000\n");
    put("cg/a/cpu.max", "100000 50000\n");
    c = cg_at("/a/b");
    EXPECT(near(c.quota_cpus, 2.0) && strcmp(c.limit_at, "/a") == 0 && c.quota_ceil == 2,
           "nested: quota %g at '%s', want 2 at /a", c.quota_cpus, c.limit_at);
    put("cg/a/cpu.max", "max 100000\n");
    c = cg_at("/a/b");
    EXPECT(near(c.quota_cpus, 4.0) && strcmp(c.limit_at, "/a/b") == 0, "nested max: quota %g at '%s'",
           c.quota_cpus, c.limit_at);
    c = cg_at("/a");
    EXPECT(isnan(c.quota_cpus), "own cgroup /a: the child's quota %g must not count", c.quota_cpus);

    /* malformed files: an error naming the file, no quota, never a crash */
    const char *bad[] = { "abc 100000\n", "50000\n", "0 100000\n", "50000 0\n", "-5 100000\n", "\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put("cg/a/b/cpu.max", bad[i]);
        c = cg_at("/a/b");
        EXPECT(c.error[0] && strstr(c.error, "cpu.max") && isnan(c.quota_cpus) && topo_usable_cpus(2, &c) == 2,
               "cpu.max '%.*s': error '%s' quota %g", (int)strcspn(bad[i], "\n"), bad[i], c.error, c.quota_cpus);
        if (i == 0) printf("malformed cpu.max: %s\n", c.error);
    }
    rm("cg/a/b/cpu.max");
    rm("cg/a/cpu.max");

    /* cgroup v1 files */
    put("cg/a/b/cpu.cfs_quota_us", "250000\n");
    put("cg/a/b/cpu.cfs_period_us", "100000\n");
    c = cg_at("/a/b");
    EXPECT(c.version == 1 && near(c.quota_cpus, 2.5) && c.quota_ceil == 3,
           "v1 2.5 CPUs: version %d quota %g ceil %d", c.version, c.quota_cpus, c.quota_ceil);
    put("cg/a/b/cpu.cfs_quota_us", "-1\n");
    c = cg_at("/a/b");
    EXPECT(c.version == 1 && isnan(c.quota_cpus) && !c.error[0], "v1 -1: quota %g error '%s'", c.quota_cpus, c.error);
    rm("cg/a/b/cpu.cfs_period_us");
    c = cg_at("/a/b");
    EXPECT(c.error[0] != '\0', "v1 without a period file: no error");
    rm("cg/a/b/cpu.cfs_quota_us");
    unsetenv("CLLM_TOPO_CGROUP_PATH");
}

// ----------------------------------------------------------------------------
// a synthetic machine with SMT, and the quota on top

static void test_synthetic(void) {
    put("cg/a/b/cpu.max", "150000 100000\n");
    cg_at("/a/b");   /* sets the override environment */
    setenv("HWLOC_SYNTHETIC", "pack:2 [numa] l3:1(size=16MiB) l2:2(size=1MiB) l1d:1(size=48KiB) core:1 pu:2", 1);
    topo t;
    char err[256];
    int r = topo_read(&t, err, sizeof err);
    EXPECT(r == 0, "synthetic topology: %s", err);
    unsetenv("HWLOC_SYNTHETIC");
    if (r != 0) return;
    EXPECT(!t.this_system, "a synthetic machine is taken as this system");
    EXPECT(t.packages == 2 && t.numa_nodes == 2 && t.cores == 4 && t.pus == 8 && t.pus_per_core == 2,
           "synthetic: %d packages %d nodes %d cores %d PUs %d per core", t.packages, t.numa_nodes,
           t.cores, t.pus, t.pus_per_core);
    EXPECT(t.affinity_cpus == 8 && t.affinity_cores == 4, "synthetic affinity %d PUs %d cores",
           t.affinity_cpus, t.affinity_cores);
    EXPECT(t.usable_cpus == 2, "synthetic 8 PUs under a 1.5-CPU quota: usable %d, want 2", t.usable_cpus);
    int l3 = -1;
    for (int i = 0; i < t.ncaches; i++) if (strcmp(t.caches[i].name, "L3") == 0) l3 = i;
    EXPECT(l3 >= 0 && t.caches[l3].instances == 2 && t.caches[l3].pus_per_instance == 4 &&
           near(t.caches[l3].size, 16 << 20) && near(t.caches[l3].total, 32 << 20),
           "synthetic L3: %d instances, %d PUs each", l3 >= 0 ? t.caches[l3].instances : -1,
           l3 >= 0 ? t.caches[l3].pus_per_instance : -1);
    char *json = NULL;
    size_t n;
    FILE *m = open_memstream(&json, &n);
    topo_write_json(m, &t);
    fclose(m);
    EXPECT(strstr(json, "\"shared_pus\":[\"0-3\",\"4-7\"]") != NULL, "L3 sharing not in the JSON: %.300s", json);
    EXPECT(strstr(json, "\"quota_cpus\":1.5") && strstr(json, "\"usable_cpus\":2") &&
           strstr(json, "\"override\":true"), "quota not in the JSON");
    free(json);
    topo_free(&t);
    rm("cg/a/b/cpu.max");
    unsetenv("CLLM_TOPO_CGROUP_ROOT");
}

// ----------------------------------------------------------------------------
// outside load

static void test_noise(void) {
    char sa[300], sb[300], la[300], lb[300], missing[300];
    snprintf(sa, sizeof sa, "%s/stat.a", tmp);
    snprintf(sb, sizeof sb, "%s/stat.b", tmp);
    snprintf(la, sizeof la, "%s/load.a", tmp);
    snprintf(lb, sizeof lb, "%s/load.b", tmp);
    snprintf(missing, sizeof missing, "%s/no-such-file", tmp);
    /* user nice system idle iowait irq softirq steal guest guest_nice; 100 ticks/s assumed below */
    put("stat.a", "cpu  1000 100 500 9000 50 10 40 10 200 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n");
    put("stat.b", "cpu  1300 100 560 9100 50 20 50 30 260 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n");
    put("load.a", "0.50 1.00 1.50 1/100 123\n");
    put("load.b", "2.25 1.10 1.40 3/101 124\n");
    noise_snap a, b;
    EXPECT(noise_sample(&a, sa, la) == 0 && a.ok, "sample a");
    EXPECT(noise_sample(&b, sb, lb) == 0 && b.ok, "sample b");
    double hz = (double)sysconf(_SC_CLK_TCK);
    /* busy: (300 user + 60 system + 10 irq + 10 softirq) ticks; guest is inside user */
    double busy = 380 / hz, steal = 20 / hz, self = b.self_cpu_s - a.self_cpu_s;
    noise_run r;
    noise_measure(&a, &b, 2.0, 1.5, 4, &r);
    EXPECT(near(r.outside_busy_s, busy - 1.5 - self), "outside %.6f s, want %.6f", r.outside_busy_s,
           busy - 1.5 - self);
    EXPECT(near(r.outside_cpus, r.outside_busy_s / 2.0) && near(r.outside_share, r.outside_cpus / 4),
           "outside cpus %g share %g", r.outside_cpus, r.outside_share);
    EXPECT(near(r.steal_cpus, steal / 2.0), "steal %g CPUs, want %g", r.steal_cpus, steal / 2.0);
    EXPECT(near(r.load_start[0], 0.5) && near(r.load_start[2], 1.5) && near(r.load_end[0], 2.25),
           "loadavg %g..%g", r.load_start[0], r.load_end[0]);
    printf("noise on written files (CLK_TCK %g): outside %.3f s = %.3f CPUs over 2 s, steal %.3f CPUs\n",
           hz, r.outside_busy_s, r.outside_cpus, r.steal_cpus);

    /* the verdict: the whole tick resolution must lie on one side of the limit */
    EXPECT(near(r.resolution_s, 8 / hz), "resolution %g s, want 2 ticks x 4 CPUs", r.resolution_s);
    noise_run v = r;
    v.wall_s = 2.0;
    v.resolution_s = 0.08;
    v.outside_busy_s = 1.0;
    EXPECT(noise_verdict(&v, 0.1) == 1, "1 CPU-s over 2 s is not noisy at 0.1 CPUs");
    EXPECT(noise_verdict(&v, 0.6) == 0, "0.5 CPUs busy (+-0.04) judged noisy at 0.6 CPUs");
    EXPECT(noise_verdict(&v, 0.5) == -1, "0.5 CPUs busy (+-0.04) decided at 0.5 CPUs");
    v.outside_busy_s = 0.0;
    EXPECT(noise_verdict(&v, 0.1) == 0, "no outside load judged noisy");
    v.outside_busy_s = -0.01;   /* tick truncation can go below 0 */
    EXPECT(noise_verdict(&v, 0.1) == 0, "a tick below 0 judged noisy");
    v.wall_s = 0.1;
    v.outside_busy_s = 0.0;
    EXPECT(noise_verdict(&v, 0.1) == -1, "0.1 s run at 0.08 s resolution decided");
    v.outside_busy_s = NAN;
    v.wall_s = 2.0;
    EXPECT(noise_verdict(&v, 0.1) == -1, "unmeasured run decided");

    /* unreadable or foreign /proc/stat: not measured (NAN), never 0 */
    EXPECT(noise_sample(&b, missing, missing) == -1 && !b.ok && isnan(b.load[0]), "missing files");
    noise_measure(&a, &b, 2.0, 1.5, 4, &r);
    EXPECT(isnan(r.outside_busy_s) && isnan(r.outside_cpus) && near(r.load_start[0], 0.5) && isnan(r.load_end[0]),
           "missing snapshot: outside %g", r.outside_busy_s);
    put("stat.b", "intr 1 2 3\n");
    EXPECT(noise_sample(&b, sb, lb) == -1 && !b.ok, "a /proc/stat without a cpu line accepted");
    noise_measure(&a, &a, 0.0, 0, 4, &r);
    EXPECT(isnan(r.outside_cpus), "zero wall time gave %g", r.outside_cpus);

    /* the real files */
    EXPECT(noise_sample(&a, NULL, NULL) == 0 && a.ok && a.busy_s > 0, "/proc/stat unreadable");
    EXPECT(isfinite(a.load[0]) && a.load[0] >= 0, "/proc/loadavg unreadable");
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s/cllm-test-topo.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) { fprintf(stderr, "mkdtemp: %s\n", strerror(errno)); return 1; }
    test_cgroup();
    test_synthetic();
    test_noise();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return check_finish("test_topo");
}
