/* qgemv_avx2.c — the decode GEMV (one activation row) of every GGUF type xfmr multiplies (Q8_0,
 * Q4_0, Q4_1, Q5_0, Q5_1, the K-quants Q2_K..Q6_K and xfmr's FP4S — its codes through a vpshufb
 * table of the block's format's integers — and FP8S) against float activations, hand-written with
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

/* For AVX2 machines: 16 vector registers (the 4-bit types spill a few accumulators). */
#define QAT __attribute__((target("avx2,fma,f16c")))
#define QAN(n) n##_avx2
#define QA_TABLE 0
#include "kernels/qgemv_avx2_isa.inc"
#undef QAT
#undef QAN
#undef QA_TABLE

/* With AVX-512VL: 32 registers (nothing spilled) and the table decode of the 4-bit types; the
 * same 256-bit arithmetic, so the same results. */
#define QAT __attribute__((target("avx2,fma,f16c,avx512f,avx512vl")))
#define QAN(n) n##_avx512
#define QA_TABLE 1
#include "kernels/qgemv_avx2_isa.inc"
#undef QAT
#undef QAN
#undef QA_TABLE

typedef void (*gemv_fn)(const uint8_t *W, size_t rb, const float *bias, const float *X, float *Y, size_t n0,
                        size_t n1, size_t K);
#define XF_QAVX_ROW(t, T) [XF_GGML_##T] = {gemv1_##t##_avx2, gemv1_##t##_avx512}
static const gemv_fn k_gemv[XF_GGML_Q6_K + 1][2] = {XF_QAVX_ROW(q8_0, Q8_0), XF_QAVX_ROW(q4_0, Q4_0),
                                                     XF_QAVX_ROW(q4_1, Q4_1), XF_QAVX_ROW(q5_0, Q5_0),
                                                     XF_QAVX_ROW(q5_1, Q5_1), XF_QAVX_ROW(q2_k, Q2_K),
                                                     XF_QAVX_ROW(q3_k, Q3_K), XF_QAVX_ROW(q4_k, Q4_K),
                                                     XF_QAVX_ROW(q5_k, Q5_K), XF_QAVX_ROW(q6_k, Q6_K)};

int xf_qgemv_avx2(int qtype, int isa, const void *W, size_t row_bytes, const float *bias, const float *X, float *Y,
                  size_t n0, size_t n1, size_t K) {
    const int have = xf_isa_level() >= XF_ISA_AVX2, have512 = xf_isa_level() >= XF_ISA_AVX512;
    static const gemv_fn k_fp4s[2] = {gemv1_fp4s_avx2, gemv1_fp4s_avx512}, k_fp8s[2] = {gemv1_fp8s_avx2, gemv1_fp8s_avx512};
    const gemv_fn *fn = qtype == XF_GGML_FP4S ? k_fp4s : qtype == XF_GGML_FP8S ? k_fp8s : qtype >= 0 && qtype <= XF_GGML_Q6_K ? k_gemv[qtype] : NULL;
    if (!have || !fn || !fn[0] || K % (is_k(qtype) ? 256 : 32) || (isa == XF_QAVX_512 && !have512)) return 0;
    const int v512 = isa == XF_QAVX_512 || (isa == XF_QAVX_BEST && have512);
    fn[v512](W, row_bytes, bias, X, Y, n0, n1, K);
    return 1;
}

#else

int xf_qgemv_avx2(int qtype, int isa, const void *W, size_t row_bytes, const float *bias, const float *X, float *Y,
                  size_t n0, size_t n1, size_t K) {
    (void)qtype, (void)isa, (void)W, (void)row_bytes, (void)bias, (void)X, (void)Y, (void)n0, (void)n1, (void)K;
    return 0;
}

#endif
