/* test_gguf_write.c — the GGUF writer (io/gguf_write.h) against the project's reader (io/gguf.h)
 * and against a byte-for-byte encoding made independently with the test harness:
 *   1. every metadata type, strings (empty, with NUL bytes, UTF-8), arrays of every fixed type and
 *      of strings (empty ones included), pairs copied from a reader file (nested arrays), tensors
 *      given as bytes and streamed by a callback, with alignments 32 (default), 1, 64 and 4096:
 *      read back, every value, dim, offset and byte checked, the file size predicted;
 *   2. a small file equal byte for byte to the harness's own GGUF encoding;
 *   3. bad input: empty / duplicate / too-long keys and names, bad dims, types and alignments,
 *      over-long strings, overflowing arrays, callbacks writing too few or too many bytes;
 *   4. bad output: a missing directory, an existing directory, a file-size limit (RLIMIT_FSIZE,
 *      as a full disk) — each a clear error naming the path, no temporary file left behind and an
 *      existing target unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io/gguf.h"
#include "io/gguf_write.h"


static int msg_has(const char *needle) { return strstr(xf_errmsg(), needle) != NULL; }

/* ------------------------------------------------------------------ 1. round trip */

typedef struct stream {
    const uint8_t *bytes;
    size_t n, chunk;
    int extra; /* +1: write one byte too many, -1: one too few */
} stream;

static xf_status emit_chunks(void *user, xf_gguf_sink *s) {
    const stream *st = user;
    size_t n = st->extra < 0 ? st->n - 1 : st->n;
    for (size_t i = 0; i < n; i += st->chunk) {
        xf_status r = xf_gguf_sink_write(s, st->bytes + i, n - i < st->chunk ? n - i : st->chunk);
        if (r) return r;
    }
    return st->extra > 0 ? xf_gguf_sink_write(s, st->bytes, 1) : XF_OK;
}

static uint8_t *pattern(size_t n, unsigned seed) {
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 31 + seed);
    return p;
}

static void check_arr_u(const xf_gguf *g, const char *key, xf_gguf_type t, const void *want, uint64_t n, size_t esz) {
    const xf_gguf_arr *a = NULL;
    CHECK_MSG(xf_gguf_get_arr(g, key, &a) == XF_OK, "%s: %s", key, xf_errmsg());
    if (!a) return;
    CHECK(xf_gguf_arr_type(a) == t);
    CHECK(xf_gguf_arr_count(a) == n);
    if (n) CHECK(memcmp(xf_gguf_arr_data(a), want, n * esz) == 0); /* little-endian host */
}

static void round_trip(uint32_t alignment) {
    xf_gguf_writer *w = NULL;
    CHECK(xf_gguf_writer_create(&w) == XF_OK);
    if (alignment != XF_GGUF_DEFAULT_ALIGNMENT) CHECK(xf_gguf_set_u32(w, "general.alignment", alignment) == XF_OK);
    CHECK(xf_gguf_set_u8(w, "t.u8", 250) == XF_OK);
    CHECK(xf_gguf_set_i8(w, "t.i8", -100) == XF_OK);
    CHECK(xf_gguf_set_u16(w, "t.u16", 65000) == XF_OK);
    CHECK(xf_gguf_set_i16(w, "t.i16", -32000) == XF_OK);
    CHECK(xf_gguf_set_u32(w, "t.u32", 4000000000u) == XF_OK);
    CHECK(xf_gguf_set_i32(w, "t.i32", -2000000000) == XF_OK);
    CHECK(xf_gguf_set_u64(w, "t.u64", UINT64_MAX - 5) == XF_OK);
    CHECK(xf_gguf_set_i64(w, "t.i64", INT64_MIN + 7) == XF_OK);
    CHECK(xf_gguf_set_f32(w, "t.f32", -1.5e-7f) == XF_OK);
    CHECK(xf_gguf_set_f64(w, "t.f64", 3.141592653589793) == XF_OK);
    CHECK(xf_gguf_set_bool(w, "t.bool", 7) == XF_OK);
    CHECK(xf_gguf_set_bool(w, "t.false", 0) == XF_OK);
    CHECK(xf_gguf_set_str(w, "t.str", "h\xC3\xA9llo \xE2\x96\x81", 11) == XF_OK);
    CHECK(xf_gguf_set_str(w, "t.empty", NULL, 0) == XF_OK);
    CHECK(xf_gguf_set_str(w, "t.nul", "a\0b", 3) == XF_OK);
    const int32_t i32s[] = {1, -2, 3, INT32_MIN, INT32_MAX};
    const float f32s[] = {0.5f, -0.0f, 1e30f};
    const uint8_t bools[] = {1, 0, 5};
    const uint64_t u64s[] = {0, UINT64_MAX};
    const double f64s[] = {-2.5, 1e-300};
    const uint16_t u16s[] = {1, 65535};
    CHECK(xf_gguf_set_arr(w, "a.i32", XF_GGUF_INT32, i32s, 5) == XF_OK);
    CHECK(xf_gguf_set_arr(w, "a.f32", XF_GGUF_FLOAT32, f32s, 3) == XF_OK);
    CHECK(xf_gguf_set_arr(w, "a.bool", XF_GGUF_BOOL, bools, 3) == XF_OK);
    CHECK(xf_gguf_set_arr(w, "a.u64", XF_GGUF_UINT64, u64s, 2) == XF_OK);
    CHECK(xf_gguf_set_arr(w, "a.f64", XF_GGUF_FLOAT64, f64s, 2) == XF_OK);
    CHECK(xf_gguf_set_arr(w, "a.u16", XF_GGUF_UINT16, u16s, 2) == XF_OK);
    CHECK(xf_gguf_set_arr(w, "a.empty", XF_GGUF_UINT32, NULL, 0) == XF_OK);
    const char *strs[] = {"alpha", "", "\xE2\x96\x81word", "x y"};
    CHECK(xf_gguf_set_arr_str(w, "a.str", strs, NULL, 4) == XF_OK);
    CHECK(xf_gguf_set_arr_str(w, "a.str_empty", NULL, NULL, 0) == XF_OK);
    const size_t lens[] = {2, 0};
    const char *sl[] = {"ab\0c", NULL};
    CHECK(xf_gguf_set_arr_str(w, "a.str_lens", sl, lens, 2) == XF_OK);

    /* tensors: bytes in place and streamed in odd chunks, several types */
    const uint64_t d_f32[2] = {5, 3}, d_f16[1] = {7}, d_q8[2] = {64, 2}, d_q4k[2] = {256, 1};
    uint8_t *b_f32 = pattern(60, 1), *b_f16 = pattern(14, 2), *b_q8 = pattern(2 * 2 * 34, 3), *b_q4k = pattern(144, 4);
    stream s_q8 = {b_q8, 136, 5, 0}, s_q4k = {b_q4k, 144, 1000, 0};
    CHECK(xf_gguf_add_tensor(w, "t.f32", XF_GGML_F32, 2, d_f32, b_f32, NULL, NULL) == XF_OK);
    CHECK(xf_gguf_add_tensor(w, "t.f16", XF_GGML_F16, 1, d_f16, b_f16, NULL, NULL) == XF_OK);
    CHECK(xf_gguf_add_tensor(w, "t.q8", XF_GGML_Q8_0, 2, d_q8, NULL, emit_chunks, &s_q8) == XF_OK);
    CHECK(xf_gguf_add_tensor(w, "t.q4k", XF_GGML_Q4_K, 2, d_q4k, NULL, emit_chunks, &s_q4k) == XF_OK);

    char name[64];
    snprintf(name, sizeof name, "rt_%u.gguf", alignment);
    const char *p = xf_t_out(name);
    CHECK_MSG(xf_gguf_writer_write(w, p, NULL, NULL) == XF_OK, "%s", xf_errmsg());
    struct stat sb;
    CHECK(stat(p, &sb) == 0 && (uint64_t)sb.st_size == xf_gguf_writer_size(w));
    xf_gguf_writer_free(w);

    xf_gguf *g = NULL;
    CHECK_MSG(xf_gguf_open(p, &g) == XF_OK, "%s", xf_errmsg());
    if (!g) return;
    CHECK(xf_gguf_version(g) == 3);
    CHECK(xf_gguf_alignment(g) == alignment);
    CHECK(xf_gguf_kv_count(g) == 25u + (alignment != XF_GGUF_DEFAULT_ALIGNMENT));
    uint8_t u8 = 0; int8_t i8 = 0; uint16_t u16 = 0; int16_t i16 = 0; uint32_t u32 = 0; int32_t i32 = 0;
    uint64_t u64 = 0; int64_t i64 = 0; float f32 = 0; double f64 = 0; int b = 0;
    CHECK(xf_gguf_get_u8(g, "t.u8", &u8) == XF_OK && u8 == 250);
    CHECK(xf_gguf_get_i8(g, "t.i8", &i8) == XF_OK && i8 == -100);
    CHECK(xf_gguf_get_u16(g, "t.u16", &u16) == XF_OK && u16 == 65000);
    CHECK(xf_gguf_get_i16(g, "t.i16", &i16) == XF_OK && i16 == -32000);
    CHECK(xf_gguf_get_u32(g, "t.u32", &u32) == XF_OK && u32 == 4000000000u);
    CHECK(xf_gguf_get_i32(g, "t.i32", &i32) == XF_OK && i32 == -2000000000);
    CHECK(xf_gguf_get_u64(g, "t.u64", &u64) == XF_OK && u64 == UINT64_MAX - 5);
    CHECK(xf_gguf_get_i64(g, "t.i64", &i64) == XF_OK && i64 == INT64_MIN + 7);
    CHECK(xf_gguf_get_f32(g, "t.f32", &f32) == XF_OK && f32 == -1.5e-7f);
    CHECK(xf_gguf_get_f64(g, "t.f64", &f64) == XF_OK && f64 == 3.141592653589793);
    CHECK(xf_gguf_get_bool(g, "t.bool", &b) == XF_OK && b == 1);
    CHECK(xf_gguf_get_bool(g, "t.false", &b) == XF_OK && b == 0);
    const char *s;
    size_t len;
    CHECK(xf_gguf_get_str(g, "t.str", &s, &len) == XF_OK && len == 11 && memcmp(s, "h\xC3\xA9llo \xE2\x96\x81", 11) == 0);
    CHECK(xf_gguf_get_str(g, "t.empty", &s, &len) == XF_OK && len == 0);
    CHECK(xf_gguf_get_str(g, "t.nul", &s, &len) == XF_OK && len == 3 && memcmp(s, "a\0b", 3) == 0);
    check_arr_u(g, "a.i32", XF_GGUF_INT32, i32s, 5, 4);
    check_arr_u(g, "a.f32", XF_GGUF_FLOAT32, f32s, 3, 4);
    const uint8_t bools01[] = {1, 0, 1};
    check_arr_u(g, "a.bool", XF_GGUF_BOOL, bools01, 3, 1);
    check_arr_u(g, "a.u64", XF_GGUF_UINT64, u64s, 2, 8);
    check_arr_u(g, "a.f64", XF_GGUF_FLOAT64, f64s, 2, 8);
    check_arr_u(g, "a.u16", XF_GGUF_UINT16, u16s, 2, 2);
    check_arr_u(g, "a.empty", XF_GGUF_UINT32, NULL, 0, 4);
    const xf_gguf_arr *a = NULL;
    CHECK(xf_gguf_get_arr(g, "a.str", &a) == XF_OK && xf_gguf_arr_type(a) == XF_GGUF_STRING && xf_gguf_arr_count(a) == 4);
    for (uint64_t i = 0; a && i < 4; i++)
        CHECK(xf_gguf_arr_str(a, i, &s, &len) == XF_OK && len == strlen(strs[i]) && memcmp(s, strs[i], len) == 0);
    CHECK(xf_gguf_get_arr(g, "a.str_empty", &a) == XF_OK && xf_gguf_arr_count(a) == 0);
    CHECK(xf_gguf_get_arr(g, "a.str_lens", &a) == XF_OK && xf_gguf_arr_count(a) == 2);
    CHECK(a && xf_gguf_arr_str(a, 0, &s, &len) == XF_OK && len == 2 && memcmp(s, "ab", 2) == 0);
    CHECK(a && xf_gguf_arr_str(a, 1, &s, &len) == XF_OK && len == 0);

    CHECK(xf_gguf_tensor_count(g) == 4);
    const char *names[] = {"t.f32", "t.f16", "t.q8", "t.q4k"};
    const uint8_t *bytes[] = {b_f32, b_f16, b_q8, b_q4k};
    const uint64_t nb[] = {60, 14, 136, 144};
    for (size_t i = 0; i < 4; i++) {
        const xf_gguf_tensor *t = xf_gguf_tensor_at(g, i);
        CHECK(t && strcmp(t->name, names[i]) == 0);
        if (!t) continue;
        CHECK(t->nbytes == nb[i] && memcmp(t->data, bytes[i], nb[i]) == 0);
        CHECK(t->offset % alignment == 0);
        CHECK((xf_gguf_data_offset(g) % alignment) == 0);
    }
    const xf_gguf_tensor *t = xf_gguf_find_tensor(g, "t.f32");
    CHECK(t && t->n_dims == 2 && t->dims[0] == 5 && t->dims[1] == 3 && t->type == XF_GGML_F32);
    t = xf_gguf_find_tensor(g, "t.q8");
    CHECK(t && t->dims[0] == 64 && t->dims[1] == 2 && t->type == XF_GGML_Q8_0);

    /* Copy every pair of this file into a new one (nested arrays from the committed seed too):
     * the copies read back equal. */
    xf_gguf_writer *w2 = NULL;
    CHECK(xf_gguf_writer_create(&w2) == XF_OK);
    for (size_t i = 0; i < xf_gguf_kv_count(g); i++) CHECK_MSG(xf_gguf_copy_kv(w2, g, i) == XF_OK, "%s", xf_errmsg());
    xf_gguf *nest = NULL;
    size_t n_copied = xf_gguf_kv_count(g);
    CHECK_MSG(xf_gguf_open(xf_t_src("fuzz/corpus/fuzz_gguf/nested_arrays.gguf"), &nest) == XF_OK, "%s", xf_errmsg());
    for (size_t i = 0; nest && i < xf_gguf_kv_count(nest); i++)
        if (!xf_gguf_writer_has(w2, xf_gguf_key(nest, i))) {
            CHECK_MSG(xf_gguf_copy_kv(w2, nest, i) == XF_OK, "%s", xf_errmsg());
            n_copied++;
        }
    const char *p2 = xf_t_out("copy.gguf");
    CHECK_MSG(xf_gguf_writer_write(w2, p2, NULL, NULL) == XF_OK, "%s", xf_errmsg());
    xf_gguf_writer_free(w2);
    xf_gguf *g2 = NULL;
    CHECK_MSG(xf_gguf_open(p2, &g2) == XF_OK, "%s", xf_errmsg());
    if (g2) {
        CHECK(xf_gguf_kv_count(g2) == n_copied);
        CHECK(xf_gguf_get_u64(g2, "t.u64", &u64) == XF_OK && u64 == UINT64_MAX - 5);
        CHECK(xf_gguf_get_str(g2, "t.nul", &s, &len) == XF_OK && len == 3 && memcmp(s, "a\0b", 3) == 0);
        check_arr_u(g2, "a.f64", XF_GGUF_FLOAT64, f64s, 2, 8);
        CHECK(xf_gguf_get_arr(g2, "a.str", &a) == XF_OK && xf_gguf_arr_count(a) == 4);
        /* nested arrays: the same shape and leaves as in the seed */
        for (size_t i = 0; nest && i < xf_gguf_kv_count(nest); i++) {
            const char *k = xf_gguf_key(nest, i);
            if (xf_gguf_kv_type(nest, i) != XF_GGUF_ARRAY) continue;
            const xf_gguf_arr *x = NULL, *y = NULL;
            CHECK(xf_gguf_get_arr(nest, k, &x) == XF_OK && xf_gguf_get_arr(g2, k, &y) == XF_OK);
            while (x && y && xf_gguf_arr_type(x) == XF_GGUF_ARRAY && xf_gguf_arr_count(x) > 0) {
                CHECK(xf_gguf_arr_type(y) == XF_GGUF_ARRAY && xf_gguf_arr_count(y) == xf_gguf_arr_count(x));
                x = xf_gguf_arr_sub(x, 0), y = xf_gguf_arr_sub(y, 0);
            }
            if (x && y) CHECK(xf_gguf_arr_type(y) == xf_gguf_arr_type(x) && xf_gguf_arr_count(y) == xf_gguf_arr_count(x));
        }
        xf_gguf_close(g2);
    }
    xf_gguf_close(nest);
    xf_gguf_close(g);
    free(b_f32), free(b_f16), free(b_q8), free(b_q4k);
    unlink(p), unlink(p2);
}

/* ------------------------------------------------------------------ 2. bytes */

static void byte_exact(void) {
    xf_t_buf e = {0};
    xf_t_gguf_header(&e, 3, 1, 2);
    xf_t_str(&e, "general.architecture"), xf_t_u32(&e, 8), xf_t_str(&e, "llama");
    xf_t_str(&e, "a"), xf_t_u32(&e, 9), xf_t_u32(&e, 4), xf_t_u64(&e, 2), xf_t_u32(&e, 7), xf_t_u32(&e, 9);
    xf_t_str(&e, "w"), xf_t_u32(&e, 2), xf_t_u64(&e, 2), xf_t_u64(&e, 1), xf_t_u32(&e, 0), xf_t_u64(&e, 0);
    while (e.n % 32) xf_t_u8(&e, 0);
    xf_t_f32(&e, 1.0f), xf_t_f32(&e, -2.0f);
    while (e.n % 32) xf_t_u8(&e, 0);

    xf_gguf_writer *w = NULL;
    CHECK(xf_gguf_writer_create(&w) == XF_OK);
    const uint32_t v[] = {7, 9};
    const float f[] = {1.0f, -2.0f};
    const uint64_t dims[] = {2, 1};
    CHECK(xf_gguf_set_str(w, "general.architecture", "llama", 5) == XF_OK);
    CHECK(xf_gguf_set_arr(w, "a", XF_GGUF_UINT32, v, 2) == XF_OK);
    CHECK(xf_gguf_add_tensor(w, "w", XF_GGML_F32, 2, dims, f, NULL, NULL) == XF_OK);
    const char *p = xf_t_out("bytes.gguf");
    CHECK(xf_gguf_writer_write(w, p, NULL, NULL) == XF_OK);
    xf_gguf_writer_free(w);
    size_t n = 0;
    char *got = xf_t_slurp(p, &n);
    CHECK_MSG(got && n == e.n && memcmp(got, e.p, n) == 0, "file of %zu bytes, expected %zu", n, e.n);
    free(got);
    free(e.p);
    unlink(p);
}

/* ------------------------------------------------------------------ 3. bad input */

static void bad_input(void) {
    xf_gguf_writer *w = NULL;
    CHECK(xf_gguf_writer_create(&w) == XF_OK);
    CHECK(xf_gguf_set_u32(w, "k", 1) == XF_OK);
    CHECK(xf_gguf_set_u32(w, "k", 2) == XF_ERR_INVALID_ARG && msg_has("\"k\" is set twice"));
    CHECK(xf_gguf_set_str(w, "k", "x", 1) == XF_ERR_INVALID_ARG);
    CHECK(xf_gguf_set_u32(w, "", 1) == XF_ERR_INVALID_ARG && msg_has("empty metadata key"));
    CHECK(xf_gguf_set_u32(w, NULL, 1) == XF_ERR_INVALID_ARG);
    CHECK(xf_gguf_set_u32(w, "general.alignment", 3) == XF_ERR_INVALID_ARG && msg_has("general.alignment"));
    CHECK(xf_gguf_set_u32(w, "general.alignment", 0) == XF_ERR_INVALID_ARG);
    CHECK(xf_gguf_set_u32(w, "general.alignment", 2u << 20) == XF_ERR_INVALID_ARG);
    CHECK(xf_gguf_set_u64(w, "general.alignment", 64) == XF_ERR_INVALID_ARG);
    CHECK(!xf_gguf_writer_has(w, "general.alignment"));
    char *big = malloc(70000);
    memset(big, 'k', 69999), big[69999] = 0;
    CHECK(xf_gguf_set_u8(w, big, 1) == XF_ERR_INVALID_ARG && msg_has("longer than 65535"));
    free(big);
    const char dummy = 'x';
    CHECK(xf_gguf_set_str(w, "s", &dummy, (size_t)XF_GGUF_MAX_STRING + 1) == XF_ERR_INVALID_ARG && msg_has("\"s\""));
    CHECK(xf_gguf_set_str(w, "s", NULL, 3) == XF_ERR_INVALID_ARG);
    const char *strs[] = {"a", NULL};
    CHECK(xf_gguf_set_arr_str(w, "s", strs, NULL, 2) == XF_ERR_INVALID_ARG && msg_has("string 1 is NULL"));
    const size_t huge[] = {1, (size_t)XF_GGUF_MAX_STRING + 1};
    CHECK(xf_gguf_set_arr_str(w, "s", (const char *const[]){"a", "b"}, huge, 2) == XF_ERR_INVALID_ARG);
    CHECK(xf_gguf_set_arr(w, "s", XF_GGUF_UINT32, &dummy, UINT64_MAX / 2) == XF_ERR_INVALID_ARG && msg_has("overflows"));
    CHECK(xf_gguf_set_arr(w, "s", XF_GGUF_STRING, &dummy, 1) == XF_ERR_INVALID_ARG);
    CHECK(xf_gguf_set_arr(w, "s", XF_GGUF_ARRAY, &dummy, 1) == XF_ERR_INVALID_ARG);
    CHECK(xf_gguf_set_arr(w, "s", (xf_gguf_type)13, &dummy, 1) == XF_ERR_INVALID_ARG);
    CHECK(xf_gguf_set_arr(w, "s", XF_GGUF_UINT8, NULL, 1) == XF_ERR_INVALID_ARG);
    CHECK(!xf_gguf_writer_has(w, "s")); /* failed sets leave nothing behind */
    CHECK(xf_gguf_set_str(w, "s", "ok", 2) == XF_OK);

    float f[64] = {0};
    uint64_t d2[2] = {4, 4}, d0[2] = {4, 0}, dbig[2] = {UINT64_MAX / 2, 4}, d5[5] = {1, 1, 1, 1, 1}, dq[1] = {48};
    CHECK(xf_gguf_add_tensor(w, "a", XF_GGML_F32, 2, d2, f, NULL, NULL) == XF_OK);
    CHECK(xf_gguf_add_tensor(w, "a", XF_GGML_F32, 2, d2, f, NULL, NULL) == XF_ERR_INVALID_ARG && msg_has("\"a\" is added twice"));
    CHECK(xf_gguf_add_tensor(w, "", XF_GGML_F32, 2, d2, f, NULL, NULL) == XF_ERR_INVALID_ARG);
    char name64[65];
    memset(name64, 'n', 64), name64[64] = 0;
    CHECK(xf_gguf_add_tensor(w, name64, XF_GGML_F32, 2, d2, f, NULL, NULL) == XF_ERR_INVALID_ARG && msg_has("longer than 63"));
    name64[63] = 0;
    CHECK(xf_gguf_add_tensor(w, name64, XF_GGML_F32, 2, d2, f, NULL, NULL) == XF_OK);
    CHECK(xf_gguf_add_tensor(w, "b", XF_GGML_F32, 2, d0, f, NULL, NULL) == XF_ERR_INVALID_ARG && msg_has("\"b\": dim 1"));
    CHECK(xf_gguf_add_tensor(w, "b", XF_GGML_F32, 2, dbig, f, NULL, NULL) == XF_ERR_INVALID_ARG && msg_has("overflows"));
    CHECK(xf_gguf_add_tensor(w, "b", XF_GGML_F32, 5, d5, f, NULL, NULL) == XF_ERR_INVALID_ARG && msg_has("5 dims"));
    CHECK(xf_gguf_add_tensor(w, "b", XF_GGML_F32, 0, d5, f, NULL, NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_gguf_add_tensor(w, "b", XF_GGML_Q4_K, 1, dq, f, NULL, NULL) == XF_ERR_INVALID_ARG && msg_has("block of 256"));
    CHECK(xf_gguf_add_tensor(w, "b", 16 /* IQ2_XXS */, 1, dq, f, NULL, NULL) == XF_ERR_INVALID_ARG && msg_has("IQ2_XXS"));
    CHECK(xf_gguf_add_tensor(w, "b", 99, 1, dq, f, NULL, NULL) == XF_ERR_INVALID_ARG);
    CHECK(xf_gguf_add_tensor(w, "b", XF_GGML_F32, 1, dq, NULL, NULL, NULL) == XF_ERR_INVALID_ARG && msg_has("neither"));
    xf_gguf_writer_free(w);

    /* callbacks that write too many / too few bytes: an error naming the tensor, no file */
    for (int extra = -1; extra <= 1; extra += 2) {
        CHECK(xf_gguf_writer_create(&w) == XF_OK);
        uint8_t *bytes = pattern(64, 9);
        stream s = {bytes, 64, 16, extra};
        uint64_t d[1] = {16};
        CHECK(xf_gguf_add_tensor(w, "streamed", XF_GGML_F32, 1, d, NULL, emit_chunks, &s) == XF_OK);
        const char *p = xf_t_out(extra > 0 ? "too_many.gguf" : "too_few.gguf");
        CHECK(xf_gguf_writer_write(w, p, NULL, NULL) == XF_ERR_INVALID_ARG && msg_has("\"streamed\""));
        CHECK(access(p, F_OK) != 0);
        CHECK(xf_t_count_tmp(xf_t_outdir()) == 0);
        xf_gguf_writer_free(w);
        free(bytes);
    }
}

/* ------------------------------------------------------------------ 4. bad output */

static xf_gguf_writer *sized_writer(size_t bytes, uint8_t **keep) {
    xf_gguf_writer *w = NULL;
    if (xf_gguf_writer_create(&w) != XF_OK) return NULL;
    *keep = pattern(bytes, 5);
    uint64_t d[1] = {bytes / 4};
    xf_gguf_set_str(w, "general.architecture", "llama", 5);
    xf_gguf_add_tensor(w, "big", XF_GGML_F32, 1, d, *keep, NULL, NULL);
    return w;
}

static void progress_count(void *user, uint64_t done, uint64_t total) {
    uint64_t *last = user;
    CHECK(done >= last[0] && done <= total);
    last[0] = done, last[1] = total, last[2]++;
}

static int write_to(void *w, const char *path) { return (int)xf_gguf_writer_write(w, path, NULL, NULL); }

static void bad_output(void) {
    uint8_t *bytes = NULL;
    xf_gguf_writer *w = sized_writer(4 << 20, &bytes);
    CHECK(w != NULL);
    if (!w) return;
    /* a missing directory */
    const char *p = xf_t_out("no/such/dir/out.gguf");
    CHECK(xf_gguf_writer_write(w, p, NULL, NULL) == XF_ERR_IO && msg_has(p) && msg_has("No such file"));
    /* an existing directory */
    CHECK(xf_gguf_writer_write(w, xf_t_outdir(), NULL, NULL) == XF_ERR_INVALID_ARG && msg_has("is a directory"));
    CHECK(xf_gguf_writer_write(w, "", NULL, NULL) == XF_ERR_INVALID_ARG);
    /* a file-size limit below the file (a full disk): the old target stays as it was */
    const char *target = xf_t_out("limited.gguf");
    xf_t_check_full_disk(target, 1 << 20, write_to, w);
    /* and then it succeeds, replacing the old file, with progress reported */
    uint64_t prog[3] = {0, 0, 0};
    CHECK(xf_gguf_writer_write(w, target, progress_count, prog) == XF_OK);
    CHECK(prog[2] == 2 && prog[0] == prog[1] && prog[1] == xf_gguf_writer_size(w));
    size_t n = 0;
    char *got = xf_t_slurp(target, &n);
    CHECK(got && n == xf_gguf_writer_size(w));
    free(got);
    xf_gguf *g = NULL;
    CHECK(xf_gguf_open(target, &g) == XF_OK);
    const xf_gguf_tensor *t = g ? xf_gguf_find_tensor(g, "big") : NULL;
    CHECK(t && memcmp(t->data, bytes, 4 << 20) == 0);
    xf_gguf_close(g);
    CHECK(xf_t_count_tmp(xf_t_outdir()) == 0);
    unlink(target);
    xf_gguf_writer_free(w);
    free(bytes);
}

int main(void) {
    round_trip(XF_GGUF_DEFAULT_ALIGNMENT);
    round_trip(1);
    round_trip(64);
    round_trip(4096);
    byte_exact();
    bad_input();
    bad_output();
    rmdir(xf_t_outdir());
    return xf_t_report();
}
