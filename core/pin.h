/*
 * pin.h - where the workers run: train_model's --pin none|cores|scatter|LIST
 * turned into one OS CPU index per worker, over an hwloc topology, and the
 * binding of the calling thread to its CPU.
 *
 *   none      no binding (the default): the scheduler places and moves them
 *   cores     physical cores first: PU 0 of every core in hwloc's order,
 *             then PU 1 of every core (the SMT siblings), and so on; in
 *             each round the cores of the fastest hwloc cpukind first
 *   scatter   spread over packages and NUMA nodes: round-robin over the
 *             domains (the NUMA nodes when there are several, else the
 *             packages), ordered so consecutive workers alternate packages
 *             first; inside a domain, its cores in the `cores` order
 *   LIST      OS CPU indices and ranges, "0,2,4-7": worker i gets entry i;
 *             with fewer entries than workers the list is cycled (worker i
 *             gets entry i mod length), entries past the worker count are
 *             unused (so one LIST serves a whole sweep of thread counts)
 *
 * Every CPU must lie in the usable set (online ∩ allowed cpuset ∩ the
 * process's affinity mask, machine.h): a LIST entry outside it is an error. cores and scatter with more workers
 * than allowed CPUs wrap around their order (worker i gets CPU i mod m) and
 * say so (*wrapped): a sweep past the CPU count keeps every worker pinned,
 * and the report shows which share a CPU.
 */
#ifndef CLLM_PIN_H
#define CLLM_PIN_H

#include <stddef.h>

#include <hwloc.h>

#include "machine.h"
#include "pinspec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One OS CPU index per worker into cpus[0..nth), over topology `topo`, using
 * only the CPUs of `allowed` (a pure function of its inputs: tests pass a
 * synthetic topology). PIN_NONE fills -1. Returns 0 (*wrapped set when
 * cores/scatter reused CPUs), or -1 with err (a LIST entry outside allowed,
 * no allowed CPU at all). */
int pin_plan(hwloc_topology_t topo, hwloc_const_bitmap_t allowed, const pin_spec *s, int nth,
             int *cpus, int *wrapped, char *err, size_t errlen);

/* pin_plan over a loaded machine's topology and its usable set (online ∩
 * allowed ∩ affinity, machine.h): THE plan, what --pin-plan prints and what
 * a live --pin binds. */
int pin_plan_machine(const machine_t *m, const pin_spec *s, int nth, int *cpus, int *wrapped,
                     char *err, size_t errlen);

/* pin_plan_machine over the live machine; also refuses a topology that is not this system's (HWLOC_SYNTHETIC
 * or HWLOC_XMLFILE in the environment), on which nothing can be bound. */
int pin_plan_here(const pin_spec *s, int nth, int *cpus, int *wrapped, char *err, size_t errlen);

/* Load this machine's topology for pin_bind (NULL with err on failure). */
hwloc_topology_t pin_topology_load(char *err, size_t errlen);
/* Bind the calling thread to OS CPU `cpu` (hwloc_set_cpubind, THREAD). 0, or
 * -1 with err. Safe to call from several threads on one loaded topology. */
int pin_bind(hwloc_topology_t topo, int cpu, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
