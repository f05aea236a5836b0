/* lowrank.c — low-rank FFN matrices by activation-aware SVD ("lowrank"): each FFN matrix W [m, n]
 * (up, gate, down) is replaced by the rank-r matrix W' minimising the output error over the
 * calibration inputs X, ||(W - W') X||_F — the best rank-r approximation of W X (Eckart-Young),
 * not of W itself (plain SVD), so directions the inputs use are kept first:
 *   - m <= n (down): W' = U_r U_r^T W, U_r the top-r eigenvectors of W G W^T = sum_t y_t y_t^T,
 *     the Gram matrix of the outputs (collected by xf_linear, m x m);
 *   - m > n (up, gate): with G = sum_t x_t x_t^T + lambda I = L L^T (Cholesky; lambda = 1e-4 x the
 *     mean diagonal, SVD-LLM's whitening), W' = (W L V_r)(V_r^T L^{-1}), V_r the top-r
 *     eigenvectors of (W L)^T (W L) (n x n).
 * Both are the SVD of W X computed through an eigen-decomposition of the smaller Gram matrix, in
 * double precision (eigen.c). The rank of each matrix comes from ffn_keep: r = round(f m n /
 * (m + n)), the parameters of the factor pair A [m, r] B [r, n] equal to slicing the FFN to
 * f x width (or lowrank_rank for every matrix, at most min(m, n)).
 *
 * The product A B is stored merged (a dense [m, n] matrix, the plan's format): quality at a
 * parameter budget is what this measures; storing the pair as two linears (half the bytes at
 * f = 0.5) is not built yet.
 *
 * Papers: Yuan et al. 2023 "ASVD: Activation-aware Singular Value Decomposition"; Wang et al. 2024
 * "SVD-LLM" (whitening by the Cholesky factor of the input Gram matrix); the structured-FFN seed
 * paper of ../shared/design/PAPERS.md (low-rank FFNs). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "core/alloc.h"
#include "core/error.h"
#include "model/formats.h"

/* Fill the lower triangle of an upper-triangle Gram matrix [n, n]. */
static void mirror(double *G, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) G[j * n + i] = G[i * n + j];
}

/* Columns of V [n, n] (eigenvectors, ascending eigenvalues) for the top r, as U [n, r]. */
static void top_cols(const double *V, size_t n, size_t r, double *U) {
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < r; k++) U[i * r + k] = V[i * n + (n - r + k)];
}

/* m <= n: W' = U_r U_r^T W, E the outputs' Gram [m, m] (overwritten). */
static xf_status by_outputs(const float *W, size_t m, size_t n, size_t r, double *E, float *out) {
    mirror(E, m);
    double *w = xf_malloc(m * sizeof *w), *U = xf_malloc(m * r * sizeof *U), *B = xf_calloc(r * n, sizeof *B);
    xf_status st = w && U && B ? xf_cmp_eigen_sym(m, E, w) : xf_error(XF_ERR_NOMEM, "out of memory (low rank)");
    if (!st) {
        top_cols(E, m, r, U);
        for (size_t k = 0; k < r; k++) /* B = U^T W [r, n] */
            for (size_t i = 0; i < m; i++) {
                const double u = U[i * r + k];
                for (size_t j = 0; j < n; j++) B[k * n + j] += u * W[i * n + j];
            }
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t k = 0; k < r; k++) s += U[i * r + k] * B[k * n + j];
                out[i * n + j] = (float)s;
            }
    }
    free(w), free(U), free(B);
    return st;
}

/* m > n: whitened by the Cholesky factor of the inputs' Gram G [n, n] (overwritten). */
static xf_status by_inputs(const float *W, size_t m, size_t n, size_t r, double *G, float *out) {
    mirror(G, n);
    double tr = 0;
    for (size_t i = 0; i < n; i++) tr += G[i * n + i];
    const double lambda = fmax(1e-4 * tr / (double)n, 1e-12);
    for (size_t i = 0; i < n; i++) G[i * n + i] += lambda;
    for (size_t j = 0; j < n; j++) { /* Cholesky in place: lower triangle = L */
        double d = G[j * n + j];
        for (size_t k = 0; k < j; k++) d -= G[j * n + k] * G[j * n + k];
        if (!(d > 0)) return xf_error(XF_ERR_UNSUPPORTED, "low rank: the calibration inputs' Gram matrix is not positive definite");
        d = sqrt(d);
        G[j * n + j] = d;
        for (size_t i = j + 1; i < n; i++) {
            double s = G[i * n + j];
            for (size_t k = 0; k < j; k++) s -= G[i * n + k] * G[j * n + k];
            G[i * n + j] = s / d;
        }
        for (size_t i = 0; i < j; i++) G[i * n + j] = 0;
    }
    const double *L = G;
    double *C = xf_calloc(m * n, sizeof *C), *E = xf_calloc(n * n, sizeof *E), *w = xf_malloc(n * sizeof *w);
    double *V = xf_malloc(n * r * sizeof *V), *CV = xf_calloc(m * r, sizeof *CV), *Bt = xf_malloc(n * r * sizeof *Bt);
    xf_status st = C && E && w && V && CV && Bt ? XF_OK : xf_error(XF_ERR_NOMEM, "out of memory (low rank)");
    if (!st) {
        for (size_t i = 0; i < m; i++) /* C = W L */
            for (size_t k = 0; k < n; k++) {
                const double a = W[i * n + k];
                if (a == 0.0) continue;
                for (size_t j = 0; j <= k; j++) C[i * n + j] += a * L[k * n + j];
            }
        for (size_t i = 0; i < m; i++) /* E = C^T C (upper triangle, then mirrored) */
            for (size_t a = 0; a < n; a++) {
                const double c = C[i * n + a];
                for (size_t b = a; b < n; b++) E[a * n + b] += c * C[i * n + b];
            }
        mirror(E, n);
        st = xf_cmp_eigen_sym(n, E, w);
    }
    if (!st) {
        top_cols(E, n, r, V);
        for (size_t i = 0; i < m; i++) /* CV = C V [m, r] */
            for (size_t j = 0; j < n; j++) {
                const double c = C[i * n + j];
                for (size_t k = 0; k < r; k++) CV[i * r + k] += c * V[j * r + k];
            }
        for (size_t k = 0; k < r; k++) /* Bt[:, k] = L^{-T} V[:, k]: back substitution with L^T */
            for (size_t j = n; j-- > 0;) {
                double s = V[j * r + k];
                for (size_t i = j + 1; i < n; i++) s -= L[i * n + j] * Bt[i * r + k];
                Bt[j * r + k] = s / L[j * n + j];
            }
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t k = 0; k < r; k++) s += CV[i * r + k] * Bt[j * r + k];
                out[i * n + j] = (float)s;
            }
    }
    free(C), free(E), free(w), free(V), free(CV), free(Bt);
    return st;
}

size_t xf_cmp_lowrank_rank(const xf_cmp_ctx *c, size_t l, size_t m, size_t n) {
    const size_t full = m < n ? m : n;
    if (c->p->lowrank_rank) return c->p->lowrank_rank < full ? c->p->lowrank_rank : full;
    const float f = xf_cmp_layer_frac(c->p->ffn_keep, c->p->ffn_keep_layers, c->p->n_ffn_keep_layers, l);
    size_t r = (size_t)lround((double)f * (double)m * (double)n / (double)(m + n));
    return r < 1 ? 1 : r > full ? full : r;
}

/* One matrix: rank r from Gram matrix `gram` (inputs' when by_in, else outputs'; overwritten). */
static xf_status one(xf_model *m, xf_linear_w *l, size_t r, double *gram, int by_in) {
    const size_t R = l->w.rows, C = l->w.cols;
    float *W = xf_weight_dense_copy(&l->w), *out = W ? xf_malloc(R * C * sizeof *out) : NULL;
    xf_status st = out ? XF_OK : xf_error(XF_ERR_NOMEM, "out of memory (low rank of \"%s\")", l->w.name);
    if (!st) st = by_in ? by_inputs(W, R, C, r, gram, out) : by_outputs(W, R, C, r, gram, out);
    if (!st) st = xf_cmp_set_linear(m, l, out, R, C, NULL);
    free(W), free(out);
    return st;
}

xf_status xf_cmp_lowrank(xf_cmp_ctx *c) {
    xf_model *m = c->m;
    xf_plan *P = &m->plan;
    const size_t H = P->hidden, nl = P->n_layers;
    /* per layer: the up input's Gram (gate has the same input) and the down output's, H x H each;
     * a matrix whose rows are fewer than its columns uses its outputs' instead (rare FFN shapes) */
    double *g = xf_calloc(2 * nl * H * H, sizeof *g);
    if (!g) return xf_error(XF_ERR_NOMEM, "cannot allocate %zu Gram matrices of %zu x %zu", 2 * nl, H, H);
    for (size_t l = 0; l < nl; l++) {
        xf_ffn_plan *f = &P->layers[l].ffn;
        f->up.in_gram = g + (2 * l) * H * H, f->up.gram_block = H;
        f->down.out_gram = g + (2 * l + 1) * H * H;
    }
    xf_cmp_progress(c, 0, nl);
    xf_status st = xf_model_calib_run(m, c->p->calib_text, c->p->calib_max_tokens, "lowrank");
    for (size_t l = 0; l < nl; l++) {
        xf_ffn_plan *f = &P->layers[l].ffn;
        f->up.in_gram = NULL, f->up.gram_block = 0, f->down.out_gram = NULL;
    }
    double *tmp = st ? NULL : xf_malloc(H * H * sizeof *tmp);
    if (!st && !tmp) st = xf_error(XF_ERR_NOMEM, "out of memory (low rank)");
    for (size_t l = 0; !st && l < nl; l++) {
        xf_ffn_plan *f = &P->layers[l].ffn;
        const size_t W = f->width;
        if (W <= H) {
            st = xf_error(XF_ERR_UNSUPPORTED, "lowrank: layer %zu: FFN width %zu is not above the hidden size %zu", l, W, H);
            break;
        }
        const size_t r = xf_cmp_lowrank_rank(c, l, W, H);
        xf_linear_w *in_side[2] = {&f->up, f->gate.w.data ? &f->gate : NULL};
        for (int k = 0; !st && k < 2; k++) {
            if (!in_side[k]) continue;
            memcpy(tmp, g + (2 * l) * H * H, H * H * sizeof *tmp); /* the Gram is overwritten */
            st = one(m, in_side[k], r, tmp, 1);
        }
        if (!st) st = one(m, &f->down, r, g + (2 * l + 1) * H * H, 0);
        xf_cmp_progress(c, l + 1, nl);
    }
    free(tmp), free(g);
    return st;
}
