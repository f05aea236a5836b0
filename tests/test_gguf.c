/* test_gguf.c — the GGUF reader on files built in memory by a small writer below: valid v3 and
 * v2 files (every metadata type, string arrays, nested arrays, F32/F16/Q8_0/Q4_K tensors) are
 * parsed and every value checked; then hostile files (truncations at every byte, huge counts and
 * lengths, overflows, bad types, bad tensors, duplicates, bad alignment, deep nesting) must each
 * give the right non-OK status and a message naming the file and the key or tensor. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "io/gguf.h"

/* ------------------------------------------------------------------ writer */

static void key(xf_t_buf *b, const char *k, uint32_t type) {
    xf_t_str(b, k);
    xf_t_u32(b, type);
}
static void tinfo(xf_t_buf *b, const char *name, uint32_t nd, const uint64_t *dims, uint32_t type, uint64_t off) {
    xf_t_str(b, name);
    xf_t_u32(b, nd);
    for (uint32_t i = 0; i < nd; i++) xf_t_u64(b, dims[i]);
    xf_t_u32(b, type);
    xf_t_u64(b, off);
}
static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 7 + 1); }
/* Zero padding to align, then len bytes of the data pattern. */
static void data(xf_t_buf *b, uint32_t align, uint64_t len) {
    while (b->n % align) xf_t_u8(b, 0);
    for (uint64_t i = 0; i < len; i++) xf_t_u8(b, pattern(i));
}
static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* ------------------------------------------------------------------ temp files */

static char *g_created[64];
static size_t g_n_created;

static const char *tmp(const char *name, const void *d, size_t len) {
    const char *p = xf_t_tmpfile(name, d, len);
    if (p && g_n_created < sizeof g_created / sizeof g_created[0]) {
        for (size_t i = 0; i < g_n_created; i++)
            if (strcmp(g_created[i], p) == 0) return p;
        g_created[g_n_created++] = strdup(p);
    }
    return p;
}

static void remove_created(void) {
    for (size_t i = 0; i < g_n_created; i++) {
        unlink(g_created[i]);
        free(g_created[i]);
    }
}

/* Open bytes as a file; expect status st and a message holding the path and both needles. */
static void expect_fail(const char *name, const xf_t_buf *b, xf_status st, const char *n1, const char *n2) {
    const char *path = tmp(name, b->p, b->n);
    CHECK(path != NULL);
    if (!path) return;
    xf_gguf *g = (xf_gguf *)1;
    xf_status s = xf_gguf_open(path, &g);
    const char *m = xf_errmsg();
    CHECK_MSG(s == st, "%s: status %s, expected %s (%s)", name, xf_status_str(s), xf_status_str(st), m);
    CHECK_MSG(g == NULL, "%s: handle not NULL on failure", name);
    CHECK_MSG(strstr(m, path) != NULL, "%s: message does not name the file: %s", name, m);
    if (n1) CHECK_MSG(strstr(m, n1) != NULL, "%s: message lacks \"%s\": %s", name, n1, m);
    if (n2) CHECK_MSG(strstr(m, n2) != NULL, "%s: message lacks \"%s\": %s", name, n2, m);
    if (s == XF_OK) xf_gguf_close(g);
}

/* ------------------------------------------------------------------ the valid file */

typedef struct tspec {
    const char *name;
    uint32_t nd;
    uint64_t dims[4];
    uint32_t type;
    uint64_t nbytes;
} tspec;

static const tspec k_tensors[] = {
    {"token_embd.weight", 2, {4, 2}, XF_GGML_F32, 32},
    {"blk.0.f16", 1, {8}, XF_GGML_F16, 16},
    {"blk.0.q8", 2, {64, 2}, XF_GGML_Q8_0, 4 * 34},
    {"blk.0.q4k", 3, {256, 1, 2}, XF_GGML_Q4_K, 2 * 144},
};
#define N_T (sizeof k_tensors / sizeof k_tensors[0])
#define N_KV_VALID 21

/* A valid file; align != 32 writes general.alignment. offs[] gets the tensor offsets. */
static void build_valid(xf_t_buf *b, uint32_t version, uint32_t align, uint64_t offs[N_T]) {
    int with_align = align != 32;
    xf_t_gguf_header(b, version, N_T, N_KV_VALID + with_align);
    key(b, "general.architecture", 8), xf_t_str(b, "llama");
    if (with_align) key(b, "general.alignment", 4), xf_t_u32(b, align);
    key(b, "t.u8", 0), xf_t_u8(b, 200);
    key(b, "t.i8", 1), xf_t_u8(b, (uint8_t)-5);
    key(b, "t.u16", 2), xf_t_u16(b, 60000);
    key(b, "t.i16", 3), xf_t_u16(b, (uint16_t)-30000);
    key(b, "t.u32", 4), xf_t_u32(b, 4000000000u);
    key(b, "t.i32", 5), xf_t_u32(b, (uint32_t)-2000000000);
    key(b, "t.f32", 6), xf_t_f32(b, 1.5f);
    key(b, "t.bool", 7), xf_t_u8(b, 1);
    key(b, "t.u64", 10), xf_t_u64(b, ((uint64_t)1 << 40) + 3);
    key(b, "t.i64", 11), xf_t_u64(b, (uint64_t)-((int64_t)1 << 40));
    key(b, "t.f64", 12), xf_t_f64(b, -2.25);
    key(b, "t.big_u64", 10), xf_t_u64(b, UINT64_MAX);
    key(b, "t.empty_str", 8), xf_t_str(b, "");
    /* Array of strings, one empty, one with a NUL inside (allowed in values). */
    key(b, "tokenizer.ggml.tokens", 9), xf_t_u32(b, 8), xf_t_u64(b, 3);
    xf_t_str(b, "a"), xf_t_str(b, ""), xf_t_u64(b, 3), xf_t_put(b, "x\0y", 3);
    key(b, "t.i32_arr", 9), xf_t_u32(b, 5), xf_t_u64(b, 3), xf_t_u32(b, 1), xf_t_u32(b, (uint32_t)-2), xf_t_u32(b, 3);
    key(b, "t.empty_arr", 9), xf_t_u32(b, 0), xf_t_u64(b, 0);
    /* [[1, 2], [3]] of u16, and [["p"], []] of strings: arrays of arrays. */
    key(b, "t.nested", 9), xf_t_u32(b, 9), xf_t_u64(b, 2);
    xf_t_u32(b, 2), xf_t_u64(b, 2), xf_t_u16(b, 1), xf_t_u16(b, 2);
    xf_t_u32(b, 2), xf_t_u64(b, 1), xf_t_u16(b, 3);
    key(b, "t.nested_str", 9), xf_t_u32(b, 9), xf_t_u64(b, 2);
    xf_t_u32(b, 8), xf_t_u64(b, 1), xf_t_str(b, "p");
    xf_t_u32(b, 8), xf_t_u64(b, 0);
    /* Depth XF_GGUF_MAX_DEPTH exactly: allowed. */
    key(b, "t.deep", 9);
    for (int d = 1; d < XF_GGUF_MAX_DEPTH; d++) xf_t_u32(b, 9), xf_t_u64(b, 1);
    xf_t_u32(b, 0), xf_t_u64(b, 1), xf_t_u8(b, 42);
    key(b, "t.f32_arr", 9), xf_t_u32(b, 6), xf_t_u64(b, 2), xf_t_f32(b, 0.5f), xf_t_f32(b, -1.0f);
    uint64_t off = 0;
    for (size_t i = 0; i < N_T; i++) {
        off = align_up(off, align);
        offs[i] = off;
        tinfo(b, k_tensors[i].name, k_tensors[i].nd, k_tensors[i].dims, k_tensors[i].type, off);
        off += k_tensors[i].nbytes;
    }
    data(b, align, off); /* the last tensor ends at the end of the file */
}

static void check_valid(uint32_t version, uint32_t align) {
    xf_t_buf b = {0};
    uint64_t offs[N_T];
    build_valid(&b, version, align, offs);
    char name[64];
    snprintf(name, sizeof name, "valid_v%u_a%u.gguf", version, align);
    const char *path = tmp(name, b.p, b.n);
    xf_gguf *g = NULL;
    xf_status s = xf_gguf_open(path, &g);
    CHECK_MSG(s == XF_OK, "%s: %s", name, xf_errmsg());
    if (s != XF_OK) {
        free(b.p);
        return;
    }
    CHECK(xf_gguf_version(g) == version);
    CHECK(xf_gguf_alignment(g) == align);
    CHECK(xf_gguf_file_size(g) == b.n);
    CHECK(xf_gguf_data_offset(g) % align == 0);
    CHECK(strcmp(xf_gguf_path(g), path) == 0);
    CHECK(xf_gguf_kv_count(g) == N_KV_VALID + (align != 32));
    CHECK(strcmp(xf_gguf_key(g, 0), "general.architecture") == 0);
    CHECK(xf_gguf_key(g, 1000) == NULL);
    CHECK(xf_gguf_kv_type(g, 0) == XF_GGUF_STRING);
    CHECK(xf_gguf_kv_type(g, 1000) == XF_GGUF_TYPE_COUNT);
    CHECK(xf_gguf_find(g, "t.f64") >= 0);
    CHECK(xf_gguf_find(g, "t.f6") == -1);
    CHECK(xf_gguf_find(g, "zzz") == -1);
    for (size_t i = 0; i < xf_gguf_kv_count(g); i++)
        CHECK(xf_gguf_find(g, xf_gguf_key(g, i)) == (int64_t)i);

    const char *str;
    size_t len;
    CHECK(xf_gguf_get_str(g, "general.architecture", &str, &len) == XF_OK && len == 5 &&
          memcmp(str, "llama", 5) == 0);
    CHECK(xf_gguf_get_str(g, "t.empty_str", &str, &len) == XF_OK && len == 0);
    uint8_t u8v;
    int8_t i8v;
    uint16_t u16v;
    int16_t i16v;
    uint32_t u32v;
    int32_t i32v;
    uint64_t u64v;
    int64_t i64v;
    float f32v;
    double f64v;
    int bv;
    CHECK(xf_gguf_get_u8(g, "t.u8", &u8v) == XF_OK && u8v == 200);
    CHECK(xf_gguf_get_i8(g, "t.i8", &i8v) == XF_OK && i8v == -5);
    CHECK(xf_gguf_get_u16(g, "t.u16", &u16v) == XF_OK && u16v == 60000);
    CHECK(xf_gguf_get_i16(g, "t.i16", &i16v) == XF_OK && i16v == -30000);
    CHECK(xf_gguf_get_u32(g, "t.u32", &u32v) == XF_OK && u32v == 4000000000u);
    CHECK(xf_gguf_get_i32(g, "t.i32", &i32v) == XF_OK && i32v == -2000000000);
    CHECK(xf_gguf_get_u64(g, "t.u64", &u64v) == XF_OK && u64v == ((uint64_t)1 << 40) + 3);
    CHECK(xf_gguf_get_i64(g, "t.i64", &i64v) == XF_OK && i64v == -((int64_t)1 << 40));
    CHECK(xf_gguf_get_f32(g, "t.f32", &f32v) == XF_OK && f32v == 1.5f);
    CHECK(xf_gguf_get_f64(g, "t.f64", &f64v) == XF_OK && f64v == -2.25);
    CHECK(xf_gguf_get_bool(g, "t.bool", &bv) == XF_OK && bv == 1);
    /* Converting integer getters. */
    CHECK(xf_gguf_get_uint(g, "t.u16", &u64v) == XF_OK && u64v == 60000);
    CHECK(xf_gguf_get_int(g, "t.i8", &i64v) == XF_OK && i64v == -5);
    CHECK(xf_gguf_get_int(g, "t.u32", &i64v) == XF_OK && i64v == 4000000000);
    CHECK(xf_gguf_get_uint(g, "t.i8", &u64v) == XF_ERR_RANGE);
    CHECK(strstr(xf_errmsg(), "t.i8") != NULL);
    CHECK(xf_gguf_get_int(g, "t.big_u64", &i64v) == XF_ERR_RANGE);
    CHECK(xf_gguf_get_uint(g, "t.f32", &u64v) == XF_ERR_FORMAT);
    /* Wrong type and missing key: messages name file and key; out untouched. */
    u32v = 7;
    CHECK(xf_gguf_get_u32(g, "t.u64", &u32v) == XF_ERR_FORMAT && u32v == 7);
    CHECK(strstr(xf_errmsg(), path) && strstr(xf_errmsg(), "t.u64") && strstr(xf_errmsg(), "uint64"));
    CHECK(xf_gguf_get_u32(g, "no.such.key", &u32v) == XF_ERR_NOT_FOUND);
    CHECK(strstr(xf_errmsg(), path) && strstr(xf_errmsg(), "no.such.key"));
    CHECK(xf_gguf_get_str(g, "t.u8", &str, &len) == XF_ERR_FORMAT);

    const xf_gguf_arr *a = NULL;
    CHECK(xf_gguf_get_arr(g, "tokenizer.ggml.tokens", &a) == XF_OK);
    CHECK(xf_gguf_arr_type(a) == XF_GGUF_STRING && xf_gguf_arr_count(a) == 3);
    CHECK(xf_gguf_arr_data(a) == NULL);
    CHECK(xf_gguf_arr_str(a, 0, &str, &len) == XF_OK && len == 1 && str[0] == 'a');
    CHECK(xf_gguf_arr_str(a, 1, &str, &len) == XF_OK && len == 0);
    CHECK(xf_gguf_arr_str(a, 2, &str, &len) == XF_OK && len == 3 && memcmp(str, "x\0y", 3) == 0);
    CHECK(xf_gguf_arr_str(a, 3, &str, &len) == XF_ERR_RANGE);
    CHECK(xf_gguf_arr_sub(a, 0) == NULL);

    CHECK(xf_gguf_get_arr(g, "t.i32_arr", &a) == XF_OK);
    CHECK(xf_gguf_arr_type(a) == XF_GGUF_INT32 && xf_gguf_arr_count(a) == 3);
    const uint8_t *raw = xf_gguf_arr_data(a);
    CHECK(raw != NULL);
    if (raw) {
        int32_t v[3];
        memcpy(v, raw, sizeof v); /* the test host is little-endian */
        CHECK(v[0] == 1 && v[1] == -2 && v[2] == 3);
    }
    CHECK(xf_gguf_arr_str(a, 0, &str, &len) == XF_ERR_INVALID_ARG);
    CHECK(xf_gguf_get_arr(g, "t.f32_arr", &a) == XF_OK && xf_gguf_arr_count(a) == 2);
    if (xf_gguf_arr_data(a)) {
        float v[2];
        memcpy(v, xf_gguf_arr_data(a), sizeof v);
        CHECK(v[0] == 0.5f && v[1] == -1.0f);
    }
    CHECK(xf_gguf_get_arr(g, "t.empty_arr", &a) == XF_OK && xf_gguf_arr_count(a) == 0 &&
          xf_gguf_arr_type(a) == XF_GGUF_UINT8);

    CHECK(xf_gguf_get_arr(g, "t.nested", &a) == XF_OK);
    CHECK(xf_gguf_arr_type(a) == XF_GGUF_ARRAY && xf_gguf_arr_count(a) == 2);
    const xf_gguf_arr *s0 = xf_gguf_arr_sub(a, 0), *s1 = xf_gguf_arr_sub(a, 1);
    CHECK(s0 && s1 && xf_gguf_arr_sub(a, 2) == NULL);
    if (s0 && s1) {
        CHECK(xf_gguf_arr_type(s0) == XF_GGUF_UINT16 && xf_gguf_arr_count(s0) == 2);
        const uint8_t *d0 = xf_gguf_arr_data(s0), *d1 = xf_gguf_arr_data(s1);
        CHECK(d0 && d0[0] == 1 && d0[1] == 0 && d0[2] == 2 && d0[3] == 0);
        CHECK(xf_gguf_arr_count(s1) == 1 && d1 && d1[0] == 3);
    }
    CHECK(xf_gguf_get_arr(g, "t.nested_str", &a) == XF_OK && xf_gguf_arr_count(a) == 2);
    s0 = xf_gguf_arr_sub(a, 0);
    s1 = xf_gguf_arr_sub(a, 1);
    CHECK(s0 && xf_gguf_arr_str(s0, 0, &str, &len) == XF_OK && len == 1 && str[0] == 'p');
    CHECK(s1 && xf_gguf_arr_type(s1) == XF_GGUF_STRING && xf_gguf_arr_count(s1) == 0);
    CHECK(xf_gguf_get_arr(g, "t.deep", &a) == XF_OK);
    for (int d = 1; d < XF_GGUF_MAX_DEPTH && a; d++) a = xf_gguf_arr_sub(a, 0);
    CHECK(a && xf_gguf_arr_type(a) == XF_GGUF_UINT8 && ((const uint8_t *)xf_gguf_arr_data(a))[0] == 42);

    /* Tensors. */
    CHECK(xf_gguf_tensor_count(g) == N_T);
    CHECK(xf_gguf_tensor_at(g, N_T) == NULL);
    CHECK(xf_gguf_find_tensor(g, "nope") == NULL);
    const uint8_t *data0 = (const uint8_t *)xf_gguf_tensor_at(g, 0)->data - offs[0];
    for (size_t i = 0; i < N_T; i++) {
        const xf_gguf_tensor *t = xf_gguf_tensor_at(g, i);
        const tspec *e = &k_tensors[i];
        CHECK(t && strcmp(t->name, e->name) == 0);
        CHECK(xf_gguf_find_tensor(g, e->name) == t);
        CHECK(t->n_dims == e->nd && t->type == e->type && t->offset == offs[i] && t->nbytes == e->nbytes);
        uint64_t n = 1;
        for (uint32_t d = 0; d < 4; d++) {
            CHECK(t->dims[d] == (d < e->nd ? e->dims[d] : 1));
            n *= t->dims[d];
        }
        CHECK(t->n_elements == n);
        CHECK((const uint8_t *)t->data == data0 + t->offset);
        CHECK((uint64_t)((const uint8_t *)t->data - data0) + xf_gguf_data_offset(g) <= b.n);
        CHECK(((const uint8_t *)t->data)[0] == pattern(t->offset));
        CHECK(((const uint8_t *)t->data)[t->nbytes - 1] == pattern(t->offset + t->nbytes - 1));
    }
    xf_gguf_close(g);

    /* Every strict prefix must fail cleanly (the last tensor ends at the end of the file). */
    if (version == 3) {
        int bad = 0;
        for (size_t n = 0; n < b.n; n++) {
            const char *pp = tmp("prefix.gguf", b.p, n);
            xf_gguf *h = (xf_gguf *)1;
            xf_status st = xf_gguf_open(pp, &h);
            if (st == XF_OK || h != NULL || !strstr(xf_errmsg(), pp)) {
                if (bad++ < 5)
                    fprintf(stderr, "FAIL prefix %zu of %zu: %s %s\n", n, b.n, xf_status_str(st), xf_errmsg());
                if (st == XF_OK) xf_gguf_close(h);
            }
        }
        CHECK_MSG(bad == 0, "%d prefixes were not refused", bad);
    }
    free(b.p);
}

/* ------------------------------------------------------------------ bad files */

/* One kv then one F32 tensor [8] at offset 0: the frame for the tensor-info cases. */
static void one_tensor(xf_t_buf *b, const char *name, uint32_t nd, const uint64_t *dims, uint32_t type,
                       uint64_t off, uint64_t data_len) {
    xf_t_gguf_header(b, 3, 1, 0);
    tinfo(b, name, nd, dims, type, off);
    data(b, 32, data_len);
}

static void test_bad(void) {
    uint64_t offs[N_T];
    {
        xf_t_buf b = {0};
        build_valid(&b, 3, 32, offs);
        b.p[0] = 'X';
        expect_fail("bad_magic.gguf", &b, XF_ERR_FORMAT, "GGUF", NULL);
        b.n = 2; /* shorter than the magic */
        expect_fail("tiny.gguf", &b, XF_ERR_FORMAT, "GGUF", NULL);
        free(b.p);
    }
    {
        xf_t_buf b = {0};
        build_valid(&b, 1, 32, offs);
        expect_fail("v1.gguf", &b, XF_ERR_UNSUPPORTED, "version 1", NULL);
        b.p[4] = 4;
        expect_fail("v4.gguf", &b, XF_ERR_UNSUPPORTED, "version 4", NULL);
        b.p[4] = 0, b.p[7] = 3;
        expect_fail("bigendian.gguf", &b, XF_ERR_UNSUPPORTED, "big-endian", NULL);
        free(b.p);
    }
    {
        xf_t_buf b = {0};
        xf_t_gguf_header(&b, 3, 0, (uint64_t)1 << 62);
        expect_fail("huge_kv_count.gguf", &b, XF_ERR_RANGE, "metadata count", NULL);
        b.n = 0;
        xf_t_gguf_header(&b, 3, 0, 1000);
        key(&b, "a", 0), xf_t_u8(&b, 1);
        expect_fail("kv_count_vs_size.gguf", &b, XF_ERR_FORMAT, "metadata count 1000", NULL);
        b.n = 0;
        xf_t_gguf_header(&b, 3, 1000001, 0);
        expect_fail("huge_tensor_count.gguf", &b, XF_ERR_RANGE, "tensor count", NULL);
        b.n = 0;
        xf_t_gguf_header(&b, 3, 10, 0);
        expect_fail("tensor_count_vs_size.gguf", &b, XF_ERR_FORMAT, "tensor count 10", NULL);
        free(b.p);
    }
    {
        xf_t_buf b = {0};
        xf_t_gguf_header(&b, 3, 0, 1);
        key(&b, "general.name", 8), xf_t_u64(&b, (uint64_t)1 << 62), xf_t_put(&b, "abc", 3);
        expect_fail("huge_string.gguf", &b, XF_ERR_FORMAT, "general.name", "length 4611686018427387904");
        b.n = 0;
        xf_t_gguf_header(&b, 3, 0, 1);
        xf_t_u64(&b, UINT64_MAX), xf_t_put(&b, "key and more bytes", 18);
        expect_fail("huge_key_len.gguf", &b, XF_ERR_FORMAT, "metadata pair #0", "key");
        b.n = 0;
        xf_t_gguf_header(&b, 3, 0, 1);
        key(&b, "t.arr", 9), xf_t_u32(&b, 0), xf_t_u64(&b, (uint64_t)1 << 40), xf_t_u8(&b, 1);
        expect_fail("huge_array.gguf", &b, XF_ERR_FORMAT, "t.arr", "1099511627776");
        b.n = 0;
        xf_t_gguf_header(&b, 3, 0, 1);
        key(&b, "t.arr", 9), xf_t_u32(&b, 10), xf_t_u64(&b, (uint64_t)1 << 62), xf_t_u64(&b, 1);
        expect_fail("array_overflow.gguf", &b, XF_ERR_FORMAT, "t.arr", "overflows");
        b.n = 0;
        xf_t_gguf_header(&b, 3, 0, 1);
        key(&b, "t.strs", 9), xf_t_u32(&b, 8), xf_t_u64(&b, (uint64_t)1 << 61), xf_t_u64(&b, 1);
        expect_fail("huge_string_array.gguf", &b, XF_ERR_FORMAT, "t.strs", NULL);
        b.n = 0;
        xf_t_gguf_header(&b, 3, 0, 1);
        key(&b, "t.strs", 9), xf_t_u32(&b, 8), xf_t_u64(&b, 2), xf_t_str(&b, "ok"), xf_t_u64(&b, 1000), xf_t_put(&b, "ab", 2);
        expect_fail("string_in_array_past_end.gguf", &b, XF_ERR_FORMAT, "t.strs", "length 1000");
        b.n = 0;
        xf_t_gguf_header(&b, 3, 0, 1);
        key(&b, "t.weird", 13), xf_t_u64(&b, 0);
        expect_fail("unknown_value_type.gguf", &b, XF_ERR_FORMAT, "t.weird", "type 13");
        b.n = 0;
        xf_t_gguf_header(&b, 3, 0, 1);
        key(&b, "t.arr", 9), xf_t_u32(&b, 77), xf_t_u64(&b, 0);
        expect_fail("unknown_elem_type.gguf", &b, XF_ERR_FORMAT, "t.arr", "type 77");
        b.n = 0;
        xf_t_gguf_header(&b, 3, 0, 2);
        key(&b, "dup.key", 4), xf_t_u32(&b, 1);
        key(&b, "dup.key", 8), xf_t_str(&b, "x");
        expect_fail("dup_key.gguf", &b, XF_ERR_FORMAT, "dup.key", "more than once");
        b.n = 0;
        xf_t_gguf_header(&b, 3, 0, 1);
        xf_t_u64(&b, 3), xf_t_put(&b, "a\0b", 3), xf_t_u32(&b, 0), xf_t_u8(&b, 0);
        expect_fail("nul_in_key.gguf", &b, XF_ERR_FORMAT, "NUL", NULL);
        b.n = 0;
        xf_t_gguf_header(&b, 3, 0, 1);
        key(&b, "t.deep", 9);
        for (int d = 0; d < XF_GGUF_MAX_DEPTH; d++) xf_t_u32(&b, 9), xf_t_u64(&b, 1);
        xf_t_u32(&b, 0), xf_t_u64(&b, 1), xf_t_u8(&b, 42);
        expect_fail("too_deep.gguf", &b, XF_ERR_RANGE, "t.deep", "nested");
        free(b.p);
    }
    {
        /* general.alignment: 0, 3, 2 MiB, wrong type. */
        const uint32_t bad_al[] = {0, 3, 2u << 20};
        for (size_t i = 0; i < 3; i++) {
            xf_t_buf b = {0};
            xf_t_gguf_header(&b, 3, 0, 1);
            key(&b, "general.alignment", 4), xf_t_u32(&b, bad_al[i]);
            char nm[32], val[32];
            snprintf(nm, sizeof nm, "align_%u.gguf", bad_al[i]);
            snprintf(val, sizeof val, "is %u", bad_al[i]);
            expect_fail(nm, &b, XF_ERR_FORMAT, "general.alignment", val);
            free(b.p);
        }
        xf_t_buf b = {0};
        xf_t_gguf_header(&b, 3, 0, 1);
        key(&b, "general.alignment", 10), xf_t_u64(&b, 32);
        expect_fail("align_u64.gguf", &b, XF_ERR_FORMAT, "general.alignment", "uint64");
        free(b.p);
    }
    {
        xf_t_buf b = {0};
        const uint64_t d8[] = {8}, d5[] = {2, 2, 2, 2, 2}, dz[] = {8, 0}, dbig[] = {(uint64_t)1 << 32, (uint64_t)1 << 32};
        const uint64_t d33[] = {33};
        one_tensor(&b, "w.ok", 1, d8, XF_GGML_F32, 0, 32);
        {
            xf_gguf *g = NULL;
            xf_status s = xf_gguf_open(tmp("one_ok.gguf", b.p, b.n), &g);
            CHECK_MSG(s == XF_OK, "one_ok: %s", xf_errmsg());
            xf_gguf_close(g);
        }
        b.n = 0;
        one_tensor(&b, "w.unk", 1, d8, 99, 0, 32);
        expect_fail("unknown_tensor_type.gguf", &b, XF_ERR_UNSUPPORTED, "w.unk", "type 99");
        b.n = 0;
        one_tensor(&b, "w.iq", 1, d8, 16, 0, 32);
        expect_fail("iq_tensor_type.gguf", &b, XF_ERR_UNSUPPORTED, "w.iq", "IQ2_XXS");
        b.n = 0;
        one_tensor(&b, "w.5d", 5, d5, XF_GGML_F32, 0, 128);
        expect_fail("ndims5.gguf", &b, XF_ERR_UNSUPPORTED, "w.5d", "n_dims is 5");
        b.n = 0;
        one_tensor(&b, "w.0d", 0, d8, XF_GGML_F32, 0, 32);
        expect_fail("ndims0.gguf", &b, XF_ERR_FORMAT, "w.0d", "n_dims is 0");
        b.n = 0;
        one_tensor(&b, "w.zero", 2, dz, XF_GGML_F32, 0, 32);
        expect_fail("zero_dim.gguf", &b, XF_ERR_FORMAT, "w.zero", "dimension 1 is 0");
        b.n = 0;
        one_tensor(&b, "w.huge", 2, dbig, XF_GGML_F32, 0, 32);
        expect_fail("dims_overflow.gguf", &b, XF_ERR_FORMAT, "w.huge", "overflows");
        b.n = 0;
        one_tensor(&b, "w.q8", 1, d33, XF_GGML_Q8_0, 0, 64);
        expect_fail("block_multiple.gguf", &b, XF_ERR_FORMAT, "w.q8", "block size 32");
        b.n = 0;
        one_tensor(&b, "w.mis", 1, d8, XF_GGML_F32, 4, 64);
        expect_fail("misaligned.gguf", &b, XF_ERR_FORMAT, "w.mis", "alignment 32");
        b.n = 0;
        one_tensor(&b, "w.past", 1, d8, XF_GGML_F32, 0, 31);
        expect_fail("beyond_file.gguf", &b, XF_ERR_FORMAT, "w.past", "beyond");
        b.n = 0;
        one_tensor(&b, "w.far", 1, d8, XF_GGML_F32, (uint64_t)1 << 63, 32);
        expect_fail("offset_huge.gguf", &b, XF_ERR_FORMAT, "w.far", "beyond");
        /* Two tensors. */
        const uint64_t d16[] = {16};
        b.n = 0;
        xf_t_gguf_header(&b, 3, 2, 0);
        tinfo(&b, "w.a", 1, d16, XF_GGML_F32, 0);
        tinfo(&b, "w.b", 1, d8, XF_GGML_F32, 32);
        data(&b, 32, 96);
        expect_fail("overlap.gguf", &b, XF_ERR_FORMAT, "w.b", "overlaps tensor \"w.a\"");
        b.n = 0;
        xf_t_gguf_header(&b, 3, 2, 0);
        tinfo(&b, "w.same", 1, d8, XF_GGML_F32, 0);
        tinfo(&b, "w.same", 1, d8, XF_GGML_F32, 32);
        data(&b, 32, 64);
        expect_fail("dup_tensor.gguf", &b, XF_ERR_FORMAT, "w.same", "more than once");
        b.n = 0;
        xf_t_gguf_header(&b, 3, 1, 1);
        key(&b, "general.alignment", 4), xf_t_u32(&b, 64);
        tinfo(&b, "w.a64", 1, d8, XF_GGML_F32, 32);
        data(&b, 64, 128);
        expect_fail("misaligned64.gguf", &b, XF_ERR_FORMAT, "w.a64", "alignment 64");
        free(b.p);
    }
    {
        /* A string longer than 64 MiB that is inside the (sparse) file: our limit, XF_ERR_RANGE. */
        xf_t_buf b = {0};
        xf_t_gguf_header(&b, 3, 0, 1);
        key(&b, "t.long", 8), xf_t_u64(&b, XF_GGUF_MAX_STRING + 1);
        const char *path = tmp("long_string.gguf", b.p, b.n);
        FILE *f = path ? fopen(path, "r+b") : NULL;
        CHECK(f != NULL);
        if (f) {
            CHECK(fseek(f, (long)(b.n + XF_GGUF_MAX_STRING + 10), SEEK_SET) == 0 && fputc(0, f) == 0);
            fclose(f);
            xf_gguf *g = NULL;
            CHECK(xf_gguf_open(path, &g) == XF_ERR_RANGE);
            CHECK(strstr(xf_errmsg(), "t.long") && strstr(xf_errmsg(), path));
            xf_gguf_close(g);
            unlink(path);
        }
        free(b.p);
    }
    {
        xf_gguf *g = (xf_gguf *)1;
        CHECK(xf_gguf_open(NULL, &g) == XF_ERR_INVALID_ARG && g == NULL);
        CHECK(xf_gguf_open("/nonexistent/x.gguf", &g) != XF_OK && g == NULL);
        CHECK(strstr(xf_errmsg(), "/nonexistent/x.gguf") != NULL);
        xf_gguf_close(NULL);
        CHECK(xf_gguf_kv_count(NULL) == 0 && xf_gguf_tensor_count(NULL) == 0);
    }
}

static void test_types(void) {
    uint32_t be, bb;
    CHECK(xf_ggml_type_size(XF_GGML_Q4_K, &be, &bb) == 0 && be == 256 && bb == 144);
    CHECK(xf_ggml_type_size(XF_GGML_Q4_1, &be, &bb) == 0 && be == 32 && bb == 20);
    CHECK(xf_ggml_type_size(XF_GGML_Q6_K, &be, &bb) == 0 && be == 256 && bb == 210);
    CHECK(xf_ggml_type_size(XF_GGML_BF16, &be, &bb) == 0 && be == 1 && bb == 2);
    CHECK(xf_ggml_type_size(9, &be, &bb) == -1);
    CHECK(xf_ggml_type_size(1000, &be, &bb) == -1);
    CHECK(strcmp(xf_ggml_type_name(XF_GGML_Q8_K), "Q8_K") == 0);
    CHECK(strcmp(xf_ggml_type_name(1000), "unknown") == 0);
    CHECK(strcmp(xf_gguf_type_name(XF_GGUF_FLOAT64), "float64") == 0);
}

int main(void) {
    test_types();
    check_valid(3, 32);
    check_valid(2, 64);
    check_valid(3, 1);
    test_bad();
    remove_created();
    return xf_t_report();
}
