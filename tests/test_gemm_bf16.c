/* test_gemm_bf16.c — the bf16 GEMM: every ISA's micro-kernel (AVX512_BF16 where the CPU has it, the
 * portable one at each ISA level) bitwise equal to the scalar reference over odd shapes, panel cuts
 * and tails (which also pins down vdpbf16ps's order of summation, odd element first); thread-count
 * independence; packing round trip; and the error against the fp32 product, bounded by bf16's
 * rounding of both operands and the fp32 sums: |y - y_f32| <= (2^-7 + K 2^-24) sum_k |x_k w_k|
 * (each operand off by <= 2^-8 relative, so each product by <= 2^-7 + 2^-16). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "harness.h"
#include "kernels/cpu.h"
#include "kernels/gemm_bf16.h"
#include "kernels/matmul.h"

/* max over outputs of |a - b| / sum_k |x_k w_k| */
static double rel_err(const float *a, const float *b, const float *X, const float *W, size_t T, size_t N, size_t K) {
    double worst = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t o = 0; o < N; o++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) s += fabs((double)X[t * K + k] * W[o * K + k]);
            const double e = fabs((double)a[t * N + o] - b[t * N + o]) / (s > 0 ? s : 1);
            worst = e > worst ? e : worst;
        }
    return worst;
}

static void test_shapes(xf_pool *pool2) {
    const size_t shapes[][3] = {{1, 1, 1},     {1, 7, 3},      {3, 5, 9},      {4, 32, 8},     {9, 33, 65},
                                {17, 64, 384}, {40, 100, 1536}, {70, 384, 384}, {2, 1000, 13}, {300, 40, 21}};
    int levels = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t T = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *X = malloc(T * K * 4), *W = malloc(N * K * 4), *b = malloc(N * 4), *U = malloc(N * K * 4);
        float *R = calloc(T * N, 4), *Y = calloc(T * N, 4), *F = calloc(T * N, 4);
        for (size_t i = 0; i < T * K; i++) X[i] = xf_t_frand() * (i % 17 == 0 ? 8.0f : 1.0f);
        for (size_t i = 0; i < N * K; i++) W[i] = xf_t_frand() * 0.1f;
        for (size_t i = 0; i < N; i++) b[i] = xf_t_frand();
        uint8_t *P = xf_aligned_alloc(xf_bf16_packed_bytes(N, K));
        xf_bf16_pack(W, K, N, K, P);
        /* unpacking gives the bf16 values: within 2^-8 relative of the weights (8 significant bits) */
        xf_bf16_unpack_rows(P, K, 0, N, U);
        int close = 1;
        for (size_t i = 0; i < N * K; i++) close &= fabsf(U[i] - W[i]) <= fabsf(W[i]) * 0x1p-8f;
        CHECK_MSG(close, "bf16 N=%zu K=%zu: unpacked weights off by more than 2^-8", N, K);
        xf_gemm_bf16_ref(X, K, T, W, K, b, R, N, N, K);
        for (int l = xf_isa_cpu_level(); l >= XF_ISA_SCALAR; l--) {
            xf_isa_cap((xf_isa_level_t)l);
            for (int isa = 0; isa < XF_BF16_ISA_COUNT; isa++) {
                if (!xf_bf16_isa_supported((xf_bf16_isa)isa)) continue;
                if (isa == XF_BF16_AVX512 && l < XF_ISA_AVX512) continue;
                memset(Y, 0, T * N * 4);
                xf_gemm_bf16_isa((xf_bf16_isa)isa, X, K, T, P, b, Y, N, 0, N, K, NULL, 0);
                CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "bf16 %s (level %s) T=%zu N=%zu K=%zu differs from the reference",
                          xf_bf16_isa_name((xf_bf16_isa)isa), xf_isa_level_name((xf_isa_level_t)l), T, N, K);
                if (N > 3) { /* channel ranges that cut panels */
                    memset(Y, 0, T * N * 4);
                    size_t cut = N / 3 + 1;
                    xf_gemm_bf16_isa((xf_bf16_isa)isa, X, K, T, P, b, Y, N, 0, cut, K, NULL, 0);
                    xf_gemm_bf16_isa((xf_bf16_isa)isa, X, K, T, P, b, Y, N, cut, N, K, NULL, 0);
                    CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "bf16 %s T=%zu N=%zu K=%zu: split at channel %zu differs",
                              xf_bf16_isa_name((xf_bf16_isa)isa), T, N, K, cut);
                }
                if (s == 0) levels++;
            }
        }
        xf_isa_cap(XF_ISA_AVX512);
        memset(Y, 0, T * N * 4);
        xf_matmul_bf16(pool2, X, K, T, P, b, Y, N, N, K);
        CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "bf16 T=%zu N=%zu K=%zu: 2 threads differ", T, N, K);
        /* against fp32 (bias left out of the error scale: both add it exactly the same way) */
        xf_gemm_f32_nt_ref(X, K, W, K, b, F, N, T, 0, N, K);
        double e = rel_err(R, F, X, W, T, N, K);
        CHECK_MSG(e <= 0x1p-7 + (double)K * 0x1p-24, "bf16 T=%zu N=%zu K=%zu: error vs fp32 %.3g of sum |x w|", T, N, K, e);
        free(X), free(W), free(b), free(U), free(R), free(Y), free(F), free(P);
    }
    printf("bf16 kernels checked: %d (ISA, level) pairs; AVX512_BF16 %s\n", levels,
           xf_bf16_isa_supported(XF_BF16_AVX512) ? "present (hardware kernel compared bitwise)" : "absent");
}

int main(void) {
    xf_pool *pool2 = NULL;
    CHECK(xf_pool_create(2, &pool2) == XF_OK);
    test_shapes(pool2);
    xf_pool_free(pool2);
    return xf_t_report();
}
