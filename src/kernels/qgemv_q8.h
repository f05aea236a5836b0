/* qgemv_q8.h — GEMV with GGUF quantized weights (every type of qmatmul.h but FP8S) and activations
 * quantized to 8 bits the way ggml (llama.cpp's CPU backend, x86) quantizes them for each weight
 * type: the fast decode path of `--weights int8` on GGUF files. Not equal to the float path of
 * qmatmul.h (activation rounding), so never the default.
 *
 * Activations (xf_q8act_quantize, by weight type), each row x[K]:
 *  - 32-weight blocks (Q8_0, Q4_0, Q5_0, MXFP4, FP4S: ggml's Q8_0; Q4_1, Q5_1: Q8_1), per group of 32:
 *    a = max|x|, d = a / 127, id = a ? 127 / a : 0, q = round-to-nearest-even(x * id) (float
 *    product, then rounded), dx = (float)half(d), and sx = (float)half(d * (float)sum q) (Q8_1's s;
 *    kept for every 32-type, read by those with a min). ggml's x86 quantize_row_q8_0 / _q8_1.
 *  - K types (Q2_K .. Q6_K: ggml's Q8_K), per superblock of 256: m = the first element of largest
 *    |x| (signed), all 0 when m == 0; else is = -127 / m, q = min(127, round-to-even(is * x)),
 *    dx = 1 / is (negative when m > 0: q is then -x / |dx|, the product is unchanged), and the
 *    int16 sums bs[g] of q over each 16 (g = 0..15). ggml's quantize_row_q8_K_ref.
 *
 * Products, for weight row o and activation row t (every integer below is exact in int32):
 *  - 32-weight types: each group of 32 as integers w[0..31] with a factor f (and, Q4_1 / Q5_1, a
 *    min m): Q8_0 the quant, Q4_0 nibble - 8, Q5_0 5 bits - 16, Q4_1 / Q5_1 the bits, FP4S its
 *    format's integers (quants.h), f the block's scale. Eight float lanes l[0..7] and c, all 0,
 *    then block by block:
 *      p[i] = sum of w[e] q[e] over e = 4i .. 4i+3
 *      l[i] = fma((float)p[i], f * dx, l[i])          i = 0..7
 *      Q4_1, Q5_1:  c = fma(m, sx, c)
 *  - K types: each superblock as integers w[0..255] (Q4_K / Q5_K the bits, Q6_K 6 bits - 32, Q3_K
 *    its 3 bits - 4, Q2_K 2 bits), integer scales S[g] and mins M[g] per group g of 16 (Q4_K / Q5_K:
 *    sc, mn of the 32 that holds g; Q6_K: the int8 scale; Q3_K: the 6-bit scale - 32; Q2_K:
 *    scale & 15, scale >> 4; no mins but Q4_K, Q5_K, Q2_K), d and dmin the superblock's halves:
 *      p[i] = sum over j = 0..7 of S[2j + i / 4] * (sum of w[e] q[e] over e = 32j + 4i .. +3)
 *      mm   = sum over g of M[g] bs[g]
 *      l[i] = fma((float)p[i], d * dx, l[i])           i = 0..7
 *      with mins: c = fma((float)mm, -(dmin * dx), c)
 *    (ggml's integer superblock dot: one float multiply-add per superblock.)
 *  Y[t, o] = (((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7))) + c + bias[o]
 *
 * Every ISA (scalar reference, AVX2, AVX-512 VNNI) and every split over threads gives the same
 * bits. Not bitwise llama.cpp (its lanes and repacked kernels sum in other orders). */
#ifndef XF_KERNELS_QGEMV_Q8_H
#define XF_KERNELS_QGEMV_Q8_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "kernels/gemm_i8.h"

#define XF_Q8A_BLOCK 32 /* activation elements per scale of the 32-weight types (256: K types) */

/* The end of an output's accumulation (the spec above): the eight lanes in a fixed order, then c. */
static inline float xf_q8_finish(const float l[8], float c) {
    return (((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))) + c;
}

/* 1 if weights of ggml type qtype have kernels here. */
int xf_qgemv_q8_has(int qtype);
/* Bytes of a quantized block of T activation rows of K elements (any weight type). */
size_t xf_q8act_bytes(size_t T, size_t K);
/* The parts of act (T rows of K for weights of qtype): the quants q [T][K], the scales d (per 32:
 * [T][K / 32]; K types per 256) and, for the 32-weight types, Q8_1's sums sx [T][K / 32] (*s NULL
 * for the K types). */
void xf_q8act_parts(int qtype, const void *act, size_t T, size_t K, const int8_t **q, const float **d,
                    const float **s);
/* Quantize X [T, K] (row stride ldx) for weights of type qtype (K a multiple of the type's block)
 * into act (xf_q8act_bytes(T, K) bytes, 4-byte aligned). */
void xf_q8act_quantize(int qtype, const float *X, size_t ldx, size_t T, size_t K, void *act);
/* The same with the scalar code (simd 0) or the best the CPU runs (1: AVX2 + F16C): bitwise equal. */
void xf_q8act_quantize_isa(int simd, int qtype, const float *X, size_t ldx, size_t T, size_t K, void *act);

/* Y[t, o] for t < T, o in [n0, n1) from quantized activations act (xf_q8act_quantize(qtype) of T rows),
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

/* The integers of GGUF blocks as the products above read them (scalar): sub-block j (0 for the
 * 32-weight types) of the block at b as q[32] with w[e] = f[e / 16] q[e] + m[e / 16]; a K
 * superblock's integer scales S[g], mins M[g] per 16 (0 without mins) and d, dmin (0 without). */
void xf_q8_decode_sub(int qtype, const uint8_t *b, int j, int q[32], float f[2], float m[2]);
void xf_q8_kscales(int qtype, const uint8_t *b, int S[16], int M[16], float *d, float *dmin);
/* The parts of act quantized for a K type (xf_q8act_quantize of T rows): q [T][K], d [T][K / 256],
 * bs [T][K / 16] (the sums of q over each 16). */
void xf_q8act_kparts(const void *act, size_t T, size_t K, const int8_t **q, const float **d, const int16_t **bs);

/* The int8-activation GEMM of the K types (Q2_K .. Q6_K): products of more rows than the GEMV's
 * limit under `--weights int8` (prefill). The activations are the GEMV's (Q8_K: xf_q8act_quantize),
 * each superblock's product is summed whole in int32 (the GEMV's 8 lanes as one: exact), the
 * integer weight times its sub-block's scale taken as one int16 (|S w| < 2^15), then, for weight
 * row o and activation row t, superblock by superblock from y = 0:
 *   P  = sum over e of (S[e / 16] w[e]) q[e]         mm = sum over g of M[g] bs[g]
 *   y  = fma((float)P, d * dx, y)                     with mins: y = fma((float)mm, (-dmin) * dx, y)
 *   Y[t, o] = y + bias[o]
 * Every ISA (scalar reference, AVX2, AVX-VNNI, AVX-512 VNNI: vpmaddwd / vpdpwssd over activation
 * rows in the vector lanes; for Q4_K / Q5_K vpmaddubsw / vpdpbusd on the bytes, the same integers) and every split over threads gives the same bits, and each row's result
 * depends on that row alone. Not the GEMV's bits (its 8 float lanes); llama.cpp sums in other
 * orders too. */
int xf_qgemm_q8_has(int qtype);
/* Per-thread pool scratch bytes the threaded product wants for K (less: fewer activation rows a
 * pass; too little for one pass: the float path). */
size_t xf_qgemm_q8_scratch(size_t K);
/* Plain scalar reference: Y[t, o] for t < T, o in [n0, n1) from act (xf_q8act_quantize of T rows). */
void xf_qgemm_q8_ref(int qtype, const void *W, size_t row_bytes, const float *bias, const void *act, size_t T,
                     float *Y, size_t ldy, size_t n0, size_t n1, size_t K);
/* The whole product Y[T, N] over the pool's threads with the given ISA's kernel (XF_I8_GENERIC: the
 * reference's loops; AMX: the VNNI kernel). Falls back to xf_qmatmul (float activations) for a type
 * without this GEMM, K not a multiple of 256 or too little scratch for 32 rows. */
void xf_qgemm_q8_isa(xf_pool *pool, xf_i8_isa isa, int qtype, const void *W, size_t row_bytes, const float *bias,
                     const float *X, size_t ldx, float *Y, size_t ldy, size_t T, size_t N, size_t K);
/* The same with the best ISA of this CPU. */
void xf_qgemm_q8(xf_pool *pool, int qtype, const void *W, size_t row_bytes, const float *bias, const float *X,
                 size_t ldx, float *Y, size_t ldy, size_t T, size_t N, size_t K);

#endif
