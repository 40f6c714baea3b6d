/*
 * describe.c - train_model --describe (describe.h): this build's configs,
 * limits, build facts and the memory table of one shape, as JSON.
 */
#include "describe.h"

#include "comm.h"
#include "report.h"
#include "trainer.h"
#include "util.h"

static void json_config(jw *j, const char *key, const config_t *c) {
    jw_obj_open(j, key);
    jw_str(j, "name", c->name);
    jw_int(j, "V", c->V);
    jw_int(j, "C", c->C);
    jw_int(j, "L", c->L);
    jw_int(j, "NH", c->NH);
    jw_int(j, "F", c->F);
    jw_int(j, "T", c->T);
    jw_int(j, "B", c->B);
    jw_obj_close(j);
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
    jw j;
    jw_begin(&j, f);
    jw_obj_open(&j, NULL);
    jw_str(&j, "tool", "train_model");
    jw_int(&j, "format", 1);
    report_json_build(&j);
    jw_obj_open(&j, "limits");
    jw_int(&j, "threads_max", THREADS_MAX);
    jw_int(&j, "ranks_max", RANKS_MAX);
    jw_int(&j, "workers_max", WORKERS_MAX);
    if (blas_threads_max() > 0) jw_int(&j, "blas_threads_max", blas_threads_max());
    else jw_null(&j, "blas_threads_max");
    jw_obj_close(&j);
    jw_arr_open(&j, "configs");
    config_t p;
    for (int i = 0; config_at(i, &p) == 0; i++) json_config(&j, NULL, &p);
    jw_arr_close(&j);
    jw_str(&j, "default_config", CONFIG_DEFAULT);
    jw_obj_open(&j, "shape");
    json_config(&j, "config", c);
    jw_int(&j, "threads", nth);
    jw_int(&j, "ranks", nranks);
    jw_int(&j, "workers", nth * nranks);
    jw_str(&j, "scaling", strong ? "strong" : "weak");
    jw_int(&j, "global_batch", strong ? c->B : c->B * nth * nranks);
    jw_obj_close(&j);
    report_json_memtable(&j, &mt, nth, recompute);
    jw_obj_close(&j);
    return ferror(f) ? (snprintf(err, errlen, "--describe: cannot write the output"), -1) : 0;
}
