/* kv_policy_h2o.c — Heavy-Hitter Oracle (Zhang et al., "H2O", NeurIPS 2023; ALISA's sparse window
 * is the same split): keep the budget / 2 most recent tokens and, of the others, the budget -
 * budget / 2 with the largest attention accumulated since they entered the cache (softmax weights
 * summed over every later query and every query head of the layer). The paper scores per head;
 * here a layer's heads share their slots and their scores are summed (the layer-wise variant;
 * "h2o-head", kv_policy_h2o_head.c, selects per key/value head). Applied after every forward and when a layer reaches n_ctx. */
#include <stdlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/kv_cache.h"

typedef struct {
    xf_kv_scores sc; /* accumulated attention of each slot */
    size_t *n_seen;  /* [n_layers]: slots scored so far (the older ones) */
} h2o_state;

static void h2o_free(void *state) {
    h2o_state *s = state;
    if (!s) return;
    xf_kv_scores_free(&s->sc);
    free(s->n_seen);
    free(s);
}

static xf_status h2o_init(xf_kv_cache *c, void **state) {
    if (c->budget < 2) return xf_error(XF_ERR_INVALID_ARG, "KV policy \"h2o\": budget %zu must be at least 2", c->budget);
    h2o_state *s = xf_calloc(1, sizeof *s);
    if (!s) return xf_error(XF_ERR_NOMEM, "out of memory");
    *state = s;
    s->n_seen = xf_calloc(c->n_layers ? c->n_layers : 1, sizeof *s->n_seen);
    xf_status st = xf_kv_scores_init(&s->sc, c->n_layers);
    if (!st && !s->n_seen) st = xf_error(XF_ERR_NOMEM, "out of memory");
    for (size_t l = 0; !st && l < c->n_layers; l++) c->layers[l].want_w = 1;
    return st;
}

/* Add the last forward's weights to the scores (new slots start at 0). */
static xf_status accumulate(h2o_state *s, xf_kv_cache *c) {
    for (size_t l = 0; l < c->n_layers; l++) {
        const xf_kv_layer *L = &c->layers[l];
        xf_status st = xf_kv_scores_room(&s->sc, l, L->n, 0.0f);
        if (st) return st;
        float *sc = s->sc.score[l];
        for (size_t j = s->n_seen[l]; j < L->n; j++) sc[j] = 0.0f;
        for (size_t j = 0; j < L->n; j++) { /* the heads' sum, then added to the slot's score */
            float a = 0.0f;
            for (size_t h = 0; h < L->n_heads; h++) a += L->w[h * L->cap + j];
            sc[j] += a;
        }
        s->n_seen[l] = L->n;
    }
    return XF_OK;
}

static xf_status evict(h2o_state *s, xf_kv_cache *c, size_t target) {
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        if (L->n <= target) continue;
        xf_status st = xf_kv_scores_room(&s->sc, l, L->n, 0.0f);
        if (st) return st;
        for (size_t j = s->n_seen[l]; j < L->n; j++) s->sc.score[l][j] = 0.0f; /* not yet scored */
        xf_kv_scores_keep_top(&s->sc, L, l, target, 0, target / 2); /* the recent half, then heavy hitters */
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
