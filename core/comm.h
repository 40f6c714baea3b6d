/*
 * comm.h - the ranks of a job and the few collective operations the
 * training step needs across them. Two implementations of one contract:
 *
 *   core/comm_mpi.c     Open MPI, built only into the MPI variant
 *                       (-DCLLM_MPI=1, build/mpi/train_model)
 *   core/comm_single.c  one rank and no MPI (the lock-free and locked
 *                       builds, which neither include mpi.h nor link libmpi)
 *
 * Threading: MPI is initialised at MPI_THREAD_FUNNELED, and only the thread
 * that called comm_init (worker 0 of the pool) may call the functions below.
 * Every collective is blocking and must be called by every rank in the same
 * order. Counts and offsets are in elements; each must fit in an int (MPI's
 * count type): trainer_create refuses configs that do not.
 *
 * The sums of the training step are done by the caller, in rank order, on
 * what these functions deliver: no reduction of floating-point data is left
 * to the MPI library, whose algorithm (and so its order of additions) may
 * change with the message size, the transport or the version.
 *
 * Failure: every MPI error aborts the whole job (MPI_ERRORS_ARE_FATAL, the
 * default), and comm_abort ends every rank; a rank that dies is noticed by
 * mpirun, which ends the others.
 */
#ifndef CLLM_COMM_H
#define CLLM_COMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RANKS_MAX 1024

typedef struct comm comm_t;

/* Start: MPI_Init_thread asking for MPI_THREAD_FUNNELED (the MPI build), or
 * a one-rank comm. NULL with err when MPI cannot start, provides less than
 * FUNNELED, or runs more than RANKS_MAX ranks. */
comm_t *comm_init(int *argc, char ***argv, char *err, size_t errlen);
/* MPI_Finalize (every rank calls it at a normal end); tolerates NULL. */
void comm_finalize(comm_t *c);
/* End the whole job with exit code `code`: MPI_Abort over every rank when
 * there are several, else finalize and exit. */
_Noreturn void comm_abort(comm_t *c, int code);

int comm_rank(const comm_t *c);              /* 0 for NULL */
int comm_size(const comm_t *c);              /* 1 for NULL */
/* MPI_Get_library_version's text, or NULL in a build without MPI */
const char *comm_library(const comm_t *c);
/* the thread level MPI provides ("funneled", "serialized", "multiple"), or NULL */
const char *comm_thread_level(const comm_t *c);

/* Alltoall of slices: to each rank d goes send[off[d], off[d] + cnt[d]);
 * from each rank r, its cnt[me] elements land at recv + r * cnt[me] (this
 * rank's own slice included), rank-major. off/cnt have comm_size entries
 * and are the same on every rank. */
void comm_exchange(comm_t *c, const float *send, const size_t *off, const size_t *cnt, float *recv);
/* Allgather in place: after it, buf[off[r], off[r] + cnt[r]) on every rank
 * holds rank r's. */
void comm_allgather(comm_t *c, float *buf, const size_t *off, const size_t *cnt);
/* Allgather of n doubles per rank: all[r * n + i] = rank r's mine[i]. */
void comm_allgather_f64(comm_t *c, const double *mine, double *all, int n);
/* Gather to rank 0: rank r's cnt[r] elements land at all + off[r] there
 * (all is read on rank 0 only; NULL elsewhere). */
void comm_gather(comm_t *c, const float *mine, float *all, const size_t *off, const size_t *cnt);
/* The largest v over the ranks (agreement on a flag: stop, failure). */
int comm_max_int(comm_t *c, int v);
/* rank 0's n bytes into buf on every rank */
void comm_bcast(comm_t *c, void *buf, size_t n);

/* Non-blocking messages for the overlapped exchange (--overlap on): worker 0
 * posts sends and receives of n floats to or from rank peer on one of three
 * queues: COMM_Q_GRAD, the gradient buckets posted as backward makes them
 * ready; COMM_Q_PARAM, the parameter all-gather's receives, waited for
 * bucket by bucket in the next forward; COMM_Q_PARAM_SEND, its sends. A
 * message's tag is its exchange's (the gradients', the parameters'), and
 * both sides post an exchange's messages in the same order, so MPI's
 * non-overtaking rule matches them. comm_reserve sizes a queue
 * once, when the trainer is created (0, or -1 when it cannot allocate);
 * posting past it is a CHECK failure. comm_posted is the number of messages
 * posted on q since it was last emptied (a mark for comm_wait_upto);
 * comm_progress tests every posted message not yet known complete (MPI
 * progresses only inside its calls) and returns 1 when all are done;
 * comm_test_upto / comm_wait_upto test / wait for the first n; comm_wait_all
 * waits for them all and empties the queue. */
enum { COMM_Q_GRAD = 0, COMM_Q_PARAM = 1, COMM_Q_PARAM_SEND = 2, COMM_QUEUES = 3 };
int comm_reserve(comm_t *c, int q, int n);
void comm_post_send(comm_t *c, int q, const float *buf, size_t n, int peer);
void comm_post_recv(comm_t *c, int q, float *buf, size_t n, int peer);
int comm_posted(const comm_t *c, int q);
int comm_progress(comm_t *c, int q);
int comm_test_upto(comm_t *c, int q, int n);
void comm_wait_upto(comm_t *c, int q, int n);
void comm_wait_all(comm_t *c, int q);

#ifdef __cplusplus
}
#endif

#endif
