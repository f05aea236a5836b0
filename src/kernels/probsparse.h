/* probsparse.h — ProbSparse self-attention (Zhou et al., "Informer", AAAI 2021), training-free:
 * for each head, only the u "active" queries with the largest sparsity measurement
 *
 *   M(q_i) = max_j (q_i . k_j * scale) - mean_j (q_i . k_j * scale)
 *
 * get full attention; every other ("lazy") query gets the mean of the values it may see: of all
 * values (bidirectional, an encoder), or of values 0..i (causal, Informer's decoder: the
 * cumulative mean). u = min(L, ceil(factor * ceil(ln L))) as Informer's code counts it
 * (n_top = c * ceil(ln L_Q)). M is estimated as Informer does on a random sample of the keys
 * each query sees, n = min(visible, ceil(factor * ceil(ln L))) keys drawn with replacement by a
 * fixed-seed generator (xf_probsparse_key: the same keys for every head and run), with the max
 * and the mean taken over the sample (Informer's code divides the sample's sum by L_K instead);
 * or exactly, over every visible key. M is computed in double, so the kernel and its reference
 * select the same queries.
 *
 * The problem is a full square one: n_q = n_k, q_pos0 = 0, no key positions, no window, float
 * keys and values (xf_probsparse_applies). The active queries' rows run through xf_attention
 * (the same kernel as dense attention), so their outputs are those dense attention gives them. */
#ifndef XF_KERNELS_PROBSPARSE_H
#define XF_KERNELS_PROBSPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/attention.h"

#define XF_PROBSPARSE_SEED 0x5eed1f0u

/* Queries kept (and keys sampled) for a sequence of L tokens: min(L, ceil(factor * ceil(ln L))). */
size_t xf_probsparse_top(float factor, size_t L);

/* Sampled key r (0 <= r < n) of query i, among the n_vis keys it sees: a fixed-seed hash. */
static inline size_t xf_probsparse_key(size_t i, size_t r, size_t n_vis) {
    uint64_t z = (uint64_t)XF_PROBSPARSE_SEED + (uint64_t)i * 0x9E3779B97F4A7C15ull + (uint64_t)r * 0xD1B54A32D192ED03ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (size_t)(z % n_vis);
}

/* Whether xf_probsparse_head can run problem p (square, in order, float, no window, no block
 * selection of block-sparse prefill). */
int xf_probsparse_applies(const xf_attn_problem *p);

/* Scratch floats one xf_probsparse_head call needs for a problem of L tokens and head size dh. */
size_t xf_probsparse_scratch(size_t L, size_t dh);

/* The outputs O of every query position for query head h (0 <= h < group) of kv_head: the top
 * queries by M with full attention, the others with the (cumulative) mean of V. exact: M over
 * every visible key instead of a sample. scratch: xf_probsparse_scratch(n_q, dh) floats, 64-byte
 * aligned. */
void xf_probsparse_head(const xf_attn_problem *p, size_t kv_head, size_t h, float factor, int exact, float *scratch);

/* Plain double reference of the same (tests): M the same way, the selection as a mask (query i is
 * active iff fewer than u queries rank above it: larger M, or equal M and a smaller index), the
 * attention of active queries in double over the keys they see, the others the mean in double. */
void xf_probsparse_head_ref(const xf_attn_problem *p, size_t kv_head, size_t h, float factor, int exact);

#endif
