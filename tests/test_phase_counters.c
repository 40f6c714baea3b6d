/*
 * test_phase_counters.c - per-phase, per-worker perf counters
 * (train_opts.events, train_model --phase-counters), with the software
 * events these VMs have. Counts and ratios measured in the same run, never a
 * time or a speed:
 *   - page-faults in forward: step 1 (OpenBLAS maps each thread's buffer at
 *     its first sgemm) against the mean of the next steps (the step loop
 *     allocates nothing)
 *   - context-switches in barrier_wait when oversubscribed (2x the CPUs:
 *     the barrier sleeps at once) > 0, and none at 1 thread (no barrier)
 *   - task-clock per phase against the phase CPU clocks of the same workers,
 *     forward and backward: ratio within 5%
 *   - an event that cannot be opened is unavailable with its errno, never 0:
 *     injected (CLLM_FAIL_PERFEV) while the others count, and `cycles`,
 *     which counts where the PMU is exposed and is ENOENT/EOPNOTSUPP where not
 *   - the parser: unknown, repeated, empty and too many events refused
 * Ends with "test_phase_counters: N passed, N failed".
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "corpus.h"
#include "config.h"
#include "data.h"
#include "perfev.h"
#include "trainer.h"
#include "util.h"

static corpus_t corpus;
static int *tokens;


static trainer_t *make(const char *cfgname, int nth, const char *events) {
    config_t c;
    config_preset(&c, cfgname);
    train_opts o;
    train_opts_default(&o);
    char err[512];
    EXPECT(perfev_parse(events, &o.events, err, sizeof err) == 0, "perfev_parse(%s): %s", events, err);
    trainer_t *t = trainer_create(&c, &o, nth, &corpus, err, sizeof err);
    EXPECT(t != NULL, "trainer %s at %d threads: %s", cfgname, nth, err);
    return t;
}

/* event ev of phase ph summed over the workers; -1 when unavailable on any */
static long long phase_sum(const trainer_t *t, int ev, int ph) {
    long long s = 0;
    for (int i = 0; i < trainer_threads(t); i++) {
        unsigned long long c[PH_COUNT];
        int u;
        if (trainer_phase_counts(t, i, ev, c, &u) != 0) return -1;
        s += (long long)c[ph];
    }
    return s;
}

static int usable_cpus(void) {
    cpu_set_t s;
    return sched_getaffinity(0, sizeof s, &s) == 0 ? CPU_COUNT(&s) : 1;
}

static void test_parse(void) {
    perfev_set s;
    char err[512];
    EXPECT(perfev_parse("task-clock,page-faults,context-switches,cycles", &s, err, sizeof err) == 0 && s.n == 4 &&
           strcmp(perfev_name(s.id[3]), "cycles") == 0, "a good list: %s", err);
    const char *bad[] = { "", "nope", "cycles,cycles", "task-clock,", ",task-clock",
                          "task-clock,cpu-clock,page-faults,minor-faults,major-faults,context-switches,"
                          "cpu-migrations,cycles,instructions", NULL };
    for (int i = 0; bad[i]; i++)
        EXPECT(perfev_parse(bad[i], &s, err, sizeof err) != 0 && strstr(err, "--phase-counters"),
               "'%.40s' accepted", bad[i]);
}

static void test_page_faults(void) {
    trainer_t *t = make("S", 2, "page-faults");
    if (!t) return;
    trainer_step(t);
    long long first = phase_sum(t, 0, PH_FORWARD);
    for (int s = 0; s < 4; s++) trainer_step(t);
    long long later = phase_sum(t, 0, PH_FORWARD) - first;
    EXPECT(first > 0 && later >= 0 && later < first * 4,
           "page-faults in forward: step 1 %lld, steps 2-5 %lld (want step 1 > 0 and above their mean)", first,
           later);
    printf("page-faults in forward, 2 workers: step 1 %lld, steps 2-5 %lld in all\n", first, later);
    trainer_free(t);
}

static void test_context_switches(void) {
    int n = 2 * usable_cpus();
    if (n > 16) n = 16;
    trainer_t *t = make("tiny", n, "context-switches");
    if (!t) return;
    for (int s = 0; s < 10; s++) trainer_step(t);
    long long bar = phase_sum(t, 0, PH_BARRIER);
    EXPECT(bar > 0, "context-switches in barrier_wait at %d threads on %d CPUs: %lld, want > 0", n,
           usable_cpus(), bar);
    printf("context-switches in barrier_wait, %d workers on %d CPUs, 10 steps: %lld\n", n, usable_cpus(), bar);
    trainer_free(t);
    t = make("tiny", 1, "context-switches");
    if (!t) return;
    for (int s = 0; s < 10; s++) trainer_step(t);
    EXPECT(phase_sum(t, 0, PH_BARRIER) == 0, "context-switches in barrier_wait at 1 thread: %lld, want 0",
           phase_sum(t, 0, PH_BARRIER));
    trainer_free(t);
}

static void test_task_clock(void) {
    int n = usable_cpus() >= 2 ? 2 : 1;
    trainer_t *t = make("S", n, "task-clock");
    if (!t) return;
    for (int s = 0; s < 3; s++) trainer_step(t);
    int phases[2] = { PH_FORWARD, PH_BACKWARD };
    for (int k = 0; k < 2; k++) {
        double cpu = 0;
        for (int i = 0; i < n; i++) {
            double w[PH_COUNT], c[PH_COUNT];
            trainer_phase_times(t, i, w, c);
            cpu += c[phases[k]];
        }
        long long tc = phase_sum(t, 0, phases[k]);
        double ratio = cpu > 0 ? (double)tc * 1e-9 / cpu : 0;
        EXPECT(ratio > 0.95 && ratio < 1.05, "task-clock in %s over the phase CPU clock: %.4f, want 1 +- 5%%",
               phase_names[phases[k]], ratio);
        printf("task-clock / phase CPU clock, %s, %d workers: %.4f\n", phase_names[phases[k]], n, ratio);
    }
    unsigned long long en, run;
    trainer_counter_times(t, 0, &en, &run);
    EXPECT(en > 0 && run == en, "software events are never multiplexed: enabled %llu running %llu", en, run);
    trainer_free(t);
}

static void test_unavailable(void) {
    setenv("CLLM_FAIL_PERFEV", "page-faults", 1);
    trainer_t *t = make("tiny", 2, "task-clock,page-faults,context-switches");
    unsetenv("CLLM_FAIL_PERFEV");
    if (!t) return;
    for (int s = 0; s < 3; s++) trainer_step(t);
    for (int i = 0; i < 2; i++) {
        unsigned long long c[PH_COUNT];
        int u;
        EXPECT(trainer_phase_counts(t, i, 1, c, &u) == EACCES, "worker %d: page-faults not unavailable (EACCES)", i);
        EXPECT(trainer_phase_counts(t, i, 0, c, &u) == 0 && c[PH_FORWARD] > 0,
               "worker %d: task-clock does not count beside the failed event", i);
        EXPECT(trainer_phase_counts(t, i, 2, c, &u) == 0, "worker %d: context-switches unavailable", i);
    }
    trainer_free(t);
    /* a hardware event: counts where the PMU is there, an errno where it is not */
    t = make("tiny", 1, "task-clock,cycles");
    if (!t) return;
    for (int s = 0; s < 3; s++) trainer_step(t);
    unsigned long long c[PH_COUNT];
    int u, rc = trainer_phase_counts(t, 0, 1, c, &u);
    EXPECT(rc != 0 || c[PH_FORWARD] > 0, "cycles available but forward counted 0");
    EXPECT(rc == 0 || rc == ENOENT || rc == EOPNOTSUPP || rc == EACCES || rc == EPERM || rc == EINVAL,
           "cycles unavailable with an unexpected errno %d", rc);
    printf("cycles: %s\n", rc == 0 ? "available" : strerror(rc));
    EXPECT(trainer_phase_counts(t, 0, 0, c, &u) == 0, "task-clock failed beside cycles");
    trainer_free(t);
}

int main(void) {
    blas_single_thread();
    tokens = test_corpus(&corpus, 128);
    test_parse();
    test_page_faults();
    test_context_switches();
    test_task_clock();
    test_unavailable();
    free(tokens);
    return check_finish("test_phase_counters");
}
