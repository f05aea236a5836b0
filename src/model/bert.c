/* bert.c — BERT-family encoders (BERT, MiniLM, bge, ...): learned absolute positions, token
 * types, post-LN layers, exact-erf GELU FFN. Composes the blocks of layers.c.
 *
 *   X = LN(word[ids] + pos[i] + type[type_ids])
 *   for each layer:  X = LN1(X + Attn(X));  X = LN2(X + FFN(X))
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "model/model.h"

typedef struct bert_layer {
    xf_layer_plan plan;
    xf_attn_w attn;  /* encoder.layer.N.attention.self.{query,key,value}, attention.output.dense */
    xf_norm_w ln1;   /* attention.output.LayerNorm [hidden] */
    xf_ffn_w ffn;    /* intermediate.dense [ffn, hidden], output.dense [hidden, ffn] */
    xf_norm_w ln2;   /* output.LayerNorm [hidden] */
} bert_layer;

typedef struct bert {
    xf_weight word;  /* [vocab, hidden] */
    xf_weight pos;   /* [max_position, hidden] */
    xf_weight type;  /* [type_vocab, hidden] */
    xf_norm_w ln_emb;
    size_t n_layers;
    bert_layer *layers;
} bert;

static xf_status get(xf_model *m, const char *prefix, const char *name, int ndim, size_t d0, size_t d1,
                    xf_weight *w) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return xf_weight_get(m->ws, full, ndim, d0, d1, w);
}

static xf_status get_linear(xf_model *m, const char *prefix, const char *name, size_t out, size_t in,
                           xf_linear_w *l) {
    char n[256];
    snprintf(n, sizeof n, "%s.weight", name);
    xf_status st = get(m, prefix, n, 2, out, in, &l->w);
    if (st || (st = xf_model_prepare_linear(m, &l->w))) return st;
    snprintf(n, sizeof n, "%s.bias", name);
    return get(m, prefix, n, 1, out, 0, &l->b);
}

static xf_status get_norm(xf_model *m, const char *prefix, const char *name, size_t n, xf_norm_w *ln) {
    char w[256], b[256];
    snprintf(w, sizeof w, "%s.weight", name);
    snprintf(b, sizeof b, "%s.bias", name);
    ln->eps = (float)m->cfg.layer_norm_eps;
    xf_status st = get(m, prefix, w, 1, n, 0, &ln->g);
    return st ? st : get(m, prefix, b, 1, n, 0, &ln->b);
}

static void bert_free(xf_model *m) {
    bert *B = m->arch_state;
    if (B) free(B->layers);
    free(B);
    m->arch_state = NULL;
}

static xf_status bert_load(xf_model *m) {
    const xf_hf_config *c = &m->cfg;
    if (strcmp(c->hidden_act, "gelu") != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s/config.json: hidden_act \"%s\" is not supported for bert (only \"gelu\")",
                        m->path, c->hidden_act);
    if (strcmp(c->position_embedding_type, "absolute") != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s/config.json: position_embedding_type \"%s\" is not supported (only \"absolute\")",
                        m->path, c->position_embedding_type);
    bert *B = xf_calloc(1, sizeof *B);
    if (!B || !(B->layers = xf_calloc(c->num_hidden_layers, sizeof *B->layers))) {
        free(B);
        return xf_error(XF_ERR_NOMEM, "cannot allocate %zu BERT layers", c->num_hidden_layers);
    }
    m->arch_state = B;
    B->n_layers = c->num_hidden_layers;
    /* Checkpoints saved from BertFor* task heads prefix the encoder with "bert.". */
    const char *pre = xf_weight_set_has(m->ws, "bert.embeddings.word_embeddings.weight") ? "bert." : "";
    const size_t H = c->hidden_size, F = c->intermediate_size;
    xf_status st;
    if ((st = get(m, pre, "embeddings.word_embeddings.weight", 2, c->vocab_size, H, &B->word)) ||
        (st = get(m, pre, "embeddings.position_embeddings.weight", 2, c->max_position_embeddings, H, &B->pos)) ||
        (st = get(m, pre, "embeddings.token_type_embeddings.weight", 2, c->type_vocab_size, H, &B->type)) ||
        (st = get_norm(m, pre, "embeddings.LayerNorm", H, &B->ln_emb)))
        return st;
    m->n_params = (uint64_t)(c->vocab_size + c->max_position_embeddings + c->type_vocab_size + 2) * H;
    for (size_t i = 0; i < B->n_layers; i++) {
        bert_layer *L = &B->layers[i];
        char p[64];
        snprintf(p, sizeof p, "encoder.layer.%zu.", i);
        char lp[128];
        snprintf(lp, sizeof lp, "%s%s", pre, p);
        L->plan = (xf_layer_plan){.attn = XF_ATTN_DENSE, .n_heads = c->num_attention_heads,
                                  .head_dim = H / c->num_attention_heads, .ffn_width = F,
                                  .n_kv_heads = c->num_attention_heads, .causal = 0};
        if ((st = get_linear(m, lp, "attention.self.query", H, H, &L->attn.q)) ||
            (st = get_linear(m, lp, "attention.self.key", H, H, &L->attn.k)) ||
            (st = get_linear(m, lp, "attention.self.value", H, H, &L->attn.v)) ||
            (st = get_linear(m, lp, "attention.output.dense", H, H, &L->attn.o)) ||
            (st = get_norm(m, lp, "attention.output.LayerNorm", H, &L->ln1)) ||
            (st = get_linear(m, lp, "intermediate.dense", F, H, &L->ffn.up)) ||
            (st = get_linear(m, lp, "output.dense", H, F, &L->ffn.down)) ||
            (st = get_norm(m, lp, "output.LayerNorm", H, &L->ln2)))
            return st;
        m->n_params += (uint64_t)4 * (H * H + H) + 2 * (uint64_t)(F * H) + F + H + 4 * H;
    }
    return XF_OK;
}

static xf_status bert_encode(xf_model *m, const xf_batch *b, float *X) {
    bert *B = m->arch_state;
    const size_t T = xf_batch_tokens(b), H = m->cfg.hidden_size;
    for (size_t t = 0; t < T; t++) {
        if (b->ids[t] < 0 || (size_t)b->ids[t] >= m->cfg.vocab_size)
            return xf_error(XF_ERR_RANGE, "token id %d is outside the vocabulary of %zu", b->ids[t], m->cfg.vocab_size);
        if (b->type_ids[t] < 0 || (size_t)b->type_ids[t] >= m->cfg.type_vocab_size)
            return xf_error(XF_ERR_RANGE, "token type id %d is outside [0, %zu)", b->type_ids[t], m->cfg.type_vocab_size);
    }
    for (size_t s = 0; s < b->n_seq; s++)
        if (b->off[s + 1] - b->off[s] > m->cfg.max_position_embeddings)
            return xf_error(XF_ERR_RANGE, "sequence of %zu tokens is longer than max_position_embeddings %zu",
                            b->off[s + 1] - b->off[s], m->cfg.max_position_embeddings);
    size_t need = 0;
    for (size_t i = 0; i < B->n_layers; i++) {
        const xf_layer_plan *p = &B->layers[i].plan;
        size_t a = xf_mha_scratch(p, T, xf_pool_size(m->pool)), f = xf_ffn_scratch(p, T);
        need = a > need ? a : need;
        need = f > need ? f : need;
    }
    xf_status st = xf_model_reserve(m, T * H + need);
    if (st) return st;
    float *Y = m->work, *scratch = Y + T * H;

    xf_embed_learned(b, &B->word, &B->pos, &B->type, X);
    xf_add_norm(m->pool, &B->ln_emb, X, NULL, T);
    for (size_t i = 0; i < B->n_layers; i++) {
        const bert_layer *L = &B->layers[i];
        xf_mha(m->pool, &L->attn, &L->plan, b, X, Y, scratch);
        xf_add_norm(m->pool, &L->ln1, X, Y, T);
        xf_ffn_gelu(m->pool, &L->ffn, &L->plan, X, T, Y, scratch);
        xf_add_norm(m->pool, &L->ln2, X, Y, T);
    }
    return XF_OK;
}

const xf_arch xf_arch_bert = {"bert", bert_load, bert_encode, bert_free, NULL, NULL};
