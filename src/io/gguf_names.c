/* gguf_names.c — llama.cpp's GGUF tensor names for the Hugging Face names the architectures ask
 * for (gguf_model.h: xf_gguf_tensor_name), and the undoing of its LLaMA Q/K row permutation. The
 * writer (model/save.c) uses the same names the other way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/gguf_model.h"

/* LLaMA family: model.layers.N.<hf>.{weight,bias} -> blk.N.<gg>.{weight,bias} */
static const struct {
    const char *hf, *gg;
    xf_gguf_permute perm;
} k_layer_names[] = {
    {"input_layernorm", "attn_norm", XF_GGUF_PERMUTE_NONE},
    {"post_attention_layernorm", "ffn_norm", XF_GGUF_PERMUTE_NONE},
    {"self_attn.q_proj", "attn_q", XF_GGUF_PERMUTE_Q},
    {"self_attn.k_proj", "attn_k", XF_GGUF_PERMUTE_K},
    {"self_attn.v_proj", "attn_v", XF_GGUF_PERMUTE_NONE},
    {"self_attn.o_proj", "attn_output", XF_GGUF_PERMUTE_NONE},
    {"mlp.gate_proj", "ffn_gate", XF_GGUF_PERMUTE_NONE},
    {"mlp.up_proj", "ffn_up", XF_GGUF_PERMUTE_NONE},
    {"mlp.down_proj", "ffn_down", XF_GGUF_PERMUTE_NONE},
};

/* gpt2 (HF GPT2LMHeadModel, optional "transformer." prefix) -> llama.cpp GPT2 names. */
static const struct {
    const char *hf, *gg;
    int transposed;
} k_gpt2_names[] = {
    {"ln_1", "attn_norm", 0},     {"attn.c_attn", "attn_qkv", 1}, {"attn.c_proj", "attn_output", 1},
    {"ln_2", "ffn_norm", 0},      {"mlp.c_fc", "ffn_up", 1},      {"mlp.c_proj", "ffn_down", 1},
};

/* bert (HF BertModel: encoder.layer.N.<hf>) -> llama.cpp BERT names. */
static const struct {
    const char *hf, *gg;
} k_bert_names[] = {
    {"attention.self.query", "attn_q"},         {"attention.self.key", "attn_k"},
    {"attention.self.value", "attn_v"},         {"attention.output.dense", "attn_output"},
    {"attention.output.LayerNorm", "attn_output_norm"}, {"intermediate.dense", "ffn_up"},
    {"output.dense", "ffn_down"},               {"output.LayerNorm", "layer_output_norm"},
};

/* "N.<rest>.{weight,bias}" after a layer prefix: the layer, the middle part and the suffix. */
static int split_layer(const char *p, unsigned long *layer, const char **mid, size_t *mid_len, const char **suffix) {
    char *end;
    *layer = strtoul(p, &end, 10);
    if (end == p || *end != '.' || (p[0] == '0' && end - p > 1)) return 0;
    const char *rest = end + 1;
    *suffix = strrchr(rest, '.');
    if (!*suffix || (strcmp(*suffix, ".weight") != 0 && strcmp(*suffix, ".bias") != 0)) return 0;
    *mid = rest;
    *mid_len = (size_t)(*suffix - rest);
    return 1;
}

static int is(const char *mid, size_t len, const char *name) { return strlen(name) == len && strncmp(mid, name, len) == 0; }

static int gpt2_name(const char *hf, char *out, size_t cap, xf_gguf_permute *permute) {
    if (strcmp(hf, "lm_head.weight") == 0) return snprintf(out, cap, "output.weight") < (int)cap;
    if (strcmp(hf, "lm_head.bias") == 0) return snprintf(out, cap, "output.bias") < (int)cap; /* Pre-RMSNorm */
    if (strncmp(hf, "transformer.", 12) == 0) hf += 12;
    if (strcmp(hf, "wte.weight") == 0) return snprintf(out, cap, "token_embd.weight") < (int)cap;
    if (strcmp(hf, "wpe.weight") == 0) return snprintf(out, cap, "position_embd.weight") < (int)cap;
    if (strcmp(hf, "ln_f.weight") == 0) return snprintf(out, cap, "output_norm.weight") < (int)cap;
    if (strcmp(hf, "ln_f.bias") == 0) return snprintf(out, cap, "output_norm.bias") < (int)cap;
    unsigned long layer;
    const char *mid, *suffix;
    size_t mid_len;
    if (strncmp(hf, "h.", 2) != 0 || !split_layer(hf + 2, &layer, &mid, &mid_len, &suffix)) return 0;
    for (size_t i = 0; i < sizeof k_gpt2_names / sizeof k_gpt2_names[0]; i++) {
        if (!is(mid, mid_len, k_gpt2_names[i].hf)) continue;
        if (permute && k_gpt2_names[i].transposed && strcmp(suffix, ".weight") == 0) *permute = XF_GGUF_TRANSPOSE;
        return snprintf(out, cap, "blk.%lu.%s%s", layer, k_gpt2_names[i].gg, suffix) < (int)cap;
    }
    return 0;
}

static int bert_name(const char *hf, char *out, size_t cap) {
    static const struct {
        const char *hf, *gg;
    } direct[] = {{"embeddings.word_embeddings.weight", "token_embd.weight"},
                  {"embeddings.position_embeddings.weight", "position_embd.weight"},
                  {"embeddings.token_type_embeddings.weight", "token_types.weight"},
                  {"embeddings.LayerNorm.weight", "token_embd_norm.weight"},
                  {"embeddings.LayerNorm.bias", "token_embd_norm.bias"},
                  /* sequence-classification head (model/cls_head.c): llama.cpp's rank pooling runs
                   * "cls" (dense + tanh) then "cls.output" */
                  {"pooler.dense.weight", "cls.weight"},
                  {"pooler.dense.bias", "cls.bias"},
                  {"classifier.weight", "cls.output.weight"},
                  {"classifier.bias", "cls.output.bias"}};
    for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++)
        if (strcmp(hf, direct[i].hf) == 0) return snprintf(out, cap, "%s", direct[i].gg) < (int)cap;
    unsigned long layer;
    const char *mid, *suffix;
    size_t mid_len;
    if (strncmp(hf, "encoder.layer.", 14) != 0 || !split_layer(hf + 14, &layer, &mid, &mid_len, &suffix)) return 0;
    for (size_t i = 0; i < sizeof k_bert_names / sizeof k_bert_names[0]; i++)
        if (is(mid, mid_len, k_bert_names[i].hf))
            return snprintf(out, cap, "blk.%lu.%s%s", layer, k_bert_names[i].gg, suffix) < (int)cap;
    return 0;
}

/* modernbert (HF ModernBertModel, or "model." under ModernBertFor*) -> llama.cpp's modern-bert names. */
static int modernbert_name(const char *hf, char *out, size_t cap) {
    static const struct {
        const char *hf, *gg;
    } direct[] = {{"embeddings.tok_embeddings", "token_embd"}, {"embeddings.norm", "token_embd_norm"},
                  {"final_norm", "output_norm"},
                  /* ModernBertForSequenceClassification's head, as llama.cpp's converter names it */
                  {"head.dense", "cls"}, {"head.norm", "cls.norm"}, {"classifier", "cls.output"}},
      layer[] = {{"attn_norm", "attn_norm"}, {"attn.Wqkv", "attn_qkv"}, {"attn.Wo", "attn_output"},
                 {"mlp_norm", "ffn_norm"},   {"mlp.Wi", "ffn_up"},      {"mlp.Wo", "ffn_down"}};
    if (strncmp(hf, "model.", 6) == 0) hf += 6;
    const char *suffix = strrchr(hf, '.');
    if (!suffix || (strcmp(suffix, ".weight") != 0 && strcmp(suffix, ".bias") != 0)) return 0;
    for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++)
        if (is(hf, (size_t)(suffix - hf), direct[i].hf)) return snprintf(out, cap, "%s%s", direct[i].gg, suffix) < (int)cap;
    unsigned long l;
    const char *mid;
    size_t mid_len;
    if (strncmp(hf, "layers.", 7) != 0 || !split_layer(hf + 7, &l, &mid, &mid_len, &suffix)) return 0;
    for (size_t i = 0; i < sizeof layer / sizeof layer[0]; i++)
        if (is(mid, mid_len, layer[i].hf)) return snprintf(out, cap, "blk.%lu.%s%s", l, layer[i].gg, suffix) < (int)cap;
    return 0;
}

int xf_gguf_tensor_name(const char *arch, const char *hf, char *out, size_t cap, xf_gguf_permute *permute) {
    if (permute) *permute = XF_GGUF_PERMUTE_NONE;
    if (strcmp(arch, "modernbert") == 0) return modernbert_name(hf, out, cap);
    if (strcmp(arch, "gpt2") == 0) return gpt2_name(hf, out, cap, permute);
    if (strcmp(arch, "bert") == 0) return bert_name(hf, out, cap);
    const char *direct = NULL;
    if (strcmp(hf, "model.embed_tokens.weight") == 0) direct = "token_embd.weight";
    else if (strcmp(hf, "rope_freqs.weight") == 0) direct = "rope_freqs.weight";
    else if (strcmp(hf, "model.norm.weight") == 0) direct = "output_norm.weight";
    else if (strcmp(hf, "lm_head.weight") == 0) direct = "output.weight";
    if (direct) return snprintf(out, cap, "%s", direct) < (int)cap;
    unsigned long layer;
    const char *mid, *suffix;
    size_t mid_len;
    if (strncmp(hf, "model.layers.", 13) != 0 || !split_layer(hf + 13, &layer, &mid, &mid_len, &suffix)) return 0;
    for (size_t i = 0; i < sizeof k_layer_names / sizeof k_layer_names[0]; i++) {
        if (!is(mid, mid_len, k_layer_names[i].hf)) continue;
        if (permute && (strcmp(arch, "llama") == 0 || strcmp(arch, "mistral") == 0)) *permute = k_layer_names[i].perm;
        return snprintf(out, cap, "blk.%lu.%s%s", layer, k_layer_names[i].gg, suffix) < (int)cap;
    }
    return 0;
}

void xf_gguf_unpermute_rows(void *W, size_t n_head, size_t dh, size_t row_bytes, void *tmp) {
    const size_t half = dh / 2;
    unsigned char *t = tmp;
    for (size_t h = 0; h < n_head; h++) {
        unsigned char *blk = (unsigned char *)W + h * dh * row_bytes;
        memcpy(t, blk, dh * row_bytes);
        for (size_t i = 0; i < half; i++)
            for (size_t j = 0; j < 2; j++) memcpy(blk + (j * half + i) * row_bytes, t + (2 * i + j) * row_bytes, row_bytes);
    }
}
