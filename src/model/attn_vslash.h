/* attn_vslash.h — vertical-slash prefill attention (attn_vslash.c): MInference's pattern estimated
 * from the last queries of a prompt, applied by gathering each query tile's keys. */
#ifndef XF_MODEL_ATTN_VSLASH_H
#define XF_MODEL_ATTN_VSLASH_H

#include <stddef.h>

#include "core/error.h"
#include "core/threadpool.h"
#include "kernels/attention.h"

#define XF_VSLASH_LASTQ 64  /* queries whose attention estimates the pattern (the prompt's last) */
#define XF_VSLASH_SINKS 64  /* first keys every query reads (attention sinks) */
#define XF_VSLASH_LOCAL 128 /* diagonals 0..LOCAL-1 every query reads (local window) */

/* The selection of one problem, per key/value head g:
 *   cols[g * n_k + j]        key j is a vertical column (or a sink): every tile that sees it reads it;
 *   diag[g * span + d + 63]  a tile whose first query is at position P0 reads key P0 - d
 *                            (d in -63 .. n_k - 1): the slash diagonals, each widened to the tile
 *                            (diagonal o covers d in [o - 63, o], as MInference's kernel reads it).
 * Query position qp of tile T (first position P0) reads key j iff j <= qp and
 * (cols[j] or diag[P0 - j + 63]): xf_vslash_reads, the plain mask of the tests. */
typedef struct xf_vslash {
    size_t n_kv, n_k, span;
    unsigned char *cols, *diag;
} xf_vslash;

/* Whether a problem gets the vertical-slash pattern: 0 < density < 1, causal keys in order without
 * a window, at least LASTQ queries and more than 4 x 64 keys. */
int xf_vslash_applies(const xf_attn_problem *p, float density);
/* The selection for p (n_kv key/value heads): ceil(density x n_k / 2) vertical columns and slash
 * diagonals covering about as many offsets, on top of the sinks and the local window, each the
 * largest by the attention of p's last LASTQ queries summed over a key/value head's query heads.
 * 0, or -1 when memory runs out (nothing to free then). */
int xf_vslash_select(const xf_attn_problem *p, size_t n_kv, float density, xf_vslash *out);
void xf_vslash_free(xf_vslash *v);
/* Whether query t of p reads key j for key/value head g (the plain mask). */
static inline int xf_vslash_reads(const xf_vslash *v, const xf_attn_problem *p, size_t g, size_t t, size_t j) {
    const size_t p0 = p->q_pos0 + t / 64 * 64;
    return j <= p->q_pos0 + t && (v->cols[g * v->n_k + j] || v->diag[g * v->span + p0 + 63 - j]);
}
/* p's outputs under selection v: each tile of 64 queries of a key/value head attends to its keys
 * gathered (the ordinary kernel, positions masking causally), tiles spread over the pool (NULL:
 * this thread). Returns the share of causal (query, key) pairs read, averaged over heads; -1 when
 * memory runs out (outputs then incomplete: attend densely). */
double xf_vslash_attend(xf_pool *pool, const xf_attn_problem *p, size_t n_kv, const xf_vslash *v);

/* Vertical-slash prefill at this density on every causal layer without a window (xf_model_params.
 * attn_vslash_density); 0 = none, 1 = dense. Refused with block-sparse or ProbSparse attention. */
struct xf_model;
xf_status xf_model_vslash(struct xf_model *m, float density);

#endif
