/* attention.c — one attention head over a whole sequence: scores row by row (never more than
 * one row of L scores at a time), softmax, weighted sum of V rows. */
#include "kernels/attention.h"

#include <math.h>
#include <string.h>

#include "kernels/ops.h"
#include "kernels/simd.h"

XF_DISPATCH
void xf_attention_head(const float *Q, size_t ldq, const float *K, size_t ldk, const float *V,
                       size_t ldv, float *O, size_t ldo, size_t L, size_t h, size_t dh, float scale,
                       int causal, float *scratch) {
    const size_t off = h * dh;
    for (size_t i = 0; i < L; i++) {
        const float *q = Q + i * ldq + off;
        size_t n = causal ? i + 1 : L;
        for (size_t j = 0; j < n; j++) scratch[j] = xf_dot_f32(q, K + j * ldk + off, dh) * scale;
        xf_softmax_row(scratch, n);
        float *o = O + i * ldo + off;
        memset(o, 0, dh * sizeof *o);
        for (size_t j = 0; j < n; j++) {
            const float p = scratch[j], *v = V + j * ldv + off;
            for (size_t d = 0; d < dh; d++) o[d] += p * v[d];
        }
    }
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
