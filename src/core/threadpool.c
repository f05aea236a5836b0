/* threadpool.c — persistent pthread pool. A task is split into parts 0..nth-1 (the caller's
 * fn(ctx, ith, nth) decides what part ith computes); the caller and the workers claim parts from
 * one atomic ticket until none is left, so a worker that is not running (asleep, or preempted
 * by another process) never holds up a part it has not claimed: the caller does it. Waiting is
 * bounded spinning that yields the CPU, then sleeping on a condvar. Each part owns a fixed
 * scratch buffer for packing kernels. */
#include "core/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/cpus.h"
#include "core/error.h"

#define XF_POOL_MAX 256
#define XF_POOL_SCRATCH (256 * 1024) /* floats per part: 1 MiB, a GEMM panel group */
/* Waiting (all in microseconds): a worker spins up to XF_POOL_SPIN_US for the next task before it
 * sleeps (tasks come microseconds apart during a forward pass); after XF_POOL_SPIN_PURE_US of pure
 * spinning, every XF_POOL_YIELD_EVERY-th round calls sched_yield, so a spinning thread hands its
 * CPU to whatever else is runnable there (the thread it waits for, or another process) instead of
 * burning it. The caller waiting for parts that workers hold spins up to XF_POOL_WAIT_US plus
 * its own share's time, then sleeps. */
#define XF_POOL_SPIN_US 300
#define XF_POOL_SPIN_PURE_US 30
#define XF_POOL_WAIT_US 100
#define XF_POOL_YIELD_EVERY 64
/* Under load (another process on our CPUs), a worker that claimed a part can be preempted in the
 * middle of it, and the caller waits for the scheduler to run it again (milliseconds). A task whose
 * caller waited more than XF_POOL_STALL_US plus its own share's time is a stall; after one, the
 * caller runs every part itself ("solo", the workers left asleep) for a back-off period that starts
 * at XF_POOL_SOLO_MIN_US and doubles with each stall that follows one up to XF_POOL_SOLO_MAX_US;
 * XF_POOL_CLEAN_US without a stall resets it. Which thread runs a part never changes its result. */
#define XF_POOL_STALL_US 200
#define XF_POOL_SOLO_MIN_US 20000
#define XF_POOL_SOLO_MAX_US 1000000
#define XF_POOL_CLEAN_US 1000000

/* The ticket: generation (32 bits) | part count (16) | next part to claim (16). One fetch_add
 * claims a part and tells which task it belongs to, so a late worker can never run a part of a
 * task with another task's part count. */
#define TK_N(t) ((int)(((t) >> 16) & 0xffff))
#define TK_I(t) ((int)((t)&0xffff))

struct xf_pool {
    int n;
    pthread_t threads[XF_POOL_MAX];
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    /* written once per task by the caller, read by every worker: own cache lines */
    _Alignas(64) atomic_ulong generation;
    _Alignas(64) atomic_uint_fast64_t ticket;
    _Alignas(64) atomic_int finished; /* parts of the current task done */
    atomic_int sleepers;              /* workers asleep (or about to be) on `wake` */
    atomic_int waiting;               /* the caller is asleep (or about to be) on `done` */
    atomic_int quit;
    xf_pool_fn fn;
    void *ctx;
    /* the caller's own: solo mode after stalls (XF_POOL_STALL_US), in CLOCK_MONOTONIC ns */
    int64_t solo_until, solo_len;
    long stalls;
    _Alignas(64) unsigned char *scratch; /* n slices of scratch_bytes (XF_POOL_SCRATCH at creation, xf_pool_reserve) */
    size_t scratch_bytes;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Bounded spinning: spin_more pauses once and returns 0 when budget_ns have passed since the
 * spinner started; the clock is read every XF_POOL_YIELD_EVERY rounds, and past
 * XF_POOL_SPIN_PURE_US each of those rounds also yields the CPU. */
typedef struct {
    int64_t start;
    unsigned rounds;
} spinner;

static inline int spin_more(spinner *sp, int64_t budget_ns) {
    cpu_relax();
    if (++sp->rounds % XF_POOL_YIELD_EVERY) return 1;
    const int64_t el = now_ns() - sp->start;
    if (el > budget_ns) return 0;
    if (el > XF_POOL_SPIN_PURE_US * 1000) sched_yield();
    return 1;
}

/* Claim and run parts of the current task until none is left. Returns the parts run. */
static int run_parts(xf_pool *p) {
    int ran = 0;
    for (;;) {
        uint_fast64_t t = atomic_fetch_add(&p->ticket, 1);
        const int i = TK_I(t), nth = TK_N(t);
        if (i >= nth) return ran;
        /* the part is unclaimed so far and unfinished: fn and ctx are its task's */
        p->fn(p->ctx, i, nth);
        ran++;
        if (atomic_fetch_add(&p->finished, 1) + 1 == nth && atomic_load(&p->waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* Every flag is read and written with sequentially consistent atomics: a sleeper announces itself
 * (sleepers / waiting) under the mutex before checking the condition, and the other side checks
 * the announcement after changing the condition, so no wake-up can be lost. */
static void *worker_main(void *arg) {
    xf_pool *p = arg;
    unsigned long seen = 0;
    for (;;) {
        spinner sp = {now_ns(), 0};
        while (atomic_load(&p->generation) == seen && !atomic_load(&p->quit) && spin_more(&sp, XF_POOL_SPIN_US * 1000))
            ;
        if (atomic_load(&p->generation) == seen && !atomic_load(&p->quit)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->quit)) pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) break;
        seen = atomic_load(&p->generation);
        run_parts(p);
    }
    return NULL;
}

xf_status xf_pool_create(int n_threads, xf_pool **out) {
    *out = NULL;
    if (n_threads <= 0) n_threads = xf_usable_cpus();
    if (n_threads > XF_POOL_MAX)
        return xf_error(XF_ERR_RANGE, "thread count %d is above the limit of %d", n_threads, XF_POOL_MAX);
    xf_pool *p = xf_aligned_alloc(sizeof *p);
    if (!p) return xf_error(XF_ERR_NOMEM, "cannot allocate the thread pool");
    memset(p, 0, sizeof *p);
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
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
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

/* A stall at time t: run solo for a back-off period (see XF_POOL_STALL_US). */
static void stalled(xf_pool *p, int64_t t) {
    const int64_t min = (int64_t)XF_POOL_SOLO_MIN_US * 1000, max = (int64_t)XF_POOL_SOLO_MAX_US * 1000;
    const int recent = p->solo_len > 0 && t - p->solo_until < (int64_t)XF_POOL_CLEAN_US * 1000;
    p->solo_len = recent ? (2 * p->solo_len < max ? 2 * p->solo_len : max) : min;
    p->solo_until = t + p->solo_len;
    p->stalls++;
}

void xf_pool_run(xf_pool *p, xf_pool_fn fn, void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    const int nth = p->n;
    const int64_t t0 = now_ns();
    if (t0 < p->solo_until) {
        for (int i = 0; i < nth; i++) fn(ctx, i, nth);
        return;
    }
    const unsigned long gen = atomic_load(&p->generation) + 1;
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->finished, 0);
    /* publishes fn / ctx to whoever claims a part of this task */
    atomic_store(&p->ticket, (uint_fast64_t)(uint32_t)gen << 32 | (uint_fast64_t)nth << 16);
    atomic_store(&p->generation, gen);
    if (atomic_load(&p->sleepers)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    const int mine = run_parts(p);
    if (atomic_load(&p->finished) == nth) return;
    const int64_t t1 = now_ns(), own = t1 - t0;
    spinner sp = {t1, 0};
    while (atomic_load(&p->finished) < nth && spin_more(&sp, (int64_t)XF_POOL_WAIT_US * 1000 + own))
        ;
    if (atomic_load(&p->finished) < nth) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->waiting, 1);
        while (atomic_load(&p->finished) < nth) pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->waiting, 0);
        pthread_mutex_unlock(&p->mu);
    }
    /* no judgement when the workers took every part: there is no own share to compare with */
    const int64_t t2 = now_ns();
    if (mine > 0 && t2 - t1 > (int64_t)XF_POOL_STALL_US * 1000 + own) stalled(p, t2);
}

long xf_pool_stalls(const xf_pool *p) { return p ? p->stalls : 0; }

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
