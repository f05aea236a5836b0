/* quant_mxfp4.c — MXFP4 from floats, as ggml's quantize_row_mxfp4_ref (quantize.h): per block of
 * 32, the shared E8M0 exponent e = floor(log2(amax)) - 2 + 127 (the largest E2M1 value, 6, then
 * covers amax up to 1.5 * 2^(e-127+2)), and each value the nearest of the 16 E2M1 codes (the first
 * of two equally near ones). ggml keeps the codes doubled (kvalues 0 1 2 3 4 6 8 12, negatives) and
 * the scale halved: value = kvalues[code] * 2^(e - 128). Block: e | qs[16] (element j in the low
 * nibble of qs[j], element j + 16 in the high one). */
#include <math.h>

#include "kernels/quants.h"
#include "quant/quantize.h"

/* The nearest of the 16 codes to x at scale e: their doubled E2M1 values are the table MXFP4's
 * decoders read (quants.h, FP4S's format 0). */
static uint8_t best_index(float x, float e) {
    const int8_t *k_e2m1x2 = xf_fp4s_lut[0];
    int best = 0;
    float best_err = fabsf(k_e2m1x2[0] * e - x);
    for (int i = 1; i < 16; i++) {
        const float err = fabsf(k_e2m1x2[i] * e - x);
        if (err < best_err) best = i, best_err = err;
    }
    return (uint8_t)best;
}

void xf_quantize_mxfp4_ref(const float *x, void *out, size_t n) {
    uint8_t *b = out;
    for (size_t i = 0; i < n / 32; i++, x += 32, b += 17) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(x[j])) amax = fabsf(x[j]);
        /* ggml converts the float straight to uint8_t; below 2^-127 (where that would be
         * undefined) the block is all but zero and gets the smallest exponent */
        const float ef = amax > 0.0f ? floorf(log2f(amax)) - 2 + 127 : 0.0f;
        const uint8_t e = ef > 0.0f ? (uint8_t)ef : 0;
        const float d = xf_e8m0_half(e);
        b[0] = e;
        for (int j = 0; j < 16; j++) b[1 + j] = (uint8_t)(best_index(x[j], d) | best_index(x[j + 16], d) << 4);
    }
}
