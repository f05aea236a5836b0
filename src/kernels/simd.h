/* simd.h — portable SIMD building blocks (GCC/Clang vector extensions) and the runtime dispatch
 * attribute. XF_DISPATCH compiles a function once per ISA level (AVX-512, AVX2+FMA, baseline)
 * and picks the best at load time via ifunc; kernels written with these types therefore keep a
 * single source, and each has a plain scalar *_ref twin for tests. */
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

/* Horizontal sum in a fixed order, so every caller gets bit-identical results. */
XF_INLINE float xf_v8_hsum(xf_v8 v) {
    float a = (v[0] + v[4]) + (v[1] + v[5]);
    float b = (v[2] + v[6]) + (v[3] + v[7]);
    return a + b;
}

/* Dot product in the canonical order shared by every fp32 kernel (GEMM tiles use it too). */
XF_INLINE float xf_dot_f32(const float *x, const float *w, size_t K) {
    xf_v8 acc = {0};
    size_t k = 0;
    for (; k + 8 <= K; k += 8) acc += xf_v8_load(x + k) * xf_v8_load(w + k);
    float s = xf_v8_hsum(acc);
    for (; k < K; k++) s += x[k] * w[k];
    return s;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(XF_NO_DISPATCH)
#define XF_DISPATCH __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define XF_DISPATCH
#endif

#endif
