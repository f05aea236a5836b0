/* quants.c — scalar reference kernels of the ggml block formats (see quants.h for the layouts).
 *
 * Each format has one block decoder, blk_<type>(block, w), writing the block's floats exactly as
 * ggml computes them; dequant runs it into the output, dot runs it into a stack buffer and
 * accumulates, so both see the very same weights. Kernel sources are compiled with
 * -ffp-contract=fast (CMakeLists.txt); contraction is switched off here so that d * q - m is two
 * roundings as in ggml's C and NumPy references, not one FMA. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "kernels/quants.h"

#include <stdint.h>
#include <string.h>

#include "core/dtype.h"
#include "io/gguf.h"

#define QK 32
#define QK_K 256

static float f16_at(const uint8_t *p) { return xf_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }
static uint32_t u32_at(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ------------------------------------------------------------- block decoders */

static void blk_f32(const uint8_t *b, float *w) {
    uint32_t u = u32_at(b);
    memcpy(w, &u, 4);
}
static void blk_f16(const uint8_t *b, float *w) { w[0] = f16_at(b); }
static void blk_bf16(const uint8_t *b, float *w) { w[0] = xf_bf16_to_f32((uint16_t)(b[0] | b[1] << 8)); }

static void blk_q8_0(const uint8_t *b, float *w) {
    const float d = f16_at(b);
    for (int j = 0; j < QK; j++) w[j] = (float)(int8_t)b[2 + j] * d;
}

static void blk_q4_0(const uint8_t *b, float *w) {
    const float d = f16_at(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < QK / 2; j++) {
        w[j] = d * (float)((qs[j] & 15) - 8);
        w[j + QK / 2] = d * (float)((qs[j] >> 4) - 8);
    }
}

static void blk_q4_1(const uint8_t *b, float *w) {
    const float d = f16_at(b), m = f16_at(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < QK / 2; j++) {
        w[j] = d * (float)(qs[j] & 15) + m;
        w[j + QK / 2] = d * (float)(qs[j] >> 4) + m;
    }
}

static void blk_q5_0(const uint8_t *b, float *w) {
    const float d = f16_at(b);
    const uint32_t qh = u32_at(b + 2);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < QK / 2; j++) {
        int lo = (qs[j] & 15) | (int)((qh >> j) & 1) << 4;
        int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        w[j] = d * (float)(lo - 16);
        w[j + QK / 2] = d * (float)(hi - 16);
    }
}

static void blk_q5_1(const uint8_t *b, float *w) {
    const float d = f16_at(b), m = f16_at(b + 2);
    const uint32_t qh = u32_at(b + 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < QK / 2; j++) {
        int lo = (qs[j] & 15) | (int)((qh >> j) & 1) << 4;
        int hi = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        w[j] = d * (float)lo + m;
        w[j + QK / 2] = d * (float)hi + m;
    }
}

static void blk_q2_k(const uint8_t *b, float *w) {
    const uint8_t *scales = b, *qs = b + 16;
    const float d = f16_at(b + 80), dmin = f16_at(b + 82);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, s = (e / 32) % 4, l = e % 32, g = e / 16;
        int q = (qs[32 * h + l] >> (2 * s)) & 3;
        float dl = d * (float)(scales[g] & 15), ml = dmin * (float)(scales[g] >> 4);
        w[e] = dl * (float)q - ml;
    }
}

static void blk_q3_k(const uint8_t *b, float *w) {
    const uint8_t *hmask = b, *qs = b + 32, *sc = b + 96;
    const float d = f16_at(b + 108);
    float dl[16];
    for (int g = 0; g < 16; g++) dl[g] = d * (float)xf_q3k_scale(sc, g);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, s = (e / 32) % 4, l = e % 32;
        int lo = (qs[32 * h + l] >> (2 * s)) & 3;
        int hb = (hmask[l] >> (e / 32)) & 1;
        w[e] = dl[e / 16] * (float)(lo - (hb ? 0 : 4));
    }
}

/* Q4_K and Q5_K (qh NULL for Q4_K). */
static void blk_k4(const uint8_t *b, const uint8_t *qh, const uint8_t *qs, float *w) {
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t *scales = b + 4;
    for (int j = 0; j < 8; j++) {
        int sc, mn;
        xf_qk4_scale_min(j, scales, &sc, &mn);
        const float d1 = d * (float)sc, m1 = dmin * (float)mn;
        for (int l = 0; l < 32; l++) {
            int e = 32 * j + l;
            int q = (qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 15;
            if (qh) q |= ((qh[l] >> j) & 1) << 4;
            w[e] = d1 * (float)q - m1;
        }
    }
}
static void blk_q4_k(const uint8_t *b, float *w) { blk_k4(b, NULL, b + 16, w); }
static void blk_q5_k(const uint8_t *b, float *w) { blk_k4(b, b + 16, b + 48, w); }

const int8_t xf_fp4s_lut[4][16] = {
    {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12},     /* E2M1 x 2 */
    {0, 1, 2, 3, 4, 5, 6, 7, 0, -1, -2, -3, -4, -5, -6, -7},       /* E1M2 x 4 */
    {0, 1, 2, 4, 8, 16, 32, 64, 0, -1, -2, -4, -8, -16, -32, -64}, /* E3M0 */
    {-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7},      /* INT4 */
};

/* The 4-bit table types (quants.h): FP4S s u16 | qs[16], w = d * lut[fmt][code]; MXFP4 e | qs[16],
 * w = kvalues[code] * 2^(e - 128), kvalues the doubled E2M1 values (ggml's kvalues_mxfp4 with
 * GGML_E8M0_TO_FP32_HALF; e < 2 gives subnormal scales) = FP4S's format 0. */
static void blk_fp4(int qt, const uint8_t *b, float *w) {
    float d;
    const uint8_t *qs;
    const int8_t *lut = xf_fp4_block(qt, b, &d, &qs);
    for (int j = 0; j < 16; j++) {
        w[j] = (float)lut[qs[j] & 15] * d;
        w[j + 16] = (float)lut[qs[j] >> 4] * d;
    }
}
static void blk_fp4s(const uint8_t *b, float *w) { blk_fp4(XF_GGML_FP4S, b, w); }
static void blk_mxfp4(const uint8_t *b, float *w) { blk_fp4(XF_GGML_MXFP4, b, w); }

/* FP8S: s u16 | qs[32]; w = u(code) * D (quants.h). */
static void blk_fp8s(const uint8_t *b, float *w) {
    const float d = xf_fp4s_scale(b);
    const int sh = xf_fp8s_shift(b);
    for (int j = 0; j < 32; j++) {
        const uint32_t bits = (uint32_t)(b[2 + j] & 0x7f) << sh | (uint32_t)(b[2 + j] & 0x80) << 24;
        float u;
        memcpy(&u, &bits, 4);
        w[j] = u * d;
    }
}

static void blk_q6_k(const uint8_t *b, float *w) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *scales = (const int8_t *)(b + 192);
    const float d = f16_at(b + 208);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, r = e % 128;
        int q = ((ql[64 * h + r % 64] >> (4 * (r / 64))) & 15) | ((qh[32 * h + r % 32] >> (2 * (r / 32))) & 3) << 4;
        w[e] = d * (float)scales[e / 16] * (float)(q - 32);
    }
}

/* ------------------------------------------------------------- row kernels */

typedef void (*blk_fn)(const uint8_t *b, float *w);

static void dequant_row(blk_fn f, size_t bs, size_t ts, const void *blocks, float *out, size_t n) {
    const uint8_t *p = blocks;
    for (size_t i = 0; i < n / bs; i++) f(p + i * ts, out + i * bs);
}

static float dot_row(blk_fn f, size_t bs, size_t ts, const void *blocks, const float *x, size_t n) {
    const uint8_t *p = blocks;
    float w[QK_K];
    double total = 0;
    for (size_t i = 0; i < n / bs; i++) {
        f(p + i * ts, w);
        float acc = 0;
        for (size_t j = 0; j < bs; j++) {
            float prod = w[j] * x[i * bs + j];
            acc += prod;
        }
        total += acc;
    }
    return (float)total;
}

#define XF_QUANT_DEF(t, BS, TS)                                                                  \
    void xf_dequant_##t##_ref(const void *blocks, float *out, size_t n) {                         \
        dequant_row(blk_##t, BS, TS, blocks, out, n);                                             \
    }                                                                                             \
    float xf_dot_##t##_f32_ref(const void *blocks, const float *x, size_t n) {                    \
        return dot_row(blk_##t, BS, TS, blocks, x, n);                                            \
    }

/* Scalar types: one "block" per element would make the dot a plain sequential float sum; keep the
 * documented per-block order by grouping them 32 at a time. */
static void blk_f32x(const uint8_t *b, float *w) {
    for (int j = 0; j < QK; j++) blk_f32(b + 4 * j, w + j);
}
static void blk_f16x(const uint8_t *b, float *w) {
    for (int j = 0; j < QK; j++) blk_f16(b + 2 * j, w + j);
}
static void blk_bf16x(const uint8_t *b, float *w) {
    for (int j = 0; j < QK; j++) blk_bf16(b + 2 * j, w + j);
}

/* Scalar types: any n; whole groups of 32 through blk_*x, the tail element by element. */
#define XF_SCALAR_DEF(t, TS)                                                                     \
    void xf_dequant_##t##_ref(const void *blocks, float *out, size_t n) {                         \
        const uint8_t *p = blocks;                                                                \
        for (size_t i = 0; i < n; i++) blk_##t(p + i * TS, out + i);                              \
    }                                                                                             \
    float xf_dot_##t##_f32_ref(const void *blocks, const float *x, size_t n) {                    \
        const uint8_t *p = blocks;                                                                \
        size_t full = n / QK * QK;                                                                \
        double total = dot_row(blk_##t##x, QK, QK * TS, blocks, x, full);                        \
        float acc = 0;                                                                            \
        for (size_t i = full; i < n; i++) {                                                       \
            float w;                                                                              \
            blk_##t(p + i * TS, &w);                                                              \
            float prod = w * x[i];                                                                \
            acc += prod;                                                                          \
        }                                                                                         \
        return (float)(total + acc);                                                              \
    }

XF_SCALAR_DEF(f32, 4)
XF_SCALAR_DEF(f16, 2)
XF_SCALAR_DEF(bf16, 2)
XF_QUANT_DEF(q8_0, QK, 34)
XF_QUANT_DEF(q4_0, QK, 18)
XF_QUANT_DEF(q4_1, QK, 20)
XF_QUANT_DEF(q5_0, QK, 22)
XF_QUANT_DEF(q5_1, QK, 24)
XF_QUANT_DEF(q2_k, QK_K, 84)
XF_QUANT_DEF(q3_k, QK_K, 110)
XF_QUANT_DEF(q4_k, QK_K, 144)
XF_QUANT_DEF(q5_k, QK_K, 176)
XF_QUANT_DEF(q6_k, QK_K, 210)
XF_QUANT_DEF(mxfp4, QK, 17)
XF_QUANT_DEF(fp4s, QK, 18)
XF_QUANT_DEF(fp8s, QK, 34)

/* ------------------------------------------------------------- trait table */

#define T(id, nm, t, BS, TS) \
    {.name = nm, .ggml_type = id, .block_size = BS, .type_size = TS, .dequant = xf_dequant_##t##_ref, .dot = xf_dot_##t##_f32_ref}
static const xf_quant_traits k_traits[] = {
    T(XF_GGML_F32, "F32", f32, 1, 4),        T(XF_GGML_F16, "F16", f16, 1, 2),
    T(XF_GGML_BF16, "BF16", bf16, 1, 2),     T(XF_GGML_Q8_0, "Q8_0", q8_0, QK, 34),
    T(XF_GGML_Q4_0, "Q4_0", q4_0, QK, 18),   T(XF_GGML_Q4_1, "Q4_1", q4_1, QK, 20),
    T(XF_GGML_Q5_0, "Q5_0", q5_0, QK, 22),   T(XF_GGML_Q5_1, "Q5_1", q5_1, QK, 24),
    T(XF_GGML_Q2_K, "Q2_K", q2_k, QK_K, 84), T(XF_GGML_Q3_K, "Q3_K", q3_k, QK_K, 110),
    T(XF_GGML_Q4_K, "Q4_K", q4_k, QK_K, 144), T(XF_GGML_Q5_K, "Q5_K", q5_k, QK_K, 176),
    T(XF_GGML_Q6_K, "Q6_K", q6_k, QK_K, 210), T(XF_GGML_MXFP4, "MXFP4", mxfp4, QK, 17),
    T(XF_GGML_FP4S, "FP4S", fp4s, QK, 18), T(XF_GGML_FP8S, "FP8S", fp8s, QK, 34),
};
#undef T

const xf_quant_traits *xf_quant_traits_of(int ggml_type) {
    for (size_t i = 0; i < sizeof k_traits / sizeof k_traits[0]; i++)
        if (k_traits[i].ggml_type == ggml_type) return &k_traits[i];
    return NULL;
}
