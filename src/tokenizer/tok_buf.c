/* tok_buf.c — growable byte and int32 buffers (overflow-checked, NOMEM reported). */
#include "tokenizer/tok_buf.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

static xf_status grow(void **data, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return XF_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) {
            nc = need;
            break;
        }
        nc *= 2;
    }
    size_t bytes;
    if (!xf_mul_ok(nc, elem, &bytes)) return xf_error(XF_ERR_NOMEM, "tokenizer: buffer too large");
    void *p = xf_realloc(*data, bytes);
    if (!p) return xf_error(XF_ERR_NOMEM, "tokenizer: out of memory (%zu bytes)", bytes);
    *data = p;
    *cap = nc;
    return XF_OK;
}

xf_status xf_buf_reserve(xf_tok_buf *b, size_t extra) {
    if (extra > SIZE_MAX - b->len - 1) return xf_error(XF_ERR_NOMEM, "tokenizer: buffer too large");
    return grow((void **)&b->data, &b->cap, b->len + extra + 1, 1);
}

xf_status xf_buf_append(xf_tok_buf *b, const void *p, size_t n) {
    xf_status st = xf_buf_reserve(b, n);
    if (st) return st;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return XF_OK;
}

void xf_buf_free(xf_tok_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

xf_status xf_ids_append(xf_tok_ids *v, const int32_t *p, size_t n) {
    if (n > SIZE_MAX - v->len) return xf_error(XF_ERR_NOMEM, "tokenizer: too many tokens");
    xf_status st = grow((void **)&v->data, &v->cap, v->len + n, sizeof(int32_t));
    if (st) return st;
    if (n) memcpy(v->data + v->len, p, n * sizeof(int32_t));
    v->len += n;
    return XF_OK;
}

xf_status xf_ids_push(xf_tok_ids *v, int32_t id) {
    if (v->len < v->cap) {
        v->data[v->len++] = id;
        return XF_OK;
    }
    return xf_ids_append(v, &id, 1);
}

void xf_ids_free(xf_tok_ids *v) {
    free(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}
