/* qmatmul.h — Y[T, N] = X[T, K] . W^T (+ bias) with W [N, K] stored as rows of GGUF / ggml
 * quantized blocks (layouts in quants.h), row r starting r * row_bytes into W; X and Y float32
 * (row strides ldx, ldy), bias [N] or NULL. Activations are NOT quantized.
 *
 * Every weight is decoded to exactly the float quants.c's reference dequantization gives (the
 * scale products of these formats are exact in fp32, so fusing them into FMAs changes nothing),
 * and each output element is summed in one fixed order (one 8-lane accumulator over k, fixed
 * horizontal sum, then + bias), so results never depend on how rows are split between threads.
 * The GEMM path (dequantized panels through xf_gemm_f32_nt) sums in the GEMM's own order, so the
 * two paths agree within rounding, not bitwise.
 *
 * Types: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, MXFP4, FP4S, FP8S (xfmr's). K must be
 * a multiple of the type's block size. */
#ifndef XF_KERNELS_QMATMUL_H
#define XF_KERNELS_QMATMUL_H

#include <stddef.h>

#include "core/threadpool.h"

/* Above xf_qmatmul_max_t(qtype, 0) activation rows xf_qmatmul takes the GEMM path (dequantized
 * panels of W), at most this many for any type. */
#define XF_QMM_GEMV_MAX_T 32
/* Threads split the output rows in multiples of this many: whole 8-row passes of the decode GEMV
 * (a range cut elsewhere would leave rows to its one-row, latency-bound tail) and a 32-byte run of
 * outputs. */
#define XF_QMM_SPLIT 8
/* Weight rows per dequantized panel of the GEMM path. */
#define XF_QMM_PANEL 32

/* 1 if ggml type id qtype has kernels here. */
int xf_qmatmul_has(int qtype);
/* The most activation rows for which a product with qtype weights is faster through a GEMV than
 * through the GEMM path: the float GEMV (int8 0) or the int8-activation GEMV of qgemv_q8.h (int8 1);
 * 0 for a type without kernels. Measured per type on SmolLM2's FFN shapes, weights streamed from
 * memory, 1 thread (`bench_qgemv --crossover`, BENCHMARKS.md). */
size_t xf_qmatmul_max_t(int qtype, int int8);
/* Bytes of per-thread pool scratch (xf_pool_reserve) the GEMM path needs for rows of K elements. */
size_t xf_qmatmul_scratch(size_t K);

/* GEMV path, single thread, output columns [n0, n1) (any T; W is streamed once per 4 rows of X). */
void xf_qgemv(int qtype, const void *W, size_t row_bytes, const float *bias, const float *X, size_t ldx,
              float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K);
/* Floats of scratch the several-row kernel packs a pass's activation rows into (xf_qgemv_avx2_rows'
 * ws): 8 rows of K. */
#define XF_QAVX_WS_FLOATS(K) (8 * (size_t)(K))
/* xf_qgemv with scratch for the several-row kernel (ws: NULL or ws_bytes >= XF_QAVX_WS_FLOATS(K)
 * floats, not overlapping X; same results, faster for Q4_0 / Q4_1 with AVX-512). */
void xf_qgemv_ws(int qtype, const void *W, size_t row_bytes, const float *bias, const float *X, size_t ldx,
                 float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K, float *ws, size_t ws_bytes);
/* xf_qgemv through qmatmul.c's generic decoders (for Q8_0 too), with Q4_0 / Q4_1 weights decoded
 * through a 16-entry table of the block's values (table 1: one two-source permute per 8 weights;
 * xf_qgemv does so where AVX-512VL makes that one instruction) or arithmetically (table 0). Both
 * give the same floats, so the same results. */
void xf_qgemv_decode(int qtype, int table, const void *W, size_t row_bytes, const float *bias, const float *X,
                     size_t ldx, float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K);
/* xf_qgemv's path for one activation row (T = 1, the decode step) of weights of any type above on
 * AVX2 + FMA machines (qgemv_avx2.c), bitwise the generic result. isa: XF_QAVX_BEST (AVX-512VL
 * where the CPU has it, else AVX2), XF_QAVX_2 or XF_QAVX_512 (for tests). Returns 0, doing
 * nothing, for other types or where the CPU lacks the instructions. */
enum { XF_QAVX_BEST, XF_QAVX_2, XF_QAVX_512 };
int xf_qgemv_avx2(int qtype, int isa, const void *W, size_t row_bytes, const float *bias, const float *X, float *Y,
                  size_t n0, size_t n1, size_t K);
/* The same for T >= 2 activation rows (the decode steps of several sessions, or a short prompt),
 * ldx / ldy apart, with Q8_0, Q4_0, Q4_1, Q5_0, Q4_K or Q6_K weights: each weight decoded once per
 * pass of up to 8 rows (not once per row), every output bitwise what xf_qgemv_avx2 gives for its
 * row alone (the same decoded floats, the same FMA chain and horizontal sum per output). ws: NULL,
 * or XF_QAVX_WS_FLOATS(K) floats of scratch (not overlapping X) where the AVX-512 kernel of Q4_0
 * and Q4_1 packs the rows two by two into 512-bit vectors (same results). Returns 0, doing nothing,
 * for T < 2, other types, or as xf_qgemv_avx2 does. */
int xf_qgemv_avx2_rows(int qtype, int isa, const void *W, size_t row_bytes, const float *bias, const float *X,
                       size_t ldx, float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K, float *ws);
/* Scalar reference of the same product: quants.c's xf_dot_*_f32_ref per element, + bias. */
void xf_qgemv_ref(int qtype, const void *W, size_t row_bytes, const float *bias, const float *X, size_t ldx,
                  float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K);
/* Rows [r0, r1) of W dequantized into out [(r1 - r0), K] (vectorized; bitwise equal to the
 * quants.c reference dequantization). */
void xf_qdequant_rows(int qtype, const void *W, size_t row_bytes, size_t r0, size_t r1, size_t K, float *out);
/* GEMM path, single thread, output columns [n0, n1): panels of XF_QMM_PANEL rows dequantized into
 * scratch (XF_QMM_PANEL * K floats), each multiplied by xf_gemm_f32_nt. */
void xf_qgemm(int qtype, const void *W, size_t row_bytes, const float *bias, const float *X, size_t ldx,
              float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K, float *scratch);
/* The whole product, output columns in contiguous runs over the pool's threads: GEMV for
 * T <= xf_qmatmul_max_t(qtype, 0) (or when the pool holds too little scratch), GEMM otherwise. */
void xf_qmatmul(xf_pool *pool, int qtype, const void *W, size_t row_bytes, const float *bias, const float *X,
                size_t ldx, float *Y, size_t ldy, size_t T, size_t N, size_t K);
/* xf_qmatmul's T rows with its path chosen for path_t >= T rows (each row is computed on its own:
 * the result is those rows of a product of path_t rows). */
void xf_qmatmul_as(xf_pool *pool, int qtype, const void *W, size_t row_bytes, const float *bias, const float *X,
                   size_t ldx, float *Y, size_t ldy, size_t T, size_t path_t, size_t N, size_t K);

#endif
