/* layers.c — the building blocks declared in layers.h. */
#include "model/layers.h"

#include <math.h>
#include <string.h>


#include <stdlib.h>

#include "core/alloc.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/probsparse.h"
#include "kernels/qmatmul.h"
#include "kernels/rope.h"
#include "model/formats.h"

void xf_linear(xf_pool *pool, const xf_linear_w *l, const float *X, size_t T, float *Y) {
    xf_linear_as(pool, l, X, T, T, Y);
}

void xf_linear_as(xf_pool *pool, const xf_linear_w *l, const float *X, size_t T, size_t path_t, float *Y) {
    const xf_format *f = l->w.fmt;
    if (l->in_sq)
        for (size_t t = 0; t < T; t++)
            for (size_t k = 0; k < l->w.cols; k++) l->in_sq[k] += (double)X[t * l->w.cols + k] * X[t * l->w.cols + k];
    if (l->in_abs || l->in_gram) xf_linear_stats(pool, l, X, T);
    if (path_t > T && f->mm_as)
        f->mm_as(pool, &l->w, (const float *)l->b.data, X, T, path_t, Y);
    else
        (T <= f->gemv_max_t ? f->gemv : f->gemm)(pool, &l->w, (const float *)l->b.data, X, T, Y);
    if (l->out_gram) xf_linear_out_stats(l, Y, T);
}

void xf_linears_as(xf_pool *pool, size_t n, const xf_linear_w *const *l, const float *X, size_t T, size_t path_t,
                   float *const *Y) {
    const xf_weight *w[4];
    const float *b[4];
    int plain = n <= 4;
    for (size_t i = 0; plain && i < n; i++) {
        plain = !l[i]->in_sq && !l[i]->in_abs && !l[i]->in_gram && !l[i]->out_gram;
        w[i] = &l[i]->w, b[i] = (const float *)l[i]->b.data;
    }
    if (plain && xf_format_many(pool, n, w, b, X, T, path_t, Y)) return;
    for (size_t i = 0; i < n; i++) xf_linear_as(pool, l[i], X, T, path_t, Y[i]);
}

static int exact_as(const xf_linear_w *l) {
    return !l->w.data || (l->w.fmt->mm_as && !l->in_sq && !l->in_abs && !l->in_gram && !l->out_gram);
}

int xf_plan_exact_as(const xf_plan *p) {
    for (size_t i = 0; i < p->n_layers; i++) {
        const xf_attn_plan *a = &p->layers[i].attn;
        const xf_ffn_plan *f = &p->layers[i].ffn;
        if (!exact_as(&a->q) || !exact_as(&a->k) || !exact_as(&a->v) || !exact_as(&a->o) || !exact_as(&f->up) ||
            !exact_as(&f->down) || (f->gated && !exact_as(&f->gate)))
            return 0;
    }
    return 1;
}

/* in_gram += X^T X, the full [K, K] Gram of this call's rows through the float GEMM; 0, or -1 when
 * out of memory (the caller then sums in double). */
static int gram_by_gemm(xf_pool *pool, const xf_linear_w *l, const float *X, size_t T) {
    const size_t K = l->w.cols;
    float *A = xf_aligned_alloc(K * T * sizeof *A), *G = A ? xf_aligned_alloc(K * K * sizeof *G) : NULL;
    if (!G) {
        free(A);
        return -1;
    }
    for (size_t t = 0; t < T; t++) /* A = X^T [K, T]: then G = A A^T */
        for (size_t k = 0; k < K; k++) A[k * T + t] = X[t * K + k];
    xf_matmul_f32_nt(pool, A, T, A, T, NULL, G, K, K, K, T);
    for (size_t i = 0; i < K; i++)
        for (size_t j = i; j < K; j++) l->in_gram[i * K + j] += G[i * K + j];
    free(A), free(G);
    return 0;
}

void xf_linear_stats(xf_pool *pool, const xf_linear_w *l, const float *X, size_t T) {
    const size_t K = l->w.cols;
    size_t B = l->gram_block;
    if (l->in_gram && l->gram_gemm && B == K && T && !gram_by_gemm(pool, l, X, T)) B = 0; /* done */
    for (size_t t = 0; t < T; t++) {
        const float *x = X + t * K;
        if (l->in_abs)
            for (size_t k = 0; k < K; k++) l->in_abs[k] += fabs((double)x[k]);
        if (!l->in_gram || !B) continue;
        for (size_t b0 = 0; b0 + B <= K; b0 += B) {
            double *G = l->in_gram + b0 * B; /* block b0 / B: [B][B] */
            for (size_t i = 0; i < B; i++) {
                const double xi = x[b0 + i];
                double *g = G + i * B;
                for (size_t j = i; j < B; j++) g[j] += xi * x[b0 + j];
            }
        }
    }
}

void xf_linear_out_stats(const xf_linear_w *l, const float *Y, size_t T) {
    const size_t N = l->w.rows;
    const float *b = l->b.data;
    for (size_t t = 0; t < T; t++) {
        const float *y = Y + t * N;
        for (size_t i = 0; i < N; i++) {
            double *g = l->out_gram + i * N;
            const double yi = (double)y[i] - (b ? b[i] : 0.0f);
            for (size_t j = i; j < N; j++) g[j] += yi * ((double)y[j] - (b ? b[j] : 0.0f));
        }
    }
}

xf_status xf_linear_reserve(xf_pool *pool, const xf_weight *w) {
    size_t bytes = w->fmt->scratch(w);
    return bytes ? xf_pool_reserve(pool, bytes) : XF_OK;
}

void xf_embed_rows(const xf_weight *word, const int32_t *ids, size_t T, float *X) {
    for (size_t t = 0; t < T; t++) word->fmt->dequant_rows(word, (size_t)ids[t], (size_t)ids[t] + 1, X + t * word->cols);
}

void xf_embed_add(const xf_weight *table, const int32_t *idx, size_t T, float *X) {
    const size_t H = table->cols;
    for (size_t t = 0; t < T; t++) {
        const float *e = (const float *)table->data + (idx ? (size_t)idx[t] : 0) * H;
        float *x = X + t * H;
        for (size_t i = 0; i < H; i++) x[i] += e[i];
    }
}

/* Row-wise work split over the pool: each thread takes a contiguous run of rows. */
typedef struct {
    const xf_norm_w *n;
    float *X;
    const float *R;
    size_t T, width;
} rows_job;

static void add_norm_task(void *ctx, int ith, int nth) {
    const rows_job *j = ctx;
    size_t a, e, w = j->width;
    xf_split_range(j->T, 1, ith, nth, &a, &e);
    if (a == e) return;
    if (j->R) xf_add_inplace(j->X + a * w, j->R + a * w, (e - a) * w);
    if (j->n->kind == XF_NORM_RMS)
        xf_rmsnorm(j->X + a * w, j->X + a * w, j->n->g.data, e - a, w, j->n->eps);
    else if (j->n->kind == XF_NORM_LAYER)
        xf_layernorm(j->X + a * w, j->X + a * w, j->n->g.data, j->n->b.data, e - a, w, j->n->eps);
}

void xf_add_norm(xf_pool *pool, const xf_norm_w *n, float *X, const float *R, size_t T) {
    rows_job j = {n, X, R, T, n->g.cols};
    if (n->kind == XF_NORM_NONE && !R) return;
    if (T < 2) add_norm_task(&j, 0, 1); /* one row is one thread's part: no hand-off (decode) */
    else xf_pool_run(pool, add_norm_task, &j);
}

/* ---------------------------------------------------------------- rotary rows */

typedef struct {
    const xf_attn_plan *a;
    float *Q, *K;
    size_t ldq, ldk, T;
    const int32_t *pos;
    const float *cos_t, *sin_t;
} rope_job;

static void rope_task(void *ctx, int ith, int nth) {
    const rope_job *j = ctx;
    const xf_rope_tab *r = j->a->rope;
    size_t a, e;
    xf_split_range(j->T, 1, ith, nth, &a, &e);
    for (size_t t = a; t < e; t++) {
        const size_t row = j->cos_t ? t : (size_t)j->pos[t];
        const float *c = (j->cos_t ? j->cos_t : r->cos) + row * r->half;
        const float *s = (j->sin_t ? j->sin_t : r->sin) + row * r->half;
        xf_rope_row(j->Q + t * j->ldq, j->a->n_heads, j->a->head_dim, c, s);
        xf_rope_row(j->K + t * j->ldk, j->a->n_kv_heads, j->a->head_dim, c, s);
    }
}

void xf_rope_rows(xf_pool *pool, const xf_attn_plan *a, float *Q, size_t ldq, float *K, size_t ldk,
                  const int32_t *pos, size_t T, const float *cos_t, const float *sin_t) {
    rope_job j = {a, Q, K, ldq, ldk, T, pos, cos_t, sin_t};
    if (T < 2) rope_task(&j, 0, 1); /* one row is one thread's part: no hand-off (decode) */
    else xf_pool_run(pool, rope_task, &j);
}

/* ---------------------------------------------------------------- attention problems
 *
 * Heads are split into chunks of one only when there are fewer tasks than threads (a group's rows
 * share each K block's transposition, which dominates when a block has few rows, as in decoding).
 * Each output row is computed the same way in any task, so the split does not change results. */

size_t xf_attend_scratch(size_t group, size_t dh, int n_threads) {
    return (size_t)n_threads * xf_attention_scratch(group, dh);
}

typedef struct {
    const xf_attn_problem *probs;
    size_t n, n_kv, qb, one_head;
    float *scratch;
} attend_job;

static void attend_task(void *ctx, int ith, int nth) {
    const attend_job *j = ctx;
    size_t task = 0;
    for (size_t s = 0; s < j->n; s++) {
        const xf_attn_problem *p = &j->probs[s];
        float *scratch = j->scratch + (size_t)ith * xf_attention_scratch(p->group, p->dh);
        for (size_t q0 = 0; q0 < p->n_q; q0 += j->qb)
            for (size_t g = 0; g < j->n_kv; g++) {
                const size_t gs = p->h_off ? p->h_off[g + 1] - p->h_off[g] : p->group, hc = j->one_head ? 1 : gs;
                for (size_t h0 = 0; h0 < gs; h0 += hc)
                    if (task++ % (size_t)nth == (size_t)ith)
                        xf_attention(p, g, h0, h0 + hc, q0, q0 + j->qb < p->n_q ? q0 + j->qb : p->n_q, scratch);
            }
    }
}

void xf_attend(xf_pool *pool, const xf_attn_problem *probs, size_t n, size_t n_kv, float *scratch) {
    if (!n) return;
    const size_t qb = xf_attention_qblock(probs[0].group);
    size_t blocks = 0;
    for (size_t s = 0; s < n; s++) blocks += (probs[s].n_q + qb - 1) / qb;
    attend_job j = {probs, n, n_kv, qb, blocks * n_kv < (size_t)xf_pool_size(pool), scratch};
    xf_pool_run(pool, attend_task, &j);
}

/* ---------------------------------------------------------------- ProbSparse */

typedef struct {
    const xf_attn_problem *probs;
    const unsigned char *on;
    size_t n, n_kv;
    float factor;
    int exact;
    float *scratch;
    size_t stride;
} probsparse_job;

static void probsparse_task(void *ctx, int ith, int nth) {
    const probsparse_job *j = ctx;
    size_t task = 0;
    for (size_t s = 0; s < j->n; s++) {
        if (!j->on[s]) continue;
        for (size_t g = 0; g < j->n_kv; g++)
            for (size_t h = 0; h < j->probs[s].group; h++)
                if (task++ % (size_t)nth == (size_t)ith)
                    xf_probsparse_head(&j->probs[s], g, h, j->factor, j->exact, j->scratch + (size_t)ith * j->stride);
    }
}

void xf_attend_probsparse(xf_pool *pool, const xf_attn_problem *probs, const unsigned char *on, size_t n, size_t n_kv,
                          float factor, int exact, float *scratch, size_t ps_stride) {
    probsparse_job j = {probs, on, n, n_kv, factor, exact, scratch, ps_stride};
    xf_pool_run(pool, probsparse_task, &j);
}

/* ---------------------------------------------------------------- attention received */

typedef struct {
    xf_pool *pool;
    const xf_attn_problem *probs;
    size_t n, n_kv, n_heads, T;
    const size_t *off;
    float *part;
} received_job;

static void received_task(void *ctx, int ith, int nth) {
    const received_job *j = ctx;
    size_t have = 0, task = 0;
    float *tile = xf_pool_scratch(j->pool, ith, &have);
    for (size_t s = 0; s < j->n; s++) {
        const xf_attn_problem *p = &j->probs[s];
        for (size_t g = 0; g < j->n_kv; g++) {
            const size_t hb = p->h_off ? p->h_off[g] : g * p->group, gs = p->h_off ? p->h_off[g + 1] - hb : p->group;
            for (size_t h = 0; h < gs; h++) {
                if (task++ % (size_t)nth != (size_t)ith) continue;
                float *acc = j->part + (hb + h) * j->T + j->off[s];
                memset(acc, 0, p->n_k * sizeof *acc);
                xf_attention_received(p, g, h, h + 1, 0, p->n_q, acc, 0, tile, have / sizeof(float));
            }
        }
    }
}

void xf_attend_received(xf_pool *pool, const xf_attn_problem *probs, size_t n, size_t n_kv, size_t n_heads,
                        const size_t *off, float *acc, float *part) {
    const size_t T = off[n];
    received_job j = {pool, probs, n, n_kv, n_heads, T, off, part};
    xf_pool_run(pool, received_task, &j);
    for (size_t t = 0; t < T; t++) {
        float sum = 0.0f;
        for (size_t h = 0; h < n_heads; h++) sum += part[h * T + t];
        acc[t] = sum / (float)n_heads;
    }
}

/* ---------------------------------------------------------------- FFN */

size_t xf_ffn_scratch(const xf_ffn_plan *f, size_t T) { return 2 * T * f->width; }

/* The activation over T rows of width units: GELU split by rows, SiLU(G) * U by runs of 64 (the
 * splits of round 1, which the vector kernels' tails make part of the result), GELU(G) * U (GeGLU)
 * by rows. */
typedef struct {
    float *G;
    const float *U;
    size_t T, width;
    xf_ffn_act act;
} act_job;

/* Activations (T x width values) at most this many are computed by the calling thread alone. */
#ifndef XF_ACT_INLINE
#define XF_ACT_INLINE 4096
#endif

static void act_task(void *ctx, int ith, int nth) {
    const act_job *j = ctx;
    size_t a, e;
    if (j->U && j->act == XF_ACT_SILU) {
        xf_split_range(j->T * j->width, 64, ith, nth, &a, &e);
        if (a < e) xf_silu_mul(j->G + a, j->U + a, e - a);
        return;
    }
    xf_split_range(j->T, 1, ith, nth, &a, &e);
    if (j->act == XF_ACT_GELU_TANH) xf_gelu_tanh(j->G + a * j->width, (e - a) * j->width);
    else xf_gelu_erf(j->G + a * j->width, (e - a) * j->width);
    for (size_t i = a * j->width; j->U && i < e * j->width; i++) j->G[i] *= j->U[i];
}

void xf_ffn(xf_pool *pool, const xf_ffn_plan *f, const float *X, size_t T, float *Y, float *scratch) {
    xf_ffn_as(pool, f, X, T, T, Y, scratch);
}

void xf_ffn_as(xf_pool *pool, const xf_ffn_plan *f, const float *X, size_t T, size_t path_t, float *Y, float *scratch) {
    float *G = scratch, *U = scratch + T * f->width;
    if (f->gated) {
        const xf_linear_w *l[2] = {&f->gate, &f->up};
        float *const Y2[2] = {G, U};
        xf_linears_as(pool, 2, l, X, T, path_t, Y2);
    } else {
        xf_linear_as(pool, &f->up, X, T, path_t, G);
    }
    act_job j = {G, f->gated ? U : NULL, T, f->width, f->act};
    /* a decode step's few thousand values take less than handing them to the threads; element by
     * element, so the same bits either way */
    if (T * f->width <= XF_ACT_INLINE) act_task(&j, 0, 1);
    else xf_pool_run(pool, act_task, &j);
    xf_linear_as(pool, &f->down, G, T, path_t, Y);
}
