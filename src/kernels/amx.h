/* amx.h — the AMX micro-kernels of the panel-packed GEMMs (kernels/gemm_panel.h) and the tile
 * configuration they share. Both read the weights straight from the existing panel layouts (a
 * panel's 32 channels x 4 bytes of one k-step are 128 contiguous bytes: two 64-byte tile rows, one
 * per half panel) and the prepared activation rows as they are, so AMX needs no other packing.
 *
 * Tiles (palette 1): C00..C11 (tmm0-3) the 2 x 2 blocks of 16 rows x 16 channels of fp32 / int32
 * results, A0, A1 (tmm4-5) rows 0-15 and 16-31 of the activations, B0, B1 (tmm6-7) channels 0-15
 * and 16-31 of the weights, over one k-step of 64 bytes per row.
 *
 * Compiled only on x86-64 with GCC or Clang; the table entries exist where XF_AMX is defined and
 * run only where kernels/cpu.h reports the AMX feature (which includes Linux's permission). */
#ifndef XF_KERNELS_AMX_H
#define XF_KERNELS_AMX_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define XF_AMX 1

/* LDTILECFG's 64-byte operand. */
typedef struct xf_amx_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((aligned(64))) xf_amx_cfg;

/* The configuration for m0 (1..16) rows in C00, C01, A0, m1 (0..16) in C10, C11, A1 (0: those
 * tiles unused), and r (1..16) k-steps of 4 bytes: A tiles r * 4 bytes wide, B tiles r rows. */
static inline void xf_amx_cfg_set(xf_amx_cfg *c, int m0, int m1, int r) {
    *c = (xf_amx_cfg){.palette = 1};
    const int rows[8] = {m0, m0, m1, m1, m0, m1, r, r}, colsb[8] = {64, 64, 64, 64, 4 * r, 4 * r, 64, 64};
    for (int t = 0; t < 8; t++) {
        c->rows[t] = (uint8_t)rows[t];
        c->colsb[t] = (uint16_t)(rows[t] ? colsb[t] : 0);
    }
}

/* LDTILECFG, with the whole 64 bytes as the operand (the compilers' _tile_loadconfig names only 8
 * of them as read, so stores to the rest could be moved past it). */
static inline void xf_amx_load_cfg(const xf_amx_cfg *c) { __asm__ volatile("ldtilecfg %0" ::"m"(*c)); }

/* rows [0, mr <= 32) of prepared int8 activations x one int8 panel: see kernels/gemm_i8.h (bitwise
 * the same as the other ISAs: integer group dots, then the float sums in group order). */
void xf_i8_micro_amx(size_t mr, const void *Xq, size_t ldq, const float *sx, const int32_t *xs, size_t G,
                     const uint8_t *B, size_t K, const float *sw, const float *bias, float *Y, size_t ldy, size_t nr);
/* rows [0, mr <= 32) of activation rows rounded to bf16 pairs x one bf16 panel: see
 * kernels/gemm_bf16.h (the tile unit's order of summation: kernels/gemm_bf16_amx.c). */
void xf_bf16_micro_amx(size_t mr, const void *Xq, size_t ldq, const uint8_t *B, size_t K, const float *bias,
                       float *Y, size_t ldy, size_t nr);
#endif

#endif
