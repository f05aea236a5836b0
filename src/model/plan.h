/* plan.h — a loaded model as data: the embeddings, a list of layer plans and the head. Each layer
 * plan says what its attention and FFN are (heads kept, key/value heads, head size, span, FFN
 * width, activation, norm kind and place) and holds its typed weights; shapes come from the
 * tensors in the file, so layers may differ from each other (pruned heads, narrower FFNs, another
 * weight format). Architecture files (bert.c, llama.c, gpt2.c) only fill a plan; forward.c walks
 * it; a compression method rewrites it (and its weights), never the forward code.
 *
 * One layer, pre-norm (decoders):   X = X + Attn(N_attn(X));   X = X + FFN(N_ffn(X))
 *            post-norm (BERT):      X = N_attn(X + Attn(X));   X = N_ffn(X + FFN(X)) */
#ifndef XF_MODEL_PLAN_H
#define XF_MODEL_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/rope.h"
#include "model/weights.h"

typedef struct xf_linear_w {
    xf_weight w; /* [out, in] */
    xf_weight b; /* [out]; data NULL when the layer has no bias */
    double *in_sq; /* calibration (sparsify.c): when set, xf_linear adds each input's squares here [in] */
    /* calibration of compression methods (src/compress/): when set, xf_linear adds each input's
     * |x| here [in]; the products x_i x_j (j >= i: upper triangles) of inputs i, j in the same
     * block of gram_block inputs here [in / gram_block][gram_block][gram_block] (block-diagonal
     * Gram matrix); and the products y_i y_j (j >= i) of its outputs without bias [out][out] */
    double *in_abs;
    double *in_gram;
    size_t gram_block;
    double *out_gram;
    /* with in_gram and gram_block == in: each call's X^T X is made by the float GEMM (the call's
     * rows summed in float, at most a calibration chunk) and then added in double; SparseGPT's
     * Hessians (src/compress/sparsegpt.c), where the double loop would take minutes */
    int gram_gemm;
} xf_linear_w;

typedef enum xf_norm_kind {
    XF_NORM_NONE = 0, /* identity */
    XF_NORM_LAYER,    /* (x - mean) / sqrt(var + eps) * g + b */
    XF_NORM_RMS       /* x / sqrt(mean(x^2) + eps) * g */
} xf_norm_kind;

typedef struct xf_norm_w {
    xf_norm_kind kind;
    xf_weight g; /* [n] gain */
    xf_weight b; /* [n] bias (LayerNorm; data NULL = no bias) */
    float eps;
} xf_norm_w;

/* Rotary tables shared by the layers that use them: cos / sin [n_pos, head_dim / 2], made from
 * params (kernels/rope.h). Dynamic NTK changes the base with the sequence length: a forward whose
 * sequence reaches past dyn_from positions gets its own rows (xf_fwd.rope_cos / rope_sin). */
typedef struct xf_rope_tab {
    size_t n_pos, half;
    float *cos, *sin;
    xf_rope_params params;
    size_t dyn_from;     /* dynamic NTK: the trained length L0; 0 = the tables serve every length */
    float *freq_factors; /* owned copy of params.freq_factors (GGUF rope_freqs.weight), or NULL */
} xf_rope_tab;

/* How attention scores are computed. Later methods (sparse patterns, ...) add kinds. */
typedef enum xf_attn_kind { XF_ATTN_DENSE = 0 } xf_attn_kind;

typedef struct xf_attn_plan {
    xf_attn_kind kind;
    size_t n_heads;    /* query heads computed in this layer */
    size_t n_kv_heads; /* key/value heads (grouped-query attention) */
    size_t head_dim;
    /* Query heads of kv head g: [q_off[g], q_off[g + 1]) — q_off[n_kv_heads] = n_heads. NULL: equal
     * groups of n_heads / n_kv_heads (what every unpruned model has); set when single query heads
     * were removed so groups differ in size. Owned by the plan. */
    size_t *q_off;
    int causal;              /* query at position p sees keys at positions <= p */
    size_t window;           /* span: 0 = every earlier key (causal) or every key; W > 0: keys at
                                p - W < k <= p (causal), |k - p| < W (bidirectional: ModernBERT's
                                local layers, W = local_attention / 2 + 1) */
    size_t sinks;            /* with a causal window: keys at positions < sinks stay visible too (StreamingLLM) */
    float block_density;     /* block-sparse prefill (attn_blocksparse.c): share of key blocks read; 0 = dense */
    float vslash_density;    /* vertical-slash prefill (attn_vslash.c): key budget / keys; 0 = dense */
    float probsparse;        /* > 0: ProbSparse attention with this factor (kernels/probsparse.h); 0: dense */
    int probsparse_exact;    /* ProbSparse: the sparsity measurement over every key, not a sample */
    const xf_rope_tab *rope; /* rotary embedding of Q and K at each token's position; NULL: none */
    float scale;             /* score scale, 1 / sqrt(head_dim) */
    xf_linear_w q, k, v, o;  /* q [heads*dh, hidden], k / v [kv_heads*dh, hidden], o [hidden, heads*dh] */
} xf_attn_plan;

typedef enum xf_ffn_act { XF_ACT_GELU_ERF = 0, XF_ACT_GELU_TANH, XF_ACT_SILU } xf_ffn_act;

typedef struct xf_ffn_plan {
    size_t width; /* hidden units */
    xf_ffn_act act;
    int gated;                  /* 1: down(act(gate(x)) * up(x)) (SwiGLU, GeGLU); 0: down(act(up(x))) */
    xf_linear_w up, gate, down; /* up / gate [width, hidden], down [hidden, width] */
} xf_ffn_plan;

typedef struct xf_layer {
    int post_norm;          /* 1: norms after the residual add (BERT); 0: before the sublayer */
    xf_norm_w norm_attn;    /* the attention sublayer's norm */
    xf_norm_w norm_ffn;     /* the FFN sublayer's norm */
    xf_attn_plan attn;
    xf_ffn_plan ffn;
} xf_layer;

typedef struct xf_plan {
    size_t hidden;
    xf_weight tok_emb;   /* [vocab, hidden] (f32 or GGUF blocks) */
    xf_weight pos_emb;   /* [positions, hidden] learned absolute positions; data NULL: none */
    xf_weight type_emb;  /* [type_vocab, hidden] token types; data NULL: none */
    xf_norm_w emb_norm;  /* after the embeddings (BERT); kind NONE: none */
    size_t n_layers;
    xf_layer *layers;
    xf_norm_w final_norm; /* before the head (decoders); kind NONE: none */
    xf_linear_w lm_head;  /* [vocab, hidden] decoders (the embedding when tied); w.data NULL: encoder */
    xf_rope_tab rope;     /* tables the layers point at (owned) */
    xf_rope_tab rope_local; /* a second base for some layers (ModernBERT's local layers); cos NULL: none */
} xf_plan;

/* Free what the plan owns (layers, rotary tables, q_off arrays); weights belong to the weight set. */
void xf_plan_free(xf_plan *p);

/* Check a layer's shapes against each other and the hidden size; layer names the layer in
 * messages (e.g. "model.layers.3"). */
xf_status xf_layer_check(const xf_layer *L, size_t hidden, const char *where);

/* Query heads of kv head g: [*h0, *h1). */
static inline void xf_attn_group(const xf_attn_plan *a, size_t g, size_t *h0, size_t *h1) {
    if (a->q_off) {
        *h0 = a->q_off[g], *h1 = a->q_off[g + 1];
        return;
    }
    const size_t group = a->n_heads / a->n_kv_heads;
    *h0 = g * group, *h1 = (g + 1) * group;
}

#endif
