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

typedef struct xf_arch {
    const char *name; /* config.json model_type */
    /* Fills arch_state, n_params and, for decoders, lm_head. */
    xf_status (*load)(xf_model *m);
    /* Final hidden states of every token of the batch into H [T, hidden] (decoders: after the
     * final norm, ready for lm_head). */
    xf_status (*encode)(xf_model *m, const xf_batch *b, float *H);
    void (*free)(xf_model *m);
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
    float *work;       /* activation workspace, grown on demand (never in the layer loop) */
    size_t work_cap;   /* floats */
    float *hidden;     /* final hidden states + packed ids of the current batch */
    size_t hidden_cap; /* floats */
    size_t *offsets;   /* sequence offsets of the current batch */
    size_t offsets_cap;
};

/* Make sure m->work holds at least n floats. */
xf_status xf_model_reserve(xf_model *m, size_t n);

extern const xf_arch xf_arch_bert;
extern const xf_arch xf_arch_llama;
extern const xf_arch xf_arch_qwen2;

#endif
