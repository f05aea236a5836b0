/* matmul.h — fp32 matrix products in the nn.Linear layout: Y[t, o] = X[t, :] . W[o, :] + b[o].
 *
 * X is [T, K] (row stride ldx), W is [N, K] (row stride ldw, as PyTorch stores Linear weights),
 * Y is [T, N] (row stride ldy); bias may be NULL. Every output element is computed with the same
 * sequence of operations (FMA chains over blocks of k) whatever its position in a block, its ISA or
 * its thread, so results do not depend on how T or N are split (bitwise). */
#ifndef XF_KERNELS_MATMUL_H
#define XF_KERNELS_MATMUL_H

#include <stddef.h>

#include "core/threadpool.h"

/* Instruction sets of the GEMM micro-kernels (chosen at run time; all give the same bits). */
typedef enum xf_gemm_isa { XF_GEMM_GENERIC = 0, XF_GEMM_AVX2, XF_GEMM_AVX512, XF_GEMM_ISA_COUNT } xf_gemm_isa;
int xf_gemm_isa_supported(xf_gemm_isa isa);
xf_gemm_isa xf_gemm_isa_best(void);
const char *xf_gemm_isa_name(xf_gemm_isa isa);

/* The blocked product with a given ISA's micro-kernel (tests compare them). */
void xf_gemm_f32_nt_isa(xf_gemm_isa isa, const float *X, size_t ldx, const float *W, size_t ldw,
                        const float *bias, float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K);
/* Output columns [n0, n1) only: the single-thread kernel (best ISA). */
void xf_gemm_f32_nt(const float *X, size_t ldx, const float *W, size_t ldw, const float *bias,
                    float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K);
/* Weights packed once for one ISA's micro-kernels (panels of xf_gemm_panel(isa) rows of W, k-major,
 * zero padded): size in floats, packing, the single-thread product on columns [n0, n1) (n0 a
 * multiple of the panel width) and the threaded product. Same bits as the row-major product for
 * T > 1 rows, and single rows get those bits too. */
size_t xf_gemm_panel(xf_gemm_isa isa);
size_t xf_gemm_packed_floats(xf_gemm_isa isa, size_t N, size_t K);
void xf_gemm_pack(xf_gemm_isa isa, const float *W, size_t ldw, size_t N, size_t K, float *Wp);
void xf_gemm_f32_packed(xf_gemm_isa isa, const float *X, size_t ldx, const float *Wp, const float *bias, float *Y,
                        size_t ldy, size_t T, size_t n0, size_t n1, size_t K);
void xf_matmul_f32_packed(xf_pool *pool, xf_gemm_isa isa, const float *X, size_t ldx, const float *Wp,
                          const float *bias, float *Y, size_t ldy, size_t T, size_t N, size_t K);
/* Rows [r0, r1) of the [N, K] weight packed by xf_gemm_pack, back into out [(r1 - r0), K]. */
void xf_gemm_unpack_rows(xf_gemm_isa isa, const float *Wp, size_t K, size_t r0, size_t r1, float *out);
/* Scalar reference of the same product (plain loops, for tests). */
void xf_gemm_f32_nt_ref(const float *X, size_t ldx, const float *W, size_t ldw, const float *bias,
                        float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K);
/* The whole product, output columns split over the pool's threads. */
void xf_matmul_f32_nt(xf_pool *pool, const float *X, size_t ldx, const float *W, size_t ldw,
                      const float *bias, float *Y, size_t ldy, size_t T, size_t N, size_t K);

#endif
