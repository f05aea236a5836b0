/* compress.c — xf_model_compress: parse and check the methods and options, run each method on the
 * loaded model in a fixed order (rmsnorm, heads, ffn, lowrank, 2:4), then check the plan again and
 * recount parameters. Shared helpers of the methods: rewriting a linear weight to a subset of its
 * rows and columns. The methods are one file each (prune_heads.c, ffn_slice.c, lowrank.c,
 * rmsnorm.c); 2:4 reuses the masks of model/sparsify.c and SparseGPT (sparsegpt.c). */
#include "compress/compress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/abi.h"
#include "core/alloc.h"
#include "core/error.h"
#include "model/formats.h"
#include "model/layers.h"

void xf_cmp_progress(const xf_cmp_ctx *c, size_t done, size_t total) {
    if (c->p->progress) c->p->progress(c->p->progress_user, c->stage, done, total);
}

float *xf_cmp_floats(xf_model *m, size_t n) {
    float *b = xf_aligned_alloc((n ? n : 1) * sizeof *b);
    if (!b) {
        xf_error(XF_ERR_NOMEM, "cannot allocate %zu floats for a compressed weight", n);
        return NULL;
    }
    if (xf_weight_set_adopt(m->ws, b)) {
        free(b);
        return NULL;
    }
    return b;
}

xf_status xf_cmp_set_linear(xf_model *m, xf_linear_w *l, const float *dense, size_t rows, size_t cols, const float *new_b) {
    float *w = xf_cmp_floats(m, rows * cols);
    if (!w) return XF_ERR_NOMEM;
    memcpy(w, dense, rows * cols * sizeof *w);
    xf_weight nw = {.fmt = &xf_fmt_f32, .rows = rows, .cols = cols, .data = w, .name = l->w.name,
                    .row_bytes = cols * sizeof(float)};
    xf_status st = xf_model_prepare_linear(m, &nw);
    if (!st) st = xf_linear_reserve(m->pool, &nw);
    if (st) return st;
    l->w = nw;
    if (new_b) {
        float *b = xf_cmp_floats(m, rows);
        if (!b) return XF_ERR_NOMEM;
        memcpy(b, new_b, rows * sizeof *b);
        l->b.fmt = &xf_fmt_f32;
        l->b.rows = 1, l->b.cols = rows;
        l->b.data = b;
    }
    return XF_OK;
}

xf_status xf_cmp_select(xf_model *m, xf_linear_w *l, const unsigned char *keep_rows, const unsigned char *keep_cols) {
    const size_t R = l->w.rows, C = l->w.cols;
    size_t R2 = 0, C2 = 0;
    for (size_t r = 0; r < R; r++) R2 += !keep_rows || keep_rows[r];
    for (size_t c = 0; c < C; c++) C2 += !keep_cols || keep_cols[c];
    float *src = xf_weight_dense_copy(&l->w);
    float *dst = src ? xf_malloc((R2 && C2 ? R2 * C2 : 1) * sizeof *dst) : NULL;
    float *bias = dst && l->b.data && keep_rows ? xf_malloc((R2 ? R2 : 1) * sizeof *bias) : NULL;
    xf_status st = XF_OK;
    if (!src || !dst || (l->b.data && keep_rows && !bias)) st = xf_error(XF_ERR_NOMEM, "out of memory rewriting \"%s\"", l->w.name);
    for (size_t r = 0, o = 0, ob = 0; !st && r < R; r++) {
        if (keep_rows && !keep_rows[r]) continue;
        if (bias) bias[ob++] = ((const float *)l->b.data)[r];
        for (size_t c = 0; c < C; c++)
            if (!keep_cols || keep_cols[c]) dst[o++] = src[r * C + c];
    }
    if (!st) st = xf_cmp_set_linear(m, l, dst, R2, C2, bias);
    free(src), free(dst), free(bias);
    return st;
}

/* ------------------------------------------------------------------------ 2:4 */

/* 2:4 with q8 / q4 values: the dense head multiplies as `--sparsity 2:4 --weights int8|int4` makes it
 * (int8 per channel, activations quantized), so that the file reloads to this model. */
static xf_status head_int8(xf_model *m) {
    xf_weight *h = &m->plan.lm_head.w;
    if (!m->sparse_qbits || !h->data || (h->fmt != &xf_fmt_f32p && h->fmt != &xf_fmt_f32)) return XF_OK;
    float *dense = xf_weight_dense_copy(h);
    if (!dense) return XF_ERR_NOMEM;
    xf_weight f = *h;
    f.fmt = &xf_fmt_f32, f.data = dense, f.row_bytes = h->cols * sizeof(float);
    xf_status st = xf_format_convert(m->ws, &f, &xf_fmt_i8);
    if (!st) *h = f;
    free(dense);
    return st ? st : xf_linear_reserve(m->pool, h);
}

static xf_status sparse24(xf_cmp_ctx *c) {
    xf_model *m = c->m;
    xf_plan *P = &m->plan;
    for (size_t l = 0; l < P->n_layers; l++) { /* every width first: the model is not half-done on error */
        xf_layer *L = &P->layers[l];
        const xf_linear_w *lin[] = {&L->attn.q, &L->attn.k, &L->attn.v, &L->attn.o, &L->ffn.up, &L->ffn.gate, &L->ffn.down};
        for (size_t i = 0; i < 7; i++)
            if (lin[i]->w.data && lin[i]->w.cols % (m->sparse_qbits == 4 ? 32 : 4))
                return xf_error(XF_ERR_UNSUPPORTED,
                                "2:4 sparsity%s: layer %zu: tensor \"%s\" has %zu inputs, not a multiple of %d", m->sparse_qbits == 4 ? " with q4 values" : "", l,
                                lin[i]->w.name ? lin[i]->w.name : "?", lin[i]->w.cols, m->sparse_qbits == 4 ? 32 : 4);
    }
    xf_weight *head = &P->lm_head.w;
    const size_t hq = m->sparse_qbits == 4 ? 32 : 4;
    if (c->p->sparse_head && head->cols % hq)
        return xf_error(XF_ERR_UNSUPPORTED, "2:4 sparsity of the LM head (sparse_head): tensor \"%s\" has %zu inputs, not a multiple of %zu",
                        head->name ? head->name : "?", head->cols, hq);
    m->sparsity = XF_SPARSITY_2_4;
    m->sparsity_method = c->p->sparse_method;
    xf_status st = XF_OK;
    if (c->p->sparse_head) {
        /* as xf_model_params.sparse_head at load: a tied head becomes its own tensor (saved as
         * output.weight), pruned below or by Wanda / SparseGPT with the blocks; the embedding stays */
        m->sparse_head = 1;
        if (m->cfg.tie_word_embeddings) m->cfg.tie_word_embeddings = 0, head->name = "lm_head.weight";
    } else if ((st = head_int8(m))) {
        return st;
    }
    if (c->p->sparse_method == XF_SPARSE_WANDA)
        return xf_model_sparsify_calibrated(m, c->p->calib_text, c->p->calib_max_tokens);
    if (c->p->sparse_method == XF_SPARSE_SPARSEGPT) return xf_model_sparsegpt(m, c->p->calib_text, c->p->calib_max_tokens);
    for (size_t l = 0; l < P->n_layers; l++) {
        xf_layer *L = &P->layers[l];
        xf_linear_w *lin[] = {&L->attn.q, &L->attn.k, &L->attn.v, &L->attn.o, &L->ffn.up, &L->ffn.gate, &L->ffn.down};
        for (size_t i = 0; i < 7; i++) {
            st = xf_model_sparsify_weight(m, &lin[i]->w, NULL);
            if (st) return st;
        }
        xf_cmp_progress(c, l + 1, P->n_layers);
    }
    return m->sparse_head ? xf_model_sparsify_head(m, NULL) : XF_OK;
}

/* ------------------------------------------------------------------ the driver */

enum { M_RMSNORM, M_HEADS, M_FFN, M_LOWRANK, M_24, M_Q8, M_Q4, M_COUNT };
/* q8 / q4: the kept values of 2:4 in 8 or 4 bits (s24q8 / s24q4), set on the 2:4 step */
static const char *const k_names[M_COUNT] = {"rmsnorm", "heads", "ffn", "lowrank", "2:4", "q8", "q4"};

static xf_status parse_methods(const char *s, int on[M_COUNT]) {
    memset(on, 0, M_COUNT * sizeof *on);
    if (!s || !*s) return xf_error(XF_ERR_INVALID_ARG, "no compression method given (rmsnorm, heads, ffn, lowrank, 2:4)");
    int any = 0;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        while (n && *s == ' ') s++, n--;
        while (n && s[n - 1] == ' ') n--;
        int k = -1;
        for (int i = 0; i < M_COUNT; i++)
            if (strlen(k_names[i]) == n && !strncmp(s, k_names[i], n)) k = i;
        if (n == 6 && !strncmp(s, "sparse", 6)) k = M_24;
        if (k < 0)
            return xf_error(XF_ERR_INVALID_ARG, "unknown compression method \"%.*s\" (known: rmsnorm, heads, ffn, lowrank, 2:4, and q8 / q4 with 2:4)",
                            (int)n, s);
        if (on[k]) return xf_error(XF_ERR_INVALID_ARG, "compression method \"%s\" is given twice", k_names[k]);
        on[k] = any = 1;
        if (!e) break;
        s = e + 1;
    }
    return any ? XF_OK : xf_error(XF_ERR_INVALID_ARG, "no compression method given");
}

static xf_status check_fracs(const char *what, float one, const float *list, size_t n, size_t n_layers, float lo,
                             int lo_open, float hi, int hi_open) {
    if (list && n != n_layers)
        return xf_error(XF_ERR_INVALID_ARG, "%s: %zu per-layer values for a model of %zu layers", what, n, n_layers);
    for (size_t i = 0; i < (list ? n : 1); i++) {
        const float v = list ? list[i] : one;
        if (!(lo_open ? v > lo : v >= lo) || !(hi_open ? v < hi : v <= hi)) {
            char where[32] = "";
            if (list) snprintf(where, sizeof where, " (layer %zu)", i);
            return xf_error(XF_ERR_RANGE, "%s %g%s is outside %s%g, %g%s", what, (double)v, where, lo_open ? "(" : "[",
                            (double)lo, (double)hi, hi_open ? ")" : "]");
        }
    }
    return XF_OK;
}

xf_status xf_model_compress(xf_model *m, const xf_compress_params *params) {
    if (!m || !params) return xf_error(XF_ERR_INVALID_ARG, "xf_model_compress: model and params are required");
    xf_compress_params p = xf_compress_default_params();
    xf_status st = xf_struct_in(&p, sizeof p, params, sizeof p, "xf_compress_params");
    if (st) return st;
    int on[M_COUNT];
    if ((st = parse_methods(p.methods, on))) return st;
    const size_t nl = m->plan.n_layers;
    if (on[M_HEADS] && (st = check_fracs("heads_prune", p.heads_prune, p.heads_prune_layers, p.n_heads_prune_layers, nl,
                                         0.0f, 0, 1.0f, 1)))
        return st;
    if ((on[M_FFN] || (on[M_LOWRANK] && !p.lowrank_rank)) &&
        (st = check_fracs("ffn_keep", p.ffn_keep, p.ffn_keep_layers, p.n_ffn_keep_layers, nl, 0.0f, 1, 1.0f, 0)))
        return st;
    if (on[M_FFN] && on[M_LOWRANK])
        return xf_error(XF_ERR_INVALID_ARG, "ffn and lowrank both size the FFN from ffn_keep: choose one");
    if (p.sparse_method != XF_SPARSE_MAGNITUDE && p.sparse_method != XF_SPARSE_WANDA && p.sparse_method != XF_SPARSE_SPARSEGPT)
        return xf_error(XF_ERR_INVALID_ARG,
                        "sparse_method %d is not XF_SPARSE_MAGNITUDE (0), XF_SPARSE_WANDA (1) or XF_SPARSE_SPARSEGPT (2)",
                        (int)p.sparse_method);
    const int calib = on[M_HEADS] || on[M_FFN] || on[M_LOWRANK] || (on[M_24] && p.sparse_method != XF_SPARSE_MAGNITUDE);
    if (calib && (!p.calib_text || !*p.calib_text))
        return xf_error(XF_ERR_INVALID_ARG, "%s needs calibration text (calib_text, --calib FILE)",
                        on[M_HEADS] ? "heads" : on[M_FFN] ? "ffn" : on[M_LOWRANK] ? "lowrank" : "2:4 with Wanda or SparseGPT");
    if ((on[M_Q8] || on[M_Q4]) && (!on[M_24] || (on[M_Q8] && on[M_Q4])))
        return xf_error(XF_ERR_INVALID_ARG, "q8 / q4 are the kept values of 2:4 sparsity: give one of them with 2:4 (e.g. \"2:4,q4\")");
    if (m->sparsity != XF_SPARSITY_NONE)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: the model was loaded sparse; load it dense to compress it", m->path);
    if (p.sparse_head != 0 && p.sparse_head != 1) return xf_error(XF_ERR_INVALID_ARG, "sparse_head %d is not 0 or 1", p.sparse_head);
    if (p.sparse_head && !on[M_24])
        return xf_error(XF_ERR_INVALID_ARG,
                        "sparse_head (--sparse-head) prunes the LM head 2:4: it needs the 2:4 method (e.g. \"2:4\" or \"2:4,q8\")");
    if (p.sparse_head && !m->plan.lm_head.w.data)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: sparse_head (--sparse-head): the model has no LM head to prune (an encoder)", m->path);
    if (on[M_24]) m->sparse_qbits = on[M_Q8] ? 8 : on[M_Q4] ? 4 : 0;
    xf_cmp_ctx c = {m, &p, NULL};
    static xf_status (*const run[M_COUNT])(xf_cmp_ctx *) = {xf_cmp_rmsnorm, xf_cmp_heads, xf_cmp_ffn, xf_cmp_lowrank, sparse24,
                                                            NULL, NULL};
    for (int k = 0; k < M_COUNT && !st; k++) {
        if (!on[k] || !run[k]) continue;
        c.stage = k_names[k];
        st = run[k](&c);
    }
    return st ? st : xf_model_finish_plan(m);
}
