/* ops.c — fp32 row operations (LayerNorm, RMSNorm, GELU, SiLU, residual add, L2 norm, half rows to
 * float). GELU and
 * the norms are vectorized (polynomial exp/erf from simd.h) with scalar libm twins (*_ref);
 * the norms sum in 8 float lanes in a fixed order; their references accumulate in double. The
 * KIVI 4-bit KV blocks to float (kv_quant.c's q4 cache). */
#include "kernels/ops.h"

#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/cpu.h"
#include "kernels/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx2,f16c"))) static void f16_row_f16c(const uint16_t *src, size_t n, float *dst) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(src + i))));
    for (; i < n; i++) dst[i] = _cvtsh_ss(src[i]);
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
/* AVX2 + F16C: a block's 16 bytes split into nibbles, interleaved back into value order
 * (unpack lo / hi), widened 8 at a time, then x = m + s q as the plain loop: a multiply and an add. */
__attribute__((target("avx2,f16c"))) static void q4kivi_avx2(const uint8_t *blk, size_t n, float *dst) {
    const __m128i f = _mm_set1_epi8(15);
    for (size_t b = 0; b < n; b++, blk += 20, dst += 32) {
        uint16_t h[2];
        memcpy(h, blk, sizeof h);
        const __m256 s = _mm256_set1_ps(_cvtsh_ss(h[0])), m = _mm256_set1_ps(_cvtsh_ss(h[1]));
        const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(blk + 4));
        const __m128i lo = _mm_and_si128(v, f), hi = _mm_and_si128(_mm_srli_epi16(v, 4), f);
        const __m128i q[2] = {_mm_unpacklo_epi8(lo, hi), _mm_unpackhi_epi8(lo, hi)}; /* values 0-15, 16-31 */
        for (int k = 0; k < 4; k++) {
            const __m128i part = k & 1 ? _mm_srli_si128(q[k / 2], 8) : q[k / 2];
            const __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(part));
            _mm256_storeu_ps(dst + 8 * k, _mm256_add_ps(m, _mm256_mul_ps(s, x)));
        }
    }
}
#endif

void xf_q4kivi_to_f32(const uint8_t *blk, size_t n, float *dst) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (xf_isa_level() >= XF_ISA_AVX2) {
        q4kivi_avx2(blk, n, dst);
        return;
    }
#endif
    for (size_t b = 0; b < n; b++, blk += 20, dst += 32) {
        uint16_t h[2];
        memcpy(h, blk, sizeof h);
        const float s = xf_f16_to_f32(h[0]), m = xf_f16_to_f32(h[1]);
        for (size_t i = 0; i < 32; i++) dst[i] = m + s * (float)((blk[4 + i / 2] >> (4 * (i & 1))) & 15);
    }
}

void xf_f16_to_f32_row(const uint16_t *src, size_t n, float *dst) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (xf_isa_level() >= XF_ISA_AVX2) {
        f16_row_f16c(src, n, dst);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = xf_f16_to_f32(src[i]);
}

/* Sum of v[0..n) and of (v - c)^2 with 8 lanes (fixed order: every caller gets the same bits). */
XF_INLINE float sum8(const float *v, size_t n) {
    xf_v8 acc = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) acc += xf_v8_load(v + i);
    float s = xf_v8_hsum(acc);
    for (; i < n; i++) s += v[i];
    return s;
}

XF_INLINE float sqdev8(const float *v, size_t n, float c) {
    xf_v8 acc = {0}, cv = c - (xf_v8){0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        xf_v8 d = xf_v8_load(v + i) - cv;
        acc += d * d;
    }
    float s = xf_v8_hsum(acc);
    for (; i < n; i++) s += (v[i] - c) * (v[i] - c);
    return s;
}

XF_INLINE void xf_layernorm_body(const float *x, float *y, const float *gamma, const float *beta, size_t rows, size_t n,
                  float eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float m = sum8(xr, n) / (float)n;
        float inv = 1.0f / sqrtf(sqdev8(xr, n, m) / (float)n + eps);
        xf_v8 mv = m - (xf_v8){0}, iv = inv - (xf_v8){0};
        size_t i = 0;
        if (!beta) { /* LayerNorm without bias (ModernBERT) */
            for (; i + 8 <= n; i += 8) xf_v8_store(yr + i, (xf_v8_load(xr + i) - mv) * iv * xf_v8_load(gamma + i));
            for (; i < n; i++) yr[i] = (xr[i] - m) * inv * gamma[i];
            continue;
        }
        for (; i + 8 <= n; i += 8)
            xf_v8_store(yr + i, (xf_v8_load(xr + i) - mv) * iv * xf_v8_load(gamma + i) + xf_v8_load(beta + i));
        for (; i < n; i++) yr[i] = (xr[i] - m) * inv * gamma[i] + beta[i];
    }
}
XF_DISPATCH_VOID(xf_layernorm,
                 (const float *x, float *y, const float *gamma, const float *beta, size_t rows, size_t n,
                  float eps),
                 (x, y, gamma, beta, rows, n, eps), )

void xf_layernorm_ref(const float *x, float *y, const float *gamma, const float *beta, size_t rows, size_t n,
                      float eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        double mean = 0.0, var = 0.0;
        for (size_t i = 0; i < n; i++) mean += xr[i];
        mean /= (double)n;
        for (size_t i = 0; i < n; i++) var += (xr[i] - mean) * (xr[i] - mean);
        double inv = 1.0 / sqrt(var / (double)n + (double)eps);
        for (size_t i = 0; i < n; i++) y[r * n + i] = (float)((xr[i] - mean) * inv * gamma[i] + (beta ? beta[i] : 0.0f));
    }
}

XF_INLINE void xf_rmsnorm_body(const float *x, float *y, const float *gamma, size_t rows, size_t n, float eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float inv = 1.0f / sqrtf(sqdev8(xr, n, 0.0f) / (float)n + eps);
        xf_v8 iv = inv - (xf_v8){0};
        size_t i = 0;
        for (; i + 8 <= n; i += 8) xf_v8_store(yr + i, xf_v8_load(gamma + i) * (xf_v8_load(xr + i) * iv));
        for (; i < n; i++) yr[i] = gamma[i] * (xr[i] * inv);
    }
}
XF_DISPATCH_VOID(xf_rmsnorm,
                 (const float *x, float *y, const float *gamma, size_t rows, size_t n, float eps),
                 (x, y, gamma, rows, n, eps), )

void xf_rmsnorm_ref(const float *x, float *y, const float *gamma, size_t rows, size_t n, float eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        double ss = 0.0;
        for (size_t i = 0; i < n; i++) ss += (double)xr[i] * xr[i];
        double inv = 1.0 / sqrt(ss / (double)n + (double)eps);
        for (size_t i = 0; i < n; i++) y[r * n + i] = (float)((double)gamma[i] * xr[i] * inv);
    }
}

XF_INLINE xf_v8 silu8(xf_v8 g) { return g / (xf_v8_splat(1.0f) + xf_v8_exp(-g)); }

XF_INLINE void xf_silu_mul_body(float *g, const float *u, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) xf_v8_store(g + i, silu8(xf_v8_load(g + i)) * xf_v8_load(u + i));
    if (i < count) {
        float t[8] = {0}, v[8] = {0};
        memcpy(t, g + i, (count - i) * sizeof *t);
        memcpy(v, u + i, (count - i) * sizeof *v);
        xf_v8_store(t, silu8(xf_v8_load(t)) * xf_v8_load(v));
        memcpy(g + i, t, (count - i) * sizeof *t);
    }
}
XF_DISPATCH_VOID(xf_silu_mul, (float *g, const float *u, size_t count), (g, u, count), )

XF_INLINE void xf_argmax_nan_body(float *x, size_t n, size_t *best) {
    const xf_v8 ninf = xf_v8_splat(-INFINITY);
    xf_v8 m = ninf;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        xf_v8 v = xf_v8_load(x + i);
        v = xf_v8_select(v == v, v, ninf);
        xf_v8_store(x + i, v);
        m = xf_v8_max(m, v);
    }
    float mx = -INFINITY;
    for (int l = 0; l < 8; l++) mx = m[l] > mx ? m[l] : mx;
    for (; i < n; i++) {
        if (x[i] != x[i]) x[i] = -INFINITY;
        mx = x[i] > mx ? x[i] : mx;
    }
    /* the first index holding the maximum (+0 and -0 compare equal, as x[i] > x[best] treats them) */
    i = 0;
    for (; i + 8 <= n; i += 8) {
        const xf_v8i e = xf_v8_load(x + i) == xf_v8_splat(mx);
        if (e[0] | e[1] | e[2] | e[3] | e[4] | e[5] | e[6] | e[7]) break;
    }
    for (; i < n; i++)
        if (x[i] == mx) break;
    *best = i < n ? i : 0;
}
XF_DISPATCH_VOID(xf_argmax_nan, (float *x, size_t n, size_t *best), (x, n, best), )

void xf_argmax_nan_ref(float *x, size_t n, size_t *best) {
    size_t b = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != x[i]) x[i] = -INFINITY;
        if (x[i] > x[b]) b = i;
    }
    *best = b;
}

void xf_silu_mul_ref(float *g, const float *u, size_t count) {
    for (size_t i = 0; i < count; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void xf_add_inplace(float *x, const float *r, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] += r[i];
}

XF_INLINE xf_v8 gelu8(xf_v8 v) {
    return xf_v8_splat(0.5f) * v * (xf_v8_splat(1.0f) + xf_v8_erf(v * xf_v8_splat(0.70710678118654752f)));
}

XF_INLINE void xf_gelu_erf_body(float *x, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) xf_v8_store(x + i, gelu8(xf_v8_load(x + i)));
    if (i < count) { /* the tail goes through the same 8-lane code */
        float t[8] = {0};
        memcpy(t, x + i, (count - i) * sizeof *t);
        xf_v8_store(t, gelu8(xf_v8_load(t)));
        memcpy(x + i, t, (count - i) * sizeof *t);
    }
}
XF_DISPATCH_VOID(xf_gelu_erf, (float *x, size_t count), (x, count), )

void xf_gelu_erf_ref(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* 0.5 x (1 + tanh(u)) = x / (1 + e^(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3) */
XF_INLINE xf_v8 gelu_tanh8(xf_v8 v) {
    xf_v8 u2 = xf_v8_splat(1.5957691216057308f) * (v + xf_v8_splat(0.044715f) * v * v * v);
    return v / (xf_v8_splat(1.0f) + xf_v8_exp(-u2));
}

XF_INLINE void xf_gelu_tanh_body(float *x, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) xf_v8_store(x + i, gelu_tanh8(xf_v8_load(x + i)));
    if (i < count) {
        float t[8] = {0};
        memcpy(t, x + i, (count - i) * sizeof *t);
        xf_v8_store(t, gelu_tanh8(xf_v8_load(t)));
        memcpy(x + i, t, (count - i) * sizeof *t);
    }
}
XF_DISPATCH_VOID(xf_gelu_tanh, (float *x, size_t count), (x, count), )

void xf_gelu_tanh_ref(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    }
}

void xf_l2_normalize(float *x, size_t n, float eps) {
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    double norm = sqrt(ss);
    float inv = (float)(1.0 / (norm > eps ? norm : eps));
    for (size_t i = 0; i < n; i++) x[i] *= inv;
}
