/* fuzz_hf_config.c — libFuzzer harness: the JSON files of a Hugging Face model folder. The
 * first input byte picks which file the rest becomes (config.json, modules.json,
 * sentence_bert_config.json, 1_Pooling/config.json, model.safetensors.index.json,
 * tokenizer_config.json); the other files are absent or hold fixed valid contents. Then the
 * folder is read as xfmr does: xf_hf_config_load, xf_st_layout_load, xf_st_layout_check,
 * xf_hf_weight_files. */
#include <stdint.h>
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
                                      "tokenizer_config.json"};
#define N_FILES (sizeof k_files / sizeof k_files[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
    char **paths = NULL;
    size_t n = 0;
    if (xf_hf_weight_files(dir, &paths, &n) == XF_OK) xf_hf_weight_files_free(paths, n);
    return 0;
}
