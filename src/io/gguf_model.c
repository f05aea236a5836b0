/* gguf_model.c — llama.cpp GGUF files as models: path resolution, and the config (and the
 * sentence-transformers layout) from metadata: llama.cpp's keys for bert, llama, qwen2, gpt2 and
 * deci (LLaMA with per-layer head counts and FFN widths, given as arrays), and the "xfmr." keys
 * xf_model_save writes for what llama.cpp has no key for. Tensor names: gguf_names.c. */
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

/* A per-layer size: a scalar (the same for every layer) or an array of n integers. *max gets the
 * largest; *per (may be NULL) a heap array of the n values. Absent: required -> NOT_FOUND, else
 * *max untouched and *per NULL. */
static xf_status get_layers(const xf_gguf *g, const char *key, int required, size_t n, uint64_t lo, uint64_t hi,
                            size_t *max, uint32_t **per) {
    const char *file = xf_gguf_path(g);
    if (per) *per = NULL;
    int64_t i = xf_gguf_find(g, key);
    if (i < 0 || xf_gguf_kv_type(g, (size_t)i) != XF_GGUF_ARRAY) {
        size_t v = 0;
        xf_status st = get_size(g, key, required, lo, hi, &v);
        if (st || i < 0) return st;
        *max = v;
        if (per) {
            if (!(*per = xf_malloc((n ? n : 1) * sizeof **per))) return xf_error(XF_ERR_NOMEM, "out of memory");
            for (size_t l = 0; l < n; l++) (*per)[l] = (uint32_t)v;
        }
        return XF_OK;
    }
    const xf_gguf_arr *a;
    xf_status st = xf_gguf_get_arr(g, key, &a);
    if (st) return st;
    const xf_gguf_type t = xf_gguf_arr_type(a);
    const size_t esz = t == XF_GGUF_INT32 || t == XF_GGUF_UINT32 ? 4 : t == XF_GGUF_INT64 || t == XF_GGUF_UINT64 ? 8 : 0;
    if (!esz || xf_gguf_arr_count(a) != n)
        return xf_error(XF_ERR_FORMAT, "%s: metadata key \"%s\" must be an integer or an array of %zu (one per layer) "
                        "int32 / uint32 / int64 / uint64, not an array of %llu %s", file, key, n,
                        (unsigned long long)xf_gguf_arr_count(a), xf_gguf_type_name(t));
    uint32_t *v = xf_malloc((n ? n : 1) * sizeof *v);
    if (!v) return xf_error(XF_ERR_NOMEM, "out of memory");
    const unsigned char *d = xf_gguf_arr_data(a);
    size_t m = 0;
    for (size_t l = 0; l < n; l++) {
        uint64_t x = 0;
        for (size_t b = esz; b-- > 0;) x = x << 8 | d[l * esz + b];
        const int negative = (t == XF_GGUF_INT32 && (x >> 31)) || (t == XF_GGUF_INT64 && (x >> 63));
        if (negative || x < lo || x > hi) {
            free(v);
            return xf_error(XF_ERR_RANGE, "%s: metadata key \"%s\"[%zu] is out of range [%llu, %llu]", file, key, l,
                            (unsigned long long)lo, (unsigned long long)hi);
        }
        v[l] = (uint32_t)x;
        m = x > m ? (size_t)x : m;
    }
    *max = m;
    if (per) *per = v;
    else free(v);
    return XF_OK;
}

/* An f64 "xfmr." key overriding a value llama.cpp's key holds as float32 (absent: unchanged). */
static xf_status exact_real(const xf_gguf *g, const char *key, double lo, double hi, double *v) {
    return xf_gguf_find(g, key) >= 0 ? get_real(g, key, 1, lo, hi, v) : XF_OK;
}

/* "<arch>.attention.head_count" (scalar or per layer) and key_length: head_dim, and
 * num_attention_heads = the heads a layer of that head size would have unpruned (hidden /
 * head_dim for bert and gpt2, whose head size is hidden / heads), the largest count for llama.
 * Per-layer counts in *heads (heap). */
static xf_status heads_of_impl(const xf_gguf *g, const char *arch, int unpruned, xf_hf_config *c, uint32_t **heads) {
    const char *file = xf_gguf_path(g);
    char k[128], kl[128];
    snprintf(k, sizeof k, "%s.attention.head_count", arch);
    snprintf(kl, sizeof kl, "%s.attention.key_length", arch);
    xf_status st = get_layers(g, k, 1, c->num_hidden_layers, 1, XF_MAX_HIDDEN, &c->num_attention_heads, heads);
    if (st) return st;
    const int per_layer = xf_gguf_kv_type(g, (size_t)xf_gguf_find(g, k)) == XF_GGUF_ARRAY;
    size_t dh = 0;
    if ((st = get_size(g, kl, 0, 1, XF_MAX_HIDDEN, &dh))) return st;
    if (!dh) {
        if (per_layer && unpruned)
            return xf_error(XF_ERR_NOT_FOUND, "%s: metadata key \"%s\" is required when %s is a per-layer array", file, kl, k);
        if (c->hidden_size % c->num_attention_heads != 0)
            return xf_error(XF_ERR_RANGE, "%s: metadata key \"%s\" = %zu does not divide %s.embedding_length = %zu", file,
                            k, c->num_attention_heads, arch, c->hidden_size);
        dh = c->hidden_size / c->num_attention_heads;
    }
    c->head_dim = dh;
    if (unpruned) {
        if (c->hidden_size % dh != 0 || c->num_attention_heads > c->hidden_size / dh)
            return xf_error(XF_ERR_RANGE, "%s: %s = %zu heads of %zu do not fit %s.embedding_length = %zu", file, k,
                            c->num_attention_heads, dh, arch, c->hidden_size);
        c->num_attention_heads = c->hidden_size / dh;
    }
    return XF_OK;
}

/* heads_of_impl, with *heads freed (and NULL) when it fails. */
static xf_status heads_of(const xf_gguf *g, const char *arch, int unpruned, xf_hf_config *c, uint32_t **heads) {
    xf_status st = heads_of_impl(g, arch, unpruned, c, heads);
    if (st) {
        free(*heads);
        *heads = NULL;
    }
    return st;
}

/* bert and gpt2 (learned positions, no grouped-query attention): heads removed per layer as
 * config.json's "pruned_heads" counts. */
static xf_status pruned_from_heads(const xf_hf_config *c, const uint32_t *heads, xf_hf_config *out) {
    int any = 0;
    for (size_t l = 0; l < c->num_hidden_layers; l++) any |= heads[l] != c->num_attention_heads;
    if (!any) return XF_OK;
    if (!(out->pruned_heads = xf_calloc(c->num_hidden_layers, sizeof *out->pruned_heads)))
        return xf_error(XF_ERR_NOMEM, "out of memory");
    for (size_t l = 0; l < c->num_hidden_layers; l++) out->pruned_heads[l] = (uint32_t)(c->num_attention_heads - heads[l]);
    return XF_OK;
}

/* A learned position table of at least context_length rows. */
static xf_status check_positions(const xf_gguf *g, const char *arch, const xf_hf_config *c) {
    const xf_gguf_tensor *pos = xf_gguf_find_tensor(g, "position_embd.weight");
    if (pos && pos->n_dims == 2 && pos->dims[1] < c->max_position_embeddings)
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"position_embd.weight\" has %llu positions, fewer than "
                        "%s.context_length = %zu", xf_gguf_path(g), (unsigned long long)pos->dims[1], arch,
                        c->max_position_embeddings);
    return XF_OK;
}

/* gpt2 (llama.cpp's GPT2Model): learned positions, LayerNorm with bias, GELU (tanh; "gelu" when
 * xfmr.ffn.activation says so, in files named xfmr-gpt2), fused QKV. */
static xf_status gpt2_config(const xf_gguf *g, const char *arch, xf_hf_config *c) {
    const char *file = xf_gguf_path(g);
    xf_status st;
    strcpy(c->hidden_act, "gelu_new");
    strcpy(c->position_embedding_type, "absolute");
    c->type_vocab_size = 1;
    char k[128];
#define KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, arch), k)
    if ((st = get_size(g, KEY("embedding_length"), 1, 1, XF_MAX_HIDDEN, &c->hidden_size)) ||
        (st = get_size(g, KEY("block_count"), 1, 1, XF_MAX_LAYERS, &c->num_hidden_layers)) ||
        (st = get_layers(g, KEY("feed_forward_length"), 1, c->num_hidden_layers, 1, XF_MAX_FFN, &c->intermediate_size, NULL)) ||
        (st = get_size(g, KEY("context_length"), 1, 1, XF_MAX_POSITIONS, &c->max_position_embeddings)))
        return st;
    uint32_t *heads = NULL;
    if ((st = heads_of(g, arch, 1, c, &heads)) || (st = pruned_from_heads(c, heads, c))) {
        free(heads);
        return st;
    }
    size_t kv = 0;
    uint32_t *kvs = NULL;
    st = get_layers(g, KEY("attention.head_count_kv"), 0, c->num_hidden_layers, 1, XF_MAX_HIDDEN, &kv, &kvs);
    for (size_t l = 0; !st && kvs && l < c->num_hidden_layers; l++)
        if (kvs[l] != heads[l])
            st = xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"%s\" differs from %s.attention.head_count in layer %zu "
                          "(gpt2 has no grouped-query attention)", file, k, arch, l);
    free(heads);
    free(kvs);
    if (st) return st;
    c->num_key_value_heads = c->num_attention_heads;
    if ((st = get_real(g, KEY("attention.layer_norm_epsilon"), 1, 0.0, 1.0, &c->layer_norm_eps))) return st;
#undef KEY
    c->rms_norm_eps = c->layer_norm_eps;
    if (xf_gguf_find(g, "xfmr.ffn.activation") >= 0) {
        const char *s;
        size_t len;
        if ((st = xf_gguf_get_str(g, "xfmr.ffn.activation", &s, &len))) return st;
        if (!(len == 4 && !memcmp(s, "gelu", 4)) && !(len == 8 && !memcmp(s, "gelu_new", 8)))
            return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"xfmr.ffn.activation\" = \"%.*s\" is not gelu or gelu_new",
                            file, (int)(len > 40 ? 40 : len), s);
        memcpy(c->hidden_act, s, len);
        c->hidden_act[len] = '\0';
    }
    if (xf_gguf_find(g, "xfmr.norm") >= 0) {
        const char *s;
        size_t len;
        if ((st = xf_gguf_get_str(g, "xfmr.norm", &s, &len))) return st;
        if (!(len == 3 && !memcmp(s, "rms", 3)))
            return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"xfmr.norm\" = \"%.*s\" is not rms", file,
                            (int)(len > 40 ? 40 : len), s);
        c->norm_rms = 1;
    }
    if ((st = vocab_of(g, c)) || (st = check_positions(g, arch, c))) return st;
    c->tie_word_embeddings = xf_gguf_find_tensor(g, "output.weight") == NULL;
    c->attention_bias = 1;
    c->mlp_bias = 1;
    return XF_OK;
}

/* bert (llama.cpp's BertModel): learned positions and token types, post-LN, exact GELU. */
static xf_status bert_config(const xf_gguf *g, const char *arch, xf_hf_config *c) {
    const char *file = xf_gguf_path(g);
    xf_status st;
    strcpy(c->hidden_act, "gelu");
    strcpy(c->position_embedding_type, "absolute");
    char k[128];
#define KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, arch), k)
    if ((st = get_size(g, KEY("embedding_length"), 1, 1, XF_MAX_HIDDEN, &c->hidden_size)) ||
        (st = get_size(g, KEY("block_count"), 1, 1, XF_MAX_LAYERS, &c->num_hidden_layers)) ||
        (st = get_layers(g, KEY("feed_forward_length"), 1, c->num_hidden_layers, 1, XF_MAX_FFN, &c->intermediate_size, NULL)) ||
        (st = get_size(g, KEY("context_length"), 1, 1, XF_MAX_POSITIONS, &c->max_position_embeddings)) ||
        (st = get_real(g, KEY("attention.layer_norm_epsilon"), 1, 0.0, 1.0, &c->layer_norm_eps)))
        return st;
    /* ModernBertForSequenceClassification's classifier_pooling (gguf PoolingType: 1 mean, 2 cls) */
    size_t cp = 2;
    if ((st = get_size(g, KEY("classifier.pooling_type"), 0, 1, 2, &cp))) return st;
    if (cp == 1) strcpy(c->classifier_pooling, "mean");
    int causal = 0;
    if (xf_gguf_find(g, KEY("attention.causal")) >= 0 && (st = xf_gguf_get_bool(g, k, &causal))) return st;
    if (causal) return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"%s\" is true: causal BERT is not supported", file, k);
#undef KEY
    uint32_t *heads = NULL;
    if (!(st = heads_of(g, arch, 1, c, &heads))) st = pruned_from_heads(c, heads, c);
    free(heads);
    if (st) return st;
    c->num_key_value_heads = c->num_attention_heads;
    c->rms_norm_eps = c->layer_norm_eps;
    if ((st = vocab_of(g, c)) || (st = check_positions(g, arch, c))) return st;
    const xf_gguf_tensor *types = xf_gguf_find_tensor(g, "token_types.weight");
    c->type_vocab_size = types && types->n_dims == 2 ? (size_t)types->dims[1] : 0;
    if (!types) return xf_error(XF_ERR_NOT_FOUND, "%s: required tensor \"token_types.weight\" is missing", file);
    if (c->type_vocab_size > XF_MAX_HIDDEN)
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"token_types.weight\" has %zu rows", file, c->type_vocab_size);
    c->attention_bias = c->mlp_bias = 1;
    return XF_OK;
}

/* modern-bert (llama.cpp's ModernBertModel, also Ettin encoders): read as llama.cpp reads it.
 * attention.sliding_window = local_attention (a local query sees keys within half of it; 0 or
 * absent: every layer global), attention.sliding_window_pattern = global_attn_every_n_layers
 * (default 3: layer l global when l % n == 0; or a per-layer array of booleans, true = local),
 * rope.freq_base (default 10000) for global layers, rope.freq_base_swa (default rope.freq_base)
 * for local ones. LayerNorm biases, Wqkv / Wo and Wi / Wo biases are used when the file has them. */
static xf_status modernbert_config(const xf_gguf *g, const char *arch, xf_hf_config *c) {
    const char *file = xf_gguf_path(g);
    xf_status st;
    strcpy(c->hidden_act, "gelu");
    strcpy(c->position_embedding_type, "rope");
    strcpy(c->classifier_pooling, "cls");
    char k[128];
#define KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, arch), k)
    if ((st = get_size(g, KEY("embedding_length"), 1, 1, XF_MAX_HIDDEN, &c->hidden_size)) ||
        (st = get_size(g, KEY("block_count"), 1, 1, XF_MAX_LAYERS, &c->num_hidden_layers)) ||
        (st = get_size(g, KEY("feed_forward_length"), 1, 1, XF_MAX_FFN, &c->intermediate_size)) ||
        (st = get_size(g, KEY("context_length"), 1, 1, XF_MAX_POSITIONS, &c->max_position_embeddings)) ||
        (st = get_size(g, KEY("attention.sliding_window"), 0, 0, XF_MAX_POSITIONS, &c->local_attention)))
        return st;
    /* the converter writes the LayerNorm epsilon under the RMS name */
    const int rms = xf_gguf_find(g, KEY("attention.layer_norm_epsilon")) < 0;
    if ((st = get_real(g, rms ? KEY("attention.layer_norm_rms_epsilon") : k, 1, 0.0, 1.0, &c->layer_norm_eps))) return st;
    if (xf_gguf_find(g, KEY("hidden_activation")) >= 0 || xf_gguf_find(g, KEY("hidden_act")) >= 0) {
        const char *s;
        size_t len;
        if ((st = xf_gguf_get_str(g, k, &s, &len))) return st;
        if (len >= sizeof c->hidden_act)
            return xf_error(XF_ERR_RANGE, "%s: metadata key \"%s\" is %zu characters", file, k, len);
        memcpy(c->hidden_act, s, len);
        c->hidden_act[len] = '\0';
    }
    c->rope_theta = 10000.0;
    if ((st = get_real(g, KEY("rope.freq_base"), 0, 0.0, 1e12, &c->rope_theta))) return st;
    c->local_rope_theta = c->rope_theta;
    if ((st = get_real(g, KEY("rope.freq_base_swa"), 0, 0.0, 1e12, &c->local_rope_theta))) return st;
    if (!(c->sliding_layers = xf_calloc(c->num_hidden_layers, 1))) return xf_error(XF_ERR_NOMEM, "out of memory");
    KEY("attention.sliding_window_pattern");
    if (c->local_attention && xf_gguf_find(g, k) >= 0 && xf_gguf_kv_type(g, (size_t)xf_gguf_find(g, k)) == XF_GGUF_ARRAY) {
        const xf_gguf_arr *a;
        if ((st = xf_gguf_get_arr(g, k, &a))) return st;
        if (xf_gguf_arr_type(a) != XF_GGUF_BOOL || xf_gguf_arr_count(a) != c->num_hidden_layers)
            return xf_error(XF_ERR_FORMAT, "%s: metadata key \"%s\" must be a number or %zu booleans (one per layer)", file,
                            k, c->num_hidden_layers);
        const unsigned char *d = xf_gguf_arr_data(a);
        for (size_t l = 0; l < c->num_hidden_layers; l++) c->sliding_layers[l] = d[l] != 0;
    } else if (c->local_attention) {
        size_t every = 3;
        if ((st = get_size(g, k, 0, 1, XF_MAX_LAYERS, &every))) return st;
        for (size_t l = 0; l < c->num_hidden_layers; l++) c->sliding_layers[l] = l % every != 0;
    }
    /* ModernBertForSequenceClassification's classifier_pooling (gguf PoolingType: 1 mean, 2 cls) */
    size_t cp = 2;
    if ((st = get_size(g, KEY("classifier.pooling_type"), 0, 1, 2, &cp))) return st;
    if (cp == 1) strcpy(c->classifier_pooling, "mean");
    int causal = 0;
    if (xf_gguf_find(g, KEY("attention.causal")) >= 0 && (st = xf_gguf_get_bool(g, k, &causal))) return st;
    if (causal) return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"%s\" is true: a causal ModernBERT is not supported", file, k);
#undef KEY
    uint32_t *heads = NULL;
    st = heads_of(g, arch, 0, c, &heads);
    for (size_t l = 0; !st && l < c->num_hidden_layers; l++)
        if (heads[l] != c->num_attention_heads)
            st = xf_error(XF_ERR_UNSUPPORTED, "%s: %s.attention.head_count differs between layers", file, arch);
    free(heads);
    if (st) return st;
    c->num_key_value_heads = c->num_attention_heads;
    c->rms_norm_eps = c->layer_norm_eps;
    c->type_vocab_size = 0;
    if ((st = vocab_of(g, c))) return st;
    c->norm_bias = xf_gguf_find_tensor(g, "token_embd_norm.bias") != NULL;
    c->attention_bias = xf_gguf_find_tensor(g, "blk.0.attn_qkv.bias") != NULL;
    c->mlp_bias = xf_gguf_find_tensor(g, "blk.0.ffn_up.bias") != NULL;
    return XF_OK;
}

/* xfmr.attention.q_groups: each layer's query heads per key/value head, layer after layer (layer
 * l has head_count_kv[l] of them) -> cfg.q_groups, rows of equal groups left empty (0). */
static xf_status q_groups(const xf_gguf *g, const uint32_t *heads, const uint32_t *kvs, xf_hf_config *c) {
    const char *file = xf_gguf_path(g), *key = "xfmr.attention.q_groups";
    if (xf_gguf_find(g, key) < 0) return XF_OK;
    const xf_gguf_arr *a;
    xf_status st = xf_gguf_get_arr(g, key, &a);
    if (st) return st;
    const size_t L = c->num_hidden_layers;
    size_t total = 0, stride = 0;
    for (size_t l = 0; l < L; l++) total += kvs[l], stride = kvs[l] > stride ? kvs[l] : stride;
    if (xf_gguf_arr_type(a) != XF_GGUF_UINT32 || xf_gguf_arr_count(a) != total)
        return xf_error(XF_ERR_FORMAT, "%s: metadata key \"%s\" must be an array of %zu uint32 (the key/value heads of "
                        "every layer), not of %llu %s", file, key, total, (unsigned long long)xf_gguf_arr_count(a),
                        xf_gguf_type_name(xf_gguf_arr_type(a)));
    if (!(c->q_groups = xf_calloc(L * stride, sizeof *c->q_groups))) return xf_error(XF_ERR_NOMEM, "out of memory");
    c->q_groups_layers = L, c->q_groups_stride = stride;
    const unsigned char *d = xf_gguf_arr_data(a);
    size_t at = 0;
    for (size_t l = 0; l < L; l++) {
        uint32_t sum = 0, *row = c->q_groups + l * stride;
        int equal = heads[l] % kvs[l] == 0;
        for (size_t gi = 0; gi < kvs[l]; gi++, at++) {
            const uint32_t v = (uint32_t)d[4 * at] | (uint32_t)d[4 * at + 1] << 8 | (uint32_t)d[4 * at + 2] << 16 |
                               (uint32_t)d[4 * at + 3] << 24;
            if (v < 1 || v > XF_MAX_HIDDEN)
                return xf_error(XF_ERR_RANGE, "%s: metadata key \"%s\": layer %zu group %zu has %u query heads", file, key, l, gi, v);
            row[gi] = v;
            sum += v;
            equal &= v == heads[l] / kvs[l];
        }
        if (sum != heads[l])
            return xf_error(XF_ERR_FORMAT, "%s: metadata key \"%s\": layer %zu's groups hold %u query heads, the layer has %u",
                            file, key, l, sum, heads[l]);
        if (equal) memset(row, 0, stride * sizeof *row);
    }
    return XF_OK;
}

/* Rotary positions: the base, llama.cpp's scaling keys (linear; YaRN, whose attention factor in
 * llama.cpp is transformers' one times rope.scaling.attn_factor), the exact values under xfmr.
 * keys when float32 rounds them, and Llama 3.1's parameters (xfmr.rope.scaling.*, written with
 * rope_freqs.weight by xf_model_save). Without those, rope_freqs.weight is read with the weights
 * as per-frequency divisors (model/load.c). */
static xf_status rope_config(const xf_gguf *g, const char *arch, xf_hf_config *c) {
    const char *file = xf_gguf_path(g), *s;
    size_t len;
    char k[128];
    xf_status st;
#define KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, arch), k)
    c->rope_theta = 10000.0;
    if ((st = get_real(g, KEY("rope.freq_base"), 0, 0.0, 1e12, &c->rope_theta)) ||
        (st = exact_real(g, "xfmr.rope.freq_base", 0.0, 1e12, &c->rope_theta)))
        return st;
    xf_hf_rope_scaling *rs = &c->rope_scaling;
    if (xf_gguf_find(g, KEY("rope.scaling.type")) >= 0) {
        if ((st = xf_gguf_get_str(g, k, &s, &len))) return st;
        const int yarn = len == 4 && memcmp(s, "yarn", 4) == 0;
        if ((len == 6 && memcmp(s, "linear", 6) == 0) || yarn) {
            rs->type = yarn ? XF_HF_ROPE_YARN : XF_HF_ROPE_LINEAR;
            if ((st = get_real(g, KEY("rope.scaling.factor"), 1, 0.0, 1e6, &rs->factor)) ||
                (st = exact_real(g, "xfmr.rope.scaling.factor", 0.0, 1e6, &rs->factor)))
                return st;
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
#undef KEY
    const char *tk = "xfmr.rope.scaling.type";
    if (xf_gguf_find(g, tk) < 0) return XF_OK; /* rope_freqs.weight, if any: divisors read with the weights */
    if ((st = xf_gguf_get_str(g, tk, &s, &len))) return st;
    if (!(len == 6 && !memcmp(s, "llama3", 6)))
        return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"%s\" = \"%.*s\" is not supported (llama3)", file, tk,
                        (int)(len > 40 ? 40 : len), s);
    if (rs->type != XF_HF_ROPE_DEFAULT)
        return xf_error(XF_ERR_FORMAT, "%s: metadata key \"%s\" and %s.rope.scaling.type both given", file, tk, arch);
    xf_hf_rope_scaling *r = rs;
    r->type = XF_HF_ROPE_LLAMA3;
    if ((st = get_real(g, "xfmr.rope.scaling.factor", 1, 0.0, 1e6, &r->factor)) ||
        (st = get_real(g, "xfmr.rope.scaling.low_freq_factor", 1, 0.0, 1e6, &r->low_freq_factor)) ||
        (st = get_real(g, "xfmr.rope.scaling.high_freq_factor", 1, 0.0, 1e6, &r->high_freq_factor)) ||
        (st = get_size(g, "xfmr.rope.scaling.original_context_length", 1, 1, 1 << 24, &r->original_max_position)))
        return st;
    if (!(r->high_freq_factor > r->low_freq_factor))
        return xf_error(XF_ERR_RANGE, "%s: xfmr.rope.scaling.high_freq_factor must exceed low_freq_factor", file);
    return XF_OK;
}

/* llama, qwen2, deci and the xfmr- names of llama / qwen2: RMSNorm, rotary positions, SiLU-gated
 * FFN; head counts and FFN widths per layer where the keys are arrays. */
static xf_status llama_config(const xf_gguf *g, const char *arch, xf_hf_config *c) {
    const char *file = xf_gguf_path(g);
    strcpy(c->hidden_act, "silu");
    strcpy(c->position_embedding_type, "rope");
    c->type_vocab_size = 1;
    char k[128];
    xf_status st;
#define KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, arch), k)
    if ((st = get_size(g, KEY("embedding_length"), 1, 1, XF_MAX_HIDDEN, &c->hidden_size)) ||
        (st = get_size(g, KEY("block_count"), 1, 1, XF_MAX_LAYERS, &c->num_hidden_layers)) ||
        (st = get_layers(g, KEY("feed_forward_length"), 1, c->num_hidden_layers, 1, XF_MAX_FFN, &c->intermediate_size, NULL)) ||
        (st = get_size(g, KEY("context_length"), 1, 1, XF_MAX_POSITIONS, &c->max_position_embeddings)))
        return st;
    uint32_t *heads = NULL, *kvs = NULL;
    if ((st = heads_of(g, arch, 0, c, &heads))) return st;
    c->num_key_value_heads = c->num_attention_heads;
    st = get_layers(g, KEY("attention.head_count_kv"), 0, c->num_hidden_layers, 1, XF_MAX_HIDDEN, &c->num_key_value_heads, &kvs);
    for (size_t l = 0; !st && l < c->num_hidden_layers; l++) {
        const uint32_t kv = kvs ? kvs[l] : heads[l];
        if (kv > heads[l])
            st = xf_error(XF_ERR_RANGE, "%s: metadata key \"%s\" = %u is more than %s.attention.head_count = %u (layer %zu)",
                          file, KEY("attention.head_count_kv"), kv, arch, heads[l], l);
        else if (heads[l] % kv && xf_gguf_find(g, "xfmr.attention.q_groups") < 0)
            st = xf_error(XF_ERR_RANGE, "%s: metadata key \"%s\" = %u does not divide %s.attention.head_count = %u (layer %zu)",
                          file, KEY("attention.head_count_kv"), kv, arch, heads[l], l);
    }
    if (!st && !kvs && !(kvs = xf_malloc(c->num_hidden_layers * sizeof *kvs))) st = xf_error(XF_ERR_NOMEM, "out of memory");
    if (!st && xf_gguf_find(g, KEY("attention.head_count_kv")) < 0)
        for (size_t l = 0; l < c->num_hidden_layers; l++) kvs[l] = heads[l];
    if (!st) st = q_groups(g, heads, kvs, c);
    free(heads);
    free(kvs);
    if (st) return st;
    const size_t head_dim = c->head_dim;
    size_t v_len = head_dim;
    if ((st = get_size(g, KEY("attention.value_length"), 0, 1, XF_MAX_HIDDEN, &v_len))) return st;
    if (v_len != head_dim)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"%s\" = %zu differs from the key length %zu", file,
                        KEY("attention.value_length"), v_len, head_dim);
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
    if ((st = get_size(g, KEY("attention.sliding_window"), 0, 0, 1u << 30, &c->sliding_window))) return st;
    if (c->sliding_window && strcmp(c->model_type, "llama") != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"%s\" = %zu: sliding-window attention is only "
                        "supported for llama (Mistral) GGUF files", file, k, c->sliding_window);
#undef KEY
    if ((st = rope_config(g, arch, c)) || (st = vocab_of(g, c))) return st;
    c->tie_word_embeddings = xf_gguf_find_tensor(g, "output.weight") == NULL;
    c->attention_bias = 0;
    c->mlp_bias = 0;
    if (c->sliding_window) strcpy(c->model_type, "mistral"); /* the same tensors; mistral's loader windows */
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
    /* the keys' prefix is the file's name; "xfmr-X" files (xf_model_save's models other readers
     * would misread) are X; deci is llama with per-layer shapes */
    static const char *const known[] = {"llama",      "qwen2",      "gpt2",      "bert",     "deci",
                                        "modern-bert", "xfmr-llama", "xfmr-qwen2", "xfmr-gpt2", "xfmr-bert"};
    char arch[32] = "";
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i]) == len && memcmp(s, known[i], len) == 0) snprintf(arch, sizeof arch, "%s", known[i]);
    if (!*arch) {
        int n = len > 60 ? 60 : (int)len;
        return xf_error(XF_ERR_UNSUPPORTED,
                        "%s: general.architecture \"%.*s\" is not supported for GGUF models (supported: llama, "
                        "qwen2, gpt2, bert, modern-bert, deci, and xfmr-llama / -qwen2 / -gpt2 / -bert written by xfmr)",
                        file, n, s);
    }
    const char *base = strncmp(arch, "xfmr-", 5) == 0 ? arch + 5 : arch;
    snprintf(c->model_type, sizeof c->model_type, "%s", strcmp(base, "deci") == 0 ? "llama" : base);
    if (strcmp(base, "gpt2") == 0) return gpt2_config(g, arch, c);
    if (strcmp(base, "bert") == 0) return bert_config(g, arch, c);
    if (strcmp(base, "modern-bert") == 0) {
        strcpy(c->model_type, "modernbert");
        return modernbert_config(g, arch, c);
    }
    return llama_config(g, arch, c);
}

xf_status xf_gguf_model_layout(const xf_gguf *g, const xf_hf_config *c, xf_st_layout *out) {
    const char *file = xf_gguf_path(g);
    memset(out, 0, sizeof *out);
    if (strcmp(c->model_type, "bert") != 0 && strcmp(c->model_type, "modernbert") != 0) return XF_OK;
    xf_status st;
    char k[128];
    const char *s;
    size_t len, pt = 1;
    int64_t arch_i = xf_gguf_find(g, "general.architecture");
    if (arch_i < 0 || (st = xf_gguf_get_str(g, "general.architecture", &s, &len))) return XF_OK;
    snprintf(k, sizeof k, "%.*s.pooling_type", (int)(len > 60 ? 60 : len), s);
    if ((st = get_size(g, k, 0, 0, 4, &pt))) return st;
    if (pt == 2 || pt == 4) out->pooling = XF_POOL_CLS; /* 4: rank, a classification head on [CLS] */
    else if (pt == 3) out->pooling = XF_POOL_LAST;
    else if (pt != 1 && pt != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"%s\" = %zu is not a pooling type xfmr knows (0-4)", file, k, pt);
    if (xf_gguf_find(g, "xfmr.pooling") >= 0) {
        if ((st = xf_gguf_get_str(g, "xfmr.pooling", &s, &len))) return st;
        static const xf_pooling modes[] = {XF_POOL_MEAN, XF_POOL_CLS, XF_POOL_MAX, XF_POOL_MEAN_SQRT_LEN, XF_POOL_LAST};
        size_t i = 0;
        while (i < 5 && !(strlen(xf_pooling_name(modes[i])) == len && !memcmp(xf_pooling_name(modes[i]), s, len))) i++;
        if (i == 5)
            return xf_error(XF_ERR_UNSUPPORTED, "%s: metadata key \"xfmr.pooling\" = \"%.*s\" is not mean, cls, max, "
                            "mean_sqrt_len or lasttoken", file, (int)(len > 40 ? 40 : len), s);
        out->pooling = modes[i];
        out->is_sentence_transformer = 1;
    }
    if (xf_gguf_find(g, "xfmr.normalize") >= 0 && (st = xf_gguf_get_bool(g, "xfmr.normalize", &out->normalize))) return st;
    return get_size(g, "xfmr.max_seq_length", 0, 1, c->max_position_embeddings, &out->max_seq_length);
}
