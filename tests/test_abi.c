/* test_abi.c — the size-carrying structs of xfmr.h: the inline initialisers record the caller's
 * sizeof; the library refuses a struct_size it does not know (0: not initialised; larger than
 * its own for parameters: a newer header), writes an xf_model_info only as far as its
 * struct_size (zeroing fields of a newer, larger layout it does not know), and reads an older
 * xf_session_params layout with defaults for the rest. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "xfmr.h"

static void expect_size_error(xf_status st, const char *what) {
    CHECK_MSG(st == XF_ERR_INVALID_ARG && strstr(xf_errmsg(), what) && strstr(xf_errmsg(), "struct_size"),
              "%s: status %d, message: %s", what, (int)st, xf_errmsg());
}

int main(void) {
    const char *llama = xf_t_src("tests/data/tiny/llama");
    xf_model *m = NULL;

    xf_model_params mp = xf_model_default_params();
    CHECK(mp.struct_size == sizeof mp && mp.n_threads == 0 && mp.weights == XF_WEIGHTS_AS_STORED);
    mp.struct_size = 0;
    expect_size_error(xf_model_load(llama, &mp, &m), "xf_model_params");
    CHECK(m == NULL);
    mp.struct_size = sizeof mp + 8;
    expect_size_error(xf_model_load(llama, &mp, &m), "xf_model_params");
    /* the 0.2.0 layout, before the rope_* fields: they get their defaults (what lies past the
     * older size is not read) */
    mp = xf_model_default_params();
    mp.struct_size = offsetof(xf_model_params, rope_scaling);
    mp.rope_scaling = "bogus";
    CHECK_MSG(xf_model_load(llama, &mp, &m) == XF_OK, "0.2.0 xf_model_params: %s", xf_errmsg());
    xf_model_free(m);
    m = NULL;
    mp = xf_model_default_params();
    mp.n_threads = 1;
    CHECK_MSG(xf_model_load(llama, &mp, &m) == XF_OK, "%s", xf_errmsg());
    if (!m) return xf_t_report();

    /* xf_model_info: not initialised -> refused; a newer, larger layout -> the known fields
     * filled, the unknown tail zeroed, struct_size kept. */
    xf_model_info info;
    memset(&info, 0, sizeof info);
    expect_size_error(xf_model_get_info(m, &info), "xf_model_info");
    unsigned char *big = malloc(sizeof info + 32);
    CHECK(big != NULL);
    if (big) {
        memset(big, 0xAB, sizeof info + 32);
        size_t sz = sizeof info + 32;
        memcpy(big, &sz, sizeof sz);
        CHECK_MSG(xf_model_get_info(m, (xf_model_info *)big) == XF_OK, "%s", xf_errmsg());
        xf_model_info got;
        memcpy(&got, big, sizeof got);
        CHECK(got.n_layers == 2 && got.vocab_size == 320 && got.is_decoder && got.n_kv_heads == 2);
        size_t kept;
        memcpy(&kept, big, sizeof kept);
        CHECK(kept == sizeof info + 32);
        int zero = 1;
        for (size_t k = sizeof info; k < sizeof info + 32; k++) zero &= big[k] == 0;
        CHECK_MSG(zero, "the fields a newer xf_model_info would have are not zeroed");
        free(big);
    }
    info = xf_model_info_init();
    CHECK(xf_model_get_info(m, &info) == XF_OK && info.struct_size == sizeof info && info.hidden == 64);
    CHECK(info.rope_scaling && strcmp(info.rope_scaling, "default") == 0);
    /* the 0.2.0 layout, before the rope_* fields: filled up to its size, nothing written past it */
    info = xf_model_info_init();
    info.struct_size = offsetof(xf_model_info, rope_scaling);
    info.rope_factor = -7.0;
    CHECK(xf_model_get_info(m, &info) == XF_OK && info.hidden == 64 && info.rope_scaling == NULL &&
          info.rope_factor == -7.0);

    /* Sampler parameters. */
    xf_sampler *smp = NULL;
    xf_sampler_params sp = xf_sampler_default_params();
    CHECK(sp.struct_size == sizeof sp && sp.temperature == 1.0f && sp.top_p == 1.0f);
    sp.struct_size = 4;
    expect_size_error(xf_sampler_create(&sp, 320, &smp), "xf_sampler_params");
    CHECK(smp == NULL);
    sp = xf_sampler_default_params();
    CHECK(xf_sampler_create(&sp, 320, &smp) == XF_OK);
    xf_sampler_free(smp);

    /* Session parameters: the older layout without kv_type is refused (kv_type is part of the
     * first released layout), the current one accepted, a larger one refused. */
    xf_session *s = NULL;
    xf_session_params sep = xf_session_default_params();
    CHECK(sep.struct_size == sizeof sep && sep.kv_type == XF_KV_F32);
    sep.struct_size = offsetof(xf_session_params, kv_type);
    expect_size_error(xf_session_create_ex(m, &sep, &s), "xf_session_params");
    sep.struct_size = sizeof sep + 8;
    expect_size_error(xf_session_create_ex(m, &sep, &s), "xf_session_params");
    sep = xf_session_default_params(); /* 0.2.0's layout, before kv_policy: keep-all */
    sep.struct_size = offsetof(xf_session_params, kv_policy);
    sep.kv_policy = "bogus";
    CHECK_MSG(xf_session_create_ex(m, &sep, &s) == XF_OK, "0.2.0 xf_session_params: %s", xf_errmsg());
    xf_session_free(s);
    s = NULL;
    sep = xf_session_default_params();
    sep.n_ctx = 16;
    CHECK_MSG(xf_session_create_ex(m, &sep, &s) == XF_OK && xf_session_n_ctx(s) == 16, "%s", xf_errmsg());
    xf_session_free(s);

    CHECK(xf_version_number() == XFMR_VERSION_NUMBER && !strcmp(xf_version(), XFMR_VERSION));
    xf_model_free(m);
    return xf_t_report();
}
