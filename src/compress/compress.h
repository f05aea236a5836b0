/* compress.h — the structural compression methods behind xf_model_compress (compress.c), one file
 * each, and what they share: rewriting a linear weight to a subset of its rows / columns, and
 * per-layer fractions. Each method rewrites the plan (model/plan.h) and its weights, never the
 * forward code (docs/PLAN.md, docs/COMPRESSION.md). */
#ifndef XF_COMPRESS_COMPRESS_H
#define XF_COMPRESS_COMPRESS_H

#include "model/model.h"

/* Progress of one method: stage name, steps done of total. */
typedef struct xf_cmp_ctx {
    xf_model *m;
    const xf_compress_params *p;
    const char *stage;
} xf_cmp_ctx;

void xf_cmp_progress(const xf_cmp_ctx *c, size_t done, size_t total);

/* The fraction of layer l: per-layer list when given, else the one value. */
static inline float xf_cmp_layer_frac(float one, const float *list, size_t n, size_t l) {
    return list && l < n ? list[l] : one;
}

/* Keep the rows (keep_rows[r] != 0; NULL: all) and columns (keep_cols; NULL: all) of l's weight and
 * the kept rows of its bias: the new weight is made from float rows in the model's weight format
 * (xf_model_prepare_linear) and its products' scratch reserved. */
xf_status xf_cmp_select(xf_model *m, xf_linear_w *l, const unsigned char *keep_rows, const unsigned char *keep_cols);

/* Replace l's weight (bias unchanged unless new_b) by rows x cols floats `dense` (copied). */
xf_status xf_cmp_set_linear(xf_model *m, xf_linear_w *l, const float *dense, size_t rows, size_t cols, const float *new_b);

/* A buffer of n floats owned by the model's weight set (freed with it), or NULL (error set). */
float *xf_cmp_floats(xf_model *m, size_t n);

/* FFN neuron importance of every layer over the calibration text (ffn_slice.c): per layer, width
 * doubles mean|a_j| x ||W_down[:, j]|| (sums, not means: the same ranking); *out to free(). */
xf_status xf_cmp_ffn_importance(xf_cmp_ctx *c, double **out);
/* Neurons of layer l (of width) kept at its ffn_keep fraction: round(f x width), at least 1. */
size_t xf_cmp_ffn_kept(const xf_cmp_ctx *c, size_t l, size_t width);

/* Eigen-decomposition of the symmetric n x n matrix V (row-major, both triangles; eigen.c): on
 * return w holds the eigenvalues in ascending order and column k of V the eigenvector of w[k]. */
xf_status xf_cmp_eigen_sym(size_t n, double *V, double *w);
/* Rank of a low-rank [m, n] FFN matrix of layer l (lowrank.c): lowrank_rank, or the parameters of
 * ffn_keep's slice, round(f m n / (m + n)); between 1 and min(m, n). */
size_t xf_cmp_lowrank_rank(const xf_cmp_ctx *c, size_t l, size_t m, size_t n);

/* SparseGPT on one weight (sparsegpt.c): W [R, C] row-major (pruned and updated in place), H the
 * inputs' Gram matrix X X^T [C, C] (upper triangle read, damped here; destroyed); n24: 2:4 (C and
 * block multiples of 4), else the unstructured ratio in (0, 1); block: columns per lazy batch
 * (0: XF_SPARSEGPT_BLOCK). */
#define XF_SPARSEGPT_BLOCK 128
xf_status xf_sparsegpt_prune(double *W, size_t R, size_t C, double *H, int n24, double ratio, size_t block);
/* The same, 2:4 with the kept values quantized in the update (the paper's joint method, as GPTQ):
 * qbits 8 — a scale per row (max |w| / 127 of the dense row), scales float[R]; 4 — a half scale
 * per group of 32 inputs by Q4_0's rule on the group's kept values when its first column comes up
 * (its 2:4 masks chosen then, for all 8 groups of 4), scales uint16[R][C / 32] (C, block multiples
 * of 32). Each kept weight is set to its grid value as its column comes up and the rounding error
 * is spread over the later columns like a pruned weight's (err = (w - q) / U_ii). W ends on the
 * grid: the s24q8 / s24q4 weights made with these scales (xf_s24q8_from_s24_scaled, ...) decode
 * to exactly its values. qbits 0: xf_sparsegpt_prune. */
xf_status xf_sparsegpt_prune_q(double *W, size_t R, size_t C, double *H, int n24, double ratio, size_t block, int qbits,
                               void *scales);

/* The methods (one file each). */
xf_status xf_cmp_heads(xf_cmp_ctx *c);   /* prune_heads.c */
xf_status xf_cmp_ffn(xf_cmp_ctx *c);     /* ffn_slice.c */
xf_status xf_cmp_lowrank(xf_cmp_ctx *c); /* lowrank.c */
xf_status xf_cmp_rmsnorm(xf_cmp_ctx *c); /* rmsnorm.c */

#endif
