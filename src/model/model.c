/* model.c — the public model API: loading a Hugging Face folder (config, sentence-transformers
 * layout, tokenizer, weights), picking the architecture, and embedding texts in packed batches
 * with the model's pooling and normalisation. */
#include "model/model.h"
#include "model/attn_vslash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/abi.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "io/gguf.h"
#include "io/gguf_model.h"
#include "kernels/ops.h"
#include "kernels/rope.h"
#include "model/forward.h"
#include "model/layers.h"

#define XF_DEFAULT_BATCH 32
#define XF_BATCH_TOKEN_BUDGET 2048 /* a batch is cut early when it would hold more tokens: keeps the
                                   * activations near 40 MB for BERT-base-sized widths, while 2048
                                   * rows already amortize every packed weight panel */

static const xf_arch *const k_archs[] = {&xf_arch_bert, &xf_arch_llama, &xf_arch_qwen2, &xf_arch_mistral,
                                         &xf_arch_gpt2, &xf_arch_modernbert};

void xf_model_free(xf_model *m) {
    if (!m) return;
    xf_adaptive_free(m->adaptive);
    xf_cls_head_free(m->cls_head);
    xf_plan_free(&m->plan);
    xf_tokenizer_free(m->tok);
    xf_weight_set_free(m->ws);
    xf_pool_free(m->pool);
    xf_fwd_ws_free(m->fws);
    free(m->fws);
    xf_hf_config_free(&m->cfg);
    free(m->hidden);
    free(m->offsets);
    free(m->attn_spans);
    free(m->quantization);
    free(m->path);
    free(m);
}

/* A GGUF file: config from its metadata, weights from its tensors, tokenizer from its
 * tokenizer.ggml.* keys. m->path is the file. */
static xf_status load_gguf(xf_model *m, char *file) {
    m->path = file;
    xf_gguf *g = NULL;
    xf_status st = xf_gguf_open(file, &g);
    if (st) return st;
    if ((st = xf_gguf_model_config(g, &m->cfg)) || (st = xf_gguf_model_layout(g, &m->cfg, &m->layout))) {
        xf_gguf_close(g);
        return st;
    }
    int has_tok = xf_gguf_find(g, "tokenizer.ggml.model") >= 0; /* else: no tokenizer (ids only) */
    if ((st = xf_weight_set_open_gguf(g, m->cfg.model_type, m->cfg.head_dim, &m->ws)))
        return st;
    return has_tok ? xf_tokenizer_load_gguf(file, &m->tok) : XF_OK;
}

static xf_status finish_load(xf_model *m, const char *path, const xf_model_params *p);

static xf_status load_parts(xf_model *m, const char *path, const xf_model_params *p) {
    xf_status st;
    char *gguf_file = NULL;
    if ((st = xf_gguf_model_resolve(path, &gguf_file))) return st;
    if (gguf_file) {
        if ((st = load_gguf(m, gguf_file))) return st;
        return finish_load(m, path, p);
    }
    if (!xf_is_dir(path)) {
        if (xf_is_file(path))
            return xf_error(XF_ERR_INVALID_ARG, "%s is a file; pass the model folder that contains config.json", path);
        return xf_error(XF_ERR_NOT_FOUND, "model folder %s does not exist", path);
    }
    if (!(m->path = xf_strdup(path))) return xf_error(XF_ERR_NOMEM, "out of memory");
    if ((st = xf_st_layout_load(path, &m->layout))) return st;
    char *tdir = m->layout.transformer_dir[0] ? xf_path_join(path, m->layout.transformer_dir) : xf_strdup(path);
    if (!tdir) return xf_error(XF_ERR_NOMEM, "out of memory");
    char **files = NULL;
    size_t n_files = 0;
    if (!(st = xf_hf_config_load(tdir, &m->cfg)) && !(st = xf_st_layout_check(&m->layout, &m->cfg, path)) &&
        !(st = xf_model_load_tokenizer_opt(tdir, &m->tok)))
        st = xf_hf_weight_files(tdir, &files, &n_files);
    free(tdir);
    if (st) return st;
    st = xf_weight_set_open(files, n_files, &m->ws);
    xf_hf_weight_files_free(files, n_files);
    if (st) return st;
    return finish_load(m, path, p);
}

/* xf_model_info.attn_spans of the plan: "full", "window W" or "local N" per layer. */
static xf_status describe_spans(xf_model *m) {
    const xf_plan *P = &m->plan;
    const size_t cap = P->n_layers * 24 + 1;
    char *s = xf_malloc(cap);
    if (!s) return xf_error(XF_ERR_NOMEM, "out of memory");
    size_t at = 0;
    s[0] = '\0';
    for (size_t l = 0; l < P->n_layers; l++) {
        const xf_attn_plan *a = &P->layers[l].attn;
        const char *sep = l ? "," : "";
        if (!a->window) at += (size_t)snprintf(s + at, cap - at, "%sfull", sep);
        else if (a->causal) at += (size_t)snprintf(s + at, cap - at, "%swindow %zu", sep, a->window);
        else at += (size_t)snprintf(s + at, cap - at, "%slocal %zu", sep, a->window - 1);
    }
    free(m->attn_spans);
    m->attn_spans = s;
    return XF_OK;
}

/* xf_model_info.attn_prefill: the sparse prefill set on every layer (attn_blocksparse.c,
 * attn_vslash.c, ProbSparse), or "" for dense. */
static xf_status describe_prefill(xf_model *m) {
    const size_t n = sizeof m->attn_prefill;
    char *d = m->attn_prefill;
    const xf_attn_plan *a = m->plan.n_layers ? &m->plan.layers[0].attn : NULL;
    d[0] = '\0';
    if (a && a->block_density > 0.0f) snprintf(d, n, "block-sparse %g", (double)a->block_density);
    else if (a && a->vslash_density > 0.0f) snprintf(d, n, "vertical-slash %g", (double)a->vslash_density);
    else if (a && a->probsparse > 0.0f) snprintf(d, n, "probsparse %g", (double)a->probsparse);
    return XF_OK;
}

/* xf_model_info.quantization: a GGUF file's general.file_type by llama.cpp's name (llama_model_ftype_name),
 * and xfmr.quantize.mix when the file is a mixture. */
static xf_status describe_quantization(xf_model *m) {
    static const struct { unsigned ft; const char *name; } k_ftypes[] = {
        {0, "all F32"}, {1, "F16"}, {2, "Q4_0"}, {3, "Q4_1"}, {7, "Q8_0"}, {8, "Q5_0"}, {9, "Q5_1"},
        {10, "Q2_K - Medium"}, {11, "Q3_K - Small"}, {12, "Q3_K - Medium"}, {13, "Q3_K - Large"},
        {14, "Q4_K - Small"}, {15, "Q4_K - Medium"}, {16, "Q5_K - Small"}, {17, "Q5_K - Medium"}, {18, "Q6_K"},
        {32, "BF16"}, {38, "MXFP4 MoE"}};
    const xf_gguf *g = xf_weight_set_gguf(m->ws);
    uint64_t ft = 0;
    const char *sp = NULL;
    size_t sp_len = 0;
    if (g && xf_gguf_get_str(g, "xfmr.sparsity", &sp, &sp_len) == XF_OK) { /* a 2:4 compressed file (save.c) */
        if (!(m->quantization = xf_malloc(sp_len + 1))) return xf_error(XF_ERR_NOMEM, "out of memory");
        memcpy(m->quantization, sp, sp_len);
        m->quantization[sp_len] = 0;
        return XF_OK;
    }
    if (!g || xf_gguf_get_uint(g, "general.file_type", &ft) != XF_OK) return XF_OK;
    const char *name = NULL, *mix = NULL;
    size_t mix_len = 0;
    for (size_t i = 0; i < sizeof k_ftypes / sizeof k_ftypes[0]; i++)
        if (k_ftypes[i].ft == (ft & 1023)) name = k_ftypes[i].name;
    if (xf_gguf_get_str(g, "xfmr.quantize.mix", &mix, &mix_len) != XF_OK) mix = NULL, mix_len = 0;
    const size_t cap = 96 + mix_len;
    if (!(m->quantization = xf_malloc(cap))) return xf_error(XF_ERR_NOMEM, "out of memory");
    int at = name ? snprintf(m->quantization, cap, "%s%s (general.file_type %llu)", mix ? "mostly " : "", name,
                             (unsigned long long)ft)
                  : snprintf(m->quantization, cap, "general.file_type %llu", (unsigned long long)ft);
    if (mix && at > 0) snprintf(m->quantization + at, cap - (size_t)at, "; xfmr mixture, %.*s", (int)mix_len, mix);
    return XF_OK;
}

/* Architecture, input limits, thread pool and the architecture's own load. */
static xf_status finish_load(xf_model *m, const char *path, const xf_model_params *p) {
    xf_status st;
    for (size_t i = 0; i < sizeof k_archs / sizeof k_archs[0]; i++)
        if (strcmp(k_archs[i]->name, m->cfg.model_type) == 0) m->arch = k_archs[i];
    if (!m->arch)
        return xf_error(XF_ERR_UNSUPPORTED, "%s/config.json: model_type \"%s\" is not supported (supported: bert, modernbert, llama, qwen2, mistral, gpt2)", path,
                        m->cfg.model_type);

    if ((st = xf_model_rope_config(&m->cfg, p, path))) return st;
    size_t limit = m->cfg.max_position_embeddings;
    m->max_length = m->layout.max_seq_length && m->layout.max_seq_length < limit ? m->layout.max_seq_length : limit;
    if (p->max_length) {
        if (p->max_length > limit)
            return xf_error(XF_ERR_RANGE, "max_length %zu is more than the model's max_position_embeddings %zu",
                            p->max_length, limit);
        m->max_length = p->max_length;
    }
    if (m->max_length < 2) return xf_error(XF_ERR_RANGE, "max_length %zu leaves no room for special tokens", m->max_length);
    if ((st = xf_pool_create(p->n_threads, &m->pool))) return st;
    if (!(m->fws = xf_calloc(1, sizeof *m->fws))) return xf_error(XF_ERR_NOMEM, "out of memory");
    m->weight_format = p->weights == XF_WEIGHTS_A8 ? XF_WEIGHTS_INT8 : p->weights;
    m->act_q8_all = p->weights == XF_WEIGHTS_A8;
    m->sparsity = p->sparsity;
    m->sparsity_method = p->sparsity_method;
    m->sparsity_ratio = p->sparsity_ratio > 0 ? p->sparsity_ratio : 0.5f;
    m->sparse_head = p->sparse_head;
    m->sparse_qbits = m->sparsity != XF_SPARSITY_2_4 ? 0
                      : p->weights == XF_WEIGHTS_INT8 || p->weights == XF_WEIGHTS_A8 ? 8
                      : p->weights == XF_WEIGHTS_INT4 ? 4 : 0;
    if (m->sparsity != XF_SPARSITY_NONE) m->weight_format = XF_WEIGHTS_F32; /* masks are made on floats */
    if ((st = m->arch->load(m)) || (st = xf_model_finish_plan(m)) || (st = xf_cls_head_load(m)) ||
        (st = xf_model_attn_spans(m, p->attn_window, p->attn_full_layers, p->attn_sinks)) ||
        (st = xf_model_block_sparse(m, p->attn_block_density)) ||
        (st = xf_model_probsparse(m, p->probsparse_factor, p->probsparse_exact)) ||
        (st = xf_model_vslash(m, p->attn_vslash_density)) ||
        (st = describe_spans(m)) || (st = describe_prefill(m)) || (st = describe_quantization(m)))
        return st;
    if (m->sparsity != XF_SPARSITY_NONE && m->sparsity_method == XF_SPARSE_WANDA)
        return xf_model_sparsify_calibrated(m, p->calib_text, p->calib_max_tokens);
    if (m->sparsity != XF_SPARSITY_NONE && m->sparsity_method == XF_SPARSE_SPARSEGPT)
        return xf_model_sparsegpt(m, p->calib_text, p->calib_max_tokens);
    return XF_OK;
}

/* The sparsity fields of xf_model_params: known values, and combinations that apply. */
static xf_status check_sparsity(const xf_model_params *p) {
    if (p->sparsity != XF_SPARSITY_NONE && p->sparsity != XF_SPARSITY_2_4 && p->sparsity != XF_SPARSITY_UNSTRUCTURED)
        return xf_error(XF_ERR_INVALID_ARG,
                        "sparsity %d is not one of XF_SPARSITY_NONE (0), XF_SPARSITY_2_4 (1), XF_SPARSITY_UNSTRUCTURED (2)",
                        (int)p->sparsity);
    if (p->sparsity_method != XF_SPARSE_MAGNITUDE && p->sparsity_method != XF_SPARSE_WANDA &&
        p->sparsity_method != XF_SPARSE_SPARSEGPT)
        return xf_error(XF_ERR_INVALID_ARG,
                        "sparsity_method %d is not one of XF_SPARSE_MAGNITUDE (0), XF_SPARSE_WANDA (1), XF_SPARSE_SPARSEGPT (2)",
                        (int)p->sparsity_method);
    if (!(p->sparsity_ratio >= 0.0f && p->sparsity_ratio < 1.0f))
        return xf_error(XF_ERR_RANGE, "sparsity_ratio %g is outside [0, 1) (0 = 0.5)", (double)p->sparsity_ratio);
    if (p->sparsity == XF_SPARSITY_2_4 && p->sparsity_ratio != 0.0f && p->sparsity_ratio != 0.5f)
        return xf_error(XF_ERR_INVALID_ARG, "sparsity_ratio %g does not apply to 2:4 sparsity, which removes half",
                        (double)p->sparsity_ratio);
    if (p->weights == XF_WEIGHTS_INT4 && p->sparsity != XF_SPARSITY_2_4)
        return xf_error(XF_ERR_UNSUPPORTED, "weights INT4 are the 4-bit kept values of 2:4 sparsity: they need sparsity "
                                            "2:4 (dense 4-bit weights: a Q4_0 / Q4_K GGUF file, xfmr quantize)");
    if (p->sparse_head != 0 && p->sparse_head != 1)
        return xf_error(XF_ERR_INVALID_ARG, "sparse_head %d is not 0 or 1", p->sparse_head);
    if (p->sparse_head && p->sparsity != XF_SPARSITY_2_4)
        return xf_error(XF_ERR_INVALID_ARG, "sparse_head (--sparse-head) prunes the LM head 2:4: it needs sparsity 2:4 (--sparsity 2:4)%s",
                        p->sparsity == XF_SPARSITY_UNSTRUCTURED ? ", not unstructured" : "");
    if (p->sparsity == XF_SPARSITY_NONE) {
        if (p->calib_text)
            return xf_error(XF_ERR_INVALID_ARG,
                            "calib_text is given but no sparsity: calibration is read by XF_SPARSE_WANDA and XF_SPARSE_SPARSEGPT");
        return XF_OK;
    }
    if (p->weights == XF_WEIGHTS_BF16 || ((p->weights == XF_WEIGHTS_INT8 || p->weights == XF_WEIGHTS_A8) && p->sparsity != XF_SPARSITY_2_4))
        return xf_error(XF_ERR_UNSUPPORTED,
                        "%s sparsity keeps float32 weights; it does not combine with weights %s yet (2:4 does with INT8)",
                        p->sparsity == XF_SPARSITY_2_4 ? "2:4" : "unstructured",
                        p->weights == XF_WEIGHTS_BF16 ? "BF16" : "INT8");
    if (p->sparsity_method != XF_SPARSE_MAGNITUDE && (!p->calib_text || !p->calib_text[0]))
        return xf_error(XF_ERR_INVALID_ARG, "the %s sparsity method needs calibration text (calib_text; --calib FILE)",
                        p->sparsity_method == XF_SPARSE_WANDA ? "Wanda" : "SparseGPT");
    if (p->sparsity_method == XF_SPARSE_MAGNITUDE && p->calib_text)
        return xf_error(XF_ERR_INVALID_ARG,
                        "calib_text is given but the magnitude method reads no calibration (use Wanda or SparseGPT)");
    return XF_OK;
}

xf_status xf_model_load(const char *path, const xf_model_params *params, xf_model **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_model_load: out is NULL");
    *out = NULL;
    if (!path || !*path) return xf_error(XF_ERR_INVALID_ARG, "xf_model_load: empty model path");
    xf_model_params p = xf_model_default_params();
    /* The first layout with struct_size (0.2.0) ends before the rope_* fields: those get defaults. */
    xf_status st0 = params ? xf_struct_in(&p, sizeof p, params, offsetof(xf_model_params, rope_scaling), "xf_model_params")
                           : XF_OK;
    if (st0) return st0;
    if (p.n_threads < 0) return xf_error(XF_ERR_INVALID_ARG, "n_threads %d is negative", p.n_threads);
    if (p.weights != XF_WEIGHTS_AS_STORED && p.weights != XF_WEIGHTS_INT8 && p.weights != XF_WEIGHTS_BF16 &&
        p.weights != XF_WEIGHTS_F32 && p.weights != XF_WEIGHTS_INT4 &&
        p.weights != XF_WEIGHTS_A8)
        return xf_error(XF_ERR_INVALID_ARG,
                        "weights format %d is not one of XF_WEIGHTS_AS_STORED (0), XF_WEIGHTS_INT8 (1), XF_WEIGHTS_BF16 (2), "
                        "XF_WEIGHTS_F32 (3), XF_WEIGHTS_INT4 (4), XF_WEIGHTS_A8 (5)",
                        (int)p.weights);
    if ((st0 = check_sparsity(&p))) return st0;
    xf_model *m = xf_calloc(1, sizeof *m);
    if (!m) return xf_error(XF_ERR_NOMEM, "cannot allocate the model");
    xf_status st = load_parts(m, path, &p);
    if (st) {
        xf_model_free(m);
        return st;
    }
    *out = m;
    return XF_OK;
}

const xf_tokenizer *xf_model_tokenizer(const xf_model *m) { return m ? m->tok : NULL; }
size_t xf_model_embedding_dim(const xf_model *m) { return m ? m->cfg.hidden_size : 0; }
size_t xf_model_max_length(const xf_model *m) { return m ? m->max_length : 0; }

xf_status xf_model_get_info(const xf_model *m, xf_model_info *out) {
    if (!m || !out) return xf_error(XF_ERR_INVALID_ARG, "xf_model_get_info: NULL argument");
    xf_model_info all = xf_model_info_init(), *info = &all;
    info->path = m->path;
    info->architecture = m->arch->name;
    info->pooling = xf_pooling_name(m->layout.pooling);
    info->normalize = m->layout.normalize;
    info->n_layers = m->cfg.num_hidden_layers;
    info->hidden = m->cfg.hidden_size;
    info->n_heads = m->cfg.num_attention_heads;
    info->intermediate = m->cfg.intermediate_size;
    info->vocab_size = m->cfg.vocab_size;
    info->max_position = m->cfg.max_position_embeddings;
    info->max_length = m->max_length;
    info->n_params = m->n_params;
    info->weight_bytes = xf_weight_set_tensor_bytes(m->ws);
    info->file_bytes = xf_weight_set_file_bytes(m->ws);
    info->dtypes = xf_weight_set_dtypes(m->ws);
    info->n_files = xf_weight_set_n_files(m->ws);
    info->files = xf_weight_set_paths(m->ws);
    info->has_tokenizer = m->tok != NULL;
    info->attn_spans = m->attn_spans;
    info->quantization = m->quantization;
    info->attn_prefill = m->attn_prefill[0] ? m->attn_prefill : NULL;
    info->is_decoder = m->plan.lm_head.w.data != NULL;
    if (info->is_decoder) {
        info->n_kv_heads = m->cfg.num_key_value_heads;
        info->head_dim = m->cfg.head_dim;
        info->rope_theta = m->plan.n_layers && m->plan.layers[0].attn.rope ? m->cfg.rope_theta : 0.0;
        info->sliding_window = m->cfg.sliding_window;
        info->tied_embeddings = m->cfg.tie_word_embeddings;
    }
    if (m->plan.rope.cos) {
        const xf_rope_params *rp = &m->plan.rope.params;
        const xf_rope_variant *v = xf_rope_variant_of(rp->kind);
        info->rope_scaling = v ? v->name : "?";
        info->rope_factor = rp->factor;
        info->rope_orig_ctx = (size_t)rp->original_max_position;
    }
    return xf_struct_out(out, &all, sizeof all, offsetof(xf_model_info, rope_scaling), "xf_model_info");
}

/* Pool the hidden states of one sequence (rows [0, n) of H) into out[dim]. */
static void pool_tokens(xf_pooling mode, const float *H, size_t n, size_t dim, float *out) {
    switch (mode) {
    case XF_POOL_CLS: memcpy(out, H, dim * sizeof *out); return;
    case XF_POOL_LAST: memcpy(out, H + (n - 1) * dim, dim * sizeof *out); return;
    case XF_POOL_MAX:
        memcpy(out, H, dim * sizeof *out);
        for (size_t t = 1; t < n; t++)
            for (size_t i = 0; i < dim; i++) out[i] = H[t * dim + i] > out[i] ? H[t * dim + i] : out[i];
        return;
    case XF_POOL_MEAN:
    case XF_POOL_MEAN_SQRT_LEN: {
        for (size_t i = 0; i < dim; i++) {
            float s = 0.0f;
            for (size_t t = 0; t < n; t++) s += H[t * dim + i];
            out[i] = s / (mode == XF_POOL_MEAN ? (float)n : sqrtf((float)n));
        }
        return;
    }
    }
}

/* Make sure m->hidden holds T tokens' hidden states plus their ids, type ids and positions, and
 * m->offsets n_seq + 1 offsets. */
static xf_status reserve_batch(xf_model *m, size_t T, size_t n_seq) {
    size_t need = T * m->cfg.hidden_size + 3 * T + 1;
    if (need > m->hidden_cap) {
        float *h = xf_aligned_alloc(need * sizeof(float));
        if (!h) return xf_error(XF_ERR_NOMEM, "cannot allocate hidden states for %zu tokens", T);
        free(m->hidden);
        m->hidden = h;
        m->hidden_cap = need;
    }
    if (n_seq + 1 > m->offsets_cap) {
        size_t *o = xf_realloc(m->offsets, (n_seq + 1) * sizeof *o);
        if (!o) return xf_error(XF_ERR_NOMEM, "cannot allocate batch offsets");
        m->offsets = o;
        m->offsets_cap = n_seq + 1;
    }
    return XF_OK;
}

/* The batch of reserve_batch as a forward pass over m->hidden: ids / types / positions after the
 * hidden states, positions 0.. in each sequence. */
static xf_fwd batch_fwd(xf_model *m, size_t T, size_t n_seq) {
    float *H = m->hidden;
    int32_t *ids = (int32_t *)(H + T * m->cfg.hidden_size), *types = ids + T, *pos = types + T;
    xf_fwd f = {.n_seq = n_seq, .off = m->offsets, .pos = pos, .ids = ids, .type_ids = types, .X = H};
    return f;
}

static xf_status run_forward(xf_model *m, xf_fwd *f) {
    const size_t T = f->off[f->n_seq];
    for (size_t s = 0; s < f->n_seq; s++)
        for (size_t t = f->off[s]; t < f->off[s + 1]; t++) f->pos[t] = (int32_t)(t - f->off[s]);
    xf_status st = xf_fwd_check(m, f);
    if (!st) st = xf_fwd_reserve(m, m->fws, T, f->n_seq);
    return st ? st : xf_forward(m, f, m->fws);
}

/* Run sequences [a, e) of encs as one packed batch; write their pooled vectors (pooling over the
 * tokens the forward pass kept). */
static xf_status run_batch(xf_model *m, const xf_encoding *encs, size_t a, size_t e, xf_pooling pooling,
                           int normalize, float *out) {
    const size_t dim = m->cfg.hidden_size;
    size_t T = 0;
    for (size_t i = a; i < e; i++) T += encs[i].n;
    xf_status rs = reserve_batch(m, T, e - a);
    if (rs) return rs;
    xf_fwd f = batch_fwd(m, T, e - a);
    size_t *off = f.off;
    off[0] = 0;
    for (size_t i = a; i < e; i++) {
        if (encs[i].n == 0) return xf_error(XF_ERR_INVALID_ARG, "encoding %zu is empty", i);
        if (encs[i].n > m->cfg.max_position_embeddings)
            return xf_error(XF_ERR_RANGE, "input %zu has %zu tokens, more than the model's %zu positions", i,
                            encs[i].n, m->cfg.max_position_embeddings);
        memcpy((int32_t *)f.ids + off[i - a], encs[i].ids, encs[i].n * sizeof *f.ids);
        memcpy((int32_t *)f.type_ids + off[i - a], encs[i].type_ids, encs[i].n * sizeof *f.type_ids);
        off[i - a + 1] = off[i - a] + encs[i].n;
    }
    f.hook = m->hook;
    f.hook_ctx = m->hook_ctx;
    f.want_acc = m->hook ? m->hook_want_acc : NULL;
    xf_status st = run_forward(m, &f);
    if (st) return st;
    for (size_t i = a; i < e; i++) {
        float *v = out + i * dim;
        pool_tokens(pooling, f.X + off[i - a] * dim, off[i - a + 1] - off[i - a], dim, v);
        if (normalize) xf_l2_normalize(v, dim, 1e-12f);
    }
    return XF_OK;
}

xf_status xf_embed_encodings(xf_model *m, const xf_encoding *encs, size_t n, size_t batch_size,
                             float *out) {
    if (!m || (n && (!encs || !out))) return xf_error(XF_ERR_INVALID_ARG, "xf_embed_encodings: NULL argument");
    return xf_model_pool_encodings(m, encs, n, batch_size, m->layout.pooling, m->layout.normalize, out);
}

xf_status xf_model_pool_encodings(xf_model *m, const xf_encoding *encs, size_t n, size_t batch_size,
                                  xf_pooling pooling, int normalize, float *out) {
    if (m->plan.lm_head.w.data)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: model_type \"%s\" is a decoder (language model); embedding it is not "
                        "supported (use xf_model_logits)", m->path, m->arch->name);
    if (batch_size == 0) batch_size = XF_DEFAULT_BATCH;
    size_t a = 0;
    while (a < n) {
        size_t e = a, tokens = 0;
        while (e < n && e - a < batch_size && (e == a || tokens + encs[e].n <= XF_BATCH_TOKEN_BUDGET)) tokens += encs[e++].n;
        xf_status st = run_batch(m, encs, a, e, pooling, normalize, out);
        if (st) return st;
        a = e;
    }
    return XF_OK;
}

xf_status xf_embed(xf_model *m, const char *const *texts, size_t n, size_t batch_size, float *out,
                   xf_embed_stats *stats) {
    return xf_embed_n(m, texts, NULL, n, batch_size, out, stats);
}

xf_status xf_embed_n(xf_model *m, const char *const *texts, const size_t *lens, size_t n,
                     size_t batch_size, float *out, xf_embed_stats *stats) {
    if (!m || (n && (!texts || !out))) return xf_error(XF_ERR_INVALID_ARG, "xf_embed: NULL argument");
    if (stats) memset(stats, 0, sizeof *stats);
    if (!m->tok)
        return xf_error(XF_ERR_NOT_FOUND, "%s: the model has no tokenizer (no tokenizer.json / tokenizer.ggml.* metadata); "
                        "embed token ids with xf_embed_encodings", m->path);
    if (batch_size == 0) batch_size = XF_DEFAULT_BATCH;
    if (batch_size > n) batch_size = n ? n : 1; /* never allocate for more texts than there are */
    xf_encoding *encs = xf_calloc(batch_size, sizeof *encs);
    if (!encs) return xf_error(XF_ERR_NOMEM, "cannot allocate %zu encodings", batch_size);
    xf_status st = XF_OK;
    for (size_t a = 0; a < n && !st; a += batch_size) {
        size_t k = n - a < batch_size ? n - a : batch_size, done = 0;
        for (; done < k; done++) {
            const char *t = texts[a + done];
            if (!t) {
                st = xf_error(XF_ERR_INVALID_ARG, "xf_embed: text %zu is NULL", a + done);
                break;
            }
            size_t len = lens ? lens[a + done] : strlen(t);
            st = xf_tokenize(m->tok, t, len, NULL, 0, m->max_length, &encs[done]);
            if (st) break;
            if (stats) {
                stats->n_tokens += encs[done].n;
                stats->n_truncated += encs[done].truncated ? 1 : 0;
            }
        }
        if (!st) st = xf_embed_encodings(m, encs, k, batch_size, out + a * m->cfg.hidden_size);
        for (size_t i = 0; i < done; i++) xf_encoding_free(&encs[i]);
    }
    free(encs);
    if (stats && !st) stats->n_texts = n;
    return st;
}

size_t xf_model_vocab_size(const xf_model *m) { return m ? m->cfg.vocab_size : 0; }

xf_status xf_model_logits(xf_model *m, const int32_t *ids, size_t n, float *logits) {
    if (!m || (n && (!ids || !logits))) return xf_error(XF_ERR_INVALID_ARG, "xf_model_logits: NULL argument");
    if (!m->plan.lm_head.w.data)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: model_type \"%s\" has no language-model head (an encoder); use xf_embed",
                        m->path, m->arch->name);
    if (n == 0) return xf_error(XF_ERR_INVALID_ARG, "xf_model_logits: empty input");
    float *X = NULL;
    xf_status st = xf_model_forward_ids(m, ids, n, &X);
    if (st) return st;
    xf_linear(m->pool, &m->plan.lm_head, X, n, logits);
    return XF_OK;
}

/* Hook of xf_model_forward_layer: the layer's output (before any final norm) to out, then stop. */
typedef struct {
    float *out;
    size_t hidden;
} layer_out_ctx;

static xf_status layer_out(void *ctx, xf_fwd *f, size_t layer, int *stop) {
    (void)layer;
    const layer_out_ctx *c = ctx;
    memcpy(c->out, f->X, f->off[f->n_seq] * c->hidden * sizeof *c->out);
    *stop = 1;
    return XF_OK;
}

/* One sequence of ids (checked here) as a batch: the whole model (io NULL; *X its final hidden
 * states), or layer `layer` alone on io (its input, unless layer 0; its output on return). */
static xf_status forward_one(xf_model *m, const int32_t *ids, size_t n, size_t layer, float *io, float **X) {
    if (n > m->cfg.max_position_embeddings)
        return xf_error(XF_ERR_RANGE, "input has %zu tokens, more than the model's %zu positions", n,
                        m->cfg.max_position_embeddings);
    for (size_t t = 0; t < n; t++)
        if (ids[t] < 0 || (size_t)ids[t] >= m->cfg.vocab_size)
            return xf_error(XF_ERR_RANGE, "token %zu: id %d is outside the vocabulary of %zu", t, ids[t],
                            m->cfg.vocab_size);
    xf_status st = reserve_batch(m, n, 1);
    if (st) return st;
    xf_fwd f = batch_fwd(m, n, 1);
    memcpy((int32_t *)f.ids, ids, n * sizeof *ids);
    memset((int32_t *)f.type_ids, 0, n * sizeof *ids);
    f.off[0] = 0;
    f.off[1] = n;
    layer_out_ctx c = {io, m->cfg.hidden_size};
    if (io) {
        if (layer) memcpy(f.X, io, n * c.hidden * sizeof *io);
        f.first_layer = layer;
        f.hook = layer_out;
        f.hook_ctx = &c;
    }
    if ((st = run_forward(m, &f))) return st;
    if (X) *X = f.X;
    return XF_OK;
}

xf_status xf_model_forward_ids(xf_model *m, const int32_t *ids, size_t n, float **X) {
    return forward_one(m, ids, n, 0, NULL, X);
}

xf_status xf_model_forward_layer(xf_model *m, const int32_t *ids, size_t n, size_t layer, float *X) {
    if (layer >= m->plan.n_layers)
        return xf_error(XF_ERR_RANGE, "layer %zu: the model has %zu layers", layer, m->plan.n_layers);
    return forward_one(m, ids, n, layer, X, NULL);
}

float xf_cosine(const float *a, const float *b, size_t dim) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < dim; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    if (aa == 0 || bb == 0) return 0.0f;
    return (float)(ab / (sqrt(aa) * sqrt(bb)));
}
