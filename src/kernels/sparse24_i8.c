/* sparse24_i8.c — 2:4 sparse weights with integer kept values (s24q8: int8, s24q4: 4-bit) times
 * int8 activations (see sparse24.h, "integer dots"): the activation quantizer, the scalar
 * reference, the AVX2 (vpshufb gather, vpmaddubsw) and AVX-512 VBMI + VNNI (vpermb gather,
 * vpdpbusd) kernels, all giving the same bits, and the s24q4 format (compression, rows back). */
#include "kernels/sparse24.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/cpu.h"
#include "kernels/gemm_i8.h"
#include "kernels/matmul.h"
#include "kernels/sparse24_sum.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define XF_X86 1
#endif

#define CH 64 /* kept values per chunk (128 inputs): 16 int32 lanes of 4 products */
#define TB 4  /* activation rows per kernel call */
#define OB 32 /* weight rows per block */
#ifndef S24I_PF
#define S24I_PF 1536 /* bytes ahead in the values stream that the kernel prefetches into L1 */
#endif
/* and into L2 (indices a quarter as far), as the dense int8 kernel does: on a Xeon (Sapphire
 * Rapids) with the weights from memory, the 8-bit kernel went from 1.29-1.45x to 1.39-1.57x less
 * time than dense Q8_0 (bench_qgemv --s24; docs/COMPRESSION.md) */
#ifndef S24I_PF_L2
#define S24I_PF_L2 8192
#endif

static size_t kpad(size_t K) { return (K + 127) / 128 * 128; }

int xf_s24i_supported(xf_s24i_isa isa) {
    switch (isa) {
    case XF_S24I_SCALAR: return 1;
#ifdef XF_X86
    case XF_S24I_AVX2: return xf_isa_level() >= XF_ISA_AVX2;
    case XF_S24I_VBMI:
        return xf_isa_level() >= XF_ISA_AVX512 && xf_cpu_has(XF_CPU_AVX512_VNNI) && xf_cpu_has(XF_CPU_AVX512_VBMI);
#endif
    default: return 0;
    }
}

xf_s24i_isa xf_s24i_best(void) {
    return xf_s24i_supported(XF_S24I_VBMI) ? XF_S24I_VBMI : xf_s24i_supported(XF_S24I_AVX2) ? XF_S24I_AVX2 : XF_S24I_SCALAR;
}

/* ---------------------------------------------------------------- activations */

size_t xf_s24i_act_bytes(size_t T, size_t K) {
    const size_t Kp = kpad(K);
    return T * Kp + T * (Kp / 8) * sizeof(float) + 2 * (K / 32 + 1) * sizeof(float);
}

/* Lane order of the AVX2 kernel within 8 lanes (an involution): lane j holds value group P[j]. */
static const int k_avx2_perm[8] = {0, 1, 4, 5, 2, 3, 6, 7};

void xf_s24i_act_quantize(xf_s24i_isa isa, const float *X, size_t ldx, size_t T, size_t K, void *act) {
    const size_t Kp = kpad(K), G = K / 32, L = Kp / 8;
    uint8_t *xu = act;
    float *dxe = (float *)(void *)(xu + T * Kp), *d = dxe + T * L;
    int32_t *s = (int32_t *)(void *)(d + G + 1);
    for (size_t t = 0; t < T; t++) {
        uint8_t *u = xu + t * Kp;
        xf_i8_quantize_groups(X + t * ldx, K, 32, (int8_t *)u, d, s);
        for (size_t k = 0; k < K; k++) u[k] ^= 0x80; /* q + 128 */
        memset(u + K, 0x80, Kp - K);
        float *e = dxe + t * L;
        for (size_t i = 0; i < L; i++) e[i] = i < K / 8 ? d[i / 4] : 0.0f;
        if (isa == XF_S24I_AVX2)
            for (size_t i = 0; i < L; i += 8) {
                float tmp[8];
                for (int j = 0; j < 8; j++) tmp[j] = e[i + (size_t)k_avx2_perm[j]];
                memcpy(e + i, tmp, sizeof tmp);
            }
    }
}

/* ---------------------------------------------------------------- the two value formats */

/* s24q8 parts (sparse24.c's layout): scales float[N], values int8[N][V], indices [N][IB]. */
typedef struct {
    int bits;              /* 8 or 4 */
    const uint8_t *vals;   /* the row's values: V int8 or V / 2 bytes of nibbles */
    const uint8_t *ix;     /* the row's indices */
    const uint16_t *ws;    /* 4-bit: the row's half scales, one per 16 values */
    float scale;           /* 8-bit: the row's scale */
} s24row;

static inline __attribute__((always_inline)) s24row row_at(int bits, const uint8_t *c, size_t N, size_t K, size_t o) {
    const size_t V = K / 2, IB = xf_s24_idx_row_bytes(K);
    s24row r;
    r.bits = bits;
    if (bits == 8) {
        r.scale = ((const float *)(const void *)c)[o];
        r.vals = c + N * sizeof(float) + o * V;
        r.ix = c + N * sizeof(float) + N * V + o * IB;
        r.ws = NULL;
    } else {
        r.scale = 1.0f;
        r.ws = (const uint16_t *)(const void *)c + o * (V / 16);
        r.vals = c + N * (V / 16) * 2 + o * (V / 2);
        r.ix = c + N * (V / 16) * 2 + N * (V / 2) + o * IB;
    }
    return r;
}

/* Integer kept value j of a row. 4-bit: chunk of m values (m = 64 but the last), byte i of the
 * chunk holds value i (low nibble) and value i + m / 2 (high), stored + 8. */
static int val_at(const s24row *r, size_t V, size_t j) {
    if (r->bits == 8) return ((const int8_t *)r->vals)[j];
    const size_t c = j / CH * CH, m = V - c < CH ? V - c : CH, i = j - c, h = m / 2;
    const uint8_t b = r->vals[c / 2 + (i < h ? i : i - h)];
    return (i < h ? b & 15 : b >> 4) - 8;
}

size_t xf_s24q4_bytes(size_t N, size_t K) {
    const size_t V = K / 2, row = (V / 16) * 2 + V / 2 + xf_s24_idx_row_bytes(K);
    if (N && row > ((size_t)-1 - 64) / N) return 0;
    return N * row;
}

/* given: the half scales to use (uint16[N][V / 16]), NULL: Q4_0's rule on each 16 values. */
static void q4_from_s24(const uint8_t *s24, size_t N, size_t K, const uint16_t *given, uint8_t *out);
void xf_s24q4_from_s24(const uint8_t *s24, size_t N, size_t K, uint8_t *out) { q4_from_s24(s24, N, K, NULL, out); }
void xf_s24q4_from_s24_scaled(const uint8_t *s24, size_t N, size_t K, const uint16_t *scales, uint8_t *out) {
    q4_from_s24(s24, N, K, scales, out);
}

static void q4_from_s24(const uint8_t *s24, size_t N, size_t K, const uint16_t *given, uint8_t *out) {
    const size_t V = K / 2, IB = xf_s24_idx_row_bytes(K);
    for (size_t o = 0; o < N; o++) {
        const float *v = (const float *)(const void *)s24 + o * V;
        uint16_t *ws = (uint16_t *)(void *)out + o * (V / 16);
        uint8_t *nib = out + N * (V / 16) * 2 + o * (V / 2);
        int8_t q[CH];
        for (size_t c = 0; c < V; c += CH) {
            const size_t m = V - c < CH ? V - c : CH;
            for (size_t g = c; g < c + m; g += 16) { /* Q4_0's rule: the largest magnitude maps to -8 */
                float mx = 0;
                for (size_t j = g; j < g + 16; j++) mx = fabsf(v[j]) > fabsf(mx) ? v[j] : mx;
                ws[g / 16] = given ? given[o * (V / 16) + g / 16] : xf_f32_to_f16(mx / -8.0f);
                const float d = xf_f16_to_f32(ws[g / 16]), id = d != 0.0f ? 1.0f / d : 0.0f;
                for (size_t j = g; j < g + 16; j++) {
                    const long r = lrintf(v[j] * id);
                    q[j - c] = (int8_t)(r > 7 ? 7 : r < -8 ? -8 : r);
                }
            }
            for (size_t i = 0; i < m / 2; i++)
                nib[c / 2 + i] = (uint8_t)((q[i] + 8) | (q[i + m / 2] + 8) << 4);
        }
        memcpy(out + N * (V / 16) * 2 + N * (V / 2) + o * IB, s24 + N * V * sizeof(float) + o * IB, IB);
    }
}

void xf_s24q4_decompress_rows(const uint8_t *c, size_t N, size_t K, size_t r0, size_t r1, float *out) {
    const size_t V = K / 2;
    for (size_t o = r0; o < r1; o++) {
        const s24row r = row_at(4, c, N, K, o);
        float *d = out + (o - r0) * K;
        memset(d, 0, K * sizeof *d);
        for (size_t j = 0; j < V; j++)
            d[4 * (j / 2) + ((r.ix[j / 4] >> (2 * (j % 4))) & 3)] = (float)val_at(&r, V, j) * xf_f16_to_f32(r.ws[j / 16]);
    }
}

/* ---------------------------------------------------------------- kernels: one weight row
 * against activation rows [0, nt) (nt <= TB) of a quantized block; out[t] the row's 16-lane sum */


static void row_ref(const s24row *r, size_t V, const uint8_t *xu, size_t Kp, const float *dxe, size_t nt, float *out) {
    for (size_t t = 0; t < nt; t++) {
        const uint8_t *x = xu + t * Kp;
        const float *e = dxe + t * (Kp / 8);
        float acc[16] = {0};
        for (size_t c = 0; c < V; c += CH)
            for (size_t i = 0; i < 16; i++) {
                const size_t j0 = c + 4 * i;
                int32_t p = 0;
                float f = 0.0f;
                if (j0 < V) {
                    for (size_t j = j0; j < j0 + 4; j++)
                        p += val_at(r, V, j) * ((int)x[4 * (j / 2) + ((r->ix[j / 4] >> (2 * (j % 4))) & 3)] - 128);
                    f = r->bits == 8 ? e[j0 / 4] : xf_f16_to_f32(r->ws[j0 / 16]) * e[j0 / 4];
                }
                acc[i] = fmaf((float)p, f, acc[i]);
            }
        out[t] = xf_s24_reduce16(acc);
    }
}

static inline float row_out(int bits, float s, float scale, const float *bias, size_t o);

#ifdef XF_X86
#define T_AVX2 __attribute__((target("avx2,fma,f16c")))
#define T_VBMI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512vnni")))


/* The 32 2-bit indices of `bits` one to a byte, 16-bit word q of `bits` (8 indices) in qword
 * (0, 2, 1, 3)[q] of the result: vpshufb puts the word's two bytes at bytes 0 and 4 of its qword,
 * then two shift-or-mask steps split each byte into nibbles (bytes 0, 2, 4, 6) and each nibble
 * into its two indices. Vector instructions only: pdep, which did this before, is microcoded on
 * AMD Zen 1 / Zen 2 (tens of cycles for these masks). */
T_AVX2 static inline __attribute__((always_inline)) __m256i spread_avx2(uint64_t bits) {
    const __m256i pick = _mm256_setr_epi8(0, -1, -1, -1, 1, -1, -1, -1, 4, -1, -1, -1, 5, -1, -1, -1, /* words 0, 2 */
                                          2, -1, -1, -1, 3, -1, -1, -1, 6, -1, -1, -1, 7, -1, -1, -1); /* words 1, 3 */
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi64x((long long)bits), pick);
    v = _mm256_and_si256(_mm256_or_si256(v, _mm256_slli_epi64(v, 12)), _mm256_set1_epi64x(0x000F000F000F000Fll));
    return _mm256_and_si256(_mm256_or_si256(v, _mm256_slli_epi64(v, 6)), _mm256_set1_epi8(3));
}

/* AVX2: per 32 values, the 2-bit indices spread to bytes (spread_avx2) and ORed with the group bases
 * into a vpshufb control whose 128-bit lane L holds values 8L..8L+7 (bytes 0-7) and 16+8L..
 * (bytes 8-15); the inputs 0-31 and 32-63 shuffled by it and blended give the 32 selected
 * activations in the qword order of the values permuted by vpermq 0xD8; products by the sign
 * trick (|w| x sign(x, w), pairs < 2^15). Lanes come out in k_avx2_perm's order, which the
 * activation factors are stored in; the two halves' sums are put back in order at the end. */
/* Half h of a chunk, values j0 .. j0 + 31 of the row (j0 = c + 32 h): their int8 values w, their 8
 * index bytes as one word, ws the lanes' value scales (4-bit; NULL: none), against activation rows
 * [0, nt), into acc[t]. */
T_AVX2 static inline __attribute__((always_inline)) void half_avx2(__m256i w, uint64_t bits, const __m256 *ws,
                                                                   const uint8_t *xu, size_t Kp, const float *dxe,
                                                                   size_t j0, const size_t nt, __m256 acc[TB]) {
    const __m256i base = _mm256_set1_epi64x(0x0c0c080804040000ll), x80 = _mm256_set1_epi8((char)0x80);
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i ctl = _mm256_or_si256(spread_avx2(bits), base);
    const __m256i wp = _mm256_permute4x64_epi64(w, 0xD8), wa = _mm256_abs_epi8(wp);
#pragma GCC unroll 4
    for (size_t t = 0; t < nt; t++) {
        const uint8_t *x = xu + t * Kp + 2 * j0;
        const __m256i ga = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(const void *)x), ctl);
        const __m256i gb = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(x + 32)), ctl);
        const __m256i g = _mm256_xor_si256(_mm256_blend_epi32(ga, gb, 0xCC), x80);
        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(wa, _mm256_sign_epi8(g, wp)), ones);
        __m256 f = _mm256_loadu_ps(dxe + t * (Kp / 8) + j0 / 4);
        if (ws) f = _mm256_mul_ps(*ws, f);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), f, acc[t]);
    }
}

/* The weight streams of chunk c ahead of the hardware prefetchers, as the VBMI kernels'. */
T_AVX2 static inline __attribute__((always_inline)) void prefetch_chunk(const s24row *r, size_t c) {
    const char *vp = (const char *)r->vals + (r->bits == 8 ? c : c / 2);
    _mm_prefetch(vp + S24I_PF_L2, _MM_HINT_T1);
    _mm_prefetch(vp + S24I_PF, _MM_HINT_T0);
    _mm_prefetch((const char *)r->ix + c / 4 + S24I_PF_L2 / 4, _MM_HINT_T1);
    _mm_prefetch((const char *)r->ix + c / 4 + S24I_PF / 4, _MM_HINT_T0);
}

/* Row o's 16-lane sum from the two halves' accumulators (lanes in k_avx2_perm's order). */
T_AVX2 static inline __attribute__((always_inline)) float sum_avx2(__m256 a0, __m256 a1) {
    const __m256i unperm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    return xf_s24_reduce8(_mm256_permutevar8x32_ps(_mm256_add_ps(a0, a1), unperm));
}

/* A 4-bit chunk's 4 half scales (one per 16 values) as the two halves' lane factors: (s0, s0, s1,
 * s1, s0, s0, s1, s1) for values 0-31 (lanes in k_avx2_perm's order) and the same of s2, s3. */
T_AVX2 static inline __attribute__((always_inline)) void scales_q4_avx2(uint64_t halves, __m256 ws[2]) {
    const __m256 s = _mm256_castps128_ps256(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)halves)));
    ws[0] = _mm256_permutevar8x32_ps(s, _mm256_setr_epi32(0, 0, 1, 1, 0, 0, 1, 1));
    ws[1] = _mm256_permutevar8x32_ps(s, _mm256_setr_epi32(2, 2, 3, 3, 2, 2, 3, 3));
}

/* The values of a 4-bit row's last chunk (m = 16, 32 or 48 values in m / 2 bytes: value i in the
 * low nibble of byte i, value i + m / 2 in the high one) as int8 in w[0] (values 0-31) and w[1]
 * (32-63), zeros past m; k[h] the dword masks of the values that exist. */
T_AVX2 static inline __attribute__((always_inline)) void tail_q4_avx2(const uint8_t *p, size_t m, const __m256i k[2],
                                                                      __m256i w[2]) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), f = _mm256_set1_epi8(15);
    const __m256i b = _mm256_maskload_epi32((const int *)(const void *)p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(m / 8)), iota));
    const __m256i lo = _mm256_and_si256(b, f), hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), f);
    const __m128i l0 = _mm256_castsi256_si128(lo), l1 = _mm256_extracti128_si256(lo, 1);
    const __m128i h0 = _mm256_castsi256_si128(hi), h1 = _mm256_extracti128_si256(hi, 1), z = _mm_setzero_si128();
    __m128i a[4] = {z, z, z, z}; /* values 0-15, 16-31, 32-47, 48-63 */
    if (m == 16) a[0] = _mm_unpacklo_epi64(l0, h0);
    else if (m == 32) a[0] = l0, a[1] = h0;
    else a[0] = l0, a[1] = _mm_unpacklo_epi64(l1, h0), a[2] = _mm_alignr_epi8(h1, h0, 8);
    const __m256i e8 = _mm256_set1_epi8(8);
    w[0] = _mm256_sub_epi8(_mm256_setr_m128i(a[0], a[1]), _mm256_and_si256(e8, k[0]));
    w[1] = _mm256_sub_epi8(_mm256_setr_m128i(a[2], a[3]), _mm256_and_si256(e8, k[1]));
}

/* AVX2, weight rows [o0, o1) against activation rows [0, nt), values of `bits` bits (both
 * compile-time constants): the full chunks with their values, index words and (4-bit) scales read
 * in place, no copies and no branches on the width; the last partial chunk by masked loads. */
T_AVX2 static inline __attribute__((always_inline)) void rows_avx2_n(const int bits, const uint8_t *c, size_t N, size_t K,
                                                                     size_t o0, size_t o1, const uint8_t *xu, size_t Kp,
                                                                     const float *dxe, const size_t nt, const float *bias,
                                                                     float *Y, size_t ldy) {
    const size_t V = K / 2, full = V / CH * CH;
    for (size_t o = o0; o < o1; o++) {
        const s24row r = row_at(bits, c, N, K, o);
        __m256 acc[2][TB], ws[2];
        __m256i w[2];
        for (int h = 0; h < 2; h++)
#pragma GCC unroll 4
            for (size_t t = 0; t < nt; t++) acc[h][t] = _mm256_setzero_ps();
        for (size_t cc = 0; cc < full; cc += CH) {
            prefetch_chunk(&r, cc);
            uint64_t b0, b1;
            memcpy(&b0, r.ix + cc / 4, 8);
            memcpy(&b1, r.ix + cc / 4 + 8, 8);
            if (bits == 8) {
                w[0] = _mm256_loadu_si256((const __m256i *)(const void *)(r.vals + cc));
                w[1] = _mm256_loadu_si256((const __m256i *)(const void *)(r.vals + cc + 32));
            } else { /* nibbles: 32 bytes, values 0-31 low, 32-63 high, stored + 8 */
                const __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(r.vals + cc / 2));
                const __m256i f = _mm256_set1_epi8(15), e8 = _mm256_set1_epi8(8);
                w[0] = _mm256_sub_epi8(_mm256_and_si256(b, f), e8);
                w[1] = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(b, 4), f), e8);
                uint64_t s4;
                memcpy(&s4, r.ws + cc / 16, 8);
                scales_q4_avx2(s4, ws);
            }
            half_avx2(w[0], b0, bits == 8 ? NULL : &ws[0], xu, Kp, dxe, cc, nt, acc[0]);
            half_avx2(w[1], b1, bits == 8 ? NULL : &ws[1], xu, Kp, dxe, cc + 32, nt, acc[1]);
        }
        if (full < V) { /* the last m = 16, 32 or 48 values: masked loads by dwords, zeros past them */
            const size_t m = V - full;
            const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            const __m256i k[2] = {_mm256_cmpgt_epi32(_mm256_set1_epi32((int)(m < 32 ? m : 32) / 4), iota),
                                  _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(m > 32 ? m - 32 : 0) / 4), iota)};
            const __m128i ib = _mm_maskload_epi32((const int *)(const void *)(r.ix + full / 4),
                                                  _mm_cmpgt_epi32(_mm_set1_epi32((int)m / 16), _mm_setr_epi32(0, 1, 2, 3)));
            if (bits == 8) {
                w[0] = _mm256_maskload_epi32((const int *)(const void *)(r.vals + full), k[0]);
                w[1] = _mm256_maskload_epi32((const int *)(const void *)(r.vals + full + 32), k[1]);
            } else {
                tail_q4_avx2(r.vals + full / 2, m, k, w);
                /* the m / 16 half scales there are, zeros after them: 8 bytes read (the nibbles
                 * follow the scales in the buffer) and masked, not a memcpy call of m / 8 bytes */
                uint64_t s4;
                memcpy(&s4, r.ws + full / 16, 8);
                scales_q4_avx2(s4 & (~0ull >> (64 - m)), ws);
            }
            half_avx2(w[0], (uint64_t)_mm_cvtsi128_si64(ib), bits == 8 ? NULL : &ws[0], xu, Kp, dxe, full, nt, acc[0]);
            if (m > 32)
                half_avx2(w[1], (uint64_t)_mm_extract_epi64(ib, 1), bits == 8 ? NULL : &ws[1], xu, Kp, dxe, full + 32, nt,
                          acc[1]);
        }
#pragma GCC unroll 4
        for (size_t t = 0; t < nt; t++) Y[t * ldy + o] = row_out(bits, sum_avx2(acc[0][t], acc[1][t]), r.scale, bias, o);
    }
}

/* The rows functions' entry: ROWS(B, NT) (a macro of the caller's) with the value width and the
 * number of activation rows as constants, one copy of the kernel per pair. */
#define S24_ROWS_DISPATCH(ROWS)                                                                                    \
    do {                                                                                                           \
        if (bits == 8) {                                                                                           \
            switch (nt) {                                                                                          \
            case 1: ROWS(8, 1); return;                                                                            \
            case 2: ROWS(8, 2); return;                                                                            \
            case 3: ROWS(8, 3); return;                                                                            \
            default: ROWS(8, 4); return;                                                                           \
            }                                                                                                      \
        }                                                                                                          \
        switch (nt) {                                                                                              \
        case 1: ROWS(4, 1); return;                                                                                \
        case 2: ROWS(4, 2); return;                                                                                \
        case 3: ROWS(4, 3); return;                                                                                \
        default: ROWS(4, 4); return;                                                                               \
        }                                                                                                          \
    } while (0)

T_AVX2 static void rows_avx2(int bits, const uint8_t *c, size_t N, size_t K, size_t o0, size_t o1, const uint8_t *xu,
                             size_t Kp, const float *dxe, size_t nt, const float *bias, float *Y, size_t ldy) {
#define RA(B, NT) rows_avx2_n(B, c, N, K, o0, o1, xu, Kp, dxe, NT, bias, Y, ldy)
    S24_ROWS_DISPATCH(RA);
#undef RA
}

/* AVX-512 VBMI + VNNI: per 64 values, the 16 index bytes spread to one byte per value by
 * vpmultishiftqb (each byte's 2 bits at offset 2j of its qword) and ORed with the group bases:
 * an index into the chunk's 128 activation bytes (q + 128, unsigned), values 0-31 picking from
 * the first 64 bytes and 32-63 from the second by two vpermb, the second merge-masked into the
 * upper half (a port-5 uop each, where one vpermt2b is three: ~5 % faster in cache); vpdpbusd of
 * those with the signed values starts from -128 x the sum of each lane's 4 values (once per chunk,
 * for every activation row), so each lane is the exact sum of 4 products. */
static const uint8_t k_vbmi_ctl[64] = {
    0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42,
    44, 46, 48, 50, 52, 54, 56, 58, 60, 62, 0,  2,  4,  6,  8,  10, 12, 14, 16, 18, 20, 22,
    24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62};

/* One chunk of a row: its 64 values w (zeros past the row's end), its index bytes ibq (bytes 0-7
 * in qwords 0-3, bytes 8-15 in qwords 4-7), wsv the values' scales per lane (4-bit; NULL: none),
 * against activation rows [0, nt), into acc[t]. */
T_VBMI static inline __attribute__((always_inline)) void chunk_vbmi(__m512i w, __m512i ibq, const __m512 *wsv,
                                                                    const uint8_t *xu, size_t Kp, const float *dxe,
                                                                    size_t c, const size_t nt, __m512 acc[TB]) {
    const __m512i bases = _mm512_or_si512(_mm512_set1_epi64(0x0c0c080804040000ll), /* 4 x group */
                                          _mm512_set_epi64(0x7070707070707070ll, 0x6060606060606060ll,
                                                           0x5050505050505050ll, 0x4040404040404040ll,
                                                           0x3030303030303030ll, 0x2020202020202020ll,
                                                           0x1010101010101010ll, 0)); /* + 16 a qword */
    const __m512i sel = _mm512_multishift_epi64_epi8(_mm512_loadu_si512(k_vbmi_ctl), ibq);
    const __m512i pidx = _mm512_ternarylogic_epi32(sel, _mm512_set1_epi8(3), bases, 0xEA); /* (sel & 3) | bases */
    const __m512i zero = _mm512_setzero_si512();
    const __m512i neg = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, _mm512_set1_epi8((char)0x80), w));
#pragma GCC unroll 4
    for (size_t t = 0; t < nt; t++) {
        const uint8_t *x = xu + t * Kp + 2 * c;
        const __m512i g0 = _mm512_permutexvar_epi8(pidx, _mm512_loadu_si512(x)); /* values 0-31 right */
        const __m512i g = _mm512_mask_permutexvar_epi8(g0, (__mmask64)0xFFFFFFFF00000000ull, pidx, _mm512_loadu_si512(x + 64));
        const __m512i p = _mm512_dpbusd_epi32(neg, g, w);
        __m512 f = _mm512_loadu_ps(dxe + t * (Kp / 8) + c / 4);
        if (wsv) f = _mm512_mul_ps(*wsv, f);
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), f, acc[t]);
    }
}

/* The index bytes of a partial chunk (m < 64 values) in chunk_vbmi's qwords. */
T_VBMI static inline __attribute__((always_inline)) __m512i tail_ibq(const uint8_t *ix, size_t m) {
    const __m128i ib = _mm_maskz_loadu_epi8((__mmask16)((1u << (m / 4)) - 1), ix);
    return _mm512_permutexvar_epi64(_mm512_set_epi64(1, 1, 1, 1, 0, 0, 0, 0), _mm512_castsi128_si512(ib));
}

/* The values of a 4-bit chunk c of m values (m = 64: nibbles, values 0-31 low, 32-63 high; the
 * last, m < 64: m / 2 bytes, low nibbles then high ones) as int8 in w, zeros past m, and their half
 * scales (one per 16 values) in wsv's lanes. */
T_VBMI static inline __attribute__((always_inline)) void load_q4_vbmi(const s24row *r, size_t c, size_t m, __m512i *w,
                                                                      __m512 *wsv) {
    static const uint8_t k_iota[64] = {
        0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
        22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
        44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
    const __m512i sc4 = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    const __m512i f4 = _mm512_set1_epi8(15), e8 = _mm512_set1_epi8(8);
    if (m == CH) {
        const __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(r->vals + c / 2));
        const __m256i f = _mm256_set1_epi8(15);
        *w = _mm512_sub_epi8(_mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(b, f)),
                                                _mm256_and_si256(_mm256_srli_epi16(b, 4), f), 1),
                             e8);
        *wsv = _mm512_permutexvar_ps(sc4, _mm512_castps128_ps512(_mm_cvtph_ps(
                                              _mm_loadl_epi64((const __m128i *)(const void *)(r->ws + c / 16)))));
    } else {
        const size_t h = m / 2;
        const __mmask64 mm = ((__mmask64)1 << m) - 1;
        const __m512i b = _mm512_maskz_loadu_epi8(((__mmask64)1 << h) - 1, r->vals + c / 2);
        const __m512i lo = _mm512_and_si512(b, f4), hi = _mm512_and_si512(_mm512_srli_epi16(b, 4), f4);
        const __m512i iota = _mm512_loadu_si512(k_iota);
        const __m512i idx = _mm512_mask_add_epi8(iota, ~(((__mmask64)1 << h) - 1), iota, _mm512_set1_epi8((char)(64 - h)));
        *w = _mm512_maskz_sub_epi8(mm, _mm512_permutex2var_epi8(lo, idx, hi), e8);
        *wsv = _mm512_permutexvar_ps(sc4, _mm512_castps128_ps512(_mm_cvtph_ps(
                                              _mm_maskz_loadu_epi16((__mmask8)((1u << (m / 16)) - 1), r->ws + c / 16))));
    }
}

/* xf_s24_reduce8's tree (lanes j + 4, then j + 2, then j + 1) for 16 rows at once: h8[r] holds row
 * r's 8 first-level sums (acc[j] + acc[j + 8]), s[r] gets its total: the same additions. */
T_VBMI static inline __attribute__((always_inline)) void reduce8x16(const float h8[16][8], float s[16]) {
    static const int32_t k_pick[16] = {0, 8, 4, 12, 16, 24, 20, 28, 0, 8, 4, 12, 16, 24, 20, 28};
    __m512 q[4];
    for (int i = 0; i < 4; i++) {
        __m512 z0 = _mm512_loadu_ps(h8[4 * i]), z1 = _mm512_loadu_ps(h8[4 * i + 2]); /* 2 rows each */
        z0 = _mm512_add_ps(z0, _mm512_shuffle_f32x4(z0, z0, 0xB1)); /* lane j + lane j ^ 4 */
        z1 = _mm512_add_ps(z1, _mm512_shuffle_f32x4(z1, z1, 0xB1));
        __m512 w = _mm512_mask_blend_ps(0xF0F0, z0, z1); /* rows 4i, 4i + 2, 4i + 1, 4i + 3 a quarter each */
        w = _mm512_add_ps(w, _mm512_permute_ps(w, 0x4E));  /* + lane j ^ 2 */
        q[i] = _mm512_add_ps(w, _mm512_permute_ps(w, 0xB1)); /* + lane j ^ 1: the total in lanes 0, 4, 8, 12 */
    }
    const __m512i pick = _mm512_loadu_si512(k_pick);
    const __m512 a = _mm512_permutex2var_ps(q[0], pick, q[1]), b = _mm512_permutex2var_ps(q[2], pick, q[3]);
    _mm512_storeu_ps(s, _mm512_mask_blend_ps(0xFF00, a, b));
}

/* Weight rows [o0, o1) of `bits`-bit values against activation rows [0, nt) (both compile-time
 * constants): the full chunks in a loop of their own, their two index qwords broadcast from memory
 * (load ports, not a port-5 permute), the partial last chunk after it; with one activation row
 * (decode) the rows' sums are reduced 16 at a time. */
T_VBMI static inline __attribute__((always_inline)) void rows_vbmi_n(const int bits, const uint8_t *c, size_t N, size_t K,
                                                                     size_t o0, size_t o1, const uint8_t *xu, size_t Kp,
                                                                     const float *dxe, const size_t nt, const float *bias,
                                                                     float *Y, size_t ldy) {
    const size_t V = K / 2, IB = xf_s24_idx_row_bytes(K), full = V / CH * CH, m = V - full;
    const float *scales = (const float *)(const void *)c; /* 8-bit: row_at's r.scale of every row */
    float h8[16][8] = {{0}};
    for (size_t o = o0; o < o1; o++) {
        const s24row r = row_at(bits, c, N, K, o);
        const uint8_t *v = r.vals, *ix = r.ix;
        __m512 acc[TB];
#pragma GCC unroll 4
        for (size_t t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
        for (size_t b = 0; b < IB; b += 64) { /* the index lines of the rows ahead, into L2 and L1 */
            _mm_prefetch((const char *)ix + b + S24I_PF_L2 / 4, _MM_HINT_T1);
            _mm_prefetch((const char *)ix + b + S24I_PF / 4, _MM_HINT_T0);
        }
        __m512i w;
        __m512 wsv;
        for (size_t cc = 0; cc < full; cc += CH) {
            const size_t vb = bits == 8 ? cc : cc / 2; /* the chunk's first value byte */
            _mm_prefetch((const char *)v + vb + S24I_PF_L2, _MM_HINT_T1);
            _mm_prefetch((const char *)v + vb + S24I_PF, _MM_HINT_T0);
            uint64_t q0, q1;
            memcpy(&q0, ix + cc / 4, 8);
            memcpy(&q1, ix + cc / 4 + 8, 8);
            const __m512i ibq = _mm512_mask_set1_epi64(_mm512_set1_epi64((long long)q0), 0xF0, (long long)q1);
            if (bits == 8) w = _mm512_loadu_si512(v + cc);
            else load_q4_vbmi(&r, cc, CH, &w, &wsv);
            chunk_vbmi(w, ibq, bits == 8 ? NULL : &wsv, xu, Kp, dxe, cc, nt, acc);
        }
        if (m) {
            if (bits == 8) w = _mm512_maskz_loadu_epi8(((__mmask64)1 << m) - 1, v + full);
            else load_q4_vbmi(&r, full, m, &w, &wsv);
            chunk_vbmi(w, tail_ibq(ix + full / 4, m), bits == 8 ? NULL : &wsv, xu, Kp, dxe, full, nt, acc);
        }
        if (nt == 1) {
            const size_t i = (o - o0) % 16;
            _mm256_storeu_ps(h8[i], _mm256_add_ps(_mm512_castps512_ps256(acc[0]), _mm512_extractf32x8_ps(acc[0], 1)));
            if (i == 15 || o + 1 == o1) {
                float s[16];
                reduce8x16((const float(*)[8])h8, s);
                for (size_t j = 0; j <= i; j++)
                    Y[o - i + j] = row_out(bits, s[j], bits == 8 ? scales[o - i + j] : 1.0f, bias, o - i + j);
            }
            continue;
        }
#pragma GCC unroll 4
        for (size_t t = 0; t < nt; t++) {
            const float s = xf_s24_reduce8(_mm256_add_ps(_mm512_castps512_ps256(acc[t]), _mm512_extractf32x8_ps(acc[t], 1)));
            Y[t * ldy + o] = row_out(bits, s, r.scale, bias, o);
        }
    }
}

#endif

/* Row o's output from its 16-lane sum s: times the 8-bit row scale, plus the bias. */
static inline float row_out(int bits, float s, float scale, const float *bias, size_t o) {
    return bits == 8 ? (bias ? fmaf(s, scale, bias[o]) : s * scale) : (bias ? s + bias[o] : s);
}

#ifdef XF_X86
/* Weight rows [o0, o1) against activation rows [0, nt) in one call, one copy per number of
 * activation rows and value width (accumulators in registers): the loop over rows inside, so that
 * the kernel's constants are set up and its registers saved once per block of rows, not once per
 * row (K = 576: a row is only 4.5 chunks). */
T_VBMI static void rows_vbmi(int bits, const uint8_t *c, size_t N, size_t K, size_t o0, size_t o1, const uint8_t *xu,
                             size_t Kp, const float *dxe, size_t nt, const float *bias, float *Y, size_t ldy) {
#define RV(B, NT) rows_vbmi_n(B, c, N, K, o0, o1, xu, Kp, dxe, NT, bias, Y, ldy)
    S24_ROWS_DISPATCH(RV);
#undef RV
}
#endif

void xf_s24i_range(xf_s24i_isa isa, int bits, const uint8_t *c, size_t N, size_t K, const float *bias,
                   const void *act, size_t T, float *Y, size_t ldy, size_t n0, size_t n1) {
    const size_t Kp = kpad(K), V = K / 2;
    const uint8_t *xu = act;
    const float *dxe = (const float *)(const void *)(xu + T * Kp);
    float out[TB];
    for (size_t o0 = n0; o0 < n1; o0 += OB) {
        const size_t o1 = n1 - o0 < OB ? n1 : o0 + OB;
        for (size_t t0 = 0; t0 < T; t0 += TB) {
            const size_t nt = T - t0 < TB ? T - t0 : TB;
#ifdef XF_X86
            if (isa == XF_S24I_VBMI) {
                rows_vbmi(bits, c, N, K, o0, o1, xu + t0 * Kp, Kp, dxe + t0 * (Kp / 8), nt, bias, Y + t0 * ldy, ldy);
                continue;
            }
            if (isa == XF_S24I_AVX2) {
                rows_avx2(bits, c, N, K, o0, o1, xu + t0 * Kp, Kp, dxe + t0 * (Kp / 8), nt, bias, Y + t0 * ldy, ldy);
                continue;
            }
#endif
            for (size_t o = o0; o < o1; o++) {
                const s24row r = row_at(bits, c, N, K, o);
                row_ref(&r, V, xu + t0 * Kp, Kp, dxe + t0 * (Kp / 8), nt, out);
                for (size_t t = 0; t < nt; t++) Y[(t0 + t) * ldy + o] = row_out(bits, out[t], r.scale, bias, o);
            }
        }
    }
}

/* ---------------------------------------------------------------- the threaded product */

typedef struct {
    xf_s24i_isa isa;
    int bits;
    size_t n, K, T;
    const xf_s24i_op *ops;
    const void *act;
} s24i_job;

/* The blocks of XF_S24_DENSE_ROWS rows of all the job's weights, in order, split evenly between
 * the threads. */
static void s24i_task(void *ctx, int ith, int nth) {
    const s24i_job *j = ctx;
    size_t U = 0, u0, u1;
    for (size_t i = 0; i < j->n; i++) U += (j->ops[i].N + XF_S24_DENSE_ROWS - 1) / XF_S24_DENSE_ROWS;
    xf_split_range(U, 1, ith, nth, &u0, &u1);
    for (size_t i = 0, base = 0; i < j->n && base < u1; i++) {
        const xf_s24i_op *o = &j->ops[i];
        const size_t units = (o->N + XF_S24_DENSE_ROWS - 1) / XF_S24_DENSE_ROWS;
        const size_t a = u0 > base ? u0 - base : 0, e = u1 - base < units ? u1 - base : units;
        base += units;
        if (a >= e) continue;
        const size_t n0 = a * XF_S24_DENSE_ROWS, n1 = e * XF_S24_DENSE_ROWS < o->N ? e * XF_S24_DENSE_ROWS : o->N;
        xf_s24i_range(j->isa, j->bits, o->c, o->N, j->K, o->bias, j->act, j->T, o->Y, o->ldy, n0, n1);
    }
}

int xf_s24i_matmul_many(xf_pool *pool, int bits, size_t n, const xf_s24i_op *ops, const float *X, size_t ldx, size_t T,
                        size_t K) {
    size_t have = 0;
    void *scratch = xf_pool_scratch(pool, 0, &have);
    if (!n || n > 4 || K % 32 || !scratch || have < xf_s24i_act_bytes(1, K)) return 0;
    s24i_job j = {xf_s24i_best(), bits, n, K, T, ops, scratch};
    size_t tb = T; /* activation rows per pass: as many as thread 0's scratch holds */
    while (tb > 1 && have < xf_s24i_act_bytes(tb, K)) tb = (tb + 1) / 2;
    xf_s24i_op moved[4];
    for (size_t t0 = 0; t0 < T; t0 += tb) {
        j.T = T - t0 < tb ? T - t0 : tb;
        for (size_t i = 0; t0 && i < n; i++) moved[i] = ops[i], moved[i].Y = ops[i].Y + t0 * ops[i].ldy;
        j.ops = t0 ? moved : ops;
        xf_s24i_act_quantize(j.isa, X + t0 * ldx, ldx, j.T, K, scratch); /* once for all n weights */
        xf_pool_run(pool, s24i_task, &j);
    }
    return 1;
}

int xf_s24i_matmul(xf_pool *pool, int bits, const uint8_t *c, size_t N, size_t K, const float *bias, const float *X,
                   size_t ldx, size_t T, float *Y, size_t ldy) {
    const xf_s24i_op op = {c, N, bias, Y, ldy};
    return xf_s24i_matmul_many(pool, bits, 1, &op, X, ldx, T, K);
}

void xf_s24q4_matmul(xf_pool *pool, const uint8_t *c, size_t N, size_t K, const float *bias, const float *X,
                     size_t ldx, size_t T, float *Y, size_t ldy) {
    if (xf_s24i_matmul(pool, 4, c, N, K, bias, X, ldx, T, Y, ldy)) return;
    /* no pool scratch (a pool holds 1 MiB per thread from its creation): a buffer of our own */
    const xf_s24i_isa isa = xf_s24i_best();
    void *act = malloc(xf_s24i_act_bytes(T, K));
    if (!act) {
        for (size_t t = 0; t < T; t++)
            for (size_t o = 0; o < N; o++) Y[t * ldy + o] = NAN;
        return;
    }
    xf_s24i_act_quantize(isa, X, ldx, T, K, act);
    xf_s24i_range(isa, 4, c, N, K, bias, act, T, Y, ldy, 0, N);
    free(act);
}
