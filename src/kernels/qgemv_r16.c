/* qgemv_r16.c — the 16-row repacked layout of Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 weights (qgemv_r16.h): packing
 * and unpacking, the scalar product, the AVX-512 VNNI product (one 512-bit vpdpbusd per 4 inputs
 * of 16 rows, with qgemv_q8.h's per-lane float steps vectorized across the rows), the AVX2 and
 * AVX-VNNI products (qgemv_r16_group.inc: 8 rows a vector), the float GEMM path through
 * dequantized panels, and the threaded driver. */
#include "kernels/qgemv_r16.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "io/gguf.h"
#include "kernels/cpu.h"
#include "kernels/gemm_i8.h"
#include "kernels/qgemv_q8.h"
#include "kernels/qmatmul.h"
#include "kernels/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define XF_X86 1
#endif

#define R XF_R16_ROWS

int xf_r16_has(int qtype) {
    return qtype == XF_GGML_Q4_0 || qtype == XF_GGML_Q4_1 || qtype == XF_GGML_Q5_0 || qtype == XF_GGML_Q5_1 ||
           qtype == XF_GGML_Q8_0;
}

int xf_r16_pays(int qtype, size_t rows, size_t cols) {
    /* Q8_0 on AVX2 stays as the file has it: the sign trick's two extra operations per 4 inputs of
     * 8 rows made its repacked decode ~10 % slower than the file layout's kernel (SmolLM2, XF_ISA=avx2
     * on the Xeon), while Q4_1's ran ~35 % faster; with AVX-VNNI (no sign trick) it was still ~2 %
     * slower (165 against 168 tokens/s, XF_ISA=avxvnni) */
    const xf_i8_isa need = qtype == XF_GGML_Q8_0 ? XF_I8_VNNI : XF_I8_AVX2;
    return xf_r16_has(qtype) && rows && rows % R == 0 && cols && cols % 32 == 0 && xf_i8_isa_best() >= need;
}

/* A block's parts: its halves (d, and m for Q4_1 / Q5_1), then dwords — Q5_0 / Q5_1's qh (the
 * fifth bits, bit e for weight e), then the quants (Q8_0 8 dwords, the 4-bit types 4 of nibbles). */
static int n_halves(int qt) { return qt == XF_GGML_Q4_1 || qt == XF_GGML_Q5_1 ? 2 : 1; }
static int has_qh(int qt) { return qt == XF_GGML_Q5_0 || qt == XF_GGML_Q5_1; }
static int n_quant_dwords(int qt) { return qt == XF_GGML_Q8_0 ? 8 : 4; }
/* Bytes of one block of a row in the file (and per row in a group block), of the halves of a
 * group block (the dword parts follow them, 64 bytes each). */
static size_t blk_bytes(int qt) { return (size_t)(2 * n_halves(qt) + 4 * has_qh(qt) + 4 * n_quant_dwords(qt)); }
static size_t head_bytes(int qt) { return (size_t)n_halves(qt) * 2 * R; }
/* The offset of the types whose weight is the stored value less a constant (Q8_0's stored value is
 * the quant + 128 here). */
static int offset_of(int qt) {
    return qt == XF_GGML_Q8_0 ? 128 : qt == XF_GGML_Q4_0 ? 8 : qt == XF_GGML_Q5_0 ? 16 : 0;
}

/* Row r's block kk in the file's layout <-> its place in P: half h at 32 h + 2 r, dword part j at
 * head + 64 j + 4 r (Q8_0's bytes XOR 0x80). dir 1: file -> P. */
static void move_block(int qt, uint8_t *file, uint8_t *gb, size_t r, int dir) {
    const size_t hb = head_bytes(qt), nh = (size_t)n_halves(qt), nd = (size_t)(has_qh(qt) + n_quant_dwords(qt));
    for (size_t h = 0; h < nh; h++) {
        uint8_t *a = file + 2 * h, *b = gb + h * 2 * R + 2 * r;
        if (dir) memcpy(b, a, 2);
        else memcpy(a, b, 2);
    }
    for (size_t j = 0; j < nd; j++) {
        uint8_t *a = file + 2 * nh + 4 * j, *b = gb + hb + 64 * j + 4 * r;
        uint32_t v;
        memcpy(&v, dir ? a : b, 4);
        if (qt == XF_GGML_Q8_0) v ^= 0x80808080u;
        memcpy(dir ? b : a, &v, 4);
    }
}

int xf_r16_pack(int qtype, const void *W, size_t rows, size_t cols, void *P) {
    const size_t nb = cols / 32, bb = blk_bytes(qtype), rb = nb * bb, gb = R * rb;
    uint8_t *tmp = malloc(gb); /* a group is the same bytes in both layouts: copied out first (W may be P) */
    if (!tmp) return -1;
    for (size_t g = 0; g < rows / R; g++) {
        memcpy(tmp, (const uint8_t *)W + g * gb, gb);
        for (size_t r = 0; r < R; r++)
            for (size_t kk = 0; kk < nb; kk++) move_block(qtype, tmp + r * rb + kk * bb, (uint8_t *)P + g * gb + kk * R * bb, r, 1);
    }
    free(tmp);
    return 0;
}

void xf_r16_unpack_rows(int qtype, const void *P, size_t cols, size_t r0, size_t r1, void *out) {
    const size_t nb = cols / 32, bb = blk_bytes(qtype), rb = nb * bb;
    for (size_t r = r0; r < r1; r++)
        for (size_t kk = 0; kk < nb; kk++)
            move_block(qtype, (uint8_t *)out + (r - r0) * rb + kk * bb, (uint8_t *)P + (r / R) * R * rb + kk * R * bb,
                       r % R, 0);
}

void xf_r16_dequant_rows(int qtype, const void *P, size_t cols, size_t r0, size_t r1, float *out) {
    const size_t nb = cols / 32, bb = blk_bytes(qtype), rb = nb * bb;
    uint8_t blk[40]; /* the largest block: Q8_0's 34 bytes */
    for (size_t r = r0; r < r1; r++) /* block by block through the file's layout and its dequantization */
        for (size_t kk = 0; kk < nb; kk++) {
            move_block(qtype, blk, (uint8_t *)P + (r / R) * R * rb + kk * R * bb, r % R, 0);
            xf_qdequant_rows(qtype, blk, bb, 0, 1, 32, out + (r - r0) * cols + 32 * kk);
        }
}

void xf_r16_corr(int qtype, const void *act, size_t T, size_t K, int32_t *corr) {
    const int8_t *q;
    const float *d, *s;
    xf_q8act_parts(qtype, act, T, K, &q, &d, &s);
    const int off = offset_of(qtype);
    for (size_t j = 0; j < T * K / 4; j++)
        corr[j] = off ? -off * ((int32_t)q[4 * j] + q[4 * j + 1] + q[4 * j + 2] + q[4 * j + 3]) : 0;
}

/* Scalar: group g's 16 rows against activation row t, as qgemv_q8.h's reference orders it. */
static void group_ref(int qt, const uint8_t *G, size_t nb, const int8_t *x, const float *dx, const float *sx,
                      const int32_t *corr, float out[R]) {
    const size_t hb = head_bytes(qt), bb = blk_bytes(qt), q0 = hb + 64 * (size_t)has_qh(qt);
    for (size_t r = 0; r < R; r++) {
        float l[8] = {0}, c = 0.0f;
        for (size_t kk = 0; kk < nb; kk++) {
            const uint8_t *B = G + kk * R * bb;
            const float f = xf_f16_to_f32((uint16_t)(B[2 * r] | B[2 * r + 1] << 8));
            uint32_t qh = 0;
            if (has_qh(qt)) memcpy(&qh, B + hb + 4 * r, 4);
            for (int lane = 0; lane < 8; lane++) {
                /* lane's 4 unsigned weights (elements 4 lane .. +3): 4-bit types' dword lane % 4, low
                 * or high nibbles, plus the fifth bit (qh bit = the element) */
                const uint8_t *u = B + q0 + 64 * (qt == XF_GGML_Q8_0 ? lane : lane % 4) + 4 * r;
                int32_t p = corr[8 * kk + (size_t)lane];
                for (int e = 0; e < 4; e++) {
                    int w = qt == XF_GGML_Q8_0 ? u[e] : lane < 4 ? u[e] & 15 : u[e] >> 4;
                    w |= (int)(qh >> (4 * lane + e) & 1u) << 4;
                    p += w * x[32 * kk + 4 * (size_t)lane + (size_t)e];
                }
                l[lane] = fmaf((float)p, f * dx[kk], l[lane]);
            }
            if (n_halves(qt) == 2) c = fmaf(xf_f16_to_f32((uint16_t)(B[2 * R + 2 * r] | B[2 * R + 2 * r + 1] << 8)), sx[kk], c);
        }
        out[r] = xf_q8_finish(l, c);
    }
}

/* Every line of the block this many bytes ahead is prefetched into L2: on SmolLM2's Q4_1 decode
 * (Xeon, 1 / 2 threads, paired rounds) a line a block 16 KiB ahead ran ~5 % / ~2 % faster than none,
 * every line of it up to ~5 % faster again (Q8_0 more), one line 2.5 KiB ahead into L1 ~8 % slower. */
#ifndef XF_R16_PREFETCH
#define XF_R16_PREFETCH 16384
#endif

#ifdef XF_X86
#define R16T __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

/* Group G's 16 rows against NT (1 or 2) activation rows (x, dx, sx, corr of the first; the second
 * K, K / 32 and K / 4 further): y[i * ldy + r] (+ bias[r]). */
R16T XF_INLINE void group_vnni(const int qt, const uint8_t *G, size_t nb, const int8_t *x, const float *dx,
                               const float *sx, const int32_t *corr, size_t K, const int NT, float *y, size_t ldy,
                               const float *bias) {
    const size_t hb = head_bytes(qt), gbb = R * blk_bytes(qt), ng = K / 32;
    const int four = qt != XF_GGML_Q8_0, mins = n_halves(qt) == 2, off = offset_of(qt) != 0, five = has_qh(qt);
    const size_t q0 = hb + 64 * (size_t)five;
    const __m512i m15 = _mm512_set1_epi8(15), b16 = _mm512_set1_epi8(16);
    /* the fifth bits of inputs 4s .. 4s+3: byte s / 2 of each row's qh dword to all 4 bytes of the
     * dword, then bit 4 (s % 2) + e tested in byte e */
    const __m512i dw = _mm512_set4_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0);
    const __m512i bit_lo = _mm512_set1_epi32(0x08040201), bit_hi = _mm512_set1_epi32((int)0x80402010u);
    __m512 l[2][8], c[2];
#pragma GCC unroll 2
    for (int i = 0; i < NT; i++) {
        c[i] = _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int s = 0; s < 8; s++) l[i][s] = _mm512_setzero_ps();
    }
    for (size_t kk = 0; kk < nb; kk++) {
        const uint8_t *B = G + kk * gbb;
        for (size_t o = 0; o < gbb; o += 64) /* every line of the block (a hint: past the end is harmless) */
            _mm_prefetch((const char *)(B + XF_R16_PREFETCH + o), _MM_HINT_T1);
        const __m512 dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)B));
        __m512i w[8];
        if (four) {
#pragma GCC unroll 4
            for (int s = 0; s < 4; s++) {
                const __m512i v = _mm512_loadu_si512((const void *)(B + q0 + 64 * s));
                w[s] = _mm512_and_si512(v, m15);
                w[s + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m15);
            }
            if (five) {
                const __m512i qh = _mm512_loadu_si512((const void *)(B + hb));
#pragma GCC unroll 8
                for (int s = 0; s < 8; s++) {
                    const __m512i by = _mm512_shuffle_epi8(qh, _mm512_add_epi8(dw, _mm512_set1_epi8((char)(s / 2))));
                    w[s] = _mm512_mask_add_epi8(w[s], _mm512_test_epi8_mask(by, s % 2 ? bit_hi : bit_lo), w[s], b16);
                }
            }
        } else {
#pragma GCC unroll 8
            for (int s = 0; s < 8; s++) w[s] = _mm512_loadu_si512((const void *)(B + hb + 64 * s));
        }
#pragma GCC unroll 2
        for (int i = 0; i < NT; i++) {
            const int8_t *xi = x + (size_t)i * K + 32 * kk;
            const int32_t *ci = corr + (size_t)i * (K / 4) + 8 * kk;
            const __m512 fdx = _mm512_mul_ps(dv, _mm512_set1_ps(dx[(size_t)i * ng + kk]));
#pragma GCC unroll 8
            for (int s = 0; s < 8; s++) {
                int32_t xs;
                memcpy(&xs, xi + 4 * s, 4);
                const __m512i p0 = off ? _mm512_set1_epi32(ci[s]) : _mm512_setzero_si512();
                const __m512i p = _mm512_dpbusd_epi32(p0, w[s], _mm512_set1_epi32(xs));
                l[i][s] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), fdx, l[i][s]);
            }
            if (mins)
                c[i] = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(B + 2 * R))),
                                       _mm512_set1_ps(sx[(size_t)i * ng + kk]), c[i]);
        }
    }
#pragma GCC unroll 2
    for (int i = 0; i < NT; i++) {
        const __m512 a = _mm512_add_ps(_mm512_add_ps(l[i][0], l[i][4]), _mm512_add_ps(l[i][1], l[i][5]));
        const __m512 b = _mm512_add_ps(_mm512_add_ps(l[i][2], l[i][6]), _mm512_add_ps(l[i][3], l[i][7]));
        const __m512 v = _mm512_add_ps(_mm512_add_ps(a, b), c[i]);
        _mm512_storeu_ps(y + (size_t)i * ldy, bias ? _mm512_add_ps(v, _mm512_loadu_ps(bias)) : v);
    }
}

/* One function per type and row count (constants after inlining). */
#define X(t, n)                                                                                                   \
    R16T __attribute__((noinline)) static void group_##t##_##n(const uint8_t *G, size_t nb, const int8_t *x,         \
                                                                const float *dx, const float *sx, const int32_t *corr, \
                                                                size_t K, float *y, size_t ldy, const float *bias) {  \
        group_vnni(XF_GGML_##t, G, nb, x, dx, sx, corr, K, n, y, ldy, bias);                                          \
    }
X(Q4_0, 1) X(Q4_0, 2) X(Q4_1, 1) X(Q4_1, 2) X(Q5_0, 1) X(Q5_0, 2) X(Q5_1, 1) X(Q5_1, 2) X(Q8_0, 1) X(Q8_0, 2)
#undef X

#define R16A __attribute__((target("avx2,fma,f16c")))
#define R16V __attribute__((target("avx2,fma,f16c,avxvnni")))
#define R16_TARGET R16A
#define R16_NAME group_avx2
#define R16_VNNI 0
#include "qgemv_r16_group.inc"
#undef R16_TARGET
#undef R16_NAME
#undef R16_VNNI
#define R16_TARGET R16V
#define R16_NAME group_avxvnni
#define R16_VNNI 1
#include "qgemv_r16_group.inc"
#undef R16_TARGET
#undef R16_NAME
#undef R16_VNNI

#define X(t, v, T)                                                                                               \
    T __attribute__((noinline)) static void group_##t##_##v(const uint8_t *G, size_t nb, const int8_t *x,           \
                                                            const float *dx, const float *sx, const int32_t *corr, \
                                                            float *y, const float *bias) {                         \
        group_##v(XF_GGML_##t, G, nb, x, dx, sx, corr, y, bias);                                                   \
    }
X(Q4_0, avx2, R16A) X(Q4_1, avx2, R16A) X(Q5_0, avx2, R16A) X(Q5_1, avx2, R16A) X(Q8_0, avx2, R16A)
X(Q4_0, avxvnni, R16V) X(Q4_1, avxvnni, R16V) X(Q5_0, avxvnni, R16V) X(Q5_1, avxvnni, R16V) X(Q8_0, avxvnni, R16V)
#undef X

/* simd 2: AVX-512 VNNI, NT rows at once; 1: AVX2, 3: AVX-VNNI, one row at a time. */
static void group_simd(int simd, int qt, const uint8_t *G, size_t nb, const int8_t *x, const float *dx, const float *sx,
                       const int32_t *corr, size_t K, int NT, float *y, size_t ldy, const float *bias) {
    if (simd == 1 || simd == 3) {
        for (int i = 0; i < NT; i++) {
            const int8_t *xi = x + (size_t)i * K;
            const float *di = dx + (size_t)i * (K / 32), *si = sx + (size_t)i * (K / 32);
            const int32_t *ci = corr + (size_t)i * (K / 4);
            float *yi = y + (size_t)i * ldy;
            const int v = simd == 3;
            switch (qt) {
            case XF_GGML_Q4_0: (v ? group_Q4_0_avxvnni : group_Q4_0_avx2)(G, nb, xi, di, si, ci, yi, bias); break;
            case XF_GGML_Q4_1: (v ? group_Q4_1_avxvnni : group_Q4_1_avx2)(G, nb, xi, di, si, ci, yi, bias); break;
            case XF_GGML_Q5_0: (v ? group_Q5_0_avxvnni : group_Q5_0_avx2)(G, nb, xi, di, si, ci, yi, bias); break;
            case XF_GGML_Q5_1: (v ? group_Q5_1_avxvnni : group_Q5_1_avx2)(G, nb, xi, di, si, ci, yi, bias); break;
            default: (v ? group_Q8_0_avxvnni : group_Q8_0_avx2)(G, nb, xi, di, si, ci, yi, bias); break;
            }
        }
        return;
    }
    switch (qt) {
    case XF_GGML_Q4_0: (NT == 2 ? group_Q4_0_2 : group_Q4_0_1)(G, nb, x, dx, sx, corr, K, y, ldy, bias); break;
    case XF_GGML_Q4_1: (NT == 2 ? group_Q4_1_2 : group_Q4_1_1)(G, nb, x, dx, sx, corr, K, y, ldy, bias); break;
    case XF_GGML_Q5_0: (NT == 2 ? group_Q5_0_2 : group_Q5_0_1)(G, nb, x, dx, sx, corr, K, y, ldy, bias); break;
    case XF_GGML_Q5_1: (NT == 2 ? group_Q5_1_2 : group_Q5_1_1)(G, nb, x, dx, sx, corr, K, y, ldy, bias); break;
    default: (NT == 2 ? group_Q8_0_2 : group_Q8_0_1)(G, nb, x, dx, sx, corr, K, y, ldy, bias); break;
    }
}
#endif

void xf_r16_gemv_isa(int simd, int qtype, const void *P, const float *bias, const void *act, const int32_t *corr,
                     size_t T, float *Y, size_t ldy, size_t g0, size_t g1, size_t K) {
    const int8_t *q;
    const float *d, *s;
    xf_q8act_parts(qtype, act, T, K, &q, &d, &s);
    const size_t nb = K / 32, gstride = R * nb * blk_bytes(qtype), ng = K / 32;
#ifndef XF_X86
    (void)simd;
#endif
    for (size_t g = g0; g < g1; g++) { /* every activation row against the group while it is in cache */
        const uint8_t *G = (const uint8_t *)P + g * gstride;
        const float *bg = bias ? bias + g * R : NULL;
        for (size_t t = 0; t < T;) {
            const int nt = T - t >= 2 ? 2 : 1;
            float *y = Y + t * ldy + g * R;
#ifdef XF_X86
            if (simd) {
                group_simd(simd, qtype, G, nb, q + t * K, d + t * ng, s + t * ng, corr + t * (K / 4), K, nt, y, ldy, bg);
                t += (size_t)nt;
                continue;
            }
#endif
            for (int i = 0; i < nt; i++) {
                float res[R];
                group_ref(qtype, G, nb, q + (t + (size_t)i) * K, d + (t + (size_t)i) * ng, s + (t + (size_t)i) * ng,
                          corr + (t + (size_t)i) * (K / 4), res);
                for (size_t r = 0; r < R; r++) y[(size_t)i * ldy + r] = res[r] + (bg ? bg[r] : 0.0f);
            }
            t += (size_t)nt;
        }
    }
}

/* The best kernel the CPU runs (xf_r16_gemv_isa's simd): AMX counts as VNNI (no tile kernel: a
 * decode product has a row or a few); AVX-VNNI is 3. */
int xf_r16_simd(void) {
    const xf_i8_isa b = xf_i8_isa_best();
    return b >= XF_I8_VNNI ? 2 : b == XF_I8_AVXVNNI ? 3 : b >= XF_I8_AVX2 ? 1 : 0;
}

size_t xf_r16_scratch(int qtype, size_t K) {
    const size_t gemm = xf_qmatmul_scratch(K) + 2 * R * (K / 32) * blk_bytes(qtype) + 64;
    const size_t q8 = xf_q8act_bytes(XF_QMM_GEMV_MAX_T, K) + 4 * (XF_QMM_GEMV_MAX_T * K + 64) + 64;
    return gemm > q8 ? gemm : q8;
}

typedef struct {
    size_t n;
    const xf_r16_op *ops;
    const float *X;
    size_t ldx, T, K;
    xf_pool *pool;
    unsigned long id;
} r16_many_job;

/* The products of the job's weights on one set of activation rows: the groups of all of them, in
 * order, split evenly between the threads; every thread quantizes the activations (and the offsets
 * of each type it meets) into its own scratch — microseconds at decode, side by side instead of
 * one thread's while the others wait; the same function on the same rows, so the same bits. */
static atomic_ulong g_jobs;                     /* job ids: each pass over the pool its own */
static _Thread_local unsigned long tl_job;         /* the job this thread last quantized for */
static _Thread_local uint8_t *tl_act;              /* ... into this scratch */
static _Thread_local int tl_made[4];

static void r16_many_task(void *ctx, int ith, int nth) {
    const r16_many_job *j = ctx;
    size_t G = 0;
    for (size_t i = 0; i < j->n; i++) G += j->ops[i].N / R;
    size_t g0, g1;
    xf_split_range(G, 1, ith, nth, &g0, &g1);
    if (g0 >= g1) return;
    const size_t ab = (xf_q8act_bytes(j->T, j->K) + 63) / 64 * 64, cb = (j->T * j->K + 63) / 64 * 64;
    /* a thread that runs several parts of the job in turn (a pool gone solo while a worker is
     * preempted, or one thread taking both parts) quantizes once: its first part's scratch, which
     * no other part touches during the job */
    uint8_t *act = tl_job == j->id ? tl_act : NULL;
    int *made = tl_made; /* the offsets' starting values made: by offset 0, 8, 16, 128 */
    if (!act) {
        act = xf_pool_scratch(j->pool, ith, NULL);
        xf_q8act_quantize(j->ops[0].qtype, j->X, j->ldx, j->T, j->K, act); /* the same for every 32-weight type */
        memset(tl_made, 0, sizeof tl_made);
        tl_job = j->id, tl_act = act;
    }
    const int simd = xf_r16_simd();
    for (size_t i = 0, base = 0; i < j->n; base += j->ops[i].N / R, i++) {
        const xf_r16_op *o = &j->ops[i];
        const size_t a = g0 > base ? g0 - base : 0, e = g1 - base < o->N / R ? g1 - base : o->N / R;
        if (g1 <= base || a >= e) continue;
        const int off = offset_of(o->qtype), ti = off == 0 ? 0 : off == 8 ? 1 : off == 16 ? 2 : 3;
        int32_t *corr = (int32_t *)(void *)(act + ab + (size_t)ti * cb);
        if (!made[ti]) xf_r16_corr(o->qtype, act, j->T, j->K, corr), made[ti] = 1;
        xf_r16_gemv_isa(simd, o->qtype, o->P, o->bias, act, corr, j->T, o->Y, o->ldy, a, e, j->K);
    }
}

void xf_r16_matmul_many(xf_pool *pool, size_t n, const xf_r16_op *ops, const float *X, size_t ldx, size_t T, size_t K) {
    for (; n > 4; n -= 4, ops += 4) xf_r16_matmul_many(pool, 4, ops, X, ldx, T, K); /* 4 at a time */
    /* chunks of XF_QMM_GEMV_MAX_T rows (the scratch xf_r16_scratch sizes; every row is quantized on
     * its own, so chunks change nothing) */
    xf_r16_op moved[4];
    for (size_t t0 = 0; t0 < T; t0 += XF_QMM_GEMV_MAX_T) {
        const size_t rows = T - t0 < XF_QMM_GEMV_MAX_T ? T - t0 : XF_QMM_GEMV_MAX_T;
        const xf_r16_op *use = ops;
        if (t0) {
            for (size_t i = 0; i < n; i++) moved[i] = ops[i], moved[i].Y = ops[i].Y + t0 * ops[i].ldy;
            use = moved;
        }
        r16_many_job j = {n, use, X + t0 * ldx, ldx, rows, K, pool, atomic_fetch_add(&g_jobs, 1) + 1};
        xf_pool_run(pool, r16_many_task, &j);
    }
}

typedef struct {
    xf_pool *pool;
    int qtype;
    const void *P;
    const float *bias, *X;
    float *Y;
    size_t ldx, ldy, T, N, K;
} r16_job;

/* float activations: panels of 2 groups (XF_QMM_PANEL rows) dequantized, as xf_qgemm */
static void r16_float_task(void *ctx, int ith, int nth) {
    const r16_job *j = ctx;
    size_t n0, n1;
    xf_split_range(j->N, R, ith, nth, &n0, &n1);
    if (n0 >= n1) return;
    float *panel = xf_pool_scratch(j->pool, ith, NULL);
    uint8_t *blocks = (uint8_t *)(panel + XF_QMM_PANEL * j->K);
    const size_t rb = j->K / 32 * blk_bytes(j->qtype);
    for (size_t o = n0; o < n1; o += XF_QMM_PANEL) { /* the panel's rows as the file's blocks, then xf_qgemm's step */
        const size_t e = o + XF_QMM_PANEL < n1 ? o + XF_QMM_PANEL : n1;
        xf_r16_unpack_rows(j->qtype, j->P, j->K, o, e, blocks);
        xf_qgemm(j->qtype, blocks, rb, j->bias ? j->bias + o : NULL, j->X, j->ldx, j->Y + o, j->ldy, j->T, 0, e - o, j->K,
                 panel);
    }
}

void xf_r16_matmul(xf_pool *pool, int qtype, const void *P, const float *bias, const float *X, size_t ldx, float *Y,
                   size_t ldy, size_t T, size_t N, size_t K, int int8) {
    if (int8) {
        const xf_r16_op op = {qtype, P, bias, Y, ldy, N};
        xf_r16_matmul_many(pool, 1, &op, X, ldx, T, K);
        return;
    }
    r16_job j = {pool, qtype, P, bias, X, Y, ldx, ldy, T, N, K};
    xf_pool_run(pool, r16_float_task, &j);
}
