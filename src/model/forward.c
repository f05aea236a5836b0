/* forward.c — the one forward pass (forward.h): embeddings, the layer loop over the plan, the
 * final norm; attention within a batch or against per-sequence KV caches. */
#include "model/forward.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "kernels/ops.h"
#include "model/attn_blocksparse.h"
#include "model/attn_vslash.h"
#include "kernels/probsparse.h"
#include "model/layers.h"

static size_t max_group(const xf_attn_plan *a) {
    if (!a->q_off) return a->n_heads / a->n_kv_heads;
    size_t g = 0;
    for (size_t i = 0; i < a->n_kv_heads; i++) g = a->q_off[i + 1] - a->q_off[i] > g ? a->q_off[i + 1] - a->q_off[i] : g;
    return g;
}

/* Per-thread ProbSparse scratch for sequences of at most T tokens (a multiple of 16 floats). */
static size_t probsparse_stride(const xf_attn_plan *a, size_t T) {
    return (xf_probsparse_scratch(T, a->head_dim) + 15) & ~(size_t)15;
}

size_t xf_attention_layer_scratch(const xf_attn_plan *a, size_t T, int n_threads) {
    const size_t qd = a->n_heads * a->head_dim, kvd = a->n_kv_heads * a->head_dim;
    const size_t ps = a->probsparse > 0.0f ? (size_t)n_threads * probsparse_stride(a, T) + 16 + T : 0;
    return 2 * T * qd + 2 * T * kvd + xf_attend_scratch(max_group(a), a->head_dim, n_threads) + ps;
}

void xf_fwd_ws_free(xf_fwd_ws *ws) {
    if (!ws) return;
    free(ws->buf);
    free(ws->rope);
    free(ws->probs);
    free(ws->acc);
    memset(ws, 0, sizeof *ws);
}

xf_status xf_fwd_reserve(const xf_model *m, xf_fwd_ws *ws, size_t T, size_t n_seq) {
    const xf_plan *P = &m->plan;
    const int nth = xf_pool_size(m->pool);
    size_t need = 0, base;
    for (size_t l = 0; l < P->n_layers; l++) {
        size_t a = xf_attention_layer_scratch(&P->layers[l].attn, T, nth), f = xf_ffn_scratch(&P->layers[l].ffn, T);
        need = a > need ? a : need;
        need = f > need ? f : need;
    }
    if (!xf_mul_ok(2 * T, P->hidden, &base) || need + base < need)
        return xf_error(XF_ERR_NOMEM, "workspace for %zu tokens overflows", T);
    need += base;
    if (need > ws->cap) {
        size_t bytes;
        if (!xf_mul_ok(need, sizeof(float), &bytes)) return xf_error(XF_ERR_NOMEM, "workspace of %zu floats overflows", need);
        float *b = xf_aligned_alloc(bytes);
        if (!b) return xf_error(XF_ERR_NOMEM, "cannot allocate a %zu-byte activation workspace", bytes);
        free(ws->buf);
        ws->buf = b;
        ws->cap = need;
    }
    if (n_seq > ws->probs_cap) {
        xf_attn_problem *p = xf_realloc(ws->probs, n_seq * sizeof *p);
        if (!p) return xf_error(XF_ERR_NOMEM, "cannot allocate %zu attention problems", n_seq);
        ws->probs = p;
        ws->probs_cap = n_seq;
    }
    return XF_OK;
}

xf_status xf_fwd_check(const xf_model *m, const xf_fwd *f) {
    const xf_plan *P = &m->plan;
    if (f->first_layer > P->n_layers)
        return xf_error(XF_ERR_RANGE, "forward from layer %zu of a %zu-layer model", f->first_layer, P->n_layers);
    const size_t T = f->off[f->n_seq], V = P->tok_emb.rows;
    size_t max_pos = SIZE_MAX;
    if (P->pos_emb.data) max_pos = P->pos_emb.rows;
    if (P->rope.cos && P->rope.n_pos < max_pos) max_pos = P->rope.n_pos;
    for (size_t t = 0; t < T; t++) {
        if (f->ids[t] < 0 || (size_t)f->ids[t] >= V)
            return xf_error(XF_ERR_RANGE, "token id %d is outside the vocabulary of %zu", f->ids[t], V);
        if (f->type_ids && P->type_emb.data && (f->type_ids[t] < 0 || (size_t)f->type_ids[t] >= P->type_emb.rows))
            return xf_error(XF_ERR_RANGE, "token type id %d is outside [0, %zu)", f->type_ids[t], P->type_emb.rows);
        if (f->pos[t] < 0 || (size_t)f->pos[t] >= max_pos)
            return xf_error(XF_ERR_RANGE, "token position %d is beyond the model's %zu positions", f->pos[t], max_pos);
    }
    return XF_OK;
}

/* ---------------------------------------------------------------- attention sublayer */

/* Positions pos[0..L) are 0, 1, ..., L - 1. */
static int positions_in_order(const int32_t *pos, size_t L) {
    for (size_t i = 0; i < L; i++)
        if ((size_t)pos[i] != i) return 0;
    return 1;
}

/* The attention weights a cache policy scores keys by (H2O, SnapKV): query rows [q0, n_q) of one
 * sequence's problem, summed per head into w [n_heads][ldw], the query heads split between the
 * threads (each head's sums are one thread's, in row order: the same at any thread count). */
typedef struct {
    const xf_attn_plan *a;
    const xf_attn_problem *p;
    size_t q0;
    float *w;
    size_t ldw;
} policy_weights;

#define POLICY_WEIGHTS_FLOATS ((size_t)1 << 20) /* 4 MiB of scores a thread at most */

/* The query heads [*lo, *hi) of group g among the thread's heads [a0, a1) (empty: *lo >= *hi). */
static void heads_of_group(const xf_attn_plan *a, size_t g, size_t a0, size_t a1, size_t *lo, size_t *hi) {
    size_t h0, h1;
    xf_attn_group(a, g, &h0, &h1);
    *lo = h0 > a0 ? h0 : a0, *hi = h1 < a1 ? h1 : a1;
}

static void policy_weights_task(void *ctx, int ith, int nth) {
    const policy_weights *pw = ctx;
    const xf_attn_problem *p = pw->p;
    size_t a0, a1, lo, hi;
    xf_split_range(pw->a->n_heads, 1, ith, nth, &a0, &a1);
    if (a0 >= a1) return;
    /* every row of the thread's heads of one group at once, or as many as 4 MiB hold (at least one) */
    size_t nh = 0;
    for (size_t g = 0; g < pw->a->n_kv_heads; g++) {
        heads_of_group(pw->a, g, a0, a1, &lo, &hi);
        nh = hi > lo && hi - lo > nh ? hi - lo : nh;
    }
    const size_t all = xf_attention_received_scratch(p, nh, p->n_q - pw->q0), one = xf_attention_received_scratch(p, nh, 1);
    const size_t floats = all < POLICY_WEIGHTS_FLOATS ? all : one > POLICY_WEIGHTS_FLOATS ? one : POLICY_WEIGHTS_FLOATS;
    float *scratch = xf_aligned_alloc(floats * sizeof *scratch); /* NULL: the scalar reference path */
    for (size_t g = 0; g < pw->a->n_kv_heads; g++) {
        size_t h0, h1;
        xf_attn_group(pw->a, g, &h0, &h1);
        heads_of_group(pw->a, g, a0, a1, &lo, &hi);
        if (lo < hi)
            xf_attention_received(p, g, lo - h0, hi - h0, pw->q0, p->n_q, pw->w + lo * pw->ldw, pw->ldw, scratch,
                                  scratch ? floats : 0);
    }
    free(scratch);
}

void xf_attention_layer(xf_pool *pool, const xf_attn_plan *a, const xf_fwd *f, size_t layer, const float *Xn,
                        float *Y, xf_attn_problem *probs, float *scratch) {
    const size_t T = f->off[f->n_seq], dh = a->head_dim, qd = a->n_heads * dh, kvd = a->n_kv_heads * dh;
    float *Q = scratch, *K = Q + T * qd, *V = K + T * kvd, *O = V + T * kvd, *att = O + T * qd;
    const xf_linear_w *qkv[3] = {&a->q, &a->k, &a->v};
    float *const out[3] = {Q, K, V};
    xf_linears_as(pool, 3, qkv, Xn, T, f->path_rows, out);
    if (a->rope) xf_rope_rows(pool, a, Q, qd, K, kvd, f->pos, T, f->rope_cos, f->rope_sin);
    const size_t group = max_group(a);
    for (size_t s = 0; s < f->n_seq; s++) {
        const size_t o = f->off[s], L = f->off[s + 1] - o;
        xf_attn_problem p = {.Q = Q + o * qd, .O = O + o * qd, .ldq = qd, .ldo = qd, .n_q = L, .dh = dh,
                             .group = group, .h_off = a->q_off, .scale = a->scale, .causal = a->causal,
                             .window = a->window, .sinks = a->sinks, .ldk = kvd, .ldv = kvd};
        if (f->kv) {
            xf_kv_layer *C = &f->kv[s]->layers[layer];
            const size_t first = C->n;
            xf_kv_append(C, K + o * kvd, V + o * kvd, kvd, f->pos + o, L);
            p.K = C->k, p.V = C->v, p.n_k = C->n, p.kv_f16 = C->type == XF_KV_F16;
            if (C->type == XF_KV_Q8 || C->type == XF_KV_Q4) p.kv_tile = xf_kv_tile, p.kv_ctx = C;
            if (C->in_order) p.q_pos0 = first;
            else p.k_pos = C->pos, p.q_pos = f->pos + o;
            xf_kv_cache *kc = f->kv[s];
            /* a decode step of a layer without a window: Quest reads the top pages only, gathered */
            if (kc->quest_budget && L == 1 && C->n > kc->quest_budget && !a->window &&
                xf_quest_select(C, a, Q + o * qd, kc->quest_budget) * C->page < C->n) {
                const size_t rows = xf_quest_gather(C, a->n_kv_heads, kc->quest_k, kc->quest_v, kc->quest_rows);
                if (rows) { /* the newest query sees every slot: causal, the query at the last row */
                    p.K = kc->quest_k, p.V = kc->quest_v, p.n_k = rows, p.q_pos0 = rows - 1;
                    p.kv_f16 = 0, p.kv_tile = NULL, p.kv_ctx = NULL, p.k_pos = p.q_pos = NULL;
                }
            }
        } else {
            p.K = K + o * kvd, p.V = V + o * kvd, p.n_k = L, p.k_bias = f->k_bias ? f->k_bias + o : NULL;
            if ((a->causal || a->window) && !positions_in_order(f->pos + o, L)) p.k_pos = p.q_pos = f->pos + o;
        }
        if (a->block_density > 0.0f && !p.k_bias && xf_block_sparse_applies(&p, a->block_density)) {
            /* a prompt: each tile of queries reads its top key blocks (NULL on no memory: dense) */
            p.kblocks = xf_block_sparse_select(&p, a->n_kv_heads, a->n_heads, a->block_density);
            p.kblocks_ld = (p.n_k + XF_ATTN_KEYS - 1) / XF_ATTN_KEYS;
            p.kblocks_nqt = (p.n_q + XF_ATTN_KEYS - 1) / XF_ATTN_KEYS;
        }
        probs[s] = p;
    }
    size_t *vs_nq = NULL; /* vertical-slash prefill: the sequences it attended (their n_q; 0: not) */
    for (size_t s = 0; a->vslash_density > 0.0f && s < f->n_seq; s++) {
        xf_vslash v;
        if (probs[s].k_bias || !xf_vslash_applies(&probs[s], a->vslash_density) ||
            xf_vslash_select(&probs[s], a->n_kv_heads, a->vslash_density, &v))
            continue;
        if (!vs_nq) vs_nq = xf_calloc(f->n_seq, sizeof *vs_nq);
        if (vs_nq && xf_vslash_attend(pool, &probs[s], a->n_kv_heads, &v) >= 0.0)
            vs_nq[s] = probs[s].n_q, probs[s].n_q = 0; /* dense attention skips it (n_q 0), then back */
        xf_vslash_free(&v);
    }
    if (a->probsparse > 0.0f) {
        /* ProbSparse for the sequences it applies to and shortens (u < L); the others run dense */
        float *ps = att + xf_attend_scratch(group, dh, xf_pool_size(pool));
        unsigned char *on = (unsigned char *)ps;
        ps = (float *)(((uintptr_t)(ps + T) + 63) & ~(uintptr_t)63);
        size_t n_on = 0;
        for (size_t s = 0; s < f->n_seq; s++) {
            on[s] = !probs[s].k_bias && xf_probsparse_applies(&probs[s]) && xf_probsparse_top(a->probsparse, probs[s].n_q) < probs[s].n_q;
            n_on += on[s];
        }
        if (n_on) {
            xf_attend_probsparse(pool, probs, on, f->n_seq, a->n_kv_heads, a->probsparse, a->probsparse_exact, ps,
                                 probsparse_stride(a, T));
            for (size_t s = 0; s < f->n_seq; s++) /* dense attention skips them (n_q 0), then back */
                if (on[s]) probs[s].n_q = 0;
            xf_attend(pool, probs, f->n_seq, a->n_kv_heads, att);
            for (size_t s = 0; s < f->n_seq; s++)
                if (on[s]) probs[s].n_q = probs[s].n_k;
        } else
            xf_attend(pool, probs, f->n_seq, a->n_kv_heads, att);
    } else
        xf_attend(pool, probs, f->n_seq, a->n_kv_heads, att);
    for (size_t s = 0; vs_nq && s < f->n_seq; s++)
        if (vs_nq[s]) probs[s].n_q = vs_nq[s];
    free(vs_nq);
    for (size_t s = 0; f->kv && s < f->n_seq; s++) { /* attention weights for the cache policy */
        xf_kv_layer *C = &f->kv[s]->layers[layer];
        /* want_w 2 (SnapKV): the weights of a prompt's last forward only (n_pending 0), not of decode steps */
        if (!C->want_w || (C->want_w == 2 && (probs[s].n_q == 1 || f->kv[s]->n_pending))) continue;
        memset(C->w, 0, C->n_heads * C->cap * sizeof *C->w);
        /* a Quest step attended gathered rows: their weights go back to the slots they came from */
        const int gathered = probs[s].K && probs[s].K == f->kv[s]->quest_k;
        float *w = gathered ? f->kv[s]->quest_w : C->w;
        const size_t ldw = gathered ? probs[s].n_k : C->cap;
        if (gathered) memset(w, 0, C->n_heads * ldw * sizeof *w);
        const size_t nq = probs[s].n_q;
        policy_weights pw = {a, &probs[s], C->w_last && C->w_last < nq ? nq - C->w_last : 0, w, ldw};
        xf_pool_run(pool, policy_weights_task, &pw);
        if (gathered) xf_quest_scatter(C, a, w, ldw, C->w, C->cap);
    }
    for (size_t s = 0; s < f->n_seq; s++) {
        free((void *)probs[s].kblocks);
        probs[s].kblocks = NULL;
    }
    xf_linear_as(pool, &a->o, O, T, f->path_rows, Y);
}

/* ---------------------------------------------------------------- the loop */

xf_status xf_fwd_keep_tokens(xf_fwd *f, size_t hidden, const unsigned char *keep) {
    size_t o = 0;
    for (size_t s = 0; s < f->n_seq; s++) {
        const size_t a = f->off[s], e = f->off[s + 1], start = o;
        for (size_t t = a; t < e; t++) {
            if (!keep[t]) continue;
            if (o != t) {
                memmove(f->X + o * hidden, f->X + t * hidden, hidden * sizeof *f->X);
                f->pos[o] = f->pos[t];
                if (f->rope_cos) {
                    memmove(f->rope_cos + o * f->rope_half, f->rope_cos + t * f->rope_half, f->rope_half * sizeof(float));
                    memmove(f->rope_sin + o * f->rope_half, f->rope_sin + t * f->rope_half, f->rope_half * sizeof(float));
                }
            }
            o++;
        }
        if (o == start) return xf_error(XF_ERR_INVALID_ARG, "dropping tokens would leave sequence %zu empty", s);
        f->off[s] = start;
    }
    f->off[f->n_seq] = o;
    return XF_OK;
}

/* Dynamic NTK: rotary rows for this forward when a sequence reaches past the trained length
 * (each sequence's rows with the base of its length, as transformers recomputes inv_freq from the
 * largest position it is given); none otherwise. */
static xf_status dynamic_rope(const xf_plan *P, xf_fwd *f, xf_fwd_ws *ws) {
    const xf_rope_tab *r = &P->rope;
    const size_t T = f->off[f->n_seq];
    f->rope_cos = f->rope_sin = NULL;
    f->rope_half = r->half;
    if (!r->dyn_from || !r->cos) return XF_OK;
    int past = 0;
    for (size_t t = 0; t < T; t++) past |= (size_t)f->pos[t] + 1 > r->dyn_from;
    if (!past && f->rope_len <= r->dyn_from) return XF_OK;
    const size_t need = 2 * T * r->half;
    if (need > ws->rope_cap) {
        float *b = xf_malloc(need * sizeof *b);
        if (!b) return xf_error(XF_ERR_NOMEM, "cannot allocate rotary rows for %zu tokens", T);
        free(ws->rope);
        ws->rope = b, ws->rope_cap = need;
    }
    f->rope_cos = ws->rope, f->rope_sin = ws->rope + T * r->half;
    for (size_t s = 0; s < f->n_seq; s++) {
        const size_t a = f->off[s], e = f->off[s + 1];
        size_t len = f->rope_len;
        for (size_t t = a; t < e; t++) len = (size_t)f->pos[t] + 1 > len ? (size_t)f->pos[t] + 1 : len;
        xf_rope_params p = r->params;
        p.seq_len = (double)len;
        xf_rope_rows_at(&p, f->pos + a, e - a, f->rope_cos + a * r->half, f->rope_sin + a * r->half);
    }
    return XF_OK;
}

/* Memory for the attention-received sums of layers marked in f->want_acc (before the loop). */
static xf_status reserve_acc(xf_model *m, xf_fwd *f, xf_fwd_ws *ws) {
    const xf_plan *P = &m->plan;
    size_t heads = 0, any = 0, longest = 0;
    for (size_t l = f->first_layer; l < P->n_layers; l++)
        if (f->want_acc[l]) {
            any = 1;
            heads = P->layers[l].attn.n_heads > heads ? P->layers[l].attn.n_heads : heads;
        }
    f->acc = NULL;
    if (!any) return XF_OK;
    if (f->kv) return xf_error(XF_ERR_UNSUPPORTED, "attention-received scores need a batch without KV caches");
    const size_t T = f->off[f->n_seq], need = (heads + 1) * T;
    for (size_t s = 0; s < f->n_seq; s++) longest = f->off[s + 1] - f->off[s] > longest ? f->off[s + 1] - f->off[s] : longest;
    xf_status st = xf_pool_reserve(m->pool, 64 * longest * sizeof(float));
    if (st) return st;
    if (need > ws->acc_cap) {
        float *a = xf_aligned_alloc(need * sizeof *a);
        if (!a) return xf_error(XF_ERR_NOMEM, "cannot allocate attention scores for %zu tokens", T);
        free(ws->acc);
        ws->acc = a;
        ws->acc_cap = need;
    }
    f->acc = ws->acc;
    return XF_OK;
}

xf_status xf_forward(xf_model *m, xf_fwd *f, xf_fwd_ws *ws) {
    const xf_plan *P = &m->plan;
    const size_t H = P->hidden;
    size_t T = f->off[f->n_seq];
    float *X = f->X, *Xn = ws->buf, *Y = Xn + T * H, *scratch = Y + T * H;
    xf_status st = dynamic_rope(P, f, ws);
    if (st) return st;
    if (f->want_acc) {
        st = reserve_acc(m, f, ws);
        if (st) return st;
    }

    if (f->first_layer == 0) {
        xf_embed_rows(&P->tok_emb, f->ids, T, X);
        if (P->pos_emb.data) xf_embed_add(&P->pos_emb, f->pos, T, X);
        if (P->type_emb.data) xf_embed_add(&P->type_emb, f->type_ids, T, X);
        xf_add_norm(m->pool, &P->emb_norm, X, NULL, T);
    }
    f->layers_run = f->first_layer;
    for (size_t l = f->first_layer; l < P->n_layers; l++) {
        const xf_layer *L = &P->layers[l];
        T = f->off[f->n_seq];
        const int acc = f->acc && f->want_acc[l];
        if (L->post_norm) {
            xf_attention_layer(m->pool, &L->attn, f, l, X, Y, ws->probs, scratch);
            if (acc) /* the scores and Q, K in scratch live until the FFN */
                xf_attend_received(m->pool, ws->probs, f->n_seq, L->attn.n_kv_heads, L->attn.n_heads, f->off, f->acc,
                                   f->acc + T);
            xf_add_norm(m->pool, &L->norm_attn, X, Y, T);
            xf_ffn_as(m->pool, &L->ffn, X, T, f->path_rows, Y, scratch);
            xf_add_norm(m->pool, &L->norm_ffn, X, Y, T);
        } else {
            memcpy(Xn, X, T * H * sizeof *X);
            xf_add_norm(m->pool, &L->norm_attn, Xn, NULL, T);
            xf_attention_layer(m->pool, &L->attn, f, l, Xn, Y, ws->probs, scratch);
            if (acc)
                xf_attend_received(m->pool, ws->probs, f->n_seq, L->attn.n_kv_heads, L->attn.n_heads, f->off, f->acc,
                                   f->acc + T);
            xf_add_inplace(X, Y, T * H);
            memcpy(Xn, X, T * H * sizeof *X);
            xf_add_norm(m->pool, &L->norm_ffn, Xn, NULL, T);
            xf_ffn_as(m->pool, &L->ffn, Xn, T, f->path_rows, Y, scratch);
            xf_add_inplace(X, Y, T * H);
        }
        f->layers_run = l + 1;
        if (f->hook) {
            int stop = 0;
            st = f->hook(f->hook_ctx, f, l, &stop);
            if (st) return st;
            if (stop) break;
        }
    }
    xf_add_norm(m->pool, &P->final_norm, X, NULL, f->off[f->n_seq]);
    return XF_OK;
}
