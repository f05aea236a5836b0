/* test_kernels.c — every SIMD/dispatched kernel against its scalar reference by normalized error,
 * over random shapes including odd sizes and tails; thread-count independence of the GEMM. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"

static unsigned long long g_rng = 88172645463325252ULL;
static float frand(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

static float *randv(size_t n) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = frand();
    return v;
}

/* ||a - b|| / ||b|| */
static double nerr(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void test_gemm(xf_pool *pool2) {
    const size_t shapes[][3] = {{1, 1, 1},   {1, 7, 3},    {3, 5, 9},     {4, 4, 8},   {5, 13, 17},
                                {17, 33, 65}, {64, 64, 64}, {65, 31, 129}, {7, 384, 384}, {130, 100, 1536}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t T = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *X = randv(T * K), *W = randv(N * K), *b = randv(N);
        float *Y = calloc(T * N, 4), *R = calloc(T * N, 4), *Y2 = calloc(T * N, 4);
        xf_gemm_f32_nt_ref(X, K, W, K, b, R, N, T, 0, N, K);
        xf_matmul_f32_nt(NULL, X, K, W, K, b, Y, N, T, N, K);
        double e = nerr(Y, R, T * N);
        CHECK_MSG(e < 1e-6, "gemm T=%zu N=%zu K=%zu normalized error %.3g", T, N, K, e);
        xf_matmul_f32_nt(pool2, X, K, W, K, b, Y2, N, T, N, K);
        CHECK_MSG(memcmp(Y, Y2, T * N * 4) == 0, "gemm T=%zu N=%zu K=%zu differs between 1 and 2 threads", T, N, K);
        /* one row at a time must give the very same bits as the blocked product */
        for (size_t t = 0; t < T; t++) xf_gemm_f32_nt(X + t * K, K, W, K, b, Y2 + t * N, N, 1, 0, N, K);
        CHECK_MSG(memcmp(Y, Y2, T * N * 4) == 0, "gemm T=%zu N=%zu K=%zu: row-by-row differs from blocked", T, N, K);
        free(X), free(W), free(b), free(Y), free(R), free(Y2);
    }
}

static void test_attention(void) {
    const size_t cases[][3] = {{1, 1, 8}, {3, 2, 5}, {7, 4, 16}, {33, 3, 32}, {128, 2, 64}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t L = cases[c][0], H = cases[c][1], dh = cases[c][2], ld = H * dh;
        float *Q = randv(L * ld), *K = randv(L * ld), *V = randv(L * ld);
        float *O = calloc(L * ld, 4), *R = calloc(L * ld, 4), *scr = calloc(xf_attention_scratch(L, dh), 4);
        for (int causal = 0; causal < 2; causal++) {
            for (size_t h = 0; h < H; h++) {
                xf_attention_head(Q, ld, K, ld, V, ld, O, ld, L, h, dh, 0.125f, causal, scr);
                xf_attention_head_ref(Q, ld, K, ld, V, ld, R, ld, L, h, dh, 0.125f, causal, scr);
            }
            double e = nerr(O, R, L * ld);
            CHECK_MSG(e < 1e-5, "attention L=%zu H=%zu dh=%zu causal=%d normalized error %.3g", L, H, dh, causal, e);
        }
        free(Q), free(K), free(V), free(O), free(R), free(scr);
    }
}

static void test_ops(void) {
    const size_t ns[] = {1, 7, 8, 9, 31, 256, 1000};
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        size_t n = ns[c];
        float *a = randv(n), *b = malloc(n * 4);
        for (size_t i = 0; i < n; i++) a[i] *= 6.0f; /* cover the tails of erf and exp */
        memcpy(b, a, n * 4);
        xf_gelu_erf(a, n);
        xf_gelu_erf_ref(b, n);
        double e = nerr(a, b, n);
        CHECK_MSG(e < 1e-6, "gelu n=%zu normalized error %.3g", n, e);
        for (size_t i = 0; i < n; i++) a[i] = b[i] = frand() * 20.0f;
        xf_softmax_row(a, n, 0.3f);
        xf_softmax_row_ref(b, n, 0.3f);
        e = nerr(a, b, n);
        CHECK_MSG(e < 1e-6, "softmax n=%zu normalized error %.3g", n, e);
        free(a), free(b);
    }
    float big[3] = {-1e30f, 0.0f, 1e30f};
    xf_gelu_erf(big, 3);
    CHECK(big[0] == 0.0f && big[1] == 0.0f && big[2] == 1e30f);
}

static void test_split(void) {
    for (size_t n = 0; n < 50; n++) {
        for (int nth = 1; nth <= 5; nth++) {
            size_t covered = 0, prev_end = 0;
            for (int i = 0; i < nth; i++) {
                size_t a, e;
                xf_split_range(n, 4, i, nth, &a, &e);
                CHECK(a == prev_end || a == e);
                if (a < e) prev_end = e;
                covered += e - a;
            }
            CHECK(covered == n);
        }
    }
}

int main(void) {
    xf_pool *pool2 = NULL;
    CHECK(xf_pool_create(2, &pool2) == XF_OK);
    test_gemm(pool2);
    test_attention();
    test_ops();
    test_split();
    xf_pool_free(pool2);
    xf_pool_free(NULL);
    return xf_t_report();
}
