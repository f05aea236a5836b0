/* gpt2.c — GPT-2: learned token + absolute position embeddings, pre-LN blocks with LayerNorm,
 * causal multi-head attention with a fused QKV projection, a GELU MLP ("gelu_new" = tanh
 * approximation, or exact "gelu"), a final LayerNorm and an LM head tied to the token embedding.
 * Fills the plan; forward.c runs it.
 *
 *   X = wte[ids] + wpe[pos]
 *   for each layer:  X = X + Attn(ln_1(X));  X = X + MLP(ln_2(X))
 *   H = ln_f(X);  logits = H wte^T
 *
 * GPT-2's Conv1D layers store weights as [in, out]; they are transposed once at load into the
 * [out, in] layout xf_linear expects (docs/DECISIONS.md), and c_attn's [3 q_dim] output rows are
 * split into the q, k, v projections (views into the transposed copy). Shapes come from the
 * tensors (q_dim = c_attn outputs / 3, heads = q_dim / head_dim, MLP width = c_fc outputs). Tensor
 * names are accepted with or without the "transformer." prefix (GPT2LMHeadModel vs GPT2Model
 * checkpoints). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/gguf.h"
#include "model/formats.h"
#include "model/model.h"

static xf_weight f32_view(const float *data, size_t rows, size_t cols, const char *name) {
    xf_weight w = {.fmt = &xf_fmt_f32, .rows = rows, .cols = cols, .data = data, .name = name};
    return w;
}

/* Conv1D `name` (weight [in, out], bias [out]) transposed into an owned [out, in] copy; the bias
 * is served in place. in / out may be XF_ANY. */
static xf_status get_conv1d(xf_model *m, const char *prefix, const char *name, size_t in, size_t out, xf_weight *w,
                            xf_weight *b) {
    char n[256];
    xf_weight raw;
    snprintf(n, sizeof n, "%s%s.weight", prefix, name);
    xf_status st = xf_weight_get_stored(m->ws, n, in, out, &raw);
    if (st) return st;
    if (xf_weight_is_s24(&raw)) { /* a 2:4 compressed file (GGUF S24*): already the [out, in] linear */
        *w = raw;
        snprintf(n, sizeof n, "%s%s.bias", prefix, name);
        return xf_weight_get(m->ws, n, 1, raw.rows, 0, b);
    }
    if (raw.fmt != &xf_fmt_f32) return xf_error(XF_ERR_UNSUPPORTED, "tensor \"%s\": format %s where floats were expected", n, raw.fmt->name);
    in = raw.rows, out = raw.cols;
    float *dst = xf_aligned_alloc(in * out * sizeof *dst + 1);
    if (!dst || (st = xf_weight_set_adopt(m->ws, dst))) {
        free(dst);
        return st ? st : xf_error(XF_ERR_NOMEM, "cannot allocate the transposed copy of \"%s\"", n);
    }
    const float *src = raw.data;
    for (size_t i = 0; i < in; i++)
        for (size_t o = 0; o < out; o++) dst[o * in + i] = src[i * out + o];
    *w = f32_view(dst, out, in, raw.name);
    snprintf(n, sizeof n, "%s%s.bias", prefix, name);
    return xf_weight_get(m->ws, n, 1, out, 0, b);
}

static xf_status gpt2_load(xf_model *m) {
    const xf_hf_config *c = &m->cfg;
    xf_plan *P = &m->plan;
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
    const size_t H = c->hidden_size, dh = H / c->num_attention_heads;
    const float eps = (float)c->layer_norm_eps;
    /* Pre-RMSNorm rewrite (src/compress/rmsnorm.c): RMSNorms without bias, a head with a bias */
    const xf_norm_kind nk = c->norm_rms ? XF_NORM_RMS : XF_NORM_LAYER;
    const int nb = !c->norm_rms;
    if (!(P->layers = xf_calloc(c->num_hidden_layers ? c->num_hidden_layers : 1, sizeof *P->layers)))
        return xf_error(XF_ERR_NOMEM, "cannot allocate %zu layers", c->num_hidden_layers);
    P->n_layers = c->num_hidden_layers;
    P->hidden = H;
    const char *pre = xf_weight_set_has(m->ws, "transformer.wte.weight") ? "transformer." : "";
    char n[256];
    xf_status st;
    snprintf(n, sizeof n, "%swte.weight", pre);
    if ((st = xf_weight_get(m->ws, n, 2, XF_ANY, H, &P->tok_emb))) return st;
    snprintf(n, sizeof n, "%swpe.weight", pre);
    if ((st = xf_weight_get(m->ws, n, 2, c->max_position_embeddings, H, &P->pos_emb))) return st;
    snprintf(n, sizeof n, "%sln_f", pre);
    if ((st = xf_model_get_norm(m, n, nk, nb, H, eps, &P->final_norm))) return st;
    const xf_gguf *g = xf_weight_set_gguf(m->ws);
    const xf_gguf_tensor *head = g ? xf_gguf_find_tensor(g, "output.weight") : NULL;
    if (c->tie_word_embeddings) P->lm_head.w = P->tok_emb;
    else if (head && xf_ggml_is_s24(head->type)) { /* a 2:4 head (--sparse-head) stays compressed */
        if ((st = xf_weight_get_stored(m->ws, "lm_head.weight", P->tok_emb.rows, H, &P->lm_head.w))) return st;
    } else if ((st = xf_weight_get(m->ws, "lm_head.weight", 2, P->tok_emb.rows, H, &P->lm_head.w)))
        return st;
    if (!c->tie_word_embeddings && xf_weight_set_has(m->ws, "lm_head.bias") &&
        (st = xf_weight_get(m->ws, "lm_head.bias", 1, P->tok_emb.rows, 0, &P->lm_head.b)))
        return st;
    for (size_t i = 0; i < P->n_layers; i++) {
        xf_layer *L = &P->layers[i];
        xf_attn_plan *a = &L->attn;
        char p[96];
        snprintf(p, sizeof p, "%sh.%zu.", pre, i);
        xf_weight qkv, qkv_b;
        snprintf(n, sizeof n, "%sln_1", p);
        if ((st = xf_model_get_norm(m, n, nk, nb, H, eps, &L->norm_attn))) return st;
        snprintf(n, sizeof n, "%sln_2", p);
        if ((st = xf_model_get_norm(m, n, nk, nb, H, eps, &L->norm_ffn)) ||
            (st = get_conv1d(m, p, "attn.c_attn", H, XF_ANY, &qkv, &qkv_b)) ||
            (st = get_conv1d(m, p, "attn.c_proj", qkv.rows / 3, H, &a->o.w, &a->o.b)) ||
            (st = get_conv1d(m, p, "mlp.c_fc", H, XF_ANY, &L->ffn.up.w, &L->ffn.up.b)) ||
            (st = get_conv1d(m, p, "mlp.c_proj", L->ffn.up.w.rows, H, &L->ffn.down.w, &L->ffn.down.b)))
            return st;
        const size_t qd = qkv.rows / 3;
        if (qkv.rows % 3 || qd % dh)
            return xf_error(XF_ERR_FORMAT, "%s: layer %zu: attn.c_attn has %zu outputs, not 3 x whole heads of %zu",
                            m->path, i, qkv.rows, dh);
        const float *wq = qkv.data, *bq = qkv_b.data;
        if (xf_weight_is_s24(&qkv)) { /* 2:4 compressed: each part's rows of every section */
            if ((st = xf_model_s24_rows(m, &qkv, 0, qd, &a->q.w)) || (st = xf_model_s24_rows(m, &qkv, qd, qd, &a->k.w)) ||
                (st = xf_model_s24_rows(m, &qkv, 2 * qd, qd, &a->v.w)))
                return st;
        } else {
            a->q.w = f32_view(wq, qd, H, qkv.name);
            a->k.w = f32_view(wq + qd * H, qd, H, qkv.name);
            a->v.w = f32_view(wq + 2 * qd * H, qd, H, qkv.name);
        }
        a->q.b = f32_view(bq, 1, qd, qkv_b.name);
        a->k.b = f32_view(bq + qd, 1, qd, qkv_b.name);
        a->v.b = f32_view(bq + 2 * qd, 1, qd, qkv_b.name);
        xf_linear_w *lin[] = {&a->q, &a->k, &a->v, &a->o, &L->ffn.up, &L->ffn.down};
        for (size_t k = 0; k < sizeof lin / sizeof lin[0]; k++)
            if ((st = xf_model_prepare_linear(m, &lin[k]->w))) return st;
        a->kind = XF_ATTN_DENSE;
        a->n_heads = a->n_kv_heads = qd / dh;
        a->head_dim = dh;
        a->causal = 1;
        a->scale = 1.0f / sqrtf((float)dh);
        L->ffn.width = L->ffn.up.w.rows;
        L->ffn.act = act;
    }
    return XF_OK;
}

const xf_arch xf_arch_gpt2 = {"gpt2", gpt2_load};
