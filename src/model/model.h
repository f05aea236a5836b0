/* model.h — the xf_model object shared by the public API (model.c), sessions and the
 * architecture files. A model is its plan (model/plan.h): architectures fill it at load, the one
 * forward pass (forward.c) walks it. Pooling, normalisation, batching and tokenization are the
 * same for every encoder and live in model.c. */
#ifndef XF_MODEL_MODEL_H
#define XF_MODEL_MODEL_H

#include <stddef.h>

#include "core/threadpool.h"
#include "io/hf_config.h"
#include "model/plan.h"
#include "model/weights.h"
#include "xfmr.h"

typedef struct xf_fwd_ws xf_fwd_ws;
struct xf_fwd;

/* An architecture fills the model's plan (model/plan.h) from its weight set and config: shapes
 * from the tensors, config.json only for what tensors cannot say (head size, norm eps, rope). */
typedef struct xf_arch {
    const char *name; /* config.json model_type */
    xf_status (*load)(xf_model *m);
} xf_arch;

struct xf_model {
    char *path;
    xf_hf_config cfg;
    xf_st_layout layout;
    xf_tokenizer *tok;
    xf_weight_set *ws;
    xf_pool *pool;
    const xf_arch *arch;
    xf_plan plan;
    size_t max_length; /* effective input limit in tokens */
    uint64_t n_params;
    xf_weight_format weight_format; /* as requested in xf_model_params (F32 when sparsity is asked; INT8 for A8) */
    int act_q8_all;                 /* XF_WEIGHTS_A8: GGUF blocks' products quantize activations at every length */
    xf_sparsity sparsity;            /* xf_model_params.sparsity, method and ratio (sparsify.c) */
    xf_sparsity_method sparsity_method;
    int sparse_qbits; /* 2:4 with integer kept values: 8 (s24q8, --weights int8), 4 (s24q4, --weights int4), 0 float */
    float sparsity_ratio;
    int sparse_head;   /* xf_model_params.sparse_head: the LM head pruned 2:4 too (untied from the embedding) */
    xf_fwd_ws *fws;    /* workspace of xf_embed / xf_model_logits calls */
    /* Between-layer hook of encoder batches (forward.h; adaptive methods set it: early exit,
     * token pruning); pooling reads the tokens it leaves. NULL: every layer, every token. */
    xf_status (*hook)(void *ctx, struct xf_fwd *f, size_t layer, int *stop);
    void *hook_ctx;
    const unsigned char *hook_want_acc; /* xf_fwd.want_acc of encoder batches */
    struct xf_adaptive *adaptive;       /* token pruning / early exit (adaptive.c), NULL = off */
    struct xf_cls_head *cls_head;       /* sequence-classification head (cls_head.c), NULL = none */
    float *hidden;     /* final hidden states + packed ids / positions of the current batch */
    size_t hidden_cap; /* floats */
    size_t *offsets;   /* sequence offsets of the current batch */
    size_t offsets_cap;
    char *attn_spans;  /* xf_model_info.attn_spans, made by xf_model_get_info */
    char *quantization; /* xf_model_info.quantization, or NULL */
    char attn_prefill[48]; /* xf_model_info.attn_prefill ("" = dense), made by xf_model_get_info */
};

/* Convert a linear layer's weight as xf_model_params.weights asks (int8 per channel); a no-op
 * for the stored format. Architectures call it on every linear weight they load. */
xf_status xf_model_prepare_linear(xf_model *m, xf_weight *w);

/* A linear layer (weight + optional bias) by its Hugging Face name prefix "<name>.weight": shape from
 * the tensor ([XF_ANY, XF_ANY] allowed), stored format kept where it has kernels, then converted
 * as xf_model_params.weights asks, scratch reserved. bias: 0 none, 1 required, 2 if present. */
xf_status xf_model_get_linear(xf_model *m, const char *name, size_t out, size_t in, int bias, xf_linear_w *l);
/* A norm "<name>.weight" (+ "<name>.bias" for LayerNorm when bias) of n values. */
xf_status xf_model_get_norm(xf_model *m, const char *name, xf_norm_kind kind, int bias, size_t n, float eps,
                            xf_norm_w *out);
/* Apply the rotary override of the load parameters (rope_scaling / rope_factor / rope_orig_ctx)
 * to a config, and stretch max_position_embeddings to what the variant reaches (linear, ntk,
 * dynamic, yarn with a trained length: factor x that length). path names the model in messages. */
xf_status xf_model_rope_config(xf_hf_config *c, const xf_model_params *p, const char *path);
/* The rotary variant of a config (rope_theta, rope_scaling) as kernel parameters. */
void xf_model_rope_params(const xf_hf_config *c, size_t head_dim, xf_rope_params *rp);
/* Rotary tables for the model's head size, theta and rope_scaling over max_position_embeddings
 * (and GGUF rope_freqs.weight when the file has it). */
xf_status xf_model_rope_tables(xf_model *m, size_t head_dim);
/* The same into table r with base theta (a second base for some layers: plan.rope_local). */
xf_status xf_model_rope_tables_at(xf_model *m, size_t head_dim, double theta, xf_rope_tab *r);
/* Rows [row0, row0 + rows) of linear "<name>.weight" [XF_ANY, in] (and of "<name>.bias" when bias:
 * 1 required, 2 if present) as a linear of its own: one part of a fused projection (ModernBERT's
 * Wqkv, Wi). parts: how many equal parts the tensor's rows must split into (checked). */
xf_status xf_model_get_linear_part(xf_model *m, const char *name, size_t parts, size_t part, size_t in, int bias,
                                   xf_linear_w *l);
/* Check every layer and count parameters (n_params). */
xf_status xf_model_finish_plan(xf_model *m);
/* Mixed attention spans (attn_spans.c): a sliding window of `window` positions in every layer
 * not listed in full_layers ("0,5,-1"), the first `sinks` positions kept visible in each window;
 * window 0 = unchanged (full_layers must then be empty, sinks 0). */
xf_status xf_model_attn_spans(xf_model *m, size_t window, const char *full_layers, size_t sinks);
/* Block-sparse prefill at this density on every causal layer (attn_blocksparse.c); 0 = none. */
xf_status xf_model_block_sparse(xf_model *m, float density);
/* ProbSparse attention (attn_spans.c) with factor c in every layer without a window; c 0 = dense. */
xf_status xf_model_probsparse(xf_model *m, float factor, int exact);

/* Token pruning and early exit (adaptive.c): the state behind xf_model_set_adaptive. */
typedef struct xf_adaptive xf_adaptive;
void xf_adaptive_free(xf_adaptive *a);
/* Make a block's linear weight sparse as the model asks (2:4 compressed, or unstructured zeros in
 * float panels), keeping the lowest-scoring weights out: score |w| * s[k] (s NULL: magnitude). */
xf_status xf_model_sparsify_weight(xf_model *m, xf_weight *w, const float *s);
/* w made 2:4 (s24, or s24q8 when the model asked for int8 kept values) by score |w| * s[k]. */
xf_status xf_model_s24_make(xf_model *m, xf_weight *w, const float *s);
/* 1 when w is 2:4 compressed (s24, s24q8, s24q4). */
int xf_weight_is_s24(const xf_weight *w);
/* Rows [r0, r0 + rows) of a 2:4 weight `all` (GGUF S24*: rows live in sections) as an owned copy. */
xf_status xf_model_s24_rows(xf_model *m, const xf_weight *all, size_t r0, size_t rows, xf_weight *out);
/* The 2:4 LM head (xf_model_params.sparse_head): the head pruned as the blocks are, with score
 * |w| x s[k] (s NULL: magnitude); scratch reserved. */
xf_status xf_model_sparsify_head(xf_model *m, const float *s);
/* Wanda: the input norms of every block linear over calibration text (at most max_tokens tokens,
 * 0 = 4096), then each weight made sparse by |w| x norm. Called at load, on the dense model. */
xf_status xf_model_sparsify_calibrated(xf_model *m, const char *text, size_t max_tokens);
/* SparseGPT (src/compress/sparsegpt.c): the input Gram matrix of every block linear over
 * calibration text, then each weight pruned (m->sparsity: 2:4 or unstructured at its ratio) with
 * the second-order update of the weights it keeps. Called at load, on the dense model. */
xf_status xf_model_sparsegpt(xf_model *m, const char *text, size_t max_tokens);
/* Forward passes of the model over the first max_tokens (0: 4096) tokens of text, in chunks of at
 * most 512 (and the model's input limit): what calibration statistics (xf_linear_w.in_sq, in_abs,
 * in_gram) are collected with. what names the caller in errors. */
xf_status xf_model_calib_run(xf_model *m, const char *text, size_t max_tokens, const char *what);
/* Forward passes over the first max_tokens (0: 4096) tokens of text, in chunks of at most 512, and
 * for every block linear (q, k, v, o, up, gate, down of each layer, in order) the sum over tokens
 * of each input's square: *out (free()) holds them, one run of cols doubles per linear with
 * weights. what names the caller in errors. */
xf_status xf_model_input_sq(xf_model *m, const char *text, size_t max_tokens, const char *what, double **out);
/* The run of acc (from xf_model_input_sq) that belongs to weight w, or NULL when w is no block
 * linear's weight. */
const double *xf_model_input_sq_of(const xf_model *m, const double *acc, const xf_weight *w);
/* One sequence of ids (checked here) through embeddings, layers and final norm, no head: *X points
 * at its [n, hidden] final hidden states (the model's batch buffer, valid until its next call). */
xf_status xf_model_forward_ids(xf_model *m, const int32_t *ids, size_t n, float **X);
/* Layer `layer` alone over one sequence of n ids (checked here): X [n, hidden] holds the
 * layer's input (for layer 0 the embeddings of ids are used instead) and gets its output (before
 * the final norm). Layer-by-layer calibration (SparseGPT) runs the model this way. */
xf_status xf_model_forward_layer(xf_model *m, const int32_t *ids, size_t n, size_t layer, float *X);
/* The calibration tokens of text as xf_model_calib_run reads them: *ids (free()) of *n tokens (at
 * most max_tokens, 0: 4096), run in chunks of *chunk. */
xf_status xf_model_calib_ids(xf_model *m, const char *text, size_t max_tokens, const char *what, int32_t **ids, size_t *n,
                             size_t *chunk);

/* The quality measure of the --max-ppl-increase search (quality.c): a reference made once from
 * the source model, then each candidate's loss against it, in percent — decoders: perplexity
 * increase on the calibration tokens (xf_model_calib_ids) in non-overlapping windows of the chunk
 * length; encoders: 100 x (1 - mean cosine) of the embeddings of the first XF_QUALITY_LINES
 * non-empty lines of the text. */
#define XF_QUALITY_LINES 256
typedef struct xf_quality_ref {
    int decoder;
    int32_t *ids; /* decoders: the tokens, their number, the window */
    size_t n, chunk;
    double ppl;   /* decoders: the reference's perplexity on them */
    char *text;   /* encoders: a copy of the text cut into lines */
    char **lines;
    size_t n_lines, dim;
    float *emb;   /* encoders: the reference's embeddings [n_lines, dim] */
} xf_quality_ref;
xf_status xf_quality_ref_make(xf_model *m, const char *text, size_t max_tokens, xf_quality_ref *r);
xf_status xf_quality_loss(xf_model *m, const xf_quality_ref *r, double *loss);
void xf_quality_ref_free(xf_quality_ref *r);

/* Run n encodings through the encoder in packed batches (xf_embed_encodings' batching) and pool
 * each one's final hidden states into out[i * hidden] with the given pooling, L2-normalized when
 * normalize; the sentence-transformers layout of the model is not consulted. */
xf_status xf_model_pool_encodings(xf_model *m, const xf_encoding *encs, size_t n, size_t batch_size,
                                  xf_pooling pooling, int normalize, float *out);

/* Sequence-classification heads (cls_head.c): found at load from the weight names and config.json
 * (none: m->cls_head stays NULL), freed with the model. */
typedef struct xf_cls_head xf_cls_head;
xf_status xf_cls_head_load(xf_model *m);
void xf_cls_head_free(xf_cls_head *h);
/* The parts of a model's head for the GGUF writer (save.c): the pooler dense (w.data NULL: none),
 * the classifier, and n_labels names (*labels NULL: unnamed). 0 when the model has no head. */
int xf_cls_head_parts(const xf_model *m, const xf_linear_w **pool, const xf_linear_w **out,
                      const char *const **labels);

/* The KV cache of a session (kv_cache.h), for policies' tests and tools. */
struct xf_kv_cache *xf_session_cache(xf_session *s);

extern const xf_arch xf_arch_bert;
extern const xf_arch xf_arch_llama;
extern const xf_arch xf_arch_qwen2;
extern const xf_arch xf_arch_mistral;
extern const xf_arch xf_arch_gpt2;
extern const xf_arch xf_arch_modernbert;

/* The tokenizer.json of a model folder dir into *out, or NULL (XF_OK) when the folder has none: a
 * model loads without a tokenizer then, as a GGUF file without tokenizer.ggml.* keys does
 * (model_tokenizer.c). */
xf_status xf_model_load_tokenizer_opt(const char *dir, xf_tokenizer **out);

#endif
