/*
 * test_blas_limit.c - the number of workers that may call the BLAS's sgemm at
 * once (blas_threads_max, core/blas.c) against what the library really holds.
 *
 * OpenBLAS: every running sgemm takes one buffer of its table
 * (driver/others/memory.c's blas_memory_alloc / blas_memory_free, exported
 * symbols). In child processes (the table is left full, or broken) the
 * test takes buffers the way that many concurrent calls would, one after
 * another without giving any back, and checks:
 *   - how many it gets before the library says no (NULL, after "Program is
 *     Terminated" on stdout), plus those OpenBLAS's own server threads hold
 *     (blas_num_threads - 1; none in a child where its fork handler stopped
 *     them): max(50, 2 x MAX_THREADS) + 512;
 *   - the give-back of an auxiliary buffer: with the table and 128
 *     auxiliary slots taken, one auxiliary buffer given back, a working
 *     library then gives 385 more, one before 0.3.25 only 384 (it cleared
 *     the flag of slot index + NUM_BUFFERS instead: the slot is lost, and a
 *     slot in use would be handed out twice); core/blas.c counts the
 *     auxiliary slots exactly when they work;
 *   - blas_threads_max() is the usable slots: the table, plus the auxiliary
 *     ones where they work, less one for each server thread;
 *   - in the parent, THREADS sgemm calls at once give the right product with
 *     the rest of the usable table held.
 * BLIS: no limit of its own (0), so train_model's 1024 applies; sgemm from
 * many threads at once gives the right answer.
 */
#include <cblas.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "util.h"

enum { M = 48, N = 40, K = 56, THREADS = 16, MAX_TAKE = 1 << 14 };

typedef struct {
    pthread_barrier_t *go;
    int ok;
} job;

/* one sgemm against a naive product; exact: small integers only */
static void *gemm_worker(void *arg) {
    job *j = arg;
    static const int mod = 7;
    float a[M * K], b[K * N], c[M * N];
    for (int i = 0; i < M * K; i++) a[i] = (float)(i % mod) - 3;
    for (int i = 0; i < K * N; i++) b[i] = (float)(i % (mod + 2)) - 4;
    pthread_barrier_wait(j->go);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    j->ok = 1;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float s = 0;
            for (int k = 0; k < K; k++) s += a[m * K + k] * b[k * N + n];
            if (s != c[m * N + n]) j->ok = 0;
        }
    return NULL;
}

/* THREADS sgemm calls released together; how many gave the right product */
static int concurrent_gemms(void) {
    pthread_t th[THREADS];
    job jobs[THREADS];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){ &go, 0 };
        CHECK(pthread_create(&th[i], NULL, gemm_worker, &jobs[i]) == 0, "pthread_create");
    }
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ok += jobs[i].ok;
    }
    pthread_barrier_destroy(&go);
    return ok;
}

/* MAX_THREADS=N from the configuration string, 0 when absent */
static int config_max_threads(const char *cfg) {
    const char *p = cfg ? strstr(cfg, "MAX_THREADS=") : NULL;
    return p ? atoi(p + strlen("MAX_THREADS=")) : 0;
}

typedef void *(*alloc_fn)(int);
typedef void (*free_fn)(void *);
static alloc_fn balloc;
static free_fn bfree;
static int *avail, servers;

/* In a child process (OpenBLAS's table is left full, or broken): mode 0
 * takes buffers until OpenBLAS refuses and returns how many; mode 1 takes
 * the main table and 128 auxiliary buffers, gives back the first auxiliary
 * one and returns how many more it then gets. *held: the buffers the server
 * threads hold in the child (none where OpenBLAS's fork handler stopped
 * them). -1 when the child failed. */
static int probe(int mode, int table, int *held) {
    int fd[2];
    CHECK(pipe(fd) == 0, "pipe");
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        static void *taken[MAX_TAKE];
        int devnull = open("/dev/null", O_WRONLY), h = *avail ? servers : 0, got = 0;
        dup2(devnull, 1);   /* OpenBLAS's refusal text */
        if (mode == 0) {
            while (got < MAX_TAKE && (taken[got] = balloc(0)) != NULL) got++;
        } else {
            int first_aux = table - h, n = first_aux + 128;
            for (int i = 0; i < n; i++)
                if (!(taken[i] = balloc(0))) _exit(1);
            bfree(taken[first_aux]);
            while (got < MAX_TAKE && balloc(0) != NULL) got++;
        }
        int msg[2] = { got, h };
        if (write(fd[1], msg, sizeof msg) != (ssize_t)sizeof msg) _exit(1);
        _exit(0);
    }
    close(fd[1]);
    int msg[2] = { -1, -1 };
    ssize_t rd = read(fd[0], msg, sizeof msg);
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    int ok = rd == (ssize_t)sizeof msg && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    EXPECT(ok, "the probe child (mode %d) failed (status %d)", mode, st);
    *held = msg[1];
    return ok ? msg[0] : -1;
}

int main(void) {
    blas_single_thread();
    int limit = blas_threads_max();
    printf("BLAS: %s\nblas_threads_max() = %d (%s)\n", build_blas(), limit, blas_limit_why());

    typedef char *(*config_fn)(void);
    balloc = (alloc_fn)dlsym(RTLD_DEFAULT, "blas_memory_alloc");
    bfree = (free_fn)dlsym(RTLD_DEFAULT, "blas_memory_free");
    config_fn bconfig = (config_fn)dlsym(RTLD_DEFAULT, "openblas_get_config");
    int *nthreads = (int *)dlsym(RTLD_DEFAULT, "blas_num_threads");
    avail = (int *)dlsym(RTLD_DEFAULT, "blas_server_avail");

    if (!bconfig) {
        /* not OpenBLAS */
        EXPECT(limit == 0, "a BLAS other than OpenBLAS reports a limit of %d", limit);
        int ok = concurrent_gemms();
        printf("%d of %d concurrent sgemm calls right\n", ok, THREADS);
        EXPECT(ok == THREADS, "%d of %d concurrent sgemm calls gave a wrong product", THREADS - ok, THREADS);
        SKIP("the buffer table: %s is not OpenBLAS and has none", build_blas());
        return check_finish("test_blas_limit");
    }

    int maxt = config_max_threads(bconfig());
    if (!balloc || !bfree || !nthreads || !avail || maxt <= 0) {
        SKIP("the buffer table: this OpenBLAS (%s) exports no blas_memory_alloc / blas_num_threads / blas_server_avail "
             "or names no MAX_THREADS", bconfig());
        EXPECT(concurrent_gemms() == THREADS, "concurrent sgemm calls gave a wrong product");
        return check_finish("test_blas_limit");
    }
    /* the server threads start at load; one round of sgemm first, so that
     * any lazy start has happened before the count */
    EXPECT(concurrent_gemms() == THREADS, "concurrent sgemm calls gave a wrong product");
    servers = *nthreads > 1 && *avail ? *nthreads - 1 : 0;
    int table = 2 * maxt > 50 ? 2 * maxt : 50;

    /* probe 1, in a child: buffers taken before the refusal */
    int held = -1, got = probe(0, table, &held);
    printf("MAX_THREADS=%d, server threads holding a buffer: %d (in a child: %d); buffers taken "
           "before the refusal: %d; table %d + 512 auxiliary\n", maxt, servers, held, got, table);
    EXPECT(got > 0 && got < MAX_TAKE, "OpenBLAS gave %d buffers", got);
    EXPECT(got + held == table + 512, "buffers taken %d + held by server threads %d = %d, not "
           "max(50, 2 x %d) + 512 = %d", got, held, got + held, maxt, table + 512);
    /* probe 2: the main table and the first 128 auxiliary slots taken, the
     * first auxiliary one given back, then buffers until the refusal: 385
     * where the slot comes back, 384 where it is lost (the pre-0.3.25 bug
     * clears the flag of slot 128, free anyway) */
    int after = probe(1, table, &held);
    int aux_ok = after == 385;
    printf("after giving back the first auxiliary buffer: %d more (%s)\n", after,
           aux_ok ? "the slot came back" : after == 384 ? "the slot was lost: the pre-0.3.25 bug" : "?");
    EXPECT(after == 384 || after == 385, "%d buffers after one given back, neither 384 nor 385", after);
    EXPECT(aux_ok == (strstr(blas_limit_why(), "+ 512 auxiliary") != NULL),
           "core/blas.c %s the auxiliary slots, the library's give-back %s",
           strstr(blas_limit_why(), "+ 512 auxiliary") ? "counts" : "does not count", aux_ok ? "works" : "is broken");
    int usable = table + (aux_ok ? 512 : 0) - servers;
    printf("usable at once: %d; blas_threads_max() = %d\n", usable, limit);
    EXPECT(limit > 0 && limit <= usable, "blas_threads_max() %d is not within the %d buffers this "
           "OpenBLAS can really give at once", limit, usable);
    EXPECT(usable == limit, "blas_threads_max() %d is not the %d buffers usable at once", limit, usable);

    /* the parent's table is intact: hold all of the usable table but THREADS
     * slots (never the auxiliary ones: their give-back is what is broken),
     * then THREADS calls at once */
    int hold = table - servers - THREADS;
    if (hold > 0) {
        static void *kept[MAX_TAKE];
        for (int i = 0; i < hold; i++) kept[i] = balloc(0);
        int ok = concurrent_gemms();
        printf("%d of %d concurrent sgemm calls right with %d of the table's %d buffers held\n", ok,
               THREADS, hold + servers, table);
        EXPECT(ok == THREADS, "%d of %d concurrent sgemm calls wrong on a nearly full table",
               THREADS - ok, THREADS);
        for (int i = 0; i < hold; i++) bfree(kept[i]);
    }
    return check_finish("test_blas_limit");
}
