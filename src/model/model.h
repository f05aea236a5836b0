/* model.h — the xf_model object shared by the public API (model.c) and the architecture files.
 *
 * An architecture is a table of three functions: load its weights and per-layer plans from the
 * weight set, run a packed batch to final hidden states [T, hidden], free its state. Pooling,
 * normalisation, batching and tokenization are the same for every encoder and live in model.c. */
#ifndef XF_MODEL_MODEL_H
#define XF_MODEL_MODEL_H

#include <stddef.h>

#include "core/threadpool.h"
#include "io/hf_config.h"
#include "model/layers.h"
#include "model/weights.h"
#include "xfmr.h"

/* The KV cache of a session (session.c), written by an architecture's eval_chunk. Layout: for
 * layer l, K and V each hold [n_ctx, n_kv_heads * head_dim] row-major (position-major, the heads
 * of one position contiguous), i.e. element (l, pos, kv_head, d) at
 * ((l * n_ctx + pos) * n_kv_heads + kv_head) * head_dim + d. */
typedef struct xf_kv_cache {
    size_t n_layers, n_ctx, kv_dim; /* kv_dim = n_kv_heads * head_dim */
    size_t n_past;                  /* positions [0, n_past) are filled */
    float *k, *v;                   /* [n_layers * n_ctx * kv_dim] each */
    size_t chunk;                   /* most tokens one forward step processes (scratch sizing) */
    float *scratch;                 /* allocated once at session creation */
    size_t scratch_cap;             /* floats */
} xf_kv_cache;

typedef struct xf_arch {
    const char *name; /* config.json model_type */
    /* Fills arch_state, n_params and, for decoders, lm_head. */
    xf_status (*load)(xf_model *m);
    /* Final hidden states of every token of the batch into H [T, hidden] (decoders: after the
     * final norm, ready for lm_head). */
    xf_status (*encode)(xf_model *m, const xf_batch *b, float *H);
    void (*free)(xf_model *m);
    /* Decoders only (NULL for encoders): floats of scratch eval_chunk needs for chunks of
     * `chunk` tokens with a cache of n_ctx positions (0 on size_t overflow) ... */
    size_t (*cached_scratch)(const xf_model *m, size_t chunk, size_t n_ctx);
    /* ... and the cached forward of one chunk: append ids[0..T) (T <= c->chunk; already checked:
     * ids in range, n_past + T <= n_ctx <= max positions) at positions c->n_past.., advance
     * c->n_past by T, and when h_last is not NULL write the final (normed) hidden state of the
     * last token to h_last[hidden]. session.c splits longer inputs into chunks. */
    void (*eval_chunk)(xf_model *m, xf_kv_cache *c, const int32_t *ids, size_t T, float *h_last);
} xf_arch;

struct xf_model {
    char *path;
    xf_hf_config cfg;
    xf_st_layout layout;
    xf_tokenizer *tok;
    xf_weight_set *ws;
    xf_pool *pool;
    const xf_arch *arch;
    void *arch_state;
    xf_linear_w lm_head; /* [vocab, hidden] for decoders (the embedding when tied); w.data NULL
                          * for encoders */
    size_t max_length; /* effective input limit in tokens */
    uint64_t n_params;
    xf_weight_format weight_format; /* as requested in xf_model_params */
    float *work;       /* activation workspace, grown on demand (never in the layer loop) */
    size_t work_cap;   /* floats */
    float *hidden;     /* final hidden states + packed ids of the current batch */
    size_t hidden_cap; /* floats */
    size_t *offsets;   /* sequence offsets of the current batch */
    size_t offsets_cap;
};

/* Convert a linear layer's weight as xf_model_params.weights asks (int8 per channel); a no-op
 * for the stored format. Architectures call it on every linear weight they load. */
xf_status xf_model_prepare_linear(xf_model *m, xf_weight *w);

/* Make sure m->work holds at least n floats. */
xf_status xf_model_reserve(xf_model *m, size_t n);
/* Shared start of a decoder's whole-batch forward: token ids within the vocabulary, sequences
 * within max_position_embeddings, and m->work reserved as xf_block_prenorm's workspace for the
 * largest of the layers' needs. */
xf_status xf_decoder_prepare(xf_model *m, const xf_batch *b, const xf_block_w *layers, size_t n_layers);

extern const xf_arch xf_arch_bert;
extern const xf_arch xf_arch_llama;
extern const xf_arch xf_arch_qwen2;
extern const xf_arch xf_arch_mistral;
extern const xf_arch xf_arch_gpt2;

#endif
