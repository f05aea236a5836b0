/* gemm_i8.c — int8 x int8 -> int32 GEMM for quantized linear layers (see gemm_i8.h): weight
 * quantization and packing, per-row/per-group activation quantization, micro-kernels for
 * AVX-512 VNNI and AVX-VNNI (vpdpbusd on unsigned weights wq + 128 and signed activations,
 * corrected by 128 * the group's activation sum), AVX2 without VNNI (vpmaddwd on activations quantized to int16
 * and zero-extended weights, the same correction; or vpmaddubsw on 7-bit activations with two-level
 * scales, one int32 sum a row) and portable
 * C, the scalar reference, and the thread-parallel driver. */
#include "kernels/gemm_i8.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/amx.h"
#include "kernels/cpu.h"
#include "kernels/gemm_panel.h"
#include "kernels/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define XF_X86 1
#include "kernels/avx2_util.h"
#endif

#define NR XF_PANEL_NR /* output channels per packed panel */

static size_t ceil4(size_t k) { return (k + 3) & ~(size_t)3; }
static size_t n_groups(size_t K) { return (K + XF_I8_GROUP - 1) / XF_I8_GROUP; }

size_t xf_i8_packed_bytes(size_t N, size_t K) { return ((N + NR - 1) / NR) * NR * ceil4(K); }

/* Round to nearest even and clamp to [-127, 127]: the single definition every path uses. A NaN
 * (a non-finite weight of a hostile file: inf x 0) is 0, not an undefined conversion. */
static inline int8_t q8(float v) {
    v = nearbyintf(v);
    return (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v == v ? v : 0.0f);
}

static float absmax(const float *x, size_t n) {
    float m = 0.0f;
    for (size_t k = 0; k < n; k++) m = fabsf(x[k]) > m ? fabsf(x[k]) : m;
    return m;
}

void xf_i8_quantize_pack(const float *W, size_t ldw, size_t N, size_t K, uint8_t *packed, float *scale) {
    const size_t Kq = ceil4(K) / 4;
    memset(packed, 128, xf_i8_packed_bytes(N, K)); /* 128 = weight 0 */
    for (size_t o = 0; o < N; o++) {
        const float *w = W + o * ldw;
        float s = absmax(w, K) / 127.0f, inv = s > 0.0f ? 1.0f / s : 0.0f;
        uint8_t *dst = packed + (o / NR) * Kq * NR * 4 + (o % NR) * 4;
        for (size_t k = 0; k < K; k++) dst[(k / 4) * NR * 4 + k % 4] = (uint8_t)(q8(w[k] * inv) + 128);
        scale[o] = s;
    }
}

void xf_i8_unpack_rows(const uint8_t *packed, const float *scale, size_t K, size_t r0, size_t r1, float *out) {
    const size_t Kq = ceil4(K) / 4;
    for (size_t o = r0; o < r1; o++) {
        const uint8_t *src = packed + (o / NR) * Kq * NR * 4 + (o % NR) * 4;
        for (size_t k = 0; k < K; k++) out[(o - r0) * K + k] = (float)((int)src[(k / 4) * NR * 4 + k % 4] - 128) * scale[o];
    }
}

typedef signed char xf_v8c __attribute__((vector_size(8)));
typedef short xf_v8s __attribute__((vector_size(16)));
typedef signed char xf_v32c __attribute__((vector_size(32)));
typedef short xf_v16s __attribute__((vector_size(32)));

static inline float max2(float a, float b) { return a > b ? a : b; }

/* The low byte / low half of each int lane (values in [-127, 127]): one shuffle where the compiler
 * has __builtin_shufflevector (a conversion would be compiled lane by lane through scalar
 * registers by GCC 12). NARROW(v, VT, OT, n): the lanes of v as type OT, through v seen as VT with n
 * parts a lane (PART picks the low one). */
#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define XF_LOW(n) ((n) - 1)
#else
#define XF_LOW(n) 0
#endif
#define PART(VT, v, n)                                                                                      \
    __builtin_shufflevector((VT)(v), (VT)(v), XF_LOW(n), (n) + XF_LOW(n), 2 * (n) + XF_LOW(n), 3 * (n) + XF_LOW(n), \
                            4 * (n) + XF_LOW(n), 5 * (n) + XF_LOW(n), 6 * (n) + XF_LOW(n), 7 * (n) + XF_LOW(n))
#endif
#endif
#ifdef PART
#define NARROW(v, VT, OT, n) PART(VT, v, n)
#else
#define NARROW(v, VT, OT, n) __builtin_convertvector(v, OT)
#endif

/* No FMA contraction here: x * inv is rounded to float before rounding to an integer, exactly as
 * q8() does, so every ISA quantizes identically. Values in [-127, 127] (|x * inv| never exceeds 127
 * by more than rounding, so the clamp is q8's for finite inputs). The quantized values go to xq as int8, or, with xq16 set, to xq16 as
 * int16 instead (the exact AVX2 GEMM multiplies 16-bit integers). */
#ifdef __clang__
#define XF_NO_CONTRACT /* the pragma below */
#else
#define XF_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#endif
XF_NO_CONTRACT XF_INLINE void quantize_body(const float *x, size_t K, size_t group, int8_t *xq,
                                            int16_t *xq16, float *sx, int32_t *xsum) {
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
    const float qmax = 127.0f;
    const xf_v8 magic = xf_v8_splat(12582912.0f); /* 1.5 * 2^23: adding and subtracting rounds to even */
    for (size_t g = 0, k0 = 0; k0 < K; g++, k0 += group) {
        size_t k1 = k0 + group < K ? k0 + group : K, k = k0;
        xf_v8 mv = {0};
        for (; k + 8 <= k1; k += 8) {
            xf_v8 v = xf_v8_load(x + k);
            mv = xf_v8_max(mv, xf_v8_max(v, -v));
        }
        float m = max2(max2(max2(mv[0], mv[4]), max2(mv[1], mv[5])), max2(max2(mv[2], mv[6]), max2(mv[3], mv[7])));
        for (; k < k1; k++) m = max2(m, fabsf(x[k]));
        float s = m / qmax, inv = s > 0.0f ? 1.0f / s : 0.0f;
        const xf_v8 vinv = xf_v8_splat(inv);
        xf_v8i sum = {0};
        for (k = k0; k + 8 <= k1; k += 8) {
            xf_v8 r = (xf_v8_load(x + k) * vinv + magic) - magic;
            r = xf_v8_min(xf_v8_max(r, xf_v8_splat(-qmax)), xf_v8_splat(qmax));
            xf_v8i qi = __builtin_convertvector(r, xf_v8i);
            sum += qi;
            if (xq16) {
                xf_v8s qs = NARROW(qi, xf_v16s, xf_v8s, 2);
                memcpy(xq16 + k, &qs, sizeof qs);
            } else {
                xf_v8c qc = NARROW(qi, xf_v32c, xf_v8c, 4);
                memcpy(xq + k, &qc, sizeof qc);
            }
        }
        int32_t t = (sum[0] + sum[4]) + (sum[1] + sum[5]) + (sum[2] + sum[6]) + (sum[3] + sum[7]);
        for (; k < k1; k++) {
            const int8_t q = q8(x[k] * inv);
            t += q;
            if (xq16) xq16[k] = q;
            else xq[k] = q;
        }
        sx[g] = s;
        xsum[g] = t;
    }
    for (size_t k = K; k < ceil4(K); k++) {
        if (xq16) xq16[k] = 0;
        else xq[k] = 0;
    }
}
XF_NO_CONTRACT XF_INLINE void xf_i8_quantize_groups_body(const float *x, size_t K, size_t group, int8_t *xq,
                                                         float *sx, int32_t *xsum) {
    quantize_body(x, K, group, xq, NULL, sx, xsum);
}
XF_DISPATCH_VOID(xf_i8_quantize_groups,
                 (const float *x, size_t K, size_t group, int8_t *xq, float *sx, int32_t *xsum),
                 (x, K, group, xq, sx, xsum), XF_NO_CONTRACT)
/* ---- 7-bit activations with two-level scales (gemm_i8.h) ---- */

int xf_i8_u7_mult_max(size_t K) {
    const uint64_t per = 24129u * (uint64_t)ceil4(K); /* 63 x (128 + 255): the kernel's running sum per input */
    const uint64_t m = 2147483647u / (per ? per : 1);
    return (int)(m > 127 ? 127 : m < 1 ? 1 : m);
}

/* The row's unit u and step 63 u (the largest |x| of multiple 1) from its group maxima. */
static float u7_unit(size_t ng, const float *gmax, int mm, float *step) {
    float M = 0.0f;
    for (size_t g = 0; g < ng; g++) M = max2(M, gmax[g]);
    const float u = M / 63.0f / (float)mm;
    *step = 63.0f * u;
    return u;
}

/* One group: mu = ceil(min(gmax / step, mm)) (at least 1), by truncation (no ceilf call in the
 * baseline build); 0 for an all-zero group or NaN / inf garbage. Returns 1 / (u mu), or 0. */
static inline float u7_group(float gmax, float u, float step, int mm, int32_t *mu) {
    const float r = gmax / step;
    if (!(u > 0.0f) || !(gmax > 0.0f) || r != r) {
        *mu = 0;
        return 0.0f;
    }
    const float rc = r < (float)mm ? r : (float)mm;
    int m = (int)rc;
    m += (float)m < rc;
    m = m < 1 ? 1 : m;
    *mu = m;
    return 1.0f / (u * (float)m);
}

XF_NO_CONTRACT void xf_i8_u7_scales(size_t ng, size_t K, float *sx, int32_t *mu, float *unit) {
    const int mm = xf_i8_u7_mult_max(K);
    float step;
    const float u = u7_unit(ng, sx, mm, &step);
    *unit = u;
    for (size_t g = 0; g < ng; g++) sx[g] = u7_group(sx[g], u, step, mm, &mu[g]);
}

/* One group's 7-bit values: x * inv rounded to even, clamped to [-63, 63]; returns their sum. */
static int32_t quantize_u7_group(const float *x, size_t n, float inv, int8_t *xq) {
    int32_t t = 0;
    for (size_t k = 0; k < n; k++) {
        int8_t q = q8(x[k] * inv);
        q = q > 63 ? 63 : q < -63 ? -63 : q;
        xq[k] = q;
        t += q;
    }
    return t;
}

/* The prepared 7-bit row (both kernels): values xq; for groups g < ng, xs[g] = the multiple mu_g;
 * sx[ng] = the unit u, xs[ng] = sum_g mu_g x (sum of group g's values) — the correction for the
 * weights' +128. (sx[g], g < ng: 1 / (u mu_g), scratch.) `sum[g]` holds the group sums. */
static void u7_finish(size_t ng, const int32_t *sum, float u, float *sx, int32_t *xs) {
    int64_t c = 0;
    for (size_t g = 0; g < ng; g++) c += (int64_t)xs[g] * sum[g];
    sx[ng] = u;
    xs[ng] = (int32_t)c; /* |c| <= mult_max x K x 63: far inside int32 */
}

/* The portable 7-bit quantizer (the generic twin of the AVX2 kernel). */
XF_NO_CONTRACT static void quantize_row7(const float *x, size_t K, int8_t *xq, float *sx, int32_t *xs) {
    const size_t ng = n_groups(K);
    int32_t sum[XF_I8_MAX_K / XF_I8_GROUP + 1];
    for (size_t g = 0; g < ng; g++) {
        const size_t k0 = g * XF_I8_GROUP, n = K - k0 < XF_I8_GROUP ? K - k0 : XF_I8_GROUP;
        sx[g] = absmax(x + k0, n);
    }
    float u;
    xf_i8_u7_scales(ng, K, sx, xs, &u);
    for (size_t g = 0; g < ng; g++) {
        const size_t k0 = g * XF_I8_GROUP, n = K - k0 < XF_I8_GROUP ? K - k0 : XF_I8_GROUP;
        sum[g] = quantize_u7_group(x + k0, n, sx[g], xq + k0);
    }
    for (size_t k = K; k < ceil4(K); k++) xq[k] = 0;
    u7_finish(ng, sum, u, sx, xs);
}

void xf_i8_quantize_row(const float *x, size_t K, int8_t *xq, float *sx, int32_t *xsum) {
    xf_i8_quantize_groups(x, K, XF_I8_GROUP, xq, sx, xsum);
}

#ifdef XF_X86
/* xf_i8_quantize_row for the AVX-512 kernels (VNNI, AMX), a whole group of 64 in four zmm: the same
 * operations as quantize_body (|x| max, s = m / 127, inv = 1 / s, x * inv rounded to even without
 * contraction, clamped) and so the same bits for finite inputs (with a NaN in a group, the group's
 * scale may differ from the 8-lane body's, whose max depends on the NaN's lane: the row is NaN
 * garbage either way). The generic body's 8-lane vectors and per-group chain cost ~0.8 ns an input
 * on this Xeon, as much as the AMX product itself. Short groups (the last one when 64 does not
 * divide K) go through quantize_body. */
XF_NO_CONTRACT __attribute__((target("avx512f,avx512bw,avx512vl"))) static void quantize_row_avx512(const float *x, size_t K, int8_t *xq,
                                                                                     float *sx, int32_t *xsum) {
    const __m512 magic = _mm512_set1_ps(12582912.0f), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    const __m512i absm = _mm512_set1_epi32(0x7fffffff);
    size_t g = 0, k0 = 0;
    for (; k0 + XF_I8_GROUP <= K; g++, k0 += XF_I8_GROUP) {
        __m512 v[4];
        for (int j = 0; j < 4; j++) v[j] = _mm512_loadu_ps(x + k0 + 16 * j);
        const __m512 a01 = _mm512_max_ps(_mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v[0]), absm)),
                                         _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v[1]), absm)));
        const __m512 a23 = _mm512_max_ps(_mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v[2]), absm)),
                                         _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v[3]), absm)));
        const float m = _mm512_reduce_max_ps(_mm512_max_ps(a01, a23));
        const float s = m / 127.0f, inv = s > 0.0f ? 1.0f / s : 0.0f;
        const __m512 vinv = _mm512_set1_ps(inv);
        __m512i sum = _mm512_setzero_si512();
        for (int j = 0; j < 4; j++) {
            __m512 r = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(v[j], vinv), magic), magic);
            r = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
            const __m512i q = _mm512_cvttps_epi32(r);
            sum = _mm512_add_epi32(sum, q);
            _mm_storeu_si128((__m128i *)(void *)(xq + k0 + 16 * j), _mm512_cvtepi32_epi8(q));
        }
        sx[g] = s;
        xsum[g] = _mm512_reduce_add_epi32(sum);
    }
    if (k0 < K) xf_i8_quantize_groups(x + k0, K - k0, XF_I8_GROUP, xq + k0, sx + g, xsum + g);
    else
        for (size_t k = K; k < ceil4(K); k++) xq[k] = 0;
}
/* The same with AVX2, a group of 64 in eight ymm, values in [-127, 127], the rows as int8 (xq:
 * AVX-VNNI) or int16 (xq16: the exact AVX2 kernel): x * inv rounded to even by vcvtps2dq (the
 * default rounding mode; |x * inv| is at most 127 and a little,
 * so this is quantize_body's magic-number rounding) and clamped; the same bits as quantize_body
 * for finite inputs, ~5x faster (the body's narrowing stores and per-group
 * reductions cost ~0.85 ns an input on the Xeon, 11 % of an AVX2 GEMM with K = 1536). */
XF_NO_CONTRACT __attribute__((target("avx2,fma"))) static void quantize_row_avx2(const float *x, size_t K, int8_t *xq,
                                                                                int16_t *xq16, float *sx, int32_t *xsum) {
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    size_t g = 0, k0 = 0;
    for (; k0 + XF_I8_GROUP <= K; g++, k0 += XF_I8_GROUP) {
        __m256 v[8], m = _mm256_setzero_ps();
        for (int j = 0; j < 8; j++) {
            v[j] = _mm256_loadu_ps(x + k0 + 8 * j);
            m = _mm256_max_ps(m, _mm256_and_ps(v[j], absm));
        }
        const float s = xf_avx2_hmax(m) / 127.0f, inv = s > 0.0f ? 1.0f / s : 0.0f;
        const __m256 vinv = _mm256_set1_ps(inv);
        __m256i q[8], sum = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            q[j] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v[j], vinv)), lo), hi);
            sum = _mm256_add_epi32(sum, q[j]);
        }
        if (xq16)
            for (int j = 0; j < 8; j += 2) xf_avx2_store_i16x16(xq16 + k0 + 8 * j, q[j], q[j + 1]);
        else
            for (int j = 0; j < 8; j += 4) xf_avx2_store_i8x32(xq + k0 + 8 * j, q[j], q[j + 1], q[j + 2], q[j + 3]);
        sx[g] = s;
        xsum[g] = xf_avx2_hsum_i32(sum);
    }
    if (k0 < K) quantize_body(x + k0, K - k0, XF_I8_GROUP, xq16 ? NULL : xq + k0, xq16 ? xq16 + k0 : NULL, sx + g, xsum + g);
    else
        for (size_t k = K; k < ceil4(K); k++) {
            if (xq16) xq16[k] = 0;
            else xq[k] = 0;
        }
}
/* quantize_row7 with AVX2: a whole group of 64 in eight ymm, max |x| in a first pass over the row
 * (max is exact in any order), the values in a second (x * inv rounded to even by vcvtps2dq, the
 * default rounding mode, as q8's nearbyintf; clamped to [-63, 63]): the same bits for finite
 * inputs. A short last group goes through the portable group code. */
XF_NO_CONTRACT __attribute__((target("avx2,fma"))) static void quantize_row7_avx2(const float *x, size_t K, int8_t *xq,
                                                                                float *sx, int32_t *xs) {
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i lo = _mm256_set1_epi32(-63), hi = _mm256_set1_epi32(63);
    const size_t ng = n_groups(K), full = K / XF_I8_GROUP;
    int32_t sum[XF_I8_MAX_K / XF_I8_GROUP + 1];
    for (size_t g = 0; g < full; g++) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < 8; j++) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + g * XF_I8_GROUP + 8 * j), absm));
        sx[g] = xf_avx2_hmax(m);
    }
    if (full < ng) sx[full] = absmax(x + full * XF_I8_GROUP, K - full * XF_I8_GROUP);
    /* xf_i8_u7_scales, 8 groups at a time: the same IEEE operations (division, truncation,
     * comparison, conversion), so the same bits */
    const int mm = xf_i8_u7_mult_max(K);
    float step;
    const float u = u7_unit(ng, sx, mm, &step);
    size_t g8 = 0;
    if (u > 0.0f)
        for (; g8 + 8 <= ng; g8 += 8) {
            const __m256 gm = _mm256_loadu_ps(sx + g8), r = _mm256_div_ps(gm, _mm256_set1_ps(step));
            const __m256 valid = _mm256_and_ps(_mm256_cmp_ps(gm, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_cmp_ps(r, r, _CMP_ORD_Q));
            const __m256 rc = _mm256_min_ps(r, _mm256_set1_ps((float)mm)); /* (NaN lanes are not valid) */
            __m256i m = _mm256_cvttps_epi32(rc);
            m = _mm256_sub_epi32(m, _mm256_castps_si256(_mm256_cmp_ps(_mm256_cvtepi32_ps(m), rc, _CMP_LT_OQ))); /* +1 */
            m = _mm256_and_si256(_mm256_max_epi32(m, _mm256_set1_epi32(1)), _mm256_castps_si256(valid));
            const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(_mm256_set1_ps(u), _mm256_cvtepi32_ps(m)));
            _mm256_storeu_si256((__m256i *)(void *)(xs + g8), m);
            _mm256_storeu_ps(sx + g8, _mm256_and_ps(inv, valid));
        }
    for (; g8 < ng; g8++) sx[g8] = u7_group(sx[g8], u, step, mm, &xs[g8]);
    for (size_t g = 0; g < full; g++) {
        const float *xg = x + g * XF_I8_GROUP;
        const __m256 vinv = _mm256_set1_ps(sx[g]);
        __m256i q[8], s = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            q[j] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xg + 8 * j), vinv)), lo), hi);
            s = _mm256_add_epi32(s, q[j]);
        }
        for (int j = 0; j < 8; j += 4) xf_avx2_store_i8x32(xq + g * XF_I8_GROUP + 8 * j, q[j], q[j + 1], q[j + 2], q[j + 3]);
        sum[g] = xf_avx2_hsum_i32(s);
    }
    if (full < ng)
        sum[full] = quantize_u7_group(x + full * XF_I8_GROUP, K - full * XF_I8_GROUP, sx[full], xq + full * XF_I8_GROUP);
    for (size_t k = K; k < ceil4(K); k++) xq[k] = 0;
    u7_finish(ng, sum, u, sx, xs);
}
#endif

/* ---- micro-kernels: rows [0, mr) of quantized X (row stride ldq bytes; G group scales and sums
 * per row) x one packed panel -> Y[mr, nr] ---- */

/* The integer dots of one row x with the panel's NR channels over inputs [4 k4, 4 e4). */
static void panel_dots(const uint8_t *B, const int8_t *x, size_t k4, size_t e4, int32_t dot[NR]) {
    for (size_t j = 0; j < NR; j++) dot[j] = 0;
    for (; k4 < e4; k4++) {
        const uint8_t *b = B + k4 * NR * 4;
        for (size_t j = 0; j < NR; j++)
            for (size_t l = 0; l < 4; l++) dot[j] += ((int32_t)b[4 * j + l] - 128) * x[4 * k4 + l];
    }
}

static void micro_generic(size_t mr, const void *Xq, size_t ldq, const float *sx, const int32_t *xs, size_t G,
                          const uint8_t *B, size_t K, const float *sw, const float *bias, float *Y, size_t ldy,
                          size_t nr) {
    (void)xs;
    const size_t Kq = ceil4(K) / 4;
    for (size_t i = 0; i < mr; i++) {
        const int8_t *x = (const int8_t *)Xq + i * ldq;
        float f[NR] = {0};
        for (size_t g = 0, k4 = 0; k4 < Kq; g++) {
            const size_t e4 = k4 + XF_I8_GROUP / 4 < Kq ? k4 + XF_I8_GROUP / 4 : Kq;
            int32_t acc[NR];
            panel_dots(B, x, k4, e4, acc);
            k4 = e4;
            for (size_t j = 0; j < NR; j++) f[j] = fmaf((float)acc[j], sx[i * G + g], f[j]);
        }
        for (size_t j = 0; j < nr; j++) Y[i * ldy + j] = fmaf(f[j], sw[j], bias ? bias[j] : 0.0f);
    }
}

/* 7-bit rows (quantize_row7): acc = sum over groups of mu_g x the group's integer dot, one int32
 * (no overflow: xf_i8_u7_mult_max), then Y = fma((float)acc * u, sw, b). */
static void micro_generic_u7(size_t mr, const void *Xq, size_t ldq, const float *sx, const int32_t *xs, size_t G,
                             const uint8_t *B, size_t K, const float *sw, const float *bias, float *Y, size_t ldy,
                             size_t nr) {
    const size_t Kq = ceil4(K) / 4, ng = G - 1;
    for (size_t i = 0; i < mr; i++) {
        const int8_t *x = (const int8_t *)Xq + i * ldq;
        int32_t acc[NR] = {0};
        for (size_t g = 0, k4 = 0; k4 < Kq; g++) {
            const size_t e4 = k4 + XF_I8_GROUP / 4 < Kq ? k4 + XF_I8_GROUP / 4 : Kq;
            int32_t dot[NR];
            panel_dots(B, x, k4, e4, dot);
            k4 = e4;
            for (size_t j = 0; j < NR; j++) acc[j] += xs[i * G + g] * dot[j];
        }
        for (size_t j = 0; j < nr; j++) {
            const float f = (float)acc[j] * sx[i * G + ng];
            Y[i * ldy + j] = fmaf(f, sw[j], bias ? bias[j] : 0.0f);
        }
    }
}

#ifdef XF_X86
#define XF_TVNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define XF_TAVX2 __attribute__((target("avx2,fma")))

XF_TVNNI static inline __attribute__((always_inline)) void vnni_store(__m512 f, const float *sw, const float *bias,
                                                                      float *y, size_t n) {
    const __mmask16 m = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias) : _mm512_setzero_ps();
    _mm512_mask_storeu_ps(y, m, _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, sw), b));
}

/* MRC rows x 32 channels: 2 MRC int32 accumulators for the current group and 2 MRC float sums. */
#define MICROVNNI(MRC)                                                                             \
    XF_TVNNI static void vnni_##MRC(const void *Xq, size_t ldq, const float *sx, const int32_t *xs,   \
                                    size_t G, const uint8_t *B, size_t K, const float *sw,         \
                                    const float *bias, float *Y, size_t ldy, size_t nr) {          \
        const size_t Kq = ceil4(K) / 4;                                                            \
        __m512 f0[MRC], f1[MRC];                                                                   \
        _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) f0[i] = f1[i] = _mm512_setzero_ps(); \
        for (size_t g = 0, k4 = 0; k4 < Kq; g++) {                                                 \
            size_t e4 = k4 + XF_I8_GROUP / 4 < Kq ? k4 + XF_I8_GROUP / 4 : Kq;                     \
            __m512i c0[MRC], c1[MRC];                                                              \
            /* the sums start at -128 x the group's activation sum (weights carry +128) */         \
            _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) c0[i] = c1[i] = _mm512_set1_epi32(-128 * xs[i * G + g]); \
            for (; k4 < e4; k4++) {                                                                \
                __m512i b0 = _mm512_loadu_si512(B + k4 * 128), b1 = _mm512_loadu_si512(B + k4 * 128 + 64); \
                _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) {                            \
                    int32_t xv;                                                                    \
                    memcpy(&xv, (const int8_t *)Xq + i * ldq + 4 * k4, 4);                         \
                    __m512i a = _mm512_set1_epi32(xv);                                             \
                    c0[i] = _mm512_dpbusd_epi32(c0[i], b0, a);                                     \
                    c1[i] = _mm512_dpbusd_epi32(c1[i], b1, a);                                     \
                }                                                                                  \
            }                                                                                      \
            _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) {                                \
                __m512 s = _mm512_set1_ps(sx[i * G + g]);                                          \
                f0[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c0[i]), s, f0[i]);                      \
                f1[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c1[i]), s, f1[i]);                      \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) {                                    \
            vnni_store(f0[i], sw, bias, Y + i * ldy, nr);                                          \
            if (nr > 16) vnni_store(f1[i], sw + 16, bias ? bias + 16 : NULL, Y + i * ldy + 16, nr - 16); \
        }                                                                                          \
    }
MICROVNNI(1) MICROVNNI(2) MICROVNNI(3) MICROVNNI(4) MICROVNNI(5) MICROVNNI(6)

/* micro_<P>(mr, ...): the P_<mr> kernel of a family with 1 to 6 rows. */
#define MICRO6(P)                                                                                    \
    static void micro_##P(size_t mr, const void *Xq, size_t ldq, const float *sx, const int32_t *xs,  \
                          size_t G, const uint8_t *B, size_t K, const float *sw, const float *bias,   \
                          float *Y, size_t ldy, size_t nr) {                                          \
        void (*const f[6])(const void *, size_t, const float *, const int32_t *, size_t, const uint8_t *, \
                           size_t, const float *, const float *, float *, size_t, size_t) = {         \
            P##_1, P##_2, P##_3, P##_4, P##_5, P##_6};                                                \
        f[mr >= 1 && mr <= 6 ? mr - 1 : 5](Xq, ldq, sx, xs, G, B, K, sw, bias, Y, ldy, nr);            \
    }
MICRO6(vnni)

/* AVX2 without VNNI, exact (XF_I8_EXACT=1; xf_matmul_i8 otherwise takes the 7-bit kernel below):
 * MRC rows x 8 channels (a quarter of a panel) per pass, on 16-bit integers. The activations are
 * quantized straight to int16 (quantize_row_avx2), the stored weights wq + 128 (0..255) are
 * zero-extended to int16 per 16 (vpmovzxbw: 4 channels x 4 inputs), and vpmaddwd multiplies and
 * adds pairs into int32 lanes: (wq + 128) x, |.| <= 255 * 127, pairs and group sums far below
 * 2^31, all exact; 128 x the group's activation sum is taken off at its end, as on the VNNI path.
 * Each channel's two lanes (inputs 0-1 and 2-3 of each 4) are added at the end of a group (vphaddd
 * + vpermq). Per 128 products: 2 vpmovzxbw, 4 broadcasts (loads), 8 vpmaddwd, 8 vpaddd — 18 vector
 * operations where the fp32 GEMM needs 16 FMAs, so no better than ~1.3x fp32 (measured ~1.0x on the
 * Sapphire Rapids Xeon, 1.1-1.2x on a Zen 4: BENCHMARKS.md). vpmaddubsw on 8-bit activations is
 * exact only with vpsignb (|x| times the weight given x's sign): three multiply-pipe operations
 * per 32 products against two here. */
/* Keeps an accumulator in the register it lives in across the loop: without it GCC 12 computes each
 * new value into another register and copies it back (one vmovdqa per accumulator per step). */
#define XF_PIN(v) __asm__("" : "+x"(v))
#define MICROAVX2(MRC)                                                                             \
    XF_TAVX2 static void avx2_##MRC(const void *Xq, size_t ldq, const float *sx, const int32_t *xs, \
                                    size_t G, const uint8_t *B, size_t K, const float *sw,          \
                                    const float *bias, float *Y, size_t ldy, size_t nr) {           \
        const size_t Kq = ceil4(K) / 4;                                                            \
        for (size_t qc = 0; qc < 4 && 8 * qc < nr; qc++) {                                         \
            const uint8_t *Bq = B + 32 * qc;                                                       \
            __m256 f[MRC];                                                                         \
            _Pragma("GCC unroll 4") for (int i = 0; i < MRC; i++) f[i] = _mm256_setzero_ps();       \
            for (size_t g = 0, k4 = 0; k4 < Kq; g++) {                                             \
                const size_t e4 = k4 + XF_I8_GROUP / 4 < Kq ? k4 + XF_I8_GROUP / 4 : Kq;           \
                __m256i c0[MRC], c1[MRC];                                                          \
                _Pragma("GCC unroll 4") for (int i = 0; i < MRC; i++) c0[i] = c1[i] = _mm256_setzero_si256(); \
                for (; k4 < e4; k4++) {                                                            \
                    const __m128i *wp = (const __m128i *)(const void *)(Bq + k4 * 128);            \
                    const __m256i w0 = _mm256_cvtepu8_epi16(_mm_loadu_si128(wp));                  \
                    const __m256i w1 = _mm256_cvtepu8_epi16(_mm_loadu_si128(wp + 1));              \
                    _Pragma("GCC unroll 4") for (int i = 0; i < MRC; i++) {                        \
                        int64_t xv;                                                                \
                        memcpy(&xv, (const uint8_t *)Xq + i * ldq + 8 * k4, 8);                    \
                        const __m256i a = _mm256_set1_epi64x(xv);                                  \
                        c0[i] = _mm256_add_epi32(_mm256_madd_epi16(w0, a), c0[i]);                 \
                        c1[i] = _mm256_add_epi32(_mm256_madd_epi16(w1, a), c1[i]);                 \
                        XF_PIN(c0[i]);                                                             \
                        XF_PIN(c1[i]);                                                             \
                    }                                                                              \
                }                                                                                  \
                _Pragma("GCC unroll 4") for (int i = 0; i < MRC; i++) {                            \
                    /* lanes (c0: channels 0-3, c1: 4-7, two per channel) -> channels 0..7 */      \
                    __m256i d = _mm256_permute4x64_epi64(_mm256_hadd_epi32(c0[i], c1[i]), 0xd8);   \
                    d = _mm256_sub_epi32(d, _mm256_set1_epi32(xs[i * G + g] * 128));               \
                    f[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(sx[i * G + g]), f[i]); \
                }                                                                                  \
            }                                                                                      \
            _Pragma("GCC unroll 4") for (int i = 0; i < MRC; i++)                                  \
                avx2_store(f[i], sw + 8 * qc, bias ? bias + 8 * qc : NULL, Y + i * ldy + 8 * qc, nr - 8 * qc); \
        }                                                                                          \
    }

/* y[j] = fma(f[j], sw[j], bias[j]) for the n < 8 (or all 8) channels of a quarter panel. */
XF_TAVX2 static inline __attribute__((always_inline)) void avx2_store(__m256 f, const float *sw, const float *bias,
                                                                      float *y, size_t n) {
    if (n >= 8) {
        const __m256 b = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
        _mm256_storeu_ps(y, _mm256_fmadd_ps(f, _mm256_loadu_ps(sw), b));
        return;
    }
    float t[8];
    _mm256_storeu_ps(t, f);
    for (size_t j = 0; j < n; j++) y[j] = fmaf(t[j], sw[j], bias ? bias[j] : 0.0f);
}
MICROAVX2(1) MICROAVX2(2) MICROAVX2(3) MICROAVX2(4)

static void micro_avx2(size_t mr, const void *Xq, size_t ldq, const float *sx, const int32_t *xs, size_t G,
                       const uint8_t *B, size_t K, const float *sw, const float *bias, float *Y, size_t ldy,
                       size_t nr) {
    switch (mr) {
    case 1: avx2_1(Xq, ldq, sx, xs, G, B, K, sw, bias, Y, ldy, nr); break;
    case 2: avx2_2(Xq, ldq, sx, xs, G, B, K, sw, bias, Y, ldy, nr); break;
    case 3: avx2_3(Xq, ldq, sx, xs, G, B, K, sw, bias, Y, ldy, nr); break;
    default: avx2_4(Xq, ldq, sx, xs, G, B, K, sw, bias, Y, ldy, nr); break;
    }
}

/* AVX-VNNI (VEX vpdpbusd, no AVX-512: Alder Lake, Sierra Forest and later): the VNNI kernel's
 * operations on 256-bit vectors — MRC rows x 16 channels (half a panel: channels 16h .. 16h+15 are
 * the bytes 64h .. 64h+63 of each k4 step) per pass, 2 MRC int32 accumulators for the current
 * group; the float sums, updated once a group, live in memory (16 ymm registers hold no more).
 * Same integers, same group-end and final steps in the same order: the bits of every other ISA.
 * Per 32 products one vpdpbusd, against two vpmaddwd + two vpaddd on the AVX2 path.
 * MICRO256(P, T, DP, MRC) defines P_MRC with target attribute T and DP(c, b, a) as the step c +=
 * the 4-byte dot products of unsigned b and signed a (vpdpbusd's). */
#define XF_TAVXVNNI __attribute__((target("avx2,fma,avxvnni")))
#define MICRO256(P, T, DP, MRC)                                                                         \
    T static void P##_##MRC(const void *Xq, size_t ldq, const float *sx, const int32_t *xs, size_t G,      \
                            const uint8_t *B, size_t K, const float *sw, const float *bias, float *Y,      \
                            size_t ldy, size_t nr) {                                                       \
        const size_t Kq = ceil4(K) / 4;                                                            \
        for (size_t h = 0; h < 2 && 16 * h < nr; h++) {                                            \
            const uint8_t *Bh = B + 64 * h;                                                        \
            float fs[MRC][16];                                                                     \
            memset(fs, 0, sizeof fs);                                                              \
            for (size_t g = 0, k4 = 0; k4 < Kq; g++) {                                             \
                const size_t e4 = k4 + XF_I8_GROUP / 4 < Kq ? k4 + XF_I8_GROUP / 4 : Kq;           \
                __m256i c0[MRC], c1[MRC];                                                          \
                /* the sums start at -128 x the group's activation sum (weights carry +128) */     \
                _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) c0[i] = c1[i] = _mm256_set1_epi32(-128 * xs[i * G + g]); \
                for (; k4 < e4; k4++) {                                                            \
                    const __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)(Bh + k4 * 128)); \
                    const __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(Bh + k4 * 128 + 32)); \
                    _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) {                        \
                        int32_t xv;                                                                \
                        memcpy(&xv, (const int8_t *)Xq + i * ldq + 4 * k4, 4);                     \
                        const __m256i a = _mm256_set1_epi32(xv);                                   \
                        c0[i] = DP(c0[i], b0, a);                                                  \
                        c1[i] = DP(c1[i], b1, a);                                                  \
                        XF_PIN(c0[i]);                                                             \
                        XF_PIN(c1[i]);                                                             \
                    }                                                                              \
                }                                                                                  \
                _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) {                            \
                    const __m256 sc = _mm256_set1_ps(sx[i * G + g]);                               \
                    _mm256_storeu_ps(fs[i], _mm256_fmadd_ps(_mm256_cvtepi32_ps(c0[i]), sc, _mm256_loadu_ps(fs[i]))); \
                    _mm256_storeu_ps(fs[i] + 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(c1[i]), sc, _mm256_loadu_ps(fs[i] + 8))); \
                }                                                                                  \
            }                                                                                      \
            for (int i = 0; i < MRC; i++)                                                          \
                for (size_t q = 0; q < 2 && 16 * h + 8 * q < nr; q++) {                            \
                    const size_t c = 16 * h + 8 * q;                                               \
                    avx2_store(_mm256_loadu_ps(fs[i] + 8 * q), sw + c, bias ? bias + c : NULL, Y + i * ldy + c, nr - c); \
                }                                                                                  \
        }                                                                                          \
    }
#define DPVNNI(c, b, a) _mm256_dpbusd_avx_epi32(c, b, a)
#define MICROAVXVNNI(MRC) MICRO256(avxvnni, XF_TAVXVNNI, DPVNNI, MRC)
MICROAVXVNNI(1) MICROAVXVNNI(2) MICROAVXVNNI(3) MICROAVXVNNI(4) MICROAVXVNNI(5) MICROAVXVNNI(6)
/* AVX2 on 7-bit rows (quantize_row7_avx2; gemm_i8.h), MRC rows x 16 channels per pass: per 4
 * inputs of a row, vpmaddubsw (pairs (wq + 128) x, |.| <= 2 * 255 * 63 < 2^15: no saturation) and
 * vpmaddwd by the group's multiple mu_g (pairs into int32) + vpaddd into one int32 sum per row and
 * channel for the whole row, started at -128 x sum_g mu_g x_g: no per-group float step (which cost
 * ~10 % of the time with a float scale per group). 4 rows: 8 sums, 4 multiples, 2 weight vectors,
 * the broadcast and a temporary fill the 16 ymm registers. Per 32 products 3 operations, against 4
 * FMAs for the fp32 GEMM's 32. */
/* Row r's step: c0##r / c1##r += the products of the broadcast 4 inputs with b0 / b1, times m##r. */
#define U7STEP(r)                                                                                        \
    do {                                                                                                 \
        int32_t xv;                                                                                      \
        memcpy(&xv, (const int8_t *)Xq + (r) * ldq + 4 * k4, 4);                                         \
        const __m256i a = _mm256_set1_epi32(xv);                                                         \
        c0##r = _mm256_add_epi32(c0##r, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, a), m##r));           \
        c1##r = _mm256_add_epi32(c1##r, _mm256_madd_epi16(_mm256_maddubs_epi16(b1, a), m##r));           \
    } while (0)
#define U7INIT(r) __m256i c0##r = _mm256_set1_epi32(-128 * xs[(r) * G + ng]), c1##r = c0##r, m##r
#define U7MU(r) m##r = _mm256_set1_epi16((short)xs[(r) * G + g])
#define U7OUT(r) u7_out(c0##r, c1##r, sx[(r) * G + ng], sw, bias, Y + (r) * ldy, h, nr)
/* The end of a row's pass: (float)acc * u, then fma with the channel scales and bias. */
XF_TAVX2 static inline __attribute__((always_inline)) void u7_out(__m256i c0, __m256i c1, float us, const float *sw,
                                                                  const float *bias, float *y, size_t h, size_t nr) {
    const __m256 u = _mm256_set1_ps(us);
    const __m256 f[2] = {_mm256_mul_ps(_mm256_cvtepi32_ps(c0), u), _mm256_mul_ps(_mm256_cvtepi32_ps(c1), u)};
    for (size_t q = 0; q < 2 && 16 * h + 8 * q < nr; q++) {
        const size_t c = 16 * h + 8 * q;
        avx2_store(f[q], sw + c, bias ? bias + c : NULL, y + c, nr - c);
    }
}
/* ROWS(X) lists X(r) for the kernel's rows; the accumulators are named variables, not an array,
 * which GCC 12 keeps in registers across the group loop (an array it spills). */
#define MICROU7(NAME, ROWS)                                                                               \
    XF_TAVX2 static void NAME(const void *Xq, size_t ldq, const float *sx, const int32_t *xs, size_t G,   \
                              const uint8_t *B, size_t K, const float *sw, const float *bias, float *Y,   \
                              size_t ldy, size_t nr) {                                                    \
        const size_t Kq = ceil4(K) / 4, ng = G - 1;                                                       \
        for (size_t h = 0; h < 2 && 16 * h < nr; h++) {                                                   \
            const uint8_t *Bh = B + 64 * h;                                                               \
            ROWS(U7INIT, ;);                                                                              \
            for (size_t g = 0, k4 = 0; k4 < Kq; g++) {                                                    \
                const size_t e4 = k4 + XF_I8_GROUP / 4 < Kq ? k4 + XF_I8_GROUP / 4 : Kq;                  \
                ROWS(U7MU, ;);                                                                            \
                for (; k4 < e4; k4++) {                                                                   \
                    const __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)(Bh + k4 * 128)); \
                    const __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(Bh + k4 * 128 + 32)); \
                    ROWS(U7STEP, ;);                                                                      \
                }                                                                                         \
            }                                                                                             \
            ROWS(U7OUT, ;);                                                                               \
        }                                                                                                 \
    }
#define U7ROWS4(X, S) X(0) S X(1) S X(2) S X(3)
#define U7ROWS1(X, S) X(0)
MICROU7(avx2u7_4, U7ROWS4)
MICROU7(avx2u7_1, U7ROWS1)
static void micro_avx2u7(size_t mr, const void *Xq, size_t ldq, const float *sx, const int32_t *xs, size_t G,
                         const uint8_t *B, size_t K, const float *sw, const float *bias, float *Y, size_t ldy,
                         size_t nr) {
    if (mr == 4) {
        avx2u7_4(Xq, ldq, sx, xs, G, B, K, sw, bias, Y, ldy, nr);
        return;
    }
    for (size_t i = 0; i < mr; i++) /* the last 1-3 rows of a block */
        avx2u7_1((const int8_t *)Xq + i * ldq, ldq, sx + i * G, xs + i * G, G, B, K, sw, bias, Y + i * ldy, ldy, nr);
}
MICRO6(avxvnni)
#endif

/* Prepared rows: int8 (generic, AVX-VNNI, VNNI) or int16 (AVX2) quantized activations, groups of 64. */
static size_t rows8(size_t K) { return ceil4(K); }
static size_t rows16(size_t K) { return 2 * ceil4(K); }
static size_t panel_bytes(size_t K) { return ceil4(K) * NR; }
static void prep8(const float *x, size_t K, void *row, float *sx, int32_t *xs) { xf_i8_quantize_row(x, K, row, sx, xs); }
static void prep7(const float *x, size_t K, void *row, float *sx, int32_t *xs) { quantize_row7(x, K, row, sx, xs); }
static size_t groups_u7(size_t K) { return n_groups(K) + 1; } /* + the unit and the correction */
#ifdef XF_X86
static void prep8v(const float *x, size_t K, void *row, float *sx, int32_t *xs) { quantize_row_avx512(x, K, row, sx, xs); }
static void prep8a(const float *x, size_t K, void *row, float *sx, int32_t *xs) { quantize_row_avx2(x, K, row, NULL, sx, xs); }
static void prep16a(const float *x, size_t K, void *row, float *sx, int32_t *xs) { quantize_row_avx2(x, K, NULL, row, sx, xs); }
static void prep7a(const float *x, size_t K, void *row, float *sx, int32_t *xs) { quantize_row7_avx2(x, K, row, sx, xs); }
#endif

static const xf_panel_kernel k_i8[XF_I8_ISA_COUNT] = {
    [XF_I8_GENERIC] = {"generic", micro_generic, 4, rows8, n_groups, panel_bytes, prep8},
#ifdef XF_X86
    [XF_I8_AVX2] = {"avx2", micro_avx2, 4, rows16, n_groups, panel_bytes, prep16a},
    [XF_I8_AVXVNNI] = {"avx-vnni", micro_avxvnni, 6, rows8, n_groups, panel_bytes, prep8a},
    [XF_I8_VNNI] = {"avx512-vnni", micro_vnni, 6, rows8, n_groups, panel_bytes, prep8v},
#endif
#ifdef XF_AMX
    [XF_I8_AMX] = {"amx-int8", xf_i8_micro_amx, 32, rows8, n_groups, panel_bytes, prep8v},
#endif
};

int xf_i8_isa_supported(xf_i8_isa isa) {
    if (isa < 0 || isa >= XF_I8_ISA_COUNT || !k_i8[isa].micro) return 0;
    if (isa == XF_I8_VNNI) return xf_cpu_has(XF_CPU_AVX512_VNNI);
    if (isa == XF_I8_AMX) return xf_cpu_has(XF_CPU_AMX_INT8);
    if (isa == XF_I8_AVX2) return xf_isa_level() >= XF_ISA_AVX2;
    if (isa == XF_I8_AVXVNNI) return xf_cpu_has(XF_CPU_AVX_VNNI);
    return 1;
}

xf_i8_isa xf_i8_isa_best(void) {
    int b = XF_I8_GENERIC;
    for (int i = 0; i < XF_I8_ISA_COUNT; i++)
        if (xf_i8_isa_supported((xf_i8_isa)i)) b = i;
    return (xf_i8_isa)b;
}

/* 7-bit activations (xf_gemm_i8_u7), outside the ISA table: other numerics, the AVX2 kernel and its
 * portable twin. */
static const xf_panel_kernel k_i8_u7[2] = {
    {"generic-u7", micro_generic_u7, 4, rows8, groups_u7, panel_bytes, prep7},
#ifdef XF_X86
    {"avx2-u7", micro_avx2u7, 4, rows8, groups_u7, panel_bytes, prep7a},
#endif
};
static const xf_panel_kernel *u7_kernel(void) {
#ifdef XF_X86
    if (xf_isa_level() >= XF_ISA_AVX2) return &k_i8_u7[1];
#endif
    return &k_i8_u7[0];
}

int xf_i8_act_max(void) {
    static atomic_int exact = -1; /* XF_I8_EXACT, parsed once */
    int e = atomic_load_explicit(&exact, memory_order_relaxed);
    if (e < 0) {
        const char *v = getenv("XF_I8_EXACT");
        e = v && *v && strcmp(v, "0") != 0;
        atomic_store_explicit(&exact, e, memory_order_relaxed);
    }
#ifdef XF_X86
    if (!e && xf_i8_isa_best() == XF_I8_AVX2) return 63;
#endif
    return 127;
}

const char *xf_i8_isa_name(xf_i8_isa isa) {
    return isa >= 0 && isa < XF_I8_ISA_COUNT && k_i8[isa].name ? k_i8[isa].name : "?";
}

void xf_gemm_i8_isa(xf_i8_isa isa, const float *X, size_t ldx, size_t T, const uint8_t *packed,
                    const float *scale, const float *bias, float *Y, size_t ldy, size_t n0, size_t n1, size_t K,
                    float *scratch, size_t scratch_floats) {
    xf_panel_gemm(&k_i8[isa], X, ldx, T, packed, scale, bias, Y, ldy, n0, n1, K, scratch,
                  scratch_floats * sizeof(float));
}

void xf_gemm_i8_u7(const float *X, size_t ldx, size_t T, const uint8_t *packed, const float *scale, const float *bias,
                   float *Y, size_t ldy, size_t n0, size_t n1, size_t K, float *scratch, size_t scratch_floats) {
    xf_panel_gemm(u7_kernel(), X, ldx, T, packed, scale, bias, Y, ldy, n0, n1, K, scratch, scratch_floats * sizeof(float));
}

void xf_gemm_i8_ref(const float *X, size_t ldx, size_t T, const float *W, size_t ldw, const float *bias, float *Y,
                    size_t ldy, size_t N, size_t K, int act_max) {
    for (size_t o = 0; o < N; o++) {
        const float *w = W + o * ldw;
        float sw = absmax(w, K) / 127.0f, iw = sw > 0.0f ? 1.0f / sw : 0.0f;
        for (size_t t = 0; t < T; t++) {
            const float *x = X + t * ldx;
            if (act_max == 63) { /* two-level scales: sum_g mu_g dot_g in integers, then times u */
                const size_t ng = n_groups(K);
                float inv[XF_I8_MAX_K / XF_I8_GROUP + 1], u;
                int32_t mu[XF_I8_MAX_K / XF_I8_GROUP + 1];
                for (size_t g = 0; g < ng; g++) inv[g] = absmax(x + g * XF_I8_GROUP, K - g * XF_I8_GROUP < XF_I8_GROUP ? K - g * XF_I8_GROUP : XF_I8_GROUP);
                xf_i8_u7_scales(ng, K, inv, mu, &u);
                int64_t acc = 0;
                for (size_t k = 0; k < K; k++) {
                    int q = q8(x[k] * inv[k / XF_I8_GROUP]);
                    q = q > 63 ? 63 : q < -63 ? -63 : q;
                    acc += (int64_t)mu[k / XF_I8_GROUP] * q * q8(w[k] * iw);
                }
                Y[t * ldy + o] = fmaf((float)(int32_t)acc * u, sw, bias ? bias[o] : 0.0f);
                continue;
            }
            float f = 0.0f;
            for (size_t k0 = 0; k0 < K; k0 += XF_I8_GROUP) {
                size_t k1 = k0 + XF_I8_GROUP < K ? k0 + XF_I8_GROUP : K;
                float sx = absmax(x + k0, k1 - k0) / (float)act_max, ix = sx > 0.0f ? 1.0f / sx : 0.0f;
                int32_t dot = 0;
                for (size_t k = k0; k < k1; k++) dot += q8(x[k] * ix) * q8(w[k] * iw);
                f = fmaf((float)dot, sx, f);
            }
            Y[t * ldy + o] = fmaf(f, sw, bias ? bias[o] : 0.0f);
        }
    }
}

size_t xf_i8_scratch_bytes(size_t K) {
    size_t b = 0;
    for (int i = 0; i < XF_I8_ISA_COUNT; i++)
        if (k_i8[i].micro && xf_panel_scratch_bytes(&k_i8[i], K) > b) b = xf_panel_scratch_bytes(&k_i8[i], K);
    for (size_t i = 0; i < sizeof k_i8_u7 / sizeof k_i8_u7[0]; i++)
        if (xf_panel_scratch_bytes(&k_i8_u7[i], K) > b) b = xf_panel_scratch_bytes(&k_i8_u7[i], K);
    return b;
}

static const xf_panel_kernel *matmul_kernel(void) {
    return xf_i8_act_max() == 63 ? u7_kernel() : &k_i8[xf_i8_isa_best()];
}

void xf_matmul_i8(xf_pool *pool, const float *X, size_t ldx, size_t T, const uint8_t *packed, const float *scale,
                  const float *bias, float *Y, size_t ldy, size_t N, size_t K) {
    xf_panel_matmul(pool, matmul_kernel(), X, ldx, T, packed, scale, bias, Y, ldy, N, K);
}

void xf_matmul_i8_many(xf_pool *pool, size_t n, const xf_panel_op *ops, const float *X, size_t ldx, size_t T,
                       size_t K) {
    xf_panel_matmul_many(pool, matmul_kernel(), n, ops, X, ldx, T, K);
}
