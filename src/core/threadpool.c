/* threadpool.c — persistent pthread pool: one generation counter; workers spin briefly, then wait
 * on a condvar; each thread owns a fixed scratch buffer for packing kernels. */
#include "core/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

#define XF_POOL_MAX 256
#define XF_POOL_SCRATCH (256 * 1024) /* floats per thread: 1 MiB, a GEMM panel group */
#define XF_POOL_SPIN 20000           /* pause-loop rounds before sleeping (~0.2-0.5 ms) */

struct xf_pool {
    int n;
    pthread_t threads[XF_POOL_MAX];
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_ulong generation;
    atomic_int pending;  /* workers still running the current task */
    atomic_int sleepers; /* workers asleep (or about to be) on `wake` */
    atomic_int waiting;  /* the caller is asleep (or about to be) on `done` */
    atomic_int quit;
    xf_pool_fn fn;
    void *ctx;
    unsigned char *scratch; /* n slices of scratch_bytes (XF_POOL_SCRATCH at creation, xf_pool_reserve) */
    size_t scratch_bytes;
};

typedef struct {
    xf_pool *pool;
    int ith;
} worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Every flag is read and written with sequentially consistent atomics: a sleeper announces itself
 * (sleepers / waiting) under the mutex before checking the condition, and the other side checks
 * the announcement after changing the condition, so no wake-up can be lost. */
static void *worker_main(void *arg) {
    xf_pool *p = ((worker_arg *)arg)->pool;
    int ith = ((worker_arg *)arg)->ith;
    free(arg);
    unsigned long seen = 0;
    for (;;) {
        for (int s = 0; s < XF_POOL_SPIN && atomic_load(&p->generation) == seen && !atomic_load(&p->quit); s++)
            cpu_relax();
        if (atomic_load(&p->generation) == seen && !atomic_load(&p->quit)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->quit)) pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) break;
        seen = atomic_load(&p->generation);
        p->fn(p->ctx, ith, p->n);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
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
    p->n = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->n = n_threads; /* for the scratch slices; set back while threads start */
    xf_status st = xf_pool_reserve(p, XF_POOL_SCRATCH * sizeof(float));
    p->n = 1;
    if (st) {
        xf_pool_free(p);
        return st;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = xf_malloc(sizeof *a);
        if (a) {
            a->pool = p;
            a->ith = i;
        }
        if (!a || pthread_create(&p->threads[i], NULL, worker_main, a) != 0) {
            free(a);
            xf_pool_free(p); /* joins the threads started so far */
            return xf_error(XF_ERR_NOMEM, "cannot start worker thread %d of %d", i, n_threads);
        }
        p->n = i + 1;
    }
    *out = p;
    return XF_OK;
}

void xf_pool_free(xf_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
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
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, p->n);
    for (int s = 0; s < XF_POOL_SPIN && atomic_load(&p->pending) > 0; s++) cpu_relax();
    if (atomic_load(&p->pending) > 0) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->waiting, 1);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->waiting, 0);
        pthread_mutex_unlock(&p->mu);
    }
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
    int ok = p && p->scratch && ith >= 0 && ith < p->n;
    if (have) *have = ok ? p->scratch_bytes : 0;
    return ok ? p->scratch + (size_t)ith * p->scratch_bytes : NULL;
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
