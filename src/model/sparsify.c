/* sparsify.c — sparsity of the blocks' linear weights, made at load (xf_model_params.sparsity):
 * 2:4 (kernels/sparse24.h, the s24 format) or unstructured (a ratio of each output's weights set
 * to 0, float panels), by magnitude or by Wanda's score |w| x ||input||_2, the input norms
 * collected over calibration text by xf_linear (xf_linear_w.in_sq) in forward passes of the
 * dense model. Embeddings stay dense; the language-model head too unless sparse_head asks for it
 * 2:4 (xf_model_sparsify_head; Wanda's head norms are those of the final-normed hidden states). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/formats.h"
#include "model/layers.h"
#include "model/model.h"

typedef struct {
    float score;
    size_t k;
} ranked;

static int by_score(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k; /* ties: the lower input goes first */
}

/* Unstructured: in every row, the round(ratio * cols) lowest scores set to 0; float panels. */
static xf_status unstructured(xf_model *m, xf_weight *w, const float *s) {
    ranked *r = xf_malloc(w->cols * sizeof *r);
    float *dense = r ? xf_weight_dense_copy(w) : NULL;
    if (!dense) {
        free(r);
        return r ? XF_ERR_NOMEM : xf_error(XF_ERR_NOMEM, "out of memory");
    }
    const size_t drop = (size_t)lround((double)m->sparsity_ratio * (double)w->cols);
    for (size_t o = 0; o < w->rows; o++) {
        float *row = dense + o * w->cols;
        for (size_t k = 0; k < w->cols; k++) r[k] = (ranked){fabsf(row[k]) * (s ? s[k] : 1.0f), k};
        qsort(r, w->cols, sizeof *r, by_score);
        for (size_t i = 0; i < drop; i++) row[r[i].k] = 0.0f;
    }
    free(r);
    xf_status st = xf_format_f32p_from(m->ws, w, dense);
    free(dense);
    return st;
}

xf_status xf_model_s24_make(xf_model *m, xf_weight *w, const float *s) {
    return (m->sparse_qbits == 8   ? xf_format_s24q8_make
            : m->sparse_qbits == 4 ? xf_format_s24q4_make
                                   : xf_format_s24_make)(m->ws, w, s);
}

xf_status xf_model_sparsify_weight(xf_model *m, xf_weight *w, const float *s) {
    if (!w->data) return XF_OK;
    xf_status st = m->sparsity == XF_SPARSITY_2_4            ? xf_model_s24_make(m, w, s)
                   : m->sparsity == XF_SPARSITY_UNSTRUCTURED ? unstructured(m, w, s)
                                                             : XF_OK;
    return st ? st : xf_linear_reserve(m->pool, w);
}

xf_status xf_model_sparsify_head(xf_model *m, const float *s) {
    xf_weight *w = &m->plan.lm_head.w;
    if (!w->data) return XF_OK;
    const int bits = w->fmt == &xf_fmt_s24q8 ? 8 : w->fmt == &xf_fmt_s24q4 ? 4 : w->fmt == &xf_fmt_s24 ? 0 : -1;
    xf_status st = !s && bits == m->sparse_qbits ? XF_OK /* already 2:4 (a file's head): its own magnitude mask */
                                                   : xf_model_s24_make(m, w, s);
    return st ? st : xf_linear_reserve(m->pool, w);
}

/* The block linears of the plan, in order (NULL-data ones included: skipped by the callers). */
#define XF_LIN_PER_LAYER 7
static xf_linear_w *block_linear(xf_plan *P, size_t i) {
    xf_layer *L = &P->layers[i / XF_LIN_PER_LAYER];
    xf_linear_w *all[XF_LIN_PER_LAYER] = {&L->attn.q, &L->attn.k, &L->attn.v, &L->attn.o,
                                          &L->ffn.up, &L->ffn.gate, &L->ffn.down};
    return all[i % XF_LIN_PER_LAYER];
}

xf_status xf_model_calib_ids(xf_model *m, const char *text, size_t max_tokens, const char *what, int32_t **ids, size_t *n,
                             size_t *chunk) {
    *ids = NULL;
    if (!m->tok)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: %s calibration needs the model's tokenizer to read the text", m->path, what);
    if (!text) return xf_error(XF_ERR_INVALID_ARG, "%s needs calibration text", what);
    if (!max_tokens) max_tokens = 4096;
    xf_encoding enc = {0};
    xf_status st = xf_tokenize(m->tok, text, strlen(text), NULL, 0, 0, &enc);
    if (st) return st;
    if (enc.n < 2) {
        xf_encoding_free(&enc);
        return xf_error(XF_ERR_INVALID_ARG, "calibration text gives %zu token(s); %s needs some text", enc.n, what);
    }
    /* chunks of at most the model's input limit (and 512 tokens), positions from 0 in each */
    *n = enc.n < max_tokens ? enc.n : max_tokens;
    *chunk = m->max_length < 512 ? m->max_length : 512;
    if ((*ids = xf_malloc(*n * sizeof **ids)))
        memcpy(*ids, enc.ids, *n * sizeof **ids);
    else
        st = xf_error(XF_ERR_NOMEM, "out of memory (calibration tokens)");
    xf_encoding_free(&enc);
    return st;
}

xf_status xf_model_calib_run(xf_model *m, const char *text, size_t max_tokens, const char *what) {
    int32_t *ids;
    size_t n, chunk;
    xf_status st = xf_model_calib_ids(m, text, max_tokens, what, &ids, &n, &chunk);
    const xf_linear_w *h = &m->plan.lm_head;
    for (size_t a = 0; !st && a < n; a += chunk) {
        float *X;
        const size_t len = n - a < chunk ? n - a : chunk;
        st = xf_model_forward_ids(m, ids + a, len, &X);
        /* the head's inputs (the final-normed hidden states), when its statistics are asked for */
        if (!st && h->in_sq)
            for (size_t t = 0; t < len; t++)
                for (size_t k = 0; k < h->w.cols; k++) h->in_sq[k] += (double)X[t * h->w.cols + k] * X[t * h->w.cols + k];
        if (!st && (h->in_abs || h->in_gram)) xf_linear_stats(m->pool, h, X, len);
    }
    free(ids);
    return st;
}

/* Sums of squares of every block linear's inputs over calibration text (see model.h). */
xf_status xf_model_input_sq(xf_model *m, const char *text, size_t max_tokens, const char *what, double **out) {
    *out = NULL;
    xf_plan *P = &m->plan;
    const size_t nl = P->n_layers * XF_LIN_PER_LAYER;
    size_t total = 0;
    for (size_t i = 0; i < nl; i++) total += block_linear(P, i)->w.data ? block_linear(P, i)->w.cols : 0;
    double *acc = xf_calloc(total ? total : 1, sizeof *acc);
    if (!acc) return xf_error(XF_ERR_NOMEM, "cannot allocate calibration sums");
    for (size_t i = 0, at = 0; i < nl; i++) {
        xf_linear_w *l = block_linear(P, i);
        if (!l->w.data) continue;
        l->in_sq = acc + at;
        at += l->w.cols;
    }
    xf_status st = xf_model_calib_run(m, text, max_tokens, what);
    for (size_t i = 0; i < nl; i++) block_linear(P, i)->in_sq = NULL;
    if (st) {
        free(acc);
        return st;
    }
    *out = acc;
    return XF_OK;
}

const double *xf_model_input_sq_of(const xf_model *m, const double *acc, const xf_weight *w) {
    xf_plan *P = (xf_plan *)&m->plan;
    for (size_t i = 0, at = 0; acc && i < P->n_layers * XF_LIN_PER_LAYER; i++) {
        const xf_linear_w *l = block_linear(P, i);
        if (!l->w.data) continue;
        if (&l->w == w) return acc + at;
        at += l->w.cols;
    }
    return NULL;
}

xf_status xf_model_sparsify_calibrated(xf_model *m, const char *text, size_t max_tokens) {
    double *acc = NULL, *head_sq = NULL;
    xf_plan *P = &m->plan;
    if (m->sparse_head && P->lm_head.w.data) { /* the head's input norms, from the same pass */
        if (!(head_sq = xf_calloc(P->lm_head.w.cols, sizeof *head_sq)))
            return xf_error(XF_ERR_NOMEM, "cannot allocate calibration sums");
        P->lm_head.in_sq = head_sq;
    }
    xf_status st = xf_model_input_sq(m, text, max_tokens, "Wanda", &acc);
    P->lm_head.in_sq = NULL;
    if (st) {
        free(head_sq);
        return st;
    }
    const size_t nl = P->n_layers * XF_LIN_PER_LAYER;
    float *s = NULL;
    for (size_t i = 0, at = 0; !st && i < nl; i++) {
        xf_linear_w *l = block_linear(P, i);
        if (!l->w.data) continue;
        float *t = xf_realloc(s, l->w.cols * sizeof *s);
        if (!t) {
            st = xf_error(XF_ERR_NOMEM, "out of memory");
            break;
        }
        s = t;
        for (size_t k = 0; k < l->w.cols; k++) s[k] = (float)sqrt(acc[at + k]);
        at += l->w.cols;
        st = xf_model_sparsify_weight(m, &l->w, s);
    }
    if (!st && head_sq) { /* Wanda on the head: |w| x the norm of its input k */
        const size_t C = P->lm_head.w.cols;
        float *t = xf_realloc(s, C * sizeof *s);
        if (!t) st = xf_error(XF_ERR_NOMEM, "out of memory");
        else {
            s = t;
            for (size_t k = 0; k < C; k++) s[k] = (float)sqrt(head_sq[k]);
            st = xf_model_sparsify_head(m, s);
        }
    }
    free(s);
    free(acc);
    free(head_sq);
    return st;
}
