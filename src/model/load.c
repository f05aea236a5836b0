/* load.c — what every architecture's loader shares: typed linear weights (shapes from the
 * tensors, converted to the format xf_model_params.weights asks), norms, rotary tables, and the
 * final check of the filled plan (shapes of every layer, parameter count). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/limits.h"
#include "kernels/qgemv_q8.h"
#include "kernels/qgemv_r16.h"
#include "kernels/rope.h"
#include "kernels/sparse24.h"
#include "io/gguf.h"
#include "model/formats.h"
#include "model/layers.h"
#include "model/model.h"

/* The format xf_model_params.weights asks for (lm_head, and block linears without sparsity). */
static xf_status prepare_format(xf_model *m, xf_weight *w) {
    if (w->data && w->fmt != &xf_fmt_f32 && m->weight_format == XF_WEIGHTS_F32) {
        /* GGUF blocks -> float32 panels */
        float *dense = xf_weight_dense_copy(w);
        if (!dense) return XF_ERR_NOMEM;
        xf_status st = xf_format_f32p_from(m->ws, w, dense);
        free(dense);
        return st;
    }
    if (w->fmt->ggml_type >= 0 && w->fmt != &xf_fmt_f32 && m->weight_format == XF_WEIGHTS_INT8 &&
        xf_qgemv_q8_has(w->fmt->ggml_type) && w->cols % XF_Q8A_BLOCK == 0) {
        w->act_q8 = m->act_q8_all ? 2 : 1; /* GGUF blocks stay as they are; int8 compute quantizes the activations */
        /* the int8 GEMV streams them every token: from huge pages, not the file's 4 KiB ones */
        xf_status st = xf_weight_to_hugepages(m->ws, w, w->rows * w->row_bytes);
        if (st) return st;
        /* 16 rows repacked for integer dots across rows (kernels/qgemv_r16.h), in place: the copy is the
         * weight's own (a tied head's copy is not the embedding's); where the bytes are still
         * the file's mapping (no memory for the copy) the file's layout serves */
        const xf_format *r16 = xf_format_r16(w->fmt->ggml_type);
        if (r16 && xf_r16_pays(w->fmt->ggml_type, w->rows, w->cols) && !xf_weight_set_mapped(m->ws, w->data)) {
            if (xf_r16_pack(w->fmt->ggml_type, w->data, w->rows, w->cols, (void *)(uintptr_t)w->data))
                return xf_error(XF_ERR_NOMEM, "cannot repack tensor \"%s\"", w->name);
            w->fmt = r16;
        }
    }
    if (w->fmt != &xf_fmt_f32 || !w->data) return XF_OK;
    return xf_format_convert(m->ws, w,
                             m->weight_format == XF_WEIGHTS_INT8   ? &xf_fmt_i8
                             : m->weight_format == XF_WEIGHTS_BF16 ? &xf_fmt_bf16
                                                                   : &xf_fmt_f32p);
}

int xf_weight_is_s24(const xf_weight *w) { return w->fmt == &xf_fmt_s24 || w->fmt == &xf_fmt_s24q8 || w->fmt == &xf_fmt_s24q4; }

/* The bits of a 2:4 weight's kept values when quantized (s24q8: 8, s24q4: 4), else 0. */
static int s24_bits(const xf_weight *w) { return w->fmt == &xf_fmt_s24q8 ? 8 : w->fmt == &xf_fmt_s24q4 ? 4 : 0; }

/* A weight a file holds 2:4 compressed (GGUF types S24*): kept as it is unless the load asks for
 * something else — dense float (--weights f32, no sparsity), or other kept values (s24 -> s24q8 /
 * s24q4 straight from the compressed form; other changes through the floats). */
static xf_status prepare_s24(xf_model *m, xf_weight *w) {
    const int bits = s24_bits(w);
    if (m->sparsity == XF_SPARSITY_NONE) {
        if (m->weight_format == XF_WEIGHTS_F32) return prepare_format(m, w);
        /* as stored: a model of int8 / int4 kept values multiplies its dense head as --weights int8 did */
        if (bits && m->weight_format == XF_WEIGHTS_AS_STORED) m->sparse_qbits = bits;
        /* kept as stored: the sparse kernels stream it every token, from huge pages as --weights int8's blocks */
        return xf_weight_to_hugepages(m->ws, w, xf_weight_bytes(w));
    }
    if (m->sparsity != XF_SPARSITY_2_4 || m->sparsity_method != XF_SPARSE_MAGNITUDE) return prepare_format(m, w);
    if (bits == m->sparse_qbits) /* already the 2:4 weight asked for (its own magnitude mask) */
        return xf_weight_to_hugepages(m->ws, w, xf_weight_bytes(w));
    if (!bits && (m->sparse_qbits == 8 || w->cols % 32 == 0)) {
        const size_t bytes = m->sparse_qbits == 8 ? xf_s24q8_bytes(w->rows, w->cols) : xf_s24q4_bytes(w->rows, w->cols);
        void *buf = bytes ? xf_weight_set_alloc(m->ws, bytes, w->name) : NULL;
        if (!buf) return bytes ? XF_ERR_NOMEM : xf_error(XF_ERR_NOMEM, "cannot allocate tensor \"%s\"", w->name);
        (m->sparse_qbits == 8 ? xf_s24q8_from_s24 : xf_s24q4_from_s24)(w->data, w->rows, w->cols, buf);
        w->fmt = m->sparse_qbits == 8 ? &xf_fmt_s24q8 : &xf_fmt_s24q4;
        w->data = buf;
        return XF_OK;
    }
    return xf_model_sparsify_weight(m, w, NULL);
}

xf_status xf_model_prepare_linear(xf_model *m, xf_weight *w) {
    if (w->data && xf_weight_is_s24(w)) return prepare_s24(m, w);
    if (m->sparsity != XF_SPARSITY_NONE && w->data && m->sparsity_method == XF_SPARSE_MAGNITUDE)
        return xf_model_sparsify_weight(m, w, NULL);
    return prepare_format(m, w); /* Wanda, SparseGPT: dense until the calibration pass */
}

/* Rows [r0, r0 + rows) of a 2:4 weight (model.h): each section sliced into an owned copy. */
xf_status xf_model_s24_rows(xf_model *m, const xf_weight *all, size_t r0, size_t rows, xf_weight *out) {
    const int type = all->fmt == &xf_fmt_s24q8 ? XF_GGML_S24Q8 : all->fmt == &xf_fmt_s24q4 ? XF_GGML_S24Q4 : XF_GGML_S24;
    uint64_t sec[3] = {0, 0, 0};
    const int ns = xf_ggml_s24_sections((uint32_t)type, all->cols, sec);
    const size_t bytes = rows * (size_t)xf_ggml_row_bytes((uint32_t)type, all->cols);
    unsigned char *buf = ns && bytes ? xf_weight_set_alloc(m->ws, bytes, all->name) : NULL;
    if (!buf) return ns && bytes ? XF_ERR_NOMEM : xf_error(XF_ERR_NOMEM, "cannot allocate a part of tensor \"%s\"", all->name);
    const unsigned char *src = all->data;
    size_t so = 0, dofs = 0;
    for (int i = 0; i < ns; i++) {
        memcpy(buf + dofs, src + so + r0 * (size_t)sec[i], rows * (size_t)sec[i]);
        so += all->rows * (size_t)sec[i];
        dofs += rows * (size_t)sec[i];
    }
    *out = *all;
    out->rows = rows;
    out->data = buf;
    return XF_OK;
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

xf_status xf_model_get_linear_part(xf_model *m, const char *name, size_t parts, size_t part, size_t in, int bias,
                                   xf_linear_w *l) {
    char n[256];
    memset(l, 0, sizeof *l);
    snprintf(n, sizeof n, "%s.weight", name);
    xf_weight all;
    xf_status st = xf_weight_get_stored(m->ws, n, XF_ANY, in, &all);
    if (st) return st;
    if (all.rows % parts || !all.rows)
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\" has %zu rows, not %zu equal parts", m->path, n, all.rows, parts);
    const size_t rows = all.rows / parts, r0 = part * rows;
    if (xf_weight_is_s24(&all)) { /* 2:4 compressed: rows live in sections, sliced into a copy */
        if ((st = xf_model_s24_rows(m, &all, r0, rows, &l->w)))
            return st;
    } else {
    size_t stride = all.fmt == &xf_fmt_f32 ? all.cols * sizeof(float) : all.row_bytes;
    if (!stride)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor \"%s\": its format has no addressable rows to split", m->path, n);
    l->w = all;
    l->w.rows = rows;
    l->w.data = (const unsigned char *)all.data + r0 * stride;
    }
    if ((st = xf_model_prepare_linear(m, &l->w)) || (st = xf_linear_reserve(m->pool, &l->w)) || !bias) return st;
    snprintf(n, sizeof n, "%s.bias", name);
    if (bias == 2 && !xf_weight_set_has(m->ws, n)) return XF_OK;
    if ((st = xf_weight_get(m->ws, n, 1, all.rows, 0, &l->b))) return st;
    l->b.cols = rows;
    l->b.data = (const float *)l->b.data + r0;
    return XF_OK;
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

xf_status xf_model_rope_config(xf_hf_config *c, const xf_model_params *p, const char *path) {
    xf_hf_rope_scaling *r = &c->rope_scaling;
    if (p->rope_scaling) {
        static const struct {
            const char *name;
            xf_hf_rope_type type;
        } k[] = {{"none", XF_HF_ROPE_DEFAULT}, {"linear", XF_HF_ROPE_LINEAR}, {"ntk", XF_HF_ROPE_NTK},
                 {"dynamic", XF_HF_ROPE_DYNAMIC}, {"yarn", XF_HF_ROPE_YARN}};
        size_t i = 0;
        while (i < sizeof k / sizeof k[0] && strcmp(k[i].name, p->rope_scaling) != 0) i++;
        if (i == sizeof k / sizeof k[0])
            return xf_error(XF_ERR_INVALID_ARG, "rope_scaling \"%.40s\" is not one of none, linear, ntk, dynamic, yarn",
                            p->rope_scaling);
        if ((strcmp(c->model_type, "llama") != 0 && strcmp(c->model_type, "qwen2") != 0 &&
             strcmp(c->model_type, "mistral") != 0))
            return xf_error(XF_ERR_UNSUPPORTED, "%s: rope_scaling \"%s\": model_type \"%s\" has no rotary positions",
                            path, p->rope_scaling, c->model_type);
        memset(r, 0, sizeof *r);
        r->type = k[i].type;
        if (r->type != XF_HF_ROPE_DEFAULT) {
            if (!(p->rope_factor > 0.0 && p->rope_factor <= 1e6))
                return xf_error(XF_ERR_INVALID_ARG, "rope_scaling \"%s\" needs rope_factor in (0, 1e6], not %g",
                                p->rope_scaling, p->rope_factor);
            if (p->rope_orig_ctx > XF_MAX_POSITIONS)
                return xf_error(XF_ERR_RANGE, "rope_orig_ctx %zu is more than %d", p->rope_orig_ctx, XF_MAX_POSITIONS);
            r->factor = p->rope_factor;
            r->original_max_position = p->rope_orig_ctx ? p->rope_orig_ctx : c->max_position_embeddings;
        }
    } else if (p->rope_factor != 0.0 || p->rope_orig_ctx) {
        return xf_error(XF_ERR_INVALID_ARG, "rope_factor / rope_orig_ctx need rope_scaling");
    }
    if (r->type == XF_HF_ROPE_DYNAMIC && !r->original_max_position) /* transformers: L0 = max_position_embeddings */
        r->original_max_position = c->max_position_embeddings;
    /* the variants made to stretch reach factor x the trained length */
    if (r->original_max_position && (r->type == XF_HF_ROPE_LINEAR || r->type == XF_HF_ROPE_NTK ||
                                     r->type == XF_HF_ROPE_DYNAMIC || r->type == XF_HF_ROPE_YARN)) {
        const double reach = floor(r->factor * (double)r->original_max_position);
        if (reach > (double)XF_MAX_POSITIONS)
            return xf_error(XF_ERR_RANGE, "%s: rope factor %g x %zu trained positions = %.0f is more than %d positions",
                            path, r->factor, r->original_max_position, reach, XF_MAX_POSITIONS);
        if (reach > (double)c->max_position_embeddings) c->max_position_embeddings = (size_t)reach;
    }
    return XF_OK;
}

void xf_model_rope_params(const xf_hf_config *c, size_t head_dim, xf_rope_params *rp) {
    static const xf_rope_kind kinds[] = {[XF_HF_ROPE_DEFAULT] = XF_ROPE_PLAIN, [XF_HF_ROPE_LINEAR] = XF_ROPE_LINEAR,
                                         [XF_HF_ROPE_LLAMA3] = XF_ROPE_LLAMA3, [XF_HF_ROPE_NTK] = XF_ROPE_NTK,
                                         [XF_HF_ROPE_DYNAMIC] = XF_ROPE_DYNAMIC, [XF_HF_ROPE_YARN] = XF_ROPE_YARN};
    const xf_hf_rope_scaling *s = &c->rope_scaling;
    memset(rp, 0, sizeof *rp);
    rp->head_dim = head_dim;
    rp->theta = c->rope_theta;
    rp->kind = kinds[s->type];
    rp->factor = s->type == XF_HF_ROPE_DEFAULT ? 1.0 : s->factor;
    rp->low_freq_factor = s->low_freq_factor;
    rp->high_freq_factor = s->high_freq_factor;
    rp->original_max_position = (double)s->original_max_position;
    rp->beta_fast = s->beta_fast;
    rp->beta_slow = s->beta_slow;
    rp->attention_factor = s->attention_factor;
    rp->mscale = s->mscale;
    rp->mscale_all_dim = s->mscale_all_dim;
    rp->no_truncate = s->no_truncate;
}

xf_status xf_model_rope_tables(xf_model *m, size_t head_dim) {
    return xf_model_rope_tables_at(m, head_dim, m->cfg.rope_theta, &m->plan.rope);
}

xf_status xf_model_rope_tables_at(xf_model *m, size_t head_dim, double theta, xf_rope_tab *r) {
    const xf_hf_config *c = &m->cfg;
    size_t n;
    xf_status st;
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
    xf_model_rope_params(c, head_dim, &r->params);
    r->params.theta = theta;
    /* GGUF: per-frequency divisors (Llama 3.1 in llama.cpp's files). A file xf_model_save wrote
     * also gives Llama 3.1's exact parameters (xfmr.rope.scaling.*: the type is llama3), which
     * replace the divisors rounded to float32. */
    if (r == &m->plan.rope && xf_weight_set_has(m->ws, "rope_freqs.weight") && c->rope_scaling.type != XF_HF_ROPE_LLAMA3) {
        xf_weight w;
        if ((st = xf_weight_get(m->ws, "rope_freqs.weight", 1, r->half, 0, &w))) return st;
        if (!(r->freq_factors = xf_malloc(r->half * sizeof(float))))
            return xf_error(XF_ERR_NOMEM, "out of memory");
        memcpy(r->freq_factors, w.data, r->half * sizeof(float));
        for (size_t i = 0; i < r->half; i++)
            if (!(r->freq_factors[i] > 0.0f) || r->freq_factors[i] > 1e6f)
                return xf_error(XF_ERR_RANGE, "%s: rope_freqs.weight[%zu] = %g is not a positive frequency divisor",
                                m->path, i, (double)r->freq_factors[i]);
        r->params.freq_factors = r->freq_factors;
    }
    if (r->params.kind == XF_ROPE_DYNAMIC) r->dyn_from = (size_t)r->params.original_max_position;
    xf_rope_tables(&r->params, r->n_pos, r->cos, r->sin); /* dynamic: the plain base, for lengths <= L0 */
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
        if (m->sparse_head && m->cfg.tie_word_embeddings) {
            /* the 2:4 head of a tied model: its own tensor (float panels until pruned below or by
             * the calibrated methods), the embedding stays as it is for the lookups */
            m->cfg.tie_word_embeddings = 0;
            P->lm_head.w.name = "lm_head.weight";
        }
        if (!m->cfg.tie_word_embeddings) n += lcount(&P->lm_head);
        const xf_weight_format wf = m->weight_format;
        if (m->sparse_qbits && !m->sparse_head) m->weight_format = XF_WEIGHTS_INT8; /* the dense head of an int8 / int4 2:4 model: as --weights int8 */
        const xf_weight *h = &P->lm_head.w;
        if (xf_weight_is_s24(h) && m->sparse_head && m->sparsity == XF_SPARSITY_2_4 && s24_bits(h) == m->sparse_qbits)
            /* already the 2:4 head asked for (a file's, or made by xf_model_compress before this
             * recount): as it is — Wanda / SparseGPT at load re-prune it from these same values */
            st = xf_weight_to_hugepages(m->ws, &P->lm_head.w, xf_weight_bytes(h));
        else if (xf_weight_is_s24(h)) st = prepare_s24(m, &P->lm_head.w); /* a 2:4 head from a file */
        else if (!m->sparse_head || m->sparsity_method != XF_SPARSE_MAGNITUDE) st = prepare_format(m, &P->lm_head.w);
        /* (by magnitude the head is pruned below straight from the stored weight: no dense copy kept) */
        m->weight_format = wf;
        if (!st && m->sparse_head && m->sparsity_method == XF_SPARSE_MAGNITUDE) st = xf_model_sparsify_head(m, NULL);
        if (st || (st = xf_linear_reserve(m->pool, &P->lm_head.w))) return st;
    } else if (m->sparse_head) {
        return xf_error(XF_ERR_UNSUPPORTED, "%s: sparse_head (--sparse-head): the model has no LM head to prune (an encoder)",
                        m->path);
    }
    m->n_params = n;
    return XF_OK;
}
