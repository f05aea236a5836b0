/* sparsegpt.c — SparseGPT (Frantar & Alistarh 2023, "SparseGPT: Massive Language Models Can Be
 * Accurately Pruned in One-Shot"): the sparsity method XF_SPARSE_SPARSEGPT, for 2:4 and for
 * unstructured ratios. Per linear layer W [R, C] with calibration inputs X [C, tokens]:
 *
 *   H = X X^T + lambda I, lambda = 0.01 x mean(diag(X X^T))  (an input never non-zero: H_ii = 1,
 *                                                             its column of W set to 0)
 *   H^-1 = U^T U, U upper triangular (the Cholesky factor of the inverse)
 *   columns in blocks of B = 128; per column i, in order:
 *     the mask: 2:4 — at the first column of each group of 4, per row, the 2 lowest scores
 *               w^2 / U_jj^2 of the group (with the columns as updated so far) are pruned;
 *               unstructured — at the start of each block, the round(ratio x R x B) lowest
 *               scores w^2 / U_jj^2 over the whole block [R, B] (adaptive: rows differ);
 *     pruned weights set to 0 and the others corrected by the OBS update
 *       err = w_i / U_ii,   W[:, j] -= err U_ij  for j > i
 *     (within the block at once, the columns after it in one product per block: "lazy batch").
 *
 * U comes without forming H^-1: with J the reversal, J H J = L L^T (Cholesky) gives H = V V^T with
 * V = J L J upper triangular, so H^-1 = V^-T V^-1 and U = V^-1 — one Cholesky and one triangular
 * inverse, in double precision, like the weights during the updates (floats at the end).
 *
 * Layer by layer, as in the paper: the calibration tokens' hidden states are kept between layers;
 * a layer's pass collects the input Gram matrices of its linears (xf_linear, through the float
 * GEMM per chunk, summed in double; q, k, v share one, as do up and gate), the layer is pruned, and
 * a second pass through the pruned layer gives the next layer's inputs. So the inputs of a layer
 * come through the layers already pruned (this project's Wanda uses the dense model's). Memory: the
 * hidden states of the calibration tokens and one layer's Gram matrices.
 *
 * With int8 / int4 kept values (2:4 with --weights int8|int4, compress 2:4,q8|q4) the quantization is
 * joint, as in the paper (and GPTQ): each kept weight is set to its value on the s24q8 / s24q4 grid
 * as its column comes up and the rounding error is spread over the later columns with the same
 * OBS update as a pruned weight's (xf_sparsegpt_prune_q; the scales: int8 one per row, max |w| /
 * 127 of the row a float pass ends with; int4 Q4_0's rule per group of 32 inputs on its kept
 * values when the group comes up, its 8 masks chosen then). The weights are installed with those
 * scales, so they decode to exactly the updated values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "core/alloc.h"
#include "core/dtype.h"
#include "core/error.h"
#include "kernels/sparse24.h"
#include "model/formats.h"
#include "model/layers.h"

/* U (upper, row-major [C, C]) with H^-1 = U^T U, from H [C, C] (upper triangle read; destroyed). */
static xf_status inverse_cholesky(double *H, size_t C, double *U) {
    /* A = J H J into U's lower triangle, Cholesky there (A[i][j] = H[C-1-i][C-1-j], i >= j: the
     * upper triangle of H) */
    double *A = U;
    for (size_t i = 0; i < C; i++)
        for (size_t j = 0; j <= i; j++) A[i * C + j] = H[(C - 1 - i) * C + (C - 1 - j)];
    for (size_t j = 0; j < C; j++) {
        double d = A[j * C + j];
        for (size_t k = 0; k < j; k++) d -= A[j * C + k] * A[j * C + k];
        if (!(d > 0)) return xf_error(XF_ERR_UNSUPPORTED, "SparseGPT: the damped Hessian of %zu inputs is not positive definite", C);
        d = sqrt(d);
        A[j * C + j] = d;
        for (size_t i = j + 1; i < C; i++) {
            double s = A[i * C + j];
            const double *ai = A + i * C, *aj = A + j * C;
            for (size_t k = 0; k < j; k++) s -= ai[k] * aj[k];
            A[i * C + j] = s / d;
        }
    }
    /* V = J L J into H (upper): V[i][j] = L[C-1-i][C-1-j] */
    double *V = H;
    for (size_t i = 0; i < C; i++) {
        for (size_t j = 0; j < i; j++) V[i * C + j] = 0;
        for (size_t j = i; j < C; j++) V[i * C + j] = A[(C - 1 - i) * C + (C - 1 - j)];
    }
    /* U = V^-1, row by row: U[i][k] = (delta_ik - sum_{i <= m < k} U[i][m] V[m][k]) / V[k][k] */
    for (size_t i = 0; i < C; i++) {
        double *u = U + i * C;
        memset(u, 0, C * sizeof *u); /* the accumulated sums, then the row */
        for (size_t k = i; k < C; k++) {
            const double *v = V + k * C;
            const double uk = ((k == i ? 1.0 : 0.0) - u[k]) / v[k];
            u[k] = uk;
            for (size_t j = k + 1; j < C; j++) u[j] += uk * v[j];
        }
    }
    return XF_OK;
}

typedef struct {
    double score;
    size_t at;
} ranked;

static int by_score(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* A kept weight on its grid: int8 codes times the row's scale s, or 4-bit codes (Q4_0's -8..7) times
 * the group's half-precision scale d (exact products in double; as floats they are the values the
 * s24q8 / s24q4 weights decode to). */
static double grid8(double w, float s) {
    if (s == 0.0f) return 0;
    const double q = round(w / (double)s);
    return (q > 127 ? 127 : q < -127 ? -127 : q) * (double)s;
}
static double grid4(double w, float d) {
    if (d == 0.0f) return 0;
    const double q = round(w / (double)d);
    return (q > 7 ? 7 : q < -8 ? -8 : q) * (double)d;
}

/* In every group of 4 columns i..i+3 of row w, the 2 lowest scores w^2 / U_jj^2 marked in p (ties:
 * the higher input goes). */
static void mask24(const double *w, const double *U, size_t C, size_t i, unsigned char *p) {
    double s[4];
    for (int g = 0; g < 4; g++) {
        const double d = U[(i + g) * C + i + g];
        s[g] = w[i + g] * w[i + g] / (d * d);
    }
    int keep0 = 0;
    for (int g = 1; g < 4; g++)
        if (s[g] > s[keep0]) keep0 = g;
    int keep1 = keep0 == 0 ? 1 : 0;
    for (int g = 0; g < 4; g++)
        if (g != keep0 && s[g] > s[keep1]) keep1 = g;
    for (int g = 0; g < 4; g++) p[g] = g != keep0 && g != keep1;
}

xf_status xf_sparsegpt_prune(double *W, size_t R, size_t C, double *H, int n24, double ratio, size_t block) {
    return xf_sparsegpt_prune_q(W, R, C, H, n24, ratio, block, 0, NULL);
}

xf_status xf_sparsegpt_prune_q(double *W, size_t R, size_t C, double *H, int n24, double ratio, size_t block, int qbits,
                               void *scales) {
    if (!block) block = XF_SPARSEGPT_BLOCK;
    if (qbits && (!n24 || (qbits != 8 && qbits != 4) || !scales))
        return xf_error(XF_ERR_INVALID_ARG, "SparseGPT: quantized kept values (%d bits) need 2:4, 8 or 4 bits and a scale array", qbits);
    if (qbits == 4 && (C % 32 || block % 32))
        return xf_error(XF_ERR_UNSUPPORTED, "SparseGPT 2:4 with 4-bit values: %zu inputs (block %zu) are not a multiple of 32", C, block);
    if (n24 && (C % 4 || block % 4))
        return xf_error(XF_ERR_UNSUPPORTED, "SparseGPT 2:4: %zu inputs (block %zu) are not a multiple of 4", C, block);
    if (!n24 && !(ratio > 0 && ratio < 1))
        return xf_error(XF_ERR_RANGE, "SparseGPT: ratio %g is outside (0, 1)", ratio);
    float *s8 = qbits == 8 ? scales : NULL, *d4 = qbits == 4 ? xf_malloc(R * sizeof *d4) : NULL;
    uint16_t *h4 = qbits == 4 ? scales : NULL;
    if (s8) { /* int8: one scale per row, fixed before the update: the kernels' rule (max |w| / 127) on
               * the row float SparseGPT ends with (its kept weights grow with the update: the dense
               * row's maximum would clip them) — a first pass on copies */
        double *Wc = xf_malloc(R * C * sizeof *Wc), *Hc = xf_malloc(C * C * sizeof *Hc);
        xf_status s0 = Wc && Hc ? XF_OK : xf_error(XF_ERR_NOMEM, "SparseGPT: out of memory (%zu x %zu)", R, C);
        if (!s0) {
            memcpy(Wc, W, R * C * sizeof *Wc), memcpy(Hc, H, C * C * sizeof *Hc);
            s0 = xf_sparsegpt_prune_q(Wc, R, C, Hc, n24, ratio, block, 0, NULL);
        }
        for (size_t r = 0; !s0 && r < R; r++) {
            float amax = 0;
            for (size_t c = 0; c < C; c++) amax = fmaxf(amax, fabsf((float)Wc[r * C + c]));
            s8[r] = amax / 127.0f;
        }
        free(Wc), free(Hc);
        if (s0) return s0;
    }
    double tr = 0;
    for (size_t i = 0; i < C; i++) tr += H[i * C + i];
    const double lambda = 0.01 * tr / (double)C;
    for (size_t i = 0; i < C; i++) {
        if (H[i * C + i] == 0) { /* an input that is always 0: its weights carry nothing */
            H[i * C + i] = 1;
            for (size_t r = 0; r < R; r++) W[r * C + i] = 0;
        }
        H[i * C + i] += lambda > 0 ? lambda : 1e-12;
    }
    double *U = xf_malloc(C * C * sizeof *U), *err = xf_malloc(R * block * sizeof *err);
    unsigned char *prune = xf_malloc(R * block);
    if (qbits == 4 && !d4) {
        free(U), free(err), free(prune);
        return xf_error(XF_ERR_NOMEM, "SparseGPT: out of memory (%zu rows)", R);
    }
    ranked *rk = n24 ? NULL : xf_malloc(R * block * sizeof *rk);
    xf_status st = U && err && prune && (n24 || rk) ? inverse_cholesky(H, C, U) : xf_error(XF_ERR_NOMEM, "SparseGPT: out of memory (%zu inputs)", C);
    for (size_t i1 = 0; !st && i1 < C; i1 += block) {
        const size_t i2 = i1 + block < C ? i1 + block : C, nb = i2 - i1;
        memset(prune, 0, R * nb);
        if (!n24) { /* adaptive mask of the whole block */
            for (size_t r = 0; r < R; r++)
                for (size_t j = 0; j < nb; j++) {
                    const double w = W[r * C + i1 + j], d = U[(i1 + j) * C + i1 + j];
                    rk[r * nb + j] = (ranked){w * w / (d * d), j * R + r}; /* ties: the lower input first */
                }
            qsort(rk, R * nb, sizeof *rk, by_score);
            const size_t drop = (size_t)llround(ratio * (double)(R * nb));
            for (size_t k = 0; k < drop; k++) prune[(rk[k].at % R) * nb + rk[k].at / R] = 1;
        }
        for (size_t j = 0; j < nb; j++) {
            const size_t i = i1 + j;
            const double *u = U + i * C;
            /* 2:4 masks: per group of 4 when it comes up; with 4-bit values for the whole group of 32
             * inputs of a scale at once, then the scale (Q4_0's rule on the kept values so far) */
            const size_t span = qbits == 4 ? 32 : 4;
            if (n24 && j % span == 0)
                for (size_t r = 0; r < R; r++) {
                    const double *w = W + r * C;
                    for (size_t g = 0; g < span; g += 4) mask24(w, U, C, i + g, prune + r * nb + j + g);
                    if (qbits != 4) continue;
                    float mx = 0;
                    for (size_t g = 0; g < 32; g++)
                        if (!prune[r * nb + j + g] && fabsf((float)w[i + g]) > fabsf(mx)) mx = (float)w[i + g];
                    h4[r * (C / 32) + i / 32] = xf_f32_to_f16(mx / -8.0f);
                    d4[r] = xf_f16_to_f32(h4[r * (C / 32) + i / 32]);
                }
            for (size_t r = 0; r < R; r++) {
                double *w = W + r * C;
                /* the value the weight is fixed to: 0 (pruned), on the grid (quantized kept values), or
                 * itself (float kept values: nothing to spread) */
                const double t = prune[r * nb + j] ? 0 : qbits == 8 ? grid8(w[i], s8[r]) : qbits == 4 ? grid4(w[i], d4[r]) : w[i];
                if (!prune[r * nb + j] && !qbits) {
                    err[r * nb + j] = 0;
                    continue;
                }
                const double e = (w[i] - t) / u[i];
                err[r * nb + j] = e;
                w[i] = t;
                for (size_t c = i + 1; c < i2; c++) w[c] -= e * u[c];
            }
        }
        for (size_t r = 0; r < R && i2 < C; r++) { /* the columns after the block */
            double *w = W + r * C;
            for (size_t j = 0; j < nb; j++) {
                const double e = err[r * nb + j];
                if (e == 0) continue;
                const double *u = U + (i1 + j) * C;
                for (size_t c = i2; c < C; c++) w[c] -= e * u[c];
            }
        }
    }
    free(U), free(err), free(prune), free(rk), free(d4);
    return st;
}

/* ------------------------------------------------------------- on a model */

/* Replace l's weight by the pruned floats P (copied): s24 for 2:4, float panels otherwise. */
static xf_status install(xf_model *m, xf_linear_w *l, const float *P) {
    xf_status st;
    if (m->sparsity == XF_SPARSITY_2_4) {
        xf_weight t = l->w;
        t.fmt = &xf_fmt_f32;
        t.data = P;
        t.row_bytes = t.cols * sizeof(float);
        t.act_q8 = 0;
        st = xf_model_s24_make(m, &t, NULL); /* the 2 non-zeros of each group: its magnitude mask */
        if (!st) l->w = t;
    } else {
        st = xf_format_f32p_from(m->ws, &l->w, P);
    }
    return st ? st : xf_linear_reserve(m->pool, &l->w);
}

/* The weights P of a joint 2:4 + quantization (on the grid of scales sc: xf_sparsegpt_prune_q) as
 * s24q8 / s24q4 with those scales, so that they decode to exactly P (no second rounding). */
static xf_status install_q(xf_model *m, xf_linear_w *l, const float *P, int qbits, const void *sc) {
    const size_t R = l->w.rows, C = l->w.cols, qbytes = qbits == 8 ? xf_s24q8_bytes(R, C) : xf_s24q4_bytes(R, C);
    uint8_t *tmp = xf_aligned_alloc(xf_s24_bytes(R, C)), *buf = tmp && qbytes ? xf_weight_set_alloc(m->ws, qbytes, l->w.name) : NULL;
    if (!buf) {
        free(tmp);
        return tmp && qbytes ? XF_ERR_NOMEM : xf_error(XF_ERR_NOMEM, "SparseGPT: out of memory (\"%s\")", l->w.name);
    }
    xf_s24_compress(P, C, R, C, NULL, tmp); /* a kept weight rounded to 0 may swap places with a pruned 0: the same values */
    if (qbits == 8) xf_s24q8_from_s24_scaled(tmp, R, C, sc, buf);
    else xf_s24q4_from_s24_scaled(tmp, R, C, sc, buf);
    free(tmp);
    l->w.fmt = qbits == 8 ? &xf_fmt_s24q8 : &xf_fmt_s24q4;
    l->w.data = buf;
    l->w.row_bytes = 0;
    l->w.act_q8 = 0;
    return xf_linear_reserve(m->pool, &l->w);
}

/* The linear of layer L whose input Gram l shares (q for k and v, up for gate), or l itself. */
static xf_linear_w *gram_owner(xf_layer *L, xf_linear_w *l) {
    if ((l == &L->attn.k || l == &L->attn.v) && L->attn.q.w.data && L->attn.q.w.cols == l->w.cols) return &L->attn.q;
    if (l == &L->ffn.gate && L->ffn.up.w.data && L->ffn.up.w.cols == l->w.cols) return &L->ffn.up;
    return l;
}

/* The linears of layer L in order q, k, v, o, up, gate, down. */
static void layer_linears(xf_layer *L, xf_linear_w *lin[7]) {
    xf_linear_w *all[7] = {&L->attn.q, &L->attn.k, &L->attn.v, &L->attn.o, &L->ffn.up, &L->ffn.gate, &L->ffn.down};
    memcpy(lin, all, sizeof all);
}

/* Prune linear li with the Gram matrix src of its inputs (copied into *gram: the pruning destroys
 * it); 2:4 with int8 / int4 kept values (m->sparse_qbits) quantizes them in the update
 * (xf_sparsegpt_prune_q). */
static xf_status prune_one(xf_model *m, xf_linear_w *li, const double *src, double **gram) {
    const size_t R = li->w.rows, C = li->w.cols;
    float *Wf = xf_weight_dense_copy(&li->w);
    double *Wd = Wf ? xf_malloc(R * C * sizeof *Wd) : NULL;
    double *t = Wd ? xf_realloc(*gram, C * C * sizeof **gram) : NULL;
    const int qb = m->sparsity == XF_SPARSITY_2_4 ? m->sparse_qbits : 0;
    void *sc = qb ? xf_malloc(qb == 8 ? R * sizeof(float) : R * (C / 32) * sizeof(uint16_t) + 1) : NULL;
    if (!t || (qb && !sc)) {
        free(Wf), free(Wd), free(sc);
        return xf_error(XF_ERR_NOMEM, "SparseGPT: out of memory pruning \"%s\"", li->w.name);
    }
    *gram = t;
    memcpy(*gram, src, C * C * sizeof **gram);
    for (size_t i = 0; i < R * C; i++) Wd[i] = Wf[i];
    xf_status st = xf_sparsegpt_prune_q(Wd, R, C, *gram, m->sparsity == XF_SPARSITY_2_4, m->sparsity_ratio, 0, qb, sc);
    for (size_t i = 0; !st && i < R * C; i++) Wf[i] = (float)Wd[i];
    if (!st) st = qb ? install_q(m, li, Wf, qb, sc) : install(m, li, Wf);
    free(Wf), free(Wd), free(sc);
    return st;
}

/* Prune layer L's linears with the Gram matrices its calibration pass collected. */
static xf_status prune_layer(xf_model *m, xf_layer *L) {
    xf_linear_w *lin[7];
    layer_linears(L, lin);
    double *gram = NULL;
    xf_status st = XF_OK;
    for (int k = 0; !st && k < 7; k++)
        if (lin[k]->w.data) st = prune_one(m, lin[k], gram_owner(L, lin[k])->in_gram, &gram);
    free(gram);
    return st;
}

/* The 2:4 LM head (xf_model_params.sparse_head), after the blocks: the Gram matrix of its inputs
 * (the final-normed hidden states of the pruned model over the calibration tokens; g holds at
 * least hidden^2 doubles), then the head pruned like a block linear. */
static xf_status prune_head(xf_model *m, const int32_t *ids, size_t n, size_t chunk, double *g) {
    xf_linear_w *h = &m->plan.lm_head;
    const size_t C = h->w.cols;
    memset(g, 0, C * C * sizeof *g);
    h->in_gram = g, h->gram_block = C, h->gram_gemm = 1;
    xf_status st = XF_OK;
    for (size_t a = 0; !st && a < n; a += chunk) {
        float *X;
        const size_t len = n - a < chunk ? n - a : chunk;
        if (!(st = xf_model_forward_ids(m, ids + a, len, &X))) xf_linear_stats(m->pool, h, X, len);
    }
    h->in_gram = NULL, h->gram_block = 0, h->gram_gemm = 0;
    double *gram = NULL;
    if (!st) st = prune_one(m, h, g, &gram);
    free(gram);
    return st;
}

/* Collect the input Gram matrices of layer L's linears (into g: zeroed here) while calibrating, or
 * stop collecting (g NULL); returns the doubles they take. */
static size_t layer_grams(xf_layer *L, double *g) {
    xf_linear_w *lin[7];
    layer_linears(L, lin);
    size_t at = 0;
    for (int k = 0; k < 7; k++) {
        xf_linear_w *li = lin[k];
        li->in_gram = NULL, li->gram_block = 0, li->gram_gemm = 0;
        if (!li->w.data || gram_owner(L, li) != li) continue;
        if (g) {
            li->in_gram = g + at, li->gram_block = li->w.cols, li->gram_gemm = 1;
            memset(li->in_gram, 0, li->w.cols * li->w.cols * sizeof *g);
        }
        at += li->w.cols * li->w.cols;
    }
    return at;
}

xf_status xf_model_sparsegpt(xf_model *m, const char *text, size_t max_tokens) {
    xf_plan *P = &m->plan;
    const size_t nl = P->n_layers, H = m->cfg.hidden_size;
    size_t most = 1;
    for (size_t l = 0; l < nl; l++) {
        xf_linear_w *lin[7];
        layer_linears(&P->layers[l], lin);
        for (int k = 0; k < 7; k++)
            if (m->sparsity == XF_SPARSITY_2_4 && lin[k]->w.data && lin[k]->w.cols % (m->sparse_qbits == 4 ? 32 : 4))
                return xf_error(XF_ERR_UNSUPPORTED, "tensor \"%s\" has %zu inputs: 2:4 sparsity%s needs a multiple of %d",
                                lin[k]->w.name, lin[k]->w.cols, m->sparse_qbits == 4 ? " with 4-bit values" : "",
                                m->sparse_qbits == 4 ? 32 : 4);
        const size_t d = layer_grams(&P->layers[l], NULL);
        if (d > most) most = d;
    }
    const int head = m->sparse_head && P->lm_head.w.data;
    if (head && P->lm_head.w.cols % (m->sparse_qbits == 4 ? 32 : 4))
        return xf_error(XF_ERR_UNSUPPORTED, "tensor \"%s\" has %zu inputs: 2:4 sparsity%s needs a multiple of %d",
                        P->lm_head.w.name, P->lm_head.w.cols, m->sparse_qbits == 4 ? " with 4-bit values" : "",
                        m->sparse_qbits == 4 ? 32 : 4);
    if (head && P->lm_head.w.cols * P->lm_head.w.cols > most) most = P->lm_head.w.cols * P->lm_head.w.cols;
    int32_t *ids = NULL;
    size_t n = 0, chunk = 1;
    xf_status st = xf_model_calib_ids(m, text, max_tokens, "SparseGPT", &ids, &n, &chunk);
    /* X: every calibration token's input of the current layer (the output of the pruned layers
     * before it); per layer one pass collecting its Gram matrices, then, pruned, one pass giving
     * the next layer's inputs */
    float *X = st ? NULL : xf_malloc(n * H * sizeof *X), *tmp = X ? xf_malloc(chunk * H * sizeof *tmp) : NULL;
    double *g = tmp ? xf_malloc(most * sizeof *g) : NULL;
    if (!st && !g) st = xf_error(XF_ERR_NOMEM, "SparseGPT: out of memory (%zu calibration tokens, %zu Gram entries)", n, most);
    for (size_t l = 0; !st && l < nl; l++) {
        xf_layer *L = &P->layers[l];
        layer_grams(L, g);
        for (size_t a = 0; !st && a < n; a += chunk) {
            const size_t len = n - a < chunk ? n - a : chunk;
            if (l) memcpy(tmp, X + a * H, len * H * sizeof *tmp);
            st = xf_model_forward_layer(m, ids + a, len, l, tmp);
        }
        if (!st) st = prune_layer(m, L);
        layer_grams(L, NULL);
        for (size_t a = 0; !st && l + 1 < nl && a < n; a += chunk)
            st = xf_model_forward_layer(m, ids + a, n - a < chunk ? n - a : chunk, l, X + a * H);
    }
    for (size_t l = 0; l < nl; l++) layer_grams(&P->layers[l], NULL);
    if (!st && head) st = prune_head(m, ids, n, chunk, g);
    free(ids), free(X), free(tmp), free(g);
    return st;
}
