/* quant_legacy.c — Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 from floats, as ggml's quantize_row_*_ref (see
 * quantize.h): per block of 32, the scale from the absolute maximum (Q8_0: amax / 127; Q4_0 / Q5_0:
 * the signed value of largest magnitude / -8 or / -16, so that it maps to the code 0) or from the
 * range (Q4_1 / Q5_1: (max - min) / 15 or 31 with min as the offset), stored as IEEE half; codes
 * by truncating x / d + 8.5 (resp. + 16.5, + 0.5), Q8_0 by roundf. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "quant/quantize.h"

#define QK 32

static void put_half(uint8_t *p, float f) {
    const uint16_t h = xf_f32_to_f16(f);
    p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> 8 * k);
}

/* The element of largest magnitude (the first of equal ones), with its sign. */
static float signed_max(const float *x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK; j++)
        if (amax < fabsf(x[j])) amax = fabsf(x[j]), max = x[j];
    return max;
}

static void min_max(const float *x, float *mn, float *mx) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < QK; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    *mn = min, *mx = max;
}

void xf_quantize_q8_0_ref(const float *x, void *out, size_t n) {
    uint8_t *b = out;
    for (size_t i = 0; i < n / QK; i++, x += QK, b += 34) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        put_half(b, d);
        for (int j = 0; j < QK; j++) b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
    }
}

/* Q4_0 (bits 4, offset 8) and Q5_0 (bits 5, offset 16). */
static void quant_x0(const float *x, uint8_t *b, size_t n, int bits) {
    const int off = 1 << (bits - 1), top = (1 << bits) - 1;
    const size_t bytes = bits == 4 ? 18 : 22;
    for (size_t i = 0; i < n / QK; i++, x += QK, b += bytes) {
        const float d = signed_max(x) / (float)-off, id = d ? 1.0f / d : 0.0f;
        put_half(b, d);
        uint8_t *qs = b + (bits == 4 ? 2 : 6);
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            const int8_t t0 = (int8_t)(x[j] * id + ((float)off + 0.5f)), t1 = (int8_t)(x[j + QK / 2] * id + ((float)off + 0.5f));
            const uint8_t q0 = (uint8_t)(t0 < top ? t0 : top), q1 = (uint8_t)(t1 < top ? t1 : top);
            qs[j] = (uint8_t)((q0 & 15) | (q1 & 15) << 4);
            qh |= (uint32_t)(q0 >> 4 & 1) << j | (uint32_t)(q1 >> 4 & 1) << (j + QK / 2);
        }
        if (bits == 5) put_u32(b + 2, qh);
    }
}

/* Q4_1 (bits 4) and Q5_1 (bits 5): scale and minimum. */
static void quant_x1(const float *x, uint8_t *b, size_t n, int bits) {
    const int top = (1 << bits) - 1;
    const size_t bytes = bits == 4 ? 20 : 24;
    for (size_t i = 0; i < n / QK; i++, x += QK, b += bytes) {
        float min, max;
        min_max(x, &min, &max);
        const float d = (max - min) / (float)top, id = d ? 1.0f / d : 0.0f;
        put_half(b, d);
        put_half(b + 2, min);
        uint8_t *qs = b + (bits == 4 ? 4 : 8);
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            const float v0 = (x[j] - min) * id + 0.5f, v1 = (x[j + QK / 2] - min) * id + 0.5f;
            uint8_t q0, q1;
            if (bits == 4) { /* ggml: MIN(15, (int8_t)v) */
                const int8_t t0 = (int8_t)v0, t1 = (int8_t)v1;
                q0 = (uint8_t)(t0 < top ? t0 : top), q1 = (uint8_t)(t1 < top ? t1 : top);
            } else { /* ggml: (uint8_t)v, the high bit taken from bit 4 */
                q0 = (uint8_t)v0, q1 = (uint8_t)v1;
            }
            qs[j] = (uint8_t)((q0 & 15) | (q1 & 15) << 4);
            qh |= (uint32_t)(q0 >> 4 & 1) << j | (uint32_t)(q1 >> 4 & 1) << (j + QK / 2);
        }
        if (bits == 5) put_u32(b + 4, qh);
    }
}

void xf_quantize_q4_0_ref(const float *x, void *out, size_t n) { quant_x0(x, out, n, 4); }
void xf_quantize_q5_0_ref(const float *x, void *out, size_t n) { quant_x0(x, out, n, 5); }
void xf_quantize_q4_1_ref(const float *x, void *out, size_t n) { quant_x1(x, out, n, 4); }
void xf_quantize_q5_1_ref(const float *x, void *out, size_t n) { quant_x1(x, out, n, 5); }
