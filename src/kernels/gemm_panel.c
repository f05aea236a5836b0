/* gemm_panel.c — the driver of the panel-packed GEMMs (see gemm_panel.h): activation rows prepared a
 * block at a time, micro-kernel calls over panels and row groups, and the split between threads. */
#include "kernels/gemm_panel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define NR XF_PANEL_NR
#define XF_PANEL_STACK 65536 /* bytes of scratch when the caller has none */
#define XF_PANEL_ROWS 240    /* rows prepared per block at most (a block's rows stay in L2) */

/* One prepared block of rb rows (from row t0 of the product) against the panels of op's channels
 * [n0, n1). */
static void block_panels(const xf_panel_kernel *pk, const xf_panel_op *op, const unsigned char *rows, size_t RBY,
                         const float *sx, const int32_t *xs, size_t G, size_t t0, size_t rb, size_t n0, size_t n1,
                         size_t K) {
    const size_t MR = pk->mr, PB = pk->panel_bytes(K), ldy = op->ldy;
    float tile[XF_PANEL_MR * NR];
    for (size_t o = n0 - n0 % NR; o < n1; o += NR) {
        /* channels [c0, c1) of panel o that fall in [n0, n1) */
        const size_t c0 = o < n0 ? n0 : o, c1 = o + NR < n1 ? o + NR : n1;
        const uint8_t *B = op->packed + (o / NR) * PB;
        const float *so = op->scale ? op->scale + o : NULL, *bo = op->bias ? op->bias + o : NULL;
        for (size_t i = 0; i < rb; i += MR) {
            const size_t mr = rb - i < MR ? rb - i : MR;
            float *Yt = op->Y + (t0 + i) * ldy;
            if (c0 == o) {
                pk->micro(mr, rows + i * RBY, RBY, sx + i * G, xs + i * G, G, B, K, so, bo, Yt + o, ldy, c1 - o);
            } else { /* a panel cut by n0: compute the channels up to c1, keep [c0, c1) */
                pk->micro(mr, rows + i * RBY, RBY, sx + i * G, xs + i * G, G, B, K, so, bo, tile, NR, c1 - o);
                for (size_t r = 0; r < mr; r++)
                    memcpy(Yt + r * ldy + c0, tile + r * NR + (c0 - o), (c1 - c0) * sizeof *Yt);
            }
        }
    }
}

/* Rows [0, T) of X through n products: each block of rows prepared once, then every product's
 * channels [n0, n1) (n0, n1 apply when n is 1; else each product's whole N). */
static void gemm_ops(const xf_panel_kernel *pk, size_t n, const xf_panel_op *ops, const float *X, size_t ldx, size_t T,
                     size_t n0, size_t n1, size_t K, void *scratch, size_t scratch_bytes) {
    if (T == 0) return;
    const size_t RBY = pk->row_bytes(K), G = pk->groups ? pk->groups(K) : 0, MR = pk->mr;
    unsigned char stack[XF_PANEL_STACK] __attribute__((aligned(64)));
    void *heap = NULL;
    const size_t need = MR * (RBY + 8 * G); /* one micro-kernel's rows */
    if (!scratch || scratch_bytes < need) { /* rows too wide for the caller's scratch */
        if (need <= sizeof stack) {
            scratch = stack;
            scratch_bytes = sizeof stack;
        } else if ((heap = xf_aligned_alloc(need)) != NULL) {
            scratch = heap;
            scratch_bytes = need;
        } else { /* out of memory (the formats reserve xf_panel_scratch_bytes at load, so not there) */
            for (size_t q = 0; q < n; q++)
                for (size_t t = 0; t < T; t++)
                    for (size_t o = n == 1 ? n0 : 0; o < (n == 1 ? n1 : ops[q].N); o++) ops[q].Y[t * ops[q].ldy + o] = NAN;
            return;
        }
    }
    /* the block: RB x G scales, RB x G sums, then RB prepared rows */
    size_t RB = scratch_bytes / (RBY + 8 * G);
    if (RB > XF_PANEL_ROWS) RB = XF_PANEL_ROWS;
    if (RB > MR) RB -= RB % MR;
    if (RB == 0) RB = 1;
    float *sx = scratch;
    int32_t *xs = (int32_t *)(sx + RB * G);
    unsigned char *rows = (unsigned char *)(xs + RB * G);
    for (size_t t0 = 0; t0 < T; t0 += RB) {
        const size_t rb = T - t0 < RB ? T - t0 : RB;
        for (size_t i = 0; i < rb; i++) pk->prepare(X + (t0 + i) * ldx, K, rows + i * RBY, sx + i * G, xs + i * G);
        for (size_t q = 0; q < n; q++)
            block_panels(pk, &ops[q], rows, RBY, sx, xs, G, t0, rb, n == 1 ? n0 : 0, n == 1 ? n1 : ops[q].N, K);
    }
    free(heap);
}

size_t xf_panel_scratch_bytes(const xf_panel_kernel *pk, size_t K) {
    const size_t b = pk->mr * (pk->row_bytes(K) + 8 * (pk->groups ? pk->groups(K) : 0));
    return b > XF_PANEL_STACK ? b : XF_PANEL_STACK;
}

void xf_panel_gemm(const xf_panel_kernel *pk, const float *X, size_t ldx, size_t T, const uint8_t *packed,
                   const float *scale, const float *bias, float *Y, size_t ldy, size_t n0, size_t n1, size_t K,
                   void *scratch, size_t scratch_bytes) {
    if (n0 >= n1) return;
    const xf_panel_op op = {packed, scale, bias, Y, ldy, n1};
    gemm_ops(pk, 1, &op, X, ldx, T, n0, n1, K, scratch, scratch_bytes);
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

typedef struct {
    const xf_panel_kernel *pk;
    size_t n;
    const xf_panel_op *ops;
    const float *X;
    size_t ldx, T, K;
    xf_pool *pool;
} many_job;

static void many_task(void *ctx, int ith, int nth) {
    const many_job *j = ctx;
    size_t bytes, t0, t1;
    void *scratch = xf_pool_scratch(j->pool, ith, &bytes);
    xf_split_range(j->T, j->pk->mr, ith, nth, &t0, &t1);
    if (t0 >= t1) return;
    xf_panel_op part[XF_PANEL_MANY];
    for (size_t q = 0; q < j->n; q++) {
        part[q] = j->ops[q];
        part[q].Y += t0 * part[q].ldy;
    }
    gemm_ops(j->pk, j->n, part, j->X + t0 * j->ldx, j->ldx, t1 - t0, 0, 0, j->K, scratch, bytes);
}

void xf_panel_matmul_many(xf_pool *pool, const xf_panel_kernel *pk, size_t n, const xf_panel_op *ops, const float *X,
                          size_t ldx, size_t T, size_t K) {
    const int nth = xf_pool_size(pool);
    if (n > XF_PANEL_MANY || T < (size_t)nth * pk->mr * 2) { /* few rows: each product split by channels */
        for (size_t q = 0; q < n; q++)
            xf_panel_matmul(pool, pk, X, ldx, T, ops[q].packed, ops[q].scale, ops[q].bias, ops[q].Y, ops[q].ldy,
                            ops[q].N, K);
        return;
    }
    many_job j = {pk, n, ops, X, ldx, T, K, pool};
    xf_pool_run(pool, many_task, &j);
}
