/* test_sparsegpt.c — SparseGPT (src/compress/sparsegpt.c, XF_SPARSE_SPARSEGPT):
 *   - the blocked implementation (Cholesky factor of H^-1, lazy batches of columns) equals a plain
 *     double reference of the OBS update — the full inverse, every later column updated at once
 *     and the pruned column eliminated from the inverse (H^-1 <- H^-1 - h h^T / h_ii) — within
 *     1e-6, on 8 x 16 and 24 x 40 layers with several block sizes, 2:4 and 50 % unstructured,
 *     an always-zero input included;
 *   - on a random layer with correlated inputs of unequal scales, the output error
 *     ||W X - W' X||^2 of SparseGPT is at most Wanda's and magnitude's, at 2:4 (every group of 4
 *     with at least 2 zeros) and at 50 % unstructured (the same number of zeros).
 * SparseGPT on models (layer-by-layer calibration, the Gram matrices, the weights it makes, round
 * trip): tests/test_sparsity.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "core/dtype.h"
#include "harness.h"

static uint64_t rng = 88172645463325252ull;
static double urand(void) { /* xorshift64, [0, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static double nrand(void) { return sqrt(-2 * log(1 - urand())) * cos(6.283185307179586 * urand()); }

/* X [T, C]: correlated inputs (a random mix of C / 2 sources) with per-input scales over two
 * decades; input `zero` (if < C) always 0. */
static double *make_inputs(size_t T, size_t C, size_t zero) {
    const size_t S = C / 2 + 1;
    double *M = malloc(S * C * sizeof *M), *X = malloc(T * C * sizeof *X), *z = malloc(S * sizeof *z);
    for (size_t i = 0; i < S * C; i++) M[i] = nrand();
    for (size_t t = 0; t < T; t++) {
        for (size_t s = 0; s < S; s++) z[s] = nrand();
        for (size_t c = 0; c < C; c++) {
            double v = 0;
            for (size_t s = 0; s < S; s++) v += z[s] * M[s * C + c];
            X[t * C + c] = c == zero ? 0 : v * pow(10.0, 2.0 * (double)((c * 7) % C) / (double)C - 1.0);
        }
    }
    free(M), free(z);
    return X;
}

static double *gram_of(const double *X, size_t T, size_t C) {
    double *H = calloc(C * C, sizeof *H);
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < C; i++)
            for (size_t j = 0; j < C; j++) H[i * C + j] += X[t * C + i] * X[t * C + j];
    return H;
}

/* ---------------------------------------------------------------- reference */

static void invert(double *A, size_t n) { /* Gauss-Jordan with partial pivoting, in place */
    double *B = calloc(n * n, sizeof *B);
    for (size_t i = 0; i < n; i++) B[i * n + i] = 1;
    for (size_t c = 0; c < n; c++) {
        size_t p = c;
        for (size_t r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
        for (size_t k = 0; k < n; k++) {
            double t = A[c * n + k];
            A[c * n + k] = A[p * n + k], A[p * n + k] = t;
            t = B[c * n + k];
            B[c * n + k] = B[p * n + k], B[p * n + k] = t;
        }
        const double d = A[c * n + c];
        for (size_t k = 0; k < n; k++) A[c * n + k] /= d, B[c * n + k] /= d;
        for (size_t r = 0; r < n; r++) {
            if (r == c) continue;
            const double f = A[r * n + c];
            for (size_t k = 0; k < n; k++) A[r * n + k] -= f * A[c * n + k], B[r * n + k] -= f * B[c * n + k];
        }
    }
    memcpy(A, B, n * n * sizeof *A);
    free(B);
}

/* Remove index i from the inverse Hc (the OBS elimination of a column). */
static void eliminate(double *Hc, size_t C, size_t i) {
    const double d = Hc[i * C + i];
    for (size_t a = i + 1; a < C; a++)
        for (size_t b = i + 1; b < C; b++) Hc[a * C + b] -= Hc[a * C + i] * Hc[i * C + b] / d;
}

typedef struct {
    double s;
    size_t j, r;
} cand;
static int by_cand(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? -1 : 1;
    if (x->j != y->j) return x->j < y->j ? -1 : 1;
    return x->r < y->r ? -1 : x->r > y->r;
}

/* qbits 8 / 4 (2:4 only): the joint quantization of xf_sparsegpt_prune_q, written plainly — the
 * row scale max |w| / 127 of the row float SparseGPT ends with (8), or at each group of 32 columns its 8 masks, then
 * the half scale of Q4_0's rule on its kept values (4); each kept weight set to its grid value and
 * the difference spread as a pruned weight's. Scales into sc (float[R] or uint16[R][C / 32]). */
static void ref_prune_q(double *W, size_t R, size_t C, const double *H0, int n24, double ratio, size_t block, int qbits,
                        void *sc);
static void ref_prune(double *W, size_t R, size_t C, const double *H0, int n24, double ratio, size_t block) {
    ref_prune_q(W, R, C, H0, n24, ratio, block, 0, NULL);
}

static void ref_prune_q(double *W, size_t R, size_t C, const double *H0, int n24, double ratio, size_t block, int qbits,
                        void *sc) {
    double *H = malloc(C * C * sizeof *H), *d = malloc(C * sizeof *d), *D = malloc(C * C * sizeof *D);
    memcpy(H, H0, C * C * sizeof *H);
    double tr = 0;
    for (size_t i = 0; i < C; i++) tr += H[i * C + i];
    for (size_t i = 0; i < C; i++) {
        if (H[i * C + i] == 0) {
            H[i * C + i] = 1;
            for (size_t r = 0; r < R; r++) W[r * C + i] = 0;
        }
        H[i * C + i] += 0.01 * tr / (double)C;
    }
    float *s8 = qbits == 8 ? sc : NULL, *d4 = calloc(R, sizeof *d4);
    uint16_t *h4 = qbits == 4 ? sc : NULL;
    if (s8) { /* the row scales: max |w| / 127 of the weights float SparseGPT ends with */
        double *F = malloc(R * C * sizeof *F);
        memcpy(F, W, R * C * sizeof *F);
        ref_prune_q(F, R, C, H0, n24, ratio, block, 0, NULL);
        for (size_t r = 0; r < R; r++) {
            float amax = 0;
            for (size_t c = 0; c < C; c++) amax = fmaxf(amax, fabsf((float)F[r * C + c]));
            s8[r] = amax / 127.0f;
        }
        free(F);
    }
    invert(H, C); /* H = H^-1, the current inverse Hc */
    memcpy(D, H, C * C * sizeof *D);
    for (size_t i = 0; i < C; i++) d[i] = D[i * C + i], eliminate(D, C, i); /* [H^-1]_ii when i goes */
    unsigned char *pr = calloc(R * C, 1);
    cand *cs = malloc(R * C * sizeof *cs);
    for (size_t i1 = 0; i1 < C; i1 += block) {
        const size_t i2 = i1 + block < C ? i1 + block : C;
        if (!n24) {
            size_t n = 0;
            for (size_t r = 0; r < R; r++)
                for (size_t j = i1; j < i2; j++) cs[n++] = (cand){W[r * C + j] * W[r * C + j] / d[j], j, r};
            qsort(cs, n, sizeof *cs, by_cand);
            const size_t drop = (size_t)llround(ratio * (double)n);
            for (size_t k = 0; k < drop; k++) pr[cs[k].r * C + cs[k].j] = 1;
        }
        for (size_t i = i1; i < i2; i++) {
            const size_t span = qbits == 4 ? 32 : 4;
            if (n24 && (i - i1) % span == 0)
                for (size_t r = 0; r < R; r++) {
                    for (size_t q = i; q < i + span; q += 4) { /* keep the 2 highest; ties: the lower input */
                        cand g[4];
                        for (size_t k = 0; k < 4; k++) g[k] = (cand){-W[r * C + q + k] * W[r * C + q + k] / d[q + k], k, r};
                        qsort(g, 4, sizeof *g, by_cand);
                        pr[r * C + q + g[2].j] = pr[r * C + q + g[3].j] = 1;
                    }
                    if (qbits != 4) continue;
                    float mx = 0; /* the kept value of largest magnitude maps to -8 */
                    for (size_t q = i; q < i + 32; q++)
                        if (!pr[r * C + q] && fabsf((float)W[r * C + q]) > fabsf(mx)) mx = (float)W[r * C + q];
                    h4[r * (C / 32) + i / 32] = xf_f32_to_f16(mx / -8.0f);
                    d4[r] = xf_f16_to_f32(h4[r * (C / 32) + i / 32]);
                }
            for (size_t r = 0; r < R; r++) {
                if (!pr[r * C + i] && !qbits) continue;
                const double w = W[r * C + i], step = qbits == 8 ? (double)s8[r] : (double)d4[r];
                double t = 0;
                if (!pr[r * C + i] && step != 0) { /* Q4_0's scale is negative when the largest value is */
                    t = round(w / step);
                    t = qbits == 8 ? fmin(fmax(t, -127), 127) : fmin(fmax(t, -8), 7);
                    t *= step;
                }
                const double e = (w - t) / H[i * C + i];
                W[r * C + i] = t;
                for (size_t j = i + 1; j < C; j++) W[r * C + j] -= e * H[i * C + j];
            }
            eliminate(H, C, i);
        }
    }
    free(H), free(d), free(D), free(pr), free(cs), free(d4);
}

static void test_reference(size_t R, size_t C, size_t T, size_t block, int n24) {
    double *X = make_inputs(T, C, C / 3), *H = gram_of(X, T, C);
    double *W = malloc(R * C * sizeof *W), *Wr = malloc(R * C * sizeof *Wr), *Hk = malloc(C * C * sizeof *Hk);
    for (size_t i = 0; i < R * C; i++) W[i] = Wr[i] = nrand();
    memcpy(Hk, H, C * C * sizeof *Hk);
    CHECK(xf_sparsegpt_prune(W, R, C, Hk, n24, 0.5, block) == XF_OK);
    ref_prune(Wr, R, C, H, n24, 0.5, block);
    double worst = 0, big = 0;
    size_t zeros = 0, zr = 0;
    for (size_t i = 0; i < R * C; i++) {
        worst = fmax(worst, fabs(W[i] - Wr[i]));
        big = fmax(big, fabs(Wr[i]));
        zeros += W[i] == 0, zr += Wr[i] == 0;
    }
    CHECK_MSG(worst <= 1e-6 && zeros == zr && zeros >= R * C / 2,
              "%zu x %zu, block %zu, %s: largest difference to the reference %.3g (weights up to %.3g), zeros %zu vs %zu",
              R, C, block, n24 ? "2:4" : "50%", worst, big, zeros, zr);
    printf("reference %zux%zu block %zu %s: max |diff| %.2e (weights up to %.2f)\n", R, C, block, n24 ? "2:4" : "50%",
           worst, big);
    free(X), free(H), free(W), free(Wr), free(Hk);
}

/* Joint 2:4 + quantization against the plain reference: the same weights (within 1e-6 of the
 * largest), the same scales, every kept weight on its grid. */
static void test_reference_q(size_t R, size_t C, size_t T, size_t block, int qbits) {
    double *X = make_inputs(T, C, C / 3), *H = gram_of(X, T, C);
    double *W = malloc(R * C * sizeof *W), *Wr = malloc(R * C * sizeof *Wr), *Hk = malloc(C * C * sizeof *Hk);
    const size_t ns = qbits == 8 ? R * sizeof(float) : R * (C / 32) * sizeof(uint16_t);
    unsigned char *sc = calloc(ns, 1), *scr = calloc(ns, 1);
    for (size_t i = 0; i < R * C; i++) W[i] = Wr[i] = nrand();
    memcpy(Hk, H, C * C * sizeof *Hk);
    CHECK(xf_sparsegpt_prune_q(W, R, C, Hk, 1, 0.5, block, qbits, sc) == XF_OK);
    ref_prune_q(Wr, R, C, H, 1, 0.5, block, qbits, scr);
    double worst = 0, big = 0;
    int grid = 1, groups = 1;
    for (size_t i = 0; i < R * C; i++) {
        worst = fmax(worst, fabs(W[i] - Wr[i]));
        big = fmax(big, fabs(Wr[i]));
        const size_t r = i / C, c = i % C;
        const double step = qbits == 8 ? ((const float *)sc)[r] : xf_f16_to_f32(((const uint16_t *)sc)[r * (C / 32) + c / 32]);
        const double q = step != 0 ? W[i] / step : 0;
        grid &= q == round(q) && (qbits == 8 ? fabs(q) <= 127 : q >= -8 && q <= 7);
        if (c % 4 == 0) groups &= (W[i] == 0) + (W[i + 1] == 0) + (W[i + 2] == 0) + (W[i + 3] == 0) >= 2;
    }
    CHECK_MSG(worst <= 1e-6 * big && !memcmp(sc, scr, ns) && grid && groups,
              "%zu x %zu, block %zu, 2:4 + int%d: difference to the reference %.3g (weights up to %.3g), scales equal %d, "
              "on the grid %d, 2:4 %d", R, C, block, qbits, worst, big, !memcmp(sc, scr, ns), grid, groups);
    printf("reference %zux%zu block %zu 2:4 + int%d jointly: max |diff| %.2e (weights up to %.2f)\n", R, C, block, qbits, worst, big);
    CHECK(xf_sparsegpt_prune_q(W, R, C + 4, Hk, 1, 0.5, block, 4, sc) != XF_OK || qbits != 4); /* C + 4: not a multiple of 32 */
    free(X), free(H), free(W), free(Wr), free(Hk), free(sc), free(scr);
}

/* ---------------------------------------------------------------- layer error */

/* sum_t ||(W - P) x_t||^2 */
static double out_err(const double *W, const double *P, size_t R, size_t C, const double *X, size_t T) {
    double e = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t r = 0; r < R; r++) {
            double s = 0;
            for (size_t c = 0; c < C; c++) s += (W[r * C + c] - P[r * C + c]) * X[t * C + c];
            e += s * s;
        }
    return e;
}

/* Mask by score |w| x s[c] (s NULL: magnitude): 2:4 per group, or half of each row. */
static void mask(const double *W, size_t R, size_t C, const double *s, int n24, double *P) {
    cand *cs = malloc(C * sizeof *cs);
    for (size_t r = 0; r < R; r++) {
        const double *w = W + r * C;
        double *p = P + r * C;
        memcpy(p, w, C * sizeof *p);
        const size_t g = n24 ? 4 : C;
        for (size_t c0 = 0; c0 < C; c0 += g) {
            for (size_t k = 0; k < g; k++) cs[k] = (cand){fabs(w[c0 + k]) * (s ? s[c0 + k] : 1), k, 0};
            qsort(cs, g, sizeof *cs, by_cand);
            for (size_t k = 0; k < g / 2; k++) p[c0 + cs[k].j] = 0;
        }
    }
    free(cs);
}

static void test_layer_error(void) {
    const size_t R = 48, C = 256, T = 1024;
    double *X = make_inputs(T, C, C), *H = gram_of(X, T, C), *W = malloc(R * C * sizeof *W);
    double *P = malloc(R * C * sizeof *P), *Hk = malloc(C * C * sizeof *Hk), *s = malloc(C * sizeof *s);
    for (size_t i = 0; i < R * C; i++) W[i] = nrand();
    for (size_t c = 0; c < C; c++) s[c] = sqrt(H[c * C + c]);
    double *Z = calloc(R * C, sizeof *Z);
    const double e_ref = out_err(W, Z, R, C, X, T);
    free(Z);
    for (int n24 = 1; n24 >= 0; n24--) {
        mask(W, R, C, NULL, n24, P);
        const double e_mag = out_err(W, P, R, C, X, T);
        mask(W, R, C, s, n24, P);
        const double e_wanda = out_err(W, P, R, C, X, T);
        memcpy(P, W, R * C * sizeof *P);
        memcpy(Hk, H, C * C * sizeof *Hk);
        CHECK(xf_sparsegpt_prune(P, R, C, Hk, n24, 0.5, 0) == XF_OK);
        const double e_sgpt = out_err(W, P, R, C, X, T);
        size_t zeros = 0;
        int groups = 1;
        for (size_t i = 0; i < R * C; i++) zeros += P[i] == 0;
        for (size_t i = 0; n24 && i < R * C; i += 4) groups &= (P[i] == 0) + (P[i + 1] == 0) + (P[i + 2] == 0) + (P[i + 3] == 0) >= 2;
        CHECK_MSG(groups && zeros == R * C / 2, "%s: %zu zeros of %zu, every group of 4 with 2 zeros: %d", n24 ? "2:4" : "50%",
                  zeros, R * C, groups);
        CHECK_MSG(e_sgpt <= e_wanda && e_sgpt <= e_mag, "%s: output error SparseGPT %.4g, Wanda %.4g, magnitude %.4g",
                  n24 ? "2:4" : "50%", e_sgpt, e_wanda, e_mag);
        printf("layer %zux%zu %s: ||WX - W'X||^2 / ||WX||^2: magnitude %.4f, Wanda %.4f, SparseGPT %.4f\n", R, C,
               n24 ? "2:4" : "50% unstructured", e_mag / e_ref, e_wanda / e_ref, e_sgpt / e_ref);
    }
    /* 2:4 with 4-bit / 8-bit values: quantized in the update (joint) against after it */
    for (int qbits = 4; qbits <= 8; qbits += 4) {
        double *Q = malloc(R * C * sizeof *Q);
        void *sc = calloc(R * (C / 32), sizeof(uint16_t) + sizeof(float));
        memcpy(P, W, R * C * sizeof *P);
        memcpy(Hk, H, C * C * sizeof *Hk);
        CHECK(xf_sparsegpt_prune(P, R, C, Hk, 1, 0.5, 0) == XF_OK);
        for (size_t r = 0; r < R; r++) /* after: the kernels' rules on the pruned weights */
            for (size_t c0 = 0; c0 < C; c0 += qbits == 4 ? 32 : C) {
                const size_t n = qbits == 4 ? 32 : C;
                float mx = 0;
                for (size_t c = c0; c < c0 + n; c++)
                    if (fabsf((float)P[r * C + c]) > fabsf(mx)) mx = (float)P[r * C + c];
                const double step = qbits == 4 ? xf_f16_to_f32(xf_f32_to_f16(mx / -8.0f)) : fabsf(mx) / 127.0f;
                for (size_t c = c0; c < c0 + n; c++) {
                    const double q = step != 0 ? round(P[r * C + c] / step) : 0;
                    Q[r * C + c] = (qbits == 4 ? fmin(fmax(q, -8), 7) : q) * step;
                }
            }
        const double e_after = out_err(W, Q, R, C, X, T);
        memcpy(P, W, R * C * sizeof *P);
        memcpy(Hk, H, C * C * sizeof *Hk);
        CHECK(xf_sparsegpt_prune_q(P, R, C, Hk, 1, 0.5, 0, qbits, sc) == XF_OK);
        const double e_joint = out_err(W, P, R, C, X, T);
        CHECK_MSG(e_joint < e_after, "2:4 + int%d: output error joint %.4g, quantized after %.4g", qbits, e_joint, e_after);
        printf("layer %zux%zu 2:4 + int%d: ||WX - W'X||^2 / ||WX||^2: quantized after SparseGPT %.4f, jointly %.4f\n", R, C,
               qbits, e_after / e_ref, e_joint / e_ref);
        free(Q), free(sc);
    }
    free(X), free(H), free(W), free(P), free(Hk), free(s);
}

int main(void) {
    test_reference(8, 16, 64, 8, 1);
    test_reference(8, 16, 64, 8, 0);
    test_reference(8, 16, 64, 128, 1);
    test_reference(24, 40, 96, 12, 1);
    test_reference(24, 40, 96, 16, 0);
    test_reference_q(8, 64, 128, 32, 4);
    test_reference_q(8, 64, 128, 128, 4);
    test_reference_q(12, 96, 160, 64, 4);
    test_reference_q(8, 64, 128, 16, 8);
    test_reference_q(12, 40, 96, 128, 8);
    test_layer_error();
    return xf_t_report();
}
