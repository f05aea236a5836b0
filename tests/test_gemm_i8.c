/* test_gemm_i8.c — the int8 GEMM: every ISA's micro-kernel bitwise equal to the scalar reference
 * (integer sums are exact) over odd shapes, panel cuts and tails, the 7-bit-activation kernel to
 * the reference with act_max 63; thread-count independence; and
 * the quantization error against the fp32 product; activations whose x * inv rounds to a tie in
 * float but not exactly (a fused multiply-add in a quantizer would round them the other way). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "harness.h"
#include "kernels/gemm_i8.h"
#include "kernels/matmul.h"

static void test_shapes(xf_pool *pool2) {
    int checked[XF_I8_ISA_COUNT] = {0};
    const size_t shapes[][3] = {{1, 1, 1},   {1, 7, 3},     {3, 5, 9},    {4, 32, 8},    {9, 33, 65},
                                {17, 64, 384}, {40, 100, 1536}, {70, 384, 384}, {2, 1000, 13}, {300, 40, 21},
                                {16, 48, 128}, {33, 32, 200}, {32, 64, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t T = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *X = malloc(T * K * 4), *W = malloc(N * K * 4), *b = malloc(N * 4);
        float *R = calloc(T * N, 4), *Y = calloc(T * N, 4), *F = calloc(T * N, 4);
        for (size_t i = 0; i < T * K; i++) X[i] = xf_t_frand() * (i % 17 == 0 ? 8.0f : 1.0f); /* a few outliers */
        for (size_t i = 0; i < N * K; i++) W[i] = xf_t_frand() * 0.1f;
        for (size_t i = 0; i < N; i++) b[i] = xf_t_frand();
        if (s == 0) X[0] = 0.0f; /* an all-zero row: scale 0 */
        uint8_t *P = xf_aligned_alloc(xf_i8_packed_bytes(N, K));
        float *sw = malloc(N * 4);
        xf_i8_quantize_pack(W, K, N, K, P, sw);
        xf_gemm_i8_ref(X, K, T, W, K, b, R, N, N, K, 127);
        for (int isa = 0; isa < XF_I8_ISA_COUNT; isa++) {
            if (!xf_i8_isa_supported((xf_i8_isa)isa)) continue;
            checked[isa]++;
            memset(Y, 0, T * N * 4);
            xf_gemm_i8_isa((xf_i8_isa)isa, X, K, T, P, sw, b, Y, N, 0, N, K, NULL, 0);
            CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "i8 %s T=%zu N=%zu K=%zu differs from the reference",
                      xf_i8_isa_name((xf_i8_isa)isa), T, N, K);
            /* channel ranges that cut panels */
            if (N > 3) {
                memset(Y, 0, T * N * 4);
                size_t cut = N / 3 + 1;
                xf_gemm_i8_isa((xf_i8_isa)isa, X, K, T, P, sw, b, Y, N, 0, cut, K, NULL, 0);
                xf_gemm_i8_isa((xf_i8_isa)isa, X, K, T, P, sw, b, Y, N, cut, N, K, NULL, 0);
                CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "i8 %s T=%zu N=%zu K=%zu: split at channel %zu differs",
                          xf_i8_isa_name((xf_i8_isa)isa), T, N, K, cut);
            }
        }
        /* against fp32: 8-bit weights and activations keep the relative error near 1 % */
        xf_gemm_f32_nt_ref(X, K, W, K, b, F, N, T, 0, N, K);
        double e = xf_t_nerr(R, F, T * N);
        CHECK_MSG(e < 0.02, "i8 T=%zu N=%zu K=%zu: error vs fp32 %.3g", T, N, K, e);
        /* 7-bit activations: bitwise the reference with act_max 63, whole and cut at a channel */
        float *R7 = calloc(T * N, 4);
        xf_gemm_i8_ref(X, K, T, W, K, b, R7, N, N, K, 63);
        memset(Y, 0, T * N * 4);
        xf_gemm_i8_u7(X, K, T, P, sw, b, Y, N, 0, N, K, NULL, 0);
        CHECK_MSG(memcmp(Y, R7, T * N * 4) == 0, "i8 u7 T=%zu N=%zu K=%zu differs from the reference", T, N, K);
        if (N > 3) {
            memset(Y, 0, T * N * 4);
            size_t cut = N / 3 + 1;
            xf_gemm_i8_u7(X, K, T, P, sw, b, Y, N, 0, cut, K, NULL, 0);
            xf_gemm_i8_u7(X, K, T, P, sw, b, Y, N, cut, N, K, NULL, 0);
            CHECK_MSG(memcmp(Y, R7, T * N * 4) == 0, "i8 u7 T=%zu N=%zu K=%zu: split differs", T, N, K);
        }
        double e7 = xf_t_nerr(R7, F, T * N);
        CHECK_MSG(e7 < 0.03, "i8 u7 T=%zu N=%zu K=%zu: error vs fp32 %.3g", T, N, K, e7);
        /* the pool's product: the numerics this CPU uses, 2 threads */
        memset(Y, 0, T * N * 4);
        xf_matmul_i8(pool2, X, K, T, P, sw, b, Y, N, N, K);
        CHECK_MSG(memcmp(Y, xf_i8_act_max() == 63 ? R7 : R, T * N * 4) == 0, "i8 T=%zu N=%zu K=%zu: 2 threads differ", T,
                  N, K);
        free(R7);
        free(X), free(W), free(b), free(R), free(Y), free(F), free(P), free(sw);
    }
    printf("int8 kernels compared bitwise with the reference:");
    for (int isa = 0; isa < XF_I8_ISA_COUNT; isa++)
        printf(" %s %s", xf_i8_isa_name((xf_i8_isa)isa), checked[isa] ? "yes" : "no (not on this CPU)");
    printf(", 7-bit activations (%s here)\n", xf_i8_act_max() == 63 ? "used" : "not used");
}

static void test_quantize_row(void) {
    float x[70] = {0.5f, -1.0f, 2.0f, -2.0f, 0.0f, 1e-3f, -0.99f, 1.5f, 0.25f, -0.75f, 1.0f};
    x[64] = 0.5f, x[65] = -0.25f; /* second group: its own scale */
    int8_t q[72];
    float s[2];
    int32_t sum[2];
    xf_i8_quantize_row(x, 70, q, s, sum);
    CHECK(fabsf(s[0] - 2.0f / 127.0f) < 1e-9f && fabsf(s[1] - 0.5f / 127.0f) < 1e-9f);
    CHECK(q[2] == 127 && q[3] == -127 && q[4] == 0 && q[0] == 32 && q[1] == -64 && q[64] == 127 && q[65] == -64);
    CHECK(q[70] == 0 && q[71] == 0 && sum[1] == 63);
    int32_t t = 0;
    for (int k = 0; k < 64; k++) t += q[k];
    CHECK(sum[0] == t);
    float z[5] = {0};
    xf_i8_quantize_row(z, 5, q, s, sum);
    CHECK(s[0] == 0.0f && q[0] == 0 && q[4] == 0 && sum[0] == 0);
}

/* Rows whose inputs x give fl(x * inv) == n + 0.5 while the exact product is not n + 0.5: rounding
 * the float product to even and rounding the exact one (an FMA-contracted quantizer) differ. */
static void test_rounding_ties(int act_max) {
    const size_t T = 6, N = 40, K = 200;
    float *X = malloc(T * K * 4), *W = malloc(N * K * 4), *R = calloc(T * N, 4), *Y = calloc(T * N, 4);
    size_t found = 0;
    const size_t ng = (K + XF_I8_GROUP - 1) / XF_I8_GROUP;
    float ginv[(200 + XF_I8_GROUP - 1) / XF_I8_GROUP], unit;
    int32_t mu[(200 + XF_I8_GROUP - 1) / XF_I8_GROUP];
    for (size_t t = 0; t < T; t++) {
        /* each group's largest |x| sets its scale: 1 / inv, where inv is what the quantizer multiplies
         * by (m / act_max; with 63, the two-level scale of gemm_i8.h) */
        for (size_t g = 0; g < ng; g++) ginv[g] = 1.3f + 0.37f * (float)(t + g);
        if (act_max == 63) xf_i8_u7_scales(ng, K, ginv, mu, &unit);
        else
            for (size_t g = 0; g < ng; g++) ginv[g] = 1.0f / (ginv[g] / (float)act_max);
        for (size_t k0 = 0; k0 < K; k0 += XF_I8_GROUP) {
            const float m = 1.3f + 0.37f * (float)(t + k0 / XF_I8_GROUP), inv = ginv[k0 / XF_I8_GROUP], s = 1.0f / inv;
            X[t * K + k0] = (t & 1) ? -m : m; /* sets the group's scale */
            for (size_t k = k0 + 1; k < k0 + XF_I8_GROUP && k < K; k++) {
                const float half = (float)(k % (size_t)(act_max - 20)) + 0.5f, sg = (k & 2) ? -1.0f : 1.0f;
                float x = half * s, best = x;
                for (int step = 0; step < 64; step++) {
                    if ((x * inv == half) && ((double)x * (double)inv != (double)half)) {
                        best = x, found++;
                        break;
                    }
                    x = nextafterf(x, step < 32 ? 1e9f : 0.0f);
                    if (step == 31) x = nextafterf(half * s, 0.0f);
                }
                X[t * K + k] = sg * best;
            }
        }
    }
    CHECK_MSG(found > T * K / 4, "only %zu rounding ties constructed", found);
    for (size_t i = 0; i < N * K; i++) W[i] = xf_t_frand();
    uint8_t *P = xf_aligned_alloc(xf_i8_packed_bytes(N, K));
    float *sw = malloc(N * 4);
    xf_i8_quantize_pack(W, K, N, K, P, sw);
    xf_gemm_i8_ref(X, K, T, W, K, NULL, R, N, N, K, act_max);
    if (act_max == 63) {
        xf_gemm_i8_u7(X, K, T, P, sw, NULL, Y, N, 0, N, K, NULL, 0);
        CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "i8 u7: rows of rounding ties differ from the reference");
    } else
        for (int isa = 0; isa < XF_I8_ISA_COUNT; isa++) {
            if (!xf_i8_isa_supported((xf_i8_isa)isa)) continue;
            memset(Y, 0, T * N * 4);
            xf_gemm_i8_isa((xf_i8_isa)isa, X, K, T, P, sw, NULL, Y, N, 0, N, K, NULL, 0);
            CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "i8 %s: rows of rounding ties differ from the reference",
                      xf_i8_isa_name((xf_i8_isa)isa));
        }
    free(X), free(W), free(R), free(Y), free(P), free(sw);
}

/* Wide rows at the int32 limit: every activation and weight at its extreme (7-bit: the largest sums
 * the multiples allow) up to XF_I8_MAX_K inputs, against the reference's 64-bit sums. */
static void test_u7_extremes(void) {
    const size_t Ks[] = {1536, 20000, 65532}, T = 4, N = 32;
    for (size_t c = 0; c < sizeof Ks / sizeof Ks[0]; c++) {
        const size_t K = Ks[c];
        float *X = malloc(T * K * 4), *W = malloc(N * K * 4), *R = calloc(T * N, 4), *Y = calloc(T * N, 4);
        for (size_t t = 0; t < T; t++)
            for (size_t k = 0; k < K; k++) /* row 2: an all-zero group; row 3: groups of tiny values */
                X[t * K + k] = t == 2 && k / 64 == 1 ? 0.0f : t == 3 && k % 64 ? 1e-3f : (t & 1) ? -2.0f : 2.0f;
        for (size_t o = 0; o < N; o++)
            for (size_t k = 0; k < K; k++) W[o * K + k] = (o & 1) ? -0.5f : 0.5f;
        uint8_t *P = xf_aligned_alloc(xf_i8_packed_bytes(N, K));
        float *sw = malloc(N * 4);
        xf_i8_quantize_pack(W, K, N, K, P, sw);
        xf_gemm_i8_ref(X, K, T, W, K, NULL, R, N, N, K, 63);
        xf_gemm_i8_u7(X, K, T, P, sw, NULL, Y, N, 0, N, K, NULL, 0);
        CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "i8 u7 K=%zu (mult_max %d): extreme rows differ from the reference", K,
                  xf_i8_u7_mult_max(K));
        CHECK_MSG(fabsf(R[0] - 2.0f * 0.5f * (float)K) < 1e-3f * (float)K, "i8 u7 K=%zu: %g, expected %g", K, R[0],
                  (double)K);
        /* and every ISA's 8-bit kernel on the same wide rows (the exact AVX2 kernel's int16 rows of
         * 131 KB at K 65532 do not fit the 64 KiB a NULL scratch gets: a heap buffer then) */
        xf_gemm_i8_ref(X, K, T, W, K, NULL, R, N, N, K, 127);
        for (int isa = 0; isa < XF_I8_ISA_COUNT; isa++) {
            if (!xf_i8_isa_supported((xf_i8_isa)isa)) continue;
            memset(Y, 0, T * N * 4);
            xf_gemm_i8_isa((xf_i8_isa)isa, X, K, T, P, sw, NULL, Y, N, 0, N, K, NULL, 0);
            CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "i8 %s K=%zu: extreme rows differ from the reference",
                      xf_i8_isa_name((xf_i8_isa)isa), K);
        }
        free(X), free(W), free(R), free(Y), free(P), free(sw);
    }
}

/* Q, K and V at once (xf_matmul_i8_many): bitwise three xf_matmul_i8 calls, with rows split between
 * threads (T large) and with the channel-split fallback (T small). */
static void test_many(xf_pool *pool2) {
    const size_t K = 200, N[3] = {64, 33, 100}, Ts[] = {3, 45};
    for (size_t c = 0; c < 2; c++) {
        const size_t T = Ts[c];
        float *X = malloc(T * K * 4);
        for (size_t i = 0; i < T * K; i++) X[i] = xf_t_frand();
        xf_panel_op ops[3];
        float *W[3], *Y1[3];
        for (int q = 0; q < 3; q++) {
            W[q] = malloc(N[q] * K * 4);
            for (size_t i = 0; i < N[q] * K; i++) W[q][i] = xf_t_frand();
            uint8_t *P = xf_aligned_alloc(xf_i8_packed_bytes(N[q], K));
            float *sw = malloc(N[q] * 4), *b = malloc(N[q] * 4);
            for (size_t i = 0; i < N[q]; i++) b[i] = xf_t_frand();
            xf_i8_quantize_pack(W[q], K, N[q], K, P, sw);
            ops[q] = (xf_panel_op){P, sw, q == 1 ? NULL : b, calloc(T * N[q], 4), N[q], N[q]};
            Y1[q] = calloc(T * N[q], 4);
            xf_matmul_i8(pool2, X, K, T, P, sw, ops[q].bias, Y1[q], N[q], N[q], K);
            if (q == 1) free(b);
        }
        xf_matmul_i8_many(pool2, 3, ops, X, K, T, K);
        for (int q = 0; q < 3; q++) {
            CHECK_MSG(memcmp(ops[q].Y, Y1[q], T * N[q] * 4) == 0, "i8 many T=%zu: product %d differs from one by one", T, q);
            free(W[q]), free(Y1[q]), free(ops[q].Y), free((void *)ops[q].packed), free((void *)ops[q].scale);
            free((void *)ops[q].bias);
        }
        free(X);
    }
}

int main(void) {
    xf_pool *pool2 = NULL;
    CHECK(xf_pool_create(2, &pool2) == XF_OK);
    test_quantize_row();
    test_rounding_ties(127);
    test_rounding_ties(63);
    test_shapes(pool2);
    test_many(pool2);
    test_u7_extremes();
    xf_pool_free(pool2);
    return xf_t_report();
}
