/* bench_gemm.c — GFLOP/s of the library's fp32 GEMM (xf_matmul_f32_nt, the product behind every
 * linear layer: Y[T,N] = X[T,K] . W[N,K]^T + b) on large shapes, for bench/run.py, which divides
 * them by the FMA peak bench_probe measures. --kind f32p times the same product with W packed
 * once (xf_matmul_f32_packed, as the model runs its linear layers), --kind i8 the int8 GEMM
 * (xf_matmul_i8, --weights int8), --kind bf16 the bf16 one (xf_matmul_bf16, --weights bf16) on the
 * same shapes; XF_ISA=avx2 picks the AVX2 kernels.
 * Prints one JSON object:
 *   {"kind": "f32", "isa": "avx512", "threads": [1, 2], "results": [{"T":..,"N":..,"K":..,"threads":..,"reps":..,
 *     "seconds": [per-call s of each run], "median_s":.., "gflops":..}, ...]}
 * Each run times `reps` back-to-back calls (reps chosen so that a run takes >= ~0.1 s) after one
 * untimed warm-up call; GFLOP/s = 2 T N K / median per-call seconds. "cpu_seconds" / "gflops_cpu":
 * the same from the process's CPU time (with 1 thread, the speed it would have alone on a shared,
 * oversubscribed machine).
 *
 * usage: bench_gemm [--threads 1,2] [--runs R] [--shapes TxNxK,...] [--kind f32|f32p|i8|bf16] */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/threadpool.h"
#include "core/alloc.h"
#include "kernels/cpu.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_i8.h"
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
    fprintf(stderr, "usage: %s [--threads 1,2] [--runs R] [--shapes TxNxK,...] [--kind f32|f32p|i8|bf16]\n", argv0);
    exit(2);
}

int main(int argc, char **argv) {
    long threads[MAX_LIST] = {1, 2};
    int n_threads = 2;
    long runs = 5;
    const char *shapes = DEFAULT_SHAPES, *kind = "f32";
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--threads") == 0) {
            n_threads = parse_list(argv[++i], threads, MAX_LIST);
            if (n_threads < 1) usage(argv[0]);
        } else if (i + 1 < argc && strcmp(argv[i], "--runs") == 0) {
            runs = strtol(argv[++i], NULL, 10);
            if (runs < 1 || runs > 100) usage(argv[0]);
        } else if (i + 1 < argc && strcmp(argv[i], "--shapes") == 0) {
            shapes = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--kind") == 0) {
            kind = argv[++i];
            if (strcmp(kind, "f32") && strcmp(kind, "f32p") && strcmp(kind, "i8") && strcmp(kind, "bf16")) usage(argv[0]);
        }
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

    double *secs = malloc((size_t)runs * sizeof *secs), *cpus = malloc((size_t)runs * sizeof *cpus);
    unsigned seed = 12345;
    const int kf = strcmp(kind, "f32p") == 0 ? 1 : strcmp(kind, "i8") == 0 ? 2 : strcmp(kind, "bf16") == 0 ? 3 : 0;
    const xf_gemm_isa gi = xf_gemm_isa_best();
    printf("{\"kind\": \"%s\", \"isa\": \"%s\", \"threads\": [", kind, xf_isa_level_name(xf_isa_level()));
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
            /* the weights in the form the kind multiplies */
            void *Wk = kf == 1 ? xf_aligned_alloc(xf_gemm_packed_floats(gi, N, K) * sizeof(float))
                     : kf == 2 ? xf_aligned_alloc(xf_i8_packed_bytes(N, K))
                     : kf == 3 ? xf_aligned_alloc(xf_bf16_packed_bytes(N, K)) : NULL;
            float *sw = malloc(N * sizeof *sw);
            if ((kf && !Wk) || !sw) {
                fprintf(stderr, "bench_gemm: out of memory for %zux%zux%zu\n", T, N, K);
                return 1;
            }
            if (kf == 1) xf_gemm_pack(gi, W, K, N, K, Wk);
            if (kf == 2) xf_i8_quantize_pack(W, K, N, K, Wk, sw);
            if (kf == 3) xf_bf16_pack(W, K, N, K, Wk);
#define PRODUCT()                                                                                  \
    (kf == 1   ? xf_matmul_f32_packed(pool, gi, X, K, Wk, b, Y, N, T, N, K)                     \
     : kf == 2 ? xf_matmul_i8(pool, X, K, T, Wk, sw, b, Y, N, N, K)                             \
     : kf == 3 ? xf_matmul_bf16(pool, X, K, T, Wk, b, Y, N, N, K)                               \
               : xf_matmul_f32_nt(pool, X, K, W, K, b, Y, N, T, N, K))
            double t0 = bench_now();
            PRODUCT(); /* warm-up, and a first timing */
            double one = bench_now() - t0;
            long reps = one > 0 ? (long)(0.1 / one) + 1 : 1;
            if (reps > 1000) reps = 1000;
            for (long r = 0; r < runs; r++) {
                t0 = bench_now();
                const double c0 = bench_cpu();
                for (long k = 0; k < reps; k++) PRODUCT();
                secs[r] = (bench_now() - t0) / (double)reps;
                cpus[r] = (bench_cpu() - c0) / (double)reps;
            }
            double flop = 2.0 * (double)T * (double)N * (double)K;
            printf("%s{\"T\": %zu, \"N\": %zu, \"K\": %zu, \"threads\": %ld, \"reps\": %ld, \"seconds\": [",
                   first ? "" : ", ", T, N, K, threads[t], reps);
            first = 0;
            for (long r = 0; r < runs; r++) printf("%s%.6f", r ? ", " : "", secs[r]);
            printf("], \"cpu_seconds\": [");
            for (long r = 0; r < runs; r++) printf("%s%.6f", r ? ", " : "", cpus[r]);
            double med = bench_median(secs, runs), cmed = bench_median(cpus, runs);
            printf("], \"median_s\": %.6f, \"gflops\": %.2f, \"median_cpu_s\": %.6f, \"gflops_cpu\": %.2f, "
                   "\"check\": %.4f}",
                   med, flop / med / 1e9, cmed, flop / cmed / 1e9, (double)Y[(T / 2) * N + N / 2]);
            fflush(stdout);
            free(X), free(W), free(b), free(Y), free(Wk), free(sw);
        }
        xf_pool_free(pool);
    }
    printf("]}\n");
    free(secs), free(cpus);
    return 0;
}
