/* hf_config.c — Hugging Face model folders: config.json, the sentence-transformers layout
 * (modules.json, Pooling config, sentence_bert_config.json, Normalize) and the weight files.
 * Every message names the file (full path) and the field that was wrong. */
#include "io/hf_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "core/limits.h"

#define ST_TRANSFORMER "sentence_transformers.models.Transformer"
#define ST_TRANSFORMER_V6 "sentence_transformers.base.modules.transformer.Transformer" /* >= 6 */
#define ST_POOLING "sentence_transformers.models.Pooling"
#define ST_NORMALIZE "sentence_transformers.models.Normalize"

/* Copy a string into a fixed buffer; XF_ERR_RANGE naming file/field if it does not fit. */
static xf_status copy_str(const char *file, const char *field, const char *s, char *dst, size_t cap) {
    size_t n = strlen(s);
    if (n >= cap)
        return xf_error(XF_ERR_RANGE, "%s: field \"%s\" is %zu characters, more than %zu", file, field, n,
                        cap - 1);
    memcpy(dst, s, n + 1);
    return XF_OK;
}

/* Load <dir>/<name> as JSON; *path gets the joined path (free it). */
static xf_status load_json_in(const char *dir, const char *name, char **path, cJSON **out) {
    *out = NULL;
    *path = xf_path_join(dir, name);
    if (!*path) return xf_error(XF_ERR_NOMEM, "%s: out of memory", dir);
    return xf_json_load(*path, out);
}

/* ------------------------------------------------------------ config.json */

/* model_type when config.json lacks it: from "architectures"[0] ("BertModel", "BertForMaskedLM",
 * ... -> "bert"). NULL if unknown. */
static const char *arch_to_model_type(const cJSON *root) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const cJSON *first = cJSON_IsArray(a) ? cJSON_GetArrayItem(a, 0) : NULL;
    if (!cJSON_IsString(first)) return NULL;
    if (strncmp(first->valuestring, "Bert", 4) == 0) return "bert";
    if (strncmp(first->valuestring, "ModernBert", 10) == 0) return "modernbert";
    if (strncmp(first->valuestring, "Llama", 5) == 0) return "llama";
    if (strncmp(first->valuestring, "Mistral", 7) == 0) return "mistral";
    if (strncmp(first->valuestring, "GPT2", 4) == 0) return "gpt2";
    if (strncmp(first->valuestring, "Qwen2", 5) == 0 && strncmp(first->valuestring, "Qwen2_", 6) != 0) return "qwen2";
    return NULL;
}

static xf_status size_field(const char *file, const cJSON *root, const char *field, int64_t lo,
                            int64_t hi, int required, size_t *out) {
    int64_t v = (int64_t)*out;
    xf_status st = required ? xf_json_int(file, root, field, lo, hi, &v)
                            : xf_json_int_opt(file, root, field, lo, hi, &v);
    if (st) return st;
    *out = (size_t)v;
    return XF_OK;
}

/* rope_scaling (transformers 4) or rope_parameters (transformers 5; may also hold rope_theta).
 * `field` names the object in messages. */
static xf_status parse_rope(const char *file, const cJSON *obj, const char *field, xf_hf_config *out) {
    char ctx[4200];
    snprintf(ctx, sizeof ctx, "%s: field \"%s\"", file, field);
    if (!cJSON_IsObject(obj))
        return xf_error(XF_ERR_FORMAT, "%s must be an object or null", ctx);
    xf_status st;
    if ((st = xf_json_num_opt(ctx, obj, "rope_theta", 1e-3, 1e12, &out->rope_theta))) return st;
    const char *type = NULL;
    if ((st = xf_json_str_opt(ctx, obj, "rope_type", &type))) return st;
    if (!type && (st = xf_json_str_opt(ctx, obj, "type", &type))) return st;
    xf_hf_rope_scaling *r = &out->rope_scaling;
    memset(r, 0, sizeof *r);
    if (!type || strcmp(type, "default") == 0) return XF_OK;
    static const struct {
        const char *name;
        xf_hf_rope_type type;
    } types[] = {{"linear", XF_HF_ROPE_LINEAR}, {"llama3", XF_HF_ROPE_LLAMA3}, {"dynamic", XF_HF_ROPE_DYNAMIC},
                 {"yarn", XF_HF_ROPE_YARN}};
    size_t k = 0;
    while (k < sizeof types / sizeof types[0] && strcmp(types[k].name, type) != 0) k++;
    if (k == sizeof types / sizeof types[0])
        return xf_error(XF_ERR_UNSUPPORTED,
                        "%s: rope_type \"%s\" is not supported (supported: default, linear, llama3, dynamic, yarn)",
                        ctx, type);
    r->type = types[k].type;
    if ((st = xf_json_num_opt(ctx, obj, "factor", 1e-6, 1e6, &r->factor))) return st;
    if (!(r->factor > 0.0)) return xf_error(XF_ERR_NOT_FOUND, "%s: rope_type \"%s\" needs \"factor\" > 0", ctx, type);
    if (r->type == XF_HF_ROPE_LLAMA3) {
        int64_t orig = 0;
        if ((st = xf_json_num_opt(ctx, obj, "low_freq_factor", 1e-6, 1e6, &r->low_freq_factor)) ||
            (st = xf_json_num_opt(ctx, obj, "high_freq_factor", 1e-6, 1e6, &r->high_freq_factor)) ||
            (st = xf_json_int(ctx, obj, "original_max_position_embeddings", 1, 1 << 24, &orig)))
            return st;
        if (!(r->low_freq_factor > 0.0) || !(r->high_freq_factor > r->low_freq_factor))
            return xf_error(XF_ERR_RANGE, "%s: llama3 needs 0 < low_freq_factor (%g) < high_freq_factor (%g)", ctx,
                            r->low_freq_factor, r->high_freq_factor);
        r->original_max_position = (size_t)orig;
    } else if (r->type == XF_HF_ROPE_YARN) {
        int64_t orig = 0; /* 0: max_position_embeddings (filled in by the caller) */
        int truncate = 1;
        if ((st = xf_json_int_opt(ctx, obj, "original_max_position_embeddings", 1, 1 << 24, &orig)) ||
            (st = xf_json_num_opt(ctx, obj, "beta_fast", 1e-6, 1e6, &r->beta_fast)) ||
            (st = xf_json_num_opt(ctx, obj, "beta_slow", 1e-6, 1e6, &r->beta_slow)) ||
            (st = xf_json_num_opt(ctx, obj, "attention_factor", 1e-6, 1e6, &r->attention_factor)) ||
            (st = xf_json_num_opt(ctx, obj, "mscale", 0.0, 1e6, &r->mscale)) ||
            (st = xf_json_num_opt(ctx, obj, "mscale_all_dim", 0.0, 1e6, &r->mscale_all_dim)) ||
            (st = xf_json_bool_opt(ctx, obj, "truncate", &truncate)))
            return st;
        r->original_max_position = (size_t)orig;
        r->no_truncate = !truncate;
    }
    return XF_OK;
}

static xf_status bool_field(const char *file, const cJSON *root, const char *field, int *out) {
    return xf_json_bool_opt(file, root, field, out);
}

/* The decoder fields (num_key_value_heads, head_dim, rms_norm_eps, rope_*, ...). */
static xf_status parse_decoder_fields(const char *file, const cJSON *root, int head_dim_given, xf_hf_config *out) {
    xf_status st;
    out->num_key_value_heads = out->num_attention_heads;
    if ((st = size_field(file, root, "num_key_value_heads", 1, XF_MAX_HIDDEN, 0, &out->num_key_value_heads))) return st;
    if (out->num_attention_heads % out->num_key_value_heads != 0)
        return xf_error(XF_ERR_FORMAT, "%s: field \"num_key_value_heads\" = %zu does not divide \"num_attention_heads\" = %zu",
                        file, out->num_key_value_heads, out->num_attention_heads);
    if (head_dim_given && out->head_dim % 2 != 0)
        return xf_error(XF_ERR_RANGE, "%s: field \"head_dim\" = %zu must be even", file, out->head_dim);
    if ((st = xf_json_num_opt(file, root, "rms_norm_eps", 0.0, 1.0, &out->rms_norm_eps))) return st;
    if (!(out->rms_norm_eps > 0.0 && out->rms_norm_eps < 1.0))
        return xf_error(XF_ERR_RANGE, "%s: field \"rms_norm_eps\" = %g must be in (0, 1)", file, out->rms_norm_eps);
    if ((st = xf_json_num_opt(file, root, "rope_theta", 1e-3, 1e12, &out->rope_theta))) return st;
    out->max_window_layers = 28; /* Qwen2Config's default */
    if ((st = size_field(file, root, "sliding_window", 0, (int64_t)1 << 40, 0, &out->sliding_window)) ||
        (st = size_field(file, root, "max_window_layers", 0, XF_MAX_LAYERS, 0, &out->max_window_layers)))
        return st;
    if ((st = bool_field(file, root, "tie_word_embeddings", &out->tie_word_embeddings)) ||
        (st = bool_field(file, root, "attention_bias", &out->attention_bias)) ||
        (st = bool_field(file, root, "mlp_bias", &out->mlp_bias)) ||
        (st = bool_field(file, root, "use_sliding_window", &out->use_sliding_window)))
        return st;
    static const char *const rope_fields[] = {"rope_scaling", "rope_parameters"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, rope_fields[i]);
        if (r && !cJSON_IsNull(r) && (st = parse_rope(file, r, rope_fields[i], out))) return st;
    }
    if (!(out->rope_theta > 0.0))
        return xf_error(XF_ERR_RANGE, "%s: field \"rope_theta\" = %g must be > 0", file, out->rope_theta);
    if (out->rope_scaling.type == XF_HF_ROPE_YARN && !out->rope_scaling.original_max_position)
        out->rope_scaling.original_max_position = out->max_position_embeddings; /* as transformers */
    return XF_OK;
}

static xf_status parse_layer_types(const char *file, const cJSON *root, xf_hf_config *out);

/* ModernBertConfig's own fields (see hf_config.h); the shared ones are already read. */
static xf_status parse_modernbert_fields(const char *file, const cJSON *root, xf_hf_config *out) {
    xf_status st;
    const size_t L = out->num_hidden_layers;
    out->layer_norm_eps = 1e-5;
    out->local_attention = 128;
    out->rope_theta = 160000.0;
    out->local_rope_theta = 10000.0;
    strcpy(out->hidden_act, "gelu");
    strcpy(out->classifier_pooling, "cls");
    const char *s = NULL;
    if ((st = xf_json_str_opt(file, root, "hidden_activation", &s))) return st;
    if (s && (st = copy_str(file, "hidden_activation", s, out->hidden_act, sizeof out->hidden_act))) return st;
    s = NULL;
    if ((st = xf_json_str_opt(file, root, "classifier_pooling", &s))) return st;
    if (s && strcmp(s, "cls") != 0 && strcmp(s, "mean") != 0)
        return xf_error(XF_ERR_FORMAT, "%s: field \"classifier_pooling\" = \"%.40s\" is not \"cls\" or \"mean\"", file, s);
    if (s) strcpy(out->classifier_pooling, s);
    if ((st = xf_json_num_opt(file, root, "norm_eps", 0.0, 1.0, &out->layer_norm_eps))) return st;
    if (!(out->layer_norm_eps > 0.0 && out->layer_norm_eps < 1.0))
        return xf_error(XF_ERR_RANGE, "%s: field \"norm_eps\" = %g must be in (0, 1)", file, out->layer_norm_eps);
    if ((st = bool_field(file, root, "norm_bias", &out->norm_bias)) ||
        (st = bool_field(file, root, "attention_bias", &out->attention_bias)) ||
        (st = bool_field(file, root, "mlp_bias", &out->mlp_bias)) ||
        (st = size_field(file, root, "local_attention", 2, XF_MAX_POSITIONS, 0, &out->local_attention)) ||
        (st = xf_json_num_opt(file, root, "global_rope_theta", 1e-3, 1e12, &out->rope_theta)) ||
        (st = xf_json_num_opt(file, root, "local_rope_theta", 1e-3, 1e12, &out->local_rope_theta)))
        return st;
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(root, "rope_parameters");
    if (rp && !cJSON_IsNull(rp)) {
        static const char *const kinds[] = {"full_attention", "sliding_attention"};
        for (int i = 0; i < 2; i++) {
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(rp, kinds[i]);
            if (!o || cJSON_IsNull(o)) continue;
            char ctx[4200];
            const char *type = NULL;
            snprintf(ctx, sizeof ctx, "%s: field \"rope_parameters\".\"%s\"", file, kinds[i]);
            if (!cJSON_IsObject(o)) return xf_error(XF_ERR_FORMAT, "%s must be an object", ctx);
            if ((st = xf_json_num_opt(ctx, o, "rope_theta", 1e-3, 1e12, i ? &out->local_rope_theta : &out->rope_theta)) ||
                (st = xf_json_str_opt(ctx, o, "rope_type", &type)))
                return st;
            if (type && strcmp(type, "default") != 0)
                return xf_error(XF_ERR_UNSUPPORTED, "%s: \"rope_type\" \"%.40s\" is not supported for modernbert (only "
                                "\"default\")", ctx, type);
        }
    }
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    if (rs && !cJSON_IsNull(rs))
        return xf_error(XF_ERR_UNSUPPORTED, "%s: field \"rope_scaling\" is not supported for modernbert", file);
    if ((st = parse_layer_types(file, root, out))) return st;
    if (!out->sliding_layers) {
        size_t every = 3;
        if ((st = size_field(file, root, "global_attn_every_n_layers", 1, XF_MAX_LAYERS, 0, &every))) return st;
        if (!(out->sliding_layers = xf_calloc(L, 1))) return xf_error(XF_ERR_NOMEM, "out of memory");
        for (size_t l = 0; l < L; l++) out->sliding_layers[l] = l % every != 0;
    }
    return XF_OK;
}

void xf_hf_config_free(xf_hf_config *cfg) {
    if (!cfg) return;
    free(cfg->pruned_heads);
    free(cfg->q_groups);
    free(cfg->sliding_layers);
    cfg->sliding_layers = NULL;
    cfg->pruned_heads = cfg->q_groups = NULL;
    cfg->q_groups_layers = cfg->q_groups_stride = 0;
}

/* "pruned_heads": {"<layer>": [head, ...], ...} -> out->pruned_heads[layer] = count (distinct heads
 * below num_attention_heads, layers below num_hidden_layers, fewer than all heads). */
static xf_status parse_pruned_heads(const char *file, const cJSON *root, xf_hf_config *out) {
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(root, "pruned_heads");
    if (!ph || cJSON_IsNull(ph)) return XF_OK;
    if (!cJSON_IsObject(ph)) return xf_error(XF_ERR_FORMAT, "%s: field \"pruned_heads\" must be an object", file);
    if (!cJSON_GetArraySize(ph)) return XF_OK;
    if (!(out->pruned_heads = xf_calloc(out->num_hidden_layers, sizeof *out->pruned_heads)))
        return xf_error(XF_ERR_NOMEM, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, ph) {
        char *end;
        unsigned long l = strtoul(e->string, &end, 10);
        if (!*e->string || *end || l >= out->num_hidden_layers || !cJSON_IsArray(e))
            return xf_error(XF_ERR_FORMAT, "%s: \"pruned_heads\": \"%s\" must name a layer below %zu with a list of heads",
                            file, e->string, out->num_hidden_layers);
        const int n = cJSON_GetArraySize(e);
        if ((size_t)n >= out->num_attention_heads)
            return xf_error(XF_ERR_FORMAT, "%s: \"pruned_heads\": layer %lu lists %d heads of %zu (at least one must stay)",
                            file, l, n, out->num_attention_heads);
        for (int i = 0; i < n; i++) {
            const cJSON *h = cJSON_GetArrayItem(e, i);
            if (!cJSON_IsNumber(h) || h->valuedouble < 0 || h->valuedouble >= (double)out->num_attention_heads ||
                h->valuedouble != (double)(int)h->valuedouble)
                return xf_error(XF_ERR_FORMAT, "%s: \"pruned_heads\": layer %lu: entry %d is not a head below %zu", file,
                                l, i, out->num_attention_heads);
            for (int k = 0; k < i; k++)
                if (cJSON_GetArrayItem(e, k)->valuedouble == h->valuedouble)
                    return xf_error(XF_ERR_FORMAT, "%s: \"pruned_heads\": layer %lu lists head %d twice", file, l,
                                    (int)h->valuedouble);
        }
        out->pruned_heads[l] = (uint32_t)n;
    }
    return XF_OK;
}

/* "layer_types": ["full_attention" | "sliding_attention", ...] (one per layer) -> sliding_layers. */
static xf_status parse_layer_types(const char *file, const cJSON *root, xf_hf_config *out) {
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(root, "layer_types");
    if (!lt || cJSON_IsNull(lt)) return XF_OK;
    if (!cJSON_IsArray(lt) || (size_t)cJSON_GetArraySize(lt) != out->num_hidden_layers)
        return xf_error(XF_ERR_FORMAT, "%s: field \"layer_types\" must be a list of %zu (num_hidden_layers) strings", file,
                        out->num_hidden_layers);
    if (!(out->sliding_layers = xf_calloc(out->num_hidden_layers, 1))) return xf_error(XF_ERR_NOMEM, "out of memory");
    for (size_t l = 0; l < out->num_hidden_layers; l++) {
        const cJSON *e = cJSON_GetArrayItem(lt, (int)l);
        const char *s = cJSON_IsString(e) ? e->valuestring : "";
        if (!strcmp(s, "sliding_attention")) out->sliding_layers[l] = 1;
        else if (strcmp(s, "full_attention") != 0)
            return xf_error(XF_ERR_UNSUPPORTED, "%s: \"layer_types\"[%zu] = \"%.40s\": supported are \"full_attention\" and "
                            "\"sliding_attention\"", file, l, s);
    }
    return XF_OK;
}

/* "xfmr_q_groups": [[n_0, n_1, ...] or [] per layer] -> out->q_groups (rows padded with 0). */
static xf_status parse_q_groups(const char *file, const cJSON *root, xf_hf_config *out) {
    const cJSON *qg = cJSON_GetObjectItemCaseSensitive(root, "xfmr_q_groups");
    if (!qg || cJSON_IsNull(qg)) return XF_OK;
    const int L = cJSON_GetArraySize(qg);
    if (!cJSON_IsArray(qg) || (size_t)L > out->num_hidden_layers)
        return xf_error(XF_ERR_FORMAT, "%s: field \"xfmr_q_groups\" must be a list of at most %zu per-layer lists", file,
                        out->num_hidden_layers);
    size_t stride = 0;
    for (int l = 0; l < L; l++) {
        const cJSON *row = cJSON_GetArrayItem(qg, l);
        if (!cJSON_IsArray(row) || (size_t)cJSON_GetArraySize(row) > XF_MAX_HIDDEN)
            return xf_error(XF_ERR_FORMAT, "%s: \"xfmr_q_groups\"[%d] must be a list", file, l);
        stride = (size_t)cJSON_GetArraySize(row) > stride ? (size_t)cJSON_GetArraySize(row) : stride;
    }
    if (!stride) return XF_OK;
    if (!(out->q_groups = xf_calloc((size_t)L * stride, sizeof *out->q_groups)))
        return xf_error(XF_ERR_NOMEM, "out of memory");
    out->q_groups_layers = (size_t)L, out->q_groups_stride = stride;
    for (int l = 0; l < L; l++) {
        const cJSON *row = cJSON_GetArrayItem(qg, l);
        for (int g = 0; g < cJSON_GetArraySize(row); g++) {
            const cJSON *v = cJSON_GetArrayItem(row, g);
            if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > (double)XF_MAX_HIDDEN ||
                v->valuedouble != (double)(int)v->valuedouble)
                return xf_error(XF_ERR_FORMAT, "%s: \"xfmr_q_groups\"[%d][%d] must be a head count >= 1", file, l, g);
            out->q_groups[(size_t)l * stride + (size_t)g] = (uint32_t)v->valuedouble;
        }
    }
    return XF_OK;
}

/* GPT-2 (GPT2Config names and defaults): n_embd, n_layer, n_head, n_inner (null: 4 n_embd),
 * n_positions, layer_norm_epsilon, activation_function; the head is tied unless
 * tie_word_embeddings is false. Variants of the attention the forward does not implement are
 * refused here. */
static xf_status parse_gpt2_fields(const char *file, const cJSON *root, xf_hf_config *out) {
    xf_status st;
    out->hidden_size = 768;
    out->num_hidden_layers = 12;
    out->num_attention_heads = 12;
    out->max_position_embeddings = 1024;
    out->layer_norm_eps = 1e-5;
    out->tie_word_embeddings = 1;
    strcpy(out->hidden_act, "gelu_new");
    if ((st = size_field(file, root, "vocab_size", 1, XF_MAX_VOCAB, 1, &out->vocab_size)) ||
        (st = size_field(file, root, "n_embd", 1, XF_MAX_HIDDEN, 0, &out->hidden_size)) ||
        (st = size_field(file, root, "n_layer", 1, XF_MAX_LAYERS, 0, &out->num_hidden_layers)) ||
        (st = size_field(file, root, "n_head", 1, XF_MAX_HIDDEN, 0, &out->num_attention_heads)) ||
        (st = size_field(file, root, "n_positions", 1, XF_MAX_POSITIONS, 0, &out->max_position_embeddings)))
        return st;
    out->intermediate_size = 4 * out->hidden_size;
    if ((st = size_field(file, root, "n_inner", 1, XF_MAX_FFN, 0, &out->intermediate_size))) return st;
    if (out->hidden_size % out->num_attention_heads != 0)
        return xf_error(XF_ERR_FORMAT, "%s: field \"n_head\" = %zu does not divide \"n_embd\" = %zu", file,
                        out->num_attention_heads, out->hidden_size);
    out->head_dim = out->hidden_size / out->num_attention_heads;
    out->num_key_value_heads = out->num_attention_heads;
    if ((st = xf_json_num_opt(file, root, "layer_norm_epsilon", 0.0, 1.0, &out->layer_norm_eps))) return st;
    if (!(out->layer_norm_eps > 0.0 && out->layer_norm_eps < 1.0))
        return xf_error(XF_ERR_RANGE, "%s: field \"layer_norm_epsilon\" = %g must be in (0, 1)", file,
                        out->layer_norm_eps);
    const char *act = NULL;
    if ((st = xf_json_str_opt(file, root, "activation_function", &act))) return st;
    if (act && (st = copy_str(file, "activation_function", act, out->hidden_act, sizeof out->hidden_act))) return st;
    int64_t pad = out->pad_token_id;
    if ((st = xf_json_int_opt(file, root, "pad_token_id", 0, (int64_t)out->vocab_size - 1, &pad))) return st;
    out->pad_token_id = (long)pad;
    if ((st = bool_field(file, root, "tie_word_embeddings", &out->tie_word_embeddings))) return st;
    static const struct {
        const char *field;
        int want;
    } flags[] = {{"scale_attn_weights", 1}, {"scale_attn_by_inverse_layer_idx", 0}, {"add_cross_attention", 0}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        int v = flags[i].want;
        if ((st = bool_field(file, root, flags[i].field, &v))) return st;
        if (v != flags[i].want)
            return xf_error(XF_ERR_UNSUPPORTED, "%s: field \"%s\" = %s is not supported", file, flags[i].field,
                            v ? "true" : "false");
    }
    return XF_OK;
}

xf_status xf_hf_config_load(const char *dir, xf_hf_config *out) {
    if (!dir || !out) return xf_error(XF_ERR_INVALID_ARG, "xf_hf_config_load: NULL argument");
    memset(out, 0, sizeof *out);
    strcpy(out->hidden_act, "gelu");
    strcpy(out->position_embedding_type, "absolute");
    out->max_position_embeddings = 512;
    out->type_vocab_size = 2;
    out->layer_norm_eps = 1e-12;
    out->pad_token_id = 0;
    out->rms_norm_eps = 1e-6;
    out->rope_theta = 10000.0;

    if (!xf_is_dir(dir)) return xf_error(XF_ERR_NOT_FOUND, "%s: not a directory", dir);
    char *path;
    cJSON *root;
    xf_status st = load_json_in(dir, "config.json", &path, &root);
    if (st) {
        if (st == XF_ERR_NOT_FOUND)
            st = xf_error(XF_ERR_NOT_FOUND, "%s: no config.json (not a Hugging Face model folder?)", dir);
        free(path);
        return st;
    }
    const char *file = path;
    if (!cJSON_IsObject(root)) {
        st = xf_error(XF_ERR_FORMAT, "%s: top level must be a JSON object", file);
        goto done;
    }

    const char *mt = NULL;
    if ((st = xf_json_str_opt(file, root, "model_type", &mt))) goto done;
    if (!mt) mt = arch_to_model_type(root);
    if (!mt) {
        st = xf_error(XF_ERR_NOT_FOUND,
                      "%s: required field \"model_type\" is missing (and \"architectures\" names no known "
                      "model)", file);
        goto done;
    }
    if (!*mt) {
        st = xf_error(XF_ERR_FORMAT, "%s: field \"model_type\" is empty", file);
        goto done;
    }
    if ((st = copy_str(file, "model_type", mt, out->model_type, sizeof out->model_type))) goto done;

    const char *s = NULL;
    if ((st = xf_json_str_opt(file, root, "hidden_act", &s))) goto done;
    if (s && (st = copy_str(file, "hidden_act", s, out->hidden_act, sizeof out->hidden_act))) goto done;
    s = NULL;
    if ((st = xf_json_str_opt(file, root, "position_embedding_type", &s))) goto done;
    if (s && (st = copy_str(file, "position_embedding_type", s, out->position_embedding_type,
                            sizeof out->position_embedding_type)))
        goto done;

    if (strcmp(out->model_type, "gpt2") == 0) {
        st = parse_gpt2_fields(file, root, out);
        goto done;
    }
    if (strcmp(out->model_type, "modernbert") == 0) out->max_position_embeddings = 8192; /* ModernBertConfig */
    if ((st = size_field(file, root, "vocab_size", 1, XF_MAX_VOCAB, 1, &out->vocab_size))) goto done;
    if ((st = size_field(file, root, "hidden_size", 1, XF_MAX_HIDDEN, 1, &out->hidden_size))) goto done;
    if ((st = size_field(file, root, "num_hidden_layers", 1, XF_MAX_LAYERS, 1, &out->num_hidden_layers))) goto done;
    if ((st = size_field(file, root, "num_attention_heads", 1, XF_MAX_HIDDEN, 1, &out->num_attention_heads)))
        goto done;
    if ((st = size_field(file, root, "intermediate_size", 1, XF_MAX_FFN, 1, &out->intermediate_size))) goto done;
    if ((st = size_field(file, root, "max_position_embeddings", 1, XF_MAX_POSITIONS, 0,
                         &out->max_position_embeddings)))
        goto done;
    if ((st = size_field(file, root, "type_vocab_size", 1, XF_MAX_HIDDEN, 0, &out->type_vocab_size))) goto done;
    int head_dim_given = cJSON_GetObjectItemCaseSensitive(root, "head_dim") &&
                         !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "head_dim"));
    if ((st = size_field(file, root, "head_dim", 1, XF_MAX_HIDDEN, 0, &out->head_dim))) goto done;
    if (!head_dim_given && out->hidden_size % out->num_attention_heads != 0) {
        st = xf_error(XF_ERR_FORMAT,
                      "%s: field \"num_attention_heads\" = %zu does not divide \"hidden_size\" = %zu", file,
                      out->num_attention_heads, out->hidden_size);
        goto done;
    }
    if ((st = xf_json_num_opt(file, root, "layer_norm_eps", 0.0, 1.0, &out->layer_norm_eps))) goto done;
    if (!(out->layer_norm_eps > 0.0 && out->layer_norm_eps < 1.0)) {
        st = xf_error(XF_ERR_RANGE, "%s: field \"layer_norm_eps\" = %g must be in (0, 1)", file,
                      out->layer_norm_eps);
        goto done;
    }
    int64_t pad = out->pad_token_id;
    if ((st = xf_json_int_opt(file, root, "pad_token_id", 0, (int64_t)out->vocab_size - 1, &pad))) goto done;
    out->pad_token_id = (long)pad;
    if (!head_dim_given) out->head_dim = out->hidden_size / out->num_attention_heads;
    if (strcmp(out->model_type, "modernbert") == 0) {
        out->num_key_value_heads = out->num_attention_heads;
        out->rms_norm_eps = out->layer_norm_eps;
        st = parse_modernbert_fields(file, root, out);
        goto done;
    }
    if ((st = parse_decoder_fields(file, root, head_dim_given, out))) goto done;
    if ((st = parse_pruned_heads(file, root, out)) || (st = parse_q_groups(file, root, out)) ||
        (st = parse_layer_types(file, root, out)))
        goto done;

done:
    if (st) xf_hf_config_free(out);
    cJSON_Delete(root);
    free(path);
    return st;
}

const char *xf_pooling_name(xf_pooling p) {
    switch (p) {
    case XF_POOL_MEAN: return "mean";
    case XF_POOL_CLS: return "cls";
    case XF_POOL_MAX: return "max";
    case XF_POOL_MEAN_SQRT_LEN: return "mean_sqrt_len";
    case XF_POOL_LAST: return "lasttoken";
    }
    return "?";
}

/* ---------------------------------------------------- sentence-transformers */

/* A module path must stay inside the model folder: relative, no ".." component. */
static int safe_relpath(const char *p) {
    if (p[0] == '/' || strchr(p, '\\')) return 0;
    const char *c = p;
    while (*c) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 2 && c[0] == '.' && c[1] == '.') return 0;
        if (!e) break;
        c = e + 1;
    }
    return 1;
}

static xf_status load_pooling(const char *dir, const char *rel, xf_st_layout *out) {
    char *sub = xf_path_join(dir, rel);
    if (!sub) return xf_error(XF_ERR_NOMEM, "%s: out of memory", dir);
    char *path;
    cJSON *root;
    xf_status st = load_json_in(sub, "config.json", &path, &root);
    free(sub);
    if (st) {
        free(path);
        return xf_error_wrap(st, "Pooling module \"%s\"", rel);
    }
    const char *file = path;
    static const struct {
        const char *field;
        xf_pooling mode;
    } modes[] = {
        {"pooling_mode_cls_token", XF_POOL_CLS},
        {"pooling_mode_mean_tokens", XF_POOL_MEAN},
        {"pooling_mode_max_tokens", XF_POOL_MAX},
        {"pooling_mode_mean_sqrt_len_tokens", XF_POOL_MEAN_SQRT_LEN},
        {"pooling_mode_lasttoken", XF_POOL_LAST},
    };
    char set[256] = "";
    int n_set = 0;
    if (!cJSON_IsObject(root)) {
        st = xf_error(XF_ERR_FORMAT, "%s: top level must be a JSON object", file);
        goto done;
    }
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        int on = 0;
        if ((st = xf_json_bool_opt(file, root, modes[i].field, &on))) goto done;
        if (on) {
            if (n_set++ == 0) out->pooling = modes[i].mode;
            size_t k = strlen(set);
            snprintf(set + k, sizeof set - k, "%s%s", k ? ", " : "", modes[i].field);
        }
    }
    /* Modes we know of but do not implement. */
    static const char *const unsupported[] = {"pooling_mode_weightedmean_tokens"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        int on = 0;
        if ((st = xf_json_bool_opt(file, root, unsupported[i], &on))) goto done;
        if (on) {
            st = xf_error(XF_ERR_UNSUPPORTED, "%s: \"%s\" is not supported", file, unsupported[i]);
            goto done;
        }
    }
    if (n_set == 0) {
        st = xf_error(XF_ERR_UNSUPPORTED, "%s: no pooling mode is set to true (need exactly one of cls_token, "
                      "mean_tokens, max_tokens, mean_sqrt_len_tokens, lasttoken)", file);
        goto done;
    }
    if (n_set > 1) {
        st = xf_error(XF_ERR_UNSUPPORTED,
                      "%s: %d pooling modes are set (%s); only a single mode is supported", file, n_set, set);
        goto done;
    }
    if ((st = size_field(file, root, "word_embedding_dimension", 1, XF_MAX_HIDDEN, 0, &out->word_embedding_dimension)))
        goto done;

done:
    cJSON_Delete(root);
    free(path);
    return st;
}

/* sentence_bert_config.json: in the Transformer module's folder, else in the root folder. */
static xf_status load_sbert_config(const char *dir, xf_st_layout *out) {
    char *tdir = out->transformer_dir[0] ? xf_path_join(dir, out->transformer_dir) : xf_strdup(dir);
    if (!tdir) return xf_error(XF_ERR_NOMEM, "%s: out of memory", dir);
    char *path = xf_path_join(tdir, "sentence_bert_config.json");
    free(tdir);
    if (path && !xf_is_file(path) && out->transformer_dir[0]) {
        free(path);
        path = xf_path_join(dir, "sentence_bert_config.json");
    }
    if (!path) return xf_error(XF_ERR_NOMEM, "%s: out of memory", dir);
    xf_status st = XF_OK;
    if (!xf_is_file(path)) {
        free(path);
        return XF_OK;
    }
    cJSON *root;
    if ((st = xf_json_load(path, &root))) {
        free(path);
        return st;
    }
    int64_t msl = 0;
    if (!cJSON_IsObject(root)) {
        st = xf_error(XF_ERR_FORMAT, "%s: top level must be a JSON object", path);
    } else if ((st = xf_json_int_opt(path, root, "max_seq_length", 1, XF_MAX_POSITIONS, &msl)) == XF_OK) {
        out->max_seq_length = (size_t)msl;
        st = xf_json_bool_opt(path, root, "do_lower_case", &out->do_lower_case);
        const char *task = NULL;
        if (!st) st = xf_json_str_opt(path, root, "transformer_task", &task);
        out->is_cross_encoder = task && strcmp(task, "sequence-classification") == 0;
    }
    cJSON_Delete(root);
    free(path);
    return st;
}

xf_status xf_st_layout_load(const char *dir, xf_st_layout *out) {
    if (!dir || !out) return xf_error(XF_ERR_INVALID_ARG, "xf_st_layout_load: NULL argument");
    memset(out, 0, sizeof *out);
    out->pooling = XF_POOL_MEAN;
    if (!xf_is_dir(dir)) return xf_error(XF_ERR_NOT_FOUND, "%s: not a directory", dir);

    char *path = xf_path_join(dir, "modules.json");
    if (!path) return xf_error(XF_ERR_NOMEM, "%s: out of memory", dir);
    if (!xf_is_file(path)) { /* a plain Hugging Face model */
        free(path);
        return XF_OK;
    }
    cJSON *root;
    xf_status st = xf_json_load(path, &root);
    if (st) {
        free(path);
        return st;
    }
    const char *file = path;
    out->is_sentence_transformer = 1;
    int n_tr = 0, n_pool = 0, n_norm = 0, i = 0;
    const cJSON *m;
    if (!cJSON_IsArray(root)) {
        st = xf_error(XF_ERR_FORMAT, "%s: top level must be a JSON array of modules", file);
        goto done;
    }
    cJSON_ArrayForEach(m, root) {
        char what[32], ctx[4200];
        snprintf(what, sizeof what, "module %d", i);
        snprintf(ctx, sizeof ctx, "%s: %s", file, what);
        if (!cJSON_IsObject(m)) {
            st = xf_error(XF_ERR_FORMAT, "%s: %s must be an object", file, what);
            goto done;
        }
        const char *type = NULL, *rel = "";
        int64_t idx = 0;
        if ((st = xf_json_str(ctx, m, "type", &type)) || (st = xf_json_str_opt(ctx, m, "path", &rel)) ||
            (st = xf_json_int_opt(ctx, m, "idx", 0, 1000000, &idx)))
            goto done;
        if (!safe_relpath(rel)) {
            st = xf_error(XF_ERR_FORMAT, "%s: %s: path \"%s\" leaves the model folder", file, what, rel);
            goto done;
        }
        if (strcmp(type, ST_TRANSFORMER) == 0 || strcmp(type, ST_TRANSFORMER_V6) == 0) {
            if (n_tr++) {
                st = xf_error(XF_ERR_UNSUPPORTED, "%s: more than one Transformer module", file);
                goto done;
            }
            if ((st = copy_str(ctx, "path", rel, out->transformer_dir, sizeof out->transformer_dir))) goto done;
        } else if (strcmp(type, ST_POOLING) == 0) {
            if (!n_tr || n_pool++) {
                st = xf_error(XF_ERR_UNSUPPORTED, "%s: %s: a single Pooling module after the Transformer is "
                              "supported", file, what);
                goto done;
            }
            if ((st = load_pooling(dir, rel, out))) goto done;
        } else if (strcmp(type, ST_NORMALIZE) == 0) {
            if (!n_pool || n_norm++) {
                st = xf_error(XF_ERR_UNSUPPORTED, "%s: %s: a single Normalize module after the Pooling is "
                              "supported", file, what);
                goto done;
            }
            out->normalize = 1; /* its folder (e.g. 2_Normalize) is usually absent: nothing to read */
        } else {
            st = xf_error(XF_ERR_UNSUPPORTED,
                          "%s: %s has type \"%s\" (path \"%s\"), which is not supported (supported: "
                          "Transformer, Pooling, Normalize)", file, what, type, rel);
            goto done;
        }
        i++;
    }
    if (!n_tr) {
        st = xf_error(XF_ERR_UNSUPPORTED, "%s: no " ST_TRANSFORMER " module", file);
        goto done;
    }
    st = load_sbert_config(dir, out);
    if (!st && !n_pool) {
        if (out->is_cross_encoder) out->pooling = XF_POOL_CLS; /* a CrossEncoder: its head reads [CLS] */
        else st = xf_error(XF_ERR_UNSUPPORTED, "%s: no " ST_POOLING " module (token embeddings only)", file);
    }

done:
    cJSON_Delete(root);
    free(path);
    return st;
}

xf_status xf_st_layout_check(const xf_st_layout *layout, const xf_hf_config *cfg, const char *dir) {
    if (!layout || !cfg) return xf_error(XF_ERR_INVALID_ARG, "xf_st_layout_check: NULL argument");
    if (layout->word_embedding_dimension && layout->word_embedding_dimension != cfg->hidden_size)
        return xf_error(XF_ERR_FORMAT,
                        "%s: Pooling config word_embedding_dimension = %zu but config.json hidden_size = %zu",
                        dir ? dir : "model", layout->word_embedding_dimension, cfg->hidden_size);
    return XF_OK;
}

/* ------------------------------------------------------------ weight files */

void xf_hf_weight_files_free(char **paths, size_t n) {
    if (!paths) return;
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A shard name from an index: a plain file name ending in .safetensors. */
static int safe_shard_name(const char *s) {
    size_t n = strlen(s);
    static const char ext[] = ".safetensors";
    return n > sizeof ext - 1 && !strchr(s, '/') && !strchr(s, '\\') && !strstr(s, "..") &&
           strcmp(s + n - (sizeof ext - 1), ext) == 0;
}

static xf_status weight_files_from_index(const char *dir, const char *index, char ***paths, size_t *n) {
    cJSON *root;
    xf_status st = xf_json_load(index, &root);
    if (st) return st;
    const cJSON *wm = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    const char **names = NULL;
    char **out = NULL;
    size_t cnt = 0, k = 0;
    if (!cJSON_IsObject(wm)) {
        st = xf_error(XF_ERR_FORMAT, "%s: field \"weight_map\" must be an object", index);
        goto done;
    }
    size_t total = (size_t)cJSON_GetArraySize(wm);
    if (total == 0) {
        st = xf_error(XF_ERR_FORMAT, "%s: \"weight_map\" is empty", index);
        goto done;
    }
    names = xf_calloc(total, sizeof *names);
    if (!names) {
        st = xf_error(XF_ERR_NOMEM, "%s: out of memory", index);
        goto done;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, wm) {
        if (!cJSON_IsString(e)) {
            st = xf_error(XF_ERR_FORMAT, "%s: \"weight_map\" entry \"%s\" must be a file name string", index,
                          e->string ? e->string : "");
            goto done;
        }
        if (!safe_shard_name(e->valuestring)) {
            st = xf_error(XF_ERR_FORMAT,
                          "%s: \"weight_map\" entry \"%s\" names \"%s\", which is not a plain .safetensors "
                          "file name in the folder", index, e->string ? e->string : "", e->valuestring);
            goto done;
        }
        names[cnt++] = e->valuestring;
    }
    qsort(names, cnt, sizeof *names, cmp_str);
    out = xf_calloc(cnt, sizeof *out);
    if (!out) {
        st = xf_error(XF_ERR_NOMEM, "%s: out of memory", index);
        goto done;
    }
    for (size_t i = 0; i < cnt; i++) {
        if (i && strcmp(names[i], names[i - 1]) == 0) continue;
        out[k] = xf_path_join(dir, names[i]);
        if (!out[k]) {
            st = xf_error(XF_ERR_NOMEM, "%s: out of memory", index);
            goto done;
        }
        if (!xf_is_file(out[k++])) {
            st = xf_error(XF_ERR_NOT_FOUND, "%s: shard \"%s\" listed in \"weight_map\" is missing", index,
                          names[i]);
            goto done;
        }
    }
    *paths = out;
    *n = k;
    out = NULL;

done:
    xf_hf_weight_files_free(out, k);
    free(names);
    cJSON_Delete(root);
    return st;
}

xf_status xf_hf_weight_files(const char *dir, char ***paths, size_t *n) {
    if (!paths || !n) return xf_error(XF_ERR_INVALID_ARG, "xf_hf_weight_files: NULL argument");
    *paths = NULL;
    *n = 0;
    if (!dir) return xf_error(XF_ERR_INVALID_ARG, "xf_hf_weight_files: NULL argument");
    if (!xf_is_dir(dir)) return xf_error(XF_ERR_NOT_FOUND, "%s: not a directory", dir);

    char *single = xf_path_join(dir, "model.safetensors");
    if (!single) return xf_error(XF_ERR_NOMEM, "%s: out of memory", dir);
    if (xf_is_file(single)) {
        char **out = xf_malloc(sizeof *out);
        if (!out) {
            free(single);
            return xf_error(XF_ERR_NOMEM, "%s: out of memory", dir);
        }
        out[0] = single;
        *paths = out;
        *n = 1;
        return XF_OK;
    }
    free(single);

    char *index = xf_path_join(dir, "model.safetensors.index.json");
    if (!index) return xf_error(XF_ERR_NOMEM, "%s: out of memory", dir);
    if (xf_is_file(index)) {
        xf_status st = weight_files_from_index(dir, index, paths, n);
        free(index);
        return st;
    }
    free(index);

    static const char *const other[] = {"pytorch_model.bin", "pytorch_model.bin.index.json"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        char *p = xf_path_join(dir, other[i]);
        int found = p && xf_is_file(p);
        free(p);
        if (found)
            return xf_error(XF_ERR_NOT_FOUND,
                            "%s: has %s but no model.safetensors; only .safetensors weights are supported: "
                            "convert it with `python3 scripts/convert_bin_to_safetensors.py %s`", dir,
                            other[i], dir);
    }
    return xf_error(XF_ERR_NOT_FOUND,
                    "%s: no model.safetensors or model.safetensors.index.json (only .safetensors weights "
                    "are supported)", dir);
}
