/* test_hf_config.c — config.json, the sentence-transformers layout and weight-file discovery, on
 * the real model folder and on broken folders built under a mkdtemp directory. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "harness.h"
#include "io/hf_config.h"

static char g_root[1024];

/* A fresh sub-folder of the temp root (static buffer slot). */
static const char *mkcase(const char *name) {
    static char bufs[4][4096];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, 4096, "%s/%s", g_root, name);
    mkdir(b, 0755);
    return b;
}

/* Write dir/rel (creating one level of sub-folder if rel has a '/'). */
static void put(const char *dir, const char *rel, const char *text) {
    char p[8192];
    const char *slash = strchr(rel, '/');
    if (slash) {
        snprintf(p, sizeof p, "%s/%.*s", dir, (int)(slash - rel), rel);
        mkdir(p, 0755);
    }
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "wb");
    if (!f) {
        CHECK_MSG(0, "cannot write %s", p);
        return;
    }
    fputs(text, f);
    fclose(f);
}

static void del(const char *dir, const char *rel) {
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    unlink(p);
}

static int contains(const char *s, const char *sub) { return !sub || strstr(s, sub) != NULL; }

static void check_fail_at(int line, xf_status got, xf_status want, const char *s1, const char *s2,
                          const char *s3) {
    const char *m = xf_errmsg();
    if (getenv("XF_T_VERBOSE")) printf("  [%s] %s\n", xf_status_str(got), m);
    CHECK_MSG(got == want, "line %d: status %s, want %s (%s)", line, xf_status_str(got), xf_status_str(want), m);
    CHECK_MSG(contains(m, s1), "line %d: message lacks \"%s\": %s", line, s1, m);
    CHECK_MSG(contains(m, s2), "line %d: message lacks \"%s\": %s", line, s2, m);
    CHECK_MSG(contains(m, s3), "line %d: message lacks \"%s\": %s", line, s3, m);
}
#define CHECK_FAIL(got, want, s1, s2, s3) check_fail_at(__LINE__, got, want, s1, s2, s3)

static const char *k_good_config =
    "{\n"
    "  \"architectures\": [\"BertModel\"],\n"
    "  \"hidden_size\": 64,\n"
    "  \"intermediate_size\": 256,\n"
    "  \"model_type\": \"bert\",\n"
    "  \"num_attention_heads\": 4,\n"
    "  \"num_hidden_layers\": 2,\n"
    "  \"vocab_size\": 1000\n"
    "}\n";

/* config.json with one field replaced (or removed with value NULL). */
static void put_config_with(const char *dir, const char *field, const char *value) {
    char buf[4096];
    size_t k = 0;
    k += (size_t)snprintf(buf + k, sizeof buf - k, "{\n");
    static const char *const fields[][2] = {
        {"model_type", "\"bert\""},   {"hidden_size", "64"},      {"intermediate_size", "256"},
        {"num_attention_heads", "4"}, {"num_hidden_layers", "2"}, {"vocab_size", "1000"},
    };
    int first = 1, replaced = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = fields[i][1];
        if (strcmp(fields[i][0], field) == 0) {
            replaced = 1;
            if (!value) continue;
            v = value;
        }
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s  \"%s\": %s", first ? "" : ",\n", fields[i][0], v);
        first = 0;
    }
    if (!replaced && value) k += (size_t)snprintf(buf + k, sizeof buf - k, ",\n  \"%s\": %s", field, value);
    snprintf(buf + k, sizeof buf - k, "\n}\n");
    put(dir, "config.json", buf);
}

/* ---------------------------------------------------------- decoder fields */

static void test_decoder_config(void) {
    xf_hf_config cfg;
    const char *d = mkcase("decoder");
    xf_status s;
    /* Defaults as LlamaConfig: kv heads = heads, head_dim = hidden / heads, rms eps 1e-6, theta 1e4. */
    put(d, "config.json", k_good_config);
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(cfg.num_key_value_heads == 4 && cfg.head_dim == 16 && cfg.rms_norm_eps == 1e-6);
    CHECK(cfg.rope_theta == 10000.0 && cfg.tie_word_embeddings == 0 && cfg.attention_bias == 0);
    CHECK(cfg.mlp_bias == 0 && cfg.rope_scaling.type == XF_HF_ROPE_DEFAULT && cfg.use_sliding_window == 0);

    /* transformers 4 style: rope_theta + rope_scaling {"type": "linear"}; explicit head_dim need
     * not divide hidden_size */
    put(d, "config.json",
        "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":60,\"intermediate_size\":96,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":16,\"num_hidden_layers\":2,"
        "\"vocab_size\":320,\"rms_norm_eps\":1e-5,\"rope_theta\":500000.0,\"tie_word_embeddings\":true,"
        "\"attention_bias\":true,\"mlp_bias\":true,\"hidden_act\":\"silu\",\"pad_token_id\":null,"
        "\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(strcmp(cfg.model_type, "llama") == 0 && strcmp(cfg.hidden_act, "silu") == 0);
    CHECK(cfg.num_key_value_heads == 2 && cfg.head_dim == 16 && cfg.rms_norm_eps == 1e-5);
    CHECK(cfg.rope_theta == 500000.0 && cfg.tie_word_embeddings == 1 && cfg.attention_bias == 1 && cfg.mlp_bias == 1);
    CHECK(cfg.rope_scaling.type == XF_HF_ROPE_LINEAR && cfg.rope_scaling.factor == 2.0);

    /* transformers 5 style: rope_parameters holds rope_theta and the llama3 scaling */
    put(d, "config.json",
        "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
        "\"num_hidden_layers\":2,\"vocab_size\":320,\"rope_parameters\":{\"rope_type\":\"llama3\","
        "\"rope_theta\":500000.0,\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
        "\"original_max_position_embeddings\":8192}}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(cfg.rope_theta == 500000.0 && cfg.rope_scaling.type == XF_HF_ROPE_LLAMA3);
    CHECK(cfg.rope_scaling.factor == 8.0 && cfg.rope_scaling.low_freq_factor == 1.0);
    CHECK(cfg.rope_scaling.high_freq_factor == 4.0 && cfg.rope_scaling.original_max_position == 8192);

    /* yarn with every field (Qwen2.5 / DeepSeek style), and with none: the trained context is
     * max_position_embeddings; dynamic */
    put(d, "config.json",
        "{\"model_type\":\"qwen2\",\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
        "\"num_hidden_layers\":2,\"vocab_size\":320,\"max_position_embeddings\":4096,\"rope_scaling\":{\"type\":"
        "\"yarn\",\"factor\":4.0,\"original_max_position_embeddings\":1024,\"beta_fast\":16,\"beta_slow\":2,"
        "\"mscale\":1.0,\"mscale_all_dim\":0.5,\"attention_factor\":0.9,\"truncate\":false}}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    const xf_hf_rope_scaling *y = &cfg.rope_scaling;
    CHECK(y->type == XF_HF_ROPE_YARN && y->factor == 4.0 && y->original_max_position == 1024);
    CHECK(y->beta_fast == 16 && y->beta_slow == 2 && y->mscale == 1.0 && y->mscale_all_dim == 0.5);
    CHECK(y->attention_factor == 0.9 && y->no_truncate == 1);
    put(d, "config.json",
        "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
        "\"num_hidden_layers\":2,\"vocab_size\":320,\"max_position_embeddings\":2048,\"rope_scaling\":{\"rope_type\":"
        "\"yarn\",\"factor\":2.0}}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(y->type == XF_HF_ROPE_YARN && y->factor == 2.0 && y->original_max_position == 2048 && y->beta_fast == 0);
    CHECK(y->attention_factor == 0 && y->no_truncate == 0);
    put(d, "config.json",
        "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
        "\"num_hidden_layers\":2,\"vocab_size\":320,\"rope_scaling\":{\"rope_type\":\"dynamic\",\"factor\":2.0}}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(y->type == XF_HF_ROPE_DYNAMIC && y->factor == 2.0);
    put(d, "config.json",
        "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
        "\"num_hidden_layers\":2,\"vocab_size\":320,\"rope_scaling\":{\"rope_type\":\"longrope\",\"factor\":2.0}}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_UNSUPPORTED, "longrope", "yarn", "dynamic");
    put(d, "config.json",
        "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
        "\"num_hidden_layers\":2,\"vocab_size\":320,\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":2.0,"
        "\"beta_fast\":-3}}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "beta_fast", "-3", NULL);

    /* rope_parameters {"rope_type": "default"} and rope_scaling null: no scaling; Qwen2 from
     * architectures */
    put(d, "config.json",
        "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":1,\"num_hidden_layers\":2,\"vocab_size\":320,"
        "\"rope_scaling\":null,\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":1000000.0}}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(strcmp(cfg.model_type, "qwen2") == 0 && cfg.num_key_value_heads == 1);
    CHECK(cfg.rope_theta == 1000000.0 && cfg.rope_scaling.type == XF_HF_ROPE_DEFAULT);

    /* Errors name the field. */
    put_config_with(d, "num_key_value_heads", "3");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"num_key_value_heads\"", "divide");
    put_config_with(d, "num_key_value_heads", "0");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"num_key_value_heads\"", NULL);
    put_config_with(d, "head_dim", "15");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"head_dim\"", "even");
    put_config_with(d, "rms_norm_eps", "0");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"rms_norm_eps\"", NULL);
    put_config_with(d, "rope_theta", "-1");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"rope_theta\"", NULL);
    put_config_with(d, "tie_word_embeddings", "\"yes\"");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"tie_word_embeddings\"", NULL);
    put_config_with(d, "rope_scaling", "{\"rope_type\":\"longrope\",\"factor\":4.0}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_UNSUPPORTED, "config.json", "\"rope_scaling\"", "longrope");
    put_config_with(d, "rope_parameters", "{\"rope_type\":\"su\",\"factor\":4.0}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_UNSUPPORTED, "\"rope_parameters\"", "dynamic", NULL);
    put_config_with(d, "rope_scaling", "{\"type\":\"linear\"}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_NOT_FOUND, "\"rope_scaling\"", "factor", NULL);
    put_config_with(d, "rope_scaling", "{\"type\":\"linear\",\"factor\":-2}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "\"rope_scaling\"", "factor", NULL);
    put_config_with(d, "rope_scaling", "{\"rope_type\":\"llama3\",\"factor\":8,\"low_freq_factor\":4,"
                    "\"high_freq_factor\":1,\"original_max_position_embeddings\":8192}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "\"rope_scaling\"", "high_freq_factor", NULL);
    put_config_with(d, "rope_scaling", "{\"rope_type\":\"llama3\",\"factor\":8,\"low_freq_factor\":1,"
                    "\"high_freq_factor\":4}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_NOT_FOUND, "\"rope_scaling\"", "original_max_position_embeddings",
               NULL);
    put_config_with(d, "rope_scaling", "[1]");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "\"rope_scaling\"", "object", NULL);
}

/* Mistral's sliding_window; GPT-2's own field names and defaults. */
static void test_mistral_gpt2_config(void) {
    xf_hf_config cfg;
    const char *d = mkcase("mistral_gpt2");
    xf_status s;
    put(d, "config.json",
        "{\"architectures\":[\"MistralForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":96,"
        "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":null,\"num_hidden_layers\":2,"
        "\"vocab_size\":320,\"sliding_window\":16}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(strcmp(cfg.model_type, "mistral") == 0 && cfg.sliding_window == 16 && cfg.head_dim == 16);
    put(d, "config.json",
        "{\"model_type\":\"mistral\",\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
        "\"num_hidden_layers\":2,\"vocab_size\":320,\"sliding_window\":null}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(cfg.sliding_window == 0);
    put(d, "config.json",
        "{\"model_type\":\"mistral\",\"hidden_size\":64,\"intermediate_size\":96,\"num_attention_heads\":4,"
        "\"num_hidden_layers\":2,\"vocab_size\":320,\"sliding_window\":-1}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"sliding_window\"", NULL);

    /* GPT-2: names mapped, n_inner null = 4 n_embd, tied, gelu_new, eps 1e-5 by default */
    put(d, "config.json",
        "{\"architectures\":[\"GPT2LMHeadModel\"],\"n_embd\":64,\"n_layer\":2,\"n_head\":4,"
        "\"n_inner\":null,\"n_positions\":128,\"vocab_size\":320,\"pad_token_id\":null}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(strcmp(cfg.model_type, "gpt2") == 0 && cfg.hidden_size == 64 && cfg.num_hidden_layers == 2);
    CHECK(cfg.num_attention_heads == 4 && cfg.num_key_value_heads == 4 && cfg.head_dim == 16);
    CHECK(cfg.intermediate_size == 256 && cfg.max_position_embeddings == 128 && cfg.layer_norm_eps == 1e-5);
    CHECK(cfg.tie_word_embeddings == 1 && strcmp(cfg.hidden_act, "gelu_new") == 0);
    put(d, "config.json",
        "{\"model_type\":\"gpt2\",\"vocab_size\":320,\"n_inner\":100,\"layer_norm_epsilon\":1e-6,"
        "\"activation_function\":\"gelu\",\"tie_word_embeddings\":false}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(cfg.hidden_size == 768 && cfg.num_hidden_layers == 12 && cfg.num_attention_heads == 12);
    CHECK(cfg.intermediate_size == 100 && cfg.max_position_embeddings == 1024 && cfg.layer_norm_eps == 1e-6);
    CHECK(cfg.tie_word_embeddings == 0 && strcmp(cfg.hidden_act, "gelu") == 0);
    put(d, "config.json", "{\"model_type\":\"gpt2\",\"vocab_size\":320,\"n_embd\":64,\"n_head\":5}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"n_head\"", "divide");
    put(d, "config.json", "{\"model_type\":\"gpt2\",\"n_embd\":64}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_NOT_FOUND, "config.json", "\"vocab_size\"", NULL);
    put(d, "config.json", "{\"model_type\":\"gpt2\",\"vocab_size\":320,\"scale_attn_by_inverse_layer_idx\":true}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_UNSUPPORTED, "config.json", "scale_attn_by_inverse_layer_idx", NULL);
    put(d, "config.json", "{\"model_type\":\"gpt2\",\"vocab_size\":320,\"layer_norm_epsilon\":0}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"layer_norm_epsilon\"", NULL);
}

/* ModernBERT: transformers 4 names (global_attn_every_n_layers, global/local_rope_theta) and 5
 * (layer_types, rope_parameters per attention kind), defaults, bad values. */
static void test_modernbert_config(void) {
    xf_hf_config cfg;
    const char *d = mkcase("modernbert");
    xf_status s;
#define MB "{\"architectures\":[\"ModernBertForMaskedLM\"],\"hidden_size\":64,\"intermediate_size\":48," \
           "\"num_attention_heads\":4,\"num_hidden_layers\":5,\"vocab_size\":320"
    put(d, "config.json", MB ",\"global_rope_theta\":1000.0,\"local_attention\":10,\"norm_bias\":true}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    if (s == XF_OK) {
        CHECK(strcmp(cfg.model_type, "modernbert") == 0 && cfg.max_position_embeddings == 8192 && cfg.layer_norm_eps == 1e-5);
        CHECK(cfg.rope_theta == 1000.0 && cfg.local_rope_theta == 10000.0 && cfg.local_attention == 10 && cfg.norm_bias);
        CHECK(!cfg.attention_bias && !cfg.mlp_bias && strcmp(cfg.hidden_act, "gelu") == 0 &&
              strcmp(cfg.classifier_pooling, "cls") == 0);
        CHECK(cfg.sliding_layers && !cfg.sliding_layers[0] && cfg.sliding_layers[1] && cfg.sliding_layers[2] && !cfg.sliding_layers[3] &&
              cfg.sliding_layers[4]);
        xf_hf_config_free(&cfg);
    }
    put(d, "config.json", MB ",\"layer_types\":[\"sliding_attention\",\"full_attention\",\"full_attention\","
        "\"sliding_attention\",\"full_attention\"],\"rope_parameters\":{\"full_attention\":{\"rope_theta\":5e5,"
        "\"rope_type\":\"default\"},\"sliding_attention\":{\"rope_theta\":7e3}},\"hidden_activation\":\"silu\","
        "\"classifier_pooling\":\"mean\",\"norm_eps\":1e-6}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    if (s == XF_OK) {
        CHECK(cfg.rope_theta == 5e5 && cfg.local_rope_theta == 7e3 && cfg.layer_norm_eps == 1e-6 &&
              strcmp(cfg.hidden_act, "silu") == 0 && strcmp(cfg.classifier_pooling, "mean") == 0);
        CHECK(cfg.sliding_layers[0] && !cfg.sliding_layers[1] && !cfg.sliding_layers[2] && cfg.sliding_layers[3] && !cfg.sliding_layers[4]);
        xf_hf_config_free(&cfg);
    }
    put(d, "config.json", MB ",\"layer_types\":[\"full_attention\"]}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"layer_types\"", "5");
    put(d, "config.json", MB ",\"layer_types\":[\"full_attention\",\"local\",\"full_attention\",\"full_attention\","
        "\"full_attention\"]}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_UNSUPPORTED, "config.json", "\"layer_types\"[1]", NULL);
    put(d, "config.json", MB ",\"global_attn_every_n_layers\":0}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"global_attn_every_n_layers\"", NULL);
    put(d, "config.json", MB ",\"local_attention\":1}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"local_attention\"", NULL);
    put(d, "config.json", MB ",\"classifier_pooling\":\"max\"}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"classifier_pooling\"", NULL);
    put(d, "config.json", MB ",\"rope_parameters\":{\"full_attention\":{\"rope_type\":\"yarn\",\"factor\":2}}}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_UNSUPPORTED, "config.json", "\"full_attention\"", "yarn");
    put(d, "config.json", MB ",\"norm_eps\":0}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"norm_eps\"", NULL);
#undef MB
}

/* ------------------------------------------------------------- real model */

static void test_real_model(void) {
    const char *dir = xf_t_model_dir();
    if (!dir) return;
    xf_hf_config cfg;
    xf_status s = xf_hf_config_load(dir, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(strcmp(cfg.model_type, "bert") == 0);
    CHECK(cfg.num_hidden_layers == 6 && cfg.hidden_size == 384 && cfg.num_attention_heads == 12);
    CHECK(cfg.intermediate_size == 1536 && cfg.vocab_size == 30522);
    CHECK(cfg.max_position_embeddings == 512 && cfg.type_vocab_size == 2);
    CHECK(cfg.layer_norm_eps == 1e-12 && cfg.pad_token_id == 0);
    CHECK(strcmp(cfg.hidden_act, "gelu") == 0 && strcmp(cfg.position_embedding_type, "absolute") == 0);

    xf_st_layout lay;
    s = xf_st_layout_load(dir, &lay);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(lay.is_sentence_transformer == 1);
    CHECK(strcmp(lay.transformer_dir, "") == 0);
    CHECK(lay.pooling == XF_POOL_MEAN && strcmp(xf_pooling_name(lay.pooling), "mean") == 0);
    CHECK(lay.normalize == 1);
    CHECK(lay.max_seq_length == 256 && lay.do_lower_case == 0);
    CHECK(lay.word_embedding_dimension == 384);
    CHECK(xf_st_layout_check(&lay, &cfg, dir) == XF_OK);

    char **paths = NULL;
    size_t n = 0;
    s = xf_hf_weight_files(dir, &paths, &n);
    CHECK_MSG(s == XF_OK && n == 1, "%s", xf_errmsg());
    if (s == XF_OK && n == 1) {
        size_t l = strlen(paths[0]);
        CHECK(l > 18 && strcmp(paths[0] + l - 18, "/model.safetensors") == 0);
    }
    xf_hf_weight_files_free(paths, n);
}

/* ------------------------------------------------------------ config.json */

static void test_config(void) {
    xf_hf_config cfg;
    const char *d;

    CHECK_FAIL(xf_hf_config_load(NULL, &cfg), XF_ERR_INVALID_ARG, NULL, NULL, NULL);
    CHECK_FAIL(xf_hf_config_load("/nonexistent/xfmr/model", &cfg), XF_ERR_NOT_FOUND, "/nonexistent/xfmr/model",
               NULL, NULL);

    d = mkcase("no_config");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_NOT_FOUND, d, "config.json", NULL);

    /* Minimal config: defaults filled in. */
    d = mkcase("minimal");
    put(d, "config.json", k_good_config);
    xf_status s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(cfg.max_position_embeddings == 512 && cfg.type_vocab_size == 2 && cfg.layer_norm_eps == 1e-12);
    CHECK(cfg.pad_token_id == 0 && strcmp(cfg.hidden_act, "gelu") == 0);
    CHECK(strcmp(cfg.position_embedding_type, "absolute") == 0);
    CHECK(cfg.hidden_size == 64 && cfg.num_attention_heads == 4 && cfg.vocab_size == 1000);

    /* Optional fields given. */
    d = mkcase("optional");
    put(d, "config.json",
        "{\"model_type\":\"bert\",\"hidden_size\":64,\"intermediate_size\":256,\"num_attention_heads\":4,"
        "\"num_hidden_layers\":2,\"vocab_size\":1000,\"max_position_embeddings\":128,\"type_vocab_size\":1,"
        "\"layer_norm_eps\":1e-5,\"pad_token_id\":1,\"hidden_act\":\"gelu_new\","
        "\"position_embedding_type\":null}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(cfg.max_position_embeddings == 128 && cfg.type_vocab_size == 1 && cfg.layer_norm_eps == 1e-5);
    CHECK(cfg.pad_token_id == 1 && strcmp(cfg.hidden_act, "gelu_new") == 0);
    CHECK(strcmp(cfg.position_embedding_type, "absolute") == 0);

    d = mkcase("malformed");
    put(d, "config.json", "{\n  \"model_type\": \"bert\",\n  \"hidden_size\": 384,,\n}\n");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "line 3", "column");

    d = mkcase("toplevel_array");
    put(d, "config.json", "[1, 2]");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "object", NULL);

    d = mkcase("bad_fields");
    put_config_with(d, "hidden_size", "\"384\"");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"hidden_size\"", "number");
    put_config_with(d, "hidden_size", "-384");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"hidden_size\"", "-384");
    put_config_with(d, "hidden_size", "0");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"hidden_size\"", NULL);
    put_config_with(d, "hidden_size", "100000");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"hidden_size\"", NULL);
    put_config_with(d, "hidden_size", "64.5");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"hidden_size\"", "integer");
    put_config_with(d, "hidden_size", NULL);
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_NOT_FOUND, "config.json", "\"hidden_size\"", "missing");
    put_config_with(d, "num_attention_heads", "5");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"num_attention_heads\"", "divide");
    put_config_with(d, "num_attention_heads", "-4");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"num_attention_heads\"", NULL);
    put_config_with(d, "num_hidden_layers", "0");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"num_hidden_layers\"", NULL);
    put_config_with(d, "num_hidden_layers", "5000");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"num_hidden_layers\"", NULL);
    put_config_with(d, "vocab_size", "-1");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"vocab_size\"", NULL);
    put_config_with(d, "vocab_size", "1e300");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"vocab_size\"", NULL);
    put_config_with(d, "vocab_size", "100000000");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"vocab_size\"", NULL);
    put_config_with(d, "intermediate_size", "true");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"intermediate_size\"", NULL);
    put_config_with(d, "max_position_embeddings", "2000000");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"max_position_embeddings\"", NULL);
    put_config_with(d, "max_position_embeddings", "0");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"max_position_embeddings\"", NULL);
    put_config_with(d, "layer_norm_eps", "0");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"layer_norm_eps\"", NULL);
    put_config_with(d, "layer_norm_eps", "1");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"layer_norm_eps\"", NULL);
    put_config_with(d, "layer_norm_eps", "-1e-12");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"layer_norm_eps\"", NULL);
    put_config_with(d, "layer_norm_eps", "\"1e-12\"");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"layer_norm_eps\"", NULL);
    put_config_with(d, "pad_token_id", "1000");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"pad_token_id\"", NULL);
    put_config_with(d, "pad_token_id", "null");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK && cfg.pad_token_id == 0, "%s", xf_errmsg());
    put_config_with(d, "hidden_act", "[\"gelu\"]");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"hidden_act\"", NULL);
    put_config_with(d, "hidden_act", "\"a_very_long_activation_function_name_that_does_not_fit\"");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_RANGE, "config.json", "\"hidden_act\"", NULL);
    put_config_with(d, "model_type", "\"\"");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"model_type\"", NULL);
    put_config_with(d, "model_type", "7");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", "\"model_type\"", NULL);

    /* model_type missing: architectures[0] may stand in for it. */
    put_config_with(d, "model_type", NULL);
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_NOT_FOUND, "config.json", "\"model_type\"", NULL);
    put(d, "config.json",
        "{\"architectures\":[\"BertModel\"],\"hidden_size\":64,\"intermediate_size\":256,"
        "\"num_attention_heads\":4,\"num_hidden_layers\":2,\"vocab_size\":1000}");
    s = xf_hf_config_load(d, &cfg);
    CHECK_MSG(s == XF_OK && strcmp(cfg.model_type, "bert") == 0, "%s", xf_errmsg());
    put(d, "config.json",
        "{\"architectures\":[\"T5ForConditionalGeneration\"],\"hidden_size\":64,\"intermediate_size\":256,"
        "\"num_attention_heads\":4,\"num_hidden_layers\":2,\"vocab_size\":1000}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_NOT_FOUND, "config.json", "\"model_type\"", NULL);
    put(d, "config.json",
        "{\"architectures\":[7],\"hidden_size\":64,\"intermediate_size\":256,"
        "\"num_attention_heads\":4,\"num_hidden_layers\":2,\"vocab_size\":1000}");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_NOT_FOUND, "config.json", "\"model_type\"", NULL);

    d = mkcase("empty_file");
    put(d, "config.json", "");
    CHECK_FAIL(xf_hf_config_load(d, &cfg), XF_ERR_FORMAT, "config.json", NULL, NULL);
}

/* ---------------------------------------------------- sentence-transformers */

static const char *k_modules =
    "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
    " {\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
    " {\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":\"sentence_transformers.models.Normalize\"}]";

static void test_layout(void) {
    xf_st_layout lay;
    xf_hf_config cfg;
    const char *d;
    xf_status s;

    /* Plain HF folder: defaults. */
    d = mkcase("plain");
    put(d, "config.json", k_good_config);
    s = xf_st_layout_load(d, &lay);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(lay.is_sentence_transformer == 0 && lay.pooling == XF_POOL_MEAN && lay.normalize == 0);
    CHECK(lay.max_seq_length == 0 && lay.transformer_dir[0] == 0 && lay.word_embedding_dimension == 0);
    CHECK_FAIL(xf_st_layout_load("/nonexistent/xfmr/model", &lay), XF_ERR_NOT_FOUND, "/nonexistent", NULL, NULL);
    CHECK_FAIL(xf_st_layout_load(NULL, &lay), XF_ERR_INVALID_ARG, NULL, NULL, NULL);

    /* CLS pooling, no Normalize, sentence_bert_config. */
    d = mkcase("cls");
    put(d, "config.json", k_good_config);
    put(d, "modules.json",
        "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
        " {\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]");
    put(d, "1_Pooling/config.json",
        "{\"word_embedding_dimension\":64,\"pooling_mode_cls_token\":true,\"pooling_mode_mean_tokens\":false,"
        "\"pooling_mode_max_tokens\":false,\"pooling_mode_mean_sqrt_len_tokens\":false,"
        "\"pooling_mode_weightedmean_tokens\":false,\"pooling_mode_lasttoken\":false,\"include_prompt\":true}");
    put(d, "sentence_bert_config.json", "{\"max_seq_length\":128,\"do_lower_case\":true}");
    s = xf_st_layout_load(d, &lay);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(lay.is_sentence_transformer == 1 && lay.pooling == XF_POOL_CLS && lay.normalize == 0);
    CHECK(lay.max_seq_length == 128 && lay.do_lower_case == 1 && lay.word_embedding_dimension == 64);
    CHECK(strcmp(xf_pooling_name(lay.pooling), "cls") == 0);
    s = xf_hf_config_load(d, &cfg);
    CHECK(s == XF_OK && xf_st_layout_check(&lay, &cfg, d) == XF_OK);
    cfg.hidden_size = 384;
    CHECK_FAIL(xf_st_layout_check(&lay, &cfg, d), XF_ERR_FORMAT, d, "word_embedding_dimension", "384");

    /* Other single modes. */
    static const struct {
        const char *field;
        xf_pooling p;
        const char *name;
    } modes[] = {{"pooling_mode_max_tokens", XF_POOL_MAX, "max"},
                 {"pooling_mode_mean_sqrt_len_tokens", XF_POOL_MEAN_SQRT_LEN, "mean_sqrt_len"},
                 {"pooling_mode_lasttoken", XF_POOL_LAST, "lasttoken"},
                 {"pooling_mode_mean_tokens", XF_POOL_MEAN, "mean"}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "{\"%s\":true}", modes[i].field);
        put(d, "1_Pooling/config.json", buf);
        s = xf_st_layout_load(d, &lay);
        CHECK_MSG(s == XF_OK && lay.pooling == modes[i].p && strcmp(xf_pooling_name(lay.pooling), modes[i].name) == 0,
                  "%s: %s", modes[i].field, xf_errmsg());
    }

    /* Pooling with two modes / none / a bad value / an unsupported mode / missing file. */
    put(d, "1_Pooling/config.json", "{\"pooling_mode_cls_token\":true,\"pooling_mode_mean_tokens\":true}");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_UNSUPPORTED, "1_Pooling/config.json", "pooling_mode_cls_token",
               "pooling_mode_mean_tokens");
    put(d, "1_Pooling/config.json", "{\"pooling_mode_cls_token\":false}");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_UNSUPPORTED, "1_Pooling/config.json", "no pooling mode", NULL);
    put(d, "1_Pooling/config.json", "{\"pooling_mode_cls_token\":\"yes\"}");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_FORMAT, "1_Pooling/config.json", "pooling_mode_cls_token", NULL);
    put(d, "1_Pooling/config.json", "{\"pooling_mode_weightedmean_tokens\":true}");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_UNSUPPORTED, "1_Pooling/config.json", "weightedmean", NULL);
    put(d, "1_Pooling/config.json", "{\"pooling_mode_mean_tokens\":true,\"word_embedding_dimension\":-3}");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_RANGE, "1_Pooling/config.json", "word_embedding_dimension", NULL);
    put(d, "1_Pooling/config.json", "{\"pooling_mode_mean_tokens\":true,\"word_embedding_dimension\":\"64\"}");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_FORMAT, "1_Pooling/config.json", "word_embedding_dimension", NULL);
    put(d, "1_Pooling/config.json", "{\"pooling_mode_mean_tokens\":tru}");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_FORMAT, "1_Pooling/config.json", "line 1", NULL);
    del(d, "1_Pooling/config.json");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_NOT_FOUND, "1_Pooling/config.json", NULL, NULL);
    put(d, "1_Pooling/config.json", "{\"pooling_mode_mean_tokens\":true}");

    /* sentence_bert_config.json values. */
    put(d, "sentence_bert_config.json", "{\"max_seq_length\":0}");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_RANGE, "sentence_bert_config.json", "max_seq_length", NULL);
    put(d, "sentence_bert_config.json", "{\"max_seq_length\":\"256\"}");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_FORMAT, "sentence_bert_config.json", "max_seq_length", NULL);
    put(d, "sentence_bert_config.json", "{\"max_seq_length\":2000000}");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_RANGE, "sentence_bert_config.json", "max_seq_length", NULL);
    put(d, "sentence_bert_config.json", "{\"max_seq_length\":128,\"do_lower_case\":1}");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_FORMAT, "sentence_bert_config.json", "do_lower_case", NULL);
    put(d, "sentence_bert_config.json", "{\"max_seq_length\":null}");
    s = xf_st_layout_load(d, &lay);
    CHECK_MSG(s == XF_OK && lay.max_seq_length == 0, "%s", xf_errmsg());
    del(d, "sentence_bert_config.json");
    s = xf_st_layout_load(d, &lay);
    CHECK_MSG(s == XF_OK && lay.max_seq_length == 0 && lay.do_lower_case == 0, "%s", xf_errmsg());

    /* Normalize with its folder absent (normal) and with it present. */
    put(d, "modules.json", k_modules);
    s = xf_st_layout_load(d, &lay);
    CHECK_MSG(s == XF_OK && lay.normalize == 1, "%s", xf_errmsg());

    /* Unknown module type. */
    put(d, "modules.json",
        "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
        " {\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
        " {\"idx\":2,\"name\":\"2\",\"path\":\"2_Dense\",\"type\":\"sentence_transformers.models.Dense\"}]");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_UNSUPPORTED, "modules.json", "sentence_transformers.models.Dense",
               "module 2");
    /* Structural problems in modules.json. */
    put(d, "modules.json", "{\"type\":\"x\"}");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_FORMAT, "modules.json", "array", NULL);
    put(d, "modules.json", "[{\"path\":\"\"}]");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_NOT_FOUND, "modules.json", "module 0", "\"type\"");
    put(d, "modules.json", "[5]");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_FORMAT, "modules.json", "module 0", NULL);
    put(d, "modules.json", "[{\"type\":\"sentence_transformers.models.Transformer\",\"path\":7}]");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_FORMAT, "modules.json", "\"path\"", NULL);
    put(d, "modules.json", "[");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_FORMAT, "modules.json", "malformed", NULL);
    put(d, "modules.json",
        "[{\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
        " {\"path\":\"../../etc\",\"type\":\"sentence_transformers.models.Pooling\"}]");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_FORMAT, "modules.json", "../../etc", NULL);
    put(d, "modules.json",
        "[{\"path\":\"/abs\",\"type\":\"sentence_transformers.models.Transformer\"}]");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_FORMAT, "modules.json", "/abs", NULL);
    put(d, "modules.json", "[{\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"}]");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_UNSUPPORTED, "modules.json", "Pooling", NULL);
    put(d, "modules.json", "[]");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_UNSUPPORTED, "modules.json", "Transformer", NULL);
    put(d, "modules.json",
        "[{\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
        " {\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"}]");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_UNSUPPORTED, "modules.json", "Pooling", NULL);
    put(d, "modules.json",
        "[{\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
        " {\"path\":\"2\",\"type\":\"sentence_transformers.models.Normalize\"},"
        " {\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]");
    CHECK_FAIL(xf_st_layout_load(d, &lay), XF_ERR_UNSUPPORTED, "modules.json", "Normalize", NULL);

    /* Old layout: the Transformer in 0_Transformer with its own sentence_bert_config.json. */
    d = mkcase("old_layout");
    put(d, "modules.json",
        "[{\"idx\":0,\"name\":\"0\",\"path\":\"0_Transformer\",\"type\":\"sentence_transformers.models.Transformer\"},"
        " {\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}]");
    put(d, "0_Transformer/config.json", k_good_config);
    put(d, "0_Transformer/sentence_bert_config.json", "{\"max_seq_length\":64}");
    put(d, "1_Pooling/config.json", "{\"pooling_mode_max_tokens\":true}");
    s = xf_st_layout_load(d, &lay);
    CHECK_MSG(s == XF_OK, "%s", xf_errmsg());
    CHECK(strcmp(lay.transformer_dir, "0_Transformer") == 0 && lay.max_seq_length == 64 && lay.pooling == XF_POOL_MAX);
}

/* ------------------------------------------------------------ weight files */

static void test_weight_files(void) {
    char **paths = (char **)(uintptr_t)1;
    size_t n = 99;
    const char *d;
    xf_status s;

    d = mkcase("no_weights");
    put(d, "config.json", k_good_config);
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_NOT_FOUND, d, ".safetensors", NULL);
    CHECK(paths == NULL && n == 0);
    put(d, "pytorch_model.bin", "not really");
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_NOT_FOUND, d, "pytorch_model.bin",
               "scripts/convert_bin_to_safetensors.py");
    CHECK_FAIL(xf_hf_weight_files("/nonexistent/xfmr/model", &paths, &n), XF_ERR_NOT_FOUND, "/nonexistent", NULL,
               NULL);
    CHECK_FAIL(xf_hf_weight_files(NULL, &paths, &n), XF_ERR_INVALID_ARG, NULL, NULL, NULL);

    d = mkcase("sharded");
    put(d, "model.safetensors.index.json",
        "{\"metadata\":{\"total_size\":123},\"weight_map\":{"
        "\"a\":\"model-00002-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\","
        "\"c\":\"model-00002-of-00002.safetensors\",\"d\":\"model-00001-of-00002.safetensors\"}}");
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_NOT_FOUND, "model.safetensors.index.json",
               "model-00001-of-00002.safetensors", "missing");
    put(d, "model-00001-of-00002.safetensors", "");
    put(d, "model-00002-of-00002.safetensors", "");
    s = xf_hf_weight_files(d, &paths, &n);
    CHECK_MSG(s == XF_OK && n == 2, "%s", xf_errmsg());
    if (s == XF_OK && n == 2) {
        CHECK(strstr(paths[0], "/model-00001-of-00002.safetensors") != NULL);
        CHECK(strstr(paths[1], "/model-00002-of-00002.safetensors") != NULL);
        CHECK(strncmp(paths[0], d, strlen(d)) == 0);
    }
    xf_hf_weight_files_free(paths, n);

    /* model.safetensors wins over an index. */
    put(d, "model.safetensors", "");
    s = xf_hf_weight_files(d, &paths, &n);
    CHECK_MSG(s == XF_OK && n == 1 && strstr(paths[0], "/model.safetensors"), "%s", xf_errmsg());
    xf_hf_weight_files_free(paths, n);
    del(d, "model.safetensors");

    /* Path traversal and other bad indexes. */
    put(d, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"../evil.safetensors\"}}");
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_FORMAT, "model.safetensors.index.json",
               "../evil.safetensors", NULL);
    CHECK(paths == NULL && n == 0);
    put(d, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"sub/x.safetensors\"}}");
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_FORMAT, "model.safetensors.index.json", "sub/x", NULL);
    put(d, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"/etc/passwd.safetensors\"}}");
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_FORMAT, "model.safetensors.index.json", "/etc/passwd", NULL);
    put(d, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"..\"}}");
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_FORMAT, "model.safetensors.index.json", NULL, NULL);
    put(d, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"pytorch_model.bin\"}}");
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_FORMAT, "model.safetensors.index.json", "pytorch_model.bin",
               NULL);
    put(d, "model.safetensors.index.json", "{\"weight_map\":{\"a\":5}}");
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_FORMAT, "model.safetensors.index.json", "\"a\"", NULL);
    put(d, "model.safetensors.index.json", "{\"weight_map\":{}}");
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_FORMAT, "model.safetensors.index.json", "empty", NULL);
    put(d, "model.safetensors.index.json", "{\"weight_map\":[]}");
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_FORMAT, "model.safetensors.index.json", "weight_map", NULL);
    put(d, "model.safetensors.index.json", "{\"metadata\":{}}");
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_FORMAT, "model.safetensors.index.json", "weight_map", NULL);
    put(d, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"x.safetensors\"");
    CHECK_FAIL(xf_hf_weight_files(d, &paths, &n), XF_ERR_FORMAT, "model.safetensors.index.json", "malformed", NULL);
    CHECK(paths == NULL && n == 0);
    xf_hf_weight_files_free(NULL, 0);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/xfmr_hfcfg_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        return 1;
    }
    test_real_model();
    test_config();
    test_decoder_config();
    test_mistral_gpt2_config();
    test_modernbert_config();
    test_layout();
    test_weight_files();
    nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return xf_t_report();
}
