/* attn_received.c — the attention each key receives (attention.h: xf_attention_received): the
 * score token pruning ranks tokens by (the Attention Context Contribution of the latency-adjustable
 * encoder) and the KV-cache policies rank a cache's keys by (H2O's heavy hitters, SnapKV's
 * observation window). Scores of a block of query rows come from the fp32 GEMM (kernels/matmul.h),
 * each row's softmax is taken in place with the vector exponential and added to the keys' sums. The
 * scalar reference is xf_attention_weights (double softmax). */
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
        if (m == -INFINITY) continue; /* a row that sees no key adds nothing */
        const xf_v8 ninf = xf_v8_splat(-INFINITY), zero = {0};
        for (j = 0; j + 8 <= n; j += 8) {
            const xf_v8 x = xf_v8_load(s + j); /* masked keys (-inf) weigh 0, not exp's clamp */
            const xf_v8 e = xf_v8_select(x > ninf, xf_v8_exp((x - vmax) * vscale), zero);
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

/* Whether the keys are floats the GEMM reads in place (else halves or a quantized cache: tiles of
 * XF_RECEIVED_KEYS rows made floats by xf_attention_keys). */
static int keys_in_place(const xf_attn_problem *p) { return !p->kv_f16 && !p->kv_tile; }

size_t xf_attention_received_scratch(const xf_attn_problem *p, size_t n_heads, size_t n_rows) {
    return n_heads * n_rows * p->n_k + (keys_in_place(p) ? 0 : XF_RECEIVED_KEYS * p->dh);
}

/* Any mask, bias or key storage: per block of nr query positions, the scores of every head of the
 * block against the keys the block's last row sees (the GEMM on the keys in place, or on tiles of
 * XF_RECEIVED_KEYS keys made floats once for all heads), then each row over the keys it sees:
 * scaled and biased, the invisible ones -inf, its softmax added (rows in order). */
static void received_general(const xf_attn_problem *p, size_t kv_head, size_t h0, size_t h1, size_t q0, size_t q1,
                             float *acc, size_t ldacc, float *scratch, size_t rows) {
    const size_t dh = p->dh, nh = h1 - h0, hb = p->h_off ? p->h_off[kv_head] : kv_head * p->group;
    const int direct = keys_in_place(p);
    float *tile = scratch, *S = direct ? scratch : scratch + XF_RECEIVED_KEYS * dh;
    for (size_t t = q0; t < q1; t += rows) {
        const size_t nr = q1 - t < rows ? q1 - t : rows;
        const size_t n = xf_attention_keys_seen(p, t + nr - 1); /* the most any row sees: it grows with t */
        if (!n) continue;
        for (size_t j0 = 0; j0 < n; j0 += direct ? n : XF_RECEIVED_KEYS) {
            const size_t nk = direct ? n : n - j0 < XF_RECEIVED_KEYS ? n - j0 : XF_RECEIVED_KEYS;
            const float *K = direct ? (const float *)p->K + kv_head * dh : tile;
            const size_t ldk = direct ? p->ldk : dh;
            if (!direct) xf_attention_keys(p, j0, nk, kv_head * dh, dh, tile);
            for (size_t i = 0; i < nh; i++)
                xf_gemm_f32_nt(p->Q + t * p->ldq + (hb + h0 + i) * dh, p->ldq, K, ldk, NULL, S + i * nr * n + j0, n, nr, 0,
                               nk, dh);
        }
        for (size_t i = 0; i < nh; i++)
            for (size_t r = 0; r < nr; r++) { /* over the keys row r sees: the same sums in any block */
                float *s = S + (i * nr + r) * n;
                const size_t nr_k = xf_attention_keys_seen(p, t + r);
                for (size_t j = 0; j < nr_k; j++) s[j] = s[j] * p->scale + (p->k_bias ? p->k_bias[j] : 0.0f);
                xf_attention_mask_row(p, kv_head, t + r, s, nr_k);
                received_rows(s, 1, nr_k, 1.0f, acc + i * ldacc);
            }
    }
}

void xf_attention_received(const xf_attn_problem *p, size_t kv_head, size_t h0, size_t h1, size_t q0, size_t q1,
                           float *acc, size_t ldacc, float *scratch, size_t scratch_floats) {
    const size_t hb = p->h_off ? p->h_off[kv_head] : kv_head * p->group;
    const int plain = !p->causal && !p->window && keys_in_place(p) && !p->k_bias && !p->kblocks;
    if (!plain) {
        const size_t tile = keys_in_place(p) ? 0 : XF_RECEIVED_KEYS * p->dh, per_row = (h1 - h0) * p->n_k;
        const size_t rows = per_row && scratch_floats > tile ? (scratch_floats - tile) / per_row : 0;
        if (rows) received_general(p, kv_head, h0, h1, q0, q1, acc, ldacc, scratch, rows);
        else xf_attention_weights(p, kv_head, h0, h1, q0, q1, acc, ldacc);
        return;
    }
    const size_t rows = p->n_k ? scratch_floats / p->n_k : 0;
    if (!rows) {
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
