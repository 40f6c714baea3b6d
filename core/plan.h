/*
 * plan.h - train_model --pin-plan: where each worker would run and which
 * NUMA node would hold its buffers, on the live machine or a snapshot
 * (--machine), printed as one JSON object without training. The CPUs come
 * from pin_plan_machine, the same call whose result a live --pin binds.
 */
#ifndef CLLM_PLAN_H
#define CLLM_PLAN_H

#include <stddef.h>
#include <stdio.h>

#include "machine.h"
#include "pin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the plan of nth workers on cpus[] (pin_plan_machine's output; -1
 * for --pin none) over nparams parameters, and a newline. blas_max is the
 * BLAS's thread limit (0 unknown). Returns 0, or -1 when the write failed. */
int plan_write(FILE *f, const machine_t *m, const pin_spec *s, const char *pin_given, int nth,
               const int *cpus, int wrapped, size_t nparams, int blas_max);

#ifdef __cplusplus
}
#endif

#endif
