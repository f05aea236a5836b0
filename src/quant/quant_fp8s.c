/* quant_fp8s.c — xfmr's FP8 (GGUF type FP8S, layout in kernels/quants.h): per block of 32 weights
 * the 8-bit format (E4M3 or E5M2) and an E8M6 scale, searched like FP4S (quant_fp4s.c).
 *
 * A code c decodes as the fp32 whose bits are (c & 0x7f) << 20 (E4M3) or << 21 (E5M2), with c's
 * sign: the format's value times 2^-120 (E4M3, bias 7) or 2^-112 (E5M2, bias 15), subnormals
 * included; the block's scale D carries that power of two ("pre-shifted"), so a weight is one
 * shift, one or and one multiplication. The codes of E4M3's NaN (0x7f, 0xff) and E5M2's Inf / NaN
 * (exponent 31) are never written; they decode to finite values (480 and 2^16 .. 1.75 x 2^16 in
 * the format's units).
 *
 * For each block and format: scales on the E8M6 grid from the one that maps the largest magnitude
 * to the format's largest finite value (448, 57344) down 6 steps and up 1 (the grid has 64 per
 * octave; 8 bits of codes leave little to clip) and the power of two that fits, codes rounded to the nearest value; the block
 * keeps the least sum_j w[j] (x[j] - w_j)^2, w as FP4S's (calibration activations or 1). */
#include <math.h>
#include <string.h>

#include "kernels/quants.h"
#include "quant/quantize.h"

#define N_MAG(f) ((f) ? 124 : 127) /* codes 0 .. N_MAG - 1 are the finite non-negative values */

/* A code's magnitude as the decoder computes it before the scale: the fp32 with bits (c & 0x7f) <<
 * 20 (E4M3) or << 21 (E5M2) — the format's value times 2^-120 / 2^-112. */
static float fp8_unit(int f, unsigned c) {
    const uint32_t bits = (c & 0x7fu) << (f ? 21 : 20);
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

/* The code of the value nearest to y >= 0 (in those units; halfway: the larger), saturated at the
 * largest finite one. The codes are the fp32 bit patterns that are multiples of 2^20 (2^21), and
 * between two of them the patterns lie in one fp32 binade, where pattern and value are linear:
 * rounding the pattern is rounding the value. */
static unsigned nearest(int f, float y) {
    const int sh = f ? 21 : 20;
    uint32_t bits;
    memcpy(&bits, &y, 4);
    const uint32_t c = bits >= 0x7f800000u ? 0x7fu : (bits + (1u << (sh - 1))) >> sh;
    return c > (uint32_t)N_MAG(f) - 1 ? (unsigned)N_MAG(f) - 1 : (unsigned)c;
}

static double codes_err(const float *x, const double *w, int f, float D, uint8_t *q) {
    double e = 0;
    const float id = 1.0f / D;
    for (int j = 0; j < 32; j++) {
        const unsigned c = nearest(f, fabsf(x[j]) * id);
        q[j] = (uint8_t)(c | (x[j] < 0 && c ? 0x80u : 0));
        const double r = (double)fabsf(x[j]) - (double)fp8_unit(f, c) * D;
        e += w[j] * r * r;
    }
    return e;
}

static void block(const float *x, const double *imp, uint8_t *out) {
    double w[32];
    const float amax = xf_block_weights(x, imp, w);
    memset(out, 0, 34);
    if (amax == 0) return;
    double best = INFINITY;
    uint32_t bs = 0;
    int bf = 0;
    uint8_t bq[32], q[32];
    for (int f = 0; f < 2; f++) {
        const long s0 = (long)xf_e8m6_of(amax / fp8_unit(f, N_MAG(f) - 1));
        for (int k = 0; k <= 8; k++) { /* s0 - 6 .. s0 + 1, then the power of two that fits (grid values stay exact) */
            const long s = k < 8 ? s0 - 6 + k : (s0 + 63) & ~63L;
            if (s <= 0 || s > 0x3fbf) continue;
            const double e = codes_err(x, w, f, xf_e8m6_val((uint32_t)s), q);
            if (e < best) best = e, bs = (uint32_t)s, bf = f, memcpy(bq, q, 32);
        }
    }
    if (!bs) return;
    const uint32_t field = bs | (uint32_t)bf << 14;
    out[0] = (uint8_t)field, out[1] = (uint8_t)(field >> 8);
    memcpy(out + 2, bq, 32);
}

void xf_quantize_fp8s_searched(const float *x, const double *imp, void *out, size_t n) {
    uint8_t *b = out;
    for (size_t i = 0; i < n / 32; i++) block(x + 32 * i, imp ? imp + 32 * i : NULL, b + 34 * i);
}

void xf_quantize_fp8s(const float *x, void *out, size_t n) { xf_quantize_fp8s_searched(x, NULL, out, n); }
