/* gemm_panel.c — the driver of the panel-packed GEMMs (see gemm_panel.h): activation rows prepared a
 * block at a time, micro-kernel calls over panels and row groups, and the split between threads. */
#include "kernels/gemm_panel.h"

#include <string.h>

#define NR XF_PANEL_NR
#define XF_PANEL_STACK 65536 /* bytes of scratch when the caller has none */
#define XF_PANEL_ROWS 240    /* rows prepared per block at most (a block's rows stay in L2) */

void xf_panel_gemm(const xf_panel_kernel *pk, const float *X, size_t ldx, size_t T, const uint8_t *packed,
                   const float *scale, const float *bias, float *Y, size_t ldy, size_t n0, size_t n1, size_t K,
                   void *scratch, size_t scratch_bytes) {
    if (T == 0 || n0 >= n1) return;
    const size_t RBY = pk->row_bytes(K), G = pk->groups ? pk->groups(K) : 0, MR = pk->mr, PB = pk->panel_bytes(K);
    unsigned char stack[XF_PANEL_STACK] __attribute__((aligned(64)));
    if (!scratch) {
        scratch = stack;
        scratch_bytes = sizeof stack;
    }
    /* the block: RB x G scales, RB x G sums, then RB prepared rows */
    size_t RB = scratch_bytes / (RBY + 8 * G);
    if (RB > XF_PANEL_ROWS) RB = XF_PANEL_ROWS;
    if (RB > MR) RB -= RB % MR;
    if (RB == 0) RB = 1;
    float *sx = scratch;
    int32_t *xs = (int32_t *)(sx + RB * G);
    unsigned char *rows = (unsigned char *)(xs + RB * G);
    float tile[XF_PANEL_MR * NR];
    for (size_t t0 = 0; t0 < T; t0 += RB) {
        const size_t rb = T - t0 < RB ? T - t0 : RB;
        for (size_t i = 0; i < rb; i++) pk->prepare(X + (t0 + i) * ldx, K, rows + i * RBY, sx + i * G, xs + i * G);
        for (size_t o = n0 - n0 % NR; o < n1; o += NR) {
            /* channels [c0, c1) of panel o that fall in [n0, n1) */
            const size_t c0 = o < n0 ? n0 : o, c1 = o + NR < n1 ? o + NR : n1;
            const uint8_t *B = packed + (o / NR) * PB;
            const float *so = scale ? scale + o : NULL, *bo = bias ? bias + o : NULL;
            for (size_t i = 0; i < rb; i += MR) {
                const size_t mr = rb - i < MR ? rb - i : MR;
                float *Yt = Y + (t0 + i) * ldy;
                if (c0 == o) {
                    pk->micro(mr, rows + i * RBY, RBY, sx + i * G, xs + i * G, G, B, K, so, bo, Yt + o, ldy, c1 - o);
                } else { /* a panel cut by n0: compute the channels up to c1, keep [c0, c1) */
                    pk->micro(mr, rows + i * RBY, RBY, sx + i * G, xs + i * G, G, B, K, so, bo, tile, NR, c1 - o);
                    for (size_t r = 0; r < mr; r++)
                        memcpy(Yt + r * ldy + c0, tile + r * NR + (c0 - o), (c1 - c0) * sizeof *Y);
                }
            }
        }
    }
}

typedef struct {
    const xf_panel_kernel *pk;
    const float *X, *scale, *bias;
    const uint8_t *packed;
    float *Y;
    size_t ldx, ldy, T, N, K;
    xf_pool *pool;
} panel_job;

static void panel_task(void *ctx, int ith, int nth) {
    const panel_job *j = ctx;
    size_t bytes;
    void *scratch = xf_pool_scratch(j->pool, ith, &bytes);
    if (j->T >= (size_t)nth * j->pk->mr * 2) { /* enough rows: each part prepares only its own */
        size_t t0, t1;
        xf_split_range(j->T, j->pk->mr, ith, nth, &t0, &t1);
        if (t0 < t1)
            xf_panel_gemm(j->pk, j->X + t0 * j->ldx, j->ldx, t1 - t0, j->packed, j->scale, j->bias, j->Y + t0 * j->ldy,
                          j->ldy, 0, j->N, j->K, scratch, bytes);
    } else {
        size_t n0, n1;
        xf_split_range(j->N, NR, ith, nth, &n0, &n1);
        if (n0 < n1)
            xf_panel_gemm(j->pk, j->X, j->ldx, j->T, j->packed, j->scale, j->bias, j->Y, j->ldy, n0, n1, j->K, scratch,
                          bytes);
    }
}

void xf_panel_matmul(xf_pool *pool, const xf_panel_kernel *pk, const float *X, size_t ldx, size_t T,
                     const uint8_t *packed, const float *scale, const float *bias, float *Y, size_t ldy, size_t N,
                     size_t K) {
    panel_job j = {pk, X, scale, bias, packed, Y, ldx, ldy, T, N, K, pool};
    xf_pool_run(pool, panel_task, &j);
}
