/* test_act_a8.c — XF_WEIGHTS_A8 (`--weights a8`): the products of GGUF quantized weights quantize
 * their activations per 32 at every input length (prefill, encoders), where XF_WEIGHTS_INT8 does it
 * only for short inputs (decode):
 *   1. a layer of the tiny LLaMA written as Q4_0 / Q8_0 / Q4_1 (through xf_model_save): its
 *      product of T = 1 .. 100 rows (the chunks of the int8 GEMV and their remainders) equals the
 *      scalar reference of the int8-activation product of all T rows (xf_qgemv_q8_ref) bitwise,
 *      through both of the format's entries (on AVX-512 VNNI the layer is repacked 16 rows at a time,
 *      kernels/qgemv_r16.h, and still equal); with XF_WEIGHTS_INT8 long products stay float, bitwise
 *      the file layout's float path; saved, the A8 model is byte for byte the stored model saved;
 *   2. the whole model: logits of 48 tokens with A8 close to the float path's (same arg max), and
 *      not bitwise the float path's; the tiny BERT's embeddings (Q8_0) keep cosine > 0.99;
 *   3. the weights value is checked: 6 is XF_ERR_INVALID_ARG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels/qgemv_q8.h"
#include "kernels/qmatmul.h"
#include "model/formats.h"
#include "model/model.h"
#include "xfmr.h"


static const char *quantized(const char *src, const char *type, const char *name) {
    xf_model *m = xf_t_load(xf_t_src(src), XF_WEIGHTS_AS_STORED);
    if (!m) return NULL;
    const char *out = xf_t_out(name);
    xf_save_params sp = xf_save_default_params();
    sp.quantize = type;
    sp.quantize_pure = 1;
    xf_status st = xf_model_save(m, out, &sp);
    CHECK_MSG(st == XF_OK, "%s", xf_errmsg());
    xf_model_free(m);
    return st == XF_OK ? out : NULL;
}

static void check_layer(const char *type) {
    char name[64];
    snprintf(name, sizeof name, "llama-a8-%s.gguf", type);
    const char *path = quantized("tests/data/tiny/llama", type, name);
    if (!path) return;
    xf_model *a8 = xf_t_load(path, XF_WEIGHTS_A8), *i8 = xf_t_load(path, XF_WEIGHTS_INT8);
    if (!a8 || !i8) goto done;
    const xf_weight *w = &a8->plan.layers[0].ffn.down.w, *w8 = &i8->plan.layers[0].ffn.down.w;
    CHECK_MSG(w->act_q8 == 2 && w8->act_q8 == 1, "%s: act_q8 %d / %d", type, w->act_q8, w8->act_q8);
    const size_t K = w->cols, N = w->rows, Tmax = 100;
    /* the file's blocks (a repacked layout, kernels/qgemv_r16.h, gives them back) */
    const int qt = w->fmt->save_type;
    uint8_t *blocks = malloc(N * w->row_bytes);
    if (w->fmt->block_rows) w->fmt->block_rows(w, 0, N, blocks);
    else memcpy(blocks, w->data, N * w->row_bytes);
    printf("tiny llama %s: ffn.down [%zu, %zu] as %s (A8) / %s (int8)\n", type, N, K, w->fmt->name, w8->fmt->name);
    float *X = malloc(Tmax * K * sizeof *X), *R = malloc(Tmax * N * sizeof *R), *Y = malloc(Tmax * N * sizeof *Y);
    void *act = malloc(xf_q8act_bytes(Tmax, K));
    for (size_t i = 0; i < Tmax * K; i++) X[i] = xf_t_frand32() * (i % 13 == 0 ? 6.0f : 1.0f);
    for (size_t T = 1; T <= Tmax; T += T < 40 ? 1 : 13) {
        xf_q8act_quantize(qt, X, K, T, K, act);
        xf_qgemv_q8_ref(qt, blocks, w->row_bytes, NULL, act, T, R, N, 0, N, K);
        w->fmt->gemm(a8->pool, w, NULL, X, T, Y);
        CHECK_MSG(memcmp(Y, R, T * N * sizeof *Y) == 0, "%s T=%zu: A8 gemm != int8 reference", type, T);
        w->fmt->gemv(a8->pool, w, NULL, X, T, Y);
        CHECK_MSG(memcmp(Y, R, T * N * sizeof *Y) == 0, "%s T=%zu: A8 gemv != int8 reference", type, T);
        if (T > 40) { /* --weights int8: a long product keeps float activations */
            w8->fmt->gemm(i8->pool, w8, NULL, X, T, Y);
            CHECK_MSG(memcmp(Y, R, T * N * sizeof *Y) != 0, "%s T=%zu: int8 mode quantized a long product", type, T);
            /* ... and is the float path of the file's blocks, bitwise (a repacked layout's GEMM too) */
            xf_qmatmul(i8->pool, qt, blocks, w8->row_bytes, NULL, X, K, R, N, T, N, K);
            CHECK_MSG(memcmp(Y, R, T * N * sizeof *Y) == 0, "%s T=%zu: int8 mode's long product != the float path", type, T);
        }
    }
    free(X), free(R), free(Y), free(act), free(blocks);
    /* the model: 48 tokens, A8 against the float path */
    xf_model *f = xf_t_load(path, XF_WEIGHTS_AS_STORED);
    if (f) {
        enum { T = 48 };
        int32_t ids[T];
        for (int i = 0; i < T; i++) ids[i] = (int32_t)((i * 37 + 5) % 200);
        const size_t V = xf_model_vocab_size(f);
        float *a = malloc(T * V * sizeof *a), *b = malloc(T * V * sizeof *b);
        CHECK(xf_model_logits(f, ids, T, a) == XF_OK && xf_model_logits(a8, ids, T, b) == XF_OK);
        double md = 0, mx = 0;
        size_t same = 0;
        for (size_t t = 0; t < T; t++) {
            size_t ia = 0, ib = 0;
            for (size_t v = 0; v < V; v++) {
                md = fmax(md, fabs((double)a[t * V + v] - b[t * V + v]));
                mx = fmax(mx, fabs((double)a[t * V + v]));
                if (a[t * V + v] > a[t * V + ia]) ia = v;
                if (b[t * V + v] > b[t * V + ib]) ib = v;
            }
            same += ia == ib;
        }
        printf("tiny llama %s, A8 vs float: max|diff| / max|logit| %.3g, same arg max %zu / %d\n", type, md / mx, same, T);
        {   /* saved, the A8 model (repacked layers on AVX-512 VNNI) writes the file's blocks: the same bytes */
            char n1[80], n2[80];
            snprintf(n1, sizeof n1, "a8-saved-%s.gguf", type);
            snprintf(n2, sizeof n2, "stored-saved-%s.gguf", type);
            const char *o1 = xf_t_out(n1);
            char p1[512];
            snprintf(p1, sizeof p1, "%s", o1);
            const char *p2 = xf_t_out(n2);
            xf_save_params sp = xf_save_default_params();
            CHECK(xf_model_save(a8, p1, &sp) == XF_OK && xf_model_save(f, p2, &sp) == XF_OK);
            FILE *a1 = fopen(p1, "rb"), *a2 = fopen(p2, "rb");
            int c1 = 0, c2 = 0, same_bytes = a1 && a2;
            while (same_bytes && (c1 = fgetc(a1)) == (c2 = fgetc(a2)) && c1 != EOF) {}
            same_bytes = same_bytes && c1 == EOF && c2 == EOF;
            CHECK_MSG(same_bytes, "%s: the A8 model saved != the stored model saved", type);
            if (a1) fclose(a1);
            if (a2) fclose(a2);
        }
        CHECK_MSG(md > 0 && md < 5e-2 * mx, "%s: %g of %g", type, md, mx);
        CHECK_MSG(same >= T - 2, "%s: arg max kept at %zu of %d positions", type, same, T);
        free(a), free(b);
        xf_model_free(f);
    }
done:
    xf_model_free(a8);
    xf_model_free(i8);
}

static void check_encoder(void) {
    const char *path = quantized("tests/data/tiny/bert", "Q8_0", "bert-a8-q8.gguf");
    if (!path) return;
    xf_model *f = xf_t_load(path, XF_WEIGHTS_AS_STORED), *a8 = xf_t_load(path, XF_WEIGHTS_A8);
    if (f && a8) {
        static const char *texts[] = {"the quick brown fox jumps over the lazy dog and keeps running far away",
                                      "hello world", "activation quantization of an encoder, per block of 32 inputs"};
        const size_t n = 3, d = xf_model_embedding_dim(f);
        float *a = malloc(n * d * sizeof *a), *b = malloc(n * d * sizeof *b);
        CHECK(xf_embed(f, texts, n, 0, a, NULL) == XF_OK && xf_embed(a8, texts, n, 0, b, NULL) == XF_OK);
        CHECK(a8->plan.layers[0].ffn.up.w.act_q8 == 2 && memcmp(a, b, n * d * sizeof *a) != 0); /* A8 is what ran */
        for (size_t i = 0; i < n; i++) {
            double ab = 0, aa = 0, bb = 0;
            for (size_t k = 0; k < d; k++) ab += a[i * d + k] * b[i * d + k], aa += a[i * d + k] * a[i * d + k], bb += b[i * d + k] * b[i * d + k];
            const double c = ab / sqrt(aa * bb);
            CHECK_MSG(c > 0.99 && c < 1.0 + 1e-6, "text %zu: cosine %.6f", i, c);
            printf("tiny bert Q8_0, A8 vs float: text %zu cosine %.6f\n", i, c);
        }
        free(a), free(b);
    }
    xf_model_free(f);
    xf_model_free(a8);
}

int main(void) {
    check_layer("Q4_0");
    check_layer("Q8_0");
    check_layer("Q4_1");
    check_layer("Q5_0");
    check_encoder();
    xf_model_params p = xf_model_default_params();
    p.weights = (xf_weight_format)6;
    xf_model *m = NULL;
    CHECK(xf_model_load(xf_t_src("tests/data/tiny/llama"), &p, &m) == XF_ERR_INVALID_ARG && !m && strstr(xf_errmsg(), "XF_WEIGHTS_A8"));
    return xf_t_report();
}
