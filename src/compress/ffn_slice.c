/* ffn_slice.c — FFN width by nested slicing ("ffn"): each layer keeps its most important FFN
 * neurons (hidden units), a fraction per layer (one value or a per-layer list: MatFormer's
 * Mix'n'Match). A neuron j is row j of up (and gate) and column j of down; its importance over
 * calibration text is mean_t |a_j(t)| x ||W_down[:, j]||_2, a_j the input of down (the activation,
 * times the gate's for SwiGLU). One ordering per layer: any width keeps the top of the same list,
 * so the widths are nested as in MatFormer (the kept neurons stay in their original order, so the
 * sliced model computes exactly the dense model with the other neurons' outputs zeroed).
 *
 * Paper: Devvrit et al., "MatFormer: Nested Transformer for Elastic Inference" (2023) — nested FFN
 * widths chosen per layer; the importance ordering here stands in for MatFormer's training. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "core/alloc.h"
#include "core/error.h"
#include "model/formats.h"

typedef struct {
    double s;
    size_t j;
} ranked;

static int by_score_desc(const void *x, const void *y) {
    const ranked *a = x, *b = y;
    if (a->s != b->s) return a->s > b->s ? -1 : 1;
    return a->j < b->j ? -1 : a->j > b->j; /* ties: the lower neuron is kept first */
}

xf_status xf_cmp_ffn_importance(xf_cmp_ctx *c, double **out) {
    xf_plan *P = &c->m->plan;
    size_t total = 0;
    for (size_t l = 0; l < P->n_layers; l++) total += P->layers[l].ffn.width;
    double *acc = xf_calloc(total ? total : 1, sizeof *acc);
    if (!acc) return xf_error(XF_ERR_NOMEM, "cannot allocate FFN statistics");
    for (size_t l = 0, at = 0; l < P->n_layers; l++) {
        P->layers[l].ffn.down.in_abs = acc + at;
        at += P->layers[l].ffn.width;
    }
    xf_status st = xf_model_calib_run(c->m, c->p->calib_text, c->p->calib_max_tokens, c->stage);
    for (size_t l = 0; l < P->n_layers; l++) P->layers[l].ffn.down.in_abs = NULL;
    for (size_t l = 0, at = 0; !st && l < P->n_layers; l++) { /* x ||W_down[:, j]|| */
        const xf_linear_w *d = &P->layers[l].ffn.down;
        float *W = xf_weight_dense_copy(&d->w);
        if (!W) {
            st = XF_ERR_NOMEM;
            break;
        }
        for (size_t j = 0; j < d->w.cols; j++) {
            double n2 = 0;
            for (size_t r = 0; r < d->w.rows; r++) n2 += (double)W[r * d->w.cols + j] * W[r * d->w.cols + j];
            acc[at + j] *= sqrt(n2);
        }
        at += d->w.cols;
        free(W);
    }
    if (st) free(acc);
    else *out = acc;
    return st;
}

size_t xf_cmp_ffn_kept(const xf_cmp_ctx *c, size_t l, size_t width) {
    const float f = xf_cmp_layer_frac(c->p->ffn_keep, c->p->ffn_keep_layers, c->p->n_ffn_keep_layers, l);
    size_t k = (size_t)lround((double)f * (double)width);
    return k < 1 ? 1 : k > width ? width : k;
}

xf_status xf_cmp_ffn(xf_cmp_ctx *c) {
    xf_model *m = c->m;
    xf_plan *P = &m->plan;
    double *imp = NULL;
    xf_cmp_progress(c, 0, P->n_layers);
    xf_status st = xf_cmp_ffn_importance(c, &imp);
    ranked *r = NULL;
    unsigned char *keep = NULL;
    for (size_t l = 0, at = 0; !st && l < P->n_layers; l++) {
        xf_ffn_plan *f = &P->layers[l].ffn;
        const size_t W = f->width, k = xf_cmp_ffn_kept(c, l, W);
        const double *s = imp + at;
        at += W;
        if (k == W) continue;
        free(r), free(keep);
        r = xf_malloc(W * sizeof *r), keep = xf_calloc(W, 1);
        if (!r || !keep) {
            st = xf_error(XF_ERR_NOMEM, "out of memory slicing FFNs");
            break;
        }
        for (size_t j = 0; j < W; j++) r[j] = (ranked){s[j], j};
        qsort(r, W, sizeof *r, by_score_desc);
        for (size_t i = 0; i < k; i++) keep[r[i].j] = 1;
        if (!st) st = xf_cmp_select(m, &f->up, keep, NULL);
        if (!st && f->gate.w.data) st = xf_cmp_select(m, &f->gate, keep, NULL);
        if (!st) st = xf_cmp_select(m, &f->down, NULL, keep);
        if (!st) f->width = k;
        xf_cmp_progress(c, l + 1, P->n_layers);
    }
    free(r), free(keep), free(imp);
    return st;
}
