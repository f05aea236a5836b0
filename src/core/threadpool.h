/* threadpool.h — a persistent pool of worker threads running one parallel task at a time.
 *
 * xf_pool_run(pool, fn, ctx) calls fn(ctx, ith, nth) for ith = 0..nth-1, the calling thread
 * taking ith = 0, and returns when all have finished. Workers spin briefly for the next task
 * (tasks come in quick succession during a forward pass), then sleep. Work
 * splitting is the caller's: fn decides its share from (ith, nth), so that results are
 * independent of timing (deterministic for a given thread count).
 */
#ifndef XF_CORE_THREADPOOL_H
#define XF_CORE_THREADPOOL_H

#include "xfmr.h"

typedef struct xf_pool xf_pool;
typedef void (*xf_pool_fn)(void *ctx, int ith, int nth);

/* n_threads <= 0 means the number of online cores. */
xf_status xf_pool_create(int n_threads, xf_pool **out);
void xf_pool_free(xf_pool *pool);
int xf_pool_size(const xf_pool *pool);
void xf_pool_run(xf_pool *pool, xf_pool_fn fn, void *ctx);
/* Per-thread scratch memory for tasks (kernels that pack or dequantize operands): each thread ith
 * owns 1 MiB from the pool's creation, and after xf_pool_reserve(pool, bytes) succeeds at least
 * `bytes` bytes (64-byte aligned) at xf_pool_scratch(pool, ith, &have), kept
 * until the pool is freed; reserving happens outside tasks (at model load), never on the hot path.
 * A NULL pool has none (have = 0, NULL returned). */
xf_status xf_pool_reserve(xf_pool *pool, size_t bytes);
void *xf_pool_scratch(xf_pool *pool, int ith, size_t *have);

/* Split [0, n) into nth near-equal contiguous parts, rounded to multiples of `align`;
 * part ith is [*begin, *end). */
void xf_split_range(size_t n, size_t align, int ith, int nth, size_t *begin, size_t *end);

#endif
