/* qgemv_q8.h — GEMV with GGUF quantized weights (every type of qmatmul.h but FP8S) and activations
 * quantized to 8 bits per block of 32 (llama.cpp's numerics, with finer activation scales for the
 * K types): the fast decode path of `--weights int8` on GGUF files. Not equal to the float path of
 * qmatmul.h (activation rounding), so never the default.
 *
 * Activations: each row x[K] (K a multiple of 32) becomes, per group g of 32, int8 q (round to
 * nearest even of x / dx, |q| <= 127), dx = max|x| / 127 and s = sum of q (gemm_i8.h's quantizer
 * with groups of 32). Weights: each group of 32 (a block, or sub-block j of a K superblock) as
 * integers w[0..31] with a factor per 16 and, for some types, a min, so that the weight is
 * f[e / 16] w[e] + m[e / 16] (qgemv_q8.c's ref_decode: Q8_0 the quant; FP4S its format's integer
 * (quants.h) with its scale; Q4_0 nibble - 8, Q5_0
 * 5 bits - 16, Q4_1 / Q5_1 the bits with the block's min; Q4_K / Q5_K the bits with d sc and
 * -dmin mn; Q6_K 6 bits - 32, Q3_K its 3 bits - 4, both with d scale per 16; Q2_K 2 bits with
 * d (sc & 15) and -dmin (sc >> 4) per 16). For weight row o and activation row t, eight float lanes
 * l[0..7] and one c, all 0, then group by group in k order:
 *
 *   p[i] = sum of w[e] q[e] over e = 4i .. 4i+3        (one int32 lane of vpdpbusd / vpmaddubsw)
 *   l[i] = fma((float)p[i], f[i / 4] * dx, l[i])        for i = 0..7
 *   one min per 32 (Q4_1, Q5_1, Q4_K, Q5_K):  c = fma(m * dx, (float)s, c)
 *   Q2_K:  c = fma(m[0] * dx, (float)s0, c), c = fma(m[1] * dx, (float)s1, c)   (s0, s1: sums of 16)
 *   Y[t, o] = (((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7))) + c + bias[o]
 *
 * The integer lanes are exact, so every ISA (scalar reference, AVX2, AVX-512 VNNI)
 * and every split over threads gives the same bits. */
#ifndef XF_KERNELS_QGEMV_Q8_H
#define XF_KERNELS_QGEMV_Q8_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "kernels/gemm_i8.h"

#define XF_Q8A_BLOCK 32 /* activation elements per scale */

/* 1 if weights of ggml type qtype have kernels here. */
int xf_qgemv_q8_has(int qtype);
/* Bytes of a quantized block of T activation rows of K elements. */
size_t xf_q8act_bytes(size_t T, size_t K);
/* Quantize X [T, K] (row stride ldx) into act (xf_q8act_bytes(T, K) bytes, 4-byte aligned). */
void xf_q8act_quantize(const float *X, size_t ldx, size_t T, size_t K, void *act);

/* Y[t, o] for t < T, o in [n0, n1) from quantized activations act (xf_q8act_quantize of T rows),
 * single thread, with one ISA's kernel (XF_I8_GENERIC: the scalar reference). isa must be
 * supported (xf_i8_isa_supported). */
void xf_qgemv_q8_isa(xf_i8_isa isa, int qtype, const void *W, size_t row_bytes, const float *bias, const void *act,
                     size_t T, float *Y, size_t ldy, size_t n0, size_t n1, size_t K);
/* Plain scalar reference of the same product. */
void xf_qgemv_q8_ref(int qtype, const void *W, size_t row_bytes, const float *bias, const void *act, size_t T,
                     float *Y, size_t ldy, size_t n0, size_t n1, size_t K);
/* The whole product Y[T, N] over the pool's threads, activations quantized once (into thread 0's
 * pool scratch) with the best ISA. Falls back to xf_qmatmul (float activations) for a type without
 * kernels here, K not a multiple of 32 or too little scratch. */
void xf_qmatmul_q8(xf_pool *pool, int qtype, const void *W, size_t row_bytes, const float *bias, const float *X,
                   size_t ldx, float *Y, size_t ldy, size_t T, size_t N, size_t K);

#endif
