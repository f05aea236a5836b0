/* hf_config.h — Hugging Face model folders: config.json and the sentence-transformers layout
 * (modules.json, <pooling dir>/config.json, sentence_bert_config.json, Normalize module). */
#ifndef XF_IO_HF_CONFIG_H
#define XF_IO_HF_CONFIG_H

#include <stddef.h>

#include "xfmr.h"

typedef enum xf_pooling {
    XF_POOL_MEAN = 0,
    XF_POOL_CLS,
    XF_POOL_MAX,
    XF_POOL_MEAN_SQRT_LEN,
    XF_POOL_LAST
} xf_pooling;

/* The subset of config.json an encoder needs. Fields not present get the documented defaults. */
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
} xf_hf_config;

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
