/* gguf_write.c — the GGUF v3 writer of gguf_write.h. Metadata is encoded as it is added (one
 * little-endian byte buffer in file order), tensor infos are kept until the file is written, and
 * tensor bytes are read or streamed only then, through a temporary file renamed into place. */
#include "io/gguf_write.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/outfile.h"

#define MAX_KEY 65535u
#define MAX_TENSOR_NAME 63u /* ggml's GGML_MAX_NAME (64) with its NUL */

/* Byte size of the fixed-size value types (0: string, array). */
static const uint8_t k_size[XF_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

typedef struct wt {
    char *name;
    uint32_t type, n_dims;
    uint64_t dims[XF_GGUF_MAX_DIMS];
    uint64_t nbytes, offset;
    const void *data;
    xf_gguf_emit_fn emit;
    void *user;
} wt;

typedef struct bbuf {
    unsigned char *p;
    size_t n, cap;
} bbuf;

struct xf_gguf_writer {
    bbuf kv;         /* encoded pairs, in the order they were set */
    char **keys;     /* their keys (for duplicate checks) */
    size_t n_kv, cap_kv;
    wt *t;
    size_t n_t, cap_t;
    uint32_t alignment;
};

struct xf_gguf_sink {
    xf_outfile *f;
    const char *name;
    uint64_t written, expect;
};

/* ---------------------------------------------------------------- bytes */

static xf_status put(bbuf *b, const void *p, size_t n) {
    if (n > SIZE_MAX - b->n) return xf_error(XF_ERR_NOMEM, "GGUF metadata exceeds the address space");
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap = cap > SIZE_MAX / 2 ? b->n + n : 2 * cap;
        unsigned char *q = xf_realloc(b->p, cap);
        if (!q) return xf_error(XF_ERR_NOMEM, "cannot grow the GGUF metadata to %zu bytes", b->n + n);
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
    return XF_OK;
}

static void le(unsigned char *o, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; i++) o[i] = (unsigned char)(v >> (8 * i));
}

static xf_status put_le(bbuf *b, uint64_t v, size_t n) {
    unsigned char o[8];
    le(o, v, n);
    return put(b, o, n);
}

static xf_status put_str(bbuf *b, const char *s, size_t len) {
    xf_status st = put_le(b, len, 8);
    return st ? st : put(b, s, len);
}

/* One host-order value of a fixed-size type at p, little-endian. */
static xf_status put_value(bbuf *b, xf_gguf_type t, const void *p) {
    uint64_t v = 0;
    switch (k_size[t]) {
    case 1: v = *(const uint8_t *)p; break;
    case 2: { uint16_t x; memcpy(&x, p, 2); v = x; } break;
    case 4: { uint32_t x; memcpy(&x, p, 4); v = x; } break;
    default: memcpy(&v, p, 8); break;
    }
    if (t == XF_GGUF_BOOL) v = v != 0;
    return put_le(b, v, k_size[t]);
}

/* ---------------------------------------------------------------- writer */

xf_status xf_gguf_writer_create(xf_gguf_writer **out) {
    *out = xf_calloc(1, sizeof **out);
    if (!*out) return xf_error(XF_ERR_NOMEM, "cannot allocate a GGUF writer");
    (*out)->alignment = XF_GGUF_DEFAULT_ALIGNMENT;
    return XF_OK;
}

void xf_gguf_writer_free(xf_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->keys);
    free(w->t);
    free(w->kv.p);
    free(w);
}

int xf_gguf_writer_has(const xf_gguf_writer *w, const char *key) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) return 1;
    return 0;
}

/* Start pair `key` of type t: checks, the key's copy, and its encoded key and type. */
static xf_status begin_kv(xf_gguf_writer *w, const char *key, xf_gguf_type t) {
    if (!key || !*key) return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: empty metadata key");
    size_t len = strlen(key);
    if (len > MAX_KEY) return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: metadata key \"%.60s...\" is longer than %u bytes", key, MAX_KEY);
    if (xf_gguf_writer_has(w, key)) return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: metadata key \"%s\" is set twice", key);
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        char **k = xf_realloc(w->keys, cap * sizeof *k);
        if (!k) return xf_error(XF_ERR_NOMEM, "GGUF writer: out of memory");
        w->keys = k;
        w->cap_kv = cap;
    }
    char *copy = xf_strdup(key);
    if (!copy) return xf_error(XF_ERR_NOMEM, "GGUF writer: out of memory");
    xf_status st = put_str(&w->kv, key, len);
    if (!st) st = put_le(&w->kv, (uint32_t)t, 4);
    if (st) {
        free(copy);
        return st;
    }
    w->keys[w->n_kv++] = copy;
    return XF_OK;
}

/* Undo a begun pair whose value failed (the buffer is cut back to mark). */
static xf_status cancel_kv(xf_gguf_writer *w, size_t mark, xf_status st) {
    w->kv.n = mark;
    free(w->keys[--w->n_kv]);
    return st;
}

static xf_status set_scalar(xf_gguf_writer *w, const char *key, xf_gguf_type t, const void *v) {
    if (key && strcmp(key, "general.alignment") == 0) {
        uint32_t a;
        memcpy(&a, v, 4);
        if (t != XF_GGUF_UINT32 || a == 0 || (a & (a - 1)) || a > XF_GGUF_MAX_ALIGNMENT)
            return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: general.alignment must be a uint32 power of two in [1, %u]",
                            XF_GGUF_MAX_ALIGNMENT);
    }
    size_t mark = w->kv.n;
    xf_status st = begin_kv(w, key, t);
    if (st) return st;
    if ((st = put_value(&w->kv, t, v))) return cancel_kv(w, mark, st);
    if (strcmp(key, "general.alignment") == 0) memcpy(&w->alignment, v, 4);
    return XF_OK;
}

#define SETTER(fn, T, tag) \
    xf_status fn(xf_gguf_writer *w, const char *key, T v) { return set_scalar(w, key, tag, &v); }
SETTER(xf_gguf_set_u8, uint8_t, XF_GGUF_UINT8)
SETTER(xf_gguf_set_i8, int8_t, XF_GGUF_INT8)
SETTER(xf_gguf_set_u16, uint16_t, XF_GGUF_UINT16)
SETTER(xf_gguf_set_i16, int16_t, XF_GGUF_INT16)
SETTER(xf_gguf_set_u32, uint32_t, XF_GGUF_UINT32)
SETTER(xf_gguf_set_i32, int32_t, XF_GGUF_INT32)
SETTER(xf_gguf_set_u64, uint64_t, XF_GGUF_UINT64)
SETTER(xf_gguf_set_i64, int64_t, XF_GGUF_INT64)
SETTER(xf_gguf_set_f32, float, XF_GGUF_FLOAT32)
SETTER(xf_gguf_set_f64, double, XF_GGUF_FLOAT64)
#undef SETTER

xf_status xf_gguf_set_bool(xf_gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;
    return set_scalar(w, key, XF_GGUF_BOOL, &b);
}

static xf_status check_str(const char *key, size_t len) {
    if (len > XF_GGUF_MAX_STRING)
        return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: metadata key \"%s\": a string of %zu bytes is longer than %llu",
                        key, len, (unsigned long long)XF_GGUF_MAX_STRING);
    return XF_OK;
}

xf_status xf_gguf_set_str(xf_gguf_writer *w, const char *key, const char *s, size_t len) {
    xf_status st = check_str(key ? key : "", len);
    if (st) return st;
    if (!s && len) return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: metadata key \"%s\": NULL string", key ? key : "");
    size_t mark = w->kv.n;
    if ((st = begin_kv(w, key, XF_GGUF_STRING))) return st;
    if ((st = put_str(&w->kv, s, len))) return cancel_kv(w, mark, st);
    return XF_OK;
}

xf_status xf_gguf_set_arr(xf_gguf_writer *w, const char *key, xf_gguf_type elem, const void *data, uint64_t n) {
    if ((unsigned)elem >= XF_GGUF_TYPE_COUNT || elem == XF_GGUF_STRING || elem == XF_GGUF_ARRAY)
        return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: metadata key \"%s\": xf_gguf_set_arr takes fixed-size elements, "
                        "not type %u", key ? key : "", (unsigned)elem);
    size_t bytes;
    if (n > SIZE_MAX || !xf_mul_ok((size_t)n, k_size[elem], &bytes))
        return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: metadata key \"%s\": an array of %llu elements overflows",
                        key ? key : "", (unsigned long long)n);
    if (!data && n) return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: metadata key \"%s\": NULL array", key ? key : "");
    size_t mark = w->kv.n;
    xf_status st = begin_kv(w, key, XF_GGUF_ARRAY);
    if (st) return st;
    if ((st = put_le(&w->kv, (uint32_t)elem, 4)) || (st = put_le(&w->kv, n, 8))) return cancel_kv(w, mark, st);
    for (uint64_t i = 0; i < n && !st; i++) st = put_value(&w->kv, elem, (const unsigned char *)data + i * k_size[elem]);
    return st ? cancel_kv(w, mark, st) : XF_OK;
}

xf_status xf_gguf_set_arr_str(xf_gguf_writer *w, const char *key, const char *const *s, const size_t *lens, uint64_t n) {
    if (!s && n) return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: metadata key \"%s\": NULL array", key ? key : "");
    xf_status st = XF_OK;
    for (uint64_t i = 0; i < n && !st; i++) {
        if (!s[i] && (!lens || lens[i])) return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: metadata key \"%s\": string %llu is NULL",
                                                        key ? key : "", (unsigned long long)i);
        st = check_str(key ? key : "", lens ? lens[i] : strlen(s[i]));
    }
    if (st) return st;
    size_t mark = w->kv.n;
    if ((st = begin_kv(w, key, XF_GGUF_ARRAY))) return st;
    if ((st = put_le(&w->kv, XF_GGUF_STRING, 4)) || (st = put_le(&w->kv, n, 8))) return cancel_kv(w, mark, st);
    for (uint64_t i = 0; i < n && !st; i++) st = put_str(&w->kv, s[i], lens ? lens[i] : strlen(s[i]));
    return st ? cancel_kv(w, mark, st) : XF_OK;
}

/* An array value of a reader, re-encoded (elements of fixed size are little-endian in both). */
static xf_status put_arr(bbuf *b, const xf_gguf_arr *a, int depth, const char *key) {
    if (depth > XF_GGUF_MAX_DEPTH)
        return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: metadata key \"%s\": arrays nest more than %d deep", key,
                        XF_GGUF_MAX_DEPTH);
    xf_gguf_type t = xf_gguf_arr_type(a);
    uint64_t n = xf_gguf_arr_count(a);
    xf_status st = put_le(b, (uint32_t)t, 4);
    if (!st) st = put_le(b, n, 8);
    if (st) return st;
    if (t == XF_GGUF_STRING) {
        for (uint64_t i = 0; i < n && !st; i++) {
            const char *s;
            size_t len;
            if (!(st = xf_gguf_arr_str(a, i, &s, &len))) st = put_str(b, s, len);
        }
        return st;
    }
    if (t == XF_GGUF_ARRAY) {
        for (uint64_t i = 0; i < n && !st; i++) st = put_arr(b, xf_gguf_arr_sub(a, i), depth + 1, key);
        return st;
    }
    return put(b, xf_gguf_arr_data(a), (size_t)(n * k_size[t])); /* the reader bounded n by the file */
}

xf_status xf_gguf_copy_kv(xf_gguf_writer *w, const xf_gguf *g, size_t i) {
    const char *key = xf_gguf_key(g, i);
    if (!key) return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: %s has no metadata pair %zu", xf_gguf_path(g), i);
    xf_gguf_type t = xf_gguf_kv_type(g, i);
    xf_status st;
    if (t == XF_GGUF_STRING) {
        const char *s;
        size_t len;
        return (st = xf_gguf_get_str(g, key, &s, &len)) ? st : xf_gguf_set_str(w, key, s, len);
    }
    if (t == XF_GGUF_ARRAY) {
        const xf_gguf_arr *a;
        if ((st = xf_gguf_get_arr(g, key, &a))) return st;
        size_t mark = w->kv.n;
        if ((st = begin_kv(w, key, XF_GGUF_ARRAY))) return st;
        return (st = put_arr(&w->kv, a, 1, key)) ? cancel_kv(w, mark, st) : XF_OK;
    }
    unsigned char v[8] = {0};
    switch (t) {
    case XF_GGUF_UINT8: st = xf_gguf_get_u8(g, key, (uint8_t *)v); break;
    case XF_GGUF_INT8: st = xf_gguf_get_i8(g, key, (int8_t *)v); break;
    case XF_GGUF_UINT16: st = xf_gguf_get_u16(g, key, (uint16_t *)(void *)v); break;
    case XF_GGUF_INT16: st = xf_gguf_get_i16(g, key, (int16_t *)(void *)v); break;
    case XF_GGUF_UINT32: st = xf_gguf_get_u32(g, key, (uint32_t *)(void *)v); break;
    case XF_GGUF_INT32: st = xf_gguf_get_i32(g, key, (int32_t *)(void *)v); break;
    case XF_GGUF_FLOAT32: st = xf_gguf_get_f32(g, key, (float *)(void *)v); break;
    case XF_GGUF_UINT64: st = xf_gguf_get_u64(g, key, (uint64_t *)(void *)v); break;
    case XF_GGUF_INT64: st = xf_gguf_get_i64(g, key, (int64_t *)(void *)v); break;
    case XF_GGUF_FLOAT64: st = xf_gguf_get_f64(g, key, (double *)(void *)v); break;
    case XF_GGUF_BOOL: {
        int b = 0;
        if (!(st = xf_gguf_get_bool(g, key, &b))) v[0] = (unsigned char)(b != 0);
    } break;
    default: return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: %s: metadata key \"%s\" has type %u", xf_gguf_path(g), key, t);
    }
    return st ? st : set_scalar(w, key, t, v);
}

/* ---------------------------------------------------------------- tensors */

xf_status xf_gguf_add_tensor(xf_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *dims,
                             const void *data, xf_gguf_emit_fn emit, void *user) {
    if (!name || !*name) return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: empty tensor name");
    if (strlen(name) > MAX_TENSOR_NAME)
        return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: tensor name \"%s\" is longer than %u bytes", name, MAX_TENSOR_NAME);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0) return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: tensor \"%s\" is added twice", name);
    if (n_dims < 1 || n_dims > XF_GGUF_MAX_DIMS || !dims)
        return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: tensor \"%s\" has %u dims (1 to %d)", name, n_dims, XF_GGUF_MAX_DIMS);
    uint32_t be, bb;
    if (xf_ggml_type_size(type, &be, &bb) != 0)
        return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: tensor \"%s\": ggml type %u (%s) has no known size", name, type,
                        xf_ggml_type_name(type));
    if (!data && !emit) return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: tensor \"%s\" has neither data nor emit", name);
    wt t = {.type = type, .n_dims = n_dims, .data = data, .emit = emit, .user = user};
    uint64_t ne = 1;
    for (uint32_t d = 0; d < XF_GGUF_MAX_DIMS; d++) {
        t.dims[d] = d < n_dims ? dims[d] : 1;
        if (t.dims[d] == 0 || ne > (uint64_t)INT64_MAX / t.dims[d])
            return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: tensor \"%s\": dim %u = %llu is zero or overflows", name, d,
                            (unsigned long long)t.dims[d]);
        ne *= t.dims[d];
    }
    if (t.dims[0] % be)
        return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: tensor \"%s\": dims[0] = %llu is not a multiple of %s's block of %u",
                        name, (unsigned long long)t.dims[0], xf_ggml_type_name(type), be);
    if (xf_ggml_is_s24(type)) { /* 2:4 row types: rows x the bytes of a row */
        const uint64_t rb = xf_ggml_row_bytes(type, t.dims[0]);
        if (!rb || ne / t.dims[0] > UINT64_MAX / rb)
            return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: tensor \"%s\": byte size overflows", name);
        t.nbytes = ne / t.dims[0] * rb;
    } else {
        if (ne / be > UINT64_MAX / bb) return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: tensor \"%s\": byte size overflows", name);
        t.nbytes = ne / be * bb;
    }
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        wt *p = xf_realloc(w->t, cap * sizeof *p);
        if (!p) return xf_error(XF_ERR_NOMEM, "GGUF writer: out of memory");
        w->t = p;
        w->cap_t = cap;
    }
    if (!(t.name = xf_strdup(name))) return xf_error(XF_ERR_NOMEM, "GGUF writer: out of memory");
    w->t[w->n_t++] = t;
    return XF_OK;
}

xf_status xf_gguf_sink_write(xf_gguf_sink *s, const void *p, size_t n) {
    if (n > s->expect - s->written)
        return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: tensor \"%s\": more than its %llu bytes were written", s->name,
                        (unsigned long long)s->expect);
    s->written += n;
    return xf_outfile_write(s->f, p, n);
}

/* ---------------------------------------------------------------- output */

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* Header and tensor infos, with the data offsets laid out; *end = unaligned end of the infos. */
static xf_status encode_head(xf_gguf_writer *w, bbuf *h, uint64_t *data_bytes) {
    xf_status st = put(h, "GGUF", 4);
    if (!st) st = put_le(h, 3, 4);
    if (!st) st = put_le(h, w->n_t, 8);
    if (!st) st = put_le(h, w->n_kv, 8);
    if (!st) st = put(h, w->kv.p, w->kv.n);
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t && !st; i++) {
        wt *t = &w->t[i];
        t->offset = off;
        if (t->nbytes > UINT64_MAX - off - w->alignment)
            return xf_error(XF_ERR_INVALID_ARG, "GGUF writer: tensor data exceeds 2^64 bytes");
        off = align_up(off + t->nbytes, w->alignment);
        st = put_str(h, t->name, strlen(t->name));
        if (!st) st = put_le(h, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims && !st; d++) st = put_le(h, t->dims[d], 8);
        if (!st) st = put_le(h, t->type, 4);
        if (!st) st = put_le(h, t->offset, 8);
    }
    *data_bytes = off;
    return st;
}

uint64_t xf_gguf_writer_size(const xf_gguf_writer *w) {
    bbuf h = {0};
    uint64_t data = 0;
    xf_status st = encode_head((xf_gguf_writer *)w, &h, &data);
    uint64_t n = st ? 0 : align_up(h.n, w->alignment) + data;
    free(h.p);
    return n;
}

static xf_status pad(xf_outfile *f, uint64_t to) {
    static const unsigned char zero[64];
    xf_status st = XF_OK;
    while (!st && xf_outfile_size(f) < to) {
        uint64_t k = to - xf_outfile_size(f);
        st = xf_outfile_write(f, zero, k < sizeof zero ? (size_t)k : sizeof zero);
    }
    return st;
}

xf_status xf_gguf_writer_write(xf_gguf_writer *w, const char *path, xf_gguf_progress_fn progress, void *user) {
    bbuf h = {0};
    uint64_t data_bytes = 0;
    xf_status st = encode_head(w, &h, &data_bytes);
    if (st) {
        free(h.p);
        return xf_error_wrap(st, "%s", path);
    }
    xf_outfile *f = NULL;
    if ((st = xf_outfile_open(path, &f))) {
        free(h.p);
        return st;
    }
    const uint64_t base = align_up(h.n, w->alignment), total = base + data_bytes;
    st = xf_outfile_write(f, h.p, h.n);
    free(h.p);
    if (!st) st = pad(f, base);
    if (progress && !st) progress(user, xf_outfile_size(f), total);
    for (size_t i = 0; i < w->n_t && !st; i++) {
        const wt *t = &w->t[i];
        if (t->data) {
            st = xf_outfile_write(f, t->data, (size_t)t->nbytes);
        } else {
            xf_gguf_sink s = {f, t->name, 0, t->nbytes};
            st = t->emit(t->user, &s);
            if (!st && s.written != t->nbytes)
                st = xf_error(XF_ERR_INVALID_ARG, "GGUF writer: tensor \"%s\": %llu of its %llu bytes were written", t->name,
                              (unsigned long long)s.written, (unsigned long long)t->nbytes);
        }
        if (!st) st = pad(f, base + align_up(t->offset + t->nbytes, w->alignment));
        if (progress && !st) progress(user, xf_outfile_size(f), total);
    }
    if (st) {
        xf_outfile_abort(f);
        return st;
    }
    return xf_outfile_commit(f);
}
