/* gemm_panel.h — the driver shared by the GEMMs whose weights are packed in panels of 32 output
 * channels and whose activations are converted per row before the product (int8: kernels/gemm_i8.h,
 * bf16: kernels/gemm_bf16.h). A kernel is described by a table entry (xf_panel_kernel): how one
 * activation row is prepared (quantized to int8 / int16, rounded to bf16 pairs), how many rows its
 * micro-kernel takes, and the micro-kernel. The driver prepares rows a block at a time into the
 * caller's scratch, runs the micro-kernel over the panels of output channels [n0, n1) (a panel cut
 * by n0 goes through a tile), and splits a product between the pool's threads (rows when there are
 * enough, else channels in whole panels). Every output element is computed by one micro-kernel call
 * whatever the split, so results do not depend on it. */
#ifndef XF_KERNELS_GEMM_PANEL_H
#define XF_KERNELS_GEMM_PANEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"

#define XF_PANEL_NR 32 /* output channels per packed panel */
#define XF_PANEL_MR 32 /* most rows a micro-kernel takes (the AMX kernels' two tiles of 16) */

/* Y[i, 0..nr) for prepared rows i < mr (row stride ldq bytes; G group scales sx and sums xs per row,
 * G = 0 when the kernel has none) against one packed panel B of K inputs, scales sw and bias (NULL
 * when none) for the panel's channels. */
typedef void (*xf_panel_micro)(size_t mr, const void *Xq, size_t ldq, const float *sx, const int32_t *xs, size_t G,
                               const uint8_t *B, size_t K, const float *sw, const float *bias, float *Y, size_t ldy,
                               size_t nr);

typedef struct xf_panel_kernel {
    const char *name;
    xf_panel_micro micro;
    size_t mr;                          /* rows per micro-kernel call (at most XF_PANEL_MR) */
    size_t (*row_bytes)(size_t K);      /* bytes of one prepared row */
    size_t (*groups)(size_t K);         /* scale groups per row (NULL: none) */
    size_t (*panel_bytes)(size_t K);    /* bytes of one packed panel */
    /* prepare activation row x[K] into row (row_bytes), its group scales and sums */
    void (*prepare)(const float *x, size_t K, void *row, float *sx, int32_t *xs);
} xf_panel_kernel;

/* One product of a batch sharing its activations (xf_panel_matmul_many): packed weights of N
 * channels, their scales and bias (NULL when none), output Y [T, N] of row stride ldy. */
typedef struct xf_panel_op {
    const uint8_t *packed;
    const float *scale, *bias;
    float *Y;
    size_t ldy, N;
} xf_panel_op;
#define XF_PANEL_MANY 4 /* products per batch at most */

/* Rows [0, T) x output channels [n0, n1) with kernel pk (single thread). scratch: bytes for the
 * prepared rows (NULL: a 64 KiB stack buffer; rows too wide for either: a heap buffer, and NaN
 * outputs if that cannot be had). */
void xf_panel_gemm(const xf_panel_kernel *pk, const float *X, size_t ldx, size_t T, const uint8_t *packed,
                   const float *scale, const float *bias, float *Y, size_t ldy, size_t n0, size_t n1, size_t K,
                   void *scratch, size_t scratch_bytes);
/* Per-thread scratch bytes with which kernel pk never needs more for rows of K inputs (at least
 * the 64 KiB a NULL scratch gets). */
size_t xf_panel_scratch_bytes(const xf_panel_kernel *pk, size_t K);
/* The whole product Y[T, N] over the pool (each thread with its part's pool scratch). */
void xf_panel_matmul(xf_pool *pool, const xf_panel_kernel *pk, const float *X, size_t ldx, size_t T,
                     const uint8_t *packed, const float *scale, const float *bias, float *Y, size_t ldy, size_t N,
                     size_t K);
/* n products of the same rows X [T, K] (Q, K and V; gate and up): each block of rows prepared
 * (quantized) once for all of them, rows split between the threads; with few rows (or n >
 * XF_PANEL_MANY) one xf_panel_matmul each. The bits of n xf_panel_matmul calls either way. */
void xf_panel_matmul_many(xf_pool *pool, const xf_panel_kernel *pk, size_t n, const xf_panel_op *ops, const float *X,
                          size_t ldx, size_t T, size_t K);

#endif
