/* test_qgemv_q8.c — GEMV of GGUF quantized weights with 8-bit block-quantized activations
 * (kernels/qgemv_q8.h): random blocks of every GGUF type (every quant bit pattern, random finite
 * half scales), odd N, K = 32 * {1, 3, 18} (256 * {1, 2, 3} for the K types), T = 1..4 (and 5, 7
 * through the driver): every ISA the
 * machine runs equals the scalar reference bitwise, the result is close to the float-activation
 * path (xf_qgemv) by normalized error, and 1 vs 2 threads are bitwise equal. With SmolLM2's Q4_1
 * GGUF present: the model loaded with XF_WEIGHTS_INT8 decodes close to the default one (same arg
 * max of the last logits). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dtype.h"
#include "core/threadpool.h"
#include "harness.h"
#include "io/gguf.h"
#include "kernels/qgemv_q8.h"
#include "kernels/qmatmul.h"
#include "kernels/quants.h"
#include "xfmr.h"

static double worst_float; /* largest normalized error vs float activations seen */

static void check_type(int type, xf_pool *p1, xf_pool *p2) {
    const xf_quant_traits *q = xf_quant_traits_of(type);
    CHECK(q && xf_qgemv_q8_has(type));
    if (!q) return;
    const size_t Ks[] = {32, 96, 576}, Ns[] = {1, 7, 13, 37}, Ts[] = {1, 2, 3, 4, 5, 7};
    for (size_t ki = 0; ki < 3; ki++)
        for (size_t ni = 0; ni < 4; ni++) {
            /* K: 32 x {1, 3, 18} for the 32-weight blocks, 256 x {1, 2, 3} for the K types */
            const size_t K = q->block_size == 256 ? 256 * (ki + 1) : Ks[ki], N = Ns[ni];
            size_t rb;
            uint8_t *W = xf_t_random_qrows(type, N, K, &rb);
            float *Wf = malloc(N * K * sizeof *Wf), *bias = malloc(N * sizeof *bias);
            for (size_t o = 0; o < N; o++) q->dequant(W + o * rb, Wf + o * K, K), bias[o] = xf_t_frand32();
            for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
                const size_t T = Ts[ti];
                const float *b = ti % 2 ? bias : NULL;
                float *X = malloc(T * K * sizeof *X), *R = malloc(T * N * sizeof *R), *Y = malloc(T * N * sizeof *Y);
                float *F = malloc(T * N * sizeof *F), *Y1 = malloc(T * N * sizeof *Y1), *Y2 = malloc(T * N * sizeof *Y2);
                void *act = malloc(xf_q8act_bytes(T, K));
                for (size_t i = 0; i < T * K; i++) X[i] = xf_t_frand32() * (i % 17 == 0 ? 8.0f : 1.0f);
                xf_q8act_quantize(type, X, K, T, K, act);
                {   /* the vectorized quantizer equals the scalar one, here and on a row with a block (and a
                     * superblock) of zeros and a tie at scale 1 */
                    const size_t bytes = xf_q8act_bytes(T, K);
                    const size_t used = q->block_size == 256 ? T * K + T * (K / 256) * 4 + T * (K / 16) * 2 : bytes;
                    void *a0 = calloc(1, bytes), *a1 = calloc(1, bytes);
                    float *X2 = malloc(T * K * sizeof *X2);
                    memcpy(X2, X, T * K * sizeof *X2);
                    for (size_t e = 0; e < (K < 256 ? K : 256); e++) X2[e] = e == 3 ? 127.0f : e == 4 ? 0.5f : 0.0f;
                    xf_q8act_quantize_isa(0, type, X, K, T, K, a0);
                    CHECK_MSG(memcmp(a0, act, used) == 0, "%s T=%zu K=%zu: quantizer != scalar", q->name, T, K);
                    xf_q8act_quantize_isa(0, type, X2, K, T, K, a0);
                    xf_q8act_quantize_isa(1, type, X2, K, T, K, a1);
                    CHECK_MSG(memcmp(a0, a1, used) == 0, "%s T=%zu K=%zu: quantizer != scalar (zeros, tie)", q->name, T, K);
                    free(a0), free(a1), free(X2);
                }
                xf_qgemv_q8_ref(type, W, rb, b, act, T, R, N, 0, N, K);
                for (int isa = 0; isa < XF_I8_ISA_COUNT; isa++) {
                    if (!xf_i8_isa_supported((xf_i8_isa)isa)) continue;
                    memset(Y, 0, T * N * sizeof *Y);
                    /* two column ranges, as two threads would */
                    xf_qgemv_q8_isa((xf_i8_isa)isa, type, W, rb, b, act, T, Y, N, 0, N / 2, K);
                    xf_qgemv_q8_isa((xf_i8_isa)isa, type, W, rb, b, act, T, Y, N, N / 2, N, K);
                    CHECK_MSG(memcmp(Y, R, T * N * sizeof *Y) == 0, "%s %s T=%zu N=%zu K=%zu: ISA != reference",
                              q->name, xf_i8_isa_name((xf_i8_isa)isa), T, N, K);
                }
                xf_qgemv(type, W, rb, b, X, K, F, N, T, 0, N, K);
                const double e = xf_t_dot_err(R, F, Wf, X, T, N, K);
                if (e > worst_float) worst_float = e;
                /* every 17th input is up to 8x the others, so its block's dx is coarse: 0.027 seen (Q8_K:
                 * one scale per 256) */
                CHECK_MSG(e < 4e-2, "%s T=%zu N=%zu K=%zu: vs float activations normalized error %g", q->name, T, N, K, e);
                xf_qmatmul_q8(p1, type, W, rb, b, X, K, Y1, N, T, N, K);
                xf_qmatmul_q8(p2, type, W, rb, b, X, K, Y2, N, T, N, K);
                CHECK_MSG(memcmp(Y1, Y2, T * N * sizeof *Y1) == 0, "%s T=%zu N=%zu K=%zu: 1 vs 2 threads differ", q->name,
                          T, N, K);
                CHECK_MSG(memcmp(Y1, R, T * N * sizeof *Y1) == 0, "%s T=%zu N=%zu K=%zu: driver != reference", q->name, T,
                          N, K);
                free(X), free(R), free(Y), free(F), free(Y1), free(Y2), free(act);
            }
            free(W), free(Wf), free(bias);
        }
}

/* Logits after prefilling 5 tokens, then 3 at once, then 1 (the last two steps take the GEMV path). */
static int run_prompt(xf_model *m, float *logits) {
    static const int32_t ids[] = {1, 9690, 198, 2683, 359, 253, 5356, 5646, 28};
    xf_session *s = NULL;
    if (xf_session_create(m, 32, &s) != XF_OK) return 0;
    int ok = xf_session_eval(s, ids, 5, logits) == XF_OK && xf_session_eval(s, ids + 5, 3, logits) == XF_OK &&
             xf_session_eval(s, ids + 8, 1, logits) == XF_OK;
    xf_session_free(s);
    return ok;
}

static void check_model(void) {
    const char *path = xf_t_smollm2();
    if (!path) return;
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    xf_model *m0 = NULL, *m8 = NULL;
    CHECK_MSG(xf_model_load(path, &p, &m0) == XF_OK, "%s", xf_errmsg());
    p.weights = XF_WEIGHTS_INT8;
    CHECK_MSG(xf_model_load(path, &p, &m8) == XF_OK, "%s", xf_errmsg());
    if (m0 && m8) {
        const size_t V = xf_model_vocab_size(m0);
        float *a = malloc(V * sizeof *a), *b = malloc(V * sizeof *b);
        CHECK_MSG(run_prompt(m0, a) && run_prompt(m8, b), "%s", xf_errmsg());
        double md = 0, mx = 0;
        size_t ia = 0, ib = 0;
        for (size_t v = 0; v < V; v++) {
            md = fmax(md, fabs((double)a[v] - b[v]));
            mx = fmax(mx, fabs((double)a[v]));
            if (a[v] > a[ia]) ia = v;
            if (b[v] > b[ib]) ib = v;
        }
        printf("SmolLM2 Q4_1, int8 activations: max|diff| / max|logit| %.3g, arg max %zu vs %zu\n", md / mx, ib, ia);
        /* seen: 0.043 (Release), 0.047 (Debug + sanitizers: the float baseline differs slightly) */
        CHECK_MSG(md < 8e-2 * mx, "int8 logits differ: %g of max %g", md, mx);
        CHECK(ia == ib);
        free(a), free(b);
    }
    xf_model_free(m0);
    xf_model_free(m8);
}

int main(void) {
    xf_t_seed(0x2545f4914f6cdd1dull);
    xf_pool *p1 = NULL, *p2 = NULL;
    CHECK(xf_pool_create(1, &p1) == XF_OK && xf_pool_create(2, &p2) == XF_OK);
    if (!p1 || !p2) return xf_t_report();
    CHECK(xf_qgemv_q8_has(XF_GGML_Q4_K) && !xf_qgemv_q8_has(XF_GGML_F32) && !xf_qgemv_q8_has(XF_GGML_Q8_K));
    /* the activation quantizers (ggml's): Q8_0 / Q8_1 per 32, d = half(max|x| / 127), q = round-to-even(
     * x * 127 / max|x|), sx = half(d * sum q); Q8_K per 256: m = the signed x of largest |x|, q =
     * min(127, round-to-even(x * -127 / m)), d = 1 / (-127 / m), int16 sums per 16 */
    float x[512];
    for (int i = 0; i < 512; i++) x[i] = xf_t_frand32();
    x[5] = -3.0f, x[40] = 127.0f, x[41] = 2.5f, x[300] = 2.5f, x[301] = -2.5f; /* x[41]: a tie at scale 1 */
    uint8_t act[512 + 512 / 32 * 8];
    xf_q8act_quantize(XF_GGML_Q4_1, x, 64, 1, 64, act);
    const int8_t *aq = (const int8_t *)act;
    float d[2], sx[2];
    memcpy(d, act + 64, 8), memcpy(sx, act + 72, 8);
    CHECK(d[0] == xf_f16_to_f32(xf_f32_to_f16(3.0f / 127.0f)) && d[1] == 1.0f);
    CHECK(aq[5] == -127 && aq[40] == 127 && aq[41] == 2); /* 2.5: ties to even */
    for (int blk = 0; blk < 2; blk++) {
        int32_t t = 0;
        for (int i = 0; i < 32; i++) t += aq[32 * blk + i];
        const float dd = (blk ? 127.0f : 3.0f) / 127.0f;
        CHECK(sx[blk] == xf_f16_to_f32(xf_f32_to_f16(dd * (float)t)));
    }
    xf_q8act_quantize(XF_GGML_Q6_K, x, 512, 1, 512, act);
    float dk[2];
    int16_t bs[32];
    memcpy(dk, act + 512, 8), memcpy(bs, act + 520, 64);
    CHECK(dk[0] == -1.0f && aq[5] == 3 && aq[40] == -127 && aq[41] == -2);
    CHECK(dk[1] == 1.0f / (-127.0f / 2.5f) && aq[300] == -127 && aq[301] == 127); /* the first of equal |x| */
    for (int g = 0; g < 32; g++) {
        int t = 0;
        for (int i = 0; i < 16; i++) t += aq[16 * g + i];
        CHECK(t == bs[g]);
    }
    printf("best int8 ISA: %s\n", xf_i8_isa_name(xf_i8_isa_best()));
    const int types[] = {XF_GGML_Q8_0, XF_GGML_Q4_0, XF_GGML_Q4_1, XF_GGML_Q5_0, XF_GGML_Q5_1,
                         XF_GGML_Q2_K, XF_GGML_Q3_K, XF_GGML_Q4_K, XF_GGML_Q5_K, XF_GGML_Q6_K, XF_GGML_FP4S, XF_GGML_MXFP4};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) check_type(types[i], p1, p2);
    printf("worst normalized error vs float activations: %.3g\n", worst_float);
    check_model();
    xf_pool_free(p1);
    xf_pool_free(p2);
    return xf_t_report();
}
