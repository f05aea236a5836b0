/* gemm_i8_amx.c — the AMX-INT8 micro-kernel of the int8 GEMM (kernels/gemm_i8.h; tiles as in
 * kernels/amx.h). Per group of 64 inputs (one 64-byte k-step, the group of the activation scales):
 * tdpbsud of the signed activations (A tiles, rows as prepared) and the stored unsigned weights
 * wq + 128 (B tiles, straight from the panel) for up to 32 rows x 32 channels, the int32 tiles
 * stored, and each row's group dot, less 128 x the group's activation sum, scaled into its float
 * sums as the VNNI kernel does: exact integer dots, the same float operations in the same order,
 * so the results are bitwise those of every other ISA. The group-wise scales are why the sums
 * leave the tiles every 64 inputs. */
#include "kernels/amx.h"

#ifdef XF_AMX
#include <immintrin.h>

#include "kernels/gemm_i8.h"
#include "kernels/gemm_panel.h"

#define XF_TAMX __attribute__((target("avx512f,avx512bw,avx512vl,amx-tile,amx-int8")))

/* y = f * sw + bias for the n (<= 16) channels of one half of a panel. */
XF_TAMX static inline __attribute__((always_inline)) void store16(__m512 f, const float *sw, const float *bias, float *y,
                                                                  size_t n) {
    const __mmask16 m = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(m, bias) : _mm512_setzero_ps();
    _mm512_mask_storeu_ps(y, m, _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, sw), b));
}

XF_TAMX void xf_i8_micro_amx(size_t mr, const void *Xq, size_t ldq, const float *sx, const int32_t *xs, size_t G,
                             const uint8_t *B, size_t K, const float *sw, const float *bias, float *Y, size_t ldy,
                             size_t nr) {
    const size_t Kq = (K + 3) / 4;
    const int m0 = mr < 16 ? (int)mr : 16, m1 = mr > 16 ? (int)mr - 16 : 0;
    int32_t c[32][32] __attribute__((aligned(64)));
    __m512 f[32][2];
    for (size_t i = 0; i < mr; i++) f[i][0] = f[i][1] = _mm512_setzero_ps();
    xf_amx_cfg cfg;
    int steps = 0; /* k-steps of the loaded configuration */
    for (size_t g = 0, k4 = 0; k4 < Kq; g++, k4 += XF_I8_GROUP / 4) {
        const int r = Kq - k4 < XF_I8_GROUP / 4 ? (int)(Kq - k4) : XF_I8_GROUP / 4;
        if (r != steps) { /* the first group, and a short last one */
            xf_amx_cfg_set(&cfg, m0, m1, r);
            xf_amx_load_cfg(&cfg);
            steps = r;
        }
        const int8_t *a = (const int8_t *)Xq + 4 * k4;
        const uint8_t *b = B + k4 * 4 * XF_PANEL_NR;
        _tile_loadd(6, b, 4 * XF_PANEL_NR);
        _tile_loadd(7, b + 64, 4 * XF_PANEL_NR);
        _tile_loadd(4, a, ldq);
        _tile_zero(0);
        _tile_zero(1);
        _tile_dpbsud(0, 4, 6);
        _tile_dpbsud(1, 4, 7);
        _tile_stored(0, &c[0][0], sizeof c[0]);
        _tile_stored(1, &c[0][16], sizeof c[0]);
        if (m1) {
            _tile_loadd(5, a + 16 * ldq, ldq);
            _tile_zero(2);
            _tile_zero(3);
            _tile_dpbsud(2, 5, 6);
            _tile_dpbsud(3, 5, 7);
            _tile_stored(2, &c[16][0], sizeof c[0]);
            _tile_stored(3, &c[16][16], sizeof c[0]);
        }
        for (size_t i = 0; i < mr; i++) {
            const __m512i corr = _mm512_set1_epi32(xs[i * G + g] * 128); /* weights carry +128 */
            const __m512 s = _mm512_set1_ps(sx[i * G + g]);
            f[i][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_load_si512(&c[i][0]), corr)), s, f[i][0]);
            f[i][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_load_si512(&c[i][16]), corr)), s, f[i][1]);
        }
    }
    _tile_release();
    for (size_t i = 0; i < mr; i++) {
        store16(f[i][0], sw, bias, Y + i * ldy, nr);
        if (nr > 16) store16(f[i][1], sw + 16, bias ? bias + 16 : NULL, Y + i * ldy + 16, nr - 16);
    }
}
#endif
