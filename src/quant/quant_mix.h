/* quant_mix.h — mixed precision: one standard ggml type per weight matrix, chosen from a ladder of
 * types (Q4_0 ... Q8_0) so that the bits per weight over the matrices meet a target
 * (xf_save_params.target_bpw, docs/QUANTIZATION.md "Mixed precision").
 *
 *   1. xf_mix_errors: for every matrix and every ladder type whose block divides its width, the
 *      activation-weighted quantization error  E = sum_rows sum_j imp[j] (w_j - q(w)_j)^2  (imp:
 *      the calibration inputs' sums of squares, xf_model_input_sq) and the signal
 *      S = sum_rows sum_j imp[j] w_j^2 — E / S is the matrix's output noise-to-signal ratio on the
 *      calibration activations (cross terms of X^T X dropped, as for the searched Q4_0);
 *   2. xf_mix_allocate: every matrix starts at its cheapest type; upgrades along each matrix's lower
 *      convex hull of (bits, E / S) are taken in the order of error removed per extra bit, as long as
 *      they fit in the budget (a greedy multiple-choice knapsack). The upgrades taken before the
 *      first that does not fit (the "core": every upgrade whose error removed per bit is above a
 *      threshold) grow with the target; those after it fill the leftover with whatever still fits.
 *      The fill is what brings the result within a small fraction of a bit of the target, and it
 *      is not monotone: a matrix upgraded by the fill at one target can stay lower at a slightly
 *      higher target where a larger upgrade starts to fit. No allocation can be both: once one
 *      upgrade costs more than the precision wanted (Q5_1 -> Q8_0 of an FFN matrix of
 *      all-MiniLM-L6-v2 is 0.14 bpw of its blocks), types that only ever rise jump by that much at
 *      the target where it is taken and miss the targets just below by as much. What holds: at
 *      any higher target, every matrix has at least the bits of its core at a lower one.
 */
#ifndef XF_QUANT_MIX_H
#define XF_QUANT_MIX_H

#include <stddef.h>

#include "core/threadpool.h"

#define XF_MIX_MAX_TYPES 12
/* The most candidates xf_save_params.max_ppl_increase measures (the largest and smallest mixtures,
 * then bisection: a resolution of (hi - lo) / 2^7 bits per weight). */
#define XF_MIX_SEARCH_EVALS 9

/* The types a mixture may use, cheapest first. */
typedef struct xf_mix_ladder {
    int n;
    int type[XF_MIX_MAX_TYPES];   /* ggml type ids */
    double bits[XF_MIX_MAX_TYPES]; /* bits per weight of each */
    size_t block[XF_MIX_MAX_TYPES];
} xf_mix_ladder;

/* One weight matrix of the mixture. */
typedef struct xf_mix_tensor {
    const char *name;
    size_t rows, cols;
    const double *imp; /* cols input weights (sums of squares over calibration tokens), or NULL: all 1 */
    /* rows [r0, r1) of the matrix as floats into out; called from several threads at once */
    void (*get_rows)(const void *user, size_t r0, size_t r1, float *out);
    const void *user;
    double err[XF_MIX_MAX_TYPES]; /* xf_mix_errors: E per ladder type, < 0 where the type does not fit */
    double signal;                /* xf_mix_errors: S */
    int choice;                   /* xf_mix_allocate: ladder index, or -1: no ladder type fits (F16) */
    int core;                     /* xf_mix_allocate: the choice before the fill (see below) */
} xf_mix_tensor;

/* The ladder of a comma-separated list of type names (NULL or "": the default, every type
 * xf_quantizer writes: MXFP4, Q4_0, Q4_K, Q4_1, Q5_0, Q5_K, Q5_1, Q6_K, Q8_0). An unknown or
 * repeated name is XF_ERR_INVALID_ARG naming it. */
xf_status xf_mix_ladder_parse(const char *list, xf_mix_ladder *out);

/* Whether ladder type k fits a matrix of width cols (its block divides cols). */
int xf_mix_fits(const xf_mix_ladder *L, int k, size_t cols);

/* The lowest and highest bits per weight the ladder reaches over the n matrices (a matrix no ladder
 * type fits counts as F16, 16 bits, in both). */
void xf_mix_range(const xf_mix_tensor *t, size_t n, const xf_mix_ladder *L, double *lo, double *hi);

/* Fill err[] and signal of every matrix (quantize and dequantize each with each fitting type).
 * pool may be NULL (one thread). progress (may be NULL) is called after each matrix. */
xf_status xf_mix_errors(xf_mix_tensor *t, size_t n, const xf_mix_ladder *L, xf_pool *pool,
                        void (*progress)(void *user, size_t done, size_t total), void *user);

/* Choose t[i].choice to meet target bits per weight over the n matrices (weighted by their sizes),
 * from err[] / signal: XF_ERR_INVALID_ARG when the target is outside xf_mix_range. *bpw receives
 * the bits per weight reached (never above the target). */
xf_status xf_mix_allocate(xf_mix_tensor *t, size_t n, const xf_mix_ladder *L, double target, double *bpw);

#endif
