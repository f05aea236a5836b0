/* layers.h — the building blocks forward.c composes: linear layers through the weight-format
 * table, embeddings, norms, rotary embedding of rows at given positions, attention over a set of
 * problems, FFNs. Work is split over the thread pool by rows or output columns, and every output
 * element is computed the same way whatever the split (results do not depend on thread counts).
 *
 * Activations are "packed": the tokens of all sequences of a batch are consecutive rows of one
 * [T, hidden] matrix, sequence s owning rows [off[s], off[s+1]); nothing is padded. */
#ifndef XF_MODEL_LAYERS_H
#define XF_MODEL_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "kernels/attention.h"
#include "model/plan.h"

/* Y[T, out] = X[T, in] W^T + b, with the kernels of the weight's format (formats.h). */
void xf_linear(xf_pool *pool, const xf_linear_w *l, const float *X, size_t T, float *Y);
/* xf_linear's T rows as a product of path_t >= T rows would compute them (the format's mm_as);
 * the natural product of T rows for a format without mm_as (xf_linear_exact_as says which). */
void xf_linear_as(xf_pool *pool, const xf_linear_w *l, const float *X, size_t T, size_t path_t, float *Y);
/* xf_linear_as of n linear layers on the same X (Q / K / V, gate / up) into Y[i]: the same bits,
 * in one pass over the pool where their formats allow (formats.h's xf_format_many). */
void xf_linears_as(xf_pool *pool, size_t n, const xf_linear_w *const *l, const float *X, size_t T, size_t path_t,
                   float *const *Y);
/* 1 when every linear layer of the plan's blocks honours path_t in xf_linear_as (no calibration
 * statistics being gathered either). */
int xf_plan_exact_as(const xf_plan *p);
/* Add X [T, cols]'s calibration statistics to l->in_abs / l->in_gram (plan.h); xf_linear calls it
 * when either is set (the pool: gram_gemm's GEMM). */
void xf_linear_stats(xf_pool *pool, const xf_linear_w *l, const float *X, size_t T);
/* Add Y [T, rows] (less the bias)'s products to l->out_gram (plan.h); xf_linear calls it when set. */
void xf_linear_out_stats(const xf_linear_w *l, const float *Y, size_t T);
/* Reserve, once at load, the per-thread pool scratch xf_linear needs for this weight. */
xf_status xf_linear_reserve(xf_pool *pool, const xf_weight *w);

/* X[t] = word[ids[t]] for t < T, word f32 or GGUF blocks (only the rows needed are dequantized).
 * Ids must already be checked. */
void xf_embed_rows(const xf_weight *word, const int32_t *ids, size_t T, float *X);
/* X[t] += table[idx[t]] for t < T (learned positions, token types; f32 tables); idx NULL: row 0. */
void xf_embed_add(const xf_weight *table, const int32_t *idx, size_t T, float *X);

/* X = Norm(X + R) over T rows (R may be NULL: X = Norm(X); a NONE norm only adds), rows split over
 * the pool. */
void xf_add_norm(xf_pool *pool, const xf_norm_w *n, float *X, const float *R, size_t T);

/* Rotary embedding of T rows of Q (n_heads heads) and K (n_kv_heads heads): row t at position
 * pos[t] of the plan's tables, or, when cos_t is not NULL, with the rows cos_t / sin_t + t * half
 * made for this forward (dynamic NTK past the trained length). */
void xf_rope_rows(xf_pool *pool, const xf_attn_plan *a, float *Q, size_t ldq, float *K, size_t ldk,
                  const int32_t *pos, size_t T, const float *cos_t, const float *sin_t);

/* Per-thread attention scratch floats for heads of dh with groups of at most `group` query heads. */
size_t xf_attend_scratch(size_t group, size_t dh, int n_threads);
/* Run n attention problems (e.g. one per sequence of a batch) over the pool: tasks are (problem,
 * query block, kv head, head chunk) tuples dealt round-robin to threads. Each problem has n_kv
 * key/value heads; h_off / group describe its query heads as in kernels/attention.h. */
void xf_attend(xf_pool *pool, const xf_attn_problem *probs, size_t n, size_t n_kv, float *scratch);
/* ProbSparse attention (kernels/probsparse.h) of the problems s with on[s] != 0, over the pool:
 * one task per (problem, query head). scratch: per thread xf_probsparse_scratch(longest, dh)
 * floats (ps_stride), 64-byte aligned. */
void xf_attend_probsparse(xf_pool *pool, const xf_attn_problem *probs, const unsigned char *on, size_t n, size_t n_kv,
                          float factor, int exact, float *scratch, size_t ps_stride);

/* The attention each token received in n bidirectional problems (one per sequence, tokens
 * [off[s], off[s + 1]) of the batch): acc[t] = mean over the n_heads query heads of the sum over
 * the sequence's queries of the softmax weight of key t (the Attention Context Contribution of
 * token pruning). part: n_heads * off[n] floats of scratch; the pool's per-part scratch holds the
 * score tiles (reserve 64 * the longest sequence floats). */
void xf_attend_received(xf_pool *pool, const xf_attn_problem *probs, size_t n, size_t n_kv, size_t n_heads,
                        const size_t *off, float *acc, float *part);

/* Scratch floats xf_ffn needs for T tokens. */
size_t xf_ffn_scratch(const xf_ffn_plan *f, size_t T);
/* Y = down(act(up(X))), or down(act(gate(X)) * up(X)) when gated. */
void xf_ffn(xf_pool *pool, const xf_ffn_plan *f, const float *X, size_t T, float *Y, float *scratch);
/* xf_ffn with its products as xf_linear_as(..., path_t, ...). */
void xf_ffn_as(xf_pool *pool, const xf_ffn_plan *f, const float *X, size_t T, size_t path_t, float *Y, float *scratch);

#endif
