/* attention.h — multi-head scaled dot-product attention over one packed sequence.
 *
 * Q, K, V rows are tokens (row strides ldq, ldk, ldv floats); head h uses columns
 * [h*dh, (h+1)*dh). O[i, h*dh:(h+1)*dh] = softmax(scale * q_i . K^T [+ causal mask]) V.
 * scratch must hold xf_attention_scratch(L, dh) floats. Bidirectional (encoder) unless causal. */
#ifndef XF_KERNELS_ATTENTION_H
#define XF_KERNELS_ATTENTION_H

#include <stddef.h>

static inline size_t xf_attention_scratch(size_t L, size_t dh) { return L * L + L * dh; }

void xf_attention_head(const float *Q, size_t ldq, const float *K, size_t ldk, const float *V,
                       size_t ldv, float *O, size_t ldo, size_t L, size_t h, size_t dh, float scale,
                       int causal, float *scratch);
/* Scalar reference of the same computation, for tests. */
void xf_attention_head_ref(const float *Q, size_t ldq, const float *K, size_t ldk, const float *V,
                           size_t ldv, float *O, size_t ldo, size_t L, size_t h, size_t dh,
                           float scale, int causal, float *scratch);
/* The same with a sliding window (causal only; window 0 = unlimited): query i attends keys j with
 * i - window < j <= i, the window keys ending at the query itself (transformers' sliding-window
 * mask, kv_idx > q_idx - sliding_window). xf_attention_head is this with window 0. */
void xf_attention_head_window(const float *Q, size_t ldq, const float *K, size_t ldk, const float *V,
                              size_t ldv, float *O, size_t ldo, size_t L, size_t h, size_t dh,
                              float scale, int causal, size_t window, float *scratch);
void xf_attention_head_window_ref(const float *Q, size_t ldq, const float *K, size_t ldk, const float *V,
                                  size_t ldv, float *O, size_t ldo, size_t L, size_t h, size_t dh,
                                  float scale, int causal, size_t window, float *scratch);

/* Decoding with a KV cache: one query row q (dh floats) of one head against the n_keys rows of a
 * cache, K[j*ldk .. +dh) and V[j*ldv .. +dh) for key j (the caller picks the head's columns and
 * the causal span: n_keys = absolute position of the query + 1; with a sliding window of W the
 * caller passes the keys from max(0, pos + 1 - W) instead).
 *   out[d] = sum_j softmax(scale * q . K_j)_j V_j[d]
 * scores must hold n_keys floats. Each output depends only on its own inputs (same operations in
 * the same order whatever thread or chunk computes it), so results are independent of how a
 * prompt is split into eval calls and of the thread count. */
void xf_attention_cached(const float *q, const float *K, size_t ldk, const float *V, size_t ldv,
                         size_t n_keys, size_t dh, float scale, float *out, float *scores);
/* Scalar reference (double accumulation, libm exp), for tests. */
void xf_attention_cached_ref(const float *q, const float *K, size_t ldk, const float *V, size_t ldv,
                             size_t n_keys, size_t dh, float scale, float *out, float *scores);

#endif
