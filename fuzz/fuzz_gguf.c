/* fuzz_gguf.c — libFuzzer harness: arbitrary bytes as a GGUF file. Opens it (header, metadata
 * key/values, nested arrays, tensor infos, alignment, data section), reads every key/value and
 * tensor back through the typed getters, then derives a model config (xf_gguf_model_config) and
 * a tokenizer (xf_tokenizer_from_gguf) from the metadata, and encodes/decodes a little text
 * with that tokenizer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/gguf.h"
#include "io/gguf_model.h"
#include "tokenizer/tokenizer.h"

static volatile uint64_t g_sink;

static void walk_arr(const xf_gguf_arr *a, int depth) {
    if (!a || depth > XF_GGUF_MAX_DEPTH + 1) return;
    uint64_t n = xf_gguf_arr_count(a);
    uint64_t lim = n < 64 ? n : 64;
    if (xf_gguf_arr_type(a) == XF_GGUF_STRING) {
        for (uint64_t i = 0; i < lim; i++) {
            const char *s;
            size_t len;
            if (xf_gguf_arr_str(a, i, &s, &len) == XF_OK && len) g_sink += (uint8_t)s[len - 1];
        }
    } else if (xf_gguf_arr_type(a) == XF_GGUF_ARRAY) {
        for (uint64_t i = 0; i < lim; i++) walk_arr(xf_gguf_arr_sub(a, i), depth + 1);
    } else {
        const uint8_t *d = xf_gguf_arr_data(a);
        if (d && n) g_sink += d[0];
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write("model.gguf", data, size);
    xf_gguf *g = NULL;
    if (xf_gguf_open(path, &g) != XF_OK) return 0;
    size_t nkv = xf_gguf_kv_count(g);
    for (size_t i = 0; i < nkv; i++) {
        const char *key = xf_gguf_key(g, i);
        if (!key || xf_gguf_find(g, key) < 0) __builtin_trap();
        uint64_t u;
        int64_t v;
        double d;
        const char *s;
        size_t len;
        const xf_gguf_arr *a;
        (void)xf_gguf_get_uint(g, key, &u);
        (void)xf_gguf_get_int(g, key, &v);
        (void)xf_gguf_get_f64(g, key, &d);
        if (xf_gguf_get_str(g, key, &s, &len) == XF_OK && len) g_sink += (uint8_t)s[len - 1];
        if (xf_gguf_get_arr(g, key, &a) == XF_OK) walk_arr(a, 0);
    }
    size_t nt = xf_gguf_tensor_count(g);
    for (size_t i = 0; i < nt; i++) {
        const xf_gguf_tensor *t = xf_gguf_tensor_at(g, i);
        if (!t || !xf_gguf_find_tensor(g, t->name)) __builtin_trap();
        if (t->nbytes) {
            const uint8_t *p = t->data;
            g_sink += p[0] + p[t->nbytes - 1];
        }
    }
    xf_hf_config cfg;
    xf_st_layout lay;
    if (xf_gguf_model_config(g, &cfg) == XF_OK) (void)xf_gguf_model_layout(g, &cfg, &lay);
    xf_hf_config_free(&cfg);
    xf_tokenizer *tok = NULL;
    if (xf_tokenizer_from_gguf(g, &tok) == XF_OK) {
        static const char text[] = "Hello, world! 123 \xc3\xa9t\xc3\xa9 <s> \xe4\xbd\xa0\xe5\xa5\xbd";
        xf_encoding enc;
        if (xf_tokenize(tok, text, sizeof text - 1, NULL, 0, 64, &enc) == XF_OK) {
            char *out = NULL;
            if (xf_detokenize(tok, enc.ids, enc.n, 0, &out, NULL) == XF_OK) free(out);
            xf_encoding_free(&enc);
        }
        xf_tokenizer_free(tok);
    }
    xf_gguf_close(g);
    return 0;
}
