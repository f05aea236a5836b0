/* avx2_util.h — small AVX2 helpers shared by the kernels that quantize activation rows
 * (kernels/qgemv_q8.c, kernels/gemm_i8.c): horizontal max / sum of 8 lanes and int32 lanes
 * narrowed in order to int8 or int16. Each is compiled for the caller's target (forced inline);
 * include after <immintrin.h>, inside the caller's x86 section. */
#ifndef XF_KERNELS_AVX2_UTIL_H
#define XF_KERNELS_AVX2_UTIL_H

#define XF_AVX2_UTIL static inline __attribute__((always_inline, target("avx2,fma")))

/* The largest of 8 floats (any order: max is exact). */
XF_AVX2_UTIL float xf_avx2_hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}
/* The sum of 8 int32 lanes. */
XF_AVX2_UTIL int32_t xf_avx2_hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}
/* 32 int32 (a, b, c, d: elements 0-7, 8-15, 16-23, 24-31) to 32 int8 in order (saturating). */
XF_AVX2_UTIL void xf_avx2_store_i8x32(int8_t *q, __m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i v = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    _mm256_storeu_si256((__m256i *)(void *)q, _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}
/* 16 int32 (a: elements 0-7, b: 8-15) to 16 int16 in order (saturating). */
XF_AVX2_UTIL void xf_avx2_store_i16x16(int16_t *q, __m256i a, __m256i b) {
    _mm256_storeu_si256((__m256i *)(void *)q, _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xd8));
}

#endif
