/* safetensors.c — read-only, memory-mapped reader of .safetensors files that treats the file as
 * hostile: every number in the header is checked before it is used.
 *
 * What is enforced (the rules of the reference Rust crate `safetensors`, Metadata::validate and
 * SafeTensors::deserialize, plus a few limits of our own):
 *   - the file has at least 8 bytes; the little-endian header length N is >= 2, <= 100,000,000
 *     (the crate's MAX_HEADER_SIZE) and <= file size - 8;
 *   - the header is valid UTF-8 with no raw control characters, starts with '{', is one JSON
 *     object, and only whitespace follows it (the writer pads with spaces to 8-byte alignment);
 *   - "__metadata__", if present (and not null), is an object whose values are all strings;
 *   - every other key is a non-empty, unique tensor name whose value is an object with
 *       "dtype": one of F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL (others: XF_ERR_UNSUPPORTED),
 *       "shape": an array of at most XF_MAX_DIMS integers in [0, 2^53) (more dims: unsupported),
 *       "data_offsets": [begin, end], integers with begin <= end <= size of the data region;
 *     the element count and byte size are computed with overflow checks and the byte size must
 *     equal end - begin; unknown extra keys in an entry are ignored (as serde does);
 *   - the tensors, sorted by offset, tile the data region exactly: the first starts at 0, each
 *     starts where the previous one ended (no overlap, no hole), and the last ends at the end of
 *     the file (the crate's InvalidOffset / MetadataIncompleteBuffer errors);
 *   - at most XF_ST_MAX_TENSORS tensors.
 * Tensor data is not copied: xf_st_tensor.data points into the mapping, which lives until
 * xf_st_close. Data is only as aligned as 8 + N makes it (writers pad N to a multiple of 8). */
#include "io/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"

#define XF_ST_MAX_HEADER 100000000ULL
#define XF_ST_MAX_TENSORS 1000000u
#define XF_ST_MAX_INT 9007199254740992.0 /* 2^53: larger JSON numbers are not exact doubles */

typedef struct st_meta {
    char *key, *value;
} st_meta;

struct xf_safetensors {
    char *path;
    xf_mmap map;
    uint64_t header_len;
    size_t n;
    xf_st_tensor *tensors;        /* sorted by data offset (file order) */
    const xf_st_tensor **by_name; /* sorted by name, for bsearch */
    size_t n_meta;
    st_meta *meta;
};

/* ------------------------------------------------------------------ helpers */

/* Offset of the first byte that is not valid UTF-8 (or a raw control character other than JSON
 * whitespace), or len if the buffer is clean. Rejects overlong forms, surrogates, > U+10FFFF. */
static size_t utf8_bad_offset(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return i;
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (len - i - 1 < need) return i;
        for (size_t k = 1; k <= need; k++) {
            uint8_t d = s[i + k];
            if ((d & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (d & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += need + 1;
    }
    return len;
}

/* A JSON number that is an integer in [0, 2^53); 0 on success. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < 0 || d >= XF_ST_MAX_INT) return -1;
    *out = (uint64_t)d;
    return 0;
}

/* Short text of a JSON value for messages (e.g. "-3", "1.5", "\"x\"", "an array"). */
static const char *json_desc(const cJSON *v, char *buf, size_t n) {
    if (!v) return "nothing";
    if (cJSON_IsNumber(v)) {
        snprintf(buf, n, "%.17g", v->valuedouble);
        return buf;
    }
    if (cJSON_IsString(v)) {
        snprintf(buf, n, "\"%.40s\"%s", v->valuestring, strlen(v->valuestring) > 40 ? "..." : "");
        return buf;
    }
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNull(v)) return "null";
    return "an invalid value";
}

/* "[a, b, c]" for messages. */
static void shape_str(const xf_st_tensor *t, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = '\0';
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < t->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int cmp_offset(const void *a, const void *b) {
    const xf_st_tensor *x = a, *y = b;
    const uint8_t *px = x->data, *py = y->data;
    if (px != py) return px < py ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b) {
    const xf_st_tensor *x = *(const xf_st_tensor *const *)a, *y = *(const xf_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_key(const void *key, const void *elem) {
    return strcmp((const char *)key, (*(const xf_st_tensor *const *)elem)->name);
}

/* -------------------------------------------------------------- one entry */

/* Parse one tensor entry; offsets are written as data-region offsets in begin/end. */
static xf_status parse_tensor(const char *path, const char *name, const cJSON *v,
                              uint64_t region, xf_st_tensor *t, uint64_t *begin_out,
                              uint64_t *end_out) {
    char b1[64], b2[64];
    if (!cJSON_IsObject(v))
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\": entry must be an object, got %s", path, name,
                        json_desc(v, b1, sizeof b1));

    static const char *const keys[] = {"dtype", "shape", "data_offsets"};
    for (size_t k = 0; k < 3; k++) {
        int seen = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, v) if (c->string && strcmp(c->string, keys[k]) == 0) seen++;
        if (seen > 1)
            return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\": \"%s\" is given %d times", path, name, keys[k],
                            seen);
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(v, "dtype");
    if (!dt) return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\": missing \"dtype\"", path, name);
    if (!cJSON_IsString(dt))
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\": \"dtype\" must be a string, got %s", path, name,
                        json_desc(dt, b1, sizeof b1));
    if (xf_dtype_parse(dt->valuestring, &t->dtype) != 0)
        return xf_error(XF_ERR_UNSUPPORTED,
                        "%s: tensor \"%s\": unknown dtype %s (supported: F32 F16 BF16 F64 I64 I32 I16 "
                        "I8 U8 BOOL)", path, name, json_desc(dt, b1, sizeof b1));

    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(v, "shape");
    if (!sh) return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\": missing \"shape\"", path, name);
    if (!cJSON_IsArray(sh))
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\": \"shape\" must be an array, got %s", path, name,
                        json_desc(sh, b1, sizeof b1));
    int nd = cJSON_GetArraySize(sh);
    if (nd > XF_MAX_DIMS)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor \"%s\": \"shape\" has %d dimensions, more than %d",
                        path, name, nd, XF_MAX_DIMS);
    t->ndim = 0;
    uint64_t count = 1;
    int overflow = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, sh) {
        uint64_t dim;
        if (json_uint(d, &dim) != 0)
            return xf_error(XF_ERR_FORMAT,
                            "%s: tensor \"%s\": \"shape\" dimension %d is %s, not an integer in [0, 2^53)",
                            path, name, t->ndim, json_desc(d, b1, sizeof b1));
        t->shape[t->ndim++] = (int64_t)dim;
        if (dim != 0 && count > UINT64_MAX / dim) overflow = 1;
        else count *= dim;
    }
    /* A zero dimension makes the product 0 even if other dims would overflow together. */
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] == 0) overflow = 0, count = 0;
    char shp[256];
    shape_str(t, shp, sizeof shp);
    if (overflow)
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\": shape %s has more elements than fit in 64 bits",
                        path, name, shp);
    size_t esz = xf_dtype_size(t->dtype);
    if (count > UINT64_MAX / esz)
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\": shape %s of %s is more bytes than fit in 64 bits",
                        path, name, shp, xf_dtype_name(t->dtype));
    t->n_elements = count;
    t->nbytes = count * esz;

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(v, "data_offsets");
    if (!off) return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\": missing \"data_offsets\"", path, name);
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\": \"data_offsets\" must be an array [begin, end]",
                        path, name);
    uint64_t begin, end;
    const cJSON *jb = cJSON_GetArrayItem(off, 0), *je = cJSON_GetArrayItem(off, 1);
    if (json_uint(jb, &begin) != 0 || json_uint(je, &end) != 0)
        return xf_error(XF_ERR_FORMAT,
                        "%s: tensor \"%s\": data_offsets [%s, %s] must be integers in [0, 2^53)", path,
                        name, json_desc(jb, b1, sizeof b1), json_desc(je, b2, sizeof b2));
    if (end < begin)
        return xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\": data_offsets [%llu, %llu] end before begin", path,
                        name, (unsigned long long)begin, (unsigned long long)end);
    if (end > region)
        return xf_error(XF_ERR_FORMAT,
                        "%s: tensor \"%s\": data_offsets [%llu, %llu] beyond the %llu-byte data region "
                        "(file truncated?)", path, name, (unsigned long long)begin,
                        (unsigned long long)end, (unsigned long long)region);
    if (end - begin != t->nbytes)
        return xf_error(XF_ERR_FORMAT,
                        "%s: tensor \"%s\": shape %s of %s needs %llu bytes but data_offsets [%llu, %llu] "
                        "hold %llu", path, name, shp, xf_dtype_name(t->dtype),
                        (unsigned long long)t->nbytes, (unsigned long long)begin,
                        (unsigned long long)end, (unsigned long long)(end - begin));
    *begin_out = begin;
    *end_out = end;
    return XF_OK;
}

static xf_status parse_metadata(xf_safetensors *st, const cJSON *m) {
    char b1[64];
    const char *path = st->path;
    if (cJSON_IsNull(m)) return XF_OK;
    if (!cJSON_IsObject(m))
        return xf_error(XF_ERR_FORMAT, "%s: \"__metadata__\" must be an object of strings, got %s", path,
                        json_desc(m, b1, sizeof b1));
    size_t n = (size_t)cJSON_GetArraySize(m);
    if (n == 0) return XF_OK;
    st->meta = xf_calloc(n, sizeof *st->meta);
    if (!st->meta) return xf_error(XF_ERR_NOMEM, "%s: out of memory for metadata", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, m) {
        if (!cJSON_IsString(e))
            return xf_error(XF_ERR_FORMAT, "%s: \"__metadata__\" field \"%s\" must be a string, got %s", path,
                            e->string ? e->string : "", json_desc(e, b1, sizeof b1));
        st_meta *kv = &st->meta[st->n_meta++];
        kv->key = xf_strdup(e->string ? e->string : "");
        kv->value = xf_strdup(e->valuestring);
        if (!kv->key || !kv->value) return xf_error(XF_ERR_NOMEM, "%s: out of memory for metadata", path);
    }
    return XF_OK;
}

/* ------------------------------------------------------------------ open */

static xf_status parse_header(xf_safetensors *st) {
    const char *path = st->path;
    const uint64_t size = st->map.size;
    if (size < 8)
        return xf_error(XF_ERR_FORMAT,
                        "%s: file is %llu bytes, too short for a safetensors file (8-byte header length "
                        "+ JSON header)", path, (unsigned long long)size);
    const uint8_t *p = st->map.data;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | p[i];
    if (n < 2)
        return xf_error(XF_ERR_FORMAT, "%s: header length %llu is too small for a JSON object", path,
                        (unsigned long long)n);
    if (n > size - 8)
        return xf_error(XF_ERR_FORMAT,
                        "%s: header length %llu exceeds the %llu bytes after the 8-byte prefix (not a "
                        "safetensors file, or truncated)", path, (unsigned long long)n,
                        (unsigned long long)(size - 8));
    if (n > XF_ST_MAX_HEADER)
        return xf_error(XF_ERR_RANGE, "%s: header length %llu is more than the %llu-byte limit", path,
                        (unsigned long long)n, (unsigned long long)XF_ST_MAX_HEADER);
    st->header_len = n;
    const char *h = (const char *)p + 8;
    const uint64_t region = size - 8 - n;

    if (h[0] != '{')
        return xf_error(XF_ERR_FORMAT, "%s: header does not start with '{' (not a safetensors file?)", path);
    size_t bad = utf8_bad_offset((const uint8_t *)h, (size_t)n);
    if (bad != (size_t)n)
        return xf_error(XF_ERR_FORMAT, "%s: header is not valid UTF-8 JSON text (%s byte 0x%02x at header offset %zu)",
                        path, (uint8_t)h[bad] < 0x20 ? "control" : "invalid", (unsigned)(uint8_t)h[bad], bad);

    const char *endp = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, (size_t)n, &endp, 0);
    if (!root) {
        cJSON *tmp = NULL;
        char *what = xf_malloc(strlen(path) + 16);
        if (what) sprintf(what, "%s (JSON header)", path);
        xf_status s = xf_json_parse(what ? what : path, h, (size_t)n, &tmp); /* for the located message */
        cJSON_Delete(tmp);
        free(what);
        if (s == XF_OK) s = xf_error(XF_ERR_FORMAT, "%s: malformed JSON header", path);
        return s;
    }
    xf_status s = XF_OK;
    if (endp) {
        for (const char *q = endp; q < h + n; q++) {
            if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
                s = xf_error(XF_ERR_FORMAT, "%s: unexpected bytes after the JSON header at header offset %zu",
                             path, (size_t)(q - h));
                goto done;
            }
        }
    }
    if (!cJSON_IsObject(root)) {
        s = xf_error(XF_ERR_FORMAT, "%s: header is not a JSON object", path);
        goto done;
    }

    size_t count = 0;
    int n_metadata = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (e->string && strcmp(e->string, "__metadata__") == 0) {
            n_metadata++;
        } else if (++count > XF_ST_MAX_TENSORS) {
            s = xf_error(XF_ERR_RANGE, "%s: more than %u tensors", path, XF_ST_MAX_TENSORS);
            goto done;
        }
    }
    if (n_metadata > 1) {
        s = xf_error(XF_ERR_FORMAT, "%s: \"__metadata__\" appears %d times", path, n_metadata);
        goto done;
    }
    if (count) {
        st->tensors = xf_calloc(count, sizeof *st->tensors);
        st->by_name = xf_calloc(count, sizeof *st->by_name);
        if (!st->tensors || !st->by_name) {
            s = xf_error(XF_ERR_NOMEM, "%s: out of memory for %zu tensors", path, count);
            goto done;
        }
    }
    const uint8_t *data0 = p + 8 + n;
    cJSON_ArrayForEach(e, root) {
        const char *name = e->string ? e->string : "";
        if (strcmp(name, "__metadata__") == 0) {
            if ((s = parse_metadata(st, e)) != XF_OK) goto done;
            continue;
        }
        if (!*name) {
            s = xf_error(XF_ERR_FORMAT, "%s: a tensor has an empty name", path);
            goto done;
        }
        xf_st_tensor *t = &st->tensors[st->n];
        uint64_t begin, end;
        if ((s = parse_tensor(path, name, e, region, t, &begin, &end)) != XF_OK) goto done;
        t->name = xf_strdup(name);
        if (!t->name) {
            s = xf_error(XF_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        t->data = data0 + begin;
        st->n++;
    }

    /* Unique names. */
    for (size_t i = 0; i < st->n; i++) st->by_name[i] = &st->tensors[i];
    if (st->n) qsort(st->by_name, st->n, sizeof *st->by_name, cmp_name);
    for (size_t i = 1; i < st->n; i++) {
        if (strcmp(st->by_name[i - 1]->name, st->by_name[i]->name) == 0) {
            s = xf_error(XF_ERR_FORMAT, "%s: tensor \"%s\" is listed more than once", path, st->by_name[i]->name);
            goto done;
        }
    }

    /* Tensors tile the data region: sorted by offset, no overlap, no hole, nothing left over. */
    if (st->n) qsort(st->tensors, st->n, sizeof *st->tensors, cmp_offset);
    uint64_t expect = 0;
    for (size_t i = 0; i < st->n; i++) {
        const xf_st_tensor *t = &st->tensors[i];
        uint64_t b = (uint64_t)((const uint8_t *)t->data - data0);
        if (b < expect) {
            const xf_st_tensor *prev = &st->tensors[i - 1];
            uint64_t pb = (uint64_t)((const uint8_t *)prev->data - data0);
            s = xf_error(XF_ERR_FORMAT,
                         "%s: tensor \"%s\": data_offsets [%llu, %llu] overlap tensor \"%s\" at [%llu, %llu]",
                         path, t->name, (unsigned long long)b, (unsigned long long)(b + t->nbytes),
                         prev->name, (unsigned long long)pb, (unsigned long long)(pb + prev->nbytes));
            goto done;
        }
        if (b > expect) {
            s = xf_error(XF_ERR_FORMAT,
                         "%s: tensor \"%s\": data_offsets [%llu, %llu] leave a hole of %llu bytes after "
                         "offset %llu (tensors must be contiguous)", path, t->name,
                         (unsigned long long)b, (unsigned long long)(b + t->nbytes),
                         (unsigned long long)(b - expect), (unsigned long long)expect);
            goto done;
        }
        expect = b + t->nbytes;
    }
    if (expect != region) {
        s = xf_error(XF_ERR_FORMAT,
                     "%s: tensors cover %llu bytes of the %llu-byte data region (%llu trailing bytes "
                     "belong to no tensor)", path, (unsigned long long)expect,
                     (unsigned long long)region, (unsigned long long)(region - expect));
        goto done;
    }
    /* qsort moved the tensors: rebuild the name index over their new places. */
    for (size_t i = 0; i < st->n; i++) st->by_name[i] = &st->tensors[i];
    if (st->n) qsort(st->by_name, st->n, sizeof *st->by_name, cmp_name);

done:
    cJSON_Delete(root);
    return s;
}

xf_status xf_st_open(const char *path, xf_safetensors **out) {
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_st_open: out is NULL");
    *out = NULL;
    if (!path || !*path) return xf_error(XF_ERR_INVALID_ARG, "xf_st_open: path is NULL or empty");
    xf_safetensors *st = xf_calloc(1, sizeof *st);
    if (!st) return xf_error(XF_ERR_NOMEM, "%s: out of memory", path);
    st->path = xf_strdup(path);
    if (!st->path) {
        free(st);
        return xf_error(XF_ERR_NOMEM, "%s: out of memory", path);
    }
    xf_status s = xf_mmap_open(path, &st->map);
    if (s == XF_OK) s = parse_header(st);
    if (s != XF_OK) {
        xf_st_close(st);
        return s;
    }
    *out = st;
    return XF_OK;
}

void xf_st_close(xf_safetensors *st) {
    if (!st) return;
    if (st->tensors)
        for (size_t i = 0; i < st->n; i++) free((char *)st->tensors[i].name);
    free(st->tensors);
    free(st->by_name);
    for (size_t i = 0; i < st->n_meta; i++) {
        free(st->meta[i].key);
        free(st->meta[i].value);
    }
    free(st->meta);
    xf_mmap_close(&st->map);
    free(st->path);
    free(st);
}

size_t xf_st_count(const xf_safetensors *st) { return st ? st->n : 0; }

const xf_st_tensor *xf_st_at(const xf_safetensors *st, size_t i) {
    return st && i < st->n ? &st->tensors[i] : NULL;
}

const xf_st_tensor *xf_st_find(const xf_safetensors *st, const char *name) {
    if (!st || !name || !st->n) return NULL;
    const xf_st_tensor *const *hit = bsearch(name, st->by_name, st->n, sizeof *st->by_name, cmp_key);
    return hit ? *hit : NULL;
}

const char *xf_st_path(const xf_safetensors *st) { return st ? st->path : NULL; }

uint64_t xf_st_file_size(const xf_safetensors *st) { return st ? st->map.size : 0; }

const char *xf_st_metadata(const xf_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[i].key, key) == 0) return st->meta[i].value;
    return NULL;
}

uint64_t xf_st_data_offset(const xf_safetensors *st) { return st ? 8 + st->header_len : 0; }
