/* qgemv_q8.c — GEMV of GGUF quantized weights with 8-bit block-quantized activations (see
 * qgemv_q8.h): activation quantization, the scalar reference, AVX2 (vpmaddubsw) and AVX-512 VNNI
 * (vpdpbusd / vpdpwssd, 256-bit) kernels built from one source (qgemv_q8_isa.inc), and the
 * threaded driver. Unsigned operand of the byte products: the stored bits as they are for the
 * types with a min (Q4_1, Q5_1, Q4_K, Q5_K, Q2_K) and for those whose weight is the stored value
 * less an offset (Q4_0, Q5_0: the offset times each lane's sum of 4 activations, computed once per
 * group for all rows, is the dot product's starting value; Q6_K, Q3_K: offset x the activations'
 * pair sums taken off vpmaddubsw's int16 pairs; the same exact integers either way), |w| for Q8_0
 * with the activation given w's sign. Every vpmaddubsw pair stays below 2^15 (stored values <= 63,
 * |w| <= 128, |x| <= 127): no saturation. The K types sum a whole superblock in int32 lanes, the
 * int16 pairs multiplied by their sub-block's integer scale (vpmaddwd / vpdpwssd), as ggml does. */
#include "kernels/qgemv_q8.h"

#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "io/gguf.h"
#include "kernels/qmatmul.h"
#include "kernels/quants.h"
#include "kernels/cpu.h"
#include "kernels/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define XF_X86 1
#include "kernels/avx2_util.h"
#endif

/* Weight bytes are prefetched (into L2) this far ahead of the pass that reads them (qscale_isa.inc's
 * pf_l2). */
#ifndef XF_Q8_PREFETCH
#define XF_Q8_PREFETCH 12288
#endif
/* The same for the K types' decode passes (rounded up to whole passes, qgemv_q8_isa.inc's span):
 * on Qwen2.5-1.5B's shapes (K 1536 / 8960, N 256 .. 8960) 6144 streamed Q4_K / Q6_K 10-30 % faster
 * than 12288 or 24576 (bench_qgemv --shapes, CPU time under load). */
#ifndef XF_Q8_PREFETCH_K
#define XF_Q8_PREFETCH_K 6144
#endif

int xf_qgemv_q8_has(int qtype) { return xf_qmatmul_has(qtype) && qtype != XF_GGML_FP8S; /* FP8: not integers */ }

XF_INLINE size_t q8_type_size(int qt) { return xf_qblock_bytes(qt); }
XF_INLINE int q8_is_k(int qt) { return qt >= XF_GGML_Q2_K && qt <= XF_GGML_Q6_K; }
/* The offset of the types whose integer weight is an unsigned stored value less a constant (Q4_0
 * nibble - 8, Q5_0 - 16, Q6_K - 32, Q3_K - 4); 0 for the unsigned types and Q8_0 (signed bytes,
 * multiplied with the sign trick). */
XF_INLINE int q8_offset(int qt) {
    return qt == XF_GGML_Q4_0 ? 8 : qt == XF_GGML_Q5_0 ? 16 : qt == XF_GGML_Q6_K ? 32 : qt == XF_GGML_Q3_K ? 4 : 0;
}
/* 1 for the 32-weight types with a min (Q4_1, Q5_1: Q8_1's sx enters, qgemv_q8.h). */
XF_INLINE int q8_mins(int qt) { return qt == XF_GGML_Q4_1 || qt == XF_GGML_Q5_1; }
/* 1 for the K types with mins (Q4_K, Q5_K, Q2_K: M[g] bs[g] enters). */
XF_INLINE int q8_kmins(int qt) { return qt == XF_GGML_Q4_K || qt == XF_GGML_Q5_K || qt == XF_GGML_Q2_K; }

size_t xf_q8act_bytes(size_t T, size_t K) {
    const size_t nb = K / XF_Q8A_BLOCK;
    return T * K + T * nb * 2 * sizeof(float); /* q, d and sx (per 32); Q8_K's d and bs take less */
}

/* The parts of a quantized activation block: q [T][K], then d [T][K / 32] and sx [T][K / 32]
 * (32-weight types) or d [T][K / 256] and bs [T][K / 16] (K types). */
typedef struct {
    const int8_t *q;
    const float *d, *s;
    const int16_t *bs;
} q8rows;

static q8rows q8rows_at(int qt, const void *act, size_t T, size_t K) {
    q8rows a;
    a.q = act;
    a.d = (const float *)((const uint8_t *)act + T * K);
    a.s = NULL, a.bs = NULL;
    if (q8_is_k(qt)) a.bs = (const int16_t *)(a.d + T * (K / 256));
    else a.s = a.d + T * (K / XF_Q8A_BLOCK);
    return a;
}

void xf_q8act_kparts(const void *act, size_t T, size_t K, const int8_t **q, const float **d, const int16_t **bs) {
    const q8rows a = q8rows_at(XF_GGML_Q4_K, act, T, K);
    *q = a.q, *d = a.d, *bs = a.bs;
}

void xf_q8act_parts(int qtype, const void *act, size_t T, size_t K, const int8_t **q, const float **d,
                    const float **s) {
    const q8rows a = q8rows_at(qtype, act, T, K);
    *q = a.q, *d = a.d, *s = a.s;
}

/* The activation quantizers round a float product to the nearest integer, ties to even (|v| below
 * 2^22): no multiply-add may fuse the product into the rounding addition. */
#ifdef __clang__
#define Q8_NO_CONTRACT
#else
#define Q8_NO_CONTRACT __attribute__((optimize("fp-contract=off")))
#endif
XF_INLINE int q8_rne(float v) {
    float r = v + 12582912.0f; /* 1.5 * 2^23: the sum's low mantissa bits are the rounded integer */
    int32_t i;
    memcpy(&i, &r, 4);
    return (i & 0x007fffff) - 0x00400000;
}
XF_INLINE float q8_half(float f) { return xf_f16_to_f32(xf_f32_to_f16(f)); }

/* ggml's Q8_0 / Q8_1 (x86): groups of 32. */
Q8_NO_CONTRACT static void q8act_row32(const float *x, size_t K, int8_t *q, float *d, float *sx) {
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
    for (size_t g = 0; g < K / 32; g++) {
        const float *xg = x + 32 * g;
        float amax = 0.0f;
        for (int e = 0; e < 32; e++) amax = fmaxf(amax, fabsf(xg[e]));
        const float dd = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int32_t sum = 0;
        for (int e = 0; e < 32; e++) {
            const float v = xg[e] * id;
            int qi = q8_rne(v);
            qi = qi > 127 ? 127 : qi < -128 ? -128 : qi;
            q[32 * g + e] = (int8_t)qi;
            sum += qi;
        }
        d[g] = q8_half(dd);
        sx[g] = q8_half(dd * (float)sum);
    }
}

/* ggml's Q8_K: superblocks of 256. */
Q8_NO_CONTRACT static void q8act_rowk(const float *x, size_t K, int8_t *q, float *d, int16_t *bs) {
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif
    for (size_t sb = 0; sb < K / 256; sb++) {
        const float *xs = x + 256 * sb;
        int8_t *qs = q + 256 * sb;
        float amax = 0.0f, mx = 0.0f;
        for (int e = 0; e < 256; e++) {
            const float ax = fabsf(xs[e]);
            if (ax > amax) amax = ax, mx = xs[e];
        }
        if (amax == 0.0f) {
            d[sb] = 0.0f;
            memset(qs, 0, 256);
            memset(bs + 16 * sb, 0, 16 * sizeof *bs);
            continue;
        }
        const float is = -127.0f / mx;
        for (int e = 0; e < 256; e++) {
            const float v = is * xs[e];
            const int qi = q8_rne(v);
            qs[e] = (int8_t)(qi > 127 ? 127 : qi);
        }
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int e = 0; e < 16; e++) sum += qs[16 * g + e];
            bs[16 * sb + g] = (int16_t)sum;
        }
        d[sb] = 1.0f / is;
    }
}

#ifdef XF_X86
/* The same quantizers with AVX2 + F16C, bitwise equal: max / multiply / round-to-even (vcvtps2dq
 * under the default rounding mode) / F16C's round-to-even half conversion; the scalar code's
 * float operations one for one. */
#define Q8Q __attribute__((target("avx2,fma,f16c")))
Q8Q XF_INLINE float q8_half_f16c(float f) { return _cvtsh_ss(_cvtss_sh(f, 0)); }
Q8Q static void q8act_row32_avx2(const float *x, size_t K, int8_t *q, float *d, float *sx) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (size_t g = 0; g < K / 32; g++) {
        const float *xg = x + 32 * g;
        __m256 v[4];
        for (int i = 0; i < 4; i++) v[i] = _mm256_loadu_ps(xg + 8 * i);
        const float amax = xf_avx2_hmax(_mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                                                 _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3]))));
        const float dd = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        const __m256 vid = _mm256_set1_ps(id);
        __m256i iq[4];
        for (int i = 0; i < 4; i++) iq[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], vid));
        xf_avx2_store_i8x32(q + 32 * g, iq[0], iq[1], iq[2], iq[3]);
        const int32_t sum = xf_avx2_hsum_i32(_mm256_add_epi32(_mm256_add_epi32(iq[0], iq[1]), _mm256_add_epi32(iq[2], iq[3])));
        d[g] = q8_half_f16c(dd);
        sx[g] = q8_half_f16c(dd * (float)sum);
    }
}
Q8Q static void q8act_rowk_avx2(const float *x, size_t K, int8_t *q, float *d, int16_t *bs) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (size_t sb = 0; sb < K / 256; sb++) {
        const float *xs = x + 256 * sb;
        int8_t *qs = q + 256 * sb;
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 32; i++) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(xs + 8 * i)));
        const float amax = xf_avx2_hmax(m);
        if (amax == 0.0f) {
            d[sb] = 0.0f;
            memset(qs, 0, 256);
            memset(bs + 16 * sb, 0, 16 * sizeof *bs);
            continue;
        }
        /* the first element of largest |x|, as the scalar scan finds it */
        const __m256 va = _mm256_set1_ps(amax);
        float mx = 0.0f;
        for (int i = 0; i < 32; i++) {
            const __m256 xv = _mm256_loadu_ps(xs + 8 * i);
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, xv), va, _CMP_EQ_OQ));
            if (hit) {
                mx = xs[8 * i + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float is = -127.0f / mx;
        const __m256 vis = _mm256_set1_ps(is);
        for (int g = 0; g < 8; g++) {
            __m256i iq[4];
            for (int i = 0; i < 4; i++) iq[i] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xs + 32 * g + 8 * i), vis));
            xf_avx2_store_i8x32(qs + 32 * g, iq[0], iq[1], iq[2], iq[3]);
            bs[16 * sb + 2 * g] = (int16_t)xf_avx2_hsum_i32(_mm256_add_epi32(iq[0], iq[1]));
            bs[16 * sb + 2 * g + 1] = (int16_t)xf_avx2_hsum_i32(_mm256_add_epi32(iq[2], iq[3]));
        }
        d[sb] = 1.0f / is;
    }
}
#undef Q8Q
#endif

void xf_q8act_quantize_isa(int simd, int qtype, const float *X, size_t ldx, size_t T, size_t K, void *act) {
    int8_t *q = act;
    float *d = (float *)(q + T * K);
#ifdef XF_X86
    simd = simd && xf_isa_level() >= XF_ISA_AVX2;
#else
    simd = 0;
#endif
    if (q8_is_k(qtype)) {
        const size_t ns = K / 256;
        int16_t *bs = (int16_t *)(d + T * ns);
        for (size_t t = 0; t < T; t++) {
#ifdef XF_X86
            if (simd) {
                q8act_rowk_avx2(X + t * ldx, K, q + t * K, d + t * ns, bs + t * (K / 16));
                continue;
            }
#endif
            q8act_rowk(X + t * ldx, K, q + t * K, d + t * ns, bs + t * (K / 16));
        }
        return;
    }
    const size_t nb = K / XF_Q8A_BLOCK;
    float *sx = d + T * nb;
    for (size_t t = 0; t < T; t++) {
#ifdef XF_X86
        if (simd) {
            q8act_row32_avx2(X + t * ldx, K, q + t * K, d + t * nb, sx + t * nb);
            continue;
        }
#endif
        q8act_row32(X + t * ldx, K, q + t * K, d + t * nb, sx + t * nb);
    }
}

void xf_q8act_quantize(int qtype, const float *X, size_t ldx, size_t T, size_t K, void *act) {
    xf_q8act_quantize_isa(1, qtype, X, ldx, T, K, act);
}


static uint32_t u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Sub-block j (0 for the 32-weight types) of the block at b as integers q[32] and factors, with
 * w[e] = f[e / 16] q[e] + m[e / 16] (the layouts of quants.h; m = 0 without mins). */
void xf_q8_decode_sub(int qt, const uint8_t *b, int j, int q[32], float f[2], float m[2]) {
    f[0] = f[1] = m[0] = m[1] = 0.0f;
    switch (qt) {
    case XF_GGML_Q8_0:
        for (int e = 0; e < 32; e++) q[e] = (int8_t)b[2 + e];
        f[0] = f[1] = xf_half_at(b);
        return;
    case XF_GGML_Q4_0:
    case XF_GGML_Q4_1:
    case XF_GGML_Q5_0:
    case XF_GGML_Q5_1: {
        const int one = qt == XF_GGML_Q4_1 || qt == XF_GGML_Q5_1, five = qt == XF_GGML_Q5_0 || qt == XF_GGML_Q5_1;
        const uint8_t *qs = b + 2 + 2 * one + 4 * five;
        const uint32_t qh = five ? u32le(b + 2 + 2 * one) : 0;
        for (int e = 0; e < 32; e++)
            q[e] = (e < 16 ? qs[e] & 15 : qs[e - 16] >> 4) + (int)((qh >> e) & 1) * 16 - (one ? 0 : five ? 16 : 8);
        f[0] = f[1] = xf_half_at(b);
        m[0] = m[1] = one ? xf_half_at(b + 2) : 0.0f;
        return;
    }
    case XF_GGML_FP4S:
    case XF_GGML_MXFP4: {
        const uint8_t *qs;
        const int8_t *lut = xf_fp4_block(qt, b, &f[0], &qs);
        for (int e = 0; e < 32; e++) q[e] = lut[e < 16 ? qs[e] & 15 : qs[e - 16] >> 4];
        f[1] = f[0];
        return;
    }
    case XF_GGML_Q4_K:
    case XF_GGML_Q5_K: {
        int sc, mn;
        xf_qk4_scale_min(j, b + 4, &sc, &mn);
        const uint8_t *qs = b + (qt == XF_GGML_Q4_K ? 16 : 48) + 32 * (j / 2);
        for (int e = 0; e < 32; e++)
            q[e] = (qs[e] >> 4 * (j % 2) & 15) + (qt == XF_GGML_Q5_K ? (b[16 + e] >> j & 1) * 16 : 0);
        f[0] = f[1] = xf_half_at(b) * (float)sc;
        m[0] = m[1] = -(xf_half_at(b + 2) * (float)mn);
        return;
    }
    case XF_GGML_Q6_K: {
        const int h = j / 4, sq = j % 4;
        for (int e = 0; e < 32; e++)
            q[e] = ((b[64 * h + 32 * (sq % 2) + e] >> 4 * (sq / 2) & 15) | (b[128 + 32 * h + e] >> 2 * sq & 3) << 4) - 32;
        for (int g = 0; g < 2; g++) f[g] = xf_half_at(b + 208) * (float)(int8_t)b[192 + 2 * j + g];
        return;
    }
    case XF_GGML_Q2_K:
        for (int e = 0; e < 32; e++) q[e] = b[16 + 32 * (j / 4) + e] >> 2 * (j % 4) & 3;
        for (int g = 0; g < 2; g++) {
            const int sc = b[2 * j + g];
            f[g] = xf_half_at(b + 80) * (float)(sc & 15);
            m[g] = -(xf_half_at(b + 82) * (float)(sc >> 4));
        }
        return;
    default: /* Q3_K */
        for (int e = 0; e < 32; e++) q[e] = (b[32 + 32 * (j / 4) + e] >> 2 * (j % 4) & 3) - 4 + (b[e] >> j & 1) * 4;
        for (int g = 0; g < 2; g++) f[g] = xf_half_at(b + 108) * (float)xf_q3k_scale(b + 96, 2 * j + g);
        return;
    }
}

/* A K superblock's integer scales S[g], mins M[g] per 16 (0 without mins) and its d, dmin
 * (qgemv_q8.h; dmin 0 without mins). */
void xf_q8_kscales(int qt, const uint8_t *b, int S[16], int M[16], float *d, float *dmin) {
    *dmin = 0.0f;
    for (int g = 0; g < 16; g++) M[g] = 0;
    switch (qt) {
    case XF_GGML_Q4_K:
    case XF_GGML_Q5_K:
        for (int g = 0; g < 16; g++) xf_qk4_scale_min(g / 2, b + 4, &S[g], &M[g]);
        *d = xf_half_at(b), *dmin = xf_half_at(b + 2);
        return;
    case XF_GGML_Q6_K:
        for (int g = 0; g < 16; g++) S[g] = (int8_t)b[192 + g];
        *d = xf_half_at(b + 208);
        return;
    case XF_GGML_Q2_K:
        for (int g = 0; g < 16; g++) S[g] = b[g] & 15, M[g] = b[g] >> 4;
        *d = xf_half_at(b + 80), *dmin = xf_half_at(b + 82);
        return;
    default: /* Q3_K */
        for (int g = 0; g < 16; g++) S[g] = xf_q3k_scale(b + 96, g);
        *d = xf_half_at(b + 108);
        return;
    }
}

/* One K-type output: activation row t of a against the weight row at w (qgemv_q8.h). */
static float ref_krow(int qt, const uint8_t *w, const q8rows *a, size_t t, size_t K) {
    const size_t TS = q8_type_size(qt), ns = K / 256;
    const int mins = q8_kmins(qt);
    float l[8] = {0}, c = 0.0f;
    for (size_t sb = 0; sb < ns; sb++) {
        const uint8_t *b = w + sb * TS;
        const int8_t *x = a->q + t * K + sb * 256;
        int S[16], M[16], q[32];
        float d, dmin, f[2], m[2];
        xf_q8_kscales(qt, b, S, M, &d, &dmin);
        int32_t p[8] = {0}, mm = 0;
        for (int j = 0; j < 8; j++) {
            xf_q8_decode_sub(qt, b, j, q, f, m); /* q: the integer weights of sub-block j */
            for (int i = 0; i < 8; i++) {
                int32_t dot = 0;
                for (int e = 4 * i; e < 4 * i + 4; e++) dot += q[e] * x[32 * j + e];
                p[i] += S[2 * j + i / 4] * dot;
            }
        }
        for (int g = 0; g < 16; g++) mm += M[g] * a->bs[t * (K / 16) + sb * 16 + (size_t)g];
        const float dx = a->d[t * ns + sb];
        for (int i = 0; i < 8; i++) l[i] = fmaf((float)p[i], d * dx, l[i]);
        if (mins) c = fmaf((float)mm, -(dmin * dx), c);
    }
    return xf_q8_finish(l, c);
}

void xf_qgemv_q8_ref(int qtype, const void *W, size_t row_bytes, const float *bias, const void *act, size_t T,
                     float *Y, size_t ldy, size_t n0, size_t n1, size_t K) {
    if (!xf_qgemv_q8_has(qtype)) return;
    const size_t ng = K / XF_Q8A_BLOCK, TS = q8_type_size(qtype);
    const int mins = q8_mins(qtype);
    const q8rows a = q8rows_at(qtype, act, T, K);
    for (size_t t = 0; t < T; t++)
        for (size_t o = n0; o < n1; o++) {
            const uint8_t *row = (const uint8_t *)W + o * row_bytes;
            if (q8_is_k(qtype)) {
                Y[t * ldy + o] = ref_krow(qtype, row, &a, t, K) + (bias ? bias[o] : 0.0f);
                continue;
            }
            float l[8] = {0}, c = 0.0f;
            for (size_t kk = 0; kk < ng; kk++) { /* block kk */
                const int8_t *x = a.q + t * K + kk * XF_Q8A_BLOCK;
                const float dx = a.d[t * ng + kk];
                int q[32];
                float f[2], m[2];
                xf_q8_decode_sub(qtype, row + kk * TS, 0, q, f, m);
                for (int lane = 0; lane < 8; lane++) {
                    int32_t p = 0;
                    for (int e = 4 * lane; e < 4 * lane + 4; e++) p += q[e] * x[e];
                    l[lane] = fmaf((float)p, f[lane / 4] * dx, l[lane]);
                }
                if (mins) c = fmaf(m[0], a.s[t * ng + kk], c);
            }
            Y[t * ldy + o] = xf_q8_finish(l, c) + (bias ? bias[o] : 0.0f);
        }
}

#ifdef XF_X86
/* The half at p as a float with the F16C conversion (exact, as xf_half_at). */
#define Q8HALF(p) _cvtsh_ss((unsigned short)((p)[0] | (p)[1] << 8))
#define Q8T __attribute__((target("avx2,fma,f16c")))
#define Q8N(n) n##_avx2
#define Q8DOT(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1))
#define Q8DOTA(a, u, s) _mm256_add_epi32((a), Q8DOT(u, s))
#define Q8WACC(a, p, s) _mm256_add_epi32((a), _mm256_madd_epi16((p), (s)))
#define Q8ROWS1 4
#define Q8MASK 0
#include "kernels/qgemv_q8_isa.inc" /* undefines the Q8 parameters */

/* AVX-VNNI: the AVX2 kernels' operands with the VEX vpdpbusd / vpdpwssd (the same integers) */
#define Q8T __attribute__((target("avx2,fma,f16c,avxvnni")))
#define Q8N(n) n##_avxvnni
#define Q8DOT(u, s) _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), (u), (s))
#define Q8DOTA(a, u, s) _mm256_dpbusd_avx_epi32((a), (u), (s))
#define Q8WACC(a, p, s) _mm256_dpwssd_avx_epi32((a), (p), (s))
#define Q8ROWS1 4
#define Q8MASK 0
#include "kernels/qgemv_q8_isa.inc" /* undefines the Q8 parameters */

#define Q8T __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define Q8N(n) n##_vnni
#define Q8DOT(u, s) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (u), (s))
#define Q8DOTA(a, u, s) _mm256_dpbusd_epi32((a), (u), (s))
#define Q8WACC(a, p, s) _mm256_dpwssd_epi32((a), (p), (s))
#define Q8ROWS1 4
#define Q8MASK 1
#include "kernels/qgemv_q8_isa.inc" /* undefines the Q8 parameters */
#endif


void xf_qgemv_q8_isa(xf_i8_isa isa, int qtype, const void *W, size_t row_bytes, const float *bias, const void *act,
                     size_t T, float *Y, size_t ldy, size_t n0, size_t n1, size_t K) {
#ifdef XF_X86
    const q8rows a = q8rows_at(qtype, act, T, K);
    if (isa == XF_I8_AMX) /* no tile kernel here: these products have few rows (decode) */
        isa = xf_i8_isa_supported(XF_I8_VNNI) ? XF_I8_VNNI : XF_I8_AVX2;
    if (isa == XF_I8_VNNI) {
        gemv_vnni(qtype, W, row_bytes, bias, &a, T, Y, ldy, n0, n1, K);
        return;
    }
    if (isa == XF_I8_AVXVNNI) {
        gemv_avxvnni(qtype, W, row_bytes, bias, &a, T, Y, ldy, n0, n1, K);
        return;
    }
    if (isa == XF_I8_AVX2) {
        gemv_avx2(qtype, W, row_bytes, bias, &a, T, Y, ldy, n0, n1, K);
        return;
    }
#endif
    (void)isa;
    xf_qgemv_q8_ref(qtype, W, row_bytes, bias, act, T, Y, ldy, n0, n1, K);
}

typedef struct {
    int qtype;
    xf_i8_isa isa;
    const void *W, *act;
    const float *bias;
    float *Y;
    size_t row_bytes, ldy, T, N, K;
} q8_job;

static void q8_task(void *ctx, int ith, int nth) {
    const q8_job *j = ctx;
    size_t n0, n1;
    xf_split_range(j->N, XF_QMM_SPLIT, ith, nth, &n0, &n1);
    if (n0 < n1) xf_qgemv_q8_isa(j->isa, j->qtype, j->W, j->row_bytes, j->bias, j->act, j->T, j->Y, j->ldy, n0, n1, j->K);
}

void xf_qmatmul_q8(xf_pool *pool, int qtype, const void *W, size_t row_bytes, const float *bias, const float *X,
                   size_t ldx, float *Y, size_t ldy, size_t T, size_t N, size_t K) {
    size_t have = 0;
    void *act = xf_pool_scratch(pool, 0, &have);
    if (!xf_qgemv_q8_has(qtype) || K % (q8_is_k(qtype) ? 256 : XF_Q8A_BLOCK) || !act || have < xf_q8act_bytes(T, K)) {
        xf_qmatmul(pool, qtype, W, row_bytes, bias, X, ldx, Y, ldy, T, N, K);
        return;
    }
    xf_q8act_quantize(qtype, X, ldx, T, K, act);
    q8_job j = {qtype, xf_i8_isa_best(), W, act, bias, Y, row_bytes, ldy, T, N, K};
    xf_pool_run(pool, q8_task, &j);
}
