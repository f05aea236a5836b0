/* serve_rerank_api.c — TEI's POST /rerank and POST /predict under `xfmr serve`, for a model with a
 * sequence-classification head (docs/RERANK.md). The pairs are tokenized on the HTTP thread
 * ([CLS] a [SEP] b [SEP], token types 0 / 1) and their logits come from the model's worker, batched
 * with other requests (serve_embed.c). /rerank scores are sigmoid(logit), as TEI; /predict scores
 * are `xfmr classify`'s (config.json problem_type: softmax over the labels, sigmoid of each, or the
 * raw output; without it softmax, sigmoid for one output); both give the logits with "raw_scores":
 * true. Inputs longer than the
 * model takes are a 400 unless "truncate": true (then cut longest_first). */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "serve_api.h"

typedef struct {
    xf_encoding *encs;
    size_t n;
} pairs;

static void pairs_free(pairs *p) {
    for (size_t i = 0; i < p->n; i++) xf_encoding_free(&p->encs[i]);
    free(p->encs);
}

/* Encoding i of a request: a text, or the pair (a, b). -1 with a 400 set. */
static int encode(const srv_model *m, const char *a, const char *b, int truncate, const char *field, size_t i,
                  xf_encoding *e, srv_reply *r) {
    if (xf_tokenize(m->tok, a, strlen(a), b, b ? strlen(b) : 0, truncate ? m->max_len : 0, e) != XF_OK) {
        srv_error(r, 400, field, "tokenizer_error", "'%s'[%zu]: %s", field, i, xf_errmsg());
        return -1;
    }
    if (e->n > m->max_len) {
        srv_error(r, 400, field, "context_length_exceeded",
                  "'%s'[%zu] has %zu tokens with its pair, more than the model's %zu (shorten it, or send "
                  "\"truncate\": true)", field, i, e->n, m->max_len);
        return -1;
    }
    return 0;
}

/* Run the encodings through the worker into logits (n x n_labels); -1 with an error set. */
static int run(srv_model *m, pairs *p, float *logits, srv_reply *r) {
    srv_embed_job job;
    memset(&job, 0, sizeof job);
    job.encs = p->encs;
    job.n = p->n;
    job.out = logits;
    srv_embed_submit_wait(m, &job);
    if (!job.failed) return 0;
    srv_error(r, 500, NULL, "model_error", "%s", job.err);
    return -1;
}

typedef struct {
    size_t index;
    float score;
} ranked;

static int by_score(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->index < y->index ? -1 : x->index > y->index;
}

void srv_api_rerank(srv_server *s, const char *body, size_t len, srv_reply *r) {
    cJSON *req = srv_parse_body(body, len, r);
    if (!req) return;
    pairs p = {0};
    float *logits = NULL;
    ranked *rk = NULL;
    int truncate = 0, raw = 0, ret_text = 0;
    const char *query = NULL;
    srv_model *m = srv_request_model(s, req, SRV_KIND_CLS, r);
    if (!m || srv_get_bool(req, "truncate", &truncate, r) < 0 || srv_get_bool(req, "raw_scores", &raw, r) < 0 ||
        srv_get_bool(req, "return_text", &ret_text, r) < 0 || srv_get_string(req, "query", &query, r) < 0)
        goto out;
    if (m->n_labels != 1) {
        srv_error(r, 400, "model", "not_a_reranker", "the model '%s' has %zu outputs; /rerank needs a cross-encoder "
                  "with one (use /predict)", m->id, m->n_labels);
        goto out;
    }
    if (!query) {
        srv_error(r, 400, "query", "missing_field", "'query' is required: a string");
        goto out;
    }
    const cJSON *texts = cJSON_GetObjectItemCaseSensitive(req, "texts");
    if (!cJSON_IsArray(texts)) {
        srv_error(r, 400, "texts", texts ? "invalid_type" : "missing_field", "'texts' is required: an array of strings");
        goto out;
    }
    size_t n = (size_t)cJSON_GetArraySize(texts);
    if (n == 0) {
        srv_error(r, 400, "texts", "invalid_value", "'texts' is an empty array: there is nothing to rerank");
        goto out;
    }
    if (n > s->lim.max_inputs) {
        srv_error(r, 400, "texts", "too_many_inputs", "'texts' has %zu texts; at most %zu per request (--max-inputs)", n,
                  s->lim.max_inputs);
        goto out;
    }
    if (!(p.encs = calloc(n, sizeof *p.encs)) || !(logits = malloc(n * sizeof *logits)) || !(rk = malloc(n * sizeof *rk))) {
        srv_error(r, 500, NULL, "out_of_memory", "out of memory");
        goto out;
    }
    size_t i = 0;
    for (const cJSON *t = texts->child; t; t = t->next, i++) {
        if (!cJSON_IsString(t)) {
            srv_error(r, 400, "texts", "invalid_type", "'texts'[%zu] is not a string", i);
            goto out;
        }
        p.n = i + 1;
        if (encode(m, query, t->valuestring, truncate, "texts", i, &p.encs[i], r)) goto out;
    }
    if (run(m, &p, logits, r)) goto out;
    if (!raw) cli_scores(logits, n, XF_SCORE_SIGMOID); /* each its own sigmoid, as TEI */
    for (i = 0; i < n; i++) rk[i] = (ranked){i, logits[i]};
    qsort(rk, n, sizeof *rk, by_score);
    srv_buf *b = &r->body;
    srv_buf_add(b, "[", 1);
    for (i = 0; i < n; i++) {
        srv_buf_printf(b, "%s{\"index\":%zu,", i ? "," : "", rk[i].index);
        if (ret_text) {
            srv_buf_add(b, "\"text\":", 7);
            srv_json_cstr(b, cJSON_GetArrayItem(texts, (int)rk[i].index)->valuestring);
            srv_buf_add(b, ",", 1);
        }
        srv_buf_printf(b, "\"score\":%.9g}", (double)rk[i].score);
    }
    srv_buf_add(b, "]", 1);
out:
    pairs_free(&p);
    free(logits);
    free(rk);
    cJSON_Delete(req);
}

/* One /predict input: a string, or an array of one or two strings. 1 ok, 0 not of that shape. */
static int one_input(const cJSON *v, const char **a, const char **b) {
    *a = *b = NULL;
    if (cJSON_IsString(v)) return *a = v->valuestring, 1;
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    if (n < 1 || n > 2) return 0;
    for (const cJSON *e = v->child; e; e = e->next)
        if (!cJSON_IsString(e)) return 0;
    *a = v->child->valuestring;
    if (n == 2) *b = v->child->next->valuestring;
    return 1;
}

void srv_api_predict(srv_server *s, const char *body, size_t len, srv_reply *r) {
    cJSON *req = srv_parse_body(body, len, r);
    if (!req) return;
    pairs p = {0};
    float *logits = NULL;
    ranked *rk = NULL;
    int truncate = 0, raw = 0;
    srv_model *m = srv_request_model(s, req, SRV_KIND_CLS, r);
    if (!m || srv_get_bool(req, "truncate", &truncate, r) < 0 || srv_get_bool(req, "raw_scores", &raw, r) < 0) goto out;
    /* TEI's shapes: "text", ["a", "b"] (a pair), or a batch [["a"], ["a", "b"], ...]. */
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(req, "inputs");
    const char *a, *b;
    int batch = cJSON_IsArray(in) && in->child && cJSON_IsArray(in->child);
    if (!in || (!batch && !one_input(in, &a, &b))) {
        srv_error(r, 400, "inputs", in ? "invalid_type" : "missing_field",
                  "'inputs' must be a string, a pair of strings [\"a\", \"b\"], or a batch of them "
                  "[[\"a\"], [\"a\", \"b\"], ...]");
        goto out;
    }
    size_t n = batch ? (size_t)cJSON_GetArraySize(in) : 1, L = m->n_labels;
    if (n > s->lim.max_inputs) {
        srv_error(r, 400, "inputs", "too_many_inputs", "'inputs' has %zu inputs; at most %zu per request (--max-inputs)",
                  n, s->lim.max_inputs);
        goto out;
    }
    if (!(p.encs = calloc(n, sizeof *p.encs)) || !(logits = malloc(n * L * sizeof *logits)) ||
        !(rk = malloc(L * sizeof *rk))) {
        srv_error(r, 500, NULL, "out_of_memory", "out of memory");
        goto out;
    }
    const cJSON *e = batch ? in->child : in;
    for (size_t i = 0; i < n; i++, e = e->next) {
        if (!one_input(e, &a, &b)) {
            srv_error(r, 400, "inputs", "invalid_type", "'inputs'[%zu] is not [\"text\"] or a pair [\"a\", \"b\"]", i);
            goto out;
        }
        p.n = i + 1;
        if (encode(m, a, b, truncate, "inputs", i, &p.encs[i], r)) goto out;
    }
    if (run(m, &p, logits, r)) goto out;
    srv_buf *o = &r->body;
    if (batch) srv_buf_add(o, "[", 1);
    xf_score_fn fn = raw ? XF_SCORE_NONE : xf_model_score_fn(m->m); /* as `xfmr classify` */
    for (size_t i = 0; i < n; i++) {
        float *v = logits + i * L;
        cli_scores(v, L, fn);
        for (size_t j = 0; j < L; j++) rk[j] = (ranked){j, v[j]};
        qsort(rk, L, sizeof *rk, by_score);
        srv_buf_add(o, i ? ",[" : "[", i ? 2 : 1);
        for (size_t j = 0; j < L; j++) {
            const char *label = NULL;
            char name[32];
            if (xf_model_label(m->m, rk[j].index, &label) != XF_OK)
                snprintf(name, sizeof name, "LABEL_%zu", rk[j].index), label = name;
            srv_buf_printf(o, "%s{\"score\":%.9g,\"label\":", j ? "," : "", (double)rk[j].score);
            srv_json_cstr(o, label);
            srv_buf_add(o, "}", 1);
        }
        srv_buf_add(o, "]", 1);
    }
    if (batch) srv_buf_add(o, "]", 1);
out:
    pairs_free(&p);
    free(logits);
    free(rk);
    cJSON_Delete(req);
}
