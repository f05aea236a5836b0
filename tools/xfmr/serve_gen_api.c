/* serve_gen_api.c — OpenAI's POST /v1/chat/completions and POST /v1/completions under
 * `xfmr serve`: the request is checked, the chat rendered with the model's template and
 * tokenized as `xfmr generate` does (gen.c), and the job handed to the decoder's worker
 * (serve_gen.c); the answer is one JSON object, or server-sent events with "stream": true. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve_api.h"

static atomic_ulong g_req_counter;

/* Wait on the model's done_cv (m->mu held) for news, or 100 ms (to check the client). */
static void wait_a_little(srv_model *m) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&m->done_cv, &m->mu, &ts);
}

static uint64_t request_seed(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (atomic_fetch_add(&g_req_counter, 1) << 40);
    x ^= x >> 33; /* splitmix-style finish */
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x & 0xffffffffULL;
}

/* messages with OpenAI content parts ([{"type":"text","text":...}]) joined into strings, as
 * the templates expect text. Returns the JSON text (malloc'ed) or NULL with r set. */
static char *messages_json(const cJSON *msgs, srv_reply *r) {
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0) {
        srv_error(r, 400, "messages", msgs ? "invalid_type" : "missing_field",
                  "'messages' must be a non-empty array of {\"role\", \"content\"} objects");
        return NULL;
    }
    cJSON *copy = cJSON_Duplicate(msgs, 1);
    if (!copy) {
        srv_error(r, 500, NULL, "out_of_memory", "out of memory");
        return NULL;
    }
    size_t i = 0;
    for (cJSON *m = copy->child; m; m = m->next, i++) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
            srv_error(r, 400, "messages", "invalid_type", "'messages'[%zu] must be an object with a string \"role\"", i);
            cJSON_Delete(copy);
            return NULL;
        }
        cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsArray(content)) {
            srv_buf t = {0};
            for (const cJSON *p = content->child; p; p = p->next) {
                const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type"),
                            *text = cJSON_GetObjectItemCaseSensitive(p, "text");
                if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text)) {
                    srv_error(r, 400, "messages", "unsupported_content",
                              "'messages'[%zu].content: only parts {\"type\": \"text\", \"text\": ...} are supported", i);
                    srv_buf_free(&t);
                    cJSON_Delete(copy);
                    return NULL;
                }
                srv_buf_add(&t, text->valuestring, strlen(text->valuestring));
            }
            cJSON_ReplaceItemInObjectCaseSensitive(m, "content", cJSON_CreateString(t.s ? t.s : ""));
            srv_buf_free(&t);
        } else if (content && !cJSON_IsString(content) && !cJSON_IsNull(content)) {
            srv_error(r, 400, "messages", "invalid_type", "'messages'[%zu].content must be a string or text parts", i);
            cJSON_Delete(copy);
            return NULL;
        }
    }
    char *out = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    if (!out) srv_error(r, 500, NULL, "out_of_memory", "out of memory");
    return out;
}

/* The prompt ids: a rendered chat, or the prompt text. 0, or -1 with r set. */
static int prompt_ids(srv_model *m, const cJSON *req, int chat, srv_gen_job *j, srv_reply *r) {
    char *text = NULL;
    size_t len = 0;
    int strip_bos = 0;
    if (chat) {
        if (!m->tmpl) {
            srv_error(r, 400, "model", "no_chat_template",
                      "the model '%s' has no chat template: use /v1/completions", m->id);
            return -1;
        }
        char *msgs = messages_json(cJSON_GetObjectItemCaseSensitive(req, "messages"), r);
        if (!msgs) return -1;
        pthread_mutex_lock(&m->tmpl_mu);
        xf_status st = xf_chat_render_json(m->tmpl, msgs, NULL, 1, &text, &len);
        if (st != XF_OK) srv_error(r, 400, "messages", "chat_template_error", "%s", xf_errmsg());
        pthread_mutex_unlock(&m->tmpl_mu);
        cJSON_free(msgs);
        if (st != XF_OK) return -1;
        strip_bos = xf_chat_template_adds_bos(m->tmpl);
    } else {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "prompt");
        if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(p->child)) p = p->child;
        if (!cJSON_IsString(p)) {
            srv_error(r, 400, "prompt", p ? "invalid_type" : "missing_field",
                      "'prompt' must be a string (or an array of one string)");
            return -1;
        }
        text = strdup(p->valuestring);
        if (!text) {
            srv_error(r, 500, NULL, "out_of_memory", "out of memory");
            return -1;
        }
        len = strlen(text);
    }
    int rc = cli_encode_prompt(m->tok, text, len, strip_bos, &j->ids, &j->n_ids);
    free(text);
    if (rc) {
        srv_error(r, 400, chat ? "messages" : "prompt", "tokenizer_error", "%s", xf_errmsg());
        return -1;
    }
    if (j->n_ids == 0) {
        srv_error(r, 400, chat ? "messages" : "prompt", "invalid_value", "the prompt is empty (no tokens)");
        return -1;
    }
    if (j->n_ids >= m->n_ctx) {
        srv_error(r, 400, chat ? "messages" : "prompt", "context_length_exceeded",
                  "the prompt has %zu tokens: it does not fit the context of %zu tokens", j->n_ids, m->n_ctx);
        return -1;
    }
    return 0;
}

static int add_stop(srv_gen_job *j, const char *s, srv_reply *r) {
    if (!s[0]) return 0;
    if (j->n_stops == SRV_MAX_STOPS) {
        srv_error(r, 400, "stop", "invalid_value", "too many stop strings (at most %d)", SRV_MAX_STOPS - 8);
        return -1;
    }
    j->stops[j->n_stops] = strdup(s);
    if (!j->stops[j->n_stops]) {
        srv_error(r, 500, NULL, "out_of_memory", "out of memory");
        return -1;
    }
    j->n_stops++;
    return 0;
}

/* Sampling, length and stops of the request. */
static int read_params(srv_server *s, srv_model *m, const cJSON *req, int chat, srv_gen_job *j, srv_reply *r) {
    double v;
    int rc;
    j->sp = m->sp;
    if ((rc = srv_get_number(req, "temperature", 0, 100, 0, &v, r)) < 0) return -1;
    if (rc) j->sp.temperature = (float)v;
    if ((rc = srv_get_number(req, "top_p", 0, 1, 0, &v, r)) < 0) return -1;
    if (rc) j->sp.top_p = v > 0 ? (float)v : 1e-9f;
    if ((rc = srv_get_number(req, "top_k", -1, 2147483647.0, 1, &v, r)) < 0) return -1;
    if (rc) j->sp.top_k = v < 0 ? 0 : (int32_t)v;
    if ((rc = srv_get_number(req, "min_p", 0, 1, 0, &v, r)) < 0) return -1;
    if (rc) j->sp.min_p = (float)v;
    if ((rc = srv_get_number(req, "repetition_penalty", 1e-6, 100, 0, &v, r)) < 0) return -1;
    if (rc) j->sp.repetition_penalty = (float)v;
    if ((rc = srv_get_number(req, "presence_penalty", -2, 2, 0, &v, r)) < 0) return -1;
    if (rc) j->sp.presence_penalty = (float)v;
    if ((rc = srv_get_number(req, "frequency_penalty", -2, 2, 0, &v, r)) < 0) return -1;
    if (rc) j->sp.frequency_penalty = (float)v;
    if ((rc = srv_get_number(req, "seed", -9.2e18, 9.2e18, 1, &v, r)) < 0) return -1;
    j->sp.seed = rc ? (uint64_t)(long long)v : request_seed();
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(req, "logprobs");
    if (lp && !cJSON_IsNull(lp) && !cJSON_IsFalse(lp) && !(cJSON_IsNumber(lp) && lp->valuedouble == 0)) {
        srv_error(r, 400, "logprobs", "unsupported_value", "'logprobs' is not supported");
        return -1;
    }
    xf_sampler *tmp = NULL;
    if (xf_sampler_create(&j->sp, 2, &tmp) != XF_OK) {
        srv_error(r, 400, NULL, "invalid_value", "%s", xf_errmsg());
        return -1;
    }
    xf_sampler_free(tmp);
    /* Length: max_tokens (or max_completion_tokens), at most --max-tokens and the context left. */
    size_t room = m->n_ctx - j->n_ids;
    rc = srv_get_number(req, "max_completion_tokens", 1, 1e9, 1, &v, r);
    if (rc == 0) rc = srv_get_number(req, "max_tokens", 1, 1e9, 1, &v, r);
    if (rc < 0) return -1;
    if (rc && v > (double)s->lim.max_tokens) {
        srv_error(r, 400, "max_tokens", "invalid_value", "'max_tokens' is %.0f: at most %zu here (--max-tokens)", v,
                  s->lim.max_tokens);
        return -1;
    }
    j->max_tokens = rc ? (size_t)v : s->lim.default_tokens;
    if (j->max_tokens > room) j->max_tokens = room;
    /* Stops: the request's strings, the end-of-sequence id, and for chats the template's. */
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(req, "stop");
    if (cJSON_IsString(st)) {
        if (add_stop(j, st->valuestring, r)) return -1;
    } else if (cJSON_IsArray(st)) {
        if (cJSON_GetArraySize(st) > 8) {
            srv_error(r, 400, "stop", "invalid_value", "'stop' has %d strings: at most 8", cJSON_GetArraySize(st));
            return -1;
        }
        for (const cJSON *e = st->child; e; e = e->next) {
            if (!cJSON_IsString(e)) {
                srv_error(r, 400, "stop", "invalid_type", "'stop' must be a string or an array of strings");
                return -1;
            }
            if (add_stop(j, e->valuestring, r)) return -1;
        }
    } else if (st && !cJSON_IsNull(st)) {
        srv_error(r, 400, "stop", "invalid_type", "'stop' must be a string or an array of strings");
        return -1;
    }
    if (m->eos >= 0) j->stop_ids[j->n_stop_ids++] = m->eos;
    if (chat && m->tmpl) {
        size_t n;
        const char *const *ts = xf_chat_template_stops(m->tmpl, &n);
        for (size_t k = 0; k < n; k++) {
            int32_t id = xf_tokenizer_token_to_id(m->tok, ts[k]);
            if (id >= 0 && j->n_stop_ids < SRV_MAX_STOPS + 1) j->stop_ids[j->n_stop_ids++] = id;
            if (j->n_stops < SRV_MAX_STOPS && add_stop(j, ts[k], r)) return -1;
        }
    }
    return 0;
}

static void put_usage(srv_buf *b, size_t prompt, size_t completion) {
    srv_buf_printf(b, "\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%zu,\"total_tokens\":%zu}", prompt,
                   completion, prompt + completion);
}

static void put_head(srv_buf *b, const char *id, const char *object, long created, const char *model) {
    srv_buf_printf(b, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%ld,\"model\":", id, object, created);
    srv_json_cstr(b, model);
    srv_buf_printf(b, ",\"system_fingerprint\":\"xfmr-%s\",", XFMR_VERSION);
}

/* A copy of a prepared job for another choice of the same request (its own seed). */
static srv_gen_job *job_clone(const srv_gen_job *j, uint64_t seed) {
    srv_gen_job *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->ids = malloc(j->n_ids * sizeof *c->ids);
    if (!c->ids) {
        free(c);
        return NULL;
    }
    memcpy(c->ids, j->ids, j->n_ids * sizeof *c->ids);
    c->n_ids = j->n_ids;
    c->sp = j->sp;
    c->sp.seed = seed;
    c->max_tokens = j->max_tokens;
    for (size_t k = 0; k < j->n_stops; k++) {
        c->stops[k] = strdup(j->stops[k]);
        if (!c->stops[k]) {
            srv_gen_job_free(c);
            return NULL;
        }
        c->n_stops = k + 1;
    }
    memcpy(c->stop_ids, j->stop_ids, sizeof c->stop_ids);
    c->n_stop_ids = j->n_stop_ids;
    c->deadline = j->deadline;
    c->refs = 1;
    return c;
}

#define SRV_MAX_N 8 /* choices per request ("n") */

void srv_api_generate(srv_server *s, const char *body, size_t len, int client_fd, srv_reply *r, int chat) {
    cJSON *req = srv_parse_body(body, len, r);
    if (!req) return;
    srv_gen_job *jobs[SRV_MAX_N] = {NULL};
    size_t n = 1, submitted = 0;
    jobs[0] = calloc(1, sizeof *jobs[0]);
    srv_gen_job *j = jobs[0];
    srv_model *m = srv_request_model(s, req, 1, r);
    int stream = 0, include_usage = 0;
    double nv = 1;
    if (!j) {
        srv_error(r, 500, NULL, "out_of_memory", "out of memory");
        goto fail;
    }
    j->refs = 1;
    if (!m || srv_get_bool(req, "stream", &stream, r) < 0 ||
        srv_get_number(req, "n", 1, SRV_MAX_N, 1, &nv, r) < 0)
        goto fail;
    n = (size_t)nv;
    if (n > 1 && stream) {
        srv_error(r, 400, "n", "unsupported_value", "'n' above 1 is supported without streaming only");
        goto fail;
    }
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(req, "stream_options");
    if (so && cJSON_IsObject(so) && srv_get_bool(so, "include_usage", &include_usage, r) < 0) goto fail;
    if (prompt_ids(m, req, chat, j, r) || read_params(s, m, req, chat, j, r)) goto fail;
    j->deadline = cli_now() + s->lim.timeout;
    for (size_t c = 1; c < n; c++) /* choice c samples with seed + c */
        if (!(jobs[c] = job_clone(j, j->sp.seed + c))) {
            srv_error(r, 500, NULL, "out_of_memory", "out of memory");
            goto fail;
        }
    for (; submitted < n; submitted++)
        if (srv_gen_submit(m, jobs[submitted])) {
            srv_error(r, 503, NULL, "queue_full", "the model '%s' has %zu requests waiting already (--max-queue); retry later",
                      m->id, s->lim.max_queue);
            goto fail;
        }
    cJSON_Delete(req);
    req = NULL;
    long created = (long)time(NULL);
    char id[48];
    snprintf(id, sizeof id, "%s-%lx%05lx", chat ? "chatcmpl" : "cmpl", (unsigned long)created,
             (unsigned long)(atomic_fetch_add(&g_req_counter, 1) & 0xfffff));
    if (stream) {
        r->stream = j;
        r->stream_model = m;
        r->stream_chat = chat;
        snprintf(r->stream_id, sizeof r->stream_id, "%s", id);
        r->created = created;
        r->n_prompt = j->n_ids;
        r->include_usage = include_usage;
        r->content_type = "text/event-stream";
        return;
    }
    /* Wait for the whole answer(s), noticing a client that hangs up. */
    pthread_mutex_lock(&m->mu);
    for (size_t c = 0; c < n; c++)
        while (!jobs[c]->finished) {
            wait_a_little(m);
            if (!jobs[c]->finished && !jobs[c]->cancelled && srv_client_gone(client_fd)) {
                for (size_t d = 0; d < n; d++) jobs[d]->cancelled = 1;
                atomic_fetch_add(&s->req_cancelled, 1);
            }
        }
    pthread_mutex_unlock(&m->mu);
    size_t failed = n, completion = 0;
    for (size_t c = 0; c < n && failed == n; c++)
        if (jobs[c]->failed) failed = c;
    if (failed < n) {
        srv_gen_job *f = jobs[failed];
        srv_error(r, f->http_status, NULL, f->http_status == 504 ? "timeout" : "generation_failed", "%s", f->err);
    } else {
        srv_buf *b = &r->body;
        put_head(b, id, chat ? "chat.completion" : "text_completion", created, m->id);
        srv_buf_add(b, "\"choices\":[", 11);
        for (size_t c = 0; c < n; c++) {
            srv_gen_job *q = jobs[c];
            srv_buf_printf(b, "%s{\"index\":%zu,", c ? "," : "", c);
            if (chat) {
                srv_buf_add(b, "\"message\":{\"role\":\"assistant\",\"content\":", 40);
                srv_json_str(b, q->text.s ? q->text.s : "", q->text.n);
                srv_buf_add(b, "},", 2);
            } else {
                srv_buf_add(b, "\"text\":", 7);
                srv_json_str(b, q->text.s ? q->text.s : "", q->text.n);
                srv_buf_add(b, ",", 1);
            }
            srv_buf_printf(b, "\"logprobs\":null,\"finish_reason\":\"%s\"}", q->finish_reason);
            completion += q->n_completion;
        }
        srv_buf_add(b, "],", 2);
        put_usage(b, j->n_ids, completion);
        srv_buf_add(b, "}", 1);
    }
    for (size_t c = 0; c < n; c++) srv_gen_release(m, jobs[c]);
    return;
fail:
    cJSON_Delete(req);
    /* Jobs handed to the worker: cancel them and drop this thread's reference. */
    for (size_t c = 0; c < submitted; c++) {
        pthread_mutex_lock(&m->mu);
        jobs[c]->cancelled = 1;
        pthread_mutex_unlock(&m->mu);
        srv_gen_release(m, jobs[c]);
    }
    for (size_t c = submitted; c < SRV_MAX_N; c++) srv_gen_job_free(jobs[c]);
}

/* One SSE event with a chunk: delta text (NULL: none), finish reason (NULL: null). */
static void chunk(srv_reply *r, srv_buf *out, const char *text, size_t n, int role, const char *finish) {
    srv_buf_add(out, "data: ", 6);
    put_head(out, r->stream_id, r->stream_chat ? "chat.completion.chunk" : "text_completion", r->created,
             r->stream_model->id);
    srv_buf_add(out, "\"choices\":[{\"index\":0,", 22);
    if (r->stream_chat) {
        srv_buf_add(out, "\"delta\":{", 9);
        if (role) srv_buf_add(out, "\"role\":\"assistant\",\"content\":\"\"", 31);
        if (text) {
            srv_buf_add(out, "\"content\":", 10);
            srv_json_str(out, text, n);
        }
        srv_buf_add(out, "},", 2);
    } else {
        srv_buf_add(out, "\"text\":", 7);
        srv_json_str(out, text ? text : "", text ? n : 0);
        srv_buf_add(out, ",", 1);
    }
    srv_buf_add(out, "\"logprobs\":null,\"finish_reason\":", 32);
    srv_json_cstr(out, finish);
    srv_buf_add(out, "}]}\n\n", 5);
}

int srv_stream_next(srv_reply *r, int client_fd, srv_buf *out) {
    srv_gen_job *j = r->stream;
    srv_model *m = r->stream_model;
    out->n = 0;
    if (!j) return 0;
    if (r->status == 1) return 0; /* [DONE] sent */
    if (r->stream_chat && r->status == 200) {
        chunk(r, out, NULL, 0, 1, NULL);
        r->status = 201; /* role sent (status is no longer read: the headers are out) */
        return 1;
    }
    pthread_mutex_lock(&m->mu);
    while (j->text.n == r->body.n && !j->finished) { /* body.n: bytes of text sent so far */
        wait_a_little(m);
        if (!j->finished && srv_client_gone(client_fd)) {
            j->cancelled = 1;
            atomic_fetch_add(&m->srv->req_cancelled, 1);
            pthread_mutex_unlock(&m->mu);
            return -1;
        }
    }
    size_t from = r->body.n, to = j->text.n;
    int finished = j->finished;
    srv_buf fresh = {0};
    if (to > from) srv_buf_add(&fresh, j->text.s + from, to - from);
    pthread_mutex_unlock(&m->mu);
    r->body.n = to; /* only a counter here: body's bytes are not used for a stream */
    if (fresh.n) chunk(r, out, fresh.s, fresh.n, 0, NULL);
    srv_buf_free(&fresh);
    if (finished) {
        if (j->failed) {
            srv_reply e = {0};
            srv_error(&e, j->http_status, NULL, j->http_status == 504 ? "timeout" : "generation_failed", "%s", j->err);
            srv_buf_add(out, "data: ", 6);
            srv_buf_add(out, e.body.s, e.body.n);
            srv_buf_add(out, "\n\n", 2);
            srv_buf_free(&e.body);
        } else {
            chunk(r, out, NULL, 0, 0, j->finish_reason);
            if (r->include_usage) {
                srv_buf_add(out, "data: ", 6);
                put_head(out, r->stream_id, r->stream_chat ? "chat.completion.chunk" : "text_completion", r->created,
                         m->id);
                srv_buf_add(out, "\"choices\":[],", 13);
                put_usage(out, j->n_ids, j->n_completion);
                srv_buf_add(out, "}\n\n", 3);
            }
        }
        srv_buf_add(out, "data: [DONE]\n\n", 14);
        r->status = 1;
    }
    return 1;
}
