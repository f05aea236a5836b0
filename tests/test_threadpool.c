/* test_threadpool.c — the thread pool and the default thread count: every part of every task runs
 * exactly once with its own (ith, nth) and its own scratch slice, for pools larger than the machine
 * (oversubscribed: parts left by preempted workers are done by the others) and with a competing
 * busy thread; tasks following each other immediately and after the workers fell asleep; the
 * cgroup cpu.max parser; the default thread count follows the affinity mask. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/cpus.h"
#include "core/threadpool.h"
#include "harness.h"

enum { MAXP = 16, TASKS = 3000 };

typedef struct {
    xf_pool *pool;
    atomic_int runs[MAXP];
    atomic_int bad; /* wrong nth, part out of range, scratch overlap */
    int task;       /* task number, written by the caller between tasks */
    int seen[MAXP]; /* per part: the last task number it ran in */
} count_ctx;

static void count_task(void *v, int ith, int nth) {
    count_ctx *c = v;
    if (nth != xf_pool_size(c->pool) || ith < 0 || ith >= nth || ith >= MAXP) {
        atomic_fetch_add(&c->bad, 1);
        return;
    }
    atomic_fetch_add(&c->runs[ith], 1);
    /* a part runs once per task: it must not have seen this task before */
    if (c->seen[ith] == c->task) atomic_fetch_add(&c->bad, 1);
    c->seen[ith] = c->task;
    /* the part's scratch is its own while it runs: fill it with ith, check nobody else wrote */
    size_t have;
    unsigned char *s = xf_pool_scratch(c->pool, ith, &have);
    if (!s || have < 4096) {
        atomic_fetch_add(&c->bad, 1);
        return;
    }
    memset(s, ith + 1, 4096);
    for (volatile int k = 0; k < 200 * (ith + 1); k++) {
    }
    for (size_t k = 0; k < 4096; k++)
        if (s[k] != ith + 1) {
            atomic_fetch_add(&c->bad, 1);
            break;
        }
}

static void check_pool(int n, int sleep_between) {
    xf_pool *pool = NULL;
    CHECK(xf_pool_create(n, &pool) == XF_OK);
    if (!pool) return;
    CHECK(xf_pool_size(pool) == n);
    count_ctx *c = calloc(1, sizeof *c);
    c->pool = pool;
    for (int i = 0; i < MAXP; i++) c->seen[i] = -1;
    const int tasks = sleep_between ? 40 : TASKS;
    for (int t = 0; t < tasks; t++) {
        c->task = t;
        xf_pool_run(pool, count_task, c);
        if (sleep_between) usleep(2000); /* workers go to sleep between tasks */
    }
    int ok = 1;
    for (int i = 0; i < n; i++) ok &= atomic_load(&c->runs[i]) == tasks;
    CHECK_MSG(ok && atomic_load(&c->bad) == 0, "pool of %d%s: parts did not run exactly once each (bad %d)", n,
              sleep_between ? " (sleeping workers)" : "", atomic_load(&c->bad));
    free(c);
    xf_pool_free(pool);
}

static atomic_int g_stop;
static void *busy(void *arg) {
    (void)arg;
    while (!atomic_load(&g_stop)) {
    }
    return NULL;
}

static void check_cpus(void) {
    CHECK(xf_cpu_max_threads("max 100000\n") == 0);
    CHECK(xf_cpu_max_threads("100000 100000\n") == 1);
    CHECK(xf_cpu_max_threads("150000 100000") == 2); /* 1.5 CPUs of time: 2 threads */
    CHECK(xf_cpu_max_threads("400000 100000\n") == 4);
    CHECK(xf_cpu_max_threads("1000 100000\n") == 1);
    CHECK(xf_cpu_max_threads("") == 0 && xf_cpu_max_threads("garbage") == 0 && xf_cpu_max_threads(NULL) == 0);
    CHECK(xf_cpu_max_threads("-1 100000") == 0 && xf_cpu_max_threads("100000 0") == 0);
    CHECK(xf_cpu_max_threads("200000 100000 extra") == 0);
    const int n = xf_usable_cpus(), online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    CHECK_MSG(n >= 1 && n <= online, "usable CPUs %d, online %d", n, online);
    /* pinned to one CPU, the default pool has one thread */
    cpu_set_t old, one;
    if (sched_getaffinity(0, sizeof old, &old) == 0) {
        int first = 0;
        while (first < CPU_SETSIZE && !CPU_ISSET(first, &old)) first++;
        CPU_ZERO(&one);
        CPU_SET(first, &one);
        if (sched_setaffinity(0, sizeof one, &one) == 0) {
            CHECK(xf_affinity_cpus() == 1 && xf_usable_cpus() == 1);
            xf_pool *pool = NULL;
            CHECK(xf_pool_create(0, &pool) == XF_OK && xf_pool_size(pool) == 1);
            xf_pool_free(pool);
            sched_setaffinity(0, sizeof old, &old);
        }
    }
    xf_pool *pool = NULL;
    CHECK(xf_pool_create(0, &pool) == XF_OK && xf_pool_size(pool) == xf_usable_cpus());
    xf_pool_free(pool);
}

int main(void) {
    check_cpus();
    for (int n = 1; n <= 5; n++) check_pool(n, 0);
    check_pool(3, 1);
    /* a competing busy thread takes a CPU: every part still runs once */
    pthread_t b;
    if (pthread_create(&b, NULL, busy, NULL) == 0) {
        check_pool(2, 0);
        check_pool(4, 0);
        atomic_store(&g_stop, 1);
        pthread_join(b, NULL);
    }
    return xf_t_report();
}
