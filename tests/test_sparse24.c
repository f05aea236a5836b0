/* test_sparse24.c — 2:4 sparse weights (kernels/sparse24.h): the masks (exactly 2 of every 4 kept,
 * the 2 of largest |w| or |w| * s, ties to the lower input), compression round trip (the dense
 * rows come back with the dropped weights 0), the product at every ISA level bitwise equal to the
 * scalar reference over odd shapes and tails, channel splits, 1-2 threads and every number of
 * activation rows, and close to the dense product with the masked weights computed in double
 * (|y - y_dense| <= K 2^-23 sum_k |x_k w_k|). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/threadpool.h"
#include "harness.h"
#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/sparse24.h"

static void test_mask(void) {
    /* one row, 3 groups; scores with ties */
    const float W[12] = {1, -4, 3, 2, /* keeps -4, 3 */ 5, 5, 5, 5, /* ties: 0, 1 */ 0, 0, -1, 0 /* -1, then the first 0 */};
    uint8_t c[64];
    float D[12];
    xf_s24_compress(W, 12, 1, 12, NULL, c);
    xf_s24_decompress_rows(c, 1, 12, 0, 1, D);
    const float want[12] = {0, -4, 3, 0, 5, 5, 0, 0, 0, 0, -1, 0};
    CHECK(memcmp(D, want, sizeof D) == 0);
    /* with input scores: s makes input 0 and 3 win in the first group */
    const float s[12] = {10, 1, 1, 10, 1, 1, 1, 1, 1, 1, 1, 1};
    xf_s24_compress(W, 12, 1, 12, s, c);
    xf_s24_decompress_rows(c, 1, 12, 0, 1, D);
    CHECK(D[0] == 1 && D[1] == 0 && D[2] == 0 && D[3] == 2);
}

/* max over outputs of |a - dense(masked W)| / sum_k |x_k w_k| (double) */
static double err_dense(const float *Y, const float *X, const float *D, const float *b, size_t T, size_t N, size_t K) {
    double worst = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t o = 0; o < N; o++) {
            double s = 0, a = 0;
            for (size_t k = 0; k < K; k++) {
                s += (double)X[t * K + k] * D[o * K + k];
                a += fabs((double)X[t * K + k] * D[o * K + k]);
            }
            s += b ? b[o] : 0;
            const double e = fabs(Y[t * N + o] - s) / (a > 0 ? a : 1);
            worst = e > worst ? e : worst;
        }
    return worst;
}

static void test_shapes(xf_pool *pool2) {
    const size_t shapes[][3] = {{1, 1, 4},   {1, 7, 8},     {3, 5, 12},     {4, 32, 28},   {9, 33, 64},
                                {5, 17, 60}, {17, 64, 384}, {1, 100, 1536}, {6, 70, 576}, {2, 40, 36}, {13, 3, 100}};
    int levels = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const size_t T = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
        float *X = malloc(T * K * 4), *W = malloc(N * K * 4), *b = malloc(N * 4), *D = malloc(N * K * 4);
        float *s = malloc(K * 4), *R = calloc(T * N, 4), *Y = calloc(T * N, 4);
        for (size_t i = 0; i < T * K; i++) X[i] = xf_t_frand() * (i % 17 == 0 ? 8.0f : 1.0f);
        for (size_t i = 0; i < N * K; i++) W[i] = xf_t_frand() * 0.1f;
        for (size_t i = 0; i < N; i++) b[i] = xf_t_frand();
        for (size_t i = 0; i < K; i++) s[i] = 0.1f + fabsf(xf_t_frand()) * 4.0f;
        uint8_t *P = xf_aligned_alloc(xf_s24_bytes(N, K));
        xf_s24_compress(W, K, N, K, si % 2 ? s : NULL, P);
        xf_s24_decompress_rows(P, N, K, 0, N, D);
        /* the mask: 2 of every 4 kept, equal to W there, and no dropped score beats a kept one */
        int ok = 1;
        for (size_t o = 0; o < N; o++)
            for (size_t g = 0; g < K / 4; g++) {
                int kept = 0;
                float lo_kept = INFINITY, hi_drop = -1;
                for (int i = 0; i < 4; i++) {
                    const size_t k = o * K + 4 * g + i;
                    const float sc = fabsf(W[k]) * (si % 2 ? s[4 * g + i] : 1.0f);
                    if (D[k] != 0) {
                        kept++;
                        ok &= D[k] == W[k];
                        lo_kept = sc < lo_kept ? sc : lo_kept;
                    } else {
                        hi_drop = sc > hi_drop ? sc : hi_drop;
                    }
                }
                ok &= kept == 2 && hi_drop <= lo_kept;
            }
        CHECK_MSG(ok, "N=%zu K=%zu: the 2:4 mask is wrong", N, K);

        xf_s24_ref(P, N, K, b, X, K, T, R, N);
        const double e = err_dense(R, X, D, b, T, N, K);
        CHECK_MSG(e <= (double)K * 0x1p-23, "T=%zu N=%zu K=%zu: reference off the dense masked product by %.3g", T, N, K,
                  e);
        for (int l = xf_isa_cpu_level(); l >= XF_ISA_SCALAR; l--) {
            xf_isa_cap((xf_isa_level_t)l);
            const char *lv = xf_isa_level_name((xf_isa_level_t)l);
            memset(Y, 0, T * N * 4);
            xf_s24_gemm_range(P, N, K, b, X, K, T, Y, N, 0, N);
            CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "level %s T=%zu N=%zu K=%zu differs from the reference", lv, T, N, K);
            memset(Y, 0, T * N * 4);
            xf_s24_gemm_range(P, N, K, NULL, X, K, T, Y, N, 0, N / 3);
            xf_s24_gemm_range(P, N, K, NULL, X, K, T, Y, N, N / 3, N);
            for (size_t i = 0; i < T * N; i++) Y[i] += b[i % N];
            CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "level %s T=%zu N=%zu K=%zu: split / no bias differs", lv, T, N, K);
            for (size_t t = 0; t < T; t++) { /* one activation row at a time (decode) */
                xf_s24_gemm_range(P, N, K, b, X + t * K, K, 1, Y + t * N, N, 0, N);
            }
            CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "level %s T=%zu N=%zu K=%zu: row by row differs", lv, T, N, K);
            if (si == 0) levels++;
        }
        xf_isa_cap(XF_ISA_AVX512);
        memset(Y, 0, T * N * 4);
        xf_s24_matmul(pool2, P, N, K, b, X, K, T, Y, N);
        if (T <= XF_S24_GEMV_MAX_T) {
            CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "T=%zu N=%zu K=%zu: 2 threads differ", T, N, K);
        } else { /* many rows: the dense GEMM on the decompressed rows, bits of the dense masked product */
            xf_gemm_f32_nt(X, K, D, K, b, R, N, T, 0, N, K);
            CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "T=%zu N=%zu K=%zu: many rows differ from the dense GEMM", T, N, K);
            CHECK_MSG(err_dense(Y, X, D, b, T, N, K) <= (double)K * 0x1p-23, "T=%zu N=%zu K=%zu: dense path off", T, N, K);
        }
        free(X), free(W), free(b), free(D), free(s), free(R), free(Y), free(P);
    }
    printf("2:4 kernels checked at %d ISA levels (CPU: %s)\n", levels, xf_isa_level_name(xf_isa_cpu_level()));
}

/* s24q8 (int8 values, a scale per row): quantization within half a step of the float values, the
 * product at every ISA level bitwise the scalar reference (whole, split, row by row, 2 threads)
 * and close to the dense product of the dequantized weights; many rows: the dense GEMM on them. */
static void test_q8(xf_pool *pool2) {
    const size_t shapes[][3] = {{1, 1, 4}, {1, 7, 8}, {3, 5, 12}, {4, 32, 28}, {9, 33, 64},
                                {5, 17, 60}, {17, 64, 384}, {1, 100, 1536}, {6, 70, 576}, {13, 3, 100}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const size_t T = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
        float *X = malloc(T * K * 4), *W = malloc(N * K * 4), *b = malloc(N * 4), *D = malloc(N * K * 4);
        float *D8 = malloc(N * K * 4), *R = calloc(T * N, 4), *Y = calloc(T * N, 4);
        for (size_t i = 0; i < T * K; i++) X[i] = xf_t_frand() * (i % 17 == 0 ? 8.0f : 1.0f);
        for (size_t i = 0; i < N * K; i++) W[i] = xf_t_frand() * 0.1f;
        for (size_t i = 0; i < N; i++) b[i] = xf_t_frand();
        uint8_t *P = xf_aligned_alloc(xf_s24_bytes(N, K)), *Q = xf_aligned_alloc(xf_s24q8_bytes(N, K));
        xf_s24_compress(W, K, N, K, NULL, P);
        xf_s24_decompress_rows(P, N, K, 0, N, D);
        xf_s24q8_from_s24(P, N, K, Q);
        xf_s24q8_decompress_rows(Q, N, K, 0, N, D8);
        int ok = 1;
        for (size_t o = 0; o < N; o++) {
            float amax = 0;
            for (size_t k = 0; k < K; k++) amax = fmaxf(amax, fabsf(D[o * K + k]));
            for (size_t k = 0; k < K; k++)
                ok &= (D[o * K + k] == 0) == (D8[o * K + k] == 0 || fabsf(D[o * K + k]) < amax / 254.0f) &&
                      fabsf(D8[o * K + k] - D[o * K + k]) <= amax / 254.0f * 1.0001f;
        }
        CHECK_MSG(ok, "N=%zu K=%zu: int8 values off the float ones by more than half a step", N, K);
        xf_s24q8_ref(Q, N, K, b, X, K, T, R, N);
        CHECK_MSG(err_dense(R, X, D8, b, T, N, K) <= (double)K * 0x1p-23, "T=%zu N=%zu K=%zu: q8 reference off", T, N, K);
        for (int l = xf_isa_cpu_level(); l >= XF_ISA_SCALAR; l--) {
            xf_isa_cap((xf_isa_level_t)l);
            const char *lv = xf_isa_level_name((xf_isa_level_t)l);
            memset(Y, 0, T * N * 4);
            xf_s24q8_gemm_range(Q, N, K, b, X, K, T, Y, N, 0, N / 3);
            xf_s24q8_gemm_range(Q, N, K, b, X, K, T, Y, N, N / 3, N);
            CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "q8 level %s T=%zu N=%zu K=%zu differs from the reference", lv, T, N, K);
            for (size_t t = 0; t < T; t++) xf_s24q8_gemm_range(Q, N, K, b, X + t * K, K, 1, Y + t * N, N, 0, N);
            CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "q8 level %s T=%zu N=%zu K=%zu: row by row differs", lv, T, N, K);
        }
        xf_isa_cap(XF_ISA_AVX512);
        memset(Y, 0, T * N * 4);
        xf_s24q8_matmul(pool2, Q, N, K, b, X, K, T, Y, N);
        if (T > XF_S24_GEMV_MAX_T && K % 32) xf_gemm_f32_nt(X, K, D8, K, b, R, N, T, 0, N, K);
        else if (K % 32 == 0) { /* int8 activations, integer dots (test_int) */
            void *act = malloc(xf_s24i_act_bytes(T, K));
            xf_s24i_act_quantize(XF_S24I_SCALAR, X, K, T, K, act);
            xf_s24i_range(XF_S24I_SCALAR, 8, Q, N, K, b, act, T, R, N, 0, N);
            free(act);
        }
        CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "q8 T=%zu N=%zu K=%zu: 2 threads differ", T, N, K);
        free(X), free(W), free(b), free(D), free(D8), free(R), free(Y), free(P), free(Q);
    }
}

/* Integer dots (int8 activations) for s24q8 and s24q4: every ISA bitwise the scalar reference
 * (whole, split, row by row, 2 threads), the reference within float rounding of the double sum of
 * the same integers, 4-bit values within half a step of the float ones, and the product close to
 * the float one (activation rounding: 1 % of sum |x w| at most). */
static void test_int(xf_pool *pool2) {
    const size_t shapes[][3] = {{1, 1, 32},  {1, 7, 64},     {3, 5, 96},   {4, 33, 160},   {8, 17, 128},
                                {1, 100, 1536}, {2, 70, 576}, {5, 40, 224}, {13, 37, 576}, {40, 9, 96}, {700, 3, 1024}};
    int isas = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const size_t T = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
        float *X = malloc(T * K * 4), *W = malloc(N * K * 4), *b = malloc(N * 4), *D = malloc(N * K * 4);
        float *D4 = malloc(N * K * 4), *R = calloc(T * N, 4), *Y = calloc(T * N, 4);
        for (size_t i = 0; i < T * K; i++) X[i] = xf_t_frand() * (i % 17 == 0 ? 8.0f : 1.0f);
        for (size_t i = 0; i < N * K; i++) W[i] = xf_t_frand() * 0.1f * (i % 29 == 0 ? 6.0f : 1.0f);
        for (size_t i = 0; i < N; i++) b[i] = xf_t_frand();
        uint8_t *P = xf_aligned_alloc(xf_s24_bytes(N, K)), *Q[2];
        Q[0] = xf_aligned_alloc(xf_s24q8_bytes(N, K)), Q[1] = xf_aligned_alloc(xf_s24q4_bytes(N, K));
        xf_s24_compress(W, K, N, K, NULL, P);
        xf_s24_decompress_rows(P, N, K, 0, N, D);
        xf_s24q8_from_s24(P, N, K, Q[0]);
        xf_s24q4_from_s24(P, N, K, Q[1]);
        xf_s24q4_decompress_rows(Q[1], N, K, 0, N, D4);
        int ok = 1;
        for (size_t o = 0; o < N; o++)
            for (size_t g = 0; g < K; g += 32) { /* a group of 32 inputs: 16 values, one scale */
                float amax = 0;
                for (size_t k = g; k < g + 32; k++) amax = fmaxf(amax, fabsf(D[o * K + k]));
                for (size_t k = g; k < g + 32; k++) {
                    /* half a step (amax / 16), a whole one where Q4_0's rule clamps at 7 x scale
                     * the values of the sign opposite to the largest (|value| 7/8 amax) */
                    const float e = fabsf(D4[o * K + k] - D[o * K + k]);
                    ok &= (D[o * K + k] != 0 || D4[o * K + k] == 0) &&
                          (e <= amax / 16.0f * 1.01f || (e <= amax / 8.0f * 1.01f && fabsf(D4[o * K + k]) >= amax * 0.86f));
                }
            }
        CHECK_MSG(ok, "N=%zu K=%zu: 4-bit values off the float ones by more than half a step", N, K);
        void *act = malloc(xf_s24i_act_bytes(T, K)), *ref_act = malloc(xf_s24i_act_bytes(T, K));
        xf_s24i_act_quantize(XF_S24I_SCALAR, X, K, T, K, ref_act);
        for (int bi = 0; bi < 2; bi++) {
            const int bits = bi ? 4 : 8;
            xf_s24i_range(XF_S24I_SCALAR, bits, Q[bi], N, K, b, ref_act, T, R, N, 0, N);
            /* the reference against the double sum of its own integers, and the float product */
            float *Dq = bi ? D4 : malloc(N * K * 4);
            if (!bi) xf_s24q8_decompress_rows(Q[0], N, K, 0, N, Dq);
            const uint8_t *xu = ref_act;
            const size_t Kp = (K + 127) / 128 * 128;
            const float *dxe = (const float *)(const void *)(xu + T * Kp);
            double worst = 0, worst_f = 0;
            for (size_t t = 0; t < T; t++)
                for (size_t o = 0; o < N; o++) {
                    double s = b[o], a = 0, sf = b[o], af = 0;
                    for (size_t k = 0; k < K; k++) {
                        const double xq = ((int)xu[t * Kp + k] - 128) * (double)dxe[t * (Kp / 8) + k / 8];
                        s += xq * Dq[o * K + k], a += fabs(xq * Dq[o * K + k]);
                        sf += (double)X[t * K + k] * D[o * K + k], af += fabs((double)X[t * K + k] * D[o * K + k]);
                    }
                    const double e = fabs(R[t * N + o] - s) / (a + fabs(b[o]) > 0 ? a + fabs(b[o]) : 1);
                    const double ef = fabs(R[t * N + o] - sf) / (af > 0 ? af : 1);
                    worst = e > worst ? e : worst, worst_f = ef > worst_f ? ef : worst_f;
                }
            CHECK_MSG(worst <= (double)K * 0x1p-23, "bits %d T=%zu N=%zu K=%zu: reference off its integers by %g", bits,
                      T, N, K, worst);
            CHECK_MSG(worst_f <= (bi ? 0.15 : 0.02), "bits %d T=%zu N=%zu K=%zu: off the float product by %g", bits, T,
                      N, K, worst_f);
            if (!bi) free(Dq);
            for (int isa = XF_S24I_VBMI; isa >= XF_S24I_SCALAR; isa--) {
                if (!xf_s24i_supported((xf_s24i_isa)isa)) continue;
                isas |= 1 << isa;
                xf_s24i_act_quantize((xf_s24i_isa)isa, X, K, T, K, act);
                memset(Y, 0, T * N * 4);
                xf_s24i_range((xf_s24i_isa)isa, bits, Q[bi], N, K, b, act, T, Y, N, 0, N / 3);
                xf_s24i_range((xf_s24i_isa)isa, bits, Q[bi], N, K, b, act, T, Y, N, N / 3, N);
                CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "bits %d isa %d T=%zu N=%zu K=%zu differs from the reference",
                          bits, isa, T, N, K);
                for (size_t t = 0; t < T; t++) { /* one activation row at a time */
                    xf_s24i_act_quantize((xf_s24i_isa)isa, X + t * K, K, 1, K, act);
                    xf_s24i_range((xf_s24i_isa)isa, bits, Q[bi], N, K, NULL, act, 1, Y + t * N, N, 0, N);
                }
                xf_s24i_act_quantize(XF_S24I_SCALAR, X, K, T, K, act);
                float *Rn = calloc(T * N, 4);
                xf_s24i_range(XF_S24I_SCALAR, bits, Q[bi], N, K, NULL, act, T, Rn, N, 0, N);
                CHECK_MSG(memcmp(Y, Rn, T * N * 4) == 0, "bits %d isa %d T=%zu K=%zu: row by row differs", bits, isa, T, K);
                free(Rn);
            }
            memset(Y, 0, T * N * 4);
            CHECK(xf_s24i_matmul(pool2, bits, Q[bi], N, K, b, X, K, T, Y, N) == 1);
            CHECK_MSG(memcmp(Y, R, T * N * 4) == 0, "bits %d T=%zu N=%zu K=%zu: 2 threads differ", bits, T, N, K);
        }
        free(act), free(ref_act);
        free(X), free(W), free(b), free(D), free(D4), free(R), free(Y), free(P), free(Q[0]), free(Q[1]);
    }
    CHECK(xf_s24i_supported(XF_S24I_SCALAR));
    printf("2:4 integer-dot kernels checked: scalar%s%s\n", isas & 2 ? ", avx2" : "", isas & 4 ? ", avx512 vbmi+vnni" : "");
}

/* Several products on the same activations in one pass (Q, K, V; gate, up): each output bitwise
 * its product alone, at 1 and 3 activation rows, 8- and 4-bit values, widths not multiples of
 * the 32-row blocks (so a block boundary falls inside a thread's share). */
static void test_many(xf_pool *pool2) {
    const size_t K = 576, Ns[3] = {100, 33, 64};
    float *X = malloc(3 * K * 4), *b = malloc(100 * 4);
    for (size_t i = 0; i < 3 * K; i++) X[i] = xf_t_frand();
    for (size_t i = 0; i < 100; i++) b[i] = xf_t_frand();
    for (int bits = 8; bits >= 4; bits -= 4) {
        uint8_t *Q[3];
        float *Y[3], *R[3];
        xf_s24i_op ops[3];
        for (int i = 0; i < 3; i++) {
            const size_t N = Ns[i];
            float *W = malloc(N * K * 4);
            for (size_t k = 0; k < N * K; k++) W[k] = xf_t_frand() * 0.1f;
            uint8_t *P = xf_aligned_alloc(xf_s24_bytes(N, K));
            Q[i] = xf_aligned_alloc(bits == 8 ? xf_s24q8_bytes(N, K) : xf_s24q4_bytes(N, K));
            xf_s24_compress(W, K, N, K, NULL, P);
            if (bits == 8) xf_s24q8_from_s24(P, N, K, Q[i]);
            else xf_s24q4_from_s24(P, N, K, Q[i]);
            Y[i] = calloc(3 * N, 4), R[i] = calloc(3 * N, 4);
            ops[i] = (xf_s24i_op){Q[i], N, i == 1 ? NULL : b, Y[i], N};
            free(W), free(P);
        }
        for (size_t T = 1; T <= 3; T += 2) {
            CHECK(xf_s24i_matmul_many(pool2, bits, 3, ops, X, K, T, K) == 1);
            for (int i = 0; i < 3; i++) {
                CHECK(xf_s24i_matmul(pool2, bits, Q[i], Ns[i], K, ops[i].bias, X, K, T, R[i], Ns[i]) == 1);
                CHECK_MSG(memcmp(Y[i], R[i], T * Ns[i] * 4) == 0, "bits %d T=%zu: product %d of 3 differs from alone", bits, T, i);
            }
        }
        for (int i = 0; i < 3; i++) free(Q[i]), free(Y[i]), free(R[i]);
    }
    CHECK(xf_s24i_matmul_many(pool2, 8, 1, (xf_s24i_op[]){{NULL, 4, NULL, NULL, 4}}, X, 36, 1, 36) == 0); /* K % 32 */
    free(X), free(b);
}

int main(void) {
    xf_pool *pool2 = NULL;
    CHECK(xf_pool_create(2, &pool2) == XF_OK);
    CHECK(xf_pool_reserve(pool2, xf_s24_scratch(1536)) == XF_OK);
    CHECK(xf_s24_idx_row_bytes(4) == 4 && xf_s24_idx_row_bytes(64) == 8 && xf_s24_idx_row_bytes(68) == 12);
    CHECK(xf_s24_bytes(10, 64) == 10 * (32 * 4 + 8));
    test_mask();
    test_shapes(pool2);
    test_q8(pool2);
    test_int(pool2);
    test_many(pool2);
    xf_pool_free(pool2);
    return xf_t_report();
}
