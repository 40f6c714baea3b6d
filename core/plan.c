/*
 * plan.c - the --pin-plan JSON (see plan.h).
 *
 * Under first touch a page lives on the NUMA node of the thread that first
 * writes it: each worker's context and gradient buffer are first written by
 * that worker, and each page of the parameters and Adam moments by the
 * worker whose slice holds the page's first byte (trainer.c). So a bound
 * worker's buffers and slice are on its PU's node; an unbound worker's are
 * wherever the scheduler runs it (null).
 */
#include "plan.h"

#include <stdlib.h>

#include "jsonw.h"
#include "trainer.h"
#include "util.h"

static void put_or_null(jw *j, const char *key, int v) {
    if (v >= 0) jw_int(j, key, v); else jw_null(j, key);
}

int plan_write(FILE *f, const machine_t *m, const pin_spec *s, const char *pin_given, int nth,
               const int *cpus, int wrapped, size_t nparams, int blas_max) {
    jw j;
    jw_begin(&j, f);
    jw_obj_open(&j, NULL);

    jw_obj_open(&j, "machine");
    jw_str(&j, "source", m->source);
    if (m->live) jw_null(&j, "path"); else jw_str(&j, "path", m->path);
    jw_int(&j, "usable_cpus", m->usable);
    char *list = NULL;
    hwloc_bitmap_list_asprintf(&list, m->usable_set);
    jw_str(&j, "usable_list", list ? list : "");
    free(list);
    jw_num(&j, "quota_cpus", m->cgroup.quota_cpus);
    if (m->cgroup.absent[0]) jw_str(&j, "quota_absent", m->cgroup.absent); else jw_null(&j, "quota_absent");
    jw_int(&j, "cpukinds", m->nkinds);
    jw_obj_close(&j);

    jw_int(&j, "threads", nth);
    jw_str(&j, "pin", pin_given ? pin_given : "none");
    jw_str(&j, "mode", pin_mode_name(s->mode));
    jw_int(&j, "wrapped", wrapped);
    jw_int(&j, "oversubscribed", nth > m->usable);
    jw_int(&j, "bound", m->live && s->mode != PIN_NONE);
    jw_str(&j, "binding", !m->live ? "never: hwloc cannot bind threads to a snapshot's or an XML file's CPUs; "
                                       "this is the plan train_model --pin would bind on that machine"
                 : s->mode == PIN_NONE ? "none: the scheduler places and moves the workers"
                 : "train_model --pin binds each worker to its pu (this same plan)");
    if (blas_max > 0) jw_int(&j, "blas_max_threads", blas_max); else jw_null(&j, "blas_max_threads");
    if (blas_max > 0 && nth > blas_max)
        jw_str(&j, "blas_note", "more workers than this OpenBLAS's MAX_THREADS: train_model refuses to train "
                 "them here (an OpenBLAS built with a larger MAX_THREADS serves them)");
    else jw_null(&j, "blas_note");
    jw_uint(&j, "nparams", (unsigned long long)nparams);

    jw_arr_open(&j, "workers");
    for (int i = 0; i < nth; i++) {
        machine_place p = { -1, -1, -1, -1, -1 };
        if (cpus[i] >= 0) machine_place_of(m, cpus[i], &p);
        /* a PU without a local node (its node offline) or whose node the
         * cgroup does not allow allocates from the nearest allowed one:
         * known here only when a single node is allowed */
        int mem = p.numa;
        hwloc_const_nodeset_t mems = hwloc_topology_get_allowed_nodeset(m->hw);
        if (cpus[i] >= 0 && (mem < 0 || !hwloc_bitmap_isset(mems, (unsigned)mem)))
            mem = hwloc_bitmap_weight(mems) == 1 ? hwloc_bitmap_first(mems) : -1;
        size_t k0, k1;
        trainer_worker_slice(nparams, nth, i, &k0, &k1);
        jw_obj_open(&j, NULL);
        jw_int(&j, "worker", i);
        put_or_null(&j, "pu", cpus[i]);
        put_or_null(&j, "core", p.core);
        put_or_null(&j, "package", p.package);
        put_or_null(&j, "numa", p.numa);
        put_or_null(&j, "kind", p.kind);
        put_or_null(&j, "buffers_numa", mem);     /* context + gradient buffer: first touch by the worker */
        jw_uint(&j, "params_first", (unsigned long long)k0);
        jw_uint(&j, "params_end", (unsigned long long)k1);
        put_or_null(&j, "params_numa", k1 > k0 ? mem : -1);   /* its slice of parameters and Adam moments */
        jw_obj_close(&j);
    }
    jw_arr_close(&j);
    jw_obj_close(&j);
    fputc('\n', f);
    return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
