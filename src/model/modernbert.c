/* modernbert.c — ModernBERT encoders (and so Ettin's): token embeddings + LayerNorm, pre-norm
 * layers (layer 0's attention norm is the identity), fused Wqkv, rotary positions with one base in
 * global layers and another in local ones, global attention every few layers and a bidirectional
 * sliding window elsewhere, GeGLU FFN, a final LayerNorm; no biases unless config.json asks
 * (norm_bias, attention_bias, mlp_bias). Fills the plan; forward.c runs it. As transformers'
 * modeling_modernbert.py (5.x):
 *
 *   X = LN(embed[ids])
 *   for each layer l:  X = X + Wo Attn_l(RoPE_l(Wqkv AttnNorm_l(X)));  X = X + Wo' (GELU(a) * g)
 *                      where [a | g] = Wi MlpNorm_l(X) (the first half is activated, the second gates)
 *   H = LN(X)
 *
 * Attn_l sees every key in a global layer ("full_attention") and, in a local one
 * ("sliding_attention"), the keys within local_attention / 2 positions (|i - j| <= 64 for 128):
 * the plan's bidirectional window W = local_attention / 2 + 1 (|i - j| < W). RoPE_l is the
 * rotate-half rotary embedding with base global_rope_theta (plan.rope) or local_rope_theta
 * (plan.rope_local). GELU is the exact erf GELU of transformers' "gelu".
 *
 * Tensors: a ModernBertModel folder has no prefix, ModernBertFor* heads put the encoder under
 * "model."; GGUF files (llama.cpp's "modern-bert") map to the same names (io/gguf_names.c).
 * Wqkv [3 H, H] splits into Q, K, V rows, Wi [2 I, H] into the GeGLU input and gate rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/model.h"

static xf_status modernbert_load(xf_model *m) {
    const xf_hf_config *c = &m->cfg;
    xf_plan *P = &m->plan;
    xf_ffn_act act;
    if (strcmp(c->hidden_act, "gelu") == 0) act = XF_ACT_GELU_ERF;
    else if (strcmp(c->hidden_act, "gelu_pytorch_tanh") == 0 || strcmp(c->hidden_act, "gelu_new") == 0) act = XF_ACT_GELU_TANH;
    else if (strcmp(c->hidden_act, "silu") == 0) act = XF_ACT_SILU;
    else
        return xf_error(XF_ERR_UNSUPPORTED, "%s/config.json: hidden_activation \"%s\" is not supported for modernbert (gelu, "
                        "gelu_pytorch_tanh, gelu_new, silu)", m->path, c->hidden_act);
    if (!c->sliding_layers)
        return xf_error(XF_ERR_FORMAT, "%s: modernbert config without per-layer attention kinds", m->path);
    const size_t H = c->hidden_size, nh = c->num_attention_heads, dh = H / nh;
    const float eps = (float)c->layer_norm_eps;
    const int nb = c->norm_bias, ab = c->attention_bias, mb = c->mlp_bias;
    xf_status st;
    if (H % nh) return xf_error(XF_ERR_FORMAT, "%s: hidden size %zu is not a multiple of %zu heads", m->path, H, nh);
    if ((st = xf_model_rope_tables(m, dh)) || (st = xf_model_rope_tables_at(m, dh, c->local_rope_theta, &P->rope_local)))
        return st;
    if (!(P->layers = xf_calloc(c->num_hidden_layers ? c->num_hidden_layers : 1, sizeof *P->layers)))
        return xf_error(XF_ERR_NOMEM, "cannot allocate %zu layers", c->num_hidden_layers);
    P->n_layers = c->num_hidden_layers;
    P->hidden = H;
    const char *pre = xf_weight_set_has(m->ws, "model.embeddings.tok_embeddings.weight") ? "model." : "";
    char n[256];
    snprintf(n, sizeof n, "%sembeddings.tok_embeddings.weight", pre);
    if ((st = xf_weight_get_stored(m->ws, n, XF_ANY, H, &P->tok_emb))) return st;
    snprintf(n, sizeof n, "%sembeddings.norm", pre);
    if ((st = xf_model_get_norm(m, n, XF_NORM_LAYER, nb, H, eps, &P->emb_norm))) return st;
    snprintf(n, sizeof n, "%sfinal_norm", pre);
    if ((st = xf_model_get_norm(m, n, XF_NORM_LAYER, nb, H, eps, &P->final_norm))) return st;
    /* the window of local layers: |i - j| <= local_attention / 2 */
    const size_t window = c->local_attention / 2 + 1;
    for (size_t i = 0; i < P->n_layers; i++) {
        xf_layer *L = &P->layers[i];
        xf_attn_plan *a = &L->attn;
        char p[192];
#define NAME(s) (snprintf(p, sizeof p, "%slayers.%zu.%s", pre, i, s), p)
        if (i > 0 || xf_weight_set_has(m->ws, NAME("attn_norm.weight"))) { /* transformers: Identity in layer 0 */
            if ((st = xf_model_get_norm(m, NAME("attn_norm"), XF_NORM_LAYER, nb, H, eps, &L->norm_attn))) return st;
        }
        if ((st = xf_model_get_linear_part(m, NAME("attn.Wqkv"), 3, 0, H, ab, &a->q)) ||
            (st = xf_model_get_linear_part(m, NAME("attn.Wqkv"), 3, 1, H, ab, &a->k)) ||
            (st = xf_model_get_linear_part(m, NAME("attn.Wqkv"), 3, 2, H, ab, &a->v)) ||
            (st = xf_model_get_linear(m, NAME("attn.Wo"), H, a->q.w.rows, ab, &a->o)) ||
            (st = xf_model_get_norm(m, NAME("mlp_norm"), XF_NORM_LAYER, nb, H, eps, &L->norm_ffn)) ||
            (st = xf_model_get_linear_part(m, NAME("mlp.Wi"), 2, 0, H, mb, &L->ffn.gate)) ||
            (st = xf_model_get_linear_part(m, NAME("mlp.Wi"), 2, 1, H, mb, &L->ffn.up)) ||
            (st = xf_model_get_linear(m, NAME("mlp.Wo"), H, L->ffn.up.w.rows, mb, &L->ffn.down)))
            return st;
#undef NAME
        if (a->q.w.rows % dh)
            return xf_error(XF_ERR_FORMAT, "%s: layer %zu: Wqkv has %zu rows per projection, not whole heads of %zu", m->path,
                            i, a->q.w.rows, dh);
        a->kind = XF_ATTN_DENSE;
        a->n_heads = a->n_kv_heads = a->q.w.rows / dh;
        a->head_dim = dh;
        a->causal = 0;
        a->window = c->sliding_layers[i] ? window : 0;
        a->rope = c->sliding_layers[i] ? &P->rope_local : &P->rope;
        a->scale = 1.0f / sqrtf((float)dh);
        L->ffn.width = L->ffn.up.w.rows;
        L->ffn.act = act;
        L->ffn.gated = 1;
    }
    return XF_OK;
}

const xf_arch xf_arch_modernbert = {"modernbert", modernbert_load};
