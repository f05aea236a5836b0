/* attention_avx512.c — the two products of the attention kernel (kernels/attention.c) on 16-wide
 * registers for AVX-512 machines: the score tile S = Qs Kt (4 query rows x 64 keys: 16 zmm
 * accumulators, per input dimension 4 loads of Kt, 4 broadcasts and 16 FMAs) and the update
 * A += P V (4 rows x 64 dimensions a pass). The portable kernels hold 8 lanes (the AVX2 register),
 * so at the AVX-512 level they ran at half the FMA width; these do the same operations in the same
 * order per output (each score a chain of FMAs over d from 0, each output an FMA chain over keys
 * from A), so they give the same bits as the portable kernels compiled for AVX2 or AVX-512. */
#include "kernels/attention_tiles.h"

#ifdef XF_ATTN_AVX512
#include <immintrin.h>

#include "kernels/attention.h"

#define BK XF_ATTN_KEYS
#define XF_T512 __attribute__((target("avx512f,avx512bw,avx512vl"), always_inline)) static inline

/* S rows [0, NR) x key vectors [0, NC) of 16: sums over d < dp (Kt rows of BK keys). */
XF_T512 void score16(const float *q, size_t dp, const float *kt, float *s, const int NR, const int NC) {
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) acc[i][c] = _mm512_setzero_ps();
    for (size_t d = 0; d < dp; d++) {
        __m512 k[4];
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) k[c] = _mm512_loadu_ps(kt + d * BK + 16 * c);
#pragma GCC unroll 4
        for (int i = 0; i < NR; i++) {
            const __m512 qi = _mm512_set1_ps(q[i * dp + d]);
#pragma GCC unroll 4
            for (int c = 0; c < NC; c++) acc[i][c] = _mm512_fmadd_ps(qi, k[c], acc[i][c]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) _mm512_storeu_ps(s + i * BK + 16 * c, acc[i][c]);
}

#define XF_CASES(fn, nr, nc, ...)                                                                  \
    switch ((nr) * 8 + (nc)) {                                                                     \
    case 8 + 1: fn(__VA_ARGS__, 1, 1); break;                                                      \
    case 8 + 2: fn(__VA_ARGS__, 1, 2); break;                                                      \
    case 8 + 3: fn(__VA_ARGS__, 1, 3); break;                                                      \
    case 8 + 4: fn(__VA_ARGS__, 1, 4); break;                                                      \
    case 16 + 1: fn(__VA_ARGS__, 2, 1); break;                                                     \
    case 16 + 2: fn(__VA_ARGS__, 2, 2); break;                                                     \
    case 16 + 3: fn(__VA_ARGS__, 2, 3); break;                                                     \
    case 16 + 4: fn(__VA_ARGS__, 2, 4); break;                                                     \
    case 24 + 1: fn(__VA_ARGS__, 3, 1); break;                                                     \
    case 24 + 2: fn(__VA_ARGS__, 3, 2); break;                                                     \
    case 24 + 3: fn(__VA_ARGS__, 3, 3); break;                                                     \
    case 24 + 4: fn(__VA_ARGS__, 3, 4); break;                                                     \
    case 32 + 1: fn(__VA_ARGS__, 4, 1); break;                                                     \
    case 32 + 2: fn(__VA_ARGS__, 4, 2); break;                                                     \
    case 32 + 3: fn(__VA_ARGS__, 4, 3); break;                                                     \
    default: fn(__VA_ARGS__, 4, 4); break;                                                         \
    }

__attribute__((target("avx512f,avx512bw,avx512vl"))) void xf_attn_scores_avx512(const float *Qs, size_t dp,
                                                                                 const float *Kt, float *S, size_t ra,
                                                                                 size_t rb, size_t n16) {
    for (size_t r = ra; r < rb; r += 4) {
        const int nr = rb - r < 4 ? (int)(rb - r) : 4;
        XF_CASES(score16, nr, (int)n16, Qs + r * dp, dp, Kt, S + r * BK)
    }
}

/* A rows [0, NR) x dimensions [0, 16 NC) (the last vector masked by m) += P V over keys [0, nk). */
XF_T512 void pv16(const float *pr, const float *v, size_t ldv, float *a, size_t dp, size_t nk, __mmask16 m,
                  const int NR, const int NC) {
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++)
            acc[i][c] = c == NC - 1 ? _mm512_maskz_loadu_ps(m, a + i * dp + 16 * c) : _mm512_loadu_ps(a + i * dp + 16 * c);
    for (size_t j = 0; j < nk; j++) {
        __m512 vv[4];
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++)
            vv[c] = c == NC - 1 ? _mm512_maskz_loadu_ps(m, v + j * ldv + 16 * c) : _mm512_loadu_ps(v + j * ldv + 16 * c);
#pragma GCC unroll 4
        for (int i = 0; i < NR; i++) {
            const __m512 p = _mm512_set1_ps(pr[i * BK + j]);
#pragma GCC unroll 4
            for (int c = 0; c < NC; c++) acc[i][c] = _mm512_fmadd_ps(p, vv[c], acc[i][c]);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < NR; i++)
#pragma GCC unroll 4
        for (int c = 0; c < NC; c++) {
            if (c == NC - 1) _mm512_mask_storeu_ps(a + i * dp + 16 * c, m, acc[i][c]);
            else _mm512_storeu_ps(a + i * dp + 16 * c, acc[i][c]);
        }
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) void xf_attn_accumulate_avx512(const float *S, const float *V,
                                                                                     size_t ldv, float *A, size_t dp,
                                                                                     size_t ra, size_t rb, size_t nk) {
    for (size_t c0 = 0; c0 < dp; c0 += 64) { /* 64 dimensions (4 vectors) a pass */
        const size_t w = dp - c0 < 64 ? dp - c0 : 64, nc = (w + 15) / 16;
        const __mmask16 m = w % 16 ? (__mmask16)((1u << (w % 16)) - 1) : (__mmask16)0xFFFF;
        for (size_t r = ra; r < rb; r += 4) {
            const int nr = rb - r < 4 ? (int)(rb - r) : 4;
            XF_CASES(pv16, nr, (int)nc, S + r * BK, V + c0, ldv, A + r * dp + c0, dp, nk, m)
        }
    }
}
#endif
