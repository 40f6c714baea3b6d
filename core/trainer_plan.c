/*
 * trainer_plan.c - trainer_plan (trainer.h): every check a trainer of a given shape
 * must pass and every size it will have, before anything is allocated:
 * train_model refuses bad input with it before reading its data, and
 * trainer_create_ranks runs it first.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "comm.h"
#include "trainer.h"
#include "util.h"

const char *trainer_memory_limit(double *bytes) {
    const char *s = getenv("CLLM_MEMORY_LIMIT_MIB");
    if (s && *s) {
        char *end;
        double mib = strtod(s, &end);
        if (*end == 0 && mib > 0) {
            *bytes = mib * 1048576.0;
            return "the limit CLLM_MEMORY_LIMIT_MIB";
        }
    }
    *bytes = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    return "the machine's memory";
}

int trainer_plan(const config_t *c, const train_opts *o, int nth, int rank, int nranks, trainer_plan_t *p,
                 char *err, size_t errlen) {
    if (config_validate(c, err, errlen) != 0) return -1;
    if (o->recompute != RECOMPUTE_NONE && o->recompute != RECOMPUTE_LAYERS) {
        snprintf(err, errlen, "recompute mode %d is not none (0) or layers (1)", o->recompute);
        return -1;
    }
    if (nth < 1 || nth > THREADS_MAX) {
        snprintf(err, errlen, "thread count %d is out of range 1..%d", nth, THREADS_MAX);
        return -1;
    }
    if (nranks < 1 || nranks > RANKS_MAX || rank < 0 || rank >= nranks) {
        snprintf(err, errlen, "rank %d of %d is out of range (1..%d ranks)", rank, nranks, RANKS_MAX);
        return -1;
    }
    if ((long long)nth * nranks > WORKERS_MAX) {
        snprintf(err, errlen, "%d ranks x %d threads are %lld workers, more than %d", nranks, nth,
                 (long long)nth * nranks, WORKERS_MAX);
        return -1;
    }
    memset(p, 0, sizeof *p);
    memtable_t *m = &p->mem;
    int rc = trainer_memtable_rank(c, nth, o->strong, o->recompute, rank, nranks, m, err, errlen);
    if (rc != 0) return rc;
    if (nranks > 1) {
        size_t counts[P_COUNT], np = param_counts(c, counts);
        if (np > INT_MAX || m->shard * (size_t)nranks > INT_MAX) {
            snprintf(err, errlen, "config %s has %zu parameters: across %d ranks a count or offset "
                     "passes the %d elements an MPI count (int) holds", c->name, np, nranks, INT_MAX);
            return -1;
        }
    }
    double limit;
    const char *limit_what = trainer_memory_limit(&limit);
    if (limit > 0 && (double)m->total > limit) {
        snprintf(err, errlen, "the footprint of config %s at %d threads is %.1f MiB, more than %s "
                 "of %.1f MiB", c->name, nth, m->total / 1048576.0, limit_what, limit / 1048576.0);
        return -1;
    }
    int blas_max = blas_threads_max();
    if (blas_max > 0 && nth > blas_max) {
        snprintf(err, errlen, "thread count %d is more than the %d workers that may call this BLAS's "
                 "sgemm at once (%s; past it the table overflows and sgemm crashes): use fewer "
                 "threads, more ranks, an OpenBLAS built with a larger NUM_THREADS, or a build "
                 "against BLIS (make BLAS=blis)", nth, blas_max, blas_limit_why());
        return -1;
    }
    /* Under an address-space limit (ulimit -v), OpenBLAS retries a failed
     * mmap of its per-thread buffer forever instead of failing: refuse up
     * front when the limit cannot hold our buffers plus, measured here, about
     * 190 MiB for the process and 110 MiB per further thread (the BLAS
     * buffer and a thread stack). */
    struct rlimit as;
    if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
        double need = (double)m->total + (190.0 + 110.0 * (nth - 1)) * 1048576.0;
        if (need > (double)as.rlim_cur) {
            snprintf(err, errlen, "the address-space limit (ulimit -v) of %.0f MiB is below the "
                     "about %.0f MiB that config %s at %d threads needs (%.1f MiB of buffers, "
                     "plus the process, BLAS buffers and thread stacks)",
                     as.rlim_cur / 1048576.0, need / 1048576.0, c->name, nth, m->total / 1048576.0);
            return -1;
        }
    }
    p->cfg = *c;
    p->nth = nth;
    p->rank = rank;
    p->nranks = nranks;
    p->nworkers = nth * nranks;
    p->strong = o->strong;
    p->recompute = o->recompute;
    const int nw = p->nworkers;
    p->Bglobal = o->strong ? c->B : c->B * nw;
    size_t counts[P_COUNT];
    p->nparams = param_counts(c, counts);
    /* data and parameter slice by the global worker index: what is
     * trained does not depend on the split into ranks and threads */
    for (int i = 0; i < nth; i++) {
        worker_share *s = &p->share[i];
        int g = rank * nth + i;
        if (o->strong) {
            s->row0 = (int)((long)g * c->B / nw);
            s->rows = (int)((long)(g + 1) * c->B / nw) - s->row0;
        } else {
            s->row0 = g * c->B;
            s->rows = c->B;
        }
        memtable_worker_slice(p->nparams, nw, g, &s->k0, &s->k1);
    }
    return 0;
}
