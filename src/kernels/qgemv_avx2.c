/* qgemv_avx2.c — the decode GEMV (one activation row) of Q8_0, Q4_0 and Q4_1 weight rows against
 * float activations, hand-written with AVX2 + FMA + F16C intrinsics (qgemv_avx2_isa.inc), compiled
 * for AVX2 and again with AVX-512VL. It is qmatmul.c's generic GEMV made fast for the case that
 * dominates token generation:
 *   - weights come in with one zero/sign-extending load per 8 (vpmovsxbd / vpmovzxbd) instead of
 *     the generic decoder's permute-and-shift of a 16-byte load; with AVX-512VL the 4-bit weights
 *     are looked up in a 16-entry table of the block's values (vpermt2ps);
 *   - 8 weight rows per pass: each output is one FMA chain (its order is fixed, see below), and
 *     eight independent chains are what it takes to keep both FMA pipes busy through the FMA
 *     latency (the generic tile has 4);
 *   - the 8 accumulators, the block's 4 activation vectors and the temporaries stay in registers
 *     (AVX2's 16 hold them for Q8_0; the 4-bit types spill a few there, none with AVX-512VL's 32).
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
#include "kernels/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Weight rows are prefetched this many 8-row passes ahead (as the generic GEMV does). */
#ifndef XF_QAVX_PREFETCH
#define XF_QAVX_PREFETCH 2
#endif

XF_INLINE size_t blk_bytes(const int qt) { return qt == XF_GGML_Q8_0 ? 34 : qt == XF_GGML_Q4_1 ? 20 : 18; }

#define XF_QAVX_GEMV(name, qt)                                                                            \
    QAT static void name(const uint8_t *W, size_t rb, const float *bias, const float *X, float *Y, size_t n0, \
                         size_t n1, size_t nb) {                                                              \
        QAN(gemv1)(qt, W, rb, bias, X, Y, n0, n1, nb);                                                        \
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

int xf_qgemv_avx2(int qtype, int isa, const void *W, size_t row_bytes, const float *bias, const float *X, float *Y,
                  size_t n0, size_t n1, size_t K) {
    const int have = xf_isa_level() >= XF_ISA_AVX2, have512 = xf_isa_level() >= XF_ISA_AVX512;
    if (!have || K % 32 || (isa == XF_QAVX_512 && !have512)) return 0;
    const int v512 = isa == XF_QAVX_512 || (isa == XF_QAVX_BEST && have512);
    const uint8_t *w = W;
    const size_t nb = K / 32;
    switch (qtype) {
    case XF_GGML_Q8_0: (v512 ? gemv1_q8_0_avx512 : gemv1_q8_0_avx2)(w, row_bytes, bias, X, Y, n0, n1, nb); return 1;
    case XF_GGML_Q4_0: (v512 ? gemv1_q4_0_avx512 : gemv1_q4_0_avx2)(w, row_bytes, bias, X, Y, n0, n1, nb); return 1;
    case XF_GGML_Q4_1: (v512 ? gemv1_q4_1_avx512 : gemv1_q4_1_avx2)(w, row_bytes, bias, X, Y, n0, n1, nb); return 1;
    default: return 0;
    }
}

#else

int xf_qgemv_avx2(int qtype, int isa, const void *W, size_t row_bytes, const float *bias, const float *X, float *Y,
                  size_t n0, size_t n1, size_t K) {
    (void)qtype, (void)isa, (void)W, (void)row_bytes, (void)bias, (void)X, (void)Y, (void)n0, (void)n1, (void)K;
    return 0;
}

#endif
