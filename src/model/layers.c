/* layers.c — the shared Transformer blocks declared in layers.h. */
#include "model/layers.h"

#include <math.h>
#include <string.h>

#include "kernels/attention.h"
#include "kernels/gemm_i8.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/qgemv_q8.h"
#include "kernels/qmatmul.h"
#include "kernels/rope.h"

void xf_linear(xf_pool *pool, const xf_linear_w *l, const float *X, size_t T, float *Y) {
    const xf_weight *w = &l->w;
    switch (w->fmt) {
    case XF_WF_I8:
        xf_matmul_i8(pool, X, w->cols, T, w->data, w->scale, (const float *)l->b.data, Y, w->rows, w->rows,
                     w->cols);
        break;
    case XF_WF_F32P:
        xf_matmul_f32_packed(pool, (xf_gemm_isa)w->isa, X, w->cols, w->data, (const float *)l->b.data, Y, w->rows, T,
                             w->rows, w->cols);
        break;
    case XF_WF_GGML:
        if (w->act_q8 && T <= XF_QMM_GEMV_MAX_T) {
            xf_qmatmul_q8(pool, (int)w->qtype, w->data, w->row_bytes, (const float *)l->b.data, X, w->cols, Y, w->rows,
                          T, w->rows, w->cols);
            break;
        }
        xf_qmatmul(pool, (int)w->qtype, w->data, w->row_bytes, (const float *)l->b.data, X, w->cols, Y, w->rows, T,
                   w->rows, w->cols);
        break;
    case XF_WF_F32:
    default:
        xf_matmul_f32_nt(pool, X, w->cols, (const float *)w->data, w->cols, (const float *)l->b.data, Y,
                         w->rows, T, w->rows, w->cols);
        break;
    }
}

xf_status xf_linear_reserve(xf_pool *pool, const xf_weight *w) {
    return w->fmt == XF_WF_GGML ? xf_pool_reserve(pool, xf_qmatmul_scratch(w->cols)) : XF_OK;
}

void xf_embed_learned(const xf_batch *b, const xf_weight *word, const xf_weight *pos,
                      const xf_weight *type, float *X) {
    const size_t H = word->cols;
    const float *W = word->data, *P = pos->data, *Ty = type ? type->data : NULL;
    for (size_t s = 0; s < b->n_seq; s++) {
        for (size_t t = b->off[s]; t < b->off[s + 1]; t++) {
            const float *we = W + (size_t)b->ids[t] * H, *pe = P + (t - b->off[s]) * H;
            float *x = X + t * H;
            for (size_t i = 0; i < H; i++) x[i] = we[i] + pe[i];
            if (Ty) {
                const float *te = Ty + (size_t)b->type_ids[t] * H;
                for (size_t i = 0; i < H; i++) x[i] += te[i];
            }
        }
    }
}

void xf_embed_rows(const xf_weight *word, const int32_t *ids, size_t T, float *X) {
    const size_t H = word->cols;
    for (size_t t = 0; t < T; t++) {
        if (word->fmt == XF_WF_GGML)
            xf_qdequant_rows((int)word->qtype, word->data, word->row_bytes, (size_t)ids[t], (size_t)ids[t] + 1, H, X + t * H);
        else
            memcpy(X + t * H, (const float *)word->data + (size_t)ids[t] * H, H * sizeof *X);
    }
}

void xf_embed_tokens(const xf_batch *b, const xf_weight *word, float *X) {
    xf_embed_rows(word, b->ids, xf_batch_tokens(b), X);
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
    if (!j->n->b.data) {
        xf_rmsnorm(j->X + a * w, j->X + a * w, j->n->g.data, e - a, w, j->n->eps);
        return;
    }
    xf_layernorm(j->X + a * w, j->X + a * w, j->n->g.data, j->n->b.data, e - a, w, j->n->eps);
}

void xf_add_norm(xf_pool *pool, const xf_norm_w *n, float *X, const float *R, size_t T) {
    rows_job j = {n, X, R, T, n->g.cols};
    xf_pool_run(pool, add_norm_task, &j);
}

static void gelu_task(void *ctx, int ith, int nth) {
    const rows_job *j = ctx;
    size_t a, e;
    xf_split_range(j->T, 1, ith, nth, &a, &e);
    xf_gelu_erf(j->X + a * j->width, (e - a) * j->width);
}

static void gelu_tanh_task(void *ctx, int ith, int nth) {
    const rows_job *j = ctx;
    size_t a, e;
    xf_split_range(j->T, 1, ith, nth, &a, &e);
    xf_gelu_tanh(j->X + a * j->width, (e - a) * j->width);
}

static size_t kv_heads(const xf_layer_plan *p) { return p->n_kv_heads ? p->n_kv_heads : p->n_heads; }

size_t xf_mha_scratch(const xf_layer_plan *p, size_t T, int n_threads) {
    size_t inner = p->n_heads * p->head_dim, kv = kv_heads(p) * p->head_dim;
    return 2 * T * inner + 2 * T * kv + xf_mha_attention_scratch(p, n_threads);
}

size_t xf_mha_attention_scratch(const xf_layer_plan *p, int n_threads) {
    return (size_t)n_threads * xf_attention_scratch(p->n_heads / kv_heads(p), p->head_dim);
}

/* The attention kernel over a batch's sequences (b != NULL: each sequence is the problem `base`
 * with its rows offset and n_q = n_k = its length) or over the one problem `base` (b == NULL).
 * Tasks are (sequence, query block, kv head, head chunk) tuples dealt round-robin to threads (so
 * causal blocks, whose cost grows along the sequence, spread evenly); heads are split into chunks
 * of one only when there are fewer tasks than threads (a group's rows share each K block's
 * transposition, which dominates when a block has few rows, as in decoding). Each output row is computed the same way in
 * any task, so the split does not change results. */
typedef struct {
    const xf_batch *b;
    xf_attn_problem base;
    size_t n_kv, qb, hc; /* hc: heads per task */
    float *scratch;      /* xf_attention_scratch floats per thread */
} attn_job;

static void attn_task(void *ctx, int ith, int nth) {
    const attn_job *j = ctx;
    const size_t n_seq = j->b ? j->b->n_seq : 1, group = j->base.group;
    float *scratch = j->scratch + (size_t)ith * xf_attention_scratch(group, j->base.dh);
    size_t task = 0;
    for (size_t s = 0; s < n_seq; s++) {
        xf_attn_problem p = j->base;
        if (j->b) {
            size_t o = j->b->off[s], L = j->b->off[s + 1] - o;
            p.Q += o * p.ldq, p.K += o * p.ldk, p.V += o * p.ldv, p.O += o * p.ldo;
            p.n_q = p.n_k = L;
        }
        for (size_t q0 = 0; q0 < p.n_q; q0 += j->qb)
            for (size_t g = 0; g < j->n_kv; g++)
                for (size_t h0 = 0; h0 < group; h0 += j->hc)
                    if (task++ % (size_t)nth == (size_t)ith)
                        xf_attention(&p, g, h0, h0 + j->hc, q0, q0 + j->qb < p.n_q ? q0 + j->qb : p.n_q, scratch);
    }
}

static void run_attention(xf_pool *pool, const xf_layer_plan *p, const xf_batch *b, xf_attn_problem base,
                          float *scratch) {
    const size_t n_kv = kv_heads(p), group = p->n_heads / n_kv, qb = xf_attention_qblock(group);
    size_t blocks = 0;
    if (b)
        for (size_t s = 0; s < b->n_seq; s++) blocks += (b->off[s + 1] - b->off[s] + qb - 1) / qb;
    else blocks = (base.n_q + qb - 1) / qb;
    const size_t hc = blocks * n_kv < (size_t)xf_pool_size(pool) ? 1 : group;
    attn_job j = {b, base, n_kv, qb, hc, scratch};
    xf_pool_run(pool, attn_task, &j);
}

/* Rotary embedding of Q and K rows, rows split over threads; position = row - its sequence start. */
typedef struct {
    const xf_batch *b;
    const xf_layer_plan *p;
    float *Q, *K;
    size_t ld, ldkv;
} rope_job;

static void rope_task(void *ctx, int ith, int nth) {
    const rope_job *j = ctx;
    const size_t half = j->p->head_dim / 2;
    size_t a, e, s = 0;
    xf_split_range(xf_batch_tokens(j->b), 1, ith, nth, &a, &e);
    for (size_t t = a; t < e; t++) {
        while (t >= j->b->off[s + 1]) s++;
        size_t pos = t - j->b->off[s];
        const float *c = j->p->rope_cos + pos * half, *sn = j->p->rope_sin + pos * half;
        xf_rope_row(j->Q + t * j->ld, j->p->n_heads, j->p->head_dim, c, sn);
        xf_rope_row(j->K + t * j->ldkv, kv_heads(j->p), j->p->head_dim, c, sn);
    }
}

void xf_mha(xf_pool *pool, const xf_attn_w *w, const xf_layer_plan *p, const xf_batch *b,
            const float *X, float *Y, float *scratch) {
    const size_t T = xf_batch_tokens(b), inner = p->n_heads * p->head_dim, kv = kv_heads(p) * p->head_dim;
    float *Q = scratch, *K = Q + T * inner, *V = K + T * kv, *O = V + T * kv, *rows = O + T * inner;
    xf_linear(pool, &w->q, X, T, Q);
    xf_linear(pool, &w->k, X, T, K);
    xf_linear(pool, &w->v, X, T, V);
    if (p->rope_cos) {
        rope_job r = {b, p, Q, K, inner, kv};
        xf_pool_run(pool, rope_task, &r);
    }
    xf_attn_problem base = {.Q = Q, .K = K, .V = V, .O = O, .ldq = inner, .ldk = kv, .ldv = kv, .ldo = inner,
                            .dh = p->head_dim, .group = p->n_heads / kv_heads(p),
                            .scale = 1.0f / sqrtf((float)p->head_dim), .causal = p->causal, .window = p->window};
    run_attention(pool, p, b, base, rows);
    xf_linear(pool, &w->o, O, T, Y);
}

/* ---------------------------------------------------------------- cached (session) attention */

typedef struct {
    const xf_layer_plan *p;
    float *Q, *K; /* K: cache rows of positions p0.. */
    size_t T, p0, ld, ldkv;
} cached_rope_job;

static void cached_rope_task(void *ctx, int ith, int nth) {
    const cached_rope_job *j = ctx;
    const size_t half = j->p->head_dim / 2;
    size_t a, e;
    xf_split_range(j->T, 1, ith, nth, &a, &e);
    for (size_t t = a; t < e; t++) {
        const float *cs = j->p->rope_cos + (j->p0 + t) * half, *sn = j->p->rope_sin + (j->p0 + t) * half;
        xf_rope_row(j->Q + t * j->ld, j->p->n_heads, j->p->head_dim, cs, sn);
        xf_rope_row(j->K + t * j->ldkv, kv_heads(j->p), j->p->head_dim, cs, sn);
    }
}

void xf_mha_cached(xf_pool *pool, const xf_attn_w *w, const xf_layer_plan *p, const float *Xn, size_t T,
                   size_t p0, float *Kc, float *Vc, float *Q, float *O, float *scratch, float *Y) {
    const size_t inner = p->n_heads * p->head_dim, kvd = kv_heads(p) * p->head_dim;
    xf_linear(pool, &w->q, Xn, T, Q);
    xf_linear(pool, &w->k, Xn, T, Kc + p0 * kvd);
    xf_linear(pool, &w->v, Xn, T, Vc + p0 * kvd);
    if (p->rope_cos) {
        cached_rope_job r = {p, Q, Kc + p0 * kvd, T, p0, inner, kvd};
        xf_pool_run(pool, cached_rope_task, &r);
    }
    xf_attn_problem base = {.Q = Q, .K = Kc, .V = Vc, .O = O, .ldq = inner, .ldk = kvd, .ldv = kvd, .ldo = inner,
                            .n_q = T, .q_pos0 = p0, .n_k = p0 + T, .dh = p->head_dim,
                            .group = p->n_heads / kv_heads(p), .scale = 1.0f / sqrtf((float)p->head_dim),
                            .causal = 1, .window = p->window};
    run_attention(pool, p, NULL, base, scratch);
    xf_linear(pool, &w->o, O, T, Y);
}

size_t xf_ffn_scratch(const xf_layer_plan *p, size_t T) { return 2 * T * p->ffn_width; }

void xf_ffn_gelu(xf_pool *pool, const xf_ffn_w *w, const xf_layer_plan *p, const float *X,
                 size_t T, float *Y, float *scratch) {
    xf_linear(pool, &w->up, X, T, scratch);
    rows_job j = {NULL, scratch, NULL, T, p->ffn_width};
    xf_pool_run(pool, p->act == XF_ACT_GELU_TANH ? gelu_tanh_task : gelu_task, &j);
    xf_linear(pool, &w->down, scratch, T, Y);
}

typedef struct {
    float *G;
    const float *U;
    size_t count;
} silu_job;

static void silu_task(void *ctx, int ith, int nth) {
    const silu_job *j = ctx;
    size_t a, e;
    xf_split_range(j->count, 64, ith, nth, &a, &e);
    if (a < e) xf_silu_mul(j->G + a, j->U + a, e - a);
}

void xf_ffn_swiglu(xf_pool *pool, const xf_ffn_w *w, const xf_layer_plan *p, const float *X,
                   size_t T, float *Y, float *scratch) {
    float *G = scratch, *U = scratch + T * p->ffn_width;
    xf_linear(pool, &w->gate, X, T, G);
    xf_linear(pool, &w->up, X, T, U);
    silu_job j = {G, U, T * p->ffn_width};
    xf_pool_run(pool, silu_task, &j);
    xf_linear(pool, &w->down, G, T, Y);
}

void xf_ffn(xf_pool *pool, const xf_ffn_w *w, const xf_layer_plan *p, const float *X, size_t T,
            float *Y, float *scratch) {
    if (p->act == XF_ACT_SWIGLU) xf_ffn_swiglu(pool, w, p, X, T, Y, scratch);
    else xf_ffn_gelu(pool, w, p, X, T, Y, scratch);
}

void xf_block_prenorm(xf_pool *pool, const xf_block_w *w, const xf_batch *b, float *X, float *ws) {
    const size_t T = xf_batch_tokens(b), H = w->ln1.g.cols;
    float *Xn = ws, *Y = Xn + T * H, *scratch = Y + T * H;
    memcpy(Xn, X, T * H * sizeof *X);
    xf_add_norm(pool, &w->ln1, Xn, NULL, T);
    xf_mha(pool, &w->attn, &w->plan, b, Xn, Y, scratch);
    xf_add_inplace(X, Y, T * H);
    memcpy(Xn, X, T * H * sizeof *X);
    xf_add_norm(pool, &w->ln2, Xn, NULL, T);
    xf_ffn(pool, &w->ffn, &w->plan, Xn, T, Y, scratch);
    xf_add_inplace(X, Y, T * H);
}

void xf_block_prenorm_cached(xf_pool *pool, const xf_block_w *w, float *X, size_t T, size_t p0, float *Kc,
                             float *Vc, float *ws) {
    const size_t H = w->ln1.g.cols, inner = w->plan.n_heads * w->plan.head_dim;
    float *Xn = ws, *Y = Xn + T * H, *Q = Y + T * H, *O = Q + T * inner, *ffn = O + T * inner;
    float *attn = ffn + xf_ffn_scratch(&w->plan, T);
    memcpy(Xn, X, T * H * sizeof *X);
    xf_add_norm(pool, &w->ln1, Xn, NULL, T);
    xf_mha_cached(pool, &w->attn, &w->plan, Xn, T, p0, Kc, Vc, Q, O, attn, Y);
    xf_add_inplace(X, Y, T * H);
    memcpy(Xn, X, T * H * sizeof *X);
    xf_add_norm(pool, &w->ln2, Xn, NULL, T);
    xf_ffn(pool, &w->ffn, &w->plan, Xn, T, Y, ffn);
    xf_add_inplace(X, Y, T * H);
}
