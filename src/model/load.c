/* load.c — what every architecture's loader shares: typed linear weights (shapes from the
 * tensors, converted to the format xf_model_params.weights asks), norms, rotary tables, and the
 * final check of the filled plan (shapes of every layer, parameter count). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "kernels/qgemv_q8.h"
#include "kernels/rope.h"
#include "model/formats.h"
#include "model/layers.h"
#include "model/model.h"

xf_status xf_model_prepare_linear(xf_model *m, xf_weight *w) {
    if (w->fmt->ggml_type >= 0 && w->fmt != &xf_fmt_f32 && m->weight_format == XF_WEIGHTS_INT8 &&
        xf_qgemv_q8_has(w->fmt->ggml_type) && w->cols % XF_Q8A_BLOCK == 0)
        w->act_q8 = 1; /* GGUF blocks stay as they are; int8 compute quantizes the activations */
    if (w->fmt != &xf_fmt_f32 || !w->data) return XF_OK;
    return xf_format_convert(m->ws, w,
                             m->weight_format == XF_WEIGHTS_INT8   ? &xf_fmt_i8
                             : m->weight_format == XF_WEIGHTS_BF16 ? &xf_fmt_bf16
                                                                   : &xf_fmt_f32p);
}

xf_status xf_model_get_linear(xf_model *m, const char *name, size_t out, size_t in, int bias, xf_linear_w *l) {
    char n[256];
    memset(l, 0, sizeof *l);
    snprintf(n, sizeof n, "%s.weight", name);
    xf_status st = xf_weight_get_stored(m->ws, n, out, in, &l->w);
    if (!st) st = xf_model_prepare_linear(m, &l->w);
    if (!st) st = xf_linear_reserve(m->pool, &l->w);
    if (st || !bias) return st;
    snprintf(n, sizeof n, "%s.bias", name);
    if (bias == 2 && !xf_weight_set_has(m->ws, n)) return XF_OK;
    return xf_weight_get(m->ws, n, 1, l->w.rows, 0, &l->b);
}

xf_status xf_model_get_norm(xf_model *m, const char *name, xf_norm_kind kind, int bias, size_t n, float eps,
                            xf_norm_w *out) {
    char w[256];
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->eps = eps;
    snprintf(w, sizeof w, "%s.weight", name);
    xf_status st = xf_weight_get(m->ws, w, 1, n, 0, &out->g);
    if (st || !bias) return st;
    snprintf(w, sizeof w, "%s.bias", name);
    return xf_weight_get(m->ws, w, 1, n, 0, &out->b);
}

xf_status xf_model_rope_tables(xf_model *m, size_t head_dim) {
    const xf_hf_config *c = &m->cfg;
    xf_rope_tab *r = &m->plan.rope;
    size_t n;
    if (head_dim % 2 != 0 || head_dim > 8192)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: head_dim %zu is not supported for rotary positions (even, at most 8192)",
                        m->path, head_dim);
    r->n_pos = c->max_position_embeddings;
    r->half = head_dim / 2;
    if (!xf_mul_ok(r->n_pos, r->half * sizeof(float), &n))
        return xf_error(XF_ERR_RANGE, "rotary tables of %zu positions overflow", r->n_pos);
    r->cos = xf_malloc(n ? n : 1);
    r->sin = xf_malloc(n ? n : 1);
    if (!r->cos || !r->sin) return xf_error(XF_ERR_NOMEM, "cannot allocate rotary tables of %zu positions", r->n_pos);
    xf_rope_params rp = {head_dim, c->rope_theta, XF_ROPE_PLAIN, 1.0, 0.0, 0.0, 0.0};
    if (c->rope_scaling.type == XF_HF_ROPE_LINEAR) {
        rp.kind = XF_ROPE_LINEAR;
        rp.factor = c->rope_scaling.factor;
    } else if (c->rope_scaling.type == XF_HF_ROPE_LLAMA3) {
        rp.kind = XF_ROPE_LLAMA3;
        rp.factor = c->rope_scaling.factor;
        rp.low_freq_factor = c->rope_scaling.low_freq_factor;
        rp.high_freq_factor = c->rope_scaling.high_freq_factor;
        rp.original_max_position = (double)c->rope_scaling.original_max_position;
    }
    xf_rope_tables(&rp, r->n_pos, r->cos, r->sin);
    return XF_OK;
}

static uint64_t wcount(const xf_weight *w) { return w->data ? (uint64_t)w->rows * w->cols : 0; }
static uint64_t lcount(const xf_linear_w *l) { return wcount(&l->w) + wcount(&l->b); }
static uint64_t ncount(const xf_norm_w *n) { return wcount(&n->g) + wcount(&n->b); }

xf_status xf_model_finish_plan(xf_model *m) {
    xf_plan *P = &m->plan;
    xf_status st;
    if (!P->tok_emb.data || P->tok_emb.cols != P->hidden)
        return xf_error(XF_ERR_FORMAT, "%s: token embedding \"%s\" is [%zu, %zu], expected %zu columns", m->path,
                        P->tok_emb.name ? P->tok_emb.name : "?", P->tok_emb.rows, P->tok_emb.cols, P->hidden);
    uint64_t n = wcount(&P->tok_emb) + wcount(&P->pos_emb) + wcount(&P->type_emb) + ncount(&P->emb_norm) +
                 ncount(&P->final_norm);
    for (size_t l = 0; l < P->n_layers; l++) {
        const xf_layer *L = &P->layers[l];
        char where[96];
        snprintf(where, sizeof where, "%s: layer %zu", m->path, l);
        if ((st = xf_layer_check(L, P->hidden, where))) return st;
        n += ncount(&L->norm_attn) + ncount(&L->norm_ffn) + lcount(&L->attn.q) + lcount(&L->attn.k) +
             lcount(&L->attn.v) + lcount(&L->attn.o) + lcount(&L->ffn.up) + lcount(&L->ffn.gate) + lcount(&L->ffn.down);
    }
    if (P->lm_head.w.data) {
        if (P->lm_head.w.cols != P->hidden || P->lm_head.w.rows != P->tok_emb.rows)
            return xf_error(XF_ERR_FORMAT, "%s: lm_head is [%zu, %zu], expected [%zu, %zu]", m->path, P->lm_head.w.rows,
                            P->lm_head.w.cols, P->tok_emb.rows, P->hidden);
        if (!m->cfg.tie_word_embeddings) n += lcount(&P->lm_head);
        if ((st = xf_model_prepare_linear(m, &P->lm_head.w)) || (st = xf_linear_reserve(m->pool, &P->lm_head.w)))
            return st;
    }
    m->n_params = n;
    return XF_OK;
}
