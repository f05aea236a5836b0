/* prune_heads.c — attention head pruning ("heads"): each layer loses its least important query
 * heads at a target fraction, its Q rows and O columns shrink with them, and a key/value head goes
 * (its K and V rows) only when every query head of its group is gone, so grouped-query attention
 * keeps its grouping (groups of unequal size are the plan's q_off).
 *
 * Importance: the output norm of each head's contribution to the residual stream over calibration
 * text, sum_t ||W_o[:, h] a_h(t)||^2 = trace(W_o[:, h]^T W_o[:, h] G_h), G_h = sum_t a_h(t) a_h(t)^T
 * the Gram matrix of the head's attention output (the input of O restricted to the head's columns;
 * collected by xf_linear, block-diagonal with blocks of head_dim), exact, not a diagonal
 * approximation. Heads of a layer are ranked by it; the lowest round(fraction x heads) go (at least
 * one head stays). This is the output-norm criterion of head-pruning work (e.g. SHRP's routing
 * scores and Michel et al.'s ablations point the same way), one forward pass, no gradient.
 *
 * Paper: "SHRP: Specialized Head Routing and Pruning" (../shared/design/PAPERS.md) — heads as
 * independent experts, pruned by importance; Michel, Levy & Neubig 2019, "Are Sixteen Heads Really
 * Better than One?". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "core/alloc.h"
#include "core/error.h"
#include "model/formats.h"

/* Per query head of a layer: trace(W_h^T W_h G_h). */
static xf_status head_scores(const xf_attn_plan *a, const double *gram, double *score) {
    const size_t dh = a->head_dim, H = a->o.w.rows, QD = a->o.w.cols;
    float *W = xf_weight_dense_copy(&a->o.w); /* [H, QD] */
    double *M = W ? xf_malloc(dh * dh * sizeof *M) : NULL;
    if (!W || !M) {
        free(W), free(M);
        return xf_error(XF_ERR_NOMEM, "out of memory scoring heads");
    }
    for (size_t h = 0; h < a->n_heads; h++) {
        memset(M, 0, dh * dh * sizeof *M);
        for (size_t r = 0; r < H; r++) {
            const float *w = W + r * QD + h * dh;
            for (size_t i = 0; i < dh; i++)
                for (size_t j = 0; j < dh; j++) M[i * dh + j] += (double)w[i] * w[j];
        }
        const double *G = gram + h * dh * dh; /* upper triangle (plan.h); M is symmetric */
        double s = 0;
        for (size_t i = 0; i < dh; i++) {
            s += M[i * dh + i] * G[i * dh + i];
            for (size_t j = i + 1; j < dh; j++) s += 2.0 * M[i * dh + j] * G[i * dh + j];
        }
        score[h] = s;
    }
    free(W), free(M);
    return XF_OK;
}

/* Remove the query heads with drop[h] set from layer a; kv heads whose group empties go too. */
static xf_status remove_heads(xf_model *m, xf_attn_plan *a, const unsigned char *drop) {
    const size_t nh = a->n_heads, nkv = a->n_kv_heads, dh = a->head_dim;
    unsigned char *keep_q = xf_calloc(nh * dh, 1), *keep_kv = xf_calloc(nkv * dh, 1);
    size_t *q_off = xf_calloc(nkv + 1, sizeof *q_off);
    xf_status st = keep_q && keep_kv && q_off ? XF_OK : xf_error(XF_ERR_NOMEM, "out of memory pruning heads");
    size_t nh2 = 0, nkv2 = 0;
    for (size_t g = 0; !st && g < nkv; g++) {
        size_t h0, h1, kept = 0;
        xf_attn_group(a, g, &h0, &h1);
        for (size_t h = h0; h < h1; h++)
            if (!drop[h]) {
                memset(keep_q + h * dh, 1, dh);
                kept++;
            }
        if (!kept) continue;
        memset(keep_kv + g * dh, 1, dh);
        nh2 += kept;
        q_off[++nkv2] = nh2;
    }
    if (!st) st = xf_cmp_select(m, &a->q, keep_q, NULL);
    if (!st) st = xf_cmp_select(m, &a->k, keep_kv, NULL);
    if (!st) st = xf_cmp_select(m, &a->v, keep_kv, NULL);
    if (!st) st = xf_cmp_select(m, &a->o, NULL, keep_q);
    if (!st) {
        int equal = 1;
        for (size_t g = 0; g < nkv2; g++) equal &= q_off[g + 1] - q_off[g] == nh2 / nkv2 && nh2 % nkv2 == 0;
        free(a->q_off);
        a->q_off = NULL;
        if (!equal) a->q_off = q_off, q_off = NULL;
        a->n_heads = nh2;
        a->n_kv_heads = nkv2;
    }
    free(keep_q), free(keep_kv), free(q_off);
    return st;
}

typedef struct {
    double s;
    size_t h;
} ranked;

static int by_score(const void *x, const void *y) {
    const ranked *a = x, *b = y;
    if (a->s != b->s) return a->s < b->s ? -1 : 1;
    return a->h < b->h ? -1 : a->h > b->h; /* ties: the lower head goes first */
}

xf_status xf_cmp_heads(xf_cmp_ctx *c) {
    xf_model *m = c->m;
    xf_plan *P = &m->plan;
    size_t total = 0;
    for (size_t l = 0; l < P->n_layers; l++) total += P->layers[l].attn.n_heads * P->layers[l].attn.head_dim *
                                                       P->layers[l].attn.head_dim;
    double *gram = xf_calloc(total ? total : 1, sizeof *gram);
    if (!gram) return xf_error(XF_ERR_NOMEM, "cannot allocate head statistics");
    for (size_t l = 0, at = 0; l < P->n_layers; l++) {
        xf_attn_plan *a = &P->layers[l].attn;
        a->o.in_gram = gram + at;
        a->o.gram_block = a->head_dim;
        at += a->n_heads * a->head_dim * a->head_dim;
    }
    xf_cmp_progress(c, 0, P->n_layers);
    xf_status st = xf_model_calib_run(m, c->p->calib_text, c->p->calib_max_tokens, "head pruning");
    for (size_t l = 0; l < P->n_layers; l++) P->layers[l].attn.o.in_gram = NULL, P->layers[l].attn.o.gram_block = 0;
    double *score = NULL;
    ranked *r = NULL;
    unsigned char *drop = NULL;
    for (size_t l = 0, at = 0; !st && l < P->n_layers; l++) {
        xf_attn_plan *a = &P->layers[l].attn;
        const size_t nh = a->n_heads;
        const double *g = gram + at;
        at += nh * a->head_dim * a->head_dim;
        const float f = xf_cmp_layer_frac(c->p->heads_prune, c->p->heads_prune_layers, c->p->n_heads_prune_layers, l);
        size_t n_drop = (size_t)lround((double)f * (double)nh);
        if (n_drop >= nh) n_drop = nh - 1;
        if (!n_drop) continue;
        free(score), free(r), free(drop);
        score = xf_malloc(nh * sizeof *score), r = xf_malloc(nh * sizeof *r), drop = xf_calloc(nh, 1);
        if (!score || !r || !drop) {
            st = xf_error(XF_ERR_NOMEM, "out of memory pruning heads");
            break;
        }
        if ((st = head_scores(a, g, score))) break;
        for (size_t h = 0; h < nh; h++) r[h] = (ranked){score[h], h};
        qsort(r, nh, sizeof *r, by_score);
        for (size_t i = 0; i < n_drop; i++) drop[r[i].h] = 1;
        st = remove_heads(m, a, drop);
        xf_cmp_progress(c, l + 1, P->n_layers);
    }
    free(score), free(r), free(drop), free(gram);
    return st;
}
