/* kv_select.c — the selection kernels of the KV eviction policies (kv_cache.h): top-k of per-slot
 * scores by quickselect, with a rank-counting reference, and the sink / recent-window marks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/kv_cache.h"

/* a ranks before b: higher score, then the later slot (NaN as -inf) */
static int before(const float *s, size_t a, size_t b) {
    const float x = isnan(s[a]) ? -INFINITY : s[a], y = isnan(s[b]) ? -INFINITY : s[b];
    return x > y || (x == y && a > b);
}

/* Reorder idx[0..m) so that its first k entries are the k that rank first (k < m). */
static void select_first(const float *s, size_t *idx, size_t m, size_t k) {
    size_t lo = 0, hi = m; /* the k-th lies in [lo, hi) */
    while (hi - lo > 1) {
        const size_t mid = lo + (hi - lo) / 2;
        size_t a = idx[lo], b = idx[mid], c = idx[hi - 1], piv; /* median of three */
        if (before(s, a, b)) { size_t t = a; a = b; b = t; }
        if (before(s, b, c)) { size_t t = b; b = c; c = t; }
        if (before(s, a, b)) { size_t t = a; a = b; b = t; }
        piv = b;
        /* three-way partition: [lo, lt) before piv, [lt, gt) == piv, [gt, hi) after */
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (before(s, idx[i], piv)) {
                size_t t = idx[lt]; idx[lt++] = idx[i]; idx[i++] = t;
            } else if (idx[i] == piv) {
                i++;
            } else {
                size_t t = idx[--gt]; idx[gt] = idx[i]; idx[i] = t;
            }
        }
        if (k < lt) hi = lt;
        else if (k >= gt) lo = gt;
        else return;
    }
}

size_t xf_kv_select_top(const float *score, const unsigned char *fixed, size_t n, size_t k, unsigned char *keep,
                        size_t *scratch) {
    size_t m = 0, kept = 0;
    for (size_t i = 0; i < n; i++) {
        keep[i] = fixed && fixed[i] ? 1 : 0;
        kept += keep[i];
        if (!keep[i]) scratch[m++] = i;
    }
    if (k < m) select_first(score, scratch, m, k);
    else k = m;
    for (size_t j = 0; j < k; j++) keep[scratch[j]] = 1;
    return kept + k;
}

size_t xf_kv_select_top_ref(const float *score, const unsigned char *fixed, size_t n, size_t k, unsigned char *keep) {
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (fixed && fixed[i]) {
            keep[i] = 1;
        } else {
            size_t rank = 0; /* candidates that rank before i */
            for (size_t j = 0; j < n; j++) rank += j != i && !(fixed && fixed[j]) && before(score, j, i);
            keep[i] = rank < k;
        }
        kept += keep[i];
    }
    return kept;
}

void xf_kv_mark_sinks_recent(size_t n, size_t sinks, size_t recent, unsigned char *keep) {
    for (size_t i = 0; i < n && i < sinks; i++) keep[i] = 1;
    for (size_t i = n > recent ? n - recent : 0; i < n; i++) keep[i] = 1;
}

void xf_kv_keep_with(xf_kv_layer *L, const unsigned char *keep, float *const *extra, size_t n_extra) {
    for (size_t e = 0; e < n_extra; e++) {
        if (!extra[e]) continue;
        size_t o = 0;
        for (size_t i = 0; i < L->n; i++)
            if (keep[i]) extra[e][o++] = extra[e][i];
    }
    xf_kv_keep(L, keep);
}

xf_status xf_kv_scores_init(xf_kv_scores *s, size_t n_layers) {
    memset(s, 0, sizeof *s);
    s->n_layers = n_layers;
    s->score = xf_calloc(n_layers ? n_layers : 1, sizeof *s->score);
    s->cap = xf_calloc(n_layers ? n_layers : 1, sizeof *s->cap);
    return s->score && s->cap ? XF_OK : xf_error(XF_ERR_NOMEM, "out of memory");
}

void xf_kv_scores_free(xf_kv_scores *s) {
    for (size_t l = 0; s->score && l < s->n_layers; l++) free(s->score[l]);
    free(s->score), free(s->cap), free(s->keep), free(s->fixed), free(s->raw), free(s->idx);
    memset(s, 0, sizeof *s);
}

xf_status xf_kv_scores_room(xf_kv_scores *s, size_t l, size_t n, float fill) {
    if (n > s->cap[l]) {
        float *f = xf_realloc(s->score[l], n * sizeof *f);
        if (!f) return xf_error(XF_ERR_NOMEM, "out of memory");
        for (size_t j = s->cap[l]; j < n; j++) f[j] = fill;
        s->score[l] = f, s->cap[l] = n;
    }
    if (n > s->scratch_cap) {
        unsigned char *k = xf_realloc(s->keep, n), *f = k ? xf_realloc(s->fixed, n) : NULL;
        if (k) s->keep = k;
        if (f) s->fixed = f;
        float *r = f ? xf_realloc(s->raw, n * sizeof *r) : NULL;
        if (r) s->raw = r;
        size_t *i = r ? xf_realloc(s->idx, n * sizeof *i) : NULL;
        if (!i) return xf_error(XF_ERR_NOMEM, "out of memory");
        s->idx = i, s->scratch_cap = n;
    }
    return XF_OK;
}

void xf_kv_scores_keep_top(xf_kv_scores *s, xf_kv_layer *L, size_t l, size_t target, size_t sinks, size_t fixed_last) {
    memset(s->fixed, 0, L->n);
    xf_kv_mark_sinks_recent(L->n, sinks, fixed_last, s->fixed);
    const size_t fixed = sinks + fixed_last;
    xf_kv_select_top(s->score[l], s->fixed, L->n, target > fixed ? target - fixed : 0, s->keep, s->idx);
    float *extra[1] = {s->score[l]};
    xf_kv_keep_with(L, s->keep, extra, 1);
}

xf_status xf_kv_scores_room_heads(xf_kv_scores *s, const xf_kv_layer *L, size_t l, size_t fresh, float fill) {
    const size_t H = L->n_kv_heads, m = L->n * (H < 2 ? 2 : H); /* scratch: H keep masks, 2 columns in raw */
    xf_status st = xf_kv_scores_room(s, l, m, fill);
    for (size_t i = fresh * H; !st && i < L->n * H; i++) s->score[l][i] = fill;
    return st;
}

void xf_kv_scores_keep_top_heads(xf_kv_scores *s, xf_kv_layer *L, size_t l, size_t target, size_t sinks,
                                 size_t fixed_last) {
    const size_t H = L->n_kv_heads, n = L->n, fixed = sinks + fixed_last, k = target > fixed ? target - fixed : 0;
    memset(s->fixed, 0, n);
    xf_kv_mark_sinks_recent(n, sinks, fixed_last, s->fixed);
    float *col = s->raw + n, *sc = s->score[l];
    for (size_t g = 0; g < H; g++) {
        for (size_t i = 0; i < n; i++) col[i] = sc[i * H + g];
        xf_kv_select_top(col, s->fixed, n, k, s->keep + g * n, s->idx);
    }
    for (size_t g = 0; g < H; g++)
        for (size_t i = 0, o = 0; i < n; i++)
            if (s->keep[g * n + i]) sc[o++ * H + g] = sc[i * H + g];
    xf_kv_keep_heads(L, s->keep, n);
}
