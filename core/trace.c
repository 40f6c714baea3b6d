/*
 * trace.c - per-step timelines of the workers: straggler statistics for the
 * report and the Chrome Trace Event file of --trace (see trace.h).
 */
#include "trace.h"

#include <hwloc.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "afile.h"
#include "jsonw.h"
#include "trainer.h"
#include "util.h"

struct trace {
    int nth, rank, nranks;
    int layers;                  /* the model's L (the per-layer events' names) */
    comm_t *comm;
    long first, steps;           /* the run's steps: first .. first + steps - 1 */
    int events;                  /* record events (--trace) */
    long lo, hi;                 /* their window, absolute steps */
    trace_lane *lane;            /* nth, padded */
    trace_event *evmem;
    double *markmem;             /* nth x mark_cap: the lanes' marks */
    int *markid;
    double origin;               /* rank 0's clock at creation */
    double offset;               /* this rank's clock minus rank 0's (measured at creation) */
    double offset_err;           /* the measurement's bound: one broadcast's latency */
    long cur;                    /* the step in flight */
    double t_begin;
    /* per recorded step (index step - lo): begin, end; loss, tokens/s */
    double *st_begin, *st_end, *st_loss, *st_tps;
    /* stragglers, per run step (index step - first) and barrier */
    float *spread_ms;            /* [steps][TRACE_BARRIERS], NaN: none */
    short *last;                 /* [steps][TRACE_BARRIERS], -1: none */
    int nbar;                    /* barriers per step seen (job end included) */
    long stat_steps;             /* steps with statistics */
    double *scratch, *arrivals;  /* nth each: a barrier's arrivals, sorted for the median */
    struct { const char *name; double t0, t1; } inst[TRACE_INSTANTS];
    int ninst;
};

static long slow_hook(int ith) {
    const char *s = getenv("CLLM_TEST_SLOW_WORKER");
    long i, ms;
    if (s && *s && sscanf(s, "%ld:%ld", &i, &ms) == 2 && i == ith && ms > 0) return ms;
    return 0;
}

/* per step and lane: phase events, then 5 (L + 2) for the layers' (trace.h) */
static long ev_per_step(int layers) { return TRACE_EV_PER_STEP + 5 * ((long)layers + 2); }

double trace_estimate_bytes(long steps, int workers, int ranks, int layers) {
    /* an event is 134-146 bytes of JSON in a short run (phase and layer
     * events alike), up to about 10 more when its step number and
     * timestamps are long: 150; per step and worker 8 phase events with one
     * rank, 15 with several (trace.h), and 2 (L + 2) layer events; per step
     * 3 more lines */
    double per_worker = (ranks > 1 ? 15 : 8) + 2.0 * ((double)layers + 2);
    return (double)steps * ((double)workers * per_worker * 150.0 + 400.0) + 65536.0;
}

/* rank r's clock minus rank 0's: rank 0 broadcasts its clock reading, every
 * rank subtracts it from its own at arrival; the smallest of 16 rounds
 * (the one the broadcast delayed least) is kept. With one rank, 0. */
static void measure_offset(trace_t *tr) {
    double origin = time_wall();
    if (tr->nranks == 1) { tr->origin = origin; return; }
    double best = INFINITY;
    for (int k = 0; k < 16; k++) {
        (void)comm_max_int(tr->comm, 0);          /* all start the round together */
        double t0 = time_wall();
        comm_bcast(tr->comm, &t0, sizeof t0);
        double d = time_wall() - t0;
        if (d < best) best = d;
    }
    comm_bcast(tr->comm, &origin, sizeof origin);
    tr->origin = origin;
    tr->offset = tr->rank == 0 ? 0.0 : best;
    /* the bound: rank 0's own round trip through the broadcast is not
     * measured; the offset carries the one-way latency of the fastest round */
    tr->offset_err = best;
}

trace_t *trace_create(int nth, int layers, comm_t *comm, long first, long steps, int events, long lo,
                      long hi, char *err, size_t errlen) {
    trace_t *tr = xcalloc(1, sizeof *tr);
    if (!tr) { snprintf(err, errlen, "cannot allocate %zu bytes for the trace", sizeof *tr); return NULL; }
    tr->nth = nth;
    tr->layers = layers;
    tr->comm = comm;
    tr->rank = comm_rank(comm);
    tr->nranks = comm_size(comm);
    tr->first = first;
    tr->steps = steps;
    tr->events = events && lo <= hi;
    tr->lo = lo;
    tr->hi = hi;
    tr->cur = -1;
    long rec = tr->events ? hi - lo + 1 : 0, per = ev_per_step(layers);
    int mcap = layers + 2;      /* marks per phase: L + 1 */
    tr->lane = mem_alloc(sizeof(trace_lane) * (size_t)nth);
    tr->spread_ms = xmalloc(sizeof(float) * (size_t)steps * TRACE_BARRIERS);
    tr->last = xmalloc(sizeof(short) * (size_t)steps * TRACE_BARRIERS);
    tr->scratch = xmalloc(sizeof(double) * 2 * (size_t)nth);
    if (tr->scratch) tr->arrivals = tr->scratch + nth;
    if (rec > 0) {
        tr->evmem = mem_alloc(sizeof(trace_event) * (size_t)rec * (size_t)per * (size_t)nth);
        tr->st_begin = xcalloc((size_t)rec * 4, sizeof(double));
        tr->markmem = xmalloc(sizeof(double) * (size_t)mcap * (size_t)nth);
        tr->markid = xmalloc(sizeof(int) * (size_t)mcap * (size_t)nth);
    }
    if (!tr->lane || !tr->spread_ms || !tr->last || !tr->scratch ||
        (rec > 0 && (!tr->evmem || !tr->st_begin || !tr->markmem || !tr->markid))) {
        size_t bytes = sizeof(trace_lane) * (size_t)nth + (sizeof(float) + sizeof(short)) * (size_t)steps * TRACE_BARRIERS +
                       sizeof(double) * 2 * (size_t)nth +
                       (size_t)rec * (sizeof(trace_event) * (size_t)per * (size_t)nth + 4 * sizeof(double)) +
                       (rec > 0 ? (sizeof(double) + sizeof(int)) * (size_t)mcap * (size_t)nth : 0);
        snprintf(err, errlen, "cannot allocate %zu bytes for the trace buffers (%ld steps x %d workers)", bytes,
                 rec ? rec : steps, nth);
        trace_free(tr);
        return NULL;
    }
    if (rec > 0) {
        tr->st_end = tr->st_begin + rec;
        tr->st_loss = tr->st_end + rec;
        tr->st_tps = tr->st_loss + rec;
        for (long i = 0; i < rec; i++) tr->st_begin[i] = tr->st_loss[i] = tr->st_tps[i] = NAN;
    }
    for (long i = 0; i < steps * TRACE_BARRIERS; i++) { tr->spread_ms[i] = NAN; tr->last[i] = -1; }
    for (int i = 0; i < nth; i++) {
        trace_lane *l = &tr->lane[i];
        l->cap = rec * per;
        l->ev = rec > 0 ? tr->evmem + (size_t)i * (size_t)l->cap : NULL;
        l->layers = layers;
        l->mark_cap = rec > 0 ? mcap : 0;
        l->mark = rec > 0 ? tr->markmem + (size_t)i * (size_t)mcap : NULL;
        l->mark_id = rec > 0 ? tr->markid + (size_t)i * (size_t)mcap : NULL;
        l->slow_ms = slow_hook(i);
    }
    measure_offset(tr);
    return tr;
}

void trace_free(trace_t *tr) {
    if (!tr) return;
    mem_free(tr->lane);
    mem_free(tr->evmem);
    free(tr->markmem);
    free(tr->markid);
    free(tr->st_begin);
    free(tr->spread_ms);
    free(tr->last);
    free(tr->scratch);
    free(tr);
}

trace_lane *trace_lane_of(trace_t *tr, int ith) { return &tr->lane[ith]; }
int trace_threads(const trace_t *tr) { return tr->nth; }

static void lane_add(trace_lane *l, int ph, int idx, double t0, double t1) {
    if (l->n >= l->cap) { l->dropped++; return; }
    trace_event *e = &l->ev[l->n++];
    e->t0 = t0;
    e->t1 = t1;
    e->step = l->step;
    e->ph = (short)ph;
    e->idx = (short)idx;
    e->cpu = l->cpu;
}

void trace_phase(trace_lane *l, int ph, double t0, double t1) {
    if (l->first_t < 0) {        /* the step's first clock reading ends job_start */
        l->first_t = t0;
        if (l->on && l->js >= 0) {   /* (an MPI in-flight event may have come after it) */
            l->cpu = sched_getcpu();
            l->ev[l->js].t1 = t0;
            l->ev[l->js].cpu = l->cpu;
        }
    }
    int b = -1;
    if (ph == PH_BARRIER && l->nb < TRACE_BARRIERS) { b = l->nb; l->arrive[l->nb++] = t0; }
    l->last_t = t1;
    if (l->on) {
        lane_add(l, ph, b, t0, t1);
        if (ph == PH_FORWARD || (ph == PH_BACKWARD && l->nmark > 0)) {
            /* the parts between the marks, then the last one to the phase's
             * end: backward's the embeddings; forward's the part after the
             * last mark (the head after a whole forward; where a wait for
             * parameters split it, the part it resumes in, fwd_next) */
            int lp = ph == PH_FORWARD ? TRACE_PH_FWD_LAYER : TRACE_PH_BWD_LAYER;
            double a = t0;
            for (int k = 0; k < l->nmark; k++) {
                lane_add(l, lp, l->mark_id[k], a, l->mark[k]);
                a = l->mark[k];
            }
            int last = ph == PH_BACKWARD ? -1 : l->nmark > 0 ? l->mark_id[l->nmark - 1] + 1 : l->fwd_next;
            lane_add(l, lp, last, a, t1);
            if (ph == PH_FORWARD) l->fwd_next = last;
        }
    }
    l->nmark = 0;
    if (ph == PH_FORWARD && l->slow_ms > 0) {          /* test hook: a straggler */
        struct timespec ts = { l->slow_ms / 1000, (l->slow_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) != 0) {}
    }
}

void trace_mpi_inflight(trace_lane *l, double t0, double t1) {
    if (l->on) lane_add(l, TRACE_PH_MPI_INFLIGHT, -1, t0, t1);
}

void trace_mark(trace_lane *l, int layer) {
    if (!l || !l->on || l->nmark >= l->mark_cap) return;
    l->mark[l->nmark] = time_wall();
    l->mark_id[l->nmark++] = layer;
}

void trace_step_begin(trace_t *tr, long step, double t_begin) {
    tr->cur = step;
    tr->t_begin = t_begin;
    int on = tr->events && step >= tr->lo && step <= tr->hi;
    for (int i = 0; i < tr->nth; i++) {
        trace_lane *l = &tr->lane[i];
        l->on = on;
        l->step = (int)step;
        l->nb = 0;
        l->first_t = -1;
        l->last_t = t_begin;
        l->nmark = 0;
        l->fwd_next = -1;
        l->js = on && l->n < l->cap ? l->n : -1;
        if (on) lane_add(l, TRACE_PH_JOB_START, -1, t_begin, t_begin);   /* t1: trace_phase */
    }
}

/* ascending, in place (Shell's gaps): qsort may allocate, the step loop must not */
static void sort_doubles(double *a, int n) {
    static const int gaps[] = { 701, 301, 132, 57, 23, 10, 4, 1 };
    for (int g = 0; g < 8; g++)
        for (int i = gaps[g]; i < n; i++) {
            double v = a[i];
            int j = i;
            for (; j >= gaps[g] && a[j - gaps[g]] > v; j -= gaps[g]) a[j] = a[j - gaps[g]];
            a[j] = v;
        }
}

/* spread (latest minus median arrival, ms) and the last worker of one
 * barrier, from arrivals a[0..n) */
static void spread_of(trace_t *tr, const double *a, int n, float *spread, short *last) {
    int who = 0;
    for (int i = 0; i < n; i++) { tr->scratch[i] = a[i]; if (a[i] > a[who]) who = i; }
    sort_doubles(tr->scratch, n);
    double med = n % 2 ? tr->scratch[n / 2] : 0.5 * (tr->scratch[n / 2 - 1] + tr->scratch[n / 2]);
    *spread = (float)((a[who] - med) * 1e3);
    *last = (short)who;
}

void trace_job_end(trace_t *tr, double t_pool) {
    long step = tr->cur;
    int nb = tr->lane[0].nb;
    for (int i = 1; i < tr->nth; i++) nb = MIN(nb, tr->lane[i].nb);
    /* the job's end barrier: arrival = the worker's last phase end */
    for (int i = 0; i < tr->nth; i++) {
        trace_lane *l = &tr->lane[i];
        if (l->on) lane_add(l, PH_BARRIER, nb, MIN(l->last_t, t_pool), t_pool);
    }
    long si = step - tr->first;
    if (tr->nth > 1 && si >= 0 && si < tr->steps) {
        int nbar = MIN(nb + 1, TRACE_BARRIERS);
        for (int b = 0; b < nbar; b++) {
            for (int i = 0; i < tr->nth; i++)
                tr->arrivals[i] = b < nb ? tr->lane[i].arrive[b] : tr->lane[i].last_t;
            spread_of(tr, tr->arrivals, tr->nth, &tr->spread_ms[si * TRACE_BARRIERS + b],
                      &tr->last[si * TRACE_BARRIERS + b]);
        }
        if (nbar > tr->nbar) tr->nbar = nbar;
        tr->stat_steps = si + 1;
    }
}

void trace_step_end(trace_t *tr, double t_end) {
    long step = tr->cur;
    /* workers other than 0 wait in the pool through worker 0's MPI calls
     * after the job (the allgather): their end-barrier wait lasts to t_end */
    for (int i = 1; i < tr->nth; i++) {
        trace_lane *l = &tr->lane[i];
        if (l->on && l->n > 0 && l->ev[l->n - 1].ph == PH_BARRIER && l->ev[l->n - 1].t1 < t_end)
            l->ev[l->n - 1].t1 = t_end;
    }
    if (tr->events && step >= tr->lo && step <= tr->hi) {
        long r = step - tr->lo;
        tr->st_begin[r] = tr->t_begin;
        tr->st_end[r] = t_end;
    }
}

void trace_step_stats(trace_t *tr, long step, double loss, double tokens_per_s) {
    if (!tr->events || step < tr->lo || step > tr->hi) return;
    tr->st_loss[step - tr->lo] = loss;
    tr->st_tps[step - tr->lo] = tokens_per_s;
}

void trace_instant(trace_t *tr, const char *name, double t0, double t1) {
    if (tr->ninst >= TRACE_INSTANTS) return;
    tr->inst[tr->ninst].name = name;
    tr->inst[tr->ninst].t0 = t0;
    tr->inst[tr->ninst].t1 = t1;
    tr->ninst++;
}

/* ---------------------------------------------------------------- report */

static const char *barrier_name(int nranks, int b, int nbar) {
    static const char *const one[] = { "after backward", "after combine" };
    static const char *const mpi[] = { "after backward", "after rank sums", "after exchange",
                                       "after rank-order sum", "after loss gather" };
    if (b == nbar - 1) return "job end";
    if (nranks == 1) return b < 2 ? one[b] : "other";
    return b < 5 ? mpi[b] : "other";
}

void trace_report_json(const trace_t *tr, void *json_writer) {
    jw *j = json_writer;
    if (!tr || tr->nth < 2 || tr->stat_steps == 0) { jw_null(j, "stragglers"); return; }
    jw_obj_open(j, "stragglers");
    jw_int(j, "rank", tr->rank);
    jw_int(j, "workers", tr->nth);
    jw_int(j, "first_step", tr->first);
    jw_int(j, "steps", tr->stat_steps);
    jw_arr_open(j, "barriers");
    for (int b = 0; b < tr->nbar; b++) {
        jw_obj_open(j, NULL);
        jw_int(j, "index", b);
        jw_str(j, "name", barrier_name(tr->nranks, b, tr->nbar));
        jw_arr_open(j, "spread_ms");
        for (long s = 0; s < tr->stat_steps; s++) jw_num(j, NULL, tr->spread_ms[s * TRACE_BARRIERS + b]);
        jw_arr_close(j);
        jw_arr_open(j, "last");
        for (long s = 0; s < tr->stat_steps; s++) jw_int(j, NULL, tr->last[s * TRACE_BARRIERS + b]);
        jw_arr_close(j);
        jw_obj_close(j);
    }
    jw_arr_close(j);
    jw_obj_close(j);
}

/* ---------------------------------------------------------------- the file */

#define NAME_D 16                 /* a track name: 128 chars packed in 16 doubles */
#define EV_D 7                    /* an event: t0 t1 step ph idx cpu lane */

/* hwloc's name for the kind of core `cpu` is, when the machine has more
 * than one kind (hybrid P/E cores); "" otherwise */
static void core_kind(hwloc_topology_t topo, int cpu, char *out, size_t n) {
    out[0] = 0;
    if (!topo || cpu < 0 || hwloc_cpukinds_get_nr(topo, 0) < 2) return;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set) return;
    hwloc_bitmap_only(set, (unsigned)cpu);
    int k = hwloc_cpukinds_get_by_cpuset(topo, set, 0);
    hwloc_bitmap_free(set);
    if (k < 0) return;
    int eff = -1;
    unsigned ninfo = 0;
    struct hwloc_info_s *info = NULL;
    if (hwloc_cpukinds_get_info(topo, (unsigned)k, NULL, &eff, &ninfo, &info, 0) != 0) return;
    for (unsigned i = 0; i < ninfo; i++)
        if (strcmp(info[i].name, "CoreType") == 0) { snprintf(out, n, ", %s", info[i].value); return; }
    snprintf(out, n, ", core kind %d of %d", k, hwloc_cpukinds_get_nr(topo, 0));
}

/* this rank's lane names, events and step bounds, as doubles (times on
 * rank 0's clock, seconds since the origin); returns the count, -1 when
 * memory is short */
static double *pack(const trace_t *tr, const int *bound, long *count) {
    long nev = 0, rec = tr->events ? tr->hi - tr->lo + 1 : 0;
    for (int i = 0; i < tr->nth; i++) nev += tr->lane[i].n;
    long n = 4 + (long)tr->nth * NAME_D + nev * EV_D + rec * 2;
    double *d = xcalloc((size_t)n, sizeof(double));
    if (!d) return NULL;
    d[0] = tr->nth;
    d[1] = (double)nev;
    d[2] = (double)rec;
    long dropped = 0;
    for (int i = 0; i < tr->nth; i++) dropped += tr->lane[i].dropped;
    d[3] = (double)dropped;
    hwloc_topology_t topo = NULL;
    if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0) {
        if (topo) hwloc_topology_destroy(topo);
        topo = NULL;
    }
    for (int i = 0; i < tr->nth; i++) {
        const trace_lane *l = &tr->lane[i];
        char name[NAME_D * 8], kind[48], cpus[40] = "";
        int g = tr->rank * tr->nth + i, b = bound ? bound[i] : -1;
        if (b >= 0) {
            core_kind(topo, b, kind, sizeof kind);
            snprintf(name, sizeof name, "worker %d: CPU %d%s (bound)", g, b, kind);
        } else {
            /* the CPUs it started its steps on, first ones seen */
            int seen[4], ns = 0, more = 0;
            for (long k = 0; k < l->n; k++) {
                int c = l->ev[k].cpu, j;
                if (l->ev[k].ph != TRACE_PH_JOB_START || c < 0) continue;
                for (j = 0; j < ns && seen[j] != c; j++) {}
                if (j < ns) continue;
                if (ns < 4) seen[ns++] = c; else more = 1;
            }
            size_t k = 0;
            for (int j = 0; j < ns && k < sizeof cpus; j++)
                k += (size_t)snprintf(cpus + k, sizeof cpus - k, "%s%d", j ? "," : "", seen[j]);
            core_kind(topo, ns == 1 ? seen[0] : -1, kind, sizeof kind);
            snprintf(name, sizeof name, "worker %d: CPU%s %s%s%s (unbound)", g, ns > 1 ? "s" : "",
                     ns ? cpus : "?", more ? ",..." : "", kind);
        }
        memcpy(&d[4 + (long)i * NAME_D], name, sizeof name);
    }
    if (topo) hwloc_topology_destroy(topo);
    double *e = d + 4 + (long)tr->nth * NAME_D;
    for (int i = 0; i < tr->nth; i++)
        for (long k = 0; k < tr->lane[i].n; k++, e += EV_D) {
            const trace_event *v = &tr->lane[i].ev[k];
            e[0] = v->t0 - tr->offset - tr->origin;
            e[1] = v->t1 - tr->offset - tr->origin;
            e[2] = v->step;
            e[3] = v->ph;
            e[4] = v->idx;
            e[5] = v->cpu;
            e[6] = i;
        }
    for (long r = 0; r < rec; r++, e += 2) {
        e[0] = tr->st_begin[r] - tr->offset - tr->origin;
        e[1] = tr->st_end[r] - tr->offset - tr->origin;
    }
    *count = n;
    return d;
}

/* microseconds with the nanoseconds, from seconds since the origin */
static long long ns_of(double s) { return llround(s * 1e9); }
static void put_us(FILE *f, const char *key, long long ns) {
    fprintf(f, ",\"%s\":%s%lld.%03lld", key, ns < 0 ? "-" : "", llabs(ns) / 1000, llabs(ns) % 1000);
}

/* a metadata event; the file's first event is rank 0's process_name */
static void put_meta(FILE *f, int pid, int tid, const char *what, const char *key, const char *sval, int ival) {
    fprintf(f, "%s{\"name\":\"%s\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"%s\":",
            pid == 0 && strcmp(what, "process_name") == 0 ? "" : ",\n", what, pid, tid, key);
    if (sval) jw_put_str(f, sval); else fprintf(f, "%d", ival);
    fprintf(f, "}}");
}

/* The tracks of rank r (pid r) of R: track k on tid R + 1 + k, k = worker i
 * (0 .. nth - 1), then worker 0's MPI calls (nth), its messages in flight
 * (nth + 1) and the steps (nth + 2, listed first by its sort index). So no
 * tid is 0 or equals a pid: Perfetto's JSON importer moves an event of tid
 * 0 under a pid other than 0 to tid = pid, onto another track
 * (json_trace_tokenizer.cc), and its UI marks the thread whose tid is its
 * pid "main thread" (tests/trace_check.py's rules tid0 and main_thread).
 * The process's own events (its name, the counters, the instants) use the
 * steps' tid. */
static int track_tid(int nranks, int k) { return nranks + 1 + k; }

/* one rank's block (pack's layout) as events */
static void write_rank(FILE *f, const trace_t *tr, int rank, const double *d) {
    int nth = (int)d[0];
    long nev = (long)d[1], rec = (long)d[2];
    char name[NAME_D * 8 + 1];
    int R = tr->nranks;
    int xtid = track_tid(R, nth), stid = track_tid(R, nth + 2);   /* the MPI calls' track, the steps' */
    char pname[96];
    snprintf(pname, sizeof pname, "rank %d", rank);
    put_meta(f, rank, stid, "process_name", "name", pname, 0);
    put_meta(f, rank, stid, "process_sort_index", "sort_index", NULL, rank);
    put_meta(f, rank, stid, "thread_name", "name", "steps", 0);
    put_meta(f, rank, stid, "thread_sort_index", "sort_index", NULL, 0);
    for (int i = 0; i < nth; i++) {
        memcpy(name, &d[4 + (long)i * NAME_D], NAME_D * 8);
        name[NAME_D * 8] = 0;
        put_meta(f, rank, track_tid(R, i), "thread_name", "name", name, 0);
        put_meta(f, rank, track_tid(R, i), "thread_sort_index", "sort_index", NULL, i + 1);
    }
    if (tr->nranks > 1) {
        snprintf(pname, sizeof pname, "MPI exchange (worker %d's MPI calls)", rank * nth);
        put_meta(f, rank, xtid, "thread_name", "name", pname, 0);
        put_meta(f, rank, xtid, "thread_sort_index", "sort_index", NULL, nth + 1);
        snprintf(pname, sizeof pname, "MPI in flight (worker %d's messages, beside compute where no MPI call above)",
                 rank * nth);
        put_meta(f, rank, xtid + 1, "thread_name", "name", pname, 0);
        put_meta(f, rank, xtid + 1, "thread_sort_index", "sort_index", NULL, nth + 2);
    }
    const double *e = d + 4 + (long)nth * NAME_D;
    for (long k = 0; k < nev; k++, e += EV_D) {
        int ph = (int)e[3], lane = (int)e[6], idx = (int)e[4];
        int layer = ph == TRACE_PH_FWD_LAYER || ph == TRACE_PH_BWD_LAYER;
        char pn[48];
        if (layer) {
            const char *pass = ph == TRACE_PH_FWD_LAYER ? "forward" : "backward";
            if (idx < 0) snprintf(pn, sizeof pn, "%s embeddings", pass);
            else if (idx >= tr->layers) snprintf(pn, sizeof pn, "%s head", pass);
            else snprintf(pn, sizeof pn, "%s layer %d", pass, idx);
        } else {
            snprintf(pn, sizeof pn, "%s", ph == TRACE_PH_JOB_START ? "job_start" :
                     ph == TRACE_PH_MPI_INFLIGHT ? "in flight" : ph >= 0 && ph < PH_COUNT ? phase_names[ph] : "?");
        }
        int tid = ph == PH_COMM ? xtid : ph == TRACE_PH_MPI_INFLIGHT ? xtid + 1 : track_tid(R, lane);
        long long a = ns_of(e[0]), b = ns_of(e[1]);
        fprintf(f, ",\n{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d", pn,
                layer ? "layer" : "phase", rank, tid);
        put_us(f, "ts", a);
        put_us(f, "dur", b > a ? b - a : 0);
        fprintf(f, ",\"args\":{\"step\":%ld,\"worker\":%d", (long)e[2] + 1, rank * nth + lane);
        if (layer && idx >= 0 && idx < tr->layers) fprintf(f, ",\"layer\":%d", idx);
        if (!layer && ph == PH_BARRIER && idx >= 0) fprintf(f, ",\"barrier\":%d", idx);
        if (!layer && (int)e[5] >= 0) fprintf(f, ",\"cpu\":%d", (int)e[5]);
        fprintf(f, "}}");
    }
    for (long r = 0; r < rec; r++, e += 2) {
        if (!isfinite(e[0])) continue;          /* a step not run (stopped early) */
        long long a = ns_of(e[0]), b = ns_of(e[1]);
        long step = tr->lo + r + 1;
        fprintf(f, ",\n{\"name\":\"step %ld\",\"cat\":\"step\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d", step, rank, stid);
        put_us(f, "ts", a);
        put_us(f, "dur", b > a ? b - a : 0);
        fprintf(f, ",\"args\":{\"step\":%ld}}", step);
        /* counters: JSON has no NaN or Infinity (Perfetto's parser rejects the file) */
        if (rank == 0 && isfinite(tr->st_loss[r])) {
            fprintf(f, ",\n{\"name\":\"loss\",\"ph\":\"C\",\"pid\":0,\"tid\":%d", stid);
            put_us(f, "ts", b);
            fprintf(f, ",\"args\":{\"loss\":%.6g}}", tr->st_loss[r]);
        }
        if (rank == 0 && isfinite(tr->st_tps[r])) {
            fprintf(f, ",\n{\"name\":\"tokens/s\",\"ph\":\"C\",\"pid\":0,\"tid\":%d", stid);
            put_us(f, "ts", b);
            fprintf(f, ",\"args\":{\"tokens/s\":%.1f}}", tr->st_tps[r]);
        }
    }
}


int trace_write(trace_t *tr, const char *path, const int *bound, const char *command,
                char *err, size_t errlen) {
    long n = 0;
    double *mine = pack(tr, bound, &n);
    int R = tr->nranks, rc = 0;
    /* every rank's count, then rank 0 gathers the blocks (as pairs of
     * floats: comm_gather moves floats, bit for bit) */
    double *counts = xmalloc(sizeof(double) * (size_t)R);
    size_t *off = xmalloc(sizeof(size_t) * (size_t)R), *cnt = xmalloc(sizeof(size_t) * (size_t)R);
    double dn = mine ? (double)n : -1.0;
    if (!counts || !off || !cnt) CHECK(0, "cannot allocate %d counts for the trace", R);
    comm_allgather_f64(tr->comm, &dn, counts, 1);
    size_t total = 0;
    int short_mem = 0;
    for (int r = 0; r < R; r++) {
        if (counts[r] < 0) { short_mem = 1; counts[r] = 0; }
        off[r] = total * 2;
        cnt[r] = (size_t)counts[r] * 2;
        total += (size_t)counts[r];
    }
    double *all = NULL;
    if (tr->rank == 0) {
        all = R > 1 ? xmalloc(sizeof(double) * (total ? total : 1)) : mine;
        if (!all) short_mem = 1;
    }
    if (R > 1) {
        static const double none = 0;
        comm_gather(tr->comm, mine ? (const float *)mine : (const float *)&none, (float *)all, off, cnt);
    }
    if (tr->rank == 0) {
        afile a;
        if (short_mem) {
            snprintf(err, errlen, "--trace %s: not enough memory to gather the trace", path);
            rc = -1;
        } else if (afile_open(&a, path, err, errlen) != 0) {
            rc = -1;
        } else {
            FILE *f = a.f;
            long dropped = 0;
            for (int r = 0; r < R; r++) dropped += (long)all[off[r] / 2 + 3];
            /* no displayTimeUnit: Perfetto ignores it (and trace processors of
             * 2020-2021 rescaled ts by it), chrome://tracing shows ms anyway */
            fprintf(f, "{\"otherData\":{\"format\":\"cllm trace 1\",\"variant\":");
            jw_put_str(f, build_variant());
            fprintf(f, ",\"git\":");
            jw_put_str(f, build_git());
            fprintf(f, ",\"command\":");
            jw_put_str(f, command ? command : "");
            fprintf(f, ",\"ranks\":%d,\"threads\":%d,\"layers\":%d,\"steps_first\":%ld,\"steps_last\":%ld,"
                    "\"clock\":\"CLOCK_MONOTONIC, the phase clocks' clock; ts in us since rank 0's trace start\","
                    "\"clock_offset_bound_us\":%.3f,\"dropped_events\":%ld},\n\"traceEvents\":[\n",
                    R, tr->nth, tr->layers, tr->lo + 1, tr->hi + 1, tr->offset_err * 1e6, dropped);
            for (int r = 0; r < R; r++) write_rank(f, tr, r, all + off[r] / 2);
            for (int i = 0; i < tr->ninst; i++) {
                long long t0 = ns_of(tr->inst[i].t0 - tr->origin), t1 = ns_of(tr->inst[i].t1 - tr->origin);
                fprintf(f, ",\n{\"name\":\"%s\",\"cat\":\"event\",\"ph\":\"i\",\"s\":\"p\",\"pid\":0,\"tid\":%d",
                        tr->inst[i].name, track_tid(R, tr->nth + 2));
                put_us(f, "ts", t0);
                fprintf(f, ",\"args\":{\"duration_ms\":%.3f}}", (t1 - t0) * 1e-6);
            }
            fprintf(f, "\n]}\n");
            rc = afile_commit(&a, err, errlen);
        }
    }
    if (all != mine) free(all);
    free(mine);
    free(counts);
    free(off);
    free(cnt);
    return rc;
}
