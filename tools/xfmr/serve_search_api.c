/* serve_search_api.c — POST /v1/search under `xfmr serve --index STORE`: semantic search over
 * stores made by `xfmr index` (docs/SEARCH.md). The stores are opened read-only at start, each
 * with the served embedding model it was built with (another model is a startup error). A query
 * is tokenized on the HTTP thread as xf_search does (cut to the model's length), embedded by the
 * encoder's worker together with the other embedding requests waiting (serve_embed.c), and
 * searched with xf_search_vector under the store's mutex (an index handle is not thread-safe).
 * The answer is `xfmr search --json`'s object for the same query, same order and scores. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "serve_api.h"

/* ------------------------------------------------------------ stores */

/* The name a request gives in "index": the file's base name without .db / .sqlite / .sqlite3;
 * a postgresql:// store is named by its URI. */
static char *store_id(const char *db) {
    if (!strncmp(db, "postgres", 8) || strchr(db, '=')) return strdup(db);
    const char *b = strrchr(db, '/');
    b = b && b[1] ? b + 1 : db;
    char *id = strdup(b);
    if (!id) return NULL;
    static const char *const ext[] = {".db", ".sqlite", ".sqlite3"};
    size_t l = strlen(id);
    for (size_t k = 0; k < sizeof ext / sizeof ext[0]; k++) {
        size_t e = strlen(ext[k]);
        if (l > e && !strcmp(id + l - e, ext[k])) {
            id[l - e] = '\0';
            break;
        }
    }
    return id;
}

/* The served embedding models, "a, b" (for messages). */
static void served_encoders(const srv_server *s, char *out, size_t cap) {
    size_t n = 0;
    out[0] = '\0';
    for (size_t k = 0; k < s->n_models && n + 1 < cap; k++)
        if (srv_kind(&s->models[k]) == SRV_KIND_EMBED)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? ", " : "", s->models[k].id);
    if (!out[0]) snprintf(out, cap, "none");
}

int srv_stores_open(srv_server *s, char **dbs, size_t n) {
    if (n == 0) return CLI_EXIT_OK;
    s->stores = calloc(n, sizeof *s->stores);
    if (!s->stores) return cli_error("out of memory");
    for (size_t i = 0; i < n; i++) {
        srv_store *st = &s->stores[i];
        s->n_stores = i + 1;
        pthread_mutex_init(&st->mu, NULL);
        st->db = strdup(dbs[i]);
        st->id = store_id(dbs[i]);
        if (!st->db || !st->id) return cli_error("out of memory");
        for (size_t k = 0; k < i; k++)
            if (!strcmp(s->stores[k].id, st->id))
                return cli_usage_error("serve", "two stores are named '%s' (--index %s and --index %s): give them "
                                                "different file names", st->id, s->stores[k].db, st->db);
        char *name = NULL, *path = NULL;
        size_t dim = 0;
        if (xf_index_model(dbs[i], &name, &path, &dim) != XF_OK)
            return cli_error("serve: --index %s: %s", dbs[i], xf_errmsg());
        for (size_t k = 0; k < s->n_models && !st->model; k++)
            if (srv_kind(&s->models[k]) == SRV_KIND_EMBED && !strcmp(s->models[k].id, name)) st->model = &s->models[k];
        if (!st->model) {
            char have[512];
            served_encoders(s, have, sizeof have);
            int rc = cli_error("serve: --index %s was built with the embedding model '%s' (dimension %zu), which "
                               "is not served here (embedding models served: %s): add -m %s", dbs[i], name, dim,
                               have, path ? path : name);
            free(name);
            free(path);
            return rc;
        }
        free(name);
        free(path);
        xf_index_params ip = xf_index_default_params();
        ip.read_only = 1;
        if (xf_index_open(dbs[i], st->model->m, &ip, &st->ix) != XF_OK)
            return cli_error("serve: --index %s: %s", dbs[i], xf_errmsg());
        /* Load SQLite's vectors now rather than at the first request. */
        float *probe = calloc(st->model->dim, sizeof *probe);
        xf_search_hit *h = NULL;
        size_t nh = 0;
        if (!probe) return cli_error("out of memory");
        probe[0] = 1.0f;
        xf_search_params sp = xf_search_default_params();
        sp.k = 1;
        xf_status rc = xf_search_vector(st->ix, probe, &sp, &h, &nh);
        free(probe);
        xf_search_hits_free(h, nh);
        if (rc != XF_OK) return cli_error("serve: --index %s: %s", dbs[i], xf_errmsg());
        size_t nd = 0;
        if (xf_index_stats(st->ix, &nd, &st->n_chunks) != XF_OK)
            return cli_error("serve: --index %s: %s", dbs[i], xf_errmsg());
    }
    return CLI_EXIT_OK;
}

void srv_stores_close(srv_server *s) {
    for (size_t i = 0; i < s->n_stores; i++) {
        srv_store *st = &s->stores[i];
        xf_index_free(st->ix);
        free(st->db);
        free(st->id);
        pthread_mutex_destroy(&st->mu);
    }
    free(s->stores);
    s->stores = NULL;
    s->n_stores = 0;
}

/* ------------------------------------------------------------ POST /v1/search */

/* One query's results, as `xfmr search --json` writes them (cmd_search.c). */
static void put_results(srv_buf *b, const char *query, const xf_search_hit *h, size_t n) {
    srv_buf_add(b, "{\"query\":", 9);
    srv_json_cstr(b, query);
    srv_buf_add(b, ",\"results\":[", 12);
    for (size_t i = 0; i < n; i++) {
        srv_buf_printf(b, "%s{\"rank\":%zu,\"score\":%.7g,\"path\":", i ? "," : "", i + 1, (double)h[i].score);
        srv_json_cstr(b, h[i].path);
        srv_buf_add(b, ",\"anchor\":", 10);
        srv_json_cstr(b, h[i].anchor);
        srv_buf_add(b, ",\"heading\":", 11);
        srv_json_cstr(b, h[i].heading);
        srv_buf_printf(b, ",\"line_start\":%u,\"line_end\":%u,\"text\":", h[i].line_start, h[i].line_end);
        srv_json_cstr(b, h[i].text);
        srv_buf_printf(b, ",\"chunk_id\":%lld}", (long long)h[i].chunk_id);
    }
    srv_buf_add(b, "]}", 2);
}

static srv_store *request_store(srv_server *s, const cJSON *req, srv_reply *r) {
    const char *name = NULL;
    if (srv_get_string(req, "index", &name, r) < 0) return NULL;
    if (s->n_stores == 0) {
        srv_error(r, 400, "index", "no_index", "no search index is served here (start the server with --index STORE, "
                  "a store made by `xfmr index`)");
        return NULL;
    }
    if (!name) return &s->stores[0];
    for (size_t i = 0; i < s->n_stores; i++)
        if (!strcmp(name, s->stores[i].id) || !strcmp(name, s->stores[i].db)) return &s->stores[i];
    srv_error(r, 404, "index", "index_not_found", "the index '%s' is not served here (GET /info lists them)", name);
    return NULL;
}

void srv_api_search(srv_server *s, const char *body, size_t len, srv_reply *r) {
    cJSON *req = srv_parse_body(body, len, r);
    if (!req) return;
    xf_encoding *encs = NULL;
    size_t n = 0, n_enc = 0;
    float *vecs = NULL;
    xf_search_hit **hits = NULL;
    size_t *n_hits = NULL;
    const char *model = NULL, *rerank = NULL;
    double k = 10, ef = 0;
    int exact = 0;
    srv_store *st = request_store(s, req, r);
    if (!st) goto out;
    srv_model *m = st->model;
    if (srv_get_number(req, "top_k", 1, 10000, 1, &k, r) < 0 || srv_get_bool(req, "exact", &exact, r) < 0 ||
        srv_get_number(req, "ef_search", 1, 1000, 1, &ef, r) < 0 || srv_get_string(req, "model", &model, r) < 0 ||
        srv_get_string(req, "rerank", &rerank, r) < 0)
        goto out;
    if (model && strcmp(model, m->id) && strcmp(model, m->path)) {
        srv_error(r, 400, "model", "wrong_model", "the index '%s' was built with '%s', not '%s': its queries are "
                  "embedded with '%s' (leave \"model\" out)", st->id, m->id, model, m->id);
        goto out;
    }
    if (rerank) {
        srv_error(r, 400, "rerank", "unsupported", "'rerank': re-ranking search results with a cross-encoder is not "
                  "available yet (as `xfmr search --rerank`); search without it");
        goto out;
    }
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(req, "query");
    int one = cJSON_IsString(q);
    int ok = one || (cJSON_IsArray(q) && cJSON_GetArraySize(q) > 0);
    for (const cJSON *e = ok && !one ? q->child : NULL; e; e = e->next)
        if (!cJSON_IsString(e)) ok = 0;
    if (!ok) {
        srv_error(r, 400, "query", q ? "invalid_type" : "missing_field",
                  "'query' is required: a string, or a non-empty array of strings");
        goto out;
    }
    n = one ? 1 : (size_t)cJSON_GetArraySize(q);
    if (n > s->lim.max_inputs) {
        srv_error(r, 400, "query", "too_many_inputs", "'query' has %zu queries; at most %zu per request (--max-inputs)",
                  n, s->lim.max_inputs);
        goto out;
    }
    encs = calloc(n, sizeof *encs);
    vecs = malloc(n * m->dim * sizeof *vecs);
    hits = calloc(n, sizeof *hits);
    n_hits = calloc(n, sizeof *n_hits);
    if (!encs || !vecs || !hits || !n_hits) {
        srv_error(r, 500, NULL, "out_of_memory", "out of memory");
        goto out;
    }
    /* As xf_search embeds a query: tokenized, cut to the model's length. */
    const cJSON *e = one ? q : q->child;
    n_enc = n; /* calloc'ed: freeing one never tokenized is harmless */
    for (size_t i = 0; i < n; i++, e = e->next)
        if (xf_tokenize(m->tok, e->valuestring, strlen(e->valuestring), NULL, 0, m->max_len, &encs[i]) != XF_OK) {
            srv_error(r, 400, "query", "tokenizer_error", "'query'[%zu]: %s", i, xf_errmsg());
            goto out;
        }
    srv_embed_job job;
    memset(&job, 0, sizeof job);
    job.encs = encs;
    job.n = n;
    job.out = vecs;
    srv_embed_submit_wait(m, &job);
    if (job.failed) {
        srv_error(r, 500, NULL, "model_error", "%s", job.err);
        goto out;
    }
    xf_search_params sp = xf_search_default_params();
    sp.k = (size_t)k;
    sp.exact = exact;
    sp.ef_search = (size_t)ef;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < n; i++)
        if (xf_search_vector(st->ix, vecs + i * m->dim, &sp, &hits[i], &n_hits[i]) != XF_OK) {
            srv_error(r, 500, NULL, "search_error", "%s: %s", st->id, xf_errmsg());
            break;
        }
    pthread_mutex_unlock(&st->mu);
    if (r->status != 200) goto out;
    srv_buf *b = &r->body;
    if (one) {
        put_results(b, q->valuestring, hits[0], n_hits[0]);
        b->n--; /* reopen the object for the store's facts */
    } else {
        srv_buf_add(b, "{\"object\":\"list\",\"data\":[", 25);
        e = q->child;
        for (size_t i = 0; i < n; i++, e = e->next) {
            if (i) srv_buf_add(b, ",", 1);
            put_results(b, e->valuestring, hits[i], n_hits[i]);
        }
        srv_buf_add(b, "]", 1);
    }
    srv_buf_add(b, ",\"index\":", 9);
    srv_json_cstr(b, st->id);
    srv_buf_add(b, ",\"model\":", 9);
    srv_json_cstr(b, m->id);
    srv_buf_add(b, "}", 1);
out:
    for (size_t i = 0; i < n_enc; i++) xf_encoding_free(&encs[i]);
    for (size_t i = 0; hits && i < n; i++) xf_search_hits_free(hits[i], n_hits[i]);
    free(encs);
    free(vecs);
    free(hits);
    free(n_hits);
    cJSON_Delete(req);
}
