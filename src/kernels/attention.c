/* attention.c — one attention head over a whole (encoder-length) sequence: the L x L score matrix
 * and P V both go through the tiled GEMM; softmax row by row. (Tiled online-softmax attention for
 * long contexts comes with the speed work.) */
#include "kernels/attention.h"

#include <math.h>
#include <string.h>

#include "kernels/matmul.h"
#include "kernels/ops.h"

void xf_attention_head(const float *Q, size_t ldq, const float *K, size_t ldk, const float *V,
                       size_t ldv, float *O, size_t ldo, size_t L, size_t h, size_t dh, float scale,
                       int causal, float *scratch) {
    const size_t off = h * dh;
    float *S = scratch, *Vt = scratch + L * L;
    /* S = Q_h K_h^T with the GEMM kernel (each score one canonical dot product) */
    xf_gemm_f32_nt(Q + off, ldq, K + off, ldk, NULL, S, L, L, 0, L, dh);
    for (size_t i = 0; i < L; i++) {
        size_t n = causal ? i + 1 : L;
        xf_softmax_row(S + i * L, n, scale);
        memset(S + i * L + n, 0, (L - n) * sizeof *S);
    }
    /* O_h = P V_h = P (V_h^T)^T: transpose V_h once so the GEMM reads both operands by rows */
    for (size_t j = 0; j < L; j++)
        for (size_t d = 0; d < dh; d++) Vt[d * L + j] = V[j * ldv + off + d];
    xf_gemm_f32_nt(S, L, Vt, L, NULL, O + off, ldo, L, 0, dh, L);
}

void xf_attention_head_ref(const float *Q, size_t ldq, const float *K, size_t ldk, const float *V,
                           size_t ldv, float *O, size_t ldo, size_t L, size_t h, size_t dh,
                           float scale, int causal, float *scratch) {
    const size_t off = h * dh;
    for (size_t i = 0; i < L; i++) {
        size_t n = causal ? i + 1 : L;
        double mx = -INFINITY, sum = 0.0;
        for (size_t j = 0; j < n; j++) {
            double s = 0.0;
            for (size_t d = 0; d < dh; d++) s += (double)Q[i * ldq + off + d] * K[j * ldk + off + d];
            scratch[j] = (float)(s * scale);
            if (scratch[j] > mx) mx = scratch[j];
        }
        for (size_t j = 0; j < n; j++) sum += exp(scratch[j] - mx);
        for (size_t d = 0; d < dh; d++) {
            double acc = 0.0;
            for (size_t j = 0; j < n; j++) acc += exp(scratch[j] - mx) / sum * V[j * ldv + off + d];
            O[i * ldo + off + d] = (float)acc;
        }
    }
}
