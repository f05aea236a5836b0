/* matmul.h — fp32 matrix products in the nn.Linear layout: Y[t, o] = X[t, :] . W[o, :] + b[o].
 *
 * X is [T, K] (row stride ldx), W is [N, K] (row stride ldw, as PyTorch stores Linear weights),
 * Y is [T, N] (row stride ldy); bias may be NULL. Every output element is computed with the same
 * sequence of operations whatever its position in a block, so results do not depend on how T or
 * N are split between threads or batches (bitwise). */
#ifndef XF_KERNELS_MATMUL_H
#define XF_KERNELS_MATMUL_H

#include <stddef.h>

#include "core/threadpool.h"

/* Output columns [n0, n1) only: the single-thread kernel. */
void xf_gemm_f32_nt(const float *X, size_t ldx, const float *W, size_t ldw, const float *bias,
                    float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K);
/* Scalar reference of the same product (plain loops, for tests). */
void xf_gemm_f32_nt_ref(const float *X, size_t ldx, const float *W, size_t ldw, const float *bias,
                        float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K);
/* The whole product, output columns split over the pool's threads. */
void xf_matmul_f32_nt(xf_pool *pool, const float *X, size_t ldx, const float *W, size_t ldw,
                      const float *bias, float *Y, size_t ldy, size_t T, size_t N, size_t K);

#endif
