/*
 * comm_mpi.c - comm.h over Open MPI (built into the MPI variant only:
 * -DCLLM_MPI=1, mk/mpi.mk). Every function is one MPI call, or a few, on
 * MPI_COMM_WORLD; reductions are never left to MPI (comm.h).
 */
#include "comm.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct comm {
    int rank, size, provided;
    int *scnt, *sdsp, *rcnt, *rdsp;   /* MPI's int counts, per rank */
    struct {                          /* comm_post_* on queue q: nreq posted of cap, */
        MPI_Request *req;             /* the first done known complete */
        int nreq, done, cap;
    } q[COMM_QUEUES];
    char library[MPI_MAX_LIBRARY_VERSION_STRING];
};

comm_t *comm_init(int *argc, char ***argv, char *err, size_t errlen) {
    int provided = MPI_THREAD_SINGLE;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        snprintf(err, errlen, "MPI_Init_thread failed");
        return NULL;
    }
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* the levels are ordered: SINGLE < FUNNELED < SERIALIZED < MULTIPLE */
    if (provided < MPI_THREAD_FUNNELED) {
        snprintf(err, errlen, "the MPI library provides thread level %d, less than MPI_THREAD_FUNNELED "
                 "(%d): worker 0 of a threaded process cannot call it", provided, MPI_THREAD_FUNNELED);
        if (size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
        MPI_Finalize();
        return NULL;
    }
    if (size > RANKS_MAX) {
        snprintf(err, errlen, "%d ranks, more than the %d this build supports", size, RANKS_MAX);
        if (rank == 0) fprintf(stderr, "train_model: %s\n", err);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    comm_t *c = xcalloc(1, sizeof *c);
    int *ints = xcalloc(4 * (size_t)size, sizeof(int));
    if (!c || !ints) {
        free(c);
        free(ints);
        snprintf(err, errlen, "cannot allocate the tables of %d ranks", size);
        if (size > 1) MPI_Abort(MPI_COMM_WORLD, 1);
        MPI_Finalize();
        return NULL;
    }
    c->rank = rank;
    c->size = size;
    c->provided = provided;
    c->scnt = ints;
    c->sdsp = ints + size;
    c->rcnt = ints + 2 * size;
    c->rdsp = ints + 3 * size;
    int len = 0;
    MPI_Get_library_version(c->library, &len);
    /* one line: Open MPI's text ends in a newline on some versions */
    for (int i = 0; c->library[i]; i++)
        if (c->library[i] == '\n') c->library[i] = ' ';
    while (len > 0 && (c->library[len - 1] == ' ' || c->library[len - 1] == 0)) c->library[--len] = 0;
    return c;
}

void comm_finalize(comm_t *c) {
    if (!c) return;
    MPI_Finalize();
    free(c->scnt);
    for (int q = 0; q < COMM_QUEUES; q++) free(c->q[q].req);
    free(c);
}

_Noreturn void comm_abort(comm_t *c, int code) {
    fflush(stdout);
    fflush(stderr);
    if (c && c->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    if (c) MPI_Finalize();
    exit(code);
}

int comm_rank(const comm_t *c) { return c ? c->rank : 0; }
int comm_size(const comm_t *c) { return c ? c->size : 1; }
const char *comm_library(const comm_t *c) { return c ? c->library : NULL; }

const char *comm_thread_level(const comm_t *c) {
    if (!c) return NULL;
    switch (c->provided) {
    case MPI_THREAD_FUNNELED: return "funneled";
    case MPI_THREAD_SERIALIZED: return "serialized";
    case MPI_THREAD_MULTIPLE: return "multiple";
    default: return "single";
    }
}

/* counts and offsets as MPI's ints (trainer_create checked they fit) */
static int to_int(size_t v) {
    CHECK(v <= INT_MAX, "MPI count %zu does not fit in an int", v);
    return (int)v;
}

void comm_exchange(comm_t *c, const float *send, const size_t *off, const size_t *cnt, float *recv) {
    int me = c->rank;
    for (int r = 0; r < c->size; r++) {
        c->scnt[r] = to_int(cnt[r]);
        c->sdsp[r] = to_int(off[r]);
        c->rcnt[r] = to_int(cnt[me]);
        c->rdsp[r] = to_int((size_t)r * cnt[me]);
    }
    MPI_Alltoallv(send, c->scnt, c->sdsp, MPI_FLOAT, recv, c->rcnt, c->rdsp, MPI_FLOAT, MPI_COMM_WORLD);
}

void comm_allgather(comm_t *c, float *buf, const size_t *off, const size_t *cnt) {
    for (int r = 0; r < c->size; r++) {
        c->rcnt[r] = to_int(cnt[r]);
        c->rdsp[r] = to_int(off[r]);
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, c->rcnt, c->rdsp, MPI_FLOAT, MPI_COMM_WORLD);
}

void comm_allgather_f64(comm_t *c, const double *mine, double *all, int n) {
    MPI_Allgather(mine, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD);
}

void comm_gather(comm_t *c, const float *mine, float *all, const size_t *off, const size_t *cnt) {
    for (int r = 0; r < c->size; r++) {
        c->rcnt[r] = to_int(cnt[r]);
        c->rdsp[r] = to_int(off[r]);
    }
    MPI_Gatherv(mine, c->rcnt[c->rank], MPI_FLOAT, all, c->rcnt, c->rdsp, MPI_FLOAT, 0, MPI_COMM_WORLD);
}

int comm_max_int(comm_t *c, int v) {
    int out = v;
    MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return out;
}

void comm_bcast(comm_t *c, void *buf, size_t n) {
    MPI_Bcast(buf, to_int(n), MPI_BYTE, 0, MPI_COMM_WORLD);
}

int comm_reserve(comm_t *c, int q, int n) {
    if (n <= c->q[q].cap) return 0;
    MPI_Request *r = xcalloc((size_t)n, sizeof *r);
    if (!r) return -1;
    free(c->q[q].req);
    c->q[q].req = r;
    c->q[q].cap = n;
    c->q[q].nreq = c->q[q].done = 0;
    return 0;
}

/* the tag of queue q: the exchange's (a parameter send matches a parameter
 * receive, never a gradient's) */
static const int queue_tag[COMM_QUEUES] = { 0, 1, 1 };

void comm_post_send(comm_t *c, int q, const float *buf, size_t n, int peer) {
    CHECK(c->q[q].nreq < c->q[q].cap, "comm_post_send: more than the %d messages reserved", c->q[q].cap);
    MPI_Isend(buf, to_int(n), MPI_FLOAT, peer, queue_tag[q], MPI_COMM_WORLD, &c->q[q].req[c->q[q].nreq++]);
}

void comm_post_recv(comm_t *c, int q, float *buf, size_t n, int peer) {
    CHECK(c->q[q].nreq < c->q[q].cap, "comm_post_recv: more than the %d messages reserved", c->q[q].cap);
    MPI_Irecv(buf, to_int(n), MPI_FLOAT, peer, queue_tag[q], MPI_COMM_WORLD, &c->q[q].req[c->q[q].nreq++]);
}

int comm_posted(const comm_t *c, int q) { return c->q[q].nreq; }

int comm_test_upto(comm_t *c, int q, int n) {
    int done = 1, d = c->q[q].done;
    CHECK(n <= c->q[q].nreq, "comm_test_upto: %d of %d posted", n, c->q[q].nreq);
    if (n > d) MPI_Testall(n - d, c->q[q].req + d, &done, MPI_STATUSES_IGNORE);
    if (done && n > d) c->q[q].done = n;
    return done;
}

int comm_progress(comm_t *c, int q) { return comm_test_upto(c, q, c->q[q].nreq); }

void comm_wait_upto(comm_t *c, int q, int n) {
    int d = c->q[q].done;
    CHECK(n <= c->q[q].nreq, "comm_wait_upto: %d of %d posted", n, c->q[q].nreq);
    if (n > d) MPI_Waitall(n - d, c->q[q].req + d, MPI_STATUSES_IGNORE);
    if (n > d) c->q[q].done = n;
}

void comm_wait_all(comm_t *c, int q) {
    comm_wait_upto(c, q, c->q[q].nreq);
    c->q[q].nreq = c->q[q].done = 0;
}
