/* qgemv_avx2.c — the decode GEMV (one activation row) of every GGUF type xfmr multiplies (Q8_0,
 * Q4_0, Q4_1, Q5_0, Q5_1, the K-quants Q2_K..Q6_K, MXFP4 and xfmr's FP4S — their codes through a vpshufb
 * table of the block's integers — and FP8S) against float activations, hand-written with
 * AVX2 + FMA + F16C intrinsics (qgemv_avx2_isa.inc for the 32-weight blocks, qgemv_k_isa.inc for
 * the 256-weight superblocks), compiled for AVX2 and again with AVX-512VL. It is qmatmul.c's
 * generic GEMV made fast for the case that dominates token generation:
 *   - weights come in with one zero/sign-extending load per 8 (vpmovsxbd / vpmovzxbd) instead of
 *     the generic decoder's permute-and-shift of a 16-byte load; with AVX-512VL the 4-bit weights
 *     (Q4_0, Q4_1, Q4_K) are looked up in a 16-entry table of the (sub-)block's values (vpermt2ps);
 *   - a K-quant superblock's 6-bit scales and mins are unpacked once per row with vector code;
 *   - 8 weight rows per pass: each output is one FMA chain (its order is fixed, see below), and
 *     eight independent chains are what it takes to keep both FMA pipes busy through the FMA
 *     latency (the generic tile has 4);
 *   - the 8 accumulators, the block's 4 activation vectors and the temporaries stay in registers
 *     (AVX2's 16 hold them for Q8_0; the other types spill a few there, none with AVX-512VL's 32).
 * And the same for several activation rows (xf_qgemv_avx2_rows: the decode steps of several
 * sessions in one batched step; Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q6_K): each sub-block of 32 weights decoded once and applied to up to 8
 * activation rows (8 accumulators per weight row; 2 weight rows per pass with AVX-512VL's
 * registers, 1 with AVX2's), each output's FMA chain the one-row kernel's, so a batched row is
 * bitwise the lone row. Before, several rows went through the generic GEMV, which decodes every
 * block once per 4 activation rows (8 rows: twice) with its slower decoders. With AVX-512 and
 * scratch (ws), Q4_0 and Q4_1 go through QAN(xspan): the activation rows packed two by two into
 * 512-bit vectors, each weight chunk table-decoded into both halves (one vpermps), so one 512-bit
 * FMA does two rows' 256-bit FMAs in the same order (8 rows: 4 weight rows x 4 row pairs per pass),
 * half the FMA and activation-load instructions: Q4_1 8 rows x1.2-1.3 faster per call than the
 * 256-bit pass (1 thread, CPU time; the FMA work is the same, the decode and loads around it less).
 *
 * Same floats, same order: every weight is decoded to the float the generic decoder gives (scale
 * products are exact in fp32), lane l of chunk c holds element 8c + l of its block, acc = fma(x,
 * w, acc) over the blocks in k order, then xf_v8_hsum's order and + bias. So the results are
 * bitwise those of xf_qgemv_decode on every ISA — test_qmatmul compares them for every shape it
 * tries; the scalar reference stays xf_qgemv_ref. */
#include "kernels/qmatmul.h"

#include <stdint.h>
#include <string.h>

#include "io/gguf.h"
#include "kernels/cpu.h"
#include "kernels/quants.h"
#include "kernels/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Weight bytes are prefetched (into L2) this far ahead of the pass that reads them (qscale_isa.inc's
 * pf_l2; measured with bench_qgemv's streamed case). */
#ifndef XF_QAVX_PREFETCH
#define XF_QAVX_PREFETCH 12288
#endif

/* Bytes per block (32 weights, or 256 for the K types) and whether qt is a K type. */
XF_INLINE size_t blk_bytes(const int qt) { return xf_qblock_bytes(qt); }
XF_INLINE int is_k(const int qt) { return qt >= XF_GGML_Q2_K && qt <= XF_GGML_Q6_K; }

#define XF_QAVX_GEMV(name, qt)                                                                            \
    QAT static void name(const uint8_t *W, size_t rb, const float *bias, const float *X, float *Y, size_t n0, \
                         size_t n1, size_t K) {                                                               \
        QAN(gemv1)(qt, W, rb, bias, X, Y, n0, n1, K);                                                         \
    }
#define XF_QAVX_GEMVM(name, qt)                                                                             \
    QAT static void name(const uint8_t *W, size_t rb, const float *bias, const float *X, size_t ldx, float *Y, \
                         size_t ldy, size_t T, size_t n0, size_t n1, size_t K, float *ws) {                    \
        QAN(gemvm)(qt, W, rb, bias, X, ldx, Y, ldy, T, n0, n1, K, ws);                                         \
    }

/* For AVX2 machines: 16 vector registers (the 4-bit types spill a few accumulators); one weight
 * row per pass of the several-row kernel (8 accumulators). */
#define QAT __attribute__((target("avx2,fma,f16c")))
#define QAN(n) n##_avx2
#define QA_TABLE 0
#define QA_MNR 1
#include "kernels/qgemv_avx2_isa.inc"
#undef QAT
#undef QAN
#undef QA_TABLE
#undef QA_MNR

/* With AVX-512VL: 32 registers (nothing spilled) and the table decode of the 4-bit types; the
 * same 256-bit arithmetic, so the same results. */
#define QAT __attribute__((target("avx2,fma,f16c,avx512f,avx512vl")))
#define QAN(n) n##_avx512
#define QA_TABLE 1
#define QA_MNR 2 /* weight rows per pass of the several-row kernel: 2 x 8 accumulators */
#include "kernels/qgemv_avx2_isa.inc"
#undef QAT
#undef QAN
#undef QA_TABLE
#undef QA_MNR

typedef void (*gemv_fn)(const uint8_t *W, size_t rb, const float *bias, const float *X, float *Y, size_t n0,
                        size_t n1, size_t K);
typedef void (*gemvm_fn)(const uint8_t *W, size_t rb, const float *bias, const float *X, size_t ldx, float *Y,
                         size_t ldy, size_t T, size_t n0, size_t n1, size_t K, float *ws);
/* A type's kernels: one activation row, several; [0] AVX2, [1] AVX-512VL. */
typedef struct {
    gemv_fn one[2];
    gemvm_fn rows[2];
} qavx_kernels;
#define XF_QAVX_K(t) {{gemv1_##t##_avx2, gemv1_##t##_avx512}, {gemvm_##t##_avx2, gemvm_##t##_avx512}}
#define XF_QAVX_K1(t) {{gemv1_##t##_avx2, gemv1_##t##_avx512}, {NULL, NULL}} /* one row only */
static const qavx_kernels k_gemv[XF_GGML_Q6_K + 1] = {
    [XF_GGML_Q8_0] = XF_QAVX_K(q8_0), [XF_GGML_Q4_0] = XF_QAVX_K(q4_0), [XF_GGML_Q4_1] = XF_QAVX_K(q4_1),
    [XF_GGML_Q5_0] = XF_QAVX_K(q5_0), [XF_GGML_Q5_1] = XF_QAVX_K1(q5_1), [XF_GGML_Q2_K] = XF_QAVX_K1(q2_k),
    [XF_GGML_Q3_K] = XF_QAVX_K1(q3_k), [XF_GGML_Q4_K] = XF_QAVX_K(q4_k), [XF_GGML_Q5_K] = XF_QAVX_K1(q5_k),
    [XF_GGML_Q6_K] = XF_QAVX_K(q6_k)};
static const qavx_kernels k_fp4s = XF_QAVX_K1(fp4s), k_fp8s = XF_QAVX_K1(fp8s), k_mxfp4 = XF_QAVX_K1(mxfp4);

/* The kernels of qtype and in *v512 which copy serves isa; NULL where none does (a type without
 * kernels, no AVX2, K not whole blocks, AVX-512 asked for on a CPU without it). */
static const qavx_kernels *pick(int qtype, int isa, size_t K, int *v512) {
    const int have = xf_isa_level() >= XF_ISA_AVX2, have512 = xf_isa_level() >= XF_ISA_AVX512;
    const qavx_kernels *k = qtype == XF_GGML_FP4S ? &k_fp4s
                            : qtype == XF_GGML_FP8S ? &k_fp8s
                            : qtype == XF_GGML_MXFP4 ? &k_mxfp4
                            : qtype >= 0 && qtype <= XF_GGML_Q6_K && k_gemv[qtype].one[0] ? &k_gemv[qtype]
                                                                                            : NULL;
    if (!have || !k || K % (is_k(qtype) ? 256 : 32) || (isa == XF_QAVX_512 && !have512)) return NULL;
    *v512 = isa == XF_QAVX_512 || (isa == XF_QAVX_BEST && have512);
    return k;
}

int xf_qgemv_avx2(int qtype, int isa, const void *W, size_t row_bytes, const float *bias, const float *X, float *Y,
                  size_t n0, size_t n1, size_t K) {
    int v;
    const qavx_kernels *k = pick(qtype, isa, K, &v);
    if (!k) return 0;
    k->one[v](W, row_bytes, bias, X, Y, n0, n1, K);
    return 1;
}

int xf_qgemv_avx2_rows(int qtype, int isa, const void *W, size_t row_bytes, const float *bias, const float *X,
                       size_t ldx, float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K, float *ws) {
    int v;
    const qavx_kernels *k = pick(qtype, isa, K, &v);
    if (!k || !k->rows[0] || T < 2) return 0;
    k->rows[v](W, row_bytes, bias, X, ldx, Y, ldy, T, n0, n1, K, ws);
    return 1;
}

#else

int xf_qgemv_avx2(int qtype, int isa, const void *W, size_t row_bytes, const float *bias, const float *X, float *Y,
                  size_t n0, size_t n1, size_t K) {
    (void)qtype, (void)isa, (void)W, (void)row_bytes, (void)bias, (void)X, (void)Y, (void)n0, (void)n1, (void)K;
    return 0;
}

int xf_qgemv_avx2_rows(int qtype, int isa, const void *W, size_t row_bytes, const float *bias, const float *X,
                       size_t ldx, float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K, float *ws) {
    (void)qtype, (void)isa, (void)W, (void)row_bytes, (void)bias, (void)X, (void)ldx, (void)Y, (void)ldy, (void)T;
    (void)n0, (void)n1, (void)K, (void)ws;
    return 0;
}

#endif
