/* gguf.c — read-only, memory-mapped GGUF reader (versions 2 and 3) that treats the file as
 * hostile: every count, length and offset is checked against the bytes that remain in the file
 * and against overflow before it is used, and nothing is ever read past the end of the mapping.
 *
 * Byte layout (little-endian; str = u64 length + bytes, not NUL-terminated):
 *   0   u32 magic 0x46554747 ("GGUF")
 *   4   u32 version (2 or 3; 1 used u32 counts and lengths and is refused)
 *   8   u64 tensor_count
 *   16  u64 kv_count
 *   24  kv_count x  { str key, u32 type, value }
 *         value: u8 i8 u16 i16 u32 i32 f32 bool(u8) u64 i64 f64 | str |
 *                array { u32 elem_type, u64 count, count elements (arrays may nest) }
 *       tensor_count x { str name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset }
 *       zero padding up to a multiple of general.alignment (u32, default 32)
 *       data section: tensor i occupies [offset_i, offset_i + nbytes_i) of it
 *
 * What is enforced (see docs/GGUF.md):
 *   - magic, version 2/3 (1 and big-endian files are XF_ERR_UNSUPPORTED, others too);
 *   - tensor_count <= XF_GGUF_MAX_TENSORS, kv_count <= XF_GGUF_MAX_KV (XF_ERR_RANGE), and each
 *     <= what the remaining bytes could hold at the minimum encoded size of one entry;
 *   - string lengths <= remaining bytes and <= XF_GGUF_MAX_STRING; array count x minimum
 *     element size <= remaining bytes (overflow-checked); arrays nest <= XF_GGUF_MAX_DEPTH;
 *   - value types 0..12 only; keys and tensor names unique and free of NUL bytes;
 *   - general.alignment, if present, is a u32 power of two in [1, 1 MiB];
 *   - tensors: 1 <= n_dims <= 4, every dim >= 1, element count <= INT64_MAX, a ggml type with a
 *     known size (others XF_ERR_UNSUPPORTED), dims[0] a multiple of the block size, byte size
 *     overflow-checked, offset a multiple of the alignment, data inside the file, no overlaps.
 */
#include "io/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"

/* Minimum encoded sizes, used to bound counts by the bytes left. */
#define MIN_KV_BYTES 13u     /* key length 8 + type 4 + a 1-byte value */
#define MIN_TENSOR_BYTES 32u /* name length 8 + n_dims 4 + one dim 8 + type 4 + offset 8 */
#define MIN_STR_BYTES 8u
#define MIN_ARR_BYTES 12u    /* elem_type 4 + count 8 */

struct xf_gguf_arr {
    uint32_t type;         /* element type */
    uint64_t count;
    const uint8_t *data;   /* first element in the mapping */
    uint64_t *str_off;     /* strings: offset of the bytes of element i from data */
    uint64_t *str_len;     /* strings: length of element i */
    struct xf_gguf_arr *sub; /* arrays: the count child arrays */
};

typedef struct gg_kv {
    char *key;
    uint32_t type;
    const uint8_t *val; /* scalars: the value bytes; strings: the bytes (after the length) */
    uint64_t len;       /* strings: byte length */
    xf_gguf_arr arr;    /* arrays */
} gg_kv;

struct xf_gguf {
    char *path;
    xf_mmap map;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    size_t n_kv, n_tensors;
    gg_kv *kv;
    gg_kv **kv_by_key;
    xf_gguf_tensor *tensors;
    xf_gguf_tensor **t_by_name;
};

/* ------------------------------------------------------------------- type tables */

static const char *const k_vtype_names[XF_GGUF_TYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool",  "string", "array", "uint64", "int64", "float64"};
/* Byte size of fixed-size value types (0 for string and array). */
static const uint8_t k_vtype_size[XF_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

typedef struct ggml_info {
    const char *name;
    uint32_t blck, tsize; /* 0 = known id, sizes not supported here */
} ggml_info;

/* Block sizes and bytes per block from the GGUF / ggml specification. */
static const ggml_info k_ggml[] = {
    [0] = {"F32", 1, 4},        [1] = {"F16", 1, 2},        [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},     [4] = {"Q4_2", 0, 0},       [5] = {"Q4_3", 0, 0},
    [6] = {"Q5_0", 32, 22},     [7] = {"Q5_1", 32, 24},     [8] = {"Q8_0", 32, 34},
    [9] = {"Q8_1", 0, 0},       [10] = {"Q2_K", 256, 84},   [11] = {"Q3_K", 256, 110},
    [12] = {"Q4_K", 256, 144},  [13] = {"Q5_K", 256, 176},  [14] = {"Q6_K", 256, 210},
    [15] = {"Q8_K", 256, 292},  [16] = {"IQ2_XXS", 0, 0},   [17] = {"IQ2_XS", 0, 0},
    [18] = {"IQ3_XXS", 0, 0},   [19] = {"IQ1_S", 0, 0},     [20] = {"IQ4_NL", 0, 0},
    [21] = {"IQ3_S", 0, 0},     [22] = {"IQ2_S", 0, 0},     [23] = {"IQ4_XS", 0, 0},
    [24] = {"I8", 1, 1},        [25] = {"I16", 1, 2},       [26] = {"I32", 1, 4},
    [27] = {"I64", 1, 8},       [28] = {"F64", 1, 8},       [29] = {"IQ1_M", 0, 0},
    [30] = {"BF16", 1, 2},      [31] = {"Q4_0_4_4", 0, 0},  [32] = {"Q4_0_4_8", 0, 0},
    [33] = {"Q4_0_8_8", 0, 0},  [34] = {"TQ1_0", 0, 0},     [35] = {"TQ2_0", 0, 0},
    [36] = {"IQ4_NL_4_4", 0, 0}, [37] = {"IQ4_NL_4_8", 0, 0}, [38] = {"IQ4_NL_8_8", 0, 0},
    [39] = {"MXFP4", 32, 17},
};
#define N_GGML (sizeof k_ggml / sizeof k_ggml[0])

/* xfmr's own types (docs/GGUF.md), ids from XF_GGML_FP4S on: not ggml's, so llama.cpp refuses them. */
static const ggml_info k_xfmr[] = {{"FP4S", 32, 18}, {"FP8S", 32, 34}, {"S24", 4, 0}, {"S24Q8", 4, 0}, {"S24Q4", 32, 0}};
#define N_XFMR (sizeof k_xfmr / sizeof k_xfmr[0])

static const ggml_info *type_info(uint32_t type) {
    if (type < N_GGML) return &k_ggml[type];
    if (type >= XF_GGML_FP4S && type - XF_GGML_FP4S < N_XFMR) return &k_xfmr[type - XF_GGML_FP4S];
    return NULL;
}

const char *xf_gguf_type_name(uint32_t type) {
    return type < XF_GGUF_TYPE_COUNT ? k_vtype_names[type] : "unknown";
}

const char *xf_ggml_type_name(uint32_t type) {
    const ggml_info *i = type_info(type);
    return i && i->name ? i->name : "unknown";
}

int xf_ggml_type_size(uint32_t type, uint32_t *block_elems, uint32_t *block_bytes) {
    const ggml_info *i = type_info(type);
    if (!i || i->blck == 0) return -1;
    if (block_elems) *block_elems = i->blck;
    if (block_bytes) *block_bytes = i->tsize;
    return 0;
}

int xf_ggml_is_s24(uint32_t type) { return type == XF_GGML_S24 || type == XF_GGML_S24Q8 || type == XF_GGML_S24Q4; }

int xf_ggml_s24_sections(uint32_t type, uint64_t K, uint64_t sec[3]) {
    if (!xf_ggml_is_s24(type) || K == 0 || K % 4 || K > ((uint64_t)1 << 40) || (type == XF_GGML_S24Q4 && K % 32)) return 0;
    const uint64_t V = K / 2, IB = (K + 31) / 32 * 4; /* kernels/sparse24.h: xf_s24_idx_row_bytes */
    if (type == XF_GGML_S24) {
        sec[0] = V * 4, sec[1] = IB;
        return 2;
    }
    if (type == XF_GGML_S24Q8) sec[0] = 4, sec[1] = V;
    else sec[0] = V / 16 * 2, sec[1] = V / 2;
    sec[2] = IB;
    return 3;
}

uint64_t xf_ggml_row_bytes(uint32_t type, uint64_t K) {
    uint64_t sec[3] = {0, 0, 0};
    const int ns = xf_ggml_s24_sections(type, K, sec);
    if (ns) return sec[0] + sec[1] + (ns > 2 ? sec[2] : 0);
    uint32_t be, bb;
    if (xf_ggml_is_s24(type) || xf_ggml_type_size(type, &be, &bb) != 0 || K % be || K / be > UINT64_MAX / bb) return 0;
    return K / be * bb;
}

/* ------------------------------------------------------------------- reading */

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* A cursor over the mapping; pos <= size always holds. */
typedef struct rd {
    const char *path;
    const uint8_t *p;
    uint64_t pos, size;
    char ctx[160]; /* what is being read, for messages: "metadata key \"x\"" */
} rd;

static uint64_t left(const rd *r) { return r->size - r->pos; }

static xf_status truncated(const rd *r, uint64_t need, const char *what) {
    return xf_error(XF_ERR_FORMAT,
                    "%s: %s: %s needs %llu bytes at offset %llu but only %llu remain (file truncated?)",
                    r->path, r->ctx, what, (unsigned long long)need, (unsigned long long)r->pos,
                    (unsigned long long)left(r));
}

static xf_status rd_u32(rd *r, uint32_t *v, const char *what) {
    if (left(r) < 4) return truncated(r, 4, what);
    *v = le32(r->p + r->pos);
    r->pos += 4;
    return XF_OK;
}

static xf_status rd_u64(rd *r, uint64_t *v, const char *what) {
    if (left(r) < 8) return truncated(r, 8, what);
    *v = le64(r->p + r->pos);
    r->pos += 8;
    return XF_OK;
}

/* A string: *off = file offset of its bytes, *len its length; both checked. */
static xf_status rd_str(rd *r, uint64_t *off, uint64_t *len, const char *what) {
    xf_status s = rd_u64(r, len, what);
    if (s != XF_OK) return s;
    if (*len > left(r))
        return xf_error(XF_ERR_FORMAT,
                        "%s: %s: %s has length %llu but only %llu bytes remain at offset %llu",
                        r->path, r->ctx, what, (unsigned long long)*len,
                        (unsigned long long)left(r), (unsigned long long)r->pos);
    if (*len > XF_GGUF_MAX_STRING)
        return xf_error(XF_ERR_RANGE, "%s: %s: %s has length %llu, more than the %llu-byte limit",
                        r->path, r->ctx, what, (unsigned long long)*len,
                        (unsigned long long)XF_GGUF_MAX_STRING);
    *off = r->pos;
    r->pos += *len;
    return XF_OK;
}

/* Heap NUL-terminated copy of a key / tensor name (which must not contain NUL). */
static xf_status dup_name(rd *r, uint64_t off, uint64_t len, const char *what, char **out) {
    if (memchr(r->p + off, 0, (size_t)len))
        return xf_error(XF_ERR_FORMAT, "%s: %s: %s contains a NUL byte", r->path, r->ctx, what);
    char *s = xf_malloc((size_t)len + 1);
    if (!s) return xf_error(XF_ERR_NOMEM, "%s: out of memory", r->path);
    memcpy(s, r->p + off, (size_t)len);
    s[len] = '\0';
    *out = s;
    return XF_OK;
}

static void arr_free(xf_gguf_arr *a) {
    if (a->sub)
        for (uint64_t i = 0; i < a->count; i++) arr_free(&a->sub[i]);
    free(a->sub);
    free(a->str_off);
    free(a->str_len);
    memset(a, 0, sizeof *a);
}

/* An array value (after its type tag): elem type, count, elements. depth = 1 at top level. */
static xf_status parse_array(rd *r, xf_gguf_arr *a, int depth) {
    if (depth > XF_GGUF_MAX_DEPTH)
        return xf_error(XF_ERR_RANGE, "%s: %s: arrays nested more than %d deep", r->path, r->ctx,
                        XF_GGUF_MAX_DEPTH);
    uint32_t et;
    uint64_t n;
    xf_status s = rd_u32(r, &et, "array element type");
    if (s == XF_OK) s = rd_u64(r, &n, "array count");
    if (s != XF_OK) return s;
    if (et >= XF_GGUF_TYPE_COUNT)
        return xf_error(XF_ERR_FORMAT, "%s: %s: unknown array element type %u at offset %llu",
                        r->path, r->ctx, et, (unsigned long long)(r->pos - 12));
    a->type = et;
    a->count = n;
    a->data = r->p + r->pos;
    uint64_t esz = et == XF_GGUF_STRING ? MIN_STR_BYTES
                   : et == XF_GGUF_ARRAY ? MIN_ARR_BYTES
                                         : k_vtype_size[et];
    if (n > UINT64_MAX / esz)
        return xf_error(XF_ERR_FORMAT, "%s: %s: array of %llu %s elements overflows 64 bits",
                        r->path, r->ctx, (unsigned long long)n, k_vtype_names[et]);
    if (n * esz > left(r))
        return xf_error(XF_ERR_FORMAT,
                        "%s: %s: array of %llu %s elements needs at least %llu bytes but only %llu "
                        "remain at offset %llu",
                        r->path, r->ctx, (unsigned long long)n, k_vtype_names[et],
                        (unsigned long long)(n * esz), (unsigned long long)left(r),
                        (unsigned long long)r->pos);
    if (et != XF_GGUF_STRING && et != XF_GGUF_ARRAY) {
        r->pos += n * esz;
        return XF_OK;
    }
    if (n == 0) return XF_OK;
    /* n <= file size / 8, so these allocations are bounded by the file size. */
    if (et == XF_GGUF_STRING) {
        a->str_off = xf_calloc((size_t)n, sizeof *a->str_off);
        a->str_len = xf_calloc((size_t)n, sizeof *a->str_len);
        if (!a->str_off || !a->str_len)
            return xf_error(XF_ERR_NOMEM, "%s: %s: out of memory for %llu strings", r->path,
                            r->ctx, (unsigned long long)n);
        const uint64_t base = r->pos;
        for (uint64_t i = 0; i < n; i++) {
            if ((s = rd_str(r, &a->str_off[i], &a->str_len[i], "array string")) != XF_OK) return s;
            a->str_off[i] -= base;
        }
        return XF_OK;
    }
    a->sub = xf_calloc((size_t)n, sizeof *a->sub);
    if (!a->sub)
        return xf_error(XF_ERR_NOMEM, "%s: %s: out of memory for %llu arrays", r->path, r->ctx,
                        (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++)
        if ((s = parse_array(r, &a->sub[i], depth + 1)) != XF_OK) return s;
    return XF_OK;
}

static int cmp_kv(const void *a, const void *b) {
    return strcmp((*(const gg_kv *const *)a)->key, (*(const gg_kv *const *)b)->key);
}
static int cmp_kv_key(const void *key, const void *e) {
    return strcmp((const char *)key, (*(const gg_kv *const *)e)->key);
}
static int cmp_t(const void *a, const void *b) {
    return strcmp((*(const xf_gguf_tensor *const *)a)->name, (*(const xf_gguf_tensor *const *)b)->name);
}
static int cmp_t_key(const void *key, const void *e) {
    return strcmp((const char *)key, (*(const xf_gguf_tensor *const *)e)->name);
}
static int cmp_t_off(const void *a, const void *b) {
    const xf_gguf_tensor *x = *(const xf_gguf_tensor *const *)a, *y = *(const xf_gguf_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return 0;
}

static void set_ctx(rd *r, const char *kind, const char *name) {
    snprintf(r->ctx, sizeof r->ctx, "%s \"%.100s%s\"", kind, name, strlen(name) > 100 ? "..." : "");
}

static xf_status parse_kvs(xf_gguf *g, rd *r) {
    xf_status s;
    for (size_t i = 0; i < g->n_kv; i++) {
        gg_kv *kv = &g->kv[i];
        uint64_t off, len;
        snprintf(r->ctx, sizeof r->ctx, "metadata pair #%zu", i);
        if ((s = rd_str(r, &off, &len, "key")) != XF_OK) return s;
        if ((s = dup_name(r, off, len, "key", &kv->key)) != XF_OK) return s;
        set_ctx(r, "metadata key", kv->key);
        if ((s = rd_u32(r, &kv->type, "value type")) != XF_OK) return s;
        if (kv->type >= XF_GGUF_TYPE_COUNT)
            return xf_error(XF_ERR_FORMAT, "%s: %s: unknown value type %u at offset %llu", r->path,
                            r->ctx, kv->type, (unsigned long long)(r->pos - 4));
        if (kv->type == XF_GGUF_STRING) {
            if ((s = rd_str(r, &off, &kv->len, "string value")) != XF_OK) return s;
            kv->val = r->p + off;
        } else if (kv->type == XF_GGUF_ARRAY) {
            if ((s = parse_array(r, &kv->arr, 1)) != XF_OK) return s;
        } else {
            uint64_t sz = k_vtype_size[kv->type];
            if (left(r) < sz) return truncated(r, sz, "value");
            kv->val = r->p + r->pos;
            r->pos += sz;
        }
    }
    g->kv_by_key = xf_calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv_by_key);
    if (!g->kv_by_key) return xf_error(XF_ERR_NOMEM, "%s: out of memory", r->path);
    for (size_t i = 0; i < g->n_kv; i++) g->kv_by_key[i] = &g->kv[i];
    if (g->n_kv) qsort(g->kv_by_key, g->n_kv, sizeof *g->kv_by_key, cmp_kv);
    for (size_t i = 1; i < g->n_kv; i++)
        if (strcmp(g->kv_by_key[i - 1]->key, g->kv_by_key[i]->key) == 0)
            return xf_error(XF_ERR_FORMAT, "%s: metadata key \"%.100s\" appears more than once",
                            r->path, g->kv_by_key[i]->key);
    return XF_OK;
}

static xf_status parse_alignment(xf_gguf *g) {
    g->alignment = XF_GGUF_DEFAULT_ALIGNMENT;
    int64_t i = xf_gguf_find(g, "general.alignment");
    if (i < 0) return XF_OK;
    const gg_kv *kv = &g->kv[i];
    if (kv->type != XF_GGUF_UINT32)
        return xf_error(XF_ERR_FORMAT, "%s: metadata key \"general.alignment\" must be uint32, not %s",
                        g->path, k_vtype_names[kv->type]);
    uint32_t a = le32(kv->val);
    if (a == 0 || (a & (a - 1)) != 0 || a > XF_GGUF_MAX_ALIGNMENT)
        return xf_error(XF_ERR_FORMAT,
                        "%s: metadata key \"general.alignment\" is %u, not a power of two in [1, %u]",
                        g->path, a, XF_GGUF_MAX_ALIGNMENT);
    g->alignment = a;
    return XF_OK;
}

static xf_status parse_tensor_info(xf_gguf *g, rd *r, size_t i, xf_gguf_tensor *t) {
    xf_status s;
    uint64_t off, len;
    snprintf(r->ctx, sizeof r->ctx, "tensor info #%zu", i);
    if ((s = rd_str(r, &off, &len, "name")) != XF_OK) return s;
    char *name;
    if ((s = dup_name(r, off, len, "name", &name)) != XF_OK) return s;
    t->name = name;
    set_ctx(r, "tensor", name);
    if ((s = rd_u32(r, &t->n_dims, "n_dims")) != XF_OK) return s;
    if (t->n_dims < 1 || t->n_dims > XF_GGUF_MAX_DIMS)
        return xf_error(t->n_dims ? XF_ERR_UNSUPPORTED : XF_ERR_FORMAT,
                        "%s: %s: n_dims is %u, must be 1..%d", r->path, r->ctx, t->n_dims,
                        XF_GGUF_MAX_DIMS);
    uint64_t n = 1;
    for (uint32_t d = 0; d < XF_GGUF_MAX_DIMS; d++) t->dims[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if ((s = rd_u64(r, &t->dims[d], "dimension")) != XF_OK) return s;
        if (t->dims[d] == 0)
            return xf_error(XF_ERR_FORMAT, "%s: %s: dimension %u is 0", r->path, r->ctx, d);
        if (t->dims[d] > (uint64_t)INT64_MAX / n)
            return xf_error(XF_ERR_FORMAT,
                            "%s: %s: the product of the dimensions overflows int64 (at dimension %u = %llu)",
                            r->path, r->ctx, d, (unsigned long long)t->dims[d]);
        n *= t->dims[d];
    }
    t->n_elements = n;
    if ((s = rd_u32(r, &t->type, "type")) != XF_OK) return s;
    if ((s = rd_u64(r, &t->offset, "offset")) != XF_OK) return s;
    uint32_t blck, tsize;
    if (xf_ggml_type_size(t->type, &blck, &tsize) != 0)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: %s: ggml type %u (%s) is not supported", r->path,
                        r->ctx, t->type, xf_ggml_type_name(t->type));
    if (t->dims[0] % blck != 0)
        return xf_error(XF_ERR_FORMAT, "%s: %s: first dimension %llu is not a multiple of the %s %s %u", r->path, r->ctx,
                        (unsigned long long)t->dims[0], xf_ggml_type_name(t->type),
                        xf_ggml_is_s24(t->type) ? "2:4 group width" : "block size", blck);
    if (xf_ggml_is_s24(t->type)) { /* sized per row: rows x the bytes of one row of dims[0] */
        const uint64_t rb = xf_ggml_row_bytes(t->type, t->dims[0]), rows = n / t->dims[0];
        if (!rb || rows > UINT64_MAX / rb)
            return xf_error(XF_ERR_FORMAT, "%s: %s: %s row of %llu elements: byte size overflows 64 bits", r->path, r->ctx,
                            xf_ggml_type_name(t->type), (unsigned long long)t->dims[0]);
        t->nbytes = rows * rb;
    } else {
        /* n / blck * tsize <= INT64_MAX / 1 * 292: check the multiplication. */
        if (n / blck > UINT64_MAX / tsize)
            return xf_error(XF_ERR_FORMAT, "%s: %s: byte size overflows 64 bits", r->path, r->ctx);
        t->nbytes = n / blck * tsize;
    }
    if (t->offset % g->alignment != 0)
        return xf_error(XF_ERR_FORMAT, "%s: %s: data offset %llu is not a multiple of the alignment %u",
                        r->path, r->ctx, (unsigned long long)t->offset, g->alignment);
    return XF_OK;
}

static xf_status parse(xf_gguf *g) {
    rd r = {.path = g->path, .p = g->map.data, .pos = 0, .size = g->map.size};
    snprintf(r.ctx, sizeof r.ctx, "header");
    xf_status s;
    if (r.size < 4 || memcmp(r.p, "GGUF", 4) != 0)
        return xf_error(XF_ERR_FORMAT, "%s: not a GGUF file (the first 4 bytes are not \"GGUF\")", g->path);
    r.pos = 4;
    if ((s = rd_u32(&r, &g->version, "version")) != XF_OK) return s;
    if (g->version == 1)
        return xf_error(XF_ERR_UNSUPPORTED,
                        "%s: GGUF version 1 is not supported (only 2 and 3); convert the file again with a "
                        "current llama.cpp", g->path);
    if (g->version == 0x02000000u || g->version == 0x03000000u)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: big-endian GGUF files are not supported", g->path);
    if (g->version != 2 && g->version != 3)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (only 2 and 3)", g->path,
                        g->version);
    uint64_t nt, nkv;
    if ((s = rd_u64(&r, &nt, "tensor count")) != XF_OK) return s;
    if ((s = rd_u64(&r, &nkv, "metadata count")) != XF_OK) return s;
    if (nt > XF_GGUF_MAX_TENSORS)
        return xf_error(XF_ERR_RANGE, "%s: tensor count %llu is more than the limit %u", g->path,
                        (unsigned long long)nt, XF_GGUF_MAX_TENSORS);
    if (nkv > XF_GGUF_MAX_KV)
        return xf_error(XF_ERR_RANGE, "%s: metadata count %llu is more than the limit %u", g->path,
                        (unsigned long long)nkv, XF_GGUF_MAX_KV);
    if (nt * MIN_TENSOR_BYTES > left(&r))
        return xf_error(XF_ERR_FORMAT, "%s: tensor count %llu cannot fit in the %llu bytes after the header",
                        g->path, (unsigned long long)nt, (unsigned long long)left(&r));
    if (nkv * MIN_KV_BYTES > left(&r))
        return xf_error(XF_ERR_FORMAT, "%s: metadata count %llu cannot fit in the %llu bytes after the header",
                        g->path, (unsigned long long)nkv, (unsigned long long)left(&r));
    g->kv = xf_calloc(nkv ? (size_t)nkv : 1, sizeof *g->kv);
    g->tensors = xf_calloc(nt ? (size_t)nt : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) return xf_error(XF_ERR_NOMEM, "%s: out of memory", g->path);
    g->n_kv = (size_t)nkv;
    g->n_tensors = (size_t)nt;
    if ((s = parse_kvs(g, &r)) != XF_OK) return s;
    if ((s = parse_alignment(g)) != XF_OK) return s;
    for (size_t i = 0; i < g->n_tensors; i++)
        if ((s = parse_tensor_info(g, &r, i, &g->tensors[i])) != XF_OK) return s;

    /* Data section: end of the tensor infos rounded up to the alignment. */
    uint64_t pad = (g->alignment - r.pos % g->alignment) % g->alignment;
    g->data_offset = r.pos + pad; /* r.pos <= size < 2^63, pad < 2^20: no overflow */
    if (g->data_offset > r.size) {
        if (g->n_tensors)
            return xf_error(XF_ERR_FORMAT,
                            "%s: the data section would start at offset %llu, past the end of the %llu-byte "
                            "file (file truncated?)", g->path, (unsigned long long)g->data_offset,
                            (unsigned long long)r.size);
        g->data_offset = r.size;
    }
    const uint64_t region = r.size - g->data_offset;
    for (size_t i = 0; i < g->n_tensors; i++) {
        xf_gguf_tensor *t = &g->tensors[i];
        if (t->offset > region || t->nbytes > region - t->offset)
            return xf_error(XF_ERR_FORMAT,
                            "%s: tensor \"%.100s\": data [%llu, +%llu) lies beyond the %llu-byte data section "
                            "(file truncated?)", g->path, t->name, (unsigned long long)t->offset,
                            (unsigned long long)t->nbytes, (unsigned long long)region);
        t->data = g->map.data + g->data_offset + t->offset;
    }

    /* Unique names (sorted index for lookups) and non-overlapping data. */
    g->t_by_name = xf_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->t_by_name);
    xf_gguf_tensor **by_off = xf_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *by_off);
    if (!g->t_by_name || !by_off) {
        free(by_off);
        return xf_error(XF_ERR_NOMEM, "%s: out of memory", g->path);
    }
    for (size_t i = 0; i < g->n_tensors; i++) g->t_by_name[i] = by_off[i] = &g->tensors[i];
    if (g->n_tensors) {
        qsort(g->t_by_name, g->n_tensors, sizeof *g->t_by_name, cmp_t);
        qsort(by_off, g->n_tensors, sizeof *by_off, cmp_t_off);
    }
    s = XF_OK;
    for (size_t i = 1; i < g->n_tensors && s == XF_OK; i++)
        if (strcmp(g->t_by_name[i - 1]->name, g->t_by_name[i]->name) == 0)
            s = xf_error(XF_ERR_FORMAT, "%s: tensor \"%.100s\" appears more than once", g->path,
                         g->t_by_name[i]->name);
    for (size_t i = 1; i < g->n_tensors && s == XF_OK; i++) {
        const xf_gguf_tensor *a = by_off[i - 1], *b = by_off[i];
        if (b->offset < a->offset + a->nbytes) /* both end inside the file: no overflow */
            s = xf_error(XF_ERR_FORMAT,
                         "%s: tensor \"%.100s\": data [%llu, %llu) overlaps tensor \"%.100s\" at [%llu, %llu)",
                         g->path, b->name, (unsigned long long)b->offset,
                         (unsigned long long)(b->offset + b->nbytes), a->name,
                         (unsigned long long)a->offset, (unsigned long long)(a->offset + a->nbytes));
    }
    free(by_off);
    return s;
}

xf_status xf_gguf_open(const char *path, xf_gguf **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_gguf_open: out is NULL");
    *out = NULL;
    if (!path || !*path) return xf_error(XF_ERR_INVALID_ARG, "xf_gguf_open: path is NULL or empty");
    xf_gguf *g = xf_calloc(1, sizeof *g);
    if (!g) return xf_error(XF_ERR_NOMEM, "%s: out of memory", path);
    g->path = xf_strdup(path);
    if (!g->path) {
        free(g);
        return xf_error(XF_ERR_NOMEM, "%s: out of memory", path);
    }
    xf_status s = xf_mmap_open(path, &g->map);
    if (s == XF_OK) s = parse(g);
    if (s != XF_OK) {
        xf_gguf_close(g);
        return s;
    }
    *out = g;
    return XF_OK;
}

void xf_gguf_close(xf_gguf *g) {
    if (!g) return;
    if (g->kv)
        for (size_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            arr_free(&g->kv[i].arr);
        }
    free(g->kv);
    free(g->kv_by_key);
    if (g->tensors)
        for (size_t i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    free(g->tensors);
    free(g->t_by_name);
    xf_mmap_close(&g->map);
    free(g->path);
    free(g);
}

const char *xf_gguf_path(const xf_gguf *g) { return g ? g->path : NULL; }
uint32_t xf_gguf_version(const xf_gguf *g) { return g ? g->version : 0; }
uint64_t xf_gguf_file_size(const xf_gguf *g) { return g ? g->map.size : 0; }
uint32_t xf_gguf_alignment(const xf_gguf *g) { return g ? g->alignment : 0; }
uint64_t xf_gguf_data_offset(const xf_gguf *g) { return g ? g->data_offset : 0; }

/* ------------------------------------------------------------------- metadata */

size_t xf_gguf_kv_count(const xf_gguf *g) { return g ? g->n_kv : 0; }

const char *xf_gguf_key(const xf_gguf *g, size_t i) {
    return g && i < g->n_kv ? g->kv[i].key : NULL;
}

xf_gguf_type xf_gguf_kv_type(const xf_gguf *g, size_t i) {
    return g && i < g->n_kv ? (xf_gguf_type)g->kv[i].type : XF_GGUF_TYPE_COUNT;
}

int64_t xf_gguf_find(const xf_gguf *g, const char *key) {
    if (!g || !key || !g->n_kv || !g->kv_by_key) return -1;
    gg_kv *const *hit = bsearch(key, g->kv_by_key, g->n_kv, sizeof *g->kv_by_key, cmp_kv_key);
    return hit ? (int64_t)(*hit - g->kv) : -1;
}

/* The pair for key with the given type (or any type if type == XF_GGUF_TYPE_COUNT). */
static xf_status lookup(const xf_gguf *g, const char *key, uint32_t type, const gg_kv **out) {
    if (!g || !key) return xf_error(XF_ERR_INVALID_ARG, "xf_gguf: NULL handle or key");
    int64_t i = xf_gguf_find(g, key);
    if (i < 0) return xf_error(XF_ERR_NOT_FOUND, "%s: metadata key \"%.100s\" not found", g->path, key);
    const gg_kv *kv = &g->kv[i];
    if (type != XF_GGUF_TYPE_COUNT && kv->type != type)
        return xf_error(XF_ERR_FORMAT, "%s: metadata key \"%.100s\" is %s, not %s", g->path, key,
                        k_vtype_names[kv->type], k_vtype_names[type]);
    *out = kv;
    return XF_OK;
}

#define GETTER(fn, T, VT, expr)                                                 \
    xf_status fn(const xf_gguf *g, const char *key, T *out) {                  \
        const gg_kv *kv;                                                        \
        xf_status s = lookup(g, key, VT, &kv);                                  \
        if (s != XF_OK) return s;                                               \
        const uint8_t *p = kv->val;                                             \
        expr;                                                                   \
        return XF_OK;                                                           \
    }

GETTER(xf_gguf_get_u8, uint8_t, XF_GGUF_UINT8, *out = p[0])
GETTER(xf_gguf_get_i8, int8_t, XF_GGUF_INT8, *out = (int8_t)p[0])
GETTER(xf_gguf_get_u16, uint16_t, XF_GGUF_UINT16, *out = le16(p))
GETTER(xf_gguf_get_i16, int16_t, XF_GGUF_INT16, *out = (int16_t)le16(p))
GETTER(xf_gguf_get_u32, uint32_t, XF_GGUF_UINT32, *out = le32(p))
GETTER(xf_gguf_get_i32, int32_t, XF_GGUF_INT32, *out = (int32_t)le32(p))
GETTER(xf_gguf_get_u64, uint64_t, XF_GGUF_UINT64, *out = le64(p))
GETTER(xf_gguf_get_i64, int64_t, XF_GGUF_INT64, *out = (int64_t)le64(p))
GETTER(xf_gguf_get_bool, int, XF_GGUF_BOOL, *out = p[0] != 0)
GETTER(xf_gguf_get_f32, float, XF_GGUF_FLOAT32, uint32_t u = le32(p); memcpy(out, &u, 4))
GETTER(xf_gguf_get_f64, double, XF_GGUF_FLOAT64, uint64_t u = le64(p); memcpy(out, &u, 8))

/* An integer value as (negative?, magnitude-as-int64 or u64). */
static xf_status get_integer(const xf_gguf *g, const char *key, int *neg, uint64_t *u, int64_t *i) {
    const gg_kv *kv;
    xf_status s = lookup(g, key, XF_GGUF_TYPE_COUNT, &kv);
    if (s != XF_OK) return s;
    const uint8_t *p = kv->val;
    *neg = 0;
    switch (kv->type) {
    case XF_GGUF_UINT8: *u = p[0]; break;
    case XF_GGUF_UINT16: *u = le16(p); break;
    case XF_GGUF_UINT32: *u = le32(p); break;
    case XF_GGUF_UINT64: *u = le64(p); break;
    case XF_GGUF_INT8: *i = (int8_t)p[0]; *neg = 1; break;
    case XF_GGUF_INT16: *i = (int16_t)le16(p); *neg = 1; break;
    case XF_GGUF_INT32: *i = (int32_t)le32(p); *neg = 1; break;
    case XF_GGUF_INT64: *i = (int64_t)le64(p); *neg = 1; break;
    default:
        return xf_error(XF_ERR_FORMAT, "%s: metadata key \"%.100s\" is %s, not an integer", g->path, key,
                        k_vtype_names[kv->type]);
    }
    /* *neg = 1 means "signed type": *i holds the value. */
    return XF_OK;
}

xf_status xf_gguf_get_uint(const xf_gguf *g, const char *key, uint64_t *out) {
    int sgn;
    uint64_t u = 0;
    int64_t i = 0;
    xf_status s = get_integer(g, key, &sgn, &u, &i);
    if (s != XF_OK) return s;
    if (sgn) {
        if (i < 0)
            return xf_error(XF_ERR_RANGE, "%s: metadata key \"%.100s\" is %lld, expected >= 0", g->path, key,
                            (long long)i);
        u = (uint64_t)i;
    }
    *out = u;
    return XF_OK;
}

xf_status xf_gguf_get_int(const xf_gguf *g, const char *key, int64_t *out) {
    int sgn;
    uint64_t u = 0;
    int64_t i = 0;
    xf_status s = get_integer(g, key, &sgn, &u, &i);
    if (s != XF_OK) return s;
    if (!sgn) {
        if (u > (uint64_t)INT64_MAX)
            return xf_error(XF_ERR_RANGE, "%s: metadata key \"%.100s\" is %llu, more than INT64_MAX", g->path,
                            key, (unsigned long long)u);
        i = (int64_t)u;
    }
    *out = i;
    return XF_OK;
}

xf_status xf_gguf_get_str(const xf_gguf *g, const char *key, const char **str, size_t *len) {
    const gg_kv *kv;
    xf_status s = lookup(g, key, XF_GGUF_STRING, &kv);
    if (s != XF_OK) return s;
    if (str) *str = (const char *)kv->val;
    if (len) *len = (size_t)kv->len;
    return XF_OK;
}

xf_status xf_gguf_get_arr(const xf_gguf *g, const char *key, const xf_gguf_arr **out) {
    const gg_kv *kv;
    xf_status s = lookup(g, key, XF_GGUF_ARRAY, &kv);
    if (s != XF_OK) return s;
    *out = &kv->arr;
    return XF_OK;
}

xf_gguf_type xf_gguf_arr_type(const xf_gguf_arr *a) {
    return a ? (xf_gguf_type)a->type : XF_GGUF_TYPE_COUNT;
}
uint64_t xf_gguf_arr_count(const xf_gguf_arr *a) { return a ? a->count : 0; }

const void *xf_gguf_arr_data(const xf_gguf_arr *a) {
    return a && a->type != XF_GGUF_STRING && a->type != XF_GGUF_ARRAY ? a->data : NULL;
}

xf_status xf_gguf_arr_str(const xf_gguf_arr *a, uint64_t i, const char **s, size_t *len) {
    if (!a || a->type != XF_GGUF_STRING)
        return xf_error(XF_ERR_INVALID_ARG, "xf_gguf_arr_str: not an array of strings");
    if (i >= a->count)
        return xf_error(XF_ERR_RANGE, "xf_gguf_arr_str: index %llu out of range (count %llu)",
                        (unsigned long long)i, (unsigned long long)a->count);
    if (s) *s = (const char *)a->data + a->str_off[i];
    if (len) *len = (size_t)a->str_len[i];
    return XF_OK;
}

const xf_gguf_arr *xf_gguf_arr_sub(const xf_gguf_arr *a, uint64_t i) {
    if (!a || a->type != XF_GGUF_ARRAY || i >= a->count) return NULL;
    return &a->sub[i];
}

/* ------------------------------------------------------------------- tensors */

size_t xf_gguf_tensor_count(const xf_gguf *g) { return g ? g->n_tensors : 0; }

const xf_gguf_tensor *xf_gguf_tensor_at(const xf_gguf *g, size_t i) {
    return g && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const xf_gguf_tensor *xf_gguf_find_tensor(const xf_gguf *g, const char *name) {
    if (!g || !name || !g->n_tensors || !g->t_by_name) return NULL;
    xf_gguf_tensor *const *hit = bsearch(name, g->t_by_name, g->n_tensors, sizeof *g->t_by_name, cmp_t_key);
    return hit ? *hit : NULL;
}
