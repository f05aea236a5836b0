/* quant_k.c — Q4_K, Q5_K, Q6_K from floats, as ggml's quantize_row_q{4,5,6}_K_ref (quantize.h).
 *
 * Q4_K / Q5_K: each of the 8 sub-blocks of 32 gets a scale and a minimum by make_qkx2_quants (a
 * weighted least-squares fit over a small grid of candidate scales, weights |x| + rms), the 8
 * pairs are quantized to 6 bits against the super-block's half d and dmin, and the codes are
 * recomputed with the rounded scales. Q6_K: 16 sub-blocks of 16 get a symmetric scale by
 * make_qx_quants (rmse_type 1: weights x^2, 19 candidate scales), quantized to int8 against d. */
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "quant/quantize.h"

#define QK_K 256
#define GROUP_MAX_EPS 1e-15f

static float half_round(float f) { return xf_f16_to_f32(xf_f32_to_f16(f)); }

static void put_half(uint8_t *p, float f) {
    const uint16_t h = xf_f32_to_f16(f);
    p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ggml's make_qkx2_quants: codes L[0..n) in [0, nmax], returns the scale, *the_min the offset (>= 0,
 * subtracted). */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                              uint8_t *Laux, float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0], sum_w = weights[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best_error = 0;
    for (int i = 0; i < n; ++i) {
        int l = xf_nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)clampi(l, 0, nmax);
        float diff = scale * L[i] + min - x[i];
        diff = diff * diff;
        best_error += weights[i] * diff;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            int l = clampi(xf_nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* ggml's make_qx_quants with rmse_type 1 and no importance weights: signed codes L[i] - nmax. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = fabsf(x[i]);
        if (ax > amax) amax = ax, max = x[i];
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = clampi(xf_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = clampi(xf_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) L[i] = (int8_t)(nmax + clampi(xf_nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q4_K (bits 4) and Q5_K (bits 5). Block: d | dmin | scales[12] | (Q5_K: qh[32]) | qs[128]. */
static void quant_k45(const float *x, uint8_t *b, size_t n, int bits) {
    const int nmax = (1 << bits) - 1, nstep = bits == 4 ? 20 : 15;
    const float rmin = bits == 4 ? -1.f : -0.5f;
    const size_t bytes = bits == 4 ? 144 : 176;
    uint8_t L[QK_K], Laux[32];
    float weights[32], mins[QK_K / 32], scales[QK_K / 32];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K, b += bytes) {
        memset(b, 0, bytes);
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            float sum_x2 = 0;
            for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
            float av_x = sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; ++l) weights[l] = av_x + fabsf(x[32 * j + l]);
            scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        uint8_t *sc = b + 4;
        float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
        for (int j = 0; j < QK_K / 32; ++j) {
            uint8_t ls = (uint8_t)xf_nearest_int(inv_scale * scales[j]), lm = (uint8_t)xf_nearest_int(inv_min * mins[j]);
            ls = ls < 63 ? ls : 63;
            lm = lm < 63 ? lm : 63;
            if (j < 4) {
                sc[j] = ls;
                sc[j + 4] = lm;
            } else {
                sc[j + 4] = (uint8_t)((ls & 0xF) | (lm & 0xF) << 4);
                sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
                sc[j] |= (uint8_t)((lm >> 4) << 6);
            }
        }
        put_half(b, max_scale / 63.f);
        put_half(b + 2, max_min / 63.f);
        const float dh = half_round(max_scale / 63.f), dminh = half_round(max_min / 63.f);
        for (int j = 0; j < QK_K / 32; ++j) {
            int s, m;
            if (j < 4) s = sc[j] & 63, m = sc[j + 4] & 63;
            else s = (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4), m = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
            const float d = dh * (float)s;
            if (!d) continue;
            const float dm = dminh * (float)m;
            for (int ii = 0; ii < 32; ++ii) L[32 * j + ii] = (uint8_t)clampi(xf_nearest_int((x[32 * j + ii] + dm) / d), 0, nmax);
        }
        if (bits == 4) {
            uint8_t *q = b + 16;
            for (int j = 0; j < QK_K; j += 64, q += 32)
                for (int l = 0; l < 32; ++l) q[l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
        } else {
            uint8_t *qh = b + 16, *ql = b + 48, m1 = 1, m2 = 2;
            for (int nn = 0; nn < QK_K; nn += 64, ql += 32, m1 <<= 2, m2 <<= 2)
                for (int j = 0; j < 32; ++j) {
                    int l1 = L[nn + j], l2 = L[nn + j + 32];
                    if (l1 > 15) l1 -= 16, qh[j] |= m1;
                    if (l2 > 15) l2 -= 16, qh[j] |= m2;
                    ql[j] = (uint8_t)(l1 | l2 << 4);
                }
        }
    }
}

void xf_quantize_q4_k_ref(const float *x, void *out, size_t n) { quant_k45(x, out, n, 4); }
void xf_quantize_q5_k_ref(const float *x, void *out, size_t n) { quant_k45(x, out, n, 5); }

/* Block: ql[128] | qh[64] | scales[16] int8 | d. */
void xf_quantize_q6_k_ref(const float *x, void *out, size_t n) {
    uint8_t *b = out;
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K, b += 210) {
        memset(b, 0, 210);
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            if (fabsf(scale) > max_abs_scale) max_abs_scale = fabsf(scale), max_scale = scale;
        }
        if (max_abs_scale < GROUP_MAX_EPS) continue; /* all zero, d = +0 */
        int8_t *sc = (int8_t *)(b + 192);
        const float iscale = -128.f / max_scale;
        put_half(b + 208, 1 / iscale);
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            const int v = xf_nearest_int(iscale * scales[ib]);
            sc[ib] = (int8_t)(v < 127 ? v : 127);
        }
        const float dh = half_round(1 / iscale);
        for (int j = 0; j < QK_K / 16; ++j) {
            const float d = dh * sc[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ++ii) L[16 * j + ii] = (int8_t)(clampi(xf_nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
        }
        uint8_t *ql = b, *qh = b + 128;
        for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32)
            for (int l = 0; l < 32; ++l) {
                const int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = (uint8_t)(q1 | q3 << 4);
                ql[l + 32] = (uint8_t)(q2 | q4 << 4);
                qh[l] = (uint8_t)((L[j + l] >> 4) | (L[j + l + 32] >> 4) << 2 | (L[j + l + 64] >> 4) << 4 |
                                  (L[j + l + 96] >> 4) << 6);
            }
    }
}
