/* matmul.c — blocked fp32 GEMM (X . W^T + b) with a 4x4 register tile of 8-wide vectors,
 * runtime-dispatched per ISA, plus its scalar reference and a thread-parallel driver. */
#include "kernels/matmul.h"

#include "kernels/simd.h"

#define XF_TILE_T 64 /* rows of X kept hot in cache while a panel of W streams past */

#define dot1 xf_dot_f32

/* 4 rows of X against 4 rows of W: 16 named accumulators (kept in registers), same per-element
 * order as dot1. */
XF_INLINE void tile4x4(const float *X, size_t ldx, const float *W, size_t ldw, float out[4][4],
                       size_t K) {
    xf_v8 a00 = {0}, a01 = {0}, a02 = {0}, a03 = {0}, a10 = {0}, a11 = {0}, a12 = {0}, a13 = {0};
    xf_v8 a20 = {0}, a21 = {0}, a22 = {0}, a23 = {0}, a30 = {0}, a31 = {0}, a32 = {0}, a33 = {0};
    const float *x0p = X, *x1p = X + ldx, *x2p = X + 2 * ldx, *x3p = X + 3 * ldx;
    const float *w0p = W, *w1p = W + ldw, *w2p = W + 2 * ldw, *w3p = W + 3 * ldw;
    size_t k = 0;
    for (; k + 8 <= K; k += 8) {
        xf_v8 x0 = xf_v8_load(x0p + k), x1 = xf_v8_load(x1p + k), x2 = xf_v8_load(x2p + k), x3 = xf_v8_load(x3p + k);
        xf_v8 w = xf_v8_load(w0p + k);
        a00 += x0 * w, a10 += x1 * w, a20 += x2 * w, a30 += x3 * w;
        w = xf_v8_load(w1p + k);
        a01 += x0 * w, a11 += x1 * w, a21 += x2 * w, a31 += x3 * w;
        w = xf_v8_load(w2p + k);
        a02 += x0 * w, a12 += x1 * w, a22 += x2 * w, a32 += x3 * w;
        w = xf_v8_load(w3p + k);
        a03 += x0 * w, a13 += x1 * w, a23 += x2 * w, a33 += x3 * w;
    }
    const xf_v8 acc[4][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23}, {a30, a31, a32, a33}};
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            float s = xf_v8_hsum(acc[i][j]);
            for (size_t kk = k; kk < K; kk++) s += X[i * ldx + kk] * W[j * ldw + kk];
            out[i][j] = s;
        }
    }
}

XF_DISPATCH
void xf_gemm_f32_nt(const float *X, size_t ldx, const float *W, size_t ldw, const float *bias,
                    float *Y, size_t ldy, size_t T, size_t n0, size_t n1, size_t K) {
    for (size_t t0 = 0; t0 < T; t0 += XF_TILE_T) {
        size_t t1 = t0 + XF_TILE_T < T ? t0 + XF_TILE_T : T;
        size_t o = n0;
        for (; o + 4 <= n1; o += 4) {
            size_t t = t0;
            for (; t + 4 <= t1; t += 4) {
                float r[4][4];
                tile4x4(X + t * ldx, ldx, W + o * ldw, ldw, r, K);
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++)
                        Y[(t + i) * ldy + o + j] = r[i][j] + (bias ? bias[o + j] : 0.0f);
            }
            for (; t < t1; t++)
                for (int j = 0; j < 4; j++)
                    Y[t * ldy + o + j] = dot1(X + t * ldx, W + (o + j) * ldw, K) + (bias ? bias[o + j] : 0.0f);
        }
        for (; o < n1; o++)
            for (size_t t = t0; t < t1; t++)
                Y[t * ldy + o] = dot1(X + t * ldx, W + o * ldw, K) + (bias ? bias[o] : 0.0f);
    }
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
} matmul_job;

static void matmul_task(void *ctx, int ith, int nth) {
    const matmul_job *j = ctx;
    size_t n0, n1;
    xf_split_range(j->N, 4, ith, nth, &n0, &n1);
    if (n0 < n1) xf_gemm_f32_nt(j->X, j->ldx, j->W, j->ldw, j->bias, j->Y, j->ldy, j->T, n0, n1, j->K);
}

void xf_matmul_f32_nt(xf_pool *pool, const float *X, size_t ldx, const float *W, size_t ldw,
                      const float *bias, float *Y, size_t ldy, size_t T, size_t N, size_t K) {
    matmul_job j = {X, W, bias, Y, ldx, ldw, ldy, T, N, K};
    xf_pool_run(pool, matmul_task, &j);
}
