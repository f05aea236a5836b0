/* attn_received.c — the attention each key receives (attention.h: xf_attention_received), the score
 * token pruning ranks tokens by (the Attention Context Contribution of the latency-adjustable
 * encoder). Scores of a block of query rows come from the fp32 GEMM (kernels/matmul.h), each row's
 * softmax is taken in place with the vector exponential and added to the keys' sums. The scalar
 * reference is xf_attention_weights (double softmax). */
#include <math.h>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/simd.h"

/* acc[j] += softmax_j(scale * S[r, :]) for each of `rows` rows of S [rows, n] (S overwritten). */
XF_INLINE void received_rows_body(float *S, size_t rows, size_t n, float scale, float *acc) {
    for (size_t r = 0; r < rows; r++) {
        float *s = S + r * n;
        size_t j = 0;
        float m = -INFINITY;
        if (n >= 8) {
            xf_v8 vm = xf_v8_load(s);
            for (j = 8; j + 8 <= n; j += 8) vm = xf_v8_max(vm, xf_v8_load(s + j));
            for (int k = 0; k < 8; k++) m = vm[k] > m ? vm[k] : m;
        }
        for (; j < n; j++) m = s[j] > m ? s[j] : m;
        const xf_v8 vmax = xf_v8_splat(m), vscale = xf_v8_splat(scale);
        xf_v8 vs = {0};
        for (j = 0; j + 8 <= n; j += 8) {
            const xf_v8 e = xf_v8_exp((xf_v8_load(s + j) - vmax) * vscale);
            xf_v8_store(s + j, e);
            vs += e;
        }
        float sum = xf_v8_hsum(vs);
        for (; j < n; j++) sum += (s[j] = expf((s[j] - m) * scale));
        const float inv = 1.0f / sum;
        const xf_v8 vinv = xf_v8_splat(inv);
        for (j = 0; j + 8 <= n; j += 8) xf_v8_store(acc + j, xf_v8_load(acc + j) + xf_v8_load(s + j) * vinv);
        for (; j < n; j++) acc[j] += s[j] * inv;
    }
}
XF_DISPATCH_VOID(received_rows, (float *S, size_t rows, size_t n, float scale, float *acc), (S, rows, n, scale, acc), )

void xf_attention_received(const xf_attn_problem *p, size_t kv_head, size_t h0, size_t h1, size_t q0, size_t q1,
                           float *acc, size_t ldacc, float *scratch, size_t scratch_floats) {
    const size_t rows = p->n_k ? scratch_floats / p->n_k : 0, hb = p->h_off ? p->h_off[kv_head] : kv_head * p->group;
    if (!rows || p->causal || p->window || p->kv_f16 || p->kv_tile) {
        xf_attention_weights(p, kv_head, h0, h1, q0, q1, acc, ldacc);
        return;
    }
    const float *K = (const float *)p->K + kv_head * p->dh;
    for (size_t h = hb + h0; h < hb + h1; h++)
        for (size_t t = q0; t < q1; t += rows) {
            const size_t nr = q1 - t < rows ? q1 - t : rows;
            xf_gemm_f32_nt(p->Q + t * p->ldq + h * p->dh, p->ldq, K, p->ldk, NULL, scratch, p->n_k, nr, 0, p->n_k, p->dh);
            received_rows(scratch, nr, p->n_k, p->scale, acc + (h - hb - h0) * ldacc);
        }
}
