/* serve_embed_api.c — OpenAI's POST /v1/embeddings, TEI's POST /embed and POST /tokenize under
 * `xfmr serve`: the inputs (a string, strings, token ids or lists of them) are checked and
 * tokenized on the HTTP thread, and the encodings go to the encoder's worker, which batches them
 * with those of the other requests waiting (serve_embed.c). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve_api.h"

typedef struct inputs {
    xf_encoding *encs;
    size_t n;
    size_t tokens;
} inputs;

static void inputs_free(inputs *in) {
    for (size_t i = 0; i < in->n; i++) xf_encoding_free(&in->encs[i]);
    free(in->encs);
    memset(in, 0, sizeof *in);
}

/* An encoding of given token ids (type ids 0). */
static int ids_encoding(const cJSON *arr, size_t idx, const srv_model *m, const char *field, xf_encoding *e,
                        srv_reply *r) {
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (n == 0) {
        srv_error(r, 400, field, "invalid_value", "'%s'[%zu] is an empty list of token ids", field, idx);
        return -1;
    }
    if (n > m->max_len) {
        srv_error(r, 400, field, "context_length_exceeded", "'%s'[%zu] has %zu tokens, more than the model's %zu",
                  field, idx, n, m->max_len);
        return -1;
    }
    e->ids = malloc(n * sizeof *e->ids);
    e->type_ids = calloc(n, sizeof *e->type_ids);
    e->n = n;
    if (!e->ids || !e->type_ids) {
        srv_error(r, 500, NULL, "out_of_memory", "out of memory");
        return -1;
    }
    size_t k = 0;
    for (const cJSON *v = arr->child; v; v = v->next, k++) {
        double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
        if (!cJSON_IsNumber(v) || d < 0 || d >= (double)m->vocab || d != (double)(long long)d) {
            srv_error(r, 400, field, "invalid_value",
                      "'%s'[%zu][%zu] is not a token id (an integer from 0 to %zu)", field, idx, k, m->vocab - 1);
            return -1;
        }
        e->ids[k] = (int32_t)d;
    }
    return 0;
}

/* Read and tokenize the inputs. truncate: cut texts longer than the model takes (else 400). */
static int read_inputs(const cJSON *req, const char *field, const srv_model *m, int truncate, const srv_limits *lim,
                       inputs *in, srv_reply *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, field);
    if (!v) {
        srv_error(r, 400, field, "missing_field", "'%s' is required: a string or an array of strings", field);
        return -1;
    }
    size_t n;
    int kind; /* 0 string, 1 strings, 2 one list of ids, 3 lists of ids */
    if (cJSON_IsString(v)) {
        n = 1;
        kind = 0;
    } else if (cJSON_IsArray(v)) {
        n = (size_t)cJSON_GetArraySize(v);
        if (n == 0) {
            srv_error(r, 400, field, "invalid_value", "'%s' is an empty array", field);
            return -1;
        }
        const cJSON *f = v->child;
        kind = cJSON_IsString(f) ? 1 : cJSON_IsNumber(f) ? 2 : cJSON_IsArray(f) ? 3 : -1;
        for (const cJSON *e = v->child; e && kind >= 0; e = e->next)
            if ((kind == 1 && !cJSON_IsString(e)) || (kind == 2 && !cJSON_IsNumber(e)) ||
                (kind == 3 && !cJSON_IsArray(e)))
                kind = -1;
        if (kind < 0) {
            srv_error(r, 400, field, "invalid_type",
                      "'%s' must be a string, an array of strings, an array of token ids or an array of arrays "
                      "of token ids (all elements of one kind)", field);
            return -1;
        }
        if (kind == 2) n = 1;
    } else {
        srv_error(r, 400, field, "invalid_type", "'%s' must be a string or an array of strings", field);
        return -1;
    }
    if (n > lim->max_inputs) {
        srv_error(r, 400, field, "too_many_inputs", "'%s' has %zu inputs; at most %zu per request (--max-inputs)",
                  field, n, lim->max_inputs);
        return -1;
    }
    in->encs = calloc(n, sizeof *in->encs);
    if (!in->encs) {
        srv_error(r, 500, NULL, "out_of_memory", "out of memory");
        return -1;
    }
    const cJSON *e = kind == 0 || kind == 2 ? v : v->child;
    for (size_t i = 0; i < n; i++, e = e ? e->next : NULL) {
        in->n = i + 1;
        if (kind == 2 || kind == 3) {
            if (ids_encoding(e, i, m, field, &in->encs[i], r)) return -1;
        } else {
            const char *t = e->valuestring;
            if (xf_tokenize(m->tok, t, strlen(t), NULL, 0, truncate ? m->max_len : 0, &in->encs[i]) != XF_OK) {
                srv_error(r, 400, field, "tokenizer_error", "'%s'[%zu]: %s", field, i, xf_errmsg());
                return -1;
            }
            if (in->encs[i].n > m->max_len) {
                srv_error(r, 400, field, "context_length_exceeded",
                          "'%s'[%zu] has %zu tokens, more than the model's %zu (shorten it%s)", field, i,
                          in->encs[i].n, m->max_len, truncate ? "" : ", or send \"truncate\": true to /embed");
                return -1;
            }
        }
        in->tokens += in->encs[i].n;
    }
    return 0;
}

static void put_floats(srv_buf *b, const float *v, size_t n) {
    srv_buf_add(b, "[", 1);
    for (size_t i = 0; i < n; i++) srv_buf_printf(b, i ? ",%.9g" : "%.9g", (double)v[i]);
    srv_buf_add(b, "]", 1);
}

static void put_base64(srv_buf *b, const float *v, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)v;
    size_t len = n * sizeof *v;
    srv_buf_add(b, "\"", 1);
    for (size_t i = 0; i < len; i += 3) {
        unsigned x = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < len ? p[i + 2] : 0);
        char q[4] = {tab[x >> 18 & 63], tab[x >> 12 & 63], i + 1 < len ? tab[x >> 6 & 63] : '=',
                     i + 2 < len ? tab[x & 63] : '='};
        srv_buf_add(b, q, 4);
    }
    srv_buf_add(b, "\"", 1);
}

static void l2_normalize(float *v, size_t n) {
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)v[i] * v[i];
    if (ss <= 0) return;
    float inv = (float)(1.0 / sqrt(ss));
    for (size_t i = 0; i < n; i++) v[i] *= inv;
}

void srv_api_embeddings(srv_server *s, const char *body, size_t len, srv_reply *r, int tei) {
    cJSON *req = srv_parse_body(body, len, r);
    if (!req) return;
    inputs in = {0};
    float *vecs = NULL;
    srv_model *m = srv_request_model(s, req, 0, r);
    if (!m) goto out;
    int truncate = 0, normalize = 1, b64 = 0;
    double dims = 0;
    const char *fmt = NULL;
    if (tei) {
        if (srv_get_bool(req, "truncate", &truncate, r) < 0 || srv_get_bool(req, "normalize", &normalize, r) < 0)
            goto out;
    } else {
        if (srv_get_string(req, "encoding_format", &fmt, r) < 0 ||
            srv_get_number(req, "dimensions", 1, (double)m->dim, 1, &dims, r) < 0)
            goto out;
        if (fmt && strcmp(fmt, "float") && strcmp(fmt, "base64")) {
            srv_error(r, 400, "encoding_format", "invalid_value", "'encoding_format' is '%s': expected float or base64",
                      fmt);
            goto out;
        }
        b64 = fmt && !strcmp(fmt, "base64");
    }
    if (read_inputs(req, tei ? "inputs" : "input", m, truncate, &s->lim, &in, r)) goto out;
    vecs = malloc(in.n * m->dim * sizeof *vecs);
    if (!vecs) {
        srv_error(r, 500, NULL, "out_of_memory", "out of memory");
        goto out;
    }
    srv_embed_job job;
    memset(&job, 0, sizeof job);
    job.encs = in.encs;
    job.n = in.n;
    job.out = vecs;
    srv_embed_submit_wait(m, &job);
    if (job.failed) {
        srv_error(r, 500, NULL, "model_error", "%s", job.err);
        goto out;
    }
    size_t d = dims > 0 ? (size_t)dims : m->dim;
    srv_buf *b = &r->body;
    if (tei) {
        srv_buf_add(b, "[", 1);
        for (size_t i = 0; i < in.n; i++) {
            float *v = vecs + i * m->dim;
            if (normalize) l2_normalize(v, d);
            if (i) srv_buf_add(b, ",", 1);
            put_floats(b, v, d);
        }
        srv_buf_add(b, "]", 1);
    } else {
        srv_buf_add(b, "{\"object\":\"list\",\"data\":[", 25);
        for (size_t i = 0; i < in.n; i++) {
            float *v = vecs + i * m->dim;
            if (d < m->dim) l2_normalize(v, d); /* shortened (Matryoshka-style): unit length again */
            srv_buf_printf(b, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", i);
            if (b64)
                put_base64(b, v, d);
            else
                put_floats(b, v, d);
            srv_buf_add(b, "}", 1);
        }
        srv_buf_add(b, "],\"model\":", 10);
        srv_json_cstr(b, m->id);
        srv_buf_printf(b, ",\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu}}", in.tokens, in.tokens);
    }
out:
    free(vecs);
    inputs_free(&in);
    cJSON_Delete(req);
}

void srv_api_tokenize(srv_server *s, const char *body, size_t len, srv_reply *r) {
    cJSON *req = srv_parse_body(body, len, r);
    if (!req) return;
    int add_special = 1;
    srv_model *m = srv_request_model(s, req, -1, r);
    if (!m || srv_get_bool(req, "add_special_tokens", &add_special, r) < 0) {
        cJSON_Delete(req);
        return;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "inputs");
    int one = cJSON_IsString(v);
    int ok = one || (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0);
    for (const cJSON *e = ok && !one ? v->child : NULL; e; e = e->next)
        if (!cJSON_IsString(e)) ok = 0;
    if (!ok) {
        srv_error(r, 400, "inputs", "invalid_type", "'inputs' must be a string or a non-empty array of strings");
        cJSON_Delete(req);
        return;
    }
    size_t n = one ? 1 : (size_t)cJSON_GetArraySize(v);
    if (n > s->lim.max_inputs) {
        srv_error(r, 400, "inputs", "too_many_inputs", "'inputs' has %zu texts; at most %zu per request", n,
                  s->lim.max_inputs);
        cJSON_Delete(req);
        return;
    }
    srv_buf *b = &r->body;
    srv_buf_add(b, "[", 1);
    const cJSON *e = one ? v : v->child;
    for (size_t i = 0; i < n; i++, e = e->next) {
        xf_encoding enc;
        memset(&enc, 0, sizeof enc);
        if (xf_tokenize(m->tok, e->valuestring, strlen(e->valuestring), NULL, 0, 0, &enc) != XF_OK) {
            srv_error(r, 400, "inputs", "tokenizer_error", "'inputs'[%zu]: %s", i, xf_errmsg());
            break;
        }
        size_t pre = 0, post = 0;
        if (!add_special && cli_added_specials(m->tok, &pre, &post) != CLI_EXIT_OK) pre = post = 0;
        if (pre + post > enc.n) pre = post = 0;
        srv_buf_add(b, i ? ",[" : "[", i ? 2 : 1);
        for (size_t t = pre; t < enc.n - post; t++) {
            const char *tok = xf_tokenizer_id_to_token(m->tok, enc.ids[t]);
            srv_buf_printf(b, "%s{\"id\":%d,\"text\":", t > pre ? "," : "", (int)enc.ids[t]);
            srv_json_cstr(b, tok ? tok : "");
            srv_buf_printf(b, ",\"special\":%s}", xf_tokenizer_is_special(m->tok, enc.ids[t]) ? "true" : "false");
        }
        srv_buf_add(b, "]", 1);
        xf_encoding_free(&enc);
    }
    if (r->status == 200) srv_buf_add(b, "]", 1);
    cJSON_Delete(req);
}
