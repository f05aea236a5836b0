/* bert.c — BERT-family encoders (BERT, MiniLM, bge, ...): learned absolute positions, token
 * types, post-LN layers, exact-erf GELU FFN. Fills the plan; forward.c runs it.
 *
 *   X = LN(word[ids] + pos[i] + type[type_ids])
 *   for each layer:  X = LN1(X + Attn(X));  X = LN2(X + FFN(X))
 *
 * Shapes come from the tensors: a layer whose heads were pruned (transformers' prune_heads, then
 * save_pretrained: fewer query/key/value rows and output columns, "pruned_heads" in config.json)
 * has rows / head_dim heads, head_dim = hidden_size / num_attention_heads; FFN widths are the
 * intermediate tensor's rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/model.h"

static xf_status bert_load(xf_model *m) {
    const xf_hf_config *c = &m->cfg;
    xf_plan *P = &m->plan;
    if (strcmp(c->hidden_act, "gelu") != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s/config.json: hidden_act \"%s\" is not supported for bert (only \"gelu\")",
                        m->path, c->hidden_act);
    if (strcmp(c->position_embedding_type, "absolute") != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s/config.json: position_embedding_type \"%s\" is not supported (only \"absolute\")",
                        m->path, c->position_embedding_type);
    if (!(P->layers = xf_calloc(c->num_hidden_layers ? c->num_hidden_layers : 1, sizeof *P->layers)))
        return xf_error(XF_ERR_NOMEM, "cannot allocate %zu BERT layers", c->num_hidden_layers);
    P->n_layers = c->num_hidden_layers;
    /* Checkpoints saved from BertFor* task heads prefix the encoder with "bert.". */
    const char *pre = xf_weight_set_has(m->ws, "bert.embeddings.word_embeddings.weight") ? "bert." : "";
    const size_t H = c->hidden_size, dh = H / c->num_attention_heads;
    const float eps = (float)c->layer_norm_eps;
    char n[256];
    xf_status st;
    P->hidden = H;
    snprintf(n, sizeof n, "%sembeddings.word_embeddings.weight", pre);
    if ((st = xf_weight_get(m->ws, n, 2, XF_ANY, H, &P->tok_emb))) return st;
    snprintf(n, sizeof n, "%sembeddings.position_embeddings.weight", pre);
    if ((st = xf_weight_get(m->ws, n, 2, c->max_position_embeddings, H, &P->pos_emb))) return st;
    snprintf(n, sizeof n, "%sembeddings.token_type_embeddings.weight", pre);
    if ((st = xf_weight_get(m->ws, n, 2, c->type_vocab_size, H, &P->type_emb))) return st;
    snprintf(n, sizeof n, "%sembeddings.LayerNorm", pre);
    if ((st = xf_model_get_norm(m, n, XF_NORM_LAYER, 1, H, eps, &P->emb_norm))) return st;
    for (size_t i = 0; i < P->n_layers; i++) {
        xf_layer *L = &P->layers[i];
        char p[192];
        L->post_norm = 1;
#define NAME(s) (snprintf(p, sizeof p, "%sencoder.layer.%zu.%s", pre, i, s), p)
        if ((st = xf_model_get_linear(m, NAME("attention.self.query"), XF_ANY, H, 1, &L->attn.q)) ||
            (st = xf_model_get_linear(m, NAME("attention.self.key"), L->attn.q.w.rows, H, 1, &L->attn.k)) ||
            (st = xf_model_get_linear(m, NAME("attention.self.value"), L->attn.q.w.rows, H, 1, &L->attn.v)) ||
            (st = xf_model_get_linear(m, NAME("attention.output.dense"), H, L->attn.q.w.rows, 1, &L->attn.o)) ||
            (st = xf_model_get_norm(m, NAME("attention.output.LayerNorm"), XF_NORM_LAYER, 1, H, eps, &L->norm_attn)) ||
            (st = xf_model_get_linear(m, NAME("intermediate.dense"), XF_ANY, H, 1, &L->ffn.up)) ||
            (st = xf_model_get_linear(m, NAME("output.dense"), H, L->ffn.up.w.rows, 1, &L->ffn.down)) ||
            (st = xf_model_get_norm(m, NAME("output.LayerNorm"), XF_NORM_LAYER, 1, H, eps, &L->norm_ffn)))
            return st;
#undef NAME
        const size_t heads = L->attn.q.w.rows / dh, want = c->num_attention_heads - (c->pruned_heads ? c->pruned_heads[i] : 0);
        if (L->attn.q.w.rows % dh || heads != want)
            return xf_error(XF_ERR_FORMAT, "%s: layer %zu: query rows %zu are not %zu heads of %zu (config.json: %zu heads, "
                            "%zu pruned)", m->path, i, L->attn.q.w.rows, want, dh, c->num_attention_heads,
                            c->num_attention_heads - want);
        L->attn = (xf_attn_plan){.kind = XF_ATTN_DENSE, .n_heads = heads, .n_kv_heads = heads, .head_dim = dh,
                                 .scale = 1.0f / sqrtf((float)dh), .q = L->attn.q, .k = L->attn.k, .v = L->attn.v,
                                 .o = L->attn.o};
        L->ffn.width = L->ffn.up.w.rows;
        L->ffn.act = XF_ACT_GELU_ERF;
    }
    return XF_OK;
}

const xf_arch xf_arch_bert = {"bert", bert_load};
