/* serve_api.c — requests of `xfmr serve` independent of HTTP: routing by method and path,
 * OpenAI-shaped errors, the model list, TEI's /health and /info, Prometheus /metrics, and the
 * text buffer and JSON writing helpers the endpoints share (serve_embed_api.c for embeddings and
 * tokenization, serve_gen_api.c for chat and completions). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* POLLRDHUP */
#endif

#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "serve.h"
#include "serve_api.h"

const char *const srv_endpoint_names[SRV_EP_COUNT] = {
    "/v1/embeddings", "/v1/chat/completions", "/v1/completions", "/v1/models", "/embed",
    "/tokenize", "/health", "/info", "/rerank", "/metrics", "/predict", "/v1/search", "other"};

int srv_buf_printf(srv_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return -1;
    if ((size_t)k < sizeof tmp) return srv_buf_add(b, tmp, (size_t)k);
    char *big = malloc((size_t)k + 1);
    if (!big) return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)k + 1, fmt, ap);
    va_end(ap);
    int rc = srv_buf_add(b, big, (size_t)k);
    free(big);
    return rc;
}

void srv_buf_free(srv_buf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

void srv_json_str(srv_buf *b, const char *s, size_t n) {
    srv_buf_add(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        srv_buf_add(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': srv_buf_add(b, "\\\"", 2); break;
        case '\\': srv_buf_add(b, "\\\\", 2); break;
        case '\n': srv_buf_add(b, "\\n", 2); break;
        case '\r': srv_buf_add(b, "\\r", 2); break;
        case '\t': srv_buf_add(b, "\\t", 2); break;
        default: srv_buf_printf(b, "\\u%04x", c); break;
        }
    }
    srv_buf_add(b, s + run, n - run);
    srv_buf_add(b, "\"", 1);
}

void srv_json_cstr(srv_buf *b, const char *s) {
    if (!s)
        srv_buf_add(b, "null", 4);
    else
        srv_json_str(b, s, strlen(s));
}

void srv_error(srv_reply *r, int status, const char *param, const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *type = status == 401 ? "authentication_error"
                       : status == 404 && code && !strcmp(code, "model_not_found") ? "invalid_request_error"
                       : status == 404 ? "not_found_error"
                       : status == 429 || status == 503 ? "server_busy"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    r->status = status;
    r->content_type = "application/json";
    r->body.n = 0;
    srv_buf_add(&r->body, "{\"error\":{\"message\":", 20);
    srv_json_cstr(&r->body, msg);
    srv_buf_add(&r->body, ",\"type\":", 8);
    srv_json_cstr(&r->body, type);
    srv_buf_add(&r->body, ",\"param\":", 9);
    srv_json_cstr(&r->body, param);
    srv_buf_add(&r->body, ",\"code\":", 8);
    srv_json_cstr(&r->body, code);
    srv_buf_add(&r->body, "}}", 2);
}

void srv_reply_free(srv_reply *r) {
    srv_buf_free(&r->body);
    if (r->stream) srv_gen_release(r->stream_model, r->stream);
    r->stream = NULL;
}

int srv_client_gone(int fd) {
    if (fd < 0) return 0;
    struct pollfd p = {fd, POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return 1;
    return 0;
}

srv_model *srv_find_model(srv_server *s, const char *name, int want_kind) {
    for (size_t k = 0; k < s->n_models; k++) {
        srv_model *m = &s->models[k];
        if (name && strcmp(name, m->id) && strcmp(name, m->path)) continue;
        if (!name && want_kind >= 0 && srv_kind(m) != want_kind) continue;
        return m;
    }
    return NULL;
}

/* ------------------------------------------------------------ request fields */

cJSON *srv_parse_body(const char *body, size_t len, srv_reply *r) {
    if (len == 0) {
        srv_error(r, 400, NULL, "invalid_json", "the request has no body: expected a JSON object");
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!j) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        srv_error(r, 400, NULL, "invalid_json", "the body is not valid JSON (error near byte %zu)", at);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        srv_error(r, 400, NULL, "invalid_json", "the body must be a JSON object");
        return NULL;
    }
    return j;
}

int srv_get_string(const cJSON *o, const char *name, const char **out, srv_reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v)) {
        srv_error(r, 400, name, "invalid_type", "'%s' must be a string", name);
        return -1;
    }
    *out = v->valuestring;
    return 1;
}

int srv_get_number(const cJSON *o, const char *name, double lo, double hi, int integer, double *out,
                   srv_reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v)) {
        srv_error(r, 400, name, "invalid_type", "'%s' must be a number", name);
        return -1;
    }
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || (integer && d != (double)(long long)d)) {
        srv_error(r, 400, name, "invalid_value", "'%s' is %g: expected %s from %g to %g", name, d,
                  integer ? "an integer" : "a number", lo, hi);
        return -1;
    }
    *out = d;
    return 1;
}

int srv_get_bool(const cJSON *o, const char *name, int *out, srv_reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v)) {
        srv_error(r, 400, name, "invalid_type", "'%s' must be true or false", name);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 1;
}

/* The model of a request: "model" when given (it must be served), else the first one of the
 * kind. NULL with the error set. */
static const char *kind_name(int kind) {
    return kind == SRV_KIND_GEN ? "a decoder (generation)" : kind == SRV_KIND_CLS
        ? "a cross-encoder / classifier (/rerank, /predict)" : "an embedding model";
}

srv_model *srv_request_model(srv_server *s, const cJSON *req, int want_kind, srv_reply *r) {
    const char *name = NULL;
    if (req && srv_get_string(req, "model", &name, r) < 0) return NULL;
    srv_model *m = srv_find_model(s, name, name ? -1 : want_kind);
    if (!m) {
        if (name)
            srv_error(r, 404, "model", "model_not_found", "the model '%s' is not served here (GET /v1/models lists them)",
                      name);
        else
            srv_error(r, 400, "model", "model_not_found", "no %s is served here", want_kind == SRV_KIND_GEN
                      ? "decoder (generation) model" : want_kind == SRV_KIND_CLS
                      ? "cross-encoder / classifier (a model with a sequence-classification head)" : "embedding model");
        return NULL;
    }
    if (want_kind >= 0 && srv_kind(m) != want_kind) {
        srv_error(r, 400, "model", "wrong_model_kind", "the model '%s' is %s: this endpoint needs %s", m->id,
                  kind_name(srv_kind(m)), kind_name(want_kind));
        return NULL;
    }
    return m;
}

/* ------------------------------------------------------------ small endpoints */

static void models_list(srv_server *s, srv_reply *r) {
    srv_buf *b = &r->body;
    srv_buf_add(b, "{\"object\":\"list\",\"data\":[", 25);
    for (size_t k = 0; k < s->n_models; k++) {
        const srv_model *m = &s->models[k];
        if (k) srv_buf_add(b, ",", 1);
        srv_buf_add(b, "{\"id\":", 6);
        srv_json_cstr(b, m->id);
        srv_buf_printf(b, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"xfmr\",\"kind\":\"%s\"",
                       (long)s->t_start, m->decoder ? "generation" : m->n_labels ? "classifier" : "embedding");
        if (m->decoder) {
            const xf_session_params *kv = &s->kv; /* the policy name: one the library knew at start */
            srv_buf_printf(b, ",\"context_length\":%zu,\"kv_cache\":{\"type\":\"%s\",\"policy\":\"%s\","
                              "\"budget\":%zu,\"quest\":%zu,\"prefix_cache\":%s}",
                           m->n_ctx, cli_kv_type_name(kv->kv_type), kv->kv_policy ? kv->kv_policy : "keep-all",
                           kv->kv_budget, kv->quest_budget,
                           m->share_prefix && !s->lim.no_prefix_cache ? "true" : "false");
        } else if (m->n_labels)
            srv_buf_printf(b, ",\"labels\":%zu,\"max_input_tokens\":%zu", m->n_labels, m->max_len);
        else
            srv_buf_printf(b, ",\"dimensions\":%zu,\"max_input_tokens\":%zu", m->dim, m->max_len);
        srv_buf_add(b, "}", 1);
    }
    srv_buf_add(b, "]}", 2);
}

static void info(srv_server *s, srv_reply *r) {
    srv_model *m = srv_find_model(s, NULL, SRV_KIND_EMBED);
    if (!m) m = &s->models[0];
    srv_buf *b = &r->body;
    srv_buf_add(b, "{\"model_id\":", 12);
    srv_json_cstr(b, m->id);
    srv_buf_add(b, ",\"model_path\":", 14);
    srv_json_cstr(b, m->path);
    srv_buf_printf(b, ",\"model_type\":{\"%s\":{}},\"max_input_length\":%zu,\"max_concurrent_requests\":%zu,"
                      "\"max_batch_requests\":%zu,\"max_client_batch_size\":%zu,\"version\":\"%s\",\"models\":[",
                   m->decoder ? "generation" : m->n_labels == 1 ? "reranker" : m->n_labels ? "classifier" : "embedding",
                   m->decoder ? m->n_ctx : m->max_len,
                   s->lim.max_connections, s->lim.batch_texts, s->lim.max_inputs, XFMR_VERSION);
    for (size_t k = 0; k < s->n_models; k++) {
        if (k) srv_buf_add(b, ",", 1);
        srv_json_cstr(b, s->models[k].id);
    }
    srv_buf_add(b, "],\"indexes\":[", 13);
    for (size_t k = 0; k < s->n_stores; k++) {
        srv_buf_add(b, k ? ",{\"id\":" : "{\"id\":", k ? 7 : 6);
        srv_json_cstr(b, s->stores[k].id);
        srv_buf_add(b, ",\"model\":", 9);
        srv_json_cstr(b, s->stores[k].model->id);
        srv_buf_printf(b, ",\"chunks\":%zu}", s->stores[k].n_chunks);
    }
    srv_buf_add(b, "]}", 2);
}

static void metrics(srv_server *s, srv_reply *r) {
    srv_buf *b = &r->body;
    r->content_type = "text/plain; version=0.0.4";
    srv_buf_printf(b, "# HELP xfmr_requests_total HTTP requests by endpoint and status class.\n"
                      "# TYPE xfmr_requests_total counter\n");
    for (int e = 0; e < SRV_EP_COUNT; e++) {
        unsigned long t = atomic_load(&s->req_total[e]), c4 = atomic_load(&s->req_4xx[e]),
                      c5 = atomic_load(&s->req_5xx[e]);
        srv_buf_printf(b, "xfmr_requests_total{endpoint=\"%s\",status=\"2xx\"} %lu\n", srv_endpoint_names[e],
                       t - c4 - c5);
        srv_buf_printf(b, "xfmr_requests_total{endpoint=\"%s\",status=\"4xx\"} %lu\n", srv_endpoint_names[e], c4);
        srv_buf_printf(b, "xfmr_requests_total{endpoint=\"%s\",status=\"5xx\"} %lu\n", srv_endpoint_names[e], c5);
    }
    srv_buf_printf(b, "# HELP xfmr_request_seconds_sum Time spent answering requests, by endpoint.\n"
                      "# TYPE xfmr_request_seconds_sum counter\n");
    for (int e = 0; e < SRV_EP_COUNT; e++)
        srv_buf_printf(b, "xfmr_request_seconds_sum{endpoint=\"%s\"} %.6f\n", srv_endpoint_names[e],
                       (double)atomic_load(&s->lat_us_sum[e]) * 1e-6);
    srv_buf_printf(b, "# HELP xfmr_requests_cancelled_total Generations stopped because the client went away.\n"
                      "# TYPE xfmr_requests_cancelled_total counter\nxfmr_requests_cancelled_total %lu\n",
                   (unsigned long)atomic_load(&s->req_cancelled));
    srv_buf_printf(b, "# HELP xfmr_requests_in_flight Requests being answered now.\n"
                      "# TYPE xfmr_requests_in_flight gauge\nxfmr_requests_in_flight %ld\n",
                   (long)atomic_load(&s->inflight));
    static const char *const names[5][2] = {
        {"xfmr_batches_total", "Forward passes run by the model's worker (embedding batches, decode steps)."},
        {"xfmr_batched_items_total", "Texts (embedding) or sessions (decode) in those passes."},
        {"xfmr_prompt_tokens_total", "Input tokens run through the model."},
        {"xfmr_generated_tokens_total", "Tokens sampled."},
        {"xfmr_prompt_tokens_shared_total", "Prompt tokens copied from a prompt another request shared (prefix cache)."}};
    for (int q = 0; q < 5; q++) {
        srv_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", names[q][0], names[q][1], names[q][0]);
        for (size_t k = 0; k < s->n_models; k++) {
            srv_model *m = &s->models[k];
            atomic_ulong *c = q == 0 ? &m->n_batches : q == 1 ? &m->n_batched_items : q == 2 ? &m->n_tokens_in
                            : q == 3 ? &m->n_tokens_out : &m->n_tokens_cached;
            srv_buf_printf(b, "%s{model=\"%s\"} %lu\n", names[q][0], m->id, (unsigned long)atomic_load(c));
        }
    }
    srv_buf_printf(b, "# HELP xfmr_kv_cache_bytes KV cache the generation sessions hold (--kv-type, --kv-policy).\n"
                      "# TYPE xfmr_kv_cache_bytes gauge\n");
    for (size_t k = 0; k < s->n_models; k++)
        if (s->models[k].decoder)
            srv_buf_printf(b, "xfmr_kv_cache_bytes{model=\"%s\"} %lu\n", s->models[k].id,
                           (unsigned long)atomic_load(&s->models[k].kv_bytes));
    srv_buf_printf(b, "# HELP xfmr_queue_depth Requests waiting for the model.\n# TYPE xfmr_queue_depth gauge\n");
    for (size_t k = 0; k < s->n_models; k++) {
        srv_model *m = &s->models[k];
        pthread_mutex_lock(&m->mu);
        size_t q = m->queued, a = m->active;
        pthread_mutex_unlock(&m->mu);
        srv_buf_printf(b, "xfmr_queue_depth{model=\"%s\"} %zu\nxfmr_active{model=\"%s\"} %zu\n", m->id, q, m->id, a);
    }
    srv_buf_printf(b, "# HELP xfmr_uptime_seconds Seconds since the server started.\n# TYPE xfmr_uptime_seconds gauge\n"
                      "xfmr_uptime_seconds %.3f\n", cli_now() - s->t_start_mono);
}

/* ------------------------------------------------------------ routing */

int srv_handle(srv_server *s, const char *method, const char *url, const char *body, size_t len,
               int client_fd, srv_reply *r) {
    r->status = 200;
    r->content_type = "application/json";
    size_t plen = strcspn(url, "?");
    static const struct {
        const char *path;
        int ep, post;
    } routes[] = {{"/v1/embeddings", SRV_EP_EMBEDDINGS, 1}, {"/embeddings", SRV_EP_EMBEDDINGS, 1},
                  {"/v1/chat/completions", SRV_EP_CHAT, 1}, {"/chat/completions", SRV_EP_CHAT, 1},
                  {"/v1/completions", SRV_EP_COMPLETIONS, 1}, {"/completions", SRV_EP_COMPLETIONS, 1},
                  {"/v1/models", SRV_EP_MODELS, 0}, {"/models", SRV_EP_MODELS, 0},
                  {"/embed", SRV_EP_EMBED, 1}, {"/tokenize", SRV_EP_TOKENIZE, 1},
                  {"/health", SRV_EP_HEALTH, 0}, {"/info", SRV_EP_INFO, 0},
                  {"/rerank", SRV_EP_RERANK, 1}, {"/metrics", SRV_EP_METRICS, 0}, {"/predict", SRV_EP_PREDICT, 1},
                  {"/v1/search", SRV_EP_SEARCH, 1}, {"/search", SRV_EP_SEARCH, 1}};
    int ep = SRV_EP_OTHER, want_post = 0;
    for (size_t k = 0; k < sizeof routes / sizeof routes[0]; k++)
        if (strlen(routes[k].path) == plen && !strncmp(url, routes[k].path, plen)) {
            ep = routes[k].ep;
            want_post = routes[k].post;
        }
    if (ep == SRV_EP_OTHER) {
        srv_error(r, 404, NULL, "not_found", "no endpoint %.*s (see docs/SERVE.md: /v1/embeddings, "
                  "/v1/chat/completions, /v1/completions, /v1/models, /v1/search, /embed, /rerank, /predict, /tokenize, "
                  "/health, /info, /metrics)", (int)(plen > 200 ? 200 : plen), url);
        return ep;
    }
    int is_post = !strcmp(method, "POST");
    if (is_post != want_post && !(!want_post && !strcmp(method, "HEAD"))) {
        srv_error(r, 405, NULL, "method_not_allowed", "%s takes %s, not %s", srv_endpoint_names[ep],
                  want_post ? "POST" : "GET", method);
        return ep;
    }
    if (atomic_load(&s->shutting_down) && ep != SRV_EP_METRICS && ep != SRV_EP_MODELS && ep != SRV_EP_INFO) {
        srv_error(r, 503, NULL, "shutting_down", "the server is shutting down");
        return ep;
    }
    const int embeds = ep == SRV_EP_EMBEDDINGS || ep == SRV_EP_EMBED || ep == SRV_EP_SEARCH || ep == SRV_EP_RERANK ||
                       ep == SRV_EP_PREDICT;
    if (embeds) atomic_fetch_add(&s->embed_inflight, 1);
    switch (ep) {
    case SRV_EP_EMBEDDINGS: srv_api_embeddings(s, body, len, r, 0); break;
    case SRV_EP_EMBED: srv_api_embeddings(s, body, len, r, 1); break;
    case SRV_EP_TOKENIZE: srv_api_tokenize(s, body, len, r); break;
    case SRV_EP_CHAT: srv_api_generate(s, body, len, client_fd, r, 1); break;
    case SRV_EP_COMPLETIONS: srv_api_generate(s, body, len, client_fd, r, 0); break;
    case SRV_EP_MODELS: models_list(s, r); break;
    case SRV_EP_HEALTH: r->content_type = "text/plain"; srv_buf_add(&r->body, "", 0); break;
    case SRV_EP_INFO: info(s, r); break;
    case SRV_EP_METRICS: metrics(s, r); break;
    case SRV_EP_RERANK: srv_api_rerank(s, body, len, r); break;
    case SRV_EP_PREDICT: srv_api_predict(s, body, len, r); break;
    case SRV_EP_SEARCH: srv_api_search(s, body, len, r); break;
    }
    if (embeds) atomic_fetch_sub(&s->embed_inflight, 1);
    return ep;
}
