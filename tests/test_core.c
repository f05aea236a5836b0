/* test_core.c — core helpers: dtype conversions, error messages, JSON field access, file reads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "harness.h"

static void test_dtype(void) {
    /* F16: 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, smallest subnormal 2^-24 = 0x0001, inf 0x7c00 */
    CHECK(xf_f16_to_f32(0x3c00) == 1.0f);
    CHECK(xf_f16_to_f32(0xc000) == -2.0f);
    CHECK(xf_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(xf_f16_to_f32(0x0001) == ldexpf(1.0f, -24));
    CHECK(xf_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24));
    CHECK(isinf(xf_f16_to_f32(0x7c00)));
    CHECK(isnan(xf_f16_to_f32(0x7e00)));
    CHECK(xf_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(xf_bf16_to_f32(0xc040) == -3.0f);
    /* float -> bf16, round to nearest even: 1 + 2^-8 is a tie (to 1.0), 1 + 3 * 2^-9 rounds up, the
     * largest float rounds to inf, NaN stays NaN; every bf16 survives the round trip */
    CHECK(xf_f32_to_bf16(1.0f + ldexpf(1.0f, -8)) == 0x3f80 && xf_f32_to_bf16(1.0f + 3 * ldexpf(1.0f, -9)) == 0x3f81);
    CHECK(xf_f32_to_bf16(1.0f + ldexpf(3.0f, -8)) == 0x3f82 && xf_f32_to_bf16(-3.0f) == 0xc040);
    CHECK(xf_f32_to_bf16(3.4028235e38f) == 0x7f80 && isnan(xf_bf16_to_f32(xf_f32_to_bf16(NAN))));
    int rt = 1;
    for (uint32_t b = 0; b < 65536; b++)
        if ((b & 0x7f80) != 0x7f80 && xf_f32_to_bf16(xf_bf16_to_f32((uint16_t)b)) != b) rt = 0;
    CHECK(rt);
    uint16_t h[3] = {0x3c00, 0x4000, 0xbc00};
    float f[3];
    CHECK(xf_convert_to_f32(XF_DT_F16, h, f, 3) == 0 && f[0] == 1 && f[1] == 2 && f[2] == -1);
    CHECK(xf_convert_to_f32(XF_DT_I32, h, f, 1) == -1);
    xf_dtype t;
    CHECK(xf_dtype_parse("BF16", &t) == 0 && t == XF_DT_BF16 && xf_dtype_size(t) == 2);
    CHECK(xf_dtype_parse("Q4_K", &t) == -1);
}

static void test_errors(void) {
    CHECK(xf_error(XF_ERR_FORMAT, "field %s bad", "x") == XF_ERR_FORMAT);
    CHECK(strcmp(xf_errmsg(), "field x bad") == 0);
    CHECK(xf_error_wrap(XF_ERR_FORMAT, "loading %s", "m") == XF_ERR_FORMAT);
    CHECK(strcmp(xf_errmsg(), "loading m: field x bad") == 0);
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    xf_error(XF_ERR_IO, "%s", big);
    xf_error_wrap(XF_ERR_IO, "%s", big); /* truncates, never overflows */
    CHECK(strlen(xf_errmsg()) < 1024);
    xf_error_clear();
    CHECK(xf_errmsg()[0] == '\0');
    CHECK(strcmp(xf_status_str(XF_ERR_NOMEM), "out of memory") == 0);
    CHECK(strcmp(xf_version(), XFMR_VERSION) == 0);
}

static void test_json(void) {
    const char *doc = "{\"a\": 3, \"b\": 2.5, \"s\": \"hi\", \"t\": true, \"big\": 1e300, \"n\": null}";
    cJSON *j = NULL;
    CHECK(xf_json_parse("doc.json", doc, strlen(doc), &j) == XF_OK);
    int64_t v = 0;
    double d = 0;
    const char *s = NULL;
    int b = 0;
    CHECK(xf_json_int("doc.json", j, "a", 0, 10, &v) == XF_OK && v == 3);
    CHECK(xf_json_int("doc.json", j, "b", 0, 10, &v) == XF_ERR_FORMAT && strstr(xf_errmsg(), "\"b\""));
    CHECK(xf_json_int("doc.json", j, "big", 0, 10, &v) == XF_ERR_RANGE && strlen(xf_errmsg()) < 200);
    CHECK(xf_json_int("doc.json", j, "missing", 0, 10, &v) == XF_ERR_NOT_FOUND && strstr(xf_errmsg(), "doc.json"));
    v = 7;
    CHECK(xf_json_int_opt("doc.json", j, "n", 0, 10, &v) == XF_OK && v == 7);
    CHECK(xf_json_num_opt("doc.json", j, "b", 0, 10, &d) == XF_OK && d == 2.5);
    CHECK(xf_json_str("doc.json", j, "s", &s) == XF_OK && strcmp(s, "hi") == 0);
    CHECK(xf_json_str("doc.json", j, "a", &s) == XF_ERR_FORMAT);
    CHECK(xf_json_bool_opt("doc.json", j, "t", &b) == XF_OK && b == 1);
    cJSON_Delete(j);
    const char *bad[] = {"{\"a\": }", "{\"a\": 1} trailing", "", "[1, 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(xf_json_parse("bad.json", bad[i], strlen(bad[i]), &j) == XF_ERR_FORMAT && j == NULL);
        CHECK(strstr(xf_errmsg(), "bad.json") && strstr(xf_errmsg(), "line 1"));
    }
}

static void test_files(void) {
    char *buf = NULL;
    size_t len = 0;
    CHECK(xf_read_file("/nonexistent/x.json", 100, &buf, &len) == XF_ERR_NOT_FOUND && strstr(xf_errmsg(), "/nonexistent/x.json"));
    const char *p = xf_t_tmpfile("read.txt", "0123456789", 10);
    CHECK(xf_read_file(p, 100, &buf, &len) == XF_OK && len == 10 && buf[10] == '\0');
    free(buf);
    CHECK(xf_read_file(p, 5, &buf, &len) == XF_ERR_RANGE && buf == NULL);
    CHECK(xf_read_file("/tmp", 100, &buf, &len) == XF_ERR_IO);
    xf_mmap mm;
    CHECK(xf_mmap_open(p, &mm) == XF_OK && mm.size == 10 && mm.data[9] == '9');
    xf_mmap_close(&mm);
    unlink(p);
    p = xf_t_tmpfile("empty.bin", "", 0);
    CHECK(xf_mmap_open(p, &mm) == XF_OK && mm.size == 0);
    xf_mmap_close(&mm);
    unlink(p);
}

int main(void) {
    test_dtype();
    test_errors();
    test_json();
    test_files();
    return xf_t_report();
}
