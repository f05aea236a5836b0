/* threadpool.c — persistent pthread pool: one generation counter, workers wait on a condvar. */
#include "core/threadpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

#define XF_POOL_MAX 256

struct xf_pool {
    int n;
    pthread_t threads[XF_POOL_MAX];
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long generation;
    int pending; /* workers still running the current task */
    int quit;
    xf_pool_fn fn;
    void *ctx;
    unsigned char *scratch; /* n slices of scratch_bytes (xf_pool_reserve) */
    size_t scratch_bytes;
};

typedef struct {
    xf_pool *pool;
    int ith;
} worker_arg;


static void *worker_main(void *arg) {
    xf_pool *p = ((worker_arg *)arg)->pool;
    int ith = ((worker_arg *)arg)->ith;
    free(arg);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        xf_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, ith, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

xf_status xf_pool_create(int n_threads, xf_pool **out) {
    *out = NULL;
    if (n_threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (int)c : 1;
    }
    if (n_threads > XF_POOL_MAX)
        return xf_error(XF_ERR_RANGE, "thread count %d is above the limit of %d", n_threads, XF_POOL_MAX);
    xf_pool *p = xf_calloc(1, sizeof *p);
    if (!p) return xf_error(XF_ERR_NOMEM, "cannot allocate the thread pool");
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = xf_malloc(sizeof *a);
        if (a) {
            a->pool = p;
            a->ith = i;
        }
        if (!a || pthread_create(&p->threads[i], NULL, worker_main, a) != 0) {
            free(a);
            p->n = i; /* the threads started so far are joined by xf_pool_free */
            xf_pool_free(p);
            return xf_error(XF_ERR_NOMEM, "cannot start worker thread %d of %d", i, n_threads);
        }
    }
    *out = p;
    return XF_OK;
}

void xf_pool_free(xf_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->scratch);
    free(p);
}

int xf_pool_size(const xf_pool *p) { return p ? p->n : 1; }

void xf_pool_run(xf_pool *p, xf_pool_fn fn, void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->pending = p->n - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

xf_status xf_pool_reserve(xf_pool *p, size_t bytes) {
    if (!p) return xf_error(XF_ERR_INVALID_ARG, "xf_pool_reserve: no thread pool");
    if (bytes <= p->scratch_bytes) return XF_OK;
    size_t slice = (bytes + 63) / 64 * 64, total;
    if (slice < bytes || !xf_mul_ok(slice, (size_t)p->n, &total))
        return xf_error(XF_ERR_NOMEM, "cannot reserve %zu bytes of scratch for each of %d threads", bytes, p->n);
    unsigned char *s = xf_aligned_alloc(total);
    if (!s) return xf_error(XF_ERR_NOMEM, "cannot reserve %zu bytes of scratch for each of %d threads", bytes, p->n);
    free(p->scratch);
    p->scratch = s;
    p->scratch_bytes = slice;
    return XF_OK;
}

void *xf_pool_scratch(xf_pool *p, int ith, size_t *have) {
    if (have) *have = p ? p->scratch_bytes : 0;
    return p && p->scratch ? p->scratch + (size_t)ith * p->scratch_bytes : NULL;
}

void xf_split_range(size_t n, size_t align, int ith, int nth, size_t *begin, size_t *end) {
    if (align == 0) align = 1;
    size_t units = (n + align - 1) / align;
    size_t per = units / (size_t)nth, extra = units % (size_t)nth;
    size_t b = (size_t)ith * per + ((size_t)ith < extra ? (size_t)ith : extra);
    size_t e = b + per + ((size_t)ith < extra ? 1 : 0);
    b *= align;
    e *= align;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}
