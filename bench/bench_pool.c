/* bench_pool.c — xfmr's persistent thread pool against OpenMP on the same work: the cost of one
 * fork-join (an empty task) and of the GEMMs of one MiniLM layer at batch 1 (46 tokens) and of
 * a SmolLM2 decode step's largest matrix (one row), split the same way (whole panels of columns)
 * by both. Prints JSON: ns per fork-join and us per product, medians of 7 repetitions.
 *
 * usage: bench_pool THREADS */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "kernels/matmul.h"

#include "bench_util.h"

static void empty_task(void *ctx, int ith, int nth) {
    (void)ith, (void)nth;
    __atomic_add_fetch((int *)ctx, 1, __ATOMIC_RELAXED);
}

typedef struct {
    const float *X, *Wp;
    float *Y;
    size_t T, N, K;
    xf_gemm_isa isa;
} job;

static void part(const job *j, int ith, int nth) {
    size_t n0, n1;
    xf_split_range(j->N, xf_gemm_panel(j->isa), ith, nth, &n0, &n1);
    if (n0 < n1) xf_gemm_f32_packed(j->isa, j->X, j->K, j->Wp, NULL, j->Y, j->N, j->T, n0, n1, j->K);
}

static void pool_task(void *ctx, int ith, int nth) { part(ctx, ith, nth); }

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1) return 2;
    xf_pool *pool;
    if (xf_pool_create(threads, &pool)) return 1;
    omp_set_num_threads(threads);
    enum { REPS = 7, FORKS = 20000 };
    double t_pool[REPS], t_omp[REPS];
    int counter = 0;
    for (int r = 0; r < REPS; r++) {
        double t0 = bench_now();
        for (int i = 0; i < FORKS; i++) xf_pool_run(pool, empty_task, &counter);
        t_pool[r] = (bench_now() - t0) / FORKS * 1e9;
        t0 = bench_now();
        for (int i = 0; i < FORKS; i++) {
#pragma omp parallel
            empty_task(&counter, omp_get_thread_num(), omp_get_num_threads());
        }
        t_omp[r] = (bench_now() - t0) / FORKS * 1e9;
    }
    printf("{\"threads\": %d, \"fork_join_ns\": {\"xfmr_pool\": %.0f, \"openmp\": %.0f}, \"products_us\": [", threads,
           bench_median(t_pool, REPS), bench_median(t_omp, REPS));
    /* MiniLM layer at batch 1 (T = 46): QKV/O 384x384, FFN 1536x384 and 384x1536; SmolLM2 lm_head row */
    const size_t shapes[][3] = {{46, 384, 384}, {46, 1536, 384}, {46, 384, 1536}, {1, 49152, 576}, {1, 1536, 576}};
    xf_gemm_isa isa = xf_gemm_isa_best();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        job j = {0};
        j.T = shapes[s][0], j.N = shapes[s][1], j.K = shapes[s][2], j.isa = isa;
        float *X = xf_aligned_alloc(j.T * j.K * 4), *W = xf_aligned_alloc(j.N * j.K * 4);
        float *Wp = xf_aligned_alloc(xf_gemm_packed_floats(isa, j.N, j.K) * 4), *Y = xf_aligned_alloc(j.T * j.N * 4);
        for (size_t i = 0; i < j.T * j.K; i++) X[i] = (float)(i % 13) * 0.01f;
        for (size_t i = 0; i < j.N * j.K; i++) W[i] = (float)(i % 7) * 0.01f;
        xf_gemm_pack(isa, W, j.K, j.N, j.K, Wp);
        j.X = X, j.Wp = Wp, j.Y = Y;
        int iters = j.T > 1 ? 200 : 50;
        for (int r = 0; r < REPS; r++) {
            double t0 = bench_now();
            for (int i = 0; i < iters; i++) xf_pool_run(pool, pool_task, &j);
            t_pool[r] = (bench_now() - t0) / iters * 1e6;
            t0 = bench_now();
            for (int i = 0; i < iters; i++) {
#pragma omp parallel
                part(&j, omp_get_thread_num(), omp_get_num_threads());
            }
            t_omp[r] = (bench_now() - t0) / iters * 1e6;
        }
        printf("%s{\"T\": %zu, \"N\": %zu, \"K\": %zu, \"xfmr_pool\": %.1f, \"openmp\": %.1f}", s ? ", " : "", j.T, j.N,
               j.K, bench_median(t_pool, REPS), bench_median(t_omp, REPS));
        free(X), free(W), free(Wp), free(Y);
    }
    printf("]}\n");
    xf_pool_free(pool);
    return 0;
}
