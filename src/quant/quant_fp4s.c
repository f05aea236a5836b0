/* quant_fp4s.c — xfmr's searched FP4 (GGUF type FP4S, layout in kernels/quants.h): LLM-FP4's
 * search of the 4-bit format and its exponent bias, made per block of 32 weights.
 *
 * A block stores a 2-bit format, an unsigned E8M6 scale d (fp32's exponent and top 6 mantissa
 * bits) and 32 4-bit codes; the weight is d * lut[format][code], lut the format's values times the
 * power of two that makes them integers (E2M1 x 2: 0..12, E1M2 x 4: 0..7, E3M0: 1..64, INT4:
 * -8..7). A floating-point format's exponent bias only multiplies every value by a power of two, so
 * it is folded into d ("pre-shifted"): searching the bias is searching d's exponent, and every
 * format decodes through a 16-entry integer table (one vpshufb, then int8 dots).
 *
 * For each block, each of the 4 formats tries scales on the E8M6 grid from ~0.6x to ~1.2x the one
 * that maps the block's largest magnitude to the format's largest value (every 4th grid step, then
 * the 3 neighbours either side of the best: the grid has 64 steps per octave), codes rounded to
 * the nearest level, and a weighted least-squares refit of the scale to the best codes; the block
 * keeps the (format, scale, codes) of least
 *     sum_j w[j] (x[j] - d lut[f][q[j]])^2,
 * w[j] = imp[j] (the calibration inputs' sum of squares of input j, as quant_search.c's searched
 * Q4_0: the expected squared output error with the cross terms dropped) or 1 without calibration.
 * The candidates include MXFP4's round-to-nearest block (E2M1 with a power-of-two scale), so a
 * block's error is never above MXFP4's. LLM-FP4 searches the format per tensor and the bias per
 * channel; here both are per block — a superset at no cost in bits (the 2 format bits sit beside
 * the scale in the 16-bit field), so no block's error is above what a per-row choice gives. */
#include <math.h>
#include <string.h>

#include "kernels/quants.h"
#include "quant/quantize.h"

/* d > 0 rounded to the nearest E8M6 value (halfway up), as the 14 bits stored; 0 for d <= 0 or
 * below the grid, the largest finite value for d above it. */
uint32_t xf_e8m6_of(float d) {
    if (!(d > 0)) return 0;
    uint32_t b;
    memcpy(&b, &d, 4);
    b = (b + (1u << 16)) >> 17;
    return b > 0x3fbfu ? 0x3fbfu : b; /* exponent 254, mantissa 63 */
}
float xf_e8m6_val(uint32_t s) {
    const uint32_t b = (s & 0x3fffu) << 17;
    float d;
    memcpy(&d, &b, 4);
    return d;
}

/* Codes of x in format f at scale d (d > 0), and their weighted error. */
static double codes_err(const float *x, const double *w, int f, float d, uint8_t *q) {
    const int8_t *L = xf_fp4s_lut[f];
    double e = 0;
    if (f == 3) return xf_q4_codes_err(x, w, d, q); /* INT4: code - 8 */
    float mid[7]; /* sign-magnitude: the nearest of the 8 magnitudes */
    for (int i = 0; i < 7; i++) mid[i] = 0.5f * (float)(L[i] + L[i + 1]) * d;
    for (int j = 0; j < 32; j++) {
        const float a = fabsf(x[j]);
        int idx = 0;
        for (int i = 0; i < 7; i++) idx += a > mid[i];
        q[j] = (uint8_t)(idx | (x[j] < 0 && idx ? 8 : 0));
        const double r = (double)a - (double)d * L[idx];
        e += w[j] * r * r;
    }
    return e;
}

static double err_of(const float *x, const double *w, int f, float d, const uint8_t *q) {
    double e = 0;
    for (int j = 0; j < 32; j++) {
        const double r = (double)x[j] - (double)d * xf_fp4s_lut[f][q[j]];
        e += w[j] * r * r;
    }
    return e;
}

typedef struct {
    double err;
    uint32_t s;
    int f;
    uint8_t q[32];
} fp4s_best;

static void consider(const float *x, const double *w, int f, uint32_t s, fp4s_best *b) {
    if (!s) return;
    uint8_t q[32];
    const double e = codes_err(x, w, f, xf_e8m6_val(s), q);
    if (e < b->err) b->err = e, b->s = s, b->f = f, memcpy(b->q, q, 32);
}

float xf_block_weights(const float *x, const double *imp, double w[32]) {
    float amax = 0;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) amax = fabsf(x[j]);
    double mean = 0;
    for (int j = 0; j < 32; j++) mean += imp ? imp[j] : 1.0;
    mean /= 32;
    for (int j = 0; j < 32; j++) w[j] = (imp ? imp[j] : 1.0) + 1e-6 * mean + 1e-30; /* no input ignored entirely */
    return amax;
}

/* One block of 32. */
static void block(const float *x, const double *imp, uint8_t *out) {
    double w[32];
    const float amax = xf_block_weights(x, imp, w);
    fp4s_best b = {.err = INFINITY, .s = 0, .f = 0};
    memset(out, 0, 18); /* scale 0, E2M1 codes 0: the zero block (amax 0, or below the scale's range) */
    if (amax == 0) return;
    /* MXFP4's round-to-nearest block: E2M1 at 2^(floor(log2 amax) - 2) */
    consider(x, w, 0, xf_e8m6_of(ldexpf(1.0f, (int)floorf(log2f(amax)) - 2) * 0.5f), &b);
    for (int f = 0; f < 4; f++) {
        fp4s_best bf = {.err = INFINITY, .s = 0, .f = f};
        const float top = f == 3 ? 8.0f : (float)xf_fp4s_lut[f][7];
        const long s0 = (long)xf_e8m6_of(amax / top);
        for (long s = s0 - 48; s <= s0 + (f == 3 ? 20 : 16); s += 4)
            if (s > 0 && s <= 0x3fbf) consider(x, w, f, (uint32_t)s, &bf);
        const long c = (long)bf.s;
        for (long s = c - 3; s <= c + 3; s++)
            if (s > 0 && s <= 0x3fbf && s != c) consider(x, w, f, (uint32_t)s, &bf);
        if (bf.s) { /* refit the scale to the best codes */
            double sxl = 0, sll = 0;
            for (int j = 0; j < 32; j++) {
                const double l = xf_fp4s_lut[f][bf.q[j]];
                sxl += w[j] * x[j] * l, sll += w[j] * l * l;
            }
            const uint32_t s = sll > 0 && sxl > 0 ? xf_e8m6_of((float)(sxl / sll)) : 0;
            if (s) {
                const double e = err_of(x, w, f, xf_e8m6_val(s), bf.q);
                if (e < bf.err) bf.err = e, bf.s = s;
                consider(x, w, f, s, &bf);
            }
        }
        if (bf.err < b.err) b = bf;
    }
    if (!b.s) return;
    const uint32_t field = b.s | (uint32_t)b.f << 14;
    out[0] = (uint8_t)field, out[1] = (uint8_t)(field >> 8);
    for (int j = 0; j < 16; j++) out[2 + j] = (uint8_t)(b.q[j] | b.q[j + 16] << 4);
}

void xf_quantize_fp4s_searched(const float *x, const double *imp, void *out, size_t n) {
    uint8_t *b = out;
    for (size_t i = 0; i < n / 32; i++) block(x + 32 * i, imp ? imp + 32 * i : NULL, b + 18 * i);
}

void xf_quantize_fp4s(const float *x, void *out, size_t n) { xf_quantize_fp4s_searched(x, NULL, out, n); }
