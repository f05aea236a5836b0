/* bench_gemm.c — GFLOP/s of the library's fp32 GEMM (xf_matmul_f32_nt, the product behind every
 * linear layer: Y[T,N] = X[T,K] . W[N,K]^T + b) on large shapes, for bench/run.py, which divides
 * them by the FMA peak bench_probe measures. Prints one JSON object:
 *   {"threads": [1, 2], "results": [{"T":..,"N":..,"K":..,"threads":..,"reps":..,
 *     "seconds": [per-call s of each run], "median_s":.., "gflops":..}, ...]}
 * Each run times `reps` back-to-back calls (reps chosen so that a run takes >= ~0.1 s) after one
 * untimed warm-up call; GFLOP/s = 2 T N K / median per-call seconds.
 *
 * usage: bench_gemm [--threads 1,2] [--runs R] [--shapes TxNxK,...] */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/threadpool.h"
#include "kernels/matmul.h"

#include "bench_util.h"

/* Default shapes (T x N x K): a square one, a tall one, and all-MiniLM-L6-v2's linear layers on a
 * 2048-token batch (Q/K/V/output projections, FFN up, FFN down). */
static const char *DEFAULT_SHAPES = "1024x1024x1024,4096x384x1536,2048x384x384,2048x1536x384,2048x384x1536";

#define MAX_LIST 32

/* "1,2,4" -> out; returns the count, -1 on a malformed list. */
static int parse_list(const char *s, long *out, int max) {
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || n == max || (*end && *end != ',')) return -1;
        out[n++] = v;
        s = *end ? end + 1 : end;
    }
    return n;
}

static void fill(float *p, size_t n, unsigned *seed) {
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = (float)((*seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
}

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s [--threads 1,2] [--runs R] [--shapes TxNxK,...]\n", argv0);
    exit(2);
}

int main(int argc, char **argv) {
    long threads[MAX_LIST] = {1, 2};
    int n_threads = 2;
    long runs = 5;
    const char *shapes = DEFAULT_SHAPES;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) {
            n_threads = parse_list(argv[++i], threads, MAX_LIST);
            if (n_threads < 1) usage(argv[0]);
        } else if (i + 1 < argc && strcmp(argv[i], "--runs") == 0) {
            runs = strtol(argv[++i], NULL, 10);
            if (runs < 1 || runs > 100) usage(argv[0]);
        } else if (i + 1 < argc && strcmp(argv[i], "--shapes") == 0)
            shapes = argv[++i];
        else
            usage(argv[0]);
    }
    /* Shapes: "TxNxK,TxNxK,...". */
    long dims[MAX_LIST][3];
    int n_shapes = 0;
    for (const char *s = shapes; *s && n_shapes < MAX_LIST;) {
        long d[3];
        char *end;
        for (int k = 0; k < 3; k++) {
            d[k] = strtol(s, &end, 10);
            if (end == s || d[k] < 1 || (k < 2 && *end != 'x')) usage(argv[0]);
            s = k < 2 ? end + 1 : end;
        }
        memcpy(dims[n_shapes++], d, sizeof d);
        if (*s == ',') s++;
        else if (*s) usage(argv[0]);
    }

    double *secs = malloc((size_t)runs * sizeof *secs);
    unsigned seed = 12345;
    printf("{\"threads\": [");
    for (int t = 0; t < n_threads; t++) printf("%s%ld", t ? ", " : "", threads[t]);
    printf("], \"runs\": %ld, \"results\": [", runs);
    int first = 1;
    for (int t = 0; t < n_threads; t++) {
        xf_pool *pool = NULL;
        if (xf_pool_create((int)threads[t], &pool) != XF_OK) {
            fprintf(stderr, "bench_gemm: xf_pool_create(%ld) failed\n", threads[t]);
            return 1;
        }
        for (int s = 0; s < n_shapes; s++) {
            size_t T = (size_t)dims[s][0], N = (size_t)dims[s][1], K = (size_t)dims[s][2];
            float *X = malloc(T * K * sizeof *X), *W = malloc(N * K * sizeof *W), *b = malloc(N * sizeof *b);
            float *Y = malloc(T * N * sizeof *Y);
            if (!X || !W || !b || !Y) {
                fprintf(stderr, "bench_gemm: out of memory for %zux%zux%zu\n", T, N, K);
                return 1;
            }
            fill(X, T * K, &seed), fill(W, N * K, &seed), fill(b, N, &seed);
            double t0 = bench_now();
            xf_matmul_f32_nt(pool, X, K, W, K, b, Y, N, T, N, K); /* warm-up, and a first timing */
            double one = bench_now() - t0;
            long reps = one > 0 ? (long)(0.1 / one) + 1 : 1;
            if (reps > 1000) reps = 1000;
            for (long r = 0; r < runs; r++) {
                t0 = bench_now();
                for (long k = 0; k < reps; k++) xf_matmul_f32_nt(pool, X, K, W, K, b, Y, N, T, N, K);
                secs[r] = (bench_now() - t0) / (double)reps;
            }
            double flop = 2.0 * (double)T * (double)N * (double)K;
            printf("%s{\"T\": %zu, \"N\": %zu, \"K\": %zu, \"threads\": %ld, \"reps\": %ld, \"seconds\": [",
                   first ? "" : ", ", T, N, K, threads[t], reps);
            first = 0;
            for (long r = 0; r < runs; r++) printf("%s%.6f", r ? ", " : "", secs[r]);
            double med = bench_median(secs, runs);
            printf("], \"median_s\": %.6f, \"gflops\": %.2f, \"check\": %.4f}", med, flop / med / 1e9,
                   (double)Y[(T / 2) * N + N / 2]);
            fflush(stdout);
            free(X), free(W), free(b), free(Y);
        }
        xf_pool_free(pool);
    }
    printf("]}\n");
    free(secs);
    return 0;
}
