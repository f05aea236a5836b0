/* sparse24_sum.h — the fixed reduction tree of the 2:4 kernels' 16 lane sums (sparse24.h), shared
 * by the float (sparse24.c) and integer-dot (sparse24_i8.c) kernels: in C, and over 8 AVX lanes
 * that already hold acc[j] + acc[j + 8]. Internal to src/kernels. */
#ifndef XF_KERNELS_SPARSE24_SUM_H
#define XF_KERNELS_SPARSE24_SUM_H

static inline float xf_s24_reduce16(const float *acc) {
    float s8[8], s4[4], s2[2];
    for (int j = 0; j < 8; j++) s8[j] = acc[j] + acc[j + 8];
    for (int j = 0; j < 4; j++) s4[j] = s8[j] + s8[j + 4];
    for (int j = 0; j < 2; j++) s2[j] = s4[j] + s4[j + 2];
    return s2[0] + s2[1];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) float xf_s24_reduce8(__m256 s8) {
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}
#endif

#endif
