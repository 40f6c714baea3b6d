/*
 * describe.c - train_model --describe (describe.h): this build's configs,
 * limits, build facts and the memory table of one shape, as JSON.
 */
#include "describe.h"

#include "comm.h"
#include "report.h"
#include "trainer.h"
#include "util.h"

static void json_config(json_w *j, const char *key, const config_t *c) {
    json_obj_open(j, key);
    json_str(j, "name", c->name);
    json_int(j, "V", c->V);
    json_int(j, "C", c->C);
    json_int(j, "L", c->L);
    json_int(j, "NH", c->NH);
    json_int(j, "F", c->F);
    json_int(j, "T", c->T);
    json_int(j, "B", c->B);
    json_obj_close(j);
}

int describe_write(FILE *f, const config_t *c, int nth, int nranks, int strong, int recompute,
                   char *err, size_t errlen) {
    if (nth < 1 || nth > THREADS_MAX || nranks < 1 || nranks > RANKS_MAX ||
        (long long)nth * nranks > WORKERS_MAX) {
        snprintf(err, errlen, "--describe: %d ranks x %d threads: at most %d threads, %d ranks and %d "
                 "workers in all", nranks, nth, THREADS_MAX, RANKS_MAX, WORKERS_MAX);
        return -1;
    }
    memtable_t mt;
    if (trainer_memtable_rank(c, nth, strong, recompute, 0, nranks, &mt, err, errlen) != 0) return -1;
    json_w j;
    json_begin(&j, f);
    json_obj_open(&j, NULL);
    json_str(&j, "tool", "train_model");
    json_int(&j, "format", 1);
    report_json_build(&j);
    json_obj_open(&j, "limits");
    json_int(&j, "threads_max", THREADS_MAX);
    json_int(&j, "ranks_max", RANKS_MAX);
    json_int(&j, "workers_max", WORKERS_MAX);
    if (blas_threads_max() > 0) json_int(&j, "blas_threads_max", blas_threads_max());
    else json_null(&j, "blas_threads_max");
    json_obj_close(&j);
    json_arr_open(&j, "configs");
    config_t p;
    for (int i = 0; config_at(i, &p) == 0; i++) json_config(&j, NULL, &p);
    json_arr_close(&j);
    json_str(&j, "default_config", CONFIG_DEFAULT);
    json_obj_open(&j, "shape");
    json_config(&j, "config", c);
    json_int(&j, "threads", nth);
    json_int(&j, "ranks", nranks);
    json_int(&j, "workers", nth * nranks);
    json_str(&j, "scaling", strong ? "strong" : "weak");
    json_int(&j, "global_batch", strong ? c->B : c->B * nth * nranks);
    json_obj_close(&j);
    report_json_memtable(&j, &mt, nth, recompute);
    json_obj_close(&j);
    return ferror(f) ? (snprintf(err, errlen, "--describe: cannot write the output"), -1) : 0;
}
