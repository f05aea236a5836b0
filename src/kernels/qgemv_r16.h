/* qgemv_r16.h — GGUF Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 weights repacked at load, 16 rows at a time,
 * for integer dots across rows: the decode path of `--weights int8` (qgemv_q8.h's product, bitwise)
 * where one 512-bit vpdpbusd (AVX-512 VNNI) serves 16 output rows, one 256-bit vpdpbusd
 * (AVX-VNNI) or vpmaddubsw + vpmaddwd (AVX2) 8.
 *
 * Layout: the rows in groups of 16 (rows a multiple of 16, cols K a multiple of 32); a group is its
 * K / 32 blocks one after another, block kk of the group holding block kk of each of its 16 rows:
 *   d[16]  the rows' scales (halves, 32 bytes)
 *   m[16]  Q4_1 / Q5_1: the rows' mins (halves, 32 bytes)
 *   qh     Q5_0 / Q5_1: 64 bytes, dword r = row r's fifth bits (bit e for weight e)
 *   q      4- and 5-bit types: 4 x 64 bytes, dword r of part i = bytes 4i .. 4i+3 of row r's 16
 *          nibble bytes (low nibbles: weights 4i .. 4i+3, high: 16 + 4i ..); Q8_0: 8 x 64 bytes,
 *          dword r of part i = row r's quants 4i .. 4i+3, each XOR 0x80 (the quant + 128, unsigned)
 * — the same bytes per block as the file (Q4_0 18, Q4_1 20, Q5_0 22, Q5_1 24, Q8_0 34 per row), so
 * the same size.
 *
 * Products (xf_r16_gemv*): every output exactly as xf_qgemv_q8_ref computes it on the original
 * blocks (the same integers per group of 4 inputs, the same float operations in the same order):
 * the 8 lane sums of a block are 8 vpdpbusd over 16 rows; the offset types (Q4_0: nibble - 8,
 * Q5_0: 5 bits - 16, Q8_0: stored + 128 - 128) start each from -offset x the 4 activations' sum
 * (exact, int32). */
#ifndef XF_KERNELS_QGEMV_R16_H
#define XF_KERNELS_QGEMV_R16_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"

#define XF_R16_ROWS 16

/* 1 for the GGUF types with a repacked layout (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0). */
int xf_r16_has(int qtype);
/* 1 when a [rows, cols] weight of qtype is repacked at load on this CPU: xf_r16_has, rows a
 * multiple of 16, cols of 32, and AVX2 at least in use (xf_i8_isa_best; Q8_0: AVX-512 VNNI;
 * XF_ISA=scalar keeps the file's layout and qgemv_q8.h's kernels). */
int xf_r16_pays(int qtype, size_t rows, size_t cols);
/* Repack W (rows of row_bytes = xf_ggml_row_bytes(qtype, cols) bytes) into P (rows * row_bytes;
 * P == W repacks in place). 0, or -1 when no memory (16 rows' bytes of scratch). */
int xf_r16_pack(int qtype, const void *W, size_t rows, size_t cols, void *P);
/* Rows [r0, r1) of P back as the file's blocks, into out ((r1 - r0) * row_bytes bytes). */
void xf_r16_unpack_rows(int qtype, const void *P, size_t cols, size_t r0, size_t r1, void *out);
/* Rows [r0, r1) of P as floats (bitwise xf_qdequant_rows of the file's blocks). */
void xf_r16_dequant_rows(int qtype, const void *P, size_t cols, size_t r0, size_t r1, float *out);

/* Y[t, o] for t < T and the rows of groups [g0, g1) (rows 16 g0 .. 16 g1 - 1) from activations act
 * (xf_q8act_quantize(qtype) of T rows) and corr (xf_r16_corr of them), single thread. simd 0: the
 * scalar code; 1: AVX2; 2: AVX-512 VNNI; 3: AVX-VNNI (the CPU must have them). Bitwise equal. */
/* The simd xf_r16_matmul uses on this CPU (XF_ISA respected). */
int xf_r16_simd(void);
void xf_r16_gemv_isa(int simd, int qtype, const void *P, const float *bias, const void *act, const int32_t *corr,
                     size_t T, float *Y, size_t ldy, size_t g0, size_t g1, size_t K);
/* The per-4-input starting values of the offset types: corr[t * K / 4 + j] = -offset x the sum of
 * quantized activations 4j .. 4j+3 of row t (0 for Q4_1). */
void xf_r16_corr(int qtype, const void *act, size_t T, size_t K, int32_t *corr);
/* Bytes of pool scratch (each thread) xf_r16_matmul needs for rows of K inputs, T <= 32 with int8. */
size_t xf_r16_scratch(int qtype, size_t K);
/* The whole product Y[T, N] = X W^T + bias over the pool (its scratch reserved for
 * xf_r16_scratch): int8 1 — activations quantized as
 * qgemv_q8.h does (bitwise xf_qmatmul_q8 on the file's blocks); 0 — float activations through
 * panels of 32 dequantized rows and xf_gemm_f32_nt (bitwise xf_qmatmul's GEMM path). */
void xf_r16_matmul(xf_pool *pool, int qtype, const void *P, const float *bias, const float *X, size_t ldx, float *Y,
                   size_t ldy, size_t T, size_t N, size_t K, int int8);

/* One product of xf_r16_matmul_many: weight P (qtype, N rows) into Y (row stride ldy), + bias. */
typedef struct xf_r16_op {
    int qtype;
    const void *P;
    const float *bias;
    float *Y;
    size_t ldy, N;
} xf_r16_op;
/* Several int8 products of the same activations X [T, K] (every weight K inputs; 4 at a time) in
 * one pass over the pool (decode's Q / K / V, gate / up: one hand-off to the threads instead of
 * several, the activations quantized once per thread); each output bitwise xf_r16_matmul's. */
void xf_r16_matmul_many(xf_pool *pool, size_t n, const xf_r16_op *ops, const float *X, size_t ldx, size_t T, size_t K);

#endif
