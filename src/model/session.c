/* session.c — the public session API (xfmr.h, "sessions / generation"): a decoder's KV cache
 * (kv_cache.h: per layer, slots with positions, grown as tokens arrive) fed token chunks through
 * the one forward pass, each chunk appending to the cache. */
#include <stdlib.h>
#include <string.h>

#include "core/abi.h"
#include "core/alloc.h"
#include "core/error.h"
#include "kernels/qmatmul.h"
#include "model/forward.h"
#include "model/layers.h"
#include "model/model.h"

#define XF_SESSION_CHUNK 256 /* most tokens one forward step processes (bounds the scratch) */
/* With a sparse prefill (vertical-slash, block-sparse) every forward step estimates its pattern from
 * its own queries against every key (vertical-slash: its last 64 queries, a quarter of a 256-token
 * step's dense attention), so such sessions take longer steps: a long prompt pays the estimate once
 * per 2048 tokens. */
#define XF_SESSION_CHUNK_SPARSE 2048

/* 1 if some layer of the plan has a sparse prefill whose pattern is estimated per forward step. */
static int sparse_prefill(const xf_plan *P) {
    for (size_t l = 0; l < P->n_layers; l++)
        if (P->layers[l].attn.vslash_density > 0.0f || P->layers[l].attn.block_density > 0.0f) return 1;
    return 0;
}

struct xf_session {
    xf_model *m;
    xf_kv_cache kv;
    xf_fwd_ws ws;
    size_t n_ctx; /* most positions */
    float *X;     /* [chunk, hidden] */
    int32_t *pos; /* [chunk] */
    size_t chunk;
    /* The first wide_rows tokens of the cache were computed in products chosen for more than
     * XF_QMM_GEMV_MAX_T rows (GEMM paths: every row the same whatever else ran with it), so they
     * are what any prompt's forward over them computes (xf_session_eval_rest). */
    size_t wide_rows;
};

void xf_session_free(xf_session *s) {
    if (!s) return;
    xf_kv_free(&s->kv);
    xf_fwd_ws_free(&s->ws);
    free(s->X);
    free(s->pos);
    free(s);
}

xf_status xf_session_create_ex(xf_model *m, const xf_session_params *params, xf_session **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_session_create: NULL out");
    *out = NULL;
    if (!m) return xf_error(XF_ERR_INVALID_ARG, "xf_session_create: NULL model");
    xf_session_params p = xf_session_default_params();
    xf_status st0 = params ? xf_struct_in(&p, sizeof p, params, offsetof(xf_session_params, kv_type) + sizeof p.kv_type,
                                          "xf_session_params")
                           : XF_OK;
    if (st0) return st0;
    if (!m->plan.lm_head.w.data)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not a decoder; sessions need a language model",
                        m->path, m->arch->name);
    if (!xf_kv_type_name((int)p.kv_type))
        return xf_error(XF_ERR_INVALID_ARG, "kv_type %d is not XF_KV_F32 (0), XF_KV_F16 (1), XF_KV_Q8 (2) or XF_KV_Q4 (3)",
                        (int)p.kv_type);
    const xf_kv_policy *policy = p.kv_policy ? xf_kv_policy_named(p.kv_policy) : &xf_kv_keep_all;
    if (!policy) {
        char names[256];
        xf_kv_policy_names(names, sizeof names);
        return xf_error(XF_ERR_INVALID_ARG, "kv_policy \"%.40s\" is not one of %s", p.kv_policy, names);
    }
    if (policy->removes && !p.kv_budget)
        return xf_error(XF_ERR_INVALID_ARG, "kv_policy \"%s\" needs kv_budget > 0", policy->name);
    if (p.quest_page > 1024)
        return xf_error(XF_ERR_INVALID_ARG, "quest_page %zu is outside 1..1024 (0 = 16)", p.quest_page);
    const xf_hf_config *c = &m->cfg;
    size_t n_ctx = p.n_ctx ? p.n_ctx : c->max_position_embeddings;
    if (n_ctx > c->max_position_embeddings)
        return xf_error(XF_ERR_RANGE, "session of %zu tokens: more than the model's max_position_embeddings %zu",
                        n_ctx, c->max_position_embeddings);
    /* The whole cache at n_ctx, to refuse up front a session that could never be held. */
    uint64_t full = 0;
    for (size_t l = 0; l < m->plan.n_layers; l++) {
        const xf_attn_plan *a = &m->plan.layers[l].attn;
        full += (uint64_t)2 * (n_ctx + XF_KV_QBLOCK) * xf_kv_row_bytes((int)p.kv_type, a->n_kv_heads * a->head_dim);
    }
    if (full > XF_SESSION_MAX_BYTES)
        return xf_error(XF_ERR_RANGE,
                        "session of %zu tokens: a full KV cache of %llu bytes would exceed the session memory cap of "
                        "%llu bytes", n_ctx, (unsigned long long)full, (unsigned long long)XF_SESSION_MAX_BYTES);
    xf_session *s = xf_calloc(1, sizeof *s);
    if (!s) return xf_error(XF_ERR_NOMEM, "cannot allocate a session");
    s->m = m;
    s->n_ctx = n_ctx;
    const size_t chunk = sparse_prefill(&m->plan) ? XF_SESSION_CHUNK_SPARSE : XF_SESSION_CHUNK;
    s->chunk = n_ctx < chunk ? n_ctx : chunk;
    xf_status st = xf_kv_init(&s->kv, &m->plan, n_ctx, p.n_ctx_reserve, (int)p.kv_type, policy, p.kv_budget);
    if (!st && p.quest_budget) st = xf_kv_quest_init(&s->kv, &m->plan, p.quest_budget, p.quest_page);
    if (!st) st = xf_fwd_reserve(m, &s->ws, s->chunk, 1);
    if (!st) {
        s->X = xf_aligned_alloc(s->chunk * m->plan.hidden * sizeof *s->X);
        s->pos = xf_malloc(s->chunk * sizeof *s->pos);
        if (!s->X || !s->pos) st = xf_error(XF_ERR_NOMEM, "cannot allocate a session's activations");
    }
    if (st) {
        xf_session_free(s);
        return st;
    }
    *out = s;
    return XF_OK;
}

xf_status xf_session_create(xf_model *m, size_t n_ctx, xf_session **out) {
    xf_session_params p = xf_session_default_params();
    p.n_ctx = n_ctx;
    return xf_session_create_ex(m, &p, out);
}

void xf_session_reset(xf_session *s) {
    if (!s) return;
    xf_kv_clear(&s->kv);
    s->wide_rows = 0;
}

size_t xf_session_n_past(const xf_session *s) { return s ? s->kv.n_past : 0; }

size_t xf_session_n_ctx(const xf_session *s) { return s ? s->n_ctx : 0; }

xf_kv_cache *xf_session_cache(xf_session *s) { return s ? &s->kv : NULL; }

size_t xf_session_kv_bytes(const xf_session *s) { return s ? xf_kv_bytes(&s->kv) : 0; }

xf_status xf_session_eval(xf_session *s, const int32_t *ids, size_t n, float *logits_last) {
    if (!s || !ids) return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval: NULL argument");
    if (n == 0) return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval: no tokens to evaluate");
    xf_model *m = s->m;
    const size_t past = s->kv.n_past, V = m->cfg.vocab_size, H = m->plan.hidden;
    if (n > m->cfg.max_position_embeddings - past)
        return xf_error(XF_ERR_RANGE, "session: %zu past + %zu new tokens exceed max_position_embeddings %zu", past, n,
                        m->cfg.max_position_embeddings);
    for (size_t t = 0; t < n; t++)
        if (ids[t] < 0 || (size_t)ids[t] >= V)
            return xf_error(XF_ERR_RANGE, "token %zu: id %d is outside the vocabulary of %zu", t, ids[t], V);
    xf_kv_cache *kv = &s->kv;
    if (!kv->policy->removes && n > kv->max_slots - kv->layers[0].n)
        return xf_error(XF_ERR_RANGE, "session: %zu past + %zu new tokens exceed its n_ctx of %zu", past, n, s->n_ctx);
    size_t T = 0;
    for (size_t a = 0; a < n; a += T) {
        T = n - a < s->chunk ? n - a : s->chunk;
        /* a policy that reads the last queries of a prompt (SnapKV) gets a last chunk that long */
        const size_t w = kv->min_last_chunk < s->chunk ? kv->min_last_chunk : s->chunk;
        if (n - a > T && n - a - T < w) T = n - a - w;
        xf_status st = xf_kv_reserve(kv, T);
        if (st) return st;
        size_t off[2] = {0, T};
        for (size_t t = 0; t < T; t++) s->pos[t] = (int32_t)(kv->n_past + t);
        xf_fwd f = {.n_seq = 1, .off = off, .pos = s->pos, .ids = ids + a, .kv = &kv, .X = s->X, .rope_len = past + n};
        const int wide = kv->n_past == s->wide_rows && T > XF_QMM_GEMV_MAX_T;
        kv->n_pending = n - a - T; /* before the forward: SnapKV's weights are wanted of the last chunk only */
        if ((st = xf_forward(m, &f, &s->ws))) return st;
        if (wide) s->wide_rows += T;
        kv->n_past += T;
        if ((st = xf_kv_after_forward(kv, T))) return st;
    }
    if (logits_last) {
        const size_t last = (T - 1) * H; /* the last chunk's last row */
        xf_linear(m->pool, &m->plan.lm_head, s->X + last, 1, logits_last);
    }
    return XF_OK;
}

xf_status xf_session_step_batch(xf_session *const *ss, size_t n, const int32_t *ids, float *logits) {
    if (!ss || !ids || !n) return xf_error(XF_ERR_INVALID_ARG, "xf_session_step_batch: no sessions");
    xf_model *m = ss[0] ? ss[0]->m : NULL;
    if (!m) return xf_error(XF_ERR_INVALID_ARG, "xf_session_step_batch: session 0 is NULL");
    const size_t V = m->cfg.vocab_size, H = m->plan.hidden;
    for (size_t i = 0; i < n; i++) {
        if (!ss[i] || ss[i]->m != m)
            return xf_error(XF_ERR_INVALID_ARG, "xf_session_step_batch: session %zu is NULL or of another model", i);
        for (size_t k = 0; k < i; k++)
            if (ss[k] == ss[i]) return xf_error(XF_ERR_INVALID_ARG, "xf_session_step_batch: session %zu is listed twice", i);
        if (ids[i] < 0 || (size_t)ids[i] >= V)
            return xf_error(XF_ERR_RANGE, "session %zu: id %d is outside the vocabulary of %zu", i, ids[i], V);
        const xf_kv_cache *c = &ss[i]->kv;
        if (c->n_past + 1 > m->cfg.max_position_embeddings || (!c->policy->removes && c->layers[0].n + 1 > c->max_slots))
            return xf_error(XF_ERR_RANGE, "session %zu: %zu past + 1 new token exceed its n_ctx of %zu", i, c->n_past,
                            ss[i]->n_ctx);
    }
    for (size_t i = 0; i < n; i++) {
        xf_status st = xf_kv_reserve(&ss[i]->kv, 1);
        if (st) return st;
    }
    /* the batch lives in the model's own buffers (one call on a model at a time, as for logits) */
    size_t need = n * (H + 1) + 1;
    if (need > m->hidden_cap) {
        float *h = xf_aligned_alloc(need * sizeof(float));
        if (!h) return xf_error(XF_ERR_NOMEM, "cannot allocate a batch of %zu steps", n);
        free(m->hidden);
        m->hidden = h;
        m->hidden_cap = need;
    }
    if (n + 1 > m->offsets_cap) {
        size_t *o = xf_realloc(m->offsets, (n + 1) * sizeof *o);
        if (!o) return xf_error(XF_ERR_NOMEM, "cannot allocate batch offsets");
        m->offsets = o;
        m->offsets_cap = n + 1;
    }
    xf_kv_cache **kv = xf_malloc(n * sizeof *kv);
    if (!kv) return xf_error(XF_ERR_NOMEM, "cannot allocate a batch of %zu steps", n);
    float *X = m->hidden;
    int32_t *pos = (int32_t *)(X + n * H);
    for (size_t i = 0; i <= n; i++) m->offsets[i] = i;
    for (size_t i = 0; i < n; i++) kv[i] = &ss[i]->kv, pos[i] = (int32_t)ss[i]->kv.n_past;
    xf_fwd f = {.n_seq = n, .off = m->offsets, .pos = pos, .ids = ids, .kv = kv, .X = X};
    xf_status st = xf_fwd_reserve(m, m->fws, n, n);
    if (!st) st = xf_forward(m, &f, m->fws);
    for (size_t i = 0; !st && i < n; i++) {
        ss[i]->kv.n_past++;
        ss[i]->kv.n_pending = 0;
        st = xf_kv_after_forward(&ss[i]->kv, 1);
    }
    free(kv);
    if (!st && logits) xf_linear(m->pool, &m->plan.lm_head, X, n, logits);
    return st;
}

/* Sessions ss[sel[0..n_b)] append tok[i][0..cnt[i]) (i = sel[k]) at their n_past in one forward
 * pass (one batched product per layer), its products' path chosen for path_rows rows (0: the
 * pass's own); logits_last + i * V (when not NULL) gets session i's next-token logits. */
static xf_status forward_appended(xf_model *m, xf_session *const *ss, const size_t *sel, size_t n_b,
                                  const int32_t *const *tok, const size_t *cnt, size_t path_rows, float *logits_last) {
    const size_t V = m->cfg.vocab_size, H = m->plan.hidden;
    size_t T = 0;
    for (size_t k = 0; k < n_b; k++) T += cnt[sel[k]];
    xf_kv_cache **kv = xf_malloc(n_b * sizeof *kv);
    int32_t *bids = xf_malloc(T * sizeof *bids);
    xf_status st = kv && bids ? XF_OK : xf_error(XF_ERR_NOMEM, "cannot allocate a batch of %zu prompts", n_b);
    size_t need = T * (H + 1) + 1;
    if (!st && need > m->hidden_cap) {
        float *h = xf_aligned_alloc(need * sizeof(float));
        if (!h) st = xf_error(XF_ERR_NOMEM, "cannot allocate a batch of %zu prompt tokens", T);
        else free(m->hidden), m->hidden = h, m->hidden_cap = need;
    }
    if (!st && n_b + 1 > m->offsets_cap) {
        size_t *o = xf_realloc(m->offsets, (n_b + 1) * sizeof *o);
        if (!o) st = xf_error(XF_ERR_NOMEM, "cannot allocate batch offsets");
        else m->offsets = o, m->offsets_cap = n_b + 1;
    }
    float *X = m->hidden;
    int32_t *pos = st ? NULL : (int32_t *)(X + T * H);
    size_t o = 0;
    for (size_t k = 0; !st && k < n_b; k++) {
        xf_session *s = ss[sel[k]];
        const size_t L = cnt[sel[k]];
        st = xf_kv_reserve(&s->kv, L);
        kv[k] = &s->kv, m->offsets[k] = o;
        memcpy(bids + o, tok[sel[k]], L * sizeof *bids);
        for (size_t t = 0; t < L; t++) pos[o + t] = (int32_t)(s->kv.n_past + t);
        o += L;
    }
    const int wide = (path_rows > T ? path_rows : T) > XF_QMM_GEMV_MAX_T;
    if (!st) {
        m->offsets[n_b] = o;
        xf_fwd f = {.n_seq = n_b, .off = m->offsets, .pos = pos, .ids = bids, .kv = kv, .X = X, .path_rows = path_rows};
        st = xf_fwd_reserve(m, m->fws, T, n_b);
        if (!st) st = xf_forward(m, &f, m->fws);
    }
    for (size_t k = 0; !st && k < n_b; k++) {
        xf_session *s = ss[sel[k]];
        const size_t L = cnt[sel[k]], last = m->offsets[k + 1] - 1;
        if (wide && s->kv.n_past == s->wide_rows) s->wide_rows += L;
        s->kv.n_past += L;
        s->kv.n_pending = 0;
        st = xf_kv_after_forward(&s->kv, L);
        /* one row at a time: what xf_session_eval computes for the last token */
        if (!st && logits_last) xf_linear(m->pool, &m->plan.lm_head, X + last * H, 1, logits_last + sel[k] * V);
    }
    free(kv);
    free(bids);
    return st;
}

/* Prompts shorter than this are evaluated alone by xf_session_eval_batch: a product of at most
 * XF_QMM_GEMV_MAX_T rows may take a GGUF type's GEMV path alone and the GEMM path in the batch. */
#define XF_EVAL_BATCH_MIN (XF_QMM_GEMV_MAX_T + 1)

xf_status xf_session_eval_batch(xf_session *const *ss, size_t n, const int32_t *ids, const size_t *lens,
                                float *logits_last) {
    if (!ss || !ids || !lens || !n) return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval_batch: no sessions");
    xf_model *m = ss[0] ? ss[0]->m : NULL;
    if (!m) return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval_batch: session 0 is NULL");
    const size_t V = m->cfg.vocab_size;
    size_t total = 0, n_b = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ss[i] || ss[i]->m != m)
            return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval_batch: session %zu is NULL or of another model", i);
        for (size_t k = 0; k < i; k++)
            if (ss[k] == ss[i]) return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval_batch: session %zu is listed twice", i);
        if (!lens[i]) return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval_batch: session %zu has no tokens", i);
        const xf_kv_cache *c = &ss[i]->kv;
        if (lens[i] > m->cfg.max_position_embeddings - c->n_past)
            return xf_error(XF_ERR_RANGE, "session %zu: %zu past + %zu new tokens exceed max_position_embeddings %zu", i,
                            c->n_past, lens[i], m->cfg.max_position_embeddings);
        if (!c->policy->removes && lens[i] > c->max_slots - c->layers[0].n)
            return xf_error(XF_ERR_RANGE, "session %zu: %zu past + %zu new tokens exceed its n_ctx of %zu", i, c->n_past,
                            lens[i], ss[i]->n_ctx);
        for (size_t t = 0; t < lens[i]; t++)
            if (ids[total + t] < 0 || (size_t)ids[total + t] >= V)
                return xf_error(XF_ERR_RANGE, "session %zu, token %zu: id %d is outside the vocabulary of %zu", i, t,
                                ids[total + t], V);
        if (lens[i] >= XF_EVAL_BATCH_MIN && lens[i] <= ss[i]->chunk) n_b++;
        total += lens[i];
    }
    /* The others alone: short prompts (their GEMV path), and those longer than one chunk. */
    size_t at = 0;
    for (size_t i = 0; i < n; at += lens[i], i++) {
        if (n_b >= 2 && lens[i] >= XF_EVAL_BATCH_MIN && lens[i] <= ss[i]->chunk) continue;
        xf_status st = xf_session_eval(ss[i], ids + at, lens[i], logits_last ? logits_last + i * V : NULL);
        if (st) return st;
    }
    if (n_b < 2) return XF_OK;
    const int32_t **tok = xf_malloc(n * sizeof *tok);
    size_t *sel = xf_malloc(n_b * sizeof *sel);
    xf_status st = tok && sel ? XF_OK : xf_error(XF_ERR_NOMEM, "cannot allocate a batch of %zu prompts", n_b);
    size_t j = 0;
    at = 0;
    for (size_t i = 0; !st && i < n; at += lens[i], i++) {
        tok[i] = ids + at;
        if (lens[i] >= XF_EVAL_BATCH_MIN && lens[i] <= ss[i]->chunk) sel[j++] = i;
    }
    if (!st) st = forward_appended(m, ss, sel, n_b, tok, lens, 0, logits_last);
    free(tok);
    free(sel);
    return st;
}

/* ---------------------------------------------------------------- shared prompt prefixes */

/* Why a session's cache cannot be shared or cut (NULL: it can): only caches that keep every token
 * in order, in rows (f32, f16, q8), without Quest's page bounds. */
static const char *not_shareable(const xf_session *s) {
    const xf_kv_cache *c = &s->kv;
    if (c->policy->removes) return "its KV policy removes tokens";
    if (c->quest_budget) return "it runs Quest";
    if (c->n_layers && c->layers[0].type == XF_KV_Q4) return "its KV cache is q4 (keys quantized 32 tokens at a time)";
    for (size_t l = 0; l < c->n_layers; l++)
        if (!c->layers[l].in_order) return "its cache slots are not in position order";
    return NULL;
}

static void cut(xf_session *s, size_t n) {
    for (size_t l = 0; l < s->kv.n_layers; l++) s->kv.layers[l].n = n;
    s->kv.n_past = n;
    if (s->wide_rows > n) s->wide_rows = n;
}

xf_status xf_session_copy_prefix(xf_session *dst, const xf_session *src, size_t n) {
    if (!dst || !src) return xf_error(XF_ERR_INVALID_ARG, "xf_session_copy_prefix: NULL session");
    if (dst->m != src->m) return xf_error(XF_ERR_INVALID_ARG, "xf_session_copy_prefix: the sessions are of two models");
    if (n > src->kv.n_past)
        return xf_error(XF_ERR_RANGE, "xf_session_copy_prefix: %zu tokens asked of a session holding %zu", n,
                        src->kv.n_past);
    const char *why = not_shareable(src);
    if (!why) why = not_shareable(dst);
    if (why) return xf_error(XF_ERR_UNSUPPORTED, "xf_session_copy_prefix: a session cannot share its tokens: %s", why);
    if (dst->kv.layers[0].type != src->kv.layers[0].type)
        return xf_error(XF_ERR_UNSUPPORTED, "xf_session_copy_prefix: the sessions' KV caches are of two types");
    if (dst == src) {
        cut(dst, n);
        return XF_OK;
    }
    if (n > dst->n_ctx)
        return xf_error(XF_ERR_RANGE, "xf_session_copy_prefix: %zu tokens exceed the n_ctx of %zu", n, dst->n_ctx);
    xf_session_reset(dst);
    xf_status st = xf_kv_reserve(&dst->kv, n);
    if (st) return st;
    for (size_t l = 0; l < dst->kv.n_layers; l++) {
        xf_kv_layer *D = &dst->kv.layers[l];
        const xf_kv_layer *S = &src->kv.layers[l];
        const size_t row = xf_kv_row_bytes(S->type, S->kv_dim);
        memcpy(D->k, S->k, n * row);
        memcpy(D->v, S->v, n * row);
        memcpy(D->pos, S->pos, n * sizeof *D->pos);
        D->n = n;
    }
    dst->kv.n_past = n;
    dst->wide_rows = src->wide_rows < n ? src->wide_rows : n;
    return XF_OK;
}

/* Of the tokens s holds (the first of a prompt of n), how many its forward over the whole prompt
 * (xf_session_eval from empty: chunks of s->chunk from token 0) computes as they were computed. */
static size_t usable_prefix(const xf_session *s, size_t n) {
    if (not_shareable(s) || s->kv.min_last_chunk || !xf_plan_exact_as(&s->m->plan)) return 0;
    size_t u = s->kv.n_past < s->wide_rows ? s->kv.n_past : s->wide_rows;
    if (u >= n) u = n - 1;
    while (u > 0) { /* the whole prompt's chunk holding token u - 1 must be wide too */
        const size_t c0 = (u - 1) / s->chunk * s->chunk, c1 = c0 + s->chunk < n ? c0 + s->chunk : n;
        if (c1 - c0 > XF_QMM_GEMV_MAX_T) break;
        u = c0;
    }
    return u;
}

/* Checks of a prompt of n tokens for session s (index i in messages). */
static xf_status check_prompt(const xf_session *s, size_t i, const int32_t *ids, size_t n) {
    const xf_model *m = s->m;
    const size_t V = m->cfg.vocab_size;
    if (n == 0) return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval_rest: session %zu has no tokens", i);
    if (n > m->cfg.max_position_embeddings)
        return xf_error(XF_ERR_RANGE, "session %zu: a prompt of %zu tokens exceeds max_position_embeddings %zu", i, n,
                        m->cfg.max_position_embeddings);
    if (n > s->kv.max_slots)
        return xf_error(XF_ERR_RANGE, "session %zu: a prompt of %zu tokens exceeds its n_ctx of %zu", i, n, s->n_ctx);
    for (size_t t = 0; t < n; t++)
        if (ids[t] < 0 || (size_t)ids[t] >= V)
            return xf_error(XF_ERR_RANGE, "session %zu, token %zu: id %d is outside the vocabulary of %zu", i, t, ids[t],
                            V);
    return XF_OK;
}

/* One session's rest, chunk by chunk as the whole prompt's forward (checked). */
static xf_status rest_alone(xf_session *s, const int32_t *ids, size_t n, float *logits_last) {
    xf_model *m = s->m;
    const size_t H = m->plan.hidden;
    const size_t u = usable_prefix(s, n);
    if (u == 0) {
        xf_session_reset(s);
        return xf_session_eval(s, ids, n, logits_last);
    }
    cut(s, u);
    xf_kv_cache *kv = &s->kv;
    size_t T = 0;
    for (size_t c0 = u / s->chunk * s->chunk; c0 < n; c0 += s->chunk) {
        const size_t c1 = c0 + s->chunk < n ? c0 + s->chunk : n, a = c0 > u ? c0 : u;
        T = c1 - a;
        xf_status st = xf_kv_reserve(kv, T);
        if (st) return st;
        size_t off[2] = {0, T};
        for (size_t t = 0; t < T; t++) s->pos[t] = (int32_t)(a + t);
        xf_fwd f = {.n_seq = 1, .off = off, .pos = s->pos, .ids = ids + a, .kv = &kv, .X = s->X, .rope_len = n,
                    .path_rows = c1 - c0};
        const int wide = kv->n_past == s->wide_rows && c1 - c0 > XF_QMM_GEMV_MAX_T;
        if ((st = xf_forward(m, &f, &s->ws))) return st;
        if (wide) s->wide_rows += T;
        kv->n_past += T;
        kv->n_pending = n - c1;
        if ((st = xf_kv_after_forward(kv, T))) return st;
    }
    if (logits_last) xf_linear(m->pool, &m->plan.lm_head, s->X + (T - 1) * H, 1, logits_last);
    return XF_OK;
}

xf_status xf_session_eval_rest(xf_session *s, const int32_t *ids, size_t n, float *logits_last) {
    if (!s || !ids) return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval_rest: NULL argument");
    xf_status st = check_prompt(s, 0, ids, n);
    return st ? st : rest_alone(s, ids, n, logits_last);
}

xf_status xf_session_eval_rest_batch(xf_session *const *ss, size_t n, const int32_t *ids, const size_t *lens,
                                     float *logits_last) {
    if (!ss || !ids || !lens || !n) return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval_rest_batch: no sessions");
    xf_model *m = ss[0] ? ss[0]->m : NULL;
    if (!m) return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval_rest_batch: session 0 is NULL");
    const size_t V = m->cfg.vocab_size;
    size_t at = 0;
    for (size_t i = 0; i < n; at += lens[i], i++) {
        if (!ss[i] || ss[i]->m != m)
            return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval_rest_batch: session %zu is NULL or of another model", i);
        for (size_t k = 0; k < i; k++)
            if (ss[k] == ss[i])
                return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval_rest_batch: session %zu is listed twice", i);
        xf_status st = check_prompt(ss[i], i, ids + at, lens[i]);
        if (st) return st;
    }
    /* One forward pass for the prompts of one wide chunk (each row then computed as in its whole
     * prompt's forward, whatever else runs with it); the others alone. */
    const int32_t **tok = xf_malloc(n * sizeof *tok);
    size_t *sel = xf_malloc(n * sizeof *sel), *cnt = xf_malloc(n * sizeof *cnt), n_b = 0;
    xf_status st = tok && sel && cnt ? XF_OK : xf_error(XF_ERR_NOMEM, "cannot allocate a batch of %zu prompts", n);
    at = 0;
    for (size_t i = 0; !st && i < n; at += lens[i], i++) {
        xf_session *s = ss[i];
        if (lens[i] <= XF_QMM_GEMV_MAX_T || lens[i] > s->chunk) {
            st = rest_alone(s, ids + at, lens[i], logits_last ? logits_last + i * V : NULL);
            continue;
        }
        const size_t u = usable_prefix(s, lens[i]);
        if (u) cut(s, u);
        else xf_session_reset(s);
        tok[i] = ids + at + u, cnt[i] = lens[i] - u, sel[n_b++] = i;
    }
    if (!st && n_b) st = forward_appended(m, ss, sel, n_b, tok, cnt, XF_QMM_GEMV_MAX_T + 1, logits_last);
    free(tok);
    free(sel);
    free(cnt);
    return st;
}
