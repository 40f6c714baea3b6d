/*
 * noise.c - outside load over a benchmark run (see noise.h): /proc/stat's
 * busy time less the child's and the harness's own CPU time, steal time,
 * and /proc/loadavg.
 */
#include "noise.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int noise_sample(noise_snap *s, const char *stat_path, const char *loadavg_path) {
    memset(s, 0, sizeof *s);
    s->busy_s = s->steal_s = NAN;
    for (int i = 0; i < 3; i++) s->load[i] = NAN;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    s->self_cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
                  + 1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    FILE *f = fopen(loadavg_path ? loadavg_path : "/proc/loadavg", "r");
    if (f) {
        double l[3];
        if (fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) == 3)
            for (int i = 0; i < 3; i++) s->load[i] = l[i];
        fclose(f);
    }
    f = fopen(stat_path ? stat_path : "/proc/stat", "r");
    if (!f) return -1;
    /* cpu  user nice system idle iowait irq softirq steal guest guest_nice
     * (guest time is already inside user, so it is not added again) */
    unsigned long long v[8] = { 0 };
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 7) return -1;   /* steal arrived in Linux 2.6.11: optional */
    double hz = (double)sysconf(_SC_CLK_TCK);
    if (!(hz > 0)) return -1;
    s->busy_s = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / hz;
    s->steal_s = n >= 8 ? (double)v[7] / hz : NAN;
    s->ok = 1;
    return 0;
}

void noise_measure(const noise_snap *a, const noise_snap *b, double wall_s, double child_cpu_s,
                   int online, noise_run *out) {
    for (int i = 0; i < 3; i++) {
        out->load_start[i] = a->load[i];
        out->load_end[i] = b->load[i];
    }
    out->outside_busy_s = out->outside_cpus = out->outside_share = out->steal_cpus = NAN;
    out->wall_s = wall_s;
    /* each snapshot truncates every CPU's counts to a whole tick */
    out->resolution_s = 2.0 * (online > 0 ? online : 1) / (double)sysconf(_SC_CLK_TCK);
    if (!a->ok || !b->ok || !(wall_s > 0)) return;
    out->outside_busy_s = (b->busy_s - a->busy_s) - child_cpu_s - (b->self_cpu_s - a->self_cpu_s);
    out->outside_cpus = out->outside_busy_s / wall_s;
    out->outside_share = online > 0 ? out->outside_cpus / online : NAN;
    out->steal_cpus = (b->steal_s - a->steal_s) / wall_s;
}

int noise_verdict(const noise_run *r, double max_cpus) {
    if (!isfinite(r->outside_busy_s) || !(r->wall_s > 0)) return -1;
    if ((r->outside_busy_s - r->resolution_s) / r->wall_s > max_cpus) return 1;
    if ((r->outside_busy_s + r->resolution_s) / r->wall_s <= max_cpus) return 0;
    return -1;
}
