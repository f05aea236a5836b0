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

#endif
