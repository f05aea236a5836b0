/* test_qmatmul.c — products with GGUF quantized weights (kernels/qmatmul.h) against the scalar
 * references of quants.c, for every type: random blocks (every bit pattern of the quant fields,
 * random finite half scales), odd T, N not a multiple of 4, K several blocks long. Checks the
 * half conversion exhaustively, the vectorized dequantizer bitwise, GEMV vs reference by
 * normalized error, its two decodes of 4-bit formats bitwise, the hand-written decode GEMV
 * (qgemv_avx2.c, each ISA the CPU has) bitwise, its several-row kernel bitwise both the generic GEMV
 * and, row by row, the one-row kernel (batched decode = lone decode), GEMV vs GEMM path, and 1 vs 2
 * threads bitwise. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/threadpool.h"
#include "harness.h"
#include "io/gguf.h"
#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/qmatmul.h"
#include "kernels/quants.h"

typedef struct {
    int type;
} qcase;

static const qcase k_cases[] = {{XF_GGML_Q8_0}, {XF_GGML_Q4_0}, {XF_GGML_Q4_1}, {XF_GGML_Q5_0}, {XF_GGML_Q5_1},
                                {XF_GGML_Q2_K}, {XF_GGML_Q3_K}, {XF_GGML_Q4_K}, {XF_GGML_Q5_K}, {XF_GGML_Q6_K},
                                {XF_GGML_FP4S}, {XF_GGML_FP8S}, {XF_GGML_MXFP4}};
#define N_CASES (sizeof k_cases / sizeof k_cases[0])

static void check_half(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        uint8_t p[2] = {(uint8_t)h, (uint8_t)(h >> 8)};
        float a = xf_half_at(p), b = xf_f16_to_f32((uint16_t)h);
        bad += memcmp(&a, &b, 4) != 0;
    }
    CHECK_MSG(bad == 0, "%d halves differ from xf_f16_to_f32", bad);
}

/* How many shapes the hand-written decode GEMV was compared on, per ISA (XF_QAVX_*); every type
 * must have been. */
static int g_avx_checked[3], g_avx_type[N_CASES][3], g_avxm_checked[3], g_avxm_type[N_CASES][3];

static void check_type(const qcase *c, xf_pool *p1, xf_pool *p2, int *gemv_gemm_bitwise) {
    const xf_quant_traits *q = xf_quant_traits_of(c->type);
    CHECK(q && xf_qmatmul_has(c->type));
    if (!q) return;
    const size_t Ns[] = {1, 5, 13, 37}, Ts[] = {1, 2, 3, 4, 5, 7, 9, 17, 33};
    for (size_t kb = 1; kb <= 3; kb++) {
        const size_t K = q->block_size * (q->block_size == 32 ? 3 * kb - 1 : kb); /* 64, 160, 256 | 256, 512, 768 */
        for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++) {
            const size_t N = Ns[ni];
            size_t rb;
            uint8_t *W = xf_t_random_qrows(c->type, N, K, &rb);
            float *Wf = malloc(N * K * sizeof *Wf), *Wr = malloc(N * K * sizeof *Wr), *bias = malloc(N * sizeof *bias);
            for (size_t o = 0; o < N; o++) q->dequant(W + o * rb, Wr + o * K, K);
            xf_qdequant_rows(c->type, W, rb, 0, N, K, Wf);
            CHECK_MSG(memcmp(Wf, Wr, N * K * sizeof *Wf) == 0, "%s K=%zu N=%zu: vector dequant != reference", q->name, K, N);
            for (size_t o = 0; o < N; o++) bias[o] = xf_t_frand32();
            for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
                const size_t T = Ts[ti];
                float *X = malloc(T * K * sizeof *X), *Y = malloc(T * N * sizeof *Y), *R = malloc(T * N * sizeof *R);
                float *G = malloc(T * N * sizeof *G), *F = malloc(T * N * sizeof *F), *Y1 = malloc(T * N * sizeof *Y1);
                float *Y2 = malloc(T * N * sizeof *Y2), *scratch = malloc(xf_qmatmul_scratch(K));
                for (size_t i = 0; i < T * K; i++) X[i] = xf_t_frand32();
                const float *b = ti % 2 ? bias : NULL;
                xf_qgemv(c->type, W, rb, b, X, K, Y, N, T, 0, N, K);
                xf_qgemv_ref(c->type, W, rb, b, X, K, R, N, T, 0, N, K);
                /* both decodes of the 4-bit formats (table / arithmetic) give the same floats */
                for (int table = 0; table < 2; table++) {
                    xf_qgemv_decode(c->type, table, W, rb, b, X, K, G, N, T, 0, N, K);
                    CHECK_MSG(memcmp(G, Y, T * N * sizeof *G) == 0, "%s T=%zu N=%zu K=%zu: table=%d decode differs",
                              q->name, T, N, K, table);
                }
                /* the hand-written decode GEMV (T = 1), each ISA this CPU has: bitwise the generic one */
                for (int isa = XF_QAVX_2; T == 1 && isa <= XF_QAVX_512; isa++) {
                    if (!xf_qgemv_avx2(c->type, isa, W, rb, b, X, G, 0, N, K)) continue;
                    CHECK_MSG(memcmp(G, Y, N * sizeof *G) == 0, "%s N=%zu K=%zu: xf_qgemv_avx2 isa %d differs",
                              q->name, N, K, isa);
                    g_avx_checked[isa]++;
                    g_avx_type[c - k_cases][isa]++;
                }
                /* the several-row kernel, each ISA: bitwise the generic GEMV, and each row bitwise
                 * the one-row kernel on that row alone */
                for (int v = 0; T > 1 && v < 4; v++) { /* isa AVX2, AVX-512; without, with scratch (ws) */
                    const int isa = v / 2 ? XF_QAVX_512 : XF_QAVX_2;
                    float *ws = v % 2 ? malloc(XF_QAVX_WS_FLOATS(K) * sizeof *ws) : NULL;
                    if (ws) memset(ws, 0xff, XF_QAVX_WS_FLOATS(K) * sizeof *ws); /* NaN: nothing may read it unwritten */
                    const int ran = xf_qgemv_avx2_rows(c->type, isa, W, rb, b, X, K, G, N, T, 0, N, K, ws);
                    free(ws);
                    if (!ran) continue;
                    CHECK_MSG(memcmp(G, Y, T * N * sizeof *G) == 0, "%s T=%zu N=%zu K=%zu: xf_qgemv_avx2_rows isa %d ws %d differs",
                              q->name, T, N, K, isa, v % 2);
                    for (size_t t = 0; t < T; t++) {
                        CHECK(xf_qgemv_avx2(c->type, isa, W, rb, b, X + t * K, F, 0, N, K));
                        CHECK_MSG(memcmp(F, G + t * N, N * sizeof *F) == 0,
                                  "%s T=%zu N=%zu K=%zu row %zu: several-row kernel != one-row kernel (isa %d)", q->name, T,
                                  N, K, t, isa);
                    }
                    g_avxm_checked[isa]++;
                    g_avxm_type[c - k_cases][isa]++;
                }
                double e = xf_t_dot_err(Y, R, Wf, X, T, N, K);
                CHECK_MSG(e < 1e-6, "%s T=%zu N=%zu K=%zu: GEMV vs reference normalized error %g", q->name, T, N, K, e);
                /* GEMM path = dequantize + xf_gemm_f32_nt, bitwise; and close to (today: equal to) GEMV */
                xf_qgemm(c->type, W, rb, b, X, K, G, N, T, 0, N, K, scratch);
                xf_gemm_f32_nt(X, K, Wr, K, b, F, N, T, 0, N, K);
                CHECK_MSG(memcmp(G, F, T * N * sizeof *G) == 0, "%s T=%zu N=%zu K=%zu: GEMM path != dequant + GEMM",
                          q->name, T, N, K);
                e = xf_t_dot_err(Y, G, Wf, X, T, N, K);
                CHECK_MSG(e < 1e-6, "%s T=%zu N=%zu K=%zu: GEMV vs GEMM normalized error %g", q->name, T, N, K, e);
                if (memcmp(Y, G, T * N * sizeof *Y) != 0) *gemv_gemm_bitwise = 0;
                /* split of output rows over threads: 1 vs 2 threads bitwise (both paths) */
                xf_qmatmul(p1, c->type, W, rb, b, X, K, Y1, N, T, N, K);
                xf_qmatmul(p2, c->type, W, rb, b, X, K, Y2, N, T, N, K);
                CHECK_MSG(memcmp(Y1, Y2, T * N * sizeof *Y1) == 0, "%s T=%zu N=%zu K=%zu: 1 vs 2 threads differ",
                          q->name, T, N, K);
                CHECK_MSG(memcmp(Y1, T <= xf_qmatmul_max_t(c->type, 0) ? Y : G, T * N * sizeof *Y1) == 0,
                          "%s T=%zu N=%zu K=%zu: xf_qmatmul != its path", q->name, T, N, K);
                free(X), free(Y), free(R), free(G), free(F), free(Y1), free(Y2), free(scratch);
            }
            free(W), free(Wf), free(Wr), free(bias);
        }
    }
}

/* The several-row kernel on the batch sizes of continuous batching the shapes above miss (a whole
 * pass of 8, two of 8), its own random draws: row by row bitwise the one-row kernel. */
static void check_rows(const qcase *c) {
    const xf_quant_traits *q = xf_quant_traits_of(c->type);
    const size_t K = q->block_size == 32 ? 96 : 512, N = 19, Ts[] = {6, 8, 16};
    size_t rb;
    uint8_t *W = xf_t_random_qrows(c->type, N, K, &rb);
    for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
        const size_t T = Ts[ti];
        float *X = malloc(T * K * sizeof *X), *Y = malloc(T * N * sizeof *Y), *G = malloc(T * N * sizeof *G);
        for (size_t i = 0; i < T * K; i++) X[i] = xf_t_frand32();
        xf_qgemv_decode(c->type, 0, W, rb, NULL, X, K, Y, N, T, 0, N, K);
        for (int v = 0; v < 4; v++) {
            const int isa = v / 2 ? XF_QAVX_512 : XF_QAVX_2;
            float *ws = v % 2 ? malloc(XF_QAVX_WS_FLOATS(K) * sizeof *ws) : NULL;
            const int ran = xf_qgemv_avx2_rows(c->type, isa, W, rb, NULL, X, K, G, N, T, 0, N, K, ws);
            free(ws);
            if (!ran) continue;
            CHECK_MSG(memcmp(G, Y, T * N * sizeof *G) == 0, "%s T=%zu: xf_qgemv_avx2_rows isa %d ws %d != generic", q->name,
                      T, isa, v % 2);
            for (size_t t = 0; t < T; t++) {
                float F[19];
                CHECK(xf_qgemv_avx2(c->type, isa, W, rb, NULL, X + t * K, F, 0, N, K));
                CHECK_MSG(memcmp(F, G + t * N, sizeof F) == 0, "%s T=%zu row %zu: several-row != one-row (isa %d)",
                          q->name, T, t, isa);
            }
            g_avxm_checked[isa]++;
        }
        free(X), free(Y), free(G);
    }
    free(W);
}

int main(void) {
    xf_t_seed(0x9e3779b97f4a7c15ull);
    check_half();
    xf_pool *p1 = NULL, *p2 = NULL;
    CHECK(xf_pool_create(1, &p1) == XF_OK && xf_pool_create(2, &p2) == XF_OK);
    if (!p1 || !p2) return xf_t_report();
    CHECK(xf_pool_reserve(p1, xf_qmatmul_scratch(768)) == XF_OK && xf_pool_reserve(p2, xf_qmatmul_scratch(768)) == XF_OK);
    size_t have = 0;
    CHECK(xf_pool_scratch(p2, 1, &have) != NULL && have >= xf_qmatmul_scratch(768));
    CHECK(xf_pool_scratch(NULL, 0, &have) == NULL && have == 0);
    CHECK(!xf_qmatmul_has(XF_GGML_F32) && !xf_qmatmul_has(XF_GGML_Q8_K));
    int bitwise = 1;
    /* each ISA level the kernels may use here (kernels/cpu.h: the CPU's, lowered by XF_ISA): the
     * dispatched decoders' AVX-512, AVX2 and baseline copies */
    const xf_isa_level_t top = xf_isa_level();
    for (int l = top; l >= XF_ISA_SCALAR; l--) {
        xf_isa_cap((xf_isa_level_t)l);
        for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) check_type(&k_cases[i], p1, p2, &bitwise);
    }
    xf_isa_cap(XF_ISA_AVX512);
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) check_rows(&k_cases[i]);
    printf("GEMV %s the GEMM path bitwise\n", bitwise ? "equals" : "does not equal");
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const int t = k_cases[i].type;
        CHECK_MSG(top < XF_ISA_AVX2 || g_avx_type[i][XF_QAVX_2] > 0, "type %d: no AVX2 decode GEMV", t);
        CHECK_MSG(top < XF_ISA_AVX512 || g_avx_type[i][XF_QAVX_512] > 0, "type %d: no AVX-512 decode GEMV", t);
        const int rows = t == XF_GGML_Q8_0 || t == XF_GGML_Q4_0 || t == XF_GGML_Q4_1 || t == XF_GGML_Q5_0 ||
                         t == XF_GGML_Q4_K || t == XF_GGML_Q6_K; /* the types with a several-row kernel */
        CHECK_MSG(!rows || top < XF_ISA_AVX2 || g_avxm_type[i][XF_QAVX_2] > 0, "type %d: no AVX2 several-row GEMV", t);
        CHECK_MSG(!rows || top < XF_ISA_AVX512 || g_avxm_type[i][XF_QAVX_512] > 0,
                  "type %d: no AVX-512 several-row GEMV", t);
    }
    printf("hand-written decode GEMV (every type) compared on %d shapes with AVX2, %d with AVX-512VL\n",
           g_avx_checked[XF_QAVX_2], g_avx_checked[XF_QAVX_512]);
    printf("several-row decode GEMV compared on %d shapes with AVX2, %d with AVX-512VL\n", g_avxm_checked[XF_QAVX_2],
           g_avxm_checked[XF_QAVX_512]);
    xf_pool_free(p1);
    xf_pool_free(p2);
    return xf_t_report();
}
