/* cls_head.c — sequence-classification heads on encoders (cross-encoders / rerankers and text
 * classifiers) and the public xf_classify / xf_rerank.
 *
 * transformers' BertForSequenceClassification, on the final hidden state of the first token:
 *
 *   p      = tanh(W_pool [CLS] + b_pool)       pooler.dense  [hidden, hidden]  (BertPooler)
 *   logits = W_cls p + b_cls                   classifier    [n_labels, hidden]
 *
 * transformers' ModernBertForSequenceClassification (ModernBertPredictionHead, then the classifier):
 *
 *   x      = H[0] (config.json classifier_pooling "cls") or the mean of H over the text ("mean")
 *   p      = LayerNorm(act(W_dense x [+ b]))   head.dense [hidden, hidden] (classifier_bias), act =
 *                                              classifier_activation (default "gelu"), head.norm
 *                                              (norm_eps, a bias when norm_bias)
 *   logits = W_cls p + b_cls                   classifier
 *
 * In GGUF (llama.cpp's converter) the ModernBERT head is "cls", "cls.norm", "cls.output" and
 * <arch>.classifier.pooling_type; the file does not keep classifier_activation: "gelu" is assumed
 * (transformers' default; llama.cpp itself runs the tanh GELU and drops the norm's bias).
 *
 * Weight names: "bert.pooler.dense.*" + "classifier.*" (save_pretrained), or without the "bert."
 * prefix; in GGUF, "cls.*" (the dense + tanh step of llama.cpp's rank pooling) and "cls.output.*".
 * llama.cpp's converter drops a BERT pooler and writes only "cls.output": such a file has no dense
 * step here either (the classifier reads [CLS] directly, as llama.cpp computes it).
 * Labels: config.json "id2label" (GGUF: <arch>.classifier.output_labels). The default score
 * activation of xf_rerank is sentence-transformers CrossEncoder's: the "activation_fn" of
 * config_sentence_transformers.json (or the older config.json
 * "sbert_ce_default_activation_function"), else Sigmoid for one label, identity for more. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "io/gguf.h"
#include "kernels/ops.h"
#include "model/layers.h"
#include "model/model.h"

#define XF_CLS_BATCH 32

typedef enum { ACT_NONE = 0, ACT_SIGMOID, ACT_UNKNOWN } cls_act;
/* the dense step's activation: BERT's pooler tanh, or ModernBERT's classifier_activation */
typedef enum { DENSE_TANH = 0, DENSE_GELU_ERF, DENSE_GELU_TANH, DENSE_SILU, DENSE_RELU } dense_act;

struct xf_cls_head {
    xf_linear_w pool; /* [hidden, hidden] dense on the pooled input; w.data NULL: none */
    dense_act pool_act;
    xf_norm_w norm;   /* after the dense step (ModernBERT's head.norm); kind NONE: none */
    xf_pooling pooling; /* XF_POOL_CLS, or XF_POOL_MEAN (ModernBERT classifier_pooling "mean") */
    xf_score_fn score_fn; /* xf_model_score_fn: from config.json problem_type and n_labels */
    xf_linear_w out;  /* [n_labels, hidden] */
    size_t n_labels;
    char **labels;    /* n_labels names, or NULL when the model names none */
    cls_act act;      /* xf_rerank's default activation */
    char act_name[96];
};

void xf_cls_head_free(xf_cls_head *h) {
    if (!h) return;
    if (h->labels)
        for (size_t i = 0; i < h->n_labels; i++) free(h->labels[i]);
    free(h->labels);
    free(h);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static xf_status set_act(xf_cls_head *h, const char *name) {
    snprintf(h->act_name, sizeof h->act_name, "%s", name);
    if (strcmp(name, "torch.nn.modules.activation.Sigmoid") == 0 || strcmp(name, "torch.nn.Sigmoid") == 0)
        h->act = ACT_SIGMOID;
    else if (strcmp(name, "torch.nn.modules.linear.Identity") == 0 || strcmp(name, "torch.nn.Identity") == 0)
        h->act = ACT_NONE;
    else
        h->act = ACT_UNKNOWN; /* an error only when xf_rerank is asked to apply it */
    return XF_OK;
}

/* ModernBERT's classifier_activation (transformers' ACT2FN names). */
static xf_status set_dense_act(xf_cls_head *h, const char *file, const char *name) {
    static const struct {
        const char *name;
        dense_act act;
    } k[] = {{"gelu", DENSE_GELU_ERF}, {"gelu_pytorch_tanh", DENSE_GELU_TANH}, {"gelu_new", DENSE_GELU_TANH},
             {"silu", DENSE_SILU},     {"swish", DENSE_SILU},               {"relu", DENSE_RELU},
             {"tanh", DENSE_TANH}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (strcmp(name, k[i].name) == 0) return h->pool_act = k[i].act, XF_OK;
    return xf_error(XF_ERR_UNSUPPORTED, "%s: field \"classifier_activation\" = \"%.40s\" is not supported (gelu, "
                    "gelu_pytorch_tanh, gelu_new, silu, swish, relu, tanh)", file, name);
}

/* problem_type: how transformers' text-classification pipeline scores the logits. */
static xf_status set_problem(xf_cls_head *h, const char *file, const char *name) {
    if (strcmp(name, "single_label_classification") == 0) h->score_fn = XF_SCORE_SOFTMAX;
    else if (strcmp(name, "multi_label_classification") == 0) h->score_fn = XF_SCORE_SIGMOID;
    else if (strcmp(name, "regression") == 0) h->score_fn = XF_SCORE_NONE;
    else
        return xf_error(XF_ERR_FORMAT, "%s: field \"problem_type\" = \"%.60s\" is not single_label_classification, "
                        "multi_label_classification or regression", file, name);
    return XF_OK;
}

/* id2label {"0": "neg", ...}: every index below n_labels named once. */
static xf_status read_labels(xf_cls_head *h, const char *file, const cJSON *id2label) {
    if (!cJSON_IsObject(id2label))
        return xf_error(XF_ERR_FORMAT, "%s: field \"id2label\" must be an object {\"0\": \"label\", ...}", file);
    size_t n = (size_t)cJSON_GetArraySize(id2label);
    if (n != h->n_labels)
        return xf_error(XF_ERR_FORMAT, "%s: \"id2label\" has %zu labels but the classifier has %zu outputs", file, n,
                        h->n_labels);
    if (!(h->labels = xf_calloc(n, sizeof *h->labels))) return xf_error(XF_ERR_NOMEM, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, id2label) {
        char *end;
        unsigned long i = strtoul(e->string, &end, 10);
        if (!*e->string || *end || i >= n)
            return xf_error(XF_ERR_FORMAT, "%s: \"id2label\" key \"%.40s\" is not an index below %zu", file, e->string, n);
        if (!cJSON_IsString(e))
            return xf_error(XF_ERR_FORMAT, "%s: \"id2label\" entry \"%s\" must be a string", file, e->string);
        if (h->labels[i]) return xf_error(XF_ERR_FORMAT, "%s: \"id2label\" names index %lu twice", file, i);
        if (!(h->labels[i] = xf_strdup(e->valuestring))) return xf_error(XF_ERR_NOMEM, "out of memory");
    }
    return XF_OK;
}

/* config.json of a Hugging Face folder: labels, the CrossEncoder activation, and whether the
 * architecture promises a head (*is_seqcls). */
static xf_status read_hf_config(xf_model *m, xf_cls_head *h, int *is_seqcls) {
    char *dir = m->layout.transformer_dir[0] ? xf_path_join(m->path, m->layout.transformer_dir) : xf_strdup(m->path);
    char *file = dir ? xf_path_join(dir, "config.json") : NULL;
    free(dir);
    if (!file) return xf_error(XF_ERR_NOMEM, "out of memory");
    cJSON *root = NULL;
    xf_status st = xf_json_load(file, &root);
    if (!st) {
        const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "architectures");
        const cJSON *a0 = cJSON_IsArray(arch) ? cJSON_GetArrayItem(arch, 0) : NULL;
        *is_seqcls = cJSON_IsString(a0) && ends_with(a0->valuestring, "ForSequenceClassification");
        const char *act = NULL;
        if (h) {
            const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(root, "id2label");
            if (id2label && !cJSON_IsNull(id2label)) st = read_labels(h, file, id2label);
            if (!st) st = xf_json_str_opt(file, root, "sbert_ce_default_activation_function", &act);
            if (!st && act) st = set_act(h, act);
            const char *s = NULL;
            if (!st) st = xf_json_str_opt(file, root, "problem_type", &s);
            if (!st && s) st = set_problem(h, file, s);
            s = NULL;
            if (!st && h->norm.kind != XF_NORM_NONE) st = xf_json_str_opt(file, root, "classifier_activation", &s);
            if (!st && s) st = set_dense_act(h, file, s);
        }
    }
    cJSON_Delete(root);
    free(file);
    if (st || !h) return st;
    /* sentence-transformers >= 4 keeps the activation in the root folder's config file. */
    if (!(file = xf_path_join(m->path, "config_sentence_transformers.json"))) return xf_error(XF_ERR_NOMEM, "out of memory");
    if (xf_is_file(file) && !(st = xf_json_load(file, &root))) {
        const char *act = NULL;
        if (!(st = xf_json_str_opt(file, root, "activation_fn", &act)) && act) st = set_act(h, act);
        cJSON_Delete(root);
    }
    free(file);
    return st;
}

/* <arch>.classifier.output_labels of a GGUF file. */
static xf_status read_gguf_labels(xf_model *m, xf_cls_head *h, const xf_gguf *g) {
    const char *s;
    size_t len;
    char key[128];
    xf_status st = xf_gguf_get_str(g, "general.architecture", &s, &len);
    if (st) return st;
    snprintf(key, sizeof key, "%.*s.classifier.output_labels", (int)(len > 60 ? 60 : len), s);
    if (xf_gguf_find(g, key) < 0) return XF_OK;
    const xf_gguf_arr *a;
    if ((st = xf_gguf_get_arr(g, key, &a))) return st;
    if (xf_gguf_arr_count(a) != h->n_labels)
        return xf_error(XF_ERR_FORMAT, "%s: \"%s\" has %llu labels but the classifier has %zu outputs", m->path, key,
                        (unsigned long long)xf_gguf_arr_count(a), h->n_labels);
    if (!(h->labels = xf_calloc(h->n_labels, sizeof *h->labels))) return xf_error(XF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < h->n_labels; i++) {
        if ((st = xf_gguf_arr_str(a, i, &s, &len))) return xf_error_wrap(st, "%s: \"%s\" element %zu", m->path, key, i);
        if (!(h->labels[i] = xf_calloc(len + 1, 1))) return xf_error(XF_ERR_NOMEM, "out of memory");
        memcpy(h->labels[i], s, len);
    }
    return XF_OK;
}

static xf_status load_head(xf_model *m, xf_cls_head *h) {
    const size_t H = m->plan.hidden;
    const xf_gguf *g = xf_weight_set_gguf(m->ws);
    const char *pre = xf_weight_set_has(m->ws, "bert.pooler.dense.weight") ? "bert." : "";
    char n[96];
    snprintf(n, sizeof n, "%spooler.dense.weight", pre);
    xf_status st;
    h->pooling = XF_POOL_CLS;
    if (xf_weight_set_has(m->ws, "head.dense.weight")) { /* ModernBertForSequenceClassification */
        if (strcmp(m->cfg.model_type, "modernbert") != 0)
            return xf_error(XF_ERR_UNSUPPORTED, "a \"head.dense\" classification head (ModernBERT's) on model_type \"%s\"",
                            m->cfg.model_type);
        h->pool_act = DENSE_GELU_ERF;
        if (strcmp(m->cfg.classifier_pooling, "mean") == 0) h->pooling = XF_POOL_MEAN;
        if ((st = xf_model_get_linear(m, "head.dense", H, H, 2, &h->pool)) ||
            (st = xf_model_get_norm(m, "head.norm", XF_NORM_LAYER, xf_weight_set_has(m->ws, "head.norm.bias"), H,
                                    (float)m->cfg.layer_norm_eps, &h->norm)))
            return st;
    } else if (xf_weight_set_has(m->ws, n)) {
        snprintf(n, sizeof n, "%spooler.dense", pre);
        if ((st = xf_model_get_linear(m, n, H, H, 1, &h->pool))) return st;
    }
    if ((st = xf_model_get_linear(m, "classifier", XF_ANY, H, 1, &h->out))) return st;
    h->n_labels = h->out.w.rows;
    h->score_fn = h->n_labels == 1 ? XF_SCORE_SIGMOID : XF_SCORE_SOFTMAX;
    h->act = h->n_labels == 1 ? ACT_SIGMOID : ACT_NONE;
    snprintf(h->act_name, sizeof h->act_name, "%s", h->n_labels == 1 ? "Sigmoid" : "Identity");
    if (g) return read_gguf_labels(m, h, g);
    int is_seqcls = 0;
    return read_hf_config(m, h, &is_seqcls);
}

xf_status xf_cls_head_load(xf_model *m) {
    if (m->plan.lm_head.w.data) return XF_OK; /* decoders have their language-model head */
    if (!xf_weight_set_has(m->ws, "classifier.weight")) {
        int is_seqcls = 0;
        xf_status st = xf_weight_set_gguf(m->ws) ? XF_OK : read_hf_config(m, NULL, &is_seqcls);
        if (!st && is_seqcls)
            return xf_error(XF_ERR_FORMAT, "%s: config.json names a ...ForSequenceClassification architecture but the "
                            "weights have no \"classifier.weight\"", m->path);
        return st;
    }
    xf_cls_head *h = xf_calloc(1, sizeof *h);
    if (!h) return xf_error(XF_ERR_NOMEM, "out of memory");
    xf_status st = load_head(m, h);
    if (st) {
        xf_cls_head_free(h);
        return xf_error_wrap(st, "%s: classification head", m->path);
    }
    m->cls_head = h;
    return XF_OK;
}

int xf_cls_head_parts(const xf_model *m, const xf_linear_w **pool, const xf_linear_w **out,
                      const char *const **labels) {
    const xf_cls_head *h = m ? m->cls_head : NULL;
    if (!h) return 0;
    *pool = &h->pool;
    *out = &h->out;
    *labels = (const char *const *)h->labels;
    return 1;
}

size_t xf_model_n_labels(const xf_model *m) { return m && m->cls_head ? m->cls_head->n_labels : 0; }

xf_score_fn xf_model_score_fn(const xf_model *m) { return m && m->cls_head ? m->cls_head->score_fn : XF_SCORE_SOFTMAX; }

static xf_status need_head(const xf_model *m, const char *fn) {
    if (!m) return xf_error(XF_ERR_INVALID_ARG, "%s: model is NULL", fn);
    if (!m->cls_head)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: %s has no sequence-classification head (no \"classifier.weight\"; "
                        "a cross-encoder or classifier such as BertForSequenceClassification is needed)", fn, m->path);
    return XF_OK;
}

xf_status xf_model_label(const xf_model *m, size_t i, const char **label) {
    xf_status st = need_head(m, "xf_model_label");
    if (st) return st;
    if (!label) return xf_error(XF_ERR_INVALID_ARG, "xf_model_label: label is NULL");
    *label = NULL;
    const xf_cls_head *h = m->cls_head;
    if (i >= h->n_labels) return xf_error(XF_ERR_RANGE, "xf_model_label: label %zu of a head with %zu outputs", i, h->n_labels);
    if (!h->labels)
        return xf_error(XF_ERR_NOT_FOUND, "%s names no labels (config.json has no \"id2label\"; GGUF: no "
                        "classifier.output_labels): outputs are known by index only", m->path);
    *label = h->labels[i];
    return XF_OK;
}

/* Head over k pooled rows X [k, hidden]: logits [k, n_labels]; T [k, hidden] scratch. */
static void head_forward(xf_model *m, const xf_cls_head *h, const float *X, size_t k, float *T, float *logits) {
    if (h->pool.w.data) {
        const size_t n = k * m->plan.hidden;
        xf_linear(m->pool, &h->pool, X, k, T);
        switch (h->pool_act) {
        case DENSE_TANH: for (size_t i = 0; i < n; i++) T[i] = tanhf(T[i]); break;
        case DENSE_GELU_ERF: xf_gelu_erf(T, n); break;
        case DENSE_GELU_TANH: xf_gelu_tanh(T, n); break;
        case DENSE_SILU: for (size_t i = 0; i < n; i++) T[i] = T[i] / (1.0f + expf(-T[i])); break;
        case DENSE_RELU: for (size_t i = 0; i < n; i++) T[i] = T[i] > 0.0f ? T[i] : 0.0f; break;
        }
        if (h->norm.kind == XF_NORM_LAYER)
            xf_layernorm(T, T, h->norm.g.data, h->norm.b.data, k, m->plan.hidden, h->norm.eps);
        X = T;
    }
    xf_linear(m->pool, &h->out, X, k, logits);
}

xf_status xf_classify_encodings(xf_model *m, const xf_encoding *encs, size_t n, size_t batch_size, float *logits) {
    xf_status st = need_head(m, "xf_classify_encodings");
    if (st) return st;
    if (n && (!encs || !logits)) return xf_error(XF_ERR_INVALID_ARG, "xf_classify_encodings: NULL argument");
    const size_t H = m->plan.hidden, chunk = batch_size ? batch_size : XF_CLS_BATCH;
    const size_t rows = n < chunk ? (n ? n : 1) : chunk;
    float *X = xf_aligned_alloc(2 * rows * H * sizeof *X);
    if (!X) return xf_error(XF_ERR_NOMEM, "xf_classify_encodings: cannot allocate a batch of %zu inputs", rows);
    for (size_t a = 0; a < n && !st; a += rows) {
        size_t k = n - a < rows ? n - a : rows;
        if (!(st = xf_model_pool_encodings(m, encs + a, k, rows, m->cls_head->pooling, 0, X)))
            head_forward(m, m->cls_head, X, k, X + rows * H, logits + a * m->cls_head->n_labels);
    }
    free(X);
    return st;
}

xf_status xf_classify(xf_model *m, const char *const *texts, const char *const *pairs, size_t n, size_t batch_size,
                      float *logits) {
    xf_status st = need_head(m, "xf_classify");
    if (st) return st;
    if (n && (!texts || !logits)) return xf_error(XF_ERR_INVALID_ARG, "xf_classify: NULL argument");
    if (!m->tok)
        return xf_error(XF_ERR_NOT_FOUND, "%s: the model has no tokenizer (no tokenizer.json / tokenizer.ggml.* metadata)",
                        m->path);
    size_t chunk = batch_size ? batch_size : XF_CLS_BATCH;
    if (chunk > n) chunk = n ? n : 1;
    xf_encoding *encs = xf_calloc(chunk, sizeof *encs);
    if (!encs) return xf_error(XF_ERR_NOMEM, "xf_classify: cannot allocate a batch of %zu inputs", chunk);
    for (size_t a = 0; a < n && !st; a += chunk) {
        size_t k = n - a < chunk ? n - a : chunk, done = 0;
        for (; done < k; done++) {
            const char *t = texts[a + done], *p = pairs ? pairs[a + done] : NULL;
            if (!t) {
                st = xf_error(XF_ERR_INVALID_ARG, "xf_classify: text %zu is NULL", a + done);
                break;
            }
            if ((st = xf_tokenize(m->tok, t, strlen(t), p, p ? strlen(p) : 0, m->max_length, &encs[done]))) break;
        }
        if (!st) st = xf_classify_encodings(m, encs, k, chunk, logits + a * m->cls_head->n_labels);
        for (size_t i = 0; i < done; i++) xf_encoding_free(&encs[i]);
    }
    free(encs);
    return st;
}

xf_status xf_rerank(xf_model *m, const char *query, const char *const *docs, size_t n_docs, size_t batch_size, int raw,
                    float *scores) {
    xf_status st = need_head(m, "xf_rerank");
    if (st) return st;
    const xf_cls_head *h = m->cls_head;
    if (h->n_labels != 1)
        return xf_error(XF_ERR_UNSUPPORTED, "xf_rerank: %s has %zu outputs; reranking needs a model with one (a "
                        "cross-encoder, num_labels 1); use xf_classify", m->path, h->n_labels);
    if (!query) return xf_error(XF_ERR_INVALID_ARG, "xf_rerank: query is NULL");
    if (n_docs == 0) return xf_error(XF_ERR_INVALID_ARG, "xf_rerank: no documents to rerank");
    if (!docs || !scores) return xf_error(XF_ERR_INVALID_ARG, "xf_rerank: NULL argument");
    if (!raw && h->act == ACT_UNKNOWN)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: the CrossEncoder activation_fn \"%s\" is not supported (Sigmoid and "
                        "Identity are); ask for raw scores", m->path, h->act_name);
    const char **q = xf_calloc(n_docs, sizeof *q);
    if (!q) return xf_error(XF_ERR_NOMEM, "xf_rerank: out of memory");
    for (size_t i = 0; i < n_docs; i++) q[i] = query;
    for (size_t i = 0; i < n_docs && !st; i++)
        if (!docs[i]) st = xf_error(XF_ERR_INVALID_ARG, "xf_rerank: document %zu is NULL", i);
    if (!st) st = xf_classify(m, q, docs, n_docs, batch_size, scores);
    free(q);
    if (!st && !raw && h->act == ACT_SIGMOID)
        for (size_t i = 0; i < n_docs; i++) scores[i] = 1.0f / (1.0f + expf(-scores[i]));
    return st;
}
