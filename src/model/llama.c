/* llama.c — LLaMA-family decoders (LLaMA 1-3, Qwen2, Mistral): token embeddings, pre-norm layers with
 * RMSNorm, causal grouped-query attention with rotary positions, SiLU-gated FFN, a final norm and
 * an LM head (tied to the embedding when tie_word_embeddings). Composes the blocks of layers.c.
 *
 *   X = embed[ids]
 *   for each layer:  X = X + Attn(RMSNorm1(X));  X = X + FFN(RMSNorm2(X))
 *   H = RMSNorm(X);  logits = H lm_head^T
 *
 * qwen2 is llama with q/k/v biases (always) and no o bias; mistral is llama whose attention span
 * is config sliding_window (the layer plans' window: query i sees keys i - W < j <= i). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/ops.h"
#include "kernels/rope.h"
#include "model/model.h"

/* ln1 = model.layers.N.input_layernorm, attn = self_attn.{q,k,v,o}_proj,
 * ln2 = post_attention_layernorm, ffn = mlp.{gate,up,down}_proj */
typedef xf_block_w llama_layer;

typedef struct llama {
    xf_weight embed; /* [vocab, hidden] */
    xf_norm_w norm;  /* model.norm */
    size_t n_layers;
    llama_layer *layers;
    float *rope_cos, *rope_sin; /* [max_position, head_dim/2] */
} llama;

static xf_status get_linear(xf_model *m, const char *prefix, const char *name, size_t out, size_t in, int bias,
                           xf_linear_w *l) {
    char n[256];
    snprintf(n, sizeof n, "%s%s.weight", prefix, name);
    xf_status st = xf_weight_get_stored(m->ws, n, out, in, &l->w);
    if (!st) st = xf_model_prepare_linear(m, &l->w);
    if (!st) st = xf_linear_reserve(m->pool, &l->w);
    if (st || !bias) return st;
    snprintf(n, sizeof n, "%s%s.bias", prefix, name);
    return xf_weight_get(m->ws, n, 1, out, 0, &l->b);
}

static xf_status get_rmsnorm(xf_model *m, const char *name, size_t n, xf_norm_w *ln) {
    memset(ln, 0, sizeof *ln); /* b.data NULL: RMSNorm */
    ln->eps = (float)m->cfg.rms_norm_eps;
    return xf_weight_get(m->ws, name, 1, n, 0, &ln->g);
}

static void llama_free(xf_model *m) {
    llama *L = m->arch_state;
    if (L) {
        free(L->layers);
        free(L->rope_cos);
        free(L->rope_sin);
    }
    free(L);
    m->arch_state = NULL;
}

static xf_status load_common(xf_model *m, int qkv_bias, int o_bias, int mlp_bias, size_t window) {
    const xf_hf_config *c = &m->cfg;
    if (strcmp(c->hidden_act, "silu") != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s/config.json: hidden_act \"%s\" is not supported for %s (only \"silu\")",
                        m->path, c->hidden_act, c->model_type);
    if (c->use_sliding_window && strcmp(c->model_type, "mistral") != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s/config.json: use_sliding_window true is not supported", m->path);
    if (c->head_dim % 2 != 0 || c->head_dim > 8192)
        return xf_error(XF_ERR_UNSUPPORTED, "%s/config.json: head_dim %zu is not supported (even, at most 8192)", m->path,
                        c->head_dim);
    const size_t H = c->hidden_size, F = c->intermediate_size, V = c->vocab_size, dh = c->head_dim;
    const size_t nh = c->num_attention_heads, nkv = c->num_key_value_heads, half = dh / 2;
    llama *L = xf_calloc(1, sizeof *L);
    if (!L) return xf_error(XF_ERR_NOMEM, "cannot allocate the model state");
    m->arch_state = L;
    L->n_layers = c->num_hidden_layers;
    L->layers = xf_calloc(L->n_layers, sizeof *L->layers);
    size_t tab = c->max_position_embeddings * half;
    L->rope_cos = xf_malloc(tab * sizeof(float));
    L->rope_sin = xf_malloc(tab * sizeof(float));
    if (!L->layers || !L->rope_cos || !L->rope_sin)
        return xf_error(XF_ERR_NOMEM, "cannot allocate %zu layers and rotary tables", L->n_layers);
    xf_rope_params rp = {dh, c->rope_theta, XF_ROPE_PLAIN, 1.0, 0.0, 0.0, 0.0};
    if (c->rope_scaling.type == XF_HF_ROPE_LINEAR) {
        rp.kind = XF_ROPE_LINEAR;
        rp.factor = c->rope_scaling.factor;
    } else if (c->rope_scaling.type == XF_HF_ROPE_LLAMA3) {
        rp.kind = XF_ROPE_LLAMA3;
        rp.factor = c->rope_scaling.factor;
        rp.low_freq_factor = c->rope_scaling.low_freq_factor;
        rp.high_freq_factor = c->rope_scaling.high_freq_factor;
        rp.original_max_position = (double)c->rope_scaling.original_max_position;
    }
    xf_rope_tables(&rp, c->max_position_embeddings, L->rope_cos, L->rope_sin);

    xf_status st;
    if ((st = xf_weight_get_stored(m->ws, "model.embed_tokens.weight", V, H, &L->embed)) ||
        (st = get_rmsnorm(m, "model.norm.weight", H, &L->norm)))
        return st;
    memset(&m->lm_head, 0, sizeof m->lm_head);
    if (c->tie_word_embeddings) m->lm_head.w = L->embed;
    else if ((st = xf_weight_get_stored(m->ws, "lm_head.weight", V, H, &m->lm_head.w)))
        return st;
    if ((st = xf_linear_reserve(m->pool, &m->lm_head.w))) return st;
    m->n_params = (uint64_t)V * H * (c->tie_word_embeddings ? 1 : 2) + H;
    for (size_t i = 0; i < L->n_layers; i++) {
        llama_layer *ly = &L->layers[i];
        char p[64], n1[96], n2[96];
        snprintf(p, sizeof p, "model.layers.%zu.", i);
        snprintf(n1, sizeof n1, "%sinput_layernorm.weight", p);
        snprintf(n2, sizeof n2, "%spost_attention_layernorm.weight", p);
        ly->plan = (xf_layer_plan){.attn = XF_ATTN_DENSE, .n_heads = nh, .head_dim = dh, .ffn_width = F,
                                   .n_kv_heads = nkv, .causal = 1, .act = XF_ACT_SWIGLU, .rope_cos = L->rope_cos,
                                   .rope_sin = L->rope_sin, .window = window};
        if ((st = get_rmsnorm(m, n1, H, &ly->ln1)) ||
            (st = get_linear(m, p, "self_attn.q_proj", nh * dh, H, qkv_bias, &ly->attn.q)) ||
            (st = get_linear(m, p, "self_attn.k_proj", nkv * dh, H, qkv_bias, &ly->attn.k)) ||
            (st = get_linear(m, p, "self_attn.v_proj", nkv * dh, H, qkv_bias, &ly->attn.v)) ||
            (st = get_linear(m, p, "self_attn.o_proj", H, nh * dh, o_bias, &ly->attn.o)) ||
            (st = get_rmsnorm(m, n2, H, &ly->ln2)) ||
            (st = get_linear(m, p, "mlp.gate_proj", F, H, mlp_bias, &ly->ffn.gate)) ||
            (st = get_linear(m, p, "mlp.up_proj", F, H, mlp_bias, &ly->ffn.up)) ||
            (st = get_linear(m, p, "mlp.down_proj", H, F, mlp_bias, &ly->ffn.down)))
            return st;
        m->n_params += (uint64_t)2 * H + (uint64_t)2 * nh * dh * H + (uint64_t)2 * nkv * dh * H + 3 * (uint64_t)F * H +
                       (qkv_bias ? (nh + 2 * nkv) * dh : 0) + (o_bias ? H : 0) + (mlp_bias ? 2 * F + H : 0);
    }
    return XF_OK;
}

static xf_status llama_load(xf_model *m) {
    return load_common(m, m->cfg.attention_bias, m->cfg.attention_bias, m->cfg.mlp_bias, 0);
}

static xf_status qwen2_load(xf_model *m) { return load_common(m, 1, 0, 0, 0); }

/* MistralConfig: sliding_window null = full causal attention. */
static xf_status mistral_load(xf_model *m) { return load_common(m, 0, 0, 0, m->cfg.sliding_window); }

static xf_status llama_encode(xf_model *m, const xf_batch *b, float *X) {
    llama *L = m->arch_state;
    xf_status st = xf_decoder_prepare(m, b, L->layers, L->n_layers);
    if (st) return st;
    xf_embed_tokens(b, &L->embed, X);
    for (size_t i = 0; i < L->n_layers; i++) xf_block_prenorm(m->pool, &L->layers[i], b, X, m->work);
    xf_add_norm(m->pool, &L->norm, X, NULL, xf_batch_tokens(b));
    return XF_OK;
}

/* ---------------------------------------------------------------- cached (session) forward
 *
 * The same layer as llama_encode, for tokens at absolute positions p0 .. p0 + T - 1 of one
 * sequence whose earlier keys / values sit in the cache: K and V projections are written straight
 * into the cache rows, RoPE uses the absolute positions, and query t attends cache rows
 * [0, p0 + t] with xf_attention. Scratch per chunk of T tokens:
 *   X, Xn, Y [T, hidden]; Q, O [T, heads*dh]; FFN [2 T ffn]; the attention kernel's per-thread
 *   blocks (xf_mha_attention_scratch, independent of n_ctx). */

static size_t add_ok(size_t a, size_t b) { return a + b < a ? 0 : a + b; }

static size_t llama_cached_scratch(const xf_model *m, size_t chunk, size_t n_ctx) {
    const xf_hf_config *c = &m->cfg;
    const llama *L = m->arch_state;
    size_t inner = c->num_attention_heads * c->head_dim, row = 3 * c->hidden_size + 2 * inner + 2 * c->intermediate_size;
    size_t a;
    if (!L->n_layers || !xf_mul_ok(chunk, row, &a)) return 0;
    return add_ok(a, xf_mha_attention_scratch(&L->layers[0].plan, xf_pool_size(m->pool)));
}

static void llama_eval_chunk(xf_model *m, xf_kv_cache *c, const int32_t *ids, size_t T, float *h_last) {
    llama *L = m->arch_state;
    const size_t H = m->cfg.hidden_size, kvd = c->kv_dim;
    float *X = c->scratch;
    xf_embed_rows(&L->embed, ids, T, X);
    for (size_t i = 0; i < L->n_layers; i++)
        xf_block_prenorm_cached(m->pool, &L->layers[i], X, T, c->n_past, c->k + i * c->n_ctx * kvd,
                                c->v + i * c->n_ctx * kvd, X + T * H);
    c->n_past += T;
    if (h_last) {
        memcpy(h_last, X + (T - 1) * H, H * sizeof *X);
        xf_add_norm(m->pool, &L->norm, h_last, NULL, 1);
    }
}

const xf_arch xf_arch_llama = {"llama", llama_load, llama_encode, llama_free, llama_cached_scratch,
                               llama_eval_chunk};
const xf_arch xf_arch_qwen2 = {"qwen2", qwen2_load, llama_encode, llama_free, llama_cached_scratch,
                               llama_eval_chunk};
const xf_arch xf_arch_mistral = {"mistral", mistral_load, llama_encode, llama_free, llama_cached_scratch,
                                 llama_eval_chunk};
