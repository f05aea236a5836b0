/* kv_policy_snapkv.c — SnapKV (Li et al., "SnapKV: LLM Knows What You are Looking for Before
 * Generation", 2024): at the end of a prompt, the attention of its last XF_SNAPKV_WINDOW queries
 * (the observation window) on the earlier keys, summed over the window and the layer's query
 * heads, average-pooled over neighbouring keys (kernel XF_SNAPKV_KERNEL, zero padding, as the
 * paper's avg_pool1d), chooses which budget - window prompt keys stay; the window's own keys stay.
 * The paper selects per head; this policy sums the layer's heads and keeps the same tokens for all
 * of them (the layer-wise variant); "snapkv-head" (kv_policy_snapkv_head.c) selects per key/value
 * head.
 *
 * During generation the new tokens are kept; past the budget, the kept prompt slot of lowest
 * pooled score goes first, then the oldest generated ones, but never the session's first 4 slots
 * (the attention sinks StreamingLLM keeps: without them a long generation, or a session fed one
 * token at a time, ends as a bare sliding window, whose perplexity collapses — SmolLM2, budget
 * 256: 51.2 against StreamingLLM's 29.8; docs/LONG_CONTEXT.md). A prompt longer than the session's
 * n_ctx is cut while it is read: the oldest slots after 4 sinks go (StreamingLLM's rule), since
 * nothing is scored yet. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/kv_cache.h"

void xf_snapkv_free(void *state) {
    if (state) xf_kv_scores_free(state);
    free(state);
}

xf_status xf_snapkv_init(xf_kv_cache *c, void **state, const char *name) {
    if (c->budget <= XF_SNAPKV_WINDOW)
        return xf_error(XF_ERR_INVALID_ARG, "KV policy \"%s\": budget %zu must be more than its observation "
                        "window of %d tokens", name, c->budget, XF_SNAPKV_WINDOW);
    xf_kv_scores *s = xf_calloc(1, sizeof *s); /* pooled score of each kept slot (+inf: generated) */
    if (!s) return xf_error(XF_ERR_NOMEM, "out of memory");
    *state = s;
    xf_status st = xf_kv_scores_init(s, c->n_layers);
    /* weights of prompt forwards only: a decode step evicts by the scores it has (sk_step) */
    for (size_t l = 0; !st && l < c->n_layers; l++) c->layers[l].want_w = 2, c->layers[l].w_last = XF_SNAPKV_WINDOW;
    c->min_last_chunk = XF_SNAPKV_WINDOW;
    return st;
}

static xf_status sk_init(xf_kv_cache *c, void **state) { return xf_snapkv_init(c, state, "snapkv"); }

void xf_snapkv_pool(const float *raw, size_t n, size_t kernel, float *out) {
    const size_t r = kernel / 2;
    for (size_t j = 0; j < n; j++) {
        double a = 0.0;
        for (size_t i = j >= r ? j - r : 0; i <= j + r && i < n; i++) a += raw[i];
        out[j] = (float)(a / (double)kernel);
    }
}

static xf_status sk_prefill(void *state, xf_kv_cache *c, size_t n_new) {
    xf_kv_scores *s = state;
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        xf_status st = xf_kv_scores_room(s, l, L->n, INFINITY);
        if (st) return st;
        for (size_t j = L->n - n_new; j < L->n; j++) s->score[l][j] = INFINITY; /* not chosen yet */
        if (c->n_pending || L->n <= c->budget) continue;
        /* the end of a prompt: score the keys before the observation window */
        const size_t win = n_new < XF_SNAPKV_WINDOW ? n_new : XF_SNAPKV_WINDOW, pre = L->n - win;
        for (size_t j = 0; j < pre; j++) {
            float a = 0.0f;
            for (size_t h = 0; h < L->n_heads; h++) a += L->w[h * L->cap + j];
            s->raw[j] = a;
        }
        xf_snapkv_pool(s->raw, pre, XF_SNAPKV_KERNEL, s->score[l]);
        xf_kv_scores_keep_top(s, L, l, c->budget, 0, win);
    }
    return XF_OK;
}

static xf_status sk_step(void *state, xf_kv_cache *c) {
    xf_kv_scores *s = state;
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        xf_status st = xf_kv_scores_room(s, l, L->n, INFINITY);
        if (st) return st;
        s->score[l][L->n - 1] = INFINITY;
        if (L->n > c->budget) xf_kv_scores_keep_top(s, L, l, c->budget, XF_SNAPKV_SINKS, 0);
    }
    return XF_OK;
}

static xf_status sk_full(void *state, xf_kv_cache *c, size_t need) {
    xf_kv_scores *s = state;
    const size_t target = c->max_slots - need, sinks = target < 4 ? target : 4;
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        if (L->n <= target) continue;
        xf_status st = xf_kv_scores_room(s, l, L->n, INFINITY);
        if (st) return st;
        memset(s->keep, 0, L->n);
        xf_kv_mark_sinks_recent(L->n, sinks, target - sinks, s->keep);
        float *extra[1] = {s->score[l]};
        xf_kv_keep_with(L, s->keep, extra, 1);
    }
    return XF_OK;
}

const xf_kv_policy xf_kv_snapkv = {"snapkv", 1, sk_init, sk_prefill, sk_step, sk_full, xf_snapkv_free};
