/* kv_cache.c — per-layer KV caches with positions (kv_cache.h): growth, appends, slot removal,
 * and the default keep-everything policy. */
#include "model/kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dtype.h"
#include "core/error.h"

#define XF_KV_START 256 /* slots first allocated when no reserve is given */

static size_t elem(const xf_kv_layer *L) { return L->f16 ? sizeof(uint16_t) : sizeof(float); }

void xf_kv_free(xf_kv_cache *c) {
    if (!c) return;
    if (c->policy && c->policy->free) c->policy->free(c->policy_state);
    for (size_t l = 0; c->layers && l < c->n_layers; l++) {
        free(c->layers[l].k);
        free(c->layers[l].v);
        free(c->layers[l].pos);
        free(c->layers[l].w);
    }
    free(c->layers);
    memset(c, 0, sizeof *c);
}

void xf_kv_clear(xf_kv_cache *c) {
    for (size_t l = 0; l < c->n_layers; l++) {
        c->layers[l].n = 0;
        c->layers[l].in_order = 1;
    }
    c->n_past = 0;
}

/* Reallocate a layer's arrays to `cap` slots, keeping its n slots. */
static xf_status grow(xf_kv_layer *L, size_t cap) {
    size_t row, bytes, wbytes;
    if (!xf_mul_ok(L->kv_dim, elem(L), &row) || !xf_mul_ok(row, cap, &bytes) ||
        !xf_mul_ok(L->n_heads * sizeof(float), cap, &wbytes))
        return xf_error(XF_ERR_RANGE, "KV cache of %zu slots x %zu values overflows", cap, L->kv_dim);
    void *k = xf_aligned_alloc(bytes ? bytes : 1), *v = xf_aligned_alloc(bytes ? bytes : 1);
    int32_t *pos = xf_malloc(cap * sizeof *pos);
    float *w = L->want_w ? xf_aligned_alloc(wbytes ? wbytes : 1) : NULL;
    if (!k || !v || !pos || (L->want_w && !w)) {
        free(k), free(v), free(pos), free(w);
        return xf_error(XF_ERR_NOMEM, "cannot grow the KV cache to %zu slots (%zu bytes per layer)", cap, 2 * bytes);
    }
    if (L->n) {
        memcpy(k, L->k, L->n * row);
        memcpy(v, L->v, L->n * row);
        memcpy(pos, L->pos, L->n * sizeof *pos);
    }
    free(L->k), free(L->v), free(L->pos), free(L->w);
    L->k = k, L->v = v, L->pos = pos, L->w = w, L->cap = cap;
    return XF_OK;
}

xf_status xf_kv_init(xf_kv_cache *c, const xf_plan *p, size_t max_slots, size_t reserve, int f16,
                     const xf_kv_policy *policy, size_t budget) {
    memset(c, 0, sizeof *c);
    c->layers = xf_calloc(p->n_layers ? p->n_layers : 1, sizeof *c->layers);
    if (!c->layers) return xf_error(XF_ERR_NOMEM, "cannot allocate the KV cache of %zu layers", p->n_layers);
    c->n_layers = p->n_layers;
    c->max_slots = max_slots;
    c->policy = policy ? policy : &xf_kv_keep_all;
    c->budget = budget;
    for (size_t l = 0; l < p->n_layers; l++) {
        const xf_attn_plan *a = &p->layers[l].attn;
        c->layers[l] = (xf_kv_layer){.kv_dim = a->n_kv_heads * a->head_dim, .n_heads = a->n_heads, .f16 = f16,
                                     .in_order = 1};
    }
    xf_status st = c->policy->init ? c->policy->init(c, &c->policy_state) : XF_OK;
    size_t start = reserve ? reserve : XF_KV_START;
    if (start > max_slots) start = max_slots;
    for (size_t l = 0; !st && l < c->n_layers; l++) st = grow(&c->layers[l], start);
    if (st) xf_kv_free(c);
    return st;
}

xf_status xf_kv_reserve(xf_kv_cache *c, size_t n) {
    if (n > c->max_slots)
        return xf_error(XF_ERR_RANGE, "%zu new tokens do not fit a KV cache of %zu slots", n, c->max_slots);
    int full = 0;
    for (size_t l = 0; l < c->n_layers; l++) full |= c->layers[l].n > c->max_slots - n;
    if (full) {
        xf_status st = c->policy->on_full ? c->policy->on_full(c->policy_state, c, n)
                                          : xf_error(XF_ERR_RANGE, "the KV cache is full");
        if (st) return st;
        for (size_t l = 0; l < c->n_layers; l++)
            if (c->layers[l].n > c->max_slots - n)
                return xf_error(XF_ERR_RANGE, "KV policy \"%s\" left layer %zu full (%zu of %zu slots, %zu needed)",
                                c->policy->name, l, c->layers[l].n, c->max_slots, n);
    }
    for (size_t l = 0; l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        if (L->n + n <= L->cap) continue;
        size_t cap = L->cap ? L->cap : XF_KV_START;
        while (cap < L->n + n) cap = cap > SIZE_MAX / 2 ? SIZE_MAX : 2 * cap;
        if (cap > c->max_slots) cap = c->max_slots;
        xf_status st = grow(L, cap);
        if (st) return st;
    }
    return XF_OK;
}

void xf_kv_append(xf_kv_layer *L, const float *K, const float *V, size_t ld, const int32_t *pos, size_t n) {
    const size_t d = L->kv_dim;
    for (size_t i = 0; i < n; i++) {
        const size_t s = L->n + i;
        if (L->f16) {
            uint16_t *k = (uint16_t *)L->k + s * d, *v = (uint16_t *)L->v + s * d;
            for (size_t j = 0; j < d; j++) {
                k[j] = xf_f32_to_f16(K[i * ld + j]);
                v[j] = xf_f32_to_f16(V[i * ld + j]);
            }
        } else {
            memcpy((float *)L->k + s * d, K + i * ld, d * sizeof(float));
            memcpy((float *)L->v + s * d, V + i * ld, d * sizeof(float));
        }
        L->pos[s] = pos[i];
        if (L->in_order && (size_t)pos[i] != s) L->in_order = 0;
    }
    L->n += n;
}

void xf_kv_keep(xf_kv_layer *L, const unsigned char *keep) {
    const size_t row = L->kv_dim * elem(L);
    size_t o = 0;
    for (size_t i = 0; i < L->n; i++) {
        if (!keep[i]) continue;
        if (o != i) {
            memmove((char *)L->k + o * row, (char *)L->k + i * row, row);
            memmove((char *)L->v + o * row, (char *)L->v + i * row, row);
            L->pos[o] = L->pos[i];
            for (size_t h = 0; L->want_w && h < L->n_heads; h++) L->w[h * L->cap + o] = L->w[h * L->cap + i];
        }
        o++;
    }
    L->n = o;
    L->in_order = 1; /* still 0, 1, 2, ... when only trailing slots were dropped */
    for (size_t i = 0; i < o && L->in_order; i++) L->in_order = (size_t)L->pos[i] == i;
}

size_t xf_kv_bytes(const xf_kv_cache *c) {
    size_t b = 0;
    for (size_t l = 0; l < c->n_layers; l++) {
        const xf_kv_layer *L = &c->layers[l];
        b += L->cap * (2 * L->kv_dim * elem(L) + sizeof(int32_t) + (L->w ? L->n_heads * sizeof(float) : 0));
    }
    return b;
}

void xf_kv_row(const xf_kv_layer *L, int values, size_t j, float *dst) {
    const void *base = values ? L->v : L->k;
    for (size_t i = 0; i < L->kv_dim; i++)
        dst[i] = L->f16 ? xf_f16_to_f32(((const uint16_t *)base)[j * L->kv_dim + i])
                        : ((const float *)base)[j * L->kv_dim + i];
}

xf_status xf_kv_after_forward(xf_kv_cache *c, size_t n_new) {
    const xf_kv_policy *p = c->policy;
    if (n_new > 1) return p->after_prefill ? p->after_prefill(c->policy_state, c, n_new) : XF_OK;
    return p->after_step ? p->after_step(c->policy_state, c) : XF_OK;
}

/* ---------------------------------------------------------------- keep everything */

static xf_status keep_all_full(void *state, xf_kv_cache *c, size_t need) {
    (void)state;
    return xf_error(XF_ERR_RANGE, "session: %zu past + %zu new tokens exceed its n_ctx of %zu", c->n_past, need,
                    c->max_slots);
}

const xf_kv_policy xf_kv_keep_all = {"keep-all", 0, NULL, NULL, NULL, keep_all_full, NULL};
