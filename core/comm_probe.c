/*
 * comm_probe.c - the MPI variant's gradient exchange without the training:
 * the same bytes in the same calls as a step of train_model (ranks.h), so
 * that a link can be measured with MPI as the trainer uses it, independently
 * of a training run (scripts/cluster probe --mpi; the 2-node model's input,
 * scripts/cllm_analysis/nodes.py).
 *
 *   mpirun -np R build/mpi/comm_probe [--config seed] [--threads 1]
 *          [--pattern off|on] [--iters 8] [--warmup 2] [--gap-ms 0] [--poll-us 0]
 *
 * One iteration is one step's communication, back to back:
 *   off  ranks_exchange (MPI_Alltoallv of the gradient ranges), the
 *        per-step statistics (MPI_Allgather of 2 doubles per worker), then
 *        ranks_allgather (MPI_Allgatherv of the updated ranges): what
 *        train_model --overlap off calls between its compute phases;
 *   on   the L + 1 gradient buckets posted with ranks_bucket_post in
 *        backward's order and waited for, the statistics, then the
 *        parameter all-gather posted bucket by bucket with
 *        ranks_params_post (sends, then receives in forward order) and
 *        waited for: the messages of --overlap on, progressed continuously.
 * Each iteration starts at a barrier after --gap-ms of sleep (the link idle,
 * as during a step's compute). --poll-us N (pattern on): the waits test the
 * messages every N us and sleep between, instead of MPI_Waitall's spin, so
 * that the ranks' CPU time is what the messages cost them (the kernel's TCP
 * in their system calls and the library's work), not the spin: the CPU the
 * exchange takes from compute when it runs beside it. The buffers are the trainer's sizes (the
 * config's parameters, memtable_rank_range's ranges for R ranks x T
 * threads), filled with a pattern; nothing is summed.
 *
 * Rank 0 prints one JSON object: the calls per iteration (off: 3 collectives;
 * on: this rank's non-blocking messages + the statistics' collective),
 * per iteration wall times (ms) of the whole
 * and of each part (off: exchange, stats, all-gather; on: gradients, stats,
 * parameters), bytes each rank sends per iteration (ranks_bytes), each
 * rank's user and system CPU seconds over the timed iterations
 * (getrusage), and this node's /proc/stat deltas over them (rank 0's node;
 * jiffies in seconds: user, nice, system, idle, iowait, irq, softirq,
 * steal; a jiffy is 1/CLK_TCK s, so short iterations round).
 * Exit 2 on bad arguments, 1 when MPI cannot start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "comm.h"
#include "config.h"
#include "memtable.h"
#include "model.h"
#include "ranks.h"
#include "util.h"

#define ITERS_MAX 1000
enum { PART_A, PART_B, PART_C, PARTS };

static void usage(FILE *f) {
    fprintf(f, "usage: mpirun -np R comm_probe [--config NAME] [--threads T] [--pattern off|on]\n"
               "                  [--iters N] [--warmup N] [--gap-ms MS] [--poll-us US]\n");
}

/* /proc/stat's cpu line: user nice system idle iowait irq softirq steal (s) */
static int proc_stat(double v[8]) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    unsigned long long x[8] = { 0 };
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &x[0], &x[1], &x[2], &x[3], &x[4], &x[5],
                   &x[6], &x[7]);
    fclose(f);
    double hz = (double)sysconf(_SC_CLK_TCK);
    for (int i = 0; i < 8; i++) v[i] = (double)x[i] / hz;
    return n == 8 ? 0 : -1;
}

/* --poll-us: wait for queue q by testing every `us` microseconds with a
 * sleep between (the CPU a rank spends on the messages, without the spin of
 * MPI_Waitall); 0: comm_wait_all */
static void wait_q(comm_t *comm, int q, int us) {
    const struct timespec ts = { 0, (long)us * 1000L };
    while (us && !comm_progress(comm, q)) nanosleep(&ts, NULL);
    comm_wait_all(comm, q);
}

static void rusage_s(double *user, double *sys) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6;
    *sys = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

/* v as an int in [lo, hi]; else a message (rank 0) and the job ends, exit 2 */
static int arg_int(comm_t *comm, const char *flag, const char *v, int lo, int hi) {
    char *end;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || x < lo || x > hi) {
        if (comm_rank(comm) == 0)
            fprintf(stderr, "comm_probe: %s %s: an integer from %d to %d\n", flag, v ? v : "(missing)", lo, hi);
        comm_abort(comm, 2);
    }
    return (int)x;
}

int main(int argc, char **argv) {
    char err[256];
    comm_t *comm = comm_init(&argc, &argv, err, sizeof err);
    if (!comm) {
        fprintf(stderr, "comm_probe: %s\n", err);
        return 1;
    }
    const int rank = comm_rank(comm), R = comm_size(comm);
    const char *cname = "seed";
    int nth = 1, on = 0, iters = 8, warm = 2, gap_ms = 0, poll_us = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--config") && v) cname = argv[++i];
        else if (!strcmp(a, "--threads")) nth = arg_int(comm, a, v, 1, 4096), i++;
        else if (!strcmp(a, "--iters")) iters = arg_int(comm, a, v, 1, ITERS_MAX), i++;
        else if (!strcmp(a, "--warmup")) warm = arg_int(comm, a, v, 0, 100), i++;
        else if (!strcmp(a, "--gap-ms")) gap_ms = arg_int(comm, a, v, 0, 60000), i++;
        else if (!strcmp(a, "--poll-us")) poll_us = arg_int(comm, a, v, 0, 100000), i++;
        else if (!strcmp(a, "--pattern") && v && (!strcmp(v, "on") || !strcmp(v, "off"))) on = !strcmp(argv[++i], "on");
        else {
            if (rank == 0) {
                fprintf(stderr, "comm_probe: bad argument %s\n", a);
                usage(stderr);
            }
            comm_abort(comm, 2);
        }
    }
    config_t c;
    if (config_preset(&c, cname) != 0 || config_validate(&c, err, sizeof err) != 0) {
        if (rank == 0) fprintf(stderr, "comm_probe: --config %s: unknown or invalid\n", cname);
        comm_abort(comm, 2);
    }
    if (R < 2) {
        fprintf(stderr, "comm_probe: %d rank: run it with mpirun -np 2 or more (it measures between ranks)\n", R);
        comm_abort(comm, 2);
    }
    size_t pcount[P_COUNT];
    const size_t np = param_counts(&c, pcount);
    size_t *off = xcalloc(2 * (size_t)R, sizeof *off), *cnt = off + R;
    ranks_bucket *bk = xcalloc((size_t)c.L + 1, sizeof *bk);
    CHECK(off && bk, "comm_probe: out of memory");
    for (int r = 0; r < R; r++) memtable_rank_range(np, nth, R, r, &off[r], &cnt[r]);
    float *grad = xcalloc(np, sizeof *grad), *params = xcalloc(np, sizeof *params);
    float *xbuf = xcalloc((size_t)R * cnt[rank], sizeof *xbuf);
    double *st = xcalloc(2 * (size_t)nth, sizeof *st), *st_all = xcalloc(2 * (size_t)nth * R, sizeof *st_all);
    CHECK(grad && params && xbuf && st && st_all, "comm_probe: cannot allocate the buffers of %zu parameters", np);
    for (size_t i = 0; i < np; i++) grad[i] = params[i] = (float)(i % 251) * 0.5f;
    const ranks_t rk = { comm, rank, R, nth, off, cnt, xbuf };
    ranks_buckets(pcount, c.L, bk);
    const int nmsg = ranks_messages(&rk, c.L);
    CHECK(comm_reserve(comm, COMM_Q_GRAD, nmsg) == 0 && comm_reserve(comm, COMM_Q_PARAM, nmsg) == 0 &&
          comm_reserve(comm, COMM_Q_PARAM_SEND, nmsg) == 0, "comm_probe: cannot reserve %d messages", nmsg);
    double sent = 0, recvd = 0;
    ranks_bytes(&rk, &sent, &recvd);

    static double part[ITERS_MAX][PARTS];
    int msgs = 3;                                         /* per iteration: collectives, or messages posted */
    double cpu[2] = { 0, 0 }, pst[8] = { 0 };   /* over the timed iterations: user, sys; /proc/stat */
    int have_stat = 1;
    const struct timespec gap = { gap_ms / 1000, (long)(gap_ms % 1000) * 1000000L };
    for (int it = -warm; it < iters; it++) {
        comm_max_int(comm, 0);                            /* barrier */
        if (gap_ms) nanosleep(&gap, NULL);
        comm_max_int(comm, 0);
        double u0, s0, u1, s1, ps0[8], ps1[8];
        int nmsg_grad = 0;
        rusage_s(&u0, &s0);
        have_stat &= proc_stat(ps0) == 0;
        double t0 = time_wall(), t1, t2;
        if (!on) {
            ranks_exchange(&rk, grad);
            t1 = time_wall();
            comm_allgather_f64(comm, st, st_all, 2 * nth);
            t2 = time_wall();
            ranks_allgather(&rk, params);
        } else {
            for (int b = 0; b <= c.L; b++) ranks_bucket_post(&rk, grad, &bk[b]);
            nmsg_grad = comm_posted(comm, COMM_Q_GRAD);
            wait_q(comm, COMM_Q_GRAD, poll_us);
            t1 = time_wall();
            comm_allgather_f64(comm, st, st_all, 2 * nth);
            t2 = time_wall();
            for (int k = 0; k <= c.L; k++) ranks_params_post(&rk, params, &bk[c.L - k], 1);
            for (int k = 0; k <= c.L; k++) ranks_params_post(&rk, params, &bk[c.L - k], 0);
            msgs = comm_posted(comm, COMM_Q_PARAM) + comm_posted(comm, COMM_Q_PARAM_SEND) + nmsg_grad + 1;
            wait_q(comm, COMM_Q_PARAM, poll_us);
            wait_q(comm, COMM_Q_PARAM_SEND, poll_us);
        }
        double t3 = time_wall();
        rusage_s(&u1, &s1);
        have_stat &= proc_stat(ps1) == 0;
        if (it >= 0) {
            part[it][PART_A] = t1 - t0;
            part[it][PART_B] = t2 - t1;
            part[it][PART_C] = t3 - t2;
            cpu[0] += u1 - u0;
            cpu[1] += s1 - s0;
            for (int i = 0; i < 8; i++) pst[i] += ps1[i] - ps0[i];
        }
    }
    /* every rank's user and system seconds, to rank 0 */
    double mine[2] = { cpu[0], cpu[1] }, *all = xcalloc(2 * (size_t)R, sizeof *all);
    CHECK(all, "comm_probe: out of memory");
    comm_allgather_f64(comm, mine, all, 2);
    if (rank == 0) {
        static const char *names[2][PARTS] = { { "exchange", "stats", "allgather" },
                                               { "gradients", "stats", "params" } };
        printf("{\"tool\": \"comm_probe\", \"library\": \"%s\", \"config\": \"%s\", \"ranks\": %d, "
               "\"threads\": %d, \"pattern\": \"%s\", \"iters\": %d, \"warmup\": %d, \"gap_ms\": %d, \"poll_us\": %d, "
               "\"params\": %zu, \"buckets\": %d, \"%s_per_iter\": %d, \"bytes_sent_per_iter\": %.0f, "
               "\"bytes_received_per_iter\": %.0f, \"iter_ms\": [",
               comm_library(comm), c.name, R, nth, on ? "on" : "off", iters, warm, gap_ms, on ? poll_us : 0, np, c.L + 1,
               on ? "messages" : "collectives", msgs, sent, recvd);
        for (int i = 0; i < iters; i++)
            printf("%s%.4f", i ? ", " : "", 1e3 * (part[i][0] + part[i][1] + part[i][2]));
        printf("], \"parts\": {");
        for (int p = 0; p < PARTS; p++) {
            printf("%s\"%s\": [", p ? ", " : "", names[on][p]);
            for (int i = 0; i < iters; i++) printf("%s%.4f", i ? ", " : "", 1e3 * part[i][p]);
            printf("]");
        }
        printf("}, \"ranks_user_s\": [");
        for (int r = 0; r < R; r++) printf("%s%.4f", r ? ", " : "", all[2 * r]);
        printf("], \"ranks_sys_s\": [");
        for (int r = 0; r < R; r++) printf("%s%.4f", r ? ", " : "", all[2 * r + 1]);
        printf("]");
        if (have_stat) {
            static const char *k[8] = { "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal" };
            printf(", \"node0_stat_s\": {");
            for (int i = 0; i < 8; i++) printf("%s\"%s\": %.2f", i ? ", " : "", k[i], pst[i]);
            printf("}");
        }
        printf("}\n");
        fflush(stdout);
    }
    free(all);
    free(st_all);
    free(st);
    free(xbuf);
    free(params);
    free(grad);
    free(bk);
    free(off);
    comm_finalize(comm);
    return 0;
}
