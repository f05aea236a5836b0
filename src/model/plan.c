/* plan.c — what the plan owns, and the shape checks of a layer plan. */
#include "model/plan.h"

#include <stdlib.h>

#include "core/error.h"
#include "model/formats.h"

void xf_plan_free(xf_plan *p) {
    if (!p) return;
    for (size_t l = 0; p->layers && l < p->n_layers; l++) free(p->layers[l].attn.q_off);
    free(p->layers);
    xf_rope_tab *tabs[] = {&p->rope, &p->rope_local};
    for (int i = 0; i < 2; i++) {
        free(tabs[i]->cos);
        free(tabs[i]->sin);
        free(tabs[i]->freq_factors);
        tabs[i]->freq_factors = NULL;
        tabs[i]->cos = tabs[i]->sin = NULL;
    }
    p->layers = NULL;
    p->n_layers = 0;
}

/* A linear weight [out, in] (bias [out] when present) with the expected sizes. */
static xf_status check_linear(const xf_linear_w *l, size_t out, size_t in, const char *where, const char *what) {
    if (!l->w.data) return xf_error(XF_ERR_FORMAT, "%s: %s weight is missing", where, what);
    if (l->w.rows != out || l->w.cols != in)
        return xf_error(XF_ERR_FORMAT, "%s: %s weight \"%s\" is [%zu, %zu], expected [%zu, %zu]", where, what,
                        l->w.name ? l->w.name : "?", l->w.rows, l->w.cols, out, in);
    if (l->b.data && l->b.rows * l->b.cols != out)
        return xf_error(XF_ERR_FORMAT, "%s: %s bias \"%s\" has %zu values, expected %zu", where, what,
                        l->b.name ? l->b.name : "?", l->b.rows * l->b.cols, out);
    return XF_OK;
}

xf_status xf_layer_check(const xf_layer *L, size_t hidden, const char *where) {
    const xf_attn_plan *a = &L->attn;
    const xf_ffn_plan *f = &L->ffn;
    if (!a->n_heads || !a->n_kv_heads || !a->head_dim || a->n_kv_heads > a->n_heads)
        return xf_error(XF_ERR_FORMAT, "%s: %zu query heads, %zu key/value heads of %zu: not a valid attention", where,
                        a->n_heads, a->n_kv_heads, a->head_dim);
    if (a->q_off) {
        if (a->q_off[0] != 0 || a->q_off[a->n_kv_heads] != a->n_heads)
            return xf_error(XF_ERR_FORMAT, "%s: query-head groups do not cover the %zu heads", where, a->n_heads);
        for (size_t g = 0; g < a->n_kv_heads; g++)
            if (a->q_off[g + 1] <= a->q_off[g])
                return xf_error(XF_ERR_FORMAT, "%s: key/value head %zu has no query head left", where, g);
    } else if (a->n_heads % a->n_kv_heads) {
        return xf_error(XF_ERR_FORMAT, "%s: %zu query heads are not a multiple of %zu key/value heads", where,
                        a->n_heads, a->n_kv_heads);
    }
    if (a->rope && a->head_dim % 2) return xf_error(XF_ERR_FORMAT, "%s: rotary head size %zu is odd", where, a->head_dim);
    if (a->rope && a->rope->half != a->head_dim / 2)
        return xf_error(XF_ERR_FORMAT, "%s: head size %zu does not match the rotary tables (%zu)", where, a->head_dim,
                        2 * a->rope->half);
    const size_t qd = a->n_heads * a->head_dim, kvd = a->n_kv_heads * a->head_dim;
    xf_status st;
    if ((st = check_linear(&a->q, qd, hidden, where, "query")) || (st = check_linear(&a->k, kvd, hidden, where, "key")) ||
        (st = check_linear(&a->v, kvd, hidden, where, "value")) || (st = check_linear(&a->o, hidden, qd, where, "output")))
        return st;
    if (!f->width) return xf_error(XF_ERR_FORMAT, "%s: the FFN has no hidden unit", where);
    if ((st = check_linear(&f->up, f->width, hidden, where, "FFN up")) ||
        (f->gated && (st = check_linear(&f->gate, f->width, hidden, where, "FFN gate"))) ||
        (st = check_linear(&f->down, hidden, f->width, where, "FFN down")))
        return st;
    const xf_norm_w *norms[] = {&L->norm_attn, &L->norm_ffn};
    for (int i = 0; i < 2; i++)
        if (norms[i]->kind != XF_NORM_NONE && norms[i]->g.rows * norms[i]->g.cols != hidden)
            return xf_error(XF_ERR_FORMAT, "%s: norm \"%s\" has %zu values, expected %zu", where,
                            norms[i]->g.name ? norms[i]->g.name : "?", norms[i]->g.rows * norms[i]->g.cols, hidden);
    return XF_OK;
}
