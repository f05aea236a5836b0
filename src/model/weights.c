/* weights.c — the weight set: tensors looked up by name across safetensors files, or in one GGUF
 * file under their llama.cpp names, shape-checked, served as F32 (zero-copy when possible; GGUF
 * quantized tensors are dequantized once here, and llama's Q/K rows un-permuted) or, for
 * xf_weight_get_stored, as the GGUF's own quantized blocks (zero-copy but for llama's Q/K). */
#include "model/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/gguf.h"
#include "io/gguf_model.h"
#include "io/safetensors.h"
#include "kernels/qmatmul.h"
#include "kernels/quants.h"
#include "kernels/sparse24.h"
#include "model/formats.h"

struct xf_weight_set {
    size_t n_files;
    xf_safetensors **files;
    char **paths;
    void **owned; /* converted copies, freed with the set */
    size_t n_owned, cap_owned;
    char dtypes[128];
    /* GGUF backend (files / n_files unused; paths[0] is the file) */
    xf_gguf *gguf;
    char arch[64];
    size_t head_dim; /* rows per head of llama's permuted Q / K */
    uint8_t *arena;   /* huge_alloc: the huge-page block weights are carved from */
    size_t arena_left; /* its bytes still free */
};

void xf_weight_set_free(xf_weight_set *ws) {
    if (!ws) return;
    xf_gguf_close(ws->gguf);
    if (ws->gguf) free(ws->paths ? ws->paths[0] : NULL);
    for (size_t i = 0; i < ws->n_files; i++) {
        xf_st_close(ws->files[i]);
        free(ws->paths[i]);
    }
    for (size_t i = 0; i < ws->n_owned; i++) free(ws->owned[i]);
    free(ws->files);
    free(ws->paths);
    free(ws->owned);
    free(ws);
}

xf_status xf_weight_set_open(char *const *paths, size_t n, xf_weight_set **out) {
    *out = NULL;
    xf_weight_set *ws = xf_calloc(1, sizeof *ws);
    if (!ws || !(ws->files = xf_calloc(n, sizeof *ws->files)) || !(ws->paths = xf_calloc(n, sizeof *ws->paths))) {
        xf_weight_set_free(ws);
        return xf_error(XF_ERR_NOMEM, "cannot allocate the weight set");
    }
    int seen[XF_DT_COUNT] = {0};
    for (size_t i = 0; i < n; i++) {
        ws->paths[i] = xf_strdup(paths[i]);
        ws->n_files = i + 1;
        if (!ws->paths[i]) {
            xf_weight_set_free(ws);
            return xf_error(XF_ERR_NOMEM, "cannot allocate a path");
        }
        xf_status st = xf_st_open(paths[i], &ws->files[i]);
        if (st) {
            xf_weight_set_free(ws);
            return st;
        }
        for (size_t k = 0; k < xf_st_count(ws->files[i]); k++) seen[xf_st_at(ws->files[i], k)->dtype] = 1;
    }
    for (int t = 0; t < XF_DT_COUNT; t++) {
        if (!seen[t]) continue;
        size_t l = strlen(ws->dtypes);
        snprintf(ws->dtypes + l, sizeof ws->dtypes - l, "%s%s", l ? "," : "", xf_dtype_name((xf_dtype)t));
    }
    *out = ws;
    return XF_OK;
}

static xf_status keep_owned(xf_weight_set *ws, void *buf) {
    if (ws->n_owned == ws->cap_owned) {
        size_t cap = ws->cap_owned ? 2 * ws->cap_owned : 64;
        void **p = xf_realloc(ws->owned, cap * sizeof *p);
        if (!p) return xf_error(XF_ERR_NOMEM, "cannot grow the weight list");
        ws->owned = p;
        ws->cap_owned = cap;
    }
    ws->owned[ws->n_owned++] = buf;
    return XF_OK;
}

xf_status xf_weight_set_open_gguf(xf_gguf *g, const char *arch, size_t head_dim, xf_weight_set **out) {
    *out = NULL;
    xf_weight_set *ws = xf_calloc(1, sizeof *ws);
    if (!ws || !(ws->paths = xf_calloc(1, sizeof *ws->paths)) || !(ws->paths[0] = xf_strdup(xf_gguf_path(g)))) {
        if (ws) free(ws->paths);
        free(ws);
        xf_gguf_close(g);
        return xf_error(XF_ERR_NOMEM, "cannot allocate the weight set");
    }
    ws->gguf = g;
    snprintf(ws->arch, sizeof ws->arch, "%s", arch);
    ws->head_dim = head_dim;
    static const uint32_t order[] = {XF_GGML_F32, XF_GGML_F16, XF_GGML_BF16, XF_GGML_F64, XF_GGML_Q4_0,
                                     XF_GGML_Q4_1, XF_GGML_Q5_0, XF_GGML_Q5_1, XF_GGML_Q8_0, XF_GGML_Q2_K,
                                     XF_GGML_Q3_K, XF_GGML_Q4_K, XF_GGML_Q5_K, XF_GGML_Q6_K, XF_GGML_Q8_K,
                                     XF_GGML_MXFP4, XF_GGML_FP4S, XF_GGML_FP8S, XF_GGML_S24, XF_GGML_S24Q8, XF_GGML_S24Q4, XF_GGML_I8, XF_GGML_I16, XF_GGML_I32, XF_GGML_I64};
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        int seen = 0;
        for (size_t i = 0; i < xf_gguf_tensor_count(g) && !seen; i++) seen = xf_gguf_tensor_at(g, i)->type == order[o];
        if (!seen) continue;
        size_t l = strlen(ws->dtypes);
        snprintf(ws->dtypes + l, sizeof ws->dtypes - l, "%s%s", l ? "," : "", xf_ggml_type_name(order[o]));
    }
    *out = ws;
    return XF_OK;
}

static const xf_gguf_tensor *gguf_find(const xf_weight_set *ws, const char *name, char *gname, size_t cap,
                                       xf_gguf_permute *perm) {
    if (!xf_gguf_tensor_name(ws->arch, name, gname, cap, perm)) return NULL;
    return xf_gguf_find_tensor(ws->gguf, gname);
}

static const xf_st_tensor *find(const xf_weight_set *ws, const char *name, size_t *file) {
    for (size_t i = 0; i < ws->n_files; i++) {
        const xf_st_tensor *t = xf_st_find(ws->files[i], name);
        if (t) {
            *file = i;
            return t;
        }
    }
    return NULL;
}

int xf_weight_set_has(const xf_weight_set *ws, const char *name) {
    size_t f;
    if (ws->gguf) {
        char gname[256];
        return gguf_find(ws, name, gname, sizeof gname, NULL) != NULL;
    }
    return find(ws, name, &f) != NULL;
}

static void shape_str(const xf_st_tensor *t, char *buf, size_t cap) {
    size_t l = 0;
    buf[0] = '\0';
    l += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < t->ndim && l < cap; i++)
        l += (size_t)snprintf(buf + l, cap - l, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (l < cap) snprintf(buf + l, cap - l, "]");
}

/* A 2-D GGUF tensor of a type with quantized kernels, served as its rows of blocks: in place in the
 * mapping, or (llama's Q / K) as an owned copy with whole rows un-permuted. */
static xf_status gguf_blocks(xf_weight_set *ws, const xf_gguf_tensor *t, xf_gguf_permute perm, size_t heads,
                             xf_weight *out) {
    out->fmt = xf_format_ggml((int)t->type);
    out->row_bytes = (size_t)t->nbytes / out->rows;
    out->data = t->data;
    if (perm == XF_GGUF_PERMUTE_NONE) return XF_OK;
    const size_t dh = out->rows / heads;
    /* the set's (huge-page) memory, as xf_weight_to_hugepages gives the tensors used in place */
    unsigned char *buf = xf_weight_set_alloc(ws, (size_t)t->nbytes, t->name), *tmp = buf ? xf_malloc(dh * out->row_bytes) : NULL;
    if (!tmp) return buf ? xf_error(XF_ERR_NOMEM, "cannot allocate a copy of tensor \"%s\"", t->name) : XF_ERR_NOMEM;
    memcpy(buf, t->data, (size_t)t->nbytes);
    xf_gguf_unpermute_rows(buf, heads, dh, out->row_bytes, tmp);
    free(tmp);
    out->data = buf;
    return XF_OK;
}

/* A 2:4 compressed tensor (GGUF types S24, S24Q8, S24Q4; docs/GGUF.md) as the s24 / s24q8 / s24q4
 * weight it holds: in place in the mapping (the file's bytes are the in-memory layout), or as an
 * owned copy when llama's Q / K rows are un-permuted (section by section) or the data is not
 * 4-byte aligned. Its indices are checked first (a pattern xf_s24_compress cannot write would
 * make the products read other inputs than the weights say). */
static xf_status gguf_s24(xf_weight_set *ws, const xf_gguf_tensor *t, const char *name, int ndim, int stored, xf_gguf_permute perm,
                          size_t heads, xf_weight *out) {
    const char *file = ws->paths[0];
    if (!stored || ndim != 2)
        return xf_error(XF_ERR_UNSUPPORTED,
                        "%s: tensor \"%s\" (%s) has type %s (2:4 compressed), which only the linear weights of the blocks can have",
                        file, t->name, name, xf_ggml_type_name(t->type));
    uint64_t sec[3] = {0, 0, 0};
    const int ns = xf_ggml_s24_sections(t->type, out->cols, sec);
    const size_t N = out->rows, K = out->cols;
    if (!ns || t->nbytes != (uint64_t)N * xf_ggml_row_bytes(t->type, K)) /* the reader sized it so: a guard */
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\": %llu bytes do not hold a %s weight of [%zu, %zu]", file, t->name,
                        (unsigned long long)t->nbytes, xf_ggml_type_name(t->type), N, K);
    const uint8_t *idx = (const uint8_t *)t->data + N * (sec[0] + (ns > 2 ? sec[1] : 0));
    size_t br = 0, bg = 0;
    if (xf_s24_check_indices(idx, N, K, &br, &bg)) {
        const unsigned nib = (idx[br * sec[ns - 1] + bg / 2] >> (4 * (bg % 2))) & 15u;
        if (bg < K / 4)
            return xf_error(XF_ERR_FORMAT,
                            "%s: tensor \"%s\" (%s): indices of row %zu, group %zu (inputs %zu..%zu): kept positions %u and %u "
                            "are not two increasing places of the group's 4",
                            file, t->name, xf_ggml_type_name(t->type), br, bg, 4 * bg, 4 * bg + 3, nib & 3u, nib >> 2);
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\" (%s): indices of row %zu: padding bits past its %zu values are not 0",
                        file, t->name, xf_ggml_type_name(t->type), br, K / 2);
    }
    out->fmt = t->type == XF_GGML_S24 ? &xf_fmt_s24 : t->type == XF_GGML_S24Q8 ? &xf_fmt_s24q8 : &xf_fmt_s24q4;
    out->row_bytes = 0;
    out->data = t->data;
    const int unperm = perm == XF_GGUF_PERMUTE_Q || perm == XF_GGUF_PERMUTE_K;
    if (!unperm && (uintptr_t)t->data % 4 == 0) return XF_OK;
    const size_t dh = unperm ? N / heads : 0, widest = (size_t)(sec[0] > sec[1] ? sec[0] : sec[1]);
    unsigned char *buf = xf_weight_set_alloc(ws, (size_t)t->nbytes, t->name), *tmp = buf && dh ? xf_malloc(dh * widest) : NULL;
    if (!buf) return XF_ERR_NOMEM;
    if (dh && !tmp) return xf_error(XF_ERR_NOMEM, "cannot allocate a copy of tensor \"%s\"", t->name);
    memcpy(buf, t->data, (size_t)t->nbytes);
    for (int i = 0; dh && i < ns; i++) { /* each section: N rows of sec[i] bytes (the indices' are narrower than the values') */
        size_t off = 0;
        for (int k = 0; k < i; k++) off += N * (size_t)sec[k];
        xf_gguf_unpermute_rows(buf + off, heads, dh, (size_t)sec[i], tmp);
    }
    free(tmp);
    out->data = buf;
    return XF_OK;
}

/* GGUF: dims are innermost first, so an HF [d0, d1] matrix is stored with dims [d1, d0]. */
static xf_status gguf_get(xf_weight_set *ws, const char *name, int ndim, size_t d0, size_t d1, int stored,
                          xf_weight *out) {
    const char *file = ws->paths[0];
    char gname[256];
    xf_gguf_permute perm;
    if (!xf_gguf_tensor_name(ws->arch, name, gname, sizeof gname, &perm))
        return xf_error(XF_ERR_NOT_FOUND, "%s: tensor \"%s\" has no GGUF name", file, name);
    const xf_gguf_tensor *t = xf_gguf_find_tensor(ws->gguf, gname);
    if (!t) return xf_error(XF_ERR_NOT_FOUND, "%s: required tensor \"%s\" (%s) is missing", file, gname, name);
    const int tr = perm == XF_GGUF_TRANSPOSE && ndim == 2; /* stored [d1, d0] row-major: dims [d0, d1] */
    if (ndim == 1 && t->n_dims == 1 && d0 == XF_ANY) d0 = (size_t)t->dims[0];
    if (ndim == 2 && t->n_dims == 2) {
        if (d0 == XF_ANY) d0 = (size_t)t->dims[tr ? 0 : 1];
        if (d1 == XF_ANY) d1 = (size_t)t->dims[tr ? 1 : 0];
    }
    int ok = ndim == 1 ? t->n_dims == 1 && t->dims[0] == d0
                       : t->n_dims == 2 && t->dims[0] == (tr ? d0 : d1) && t->dims[1] == (tr ? d1 : d0);
    if (!ok) {
        char got[160];
        size_t l = (size_t)snprintf(got, sizeof got, "[");
        for (uint32_t i = 0; i < t->n_dims && l < sizeof got; i++)
            l += (size_t)snprintf(got + l, sizeof got - l, "%s%llu", i ? ", " : "", (unsigned long long)t->dims[i]);
        if (l < sizeof got) snprintf(got + l, sizeof got - l, "]");
        if (ndim == 1)
            return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\" (%s) has dims %s, expected [%zu]", file, gname, name, got, d0);
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\" (%s) has dims %s (innermost first), expected [%zu, %zu]",
                        file, gname, name, got, tr ? d0 : d1, tr ? d1 : d0);
    }
    if (xf_ggml_is_s24(t->type)) { /* GPT-2's Conv1D ([in, out] asked, tr): served as the linear [out, in] it holds */
        *out = (xf_weight){.fmt = &xf_fmt_s24, .rows = tr ? d1 : d0, .cols = tr ? d0 : d1, .name = t->name};
        if (tr) perm = XF_GGUF_PERMUTE_NONE;
        const size_t heads = ws->head_dim ? d0 / ws->head_dim : 0;
        if ((perm == XF_GGUF_PERMUTE_Q || perm == XF_GGUF_PERMUTE_K) &&
            (heads == 0 || d0 % ws->head_dim != 0 || ws->head_dim % 2 != 0))
            return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\" has %zu rows, not a whole number of heads of %zu rows (even)",
                            file, gname, d0, ws->head_dim);
        return gguf_s24(ws, t, name, ndim, stored, perm == XF_GGUF_TRANSPOSE ? XF_GGUF_PERMUTE_NONE : perm, heads, out);
    }
    const xf_quant_traits *q = xf_quant_traits_of((int)t->type);
    if (!q || t->n_elements % q->block_size != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor \"%s\" (%s) has type %s, which cannot be used for weights",
                        file, gname, name, xf_ggml_type_name(t->type));
    *out = (xf_weight){.fmt = &xf_fmt_f32, .rows = ndim == 1 ? 1 : d0, .cols = ndim == 1 ? d0 : d1, .name = t->name};
    if (t->type == XF_GGML_F32 && perm == XF_GGUF_PERMUTE_NONE && ((uintptr_t)t->data % sizeof(float)) == 0) {
        out->data = t->data;
        return XF_OK;
    }
    if (perm == XF_GGUF_TRANSPOSE) perm = tr ? XF_GGUF_TRANSPOSE : XF_GGUF_PERMUTE_NONE;
    size_t n = (size_t)t->n_elements, heads = ws->head_dim ? d0 / ws->head_dim : 0;
    if ((perm == XF_GGUF_PERMUTE_Q || perm == XF_GGUF_PERMUTE_K) &&
        (heads == 0 || d0 % ws->head_dim != 0 || ws->head_dim % 2 != 0))
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\" has %zu rows, not a whole number of heads of %zu rows (even)",
                        file, gname, d0, ws->head_dim);
    if (stored && ndim == 2 && perm != XF_GGUF_TRANSPOSE && xf_qmatmul_has((int)t->type))
        return gguf_blocks(ws, t, perm, heads, out);
    float *buf = xf_aligned_alloc(n * sizeof(float));
    if (!buf) return xf_error(XF_ERR_NOMEM, "cannot allocate %zu floats for tensor \"%s\"", n, gname);
    xf_status st = keep_owned(ws, buf);
    if (st) {
        free(buf);
        return st;
    }
    if (perm == XF_GGUF_TRANSPOSE) { /* dequantize [d1, d0], then transpose into buf [d0, d1] */
        float *tmp = xf_malloc(n * sizeof *tmp);
        if (!tmp) return xf_error(XF_ERR_NOMEM, "cannot allocate scratch for tensor \"%s\"", gname);
        q->dequant(t->data, tmp, n);
        for (size_t r = 0; r < d1; r++)
            for (size_t c = 0; c < d0; c++) buf[c * d1 + r] = tmp[r * d0 + c];
        free(tmp);
        out->data = buf;
        return XF_OK;
    }
    q->dequant(t->data, buf, n);
    if (perm != XF_GGUF_PERMUTE_NONE) {
        size_t dh = d0 / heads, cols = ndim == 1 ? 1 : d1;
        float *tmp = xf_malloc(dh * cols * sizeof *tmp);
        if (!tmp) return xf_error(XF_ERR_NOMEM, "cannot allocate scratch for tensor \"%s\"", gname);
        xf_gguf_unpermute_rows(buf, heads, dh, cols * sizeof *tmp, tmp);
        free(tmp);
    }
    out->data = buf;
    return XF_OK;
}

xf_status xf_weight_get_stored(xf_weight_set *ws, const char *name, size_t d0, size_t d1, xf_weight *out) {
    if (ws->gguf) return gguf_get(ws, name, 2, d0, d1, 1, out);
    return xf_weight_get(ws, name, 2, d0, d1, out);
}

xf_status xf_weight_get(xf_weight_set *ws, const char *name, int ndim, size_t d0, size_t d1,
                        xf_weight *out) {
    if (ws->gguf) return gguf_get(ws, name, ndim, d0, d1, 0, out);
    size_t fi = 0;
    const xf_st_tensor *t = find(ws, name, &fi);
    if (!t)
        return xf_error(XF_ERR_NOT_FOUND, "%s: required tensor \"%s\" is missing", ws->paths[0], name);
    if (t->ndim == ndim && d0 == XF_ANY) d0 = (size_t)t->shape[0];
    if (t->ndim == ndim && ndim == 2 && d1 == XF_ANY) d1 = (size_t)t->shape[1];
    int ok = t->ndim == ndim && (uint64_t)t->shape[0] == d0 && (ndim == 1 || (uint64_t)t->shape[1] == d1);
    if (!ok) {
        char got[160];
        shape_str(t, got, sizeof got);
        if (ndim == 1)
            return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\" has shape %s, expected [%zu]", ws->paths[fi], name, got, d0);
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\" has shape %s, expected [%zu, %zu]", ws->paths[fi], name, got, d0, d1);
    }
    *out = (xf_weight){.fmt = &xf_fmt_f32, .rows = ndim == 1 ? 1 : d0, .cols = ndim == 1 ? d0 : d1, .name = t->name};
    if (t->dtype == XF_DT_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        out->data = t->data;
        return XF_OK;
    }
    if (t->dtype != XF_DT_F32 && t->dtype != XF_DT_F16 && t->dtype != XF_DT_BF16 && t->dtype != XF_DT_F64)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor \"%s\" has dtype %s; weights must be F32, F16, BF16 or F64",
                        ws->paths[fi], name, xf_dtype_name(t->dtype));
    float *buf = xf_aligned_alloc((size_t)t->n_elements * sizeof(float));
    if (!buf) return xf_error(XF_ERR_NOMEM, "cannot allocate %llu floats for tensor \"%s\"", (unsigned long long)t->n_elements, name);
    xf_status st = keep_owned(ws, buf);
    if (st) {
        free(buf);
        return st;
    }
    xf_convert_to_f32(t->dtype, t->data, buf, (size_t)t->n_elements);
    out->data = buf;
    return XF_OK;
}

uint64_t xf_weight_set_tensor_bytes(const xf_weight_set *ws) {
    uint64_t s = 0;
    if (ws->gguf)
        for (size_t i = 0; i < xf_gguf_tensor_count(ws->gguf); i++) s += xf_gguf_tensor_at(ws->gguf, i)->nbytes;
    for (size_t i = 0; i < ws->n_files; i++)
        for (size_t k = 0; k < xf_st_count(ws->files[i]); k++) s += xf_st_at(ws->files[i], k)->nbytes;
    return s;
}

uint64_t xf_weight_set_file_bytes(const xf_weight_set *ws) {
    uint64_t s = 0;
    if (ws->gguf) return xf_gguf_file_size(ws->gguf);
    for (size_t i = 0; i < ws->n_files; i++) s += xf_st_file_size(ws->files[i]);
    return s;
}

const char *xf_weight_set_dtypes(const xf_weight_set *ws) { return ws->dtypes; }
const xf_gguf *xf_weight_set_gguf(const xf_weight_set *ws) { return ws ? ws->gguf : NULL; }
size_t xf_weight_set_n_files(const xf_weight_set *ws) { return ws->gguf ? 1 : ws->n_files; }
const char *const *xf_weight_set_paths(const xf_weight_set *ws) { return (const char *const *)ws->paths; }

xf_status xf_weight_set_adopt(xf_weight_set *ws, void *buf) { return keep_owned(ws, buf); }

/* 1 if data is a tensor served straight from one of the set's file mappings. */
static int is_mapped(const xf_weight_set *ws, const void *data) {
    for (size_t i = 0; i < ws->n_files; i++)
        for (size_t k = 0; k < xf_st_count(ws->files[i]); k++)
            if (xf_st_at(ws->files[i], k)->data == data) return 1;
    for (size_t i = 0; ws->gguf && i < xf_gguf_tensor_count(ws->gguf); i++)
        if (xf_gguf_tensor_at(ws->gguf, i)->data == data) return 1;
    return 0;
}

/* Drop the whole pages of [data, data + bytes) of a file mapping (advisory: failure only keeps them). */
static void drop_pages(const void *data, size_t bytes) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t a = (uintptr_t)data, e = a + bytes;
    a = (a + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    e &= ~((uintptr_t)page - 1);
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

int xf_weight_set_mapped(const xf_weight_set *ws, const void *data) { return is_mapped(ws, data); }

void xf_weight_release(xf_weight_set *ws, const xf_weight *w) {
    if (w->data && is_mapped(ws, w->data)) drop_pages(w->data, w->rows * w->cols * sizeof(float));
}

/* The huge-page memory of xf_weight_set_alloc (weights.h), or NULL (nothing set, nothing kept). */
static void *huge_alloc(xf_weight_set *ws, size_t bytes) {
    const size_t huge = (size_t)2 << 20, block = (size_t)16 << 20;
    const size_t need = (bytes + 63) & ~(size_t)63;
    if (!bytes || need < bytes) return NULL; /* nothing, or overflow */
    if (need > ws->arena_left) {
        /* a new block: 16 MiB, or the tensor's own 2 MiB multiple when it is larger. Tensors are
         * carved one after another, so they share the huge pages at their ends (each in a 2 MiB
         * multiple of its own, every tensor's last page was resident whole: MiniLM's converted
         * weights took 25 MB more). The rest of the previous block stays untouched: address
         * space, not resident memory. */
        const size_t cap = need <= block ? block : (need + huge - 1) & ~(huge - 1);
        if (cap < need) return NULL; /* overflow */
        uint8_t *buf = aligned_alloc(huge, cap);
        if (!buf) return NULL;
#ifdef MADV_HUGEPAGE
        madvise(buf, cap, MADV_HUGEPAGE); /* before the first touch; advisory */
#endif
        if (keep_owned(ws, buf)) {
            free(buf);
            return NULL;
        }
        ws->arena = buf, ws->arena_left = cap;
    }
    void *buf = ws->arena;
    ws->arena += need, ws->arena_left -= need;
    return buf;
}

void *xf_weight_set_alloc(xf_weight_set *ws, size_t bytes, const char *name) {
    void *buf = huge_alloc(ws, bytes);
    if (buf) return buf;
    buf = xf_aligned_alloc(bytes ? bytes : 1);
    if (!buf) {
        xf_error(XF_ERR_NOMEM, "cannot allocate %zu bytes for tensor \"%s\"", bytes, name ? name : "?");
        return NULL;
    }
    if (keep_owned(ws, buf)) {
        free(buf);
        return NULL;
    }
    return buf;
}

xf_status xf_weight_to_hugepages(xf_weight_set *ws, xf_weight *w, size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    if (!w->data || !bytes || !is_mapped(ws, w->data)) return XF_OK;
    uint8_t *buf = huge_alloc(ws, bytes);
    if (!buf) return XF_OK; /* the mapped bytes serve as well, only slower */
    /* by 2 MiB, each part's mapped pages dropped once copied: the peak resident set grows by one part */
    for (size_t off = 0; off < bytes; off += huge) {
        const size_t n = bytes - off < huge ? bytes - off : huge;
        memcpy((uint8_t *)buf + off, (const uint8_t *)w->data + off, n);
        drop_pages((const uint8_t *)w->data + off, n);
    }
    w->data = buf;
    return XF_OK;
}
