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
    xf_attention_head_window(Q, ldq, K, ldk, V, ldv, O, ldo, L, h, dh, scale, causal, 0, scratch);
}

void xf_attention_head_window(const float *Q, size_t ldq, const float *K, size_t ldk, const float *V,
                              size_t ldv, float *O, size_t ldo, size_t L, size_t h, size_t dh,
                              float scale, int causal, size_t window, float *scratch) {
    const size_t off = h * dh;
    float *S = scratch, *Vt = scratch + L * L;
    /* S = Q_h K_h^T with the GEMM kernel (each score one canonical dot product) */
    xf_gemm_f32_nt(Q + off, ldq, K + off, ldk, NULL, S, L, L, 0, L, dh);
    for (size_t i = 0; i < L; i++) {
        size_t n = causal ? i + 1 : L, lo = causal && window && i + 1 > window ? i + 1 - window : 0;
        memset(S + i * L, 0, lo * sizeof *S); /* keys before the window get probability 0 */
        xf_softmax_row(S + i * L + lo, n - lo, scale);
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
    xf_attention_head_window_ref(Q, ldq, K, ldk, V, ldv, O, ldo, L, h, dh, scale, causal, 0, scratch);
}

void xf_attention_head_window_ref(const float *Q, size_t ldq, const float *K, size_t ldk, const float *V,
                                  size_t ldv, float *O, size_t ldo, size_t L, size_t h, size_t dh,
                                  float scale, int causal, size_t window, float *scratch) {
    const size_t off = h * dh;
    for (size_t i = 0; i < L; i++) {
        size_t n = causal ? i + 1 : L, lo = causal && window && i + 1 > window ? i + 1 - window : 0;
        double mx = -INFINITY, sum = 0.0;
        for (size_t j = lo; j < n; j++) {
            double s = 0.0;
            for (size_t d = 0; d < dh; d++) s += (double)Q[i * ldq + off + d] * K[j * ldk + off + d];
            scratch[j] = (float)(s * scale);
            if (scratch[j] > mx) mx = scratch[j];
        }
        for (size_t j = lo; j < n; j++) sum += exp(scratch[j] - mx);
        for (size_t d = 0; d < dh; d++) {
            double acc = 0.0;
            for (size_t j = lo; j < n; j++) acc += exp(scratch[j] - mx) / sum * V[j * ldv + off + d];
            O[i * ldo + off + d] = (float)acc;
        }
    }
}

/* Dot product in 8 independent float lanes (vectorisable; a fixed reduction order). */
static inline float dot_lanes(const float *a, const float *b, size_t n) {
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];
    for (int l = 0; i < n; i++, l++) acc[l] += a[i] * b[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void xf_attention_cached(const float *q, const float *K, size_t ldk, const float *V, size_t ldv,
                         size_t n_keys, size_t dh, float scale, float *out, float *scores) {
    for (size_t j = 0; j < n_keys; j++) scores[j] = dot_lanes(q, K + j * ldk, dh);
    xf_softmax_row(scores, n_keys, scale);
    memset(out, 0, dh * sizeof *out);
    for (size_t j = 0; j < n_keys; j++) {
        const float p = scores[j], *v = V + j * ldv;
        for (size_t d = 0; d < dh; d++) out[d] += p * v[d];
    }
}

void xf_attention_cached_ref(const float *q, const float *K, size_t ldk, const float *V, size_t ldv,
                             size_t n_keys, size_t dh, float scale, float *out, float *scores) {
    double mx = -INFINITY, sum = 0.0;
    for (size_t j = 0; j < n_keys; j++) {
        double s = 0.0;
        for (size_t d = 0; d < dh; d++) s += (double)q[d] * K[j * ldk + d];
        scores[j] = (float)(s * scale);
        if (scores[j] > mx) mx = scores[j];
    }
    for (size_t j = 0; j < n_keys; j++) sum += exp(scores[j] - mx);
    for (size_t d = 0; d < dh; d++) {
        double acc = 0.0;
        for (size_t j = 0; j < n_keys; j++) acc += exp(scores[j] - mx) / sum * V[j * ldv + d];
        out[d] = (float)acc;
    }
}
