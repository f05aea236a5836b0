/* kv_policy_streaming.c — StreamingLLM (Xiao et al., "Efficient Streaming Language Models with
 * Attention Sinks", ICLR 2024): keep the first XF_KV_SINKS tokens (the attention sinks) and the
 * most recent budget - XF_KV_SINKS; drop the middle. No scores are needed. Applied after every
 * forward (a prompt is evaluated in chunks, each attending the kept slots plus itself), and when a
 * layer reaches the session's n_ctx. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/kv_cache.h"

#define XF_KV_SINKS 4

typedef struct {
    unsigned char *keep;
    size_t cap;
} streaming_state;

static xf_status st_init(xf_kv_cache *c, void **state) {
    if (c->budget <= XF_KV_SINKS)
        return xf_error(XF_ERR_INVALID_ARG, "KV policy \"streaming\": budget %zu must be more than its %d sink tokens",
                        c->budget, XF_KV_SINKS);
    *state = xf_calloc(1, sizeof(streaming_state));
    return *state ? XF_OK : xf_error(XF_ERR_NOMEM, "out of memory");
}

static xf_status evict(streaming_state *s, xf_kv_cache *c, size_t target) {
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        if (L->n <= target) continue;
        if (L->n > s->cap) {
            unsigned char *k = xf_realloc(s->keep, L->n);
            if (!k) return xf_error(XF_ERR_NOMEM, "out of memory");
            s->keep = k, s->cap = L->n;
        }
        memset(s->keep, 0, L->n);
        const size_t sinks = target < XF_KV_SINKS ? target : XF_KV_SINKS;
        xf_kv_mark_sinks_recent(L->n, sinks, target - sinks, s->keep);
        xf_kv_keep(L, s->keep);
    }
    return XF_OK;
}

static xf_status st_prefill(void *state, xf_kv_cache *c, size_t n_new) {
    (void)n_new;
    return evict(state, c, c->budget);
}
static xf_status st_step(void *state, xf_kv_cache *c) { return evict(state, c, c->budget); }
static xf_status st_full(void *state, xf_kv_cache *c, size_t need) { return evict(state, c, c->max_slots - need); }
static void st_free(void *state) {
    streaming_state *s = state;
    if (s) free(s->keep);
    free(s);
}

const xf_kv_policy xf_kv_streaming = {"streaming", 1, st_init, st_prefill, st_step, st_full, st_free};
