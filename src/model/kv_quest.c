/* kv_quest.c — Quest (Tang et al., "Quest: Query-Aware Sparsity for Efficient Long-Context LLM
 * Inference", ICML 2024): at each decode step, attend only to the KV pages whose keys can score
 * highest for this query.
 *
 * A page is `page` consecutive cache slots (16 by default, as in the paper: slot indices
 * [16b, 16b + 16)). For every page the cache keeps the per-channel minimum and maximum of its keys
 * (folded in as slots arrive, read back from the cache itself so that a quantized cache's bounds
 * are those of the keys the kernel sees; rebuilt after slots are removed). A query q bounds the
 * score of every key k of a page from above by sum_d max(q_d min_d, q_d max_d) (each product
 * q_d k_d is at most that term). A key/value head takes the largest bound of its query heads (a
 * page is read for the whole group), and keeps the ceil(budget / page) pages of highest bound; the
 * newest pages — the query's own, and under a q4 cache the ones whose slots are still float — are
 * always read, and so is the first page: it holds the attention sinks (StreamingLLM), which a
 * bound on q . k does not single out (docs/LONG_CONTEXT.md measures both). The selected pages'
 * keys and values are then gathered per head into one float block (xf_quest_gather) on which the
 * ordinary attention kernel runs: the decode cost of attention becomes the bound pass (2 kv_dim
 * per page) plus the gather and attention of the budget, whatever the context; prefill stays
 * dense. Pages of 16 bound their keys far more tightly than the kernel's blocks of 64 would: a
 * needle's page stands out (measured in docs/LONG_CONTEXT.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/kv_cache.h"

static size_t pages_of(size_t slots, size_t page) { return (slots + page - 1) / page; }

size_t xf_quest_rows(size_t budget, size_t page) {
    return (pages_of(budget, page) + 3 + XF_KV_QBLOCK / page) * page;
}

xf_status xf_quest_grow(xf_kv_layer *L, size_t cap) {
    const size_t pages = pages_of(cap, L->page), kvh = L->kv_dim / L->head_dim;
    float *mn = xf_malloc(pages * L->kv_dim * sizeof *mn), *mx = xf_malloc(pages * L->kv_dim * sizeof *mx);
    float *score = xf_malloc(pages * sizeof *score), *row = xf_malloc(L->kv_dim * sizeof *row);
    unsigned char *on = xf_malloc(kvh * pages), *fixed = xf_malloc(pages);
    size_t *idx = xf_malloc(pages * sizeof *idx);
    if (!mn || !mx || !score || !row || !on || !fixed || !idx) {
        free(mn), free(mx), free(score), free(row), free(on), free(fixed), free(idx);
        return xf_error(XF_ERR_NOMEM, "cannot allocate Quest page bounds for %zu slots", cap);
    }
    const size_t done = pages_of(L->bounds_n, L->page); /* pages with folded slots: their bounds stay */
    if (done) {
        memcpy(mn, L->page_min, done * L->kv_dim * sizeof *mn);
        memcpy(mx, L->page_max, done * L->kv_dim * sizeof *mx);
    }
    xf_quest_free(L);
    L->page_min = mn, L->page_max = mx, L->page_score = score, L->page_on = on, L->page_fixed = fixed;
    L->page_idx = idx, L->page_row = row, L->pages_cap = pages;
    return XF_OK;
}

void xf_quest_free(xf_kv_layer *L) {
    free(L->page_min), free(L->page_max), free(L->page_score), free(L->page_on), free(L->page_fixed);
    free(L->page_idx), free(L->page_row);
    L->page_min = L->page_max = L->page_score = L->page_row = NULL;
    L->page_on = L->page_fixed = NULL;
    L->page_idx = NULL;
    L->pages_cap = 0;
}

/* Slots whose keys are final: all of them, but a q4 cache's float residual (requantized later). */
static size_t foldable(const xf_kv_layer *L) { return L->type == XF_KV_Q4 ? L->nq : L->n; }

void xf_quest_fold(xf_kv_layer *L) {
    const size_t d = L->kv_dim, end = foldable(L), P = L->page;
    for (size_t j = L->bounds_n; j < end; j++) {
        const float *k = L->page_row;
        if (L->type == XF_KV_F32) k = (const float *)L->k + j * d;
        else xf_kv_row(L, 0, j, L->page_row);
        float *mn = L->page_min + j / P * d, *mx = L->page_max + j / P * d;
        if (j % P == 0) {
            memcpy(mn, k, d * sizeof *mn);
            memcpy(mx, k, d * sizeof *mx);
            continue;
        }
        for (size_t c = 0; c < d; c++) {
            mn[c] = k[c] < mn[c] ? k[c] : mn[c];
            mx[c] = k[c] > mx[c] ? k[c] : mx[c];
        }
    }
    L->bounds_n = end;
}

float xf_quest_bound(const float *q, const float *mn, const float *mx, size_t dh) {
    float acc[8] = {0}, s = 0.0f; /* 8 independent sums: the compiler keeps them in one vector */
    size_t c = 0;
    for (; c + 8 <= dh; c += 8)
        for (int i = 0; i < 8; i++) {
            const float a = q[c + i] * mn[c + i], b = q[c + i] * mx[c + i];
            acc[i] += a > b ? a : b;
        }
    for (; c < dh; c++) {
        const float a = q[c] * mn[c], b = q[c] * mx[c];
        s += a > b ? a : b;
    }
    for (int i = 0; i < 8; i++) s += acc[i];
    return s;
}

size_t xf_quest_select(xf_kv_layer *L, const xf_attn_plan *a, const float *q, size_t budget) {
    const size_t dh = a->head_dim, d = L->kv_dim, P = L->page, n_pages = pages_of(L->n, P), full = foldable(L) / P;
    const size_t want = pages_of(budget, P);
    size_t n_on = 0;
    xf_quest_fold(L);
    for (size_t g = 0; g < a->n_kv_heads; g++) {
        unsigned char *on = L->page_on + g * L->pages_cap;
        size_t h0, h1, n_fixed = 0;
        xf_attn_group(a, g, &h0, &h1);
        for (size_t b = 0; b < n_pages; b++) {
            /* the newest pages: not complete in the bounds (q4 residual), or the query's own; and
             * the first, which holds the attention sinks */
            L->page_fixed[b] = b >= full || b + 1 == n_pages || b == 0;
            n_fixed += L->page_fixed[b];
            float best = -INFINITY;
            for (size_t h = h0; !L->page_fixed[b] && h < h1; h++) {
                const float s = xf_quest_bound(q + h * dh, L->page_min + b * d + g * dh, L->page_max + b * d + g * dh, dh);
                best = s > best ? s : best;
            }
            L->page_score[b] = best;
        }
        n_on = xf_kv_select_top(L->page_score, L->page_fixed, n_pages, want > n_fixed ? want - n_fixed : 0, on,
                                L->page_idx);
    }
    return n_on;
}

void xf_quest_scatter(const xf_kv_layer *L, const xf_attn_plan *a, const float *gw, size_t rows, float *w, size_t ldw) {
    const size_t P = L->page, n_pages = pages_of(L->n, P);
    for (size_t g = 0; g < a->n_kv_heads; g++) {
        const unsigned char *on = L->page_on + g * L->pages_cap;
        size_t h0, h1, r = 0;
        xf_attn_group(a, g, &h0, &h1);
        for (size_t b = 0; b < n_pages; b++) {
            if (!on[b]) continue;
            const size_t j1 = (b + 1) * P < L->n ? (b + 1) * P : L->n;
            for (size_t j = b * P; j < j1 && r < rows; j++, r++)
                for (size_t h = h0; h < h1; h++) w[h * ldw + j] += gw[h * rows + r];
        }
    }
}

size_t xf_quest_gather(const xf_kv_layer *L, size_t n_kv_heads, float *gk, float *gv, size_t rows) {
    const size_t d = L->kv_dim, dh = L->head_dim, P = L->page, n_pages = pages_of(L->n, P);
    size_t n_rows = 0;
    for (size_t g = 0; g < n_kv_heads; g++) {
        const unsigned char *on = L->page_on + g * L->pages_cap;
        size_t r = 0;
        for (size_t b = 0; b < n_pages; b++) {
            if (!on[b]) continue;
            const size_t j1 = (b + 1) * P < L->n ? (b + 1) * P : L->n;
            if (r + (j1 - b * P) > rows) return 0;
            for (size_t j = b * P; j < j1; j++, r++) {
                float *k = gk + r * d + g * dh, *v = gv + r * d + g * dh;
                if (L->type == XF_KV_F32) {
                    memcpy(k, (const float *)L->k + j * d + g * dh, dh * sizeof *k);
                    memcpy(v, (const float *)L->v + j * d + g * dh, dh * sizeof *v);
                } else { /* one row at a time, no padding columns (dp = dh) */
                    xf_kv_tile(L, 0, j, 1, g * dh, dh, dh, k);
                    xf_kv_tile(L, 1, j, 1, g * dh, dh, dh, v);
                }
            }
        }
        if (g && r != n_rows) return 0; /* cannot happen: every head reads the same pages' count */
        n_rows = r;
    }
    return n_rows;
}
