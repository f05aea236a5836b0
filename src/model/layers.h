/* layers.h — Transformer building blocks shared by every architecture file: linear layers over
 * typed weights, learned embeddings, norms, multi-head attention over packed sequences, FFNs,
 * pooling. Architecture files (bert.c, ...) only compose these.
 *
 * Activations are "packed": the tokens of all sequences of a batch are consecutive rows of one
 * [T, hidden] matrix, sequence s owning rows [off[s], off[s+1]); nothing is padded, and a token's
 * result never depends on which other sequences share its batch. */
#ifndef XF_MODEL_LAYERS_H
#define XF_MODEL_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "model/weights.h"

typedef struct xf_linear_w {
    xf_weight w; /* [out, in] */
    xf_weight b; /* [out]; data NULL when the layer has no bias */
} xf_linear_w;

typedef struct xf_norm_w {
    xf_weight g; /* [n] gain */
    xf_weight b; /* [n] bias: LayerNorm; data NULL: RMSNorm (x / rms(x) * g, no centring) */
    float eps;
} xf_norm_w;

typedef struct xf_attn_w {
    xf_linear_w q, o; /* q: [heads*dh, hidden]; o: [hidden, heads*dh] */
    xf_linear_w k, v; /* [kv_heads*dh, hidden] */
} xf_attn_w;

typedef struct xf_ffn_w {
    xf_linear_w up;   /* [ffn, hidden] */
    xf_linear_w down; /* [hidden, ffn] */
    xf_linear_w gate; /* [ffn, hidden]: gated (SwiGLU) FFNs only */
} xf_ffn_w;

/* What the forward pass does in one layer. Methods that prune heads, narrow the FFN or change the
 * attention span edit the plan (and the weights), never the forward code. */
typedef enum xf_attn_kind { XF_ATTN_DENSE = 0 } xf_attn_kind;
/* The FFN activation of xf_ffn_gelu (0 = the erf GELU of BERT). */
typedef enum xf_ffn_act { XF_ACT_GELU_ERF = 0, XF_ACT_GELU_TANH, XF_ACT_SWIGLU } xf_ffn_act;

typedef struct xf_layer_plan {
    xf_attn_kind attn;
    size_t n_heads;   /* query heads computed in this layer */
    size_t head_dim;
    size_t ffn_width; /* hidden units of the FFN */
    size_t n_kv_heads; /* key/value heads (grouped-query attention): query head h reads kv head
                        * h / (n_heads / n_kv_heads); equal to n_heads for plain multi-head */
    int causal;        /* 1: token i attends to tokens <= i of its sequence (decoders) */
    const float *rope_cos, *rope_sin; /* [positions, head_dim/2] rotary tables applied to Q and K
                                       * after projection (position = index in the sequence);
                                       * NULL: no rotary embedding */
    size_t window;     /* attention span (causal only): 0 = every earlier token; W > 0 = query i
                        * attends keys j with i - W < j <= i (Mistral's sliding window) */
    xf_ffn_act act;    /* activation of xf_ffn_gelu */
} xf_layer_plan;

/* A packed batch of token sequences. */
typedef struct xf_batch {
    size_t n_seq;
    const size_t *off;       /* n_seq + 1 offsets into the token arrays */
    const int32_t *ids;      /* [T] */
    const int32_t *type_ids; /* [T] */
} xf_batch;

static inline size_t xf_batch_tokens(const xf_batch *b) { return b->off[b->n_seq]; }

/* Y[T, out] = X[T, in] W^T + b, with the kernel chosen by the weight's format (F32 GEMM, or
 * kernels/qmatmul.h for GGUF blocks). */
void xf_linear(xf_pool *pool, const xf_linear_w *l, const float *X, size_t T, float *Y);
/* Reserve, once at load, the per-thread pool scratch xf_linear needs for this weight. */
xf_status xf_linear_reserve(xf_pool *pool, const xf_weight *w);

/* X[t] = word[ids[t]] + pos[t - off(seq)] + type[type_ids[t]] (type may be NULL). Ids must
 * already be checked against the tables' sizes. */
void xf_embed_learned(const xf_batch *b, const xf_weight *word, const xf_weight *pos,
                      const xf_weight *type, float *X);

/* X[t] = word[ids[t]] (token embeddings only, as decoders use). Ids must already be checked. */
void xf_embed_tokens(const xf_batch *b, const xf_weight *word, float *X);
/* X[t] = word[ids[t]] for t < T, word F32 or GGUF blocks (only the rows needed are dequantized). */
void xf_embed_rows(const xf_weight *word, const int32_t *ids, size_t T, float *X);

/* X = Norm(X + R) over T rows (R may be NULL: X = Norm(X)), rows split over the pool. */
void xf_add_norm(xf_pool *pool, const xf_norm_w *n, float *X, const float *R, size_t T);

/* Scratch floats xf_mha needs for T tokens (linear in T: the attention kernel's own scratch is a
 * fixed per-thread block, xf_mha_attention_scratch). */
size_t xf_mha_scratch(const xf_layer_plan *p, size_t T, int n_threads);
size_t xf_mha_attention_scratch(const xf_layer_plan *p, int n_threads);
/* Multi-head attention as the plan says (bidirectional or causal, grouped-query, rotary):
 * Y[T, hidden] = O-projection of attention over each sequence of the batch. */
void xf_mha(xf_pool *pool, const xf_attn_w *w, const xf_layer_plan *p, const xf_batch *b,
            const float *X, float *Y, float *scratch);

/* The attention of one layer for T tokens at absolute positions p0 .. p0 + T - 1 of one sequence
 * whose earlier keys / values sit in a KV cache (a session): Q = q(Xn) into Q [T, heads*dh]; the
 * K / V projections are written straight into the cache rows p0.. of Kc / Vc (row stride ldkv =
 * kv_heads*dh); RoPE (if the plan has it) at the absolute positions; query t attends cache rows
 * [max(0, p0 + t + 1 - window), p0 + t] with xf_attention into O [T, heads*dh]; then
 * Y[T, hidden] = o(O). scratch: xf_mha_attention_scratch floats. */
void xf_mha_cached(xf_pool *pool, const xf_attn_w *w, const xf_layer_plan *p, const float *Xn, size_t T,
                   size_t p0, float *Kc, float *Vc, float *Q, float *O, float *scratch, float *Y);

/* Scratch floats xf_ffn_gelu and xf_ffn_swiglu need. */
size_t xf_ffn_scratch(const xf_layer_plan *p, size_t T);
/* Y = down(GELU(up(X))), the GELU variant the plan's act names. */
void xf_ffn_gelu(xf_pool *pool, const xf_ffn_w *w, const xf_layer_plan *p, const float *X,
                 size_t T, float *Y, float *scratch);
/* Y = down(SiLU(gate(X)) * up(X)) (LLaMA's gated FFN). */
void xf_ffn_swiglu(xf_pool *pool, const xf_ffn_w *w, const xf_layer_plan *p, const float *X,
                   size_t T, float *Y, float *scratch);
/* The FFN the plan's act names (xf_ffn_swiglu for XF_ACT_SWIGLU, else xf_ffn_gelu). */
void xf_ffn(xf_pool *pool, const xf_ffn_w *w, const xf_layer_plan *p, const float *X, size_t T,
            float *Y, float *scratch);

/* One pre-norm decoder block (llama, qwen2, mistral, gpt2): X += Attn(Norm1(X)); X += FFN(Norm2(X)). */
typedef struct xf_block_w {
    xf_layer_plan plan;
    xf_norm_w ln1;  /* before attention */
    xf_attn_w attn;
    xf_norm_w ln2;  /* before the FFN */
    xf_ffn_w ffn;
} xf_block_w;

/* The block over a packed batch X [T, hidden]. ws: Xn, Y [T, hidden] then the larger of
 * xf_mha_scratch and xf_ffn_scratch. */
void xf_block_prenorm(xf_pool *pool, const xf_block_w *w, const xf_batch *b, float *X, float *ws);
/* The block over T new tokens at positions p0.. of a session (KV cache rows Kc / Vc of n_ctx
 * positions). ws: Xn, Y [T, hidden]; Q, O [T, heads*dh]; FFN [xf_ffn_scratch]; attention
 * [xf_mha_attention_scratch]. */
void xf_block_prenorm_cached(xf_pool *pool, const xf_block_w *w, float *X, size_t T, size_t p0, float *Kc,
                             float *Vc, float *ws);

#endif
