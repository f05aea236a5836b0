/* ggml_act_check.c — checks the int8-activation GEMV of --weights int8 (kernels/qgemv_q8.h) against
 * ggml's own CPU code, linked from llama.cpp's build: for Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q4_K / Q6_K
 * weights, the activations xfmr quantizes (xf_q8act_quantize) against ggml's from_float of the
 * type's vec_dot_type (Q8_0 / Q8_1 / Q8_K: quants and scales compared byte for byte), and
 * xf_qgemv_q8_ref against ggml's vec_dot on random rows (relative difference: the two sum in other
 * orders). Not built by CMake (it needs llama.cpp's static libraries); by hand:
 *
 *   L=.cache/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp/ggml
 *   B=.cache/llamacpp/build-llama_cpp_python-0.3.36/ggml/src
 *   gcc -std=gnu11 -O2 -DXF_SOURCE_DIR='"'$PWD'"' -I$L/include -Isrc -Iinclude -Itests -c bench/ggml_act_check.c tests/harness.c
 *   g++ ggml_act_check.o harness.o build/libxfmr.a $B/libggml-cpu.a $B/libggml-base.a \
 *       -lpcre2-8 -lcjson -lutf8proc -lz -ldl -lgomp -lm -lpthread -o /tmp/ggml_act_check
 *
 * Seen (2026-12-05, llama.cpp of llama_cpp_python 0.3.36, GGML_NATIVE on Zen 4): 0 differing quants
 * and scales for every type, dot products within 2.2e-6 relative. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ggml.h"
#include "ggml-cpu.h"
#include "harness.h"
#include "kernels/qgemv_q8.h"
#include "kernels/quants.h"
#include "core/dtype.h"
int main(void) {
    ggml_cpu_init();
    xf_t_seed(777);
    const int types[] = {GGML_TYPE_Q8_0, GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q4_K, GGML_TYPE_Q6_K};
    const size_t K = 1536;
    float *X = malloc(K * 4);
    for (size_t i = 0; i < K; i++) X[i] = xf_t_frand32() * (i % 7 == 0 ? 0.01f : 1.0f) * 0.05f;
    for (int ti = 0; ti < 6; ti++) {
        int type = types[ti];
        const struct ggml_type_traits_cpu *tc = ggml_get_type_traits_cpu(type);
        int vdt = tc->vec_dot_type;
        size_t abytes = ggml_row_size(vdt, K);
        void *ga = malloc(abytes);
        ggml_get_type_traits_cpu(vdt)->from_float(X, ga, K);
        void *act = malloc(xf_q8act_bytes(1, K));
        xf_q8act_quantize(type, X, K, 1, K, act);
        /* compare quants */
        int qdiff = 0, ddiff = 0, sdiff = 0;
        const int8_t *mq = act;
        const float *md = (const float *)(mq + K);
        if (vdt == GGML_TYPE_Q8_K) {
            for (size_t sb = 0; sb < K / 256; sb++) {
                const uint8_t *blk = (const uint8_t *)ga + sb * ggml_row_size(vdt, 256);
                float d; memcpy(&d, blk, 4);
                if (d != md[sb]) ddiff++;
                for (int e = 0; e < 256; e++) if ((int8_t)blk[4 + e] != mq[256 * sb + e]) qdiff++;
            }
        } else {
            size_t bsz = ggml_row_size(vdt, 32);
            for (size_t b = 0; b < K / 32; b++) {
                const uint8_t *blk = (const uint8_t *)ga + b * bsz;
                float d = xf_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
                if (d != md[b]) ddiff++;
                int off = vdt == GGML_TYPE_Q8_1 ? 4 : 2;
                if (vdt == GGML_TYPE_Q8_1 && xf_f16_to_f32((uint16_t)(blk[2] | blk[3] << 8)) != md[K / 32 + b]) sdiff++;
                for (int e = 0; e < 32; e++) if ((int8_t)blk[off + e] != mq[32 * b + e]) qdiff++;
            }
        }
        /* dot with random weights */
        size_t rb; uint8_t *W = xf_t_random_qrows(type, 8, K, &rb);
        double worst = 0;
        for (int o = 0; o < 8; o++) {
            float s; tc->vec_dot((int)K, &s, 0, W + o * rb, 0, ga, 0, 1);
            float yy[8];
            xf_qgemv_q8_ref(type, W, rb, NULL, act, 1, yy, 8, 0, 8, K);
            const float y = yy[o];
            double r = fabs((double)s - y) / (fabs(s) + 1e-30);
            if (r > worst) worst = r;
        }
        printf("%s, activations %s: %d quants, %d scales, %d sums differ; dot products within %.3g relative\n",
               ggml_type_name(type), ggml_type_name(vdt), qdiff, ddiff, sdiff, worst);
        free(ga), free(act), free(W);
    }
    free(X);
    return 0;
}
