/*
 * pool.h - a persistent pool of worker threads and the barrier they meet at.
 *
 * pool_run(fn) runs fn(arg, ith, nth) on every worker; the calling thread is
 * worker 0, so a pool of 1 creates no thread. Inside fn, workers meet at
 * pool_barrier(). The barrier holds no mutex: an atomic arrival counter and
 * a generation word; waiters spin for a fixed time (about 50 us, by the
 * clock), then sleep on a futex, and an oversubscribed pool (more workers
 * than usable CPUs: online ∩ allowed ∩ the creating thread's affinity mask,
 * capped by the cgroup CPU quota, core/machine.h) sleeps at once. With
 * nth == 1 it returns at once.
 *
 * Cost: one pool_run is one barrier, not two: the end of a job and the
 * start of the next are one split barrier (workers arrive at the end and
 * wait there for the next start). A job with k pool_barrier calls costs
 * k + 1 barriers; pool_syncs counts them.
 */
#ifndef CLLM_POOL_H
#define CLLM_POOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pool pool_t;
typedef void (*pool_fn)(void *arg, int ith, int nth);

/* NULL with err filled when a thread cannot be created (the threads already
 * created are joined: they wait at a start gate until every worker exists).
 * Test hook: CLLM_FAIL_THREAD_AT=i in the environment makes the creation of
 * worker thread i (1..nth-1) fail. */
pool_t *pool_create(int nth, char *err, size_t errlen);
void pool_free(pool_t *p);                 /* tolerates NULL; joins workers */
void pool_run(pool_t *p, pool_fn fn, void *arg);
void pool_barrier(pool_t *p);
int pool_size(const pool_t *p);
/* How long a waiter spins before it sleeps, ns; 0: sleep at once (for
 * workers that share CPUs by pinning, whom the affinity count does not
 * show as oversubscribed). Any thread, any time. */
void pool_spin(pool_t *p, long ns);
/* the waiters' spin time now, ns (0: they sleep at once) */
long pool_spin_ns(const pool_t *p);
/* Barriers completed since pool_create: each pool_barrier round (once, not
 * once per worker) and each pool_run's job boundary; at nth == 1 as well. */
long pool_syncs(const pool_t *p);

#ifdef __cplusplus
}
#endif

#endif
