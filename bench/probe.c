/* probe.c — measures this machine's limits, the yardsticks bench/run.py expresses every figure
 * against: fp32 FMA peak (GFLOP/s) and memory read bandwidth (GB/s), each with 1 thread and with
 * N threads. Prints one JSON object:
 *   {"isa": "avx512f"|"avx2"|"scalar", "threads": N, "vector_floats": 16,
 *    "fma_gflops": {"1": x, "N": y}, "bandwidth_gb_s": {"1": x, "N": y}, "bandwidth_mib": 1024,
 *    "passes": P, "samples": {...}}
 *
 * FMA peak: each thread runs a loop of independent fused multiply-adds on vector registers
 * (16 zmm accumulators with AVX-512F, 12 ymm with AVX2+FMA: enough to cover the FMA latency on
 * two pipes), the ISA chosen at run time with __builtin_cpu_supports. 2 flops per lane per FMA.
 * Bandwidth: the threads sum a 1 GiB float array (each its contiguous share, first-touched by
 * the same thread, transparent huge pages asked for), best of several passes; bytes read / wall
 * time.
 *
 * usage: bench_probe [--threads N] [--mib M] [--passes P]   (N default: online cores) */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------ FMA peak */

#define FMA_ITERS 20000000L /* per thread and sample: ~0.1-0.3 s on one core */

/* Returns a value derived from the accumulators so the loop cannot be dropped. */
__attribute__((target("avx512f"))) static float fma_loop_avx512(long iters) {
    __m512 a = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(1e-7f);
    /* distinct starting values: identical chains would be merged into one by the compiler */
    __m512 c0 = _mm512_set1_ps(1.0f), c1 = _mm512_set1_ps(2.0f), c2 = _mm512_set1_ps(3.0f), c3 = _mm512_set1_ps(4.0f);
    __m512 c4 = _mm512_set1_ps(5.0f), c5 = _mm512_set1_ps(6.0f), c6 = _mm512_set1_ps(7.0f), c7 = _mm512_set1_ps(8.0f);
    __m512 c8 = _mm512_set1_ps(9.0f), c9 = _mm512_set1_ps(10.0f), c10 = _mm512_set1_ps(11.0f), c11 = _mm512_set1_ps(12.0f);
    __m512 c12 = _mm512_set1_ps(13.0f), c13 = _mm512_set1_ps(14.0f), c14 = _mm512_set1_ps(15.0f), c15 = _mm512_set1_ps(16.0f);
    for (long i = 0; i < iters; i++) {
        c0 = _mm512_fmadd_ps(c0, a, b), c1 = _mm512_fmadd_ps(c1, a, b);
        c2 = _mm512_fmadd_ps(c2, a, b), c3 = _mm512_fmadd_ps(c3, a, b);
        c4 = _mm512_fmadd_ps(c4, a, b), c5 = _mm512_fmadd_ps(c5, a, b);
        c6 = _mm512_fmadd_ps(c6, a, b), c7 = _mm512_fmadd_ps(c7, a, b);
        c8 = _mm512_fmadd_ps(c8, a, b), c9 = _mm512_fmadd_ps(c9, a, b);
        c10 = _mm512_fmadd_ps(c10, a, b), c11 = _mm512_fmadd_ps(c11, a, b);
        c12 = _mm512_fmadd_ps(c12, a, b), c13 = _mm512_fmadd_ps(c13, a, b);
        c14 = _mm512_fmadd_ps(c14, a, b), c15 = _mm512_fmadd_ps(c15, a, b);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)),
                                       _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15))));
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_loop_avx2(long iters) {
    __m256 a = _mm256_set1_ps(0.9999999f), b = _mm256_set1_ps(1e-7f);
    __m256 c0 = _mm256_set1_ps(1.0f), c1 = _mm256_set1_ps(2.0f), c2 = _mm256_set1_ps(3.0f), c3 = _mm256_set1_ps(4.0f);
    __m256 c4 = _mm256_set1_ps(5.0f), c5 = _mm256_set1_ps(6.0f), c6 = _mm256_set1_ps(7.0f), c7 = _mm256_set1_ps(8.0f);
    __m256 c8 = _mm256_set1_ps(9.0f), c9 = _mm256_set1_ps(10.0f), c10 = _mm256_set1_ps(11.0f), c11 = _mm256_set1_ps(12.0f);
    for (long i = 0; i < iters; i++) {
        c0 = _mm256_fmadd_ps(c0, a, b), c1 = _mm256_fmadd_ps(c1, a, b);
        c2 = _mm256_fmadd_ps(c2, a, b), c3 = _mm256_fmadd_ps(c3, a, b);
        c4 = _mm256_fmadd_ps(c4, a, b), c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b), c7 = _mm256_fmadd_ps(c7, a, b);
        c8 = _mm256_fmadd_ps(c8, a, b), c9 = _mm256_fmadd_ps(c9, a, b);
        c10 = _mm256_fmadd_ps(c10, a, b), c11 = _mm256_fmadd_ps(c11, a, b);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float v[8];
    _mm256_storeu_ps(v, s);
    return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

/* Scalar fallback: 8 independent chains (the compiler may contract them into FMAs). */
static float fma_loop_scalar(long iters) {
    float c[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < 8; j++) c[j] = c[j] * 0.9999999f + 1e-7f;
    return c[0] + c[1] + c[2] + c[3] + c[4] + c[5] + c[6] + c[7];
}

typedef enum { ISA_SCALAR, ISA_AVX2, ISA_AVX512 } isa_t;
static isa_t g_isa;

static double flops_per_iter(void) {
    switch (g_isa) {
    case ISA_AVX512: return 16.0 * 16 * 2;
    case ISA_AVX2: return 12.0 * 8 * 2;
    default: return 8.0 * 2;
    }
}

static volatile float g_sink;

static void *fma_thread(void *arg) {
    long iters = *(const long *)arg;
    float r = g_isa == ISA_AVX512 ? fma_loop_avx512(iters) : g_isa == ISA_AVX2 ? fma_loop_avx2(iters)
                                                                              : fma_loop_scalar(iters);
    g_sink += r;
    return NULL;
}

/* GFLOP/s of nth threads each running `iters` iterations (wall time of the whole group). */
static double fma_sample(int nth, long iters) {
    pthread_t *t = malloc((size_t)nth * sizeof *t);
    double t0 = now();
    for (int i = 1; i < nth; i++) pthread_create(&t[i], NULL, fma_thread, &iters);
    fma_thread(&iters);
    for (int i = 1; i < nth; i++) pthread_join(t[i], NULL);
    double dt = now() - t0;
    free(t);
    return (double)nth * (double)iters * flops_per_iter() / dt / 1e9;
}

/* ------------------------------------------------------------------ bandwidth */

typedef struct {
    float *p;
    size_t n;
    double sum;
} bw_job;

__attribute__((target("avx512f"))) static double sum_avx512(const float *p, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(p + i));
        s1 = _mm512_add_ps(s1, _mm512_loadu_ps(p + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_loadu_ps(p + i + 32));
        s3 = _mm512_add_ps(s3, _mm512_loadu_ps(p + i + 48));
    }
    double s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    for (; i < n; i++) s += p[i];
    return s;
}

__attribute__((target("avx2"))) static double sum_avx2(const float *p, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(p + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(p + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(p + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(p + i + 24));
    }
    float v[8];
    _mm256_storeu_ps(v, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    double s = 0;
    for (int j = 0; j < 8; j++) s += v[j];
    for (; i < n; i++) s += p[i];
    return s;
}

static double sum_scalar(const float *p, size_t n) {
    float s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += p[i + j];
    double r = 0;
    for (int j = 0; j < 8; j++) r += s[j];
    for (; i < n; i++) r += p[i];
    return r;
}

static void *bw_fill(void *arg) {
    bw_job *j = arg;
    for (size_t i = 0; i < j->n; i++) j->p[i] = 1.0f;
    return NULL;
}

static void *bw_sum(void *arg) {
    bw_job *j = arg;
    j->sum = g_isa == ISA_AVX512 ? sum_avx512(j->p, j->n) : g_isa == ISA_AVX2 ? sum_avx2(j->p, j->n)
                                                                           : sum_scalar(j->p, j->n);
    return NULL;
}

/* Runs fn over nth contiguous shares of a[0..n); returns the wall time. */
static double bw_run(void *(*fn)(void *), float *a, size_t n, int nth) {
    bw_job *jobs = calloc((size_t)nth, sizeof *jobs);
    pthread_t *t = malloc((size_t)nth * sizeof *t);
    size_t share = (n / (size_t)nth) & ~(size_t)63;
    for (int i = 0; i < nth; i++) {
        jobs[i].p = a + (size_t)i * share;
        jobs[i].n = i == nth - 1 ? n - (size_t)i * share : share;
    }
    double t0 = now();
    for (int i = 1; i < nth; i++) pthread_create(&t[i], NULL, fn, &jobs[i]);
    fn(&jobs[0]);
    for (int i = 1; i < nth; i++) pthread_join(t[i], NULL);
    double dt = now() - t0;
    double s = 0;
    for (int i = 0; i < nth; i++) s += jobs[i].sum;
    g_sink += (float)s;
    free(jobs), free(t);
    return dt;
}

/* ------------------------------------------------------------------ main */

static long arg_long(const char *name, const char *v, long lo, long hi) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "bench_probe: %s must be an integer in [%ld, %ld]\n", name, lo, hi);
        exit(2);
    }
    return x;
}

static double best(const double *v, int n) {
    double b = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] > b) b = v[i];
    return b;
}

static void print_samples(const double *v, int n) {
    printf("[");
    for (int i = 0; i < n; i++) printf("%s%.2f", i ? ", " : "", v[i]);
    printf("]");
}

int main(int argc, char **argv) {
    long nth = sysconf(_SC_NPROCESSORS_ONLN), mib = 1024, passes = 5;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--threads") == 0)
            nth = arg_long("--threads", argv[++i], 1, 1024);
        else if (i + 1 < argc && strcmp(argv[i], "--mib") == 0)
            mib = arg_long("--mib", argv[++i], 1, 1 << 20);
        else if (i + 1 < argc && strcmp(argv[i], "--passes") == 0)
            passes = arg_long("--passes", argv[++i], 1, 100);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--mib M] [--passes P]\n", argv[0]);
            return 2;
        }
    }
    if (nth < 1) nth = 1;
    __builtin_cpu_init();
    g_isa = __builtin_cpu_supports("avx512f") ? ISA_AVX512
            : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? ISA_AVX2
                                                                                 : ISA_SCALAR;
    const char *isa_name = g_isa == ISA_AVX512 ? "avx512f" : g_isa == ISA_AVX2 ? "avx2" : "scalar";
    int counts[2] = {1, (int)nth}, n_counts = nth > 1 ? 2 : 1;

    /* FMA: calibrate the iteration count on one thread to ~0.2 s per sample. */
    long iters = FMA_ITERS / (g_isa == ISA_SCALAR ? 4 : 1);
    double probe_s = (double)iters * flops_per_iter() / (fma_sample(1, iters / 10) * 1e9);
    if (probe_s > 0) iters = (long)((double)iters * 0.2 / probe_s) + 1000;
    double fma[2][100], bw[2][100];
    for (int c = 0; c < n_counts; c++)
        for (int p = 0; p < passes; p++) fma[c][p] = fma_sample(counts[c], iters);

    size_t n = (size_t)mib * (1u << 20) / sizeof(float);
    size_t bytes = (n * sizeof(float) + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
    float *a = aligned_alloc(2u << 20, bytes);
    if (!a) {
        fprintf(stderr, "bench_probe: cannot allocate %ld MiB\n", mib);
        return 1;
    }
    madvise(a, bytes, MADV_HUGEPAGE); /* fewer TLB misses: the limit, not the page walker (may fail: fine) */
    bw_run(bw_fill, a, n, (int)nth); /* first touch, split like the widest read */
    for (int c = 0; c < n_counts; c++) {
        bw_run(bw_sum, a, n, counts[c]); /* warm-up pass */
        for (int p = 0; p < passes; p++) bw[c][p] = (double)n * sizeof(float) / bw_run(bw_sum, a, n, counts[c]) / 1e9;
    }
    free(a);

    printf("{\"isa\": \"%s\", \"threads\": %ld, \"vector_floats\": %d, \"passes\": %ld, \"bandwidth_mib\": %ld, ",
           isa_name, nth, g_isa == ISA_AVX512 ? 16 : g_isa == ISA_AVX2 ? 8 : 1, passes, mib);
    printf("\"fma_gflops\": {");
    for (int c = 0; c < n_counts; c++) printf("%s\"%d\": %.2f", c ? ", " : "", counts[c], best(fma[c], (int)passes));
    printf("}, \"bandwidth_gb_s\": {");
    for (int c = 0; c < n_counts; c++) printf("%s\"%d\": %.2f", c ? ", " : "", counts[c], best(bw[c], (int)passes));
    printf("}, \"samples\": {\"fma_gflops\": {");
    for (int c = 0; c < n_counts; c++) {
        printf("%s\"%d\": ", c ? ", " : "", counts[c]);
        print_samples(fma[c], (int)passes);
    }
    printf("}, \"bandwidth_gb_s\": {");
    for (int c = 0; c < n_counts; c++) {
        printf("%s\"%d\": ", c ? ", " : "", counts[c]);
        print_samples(bw[c], (int)passes);
    }
    printf("}}}\n");
    return 0;
}
