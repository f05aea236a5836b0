/* bench_qgemv.c — the one-row (decode) GEMV of GGUF quantized weights, per type: the hand-written
 * kernel of qgemv_avx2.c (AVX2 or AVX-512VL, as xf_qgemv picks) against qmatmul.c's generic GEMV
 * (xf_qgemv_decode), and the int8-activation GEMV of --weights int8 (qgemv_q8.c, best ISA, the
 * activations quantized once outside the timing), on weights that stay in cache (N x K small) and on weights streamed from memory
 * (a set of matrices larger than the last-level cache, visited in turn). Single thread; prints one
 * JSON object with, per type and case, ns per call (median of R runs, CPU time of the process) and
 * the weight bytes per ns (GB/s).
 *
 * usage: bench_qgemv [--types Q4_K,Q6_K,...] [--runs R] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/gguf.h"
#include "kernels/qgemv_q8.h"
#include "kernels/qmatmul.h"
#include "kernels/quants.h"

#include "bench_util.h"

static uint64_t g_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    g_state ^= g_state << 13, g_state ^= g_state >> 7, g_state ^= g_state << 17;
    return (uint32_t)(g_state >> 16);
}

/* Random blocks with small finite half scales at the type's half fields (as test_qmatmul does). */
static void fill(const xf_quant_traits *q, uint8_t *W, size_t n_blocks) {
    int halves[2] = {-1, -1};
    switch (q->ggml_type) {
    case XF_GGML_Q4_1: case XF_GGML_Q5_1: case XF_GGML_Q4_K: case XF_GGML_Q5_K: halves[0] = 0, halves[1] = 2; break;
    case XF_GGML_Q2_K: halves[0] = 80, halves[1] = 82; break;
    case XF_GGML_Q3_K: halves[0] = 108; break;
    case XF_GGML_Q6_K: halves[0] = 208; break;
    default: halves[0] = 0; break;
    }
    for (size_t i = 0; i < n_blocks * q->type_size; i++) W[i] = (uint8_t)rnd();
    for (size_t b = 0; b < n_blocks; b++)
        for (int h = 0; h < 2; h++)
            if (halves[h] >= 0) {
                uint16_t v = (uint16_t)(0x2000 + rnd() % 0x1000); /* ~2^-7 .. 2^-6 */
                memcpy(W + b * q->type_size + halves[h], &v, 2);
            }
}

static const char *ALL = "Q8_0,Q4_0,Q4_1,Q5_0,Q5_1,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K";

int main(int argc, char **argv) {
    const char *types = ALL;
    int runs = 5;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--types")) types = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--runs")) runs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--types Q4_K,...] [--runs R]\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > 100) return 2;
    /* cached: one 576 x 1536 matrix; streamed: 24 matrices of 1536 x 1536 (~24 x 1.3-2.8 MB) */
    const size_t N_c = 576, K = 1536, N_s = 1536, n_mats = 24;
    float *X = malloc(K * sizeof *X), *Y = malloc(N_s * sizeof *Y);
    for (size_t k = 0; k < K; k++) X[k] = (float)(rnd() % 2001) / 1000.0f - 1.0f;
    void *act = malloc(xf_q8act_bytes(1, K));
    xf_q8act_quantize(X, K, 1, K, act);
    const xf_i8_isa i8 = xf_i8_isa_best();
    double *t = malloc((size_t)runs * sizeof *t);
    printf("{\"K\": %zu, \"cached_N\": %zu, \"streamed_N\": %zu, \"streamed_matrices\": %zu, \"results\": [", K, N_c, N_s,
           n_mats);
    int first = 1;
    char list[256];
    snprintf(list, sizeof list, "%s", types);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        const xf_quant_traits *q = NULL;
        for (int id = 0; id < 32 && !q; id++) {
            const xf_quant_traits *c = xf_quant_traits_of(id);
            if (c && !strcmp(c->name, name) && xf_qmatmul_has(id)) q = c;
        }
        if (!q) {
            fprintf(stderr, "bench_qgemv: unknown type %s\n", name);
            return 2;
        }
        const size_t rb = K / q->block_size * q->type_size;
        uint8_t *W = xf_aligned_alloc(n_mats * N_s * rb);
        fill(q, W, n_mats * N_s * K / q->block_size);
        for (int kind = 0; kind < 3; kind++) {     /* 0: hand-written (xf_qgemv), 1: generic, 2: int8 */
            for (int stream = 0; stream < 2; stream++) {
                const size_t N = stream ? N_s : N_c;
                const int calls = stream ? 4 * (int)n_mats : 400;
                for (int r = 0; r < runs; r++) {
                    const double c0 = bench_cpu();
                    for (int i = 0; i < calls; i++) {
                        const uint8_t *Wi = W + (stream ? (size_t)(i % (int)n_mats) * N_s * rb : 0);
                        if (kind == 0) xf_qgemv(q->ggml_type, Wi, rb, NULL, X, K, Y, N, 1, 0, N, K);
                        else if (kind == 1) xf_qgemv_decode(q->ggml_type, 0, Wi, rb, NULL, X, K, Y, N, 1, 0, N, K);
                        else xf_qgemv_q8_isa(i8, q->ggml_type, Wi, rb, NULL, act, 1, Y, N, 0, N, K);
                    }
                    t[r] = (bench_cpu() - c0) / calls;
                }
                const double med = bench_median(t, runs);
                printf("%s{\"type\": \"%s\", \"kernel\": \"%s\", \"weights\": \"%s\", \"ns_per_call\": %.0f, \"GB_per_s\": %.2f}",
                       first ? "" : ", ", q->name, kind == 2 ? "int8" : kind ? "generic" : "xf_qgemv",
                       stream ? "streamed" : "cached", med * 1e9,
                       (double)(N * rb) / med / 1e9);
                first = 0;
                fflush(stdout);
            }
        }
        free(W);
    }
    printf("]}\n");
    free(X), free(Y), free(t), free(act);
    return 0;
}
