/* matmul.c — fp32 GEMM Y = X . W^T + b (nn.Linear layout).
 *
 * Blocked the BLIS way: a panel of NR output columns of W is packed k-major into a per-thread
 * buffer, then a register-tiled micro-kernel broadcasts one X element per row and FMAs it into
 * MR x NR accumulators (AVX-512: 8 x 32, AVX2+FMA: 6 x 16, portable: 4 x 8 with fmaf). Every
 * output element is computed the same way whatever the ISA, tile, panel or thread: for each block
 * of XF_KC values of k in order, a chain p = fma(x[k], w[k], p) from p = 0, and y = y + p (blocked
 * summation keeps the error near that of pairwise sums); then + bias. Results are therefore bitwise
 * identical across ISAs, thread counts and batch splits (a single row included). Weights may be
 * packed once at load (xf_gemm_pack: the micro-kernels then read the panels straight away, which
 * is what decoding needs); row-major weights are packed per call into the thread's scratch. */
#include "kernels/matmul.h"

#include <math.h>
#include <string.h>

#include "kernels/cpu.h"
#include "kernels/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define XF_X86 1
#endif

/* Packing scratch the pool gives each of its threads (set by xf_matmul_f32_nt); callers outside
 * a pool fall back to a small stack buffer and smaller K blocks (same results). */
static _Thread_local float *tls_pack;
static _Thread_local size_t tls_pack_floats;

#define XF_KC 256 /* summation block: partial sums over k in [j*256, (j+1)*256) are added in order */
#define XF_STACK_PACK (XF_KC * 32) /* floats: one full-width panel */
#define XF_GROUP_FLOATS 131072 /* packed panels reused across a row block: 512 KiB, half an L2 */

/* ---- micro-kernels: C[mr x nr] (+)= X[mr x kc] . B[kc x NR], B packed k-major ---- */

typedef void (*micro_fn)(size_t mr, const float *X, size_t ldx, const float *B, size_t kc, float *C,
                         size_t ldc, int accumulate, const float *bias);

XF_INLINE void micro_generic_body(size_t mr, const float *X, size_t ldx, const float *B, size_t kc,
                                  float *C, size_t ldc, int accumulate, const float *bias) {
    enum { MR = 4, NR = 8 };
    float c[MR][NR];
    for (size_t i = 0; i < MR; i++)
        for (size_t j = 0; j < NR; j++) c[i][j] = 0.0f;
    for (size_t k = 0; k < kc; k++)
        for (size_t i = 0; i < mr; i++) {
            float x = X[i * ldx + k];
            for (size_t j = 0; j < NR; j++) c[i][j] = fmaf(x, B[k * NR + j], c[i][j]);
        }
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < NR; j++) {
            float v = accumulate ? C[i * ldc + j] + c[i][j] : c[i][j];
            C[i * ldc + j] = bias ? v + bias[j] : v;
        }
}

static void micro_generic(size_t mr, const float *X, size_t ldx, const float *B, size_t kc, float *C,
                          size_t ldc, int accumulate, const float *bias) {
    micro_generic_body(mr, X, ldx, B, kc, C, ldc, accumulate, bias);
}

#ifdef XF_X86
#define XF_T512 __attribute__((target("avx512f")))
#define XF_T256 __attribute__((target("avx2,fma")))

/* MR rows fixed at compile time (the switch below instantiates 1..8) so the accumulators stay in
 * registers. */
#define MICRO512(MRC)                                                                              \
    XF_T512 static void micro512_##MRC(const float *X, size_t ldx, const float *B, size_t kc, float *C, \
                                       size_t ldc, int accumulate, const float *bias) {             \
        __m512 c0[MRC], c1[MRC];                                                                   \
        _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) {                                    \
            c0[i] = _mm512_setzero_ps();                                                           \
            c1[i] = _mm512_setzero_ps();                                                           \
        }                                                                                          \
        for (size_t k = 0; k < kc; k++) {                                                          \
            __m512 b0 = _mm512_loadu_ps(B + k * 32), b1 = _mm512_loadu_ps(B + k * 32 + 16);         \
            _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) {                                \
                __m512 a = _mm512_set1_ps(X[i * ldx + k]);                                         \
                c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);                                             \
                c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);                                             \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 8") for (int i = 0; i < MRC; i++) {                                    \
            if (accumulate) {                                                                      \
                c0[i] = _mm512_add_ps(_mm512_loadu_ps(C + i * ldc), c0[i]);                        \
                c1[i] = _mm512_add_ps(_mm512_loadu_ps(C + i * ldc + 16), c1[i]);                   \
            }                                                                                      \
            if (bias) {                                                                            \
                c0[i] = _mm512_add_ps(c0[i], _mm512_loadu_ps(bias));                               \
                c1[i] = _mm512_add_ps(c1[i], _mm512_loadu_ps(bias + 16));                          \
            }                                                                                      \
            _mm512_storeu_ps(C + i * ldc, c0[i]);                                                  \
            _mm512_storeu_ps(C + i * ldc + 16, c1[i]);                                             \
        }                                                                                          \
    }
MICRO512(1) MICRO512(2) MICRO512(3) MICRO512(4) MICRO512(5) MICRO512(6) MICRO512(7) MICRO512(8)

/* One row count's micro-kernel; the ISA's micro_fn picks it by mr (larger or 0: the full tile). */
typedef void (*micro_rows_fn)(const float *X, size_t ldx, const float *B, size_t kc, float *C, size_t ldc,
                              int accumulate, const float *bias);
#define MICRO_N(table) (sizeof(table) / sizeof((table)[0]))
#define MICRO_PICK(table, mr) (table)[(mr) - 1 < MICRO_N(table) ? (mr) - 1 : MICRO_N(table) - 1]

static const micro_rows_fn k_micro512[] = {micro512_1, micro512_2, micro512_3, micro512_4,
                                           micro512_5, micro512_6, micro512_7, micro512_8};
static void micro_avx512(size_t mr, const float *X, size_t ldx, const float *B, size_t kc, float *C,
                         size_t ldc, int accumulate, const float *bias) {
    MICRO_PICK(k_micro512, mr)(X, ldx, B, kc, C, ldc, accumulate, bias);
}

#define MICRO256(MRC)                                                                              \
    XF_T256 static void micro256_##MRC(const float *X, size_t ldx, const float *B, size_t kc, float *C, \
                                       size_t ldc, int accumulate, const float *bias) {             \
        __m256 c0[MRC], c1[MRC];                                                                   \
        _Pragma("GCC unroll 6") for (int i = 0; i < MRC; i++) {                                    \
            c0[i] = _mm256_setzero_ps();                                                           \
            c1[i] = _mm256_setzero_ps();                                                           \
        }                                                                                          \
        for (size_t k = 0; k < kc; k++) {                                                          \
            __m256 b0 = _mm256_loadu_ps(B + k * 16), b1 = _mm256_loadu_ps(B + k * 16 + 8);           \
            _Pragma("GCC unroll 6") for (int i = 0; i < MRC; i++) {                                \
                __m256 a = _mm256_broadcast_ss(X + i * ldx + k);                                   \
                c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);                                             \
                c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);                                             \
            }                                                                                      \
        }                                                                                          \
        _Pragma("GCC unroll 6") for (int i = 0; i < MRC; i++) {                                    \
            if (accumulate) {                                                                      \
                c0[i] = _mm256_add_ps(_mm256_loadu_ps(C + i * ldc), c0[i]);                        \
                c1[i] = _mm256_add_ps(_mm256_loadu_ps(C + i * ldc + 8), c1[i]);                    \
            }                                                                                      \
            if (bias) {                                                                            \
                c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(bias));                               \
                c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(bias + 8));                           \
            }                                                                                      \
            _mm256_storeu_ps(C + i * ldc, c0[i]);                                                  \
            _mm256_storeu_ps(C + i * ldc + 8, c1[i]);                                              \
        }                                                                                          \
    }
MICRO256(1) MICRO256(2) MICRO256(3) MICRO256(4) MICRO256(5) MICRO256(6)

static const micro_rows_fn k_micro256[] = {micro256_1, micro256_2, micro256_3,
                                           micro256_4, micro256_5, micro256_6};
static void micro_avx2(size_t mr, const float *X, size_t ldx, const float *B, size_t kc, float *C,
                       size_t ldc, int accumulate, const float *bias) {
    MICRO_PICK(k_micro256, mr)(X, ldx, B, kc, C, ldc, accumulate, bias);
}
#endif

typedef struct {
    micro_fn micro;
    size_t mr, nr;
    const char *name;
} gemm_isa;

static const gemm_isa isa_table[XF_GEMM_ISA_COUNT] = {
    [XF_GEMM_GENERIC] = {micro_generic, 4, 8, "generic"},
#ifdef XF_X86
    [XF_GEMM_AVX2] = {micro_avx2, 6, 16, "avx2"},
    [XF_GEMM_AVX512] = {micro_avx512, 8, 32, "avx512"},
#endif
};

int xf_gemm_isa_supported(xf_gemm_isa isa) {
    if (isa < 0 || isa >= XF_GEMM_ISA_COUNT || !isa_table[isa].micro) return 0;
    if (isa == XF_GEMM_AVX512) return xf_isa_level() >= XF_ISA_AVX512;
    if (isa == XF_GEMM_AVX2) return xf_isa_level() >= XF_ISA_AVX2;
    return 1;
}

xf_gemm_isa xf_gemm_isa_best(void) {
    int b = XF_GEMM_GENERIC;
    for (int i = XF_GEMM_GENERIC; i < XF_GEMM_ISA_COUNT; i++)
        if (xf_gemm_isa_supported((xf_gemm_isa)i)) b = i;
    return (xf_gemm_isa)b;
}

const char *xf_gemm_isa_name(xf_gemm_isa isa) {
    return isa >= 0 && isa < XF_GEMM_ISA_COUNT && isa_table[isa].name ? isa_table[isa].name : "?";
}

/* Pack W rows [o, o+nr) x columns [k0, k0+kc) into B[kc][NR] (k-major), zero-filling
 * columns nr..NR-1 so the micro-kernel may always compute full panels. */
static void pack_panel(const float *W, size_t ldw, size_t o, size_t nr, size_t NR, size_t k0, size_t kc,
                       float *B) {
    if (nr < NR) memset(B, 0, kc * NR * sizeof *B);
    for (size_t j = 0; j < nr; j++) {
        const float *w = W + (o + j) * ldw + k0;
        for (size_t k = 0; k < kc; k++) B[k * NR + j] = w[k];
    }
}

/* The blocked product over output columns [n0, n1). W is either row-major (W, ldw: panels are
 * packed into the scratch per K block) or already packed (Wp: panel p of NR columns holds
 * Wp[p * K * NR + k * NR + j] = W[p * NR + j][k], so K block k0 starts at offset k0 * NR; n0 is
 * then a multiple of NR). */
static void gemm_blocked(const gemm_isa *g, const float *X, size_t ldx, const float *W, size_t ldw,
                         const float *Wp, const float *bias, float *Y, size_t ldy, size_t T, size_t n0,
                         size_t n1, size_t K) {
    if (T == 0 || n0 >= n1) return;
    const size_t MR = g->mr, NR = g->nr;
    float stack_pack[XF_STACK_PACK] __attribute__((aligned(64)));
    float *pack = tls_pack ? tls_pack : stack_pack;
    size_t pack_floats = tls_pack ? tls_pack_floats : XF_STACK_PACK;
    /* K blocks of kc (the summation blocks); a group of panels packed together is reused across
     * a block of rows */
    if (pack_floats > XF_GROUP_FLOATS) pack_floats = XF_GROUP_FLOATS;
    const size_t kc = K < XF_KC ? K : XF_KC;
    size_t panels = pack_floats / (kc * NR);
    if (panels == 0) panels = 1;
    const size_t TB = 96 - 96 % MR; /* rows per block: X block stays in L2 while panels cycle */
    float tile[8 * 32] __attribute__((aligned(64)));
    for (size_t k0 = 0; k0 < K; k0 += kc) {
        size_t kb = K - k0 < kc ? K - k0 : kc;
        int acc = k0 > 0, last = k0 + kb == K;
        for (size_t g0 = n0; g0 < n1; g0 += panels * NR) {
            size_t g1 = g0 + panels * NR < n1 ? g0 + panels * NR : n1;
            if (!Wp)
                for (size_t o = g0, p = 0; o < g1; o += NR, p++)
                    pack_panel(W, ldw, o, g1 - o < NR ? g1 - o : NR, NR, k0, kb, pack + p * kb * NR);
            for (size_t t0 = 0; t0 < T; t0 += TB) {
                size_t t1 = t0 + TB < T ? t0 + TB : T;
                for (size_t o = g0, p = 0; o < g1; o += NR, p++) {
                    size_t nr = g1 - o < NR ? g1 - o : NR;
                    const float *B = Wp ? Wp + (o / NR) * K * NR + k0 * NR : pack + p * kb * NR;
                    for (size_t t = t0; t < t1; t += MR) {
                        size_t mr = t1 - t < MR ? t1 - t : MR;
                        const float *Xb = X + t * ldx + k0;
                        float *Yb = Y + t * ldy + o;
                        if (nr == NR) {
                            g->micro(mr, Xb, ldx, B, kb, Yb, ldy, acc, last && bias ? bias + o : NULL);
                        } else { /* partial panel: through a full-width tile (and a padded bias) */
                            float bpad[32] = {0};
                            if (last && bias) memcpy(bpad, bias + o, nr * sizeof *bias);
                            if (acc)
                                for (size_t i = 0; i < mr; i++) memcpy(tile + i * NR, Yb + i * ldy, nr * sizeof *Yb);
                            g->micro(mr, Xb, ldx, B, kb, tile, NR, acc, last && bias ? bpad : NULL);
                            for (size_t i = 0; i < mr; i++) memcpy(Yb + i * ldy, tile + i * NR, nr * sizeof *Yb);
                        }
                    }
                }
            }
        }
    }
}

void xf_gemm_f32_nt_isa(xf_gemm_isa isa, const float *X, size_t ldx, const float *W, size_t ldw,
                        const float *bias, float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K) {
    gemm_blocked(&isa_table[isa], X, ldx, W, ldw, NULL, bias, Y, ldy, T, n0, n1, K);
}

size_t xf_gemm_panel(xf_gemm_isa isa) { return isa_table[isa].nr; }

size_t xf_gemm_packed_floats(xf_gemm_isa isa, size_t N, size_t K) {
    size_t NR = isa_table[isa].nr;
    return (N + NR - 1) / NR * NR * K;
}

void xf_gemm_pack(xf_gemm_isa isa, const float *W, size_t ldw, size_t N, size_t K, float *Wp) {
    size_t NR = isa_table[isa].nr;
    for (size_t o = 0; o < N; o += NR) pack_panel(W, ldw, o, N - o < NR ? N - o : NR, NR, 0, K, Wp + (o / NR) * K * NR);
}

void xf_gemm_unpack_rows(xf_gemm_isa isa, const float *Wp, size_t K, size_t r0, size_t r1, float *out) {
    const size_t NR = isa_table[isa].nr;
    for (size_t r = r0; r < r1; r++) {
        const float *panel = Wp + (r / NR) * K * NR + r % NR;
        for (size_t k = 0; k < K; k++) out[(r - r0) * K + k] = panel[k * NR];
    }
}

void xf_gemm_f32_packed(xf_gemm_isa isa, const float *X, size_t ldx, const float *Wp, const float *bias, float *Y,
                        size_t ldy, size_t T, size_t n0, size_t n1, size_t K) {
    gemm_blocked(&isa_table[isa], X, ldx, NULL, 0, Wp, bias, Y, ldy, T, n0, n1, K);
}

void xf_gemm_f32_nt(const float *X, size_t ldx, const float *W, size_t ldw, const float *bias, float *Y,
                    size_t ldy, size_t T, size_t n0, size_t n1, size_t K) {
    xf_gemm_f32_nt_isa(xf_gemm_isa_best(), X, ldx, W, ldw, bias, Y, ldy, T, n0, n1, K);
}

void xf_gemm_f32_nt_ref(const float *X, size_t ldx, const float *W, size_t ldw, const float *bias,
                        float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K) {
    for (size_t t = 0; t < T; t++) {
        for (size_t o = n0; o < n1; o++) {
            double s = 0.0;
            for (size_t k = 0; k < K; k++) s += (double)X[t * ldx + k] * (double)W[o * ldw + k];
            Y[t * ldy + o] = (float)s + (bias ? bias[o] : 0.0f);
        }
    }
}

typedef struct {
    const float *X, *W, *bias;
    float *Y;
    size_t ldx, ldw, ldy, T, N, K;
    xf_pool *pool;
    int packed; /* W is packed for `isa` */
    xf_gemm_isa isa;
} matmul_job;

static void matmul_part(const matmul_job *j, size_t t0, size_t t1, size_t n0, size_t n1) {
    const float *X = j->X + t0 * j->ldx;
    float *Y = j->Y + t0 * j->ldy;
    if (j->packed)
        xf_gemm_f32_packed(j->isa, X, j->ldx, j->W, j->bias, Y, j->ldy, t1 - t0, n0, n1, j->K);
    else
        xf_gemm_f32_nt(X, j->ldx, j->W, j->ldw, j->bias, Y, j->ldy, t1 - t0, n0, n1, j->K);
}

static void matmul_task(void *ctx, int ith, int nth) {
    const matmul_job *j = ctx;
    const gemm_isa *g = &isa_table[j->packed ? j->isa : xf_gemm_isa_best()];
    size_t have;
    tls_pack = xf_pool_scratch(j->pool, ith, &have);
    tls_pack_floats = have / sizeof(float);
    /* Split the columns (whole panels) unless there are too few of them to keep every thread busy
     * and enough rows to split instead; either way each element is computed the same way. */
    if (j->T > 1 && j->N < (size_t)nth * g->nr * 2 && j->T >= (size_t)nth * g->mr * 2) {
        size_t t0, t1;
        xf_split_range(j->T, g->mr, ith, nth, &t0, &t1);
        if (t0 < t1) matmul_part(j, t0, t1, 0, j->N);
    } else {
        size_t n0, n1;
        xf_split_range(j->N, g->nr, ith, nth, &n0, &n1);
        if (n0 < n1) matmul_part(j, 0, j->T, n0, n1);
    }
    tls_pack = NULL;
    tls_pack_floats = 0;
}

void xf_matmul_f32_nt(xf_pool *pool, const float *X, size_t ldx, const float *W, size_t ldw,
                      const float *bias, float *Y, size_t ldy, size_t T, size_t N, size_t K) {
    matmul_job j = {X, W, bias, Y, ldx, ldw, ldy, T, N, K, pool, 0, XF_GEMM_GENERIC};
    xf_pool_run(pool, matmul_task, &j);
}

void xf_matmul_f32_packed(xf_pool *pool, xf_gemm_isa isa, const float *X, size_t ldx, const float *Wp,
                          const float *bias, float *Y, size_t ldy, size_t T, size_t N, size_t K) {
    matmul_job j = {X, Wp, bias, Y, ldx, 0, ldy, T, N, K, pool, 1, isa};
    xf_pool_run(pool, matmul_task, &j);
}
