/*
 * pool.h - a persistent pool of worker threads and the barrier they meet at.
 *
 * pool_run(fn) runs fn(arg, ith, nth) on every worker; the calling thread is
 * worker 0, so a pool of 1 creates no thread. Inside fn, workers meet at
 * pool_barrier(). The barrier holds no mutex: an atomic arrival counter and
 * a generation word; waiters spin briefly, then sleep on a futex, so an
 * oversubscribed pool (more workers than CPUs) does not burn its time
 * slices spinning. With nth == 1 it returns at once.
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

#ifdef __cplusplus
}
#endif

#endif
