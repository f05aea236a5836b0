/* weights.c — the weight set: tensors looked up by name across safetensors files, shape-checked,
 * served as F32 (zero-copy when possible). */
#include "model/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "io/safetensors.h"

struct xf_weight_set {
    size_t n_files;
    xf_safetensors **files;
    char **paths;
    void **owned; /* converted copies, freed with the set */
    size_t n_owned, cap_owned;
    char dtypes[128];
};

void xf_weight_set_free(xf_weight_set *ws) {
    if (!ws) return;
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

xf_status xf_weight_get(xf_weight_set *ws, const char *name, int ndim, size_t d0, size_t d1,
                        xf_weight *out) {
    size_t fi = 0;
    const xf_st_tensor *t = find(ws, name, &fi);
    if (!t)
        return xf_error(XF_ERR_NOT_FOUND, "%s: required tensor \"%s\" is missing", ws->paths[0], name);
    int ok = t->ndim == ndim && (uint64_t)t->shape[0] == d0 && (ndim == 1 || (uint64_t)t->shape[1] == d1);
    if (!ok) {
        char got[160];
        shape_str(t, got, sizeof got);
        if (ndim == 1)
            return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\" has shape %s, expected [%zu]", ws->paths[fi], name, got, d0);
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\" has shape %s, expected [%zu, %zu]", ws->paths[fi], name, got, d0, d1);
    }
    out->dtype = XF_DT_F32;
    out->rows = ndim == 1 ? 1 : d0;
    out->cols = ndim == 1 ? d0 : d1;
    out->name = t->name;
    if (t->dtype == XF_DT_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        out->data = t->data;
        return XF_OK;
    }
    if (t->dtype != XF_DT_F32 && t->dtype != XF_DT_F16 && t->dtype != XF_DT_BF16 && t->dtype != XF_DT_F64)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor \"%s\" has dtype %s; weights must be F32, F16, BF16 or F64",
                        ws->paths[fi], name, xf_dtype_name(t->dtype));
    if (ws->n_owned == ws->cap_owned) {
        size_t cap = ws->cap_owned ? 2 * ws->cap_owned : 64;
        void **p = xf_realloc(ws->owned, cap * sizeof *p);
        if (!p) return xf_error(XF_ERR_NOMEM, "cannot grow the weight list");
        ws->owned = p;
        ws->cap_owned = cap;
    }
    float *buf = xf_aligned_alloc((size_t)t->n_elements * sizeof(float));
    if (!buf) return xf_error(XF_ERR_NOMEM, "cannot allocate %llu floats for tensor \"%s\"", (unsigned long long)t->n_elements, name);
    xf_convert_to_f32(t->dtype, t->data, buf, (size_t)t->n_elements);
    ws->owned[ws->n_owned++] = buf;
    out->data = buf;
    return XF_OK;
}

uint64_t xf_weight_set_tensor_bytes(const xf_weight_set *ws) {
    uint64_t s = 0;
    for (size_t i = 0; i < ws->n_files; i++)
        for (size_t k = 0; k < xf_st_count(ws->files[i]); k++) s += xf_st_at(ws->files[i], k)->nbytes;
    return s;
}

uint64_t xf_weight_set_file_bytes(const xf_weight_set *ws) {
    uint64_t s = 0;
    for (size_t i = 0; i < ws->n_files; i++) s += xf_st_file_size(ws->files[i]);
    return s;
}

const char *xf_weight_set_dtypes(const xf_weight_set *ws) { return ws->dtypes; }
size_t xf_weight_set_n_files(const xf_weight_set *ws) { return ws->n_files; }
const char *const *xf_weight_set_paths(const xf_weight_set *ws) { return (const char *const *)ws->paths; }
