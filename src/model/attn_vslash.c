/* attn_vslash.c — vertical-slash prefill attention: MInference's "vertical-slash" pattern (Jiang et
 * al., 2024; one of the patterns of the Sparse Frontier study, Nawrot et al., 2025), training-free.
 *
 * Estimate. The last LASTQ (64) queries of a prompt attend to every key they see (softmax in
 * float); per key/value head, summed over its query heads and those queries, the weight each key
 * j receives scores the vertical column j, and the weight at each offset o = query - key scores
 * the slash diagonal o.
 *
 * Select. With B = ceil(density x n_k): the B / 2 columns of highest score beyond the first SINKS
 * keys (attention sinks, always read), and diagonals of highest score beyond the local window
 * (o < LOCAL, always read) until they cover B - B / 2 more offsets. As MInference's kernel reads
 * them, a tile of 64 queries starting at position P0 reads a diagonal o as the 64 keys
 * P0 - o .. P0 + 63 - o (the band its queries cross), and every selected column it sees; each
 * query masks causally. So a tile reads about density x n_k keys wherever it sits (earlier tiles
 * see fewer: the share of the causal pairs read, which xf_vslash_attend returns, is higher).
 *
 * Attend. Per (key/value head, tile): the positions of the tile's keys are listed in order, and
 * the ordinary attention kernel runs over them through its tile reader (kv_tile: row j is key
 * idx[j], copied into the kernel's block tile as it streams). A tile always reads its own keys
 * (the local diagonals), which come last in the list: the problem is causal by index, as a dense
 * one, and with every key read it is the dense problem itself. The estimate is 64 queries against all keys
 * (1/(n_q/64) of dense attention); the gather one copy per read key. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/dot.h"
#include "model/attn_vslash.h"
#include "model/kv_cache.h"
#include "model/model.h"

#define BT 64

int xf_vslash_applies(const xf_attn_problem *p, float density) {
    return density > 0.0f && density < 1.0f && p->causal && !p->window && !p->k_pos && p->n_q >= XF_VSLASH_LASTQ &&
           p->n_k > 4 * BT;
}

xf_status xf_model_vslash(xf_model *m, float density) {
    if (!(density >= 0.0f && density <= 1.0f))
        return xf_error(XF_ERR_INVALID_ARG, "attn_vslash_density %g is outside 0..1 (0 = dense attention)", (double)density);
    if (density == 0.0f || density == 1.0f) return XF_OK;
    xf_plan *P = &m->plan;
    if (!P->n_layers || !P->layers[0].attn.causal)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: attn_vslash_density applies to decoders (causal attention); "
                        "model_type \"%s\" attends both ways", m->path, m->arch->name);
    for (size_t l = 0; l < P->n_layers; l++) {
        xf_attn_plan *a = &P->layers[l].attn;
        if (a->block_density > 0.0f || a->probsparse > 0.0f)
            return xf_error(XF_ERR_INVALID_ARG, "attn_vslash_density %g: one sparse prefill at a time, and "
                            "attn_block_density or probsparse_factor is set too", (double)density);
        a->vslash_density = density;
    }
    return XF_OK;
}

void xf_vslash_free(xf_vslash *v) {
    free(v->cols), free(v->diag);
    v->cols = v->diag = NULL;
}

/* Rows [0, n) of the keys (values = 0) or values, columns [col, col + dh), as floats. */
static void read_rows(const xf_attn_problem *p, int values, size_t n, size_t col, float *dst) {
    if (p->kv_tile) {
        p->kv_tile(p->kv_ctx, values, 0, n, col, p->dh, p->dh, dst);
        return;
    }
    xf_attn_problem q = *p;
    if (values) q.K = p->V, q.ldk = p->ldv;
    xf_attention_keys(&q, 0, n, col, p->dh, dst);
}

typedef struct {
    float s;
    uint32_t o;
} ranked;

static int by_score(const void *a, const void *b) { /* descending; ties: the smaller offset */
    const ranked *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return (x->o > y->o) - (x->o < y->o);
}

int xf_vslash_select(const xf_attn_problem *p, size_t n_kv, float density, xf_vslash *v) {
    const size_t nk = p->n_k, dh = p->dh, m = p->n_q < XF_VSLASH_LASTQ ? p->n_q : XF_VSLASH_LASTQ;
    memset(v, 0, sizeof *v);
    v->n_kv = n_kv, v->n_k = nk, v->span = nk + BT;
    v->cols = xf_calloc(n_kv * nk, 1), v->diag = xf_calloc(n_kv * v->span, 1);
    float *K = xf_malloc(nk * dh * sizeof *K), *s = xf_malloc(nk * sizeof *s);
    float *cs = xf_malloc(nk * sizeof *cs), *ds = xf_malloc(nk * sizeof *ds);
    size_t *idx = xf_malloc(nk * sizeof *idx);
    ranked *r = xf_malloc(nk * sizeof *r);
    unsigned char *fixed = xf_malloc(nk);
    int ok = v->cols && v->diag && K && s && cs && ds && idx && r && fixed;
    const size_t B = (size_t)ceil((double)density * (double)nk), bv = B / 2, bs = B - bv;
    for (size_t g = 0; ok && g < n_kv; g++) {
        const size_t h0 = p->h_off ? p->h_off[g] : g * p->group, h1 = p->h_off ? p->h_off[g + 1] : h0 + p->group;
        read_rows(p, 0, nk, g * dh, K);
        memset(cs, 0, nk * sizeof *cs), memset(ds, 0, nk * sizeof *ds);
        for (size_t h = h0; h < h1; h++)
            for (size_t i = p->n_q - m; i < p->n_q; i++) {
                const size_t qp = p->q_pos0 + i, n = qp + 1;
                xf_dot_rows(K, n, dh, p->Q + i * p->ldq + h * dh, s);
                float mx = -INFINITY, sum = 0.0f;
                for (size_t j = 0; j < n; j++) mx = s[j] > mx ? s[j] : mx;
                for (size_t j = 0; j < n; j++) sum += s[j] = expf((s[j] - mx) * p->scale);
                const float inv = 1.0f / sum;
                for (size_t j = 0; j < n; j++) {
                    cs[j] += s[j] * inv;
                    ds[qp - j] += s[j] * inv;
                }
            }
        /* columns: the sinks and the bv best others */
        unsigned char *col = v->cols + g * nk;
        for (size_t j = 0; j < nk; j++) fixed[j] = j < XF_VSLASH_SINKS;
        xf_kv_select_top(cs, fixed, nk, bv, col, idx);
        /* diagonals: the local window, then the best others until bs more offsets are covered */
        unsigned char *dg = v->diag + g * v->span;
        for (size_t d = 0; d < XF_VSLASH_LOCAL + BT - 1 && d < v->span; d++) dg[d] = 1; /* d = -63 .. LOCAL-1 */
        size_t n_r = 0, added = 0;
        for (size_t o = XF_VSLASH_LOCAL; o < nk; o++) r[n_r].s = ds[o], r[n_r++].o = (uint32_t)o;
        qsort(r, n_r, sizeof *r, by_score);
        for (size_t k = 0; k < n_r && added < bs; k++)
            for (size_t d = r[k].o; d < r[k].o + BT; d++) /* offsets o - 63 .. o at index + 63 */
                if (!dg[d]) dg[d] = 1, added++;
    }
    free(K), free(s), free(cs), free(ds), free(idx), free(r), free(fixed);
    if (!ok) xf_vslash_free(v);
    return ok ? 0 : -1;
}

/* ---------------------------------------------------------------- attention */

typedef struct {
    const xf_attn_problem *p;
    const xf_vslash *v;
    size_t g, nqt;
    const float *K, *V; /* kv head g's keys and values as floats, n_k x dh */
    double *read;       /* per thread: (query, key) pairs read */
    int *failed;        /* per thread */
} vs_job;

/* The kernel's tile reader over a tile's selected keys: row j is key idx[j] of the head's float rows. */
typedef struct {
    const float *K, *V;
    const int32_t *idx;
} vs_rows;

static void gathered_tile(const void *ctx, int values, size_t j0, size_t nk, size_t col, size_t dh, size_t dp,
                          float *dst) {
    const vs_rows *r = ctx;
    const float *base = values ? r->V : r->K;
    for (size_t j = 0; j < nk; j++) {
        memcpy(dst + j * dp, base + (size_t)r->idx[j0 + j] * dh + col, dh * sizeof *dst);
        memset(dst + j * dp + dh, 0, (dp - dh) * sizeof *dst);
    }
}

static void vs_task(void *ctx, int ith, int nth) {
    const vs_job *j = ctx;
    const xf_attn_problem *p = j->p;
    const size_t nk = p->n_k, dh = p->dh, g = j->g;
    const size_t h0 = p->h_off ? p->h_off[g] : g * p->group, h1 = p->h_off ? p->h_off[g + 1] : h0 + p->group;
    const size_t gs = h1 - h0, qb = xf_attention_qblock(gs);
    float *scr = xf_malloc(xf_attention_scratch(gs, dh) * sizeof *scr);
    int32_t *kp = xf_malloc(nk * sizeof *kp);
    if (!scr || !kp) {
        j->failed[ith] = 1;
        goto done;
    }
    const unsigned char *col = j->v->cols + g * nk, *dg = j->v->diag + g * j->v->span;
    const vs_rows rows = {j->K, j->V, kp};
    for (size_t t = (size_t)ith; t < j->nqt; t += (size_t)nth) {
        const size_t t0 = t * BT, nq = p->n_q - t0 < BT ? p->n_q - t0 : BT, P0 = p->q_pos0 + t0, last = P0 + nq - 1;
        size_t n = 0;
        for (size_t k = 0; k <= last; k++)
            if (col[k] || dg[P0 + BT - 1 - k]) kp[n++] = (int32_t)k;
        for (size_t i = 0, c = 0; i < nq; i++) { /* keys at positions <= P0 + i */
            while (c < n && (size_t)kp[c] <= P0 + i) c++;
            j->read[ith] += (double)c * (double)gs;
        }
        /* the tile's own keys P0..last are always read (diagonals -63..0) and come last: causal by
         * index, query i at index n - nq + i, as in a dense problem */
        xf_attn_problem s = {.Q = p->Q + t0 * p->ldq + h0 * dh, .ldq = p->ldq, .O = p->O + t0 * p->ldo + h0 * dh,
                             .ldo = p->ldo, .kv_tile = gathered_tile, .kv_ctx = &rows, .n_q = nq, .q_pos0 = n - nq,
                             .n_k = n, .dh = dh, .group = gs, .scale = p->scale, .causal = 1};
        for (size_t q0 = 0; q0 < nq; q0 += qb) xf_attention(&s, 0, 0, gs, q0, q0 + qb < nq ? q0 + qb : nq, scr);
    }
done:
    free(scr), free(kp);
}

double xf_vslash_attend(xf_pool *pool, const xf_attn_problem *p, size_t n_kv, const xf_vslash *v) {
    const size_t nk = p->n_k, dh = p->dh, nth = (size_t)(pool ? xf_pool_size(pool) : 1);
    float *K = xf_malloc(nk * dh * sizeof *K), *V = xf_malloc(nk * dh * sizeof *V);
    double *read = xf_calloc(nth, sizeof *read);
    int *failed = xf_calloc(nth, sizeof *failed);
    double share = -1.0;
    if (!K || !V || !read || !failed) goto done;
    size_t heads = 0;
    for (size_t g = 0; g < n_kv; g++) {
        read_rows(p, 0, nk, g * dh, K);
        read_rows(p, 1, nk, g * dh, V);
        vs_job j = {p, v, g, (p->n_q + BT - 1) / BT, K, V, read, failed};
        xf_pool_run(pool, vs_task, &j);
        for (size_t i = 0; i < nth; i++)
            if (failed[i]) goto done;
        heads += p->h_off ? p->h_off[g + 1] - p->h_off[g] : p->group;
    }
    double total = 0, pairs = 0; /* causal pairs: query i sees q_pos0 + i + 1 keys */
    for (size_t i = 0; i < nth; i++) total += read[i];
    for (size_t i = 0; i < p->n_q; i++) pairs += (double)(p->q_pos0 + i + 1);
    share = total / (pairs * (double)heads);
done:
    free(K), free(V), free(read), free(failed);
    return share;
}
