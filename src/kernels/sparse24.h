/* sparse24.h — 2:4 semi-structured sparse weights (of every 4 consecutive inputs of an output row,
 * 2 are kept) stored compressed and multiplied in that form, for linear layers.
 *
 * Layout of an [N, K] weight (K a multiple of 4), V = K / 2 kept values per row:
 *   values   float[N][V]            row o: the kept weights of groups 0, 1, ... in input order
 *   indices  uint8_t[N][IB]         2 bits per kept value: value j of a row at byte j / 4, bits
 *                                   2 (j % 4) and up, its position 0..3 within its group of 4;
 *                                   IB = xf_s24_idx_row_bytes(K) (rows padded to 4 bytes, zeros)
 * values first, then the indices, in one buffer of xf_s24_bytes(N, K) bytes (2.125 bytes per
 * weight against 4 for float32: the two kept values of every four plus two 2-bit indices).
 *
 * Products read the compressed form directly: per chunk of 32 inputs, the 16 kept values against
 * the 16 inputs they select (a two-source permute of the activations by the indices, per half of
 * 8 values: vpermt2ps on AVX-512VL, two vpermps and a blend on AVX2). Each output sums in this order, the same at every ISA
 * level, thread split and number of activation rows (bitwise):
 *
 *   acc[0..15] = 0;  for each chunk c (values 16c ..):  acc[j] = fma(v[16c + j], x[k(16c + j)], acc[j])
 *                    (the last chunk's missing lanes add +0)
 *   s8[j] = acc[j] + acc[j + 8];  s4[j] = s8[j] + s8[j + 4];  s2[j] = s4[j] + s4[j + 2];
 *   y = (s2[0] + s2[1]) + bias          (no + when there is no bias)
 *
 * xf_s24_ref is that order in plain C; the dense product with the masked weights is what it
 * computes (tests check it to float tolerance against a double-precision dense product).
 *
 * Many activation rows (prefill, encoders: T > XF_S24_GEMV_MAX_T) go another way: blocks of
 * XF_S24_DENSE_ROWS rows are decompressed into the thread's scratch and multiplied by the dense
 * float32 GEMM (kernels/matmul.h), whose bits are those of the dense product with the masked
 * weights. On CPUs the compressed form saves memory traffic, which bounds decode; it cannot save
 * work in a compute-bound GEMM, where the permutes cost what the skipped multiplies save. */
#ifndef XF_KERNELS_SPARSE24_H
#define XF_KERNELS_SPARSE24_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"

/* Bytes of one row's indices (inline: the kernels' row addressing uses it per row). */
static inline size_t xf_s24_idx_row_bytes(size_t K) { return (K + 31) / 32 * 4; }
/* Bytes of the compressed form of an [N, K] weight (0 if it overflows). */
size_t xf_s24_bytes(size_t N, size_t K);

/* 0 when the indices idx [N][IB] of an [N, K] weight are ones xf_s24_compress can write: in every
 * group of 4 inputs the two kept positions a < b (a 4-bit pattern of 6 valid ones), and the bits
 * past the row's K / 2 values 0. Else 1 with the first bad row and group (a group >= K / 4 is the
 * row's padding). Files hold them (GGUF types S24*): the loader checks them. */
int xf_s24_check_indices(const uint8_t *idx, size_t N, size_t K, size_t *bad_row, size_t *bad_group);

/* Keep, in every group of 4 inputs of every row of W [N, K] (row stride ldw, K % 4 == 0), the 2
 * with the largest score |w| * s[k] (s NULL: |w|, magnitude; s = the inputs' activation L2 norms:
 * Wanda); ties keep the lower input. Writes the compressed form into out (xf_s24_bytes). */
void xf_s24_compress(const float *W, size_t ldw, size_t N, size_t K, const float *s, uint8_t *out);
/* Rows [r0, r1) back as dense floats (the dropped weights 0) into out [(r1 - r0), K]. */
void xf_s24_decompress_rows(const uint8_t *c, size_t N, size_t K, size_t r0, size_t r1, float *out);

/* Y[t, o] for rows t < T and channels o in [n0, n1), single thread, at the ISA level of
 * kernels/cpu.h (AVX-512, AVX2, scalar). */
void xf_s24_gemm_range(const uint8_t *c, size_t N, size_t K, const float *bias, const float *X, size_t ldx, size_t T,
                       float *Y, size_t ldy, size_t n0, size_t n1);
/* Plain C reference of the same sums (compressed input). */
void xf_s24_ref(const uint8_t *c, size_t N, size_t K, const float *bias, const float *X, size_t ldx, size_t T,
                float *Y, size_t ldy);
#define XF_S24_GEMV_MAX_T 8  /* rows up to which products read the compressed form */
#define XF_S24_DENSE_ROWS 32 /* weight rows decompressed at a time above it */

/* Per-thread scratch bytes of the product with many rows (xf_pool_reserve); with less, the
 * compressed-form kernel runs at every T. */
size_t xf_s24_scratch(size_t K);
/* The whole product Y[T, N] = X[T, K] W^T + bias over the pool (channels split between threads;
 * T > XF_S24_GEMV_MAX_T through the dense GEMM when the pool has the scratch). */
void xf_s24_matmul(xf_pool *pool, const uint8_t *c, size_t N, size_t K, const float *bias, const float *X, size_t ldx,
                   size_t T, float *Y, size_t ldy);

/* s24q8: the same with int8 kept values and one float scale per row (value = q x scale, q in
 * [-127, 127], scale = max |value| / 127): 0.625 bytes per weight (plus 4 per row) against 1.06 for
 * dense Q8_0. Layout: scales float[N], values int8[N][V], indices uint8_t[N][IB] (as s24's).
 * Products sum the products q x x in s24's order (floats: q is exact), then y = s x scale
 * (fmaf(s, scale, bias) with a bias) — the same bits at every ISA level. Many rows: dequantized
 * blocks through the dense GEMM, as s24. */
size_t xf_s24q8_bytes(size_t N, size_t K);
/* Quantize the values of an s24 weight [N, K] (xf_s24_compress's form) into out (xf_s24q8_bytes). */
void xf_s24q8_from_s24(const uint8_t *s24, size_t N, size_t K, uint8_t *out);
/* The same with given row scales (codes round(value / scale[o]), clamped): values already on that
 * grid (SparseGPT's joint quantization) decode back exactly. */
void xf_s24q8_from_s24_scaled(const uint8_t *s24, size_t N, size_t K, const float *scale, uint8_t *out);
void xf_s24q8_decompress_rows(const uint8_t *c, size_t N, size_t K, size_t r0, size_t r1, float *out);
void xf_s24q8_gemm_range(const uint8_t *c, size_t N, size_t K, const float *bias, const float *X, size_t ldx,
                         size_t T, float *Y, size_t ldy, size_t n0, size_t n1);
void xf_s24q8_ref(const uint8_t *c, size_t N, size_t K, const float *bias, const float *X, size_t ldx, size_t T,
                  float *Y, size_t ldy);
void xf_s24q8_matmul(xf_pool *pool, const uint8_t *c, size_t N, size_t K, const float *bias, const float *X,
                     size_t ldx, size_t T, float *Y, size_t ldy);

/* ---- integer dots (sparse24_i8.c): s24q8 and s24q4 weights times int8 activations ----
 *
 * Activations (K a multiple of 32) are quantized per group of 32 inputs as kernels/qgemv_q8.h has
 * it (q = round(x / dx), dx = max|x| / 127) and stored q + 128 (unsigned), rows padded to
 * Kp = K rounded up to 128, with the factor of every 8 inputs (dx of their group; 0 past K).
 * For weight row o and activation row t, 16 float lanes a[0..15] = 0, then per chunk of 64 kept
 * values c = 0, 64, ... and lane i (values j = c + 4i .. c + 4i + 3, all in one group of 32 inputs):
 *
 *   p = sum of v[j] x q[k(j)]   (exact int32: the 4 products of one vpdpbusd / vpmaddubsw lane)
 *   a[i] = fma((float)p, f, a[i])     f = dx (s24q8), ws(group of 16 values) x dx (s24q4);
 *                                     lanes past the row's values: p = 0, f = 0
 *   s = the 16 lanes summed as sparse24.h's tree
 *   y = fmaf(s, scale, bias) (s24q8: s x scale without a bias), s + bias (s24q4)
 *
 * so the scalar reference, AVX2 (vpshufb gather, vpmaddubsw with the sign trick) and AVX-512
 * VBMI + VNNI (two vpermb gather, vpdpbusd on unsigned activations from -128 x the values' sum)
 * give the same bits, at every thread split and number of rows: decode and prefill both go this
 * way (T x K activations in thread 0's pool scratch, in passes of as many rows as fit).
 *
 * s24q4: the kept values in 4 bits with a half-precision scale per 16 values (a group of 32
 * inputs; Q4_0's rule: the value of largest magnitude is -8 x scale, others round(v / scale)
 * clamped to [-8, 7]), K a multiple of 32. Layout: scales uint16[N][V / 16], nibbles
 * uint8[N][V / 2] (per chunk of m = 64 values, the last maybe fewer: byte i holds value i + 8 in
 * its low nibble and value i + m / 2 + 8 in its high one), indices [N][IB] as s24's:
 * 0.4375 bytes per weight against 0.5625 for Q4_0 / Q4_K. */
typedef enum xf_s24i_isa { XF_S24I_SCALAR = 0, XF_S24I_AVX2, XF_S24I_VBMI } xf_s24i_isa;
int xf_s24i_supported(xf_s24i_isa isa);
xf_s24i_isa xf_s24i_best(void);
/* Bytes of T quantized activation rows of K inputs; the quantizer (lane order per isa). */
size_t xf_s24i_act_bytes(size_t T, size_t K);
void xf_s24i_act_quantize(xf_s24i_isa isa, const float *X, size_t ldx, size_t T, size_t K, void *act);
/* Y[t, o] for t < T, o in [n0, n1), bits 8 (s24q8) or 4 (s24q4), act quantized for the same isa
 * (XF_S24I_SCALAR: the plain C reference); isa must be supported. */
void xf_s24i_range(xf_s24i_isa isa, int bits, const uint8_t *c, size_t N, size_t K, const float *bias,
                   const void *act, size_t T, float *Y, size_t ldy, size_t n0, size_t n1);
/* The whole product over the pool; 0 (nothing done) when K % 32 != 0 or the pool's scratch cannot
 * hold one quantized activation row (thread 0's holds them). */
int xf_s24i_matmul(xf_pool *pool, int bits, const uint8_t *c, size_t N, size_t K, const float *bias, const float *X,
                   size_t ldx, size_t T, float *Y, size_t ldy);
/* Up to 4 products of `bits`-bit weights on the same activation rows X [T, K] in one pass over the
 * pool (the activations quantized once, the weights' row blocks split between the threads
 * together): Q, K and V, or gate and up, at one fork-join instead of three or two. The same bits as
 * each product alone. 0 (nothing done) as xf_s24i_matmul, or when n is 0 or above 4. */
typedef struct {
    const uint8_t *c; /* the weight [N, K] */
    size_t N;
    const float *bias; /* NULL: none */
    float *Y;          /* Y[t * ldy + o] */
    size_t ldy;
} xf_s24i_op;
int xf_s24i_matmul_many(xf_pool *pool, int bits, size_t n, const xf_s24i_op *ops, const float *X, size_t ldx, size_t T,
                        size_t K);
size_t xf_s24q4_bytes(size_t N, size_t K);
/* Quantize the values of an s24 weight [N, K] (K % 32 == 0) into out (xf_s24q4_bytes). */
void xf_s24q4_from_s24(const uint8_t *s24, size_t N, size_t K, uint8_t *out);
/* The same with given half scales, uint16[N][K / 32] (one per 16 values). */
void xf_s24q4_from_s24_scaled(const uint8_t *s24, size_t N, size_t K, const uint16_t *scales, uint8_t *out);
void xf_s24q4_decompress_rows(const uint8_t *c, size_t N, size_t K, size_t r0, size_t r1, float *out);
/* The whole s24q4 product (integer dots; K % 32 == 0, which xf_format_s24q4_make ensures). */
void xf_s24q4_matmul(xf_pool *pool, const uint8_t *c, size_t N, size_t K, const float *bias, const float *X,
                     size_t ldx, size_t T, float *Y, size_t ldy);

#endif
