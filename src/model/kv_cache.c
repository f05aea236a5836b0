/* kv_cache.c — per-layer KV caches with positions (kv_cache.h): growth, appends, slot removal,
 * and the default keep-everything policy. */
#include "model/kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dtype.h"
#include "core/error.h"

#define XF_KV_START 256 /* slots first allocated when no reserve is given */

/* Bytes of the keys / values of `slots` slots (Q4: whole groups of 32). */
static int kv_sizes(const xf_kv_layer *L, size_t slots, size_t *kbytes, size_t *vbytes) {
    const size_t row = xf_kv_row_bytes(L->type, L->kv_dim);
    if (L->type != XF_KV_Q4) return xf_mul_ok(row, slots, kbytes) && xf_mul_ok(row, slots, vbytes);
    const size_t groups = slots / XF_KV_QBLOCK + (slots % XF_KV_QBLOCK != 0);
    size_t g;
    return xf_mul_ok(groups, L->kv_dim * XF_KV_Q4_BYTES, kbytes) && xf_mul_ok(groups, XF_KV_QBLOCK * row, &g) &&
           (*vbytes = g, 1);
}

void xf_kv_free(xf_kv_cache *c) {
    if (!c) return;
    if (c->policy && c->policy->free) c->policy->free(c->policy_state);
    for (size_t l = 0; c->layers && l < c->n_layers; l++) {
        free(c->layers[l].k);
        free(c->layers[l].v);
        free(c->layers[l].pos);
        free(c->layers[l].w);
        free(c->layers[l].rk);
        free(c->layers[l].rv);
        xf_quest_free(&c->layers[l]);
    }
    free(c->layers);
    free(c->quest_k);
    free(c->quest_v);
    free(c->quest_w);
    memset(c, 0, sizeof *c);
}

void xf_kv_clear(xf_kv_cache *c) {
    for (size_t l = 0; l < c->n_layers; l++) {
        c->layers[l].n = c->layers[l].nq = c->layers[l].bounds_n = 0;
        c->layers[l].in_order = 1;
    }
    c->n_past = 0;
}

/* Reallocate a layer's arrays to `cap` slots, keeping its n slots. */
static xf_status grow(xf_kv_layer *L, size_t cap) {
    size_t kb, vb, wbytes;
    if (!kv_sizes(L, cap, &kb, &vb) || !xf_mul_ok(L->n_heads * sizeof(float), cap, &wbytes))
        return xf_error(XF_ERR_RANGE, "KV cache of %zu slots x %zu values overflows", cap, L->kv_dim);
    void *k = xf_aligned_alloc(kb ? kb : 1), *v = xf_aligned_alloc(vb ? vb : 1);
    int32_t *pos = xf_malloc(cap * sizeof *pos);
    float *w = L->want_w ? xf_aligned_alloc(wbytes ? wbytes : 1) : NULL;
    if (L->type == XF_KV_Q4 && !L->rk) { /* the residual: one group of float rows */
        L->rk = xf_malloc(XF_KV_QBLOCK * L->kv_dim * sizeof *L->rk);
        L->rv = xf_malloc(XF_KV_QBLOCK * L->kv_dim * sizeof *L->rv);
    }
    if (!k || !v || !pos || (L->want_w && !w) || (L->type == XF_KV_Q4 && (!L->rk || !L->rv))) {
        free(k), free(v), free(pos), free(w);
        return xf_error(XF_ERR_NOMEM, "cannot grow the KV cache to %zu slots (%zu bytes per layer)", cap, kb + vb);
    }
    size_t kn, vn; /* the bytes in use: slots [0, n), or Q4's quantized [0, nq) */
    (void)kv_sizes(L, L->type == XF_KV_Q4 ? L->nq : L->n, &kn, &vn);
    if (kn) memcpy(k, L->k, kn);
    if (vn) memcpy(v, L->v, vn);
    if (L->n) memcpy(pos, L->pos, L->n * sizeof *pos);
    free(L->k), free(L->v), free(L->pos), free(L->w);
    L->k = k, L->v = v, L->pos = pos, L->w = w, L->cap = cap;
    return L->quest ? xf_quest_grow(L, cap) : XF_OK;
}

xf_status xf_kv_init(xf_kv_cache *c, const xf_plan *p, size_t max_slots, size_t reserve, int type,
                     const xf_kv_policy *policy, size_t budget) {
    memset(c, 0, sizeof *c);
    if (!xf_kv_type_name(type)) return xf_error(XF_ERR_INVALID_ARG, "KV cache type %d is unknown", type);
    if (type == XF_KV_Q4 && policy && policy->removes)
        return xf_error(XF_ERR_UNSUPPORTED, "the q4 KV cache (keys quantized per channel over groups of 32 tokens) "
                        "cannot drop tokens: KV policy \"%s\" needs an f32, f16 or q8 cache", policy->name);
    c->layers = xf_calloc(p->n_layers ? p->n_layers : 1, sizeof *c->layers);
    if (!c->layers) return xf_error(XF_ERR_NOMEM, "cannot allocate the KV cache of %zu layers", p->n_layers);
    c->n_layers = p->n_layers;
    c->max_slots = max_slots;
    c->policy = policy ? policy : &xf_kv_keep_all;
    c->budget = budget;
    for (size_t l = 0; l < p->n_layers; l++) {
        const xf_attn_plan *a = &p->layers[l].attn;
        c->layers[l] = (xf_kv_layer){.kv_dim = a->n_kv_heads * a->head_dim, .n_heads = a->n_heads, .type = type,
                                     .n_kv_heads = a->n_kv_heads, .q_off = a->q_off, .windowed = a->window != 0,
                                     .head_dim = a->head_dim, .in_order = 1};
    }
    xf_status st = c->policy->init ? c->policy->init(c, &c->policy_state) : XF_OK;
    size_t start = reserve ? reserve : XF_KV_START;
    if (start > max_slots) start = max_slots;
    for (size_t l = 0; !st && l < c->n_layers; l++) st = grow(&c->layers[l], start);
    if (st) xf_kv_free(c);
    return st;
}

xf_status xf_kv_quest_init(xf_kv_cache *c, const xf_plan *p, size_t budget, size_t page) {
    if (!page) page = XF_QUEST_PAGE;
    c->quest_budget = budget;
    size_t kvd = 0, heads = 0;
    for (size_t l = 0; budget && l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        L->quest = 1, L->page = page, L->head_dim = p->layers[l].attn.head_dim;
        kvd = L->kv_dim > kvd ? L->kv_dim : kvd;
        heads = L->n_heads > heads ? L->n_heads : heads;
        xf_status st = xf_quest_grow(L, L->cap);
        if (st) return st;
    }
    if (!budget) return XF_OK;
    c->quest_rows = xf_quest_rows(budget, page);
    if (c->quest_rows > c->max_slots + page) c->quest_rows = c->max_slots + page;
    size_t bytes;
    if (!xf_mul_ok(c->quest_rows, kvd * sizeof(float), &bytes))
        return xf_error(XF_ERR_RANGE, "Quest budget of %zu keys x %zu values overflows", budget, kvd);
    c->quest_k = xf_aligned_alloc(bytes ? bytes : 1), c->quest_v = xf_aligned_alloc(bytes ? bytes : 1);
    c->quest_w = xf_malloc((heads ? heads : 1) * c->quest_rows * sizeof *c->quest_w);
    if (!c->quest_k || !c->quest_v || !c->quest_w)
        return xf_error(XF_ERR_NOMEM, "cannot allocate Quest's gathered keys (%zu bytes)", 2 * bytes);
    return XF_OK;
}

/* Slots an evicting policy's layer needs for a forward of n tokens: its budget + n, rounded up to
 * 16 (attention-weight rows of whole 64-byte lines); 0 when that overflows. */
static size_t evicting_room(const xf_kv_cache *c, size_t n) {
    return c->budget <= SIZE_MAX - n - 15 ? (c->budget + n + 15) / 16 * 16 : 0;
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
        /* A policy that holds at most budget slots between forwards needs budget + n; one that
         * holds more for now (SnapKV's prompt until its end) grows by doubling, not chunk by chunk. */
        const size_t room = c->policy->removes && L->n <= c->budget ? evicting_room(c, n) : 0;
        if (room && cap > room) cap = room;
        if (cap > c->max_slots) cap = c->max_slots;
        xf_status st = grow(L, cap);
        if (st) return st;
    }
    return XF_OK;
}

void xf_kv_append(xf_kv_layer *L, const float *K, const float *V, size_t ld, const int32_t *pos, size_t n) {
    const size_t d = L->kv_dim, row = xf_kv_row_bytes(L->type, d);
    for (size_t i = 0; i < n; i++) {
        const size_t s = L->n + i;
        const float *k = K + i * ld, *v = V + i * ld;
        if (L->type == XF_KV_F16) {
            uint16_t *kh = (uint16_t *)L->k + s * d, *vh = (uint16_t *)L->v + s * d;
            for (size_t j = 0; j < d; j++) kh[j] = xf_f32_to_f16(k[j]), vh[j] = xf_f32_to_f16(v[j]);
        } else if (L->type == XF_KV_Q8) {
            xf_kv_q8_row(k, d, (uint8_t *)L->k + s * row);
            xf_kv_q8_row(v, d, (uint8_t *)L->v + s * row);
        } else if (L->type == XF_KV_Q4) { /* into the residual; a complete group is quantized */
            memcpy(L->rk + (s - L->nq) * d, k, d * sizeof *k);
            memcpy(L->rv + (s - L->nq) * d, v, d * sizeof *v);
            if (s + 1 - L->nq == XF_KV_QBLOCK) xf_kv_q4_seal(L);
        } else {
            memcpy((float *)L->k + s * d, k, d * sizeof(float));
            memcpy((float *)L->v + s * d, v, d * sizeof(float));
        }
        L->pos[s] = pos[i];
        if (L->in_order && (size_t)pos[i] != s) L->in_order = 0;
    }
    L->n += n;
}

void xf_kv_keep(xf_kv_layer *L, const unsigned char *keep) { /* rows: never Q4 (xf_kv_init) */
    const size_t row = xf_kv_row_bytes(L->type, L->kv_dim);
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
    L->bounds_n = 0; /* slots moved: Quest's page bounds are rebuilt on their next use */
    L->in_order = 1; /* still 0, 1, 2, ... when only trailing slots were dropped */
    for (size_t i = 0; i < o && L->in_order; i++) L->in_order = (size_t)L->pos[i] == i;
}

xf_status xf_kv_per_head_check(const xf_kv_cache *c, const char *name, const char *layerwise) {
    for (size_t l = 0; l < c->n_layers; l++) {
        const xf_kv_layer *L = &c->layers[l];
        if (L->windowed)
            return xf_error(XF_ERR_UNSUPPORTED, "KV policy \"%s\": layer %zu attends through a sliding window, whose "
                            "mask needs one position per slot (use \"%s\")", name, l, layerwise);
        if (L->type == XF_KV_Q8 && L->head_dim % XF_KV_QBLOCK)
            return xf_error(XF_ERR_UNSUPPORTED, "KV policy \"%s\": a head of %zu values is not a whole number of q8 "
                            "blocks of %d (use an f32 or f16 cache)", name, L->head_dim, XF_KV_QBLOCK);
    }
    return XF_OK;
}

void xf_kv_group(const xf_kv_layer *L, size_t g, size_t *h0, size_t *h1) {
    if (L->q_off) {
        *h0 = L->q_off[g], *h1 = L->q_off[g + 1];
        return;
    }
    const size_t group = L->n_heads / L->n_kv_heads;
    *h0 = g * group, *h1 = (g + 1) * group;
}

void xf_kv_keep_heads(xf_kv_layer *L, const unsigned char *keep, size_t ld) {
    const size_t row = xf_kv_row_bytes(L->type, L->kv_dim), seg = xf_kv_row_bytes(L->type, L->head_dim);
    size_t kept = 0;
    for (size_t g = 0; g < L->n_kv_heads; g++) {
        size_t o = 0, h0, h1;
        xf_kv_group(L, g, &h0, &h1);
        for (size_t i = 0; i < L->n; i++) {
            if (!keep[g * ld + i]) continue;
            if (o != i) {
                memmove((char *)L->k + o * row + g * seg, (char *)L->k + i * row + g * seg, seg);
                memmove((char *)L->v + o * row + g * seg, (char *)L->v + i * row + g * seg, seg);
                if (g == 0) L->pos[o] = L->pos[i];
                for (size_t h = h0; L->want_w && h < h1; h++) L->w[h * L->cap + o] = L->w[h * L->cap + i];
            }
            o++;
        }
        kept = o;
    }
    L->n = kept;
    L->bounds_n = 0;
    L->in_order = 1;
    for (size_t i = 0; i < kept && L->in_order; i++) L->in_order = (size_t)L->pos[i] == i;
}

size_t xf_kv_bytes(const xf_kv_cache *c) {
    size_t b = 0;
    for (size_t l = 0; l < c->n_layers; l++) {
        const xf_kv_layer *L = &c->layers[l];
        size_t kb, vb;
        (void)kv_sizes(L, L->cap, &kb, &vb);
        b += kb + vb + L->cap * (sizeof(int32_t) + (L->w ? L->n_heads * sizeof(float) : 0));
        if (L->quest) b += L->pages_cap * (2 * L->kv_dim * sizeof(float) + L->kv_dim / L->head_dim);
        if (L->rk) b += 2 * XF_KV_QBLOCK * L->kv_dim * sizeof(float);
    }
    size_t kvd = 0;
    for (size_t l = 0; c->quest_k && l < c->n_layers; l++) kvd = c->layers[l].kv_dim > kvd ? c->layers[l].kv_dim : kvd;
    size_t heads = 0;
    for (size_t l = 0; c->quest_k && l < c->n_layers; l++) heads = c->layers[l].n_heads > heads ? c->layers[l].n_heads : heads;
    if (c->quest_k) b += (2 * kvd + heads) * c->quest_rows * sizeof(float);
    return b;
}

void xf_kv_row(const xf_kv_layer *L, int values, size_t j, float *dst) {
    xf_kv_tile(L, values, j, 1, 0, L->kv_dim, L->kv_dim, dst);
}

xf_status xf_kv_after_forward(xf_kv_cache *c, size_t n_new) {
    const xf_kv_policy *p = c->policy;
    xf_status st = n_new > 1 ? (p->after_prefill ? p->after_prefill(c->policy_state, c, n_new) : XF_OK)
                             : (p->after_step ? p->after_step(c->policy_state, c) : XF_OK);
    /* Memory back after an eviction (SnapKV's compressed prompt): a layer back within its budget
     * whose cache is over twice the room of another such forward is cut to that room. Optional:
     * when the smaller arrays cannot be had, the larger ones stay. */
    const size_t room = evicting_room(c, n_new);
    for (size_t l = 0; !st && p->removes && room && l < c->n_layers; l++) {
        xf_kv_layer *L = &c->layers[l];
        if (L->n <= c->budget && L->cap / 2 > room && room <= c->max_slots) (void)grow(L, room);
    }
    return st;
}

/* ---------------------------------------------------------------- keep everything */

static xf_status keep_all_full(void *state, xf_kv_cache *c, size_t need) {
    (void)state;
    return xf_error(XF_ERR_RANGE, "session: %zu past + %zu new tokens exceed its n_ctx of %zu", c->n_past, need,
                    c->max_slots);
}

const xf_kv_policy xf_kv_keep_all = {"keep-all", 0, NULL, NULL, NULL, keep_all_full, NULL};
