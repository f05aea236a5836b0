/* test_gemm_bf16.c — the bf16 GEMM: every ISA's micro-kernel (AVX512_BF16 where the CPU has it, the
 * portable one at each ISA level) bitwise equal to the scalar reference over odd shapes, panel cuts
 * and tails, AMX-BF16 (where the CPU has it) within the bound of the exact sum and bitwise
 * independent of batching, cuts and threads (which also pins down vdpbf16ps's order of summation, odd element first); thread-count
 * independence; packing round trip; and the error against the fp32 product, bounded by bf16's
 * rounding of both operands and the fp32 sums: |y - y_f32| <= (2^-7 + K 2^-24) sum_k |x_k w_k|
 * (each operand off by <= 2^-8 relative, so each product by <= 2^-7 + 2^-16). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "harness.h"
#include "core/dtype.h"
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

/* max over outputs of |a - (exact sum of the bf16 products U . X + b)| / (sum_k |x_k u_k| + |b|) */
static double amx_err(const float *a, const float *X, const float *U, const float *b, size_t T, size_t N, size_t K) {
    double worst = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t o = 0; o < N; o++) {
            double s = fabs((double)b[o]), d = b[o];
            for (size_t k = 0; k < K; k++) {
                const double p = (double)xf_bf16_to_f32(xf_f32_to_bf16(X[t * K + k])) * U[o * K + k];
                d += p, s += fabs(p);
            }
            const double e = fabs((double)a[t * N + o] - d) / (s > 0 ? s : 1);
            worst = e > worst ? e : worst;
        }
    return worst;
}

static void test_shapes(xf_pool *pool2) {
    const size_t shapes[][3] = {{1, 1, 1},     {1, 7, 3},      {3, 5, 9},      {4, 32, 8},     {9, 33, 65},
                                {17, 64, 384}, {40, 100, 1536}, {70, 384, 384}, {2, 1000, 13}, {300, 40, 21},
                                {16, 48, 128}, {33, 32, 200}, {32, 64, 64}};
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
        /* AMX-BF16 sums in the tile unit's own order (not documented to the bit, and not the
         * sequential one: measured here, neither order of a pair nor one rounding per pair or per
         * 16-pair step matches every output): checked within fp32 summation's bound of the exact
         * sum of the same bf16 products, and for its own determinism (row by row, panel cuts and
         * threads give its bits). */
        float *A = calloc(T * N, 4);
        if (xf_bf16_isa_supported(XF_BF16_AMX)) {
            xf_gemm_bf16_isa(XF_BF16_AMX, X, K, T, P, b, A, N, 0, N, K, NULL, 0);
            CHECK_MSG(amx_err(A, X, U, b, T, N, K) <= (double)(K + 2) * 0x1p-24,
                      "bf16 amx T=%zu N=%zu K=%zu: %.3g of sum |x w| from the exact sum", T, N, K, amx_err(A, X, U, b, T, N, K));
            for (size_t t = 0; t < T; t++) {
                xf_gemm_bf16_isa(XF_BF16_AMX, X + t * K, K, 1, P, b, Y + t * N, N, 0, N, K, NULL, 0);
                CHECK_MSG(memcmp(Y + t * N, A + t * N, N * 4) == 0, "bf16 amx T=%zu N=%zu K=%zu: row %zu alone differs", T,
                          N, K, t);
            }
        }
        for (int l = xf_isa_cpu_level(); l >= XF_ISA_SCALAR; l--) {
            xf_isa_cap((xf_isa_level_t)l);
            for (int isa = 0; isa < XF_BF16_ISA_COUNT; isa++) {
                if (!xf_bf16_isa_supported((xf_bf16_isa)isa)) continue;
                if (isa == XF_BF16_AVX512 && l < XF_ISA_AVX512) continue;
                memset(Y, 0, T * N * 4);
                const float *want = isa == XF_BF16_AMX ? A : R;
                xf_gemm_bf16_isa((xf_bf16_isa)isa, X, K, T, P, b, Y, N, 0, N, K, NULL, 0);
                CHECK_MSG(memcmp(Y, want, T * N * 4) == 0, "bf16 %s (level %s) T=%zu N=%zu K=%zu differs from the reference",
                          xf_bf16_isa_name((xf_bf16_isa)isa), xf_isa_level_name((xf_isa_level_t)l), T, N, K);
                if (N > 3) { /* channel ranges that cut panels */
                    memset(Y, 0, T * N * 4);
                    size_t cut = N / 3 + 1;
                    xf_gemm_bf16_isa((xf_bf16_isa)isa, X, K, T, P, b, Y, N, 0, cut, K, NULL, 0);
                    xf_gemm_bf16_isa((xf_bf16_isa)isa, X, K, T, P, b, Y, N, cut, N, K, NULL, 0);
                    CHECK_MSG(memcmp(Y, want, T * N * 4) == 0, "bf16 %s T=%zu N=%zu K=%zu: split at channel %zu differs",
                              xf_bf16_isa_name((xf_bf16_isa)isa), T, N, K, cut);
                }
                if (s == 0) levels++;
            }
        }
        xf_isa_cap(XF_ISA_AVX512);
        memset(Y, 0, T * N * 4);
        xf_matmul_bf16(pool2, X, K, T, P, b, Y, N, N, K);
        CHECK_MSG(memcmp(Y, xf_bf16_isa_best() == XF_BF16_AMX ? A : R, T * N * 4) == 0,
                  "bf16 T=%zu N=%zu K=%zu: 2 threads differ", T, N, K);
        /* against fp32 (bias left out of the error scale: both add it exactly the same way) */
        xf_gemm_f32_nt_ref(X, K, W, K, b, F, N, T, 0, N, K);
        double e = rel_err(R, F, X, W, T, N, K);
        CHECK_MSG(e <= 0x1p-7 + (double)K * 0x1p-24, "bf16 T=%zu N=%zu K=%zu: error vs fp32 %.3g of sum |x w|", T, N, K, e);
        free(X), free(W), free(b), free(U), free(R), free(Y), free(F), free(P), free(A);
    }
    printf("bf16 kernels checked: %d (ISA, level) pairs; AVX512_BF16 %s; AMX-BF16 %s\n", levels,
           xf_bf16_isa_supported(XF_BF16_AVX512) ? "present (hardware kernel compared bitwise)" : "absent",
           xf_bf16_isa_supported(XF_BF16_AMX) ? "present (checked within the bound of the exact sum)" : "absent");
}

/* Q, K and V at once (xf_matmul_bf16_many): bitwise three xf_matmul_bf16 calls (rows split between
 * threads, T 45; the channel-split fallback, T 3). */
static void test_many(xf_pool *pool2) {
    const size_t K = 96, N[3] = {64, 33, 100}, Ts[] = {3, 45};
    for (size_t c = 0; c < 2; c++) {
        const size_t T = Ts[c];
        float *X = xf_t_randv(T * K, 1.0f), *Y1[3];
        xf_panel_op ops[3];
        for (int q = 0; q < 3; q++) {
            float *W = xf_t_randv(N[q] * K, 1.0f), *b = q == 1 ? NULL : xf_t_randv(N[q], 1.0f);
            uint8_t *P = xf_aligned_alloc(xf_bf16_packed_bytes(N[q], K));
            xf_bf16_pack(W, K, N[q], K, P);
            free(W);
            ops[q] = (xf_panel_op){P, NULL, b, calloc(T * N[q], 4), N[q], N[q]};
            Y1[q] = calloc(T * N[q], 4);
            xf_matmul_bf16(pool2, X, K, T, P, b, Y1[q], N[q], N[q], K);
        }
        xf_matmul_bf16_many(pool2, 3, ops, X, K, T, K);
        for (int q = 0; q < 3; q++) {
            CHECK_MSG(memcmp(ops[q].Y, Y1[q], T * N[q] * 4) == 0, "bf16 many T=%zu: product %d differs from one by one", T,
                      q);
            free(Y1[q]), free(ops[q].Y), free((void *)ops[q].packed), free((void *)ops[q].bias);
        }
        free(X);
    }
}

/* The vectorized row rounding gives xf_f32_to_bf16's bits at every level: ties, carries into the
 * exponent, FLT_MAX to inf, infinities, NaNs (kept NaN), subnormals, signed zeros. */
static void test_round_row(void) {
    const uint32_t special[] = {0x3f808000u, 0x3f818000u, 0x3f80ffffu, 0x7f7fffffu, 0xff7fffffu, 0x7f800000u,
                                0xff800000u, 0x7fc00000u, 0xffc00001u, 0x7f800001u, 0x00000001u, 0x80008000u,
                                0x00018000u, 0x00000000u, 0x80000000u, 0x3fffffffu, 0x477fe000u};
    enum { n = 53 };
    float x[n];
    for (int i = 0; i < n; i++) {
        uint32_t u = special[i % (int)(sizeof special / sizeof special[0])] ^ (uint32_t)(i / 17) << 16;
        memcpy(&x[i], &u, 4);
    }
    for (int l = xf_isa_cpu_level(); l >= XF_ISA_SCALAR; l--) {
        xf_isa_cap((xf_isa_level_t)l);
        uint32_t row[(n + 1) / 2];
        xf_bf16_round_row(x, n, row);
        const uint16_t *h = (const uint16_t *)(const void *)row;
        int same = 1;
        for (int i = 0; i < n; i++) same &= h[i] == xf_f32_to_bf16(x[i]);
        CHECK_MSG(same && h[n] == 0, "bf16 row rounding at level %s differs from xf_f32_to_bf16",
                  xf_isa_level_name((xf_isa_level_t)l));
    }
    xf_isa_cap(XF_ISA_AVX512);
}

int main(void) {
    xf_pool *pool2 = NULL;
    test_round_row();
    CHECK(xf_pool_create(2, &pool2) == XF_OK);
    test_shapes(pool2);
    test_many(pool2);
    xf_pool_free(pool2);
    return xf_t_report();
}
