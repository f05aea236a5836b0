/* attn_blocksparse.h — block-sparse prefill attention (attn_blocksparse.c): which key blocks each
 * tile of 64 queries reads, for the attention kernel's kblocks mask. */
#ifndef XF_MODEL_ATTN_BLOCKSPARSE_H
#define XF_MODEL_ATTN_BLOCKSPARSE_H

#include <stddef.h>

#include "kernels/attention.h"

/* Whether a problem gets a block-sparse selection at this density: 0 < density < 1, causal keys
 * in order without a window, more than one query and more than 4 key blocks. */
int xf_block_sparse_applies(const xf_attn_problem *p, float density);
/* Key blocks query tile `tile` of p may see (causally): blocks [0, result). */
size_t xf_block_sparse_visible(const xf_attn_problem *p, size_t tile);
/* The selection for p (its Q, keys, positions, group layout; n_kv key/value heads of n_heads query
 * heads): a mask of [n_kv][ceil(n_q / 64)][ceil(n_k / 64)] bytes (free() it) to set as p->kblocks
 * (kblocks_ld = ceil(n_k / 64), kblocks_nqt = ceil(n_q / 64)); NULL when memory runs out (the
 * caller then attends densely). */
unsigned char *xf_block_sparse_select(const xf_attn_problem *p, size_t n_kv, size_t n_heads, float density);

#endif
