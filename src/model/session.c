/* session.c — the public session API (xfmr.h, "sessions / generation"): a decoder's KV cache and
 * scratch, allocated once at creation, fed token chunks through the architecture's eval_chunk.
 * Cache layout: see xf_kv_cache in model.h. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/model.h"

#define XF_SESSION_CHUNK 256 /* most tokens one forward step processes (bounds the scratch) */

struct xf_session {
    xf_model *m;
    xf_kv_cache kv;
    float *h_last; /* [hidden] */
};

void xf_session_free(xf_session *s) {
    if (!s) return;
    free(s->kv.k);
    free(s->kv.v);
    free(s->kv.scratch);
    free(s->h_last);
    free(s);
}

/* a * b + c in *out (all in floats), 0 on overflow. */
static int mul_add_ok(size_t a, size_t b, size_t c, size_t *out) {
    size_t p;
    if (!xf_mul_ok(a, b, &p) || p + c < p) return 0;
    *out = p + c;
    return 1;
}

xf_status xf_session_create(xf_model *m, size_t n_ctx, xf_session **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_session_create: NULL out");
    *out = NULL;
    if (!m) return xf_error(XF_ERR_INVALID_ARG, "xf_session_create: NULL model");
    if (!m->lm_head.w.data || !m->arch->eval_chunk)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not a decoder; sessions need a language model",
                        m->path, m->arch->name);
    const xf_hf_config *c = &m->cfg;
    if (n_ctx == 0) n_ctx = c->max_position_embeddings;
    if (n_ctx > c->max_position_embeddings)
        return xf_error(XF_ERR_RANGE, "session of %zu tokens: more than the model's max_position_embeddings %zu",
                        n_ctx, c->max_position_embeddings);
    const size_t kv_dim = c->num_key_value_heads * c->head_dim, chunk = n_ctx < XF_SESSION_CHUNK ? n_ctx : XF_SESSION_CHUNK;
    size_t per_layer, cache, scratch = m->arch->cached_scratch(m, chunk, n_ctx), total, bytes;
    if (!xf_mul_ok(n_ctx, kv_dim, &per_layer) || !xf_mul_ok(per_layer, c->num_hidden_layers, &cache) || !scratch ||
        !mul_add_ok(cache, 2, scratch, &total) || total + c->hidden_size < total ||
        !xf_mul_ok(total + c->hidden_size, sizeof(float), &bytes) || (uint64_t)bytes > XF_SESSION_MAX_BYTES)
        return xf_error(XF_ERR_RANGE,
                        "session of %zu tokens: %zu layers x %zu positions x %zu kv floats (K and V) plus scratch "
                        "exceed the session memory cap of %llu bytes",
                        n_ctx, c->num_hidden_layers, n_ctx, kv_dim, (unsigned long long)XF_SESSION_MAX_BYTES);
    xf_session *s = xf_calloc(1, sizeof *s);
    if (!s) return xf_error(XF_ERR_NOMEM, "cannot allocate a session");
    s->m = m;
    s->kv = (xf_kv_cache){.n_layers = c->num_hidden_layers, .n_ctx = n_ctx, .kv_dim = kv_dim, .chunk = chunk,
                          .scratch_cap = scratch};
    s->kv.k = xf_aligned_alloc(cache * sizeof(float));
    s->kv.v = xf_aligned_alloc(cache * sizeof(float));
    s->kv.scratch = xf_aligned_alloc(scratch * sizeof(float));
    s->h_last = xf_aligned_alloc(c->hidden_size * sizeof(float));
    if (!s->kv.k || !s->kv.v || !s->kv.scratch || !s->h_last) {
        xf_session_free(s);
        return xf_error(XF_ERR_NOMEM, "cannot allocate a %zu-byte session (KV cache of %zu tokens)", bytes, n_ctx);
    }
    *out = s;
    return XF_OK;
}

void xf_session_reset(xf_session *s) {
    if (s) s->kv.n_past = 0;
}

size_t xf_session_n_past(const xf_session *s) { return s ? s->kv.n_past : 0; }

size_t xf_session_n_ctx(const xf_session *s) { return s ? s->kv.n_ctx : 0; }

xf_status xf_session_eval(xf_session *s, const int32_t *ids, size_t n, float *logits_last) {
    if (!s || !ids) return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval: NULL argument");
    if (n == 0) return xf_error(XF_ERR_INVALID_ARG, "xf_session_eval: no tokens to evaluate");
    xf_model *m = s->m;
    const size_t past = s->kv.n_past, V = m->cfg.vocab_size;
    if (n > s->kv.n_ctx - past)
        return xf_error(XF_ERR_RANGE, "session: %zu past + %zu new tokens exceed its n_ctx of %zu", past, n,
                        s->kv.n_ctx);
    if (n > m->cfg.max_position_embeddings - past)
        return xf_error(XF_ERR_RANGE, "session: %zu past + %zu new tokens exceed max_position_embeddings %zu", past, n,
                        m->cfg.max_position_embeddings);
    for (size_t t = 0; t < n; t++)
        if (ids[t] < 0 || (size_t)ids[t] >= V)
            return xf_error(XF_ERR_RANGE, "token %zu: id %d is outside the vocabulary of %zu", t, ids[t], V);
    for (size_t a = 0; a < n; a += s->kv.chunk) {
        size_t T = n - a < s->kv.chunk ? n - a : s->kv.chunk;
        m->arch->eval_chunk(m, &s->kv, ids + a, T, a + T == n ? s->h_last : NULL);
    }
    if (logits_last) xf_linear(m->pool, &m->lm_head, s->h_last, 1, logits_last);
    return XF_OK;
}
