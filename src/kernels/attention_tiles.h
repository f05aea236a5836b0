/* attention_tiles.h — the AVX-512 versions of the attention kernel's two products (score tile and
 * P V update: kernels/attention_avx512.c), called by kernels/attention.c at the AVX-512 level. Same
 * operands and layouts as its portable scores() / accumulate(), with the keys of the score tile in
 * vectors of 16 (n16 of them; Kt zero padded to 16 n16 keys). */
#ifndef XF_KERNELS_ATTENTION_TILES_H
#define XF_KERNELS_ATTENTION_TILES_H

#include <stddef.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define XF_ATTN_AVX512 1
/* S[r][0..16 n16) = Qs[r] . Kt for rows [ra, rb) (Qs rows of dp, Kt [dp][XF_ATTN_KEYS], S rows of
 * XF_ATTN_KEYS). */
void xf_attn_scores_avx512(const float *Qs, size_t dp, const float *Kt, float *S, size_t ra, size_t rb, size_t n16);
/* A[r][0..dp) += sum_j S[r][j] V[j][0..dp) over keys j < nk, rows [ra, rb) (V rows of stride ldv). */
void xf_attn_accumulate_avx512(const float *S, const float *V, size_t ldv, float *A, size_t dp, size_t ra, size_t rb,
                               size_t nk);
#endif

#endif
