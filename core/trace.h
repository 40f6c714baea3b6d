/*
 * trace.h - the timeline of a training run: every phase of every worker in
 * every step, read from the phase clocks (trainer.c's phase_end, the same
 * CLOCK_MONOTONIC readings the report's phase totals add up), kept in
 * buffers allocated here, before the first step, and written at the end as
 * a Chrome Trace Event file (the `traceEvents` JSON that ui.perfetto.dev and
 * chrome://tracing open as is).
 *
 * Two uses of the same readings:
 *  - stragglers (always, when the phase clocks run): at each barrier of a
 *    step, each worker's arrival time; after the step the arrival spread
 *    (latest minus median arrival) and the worker that arrived last, per
 *    barrier and step, into the report ("stragglers", core/REPORT.md);
 *  - events (train_model --trace FILE): one complete event per phase per
 *    worker per step inside the window of steps asked for.
 *
 * Each step is tiled: a worker's phase events cover [step begin, step end]
 * of trainer_step without gaps, so they add up to the step's time. Inside
 * its forward and backward events, per-layer events (category "layer")
 * tile the phase in turn: forward = embeddings, layer 0 .. L-1, head (final
 * LayerNorm, classifier, loss, the classifier's fused backward); backward =
 * head (final LayerNorm's backward), layer L-1 .. 0, embeddings. Their
 * boundaries are clock readings taken between the model's parts
 * (trace_mark, from model_forward_hook / model_backward_hook), the first
 * and last are the phase's own, so they nest inside it exactly (Perfetto
 * shows them one level below; the file writes the phase before them). Two of them
 * exist only in the trace: `job_start` (from trainer_step's start until the
 * worker reads its first clock: waking it) and the wait at the job's end
 * barrier (`barrier_wait` with barrier = the last index: from its
 * optimizer's end until every worker arrived, as worker 0 sees it when
 * pool_run returns); the report's phase totals do not count them. Worker
 * 0's MPI calls (phase `comm`) go to a track of their own per rank, and
 * with --overlap on the time its messages were in flight (trainer.h's
 * XCLK_INFLIGHT_*) to another, "MPI in flight": the part of it that lies
 * beside no `comm` event is the hidden exchange.
 *
 * Threads: trace_phase is called by the worker that owns the lane, between
 * trace_step_begin and trace_step_end, which the calling thread of
 * trainer_step runs before and after pool_run (whose barriers order them);
 * trace_mark too, by the same worker, inside its forward and backward.
 * Nothing here allocates after trace_create.
 */
#ifndef CLLM_TRACE_H
#define CLLM_TRACE_H

#include <stddef.h>

#include "comm.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRACE_BARRIERS 8         /* barriers a step records arrivals for (3 one rank, 6 MPI) */
#define TRACE_EV_PER_STEP 24     /* phase events a lane holds per step (one rank: 8; MPI: 15, and
                                    the in-flight track's), plus 5 per part of the model (L + 2):
                                    its forward and backward layer events, and under --overlap on
                                    worker 0's forward split at a wait for parameters (one more
                                    forward phase, its comm, one more layer part) */
#define TRACE_MAX_BYTES 100000000.0   /* a trace that would pass this is refused */
#define TRACE_INSTANTS 16

typedef struct {
    double t0, t1;               /* CLOCK_MONOTONIC seconds */
    int step;                    /* absolute step index (0-based) */
    short ph;                    /* PH_* (trainer.h), or TRACE_PH_* below */
    short idx;                   /* PH_BARRIER: its index in the step; a layer event: its
                                    layer (-1 embeddings, L head); else -1 */
    int cpu;                     /* sched_getcpu() at the step's first phase */
} trace_event;

#define TRACE_PH_JOB_START 100
#define TRACE_PH_FWD_LAYER 101   /* a part of forward (idx: which) */
#define TRACE_PH_BWD_LAYER 102   /* a part of backward */
#define TRACE_PH_MPI_INFLIGHT 103   /* trace_mpi_inflight: the MPI in-flight track */

/* one worker's buffers, written by that worker only; padded */
typedef struct {
    _Alignas(64) trace_event *ev;
    long n, cap, dropped;
    int on;                      /* this step is inside the window */
    int step, cpu;
    int nb;                      /* barriers crossed this step */
    double arrive[TRACE_BARRIERS];
    double first_t, last_t;      /* this step's first clock reading and last phase end */
    double *mark;                /* the phase in flight: clock readings between its parts */
    int *mark_id;                /* the part each reading ends (trace_mark's layer) */
    int nmark, mark_cap, layers;
    long js;                     /* this step's job_start event (-1: none) */
    int fwd_next;                /* the forward part running when a forward phase ends: its
                                    next piece (--overlap on splits worker 0's forward at a
                                    wait for parameters) starts in it */
    long slow_ms;                /* test hook CLLM_TEST_SLOW_WORKER */
} trace_lane;

typedef struct trace trace_t;

/* Create for nth workers of this rank running a model of `layers` layers
 * (comm: the job's ranks, NULL for one process) and `steps` steps numbered first .. first + steps - 1 (absolute,
 * 0-based); record events for steps [lo, hi] of those when `events` is
 * set (lo > hi: none). Collective under MPI (it measures each rank's clock
 * offset to rank 0). NULL with err when memory is short.
 *
 * Test hook: CLLM_TEST_SLOW_WORKER=I:MS makes local worker I sleep MS ms
 * after its forward phase in every step (the sleep counts in its backward
 * phase): a deliberate straggler. */
trace_t *trace_create(int nth, int layers, comm_t *comm, long first, long steps, int events, long lo,
                      long hi, char *err, size_t errlen);
void trace_free(trace_t *tr);    /* tolerates NULL */
trace_lane *trace_lane_of(trace_t *tr, int ith);
int trace_threads(const trace_t *tr);

/* The trace file's size estimate in bytes for `steps` recorded steps of
 * `workers` workers over `ranks` ranks of a `layers`-layer model (its
 * per-layer events included), which --trace refuses past TRACE_MAX_BYTES. */
double trace_estimate_bytes(long steps, int workers, int ranks, int layers);

/* worker side (trainer.c phase_end): phase ph ran from t0 to t1; with
 * marks taken since the last phase (forward, backward), also the parts
 * between them */
void trace_phase(trace_lane *l, int ph, double t0, double t1);
/* worker 0 (trainer.c): messages in flight from t0 to t1, on the rank's
 * in-flight track; the lane's phases and barriers are not touched */
void trace_mpi_inflight(trace_lane *l, double t0, double t1);
/* worker side, inside forward or backward (the model's hooks): the part
 * `layer` (model.h's numbering: -1 embeddings, L the head) ends now. Reads
 * the clock only in a step whose events are recorded; l NULL: nothing. */
void trace_mark(trace_lane *l, int layer);
/* trainer_step: before pool_run (step = steps done), right after it (the
 * time pool_run returned: every worker had reached the job's end), and at
 * the step's end (after the MPI allgather; t_pool with one rank) */
void trace_step_begin(trace_t *tr, long step, double t_begin);
void trace_job_end(trace_t *tr, double t_pool);
void trace_step_end(trace_t *tr, double t_end);
/* train_model: the step's loss and tokens/s (counter tracks), and an
 * instant event (checkpoint, validation) from t0 to t1 */
void trace_step_stats(trace_t *tr, long step, double loss, double tokens_per_s);
void trace_instant(trace_t *tr, const char *name, double t0, double t1);

/* The report's "stragglers" object (core/REPORT.md); json_writer is a
 * jw (jsonw.h). */
void trace_report_json(const trace_t *tr, void *json_writer);

/* Write the trace file atomically (collective under MPI: rank 0 gathers
 * every rank's events and writes one file). bound: each local worker's
 * bound CPU or -1, for the track names (NULL: none bound); command: the
 * command line, into otherData. Events the buffers could not hold are
 * counted in otherData.dropped_events. Allocates (after the steps). 0, or
 * -1 with err (rank 0). */
int trace_write(trace_t *tr, const char *path, const int *bound, const char *command,
                char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
