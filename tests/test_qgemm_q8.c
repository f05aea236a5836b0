/* test_qgemm_q8.c — the int8-activation GEMM of GGUF K-type weights (kernels/qgemv_q8.h,
 * xf_qgemm_q8*): random blocks of Q2_K .. Q6_K (every quant bit pattern, random finite half
 * scales), odd N, K = 256 * {1, 2, 6}, T = 1 .. 70 rows (and 300, more than one pass of tiles):
 * every ISA the machine runs equals the plain scalar reference bitwise through the threaded driver
 * (1 and 2 threads), each row's result is that row's alone (rows 5.. computed without the first
 * five are the same bits), and the result equals the GEMV's (its 8 float lanes) to float rounding.
 * With SmolLM2 present: its FFN down projections re-quantized to Q4_K and loaded with
 * XF_WEIGHTS_INT8, a 40-token prompt (the GEMM path) gives logits close to the float path's, and
 * the same bits when its first 24 tokens come from another session (xf_session_copy_prefix). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "harness.h"
#include "io/gguf.h"
#include "kernels/qgemv_q8.h"
#include "kernels/quants.h"
#include "xfmr.h"

static double worst_gemv; /* largest normalized difference to the GEMV seen */

static void check(int type, size_t N, size_t K, size_t T, int with_bias, xf_pool *p1, xf_pool *p2) {
    const xf_quant_traits *q = xf_quant_traits_of(type);
    size_t rb;
    uint8_t *W = xf_t_random_qrows(type, N, K, &rb);
    float *Wf = malloc(N * K * sizeof *Wf), *bias = malloc(N * sizeof *bias);
    for (size_t o = 0; o < N; o++) q->dequant(W + o * rb, Wf + o * K, K), bias[o] = xf_t_frand32();
    const float *b = with_bias ? bias : NULL;
    float *X = malloc(T * K * sizeof *X), *R = malloc(T * N * sizeof *R), *Y = malloc(T * N * sizeof *Y);
    float *G = malloc(T * N * sizeof *G);
    void *act = malloc(xf_q8act_bytes(T, K));
    for (size_t i = 0; i < T * K; i++) X[i] = xf_t_frand32() * (i % 17 == 0 ? 8.0f : 1.0f);
    if (T > 2) memset(X + K, 0, K * sizeof *X); /* a row of zeros: dx 0 */
    xf_q8act_quantize(type, X, K, T, K, act);
    xf_qgemm_q8_ref(type, W, rb, b, act, T, R, N, 0, N, K);
    for (int isa = 0; isa < XF_I8_ISA_COUNT; isa++) {
        if (!xf_i8_isa_supported((xf_i8_isa)isa)) continue;
        for (int th = 0; th < 2; th++) {
            memset(Y, 0xff, T * N * sizeof *Y);
            xf_qgemm_q8_isa(th ? p2 : p1, (xf_i8_isa)isa, type, W, rb, b, X, K, Y, N, T, N, K);
            CHECK_MSG(memcmp(Y, R, T * N * sizeof *Y) == 0, "%s %s %d thread(s) T=%zu N=%zu K=%zu: != reference",
                      q->name, xf_i8_isa_name((xf_i8_isa)isa), th + 1, T, N, K);
        }
    }
    if (T > 5) { /* rows 5.. alone: the same bits */
        xf_qgemm_q8(p2, type, W, rb, b, X + 5 * K, K, Y, N, T - 5, N, K);
        CHECK_MSG(memcmp(Y, R + 5 * N, (T - 5) * N * sizeof *Y) == 0, "%s T=%zu N=%zu K=%zu: a row depends on others",
                  q->name, T, N, K);
    }
    xf_qgemv_q8_ref(type, W, rb, b, act, T, G, N, 0, N, K);
    const double e = xf_t_dot_err(R, G, Wf, X, T, N, K);
    if (e > worst_gemv) worst_gemv = e;
    CHECK_MSG(e < 1e-5, "%s T=%zu N=%zu K=%zu: vs the GEMV normalized difference %g", q->name, T, N, K, e);
    free(X), free(R), free(Y), free(G), free(act), free(W), free(Wf), free(bias);
}

/* SmolLM2 with its K = 1536 projections (FFN down) as Q4_K: prompt logits with int8 activations
 * (the GEMM) against the float path's. */
static void check_model(void) {
    const char *path = xf_t_smollm2();
    if (!path) return;
    char out[4096];
    snprintf(out, sizeof out, "%s", xf_t_out("smollm2_q4k.gguf"));
    xf_model_params p = xf_model_default_params();
    p.n_threads = 2;
    xf_model *m = NULL;
    CHECK_MSG(xf_model_load(path, &p, &m) == XF_OK, "%s", xf_errmsg());
    if (!m) return;
    xf_save_params sp = xf_save_default_params();
    sp.quantize = "Q4_K"; /* matrices of 576 columns fall back to Q5_0 */
    CHECK_MSG(xf_model_save(m, out, &sp) == XF_OK, "%s", xf_errmsg());
    xf_model_free(m);
    xf_model *m0 = NULL, *m8 = NULL;
    CHECK_MSG(xf_model_load(out, &p, &m0) == XF_OK, "%s", xf_errmsg());
    p.weights = XF_WEIGHTS_INT8;
    CHECK_MSG(xf_model_load(out, &p, &m8) == XF_OK, "%s", xf_errmsg());
    remove(out);
    if (m0 && m8) {
        int32_t ids[40];
        for (int i = 0; i < 40; i++) ids[i] = 100 + 37 * i;
        const size_t V = xf_model_vocab_size(m0);
        float *a = malloc(V * sizeof *a), *c = malloc(V * sizeof *c);
        xf_session *s0 = NULL, *s8 = NULL;
        CHECK(xf_session_create(m0, 64, &s0) == XF_OK && xf_session_create(m8, 64, &s8) == XF_OK);
        CHECK_MSG(s0 && s8 && xf_session_eval(s0, ids, 40, a) == XF_OK && xf_session_eval(s8, ids, 40, c) == XF_OK, "%s",
                  xf_errmsg());
        double md = 0, mx = 0;
        size_t ia = 0, ic = 0;
        for (size_t v = 0; v < V; v++) {
            md = fmax(md, fabs((double)a[v] - c[v]));
            mx = fmax(mx, fabs((double)a[v]));
            if (a[v] > a[ia]) ia = v;
            if (c[v] > c[ic]) ic = v;
        }
        printf("SmolLM2 with Q4_K FFN down, 40-token prompt, int8 activations: max|diff| / max|logit| %.3g, arg max "
               "%zu vs %zu\n",
               md / mx, ic, ia);
        CHECK_MSG(md < 8e-2 * mx, "int8 logits differ: %g of max %g", md, mx);
        CHECK(ia == ic);
        /* the first 24 tokens shared from s8, the other 16 evaluated as part of the 40-token prompt:
         * the same bits (each row of the GEMM is its own) */
        xf_session *sh = NULL;
        float *e = malloc(V * sizeof *e);
        CHECK(xf_session_create(m8, 64, &sh) == XF_OK);
        CHECK_MSG(sh && xf_session_copy_prefix(sh, s8, 24) == XF_OK && xf_session_eval_rest(sh, ids, 40, e) == XF_OK,
                  "%s", xf_errmsg());
        CHECK_MSG(memcmp(e, c, V * sizeof *e) == 0, "int8 prompt with a shared prefix != the whole prompt");
        xf_session_free(sh);
        free(e);
        xf_session_free(s0), xf_session_free(s8);
        free(a), free(c);
    }
    xf_model_free(m0), xf_model_free(m8);
}

int main(void) {
    xf_t_seed(0x9e3779b97f4a7c15ull);
    xf_pool *p1 = NULL, *p2 = NULL;
    CHECK(xf_pool_create(1, &p1) == XF_OK && xf_pool_create(2, &p2) == XF_OK);
    if (!p1 || !p2) return xf_t_report();
    CHECK(xf_qgemm_q8_has(XF_GGML_Q4_K) && xf_qgemm_q8_has(XF_GGML_Q6_K) && !xf_qgemm_q8_has(XF_GGML_Q4_0) &&
          !xf_qgemm_q8_has(XF_GGML_Q8_K));
    const int types[] = {XF_GGML_Q2_K, XF_GGML_Q3_K, XF_GGML_Q4_K, XF_GGML_Q5_K, XF_GGML_Q6_K};
    const size_t Ns[] = {1, 7, 13, 37}, Ts[] = {1, 3, 33, 70};
    for (size_t ti = 0; ti < 5; ti++)
        for (size_t ki = 0; ki < 3; ki++)
            for (size_t ni = 0; ni < 4; ni++)
                for (size_t r = 0; r < 4; r++)
                    check(types[ti], Ns[ni], 256 * (ki == 2 ? 6 : ki + 1), Ts[r], (int)((ni + r) % 2), p1, p2);
    /* more rows than one pass of tiles holds (the pool's 1 MiB of scratch a part) */
    check(XF_GGML_Q4_K, 13, 1536, 300, 1, p1, p2);
    check(XF_GGML_Q6_K, 13, 1536, 300, 0, p1, p2);
    printf("GEMM vs GEMV: worst normalized difference %.3g\n", worst_gemv);
    check_model();
    xf_pool_free(p1), xf_pool_free(p2);
    return xf_t_report();
}
