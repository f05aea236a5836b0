/* qgemm_q8.c — the int8-activation GEMM of GGUF K-type weights (qgemv_q8.h, xf_qgemm_q8*): the
 * prefill products of `--weights int8` on Q2_K .. Q6_K files.
 *
 * How: the activation rows of a pass (up to a few 32-row tiles) are quantized as the GEMV's (Q8_K)
 * and laid out with 32 rows in the vector lanes: for each pair of inputs (k, k + 1) one int32 per
 * row holding both as int16 ("tiles"), with the rows' dx and Q8_K group sums the same way. The
 * weight rows are unpacked 6 at a time to int16 S[g] w[e] (and their mins, d, -dmin), and every
 * input pair then costs one broadcast of a weight pair and one vpdpwssd (vpmaddwd + vpaddd on AVX2)
 * per 16 (8) activation rows: 32 multiply-adds an instruction on AVX-512, twice the fp32 GEMM's 16,
 * from half its operand bytes. Q4_K and Q5_K (unsigned w, one S per 32 inputs) keep w as bytes and
 * the activations as int8 quads instead: vpdpbusd, 64 multiply-adds an instruction, with S applied
 * once per 32 inputs (qg_eb). A superblock's int32 sums are exact, so the lanes' order of the
 * integer work is free; the float steps (one product, one fma a superblock, one more with mins)
 * are the scalar reference's, in its order. */
#include <math.h>
#include <string.h>

#include "io/gguf.h"
#include "kernels/cpu.h"
#include "kernels/qgemv_q8.h"
#include "kernels/qmatmul.h"
#include "kernels/quants.h"
#include "kernels/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define QG_X86 1
#endif

#define QG_NR 6     /* weight rows a micro-kernel */
#define QG_LANES 32 /* activation rows a tile */
#define QG_L2 (3u << 19) /* activation tiles of a pass kept within this many bytes (at least one tile) */

int xf_qgemm_q8_has(int qtype) { return qtype >= XF_GGML_Q2_K && qtype <= XF_GGML_Q6_K && xf_qgemv_q8_has(qtype); }

static int qg_mins(int qt) { return qt == XF_GGML_Q4_K || qt == XF_GGML_Q5_K || qt == XF_GGML_Q2_K; }

/* ------------------------------------------------------------------ reference */

/* One output: weight row w (K / 256 superblocks) against quantized activation row t. */
static float ref_one(int qt, const uint8_t *w, const int8_t *q, const float *dxs, const int16_t *bs, size_t K) {
    const size_t TS = xf_qblock_bytes(qt), ns = K / 256;
    float y = 0.0f;
    for (size_t sb = 0; sb < ns; sb++) {
        const uint8_t *b = w + sb * TS;
        int S[16], M[16], iw[32];
        float d, dmin, f[2], m[2];
        xf_q8_kscales(qt, b, S, M, &d, &dmin);
        int32_t P = 0, mm = 0;
        for (int j = 0; j < 8; j++) {
            xf_q8_decode_sub(qt, b, j, iw, f, m);
            for (int e = 0; e < 32; e++) P += (int32_t)(int16_t)(S[2 * j + e / 16] * iw[e]) * q[sb * 256 + 32 * (size_t)j + e];
        }
        for (int g = 0; g < 16; g++) mm += M[g] * bs[sb * 16 + (size_t)g];
        const float dx = dxs[sb];
        y = fmaf((float)P, d * dx, y);
        if (qg_mins(qt)) y = fmaf((float)mm, -dmin * dx, y);
    }
    return y;
}

void xf_qgemm_q8_ref(int qtype, const void *W, size_t row_bytes, const float *bias, const void *act, size_t T,
                     float *Y, size_t ldy, size_t n0, size_t n1, size_t K) {
    if (!xf_qgemm_q8_has(qtype) || K % 256) return;
    const int8_t *q;
    const float *d;
    const int16_t *bs;
    xf_q8act_kparts(act, T, K, &q, &d, &bs);
    for (size_t t = 0; t < T; t++)
        for (size_t o = n0; o < n1; o++)
            Y[t * ldy + o] = ref_one(qtype, (const uint8_t *)W + o * row_bytes, q + t * K, d + t * (K / 256),
                                     bs + t * (K / 16), K) +
                             (bias ? bias[o] : 0.0f);
}

/* ------------------------------------------------------------------ operands */

/* Two layouts of the operands: int16 (eb 2: weights S w as int16, activations in int16 pairs; every
 * K type, and the scalar code) and bytes (eb 1: weights w as uint8 with their sub-block's S apart,
 * activations in int8 quads; Q4_K / Q5_K, whose w are unsigned and whose S is one per 32 inputs, on
 * the vector ISAs: vpdpbusd (AVX-512 VNNI, AVX-VNNI), twice vpdpwssd's multiply-adds, with S applied
 * once per 32 inputs by vpmulld; AVX2: vpmaddubsw then vpmaddwd by S, 4 multiply-adds a lane for
 * the int16 layout's 2). The integers summed are the same, so the same bits. */
static int qg_eb(int qt, xf_i8_isa isa) {
    const int u8 = qt == XF_GGML_Q4_K || qt == XF_GGML_Q5_K;
    return u8 && isa != XF_I8_GENERIC ? 1 : 2;
}

/* A pass's activation rows as tiles of QG_LANES rows (lane l = row 32 i + l; lanes past the rows 0). */
typedef struct {
    int32_t *a;  /* [tiles][eb K / 4][32]: eb 2, inputs 2 p, 2 p + 1 of the lane's row as int16, low first;
                    eb 1, inputs 4 p .. 4 p + 3 as int8, in byte order */
    float *dx;   /* [tiles][K / 256][32] */
    int32_t *bs; /* [tiles][K / 256][8][32]: Q8_K sums of groups 2 gp, 2 gp + 1 */
    size_t tiles;
} qg_tiles;

static size_t tile_bytes(size_t K, int eb) { return QG_LANES * ((size_t)eb * K + (K / 256) * 4 + (K / 256) * 8 * 4); }
static size_t act_row_bytes(size_t K) { return K + (K / 256) * 4 + (K / 16) * 2; }

static qg_tiles tiles_at(void *mem, size_t tiles, size_t K, int eb) {
    qg_tiles t;
    t.a = mem;
    t.dx = (float *)(t.a + tiles * ((size_t)eb * K / 4) * QG_LANES);
    t.bs = (int32_t *)(t.dx + tiles * (K / 256) * QG_LANES);
    t.tiles = tiles;
    return t;
}

static int32_t pair16(int a, int b) { return (int32_t)((uint32_t)(uint16_t)(int16_t)a | (uint32_t)(uint16_t)(int16_t)b << 16); }
static int32_t quad8(const int8_t *q) {
    int32_t v;
    memcpy(&v, q, 4);
    return v;
}

/* Lane l of tile i from one quantized row (q, dx, bs), or zeros (row NULL). */
static void tile_put(const qg_tiles *tl, int eb, size_t i, size_t l, size_t K, const int8_t *q, const float *dx,
                     const int16_t *bs) {
    const size_t ns = K / 256, np = (size_t)eb * K / 4;
    int32_t *a = tl->a + i * np * QG_LANES + l;
    float *d = tl->dx + i * ns * QG_LANES + l;
    int32_t *s = tl->bs + i * ns * 8 * QG_LANES + l;
    for (size_t p = 0; p < np; p++) a[p * QG_LANES] = !q ? 0 : eb == 2 ? pair16(q[2 * p], q[2 * p + 1]) : quad8(q + 4 * p);
    for (size_t sb = 0; sb < ns; sb++) d[sb * QG_LANES] = q ? dx[sb] : 0.0f;
    for (size_t gp = 0; gp < ns * 8; gp++) s[gp * QG_LANES] = q ? pair16(bs[2 * gp], bs[2 * gp + 1]) : 0;
}

/* Up to QG_NR weight rows unpacked: in the int16 layout w [QG_NR][K] S w; in the byte layout w8
 * [QG_NR][K] w (the same memory), s [QG_NR][K / 32] the S of each 32 inputs and sv [QG_NR][K / 32][8]
 * the same as int16 pairs (S, S) for vpmaddwd; both: m [QG_NR][K / 256][16] mins, d and -dmin
 * [QG_NR][K / 256]. */
typedef struct {
    int16_t *w, *m;
    uint8_t *w8;
    int32_t *s, *sv;
    float *d, *dm;
    int with_sv; /* sv wanted (the AVX2 kernel reads it): made only then */
} qg_rows;

static size_t rows_bytes(size_t K) { return QG_NR * (2 * K + K / 8 + (K / 256) * (32 + 8)) + 64; }

static qg_rows rows_at(void *mem, size_t K, int with_sv) {
    qg_rows r;
    r.with_sv = with_sv;
    r.w = mem;
    r.w8 = mem;
    r.sv = (int32_t *)(void *)(r.w8 + QG_NR * K);
    r.s = (int32_t *)(void *)(r.w + QG_NR * K);
    r.m = (int16_t *)(void *)(r.s + QG_NR * (K / 32));
    r.d = (float *)(void *)(r.m + QG_NR * (K / 256) * 16);
    r.dm = r.d + QG_NR * (K / 256);
    return r;
}

/* Row r of R as zeros (past the weight rows of a micro-kernel). */
static void rows_zero(const qg_rows *R, int eb, int r, size_t K) {
    const size_t ns = K / 256;
    if (eb == 1) {
        memset(R->w8 + (size_t)r * K, 0, K);
        memset(R->s + (size_t)r * (K / 32), 0, K / 32 * sizeof *R->s);
        memset(R->sv + (size_t)r * (K / 32) * 8, 0, K / 32 * 8 * sizeof *R->sv);
    } else memset(R->w + (size_t)r * K, 0, K * sizeof *R->w);
    memset(R->m + (size_t)r * ns * 16, 0, ns * 16 * sizeof *R->m);
    for (size_t sb = 0; sb < ns; sb++) R->d[(size_t)r * ns + sb] = R->dm[(size_t)r * ns + sb] = 0.0f;
}

/* Superblock sb of row r: its mins, d, -dmin and, in the byte layout, its sub-block scales. */
static inline __attribute__((always_inline)) void rows_meta(const qg_rows *R, int eb, int r, size_t K, size_t sb,
                                                            const int S[16], const int M[16], float d, float dmin) {
    const size_t ns = K / 256;
    int16_t *m = R->m + ((size_t)r * ns + sb) * 16;
    for (int g = 0; g < 16; g++) m[g] = (int16_t)M[g];
    R->d[(size_t)r * ns + sb] = d, R->dm[(size_t)r * ns + sb] = -dmin;
    if (eb != 1) return;
    int32_t *s = R->s + (size_t)r * (K / 32) + sb * 8;
    for (size_t j = 0; j < 8; j++) s[j] = S[2 * j];
    if (!R->with_sv) return;
    int32_t *sv = R->sv + ((size_t)r * (K / 32) + sb * 8) * 8;
    for (size_t j = 0; j < 8; j++) {
        const int32_t v = pair16(S[2 * j], S[2 * j]);
        for (size_t e = 0; e < 8; e++) sv[8 * j + e] = v;
    }
}

/* Row r of R from the weight row at b: scalar for every K type (the byte layout: Q4_K / Q5_K). */
static void unpack_ref(int qt, int eb, const uint8_t *row, size_t K, const qg_rows *R, int r) {
    const size_t TS = xf_qblock_bytes(qt), ns = K / 256;
    for (size_t sb = 0; sb < ns; sb++) {
        const uint8_t *b = row + sb * TS;
        int S[16], M[16], iw[32];
        float d, dmin, f[2], m[2];
        xf_q8_kscales(qt, b, S, M, &d, &dmin);
        int16_t *w = R->w + (size_t)r * K + sb * 256;
        uint8_t *w8 = R->w8 + (size_t)r * K + sb * 256;
        for (int j = 0; j < 8; j++) {
            xf_q8_decode_sub(qt, b, j, iw, f, m);
            for (int e = 0; e < 32; e++)
                if (eb == 1) w8[32 * j + e] = (uint8_t)iw[e];
                else w[32 * j + e] = (int16_t)(S[2 * j + e / 16] * iw[e]);
        }
        rows_meta(R, eb, r, K, sb, S, M, d, dmin);
    }
}

#ifdef QG_X86
#define QG_AVX2 __attribute__((target("avx2,fma,f16c")))
/* Q4_K, Q5_K and Q6_K rows with AVX2 (both layouts): the same integers as unpack_ref. Their
 * scales are read here as xf_q8_kscales reads them, specialized: calling it for every superblock
 * measured 7 % more CPU on a Qwen2.5-1.5B prefill. */
QG_AVX2 static void unpack_avx2(int qt, int eb, const uint8_t *row, size_t K, const qg_rows *R, int r) {
    const size_t TS = xf_qblock_bytes(qt), ns = K / 256;
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3), m1 = _mm256_set1_epi8(1), o32 = _mm256_set1_epi8(32);
    for (size_t sb = 0; sb < ns; sb++) {
        const uint8_t *b = row + sb * TS;
        int S[16], M[16];
        float d, dmin = 0.0f;
        if (qt != XF_GGML_Q6_K) {
            for (int j = 0; j < 8; j++) {
                xf_qk4_scale_min(j, b + 4, &S[2 * j], &M[2 * j]);
                S[2 * j + 1] = S[2 * j], M[2 * j + 1] = M[2 * j];
            }
            d = _cvtsh_ss((unsigned short)(b[0] | b[1] << 8)), dmin = _cvtsh_ss((unsigned short)(b[2] | b[3] << 8));
        } else {
            for (int g = 0; g < 16; g++) S[g] = (int8_t)b[192 + g], M[g] = 0;
            d = _cvtsh_ss((unsigned short)(b[208] | b[209] << 8));
        }
        int16_t *w = R->w + (size_t)r * K + sb * 256;
        uint8_t *w8 = R->w8 + (size_t)r * K + sb * 256;
#pragma GCC unroll 8 /* shift counts as immediates */
        for (int j = 0; j < 8; j++) {
            __m256i v; /* the 32 integer weights of sub-block j as bytes */
            if (qt == XF_GGML_Q4_K) {
                const __m256i qs = _mm256_loadu_si256((const __m256i *)(const void *)(b + 16 + 32 * (j / 2)));
                v = _mm256_and_si256(_mm256_srli_epi16(qs, 4 * (j % 2)), m4);
            } else if (qt == XF_GGML_Q5_K) { /* the fifth bit: bit j of byte e of qh */
                const __m256i qs = _mm256_loadu_si256((const __m256i *)(const void *)(b + 48 + 32 * (j / 2)));
                const __m256i qh = _mm256_loadu_si256((const __m256i *)(const void *)(b + 16));
                const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, j), m1), 4);
                v = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qs, 4 * (j % 2)), m4), hi);
            } else { /* Q6_K */
                const int h = j / 4, sq = j % 4;
                const __m256i ql = _mm256_loadu_si256((const __m256i *)(const void *)(b + 64 * h + 32 * (sq % 2)));
                const __m256i qh = _mm256_loadu_si256((const __m256i *)(const void *)(b + 128 + 32 * h));
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(ql, 4 * (sq / 2)), m4);
                const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * sq), m2), 4);
                v = _mm256_sub_epi8(_mm256_or_si256(lo, hi), o32);
            }
            if (eb == 1) {
                _mm256_storeu_si256((__m256i *)(void *)(w8 + 32 * j), v);
                continue;
            }
            const __m256i w0 = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(v)), _mm256_set1_epi16((short)S[2 * j]));
            const __m256i w1 = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(v, 1)), _mm256_set1_epi16((short)S[2 * j + 1]));
            _mm256_storeu_si256((__m256i *)(void *)(w + 32 * j), w0);
            _mm256_storeu_si256((__m256i *)(void *)(w + 32 * j + 16), w1);
        }
        rows_meta(R, eb, r, K, sb, S, M, d, dmin);
    }
}
#endif

static void unpack(int qt, int eb, int simd, const uint8_t *row, size_t K, const qg_rows *R, int r) {
#ifdef QG_X86
    if (simd && (qt == XF_GGML_Q4_K || qt == XF_GGML_Q5_K || qt == XF_GGML_Q6_K)) {
        unpack_avx2(qt, eb, row, K, R, r);
        return;
    }
#endif
    (void)simd;
    unpack_ref(qt, eb, row, K, R, r);
}

/* ------------------------------------------------------------------ micro-kernels */

/* out [QG_NR][32]: the unpacked rows against tile i, all superblocks (the reference's float steps). */
static void kern_ref(int mins, const qg_rows *R, const qg_tiles *tl, size_t i, size_t K, float *out) {
    const size_t ns = K / 256;
    const int32_t *a = tl->a + i * (K / 2) * QG_LANES, *bsp = tl->bs + i * ns * 8 * QG_LANES;
    const float *dx = tl->dx + i * ns * QG_LANES;
    for (int r = 0; r < QG_NR; r++)
        for (size_t l = 0; l < QG_LANES; l++) {
            float y = 0.0f;
            for (size_t sb = 0; sb < ns; sb++) {
                int32_t P = 0, mm = 0;
                const int16_t *w = R->w + (size_t)r * K + sb * 256;
                for (size_t kp = 0; kp < 128; kp++) {
                    const int32_t v = a[(sb * 128 + kp) * QG_LANES + l];
                    P += w[2 * kp] * (int16_t)(v & 0xffff) + w[2 * kp + 1] * (int16_t)((uint32_t)v >> 16);
                }
                const float x = dx[sb * QG_LANES + l];
                y = fmaf((float)P, R->d[(size_t)r * ns + sb] * x, y);
                if (mins) {
                    const int16_t *m = R->m + ((size_t)r * ns + sb) * 16;
                    for (size_t gp = 0; gp < 8; gp++) {
                        const int32_t v = bsp[(sb * 8 + gp) * QG_LANES + l];
                        mm += m[2 * gp] * (int16_t)(v & 0xffff) + m[2 * gp + 1] * (int16_t)((uint32_t)v >> 16);
                    }
                    y = fmaf((float)mm, R->dm[(size_t)r * ns + sb] * x, y);
                }
            }
            out[(size_t)r * QG_LANES + l] = y;
        }
}

#ifdef QG_X86
static int32_t ld_pair(const int16_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
static int32_t ld_quad(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The vector kernels always run QG_NR rows (rows past nr unpacked as zeros). The int16 layout's
 * (QG_BODY) name their 12 integer accumulators, so that they stay in registers: c<r><h> = row r,
 * lanes half h; each input pair is a DOT of an activation pair and a broadcast weight pair, and the
 * float steps end in the sums out (FIN). The byte layout's are QB_BYTES below. */
#define QG_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define QG_DECL(r) VI c##r##0 = VZERO, c##r##1 = VZERO;
#define QG_ACC(r)                                                                                                  \
    {                                                                                                              \
        const VI wb = VSET1(ld_pair(WSRC(r)));                                                                     \
        c##r##0 = DOT(c##r##0, a0, wb), c##r##1 = DOT(c##r##1, a1, wb);                                           \
    }
#define QG_FIN(r)                                                                                                  \
    {                                                                                                              \
        const VF dv = VSET1F(SCALE(r));                                                                            \
        float *o = out + (size_t)(r)*QG_LANES + h;                                                                 \
        VSTORE(o, VFMA(VCVT(c##r##0), VMUL(dv, x0), VLOAD(o)));                                                    \
        VSTORE(o + VW, VFMA(VCVT(c##r##1), VMUL(dv, x1), VLOAD(o + VW)));                                          \
    }
#define QG_ZERO(r) c##r##0 = VZERO, c##r##1 = VZERO;

/* The byte layout, for lanes [h, h + 2 VW) and weight rows r0 .. r0 + RG - 1 (as many as the
 * registers hold); the same integers and float steps as QG_BODY's. The sub-block step is SUB:
 * QB_DP sums each sub-block of 32 inputs on its own with vpdpbusd (g), then adds it times its S
 * (vpmulld: |S g| < 2^31) to the superblock's sums (c); QB_MADD multiplies each quad's pair sums
 * (vpmaddubsw: |w q + w' q'| < 2^13) by (S, S) with vpmaddwd straight into c. */
#define QB_DP_DECL(RG) VI g[RG][2];
#define QB_DP_INIT(r) g[r][0] = g[r][1] = VZERO;
#define QB_DP_STEP(r, wb) g[r][0] = DPBUSD(g[r][0], wb, a0), g[r][1] = DPBUSD(g[r][1], wb, a1);
#define QB_DP_END(r)                                                                                               \
    {                                                                                                              \
        const VI sv = VSET1(R->s[(size_t)(r0 + r) * (K / 32) + sb * 8 + j]);                                       \
        c[r][0] = VADDI(c[r][0], VMULLO(g[r][0], sv)), c[r][1] = VADDI(c[r][1], VMULLO(g[r][1], sv));              \
    }
#define QB_MADD_DECL(RG) VI sv[RG];
#define QB_MADD_INIT(r) sv[r] = VLOADI(R->sv + ((size_t)(r0 + r) * (K / 32) + sb * 8 + j) * 8);
#define QB_MADD_STEP(r, wb)                                                                                        \
    c[r][0] = VADDI(c[r][0], VMADD16(VMADDUBS(wb, a0), sv[r])), c[r][1] = VADDI(c[r][1], VMADD16(VMADDUBS(wb, a1), sv[r]));
#define QB_MADD_END(r) {}
#define QB_BYTES(RG, SUB, KQ_UNROLL)                                                                               \
    const size_t ns = K / 256;                                                                                     \
    const int32_t *a = tl->a + i * (K / 4) * QG_LANES + h, *bsp = tl->bs + i * ns * 8 * QG_LANES + h;              \
    const float *dx = tl->dx + i * ns * QG_LANES + h;                                                              \
    for (int r = r0; r < r0 + (RG); r++) memset(out + (size_t)r * QG_LANES + h, 0, 2 * VW * sizeof(float));       \
    for (size_t sb = 0; sb < ns; sb++) {                                                                           \
        VI c[RG][2];                                                                                               \
        _Pragma("GCC unroll 6") for (int r = 0; r < (RG); r++) c[r][0] = c[r][1] = VZERO;                          \
        const uint8_t *w = R->w8 + (size_t)r0 * K + sb * 256;                                                      \
        for (size_t j = 0; j < 8; j++) {                                                                           \
            SUB##_DECL(RG)                                                                                         \
            _Pragma("GCC unroll 6") for (int r = 0; r < (RG); r++) SUB##_INIT(r)                                   \
            _Pragma(KQ_UNROLL) for (size_t kq = 0; kq < 8; kq++) {                                                \
                const int32_t *ap = a + (sb * 64 + 8 * j + kq) * QG_LANES;                                         \
                const VI a0 = VLOADI(ap), a1 = VLOADI(ap + VW);                                                    \
                _Pragma("GCC unroll 6") for (int r = 0; r < (RG); r++) {                                           \
                    const VI wb = VSET1(ld_quad(w + (size_t)r * K + 32 * j + 4 * kq));                             \
                    SUB##_STEP(r, wb)                                                                              \
                }                                                                                                  \
            }                                                                                                      \
            _Pragma("GCC unroll 6") for (int r = 0; r < (RG); r++) SUB##_END(r)                                    \
        }                                                                                                          \
        const VF x0 = VLOAD(dx + sb * QG_LANES), x1 = VLOAD(dx + sb * QG_LANES + VW);                              \
        for (int pass = 0; pass < 1 + mins; pass++) {                                                              \
            if (pass) { /* the mins: their int16 pairs against the group sums' */                                  \
                _Pragma("GCC unroll 6") for (int r = 0; r < (RG); r++) c[r][0] = c[r][1] = VZERO;                  \
                for (size_t gp = 0; gp < 8; gp++) {                                                                \
                    const int32_t *bp = bsp + (sb * 8 + gp) * QG_LANES;                                            \
                    const VI a0 = VLOADI(bp), a1 = VLOADI(bp + VW);                                                \
                    _Pragma("GCC unroll 6") for (int r = 0; r < (RG); r++) {                                       \
                        const VI wb = VSET1(ld_pair(R->m + ((size_t)(r0 + r) * ns + sb) * 16 + 2 * gp));           \
                        c[r][0] = DOT(c[r][0], a0, wb), c[r][1] = DOT(c[r][1], a1, wb);                            \
                    }                                                                                              \
                }                                                                                                  \
            }                                                                                                      \
            _Pragma("GCC unroll 6") for (int r = 0; r < (RG); r++) {                                               \
                const size_t at = (size_t)(r0 + r) * ns + sb;                                                      \
                const VF dv = VSET1F(pass ? R->dm[at] : R->d[at]);                                                 \
                float *o = out + (size_t)(r0 + r) * QG_LANES + h;                                                  \
                VSTORE(o, VFMA(VCVT(c[r][0]), VMUL(dv, x0), VLOAD(o)));                                            \
                VSTORE(o + VW, VFMA(VCVT(c[r][1]), VMUL(dv, x1), VLOAD(o + VW)));                                  \
            }                                                                                                      \
        }                                                                                                          \
    }

/* The int16 layout's body for lanes [h, h + 2 VW) of tile i; VW lanes a vector. */
#define QG_BODY                                                                                                    \
    const size_t ns = K / 256;                                                                                     \
    const int32_t *a = tl->a + i * (K / 2) * QG_LANES + h, *bsp = tl->bs + i * ns * 8 * QG_LANES + h;              \
    const float *dx = tl->dx + i * ns * QG_LANES + h;                                                              \
    for (int r = 0; r < QG_NR; r++) memset(out + (size_t)r * QG_LANES + h, 0, 2 * VW * sizeof(float));            \
    for (size_t sb = 0; sb < ns; sb++) {                                                                           \
        QG_ROWS(QG_DECL)                                                                                           \
        const int16_t *w = R->w + sb * 256;                                                                        \
        const int32_t *ap = a + sb * 128 * QG_LANES;                                                               \
        for (size_t kp = 0; kp < 128; kp++) {                                                                      \
            const VI a0 = VLOADI(ap + kp * QG_LANES), a1 = VLOADI(ap + kp * QG_LANES + VW);                        \
            QG_ROWS(QG_ACC)                                                                                        \
        }                                                                                                          \
        const VF x0 = VLOAD(dx + sb * QG_LANES), x1 = VLOAD(dx + sb * QG_LANES + VW);                              \
        QG_ROWS(QG_FIN)                                                                                            \
        if (!mins) continue;                                                                                       \
        QG_ROWS(QG_ZERO)                                                                                           \
        for (size_t gp = 0; gp < 8; gp++) {                                                                        \
            const int32_t *bp = bsp + (sb * 8 + gp) * QG_LANES;                                                    \
            const VI a0 = VLOADI(bp), a1 = VLOADI(bp + VW);                                                        \
            QG_ROWS(QG_MACC)                                                                                       \
        }                                                                                                          \
        QG_ROWS(QG_MFIN)                                                                                           \
    }

#define WSRC(r) (w + (size_t)(r)*K + 2 * kp)
#define SCALE(r) R->d[(size_t)(r)*ns + sb]
#define QG_MACC(r)                                                                                                 \
    {                                                                                                              \
        const VI wb = VSET1(ld_pair(R->m + ((size_t)(r)*ns + sb) * 16 + 2 * gp));                                  \
        c##r##0 = DOT(c##r##0, a0, wb), c##r##1 = DOT(c##r##1, a1, wb);                                           \
    }
#define QG_MFIN(r)                                                                                                 \
    {                                                                                                              \
        const VF dv = VSET1F(R->dm[(size_t)(r)*ns + sb]);                                                          \
        float *o = out + (size_t)(r)*QG_LANES + h;                                                                 \
        VSTORE(o, VFMA(VCVT(c##r##0), VMUL(dv, x0), VLOAD(o)));                                                    \
        VSTORE(o + VW, VFMA(VCVT(c##r##1), VMUL(dv, x1), VLOAD(o + VW)));                                          \
    }

/* 256-bit: 16 lanes a pass, two passes a tile. */
#define VI __m256i
#define VF __m256
#define VW 8
#define VZERO _mm256_setzero_si256()
#define VSET1(v) _mm256_set1_epi32(v)
#define VSET1F(v) _mm256_set1_ps(v)
#define VLOADI(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VMUL(a, b) _mm256_mul_ps((a), (b))
#define VCVT(v) _mm256_cvtepi32_ps(v)

#define VADDI(a, b) _mm256_add_epi32((a), (b))
#define VMADD16(a, b) _mm256_madd_epi16((a), (b))
#define VMADDUBS(a, b) _mm256_maddubs_epi16((a), (b))

#define DOT(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
QG_AVX2 static void kern_avx2(int mins, const qg_rows *R, const qg_tiles *tl, size_t i, size_t K, float *out) {
    for (size_t h = 0; h < QG_LANES; h += 2 * VW) {
        QG_BODY
    }
}
QG_AVX2 static void kern_avx2_u8(int mins, const qg_rows *R, const qg_tiles *tl, size_t i, size_t K, float *out) {
    for (size_t h = 0; h < QG_LANES; h += 2 * VW)
        for (int r0 = 0; r0 < QG_NR; r0 += 3) {
            QB_BYTES(3, QB_MADD, "GCC unroll 1") /* unrolled, GCC spills the sums */
        }
}
#undef DOT
#define DOT(acc, a, b) _mm256_dpwssd_avx_epi32((acc), (a), (b))
#define QG_AVXVNNI __attribute__((target("avx2,fma,f16c,avxvnni")))
QG_AVXVNNI static void kern_avxvnni(int mins, const qg_rows *R, const qg_tiles *tl, size_t i, size_t K, float *out) {
    for (size_t h = 0; h < QG_LANES; h += 2 * VW) {
        QG_BODY
    }
}

/* The byte layout with 256-bit vpdpbusd: 16 registers hold the sums of 3 weight rows. */
#define VMULLO(a, b) _mm256_mullo_epi32((a), (b))
#define DPBUSD(acc, u, s) _mm256_dpbusd_avx_epi32((acc), (u), (s))
QG_AVXVNNI static void kern_avxvnni_u8(int mins, const qg_rows *R, const qg_tiles *tl, size_t i, size_t K, float *out) {
    for (size_t h = 0; h < QG_LANES; h += 2 * VW)
        for (int r0 = 0; r0 < QG_NR; r0 += 3) {
            QB_BYTES(3, QB_DP, "GCC unroll 8")
        }
}
#undef VMULLO
#undef DPBUSD
#undef DOT
#undef VADDI
#undef VMADD16
#undef VMADDUBS
#undef VI
#undef VF
#undef VW
#undef VZERO
#undef VSET1
#undef VSET1F
#undef VLOADI
#undef VLOAD
#undef VSTORE
#undef VFMA
#undef VMUL
#undef VCVT

/* AVX-512 VNNI: the 32 lanes in two registers, vpdpwssd. */
#define VI __m512i
#define VF __m512
#define VW 16
#define VZERO _mm512_setzero_si512()
#define VSET1(v) _mm512_set1_epi32(v)
#define VSET1F(v) _mm512_set1_ps(v)
#define VLOADI(p) _mm512_loadu_si512((const void *)(p))
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VMUL(a, b) _mm512_mul_ps((a), (b))
#define VCVT(v) _mm512_cvtepi32_ps(v)
#define VADDI(a, b) _mm512_add_epi32((a), (b))
#define VMULLO(a, b) _mm512_mullo_epi32((a), (b))
#define DPBUSD(acc, u, s) _mm512_dpbusd_epi32((acc), (u), (s))
#define DOT(acc, a, b) _mm512_dpwssd_epi32((acc), (a), (b))
#define QG_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
QG_VNNI static void kern_vnni(int mins, const qg_rows *R, const qg_tiles *tl, size_t i, size_t K, float *out) {
    const size_t h = 0;
    QG_BODY
}
QG_VNNI static void kern_vnni_u8(int mins, const qg_rows *R, const qg_tiles *tl, size_t i, size_t K, float *out) {
    const size_t h = 0;
    const int r0 = 0;
    QB_BYTES(QG_NR, QB_DP, "GCC unroll 8")
}
#endif

typedef void (*qg_kern)(int mins, const qg_rows *R, const qg_tiles *tl, size_t i, size_t K, float *out);
/* The kernel that reads the rows' sv (NULL without one). */
#ifdef QG_X86
#define QG_SV_KERN kern_avx2_u8
#else
#define QG_SV_KERN NULL
#endif

static qg_kern kern_of(xf_i8_isa isa, int eb) {
#ifdef QG_X86
    switch (isa) {
    case XF_I8_AMX:
    case XF_I8_VNNI: return eb == 1 ? kern_vnni_u8 : kern_vnni;
    case XF_I8_AVXVNNI: return eb == 1 ? kern_avxvnni_u8 : kern_avxvnni;
    case XF_I8_AVX2: return eb == 1 ? kern_avx2_u8 : kern_avx2;
    default: break;
    }
#endif
    (void)isa, (void)eb;
    return kern_ref;
}

/* ------------------------------------------------------------------ threaded driver */

typedef struct {
    xf_pool *pool;
    int qtype, simd, eb; /* eb: the operands' layout (qg_eb) */
    qg_kern kern;
    const uint8_t *W;
    const float *bias, *X;
    float *Y;
    size_t row_bytes, ldx, ldy, N, K;
    size_t t0, rows; /* the pass: activation rows [t0, t0 + rows) */
    qg_tiles tl;
} qg_job;

/* Pass part 1: each thread quantizes its share of the pass's rows into its lanes. */
static void qg_fill(void *ctx, int ith, int nth) {
    const qg_job *j = ctx;
    const size_t lanes = j->tl.tiles * QG_LANES;
    size_t l0, l1;
    xf_split_range(lanes, 1, ith, nth, &l0, &l1);
    void *act = (uint8_t *)xf_pool_scratch(j->pool, ith, NULL) + rows_bytes(j->K); /* after the thread's rows */
    for (size_t l = l0; l < l1; l++) {
        if (l >= j->rows) {
            tile_put(&j->tl, j->eb, l / QG_LANES, l % QG_LANES, j->K, NULL, NULL, NULL);
            continue;
        }
        const int8_t *q;
        const float *d;
        const int16_t *bs;
        xf_q8act_quantize(j->qtype, j->X + (j->t0 + l) * j->ldx, j->ldx, 1, j->K, act);
        xf_q8act_kparts(act, 1, j->K, &q, &d, &bs);
        tile_put(&j->tl, j->eb, l / QG_LANES, l % QG_LANES, j->K, q, d, bs);
    }
}

/* Pass part 2: each thread its weight rows, 6 at a time, against every tile. */
static void qg_rows_task(void *ctx, int ith, int nth) {
    const qg_job *j = ctx;
    size_t n0, n1;
    xf_split_range(j->N, XF_QMM_SPLIT, ith, nth, &n0, &n1);
    const qg_rows R = rows_at(xf_pool_scratch(j->pool, ith, NULL), j->K, j->kern == QG_SV_KERN);
    const int mins = qg_mins(j->qtype);
    _Alignas(64) float out[QG_NR * QG_LANES];
    for (size_t o = n0; o < n1; o += QG_NR) {
        const int nr = (int)(n1 - o < QG_NR ? n1 - o : QG_NR);
        float b[QG_NR] = {0};
        for (int r = 0; r < QG_NR; r++) {
            if (r < nr) unpack(j->qtype, j->eb, j->simd, j->W + (o + (size_t)r) * j->row_bytes, j->K, &R, r);
            else rows_zero(&R, j->eb, r, j->K);
            if (r < nr && j->bias) b[r] = j->bias[o + (size_t)r];
        }
        for (size_t i = 0; i < j->tl.tiles; i++) {
            j->kern(mins, &R, &j->tl, i, j->K, out);
            const size_t lanes = j->rows - i * QG_LANES < QG_LANES ? j->rows - i * QG_LANES : QG_LANES;
            float *y = j->Y + (j->t0 + i * QG_LANES) * j->ldy + o;
            if (nr == QG_NR)
                for (size_t l = 0; l < lanes; l++, y += j->ldy)
                    for (int r = 0; r < QG_NR; r++) y[r] = out[(size_t)r * QG_LANES + l] + b[r];
            else
                for (size_t l = 0; l < lanes; l++, y += j->ldy)
                    for (int r = 0; r < nr; r++) y[r] = out[(size_t)r * QG_LANES + l] + b[r];
        }
    }
}

size_t xf_qgemm_q8_scratch(size_t K) {
    /* the thread's rows and one row's activations, and (thread 0's slice) the tiles of a pass */
    const size_t tb = tile_bytes(K, 2), n = QG_L2 / tb; /* the int16 layout's tiles: the larger */
    return rows_bytes(K) + act_row_bytes(K) + 64 + (n > 2 ? n : 2) * tb;
}

void xf_qgemm_q8_isa(xf_pool *pool, xf_i8_isa isa, int qtype, const void *W, size_t row_bytes, const float *bias,
                     const float *X, size_t ldx, float *Y, size_t ldy, size_t T, size_t N, size_t K) {
    size_t have = 0;
    uint8_t *s0 = xf_pool_scratch(pool, 0, &have);
    const int eb = qg_eb(qtype, isa);
    const size_t own = rows_bytes(K) + ((act_row_bytes(K) + 63) & ~(size_t)63), tb = tile_bytes(K, eb);
    if (!xf_qgemm_q8_has(qtype) || K % 256 || !K || !s0 || have < own + tb || T == 0) {
        xf_qmatmul(pool, qtype, W, row_bytes, bias, X, ldx, Y, ldy, T, N, K);
        return;
    }
    size_t tiles = (have - own) / tb, l2 = QG_L2 / tb, need = (T + QG_LANES - 1) / QG_LANES;
    if (tiles > (l2 ? l2 : 1)) tiles = l2 ? l2 : 1;
    if (tiles > need) tiles = need;
    qg_job j = {pool, qtype, isa != XF_I8_GENERIC && xf_isa_level() >= XF_ISA_AVX2, eb, kern_of(isa, eb), W, bias, X,
                Y, row_bytes, ldx, ldy, N, K, 0, 0, tiles_at(s0 + own, tiles, K, eb)};
    for (size_t t0 = 0; t0 < T; t0 += tiles * QG_LANES) {
        j.t0 = t0, j.rows = T - t0 < tiles * QG_LANES ? T - t0 : tiles * QG_LANES;
        j.tl.tiles = (j.rows + QG_LANES - 1) / QG_LANES;
        xf_pool_run(pool, qg_fill, &j);
        xf_pool_run(pool, qg_rows_task, &j);
    }
}

void xf_qgemm_q8(xf_pool *pool, int qtype, const void *W, size_t row_bytes, const float *bias, const float *X,
                 size_t ldx, float *Y, size_t ldy, size_t T, size_t N, size_t K) {
    xf_qgemm_q8_isa(pool, xf_i8_isa_best(), qtype, W, row_bytes, bias, X, ldx, Y, ldy, T, N, K);
}
