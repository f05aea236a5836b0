/* save.c — xf_model_save: a loaded or edited model (its plan, model/plan.h) written as a GGUF file
 * in llama.cpp's conventions (docs/GGUF.md, "Writing GGUF"):
 *   - general.architecture and the "<arch>." keys llama.cpp's convert_hf_to_gguf.py writes for
 *     bert, llama (also Mistral, with its window), qwen2 and gpt2; head counts, key/value heads and
 *     FFN widths that differ between layers as per-layer int32 arrays (llama.cpp reads those three
 *     keys as a scalar or an array), and for such LLaMA layers the architecture "deci", llama.cpp's
 *     LLaMA with per-layer shapes;
 *   - llama.cpp's tensor names (the inverse of io/gguf_model.c's mapping), LLaMA's Q/K rows
 *     permuted for its RoPE with each layer's own head counts, GPT-2's Q/K/V fused again;
 *   - GGUF quantized weights as their blocks; weights of other formats (f32, packed f32p, int8 i8)
 *     as F32 rows through the format's dequant_rows — exactly the values the model computes with
 *     (int8 has no GGUF equivalent: Q8_0's per-32 half scales cannot hold per-channel float
 *     scales, so it would round again) — or, with outtype F16, 2-D ones as F16;
 *   - 2:4 sparse weights (s24, s24q8, s24q4) as xfmr's compressed GGUF types S24 / S24Q8 / S24Q4
 *     (the kept values and 2-bit indices as in memory; llama.cpp refuses such files), or with
 *     outtype XF_SAVE_DENSE / F16 as float rows with their zeros;
 *   - what only xfmr understands under "xfmr." keys (query-head groups of different sizes,
 *     sentence-transformers pooling / normalisation / max_seq_length, exact rope parameters); a
 *     model that other readers would misread gets an architecture name they do not know
 *     ("xfmr-llama", ...), so they refuse it;
 *   - the tokenizer: a GGUF model's tokenizer.* keys copied as they are, else exported from the
 *     loaded tokenizer (tokenizer/tok_export.c).
 * Tensor bytes are streamed while the file is written (io/gguf_write.h), never copied whole. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/abi.h"
#include "core/alloc.h"
#include "core/dtype.h"
#include "core/error.h"
#include "io/gguf.h"
#include "io/gguf_write.h"
#include "kernels/quants.h"
#include "model/formats.h"
#include "model/model.h"
#include "quant/quant_mix.h"
#include "quant/quantize.h"
#include "tokenizer/tok_export.h"

#define CHUNK_ROWS 64

/* One tensor to write: weights concatenated along rows, how its bytes are made. */
typedef struct sv_job {
    const xf_weight *w[3];
    size_t n_w;
    int vec;         /* 1-D: every value of the weights in order */
    uint32_t type;   /* ggml type written */
    size_t dh;       /* > 0: LLaMA Q/K rows permuted within heads of dh rows */
    const float *own; /* values made here (rope_freqs), written as F32 */
    size_t n_own;
    int quant;       /* values quantized to `type` (xf_save_params.quantize), also from blocks */
    const char *name;
    const double *imp; /* calibration inputs' sums of squares per column: searched Q4_0 */
    int s24;         /* 2:4 compressed (type S24*): the parts' sections written in file order */
    char name_buf[96];
} sv_job;

typedef struct saver {
    const xf_model *m;
    const xf_plan *P;
    xf_gguf_writer *w;
    xf_save_params p;
    sv_job *jobs;
    size_t n_jobs, cap_jobs;
    const char *base; /* bert, llama, qwen2, gpt2 */
    char arch[32];    /* general.architecture and the prefix of its keys */
    int permute;      /* LLaMA Q/K rows */
    int n_f32, n_f16, n_blocks, n_s24; /* 2-D tensors written per kind */
    float *rope_freqs;
    int qtype;       /* xf_save_params.quantize as a ggml type id, or -1 */
    double *imp;     /* xf_model_input_sq of calib_text, or NULL */
    int mixing;      /* xf_save_params.target_bpw > 0 (qtype is then Q4_0, for the rule of the output) */
    int *mix_type;   /* per job index: the mixture's ggml type for it, or -1 (not in the mixture) */
    uint32_t mix_major; /* the type holding most of the mixture's weights (general.file_type) */
    char mix_desc[384]; /* xfmr.quantize.mix */
} saver;

/* ---------------------------------------------------------------- tensor bytes */

/* GGUF row r of a permuted Q/K block of heads of dh rows holds the model's row perm(r). */
static size_t perm_row(size_t r, size_t dh) {
    const size_t h = r / dh, k = r % dh;
    return h * dh + (k % 2) * (dh / 2) + k / 2;
}

/* The GGUF block type a format's rows are (the repacked formats: their blocks' type), else -1. */
static int block_type(const xf_format *f) { return f->block_rows ? f->save_type : f->ggml_type; }

static int is_raw(const sv_job *j, const xf_weight *w) {
    return (int)j->type == block_type(w->fmt) && j->type != XF_GGML_F32 && !j->quant;
}

/* n values (whole rows of cols) quantized to j->type into buf (2 bytes per value suffice: Q8_0,
 * the largest, takes 34 per 32) and written. */
static xf_status emit_quant(const sv_job *j, const float *v, size_t n, size_t cols, xf_gguf_sink *sk, uint8_t *buf) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return xf_error(XF_ERR_INVALID_ARG, "tensor \"%s\" holds a non-finite value (%g, element %zu of row %zu of a "
                            "chunk): it cannot be quantized", j->name, (double)v[i], i % cols, i / cols);
    const xf_quantize_fn q = xf_quantizer((int)j->type);
    uint32_t bs = 1, ts = 1;
    xf_ggml_type_size(j->type, &bs, &ts);
    const size_t row_bytes = cols / bs * ts;
    for (size_t r = 0; r < n / cols; r++)
        if (j->imp && j->type == XF_GGML_FP4S) xf_quantize_fp4s_searched(v + r * cols, j->imp, buf + r * row_bytes, cols);
        else if (j->imp && j->type == XF_GGML_FP8S) xf_quantize_fp8s_searched(v + r * cols, j->imp, buf + r * row_bytes, cols);
        else if (j->imp) xf_quantize_q4_0_searched(v + r * cols, j->imp, buf + r * row_bytes, cols);
        else q(v + r * cols, buf + r * row_bytes, cols);
    return xf_gguf_sink_write(sk, buf, n / cols * row_bytes);
}

static xf_status emit_floats(const sv_job *j, const float *v, size_t n, xf_gguf_sink *sk, uint16_t *half) {
    if (j->quant && j->type != XF_GGML_F16) return emit_quant(j, v, n, j->w[0]->cols, sk, (uint8_t *)half);
    if (j->type == XF_GGML_F32) return xf_gguf_sink_write(sk, v, n * sizeof *v);
    for (size_t i = 0; i < n; i++) half[i] = xf_f32_to_f16(v[i]);
    return xf_gguf_sink_write(sk, half, n * sizeof *half);
}

static xf_status emit_weight(const sv_job *j, const xf_weight *w, xf_gguf_sink *sk, float *buf, uint16_t *half) {
    const size_t rows = j->vec ? w->rows * w->cols : w->rows, cols = j->vec ? 1 : w->cols;
    if (j->vec) { /* vectors are f32 (norms, biases) */
        const float *v = w->data;
        if (!j->dh) return emit_floats(j, v, rows, sk, half);
        xf_status st = XF_OK;
        for (size_t r0 = 0; r0 < rows && !st; r0 += CHUNK_ROWS) {
            size_t n = rows - r0 < CHUNK_ROWS ? rows - r0 : CHUNK_ROWS;
            for (size_t r = 0; r < n; r++) buf[r] = v[perm_row(r0 + r, j->dh)];
            st = emit_floats(j, buf, n, sk, half);
        }
        return st;
    }
    if (is_raw(j, w) && w->fmt->block_rows) { /* a repacked layout: rows back as the file's blocks */
        xf_status st = XF_OK;
        for (size_t r0 = 0; r0 < rows && !st; r0 += CHUNK_ROWS) {
            const size_t n = rows - r0 < CHUNK_ROWS ? rows - r0 : CHUNK_ROWS;
            for (size_t r = 0; r < n; r++) {
                const size_t src = j->dh ? perm_row(r0 + r, j->dh) : r0 + r;
                w->fmt->block_rows(w, src, src + 1, (unsigned char *)buf + r * w->row_bytes);
            }
            st = xf_gguf_sink_write(sk, buf, n * w->row_bytes);
        }
        return st;
    }
    if (is_raw(j, w)) {
        const unsigned char *d = w->data;
        if (!j->dh) return xf_gguf_sink_write(sk, d, rows * w->row_bytes);
        xf_status st = XF_OK;
        for (size_t r = 0; r < rows && !st; r++) st = xf_gguf_sink_write(sk, d + perm_row(r, j->dh) * w->row_bytes, w->row_bytes);
        return st;
    }
    if (w->fmt == &xf_fmt_f32 && !j->dh && j->type == XF_GGML_F32)
        return xf_gguf_sink_write(sk, w->data, rows * cols * sizeof(float));
    xf_status st = XF_OK;
    for (size_t r0 = 0; r0 < rows && !st; r0 += CHUNK_ROWS) {
        const size_t r1 = rows - r0 < CHUNK_ROWS ? rows : r0 + CHUNK_ROWS;
        if (!j->dh) w->fmt->dequant_rows(w, r0, r1, buf);
        else
            for (size_t r = r0; r < r1; r++) {
                const size_t src = perm_row(r, j->dh);
                w->fmt->dequant_rows(w, src, src + 1, buf + (r - r0) * cols);
            }
        st = emit_floats(j, buf, (r1 - r0) * cols, sk, half);
    }
    return st;
}

/* A 2:4 tensor (S24, S24Q8, S24Q4): the weights' data is the in-memory layout, sections of per-row
 * bytes (io/gguf.h); written section by section, each the rows of every part in order (GGUF row r
 * of LLaMA's Q / K: the model's row perm_row(r)). */
static xf_status emit_s24(const sv_job *j, xf_gguf_sink *sk) {
    uint64_t sec[3] = {0, 0, 0};
    const size_t K = j->w[0]->cols;
    const int ns = xf_ggml_s24_sections(j->type, K, sec);
    size_t rows = 0;
    for (size_t k = 0; k < j->n_w; k++) rows += j->w[k]->rows;
    xf_status st = XF_OK;
    for (int i = 0; i < ns && !st; i++) {
        size_t off = 0; /* the section's start within each weight: N x the earlier sections' row bytes */
        for (int e = 0; e < i; e++) off += (size_t)sec[e];
        for (size_t k = 0; k < j->n_w && !st && !j->dh; k++) {
            const xf_weight *w = j->w[k];
            st = xf_gguf_sink_write(sk, (const unsigned char *)w->data + w->rows * off, w->rows * (size_t)sec[i]);
        }
        for (size_t r = 0; r < rows && !st && j->dh; r++) {
            size_t src = perm_row(r, j->dh), k = 0;
            while (src >= j->w[k]->rows) src -= j->w[k++]->rows;
            const xf_weight *w = j->w[k];
            st = xf_gguf_sink_write(sk, (const unsigned char *)w->data + w->rows * off + src * (size_t)sec[i], (size_t)sec[i]);
        }
    }
    return st;
}

static xf_status emit_job(void *user, xf_gguf_sink *sk) {
    const sv_job *j = user;
    if (j->own) return xf_gguf_sink_write(sk, j->own, j->n_own * sizeof *j->own);
    if (j->s24) return emit_s24(j, sk);
    size_t cap = CHUNK_ROWS;
    for (size_t k = 0; k < j->n_w; k++)
        if (!j->vec && j->w[k]->cols > cap / CHUNK_ROWS) cap = CHUNK_ROWS * j->w[k]->cols;
    float *buf = xf_malloc(cap * sizeof *buf);
    uint16_t *half = xf_malloc(cap * sizeof *half);
    xf_status st = buf && half ? XF_OK : xf_error(XF_ERR_NOMEM, "out of memory writing a tensor");
    for (size_t k = 0; k < j->n_w && !st; k++) st = emit_weight(j, j->w[k], sk, buf, half);
    free(buf);
    free(half);
    return st;
}

/* ---------------------------------------------------------------- tensor list */

/* Tensors llama.cpp's converter keeps in F32 whatever the outtype (conversion/base.py, "always in
 * float32"): its BERT graph adds token_types as a tensor view, and its CPU add has no F16 operand. */
static int always_f32(const char *name) {
    return !strcmp(name, "position_embd.weight") || !strcmp(name, "token_types.weight");
}

/* The ggml block size of type t. */
static size_t blck(int t) {
    uint32_t bs = 1, ts = 0;
    xf_ggml_type_size((uint32_t)t, &bs, &ts);
    return bs;
}

/* The type a quantized matrix `name` of width cols is written in: llama-quantize's choice for a
 * model without an importance matrix (llama-quant.cpp: the output rule of llama_tensor_get_type_impl,
 * then tensor_type_fallback); its mixtures (Q4_K_M's attn_v / ffn_down in Q6_K, ...) are not
 * applied: every other matrix gets the requested type. */
static uint32_t quant_type(const saver *s, const char *name, size_t cols) {
    int t = s->qtype;
    const int tied = !strcmp(s->base, "bert") || s->m->cfg.tie_word_embeddings;
    /* a mixture (target_bpw) gives every matrix outside the blocks the output's rule */
    if (!s->p.quantize_pure && (!strcmp(name, "output.weight") || (tied && !strcmp(name, "token_embd.weight")) ||
                                (s->mixing && strncmp(name, "blk.", 4)))) {
        if (t == XF_GGML_MXFP4 || t == XF_GGML_FP4S || t == XF_GGML_FP8S || cols % blck(t)) t = XF_GGML_Q8_0;
        else if (t != XF_GGML_Q8_0) t = XF_GGML_Q6_K;
    }
    if (cols % blck(t)) {
        if (t == XF_GGML_Q4_K) t = XF_GGML_Q5_0;
        else if (t == XF_GGML_Q5_K) t = XF_GGML_Q5_1;
        else if (t == XF_GGML_Q6_K) t = XF_GGML_Q8_0;
        if (cols % blck(t)) t = XF_GGML_F16;
    }
    return (uint32_t)t;
}

/* Add tensor `name`: ws[0..n) concatenated along rows (2-D) or values (ndim 1); dh > 0 permutes
 * LLaMA Q/K rows. A weight without data is skipped (absent bias). */
static xf_status add(saver *s, const char *name, int ndim, const xf_weight *const *ws, size_t n, size_t dh) {
    if (!ws[0]->data) return XF_OK;
    if (s->n_jobs == s->cap_jobs) return xf_error(XF_ERR_INVALID_ARG, "xf_model_save: more tensors than planned");
    sv_job *j = &s->jobs[s->n_jobs];
    memset(j, 0, sizeof *j);
    j->n_w = n;
    j->vec = ndim == 1;
    j->dh = dh;
    const xf_format *f = ws[0]->fmt;
    size_t rows = 0, cols = ws[0]->cols;
    for (size_t k = 0; k < n; k++) {
        const xf_weight *w = ws[k];
        j->w[k] = w;
        if (!w->data || w->fmt != f || (!j->vec && w->cols != cols) || (j->vec && w->fmt != &xf_fmt_f32))
            return xf_error(XF_ERR_UNSUPPORTED, "xf_model_save: tensor \"%s\": its parts differ in format or width", name);
        rows += j->vec ? w->rows * w->cols : w->rows;
    }
    if (dh && (rows % dh || dh % 2))
        return xf_error(XF_ERR_UNSUPPORTED, "xf_model_save: tensor \"%s\": %zu rows are not whole heads of %zu", name, rows, dh);
    snprintf(j->name_buf, sizeof j->name_buf, "%s", name);
    j->name = j->name_buf;
    if (j->vec) {
        j->type = XF_GGML_F32;
    } else if (xf_ggml_is_s24((uint32_t)f->save_type) && s->p.outtype == XF_SAVE_F32) {
        /* 2:4 compressed: the kept values and indices as in memory (also with quantize: that type
         * is then for the dense matrices, the embeddings and head) */
        j->type = (uint32_t)f->save_type;
        j->s24 = 1;
        s->n_s24++;
    } else if (s->qtype >= 0 && !always_f32(name) && !strstr(name, "_norm.weight") && f->dequant_rows) {
        j->type = quant_type(s, name, cols);
        if (s->mix_type && s->mix_type[s->n_jobs] >= 0) j->type = (uint32_t)s->mix_type[s->n_jobs];
        j->quant = 1;
        if (!s->mixing && s->imp && (j->type == XF_GGML_Q4_0 || j->type >= XF_GGML_FP4S) && n == 1)
            j->imp = xf_model_input_sq_of(s->m, s->imp, ws[0]);
        /* a matrix already held in that type (a quantized source) keeps its blocks, as llama-quantize
         * does: quantizing its dequantized values again is not the identity for every type (the K
         * types' searched scales, blocks written by other quantizers). Not in a mixture's dry run
         * (mix_prepare), which lists every block matrix it may give another type. */
        if (!j->imp && (int)j->type == block_type(f) && !(s->mixing && !s->mix_type)) j->quant = 0;
        if (j->type == XF_GGML_F16) s->n_f16++;
        else s->n_blocks++;
    } else if (block_type(f) >= 0 && block_type(f) != XF_GGML_F32 && f->save_type == block_type(f)) {
        j->type = (uint32_t)block_type(f);
        s->n_blocks++;
    } else if ((f->save_type == XF_GGML_F32 || xf_ggml_is_s24((uint32_t)f->save_type)) && f->dequant_rows) {
        j->type = s->p.outtype == XF_SAVE_F16 && !always_f32(name) ? XF_GGML_F16 : XF_GGML_F32; /* XF_SAVE_DENSE: F32 */
        if (j->type == XF_GGML_F16) s->n_f16++;
        else s->n_f32++;
    } else {
        return xf_error(XF_ERR_UNSUPPORTED, "xf_model_save: tensor \"%s\" has format %s, which has no GGUF type", name, f->name);
    }
    uint64_t dims[2] = {j->vec ? rows : cols, rows};
    xf_status st = xf_gguf_add_tensor(s->w, name, j->type, j->vec ? 1 : 2, dims, NULL, emit_job, j);
    if (!st) s->n_jobs++;
    return st;
}

static xf_status add1(saver *s, const char *name, int ndim, const xf_weight *w) { return add(s, name, ndim, &w, 1, 0); }

/* "<prefix>.weight" (+ "<prefix>.bias" when present). */
static xf_status add_linear(saver *s, const char *prefix, const xf_linear_w *l, size_t dh) {
    char n[96];
    const xf_weight *w = &l->w, *b = &l->b;
    snprintf(n, sizeof n, "%s.weight", prefix);
    xf_status st = add(s, n, 2, &w, 1, dh);
    snprintf(n, sizeof n, "%s.bias", prefix);
    return st ? st : add(s, n, 1, &b, 1, dh);
}

static xf_status add_norm(saver *s, const char *prefix, const xf_norm_w *nw) {
    char n[96];
    snprintf(n, sizeof n, "%s.weight", prefix);
    xf_status st = add1(s, n, 1, &nw->g);
    snprintf(n, sizeof n, "%s.bias", prefix);
    return st ? st : add1(s, n, 1, &nw->b);
}

static xf_status add_layer_tensors(saver *s, size_t i) {
    const xf_layer *L = &s->P->layers[i];
    const xf_attn_plan *a = &L->attn;
    const xf_ffn_plan *f = &L->ffn;
    char p[64];
    xf_status st;
#define N(x) (snprintf(p, sizeof p, "blk.%zu.%s", i, x), p)
    if (!strcmp(s->base, "bert")) {
        if ((st = add_linear(s, N("attn_q"), &a->q, 0)) || (st = add_linear(s, N("attn_k"), &a->k, 0)) ||
            (st = add_linear(s, N("attn_v"), &a->v, 0)) || (st = add_linear(s, N("attn_output"), &a->o, 0)) ||
            (st = add_norm(s, N("attn_output_norm"), &L->norm_attn)) || (st = add_linear(s, N("ffn_up"), &f->up, 0)) ||
            (st = add_linear(s, N("ffn_down"), &f->down, 0)))
            return st;
        return add_norm(s, N("layer_output_norm"), &L->norm_ffn);
    }
    if ((st = add_norm(s, N("attn_norm"), &L->norm_attn))) return st;
    if (!strcmp(s->base, "gpt2")) {
        const xf_weight *qkv[3] = {&a->q.w, &a->k.w, &a->v.w}, *qkv_b[3] = {&a->q.b, &a->k.b, &a->v.b};
        if ((st = add(s, N("attn_qkv.weight"), 2, qkv, 3, 0)) || (st = add(s, N("attn_qkv.bias"), 1, qkv_b, 3, 0)))
            return st;
    } else if ((st = add_linear(s, N("attn_q"), &a->q, s->permute ? a->head_dim : 0)) ||
               (st = add_linear(s, N("attn_k"), &a->k, s->permute ? a->head_dim : 0)) ||
               (st = add_linear(s, N("attn_v"), &a->v, 0))) {
        return st;
    }
    if ((st = add_linear(s, N("attn_output"), &a->o, 0)) || (st = add_norm(s, N("ffn_norm"), &L->norm_ffn))) return st;
    if (f->gated && (st = add_linear(s, N("ffn_gate"), &f->gate, 0))) return st;
    if ((st = add_linear(s, N("ffn_up"), &f->up, 0))) return st;
    return add_linear(s, N("ffn_down"), &f->down, 0);
#undef N
}

/* rope_freqs.weight: n per-frequency divisors (F32). */
static xf_status add_freqs(saver *s, const float *v, size_t n) {
    if (s->n_jobs == s->cap_jobs) return xf_error(XF_ERR_INVALID_ARG, "xf_model_save: more tensors than planned");
    sv_job *j = &s->jobs[s->n_jobs];
    memset(j, 0, sizeof *j);
    j->own = v;
    j->n_own = n;
    j->type = XF_GGML_F32;
    uint64_t d = n;
    xf_status st = xf_gguf_add_tensor(s->w, "rope_freqs.weight", XF_GGML_F32, 1, &d, NULL, emit_job, j);
    if (!st) s->n_jobs++;
    return st;
}

/* Llama 3.1 frequency factors as llama.cpp's converter computes them (rope_freqs.weight). */
static xf_status llama3_freqs(saver *s, size_t dh) {
    const xf_hf_rope_scaling *r = &s->m->cfg.rope_scaling;
    const size_t half = dh / 2;
    if (!(s->rope_freqs = xf_malloc(half * sizeof *s->rope_freqs))) return xf_error(XF_ERR_NOMEM, "out of memory");
    const double old = (double)r->original_max_position, lo = old / r->low_freq_factor, hi = old / r->high_freq_factor;
    for (size_t i = 0; i < half; i++) {
        const double freq = 1.0 / pow(s->m->cfg.rope_theta, (double)(2 * i) / (double)dh), wl = 2 * M_PI / freq;
        double f = 1.0;
        if (wl > lo) f = r->factor;
        else if (wl >= hi) {
            const double smooth = (old / wl - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
            f = 1.0 / ((1 - smooth) / r->factor + smooth);
        }
        s->rope_freqs[i] = (float)f;
    }
    return add_freqs(s, s->rope_freqs, half);
}

static xf_status add_tensors(saver *s) {
    const xf_plan *P = s->P;
    const int bert = !strcmp(s->base, "bert");
    xf_status st = add1(s, "token_embd.weight", 2, &P->tok_emb);
    if (!st && P->pos_emb.data) st = add1(s, "position_embd.weight", 2, &P->pos_emb);
    if (!st && P->type_emb.data) st = add1(s, "token_types.weight", 2, &P->type_emb);
    if (!st && bert) st = add_norm(s, "token_embd_norm", &P->emb_norm);
    if (!st && s->m->cfg.rope_scaling.type == XF_HF_ROPE_LLAMA3) st = llama3_freqs(s, P->layers[0].attn.head_dim);
    else if (!st && P->rope.freq_factors) st = add_freqs(s, P->rope.freq_factors, P->rope.half); /* as read */
    for (size_t i = 0; i < P->n_layers && !st; i++) st = add_layer_tensors(s, i);
    const xf_linear_w *pool, *cls;
    const char *const *labels;
    if (!st && bert && xf_cls_head_parts(s->m, &pool, &cls, &labels)) { /* llama.cpp's rank-pooling names */
        if (pool->w.data) st = add_linear(s, "cls", pool, 0);
        if (!st) st = add_linear(s, "cls.output", cls, 0);
    }
    if (st || bert) return st;
    if ((st = add_norm(s, "output_norm", &P->final_norm))) return st;
    if (!s->m->cfg.tie_word_embeddings) st = add_linear(s, "output", &P->lm_head, 0);
    return st;
}

/* ---------------------------------------------------------------- architecture keys */

static xf_status key_u32(saver *s, const char *suffix, size_t v) {
    char k[96];
    snprintf(k, sizeof k, "%s.%s", s->arch, suffix);
    return xf_gguf_set_u32(s->w, k, (uint32_t)v);
}

static xf_status key_f32(saver *s, const char *suffix, double v) {
    char k[96];
    snprintf(k, sizeof k, "%s.%s", s->arch, suffix);
    return xf_gguf_set_f32(s->w, k, (float)v);
}

/* A per-layer size: a scalar when every layer has the same, else an int32 array (as llama.cpp's
 * get_key_or_arr reads it). which: 0 heads, 1 kv heads, 2 FFN width. */
static xf_status key_layers(saver *s, const char *suffix, int which) {
    const xf_plan *P = s->P;
    int32_t *v = xf_malloc(P->n_layers * sizeof *v);
    if (!v) return xf_error(XF_ERR_NOMEM, "out of memory");
    int same = 1;
    for (size_t l = 0; l < P->n_layers; l++) {
        const xf_layer *L = &P->layers[l];
        v[l] = (int32_t)(which == 0 ? L->attn.n_heads : which == 1 ? L->attn.n_kv_heads : L->ffn.width);
        same &= v[l] == v[0];
    }
    char k[96];
    snprintf(k, sizeof k, "%s.%s", s->arch, suffix);
    xf_status st = same ? xf_gguf_set_u32(s->w, k, (uint32_t)v[0]) : xf_gguf_set_arr(s->w, k, XF_GGUF_INT32, v, P->n_layers);
    free(v);
    return st;
}

/* Layer l's query-head groups differ in size. */
static int unequal_groups(const xf_attn_plan *a) {
    if (!a->q_off) return 0;
    if (a->n_heads % a->n_kv_heads) return 1;
    for (size_t g = 0; g < a->n_kv_heads; g++)
        if (a->q_off[g + 1] - a->q_off[g] != a->n_heads / a->n_kv_heads) return 1;
    return 0;
}

/* xfmr.attention.q_groups: every layer's group sizes (n_kv_heads of them), concatenated. */
static xf_status key_q_groups(saver *s) {
    const xf_plan *P = s->P;
    size_t n = 0;
    for (size_t l = 0; l < P->n_layers; l++) n += P->layers[l].attn.n_kv_heads;
    uint32_t *v = xf_malloc(n * sizeof *v);
    if (!v) return xf_error(XF_ERR_NOMEM, "out of memory");
    n = 0;
    for (size_t l = 0; l < P->n_layers; l++)
        for (size_t g = 0; g < P->layers[l].attn.n_kv_heads; g++) {
            size_t h0, h1;
            xf_attn_group(&P->layers[l].attn, g, &h0, &h1);
            v[n++] = (uint32_t)(h1 - h0);
        }
    xf_status st = xf_gguf_set_arr(s->w, "xfmr.attention.q_groups", XF_GGUF_UINT32, v, n);
    free(v);
    return st;
}

/* A double that float32 would round: written exactly under an xfmr. key as well. */
static xf_status key_exact(saver *s, const char *key, double v) {
    return (double)(float)v == v ? XF_OK : xf_gguf_set_f64(s->w, key, v);
}

static xf_status rope_keys(saver *s, size_t dh) {
    const xf_hf_config *c = &s->m->cfg;
    xf_status st;
    if ((st = key_u32(s, "rope.dimension_count", dh)) || (st = key_f32(s, "rope.freq_base", c->rope_theta)) ||
        (st = key_exact(s, "xfmr.rope.freq_base", c->rope_theta)))
        return st;
    const xf_hf_rope_scaling *r = &c->rope_scaling;
    if (r->type == XF_HF_ROPE_LINEAR) {
        char k[96];
        snprintf(k, sizeof k, "%s.rope.scaling.type", s->arch);
        if ((st = xf_gguf_set_str(s->w, k, "linear", 6)) || (st = key_f32(s, "rope.scaling.factor", r->factor)) ||
            (st = key_exact(s, "xfmr.rope.scaling.factor", r->factor)))
            return st;
        if (r->original_max_position && (st = key_u32(s, "rope.scaling.original_context_length", r->original_max_position)))
            return st;
    } else if (r->type != XF_HF_ROPE_DEFAULT && r->type != XF_HF_ROPE_LLAMA3) {
        static const char *const names[] = {[XF_HF_ROPE_NTK] = "ntk", [XF_HF_ROPE_DYNAMIC] = "dynamic",
                                            [XF_HF_ROPE_YARN] = "yarn"};
        return xf_error(XF_ERR_UNSUPPORTED, "xf_model_save: rotary scaling \"%s\" cannot be written as GGUF yet "
                        "(none, linear and llama3 can)", (size_t)r->type < sizeof names / sizeof names[0] &&
                        names[r->type] ? names[r->type] : "?");
    } else if (r->type == XF_HF_ROPE_LLAMA3) { /* llama.cpp: rope_freqs.weight; xfmr: the parameters */
        if ((st = xf_gguf_set_str(s->w, "xfmr.rope.scaling.type", "llama3", 6)) ||
            (st = xf_gguf_set_f64(s->w, "xfmr.rope.scaling.factor", r->factor)) ||
            (st = xf_gguf_set_f64(s->w, "xfmr.rope.scaling.low_freq_factor", r->low_freq_factor)) ||
            (st = xf_gguf_set_f64(s->w, "xfmr.rope.scaling.high_freq_factor", r->high_freq_factor)) ||
            (st = xf_gguf_set_u32(s->w, "xfmr.rope.scaling.original_context_length", (uint32_t)r->original_max_position)))
            return st;
    }
    return XF_OK;
}

static xf_status arch_keys(saver *s) {
    const xf_plan *P = s->P;
    const xf_layer *L0 = &P->layers[0];
    const size_t dh = L0->attn.head_dim;
    int hetero = 0, unequal = 0;
    for (size_t l = 0; l < P->n_layers; l++) {
        const xf_layer *L = &P->layers[l];
        hetero |= L->attn.n_heads != L0->attn.n_heads || L->attn.n_kv_heads != L0->attn.n_kv_heads ||
                  L->ffn.width != L0->ffn.width;
        unequal |= unequal_groups(&L->attn);
    }
    xf_status st;
    if ((st = key_u32(s, "context_length", s->m->cfg.max_position_embeddings)) ||
        (st = key_u32(s, "embedding_length", P->hidden)) || (st = key_u32(s, "block_count", P->n_layers)) ||
        (st = key_layers(s, "feed_forward_length", 2)) || (st = key_layers(s, "attention.head_count", 0)))
        return st;
    if (!strcmp(s->base, "bert") || !strcmp(s->base, "gpt2")) {
        if ((st = key_f32(s, "attention.layer_norm_epsilon", !strcmp(s->base, "bert") ? P->emb_norm.eps : P->final_norm.eps)))
            return st;
        /* the head size when readers cannot take it as hidden / heads (pruned heads) */
        if ((hetero || dh * L0->attn.n_heads != P->hidden) &&
            ((st = key_u32(s, "attention.key_length", dh)) || (st = key_u32(s, "attention.value_length", dh))))
            return st;
        if (!strcmp(s->base, "bert")) {
            const xf_st_layout *lay = &s->m->layout;
            char k[96];
            const xf_linear_w *pool, *cls;
            const char *const *labels;
            const int head = xf_cls_head_parts(s->m, &pool, &cls, &labels); /* rank pooling: 4 */
            const int pt = head ? 4 : lay->pooling == XF_POOL_MEAN ? 1 : lay->pooling == XF_POOL_CLS ? 2
                                : lay->pooling == XF_POOL_LAST ? 3 : 0;
            snprintf(k, sizeof k, "%s.classifier.output_labels", s->arch);
            if (head && labels && (st = xf_gguf_set_arr_str(s->w, k, labels, NULL, cls->w.rows))) return st;
            const char *pname = xf_pooling_name(lay->pooling);
            snprintf(k, sizeof k, "%s.attention.causal", s->arch);
            if ((st = xf_gguf_set_bool(s->w, k, 0)) || (pt && (st = key_u32(s, "pooling_type", (size_t)pt))) ||
                (st = xf_gguf_set_str(s->w, "xfmr.pooling", pname, strlen(pname))) ||
                (st = xf_gguf_set_bool(s->w, "xfmr.normalize", lay->normalize)) ||
                (lay->max_seq_length && (st = xf_gguf_set_u32(s->w, "xfmr.max_seq_length", (uint32_t)lay->max_seq_length))) ||
                (st = xf_gguf_set_u32(s->w, "tokenizer.ggml.token_type_count", (uint32_t)P->type_emb.rows)))
                return st;
        } else {
            if (L0->ffn.act == XF_ACT_GELU_ERF && (st = xf_gguf_set_str(s->w, "xfmr.ffn.activation", "gelu", 4)))
                return st;
            if (s->m->cfg.norm_rms && (st = xf_gguf_set_str(s->w, "xfmr.norm", "rms", 3))) return st;
        }
        return XF_OK;
    }
    if ((st = key_layers(s, "attention.head_count_kv", 1)) || (st = key_u32(s, "attention.key_length", dh)) ||
        (st = key_u32(s, "attention.value_length", dh)) ||
        (st = key_f32(s, "attention.layer_norm_rms_epsilon", L0->norm_attn.eps)) ||
        (st = key_u32(s, "vocab_size", P->tok_emb.rows)) || (st = rope_keys(s, dh)))
        return st;
    if (L0->attn.window && (st = key_u32(s, "attention.sliding_window", L0->attn.window))) return st;
    return unequal ? key_q_groups(s) : XF_OK;
}

/* The architecture name and what makes the file xfmr-only; checks what GGUF cannot say. */
static xf_status choose_arch(saver *s) {
    const xf_model *m = s->m;
    const xf_plan *P = s->P;
    const char *name = m->arch->name;
    s->base = !strcmp(name, "mistral") ? "llama" : name;
    s->permute = !strcmp(s->base, "llama");
    if (!P->n_layers) return xf_error(XF_ERR_UNSUPPORTED, "xf_model_save: %s has no layer", m->path);
    if (!strcmp(name, "modernbert"))
        return xf_error(XF_ERR_UNSUPPORTED, "xf_model_save: %s: modernbert models cannot be written as GGUF yet (llama.cpp's "
                        "convert_hf_to_gguf.py converts the Hugging Face folder)", m->path);
    const xf_layer *L0 = &P->layers[0];
    int hetero = 0, unequal = 0, biased = 0;
    for (size_t l = 0; l < P->n_layers; l++) {
        const xf_layer *L = &P->layers[l];
        if (L->attn.sinks)
            return xf_error(XF_ERR_UNSUPPORTED, "xf_model_save: %s: layer %zu keeps attention sinks outside its window, "
                            "which GGUF cannot express (load the saved model with attn_sinks instead)", m->path, l);
        if (L->attn.kind != XF_ATTN_DENSE || L->attn.head_dim != L0->attn.head_dim || L->attn.window != L0->attn.window ||
            L->ffn.act != L0->ffn.act || L->ffn.gated != L0->ffn.gated)
            return xf_error(XF_ERR_UNSUPPORTED, "xf_model_save: %s: layer %zu differs from layer 0 in attention kind, head "
                            "size, window or activation, which GGUF cannot express", m->path, l);
        hetero |= L->attn.n_heads != L0->attn.n_heads || L->attn.n_kv_heads != L0->attn.n_kv_heads ||
                  L->ffn.width != L0->ffn.width;
        unequal |= unequal_groups(&L->attn);
        biased |= L->attn.q.b.data || L->attn.k.b.data || L->attn.v.b.data || L->attn.o.b.data || L->ffn.up.b.data ||
                  L->ffn.gate.b.data || L->ffn.down.b.data;
    }
    const int xfmr_only = unequal || (!strcmp(s->base, "gpt2") && (L0->ffn.act == XF_ACT_GELU_ERF || s->m->cfg.norm_rms));
    if (xfmr_only) snprintf(s->arch, sizeof s->arch, "xfmr-%s", s->base);
    else if (hetero && s->permute && !biased && !L0->attn.window) snprintf(s->arch, sizeof s->arch, "deci");
    else snprintf(s->arch, sizeof s->arch, "%s", s->base);
    return XF_OK;
}

/* ---------------------------------------------------------------- general and tokenizer keys */

static int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static xf_status general_keys(saver *s, const xf_gguf *src) {
    xf_status st = xf_gguf_set_str(s->w, "general.architecture", s->arch, strlen(s->arch));
    for (size_t i = 0; src && !st && i < xf_gguf_kv_count(src); i++) {
        const char *k = xf_gguf_key(src, i);
        if (starts_with(k, "general.") && strcmp(k, "general.architecture") && strcmp(k, "general.alignment") &&
            strcmp(k, "general.file_type") && strcmp(k, "general.quantization_version"))
            st = xf_gguf_copy_kv(s->w, src, i);
    }
    if (st || xf_gguf_writer_has(s->w, "general.name")) return st;
    /* the model's folder or file name, without a trailing '/' or ".gguf" */
    const char *path = s->m->path;
    size_t end = strlen(path), start;
    while (end > 1 && path[end - 1] == '/') end--;
    for (start = end; start > 0 && path[start - 1] != '/'; start--) {}
    if (end - start > 5 && !strncmp(path + end - 5, ".gguf", 5)) end -= 5;
    return xf_gguf_set_str(s->w, "general.name", path + start, end - start);
}

/* After the tensors are known: llama.cpp's file type (0 all F32, 1 mostly F16, or the source's)
 * and the quantization version of its blocks. */
static xf_status type_keys(saver *s, const xf_gguf *src) {
    xf_status st = XF_OK;
    if (s->qtype >= 0) { /* llama.cpp's llama_ftype of the type (Q4_K / Q5_K: the _S variants) */
        static const struct { int t; uint32_t ftype; } k_ftype[] = {
            {XF_GGML_Q4_0, 2}, {XF_GGML_Q4_1, 3}, {XF_GGML_Q8_0, 7}, {XF_GGML_Q5_0, 8}, {XF_GGML_Q5_1, 9},
            {XF_GGML_Q4_K, 14}, {XF_GGML_Q5_K, 16}, {XF_GGML_Q6_K, 18}, {XF_GGML_MXFP4, 38}, {XF_GGML_F16, 1}};
        /* a mixture: llama.cpp's "mostly TYPE" of the type holding most of its weights, and what it is */
        const int t = s->mixing ? (int)s->mix_major : s->qtype;
        for (size_t i = 0; i < sizeof k_ftype / sizeof k_ftype[0]; i++)
            if (k_ftype[i].t == t) st = xf_gguf_set_u32(s->w, "general.file_type", k_ftype[i].ftype);
        if (!st && s->mixing) st = xf_gguf_set_str(s->w, "xfmr.quantize.mix", s->mix_desc, strlen(s->mix_desc));
    } else if (s->n_s24) { /* no llama.cpp file type fits (nor does it load the file): what the 2:4 matrices are */
        char d[96];
        uint32_t t = XF_GGML_S24;
        for (size_t i = 0; i < s->n_jobs; i++)
            if (s->jobs[i].s24) t = s->jobs[i].type;
        const int n = snprintf(d, sizeof d, "2:4 compressed, %d block matrices as %s (xfmr only)", s->n_s24, xf_ggml_type_name(t));
        st = xf_gguf_set_str(s->w, "xfmr.sparsity", d, (size_t)n);
    } else if (!s->n_blocks && (s->n_f32 || s->n_f16)) st = xf_gguf_set_u32(s->w, "general.file_type", s->n_f16 ? 1u : 0u);
    else if (src && xf_gguf_find(src, "general.file_type") >= 0) st = xf_gguf_copy_kv(s->w, src, (size_t)xf_gguf_find(src, "general.file_type"));
    if (!st && s->n_blocks) st = xf_gguf_set_u32(s->w, "general.quantization_version", 2);
    return st;
}

static xf_status tokenizer_keys(saver *s, const xf_gguf *src) {
    xf_status st = XF_OK;
    if (src && xf_gguf_find(src, "tokenizer.ggml.model") >= 0) { /* as the GGUF had them */
        for (size_t i = 0; !st && i < xf_gguf_kv_count(src); i++)
            if (starts_with(xf_gguf_key(src, i), "tokenizer.") && !xf_gguf_writer_has(s->w, xf_gguf_key(src, i)))
                st = xf_gguf_copy_kv(s->w, src, i);
        return st;
    }
    if (!s->m->tok) return XF_OK;
    xf_tok_export_info info = {xf_model_eos_id(s->m), xf_model_chat_template(s->m)};
    return xf_tokenizer_export_gguf(s->m->tok, &info, s->w);
}

/* ---------------------------------------------------------------- mixed precision */

/* Rows [r0, r1) of a job's matrix (its parts concatenated; the Q/K permutation of rows is left out:
 * it does not change a matrix's quantization error). */
static void job_rows(const void *user, size_t r0, size_t r1, float *out) {
    const sv_job *j = user;
    size_t base = 0;
    for (size_t k = 0; k < j->n_w && r0 < r1; k++) {
        const xf_weight *w = j->w[k];
        if (r0 < base + w->rows) {
            const size_t a = r0 - base, b = (r1 < base + w->rows ? r1 : base + w->rows) - base;
            w->fmt->dequant_rows(w, a, b, out);
            out += (b - a) * w->cols;
            r0 = base + b;
        }
        base += w->rows;
    }
}

static void on_progress(void *user, uint64_t done, uint64_t total) {
    const saver *s = user;
    s->p.progress(s->p.progress_user, (size_t)done, (size_t)total);
}

/* The mixture of target bpw in s->mix_type, mix_major and mix_desc: the allocation of t (errors
 * filled) for it. *bpw receives the bits per weight reached. */
static xf_status mix_choose(saver *s, xf_mix_tensor *t, size_t n, const size_t *job_of, const xf_mix_ladder *L,
                            double target, double *bpw) {
    xf_status st = xf_mix_allocate(t, n, L, target, bpw);
    if (st) return st;
    /* what the file holds: types by weights, the major one for general.file_type */
    double by_type[XF_MIX_MAX_TYPES + 1] = {0};
    size_t count[XF_MIX_MAX_TYPES + 1] = {0};
    for (size_t k = 0; k < n; k++) {
        const int c = t[k].choice >= 0 ? t[k].choice : XF_MIX_MAX_TYPES;
        s->mix_type[job_of[k]] = t[k].choice >= 0 ? L->type[c] : XF_GGML_F16;
        by_type[c] += (double)t[k].rows * (double)t[k].cols;
        count[c]++;
    }
    /* MXFP4's only llama.cpp file type is its MoE recipe ("MXFP4 MoE"): it names the file only
     * when nothing else is in it */
    int major = -1;
    for (int c = 0; c <= XF_MIX_MAX_TYPES; c++)
        if (by_type[c] > 0 && (c == XF_MIX_MAX_TYPES || L->type[c] != XF_GGML_MXFP4) && (major < 0 || by_type[c] > by_type[major]))
            major = c;
    if (major < 0) major = 0;
    s->mix_major = major < XF_MIX_MAX_TYPES ? (uint32_t)L->type[major] : XF_GGML_F16;
    int at = snprintf(s->mix_desc, sizeof s->mix_desc, "target %.4g bpw: %.4f bpw over %zu block matrices:", target, *bpw, n);
    for (int c = 0; c <= XF_MIX_MAX_TYPES && at > 0 && (size_t)at < sizeof s->mix_desc; c++)
        if (count[c])
            at += snprintf(s->mix_desc + at, sizeof s->mix_desc - (size_t)at, " %s %zu",
                           c < XF_MIX_MAX_TYPES ? xf_quant_traits_of(L->type[c])->name : "F16", count[c]);
    return XF_OK;
}

static xf_status write_file(saver *s, const char *path);

/* One candidate of the quality search: the mixture of target bpw written to tmp, loaded, its loss
 * against ref measured, the file removed. */
static xf_status mix_try(saver *s, xf_mix_tensor *t, size_t n, const size_t *job_of, const xf_mix_ladder *L, double target,
                         const char *tmp, const xf_quality_ref *ref, double *bpw, double *loss) {
    xf_status st = mix_choose(s, t, n, job_of, L, target, bpw);
    if (st) return st;
    void (*progress)(void *, size_t, size_t) = s->p.progress;
    s->p.progress = NULL; /* the bar of the file written is the final file's */
    st = write_file(s, tmp);
    s->p.progress = progress;
    xf_model *c = NULL;
    if (!st) {
        xf_model_params mp = xf_model_default_params();
        mp.n_threads = s->m->pool ? xf_pool_size(s->m->pool) : 1;
        st = xf_model_load(tmp, &mp, &c);
    }
    if (!st) st = xf_quality_loss(c, ref, loss);
    xf_model_free(c);
    remove(tmp);
    if (st) st = xf_error_wrap(st, "measuring the mixture of %.4f bits per weight", *bpw);
    return st;
}

/* xf_save_params.max_ppl_increase: the smallest target whose mixture keeps the loss on the
 * calibration text within the limit, by bisection over bits per weight between the ladder's range
 * [lo, hi]: first hi (the largest mixture: when it misses, nothing can meet the limit), then lo,
 * then halving the interval between the largest target known to miss and the smallest known to
 * meet it, XF_MIX_SEARCH_EVALS candidates in all. The loss need not fall monotonically with the
 * bits; what is written is always a measured candidate that met the limit. */
static xf_status mix_search(saver *s, xf_mix_tensor *t, size_t n, const size_t *job_of, const xf_mix_ladder *L, double lo,
                            double hi, const char *path, double *best) {
    const double limit = s->p.max_ppl_increase;
    xf_quality_ref ref;
    /* the forward passes change only the model's scratch */
    xf_status st = xf_quality_ref_make((xf_model *)s->m, s->p.calib_text, s->p.calib_max_tokens, &ref);
    if (st) return st;
    const size_t len = strlen(path) + 32;
    char *tmp = xf_malloc(len);
    if (!tmp) {
        xf_quality_ref_free(&ref);
        return xf_error(XF_ERR_NOMEM, "out of memory");
    }
    snprintf(tmp, len, "%s.search-tmp.gguf", path);
    const char *what = ref.decoder ? "perplexity increase" : "cosine loss";
    double a = lo, b = hi, bpw = 0, loss = 0, best_loss = 0;
    size_t done = 0;
    st = mix_try(s, t, n, job_of, L, hi, tmp, &ref, &bpw, &loss);
    if (!st && s->p.search_progress) s->p.search_progress(s->p.progress_user, ++done, XF_MIX_SEARCH_EVALS, bpw, loss);
    if (!st && !(loss <= limit))
        st = xf_error(XF_ERR_INVALID_ARG, "max_ppl_increase %g%% cannot be met: the largest mixture of the types %s (%.4f bits "
                      "per weight over the %zu matrices of the blocks) gives a %s of %.4f%% on the calibration text",
                      limit, s->p.mix_types ? s->p.mix_types : "of the default ladder", bpw, n, what, loss);
    best_loss = loss;
    if (!st) {
        st = mix_try(s, t, n, job_of, L, lo, tmp, &ref, &bpw, &loss);
        if (!st && s->p.search_progress) s->p.search_progress(s->p.progress_user, ++done, XF_MIX_SEARCH_EVALS, bpw, loss);
        if (!st && loss <= limit) b = lo, best_loss = loss;
    }
    while (!st && done < XF_MIX_SEARCH_EVALS && b > a) {
        const double mid = 0.5 * (a + b);
        st = mix_try(s, t, n, job_of, L, mid, tmp, &ref, &bpw, &loss);
        if (!st && s->p.search_progress) s->p.search_progress(s->p.progress_user, ++done, XF_MIX_SEARCH_EVALS, bpw, loss);
        if (st) break;
        if (loss <= limit) b = mid, best_loss = loss;
        else a = mid;
    }
    *best = b;
    if (!st) st = mix_choose(s, t, n, job_of, L, b, &bpw);
    if (!st) {
        const size_t at = strlen(s->mix_desc);
        snprintf(s->mix_desc + at, sizeof s->mix_desc - at, "; chosen for max %s %g%%: %.4f%% on %zu calibration %s (%zu candidates)",
                 what, limit, best_loss, ref.decoder ? ref.n : ref.n_lines, ref.decoder ? "tokens" : "lines", done);
    }
    free(tmp);
    xf_quality_ref_free(&ref);
    return st;
}

/* xf_save_params.target_bpw / max_ppl_increase: the tensors as they will be written (a dry run of
 * add_tensors), the blocks' matrices' errors per type on the calibration activations, and one type
 * for each (quant/quant_mix.h) in s->mix_type, which add() then applies. */
static xf_status mix_prepare(saver *s, const char *path) {
    xf_mix_ladder L;
    xf_status st = xf_mix_ladder_parse(s->p.mix_types, &L);
    if (st || (st = xf_gguf_writer_create(&s->w))) return st;
    st = add_tensors(s);
    xf_gguf_writer_free(s->w);
    s->w = NULL;
    free(s->rope_freqs);
    s->rope_freqs = NULL;
    const size_t nj = s->n_jobs;
    s->n_jobs = 0, s->n_f32 = s->n_f16 = s->n_blocks = s->n_s24 = 0;
    if (st) return st;
    xf_mix_tensor *t = xf_calloc(nj + 1, sizeof *t);
    size_t *job_of = xf_calloc(nj + 1, sizeof *job_of);
    s->mix_type = xf_malloc((nj + 1) * sizeof *s->mix_type);
    if (!t || !job_of || !s->mix_type) {
        free(t), free(job_of);
        return xf_error(XF_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < nj; i++) {
        const sv_job *j = &s->jobs[i];
        s->mix_type[i] = -1;
        if (!j->quant || j->vec || strncmp(j->name, "blk.", 4)) continue;
        size_t rows = 0;
        for (size_t k = 0; k < j->n_w; k++) rows += j->w[k]->rows;
        t[n] = (xf_mix_tensor){.name = j->name, .rows = rows, .cols = j->w[0]->cols, .get_rows = job_rows, .user = j};
        job_of[n++] = i;
    }
    double lo = 0, hi = 0, bpw = 0;
    xf_mix_range(t, n, &L, &lo, &hi);
    const double target = s->p.target_bpw;
    const int search = s->p.max_ppl_increase > 0;
    if (!n) st = xf_error(XF_ERR_UNSUPPORTED, "%s: the model has no weight matrices in its blocks to mix",
                          search ? "max_ppl_increase" : "target_bpw");
    else if (!search && !(target >= lo - 1e-9 && target <= hi + 1e-9))
        st = xf_error(XF_ERR_INVALID_ARG, "target_bpw %g cannot be met: the types %s reach %.4f to %.4f bits per weight "
                      "over the %zu matrices of the blocks", target, s->p.mix_types ? s->p.mix_types : "of the default ladder",
                      lo, hi, n);
    /* the forward passes of the calibration change only the model's scratch */
    if (!st && s->p.calib_text)
        st = xf_model_input_sq((xf_model *)s->m, s->p.calib_text, s->p.calib_max_tokens, "mixed precision", &s->imp);
    for (size_t k = 0; !st && s->imp && k < n; k++)
        t[k].imp = xf_model_input_sq_of(s->m, s->imp, s->jobs[job_of[k]].w[0]);
    if (!st) st = xf_mix_errors(t, n, &L, s->m->pool, NULL, NULL);
    if (!st && search) st = mix_search(s, t, n, job_of, &L, lo, hi, path, &bpw);
    else if (!st) st = mix_choose(s, t, n, job_of, &L, target, &bpw);
    free(t), free(job_of);
    return st;
}

/* The whole file to path: keys, tensors (as s->mix_type says when mixing), written under a
 * temporary name and renamed; s's per-file state is reset for another file. */
static xf_status write_file(saver *s, const char *path) {
    const xf_gguf *src = xf_weight_set_gguf(s->m->ws);
    xf_status st = xf_gguf_writer_create(&s->w);
    if (!st && !(st = general_keys(s, src)) && !(st = arch_keys(s)) && !(st = add_tensors(s)) && !(st = type_keys(s, src)) &&
        !(st = tokenizer_keys(s, src)))
        st = xf_gguf_writer_write(s->w, path, s->p.progress ? on_progress : NULL, s);
    xf_gguf_writer_free(s->w);
    s->w = NULL;
    free(s->rope_freqs);
    s->rope_freqs = NULL;
    s->n_jobs = 0, s->n_f32 = s->n_f16 = s->n_blocks = s->n_s24 = 0;
    return st;
}

/* ---------------------------------------------------------------- xf_model_save */

xf_status xf_model_save(const xf_model *m, const char *path, const xf_save_params *params) {
    if (!m || !path) return xf_error(XF_ERR_INVALID_ARG, "xf_model_save: NULL %s", m ? "path" : "model");
    saver s;
    memset(&s, 0, sizeof s);
    s.p = xf_save_default_params();
    xf_status st = params ? xf_struct_in(&s.p, sizeof s.p, params,
                                         offsetof(xf_save_params, progress_user) + sizeof params->progress_user, "xf_save_params")
                          : XF_OK;
    if (st) return st;
    if (s.p.outtype != XF_SAVE_F32 && s.p.outtype != XF_SAVE_F16 && s.p.outtype != XF_SAVE_DENSE)
        return xf_error(XF_ERR_INVALID_ARG, "xf_save_params.outtype %d is not XF_SAVE_F32 (0), XF_SAVE_F16 (1) or XF_SAVE_DENSE (2)",
                        (int)s.p.outtype);
    s.qtype = -1;
    if (s.p.max_ppl_increase != 0) {
        if (!(s.p.max_ppl_increase > 0 && s.p.max_ppl_increase < 1e6))
            return xf_error(XF_ERR_INVALID_ARG, "xf_save_params.max_ppl_increase %g is no percentage above 0", s.p.max_ppl_increase);
        if (s.p.target_bpw != 0)
            return xf_error(XF_ERR_INVALID_ARG, "xf_save_params.max_ppl_increase searches the bits per weight: leave target_bpw 0");
        if (s.p.quantize || s.p.quantize_pure)
            return xf_error(XF_ERR_INVALID_ARG, "xf_save_params.max_ppl_increase chooses the types itself: leave quantize%s unset",
                            s.p.quantize ? "" : "_pure");
        if (!s.p.calib_text)
            return xf_error(XF_ERR_INVALID_ARG, "xf_save_params.max_ppl_increase measures each candidate on calib_text: set it");
        s.mixing = 1;
        s.qtype = XF_GGML_Q4_0; /* the rule of the output and the token embedding: Q6_K / Q8_0 */
    } else if (s.p.target_bpw != 0) {
        if (!(s.p.target_bpw > 0 && s.p.target_bpw < 64))
            return xf_error(XF_ERR_INVALID_ARG, "xf_save_params.target_bpw %g is no number of bits per weight", s.p.target_bpw);
        if (s.p.quantize || s.p.quantize_pure)
            return xf_error(XF_ERR_INVALID_ARG, "xf_save_params.target_bpw chooses the types itself: leave quantize%s unset",
                            s.p.quantize ? "" : "_pure");
        s.mixing = 1;
        s.qtype = XF_GGML_Q4_0; /* the rule of the output and the token embedding: Q6_K / Q8_0 */
    } else if (s.p.mix_types) {
        return xf_error(XF_ERR_INVALID_ARG, "xf_save_params.mix_types is for a mixture: set target_bpw or max_ppl_increase too");
    }
    if (s.p.quantize && (s.qtype = xf_quantize_type_by_name(s.p.quantize)) < 0)
        return xf_error(XF_ERR_INVALID_ARG, "xf_save_params.quantize: unknown type \"%s\"; valid types: %s", s.p.quantize,
                        xf_quantize_type_list());
    if (s.p.calib_text && s.qtype != XF_GGML_Q4_0 && s.qtype != XF_GGML_FP4S && s.qtype != XF_GGML_FP8S)
        return xf_error(XF_ERR_INVALID_ARG, "xf_save_params.calib_text: the searched scales are made for quantize \"Q4_0\" "
                        "\"FP4S\" and \"FP8S\" (or a target_bpw mixture) only, not %s", s.p.quantize ? s.p.quantize : "unquantized weights");
    /* the forward passes of the calibration change only the model's scratch */
    if (s.p.calib_text && !s.mixing && (st = xf_model_input_sq((xf_model *)m, s.p.calib_text, s.p.calib_max_tokens,
                                                  s.qtype == XF_GGML_Q4_0 ? "Q4_0 search" : "FP4S / FP8S search",
                                                  &s.imp)))
        return st;
    s.m = m;
    s.P = &m->plan;
    st = choose_arch(&s);
    if (st) return st;
    s.cap_jobs = 8 + 24 * s.P->n_layers;
    if (!(s.jobs = xf_calloc(s.cap_jobs, sizeof *s.jobs))) return xf_error(XF_ERR_NOMEM, "out of memory");
    if (s.mixing) st = mix_prepare(&s, path);
    if (!st) st = write_file(&s, path);
    if (st && !strstr(xf_errmsg(), path)) st = xf_error_wrap(st, "saving %s", path);
    free(s.jobs);
    free(s.imp);
    free(s.mix_type);
    return st;
}
