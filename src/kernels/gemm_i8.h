/* gemm_i8.h — int8 matrix products for linear layers: weights quantized once per output channel
 * (symmetric, scale sw = max|w| / 127), activations quantized on the fly per row and per group of
 * XF_I8_GROUP inputs (symmetric, 8 bit: an outlier channel only coarsens its own group), integer
 * dot products per group (AMX, AVX-512 VNNI, AVX-VNNI, AVX2, portable), accumulated in float:
 *
 *   acc = 0;  for each group g in order:  acc = fma((float)dot_g(xq[t], wq[o]), sx[t][g], acc)
 *   Y[t, o] = fma(acc, sw[o], b[o])
 *
 * |dot_g| < 2^24, so its conversion is exact and every ISA, tile split and thread count gives the
 * same bits (AMX-INT8 included: kernels/gemm_i8_amx.c).
 *
 * Except on CPUs with AVX2 and no VNNI of any kind: there xf_matmul_i8 quantizes activations to 7
 * bits, values in [-63, 63], and multiplies with vpmaddubsw, whose saturating int16 pairs
 * (wq + 128) x then stay exact (|.| <= 2 * 255 * 63 < 2^15) — what PyTorch's fbgemm does without
 * VNNI (reduce_range; ONNX Runtime's option of that name takes 7-bit weights). Its group scales
 * are two-level, so that the whole row sums in integers (the next step of vpmaddubsw, vpmaddwd,
 * multiplies by the group's integer): with m_g = max|x| of group g and M the row's largest,
 *
 *   u = M / 63 / mult_max(K);   mu_g = min(mult_max, ceil(m_g / (63 u)));   xq = round(x * (1 / (u mu_g)))
 *   acc = sum_g mu_g dot_g(xq[t], wq[o]) (int32, exact);   Y[t, o] = fma((float)acc * u, sw[o], b[o])
 *
 * mult_max(K) = min(127, (2^31 - 1) / (24129 ceil4(K))) keeps the sum inside int32 (57 at K = 1536,
 * 1 past K ~ 88,000: then one scale per row). A group's step is u mu_g <= m_g / 63 + u: at most
 * M / (63 mult_max) coarser than its own 7-bit step. ~1.6-1.8x the exact 8-bit AVX2 kernel's speed
 * (BENCHMARKS.md). Its results are the reference's with act_max 63, bitwise (xf_gemm_i8_u7).
 * XF_I8_EXACT=1 in the environment keeps 8-bit activations there (the exact vpmaddwd kernel: the
 * same bits as every other ISA).
 *
 * Weights are stored packed for the micro-kernels as unsigned bytes wq + 128: panels of 32 output
 * channels, k in groups of 4 (byte ((p * Kq + k4) * 32 + j) * 4 + b holds
 * w[32 p + j][4 k4 + b] + 128, Kq = ceil(K / 4)), padded to whole panels and groups. */
#ifndef XF_KERNELS_GEMM_I8_H
#define XF_KERNELS_GEMM_I8_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "kernels/gemm_panel.h"

#define XF_I8_GROUP 64    /* inputs per activation scale */
#define XF_I8_MAX_K 65532 /* widest input a row of int8 activations may have */

/* In order of preference (xf_i8_isa_best: the last one the CPU has); AVX-VNNI: 256-bit vpdpbusd
 * without AVX-512. */
typedef enum xf_i8_isa {
    XF_I8_GENERIC = 0,
    XF_I8_AVX2,
    XF_I8_AVXVNNI,
    XF_I8_VNNI,
    XF_I8_AMX,
    XF_I8_ISA_COUNT
} xf_i8_isa;
int xf_i8_isa_supported(xf_i8_isa isa);
xf_i8_isa xf_i8_isa_best(void);
const char *xf_i8_isa_name(xf_i8_isa isa);

/* Bytes of the packed form of an [N, K] weight. */
size_t xf_i8_packed_bytes(size_t N, size_t K);
/* Quantize W [N, K] (row stride ldw) per row and pack it; scale[N] is written too. */
void xf_i8_quantize_pack(const float *W, size_t ldw, size_t N, size_t K, uint8_t *packed, float *scale);
/* Quantize one activation row: xq[0..ceil4(K)) (zero padded), sx[ceil(K / XF_I8_GROUP)] scales,
 * xsum[same] the sums of each group's xq. */
void xf_i8_quantize_row(const float *x, size_t K, int8_t *xq, float *sx, int32_t *xsum);
/* The same with groups of `group` inputs (> 0) instead of XF_I8_GROUP (kernels/qgemv_q8.h uses 32). */
void xf_i8_quantize_groups(const float *x, size_t K, size_t group, int8_t *xq, float *sx, int32_t *xsum);

/* Rows [0, T) x output channels [n0, n1) with one ISA's micro-kernel (single thread; scratch for
 * the quantized rows, or NULL for a stack buffer). */
void xf_gemm_i8_isa(xf_i8_isa isa, const float *X, size_t ldx, size_t T, const uint8_t *packed,
                    const float *scale, const float *bias, float *Y, size_t ldy, size_t n0, size_t n1,
                    size_t K, float *scratch, size_t scratch_floats);
/* The same product with 7-bit activations (the AVX2 kernel where the CPU has AVX2, else portable C). */
void xf_gemm_i8_u7(const float *X, size_t ldx, size_t T, const uint8_t *packed, const float *scale,
                   const float *bias, float *Y, size_t ldy, size_t n0, size_t n1, size_t K, float *scratch,
                   size_t scratch_floats);
/* The 7-bit scheme's largest group multiple for rows of K inputs (mult_max above). */
int xf_i8_u7_mult_max(size_t K);
/* Its scales for one row of ng groups: sx[g] holds max|x| of group g on entry, 1 / (u mu_g) (0 for
 * an all-zero group) on return; mu[g] the multiples, *unit u. */
void xf_i8_u7_scales(size_t ng, size_t K, float *sx, int32_t *mu, float *unit);
/* The activation range xf_matmul_i8 uses on this CPU: 63 (7-bit, AVX2 without VNNI, XF_I8_EXACT
 * unset or 0) or 127. */
int xf_i8_act_max(void);
/* Plain reference: quantizes W and X itself from floats (activations to [-act_max, act_max]: 127,
 * or 63 with the two-level scales above), scalar integer dots, same rounding. */
void xf_gemm_i8_ref(const float *X, size_t ldx, size_t T, const float *W, size_t ldw, const float *bias,
                    float *Y, size_t ldy, size_t N, size_t K, int act_max);
/* Per-thread pool scratch bytes the products of rows of K inputs use (formats reserve it at load). */
size_t xf_i8_scratch_bytes(size_t K);
/* The whole product over the pool (rows or channels split between threads). */
/* Rows [r0, r1) of a packed [N, K] weight dequantized (q * scale[row]) into out [(r1 - r0), K]. */
void xf_i8_unpack_rows(const uint8_t *packed, const float *scale, size_t K, size_t r0, size_t r1, float *out);
void xf_matmul_i8(xf_pool *pool, const float *X, size_t ldx, size_t T, const uint8_t *packed,
                  const float *scale, const float *bias, float *Y, size_t ldy, size_t N, size_t K);
/* n (<= XF_PANEL_MANY) such products of the same rows X [T, K] (ops: packed weights, scales, bias,
 * outputs): the rows quantized once for all of them; bitwise n xf_matmul_i8 calls. */
void xf_matmul_i8_many(xf_pool *pool, size_t n, const xf_panel_op *ops, const float *X, size_t ldx, size_t T,
                       size_t K);

#endif
