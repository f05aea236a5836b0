/* fuzz_model.c — libFuzzer harness: whole-model loading from hostile weight files. Byte 0 picks
 * the format of the rest:
 *   even: a GGUF model file (metadata -> config, tensor name mapping, shapes, dequantization of
 *         every block type, the GGUF tokenizer);
 *   odd:  the model.safetensors of a folder whose config.json and tokenizer.json are the tiny
 *         llama's (tests/data/tiny/llama): tensor names, shapes, dtypes against the config.
 * A model that loads runs a 3-token forward pass and a 2-token session. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "xfmr.h"

static void copy_file(const char *src, const char *dst_name) {
    FILE *f = fopen(src, "rb");
    if (!f) abort();
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    fz_write(dst_name, buf, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        fz_mkdir("st");
        copy_file(fz_src("tests/data/tiny/llama/config.json"), "st/config.json");
        copy_file(fz_src("tests/data/tiny/llama/tokenizer.json"), "st/tokenizer.json");
        ready = 1;
    }
    if (size < 1) return 0;
    const char *path;
    if (data[0] & 1) {
        fz_write("st/model.safetensors", data + 1, size - 1);
        path = fz_mkdir("st");
    } else {
        path = fz_write("model.gguf", data + 1, size - 1);
    }
    xf_model_params p = xf_model_default_params();
    p.n_threads = 1;
    xf_model *m = NULL;
    if (xf_model_load(path, &p, &m) != XF_OK) return 0;
    size_t V = xf_model_vocab_size(m);
    if (V > 0 && V <= 100000) {
        int32_t ids[3] = {0, (int32_t)(V / 2), (int32_t)(V - 1)};
        float *logits = malloc(3 * V * sizeof *logits);
        if (!logits) abort();
        (void)xf_model_logits(m, ids, 3, logits);
        xf_session *s = NULL;
        if (xf_session_create(m, 4, &s) == XF_OK) {
            (void)xf_session_eval(s, ids, 2, logits);
            xf_session_free(s);
        }
        free(logits);
    }
    xf_model_free(m);
    return 0;
}
