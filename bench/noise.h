/*
 * noise.h - load from outside a benchmark run: the CPU time every other
 * process spent while a run was going (from /proc/stat's aggregate "cpu"
 * line, less the child's own CPU time from wait4 and the harness's own from
 * getrusage), the hypervisor's steal time, and /proc/loadavg at the start
 * and the end. bench/RESULTS.md ("Noise") says how the figures are made.
 */
#ifndef CLLM_NOISE_H
#define CLLM_NOISE_H

/* A snapshot, taken just before a run starts and just after it is reaped. */
typedef struct {
    int ok;                  /* 1: /proc/stat was read */
    double busy_s;           /* user+nice+system+irq+softirq over all CPUs, seconds */
    double steal_s;          /* steal over all CPUs, seconds */
    double self_cpu_s;       /* the harness's own user+sys (getrusage RUSAGE_SELF) */
    double load[3];          /* /proc/loadavg 1, 5, 15 min; NAN when unreadable */
} noise_snap;

/* What happened between two snapshots. NAN where a snapshot failed. */
typedef struct {
    double outside_busy_s;   /* busy CPU-seconds of other processes (may be a tick below 0) */
    double outside_cpus;     /* outside_busy_s / wall: CPUs kept busy from outside, on average */
    double outside_share;    /* outside_busy_s / (wall x online CPUs): share of the capacity */
    double steal_cpus;       /* steal seconds / wall */
    double resolution_s;     /* +- of outside_busy_s: /proc/stat counts whole ticks per CPU */
    double wall_s;
    double load_start[3], load_end[3];
} noise_run;

/* Takes a snapshot. stat_path / loadavg_path NULL = /proc/stat, /proc/loadavg
 * (tests pass files). Returns 0, or -1 when /proc/stat could not be read
 * (s->ok 0; the loadavg is still tried). */
int noise_sample(noise_snap *s, const char *stat_path, const char *loadavg_path);

/* The outside load between a and b: wall seconds of the run, child_cpu_s
 * the child's user+sys from wait4, online the CPUs /proc/stat covers. */
void noise_measure(const noise_snap *a, const noise_snap *b, double wall_s, double child_cpu_s,
                   int online, noise_run *out);

/* Was the run noisy, other processes keeping more than max_cpus CPUs busy on
 * average? 1 yes (even at the low end of the resolution), 0 no (even at the
 * high end), -1 undetermined (not measured, or a run too short for the
 * tick resolution to tell). */
int noise_verdict(const noise_run *r, double max_cpus);

#endif
