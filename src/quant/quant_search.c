/* quant_search.c — Q4_0 blocks with the scale searched against calibration activations (xfmr's
 * "searched INT4", written in the standard Q4_0 layout so that every Q4_0 reader runs it).
 *
 * Round-to-nearest Q4_0 (quant_legacy.c) maps the block's largest magnitude to the code -8; that
 * spends the grid on one outlier. Here each block of 32 chooses its scale d among the clipping
 * ratios r = 1.00, 0.99, ..., 0.60 of RTN's (d = r * max / -8, the largest magnitude towards
 * code -8 as RTN, or d = r * max / 7, towards +7; codes rounded to nearest and clamped to -8..7), ggml's own RTN blocks, and a weighted least-squares refit of the best codes,
 * minimising the output error the block adds on the calibration activations,
 *     sum_j imp[j] (x[j] - d_h (q[j] - 8))^2,   imp[j] = sum over calibration tokens of input j^2
 * (the diagonal of X^T X: the expected squared error of the layer's output, cross terms
 * dropped, as AWQ / llama.cpp's importance matrix weigh it), with d_h the half-rounded scale that
 * is stored. Each block's error is therefore never above RTN's. */
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "quant/quantize.h"

static float half_round(float f) { return xf_f16_to_f32(xf_f32_to_f16(f)); }

/* Codes of x for scale d (half-rounded already), and their weighted error. */
double xf_q4_codes_err(const float *x, const double *w, float d, uint8_t *q) {
    const float id = d ? 1.0f / d : 0.0f;
    double e = 0;
    for (int j = 0; j < 32; j++) {
        int l = xf_nearest_int(x[j] * id);
        l = l < -8 ? -8 : l > 7 ? 7 : l;
        q[j] = (uint8_t)(l + 8);
        const double r = (double)x[j] - (double)d * l;
        e += w[j] * r * r;
    }
    return e;
}

static double err_of(const float *x, const double *w, float d, const uint8_t *q) {
    double e = 0;
    for (int j = 0; j < 32; j++) {
        const double r = (double)x[j] - (double)d * (q[j] - 8);
        e += w[j] * r * r;
    }
    return e;
}

void xf_quantize_q4_0_searched(const float *x, const double *imp, void *out, size_t n) {
    uint8_t *b = out;
    for (size_t i = 0; i < n / 32; i++, x += 32, imp += 32, b += 18) {
        xf_quantize_q4_0_ref(x, b, 32); /* RTN: the candidate to beat (and the all-zero case) */
        double w[32], mean = 0;
        for (int j = 0; j < 32; j++) mean += imp[j];
        mean /= 32;
        for (int j = 0; j < 32; j++) w[j] = imp[j] + 1e-6 * mean + 1e-30; /* no input is ignored entirely */
        uint8_t best_q[32], q[32];
        float best_d = xf_f16_to_f32((uint16_t)(b[0] | b[1] << 8));
        for (int j = 0; j < 16; j++) best_q[j] = b[2 + j] & 15, best_q[j + 16] = b[2 + j] >> 4;
        double best = err_of(x, w, best_d, best_q);
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(x[j])) amax = fabsf(x[j]), max = x[j];
        if (amax == 0) continue;
        for (int side = 0; side < 2; side++) /* the largest magnitude towards code -8, or +7 */
            for (int k = 0; k <= 40; k++) {
                const float d = half_round(max / (side ? 7.0f : -8.0f) * (1.0f - 0.01f * (float)k));
                if (!d) continue;
                const double e = xf_q4_codes_err(x, w, d, q);
                if (e < best) best = e, best_d = d, memcpy(best_q, q, 32);
            }
        double sxl = 0, sll = 0; /* refit the scale to the best codes */
        for (int j = 0; j < 32; j++) sxl += w[j] * x[j] * (best_q[j] - 8), sll += w[j] * (best_q[j] - 8) * (best_q[j] - 8);
        if (sll > 0) {
            const float d = half_round((float)(sxl / sll));
            if (d && isfinite(d)) {
                const double e = err_of(x, w, d, best_q);
                if (e < best) best = e, best_d = d;
                const double e2 = xf_q4_codes_err(x, w, d, q);
                if (e2 < best) best = e2, best_d = d, memcpy(best_q, q, 32);
            }
        }
        const uint16_t h = xf_f32_to_f16(best_d);
        b[0] = (uint8_t)h, b[1] = (uint8_t)(h >> 8);
        for (int j = 0; j < 16; j++) b[2 + j] = (uint8_t)(best_q[j] | best_q[j + 16] << 4);
    }
}
