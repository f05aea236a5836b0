/* simd.h — portable SIMD building blocks (GCC/Clang vector extensions) and the runtime dispatch
 * macro. XF_DISPATCH_VOID compiles a function once per ISA level (AVX-512, AVX2+FMA, baseline) and
 * runs the one kernels/cpu.h allows; kernels written with these types therefore keep a single
 * source, and each has a plain scalar *_ref twin for tests. */
#ifndef XF_KERNELS_SIMD_H
#define XF_KERNELS_SIMD_H

#include <stddef.h>
#include <string.h>

/* Helpers are forced inline so that each dispatched clone compiles them for its own ISA (an
 * out-of-line copy would be built for the baseline and differ in rounding from the FMA path). */
#define XF_INLINE static inline __attribute__((always_inline))

typedef float xf_v8 __attribute__((vector_size(32)));

XF_INLINE xf_v8 xf_v8_load(const float *p) {
    xf_v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

XF_INLINE void xf_v8_store(float *p, xf_v8 v) { memcpy(p, &v, sizeof v); }

typedef int xf_v8i __attribute__((vector_size(32)));

/* Written as a scalar-vector operation (exact: f - 0 is f, signed zeros included) because GCC 12
 * builds an {f, f, ...} initializer of a run-time f from 8 insertps in the target clones. */
XF_INLINE xf_v8 xf_v8_splat(float f) { return f - (xf_v8){0}; }

/* Lane-wise select: mask lanes are all-ones (take a) or zero (take b). */
XF_INLINE xf_v8 xf_v8_select(xf_v8i mask, xf_v8 a, xf_v8 b) {
    return (xf_v8)(((xf_v8i)a & mask) | ((xf_v8i)b & ~mask));
}
XF_INLINE xf_v8 xf_v8_min(xf_v8 a, xf_v8 b) { return xf_v8_select(a < b, a, b); }
XF_INLINE xf_v8 xf_v8_max(xf_v8 a, xf_v8 b) { return xf_v8_select(a > b, a, b); }

/* e^x, x clamped to [-87.3, 88.7]: x = n ln2 + r with |r| <= ln2/2 (n rounded to nearest by the
 * 1.5 * 2^23 trick), a degree-6 Taylor polynomial for e^r, scaled by 2^n through the exponent
 * bits. Max relative error ~2e-7. */
XF_INLINE xf_v8 xf_v8_exp(xf_v8 x) {
    const xf_v8 round = xf_v8_splat(12582912.0f);
    x = xf_v8_max(xf_v8_min(x, xf_v8_splat(88.7f)), xf_v8_splat(-87.3f));
    xf_v8 nf = (x * xf_v8_splat(1.44269504088896341f) + round) - round;
    xf_v8 r = x - nf * xf_v8_splat(0.693145751953125f);
    r = r - nf * xf_v8_splat(1.428606765330187045e-06f);
    xf_v8 p = xf_v8_splat(1.0f / 720.0f);
    p = p * r + xf_v8_splat(1.0f / 120.0f);
    p = p * r + xf_v8_splat(1.0f / 24.0f);
    p = p * r + xf_v8_splat(1.0f / 6.0f);
    p = p * r + xf_v8_splat(0.5f);
    p = p * r + xf_v8_splat(1.0f);
    p = p * r + xf_v8_splat(1.0f);
    xf_v8i bits = (__builtin_convertvector(nf, xf_v8i) + 127) << 23;
    return p * (xf_v8)bits;
}

/* erf(x) by Abramowitz & Stegun 7.1.26 (max absolute error 1.5e-7), odd-symmetric. */
XF_INLINE xf_v8 xf_v8_erf(xf_v8 x) {
    xf_v8 ax = xf_v8_max(x, -x);
    xf_v8 t = xf_v8_splat(1.0f) / (xf_v8_splat(1.0f) + xf_v8_splat(0.3275911f) * ax);
    xf_v8 p = xf_v8_splat(1.061405429f);
    p = p * t + xf_v8_splat(-1.453152027f);
    p = p * t + xf_v8_splat(1.421413741f);
    p = p * t + xf_v8_splat(-0.284496736f);
    p = p * t + xf_v8_splat(0.254829592f);
    xf_v8 y = xf_v8_splat(1.0f) - p * t * xf_v8_exp(-ax * ax);
    return xf_v8_select(x < 0, -y, y);
}

/* Horizontal sum in a fixed order, so every caller gets bit-identical results. */
XF_INLINE float xf_v8_hsum(xf_v8 v) {
    float a = (v[0] + v[4]) + (v[1] + v[5]);
    float b = (v[2] + v[6]) + (v[3] + v[7]);
    return a + b;
}

/* Runtime dispatch of a void kernel written once: after `XF_INLINE void NAME_body PARAMS {...}`,
 * XF_DISPATCH_VOID(NAME, PARAMS, ARGS, ATTRS) defines `void NAME PARAMS` and compiles the body three
 * times, for AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3) and the baseline, ATTRS added to each
 * copy; each call runs the copy of kernels/cpu.h's level (the CPU's, or lower under XF_ISA / a
 * test's xf_isa_cap). Helpers are XF_INLINE, so each copy compiles them for its own ISA. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(XF_NO_DISPATCH)
#include "kernels/cpu.h"
#define XF_DISPATCH_VOID(name, params, args, attrs)                                          \
    __attribute__((target("arch=x86-64-v4"))) attrs static void name##_v4 params { name##_body args; } \
    __attribute__((target("arch=x86-64-v3"))) attrs static void name##_v3 params { name##_body args; } \
    attrs static void name##_v1 params { name##_body args; }                                   \
    void name params {                                                                         \
        switch (xf_isa_level()) {                                                              \
        case XF_ISA_AVX512: name##_v4 args; break;                                             \
        case XF_ISA_AVX2: name##_v3 args; break;                                               \
        default: name##_v1 args; break;                                                        \
        }                                                                                      \
    }
#else
#define XF_DISPATCH_VOID(name, params, args, attrs) \
    void name params { name##_body args; }
#endif

#endif
