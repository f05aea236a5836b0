/* gemm_bf16.c — bf16 x bf16 -> fp32 GEMM for linear layers (see gemm_bf16.h): weight rounding and
 * packing, activation rows rounded to bf16 pairs, micro-kernels for AVX512_BF16 (vdpbf16ps: 32
 * products per instruction, twice the fp32 FMA's) and portable C (two FMAs per pair, runtime
 * dispatched), the scalar reference, and the panel driver of gemm_panel.h. */
#include "kernels/gemm_bf16.h"

#include <string.h>

#include "core/dtype.h"
#include "kernels/amx.h"
#include "kernels/cpu.h"
#include "kernels/gemm_panel.h"
#include "kernels/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define XF_X86 1
#endif

#define NR XF_PANEL_NR

static size_t pairs(size_t K) { return (K + 1) / 2; }

size_t xf_bf16_packed_bytes(size_t N, size_t K) { return (N + NR - 1) / NR * NR * pairs(K) * 4; }

static inline float bf(uint16_t h) { return xf_bf16_to_f32(h); }

void xf_bf16_pack(const float *W, size_t ldw, size_t N, size_t K, uint8_t *packed) {
    const size_t K2 = pairs(K);
    uint16_t *p = (uint16_t *)(void *)packed;
    memset(packed, 0, xf_bf16_packed_bytes(N, K));
    for (size_t o = 0; o < N; o++)
        for (size_t k = 0; k < K; k++) p[(((o / NR) * K2 + k / 2) * NR + o % NR) * 2 + k % 2] = xf_f32_to_bf16(W[o * ldw + k]);
}

void xf_bf16_unpack_rows(const uint8_t *packed, size_t K, size_t r0, size_t r1, float *out) {
    const size_t K2 = pairs(K);
    const uint16_t *p = (const uint16_t *)(const void *)packed;
    for (size_t o = r0; o < r1; o++)
        for (size_t k = 0; k < K; k++) out[(o - r0) * K + k] = bf(p[(((o / NR) * K2 + k / 2) * NR + o % NR) * 2 + k % 2]);
}

/* xf_f32_to_bf16 without a branch (NaN by a select), so that each ISA's copy of the loop below is
 * vectorized: the same bits, at the speed the AMX kernel needs (a row is rounded once per 32 output
 * channels' worth of tile work). */
XF_INLINE uint16_t bf16_rne(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    const uint32_t r = (u + 0x7fffu + (u >> 16 & 1)) >> 16, q = u >> 16 | 0x40;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? q : r);
}
#if defined(__has_builtin) && defined(__BYTE_ORDER__)
#if __has_builtin(__builtin_shufflevector) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define XF_BF16_VEC 1
typedef uint32_t xf_v16u __attribute__((vector_size(64)));
typedef uint16_t xf_v32h __attribute__((vector_size(64)));
typedef uint16_t xf_v16h __attribute__((vector_size(32)));
#endif
#endif
XF_INLINE void xf_bf16_round_row_body(const float *x, size_t K, uint32_t *row) {
    uint16_t *h = (uint16_t *)(void *)row;
    size_t k = 0;
#ifdef XF_BF16_VEC
    for (; k + 16 <= K; k += 16) { /* bf16_rne on 16 lanes, then the low halves of the lanes */
        xf_v16u u;
        memcpy(&u, x + k, sizeof u);
        const xf_v16u r = (u + 0x7fffu + (u >> 16 & 1u)) >> 16, q = u >> 16 | 0x40u;
        const xf_v16u nan = (xf_v16u)((u & 0x7fffffffu) > 0x7f800000u);
        const xf_v32h w = (xf_v32h)((nan & q) | (~nan & r));
        const xf_v16h lo = __builtin_shufflevector(w, w, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        memcpy(h + k, &lo, sizeof lo);
    }
#endif
    for (; k < K; k++) h[k] = bf16_rne(x[k]);
    if (K % 2) h[K] = 0;
}
XF_DISPATCH_VOID(xf_bf16_round_row, (const float *x, size_t K, uint32_t *row), (x, K, row), )

/* ---- micro-kernels: rows [0, mr) of rounded X (row stride ldq bytes) x one packed panel ---- */

/* Portable: per channel, two FMAs per pair, odd element first (products exact, so each FMA is the
 * rounded sum of gemm_bf16.h). Compiled per ISA level so AVX2 / AVX-512F machines use hardware FMA. */
XF_INLINE void xf_bf16_micro_portable_body(size_t mr, const void *Xq, size_t ldq, const uint8_t *B, size_t K,
                                           const float *bias, float *Y, size_t ldy, size_t nr) {
    const size_t K2 = pairs(K);
    for (size_t i = 0; i < mr; i++) {
        const uint16_t *x = (const uint16_t *)(const void *)((const uint8_t *)Xq + i * ldq);
        float acc[NR] = {0};
        for (size_t k2 = 0; k2 < K2; k2++) {
            const float x0 = bf(x[2 * k2]), x1 = bf(x[2 * k2 + 1]);
            const uint16_t *b = (const uint16_t *)(const void *)(B + k2 * NR * 4);
            for (size_t j = 0; j < NR; j++) {
                acc[j] = __builtin_fmaf(x1, bf(b[2 * j + 1]), acc[j]);
                acc[j] = __builtin_fmaf(x0, bf(b[2 * j]), acc[j]);
            }
        }
        for (size_t j = 0; j < nr; j++) Y[i * ldy + j] = acc[j] + (bias ? bias[j] : 0.0f);
    }
}
void xf_bf16_micro_portable(size_t mr, const void *Xq, size_t ldq, const uint8_t *B, size_t K, const float *bias,
                            float *Y, size_t ldy, size_t nr);
XF_DISPATCH_VOID(xf_bf16_micro_portable,
                 (size_t mr, const void *Xq, size_t ldq, const uint8_t *B, size_t K, const float *bias, float *Y,
                  size_t ldy, size_t nr),
                 (mr, Xq, ldq, B, K, bias, Y, ldy, nr), )

static void micro_generic(size_t mr, const void *Xq, size_t ldq, const float *sx, const int32_t *xs, size_t G,
                          const uint8_t *B, size_t K, const float *sw, const float *bias, float *Y, size_t ldy,
                          size_t nr) {
    (void)sx, (void)xs, (void)G, (void)sw;
    xf_bf16_micro_portable(mr, Xq, ldq, B, K, bias, Y, ldy, nr);
}

#ifdef XF_X86
#define XF_TBF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* y = acc + bias for the n (<= 16) channels of one half of a panel. */
XF_TBF16 static inline __attribute__((always_inline)) void bf16_store(__m512 acc, const float *bias, float *y, size_t n) {
    const __mmask16 m = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias) : _mm512_setzero_ps();
    _mm512_mask_storeu_ps(y, m, _mm512_add_ps(acc, b));
}

/* MRC rows x 32 channels: per pair of inputs, two 64-byte loads of weights, one broadcast per row and
 * two vdpbf16ps per row (2 MRC zmm accumulators). */
#define MICROBF16(MRC)                                                                             \
    XF_TBF16 static void bf16_##MRC(const void *Xq, size_t ldq, const uint8_t *B, size_t K,        \
                                    const float *bias, float *Y, size_t ldy, size_t nr) {           \
        const size_t K2 = pairs(K);                                                                \
        __m512 c0[MRC], c1[MRC];                                                                   \
        _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) c0[i] = c1[i] = _mm512_setzero_ps(); \
        for (size_t k2 = 0; k2 < K2; k2++) {                                                       \
            const __m512bh w0 = (__m512bh)_mm512_loadu_si512(B + k2 * 128);                       \
            const __m512bh w1 = (__m512bh)_mm512_loadu_si512(B + k2 * 128 + 64);                  \
            _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) {                                \
                int32_t xv;                                                                        \
                memcpy(&xv, (const uint8_t *)Xq + i * ldq + 4 * k2, 4);                            \
                const __m512bh a = (__m512bh)_mm512_set1_epi32(xv);                                \
                c0[i] = _mm512_dpbf16_ps(c0[i], a, w0);                                            \
                c1[i] = _mm512_dpbf16_ps(c1[i], a, w1);                                            \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) {                                    \
            bf16_store(c0[i], bias, Y + i * ldy, nr);                                              \
            if (nr > 16) bf16_store(c1[i], bias ? bias + 16 : NULL, Y + i * ldy + 16, nr - 16);    \
        }                                                                                          \
    }
MICROBF16(1) MICROBF16(2) MICROBF16(3) MICROBF16(4) MICROBF16(5) MICROBF16(6) MICROBF16(7) MICROBF16(8)

typedef void (*bf16_rows_fn)(const void *Xq, size_t ldq, const uint8_t *B, size_t K, const float *bias, float *Y,
                             size_t ldy, size_t nr);
static const bf16_rows_fn k_bf16_rows[] = {bf16_1, bf16_2, bf16_3, bf16_4, bf16_5, bf16_6, bf16_7, bf16_8};

static void micro_avx512(size_t mr, const void *Xq, size_t ldq, const float *sx, const int32_t *xs, size_t G,
                         const uint8_t *B, size_t K, const float *sw, const float *bias, float *Y, size_t ldy,
                         size_t nr) {
    (void)sx, (void)xs, (void)G, (void)sw;
    k_bf16_rows[mr - 1](Xq, ldq, B, K, bias, Y, ldy, nr);
}
#endif

#ifdef XF_AMX
static void micro_amx(size_t mr, const void *Xq, size_t ldq, const float *sx, const int32_t *xs, size_t G,
                      const uint8_t *B, size_t K, const float *sw, const float *bias, float *Y, size_t ldy, size_t nr) {
    (void)sx, (void)xs, (void)G, (void)sw;
    xf_bf16_micro_amx(mr, Xq, ldq, B, K, bias, Y, ldy, nr);
}
#endif

static size_t row_bytes(size_t K) { return pairs(K) * 4; }
static size_t panel_bytes(size_t K) { return pairs(K) * NR * 4; }
static void prep(const float *x, size_t K, void *row, float *sx, int32_t *xs) {
    (void)sx, (void)xs;
    xf_bf16_round_row(x, K, row);
}

static const xf_panel_kernel k_bf16[XF_BF16_ISA_COUNT] = {
    [XF_BF16_GENERIC] = {"generic", micro_generic, 4, row_bytes, NULL, panel_bytes, prep},
#ifdef XF_X86
    [XF_BF16_AVX512] = {"avx512-bf16", micro_avx512, 8, row_bytes, NULL, panel_bytes, prep},
#endif
#ifdef XF_AMX
    [XF_BF16_AMX] = {"amx-bf16", micro_amx, 32, row_bytes, NULL, panel_bytes, prep},
#endif
};

int xf_bf16_isa_supported(xf_bf16_isa isa) {
    if (isa < 0 || isa >= XF_BF16_ISA_COUNT || !k_bf16[isa].micro) return 0;
    return isa == XF_BF16_AVX512 ? xf_cpu_has(XF_CPU_AVX512_BF16) : isa == XF_BF16_AMX ? xf_cpu_has(XF_CPU_AMX_BF16) : 1;
}

xf_bf16_isa xf_bf16_isa_best(void) {
    return xf_bf16_isa_supported(XF_BF16_AMX)      ? XF_BF16_AMX
           : xf_bf16_isa_supported(XF_BF16_AVX512) ? XF_BF16_AVX512
                                                   : XF_BF16_GENERIC;
}

const char *xf_bf16_isa_name(xf_bf16_isa isa) {
    return isa >= 0 && isa < XF_BF16_ISA_COUNT && k_bf16[isa].name ? k_bf16[isa].name : "?";
}

void xf_gemm_bf16_isa(xf_bf16_isa isa, const float *X, size_t ldx, size_t T, const uint8_t *packed, const float *bias,
                      float *Y, size_t ldy, size_t n0, size_t n1, size_t K, void *scratch, size_t scratch_bytes) {
    xf_panel_gemm(&k_bf16[isa], X, ldx, T, packed, NULL, bias, Y, ldy, n0, n1, K, scratch, scratch_bytes);
}

void xf_gemm_bf16_ref(const float *X, size_t ldx, size_t T, const float *W, size_t ldw, const float *bias, float *Y,
                      size_t ldy, size_t N, size_t K) {
    for (size_t t = 0; t < T; t++)
        for (size_t o = 0; o < N; o++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k += 2) {
                const float x0 = bf(xf_f32_to_bf16(X[t * ldx + k])), w0 = bf(xf_f32_to_bf16(W[o * ldw + k]));
                const float x1 = k + 1 < K ? bf(xf_f32_to_bf16(X[t * ldx + k + 1])) : 0.0f;
                const float w1 = k + 1 < K ? bf(xf_f32_to_bf16(W[o * ldw + k + 1])) : 0.0f;
                const float p1 = x1 * w1, p0 = x0 * w0; /* exact */
                acc = acc + p1;
                acc = acc + p0;
            }
            Y[t * ldy + o] = acc + (bias ? bias[o] : 0.0f);
        }
}

void xf_matmul_bf16(xf_pool *pool, const float *X, size_t ldx, size_t T, const uint8_t *packed, const float *bias,
                    float *Y, size_t ldy, size_t N, size_t K) {
    xf_panel_matmul(pool, &k_bf16[xf_bf16_isa_best()], X, ldx, T, packed, NULL, bias, Y, ldy, N, K);
}

size_t xf_bf16_scratch_bytes(size_t K) {
    size_t b = 0;
    for (int i = 0; i < XF_BF16_ISA_COUNT; i++)
        if (k_bf16[i].micro && xf_panel_scratch_bytes(&k_bf16[i], K) > b) b = xf_panel_scratch_bytes(&k_bf16[i], K);
    return b;
}

void xf_matmul_bf16_many(xf_pool *pool, size_t n, const xf_panel_op *ops, const float *X, size_t ldx, size_t T,
                         size_t K) {
    xf_panel_op o[XF_PANEL_MANY];
    for (size_t q = 0; q < n && q < XF_PANEL_MANY; q++) o[q] = ops[q], o[q].scale = NULL;
    if (n > XF_PANEL_MANY)
        for (size_t q = 0; q < n; q++) xf_matmul_bf16(pool, X, ldx, T, ops[q].packed, ops[q].bias, ops[q].Y, ops[q].ldy, ops[q].N, K);
    else xf_panel_matmul_many(pool, &k_bf16[xf_bf16_isa_best()], n, o, X, ldx, T, K);
}
