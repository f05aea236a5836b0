/* dtype.c — dtype names, sizes and scalar float conversions (F16/BF16 <-> F32). */
#include "core/dtype.h"

#include <string.h>

static const struct {
    const char *name;
    size_t size;
} k_dtypes[XF_DT_COUNT] = {
    [XF_DT_F32] = {"F32", 4}, [XF_DT_F16] = {"F16", 2}, [XF_DT_BF16] = {"BF16", 2},
    [XF_DT_F64] = {"F64", 8}, [XF_DT_I64] = {"I64", 8}, [XF_DT_I32] = {"I32", 4},
    [XF_DT_I16] = {"I16", 2}, [XF_DT_I8] = {"I8", 1},   [XF_DT_U8] = {"U8", 1},
    [XF_DT_BOOL] = {"BOOL", 1},
};

size_t xf_dtype_size(xf_dtype t) { return (unsigned)t < XF_DT_COUNT ? k_dtypes[t].size : 0; }

const char *xf_dtype_name(xf_dtype t) { return (unsigned)t < XF_DT_COUNT ? k_dtypes[t].name : "?"; }

int xf_dtype_parse(const char *name, xf_dtype *out) {
    for (int i = 0; i < XF_DT_COUNT; i++) {
        if (strcmp(name, k_dtypes[i].name) == 0) {
            *out = (xf_dtype)i;
            return 0;
        }
    }
    return -1;
}

float xf_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            man &= 0x3ff;
            bits = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t xf_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0)); /* inf, NaN */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (ax < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        if (ax < 0x33000000u) return (uint16_t)sign; /* < 2^-25: rounds to zero */
        const uint32_t e = ax >> 23, man = (ax & 0x7fffffu) | 0x800000u, shift = 126 - e; /* 14..24 */
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((ax >> 13) - (112u << 10)), rem = ax & 0x1fffu; /* rebias 127 -> 15 */
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;           /* carries into the exponent */
    return (uint16_t)(sign | h);
}

uint16_t xf_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(u >> 16 | 0x40); /* NaN: stays a (quiet) NaN */
    u += 0x7fffu + (u >> 16 & 1);                                             /* ties to even; carries are right */
    return (uint16_t)(u >> 16);
}

float xf_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int xf_convert_to_f32(xf_dtype t, const void *src, float *dst, size_t n) {
    const unsigned char *s = src;
    if (t == XF_DT_F32) {
        memcpy(dst, src, n * 4);
        return 0;
    }
    if (t == XF_DT_F64) {
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, s + 8 * i, 8);
            dst[i] = (float)d;
        }
        return 0;
    }
    if (t != XF_DT_F16 && t != XF_DT_BF16) return -1;
    float (*cvt)(uint16_t) = t == XF_DT_F16 ? xf_f16_to_f32 : xf_bf16_to_f32;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = cvt(h);
    }
    return 0;
}
