/* quants.h — scalar reference kernels for the GGUF / ggml block formats: dequantize a row, and the
 * dot product of a quantized row with an fp32 vector. Bit-exact with ggml's definitions (and with
 * the `gguf` Python package's gguf.quants.dequantize, which computes in float32 in the same order).
 *
 * n (elements) must be a multiple of the type's block size; blocks holds n / block_size blocks of
 * type_size bytes each, packed, with no alignment requirement (everything is read bytewise, all
 * multi-byte fields little-endian). Layouts (byte offsets within one block; "f16" = IEEE half,
 * converted with xf_f16_to_f32; QK_K = 256):
 *
 *   F32   1 elem /  4 B, F16 1 / 2 B, BF16 1 / 2 B (upper half of an fp32).
 *   Q8_0  32 / 34 B : d f16 | qs[32] int8                      w[j] = qs[j] * d
 *   Q4_0  32 / 18 B : d f16 | qs[16]                           w[j] = d * (nib(j) - 8)
 *   Q4_1  32 / 20 B : d f16 | m f16 | qs[16]                   w[j] = d * nib(j) + m
 *   Q5_0  32 / 22 B : d f16 | qh u32 | qs[16]                  w[j] = d * ((nib(j) | hbit(j) << 4) - 16)
 *   Q5_1  32 / 24 B : d f16 | m f16 | qh u32 | qs[16]          w[j] = d * (nib(j) | hbit(j) << 4) + m
 *         nib(j) = qs[j] & 15 for j < 16, qs[j - 16] >> 4 for j >= 16; hbit(j) = bit j of qh.
 *   Q2_K 256 / 84 B : scales[16] | qs[64] | d f16 | dmin f16
 *         element e = 128 h + 32 s + l (h < 2, s < 4, l < 32): q = (qs[32 h + l] >> 2 s) & 3;
 *         group g = e / 16: w = (d * (scales[g] & 15)) * q - dmin * (scales[g] >> 4).
 *   Q3_K 256 / 110 B: hmask[32] | qs[64] | scales[12] | d f16
 *         element e = 128 h + 32 s + l: lo = (qs[32 h + l] >> 2 s) & 3, hi = bit (e / 32) of
 *         hmask[l]; q = lo - (hi ? 0 : 4). 16 six-bit scales, group g = e / 16:
 *         sc = (low nibble of scales[g] for g < 8, high nibble of scales[g - 8] otherwise)
 *              | ((scales[8 + g % 4] >> 2 (g / 4)) & 3) << 4;  w = (d * (sc - 32)) * q.
 *   Q4_K 256 / 144 B: d f16 | dmin f16 | scales[12] | qs[128]
 *         element e = 64 c + 32 s + l (c < 4, s < 2): q = (qs[32 c + l] >> 4 s) & 15;
 *         sub-block j = e / 32 with 6-bit (sc, mn) unpacked from scales[12] as ggml's
 *         get_scale_min_k4; w = (d * sc) * q - dmin * mn.
 *   Q5_K 256 / 176 B: d f16 | dmin f16 | scales[12] | qh[32] | qs[128]
 *         as Q4_K with q |= (bit (e / 32) of qh[e % 32]) << 4.
 *   Q6_K 256 / 210 B: ql[128] | qh[64] | scales[16] int8 | d f16
 *         element e = 128 h + r: q = ((ql[64 h + r % 64] >> 4 (r / 64)) & 15)
 *                                    | ((qh[32 h + r % 32] >> 2 (r / 32)) & 3) << 4;
 *         w = (d * scales[e / 16]) * (q - 32).
 *   MXFP4 32 / 17 B : e u8 | qs[16]                           w[j] = kv[nib(j)] * 2^(e - 128)
 *         kv = {0 1 2 3 4 6 8 12, 0 -1 -2 -3 -4 -6 -8 -12} (E2M1 doubled; E8M0 scale halved,
 *         subnormal for e < 2), nib(j) as for Q4_0.
 *   FP4S  32 / 18 B : s u16 | qs[16]                          w[j] = d * lut[fmt][nib(j)]
 *         xfmr's searched FP4 (GGUF id XF_GGML_FP4S; quant/quant_fp4s.c): fmt = s >> 14 and
 *         d = the fp32 with bits (s & 0x3fff) << 17 (an unsigned "E8M6": fp32's exponent and top 6
 *         mantissa bits; 0 for a zero block). The 4-bit format's exponent bias is folded into d,
 *         so each format decodes to small integers (xf_fp4s_lut):
 *           0 E2M1 x 2: 0 1 2 3 4 6 8 12      1 E1M2 x 4: 0 1 2 3 4 5 6 7
 *           2 E3M0:     0 1 2 4 8 16 32 64    (codes 8..15: the same negated, sign-magnitude)
 *           3 INT4:     code - 8 (-8 .. 7, two's-complement-like as Q4_0)
 *         nib(j) as for Q4_0.
 *   FP8S  32 / 34 B : s u16 | qs[32]                          w[j] = u(qs[j]) * D
 *         xfmr's FP8 (GGUF id XF_GGML_FP8S; quant/quant_fp8s.c): fmt = s >> 14 (0 E4M3, 1 E5M2;
 *         bit 15 unused), D as FP4S's d; u(c) = the fp32 with bits (c & 0x7f) << 20 (E4M3) or
 *         << 21 (E5M2), negated when c & 0x80 — the format's value times 2^-120 / 2^-112, its
 *         subnormals included (the power of two is folded into D). E4M3's NaN codes and E5M2's
 *         Inf / NaN codes decode as finite values (never written).
 *
 * Dot order (all types): for each block, a float accumulator sums w[j] * x[j] for j in element
 * order, w[j] being exactly the dequantized float (no fused multiply-add); block sums are added,
 * in block order, into a double that is rounded to float at the end. It therefore equals
 * dequantize-then-dot within float rounding of the per-block partial sums. */
#ifndef XF_KERNELS_QUANTS_H
#define XF_KERNELS_QUANTS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "io/gguf.h"

typedef void (*xf_dequant_fn)(const void *blocks, float *out, size_t n);
typedef float (*xf_dot_f32_fn)(const void *blocks, const float *x, size_t n);

typedef struct xf_quant_traits {
    const char *name;   /* ggml's spelling: "Q4_K", "F16", ... */
    int ggml_type;      /* ggml type id */
    size_t block_size;  /* elements per block */
    size_t type_size;   /* bytes per block */
    xf_dequant_fn dequant;
    xf_dot_f32_fn dot;
} xf_quant_traits;

/* Traits of a ggml type id, or NULL if no kernels exist for it. */
const xf_quant_traits *xf_quant_traits_of(int ggml_type);

#define XF_QUANT_DECL(t)                                                    \
    void xf_dequant_##t##_ref(const void *blocks, float *out, size_t n);   \
    float xf_dot_##t##_f32_ref(const void *blocks, const float *x, size_t n);
XF_QUANT_DECL(f32)
XF_QUANT_DECL(f16)
XF_QUANT_DECL(bf16)
XF_QUANT_DECL(q8_0)
XF_QUANT_DECL(q4_0)
XF_QUANT_DECL(q4_1)
XF_QUANT_DECL(q5_0)
XF_QUANT_DECL(q5_1)
XF_QUANT_DECL(q2_k)
XF_QUANT_DECL(q3_k)
XF_QUANT_DECL(q4_k)
XF_QUANT_DECL(q5_k)
XF_QUANT_DECL(q6_k)
XF_QUANT_DECL(mxfp4)
XF_QUANT_DECL(fp4s)
XF_QUANT_DECL(fp8s)
#undef XF_QUANT_DECL

/* FP4S: the integer value of code c (0..15) in format f (0..3), and the block's scale. */
extern const int8_t xf_fp4s_lut[4][16];
static inline float xf_fp4s_scale(const uint8_t *b) {
    const uint32_t bits = ((uint32_t)b[0] | (uint32_t)(b[1] & 0x3f) << 8) << 17;
    float d;
    memcpy(&d, &bits, 4);
    return d;
}
static inline int xf_fp4s_format(const uint8_t *b) { return b[1] >> 6; }
/* MXFP4: its E8M0 exponent e as the halved scale 2^(e - 128) (subnormal for e < 2), ggml's
 * GGML_E8M0_TO_FP32_HALF; its codes decode as FP4S's format 0 (E2M1 doubled). */
static inline float xf_e8m0_half(uint8_t e) {
    const uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float d;
    memcpy(&d, &bits, 4);
    return d;
}
/* The 4-bit table types (FP4S, MXFP4: qt): block b's 16 code values (small integers), its scale
 * *d and its 16 bytes of codes *qs (code j < 16 the low nibble of qs[j], code j + 16 the high one):
 * w[j] = d * table[code j]. One function so that every kernel reads both types alike. */
static inline const int8_t *xf_fp4_block(int qt, const uint8_t *b, float *d, const uint8_t **qs) {
    if (qt == XF_GGML_MXFP4) {
        *d = xf_e8m0_half(b[0]), *qs = b + 1;
        return xf_fp4s_lut[0];
    }
    *d = xf_fp4s_scale(b), *qs = b + 2;
    return xf_fp4s_lut[xf_fp4s_format(b)];
}
/* FP8S: the shift of a code's 7 magnitude bits into an fp32 (20 E4M3, 21 E5M2); the scale is
 * xf_fp4s_scale's. */
static inline int xf_fp8s_shift(const uint8_t *b) { return b[1] & 0x40 ? 21 : 20; }

/* Bytes per block of quantized type t (32 weights, 256 for the K types; 0 for others): a switch
 * that folds to a constant in kernels specialised per type. */
static inline size_t xf_qblock_bytes(int t) {
    switch (t) {
    case XF_GGML_Q8_0: return 34;
    case XF_GGML_Q4_0: return 18;
    case XF_GGML_Q4_1: return 20;
    case XF_GGML_Q5_0: return 22;
    case XF_GGML_Q5_1: return 24;
    case XF_GGML_Q2_K: return 84;
    case XF_GGML_Q3_K: return 110;
    case XF_GGML_Q4_K: return 144;
    case XF_GGML_Q5_K: return 176;
    case XF_GGML_Q6_K: return 210;
    case XF_GGML_MXFP4: return 17;
    case XF_GGML_FP4S: return 18;
    case XF_GGML_FP8S: return 34;
    default: return 0;
    }
}

/* Block-field helpers shared by the reference decoders and the vectorized ones (qmatmul.c). */

/* The little-endian IEEE half at p as a float, branch-free for finite values: the exponent is
 * rebiased by one exact multiplication by 2^112 (subnormal halves land on fp32 subnormals first,
 * scaled exactly too); Inf / NaN get the fp32 all-ones exponent. Equal to xf_f16_to_f32. */
static inline float xf_half_at(const uint8_t *p) {
    uint32_t h = (uint32_t)p[0] | (uint32_t)p[1] << 8, em = h & 0x7fffu, bits = em << 13;
    float f;
    memcpy(&f, &bits, 4);
    f *= 0x1p112f;
    memcpy(&bits, &f, 4);
    if (em >= 0x7c00u) bits = em << 13 | 0x70000000u;
    bits |= (h & 0x8000u) << 16;
    memcpy(&f, &bits, 4);
    return f;
}

/* Q3_K: the 6-bit scale of 16-element group g (0..15) from the 12 packed bytes sc, minus 32. */
static inline int xf_q3k_scale(const uint8_t *sc, int g) {
    int lo = g < 8 ? (sc[g] & 15) : (sc[g - 8] >> 4);
    int hi = (sc[8 + g % 4] >> (2 * (g / 4))) & 3;
    return (lo | hi << 4) - 32;
}

/* Q4_K / Q5_K: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes q (ggml's
 * get_scale_min_k4). */
static inline void xf_qk4_scale_min(int j, const uint8_t *q, int *sc, int *mn) {
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

#endif
