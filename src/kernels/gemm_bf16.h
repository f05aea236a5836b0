/* gemm_bf16.h — bfloat16 matrix products for linear layers (--weights bf16): weights rounded once to
 * bf16 (nearest even) and packed in panels of 32 output channels x pairs of inputs (byte
 * ((p * K2 + k2) * 32 + j) * 4 + 2 e holds bf16(w[32 p + j][2 k2 + e]), K2 = ceil(K / 2), zero
 * padded), activations rounded to bf16 per row on the fly. Products of two bf16 values are exact in
 * fp32; each output sums them in this order:
 *
 *   acc = 0;  for k2 = 0, 1, ...:  acc = acc + x[2 k2 + 1] w[2 k2 + 1];  acc = acc + x[2 k2] w[2 k2]
 *   Y[t, o] = acc + bias[o]                                  (every + rounded to nearest even)
 *
 * which is the order of AVX512_BF16's vdpbf16ps (odd element first; checked against this machine's
 * instruction by test_gemm_bf16). So the AVX512_BF16 micro-kernel, the portable one (two FMAs per
 * pair, exact products) and the scalar reference give the same bits, for any thread split, except
 * where an input or a partial sum is subnormal (below 1.2e-38: vdpbf16ps flushes those to zero).
 * The AMX-BF16 kernel (kernels/gemm_bf16_amx.c, preferred where the CPU has it) sums in the tile
 * unit's own order instead: within K 2^-24 sum |x w| of the exact sum of the same products, and as
 * independent of batching and threads as the others. */
#ifndef XF_KERNELS_GEMM_BF16_H
#define XF_KERNELS_GEMM_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "kernels/gemm_panel.h"

typedef enum xf_bf16_isa { XF_BF16_GENERIC = 0, XF_BF16_AVX512, XF_BF16_AMX, XF_BF16_ISA_COUNT } xf_bf16_isa;
int xf_bf16_isa_supported(xf_bf16_isa isa);
xf_bf16_isa xf_bf16_isa_best(void);
const char *xf_bf16_isa_name(xf_bf16_isa isa);

/* Bytes of the packed form of an [N, K] weight. */
size_t xf_bf16_packed_bytes(size_t N, size_t K);
/* Round W [N, K] (row stride ldw) to bf16 and pack it. */
void xf_bf16_pack(const float *W, size_t ldw, size_t N, size_t K, uint8_t *packed);
/* Rows [r0, r1) of a packed weight back as floats (exact: the bf16 values) into out [(r1 - r0), K]. */
void xf_bf16_unpack_rows(const uint8_t *packed, size_t K, size_t r0, size_t r1, float *out);
/* One activation row x[K] rounded to bf16 pairs (K2 words, zero padded). */
void xf_bf16_round_row(const float *x, size_t K, uint32_t *pairs);

/* Rows [0, T) x output channels [n0, n1) with one ISA's micro-kernel (single thread; scratch bytes
 * for the rounded rows, or NULL for a stack buffer). */
void xf_gemm_bf16_isa(xf_bf16_isa isa, const float *X, size_t ldx, size_t T, const uint8_t *packed, const float *bias,
                      float *Y, size_t ldy, size_t n0, size_t n1, size_t K, void *scratch, size_t scratch_bytes);
/* Plain reference: rounds W and X itself, scalar sums in the order above. */
void xf_gemm_bf16_ref(const float *X, size_t ldx, size_t T, const float *W, size_t ldw, const float *bias, float *Y,
                      size_t ldy, size_t N, size_t K);
/* The whole product over the pool. */
/* Per-thread pool scratch bytes the products of rows of K inputs use (formats reserve it at load). */
size_t xf_bf16_scratch_bytes(size_t K);
void xf_matmul_bf16(xf_pool *pool, const float *X, size_t ldx, size_t T, const uint8_t *packed, const float *bias,
                    float *Y, size_t ldy, size_t N, size_t K);
/* n (<= XF_PANEL_MANY) such products of the same rows X [T, K] (ops' scales unused): the rows
 * rounded once for all of them; bitwise n xf_matmul_bf16 calls. */
void xf_matmul_bf16_many(xf_pool *pool, size_t n, const xf_panel_op *ops, const float *X, size_t ldx, size_t T,
                         size_t K);

#endif
