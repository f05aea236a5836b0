/* attention.h — scaled dot-product attention as a tiled online-softmax ("flash") kernel: one call
 * computes a block of query rows (query positions x the query heads of one key/value head) by
 * streaming key/value blocks, never holding more than a score tile; the same kernel serves
 * encoders, decoder prefill and KV-cache decoding.
 *
 * Layout: rows are tokens. Query position t reads Q + t*ldq, its query head h the columns
 * [h*dh, (h+1)*dh); key index j reads K + j*ldk and V + j*ldv (float32, or IEEE halves when kv_f16;
 * strides in elements; or, for a quantized cache, whatever kv_tile reads), key/value head g the columns [g*dh, (g+1)*dh); the query heads of key/value
 * head g are g*group + [0, group) (grouped-query attention), or [h_off[g], h_off[g+1]) when groups
 * differ in size (group is then the largest).
 *   O[t, head h] = sum_j softmax_j(scale * q_{t,h} . k_j + bias_j) v_j   (bias_j = k_bias[j], or 0)
 * over the keys j query t sees: all n_k keys (bidirectional), or, causal, the keys
 * lo(t) <= j <= q_pos0 + t with lo(t) = 0, or with a sliding window W > 0 lo(t) = q_pos0 + t + 1 - W
 * (transformers' kv_idx > q_idx - sliding_window) when that is positive; bidirectional with a
 * window W > 0 (ModernBERT's local layers), the keys |j - (q_pos0 + t)| < W. With key positions
 * k_pos (a KV cache whose slots were evicted or reordered, or a windowed bidirectional problem
 * whose tokens were dropped), masking compares positions instead of indices: query t at position
 * qp(t) = q_pos ? q_pos[t] : q_pos0 + t sees key j iff k_pos[j] <= qp(t) and, with a window,
 * k_pos[j] > qp(t) - W (or k_pos[j] < sinks, below) (causal), or |k_pos[j] - qp(t)| < W
 * (bidirectional window).
 *
 * Every output row is computed by the same operations in the same order whatever block, task or
 * thread computes it (key blocks sit at fixed multiples of XF_ATTN_KEYS, blocks a row does not see
 * are skipped), so results do not depend on the thread count, on packing sequences into a batch or
 * on how a prompt is split into chunks. */
#ifndef XF_KERNELS_ATTENTION_H
#define XF_KERNELS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#define XF_ATTN_KEYS 64 /* keys per streamed block */
#define XF_ATTN_ROWS 64 /* query rows (positions x heads) a block aims at */

typedef struct {
    const float *Q;
    const void *K, *V; /* float, or uint16 halves when kv_f16 */
    float *O;          /* laid out as Q */
    size_t ldq, ldk, ldv, ldo;
    size_t n_q;    /* query positions */
    size_t q_pos0; /* causal: the key index of query position 0 (its own key) */
    size_t n_k;    /* keys; causal needs n_k >= q_pos0 + n_q */
    size_t dh;     /* head dimension (any; vectors are padded to 8 inside) */
    size_t group;  /* query heads per key/value head */
    float scale;
    int causal;
    size_t window; /* 0 = every earlier key (causal) or every key; W: causal p - W < k <= p,
                      bidirectional |k - p| < W */
    const size_t *h_off;  /* NULL: equal groups; else query heads of kv head g are [h_off[g], h_off[g+1]) */
    const int32_t *k_pos; /* causal or windowed: positions of the keys; NULL: key j is at position j */
    const int32_t *q_pos; /* with k_pos: positions of the queries (increasing); NULL: q_pos0 + t */
    int kv_f16;           /* 1: K and V hold IEEE halves (uint16) */
    /* A cache in a block format (quantized): when set, keys and values are read only through it
     * (K, V, ldk, ldv unused): rows [j0, j0 + nk) of the keys (values = 0) or values, columns
     * [col, col + dh), as floats into dst with row stride dp, columns [dh, dp) zeroed. */
    void (*kv_tile)(const void *ctx, int values, size_t j0, size_t nk, size_t col, size_t dh, size_t dp, float *dst);
    const void *kv_ctx;
    /* Attention sinks (StreamingLLM, Xiao et al., 2024) for a sliding window: with window > 0, keys
     * at positions (indices without k_pos) < sinks stay visible to every later query as well:
     * query t sees key j iff j <= qp(t) and (j > qp(t) - W or j < sinks). 0 = a plain window. */
    size_t sinks;
    /* Block-sparse queries (block-sparse prefill, model/attn_blocksparse.c): when set, query t of
     * key/value head g reads only the key blocks [b * XF_ATTN_KEYS, (b + 1) * XF_ATTN_KEYS) with
     * kblocks[(g * kblocks_nqt + t / XF_ATTN_KEYS) * kblocks_ld + b] != 0 (on top of every mask
     * above: queries in tiles of XF_ATTN_KEYS positions from query 0); NULL = all blocks. Each
     * query must keep a visible key (its own block), or its output is 0/0. */
    const unsigned char *kblocks;
    size_t kblocks_ld, kblocks_nqt;
    /* Per-key bias added to the scaled scores (token merging's proportional attention: key j
     * stands for n_j tokens, bias log n_j, as if its row were there n_j times); NULL = none. Read
     * by xf_attention, its references and the received-attention sums, not by the sparse variants
     * (ProbSparse, vertical-slash): model/forward.c runs biased problems dense. */
    const float *k_bias;
} xf_attn_problem;

/* Query positions per block for a given group size: XF_ATTN_ROWS / group, at least 1. */
static inline size_t xf_attention_qblock(size_t group) {
    return group >= XF_ATTN_ROWS ? 1 : XF_ATTN_ROWS / group;
}

/* Scratch floats xf_attention needs (per calling thread), for any block of at most
 * xf_attention_qblock(group) positions. */
size_t xf_attention_scratch(size_t group, size_t dh);

/* Outputs of query positions [q0, q1) (at most xf_attention_qblock(group) of them) for query heads
 * kv_head*group + [h0, h1) (h0 < h1 <= group). */
void xf_attention(const xf_attn_problem *p, size_t kv_head, size_t h0, size_t h1, size_t q0, size_t q1,
                  float *scratch);
/* Rows [j0, j0 + nk) of the problem's keys, columns [col, col + dh), as floats (row stride dh),
 * whatever their storage (float, halves, a quantized cache's kv_tile). */
void xf_attention_keys(const xf_attn_problem *p, size_t j0, size_t nk, size_t col, size_t dh, float *dst);

/* Scalar reference of the same (two passes, double accumulation, libm exp), for tests; any q0..q1,
 * allocates its own scratch. */
void xf_attention_ref(const xf_attn_problem *p, size_t kv_head, size_t h0, size_t h1, size_t q0, size_t q1);

/* One past the last key index query t can see (causal: its own key; with positions or
 * bidirectional: n_k); keys at and after it are masked for t. */
size_t xf_attention_keys_seen(const xf_attn_problem *p, size_t t);
/* s[j] = -INFINITY for the keys j < n that query t of kv_head does not see (the references' plain
 * mask: causal, window and sinks, positions, key blocks). */
void xf_attention_mask_row(const xf_attn_problem *p, size_t kv_head, size_t t, float *s, size_t n);

/* The attention weights themselves, for KV-cache policies that score keys (heavy hitters,
 * SnapKV): acc[(h - h0) * ldacc + j] += softmax weight of key j for query head h0.. of kv_head, summed
 * over query positions [q0, q1). Computed as xf_attention_ref computes them (scores and softmax in
 * double, the same mask), then added in float: a scalar path, only run when a policy asks. */
void xf_attention_weights(const xf_attn_problem *p, size_t kv_head, size_t h0, size_t h1, size_t q0, size_t q1,
                          float *acc, size_t ldacc);

/* The same sums, fast (attn_received.c): scores of blocks of query rows by the fp32 GEMM (keys in
 * an f16 or quantized cache read through xf_attention_keys, XF_RECEIVED_KEYS at a time), scaled,
 * biased and masked as xf_attention_weights has them, softmax in float with the vector exponential
 * (relative error ~1e-6 against xf_attention_weights, which tests use as its reference); each head's
 * sums add the query rows in order, so they do not depend on the block size or the thread that
 * computes them. Any problem; a scratch too small for one row of every head (and, for keys not
 * stored as floats, a key tile) falls back to xf_attention_weights. Token pruning ranks tokens by
 * these sums (the attention each token receives), KV-cache policies (H2O, SnapKV) the cache's keys.
 * xf_attention_received_scratch: the floats that hold every row of [q0, q1) at once. */
#define XF_RECEIVED_KEYS 256
void xf_attention_received(const xf_attn_problem *p, size_t kv_head, size_t h0, size_t h1, size_t q0, size_t q1,
                           float *acc, size_t ldacc, float *scratch, size_t scratch_floats);
size_t xf_attention_received_scratch(const xf_attn_problem *p, size_t n_heads, size_t n_rows);

/* One query row q (dh floats) against n_keys cache rows K[j*ldk..], V[j*ldv..] (bidirectional):
 * xf_attention for a single row. scratch: xf_attention_scratch(1, dh) floats. */
void xf_attention_cached(const float *q, const float *K, size_t ldk, const float *V, size_t ldv,
                         size_t n_keys, size_t dh, float scale, float *out, float *scratch);
void xf_attention_cached_ref(const float *q, const float *K, size_t ldk, const float *V, size_t ldv,
                             size_t n_keys, size_t dh, float scale, float *out);

#endif
