/* adaptive.c — adaptive compute for encoders (docs/ADAPTIVE.md), as one between-layer hook of the
 * forward loop (model/forward.h):
 *
 *   - token pruning: after layer l (not the last) each text keeps the ceil(share_l * length) tokens
 *     (at least keep_min) that received the most attention in layer l (xf_fwd.acc, the Attention Context Contribution
 *     of the latency-adjustable encoder), its special tokens and its first and last token always;
 *   - early exit: after layer l (l + 1 >= exit_min_layers) a text whose pooled output has cosine
 *     >= exit_cosine with layer l - 1's leaves the batch; its embedding is layer l's.
 *
 * A token or text that leaves is "frozen": its hidden state is saved, and after the last layer (or
 * when every text has left) the hook writes the batch back in its original order — kept tokens
 * with their final states, frozen ones with the state they left with (pruned tokens only when
 * pool_pruned) — so pooling (model.c) reads whole texts. With pool_pruned = 2 the write-back
 * happens before the last layer instead (token dropping: pruned tokens skip the middle layers and
 * rejoin for the last). Pooled outputs between layers are taken
 * the same way (current rows + frozen rows), so the exit test compares what the embedding would
 * be if the text stopped there.
 *
 * Token merging (p.merge) reaches the same shares differently: after layer l each text merges
 * its most similar rows (bipartite soft matching of ToMe, Bolya et al. 2023, on the cosine of
 * the hidden states: alternate rows are sources and destinations, each source's best destination,
 * the best-matched sources merge) into their size-weighted mean; the forward pass adds log(size)
 * to the scores of each key (proportional attention: a row holding n tokens weighs as n copies),
 * and after the last layer every original token takes its row's final state, so pooling sees the
 * whole text. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/abi.h"
#include "core/alloc.h"
#include "core/error.h"
#include "kernels/dot.h"
#include "kernels/matmul.h"
#include "model/forward.h"
#include "model/model.h"

struct xf_adaptive {
    xf_adaptive_params p;
    size_t n_layers, H;
    xf_pooling pooling;
    float *share;            /* [n_layers - 1]: share of each text's tokens layer l + 1 sees; NULL = no pruning */
    unsigned char *want_acc; /* [n_layers] */
    unsigned char *special;  /* [vocab] */
    size_t vocab;
    int exit_on;
    /* the current batch */
    size_t n0, T0, cap_T, cap_n;
    size_t *off0, *src, *seq, *depth; /* original offsets; original row of each row; original text of each text */
    int32_t *ids0;
    unsigned char *in_pool, *keep, *leaving;
    float *saved, *fsum, *fmax, *prev, *cur, *tmp;
    size_t *fcount;
    int dropped;
    /* token merging: tokens each row holds, their logs (the key biases), the row holding each
     * original token (where), a merged row's destination, the batch's new row of each row, similarities */
    float *size, *lsize, *sim;
    size_t *where, *dst, *newrow, cap_sim;
    /* calibration: cosines per text and layer (consecutive, to the full-depth output) */
    float *rec;        /* [n0, n_layers, H] pooled outputs of the batch */
    float *cal_cons, *cal_fin;
    size_t cal_at, cal_n, cap_rec;
    /* statistics */
    uint64_t n_texts, layers_sum, token_layers, token_layers_dense;
};

void xf_adaptive_free(xf_adaptive *a) {
    if (!a) return;
    free(a->share);
    free(a->want_acc);
    free(a->special);
    free(a->off0);
    free(a->src);
    free(a->seq);
    free(a->depth);
    free(a->ids0);
    free(a->in_pool);
    free(a->keep);
    free(a->leaving);
    free(a->saved);
    free(a->fsum);
    free(a->fmax);
    free(a->prev);
    free(a->cur);
    free(a->tmp);
    free(a->fcount);
    free(a->rec);
    free(a->size);
    free(a->lsize);
    free(a->sim);
    free(a->where);
    free(a->dst);
    free(a->newrow);
    free(a);
}

/* ------------------------------------------------------------------ batch memory */

#define GROW(ptr, n) (xf_realloc((ptr), (n) * sizeof *(ptr)))

static xf_status reserve(xf_adaptive *a, size_t T, size_t n) {
    const size_t H = a->H, L = a->n_layers;
    if (T > a->cap_T) {
        size_t *src = GROW(a->src, T);
        if (src) a->src = src;
        int32_t *ids = GROW(a->ids0, T);
        if (ids) a->ids0 = ids;
        unsigned char *ip = GROW(a->in_pool, T), *kp = ip ? GROW(a->keep, T) : NULL;
        if (ip) a->in_pool = ip;
        if (kp) a->keep = kp;
        float *sv = GROW(a->saved, T * H), *tp = sv ? GROW(a->tmp, T) : NULL;
        if (sv) a->saved = sv;
        if (tp) a->tmp = tp;
        if (!src || !ids || !ip || !kp || !sv || !tp) return xf_error(XF_ERR_NOMEM, "adaptive compute: no memory for %zu tokens", T);
        if (a->p.merge) {
            float *sz = GROW(a->size, T), *ls = sz ? GROW(a->lsize, T) : NULL;
            if (sz) a->size = sz;
            if (ls) a->lsize = ls;
            size_t *wh = ls ? GROW(a->where, T) : NULL, *ds = wh ? GROW(a->dst, T) : NULL, *nr = ds ? GROW(a->newrow, T) : NULL;
            if (wh) a->where = wh;
            if (ds) a->dst = ds;
            if (nr) a->newrow = nr;
            if (!nr) return xf_error(XF_ERR_NOMEM, "token merging: no memory for %zu tokens", T);
        }
        a->cap_T = T;
    }
    if (n > a->cap_n) {
        size_t *o = GROW(a->off0, n + 1), *s = o ? GROW(a->seq, n) : NULL, *d = s ? GROW(a->depth, n) : NULL;
        if (o) a->off0 = o;
        if (s) a->seq = s;
        if (d) a->depth = d;
        size_t *fc = d ? GROW(a->fcount, n) : NULL;
        if (fc) a->fcount = fc;
        unsigned char *lv = fc ? GROW(a->leaving, n) : NULL;
        if (lv) a->leaving = lv;
        float *fs = lv ? GROW(a->fsum, n * H) : NULL;
        if (fs) a->fsum = fs;
        float *fm = fs ? GROW(a->fmax, n * H) : NULL;
        if (fm) a->fmax = fm;
        float *pv = fm ? GROW(a->prev, n * H) : NULL;
        if (pv) a->prev = pv;
        float *cu = pv ? GROW(a->cur, n * H) : NULL;
        if (cu) a->cur = cu;
        if (!cu) return xf_error(XF_ERR_NOMEM, "adaptive compute: no memory for %zu texts", n);
        a->cap_n = n;
    }
    if (a->cal_cons && n > a->cap_rec) {
        float *rc = GROW(a->rec, n * L * H);
        if (!rc) return xf_error(XF_ERR_NOMEM, "early-exit calibration: no memory for %zu texts", n);
        a->rec = rc;
        a->cap_rec = n;
    }
    return XF_OK;
}

/* ------------------------------------------------------------------ pooled outputs */

/* Pooled output (not normalized; mean pooling as a sum, which the cosines do not see) of current
 * text s (original text o): its current rows plus, where they count, its frozen ones. */
static void pooled(const xf_adaptive *a, const xf_fwd *f, size_t s, size_t o, float *out) {
    const size_t H = a->H, b = f->off[s], e = f->off[s + 1];
    const float *X = f->X;
    switch (a->pooling) {
    case XF_POOL_CLS: memcpy(out, X + b * H, H * sizeof *out); return; /* the first token is always kept */
    case XF_POOL_LAST: memcpy(out, X + (e - 1) * H, H * sizeof *out); return;
    case XF_POOL_MAX:
        memcpy(out, X + b * H, H * sizeof *out);
        for (size_t t = b + 1; t < e; t++)
            for (size_t i = 0; i < H; i++) out[i] = X[t * H + i] > out[i] ? X[t * H + i] : out[i];
        for (size_t i = 0; a->fcount[o] && i < H; i++) out[i] = a->fmax[o * H + i] > out[i] ? a->fmax[o * H + i] : out[i];
        return;
    case XF_POOL_MEAN:
    case XF_POOL_MEAN_SQRT_LEN:
        memcpy(out, a->fsum + o * H, H * sizeof *out);
        for (size_t t = b; t < e; t++)
            for (size_t i = 0; i < H; i++) out[i] += X[t * H + i];
        return;
    }
}

static double cosine(const float *x, const float *y, size_t n) {
    double xy = 0, xx = 0, yy = 0;
    for (size_t i = 0; i < n; i++) {
        xy += (double)x[i] * y[i];
        xx += (double)x[i] * x[i];
        yy += (double)y[i] * y[i];
    }
    return xx > 0 && yy > 0 ? xy / sqrt(xx * yy) : 0.0;
}

/* ------------------------------------------------------------------ pruning */

static int is_special(const xf_adaptive *a, int32_t id) { return id >= 0 && (size_t)id < a->vocab && a->special[id]; }

static int by_score_desc(const void *x, const void *y) {
    const float u = *(const float *)x, v = *(const float *)y;
    return u < v ? 1 : u > v ? -1 : 0;
}

/* keep[t] for the rows of current text s (original o): the n_keep with the highest score, those
 * that must stay first; ties go to the earlier token. */
static void choose(xf_adaptive *a, const xf_fwd *f, size_t s, size_t o, float share) {
    const size_t b = f->off[s], e = f->off[s + 1], L0 = a->off0[o + 1] - a->off0[o];
    size_t n_keep = (size_t)ceilf(share * (float)L0 - 1e-4f), must = 0, free_n = 0;
    if (n_keep < a->p.keep_min) n_keep = a->p.keep_min;
    for (size_t t = b; t < e; t++) {
        const size_t r = a->src[t];
        a->keep[t] = r == a->off0[o] || r + 1 == a->off0[o + 1] || is_special(a, a->ids0[r]);
        must += a->keep[t];
        if (!a->keep[t]) a->tmp[free_n++] = f->acc[t];
    }
    if (n_keep >= e - b) {
        memset(a->keep + b, 1, e - b);
        return;
    }
    if (n_keep <= must) return;
    size_t want = n_keep - must;
    qsort(a->tmp, free_n, sizeof *a->tmp, by_score_desc);
    const float cut = a->tmp[want - 1];
    for (size_t t = b; t < e; t++)
        if (!a->keep[t] && f->acc[t] > cut) a->keep[t] = 1, want--;
    for (size_t t = b; t < e && want; t++)
        if (!a->keep[t] && f->acc[t] == cut) a->keep[t] = 1, want--;
}

/* ------------------------------------------------------------------ the hook */

static void freeze_row(xf_adaptive *a, const xf_fwd *f, size_t t, size_t o, int counts) {
    const size_t H = a->H, r = a->src[t];
    const float *x = f->X + t * H;
    memcpy(a->saved + r * H, x, H * sizeof *x);
    a->in_pool[r] = (unsigned char)counts;
    if (!counts) return;
    float *sum = a->fsum + o * H, *mx = a->fmax + o * H;
    for (size_t i = 0; i < H; i++) sum[i] += x[i];
    if (a->fcount[o]++ == 0) memcpy(mx, x, H * sizeof *x);
    else
        for (size_t i = 0; i < H; i++) mx[i] = x[i] > mx[i] ? x[i] : mx[i];
}

/* Keep rows with keep[t], texts with a row left; rewrite X, pos, off, n_seq and the maps. */
static void compact(xf_adaptive *a, xf_fwd *f) {
    const size_t H = a->H;
    size_t w = 0, ns = 0;
    for (size_t s = 0; s < f->n_seq; s++) {
        const size_t b = f->off[s], e = f->off[s + 1], start = w;
        for (size_t t = b; t < e; t++) {
            if (!a->keep[t]) continue;
            if (w != t) {
                memmove(f->X + w * H, f->X + t * H, H * sizeof *f->X);
                f->pos[w] = f->pos[t];
                a->src[w] = a->src[t];
                if (a->p.merge) a->size[w] = a->size[t];
            }
            w++;
        }
        if (w == start) continue;
        f->off[ns] = start;
        a->seq[ns++] = a->seq[s];
    }
    f->off[ns] = w;
    f->n_seq = ns;
}

/* Write the whole batch back in its original order (the rows that count in pooling). */
static void restore(xf_adaptive *a, xf_fwd *f) {
    const size_t H = a->H;
    for (size_t t = 0; t < f->off[f->n_seq]; t++) {
        memcpy(a->saved + a->src[t] * H, f->X + t * H, H * sizeof *f->X);
        a->in_pool[a->src[t]] = 1;
    }
    size_t w = 0;
    for (size_t o = 0; o < a->n0; o++) {
        f->off[o] = w;
        for (size_t r = a->off0[o]; r < a->off0[o + 1]; r++) {
            if (!a->in_pool[r]) continue;
            memcpy(f->X + w * H, a->saved + r * H, H * sizeof *f->X);
            f->pos[w++] = (int32_t)(r - a->off0[o]);
        }
    }
    f->off[a->n0] = w;
    f->n_seq = a->n0;
}

/* ------------------------------------------------------------------ merging */

typedef struct {
    float score;
    size_t row;
} scored_row;

static int by_match_desc(const void *x, const void *y) { /* best match first, earlier row on ties */
    const scored_row *u = x, *v = y;
    return u->score < v->score ? 1 : u->score > v->score ? -1 : u->row < v->row ? -1 : u->row > v->row;
}

static int must_stay(const xf_adaptive *a, size_t o, size_t t) {
    const size_t r = a->src[t];
    return r == a->off0[o] || r + 1 == a->off0[o + 1] || is_special(a, a->ids0[r]);
}

/* Merge current text s down to its share: rows b + 0, 2, 4, ... are sources, b + 1, 3, ...
 * destinations; each source's best destination by cosine (the first on ties), the best-matched
 * sources merge (keep[t] = 0, dst[t] = its destination) and each destination becomes the
 * size-weighted mean of itself and its sources (in row order). Rows that must stay take no part.
 * Returns 1 when rows merged, 0 when none did, -1 (error set) without memory. */
static int merge_text(xf_adaptive *a, xf_fwd *f, size_t s, float share) {
    const size_t H = a->H, b = f->off[s], n = f->off[s + 1] - b, o = a->seq[s], L0 = a->off0[o + 1] - a->off0[o];
    size_t target = (size_t)ceilf(share * (float)L0 - 1e-4f);
    if (target < a->p.keep_min) target = a->p.keep_min;
    if (n <= target || n < 2) return 0;
    /* the buffer: dot products S [nA, nB], candidates [nA], 1 / norm and must-stay flags [n] each */
    const size_t nA = (n + 1) / 2, nB = n / 2, nS = (nA * nB + 1) & ~(size_t)1; /* candidates 8-aligned */
    const size_t need = nS + nA * (sizeof(scored_row) / sizeof(float)) + 2 * n;
    if (need > a->cap_sim) {
        float *sm = GROW(a->sim, need);
        if (!sm) return xf_error(XF_ERR_NOMEM, "token merging: no memory for %zu x %zu similarities", nA, nB), -1;
        a->sim = sm, a->cap_sim = need;
    }
    float *S = a->sim, *inv = S + nS + nA * (sizeof(scored_row) / sizeof(float)), *stay = inv + n;
    scored_row *cand = (scored_row *)(void *)(S + nS);
    const float *X = f->X + b * H;
    for (size_t i = 0; i < n; i++) {
        float ss;
        xf_dot_rows(X + i * H, 1, H, X + i * H, &ss);
        inv[i] = ss > 0.0f ? 1.0f / sqrtf(ss) : 0.0f;
        stay[i] = (float)must_stay(a, o, b + i);
    }
    xf_gemm_f32_nt(X, 2 * H, X + H, 2 * H, NULL, S, nB, nA, 0, nB, H); /* S[i][j] = row 2i . row 2j + 1 */
    size_t nc = 0;
    for (size_t i = 0; i < nA; i++) { /* cosine = S * inv * inv; the source's inv does not move its argmax */
        if (stay[2 * i] != 0.0f) continue;
        size_t best = nB;
        float bs = 0.0f;
        for (size_t j = 0; j < nB; j++) {
            const float c = S[i * nB + j] * inv[2 * j + 1];
            if (stay[2 * j + 1] == 0.0f && (best == nB || c > bs)) best = j, bs = c;
        }
        if (best == nB) break; /* every destination must stay */
        a->dst[b + 2 * i] = b + 2 * best + 1;
        cand[nc].score = bs * inv[2 * i], cand[nc++].row = b + 2 * i;
    }
    size_t r = n - target < nc ? n - target : nc;
    if (!r) return 0;
    qsort(cand, nc, sizeof *cand, by_match_desc);
    for (size_t c = 0; c < r; c++) a->keep[cand[c].row] = 0;
    /* destinations: sums weighted by size, sources in row order, then the means */
    for (size_t t = b + 1; t < b + n; t += 2) a->tmp[t] = 0.0f; /* 1: scaled to a sum */
    for (size_t t = b; t < b + n; t += 2) {
        if (a->keep[t]) continue;
        const size_t d = a->dst[t];
        float *xd = f->X + d * H;
        const float *xs = f->X + t * H, ws = a->size[t];
        if (a->tmp[d] == 0.0f) {
            const float wd = a->size[d];
            for (size_t k = 0; k < H; k++) xd[k] *= wd;
            a->tmp[d] = 1.0f;
        }
        for (size_t k = 0; k < H; k++) xd[k] += ws * xs[k];
        a->size[d] += ws;
    }
    for (size_t t = b + 1; t < b + n; t += 2) {
        if (a->tmp[t] == 0.0f) continue;
        const float rs = 1.0f / a->size[t];
        for (size_t k = 0; k < H; k++) f->X[t * H + k] *= rs;
    }
    return 1;
}

/* After merge_text on every text: where each original token now is (cur), the compacted batch,
 * the key biases. */
static void merge_commit(xf_adaptive *a, xf_fwd *f) {
    const size_t T = f->off[f->n_seq];
    size_t w = 0;
    for (size_t t = 0; t < T; t++)
        if (a->keep[t]) a->newrow[t] = w++;
    for (size_t t = 0; t < T; t++)
        if (!a->keep[t]) a->newrow[t] = a->newrow[a->dst[t]];
    for (size_t r = 0; r < a->T0; r++) a->where[r] = a->newrow[a->where[r]];
    compact(a, f);
    for (size_t t = 0; t < f->off[f->n_seq]; t++) a->lsize[t] = logf(a->size[t]);
    f->k_bias = a->lsize;
}

/* Every original token back in its place with its row's state (the end of a merged batch). */
static void unmerge(xf_adaptive *a, xf_fwd *f) {
    const size_t H = a->H;
    for (size_t r = 0; r < a->T0; r++) memcpy(a->saved + r * H, f->X + a->where[r] * H, H * sizeof *f->X);
    memset(a->in_pool, 1, a->T0);
    f->n_seq = 0, f->off[0] = 0; /* restore() copies no current rows */
    restore(a, f);
    f->k_bias = NULL;
}

static void record_calibration(xf_adaptive *a) {
    const size_t L = a->n_layers, H = a->H;
    for (size_t o = 0; o < a->n0 && a->cal_at < a->cal_n; o++, a->cal_at++) {
        const float *r = a->rec + o * L * H, *fin = r + (L - 1) * H;
        for (size_t l = 0; l < L; l++) {
            a->cal_cons[a->cal_at * L + l] = l ? (float)cosine(r + (l - 1) * H, r + l * H, H) : 0.0f;
            a->cal_fin[a->cal_at * L + l] = (float)cosine(r + l * H, fin, H);
        }
    }
}

static xf_status hook(void *ctx, xf_fwd *f, size_t layer, int *stop) {
    xf_adaptive *a = ctx;
    const size_t H = a->H, L = a->n_layers;
    if (layer == f->first_layer) { /* a new batch: remember it as it came */
        const size_t T = f->off[f->n_seq];
        xf_status st = reserve(a, T, f->n_seq);
        if (st) return st;
        a->n0 = f->n_seq, a->T0 = T, a->dropped = 0;
        memcpy(a->off0, f->off, (f->n_seq + 1) * sizeof *f->off);
        memcpy(a->ids0, f->ids, T * sizeof *f->ids);
        for (size_t t = 0; t < T; t++) a->src[t] = t;
        memset(a->in_pool, 1, T);
        for (size_t s = 0; s < f->n_seq; s++) a->seq[s] = s, a->depth[s] = L, a->fcount[s] = 0;
        for (size_t t = 0; a->p.merge && t < T; t++) a->size[t] = 1.0f, a->where[t] = t;
        f->k_bias = NULL;
        memset(a->fsum, 0, f->n_seq * H * sizeof *a->fsum);
        a->n_texts += f->n_seq;
        a->token_layers_dense += (uint64_t)T * L;
        a->token_layers += (uint64_t)T * layer; /* layers before first_layer ran elsewhere */
    }
    const size_t T = f->off[f->n_seq];
    a->token_layers += T;
    const int last = layer + 1 == L, rec = a->cal_cons != NULL;
    int any = 0;
    memset(a->keep, 1, T);
    if (a->exit_on || rec) {
        for (size_t s = 0; s < f->n_seq; s++) {
            const size_t o = a->seq[s];
            float *cur = rec ? a->rec + (o * L + layer) * H : a->cur + o * H, *prev = a->prev + o * H;
            pooled(a, f, s, o, cur);
            a->leaving[s] = 0;
            if (a->exit_on && !last && layer > f->first_layer && layer + 1 >= a->p.exit_min_layers &&
                cosine(prev, cur, H) >= a->p.exit_cosine) {
                a->leaving[s] = 1, a->depth[o] = layer + 1, any = 1;
                for (size_t t = f->off[s]; t < f->off[s + 1]; t++) a->keep[t] = 0;
            }
            if (!rec) memcpy(prev, cur, H * sizeof *cur);
        }
    }
    const int rejoin = a->p.pool_pruned == 2 && layer + 2 == L; /* pruned tokens come back for the last layer */
    if (a->p.merge && !last && a->share[layer] < 1.0f) {
        int merged = 0;
        for (size_t s = 0; s < f->n_seq; s++) {
            const int r = merge_text(a, f, s, a->share[layer]);
            if (r < 0) return XF_ERR_NOMEM;
            merged |= r;
        }
        if (merged) merge_commit(a, f), a->dropped = 1;
    } else if (a->share && !last && !rejoin && a->share[layer] < 1.0f) {
        for (size_t s = 0; s < f->n_seq; s++) {
            if (a->exit_on && a->leaving[s]) continue;
            choose(a, f, s, a->seq[s], a->share[layer]);
        }
        any = 1;
    }
    if (any) {
        for (size_t s = 0; s < f->n_seq; s++) {
            const size_t o = a->seq[s];
            const int leaving = a->exit_on && a->leaving[s];
            for (size_t t = f->off[s]; t < f->off[s + 1]; t++)
                if (!a->keep[t]) freeze_row(a, f, t, o, leaving || a->p.pool_pruned), a->dropped = 1;
        }
        compact(a, f);
    }
    if (rejoin && a->dropped) { /* the whole batch again, pruned tokens with the state they left with */
        restore(a, f);
        for (size_t t = 0; t < a->T0; t++) a->src[t] = t;
        for (size_t s = 0; s < a->n0; s++) a->seq[s] = s, a->fcount[s] = 0;
        memset(a->fsum, 0, a->n0 * H * sizeof *a->fsum);
        a->dropped = 0;
    }
    if (last || f->n_seq == 0) {
        for (size_t o = 0; o < a->n0; o++) a->layers_sum += a->depth[o];
        if (rec) record_calibration(a);
        if (a->dropped && a->p.merge) unmerge(a, f);
        else if (a->dropped) restore(a, f);
        *stop = 1;
    }
    return XF_OK;
}

/* ------------------------------------------------------------------ API */

static void install(xf_model *m, xf_adaptive *a) {
    xf_adaptive_free(m->adaptive);
    m->adaptive = a;
    m->hook = a ? hook : NULL;
    m->hook_ctx = a;
    m->hook_want_acc = a && a->share && !a->p.merge ? a->want_acc : NULL;
}

xf_status xf_model_set_adaptive(xf_model *m, const xf_adaptive_params *pp) {
    if (!m) return xf_error(XF_ERR_INVALID_ARG, "xf_model_set_adaptive: NULL model");
    if (m->plan.lm_head.w.data)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: token pruning and early exit are for encoders; model_type \"%s\" is a decoder",
                        m->path, m->arch->name);
    if (!pp) {
        install(m, NULL);
        return XF_OK;
    }
    xf_adaptive_params p = xf_adaptive_default_params();
    xf_status st0 = xf_struct_in(&p, sizeof p, pp, sizeof p, "xf_adaptive_params");
    if (st0) return st0;
    const size_t L = m->plan.n_layers;
    if (!(p.keep > 0.0f && p.keep <= 1.0f)) return xf_error(XF_ERR_RANGE, "keep %g is outside (0, 1]", (double)p.keep);
    if (p.keep_schedule) {
        if (p.n_keep_schedule != L - 1)
            return xf_error(XF_ERR_RANGE, "keep schedule has %zu shares; the %zu-layer model needs %zu (one after each layer but the last)",
                            p.n_keep_schedule, L, L - 1);
        for (size_t l = 0; l < p.n_keep_schedule; l++) {
            const float v = p.keep_schedule[l];
            if (!(v > 0.0f && v <= 1.0f)) return xf_error(XF_ERR_RANGE, "keep schedule entry %zu is %g, outside (0, 1]", l, (double)v);
            if (l && v > p.keep_schedule[l - 1])
                return xf_error(XF_ERR_RANGE, "keep schedule entry %zu (%g) is above entry %zu (%g): shares may only fall", l,
                                (double)v, l - 1, (double)p.keep_schedule[l - 1]);
        }
    }
    if (!(p.exit_cosine > 0.0f)) return xf_error(XF_ERR_RANGE, "exit cosine %g must be above 0 (above 1 turns early exit off)", (double)p.exit_cosine);
    if (p.exit_min_layers < 2 || p.exit_min_layers > L)
        return xf_error(XF_ERR_RANGE, "exit_min_layers %zu is outside [2, %zu]", p.exit_min_layers, L);
    const int prune = p.keep_schedule || p.keep < 1.0f, ex = p.exit_cosine <= 1.0f;
    if (p.pool_pruned < 0 || p.pool_pruned > 2)
        return xf_error(XF_ERR_RANGE, "pool_pruned %d is not 0 (drop), 1 (pool frozen) or 2 (rejoin for the last layer)", p.pool_pruned);
    if (p.pool_pruned == 2 && ex) return xf_error(XF_ERR_UNSUPPORTED, "pruned tokens rejoining the last layer and early exit do not combine");
    if (p.merge != 0 && p.merge != 1) return xf_error(XF_ERR_RANGE, "merge %d is not 0 (prune) or 1 (merge tokens)", p.merge);
    if (p.merge && ex) return xf_error(XF_ERR_UNSUPPORTED, "token merging and early exit do not combine");
    if (p.merge && p.pool_pruned != 1)
        return xf_error(XF_ERR_UNSUPPORTED, "pool_pruned %d is for pruning; merged tokens always pool with their row's final state", p.pool_pruned);
    if (!prune && !ex) {
        install(m, NULL);
        return XF_OK;
    }
    xf_adaptive *a = xf_calloc(1, sizeof *a);
    if (!a) return xf_error(XF_ERR_NOMEM, "cannot allocate adaptive compute state");
    a->p = p;
    a->p.keep_schedule = NULL;
    a->n_layers = L, a->H = m->plan.hidden, a->pooling = m->layout.pooling, a->exit_on = ex;
    a->vocab = xf_tokenizer_vocab_size(m->tok);
    a->special = xf_calloc(a->vocab ? a->vocab : 1, 1);
    a->want_acc = xf_calloc(L, 1);
    if (!a->special || !a->want_acc || (prune && L > 1 && !(a->share = xf_calloc(L - 1, sizeof *a->share)))) {
        xf_adaptive_free(a);
        return xf_error(XF_ERR_NOMEM, "cannot allocate adaptive compute state");
    }
    for (size_t id = 0; id < a->vocab; id++) a->special[id] = (unsigned char)xf_tokenizer_is_special(m->tok, (int32_t)id);
    for (size_t l = 0; a->share && l + 1 < L; l++) {
        a->share[l] = p.keep_schedule ? p.keep_schedule[l] : powf(p.keep, (float)(l + 1) / (float)(L - 1));
        a->want_acc[l] = !p.merge && a->share[l] < 1.0f && !(p.pool_pruned == 2 && l + 2 == L);
    }
    install(m, a);
    return XF_OK;
}

xf_status xf_model_adaptive_stats(xf_model *m, xf_adaptive_stats *out, int reset) {
    if (!m || !out) return xf_error(XF_ERR_INVALID_ARG, "xf_model_adaptive_stats: NULL argument");
    xf_adaptive_stats st = xf_adaptive_stats_init();
    xf_adaptive *a = m->adaptive;
    if (a) {
        st.n_texts = a->n_texts;
        st.mean_layers = a->n_texts ? (double)a->layers_sum / (double)a->n_texts : 0.0;
        st.token_layers = a->token_layers;
        st.token_layers_dense = a->token_layers_dense;
    }
    xf_status rc = xf_struct_out(out, &st, sizeof st, sizeof st, "xf_adaptive_stats");
    if (!rc && a && reset) a->n_texts = a->layers_sum = a->token_layers = a->token_layers_dense = 0;
    return rc;
}

/* Exit layer of one calibration text at threshold th (cons / fin: its cosines per layer). */
static size_t exit_layer(const float *cons, size_t L, size_t min_layers, float th) {
    for (size_t l = 1; l + 1 < L; l++)
        if (l + 1 >= min_layers && cons[l] >= th) return l;
    return L - 1;
}

xf_status xf_model_calibrate_exit(xf_model *m, const char *const *texts, size_t n, float target, float *threshold) {
    if (!m || (n && !texts)) return xf_error(XF_ERR_INVALID_ARG, "xf_model_calibrate_exit: NULL argument");
    if (n == 0) return xf_error(XF_ERR_INVALID_ARG, "early-exit calibration needs at least one text");
    if (!(target > 0.0f && target <= 1.0f)) return xf_error(XF_ERR_RANGE, "calibration target cosine %g is outside (0, 1]", (double)target);
    xf_adaptive_params p = m->adaptive ? m->adaptive->p : xf_adaptive_default_params();
    const float *sched = m->adaptive && m->adaptive->share ? m->adaptive->share : NULL;
    float *sched_copy = NULL;
    const size_t L = m->plan.n_layers, H = m->plan.hidden;
    if (sched) {
        if (!(sched_copy = xf_malloc((L - 1) * sizeof *sched_copy))) return xf_error(XF_ERR_NOMEM, "calibration: no memory");
        memcpy(sched_copy, sched, (L - 1) * sizeof *sched_copy);
        p.keep_schedule = sched_copy, p.n_keep_schedule = L - 1;
    }
    const xf_adaptive_params keep_p = p;
    p.exit_cosine = 0.5f; /* installs the hook; recording turns exits off below */
    float *cons = xf_malloc(n * L * sizeof *cons), *fin = xf_malloc(n * L * sizeof *fin), *emb = xf_malloc(n * H * sizeof *emb);
    xf_status st = cons && fin && emb ? XF_OK : xf_error(XF_ERR_NOMEM, "calibration: no memory for %zu texts", n);
    if (!st) st = xf_model_set_adaptive(m, &p);
    if (!st) {
        xf_adaptive *a = m->adaptive;
        a->exit_on = 0, a->cal_cons = cons, a->cal_fin = fin, a->cal_n = n, a->cal_at = 0;
        st = xf_embed(m, texts, n, 0, emb, NULL);
        a->cal_cons = a->cal_fin = NULL;
        if (!st && a->cal_at != n) st = xf_error(XF_ERR_INVALID_ARG, "calibration recorded %zu of %zu texts", a->cal_at, n);
    }
    float best = 2.0f;
    if (!st) { /* candidates: every consecutive cosine seen; the smallest that keeps every text >= target */
        float *cand = xf_malloc(n * L * sizeof *cand);
        size_t nc = 0;
        if (!cand) st = xf_error(XF_ERR_NOMEM, "calibration: no memory");
        for (size_t i = 0; cand && i < n; i++)
            for (size_t l = 1; l + 1 < L; l++) cand[nc++] = cons[i * L + l];
        for (size_t c = 0; cand && c < nc; c++) {
            if (cand[c] >= best) continue;
            int ok = 1;
            for (size_t i = 0; i < n && ok; i++)
                ok = fin[i * L + exit_layer(cons + i * L, L, keep_p.exit_min_layers, cand[c])] >= target;
            if (ok) best = cand[c];
        }
        free(cand);
    }
    p = keep_p;
    p.exit_cosine = best;
    xf_status st2 = xf_model_set_adaptive(m, &p); /* back to the settings given, with the threshold */
    if (!st) st = st2;
    if (!st && threshold) *threshold = best;
    free(sched_copy);
    free(cons);
    free(fin);
    free(emb);
    return st;
}
