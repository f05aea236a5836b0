/* test_safetensors.c — the safetensors reader on the real model file and on hostile files built
 * in memory: every bad file must give a non-OK status and a message naming the file and the
 * tensor or field, and never crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "harness.h"
#include "io/safetensors.h"

/* Temp files made by this run, removed at the end. */
static char *g_created[512];
static size_t g_n_created;

static const char *tmp(const char *name, const void *data, size_t len) {
    const char *p = xf_t_tmpfile(name, data, len);
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
    g_n_created = 0;
}

/* Write [u64 n][hdr: hlen bytes][data_len bytes of pattern] to a temp file named name. */
static const char *write_raw(const char *name, uint64_t n, const void *hdr, size_t hlen, size_t data_len) {
    size_t total = 8 + hlen + data_len;
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf) return NULL;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(n >> (8 * i));
    if (hlen) memcpy(buf + 8, hdr, hlen);
    for (size_t i = 0; i < data_len; i++) buf[8 + hlen + i] = (uint8_t)(i * 7 + 1);
    const char *p = tmp(name, buf, total);
    free(buf);
    return p;
}

/* A well-formed prefix: n = strlen(hdr). */
static const char *write_st(const char *name, const char *hdr, size_t data_len) {
    return write_raw(name, strlen(hdr), hdr, strlen(hdr), data_len);
}

static int contains(const char *s, const char *sub) { return !sub || strstr(s, sub) != NULL; }

/* Open must fail with `want`, and the message must contain the path and both substrings. */
static void expect_fail_at(int line, const char *path, xf_status want, const char *sub1, const char *sub2) {
    if (!path) {
        CHECK_MSG(0, "line %d: could not write the test file", line);
        return;
    }
    xf_safetensors *st = (xf_safetensors *)(uintptr_t)1;
    xf_status s = xf_st_open(path, &st);
    const char *m = xf_errmsg();
    if (getenv("XF_T_VERBOSE")) printf("  [%s] %s\n", xf_status_str(s), m);
    CHECK_MSG(s == want, "line %d: status %s, want %s (%s)", line, xf_status_str(s), xf_status_str(want), m);
    CHECK_MSG(st == NULL, "line %d: *out not NULL on failure", line);
    CHECK_MSG(contains(m, path), "line %d: message lacks the path: %s", line, m);
    CHECK_MSG(contains(m, sub1), "line %d: message lacks \"%s\": %s", line, sub1, m);
    CHECK_MSG(contains(m, sub2), "line %d: message lacks \"%s\": %s", line, sub2, m);
    if (s == XF_OK) xf_st_close(st);
}
#define EXPECT_FAIL(path, want, s1, s2) expect_fail_at(__LINE__, path, want, s1, s2)

/* ------------------------------------------------------------- real model */

static void test_real_model(void) {
    const char *dir = xf_t_model_dir();
    if (!dir) return;
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    xf_safetensors *st = NULL;
    xf_status s = xf_st_open(path, &st);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    if (s) return;
    CHECK(xf_st_count(st) == 104);
    CHECK(strcmp(xf_st_path(st), path) == 0);
    CHECK(xf_st_file_size(st) == 90868376);
    CHECK(xf_st_data_offset(st) == 8 + 11408);
    CHECK(xf_st_metadata(st, "format") && strcmp(xf_st_metadata(st, "format"), "pt") == 0);
    CHECK(xf_st_metadata(st, "nope") == NULL);

    const xf_st_tensor *t = xf_st_find(st, "embeddings.word_embeddings.weight");
    CHECK(t && t->dtype == XF_DT_F32 && t->ndim == 2 && t->shape[0] == 30522 && t->shape[1] == 384);
    CHECK(t && t->n_elements == 30522u * 384u && t->nbytes == 30522u * 384u * 4u);

    t = xf_st_find(st, "embeddings.position_ids");
    CHECK(t && t->dtype == XF_DT_I64 && t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == 512);
    if (t) { /* position ids are 0..511 */
        int64_t v[3];
        memcpy(v, t->data, sizeof v);
        CHECK(v[0] == 0 && v[1] == 1 && v[2] == 2);
        memcpy(v, (const int64_t *)t->data + 511, sizeof v[0]);
        CHECK(v[0] == 511);
    }
    t = xf_st_find(st, "encoder.layer.5.output.dense.weight");
    CHECK(t && t->dtype == XF_DT_F32 && t->ndim == 2 && t->shape[0] == 384 && t->shape[1] == 1536);
    t = xf_st_find(st, "pooler.dense.bias");
    CHECK(t && t->ndim == 1 && t->shape[0] == 384 && t->nbytes == 1536);
    CHECK(xf_st_find(st, "embeddings.word_embeddings") == NULL);
    CHECK(xf_st_find(st, "") == NULL);
    CHECK(xf_st_find(st, NULL) == NULL);
    CHECK(xf_st_at(st, 104) == NULL);

    /* File order, contiguous; every tensor found by its own name; F32 data aligned. */
    const uint8_t *base = (const uint8_t *)xf_st_at(st, 0)->data;
    uint64_t off = 0;
    int ok_order = 1, ok_find = 1, ok_align = 1;
    for (size_t i = 0; i < xf_st_count(st); i++) {
        const xf_st_tensor *u = xf_st_at(st, i);
        if ((uint64_t)((const uint8_t *)u->data - base) != off) ok_order = 0;
        off += u->nbytes;
        if (xf_st_find(st, u->name) != u) ok_find = 0;
        if ((uintptr_t)u->data % 4) ok_align = 0;
    }
    CHECK(ok_order);
    CHECK(ok_find);
    CHECK(ok_align);
    CHECK(off == 90868376u - 8 - 11408);
    xf_st_close(st);
}

/* ----------------------------------------------------------- good files */

static void test_good_small(void) {
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"h\\u00e9\"},"
                      "\"b\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[16,19]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16],\"extra\":1},"
                      "\"s\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[19,21]},"
                      "\"z\":{\"dtype\":\"BF16\",\"shape\":[0,5],\"data_offsets\":[21,21]}}   ";
    const char *p = write_st("good.safetensors", hdr, 21);
    xf_safetensors *st = NULL;
    xf_status s = xf_st_open(p, &st);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    if (s) return;
    CHECK(xf_st_count(st) == 4);
    const xf_st_tensor *a = xf_st_find(st, "a"), *b = xf_st_find(st, "b"), *sc = xf_st_find(st, "s"),
                       *z = xf_st_find(st, "z");
    CHECK(a && a->dtype == XF_DT_F32 && a->n_elements == 4 && a->nbytes == 16);
    CHECK(b && b->dtype == XF_DT_I8 && b->n_elements == 3 && ((const uint8_t *)b->data)[0] == (uint8_t)(16 * 7 + 1));
    CHECK(sc && sc->ndim == 0 && sc->n_elements == 1 && sc->nbytes == 2);
    CHECK(z && z->n_elements == 0 && z->nbytes == 0);
    CHECK(a && ((const uint8_t *)a->data)[1] == 8);
    CHECK(xf_st_at(st, 0) == a && xf_st_at(st, 1) == b && xf_st_at(st, 2) == sc);
    CHECK(xf_st_metadata(st, "note") && strcmp(xf_st_metadata(st, "note"), "h\xc3\xa9") == 0);
    xf_st_close(st);

    /* Zero-tensor files. */
    p = write_st("empty_obj.safetensors", "{}      ", 0);
    s = xf_st_open(p, &st);
    CHECK_MSG(s == XF_OK && xf_st_count(st) == 0 && xf_st_at(st, 0) == NULL && xf_st_find(st, "a") == NULL,
              "%s", xf_errmsg());
    xf_st_close(st);
    p = write_st("meta_only.safetensors", "{\"__metadata__\":{}}", 0);
    s = xf_st_open(p, &st);
    CHECK_MSG(s == XF_OK && xf_st_count(st) == 0, "%s", xf_errmsg());
    xf_st_close(st);
    p = write_st("meta_null.safetensors", "{\"__metadata__\":null}", 0);
    s = xf_st_open(p, &st);
    CHECK_MSG(s == XF_OK && xf_st_count(st) == 0, "%s", xf_errmsg());
    xf_st_close(st);

    /* Closing NULL and queries on NULL are harmless. */
    xf_st_close(NULL);
    CHECK(xf_st_count(NULL) == 0 && xf_st_at(NULL, 0) == NULL && xf_st_find(NULL, "a") == NULL);
}

/* ------------------------------------------------------------ bad files */

#define T1(dtype, shape, offs) "{\"w.0\":{\"dtype\":" dtype ",\"shape\":" shape ",\"data_offsets\":" offs "}}"

static void test_bad_lengths(void) {
    const char *p;
    EXPECT_FAIL(tmp("empty.safetensors", "", 0), XF_ERR_FORMAT, "0 bytes", NULL);
    EXPECT_FAIL(tmp("seven.safetensors", "\x02\0\0\0\0\0\0", 7), XF_ERR_FORMAT, "7 bytes", NULL);
    EXPECT_FAIL(write_raw("len0.safetensors", 0, "{}", 2, 0), XF_ERR_FORMAT, "header length 0", NULL);
    EXPECT_FAIL(write_raw("len1.safetensors", 1, "{}", 2, 0), XF_ERR_FORMAT, "header length 1", NULL);
    EXPECT_FAIL(write_raw("len_big.safetensors", 1000, "{}", 2, 10), XF_ERR_FORMAT, "header length 1000",
                "exceeds");
    EXPECT_FAIL(write_raw("len_huge.safetensors", UINT64_MAX, "{}", 2, 10), XF_ERR_FORMAT, "header length",
                "exceeds");
    EXPECT_FAIL(write_raw("len_2_63.safetensors", (uint64_t)1 << 63, "{}", 2, 10), XF_ERR_FORMAT, "exceeds",
                NULL);
    /* Only 8 bytes: header length 2 but nothing after it. */
    EXPECT_FAIL(write_raw("only_prefix.safetensors", 2, "", 0, 0), XF_ERR_FORMAT, "exceeds", NULL);

    /* A header length above 100 MB inside a (sparse) file that is big enough. */
    p = write_raw("len_100mb.safetensors", 100000001, "{}", 2, 0);
    if (p && truncate(p, 8 + 100000001 + 16) == 0) {
        EXPECT_FAIL(p, XF_ERR_RANGE, "100000001", "limit");
        unlink(p);
    }

    /* Truncated file: offsets past the end of the data region. */
    EXPECT_FAIL(write_st("trunc.safetensors", T1("\"F32\"", "[32,32]", "[0,4096]"), 100), XF_ERR_FORMAT,
                "\"w.0\"", "beyond the 100-byte data region");
    EXPECT_FAIL(write_st("offs_range.safetensors", T1("\"F32\"", "[4]", "[10,99999999]"), 4096), XF_ERR_FORMAT,
                "data_offsets [10, 99999999] beyond the 4096-byte data region", "\"w.0\"");
    EXPECT_FAIL(write_st("end_lt_begin.safetensors", T1("\"F32\"", "[1]", "[8,4]"), 16), XF_ERR_FORMAT,
                "\"w.0\"", "end before begin");
    EXPECT_FAIL(write_st("offs_neg.safetensors", T1("\"F32\"", "[1]", "[-4,0]"), 16), XF_ERR_FORMAT, "\"w.0\"",
                "data_offsets");
    EXPECT_FAIL(write_st("offs_frac.safetensors", T1("\"F32\"", "[1]", "[0.5,4.5]"), 16), XF_ERR_FORMAT,
                "\"w.0\"", "data_offsets");
    EXPECT_FAIL(write_st("offs_str.safetensors", T1("\"F32\"", "[1]", "[\"0\",4]"), 4), XF_ERR_FORMAT, "\"w.0\"",
                "data_offsets");
    EXPECT_FAIL(write_st("offs_one.safetensors", T1("\"F32\"", "[1]", "[0]"), 4), XF_ERR_FORMAT, "\"w.0\"",
                "data_offsets");
    EXPECT_FAIL(write_st("offs_three.safetensors", T1("\"F32\"", "[1]", "[0,4,8]"), 4), XF_ERR_FORMAT, "\"w.0\"",
                "data_offsets");
    EXPECT_FAIL(write_st("offs_obj.safetensors", T1("\"F32\"", "[1]", "{}"), 4), XF_ERR_FORMAT, "\"w.0\"",
                "data_offsets");
    EXPECT_FAIL(write_st("offs_2_64.safetensors", T1("\"F32\"", "[1]", "[18446744073709551616,4]"), 4),
                XF_ERR_FORMAT, "\"w.0\"", "data_offsets");
}

static void test_bad_layout(void) {
    EXPECT_FAIL(write_st("overlap.safetensors",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24),
                XF_ERR_FORMAT, "\"b\"", "overlap tensor \"a\"");
    EXPECT_FAIL(write_st("same.safetensors",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                         "\"b\":{\"dtype\":\"I32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16),
                XF_ERR_FORMAT, "overlap", NULL);
    EXPECT_FAIL(write_st("hole.safetensors",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", 24),
                XF_ERR_FORMAT, "\"b\"", "hole");
    EXPECT_FAIL(write_st("start_hole.safetensors", T1("\"F32\"", "[2]", "[8,16]"), 16), XF_ERR_FORMAT,
                "\"w.0\"", "hole");
    EXPECT_FAIL(write_st("trailing.safetensors", T1("\"F32\"", "[2]", "[0,8]"), 16), XF_ERR_FORMAT, "8 trailing",
                NULL);
    EXPECT_FAIL(write_st("trailing0.safetensors", "{}", 4), XF_ERR_FORMAT, "4 trailing", NULL);
    EXPECT_FAIL(write_st("dup.safetensors",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
                XF_ERR_FORMAT, "\"a\"", "more than once");
    EXPECT_FAIL(write_st("empty_name.safetensors", "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                         4), XF_ERR_FORMAT, "empty name", NULL);
}

static void test_bad_entries(void) {
    EXPECT_FAIL(write_st("dtype_unknown.safetensors", T1("\"F8_E4M3\"", "[4]", "[0,4]"), 4), XF_ERR_UNSUPPORTED,
                "\"w.0\"", "unknown dtype \"F8_E4M3\"");
    EXPECT_FAIL(write_st("dtype_lower.safetensors", T1("\"f32\"", "[1]", "[0,4]"), 4), XF_ERR_UNSUPPORTED,
                "\"w.0\"", "unknown dtype");
    EXPECT_FAIL(write_st("dtype_num.safetensors", T1("5", "[1]", "[0,4]"), 4), XF_ERR_FORMAT, "\"w.0\"",
                "\"dtype\"");
    EXPECT_FAIL(write_st("dtype_missing.safetensors", "{\"w.0\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                XF_ERR_FORMAT, "\"w.0\"", "\"dtype\"");
    EXPECT_FAIL(write_st("shape_missing.safetensors", "{\"w.0\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4),
                XF_ERR_FORMAT, "\"w.0\"", "\"shape\"");
    EXPECT_FAIL(write_st("offs_missing.safetensors", "{\"w.0\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4),
                XF_ERR_FORMAT, "\"w.0\"", "\"data_offsets\"");
    EXPECT_FAIL(write_st("dup_key.safetensors",
                         "{\"w.0\":{\"dtype\":\"F32\",\"shape\":[1],\"shape\":[2],\"data_offsets\":[0,4]}}", 4),
                XF_ERR_FORMAT, "\"w.0\"", "\"shape\" is given 2 times");
    EXPECT_FAIL(write_st("entry_num.safetensors", "{\"w.0\":5}", 0), XF_ERR_FORMAT, "\"w.0\"", "object");
    EXPECT_FAIL(write_st("entry_arr.safetensors", "{\"w.0\":[1,2]}", 0), XF_ERR_FORMAT, "\"w.0\"", "object");
    EXPECT_FAIL(write_st("size_mismatch.safetensors", T1("\"F32\"", "[3]", "[0,8]"), 8), XF_ERR_FORMAT, "\"w.0\"",
                "needs 12 bytes");
    EXPECT_FAIL(write_st("size_mismatch2.safetensors", T1("\"F16\"", "[2,2]", "[0,16]"), 16), XF_ERR_FORMAT,
                "\"w.0\"", "[2, 2]");
    EXPECT_FAIL(write_st("shape_neg.safetensors", T1("\"F32\"", "[-1,4]", "[0,16]"), 16), XF_ERR_FORMAT,
                "\"w.0\"", "dimension 0 is -1");
    EXPECT_FAIL(write_st("shape_frac.safetensors", T1("\"F32\"", "[2,1.5]", "[0,12]"), 12), XF_ERR_FORMAT,
                "\"w.0\"", "dimension 1 is 1.5");
    EXPECT_FAIL(write_st("shape_str.safetensors", T1("\"F32\"", "[\"4\"]", "[0,16]"), 16), XF_ERR_FORMAT,
                "\"w.0\"", "\"shape\"");
    EXPECT_FAIL(write_st("shape_null.safetensors", T1("\"F32\"", "[null]", "[0,4]"), 4), XF_ERR_FORMAT,
                "\"w.0\"", "\"shape\"");
    EXPECT_FAIL(write_st("shape_obj.safetensors", T1("\"F32\"", "{}", "[0,4]"), 4), XF_ERR_FORMAT, "\"w.0\"",
                "\"shape\"");
    EXPECT_FAIL(write_st("shape_2_53.safetensors", T1("\"F32\"", "[9007199254740992]", "[0,4]"), 4),
                XF_ERR_FORMAT, "\"w.0\"", "\"shape\"");
    EXPECT_FAIL(write_st("shape_1e300.safetensors", T1("\"F32\"", "[1e300]", "[0,4]"), 4), XF_ERR_FORMAT,
                "\"w.0\"", "\"shape\"");
    EXPECT_FAIL(write_st("shape_inf.safetensors", T1("\"F32\"", "[1e999]", "[0,4]"), 4), XF_ERR_FORMAT,
                "\"w.0\"", NULL);
    /* Element count overflows 64 bits (each dim < 2^53). */
    EXPECT_FAIL(write_st("shape_overflow.safetensors",
                         T1("\"F32\"", "[4294967296,4294967296,16]", "[0,4]"), 4), XF_ERR_FORMAT, "\"w.0\"",
                "more elements than fit");
    /* Element count fits, byte count does not (2^63 elements of 4 bytes). */
    EXPECT_FAIL(write_st("bytes_overflow.safetensors", T1("\"F32\"", "[4503599627370496,2048]", "[0,4]"), 4),
                XF_ERR_FORMAT, "\"w.0\"", "bytes than fit");
    /* Product that wraps to a small number under unchecked arithmetic: 2^32 * 2^32 * 1 = 2^64 -> 0. */
    EXPECT_FAIL(write_st("shape_wrap.safetensors", T1("\"U8\"", "[4294967296,4294967296]", "[0,0]"), 0),
                XF_ERR_FORMAT, "\"w.0\"", "more elements");
    EXPECT_FAIL(write_st("shape_9d.safetensors", T1("\"F32\"", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), 4),
                XF_ERR_UNSUPPORTED, "\"w.0\"", "9 dimensions");
    /* A zero dim makes an otherwise-overflowing shape empty: fine if offsets are empty. */
    {
        const char *p = write_st("shape_zero_big.safetensors", T1("\"F32\"", "[4294967296,4294967296,0]", "[0,0]"), 0);
        xf_safetensors *st = NULL;
        xf_status s = xf_st_open(p, &st);
        CHECK_MSG(s == XF_OK && xf_st_count(st) == 1 && xf_st_at(st, 0)->n_elements == 0, "%s", xf_errmsg());
        xf_st_close(st);
    }
    EXPECT_FAIL(write_st("meta_num.safetensors", "{\"__metadata__\":{\"format\":1}}", 0), XF_ERR_FORMAT,
                "__metadata__", "\"format\"");
    EXPECT_FAIL(write_st("meta_arr.safetensors", "{\"__metadata__\":[\"a\"]}", 0), XF_ERR_FORMAT, "__metadata__",
                NULL);
    EXPECT_FAIL(write_st("meta_dup.safetensors", "{\"__metadata__\":{},\"__metadata__\":{}}", 0), XF_ERR_FORMAT,
                "__metadata__", NULL);
}

static void test_bad_json(void) {
    EXPECT_FAIL(write_st("hdr_array.safetensors", "[1,2,3]", 0), XF_ERR_FORMAT, "header", NULL);
    EXPECT_FAIL(write_st("hdr_string.safetensors", "\"abc\"", 0), XF_ERR_FORMAT, "header", NULL);
    EXPECT_FAIL(write_st("hdr_space.safetensors", " {}", 0), XF_ERR_FORMAT, "header", NULL);
    EXPECT_FAIL(write_st("hdr_trailing.safetensors", "{} x", 0), XF_ERR_FORMAT, "after the JSON header", NULL);
    EXPECT_FAIL(write_st("hdr_two.safetensors", "{}{}", 0), XF_ERR_FORMAT, "after the JSON header", NULL);
    EXPECT_FAIL(write_st("hdr_malformed.safetensors", "{\"w.0\":{\"dtype\":\"F32\",,}}", 0), XF_ERR_FORMAT,
                "malformed JSON", "column");
    EXPECT_FAIL(write_st("hdr_multiline.safetensors", "{\n\"a\": 1,\n\"b\": }", 0), XF_ERR_FORMAT, "line 3",
                NULL);
    EXPECT_FAIL(write_st("hdr_unclosed.safetensors", "{\"w.0\":{\"dtype\":\"F32\"", 0), XF_ERR_FORMAT,
                "malformed JSON", NULL);
    EXPECT_FAIL(write_st("hdr_badutf8.safetensors", "{\"w\xff\":{}}", 0), XF_ERR_FORMAT, "UTF-8", NULL);
    EXPECT_FAIL(write_st("hdr_overlong.safetensors", "{\"\xc0\xaf\":{}}", 0), XF_ERR_FORMAT, "UTF-8", NULL);
    EXPECT_FAIL(write_st("hdr_surrogate.safetensors", "{\"\xed\xa0\x80\":{}}", 0), XF_ERR_FORMAT, "UTF-8", NULL);
    EXPECT_FAIL(write_st("hdr_cut_utf8.safetensors", "{\"a\":1}\xe2\x82", 0), XF_ERR_FORMAT, "UTF-8", NULL);
    EXPECT_FAIL(write_raw("hdr_nul.safetensors", 4, "{\0}}", 4, 0), XF_ERR_FORMAT, NULL, NULL);
    EXPECT_FAIL(write_st("hdr_ctrl.safetensors", "{\"a\x01\":{}}", 0), XF_ERR_FORMAT, NULL, NULL);
    EXPECT_FAIL(write_st("hdr_lone_surrogate_esc.safetensors", "{\"\\ud800\":{}}", 0), XF_ERR_FORMAT, NULL, NULL);
    /* Deep nesting must not blow the stack. */
    {
        size_t depth = 100000;
        char *h = malloc(2 * depth + 16);
        if (h) {
            size_t k = 0;
            h[k++] = '{';
            memcpy(h + k, "\"a\":", 4), k += 4;
            for (size_t i = 0; i < depth; i++) h[k++] = '[';
            for (size_t i = 0; i < depth; i++) h[k++] = ']';
            h[k++] = '}';
            h[k] = 0;
            EXPECT_FAIL(write_st("hdr_deep.safetensors", h, 0), XF_ERR_FORMAT, NULL, NULL);
            free(h);
        }
    }
}

static void test_misc_errors(void) {
    xf_safetensors *st = NULL;
    CHECK(xf_st_open(NULL, &st) == XF_ERR_INVALID_ARG);
    CHECK(xf_st_open("x", NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_st_open("", &st) == XF_ERR_INVALID_ARG && st == NULL);
    xf_status s = xf_st_open("/nonexistent/dir/model.safetensors", &st);
    CHECK_MSG(s == XF_ERR_NOT_FOUND && strstr(xf_errmsg(), "/nonexistent/dir/model.safetensors"), "%s",
              xf_errmsg());
    s = xf_st_open("/tmp", &st);
    CHECK_MSG(s == XF_ERR_IO && strstr(xf_errmsg(), "/tmp"), "%s", xf_errmsg());
}

/* Every truncation and many random corruptions of a valid file: no crash; truncations fail. */
static void test_mutations(void) {
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                      "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[16,24]}}";
    size_t hlen = strlen(hdr), total = 8 + hlen + 24;
    uint8_t *buf = malloc(total), *mut = malloc(total);
    if (!buf || !mut) {
        free(buf);
        free(mut);
        return;
    }
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, hdr, hlen);
    memset(buf + 8 + hlen, 0x11, 24);

    int all_trunc_fail = 1;
    for (size_t len = 0; len < total; len++) {
        const char *p = tmp("mut.safetensors", buf, len);
        xf_safetensors *st = NULL;
        if (xf_st_open(p, &st) == XF_OK) {
            all_trunc_fail = 0;
            xf_st_close(st);
        }
    }
    CHECK(all_trunc_fail);

    srand(12345);
    int invariants = 1, n_ok = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(mut, buf, total);
        int flips = 1 + rand() % 4;
        for (int f = 0; f < flips; f++) {
            size_t at = (size_t)rand() % (8 + hlen);
            static const char alphabet[] = "0123456789[]{},:\"-.eE \xff\x80";
            mut[at] = (rand() & 1) ? (uint8_t)rand() : (uint8_t)alphabet[rand() % (sizeof alphabet - 1)];
        }
        const char *p = tmp("mut.safetensors", mut, total);
        xf_safetensors *st = NULL;
        xf_status s = xf_st_open(p, &st);
        if (s == XF_OK) {
            n_ok++;
            const uint8_t *lo = NULL;
            for (size_t i = 0; i < xf_st_count(st); i++) {
                const xf_st_tensor *t = xf_st_at(st, i);
                if (!lo) lo = (const uint8_t *)t->data;
                volatile uint8_t sink = 0;
                for (uint64_t k = 0; k < t->nbytes; k++) sink ^= ((const uint8_t *)t->data)[k];
                (void)sink;
                if (xf_st_find(st, t->name) != t) invariants = 0;
            }
        } else if (!*xf_errmsg()) {
            invariants = 0;
        }
        xf_st_close(st);
    }
    CHECK(invariants);
    printf("mutations: %d of 3000 corrupted files still valid\n", n_ok);
    free(buf);
    free(mut);
}

int main(void) {
    test_real_model();
    test_good_small();
    test_bad_lengths();
    test_bad_layout();
    test_bad_entries();
    test_bad_json();
    test_misc_errors();
    test_mutations();
    remove_created();
    return xf_t_report();
}
