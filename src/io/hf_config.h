/* hf_config.h — Hugging Face model folders: config.json and the sentence-transformers layout
 * (modules.json, <pooling dir>/config.json, sentence_bert_config.json, Normalize module). */
#ifndef XF_IO_HF_CONFIG_H
#define XF_IO_HF_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr.h"

typedef enum xf_pooling {
    XF_POOL_MEAN = 0,
    XF_POOL_CLS,
    XF_POOL_MAX,
    XF_POOL_MEAN_SQRT_LEN,
    XF_POOL_LAST
} xf_pooling;

/* Rotary-embedding frequency scaling (config.json "rope_scaling", or "rope_parameters" as
 * transformers >= 5 writes it; GGUF rope.scaling.*; xf_model_params overrides). The variants are
 * those of kernels/rope.h. */
typedef enum xf_hf_rope_type {
    XF_HF_ROPE_DEFAULT = 0, /* absent, null, or rope_type "default" */
    XF_HF_ROPE_LINEAR,      /* positions / factor */
    XF_HF_ROPE_LLAMA3,      /* per-frequency scaling of Llama 3.1 */
    XF_HF_ROPE_NTK,         /* NTK-aware base change (xf_model_params / --rope-scaling only) */
    XF_HF_ROPE_DYNAMIC,     /* dynamic NTK: the base stretched for the current length */
    XF_HF_ROPE_YARN         /* YaRN ramp + attention factor */
} xf_hf_rope_type;

typedef struct xf_hf_rope_scaling {
    xf_hf_rope_type type;
    double factor;                  /* every type but default; > 0 */
    double low_freq_factor;         /* llama3 */
    double high_freq_factor;        /* llama3; > low_freq_factor */
    size_t original_max_position;   /* llama3, yarn: original_max_position_embeddings (yarn:
                                       default max_position_embeddings) */
    double beta_fast, beta_slow;    /* yarn; 0 = the defaults 32 and 1 */
    double attention_factor;        /* yarn; 0 = from factor (and mscale / mscale_all_dim) */
    double mscale, mscale_all_dim;  /* yarn; 0 = absent */
    int no_truncate;                /* yarn: "truncate": false */
} xf_hf_rope_scaling;

/* The subset of config.json the supported architectures need. Fields not present get the
 * documented defaults (those of transformers' BertConfig / LlamaConfig / Qwen2Config).
 * model_type "gpt2" reads GPT2Config's names and defaults into the same fields: n_embd ->
 * hidden_size, n_layer -> num_hidden_layers, n_head -> num_attention_heads (= kv heads),
 * n_inner (null: 4 n_embd) -> intermediate_size, n_positions -> max_position_embeddings,
 * layer_norm_epsilon -> layer_norm_eps, activation_function -> hidden_act; tie_word_embeddings
 * defaults to 1; scale_attn_weights false, scale_attn_by_inverse_layer_idx or add_cross_attention
 * true are XF_ERR_UNSUPPORTED. */
typedef struct xf_hf_config {
    char model_type[64];   /* "bert", ... (required) */
    char hidden_act[32];   /* default "gelu" */
    char position_embedding_type[32]; /* default "absolute" */
    size_t vocab_size;     /* required */
    size_t hidden_size;    /* required */
    size_t num_hidden_layers;   /* required */
    size_t num_attention_heads; /* required; must divide hidden_size */
    size_t intermediate_size;   /* required */
    size_t max_position_embeddings; /* default 512 */
    size_t type_vocab_size;     /* default 2 */
    double layer_norm_eps;      /* default 1e-12 */
    long pad_token_id;          /* default 0 */
    /* Decoder (llama / qwen2) fields; parsed for every model_type, used by decoders only. */
    size_t num_key_value_heads; /* default num_attention_heads; must divide it */
    size_t head_dim;            /* default hidden_size / num_attention_heads; even */
    double rms_norm_eps;        /* default 1e-6 */
    double rope_theta;          /* default 10000 (top level, or inside rope_parameters) */
    int tie_word_embeddings;    /* default 0: lm_head.weight is its own tensor */
    int attention_bias;         /* default 0 (llama: q/k/v/o biases; qwen2 always has q/k/v ones) */
    int mlp_bias;               /* default 0 */
    int use_sliding_window;     /* default 0 (qwen2: 1 = layers from max_window_layers on, or those
                                   layer_types names "sliding_attention", use sliding_window) */
    size_t sliding_window;      /* default 0 = none (absent or null); mistral's attention span */
    size_t max_window_layers;   /* default 28 (Qwen2Config's) */
    xf_hf_rope_scaling rope_scaling; /* default XF_HF_ROPE_DEFAULT */
    /* Layers with heads removed (heap arrays, NULL when absent; xf_hf_config_free):
     * pruned_heads[l] = heads transformers' prune_heads removed from layer l ("pruned_heads":
     * {"l": [heads]}), for num_hidden_layers layers; q_groups[l * q_groups_stride + g] = query
     * heads of key/value head g in layer l for layers whose groups differ in size (xfmr's own
     * "xfmr_q_groups": one list per layer, [] for equal groups), for q_groups_layers layers. */
    uint32_t *pruned_heads;
    uint32_t *q_groups;
    size_t q_groups_layers, q_groups_stride;
    /* "layer_types" (transformers' per-layer attention kinds), NULL when absent: sliding_layers[l]
     * = 1 for "sliding_attention", 0 for "full_attention", num_hidden_layers entries. */
    unsigned char *sliding_layers;
    /* gpt2 rewritten as Pre-RMSNorm by xfmr (GGUF "xfmr.norm" = "rms", src/compress/rmsnorm.c):
     * RMSNorms without bias, an lm_head of its own with a bias. Default 0. */
    int norm_rms;
    /* ModernBERT (model_type "modernbert", ModernBertConfig's names and defaults; hidden_activation
     * -> hidden_act, norm_eps -> layer_norm_eps, max_position_embeddings default 8192):
     * sliding_layers[l] = 1 for a local (sliding-window) layer, from "layer_types" (transformers 5)
     * or else "global_attn_every_n_layers" (default 3: layer l is global when l % n == 0, always
     * set for modernbert); a local query sees keys within local_attention / 2 positions
     * (default 128); rotary bases from rope_parameters.{full,sliding}_attention.rope_theta or
     * global_rope_theta / local_rope_theta (defaults 160000 / 10000; rope_theta = the global one);
     * norm_bias (LayerNorms), attention_bias (Wqkv, Wo), mlp_bias (Wi, Wo), all default false. */
    size_t local_attention;
    double local_rope_theta;
    int norm_bias;
    char classifier_pooling[8]; /* "cls" (default) or "mean": the classification head's pooling */
} xf_hf_config;

/* Free the heap arrays of a config (pruned_heads, q_groups, sliding_layers); the struct may be
 * reused. */
void xf_hf_config_free(xf_hf_config *cfg);

/* sentence-transformers metadata; when the folder is a plain HF model, defaults apply
 * (mean pooling, no normalisation, max_seq_length 0 = use max_position_embeddings). */
typedef struct xf_st_layout {
    int is_sentence_transformer; /* modules.json present */
    char transformer_dir[256];   /* relative path of the Transformer module ("" = the folder) */
    xf_pooling pooling;
    int normalize;               /* Normalize module present */
    size_t max_seq_length;       /* from sentence_bert_config.json, 0 if absent */
    int do_lower_case;           /* from sentence_bert_config.json (0 if absent) */
    size_t word_embedding_dimension; /* added: from the Pooling config, 0 if absent */
    int is_cross_encoder;        /* sentence_bert_config.json "transformer_task": "sequence-classification"
                                  * (sentence-transformers >= 6 CrossEncoder: no Pooling module) */
} xf_st_layout;

/* Parse <dir>/config.json. Messages name the file and field. */
xf_status xf_hf_config_load(const char *dir, xf_hf_config *out);
/* Parse the sentence-transformers files of <dir> (all optional as a set, but each present
 * file must be valid; unknown module types are XF_ERR_UNSUPPORTED). */
xf_status xf_st_layout_load(const char *dir, xf_st_layout *out);
const char *xf_pooling_name(xf_pooling p);
/* Added: cross-check a layout against its config (Pooling word_embedding_dimension must equal
 * hidden_size when given). dir names the folder in messages. */
xf_status xf_st_layout_check(const xf_st_layout *layout, const xf_hf_config *cfg, const char *dir);

/* The weight files of a folder: "model.safetensors", or the shards listed in
 * "model.safetensors.index.json". Returns heap strings (full paths) in *paths (free each and the
 * array); XF_ERR_NOT_FOUND naming the folder when there are none. */
xf_status xf_hf_weight_files(const char *dir, char ***paths, size_t *n);
/* Added: free what xf_hf_weight_files returned (NULL is a no-op). */
void xf_hf_weight_files_free(char **paths, size_t n);

#endif
