/* threadpool.h — a persistent pool of worker threads running one parallel task at a time.
 *
 * xf_pool_run(pool, fn, ctx) calls fn(ctx, ith, nth) once for each part ith = 0..nth-1 (nth =
 * the pool size) and returns when all have finished. The caller and the workers claim parts as
 * they come free, so which thread runs a part depends on timing (a worker that is asleep or
 * preempted leaves its part to the others) but what a part computes does not: fn decides it
 * from (ith, nth) alone, so results are independent of timing (deterministic for a given thread
 * count). Waiting threads spin briefly, yielding the CPU to other runnable threads, then sleep.
 */
#ifndef XF_CORE_THREADPOOL_H
#define XF_CORE_THREADPOOL_H

#include "xfmr.h"

typedef struct xf_pool xf_pool;
typedef void (*xf_pool_fn)(void *ctx, int ith, int nth);

/* n_threads <= 0 means the CPUs this process may use (xf_usable_cpus: affinity mask, cgroup CPU
 * quota), not the online cores. */
xf_status xf_pool_create(int n_threads, xf_pool **out);
void xf_pool_free(xf_pool *pool);
int xf_pool_size(const xf_pool *pool);
void xf_pool_run(xf_pool *pool, xf_pool_fn fn, void *ctx);
/* How many times the caller waited long for a preempted worker (and ran the next tasks alone for a
 * while): a sign of other processes competing for this pool's CPUs. */
long xf_pool_stalls(const xf_pool *pool);
/* Per-part scratch memory for tasks (kernels that pack or dequantize operands): part ith (whichever
 * thread runs it; slice 0 is also the caller's outside tasks) owns 1 MiB from the pool's
 * creation, and after xf_pool_reserve(pool, bytes) succeeds at least `bytes` bytes (64-byte
 * aligned) at xf_pool_scratch(pool, ith, &have), kept until the pool is freed; reserving happens outside tasks (at model load), never on the hot path.
 * A NULL pool has none (have = 0, NULL returned). */
xf_status xf_pool_reserve(xf_pool *pool, size_t bytes);
void *xf_pool_scratch(xf_pool *pool, int ith, size_t *have);

/* Split [0, n) into nth near-equal contiguous parts, rounded to multiples of `align`;
 * part ith is [*begin, *end). */
void xf_split_range(size_t n, size_t align, int ith, int nth, size_t *begin, size_t *end);

#endif
