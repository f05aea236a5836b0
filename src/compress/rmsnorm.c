/* rmsnorm.c — Pre-LN -> Pre-RMSNorm ("rmsnorm"), the exact rewrite of Jiang et al. 2023,
 * "Pre-RMSNorm and Pre-CRMSNorm Transformers: Equivalent and Efficient Pre-LN Transformers"
 * (../shared/design/PAPERS.md), for GPT-2-style models (pre-norm LayerNorm blocks, learned
 * positions):
 *   1. the residual stream is made zero-mean by recentring everything that writes to it: each
 *      row of the token and position embeddings, and each column of the attention output and FFN
 *      down projections (with their biases): W' = (I - 11^T / H) W, b' = b - mean(b);
 *   2. on a zero-mean x, LayerNorm(x) = (x - 0) / sqrt(mean(x^2) + eps) g + b = RMSNorm(x) g + b,
 *      so every LayerNorm becomes an RMSNorm (same eps) and its gain and bias fold into the linear
 *      layers it feeds (the paper's folding): W' = W diag(g), b' = b_lin + W b for Q, K, V (the
 *      attention norm) and up / gate (the FFN norm); the RMSNorm keeps a unit gain;
 *   3. the final LayerNorm becomes an RMSNorm keeping its gain, its bias folded into the head as
 *      a bias over the vocabulary (lm_head b' = W_lm b_f): folding the gain too would need a
 *      second [vocab, hidden] matrix. The head keeps the original (not recentred) token
 *      embedding, so a tied head becomes its own tensor.
 * The outputs equal the original's up to float rounding (tests/test_compress.c: within 1e-5
 * relative); what changes is the norm's cost (no mean to subtract, no bias to add). The file is
 * saved as "xfmr-gpt2" with xfmr.norm = "rms" (llama.cpp's gpt2 would read LayerNorms). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "core/alloc.h"
#include "core/error.h"
#include "model/formats.h"

/* Recentre each row (rows = 1) or each column (rows = 0) of w, a float copy in an owned buffer. */
static xf_status recentre(xf_model *m, xf_weight *w, int rows) {
    float *d = xf_weight_dense_copy(w);
    if (!d) return XF_ERR_NOMEM;
    const size_t R = w->rows, C = w->cols;
    if (rows) {
        for (size_t r = 0; r < R; r++) {
            double s = 0;
            for (size_t c = 0; c < C; c++) s += d[r * C + c];
            const float mu = (float)(s / (double)C);
            for (size_t c = 0; c < C; c++) d[r * C + c] -= mu;
        }
    } else {
        for (size_t c = 0; c < C; c++) {
            double s = 0;
            for (size_t r = 0; r < R; r++) s += d[r * C + c];
            const float mu = (float)(s / (double)R);
            for (size_t r = 0; r < R; r++) d[r * C + c] -= mu;
        }
    }
    float *buf = xf_cmp_floats(m, R * C);
    if (buf) memcpy(buf, d, R * C * sizeof *buf);
    free(d);
    if (!buf) return XF_ERR_NOMEM;
    *w = (xf_weight){.fmt = &xf_fmt_f32, .rows = R, .cols = C, .data = buf, .name = w->name, .row_bytes = C * sizeof(float)};
    return XF_OK;
}

/* A writer to the residual stream [H, in] (+ bias [H]): columns and bias recentred. */
static xf_status recentre_writer(xf_model *m, xf_linear_w *l) {
    xf_weight w = l->w;
    xf_status st = recentre(m, &w, 0);
    if (st) return st;
    float *b = NULL;
    if (l->b.data) {
        const float *b0 = l->b.data;
        const size_t H = l->w.rows;
        if (!(b = xf_malloc(H * sizeof *b))) return xf_error(XF_ERR_NOMEM, "out of memory");
        double s = 0;
        for (size_t i = 0; i < H; i++) s += b0[i];
        for (size_t i = 0; i < H; i++) b[i] = b0[i] - (float)(s / (double)H);
    }
    st = xf_cmp_set_linear(m, l, w.data, w.rows, w.cols, b);
    free(b);
    return st;
}

/* A reader of the norm [out, H]: W' = W diag(g), b' = b + W beta. */
static xf_status fold_into(xf_model *m, xf_linear_w *l, const float *g, const float *beta) {
    const size_t R = l->w.rows, C = l->w.cols;
    float *W = xf_weight_dense_copy(&l->w), *b = W ? xf_malloc(R * sizeof *b) : NULL;
    if (!W || !b) {
        free(W), free(b);
        return xf_error(XF_ERR_NOMEM, "out of memory folding a norm into \"%s\"", l->w.name);
    }
    for (size_t r = 0; r < R; r++) {
        double s = l->b.data ? ((const float *)l->b.data)[r] : 0.0;
        for (size_t c = 0; c < C; c++) {
            if (beta) s += (double)W[r * C + c] * beta[c];
            W[r * C + c] *= g[c];
        }
        b[r] = (float)s;
    }
    xf_status st = xf_cmp_set_linear(m, l, W, R, C, b);
    free(W), free(b);
    return st;
}

static int pre_ln(const xf_norm_w *n) { return n->kind == XF_NORM_LAYER; }

xf_status xf_cmp_rmsnorm(xf_cmp_ctx *c) {
    xf_model *m = c->m;
    xf_plan *P = &m->plan;
    const size_t H = P->hidden;
    int ok = P->emb_norm.kind == XF_NORM_NONE && !P->type_emb.data && pre_ln(&P->final_norm) && P->lm_head.w.data;
    for (size_t l = 0; ok && l < P->n_layers; l++) {
        const xf_layer *L = &P->layers[l];
        ok = !L->post_norm && pre_ln(&L->norm_attn) && pre_ln(&L->norm_ffn);
    }
    if (!ok)
        return xf_error(XF_ERR_UNSUPPORTED,
                        "rmsnorm: %s (%s) is not a Pre-LN model (LayerNorm before each sublayer and before the head, no "
                        "embedding norm): the rewrite applies to GPT-2-style models",
                        m->path, m->arch->name);
    float *ones = xf_cmp_floats(m, H);
    if (!ones) return XF_ERR_NOMEM;
    for (size_t i = 0; i < H; i++) ones[i] = 1.0f;
    /* the head keeps the original embedding (a tied head becomes its own tensor) */
    xf_weight emb = P->tok_emb;
    xf_status st = recentre(m, &emb, 1);
    if (!st && P->pos_emb.data) st = recentre(m, &P->pos_emb, 1);
    if (st) return st;
    P->tok_emb = emb;
    m->cfg.tie_word_embeddings = 0;
    m->cfg.norm_rms = 1; /* saved as xfmr-gpt2 with xfmr.norm = "rms" */
    for (size_t l = 0; !st && l < P->n_layers; l++) {
        xf_layer *L = &P->layers[l];
        xf_attn_plan *a = &L->attn;
        xf_ffn_plan *f = &L->ffn;
        const float *ga = L->norm_attn.g.data, *ba = L->norm_attn.b.data, *gf = L->norm_ffn.g.data,
                    *bf = L->norm_ffn.b.data;
        if (!st) st = recentre_writer(m, &a->o);
        if (!st) st = recentre_writer(m, &f->down);
        if (!st) st = fold_into(m, &a->q, ga, ba);
        if (!st) st = fold_into(m, &a->k, ga, ba);
        if (!st) st = fold_into(m, &a->v, ga, ba);
        if (!st) st = fold_into(m, &f->up, gf, bf);
        if (!st && f->gate.w.data) st = fold_into(m, &f->gate, gf, bf);
        xf_norm_w *norms[2] = {&L->norm_attn, &L->norm_ffn};
        for (int k = 0; !st && k < 2; k++) {
            norms[k]->kind = XF_NORM_RMS;
            norms[k]->g = (xf_weight){.fmt = &xf_fmt_f32, .rows = 1, .cols = H, .data = ones, .name = norms[k]->g.name};
            norms[k]->b = (xf_weight){0};
        }
        xf_cmp_progress(c, l + 1, P->n_layers);
    }
    if (st) return st;
    /* final norm: RMSNorm with its gain; its bias into the head's bias */
    xf_linear_w *h = &P->lm_head;
    if (P->final_norm.b.data) {
        const size_t V = h->w.rows;
        float *W = xf_weight_dense_copy(&h->w), *b = W ? xf_cmp_floats(m, V) : NULL;
        if (!b) {
            free(W);
            return XF_ERR_NOMEM;
        }
        const float *bf = P->final_norm.b.data, *b0 = h->b.data;
        for (size_t v = 0; v < V; v++) {
            double s = b0 ? b0[v] : 0.0;
            for (size_t i = 0; i < H; i++) s += (double)W[v * H + i] * bf[i];
            b[v] = (float)s;
        }
        free(W);
        h->b = (xf_weight){.fmt = &xf_fmt_f32, .rows = 1, .cols = V, .data = b, .name = "lm_head.bias"};
    }
    P->final_norm.kind = XF_NORM_RMS;
    P->final_norm.b = (xf_weight){0};
    return XF_OK;
}
