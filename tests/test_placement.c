/*
 * test_placement.c - where the trainer's memory is first written and where
 * its workers run, and what a step costs in barriers:
 *   - first touch (CLLM_DEBUG_FIRST_TOUCH=1) at 1, 2, 3 and 8 threads: worker
 *     i's own thread made the first write to its context, its gradient
 *     buffer and its pages of the parameters and Adam moments; those pages
 *     tile the shared block; no page was resident before that write (so
 *     nothing touched it earlier: the main thread's init comes after); the
 *     initial values are the same bits as params_init's at every count; the
 *     allocator still hands out exactly the memory table's bytes
 *   - barriers: a pool job with k pool_barrier calls costs k + 1, a training
 *     step 3, at 1, 2, 3 and 8 threads
 *   - binding on this machine: worker i bound to the CPU asked, seen by
 *     sched_getcpu and sched_getaffinity in the worker, and the calling
 *     thread's affinity mask restored by trainer_free
 * Ends with "test_placement: N passed, N failed".
 */
#include <dirent.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "corpus.h"
#include "config.h"
#include "data.h"
#include "model.h"
#include "pin.h"
#include "pool.h"
#include "trainer.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define FRESH_PAGES 0     /* untouched buffers come from ASan's allocator (util.h) */
#else
#define FRESH_PAGES 1
#endif

static corpus_t corpus;
static int *tokens;


static long my_tid(void) { return (long)syscall(SYS_gettid); }

static int is_my_thread(long tid) {
    char p[64];
    snprintf(p, sizeof p, "/proc/self/task/%ld", tid);
    return access(p, F_OK) == 0;
}

typedef struct { const char *lo, *hi; } range;

static int range_cmp(const void *a, const void *b) {
    const range *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

static size_t overlap(const char *a0, const char *a1, const char *b0, const char *b1) {
    const char *lo = a0 > b0 ? a0 : b0, *hi = a1 < b1 ? a1 : b1;
    return hi > lo ? (size_t)(hi - lo) : 0;
}

/* ---------------------------------------------------------------- first touch */

static void test_first_touch(void) {
    setenv("CLLM_DEBUG_FIRST_TOUCH", "1", 1);
    const size_t pg = mem_page_size();
    int nths[] = { 1, 2, 3, 8 };
    const char *cfgs[] = { "tiny", "bench" };
    for (int ci = 0; ci < 2; ci++) {
        config_t c;
        config_preset(&c, cfgs[ci]);
        c.T = MIN(c.T, 128);
        size_t counts[P_COUNT];
        size_t np = param_counts(&c, counts);
        float *ref = malloc(np * sizeof(float));
        params_init(ref, &c, 1337);
        for (int ni = 0; ni < 4; ni++) {
            int nth = nths[ni];
            train_opts o;
            train_opts_default(&o);
            char err[512];
            memtable_t mt;
            trainer_memtable(&c, nth, 0, RECOMPUTE_NONE, &mt, err, sizeof err);
            size_t before = mem_allocated();
            trainer_t *t = trainer_create(&c, &o, nth, &corpus, err, sizeof err);
            EXPECT(t != NULL, "%s at %d threads: %s", c.name, nth, err);
            if (!t) continue;
            EXPECT(mem_allocated() - before == mt.total, "%s at %d threads: allocated %zu bytes, the memory "
                   "table says %zu", c.name, nth, mem_allocated() - before, mt.total);
            EXPECT(memcmp(trainer_params(t), ref, np * sizeof(float)) == 0,
                   "%s at %d threads: initial parameters differ from params_init's", c.name, nth);
            int zero = 1;
            for (size_t k = 0; k < np; k++) zero &= trainer_adam_m(t)[k] == 0 && trainer_adam_v(t)[k] == 0;
            EXPECT(zero, "%s at %d threads: Adam moments not zero", c.name, nth);

            size_t pad_p = (np * sizeof(float) + 63) / 64 * 64;
            const char *arr[3] = { (const char *)trainer_params(t), (const char *)trainer_adam_m(t),
                                   (const char *)trainer_adam_v(t) };
            range *shared = malloc(sizeof(range) * 3 * nth);
            long tids[8];
            int bad_tid = 0, bad_own = 0, bad_res = 0, bad_ctx = 0;
            for (int i = 0; i < nth; i++) {
                first_touch_t ft;
                trainer_first_touch(t, i, &ft);
                tids[i] = ft.tid;
                if (i == 0 && ft.tid != my_tid()) bad_tid++;      /* worker 0 is the caller */
                if (!is_my_thread(ft.tid)) bad_tid++;
                for (int j = 0; j < i; j++) if (tids[j] == ft.tid) bad_tid++;
                /* its own context and gradients: one page-aligned block, written whole */
                if (ft.r[FT_CTX].hi <= ft.r[FT_CTX].lo || ft.r[FT_GRAD].lo != ft.r[FT_CTX].hi ||
                    (size_t)(ft.r[FT_GRAD].hi - ft.r[FT_GRAD].lo) != pad_p ||
                    (uintptr_t)ft.r[FT_CTX].lo % pg != 0)
                    bad_ctx++;
                /* its slice of each shared array: all but at most one page on pages it wrote first */
                size_t k0, k1;
                trainer_slice(t, i, &k0, &k1);
                for (int a = 0; a < 3; a++) {
                    const char *lo = ft.r[FT_PARAMS + a].lo, *hi = ft.r[FT_PARAMS + a].hi;
                    shared[3 * i + a] = (range){ lo, hi };
                    const char *s0 = arr[a] + k0 * sizeof(float), *s1 = arr[a] + k1 * sizeof(float);
                    size_t len = (size_t)(s1 - s0);
                    if (len - overlap(s0, s1, lo, hi) >= pg) bad_own++;
                    if (len > 2 * pg && hi <= lo) bad_own++;
                }
                for (int r = 0; r < FT_COUNT; r++) {
                    long pages = ft.r[r].pages;
                    if (pages < 0 || ft.r[r].resident_before < 0 || ft.r[r].resident_after != pages) bad_res++;
                    if (FRESH_PAGES && ft.r[r].resident_before != 0) bad_res++;
                }
            }
            EXPECT(bad_tid == 0, "%s at %d threads: the writing threads are not worker 0 = the caller and "
                   "%d distinct threads of this process (%d bad)", c.name, nth, nth, bad_tid);
            EXPECT(bad_ctx == 0, "%s at %d threads: a worker's context/gradient region is not its whole "
                   "block (%d bad)", c.name, nth, bad_ctx);
            EXPECT(bad_own == 0, "%s at %d threads: a worker's slice lies on pages another wrote first "
                   "(%d slices with a page or more elsewhere)", c.name, nth, bad_own);
            EXPECT(bad_res == 0, "%s at %d threads: pages resident before the owner's first write, or not "
                   "after (%d regions)", c.name, nth, bad_res);
            /* the shared pages of all workers tile the block: sorted, each starts where the last ended */
            qsort(shared, (size_t)(3 * nth), sizeof *shared, range_cmp);
            const char *end = arr[0] + (3 * pad_p + pg - 1) / pg * pg;
            int tiles = shared[0].lo == arr[0];
            const char *at = arr[0];
            for (int k = 0; k < 3 * nth; k++) {
                if (shared[k].lo != at || (uintptr_t)shared[k].lo % pg != 0) tiles = 0;
                at = shared[k].hi > at ? shared[k].hi : at;
            }
            EXPECT(tiles && at == end, "%s at %d threads: the workers' shared pages do not tile "
                   "[params, end of adam_v) page by page", c.name, nth);
            printf("first touch: %s, %d thread%s: %zu shared pages over %d workers, each worker's slice "
                   "on its own pages but at most one per array\n", c.name, nth, nth > 1 ? "s" : "",
                   (size_t)(end - arr[0]) / pg, nth);
            free(shared);
            trainer_free(t);
        }
        free(ref);
    }
    unsetenv("CLLM_DEBUG_FIRST_TOUCH");
}

/* ---------------------------------------------------------------- barriers */

static void barriers_job(void *arg, int ith, int nth) {
    pool_t *p = arg;
    pool_barrier(p);
    pool_barrier(p);
    (void)ith; (void)nth;
}

static void test_barrier_count(void) {
    int nths[] = { 1, 2, 3, 8 };
    for (int ni = 0; ni < 4; ni++) {
        char err[256];
        pool_t *p = pool_create(nths[ni], err, sizeof err);
        EXPECT(p != NULL, "pool of %d: %s", nths[ni], err);
        if (!p) continue;
        long s0 = pool_syncs(p);
        for (int r = 0; r < 10; r++) pool_run(p, barriers_job, p);
        EXPECT(pool_syncs(p) - s0 == 30, "pool of %d: 10 jobs of 2 barriers cost %ld barriers, want 30",
               nths[ni], pool_syncs(p) - s0);
        pool_free(p);

        config_t c;
        config_preset(&c, "tiny");
        train_opts o;
        train_opts_default(&o);
        trainer_t *t = trainer_create(&c, &o, nths[ni], &corpus, err, sizeof err);
        EXPECT(t != NULL, "trainer at %d threads: %s", nths[ni], err);
        if (!t) continue;
        long b0 = trainer_syncs(t);
        for (int s = 0; s < 5; s++) trainer_step(t);
        long per = (trainer_syncs(t) - b0) / 5;
        EXPECT(trainer_syncs(t) - b0 == 15, "a training step at %d threads costs %ld barriers "
               "(5 steps: %ld), want 3", nths[ni], per, trainer_syncs(t) - b0);
        if (ni == 3) printf("barriers per training step: %ld at 8 threads\n", per);
        trainer_free(t);
    }
}

/* ---------------------------------------------------------------- binding */

static void test_binding(void) {
    cpu_set_t orig;
    EXPECT(sched_getaffinity(0, sizeof orig, &orig) == 0, "sched_getaffinity");
    int cpus[CPU_SETSIZE], ncpu = 0;
    for (int c = 0; c < CPU_SETSIZE; c++) if (CPU_ISSET(c, &orig)) cpus[ncpu++] = c;
    config_t c;
    config_preset(&c, "tiny");
    char err[512];
    /* worker 0 on the last allowed CPU; with two workers, the last two in reverse */
    for (int nth = 1; nth <= 2 && nth <= ncpu; nth++) {
        int want[2] = { cpus[ncpu - 1], ncpu > 1 ? cpus[ncpu - 2] : cpus[0] };
        train_opts o;
        train_opts_default(&o);
        o.pin_cpus = want;
        trainer_t *t = trainer_create(&c, &o, nth, &corpus, err, sizeof err);
        EXPECT(t != NULL, "pinned trainer at %d threads: %s", nth, err);
        if (!t) continue;
        trainer_step(t);
        trainer_sample_cpus(t);
        for (int i = 0; i < nth; i++) {
            worker_cpu wc;
            trainer_worker_cpu(t, i, &wc);
            char one[16];
            snprintf(one, sizeof one, "%d", want[i]);
            EXPECT(wc.bound == want[i] && wc.cpu_now == want[i] && strcmp(wc.affinity, one) == 0,
                   "%d threads, worker %d: bound %d, sched_getcpu %d, affinity '%s'; want CPU %d", nth, i,
                   wc.bound, wc.cpu_now, wc.affinity, want[i]);
        }
        trainer_free(t);
        cpu_set_t now;
        sched_getaffinity(0, sizeof now, &now);
        EXPECT(CPU_EQUAL(&now, &orig), "%d threads: trainer_free did not restore the caller's affinity mask", nth);
    }
    /* not pinned: nothing bound, the CPU still sampled */
    train_opts o;
    train_opts_default(&o);
    trainer_t *t = trainer_create(&c, &o, 2, &corpus, err, sizeof err);
    if (t) {
        trainer_sample_cpus(t);
        worker_cpu wc;
        trainer_worker_cpu(t, 1, &wc);
        EXPECT(wc.bound == -1 && wc.cpu_now >= 0 && CPU_ISSET(wc.cpu_now, &orig) && wc.affinity[0],
               "unpinned worker 1: bound %d, cpu %d, affinity '%s'", wc.bound, wc.cpu_now, wc.affinity);
        trainer_free(t);
    }
    /* a CPU the kernel refuses (not in the mask): trainer_create fails, naming it */
    int outside = CPU_SETSIZE - 1;     /* no machine this runs on has it */
    int bad[1] = { outside };
    o.pin_cpus = bad;
    t = trainer_create(&c, &o, 1, &corpus, err, sizeof err);
    EXPECT(!t && strstr(err, "worker 0") && strstr(err, "bind"), "binding to CPU %d outside the mask: %s",
           outside, t ? "accepted" : err);
    trainer_free(t);
    cpu_set_t now;
    sched_getaffinity(0, sizeof now, &now);
    EXPECT(CPU_EQUAL(&now, &orig), "a failed bind left the caller's affinity mask changed");
}

int main(void) {
    blas_single_thread();
    tokens = test_corpus(&corpus, 128);
    test_first_touch();
    test_barrier_count();
    test_binding();
    free(tokens);
    return check_finish("test_placement");
}
