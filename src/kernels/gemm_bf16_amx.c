/* gemm_bf16_amx.c — the AMX-BF16 micro-kernel of the bf16 GEMM (kernels/gemm_bf16.h; tiles as in
 * kernels/amx.h): tdpbf16ps of the rounded activation rows (A tiles, as prepared) and the packed
 * weights (B tiles, straight from the panel) for up to 32 rows x 32 channels, 16 pairs of inputs
 * per step, the fp32 sums kept in the C tiles over the whole of K, then stored with the bias.
 *
 * Its order and rounding of the sums are the tile unit's own, which Intel does not pin down to the
 * bit and which is not the sequential one: on this Xeon neither order within a pair, nor one
 * rounding per pair or per 16-pair step, reproduces every output. So its bits differ from the other
 * bf16 kernels' (about half the outputs, by an ulp or so); test_gemm_bf16 checks it within fp32
 * summation's bound, K 2^-24 sum |x w|, of the exact sum of the same bf16 products, and checks that
 * a row's result does not depend on the rows, panel cuts or threads it is computed with. */
#include "kernels/amx.h"

#ifdef XF_AMX
#include <immintrin.h>

#include "kernels/gemm_bf16.h"
#include "kernels/gemm_panel.h"

#define XF_TAMX __attribute__((target("avx512f,avx512bw,avx512vl,amx-tile,amx-bf16")))

/* y = acc + bias for the n (<= 16) channels of one half of a panel. */
XF_TAMX static inline __attribute__((always_inline)) void store16(const float *acc, const float *bias, float *y,
                                                                  size_t n) {
    const __mmask16 m = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias) : _mm512_setzero_ps();
    _mm512_mask_storeu_ps(y, m, _mm512_add_ps(_mm512_load_ps(acc), b));
}

/* The C tiles to / from c[32][32] (rows 16-31 when m1). */
#define XF_C_STORE(c, m1)                                                                          \
    do {                                                                                           \
        _tile_stored(0, &(c)[0][0], sizeof(c)[0]);                                                 \
        _tile_stored(1, &(c)[0][16], sizeof(c)[0]);                                                \
        if (m1) {                                                                                  \
            _tile_stored(2, &(c)[16][0], sizeof(c)[0]);                                            \
            _tile_stored(3, &(c)[16][16], sizeof(c)[0]);                                           \
        }                                                                                          \
    } while (0)

XF_TAMX void xf_bf16_micro_amx(size_t mr, const void *Xq, size_t ldq, const uint8_t *B, size_t K, const float *bias,
                               float *Y, size_t ldy, size_t nr) {
    const size_t K2 = (K + 1) / 2, full = K2 / 16 * 16;
    const int m0 = mr < 16 ? (int)mr : 16, m1 = mr > 16 ? (int)mr - 16 : 0;
    float c[32][32] __attribute__((aligned(64)));
    xf_amx_cfg cfg;
    xf_amx_cfg_set(&cfg, m0, m1, full ? 16 : (int)K2);
    xf_amx_load_cfg(&cfg);
    _tile_zero(0);
    _tile_zero(1);
    if (m1) {
        _tile_zero(2);
        _tile_zero(3);
    }
    for (size_t k2 = 0; k2 < K2; k2 += 16) {
        if (k2 == full && full) { /* a short last step: its own configuration, the sums carried over */
            XF_C_STORE(c, m1);
            xf_amx_cfg_set(&cfg, m0, m1, (int)(K2 - full));
            xf_amx_load_cfg(&cfg);
            _tile_loadd(0, &c[0][0], sizeof c[0]);
            _tile_loadd(1, &c[0][16], sizeof c[0]);
            if (m1) {
                _tile_loadd(2, &c[16][0], sizeof c[0]);
                _tile_loadd(3, &c[16][16], sizeof c[0]);
            }
        }
        const uint8_t *a = (const uint8_t *)Xq + 4 * k2;
        const uint8_t *b = B + k2 * 4 * XF_PANEL_NR;
        _tile_loadd(6, b, 4 * XF_PANEL_NR);
        _tile_loadd(7, b + 64, 4 * XF_PANEL_NR);
        _tile_loadd(4, a, ldq);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        if (m1) {
            _tile_loadd(5, a + 16 * ldq, ldq);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
    }
    XF_C_STORE(c, m1);
    _tile_release();
    for (size_t i = 0; i < mr; i++) {
        store16(c[i], bias, Y + i * ldy, nr);
        if (nr > 16) store16(c[i] + 16, bias ? bias + 16 : NULL, Y + i * ldy + 16, nr - 16);
    }
}
#endif
