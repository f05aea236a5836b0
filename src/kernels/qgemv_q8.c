/* qgemv_q8.c — GEMV of GGUF quantized weights with 8-bit block-quantized activations (see
 * qgemv_q8.h): activation quantization, the scalar reference, AVX2 (vpmaddubsw) and AVX-512 VNNI
 * (vpdpbusd, 256-bit) kernels built from one source (qgemv_q8_isa.inc), and the threaded driver.
 * Unsigned operand of the byte products: the Q4_1 nibbles (0..15) as they are, |w| for Q8_0 and
 * Q4_0 (nibble - 8) with the activation given w's sign (|w| <= 128, so vpmaddubsw pairs stay below
 * 2^15: no saturation). */
#include "kernels/qgemv_q8.h"

#include <math.h>
#include <string.h>

#include "io/gguf.h"
#include "kernels/qmatmul.h"
#include "kernels/quants.h"
#include "kernels/cpu.h"
#include "kernels/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define XF_X86 1
#endif

/* Weight rows are prefetched this many tiles ahead (as qmatmul.c's GEMV). */
#ifndef XF_Q8_PREFETCH
#define XF_Q8_PREFETCH 2
#endif

int xf_qgemv_q8_has(int qtype) {
    return qtype == XF_GGML_Q8_0 || qtype == XF_GGML_Q4_0 || qtype == XF_GGML_Q4_1;
}

XF_INLINE size_t q8_type_size(int qt) { return qt == XF_GGML_Q8_0 ? 34 : qt == XF_GGML_Q4_1 ? 20 : 18; }

size_t xf_q8act_bytes(size_t T, size_t K) {
    const size_t nb = K / XF_Q8A_BLOCK;
    return T * K + T * nb * (sizeof(float) + sizeof(int32_t));
}

/* The parts of a quantized activation block: q [T][K], d [T][nb], s [T][nb]. */
typedef struct {
    const int8_t *q;
    const float *d;
    const int32_t *s;
} q8rows;

static q8rows q8rows_at(const void *act, size_t T, size_t K) {
    const size_t nb = K / XF_Q8A_BLOCK;
    q8rows a;
    a.q = act;
    a.d = (const float *)((const uint8_t *)act + T * K);
    a.s = (const int32_t *)(a.d + T * nb);
    return a;
}

void xf_q8act_quantize(const float *X, size_t ldx, size_t T, size_t K, void *act) {
    const size_t nb = K / XF_Q8A_BLOCK;
    int8_t *q = act;
    float *d = (float *)(q + T * K);
    int32_t *s = (int32_t *)(d + T * nb);
    for (size_t t = 0; t < T; t++) xf_i8_quantize_groups(X + t * ldx, K, XF_Q8A_BLOCK, q + t * K, d + t * nb, s + t * nb);
}

/* The end of the accumulation (qgemv_q8.h): the eight lanes in a fixed order, then the min term. */
XF_INLINE float q8_finish(const float l[8], float c) {
    return (((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))) + c;
}

void xf_qgemv_q8_ref(int qtype, const void *W, size_t row_bytes, const float *bias, const void *act, size_t T,
                     float *Y, size_t ldy, size_t n0, size_t n1, size_t K) {
    if (!xf_qgemv_q8_has(qtype)) return;
    const size_t nb = K / XF_Q8A_BLOCK, TS = q8_type_size(qtype);
    const q8rows a = q8rows_at(act, T, K);
    for (size_t t = 0; t < T; t++)
        for (size_t o = n0; o < n1; o++) {
            float l[8] = {0}, c = 0.0f;
            for (size_t bi = 0; bi < nb; bi++) {
                const uint8_t *b = (const uint8_t *)W + o * row_bytes + bi * TS;
                const int8_t *x = a.q + t * K + bi * XF_Q8A_BLOCK;
                const float dw = xf_half_at(b), dx = a.d[t * nb + bi];
                const uint8_t *qs = b + (qtype == XF_GGML_Q4_1 ? 4 : 2);
                for (int lane = 0; lane < 8; lane++) {
                    int32_t p = 0;
                    for (int j = 4 * lane; j < 4 * lane + 4; j++) {
                        int w = qtype == XF_GGML_Q8_0 ? (int8_t)qs[j] : j < 16 ? qs[j] & 15 : qs[j - 16] >> 4;
                        if (qtype == XF_GGML_Q4_0) w -= 8;
                        p += w * x[j];
                    }
                    l[lane] = fmaf((float)p, dw * dx, l[lane]);
                }
                if (qtype == XF_GGML_Q4_1) c = fmaf(xf_half_at(b + 2) * dx, (float)a.s[t * nb + bi], c);
            }
            Y[t * ldy + o] = q8_finish(l, c) + (bias ? bias[o] : 0.0f);
        }
}

#ifdef XF_X86
/* The half at p as a float with the F16C conversion (exact, as xf_half_at). */
#define Q8HALF(p) _cvtsh_ss((unsigned short)((p)[0] | (p)[1] << 8))
#define Q8T __attribute__((target("avx2,fma,f16c")))
#define Q8N(n) n##_avx2
#define Q8DOT(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1))
#include "kernels/qgemv_q8_isa.inc"
#undef Q8T
#undef Q8N
#undef Q8DOT

#define Q8T __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define Q8N(n) n##_vnni
#define Q8DOT(u, s) _mm256_dpbusd_epi32(_mm256_setzero_si256(), (u), (s))
#include "kernels/qgemv_q8_isa.inc"
#undef Q8T
#undef Q8N
#undef Q8DOT
#endif


void xf_qgemv_q8_isa(xf_i8_isa isa, int qtype, const void *W, size_t row_bytes, const float *bias, const void *act,
                     size_t T, float *Y, size_t ldy, size_t n0, size_t n1, size_t K) {
#ifdef XF_X86
    const q8rows a = q8rows_at(act, T, K);
    if (isa == XF_I8_VNNI) {
        gemv_vnni(qtype, W, row_bytes, bias, &a, T, Y, ldy, n0, n1, K / XF_Q8A_BLOCK);
        return;
    }
    if (isa == XF_I8_AVX2) {
        gemv_avx2(qtype, W, row_bytes, bias, &a, T, Y, ldy, n0, n1, K / XF_Q8A_BLOCK);
        return;
    }
#endif
    (void)isa;
    xf_qgemv_q8_ref(qtype, W, row_bytes, bias, act, T, Y, ldy, n0, n1, K);
}

typedef struct {
    int qtype;
    xf_i8_isa isa;
    const void *W, *act;
    const float *bias;
    float *Y;
    size_t row_bytes, ldy, T, N, K;
} q8_job;

static void q8_task(void *ctx, int ith, int nth) {
    const q8_job *j = ctx;
    size_t n0, n1;
    xf_split_range(j->N, XF_QMM_SPLIT, ith, nth, &n0, &n1);
    if (n0 < n1) xf_qgemv_q8_isa(j->isa, j->qtype, j->W, j->row_bytes, j->bias, j->act, j->T, j->Y, j->ldy, n0, n1, j->K);
}

void xf_qmatmul_q8(xf_pool *pool, int qtype, const void *W, size_t row_bytes, const float *bias, const float *X,
                   size_t ldx, float *Y, size_t ldy, size_t T, size_t N, size_t K) {
    size_t have = 0;
    void *act = xf_pool_scratch(pool, 0, &have);
    if (!xf_qgemv_q8_has(qtype) || K % XF_Q8A_BLOCK || !act || have < xf_q8act_bytes(T, K)) {
        xf_qmatmul(pool, qtype, W, row_bytes, bias, X, ldx, Y, ldy, T, N, K);
        return;
    }
    xf_q8act_quantize(X, ldx, T, K, act);
    q8_job j = {qtype, xf_i8_isa_best(), W, act, bias, Y, row_bytes, ldy, T, N, K};
    xf_pool_run(pool, q8_task, &j);
}
