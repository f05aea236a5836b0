/* fuzz_hf_config.c — libFuzzer harness: the JSON files of a Hugging Face model folder. The
 * first input byte picks which file the rest becomes (config.json, modules.json,
 * sentence_bert_config.json, 1_Pooling/config.json, model.safetensors.index.json,
 * tokenizer_config.json, generation_config.json); the other files are absent or hold fixed valid
 * contents. Then the folder is read as xfmr does: xf_hf_config_load, xf_st_layout_load,
 * xf_st_layout_check, xf_hf_weight_files; and, through a tiny llama loaded from that folder once
 * at start-up, the files read at call time: the chat template (tokenizer_config.json, then
 * detected) and the end-of-sequence id (generation_config.json, config.json). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/hf_config.h"

static const char k_config[] =
    "{\"model_type\":\"bert\",\"vocab_size\":30,\"hidden_size\":8,\"num_hidden_layers\":1,"
    "\"num_attention_heads\":2,\"intermediate_size\":16}";
static const char k_modules[] =
    "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
    "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]";
static const char k_pooling[] = "{\"word_embedding_dimension\":8,\"pooling_mode_mean_tokens\":true}";

static const char *const k_files[] = {"config.json", "modules.json", "sentence_bert_config.json",
                                      "1_Pooling/config.json", "model.safetensors.index.json",
                                      "tokenizer_config.json", "generation_config.json"};
#define N_FILES (sizeof k_files / sizeof k_files[0])

static xf_model *g_model;

static void copy_file(const char *src, const char *dst_name) {
    FILE *f = fopen(src, "rb");
    if (!f) abort();
    size_t cap = 1 << 20, n;
    uint8_t *buf = malloc(cap);
    if (!buf) abort();
    n = fread(buf, 1, cap, f);
    fclose(f);
    fz_write(dst_name, buf, n);
    free(buf);
}

/* The tiny llama, loaded from <fz_dir>/m: its chat template and EOS id are read from there at
 * each call. */
static void load_model(void) {
    fz_mkdir("m");
    copy_file(fz_src("tests/data/tiny/llama/config.json"), "m/config.json");
    copy_file(fz_src("tests/data/tiny/llama/tokenizer.json"), "m/tokenizer.json");
    copy_file(fz_src("tests/data/tiny/llama/model.safetensors"), "m/model.safetensors");
    xf_model_params p = xf_model_default_params();
    p.n_threads = 1;
    if (xf_model_load(fz_mkdir("m"), &p, &g_model) != XF_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_model) load_model();
    if (size < 1) return 0;
    size_t which = data[0] % N_FILES;
    int with_defaults = (data[0] / N_FILES) & 1;
    data++, size--;
    const char *dir = fz_mkdir("m");
    fz_mkdir("m/1_Pooling");
    for (size_t i = 0; i < N_FILES; i++) {
        char name[128];
        strcpy(name, "m/");
        strcat(name, k_files[i]);
        if (i == which) {
            fz_write(name, data, size);
        } else if (with_defaults && i <= 3) {
            const char *s = i == 0 ? k_config : i == 1 ? k_modules : i == 2 ? "{\"max_seq_length\":16}" : k_pooling;
            fz_write(name, (const uint8_t *)s, strlen(s));
        } else {
            fz_unlink(name);
        }
    }
    xf_hf_config cfg;
    xf_st_layout layout;
    int cfg_ok = xf_hf_config_load(dir, &cfg) == XF_OK;
    if (xf_st_layout_load(dir, &layout) == XF_OK && cfg_ok) (void)xf_st_layout_check(&layout, &cfg, dir);
    if (cfg_ok) xf_hf_config_free(&cfg); /* its heap arrays: pruned_heads, q_groups, sliding_layers */
    char **paths = NULL;
    size_t n = 0;
    if (xf_hf_weight_files(dir, &paths, &n) == XF_OK) xf_hf_weight_files_free(paths, n);
    const char *tmpl_text = xf_model_chat_template(g_model);
    xf_chat_template *t = NULL;
    if (tmpl_text && xf_chat_template_detect(tmpl_text, &t) == XF_OK) xf_chat_template_free(t);
    int32_t eos = xf_model_eos_id(g_model);
    if (eos < -1 || (eos >= 0 && (size_t)eos >= xf_model_vocab_size(g_model))) __builtin_trap();
    return 0;
}
