/* gguf_model.c — llama.cpp GGUF files as models: path resolution, config from metadata, tensor
 * name mapping and the Q/K row un-permutation. */
#define _POSIX_C_SOURCE 200809L
#include "io/gguf_model.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/file.h"

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

xf_status xf_gguf_model_resolve(const char *path, char **gguf_path) {
    *gguf_path = NULL;
    if (xf_is_file(path)) {
        if (!ends_with(path, ".gguf")) return XF_OK;
        if (!(*gguf_path = xf_strdup(path))) return xf_error(XF_ERR_NOMEM, "out of memory");
        return XF_OK;
    }
    if (!xf_is_dir(path)) return XF_OK;
    char *cfg = xf_path_join(path, "config.json");
    if (!cfg) return xf_error(XF_ERR_NOMEM, "out of memory");
    int has_cfg = xf_is_file(cfg);
    free(cfg);
    if (has_cfg) return XF_OK;
    DIR *d = opendir(path);
    if (!d) return XF_OK; /* the HF loader reports the folder */
    char *found = NULL, *second = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".gguf")) continue;
        char *p = xf_path_join(path, e->d_name);
        if (!p) break;
        if (!xf_is_file(p)) {
            free(p);
            continue;
        }
        if (!found) found = p;
        else {
            if (!second) second = p;
            else free(p);
        }
    }
    closedir(d);
    if (second) {
        xf_status st = xf_error(XF_ERR_INVALID_ARG, "%s holds several .gguf files (%s, %s, ...) and no config.json; "
                                "pass the path of the one to load", path, found, second);
        free(found);
        free(second);
        return st;
    }
    *gguf_path = found;
    return XF_OK;
}

/* ------------------------------------------------------------------ config */

/* An integer key in [lo, hi]; absent: required -> NOT_FOUND, else *out untouched. */
static xf_status get_size(const xf_gguf *g, const char *key, int required, uint64_t lo, uint64_t hi, size_t *out) {
    const char *file = xf_gguf_path(g);
    if (xf_gguf_find(g, key) < 0) {
        if (required) return xf_error(XF_ERR_NOT_FOUND, "%s: required metadata key \"%s\" is missing", file, key);
        return XF_OK;
    }
    uint64_t v;
    xf_status st = xf_gguf_get_uint(g, key, &v);
    if (st) return st;
    if (v < lo || v > hi)
        return xf_error(XF_ERR_RANGE, "%s: metadata key \"%s\" = %llu is out of range [%llu, %llu]", file, key,
                        (unsigned long long)v, (unsigned long long)lo, (unsigned long long)hi);
    *out = (size_t)v;
    return XF_OK;
}

/* A float32 / float64 key in (lo, hi); absent: required -> NOT_FOUND, else *out untouched. */
static xf_status get_real(const xf_gguf *g, const char *key, int required, double lo, double hi, double *out) {
    const char *file = xf_gguf_path(g);
    int64_t i = xf_gguf_find(g, key);
    if (i < 0) {
        if (required) return xf_error(XF_ERR_NOT_FOUND, "%s: required metadata key \"%s\" is missing", file, key);
        return XF_OK;
    }
    double v;
    if (xf_gguf_kv_type(g, (size_t)i) == XF_GGUF_FLOAT64) {
        xf_status st = xf_gguf_get_f64(g, key, &v);
        if (st) return st;
    } else {
        float f;
        xf_status st = xf_gguf_get_f32(g, key, &f);
        if (st) return st;
        v = f;
    }
    if (!(v > lo && v < hi) || !isfinite(v))
        return xf_error(XF_ERR_RANGE, "%s: metadata key \"%s\" = %g is out of range (%g, %g)", file, key, v, lo, hi);
    *out = v;
    return XF_OK;
}

/* Vocabulary size from token_embd.weight, dims [hidden, vocab]. */
static xf_status vocab_of(const xf_gguf *g, xf_hf_config *c) {
    const char *file = xf_gguf_path(g);
    const xf_gguf_tensor *emb = xf_gguf_find_tensor(g, "token_embd.weight");
    if (!emb) return xf_error(XF_ERR_NOT_FOUND, "%s: required tensor \"token_embd.weight\" is missing", file);
    if (emb->n_dims != 2 || emb->dims[0] != c->hidden_size || emb->dims[1] < 1 || emb->dims[1] > (1u << 24))
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"token_embd.weight\" has %u dims [%llu, %llu], expected "
                        "[%zu (embedding_length), vocab <= 16777216]", file, emb->n_dims,
                        (unsigned long long)emb->dims[0], (unsigned long long)emb->dims[1], c->hidden_size);
    c->vocab_size = (size_t)emb->dims[1];
    return XF_OK;
}

/* gpt2 (llama.cpp's GPT2Model): learned positions, LayerNorm with bias, GELU (tanh), fused QKV. */
static xf_status gpt2_config(const xf_gguf *g, xf_hf_config *c) {
    const char *file = xf_gguf_path(g);
    xf_status st;
    strcpy(c->hidden_act, "gelu_new");
    strcpy(c->position_embedding_type, "absolute");
    c->type_vocab_size = 1;
    if ((st = get_size(g, "gpt2.embedding_length", 1, 1, XF_MAX_HIDDEN, &c->hidden_size)) ||
        (st = get_size(g, "gpt2.block_count", 1, 1, XF_MAX_LAYERS, &c->num_hidden_layers)) ||
        (st = get_size(g, "gpt2.feed_forward_length", 1, 1, XF_MAX_FFN, &c->intermediate_size)) ||
        (st = get_size(g, "gpt2.attention.head_count", 1, 1, XF_MAX_HIDDEN, &c->num_attention_heads)) ||
        (st = get_size(g, "gpt2.context_length", 1, 1, XF_MAX_POSITIONS, &c->max_position_embeddings)))
        return st;
    if (c->hidden_size % c->num_attention_heads != 0)
        return xf_error(XF_ERR_RANGE, "%s: metadata key \"gpt2.attention.head_count\" = %zu does not divide "
                        "gpt2.embedding_length = %zu", file, c->num_attention_heads, c->hidden_size);
    c->num_key_value_heads = c->num_attention_heads;
    size_t kv = c->num_attention_heads;
    if ((st = get_size(g, "gpt2.attention.head_count_kv", 0, 1, XF_MAX_HIDDEN, &kv))) return st;
    if (kv != c->num_attention_heads)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"gpt2.attention.head_count_kv\" = %zu differs from "
                        "gpt2.attention.head_count = %zu (gpt2 has no grouped-query attention)", file, kv,
                        c->num_attention_heads);
    c->head_dim = c->hidden_size / c->num_attention_heads;
    if ((st = get_real(g, "gpt2.attention.layer_norm_epsilon", 1, 0.0, 1.0, &c->layer_norm_eps))) return st;
    c->rms_norm_eps = c->layer_norm_eps;
    if ((st = vocab_of(g, c))) return st;
    const xf_gguf_tensor *pos = xf_gguf_find_tensor(g, "position_embd.weight");
    if (pos && pos->n_dims == 2 && pos->dims[1] < c->max_position_embeddings)
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"position_embd.weight\" has %llu positions, fewer than "
                        "gpt2.context_length = %zu", file, (unsigned long long)pos->dims[1], c->max_position_embeddings);
    c->tie_word_embeddings = xf_gguf_find_tensor(g, "output.weight") == NULL;
    c->attention_bias = 1;
    c->mlp_bias = 1;
    return XF_OK;
}

xf_status xf_gguf_model_config(const xf_gguf *g, xf_hf_config *c) {
    const char *file = xf_gguf_path(g);
    memset(c, 0, sizeof *c);
    const char *s;
    size_t len;
    xf_status st;
    if (xf_gguf_find(g, "general.architecture") < 0)
        return xf_error(XF_ERR_NOT_FOUND, "%s: required metadata key \"general.architecture\" is missing", file);
    if ((st = xf_gguf_get_str(g, "general.architecture", &s, &len))) return st;
    if (!((len == 5 && memcmp(s, "llama", 5) == 0) || (len == 5 && memcmp(s, "qwen2", 5) == 0) ||
          (len == 4 && memcmp(s, "gpt2", 4) == 0))) {
        int n = len > 60 ? 60 : (int)len;
        return xf_error(XF_ERR_UNSUPPORTED,
                        "%s: general.architecture \"%.*s\" is not supported for GGUF models (supported: llama, "
                        "qwen2, gpt2)", file, n, s);
    }
    memcpy(c->model_type, s, len);
    c->model_type[len] = '\0';
    const char *arch = c->model_type;
    if (strcmp(arch, "gpt2") == 0) return gpt2_config(g, c);
    strcpy(c->hidden_act, "silu");
    strcpy(c->position_embedding_type, "rope");
    c->type_vocab_size = 1;
    c->rope_theta = 10000.0;

    char k[128];
#define KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, arch), k)
    if ((st = get_size(g, KEY("embedding_length"), 1, 1, XF_MAX_HIDDEN, &c->hidden_size)) ||
        (st = get_size(g, KEY("block_count"), 1, 1, XF_MAX_LAYERS, &c->num_hidden_layers)) ||
        (st = get_size(g, KEY("feed_forward_length"), 1, 1, XF_MAX_FFN, &c->intermediate_size)) ||
        (st = get_size(g, KEY("attention.head_count"), 1, 1, XF_MAX_HIDDEN, &c->num_attention_heads)) ||
        (st = get_size(g, KEY("context_length"), 1, 1, XF_MAX_POSITIONS, &c->max_position_embeddings)))
        return st;
    c->num_key_value_heads = c->num_attention_heads;
    if ((st = get_size(g, KEY("attention.head_count_kv"), 0, 1, XF_MAX_HIDDEN, &c->num_key_value_heads))) return st;
    if (c->num_attention_heads % c->num_key_value_heads != 0)
        return xf_error(XF_ERR_RANGE, "%s: metadata key \"%s\" = %zu does not divide %s.attention.head_count = %zu",
                        file, KEY("attention.head_count_kv"), c->num_key_value_heads, arch, c->num_attention_heads);
    size_t head_dim = 0;
    if ((st = get_size(g, KEY("attention.key_length"), 0, 2, XF_MAX_HIDDEN, &head_dim))) return st;
    if (!head_dim) {
        if (c->hidden_size % c->num_attention_heads != 0)
            return xf_error(XF_ERR_RANGE, "%s: metadata key \"%s\" = %zu does not divide %s.embedding_length = %zu",
                            file, KEY("attention.head_count"), c->num_attention_heads, arch, c->hidden_size);
        head_dim = c->hidden_size / c->num_attention_heads;
    }
    size_t v_len = head_dim;
    if ((st = get_size(g, KEY("attention.value_length"), 0, 1, XF_MAX_HIDDEN, &v_len))) return st;
    if (v_len != head_dim)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"%s\" = %zu differs from the key length %zu", file,
                        KEY("attention.value_length"), v_len, head_dim);
    c->head_dim = head_dim;
    size_t n_rot = head_dim;
    if ((st = get_size(g, KEY("rope.dimension_count"), 0, 1, XF_MAX_HIDDEN, &n_rot))) return st;
    if (n_rot != head_dim)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"%s\" = %zu: partial rotary embeddings are not "
                        "supported (head dim %zu)", file, KEY("rope.dimension_count"), n_rot, head_dim);
    if (head_dim % 2)
        return xf_error(XF_ERR_RANGE, "%s: head dimension %zu (%s) must be even", file, head_dim,
                        KEY("attention.key_length"));
    if ((st = get_real(g, KEY("attention.layer_norm_rms_epsilon"), 1, 0.0, 1.0, &c->rms_norm_eps))) return st;
    c->layer_norm_eps = c->rms_norm_eps;
    if ((st = get_real(g, KEY("rope.freq_base"), 0, 0.0, 1e12, &c->rope_theta))) return st;
    if ((st = get_size(g, KEY("attention.sliding_window"), 0, 0, 1u << 30, &c->sliding_window))) return st;
    if (c->sliding_window && strcmp(arch, "llama") != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"%s\" = %zu: sliding-window attention is only "
                        "supported for llama (Mistral) GGUF files", file, k, c->sliding_window);

    /* Rotary scaling (llama.cpp's keys; its YaRN attention factor is transformers' one times
     * rope.scaling.attn_factor). */
    xf_hf_rope_scaling *rs = &c->rope_scaling;
    if (xf_gguf_find(g, KEY("rope.scaling.type")) >= 0) {
        if ((st = xf_gguf_get_str(g, k, &s, &len))) return st;
        const int yarn = len == 4 && memcmp(s, "yarn", 4) == 0;
        if ((len == 6 && memcmp(s, "linear", 6) == 0) || yarn) {
            rs->type = yarn ? XF_HF_ROPE_YARN : XF_HF_ROPE_LINEAR;
            if ((st = get_real(g, KEY("rope.scaling.factor"), 1, 0.0, 1e6, &rs->factor))) return st;
            if (!(rs->factor > 0.0))
                return xf_error(XF_ERR_RANGE, "%s: metadata key \"%s\" = %g must be > 0", file, k, rs->factor);
            if ((st = get_size(g, KEY("rope.scaling.original_context_length"), 0, 1, 1 << 24,
                               &rs->original_max_position)))
                return st;
        } else if (!(len == 4 && memcmp(s, "none", 4) == 0)) {
            int n = len > 60 ? 60 : (int)len;
            return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"%s\" = \"%.*s\" is not supported (none, linear, "
                            "yarn)", file, KEY("rope.scaling.type"), n, s);
        }
        if (yarn) {
            double log_mul = 0.0, attn = 1.0, ext = 1.0;
            if (!rs->original_max_position) rs->original_max_position = c->max_position_embeddings;
            if ((st = get_real(g, KEY("rope.scaling.yarn_beta_fast"), 0, 1e-6, 1e6, &rs->beta_fast)) ||
                (st = get_real(g, KEY("rope.scaling.yarn_beta_slow"), 0, 1e-6, 1e6, &rs->beta_slow)) ||
                (st = get_real(g, KEY("rope.scaling.yarn_log_multiplier"), 0, 0.0, 1e6, &log_mul)) ||
                (st = get_real(g, KEY("rope.scaling.attn_factor"), 0, 1e-6, 1e6, &attn)) ||
                (st = get_real(g, KEY("rope.scaling.yarn_ext_factor"), 0, -1.0, 1e6, &ext)))
                return st;
            if (ext >= 0.0 && ext != 1.0)
                return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"%s\" = %g: only YaRN's full ramp (1) is "
                                "supported", file, KEY("rope.scaling.yarn_ext_factor"), ext);
            if (log_mul > 0.0) rs->mscale = 1.0, rs->mscale_all_dim = log_mul;
            if (attn != 1.0) { /* the variant's own factor, times attn_factor */
                const double f = rs->factor, m = f <= 1.0 ? 1.0 : 0.1 * log(f) + 1.0;
                const double ma = f <= 1.0 || log_mul <= 0.0 ? 1.0 : 0.1 * log_mul * log(f) + 1.0;
                rs->attention_factor = (log_mul > 0.0 ? m / ma : m) * attn;
            }
        }
    } else if (xf_gguf_find(g, KEY("rope.scale_linear")) >= 0) { /* older llama.cpp spelling */
        double f = 1.0;
        if ((st = get_real(g, k, 1, 0.0, 1e6, &f))) return st;
        if (f != 1.0) {
            rs->type = XF_HF_ROPE_LINEAR;
            rs->factor = f;
        }
    }
    /* rope_freqs.weight (per-frequency divisors, e.g. Llama 3.1) is read with the weights */
#undef KEY

    if ((st = vocab_of(g, c))) return st;
    c->tie_word_embeddings = xf_gguf_find_tensor(g, "output.weight") == NULL;
    c->attention_bias = 0;
    c->mlp_bias = 0;
    if (c->sliding_window) strcpy(c->model_type, "mistral"); /* the same tensors; mistral's loader windows */
    return XF_OK;
}

/* ------------------------------------------------------------------ names */

static const struct {
    const char *hf, *gg;
    xf_gguf_permute perm;
} k_layer_names[] = {
    {"input_layernorm", "attn_norm", XF_GGUF_PERMUTE_NONE},
    {"post_attention_layernorm", "ffn_norm", XF_GGUF_PERMUTE_NONE},
    {"self_attn.q_proj", "attn_q", XF_GGUF_PERMUTE_Q},
    {"self_attn.k_proj", "attn_k", XF_GGUF_PERMUTE_K},
    {"self_attn.v_proj", "attn_v", XF_GGUF_PERMUTE_NONE},
    {"self_attn.o_proj", "attn_output", XF_GGUF_PERMUTE_NONE},
    {"mlp.gate_proj", "ffn_gate", XF_GGUF_PERMUTE_NONE},
    {"mlp.up_proj", "ffn_up", XF_GGUF_PERMUTE_NONE},
    {"mlp.down_proj", "ffn_down", XF_GGUF_PERMUTE_NONE},
};

/* gpt2 (HF GPT2LMHeadModel, optional "transformer." prefix) -> llama.cpp GPT2 names. */
static const struct {
    const char *hf, *gg;
    int transposed;
} k_gpt2_names[] = {
    {"ln_1", "attn_norm", 0},     {"attn.c_attn", "attn_qkv", 1}, {"attn.c_proj", "attn_output", 1},
    {"ln_2", "ffn_norm", 0},      {"mlp.c_fc", "ffn_up", 1},      {"mlp.c_proj", "ffn_down", 1},
};

static int gpt2_name(const char *hf, char *out, size_t cap, xf_gguf_permute *permute) {
    if (strcmp(hf, "lm_head.weight") == 0) return snprintf(out, cap, "output.weight") < (int)cap;
    if (strncmp(hf, "transformer.", 12) == 0) hf += 12;
    if (strcmp(hf, "wte.weight") == 0) return snprintf(out, cap, "token_embd.weight") < (int)cap;
    if (strcmp(hf, "wpe.weight") == 0) return snprintf(out, cap, "position_embd.weight") < (int)cap;
    if (strcmp(hf, "ln_f.weight") == 0) return snprintf(out, cap, "output_norm.weight") < (int)cap;
    if (strcmp(hf, "ln_f.bias") == 0) return snprintf(out, cap, "output_norm.bias") < (int)cap;
    if (strncmp(hf, "h.", 2) != 0) return 0;
    const char *p = hf + 2;
    char *end;
    unsigned long layer = strtoul(p, &end, 10);
    if (end == p || *end != '.' || (p[0] == '0' && end - p > 1)) return 0;
    const char *rest = end + 1, *suffix = strrchr(rest, '.');
    if (!suffix || (strcmp(suffix, ".weight") != 0 && strcmp(suffix, ".bias") != 0)) return 0;
    size_t mid = (size_t)(suffix - rest);
    for (size_t i = 0; i < sizeof k_gpt2_names / sizeof k_gpt2_names[0]; i++) {
        if (strlen(k_gpt2_names[i].hf) != mid || strncmp(rest, k_gpt2_names[i].hf, mid) != 0) continue;
        if (permute && k_gpt2_names[i].transposed && strcmp(suffix, ".weight") == 0) *permute = XF_GGUF_TRANSPOSE;
        return snprintf(out, cap, "blk.%lu.%s%s", layer, k_gpt2_names[i].gg, suffix) < (int)cap;
    }
    return 0;
}

int xf_gguf_tensor_name(const char *arch, const char *hf, char *out, size_t cap, xf_gguf_permute *permute) {
    if (permute) *permute = XF_GGUF_PERMUTE_NONE;
    if (strcmp(arch, "gpt2") == 0) return gpt2_name(hf, out, cap, permute);
    const char *direct = NULL;
    if (strcmp(hf, "model.embed_tokens.weight") == 0) direct = "token_embd.weight";
    else if (strcmp(hf, "rope_freqs.weight") == 0) direct = "rope_freqs.weight";
    else if (strcmp(hf, "model.norm.weight") == 0) direct = "output_norm.weight";
    else if (strcmp(hf, "lm_head.weight") == 0) direct = "output.weight";
    if (direct) return snprintf(out, cap, "%s", direct) < (int)cap;
    const char *pre = "model.layers.";
    if (strncmp(hf, pre, strlen(pre)) != 0) return 0;
    const char *p = hf + strlen(pre);
    char *end;
    unsigned long layer = strtoul(p, &end, 10);
    if (end == p || *end != '.' || (p[0] == '0' && end - p > 1)) return 0;
    const char *rest = end + 1, *suffix = strrchr(rest, '.');
    if (!suffix || (strcmp(suffix, ".weight") != 0 && strcmp(suffix, ".bias") != 0)) return 0;
    size_t mid = (size_t)(suffix - rest);
    for (size_t i = 0; i < sizeof k_layer_names / sizeof k_layer_names[0]; i++) {
        if (strlen(k_layer_names[i].hf) != mid || strncmp(rest, k_layer_names[i].hf, mid) != 0) continue;
        if (permute && (strcmp(arch, "llama") == 0 || strcmp(arch, "mistral") == 0)) *permute = k_layer_names[i].perm;
        return snprintf(out, cap, "blk.%lu.%s%s", layer, k_layer_names[i].gg, suffix) < (int)cap;
    }
    return 0;
}

void xf_gguf_unpermute_rows(void *W, size_t n_head, size_t dh, size_t row_bytes, void *tmp) {
    const size_t half = dh / 2;
    unsigned char *t = tmp;
    for (size_t h = 0; h < n_head; h++) {
        unsigned char *blk = (unsigned char *)W + h * dh * row_bytes;
        memcpy(t, blk, dh * row_bytes);
        for (size_t i = 0; i < half; i++)
            for (size_t j = 0; j < 2; j++) memcpy(blk + (j * half + i) * row_bytes, t + (2 * i + j) * row_bytes, row_bytes);
    }
}
