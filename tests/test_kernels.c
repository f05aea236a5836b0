/* test_kernels.c — every SIMD/dispatched kernel against its scalar reference by normalized error,
 * over random shapes including odd sizes and tails, with each ISA level the CPU has (kernels/cpu.h:
 * the dispatched copies for AVX-512, AVX2 and the baseline); thread-count independence of the
 * GEMM. (The attention kernel: test_attention.c.) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/threadpool.h"
#include "harness.h"
#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/rope.h"
#include "xfmr.h"

static void test_gemm(xf_pool *pool2) {
    const size_t shapes[][3] = {{1, 1, 1},     {1, 7, 3},    {3, 5, 9},     {4, 4, 8},      {5, 13, 17},
                                {17, 33, 65},  {64, 64, 64}, {65, 31, 129}, {7, 384, 384},  {130, 100, 1536},
                                {9, 70, 1100}, {2, 33, 600}, {200, 65, 40}, {13, 1, 2049}, {100, 16, 7}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t T = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *X = xf_t_randv(T * K, 1.0f), *W = xf_t_randv(N * K, 1.0f), *b = xf_t_randv(N, 1.0f);
        float *Y = calloc(T * N, 4), *R = calloc(T * N, 4), *Y2 = calloc(T * N, 4);
        xf_gemm_f32_nt_ref(X, K, W, K, b, R, N, T, 0, N, K);
        xf_matmul_f32_nt(NULL, X, K, W, K, b, Y, N, T, N, K);
        double e = xf_t_nerr(Y, R, T * N);
        CHECK_MSG(e < 1e-6, "gemm T=%zu N=%zu K=%zu normalized error %.3g", T, N, K, e);
        xf_matmul_f32_nt(pool2, X, K, W, K, b, Y2, N, T, N, K);
        CHECK_MSG(memcmp(Y, Y2, T * N * 4) == 0, "gemm T=%zu N=%zu K=%zu differs between 1 and 2 threads", T, N, K);
        if (T > 1) {
            /* every ISA's micro-kernel (and the pool's large packing buffer vs a stack one) gives
             * the same bits, and so does any split of the rows into blocks of two or more */
            for (int isa = 0; isa < XF_GEMM_ISA_COUNT; isa++) {
                if (!xf_gemm_isa_supported((xf_gemm_isa)isa)) continue;
                memset(Y2, 0, T * N * 4);
                xf_gemm_f32_nt_isa((xf_gemm_isa)isa, X, K, W, K, b, Y2, N, T, 0, N, K);
                CHECK_MSG(memcmp(Y, Y2, T * N * 4) == 0, "gemm T=%zu N=%zu K=%zu: %s micro-kernel differs", T, N, K,
                          xf_gemm_isa_name((xf_gemm_isa)isa));
            }
            /* weights packed once per ISA: same bits, for every row count including a single row */
            for (int isa = 0; isa < XF_GEMM_ISA_COUNT; isa++) {
                if (!xf_gemm_isa_supported((xf_gemm_isa)isa)) continue;
                float *P = malloc(xf_gemm_packed_floats((xf_gemm_isa)isa, N, K) * sizeof *P);
                xf_gemm_pack((xf_gemm_isa)isa, W, K, N, K, P);
                memset(Y2, 0, T * N * 4);
                xf_matmul_f32_packed(pool2, (xf_gemm_isa)isa, X, K, P, b, Y2, N, T, N, K);
                CHECK_MSG(memcmp(Y, Y2, T * N * 4) == 0, "packed gemm T=%zu N=%zu K=%zu (%s) differs", T, N, K,
                          xf_gemm_isa_name((xf_gemm_isa)isa));
                memset(Y2, 0, T * N * 4);
                for (size_t t = 0; t < T; t++) xf_matmul_f32_packed(NULL, (xf_gemm_isa)isa, X + t * K, K, P, b, Y2 + t * N, N, 1, N, K);
                CHECK_MSG(memcmp(Y, Y2, T * N * 4) == 0, "packed gemm T=%zu N=%zu K=%zu (%s): single rows differ", T, N,
                          K, xf_gemm_isa_name((xf_gemm_isa)isa));
                free(P);
            }
            size_t split = T / 2 < 2 ? 2 : T / 2;
            memset(Y2, 0, T * N * 4);
            xf_gemm_f32_nt(X, K, W, K, b, Y2, N, split, 0, N, K);
            if (T - split > 1) xf_gemm_f32_nt(X + split * K, K, W, K, b, Y2 + split * N, N, T - split, 0, N, K);
            else if (T > split) memcpy(Y2 + split * N, Y + split * N, (T - split) * N * 4);
            CHECK_MSG(memcmp(Y, Y2, T * N * 4) == 0, "gemm T=%zu N=%zu K=%zu: row blocks differ from one block", T, N, K);
        }
        /* single rows too */
        for (size_t t = 0; t < T; t++) xf_gemm_f32_nt(X + t * K, K, W, K, b, Y2 + t * N, N, 1, 0, N, K);
        CHECK_MSG(memcmp(Y, Y2, T * N * 4) == 0, "gemm T=%zu N=%zu K=%zu: single rows differ", T, N, K);
        free(X), free(W), free(b), free(Y), free(R), free(Y2);
    }
}

static void test_ops(void) {
    const size_t ns[] = {1, 7, 8, 9, 31, 256, 1000};
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        size_t n = ns[c];
        float *a = xf_t_randv(n, 1.0f), *b = malloc(n * 4);
        for (size_t i = 0; i < n; i++) a[i] *= 6.0f; /* cover the tails of erf and exp */
        memcpy(b, a, n * 4);
        xf_gelu_erf(a, n);
        xf_gelu_erf_ref(b, n);
        double e = xf_t_nerr(a, b, n);
        CHECK_MSG(e < 1e-6, "gelu n=%zu normalized error %.3g", n, e);
        free(a), free(b);
    }
    float big[3] = {-1e30f, 0.0f, 1e30f};
    xf_gelu_erf(big, 3);
    CHECK(big[0] == 0.0f && big[1] == 0.0f && big[2] == 1e30f);
}

static void test_decoder_ops(xf_pool *pool2) {
    (void)pool2;
    const size_t ns[] = {1, 7, 8, 9, 31, 64, 1000};
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        size_t n = ns[c], rows = 3;
        float *x = xf_t_randv(rows * n, 1.0f), *g = xf_t_randv(n, 1.0f), *y = malloc(rows * n * 4), *r = malloc(rows * n * 4);
        xf_rmsnorm(x, y, g, rows, n, 1e-6f);
        xf_rmsnorm_ref(x, r, g, rows, n, 1e-6f);
        double e = xf_t_nerr(y, r, rows * n);
        CHECK_MSG(e < 1e-6, "rmsnorm n=%zu normalized error %.3g", n, e);
        float *bt = xf_t_randv(n, 1.0f), *y2 = malloc(rows * n * 4), *r2 = malloc(rows * n * 4);
        xf_layernorm(x, y2, g, bt, rows, n, 1e-12f);
        xf_layernorm_ref(x, r2, g, bt, rows, n, 1e-12f);
        e = xf_t_nerr(y2, r2, rows * n);
        CHECK_MSG(e < 1e-6, "layernorm n=%zu normalized error %.3g", n, e);
        free(bt), free(y2), free(r2);
        /* RMSNorm by hand for one row: x / sqrt(mean(x^2) + eps) * g */
        double ss = 0;
        for (size_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
        CHECK(fabs(r[0] - x[0] / sqrt(ss / n + 1e-6) * g[0]) < 1e-5);
        float *u = xf_t_randv(rows * n, 1.0f);
        for (size_t i = 0; i < rows * n; i++) x[i] *= 12.0f, y[i] = r[i] = x[i];
        xf_silu_mul(y, u, rows * n);
        xf_silu_mul_ref(r, u, rows * n);
        e = xf_t_nerr(y, r, rows * n);
        CHECK_MSG(e < 1e-6, "silu_mul n=%zu normalized error %.3g", n, e);
        free(x), free(g), free(y), free(r), free(u);
    }
    /* RoPE: table-driven kernel vs the double reference, every variant, several positions */
    const xf_rope_params ps[] = {
        {.head_dim = 16, .theta = 10000.0, .kind = XF_ROPE_PLAIN, .factor = 1.0},
        {.head_dim = 64, .theta = 500000.0, .kind = XF_ROPE_LINEAR, .factor = 2.0},
        {.head_dim = 16, .theta = 500000.0, .kind = XF_ROPE_LLAMA3, .factor = 8.0, .low_freq_factor = 1.0,
         .high_freq_factor = 4.0, .original_max_position = 32.0},
        {.head_dim = 128, .theta = 500000.0, .kind = XF_ROPE_LLAMA3, .factor = 8.0, .low_freq_factor = 1.0,
         .high_freq_factor = 4.0, .original_max_position = 8192.0},
        {.head_dim = 64, .theta = 10000.0, .kind = XF_ROPE_NTK, .factor = 4.0},
        {.head_dim = 64, .theta = 10000.0, .kind = XF_ROPE_DYNAMIC, .factor = 2.0, .original_max_position = 64.0,
         .seq_len = 200.0},
        {.head_dim = 64, .theta = 10000.0, .kind = XF_ROPE_YARN, .factor = 4.0, .original_max_position = 64.0},
    };
    for (size_t c = 0; c < sizeof ps / sizeof ps[0]; c++) {
        const xf_rope_params *p = &ps[c];
        size_t half = p->head_dim / 2, npos = 300, nh = 3;
        float *ct = malloc(npos * half * 4), *st = malloc(npos * half * 4);
        xf_rope_tables(p, npos, ct, st);
        const size_t poss[] = {0, 1, 7, 99, 299};
        for (size_t k = 0; k < 5; k++) {
            float *x = xf_t_randv(nh * p->head_dim, 1.0f), *r = malloc(nh * p->head_dim * 4);
            memcpy(r, x, nh * p->head_dim * 4);
            xf_rope_row(x, nh, p->head_dim, ct + poss[k] * half, st + poss[k] * half);
            xf_rope_row_ref(r, nh, p, poss[k]);
            double e = xf_t_nerr(x, r, nh * p->head_dim);
            CHECK_MSG(e < 1e-6, "rope variant %zu dh=%zu pos=%zu normalized error %.3g", c, p->head_dim, poss[k], e);
            free(x), free(r);
        }
        free(ct), free(st);
    }
    /* inv_freq: plain theta^(-2i/d); linear = plain / factor; llama3 keeps high frequencies and
     * divides low ones by factor (transformers' formula) */
    double f0[8], f1[8], f2[8];
    xf_rope_params a = {.head_dim = 16, .theta = 10000.0, .kind = XF_ROPE_PLAIN, .factor = 1.0}, b = a,
                   l3 = {.head_dim = 16, .theta = 10000.0, .kind = XF_ROPE_LLAMA3, .factor = 8.0,
                         .low_freq_factor = 1.0, .high_freq_factor = 4.0, .original_max_position = 32.0};
    b.kind = XF_ROPE_LINEAR;
    b.factor = 2.0;
    xf_rope_inv_freq(&a, f0);
    xf_rope_inv_freq(&b, f1);
    xf_rope_inv_freq(&l3, f2);
    for (int i = 0; i < 8; i++) {
        CHECK(fabs(f0[i] - pow(10000.0, -2.0 * i / 16.0)) < 1e-15);
        CHECK(fabs(f1[i] - f0[i] / 2.0) < 1e-15);
        double wl = 2 * 3.14159265358979323846 / f0[i];
        if (wl < 8.0) CHECK(f2[i] == f0[i]);
        else if (wl > 32.0) CHECK(fabs(f2[i] - f0[i] / 8.0) < 1e-15);
        else CHECK(f2[i] < f0[i] && f2[i] > f0[i] / 8.0);
    }
    /* rotate_half pairing: dimension 0 rotates with dimension dh/2 */
    float v[4] = {1, 0, 0, 0}, cs[2] = {0, 1}, sn[2] = {1, 0};
    xf_rope_row(v, 1, 4, cs, sn);
    CHECK(v[0] == 0.0f && v[2] == 1.0f && v[1] == 0.0f && v[3] == 0.0f);
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

/* xf_argmax_nan against its scalar reference: ties (first index wins), NaNs, +-0, all -inf, tails. */
static void test_argmax(void) {
    const size_t sizes[] = {0, 1, 7, 8, 9, 31, 49152};
    uint32_t s = 7;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        for (int mode = 0; mode < 4; mode++) {
            const size_t n = sizes[k];
            float *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
            for (size_t i = 0; i < n; i++) {
                s = s * 1664525u + 1013904223u;
                const float v = (float)(s >> 20) / 256.0f - 8.0f; /* coarse: many ties */
                a[i] = mode == 0 ? v : mode == 1 ? (s % 5 ? NAN : v) : mode == 2 ? -INFINITY : ((s >> 3) % 2 ? 0.0f : -0.0f);
            }
            memcpy(b, a, n * sizeof *a);
            size_t ia = 99, ib = 98;
            xf_argmax_nan(a, n, &ia);
            xf_argmax_nan_ref(b, n, &ib);
            CHECK_MSG(ia == ib, "argmax n=%zu mode %d: %zu, reference %zu", n, mode, ia, ib);
            CHECK_MSG(!n || !memcmp(a, b, n * sizeof *a), "argmax n=%zu mode %d: NaN replacement differs", n, mode);
            free(a), free(b);
        }
}

/* Every IEEE half to float through the row converter at this ISA level: bitwise core/dtype.h's
 * xf_f16_to_f32 (NaN for NaN), in a row of odd length (the vector loop and its tail). */
static void test_f16_row(void) {
    const size_t n = 65535;
    uint16_t *h = malloc(n * sizeof *h);
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++) h[i] = (uint16_t)(i + 1);
    xf_f16_to_f32_row(h, n, f);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        const float want = xf_f16_to_f32(h[i]);
        bad += isnan(want) ? !isnan(f[i]) : memcmp(&want, &f[i], sizeof want) != 0;
    }
    CHECK_MSG(bad == 0, "xf_f16_to_f32_row at %s: %zu of %zu halves differ from xf_f16_to_f32",
              xf_isa_level_name(xf_isa_level()), bad, n);
    float z;
    const uint16_t zero = 0;
    xf_f16_to_f32_row(&zero, 1, &z);
    CHECK(z == 0.0f && !signbit(z));
    free(h), free(f);
}

/* KIVI 4-bit blocks to float at this ISA level: bitwise the plain formula m + s q per value. */
static void test_q4kivi(void) {
    enum { NB = 7 };
    uint8_t blk[NB * 20];
    for (size_t i = 0; i < sizeof blk; i++) blk[i] = (uint8_t)(i * 37 + 11);
    for (size_t b = 0; b < NB; b++) { /* scales and minima: finite halves of both signs */
        const uint16_t s = xf_f32_to_f16(0.01f * (float)(b + 1)), m = xf_f32_to_f16(-0.3f + 0.11f * (float)b);
        memcpy(blk + 20 * b, &s, 2), memcpy(blk + 20 * b + 2, &m, 2);
    }
    float out[NB * 32];
    xf_q4kivi_to_f32(blk, NB, out);
    size_t bad = 0;
    for (size_t b = 0; b < NB; b++) {
        uint16_t h[2];
        memcpy(h, blk + 20 * b, 4);
        const float s = xf_f16_to_f32(h[0]), m = xf_f16_to_f32(h[1]);
        for (size_t i = 0; i < 32; i++) {
            const float want = m + s * (float)((blk[20 * b + 4 + i / 2] >> (4 * (i & 1))) & 15);
            bad += memcmp(&want, &out[32 * b + i], sizeof want) != 0;
        }
    }
    CHECK_MSG(bad == 0, "xf_q4kivi_to_f32 at %s: %zu of %d values differ from m + s q", xf_isa_level_name(xf_isa_level()),
              bad, NB * 32);
}

int main(void) {
    xf_pool *pool2 = NULL;
    CHECK(xf_pool_create(2, &pool2) == XF_OK);
    test_gemm(pool2);
    const xf_isa_level_t top = xf_isa_level(); /* the CPU's level, lowered by XF_ISA (kernels/cpu.h) */
    for (int l = top; l >= XF_ISA_SCALAR; l--) {
        xf_isa_cap((xf_isa_level_t)l);
        CHECK(xf_isa_level() == (xf_isa_level_t)l);
        /* xf_cpu_features names the level in force, and extensions only at the AVX-512 level (but
         * AVX-VNNI, from the AVX2 level) */
        const char *cf = xf_cpu_features(), *ln = xf_isa_level_name((xf_isa_level_t)l), *rest = cf + strlen(ln);
        CHECK_MSG(strncmp(cf, ln, strlen(ln)) == 0 &&
                      (*rest == 0 || (l == XF_ISA_AVX512 && *rest == ' ') ||
                       (l == XF_ISA_AVX2 && strcmp(rest, " avx-vnni") == 0 && xf_cpu_has(XF_CPU_AVX_VNNI))),
                  "xf_cpu_features() \"%s\" at level %s", cf, ln);
        CHECK(!strstr(cf, "amx") || (xf_cpu_has(XF_CPU_AMX_INT8) || xf_cpu_has(XF_CPU_AMX_BF16)));
        test_ops();
        test_decoder_ops(pool2);
        test_argmax();
        test_f16_row();
        test_q4kivi();
    }
    xf_isa_cap(XF_ISA_AVX512);
    printf("row kernels checked at ISA levels %s and below; this CPU: %s\n", xf_isa_level_name(top), xf_cpu_features());
    test_split();
    xf_pool_free(pool2);
    xf_pool_free(NULL);
    return xf_t_report();
}
