/* forward.h — the one forward pass of every model: a packed batch of token sequences through the
 * plan's embeddings, layers and final norm, for encoders, decoder prefill (no cache) and decoder
 * steps (each sequence appending to its own KV cache) alike.
 *
 *   X = embed(ids, positions, types)
 *   for each layer: X = attention sublayer(X); X = FFN sublayer(X); hook(layer)
 *   X = final_norm(X)
 *
 * A hook between layers may stop the loop (early exit) or drop tokens (token pruning) with
 * xf_fwd_keep_tokens; the batch description (off, pos, n_tokens) then says what remains, and
 * pooling reads it. Callers check ids and positions first (xf_fwd_check). */
#ifndef XF_MODEL_FORWARD_H
#define XF_MODEL_FORWARD_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/attention.h"
#include "model/kv_cache.h"
#include "model/model.h"

typedef struct xf_fwd xf_fwd;

/* Called after layer `layer` ran; set *stop to end the loop there (the final norm still runs). */
typedef xf_status (*xf_layer_hook)(void *ctx, xf_fwd *f, size_t layer, int *stop);

struct xf_fwd {
    size_t n_seq;
    size_t *off;             /* [n_seq + 1] token offsets (rewritten when tokens are dropped) */
    int32_t *pos;            /* [T] position of each token (rewritten with off) */
    const int32_t *ids;      /* [T] token ids (read by the embeddings only) */
    const int32_t *type_ids; /* [T] token types, NULL = all 0 (read by the embeddings only) */
    xf_kv_cache *const *kv;  /* NULL: attention within the batch; else one cache per sequence */
    float *X;                /* [T, hidden] out: final hidden states of the remaining tokens */
    xf_layer_hook hook;
    void *hook_ctx;
    size_t first_layer; /* 0: from the embeddings; k > 0: X already holds the input of layer k */
    size_t layers_run;  /* out: index of the last layer run + 1 */
    /* Dynamic NTK rotary scaling: the sequence length its base is stretched for (sessions: the
     * end of the whole call, as transformers sees one prompt); 0 = each sequence's last position
     * + 1. Set by xf_forward: per-token rotary rows [T, half] when a sequence reaches past the
     * trained length, else NULL (the plan's tables). */
    size_t rope_len;
    float *rope_cos, *rope_sin;
    size_t rope_half;
    /* Token pruning's score: want_acc [n_layers] (NULL = none) marks the layers after which the
     * hook reads acc [T]: the attention each remaining token received in that layer (mean over
     * heads of the column sums of the softmax weights within its sequence; xf_attend_received).
     * Set by xf_forward (workspace memory), only for batches without KV caches. */
    const unsigned char *want_acc;
    float *acc;
    /* Token merging (model/adaptive.c): k_bias [T] (NULL = none) is added to every attention
     * score of the key at that row (log of the number of tokens the row stands for). */
    const float *k_bias;
    /* The products run as products of this many rows would (xf_linear_as: a prompt's rest after a
     * shared prefix, bitwise the whole prompt's forward); 0 = the batch's own T. */
    size_t path_rows;
};

/* Workspace of forward passes, grown on demand (outside the layer loop). One per caller that may
 * run concurrently with others (a session, the model's own embed/logits calls). */
typedef struct xf_fwd_ws {
    float *buf;
    size_t cap; /* floats */
    float *rope;      /* per-token rotary rows (dynamic NTK) */
    size_t rope_cap;  /* floats */
    xf_attn_problem *probs;
    size_t probs_cap;
    float *acc; /* want_acc: [T] sums + [n_heads, T] per-head parts */
    size_t acc_cap;
} xf_fwd_ws;

/* Make ws large enough for T tokens in n_seq sequences of model m (caches: with_cache). */
xf_status xf_fwd_reserve(const xf_model *m, xf_fwd_ws *ws, size_t T, size_t n_seq);
void xf_fwd_ws_free(xf_fwd_ws *ws);

/* Ids within the vocabulary, type ids within the type vocabulary, positions within what the
 * embeddings and rotary tables cover. */
xf_status xf_fwd_check(const xf_model *m, const xf_fwd *f);

/* The forward pass (ws reserved for this batch; kv caches have room for their new tokens). */
xf_status xf_forward(xf_model *m, xf_fwd *f, xf_fwd_ws *ws);

/* For hooks: keep the tokens whose keep[t] is nonzero (t < current T), compacting X, pos and off
 * in place; a sequence must keep at least one token. */
xf_status xf_fwd_keep_tokens(xf_fwd *f, size_t hidden, const unsigned char *keep);

/* The attention sublayer's core on already-normed rows Xn [T, hidden] -> Y [T, hidden]: Q/K/V
 * projections, RoPE at the tokens' positions, attention within each sequence or against each
 * sequence's cache (layer `layer`, its new rows appended first), O projection. probs: n_seq
 * entries; scratch: xf_attention_layer_scratch floats. Exposed for tests. */
size_t xf_attention_layer_scratch(const xf_attn_plan *a, size_t T, int n_threads);
void xf_attention_layer(xf_pool *pool, const xf_attn_plan *a, const xf_fwd *f, size_t layer, const float *Xn,
                        float *Y, xf_attn_problem *probs, float *scratch);

#endif
