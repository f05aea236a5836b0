/* qmatmul.c — products with GGUF quantized weight rows (see qmatmul.h): per-format decoders of 32
 * weights into four 8-wide vectors, a GEMV over 1..4 activation rows built on them, a vectorized
 * row dequantizer feeding the fp32 GEMM for longer inputs, the scalar reference and the
 * thread-parallel driver. All vectorized entry points are runtime-dispatched per ISA. */
#include "kernels/qmatmul.h"

#include <stdint.h>
#include <string.h>

#include "io/gguf.h"
#include "kernels/matmul.h"
#include "kernels/quants.h"
#include "kernels/cpu.h"
#include "kernels/simd.h"

/* Every type with kernels here: X(name, elements per block, bytes per block). */
#define XF_QMM_TYPES(X)                                                                                \
    X(Q8_0, 32, 34) X(Q4_0, 32, 18) X(Q4_1, 32, 20) X(Q5_0, 32, 22) X(Q5_1, 32, 24) X(Q2_K, 256, 84)   \
    X(Q3_K, 256, 110) X(Q4_K, 256, 144) X(Q5_K, 256, 176) X(Q6_K, 256, 210) X(FP4S, 32, 18) X(FP8S, 32, 34) \
    X(MXFP4, 32, 17)

/* Flag on a type id inside this file: decode the 4-bit formats through a 16-entry table. */
#define XF_QMM_TABLE 0x100

typedef int xf_v4i __attribute__((vector_size(16)));
typedef unsigned xf_v8u __attribute__((vector_size(32)));

/* The 16 bytes at p as 4 ints (every load stays inside its block). */
XF_INLINE xf_v4i ld16(const uint8_t *p) {
    xf_v4i v;
    memcpy(&v, p, 16);
    return v;
}

/* Words 2h, 2h+1 of v spread as {a, a, a, a, b, b, b, b} (one vpermd on AVX2). */
#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define XF_QMM_SHUFFLE 1
#endif
#endif
XF_INLINE xf_v8i spread(xf_v4i v, int h) {
#ifdef XF_QMM_SHUFFLE
    return h ? __builtin_shufflevector(v, v, 2, 2, 2, 2, 3, 3, 3, 3) : __builtin_shufflevector(v, v, 0, 0, 0, 0, 1, 1, 1, 1);
#else
    const int a = v[2 * h], b = v[2 * h + 1];
    return (xf_v8i){a, a, a, a, b, b, b, b};
#endif
}

/* Bit position of byte i of a word loaded from memory. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define XF_QMM_BYTE_BITS {24, 16, 8, 0, 24, 16, 8, 0}
#else
#define XF_QMM_BYTE_BITS {0, 8, 16, 24, 0, 8, 16, 24}
#endif

/* f in all 8 lanes (GCC 12 builds the plain {f, ..., f} from inserts in these loops). */
XF_INLINE xf_v8 bcast(float f) {
#ifdef XF_QMM_SHUFFLE
    const xf_v8 v = {f};
    return __builtin_shufflevector(v, v, 0, 0, 0, 0, 0, 0, 0, 0);
#else
    return xf_v8_splat(f);
#endif
}

/* Bytes 8h .. 8h+7 of v, one per lane, each shifted right by sh bits (higher bits not cleared). */
XF_INLINE xf_v8i bytes8(xf_v4i v, int h, int sh) {
    return (xf_v8i)((xf_v8u)spread(v, h) >> ((xf_v8u)XF_QMM_BYTE_BITS + (unsigned)sh));
}
/* Bytes 8h .. 8h+7 of v as signed 8-bit values, one per lane. */
XF_INLINE xf_v8i sbytes8(xf_v4i v, int h) {
    return (xf_v8i)((xf_v8u)spread(v, h) << (24 - (xf_v8u)XF_QMM_BYTE_BITS)) >> 24;
}

/* The half at p as a float (quants.h layouts): the hardware conversion where the compiler has
 * _Float16 (F16C in the AVX2 / AVX-512 clones), else xf_half_at; both exact. */
XF_INLINE float half(const uint8_t *p) {
#if defined(__FLT16_MAX__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    _Float16 h;
    memcpy(&h, p, 2);
    return (float)h;
#else
    return xf_half_at(p);
#endif
}
XF_INLINE xf_v8 fv(xf_v8i v) { return __builtin_convertvector(v, xf_v8); }

/* Bits 8c .. 8c+7 of qh, one per lane, shifted to bit 4 (the fifth bit of Q5_0 / Q5_1). */
XF_INLINE xf_v8i hbit5(uint32_t qh, int c) {
    const xf_v8u all = {qh, qh, qh, qh, qh, qh, qh, qh}, lane = {0, 1, 2, 3, 4, 5, 6, 7};
    return (xf_v8i)((all >> (lane + 8 * (unsigned)c) & 1) << 4);
}

XF_INLINE uint32_t u32at(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Elements 32 s .. 32 s + 31 of block b of type qt into w[0..3] (8 each, in order), exactly as
 * quants.c decodes them. The products of a half scale (11 significant bits) with a small integer
 * are exact in fp32, so a compiler fusing "d * q + m" into an FMA gives the same floats.
 * Byte j of a 32-byte field sits in 16-byte load j / 16, half (j / 8) % 2. */
XF_INLINE void dec32(const int qt, const uint8_t *b, const int s, xf_v8 w[4]) {
    switch (qt) {
    case XF_GGML_Q8_0: {
        const xf_v8 d = bcast(half(b));
        const xf_v4i q0 = ld16(b + 2), q1 = ld16(b + 18);
        w[0] = fv(sbytes8(q0, 0)) * d, w[1] = fv(sbytes8(q0, 1)) * d;
        w[2] = fv(sbytes8(q1, 0)) * d, w[3] = fv(sbytes8(q1, 1)) * d;
        return;
    }
    case XF_GGML_Q4_0 | XF_QMM_TABLE:
    case XF_GGML_Q4_1 | XF_QMM_TABLE: { /* w = table[nibble]: the permute takes lane indices mod 16 */
        const int t1 = qt == (XF_GGML_Q4_1 | XF_QMM_TABLE);
        const xf_v8 d = bcast(half(b)), m = bcast(t1 ? half(b + 2) : 0.0f);
        const xf_v4i q = ld16(b + (t1 ? 4 : 2));
        const xf_v8 i0 = {0, 1, 2, 3, 4, 5, 6, 7}, i1 = {8, 9, 10, 11, 12, 13, 14, 15}, eight = bcast(8.0f);
        const xf_v8 lo = t1 ? d * i0 + m : d * (i0 - eight), hi = t1 ? d * i1 + m : d * (i1 - eight);
#if defined(__clang__) /* no two-source variable shuffle: the same floats, computed per lane */
        for (int c = 0; c < 4; c++) {
            const xf_v8i n = bytes8(q, c % 2, 4 * (c / 2)) & 15;
            w[c] = lo;
            for (int l = 0; l < 8; l++) w[c][l] = n[l] < 8 ? lo[n[l]] : hi[n[l] - 8];
        }
#else
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) w[c] = __builtin_shuffle(lo, hi, bytes8(q, c % 2, 4 * (c / 2)));
#endif
        return;
    }
    case XF_GGML_FP8S: { /* w = the fp32 of the code's 7 bits shifted into place, signed, times D */
        const xf_v8 d = bcast(xf_fp4s_scale(b));
        const unsigned sh = (unsigned)xf_fp8s_shift(b);
        const xf_v4i q[2] = {ld16(b + 2), ld16(b + 18)};
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            const xf_v8u n = (xf_v8u)bytes8(q[c / 2], c % 2, 0);
            w[c] = (xf_v8)((n & 0x7f) << sh | (n & 0x80) << 24) * d;
        }
        return;
    }
    case XF_GGML_FP4S:
    case XF_GGML_MXFP4: { /* w = table[code]: the block's 16 values times its scale */
        float ds;
        const uint8_t *qs;
        const int8_t *L = xf_fp4_block(qt, b, &ds, &qs);
        const xf_v8 d = bcast(ds);
        const xf_v4i q = ld16(qs);
        const xf_v8i li = {L[0], L[1], L[2], L[3], L[4], L[5], L[6], L[7]};
        const xf_v8i hi8 = {L[8], L[9], L[10], L[11], L[12], L[13], L[14], L[15]};
        const xf_v8 lo = fv(li) * d, hi = fv(hi8) * d;
#if defined(__clang__)
        for (int c = 0; c < 4; c++) {
            const xf_v8i n = bytes8(q, c % 2, 4 * (c / 2)) & 15;
            w[c] = lo;
            for (int l = 0; l < 8; l++) w[c][l] = n[l] < 8 ? lo[n[l]] : hi[n[l] - 8];
        }
#else
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) w[c] = __builtin_shuffle(lo, hi, bytes8(q, c % 2, 4 * (c / 2)));
#endif
        return;
    }
    case XF_GGML_Q4_0: {
        const xf_v8 d = bcast(half(b));
        const xf_v4i q = ld16(b + 2);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) w[c] = d * fv((bytes8(q, c % 2, 4 * (c / 2)) & 15) - 8);
        return;
    }
    case XF_GGML_Q4_1: {
        const xf_v8 d = bcast(half(b)), m = bcast(half(b + 2));
        const xf_v4i q = ld16(b + 4);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) w[c] = d * fv(bytes8(q, c % 2, 4 * (c / 2)) & 15) + m;
        return;
    }
    case XF_GGML_Q5_0: {
        const xf_v8 d = bcast(half(b));
        const uint32_t qh = u32at(b + 2);
        const xf_v4i q = ld16(b + 6);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) w[c] = d * fv(((bytes8(q, c % 2, 4 * (c / 2)) & 15) | hbit5(qh, c)) - 16);
        return;
    }
    case XF_GGML_Q5_1: {
        const xf_v8 d = bcast(half(b)), m = bcast(half(b + 2));
        const uint32_t qh = u32at(b + 4);
        const xf_v4i q = ld16(b + 8);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) w[c] = d * fv((bytes8(q, c % 2, 4 * (c / 2)) & 15) | hbit5(qh, c)) + m;
        return;
    }
    case XF_GGML_Q2_K: { /* element 128 h + 32 sp + l: (qs[32 h + l] >> 2 sp) & 3, groups of 16 */
        const float d = half(b + 80), dmin = half(b + 82);
        const uint8_t *qs = b + 16 + 32 * (s / 4);
        const xf_v4i q[2] = {ld16(qs), ld16(qs + 16)};
        const int sh = 2 * (s % 4);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            const int g = b[2 * s + c / 2];
            const xf_v8 dl = bcast(d * (float)(g & 15)), ml = bcast(dmin * (float)(g >> 4));
            w[c] = dl * fv(bytes8(q[c / 2], c % 2, sh) & 3) - ml;
        }
        return;
    }
    case XF_GGML_Q3_K: {
        const float d = half(b + 108);
        const uint8_t *qs = b + 32 + 32 * (s / 4);
        const xf_v4i q[2] = {ld16(qs), ld16(qs + 16)}, hm[2] = {ld16(b), ld16(b + 16)};
        const int sh = 2 * (s % 4);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            const xf_v8 dl = bcast(d * (float)xf_q3k_scale(b + 96, 2 * s + c / 2));
            const xf_v8i v = (bytes8(q[c / 2], c % 2, sh) & 3) - 4 + ((bytes8(hm[c / 2], c % 2, s) & 1) << 2);
            w[c] = dl * fv(v);
        }
        return;
    }
    case XF_GGML_Q4_K:
    case XF_GGML_Q5_K: {
        int sc, mn;
        xf_qk4_scale_min(s, b + 4, &sc, &mn);
        const xf_v8 d1 = bcast(half(b) * (float)sc), m1 = bcast(half(b + 2) * (float)mn);
        const uint8_t *qs = b + (qt == XF_GGML_Q4_K ? 16 : 48) + 32 * (s / 2);
        const xf_v4i q[2] = {ld16(qs), ld16(qs + 16)};
        const int sh = 4 * (s % 2);
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            xf_v8i v = bytes8(q[c / 2], c % 2, sh) & 15;
            if (qt == XF_GGML_Q5_K) v |= (bytes8(ld16(b + 16 + 16 * (c / 2)), c % 2, s) & 1) << 4;
            w[c] = d1 * fv(v) - m1;
        }
        return;
    }
    case XF_GGML_Q6_K: { /* element 128 h + r: ql[64 h + r % 64] >> 4 (r / 64), qh[32 h + r % 32] >> 2 (r / 32) */
        const float d = half(b + 208);
        const int h = s / 4, sq = s % 4;
        const uint8_t *ql = b + 64 * h + 32 * (sq % 2), *qh = b + 128 + 32 * h;
        const xf_v4i lo[2] = {ld16(ql), ld16(ql + 16)}, hi[2] = {ld16(qh), ld16(qh + 16)};
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            const xf_v8 ds = bcast(d * (float)(int8_t)b[192 + 2 * s + c / 2]);
            const xf_v8i v = (bytes8(lo[c / 2], c % 2, 4 * (sq / 2)) & 15) | (bytes8(hi[c / 2], c % 2, 2 * sq) & 3) << 4;
            w[c] = ds * fv(v - 32);
        }
        return;
    }
    default: return;
    }
}

XF_INLINE size_t blk_elems(int qt) {
    switch (qt & ~XF_QMM_TABLE) {
#define X(t, BS, TS) \
    case XF_GGML_##t: return BS;
        XF_QMM_TYPES(X)
#undef X
    default: return 0;
    }
}
XF_INLINE size_t blk_bytes(int qt) {
    switch (qt & ~XF_QMM_TABLE) {
#define X(t, BS, TS) \
    case XF_GGML_##t: return TS;
        XF_QMM_TYPES(X)
#undef X
    default: return 0;
    }
}

int xf_qmatmul_has(int qtype) { return blk_elems(qtype) != 0; }

size_t xf_qmatmul_max_t(int qtype, int int8) {
    /* bench_qgemv --crossover (2026-12-05, Zen 4, 1 thread): the last multiple of 4 rows where the
     * GEMV took at most ~0.9x the GEMM path's time (the dequantization of every weight, which the
     * GEMM path pays whatever T, is most of its cost at these T). Re-measured with the several-row
     * kernel (xf_qgemv_avx2_rows, same day): the GEMV now stays under ~0.9x the GEMM path to 32 rows
     * for Q4_0 / Q4_1 / Q8_0 / Q5_0, 28-32 for Q4_K, 24 for Q6_K; Q6_K and Q5_0 raised to 16 (0.60x,
     * 0.48x there), the others left as they were (a higher limit moves longer prompts' prefill from
     * the GEMM path to the GEMV, equal within rounding, not bitwise). */
    switch (qtype) {
    case XF_GGML_Q8_0: return int8 ? 32 : 16;
    case XF_GGML_Q4_0: return int8 ? 32 : 20;
    case XF_GGML_Q4_1: return int8 ? 28 : 20;
    case XF_GGML_Q5_0: return int8 ? 32 : 16;
    case XF_GGML_Q5_1: return int8 ? 24 : 16;
    case XF_GGML_Q2_K: return int8 ? 12 : 16;
    case XF_GGML_Q3_K: return int8 ? 32 : 8;
    case XF_GGML_Q4_K: return int8 ? 32 : 16;
    case XF_GGML_Q5_K: return int8 ? 32 : 8;
    case XF_GGML_Q6_K: return int8 ? 32 : 16;
    case XF_GGML_FP4S: return int8 ? 32 : 20; /* not measured: Q4_0's (the same 18-byte blocks) */
    case XF_GGML_FP8S: return int8 ? 0 : 16;  /* not measured: Q8_0's; no int8 path (not integers) */
    case XF_GGML_MXFP4: return int8 ? 32 : 20; /* not measured: FP4S's (the same codes, 17-byte blocks) */
    default: return 0;
    }
}

size_t xf_qmatmul_scratch(size_t K) { return XF_QMM_PANEL * K * sizeof(float); }

/* ------------------------------------------------------------------------------------ GEMV */

/* The GEMV prefetches the rows of the tile this many tiles ahead (measured on SmolLM2 decode). */
#ifndef XF_QMM_PREFETCH
#define XF_QMM_PREFETCH 2
#endif

/* NR rows of W (from W, row_bytes rb apart) against NT rows of X: out[r][i] = dot in the canonical
 * order (one 8-lane accumulator per pair, chunks in k order, xf_v8_hsum). NR, NT are constants
 * after inlining, so the accumulators live in registers. next (NULL: none): the NR rows a later
 * tile will read, prefetched at the same pace (the hardware prefetcher alone leaves these short
 * interleaved row streams waiting on memory). */
XF_INLINE void gemv_tile(const int qt, const uint8_t *W, size_t rb, const float *X, size_t ldx, size_t K,
                         const int NR, const int NT, const uint8_t *next, float out[4][4]) {
    const size_t BS = blk_elems(qt), TS = blk_bytes(qt), nb = K / BS;
    xf_v8 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
        for (int i = 0; i < NT; i++) acc[r][i] = xf_v8_splat(0.0f);
    for (size_t bi = 0; bi < nb; bi++) {
        for (int s = 0; s < (int)(BS / 32); s++) {
            const size_t k = bi * BS + 32 * (size_t)s;
#pragma GCC unroll 4
            for (int r = 0; r < NR; r++) {
                xf_v8 w[4];
                if (next && s == 0) __builtin_prefetch(next + r * rb + bi * TS);
                dec32(qt, W + r * rb + bi * TS, s, w);
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++)
#pragma GCC unroll 4
                    for (int i = 0; i < NT; i++) acc[r][i] += xf_v8_load(X + i * ldx + k + 8 * c) * w[c];
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
        for (int i = 0; i < NT; i++) out[r][i] = xf_v8_hsum(acc[r][i]);
}

/* NT rows of X (from X) against W rows [n0, n1): NR rows per pass, the rest one by one. */
XF_INLINE void gemv_span(const int qt, const uint8_t *W, size_t rb, const float *bias, const float *X, size_t ldx,
                         float *Y, size_t ldy, size_t n0, size_t n1, size_t K, const int NR, const int NT) {
    float r[4][4];
    size_t o = n0;
    for (; o + (size_t)NR <= n1; o += (size_t)NR) {
        const size_t ahead = XF_QMM_PREFETCH * (size_t)NR;
        const uint8_t *next = o + ahead + (size_t)NR <= n1 ? W + (o + ahead) * rb : NULL;
        gemv_tile(qt, W + o * rb, rb, X, ldx, K, NR, NT, next, r);
        for (int j = 0; j < NR; j++)
            for (int i = 0; i < NT; i++) Y[(size_t)i * ldy + o + (size_t)j] = r[j][i] + (bias ? bias[o + (size_t)j] : 0.0f);
    }
    for (; o < n1; o++) {
        gemv_tile(qt, W + o * rb, rb, X, ldx, K, 1, NT, NULL, r);
        for (int i = 0; i < NT; i++) Y[(size_t)i * ldy + o] = r[0][i] + (bias ? bias[o] : 0.0f);
    }
}

XF_INLINE void gemv_rows(const int qt, const uint8_t *W, size_t rb, const float *bias, const float *X, size_t ldx,
                         float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K) {
    for (size_t t = 0; t < T;) {
        const float *Xt = X + t * ldx;
        float *Yt = Y + t * ldy;
        if (T - t >= 4) {
            gemv_span(qt, W, rb, bias, Xt, ldx, Yt, ldy, n0, n1, K, 2, 4);
            t += 4;
        } else if (T - t >= 2) {
            gemv_span(qt, W, rb, bias, Xt, ldx, Yt, ldy, n0, n1, K, 4, 2);
            t += 2;
        } else {
            gemv_span(qt, W, rb, bias, Xt, ldx, Yt, ldy, n0, n1, K, 4, 1);
            t += 1;
        }
    }
}

XF_INLINE void xf_qgemv_decode_body(int qtype, int table, const void *W, size_t row_bytes, const float *bias, const float *X,
                     size_t ldx, float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K) {
    if (table && (qtype == XF_GGML_Q4_0 || qtype == XF_GGML_Q4_1)) {
        if (qtype == XF_GGML_Q4_0)
            gemv_rows(XF_GGML_Q4_0 | XF_QMM_TABLE, W, row_bytes, bias, X, ldx, Y, ldy, T, n0, n1, K);
        else
            gemv_rows(XF_GGML_Q4_1 | XF_QMM_TABLE, W, row_bytes, bias, X, ldx, Y, ldy, T, n0, n1, K);
        return;
    }
    switch (qtype) {
#define X(t, BS, TS)                                                                         \
    case XF_GGML_##t: gemv_rows(XF_GGML_##t, W, row_bytes, bias, X, ldx, Y, ldy, T, n0, n1, K); \
        break;
        XF_QMM_TYPES(X)
#undef X
    default: break;
    }
}
XF_DISPATCH_VOID(xf_qgemv_decode,
                 (int qtype, int table, const void *W, size_t row_bytes, const float *bias, const float *X,
                  size_t ldx, float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K),
                 (qtype, table, W, row_bytes, bias, X, ldx, Y, ldy, T, n0, n1, K), )

/* The table decode wins where a two-source permute is one instruction (AVX-512VL vpermt2ps); it is
 * emulated with several elsewhere. */
static int table_pays(void) { return xf_isa_level() >= XF_ISA_AVX512; }

void xf_qgemv_ws(int qtype, const void *W, size_t row_bytes, const float *bias, const float *X, size_t ldx,
                 float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K, float *ws, size_t ws_bytes) {
    if (T == 1 && xf_qgemv_avx2(qtype, XF_QAVX_BEST, W, row_bytes, bias, X, Y, n0, n1, K)) return;
    if (ws_bytes < XF_QAVX_WS_FLOATS(K) * sizeof(float)) ws = NULL;
    if (T > 1 && xf_qgemv_avx2_rows(qtype, XF_QAVX_BEST, W, row_bytes, bias, X, ldx, Y, ldy, T, n0, n1, K, ws)) return;
    xf_qgemv_decode(qtype, table_pays(), W, row_bytes, bias, X, ldx, Y, ldy, T, n0, n1, K);
}

void xf_qgemv(int qtype, const void *W, size_t row_bytes, const float *bias, const float *X, size_t ldx,
              float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K) {
    xf_qgemv_ws(qtype, W, row_bytes, bias, X, ldx, Y, ldy, T, n0, n1, K, NULL, 0);
}

void xf_qgemv_ref(int qtype, const void *W, size_t row_bytes, const float *bias, const float *X, size_t ldx,
                  float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K) {
    const xf_quant_traits *q = xf_quant_traits_of(qtype);
    if (!q) return;
    for (size_t t = 0; t < T; t++)
        for (size_t o = n0; o < n1; o++)
            Y[t * ldy + o] = q->dot((const uint8_t *)W + o * row_bytes, X + t * ldx, K) + (bias ? bias[o] : 0.0f);
}

/* ------------------------------------------------------------------------------------ GEMM */

XF_INLINE void dequant_rows(const int qt, const uint8_t *W, size_t rb, size_t r0, size_t r1, size_t K, float *out) {
    const size_t BS = blk_elems(qt), TS = blk_bytes(qt), nb = K / BS;
    for (size_t r = r0; r < r1; r++) {
        float *o = out + (r - r0) * K;
        for (size_t bi = 0; bi < nb; bi++)
            for (int s = 0; s < (int)(BS / 32); s++) {
                xf_v8 w[4];
                dec32(qt, W + r * rb + bi * TS, s, w);
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) xf_v8_store(o + bi * BS + 32 * (size_t)s + 8 * (size_t)c, w[c]);
            }
    }
}

XF_INLINE void xf_qdequant_rows_body(int qtype, const void *W, size_t row_bytes, size_t r0, size_t r1, size_t K, float *out) {
    switch (qtype) {
#define X(t, BS, TS)                                                              \
    case XF_GGML_##t: dequant_rows(XF_GGML_##t, W, row_bytes, r0, r1, K, out); \
        break;
        XF_QMM_TYPES(X)
#undef X
    default: break;
    }
}
XF_DISPATCH_VOID(xf_qdequant_rows,
                 (int qtype, const void *W, size_t row_bytes, size_t r0, size_t r1, size_t K, float *out),
                 (qtype, W, row_bytes, r0, r1, K, out), )

void xf_qgemm(int qtype, const void *W, size_t row_bytes, const float *bias, const float *X, size_t ldx,
              float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K, float *scratch) {
    for (size_t o = n0; o < n1; o += XF_QMM_PANEL) {
        const size_t e = o + XF_QMM_PANEL < n1 ? o + XF_QMM_PANEL : n1;
        xf_qdequant_rows(qtype, W, row_bytes, o, e, K, scratch);
        xf_gemm_f32_nt(X, ldx, scratch, K, bias ? bias + o : NULL, Y + o, ldy, T, 0, e - o, K);
    }
}

/* ------------------------------------------------------------------------------ threaded */

typedef struct {
    xf_pool *pool;
    int qtype, gemm;
    const void *W;
    const float *bias, *X;
    float *Y;
    size_t row_bytes, ldx, ldy, T, N, K;
} qmm_job;

static void qmm_task(void *ctx, int ith, int nth) {
    const qmm_job *j = ctx;
    size_t n0, n1;
    xf_split_range(j->N, XF_QMM_SPLIT, ith, nth, &n0, &n1);
    if (n0 >= n1) return;
    if (j->gemm)
        xf_qgemm(j->qtype, j->W, j->row_bytes, j->bias, j->X, j->ldx, j->Y, j->ldy, j->T, n0, n1, j->K,
                 xf_pool_scratch(j->pool, ith, NULL));
    else { /* the thread's scratch for the several-row kernel's packed rows (X is never pool scratch here) */
        size_t have = 0;
        float *ws = j->T > 1 ? xf_pool_scratch(j->pool, ith, &have) : NULL;
        xf_qgemv_ws(j->qtype, j->W, j->row_bytes, j->bias, j->X, j->ldx, j->Y, j->ldy, j->T, n0, n1, j->K, ws, have);
    }
}

void xf_qmatmul(xf_pool *pool, int qtype, const void *W, size_t row_bytes, const float *bias, const float *X,
                size_t ldx, float *Y, size_t ldy, size_t T, size_t N, size_t K) {
    xf_qmatmul_as(pool, qtype, W, row_bytes, bias, X, ldx, Y, ldy, T, T, N, K);
}

void xf_qmatmul_as(xf_pool *pool, int qtype, const void *W, size_t row_bytes, const float *bias, const float *X,
                   size_t ldx, float *Y, size_t ldy, size_t T, size_t path_t, size_t N, size_t K) {
    size_t have = 0;
    xf_pool_scratch(pool, 0, &have);
    const int gemm = (path_t > T ? path_t : T) > xf_qmatmul_max_t(qtype, 0) && have >= xf_qmatmul_scratch(K);
    qmm_job j = {pool, qtype, gemm, W, bias, X, Y, row_bytes, ldx, ldy, T, N, K};
    xf_pool_run(pool, qmm_task, &j);
}
