/* kv_policy_h2o.c — Heavy-Hitter Oracle (Zhang et al., "H2O", NeurIPS 2023; ALISA's sparse window
 * is the same split): keep the budget / 2 most recent tokens and, of the others, the budget -
 * budget / 2 with the largest attention accumulated since they entered the cache (softmax weights
 * summed over every later query). Applied after every forward and when a layer reaches n_ctx.
 *
 * Two policies, one rule:
 *   "h2o"       a layer's heads share their slots and their scores are summed over every query
 *               head of the layer (the layer-wise variant);
 *   "h2o-head"  each key/value head keeps its own heavy hitters, as the paper scores them (per
 *               head; on a model with grouped-query attention the sum over the query heads a
 *               key/value head serves). Heads then hold different tokens in the same slot
 *               (xf_kv_keep_heads); the newest budget / 2 slots are the same tokens in every head.
 *               Like snapkv-head it refuses sliding-window layers and q8 caches whose heads are
 *               not whole blocks (xf_kv_per_head_check).
 * Scores: per layer, slot i of score column g at score[l][i * C + g], C = 1 (h2o) or n_kv_heads. */
#include <stdlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/kv_cache.h"

typedef struct {
    xf_kv_scores sc; /* accumulated attention of each slot (of each head: h2o-head) */
    size_t *n_seen;  /* [n_layers]: slots scored so far (the older ones) */
    int per_head;
} h2o_state;

static void h2o_free(void *state) {
    h2o_state *s = state;
    if (!s) return;
    xf_kv_scores_free(&s->sc);
    free(s->n_seen);
    free(s);
}

static xf_status init(xf_kv_cache *c, void **state, int per_head) {
    const char *name = per_head ? "h2o-head" : "h2o";
    if (c->budget < 2)
        return xf_error(XF_ERR_INVALID_ARG, "KV policy \"%s\": budget %zu must be at least 2", name, c->budget);
    xf_status st = per_head ? xf_kv_per_head_check(c, name, "h2o") : XF_OK;
    if (st) return st;
    h2o_state *s = xf_calloc(1, sizeof *s);
    if (!s) return xf_error(XF_ERR_NOMEM, "out of memory");
    *state = s;
    s->per_head = per_head;
    s->n_seen = xf_calloc(c->n_layers ? c->n_layers : 1, sizeof *s->n_seen);
    st = xf_kv_scores_init(&s->sc, c->n_layers);
    if (!st && !s->n_seen) st = xf_error(XF_ERR_NOMEM, "out of memory");
    for (size_t l = 0; !st && l < c->n_layers; l++) c->layers[l].want_w = 1;
    return st;
}
static xf_status h2o_init(xf_kv_cache *c, void **state) { return init(c, state, 0); }
static xf_status h2o_head_init(xf_kv_cache *c, void **state) { return init(c, state, 1); }

/* Room for layer l's slots in the scores, the ones not scored yet set to 0. */
static xf_status room(h2o_state *s, const xf_kv_layer *L, size_t l) {
    if (s->per_head) return xf_kv_scores_room_heads(&s->sc, L, l, s->n_seen[l], 0.0f);
    xf_status st = xf_kv_scores_room(&s->sc, l, L->n, 0.0f);
    for (size_t j = s->n_seen[l]; !st && j < L->n; j++) s->sc.score[l][j] = 0.0f;
    return st;
}

/* Add the last forward's weights to the scores: column g gets the sum over its query heads (all
 * of the layer's for h2o) of each slot's weight. */
static xf_status accumulate(h2o_state *s, xf_kv_cache *c) {
    for (size_t l = 0; l < c->n_layers; l++) {
        const xf_kv_layer *L = &c->layers[l];
        xf_status st = room(s, L, l);
        if (st) return st;
        const size_t C = s->per_head ? L->n_kv_heads : 1;
        float *sc = s->sc.score[l];
        for (size_t g = 0; g < C; g++) {
            size_t h0 = 0, h1 = L->n_heads;
            if (s->per_head) xf_kv_group(L, g, &h0, &h1);
            for (size_t j = 0; j < L->n; j++) { /* the heads' sum, then added to the slot's score */
                float a = 0.0f;
                for (size_t h = h0; h < h1; h++) a += L->w[h * L->cap + j];
                sc[j * C + g] += a;
            }
        }
        s->n_seen[l] = L->n;
    }
    return XF_OK;
}

static xf_status evict(h2o_state *s, xf_kv_cache *c, size_t target) {
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        if (L->n <= target) continue;
        xf_status st = room(s, L, l);
        if (st) return st;
        /* the recent half, then the heavy hitters (each head's: h2o-head) */
        (s->per_head ? xf_kv_scores_keep_top_heads : xf_kv_scores_keep_top)(&s->sc, L, l, target, 0, target / 2);
        s->n_seen[l] = L->n;
    }
    return XF_OK;
}

static xf_status h2o_prefill(void *state, xf_kv_cache *c, size_t n_new) {
    (void)n_new;
    xf_status st = accumulate(state, c);
    return st ? st : evict(state, c, c->budget);
}
static xf_status h2o_step(void *state, xf_kv_cache *c) { return h2o_prefill(state, c, 1); }
static xf_status h2o_full(void *state, xf_kv_cache *c, size_t need) { return evict(state, c, c->max_slots - need); }

const xf_kv_policy xf_kv_h2o = {"h2o", 1, h2o_init, h2o_prefill, h2o_step, h2o_full, h2o_free};
const xf_kv_policy xf_kv_h2o_head = {"h2o-head", 1, h2o_head_init, h2o_prefill, h2o_step, h2o_full, h2o_free};
