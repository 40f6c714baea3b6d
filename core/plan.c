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

#include "trainer.h"
#include "util.h"

static void put_or_null(json_w *j, const char *key, int v) {
    if (v >= 0) json_int(j, key, v); else json_null(j, key);
}

int plan_write(FILE *f, const machine_t *m, const pin_spec *s, const char *pin_given, int nth,
               const int *cpus, int wrapped, size_t nparams, int blas_max) {
    json_w j;
    json_begin(&j, f);
    json_obj_open(&j, NULL);

    json_obj_open(&j, "machine");
    json_str(&j, "source", m->source);
    if (m->live) json_null(&j, "path"); else json_str(&j, "path", m->path);
    json_int(&j, "usable_cpus", m->usable);
    char *list = NULL;
    hwloc_bitmap_list_asprintf(&list, m->usable_set);
    json_str(&j, "usable_list", list ? list : "");
    free(list);
    json_num(&j, "quota_cpus", m->cgroup.quota_cpus);
    if (m->cgroup.absent[0]) json_str(&j, "quota_absent", m->cgroup.absent); else json_null(&j, "quota_absent");
    json_int(&j, "cpukinds", m->nkinds);
    json_obj_close(&j);

    json_int(&j, "threads", nth);
    json_str(&j, "pin", pin_given ? pin_given : "none");
    json_str(&j, "mode", pin_mode_name(s->mode));
    json_int(&j, "wrapped", wrapped);
    json_int(&j, "oversubscribed", nth > m->usable);
    json_int(&j, "bound", m->live && s->mode != PIN_NONE);
    json_str(&j, "binding", !m->live ? "never: hwloc cannot bind threads to a snapshot's or an XML file's CPUs; "
                                       "this is the plan train_model --pin would bind on that machine"
                 : s->mode == PIN_NONE ? "none: the scheduler places and moves the workers"
                 : "train_model --pin binds each worker to its pu (this same plan)");
    if (blas_max > 0) json_int(&j, "blas_max_threads", blas_max); else json_null(&j, "blas_max_threads");
    if (blas_max > 0 && nth > blas_max)
        json_str(&j, "blas_note", "more workers than this OpenBLAS's MAX_THREADS: train_model refuses to train "
                 "them here (an OpenBLAS built with a larger MAX_THREADS serves them)");
    else json_null(&j, "blas_note");
    json_uint(&j, "nparams", (unsigned long long)nparams);

    json_arr_open(&j, "workers");
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
        json_obj_open(&j, NULL);
        json_int(&j, "worker", i);
        put_or_null(&j, "pu", cpus[i]);
        put_or_null(&j, "core", p.core);
        put_or_null(&j, "package", p.package);
        put_or_null(&j, "numa", p.numa);
        put_or_null(&j, "kind", p.kind);
        put_or_null(&j, "buffers_numa", mem);     /* context + gradient buffer: first touch by the worker */
        json_uint(&j, "params_first", (unsigned long long)k0);
        json_uint(&j, "params_end", (unsigned long long)k1);
        put_or_null(&j, "params_numa", k1 > k0 ? mem : -1);   /* its slice of parameters and Adam moments */
        json_obj_close(&j);
    }
    json_arr_close(&j);
    json_obj_close(&j);
    fputc('\n', f);
    return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
