/* test_qgemv_r16.c — Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 weights repacked 16 rows at a time (kernels/qgemv_r16.h):
 * random blocks of each type (every quant bit pattern, random finite half scales), N = 16 .. 160
 * rows, K = 32 * {1, 3, 18}:
 *   1. the layout: unpacking gives the file's blocks back (all rows, a range), the floats equal
 *      xf_qdequant_rows of the file's blocks bitwise, packing in place equals packing into a copy;
 *   2. the product, T = 1 .. 5 and 7 activation rows: the scalar code and (where the CPU has it)
 *      the AVX2 and AVX-512 VNNI kernels on the repacked layout equal xf_qgemv_q8_ref on the file's blocks
 *      bitwise, on two ranges of groups as two threads would take them;
 *   3. the driver: int8 through pools of 1 and 2 threads equal the reference for T up to 40 (its
 *      chunks of 32 rows), float activations equal xf_qmatmul's GEMM path on the file's blocks;
 *   4. xf_r16_pays refuses rows not a multiple of 16, inputs not of 32, other types. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "io/gguf.h"
#include "kernels/cpu.h"
#include "kernels/qgemv_q8.h"
#include "kernels/qgemv_r16.h"
#include "kernels/qmatmul.h"
#include "kernels/quants.h"

static int top_ran; /* the best kernel checked: 0 scalar, 1 AVX2, 2 AVX-512 VNNI */
static int vnni256_ran; /* the AVX-VNNI kernel checked */

static void check_type(int type, xf_pool *p1, xf_pool *p2) {
    const xf_quant_traits *q = xf_quant_traits_of(type);
    CHECK(q && xf_r16_has(type));
    if (!q) return;
    const size_t Ks[] = {32, 96, 576}, Ns[] = {16, 48, 160}, Ts[] = {1, 2, 3, 4, 5, 7};
    const int top = xf_cpu_has(XF_CPU_AVX512_VNNI) ? 2 : xf_isa_level() >= XF_ISA_AVX2 ? 1 : 0;
    for (size_t ki = 0; ki < 3; ki++)
        for (size_t ni = 0; ni < 3; ni++) {
            const size_t K = Ks[ki], N = Ns[ni];
            size_t rb;
            uint8_t *W = xf_t_random_qrows(type, N, K, &rb);
            uint8_t *P = malloc(N * rb), *P2 = malloc(N * rb), *U = malloc(N * rb);
            float *bias = malloc(N * sizeof *bias), *F0 = malloc(N * K * sizeof *F0), *F1 = malloc(N * K * sizeof *F1);
            for (size_t o = 0; o < N; o++) bias[o] = xf_t_frand32();
            /* 1. the layout */
            CHECK(xf_r16_pack(type, W, N, K, P) == 0);
            memcpy(P2, W, N * rb);
            CHECK(xf_r16_pack(type, P2, N, K, P2) == 0);
            CHECK_MSG(memcmp(P, P2, N * rb) == 0, "%s N=%zu K=%zu: in place != copy", q->name, N, K);
            CHECK_MSG(memcmp(P, W, N * rb) != 0, "%s N=%zu K=%zu: repacking changed nothing", q->name, N, K);
            xf_r16_unpack_rows(type, P, K, 0, N, U);
            CHECK_MSG(memcmp(U, W, N * rb) == 0, "%s N=%zu K=%zu: unpacked != the file's blocks", q->name, N, K);
            xf_r16_unpack_rows(type, P, K, 5, N - 3, U);
            CHECK_MSG(memcmp(U, W + 5 * rb, (N - 8) * rb) == 0, "%s N=%zu K=%zu: rows 5.. != the file's", q->name, N, K);
            xf_qdequant_rows(type, W, rb, 0, N, K, F0);
            xf_r16_dequant_rows(type, P, K, 0, N, F1);
            CHECK_MSG(memcmp(F0, F1, N * K * sizeof *F0) == 0, "%s N=%zu K=%zu: floats differ", q->name, N, K);
            /* 2. the product */
            for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
                const size_t T = Ts[ti];
                const float *b = ti % 2 ? bias : NULL;
                float *X = malloc(T * K * sizeof *X), *R = malloc(T * N * sizeof *R), *Y = malloc(T * N * sizeof *Y);
                void *act = malloc(xf_q8act_bytes(T, K));
                int32_t *corr = malloc(T * K / 4 * sizeof *corr);
                for (size_t i = 0; i < T * K; i++) X[i] = xf_t_frand32() * (i % 17 == 0 ? 8.0f : 1.0f);
                xf_q8act_quantize(type, X, K, T, K, act);
                xf_r16_corr(type, act, T, K, corr);
                xf_qgemv_q8_ref(type, W, rb, b, act, T, R, N, 0, N, K);
                for (int simd = 0; simd <= 3; simd++) {
                    if (simd == 3 ? !xf_cpu_has(XF_CPU_AVX_VNNI) : simd > top) continue;
                    memset(Y, 0, T * N * sizeof *Y);
                    const size_t G = N / 16;
                    xf_r16_gemv_isa(simd, type, P, b, act, corr, T, Y, N, 0, G / 2, K);
                    xf_r16_gemv_isa(simd, type, P, b, act, corr, T, Y, N, G / 2, G, K);
                    CHECK_MSG(memcmp(Y, R, T * N * sizeof *Y) == 0, "%s %s T=%zu N=%zu K=%zu: != reference", q->name,
                              simd == 3 ? "avx-vnni" : simd == 2 ? "avx512-vnni" : simd ? "avx2" : "scalar", T, N, K);
                    if (simd < 3 && simd > top_ran) top_ran = simd;
                    if (simd == 3) vnni256_ran = 1;
                }
                free(X), free(R), free(Y), free(act), free(corr);
            }
            /* 3. the driver */
            for (size_t T = 1; T <= 40; T += T < 8 ? 1 : 11) {
                float *X = malloc(T * K * sizeof *X), *R = malloc(T * N * sizeof *R), *Y1 = malloc(T * N * sizeof *Y1),
                      *Y2 = malloc(T * N * sizeof *Y2);
                void *act = malloc(xf_q8act_bytes(T, K));
                for (size_t i = 0; i < T * K; i++) X[i] = xf_t_frand32();
                xf_q8act_quantize(type, X, K, T, K, act);
                xf_qgemv_q8_ref(type, W, rb, bias, act, T, R, N, 0, N, K);
                xf_r16_matmul(p1, type, P, bias, X, K, Y1, N, T, N, K, 1);
                xf_r16_matmul(p2, type, P, bias, X, K, Y2, N, T, N, K, 1);
                CHECK_MSG(memcmp(Y1, R, T * N * sizeof *R) == 0 && memcmp(Y2, R, T * N * sizeof *R) == 0,
                          "%s T=%zu N=%zu K=%zu: driver (1 / 2 threads) != reference", q->name, T, N, K);
                xf_qmatmul_as(p1, type, W, rb, bias, X, K, R, N, T, 64, N, K); /* the GEMM path */
                xf_r16_matmul(p2, type, P, bias, X, K, Y2, N, T, N, K, 0);
                CHECK_MSG(memcmp(Y2, R, T * N * sizeof *R) == 0, "%s T=%zu N=%zu K=%zu: float path != xf_qmatmul's GEMM",
                          q->name, T, N, K);
                free(X), free(R), free(Y1), free(Y2), free(act);
            }
            free(W), free(P), free(P2), free(U), free(bias), free(F0), free(F1);
        }
}

int main(void) {
    xf_t_seed(0x9e3779b97f4a7c15ull);
    xf_pool *p1 = NULL, *p2 = NULL;
    CHECK(xf_pool_create(1, &p1) == XF_OK && xf_pool_create(2, &p2) == XF_OK);
    CHECK(xf_pool_reserve(p1, xf_r16_scratch(XF_GGML_Q8_0, 576)) == XF_OK &&
          xf_pool_reserve(p2, xf_r16_scratch(XF_GGML_Q8_0, 576)) == XF_OK);
    check_type(XF_GGML_Q4_0, p1, p2);
    check_type(XF_GGML_Q4_1, p1, p2);
    check_type(XF_GGML_Q5_0, p1, p2);
    check_type(XF_GGML_Q5_1, p1, p2);
    check_type(XF_GGML_Q8_0, p1, p2);
    /* 4. where the layout is made */
    CHECK(!xf_r16_pays(XF_GGML_Q4_1, 24, 64) && !xf_r16_pays(XF_GGML_Q4_1, 32, 48) && !xf_r16_pays(XF_GGML_Q4_K, 32, 256) &&
          !xf_r16_pays(XF_GGML_Q6_K, 32, 256));
    CHECK(xf_r16_pays(XF_GGML_Q4_1, 32, 64) == (xf_i8_isa_best() >= XF_I8_AVX2) &&
          xf_r16_pays(XF_GGML_Q8_0, 32, 64) == (xf_i8_isa_best() >= XF_I8_VNNI));
    printf("repacked layout: scalar%s%s checked\n", top_ran == 2 ? ", AVX2 and AVX-512 VNNI kernels" : top_ran ? " and AVX2 kernels" : " kernel only (no AVX2 here)",
           vnni256_ran ? " (and AVX-VNNI)" : "");
    xf_pool_free(p1);
    xf_pool_free(p2);
    return xf_t_report();
}
