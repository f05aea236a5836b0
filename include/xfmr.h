/*
 * xfmr.h — the one public header of xfmr, a C engine for Transformer models.
 *
 * Conventions (as in SQLite): every call that can fail returns an xf_status; on failure
 * xf_errmsg() gives a message (thread-local, valid until the next failing call on the same
 * thread) that names the file / field / value that was wrong. Every _load / _create call has a
 * matching _free, and freeing NULL is a no-op. Handles are opaque. The library never calls
 * exit() or abort() on bad input.
 *
 * ABI: libxfmr.so exports exactly the XF_API functions declared here (built with
 * -fvisibility=hidden). Structs that may grow start with `size_t struct_size`: parameter structs
 * are filled by their *_default_params() functions, which are inline so that struct_size is the
 * size your program was compiled with, and xf_model_info is initialised with xf_model_info_init();
 * the library reads and writes only that many bytes, so a newer library works with programs
 * built against an older xfmr.h of the same major version. xf_encoding, xf_embed_stats and
 * xf_chat_message never change layout (a larger one would come with new functions).
 */
#ifndef XFMR_H
#define XFMR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XFMR_VERSION_MAJOR 0
#define XFMR_VERSION_MINOR 2
#define XFMR_VERSION_PATCH 0
#define XFMR_VERSION "0.2.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if XFMR_VERSION_NUMBER >= 200 */
#define XFMR_VERSION_NUMBER (XFMR_VERSION_MAJOR * 10000 + XFMR_VERSION_MINOR * 100 + XFMR_VERSION_PATCH)

/* Marks the functions libxfmr exports (everything else is hidden). */
#ifndef XF_API
#if defined(__GNUC__) || defined(__clang__)
#define XF_API __attribute__((visibility("default")))
#else
#define XF_API
#endif
#endif

/* ---------------------------------------------------------------- status */

typedef enum xf_status {
    XF_OK = 0,
    XF_ERR_INVALID_ARG = 1, /* a caller passed a bad argument */
    XF_ERR_IO = 2,          /* a file could not be opened / read / mapped */
    XF_ERR_FORMAT = 3,      /* a file's contents are malformed or inconsistent */
    XF_ERR_UNSUPPORTED = 4, /* well-formed but not supported (architecture, dtype, ...) */
    XF_ERR_NOMEM = 5,       /* an allocation failed */
    XF_ERR_NOT_FOUND = 6,   /* a required file, tensor or field is missing */
    XF_ERR_RANGE = 7        /* a value is outside the allowed range */
} xf_status;

/* Short name of a status ("ok", "format error", ...). Never NULL. */
XF_API const char *xf_status_str(xf_status st);
/* Message of the last failure on this thread ("" if none). Never NULL. */
XF_API const char *xf_errmsg(void);
/* Library version string, XFMR_VERSION of the library's build. */
XF_API const char *xf_version(void);
/* XFMR_VERSION_NUMBER of the library's build (compare with the header's to detect a mismatch). */
XF_API int xf_version_number(void);
/* The kernels' instruction sets here (after XF_ISA), e.g. "avx512 vnni bf16 vbmi amx-int8 amx-bf16";
 * never NULL, valid on the calling thread until its next call. */
XF_API const char *xf_cpu_features(void);

/* ------------------------------------------------------------- tokenizer */

typedef struct xf_tokenizer xf_tokenizer;

/* One encoded text (or text pair), special tokens included. Arrays have n entries. */
typedef struct xf_encoding {
    int32_t *ids;      /* token ids */
    int32_t *type_ids; /* segment ids (0 for the first sequence, 1 for the second) */
    size_t n;          /* number of tokens */
    int truncated;     /* 1 if tokens were dropped to respect max_length */
} xf_encoding;

/* Load a Hugging Face tokenizer.json (path to the file, or to a folder containing it). */
XF_API xf_status xf_tokenizer_load(const char *path, xf_tokenizer **out);
XF_API void xf_tokenizer_free(xf_tokenizer *tok);
/* Load the tokenizer of a GGUF file from its tokenizer.ggml.* metadata: model "gpt2" (byte-level
 * BPE with any tokenizer.ggml.pre llama.cpp knows), "llama" (SentencePiece BPE with byte fallback,
 * merges derived from the scores), "bert" (WordPiece), "gemma4" or "t5" (Unigram); bos / eos and add_bos_token /
 * add_eos_token give the special tokens xf_tokenize adds (docs/TOKENIZER.md). */
XF_API xf_status xf_tokenizer_load_gguf(const char *gguf_path, xf_tokenizer **out);
/* The tokenizer xf_model_load(path) would give, without loading the weights: a GGUF model (a .gguf
 * file, or a folder without config.json holding one) through xf_tokenizer_load_gguf; a Hugging
 * Face folder through the tokenizer.json of the folder (of its Transformer module for
 * sentence-transformers layouts); a tokenizer.json file itself. XF_ERR_NOT_FOUND naming the file
 * when the model has no tokenizer. */
XF_API xf_status xf_tokenizer_load_model(const char *path, xf_tokenizer **out);

/* Encode UTF-8 text (len bytes; invalid UTF-8 is decoded with U+FFFD replacement, as Python's
 * errors="replace"). pair may be NULL. max_length = 0 disables truncation; otherwise the
 * result (special tokens included) has at most max_length tokens ("longest_first" strategy) —
 * unless max_length is below the number of special tokens, when only those remain.
 * On success *out owns its arrays: release with xf_encoding_free. */
XF_API xf_status xf_tokenize(const xf_tokenizer *tok, const char *text, size_t len, const char *pair,
                      size_t pair_len, size_t max_length, xf_encoding *out);
XF_API void xf_encoding_free(xf_encoding *enc);

XF_API size_t xf_tokenizer_vocab_size(const xf_tokenizer *tok);
/* Id of a token string, or -1. */
XF_API int32_t xf_tokenizer_token_to_id(const xf_tokenizer *tok, const char *token);
/* Token string of an id (owned by the tokenizer), or NULL if out of range. */
XF_API const char *xf_tokenizer_id_to_token(const xf_tokenizer *tok, int32_t id);
/* 1 if id is a special added token ([CLS], [SEP], <s>, ...), else 0. */
XF_API int xf_tokenizer_is_special(const xf_tokenizer *tok, int32_t id);

/* Ids back to text, as Hugging Face tokenizers' decode(ids, skip_special_tokens) does with the
 * file's decoder (ByteLevel, WordPiece, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence;
 * no decoder: tokens joined with ' '). skip_special != 0 drops special added tokens. An id
 * that is not in the vocabulary is XF_ERR_RANGE (tokenizers silently drops it); a decoder type
 * that is not supported is XF_ERR_UNSUPPORTED. On success *out is valid UTF-8, NUL-terminated,
 * *len bytes (len may be NULL): release it with free(). */
XF_API xf_status xf_detokenize(const xf_tokenizer *tok, const int32_t *ids, size_t n, int skip_special,
                        char **out, size_t *len);

/* Streaming decoder (e.g. for generation): push ids one at a time, get the text they add. Only
 * complete UTF-8 characters are returned; the bytes of a character split across tokens (byte
 * fallback / byte-level) are held back until it is complete. */
typedef struct xf_detok_stream xf_detok_stream;
XF_API xf_status xf_detok_stream_create(const xf_tokenizer *tok, int skip_special, xf_detok_stream **out);
/* *text (NUL-terminated, owned by the stream, valid until its next call) receives the new text,
 * possibly "" ; len may be NULL. */
XF_API xf_status xf_detok_stream_push(xf_detok_stream *s, int32_t id, const char **text, size_t *len);
/* End of input: held-back bytes of an incomplete character come out as U+FFFD; the stream
 * starts over (the next id is decoded as the first one). */
XF_API xf_status xf_detok_stream_flush(xf_detok_stream *s, const char **text, size_t *len);
XF_API void xf_detok_stream_free(xf_detok_stream *s);

/* ----------------------------------------------------------------- model */

typedef struct xf_model xf_model;

/* How linear-layer weights are held in memory and multiplied. */
typedef enum xf_weight_format {
    XF_WEIGHTS_AS_STORED = 0, /* as the file stores them: F32 (F16/BF16/F64 converted to F32), GGUF
                                 quantized blocks kept as they are */
    XF_WEIGHTS_INT8 = 1,      /* linear weights quantized at load to int8 with one scale per output
                                 channel; activations quantized per token on the fly (VNNI) */
    XF_WEIGHTS_BF16 = 2,      /* linear weights rounded at load to bfloat16, activations rounded to
                                 bf16 on the fly, fp32 sums (AVX512_BF16 vdpbf16ps; slow elsewhere) */
    XF_WEIGHTS_F32 = 3,       /* linear weights as float32, GGUF quantized blocks dequantized at load
                                 (the float path of a quantized file, e.g. to compare methods) */
    XF_WEIGHTS_INT4 = 4,      /* with XF_SPARSITY_2_4 only: the kept values in 4 bits with a scale
                                 per 16 (s24q4), activations quantized to int8 on the fly */
    XF_WEIGHTS_A8 = 5         /* as XF_WEIGHTS_INT8, and GGUF quantized blocks multiply activations
                                 quantized per 32 at every input length, prefill and encoders included
                                 (XF_WEIGHTS_INT8: only up to 12-32 rows): W4A8 / W8A8 throughout,
                                 through the int8-activation GEMV in chunks of rows (docs/QUANTIZATION.md) */
} xf_weight_format;

/* Sparsity of the linear weights of the Transformer blocks (not embeddings / lm_head), made at
 * load from the dense weights (docs/COMPRESSION.md). */
typedef enum xf_sparsity {
    XF_SPARSITY_NONE = 0,
    XF_SPARSITY_2_4 = 1,         /* 2 of every 4 consecutive inputs of each output kept, stored
                                    compressed (float32 values + 2-bit indices) and multiplied in
                                    that form; input widths must be multiples of 4 */
    XF_SPARSITY_UNSTRUCTURED = 2 /* sparsity_ratio of each output's weights set to 0, dense kernels
                                    (for quality comparisons; no speed-up) */
} xf_sparsity;

/* Which weights a sparsity removes: the lowest scores. */
typedef enum xf_sparsity_method {
    XF_SPARSE_MAGNITUDE = 0, /* score |w| */
    XF_SPARSE_WANDA = 1,     /* score |w| x the L2 norm of its input over calibration text (Wanda) */
    XF_SPARSE_SPARSEGPT = 2  /* SparseGPT: masks by w^2 / [H^-1]_jj and the kept weights updated to
                                make up for the pruned ones (H: the Gram matrix of the layer's
                                inputs over calibration text); needs calib_text */
} xf_sparsity_method;

typedef struct xf_model_params {
    size_t struct_size;       /* sizeof(xf_model_params), set by xf_model_default_params() */
    int n_threads;            /* compute threads; 0 = the CPUs this process may use
                                 (affinity mask, cgroup CPU quota) */
    size_t max_length;        /* truncate inputs to this many tokens; 0 = the model's own limit */
    xf_weight_format weights; /* XF_WEIGHTS_AS_STORED by default */
    /* Rotary scaling, to stretch a model past the context it was trained for (docs/LONG_CONTEXT.md):
     * NULL = as the model's config.json rope_scaling / GGUF rope.scaling.* say; "none"; "linear"
     * (positions / factor); "ntk" (NTK-aware base change); "dynamic" (dynamic NTK: the base
     * grows with the sequence past the trained length); "yarn" (YaRN, with its attention
     * temperature). With one of them the model's positions reach rope_factor x rope_orig_ctx. */
    const char *rope_scaling;
    double rope_factor;       /* > 0 (> 1 to stretch); required with rope_scaling other than "none" */
    size_t rope_orig_ctx;     /* the trained context; 0 = the model's max_position_embeddings */
    /* Sparsity (docs/COMPRESSION.md); added after the fields above: a caller whose struct_size
     * ends before calib_text keeps these defaults (all zero). */
    const char *calib_text;       /* XF_SPARSE_WANDA / SPARSEGPT: calibration text (UTF-8, NUL-terminated),
                                     read during xf_model_load only; needs the model's tokenizer */
    xf_sparsity sparsity;         /* XF_SPARSITY_NONE by default */
    xf_sparsity_method sparsity_method; /* XF_SPARSE_MAGNITUDE by default */
    float sparsity_ratio;         /* XF_SPARSITY_UNSTRUCTURED: fraction removed, in (0, 1);
                                     0 = 0.5 */
    size_t calib_max_tokens;      /* tokens of calib_text used; 0 = 4096 */
    /* Mixed attention spans (MASFormer; docs/LONG_CONTEXT.md), decoders only: attn_window > 0
     * gives every layer not listed in attn_full_layers a sliding window of that many positions
     * (each query sees itself and the window - 1 before it); attn_full_layers is NULL or a
     * comma-separated list of layer indices (negative counts from the end: "0,-1") that keep
     * full attention. Added after the fields above (struct_size). */
    size_t attn_window;
    const char *attn_full_layers;
    /* Attention sinks with attn_window (StreamingLLM): the first attn_sinks positions stay visible
     * to every query of a windowed layer; fewer than attn_window; 0 = a plain window. Added after
     * the fields above (struct_size). */
    size_t attn_sinks;
    /* Block-sparse prefill attention (docs/LONG_CONTEXT.md), decoders: each tile of 64 queries of a
     * prompt reads only the key blocks of 64 whose mean key scores highest against its mean query
     * (always the first block, for the attention sinks, and its own and the 3 blocks before): about
     * attn_block_density of the blocks it may see, in 0..1, in layers without a sliding window and
     * once a prompt spans more than 4 blocks; 0 (or 1) = dense. Single-token decode steps stay
     * dense. Added after the fields above (struct_size). */
    float attn_block_density;
    /* ProbSparse attention (Informer; docs/ADAPTIVE.md): probsparse_factor c > 0 gives, in every
     * layer without a window, each head's u = ceil(c * ceil(ln L)) queries of largest sparsity
     * measurement (max - mean of their scaled scores, estimated on as many sampled keys, or over
     * every key with probsparse_exact 1) full attention and every other query the mean of the
     * values (causal: of the values up to it); sequences with u >= L run dense. Encoders and
     * decoder prefill (a fresh float cache); 0 = dense. Added after the fields above (struct_size). */
    float probsparse_factor;
    int probsparse_exact;
    /* Vertical-slash prefill attention (MInference; docs/LONG_CONTEXT.md), decoders: the attention
     * of a prompt's last 64 queries picks, per key/value head, the key positions (vertical
     * columns) and query-key offsets (slash diagonals) that receive the most weight; every tile of
     * 64 queries then reads those columns and diagonals — about attn_vslash_density x the keys,
     * half each — plus the first 64 keys (attention sinks) and the 128 diagonals nearest it, in
     * layers without a sliding window, for a forward of at least 64 queries over more than 256
     * keys; 0 (or 1) = dense. Not with attn_block_density or ProbSparse. Single-token decode
     * steps stay dense. Added after the fields above (struct_size). */
    float attn_vslash_density;
    /* With sparsity XF_SPARSITY_2_4 (decoders): 1 prunes the language-model head 2:4 too, by the
     * same method (Wanda / SparseGPT calibrated on the head's inputs, the final-normed hidden
     * states), with the same kept values (float, int8, int4); a head tied to the token embedding
     * is untied first: the embedding stays dense (a lookup reads one row per token), the head
     * becomes its own tensor (saved as output.weight). 0 (default) = the head stays dense, as in
     * the Wanda and SparseGPT papers (docs/COMPRESSION.md). Added after the fields above (struct_size). */
    int sparse_head;
} xf_model_params;

static inline xf_model_params xf_model_default_params(void) {
    xf_model_params p = {0}; /* rope_scaling NULL, rope_factor 0: as the model says; no sparsity */
    p.struct_size = sizeof(xf_model_params);
    p.weights = XF_WEIGHTS_AS_STORED;
    return p;
}

/* Load a model from a Hugging Face folder (config.json, *.safetensors, tokenizer.json and, for
 * sentence-transformers models, modules.json / 1_Pooling / sentence_bert_config.json), or from a
 * GGUF file (a path ending in .gguf, or a folder holding exactly one .gguf and no config.json:
 * llama.cpp's files and those xf_model_save writes, docs/GGUF.md).
 * Architectures: bert (encoders); llama, qwen2, mistral, gpt2 (decoders). A folder without
 * tokenizer.json (or a GGUF file without tokenizer.ggml.* keys) loads without a tokenizer: the
 * model works on token ids (xf_embed_encodings, sessions, xf_model_logits), xf_model_tokenizer
 * returns NULL and xf_embed / xf_embed_n fail with XF_ERR_NOT_FOUND. */
XF_API xf_status xf_model_load(const char *path, const xf_model_params *params, xf_model **out);
XF_API void xf_model_free(xf_model *model);

/* The model's tokenizer (owned by the model), or NULL when it has none (see xf_model_load). */
XF_API const xf_tokenizer *xf_model_tokenizer(const xf_model *model);
/* Width of the vectors xf_embed writes. */
XF_API size_t xf_model_embedding_dim(const xf_model *model);
/* Effective maximum input length in tokens (special tokens included). */
XF_API size_t xf_model_max_length(const xf_model *model);

/* Facts about a loaded model, for `xfmr info`. Strings are owned by the model. */
typedef struct xf_model_info {
    size_t struct_size;       /* sizeof(xf_model_info), set by xf_model_info_init() */
    const char *path;         /* folder it was loaded from */
    const char *architecture; /* e.g. "bert" */
    const char *pooling;      /* "mean", "cls", "max", "mean_sqrt_len" */
    int normalize;            /* 1 if embeddings are L2-normalised */
    size_t n_layers, hidden, n_heads, intermediate, vocab_size, max_position, max_length;
    uint64_t n_params;        /* parameters actually used by the forward pass */
    uint64_t weight_bytes;    /* bytes of all tensors as stored in the file(s) */
    uint64_t file_bytes;      /* total size of the weight file(s) */
    const char *dtypes;       /* e.g. "F32" or "F16,F32": dtypes found in the weight files */
    size_t n_files;
    const char *const *files; /* weight file paths, n_files entries */
    int has_tokenizer;        /* 0 when the model loaded without one (see xf_model_load) */
    /* Decoders: */
    int is_decoder;           /* 1 for models with a language-model head (llama, qwen2, mistral, gpt2) */
    size_t n_kv_heads;        /* key/value heads (< n_heads: grouped-query attention) */
    size_t head_dim;
    double rope_theta;        /* RoPE base frequency; 0 for models without RoPE (bert, gpt2) */
    size_t sliding_window;    /* attention span of sliding-window models (mistral); 0 = none */
    int tied_embeddings;      /* 1 when the LM head is the token embedding matrix */
    /* Rotary positions (decoders that use them; rope_scaling NULL otherwise): the variant in effect
     * ("default", "linear", "llama3", "ntk", "dynamic", "yarn"), its factor, the trained context
     * it stretches (0 when the variant has none) (the base is rope_theta). */
    const char *rope_scaling;
    double rope_factor;
    size_t rope_orig_ctx;
    /* Each layer's attention span, comma-separated: "full" (every key: bidirectional, or every
     * earlier one), "window W" (causal: the W latest positions), "local N" (bidirectional: keys
     * within N positions, ModernBERT's local layers). */
    const char *attn_spans;
    /* A GGUF file's quantization as the file states it: llama.cpp's name of its general.file_type
     * ("Q4_0", "Q4_K - Small", ...: the type most weights have) and, for a mixture written with
     * xf_save_params.target_bpw, the mixture (target, bits per weight reached, matrices per type);
     * NULL when the file says nothing (Hugging Face folders, GGUF files without the key). */
    const char *quantization;
    /* The sparse prefill attention the model was loaded with: "block-sparse D", "vertical-slash D"
     * or "probsparse C"; NULL = dense. Added after the fields above (struct_size). */
    const char *attn_prefill;
} xf_model_info;

static inline xf_model_info xf_model_info_init(void) {
    xf_model_info info = {0};
    info.struct_size = sizeof(xf_model_info);
    return info;
}
/* Fill *info (initialised with xf_model_info_init(): XF_ERR_INVALID_ARG when its struct_size is
 * not set). */
XF_API xf_status xf_model_get_info(const xf_model *model, xf_model_info *info);

/* Counters of the last xf_embed / xf_embed_n call. */
typedef struct xf_embed_stats {
    size_t n_texts;
    size_t n_tokens;    /* tokens processed (after truncation) */
    size_t n_truncated; /* texts that were truncated */
} xf_embed_stats;

/* Embed n texts (NUL-terminated UTF-8) into out[n * dim]. batch_size texts are run through
 * the encoder together (0 = a default). stats may be NULL. Same as xf_embed_n with lens NULL. */
XF_API xf_status xf_embed(xf_model *model, const char *const *texts, size_t n, size_t batch_size,
                   float *out, xf_embed_stats *stats);
/* Like xf_embed, but lens[i] is the byte length of texts[i], which need not be NUL-terminated
 * and may contain NUL bytes: a NUL is a control character, removed by the BERT normalizer like
 * the others (as Hugging Face tokenizers do for "\x00"). lens == NULL means strlen(texts[i]). */
XF_API xf_status xf_embed_n(xf_model *model, const char *const *texts, const size_t *lens, size_t n,
                     size_t batch_size, float *out, xf_embed_stats *stats);

/* Embed already-tokenized inputs (e.g. from xf_tokenize); encodings may differ in length. */
XF_API xf_status xf_embed_encodings(xf_model *model, const xf_encoding *encs, size_t n,
                             size_t batch_size, float *out);

/* ------------------------------------ classifiers and cross-encoders (docs/RERANK.md) */

/* A model with a sequence-classification head (Hugging Face BertForSequenceClassification: the
 * pooler, tanh(W [CLS] + b), then the classifier; ModernBertForSequenceClassification: CLS or mean
 * pooling, dense + activation + LayerNorm, the classifier; sentence-transformers CrossEncoder
 * folders; GGUF "cls" / "cls.norm" / "cls.output" tensors) has xf_model_n_labels() > 0 outputs per input; 0 = no head. */
XF_API size_t xf_model_n_labels(const xf_model *model);
/* The name of output i from config.json "id2label" (GGUF: <arch>.classifier.output_labels) into
 * *label (owned by the model). XF_ERR_UNSUPPORTED without a head, XF_ERR_RANGE for i >= n_labels,
 * XF_ERR_NOT_FOUND when the model names no labels. */
XF_API xf_status xf_model_label(const xf_model *model, size_t i, const char **label);
/* How a classifier's logits become scores, as transformers' text-classification pipeline picks it:
 * config.json "problem_type" single_label_classification -> softmax over the labels,
 * multi_label_classification -> sigmoid of each, regression -> the raw logits; without it,
 * sigmoid for one label and softmax for more. XF_SCORE_SOFTMAX for a model without a head. */
typedef enum xf_score_fn { XF_SCORE_SOFTMAX = 0, XF_SCORE_SIGMOID = 1, XF_SCORE_NONE = 2 } xf_score_fn;
XF_API xf_score_fn xf_model_score_fn(const xf_model *model);
/* Logits of n inputs into logits[n * n_labels]: texts[i] alone, or the pair (texts[i], pairs[i])
 * when pairs is not NULL and pairs[i] is not NULL — encoded as the tokenizer's pair template
 * ([CLS] a [SEP] b [SEP], token types 0 / 1), truncated "longest_first" to the model's
 * max_length, as transformers' tokenizer(a, b, truncation=True) does. batch_size inputs run
 * together (0 = a default); results do not depend on it. No activation is applied. */
XF_API xf_status xf_classify(xf_model *model, const char *const *texts, const char *const *pairs, size_t n,
                             size_t batch_size, float *logits);
/* xf_classify over already-tokenized inputs (e.g. pairs from xf_tokenize(tok, a, .., b, ..)):
 * logits[n * n_labels]; encodings may differ in length. */
XF_API xf_status xf_classify_encodings(xf_model *model, const xf_encoding *encs, size_t n, size_t batch_size,
                                       float *logits);
/* Relevance of each of n_docs documents to query into scores[n_docs] (the pairs (query, doc[i]) as
 * xf_classify encodes them), for a model with one output (a reranker). raw 1: the logit; raw 0:
 * the model's default activation as sentence-transformers' CrossEncoder applies it (the
 * activation_fn of config_sentence_transformers.json, else Sigmoid for one label). n_docs 0 is
 * XF_ERR_INVALID_ARG; a model without a head, or with several outputs, XF_ERR_UNSUPPORTED. */
XF_API xf_status xf_rerank(xf_model *model, const char *query, const char *const *docs, size_t n_docs,
                           size_t batch_size, int raw, float *scores);

/* ---------------------------------------------------------------- saving */

/* What float weights (those that are not GGUF quantized blocks) are written as. */
typedef enum xf_save_float {
    XF_SAVE_F32 = 0, /* float32: exactly the values the model computes with (default) */
    XF_SAVE_F16 = 1, /* IEEE half for 2-D weights (rounded to nearest even; norms, biases, position
                      * and token-type embeddings stay F32, as in llama.cpp's converter) */
    XF_SAVE_DENSE = 2 /* as XF_SAVE_F32, but 2:4 sparse weights as float32 rows with their zeros (a
                       * file llama.cpp loads); XF_SAVE_F32 writes them compressed, as xfmr's GGUF
                       * types S24 / S24Q8 / S24Q4 (docs/GGUF.md), which only xfmr loads */
} xf_save_float;

typedef struct xf_save_params {
    size_t struct_size;    /* sizeof(xf_save_params), set by xf_save_default_params() */
    xf_save_float outtype; /* default XF_SAVE_F32 */
    /* Called as the file is written with bytes done and the file's total; may be NULL. */
    void (*progress)(void *user, size_t done, size_t total);
    void *progress_user;
    /* NULL (default): weights as above. Else a GGUF type name — Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K,
     * Q5_K, Q6_K or MXFP4 — that the weight matrices are quantized to (GGUF blocks of the source
     * are dequantized and quantized again), block for block as llama.cpp's llama-quantize writes
     * them without an importance matrix, with its choice of tensors (docs/QUANTIZATION.md): norms,
     * biases, position and token-type embeddings stay F32; a tied token embedding (or the output
     * matrix) gets Q6_K, or Q8_0 when its width is no multiple of 256 or the type is Q8_0 / MXFP4;
     * a matrix whose width is no multiple of the type's block falls back as llama-quantize does
     * (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, else F16). An unknown name is XF_ERR_INVALID_ARG
     * listing the valid ones. "FP4S" / "FP8S" are xfmr's own searched FP4 / FP8 (GGUF types
     * llama.cpp does not know: only xfmr loads such a file), written like MXFP4 (token embedding /
     * output Q8_0). */
    const char *quantize;
    int quantize_pure; /* 1: also the token embedding / output in that type (llama-quantize --pure) */
    /* With quantize "Q4_0", "FP4S" or "FP8S": calibration text (UTF-8, NUL-terminated) whose first calib_max_tokens
     * tokens (0: 4096) are run through the model (forward passes: do not use the model from another
     * thread meanwhile) to weigh each input of the blocks' linear layers; their Q4_0 scales are then
     * searched per block to minimise the output error on those activations (docs/QUANTIZATION.md,
     * "searched INT4"), still standard Q4_0 blocks; FP4S / FP8S search each block's format and
     * scale on them. NULL: round to nearest, as llama-quantize (FP4S: the same search, unweighted). */
    const char *calib_text;
    size_t calib_max_tokens;
    /* Mixed precision (docs/QUANTIZATION.md, "Mixed precision"), with quantize NULL: > 0 chooses one
     * standard type per weight matrix of the Transformer blocks, from the types of mix_types (NULL:
     * MXFP4, Q4_0, Q4_K, Q4_1, Q5_0, Q5_K, Q5_1, Q6_K, Q8_0), so that the bits per weight over those
     * matrices come as close to target_bpw as the matrices' sizes allow without exceeding it. Each
     * type is chosen by the matrix's activation-weighted quantization error on calib_text (NULL:
     * unweighted), greedily by error removed per extra bit. The token embedding and the output
     * matrix are not part of it: Q6_K, or Q8_0 when their width is no multiple of 256. A target
     * outside what the types reach is XF_ERR_INVALID_ARG naming the range, before anything is
     * written. */
    double target_bpw;
    const char *mix_types; /* comma-separated ggml type names, e.g. "Q4_0,Q8_0" */
    /* Mixed precision with a quality target (docs/QUANTIZATION.md, "--max-ppl-increase"), instead of
     * target_bpw (leave it 0; needs calib_text): > 0 writes the smallest target_bpw mixture (of
     * mix_types) whose quality loss on calib_text stays within max_ppl_increase percent — decoders:
     * the perplexity increase over the model as loaded, on calib_text's first calib_max_tokens tokens
     * (windows of up to 512); encoders: 100 x (1 - mean cosine) of the embeddings of calib_text's
     * first 256 non-empty lines to the loaded model's. The bits per weight are found by bisection
     * (at most XF_MIX_SEARCH_EVALS = 9 candidates, each written beside path under a temporary name,
     * loaded, measured and removed); a target that even the largest mixture misses is
     * XF_ERR_INVALID_ARG naming the loss it reaches, and nothing is written. Added after the fields
     * above (struct_size). */
    double max_ppl_increase;
    /* Called after each candidate of that search with progress_user, the candidates measured, the
     * most there will be, the candidate's bits per weight and its loss (percent). May be NULL. */
    void (*search_progress)(void *user, size_t done, size_t total, double bpw, double loss);
} xf_save_params;

static inline xf_save_params xf_save_default_params(void) {
    xf_save_params p = {sizeof(xf_save_params), XF_SAVE_F32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    return p;
}

/* Write a loaded (or edited) model as one GGUF v3 file that llama.cpp loads and that
 * xf_model_load reloads with bitwise the same outputs (docs/GGUF.md, "Writing GGUF"): llama.cpp's
 * architecture keys and tensor names (bert, llama, qwen2, gpt2; mistral as llama with its
 * window), layers whose head counts or FFN widths differ as per-layer arrays, GGUF quantized
 * weights as their blocks, other weights as F32 (params->outtype F16: 2-D ones as F16), the
 * tokenizer as tokenizer.ggml.* and what only xfmr understands under "xfmr." keys; a model other
 * readers would misread (query-head groups of different sizes) gets an architecture name they
 * refuse ("xfmr-llama", ...). The file is written beside path under a temporary name and renamed
 * over path at the end: path never holds a partial file. params NULL = defaults.
 * XF_ERR_INVALID_ARG for a bad argument or a path that is a directory, XF_ERR_IO (naming the path
 * and the system's reason) when it cannot be written, XF_ERR_UNSUPPORTED naming what cannot be
 * expressed in GGUF. */
XF_API xf_status xf_model_save(const xf_model *model, const char *path, const xf_save_params *params);

/* ------------------------------------------------- structural compression (docs/COMPRESSION.md) */

/* What xf_model_compress does to a loaded model. Methods run in this order, each calibrated on the
 * model as the methods before it left it: "rmsnorm" (GPT-2 style Pre-LN rewritten exactly as
 * Pre-RMSNorm), "heads" (attention heads removed), "ffn" (FFN neurons removed, nested slicing),
 * "lowrank" (FFN matrices as activation-aware low-rank pairs), "2:4" / "sparse" (2:4 sparsity of the
 * block weights, magnitude or Wanda). */
typedef struct xf_compress_params {
    size_t struct_size;  /* sizeof(xf_compress_params), set by xf_compress_default_params() */
    const char *methods; /* comma-separated list of the names above, e.g. "heads,ffn" */
    /* heads: fraction of each layer's query heads removed, in [0, 1) (at least one head stays); a
     * key/value head goes only when every query head of its group is gone (GQA). */
    float heads_prune;
    const float *heads_prune_layers; /* n_layers fractions (one per layer) instead, or NULL */
    size_t n_heads_prune_layers;
    /* ffn: fraction of each layer's FFN neurons kept, in (0, 1]; lowrank: fraction of each FFN
     * matrix's parameters kept by its rank (the same parameter count as slicing at that fraction). */
    float ffn_keep;
    const float *ffn_keep_layers; /* n_layers fractions instead, or NULL */
    size_t n_ffn_keep_layers;
    size_t lowrank_rank;          /* lowrank: this rank for every FFN matrix instead (0: from ffn_keep) */
    xf_sparsity_method sparse_method; /* 2:4: XF_SPARSE_MAGNITUDE (default), XF_SPARSE_WANDA or
                                         XF_SPARSE_SPARSEGPT */
    /* calibration text (UTF-8, NUL-terminated) for heads, ffn, lowrank and Wanda: its first
     * calib_max_tokens tokens (0: 4096) run through the model (forward passes) */
    const char *calib_text;
    size_t calib_max_tokens;
    /* called as the work advances: stage names the method, done of total steps; may be NULL */
    void (*progress)(void *user, const char *stage, size_t done, size_t total);
    void *progress_user;
    /* 1: with "2:4", the LM head pruned 2:4 too, by sparse_method and with the kept values of q8 / q4,
     * as xf_model_params.sparse_head does at load (a head tied to the embedding is untied; saved as
     * output.weight, S24 / S24Q8 / S24Q4); XF_ERR_INVALID_ARG without "2:4", XF_ERR_UNSUPPORTED
     * for a model without an LM head (an encoder). 0 (default): the head stays dense. Added after
     * the fields above (struct_size). */
    int sparse_head;
} xf_compress_params;

static inline xf_compress_params xf_compress_default_params(void) {
    xf_compress_params p = {sizeof(xf_compress_params), 0, 0, 0, 0, 1.0f, 0, 0, 0, XF_SPARSE_MAGNITUDE, 0, 0, 0, 0, 0};
    return p;
}

/* Apply the methods of params to a loaded model, in place: its plan and weights change (the
 * rewritten linear weights are float32, or the format xf_model_params.weights asked for), and
 * xf_model_save writes the result as a GGUF file that xf_model_load reloads with the same outputs
 * (docs/COMPRESSION.md). Do not use the model from another thread meanwhile; sessions made before
 * must be freed first. XF_ERR_INVALID_ARG for an unknown method or an option out of range (naming
 * it), XF_ERR_UNSUPPORTED for a method that does not apply to the model (e.g. rmsnorm on a model
 * without Pre-LN LayerNorms, 2:4 on an input width not a multiple of 4). */
XF_API xf_status xf_model_compress(xf_model *model, const xf_compress_params *params);

/* ------------------------------------------- adaptive compute for encoders (docs/ADAPTIVE.md) */

/* Token pruning and early exit, set on a loaded encoder; every xf_embed* call then uses them.
 * Defaults change nothing (bitwise the dense model). */
typedef struct xf_adaptive_params {
    size_t struct_size; /* sizeof(xf_adaptive_params), set by xf_adaptive_default_params() */
    /* Token pruning by Attention Context Contribution (the latency-adjustable encoder): after each
     * layer but the last, a text keeps the tokens that received the most attention in that layer
     * (mean over heads of the softmax weights summed over its queries); special tokens ([CLS],
     * [SEP], ...) and each text's first and last token are always kept. */
    float keep;                 /* (0, 1]: share of each text's tokens the last layer sees, the layers
                                   between on a geometric schedule (layer l >= 1 sees
                                   keep^(l / (n_layers - 1))); 1 = no pruning (default) */
    const float *keep_schedule; /* optional, overrides keep: n_keep_schedule = n_layers - 1 shares
                                   in (0, 1], non-increasing; entry l is the share layer l + 1 sees
                                   (copied by xf_model_set_adaptive) */
    size_t n_keep_schedule;
    int pool_pruned;            /* 1 (default): a pruned token still counts in mean/max pooling with
                                   its hidden state of the layer it left; 0: pooling sees only the
                                   tokens that reached the last layer (the paper's dropping);
                                   2: pruned tokens skip the middle layers and rejoin, with the
                                   state they left with, for the last layer (token dropping; the
                                   last layer sees every token; not with early exit) */
    /* Early exit: a text stops after the first layer l (l + 1 >= exit_min_layers) whose pooled
     * output has cosine >= exit_cosine with the pooled output of layer l - 1; its embedding is
     * then that layer's (its tokens leave the batch). */
    float exit_cosine;          /* (0, 1], or > 1 = off (default 2) */
    size_t exit_min_layers;     /* at least 2 (default 2) */
    size_t keep_min;            /* token pruning never takes a text below this many tokens
                                   (default 64: short texts such as queries are not pruned) */
    int merge;                  /* 1: reach keep's shares by token merging instead (ToMe, Bolya et al.
                                   2023): the most similar pairs of hidden states (cosine, bipartite
                                   matching) become their size-weighted mean, attention counts a row
                                   once per token it holds, and pooling sees every token with its
                                   row's final state; special, first and last tokens stay alone.
                                   Not with early exit or pool_pruned != 1. 0 = pruning (default) */
} xf_adaptive_params;

static inline xf_adaptive_params xf_adaptive_default_params(void) {
    xf_adaptive_params p = {0};
    p.struct_size = sizeof(xf_adaptive_params);
    p.keep = 1.0f;
    p.pool_pruned = 1;
    p.exit_cosine = 2.0f;
    p.exit_min_layers = 2;
    p.keep_min = 64;
    return p;
}

/* Use params (NULL = off) for the model's xf_embed* calls. XF_ERR_UNSUPPORTED for decoders;
 * XF_ERR_RANGE for keep or a schedule entry outside (0, 1], a schedule that grows or whose
 * length is not n_layers - 1, exit_cosine <= 0 or NaN, exit_min_layers above n_layers;
 * XF_ERR_INVALID_ARG for an unknown struct_size. Resets the statistics. */
XF_API xf_status xf_model_set_adaptive(xf_model *model, const xf_adaptive_params *params);

/* What the adaptive methods did since they were set or last reset. */
typedef struct xf_adaptive_stats {
    size_t struct_size;         /* sizeof(xf_adaptive_stats), set by xf_adaptive_stats_init() */
    uint64_t n_texts;           /* texts embedded */
    double mean_layers;         /* mean encoder layers a text ran through */
    uint64_t token_layers;      /* tokens processed, summed over layers and texts */
    uint64_t token_layers_dense; /* the same for the dense model (every token, every layer) */
} xf_adaptive_stats;

static inline xf_adaptive_stats xf_adaptive_stats_init(void) {
    xf_adaptive_stats st = {0};
    st.struct_size = sizeof(xf_adaptive_stats);
    return st;
}

/* Fill *out (initialised with xf_adaptive_stats_init()); reset != 0 then zeroes the counters. */
XF_API xf_status xf_model_adaptive_stats(xf_model *model, xf_adaptive_stats *out, int reset);

/* Calibrated early exit: embeds the n calibration texts at full depth (with the model's pruning
 * settings) and sets exit_cosine to the smallest threshold for which every calibration text's
 * early-exit embedding has cosine >= target with its full-depth embedding (> 1, i.e. off, when
 * none does); *threshold (may be NULL) receives it. Other adaptive settings are kept. */
XF_API xf_status xf_model_calibrate_exit(xf_model *model, const char *const *texts, size_t n, float target,
                                  float *threshold);

/* ------------------------------------------------------ language models */

/* Number of rows of the model's logits (its config's vocab_size); 0 for NULL. */
XF_API size_t xf_model_vocab_size(const xf_model *model);

/* Next-token logits of a decoder (llama, qwen2, mistral, gpt2): a full causal forward pass over the one sequence
 * ids[0..n) (no KV cache: every call recomputes all positions), writing logits[n * vocab_size]
 * (row t = the scores for the token after ids[t]). XF_ERR_UNSUPPORTED for models without an LM
 * head (encoders such as bert), XF_ERR_RANGE for an id outside [0, vocab_size) or n above
 * max_position_embeddings, XF_ERR_INVALID_ARG for n == 0. xf_embed on a decoder is
 * XF_ERR_UNSUPPORTED. */
XF_API xf_status xf_model_logits(xf_model *model, const int32_t *ids, size_t n, float *logits);

/* Cosine similarity of two vectors of length dim. */
XF_API float xf_cosine(const float *a, const float *b, size_t dim);

/* ============================================ sessions / generation (KV cache, sampling) */

/* A session is one growing token sequence of a decoder (llama, qwen2, mistral, gpt2) with its key/value cache,
 * so that each new token costs one token's forward pass instead of the whole prefix. It borrows
 * its model: free sessions before the model, and do not run two calls on sessions (or
 * xf_model_logits) of the same model at once (they share the model's thread pool). */
typedef struct xf_session xf_session;

/* Upper bound on the memory one session allocates (K and V caches plus scratch), in bytes. */
#ifndef XF_SESSION_MAX_BYTES /* raise it at build time with -DXF_SESSION_MAX_BYTES=... */
#define XF_SESSION_MAX_BYTES ((uint64_t)1 << 36) /* 64 GiB */
#endif

/* Element type of a session's KV cache. */
typedef enum xf_kv_type {
    XF_KV_F32 = 0, /* float32: results bitwise those of the model's whole-sequence forward path */
    XF_KV_F16 = 1, /* IEEE half: half the memory, keys and values rounded to 11 significant bits */
    /* 8-bit: blocks of 32 values of a token with a half scale (llama.cpp's Q8_0 cache type), 8.5
     * bits a value, 27% of F32's memory; works with every kv_policy. */
    XF_KV_Q8 = 2,
    /* 4-bit KIVI (Liu et al., 2024): keys quantized per channel over groups of 32 tokens, values
     * per token in groups of 32 channels, asymmetric (half scale + half minimum), 5 bits a value;
     * the newest (< 32) tokens stay float32 until their group is complete. Keep-all policy only. */
    XF_KV_Q4 = 3
} xf_kv_type;

typedef struct xf_session_params {
    size_t struct_size;   /* sizeof(xf_session_params), set by xf_session_default_params() */
    size_t n_ctx;         /* most tokens the session holds; 0 = the model's max_position_embeddings */
    size_t n_ctx_reserve; /* cache slots allocated up front (0 = a small start); grows as needed */
    xf_kv_type kv_type;   /* default XF_KV_F32 */
    /* KV eviction (docs/LONG_CONTEXT.md): NULL or "keep-all" keeps every token (n_ctx bounds the
     * session); "streaming" (attention sinks + recent window), "h2o" (heavy hitters + recent
     * window), "snapkv" (prompt keys chosen by the last queries' attention), or "h2o-head" /
     * "snapkv-head" (the same per key/value head) keep kv_budget slots per layer between
     * forwards, so a session goes on past its cache budget (positions still end at
     * max_position_embeddings). */
    const char *kv_policy;
    size_t kv_budget;     /* slots per layer; required (> 0) with an evicting policy */
    /* Quest sparse attention at decode (docs/LONG_CONTEXT.md): each single-token step reads, per
     * key/value head, only the pages of quest_page cached keys whose keys can score highest for
     * its query (per-channel key bounds), about quest_budget keys, plus the first (attention
     * sinks) and the newest page; 0 = every key. Layers with a sliding window and prefill stay
     * dense. Added after the fields above (struct_size). */
    size_t quest_budget;
    size_t quest_page; /* slots per Quest page, 1..1024; 0 = 16 (the paper's) */
} xf_session_params;

static inline xf_session_params xf_session_default_params(void) {
    xf_session_params p = {0}; /* kv_policy NULL: keep every token */
    p.struct_size = sizeof(xf_session_params);
    p.kv_type = XF_KV_F32;
    return p;
}

/* Create a session holding up to params->n_ctx tokens (params NULL = defaults). The KV cache is
 * allocated for the tokens the session holds and grows (doubling) as they arrive, up to n_ctx:
 * a session of a 32K-context model that holds 100 tokens uses memory for ~256 of them, not 32K.
 * XF_ERR_UNSUPPORTED for encoders (bert), XF_ERR_RANGE when n_ctx exceeds max_position_embeddings
 * or a full cache would exceed XF_SESSION_MAX_BYTES (or overflow size_t), XF_ERR_INVALID_ARG for
 * an unknown struct_size or kv_type, XF_ERR_NOMEM when allocation fails. */
XF_API xf_status xf_session_create_ex(xf_model *model, const xf_session_params *params, xf_session **out);
/* xf_session_create_ex with default parameters but n_ctx. */
XF_API xf_status xf_session_create(xf_model *model, size_t n_ctx, xf_session **out);
XF_API void xf_session_free(xf_session *s);
/* Forget all tokens (n_past = 0); keeps the memory. */
XF_API void xf_session_reset(xf_session *s);
/* Tokens evaluated so far (0 for NULL). */
XF_API size_t xf_session_n_past(const xf_session *s);
/* Capacity n_ctx of the session (0 for NULL). */
XF_API size_t xf_session_n_ctx(const xf_session *s);
/* Bytes of KV cache the session has allocated now (0 for NULL). */
XF_API size_t xf_session_kv_bytes(const xf_session *s);

/* Append ids[0..n) (n >= 1) at positions n_past .. n_past + n - 1: a prefill when n > 1, one
 * decode step when n == 1; a prompt may be fed in any number of calls with bitwise-identical
 * results (with an f32, f16 or q8 cache; a q4 cache quantizes keys 32 tokens at a time, so what a
 * query reads depends on which groups were complete when it ran). logits_last (vocab_size floats, may be NULL) receives the next-token logits after the
 * last appended token — the same values (up to float rounding, ~1e-6 relative) as the last row of
 * xf_model_logits over the whole sequence. Results do not depend on the thread count.
 * XF_ERR_RANGE (n_past unchanged) when n_past + n exceeds n_ctx or max_position_embeddings or an
 * id is outside [0, vocab_size); XF_ERR_INVALID_ARG for n == 0 or NULL pointers; XF_ERR_NOMEM
 * when the cache cannot grow (the tokens of earlier chunks of this call stay evaluated). */
XF_API xf_status xf_session_eval(xf_session *s, const int32_t *ids, size_t n, float *logits_last);

/* One decode step of n sessions of the same model at once (continuous batching): session i
 * appends ids[i]; logits (n x vocab_size floats, may be NULL) receives each session's next-token
 * logits, row i for session i. One batched product per layer instead of n. With float weights
 * each row is bitwise what xf_session_eval(ss[i], &ids[i], 1, ...) gives; so it is with GGUF block
 * weights up to 8 rows (8 to 32 by type: the kernels' GEMV row limit), above which a product takes
 * the GEMM path, equal within float rounding. Sessions must be distinct.
 * Checks every session before changing any; XF_ERR_RANGE when one is full. */
XF_API xf_status xf_session_step_batch(xf_session *const *sessions, size_t n, const int32_t *ids, float *logits);
/* The prompts of n sessions of the same model at once (continuous batching admits several
 * requests together): session i appends lens[i] tokens, ids holding every session's tokens one
 * after another; logits_last (n x vocab_size floats, may be NULL) receives each session's
 * next-token logits, row i for session i. The prompts of 33 to 256 tokens run as one forward
 * pass (one batched product per layer, so the weights are unpacked once for all of them), the
 * others alone (xf_session_eval); each session ends bitwise as xf_session_eval(ss[i], its ids, ...)
 * leaves it. Sessions must be distinct. Checks every session before changing any. */
XF_API xf_status xf_session_eval_batch(xf_session *const *sessions, size_t n, const int32_t *ids,
                                       const size_t *lens, float *logits_last);
/* Shared prompt prefixes (a server's prefix cache: chats that begin with the same system prompt).
 * xf_session_copy_prefix makes dst hold the first n tokens src holds (dst == src: src cut to its
 * first n); both must keep every token (no evicting kv_policy, no Quest) in an f32, f16 or q8
 * cache of one type (XF_ERR_UNSUPPORTED otherwise), n <= xf_session_n_past(src). */
XF_API xf_status xf_session_copy_prefix(xf_session *dst, const xf_session *src, size_t n);
/* The prompt ids[0..n) of which s holds the first xf_session_n_past(s) tokens (xf_session_copy_prefix
 * from a session that evaluated a prompt beginning with them): evaluates the rest so that the
 * session and logits_last are bitwise what xf_session_eval(s, ids, n, ...) from an empty session
 * gives. Held tokens that the whole prompt's forward would not compute as they were computed (a
 * decode step's, a short prompt's, or all of them with weights whose products depend on their
 * row count) are dropped and evaluated again (down to none: an empty session may be passed).
 * The held tokens must be the prompt's own: the session does not know their ids.
 * Errors as xf_session_eval. */
XF_API xf_status xf_session_eval_rest(xf_session *s, const int32_t *ids, size_t n, float *logits_last);
/* xf_session_eval_rest for n sessions at once, as xf_session_eval_batch lays out its arguments
 * (ids: every session's whole prompt one after another, lens[i] tokens each): the rests of the
 * prompts of 33 to 256 tokens run as one forward pass, the others alone; each session ends
 * bitwise as xf_session_eval_rest leaves it. Checks every session before changing any. */
XF_API xf_status xf_session_eval_rest_batch(xf_session *const *sessions, size_t n, const int32_t *ids,
                                            const size_t *lens, float *logits_last);

/* Sampling of the next token from logits. Steps, in this order (as transformers' logits
 * processors, then warpers):
 *   1. repetition_penalty r (HF semantics): for every distinct token in the history, a positive
 *      logit is divided by r, a negative one multiplied by r (r = 1 disables);
 *   2. presence / frequency penalties (OpenAI semantics): logit[t] -= presence_penalty * (count>0)
 *      + frequency_penalty * count, count = occurrences of t in the history;
 *   3. temperature 0: greedy — the arg max (lowest id on ties); otherwise logits / temperature;
 *   4. top_k (0 disables): keep the k highest logits (ties broken by lower id);
 *   5. top_p (1 disables): of the remaining tokens by decreasing probability, keep the smallest
 *      prefix whose probability mass reaches top_p (at least one token);
 *   6. min_p (0 disables): drop tokens whose probability is below min_p x the top probability;
 *   7. draw from the renormalised probabilities with the sampler's own PRNG (xoshiro256**
 *      seeded from `seed` through splitmix64): the same seed and inputs give the same tokens. */
typedef struct xf_sampler_params {
    size_t struct_size;       /* sizeof(xf_sampler_params), set by xf_sampler_default_params() */
    float temperature;        /* >= 0; default 1; 0 = greedy */
    int32_t top_k;            /* >= 0; default 0 (disabled) */
    float top_p;              /* in (0, 1]; default 1 (disabled) */
    float min_p;              /* in [0, 1); default 0 (disabled) */
    float repetition_penalty; /* > 0; default 1 (disabled) */
    float presence_penalty;   /* finite; default 0 */
    float frequency_penalty;  /* finite; default 0 */
    uint64_t seed;            /* default 0 */
} xf_sampler_params;

typedef struct xf_sampler xf_sampler;

static inline xf_sampler_params xf_sampler_default_params(void) {
    xf_sampler_params p = {sizeof(xf_sampler_params), 1.0f, 0, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 0};
    return p;
}
/* Validate params (XF_ERR_INVALID_ARG naming the parameter and its value) and allocate a sampler
 * for vocab_size logits (params NULL = defaults). */
XF_API xf_status xf_sampler_create(const xf_sampler_params *params, size_t vocab_size, xf_sampler **out);
XF_API void xf_sampler_free(xf_sampler *s);
/* Pick the next token into *out. logits (vocab_size floats) is modified in place (penalties and
 * temperature applied). history[0..n_hist) are the tokens so far, for the penalties (may be NULL
 * when n_hist == 0); an id outside the vocabulary is XF_ERR_RANGE. NaN logits count as -inf. */
XF_API xf_status xf_sampler_sample(xf_sampler *s, float *logits, const int32_t *history, size_t n_hist,
                            int32_t *out);

/* ==================================== end of sessions / generation (KV cache, sampling) */

/* ============================================================ chat templates */

/* Chat prompts. A model's own template text (tokenizer_config.json "chat_template", GGUF
 * "tokenizer.chat_template") is compiled by xfmr's Jinja engine and rendered as transformers'
 * apply_chat_template(tokenize=False) renders it (name "jinja"); Jinja beyond the subset chat
 * templates use is refused with a message naming the construct and its line and column.
 * Built-in formats, chosen by name (the --chat-template override), are rendered by C code:
 *   chatml   <|im_start|>role\n...<|im_end|>\n, no default system message
 *   smollm2  chatml + SmolLM2's default system message when the first message is not "system"
 *   qwen2    chatml + Qwen2's default system message ("You are a helpful assistant.")
 *   llama3   <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
 *   llama2   <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s>
 *   mistral  <s>[INST] ... [/INST]...</s> (Mistral-7B-Instruct v0.1/v0.2; no system message)
 *   zephyr   <|system|>\n...</s>\n<|user|>\n...</s>\n<|assistant|>\n
 * See docs/CHAT.md. */
typedef struct xf_chat_template xf_chat_template;

typedef struct xf_chat_message {
    const char *role;    /* "system", "user", "assistant" (a Jinja template may take others: "tool") */
    const char *content; /* NUL-terminated UTF-8 */
} xf_chat_message;

/* Compile a model's Jinja template. bos_token / eos_token: the texts the template sees as
 * bos_token / eos_token (NULL: undefined, as transformers leaves a token the model has none of).
 * XF_ERR_UNSUPPORTED (Jinja outside the subset) or XF_ERR_INVALID_ARG (malformed Jinja), with a
 * message naming the construct, line and column. Stop strings: eos_token and the end-of-turn
 * markers the template writes (<|im_end|>, <|eot_id|>, <|end|>, <end_of_turn>, ...).
 * strftime_now() in a template reads the clock, or SOURCE_DATE_EPOCH (UTC) when it is set. */
XF_API xf_status xf_chat_template_from_text(const char *template_text, const char *bos_token,
                                     const char *eos_token, xf_chat_template **out);
/* xf_chat_template_from_text(template_text, NULL, NULL, out). */
XF_API xf_status xf_chat_template_detect(const char *template_text, xf_chat_template **out);
/* A built-in format by name (the --chat-template override); XF_ERR_UNSUPPORTED for another name. */
XF_API xf_status xf_chat_template_from_name(const char *name, xf_chat_template **out);
XF_API void xf_chat_template_free(xf_chat_template *tmpl);
/* The built-in names: "chatml, smollm2, qwen2, llama3, llama2, mistral, zephyr". Never NULL. */
XF_API const char *xf_chat_template_names(void);
/* Name of a template ("jinja" for a model's own, else a built-in name; "" for NULL). */
XF_API const char *xf_chat_template_name(const xf_chat_template *tmpl);
/* The system message a ChatML template inserts when the first message is not one, or NULL. */
XF_API const char *xf_chat_template_default_system(const xf_chat_template *tmpl);
/* Strings that end the assistant's turn, to stop generation on (e.g. "<|im_end|>", "<|eot_id|>",
 * "</s>"); *n gets their count. Owned by the template. */
XF_API const char *const *xf_chat_template_stops(const xf_chat_template *tmpl, size_t *n);
/* 1 when the rendered text is to be tokenized without the special tokens the tokenizer adds
 * (the template writes its own BOS: llama3, llama2, mistral; and every Jinja template, as
 * transformers tokenizes a rendered chat with add_special_tokens=False). */
XF_API int xf_chat_template_adds_bos(const xf_chat_template *tmpl);

/* Render msgs[0..n) (n >= 1) into *out (NUL-terminated, free with free()); *len (may be NULL)
 * gets its byte length. add_generation_prompt appends the opening of an assistant turn (llama2
 * and mistral templates have none). XF_ERR_INVALID_ARG, with a message naming the message index,
 * for NULL fields, an empty role (a built-in format: a role other than system/user/assistant),
 * and where the template raises an exception (Jinja: "chat template error: MSG"; llama2: an
 * optional first system message, then user/assistant alternation starting with user; mistral
 * the same without any system message). XF_ERR_RANGE when a Jinja template exceeds the limits
 * on steps (10 million), memory (256 MiB) or output (16 MiB). */
XF_API xf_status xf_chat_render(const xf_chat_template *tmpl, const xf_chat_message *msgs, size_t n,
                         int add_generation_prompt, char **out, size_t *len);
/* The same for messages given as a JSON array in transformers' / OpenAI's format (objects with
 * "role", "content", "tool_calls", "reasoning_content", ...), and vars_json (may be NULL) a JSON
 * object of more template variables: "tools" (function schemas), "documents", and keywords such
 * as "enable_thinking". A built-in format takes string role/content only and ignores vars_json. */
XF_API xf_status xf_chat_render_json(const xf_chat_template *tmpl, const char *messages_json,
                              const char *vars_json, int add_generation_prompt, char **out,
                              size_t *len);
/* The chat template of a loaded model: its own (xf_model_chat_template) compiled with
 * xf_chat_template_from_text, bos_token the special token its tokenizer puts before a text (if
 * one) and eos_token the token of xf_model_eos_id. XF_ERR_NOT_FOUND when the model has none. */
XF_API xf_status xf_chat_template_from_model(const xf_model *model, xf_chat_template **out);

/* ===================================================== end of chat templates */

/* ================================================================ text generation helpers */

/* Perplexity of ids[0..n) by the strided sliding-window method of the Hugging Face guide
 * "Perplexity of fixed-length models": for begin = 0, stride, 2 stride, ... the window
 * ids[begin .. end), end = min(begin + window, n), is run through the model (xf_model_logits)
 * and its last trg_len = end - prev_end tokens are the targets (the tokens before them are
 * context only); the window's loss is the mean negative log-likelihood (log-softmax in double) of
 * its scored predictions — each target t predicted from the tokens of the window before it, so a
 * window of L tokens scores min(trg_len, L - 1) predictions — weighted, as in the guide, by
 * trg_len - 1; the loop ends with the window that reaches n. *nll_sum (may be NULL) gets the sum of
 * mean x weight, *n_scored (may be NULL) the sum of the weights, *ppl = exp(nll_sum / n_scored).
 * A window with no prediction (one token) adds nothing (the guide would give NaN).
 * XF_ERR_INVALID_ARG (naming the value) for window < 2, stride outside [1, window], n < 2 or NULL
 * pointers; XF_ERR_RANGE when min(window, n) exceeds max_position_embeddings or an id is outside
 * the vocabulary; XF_ERR_UNSUPPORTED for models without an LM head. */
XF_API xf_status xf_perplexity(xf_model *model, const int32_t *ids, size_t n, size_t window, size_t stride,
                        double *ppl, double *nll_sum, size_t *n_scored);

/* Progress of a long computation: done of total units so far. */
typedef void (*xf_progress_fn)(void *user, size_t done, size_t total);
/* xf_perplexity, calling progress(user, windows done, windows in all) after each window when
 * progress is not NULL (for a progress bar); the results are the same. */
XF_API xf_status xf_perplexity_progress(xf_model *model, const int32_t *ids, size_t n, size_t window,
                                 size_t stride, double *ppl, double *nll_sum, size_t *n_scored,
                                 xf_progress_fn progress, void *user);

/* The model's chat template text: "chat_template" of <model folder>/tokenizer_config.json (a
 * string, or a list of {"name", "template"} of which the one named "default"), or, for a model
 * loaded from a .gguf file (the path, or a folder whose only weight file is a .gguf), the GGUF key
 * tokenizer.chat_template. NULL when there is none (or it cannot be read). The text is owned by
 * the library, valid until the next xf_model_chat_template call on the same thread. */
XF_API const char *xf_model_chat_template(const xf_model *model);

/* The sampling settings the model ships with, written over *params (fields the model does not
 * set keep their values; start from xf_sampler_default_params() or your own defaults):
 *   - a model folder's generation_config.json, read as transformers does: do_sample false or
 *     absent means greedy (temperature 0, no top-k/top-p/min-p); do_sample true takes temperature,
 *     top_k, top_p, min_p with GenerationConfig's defaults (1.0, 50, 1.0, none) for those absent;
 *     repetition_penalty either way. A file without any of these keys says nothing;
 *   - a GGUF file's general.sampling.temp / top_k / top_p / min_p / penalty_repeat (the keys
 *     llama.cpp's converter writes from generation_config.json); each present key is set.
 * The seed and the presence / frequency penalties are never touched. *source (may be NULL) gets
 * "generation_config.json" or "GGUF general.sampling.*" when the model gave settings, else NULL
 * (*params unchanged). XF_ERR_FORMAT / XF_ERR_RANGE, naming the file and field, for a malformed
 * file or a value outside the sampler's ranges (then *params is unchanged). */
XF_API xf_status xf_model_sampler_defaults(const xf_model *model, xf_sampler_params *params, const char **source);

/* The model's end-of-sequence token id: eos_token_id of generation_config.json, else of
 * config.json (the first one when it is a list), or, for a GGUF model, tokenizer.ggml.eos_token_id;
 * -1 when none is known. */
XF_API int32_t xf_model_eos_id(const xf_model *model);

/* ========================================================= end of text generation helpers */

/* ================================================================== search */

/* Semantic search over files: documents are cut into chunks (by their structure, or in
 * fixed-size token windows), each chunk embedded with the model (its heading path prepended) and
 * stored with its vector; a query is embedded the same way and the chunks with the highest
 * cosine similarity are returned. Stores: a SQLite file (exact search), or PostgreSQL with the
 * pgvector extension (db = "postgresql://..."; HNSW index, or an exact scan on request).
 * See docs/SEARCH.md. An index handle is not thread-safe; it borrows its model. */
typedef struct xf_index xf_index;

typedef enum xf_chunker {
    XF_CHUNKER_DOM = 0,  /* by structure: sections under their headings, paragraphs, lists,
                            tables, code blocks (HTML, Markdown); paragraphs in plain text */
    XF_CHUNKER_FIXED = 1 /* the document's text in windows of chunk_tokens tokens (baseline) */
} xf_chunker;

typedef struct xf_index_params {
    xf_chunker chunker;    /* default XF_CHUNKER_DOM */
    size_t chunk_tokens;   /* tokens per chunk, heading path and special tokens included;
                              0 = the model's max length */
    size_t overlap_tokens; /* XF_CHUNKER_FIXED: tokens shared by consecutive windows; default 0 */
    size_t batch_size;     /* chunks embedded together; 0 = a default */
    int read_only;         /* 1: open an existing index for searching only */
} xf_index_params;

XF_API xf_index_params xf_index_default_params(void);

/* Open the index at db (a SQLite file path, or a postgresql:// URI), creating it unless
 * read_only. The index records the model's name (its folder's or file's base name) and vector
 * width: opening it with another model is XF_ERR_FORMAT, naming both. A store that is locked
 * by another writer, read-only when writing, or not an index is an error naming it. */
XF_API xf_status xf_index_open(const char *db, xf_model *model, const xf_index_params *params,
                        xf_index **out);
/* Commits pending work (see xf_index_commit) and closes. */
XF_API void xf_index_free(xf_index *ix);
/* The model an existing index was built with: its name, the absolute path it was loaded from
 * (model_path may be NULL; *model_path is NULL when not recorded) and the vector width. The
 * strings are malloc'ed: free() them. */
XF_API xf_status xf_index_model(const char *db, char **model_name, char **model_path, size_t *dim);

typedef enum xf_index_change {
    XF_INDEX_UNCHANGED = 0, /* same content (SHA-256) and chunking as indexed: nothing done */
    XF_INDEX_ADDED = 1,
    XF_INDEX_UPDATED = 2,   /* the old chunks were replaced */
    XF_INDEX_SKIPPED = 3    /* binary (NUL bytes in its first 8 KiB): not indexed */
} xf_index_change;

typedef struct xf_index_result {
    xf_index_change change;
    size_t n_chunks; /* chunks written */
    size_t n_tokens; /* tokens embedded */
} xf_index_result;

/* Index one file (its format from the name: .md/.markdown, .html/.htm/.xhtml, else text) under
 * its absolute path. Writes are grouped in transactions committed every few documents and by
 * xf_index_commit / xf_index_free: a crash loses at most the uncommitted ones, which a rerun
 * indexes again (a document and its chunks are always replaced together). res may be NULL. */
XF_API xf_status xf_index_add_file(xf_index *ix, const char *path, xf_index_result *res);
/* The same for a document held in memory, stored under `name` (its format from the name). */
XF_API xf_status xf_index_add_text(xf_index *ix, const char *name, const char *data, size_t len,
                            xf_index_result *res);
/* Commit the pending transaction. */
XF_API xf_status xf_index_commit(xf_index *ix);
/* Remove documents whose path starts with prefix (NULL = all) and whose file no longer exists.
 * n_removed may be NULL. */
XF_API xf_status xf_index_remove_missing(xf_index *ix, const char *prefix, size_t *n_removed);
XF_API xf_status xf_index_stats(xf_index *ix, size_t *n_docs, size_t *n_chunks);

typedef struct xf_search_params {
    size_t k;          /* results; default 10 */
    int exact;         /* PostgreSQL: 1 = exact scan instead of the HNSW index (SQLite: always) */
    size_t ef_search;  /* PostgreSQL HNSW search breadth (hnsw.ef_search, at most 1000); 0 =
                          max(200, 4k): recall@10 >= 0.98 of exact in docs/SEARCH.md */
    xf_model *rerank;  /* cross-encoder to re-rank the candidates; NULL = none. Not available
                          yet: a non-NULL value is XF_ERR_UNSUPPORTED */
} xf_search_params;

XF_API xf_search_params xf_search_default_params(void);

/* One result. Strings are owned by the hit list. */
typedef struct xf_search_hit {
    float score;          /* cosine similarity of query and chunk */
    const char *path;     /* the document */
    const char *heading;  /* heading path, "Title > Section" ("" if none) */
    const char *anchor;   /* id of the enclosing section / definition in HTML ("" if none) */
    uint32_t line_start, line_end; /* source lines of the chunk, 1-based */
    const char *text;     /* the chunk's text */
    int64_t chunk_id;
} xf_search_hit;

/* The best chunks for a query text, best first (*n may be below k). Free with
 * xf_search_hits_free. */
XF_API xf_status xf_search(xf_index *ix, const char *query, const xf_search_params *params,
                    xf_search_hit **hits, size_t *n);
/* The same for a query vector of xf_model_embedding_dim floats (it is L2-normalised first). */
XF_API xf_status xf_search_vector(xf_index *ix, const float *query, const xf_search_params *params,
                           xf_search_hit **hits, size_t *n);
XF_API void xf_search_hits_free(xf_search_hit *hits, size_t n);

/* ============================================================== end of search */

#ifdef __cplusplus
}
#endif
#endif /* XFMR_H */
