/*
 * comm_single.c - comm.h for one rank and no MPI: the lock-free and locked
 * builds link this file instead of comm_mpi.c, so they neither include
 * mpi.h nor link libmpi. Every collective over one rank is a copy or
 * nothing.
 */
#include "comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct comm { int unused; };

static comm_t one;

comm_t *comm_init(int *argc, char ***argv, char *err, size_t errlen) {
    (void)argc; (void)argv; (void)err; (void)errlen;
    return &one;
}

void comm_finalize(comm_t *c) { (void)c; }

_Noreturn void comm_abort(comm_t *c, int code) {
    (void)c;
    fflush(stdout);
    exit(code);
}

int comm_rank(const comm_t *c) { (void)c; return 0; }
int comm_size(const comm_t *c) { (void)c; return 1; }
const char *comm_library(const comm_t *c) { (void)c; return NULL; }
const char *comm_thread_level(const comm_t *c) { (void)c; return NULL; }

void comm_exchange(comm_t *c, const float *send, const size_t *off, const size_t *cnt, float *recv) {
    (void)c;
    memcpy(recv, send + off[0], cnt[0] * sizeof(float));
}

void comm_allgather(comm_t *c, float *buf, const size_t *off, const size_t *cnt) {
    (void)c; (void)buf; (void)off; (void)cnt;
}

void comm_allgather_f64(comm_t *c, const double *mine, double *all, int n) {
    (void)c;
    memcpy(all, mine, (size_t)n * sizeof(double));
}

void comm_gather(comm_t *c, const float *mine, float *all, const size_t *off, const size_t *cnt) {
    (void)c;
    memcpy(all + off[0], mine, cnt[0] * sizeof(float));
}

int comm_max_int(comm_t *c, int v) { (void)c; return v; }

void comm_bcast(comm_t *c, void *buf, size_t n) { (void)c; (void)buf; (void)n; }

/* one rank: nothing is ever posted */
int comm_reserve(comm_t *c, int q, int n) { (void)c; (void)q; (void)n; return 0; }
void comm_post_send(comm_t *c, int q, const float *buf, size_t n, int peer) { (void)c; (void)q; (void)buf; (void)n; (void)peer; }
void comm_post_recv(comm_t *c, int q, float *buf, size_t n, int peer) { (void)c; (void)q; (void)buf; (void)n; (void)peer; }
int comm_posted(const comm_t *c, int q) { (void)c; (void)q; return 0; }
int comm_progress(comm_t *c, int q) { (void)c; (void)q; return 1; }
int comm_test_upto(comm_t *c, int q, int n) { (void)c; (void)q; (void)n; return 1; }
void comm_wait_upto(comm_t *c, int q, int n) { (void)c; (void)q; (void)n; }
void comm_wait_all(comm_t *c, int q) { (void)c; (void)q; }
