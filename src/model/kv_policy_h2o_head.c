/* kv_policy_h2o_head.c — H2O with its heavy hitters chosen per key/value head, as the paper scores
 * them (Zhang et al., "H2O", NeurIPS 2023: each head keeps the tokens its own attention has
 * accumulated most on). The rule is kv_policy_h2o.c's — the newest budget / 2 slots, and of the
 * others the budget - budget / 2 with the largest attention accumulated since they entered the
 * cache — applied to each key/value head alone; on a model with grouped-query attention a
 * key/value head's score is the sum over the query heads it serves. Heads then hold different
 * tokens in the same slot (xf_kv_keep_heads); the newest slots are the same tokens in every head,
 * since each head keeps its newest budget / 2. As snapkv-head, the policy refuses layers with a
 * sliding window and q8 caches whose heads are not whole blocks (xf_kv_per_head_check).
 * Scores: per layer, slot i of head g at score[l][i * n_kv_heads + g]. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/kv_cache.h"

typedef struct {
    xf_kv_scores sc; /* accumulated attention of each head's slots */
    size_t *n_seen;  /* [n_layers]: slots scored so far (the older ones) */
} h2oh_state;

static void h2oh_free(void *state) {
    h2oh_state *s = state;
    if (!s) return;
    xf_kv_scores_free(&s->sc);
    free(s->n_seen);
    free(s);
}

static xf_status h2oh_init(xf_kv_cache *c, void **state) {
    if (c->budget < 2) return xf_error(XF_ERR_INVALID_ARG, "KV policy \"h2o-head\": budget %zu must be at least 2", c->budget);
    xf_status st = xf_kv_per_head_check(c, "h2o-head", "h2o");
    if (st) return st;
    h2oh_state *s = xf_calloc(1, sizeof *s);
    if (!s) return xf_error(XF_ERR_NOMEM, "out of memory");
    *state = s;
    s->n_seen = xf_calloc(c->n_layers ? c->n_layers : 1, sizeof *s->n_seen);
    st = xf_kv_scores_init(&s->sc, c->n_layers);
    if (!st && !s->n_seen) st = xf_error(XF_ERR_NOMEM, "out of memory");
    for (size_t l = 0; !st && l < c->n_layers; l++) c->layers[l].want_w = 1;
    return st;
}

/* Add the last forward's weights to each head's scores (new slots start at 0). */
static xf_status accumulate(h2oh_state *s, xf_kv_cache *c) {
    for (size_t l = 0; l < c->n_layers; l++) {
        const xf_kv_layer *L = &c->layers[l];
        xf_status st = xf_kv_scores_room_heads(&s->sc, L, l, s->n_seen[l], 0.0f);
        if (st) return st;
        const size_t H = L->n_kv_heads;
        float *sc = s->sc.score[l];
        for (size_t g = 0; g < H; g++) {
            size_t h0, h1;
            xf_kv_group(L, g, &h0, &h1);
            for (size_t j = 0; j < L->n; j++) { /* the group's sum, then added to the slot's score */
                float a = 0.0f;
                for (size_t h = h0; h < h1; h++) a += L->w[h * L->cap + j];
                sc[j * H + g] += a;
            }
        }
        s->n_seen[l] = L->n;
    }
    return XF_OK;
}

static xf_status evict(h2oh_state *s, xf_kv_cache *c, size_t target) {
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        if (L->n <= target) continue;
        xf_status st = xf_kv_scores_room_heads(&s->sc, L, l, s->n_seen[l], 0.0f); /* not yet scored: 0 */
        if (st) return st;
        memset(s->sc.fixed, 0, L->n);
        xf_kv_mark_sinks_recent(L->n, 0, target / 2, s->sc.fixed); /* the recent half, then heavy hitters */
        xf_kv_scores_keep_top_heads(&s->sc, L, l, target - target / 2);
        s->n_seen[l] = L->n;
    }
    return XF_OK;
}

static xf_status h2oh_prefill(void *state, xf_kv_cache *c, size_t n_new) {
    (void)n_new;
    xf_status st = accumulate(state, c);
    return st ? st : evict(state, c, c->budget);
}
static xf_status h2oh_step(void *state, xf_kv_cache *c) { return h2oh_prefill(state, c, 1); }
static xf_status h2oh_full(void *state, xf_kv_cache *c, size_t need) { return evict(state, c, c->max_slots - need); }

const xf_kv_policy xf_kv_h2o_head = {"h2o-head", 1, h2oh_init, h2oh_prefill, h2oh_step, h2oh_full, h2oh_free};
