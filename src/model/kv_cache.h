/* kv_cache.h — the key/value cache of a session, one per layer, that methods may edit.
 *
 * Each layer's cache is a list of slots; a slot holds the key and value rows of one token (after
 * RoPE) and that token's position. Attention masks by position, never by slot index, so slots can
 * be removed (eviction), reordered or kept in another dtype without changing what the remaining
 * keys mean, and the next token's position (n_past) keeps counting however many slots remain.
 * While a layer's slots are exactly positions 0, 1, 2, ... in order (nothing was ever removed),
 * attention takes the index fast path; results are then bitwise those of a plain growing cache.
 *
 * Memory grows with the tokens held (doubling, from a small start) up to max_slots per layer;
 * nothing is reserved for the model's whole context up front.
 *
 * A policy (xf_kv_policy) decides what to keep: it is called after a prefill, after each decode
 * step and when a layer is full. It may ask, per layer, for the attention weights of the last
 * forward (want_w): forward.c then fills w; when no layer asks, nothing extra is computed. The
 * default policy keeps everything and fails cleanly when the cache is full. */
#ifndef XF_MODEL_KV_CACHE_H
#define XF_MODEL_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "model/plan.h"
#include "xfmr.h"

typedef struct xf_kv_layer {
    size_t kv_dim;   /* n_kv_heads * head_dim of the layer */
    size_t n_heads;  /* query heads (rows of w) */
    size_t n, cap;   /* slots in use, slots allocated */
    int f16;         /* 1: k and v hold IEEE halves */
    void *k, *v;     /* [cap, kv_dim] */
    int32_t *pos;    /* [cap] position of each slot's token */
    int in_order;    /* 1 while pos[i] == i for every slot i < n */
    int want_w;      /* set by the policy: fill w on each forward */
    float *w;        /* [n_heads, cap]: summed attention weights of the last forward's queries */
} xf_kv_layer;

typedef struct xf_kv_policy xf_kv_policy;

typedef struct xf_kv_cache {
    size_t n_layers;
    xf_kv_layer *layers;
    size_t n_past;    /* position of the next token */
    size_t max_slots; /* most slots one layer may hold */
    const xf_kv_policy *policy;
    void *policy_state;
} xf_kv_cache;

struct xf_kv_policy {
    const char *name;
    int removes; /* 0: never removes a slot (a session then refuses up front what does not fit) */
    /* Set up: state, and want_w of the layers whose weights it reads. */
    xf_status (*init)(xf_kv_cache *c, void **state);
    /* After a forward of n_new > 1 tokens (prefill), after a single-token step. */
    xf_status (*after_prefill)(void *state, xf_kv_cache *c, size_t n_new);
    xf_status (*after_step)(void *state, xf_kv_cache *c);
    /* Before a forward of `need` tokens when some layer holds more than max_slots - need slots:
     * remove slots so that every layer has room, or fail (XF_ERR_RANGE with a message). */
    xf_status (*on_full)(void *state, xf_kv_cache *c, size_t need);
    void (*free)(void *state);
};

/* Keeps every slot; a full cache is an error. */
extern const xf_kv_policy xf_kv_keep_all;

/* Caches for every layer of a plan (shapes from its attention plans), holding at most max_slots
 * slots per layer, first allocated for `reserve` slots (0: a small start), F32 or F16 slots, with
 * the given policy (NULL: keep all). */
xf_status xf_kv_init(xf_kv_cache *c, const xf_plan *p, size_t max_slots, size_t reserve, int f16,
                     const xf_kv_policy *policy);
void xf_kv_free(xf_kv_cache *c);
/* Forget every slot (n_past = 0); keeps the memory. */
void xf_kv_clear(xf_kv_cache *c);
/* Room for n more slots in every layer: the policy's on_full when a layer would exceed
 * max_slots, then growth of the allocations. No slot changes on failure. */
xf_status xf_kv_reserve(xf_kv_cache *c, size_t n);
/* Append n rows (K, V: [n, kv_dim] floats, row stride ld; pos: [n]) to a layer (room reserved). */
void xf_kv_append(xf_kv_layer *L, const float *K, const float *V, size_t ld, const int32_t *pos, size_t n);
/* Keep the slots whose keep[i] is nonzero (i < L->n), in their order; drop the others. */
void xf_kv_keep(xf_kv_layer *L, const unsigned char *keep);
/* Bytes the cache holds allocated. */
size_t xf_kv_bytes(const xf_kv_cache *c);
/* Row j of a layer's keys or values as floats (dst [kv_dim]). */
void xf_kv_row(const xf_kv_layer *L, int values, size_t j, float *dst);

/* Policy hooks, called by sessions. */
xf_status xf_kv_after_forward(xf_kv_cache *c, size_t n_new);

#endif
