/* llama.c — LLaMA-family decoders (LLaMA 1-3, Qwen2, Mistral): token embeddings, pre-norm layers with
 * RMSNorm, causal grouped-query attention with rotary positions, SiLU-gated FFN, a final norm and
 * an LM head (tied to the embedding when tie_word_embeddings). Fills the plan; forward.c runs it.
 *
 *   X = embed[ids]
 *   for each layer:  X = X + Attn(RMSNorm1(X));  X = X + FFN(RMSNorm2(X))
 *   H = RMSNorm(X);  logits = H lm_head^T
 *
 * qwen2 is llama with q/k/v biases (always) and no o bias; mistral is llama whose attention span
 * is config sliding_window (query i sees keys i - W < j <= i); qwen2 with use_sliding_window has
 * that window in the layers layer_types marks "sliding_attention" (from max_window_layers on
 * when layer_types is absent).
 *
 * Shapes come from the tensors: query heads = q_proj rows / head_dim and key/value heads = k_proj
 * rows / head_dim per layer, FFN width = up_proj rows. When a layer has lost single query heads
 * (heads no longer a multiple of its key/value heads), the GGUF key xfmr.attention.q_groups or,
 * for a Hugging Face folder, config.json "xfmr_q_groups" lists each layer's query heads per
 * key/value head (io/hf_config.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/model.h"

/* The query-head groups of layer i when the config lists them (cfg.q_groups), else NULL (equal). */
static xf_status layer_groups(xf_model *m, size_t i, xf_attn_plan *a) {
    const xf_hf_config *c = &m->cfg;
    if (!c->q_groups || i >= c->q_groups_layers) {
        if (a->n_heads % a->n_kv_heads)
            return xf_error(XF_ERR_FORMAT, "%s: layer %zu has %zu query heads for %zu key/value heads and no query-head "
                            "groups are given", m->path, i, a->n_heads, a->n_kv_heads);
        return XF_OK;
    }
    const uint32_t *g = c->q_groups + i * c->q_groups_stride;
    size_t total = 0;
    for (size_t k = 0; k < c->q_groups_stride; k++) total += g[k];
    if (total == 0) { /* [] : equal groups */
        if (a->n_heads % a->n_kv_heads)
            return xf_error(XF_ERR_FORMAT, "%s: layer %zu has %zu query heads for %zu key/value heads and no query-head "
                            "groups are given", m->path, i, a->n_heads, a->n_kv_heads);
        return XF_OK;
    }
    if (total != a->n_heads || c->q_groups_stride < a->n_kv_heads ||
        (c->q_groups_stride > a->n_kv_heads && g[a->n_kv_heads] != 0))
        return xf_error(XF_ERR_FORMAT, "%s: layer %zu: query-head groups list %zu heads over %zu groups; the tensors have "
                        "%zu query heads for %zu key/value heads", m->path, i, total, c->q_groups_stride, a->n_heads,
                        a->n_kv_heads);
    if (!(a->q_off = xf_malloc((a->n_kv_heads + 1) * sizeof *a->q_off)))
        return xf_error(XF_ERR_NOMEM, "cannot allocate query-head groups");
    a->q_off[0] = 0;
    for (size_t k = 0; k < a->n_kv_heads; k++) a->q_off[k + 1] = a->q_off[k] + g[k];
    return XF_OK;
}

/* The sliding window of layer l: Mistral's everywhere; Qwen2's (use_sliding_window) in the layers
 * layer_types marks "sliding_attention", or without layer_types from max_window_layers on — as
 * transformers' Qwen2Config derives them. */
static size_t layer_window(const xf_hf_config *c, size_t l) {
    if (!strcmp(c->model_type, "mistral")) return c->sliding_window;
    if (!c->use_sliding_window || !c->sliding_window) return 0;
    const int sliding = c->sliding_layers ? c->sliding_layers[l] : l >= c->max_window_layers;
    return sliding ? c->sliding_window : 0;
}

static xf_status load_common(xf_model *m, int qkv_bias, int o_bias, int mlp_bias) {
    const xf_hf_config *c = &m->cfg;
    xf_plan *P = &m->plan;
    if (strcmp(c->hidden_act, "silu") != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s/config.json: hidden_act \"%s\" is not supported for %s (only \"silu\")",
                        m->path, c->hidden_act, c->model_type);
    if (c->use_sliding_window && strcmp(c->model_type, "qwen2") != 0 && strcmp(c->model_type, "mistral") != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s/config.json: use_sliding_window true is not supported for %s", m->path,
                        c->model_type);
    const size_t H = c->hidden_size, dh = c->head_dim;
    const float eps = (float)c->rms_norm_eps;
    xf_status st;
    if ((st = xf_model_rope_tables(m, dh))) return st;
    if (!(P->layers = xf_calloc(c->num_hidden_layers ? c->num_hidden_layers : 1, sizeof *P->layers)))
        return xf_error(XF_ERR_NOMEM, "cannot allocate %zu layers", c->num_hidden_layers);
    P->n_layers = c->num_hidden_layers;
    P->hidden = H;
    if ((st = xf_weight_get_stored(m->ws, "model.embed_tokens.weight", XF_ANY, H, &P->tok_emb)) ||
        (st = xf_model_get_norm(m, "model.norm", XF_NORM_RMS, 0, H, eps, &P->final_norm)))
        return st;
    if (c->tie_word_embeddings) P->lm_head.w = P->tok_emb;
    else if ((st = xf_weight_get_stored(m->ws, "lm_head.weight", P->tok_emb.rows, H, &P->lm_head.w)))
        return st;
    for (size_t i = 0; i < P->n_layers; i++) {
        xf_layer *L = &P->layers[i];
        xf_attn_plan *a = &L->attn;
        char p[128];
#define NAME(s) (snprintf(p, sizeof p, "model.layers.%zu.%s", i, s), p)
        if ((st = xf_model_get_norm(m, NAME("input_layernorm"), XF_NORM_RMS, 0, H, eps, &L->norm_attn)) ||
            (st = xf_model_get_linear(m, NAME("self_attn.q_proj"), XF_ANY, H, qkv_bias, &a->q)) ||
            (st = xf_model_get_linear(m, NAME("self_attn.k_proj"), XF_ANY, H, qkv_bias, &a->k)) ||
            (st = xf_model_get_linear(m, NAME("self_attn.v_proj"), a->k.w.rows, H, qkv_bias, &a->v)) ||
            (st = xf_model_get_linear(m, NAME("self_attn.o_proj"), H, a->q.w.rows, o_bias, &a->o)) ||
            (st = xf_model_get_norm(m, NAME("post_attention_layernorm"), XF_NORM_RMS, 0, H, eps, &L->norm_ffn)) ||
            (st = xf_model_get_linear(m, NAME("mlp.gate_proj"), XF_ANY, H, mlp_bias, &L->ffn.gate)) ||
            (st = xf_model_get_linear(m, NAME("mlp.up_proj"), L->ffn.gate.w.rows, H, mlp_bias, &L->ffn.up)) ||
            (st = xf_model_get_linear(m, NAME("mlp.down_proj"), H, L->ffn.gate.w.rows, mlp_bias, &L->ffn.down)))
            return st;
#undef NAME
        if (a->q.w.rows % dh || a->k.w.rows % dh)
            return xf_error(XF_ERR_FORMAT, "%s: layer %zu: q_proj (%zu rows) or k_proj (%zu rows) is not a whole number of "
                            "heads of %zu", m->path, i, a->q.w.rows, a->k.w.rows, dh);
        a->kind = XF_ATTN_DENSE;
        a->n_heads = a->q.w.rows / dh;
        a->n_kv_heads = a->k.w.rows / dh;
        a->head_dim = dh;
        a->causal = 1;
        a->window = layer_window(c, i);
        a->rope = &P->rope;
        a->scale = 1.0f / sqrtf((float)dh);
        if ((st = layer_groups(m, i, a))) return st;
        L->ffn.width = L->ffn.up.w.rows;
        L->ffn.act = XF_ACT_SILU;
        L->ffn.gated = 1;
    }
    return XF_OK;
}

static xf_status llama_load(xf_model *m) {
    return load_common(m, m->cfg.attention_bias, m->cfg.attention_bias, m->cfg.mlp_bias);
}

static xf_status qwen2_load(xf_model *m) { return load_common(m, 1, 0, 0); }

/* MistralConfig: sliding_window null = full causal attention. */
static xf_status mistral_load(xf_model *m) { return load_common(m, 0, 0, 0); }

const xf_arch xf_arch_llama = {"llama", llama_load};
const xf_arch xf_arch_qwen2 = {"qwen2", qwen2_load};
const xf_arch xf_arch_mistral = {"mistral", mistral_load};
