/* sparse24.c — 2:4 sparse weights (see sparse24.h): masks and compression, the product kernels
 * for AVX-512VL (vpermt2ps on 8 lanes), AVX2 (vpermps + blend) and scalar C, all summing in
 * sparse24.h's order, and the driver that splits output channels between threads. */
#include "kernels/sparse24.h"

#include <math.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/sparse24_sum.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define XF_X86 1
#endif

#define S24_OB 32 /* output rows per block (their compressed rows stay in L2 across row blocks) */
#define S24_TB 4  /* activation rows per kernel call (one value/index decode, TB products) */

size_t xf_s24_bytes(size_t N, size_t K) {
    const size_t V = K / 2, IB = xf_s24_idx_row_bytes(K);
    if (N && (V * sizeof(float) + IB) > (size_t)-1 / N) return 0;
    return N * (V * sizeof(float) + IB);
}

int xf_s24_check_indices(const uint8_t *idx, size_t N, size_t K, size_t *bad_row, size_t *bad_group) {
    const size_t IB = xf_s24_idx_row_bytes(K), G = K / 4;
    for (size_t o = 0; o < N; o++)
        for (size_t g = 0; g < 2 * IB; g++) {
            const unsigned nib = (idx[o * IB + g / 2] >> (4 * (g % 2))) & 15u;
            /* group g: its first value's 2 bits, then its second's (value j at bits 2 (j % 4)) */
            if (g < G ? (nib & 3u) < (nib >> 2) : nib == 0) continue;
            *bad_row = o;
            *bad_group = g;
            return 1;
        }
    return 0;
}

static const float *vals_of(const uint8_t *c, size_t K, size_t o) { return (const float *)(const void *)c + o * (K / 2); }
static const uint8_t *idx_of(const uint8_t *c, size_t N, size_t K, size_t o) {
    return c + N * (K / 2) * sizeof(float) + o * xf_s24_idx_row_bytes(K);
}

void xf_s24_compress(const float *W, size_t ldw, size_t N, size_t K, const float *s, uint8_t *out) {
    const size_t V = K / 2, IB = xf_s24_idx_row_bytes(K);
    float *vals = (float *)(void *)out;
    uint8_t *idx = out + N * V * sizeof(float);
    memset(idx, 0, N * IB);
    for (size_t o = 0; o < N; o++) {
        const float *w = W + o * ldw;
        for (size_t g = 0; g < K / 4; g++) {
            float sc[4];
            for (int i = 0; i < 4; i++) sc[i] = fabsf(w[4 * g + i]) * (s ? s[4 * g + i] : 1.0f);
            int a = 0;
            for (int i = 1; i < 4; i++)
                if (sc[i] > sc[a]) a = i;
            int b = a == 0 ? 1 : 0;
            for (int i = 0; i < 4; i++)
                if (i != a && sc[i] > sc[b]) b = i;
            if (b < a) {
                const int t = a;
                a = b;
                b = t;
            }
            const size_t j = 2 * g; /* value index of the group's first kept weight */
            vals[o * V + j] = w[4 * g + a];
            vals[o * V + j + 1] = w[4 * g + b];
            idx[o * IB + j / 4] |= (uint8_t)(a << (2 * (j % 4)));
            idx[o * IB + (j + 1) / 4] |= (uint8_t)(b << (2 * ((j + 1) % 4)));
        }
    }
}

void xf_s24_decompress_rows(const uint8_t *c, size_t N, size_t K, size_t r0, size_t r1, float *out) {
    const size_t V = K / 2;
    for (size_t o = r0; o < r1; o++) {
        const float *v = vals_of(c, K, o);
        const uint8_t *ix = idx_of(c, N, K, o);
        float *d = out + (o - r0) * K;
        memset(d, 0, K * sizeof *d);
        for (size_t j = 0; j < V; j++) d[4 * (j / 2) + ((ix[j / 4] >> (2 * (j % 4))) & 3)] = v[j];
    }
}

/* ---------------------------------------------------------------- kernels: one output row o,
 * activation rows X[0..nt) (stride ldx), outputs y[t * ldy] */


static void row_scalar(const float *v, const uint8_t *ix, size_t V, const float *X, size_t ldx, size_t nt, float *y,
                       size_t ldy, const float *bias) {
    for (size_t t = 0; t < nt; t++) {
        const float *x = X + t * ldx;
        float acc[16] = {0};
        for (size_t c = 0; c < V; c += 16)
            for (size_t j = 0; j < 16; j++) {
                const size_t jj = c + j;
                if (jj < V)
                    acc[j] = fmaf(v[jj], x[4 * (jj / 2) + ((ix[jj / 4] >> (2 * (jj % 4))) & 3)], acc[j]);
                else
                    acc[j] = acc[j] + 0.0f;
            }
        const float s = xf_s24_reduce16(acc);
        y[t * ldy] = bias ? s + *bias : s;
    }
}

#ifdef XF_X86
#define XF_T512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))
#define XF_T256 __attribute__((target("avx2,fma")))


/* 8 lanes of the chunk's half: values 0-3 select from x0 (inputs 0-7), 4-7 from x1 (inputs 8-15). */
XF_T256 static inline __attribute__((always_inline)) __m256 sel8(__m256 x0, __m256 x1, __m256i perm) {
    return _mm256_blend_ps(_mm256_permutevar8x32_ps(x0, perm), _mm256_permutevar8x32_ps(x1, perm), 0xF0);
}

/* The last chunk (m = V - c < 16 values) of the 8-lane kernels, lanes past m adding +0. */
XF_T256 static inline __attribute__((always_inline)) void row_avx2_tail(const float *vc, const uint8_t *ix, size_t V,
                                                                        size_t c, const float *X, size_t ldx, size_t nt,
                                                                        __m256 *lo, __m256 *hi) {
    const __m256i shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i base = _mm256_setr_epi32(0, 0, 4, 4, 0, 0, 4, 4);
    const __m256i three = _mm256_set1_epi32(3);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const size_t m = V - c;
    uint32_t bits = 0;
    memcpy(&bits, ix + c / 4, (m + 3) / 4);
    for (int h = 0; h < 2; h++) {
        const int mh = (int)m - 8 * h < 0 ? 0 : (int)m - 8 * h > 8 ? 8 : (int)m - 8 * h; /* values in this half */
        const __m256i mv = _mm256_cmpgt_epi32(_mm256_set1_epi32(mh), lane);
        const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(2 * mh), lane);
        const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(2 * mh - 8), lane);
        const __m256i p = _mm256_add_epi32(
            _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)((bits >> (16 * h)) & 0xFFFF)), shifts), three),
            base);
        const __m256 w = _mm256_maskload_ps(vc + 8 * h, mv);
        for (size_t t = 0; t < nt; t++) {
            const float *x = X + t * ldx + 2 * c + 16 * h;
            const __m256 xs = _mm256_and_ps(sel8(_mm256_maskload_ps(x, m0), _mm256_maskload_ps(x + 8, m1), p),
                                            _mm256_castsi256_ps(mv));
            if (h == 0)
                lo[t] = _mm256_fmadd_ps(w, xs, lo[t]);
            else
                hi[t] = _mm256_fmadd_ps(w, xs, hi[t]);
        }
    }
}

/* AVX-512VL: each half's inputs in one 8-lane vpermt2ps (16-entry table) instead of AVX2's two
 * vpermps and a blend. A 16-lane kernel (one vpermt2ps zmm per chunk) streamed 7.2 GB/s of
 * compressed weights here (Zen 4, decode) against 12.5 for the 8-lane ones: the 512-bit permutes
 * cost more than the instructions they save. */
XF_T512 static inline __attribute__((always_inline)) __m256 sel8_vl(__m256 x0, __m256 x1, __m256i perm) {
    return _mm256_permutex2var_ps(x0, perm, x1);
}

/* The 8-lane kernel (two halves of each chunk, lo / hi accumulators), for a target, a select of
 * the inputs and the group bases of its permutation (B2 B3: values 4-7 of a half, inputs 8-15:
 * 0 4 when they index the second register alone, 8 12 in a 16-entry table). Same sums for all. */
#define S24_ROW8(NAME, TARGET, SEL, B2, B3)                                                                        \
    TARGET static inline __attribute__((always_inline)) void NAME(const float *v, const uint8_t *ix, size_t V, const float *X, size_t ldx, size_t nt,      \
                            float *y, size_t ldy, const float *bias) {                                              \
        const __m256i shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);                                        \
        const __m256i base = _mm256_setr_epi32(0, 0, 4, 4, B2, B2, B3, B3), three = _mm256_set1_epi32(3);           \
        __m256 lo[S24_TB], hi[S24_TB];                                                                              \
        for (size_t t = 0; t < S24_TB; t++) lo[t] = hi[t] = _mm256_setzero_ps();                                    \
        size_t c = 0;                                                                                               \
        for (; c + 16 <= V; c += 16) {                                                                              \
            uint32_t bits;                                                                                          \
            memcpy(&bits, ix + c / 4, 4);                                                                           \
            const __m256i p0 = _mm256_add_epi32(                                                                    \
                _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)(bits & 0xFFFF)), shifts), three), base); \
            const __m256i p1 = _mm256_add_epi32(                                                                    \
                _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)(bits >> 16)), shifts), three), base);    \
            const __m256 w0 = _mm256_loadu_ps(v + c), w1 = _mm256_loadu_ps(v + c + 8);                             \
            for (size_t t = 0; t < nt; t++) {                                                                       \
                const float *x = X + t * ldx + 2 * c;                                                               \
                lo[t] = _mm256_fmadd_ps(w0, SEL(_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8), p0), lo[t]);            \
                hi[t] = _mm256_fmadd_ps(w1, SEL(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24), p1), hi[t]);      \
            }                                                                                                       \
        }                                                                                                           \
        if (c < V) row_avx2_tail(v + c, ix, V, c, X, ldx, nt, lo, hi);                                              \
        for (size_t t = 0; t < nt; t++) {                                                                           \
            const float s = xf_s24_reduce8(_mm256_add_ps(lo[t], hi[t]));                                                   \
            y[t * ldy] = bias ? s + *bias : s;                                                                      \
        }                                                                                                           \
    }
S24_ROW8(row_avx2, XF_T256, sel8, 0, 4)
S24_ROW8(row_avx512vl, XF_T512, sel8_vl, 8, 12)

/* The same with int8 values (s24q8): 8 values widened to floats (exact), the sums of S24_ROW8,
 * then times the row's scale (and + bias in one fmaf, as the scalar reference). */
#define S24Q8_ROW8(NAME, TARGET, SEL, B2, B3)                                                                      \
    TARGET static void NAME(const int8_t *q, float scale, const uint8_t *ix, size_t V, const float *X, size_t ldx,   \
                            size_t nt, float *y, size_t ldy, const float *bias) {                                   \
        const __m256i shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);                                        \
        const __m256i base = _mm256_setr_epi32(0, 0, 4, 4, B2, B2, B3, B3), three = _mm256_set1_epi32(3);           \
        __m256 lo[S24_TB], hi[S24_TB];                                                                              \
        for (size_t t = 0; t < S24_TB; t++) lo[t] = hi[t] = _mm256_setzero_ps();                                    \
        size_t c = 0;                                                                                               \
        for (; c + 16 <= V; c += 16) {                                                                              \
            uint32_t bits;                                                                                          \
            memcpy(&bits, ix + c / 4, 4);                                                                           \
            const __m256i p0 = _mm256_add_epi32(                                                                    \
                _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)(bits & 0xFFFF)), shifts), three), base); \
            const __m256i p1 = _mm256_add_epi32(                                                                    \
                _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)(bits >> 16)), shifts), three), base);    \
            const __m128i q16 = _mm_loadu_si128((const __m128i *)(const void *)(q + c));                            \
            const __m256 w0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q16));                                        \
            const __m256 w1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q16, 8)));                     \
            for (size_t t = 0; t < nt; t++) {                                                                       \
                const float *x = X + t * ldx + 2 * c;                                                               \
                lo[t] = _mm256_fmadd_ps(w0, SEL(_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8), p0), lo[t]);            \
                hi[t] = _mm256_fmadd_ps(w1, SEL(_mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24), p1), hi[t]);      \
            }                                                                                                       \
        }                                                                                                           \
        if (c < V) {                                                                                                \
            float vf[16] = {0};                                                                                     \
            for (size_t i = 0; i < V - c; i++) vf[i] = (float)q[c + i];                                             \
            row_avx2_tail(vf, ix, V, c, X, ldx, nt, lo, hi);                                                        \
        }                                                                                                           \
        for (size_t t = 0; t < nt; t++) {                                                                           \
            const float s = xf_s24_reduce8(_mm256_add_ps(lo[t], hi[t]));                                                   \
            y[t * ldy] = bias ? fmaf(s, scale, *bias) : s * scale;                                                  \
        }                                                                                                           \
    }
S24Q8_ROW8(rowq8_avx2, XF_T256, sel8, 0, 4)
S24Q8_ROW8(rowq8_avx512vl, XF_T512, sel8_vl, 8, 12)
#endif

/* Weight rows [o0, o1) against activation rows [0, nt): the loop over rows inside each ISA's
 * function, so that its constants are set up once per block of rows, not once per row (as the
 * int8 kernel's rows_vbmi). The same sums, row by row. */
typedef void (*rows_fn)(const uint8_t *c, size_t N, size_t K, size_t o0, size_t o1, const float *X, size_t ldx, size_t nt,
                        float *Y, size_t ldy, const float *bias);
#define S24_ROWS(NAME, ROW, TARGET)                                                                                \
    TARGET static void NAME(const uint8_t *c, size_t N, size_t K, size_t o0, size_t o1, const float *X, size_t ldx,  \
                            size_t nt, float *Y, size_t ldy, const float *bias) {                                   \
        for (size_t o = o0; o < o1; o++)                                                                            \
            ROW(vals_of(c, K, o), idx_of(c, N, K, o), K / 2, X, ldx, nt, Y + o, ldy, bias ? bias + o : NULL);       \
    }
#define XF_T_NONE
S24_ROWS(rows_scalar, row_scalar, XF_T_NONE)
#ifdef XF_X86
S24_ROWS(rows_avx2, row_avx2, XF_T256)
S24_ROWS(rows_avx512vl, row_avx512vl, XF_T512)
#endif

/* The rows function of the ISA level of kernels/cpu.h, of a format's three. */
static rows_fn pick_rows(rows_fn scalar, rows_fn avx2, rows_fn avx512) {
    switch (xf_isa_level()) {
    case XF_ISA_AVX512: return avx512 ? avx512 : scalar;
    case XF_ISA_AVX2: return avx2 ? avx2 : scalar;
    default: return scalar;
    }
}
#ifdef XF_X86
#define PICK_ROWS(F) pick_rows(F##_scalar, F##_avx2, F##_avx512vl)
#else
#define PICK_ROWS(F) pick_rows(F##_scalar, NULL, NULL)
#endif

static void gemm_range(rows_fn rows, const uint8_t *c, size_t N, size_t K, const float *bias, const float *X, size_t ldx,
                       size_t T, float *Y, size_t ldy, size_t n0, size_t n1) {
    for (size_t o0 = n0; o0 < n1; o0 += S24_OB) {
        const size_t o1 = n1 - o0 < S24_OB ? n1 : o0 + S24_OB;
        for (size_t t0 = 0; t0 < T; t0 += S24_TB) {
            const size_t nt = T - t0 < S24_TB ? T - t0 : S24_TB;
            rows(c, N, K, o0, o1, X + t0 * ldx, ldx, nt, Y + t0 * ldy, ldy, bias);
        }
    }
}

void xf_s24_gemm_range(const uint8_t *c, size_t N, size_t K, const float *bias, const float *X, size_t ldx, size_t T,
                       float *Y, size_t ldy, size_t n0, size_t n1) {
    gemm_range(PICK_ROWS(rows), c, N, K, bias, X, ldx, T, Y, ldy, n0, n1);
}

void xf_s24_ref(const uint8_t *c, size_t N, size_t K, const float *bias, const float *X, size_t ldx, size_t T, float *Y,
                size_t ldy) {
    rows_scalar(c, N, K, 0, N, X, ldx, T, Y, ldy, bias);
}

size_t xf_s24_scratch(size_t K) { return (size_t)XF_S24_DENSE_ROWS * K * sizeof(float); }

/* The products of both formats over the pool: few activation rows read the compressed form
 * (range: the format's xf_..._gemm_range), many go through rows unpacked to floats XF_S24_DENSE_ROWS
 * at a time (unpack: the format's xf_..._decompress_rows) and the dense GEMM. */
typedef void (*range_fn)(const uint8_t *c, size_t N, size_t K, const float *bias, const float *X, size_t ldx, size_t T,
                         float *Y, size_t ldy, size_t n0, size_t n1);
typedef void (*unpack_fn)(const uint8_t *c, size_t N, size_t K, size_t r0, size_t r1, float *out);

static void dense_range(unpack_fn unpack, const uint8_t *c, size_t N, size_t K, const float *bias, const float *X,
                        size_t ldx, size_t T, float *Y, size_t ldy, size_t n0, size_t n1, float *scratch) {
    for (size_t o0 = n0; o0 < n1; o0 += XF_S24_DENSE_ROWS) {
        const size_t o1 = n1 - o0 < XF_S24_DENSE_ROWS ? n1 : o0 + XF_S24_DENSE_ROWS;
        unpack(c, N, K, o0, o1, scratch);
        xf_gemm_f32_nt(X, ldx, scratch, K, bias ? bias + o0 : NULL, Y + o0, ldy, T, 0, o1 - o0, K);
    }
}

typedef struct {
    range_fn range;
    unpack_fn unpack;
    const uint8_t *c;
    size_t N, K, ldx, T, ldy;
    const float *bias, *X;
    float *Y;
    xf_pool *pool;
} s24_job;

static void s24_task(void *ctx, int ith, int nth) {
    const s24_job *j = ctx;
    size_t n0, n1, have = 0;
    float *scratch = j->T > XF_S24_GEMV_MAX_T ? xf_pool_scratch(j->pool, ith, &have) : NULL;
    xf_split_range(j->N, XF_S24_DENSE_ROWS, ith, nth, &n0, &n1);
    if (n0 >= n1) return;
    if (scratch && have >= xf_s24_scratch(j->K))
        dense_range(j->unpack, j->c, j->N, j->K, j->bias, j->X, j->ldx, j->T, j->Y, j->ldy, n0, n1, scratch);
    else
        j->range(j->c, j->N, j->K, j->bias, j->X, j->ldx, j->T, j->Y, j->ldy, n0, n1);
}

void xf_s24_matmul(xf_pool *pool, const uint8_t *c, size_t N, size_t K, const float *bias, const float *X, size_t ldx,
                   size_t T, float *Y, size_t ldy) {
    s24_job j = {xf_s24_gemm_range, xf_s24_decompress_rows, c, N, K, ldx, T, ldy, bias, X, Y, pool};
    xf_pool_run(pool, s24_task, &j);
}

/* ================================================================ s24q8: int8 kept values */

size_t xf_s24q8_bytes(size_t N, size_t K) {
    const size_t V = K / 2, IB = xf_s24_idx_row_bytes(K), row = V + IB;
    if (N && row > ((size_t)-1 - 64) / N - sizeof(float)) return 0;
    return N * sizeof(float) + N * row;
}

static const float *q8_scales(const uint8_t *c) { return (const float *)(const void *)c; }
static const int8_t *q8_vals(const uint8_t *c, size_t N, size_t K, size_t o) {
    return (const int8_t *)(c + N * sizeof(float)) + o * (K / 2);
}
static const uint8_t *q8_idx(const uint8_t *c, size_t N, size_t K, size_t o) {
    return c + N * sizeof(float) + N * (K / 2) + o * xf_s24_idx_row_bytes(K);
}

/* given: the row scales to use (codes round(v / scale)), NULL: max |v| / 127 of each row. */
static void q8_from_s24(const uint8_t *s24, size_t N, size_t K, const float *given, uint8_t *out) {
    const size_t V = K / 2, IB = xf_s24_idx_row_bytes(K);
    float *scale = (float *)(void *)out;
    int8_t *q = (int8_t *)(out + N * sizeof(float));
    for (size_t o = 0; o < N; o++) {
        const float *v = vals_of(s24, K, o);
        float amax = 0;
        for (size_t j = 0; j < V; j++) amax = fabsf(v[j]) > amax ? fabsf(v[j]) : amax;
        const float d = given ? given[o] : amax / 127.0f, inv = given ? (d != 0.0f ? 1.0f / d : 0.0f) : amax > 0 ? 127.0f / amax : 0.0f;
        scale[o] = d;
        for (size_t j = 0; j < V; j++) {
            const long r = given ? lrintf(d != 0.0f ? v[j] / d : 0.0f) : lrintf(v[j] * inv);
            q[o * V + j] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
        }
        memcpy(out + N * sizeof(float) + N * V + o * IB, idx_of(s24, N, K, o), IB);
    }
}

void xf_s24q8_from_s24(const uint8_t *s24, size_t N, size_t K, uint8_t *out) { q8_from_s24(s24, N, K, NULL, out); }
void xf_s24q8_from_s24_scaled(const uint8_t *s24, size_t N, size_t K, const float *scale, uint8_t *out) {
    q8_from_s24(s24, N, K, scale, out);
}

void xf_s24q8_decompress_rows(const uint8_t *c, size_t N, size_t K, size_t r0, size_t r1, float *out) {
    const size_t V = K / 2;
    for (size_t o = r0; o < r1; o++) {
        const int8_t *q = q8_vals(c, N, K, o);
        const uint8_t *ix = q8_idx(c, N, K, o);
        const float d = q8_scales(c)[o];
        float *r = out + (o - r0) * K;
        memset(r, 0, K * sizeof *r);
        for (size_t j = 0; j < V; j++) r[4 * (j / 2) + ((ix[j / 4] >> (2 * (j % 4))) & 3)] = (float)q[j] * d;
    }
}

static void rowq8_scalar(const int8_t *q, float scale, const uint8_t *ix, size_t V, const float *X, size_t ldx,
                         size_t nt, float *y, size_t ldy, const float *bias) {
    for (size_t t = 0; t < nt; t++) {
        const float *x = X + t * ldx;
        float acc[16] = {0};
        for (size_t c = 0; c < V; c += 16)
            for (size_t j = 0; j < 16; j++) {
                const size_t jj = c + j;
                if (jj < V)
                    acc[j] = fmaf((float)q[jj], x[4 * (jj / 2) + ((ix[jj / 4] >> (2 * (jj % 4))) & 3)], acc[j]);
                else
                    acc[j] = acc[j] + 0.0f;
            }
        const float s = xf_s24_reduce16(acc);
        y[t * ldy] = bias ? fmaf(s, scale, *bias) : s * scale;
    }
}

#define S24Q8_ROWS(NAME, ROW, TARGET)                                                                              \
    TARGET static void NAME(const uint8_t *c, size_t N, size_t K, size_t o0, size_t o1, const float *X, size_t ldx,  \
                            size_t nt, float *Y, size_t ldy, const float *bias) {                                   \
        for (size_t o = o0; o < o1; o++)                                                                            \
            ROW(q8_vals(c, N, K, o), q8_scales(c)[o], q8_idx(c, N, K, o), K / 2, X, ldx, nt, Y + o, ldy,            \
                bias ? bias + o : NULL);                                                                            \
    }
S24Q8_ROWS(rowsq8_scalar, rowq8_scalar, XF_T_NONE)
#ifdef XF_X86
S24Q8_ROWS(rowsq8_avx2, rowq8_avx2, XF_T256)
S24Q8_ROWS(rowsq8_avx512vl, rowq8_avx512vl, XF_T512)
#endif

void xf_s24q8_gemm_range(const uint8_t *c, size_t N, size_t K, const float *bias, const float *X, size_t ldx,
                         size_t T, float *Y, size_t ldy, size_t n0, size_t n1) {
    gemm_range(PICK_ROWS(rowsq8), c, N, K, bias, X, ldx, T, Y, ldy, n0, n1);
}

void xf_s24q8_ref(const uint8_t *c, size_t N, size_t K, const float *bias, const float *X, size_t ldx, size_t T,
                  float *Y, size_t ldy) {
    rowsq8_scalar(c, N, K, 0, N, X, ldx, T, Y, ldy, bias);
}

void xf_s24q8_matmul(xf_pool *pool, const uint8_t *c, size_t N, size_t K, const float *bias, const float *X,
                     size_t ldx, size_t T, float *Y, size_t ldy) {
    if (xf_s24i_matmul(pool, 8, c, N, K, bias, X, ldx, T, Y, ldy)) return; /* int8 activations, integer dots */
    s24_job j = {xf_s24q8_gemm_range, xf_s24q8_decompress_rows, c, N, K, ldx, T, ldy, bias, X, Y, pool};
    xf_pool_run(pool, s24_task, &j);
}
