/* gpt2.c — GPT-2: learned token + absolute position embeddings, pre-LN blocks with LayerNorm,
 * causal multi-head attention with a fused QKV projection, a GELU MLP ("gelu_new" = tanh
 * approximation, or exact "gelu"), a final LayerNorm and an LM head tied to the token embedding.
 *
 *   X = wte[ids] + wpe[pos]
 *   for each layer:  X = X + Attn(ln_1(X));  X = X + MLP(ln_2(X))
 *   H = ln_f(X);  logits = H wte^T
 *
 * GPT-2's Conv1D layers store weights as [in, out]; they are transposed once at load into the
 * [out, in] layout xf_linear expects (docs/DECISIONS.md), and c_attn's [3 hidden] output rows are
 * split into the q, k, v projections (views into the transposed copy). Tensor names are accepted
 * with or without the "transformer." prefix (GPT2LMHeadModel vs GPT2Model checkpoints). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "kernels/ops.h"
#include "model/model.h"

/* ln1 = h.N.ln_1, attn = h.N.attn.c_attn (split into q, k, v) + attn.c_proj, ln2 = h.N.ln_2,
 * ffn = h.N.mlp.c_fc, mlp.c_proj */
typedef xf_block_w gpt2_layer;

typedef struct gpt2 {
    xf_weight wte, wpe; /* [vocab, hidden], [n_positions, hidden] */
    xf_norm_w ln_f;
    size_t n_layers;
    gpt2_layer *layers;
    float *tw; /* the transposed Conv1D weights of every layer */
} gpt2;

static void gpt2_free(xf_model *m) {
    gpt2 *G = m->arch_state;
    if (G) {
        free(G->layers);
        free(G->tw);
    }
    free(G);
    m->arch_state = NULL;
}

static xf_status get_layernorm(xf_model *m, const char *prefix, const char *name, size_t n, xf_norm_w *ln) {
    char w[256], b[256];
    snprintf(w, sizeof w, "%s%s.weight", prefix, name);
    snprintf(b, sizeof b, "%s%s.bias", prefix, name);
    ln->eps = (float)m->cfg.layer_norm_eps;
    xf_status st = xf_weight_get(m->ws, w, 1, n, 0, &ln->g);
    return st ? st : xf_weight_get(m->ws, b, 1, n, 0, &ln->b);
}

static xf_weight f32_view(const float *data, size_t rows, size_t cols, const char *name) {
    xf_weight w = {.dtype = XF_DT_F32, .rows = rows, .cols = cols, .data = data, .name = name};
    return w;
}

/* Conv1D `name` (weight [in, out], bias [out]) transposed into dst [out, in]; the bias is served
 * in place. */
static xf_status get_conv1d(xf_model *m, const char *prefix, const char *name, size_t in, size_t out, float *dst,
                            xf_weight *w, xf_weight *b) {
    char n[256];
    xf_weight raw;
    snprintf(n, sizeof n, "%s%s.weight", prefix, name);
    xf_status st = xf_weight_get(m->ws, n, 2, in, out, &raw);
    if (st) return st;
    const float *src = raw.data;
    for (size_t i = 0; i < in; i++)
        for (size_t o = 0; o < out; o++) dst[o * in + i] = src[i * out + o];
    *w = f32_view(dst, out, in, raw.name);
    snprintf(n, sizeof n, "%s%s.bias", prefix, name);
    return xf_weight_get(m->ws, n, 1, out, 0, b);
}

static xf_status gpt2_load(xf_model *m) {
    const xf_hf_config *c = &m->cfg;
    xf_ffn_act act;
    if (strcmp(c->hidden_act, "gelu_new") == 0 || strcmp(c->hidden_act, "gelu_pytorch_tanh") == 0 ||
        strcmp(c->hidden_act, "gelu_fast") == 0)
        act = XF_ACT_GELU_TANH;
    else if (strcmp(c->hidden_act, "gelu") == 0)
        act = XF_ACT_GELU_ERF;
    else
        return xf_error(XF_ERR_UNSUPPORTED,
                        "%s/config.json: activation_function \"%s\" is not supported for gpt2 (gelu_new, "
                        "gelu_pytorch_tanh, gelu_fast, gelu)",
                        m->path, c->hidden_act);
    const size_t H = c->hidden_size, F = c->intermediate_size, V = c->vocab_size, P = c->max_position_embeddings;
    const size_t nh = c->num_attention_heads;
    size_t per, total;
    if (!xf_mul_ok(H, 4 * H + 2 * F, &per) || !xf_mul_ok(per, c->num_hidden_layers, &total) ||
        total > SIZE_MAX / sizeof(float))
        return xf_error(XF_ERR_RANGE, "%s/config.json: gpt2 of %zu layers, n_embd %zu, n_inner %zu is too large",
                        m->path, c->num_hidden_layers, H, F);
    gpt2 *G = xf_calloc(1, sizeof *G);
    if (!G) return xf_error(XF_ERR_NOMEM, "cannot allocate the model state");
    m->arch_state = G;
    G->n_layers = c->num_hidden_layers;
    G->layers = xf_calloc(G->n_layers, sizeof *G->layers);
    G->tw = xf_malloc(total * sizeof(float));
    if (!G->layers || !G->tw)
        return xf_error(XF_ERR_NOMEM, "cannot allocate %zu layers (%zu transposed weight floats)", G->n_layers, total);
    const char *pre = xf_weight_set_has(m->ws, "transformer.wte.weight") ? "transformer." : "";
    char n[256];
    xf_status st;
    snprintf(n, sizeof n, "%swte.weight", pre);
    if ((st = xf_weight_get(m->ws, n, 2, V, H, &G->wte))) return st;
    snprintf(n, sizeof n, "%swpe.weight", pre);
    if ((st = xf_weight_get(m->ws, n, 2, P, H, &G->wpe))) return st;
    if ((st = get_layernorm(m, pre, "ln_f", H, &G->ln_f))) return st;
    memset(&m->lm_head, 0, sizeof m->lm_head);
    if (c->tie_word_embeddings) m->lm_head.w = G->wte;
    else if ((st = xf_weight_get(m->ws, "lm_head.weight", 2, V, H, &m->lm_head.w)))
        return st;
    m->n_params = (uint64_t)V * H * (c->tie_word_embeddings ? 1 : 2) + (uint64_t)P * H + 2 * H;
    float *tw = G->tw;
    for (size_t i = 0; i < G->n_layers; i++) {
        gpt2_layer *ly = &G->layers[i];
        char p[96];
        snprintf(p, sizeof p, "%sh.%zu.", pre, i);
        ly->plan = (xf_layer_plan){.attn = XF_ATTN_DENSE, .n_heads = nh, .head_dim = H / nh, .ffn_width = F,
                                   .n_kv_heads = nh, .causal = 1, .act = act};
        xf_weight qkv, qkv_b;
        if ((st = get_layernorm(m, p, "ln_1", H, &ly->ln1)) ||
            (st = get_conv1d(m, p, "attn.c_attn", H, 3 * H, tw, &qkv, &qkv_b)) ||
            (st = get_conv1d(m, p, "attn.c_proj", H, H, tw + 3 * H * H, &ly->attn.o.w, &ly->attn.o.b)) ||
            (st = get_layernorm(m, p, "ln_2", H, &ly->ln2)) ||
            (st = get_conv1d(m, p, "mlp.c_fc", H, F, tw + 4 * H * H, &ly->ffn.up.w, &ly->ffn.up.b)) ||
            (st = get_conv1d(m, p, "mlp.c_proj", F, H, tw + 4 * H * H + F * H, &ly->ffn.down.w, &ly->ffn.down.b)))
            return st;
        const float *wq = qkv.data, *bq = qkv_b.data;
        ly->attn.q.w = f32_view(wq, H, H, qkv.name);
        ly->attn.k.w = f32_view(wq + H * H, H, H, qkv.name);
        ly->attn.v.w = f32_view(wq + 2 * H * H, H, H, qkv.name);
        ly->attn.q.b = f32_view(bq, 1, H, qkv_b.name);
        ly->attn.k.b = f32_view(bq + H, 1, H, qkv_b.name);
        ly->attn.v.b = f32_view(bq + 2 * H, 1, H, qkv_b.name);
        xf_linear_w *lin[] = {&ly->attn.q, &ly->attn.k, &ly->attn.v, &ly->attn.o, &ly->ffn.up, &ly->ffn.down};
        for (size_t k = 0; k < sizeof lin / sizeof lin[0]; k++)
            if ((st = xf_model_prepare_linear(m, &lin[k]->w))) return st;
        tw += per;
        m->n_params += (uint64_t)per + 4 * H + 3 * H + H + F + H;
    }
    return XF_OK;
}

static xf_status gpt2_encode(xf_model *m, const xf_batch *b, float *X) {
    gpt2 *G = m->arch_state;
    xf_status st = xf_decoder_prepare(m, b, G->layers, G->n_layers);
    if (st) return st;
    xf_embed_learned(b, &G->wte, &G->wpe, NULL, X);
    for (size_t i = 0; i < G->n_layers; i++) xf_block_prenorm(m->pool, &G->layers[i], b, X, m->work);
    xf_add_norm(m->pool, &G->ln_f, X, NULL, xf_batch_tokens(b));
    return XF_OK;
}

/* ---------------------------------------------------------------- cached (session) forward
 * As gpt2_encode for tokens at absolute positions p0 .. p0 + T - 1 (xf_mha_cached). Scratch per
 * chunk of T tokens: X, Xn, Y [T, hidden]; Q, O [T, hidden]; FFN [2 T ffn]; the attention kernel's
 * per-thread blocks (xf_mha_attention_scratch). */

static size_t gpt2_cached_scratch(const xf_model *m, size_t chunk, size_t n_ctx) {
    const xf_hf_config *c = &m->cfg;
    const gpt2 *G = m->arch_state;
    size_t row = 5 * c->hidden_size + 2 * c->intermediate_size, a, b;
    if (!G->n_layers || !xf_mul_ok(chunk, row, &a)) return 0;
    b = xf_mha_attention_scratch(&G->layers[0].plan, xf_pool_size(m->pool));
    return a + b < a ? 0 : a + b;
}

static void gpt2_eval_chunk(xf_model *m, xf_kv_cache *c, const int32_t *ids, size_t T, float *h_last) {
    gpt2 *G = m->arch_state;
    const size_t H = m->cfg.hidden_size, kvd = c->kv_dim, p0 = c->n_past;
    float *X = c->scratch;
    const float *E = G->wte.data, *P = G->wpe.data;
    for (size_t t = 0; t < T; t++) {
        const float *we = E + (size_t)ids[t] * H, *pe = P + (p0 + t) * H;
        for (size_t d = 0; d < H; d++) X[t * H + d] = we[d] + pe[d];
    }
    for (size_t i = 0; i < G->n_layers; i++)
        xf_block_prenorm_cached(m->pool, &G->layers[i], X, T, p0, c->k + i * c->n_ctx * kvd, c->v + i * c->n_ctx * kvd,
                                X + T * H);
    c->n_past += T;
    if (h_last) {
        memcpy(h_last, X + (T - 1) * H, H * sizeof *X);
        xf_add_norm(m->pool, &G->ln_f, h_last, NULL, 1);
    }
}

const xf_arch xf_arch_gpt2 = {"gpt2", gpt2_load, gpt2_encode, gpt2_free, gpt2_cached_scratch, gpt2_eval_chunk};
