/* kv_policy_snapkv_head.c — SnapKV with its keys chosen per key/value head, as the paper selects
 * them (per head; on a model with grouped-query attention a key/value head serves several query
 * heads, whose window attention is summed, as implementations of SnapKV for GQA models do). The
 * rule is kv_policy_snapkv.c's — the last XF_SNAPKV_WINDOW prompt queries' attention on the
 * earlier keys, average-pooled over XF_SNAPKV_KERNEL neighbours, the budget - window best kept with
 * the window — applied to each key/value head alone, so that each keeps the tokens its own query
 * heads look at (xf_kv_keep_heads: slot j of two heads may then hold different tokens). During
 * generation each head drops its own lowest-pooled prompt slot first, then its oldest generated
 * one, never its first XF_SNAPKV_SINKS slots; a prompt longer than n_ctx is cut while it is read by
 * StreamingLLM's rule, the same slots in every head.
 *
 * Since a slot no longer has one position, the policy refuses layers with a sliding window
 * (their masks read positions); every kept slot is older than the queries to come, which is all a
 * causal mask needs. Scores: per layer, slot i of head g at score[l][i * n_kv_heads + g]. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/kv_cache.h"

static xf_status skh_init(xf_kv_cache *c, void **state) {
    xf_status st = xf_kv_per_head_check(c, "snapkv-head", "snapkv");
    return st ? st : xf_snapkv_init(c, state, "snapkv-head");
}

static xf_status skh_prefill(void *state, xf_kv_cache *c, size_t n_new) {
    xf_kv_scores *s = state;
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        xf_status st = xf_kv_scores_room_heads(s, L, l, L->n - n_new, INFINITY);
        if (st) return st;
        if (c->n_pending || L->n <= c->budget) continue;
        /* the end of a prompt: score each head's keys before the observation window */
        const size_t H = L->n_kv_heads, win = n_new < XF_SNAPKV_WINDOW ? n_new : XF_SNAPKV_WINDOW, pre = L->n - win;
        float *col = s->raw + L->n;
        for (size_t g = 0; g < H; g++) {
            size_t h0, h1;
            xf_kv_group(L, g, &h0, &h1);
            for (size_t j = 0; j < pre; j++) {
                float a = 0.0f;
                for (size_t h = h0; h < h1; h++) a += L->w[h * L->cap + j];
                s->raw[j] = a;
            }
            xf_snapkv_pool(s->raw, pre, XF_SNAPKV_KERNEL, col);
            for (size_t j = 0; j < pre; j++) s->score[l][j * H + g] = col[j];
        }
        xf_kv_scores_keep_top_heads(s, L, l, c->budget, 0, win);
    }
    return XF_OK;
}

static xf_status skh_step(void *state, xf_kv_cache *c) {
    xf_kv_scores *s = state;
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        xf_status st = xf_kv_scores_room_heads(s, L, l, L->n - 1, INFINITY);
        if (st) return st;
        if (L->n <= c->budget) continue;
        xf_kv_scores_keep_top_heads(s, L, l, c->budget, XF_SNAPKV_SINKS, 0);
    }
    return XF_OK;
}

static xf_status skh_full(void *state, xf_kv_cache *c, size_t need) {
    xf_kv_scores *s = state;
    const size_t target = c->max_slots - need, sinks = target < XF_SNAPKV_SINKS ? target : XF_SNAPKV_SINKS;
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        if (L->n <= target) continue;
        xf_status st = xf_kv_scores_room_heads(s, L, l, L->n, INFINITY);
        if (st) return st;
        const size_t H = L->n_kv_heads;
        memset(s->keep, 0, L->n);
        xf_kv_mark_sinks_recent(L->n, sinks, target - sinks, s->keep);
        for (size_t i = 0, o = 0; i < L->n; i++)
            if (s->keep[i]) memmove(s->score[l] + o++ * H, s->score[l] + i * H, H * sizeof(float));
        xf_kv_keep(L, s->keep);
    }
    return XF_OK;
}

const xf_kv_policy xf_kv_snapkv_head = {"snapkv-head", 1, skh_init, skh_prefill, skh_step, skh_full,
                                         xf_snapkv_free};
